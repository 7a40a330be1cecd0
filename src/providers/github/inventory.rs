//! What exists, for `sophia import` and the unmanaged report: the repositories the
//! credential can see, the addresses of one repository (its settings, the default branch's
//! protection, Actions secrets and variables, environments, rulesets, direct collaborators
//! and teams), and the rulesets of an organization. Reads only; every GET is conditional
//! (the ETag cache of the [`crate::providers::Http`] the provider was given).

use serde_json::Value;

use super::access::Listing;
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
        out.extend(self.inventory(repo).await?);
        Ok(out)
    }

    /// What repository `repo` holds that the unmanaged report looks at: its Actions
    /// secrets and variables, environments, own rulesets, direct collaborators and teams,
    /// as addresses. The six listings are read together (the HTTP layer bounds how many run
    /// at once).
    pub async fn inventory(&self, repo: &str) -> Result<Vec<Address>, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let scope = Scope::Repo(owner.into(), name.into());
        let env_segments = ["repos", owner, name, "environments"];
        let (secrets, envs, rulesets, variables, collaborators, teams) = tokio::try_join!(
            self.secret_names(repo),
            self.list_all(&env_segments, &[], Some("environments")),
            self.ruleset_ids(&scope),
            self.listing(repo, Listing::Variables),
            self.listing(repo, Listing::Collaborators),
            self.listing(repo, Listing::Teams),
        )?;
        let repo_s = || repo.to_string();
        let mut out: Vec<Address> = secrets
            .into_iter()
            .map(|name| Address::GithubSecret {
                repo: repo_s(),
                name,
            })
            .collect();
        out.extend(envs.iter().filter_map(|e| {
            Some(Address::GithubEnvironment {
                repo: repo_s(),
                env: e.get("name").and_then(Value::as_str)?.to_string(),
            })
        }));
        out.extend(rulesets.into_keys().map(|name| Address::GithubRepoRuleset {
            repo: repo_s(),
            name,
        }));
        for (which, listed) in [
            (Listing::Variables, variables),
            (Listing::Collaborators, collaborators),
            (Listing::Teams, teams),
        ] {
            out.extend(listed.into_keys().map(|key| which.address(repo, key)));
        }
        Ok(out)
    }

    /// The rulesets of organization `org`, as addresses; none when `org` is not an
    /// organization (a user account answers 404).
    pub async fn org_inventory(&self, org: &str) -> Result<Vec<Address>, ProviderError> {
        let listed = self
            .list_all_opt(&["orgs", org, "rulesets"], &[], None)
            .await?;
        let mut names: Vec<String> = listed
            .iter()
            .flatten()
            .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        Ok(names
            .into_iter()
            .map(|name| Address::GithubOrgRuleset {
                org: org.to_string(),
                name,
            })
            .collect())
    }
}
