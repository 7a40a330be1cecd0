//! GitHub REST (`GITHUB_API_URL`, default `https://api.github.com`).
//!
//! Auth: `GITHUB_TOKEN`, or a GitHub App's installation token ([`auth`]).
//!
//! Refresh reads (GET only, beyond the token exchange):
//! - `…branch.<b>.protection` ← `GET …/branches/{b}/protection`, normalized to the PUT body
//!   shape ([`github_protection::normalize`]); 404 → absent.
//! - `…secret.<N>` ← `GET …/actions/secrets?per_page=100` (every page, by the `Link`
//!   header, once per repository) → `{}` when listed.
//! - `…environment.<e>` ← `GET …/environments/{e}` → `{reviewers: [{type, login}],
//!   prevent_self_review, wait_timer, deployment_branch_policy}` ([`environment_of`]).
//!
//! - `…settings`, `…collaborator.<login>`, `…team.<slug>`, `…variable.<NAME>` ← the
//!   repository, and one listing per repository and kind ([`access`]).
//! - `…ruleset.<name>` (organization or repository) ← the scope's listing (name → id), then
//!   `GET …/rulesets/{id}`, normalized ([`rulesets`]).
//!
//! Actions: `github.protection.put`, `github.protection.delete`, `github.secret.put`,
//! `github.environment.put`, `github.ruleset.put`, `github.ruleset.delete`. Read-only
//! operations: `audit` (secret names only), `rules` (the effective rules of a branch).

mod access;
mod auth;
mod environments;
mod inventory;
mod pages;
mod retire;
mod rulesets;

pub use environments::environment_of;
pub use pages::next_link;

use std::collections::BTreeMap;

use base64::Engine;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::{Value, json};

use self::auth::Auth;
use super::http::{self, Http, Req, Retry};
use super::{ActionOutcome, Credentials, ProviderError, SecretSource, refresh_each};
use crate::core::address::Address;
use crate::core::github_protection;
use crate::core::plan::{Action, ActionKind};

const PROVIDER: &str = "github";

/// The REST API version every request pins (GitHub's current stable version).
pub const API_VERSION: &str = "2022-11-28";

/// The GitHub provider.
#[derive(Debug, Clone)]
pub struct GithubProvider {
    http: Http,
    base: Url,
    auth: Auth,
    /// Content-creating requests wait here ([`http::pace`]).
    pacer: std::sync::Arc<http::pace::Pacer>,
}

/// `owner/repo` → (`owner`, `repo`).
fn split_repo(repo: &str) -> Result<(&str, &str), ProviderError> {
    repo.split_once('/').ok_or_else(|| {
        ProviderError::new(
            PROVIDER,
            "invalid-input",
            format!("`{repo}` is not `owner/repo`"),
        )
    })
}

impl GithubProvider {
    /// Configure from `creds`: `GITHUB_TOKEN`, or all of `GITHUB_APP_ID`,
    /// `GITHUB_INSTALLATION_ID` and `GITHUB_PRIVATE_KEY`.
    pub fn new(creds: &Credentials, http: Http) -> Result<GithubProvider, ProviderError> {
        let base = http::parse_base(
            "GITHUB_API_URL",
            creds
                .get("GITHUB_API_URL")
                .unwrap_or("https://api.github.com"),
        )
        .map_err(|e| ProviderError::new(PROVIDER, "invalid-input", e.to_string()))?;
        let auth = Auth::from_creds(creds)?;
        let limits = match creds.get("SOPHIA_GITHUB_WRITE_LIMITS") {
            None => http::pace::DEFAULT_LIMITS.to_vec(),
            Some(text) => http::pace::parse_limits(text).ok_or_else(|| {
                ProviderError::new(
                    PROVIDER,
                    "invalid-input",
                    "`SOPHIA_GITHUB_WRITE_LIMITS` is not `count/seconds,…` (e.g. `80/60,500/3600`)",
                )
            })?,
        };
        let pacer = http::pace::Pacer::shared(base.as_str(), limits);
        Ok(GithubProvider {
            http,
            base,
            auth,
            pacer,
        })
    }

    fn base_req(&self, method: Method, segments: &[&str]) -> Req {
        self.base_req_at(method, http::url(&self.base, segments))
    }

    fn base_req_at(&self, method: Method, url: Url) -> Req {
        // Every GET is conditional: a refresh with nothing changed is answered by 304s,
        // which GitHub does not count against the rate limit.
        Req::new(method, url)
            .conditional()
            .header(
                ACCEPT,
                HeaderValue::from_static("application/vnd.github+json"),
            )
            .header(
                HeaderName::from_static("x-github-api-version"),
                HeaderValue::from_static(API_VERSION),
            )
    }

    async fn req(&self, method: Method, segments: &[&str]) -> Result<Req, ProviderError> {
        let authorization = self
            .auth
            .header(&self.http, |method, segments| {
                self.base_req(method, segments)
            })
            .await?;
        Ok(self
            .base_req(method, segments)
            .header(AUTHORIZATION, authorization))
    }

    /// A request to a full URL of this API (a `Link` header's next page).
    async fn req_at(&self, method: Method, url: Url) -> Result<Req, ProviderError> {
        let authorization = self
            .auth
            .header(&self.http, |method, segments| {
                self.base_req(method, segments)
            })
            .await?;
        Ok(self
            .base_req_at(method, url)
            .header(AUTHORIZATION, authorization))
    }

    async fn send(&self, req: Req) -> Result<http::Resp, ProviderError> {
        let req = if matches!(req.method, Method::GET | Method::HEAD) {
            req
        } else {
            req.paced(self.pacer.clone())
        };
        self.http
            .send(req)
            .await
            .map_err(|e| ProviderError::http(PROVIDER, e))
    }

    async fn send_ok(&self, req: Req) -> Result<Value, ProviderError> {
        let resp = self.send(req).await?;
        let resp = resp.ok().map_err(|e| ProviderError::http(PROVIDER, e))?;
        resp.json().map_err(|e| ProviderError::http(PROVIDER, e))
    }

    /// `GET`, `None` on 404.
    async fn get_opt(&self, segments: &[&str]) -> Result<Option<Value>, ProviderError> {
        let resp = self.send(self.req(Method::GET, segments).await?).await?;
        if resp.status.as_u16() == 404 {
            return Ok(None);
        }
        let resp = resp.ok().map_err(|e| ProviderError::http(PROVIDER, e))?;
        resp.json()
            .map(Some)
            .map_err(|e| ProviderError::http(PROVIDER, e))
    }

    /// Which credential this provider uses, by variable names (never a value).
    fn credential(&self) -> &'static str {
        match self.auth {
            Auth::Token(_) => "the credential in GITHUB_TOKEN",
            Auth::App { .. } => {
                "the GitHub App installation of GITHUB_APP_ID and GITHUB_INSTALLATION_ID"
            }
        }
    }

    // ───────────────────────── reads ─────────────────────────

    /// The normalized protection of a branch, `None` when unprotected.
    pub async fn protection(
        &self,
        repo: &str,
        branch: &str,
    ) -> Result<Option<Value>, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let req = self
            .req(
                Method::GET,
                &["repos", owner, name, "branches", branch, "protection"],
            )
            .await?;
        let resp = self.send(req).await?;
        // Only "Branch not protected" means absent: GitHub also answers 404 for a missing
        // branch or repository, or one the token cannot see, and planning to "create" a
        // protection there would only fail at apply.
        if resp.status.as_u16() == 404 {
            let err = resp.into_error();
            let text = err.to_string().to_ascii_lowercase();
            if text.contains("not protected") {
                return Ok(None);
            }
            if text.contains("branch not found") {
                return Err(ProviderError::new(
                    PROVIDER,
                    "not-found",
                    format!(
                        "branch `{branch}` does not exist in `{repo}` (GET …/branches/{branch}/protection answered 404 Branch not found)"
                    ),
                ));
            }
            return Err(ProviderError::new(
                PROVIDER,
                "not-found",
                format!(
                    "repository `{repo}` does not exist, or {} cannot see it (GET …/branches/{branch}/protection answered 404 Not Found)",
                    self.credential()
                ),
            ));
        }
        let resp = resp.ok().map_err(|e| ProviderError::http(PROVIDER, e))?;
        let body = resp.json().map_err(|e| ProviderError::http(PROVIDER, e))?;
        Ok(Some(github_protection::normalize(&body)))
    }

    /// Every Actions secret name of a repository (all pages), sorted.
    pub async fn secret_names(&self, repo: &str) -> Result<Vec<String>, ProviderError> {
        Ok(self.secret_listing(repo).await?.into_keys().collect())
    }

    /// Every Actions secret of a repository (all pages): name → when it was last set
    /// (`updated_at`, `null` when not given).
    pub async fn secret_listing(
        &self,
        repo: &str,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let items = self
            .list_all(
                &["repos", owner, name, "actions", "secrets"],
                &[],
                Some("secrets"),
            )
            .await?;
        Ok(items
            .iter()
            .filter_map(|s| {
                let name = s.get("name").and_then(Value::as_str)?;
                Some((
                    name.to_string(),
                    s.get("updated_at").cloned().unwrap_or(Value::Null),
                ))
            })
            .collect())
    }

    /// Read the normalized object of each GitHub address.
    pub async fn refresh(
        &self,
        addresses: &[Address],
    ) -> Result<BTreeMap<Address, Value>, ProviderError> {
        // Secrets: one paginated listing per repository, however many names are asked. It is
        // fetched by whichever read needs it first, alongside the other reads (a listing of
        // every repository up front, one after another, cost a round trip per repository
        // before any other read could start).
        let listings: BTreeMap<&str, tokio::sync::OnceCell<BTreeMap<String, Value>>> = addresses
            .iter()
            .filter_map(|a| match a {
                Address::GithubSecret { repo, .. } => {
                    Some((repo.as_str(), tokio::sync::OnceCell::new()))
                }
                _ => None,
            })
            .collect();
        let listings = &listings;
        // Rulesets: one listing (name → id) per organization or repository.
        let ruleset_ids: BTreeMap<rulesets::Scope, tokio::sync::OnceCell<BTreeMap<String, i64>>> =
            addresses
                .iter()
                .filter_map(|a| rulesets::Scope::of(a).ok())
                .map(|(scope, _)| (scope, tokio::sync::OnceCell::new()))
                .collect();
        let ruleset_ids = &ruleset_ids;
        // Collaborators, teams and variables: one listing per repository and kind.
        let listings_by: access::Cells = addresses
            .iter()
            .filter_map(access::Listing::of)
            .map(|k| (k, tokio::sync::OnceCell::new()))
            .collect();
        let listings_by = &listings_by;
        refresh_each(&self.http, addresses, |a| async move {
            match a {
                Address::GithubSettings { repo } => self.settings(repo).await,
                Address::GithubCollaborator { login: key, .. }
                | Address::GithubTeam { slug: key, .. }
                | Address::GithubVariable { name: key, .. } => {
                    self.listed(listings_by, a, key).await
                }
                Address::GithubOrgRuleset { .. } | Address::GithubRepoRuleset { .. } => {
                    let (scope, name) = rulesets::Scope::of(a)?;
                    let ids = ruleset_ids[&scope]
                        .get_or_try_init(|| self.ruleset_ids(&scope))
                        .await?;
                    match ids.get(name) {
                        Some(id) => self.ruleset(&scope, *id).await,
                        None => Ok(None),
                    }
                }
                Address::GithubProtection { repo, branch } => self.protection(repo, branch).await,
                Address::GithubSecret { repo, name } => {
                    let listed = listings[repo.as_str()]
                        .get_or_try_init(|| self.secret_listing(repo))
                        .await?;
                    // `updated_at`: a watched secret set outside sophia is drift.
                    Ok(listed.get(name).map(|at| match at {
                        Value::Null => json!({}),
                        at => json!({ "updated_at": at }),
                    }))
                }
                Address::GithubEnvironment { repo, env } => self.environment(repo, env).await,
                other => Err(ProviderError::new(
                    PROVIDER,
                    "invalid-input",
                    format!("`{other}` is not a GitHub resource"),
                )),
            }
        })
        .await
    }

    // ───────────────────────── actions ─────────────────────────

    /// Execute one plan action.
    pub async fn execute(&self, action: &Action, secrets: &dyn SecretSource) -> ActionOutcome {
        let result = match (action.kind, &action.address) {
            (ActionKind::GithubProtectionPut, Address::GithubProtection { repo, branch }) => {
                self.put_protection(repo, branch, desired_protection(&action.params))
                    .await
            }
            (ActionKind::GithubProtectionDelete, Address::GithubProtection { repo, branch }) => {
                self.delete_protection(repo, branch).await
            }
            (ActionKind::GithubSecretPut, Address::GithubSecret { repo, name }) => {
                self.put_secret(repo, name, secrets).await
            }
            (ActionKind::GithubEnvironmentPut, Address::GithubEnvironment { repo, env }) => {
                self.put_environment(repo, env, &action.params, secrets)
                    .await
            }
            (
                ActionKind::GithubRulesetPut,
                a @ (Address::GithubOrgRuleset { .. } | Address::GithubRepoRuleset { .. }),
            ) => self.put_ruleset(a, &action.params).await,
            (
                ActionKind::GithubRulesetDelete,
                a @ (Address::GithubOrgRuleset { .. } | Address::GithubRepoRuleset { .. }),
            ) => self.delete_ruleset(a).await,
            (ActionKind::GithubSettingsPatch, Address::GithubSettings { repo }) => {
                self.patch_settings(repo, &action.params).await
            }
            (ActionKind::GithubCollaboratorPut, Address::GithubCollaborator { repo, login }) => {
                self.put_collaborator(repo, login, &action.params).await
            }
            (ActionKind::GithubTeamPut, Address::GithubTeam { repo, slug }) => {
                self.put_team(repo, slug, &action.params).await
            }
            (ActionKind::GithubVariablePut, Address::GithubVariable { repo, name }) => {
                self.put_variable(repo, name, &action.params).await
            }
            (
                ActionKind::GithubSecretDelete
                | ActionKind::GithubVariableDelete
                | ActionKind::GithubEnvironmentDelete
                | ActionKind::GithubCollaboratorDelete
                | ActionKind::GithubTeamDelete,
                address,
            ) => self.delete_object(address).await,
            (kind, address) => Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("the GitHub provider cannot run `{kind}` on `{address}`"),
            )),
        };
        result.unwrap_or_else(ActionOutcome::failure)
    }

    /// Put branch protection. The PUT replaces the whole protection, so the body is the
    /// desired fields merged over the current live values: a field (or a sub-field of
    /// `required_status_checks` / `required_pull_request_reviews`) the desired state does
    /// not set keeps its live value, so settings managed elsewhere survive. Idempotent.
    async fn put_protection(
        &self,
        repo: &str,
        branch: &str,
        desired: Value,
    ) -> Result<ActionOutcome, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let live = self.protection(repo, branch).await?;
        let body = github_protection::put_body(&desired, live.as_ref());
        let req = self
            .req(
                Method::PUT,
                &["repos", owner, name, "branches", branch, "protection"],
            )
            .await?
            .json(body.clone());
        self.send_ok(req).await?;
        Ok(ActionOutcome::success(
            format!("protected `{branch}` of {repo}"),
            vec![json!({"repo": repo, "branch": branch, "body": body})],
        ))
    }

    /// Remove branch protection; an unprotected branch is already done (idempotent).
    async fn delete_protection(
        &self,
        repo: &str,
        branch: &str,
    ) -> Result<ActionOutcome, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let req = self
            .req(
                Method::DELETE,
                &["repos", owner, name, "branches", branch, "protection"],
            )
            .await?;
        let resp = self.send(req).await?;
        if resp.status.as_u16() != 404 {
            resp.ok().map_err(|e| ProviderError::http(PROVIDER, e))?;
        }
        Ok(ActionOutcome::success(
            format!("removed the protection of `{branch}` of {repo}"),
            vec![json!({"repo": repo, "branch": branch})],
        ))
    }

    /// Set an Actions secret: the value is read from `secrets` now, sealed (libsodium sealed
    /// box) with the repository's public key and sent as `{encrypted_value, key_id}`. Only
    /// the name is recorded. Idempotent: PUT creates or updates.
    async fn put_secret(
        &self,
        repo: &str,
        secret: &str,
        secrets: &dyn SecretSource,
    ) -> Result<ActionOutcome, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let value = secrets.value(secret).ok_or_else(|| {
            ProviderError::new(
                PROVIDER,
                "not-configured",
                format!("secret value not set in the environment: {secret}"),
            )
        })?;
        let key = self
            .send_ok(
                self.req(
                    Method::GET,
                    &["repos", owner, name, "actions", "secrets", "public-key"],
                )
                .await?,
            )
            .await?;
        let key_id = key_id_of(&key).ok_or_else(|| {
            ProviderError::new(
                PROVIDER,
                "http-error",
                "GET …/actions/secrets/public-key: the answer has no `key_id`",
            )
        })?;
        let encrypted = seal(
            key.get("key").and_then(Value::as_str).unwrap_or_default(),
            &value,
        )?;
        drop(value);
        let req = self
            .req(
                Method::PUT,
                &["repos", owner, name, "actions", "secrets", secret],
            )
            .await?
            .json(json!({ "encrypted_value": encrypted, "key_id": key_id }));
        self.send_ok(req).await?;
        Ok(ActionOutcome::success(
            format!("set Actions secret {secret} of {repo}"),
            vec![json!({"repo": repo, "secret": secret})],
        ))
    }

    // ───────────────────────── issues and comments ─────────────────────────

    /// One JSON request under `segments` with query `pairs`, for the issue and comment
    /// functions of [`super::github_issues`]: 2xx gives the JSON body (`null` when empty),
    /// anything else the normalized error naming the method and path.
    pub(crate) async fn call(
        &self,
        method: Method,
        segments: &[&str],
        pairs: &[(&str, String)],
        body: Option<Value>,
        retry: Retry,
    ) -> Result<Value, ProviderError> {
        let mut req = self.req(method, segments).await?.retry(retry);
        if !pairs.is_empty() {
            req.url.query_pairs_mut().extend_pairs(pairs);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        self.send_ok(req).await
    }

    // ───────────────────────── read-only operations ─────────────────────────

    /// `audit`: the Actions secret names of `payload.repo` (names only, never values).
    pub async fn op(
        &self,
        name: &str,
        payload: &Value,
    ) -> Result<(String, Vec<Value>), ProviderError> {
        match name {
            "audit" => {
                let repo = payload.get("repo").and_then(Value::as_str).ok_or_else(|| {
                    ProviderError::new(
                        PROVIDER,
                        "invalid-input",
                        "`github audit` needs `repo` (owner/repo) in its payload",
                    )
                })?;
                let names = self.secret_names(repo).await?;
                Ok((
                    format!("{} Actions secret(s) in {repo}", names.len()),
                    vec![json!({ "repo": repo, "secrets": names })],
                ))
            }
            "rules" => {
                let field = |key: &str| {
                    payload.get(key).and_then(Value::as_str).ok_or_else(|| {
                        ProviderError::new(
                            PROVIDER,
                            "invalid-input",
                            format!(
                                "`github rules` needs `{key}` in its payload (`--repo OWNER/REPO --branch BRANCH`)"
                            ),
                        )
                    })
                };
                self.branch_rules(field("repo")?, field("branch")?).await
            }
            other => Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("unknown GitHub operation `{other}` (expected audit or rules)"),
            )),
        }
    }
}

/// The desired protection body from an action's params: `params.protection`, `params.body`
/// or the params themselves.
fn desired_protection(params: &Value) -> Value {
    params
        .get("protection")
        .or_else(|| params.get("body"))
        .filter(|v| v.is_object())
        .cloned()
        .unwrap_or_else(|| params.clone())
}

/// The `key_id` of a public-key answer, as the secret PUT sends it (a string): github.com
/// answers a string, GitHub Enterprise Server a number (`"key_id": 568250167242549743`).
pub fn key_id_of(key: &Value) -> Option<String> {
    match key.get("key_id")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A libsodium sealed box of `value` for the base64 X25519 `public_key`, base64-encoded.
pub fn seal(public_key: &str, value: &str) -> Result<String, ProviderError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let bad_key = || {
        ProviderError::new(
            PROVIDER,
            "http-error",
            "GET …/actions/secrets/public-key: the key is not a base64 32-byte X25519 key",
        )
    };
    let bytes: [u8; 32] = b64
        .decode(public_key)
        .map_err(|_| bad_key())?
        .try_into()
        .map_err(|_| bad_key())?;
    let pk = crypto_box::PublicKey::from(bytes);
    let sealed = pk
        .seal(&mut crypto_box::aead::OsRng, value.as_bytes())
        .map_err(|_| ProviderError::new(PROVIDER, "internal", "sealing the secret failed"))?;
    Ok(b64.encode(sealed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_boxes_open_with_the_repository_key_and_never_contain_the_value() {
        let sk = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
        let pk = base64::engine::general_purpose::STANDARD.encode(sk.public_key().as_bytes());
        let sealed = seal(&pk, "canary-value-123").unwrap();
        assert!(!sealed.contains("canary"));
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&sealed)
            .unwrap();
        assert_eq!(sk.unseal(&raw).unwrap(), b"canary-value-123");
        assert!(seal("not base64!", "x").is_err());
    }

    #[test]
    fn key_ids_are_strings_or_numbers() {
        // GitHub's OpenAPI example of `GET …/actions/secrets/public-key` (a string).
        let dotcom = json!({"key": "2Sg8iYjAxxmI2LvUXpJjkYrMxURPc8r+dB7TJyvv1234", "key_id": "012345678912345678"});
        assert_eq!(key_id_of(&dotcom).as_deref(), Some("012345678912345678"));
        // GitHub Enterprise Server answers a number; the PUT still sends it as a string.
        let ghes = json!({"key": "2Sg8iYjAxxmI2LvUXpJjkYrMxURPc8r+dB7TJyvv1234", "key_id": 568250167242549743u64});
        assert_eq!(key_id_of(&ghes).as_deref(), Some("568250167242549743"));
        assert_eq!(key_id_of(&json!({"key": "k"})), None);
        assert_eq!(key_id_of(&json!({"key_id": ""})), None);
    }
}
