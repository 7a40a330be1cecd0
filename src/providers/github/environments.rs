//! Deployment environments: the gate itself (`GET`/`PUT …/environments/{name}`).
//!
//! Refresh normalizes GitHub's answer with [`environment_of`]; the core compares reviewers
//! as a set keyed by (type, login). An environment name is one path segment,
//! percent-encoded (`test/env` → `test%2Fenv`), as GitHub takes it.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use super::{GithubProvider, PROVIDER, split_repo};
use crate::providers::{ActionOutcome, ProviderError};

impl GithubProvider {
    /// An environment's required reviewers, `None` when the environment does not exist.
    pub(super) async fn environment(
        &self,
        repo: &str,
        env: &str,
    ) -> Result<Option<Value>, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        Ok(self
            .get_opt(&["repos", owner, name, "environments", env])
            .await?
            .map(|e| environment_of(&e)))
    }

    /// Create or update an environment with its required reviewers (`params.reviewers`:
    /// `[{type, login}]`) and the gate settings `params` holds (`prevent_self_review`,
    /// `wait_timer`, `deployment_branch_policy`). Ids come from the environment's current reviewers, else from
    /// `GET /users/{login}` or `GET /orgs/{owner}/teams/{slug}`. Idempotent.
    pub(super) async fn put_environment(
        &self,
        repo: &str,
        env: &str,
        params: &Value,
    ) -> Result<ActionOutcome, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let wanted: Vec<(String, String)> = params
            .get("reviewers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                Some((
                    r.get("type")?.as_str()?.to_string(),
                    r.get("login")?.as_str()?.to_string(),
                ))
            })
            .collect();
        let current = self
            .get_opt(&["repos", owner, name, "environments", env])
            .await?;
        let known: BTreeMap<(String, String), i64> = current
            .as_ref()
            .map(reviewers_of)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(t, l, id)| id.map(|id| ((t, l), id)))
            .collect();
        let mut reviewers = Vec::new();
        for (kind, login) in &wanted {
            let id = match known.get(&(kind.clone(), login.clone())) {
                Some(id) => *id,
                None => {
                    let path: Vec<&str> = if kind == "Team" {
                        vec!["orgs", owner, "teams", login]
                    } else {
                        vec!["users", login]
                    };
                    let who = self.send_ok(self.req(Method::GET, &path).await?).await?;
                    who.get("id").and_then(Value::as_i64).ok_or_else(|| {
                        ProviderError::new(
                            PROVIDER,
                            "http-error",
                            format!("GET /{}: no `id` in the answer", path.join("/")),
                        )
                    })?
                }
            };
            reviewers.push(json!({ "type": kind, "id": id }));
        }
        let mut body = json!({ "reviewers": reviewers });
        for key in [
            "prevent_self_review",
            "wait_timer",
            "deployment_branch_policy",
        ] {
            if let Some(v) = params.get(key) {
                body[key] = v.clone();
            }
        }
        let req = self
            .req(Method::PUT, &["repos", owner, name, "environments", env])
            .await?
            .json(body);
        self.send_ok(req).await?;
        Ok(ActionOutcome::success(
            format!(
                "environment `{env}` of {repo}: {} reviewer(s)",
                wanted.len()
            ),
            vec![json!({"repo": repo, "environment": env,
                        "reviewers": wanted.iter().map(|(t, l)| json!({"type": t, "login": l})).collect::<Vec<_>>()})],
        ))
    }
}

/// The normalized object of a `GET …/environments/{name}` answer: `{"reviewers": [{type,
/// login}]}` (a team by its slug). The core compares reviewers as a set keyed by
/// (type, login), so GitHub's order never shows as drift.
pub fn environment_of(env: &Value) -> Value {
    let rule = |kind: &str| {
        env.get("protection_rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|r| r.get("type").and_then(Value::as_str) == Some(kind))
    };
    let reviewers: Vec<Value> = reviewers_of(env)
        .into_iter()
        .map(|(t, l, _)| json!({"type": t, "login": l}))
        .collect();
    json!({
        "reviewers": reviewers,
        "prevent_self_review": rule("required_reviewers")
            .and_then(|r| r.get("prevent_self_review"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        "wait_timer": rule("wait_timer")
            .and_then(|r| r.get("wait_timer"))
            .and_then(Value::as_u64)
            .unwrap_or(0),
        "deployment_branch_policy": env.get("deployment_branch_policy").cloned().unwrap_or(Value::Null),
    })
}

/// `[{type, reviewer: {login|slug, id}}]` of an environment's `required_reviewers` rule →
/// sorted `(type, login-or-slug, id)`.
fn reviewers_of(env: &Value) -> Vec<(String, String, Option<i64>)> {
    let mut out: Vec<(String, String, Option<i64>)> = env
        .get("protection_rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r.get("type").and_then(Value::as_str) == Some("required_reviewers"))
        .flat_map(|r| {
            r.get("reviewers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|r| {
            let kind = r.get("type")?.as_str()?.to_string();
            let who = r.get("reviewer")?;
            let login = who
                .get("login")
                .or_else(|| who.get("slug"))?
                .as_str()?
                .to_string();
            Some((kind, login, who.get("id").and_then(Value::as_i64)))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reviewers_read_logins_and_slugs_sorted() {
        let env = json!({"protection_rules": [
            {"type": "wait_timer", "wait_timer": 5},
            {"type": "required_reviewers", "reviewers": [
                {"type": "User", "reviewer": {"login": "zed", "id": 2}},
                {"type": "Team", "reviewer": {"slug": "ops", "id": 7}},
            ]}
        ]});
        assert_eq!(
            reviewers_of(&env),
            vec![
                ("Team".into(), "ops".into(), Some(7)),
                ("User".into(), "zed".into(), Some(2))
            ]
        );
    }
}
