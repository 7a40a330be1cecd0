//! What the executor reads before and after it acts: the providers the plan touches, the
//! stale check (every address the plan fingerprinted, re-read and compared), the secrets the
//! plan will send, and the convergence re-read after the run. Reads only: nothing here
//! makes a mutating call.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use super::Refusal;
use crate::core::address::Address;
use crate::core::desired::ProviderName;
use crate::core::digest;
use crate::core::envelope::EnvelopeError;
use crate::core::plan::{ChangeKind, Plan};
use crate::core::rotation::Ledger;
use crate::proofs::activation::read_repo;
use crate::providers::activation::live_object;
use crate::providers::{Credentials, Http, Provider, ProviderError, SecretSource};

/// The providers the plan touches, configured; a provider without credentials refuses the
/// whole apply (before any call) with the normalized `not-configured` error.
pub(super) fn configure(
    plan: &Plan,
    creds: &Credentials,
    http: &Http,
) -> anyhow::Result<BTreeMap<String, Provider>> {
    let names: BTreeSet<&str> = plan
        .live
        .keys()
        .map(Address::provider)
        .chain(plan.actions.iter().map(|a| a.address.provider()))
        .collect();
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for name in names {
        let Some(p) = ProviderName::parse(name) else {
            return Err(Refusal::UnsupportedProvider {
                provider: name.to_string(),
            }
            .into());
        };
        match Provider::configure(p, creds, http) {
            Some(Ok(provider)) => {
                out.insert(name.to_string(), provider);
            }
            Some(Err(e)) => errors.push(e.envelope_error()),
            None => {
                return Err(Refusal::UnsupportedProvider {
                    provider: name.to_string(),
                }
                .into());
            }
        }
    }
    if !errors.is_empty() {
        return Err(Refusal::Unreadable { errors }.into());
    }
    Ok(out)
}

/// Re-read every address of `addresses`, grouped by provider. `provider.<p>` reads as
/// active when its provider answers (the rule `refresh_all` applies).
async fn read_live(
    root: &Path,
    addresses: &[Address],
    providers: &BTreeMap<String, Provider>,
    ledger: &Ledger,
) -> Result<BTreeMap<Address, Value>, Vec<EnvelopeError>> {
    let mut by_provider: BTreeMap<&str, Vec<Address>> = BTreeMap::new();
    for a in addresses {
        by_provider.entry(a.provider()).or_default().push(a.clone());
    }
    // The activation record rules `provider.<p>` (see `providers::activation`).
    let record = read_repo(root)
        .map_err(|e| vec![EnvelopeError::new("sophia", "internal", format!("{e:#}"))])?;
    let record = &record;
    let reads = by_provider.into_iter().map(|(name, addrs)| async move {
        let Some(provider) = providers.get(name) else {
            return Err(ProviderError::new(
                name,
                "not-configured",
                "provider not configured",
            ));
        };
        let mut found = provider.refresh(&addrs).await?;
        for a in &addrs {
            if matches!(a, Address::Provider { .. }) {
                found.insert(a.clone(), live_object(record, a.provider()));
            }
        }
        Ok(found)
    });
    let mut live = BTreeMap::new();
    let mut errors = Vec::new();
    for result in futures::future::join_all(reads).await {
        match result {
            Ok(found) => live.extend(found),
            Err(e) => errors.push(e.envelope_error()),
        }
    }
    if errors.is_empty() {
        // As plan reads them: the secrets ledger laid over (see `core::rotation`).
        crate::core::rotation::overlay(&mut live, ledger);
        Ok(live)
    } else {
        Err(errors)
    }
}

/// Refuse a plan whose fingerprinted live state has moved, naming each changed address and
/// what changed.
pub(super) async fn check_fresh(
    root: &Path,
    plan: &Plan,
    providers: &BTreeMap<String, Provider>,
    ledger: &Ledger,
) -> anyhow::Result<()> {
    let addresses: Vec<Address> = plan.live.keys().cloned().collect();
    let live = read_live(root, &addresses, providers, ledger)
        .await
        .map_err(|errors| Refusal::Unreadable { errors })?;
    let before: BTreeMap<&Address, &Value> = plan
        .changes
        .iter()
        .map(|c| (&c.address, &c.before))
        .collect();
    let mut changes = Vec::new();
    for (address, fingerprint) in &plan.live {
        let now = live.get(address).cloned().unwrap_or(Value::Null);
        if &digest::sha256_canonical(&now) == fingerprint {
            continue;
        }
        let what = match before.get(address) {
            Some(b) => describe_change(b, &now),
            None => "changed since the plan was made".to_string(),
        };
        changes.push(format!("{address}: {what}"));
    }
    if changes.is_empty() {
        Ok(())
    } else {
        Err(Refusal::Stale { changes }.into())
    }
}

/// A short account of how a live object moved: created, deleted, or the attributes that
/// differ (at most five named).
fn describe_change(before: &Value, now: &Value) -> String {
    match (before, now) {
        (Value::Null, _) => "now exists (it was absent when the plan was made)".into(),
        (_, Value::Null) => "no longer exists".into(),
        _ => {
            let mut paths = Vec::new();
            differing_paths("", before, now, &mut paths);
            let shown: Vec<String> = paths.iter().take(5).map(|p| format!("`{p}`")).collect();
            let more = paths.len().saturating_sub(5);
            format!(
                "{} changed{}",
                shown.join(", "),
                if more > 0 {
                    format!(" (and {more} more)")
                } else {
                    String::new()
                }
            )
        }
    }
}

fn differing_paths(prefix: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                differing_paths(
                    &path,
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ if a != b => out.push(if prefix.is_empty() {
            "(value)".into()
        } else {
            prefix.to_string()
        }),
        _ => {}
    }
}

/// The secret names the plan's actions send, and which of them have no value.
pub fn missing_secrets(plan: &Plan, secrets: &dyn SecretSource) -> Vec<String> {
    let mut needed = BTreeSet::new();
    for a in &plan.actions {
        match (a.kind.as_str(), &a.address) {
            ("github.secret.put", Address::GithubSecret { name, .. }) => {
                needed.insert(name.clone());
            }
            ("github.environment.put", _) => {
                if let Some(Value::Array(items)) = a.params.get("set_secrets") {
                    needed.extend(items.iter().filter_map(|v| v.as_str().map(String::from)));
                }
            }
            ("fly.secrets.set", _) => {
                for key in ["names", "secret_names"] {
                    if let Some(Value::Array(items)) = a.params.get(key) {
                        needed.extend(items.iter().filter_map(|v| v.as_str().map(String::from)));
                    }
                }
            }
            _ => {}
        }
    }
    needed
        .into_iter()
        .filter(|n| secrets.value(n).is_none())
        .collect()
}

/// Refuse a plan that sends a secret the environment does not hold (names only).
pub(super) fn secrets_present(plan: &Plan, secrets: &dyn SecretSource) -> anyhow::Result<()> {
    let names = missing_secrets(plan, secrets);
    if names.is_empty() {
        Ok(())
    } else {
        Err(Refusal::MissingSecrets { names }.into())
    }
}

/// After the run: every changed address's live object now matches what the plan promised.
pub(super) async fn converged(
    root: &Path,
    plan: &Plan,
    providers: &BTreeMap<String, Provider>,
    ledger: &Ledger,
) -> anyhow::Result<Vec<String>> {
    let addresses: Vec<Address> = plan.changes.iter().map(|c| c.address.clone()).collect();
    let live = read_live(root, &addresses, providers, ledger)
        .await
        .map_err(|errors| {
            anyhow::anyhow!(
                "{}",
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.provider, e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?;
    let mut off = Vec::new();
    for change in &plan.changes {
        let want = if change.action == ChangeKind::Delete {
            Value::Null
        } else {
            change.after.clone()
        };
        if crate::core::diff::diff_one(&change.address, &want, live.get(&change.address))?.is_some()
        {
            off.push(change.address.to_string());
        }
    }
    Ok(off)
}
