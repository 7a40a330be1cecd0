//! App secrets: `/fly/machines/v1/apps/{app}/secrets…`. Served as names and digests, never
//! values; every change bumps the app's secrets version.

use std::collections::BTreeMap;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::sandbox::Shared;
use crate::sandbox::gate::{Provider, json_response, parse_json};
use crate::sandbox::state::{FlySecret, now, secret_digest};

use super::errors::{app_not_found, err};

pub(super) fn secrets_json(secrets: &BTreeMap<String, FlySecret>) -> Value {
    Value::Array(
        secrets
            .iter()
            .map(|(name, s)| {
                json!({
                    "name": name,
                    "digest": s.digest,
                    "created_at": s.created_at,
                    "updated_at": s.updated_at,
                })
            })
            .collect(),
    )
}

/// Fly accepts environment-variable names.
pub(super) fn valid_secret_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) async fn list_secrets(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
) -> Response {
    let world = shared.world();
    let Some(a) = world.fly.apps.get(&app) else {
        return app_not_found(&app);
    };
    json_response(
        StatusCode::OK,
        json!({ "secrets": secrets_json(&a.secrets) }),
    )
}

pub(super) async fn set_secrets(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_json(Provider::FlyMachines, &body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let Some(values) = body.get("values").and_then(Value::as_object) else {
        return err(StatusCode::BAD_REQUEST, "values is required");
    };
    // Validate everything before changing anything: a refused request changes nothing.
    let mut changes: Vec<(String, Option<String>)> = Vec::new();
    for (name, value) in values {
        if !valid_secret_name(name) {
            return err(
                StatusCode::BAD_REQUEST,
                format!("invalid secret name `{name}`"),
            );
        }
        match value {
            Value::Null => changes.push((name.clone(), None)),
            Value::String(s) => changes.push((name.clone(), Some(s.clone()))),
            _ => {
                return err(
                    StatusCode::BAD_REQUEST,
                    format!("the value of `{name}` must be a string or null"),
                );
            }
        }
    }
    let mut world = shared.world();
    let Some(a) = world.fly.apps.get_mut(&app) else {
        return app_not_found(&app);
    };
    a.secrets_version += 1;
    let version = a.secrets_version;
    for (name, value) in changes {
        match value {
            None => {
                a.secrets.remove(&name);
            }
            Some(value) => {
                let digest = secret_digest(&app, &name, version);
                let now = now();
                let created_at = a
                    .secrets
                    .get(&name)
                    .map(|s| s.created_at.clone())
                    .unwrap_or_else(|| now.clone());
                a.secrets.insert(
                    name,
                    FlySecret {
                        value: Some(value),
                        digest,
                        created_at,
                        updated_at: now,
                    },
                );
            }
        }
    }
    json_response(
        StatusCode::OK,
        json!({ "version": version, "secrets": secrets_json(&a.secrets) }),
    )
}

pub(super) async fn delete_secret(
    State(shared): State<Arc<Shared>>,
    Path((app, name)): Path<(String, String)>,
) -> Response {
    let mut world = shared.world();
    let Some(a) = world.fly.apps.get_mut(&app) else {
        return app_not_found(&app);
    };
    if a.secrets.remove(&name).is_none() {
        return err(StatusCode::NOT_FOUND, format!("secret not found: {name}"));
    }
    a.secrets_version += 1;
    json_response(StatusCode::OK, json!({ "version": a.secrets_version }))
}
