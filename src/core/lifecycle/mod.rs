//! The lifecycle of a resource (DESIGN.md, "Lifecycle: adopt, own, retire, rotate"): which
//! addresses sophia owns, which are protected, which are retired (planned for deletion) and
//! which live ones are nobody's (unmanaged). Pure: the managed set, the live inventory and
//! the `.infra/ignore` globs come in as data ([`Lifecycle`]).
//!
//! - [`ManagedSet`]: address → first and last apply digest, and `protect`; the backend keeps
//!   it, apply updates it ([`record`]).
//! - [`retired`]: a managed address gone from `desired/` (its provider still active) is
//!   expected `null`, so the diff plans its `delete`. An address sophia never managed is
//!   never retired.
//! - [`check_protection`]: a plan that would delete or replace a protected address fails —
//!   protected by `protect: true` in desired/, or by the managed set after its removal.
//! - [`unmanaged`]: live resources inside managed scopes that are neither desired, managed
//!   nor ignored ([`ignore`]).
//! - [`secrets`]: one Fly secret retired — unset only when sophia set it.

pub mod delete;
pub mod ignore;
pub mod secrets;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::core::address::Address;
use crate::core::desired::{Activation, Desired, ProviderName};
use crate::core::lower::Expected;
use crate::core::plan::types::{Change, ChangeKind, Plan};
pub use ignore::{Ignore, IgnoreError};

/// One managed address: the applies that first and last created or changed it, and whether
/// it is protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedEntry {
    /// `sha256:` digest of the plan whose apply first created or changed it.
    pub first: String,
    /// `sha256:` digest of the plan whose apply last created or changed it.
    pub last: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
}

/// Every address sophia's applies created or changed and did not delete since.
pub type ManagedSet = BTreeMap<Address, ManagedEntry>;

/// What the planner needs to know of a resource's lifecycle beyond desired and live.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    pub managed: ManagedSet,
    /// Live addresses inside managed scopes (the apps of the Fly org; the secrets,
    /// environments and rulesets of managed repositories), as the providers listed them.
    pub inventory: Vec<Address>,
    pub ignore: Ignore,
    /// The secret names sophia set and has not removed since (the secrets ledger); `None`
    /// when it was not read: then no name is retired nor listed as unmanaged.
    pub secrets_set: Option<secrets::SecretsSet>,
}

/// The addresses `protect: true` marks in desired/: a Fly app (with everything under it),
/// a branch's protection, an environment.
pub fn protected_roots(desired: &Desired) -> BTreeSet<Address> {
    let mut out = BTreeSet::new();
    if let Some(fly) = &desired.fly {
        for (app, a) in &fly.apps {
            if a.protect == Some(true) {
                out.insert(Address::FlyApp { app: app.clone() });
            }
        }
    }
    if let Some(github) = &desired.github {
        for (repo, r) in &github.repos {
            for (branch, b) in &r.branches {
                if b.protect == Some(true) {
                    out.insert(Address::GithubProtection {
                        repo: repo.clone(),
                        branch: branch.clone(),
                    });
                }
            }
            for (env, e) in &r.environments {
                if e.protect == Some(true) {
                    out.insert(Address::GithubEnvironment {
                        repo: repo.clone(),
                        env: env.clone(),
                    });
                }
            }
        }
    }
    out
}

/// Whether `address` is one of `roots` or under one.
pub fn covered(address: &Address, roots: &BTreeSet<Address>) -> bool {
    roots.iter().any(|r| address.is_under(&r.to_string()))
}

/// The addresses to retire: managed, gone from `expected`, of a provider desired/ still
/// manages and has active. A retired Fly app takes its machines, IPs and secrets with it
/// (they are read, and shown, even when the managed set lacks them).
pub fn retired(desired: &Desired, expected: &Expected, managed: &ManagedSet) -> Vec<Address> {
    let active = |a: &Address| {
        ProviderName::parse(a.provider())
            .is_some_and(|p| desired.activation(p) == Some(Activation::Active))
    };
    let mut out = BTreeSet::new();
    for address in managed.keys() {
        let under_retired_app = crate::core::plan::facts::fly_app(address).is_some_and(|app| {
            let root = Address::FlyApp {
                app: app.to_string(),
            };
            managed.contains_key(&root) && !expected.contains_key(&root)
        });
        if expected.contains_key(address)
            || !active(address)
            || !(delete::deletable(address) || under_retired_app)
        {
            continue;
        }
        // A process group is retired only beside groups that stay: an app whose last
        // groups became one (`fly.app.<a>.machines`) has its machines reconciled as a whole.
        if let (Address::FlyProcess { app, .. }, false) = (address, under_retired_app) {
            let groups_stay = expected
                .keys()
                .any(|a| matches!(a, Address::FlyProcess { app: other, .. } if other == app));
            if !groups_stay {
                continue;
            }
        }
        if let Address::FlyApp { app } = address {
            for a in [
                Address::FlyMachines { app: app.clone() },
                Address::FlyIps { app: app.clone() },
                Address::FlySecrets { app: app.clone() },
            ] {
                if !expected.contains_key(&a) {
                    out.insert(a);
                }
            }
        }
        out.insert(address.clone());
    }
    out.into_iter().collect()
}

/// [`retired`] for a desired state not lowered yet (the shell asks before reading live
/// state, to read what retired resources take with them). Nothing managed, nothing
/// retired: the whole desired state is lowered only when something is managed.
pub fn retired_from(desired: &Desired, managed: &ManagedSet) -> Vec<Address> {
    if managed.is_empty() {
        return Vec::new();
    }
    retired(desired, &crate::core::lower::lower(desired), managed)
}

/// The `protect` flags a plan changes in the managed set when applied: a desired address
/// newly under a protected root (`true`), and one the managed set protects but desired/ no
/// longer does (`false`: unprotected). Flags already recorded are left out, so a plan whose
/// only news is a flag still has something to apply ([`Plan::has_changes`]); addresses gone
/// from desired/ keep theirs.
pub fn protect_flags(
    expected: &Expected,
    roots: &BTreeSet<Address>,
    managed: &ManagedSet,
) -> BTreeMap<Address, bool> {
    // Every expected address is looked at: the roots are written out once and each
    // address's scopes looked up among them ([`covered`] would write every root out again
    // for each of 100,000 addresses).
    let roots: std::collections::HashSet<String> = roots.iter().map(Address::to_string).collect();
    expected
        .keys()
        .filter_map(|a| {
            let want = !roots.is_empty() && a.scopes().iter().any(|s| roots.contains(s));
            let had = managed.get(a).map(|e| e.protect);
            (had.unwrap_or(false) != want).then(|| (a.clone(), want))
        })
        .collect()
}

/// A plan that would delete or replace protected addresses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the plan would {} protected {}: {}",
    verbs(.changes),
    if .changes.len() == 1 { "resource" } else { "resources" },
    .changes.iter().map(|(a, k)| format!("`{a}` ({})", verb(*k))).collect::<Vec<_>>().join(", ")
)]
pub struct ProtectedError {
    /// Each protected address and what the plan would do to it.
    pub changes: Vec<(Address, ChangeKind)>,
}

fn verb(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Replace => "replace",
        _ => "delete",
    }
}

fn verbs(changes: &[(Address, ChangeKind)]) -> &'static str {
    let deletes = changes.iter().any(|(_, k)| *k == ChangeKind::Delete);
    let replaces = changes.iter().any(|(_, k)| *k == ChangeKind::Replace);
    match (deletes, replaces) {
        (true, true) => "delete or replace",
        (false, true) => "replace",
        _ => "delete",
    }
}

impl crate::core::hint::Hint for ProtectedError {
    fn hint(&self) -> Option<String> {
        Some(
            "to retire a protected resource, take two reviewed changes: set `protect: false` \
             (or remove the line) and apply that plan, then remove the resource from desired/"
                .into(),
        )
    }
}

/// Refuse changes that delete or replace a protected address: under a root `protect: true`
/// marks in desired/, or protected in the managed set.
pub fn check_protection(
    changes: &[Change],
    roots: &BTreeSet<Address>,
    managed: &ManagedSet,
) -> Result<(), ProtectedError> {
    let protected_roots: BTreeSet<Address> = managed
        .iter()
        .filter(|(_, e)| e.protect)
        .map(|(a, _)| a.clone())
        .chain(roots.iter().cloned())
        .collect();
    let changes: Vec<(Address, ChangeKind)> = changes
        .iter()
        .filter(|c| matches!(c.action, ChangeKind::Delete | ChangeKind::Replace))
        .filter(|c| covered(&c.address, &protected_roots))
        .map(|c| (c.address.clone(), c.action))
        .collect();
    if changes.is_empty() {
        Ok(())
    } else {
        Err(ProtectedError { changes })
    }
}

/// The live resources of `inventory`, and the live secret names of desired Fly apps when
/// the ledger was read ([`secrets::unmanaged`]), that are neither desired, managed nor
/// ignored, sorted.
pub fn unmanaged(
    lifecycle: &Lifecycle,
    expected: &Expected,
    live: &crate::core::live::LiveSnapshot,
) -> Vec<Address> {
    let names = match &lifecycle.secrets_set {
        Some(set) => secrets::unmanaged(expected, live, set),
        None => Vec::new(),
    };
    let set: BTreeSet<&Address> = lifecycle
        .inventory
        .iter()
        .filter(|a| !expected.contains_key(a) && !lifecycle.managed.contains_key(a))
        .chain(&names)
        .filter(|a| !lifecycle.ignore.matches(a))
        .collect();
    set.into_iter().cloned().collect()
}

/// The command that imports an unmanaged address.
pub fn import_command(address: &Address) -> String {
    format!("sophia import {address}")
}

/// The managed set after applying `plan`, of which the changes at `done` succeeded (every
/// action of the address succeeded). Created, updated and replaced addresses are added or
/// refreshed (`last` is this plan); deleted ones leave; the plan's `protect` flags are laid
/// over the entries of its desired addresses.
pub fn record(managed: &ManagedSet, plan: &Plan, done: &BTreeSet<Address>) -> ManagedSet {
    let mut out = managed.clone();
    for change in plan.changes.iter().filter(|c| done.contains(&c.address)) {
        match change.action {
            ChangeKind::NoOp => {}
            ChangeKind::Delete => {
                out.remove(&change.address);
            }
            ChangeKind::Create | ChangeKind::Update | ChangeKind::Replace => {
                let protect = plan.protect.get(&change.address).copied();
                let entry = out
                    .entry(change.address.clone())
                    .or_insert_with(|| ManagedEntry {
                        first: plan.digest.clone(),
                        last: plan.digest.clone(),
                        protect: false,
                    });
                entry.last = plan.digest.clone();
                if let Some(p) = protect {
                    entry.protect = p;
                }
            }
        }
    }
    for (address, protect) in &plan.protect {
        match out.get_mut(address) {
            Some(entry) => entry.protect = *protect,
            // Protecting an address sophia has not changed yet makes it managed: its
            // protection must survive its removal from desired/.
            None if *protect => {
                out.insert(
                    address.clone(),
                    ManagedEntry {
                        first: plan.digest.clone(),
                        last: plan.digest.clone(),
                        protect: true,
                    },
                );
            }
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests;
