//! Fly.io: the Machines API (`FLY_FLAPS_BASE_URL`, default `https://api.machines.dev`, paths
//! under `/v1`) and the GraphQL API (`FLY_API_BASE_URL`, default `https://api.fly.io`,
//! `/graphql`; logs at `/api/v1/apps/{app}/logs`).
//!
//! Refresh reads (GET only):
//! - `fly.app.<a>` ← `GET /v1/apps/{a}` → `{"org": slug}`; 404 → absent.
//! - `fly.app.<a>.secrets` ← `GET /v1/apps/{a}/secrets` → `{"names": [...]}` sorted.
//! - `fly.app.<a>.machines` ← `GET /v1/apps/{a}/machines` → `{image, count, regions, guest,
//!   env}`; absent when the app has no machine.
//!
//! Actions: `fly.app.create`, `fly.secrets.set`, `fly.machines.update` (also accepted as
//! `fly.machines.create` / `fly.machines.scale`), `fly.health.check`. Read-only operations:
//! `health`, `machines`, `logs`, `viewer`, `app-org` (also `org`).
//!
//! The app's public URL (for health checks) is `FLY_APP_URL_TEMPLATE` with `{app}` replaced,
//! default `https://{app}.fly.dev`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, Url};
use serde_json::{Map, Value, json};

use super::http::{self, Http, HttpError, Req, Retry};
use super::{ActionOutcome, Credentials, ProviderError, SecretSource, param_names, param_str};
use crate::core::address::Address;
use crate::core::plan::Action;

const PROVIDER: &str = "fly";

/// The variable holding the app URL template (`{app}` is replaced).
pub const APP_URL_TEMPLATE_VAR: &str = "FLY_APP_URL_TEMPLATE";
/// Fly's public hostname of every app.
pub const DEFAULT_APP_URL_TEMPLATE: &str = "https://{app}.fly.dev";
/// flyctl's default Machines API endpoint.
pub const DEFAULT_FLAPS_BASE_URL: &str = "https://api.machines.dev";
/// flyctl's default GraphQL/REST platform endpoint.
pub const DEFAULT_API_BASE_URL: &str = "https://api.fly.io";

/// Seconds the Machines API is asked to wait for a machine to reach `started`. flyctl waits
/// up to a minute per machine; 30 s keeps a stuck machine from stalling a rollout while
/// covering a normal start (a few seconds).
const WAIT_STARTED_SECS: u64 = 30;

/// Health-check attempts after a batch: a freshly started app may need a few seconds before
/// it answers; 5 attempts spaced by the retry policy's backoff (≈ 0.5–8 s) cover that
/// without hiding a broken image for long.
const HEALTH_ATTEMPTS: u32 = 5;

/// Log lines returned by the `logs` operation: a screenful of recent context.
const LOG_LINES: usize = 100;

/// The Fly provider.
#[derive(Debug, Clone)]
pub struct FlyProvider {
    http: Http,
    flaps: Url,
    api: Url,
    app_url_template: String,
    auth: AuthHeader,
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
        Ok(FlyProvider {
            http,
            flaps,
            api,
            app_url_template: creds
                .get(APP_URL_TEMPLATE_VAR)
                .unwrap_or(DEFAULT_APP_URL_TEMPLATE)
                .to_string(),
            auth: AuthHeader(auth),
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
            .filter(|m| {
                !matches!(
                    m.get("state").and_then(Value::as_str),
                    Some("destroying" | "destroyed")
                )
            })
            .collect();
        machines.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        Ok(Some(machines))
    }

    async fn secret_names(&self, app: &str) -> Result<Option<Vec<String>>, ProviderError> {
        let Some(body) = self.get_opt(&["apps", app, "secrets"]).await? else {
            return Ok(None);
        };
        let mut names: Vec<String> = body
            .get("secrets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        Ok(Some(names))
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
            Address::FlySecrets { app } => Ok(self
                .secret_names(app)
                .await?
                .map(|names| json!({ "names": names }))),
            Address::FlyMachines { app } => Ok(self
                .machines(app)
                .await?
                .and_then(|m| normalize_machines(&m))),
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
            ("fly.secrets.set", Address::FlySecrets { app }) => {
                self.set_secrets(app, action, secrets).await
            }
            (
                "fly.machines.update" | "fly.machines.create" | "fly.machines.scale",
                Address::FlyMachines { app },
            ) => return self.reconcile_machines(app, &action.params).await,
            ("fly.health.check", Address::FlyApp { app } | Address::FlyMachines { app }) => self
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

    /// Create the app in the organization. Idempotent: the app is looked up first, and a
    /// create that failed in transit is checked again before it is retried, so a retry never
    /// creates twice (and an app that already exists in the right org is a success).
    async fn create_app(&self, app: &str, action: &Action) -> Result<ActionOutcome, ProviderError> {
        let org = param_str(action, "org").unwrap_or("personal");
        let attempts = self.http.policy().max_attempts.max(1);
        let mut last_err = None;
        for attempt in 1..=attempts {
            if let Some(existing) = self.app(app).await? {
                let have = existing
                    .pointer("/organization/slug")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if have != org && org != "personal" {
                    return Err(ProviderError::new(
                        PROVIDER,
                        "conflict",
                        format!("app `{app}` exists in organization `{have}`, not `{org}`"),
                    ));
                }
                let text = if attempt == 1 {
                    format!("app `{app}` already exists in `{have}`")
                } else {
                    format!("created app `{app}` in `{org}`")
                };
                return Ok(ActionOutcome::success(
                    text,
                    vec![json!({"app": app, "org": have})],
                ));
            }
            let req = self
                .machines_api(Method::POST, &["apps"])
                .json(json!({ "app_name": app, "org_slug": org }))
                .retry(Retry::Never);
            match self.http.send(req).await {
                Ok(resp) if resp.is_success() => {
                    return Ok(ActionOutcome::success(
                        format!("created app `{app}` in `{org}`"),
                        vec![json!({"app": app, "org": org})],
                    ));
                }
                Ok(resp) if resp.status.is_client_error() => {
                    return Err(ProviderError::http(PROVIDER, resp.into_error()));
                }
                Ok(resp) => last_err = Some(resp.into_error()),
                Err(e) => last_err = Some(e),
            }
            tokio::time::sleep(self.http.policy().backoff(attempt)).await;
        }
        Err(ProviderError::http(
            PROVIDER,
            last_err.unwrap_or(HttpError::RetriesExhausted {
                what: "POST /v1/apps".into(),
                attempts,
                last: "no answer".into(),
            }),
        ))
    }

    /// Set app secrets: values read from `secrets` now, sent once in `{"values": {…}}`;
    /// `unset` names are sent as `null` (removal). Only names are recorded. Idempotent:
    /// setting the same values again changes nothing but the version.
    async fn set_secrets(
        &self,
        app: &str,
        action: &Action,
        secrets: &dyn SecretSource,
    ) -> Result<ActionOutcome, ProviderError> {
        let set = param_names(action, &["names", "set"]);
        let unset = param_names(action, &["unset", "remove"]);
        let missing: Vec<&str> = set
            .iter()
            .filter(|n| secrets.value(n).is_none())
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(ProviderError::new(
                PROVIDER,
                "not-configured",
                format!(
                    "secret value(s) not set in the environment: {}",
                    missing.join(", ")
                ),
            ));
        }
        let mut values = Map::new();
        for name in &set {
            values.insert(
                name.clone(),
                Value::String(secrets.value(name).unwrap_or_default()),
            );
        }
        for name in &unset {
            values.insert(name.clone(), Value::Null);
        }
        // A secrets POST replaces the named values: repeating it is harmless.
        let req = self
            .machines_api(Method::POST, &["apps", app, "secrets"])
            .json(json!({ "values": values }))
            .retry(Retry::Idempotent);
        let body = self.send_ok(req).await?;
        drop(values);
        let mut results = vec![json!({
            "app": app,
            "set": set,
            "unset": unset,
            "version": body.get("version").cloned().unwrap_or(Value::Null),
        })];
        let text = format!(
            "set {} secret(s) and removed {} on `{app}`",
            set.len(),
            unset.len()
        );
        // A machine sees the secrets it was last created or updated with: when the plan does
        // not update this app's machines anyway, they are updated in place (same config, the
        // app's strategy and health check) so the new values reach them.
        if action.params.get("restart_machines") != Some(&Value::Bool(true)) {
            return Ok(ActionOutcome::success(text, results));
        }
        let spec = MachineSpec::from_params(&action.params)?;
        let machines = self.machines(app).await?.unwrap_or_default();
        let running: Vec<&Value> = machines
            .iter()
            .filter(|m| m["state"] != "destroyed")
            .collect();
        if running.is_empty() {
            return Ok(ActionOutcome::success(text, results));
        }
        let mut rollout = self.rollout(app, &running, &spec).await?;
        let ok = rollout.is_success();
        results.append(&mut rollout.results);
        if !ok {
            return Ok(ActionOutcome { results, ..rollout });
        }
        Ok(ActionOutcome::success(
            format!(
                "{text}; redeployed {} machine(s) so they read them",
                running.len()
            ),
            results,
        ))
    }

    /// Bring the app's machines to the desired image, guest, env, count and regions.
    ///
    /// Params (all optional; what is absent stays as it is): `image`, `count`, `regions`,
    /// `guest`, `env`, `strategy` (`rolling` default: batches of `max_unavailable`, each
    /// started and health-checked, every updated machine rolled back on a failure;
    /// `immediate`: all at once, no check; `canary`: one extra machine with the new config
    /// first, checked and destroyed, then rolling; `bluegreen`: a new machine beside each old
    /// one, and the old ones destroyed once the new ones are healthy), `max_unavailable` (default 1),
    /// `health` (`{path, expect_status}`, default `/healthz` → 200).
    ///
    /// Order: update existing machines (rolling: batch by batch, each waited to `started`
    /// and health-checked, every updated machine rolled back to its previous config when a
    /// check fails), then create missing machines, then destroy surplus ones. Running it
    /// again reads the machines afresh and does only what is left: idempotent.
    pub async fn reconcile_machines(&self, app: &str, params: &Value) -> ActionOutcome {
        match self.reconcile_inner(app, params).await {
            Ok(o) => o,
            Err(e) => ActionOutcome::failure(e),
        }
    }

    async fn reconcile_inner(
        &self,
        app: &str,
        params: &Value,
    ) -> Result<ActionOutcome, ProviderError> {
        let spec = MachineSpec::from_params(params)?;
        let machines = self.machines(app).await?.ok_or_else(|| {
            ProviderError::new(
                PROVIDER,
                "http-error",
                format!("app `{app}` does not exist"),
            )
        })?;
        let layout = layout(&machines, &spec);
        let mut results = Vec::new();

        // 1. Update the machines we keep, per the strategy.
        let to_update: Vec<&Value> = layout
            .keep
            .iter()
            .filter(|m| spec.apply(&m["config"]) != m["config"])
            .copied()
            .collect();
        if !to_update.is_empty() {
            let outcome = self.rollout(app, &to_update, &spec).await?;
            let failed = !outcome.is_success();
            results.extend(outcome.results.clone());
            if failed {
                return Ok(ActionOutcome { results, ..outcome });
            }
        }

        // 2. Create missing machines (a POST that creates is never retried blindly: the
        //    next run re-lists and creates only what is still missing).
        let template = layout
            .keep
            .first()
            .map(|m| spec.apply(&m["config"]))
            .or_else(|| machines.first().map(|m| spec.apply(&m["config"])))
            .unwrap_or_else(|| spec.apply(&json!({})));
        if layout
            .create
            .iter()
            .any(|_| template.get("image").is_none())
        {
            return Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("cannot create machines for `{app}` without an `image`"),
            ));
        }
        for region in &layout.create {
            let id = self.create_machine(app, &template, region).await?;
            if spec.wait {
                self.wait_started(app, &id).await?;
            }
            results.push(json!({"machine": id, "region": region, "action": "created"}));
        }

        // 3. Destroy surplus machines.
        for m in &layout.destroy {
            let id = m["id"].as_str().unwrap_or_default();
            self.destroy_machine(app, id).await?;
            results.push(json!({"machine": id, "region": m["region"], "action": "destroyed"}));
        }

        Ok(ActionOutcome::success(
            format!(
                "machines of `{app}`: {} updated ({}), {} created, {} destroyed",
                to_update.len(),
                spec.strategy,
                layout.create.len(),
                layout.destroy.len()
            ),
            results,
        ))
    }

    /// Update `machines` per the strategy; on a failed check, roll back every machine
    /// updated so far and report the failure.
    async fn rollout(
        &self,
        app: &str,
        machines: &[&Value],
        spec: &MachineSpec,
    ) -> Result<ActionOutcome, ProviderError> {
        let mut results = Vec::new();
        if spec.strategy == "immediate" {
            for m in machines {
                let id = self
                    .update_machine(app, m, &spec.apply(&m["config"]))
                    .await?;
                results.push(json!({"machine": id, "action": "updated", "image": spec.image}));
            }
            return Ok(ActionOutcome::success(
                "updated at once (immediate)",
                results,
            ));
        }
        if spec.strategy == "bluegreen" {
            return self.blue_green(app, machines, spec).await;
        }
        if spec.strategy == "canary" {
            match self.canary(app, machines[0], spec).await? {
                Ok(canary) => results = canary,
                Err(failed) => return Ok(failed),
            }
        }
        // Rolling, or the rest of a canary deploy once its canary passed.
        let batch = spec.max_unavailable.max(1);
        let mut updated: Vec<&Value> = Vec::new();
        for chunk in machines.chunks(batch) {
            for m in chunk {
                let id = self
                    .update_machine(app, m, &spec.apply(&m["config"]))
                    .await?;
                updated.push(m);
                results.push(json!({"machine": id, "action": "updated", "image": spec.image}));
            }
            let ids = chunk.iter().map(|m| m["id"].as_str().unwrap_or_default());
            if let Err(err) = self.started_and_healthy(app, ids, &spec.health).await {
                let mut errors = vec![deploy_failed(format!(
                    "rolling deploy of `{app}` to `{}` failed: {}; rolled back {} machine(s) to the previous image",
                    spec.image_label(),
                    err.message,
                    updated.len()
                ))];
                for m in updated.iter().rev() {
                    let id = m["id"].as_str().unwrap_or_default();
                    match self.update_machine(app, m, &m["config"]).await {
                        Ok(_) => {
                            let _ = self.wait_started(app, id).await;
                            results.push(json!({
                                "machine": id,
                                "action": "rolled-back",
                                "image": m.pointer("/config/image"),
                            }));
                        }
                        Err(e) => errors.push(rollback_failed(format!(
                            "rolling back machine `{id}` failed: {}",
                            e.message
                        ))),
                    }
                }
                return Ok(ActionOutcome::failed(errors, results));
            }
        }
        Ok(ActionOutcome::success(
            format!("rolled out in batches of {batch}"),
            results,
        ))
    }

    /// Canary: one extra machine with the new config, next to `like`; started and checked,
    /// then destroyed either way. `Ok(records)` when it passed and the rolling update may go
    /// on; `Err(failure)` when it failed — no existing machine was touched.
    async fn canary(
        &self,
        app: &str,
        like: &Value,
        spec: &MachineSpec,
    ) -> Result<Result<Vec<Value>, ActionOutcome>, ProviderError> {
        let region = like["region"].as_str().unwrap_or("ord");
        let id = self
            .create_machine(app, &spec.apply(&like["config"]), region)
            .await?;
        let checked = self
            .started_and_healthy(app, std::iter::once(id.as_str()), &spec.health)
            .await;
        // The canary goes whatever it showed; a failed destroy is reported, not hidden.
        let destroyed = self.destroy_machine(app, &id).await;
        let mut results = vec![
            json!({"machine": id, "region": region, "action": "canary-created", "image": spec.image}),
        ];
        if destroyed.is_ok() {
            results.push(json!({"machine": id, "action": "canary-destroyed"}));
        }
        match (checked, destroyed) {
            (Ok(_), Ok(())) => Ok(Ok(results)),
            (Ok(_), Err(e)) => Err(e),
            (Err(err), destroyed) => {
                let mut errors = vec![deploy_failed(format!(
                    "canary of `{app}` on `{}` failed: {}; no existing machine was changed",
                    spec.image_label(),
                    err.message
                ))];
                if let Err(e) = destroyed {
                    errors.push(rollback_failed(format!(
                        "destroying the canary `{id}` failed: {}",
                        e.message
                    )));
                }
                Ok(Err(ActionOutcome::failed(errors, results)))
            }
        }
    }

    /// Blue-green: a new ("green") machine with the new config beside each old ("blue") one;
    /// once every green one has started and the app passes its health check, the blue ones
    /// are destroyed. If anything fails, the green ones are destroyed and the blue ones,
    /// never touched, keep serving.
    async fn blue_green(
        &self,
        app: &str,
        blue: &[&Value],
        spec: &MachineSpec,
    ) -> Result<ActionOutcome, ProviderError> {
        let mut results = Vec::new();
        let mut green: Vec<String> = Vec::new();
        let mut failure = None;
        for m in blue {
            let region = m["region"].as_str().unwrap_or("ord");
            match self
                .create_machine(app, &spec.apply(&m["config"]), region)
                .await
            {
                Ok(id) => {
                    results.push(json!({"machine": id, "region": region, "action": "green-created", "image": spec.image}));
                    green.push(id);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if failure.is_none()
            && let Err(e) = self
                .started_and_healthy(app, green.iter().map(String::as_str), &spec.health)
                .await
        {
            failure = Some(e);
        }
        if let Some(err) = failure {
            let mut errors = vec![deploy_failed(format!(
                "blue-green deploy of `{app}` to `{}` failed: {}; destroyed {} new machine(s), the previous ones were not touched",
                spec.image_label(),
                err.message,
                green.len()
            ))];
            for id in &green {
                match self.destroy_machine(app, id).await {
                    Ok(()) => results.push(json!({"machine": id, "action": "green-destroyed"})),
                    Err(e) => errors.push(rollback_failed(format!(
                        "destroying the new machine `{id}` failed: {}",
                        e.message
                    ))),
                }
            }
            return Ok(ActionOutcome::failed(errors, results));
        }
        for m in blue {
            let id = m["id"].as_str().unwrap_or_default();
            self.destroy_machine(app, id).await?;
            results.push(json!({"machine": id, "action": "blue-destroyed"}));
        }
        Ok(ActionOutcome::success(
            format!(
                "blue-green: {} new machine(s) healthy, the previous ones destroyed",
                green.len()
            ),
            results,
        ))
    }

    /// Wait until each machine has started, then check the app's health.
    async fn started_and_healthy<'i>(
        &self,
        app: &str,
        ids: impl Iterator<Item = &'i str>,
        health: &HealthSpec,
    ) -> Result<(), ProviderError> {
        for id in ids {
            self.wait_started(app, id).await?;
        }
        self.health_check(app, health).await.map(|_| ())
    }

    /// Create one machine. A creating POST is never retried blindly: the next run re-lists
    /// and creates only what is still missing.
    async fn create_machine(
        &self,
        app: &str,
        config: &Value,
        region: &str,
    ) -> Result<String, ProviderError> {
        let req = self
            .machines_api(Method::POST, &["apps", app, "machines"])
            .json(json!({ "config": config, "region": region }))
            .retry(Retry::Never);
        let m = self.send_ok(req).await?;
        Ok(m["id"].as_str().unwrap_or_default().to_string())
    }

    /// Destroy one machine; one already gone counts as done (a retried destroy is idempotent).
    async fn destroy_machine(&self, app: &str, id: &str) -> Result<(), ProviderError> {
        let mut req = self.machines_api(Method::DELETE, &["apps", app, "machines", id]);
        req.url.set_query(Some("force=true"));
        let resp = self.send(req).await?;
        if resp.status.as_u16() != 404 {
            resp.ok().map_err(|e| ProviderError::http(PROVIDER, e))?;
        }
        Ok(())
    }

    /// Replace one machine's config (same region). Idempotent: it sets a whole config.
    async fn update_machine(
        &self,
        app: &str,
        machine: &Value,
        config: &Value,
    ) -> Result<String, ProviderError> {
        let id = machine["id"].as_str().unwrap_or_default().to_string();
        let mut body = json!({ "config": config });
        if let Some(region) = machine.get("region") {
            body["region"] = region.clone();
        }
        let req = self
            .machines_api(Method::POST, &["apps", app, "machines", &id])
            .json(body)
            .retry(Retry::Idempotent);
        self.send_ok(req).await?;
        Ok(id)
    }

    async fn wait_started(&self, app: &str, id: &str) -> Result<(), ProviderError> {
        let mut req = self
            .machines_api(Method::GET, &["apps", app, "machines", id, "wait"])
            .timeout(Duration::from_secs(WAIT_STARTED_SECS + 15));
        req.url
            .set_query(Some(&format!("state=started&timeout={WAIT_STARTED_SECS}")));
        self.send_ok(req).await.map(|_| ())
    }

    /// The app's public URL.
    pub fn app_url(&self, app: &str) -> String {
        self.app_url_template.replace("{app}", app)
    }

    /// `GET <app url><path>` until it answers the expected status, up to
    /// [`HEALTH_ATTEMPTS`] times.
    async fn health_check(&self, app: &str, health: &HealthSpec) -> Result<Value, ProviderError> {
        let base = http::parse_base(APP_URL_TEMPLATE_VAR, &self.app_url(app))
            .map_err(|e| ProviderError::new(PROVIDER, "invalid-input", e.to_string()))?;
        let mut url = base.clone();
        url.set_path(&format!(
            "{}/{}",
            base.path().trim_end_matches('/'),
            health.path.trim_start_matches('/')
        ));
        let mut last = String::new();
        for attempt in 1..=HEALTH_ATTEMPTS {
            // Retry::Never: this loop is the retry, and a 5xx is an answer to count.
            let req = Req::new(Method::GET, url.clone()).retry(Retry::Never);
            match self.http.send(req).await {
                Ok(resp) if resp.status.as_u16() == health.expect_status => {
                    return Ok(json!({
                        "app": app,
                        "path": health.path,
                        "status": resp.status.as_u16(),
                        "attempts": attempt,
                    }));
                }
                Ok(resp) => last = format!("HTTP {}", resp.status.as_u16()),
                Err(e) => last = e.to_string(),
            }
            if attempt < HEALTH_ATTEMPTS {
                tokio::time::sleep(self.http.policy().backoff(attempt)).await;
            }
        }
        Err(ProviderError::new(
            PROVIDER,
            "health-check-failed",
            format!(
                "health check GET {} of `{app}` expected HTTP {} and got {last} after {HEALTH_ATTEMPTS} attempts",
                health.path, health.expect_status
            ),
        ))
    }

    // ───────────────────────── read-only operations ─────────────────────────

    /// A read-only operation: `health`, `machines`, `logs`, `viewer`, `app-org`.
    /// Payload: `{"app": "…"}` (all but `viewer`), `{"path"}` for health.
    pub async fn op(
        &self,
        name: &str,
        payload: &Value,
    ) -> Result<(String, Vec<Value>), ProviderError> {
        let app = || {
            payload.get("app").and_then(Value::as_str).ok_or_else(|| {
                ProviderError::new(
                    PROVIDER,
                    "invalid-input",
                    format!("`fly {name}` needs `app` in its payload"),
                )
            })
        };
        match name {
            "health" => {
                let app = app()?;
                let r = self
                    .health_check(app, &HealthSpec::from_params(payload))
                    .await?;
                Ok((format!("{app} is healthy"), vec![r]))
            }
            "machines" => {
                let app = app()?;
                let machines = self.machines(app).await?.unwrap_or_default();
                let rows: Vec<Value> = machines
                    .iter()
                    .map(|m| {
                        json!({
                            "id": m["id"], "region": m["region"], "state": m["state"],
                            "image": m.pointer("/config/image"),
                        })
                    })
                    .collect();
                Ok((format!("{} machine(s) of {app}", rows.len()), rows))
            }
            "logs" => {
                let app = app()?;
                let mut req = Req::new(
                    Method::GET,
                    http::url(&self.api, &["api", "v1", "apps", app, "logs"]),
                )
                .header(AUTHORIZATION, self.auth.0.clone());
                req.url.set_query(None);
                let body = self.send_ok(req).await?;
                let mut lines: Vec<Value> = body
                    .get("data")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|l| l.get("attributes").cloned().unwrap_or_else(|| l.clone()))
                    .collect();
                if lines.len() > LOG_LINES {
                    lines.drain(..lines.len() - LOG_LINES);
                }
                Ok((
                    format!("{} recent log line(s) of {app}", lines.len()),
                    lines,
                ))
            }
            "viewer" => {
                let data = self
                    .graphql("query { viewer { id email } }", json!({}))
                    .await?;
                let viewer = data.get("viewer").cloned().unwrap_or(Value::Null);
                Ok(("the token's viewer".into(), vec![viewer]))
            }
            "app-org" | "org" | "app org" => {
                let app = app()?;
                let data = self
                    .graphql(
                        "query($name: String!) { app(name: $name) { name organization { slug name } } }",
                        json!({ "name": app }),
                    )
                    .await?;
                let a = data.get("app").cloned().unwrap_or(Value::Null);
                Ok((format!("organization of {app}"), vec![a]))
            }
            other => Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!(
                    "unknown Fly operation `{other}` (expected health, machines, logs, viewer, app-org)"
                ),
            )),
        }
    }

    /// A GraphQL query (a read: POSTed, but safe to retry). GraphQL errors become errors.
    async fn graphql(&self, query: &str, variables: Value) -> Result<Value, ProviderError> {
        let req = Req::new(Method::POST, http::url(&self.api, &["graphql"]))
            .header(AUTHORIZATION, self.auth.0.clone())
            .json(json!({ "query": query, "variables": variables }))
            .retry(Retry::Idempotent);
        let body = self.send_ok(req).await?;
        if let Some(errors) = body.get("errors").and_then(Value::as_array)
            && !errors.is_empty()
        {
            let msgs: Vec<&str> = errors
                .iter()
                .filter_map(|e| e.get("message").and_then(Value::as_str))
                .collect();
            return Err(ProviderError::new(
                PROVIDER,
                "http-error",
                format!("POST /graphql: {}", msgs.join("; ")),
            ));
        }
        Ok(body.get("data").cloned().unwrap_or(Value::Null))
    }
}

/// The normalized machines object: `{image, count, regions, guest, env}` — `image` a string
/// when all machines agree, else the sorted distinct images; regions sorted and unique;
/// guest and env of the first machine (by id). `None` when there is no machine.
pub fn normalize_machines(machines: &[Value]) -> Option<Value> {
    let first = machines.first()?;
    let images: BTreeSet<&str> = machines
        .iter()
        .filter_map(|m| m.pointer("/config/image").and_then(Value::as_str))
        .collect();
    let image = match images.len() {
        1 => json!(images.iter().next()),
        _ => json!(images),
    };
    let regions: BTreeSet<&str> = machines
        .iter()
        .filter_map(|m| m.get("region").and_then(Value::as_str))
        .collect();
    let guest = first
        .pointer("/config/guest")
        .map(|g| {
            json!({
                "cpu_kind": g.get("cpu_kind").cloned().unwrap_or(json!("shared")),
                "cpus": g.get("cpus").cloned().unwrap_or(json!(1)),
                "memory_mb": g.get("memory_mb").cloned().unwrap_or(json!(256)),
            })
        })
        .unwrap_or(Value::Null);
    let env: BTreeMap<String, Value> = first
        .pointer("/config/env")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Some(json!({
        "image": image,
        "count": machines.len(),
        "regions": regions,
        "guest": guest,
        "env": env,
    }))
}

/// What a health check expects.
#[derive(Debug, Clone)]
struct HealthSpec {
    path: String,
    expect_status: u16,
}

impl HealthSpec {
    fn from_params(params: &Value) -> HealthSpec {
        let h = params.get("health").unwrap_or(params);
        HealthSpec {
            path: h
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or("/healthz")
                .to_string(),
            expect_status: h
                .get("expect_status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(200),
        }
    }
}

/// The desired machines, from an action's params.
#[derive(Debug, Clone)]
struct MachineSpec {
    image: Option<String>,
    count: Option<usize>,
    regions: Option<Vec<String>>,
    guest: Option<Value>,
    env: Option<Value>,
    strategy: String,
    max_unavailable: usize,
    health: HealthSpec,
    /// Wait for created machines to start (off for `immediate`).
    wait: bool,
}

/// A deploy whose new machines did not start or pass the health check.
fn deploy_failed(message: String) -> ProviderError {
    ProviderError::new(PROVIDER, "health-check-failed", message)
}

/// Undoing a failed deploy failed too.
fn rollback_failed(message: String) -> ProviderError {
    ProviderError::new(PROVIDER, "rollback-failed", message)
}

impl MachineSpec {
    /// The image deployed, for messages.
    fn image_label(&self) -> &str {
        self.image.as_deref().unwrap_or("(unchanged image)")
    }

    fn from_params(p: &Value) -> Result<MachineSpec, ProviderError> {
        let strategy = p
            .get("strategy")
            .and_then(Value::as_str)
            .unwrap_or("rolling")
            .to_string();
        if !matches!(
            strategy.as_str(),
            "rolling" | "immediate" | "canary" | "bluegreen"
        ) {
            return Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("unknown deploy strategy `{strategy}`"),
            ));
        }
        Ok(MachineSpec {
            image: p.get("image").and_then(Value::as_str).map(str::to_string),
            count: p.get("count").and_then(Value::as_u64).map(|c| c as usize),
            regions: p.get("regions").and_then(Value::as_array).map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            }),
            guest: p.get("guest").filter(|g| g.is_object()).cloned(),
            env: p.get("env").filter(|g| g.is_object()).cloned(),
            wait: strategy != "immediate",
            max_unavailable: p
                .get("max_unavailable")
                .and_then(Value::as_u64)
                .map(|n| n as usize)
                .unwrap_or(1),
            health: HealthSpec::from_params(p),
            strategy,
        })
    }

    /// `config` with the managed fields replaced.
    fn apply(&self, config: &Value) -> Value {
        let mut c = match config {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        if let Some(image) = &self.image {
            c.insert("image".into(), json!(image));
        }
        if let Some(guest) = &self.guest {
            c.insert("guest".into(), guest.clone());
        }
        if let Some(env) = &self.env {
            c.insert("env".into(), env.clone());
        }
        Value::Object(c)
    }
}

/// Which machines to keep, which regions need new ones, which to destroy.
#[derive(Debug)]
struct Layout<'a> {
    keep: Vec<&'a Value>,
    create: Vec<String>,
    destroy: Vec<&'a Value>,
}

/// Keep machines in the desired regions up to `count`, balanced across regions; destroy the
/// rest; create the missing ones in the regions with the fewest machines.
fn layout<'a>(machines: &'a [Value], spec: &MachineSpec) -> Layout<'a> {
    let region_of = |m: &Value| m["region"].as_str().unwrap_or_default().to_string();
    let regions: Vec<String> = match &spec.regions {
        Some(r) if !r.is_empty() => r.clone(),
        _ => {
            let mut r: Vec<String> = machines.iter().map(region_of).collect();
            r.sort();
            r.dedup();
            r
        }
    };
    let count = spec.count.unwrap_or(machines.len());
    let mut per_region: BTreeMap<String, Vec<&Value>> =
        regions.iter().map(|r| (r.clone(), Vec::new())).collect();
    let mut destroy = Vec::new();
    for m in machines {
        match per_region.get_mut(&region_of(m)) {
            Some(list) => list.push(m),
            None => destroy.push(m),
        }
    }
    // Take machines round-robin across regions until `count` are kept.
    let mut keep = Vec::new();
    let mut index = 0;
    while keep.len() < count {
        let mut took = false;
        for list in per_region.values() {
            if keep.len() < count
                && let Some(m) = list.get(index)
            {
                keep.push(*m);
                took = true;
            }
        }
        if !took {
            break;
        }
        index += 1;
    }
    for list in per_region.values() {
        for m in list {
            if !keep.iter().any(|k| std::ptr::eq(*k, *m)) {
                destroy.push(m);
            }
        }
    }
    let mut counts: BTreeMap<String, usize> = regions.iter().map(|r| (r.clone(), 0)).collect();
    for m in &keep {
        *counts.entry(region_of(m)).or_default() += 1;
    }
    let mut create = Vec::new();
    while keep.len() + create.len() < count && !counts.is_empty() {
        let (region, n) = counts
            .iter_mut()
            .min_by(|a, b| (*a.1).cmp(&*b.1).then(a.0.cmp(b.0)))
            .expect("non-empty");
        *n += 1;
        create.push(region.clone());
    }
    Layout {
        keep,
        create,
        destroy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(id: &str, region: &str, image: &str) -> Value {
        json!({"id": id, "region": region, "state": "started",
               "config": {"image": image, "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 512}, "env": {"A": "1"}}})
    }

    #[test]
    fn tokens_use_flyv1_for_macaroons_and_bearer_otherwise() {
        assert_eq!(authorization("fm2_abc"), "FlyV1 fm2_abc");
        assert_eq!(authorization("fm1r_abc"), "FlyV1 fm1r_abc");
        assert_eq!(authorization("fm1a_abc"), "FlyV1 fm1a_abc");
        assert_eq!(authorization("abc"), "Bearer abc");
    }

    #[test]
    fn machines_normalize_to_the_live_table_shape() {
        let ms = vec![machine("a", "ord", "img:1"), machine("b", "ams", "img:1")];
        assert_eq!(
            normalize_machines(&ms).unwrap(),
            json!({"image": "img:1", "count": 2, "regions": ["ams", "ord"],
                   "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 512}, "env": {"A": "1"}})
        );
        let mixed = vec![machine("a", "ord", "img:2"), machine("b", "ord", "img:1")];
        assert_eq!(
            normalize_machines(&mixed).unwrap()["image"],
            json!(["img:1", "img:2"])
        );
        assert_eq!(normalize_machines(&[]), None);
    }

    #[test]
    fn layout_balances_regions_and_destroys_strays() {
        let ms = vec![
            machine("a", "ord", "i"),
            machine("b", "ord", "i"),
            machine("c", "ord", "i"),
            machine("d", "fra", "i"),
        ];
        let spec =
            MachineSpec::from_params(&json!({"count": 4, "regions": ["ord", "ams"]})).unwrap();
        let l = layout(&ms, &spec);
        let ids = |v: &[&Value]| {
            v.iter()
                .map(|m| m["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&l.keep), ["a", "b", "c"]);
        assert_eq!(l.create, ["ams"]);
        assert_eq!(ids(&l.destroy), ["d"]);

        let spec = MachineSpec::from_params(&json!({"count": 1})).unwrap();
        let l = layout(&ms, &spec);
        assert_eq!(l.keep.len(), 1);
        assert_eq!(l.destroy.len(), 3);
        assert!(l.create.is_empty());
    }

    #[test]
    fn unknown_strategies_are_refused() {
        assert!(MachineSpec::from_params(&json!({"strategy": "rolling-eyes"})).is_err());
    }

    #[test]
    fn missing_token_is_not_configured() {
        let e = FlyProvider::new(&Credentials::default(), Http::default()).unwrap_err();
        assert_eq!(e.code, "not-configured");
        assert!(e.message.contains("FLY_API_TOKEN"));
    }
}
