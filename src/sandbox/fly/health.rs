//! The apps themselves (`/fly/apps/{app}/…`, `FLY_APP_URL_TEMPLATE`): 200 `ok` when the app has
//! machines, all `started`, none running an image whose name contains `bad` or `unhealthy`; 503
//! otherwise. Public: no token, never faulted.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::sandbox::Shared;

use super::machines::image_is_healthy;

pub(super) async fn health(State(shared): State<Arc<Shared>>, Path(app): Path<String>) -> Response {
    app_health(&shared, &app)
}

pub(super) async fn health_path(
    State(shared): State<Arc<Shared>>,
    Path((app, _rest)): Path<(String, String)>,
) -> Response {
    app_health(&shared, &app)
}

pub(super) fn app_health(shared: &Shared, app: &str) -> Response {
    let mut world = shared.world();
    world.fly_settle(app);
    let Some(a) = world.fly.apps.get(app) else {
        return (StatusCode::NOT_FOUND, format!("app not found: {app}")).into_response();
    };
    if a.machines.is_empty() {
        return (StatusCode::SERVICE_UNAVAILABLE, "unhealthy: no machines").into_response();
    }
    for m in a.machines.values() {
        let image = m.config.get("image").and_then(Value::as_str).unwrap_or("");
        if m.state != "started" {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("unhealthy: machine {} is {}", m.id, m.state),
            )
                .into_response();
        }
        if !image_is_healthy(m.known_as()) {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("unhealthy: machine {} runs {image}", m.id),
            )
                .into_response();
        }
    }
    (StatusCode::OK, "ok").into_response()
}
