//! Issue comments: `/repos/{owner}/{repo}/issues/{number}/comments` (list oldest first,
//! create) and `/repos/{owner}/{repo}/issues/comments/{id}` (read, update, delete): what the
//! sticky PR comment is made of.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::extract::{ApiRoot, JsonBody, Refusal, Reply, RepoItem};
use super::issues::{body_too_long, reactions_json, too_long};
use super::pages::Page;
use super::users::login_json;
use crate::sandbox::Shared;
use crate::sandbox::gate::json_response;
use crate::sandbox::state::{Comment, World, now};

fn comment_json(world: &mut World, api: &str, full: &str, c: &Comment) -> Value {
    let user = login_json(world, api, &c.user);
    let u = format!("{api}/repos/{full}/issues/comments/{}", c.id);
    json!({
        "id": c.id,
        "node_id": format!("IC_kwDO{}", c.id),
        "url": u,
        "html_url": format!("https://github.com/{full}/issues/{}#issuecomment-{}", c.issue_number, c.id),
        "body": c.body,
        "user": user,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "issue_url": format!("{api}/repos/{full}/issues/{}", c.issue_number),
        "author_association": "OWNER",
        "reactions": reactions_json(&u),
    })
}

/// The `body` of a create or update: present, and not too long.
fn comment_body(body: &Value) -> Result<String, Refusal> {
    let text = body
        .get("body")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::validation("IssueComment", "body", "missing_field"))?;
    if too_long(text) {
        return Err(body_too_long("IssueComment"));
    }
    Ok(text.to_string())
}

pub async fn list_comments(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    RepoItem(repo, number): RepoItem<u64>,
    page: Page,
) -> Reply {
    let mut world = shared.world();
    let r = repo.find(&world)?;
    if !r.issues.iter().any(|i| i.number == number) {
        return Err(Refusal::NotFound);
    }
    // Oldest first, as GitHub lists issue comments.
    let all: Vec<Comment> = r
        .comments
        .iter()
        .filter(|c| c.issue_number == number)
        .cloned()
        .collect();
    let (items, link) = page.of(all);
    let out: Vec<Value> = items
        .iter()
        .map(|c| comment_json(&mut world, &api, &repo.full, c))
        .collect();
    Ok(link.respond(Value::Array(out)))
}

pub async fn create_comment(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    RepoItem(repo, number): RepoItem<u64>,
    JsonBody(body): JsonBody,
) -> Reply {
    let text = comment_body(&body)?;
    let mut world = shared.world();
    if !repo.find(&world)?.issues.iter().any(|i| i.number == number) {
        return Err(Refusal::NotFound);
    }
    let id = world.next_id();
    let user = world.github.login.clone();
    let now = now();
    let comment = Comment {
        id,
        issue_number: number,
        body: text,
        user,
        created_at: now.clone(),
        updated_at: now,
    };
    let out = comment_json(&mut world, &api, &repo.full, &comment);
    repo.find_mut(&mut world)?.comments.push(comment);
    Ok(json_response(StatusCode::CREATED, out))
}

pub async fn get_comment(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    RepoItem(repo, id): RepoItem<u64>,
) -> Reply {
    let mut world = shared.world();
    let c = repo
        .find(&world)?
        .comments
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .ok_or(Refusal::NotFound)?;
    let out = comment_json(&mut world, &api, &repo.full, &c);
    Ok(json_response(StatusCode::OK, out))
}

pub async fn update_comment(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    RepoItem(repo, id): RepoItem<u64>,
    JsonBody(body): JsonBody,
) -> Reply {
    let text = comment_body(&body)?;
    let mut world = shared.world();
    let c = repo
        .find_mut(&mut world)?
        .comments
        .iter_mut()
        .find(|c| c.id == id)
        .ok_or(Refusal::NotFound)?;
    c.body = text;
    c.updated_at = now();
    let c = c.clone();
    let out = comment_json(&mut world, &api, &repo.full, &c);
    Ok(json_response(StatusCode::OK, out))
}

pub async fn delete_comment(
    State(shared): State<Arc<Shared>>,
    RepoItem(repo, id): RepoItem<u64>,
) -> Reply {
    let mut world = shared.world();
    let r = repo.find_mut(&mut world)?;
    let before = r.comments.len();
    r.comments.retain(|c| c.id != id);
    if r.comments.len() == before {
        return Err(Refusal::NotFound);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
