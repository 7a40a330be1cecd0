//! Fly.io: the Machines API (`FLY_FLAPS_BASE_URL`, default `https://api.machines.dev`, paths
//! under `/v1`) and the GraphQL API (`FLY_API_BASE_URL`, default `https://api.fly.io`,
//! `/graphql`; logs at `/api/v1/apps/{app}/logs`).
//!
//! Refresh reads (GET only):
//! - `fly.app.<a>` ← `GET /v1/apps/{a}` → `{"org": slug}`; 404 → absent.
//! - `fly.app.<a>.secrets` ← `GET /v1/apps/{a}/secrets` → `{"names": [...], "updated_at": {…}}`.
//! - `fly.app.<a>.machines` ← `GET /v1/apps/{a}/machines` → `{image, count, regions, guest,
//!   env}`; absent when the app has no machine.
//!
//! Actions: `fly.app.create`, `fly.secrets.set`, `fly.machines.update` (also accepted as
//! `fly.machines.create` / `fly.machines.scale`), `fly.health.check`. Read-only operations:
//! `health`, `machines`, `logs`, `viewer`, `app-org` (also `org`).
//!
//! Image tags resolve through Fly's registry (`FLY_REGISTRY_URL`, default
//! `https://registry.fly.io`; `registry`): `HEAD /v2/<repository>/manifests/<tag>` →
//! `Docker-Content-Digest`, read with every refresh so `plan` pins each image by digest.
//!
//! The app's public URL (for health checks) is `FLY_APP_URL_TEMPLATE`, default
//! `https://{app}.fly.dev`, with the app name (checked as a Fly name) as the whole host label
//! or path segment that `{app}` marks, built by the URL parser (`url`).
//!
//! The files of this folder, by concern:
//! - this file: configuration, the request plumbing, refresh, and the action dispatch;
//! - `spec`: the pure part — desired machines from an action's params, the normalized
//!   machines object, which machines to keep, create and destroy (no I/O, unit-tested);
//! - `machines`: one machine at a time (create, update, destroy, wait) and health checks;
//! - `apps`: the app-level actions (create the app, set its secrets);
//! - `deploy`: the deploy strategies (rolling, immediate, canary, blue-green) and rollback;
//! - `op`: the read-only operations of the front door;
//! - `registry`: image tags resolved to digests (OCI distribution API);
//! - `url`: the app's public URLs (pure, unit-tested).

use std::collections::BTreeMap;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, Url};
use serde_json::{Value, json};

use super::http::{self, Http, Req};
use super::{ActionOutcome, Credentials, ProviderError, SecretSource};
use crate::core::address::Address;
use crate::core::plan::Action;

mod apps;
mod deploy;
mod ips;
mod leases;
mod live;
mod machines;
mod op;
mod registry;
mod retire;
mod spec;
mod url;
mod volumes;

pub use registry::{DEFAULT_REGISTRY_URL, UNRESOLVED};
use spec::HealthSpec;
pub use spec::normalize_machines;
pub use url::printable;

const PROVIDER: &str = "fly";

/// The variable holding the app URL template (`{app}` marks a host label or path segment).
pub const APP_URL_TEMPLATE_VAR: &str = "FLY_APP_URL_TEMPLATE";
/// Fly's public hostname of every app.
pub const DEFAULT_APP_URL_TEMPLATE: &str = "https://{app}.fly.dev";
/// flyctl's default Machines API endpoint.
pub const DEFAULT_FLAPS_BASE_URL: &str = "https://api.machines.dev";
/// flyctl's default GraphQL/REST platform endpoint.
pub const DEFAULT_API_BASE_URL: &str = "https://api.fly.io";

/// The Fly provider.
#[derive(Debug, Clone)]
pub struct FlyProvider {
    http: Http,
    flaps: Url,
    api: Url,
    app_url_template: String,
    auth: AuthHeader,
    /// Fly's registry (`FLY_REGISTRY_URL`), where `plan` resolves image tags (boxed: the
    /// provider enum's variants stay close in size).
    registry: Box<registry::Registry>,
    /// Leases held during a deploy (see [`leases`]).
    leases: leases::Held,
}

/// The `Authorization` header value; `Debug` never prints it.
#[derive(Clone)]
struct AuthHeader(HeaderValue);

impl std::fmt::Debug for AuthHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthHeader(..)")
    }
}

/// `FlyV1 <token>` for macaroon tokens (`fm1r_`, `fm1a_`, `fm2_`), else `Bearer <token>`, as
/// flyctl sends them.
pub fn authorization(token: &str) -> String {
    let token = token.trim();
    if ["fm1r_", "fm1a_", "fm2_"]
        .iter()
        .any(|p| token.starts_with(p))
    {
        format!("FlyV1 {token}")
    } else {
        format!("Bearer {token}")
    }
}

impl FlyProvider {
    /// Configure from `creds`: `FLY_API_TOKEN` is required.
    pub fn new(creds: &Credentials, http: Http) -> Result<FlyProvider, ProviderError> {
        let token = creds
            .get("FLY_API_TOKEN")
            .ok_or_else(|| ProviderError::not_configured(PROVIDER, &["FLY_API_TOKEN"]))?;
        let invalid =
            |e: anyhow::Error| ProviderError::new(PROVIDER, "invalid-input", e.to_string());
        let flaps = http::parse_base(
            "FLY_FLAPS_BASE_URL",
            creds
                .get("FLY_FLAPS_BASE_URL")
                .unwrap_or(DEFAULT_FLAPS_BASE_URL),
        )
        .map_err(invalid)?;
        let api = http::parse_base(
            "FLY_API_BASE_URL",
            creds
                .get("FLY_API_BASE_URL")
                .unwrap_or(DEFAULT_API_BASE_URL),
        )
        .map_err(invalid)?;
        let mut auth = HeaderValue::from_str(&authorization(token)).map_err(|_| {
            ProviderError::new(
                PROVIDER,
                "invalid-input",
                "`FLY_API_TOKEN` holds characters not allowed in an HTTP header",
            )
        })?;
        auth.set_sensitive(true);
        let registry = http::parse_base(
            "FLY_REGISTRY_URL",
            creds
                .get("FLY_REGISTRY_URL")
                .unwrap_or(registry::DEFAULT_REGISTRY_URL),
        )
        .map_err(invalid)?;
        let mut registry_auth = HeaderValue::from_str(&registry::basic_auth(token))
            .expect("base64 is a valid header value");
        registry_auth.set_sensitive(true);
        Ok(FlyProvider {
            http,
            flaps,
            api,
            app_url_template: creds
                .get(APP_URL_TEMPLATE_VAR)
                .unwrap_or(DEFAULT_APP_URL_TEMPLATE)
                .to_string(),
            auth: AuthHeader(auth),
            registry: Box::new(registry::Registry {
                url: registry,
                auth: AuthHeader(registry_auth),
            }),
            leases: leases::Held::default(),
        })
    }

    // ───────────────────────── requests ─────────────────────────

    fn machines_api(&self, method: Method, segments: &[&str]) -> Req {
        let mut all = vec!["v1"];
        all.extend_from_slice(segments);
        Req::new(method, http::url(&self.flaps, &all)).header(AUTHORIZATION, self.auth.0.clone())
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

    /// `GET …` returning `None` on 404.
    async fn get_opt(&self, segments: &[&str]) -> Result<Option<Value>, ProviderError> {
        let resp = self.send(self.machines_api(Method::GET, segments)).await?;
        if resp.status.as_u16() == 404 {
            return Ok(None);
        }
        let resp = resp.ok().map_err(|e| ProviderError::http(PROVIDER, e))?;
        resp.json()
            .map(Some)
            .map_err(|e| ProviderError::http(PROVIDER, e))
    }

    async fn app(&self, app: &str) -> Result<Option<Value>, ProviderError> {
        self.get_opt(&["apps", app]).await
    }

    /// The app's machines that are not being destroyed, sorted by id.
    async fn machines(&self, app: &str) -> Result<Option<Vec<Value>>, ProviderError> {
        let Some(list) = self.get_opt(&["apps", app, "machines"]).await? else {
            return Ok(None);
        };
        let mut machines: Vec<Value> = list
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(live::is_app_machine)
            .collect();
        machines.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        Ok(Some(machines))
    }

    /// `{"names": [...], "updated_at": {name: time}}` of the app's secrets.
    async fn secrets_object(&self, app: &str) -> Result<Option<Value>, ProviderError> {
        let Some(body) = self.get_opt(&["apps", app, "secrets"]).await? else {
            return Ok(None);
        };
        let listed = body.get("secrets").and_then(Value::as_array);
        let mut names: Vec<String> = listed
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        let updated: BTreeMap<&str, &Value> = listed
            .into_iter()
            .flatten()
            .filter_map(|s| Some((s.get("name")?.as_str()?, s.get("updated_at")?)))
            .collect();
        let mut out = json!({ "names": names });
        if !updated.is_empty() {
            out["updated_at"] = json!(updated);
        }
        Ok(Some(out))
    }

    /// The names of every app of organization `org` (`GET /v1/apps?org_slug=…`), sorted:
    /// what `sophia import --provider fly` adopts and the unmanaged report lists.
    pub async fn app_names(&self, org: &str) -> Result<Vec<String>, ProviderError> {
        let mut req = self.machines_api(Method::GET, &["apps"]);
        req.url.query_pairs_mut().append_pair("org_slug", org);
        let body = self.send_ok(req).await?;
        let mut names: Vec<String> = body
            .get("apps")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }

    /// The process groups of an app's machines, sorted (empty when it has none).
    pub async fn process_groups(&self, app: &str) -> Result<Vec<String>, ProviderError> {
        let groups: std::collections::BTreeSet<String> = self
            .machines(app)
            .await?
            .unwrap_or_default()
            .iter()
            .map(|m| live::group_of(m).to_string())
            .collect();
        Ok(groups.into_iter().collect())
    }

    // ───────────────────────── refresh ─────────────────────────

    /// Read the normalized object of each Fly address (see the module docs).
    pub async fn refresh(
        &self,
        addresses: &[Address],
    ) -> Result<BTreeMap<Address, Value>, ProviderError> {
        super::refresh_each(&self.http, addresses, |a| self.read(a)).await
    }

    async fn read(&self, address: &Address) -> Result<Option<Value>, ProviderError> {
        match address {
            Address::FlyApp { app } => Ok(self.app(app).await?.map(|a| {
                json!({ "org": a.pointer("/organization/slug").cloned().unwrap_or(Value::Null) })
            })),
            Address::FlySecrets { app } => self.secrets_object(app).await,
            Address::FlyMachines { app } => Ok(self
                .machines(app)
                .await?
                .and_then(|m| normalize_machines(&m))),
            Address::FlyIps { app } => self.ips(app).await,
            Address::FlyVolume { app, name } => self.read_volume(app, name).await,
            Address::FlyProcess { app, group } => Ok(self.machines(app).await?.and_then(|m| {
                let mine: Vec<Value> = m.into_iter().filter(|m| live::in_group(m, group)).collect();
                normalize_machines(&mine)
            })),
            other => Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("`{other}` is not a Fly resource"),
            )),
        }
    }

    // ───────────────────────── actions ─────────────────────────

    /// Execute one plan action (see the module docs for the kinds).
    pub async fn execute(&self, action: &Action, secrets: &dyn SecretSource) -> ActionOutcome {
        let result = match (action.kind.as_str(), &action.address) {
            ("fly.app.create", Address::FlyApp { app }) => self.create_app(app, action).await,
            ("fly.ips.allocate", Address::FlyIps { app }) => self.allocate_ips(app).await,
            ("fly.app.delete", Address::FlyApp { app }) => self.delete_app(app).await,
            ("fly.process.delete", Address::FlyProcess { app, group }) => {
                self.delete_process(app, group).await
            }
            ("fly.secrets.unset", Address::FlySecrets { app }) => {
                self.set_secrets(app, action, secrets).await
            }
            ("fly.volumes.create", Address::FlyVolume { app, .. }) => {
                self.create_volumes(app, &action.params).await
            }
            ("fly.secrets.set", Address::FlySecrets { app }) => {
                self.set_secrets(app, action, secrets).await
            }
            (
                "fly.machines.update" | "fly.machines.create" | "fly.machines.scale",
                Address::FlyMachines { app },
            ) => return self.reconcile_machines(app, None, &action.params).await,
            (
                "fly.machines.update" | "fly.machines.create" | "fly.machines.scale",
                Address::FlyProcess { app, group },
            ) => {
                return self
                    .reconcile_machines(app, Some(group), &action.params)
                    .await;
            }
            (
                "fly.health.check",
                Address::FlyApp { app }
                | Address::FlyMachines { app }
                | Address::FlyProcess { app, .. },
            ) => self
                .health_check(app, &HealthSpec::from_params(&action.params))
                .await
                .map(|r| ActionOutcome::success(format!("{app} is healthy"), vec![r])),
            (kind, address) => Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("the Fly provider cannot run `{kind}` on `{address}`"),
            )),
        };
        result.unwrap_or_else(ActionOutcome::failure)
    }

    /// The app's public URL; an app name that is not a Fly name is refused (see [`url`]).
    pub fn app_url(&self, app: &str) -> Result<Url, ProviderError> {
        url::app_url(&self.app_url_template, app)
            .map_err(|e| ProviderError::new(PROVIDER, "invalid-input", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_use_flyv1_for_macaroons_and_bearer_otherwise() {
        assert_eq!(authorization("fm2_abc"), "FlyV1 fm2_abc");
        assert_eq!(authorization("fm1r_abc"), "FlyV1 fm1r_abc");
        assert_eq!(authorization("fm1a_abc"), "FlyV1 fm1a_abc");
        assert_eq!(authorization("abc"), "Bearer abc");
    }

    #[test]
    fn missing_token_is_not_configured() {
        let e = FlyProvider::new(&Credentials::default(), Http::default()).unwrap_err();
        assert_eq!(e.code, "not-configured");
        assert!(e.message.contains("FLY_API_TOKEN"));
    }
}
