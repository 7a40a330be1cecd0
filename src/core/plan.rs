//! The plan: changes, the action DAG and the plan file (DESIGN.md, "Plans").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::address::Address;

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
