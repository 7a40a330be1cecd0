//! Accounts: users and organizations in GitHub's "simple user" shape, teams, and the lookups a
//! client makes to turn logins and team slugs into the ids reviewers are given by.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::extract::{ApiRoot, Refusal, Reply};
use crate::sandbox::Shared;
use crate::sandbox::gate::json_response;
use crate::sandbox::state::World;

/// A user (or organization) in GitHub's "simple user" shape.
pub fn user_json(api: &str, login: &str, id: u64, kind: &str) -> Value {
    let u = format!("{api}/users/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_kgDO{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": u,
        "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{u}/followers"),
        "following_url": format!("{u}/following{{/other_user}}"),
        "gists_url": format!("{u}/gists{{/gist_id}}"),
        "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{u}/subscriptions"),
        "organizations_url": format!("{u}/orgs"),
        "repos_url": format!("{u}/repos"),
        "events_url": format!("{u}/events{{/privacy}}"),
        "received_events_url": format!("{u}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

/// A login as a user or, when it owns teams or repositories, an organization.
pub fn login_json(world: &mut World, api: &str, login: &str) -> Value {
    let id = world.github_user_id(login);
    let kind = if login == world.github.login {
        "User"
    } else if world.github.teams.keys().any(|(org, _)| org == login)
        || world.github.repos.values().any(|r| r.owner == login)
    {
        "Organization"
    } else {
        "User"
    };
    user_json(api, login, id, kind)
}

/// A team in GitHub's shape.
pub fn team_json(api: &str, org: &str, slug: &str, id: u64) -> Value {
    let t = format!("{api}/organizations/1/team/{id}");
    json!({
        "id": id,
        "node_id": format!("T_kwDO{id}"),
        "url": t,
        "html_url": format!("https://github.com/orgs/{org}/teams/{slug}"),
        "name": slug,
        "slug": slug,
        "description": null,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "members_url": format!("{t}/members{{/member}}"),
        "repositories_url": format!("{t}/repos"),
        "parent": null,
        "type": "organization",
    })
}

pub async fn get_user(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    Path(login): Path<String>,
) -> Response {
    let mut world = shared.world();
    json_response(StatusCode::OK, login_json(&mut world, &api, &login))
}

pub async fn get_team(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    Path((org, slug)): Path<(String, String)>,
) -> Reply {
    let world = shared.world();
    let id = world
        .github
        .teams
        .get(&(org.clone(), slug.clone()))
        .ok_or(Refusal::NotFound)?;
    Ok(json_response(
        StatusCode::OK,
        team_json(&api, &org, &slug, *id),
    ))
}
