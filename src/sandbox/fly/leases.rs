//! Leases: `/fly/machines/v1/apps/{app}/machines/{id}/lease` (acquire or refresh, read,
//! release), answered as `{"status": "success", "data": {nonce, expires_at, owner, description,
//! version}}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::sandbox::Shared;
use crate::sandbox::gate::{Provider, json_response, parse_json};
use crate::sandbox::state::{Lease, Machine};

use super::VIEWER_EMAIL;
use super::errors::{app_not_found, err, machine_not_found};
use super::machines::{check_lease, mutate_machine};

/// A lease's default time to live when the request names none: Fly's default, 30 seconds.
const DEFAULT_LEASE_TTL: i64 = 30;

pub(super) fn lease_json(lease: &Lease, m: &Machine) -> Value {
    json!({
        "status": "success",
        "data": {
            "nonce": lease.nonce,
            "expires_at": lease.expires_at,
            "owner": lease.owner,
            "description": lease.description,
            "version": m.instance_id,
        }
    })
}

pub(super) async fn acquire_lease(
    State(shared): State<Arc<Shared>>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match parse_json(Provider::FlyMachines, &body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let ttl = body
        .get("ttl")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_LEASE_TTL)
        .max(1);
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut world = shared.world();
    if !world.fly.apps.contains_key(&app) {
        return app_not_found(&app);
    }
    let nonce = world.hex_id(12);
    let Some(m) = world.machine_mut(&app, &id) else {
        return machine_not_found(&id);
    };
    // Refreshing one's own lease needs its nonce; anyone else gets 409.
    if let Err(resp) = check_lease(m, &headers) {
        return resp;
    }
    let now = chrono::Utc::now().timestamp();
    let nonce = match &m.lease {
        Some(l) if l.expires_at > now => l.nonce.clone(),
        _ => nonce,
    };
    let lease = Lease {
        nonce,
        expires_at: now + ttl,
        owner: VIEWER_EMAIL.into(),
        description,
    };
    let out = lease_json(&lease, m);
    m.lease = Some(lease);
    json_response(StatusCode::OK, out)
}

pub(super) async fn get_lease(
    State(shared): State<Arc<Shared>>,
    Path((app, id)): Path<(String, String)>,
) -> Response {
    let mut world = shared.world();
    if !world.fly.apps.contains_key(&app) {
        return app_not_found(&app);
    }
    let Some(m) = world.machine_mut(&app, &id) else {
        return machine_not_found(&id);
    };
    match &m.lease {
        Some(l) if l.expires_at > chrono::Utc::now().timestamp() => {
            json_response(StatusCode::OK, lease_json(l, m))
        }
        _ => err(StatusCode::NOT_FOUND, "lease not found"),
    }
}

pub(super) async fn release_lease(
    State(shared): State<Arc<Shared>>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    mutate_machine(&shared, &app, &id, &headers, |world, app, id| {
        let m = world.machine_mut(app, id).expect("checked");
        m.lease = None;
        json_response(StatusCode::OK, json!({ "status": "success" }))
    })
}
