//! Deployment environments: `/repos/{owner}/{repo}/environments…`. Reviewers are given by id
//! (users and teams the sandbox knows, at most six); the protection rules are shown as GitHub
//! shows them (`wait_timer`, `required_reviewers`, `branch_policy`). The whole body is validated
//! before anything changes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::extract::{ApiRoot, JsonBody, OptionalJsonBody, Refusal, Reply, RepoItem, RepoPath};
use super::pages::Page;
use super::users::{team_json, user_json};
use crate::sandbox::Shared;
use crate::sandbox::gate::json_response;
use crate::sandbox::state::{Environment, World, now};

/// An environment allows at most six reviewers.
const MAX_REVIEWERS: usize = 6;

/// `wait_timer` is in minutes, at most 30 days.
const MAX_WAIT_TIMER: u64 = 43_200;

fn environment_json(
    world: &mut World,
    api: &str,
    owner: &str,
    full: &str,
    e: &Environment,
) -> Value {
    let mut rules = Vec::new();
    if e.wait_timer > 0 {
        let id = e.id * 10 + 1;
        rules.push(json!({ "id": id, "node_id": format!("GA_kwDO{id}"), "type": "wait_timer", "wait_timer": e.wait_timer }));
    }
    if !e.reviewers.is_empty() {
        let id = e.id * 10 + 2;
        let reviewers: Vec<Value> = e
            .reviewers
            .iter()
            .map(|(kind, rid)| {
                let reviewer = if kind == "Team" {
                    let slug = world
                        .github
                        .teams
                        .iter()
                        .find(|(_, v)| *v == rid)
                        .map(|((_, s), _)| s.clone())
                        .unwrap_or_default();
                    team_json(api, owner, &slug, *rid)
                } else {
                    let login = world
                        .github
                        .users
                        .iter()
                        .find(|(_, v)| *v == rid)
                        .map(|(l, _)| l.clone())
                        .unwrap_or_default();
                    user_json(api, &login, *rid, "User")
                };
                json!({ "type": kind, "reviewer": reviewer })
            })
            .collect();
        rules.push(json!({
            "id": id, "node_id": format!("GA_kwDO{id}"), "type": "required_reviewers",
            "prevent_self_review": e.prevent_self_review, "reviewers": reviewers,
        }));
    }
    if e.deployment_branch_policy.is_some() {
        let id = e.id * 10 + 3;
        rules.push(json!({ "id": id, "node_id": format!("GA_kwDO{id}"), "type": "branch_policy" }));
    }
    json!({
        "id": e.id,
        "node_id": format!("EN_kwDO{}", e.id),
        "name": e.name,
        "url": format!("{api}/repos/{full}/environments/{}", e.name),
        // As GitHub: the API `url` holds the name as is (`…/environments/test/env`), the
        // `html_url` query percent-encodes it (`environments_filter=test%2Fenv`).
        "html_url": format!(
            "https://github.com/{full}/deployments/activity_log?environments_filter={}",
            form_urlencoded::byte_serialize(e.name.as_bytes()).collect::<String>()
        ),
        "created_at": e.created_at,
        "updated_at": e.updated_at,
        "can_admins_bypass": true,
        "protection_rules": rules,
        "deployment_branch_policy": e.deployment_branch_policy,
    })
}

pub async fn list_environments(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    repo: RepoPath,
    page: Page,
) -> Reply {
    let mut world = shared.world();
    let all: Vec<Environment> = repo.find(&world)?.environments.values().cloned().collect();
    let total = all.len();
    let (items, link) = page.of(all);
    let envs: Vec<Value> = items
        .iter()
        .map(|e| environment_json(&mut world, &api, &repo.owner, &repo.full, e))
        .collect();
    Ok(link.respond(json!({ "total_count": total, "environments": envs })))
}

pub async fn get_environment(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    RepoItem(repo, env): RepoItem<String>,
) -> Reply {
    let mut world = shared.world();
    let e = repo
        .find(&world)?
        .environments
        .get(&env)
        .cloned()
        .ok_or(Refusal::NotFound)?;
    let out = environment_json(&mut world, &api, &repo.owner, &repo.full, &e);
    Ok(json_response(StatusCode::OK, out))
}

/// What a PUT body changes, validated as a whole before anything changes. `None`: not in the
/// body, left as it is.
struct EnvironmentChange {
    wait_timer: Option<u64>,
    prevent_self_review: Option<bool>,
    reviewers: Option<Vec<(String, u64)>>,
    deployment_branch_policy: Option<Option<Value>>,
}

impl EnvironmentChange {
    /// GitHub's checks, in GitHub's order; reviewers must be users or teams `world` knows.
    fn parse(body: &Value, world: &World) -> Result<EnvironmentChange, Refusal> {
        let wait_timer = match body.get("wait_timer") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().filter(|n| *n <= MAX_WAIT_TIMER).ok_or_else(|| {
                Refusal::invalid("wait_timer must be an integer between 0 and 43200.")
            })?),
        };
        let reviewers = match body.get("reviewers") {
            None => None,
            Some(Value::Null) => Some(Vec::new()),
            Some(Value::Array(items)) => Some(reviewers(items, world)?),
            Some(_) => return Err(Refusal::invalid("\"reviewers\" is not an array or null.")),
        };
        let deployment_branch_policy = match body.get("deployment_branch_policy") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(p @ Value::Object(o))
                if o.get("protected_branches").is_some_and(Value::is_boolean)
                    && o.get("custom_branch_policies")
                        .is_some_and(Value::is_boolean) =>
            {
                Some(Some(p.clone()))
            }
            Some(_) => {
                return Err(Refusal::invalid(
                    "deployment_branch_policy needs protected_branches and custom_branch_policies.",
                ));
            }
        };
        Ok(EnvironmentChange {
            wait_timer,
            prevent_self_review: body.get("prevent_self_review").and_then(Value::as_bool),
            reviewers,
            deployment_branch_policy,
        })
    }

    fn apply(self, e: &mut Environment) {
        if let Some(w) = self.wait_timer {
            e.wait_timer = w;
        }
        if let Some(p) = self.prevent_self_review {
            e.prevent_self_review = p;
        }
        if let Some(rv) = self.reviewers {
            e.reviewers = rv;
        }
        if let Some(p) = self.deployment_branch_policy {
            e.deployment_branch_policy = p;
        }
    }
}

/// `[{type, id}]` as (`User` | `Team`, id).
fn reviewers(items: &[Value], world: &World) -> Result<Vec<(String, u64)>, Refusal> {
    if items.len() > MAX_REVIEWERS {
        return Err(Refusal::invalid("Only 6 reviewers are allowed."));
    }
    let mut out = Vec::new();
    for item in items {
        let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
        let Some(id) = item.get("id").and_then(Value::as_u64) else {
            return Err(Refusal::invalid("Each reviewer needs a numeric \"id\"."));
        };
        let known = match kind {
            "User" => world.github.users.values().any(|v| *v == id),
            "Team" => world.github.teams.values().any(|v| *v == id),
            _ => return Err(Refusal::invalid("A reviewer's \"type\" is User or Team.")),
        };
        if !known {
            return Err(Refusal::invalid_field(
                "Environment",
                "reviewers",
                "invalid",
                format!("{kind} {id} is not a valid reviewer"),
            ));
        }
        out.push((kind.to_string(), id));
    }
    Ok(out)
}

pub async fn put_environment(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    RepoItem(repo, env): RepoItem<String>,
    OptionalJsonBody(body): OptionalJsonBody,
) -> Reply {
    let mut world = shared.world();
    // A missing repository answers 404 before the body is checked.
    repo.find(&world)?;
    let change = EnvironmentChange::parse(&body, &world)?;
    let new_id = world.next_id();
    let r = repo.find_mut(&mut world)?;
    let now = now();
    let e = r
        .environments
        .entry(env.clone())
        .or_insert_with(|| Environment {
            id: new_id,
            name: env.clone(),
            created_at: now.clone(),
            updated_at: now.clone(),
            wait_timer: 0,
            prevent_self_review: false,
            reviewers: Vec::new(),
            deployment_branch_policy: None,
            branch_policies: Vec::new(),
            variables: std::collections::BTreeMap::new(),
            secrets: std::collections::BTreeMap::new(),
        });
    change.apply(e);
    e.updated_at = now;
    let e = e.clone();
    let out = environment_json(&mut world, &api, &repo.owner, &repo.full, &e);
    Ok(json_response(StatusCode::OK, out))
}

pub async fn delete_environment(
    State(shared): State<Arc<Shared>>,
    RepoItem(repo, env): RepoItem<String>,
) -> Reply {
    let mut world = shared.world();
    repo.find_mut(&mut world)?
        .environments
        .remove(&env)
        .ok_or(Refusal::NotFound)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ───────────── deployment branch policies and environment variables ─────────────

/// `GET …/environments/{env}/deployment-branch-policies`.
pub async fn list_branch_policies(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, env)): Path<(String, String, String)>,
    page: Page,
) -> Reply {
    let world = shared.world();
    let e = env_of(&world, &owner, &repo, &env)?;
    let all: Vec<Value> = e
        .branch_policies
        .iter()
        .map(|(id, name)| json!({ "id": id, "node_id": format!("MDE2OkdhdGVCcmFuY2hQb2xpY3k{id}"), "name": name, "type": "branch" }))
        .collect();
    let total = all.len();
    let (items, link) = page.of(all);
    Ok(link.respond(json!({ "total_count": total, "branch_policies": items })))
}

fn env_of<'w>(
    world: &'w World,
    owner: &str,
    repo: &str,
    env: &str,
) -> Result<&'w Environment, Refusal> {
    world
        .github
        .repos
        .get(&format!("{owner}/{repo}"))
        .and_then(|r| r.environments.get(env))
        .ok_or(Refusal::NotFound)
}

fn env_mut<'w>(
    world: &'w mut World,
    owner: &str,
    repo: &str,
    env: &str,
) -> Result<&'w mut Environment, Refusal> {
    world
        .github
        .repos
        .get_mut(&format!("{owner}/{repo}"))
        .and_then(|r| r.environments.get_mut(env))
        .ok_or(Refusal::NotFound)
}

/// `POST …/deployment-branch-policies` `{name, type?}`: only when the environment allows
/// custom branch policies (GitHub answers 404 otherwise); a name is unique (303 in GitHub,
/// 422 here).
pub async fn create_branch_policy(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, env)): Path<(String, String, String)>,
    JsonBody(body): JsonBody,
) -> Reply {
    let mut world = shared.world();
    let id = world.next_id();
    let e = env_mut(&mut world, &owner, &repo, &env)?;
    let custom = e
        .deployment_branch_policy
        .as_ref()
        .and_then(|p| p.get("custom_branch_policies"))
        .and_then(Value::as_bool)
        == Some(true);
    if !custom {
        return Err(Refusal::NotFound);
    }
    let Some(name) = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return Err(Refusal::invalid("\"name\" wasn't supplied."));
    };
    if e.branch_policies.iter().any(|(_, n)| n == name) {
        return Err(Refusal::invalid_field(
            "DeploymentBranchPolicy",
            "name",
            "already_exists",
            "Name has already been taken",
        ));
    }
    e.branch_policies.push((id, name.to_string()));
    Ok(json_response(
        StatusCode::OK,
        json!({ "id": id, "node_id": format!("MDE2OkdhdGVCcmFuY2hQb2xpY3k{id}"), "name": name, "type": "branch" }),
    ))
}

pub async fn delete_branch_policy(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, env, id)): Path<(String, String, String, u64)>,
) -> Reply {
    let mut world = shared.world();
    let e = env_mut(&mut world, &owner, &repo, &env)?;
    let before = e.branch_policies.len();
    e.branch_policies.retain(|(i, _)| *i != id);
    if e.branch_policies.len() == before {
        return Err(Refusal::NotFound);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET …/environments/{env}/variables`.
pub async fn list_env_variables(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, env)): Path<(String, String, String)>,
    page: Page,
) -> Reply {
    let world = shared.world();
    let e = env_of(&world, &owner, &repo, &env)?;
    let all: Vec<Value> = e
        .variables
        .iter()
        .map(|(n, (v, c, u))| json!({ "name": n, "value": v, "created_at": c, "updated_at": u }))
        .collect();
    let total = all.len();
    let (items, link) = page.of(all);
    Ok(link.respond(json!({ "total_count": total, "variables": items })))
}

/// `POST …/environments/{env}/variables` `{name, value}`: 201, 409 when it exists.
pub async fn create_env_variable(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, env)): Path<(String, String, String)>,
    JsonBody(body): JsonBody,
) -> Reply {
    let mut world = shared.world();
    let e = env_mut(&mut world, &owner, &repo, &env)?;
    let (Some(name), Some(value)) = (
        body.get("name").and_then(Value::as_str),
        body.get("value").and_then(Value::as_str),
    ) else {
        return Err(Refusal::invalid(
            "\"name\" and \"value\" are required strings.",
        ));
    };
    let name = name.to_ascii_uppercase();
    if e.variables.contains_key(&name) {
        return Err(Refusal::Message(StatusCode::CONFLICT, "Already exists"));
    }
    e.variables.insert(name, (value.to_string(), now(), now()));
    Ok(json_response(StatusCode::CREATED, json!({})))
}

/// `PATCH …/environments/{env}/variables/{name}` `{value}`: 204.
pub async fn update_env_variable(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, env, name)): Path<(String, String, String, String)>,
    JsonBody(body): JsonBody,
) -> Reply {
    let mut world = shared.world();
    let e = env_mut(&mut world, &owner, &repo, &env)?;
    let v = e
        .variables
        .get_mut(&name.to_ascii_uppercase())
        .ok_or(Refusal::NotFound)?;
    if let Some(value) = body.get("value").and_then(Value::as_str) {
        v.0 = value.to_string();
    }
    v.2 = now();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET …/environments/{env}/secrets`: names and times, never values.
pub async fn list_env_secrets(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, env)): Path<(String, String, String)>,
    page: Page,
) -> Reply {
    let world = shared.world();
    let e = env_of(&world, &owner, &repo, &env)?;
    let all: Vec<Value> = e
        .secrets
        .iter()
        .map(|(n, (c, u))| json!({ "name": n, "created_at": c, "updated_at": u }))
        .collect();
    let total = all.len();
    let (items, link) = page.of(all);
    Ok(link.respond(json!({ "total_count": total, "secrets": items })))
}

/// `GET …/environments/{env}/secrets/public-key`: the environment's key (the sandbox gives
/// each environment of a repository the repository's key pair, under the environment's path).
pub async fn env_public_key(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, env)): Path<(String, String, String)>,
) -> Reply {
    use base64::Engine as _;
    let world = shared.world();
    env_of(&world, &owner, &repo, &env)?;
    let r = world
        .github
        .repos
        .get(&format!("{owner}/{repo}"))
        .ok_or(Refusal::NotFound)?;
    let key = base64::engine::general_purpose::STANDARD.encode(r.key.public_key().as_bytes());
    Ok(json_response(
        StatusCode::OK,
        json!({ "key_id": r.key_id, "key": key }),
    ))
}

/// `PUT …/environments/{env}/secrets/{name}` `{encrypted_value, key_id}`: the sealed box must
/// open with the environment's key; 201 created, 204 updated.
pub async fn put_env_secret(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, env, name)): Path<(String, String, String, String)>,
    JsonBody(body): JsonBody,
) -> Reply {
    use base64::Engine as _;
    let (Some(encrypted), Some(key_id)) = (
        body.get("encrypted_value").and_then(Value::as_str),
        body.get("key_id").and_then(Value::as_str),
    ) else {
        return Err(Refusal::invalid(
            "\"encrypted_value\" and \"key_id\" are required.",
        ));
    };
    let mut world = shared.world();
    let r = world
        .github
        .repos
        .get(&format!("{owner}/{repo}"))
        .ok_or(Refusal::NotFound)?;
    let opens = key_id == r.key_id
        && base64::engine::general_purpose::STANDARD
            .decode(encrypted)
            .ok()
            .and_then(|sealed| r.key.unseal(&sealed).ok())
            .is_some();
    if !opens {
        return Err(Refusal::invalid_field(
            "Secret",
            "encrypted_value",
            "invalid",
            "encrypted_value is not a sealed box for this environment's public key",
        ));
    }
    let e = env_mut(&mut world, &owner, &repo, &env)?;
    let created = !e.secrets.contains_key(&name);
    let at = now();
    let first = e
        .secrets
        .get(&name)
        .map(|(c, _)| c.clone())
        .unwrap_or(at.clone());
    e.secrets.insert(name, (first, at));
    Ok(if created {
        json_response(StatusCode::CREATED, json!({}))
    } else {
        StatusCode::NO_CONTENT.into_response()
    })
}

/// `DELETE …/environments/{env}/secrets/{name}`: 204, or 404 when there is no such secret.
pub async fn delete_env_secret(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, env, name)): Path<(String, String, String, String)>,
) -> Reply {
    let mut world = shared.world();
    let e = env_mut(&mut world, &owner, &repo, &env)?;
    e.secrets.remove(&name).ok_or(Refusal::NotFound)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
