//! What exists, for `sophia import`: the repositories the credential can see, and the
//! addresses of one repository that import reads (its settings, the default branch's
//! protection, Actions secrets, environments and rulesets). Reads only.

use serde_json::Value;

use super::rulesets::Scope;
use super::{GithubProvider, ProviderError, split_repo};
use crate::core::address::Address;

impl GithubProvider {
    /// `owner/repo` of every repository the credential's user can see (`GET /user/repos`,
    /// all pages), sorted.
    pub async fn repo_names(&self) -> Result<Vec<String>, ProviderError> {
        let items = self.list_all(&["user", "repos"], &[], None).await?;
        let mut names: Vec<String> = items
            .iter()
            .filter_map(|r| {
                r.get("full_name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The addresses of `repo` that import reads; empty when the repository does not exist.
    pub async fn repo_inventory(&self, repo: &str) -> Result<Vec<Address>, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let Some(r) = self.get_opt(&["repos", owner, name]).await? else {
            return Ok(Vec::new());
        };
        let repo_s = repo.to_string();
        let mut out = vec![Address::GithubSettings {
            repo: repo_s.clone(),
        }];
        if let Some(branch) = r.get("default_branch").and_then(Value::as_str) {
            out.push(Address::GithubProtection {
                repo: repo_s.clone(),
                branch: branch.to_string(),
            });
        }
        for secret in self.secret_names(repo).await? {
            out.push(Address::GithubSecret {
                repo: repo_s.clone(),
                name: secret,
            });
        }
        let envs = self
            .list_all(
                &["repos", owner, name, "environments"],
                &[],
                Some("environments"),
            )
            .await?;
        for env in envs
            .iter()
            .filter_map(|e| e.get("name").and_then(Value::as_str))
        {
            out.push(Address::GithubEnvironment {
                repo: repo_s.clone(),
                env: env.to_string(),
            });
        }
        let scope = Scope::Repo(owner.to_string(), name.to_string());
        for ruleset in self.ruleset_ids(&scope).await?.into_keys() {
            out.push(Address::GithubRepoRuleset {
                repo: repo_s.clone(),
                name: ruleset,
            });
        }
        Ok(out)
    }
}
