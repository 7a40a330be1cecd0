//! The kind of a plan action: the closed set of things a provider can be asked to do.
//!
//! A plan file spells each kind as a dotted string (`fly.secrets.set`); [`ActionKind`]
//! serializes to and parses from exactly those strings, so the plan format and its digest
//! do not depend on this type. A plan file naming a kind not listed here is malformed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Defines [`ActionKind`] from one list of `Variant = "string"`, so that the variants,
/// [`ActionKind::ALL`] and [`ActionKind::as_str`] cannot drift apart.
macro_rules! action_kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// What an action does. The planner ([`crate::core::graph`]) makes every kind but
        /// `fly.machines.create` and `fly.machines.scale`, which the Fly provider accepts as
        /// other names of `fly.machines.update`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum ActionKind {
            $($(#[$doc])* $variant,)*
        }

        impl ActionKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [ActionKind] = &[$(ActionKind::$variant,)*];

            /// The kind as a plan file spells it, e.g. `fly.secrets.set`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ActionKind::$variant => $name,)*
                }
            }
        }
    };
}

action_kinds! {
    /// Create the app in the organization.
    FlyAppCreate = "fly.app.create",
    /// Set the app's missing secrets (values from the environment at apply).
    FlySecretsSet = "fly.secrets.set",
    /// Roll the app's machines to the desired spec.
    FlyMachinesUpdate = "fly.machines.update",
    /// Accepted as `fly.machines.update`.
    FlyMachinesCreate = "fly.machines.create",
    /// Accepted as `fly.machines.update`.
    FlyMachinesScale = "fly.machines.scale",
    /// Wait for the app's health check.
    FlyHealthCheck = "fly.health.check",
    /// Assign the app's public addresses (one `v6`, one `shared_v4`) when it has none.
    FlyIpsAllocate = "fly.ips.allocate",
    /// Create the volumes a mount still lacks (one per machine, in its region); never
    /// deletes one.
    FlyVolumesCreate = "fly.volumes.create",
    /// Delete the app with its machines, volumes and IP addresses (a retired app).
    FlyAppDelete = "fly.app.delete",
    /// Destroy the machines of a process group that is gone from desired/ (leased first).
    FlyProcessDelete = "fly.process.delete",
    /// Unset an app's secrets (a retired `secrets` list): the names of `unset`.
    FlySecretsUnset = "fly.secrets.unset",
    /// Put a branch's protection.
    GithubProtectionPut = "github.protection.put",
    /// Remove a branch's protection.
    GithubProtectionDelete = "github.protection.delete",
    /// Put an Actions secret (value from the environment at apply).
    GithubSecretPut = "github.secret.put",
    /// Delete an Actions secret.
    GithubSecretDelete = "github.secret.delete",
    /// Put an environment and its required reviewers.
    GithubEnvironmentPut = "github.environment.put",
    /// Delete an environment (with its secrets, variables and protection rules).
    GithubEnvironmentDelete = "github.environment.delete",
    /// Create a ruleset (POST) or replace it (PUT by the id its name has).
    GithubRulesetPut = "github.ruleset.put",
    /// Delete the ruleset of a name.
    GithubRulesetDelete = "github.ruleset.delete",
    /// `PATCH` a repository's settings and `PUT` its topics.
    GithubSettingsPatch = "github.settings.patch",
    /// Give a collaborator a permission.
    GithubCollaboratorPut = "github.collaborator.put",
    /// Remove a direct collaborator.
    GithubCollaboratorDelete = "github.collaborator.delete",
    /// Give a team a permission on the repository.
    GithubTeamPut = "github.team.put",
    /// Remove a team's access to the repository.
    GithubTeamDelete = "github.team.delete",
    /// Create or update an Actions variable.
    GithubVariablePut = "github.variable.put",
    /// Delete an Actions variable.
    GithubVariableDelete = "github.variable.delete",
    /// Activate or pause a provider.
    ProviderActivate = "provider.activate",
    /// `CREATE EXTENSION IF NOT EXISTS`.
    ContextDbExtensionCreate = "context_db.extension.create",
    /// `CREATE SCHEMA IF NOT EXISTS`.
    ContextDbSchemaCreate = "context_db.schema.create",
    /// Create a vector collection.
    QdrantCollectionCreate = "qdrant.collection.create",
    /// Delete a vector collection.
    QdrantCollectionDelete = "qdrant.collection.delete",
    /// `CONFIG SET` one key.
    RedisConfigSet = "redis.config.set",
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`ActionKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown action kind `{found}`, expected one of {}",
    ActionKind::ALL.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
)]
pub struct UnknownActionKind {
    pub found: String,
}

impl FromStr for ActionKind {
    type Err = UnknownActionKind;

    fn from_str(s: &str) -> Result<ActionKind, UnknownActionKind> {
        ActionKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownActionKind {
                found: s.to_string(),
            })
    }
}

impl Serialize for ActionKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ActionKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ActionKind, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_string() {
        for &kind in ActionKind::ALL {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, serde_json::Value::String(kind.as_str().to_string()));
            assert_eq!(serde_json::from_value::<ActionKind>(json).unwrap(), kind);
            assert_eq!(kind.as_str().parse::<ActionKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }

    #[test]
    fn strings_are_distinct() {
        let mut names: Vec<&str> = ActionKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ActionKind::ALL.len());
    }

    #[test]
    fn an_unknown_kind_is_an_error_naming_it() {
        let err = serde_json::from_str::<ActionKind>("\"fly.app.destroy\"").unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("unknown action kind `fly.app.destroy`, expected one of `fly.app.create`, `fly.secrets.set`,"),
            "{message}"
        );
        assert!(serde_json::from_str::<ActionKind>("3").is_err());
    }
}
