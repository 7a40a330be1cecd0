//! Providers: one module per provider — refresh live state, execute plan actions, run
//! read-only operations.
//!
//! ```text
//! Credentials (built by the CLI from the environment, or by a test) ─┐
//! SecretSource (values read at the moment of sending) ──────────────┤
//!                                                                    ▼
//!   Provider::{Fly, Github} ── refresh(addresses) → normalized objects (src/core/live.rs)
//!                           ── execute(action)   → ActionOutcome (envelope-ready, no values)
//!                           ── op(name, payload) → Envelope (read-only)
//!                                    │
//!                             http::Http (one client, timeouts, retries, concurrency)
//! ```
//!
//! - [`http`]: the shared HTTP layer.
//! - [`fly`]: Fly.io (Machines API + GraphQL).
//! - [`github`]: GitHub REST (token or GitHub App).
//! - [`github_issues`]: issues and issue comments (the sticky PR comment, the drift issue).
//! - [`saas`]: the router, research, Qdrant, Mem0, Slack, Gong and Lambda, with their shared
//!   API helpers; [`context_db`] and [`redis`] beside it.
//!
//! Refresh only reads: no call it makes changes anything (the sandbox's request log proves
//! it; a GitHub App's installation-token exchange is the one POST, and it mutates nothing).

use std::collections::BTreeMap;
use std::time::Instant;

use futures::StreamExt;
use serde_json::Value;

use crate::core::address::Address;
use crate::core::desired::{Activation, Desired, ProviderName};
use crate::core::envelope::{Envelope, EnvelopeError, Status};
use crate::core::live::LiveSnapshot;
use crate::core::plan::Action;

pub mod activation;
pub mod context_db;
pub mod fly;
pub mod github;
pub mod github_issues;
pub mod http;
pub mod redis;
pub mod saas;

pub use fly::FlyProvider;
// The SaaS providers moved into `saas/`; their old paths (`providers::router`, …) stay.
pub use github::GithubProvider;
pub use http::{Http, RetryPolicy};
pub use saas::{gong, lambda, mem0, qdrant, research, router, slack};

/// The configuration variables providers read: base URLs and credentials. Built once by the
/// CLI from the environment ([`Credentials::from_env`]); tests build their own
/// ([`Credentials::from_pairs`]). Its `Debug` prints names only.
#[derive(Clone, Default)]
pub struct Credentials {
    vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("names", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Credentials {
    /// Every variable a provider of this module reads.
    pub const NAMES: [&'static str; 13] = [
        "FLY_API_TOKEN",
        "FLY_FLAPS_BASE_URL",
        "FLY_API_BASE_URL",
        "FLY_REGISTRY_URL",
        fly::APP_URL_TEMPLATE_VAR,
        "GITHUB_TOKEN",
        "GITHUB_APP_ID",
        "GITHUB_INSTALLATION_ID",
        "GITHUB_PRIVATE_KEY",
        "GITHUB_API_URL",
        "SOPHIA_HTTP_MAX_CONCURRENCY",
        "SOPHIA_HTTP_FAST_RETRIES",
        "SOPHIA_HTTP_TIMEOUT_MS",
    ];

    /// The known variables from the process environment (the shell's job; never the core's).
    pub fn from_env() -> Credentials {
        Credentials::from_pairs(
            Credentials::NAMES
                .iter()
                .chain(saas::NAMES.iter())
                .filter_map(|n| std::env::var(n).ok().map(|v| (n.to_string(), v))),
        )
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Credentials {
        Credentials {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// A set, non-empty variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// The HTTP layer these settings ask for: `SOPHIA_HTTP_MAX_CONCURRENCY` (default
    /// [`http::MAX_CONCURRENCY`]). Two knobs exist for tests against the sandbox and are not
    /// meant for production: `SOPHIA_HTTP_FAST_RETRIES=1` (millisecond backoffs,
    /// [`RetryPolicy::fast`]) and `SOPHIA_HTTP_TIMEOUT_MS` (the attempt timeout, default
    /// [`http::REQUEST_TIMEOUT`], so the sandbox's `slow` fault times out in a second).
    pub fn http(&self) -> Http {
        let max = self
            .get("SOPHIA_HTTP_MAX_CONCURRENCY")
            .and_then(|v| v.parse().ok())
            .unwrap_or(http::MAX_CONCURRENCY);
        let mut policy = if self.get("SOPHIA_HTTP_FAST_RETRIES") == Some("1") {
            RetryPolicy::fast()
        } else {
            RetryPolicy::default()
        };
        if let Some(ms) = self
            .get("SOPHIA_HTTP_TIMEOUT_MS")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
        {
            policy.attempt_timeout = std::time::Duration::from_millis(ms);
        }
        Http::new(policy, max)
    }
}

/// Where secret values come from, at the moment they are sent — never earlier, never stored.
pub trait SecretSource: Send + Sync {
    /// The value of the secret `name`, if set and non-empty.
    fn value(&self, name: &str) -> Option<String>;
}

/// Secret values from the process environment (GitHub Actions maps repository secrets there).
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvSecrets;

impl SecretSource for EnvSecrets {
    fn value(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl SecretSource for BTreeMap<String, String> {
    fn value(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

/// A provider failure in the normalized shape: a code (`not-configured`, `http-error`,
/// `timeout`, `rate-limited`, `invalid-input`, `health-check-failed`, …) and a message that
/// names what was called, never a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{provider}: {message}")]
pub struct ProviderError {
    pub provider: String,
    pub code: String,
    pub message: String,
}

impl ProviderError {
    pub fn new(
        provider: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> ProviderError {
        ProviderError {
            provider: provider.into(),
            code: code.into(),
            message: message.into(),
        }
    }

    /// The normalized `not-configured` error naming the missing variables.
    pub fn not_configured(provider: &str, missing: &[&str]) -> ProviderError {
        ProviderError::new(
            provider,
            "not-configured",
            format!(
                "{provider} is active but not configured: set {}",
                missing.join(", ")
            ),
        )
    }

    pub fn http(provider: &str, err: http::HttpError) -> ProviderError {
        ProviderError::new(provider, err.code(), err.to_string())
    }

    pub fn envelope_error(&self) -> EnvelopeError {
        EnvelopeError::new(&self.provider, &self.code, &self.message)
    }
}

/// What executing one action did: envelope-ready, never carrying a secret value.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionOutcome {
    pub status: Status,
    /// What was done (machine ids, names, statuses), for the proof.
    pub results: Vec<Value>,
    pub text: String,
    pub errors: Vec<EnvelopeError>,
}

impl ActionOutcome {
    pub fn success(text: impl Into<String>, results: Vec<Value>) -> ActionOutcome {
        ActionOutcome {
            status: Status::Success,
            results,
            text: text.into(),
            errors: Vec::new(),
        }
    }

    pub fn failure(err: ProviderError) -> ActionOutcome {
        ActionOutcome {
            status: Status::Failure,
            results: Vec::new(),
            text: err.message.clone(),
            errors: vec![err.envelope_error()],
        }
    }

    /// A failure reporting several errors (the first is the summary) and what was done.
    pub fn failed(errors: Vec<ProviderError>, results: Vec<Value>) -> ActionOutcome {
        ActionOutcome {
            status: Status::Failure,
            results,
            text: errors
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default(),
            errors: errors.iter().map(ProviderError::envelope_error).collect(),
        }
    }

    pub fn is_success(&self) -> bool {
        self.status == Status::Success
    }

    /// The normalized envelope of this outcome (`query` such as
    /// `apply fly.machines.update fly.app.x.machines`).
    pub fn envelope(
        &self,
        query: impl Into<String>,
        timestamp: impl Into<String>,
        execution_time_ms: u64,
    ) -> Envelope {
        let mut env = match self.status {
            Status::Success => Envelope::success(
                query,
                self.results.clone(),
                &self.text,
                timestamp,
                execution_time_ms,
            ),
            Status::Failure => Envelope::failure(
                query,
                self.errors.clone(),
                &self.text,
                timestamp,
                execution_time_ms,
            ),
        };
        env.results = self.results.clone();
        env
    }
}

impl From<ProviderError> for ActionOutcome {
    fn from(err: ProviderError) -> Self {
        ActionOutcome::failure(err)
    }
}

/// A configured provider (enum dispatch: the set is closed and `async fn` stays simple).
#[derive(Debug, Clone)]
pub enum Provider {
    Fly(FlyProvider),
    Github(GithubProvider),
    /// Router, research, context_db, qdrant, mem0, redis, slack, gong, lambda.
    Other(Box<saas::Other>),
}

impl Provider {
    /// The provider `name` configured from `creds`; `not-configured` when its credentials
    /// are missing; `None` for providers this module does not implement.
    pub fn configure(
        name: ProviderName,
        creds: &Credentials,
        http: &Http,
    ) -> Option<Result<Provider, ProviderError>> {
        match name {
            ProviderName::Fly => Some(FlyProvider::new(creds, http.clone()).map(Provider::Fly)),
            ProviderName::Github => {
                Some(GithubProvider::new(creds, http.clone()).map(Provider::Github))
            }
            _ => saas::Other::configure(name, creds, http)
                .map(|r| r.map(|o| Provider::Other(Box::new(o)))),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Provider::Fly(_) => "fly",
            Provider::Github(_) => "github",
            Provider::Other(p) => p.name(),
        }
    }

    /// Read the normalized live object of each address (absent ones are left out).
    pub async fn refresh(
        &self,
        addresses: &[Address],
    ) -> Result<BTreeMap<Address, Value>, ProviderError> {
        match self {
            Provider::Fly(p) => p.refresh(addresses).await,
            Provider::Github(p) => p.refresh(addresses).await,
            Provider::Other(p) => p.refresh(addresses).await,
        }
    }

    /// The registry digest of every image tag `desired` names (Fly's images; nothing for
    /// the other providers), read beside [`Provider::refresh`] through the same HTTP layer
    /// and its bound (DESIGN.md, "Images by digest").
    pub async fn resolve_images(
        &self,
        desired: &Desired,
    ) -> Result<crate::core::image::Resolved, ProviderError> {
        match self {
            Provider::Fly(p) => p.resolve_images(&crate::core::image::tags(desired)).await,
            _ => Ok(Default::default()),
        }
    }

    /// Execute one plan action. Secret values come from `secrets` at this moment only.
    pub async fn execute(&self, action: &Action, secrets: &dyn SecretSource) -> ActionOutcome {
        match self {
            Provider::Fly(p) => p.execute(action, secrets).await,
            Provider::Github(p) => p.execute(action, secrets).await,
            Provider::Other(p) => p.execute(action).await,
        }
    }

    /// A read-only operation, as its envelope (`query` is `<provider>.<name>`).
    pub async fn op(&self, name: &str, payload: &Value) -> Envelope {
        let started = Instant::now();
        let query = format!("{}.{name}", self.name());
        let result = match self {
            Provider::Fly(p) => p.op(name, payload).await,
            Provider::Github(p) => p.op(name, payload).await,
            Provider::Other(p) => p.op(name, payload).await,
        };
        let ms = started.elapsed().as_millis() as u64;
        match result {
            Ok((text, results)) => Envelope::success(query, results, text, now_rfc3339(), ms),
            Err(e) => Envelope::failure(
                query,
                vec![e.envelope_error()],
                e.message.clone(),
                now_rfc3339(),
                ms,
            ),
        }
    }
}

/// Now, RFC 3339 UTC with milliseconds (the shell reads the clock; the core never does).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The addresses of `desired` that provider `p` reads, in address order.
pub fn desired_addresses(desired: &Desired, p: ProviderName) -> Vec<Address> {
    let mut out = Vec::new();
    match p {
        ProviderName::Fly => {
            for (app, a) in desired.fly.iter().flat_map(|f| f.apps.iter()) {
                let app = app.clone();
                out.push(Address::FlyApp { app: app.clone() });
                out.push(Address::FlySecrets { app: app.clone() });
                if a.has_services() {
                    out.push(Address::FlyIps { app: app.clone() });
                }
                for m in a.mounts.iter().flatten() {
                    let volume = Address::FlyVolume {
                        app: app.clone(),
                        name: m.source.clone(),
                    };
                    if !out.contains(&volume) {
                        out.push(volume);
                    }
                }
                let groups = crate::core::flymachine::process_groups(&a.sections());
                if groups.len() > 1 {
                    for group in groups {
                        out.push(Address::FlyProcess {
                            app: app.clone(),
                            group,
                        });
                    }
                } else {
                    out.push(Address::FlyMachines { app });
                }
            }
        }
        ProviderName::Github => {
            for (org, o) in desired.github.iter().flat_map(|g| g.orgs.iter()) {
                for name in o.rulesets.keys() {
                    out.push(Address::GithubOrgRuleset {
                        org: org.clone(),
                        name: name.clone(),
                    });
                }
            }
            for (repo, r) in desired.github.iter().flat_map(|g| g.repos.iter()) {
                if r.settings.is_some() || r.topics.is_some() {
                    out.push(Address::GithubSettings { repo: repo.clone() });
                }
                for login in r.collaborators.keys() {
                    out.push(Address::GithubCollaborator {
                        repo: repo.clone(),
                        login: login.clone(),
                    });
                }
                for slug in r.teams.keys() {
                    out.push(Address::GithubTeam {
                        repo: repo.clone(),
                        slug: slug.clone(),
                    });
                }
                for name in r.actions_variables.keys() {
                    out.push(Address::GithubVariable {
                        repo: repo.clone(),
                        name: name.clone(),
                    });
                }
                for name in r.rulesets.keys() {
                    out.push(Address::GithubRepoRuleset {
                        repo: repo.clone(),
                        name: name.clone(),
                    });
                }
                for branch in r.branches.keys() {
                    out.push(Address::GithubProtection {
                        repo: repo.clone(),
                        branch: branch.clone(),
                    });
                }
                for s in &r.actions_secrets {
                    out.push(Address::GithubSecret {
                        repo: repo.clone(),
                        name: s.name.clone(),
                    });
                }
                for env in r.environments.keys() {
                    out.push(Address::GithubEnvironment {
                        repo: repo.clone(),
                        env: env.clone(),
                    });
                }
            }
        }
        _ => out.extend(saas::desired_addresses(desired, p)),
    }
    out.sort();
    out.dedup();
    out
}

/// Refresh every active provider `desired` manages that this module implements, reading
/// credentials from `creds`. A provider that fails (e.g. `not-configured`) contributes an
/// error and nothing else; the others are still read.
pub async fn refresh_all(
    desired: &Desired,
    creds: &Credentials,
) -> (LiveSnapshot, Vec<EnvelopeError>) {
    refresh_all_with(desired, creds, &creds.http()).await
}

/// [`refresh_all`] with a given HTTP layer.
pub async fn refresh_all_with(
    desired: &Desired,
    creds: &Credentials,
    http: &Http,
) -> (LiveSnapshot, Vec<EnvelopeError>) {
    refresh_all_plus(desired, creds, http, &[]).await
}

/// [`refresh_all_with`], reading `extra` addresses too (of the same active providers): the
/// managed addresses gone from desired/, whose deletes the plan shows.
pub async fn refresh_all_plus(
    desired: &Desired,
    creds: &Credentials,
    http: &Http,
    extra: &[Address],
) -> (LiveSnapshot, Vec<EnvelopeError>) {
    let mut snapshot = LiveSnapshot::new(now_rfc3339());
    let mut errors = Vec::new();
    let jobs: Vec<_> = desired
        .managed()
        .into_iter()
        .filter(|(_, a)| *a == Activation::Active)
        .filter_map(|(p, _)| {
            let mut addresses = desired_addresses(desired, p);
            addresses.extend(extra.iter().filter(|a| a.provider() == p.as_str()).cloned());
            addresses.sort();
            addresses.dedup();
            Provider::configure(p, creds, http).map(|prov| (p, prov, addresses))
        })
        .collect();
    let results = futures::stream::iter(jobs)
        .map(|(p, prov, addresses)| async move {
            match prov {
                Ok(prov) => {
                    let (read, images) =
                        futures::join!(prov.refresh(&addresses), prov.resolve_images(desired));
                    (p, read.and_then(|r| images.map(|i| (r, i))))
                }
                Err(e) => (p, Err(e)),
            }
        })
        .buffered(2)
        .collect::<Vec<_>>()
        .await;
    for (p, result) in results {
        match result {
            Ok((resources, images)) => {
                snapshot.resources.extend(resources);
                snapshot.images.extend(images);
                // The provider answered with its credentials: it is live and active.
                snapshot.resources.insert(
                    Address::Provider {
                        name: p.as_str().to_string(),
                    },
                    serde_json::json!({ "activation": "active" }),
                );
            }
            Err(e) => errors.push(e.envelope_error()),
        }
    }
    (snapshot, errors)
}

/// Read each address with `read`, keeping those that exist. As many reads are started as the
/// HTTP layer lets run at once (`http`'s concurrency), so its semaphore, not this stream, is
/// what bounds the calls, and a read that makes two calls in a row never idles a slot.
pub(crate) async fn refresh_each<'a, F, Fut>(
    http: &Http,
    addresses: &'a [Address],
    read: F,
) -> Result<BTreeMap<Address, Value>, ProviderError>
where
    F: Fn(&'a Address) -> Fut,
    Fut: std::future::Future<Output = Result<Option<Value>, ProviderError>>,
{
    let results: Vec<_> = futures::stream::iter(addresses.iter())
        .map(|a| {
            let fut = read(a);
            async move { (a, fut.await) }
        })
        .buffer_unordered(http.max_concurrency())
        .collect()
        .await;
    let mut out = BTreeMap::new();
    for (address, result) in results {
        if let Some(v) = result? {
            out.insert(address.clone(), v);
        }
    }
    Ok(out)
}

/// A string parameter of an action.
pub(crate) fn param_str<'a>(action: &'a Action, key: &str) -> Option<&'a str> {
    action.params.get(key).and_then(Value::as_str)
}

/// A list of strings parameter.
pub(crate) fn param_names(action: &Action, keys: &[&str]) -> Vec<String> {
    for key in keys {
        if let Some(Value::Array(items)) = action.params.get(*key) {
            return items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_prints_names_only() {
        let c = Credentials::from_pairs([("GITHUB_TOKEN", "ghp_canary_value")]);
        let shown = format!("{c:?}");
        assert!(shown.contains("GITHUB_TOKEN"));
        assert!(!shown.contains("canary"));
    }

    #[test]
    fn empty_variables_count_as_missing() {
        let c = Credentials::from_pairs([("FLY_API_TOKEN", " ")]);
        assert_eq!(c.get("FLY_API_TOKEN"), None);
    }

    #[test]
    fn not_configured_names_the_variables() {
        let e = ProviderError::not_configured("fly", &["FLY_API_TOKEN"]);
        assert_eq!(e.code, "not-configured");
        assert!(e.message.contains("FLY_API_TOKEN"));
    }
}
