//! Secret rotation and secrets set outside sophia (DESIGN.md, "Lifecycle: rotate"). Pure.
//!
//! A secret listed as `{name, rotation: N}` is *watched*. Desired lowers its rotation into the
//! secret's object (`rotations.<name>` of `fly.app.<a>.secrets`, `rotation` of
//! `github.repo.<r>.secret.<N>`, `secret_rotations.<name>` of an environment). Live objects
//! carry no rotation of their own: the [`Ledger`] — the last set of every secret, from the
//! journal's successful set actions and the plans they ran — is laid over them
//! ([`overlay`]), by `plan`, `drift` and apply's stale check alike:
//!
//! - the rotation of sophia's last set of that secret goes in, so raising the number in
//!   desired is a change that plans exactly one set (the value from the environment at
//!   apply; the plan carries the number, never a value);
//! - when the provider says the secret was set (Fly's and GitHub's `updated_at`) after
//!   sophia's last set, the rotation reads `"set outside sophia at <time>"` instead: drift,
//!   which the next apply repairs by setting it again.
//!
//! A watched secret sophia has never set has no rotation live: its first plan sets it once.
//!
//! The ledger also says which names sophia set and has not removed since ([`Ledger::names`]):
//! only those are ever unset when desired/ drops them (`core::lifecycle::secrets`).
//!
//! Fly also lists a `digest` of each secret's value. It is not used: telling that a digest
//! changed needs the previous one kept between refreshes, and a hash of a secret value is
//! never stored (DESIGN.md, "Secrets"). Within one refresh a digest says nothing, so drift
//! rests on `updated_at` alone; a secret Fly lists without `updated_at` is never drift.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value, json};

use crate::core::address::Address;

/// The names of `after[key]` (a `name → rotation` map) whose rotation `before[key]` does not
/// have.
pub fn rotated(before: &Value, after: &Value, key: &str) -> BTreeSet<String> {
    after
        .get(key)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(name, r)| before.get(key).and_then(|b| b.get(name.as_str())) != Some(*r))
        .map(|(name, _)| name.clone())
        .collect()
}

/// Copy into `params.rotations` the rotation `after[key]` gives each of `names`, so the plan
/// (and the ledger read back from it) records which rotation a set made.
pub fn carry(params: &mut Value, after: &Value, key: &str, names: &[String]) {
    let Some(all) = after.get(key).and_then(Value::as_object) else {
        return;
    };
    let mine: Map<String, Value> = names
        .iter()
        .filter_map(|n| Some((n.clone(), all.get(n)?.clone())))
        .collect();
    if !mine.is_empty() {
        params["rotations"] = Value::Object(mine);
    }
}

const FLY_SECRETS_SET: &str = "fly.secrets.set";
const FLY_SECRETS_UNSET: &str = "fly.secrets.unset";
const FLY_APP_DELETE: &str = "fly.app.delete";
const GITHUB_SECRET_PUT: &str = "github.secret.put";
const GITHUB_ENVIRONMENT_PUT: &str = "github.environment.put";
const GITHUB_ENVIRONMENT_DELETE: &str = "github.environment.delete";

/// The kinds whose successful actions the ledger reads (as plans spell them).
pub const LEDGER_KINDS: [&str; 6] = [
    FLY_SECRETS_SET,
    FLY_SECRETS_UNSET,
    FLY_APP_DELETE,
    GITHUB_SECRET_PUT,
    GITHUB_ENVIRONMENT_PUT,
    GITHUB_ENVIRONMENT_DELETE,
];

/// One secret's last set by sophia.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastSet {
    /// The journal's time of the set (RFC 3339).
    pub at: String,
    /// The rotation it set, if the secret had one then.
    pub rotation: Option<u64>,
}

/// The last set of every secret sophia set: (address, secret name) → [`LastSet`]. For a
/// GitHub Actions secret the name is the address's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    pub sets: BTreeMap<(Address, String), LastSet>,
}

impl Ledger {
    /// Record one successful action of `kind` (as a plan spells it: `fly.secrets.set`,
    /// `github.secret.put`, `github.environment.put`; others set no secret), in journal order:
    /// a later set replaces an earlier one. (A string, not `ActionKind`: the planner imports
    /// this module.)
    ///
    /// A removal forgets: `fly.secrets.unset` its names, `fly.app.delete` every secret of
    /// the app, `github.environment.delete` the environment's, an environment put its
    /// `unset_secrets` — a name set again later by someone else is then not sophia's.
    pub fn record(&mut self, kind: &str, address: &Address, params: &Value, at: &str) {
        let forget: Vec<(Address, String)> = match (kind, address) {
            (FLY_SECRETS_UNSET, _) => strings(params.get("unset"))
                .into_iter()
                .map(|n| (address.clone(), n))
                .collect(),
            (GITHUB_ENVIRONMENT_PUT, _) => strings(params.get("unset_secrets"))
                .into_iter()
                .map(|n| (address.clone(), n))
                .collect(),
            (FLY_APP_DELETE, Address::FlyApp { app }) => {
                let secrets = Address::FlySecrets { app: app.clone() };
                self.of(&secrets)
                    .map(|(n, _)| (secrets.clone(), n.to_string()))
                    .collect()
            }
            (GITHUB_ENVIRONMENT_DELETE, _) => self
                .of(address)
                .map(|(n, _)| (address.clone(), n.to_string()))
                .collect(),
            _ => Vec::new(),
        };
        for key in forget {
            self.sets.remove(&key);
        }
        let rotations = params.get("rotations");
        let rotation_of = |n: &str| rotations.and_then(|r| r.get(n)).and_then(Value::as_u64);
        let names: Vec<String> = match kind {
            FLY_SECRETS_SET => strings(params.get("names")),
            GITHUB_ENVIRONMENT_PUT => strings(params.get("set_secrets")),
            GITHUB_SECRET_PUT => match address {
                Address::GithubSecret { name, .. } => vec![name.clone()],
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        for name in names {
            let rotation = match kind {
                GITHUB_SECRET_PUT => params.get("rotation").and_then(Value::as_u64),
                GITHUB_ENVIRONMENT_PUT => params
                    .get("secret_rotations")
                    .and_then(|r| r.get(&name))
                    .and_then(Value::as_u64),
                _ => rotation_of(&name),
            };
            self.sets.insert(
                (address.clone(), name),
                LastSet {
                    at: at.to_string(),
                    rotation,
                },
            );
        }
    }

    /// The names sophia set and has not removed since, by the address that lists them
    /// (`fly.app.<a>.secrets`, an environment).
    pub fn names(&self) -> BTreeMap<Address, BTreeSet<String>> {
        let mut out: BTreeMap<Address, BTreeSet<String>> = BTreeMap::new();
        for (address, name) in self.sets.keys() {
            out.entry(address.clone()).or_default().insert(name.clone());
        }
        out
    }

    fn of<'a>(&'a self, address: &'a Address) -> impl Iterator<Item = (&'a str, &'a LastSet)> {
        self.sets
            .iter()
            .filter(move |((a, _), _)| a == address)
            .map(|((_, n), s)| (n.as_str(), s))
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn time(v: &Value) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(v.as_str()?).ok()
}

/// What a secret's rotation reads live: the last set's rotation, or the drift marker when
/// the provider's `updated_at` is newer than sophia's last set.
fn live_rotation(set: &LastSet, updated_at: Option<&Value>) -> Option<Value> {
    if let (Some(live), Some(ours)) = (
        updated_at.and_then(time),
        DateTime::parse_from_rfc3339(&set.at).ok(),
    ) && live > ours
    {
        let shown = updated_at.and_then(Value::as_str).unwrap_or_default();
        return Some(json!(format!("set outside sophia at {shown}")));
    }
    set.rotation.map(|r| json!(r))
}

/// Lay the ledger over live secrets objects (see the module docs).
pub fn overlay(live: &mut BTreeMap<Address, Value>, ledger: &Ledger) {
    if ledger.sets.is_empty() {
        return;
    }
    for (address, object) in live.iter_mut() {
        match address {
            Address::FlySecrets { .. } | Address::GithubEnvironment { .. } => {
                let (key, times) = match address {
                    Address::FlySecrets { .. } => ("rotations", "updated_at"),
                    _ => ("secret_rotations", "secrets_updated_at"),
                };
                let mut rotations = Map::new();
                for (name, set) in ledger.of(address) {
                    let updated = object.get(times).and_then(|t| t.get(name));
                    if let Some(r) = live_rotation(set, updated) {
                        rotations.insert(name.to_string(), r);
                    }
                }
                if !rotations.is_empty() && object.is_object() {
                    object[key] = Value::Object(rotations);
                }
            }
            Address::GithubSecret { name, .. } => {
                let set = ledger.sets.get(&(address.clone(), name.clone()));
                if let Some(r) = set.and_then(|s| live_rotation(s, object.get("updated_at")))
                    && object.is_object()
                {
                    object["rotation"] = r;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    #[test]
    fn the_last_set_rotation_is_laid_over_and_a_later_outside_set_is_drift() {
        let mut ledger = Ledger::default();
        let a = addr("fly.app.a.secrets");
        ledger.record(
            "fly.secrets.set",
            &a,
            &json!({"names": ["A", "B"], "rotations": {"B": 2}}),
            "2026-01-01T00:00:00.000Z",
        );
        ledger.record(
            "fly.secrets.set",
            &a,
            &json!({"names": ["B"], "rotations": {"B": 3}}),
            "2026-01-02T00:00:00.000Z",
        );
        let mut live = BTreeMap::from([(
            a.clone(),
            json!({"names": ["A", "B"], "updated_at": {"A": "2025-12-31T23:59:59Z", "B": "2026-01-01T23:59:59Z"}}),
        )]);
        overlay(&mut live, &ledger);
        assert_eq!(live[&a]["rotations"], json!({"B": 3}));
        // B set again after sophia's last set: drift.
        live.get_mut(&a).unwrap()["updated_at"]["B"] = json!("2026-01-02T00:00:01Z");
        overlay(&mut live, &ledger);
        assert_eq!(
            live[&a]["rotations"]["B"],
            json!("set outside sophia at 2026-01-02T00:00:01Z")
        );
    }

    #[test]
    fn only_rotated_or_missing_names_are_set() {
        let before = json!({"names": ["A", "B"], "rotations": {"B": 2}});
        let after = json!({"names": ["A", "B", "C"], "rotations": {"B": 3, "A": 0}});
        assert_eq!(
            rotated(&before, &after, "rotations"),
            ["A".to_string(), "B".to_string()].into_iter().collect()
        );
        let mut params = json!({"names": ["B"]});
        carry(&mut params, &after, "rotations", &["B".to_string()]);
        assert_eq!(params["rotations"], json!({"B": 3}));
    }
}
