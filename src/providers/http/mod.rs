//! The shared HTTP layer of every provider: one `reqwest::Client` per process (connection
//! reuse through its HTTP/1.1 keep-alive pool), a timeout on every call, bounded concurrency
//! (one semaphore for the process, see [`MAX_CONCURRENCY`]), and retries with capped exponential backoff and
//! jitter.
//!
//! What is retried, and why:
//! - **Idempotent requests** (GET, HEAD, PUT, DELETE, and a POST the caller marks idempotent,
//!   such as a GraphQL query or a Fly machine update, which sets a whole config) are retried
//!   on 5xx, timeouts and connection errors: doing them twice is the same as doing them once.
//! - **Every request** is retried on a rate-limit answer (429, or GitHub's 403 with
//!   `retry-after` or `x-ratelimit-remaining: 0`): the server refused it before doing anything.
//! - A creating POST is never retried on 5xx or a transport error (the first attempt may have
//!   landed); the caller makes it safe by checking before creating again.
//!
//! Waits honour `Retry-After` (seconds) and, when `x-ratelimit-remaining` is 0,
//! `x-ratelimit-reset` (epoch seconds). A wait longer than [`RetryPolicy::max_wait`] is not
//! slept: the call fails at once with a `rate-limited` error saying how long the server asked
//! for, so a run never hangs for an hour on an exhausted quota. After
//! [`RetryPolicy::max_attempts`] attempts the call fails with a clear error naming the method,
//! the path and the last answer.
//!
//! Error messages name the method and the path only: never a header, a token, a body sent, or
//! the query string.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use tokio::sync::Semaphore;

mod etags;
pub mod pace;
mod retry;

pub use etags::{CachedAnswer, EtagCache};
pub use retry::{Retry, RetryPolicy, rate_limit_wait};

/// Time to establish a TCP + TLS connection. Ten seconds is far above any healthy handshake
/// to GitHub or Fly (tens of milliseconds) yet short enough that an unreachable host fails
/// a plan quickly instead of hanging it.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Total time of one attempt (connect, send, read the whole body). The slowest calls we make
/// answer in a few seconds; 30 s leaves room for a slow link while bounding every call.
/// Calls that wait on purpose (Fly's `…/wait`) set their own longer timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Requests in flight at once across the process. 16 keeps a refresh of a few dozen resources
/// fast while staying far below GitHub's secondary limit of 100 concurrent requests.
///
/// There is deliberately no separate per-host limit: an earlier one (half this budget per
/// host, taken after the global permit) made a task hold a global slot while it queued for
/// its host, so one busy host blocked the others' calls and a single host never got more
/// than half the budget (a refresh against one endpoint could not get below twice its bound).
pub const MAX_CONCURRENCY: usize = 16;

/// The `User-Agent` GitHub requires (and every server sees).
pub const USER_AGENT: &str = concat!("sophia-infra/", env!("CARGO_PKG_VERSION"));

/// One request.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<serde_json::Value>,
    pub retry: Retry,
    /// This request's own attempt timeout (e.g. a call that waits on purpose); `None` for the
    /// policy's [`RetryPolicy::attempt_timeout`].
    pub timeout: Option<Duration>,
    /// A GET that takes part in the layer's [`EtagCache`], when it has one.
    pub conditional: bool,
    /// Wait for this pacer before each attempt (content-creating GitHub requests).
    pub pace: Option<Arc<pace::Pacer>>,
}

impl Req {
    pub fn new(method: Method, url: Url) -> Req {
        let retry = if method == Method::POST || method == Method::PATCH {
            Retry::Never
        } else {
            Retry::Idempotent
        };
        Req {
            method,
            url,
            headers: Vec::new(),
            body: None,
            retry,
            timeout: None,
            conditional: false,
            pace: None,
        }
    }

    /// Wait for `pacer` before each attempt (see [`pace`]).
    pub fn paced(mut self, pacer: Arc<pace::Pacer>) -> Req {
        self.pace = Some(pacer);
        self
    }

    /// Take part in the ETag cache (a GET whose answer may be reused on 304).
    pub fn conditional(mut self) -> Req {
        self.conditional = self.method == Method::GET;
        self
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Req {
        self.headers.push((name, value));
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Req {
        self.body = Some(body);
        self
    }

    pub fn retry(mut self, retry: Retry) -> Req {
        self.retry = retry;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Req {
        self.timeout = Some(timeout);
        self
    }

    /// `METHOD /path`: what error messages name (no host, no query string).
    pub fn what(&self) -> String {
        format!("{} {}", self.method, self.url.path())
    }
}

/// A response whose status was final (success, or an error that is not retried).
#[derive(Debug, Clone)]
pub struct Resp {
    pub what: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The body as JSON (`null` when empty).
    pub fn json(&self) -> Result<serde_json::Value, HttpError> {
        if self.body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| HttpError::Decode {
            what: self.what.clone(),
            message: e.to_string(),
        })
    }

    /// `Ok(self)` on 2xx, else the status error.
    pub fn ok(self) -> Result<Resp, HttpError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(self.into_error())
        }
    }

    /// This response as an error naming the method, path, status and the server's message.
    pub fn into_error(self) -> HttpError {
        HttpError::Status {
            what: self.what.clone(),
            status: self.status.as_u16(),
            message: server_message(&self.body),
        }
    }
}

/// The server's own error text: `message` (GitHub), `error` (Fly), else the start of the body.
fn server_message(body: &[u8]) -> String {
    /// Enough for any real error message; more would flood the terminal with HTML pages.
    const MAX_MESSAGE: usize = 200;
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => v
            .get("message")
            .or_else(|| v.get("error"))
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string()),
        Err(_) => String::from_utf8_lossy(body).trim().to_string(),
    };
    let mut text: String = text.chars().take(MAX_MESSAGE).collect();
    if text.is_empty() {
        text = "(empty body)".into();
    }
    text
}

/// Why a call failed. Each message names `METHOD /path`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("{what}: HTTP {status}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
    },
    #[error("{what}: timed out after {attempts} attempt(s)")]
    Timeout { what: String, attempts: u32 },
    #[error("{what}: connection failed after {attempts} attempt(s): {message}")]
    Transport {
        what: String,
        attempts: u32,
        message: String,
    },
    #[error(
        "{what}: rate limited; the server asks to wait {wait_secs} s, longer than the {max_secs} s this client waits (try again later)"
    )]
    RateLimited {
        what: String,
        wait_secs: u64,
        max_secs: u64,
    },
    #[error("{what}: gave up after {attempts} attempts; the last answer was {last}")]
    RetriesExhausted {
        what: String,
        attempts: u32,
        last: String,
    },
    #[error("{what}: the response is not the JSON expected: {message}")]
    Decode { what: String, message: String },
}

impl HttpError {
    /// The normalized envelope error code.
    pub fn code(&self) -> &'static str {
        match self {
            HttpError::Timeout { .. } => "timeout",
            HttpError::RateLimited { .. } => "rate-limited",
            HttpError::RetriesExhausted { last, .. } if last.contains("429") => "rate-limited",
            _ => "http-error",
        }
    }

    /// The HTTP status, when the error is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The process-wide client: built once, so every provider shares one connection pool.
fn shared_client() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(REQUEST_TIMEOUT)
                // Idle keep-alive connections are dropped after 90 s, below the idle
                // timeouts of the load balancers in front of GitHub and Fly.
                .pool_idle_timeout(Duration::from_secs(90))
                .build()
                .expect("the HTTP client builds with static settings")
        })
        .clone()
}

/// The HTTP layer handed to providers: cheap to clone, shared by all of them.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    policy: RetryPolicy,
    global: Arc<Semaphore>,
    max_concurrency: usize,
    recorder: Option<Recorder>,
    etags: Option<EtagCache>,
}

/// One request as sent (method, path without the query string, JSON body).
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub body: Option<serde_json::Value>,
}

/// Keeps every request an [`Http`] sends, in memory, for tests that check request bodies
/// against an API's schemas. It holds what was sent (Fly secret values included), so it is
/// never written anywhere; production code never creates one.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Recorded>>>);

impl Recorder {
    pub fn requests(&self) -> Vec<Recorded> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("policy", &self.policy)
            .field("max_concurrency", &self.max_concurrency)
            .finish()
    }
}

impl Default for Http {
    fn default() -> Self {
        Http::new(RetryPolicy::default(), MAX_CONCURRENCY)
    }
}

/// What one attempt ended with.
enum Outcome {
    Done(Resp),
    /// Retry after this wait (`None`: the policy's backoff); `last` describes the answer.
    Again {
        wait: Option<Duration>,
        last: String,
        kind: Again,
        /// The answer itself, for a server error that is not retried.
        resp: Option<Resp>,
    },
    Fail(HttpError),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Again {
    RateLimit,
    Server,
    Timeout,
    Transport,
}

impl Http {
    pub fn new(policy: RetryPolicy, max_concurrency: usize) -> Http {
        let max_concurrency = max_concurrency.max(1);
        Http {
            client: shared_client(),
            policy,
            global: Arc::new(Semaphore::new(max_concurrency)),
            max_concurrency,
            recorder: None,
            etags: None,
        }
    }

    /// This layer, sending conditional GETs against `cache` (see [`EtagCache`]).
    pub fn with_etags(mut self, cache: EtagCache) -> Http {
        self.etags = Some(cache);
        self
    }

    /// This layer, also recording every request it sends (see [`Recorder`]).
    pub fn recording(mut self) -> (Http, Recorder) {
        let recorder = Recorder::default();
        self.recorder = Some(recorder.clone());
        (self, recorder)
    }

    /// Requests this layer lets run at once.
    pub fn max_concurrency(&self) -> usize {
        self.max_concurrency
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Send with the retry policy. Returns the final response (any status that is not
    /// retried, including 4xx the caller interprets, such as 404) or the error.
    pub async fn send(&self, req: Req) -> Result<Resp, HttpError> {
        let Some(cache) = self.etags.as_ref().filter(|_| req.conditional) else {
            return self.send_plain(req).await;
        };
        let key = EtagCache::key(&req);
        let cached = cache.get(&key);
        let mut req = req;
        if let Some(c) = &cached
            && let Ok(v) = HeaderValue::from_str(&c.etag)
        {
            req.headers.push((reqwest::header::IF_NONE_MATCH, v));
        }
        let mut resp = self.send_plain(req).await?;
        match (resp.status, cached) {
            (StatusCode::NOT_MODIFIED, Some(c)) => {
                resp.status = StatusCode::OK;
                resp.body = c.body.into_bytes();
            }
            (StatusCode::OK, _) => {
                if let Some(etag) = resp.headers.get(reqwest::header::ETAG) {
                    cache.put(key, etag, &resp.body);
                }
            }
            _ => {}
        }
        Ok(resp)
    }

    async fn send_plain(&self, req: Req) -> Result<Resp, HttpError> {
        let what = req.what();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = {
                let _global = self.global.acquire().await.expect("never closed");
                if let Some(p) = &req.pace {
                    p.wait().await;
                }
                self.attempt(&req, &what).await
            };
            match outcome {
                Outcome::Done(resp) => return Ok(resp),
                Outcome::Fail(err) => return Err(err),
                Outcome::Again {
                    wait,
                    last,
                    kind,
                    resp,
                } => {
                    let retryable = kind == Again::RateLimit || req.retry == Retry::Idempotent;
                    if !retryable || attempt >= self.policy.max_attempts {
                        tracing::debug!(%what, attempt, %last, "giving up");
                        return Err(match (kind, resp) {
                            (Again::Server, Some(resp)) if !retryable => resp.into_error(),
                            (Again::Timeout, _) => HttpError::Timeout {
                                what,
                                attempts: attempt,
                            },
                            (Again::Transport, _) => HttpError::Transport {
                                what,
                                attempts: attempt,
                                message: last,
                            },
                            _ => HttpError::RetriesExhausted {
                                what,
                                attempts: attempt,
                                last,
                            },
                        });
                    }
                    let wait = match wait {
                        Some(w) if w > self.policy.max_wait => {
                            return Err(HttpError::RateLimited {
                                what,
                                wait_secs: w.as_secs(),
                                max_secs: self.policy.max_wait.as_secs(),
                            });
                        }
                        // A refusal that names no wait backs off like any other retry.
                        Some(w) if w.is_zero() => self.policy.backoff(attempt),
                        // The server's wait, then a little backoff so a crowd of clients does
                        // not return in the same millisecond.
                        Some(w) => w + self.policy.backoff(1) / 4,
                        None => self.policy.backoff(attempt),
                    };
                    tracing::debug!(%what, attempt, %last, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Send and require a 2xx answer.
    pub async fn send_ok(&self, req: Req) -> Result<Resp, HttpError> {
        self.send(req).await?.ok()
    }

    async fn attempt(&self, req: &Req, what: &str) -> Outcome {
        if let Some(recorder) = &self.recorder {
            recorder
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Recorded {
                    method: req.method.to_string(),
                    path: req.url.path().to_string(),
                    body: req.body.clone(),
                });
        }
        let mut builder = self
            .client
            .request(req.method.clone(), req.url.clone())
            .timeout(req.timeout.unwrap_or(self.policy.attempt_timeout));
        for (name, value) in &req.headers {
            builder = builder.header(name.clone(), value.clone());
        }
        if let Some(body) = &req.body {
            builder = builder.json(body);
        }
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => return transport(e),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => return transport(e),
        };
        let resp = Resp {
            what: what.to_string(),
            status,
            headers,
            body,
        };
        if let Some(wait) = rate_limit_wait(&resp, SystemTime::now()) {
            return Outcome::Again {
                wait: Some(wait),
                last: format!("HTTP {} (rate limited)", status.as_u16()),
                kind: Again::RateLimit,
                resp: None,
            };
        }
        if status.is_server_error() {
            return Outcome::Again {
                wait: None,
                last: format!("HTTP {}: {}", status.as_u16(), server_message(&resp.body)),
                kind: Again::Server,
                resp: Some(resp),
            };
        }
        Outcome::Done(resp)
    }
}

fn transport(e: reqwest::Error) -> Outcome {
    if e.is_builder() {
        return Outcome::Fail(HttpError::Transport {
            what: String::new(),
            attempts: 0,
            message: e.without_url().to_string(),
        });
    }
    let kind = if e.is_timeout() {
        Again::Timeout
    } else {
        Again::Transport
    };
    Outcome::Again {
        wait: None,
        last: error_chain(e.without_url()),
        kind,
        resp: None,
    }
}

/// `error: cause: cause`, without the URL (reqwest would print it with its query string).
fn error_chain(e: reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `base` joined with `path` segments, each percent-encoded (an app name or branch with a
/// slash stays one segment).
pub fn url(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    {
        let mut path = url
            .path_segments_mut()
            .expect("base URLs are http(s) URLs, which have paths");
        path.pop_if_empty();
        for s in segments {
            path.push(s);
        }
    }
    url
}

/// Parse a base URL from configuration, naming the variable on error.
pub fn parse_base(var: &str, value: &str) -> anyhow::Result<Url> {
    let url = Url::parse(value.trim_end_matches('/'))
        .map_err(|e| anyhow::anyhow!("`{var}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        anyhow::bail!("`{var}` must be an http(s) URL");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_each_segment_and_never_leak_queries_into_messages() {
        let base = Url::parse("http://h:1/base").unwrap();
        let u = url(&base, &["repos", "o", "r", "branches", "release/1.2"]);
        assert_eq!(u.path(), "/base/repos/o/r/branches/release%2F1.2");
        let mut with_query = u.clone();
        with_query.set_query(Some("key=sekrit"));
        let r = Req::new(Method::GET, with_query);
        assert_eq!(r.what(), "GET /base/repos/o/r/branches/release%2F1.2");
    }

    #[test]
    fn server_messages_come_from_message_or_error() {
        assert_eq!(server_message(br#"{"message":"Not Found"}"#), "Not Found");
        assert_eq!(
            server_message(br#"{"error":"app not found"}"#),
            "app not found"
        );
        assert_eq!(server_message(b""), "(empty body)");
    }
}
