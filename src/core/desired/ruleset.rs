//! GitHub rulesets in the desired state (DESIGN.md, "GitHub governance"): the body of
//! `POST /orgs/{org}/rulesets` and `POST /repos/{owner}/{repo}/rulesets`, with GitHub's own
//! field names, keyed by the ruleset's name (rulesets are matched by name). `null` deletes
//! the ruleset of that name.
//!
//! The rule types and enumerations are GitHub's (the OpenAPI description's `repository-rule`
//! union); anything else is refused at its `file:line:column` with the list of what GitHub
//! accepts. A ruleset without `enforcement` is refused as GitHub refuses it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An organization's governed objects, by organization login.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgDesired {
    /// Organization rulesets by name; `null` deletes the ruleset of that name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rulesets: BTreeMap<String, Option<Ruleset>>,
    /// Deletion protection of every ruleset of the organization: no plan may delete or
    /// replace one, even once removed from desired/.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect: Option<bool>,
}

/// The body of a ruleset POST/PUT, without `name` (the key is the name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ruleset {
    /// `branch` (GitHub's default), `tag` or `push`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<RulesetTarget>,
    /// `active`, `evaluate` or `disabled`. Required, as in GitHub's POST.
    pub enforcement: Enforcement,
    /// Which refs (and, for an organization, repositories) the ruleset applies to, as GitHub
    /// writes it: `{ ref_name: { include: [...], exclude: [...] }, repository_name: {...} }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<serde_json::Map<String, serde_json::Value>>,
    /// The rules; their order does not matter.
    #[serde(default)]
    pub rules: Vec<RulesetRule>,
    /// Who may bypass the ruleset. Not set: not managed. A change here is security-relevant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass_actors: Option<Vec<BypassActor>>,
    /// Deletion protection (sophia's, never sent to GitHub): no plan may delete or replace
    /// the ruleset, even once removed from desired/.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RulesetTarget {
    Branch,
    Tag,
    Push,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    Disabled,
    Active,
    Evaluate,
}

/// One rule: its type and, for the types that take them, GitHub's `parameters`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesetRule {
    #[serde(rename = "type")]
    pub kind: RuleType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Every rule type of GitHub's OpenAPI description (`repository-rule`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RuleType {
    Creation,
    Update,
    Deletion,
    RequiredLinearHistory,
    MergeQueue,
    RequiredDeployments,
    RequiredSignatures,
    PullRequest,
    RequiredStatusChecks,
    NonFastForward,
    CommitMessagePattern,
    CommitAuthorEmailPattern,
    CommitterEmailPattern,
    BranchNamePattern,
    TagNamePattern,
    Workflows,
    CodeScanning,
    CopilotCodeReview,
    LicenseComplianceScanning,
    FilePathRestriction,
    MaxFilePathLength,
    FileExtensionRestriction,
    MaxFileSize,
}

/// An actor allowed to bypass a ruleset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BypassActor {
    /// The actor's id (`null` for `DeployKey`; ignored for `OrganizationAdmin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<i64>,
    pub actor_type: ActorType,
    /// `always` (GitHub's default), `pull_request` or `exempt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass_mode: Option<BypassMode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ActorType {
    Integration,
    OrganizationAdmin,
    RepositoryRole,
    Team,
    DeployKey,
    User,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BypassMode {
    Always,
    PullRequest,
    Exempt,
}
