//! `GET /rate_limit`: the caller's primary budget as the gate counts it (the request itself is
//! free, as on GitHub), and GitHub's own limits for the resources the sandbox does not count.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, json};

use crate::sandbox::Shared;
use crate::sandbox::gate::{Caller, json_response};

pub async fn rate_limit(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let now = chrono::Utc::now().timestamp();
    let core = shared
        .budgets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .peek(&caller.token, shared.config.rate_limit, now);
    let core_json = json!({ "limit": core.limit, "remaining": core.remaining, "reset": core.reset, "used": core.used, "resource": "core" });
    let mut resources = Map::new();
    resources.insert("core".into(), core_json.clone());
    // The other resources keep GitHub's own limits; the sandbox only counts `core`.
    for (name, limit) in [
        ("search", 30),
        ("graphql", 5000),
        ("integration_manifest", 5000),
        ("source_import", 100),
        ("code_scanning_upload", 1000),
        ("actions_runner_registration", 10000),
        ("scim", 15000),
        ("dependency_snapshots", 100),
        ("dependency_sbom", 100),
        ("code_search", 10),
        ("code_scanning_autofix", 10),
        ("copilot_usage_records", 100),
    ] {
        resources.insert(
            name.into(),
            json!({ "limit": limit, "remaining": limit, "reset": now + 60, "used": 0, "resource": name }),
        );
    }
    json_response(
        StatusCode::OK,
        json!({ "resources": resources, "rate": core_json }),
    )
}
