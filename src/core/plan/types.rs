//! The plan file's types: what [`super::planner`] builds, [`super::file`] reads back, and
//! the diff, graph and digest modules produce or hash. Data only: this module imports no
//! other stage of the core, so every stage can import it without a cycle.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::action_kind::ActionKind;
use crate::core::address::Address;
use crate::core::cost::block::Cost;

pub const PLAN_FORMAT: &str = "sophia-plan/v1";

/// The plan file. `digest` is SHA-256 over the RFC 8785 canonical JSON of every other field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub format: String,
    pub tool_version: String,
    /// `sha256:` of the source tree the planning build was compiled from (see `build.rs`):
    /// `verify` and `apply` refuse a plan whose version or source is not theirs. Absent from
    /// plans of builds that did not record it (they are refused as another build).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tool_source: String,
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
    /// The monthly cost before and after the plan, from the repository's price table
    /// ([`crate::core::cost`]); absent when there is no price table or no Fly app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
    /// The `protect` flags apply changes in the managed set (issue 14): `true` for a desired
    /// address newly under `protect: true`, `false` for one that was protected and no longer
    /// is. Absent when there are none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub protect: BTreeMap<Address, bool>,
    /// The protected names inside an address apply changes in the managed set: a Fly app's
    /// secrets and an environment's secrets and variables (`secret.<NAME>`,
    /// `variable.<NAME>` → `true` newly protected, `false` unprotected). Absent when none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub protect_names: BTreeMap<Address, BTreeMap<String, bool>>,
    /// Live resources inside managed scopes that are neither desired, managed nor ignored
    /// (`.infra/ignore`): reported, never changed. Absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmanaged: Vec<Address>,
    /// The verdicts of `.infra/policy/*.rego` on this plan (DESIGN.md, "Review: policy, cost
    /// and picture"); absent when the repository has no policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyVerdicts>,
    pub digest: String,
}

/// What the repository's policy said about a plan, and which policy said it. A plan file
/// never carries a `deny` (a denied plan is not written); each `warn` raises the number of
/// distinct signers the plan needs by one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyVerdicts {
    /// `sha256:` over the policy files (each `path NUL length NUL bytes`, sorted by path).
    pub digest: String,
    /// Each policy file (`.infra/policy/NAME.rego`) and the `sha256:` of its bytes, so a
    /// stale plan names the file that changed.
    pub files: BTreeMap<String, String>,
    pub deny: Vec<String>,
    pub warn: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredRef {
    pub digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// `desired/` had uncommitted changes: the plan is not exactly `git_commit`'s state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub git_dirty: bool,
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
    /// What the provider does, e.g. `fly.secrets.set` (see [`ActionKind`]).
    pub kind: ActionKind,
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
    /// Whether the plan changes anything: a resource, or a `protect` flag of the managed set.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty() || !self.protect.is_empty() || !self.protect_names.is_empty()
    }

    /// The policy's warnings (none without a policy).
    pub fn policy_warnings(&self) -> &[String] {
        self.policy.as_ref().map_or(&[], |p| p.warn.as_slice())
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

/// RFC 3339 in UTC with whole seconds, the form every time in a plan file takes.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
