//! Deployment environments: the gate itself (`GET`/`PUT …/environments/{name}`).
//!
//! Refresh normalizes GitHub's answer with [`environment_of`]; the core compares reviewers
//! as a set keyed by (type, login). An environment name is one path segment,
//! percent-encoded (`test/env` → `test%2Fenv`), as GitHub takes it.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use super::{GithubProvider, PROVIDER, split_repo};
use crate::providers::{ActionOutcome, ProviderError, SecretSource};

impl GithubProvider {
    /// An environment's required reviewers, `None` when the environment does not exist.
    pub(super) async fn environment(
        &self,
        repo: &str,
        env: &str,
    ) -> Result<Option<Value>, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let Some(e) = self
            .get_opt(&["repos", owner, name, "environments", env])
            .await?
        else {
            return Ok(None);
        };
        let mut out = environment_of(&e);
        let mut policies: Vec<String> = self
            .env_listing(repo, env, "deployment-branch-policies", "branch_policies")
            .await?
            .iter()
            .filter_map(|p| p.get("name")?.as_str().map(str::to_string))
            .collect();
        policies.sort();
        out["branch_policies"] = json!(policies);
        let variables: BTreeMap<String, Value> = self
            .env_listing(repo, env, "variables", "variables")
            .await?
            .iter()
            .filter_map(|v| {
                Some((
                    v.get("name")?.as_str()?.to_string(),
                    v.get("value")?.clone(),
                ))
            })
            .collect();
        out["variables"] = json!(variables);
        let listed = self.env_listing(repo, env, "secrets", "secrets").await?;
        let mut secrets: Vec<String> = listed
            .iter()
            .filter_map(|v| v.get("name")?.as_str().map(str::to_string))
            .collect();
        secrets.sort();
        out["secrets"] = json!(secrets);
        // When each was last set: a watched secret set outside sophia is drift.
        let updated: BTreeMap<String, Value> = listed
            .iter()
            .filter_map(|v| {
                Some((
                    v.get("name")?.as_str()?.to_string(),
                    v.get("updated_at")?.clone(),
                ))
            })
            .collect();
        if !updated.is_empty() {
            out["secrets_updated_at"] = json!(updated);
        }
        Ok(Some(out))
    }

    /// Set an environment secret: the value is read from `secrets` now and sealed with the
    /// environment's own public key (`GET …/environments/{env}/secrets/public-key`).
    async fn put_env_secret(
        &self,
        repo: &str,
        env: &str,
        secret: &str,
        secrets: &dyn SecretSource,
    ) -> Result<(), ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let value = secrets.value(secret).ok_or_else(|| {
            ProviderError::new(
                PROVIDER,
                "not-configured",
                format!("secret value not set in the environment: {secret}"),
            )
        })?;
        let key = self
            .send_ok(
                self.req(
                    Method::GET,
                    &[
                        "repos",
                        owner,
                        name,
                        "environments",
                        env,
                        "secrets",
                        "public-key",
                    ],
                )
                .await?,
            )
            .await?;
        let key_id = super::key_id_of(&key).ok_or_else(|| {
            ProviderError::new(
                PROVIDER,
                "http-error",
                "GET …/environments/{env}/secrets/public-key: the answer has no `key_id`",
            )
        })?;
        let encrypted = super::seal(
            key.get("key").and_then(Value::as_str).unwrap_or_default(),
            &value,
        )?;
        drop(value);
        let req = self
            .req(
                Method::PUT,
                &["repos", owner, name, "environments", env, "secrets", secret],
            )
            .await?
            .json(json!({ "encrypted_value": encrypted, "key_id": key_id }));
        self.send_ok(req).await?;
        Ok(())
    }

    /// Every item of an environment's listing `what` (its field `key`); a 404 (GitHub's answer
    /// where the listing does not apply) is an empty list.
    async fn env_listing(
        &self,
        repo: &str,
        env: &str,
        what: &str,
        key: &str,
    ) -> Result<Vec<Value>, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        match self
            .list_all(
                &["repos", owner, name, "environments", env, what],
                &[],
                Some(key),
            )
            .await
        {
            Ok(items) => Ok(items),
            Err(e) if e.message.contains("HTTP 404") => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Make the environment's branch policies exactly `wanted` (POST the missing, DELETE the
    /// others), then its variables at least `variables` (POST the missing, PATCH the
    /// differing).
    async fn sync_environment_lists(
        &self,
        repo: &str,
        env: &str,
        params: &Value,
    ) -> Result<(), ProviderError> {
        let (owner, name) = split_repo(repo)?;
        if let Some(wanted) = params.get("branch_policies").and_then(Value::as_array) {
            let wanted: Vec<&str> = wanted.iter().filter_map(Value::as_str).collect();
            let have = self
                .env_listing(repo, env, "deployment-branch-policies", "branch_policies")
                .await?;
            let base = [
                "repos",
                owner,
                name,
                "environments",
                env,
                "deployment-branch-policies",
            ];
            for p in &have {
                let (Some(pname), Some(id)) = (
                    p.get("name").and_then(Value::as_str),
                    p.get("id").and_then(Value::as_i64),
                ) else {
                    continue;
                };
                if !wanted.contains(&pname) {
                    let id = id.to_string();
                    let mut segs = base.to_vec();
                    segs.push(&id);
                    self.send_ok(self.req(Method::DELETE, &segs).await?).await?;
                }
            }
            for w in wanted {
                if !have
                    .iter()
                    .any(|p| p.get("name").and_then(Value::as_str) == Some(w))
                {
                    let req = self
                        .req(Method::POST, &base)
                        .await?
                        .json(json!({ "name": w, "type": "branch" }));
                    self.send_ok(req).await?;
                }
            }
        }
        if let Some(wanted) = params.get("variables").and_then(Value::as_object) {
            let have = self
                .env_listing(repo, env, "variables", "variables")
                .await?;
            let base = ["repos", owner, name, "environments", env, "variables"];
            for (var, value) in wanted {
                let current = have
                    .iter()
                    .find(|v| v.get("name").and_then(Value::as_str) == Some(var.as_str()));
                let body = json!({ "name": var, "value": value });
                let req = match current {
                    Some(c) if c.get("value") == Some(value) => continue,
                    Some(_) => {
                        let mut segs = base.to_vec();
                        segs.push(var);
                        self.req(Method::PATCH, &segs).await?.json(body)
                    }
                    None => self.req(Method::POST, &base).await?.json(body),
                };
                self.send_ok(req).await?;
            }
        }
        Ok(())
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
        secrets: &dyn SecretSource,
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
        self.sync_environment_lists(repo, env, params).await?;
        for secret in params
            .get("set_secrets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            self.put_env_secret(repo, env, secret, secrets).await?;
        }
        // Retired secrets sophia set: deleted one by one (a 404 is already gone).
        for secret in params
            .get("unset_secrets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let segments = ["repos", owner, name, "environments", env, "secrets", secret];
            let resp = self
                .send(self.req(Method::DELETE, &segments).await?)
                .await?;
            if resp.status.as_u16() != 404 {
                resp.ok().map_err(|e| ProviderError::http(PROVIDER, e))?;
            }
        }
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
