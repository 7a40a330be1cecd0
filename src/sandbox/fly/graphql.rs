//! The GraphQL API (`/fly/api/graphql`): the queries flyctl and sophia make (`viewer`,
//! `app(name:)`, `organization(slug:)`), in Fly's shapes; mutations are not emulated.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::sandbox::Shared;
use crate::sandbox::gate::{Caller, Provider, json_response, parse_json};

use super::VIEWER_EMAIL;

/// Organization and deploy tokens (macaroons) are not users: `viewer` refuses them.
pub(super) fn is_user_token(token: &str) -> bool {
    let token = token.strip_prefix("ro-").unwrap_or(token);
    !["fm1r_", "fm1a_", "fm2_"]
        .iter()
        .any(|p| token.starts_with(p))
}

/// The argument of `field(arg: …)` in a query: a literal string or a variable.
pub(super) fn argument(query: &str, field: &str, variables: &Value) -> Option<String> {
    let start = query.find(&format!("{field}("))? + field.len() + 1;
    let inner = &query[start..start + query[start..].find(')')?];
    let value = inner.split_once(':')?.1.trim();
    if let Some(var) = value.strip_prefix('$') {
        let var: String = var
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        return variables.get(var)?.as_str().map(str::to_string);
    }
    Some(value.trim_matches('"').to_string())
}

pub(super) fn org_json(slug: &str) -> Value {
    json!({ "id": format!("org-{slug}"), "slug": slug, "name": slug, "type": "SHARED" })
}

pub(super) async fn graphql(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let body = match parse_json(Provider::FlyApi, &body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let query = body.get("query").and_then(Value::as_str).unwrap_or("");
    let variables = body.get("variables").cloned().unwrap_or(Value::Null);
    if query.trim_start().starts_with("mutation") {
        return json_response(
            StatusCode::OK,
            json!({ "data": null, "errors": [{ "message": "mutations are not emulated by the sophia sandbox" }] }),
        );
    }
    let world = shared.world();
    let mut data = Map::new();
    let mut errors = Vec::new();
    if query.contains("viewer") {
        if is_user_token(&caller.token) {
            let orgs: Vec<Value> = world.fly.orgs.iter().map(|o| org_json(o)).collect();
            data.insert(
                "viewer".into(),
                json!({
                    "id": "U_sandbox",
                    "email": VIEWER_EMAIL,
                    "name": "Sophia Sandbox",
                    "organizations": { "nodes": orgs },
                }),
            );
        } else {
            data.insert("viewer".into(), Value::Null);
            errors.push(json!({
                "message": "You must be authenticated to view this.",
                "path": ["viewer"],
                "extensions": { "code": "UNAUTHORIZED" },
            }));
        }
    }
    if query.contains("app(") {
        let name = argument(query, "app", &variables).unwrap_or_default();
        match world.fly.apps.get(&name) {
            Some(a) => {
                data.insert(
                    "app".into(),
                    json!({
                        "id": a.id,
                        "name": a.name,
                        "status": if a.machines.is_empty() { "pending" } else { "deployed" },
                        "deployed": !a.machines.is_empty(),
                        "hostname": format!("{}.fly.dev", a.name),
                        "appUrl": format!("https://{}.fly.dev", a.name),
                        "organization": org_json(&a.org),
                    }),
                );
            }
            None => {
                data.insert("app".into(), Value::Null);
                errors.push(json!({
                    "message": "Could not find App",
                    "path": ["app"],
                    "extensions": { "code": "NOT_FOUND" },
                }));
            }
        }
    }
    if query.contains("organization(") {
        let slug = argument(query, "organization", &variables).unwrap_or_default();
        if world.fly.orgs.contains(&slug) {
            data.insert("organization".into(), org_json(&slug));
        } else {
            data.insert("organization".into(), Value::Null);
            errors.push(json!({
                "message": "Could not find Organization",
                "path": ["organization"],
                "extensions": { "code": "NOT_FOUND" },
            }));
        }
    }
    if data.is_empty() && errors.is_empty() {
        errors.push(json!({ "message": "this query is not emulated by the sophia sandbox (viewer, app(name:), organization(slug:) are)" }));
    }
    let mut out =
        json!({ "data": if data.is_empty() { Value::Null } else { Value::Object(data) } });
    if !errors.is_empty() {
        out["errors"] = Value::Array(errors);
    }
    json_response(StatusCode::OK, out)
}
