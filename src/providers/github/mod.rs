//! GitHub REST (`GITHUB_API_URL`, default `https://api.github.com`).
//!
//! Auth: `GITHUB_TOKEN`, or a GitHub App's installation token ([`auth`]).
//!
//! Refresh reads (GET only, beyond the token exchange):
//! - `…branch.<b>.protection` ← `GET …/branches/{b}/protection`, normalized to the PUT body
//!   shape ([`github_protection::normalize`]); 404 → absent.
//! - `…secret.<N>` ← `GET …/actions/secrets?per_page=100&page=…` (every page, once per
//!   repository) → `{}` when listed.
//! - `…environment.<e>` ← `GET …/environments/{e}` → `{"reviewers": [{type, login}]}`.
//!
//! Actions: `github.protection.put`, `github.protection.delete`, `github.secret.put`,
//! `github.environment.put`. Read-only operation: `audit` (secret names only).

mod auth;

use std::collections::{BTreeMap, BTreeSet};

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

/// Secrets listed per page: GitHub's maximum, so most repositories need one request.
const PER_PAGE: usize = 100;

/// Page cap of the secrets listing: 100 pages of 100 is far beyond any real repository and
/// stops a server that never ends its pages from looping forever.
const MAX_PAGES: usize = 100;

/// The GitHub provider.
#[derive(Debug, Clone)]
pub struct GithubProvider {
    http: Http,
    base: Url,
    auth: Auth,
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
        Ok(GithubProvider { http, base, auth })
    }

    fn base_req(&self, method: Method, segments: &[&str]) -> Req {
        Req::new(method, http::url(&self.base, segments))
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

    async fn send(&self, req: Req) -> Result<http::Resp, ProviderError> {
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
        let (owner, name) = split_repo(repo)?;
        let mut names = BTreeSet::new();
        for page in 1..=MAX_PAGES {
            let mut req = self
                .req(Method::GET, &["repos", owner, name, "actions", "secrets"])
                .await?;
            req.url
                .set_query(Some(&format!("per_page={PER_PAGE}&page={page}")));
            let body = self.send_ok(req).await?;
            let items = body
                .get("secrets")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            names.extend(
                items
                    .iter()
                    .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_string)),
            );
            let total = body.get("total_count").and_then(Value::as_u64).unwrap_or(0) as usize;
            if items.len() < PER_PAGE || names.len() >= total {
                break;
            }
        }
        Ok(names.into_iter().collect())
    }

    /// An environment's required reviewers, `None` when the environment does not exist.
    async fn environment(&self, repo: &str, env: &str) -> Result<Option<Value>, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        Ok(self
            .get_opt(&["repos", owner, name, "environments", env])
            .await?
            .map(|e| json!({ "reviewers": reviewers_of(&e).into_iter().map(|(t, l, _)| json!({"type": t, "login": l})).collect::<Vec<_>>() })))
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
        let listings: BTreeMap<&str, tokio::sync::OnceCell<BTreeSet<String>>> = addresses
            .iter()
            .filter_map(|a| match a {
                Address::GithubSecret { repo, .. } => {
                    Some((repo.as_str(), tokio::sync::OnceCell::new()))
                }
                _ => None,
            })
            .collect();
        let listings = &listings;
        refresh_each(&self.http, addresses, |a| async move {
            match a {
                Address::GithubProtection { repo, branch } => self.protection(repo, branch).await,
                Address::GithubSecret { repo, name } => {
                    let names = listings[repo.as_str()]
                        .get_or_try_init(|| async {
                            Ok::<_, ProviderError>(
                                self.secret_names(repo).await?.into_iter().collect(),
                            )
                        })
                        .await?;
                    Ok(names.contains(name).then(|| json!({})))
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
                self.put_environment(repo, env, &action.params).await
            }
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
        let key_id = key
            .get("key_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
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

    /// Create or update an environment with its required reviewers (`params.reviewers`:
    /// `[{type, login}]`). Ids come from the environment's current reviewers, else from
    /// `GET /users/{login}` or `GET /orgs/{owner}/teams/{slug}`. Idempotent.
    async fn put_environment(
        &self,
        repo: &str,
        env: &str,
        params: &Value,
    ) -> Result<ActionOutcome, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let wanted: Vec<(String, String)> = params
            .get("reviewers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                Some((
                    r.get("type")?.as_str()?.to_string(),
                    r.get("login")?.as_str()?.to_string(),
                ))
            })
            .collect();
        let current = self
            .get_opt(&["repos", owner, name, "environments", env])
            .await?;
        let known: BTreeMap<(String, String), i64> = current
            .as_ref()
            .map(reviewers_of)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(t, l, id)| id.map(|id| ((t, l), id)))
            .collect();
        let mut reviewers = Vec::new();
        for (kind, login) in &wanted {
            let id = match known.get(&(kind.clone(), login.clone())) {
                Some(id) => *id,
                None => {
                    let path: Vec<&str> = if kind == "Team" {
                        vec!["orgs", owner, "teams", login]
                    } else {
                        vec!["users", login]
                    };
                    let who = self.send_ok(self.req(Method::GET, &path).await?).await?;
                    who.get("id").and_then(Value::as_i64).ok_or_else(|| {
                        ProviderError::new(
                            PROVIDER,
                            "http-error",
                            format!("GET /{}: no `id` in the answer", path.join("/")),
                        )
                    })?
                }
            };
            reviewers.push(json!({ "type": kind, "id": id }));
        }
        let req = self
            .req(Method::PUT, &["repos", owner, name, "environments", env])
            .await?
            .json(json!({ "reviewers": reviewers }));
        self.send_ok(req).await?;
        Ok(ActionOutcome::success(
            format!(
                "environment `{env}` of {repo}: {} reviewer(s)",
                wanted.len()
            ),
            vec![json!({"repo": repo, "environment": env,
                        "reviewers": wanted.iter().map(|(t, l)| json!({"type": t, "login": l})).collect::<Vec<_>>()})],
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
            other => Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("unknown GitHub operation `{other}` (expected audit)"),
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

/// `[{type, reviewer: {login|slug, id}}]` of an environment's `required_reviewers` rule →
/// sorted `(type, login-or-slug, id)`.
fn reviewers_of(env: &Value) -> Vec<(String, String, Option<i64>)> {
    let mut out: Vec<(String, String, Option<i64>)> = env
        .get("protection_rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r.get("type").and_then(Value::as_str) == Some("required_reviewers"))
        .flat_map(|r| {
            r.get("reviewers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|r| {
            let kind = r.get("type")?.as_str()?.to_string();
            let who = r.get("reviewer")?;
            let login = who
                .get("login")
                .or_else(|| who.get("slug"))?
                .as_str()?
                .to_string();
            Some((kind, login, who.get("id").and_then(Value::as_i64)))
        })
        .collect();
    out.sort();
    out.dedup();
    out
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
    fn reviewers_read_logins_and_slugs_sorted() {
        let env = json!({"protection_rules": [
            {"type": "wait_timer", "wait_timer": 5},
            {"type": "required_reviewers", "reviewers": [
                {"type": "User", "reviewer": {"login": "zed", "id": 2}},
                {"type": "Team", "reviewer": {"slug": "ops", "id": 7}},
            ]}
        ]});
        assert_eq!(
            reviewers_of(&env),
            vec![
                ("Team".into(), "ops".into(), Some(7)),
                ("User".into(), "zed".into(), Some(2))
            ]
        );
    }
}
