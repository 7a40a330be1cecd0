//! GitHub: the login every token acts as, users and teams (any login is known on first use,
//! as on github.com), the GitHub App, and repositories with their branch protection, Actions
//! secrets (and the key pair that opens them), environments, issues and comments; and the
//! `github:` part of the seed file.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::{World, now};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GithubSeed {
    pub login: Option<String>,
    pub users: Vec<String>,
    pub teams: BTreeMap<String, Vec<String>>,
    pub app: Option<GithubAppSeed>,
    pub repos: BTreeMap<String, RepoSeed>,
    /// The most items a list page holds whatever `per_page` asks (GitHub's is 100; a smaller
    /// one shows whether a client follows `Link: rel="next"` rather than stopping at the
    /// first page shorter than it asked for).
    pub max_per_page: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubAppSeed {
    pub id: u64,
    #[serde(default)]
    pub installations: Vec<u64>,
    /// The app's RSA public key (PEM, `BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`): when
    /// given, app JWTs must carry a valid RS256 signature.
    #[serde(default)]
    pub public_key: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RepoSeed {
    pub branches: Vec<String>,
    pub private: bool,
    pub secrets: Vec<String>,
    pub protection: BTreeMap<String, Value>,
    pub environments: BTreeMap<String, EnvironmentSeed>,
    pub issues: Vec<IssueSeed>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnvironmentSeed {
    pub reviewers: Vec<ReviewerSeed>,
    pub wait_timer: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewerSeed {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub slug: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IssueSeed {
    pub title: String,
    pub body: Option<String>,
    pub state: Option<String>,
}

pub struct GithubWorld {
    /// The user every token acts as.
    pub login: String,
    pub users: BTreeMap<String, u64>,
    /// (org, team slug) → id.
    pub teams: BTreeMap<(String, String), u64>,
    pub app: Option<GithubApp>,
    pub repos: BTreeMap<String, Repo>,
    /// See [`GithubSeed::max_per_page`].
    pub max_per_page: Option<usize>,
    /// Every ruleset, organization and repository ones alike, by id.
    pub rulesets: BTreeMap<u64, StoredRuleset>,
}

/// Where a ruleset is defined: `Organization` (its login) or `Repository` (`owner/name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesetSource {
    Organization(String),
    Repository(String),
}

/// A ruleset as last written: its request body fields (`name`, `target`, `enforcement`,
/// `conditions`, `rules`, `bypass_actors`) and its timestamps.
#[derive(Debug, Clone)]
pub struct StoredRuleset {
    pub id: u64,
    pub source: RulesetSource,
    pub body: serde_json::Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}

pub struct GithubApp {
    pub id: u64,
    pub installations: BTreeSet<u64>,
    pub public_key: Option<rsa::RsaPublicKey>,
}

pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub private: bool,
    pub default_branch: String,
    pub created_at: String,
    /// branch → the last accepted protection PUT body (None: unprotected).
    pub branches: BTreeMap<String, Option<Value>>,
    pub secrets: BTreeMap<String, GithubSecret>,
    pub environments: BTreeMap<String, Environment>,
    pub issues: Vec<Issue>,
    pub comments: Vec<Comment>,
    /// The Actions secrets key pair; the public half is served, the secret half opens the
    /// sealed boxes clients send.
    pub key: crypto_box::SecretKey,
    pub key_id: String,
    /// The last rendered `GET /repos/{o}/{r}` body and what it depended on (the API root and
    /// the open-issue count): the object is large and read often. Cleared by every change to
    /// the settings or topics.
    pub rendered: Option<(String, usize, axum::body::Bytes)>,
    /// Settings a `PATCH /repos/{o}/{r}` set, over the defaults the repository shows.
    pub settings: serde_json::Map<String, Value>,
    pub topics: Vec<String>,
    /// Direct collaborators: login → permission (`pull` … `admin`).
    pub collaborators: BTreeMap<String, String>,
    /// Teams with access: slug → permission.
    pub teams: BTreeMap<String, String>,
    /// Actions variables: name → (value, created_at, updated_at).
    pub variables: BTreeMap<String, (String, String, String)>,
}

pub struct GithubSecret {
    /// The decrypted value; `None` for secrets that came from the seed file. Never logged.
    pub value: Option<Vec<u8>>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone)]
pub struct Environment {
    pub id: u64,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    pub wait_timer: u64,
    pub prevent_self_review: bool,
    /// (`User` | `Team`, id).
    pub reviewers: Vec<(String, u64)>,
    pub deployment_branch_policy: Option<Value>,
    /// Deployment branch policies: (id, name pattern).
    pub branch_policies: Vec<(u64, String)>,
    /// Environment variables: name → (value, created_at, updated_at).
    pub variables: BTreeMap<String, (String, String, String)>,
    /// Environment secrets: name → (created_at, updated_at); values are opened and dropped.
    pub secrets: BTreeMap<String, (String, String)>,
}

#[derive(Clone)]
pub struct Issue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    pub user: String,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
}

#[derive(Clone)]
pub struct Comment {
    pub id: u64,
    pub issue_number: u64,
    pub body: String,
    pub user: String,
    pub created_at: String,
    pub updated_at: String,
}

impl GithubWorld {
    /// The accounts and the app of the seed; its repositories are seeded by
    /// [`World::seed_github`], which needs ids.
    pub(super) fn new(seed: &GithubSeed) -> anyhow::Result<GithubWorld> {
        Ok(GithubWorld {
            login: seed.login.clone().unwrap_or_else(|| "sophia-bot".into()),
            users: BTreeMap::new(),
            teams: BTreeMap::new(),
            app: match &seed.app {
                None => None,
                Some(a) => Some(GithubApp {
                    id: a.id,
                    installations: a.installations.iter().copied().collect(),
                    public_key: a.public_key.as_deref().map(parse_public_key).transpose()?,
                }),
            },
            repos: BTreeMap::new(),
            max_per_page: seed.max_per_page.filter(|n| *n > 0),
            rulesets: BTreeMap::new(),
        })
    }
}

impl World {
    /// Seeds the users, teams and repositories of the state file.
    pub(super) fn seed_github(&mut self, seed: &GithubSeed) -> anyhow::Result<()> {
        // GitHub.
        for login in &seed.users {
            self.github_user_id(login);
        }
        for (org, slugs) in &seed.teams {
            for slug in slugs {
                self.github_team_id(org, slug);
            }
        }
        for (full, repo) in &seed.repos {
            let Some((owner, name)) = full.split_once('/') else {
                anyhow::bail!("github repo `{full}` is not `owner/name`");
            };
            let branches = if repo.branches.is_empty() {
                vec!["main".to_string()]
            } else {
                repo.branches.clone()
            };
            let id = self.next_id();
            let key = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
            let key_id = key_id(key.public_key().as_bytes());
            let mut r = Repo {
                id,
                owner: owner.into(),
                name: name.into(),
                private: repo.private,
                default_branch: branches[0].clone(),
                created_at: now(),
                branches: branches.iter().map(|b| (b.clone(), None)).collect(),
                secrets: repo
                    .secrets
                    .iter()
                    .map(|s| {
                        (
                            s.clone(),
                            GithubSecret {
                                value: None,
                                created_at: now(),
                                updated_at: now(),
                            },
                        )
                    })
                    .collect(),
                environments: BTreeMap::new(),
                issues: Vec::new(),
                comments: Vec::new(),
                key,
                key_id,
                rendered: None,
                settings: serde_json::Map::new(),
                topics: Vec::new(),
                collaborators: BTreeMap::new(),
                teams: BTreeMap::new(),
                variables: BTreeMap::new(),
            };
            for (branch, body) in &repo.protection {
                let Some(slot) = r.branches.get_mut(branch) else {
                    anyhow::bail!(
                        "github repo `{full}`: protection for branch `{branch}`, which is not in `branches`"
                    );
                };
                *slot = Some(body.clone());
            }
            for issue in &repo.issues {
                let id = self.next_id();
                let number = r.issues.len() as u64 + 1;
                let state = issue.state.clone().unwrap_or_else(|| "open".into());
                r.issues.push(Issue {
                    id,
                    number,
                    title: issue.title.clone(),
                    body: issue.body.clone(),
                    closed_at: (state == "closed").then(now),
                    state,
                    user: self.github.login.clone(),
                    created_at: now(),
                    updated_at: now(),
                });
            }
            for (env_name, env) in &repo.environments {
                let mut reviewers = Vec::new();
                for rv in &env.reviewers {
                    match (rv.kind.as_str(), &rv.login, &rv.slug) {
                        ("User", Some(login), _) => {
                            reviewers.push(("User".into(), self.github_user_id(login)))
                        }
                        ("Team", _, Some(slug)) => {
                            reviewers.push(("Team".into(), self.github_team_id(owner, slug)))
                        }
                        _ => anyhow::bail!(
                            "github repo `{full}` environment `{env_name}`: a reviewer is `{{type: User, login: …}}` or `{{type: Team, slug: …}}`"
                        ),
                    }
                }
                let id = self.next_id();
                r.environments.insert(
                    env_name.clone(),
                    Environment {
                        id,
                        name: env_name.clone(),
                        created_at: now(),
                        updated_at: now(),
                        wait_timer: env.wait_timer,
                        prevent_self_review: false,
                        reviewers,
                        deployment_branch_policy: None,
                        branch_policies: Vec::new(),
                        variables: BTreeMap::new(),
                        secrets: BTreeMap::new(),
                    },
                );
            }
            self.github.repos.insert(full.clone(), r);
        }
        Ok(())
    }

    /// The id of a GitHub user, registering the login on first use (the sandbox knows every
    /// login, as github.com knows every user).
    pub fn github_user_id(&mut self, login: &str) -> u64 {
        if let Some(id) = self.github.users.get(login) {
            return *id;
        }
        let id = self.next_id();
        self.github.users.insert(login.into(), id);
        id
    }

    pub fn github_team_id(&mut self, org: &str, slug: &str) -> u64 {
        let key = (org.to_string(), slug.to_string());
        if let Some(id) = self.github.teams.get(&key) {
            return *id;
        }
        let id = self.next_id();
        self.github.teams.insert(key, id);
        id
    }

    /// The plaintext of a GitHub Actions secret as the sandbox decrypted it (tests only; never
    /// logged).
    pub fn github_secret_value(&self, repo: &str, name: &str) -> Option<&[u8]> {
        self.github
            .repos
            .get(repo)?
            .secrets
            .get(name)?
            .value
            .as_deref()
    }
}

/// An RSA public key in PEM, SPKI or PKCS#1.
fn parse_public_key(pem: &str) -> anyhow::Result<rsa::RsaPublicKey> {
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    use rsa::pkcs8::DecodePublicKey as _;
    rsa::RsaPublicKey::from_public_key_pem(pem.trim())
        .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(pem.trim()))
        .map_err(|e| {
            crate::hinted!(
                hint = "`openssl rsa -in app.pem -pubout` prints it",
                "`github.app.public_key` is not an RSA public key in PEM: {e}"
            )
        })
}

/// A GitHub-style numeric key id for a public key.
pub fn key_id(public: &[u8]) -> String {
    let digest = Sha256::digest(public);
    let n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) % 10u64.pow(18);
    format!("{n:018}")
}
