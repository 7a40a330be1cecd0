//! The typed desired state: one struct per provider section of `desired/*.yaml`
//! (DESIGN.md, "Desired state"). Every struct denies unknown keys; `Option` means "not set,
//! not managed". The same type describes one file and the merged whole.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::flyconfig::{
    Autostop, Command, Concurrency, Duration, Experimental, FlySections, Headers, HttpCheck,
    HttpService, Metrics, Mount, Port, Restart, Service, ServicePort, Static, TcpCheck, TopCheck,
    Vm,
};
use super::flyconfig::{one_or_many, seconds_or_duration};
use super::secret_name::SecretName;

/// Every provider `sophia` knows, in the order of DESIGN.md's provider table.
pub const PROVIDERS: [&str; 11] = [
    "fly",
    "github",
    "router",
    "research",
    "context_db",
    "qdrant",
    "mem0",
    "redis",
    "slack",
    "gong",
    "lambda",
];

/// `active` or `paused` (DESIGN.md, "Activation").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Active,
    Paused,
}

impl Activation {
    pub fn as_str(self) -> &'static str {
        match self {
            Activation::Active => "active",
            Activation::Paused => "paused",
        }
    }
}

/// One desired file, and also the merged desired state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "sophia desired state")]
pub struct Desired {
    /// Activation of each provider: `active` or `paused`. A provider with a section and no
    /// entry here is active; one with neither is not managed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub providers: BTreeMap<ProviderName, Activation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fly: Option<FlyDesired>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<GithubDesired>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<RouterDesired>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub research: Option<ResearchDesired>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_db: Option<ContextDbDesired>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qdrant: Option<QdrantDesired>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem0: Option<Mem0Desired>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisDesired>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackDesired>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gong: Option<GongDesired>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<LambdaDesired>,
}

/// A provider key under `providers:`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ProviderName {
    Fly,
    Github,
    Router,
    Research,
    ContextDb,
    Qdrant,
    Mem0,
    Redis,
    Slack,
    Gong,
    Lambda,
}

impl ProviderName {
    pub const ALL: [ProviderName; 11] = [
        ProviderName::Fly,
        ProviderName::Github,
        ProviderName::Router,
        ProviderName::Research,
        ProviderName::ContextDb,
        ProviderName::Qdrant,
        ProviderName::Mem0,
        ProviderName::Redis,
        ProviderName::Slack,
        ProviderName::Gong,
        ProviderName::Lambda,
    ];

    pub fn as_str(self) -> &'static str {
        PROVIDERS[self as usize]
    }

    pub fn parse(s: &str) -> Option<ProviderName> {
        ProviderName::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for ProviderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Desired {
    /// Whether the file defines a section for `p`.
    pub fn has_section(&self, p: ProviderName) -> bool {
        match p {
            ProviderName::Fly => self.fly.is_some(),
            ProviderName::Github => self.github.is_some(),
            ProviderName::Router => self.router.is_some(),
            ProviderName::Research => self.research.is_some(),
            ProviderName::ContextDb => self.context_db.is_some(),
            ProviderName::Qdrant => self.qdrant.is_some(),
            ProviderName::Mem0 => self.mem0.is_some(),
            ProviderName::Redis => self.redis.is_some(),
            ProviderName::Slack => self.slack.is_some(),
            ProviderName::Gong => self.gong.is_some(),
            ProviderName::Lambda => self.lambda.is_some(),
        }
    }

    /// The activation of `p`: its `providers:` entry, else active when it has a section,
    /// else `None` (not managed).
    pub fn activation(&self, p: ProviderName) -> Option<Activation> {
        self.providers
            .get(&p)
            .copied()
            .or_else(|| self.has_section(p).then_some(Activation::Active))
    }

    /// Stop managing `p`: drop its section and its activation entry.
    pub fn forget(&mut self, p: ProviderName) {
        self.providers.remove(&p);
        match p {
            ProviderName::Fly => self.fly = None,
            ProviderName::Github => self.github = None,
            ProviderName::Router => self.router = None,
            ProviderName::Research => self.research = None,
            ProviderName::ContextDb => self.context_db = None,
            ProviderName::Qdrant => self.qdrant = None,
            ProviderName::Mem0 => self.mem0 = None,
            ProviderName::Redis => self.redis = None,
            ProviderName::Slack => self.slack = None,
            ProviderName::Gong => self.gong = None,
            ProviderName::Lambda => self.lambda = None,
        }
    }

    /// Every managed provider with its activation, in table order.
    pub fn managed(&self) -> Vec<(ProviderName, Activation)> {
        ProviderName::ALL
            .into_iter()
            .filter_map(|p| self.activation(p).map(|a| (p, a)))
            .collect()
    }
}

// ───────────────────────────── fly ─────────────────────────────

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlyDesired {
    /// The Fly organization slug the apps belong to, e.g. `pay-ready`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub apps: BTreeMap<String, FlyApp>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlyApp {
    /// The image to run, e.g. `registry.fly.io/sophiaai-dashboard-v2:deployment-01`. `plan`
    /// resolves a tag to its registry digest and apply deploys `name@sha256:…`; an image
    /// given by digest is deployed as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// A real `fly.toml` to import (path relative to the repository root). Fields set here
    /// in YAML win over the imported ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    /// Machines to run, spread over `regions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<Guest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// Names of app secrets that must exist (`NAME` or `{name, rotation, protect}`); values come
    /// from the environment at apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<SecretName>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Other apps of this state that must be deployed before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    // fly.toml's own sections, with fly.toml's key names (see `flyconfig`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_service: Option<Box<HttpService>>,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Option::is_none"
    )]
    pub services: Option<Vec<Service>>,
    /// Machine checks by name (`[checks.NAME]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<BTreeMap<String, TopCheck>>,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Option::is_none"
    )]
    pub mounts: Option<Vec<Mount>>,
    /// Process groups: name → command (empty: the image's own command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<BTreeMap<String, String>>,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Option::is_none"
    )]
    pub restart: Option<Vec<Restart>>,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Option::is_none"
    )]
    pub metrics: Option<Vec<Metrics>>,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Option::is_none"
    )]
    pub statics: Option<Vec<Static>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_signal: Option<String>,
    /// A duration (`"10s"`), or a number of seconds.
    #[serde(
        default,
        deserialize_with = "seconds_or_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub kill_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap_size_mb: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experimental: Option<Box<Experimental>>,
    /// `[[vm]]` sections (fly.toml's `[[compute]]` too), for the guest of each group;
    /// `guest` wins when set.
    #[serde(
        default,
        alias = "compute",
        deserialize_with = "one_or_many",
        skip_serializing_if = "Option::is_none"
    )]
    pub vm: Option<Vec<Vm>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_dedication_id: Option<String>,
    /// Deletion protection: no plan may delete or replace it, even once removed from desired/.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect: Option<bool>,
}

impl FlyApp {
    /// The fly.toml sections this app sets.
    pub fn sections(&self) -> FlySections {
        FlySections {
            http_service: self.http_service.clone(),
            services: self.services.clone(),
            checks: self.checks.clone(),
            mounts: self.mounts.clone(),
            processes: self.processes.clone(),
            restart: self.restart.clone(),
            metrics: self.metrics.clone(),
            statics: self.statics.clone(),
            kill_signal: self.kill_signal.clone(),
            kill_timeout: self.kill_timeout.clone(),
            swap_size_mb: self.swap_size_mb,
            experimental: self.experimental.clone(),
            vm: self.vm.clone(),
            compute: None,
            host_dedication_id: self.host_dedication_id.clone(),
        }
    }

    /// Whether any of the app's machines serve through Fly's proxy (`http_service` or
    /// `services`): then the app needs public addresses.
    pub fn has_services(&self) -> bool {
        self.http_service.is_some() || self.services.as_ref().is_some_and(|s| !s.is_empty())
    }

    /// Whether the app describes its machines with fly.toml sections: then its machine
    /// config is flyctl's, exactly (services, checks, mounts… absent are removed).
    pub fn has_fly_sections(&self) -> bool {
        self.sections() != FlySections::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Guest {
    #[serde(default = "default_cpu_kind")]
    pub cpu_kind: CpuKind,
    #[serde(default = "default_cpus")]
    pub cpus: u32,
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u32,
}

fn default_cpu_kind() -> CpuKind {
    CpuKind::Shared
}
/// Fly's own default guest: shared-cpu-1x with 256 MB.
fn default_cpus() -> u32 {
    1
}
fn default_memory_mb() -> u32 {
    256
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CpuKind {
    Shared,
    Performance,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// HTTP path checked after a deploy, e.g. `/healthz`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default = "default_expect_status")]
    pub expect_status: u16,
}

fn default_expect_status() -> u16 {
    200
}

/// flyctl's deploy strategies: `rolling` (default; `max_unavailable` machines at a time, each
/// batch started and health-checked, all rolled back on a failure), `canary` (one extra
/// machine with the new config checked and destroyed first, then rolling), `immediate` (all
/// at once, no check), `bluegreen` (a new machine beside each old one; the old ones are
/// destroyed once the new ones are healthy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    #[default]
    Rolling,
    Canary,
    Immediate,
    Bluegreen,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Rolling => "rolling",
            Strategy::Canary => "canary",
            Strategy::Immediate => "immediate",
            Strategy::Bluegreen => "bluegreen",
        }
    }
}

// ───────────────────────────── github ─────────────────────────────

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GithubDesired {
    /// Organizations by login (their rulesets).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub orgs: BTreeMap<String, super::ruleset::OrgDesired>,
    /// Repositories by `owner/repo`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub repos: BTreeMap<String, RepoDesired>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepoDesired {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub branches: BTreeMap<String, BranchDesired>,
    /// Actions secret names that must exist (`NAME` or `{name, rotation, protect}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions_secrets: Vec<SecretName>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, EnvironmentDesired>,
    /// Repository rulesets by name; `null` deletes the ruleset of that name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rulesets: BTreeMap<String, Option<super::ruleset::Ruleset>>,
    /// Fields of `PATCH /repos/{owner}/{repo}` (merge options, visibility, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<super::github_repo::RepoSettings>,
    /// The repository's topics, the whole list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topics: Option<Vec<String>>,
    /// Direct collaborators: login → `pull`, `triage`, `push`, `maintain` or `admin`, or
    /// `{permission, protect}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub collaborators: BTreeMap<String, super::protectable::Grant>,
    /// Team access: team slug → permission, or `{permission, protect}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub teams: BTreeMap<String, super::protectable::Grant>,
    /// Actions variables: name → value, or `{value, protect}` (variables are not secrets:
    /// values live in desired/).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub actions_variables: BTreeMap<String, super::protectable::Variable>,
    /// Deletion protection of everything under the repository: no plan may delete or
    /// replace any of its resources, even once removed from desired/.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchDesired {
    /// Exactly the body of `PUT /repos/{owner}/{repo}/branches/{branch}/protection`.
    /// `null` removes the protection; absent leaves it unmanaged.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_with::rust::double_option"
    )]
    #[schemars(with = "Option<Protection>")]
    pub protection: Option<Option<Protection>>,
    /// Deletion protection of the branch's protection: no plan may delete it, even once
    /// removed from desired/.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect: Option<bool>,
}

/// GitHub's branch protection PUT body, with GitHub's own field names. A field left out is
/// not managed; `Some(None)` is an explicit `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Protection {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_with::rust::double_option"
    )]
    #[schemars(with = "Option<RequiredStatusChecks>")]
    pub required_status_checks: Option<Option<RequiredStatusChecks>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_with::rust::double_option"
    )]
    #[schemars(with = "Option<bool>")]
    pub enforce_admins: Option<Option<bool>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_with::rust::double_option"
    )]
    #[schemars(with = "Option<RequiredPullRequestReviews>")]
    pub required_pull_request_reviews: Option<Option<RequiredPullRequestReviews>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_with::rust::double_option"
    )]
    #[schemars(with = "Option<Restrictions>")]
    pub restrictions: Option<Option<Restrictions>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_linear_history: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_force_pushes: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_deletions: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_creations: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_conversation_resolution: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_branch: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_fork_syncing: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequiredStatusChecks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contexts: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<StatusCheck>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusCheck {
    pub context: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequiredPullRequestReviews {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dismissal_restrictions: Option<Restrictions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dismiss_stale_reviews: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_code_owner_reviews: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_approving_review_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_last_push_approval: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass_pull_request_allowances: Option<Restrictions>,
}

/// Users by login, teams by slug, apps by slug (as in the PUT body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Restrictions {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apps: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentDesired {
    /// Required reviewers of deployments to this environment (at most 6, GitHub's limit).
    #[serde(default)]
    pub reviewers: Vec<Reviewer>,
    /// Whether the person who started a deployment may not approve it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevent_self_review: Option<bool>,
    /// Minutes a deployment waits before it runs (0 to 43,200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timer: Option<u32>,
    /// Which branches may deploy: `{protected_branches, custom_branch_policies}` (one of them
    /// true), or `null` for every branch.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_with::rust::double_option"
    )]
    #[schemars(with = "Option<DeploymentBranchPolicy>")]
    pub deployment_branch_policy: Option<Option<DeploymentBranchPolicy>>,
    /// The branch name patterns that may deploy (with `custom_branch_policies: true`), the
    /// whole list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_policies: Option<Vec<String>>,
    /// Environment variables: name → value, or `{value, protect}` (not secrets: values live
    /// in desired/).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, super::protectable::Variable>,
    /// Environment secret names that must exist (`NAME` or `{name, rotation, protect}`); values come
    /// from the environment at apply, sealed with the environment's own public key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretName>,
    /// Deletion protection: no plan may delete or replace the environment (with its secrets
    /// and variables), even once removed from desired/.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect: Option<bool>,
}

/// An environment's `deployment_branch_policy`, as GitHub's PUT body writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentBranchPolicy {
    pub protected_branches: bool,
    pub custom_branch_policies: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reviewer {
    #[serde(rename = "type")]
    pub kind: ReviewerKind,
    /// A user's login or a team's slug.
    pub login: String,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum ReviewerKind {
    User,
    Team,
}

// The other providers' sections live in `others.rs`.
pub use super::others::*;
