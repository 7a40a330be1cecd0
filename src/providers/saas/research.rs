//! Research: web search through Tavily and Serper.
//!
//! `search` asks both at once (`tokio::join!`), merges their results by rank and removes
//! duplicates by normalized URL ([`normalize_url`]); one backend failing still returns the
//! other's results, with its error recorded. `validate` runs a one-result search on each (the
//! cheapest call both APIs answer with a key check: one credit each).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use reqwest::header::{AUTHORIZATION, HeaderName};
use reqwest::{Method, Url};
use serde_json::{Value, json};

use super::api::{self, Api};
use crate::providers::http::{Http, Retry};
use crate::providers::{Credentials, ProviderError};

pub const PROVIDER: &str = "research";
pub const TAVILY_KEY: &str = "TAVILY_API_KEY";
pub const SERPER_KEY: &str = "SERPER_API_KEY";
pub const DEFAULT_TAVILY_BASE_URL: &str = "https://api.tavily.com";
pub const DEFAULT_SERPER_BASE_URL: &str = "https://google.serper.dev";

/// The two backends, in merge order.
pub const BACKENDS: [&str; 2] = ["tavily", "serper"];

/// One search hit, normalized across backends.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    pub title: String,
    pub url: String,
    pub snippet: String,
    /// Which backends returned it (both, when they agree).
    pub sources: Vec<String>,
}

/// What `search` got: each backend's hits or error, and the merged list.
#[derive(Debug, Clone)]
pub struct SearchOutcome {
    pub per_backend: BTreeMap<&'static str, Result<(Vec<Hit>, f64), ProviderError>>,
    pub merged: Vec<Hit>,
}

/// Tavily and Serper; a backend whose key is missing is `None` (its searches fail with
/// `not-configured`, the other still answers).
#[derive(Debug, Clone)]
pub struct ResearchProvider {
    tavily: Option<Api>,
    serper: Option<Api>,
}

impl ResearchProvider {
    /// `not-configured` (naming both keys) only when neither key is set.
    pub fn new(creds: &Credentials, http: Http) -> Result<ResearchProvider, ProviderError> {
        let tavily = match creds.get(TAVILY_KEY) {
            Some(key) => Some(Api {
                provider: "tavily",
                http: http.clone(),
                base: api::base(PROVIDER, creds, "TAVILY_BASE_URL", DEFAULT_TAVILY_BASE_URL)?,
                headers: vec![(
                    AUTHORIZATION,
                    api::secret_header(PROVIDER, TAVILY_KEY, &format!("Bearer {}", key.trim()))?,
                )],
            }),
            None => None,
        };
        let serper = match creds.get(SERPER_KEY) {
            Some(key) => Some(Api {
                provider: "serper",
                http,
                base: api::base(PROVIDER, creds, "SERPER_BASE_URL", DEFAULT_SERPER_BASE_URL)?,
                headers: vec![(
                    HeaderName::from_static("x-api-key"),
                    api::secret_header(PROVIDER, SERPER_KEY, key)?,
                )],
            }),
            None => None,
        };
        if tavily.is_none() && serper.is_none() {
            return Err(ProviderError::not_configured(
                PROVIDER,
                &[TAVILY_KEY, SERPER_KEY],
            ));
        }
        Ok(ResearchProvider { tavily, serper })
    }

    async fn tavily(&self, query: &str, max: u32) -> Result<(Vec<Hit>, f64), ProviderError> {
        let api = self
            .tavily
            .as_ref()
            .ok_or_else(|| ProviderError::not_configured("tavily", &[TAVILY_KEY]))?;
        let started = Instant::now();
        // A search changes nothing: safe to retry.
        let req = api
            .req(Method::POST, &["search"])
            .json(json!({ "query": query, "max_results": max, "search_depth": "basic" }))
            .retry(Retry::Idempotent);
        let body = api.json(req).await?;
        let fields = HitFields {
            list: "results",
            url: "url",
            snippet: "content",
            source: "tavily",
        };
        Ok((fields.hits(&body, max), api::ms(started.elapsed())))
    }

    async fn serper(&self, query: &str, max: u32) -> Result<(Vec<Hit>, f64), ProviderError> {
        let api = self
            .serper
            .as_ref()
            .ok_or_else(|| ProviderError::not_configured("serper", &[SERPER_KEY]))?;
        let started = Instant::now();
        let req = api
            .req(Method::POST, &["search"])
            .json(json!({ "q": query, "num": max }))
            .retry(Retry::Idempotent);
        let body = api.json(req).await?;
        let fields = HitFields {
            list: "organic",
            url: "link",
            snippet: "snippet",
            source: "serper",
        };
        Ok((fields.hits(&body, max), api::ms(started.elapsed())))
    }

    /// Both backends concurrently; merged by rank (Tavily's first, Serper's first, Tavily's
    /// second, …), duplicates by normalized URL folded into the first, at most `max`.
    pub async fn search(&self, query: &str, max: u32) -> SearchOutcome {
        let (t, s) = tokio::join!(self.tavily(query, max), self.serper(query, max));
        let empty = Vec::new();
        let tl = t.as_ref().map(|(h, _)| h).unwrap_or(&empty);
        let sl = s.as_ref().map(|(h, _)| h).unwrap_or(&empty);
        let merged = merge(&[tl, sl], max as usize);
        let mut per_backend = BTreeMap::new();
        per_backend.insert("tavily", t);
        per_backend.insert("serper", s);
        SearchOutcome {
            per_backend,
            merged,
        }
    }

    /// A one-result search on each backend.
    pub async fn validate(&self) -> BTreeMap<&'static str, Result<f64, ProviderError>> {
        let (t, s) = tokio::join!(self.tavily("sophia", 1), self.serper("sophia", 1));
        BTreeMap::from([
            ("tavily", t.map(|(_, ms)| ms)),
            ("serper", s.map(|(_, ms)| ms)),
        ])
    }

    /// A read-only operation by name: `validate` (each backend's key, with its latency; an
    /// error when neither accepts its key).
    pub async fn op(&self, name: &str) -> Result<(String, Vec<Value>), ProviderError> {
        match name {
            "validate" => {
                let rows: Vec<Value> = self
                    .validate()
                    .await
                    .into_iter()
                    .map(|(b, r)| match r {
                        Ok(ms) => json!({ "backend": b, "ok": true, "latency_ms": ms }),
                        Err(e) => {
                            json!({ "backend": b, "ok": false, "code": e.code, "error": e.message })
                        }
                    })
                    .collect();
                if rows.iter().all(|r| r["ok"] == false) {
                    return Err(ProviderError::new(
                        PROVIDER,
                        "validation-failed",
                        "neither Tavily nor Serper accepted its key",
                    ));
                }
                Ok(("research keys checked".into(), rows))
            }
            other => Err(api::unknown(PROVIDER, other, "search, validate")),
        }
    }
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

/// Interleave ranked lists, folding duplicates (by [`normalize_url`]) into the first hit.
pub fn merge(lists: &[&Vec<Hit>], max: usize) -> Vec<Hit> {
    let mut out: Vec<Hit> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let longest = lists.iter().map(|l| l.len()).max().unwrap_or(0);
    for rank in 0..longest {
        for list in lists {
            let Some(hit) = list.get(rank) else { continue };
            let key = normalize_url(&hit.url);
            match index.get(&key) {
                Some(&i) => {
                    let sources: BTreeSet<String> =
                        out[i].sources.iter().chain(&hit.sources).cloned().collect();
                    out[i].sources = sources.into_iter().collect();
                }
                None => {
                    index.insert(key, out.len());
                    out.push(hit.clone());
                }
            }
        }
    }
    out.truncate(max);
    out
}

/// The identity of a result URL: scheme and host lower-cased (the URL parser does it), the
/// default port dropped, the fragment removed, and a trailing slash of the path removed.
/// The query string is kept: it often selects the page. Unparseable URLs compare as text.
pub fn normalize_url(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw.trim()) else {
        return raw.trim().to_string();
    };
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/').to_string();
    let host = url.host_str().unwrap_or("").to_string();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!("{}://{host}{port}{path}{query}", url.scheme())
}

/// Where a backend's response keeps its results: the list, and each result's URL and snippet.
struct HitFields {
    list: &'static str,
    url: &'static str,
    snippet: &'static str,
    source: &'static str,
}

impl HitFields {
    /// At most `max` hits of a response body; results without a URL are skipped.
    fn hits(&self, body: &Value, max: u32) -> Vec<Hit> {
        body.get(self.list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                Some(Hit {
                    title: str_of(r, "title"),
                    url: r.get(self.url)?.as_str()?.to_string(),
                    snippet: str_of(r, self.snippet),
                    sources: vec![self.source.into()],
                })
            })
            .take(max as usize)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(url: &str, src: &str) -> Hit {
        Hit {
            title: url.into(),
            url: url.into(),
            snippet: String::new(),
            sources: vec![src.into()],
        }
    }

    #[test]
    fn urls_normalize_case_slash_fragment_and_port() {
        let n = normalize_url;
        assert_eq!(n("HTTPS://Example.COM/a/b/"), "https://example.com/a/b");
        assert_eq!(
            n("https://example.com/a/b#section"),
            "https://example.com/a/b"
        );
        assert_eq!(n("https://example.com:443/a"), "https://example.com/a");
        assert_eq!(n("https://example.com/"), "https://example.com");
        assert_eq!(n("https://example.com/a?x=1"), "https://example.com/a?x=1");
        assert_ne!(
            n("https://example.com/A"),
            n("https://example.com/a"),
            "paths keep case"
        );
    }

    #[test]
    fn merge_interleaves_and_folds_duplicates() {
        let t = vec![
            hit("https://a.com/x", "tavily"),
            hit("https://b.com/", "tavily"),
        ];
        let s = vec![
            hit("https://A.com/x/#top", "serper"),
            hit("https://c.com", "serper"),
        ];
        let m = merge(&[&t, &s], 10);
        let urls: Vec<_> = m.iter().map(|h| h.url.as_str()).collect();
        assert_eq!(urls, ["https://a.com/x", "https://b.com/", "https://c.com"]);
        assert_eq!(m[0].sources, ["serper", "tavily"]);
        assert_eq!(merge(&[&t, &s], 2).len(), 2);
    }
}
