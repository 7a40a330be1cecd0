//! Resource addresses: dotted, stable, human-readable names used in plans, `--target`,
//! proofs and the journal (DESIGN.md, "Resource addresses").
//!
//! ```text
//! fly.app.<name>                 fly.app.<name>.secrets        fly.app.<name>.machines
//! github.repo.<owner>/<repo>.branch.<branch>.protection
//! github.repo.<owner>/<repo>.secret.<NAME>
//! github.repo.<owner>/<repo>.environment.<env>
//! provider.<name>   context_db.extension.<name>   context_db.schema.<name>
//! qdrant.collection.<name>   redis.config.<key>
//! ```
//!
//! Branch names may contain dots and slashes, so an address is parsed from the front with
//! the known keywords, never split blindly on `.`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A typed resource address. Its string form is the contract; the typed form is what code
/// matches on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Address {
    FlyApp { app: String },
    FlySecrets { app: String },
    FlyMachines { app: String },
    GithubProtection { repo: String, branch: String },
    GithubSecret { repo: String, name: String },
    GithubEnvironment { repo: String, env: String },
    Provider { name: String },
    ContextDbExtension { name: String },
    ContextDbSchema { name: String },
    QdrantCollection { name: String },
    RedisConfig { key: String },
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
            Address::FlyApp { .. } | Address::FlySecrets { .. } | Address::FlyMachines { .. } => {
                "fly"
            }
            Address::GithubProtection { .. }
            | Address::GithubSecret { .. }
            | Address::GithubEnvironment { .. } => "github",
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
            if rest.contains('.') {
                return Err(err("expected `fly.app.<name>[.secrets|.machines]`"));
            }
            return Ok(Address::FlyApp {
                app: nonempty(rest, "app name")?,
            });
        }
        if let Some(rest) = input.strip_prefix("github.repo.") {
            // owner/repo never contains a dot-keyword, but repo names may contain dots, so
            // find the first `.branch.`, `.secret.` or `.environment.` after the slash.
            let slash = rest
                .find('/')
                .ok_or_else(|| err("expected `github.repo.<owner>/<repo>.…`"))?;
            let after = &rest[slash..];
            for (kw, kind) in [(".branch.", 0), (".secret.", 1), (".environment.", 2)] {
                if let Some(pos) = after.find(kw) {
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
                        _ => Ok(Address::GithubEnvironment {
                            repo,
                            env: nonempty(tail, "environment")?,
                        }),
                    };
                }
            }
            return Err(err(
                "expected `.branch.<b>.protection`, `.secret.<NAME>` or `.environment.<env>` after the repository",
            ));
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
            "it must start with `fly.app.`, `github.repo.`, `provider.`, `context_db.`, `qdrant.collection.` or `redis.config.`",
        ))
    }

    /// Whether this address is `target` or lies under it (`fly.app.x` covers
    /// `fly.app.x.secrets`). Used by `--target`.
    pub fn is_under(&self, target: &str) -> bool {
        let me = self.to_string();
        me == target || (me.starts_with(target) && me.as_bytes().get(target.len()) == Some(&b'.'))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::FlyApp { app } => write!(f, "fly.app.{app}"),
            Address::FlySecrets { app } => write!(f, "fly.app.{app}.secrets"),
            Address::FlyMachines { app } => write!(f, "fly.app.{app}.machines"),
            Address::GithubProtection { repo, branch } => {
                write!(f, "github.repo.{repo}.branch.{branch}.protection")
            }
            Address::GithubSecret { repo, name } => write!(f, "github.repo.{repo}.secret.{name}"),
            Address::GithubEnvironment { repo, env } => {
                write!(f, "github.repo.{repo}.environment.{env}")
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
            "fly.app.a.machines",
            "github.repo.ai-cherry/sophia-intel-ai.branch.main.protection",
            "github.repo.ai-cherry/x.y.branch.release/1.2.protection",
            "github.repo.o/r.secret.FLY_API_TOKEN",
            "github.repo.o/r.environment.production",
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
        assert!(!a.is_under("fly.app.a.sec"));
        assert!(!Address::parse("fly.app.ab").unwrap().is_under("fly.app.a"));
    }
}
