//! The read-only operations of the front door (`sophia op fly …`): `health`, `machines`,
//! `logs`, `viewer`, `app-org`, and the GraphQL call behind the last two.

use reqwest::Method;
use reqwest::header::AUTHORIZATION;
use serde_json::{Value, json};

use super::spec::HealthSpec;
use super::{FlyProvider, PROVIDER};
use crate::providers::ProviderError;
use crate::providers::http::{self, Req, Retry};

/// Log lines returned by the `logs` operation: a screenful of recent context.
const LOG_LINES: usize = 100;

impl FlyProvider {
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
    pub(super) async fn graphql(
        &self,
        query: &str,
        variables: Value,
    ) -> Result<Value, ProviderError> {
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
