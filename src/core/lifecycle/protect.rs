//! Deletion protection (DESIGN.md, "Lifecycle: adopt, own, retire, rotate"): `protect: true`
//! on a resource makes every plan that would delete or replace it fail, also after its
//! removal from desired/ (the flag is kept in the managed set).
//!
//! Two granularities, after what a plan can delete:
//!
//! - **Scopes** ([`protected_roots`]): an address, or a scope of addresses, and everything
//!   under it. A Fly app (`fly.app.<a>`: its machines, process groups, volumes, IPs, secrets);
//!   a repository (`github.repo.<r>`: every address under it) and an organization
//!   (`github.org.<o>`: its rulesets); a branch's protection, an environment, a repository
//!   or organization ruleset, an Actions secret, an Actions variable, a collaborator's or a
//!   team's grant; a Qdrant collection. Each desired address under a protected scope gets
//!   the flag `protect` in the managed set ([`protect_flags`]).
//! - **Names inside one address** ([`protected_names`]): `fly.app.<a>.secrets` holds all of
//!   an app's secret names and an environment holds its secrets and variables, so one name
//!   (`secret.<NAME>`, `variable.<NAME>`) is protected inside its address. A plan removes
//!   such a name by deleting (or replacing) the whole address, or by retiring one secret
//!   sophia set (an update that unsets it alone, [`super::secrets`]); a protected name makes
//!   either fail. The
//!   names are kept in the managed set (`protect_names`, [`protect_name_flags`]): a name
//!   listed with `protect: true` is protected, listed without it unprotected, and a name gone
//!   from the list keeps what was recorded (its removal alone does not unprotect it).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::core::address::Address;
use crate::core::desired::{Desired, SecretName};
use crate::core::lower::Expected;
use crate::core::plan::types::{Change, ChangeKind};

use super::managed::ManagedSet;

/// Address → protected name (`secret.<NAME>`, `variable.<NAME>`) → whether desired/ (or a
/// plan) protects it.
pub type NameFlags = BTreeMap<Address, BTreeMap<String, bool>>;

/// The scopes `protect: true` marks in desired/ (address strings, or the repository and
/// organization scopes `github.repo.<r>` and `github.org.<o>`): see the module docs.
pub fn protected_roots(desired: &Desired) -> BTreeSet<String> {
    // The address is written out only for a resource marked `protect: true` (every plan
    // walks every resource here).
    let mut out = BTreeSet::new();
    let mut mark = |on: Option<bool>, scope: &dyn Fn() -> Address| {
        if on == Some(true) {
            out.insert(scope().to_string());
        }
    };
    for (app, a) in desired.fly.iter().flat_map(|f| &f.apps) {
        mark(a.protect, &|| Address::FlyApp { app: app.clone() });
    }
    for (name, c) in desired.qdrant.iter().flat_map(|q| &q.collections) {
        mark(c.protect, &|| Address::QdrantCollection {
            name: name.clone(),
        });
    }
    let mut scopes = BTreeSet::new();
    for (org, o) in desired.github.iter().flat_map(|g| &g.orgs) {
        if o.protect == Some(true) {
            scopes.insert(format!("github.org.{org}"));
        }
        for (name, rs) in &o.rulesets {
            let on = rs.as_ref().and_then(|r| r.protect);
            mark(on, &|| Address::GithubOrgRuleset {
                org: org.clone(),
                name: name.clone(),
            });
        }
    }
    for (repo, r) in desired.github.iter().flat_map(|g| &g.repos) {
        if r.protect == Some(true) {
            scopes.insert(format!("github.repo.{repo}"));
        }
        let repo = || repo.clone();
        for (branch, b) in &r.branches {
            mark(b.protect, &|| Address::GithubProtection {
                repo: repo(),
                branch: branch.clone(),
            });
        }
        for (env, e) in &r.environments {
            mark(e.protect, &|| Address::GithubEnvironment {
                repo: repo(),
                env: env.clone(),
            });
        }
        for (name, rs) in &r.rulesets {
            let on = rs.as_ref().and_then(|r| r.protect);
            mark(on, &|| Address::GithubRepoRuleset {
                repo: repo(),
                name: name.clone(),
            });
        }
        for x in &r.actions_secrets {
            mark(x.protect, &|| Address::GithubSecret {
                repo: repo(),
                name: x.name.clone(),
            });
        }
        for (name, v) in &r.actions_variables {
            mark(v.protect, &|| Address::GithubVariable {
                repo: repo(),
                name: name.clone(),
            });
        }
        for (login, g) in &r.collaborators {
            mark(g.protect, &|| Address::GithubCollaborator {
                repo: repo(),
                login: login.clone(),
            });
        }
        for (slug, g) in &r.teams {
            mark(g.protect, &|| Address::GithubTeam {
                repo: repo(),
                slug: slug.clone(),
            });
        }
    }
    out.extend(scopes);
    out
}

/// The names desired/ lists inside an address, each with whether it is protected: a Fly
/// app's secrets, an environment's secrets and variables (see the module docs).
pub fn protected_names(desired: &Desired) -> NameFlags {
    let mut out = NameFlags::new();
    let secrets = |list: &[SecretName]| {
        list.iter()
            .map(|s| (format!("secret.{}", s.name), s.protect == Some(true)))
            .collect::<BTreeMap<_, _>>()
    };
    if let Some(fly) = &desired.fly {
        for (app, a) in &fly.apps {
            if let Some(list) = &a.secrets {
                out.insert(Address::FlySecrets { app: app.clone() }, secrets(list));
            }
        }
    }
    for (repo, r) in desired.github.iter().flat_map(|g| &g.repos) {
        for (env, e) in &r.environments {
            let mut names = secrets(&e.secrets);
            for (name, v) in &e.variables {
                names.insert(format!("variable.{name}"), v.protect == Some(true));
            }
            let (repo, env) = (repo.clone(), env.clone());
            out.insert(Address::GithubEnvironment { repo, env }, names);
        }
    }
    out
}

/// Whether `address` is one of `roots` or under one.
pub fn covered(address: &Address, roots: &BTreeSet<String>) -> bool {
    address.scopes().iter().any(|s| roots.contains(s))
}

/// The `protect` flags a plan changes in the managed set when applied: a desired address
/// newly under a protected root (`true`), and one the managed set protects but desired/ no
/// longer does (`false`: unprotected). Flags already recorded are left out, so a plan whose
/// only news is a flag still has something to apply ([`Plan::has_changes`]); addresses gone
/// from desired/ keep theirs.
///
/// [`Plan::has_changes`]: crate::core::plan::types::Plan::has_changes
pub fn protect_flags(
    expected: &Expected,
    roots: &BTreeSet<String>,
    managed: &ManagedSet,
) -> BTreeMap<Address, bool> {
    // Every expected address is looked at: the roots are hashed once and each address's
    // scopes looked up among them (100,000 addresses stay linear).
    let roots: HashSet<&str> = roots.iter().map(String::as_str).collect();
    expected
        .keys()
        .filter_map(|a| {
            let want = !roots.is_empty() && a.scopes().iter().any(|s| roots.contains(s.as_str()));
            let had = managed.get(a).map(|e| e.protect);
            (had.unwrap_or(false) != want).then(|| (a.clone(), want))
        })
        .collect()
}

/// The protected names a plan changes in the managed set: for each desired address, each
/// listed name whose protection differs from the recorded one. Names gone from the list
/// keep theirs.
pub fn protect_name_flags(
    expected: &Expected,
    names: &NameFlags,
    managed: &ManagedSet,
) -> NameFlags {
    names
        .iter()
        .filter(|(a, _)| expected.contains_key(*a))
        .filter_map(|(a, flags)| {
            let had = managed.get(a).map(|e| &e.protect_names);
            let changed: BTreeMap<String, bool> = flags
                .iter()
                .filter(|(n, want)| had.is_some_and(|h| h.contains(*n)) != **want)
                .map(|(n, want)| (n.clone(), *want))
                .collect();
            (!changed.is_empty()).then(|| (a.clone(), changed))
        })
        .collect()
}

/// A plan that would delete or replace protected addresses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the plan would {} protected {}: {}",
    verbs(.changes),
    if .changes.len() == 1 { "resource" } else { "resources" },
    .changes.iter().map(|(a, k)| shown(a, *k, .names)).collect::<Vec<_>>().join(", ")
)]
pub struct ProtectedError {
    /// Each protected address and what the plan would do to it.
    pub changes: Vec<(Address, ChangeKind)>,
    /// The protected names inside an address that is protected by them alone.
    pub names: BTreeMap<Address, Vec<String>>,
}

fn shown(a: &Address, k: ChangeKind, names: &BTreeMap<Address, Vec<String>>) -> String {
    match names.get(a) {
        Some(n) if k == ChangeKind::Update => {
            let n: Vec<String> = n.iter().map(|n| format!("`{n}`")).collect();
            format!("`{a}` (unsets protected {})", n.join(", "))
        }
        Some(n) => {
            let n: Vec<String> = n.iter().map(|n| format!("`{n}`")).collect();
            format!(
                "`{a}` ({}, which holds protected {})",
                verb(k),
                n.join(", ")
            )
        }
        None => format!("`{a}` ({})", verb(k)),
    }
}

fn verb(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Replace => "replace",
        ChangeKind::Update => "unset",
        _ => "delete",
    }
}

fn verbs(changes: &[(Address, ChangeKind)]) -> &'static str {
    let deletes = changes.iter().any(|(_, k)| *k == ChangeKind::Delete);
    let replaces = changes.iter().any(|(_, k)| *k == ChangeKind::Replace);
    let unsets = changes.iter().any(|(_, k)| *k == ChangeKind::Update);
    match (deletes, replaces, unsets) {
        (true, true, _) => "delete or replace",
        (false, true, _) => "replace",
        (false, false, true) => "unset names of",
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
/// marks in desired/, protected in the managed set, or holding a protected name (desired/
/// or the managed set).
pub fn check_protection(
    changes: &[Change],
    unsets: &BTreeMap<Address, BTreeSet<String>>,
    roots: &BTreeSet<String>,
    names: &NameFlags,
    managed: &ManagedSet,
) -> Result<(), ProtectedError> {
    let protected_roots: BTreeSet<String> = managed
        .iter()
        .filter(|(_, e)| e.protect)
        .map(|(a, _)| a.to_string())
        .chain(roots.iter().cloned())
        .collect();
    let mut out = ProtectedError {
        changes: Vec::new(),
        names: BTreeMap::new(),
    };
    for c in changes {
        // One name unset from a secrets list (a retired Fly or environment secret).
        if let Some(gone) = unsets.get(&c.address) {
            let held: BTreeSet<String> = gone
                .iter()
                .map(|n| format!("secret.{n}"))
                .filter(|n| {
                    managed
                        .get(&c.address)
                        .is_some_and(|e| e.protect_names.contains(n))
                        || names.get(&c.address).and_then(|f| f.get(n)) == Some(&true)
                })
                .collect();
            if !held.is_empty() {
                out.changes.push((c.address.clone(), c.action));
                out.names
                    .insert(c.address.clone(), held.into_iter().collect());
                continue;
            }
        }
        if !matches!(c.action, ChangeKind::Delete | ChangeKind::Replace) {
            continue;
        }
        if covered(&c.address, &protected_roots) {
            out.changes.push((c.address.clone(), c.action));
            continue;
        }
        let held: BTreeSet<&String> = managed
            .get(&c.address)
            .into_iter()
            .flat_map(|e| &e.protect_names)
            .chain(
                names
                    .get(&c.address)
                    .into_iter()
                    .flatten()
                    .filter(|(_, p)| **p)
                    .map(|(n, _)| n),
            )
            .collect();
        if !held.is_empty() {
            out.changes.push((c.address.clone(), c.action));
            out.names
                .insert(c.address.clone(), held.into_iter().cloned().collect());
        }
    }
    if out.changes.is_empty() {
        Ok(())
    } else {
        Err(out)
    }
}
