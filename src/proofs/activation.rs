//! The activation record: `proofs/secrets/activation.json`, what the last successful
//! `provider.activate` action of each provider put in place.
//!
//! ```json
//! { "format": "sophia-activation/v1",
//!   "providers": { "qdrant": { "activation": "active", "at": "2026-…Z", "validated": true } } }
//! ```
//!
//! Written by the executor (`providers::activation::execute`, one `provider.activate` action
//! at a time under [`record`]'s lock, applies serialized by the backend's lease); read by
//! refresh, plan and apply's stale check, which lay it over live state
//! (`providers::activation::overlay`). The file is written atomically through the proof store.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::{ProofKind, ProofRef, ProofStore};
use crate::core::desired::{Activation, ProviderName};

pub const RECORD_FORMAT: &str = "sophia-activation/v1";

/// The record's proof kind: `proofs/secrets/activation.json`.
pub fn record_kind() -> ProofKind {
    ProofKind::Secrets {
        name: "activation".into(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivationRecord {
    pub format: String,
    pub providers: BTreeMap<ProviderName, Entry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub activation: Activation,
    /// RFC 3339, when it was recorded.
    pub at: String,
    /// Whether the provider's validation passed (always true for `active`; absent for
    /// `paused`, which validates nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validated: Option<bool>,
}

impl Default for ActivationRecord {
    fn default() -> Self {
        ActivationRecord {
            format: RECORD_FORMAT.into(),
            providers: BTreeMap::new(),
        }
    }
}

/// Read the record; an absent file is an empty record.
pub fn read(store: &ProofStore) -> anyhow::Result<ActivationRecord> {
    let rel = store.path_of(&record_kind())?;
    if !store.root().join(rel.to_string()).exists() {
        return Ok(ActivationRecord::default());
    }
    let bytes = store.read(&rel)?;
    let record: ActivationRecord = serde_json::from_slice(&bytes)
        .with_context(|| format!("reading the activation record `proofs/{rel}`"))?;
    if record.format != RECORD_FORMAT {
        anyhow::bail!(
            "`proofs/{rel}` has format `{}`; expected `{RECORD_FORMAT}`",
            record.format
        );
    }
    Ok(record)
}

/// The record of the repository at `root` (`<root>/proofs/secrets/activation.json`).
pub fn read_repo(root: &Path) -> anyhow::Result<ActivationRecord> {
    read(&ProofStore::of_repo(root))
}

/// Serializes read-modify-write of the record within one process (an apply runs actions
/// concurrently).
static RECORD_LOCK: Mutex<()> = Mutex::new(());

/// Record `entry` for `provider`, keeping the other providers' entries. Writing the same
/// entry twice leaves the same record, so an activation run again changes nothing.
pub fn record(
    store: &ProofStore,
    provider: ProviderName,
    entry: Entry,
) -> anyhow::Result<ProofRef> {
    let _guard = RECORD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut rec = read(store)?;
    rec.providers.insert(provider, entry);
    let mut text = serde_json::to_string_pretty(&rec)?;
    text.push('\n');
    store.write(&record_kind(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_record_is_empty_and_a_written_one_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProofStore::new(dir.path().join("proofs"));
        assert_eq!(read(&store).unwrap(), ActivationRecord::default());
        let entry = Entry {
            activation: Activation::Paused,
            at: "2026-01-01T00:00:00Z".into(),
            validated: None,
        };
        record(&store, ProviderName::Qdrant, entry.clone()).unwrap();
        let rec = read(&store).unwrap();
        assert_eq!(rec.format, RECORD_FORMAT);
        assert_eq!(rec.providers[&ProviderName::Qdrant], entry);
        assert!(dir.path().join("proofs/secrets/activation.json").exists());
    }

    #[test]
    fn another_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProofStore::new(dir.path().join("proofs"));
        store
            .write(&record_kind(), br#"{"format":"x/v9","providers":{}}"#)
            .unwrap();
        let e = read(&store).unwrap_err().to_string();
        assert!(e.contains("`x/v9`"), "{e}");
    }
}
