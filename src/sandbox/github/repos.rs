//! `GET /repos/{owner}/{repo}`: the full repository object. It is large and read often, so
//! its rendering is kept until what it depends on (the API root, the open-issue count) changes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::extract::{ApiRoot, Refusal, Reply, RepoPath};
use super::users::login_json;
use crate::sandbox::Shared;
use crate::sandbox::state::World;

pub async fn get_repo(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    repo: RepoPath,
) -> Reply {
    let mut world = shared.world();
    let r = repo.find(&world)?;
    let open = r.issues.iter().filter(|i| i.state == "open").count();
    if let Some((root, count, bytes)) = &r.rendered
        && *root == api
        && *count == open
    {
        return Ok(json_bytes(bytes.clone()));
    }
    let v = repo_json(&mut world, &api, &repo.full).ok_or(Refusal::NotFound)?;
    let bytes = Bytes::from(serde_json::to_vec(&v).unwrap_or_default());
    if let Ok(r) = repo.find_mut(&mut world) {
        r.rendered = Some((api, open, bytes.clone()));
    }
    Ok(json_bytes(bytes))
}

fn json_bytes(bytes: Bytes) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response()
}

pub(super) fn repo_json(world: &mut World, api: &str, full: &str) -> Option<Value> {
    let (owner, private, id, default_branch, created_at, open_issues) = {
        let r = world.github.repos.get(full)?;
        (
            r.owner.clone(),
            r.private,
            r.id,
            r.default_branch.clone(),
            r.created_at.clone(),
            r.issues.iter().filter(|i| i.state == "open").count(),
        )
    };
    let owner_json = login_json(world, api, &owner);
    let name = full.split_once('/').map(|(_, n)| n).unwrap_or(full);
    let u = format!("{api}/repos/{full}");
    let mut out = json!({
        "id": id,
        "node_id": format!("R_kgDO{id}"),
        "name": name,
        "full_name": full,
        "private": private,
        "owner": owner_json,
        "html_url": format!("https://github.com/{full}"),
        "description": null,
        "fork": false,
        "url": u,
        "archive_url": format!("{u}/{{archive_format}}{{/ref}}"),
        "assignees_url": format!("{u}/assignees{{/user}}"),
        "blobs_url": format!("{u}/git/blobs{{/sha}}"),
        "branches_url": format!("{u}/branches{{/branch}}"),
        "collaborators_url": format!("{u}/collaborators{{/collaborator}}"),
        "comments_url": format!("{u}/comments{{/number}}"),
        "commits_url": format!("{u}/commits{{/sha}}"),
        "compare_url": format!("{u}/compare/{{base}}...{{head}}"),
        "contents_url": format!("{u}/contents/{{+path}}"),
        "contributors_url": format!("{u}/contributors"),
        "deployments_url": format!("{u}/deployments"),
    });
    let middle = json!({
        "downloads_url": format!("{u}/downloads"),
        "events_url": format!("{u}/events"),
        "forks_url": format!("{u}/forks"),
        "git_commits_url": format!("{u}/git/commits{{/sha}}"),
        "git_refs_url": format!("{u}/git/refs{{/sha}}"),
        "git_tags_url": format!("{u}/git/tags{{/sha}}"),
        "git_url": format!("git://github.com/{full}.git"),
        "issue_comment_url": format!("{u}/issues/comments{{/number}}"),
        "issue_events_url": format!("{u}/issues/events{{/number}}"),
        "issues_url": format!("{u}/issues{{/number}}"),
        "keys_url": format!("{u}/keys{{/key_id}}"),
        "labels_url": format!("{u}/labels{{/name}}"),
        "languages_url": format!("{u}/languages"),
        "merges_url": format!("{u}/merges"),
        "milestones_url": format!("{u}/milestones{{/number}}"),
        "notifications_url": format!("{u}/notifications{{?since,all,participating}}"),
        "pulls_url": format!("{u}/pulls{{/number}}"),
        "releases_url": format!("{u}/releases{{/id}}"),
        "ssh_url": format!("git@github.com:{full}.git"),
        "stargazers_url": format!("{u}/stargazers"),
        "statuses_url": format!("{u}/statuses/{{sha}}"),
        "subscribers_url": format!("{u}/subscribers"),
        "subscription_url": format!("{u}/subscription"),
        "tags_url": format!("{u}/tags"),
        "teams_url": format!("{u}/teams"),
        "trees_url": format!("{u}/git/trees{{/sha}}"),
    });
    let rest = json!({
        "clone_url": format!("https://github.com/{full}.git"),
        "mirror_url": null,
        "hooks_url": format!("{u}/hooks"),
        "svn_url": format!("https://github.com/{full}"),
        "homepage": null,
        "language": "Rust",
        "forks_count": 0,
        "forks": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 0,
        "default_branch": default_branch,
        "open_issues_count": open_issues,
        "open_issues": open_issues,
        "is_template": false,
        "topics": [],
        "has_issues": true,
        "has_projects": true,
        "has_wiki": false,
        "has_pages": false,
        "has_downloads": true,
        "has_discussions": false,
        "archived": false,
        "disabled": false,
        "visibility": if private { "private" } else { "public" },
        "pushed_at": created_at,
        "created_at": created_at,
        "updated_at": created_at,
        "permissions": { "admin": true, "maintain": true, "push": true, "triage": true, "pull": true },
        "allow_rebase_merge": true,
        "allow_squash_merge": true,
        "allow_merge_commit": true,
        "allow_auto_merge": false,
        "delete_branch_on_merge": false,
        "license": null,
        "network_count": 0,
        "subscribers_count": 0,
    });
    for part in [middle, rest] {
        if let (Value::Object(out), Value::Object(part)) = (&mut out, part) {
            out.extend(part);
        }
    }
    // What a PATCH set, and the topics, over the defaults above.
    if let (Value::Object(out), Some(r)) = (&mut out, world.github.repos.get(full)) {
        for (k, v) in &r.settings {
            out.insert(k.clone(), v.clone());
        }
        if let Some(v) = r.settings.get("visibility").and_then(Value::as_str) {
            out.insert("private".into(), json!(v != "public"));
        }
        out.insert("topics".into(), json!(r.topics));
    }
    Some(out)
}

/// `GET /user/repos`: every repository the token's user can see (here: every repository of
/// the world), paginated.
pub async fn list_user_repos(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    page: super::pages::Page,
) -> Reply {
    let mut world = shared.world();
    let names: Vec<String> = world.github.repos.keys().cloned().collect();
    let (items, link) = page.of(names);
    let repos: Vec<Value> = items
        .iter()
        .filter_map(|full| repo_json(&mut world, &api, full))
        .collect();
    Ok(link.respond(Value::Array(repos)))
}
