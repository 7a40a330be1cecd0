//! Actions secrets: `/repos/{owner}/{repo}/actions/secrets…`. Values come as libsodium sealed
//! boxes for the repository's public key (`{encrypted_value, key_id}`); the sandbox really opens
//! them, so a client that seals wrongly is refused as GitHub refuses it. A new secret answers
//! 201, an update 204. Only names and dates are ever served back.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use serde_json::{Value, json};

use super::extract::{JsonBody, Refusal, Reply, RepoItem, RepoPath};
use super::pages::Page;
use crate::sandbox::Shared;
use crate::sandbox::gate::json_response;
use crate::sandbox::state::{GithubSecret, now};

fn secret_json(name: &str, s: &GithubSecret) -> Value {
    json!({ "name": name, "created_at": s.created_at, "updated_at": s.updated_at })
}

pub async fn list_secrets(State(shared): State<Arc<Shared>>, repo: RepoPath, page: Page) -> Reply {
    let world = shared.world();
    let r = repo.find(&world)?;
    let all: Vec<Value> = r.secrets.iter().map(|(n, s)| secret_json(n, s)).collect();
    let total = all.len();
    let (items, link) = page.of(all);
    Ok(link.respond(json!({ "total_count": total, "secrets": items })))
}

pub async fn public_key(State(shared): State<Arc<Shared>>, repo: RepoPath) -> Reply {
    let world = shared.world();
    let r = repo.find(&world)?;
    let key = base64::engine::general_purpose::STANDARD.encode(r.key.public_key().as_bytes());
    Ok(json_response(
        StatusCode::OK,
        json!({ "key_id": r.key_id, "key": key }),
    ))
}

pub async fn get_secret(
    State(shared): State<Arc<Shared>>,
    RepoItem(repo, name): RepoItem<String>,
) -> Reply {
    let world = shared.world();
    let s = repo
        .find(&world)?
        .secrets
        .get(&name)
        .ok_or(Refusal::NotFound)?;
    Ok(json_response(StatusCode::OK, secret_json(&name, s)))
}

/// GitHub's rules for secret names.
fn valid_secret_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.to_ascii_uppercase().starts_with("GITHUB_")
}

pub async fn put_secret(
    State(shared): State<Arc<Shared>>,
    RepoItem(repo, name): RepoItem<String>,
    JsonBody(body): JsonBody,
) -> Reply {
    let (Some(encrypted), Some(key_id)) = (
        body.get("encrypted_value").and_then(Value::as_str),
        body.get("key_id").and_then(Value::as_str),
    ) else {
        return Err(Refusal::invalid(
            "\"encrypted_value\" and \"key_id\" are required.",
        ));
    };
    if !valid_secret_name(&name) {
        return Err(Refusal::invalid_field(
            "Secret",
            "name",
            "invalid",
            "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_), must not start with a number or GITHUB_.",
        ));
    }
    let mut world = shared.world();
    let r = repo.find_mut(&mut world)?;
    if key_id != r.key_id {
        return Err(Refusal::invalid_field(
            "Secret",
            "key_id",
            "invalid",
            "key_id does not match the repository public key",
        ));
    }
    let plain = base64::engine::general_purpose::STANDARD
        .decode(encrypted)
        .ok()
        .and_then(|sealed| r.key.unseal(&sealed).ok())
        .ok_or_else(|| {
            Refusal::invalid_field(
                "Secret",
                "encrypted_value",
                "invalid",
                "encrypted_value is not a sealed box for this repository's public key",
            )
        })?;
    let now = now();
    Ok(match r.secrets.get_mut(&name) {
        Some(s) => {
            s.value = Some(plain);
            s.updated_at = now;
            StatusCode::NO_CONTENT.into_response()
        }
        None => {
            r.secrets.insert(
                name,
                GithubSecret {
                    value: Some(plain),
                    created_at: now.clone(),
                    updated_at: now,
                },
            );
            json_response(StatusCode::CREATED, json!({}))
        }
    })
}

pub async fn delete_secret(
    State(shared): State<Arc<Shared>>,
    RepoItem(repo, name): RepoItem<String>,
) -> Reply {
    let mut world = shared.world();
    repo.find_mut(&mut world)?
        .secrets
        .remove(&name)
        .ok_or(Refusal::NotFound)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
