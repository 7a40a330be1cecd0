//! The LLM router: Portkey as the gateway, with backup providers behind it.
//!
//! - `allowlist` (no network): the primary and the fallbacks of `desired/router`, and for
//!   each route the key it needs and whether that key is present — names only.
//! - `route-test`: one small real chat completion per route through Portkey
//!   (`POST {PORTKEY_BASE_URL}/chat/completions`, header `x-portkey-api-key`). The primary
//!   route uses the key's default Portkey configuration; each fallback adds
//!   `x-portkey-provider: <name>` and the provider's own key as `Authorization: Bearer`
//!   (Portkey forwards it). Each route records its HTTP status and latency; a route whose
//!   key is missing is `skipped`, naming the variable.

use std::time::Instant;

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderName};
use serde_json::{Value, json};

use super::api::{self, Api};
use crate::core::desired::RouterDesired;
use crate::providers::http::{Http, Retry};
use crate::providers::{Credentials, ProviderError};

pub const PROVIDER: &str = "router";
pub const PORTKEY_KEY: &str = "PORTKEY_API_KEY";
pub const DEFAULT_PORTKEY_BASE_URL: &str = "https://api.portkey.ai/v1";
/// Portkey's header naming the provider a request goes to.
pub const PROVIDER_HEADER: &str = "x-portkey-provider";
/// The prompt of a route test when the payload gives none: a few tokens in, a few out.
pub const DEFAULT_PROMPT: &str = "Reply with the single word: pong";
/// Completion tokens of a route test by default: enough for "pong".
pub const DEFAULT_MAX_TOKENS: u32 = 8;

/// A backup provider: the variable of its key and the small model a probe uses.
pub fn fallback_info(name: &str) -> (Option<&'static str>, &'static str) {
    match name {
        "openai" => (Some("OPENAI_API_KEY"), "gpt-4o-mini"),
        "anthropic" => (Some("ANTHROPIC_API_KEY"), "claude-3-5-haiku-latest"),
        "openrouter" => (Some("OPENROUTER_API_KEY"), "openai/gpt-4o-mini"),
        "groq" => (Some("GROQ_API_KEY"), "llama-3.1-8b-instant"),
        "deepseek" => (Some("DEEPSEEK_API_KEY"), "deepseek-chat"),
        _ => (None, "gpt-4o-mini"),
    }
}

/// The router, configured with Portkey's key and the desired routes.
#[derive(Debug, Clone)]
pub struct RouterProvider {
    api: Api,
    routes: RouterDesired,
    creds: Credentials,
}

impl RouterProvider {
    pub fn new(
        creds: &Credentials,
        http: Http,
        routes: Option<&RouterDesired>,
    ) -> Result<RouterProvider, ProviderError> {
        let key = api::require(PROVIDER, creds, &[PORTKEY_KEY])?[0];
        let api = Api {
            provider: PROVIDER,
            http,
            base: api::base(
                PROVIDER,
                creds,
                "PORTKEY_BASE_URL",
                DEFAULT_PORTKEY_BASE_URL,
            )?,
            headers: vec![(
                HeaderName::from_static("x-portkey-api-key"),
                api::secret_header(PROVIDER, PORTKEY_KEY, key)?,
            )],
        };
        let routes = routes.cloned().unwrap_or_else(|| RouterDesired {
            primary: "portkey".into(),
            fallbacks: Vec::new(),
        });
        Ok(RouterProvider {
            api,
            routes,
            creds: creds.clone(),
        })
    }

    /// Every route: the primary, then the fallbacks in order.
    fn route_names(&self) -> Vec<String> {
        std::iter::once(self.routes.primary.clone())
            .chain(self.routes.fallbacks.iter().cloned())
            .collect()
    }

    /// The allowlist: routes and which keys are present (names only).
    pub fn allowlist(&self) -> Value {
        let routes: Vec<Value> = self
            .route_names()
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let key = if i == 0 {
                    Some(PORTKEY_KEY)
                } else {
                    fallback_info(name).0
                };
                json!({
                    "route": name,
                    "role": if i == 0 { "primary" } else { "fallback" },
                    "key": key,
                    "present": key.is_some_and(|k| self.creds.get(k).is_some()),
                })
            })
            .collect();
        let present: Vec<&Value> = routes
            .iter()
            .filter(|r| r["present"] == true)
            .map(|r| &r["key"])
            .collect();
        let missing: Vec<&Value> = routes
            .iter()
            .filter(|r| r["present"] == false && !r["key"].is_null())
            .map(|r| &r["key"])
            .collect();
        json!({
            "primary": self.routes.primary,
            "fallbacks": self.routes.fallbacks,
            "routes": routes,
            "keys_present": present,
            "keys_missing": missing,
        })
    }

    /// `GET /models` through Portkey: the key is accepted (no tokens spent).
    pub async fn validate(&self) -> Result<(String, Vec<Value>), ProviderError> {
        let started = Instant::now();
        let body = self
            .api
            .json(self.api.req(Method::GET, &["models"]))
            .await?;
        let models = body
            .get("data")
            .and_then(Value::as_array)
            .map(Vec::len)
            .unwrap_or(0);
        Ok((
            "Portkey accepted the key".into(),
            vec![json!({ "models": models, "latency_ms": api::ms(started.elapsed()) })],
        ))
    }

    /// A read-only operation by name: `allowlist`, `validate`, or `route-test` (payload
    /// `{prompt, max_tokens, routes}`, each optional).
    pub async fn op(
        &self,
        name: &str,
        payload: &Value,
    ) -> Result<(String, Vec<Value>), ProviderError> {
        match name {
            "allowlist" => Ok(("router allowlist".into(), vec![self.allowlist()])),
            "validate" => self.validate().await,
            "route-test" => {
                let routes: Option<Vec<String>> = payload
                    .get("routes")
                    .and_then(|v| serde_json::from_value(v.clone()).ok());
                let rows = self
                    .route_test(
                        payload.get("prompt").and_then(Value::as_str),
                        payload
                            .get("max_tokens")
                            .and_then(Value::as_u64)
                            .map(|n| n as u32),
                        routes.as_deref(),
                    )
                    .await;
                let ok = rows.iter().filter(|r| r["status"] == "ok").count();
                Ok((format!("{ok} of {} route(s) answered", rows.len()), rows))
            }
            other => Err(api::unknown(PROVIDER, other, "allowlist, route-test")),
        }
    }

    /// One completion per route (all at once); each route's status and latency.
    pub async fn route_test(
        &self,
        prompt: Option<&str>,
        max_tokens: Option<u32>,
        only: Option<&[String]>,
    ) -> Vec<Value> {
        let prompt = prompt.unwrap_or(DEFAULT_PROMPT);
        let max_tokens = max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
        let names: Vec<(usize, String)> = self
            .route_names()
            .into_iter()
            .enumerate()
            .filter(|(_, n)| only.is_none_or(|o| o.contains(n)))
            .collect();
        let tests = names
            .iter()
            .map(|(i, name)| self.test_route(*i == 0, name, prompt, max_tokens));
        futures::future::join_all(tests).await
    }

    async fn test_route(&self, primary: bool, name: &str, prompt: &str, max_tokens: u32) -> Value {
        let (key_var, model) = fallback_info(name);
        let mut req = self
            .api
            .req(Method::POST, &["chat", "completions"])
            .json(json!({
                "model": model,
                "messages": [{ "role": "user", "content": prompt }],
                "max_tokens": max_tokens,
            }))
            // A completion changes nothing; a retry only costs a few tokens.
            .retry(Retry::Idempotent);
        if !primary {
            let Some(var) = key_var else {
                return json!({ "route": name, "status": "skipped", "reason": format!("no known key for provider `{name}`") });
            };
            let Some(key) = self.creds.get(var) else {
                return json!({
                    "route": name, "status": "skipped",
                    "reason": format!("not-configured: set {var}"),
                });
            };
            let header = match (
                api::secret_header(PROVIDER, PROVIDER_HEADER, name),
                api::secret_header(PROVIDER, var, &format!("Bearer {}", key.trim())),
            ) {
                (Ok(p), Ok(a)) => (p, a),
                (Err(e), _) | (_, Err(e)) => {
                    return json!({ "route": name, "status": "failed", "error": e.message });
                }
            };
            req = req
                .header(HeaderName::from_static(PROVIDER_HEADER), header.0)
                .header(AUTHORIZATION, header.1);
        }
        let started = Instant::now();
        let result = self.api.http.send(req).await;
        let latency_ms = api::ms(started.elapsed());
        match result {
            Ok(resp) if resp.is_success() => {
                let body = resp.json().unwrap_or(Value::Null);
                json!({
                    "route": name, "status": "ok", "http_status": resp.status.as_u16(),
                    "latency_ms": latency_ms, "model": body.get("model").cloned().unwrap_or(json!(model)),
                    "completion_tokens": body.pointer("/usage/completion_tokens").cloned().unwrap_or(Value::Null),
                })
            }
            Ok(resp) => {
                let status = resp.status.as_u16();
                json!({
                    "route": name, "status": "failed", "http_status": status,
                    "latency_ms": latency_ms, "error": resp.into_error().to_string(),
                })
            }
            Err(e) => json!({
                "route": name, "status": "failed", "http_status": e.status(),
                "latency_ms": latency_ms, "error": e.to_string(),
            }),
        }
    }
}
