//! One machine at a time through the Machines API — create, update, destroy, wait until
//! started — and the app's health check through its public URL. Each call says what makes it
//! safe to run again.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::spec::HealthSpec;
use super::{FlyProvider, PROVIDER};
use crate::providers::ProviderError;
use crate::providers::http::{Req, Retry};

/// Seconds the Machines API is asked to wait for a machine to reach `started`. flyctl waits
/// up to a minute per machine; 30 s keeps a stuck machine from stalling a rollout while
/// covering a normal start (a few seconds).
const WAIT_STARTED_SECS: u64 = 30;

/// Health-check attempts after a batch: a freshly started app may need a few seconds before
/// it answers; 5 attempts spaced by the retry policy's backoff (≈ 0.5–8 s) cover that
/// without hiding a broken image for long.
const HEALTH_ATTEMPTS: u32 = 5;

impl FlyProvider {
    /// Wait until each machine has started, then check the app's health.
    pub(super) async fn started_and_healthy<'i>(
        &self,
        app: &str,
        ids: impl Iterator<Item = &'i str>,
        health: &HealthSpec,
    ) -> Result<(), ProviderError> {
        for id in ids {
            self.wait_started(app, id).await?;
            self.machine_checks_pass(app, id).await?;
        }
        self.health_check(app, health).await.map(|_| ())
    }

    /// Wait until every check of the machine (`GET` the machine: `checks[].status`) is
    /// `passing`, as flyctl waits for them; a `critical` check after the last attempt fails
    /// the machine, naming the check and its output. A machine without checks passes.
    pub(super) async fn machine_checks_pass(
        &self,
        app: &str,
        id: &str,
    ) -> Result<(), ProviderError> {
        let mut failing = Vec::new();
        for attempt in 1..=HEALTH_ATTEMPTS {
            let req = self.machines_api(Method::GET, &["apps", app, "machines", id]);
            let m = self.send_ok(req).await?;
            failing = m
                .get("checks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|c| c.get("status").and_then(Value::as_str) != Some("passing"))
                .map(|c| {
                    format!(
                        "`{}` is {} ({})",
                        c.get("name").and_then(Value::as_str).unwrap_or("?"),
                        c.get("status").and_then(Value::as_str).unwrap_or("unknown"),
                        c.get("output")
                            .and_then(Value::as_str)
                            .unwrap_or("no output")
                    )
                })
                .collect();
            if failing.is_empty() {
                return Ok(());
            }
            if attempt < HEALTH_ATTEMPTS {
                tokio::time::sleep(self.http.policy().backoff(attempt)).await;
            }
        }
        Err(ProviderError::new(
            PROVIDER,
            "health-check-failed",
            format!(
                "machine `{id}` of `{app}`: check {} after {HEALTH_ATTEMPTS} attempts",
                failing.join(", ")
            ),
        ))
    }

    /// Create one machine. A creating POST is never retried blindly: the next run re-lists
    /// and creates only what is still missing.
    pub(super) async fn create_machine(
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
    pub(super) async fn destroy_machine(&self, app: &str, id: &str) -> Result<(), ProviderError> {
        let mut req = self.with_lease(
            self.machines_api(Method::DELETE, &["apps", app, "machines", id]),
            id,
        );
        req.url.set_query(Some("force=true"));
        let resp = self.send(req).await?;
        if resp.status.as_u16() != 404 {
            resp.ok().map_err(|e| ProviderError::http(PROVIDER, e))?;
        }
        Ok(())
    }

    /// Replace one machine's config (same region). Idempotent: it sets a whole config.
    pub(super) async fn update_machine(
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
            .with_lease(
                self.machines_api(Method::POST, &["apps", app, "machines", &id]),
                &id,
            )
            .json(body)
            .retry(Retry::Idempotent);
        self.send_ok(req).await?;
        Ok(id)
    }

    pub(super) async fn wait_started(&self, app: &str, id: &str) -> Result<(), ProviderError> {
        let mut req = self
            .machines_api(Method::GET, &["apps", app, "machines", id, "wait"])
            .timeout(Duration::from_secs(WAIT_STARTED_SECS + 15));
        req.url
            .set_query(Some(&format!("state=started&timeout={WAIT_STARTED_SECS}")));
        self.send_ok(req).await.map(|_| ())
    }

    /// `GET <app url><path>` until it answers the expected status, up to
    /// [`HEALTH_ATTEMPTS`] times.
    pub(super) async fn health_check(
        &self,
        app: &str,
        health: &HealthSpec,
    ) -> Result<Value, ProviderError> {
        let url = super::url::health_url(&self.app_url(app)?, &health.path)
            .map_err(|e| ProviderError::new(PROVIDER, "invalid-input", e))?;
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
}
