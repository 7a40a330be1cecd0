//! The GitHub App: `GET /app` and `POST /app/installations/{id}/access_tokens`, both
//! authenticated with the app's JWT as `Bearer`.
//!
//! The sandbox checks the JWT's shape, that `exp` is in the future and, when the state file
//! names an app, that `iss` is its id and the installation is one of its own; when the app has a
//! `public_key`, the RS256 signature must verify against it. A token requested with only `read`
//! permissions is read-only (`ro-ghs_…`), any other `ghs_…`.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::extract::{ApiRoot, OptionalJsonBody, Refusal, Reply};
use super::users::login_json;
use crate::sandbox::Shared;
use crate::sandbox::gate::{Caller, json_response};

/// Installation tokens live one hour.
const INSTALLATION_TOKEN_SECS: i64 = 3600;

const UNDECODABLE: Refusal = Refusal::Message(
    StatusCode::UNAUTHORIZED,
    "A JSON web token could not be decoded",
);

const UNKNOWN_APP: Refusal = Refusal::Message(StatusCode::UNAUTHORIZED, "Integration not found");

/// The app a request authenticates as with its JWT; GitHub's 401 when the JWT does not do.
pub struct AppJwt {
    pub app_id: u64,
}

impl AppJwt {
    /// Checks the caller's token as an app JWT.
    fn check(shared: &Shared, caller: &Caller) -> Result<AppJwt, Refusal> {
        check_app_jwt(shared, &caller.token).map(|app_id| AppJwt { app_id })
    }
}

impl FromRequestParts<Arc<Shared>> for AppJwt {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, Response> {
        let Extension(caller) = Extension::<Caller>::from_request_parts(parts, shared)
            .await
            .map_err(IntoResponse::into_response)?;
        AppJwt::check(shared, &caller).map_err(IntoResponse::into_response)
    }
}

/// A GitHub App JWT, checked as GitHub does: decodable, not expired, issued by the app the
/// state file names (if it names one) and, when the state gives the app's public key, signed
/// by it. Answers the app id.
fn check_app_jwt(shared: &Shared, jwt: &str) -> Result<u64, Refusal> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let claims = (parts.len() == 3)
        .then(|| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(parts[1].trim_end_matches('='))
                .ok()
        })
        .flatten()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let Some(claims) = claims else {
        return Err(UNDECODABLE);
    };
    let now = chrono::Utc::now().timestamp();
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| exp <= now)
    {
        return Err(Refusal::Message(
            StatusCode::UNAUTHORIZED,
            "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
        ));
    }
    let iss = claims.get("iss").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let world = shared.world();
    if let Some(key) = world
        .github
        .app
        .as_ref()
        .and_then(|a| a.public_key.as_ref())
        && !rs256_valid(key, &parts)
    {
        return Err(UNDECODABLE);
    }
    match &world.github.app {
        Some(app) if iss.as_deref() != Some(app.id.to_string().as_str()) => Err(UNKNOWN_APP),
        Some(app) => Ok(app.id),
        None => iss.and_then(|i| i.parse().ok()).ok_or(UNKNOWN_APP),
    }
}

/// Whether `header.payload.signature` is an RS256 JWT signed by `key`'s private half.
fn rs256_valid(key: &rsa::RsaPublicKey, parts: &[&str]) -> bool {
    use rsa::signature::Verifier as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine
        .decode(parts[0].trim_end_matches('='))
        .ok()
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok());
    if header
        .as_ref()
        .and_then(|h| h.get("alg"))
        .and_then(Value::as_str)
        != Some("RS256")
    {
        return false;
    }
    let Ok(signature) = engine
        .decode(parts[2].trim_end_matches('='))
        .map_err(|_| ())
        .and_then(|b| rsa::pkcs1v15::Signature::try_from(b.as_slice()).map_err(|_| ()))
    else {
        return false;
    };
    let verifier = rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(key.clone());
    let signed = format!("{}.{}", parts[0], parts[1]);
    verifier.verify(signed.as_bytes(), &signature).is_ok()
}

pub async fn get_app(
    State(shared): State<Arc<Shared>>,
    app: AppJwt,
    ApiRoot(api): ApiRoot,
) -> Response {
    let id = app.app_id;
    let mut world = shared.world();
    let owner = world
        .github
        .repos
        .values()
        .next()
        .map(|r| r.owner.clone())
        .unwrap_or_else(|| world.github.login.clone());
    let owner_json = login_json(&mut world, &api, &owner);
    let installations = world
        .github
        .app
        .as_ref()
        .map_or(0, |a| a.installations.len());
    json_response(
        StatusCode::OK,
        json!({
            "id": id,
            "slug": "sophia-infra",
            "client_id": format!("Iv1.{id:016x}"),
            "node_id": format!("A_kwDO{id}"),
            "owner": owner_json,
            "name": "sophia-infra",
            "description": "The sophia reconciler (sandbox)",
            "external_url": "https://github.com/ai-cherry/sophia-intel-ai",
            "html_url": "https://github.com/apps/sophia-infra",
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "permissions": { "administration": "write", "contents": "read", "environments": "write", "issues": "write", "metadata": "read", "secrets": "write" },
            "events": [],
            "installations_count": installations,
        }),
    )
}

/// The JWT is checked after the path and the body are read (not by the [`AppJwt`] extractor,
/// which would run before the body is buffered): a body over axum's limit answers 413 first.
pub async fn installation_token(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(installation): Path<u64>,
    body: Bytes,
) -> Reply {
    AppJwt::check(&shared, &caller)?;
    let now = chrono::Utc::now().timestamp();
    let body = OptionalJsonBody::parse(&body)?;
    if shared
        .world()
        .github
        .app
        .as_ref()
        .is_some_and(|app| !app.installations.contains(&installation))
    {
        return Err(Refusal::NotFound);
    }
    let permissions = body
        .get("permissions")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_else(|| {
            let mut m = Map::new();
            for p in [
                "actions",
                "administration",
                "contents",
                "environments",
                "issues",
                "metadata",
                "pull_requests",
                "secrets",
            ] {
                m.insert(p.into(), json!("write"));
            }
            m.insert("metadata".into(), json!("read"));
            m
        });
    let read_only = !permissions.is_empty() && permissions.values().all(|v| v == "read");
    let secret = shared.world().hex_id(36);
    let token = if read_only {
        format!("ro-ghs_{secret}")
    } else {
        format!("ghs_{secret}")
    };
    let expires_at = chrono::DateTime::from_timestamp(now + INSTALLATION_TOKEN_SECS, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    Ok(json_response(
        StatusCode::CREATED,
        json!({
            "token": token,
            "expires_at": expires_at,
            "permissions": permissions,
            "repository_selection": "all",
        }),
    ))
}
