//! Retiring (issue 14): delete an Actions secret, variable, environment, collaborator or
//! team grant (what a managed repository holds is listed by `inventory.rs`, for the
//! unmanaged report). Every delete is idempotent: a 404 means already gone.

use reqwest::Method;
use serde_json::json;

use super::{GithubProvider, PROVIDER, split_repo};
use crate::core::address::Address;
use crate::providers::{ActionOutcome, ProviderError};

impl GithubProvider {
    /// `DELETE` the API object of a retired address.
    pub(super) async fn delete_object(
        &self,
        address: &Address,
    ) -> Result<ActionOutcome, ProviderError> {
        let (repo, segments): (&str, Vec<String>) = match address {
            Address::GithubSecret { repo, name } => {
                (repo, path(repo, &["actions", "secrets", name])?)
            }
            Address::GithubVariable { repo, name } => {
                (repo, path(repo, &["actions", "variables", name])?)
            }
            Address::GithubEnvironment { repo, env } => (repo, path(repo, &["environments", env])?),
            Address::GithubCollaborator { repo, login } => {
                (repo, path(repo, &["collaborators", login])?)
            }
            Address::GithubTeam { repo, slug } => {
                let (owner, name) = split_repo(repo)?;
                let s = ["orgs", owner, "teams", slug, "repos", owner, name];
                (repo, s.iter().map(|s| s.to_string()).collect())
            }
            other => {
                return Err(ProviderError::new(
                    PROVIDER,
                    "invalid-input",
                    format!("`{other}` has no delete"),
                ));
            }
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let resp = self
            .send(self.req(Method::DELETE, &segments).await?)
            .await?;
        if resp.status.as_u16() != 404 {
            resp.ok().map_err(|e| ProviderError::http(PROVIDER, e))?;
        }
        Ok(ActionOutcome::success(
            format!("deleted `{address}`"),
            vec![json!({ "repo": repo, "deleted": address.to_string() })],
        ))
    }
}

/// `repos/{owner}/{repo}/…` as path segments.
fn path(repo: &str, rest: &[&str]) -> Result<Vec<String>, ProviderError> {
    let (owner, name) = split_repo(repo)?;
    Ok(["repos", owner, name]
        .iter()
        .chain(rest)
        .map(|s| s.to_string())
        .collect())
}
