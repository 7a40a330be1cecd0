//! The OCI distribution API's conventions that the gate and Fly's registry share: the error
//! body (`{"errors": [{"code", "message", "detail"}]}`), the 401 with its challenge, and the
//! credentials a Docker client sends (Basic `x:<token>` as flyctl logs in, or Bearer).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

/// An error in the distribution API's shape.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "errors": [{ "code": code, "message": message, "detail": Value::Null }] })
            .to_string(),
    )
        .into_response()
}

/// An error for a status, with the spec's code for it.
pub fn status_error(status: StatusCode, message: &str) -> Response {
    let code = match status.as_u16() {
        401 => "UNAUTHORIZED",
        403 => "DENIED",
        404 => "NAME_UNKNOWN",
        429 => "TOOMANYREQUESTS",
        _ => "UNKNOWN",
    };
    error(status, code, message)
}

/// 401 with the challenge a registry sends.
pub fn unauthorized() -> Response {
    let mut resp = error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "authentication required",
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"registry.fly.io\""),
    );
    resp
}

/// The token of an `Authorization` header: the password of Basic credentials (Docker's
/// login to Fly's registry: user `x`, the Fly token), or a Bearer token.
pub fn token(authorization: Option<&str>) -> Option<String> {
    let (scheme, rest) = authorization?.split_once(' ')?;
    let rest = rest.trim();
    let token = if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        text.split_once(':')?.1.to_string()
    } else if scheme.eq_ignore_ascii_case("bearer") {
        rest.to_string()
    } else {
        return None;
    };
    (!token.is_empty()).then_some(token)
}
