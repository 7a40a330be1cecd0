//! The gate every request passes before its handler: which provider it is for (by path
//! prefix), injected faults and latency, the token and its scope (401 without one, the
//! provider's refusal for writes with a read-only token), the per-token request budget (the
//! primary rate limit, with GitHub's `x-ratelimit-*` headers), and the request log.
//!
//! Order matters and follows real services: a fault from the "load balancer" comes first (a
//! faulted request is never handled, so it never changes state), then authentication, then the
//! budget, then authorization, then the handler.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use super::Shared;
use super::faults::FaultKind;
use super::log::{LogEntry, masked_body};
use super::server::DropConnection;

/// The largest request body the sandbox reads: far above anything `sophia` sends (a PR comment
/// is at most 65,536 characters), low enough that a runaway client cannot exhaust memory.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// GitHub's primary rate limit for unauthenticated requests: 60 an hour.
const ANONYMOUS_RATE_LIMIT: u64 = 60;

/// The rate-limit window, as GitHub's: one hour.
const WINDOW_SECS: i64 = 3600;

/// Which API a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// `/fly/machines/v1/…` (api.machines.dev).
    FlyMachines,
    /// `/fly/api/…` (api.fly.io): GraphQL and logs.
    FlyApi,
    /// `/fly/apps/{app}/…`: the apps themselves (health), public.
    FlyApp,
    /// `/fly/registry/v2/…` (registry.fly.io): the OCI distribution API.
    FlyRegistry,
    Github,
    Portkey,
    Tavily,
    Serper,
    Qdrant,
    Mem0,
    Slack,
    Gong,
    Lambda,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    None,
    ReadOnly,
    Full,
}

impl Scope {
    pub fn of(token: Option<&str>) -> Scope {
        match token {
            None => Scope::None,
            Some(t) if t.starts_with("ro-") => Scope::ReadOnly,
            Some(_) => Scope::Full,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scope::None => "none",
            Scope::ReadOnly => "read-only",
            Scope::Full => "full",
        }
    }
}

/// The authenticated caller, for handlers.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token: String,
    pub scope: Scope,
}

/// `http://host:port` as the client addressed the sandbox, for URLs in response bodies.
#[derive(Debug, Clone)]
pub struct Origin(pub String);

impl Provider {
    pub fn of(path: &str) -> Option<Provider> {
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        Some(if under("/fly/machines") {
            Provider::FlyMachines
        } else if under("/fly/api") {
            Provider::FlyApi
        } else if under("/fly/apps") {
            Provider::FlyApp
        } else if under("/fly/registry") {
            Provider::FlyRegistry
        } else if under("/github") {
            Provider::Github
        } else if under("/portkey") {
            Provider::Portkey
        } else if under("/tavily") {
            Provider::Tavily
        } else if under("/serper") {
            Provider::Serper
        } else if under("/qdrant") {
            Provider::Qdrant
        } else if under("/mem0") {
            Provider::Mem0
        } else if under("/slack") {
            Provider::Slack
        } else if under("/gong") {
            Provider::Gong
        } else if under("/lambda") {
            Provider::Lambda
        } else {
            return None;
        })
    }

    /// The token, from the header (or body) where the real service takes it.
    pub fn token(self, headers: &HeaderMap, body: &[u8]) -> Option<String> {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let auth = get(header::AUTHORIZATION.as_str());
        let scheme = |schemes: &[&str]| {
            let auth = auth.as_deref()?;
            let (s, rest) = auth.split_once(' ')?;
            schemes
                .iter()
                .any(|x| x.eq_ignore_ascii_case(s))
                .then(|| rest.trim().to_string())
                .filter(|t| !t.is_empty())
        };
        let basic_user = || {
            let encoded = scheme(&["Basic"])?;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let user = text.split(':').next()?.to_string();
            (!user.is_empty()).then_some(user)
        };
        match self {
            Provider::FlyMachines | Provider::FlyApi => scheme(&["Bearer", "FlyV1"]),
            Provider::FlyApp => None,
            Provider::FlyRegistry => super::oci::token(auth.as_deref()),
            Provider::Github => scheme(&["token", "Bearer"]),
            Provider::Portkey => get("x-portkey-api-key"),
            Provider::Tavily => scheme(&["Bearer"]).or_else(|| {
                serde_json::from_slice::<Value>(body)
                    .ok()?
                    .get("api_key")?
                    .as_str()
                    .filter(|k| !k.is_empty())
                    .map(str::to_string)
            }),
            Provider::Serper => get("x-api-key"),
            Provider::Qdrant => get("api-key").or_else(|| scheme(&["Bearer"])),
            Provider::Mem0 => scheme(&["Token"]),
            // Slack also takes `token=` in a form-encoded body.
            Provider::Slack => scheme(&["Bearer"]).or_else(|| {
                form_urlencoded::parse(body)
                    .find(|(k, _)| k == "token")
                    .map(|(_, v)| v.into_owned())
                    .filter(|v| !v.is_empty())
            }),
            Provider::Gong => basic_user().or_else(|| scheme(&["Bearer"])),
            Provider::Lambda => scheme(&["Bearer"]).or_else(basic_user),
        }
    }

    /// Whether the request changes something (and so is refused to read-only tokens).
    pub fn is_write(self, method: &Method, path: &str, body: &[u8]) -> bool {
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return false;
        }
        match self {
            // GraphQL: queries are reads, mutations are writes.
            Provider::FlyApi => String::from_utf8_lossy(body).contains("mutation"),
            Provider::FlyApp => false,
            // Minting an installation token authenticates with the app's JWT; it changes nothing.
            Provider::Github => !path.ends_with("/access_tokens"),
            // Searches and completions are POSTs that read.
            Provider::Tavily | Provider::Serper | Provider::Portkey => false,
            Provider::Slack => !path.ends_with("/auth.test"),
            Provider::Mem0 => !path.contains("/search") && !path.starts_with("/mem0/v2/memories"),
            _ => true,
        }
    }

    /// An error in the provider's own shape.
    pub fn error(self, status: StatusCode, message: &str) -> Response {
        let code = status.as_u16();
        match self {
            Provider::FlyMachines => json_response(status, json!({ "error": message })),
            Provider::FlyApi => {
                json_response(status, json!({ "errors": [{ "message": message }] }))
            }
            Provider::FlyApp => (status, message.to_string()).into_response(),
            Provider::FlyRegistry => super::oci::status_error(status, message),
            Provider::Github => json_response(
                status,
                json!({
                    "message": message,
                    "documentation_url": "https://docs.github.com/rest",
                    "status": code.to_string(),
                }),
            ),
            Provider::Portkey => {
                json_response(status, json!({ "status": "failure", "message": message }))
            }
            Provider::Tavily => json_response(status, json!({ "detail": { "error": message } })),
            Provider::Serper => {
                json_response(status, json!({ "message": message, "statusCode": code }))
            }
            Provider::Qdrant => json_response(
                status,
                json!({ "status": { "error": message }, "time": 0.0 }),
            ),
            Provider::Mem0 => json_response(status, json!({ "detail": message })),
            Provider::Slack => {
                let error = match code {
                    429 => "ratelimited",
                    401 => "invalid_auth",
                    _ => "fatal_error",
                };
                json_response(status, json!({ "ok": false, "error": error }))
            }
            Provider::Gong => json_response(
                status,
                json!({ "requestId": request_id(), "errors": [message] }),
            ),
            Provider::Lambda => {
                let code_name = match code {
                    401 => "global/invalid-api-key",
                    403 => "global/forbidden",
                    404 => "global/object-does-not-exist",
                    429 => "global/quota-exceeded",
                    _ => "global/unknown",
                };
                json_response(
                    status,
                    json!({ "error": { "code": code_name, "message": message } }),
                )
            }
        }
    }

    /// The answer to a request without a token.
    fn unauthorized(self) -> Response {
        match self {
            Provider::Github => self.error(StatusCode::UNAUTHORIZED, "Requires authentication"),
            Provider::FlyMachines => self.error(StatusCode::UNAUTHORIZED, "unauthorized"),
            Provider::FlyApi => json_response(
                StatusCode::UNAUTHORIZED,
                json!({ "data": null, "errors": [{
                    "message": "You must be authenticated to view this.",
                    "extensions": { "code": "UNAUTHORIZED" }
                }] }),
            ),
            Provider::Portkey => self.error(StatusCode::UNAUTHORIZED, "Invalid API Key"),
            Provider::Tavily => self.error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized: missing or invalid API key.",
            ),
            Provider::Serper => self.error(StatusCode::UNAUTHORIZED, "Unauthorized."),
            // Qdrant answers a missing key in plain text.
            Provider::Qdrant => (
                StatusCode::UNAUTHORIZED,
                "Must provide an API key or an Authorization bearer token",
            )
                .into_response(),
            Provider::Mem0 => self.error(
                StatusCode::UNAUTHORIZED,
                "Authentication credentials were not provided.",
            ),
            // Slack never answers 401: a 200 with ok=false.
            Provider::Slack => json_response(
                StatusCode::OK,
                json!({ "ok": false, "error": "not_authed" }),
            ),
            Provider::Gong => self.error(StatusCode::UNAUTHORIZED, "Unauthorized"),
            Provider::Lambda => json_response(
                StatusCode::UNAUTHORIZED,
                json!({ "error": {
                    "code": "global/invalid-api-key",
                    "message": "API key was invalid, expired, or deleted.",
                    "suggestion": "Check your API key or create a new one, then try again."
                } }),
            ),
            Provider::FlyApp => self.error(StatusCode::UNAUTHORIZED, "unauthorized"),
            Provider::FlyRegistry => super::oci::unauthorized(),
        }
    }

    /// The refusal of a write made with a read-only token.
    fn read_only(self) -> Response {
        match self {
            Provider::Github => self.error(
                StatusCode::FORBIDDEN,
                "Resource not accessible by integration",
            ),
            Provider::Slack => json_response(
                StatusCode::OK,
                json!({ "ok": false, "error": "missing_scope", "needed": "chat:write", "provided": "channels:read" }),
            ),
            Provider::Mem0 => self.error(
                StatusCode::FORBIDDEN,
                "You do not have permission to perform this action.",
            ),
            Provider::Qdrant => self.error(
                StatusCode::FORBIDDEN,
                "Forbidden: Write access denied for a read-only API key",
            ),
            Provider::FlyMachines | Provider::FlyApi => self.error(
                StatusCode::FORBIDDEN,
                "unauthorized: the token is read-only",
            ),
            _ => self.error(StatusCode::FORBIDDEN, "Forbidden: the API key is read-only"),
        }
    }
}

pub fn json_response(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{:016x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Per-token request budgets (the primary rate limit).
#[derive(Default)]
pub struct Budgets {
    by_token: HashMap<String, Budget>,
}

struct Budget {
    used: u64,
    /// Unix seconds when the window resets.
    reset: i64,
}

/// The rate-limit state after a request.
#[derive(Debug, Clone, Copy)]
pub struct RateInfo {
    pub limit: u64,
    pub remaining: u64,
    pub used: u64,
    pub reset: i64,
}

impl Budgets {
    /// Counts one request against `token`; `Err` when the budget is spent.
    pub fn take(&mut self, token: &str, limit: u64, now: i64) -> Result<RateInfo, RateInfo> {
        let budget = self.by_token.entry(token.into()).or_insert(Budget {
            used: 0,
            reset: now + WINDOW_SECS,
        });
        if now >= budget.reset {
            budget.used = 0;
            budget.reset = now + WINDOW_SECS;
        }
        let exhausted = budget.used >= limit;
        if !exhausted {
            budget.used += 1;
        }
        let info = RateInfo {
            limit,
            remaining: limit.saturating_sub(budget.used),
            used: budget.used,
            reset: budget.reset,
        };
        if exhausted { Err(info) } else { Ok(info) }
    }

    /// Gives back the request just counted (a 304, which GitHub does not count).
    pub fn refund(&mut self, token: &str, now: i64) {
        if let Some(b) = self.by_token.get_mut(token)
            && now < b.reset
        {
            b.used = b.used.saturating_sub(1);
        }
    }

    /// The state without counting a request (`GET /rate_limit` is free, as on GitHub).
    pub fn peek(&self, token: &str, limit: u64, now: i64) -> RateInfo {
        match self.by_token.get(token) {
            Some(b) if now < b.reset => RateInfo {
                limit,
                remaining: limit.saturating_sub(b.used),
                used: b.used,
                reset: b.reset,
            },
            _ => RateInfo {
                limit,
                remaining: limit,
                used: 0,
                reset: now + WINDOW_SECS,
            },
        }
    }
}

fn set_rate_headers(headers: &mut HeaderMap, info: RateInfo) {
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    put("x-ratelimit-limit", info.limit.to_string());
    put("x-ratelimit-remaining", info.remaining.to_string());
    put("x-ratelimit-used", info.used.to_string());
    put("x-ratelimit-reset", info.reset.to_string());
    put("x-ratelimit-resource", "core".into());
}

/// The middleware.
pub async fn gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let (mut parts, body) = req.into_parts();
    let provider = Provider::of(&path);
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            let resp = provider
                .unwrap_or(Provider::FlyApp)
                .error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
            return resp;
        }
    };
    let token = provider.and_then(|p| p.token(&parts.headers, &bytes));
    let scope = Scope::of(token.as_deref());
    let mut entry = LogEntry {
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        method: method.to_string(),
        path: path.clone(),
        status: None,
        token_scope: scope.name().into(),
        body: masked_body(&bytes),
        write: provider.is_some_and(|p| p.is_write(&method, &path, &bytes)),
        fault: None,
        handled: None,
    };
    let rate_key = token.clone();
    let finish = |mut resp: Response, entry: LogEntry, rate: Option<RateInfo>| {
        if let Some(p) = provider {
            // GitHub sends its rate-limit headers on every response, refusals and faults
            // included: without a count, show the caller's budget as it stands.
            let rate = rate.or_else(|| {
                (p == Provider::Github).then(|| {
                    let now = chrono::Utc::now().timestamp();
                    let budgets = shared.budgets.lock().unwrap_or_else(|e| e.into_inner());
                    match &rate_key {
                        Some(token) => budgets.peek(token, shared.config.rate_limit, now),
                        None => budgets.peek("", ANONYMOUS_RATE_LIMIT, now),
                    }
                })
            });
            decorate(p, &mut resp, rate);
        }
        let mut entry = entry;
        entry.status = Some(resp.status().as_u16());
        shared.log.record(entry);
        resp
    };

    let Some(provider) = provider else {
        let req = Request::from_parts(parts, Body::from(bytes));
        let resp = next.run(req).await;
        return finish(resp, entry, None);
    };

    // Faults and latency: the "network" and "load balancer", before the service itself.
    let mut lost = false;
    if provider != Provider::FlyApp {
        let fault = shared
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .draw();
        if let Some(kind) = fault {
            entry.fault = Some(kind.name().into());
            lost = kind == FaultKind::Lost;
        }
        if let Some(kind) = fault.filter(|k| *k != FaultKind::Lost) {
            let retry_after = shared.config.faults.retry_after_secs;
            let resp = match kind {
                FaultKind::Drop => {
                    shared.log.record(entry);
                    if let Some(dropper) = parts.extensions.get::<DropConnection>() {
                        dropper.fire();
                    }
                    // The connection task drops this future with the connection.
                    return std::future::pending().await;
                }
                FaultKind::Slow => {
                    // Logged before the wait, with the status it will answer: a client that
                    // times out first closes the connection, which cancels this future, and
                    // the request must still be in the log.
                    entry.status = Some(StatusCode::GATEWAY_TIMEOUT.as_u16());
                    shared.log.record(entry);
                    tokio::time::sleep(shared.config.faults.slow).await;
                    let mut resp =
                        provider.error(StatusCode::GATEWAY_TIMEOUT, "upstream request timed out");
                    // From the "load balancer": no rate-limit headers.
                    decorate(provider, &mut resp, None);
                    return resp;
                }
                FaultKind::Internal => {
                    provider.error(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
                }
                // (`lost` is filtered out above: its answer is replaced after the handler.)
                FaultKind::BadGateway | FaultKind::Lost => super::faults::bad_gateway(),
                FaultKind::SecondaryRateLimit if provider == Provider::Github => {
                    let mut resp = provider.error(
                        StatusCode::FORBIDDEN,
                        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
                    );
                    resp.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                    resp
                }
                FaultKind::TooManyRequests | FaultKind::SecondaryRateLimit => {
                    let mut resp =
                        provider.error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
                    resp.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                    resp
                }
            };
            return finish(resp, entry, None);
        }
        if !shared.config.latency.is_zero() {
            tokio::time::sleep(shared.config.latency).await;
        }
    }

    // Authentication.
    let Some(token) = token else {
        if provider == Provider::FlyApp {
            let req = Request::from_parts(parts, Body::from(bytes));
            let resp = next.run(req).await;
            return finish(resp, entry, None);
        }
        return finish(provider.unauthorized(), entry, None);
    };

    // The request budget (GET /rate_limit is free).
    let now = chrono::Utc::now().timestamp();
    let limit = shared.config.rate_limit;
    let rate = {
        let mut budgets = shared.budgets.lock().unwrap_or_else(|e| e.into_inner());
        if provider == Provider::Github && path == "/github/rate_limit" {
            Ok(budgets.peek(&token, limit, now))
        } else {
            budgets.take(&token, limit, now)
        }
    };
    let rate = match rate {
        Ok(info) => info,
        Err(info) => {
            let wait = (info.reset - now).max(1) as u64;
            let mut resp = if provider == Provider::Github {
                provider.error(
                    StatusCode::FORBIDDEN,
                    "API rate limit exceeded for user. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)",
                )
            } else {
                provider.error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
            };
            if provider != Provider::Github {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(wait));
            }
            return finish(resp, entry, Some(info));
        }
    };

    // Authorization.
    if scope == Scope::ReadOnly && provider.is_write(&method, &path, &bytes) {
        return finish(provider.read_only(), entry, Some(rate));
    }
    if provider == Provider::Github && provider.is_write(&method, &path, &bytes) {
        let mut writes = shared.writes.lock().unwrap_or_else(|e| e.into_inner());
        let limits = &shared.config.github_write_limits;
        if let Err(refused) = writes.take(&token, limits, std::time::Instant::now()) {
            return finish(refused, entry, Some(rate));
        }
    }

    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    parts.extensions.insert(Origin(format!("http://{host}")));
    let if_none_match = parts.headers.get(header::IF_NONE_MATCH).cloned();
    let caller_token = token.clone();
    parts.extensions.insert(Caller { token, scope });
    let req = Request::from_parts(parts, Body::from(bytes));
    let mut resp = next.run(req).await;
    if lost {
        // The change is made; its answer never reaches the client.
        entry.handled = Some(resp.status().as_u16());
        return finish(super::faults::bad_gateway(), entry, None);
    }
    let mut rate = rate;
    if provider == Provider::Github && method == Method::GET && resp.status() == StatusCode::OK {
        let (not_modified, tagged) = super::etag::entity_tag(resp, if_none_match.as_ref()).await;
        resp = tagged;
        if not_modified {
            // GitHub does not count a 304 against the rate limit.
            let now = chrono::Utc::now().timestamp();
            let mut budgets = shared.budgets.lock().unwrap_or_else(|e| e.into_inner());
            budgets.refund(&caller_token, now);
            rate = budgets.peek(&caller_token, shared.config.rate_limit, now);
        }
    }
    finish(resp, entry, Some(rate))
}

/// Headers every response of a provider carries.
fn decorate(provider: Provider, resp: &mut Response, rate: Option<RateInfo>) {
    let id = request_id();
    let headers = resp.headers_mut();
    match provider {
        Provider::FlyMachines | Provider::FlyApi => {
            if let Ok(v) = HeaderValue::from_str(&format!("{id}-ord")) {
                headers.insert("fly-request-id", v);
            }
        }
        Provider::Github => {
            if let Ok(v) = HeaderValue::from_str(&id.to_uppercase()) {
                headers.insert("x-github-request-id", v);
            }
            headers.insert(
                "x-github-api-version-selected",
                HeaderValue::from_static("2022-11-28"),
            );
            if let Some(rate) = rate {
                set_rate_headers(headers, rate);
            }
        }
        _ => {}
    }
}

/// Any path no provider serves.
pub async fn not_found(req: Request) -> Response {
    match Provider::of(req.uri().path()) {
        Some(Provider::Github) => Provider::Github.error(StatusCode::NOT_FOUND, "Not Found"),
        Some(p) => p.error(StatusCode::NOT_FOUND, "not found"),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// Parses a JSON body, answering the provider's 400 when it is not JSON.
pub fn parse_json(provider: Provider, bytes: &Bytes) -> Result<Value, Response> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|e| {
        provider.error(
            StatusCode::BAD_REQUEST,
            &format!("Problems parsing JSON: {e}"),
        )
    })
}
