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
pub const NAMES: [&str; 25] = [
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
