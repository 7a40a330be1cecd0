//! Resource addresses: dotted, stable, human-readable names used in plans, `--target`,
//! proofs and the journal (DESIGN.md, "Resource addresses").
//!
//! ```text
//! fly.app.<name>                 fly.app.<name>.secrets        fly.app.<name>.machines
//! github.repo.<owner>/<repo>.branch.<branch>.protection
//! github.repo.<owner>/<repo>.secret.<NAME>
//! github.repo.<owner>/<repo>.environment.<env>
//! github.repo.<owner>/<repo>.ruleset.<name>    github.org.<org>.ruleset.<name>
//! provider.<name>   context_db.extension.<name>   context_db.schema.<name>
//! qdrant.collection.<name>   redis.config.<key>
//! ```
//!
//! Branch and environment names may contain dots and slashes, so an address is parsed from
//! the front with the known keywords, never split blindly on `.`. Addresses are
//! unambiguous: after `github.repo.<owner>/` the repository runs to the **first** `.branch.`,
//! `.secret.`, `.environment.` or `.ruleset.`, and the loader refuses repository names holding one of
//! those words as a dot-separated part (`names::ADDRESS_KEYWORDS`), so every valid
//! resource has one address and every address one resource. Owners never hold a dot; Fly
//! app names, secret names and the single names of the other kinds hold no dot either, or
//! end the address.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A typed resource address. Its string form is the contract; the typed form is what code
/// matches on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Address {
    FlyApp {
        app: String,
    },
    FlySecrets {
        app: String,
    },
    /// One app secret, by name: how a live name outside desired/ is listed as unmanaged
    /// and named to `sophia import` (plans change secrets at `fly.app.<a>.secrets`).
    FlySecret {
        app: String,
        name: String,
    },
    FlyMachines {
        app: String,
    },
    /// The machines of one process group of an app with several (`[processes]`).
    FlyProcess {
        app: String,
        group: String,
    },
    /// The app's public IP addresses.
    FlyIps {
        app: String,
    },
    /// The volumes named `name` that the app's machines mount (one per machine).
    FlyVolume {
        app: String,
        name: String,
    },
    GithubProtection {
        repo: String,
        branch: String,
    },
    GithubSecret {
        repo: String,
        name: String,
    },
    GithubEnvironment {
        repo: String,
        env: String,
    },
    /// A repository ruleset, by name.
    GithubRepoRuleset {
        repo: String,
        name: String,
    },
    /// An organization ruleset, by name.
    GithubOrgRuleset {
        org: String,
        name: String,
    },
    /// A repository's settings (PATCH fields) and topics.
    GithubSettings {
        repo: String,
    },
    /// A direct collaborator's permission.
    GithubCollaborator {
        repo: String,
        login: String,
    },
    /// A team's permission on the repository.
    GithubTeam {
        repo: String,
        slug: String,
    },
    /// An Actions variable.
    GithubVariable {
        repo: String,
        name: String,
    },
    Provider {
        name: String,
    },
    ContextDbExtension {
        name: String,
    },
    ContextDbSchema {
        name: String,
    },
    QdrantCollection {
        name: String,
    },
    RedisConfig {
        key: String,
    },
}

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a resource address: {reason}")]
pub struct AddressError {
    pub input: String,
    pub reason: String,
}

impl Address {
    /// The provider that owns this resource (`fly`, `github`, …); for `provider.<name>` the
    /// provider it activates.
    pub fn provider(&self) -> &str {
        match self {
            Address::FlyApp { .. }
            | Address::FlySecrets { .. }
            | Address::FlySecret { .. }
            | Address::FlyMachines { .. }
            | Address::FlyProcess { .. }
            | Address::FlyIps { .. }
            | Address::FlyVolume { .. } => "fly",
            Address::GithubProtection { .. }
            | Address::GithubSecret { .. }
            | Address::GithubEnvironment { .. }
            | Address::GithubRepoRuleset { .. }
            | Address::GithubOrgRuleset { .. }
            | Address::GithubSettings { .. }
            | Address::GithubCollaborator { .. }
            | Address::GithubTeam { .. }
            | Address::GithubVariable { .. } => "github",
            Address::Provider { name } => name,
            Address::ContextDbExtension { .. } | Address::ContextDbSchema { .. } => "context_db",
            Address::QdrantCollection { .. } => "qdrant",
            Address::RedisConfig { .. } => "redis",
        }
    }

    /// Parse the string form. Exactly inverts `Display`.
    pub fn parse(input: &str) -> Result<Address, AddressError> {
        let err = |reason: &str| AddressError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let nonempty = |s: &str, what: &str| -> Result<String, AddressError> {
            if s.is_empty() {
                Err(err(&format!("the {what} is empty")))
            } else {
                Ok(s.to_string())
            }
        };
        if let Some(rest) = input.strip_prefix("fly.app.") {
            // App names hold no dot; the secret name runs to the end.
            if let Some((app, name)) = rest.split_once(".secret.")
                && !app.contains('.')
            {
                return Ok(Address::FlySecret {
                    app: nonempty(app, "app name")?,
                    name: nonempty(name, "secret name")?,
                });
            }
            if let Some(app) = rest.strip_suffix(".secrets") {
                return Ok(Address::FlySecrets {
                    app: nonempty(app, "app name")?,
                });
            }
            if let Some(app) = rest.strip_suffix(".machines") {
                return Ok(Address::FlyMachines {
                    app: nonempty(app, "app name")?,
                });
            }
            if let Some((app, name)) = rest.split_once(".volume.") {
                return Ok(Address::FlyVolume {
                    app: nonempty(app, "app name")?,
                    name: nonempty(name, "volume name")?,
                });
            }
            if let Some(app) = rest.strip_suffix(".ips") {
                return Ok(Address::FlyIps {
                    app: nonempty(app, "app name")?,
                });
            }
            if let Some((app, group)) = rest.split_once(".process.") {
                return Ok(Address::FlyProcess {
                    app: nonempty(app, "app name")?,
                    group: nonempty(group, "process group")?,
                });
            }
            if rest.contains('.') {
                return Err(err(
                    "expected `fly.app.<name>[.secrets|.secret.<NAME>|.machines|.process.<group>]`",
                ));
            }
            return Ok(Address::FlyApp {
                app: nonempty(rest, "app name")?,
            });
        }
        if let Some(rest) = input.strip_prefix("github.repo.") {
            // Repository names may contain dots but never a keyword as a dot-separated part
            // (the loader refuses them), so the repository ends at the first keyword after
            // the slash, whichever it is; branch and environment names run to the end.
            let slash = rest
                .find('/')
                .ok_or_else(|| err("expected `github.repo.<owner>/<repo>.…`"))?;
            let after = &rest[slash..];
            if let Some(repo) = rest.strip_suffix(".settings")
                && !after[..after.len() - ".settings".len()].contains(".settings")
                && ![
                    ".branch.",
                    ".secret.",
                    ".environment.",
                    ".ruleset.",
                    ".collaborator.",
                    ".team.",
                    ".variable.",
                ]
                .iter()
                .any(|kw| after.contains(kw))
            {
                return Ok(Address::GithubSettings {
                    repo: nonempty(repo, "repository")?,
                });
            }
            let first = [
                (".branch.", 0),
                (".secret.", 1),
                (".environment.", 2),
                (".ruleset.", 3),
                (".collaborator.", 4),
                (".team.", 5),
                (".variable.", 6),
            ]
            .into_iter()
            .filter_map(|(kw, kind)| after.find(kw).map(|pos| (pos, kw, kind)))
            .min();
            let Some((pos, kw, kind)) = first else {
                return Err(err(
                    "expected `.branch.<b>.protection`, `.secret.<NAME>`, `.environment.<env>`, `.ruleset.<name>`, `.settings`, `.collaborator.<login>`, `.team.<slug>` or `.variable.<NAME>` after the repository",
                ));
            };
            let repo = nonempty(&rest[..slash + pos], "repository")?;
            let tail = &after[pos + kw.len()..];
            return match kind {
                0 => {
                    let branch = tail
                        .strip_suffix(".protection")
                        .ok_or_else(|| err("expected `….branch.<branch>.protection`"))?;
                    Ok(Address::GithubProtection {
                        repo,
                        branch: nonempty(branch, "branch")?,
                    })
                }
                1 => Ok(Address::GithubSecret {
                    repo,
                    name: nonempty(tail, "secret name")?,
                }),
                2 => Ok(Address::GithubEnvironment {
                    repo,
                    env: nonempty(tail, "environment")?,
                }),
                3 => Ok(Address::GithubRepoRuleset {
                    repo,
                    name: nonempty(tail, "ruleset name")?,
                }),
                4 => Ok(Address::GithubCollaborator {
                    repo,
                    login: nonempty(tail, "login")?,
                }),
                5 => Ok(Address::GithubTeam {
                    repo,
                    slug: nonempty(tail, "team slug")?,
                }),
                _ => Ok(Address::GithubVariable {
                    repo,
                    name: nonempty(tail, "variable name")?,
                }),
            };
        }
        if let Some(rest) = input.strip_prefix("github.org.") {
            // Organization logins hold no dot; the ruleset name runs to the end.
            let (org, name) = rest
                .split_once(".ruleset.")
                .filter(|(org, _)| !org.contains('.'))
                .ok_or_else(|| err("expected `github.org.<org>.ruleset.<name>`"))?;
            return Ok(Address::GithubOrgRuleset {
                org: nonempty(org, "organization")?,
                name: nonempty(name, "ruleset name")?,
            });
        }
        type Make = fn(String) -> Address;
        let simple: [(&str, Make); 5] = [
            ("provider.", |name| Address::Provider { name }),
            ("context_db.extension.", |name| {
                Address::ContextDbExtension { name }
            }),
            ("context_db.schema.", |name| Address::ContextDbSchema {
                name,
            }),
            ("qdrant.collection.", |name| Address::QdrantCollection {
                name,
            }),
            ("redis.config.", |key| Address::RedisConfig { key }),
        ];
        for (prefix, make) in simple {
            if let Some(rest) = input.strip_prefix(prefix) {
                return Ok(make(nonempty(rest, "name")?));
            }
        }
        Err(err(
            "it must start with `fly.app.`, `github.repo.`, `github.org.`, `provider.`, `context_db.`, `qdrant.collection.` or `redis.config.`",
        ))
    }

    /// Whether this address is `target` or lies under it (`fly.app.x` covers
    /// `fly.app.x.secrets`; `github.repo.o/r` covers the repository's branches, secrets and
    /// environments; `fly` covers every Fly resource). Used by `--target`.
    ///
    /// Only whole parts count, by the address's structure rather than its text: a target
    /// `github.repo.o/r` does not cover the repository `o/r.x`, nor does
    /// `….environment.e` cover the environment `e.x`.
    pub fn is_under(&self, target: &str) -> bool {
        self.scopes().iter().any(|s| s == target)
    }

    /// The address and every scope above it, from the widest: `fly`, `fly.app`,
    /// `fly.app.<name>`, `fly.app.<name>.secrets`.
    pub fn scopes(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(6);
        let mut push = |s: String| out.push(s);
        match self {
            Address::FlyApp { app }
            | Address::FlySecrets { app }
            | Address::FlySecret { app, .. }
            | Address::FlyMachines { app }
            | Address::FlyProcess { app, .. }
            | Address::FlyIps { app }
            | Address::FlyVolume { app, .. } => {
                push("fly".into());
                push("fly.app".into());
                push(format!("fly.app.{app}"));
            }
            Address::GithubProtection { repo, branch } => {
                for s in github_scopes(repo, "branch") {
                    push(s);
                }
                push(format!("github.repo.{repo}.branch.{branch}"));
            }
            Address::GithubSecret { repo, .. } => github_scopes(repo, "secret").for_each(push),
            Address::GithubEnvironment { repo, .. } => {
                github_scopes(repo, "environment").for_each(push)
            }
            Address::GithubRepoRuleset { repo, .. } => {
                github_scopes(repo, "ruleset").for_each(push)
            }
            Address::GithubSettings { repo } => github_scopes(repo, "settings").for_each(push),
            Address::GithubCollaborator { repo, .. } => {
                github_scopes(repo, "collaborator").for_each(push)
            }
            Address::GithubTeam { repo, .. } => github_scopes(repo, "team").for_each(push),
            Address::GithubVariable { repo, .. } => github_scopes(repo, "variable").for_each(push),
            Address::GithubOrgRuleset { org, .. } => {
                push("github".into());
                push("github.org".into());
                push(format!("github.org.{org}"));
                push(format!("github.org.{org}.ruleset"));
            }
            Address::Provider { .. } => push("provider".into()),
            Address::ContextDbExtension { .. } => {
                push("context_db".into());
                push("context_db.extension".into());
            }
            Address::ContextDbSchema { .. } => {
                push("context_db".into());
                push("context_db.schema".into());
            }
            Address::QdrantCollection { .. } => {
                push("qdrant".into());
                push("qdrant.collection".into());
            }
            Address::RedisConfig { .. } => {
                push("redis".into());
                push("redis.config".into());
            }
        }
        let me = self.to_string();
        if out.last() != Some(&me) {
            out.push(me);
        }
        out
    }
}

/// `github`, `github.repo`, `github.repo.<repo>`, `github.repo.<repo>.<kind>`.
fn github_scopes(repo: &str, kind: &str) -> impl Iterator<Item = String> {
    [
        "github".to_string(),
        "github.repo".to_string(),
        format!("github.repo.{repo}"),
        format!("github.repo.{repo}.{kind}"),
    ]
    .into_iter()
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::FlyApp { app } => write!(f, "fly.app.{app}"),
            Address::FlySecrets { app } => write!(f, "fly.app.{app}.secrets"),
            Address::FlySecret { app, name } => write!(f, "fly.app.{app}.secret.{name}"),
            Address::FlyMachines { app } => write!(f, "fly.app.{app}.machines"),
            Address::FlyProcess { app, group } => write!(f, "fly.app.{app}.process.{group}"),
            Address::FlyIps { app } => write!(f, "fly.app.{app}.ips"),
            Address::FlyVolume { app, name } => write!(f, "fly.app.{app}.volume.{name}"),
            Address::GithubProtection { repo, branch } => {
                write!(f, "github.repo.{repo}.branch.{branch}.protection")
            }
            Address::GithubSecret { repo, name } => write!(f, "github.repo.{repo}.secret.{name}"),
            Address::GithubEnvironment { repo, env } => {
                write!(f, "github.repo.{repo}.environment.{env}")
            }
            Address::GithubRepoRuleset { repo, name } => {
                write!(f, "github.repo.{repo}.ruleset.{name}")
            }
            Address::GithubOrgRuleset { org, name } => write!(f, "github.org.{org}.ruleset.{name}"),
            Address::GithubSettings { repo } => write!(f, "github.repo.{repo}.settings"),
            Address::GithubCollaborator { repo, login } => {
                write!(f, "github.repo.{repo}.collaborator.{login}")
            }
            Address::GithubTeam { repo, slug } => write!(f, "github.repo.{repo}.team.{slug}"),
            Address::GithubVariable { repo, name } => {
                write!(f, "github.repo.{repo}.variable.{name}")
            }
            Address::Provider { name } => write!(f, "provider.{name}"),
            Address::ContextDbExtension { name } => write!(f, "context_db.extension.{name}"),
            Address::ContextDbSchema { name } => write!(f, "context_db.schema.{name}"),
            Address::QdrantCollection { name } => write!(f, "qdrant.collection.{name}"),
            Address::RedisConfig { key } => write!(f, "redis.config.{key}"),
        }
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Address::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        for s in [
            "fly.app.sophiaai-dashboard-v2",
            "fly.app.a.secrets",
            "fly.app.a.secret.API_KEY",
            "fly.app.a.process.worker",
            "fly.app.a.ips",
            "fly.app.a.volume.data",
            "fly.app.a.machines",
            "github.repo.ai-cherry/sophia-intel-ai.branch.main.protection",
            "github.repo.ai-cherry/x.y.branch.release/1.2.protection",
            "github.repo.o/r.secret.FLY_API_TOKEN",
            "github.repo.o/r.environment.production",
            "github.repo.o/r.environment.test/env",
            "github.repo.o/r.ruleset.protect main",
            "github.org.ai-cherry.ruleset.protect-main",
            "github.org.ai-cherry.ruleset.v1.2 tags",
            "github.repo.o/r.settings",
            "github.repo.o/r.x.y.settings",
            "github.repo.o/r.collaborator.the-ceo",
            "github.repo.o/r.team.platform",
            "github.repo.o/r.variable.REGION",
            "provider.qdrant",
            "context_db.extension.pg_trgm",
            "context_db.schema.context",
            "qdrant.collection.context_chunks",
            "redis.config.maxmemory-policy",
        ] {
            let a = Address::parse(s).unwrap();
            assert_eq!(a.to_string(), s);
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(Address::parse("aws.s3.bucket").is_err());
        assert!(Address::parse("fly.app.").is_err());
        assert!(Address::parse("github.repo.o/r.branch.main").is_err());
    }

    #[test]
    fn targets_cover_children_only_at_dots() {
        let a = Address::parse("fly.app.a.secrets").unwrap();
        assert!(a.is_under("fly.app.a"));
        assert!(a.is_under("fly.app.a.secrets"));
        assert!(a.is_under("fly"));
        assert!(!a.is_under("fly.app.a.sec"));
        assert!(!Address::parse("fly.app.ab").unwrap().is_under("fly.app.a"));
        let p = Address::parse("github.repo.o/r.branch.release/1.2.protection").unwrap();
        for t in [
            "github",
            "github.repo.o/r",
            "github.repo.o/r.branch.release/1.2",
            "github.repo.o/r.branch.release/1.2.protection",
        ] {
            assert!(p.is_under(t), "{t}");
        }
        assert!(
            Address::parse("qdrant.collection.c")
                .unwrap()
                .is_under("qdrant")
        );
        assert!(
            Address::parse("provider.qdrant")
                .unwrap()
                .is_under("provider.qdrant")
        );
    }

    #[test]
    fn targets_never_cover_a_longer_name() {
        // A repository `o/r.x` and an environment `e.x` are not inside `o/r` and `e`.
        let repo_x = Address::parse("github.repo.o/r.x.secret.A").unwrap();
        assert!(!repo_x.is_under("github.repo.o/r"));
        let env_x = Address::parse("github.repo.o/r.environment.e.x").unwrap();
        assert!(!env_x.is_under("github.repo.o/r.environment.e"));
        assert!(env_x.is_under("github.repo.o/r"));
    }

    #[test]
    fn the_repository_ends_at_the_first_keyword() {
        // Finding 10: an environment `e.secret.A` of `o/r` (a repository `o/r.environment.e`
        // is refused by the loader, so this address has one reading).
        let env = Address::GithubEnvironment {
            repo: "o/r".into(),
            env: "e.secret.A".into(),
        };
        assert_eq!(env.to_string(), "github.repo.o/r.environment.e.secret.A");
        assert_eq!(Address::parse(&env.to_string()).unwrap(), env);
        // An environment holding `.branch.` is not read as a branch protection.
        let env = Address::GithubEnvironment {
            repo: "o/r".into(),
            env: "a.branch.b.protection".into(),
        };
        assert_eq!(Address::parse(&env.to_string()).unwrap(), env);
        let branch = Address::GithubProtection {
            repo: "o/x.y".into(),
            branch: "v1.secret.z".into(),
        };
        assert_eq!(Address::parse(&branch.to_string()).unwrap(), branch);
    }

    proptest::proptest! {
        /// Every address whose names pass the loader's rules reads back as itself: one
        /// address, one resource.
        #[test]
        fn valid_names_round_trip(
            owner in "[a-z0-9]{1,5}",
            repo in "[a-z0-9]{1,3}(\\.[a-z]{1,3}){0,3}",
            tail in "[a-zA-Z0-9]{1,3}(\\.(branch|secret|environment|protection|[a-z]{1,3})){0,4}",
            kind in 0..3usize,
        ) {
            let repo = format!("{owner}/{repo}");
            proptest::prop_assume!(crate::core::desired::names::owner_repo(&repo).is_ok());
            let a = match kind {
                0 => Address::GithubProtection { repo, branch: tail },
                1 => Address::GithubSecret { repo, name: tail.to_uppercase().replace('.', "_") },
                _ => Address::GithubEnvironment { repo, env: tail },
            };
            proptest::prop_assert_eq!(Address::parse(&a.to_string()).unwrap(), a);
        }
    }
}
