//! Issues: `/repos/{owner}/{repo}/issues…` (list newest first, by `state`; create; read;
//! update title, body and state). A body over 65,536 characters is refused with 422, as
//! GitHub refuses it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::extract::{ApiRoot, JsonBody, Refusal, Reply, RepoItem, RepoPath};
use super::pages::Page;
use super::users::login_json;
use crate::sandbox::Shared;
use crate::sandbox::gate::json_response;
use crate::sandbox::state::{Issue, Repo, World, now};

/// GitHub refuses comment and issue bodies longer than this many characters.
pub const MAX_BODY_CHARS: usize = 65_536;

/// Whether `body` is over [`MAX_BODY_CHARS`] (characters, not bytes).
pub fn too_long(body: &str) -> bool {
    body.chars().count() > MAX_BODY_CHARS
}

/// GitHub's 422 for an issue or comment body over [`MAX_BODY_CHARS`].
pub fn body_too_long(resource: &'static str) -> Refusal {
    Refusal::invalid_field(
        resource,
        "body",
        "custom",
        "body is too long (maximum is 65536 characters)",
    )
}

/// The reactions summary of an issue or comment (the sandbox has no reactions).
pub fn reactions_json(url: &str) -> Value {
    json!({
        "url": format!("{url}/reactions"), "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
        "confused": 0, "heart": 0, "hooray": 0, "eyes": 0, "rocket": 0,
    })
}

/// An issue with its comment count, detached from the world's borrow.
struct IssueView {
    issue: Issue,
    comments: usize,
}

fn issue_view(repo: &Repo, issue: &Issue) -> IssueView {
    IssueView {
        issue: issue.clone(),
        comments: repo
            .comments
            .iter()
            .filter(|c| c.issue_number == issue.number)
            .count(),
    }
}

fn issue_json(world: &mut World, api: &str, full: &str, view: &IssueView) -> Value {
    let issue = &view.issue;
    let user = login_json(world, api, &issue.user);
    let r = format!("{api}/repos/{full}");
    let u = format!("{r}/issues/{}", issue.number);
    json!({
        "id": issue.id,
        "node_id": format!("I_kwDO{}", issue.id),
        "url": u,
        "repository_url": r,
        "labels_url": format!("{u}/labels{{/name}}"),
        "comments_url": format!("{u}/comments"),
        "events_url": format!("{u}/events"),
        "html_url": format!("https://github.com/{full}/issues/{}", issue.number),
        "number": issue.number,
        "state": issue.state,
        "state_reason": if issue.state == "closed" { json!("completed") } else { Value::Null },
        "title": issue.title,
        "body": issue.body,
        "user": user,
        "labels": [],
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "locked": false,
        "active_lock_reason": null,
        "comments": view.comments,
        "closed_at": issue.closed_at,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_by": null,
        "author_association": "OWNER",
        "reactions": reactions_json(&u),
    })
}

pub async fn list_issues(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    repo: RepoPath,
    page: Page,
) -> Reply {
    let mut world = shared.world();
    let r = repo.find(&world)?;
    let state = page.query.state.clone().unwrap_or_else(|| "open".into());
    // Newest first, as GitHub's default sort.
    let views: Vec<IssueView> = r
        .issues
        .iter()
        .rev()
        .filter(|i| state == "all" || i.state == state)
        .map(|i| issue_view(r, i))
        .collect();
    let (items, link) = page.of(views);
    let out: Vec<Value> = items
        .iter()
        .map(|i| issue_json(&mut world, &api, &repo.full, i))
        .collect();
    Ok(link.respond(Value::Array(out)))
}

pub async fn create_issue(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    repo: RepoPath,
    JsonBody(body): JsonBody,
) -> Reply {
    let title = body
        .get("title")
        .and_then(|t| match t {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .ok_or_else(|| Refusal::validation("Issue", "title", "missing_field"))?;
    let text = body.get("body").and_then(Value::as_str).map(str::to_string);
    if text.as_deref().is_some_and(too_long) {
        return Err(body_too_long("Issue"));
    }
    let mut world = shared.world();
    repo.find(&world)?;
    let id = world.next_id();
    let user = world.github.login.clone();
    let r = repo.find_mut(&mut world)?;
    let now = now();
    let issue = Issue {
        id,
        number: r.issues.len() as u64 + 1,
        title,
        body: text,
        state: "open".into(),
        user,
        created_at: now.clone(),
        updated_at: now,
        closed_at: None,
    };
    let view = issue_view(r, &issue);
    r.issues.push(issue);
    let out = issue_json(&mut world, &api, &repo.full, &view);
    Ok(json_response(StatusCode::CREATED, out))
}

pub async fn get_issue(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    RepoItem(repo, number): RepoItem<u64>,
) -> Reply {
    let mut world = shared.world();
    let r = repo.find(&world)?;
    let view = r
        .issues
        .iter()
        .find(|i| i.number == number)
        .map(|i| issue_view(r, i))
        .ok_or(Refusal::NotFound)?;
    let out = issue_json(&mut world, &api, &repo.full, &view);
    Ok(json_response(StatusCode::OK, out))
}

pub async fn update_issue(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    RepoItem(repo, number): RepoItem<u64>,
    JsonBody(body): JsonBody,
) -> Reply {
    if body
        .get("body")
        .and_then(Value::as_str)
        .is_some_and(too_long)
    {
        return Err(body_too_long("Issue"));
    }
    let state = body.get("state").and_then(Value::as_str);
    if state.is_some_and(|s| s != "open" && s != "closed") {
        return Err(Refusal::validation("Issue", "state", "invalid"));
    }
    let mut world = shared.world();
    let r = repo.find_mut(&mut world)?;
    let index = r
        .issues
        .iter()
        .position(|i| i.number == number)
        .ok_or(Refusal::NotFound)?;
    let now = now();
    let issue = &mut r.issues[index];
    if let Some(t) = body.get("title").and_then(Value::as_str) {
        issue.title = t.into();
    }
    match body.get("body") {
        Some(Value::String(b)) => issue.body = Some(b.clone()),
        Some(Value::Null) => issue.body = None,
        _ => {}
    }
    if let Some(s) = state {
        if s == "closed" && issue.state != "closed" {
            issue.closed_at = Some(now.clone());
        } else if s == "open" {
            issue.closed_at = None;
        }
        issue.state = s.into();
    }
    issue.updated_at = now;
    let view = issue_view(r, &r.issues[index]);
    let out = issue_json(&mut world, &api, &repo.full, &view);
    Ok(json_response(StatusCode::OK, out))
}
