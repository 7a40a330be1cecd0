//! The actions of `delete` changes (retired addresses, [`super::retired`]).
//!
//! - `fly.app.<a>` → `fly.app.delete`, which takes the app's machines, volumes and IP
//!   addresses with it: its params say how many (from the `before` of the app's other
//!   changes), and those changes get no action of their own.
//! - `fly.app.<a>.process.<g>` (the app stays) → `fly.process.delete`: its machines, leased.
//! - `fly.app.<a>.secrets` (the app stays) → `fly.secrets.unset` of the names it had.
//! - GitHub: an Actions secret, variable, environment, collaborator or team grant → its
//!   `github.*.delete`; branch protection and rulesets keep their own delete kinds (made
//!   by the graph, as for `protection: null`).
//! - `qdrant.collection.<n>` → `qdrant.collection.delete`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::core::address::Address;
use crate::core::plan::action_kind::ActionKind;
use crate::core::plan::facts::fly_app;
use crate::core::plan::types::{Action, ActionId, Change, ChangeKind};

/// Whether [`actions`] makes the actions of `change` (the graph skips it then).
pub fn handles(change: &Change, changes: &[Change]) -> bool {
    change.action == ChangeKind::Delete
        && (deletable(&change.address) || app_deleted(&change.address, changes))
}

/// Kinds a retired address may have: their delete has an action. Other kinds (a volume, an
/// app's IPs or machines while the app stays, settings, providers, database objects, Redis
/// keys) are never retired on their own.
pub fn deletable(address: &Address) -> bool {
    matches!(
        address,
        Address::FlyApp { .. }
            | Address::FlyProcess { .. }
            | Address::FlySecrets { .. }
            | Address::GithubProtection { .. }
            | Address::GithubSecret { .. }
            | Address::GithubEnvironment { .. }
            | Address::GithubRepoRuleset { .. }
            | Address::GithubOrgRuleset { .. }
            | Address::GithubCollaborator { .. }
            | Address::GithubTeam { .. }
            | Address::GithubVariable { .. }
            | Address::QdrantCollection { .. }
    )
}

/// Whether `address` is under a Fly app that `changes` delete (and is not the app itself).
pub fn app_deleted(address: &Address, changes: &[Change]) -> bool {
    let Some(app) = fly_app(address) else {
        return false;
    };
    !matches!(address, Address::FlyApp { .. })
        && changes.iter().any(|c| {
            c.action == ChangeKind::Delete
                && matches!(&c.address, Address::FlyApp { app: a } if a == app)
        })
}

fn action(kind: ActionKind, address: &Address, params: Value) -> Action {
    Action {
        id: ActionId(format!("{kind}:{address}")),
        address: address.clone(),
        kind,
        params,
        depends_on: Vec::new(),
    }
}

/// What a deleted Fly app takes with it, from the `before` of its other changes.
#[derive(Default)]
struct Takes {
    machines: u64,
    volumes: u64,
    ips: u64,
}

fn count(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// The actions of the delete changes [`handles`], in change order.
pub fn actions(changes: &[Change]) -> Vec<Action> {
    let mut takes: BTreeMap<&str, Takes> = BTreeMap::new();
    for c in changes.iter().filter(|c| app_deleted(&c.address, changes)) {
        let Some(app) = fly_app(&c.address) else {
            continue;
        };
        let t = takes.entry(app).or_default();
        match &c.address {
            Address::FlyMachines { .. } | Address::FlyProcess { .. } => {
                t.machines += count(&c.before, "count")
            }
            Address::FlyVolume { .. } => t.volumes += count(&c.before, "count"),
            Address::FlyIps { .. } => t.ips += count(&c.before, "v4") + count(&c.before, "v6"),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for c in changes
        .iter()
        .filter(|c| c.action == ChangeKind::Delete && deletable(&c.address))
        .filter(|c| !app_deleted(&c.address, changes))
    {
        let a = &c.address;
        let names = |v: &Value| v.get("names").cloned().unwrap_or_else(|| json!([]));
        let made = match a {
            Address::FlyApp { app } => {
                let t = takes.remove(app.as_str()).unwrap_or_default();
                action(
                    ActionKind::FlyAppDelete,
                    a,
                    json!({ "app": app, "machines": t.machines, "volumes": t.volumes, "ips": t.ips }),
                )
            }
            Address::FlyProcess { app, group } => action(
                ActionKind::FlyProcessDelete,
                a,
                json!({ "app": app, "group": group, "machines": count(&c.before, "count") }),
            ),
            Address::FlySecrets { app } => action(
                ActionKind::FlySecretsUnset,
                a,
                json!({ "app": app, "unset": names(&c.before) }),
            ),
            Address::GithubProtection { .. } => {
                action(ActionKind::GithubProtectionDelete, a, json!({}))
            }
            Address::GithubRepoRuleset { .. } | Address::GithubOrgRuleset { .. } => {
                action(ActionKind::GithubRulesetDelete, a, json!({}))
            }
            Address::GithubSecret { .. } => action(ActionKind::GithubSecretDelete, a, json!({})),
            Address::GithubEnvironment { .. } => {
                action(ActionKind::GithubEnvironmentDelete, a, json!({}))
            }
            Address::GithubCollaborator { .. } => {
                action(ActionKind::GithubCollaboratorDelete, a, json!({}))
            }
            Address::GithubTeam { .. } => action(ActionKind::GithubTeamDelete, a, json!({})),
            Address::GithubVariable { .. } => {
                action(ActionKind::GithubVariableDelete, a, json!({}))
            }
            Address::QdrantCollection { .. } => {
                action(ActionKind::QdrantCollectionDelete, a, json!({}))
            }
            _ => continue,
        };
        out.push(made);
    }
    out
}
