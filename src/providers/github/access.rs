//! A repository's settings, topics and access: `GET`/`PATCH /repos/{owner}/{repo}`,
//! `PUT …/topics`, collaborators (`GET …/collaborators?affiliation=direct`,
//! `PUT …/collaborators/{username}`), teams (`GET …/teams`,
//! `PUT /orgs/{org}/teams/{slug}/repos/{owner}/{repo}`) and Actions variables
//! (`GET …/actions/variables`, `POST` to create, `PATCH …/variables/{name}` to update).
//!
//! Normalized objects: settings → the managed PATCH fields as the repository reads them,
//! with `topics` sorted; a collaborator or team → `{permission}` in the PUT body's words (the
//! collaborator listing's `role_name` `read`/`write` read as `pull`/`push`); a variable →
//! `{value}`. Each listing is read once per repository, every page.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{GithubProvider, PROVIDER, split_repo};
use crate::core::address::Address;
use crate::core::desired::Permission;
use crate::core::desired::github_repo::SETTINGS_FIELDS;
use crate::providers::{ActionOutcome, ProviderError};

/// Which per-repository listing an address is answered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Listing {
    Collaborators,
    Teams,
    Variables,
}

/// The listing of each (repository, kind), read by whichever address needs it first.
pub type Cells = BTreeMap<(String, Listing), tokio::sync::OnceCell<BTreeMap<String, Value>>>;

impl Listing {
    /// The listing an address is answered from, with its repository.
    pub fn of(address: &Address) -> Option<(String, Listing)> {
        match address {
            Address::GithubCollaborator { repo, .. } => {
                Some((repo.clone(), Listing::Collaborators))
            }
            Address::GithubTeam { repo, .. } => Some((repo.clone(), Listing::Teams)),
            Address::GithubVariable { repo, .. } => Some((repo.clone(), Listing::Variables)),
            _ => None,
        }
    }

    /// The address of item `key` of this listing of `repo`.
    pub fn address(self, repo: &str, key: String) -> Address {
        let repo = repo.to_string();
        match self {
            Listing::Collaborators => Address::GithubCollaborator { repo, login: key },
            Listing::Teams => Address::GithubTeam { repo, slug: key },
            Listing::Variables => Address::GithubVariable { repo, name: key },
        }
    }
}

impl GithubProvider {
    /// The normalized object of `key` in the listing `address` is answered from.
    pub(super) async fn listed(
        &self,
        cells: &Cells,
        address: &Address,
        key: &str,
    ) -> Result<Option<Value>, ProviderError> {
        let Some((repo, which)) = Listing::of(address) else {
            return Ok(None);
        };
        let cell = cells.get(&(repo.clone(), which)).ok_or_else(|| {
            ProviderError::new(PROVIDER, "internal", format!("`{address}` was not listed"))
        })?;
        let items = cell.get_or_try_init(|| self.listing(&repo, which)).await?;
        Ok(items.get(key).cloned())
    }

    /// The managed settings and the topics of a repository.
    pub(super) async fn settings(&self, repo: &str) -> Result<Option<Value>, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let Some(r) = self.get_opt(&["repos", owner, name]).await? else {
            return Ok(None);
        };
        let mut out = Map::new();
        for field in SETTINGS_FIELDS {
            if let Some(v) = r.get(field) {
                out.insert(field.to_string(), v.clone());
            }
        }
        let mut topics: Vec<String> = r
            .get("topics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        topics.sort();
        out.insert("topics".into(), json!(topics));
        Ok(Some(Value::Object(out)))
    }

    /// Name → normalized object of every item of one listing of a repository.
    pub(super) async fn listing(
        &self,
        repo: &str,
        which: Listing,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let out = match which {
            Listing::Collaborators => self
                .list_all(
                    &["repos", owner, name, "collaborators"],
                    &[("affiliation", "direct".into())],
                    None,
                )
                .await?
                .iter()
                .filter_map(|c| {
                    let login = c.get("login")?.as_str()?.to_string();
                    let role = c.get("role_name").and_then(Value::as_str).unwrap_or("");
                    let permission = Permission::from_github(role)
                        .map(|p| json!(p.as_str()))
                        .unwrap_or_else(|| json!(role));
                    Some((login, json!({ "permission": permission })))
                })
                .collect(),
            Listing::Teams => self
                .list_all(&["repos", owner, name, "teams"], &[], None)
                .await?
                .iter()
                .filter_map(|t| {
                    let slug = t.get("slug")?.as_str()?.to_string();
                    Some((slug, json!({ "permission": t.get("permission") })))
                })
                .collect(),
            Listing::Variables => self
                .list_all(
                    &["repos", owner, name, "actions", "variables"],
                    &[],
                    Some("variables"),
                )
                .await?
                .iter()
                .filter_map(|v| {
                    let n = v.get("name")?.as_str()?.to_string();
                    Some((n, json!({ "value": v.get("value") })))
                })
                .collect(),
        };
        Ok(out)
    }

    /// `PATCH` the differing settings (`params.body`), then `PUT` the topics when given.
    pub(super) async fn patch_settings(
        &self,
        repo: &str,
        params: &Value,
    ) -> Result<ActionOutcome, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let body = params.get("body").cloned().unwrap_or_else(|| json!({}));
        if body.as_object().is_some_and(|b| !b.is_empty()) {
            let req = self
                .req(Method::PATCH, &["repos", owner, name])
                .await?
                .json(body.clone());
            self.send_ok(req).await?;
        }
        if let Some(topics) = params.get("topics") {
            let req = self
                .req(Method::PUT, &["repos", owner, name, "topics"])
                .await?
                .json(json!({ "names": topics }));
            self.send_ok(req).await?;
        }
        Ok(ActionOutcome::success(
            format!("updated the settings of {repo}"),
            vec![json!({"repo": repo, "settings": body, "topics": params.get("topics")})],
        ))
    }

    /// Give `login` the permission `params.permission` on `repo`.
    pub(super) async fn put_collaborator(
        &self,
        repo: &str,
        login: &str,
        params: &Value,
    ) -> Result<ActionOutcome, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let permission = params.get("permission").cloned().unwrap_or(json!("push"));
        let req = self
            .req(Method::PUT, &["repos", owner, name, "collaborators", login])
            .await?
            .json(json!({ "permission": permission }));
        self.send_ok(req).await?;
        Ok(ActionOutcome::success(
            format!("{login} has {permission} on {repo}"),
            vec![json!({"repo": repo, "collaborator": login, "permission": permission})],
        ))
    }

    /// Give team `slug` (of the repository's owner) the permission `params.permission`.
    pub(super) async fn put_team(
        &self,
        repo: &str,
        slug: &str,
        params: &Value,
    ) -> Result<ActionOutcome, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let permission = params.get("permission").cloned().unwrap_or(json!("push"));
        let req = self
            .req(
                Method::PUT,
                &["orgs", owner, "teams", slug, "repos", owner, name],
            )
            .await?
            .json(json!({ "permission": permission }));
        self.send_ok(req).await?;
        Ok(ActionOutcome::success(
            format!("team {slug} has {permission} on {repo}"),
            vec![json!({"repo": repo, "team": slug, "permission": permission})],
        ))
    }

    /// Create (`POST`) or update (`PATCH`) the Actions variable `var` to `params.value`; a
    /// create answered 409 (it exists by now) is retried as an update.
    pub(super) async fn put_variable(
        &self,
        repo: &str,
        var: &str,
        params: &Value,
    ) -> Result<ActionOutcome, ProviderError> {
        let (owner, name) = split_repo(repo)?;
        let value = params.get("value").cloned().unwrap_or(json!(""));
        let exists = params.get("exists").and_then(Value::as_bool) == Some(true);
        let patch = || async {
            let req = self
                .req(
                    Method::PATCH,
                    &["repos", owner, name, "actions", "variables", var],
                )
                .await?
                .json(json!({ "name": var, "value": value }));
            self.send_ok(req).await
        };
        if exists {
            patch().await?;
        } else {
            let req = self
                .req(
                    Method::POST,
                    &["repos", owner, name, "actions", "variables"],
                )
                .await?
                .json(json!({ "name": var, "value": value }));
            let resp = self.send(req).await?;
            if resp.status.as_u16() == 409 {
                patch().await?;
            } else {
                resp.ok().map_err(|e| ProviderError::http(PROVIDER, e))?;
            }
        }
        Ok(ActionOutcome::success(
            format!("set Actions variable {var} of {repo}"),
            vec![json!({"repo": repo, "variable": var})],
        ))
    }
}
