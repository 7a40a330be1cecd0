//! Issues and issue comments of the GitHub REST API: what `sophia comment` (the sticky plan
//! comment on a pull request) and `sophia drift --issue` (the drift issue) need. For these
//! endpoints a pull request is an issue, so its conversation comments are issue comments.
//!
//! - `GET /repos/{o}/{r}/issues/{n}/comments?per_page=100` (every page by `Link: rel="next"`,
//!   oldest first)
//! - `POST /repos/{o}/{r}/issues/{n}/comments`, `PATCH /repos/{o}/{r}/issues/comments/{id}`
//! - `GET /repos/{o}/{r}/issues?state=open&per_page=100` (every page; pull requests left out)
//! - `POST /repos/{o}/{r}/issues`, `PATCH /repos/{o}/{r}/issues/{n}`
//!
//! Sticky comments and issues are found by a hidden HTML comment, the *marker*, on the first
//! line of their body: GitHub renders it as nothing, and nobody types it by accident.

use std::fmt;
use std::str::FromStr;

use reqwest::Method;
use serde_json::{Value, json};

use super::github::GithubProvider;
use super::http::Retry;
use super::{Credentials, Http, ProviderError};

/// A repository, `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RepoRef {
    pub owner: String,
    pub name: String,
}

impl FromStr for RepoRef {
    type Err = String;

    fn from_str(s: &str) -> Result<RepoRef, String> {
        let bad = || format!("`{s}` is not a repository: expected `OWNER/REPO`");
        let (owner, name) = s.split_once('/').ok_or_else(bad)?;
        // GitHub's own rules: owners are letters, digits and `-`; repository names add `.`
        // and `_`.
        let owner_ok =
            !owner.is_empty() && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        let name_ok = !name.is_empty()
            && name != "."
            && name != ".."
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
        if owner_ok && name_ok {
            Ok(RepoRef {
                owner: owner.to_string(),
                name: name.to_string(),
            })
        } else {
            Err(bad())
        }
    }
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// An issue comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    pub body: String,
    pub html_url: String,
}

/// An issue (never a pull request: [`Issues::open_issues`] leaves those out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub state: String,
    pub html_url: String,
}

/// What [`Issues::upsert_comment`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upserted {
    /// No comment had the marker: a new one was posted.
    Created(Comment),
    /// The comment with the marker was edited in place.
    Updated(Comment),
    /// The comment with the marker already had this body: nothing was sent.
    Unchanged(Comment),
}

impl Upserted {
    pub fn comment(&self) -> &Comment {
        match self {
            Upserted::Created(c) | Upserted::Updated(c) | Upserted::Unchanged(c) => c,
        }
    }
}

/// Whether `body` carries `marker` on its first line.
pub fn has_marker(body: &str, marker: &str) -> bool {
    body.lines().next().map(str::trim) == Some(marker)
}

/// The issue and comment endpoints, through the GitHub provider's client (its auth,
/// retries, rate limits and `GITHUB_API_URL`).
#[derive(Debug, Clone)]
pub struct Issues {
    gh: GithubProvider,
}

fn field_u64(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or_default()
}

fn field_str(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn comment_of(v: &Value) -> Comment {
    Comment {
        id: field_u64(v, "id"),
        body: field_str(v, "body"),
        html_url: field_str(v, "html_url"),
    }
}

fn issue_of(v: &Value) -> Issue {
    Issue {
        number: field_u64(v, "number"),
        title: field_str(v, "title"),
        body: field_str(v, "body"),
        state: field_str(v, "state"),
        html_url: field_str(v, "html_url"),
    }
}

impl Issues {
    /// Configured as the GitHub provider is: `GITHUB_TOKEN`, or the GitHub App.
    pub fn new(creds: &Credentials, http: Http) -> Result<Issues, ProviderError> {
        Ok(Issues {
            gh: GithubProvider::new(creds, http)?,
        })
    }

    /// Every page of a listing, in the server's order: pages are followed by their
    /// `Link: rel="next"` header to the end, whatever their length.
    async fn list(
        &self,
        segments: &[&str],
        extra: &[(&str, String)],
    ) -> Result<Vec<Value>, ProviderError> {
        self.gh.list_all(segments, extra, None).await
    }

    /// Every comment of issue or pull request `number`, oldest first.
    pub async fn comments(
        &self,
        repo: &RepoRef,
        number: u64,
    ) -> Result<Vec<Comment>, ProviderError> {
        let n = number.to_string();
        let items = self
            .list(
                &["repos", &repo.owner, &repo.name, "issues", &n, "comments"],
                &[],
            )
            .await?;
        Ok(items.iter().map(comment_of).collect())
    }

    /// Post a comment. Never retried once it may have reached GitHub: a retry could post it
    /// twice.
    pub async fn create_comment(
        &self,
        repo: &RepoRef,
        number: u64,
        body: &str,
    ) -> Result<Comment, ProviderError> {
        let n = number.to_string();
        let v = self
            .gh
            .call(
                Method::POST,
                &["repos", &repo.owner, &repo.name, "issues", &n, "comments"],
                &[],
                Some(json!({ "body": body })),
                Retry::Never,
            )
            .await?;
        Ok(comment_of(&v))
    }

    /// Replace a comment's body. Setting the same body twice is harmless, so it is retried.
    pub async fn update_comment(
        &self,
        repo: &RepoRef,
        id: u64,
        body: &str,
    ) -> Result<Comment, ProviderError> {
        let id = id.to_string();
        let v = self
            .gh
            .call(
                Method::PATCH,
                &["repos", &repo.owner, &repo.name, "issues", "comments", &id],
                &[],
                Some(json!({ "body": body })),
                Retry::Idempotent,
            )
            .await?;
        Ok(comment_of(&v))
    }

    /// The one comment of `number` whose first line is `marker`: edited in place when its
    /// body differs, posted when there is none. With several (two runs that raced), the
    /// oldest is the sticky one.
    pub async fn upsert_comment(
        &self,
        repo: &RepoRef,
        number: u64,
        marker: &str,
        body: &str,
    ) -> Result<Upserted, ProviderError> {
        let existing = self
            .comments(repo, number)
            .await?
            .into_iter()
            .find(|c| has_marker(&c.body, marker));
        match existing {
            Some(c) if c.body == body => Ok(Upserted::Unchanged(c)),
            Some(c) => Ok(Upserted::Updated(
                self.update_comment(repo, c.id, body).await?,
            )),
            None => Ok(Upserted::Created(
                self.create_comment(repo, number, body).await?,
            )),
        }
    }

    /// Every open issue (pull requests, which the same endpoint lists, left out), newest
    /// first.
    pub async fn open_issues(&self, repo: &RepoRef) -> Result<Vec<Issue>, ProviderError> {
        let items = self
            .list(
                &["repos", &repo.owner, &repo.name, "issues"],
                &[("state", "open".to_string())],
            )
            .await?;
        Ok(items
            .iter()
            .filter(|v| v.get("pull_request").is_none())
            .map(issue_of)
            .collect())
    }

    /// Open an issue. Never retried once it may have reached GitHub.
    pub async fn create_issue(
        &self,
        repo: &RepoRef,
        title: &str,
        body: &str,
    ) -> Result<Issue, ProviderError> {
        let v = self
            .gh
            .call(
                Method::POST,
                &["repos", &repo.owner, &repo.name, "issues"],
                &[],
                Some(json!({ "title": title, "body": body })),
                Retry::Never,
            )
            .await?;
        Ok(issue_of(&v))
    }

    /// Change an issue: `changes` is the PATCH body (`title`, `body`, `state`,
    /// `state_reason`). Idempotent, so retried.
    pub async fn update_issue(
        &self,
        repo: &RepoRef,
        number: u64,
        changes: Value,
    ) -> Result<Issue, ProviderError> {
        let n = number.to_string();
        let v = self
            .gh
            .call(
                Method::PATCH,
                &["repos", &repo.owner, &repo.name, "issues", &n],
                &[],
                Some(changes),
                Retry::Idempotent,
            )
            .await?;
        Ok(issue_of(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_parse_as_github_names_them() {
        let r: RepoRef = "ai-cherry/sophia-intel-ai".parse().unwrap();
        assert_eq!(
            (r.owner.as_str(), r.name.as_str()),
            ("ai-cherry", "sophia-intel-ai")
        );
        assert_eq!(r.to_string(), "ai-cherry/sophia-intel-ai");
        for bad in ["sophia", "a/b/c", "/b", "a/", "a/..", "a b/c"] {
            assert!(bad.parse::<RepoRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_marker_is_the_first_line_only() {
        let m = "<!-- sophia-plan: o/r#1 target=all -->";
        assert!(has_marker(&format!("{m}\n## sophia plan"), m));
        assert!(!has_marker(&format!("quoting\n{m}"), m));
        assert!(!has_marker("", m));
    }
}
