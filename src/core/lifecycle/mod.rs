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
//!   protected by `protect: true` in desired/, or by the managed set after its removal
//!   ([`protect`]: which resources, and names inside one, can be protected).
//! - [`unmanaged`]: live resources inside managed scopes that are neither desired, managed
//!   nor ignored ([`ignore`]).
//! - [`secrets`]: one Fly secret retired — unset only when sophia set it.
//!
//! The planner never holds the whole lowered state (issue 20): [`retired`], the protect
//! flags and [`unmanaged_with`] read only the addresses of the expected state and which are
//! `null`, so it passes them the outline ([`crate::core::lower::outline`]); the secrets
//! lists are read one object at a time as it lowers them ([`secrets::retiring_at`],
//! [`secrets::unmanaged_at`]).

pub mod delete;
pub mod ignore;
pub mod managed;
pub mod protect;
pub mod secrets;

use std::collections::BTreeSet;

use crate::core::address::Address;
use crate::core::desired::{Activation, Desired, ProviderName};
use crate::core::lower::Expected;
use crate::core::plan::types::{ChangeKind, Plan};
pub use ignore::{Ignore, IgnoreError};
pub use managed::{ManagedEntry, ManagedSet};
pub use protect::{
    NameFlags, ProtectedError, check_protection, covered, protect_flags, protect_name_flags,
    protected_names, protected_roots,
};

/// What the planner needs to know of a resource's lifecycle beyond desired and live.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    pub managed: ManagedSet,
    /// Live addresses inside managed scopes (the apps of the Fly org; the Actions secrets
    /// and variables, environments, rulesets, direct collaborators and teams of managed
    /// repositories; the rulesets of managed organizations), as the providers listed them.
    pub inventory: Vec<Address>,
    pub ignore: Ignore,
    /// The secret names sophia set and has not removed since (the secrets ledger); `None`
    /// when it was not read: then no name is retired nor listed as unmanaged.
    pub secrets_set: Option<secrets::SecretsSet>,
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
    retired(desired, &crate::core::lower::outline(desired), managed)
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
    unmanaged_with(lifecycle, expected, &names)
}

/// [`unmanaged`] with the unmanaged secret names already found ([`secrets::unmanaged_at`]
/// of each address, as the planner lowers it); `expected` is read for its addresses only.
pub fn unmanaged_with(
    lifecycle: &Lifecycle,
    expected: &Expected,
    names: &[Address],
) -> Vec<Address> {
    let set: BTreeSet<&Address> = lifecycle
        .inventory
        .iter()
        .filter(|a| !expected.contains_key(a) && !lifecycle.managed.contains_key(a))
        .chain(names)
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
                        protect_names: BTreeSet::new(),
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
                        protect_names: BTreeSet::new(),
                    },
                );
            }
            None => {}
        }
    }
    for (address, flags) in &plan.protect_names {
        if !out.contains_key(address) && !flags.values().any(|p| *p) {
            continue;
        }
        // As for `protect`: a protected name makes its address managed.
        let entry = out.entry(address.clone()).or_insert_with(|| ManagedEntry {
            first: plan.digest.clone(),
            last: plan.digest.clone(),
            protect: false,
            protect_names: BTreeSet::new(),
        });
        for (name, protect) in flags {
            if *protect {
                entry.protect_names.insert(name.clone());
            } else {
                entry.protect_names.remove(name);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
