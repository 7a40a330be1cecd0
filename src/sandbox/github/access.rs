//! A repository's settings and access: `PATCH /repos/{owner}/{repo}`, `…/topics`,
//! `…/collaborators…`, `…/teams` with `/orgs/{org}/teams/{slug}/repos/{owner}/{repo}`, and
//! `…/actions/variables…`.
//!
//! Facts emulated: a PATCH takes only the fields GitHub's description lists (422 for any
//! other, or a value of the wrong type; `default_branch` must name a branch); topics are
//! lowercase letters, digits and `-`, at most 50 characters (422 otherwise) and a PUT
//! replaces them all; the collaborator listing says `role_name` `read`/`write` for the
//! permissions `pull`/`push`; a collaborator or team PUT answers 204; a variable POST answers
//! 201, 409 when the name exists, and a PATCH 204.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::extract::{ApiRoot, JsonBody, OptionalJsonBody, Refusal, Reply, RepoItem, RepoPath};
use super::pages::Page;
use super::repos::repo_json;
use super::users::{team_json, user_json};
use crate::sandbox::Shared;
use crate::sandbox::gate::json_response;
use crate::sandbox::state::now;

/// The PATCH fields of GitHub's description, with the JSON type each takes.
const PATCH_FIELDS: [(&str, &str); 27] = [
    ("name", "string"),
    ("description", "string"),
    ("homepage", "string"),
    ("private", "boolean"),
    ("visibility", "string"),
    ("security_and_analysis", "object"),
    ("has_issues", "boolean"),
    ("has_projects", "boolean"),
    ("has_wiki", "boolean"),
    ("has_pull_requests", "boolean"),
    ("pull_request_creation_policy", "string"),
    ("is_template", "boolean"),
    ("default_branch", "string"),
    ("allow_squash_merge", "boolean"),
    ("allow_merge_commit", "boolean"),
    ("allow_rebase_merge", "boolean"),
    ("allow_auto_merge", "boolean"),
    ("delete_branch_on_merge", "boolean"),
    ("allow_update_branch", "boolean"),
    ("use_squash_pr_title_as_default", "boolean"),
    ("squash_merge_commit_title", "string"),
    ("squash_merge_commit_message", "string"),
    ("merge_commit_title", "string"),
    ("merge_commit_message", "string"),
    ("archived", "boolean"),
    ("allow_forking", "boolean"),
    ("web_commit_signoff_required", "boolean"),
];

const PERMISSIONS: [&str; 5] = ["pull", "triage", "push", "maintain", "admin"];

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub async fn patch_repo(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    repo: RepoPath,
    JsonBody(body): JsonBody,
) -> Reply {
    let mut world = shared.world();
    let r = repo.find(&world)?;
    let Some(fields) = body.as_object() else {
        return Err(Refusal::invalid("The body is not a JSON object."));
    };
    for (k, v) in fields {
        let Some((_, ty)) = PATCH_FIELDS.iter().find(|(f, _)| f == k) else {
            return Err(Refusal::invalid(format!("\"{k}\" is not a permitted key.")));
        };
        if type_of(v) != *ty {
            return Err(Refusal::invalid(format!("For '{k}', {v} is not a {ty}.")));
        }
    }
    if let Some(v) = fields.get("visibility").and_then(Value::as_str)
        && !["public", "private", "internal"].contains(&v)
    {
        return Err(Refusal::invalid(format!(
            "For 'visibility', \"{v}\" is not one of public, private, internal."
        )));
    }
    if let Some(b) = fields.get("default_branch").and_then(Value::as_str)
        && !r.branches.contains_key(b)
    {
        return Err(Refusal::invalid_field(
            "Repository",
            "default_branch",
            "invalid",
            format!("The branch {b} was not found"),
        ));
    }
    let r = repo.find_mut(&mut world)?;
    for (k, v) in fields {
        r.settings.insert(k.clone(), v.clone());
    }
    if let Some(b) = fields.get("default_branch").and_then(Value::as_str) {
        r.default_branch = b.to_string();
    }
    r.rendered = None;
    let out = repo_json(&mut world, &api, &repo.full).ok_or(Refusal::NotFound)?;
    Ok(json_response(StatusCode::OK, out))
}

pub async fn get_topics(State(shared): State<Arc<Shared>>, repo: RepoPath) -> Reply {
    let world = shared.world();
    let r = repo.find(&world)?;
    Ok(json_response(StatusCode::OK, json!({ "names": r.topics })))
}

pub async fn put_topics(
    State(shared): State<Arc<Shared>>,
    repo: RepoPath,
    JsonBody(body): JsonBody,
) -> Reply {
    let mut world = shared.world();
    repo.find(&world)?;
    let Some(names) = body.get("names").and_then(Value::as_array) else {
        return Err(Refusal::invalid("\"names\" wasn't supplied."));
    };
    let mut topics = Vec::new();
    for n in names {
        let Some(t) = n.as_str() else {
            return Err(Refusal::invalid("A topic is a string."));
        };
        let ok = !t.is_empty()
            && t.len() <= 50
            && !t.starts_with('-')
            && t.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(Refusal::invalid_field(
                "Repository",
                "topics",
                "invalid",
                format!(
                    "Topics must start with a lowercase letter or number, consist of 50 characters or less, and can include hyphens: {t}"
                ),
            ));
        }
        if !topics.contains(&t.to_string()) {
            topics.push(t.to_string());
        }
    }
    let r = repo.find_mut(&mut world)?;
    r.topics = topics.clone();
    r.rendered = None;
    Ok(json_response(StatusCode::OK, json!({ "names": topics })))
}

fn role_name(permission: &str) -> &str {
    match permission {
        "pull" => "read",
        "push" => "write",
        other => other,
    }
}

pub async fn list_collaborators(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    repo: RepoPath,
    page: Page,
) -> Reply {
    let mut world = shared.world();
    let all: Vec<(String, String)> = repo
        .find(&world)?
        .collaborators
        .iter()
        .map(|(l, p)| (l.clone(), p.clone()))
        .collect();
    let (items, link) = page.of(all);
    let out: Vec<Value> = items
        .iter()
        .map(|(login, p)| {
            let id = world.github_user_id(login);
            let mut u = user_json(&api, login, id, "User");
            let rank = PERMISSIONS.iter().position(|x| x == p).unwrap_or(0);
            u["permissions"] = json!({
                "pull": true, "triage": rank >= 1, "push": rank >= 2,
                "maintain": rank >= 3, "admin": rank >= 4,
            });
            u["role_name"] = json!(role_name(p));
            u
        })
        .collect();
    Ok(link.respond(Value::Array(out)))
}

fn permission_of(body: &Value, default: &str) -> Result<String, Refusal> {
    match body.get("permission") {
        None => Ok(default.to_string()),
        Some(Value::String(p)) if PERMISSIONS.contains(&p.as_str()) => Ok(p.clone()),
        Some(other) => Err(Refusal::invalid_field(
            "Repository",
            "permission",
            "invalid",
            format!("{other} is not a valid permission"),
        )),
    }
}

pub async fn get_collaborator(
    State(shared): State<Arc<Shared>>,
    RepoItem(repo, login): RepoItem<String>,
) -> Reply {
    let world = shared.world();
    if repo.find(&world)?.collaborators.contains_key(&login) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Refusal::NotFound)
    }
}

pub async fn put_collaborator(
    State(shared): State<Arc<Shared>>,
    RepoItem(repo, login): RepoItem<String>,
    OptionalJsonBody(body): OptionalJsonBody,
) -> Reply {
    let mut world = shared.world();
    repo.find(&world)?;
    let permission = permission_of(&body, "push")?;
    world.github_user_id(&login);
    repo.find_mut(&mut world)?
        .collaborators
        .insert(login, permission);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn delete_collaborator(
    State(shared): State<Arc<Shared>>,
    RepoItem(repo, login): RepoItem<String>,
) -> Reply {
    let mut world = shared.world();
    repo.find_mut(&mut world)?.collaborators.remove(&login);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_teams(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    repo: RepoPath,
    page: Page,
) -> Reply {
    let mut world = shared.world();
    let all: Vec<(String, String)> = repo
        .find(&world)?
        .teams
        .iter()
        .map(|(s, p)| (s.clone(), p.clone()))
        .collect();
    let (items, link) = page.of(all);
    let out: Vec<Value> = items
        .iter()
        .map(|(slug, p)| {
            let id = world.github_team_id(&repo.owner, slug);
            let mut t = team_json(&api, &repo.owner, slug, id);
            t["permission"] = json!(p);
            t
        })
        .collect();
    Ok(link.respond(Value::Array(out)))
}

/// `PUT /orgs/{org}/teams/{slug}/repos/{owner}/{repo}`: the team must be of the repository's
/// owner (GitHub answers 422 otherwise).
pub async fn put_team_repo(
    State(shared): State<Arc<Shared>>,
    Path((org, slug, owner, name)): Path<(String, String, String, String)>,
    OptionalJsonBody(body): OptionalJsonBody,
) -> Reply {
    let mut world = shared.world();
    let full = format!("{owner}/{name}");
    if !world.github.repos.contains_key(&full) {
        return Err(Refusal::NotFound);
    }
    if org != owner {
        return Err(Refusal::invalid_field(
            "Team",
            "repository",
            "invalid",
            "The team and the repository must belong to the same organization",
        ));
    }
    let permission = permission_of(&body, "push")?;
    world.github_team_id(&org, &slug);
    if let Some(r) = world.github.repos.get_mut(&full) {
        r.teams.insert(slug, permission);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn delete_team_repo(
    State(shared): State<Arc<Shared>>,
    Path((_org, slug, owner, name)): Path<(String, String, String, String)>,
) -> Reply {
    let mut world = shared.world();
    let r = world
        .github
        .repos
        .get_mut(&format!("{owner}/{name}"))
        .ok_or(Refusal::NotFound)?;
    r.teams.remove(&slug);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn variable_json(name: &str, (value, created, updated): &(String, String, String)) -> Value {
    json!({ "name": name, "value": value, "created_at": created, "updated_at": updated })
}

/// GitHub's rule for Actions variable names: letters, digits and `_`, not starting with a
/// digit or `GITHUB_`; stored in upper case.
fn variable_name(name: &str) -> Result<String, Refusal> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.to_ascii_uppercase().starts_with("GITHUB_");
    if ok {
        Ok(name.to_ascii_uppercase())
    } else {
        Err(Refusal::invalid_field(
            "ActionsVariable",
            "name",
            "invalid",
            format!("{name} is not a valid variable name"),
        ))
    }
}

pub async fn list_variables(
    State(shared): State<Arc<Shared>>,
    repo: RepoPath,
    page: Page,
) -> Reply {
    let world = shared.world();
    let all: Vec<Value> = repo
        .find(&world)?
        .variables
        .iter()
        .map(|(n, v)| variable_json(n, v))
        .collect();
    let total = all.len();
    let (items, link) = page.of(all);
    Ok(link.respond(json!({ "total_count": total, "variables": items })))
}

pub async fn get_variable(
    State(shared): State<Arc<Shared>>,
    RepoItem(repo, name): RepoItem<String>,
) -> Reply {
    let world = shared.world();
    let r = repo.find(&world)?;
    let v = r
        .variables
        .get(&name.to_ascii_uppercase())
        .ok_or(Refusal::NotFound)?;
    Ok(json_response(StatusCode::OK, variable_json(&name, v)))
}

pub async fn create_variable(
    State(shared): State<Arc<Shared>>,
    repo: RepoPath,
    JsonBody(body): JsonBody,
) -> Reply {
    let mut world = shared.world();
    repo.find(&world)?;
    let (Some(name), Some(value)) = (
        body.get("name").and_then(Value::as_str),
        body.get("value").and_then(Value::as_str),
    ) else {
        return Err(Refusal::invalid(
            "\"name\" and \"value\" are required strings.",
        ));
    };
    let name = variable_name(name)?;
    let r = repo.find_mut(&mut world)?;
    if r.variables.contains_key(&name) {
        return Err(Refusal::Message(StatusCode::CONFLICT, "Already exists"));
    }
    r.variables.insert(name, (value.to_string(), now(), now()));
    Ok(json_response(StatusCode::CREATED, json!({})))
}

pub async fn update_variable(
    State(shared): State<Arc<Shared>>,
    RepoItem(repo, name): RepoItem<String>,
    JsonBody(body): JsonBody,
) -> Reply {
    let mut world = shared.world();
    let r = repo.find_mut(&mut world)?;
    let key = name.to_ascii_uppercase();
    let Some(mut v) = r.variables.remove(&key) else {
        return Err(Refusal::NotFound);
    };
    if let Some(value) = body.get("value").and_then(Value::as_str) {
        v.0 = value.to_string();
    }
    v.2 = now();
    let new_name = match body.get("name").and_then(Value::as_str) {
        Some(n) => match variable_name(n) {
            Ok(n) => n,
            Err(e) => {
                r.variables.insert(key, v);
                return Err(e);
            }
        },
        None => key,
    };
    r.variables.insert(new_name, v);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn delete_variable(
    State(shared): State<Arc<Shared>>,
    RepoItem(repo, name): RepoItem<String>,
) -> Reply {
    let mut world = shared.world();
    repo.find_mut(&mut world)?
        .variables
        .remove(&name.to_ascii_uppercase())
        .ok_or(Refusal::NotFound)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
