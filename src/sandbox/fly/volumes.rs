//! Volumes: `/fly/machines/v1/apps/{app}/volumes` (list, create), in the Machines API's shape
//! (`{id, name, region, size_gb, state, attached_machine_id, created_at}`). A machine mounts a
//! volume by id (`config.mounts[].volume`): the volume must be the app's, in the machine's
//! region and attached to no other machine (the Machines API's 400 otherwise); a destroyed
//! machine frees its volumes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::sandbox::Shared;
use crate::sandbox::gate::{Provider, json_response, parse_json};
use crate::sandbox::state::{FlyApp, now};

use super::errors::{app_not_found, err};

pub(super) async fn list_volumes(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
) -> Response {
    let world = shared.world();
    let Some(a) = world.fly.apps.get(&app) else {
        return app_not_found(&app);
    };
    json_response(StatusCode::OK, json!(a.volumes))
}

pub(super) async fn create_volume(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_json(Provider::FlyMachines, &body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let name = body.get("name").and_then(Value::as_str).unwrap_or("");
    let region = body.get("region").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() || region.is_empty() {
        return err(StatusCode::BAD_REQUEST, "name and region are required");
    }
    let size = body.get("size_gb").and_then(Value::as_u64).unwrap_or(1);
    let mut world = shared.world();
    let id = format!("vol_{}", world.hex_id(16));
    let Some(a) = world.fly.apps.get_mut(&app) else {
        return app_not_found(&app);
    };
    let v = json!({
        "id": id, "name": name, "region": region, "size_gb": size, "state": "created",
        "encrypted": true, "attached_machine_id": null, "created_at": now(),
    });
    a.volumes.push(v.clone());
    json_response(StatusCode::OK, v)
}

/// Check and attach the volumes a new machine mounts; the 400 of the Machines API otherwise.
pub(super) fn attach(
    a: &mut FlyApp,
    machine: &str,
    region: &str,
    config: &Value,
) -> Result<(), String> {
    let mounts = config
        .get("mounts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for m in &mounts {
        let Some(vol) = m.get("volume").and_then(Value::as_str) else {
            return Err(format!(
                "invalid config: mount `{}` names no volume",
                m.get("path").and_then(Value::as_str).unwrap_or("?")
            ));
        };
        let Some(v) = a.volumes.iter().find(|v| v["id"] == vol) else {
            return Err(format!("volume {vol} not found"));
        };
        if v["region"] != region {
            return Err(format!(
                "volume {vol} is in {}, not in {region}",
                v["region"]
            ));
        }
        if !v["attached_machine_id"].is_null() {
            return Err(format!(
                "volume {vol} is already attached to {}",
                v["attached_machine_id"]
            ));
        }
    }
    for m in &mounts {
        let vol = m["volume"].as_str().unwrap_or_default();
        if let Some(v) = a.volumes.iter_mut().find(|v| v["id"] == vol) {
            v["attached_machine_id"] = json!(machine);
        }
    }
    Ok(())
}

/// Free the volumes of a destroyed machine.
pub(super) fn detach(a: &mut FlyApp, machine: &str) {
    for v in &mut a.volumes {
        if v["attached_machine_id"] == machine {
            v["attached_machine_id"] = Value::Null;
        }
    }
}
