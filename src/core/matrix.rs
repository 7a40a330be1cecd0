//! The secrets matrix: for each provider of the secrets map, its activation and whether the
//! secrets it needs are present. Pure: the shell ([`crate::secrets`]) reads the map and
//! decides presence from the environment (names only) and passes both in.
//!
//! Status, per provider:
//! - `paused` when the desired state pauses it (whatever is present);
//! - `ready` when every required name (or every name of one alternative set) and every
//!   optional name is present;
//! - `partial` when the requirement is met but some optional name is missing (the router
//!   without its backup providers' keys);
//! - `missing` otherwise.
//!
//! A provider the desired state does not manage is reported with activation `unmanaged`
//! and a status computed from presence, so the matrix always covers every provider.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::desired::{Activation, ProviderName};

/// The format tag of `.infra/secrets_map.json`.
pub const MAP_FORMAT: &str = "sophia-secrets-map/v1";

/// `.infra/secrets_map.json`: see [`crate::secrets`] for the documented format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsMap {
    pub format: String,
    pub providers: BTreeMap<ProviderName, ProviderSecrets>,
}

/// The secret names of one provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSecrets {
    /// Names that must all be present.
    pub required: Vec<String>,
    /// Other complete sets that satisfy the requirement instead (GitHub: a `GITHUB_TOKEN`
    /// instead of the App's three names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Vec<String>>,
    /// Names that improve the provider when present (the router's backup providers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub optional: Vec<String>,
}

impl ProviderSecrets {
    /// Every name this provider knows, sorted.
    pub fn names(&self) -> BTreeSet<&str> {
        self.required
            .iter()
            .chain(self.alternatives.iter().flatten())
            .chain(&self.optional)
            .map(String::as_str)
            .collect()
    }
}

impl SecretsMap {
    /// Every secret name of every provider, sorted.
    pub fn names(&self) -> BTreeSet<&str> {
        self.providers.values().flat_map(|p| p.names()).collect()
    }
}

/// A provider's activation as the matrix reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatrixActivation {
    Active,
    Paused,
    /// Not in the desired state (no `providers:` entry, no section).
    Unmanaged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretStatus {
    Ready,
    Partial,
    Paused,
    Missing,
}

impl SecretStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretStatus::Ready => "ready",
            SecretStatus::Partial => "partial",
            SecretStatus::Paused => "paused",
            SecretStatus::Missing => "missing",
        }
    }
}

/// One provider's row of the matrix. Names only, sorted as in the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderMatrix {
    pub provider: ProviderName,
    pub activation: MatrixActivation,
    pub status: SecretStatus,
    pub required: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Vec<String>>,
    pub optional: Vec<String>,
    /// Every known name of this provider that is present.
    pub present: Vec<String>,
    /// What is missing: the required names when the requirement is not met (no alternative
    /// set is complete either), and the optional names not present.
    pub missing: Vec<String>,
}

/// The matrix of every provider in the map, in the provider table's order.
pub fn compute(
    map: &SecretsMap,
    activations: &BTreeMap<ProviderName, Activation>,
    present: &BTreeSet<String>,
) -> Vec<ProviderMatrix> {
    let has = |n: &String| present.contains(n);
    map.providers
        .iter()
        .map(|(p, s)| {
            let activation = match activations.get(p) {
                Some(Activation::Active) => MatrixActivation::Active,
                Some(Activation::Paused) => MatrixActivation::Paused,
                None => MatrixActivation::Unmanaged,
            };
            let met =
                s.required.iter().all(has) || s.alternatives.iter().any(|set| set.iter().all(has));
            let optional_missing: Vec<String> =
                s.optional.iter().filter(|n| !has(n)).cloned().collect();
            let mut missing: Vec<String> = if met {
                Vec::new()
            } else {
                s.required.iter().filter(|n| !has(n)).cloned().collect()
            };
            missing.extend(optional_missing.iter().cloned());
            let status = if activation == MatrixActivation::Paused {
                SecretStatus::Paused
            } else if !met {
                SecretStatus::Missing
            } else if optional_missing.is_empty() {
                SecretStatus::Ready
            } else {
                SecretStatus::Partial
            };
            ProviderMatrix {
                provider: *p,
                activation,
                status,
                required: s.required.clone(),
                alternatives: s.alternatives.clone(),
                optional: s.optional.clone(),
                present: s
                    .names()
                    .into_iter()
                    .filter(|n| present.contains(*n))
                    .map(str::to_string)
                    .collect(),
                missing,
            }
        })
        .collect()
}

/// "5 ready, 1 partial, 6 paused, 0 missing".
pub fn summary(rows: &[ProviderMatrix]) -> String {
    let count = |s: SecretStatus| rows.iter().filter(|r| r.status == s).count();
    [
        SecretStatus::Ready,
        SecretStatus::Partial,
        SecretStatus::Paused,
        SecretStatus::Missing,
    ]
    .map(|s| format!("{} {}", count(s), s.as_str()))
    .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> SecretsMap {
        serde_json::from_str(include_str!("../../.infra/secrets_map.json")).unwrap()
    }

    fn names(n: &[&str]) -> BTreeSet<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    fn row(rows: &[ProviderMatrix], p: ProviderName) -> &ProviderMatrix {
        rows.iter().find(|r| r.provider == p).unwrap()
    }

    #[test]
    fn the_map_names_every_provider() {
        let m = map();
        assert_eq!(m.format, MAP_FORMAT);
        assert_eq!(
            m.providers.keys().copied().collect::<Vec<_>>(),
            ProviderName::ALL.to_vec()
        );
    }

    #[test]
    fn statuses() {
        let acts = BTreeMap::from([
            (ProviderName::Fly, Activation::Active),
            (ProviderName::Github, Activation::Active),
            (ProviderName::Router, Activation::Active),
            (ProviderName::Research, Activation::Active),
            (ProviderName::Qdrant, Activation::Paused),
        ]);
        let present = names(&[
            "FLY_API_TOKEN",
            "GITHUB_TOKEN",
            "PORTKEY_API_KEY",
            "OPENAI_API_KEY",
            "TAVILY_API_KEY",
            "QDRANT_URL",
            "QDRANT_API_KEY",
        ]);
        let rows = compute(&map(), &acts, &present);
        assert_eq!(rows.len(), 11);
        assert_eq!(row(&rows, ProviderName::Fly).status, SecretStatus::Ready);
        // The alternative set satisfies GitHub; nothing is missing.
        let gh = row(&rows, ProviderName::Github);
        assert_eq!(gh.status, SecretStatus::Ready);
        assert!(gh.missing.is_empty());
        assert_eq!(gh.present, ["GITHUB_TOKEN"]);
        let router = row(&rows, ProviderName::Router);
        assert_eq!(router.status, SecretStatus::Partial);
        assert_eq!(
            router.missing,
            [
                "ANTHROPIC_API_KEY",
                "OPENROUTER_API_KEY",
                "GROQ_API_KEY",
                "DEEPSEEK_API_KEY"
            ]
        );
        let research = row(&rows, ProviderName::Research);
        assert_eq!(research.status, SecretStatus::Missing);
        assert_eq!(research.missing, ["SERPER_API_KEY"]);
        // Paused wins over presence.
        assert_eq!(
            row(&rows, ProviderName::Qdrant).status,
            SecretStatus::Paused
        );
        let lambda = row(&rows, ProviderName::Lambda);
        assert_eq!(lambda.activation, MatrixActivation::Unmanaged);
        assert_eq!(lambda.status, SecretStatus::Missing);
        assert_eq!(summary(&rows), "2 ready, 1 partial, 1 paused, 7 missing");
    }

    #[test]
    fn github_app_names_alone_are_ready_and_partial_sets_are_missing() {
        let acts = BTreeMap::from([(ProviderName::Github, Activation::Active)]);
        let full = names(&[
            "GITHUB_APP_ID",
            "GITHUB_INSTALLATION_ID",
            "GITHUB_PRIVATE_KEY",
        ]);
        let rows = compute(&map(), &acts, &full);
        assert_eq!(row(&rows, ProviderName::Github).status, SecretStatus::Ready);
        let part = names(&["GITHUB_APP_ID"]);
        let rows = compute(&map(), &acts, &part);
        let gh = row(&rows, ProviderName::Github);
        assert_eq!(gh.status, SecretStatus::Missing);
        assert_eq!(gh.missing, ["GITHUB_INSTALLATION_ID", "GITHUB_PRIVATE_KEY"]);
    }
}
