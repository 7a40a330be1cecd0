//! Branch protection: `GET`, `PUT` and `DELETE /repos/{owner}/{repo}/branches/{branch}/protection`.
//!
//! The sandbox keeps the last accepted PUT body and shows it as GitHub's read does, which
//! differs from the body: flags wrapped as `{enabled}`, users and teams as objects,
//! `required_approving_review_count` defaulting to 1. An unprotected branch answers 404 "Branch
//! not protected". (This field list is the sandbox's own copy of GitHub's schema, on purpose:
//! the emulator borrows nothing from the client it tests.)

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::extract::{ApiRoot, JsonBody, Refusal, Reply, RepoItem};
use super::users::{login_json, team_json};
use crate::sandbox::Shared;
use crate::sandbox::gate::json_response;
use crate::sandbox::state::{Repo, World};

const BRANCH_NOT_FOUND: Refusal = Refusal::Message(StatusCode::NOT_FOUND, "Branch not found");
const NOT_PROTECTED: Refusal = Refusal::Message(StatusCode::NOT_FOUND, "Branch not protected");

/// A branch's protection slot (`None`: unprotected), or GitHub's 404 for a missing branch.
fn slot<'r>(repo: &'r mut Repo, branch: &str) -> Result<&'r mut Option<Value>, Refusal> {
    repo.branches.get_mut(branch).ok_or(BRANCH_NOT_FOUND)
}

pub async fn get_protection(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    RepoItem(repo, branch): RepoItem<String>,
) -> Reply {
    let mut world = shared.world();
    let body = repo
        .find(&world)?
        .branches
        .get(&branch)
        .ok_or(BRANCH_NOT_FOUND)?
        .clone()
        .ok_or(NOT_PROTECTED)?;
    let out = protection_json(&mut world, &api, &repo.owner, &repo.full, &branch, &body);
    Ok(json_response(StatusCode::OK, out))
}

pub async fn put_protection(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    RepoItem(repo, branch): RepoItem<String>,
    JsonBody(body): JsonBody,
) -> Reply {
    let mut world = shared.world();
    let slot = slot(repo.find_mut(&mut world)?, &branch)?;
    check_protection_body(&body)?;
    *slot = Some(body.clone());
    let out = protection_json(&mut world, &api, &repo.owner, &repo.full, &branch, &body);
    Ok(json_response(StatusCode::OK, out))
}

pub async fn delete_protection(
    State(shared): State<Arc<Shared>>,
    RepoItem(repo, branch): RepoItem<String>,
) -> Reply {
    let mut world = shared.world();
    slot(repo.find_mut(&mut world)?, &branch)?
        .take()
        .ok_or(NOT_PROTECTED)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The checks GitHub makes on a protection PUT body.
fn check_protection_body(body: &Value) -> Result<(), Refusal> {
    let Some(obj) = body.as_object() else {
        return Err(Refusal::invalid(
            "For 'links/0/schema', the body is not an object.",
        ));
    };
    for key in [
        "required_status_checks",
        "enforce_admins",
        "required_pull_request_reviews",
        "restrictions",
    ] {
        if !obj.contains_key(key) {
            return Err(Refusal::invalid(format!("\"{key}\" wasn't supplied.")));
        }
    }
    if let Some(rsc) = obj["required_status_checks"].as_object() {
        if !rsc.get("strict").is_some_and(Value::is_boolean) {
            return Err(Refusal::invalid("\"strict\" wasn't supplied."));
        }
        if !rsc.get("contexts").is_some_and(Value::is_array) {
            return Err(Refusal::invalid("\"contexts\" wasn't supplied."));
        }
    } else if !obj["required_status_checks"].is_null() {
        return Err(Refusal::invalid(
            "\"required_status_checks\" is not an object or null.",
        ));
    }
    if !(obj["enforce_admins"].is_boolean() || obj["enforce_admins"].is_null()) {
        return Err(Refusal::invalid(
            "\"enforce_admins\" is not a boolean or null.",
        ));
    }
    if let Some(rs) = obj["restrictions"].as_object() {
        if !rs.get("users").is_some_and(Value::is_array)
            || !rs.get("teams").is_some_and(Value::is_array)
        {
            return Err(Refusal::invalid(
                "\"users\" and \"teams\" weren't supplied.",
            ));
        }
    } else if !obj["restrictions"].is_null() {
        return Err(Refusal::invalid(
            "\"restrictions\" is not an object or null.",
        ));
    }
    if let Some(n) = obj
        .get("required_pull_request_reviews")
        .and_then(|r| r.get("required_approving_review_count"))
        && n.as_u64().is_none_or(|n| n > 6)
    {
        return Err(Refusal::invalid(
            "required_approving_review_count must be an integer between 0 and 6.",
        ));
    }
    Ok(())
}

fn flag(body: &Value, key: &str) -> bool {
    body.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Users, teams and apps of a restriction, as objects.
fn actors(world: &mut World, api: &str, owner: &str, v: &Value) -> (Value, Value) {
    let users: Vec<Value> = strings(v.get("users"))
        .iter()
        .map(|login| login_json(world, api, login))
        .collect();
    let teams: Vec<Value> = strings(v.get("teams"))
        .iter()
        .map(|slug| {
            let id = world.github_team_id(owner, slug);
            team_json(api, owner, slug, id)
        })
        .collect();
    (Value::Array(users), Value::Array(teams))
}

/// The protection as `GET …/protection` shows it, from the last accepted PUT body.
fn protection_json(
    world: &mut World,
    api: &str,
    owner: &str,
    full: &str,
    branch: &str,
    body: &Value,
) -> Value {
    let p = format!("{api}/repos/{full}/branches/{branch}/protection");
    let mut out = Map::new();
    out.insert("url".into(), json!(p));
    if let Some(rsc) = body.get("required_status_checks").filter(|v| v.is_object()) {
        let contexts = strings(rsc.get("contexts"));
        let checks: Vec<Value> = match rsc.get("checks").and_then(Value::as_array) {
            Some(checks) => checks
                .iter()
                .map(|c| json!({ "context": c.get("context").cloned().unwrap_or(Value::Null), "app_id": c.get("app_id").cloned().unwrap_or(Value::Null) }))
                .collect(),
            None => contexts
                .iter()
                .map(|c| json!({ "context": c, "app_id": null }))
                .collect(),
        };
        let contexts: Vec<Value> = if rsc.get("checks").is_some() {
            checks.iter().map(|c| c["context"].clone()).collect()
        } else {
            contexts.iter().map(|c| json!(c)).collect()
        };
        out.insert(
            "required_status_checks".into(),
            json!({
                "url": format!("{p}/required_status_checks"),
                "strict": flag(rsc, "strict"),
                "contexts": contexts,
                "contexts_url": format!("{p}/required_status_checks/contexts"),
                "checks": checks,
            }),
        );
    }
    if let Some(reviews) = body
        .get("required_pull_request_reviews")
        .filter(|v| v.is_object())
    {
        let mut r = Map::new();
        r.insert(
            "url".into(),
            json!(format!("{p}/required_pull_request_reviews")),
        );
        r.insert(
            "dismiss_stale_reviews".into(),
            json!(flag(reviews, "dismiss_stale_reviews")),
        );
        r.insert(
            "require_code_owner_reviews".into(),
            json!(flag(reviews, "require_code_owner_reviews")),
        );
        r.insert(
            "required_approving_review_count".into(),
            json!(
                reviews
                    .get("required_approving_review_count")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
            ),
        );
        r.insert(
            "require_last_push_approval".into(),
            json!(flag(reviews, "require_last_push_approval")),
        );
        if let Some(d) = reviews
            .get("dismissal_restrictions")
            .filter(|v| v.is_object())
        {
            let (users, teams) = actors(world, api, owner, d);
            r.insert(
                "dismissal_restrictions".into(),
                json!({
                    "url": format!("{p}/dismissal_restrictions"),
                    "users_url": format!("{p}/dismissal_restrictions/users"),
                    "teams_url": format!("{p}/dismissal_restrictions/teams"),
                    "users": users, "teams": teams, "apps": [],
                }),
            );
        }
        if let Some(b) = reviews
            .get("bypass_pull_request_allowances")
            .filter(|v| v.is_object())
        {
            let (users, teams) = actors(world, api, owner, b);
            r.insert(
                "bypass_pull_request_allowances".into(),
                json!({ "users": users, "teams": teams, "apps": [] }),
            );
        }
        out.insert("required_pull_request_reviews".into(), Value::Object(r));
    }
    out.insert(
        "required_signatures".into(),
        json!({ "url": format!("{p}/required_signatures"), "enabled": false }),
    );
    out.insert(
        "enforce_admins".into(),
        json!({ "url": format!("{p}/enforce_admins"), "enabled": flag(body, "enforce_admins") }),
    );
    for key in [
        "required_linear_history",
        "allow_force_pushes",
        "allow_deletions",
        "block_creations",
        "required_conversation_resolution",
        "lock_branch",
        "allow_fork_syncing",
    ] {
        out.insert(key.into(), json!({ "enabled": flag(body, key) }));
    }
    if let Some(rs) = body.get("restrictions").filter(|v| v.is_object()) {
        let (users, teams) = actors(world, api, owner, rs);
        out.insert(
            "restrictions".into(),
            json!({
                "url": format!("{p}/restrictions"),
                "users_url": format!("{p}/restrictions/users"),
                "teams_url": format!("{p}/restrictions/teams"),
                "apps_url": format!("{p}/restrictions/apps"),
                "users": users, "teams": teams, "apps": [],
            }),
        );
    }
    Value::Object(out)
}
