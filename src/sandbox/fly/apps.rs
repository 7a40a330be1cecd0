//! Apps: `/fly/machines/v1/apps…` (list by organization, create, read, delete).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::sandbox::Shared;
use crate::sandbox::gate::{Provider, json_response, parse_json};

use super::errors::{app_not_found, err};

#[derive(serde::Deserialize)]
pub(super) struct OrgQuery {
    org_slug: Option<String>,
}

pub(super) async fn list_apps(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<OrgQuery>,
) -> Response {
    let Some(org) = q.org_slug else {
        return err(StatusCode::BAD_REQUEST, "org_slug is required");
    };
    let world = shared.world();
    if !world.fly.orgs.contains(&org) && org != "personal" {
        return err(
            StatusCode::NOT_FOUND,
            format!("organization not found: {org}"),
        );
    }
    let apps: Vec<Value> = world
        .fly
        .apps
        .values()
        .filter(|a| a.org == org)
        .map(|a| json!({ "id": a.id, "name": a.name, "machine_count": a.machines.len() }))
        .collect();
    json_response(
        StatusCode::OK,
        json!({ "total_apps": apps.len(), "apps": apps }),
    )
}

pub(super) async fn create_app(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body = match parse_json(Provider::FlyMachines, &body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let name = body.get("app_name").and_then(Value::as_str).unwrap_or("");
    let org = body.get("org_slug").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() || org.is_empty() {
        return err(
            StatusCode::BAD_REQUEST,
            "app_name and org_slug are required",
        );
    }
    let mut world = shared.world();
    if !world.fly.orgs.contains(org) {
        return err(
            StatusCode::NOT_FOUND,
            format!("organization not found: {org}"),
        );
    }
    if world.fly.apps.contains_key(name) {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Name has already been taken",
        );
    }
    world.fly_create_app(name, org);
    StatusCode::CREATED.into_response()
}

pub(super) async fn get_app(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
) -> Response {
    let world = shared.world();
    let Some(a) = world.fly.apps.get(&app) else {
        return app_not_found(&app);
    };
    json_response(
        StatusCode::OK,
        json!({
            "id": a.id,
            "name": a.name,
            "organization": { "name": a.org, "slug": a.org },
            "status": if a.machines.is_empty() { "pending" } else { "deployed" },
        }),
    )
}

pub(super) async fn delete_app(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
) -> Response {
    let mut world = shared.world();
    if world.fly.apps.remove(&app).is_none() {
        return app_not_found(&app);
    }
    shared.changed.notify_waiters();
    StatusCode::ACCEPTED.into_response()
}
