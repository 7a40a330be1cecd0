//! The app-level actions: create the app in its organization, and set or unset its secrets
//! (redeploying its machines when the plan asks, so they read the new values).

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::spec::MachineSpec;
use super::{FlyProvider, PROVIDER};
use crate::core::plan::Action;
use crate::providers::http::{HttpError, Retry};
use crate::providers::{ActionOutcome, ProviderError, SecretSource, param_names, param_str};

impl FlyProvider {
    /// Create the app in the organization. Idempotent: the app is looked up first, and a
    /// create that failed in transit is checked again before it is retried, so a retry never
    /// creates twice (and an app that already exists in the right org is a success).
    pub(super) async fn create_app(
        &self,
        app: &str,
        action: &Action,
    ) -> Result<ActionOutcome, ProviderError> {
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
    pub(super) async fn set_secrets(
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
}
