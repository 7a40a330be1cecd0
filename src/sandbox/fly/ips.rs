//! IP assignments: `/fly/machines/v1/apps/{app}/ip_assignments` (list, assign), answered as
//! fly-go's `flaps` client reads them: `{"ips": [{ip, region, service_name, shared,
//! created_at}]}`; an assignment takes `{"type": "v6" | "shared_v4" | "v4" | "private_v6"}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::sandbox::Shared;
use crate::sandbox::gate::{Provider, json_response, parse_json};
use crate::sandbox::state::now;

use super::errors::{app_not_found, err};

pub(super) async fn list_ips(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
) -> Response {
    let world = shared.world();
    let Some(a) = world.fly.apps.get(&app) else {
        return app_not_found(&app);
    };
    json_response(StatusCode::OK, json!({ "ips": a.ips }))
}

pub(super) async fn assign_ip(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_json(Provider::FlyMachines, &body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let kind = body.get("type").and_then(Value::as_str).unwrap_or("");
    let mut world = shared.world();
    let tail = world.hex_id(4);
    let Some(a) = world.fly.apps.get_mut(&app) else {
        return app_not_found(&app);
    };
    let n = a.ips.len() + 1;
    let (ip, shared_v4) = match kind {
        "v6" => (format!("2a09:8280:1::{tail}"), false),
        "private_v6" => (format!("fdaa:0:1:a7b::{tail}"), false),
        "shared_v4" => (format!("66.241.124.{n}"), true),
        "v4" => (format!("137.66.{n}.{}", 10 + n), false),
        other => {
            return err(
                StatusCode::BAD_REQUEST,
                format!("invalid ip type `{other}`: expected v6, shared_v4, v4 or private_v6"),
            );
        }
    };
    let out = json!({
        "ip": ip,
        "region": "global",
        "service_name": "",
        "shared": shared_v4,
        "created_at": now(),
    });
    a.ips.push(out.clone());
    json_response(StatusCode::OK, out)
}
