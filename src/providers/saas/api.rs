//! The shared API helpers of the SaaS providers: the required-variable check that gives the
//! normalized `not-configured` error, base URLs with defaults, sensitive auth headers, JSON
//! calls through the shared HTTP layer, and the error for an unknown operation.
//!
//! Every provider of this folder imports this file and nothing else of the folder, so the
//! providers never depend on the dispatch in [`super`] that depends on them.

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;

use crate::providers::http::{self, Http, Req};
use crate::providers::{Credentials, ProviderError};

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

/// The normalized error for an operation `provider` does not have, listing the `expected` ones.
pub fn unknown(provider: &str, op: &str, expected: &str) -> ProviderError {
    ProviderError::new(
        provider,
        "invalid-input",
        format!("unknown {provider} operation `{op}` (expected {expected})"),
    )
}
