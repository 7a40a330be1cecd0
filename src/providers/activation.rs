//! Activation: where the LIVE side of `provider.<p>` comes from, and what executing
//! `provider.activate` does.
//!
//! # The activation record
//!
//! `proofs/secrets/activation.json` records, per provider, the activation that the last
//! successful `provider.activate` action put in place:
//!
//! ```json
//! { "format": "sophia-activation/v1",
//!   "providers": { "qdrant": { "activation": "active", "at": "2026-…Z", "validated": true } } }
//! ```
//!
//! Refresh reads it ([`overlay`]): each recorded provider becomes the live object
//! `provider.<p>` = `{"activation": …}`, overriding the refresh's own guess (a provider that
//! answers is taken as active). So when `desired/providers.yaml` turns `qdrant: paused` into
//! `qdrant: active`, the live side still says `paused` and the plan has a
//! `provider.activate` action — which runs the provider's validation before anything else
//! of that provider (the planner orders `provider.activate` before its other actions).
//!
//! Executing `provider.activate` ([`execute`]): with `activation: paused`, record it (no
//! call); with `active`, run the provider's `validate` and record `active` only when it
//! succeeds. Either way the outcome carries the validation result, which becomes the action's
//! proof. Running it twice is the same as once (the record is overwritten with the same
//! value), so the action is idempotent. The record is written atomically through the proof
//! store; concurrent activations in one apply are serialized by a lock, and applies are
//! serialized by the backend's lease.

use std::collections::BTreeMap;
use std::sync::Mutex;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::http::Http;
use super::{ActionOutcome, Credentials, Provider, ProviderError};
use crate::core::address::Address;
use crate::core::desired::{Activation, Desired, ProviderName};
use crate::core::live::LiveSnapshot;
use crate::core::plan::Action;
use crate::proofs::{ProofKind, ProofStore};

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
pub fn read_repo(root: &std::path::Path) -> anyhow::Result<ActivationRecord> {
    read(&ProofStore::of_repo(root))
}

/// A refresh result with the record of the repository at `root` laid over it: what `sophia
/// refresh` and `sophia plan` use.
pub fn with_record(
    root: &std::path::Path,
    (mut snapshot, errors): (LiveSnapshot, Vec<crate::core::envelope::EnvelopeError>),
) -> anyhow::Result<(LiveSnapshot, Vec<crate::core::envelope::EnvelopeError>)> {
    overlay(&mut snapshot, &read_repo(root)?);
    Ok((snapshot, errors))
}

/// The live object of `provider.<name>` for a provider that answered: its recorded
/// activation, else `active`.
pub fn live_object(record: &ActivationRecord, name: &str) -> Value {
    let activation = ProviderName::parse(name)
        .and_then(|p| record.providers.get(&p))
        .map(|e| e.activation)
        .unwrap_or(Activation::Active);
    json!({ "activation": activation.as_str() })
}

/// [`execute`] for the repository at `root`: its desired state, proof store and the clock.
pub async fn execute_in(
    root: &std::path::Path,
    action: &Action,
    creds: &Credentials,
) -> ActionOutcome {
    let desired = match crate::ops::load_desired_or_empty(root) {
        Ok(d) => d,
        Err(e) => {
            return ActionOutcome::failure(ProviderError::new(
                "sophia",
                "invalid-input",
                format!("{e:#}"),
            ));
        }
    };
    let store = ProofStore::of_repo(root);
    execute(
        &store,
        action,
        creds,
        &creds.http(),
        &desired,
        &super::now_rfc3339(),
    )
    .await
}

/// Set `provider.<p>` in `snapshot` from every recorded provider.
pub fn overlay(snapshot: &mut LiveSnapshot, record: &ActivationRecord) {
    for (p, entry) in &record.providers {
        snapshot.resources.insert(
            Address::Provider {
                name: p.as_str().to_string(),
            },
            json!({ "activation": entry.activation.as_str() }),
        );
    }
}

/// Serializes read-modify-write of the record within one process (an apply runs actions
/// concurrently).
static RECORD_LOCK: Mutex<()> = Mutex::new(());

/// Record `activation` for `provider`.
pub fn record(
    store: &ProofStore,
    provider: ProviderName,
    entry: Entry,
) -> anyhow::Result<crate::proofs::ProofRef> {
    let _guard = RECORD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut rec = read(store)?;
    rec.providers.insert(provider, entry);
    let mut text = serde_json::to_string_pretty(&rec)?;
    text.push('\n');
    store.write(&record_kind(), text.as_bytes())
}

/// Run provider `p`'s validation: configure it (missing secrets → `not-configured`, naming
/// them) and make its cheapest authenticated read. Fly and GitHub are validated by a
/// successful configuration with their credentials (their reads need an app or a repository).
pub async fn validate(
    p: ProviderName,
    creds: &Credentials,
    http: &Http,
    desired: &Desired,
) -> Result<(String, Vec<Value>), ProviderError> {
    let provider = Provider::configure(p, creds, http).ok_or_else(|| {
        ProviderError::new(
            p.as_str(),
            "internal",
            "no implementation for this provider",
        )
    })??;
    match provider {
        Provider::Fly(_) | Provider::Github(_) => Ok((
            format!("{p} credentials are configured"),
            vec![json!({ "configured": true })],
        )),
        Provider::Other(other) => {
            let name = match p {
                ProviderName::ContextDb | ProviderName::Redis => "ping",
                _ => "validate",
            };
            // The router validates with its desired routes (the allowlist is free; `/models`
            // proves the key).
            if let (super::saas::Other::Router(_), Some(routes)) = (&*other, &desired.router) {
                let r = super::router::RouterProvider::new(creds, http.clone(), Some(routes))?;
                return r.validate().await;
            }
            other.op(name, &json!({})).await
        }
    }
}

/// Execute `provider.activate` (`params: {"activation": "active" | "paused"}`).
pub async fn execute(
    store: &ProofStore,
    action: &Action,
    creds: &Credentials,
    http: &Http,
    desired: &Desired,
    now: &str,
) -> ActionOutcome {
    let Address::Provider { name } = &action.address else {
        return ActionOutcome::failure(ProviderError::new(
            "sophia",
            "invalid-input",
            format!("`provider.activate` on `{}`", action.address),
        ));
    };
    let Some(p) = ProviderName::parse(name) else {
        return ActionOutcome::failure(ProviderError::new(
            name.as_str(),
            "invalid-input",
            format!("unknown provider `{name}`"),
        ));
    };
    let activation = match action.params.get("activation").and_then(Value::as_str) {
        Some("paused") => Activation::Paused,
        Some("active") | None => Activation::Active,
        Some(other) => {
            return ActionOutcome::failure(ProviderError::new(
                name.as_str(),
                "invalid-input",
                format!("activation `{other}` (expected active or paused)"),
            ));
        }
    };
    let (outcome, entry) = match activation {
        Activation::Paused => (
            ActionOutcome::success(
                format!("{p} is paused"),
                vec![json!({ "activation": "paused" })],
            ),
            Entry {
                activation,
                at: now.to_string(),
                validated: None,
            },
        ),
        Activation::Active => match validate(p, creds, http, desired).await {
            Ok((text, results)) => (
                ActionOutcome::success(
                    format!("{p} is active: {text}"),
                    vec![
                        json!({ "activation": "active", "validate": { "status": "success", "summary": text, "results": results } }),
                    ],
                ),
                Entry {
                    activation,
                    at: now.to_string(),
                    validated: Some(true),
                },
            ),
            Err(e) => {
                let mut out = ActionOutcome::failure(e.clone());
                out.text = format!("{p} stays inactive: its validation failed: {}", e.message);
                out.results = vec![
                    json!({ "activation": "inactive", "validate": { "status": "failure", "code": e.code, "message": e.message } }),
                ];
                return out;
            }
        },
    };
    match record(store, p, entry) {
        Ok(_) => outcome,
        Err(e) => ActionOutcome::failure(ProviderError::new(
            name.as_str(),
            "internal",
            format!("recording the activation: {e:#}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_overrides_the_refresh_guess() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProofStore::new(dir.path().join("proofs"));
        assert_eq!(read(&store).unwrap(), ActivationRecord::default());
        record(
            &store,
            ProviderName::Qdrant,
            Entry {
                activation: Activation::Paused,
                at: "2026-01-01T00:00:00Z".into(),
                validated: None,
            },
        )
        .unwrap();
        let mut snap = LiveSnapshot::new("t");
        let addr = Address::Provider {
            name: "qdrant".into(),
        };
        snap.resources
            .insert(addr.clone(), json!({ "activation": "active" }));
        overlay(&mut snap, &read(&store).unwrap());
        assert_eq!(snap.resources[&addr], json!({ "activation": "paused" }));
        assert!(dir.path().join("proofs/secrets/activation.json").exists());
    }
}
