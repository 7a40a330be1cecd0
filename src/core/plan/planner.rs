//! The planner: desired state + live snapshot + what the shell supplies (clock, nonce,
//! version, targets) → a digested [`Plan`]. Pure.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::types::{DesiredRef, PLAN_FORMAT, Plan, PlanSummary, rfc3339};
use crate::core::address::Address;
use crate::core::cost::{self, Prices};
use crate::core::dag;
use crate::core::desired::Desired;
use crate::core::diff::{self, DiffError};
use crate::core::digest;
use crate::core::graph::{self, GraphError};
use crate::core::image;
use crate::core::lifecycle::{self, Lifecycle, ProtectedError};
use crate::core::live::{LIVE_FORMAT, LiveSnapshot};
use crate::core::lower;

/// How long a plan stays valid by default: DESIGN.md, "`not_after` defaults to 24 hours
/// after `created_at`" — long enough for an approver in another time zone to sign it, short
/// enough that live state has rarely moved on.
pub const DEFAULT_TTL_HOURS: i64 = 24;

/// What the shell supplies to the pure planner.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub tool_version: String,
    /// `sha256:` of the source tree of the build that plans.
    pub tool_source: String,
    pub created_at: DateTime<Utc>,
    pub ttl: chrono::Duration,
    /// Random, from the shell: two plans of the same state still differ, so a signature
    /// approves one plan only.
    pub nonce: String,
    pub git_commit: Option<String>,
    /// Whether `desired/` differs from `git_commit` (uncommitted changes).
    pub git_dirty: bool,
    /// `--target` addresses (or address prefixes such as `fly.app.x`).
    pub targets: Vec<String>,
    /// The price table (`.infra/prices/fly.toml`), when the repository has one: the plan
    /// then records its cost ([`crate::core::cost`]).
    pub prices: Option<Prices>,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the live snapshot has format `{found}`, expected `{LIVE_FORMAT}`")]
    LiveFormat { found: String },
    #[error("`--target {target}` matches no resource of the desired or live state")]
    UnknownTarget {
        target: String,
        suggestion: Option<String>,
    },
    #[error(transparent)]
    Diff(#[from] DiffError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Protected(#[from] ProtectedError),
}

/// The digest of a desired state: SHA-256 of the canonical JSON of its lowered form, so it
/// does not depend on key order, file order or how the state is split across files.
pub fn desired_digest(desired: &Desired) -> String {
    digest::sha256_canonical_map(&lower::lower(desired))
}

/// Plan `desired` against `live`, with nothing managed yet (no deletes, no unmanaged list).
/// Pure: the clock, nonce and version come in `opts`. Each desired image tag that
/// `live.images` resolves is planned by its digest ([`image::pin`]).
pub fn build(
    desired: &Desired,
    live: &LiveSnapshot,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    build_with(desired, live, opts, &Lifecycle::default())
}

/// Plan `desired` against `live` knowing the managed set, the live inventory and the
/// ignore globs: retired managed addresses plan a `delete`, a delete or replace of a
/// protected address fails the plan ([`PlanError::Protected`]), and the unmanaged
/// resources are listed. Pure.
pub fn build_with(
    desired: &Desired,
    live: &LiveSnapshot,
    opts: &PlanOptions,
    lifecycle: &Lifecycle,
) -> Result<Plan, PlanError> {
    if live.format != LIVE_FORMAT {
        return Err(PlanError::LiveFormat {
            found: live.format.clone(),
        });
    }
    // Images by digest: every tag the live state resolved is planned as `name@sha256:…`.
    let desired = &image::pin(desired, &live.images);
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
    let roots = lifecycle::protected_roots(desired);
    let protect = lifecycle::protect_flags(&expected, &roots, &lifecycle.managed);
    let names = lifecycle::protected_names(desired);
    let protect_names = lifecycle::protect_name_flags(&expected, &names, &lifecycle.managed);
    let unmanaged = lifecycle::unmanaged(lifecycle, &expected, live);
    // The desired digest is of desired/ alone; the retired addresses are then expected
    // gone, in place (a copy of a 100,000-resource expected state costs more than the diff).
    let desired_digest = digest::sha256_canonical_map(&expected);
    let retired = lifecycle::retired(desired, &expected, &lifecycle.managed);
    let mut expected = expected;
    for a in retired {
        let gone = lifecycle::secrets::retired_list(&a, &expected);
        expected.insert(a, gone.unwrap_or(serde_json::Value::Null));
    }
    // One Fly secret sophia set, gone from desired/: unset alone (what it retires is read
    // before the diff consumes `expected`).
    let retiring = match &lifecycle.secrets_set {
        Some(set) => lifecycle::secrets::retiring(&expected, live, set),
        None => Default::default(),
    };
    // The expected objects move into their changes; the rest are freed as they are compared.
    let mut changes = diff::diff_owned(expected, live)?;
    let unsets = lifecycle::secrets::retire(&mut changes, retiring, live);
    let mut actions = graph::build(&changes, desired, live)?;
    let mut targets = opts.targets.clone();
    targets.sort();
    targets.dedup();
    if !targets.is_empty() {
        actions = dag::select(&actions, &targets);
        let acted: BTreeSet<&Address> = actions.iter().map(|a| &a.address).collect();
        changes.retain(|c| {
            acted.contains(&c.address) || targets.iter().any(|t| c.address.is_under(t))
        });
    }
    lifecycle::check_protection(&changes, &unsets, &roots, &names, &lifecycle.managed)?;
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
        tool_source: opts.tool_source.clone(),
        created_at: rfc3339(opts.created_at),
        not_after: rfc3339(opts.created_at + opts.ttl),
        nonce: opts.nonce.clone(),
        desired: DesiredRef {
            digest: desired_digest,
            git_commit: opts.git_commit.clone(),
            git_dirty: opts.git_dirty,
        },
        live: live_fingerprints,
        summary: PlanSummary::of(&changes),
        changes,
        actions,
        targets,
        cost: None,
        protect,
        protect_names,
        unmanaged,
        // Judged by the shell (`crate::policy`), which reads the policy files.
        policy: None,
        digest: String::new(),
    };
    plan.cost = opts
        .prices
        .as_ref()
        .and_then(|p| cost::estimate(p, live, &plan.changes));
    plan.digest = digest::plan_digest(&plan);
    Ok(plan)
}

impl crate::core::hint::Hint for PlanError {
    fn hint(&self) -> Option<String> {
        match self {
            PlanError::LiveFormat { .. } => {
                Some("write it with `sophia refresh --out live.json`".to_string())
            }
            PlanError::UnknownTarget { suggestion, .. } => {
                suggestion.as_ref().map(|s| format!("did you mean `{s}`?"))
            }
            PlanError::Diff(e) => crate::core::hint::Hint::hint(e),
            PlanError::Graph(e) => crate::core::hint::Hint::hint(e),
            PlanError::Protected(e) => crate::core::hint::Hint::hint(e),
        }
    }
}
