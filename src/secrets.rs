//! The secrets map (`.infra/secrets_map.json`), presence, the redactor, and atomic writes.
//!
//! # The secrets map
//!
//! ```json
//! {
//!   "format": "sophia-secrets-map/v1",
//!   "providers": {
//!     "github": {
//!       "required": ["GITHUB_APP_ID", "GITHUB_INSTALLATION_ID", "GITHUB_PRIVATE_KEY"],
//!       "alternatives": [["GITHUB_TOKEN"]]
//!     },
//!     "router": {
//!       "required": ["PORTKEY_API_KEY"],
//!       "optional": ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"]
//!     }
//!   }
//! }
//! ```
//!
//! - `format` is `sophia-secrets-map/v1`.
//! - `providers` is keyed by provider name (DESIGN.md's table: `fly`, `github`, `router`,
//!   `research`, `context_db`, `qdrant`, `mem0`, `redis`, `slack`, `gong`, `lambda`).
//! - `required`: the names that must all be present for the provider to work.
//! - `alternatives` (optional): other complete sets of names that satisfy the requirement
//!   instead of `required` (GitHub accepts a plain token instead of the App's three names).
//! - `optional` (optional): names that make the provider better when present (the router's
//!   backup providers); when one is missing the provider is `partial`.
//! - Unknown keys are errors. The map lists names only, never values.
//!
//! A secret is present when the environment variable of that name is set and non-empty.
//! Values are read only by [`Redactor::from_env`], to mask them, and by the providers at the
//! moment they send them; nothing here prints, logs or hashes a value.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context as _;

pub use crate::core::matrix::{ProviderSecrets, SecretsMap};

/// Where the map lives, relative to the repository root.
pub const MAP_PATH: &str = ".infra/secrets_map.json";

/// Read and check `.infra/secrets_map.json` under `root`.
pub fn load_map(root: &Path) -> anyhow::Result<SecretsMap> {
    let path = root.join(MAP_PATH);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading `{}`", path.display()))?;
    parse_map(&text, MAP_PATH)
}

/// Parse a secrets map; `display` names the file in errors.
pub fn parse_map(text: &str, display: &str) -> anyhow::Result<SecretsMap> {
    let map: SecretsMap = serde_json::from_str(text).map_err(|e| {
        crate::hinted!(
            hint = format!(
                "see the format in `sophia`'s src/secrets.rs: {{\"format\": \"{}\", \
                 \"providers\": {{\"fly\": {{\"required\": [\"FLY_API_TOKEN\"]}}}}}}",
                crate::core::matrix::MAP_FORMAT
            ),
            "{display}:{}:{}: {}",
            e.line(),
            e.column(),
            // serde_json appends " at line L column C"; the location is already in front.
            e.to_string().split(" at line ").next().unwrap_or_default()
        )
    })?;
    if map.format != crate::core::matrix::MAP_FORMAT {
        anyhow::bail!(
            "{display}: unknown format `{}`, expected `{}`",
            map.format,
            crate::core::matrix::MAP_FORMAT
        );
    }
    for name in map.names() {
        crate::core::desired::validate::secret_name(name).map_err(|reason| {
            anyhow::anyhow!("{display}: invalid secret name `{name}`: {reason}")
        })?;
    }
    Ok(map)
}

/// The names of the map whose environment variable is set and non-empty, read through
/// `get` (the process environment in production, a fixed map in tests). Only names leave
/// this function.
pub fn present_names(
    map: &SecretsMap,
    get: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> BTreeSet<String> {
    map.names()
        .into_iter()
        .filter(|n| get(n).is_some_and(|v| !v.is_empty()))
        .map(str::to_string)
        .collect()
}

/// [`present_names`] from the process environment.
pub fn present_from_env(map: &SecretsMap) -> BTreeSet<String> {
    present_names(map, |n| std::env::var_os(n))
}

/// Masks the value of every secret the map knows, wherever it appears in a text (defence in
/// depth, as GitHub Actions masks secrets in logs).
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, so a value containing another is masked whole.
    values: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    // Never print the values themselves.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} values)", self.values.len())
    }
}

/// Values shorter than this are not masked: masking `1`, `on` or `abc` everywhere would
/// garble ordinary output while protecting nothing that is a credential.
const MIN_MASKED_LEN: usize = 4;

/// What a masked value becomes.
pub const MASK: &str = "***";

impl Redactor {
    /// A redactor for the values of every name in `map` set in the environment.
    pub fn from_env(map: &SecretsMap) -> Redactor {
        Redactor::new(
            map.names()
                .into_iter()
                .filter_map(|n| std::env::var(n).ok()),
        )
    }

    /// A redactor for the given values (values shorter than 4 characters are ignored).
    pub fn new(values: impl IntoIterator<Item = String>) -> Redactor {
        let mut values: Vec<String> = values
            .into_iter()
            .filter(|v| v.chars().count() >= MIN_MASKED_LEN)
            .collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        Redactor { values }
    }

    /// `text` with every known value replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        out
    }
}

/// Write `bytes` to `path` atomically (see [`crate::proofs::atomic::write_atomic`]),
/// creating parent directories first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    }
    crate::proofs::atomic::write_atomic(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_longest_values_first_and_ignores_short_ones() {
        let r = Redactor::new(["abcd".to_string(), "abcdef".into(), "xy".into()]);
        assert_eq!(r.redact("t=abcdef u=abcd v=xy"), "t=*** u=*** v=xy");
        assert_eq!(format!("{r:?}"), "Redactor(2 values)");
    }

    #[test]
    fn presence_is_set_and_non_empty() {
        let map = parse_map(include_str!("../.infra/secrets_map.json"), "m").unwrap();
        let present = present_names(&map, |n| match n {
            "FLY_API_TOKEN" => Some("x".into()),
            "REDIS_URL" => Some("".into()),
            _ => None,
        });
        assert_eq!(present.into_iter().collect::<Vec<_>>(), ["FLY_API_TOKEN"]);
    }

    #[test]
    fn map_errors_are_located() {
        let e = parse_map(
            "{\"format\": \"sophia-secrets-map/v1\", \"providers\": {\"fly\": {\"requird\": []}}}",
            "m.json",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("m.json:1:"), "{e}");
        assert!(e.contains("unknown field `requird`"), "{e}");
    }

    #[test]
    fn atomic_write_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/matrix.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["matrix.json"], "no temporary file is left");
    }
}
