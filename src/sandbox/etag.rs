//! GitHub's conditional answers: an `ETag` on every 200 of a GET, `304 Not Modified` when
//! `If-None-Match` names it (the gate then gives the request back to the caller's budget, as
//! GitHub does not count a 304).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A GitHub 200 with its `ETag` (a weak tag of the body's SHA-256, as GitHub's `W/"…"`), or
/// `304 Not Modified` with no body when `If-None-Match` names that tag (`true`).
pub async fn entity_tag(resp: Response, if_none_match: Option<&HeaderValue>) -> (bool, Response) {
    use sha2::Digest as _;
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return (false, StatusCode::BAD_GATEWAY.into_response());
    };
    let tag = format!("W/\"{}\"", hex::encode(sha2::Sha256::digest(&bytes)));
    let Ok(value) = HeaderValue::from_str(&tag) else {
        return (false, Response::from_parts(parts, Body::from(bytes)));
    };
    let matches = if_none_match
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    parts.headers.insert(header::ETAG, value);
    if matches {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_LENGTH);
        return (true, Response::from_parts(parts, Body::empty()));
    }
    (false, Response::from_parts(parts, Body::from(bytes)))
}
