//! Rulesets of an organization (`/orgs/{org}/rulesets`) or a repository
//! (`/repos/{owner}/{repo}/rulesets`), matched by name, and the effective rules of a branch
//! (`/repos/{owner}/{repo}/rules/branches/{branch}`).
//!
//! Refresh lists each scope's rulesets once (every page) to learn the id of each name, then
//! reads each managed one (`GET …/rulesets/{id}`, normalized by
//! [`github_ruleset::normalize`]). A repository's listing asks `includes_parents=false`, so
//! an organization ruleset applying to it is never taken for the repository's own.
//! Put: `PUT …/rulesets/{id}` when the name exists, else `POST …/rulesets`; delete:
//! `DELETE …/rulesets/{id}`, a missing name being already done.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use super::{GithubProvider, PROVIDER, split_repo};
use crate::core::address::Address;
use crate::core::github_ruleset;
use crate::providers::{ActionOutcome, ProviderError};

/// Where a ruleset lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Org(String),
    Repo(String, String),
}

impl Scope {
    /// The scope and name of a ruleset address.
    pub fn of(address: &Address) -> Result<(Scope, &str), ProviderError> {
        match address {
            Address::GithubOrgRuleset { org, name } => Ok((Scope::Org(org.clone()), name)),
            Address::GithubRepoRuleset { repo, name } => {
                let (owner, repo) = split_repo(repo)?;
                Ok((Scope::Repo(owner.into(), repo.into()), name))
            }
            other => Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("`{other}` is not a ruleset"),
            )),
        }
    }

    fn segments(&self) -> Vec<&str> {
        match self {
            Scope::Org(org) => vec!["orgs", org, "rulesets"],
            Scope::Repo(owner, repo) => vec!["repos", owner, repo, "rulesets"],
        }
    }

    fn describe(&self) -> String {
        match self {
            Scope::Org(org) => format!("organization {org}"),
            Scope::Repo(owner, repo) => format!("{owner}/{repo}"),
        }
    }
}

impl GithubProvider {
    /// Name → id of every ruleset of a scope (its own only, for a repository).
    pub(crate) async fn ruleset_ids(
        &self,
        scope: &Scope,
    ) -> Result<BTreeMap<String, i64>, ProviderError> {
        let pairs: Vec<(&str, String)> = match scope {
            Scope::Org(_) => Vec::new(),
            Scope::Repo(..) => vec![("includes_parents", "false".into())],
        };
        let items = self.list_all(&scope.segments(), &pairs, None).await?;
        Ok(items
            .iter()
            .filter(|r| match scope {
                Scope::Org(_) => true,
                Scope::Repo(..) => r
                    .get("source_type")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t == "Repository"),
            })
            .filter_map(|r| Some((r.get("name")?.as_str()?.to_string(), r.get("id")?.as_i64()?)))
            .collect())
    }

    /// The normalized ruleset `id` of a scope.
    pub(crate) async fn ruleset(
        &self,
        scope: &Scope,
        id: i64,
    ) -> Result<Option<Value>, ProviderError> {
        let id = id.to_string();
        let mut segments = scope.segments();
        segments.push(&id);
        Ok(self
            .get_opt(&segments)
            .await?
            .map(|v| github_ruleset::normalize(&v)))
    }

    /// Create or replace the ruleset of `address` with `params.body` (the POST/PUT body).
    pub(crate) async fn put_ruleset(
        &self,
        address: &Address,
        params: &Value,
    ) -> Result<ActionOutcome, ProviderError> {
        let (scope, name) = Scope::of(address)?;
        let body = params.get("body").cloned().unwrap_or_else(|| json!({}));
        let ids = self.ruleset_ids(&scope).await?;
        let mut segments = scope.segments();
        let (method, verb) = match ids.get(name) {
            Some(id) => (Method::PUT, Some(id.to_string())),
            None => (Method::POST, None),
        };
        if let Some(id) = &verb {
            segments.push(id);
        }
        let req = self.req(method.clone(), &segments).await?.json(body);
        let answer = self.send_ok(req).await?;
        let id = answer.get("id").and_then(Value::as_i64);
        Ok(ActionOutcome::success(
            format!(
                "{} ruleset `{name}` of {}",
                if method == Method::POST {
                    "created"
                } else {
                    "updated"
                },
                scope.describe()
            ),
            vec![json!({"ruleset": name, "scope": scope.describe(), "id": id})],
        ))
    }

    /// Delete the ruleset of `address`; a name that does not exist is already deleted.
    pub(crate) async fn delete_ruleset(
        &self,
        address: &Address,
    ) -> Result<ActionOutcome, ProviderError> {
        let (scope, name) = Scope::of(address)?;
        let ids = self.ruleset_ids(&scope).await?;
        if let Some(id) = ids.get(name) {
            let id = id.to_string();
            let mut segments = scope.segments();
            segments.push(&id);
            let resp = self
                .send(self.req(Method::DELETE, &segments).await?)
                .await?;
            if resp.status.as_u16() != 404 {
                resp.ok().map_err(|e| ProviderError::http(PROVIDER, e))?;
            }
        }
        Ok(ActionOutcome::success(
            format!("deleted ruleset `{name}` of {}", scope.describe()),
            vec![json!({"ruleset": name, "scope": scope.describe()})],
        ))
    }

    /// `rules`: the rules that apply to a branch, each with the ruleset it comes from
    /// (`GET /repos/{owner}/{repo}/rules/branches/{branch}`, every page).
    pub(crate) async fn branch_rules(
        &self,
        repo: &str,
        branch: &str,
    ) -> Result<(String, Vec<Value>), ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let items = self
            .list_all(
                &["repos", owner, name, "rules", "branches", branch],
                &[],
                None,
            )
            .await?;
        let rules: Vec<Value> = items
            .iter()
            .map(|r| {
                json!({
                    "type": r.get("type"),
                    "parameters": r.get("parameters"),
                    "ruleset_id": r.get("ruleset_id"),
                    "ruleset_source_type": r.get("ruleset_source_type"),
                    "ruleset_source": r.get("ruleset_source"),
                })
            })
            .collect();
        Ok((
            format!("{} rule(s) apply to `{branch}` of {repo}", rules.len()),
            vec![json!({"repo": repo, "branch": branch, "rules": rules})],
        ))
    }
}
