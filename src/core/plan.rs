//! The plan: changes, the action DAG and the plan file (DESIGN.md, "Plans").
//!
//! [`build`] is the pure planner: desired state + live snapshot + what the shell supplies
//! (clock, nonce, version, targets) → a digested [`Plan`]. [`read_plan`], [`verify_digest`]
//! and [`is_expired`] check a plan file read back.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::address::Address;
use crate::core::desired::Desired;
use crate::core::diff::{self, DiffError};
use crate::core::digest;
use crate::core::graph::{self, GraphError};
use crate::core::live::{LIVE_FORMAT, LiveSnapshot};
use crate::core::lower;

pub const PLAN_FORMAT: &str = "sophia-plan/v1";

/// The plan file. `digest` is SHA-256 over the RFC 8785 canonical JSON of every other field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub format: String,
    pub tool_version: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC; `created_at` + TTL (24 hours by default).
    pub not_after: String,
    pub nonce: String,
    pub desired: DesiredRef,
    /// Fingerprint of the normalized live object of every address the plan touches
    /// (`sha256:` of its canonical JSON; an absent resource fingerprints `null`).
    pub live: BTreeMap<Address, String>,
    pub changes: Vec<Change>,
    pub actions: Vec<Action>,
    pub summary: PlanSummary,
    /// The `--target` addresses when the plan is targeted (only the changes under them and
    /// what they depend on); absent for a full plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredRef {
    pub digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Create,
    Update,
    Delete,
    Replace,
    NoOp,
}

/// One attribute that differs: a JSON-pointer-like dotted path with the two values
/// (`null` when absent). Secret attributes carry names only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttrDiff {
    pub path: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub address: Address,
    pub action: ChangeKind,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub diff: Vec<AttrDiff>,
}

/// A stable action id, `<kind>:<address>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionId(pub String);

impl std::fmt::Display for ActionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub id: ActionId,
    pub address: Address,
    /// e.g. `fly.app.create`, `fly.secrets.set`, `fly.machines.update`, `fly.health.check`,
    /// `github.protection.put`, `github.secret.put`, `provider.activate`.
    pub kind: String,
    /// Never a secret value.
    pub params: serde_json::Value,
    pub depends_on: Vec<ActionId>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSummary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub replace: usize,
}

impl Plan {
    /// Whether the plan changes anything.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }
}

impl PlanSummary {
    /// Count the changes by kind.
    pub fn of(changes: &[Change]) -> PlanSummary {
        let mut s = PlanSummary::default();
        for c in changes {
            match c.action {
                ChangeKind::Create => s.create += 1,
                ChangeKind::Update => s.update += 1,
                ChangeKind::Delete => s.delete += 1,
                ChangeKind::Replace => s.replace += 1,
                ChangeKind::NoOp => {}
            }
        }
        s
    }

    /// `Plan: 3 to create, 1 to update, 0 to delete, 0 to replace.`
    pub fn sentence(&self) -> String {
        format!(
            "Plan: {} to create, {} to update, {} to delete, {} to replace.",
            self.create, self.update, self.delete, self.replace
        )
    }
}

/// How long a plan stays valid by default: DESIGN.md, "`not_after` defaults to 24 hours
/// after `created_at`" — long enough for an approver in another time zone to sign it, short
/// enough that live state has rarely moved on.
pub const DEFAULT_TTL_HOURS: i64 = 24;

/// What the shell supplies to the pure planner.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub tool_version: String,
    pub created_at: DateTime<Utc>,
    pub ttl: chrono::Duration,
    /// Random, from the shell: two plans of the same state still differ, so a signature
    /// approves one plan only.
    pub nonce: String,
    pub git_commit: Option<String>,
    /// `--target` addresses (or address prefixes such as `fly.app.x`).
    pub targets: Vec<String>,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the live snapshot has format `{found}`, expected `{LIVE_FORMAT}`\n  hint: write it with `sophia refresh --out live.json`"
    )]
    LiveFormat { found: String },
    #[error(
        "`--target {target}` matches no resource of the desired or live state{}",
        .suggestion.as_ref().map(|s| format!("\n  hint: did you mean `{s}`?")).unwrap_or_default()
    )]
    UnknownTarget {
        target: String,
        suggestion: Option<String>,
    },
    #[error(transparent)]
    Diff(#[from] DiffError),
    #[error(transparent)]
    Graph(#[from] GraphError),
}

/// The digest of a desired state: SHA-256 of the canonical JSON of its lowered form, so it
/// does not depend on key order, file order or how the state is split across files.
pub fn desired_digest(desired: &Desired) -> String {
    digest::sha256_canonical_map(&lower::lower(desired))
}

/// Plan `desired` against `live`. Pure: the clock, nonce and version come in `opts`.
pub fn build(
    desired: &Desired,
    live: &LiveSnapshot,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    if live.format != LIVE_FORMAT {
        return Err(PlanError::LiveFormat {
            found: live.format.clone(),
        });
    }
    let expected = lower::lower(desired);
    for target in &opts.targets {
        let known = expected
            .keys()
            .chain(live.resources.keys())
            .any(|a| a.is_under(target));
        if !known {
            let suggestion = expected
                .keys()
                .map(|a| a.to_string())
                .map(|a| (strsim::jaro_winkler(&a, target), a))
                .filter(|(score, _)| *score > 0.85)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, a)| a);
            return Err(PlanError::UnknownTarget {
                target: target.clone(),
                suggestion,
            });
        }
    }
    let mut changes = diff::diff(&expected, live)?;
    let mut actions = graph::build(&changes, desired, live)?;
    let mut targets = opts.targets.clone();
    targets.sort();
    targets.dedup();
    if !targets.is_empty() {
        actions = graph::select(&actions, &targets);
        let acted: BTreeSet<&Address> = actions.iter().map(|a| &a.address).collect();
        changes.retain(|c| {
            acted.contains(&c.address) || targets.iter().any(|t| c.address.is_under(t))
        });
    }
    let touched: BTreeSet<&Address> = changes
        .iter()
        .map(|c| &c.address)
        .chain(actions.iter().map(|a| &a.address))
        .collect();
    let live_fingerprints = touched
        .into_iter()
        .map(|a| {
            (
                a.clone(),
                digest::sha256_canonical_value(live.get(a).unwrap_or(&serde_json::Value::Null)),
            )
        })
        .collect();
    let mut plan = Plan {
        format: PLAN_FORMAT.to_string(),
        tool_version: opts.tool_version.clone(),
        created_at: rfc3339(opts.created_at),
        not_after: rfc3339(opts.created_at + opts.ttl),
        nonce: opts.nonce.clone(),
        desired: DesiredRef {
            digest: digest::sha256_canonical_map(&expected),
            git_commit: opts.git_commit.clone(),
        },
        live: live_fingerprints,
        summary: PlanSummary::of(&changes),
        changes,
        actions,
        targets,
        digest: String::new(),
    };
    plan.digest = digest::plan_digest(&plan);
    Ok(plan)
}

/// RFC 3339 in UTC with whole seconds, the form every time in a plan file takes.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Why a plan file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanFileError {
    #[error(
        "{file}:{line}:{column}: not valid JSON: {message}\n  hint: a plan file is written by `sophia plan --out FILE`"
    )]
    BadJson {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{file}: not a plan file: `format` is {found}, expected `{PLAN_FORMAT}`\n  hint: a plan file is written by `sophia plan --out FILE`"
    )]
    WrongFormat { file: String, found: String },
    #[error("{file}:{line}:{column}: malformed plan: {message}")]
    Malformed {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{file}: the plan's digest does not match its content (recorded {recorded}, computed {computed}): the file was modified after it was planned\n  hint: plan again with `sophia plan --out FILE`"
    )]
    DigestMismatch {
        file: String,
        recorded: String,
        computed: String,
    },
}

/// Check that a plan's digest matches its content.
pub fn verify_digest(plan: &Plan) -> Result<(), (String, String)> {
    let computed = digest::plan_digest(plan);
    if computed == plan.digest {
        Ok(())
    } else {
        Err((plan.digest.clone(), computed))
    }
}

/// Whether `now` is past the plan's `not_after` (an unreadable `not_after` counts as
/// expired: a plan that cannot say until when it is valid is not valid).
pub fn is_expired(plan: &Plan, now: DateTime<Utc>) -> bool {
    match DateTime::parse_from_rfc3339(&plan.not_after) {
        Ok(t) => now > t.with_timezone(&Utc),
        Err(_) => true,
    }
}

/// Parse a plan file and verify its digest. `file` is the path shown in errors.
pub fn read_plan(file: &str, text: &str) -> Result<Plan, PlanFileError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| PlanFileError::BadJson {
            file: file.to_string(),
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        })?;
    match value.get("format") {
        Some(serde_json::Value::String(f)) if f == PLAN_FORMAT => {}
        other => {
            return Err(PlanFileError::WrongFormat {
                file: file.to_string(),
                found: match other {
                    None => "missing".to_string(),
                    Some(serde_json::Value::String(f)) => format!("`{f}`"),
                    Some(v) => format!("`{v}`"),
                },
            });
        }
    }
    let plan: Plan = serde_json::from_str(text).map_err(|e| PlanFileError::Malformed {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    verify_digest(&plan).map_err(|(recorded, computed)| PlanFileError::DigestMismatch {
        file: file.to_string(),
        recorded,
        computed,
    })?;
    Ok(plan)
}

/// serde_json appends " at line L column C"; the error shows the position up front.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}
