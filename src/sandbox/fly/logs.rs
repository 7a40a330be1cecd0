//! Logs: `GET /fly/api/api/v1/apps/{app}/logs?next_token=…` as flyctl polls it, one line per
//! machine transition.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::sandbox::Shared;
use crate::sandbox::gate::{Provider, json_response};

#[derive(serde::Deserialize)]
pub(super) struct LogsQuery {
    next_token: Option<String>,
}

pub(super) async fn logs(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    Query(q): Query<LogsQuery>,
) -> Response {
    let mut world = shared.world();
    world.fly_settle(&app);
    let Some(a) = world.fly.apps.get(&app) else {
        return Provider::FlyApi.error(StatusCode::NOT_FOUND, "Could not find App");
    };
    let from: usize = q
        .next_token
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let data: Vec<Value> = a
        .logs
        .iter()
        .skip(from)
        .map(|l| {
            json!({
                "id": l.id,
                "type": "logs",
                "attributes": {
                    "timestamp": l.timestamp,
                    "message": l.message,
                    "level": l.level,
                    "instance": l.instance,
                    "region": l.region,
                    "meta": { "instance": l.instance, "region": l.region, "event": { "provider": "app" } },
                }
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        json!({ "data": data, "meta": { "next_token": a.logs.len().to_string() } }),
    )
}
