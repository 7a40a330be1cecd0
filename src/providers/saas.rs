//! What the SaaS providers (router, research, qdrant, mem0, slack, gong, lambda) share: the
//! required-variable check that gives the normalized `not-configured` error, base URLs with
//! defaults, sensitive auth headers, and JSON calls through the shared HTTP layer.

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;

use super::http::{self, Http, Req};
use super::{Credentials, ProviderError};

/// The required variables of `provider` that `creds` lacks, as one `not-configured` error
/// naming all of them (not just the first).
pub fn require<'c>(
    provider: &str,
    creds: &'c Credentials,
    names: &[&str],
) -> Result<Vec<&'c str>, ProviderError> {
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| creds.get(n).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(ProviderError::not_configured(provider, &missing));
    }
    Ok(names.iter().filter_map(|n| creds.get(n)).collect())
}

/// The base URL in `var`, or `default`.
pub fn base(
    provider: &str,
    creds: &Credentials,
    var: &str,
    default: &str,
) -> Result<Url, ProviderError> {
    http::parse_base(var, creds.get(var).unwrap_or(default))
        .map_err(|e| ProviderError::new(provider, "invalid-input", e.to_string()))
}

/// A header value marked sensitive (never printed by the HTTP stack).
pub fn secret_header(provider: &str, var: &str, value: &str) -> Result<HeaderValue, ProviderError> {
    let mut v = HeaderValue::from_str(value.trim()).map_err(|_| {
        ProviderError::new(
            provider,
            "invalid-input",
            format!("`{var}` holds characters not allowed in an HTTP header"),
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// One configured JSON API: base URL and auth headers.
#[derive(Clone)]
pub struct Api {
    pub provider: &'static str,
    pub http: Http,
    pub base: Url,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("provider", &self.provider)
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl Api {
    /// A request to `base/segments…` with the auth headers.
    pub fn req(&self, method: Method, segments: &[&str]) -> Req {
        let mut req = Req::new(method, http::url(&self.base, segments));
        for (k, v) in &self.headers {
            req = req.header(k.clone(), v.clone());
        }
        req
    }

    /// Send and decode a 2xx JSON answer; anything else is the normalized error.
    pub async fn json(&self, req: Req) -> Result<Value, ProviderError> {
        let resp = self
            .http
            .send(req)
            .await
            .map_err(|e| ProviderError::http(self.provider, e))?;
        let resp = resp
            .ok()
            .map_err(|e| ProviderError::http(self.provider, e))?;
        resp.json()
            .map_err(|e| ProviderError::http(self.provider, e))
    }

    /// Send; `Ok(None)` on 404.
    pub async fn json_opt(&self, req: Req) -> Result<Option<Value>, ProviderError> {
        let resp = self
            .http
            .send(req)
            .await
            .map_err(|e| ProviderError::http(self.provider, e))?;
        if resp.status.as_u16() == 404 {
            return Ok(None);
        }
        let resp = resp
            .ok()
            .map_err(|e| ProviderError::http(self.provider, e))?;
        resp.json()
            .map(Some)
            .map_err(|e| ProviderError::http(self.provider, e))
    }
}

/// Milliseconds with two decimals, for latencies in proofs.
pub fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

/// Every variable the SaaS providers, the context database and the cache read (base URLs,
/// keys, and the router's backup provider keys). `Credentials::from_env` reads these too.
pub const NAMES: [&str; 26] = [
    "PORTKEY_API_KEY",
    "PORTKEY_BASE_URL",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENROUTER_API_KEY",
    "GROQ_API_KEY",
    "DEEPSEEK_API_KEY",
    "TAVILY_API_KEY",
    "TAVILY_BASE_URL",
    "SERPER_API_KEY",
    "SERPER_BASE_URL",
    "NEON_DATABASE_URL",
    "NEON_READONLY_DATABASE_URL",
    "QDRANT_URL",
    "QDRANT_API_KEY",
    "MEM0_API_KEY",
    "MEM0_BASE_URL",
    "REDIS_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_URL",
    "GONG_BASE_URL",
    "GONG_ACCESS_KEY",
    "GONG_ACCESS_KEY_SECRET",
    "LAMBDA_LABS_API_KEY",
    "LAMBDA_API_URL",
];

/// The providers of this module family (everything but Fly and GitHub), behind one variant
/// of [`super::Provider`].
#[derive(Debug, Clone)]
pub enum Other {
    Router(super::router::RouterProvider),
    Research(super::research::ResearchProvider),
    ContextDb(super::context_db::ContextDbProvider),
    Qdrant(super::qdrant::QdrantProvider),
    Mem0(super::mem0::Mem0Provider),
    Redis(super::redis::RedisProvider),
    Slack(super::slack::SlackProvider),
    Gong(super::gong::GongProvider),
    Lambda(super::lambda::LambdaProvider),
}

impl Other {
    /// `None` for Fly and GitHub (not ours); `not-configured` naming the missing variables.
    pub fn configure(
        name: crate::core::desired::ProviderName,
        creds: &Credentials,
        http: &Http,
    ) -> Option<Result<Other, ProviderError>> {
        use super::*;
        use crate::core::desired::ProviderName as P;
        let h = || http.clone();
        Some(match name {
            P::Fly | P::Github => return None,
            P::Router => router::RouterProvider::new(creds, h(), None).map(Other::Router),
            P::Research => research::ResearchProvider::new(creds, h()).map(Other::Research),
            P::ContextDb => context_db::ContextDbProvider::new(creds).map(Other::ContextDb),
            P::Qdrant => qdrant::QdrantProvider::new(creds, h()).map(Other::Qdrant),
            P::Mem0 => mem0::Mem0Provider::new(creds, h()).map(Other::Mem0),
            P::Redis => redis::RedisProvider::new(creds).map(Other::Redis),
            P::Slack => slack::SlackProvider::new(creds, h()).map(Other::Slack),
            P::Gong => gong::GongProvider::new(creds, h()).map(Other::Gong),
            P::Lambda => lambda::LambdaProvider::new(creds, h()).map(Other::Lambda),
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Other::Router(_) => "router",
            Other::Research(_) => "research",
            Other::ContextDb(_) => "context_db",
            Other::Qdrant(_) => "qdrant",
            Other::Mem0(_) => "mem0",
            Other::Redis(_) => "redis",
            Other::Slack(_) => "slack",
            Other::Gong(_) => "gong",
            Other::Lambda(_) => "lambda",
        }
    }

    /// Only the context database, Qdrant and Redis have live resources.
    pub async fn refresh(
        &self,
        addresses: &[crate::core::address::Address],
    ) -> Result<std::collections::BTreeMap<crate::core::address::Address, Value>, ProviderError>
    {
        match self {
            Other::ContextDb(p) => p.refresh(addresses).await,
            Other::Qdrant(p) => p.refresh(addresses).await,
            Other::Redis(p) => p.refresh(addresses).await,
            _ => Ok(Default::default()),
        }
    }

    /// Execute a plan action on one of the resources above. (`provider.activate` needs the
    /// repository's activation record: see [`super::activation::execute`].)
    pub async fn execute(&self, action: &crate::core::plan::Action) -> super::ActionOutcome {
        match self {
            Other::ContextDb(p) => p.execute(action).await,
            Other::Qdrant(p) => p.execute(action).await,
            Other::Redis(p) => p.execute(action).await,
            other => super::ActionOutcome::failure(ProviderError::new(
                other.name(),
                "invalid-input",
                format!(
                    "{} has no resources: it cannot execute `{}`",
                    other.name(),
                    action.kind
                ),
            )),
        }
    }

    /// A read-only operation by name (the front door parses and checks payloads first).
    pub async fn op(
        &self,
        name: &str,
        payload: &Value,
    ) -> Result<(String, Vec<Value>), ProviderError> {
        match self {
            Other::Router(p) => match name {
                "allowlist" => Ok(("router allowlist".into(), vec![p.allowlist()])),
                "validate" => p.validate().await,
                "route-test" => {
                    let routes: Option<Vec<String>> = payload
                        .get("routes")
                        .and_then(|v| serde_json::from_value(v.clone()).ok());
                    let rows = p
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
                other => Err(super::qdrant::unknown(
                    "router",
                    other,
                    "allowlist, route-test",
                )),
            },
            Other::Research(p) => match name {
                "validate" => {
                    let rows: Vec<Value> = p
                        .validate()
                        .await
                        .into_iter()
                        .map(|(b, r)| match r {
                            Ok(ms) => serde_json::json!({ "backend": b, "ok": true, "latency_ms": ms }),
                            Err(e) => serde_json::json!({ "backend": b, "ok": false, "code": e.code, "error": e.message }),
                        })
                        .collect();
                    if rows.iter().all(|r| r["ok"] == false) {
                        return Err(ProviderError::new(
                            "research",
                            "validation-failed",
                            "neither Tavily nor Serper accepted its key",
                        ));
                    }
                    Ok(("research keys checked".into(), rows))
                }
                other => Err(super::qdrant::unknown(
                    "research",
                    other,
                    "search, validate",
                )),
            },
            Other::ContextDb(p) => p.op(name, payload).await,
            Other::Redis(p) => p.op(name, payload).await,
            Other::Qdrant(p) => p.op(name).await,
            Other::Mem0(p) => p.op(name).await,
            Other::Slack(p) => p.op(name).await,
            Other::Gong(p) => p.op(name).await,
            Other::Lambda(p) => p.op(name).await,
        }
    }
}

/// The addresses of `desired` that provider `p` (of this family) reads.
pub fn desired_addresses(
    desired: &crate::core::desired::Desired,
    p: crate::core::desired::ProviderName,
) -> Vec<crate::core::address::Address> {
    use crate::core::address::Address;
    use crate::core::desired::ProviderName as P;
    match p {
        P::ContextDb => desired
            .context_db
            .iter()
            .flat_map(|d| {
                d.extensions
                    .iter()
                    .map(|n| Address::ContextDbExtension { name: n.clone() })
                    .chain(
                        d.schemas
                            .iter()
                            .map(|n| Address::ContextDbSchema { name: n.clone() }),
                    )
            })
            .collect(),
        P::Qdrant => desired
            .qdrant
            .iter()
            .flat_map(|q| q.collections.keys())
            .map(|n| Address::QdrantCollection { name: n.clone() })
            .collect(),
        P::Redis => desired
            .redis
            .iter()
            .flat_map(|r| r.config.keys())
            .map(|k| Address::RedisConfig { key: k.clone() })
            .collect(),
        _ => Vec::new(),
    }
}
