//! The action DAG: changes → provider actions, ordered by explicit rules.
//!
//! Each change becomes one or more actions (ids `<kind>:<address>`); [`ORDER_RULES`] says
//! which action must finish before which; `depends_on` between Fly apps adds edges across
//! apps. The graph must be acyclic — a cycle is an error naming it — and the actions come
//! out in a deterministic topological order, ties broken by id ([`crate::core::dag`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::core::address::Address;
use crate::core::dag;
use crate::core::desired::{Activation, Desired, ProviderName};
use crate::core::github_ruleset;
use crate::core::lifecycle::delete as retire;
use crate::core::live::LiveSnapshot;
use crate::core::plan::action_kind::ActionKind;
use crate::core::plan::facts::{AppFacts, Facts, fly_app};
use crate::core::plan::types::{Action, ActionId, Change, ChangeKind};
use crate::core::rotation;

/// Why the actions cannot be ordered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Names every node of the cycle, the first repeated at the end.
    #[error("dependency cycle: {}", .cycle.join(" → "))]
    Cycle { cycle: Vec<String> },
    #[error("`fly.app.{app}` depends on `{missing}`, which the desired state does not define")]
    UnknownDependency {
        app: String,
        missing: String,
        suggestion: Option<String>,
    },
    #[error("`{address}`: no action can {action} this kind of resource")]
    Unsupported { address: Address, action: String },
}

impl crate::core::hint::Hint for GraphError {
    fn hint(&self) -> Option<String> {
        match self {
            GraphError::Cycle { .. } => Some("remove one of these `depends_on` entries".into()),
            GraphError::UnknownDependency { suggestion, .. } => {
                suggestion.as_ref().map(|s| format!("did you mean `{s}`?"))
            }
            GraphError::Unsupported { .. } => None,
        }
    }
}

/// How two actions are related for a rule to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Both act on the same Fly app (`fly.app.<a>` and its `.secrets`, `.machines`).
    SameApp,
    /// Both act on the same address (a replace: delete, then create).
    SameAddress,
    /// The later action belongs to the provider the earlier one activates.
    SameProvider,
}

/// The ordering rules: `(earlier kind, later kind, scope)`; `None` is any kind. Read as
/// "within <scope>, <earlier> finishes before <later> starts".
///
/// - A Fly app exists → its secrets are set (or retired ones unset) → its machines are
///   updated (they pick up the new secrets version) → its health is verified.
/// - A replace deletes the old resource before creating the new one.
/// - A provider is activated before any of its actions.
///
/// A health check exists only with a machines update, so the chain needs no more rules.
/// Edges implied by others are dropped afterwards ([`transitive_reduction`]): an action
/// lists only its direct prerequisites.
///
/// Not listed, hence independent: GitHub secrets, environments and protection (each is a
/// separate API object); context database extensions and schemas; Redis keys.
/// `depends_on` between Fly apps adds one more edge, see [`dependency_edges`].
pub const ORDER_RULES: &[(ActionKind, Option<ActionKind>, Scope)] = &[
    (
        ActionKind::FlyAppCreate,
        Some(ActionKind::FlySecretsSet),
        Scope::SameApp,
    ),
    (
        ActionKind::FlyAppCreate,
        Some(ActionKind::FlyIpsAllocate),
        Scope::SameApp,
    ),
    (
        ActionKind::FlyAppCreate,
        Some(ActionKind::FlyVolumesCreate),
        Scope::SameApp,
    ),
    (
        ActionKind::FlyVolumesCreate,
        Some(ActionKind::FlyMachinesUpdate),
        Scope::SameApp,
    ),
    (
        ActionKind::FlyAppCreate,
        Some(ActionKind::FlyMachinesUpdate),
        Scope::SameApp,
    ),
    (
        ActionKind::FlySecretsSet,
        Some(ActionKind::FlyMachinesUpdate),
        Scope::SameApp,
    ),
    (
        ActionKind::FlySecretsUnset,
        Some(ActionKind::FlyMachinesUpdate),
        Scope::SameApp,
    ),
    (
        ActionKind::FlyMachinesUpdate,
        Some(ActionKind::FlyHealthCheck),
        Scope::SameApp,
    ),
    (
        ActionKind::QdrantCollectionDelete,
        Some(ActionKind::QdrantCollectionCreate),
        Scope::SameAddress,
    ),
    (ActionKind::ProviderActivate, None, Scope::SameProvider),
];

/// Whether `rule` orders `a` before `b`.
fn rule_applies(rule: &(ActionKind, Option<ActionKind>, Scope), a: &Action, b: &Action) -> bool {
    let (first, then, scope) = rule;
    if a.kind != *first || then.is_some_and(|then| b.kind != then) || a.id == b.id {
        return false;
    }
    match scope {
        Scope::SameApp => {
            fly_app(&a.address).is_some() && fly_app(&a.address) == fly_app(&b.address)
        }
        Scope::SameAddress => a.address == b.address,
        Scope::SameProvider => match &a.address {
            Address::Provider { name } => {
                b.address.provider() == name && !matches!(b.address, Address::Provider { .. })
            }
            _ => false,
        },
    }
}

/// The secret names of `after[list]` to set: those `before` lacks, and those whose rotation
/// (`after[rotations]`) differs from `before`'s (see [`rotation`]).
fn to_set(before: &Value, after: &Value, list: &str, rotations: &str) -> Vec<String> {
    let have: BTreeSet<&str> = before[list]
        .as_array()
        .map(|v| v.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let rotated = rotation::rotated(before, after, rotations);
    after[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|n| !have.contains(n) || rotated.contains(*n))
        .map(str::to_string)
        .collect()
}

/// The names of `before[list]` that `after[list]` lacks (a list `after` does not set drops
/// nothing).
fn to_unset(before: &Value, after: &Value, list: &str) -> Vec<String> {
    let Some(keep) = after[list].as_array() else {
        return Vec::new();
    };
    let keep: BTreeSet<&str> = keep.iter().filter_map(Value::as_str).collect();
    before[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|n| !keep.contains(n))
        .map(str::to_string)
        .collect()
}

/// The id of an action: `<kind>:<address>`.
pub fn action_id(kind: ActionKind, address: &Address) -> ActionId {
    ActionId(format!("{kind}:{address}"))
}

fn action(kind: ActionKind, address: &Address, params: Value) -> Action {
    Action {
        id: action_id(kind, address),
        address: address.clone(),
        kind,
        params,
        depends_on: Vec::new(),
    }
}

/// The actions of one change, without dependencies yet.
pub fn actions_for(change: &Change, facts: &Facts) -> Result<Vec<Action>, GraphError> {
    let a = &change.address;
    let after = &change.after;
    let unsupported = |what: &str| GraphError::Unsupported {
        address: a.clone(),
        action: what.to_string(),
    };
    let kind = change.action;
    if kind == ChangeKind::NoOp {
        return Ok(Vec::new());
    }
    let acts = match (a, kind) {
        (Address::FlyApp { app }, ChangeKind::Create) => vec![action(
            ActionKind::FlyAppCreate,
            a,
            json!({ "app": app, "org": after.get("org") }),
        )],
        (Address::FlySecrets { app }, ChangeKind::Create | ChangeKind::Update) => {
            // Only the names that are missing or rotated: the others keep their values.
            let names = to_set(&change.before, after, "names", "rotations");
            // The names `after` drops: retired ones sophia set (`lifecycle::secrets`).
            let unset = to_unset(&change.before, after, "names");
            let mut acts = Vec::new();
            if !names.is_empty() || unset.is_empty() {
                let mut params = json!({ "names": names });
                rotation::carry(&mut params, after, "rotations", &names);
                acts.push(action(ActionKind::FlySecretsSet, a, params));
            }
            if !unset.is_empty() {
                acts.push(action(
                    ActionKind::FlySecretsUnset,
                    a,
                    json!({ "app": app, "unset": unset }),
                ));
            }
            acts
        }
        (Address::FlyVolume { app, name }, ChangeKind::Create | ChangeKind::Update) => {
            let mut params = json!({ "app": app, "name": name });
            for key in ["count", "regions", "size_gb"] {
                params[key] = after.get(key).cloned().unwrap_or(Value::Null);
            }
            vec![action(ActionKind::FlyVolumesCreate, a, params)]
        }
        (Address::FlyIps { app }, ChangeKind::Create | ChangeKind::Update) => {
            vec![action(ActionKind::FlyIpsAllocate, a, json!({ "app": app }))]
        }
        (
            Address::FlyMachines { app } | Address::FlyProcess { app, .. },
            ChangeKind::Create | ChangeKind::Update,
        ) => machines_actions(a, change, &facts.app(app)),
        (Address::GithubProtection { .. }, ChangeKind::Create | ChangeKind::Update) => {
            vec![action(
                ActionKind::GithubProtectionPut,
                a,
                json!({ "body": after }),
            )]
        }
        (Address::GithubProtection { .. }, ChangeKind::Delete) => {
            vec![action(ActionKind::GithubProtectionDelete, a, json!({}))]
        }
        (Address::GithubSecret { name, .. }, ChangeKind::Create | ChangeKind::Update) => {
            let mut params = json!({ "name": name });
            if let Some(r) = after.get("rotation").filter(|r| r.is_u64()) {
                params["rotation"] = r.clone();
            }
            vec![action(ActionKind::GithubSecretPut, a, params)]
        }
        (Address::GithubEnvironment { .. }, ChangeKind::Create | ChangeKind::Update) => {
            // The whole environment object: reviewers, and the gate settings desired sets;
            // `set_secrets`: the environment secrets live lacks (values at apply);
            // `unset_secrets`: retired ones to delete.
            let mut params = after.clone();
            let missing = to_set(&change.before, after, "secrets", "secret_rotations");
            if !missing.is_empty() {
                params["set_secrets"] = json!(missing);
            }
            // The names `after` drops: retired ones sophia set (`lifecycle::secrets`).
            let retired = to_unset(&change.before, after, "secrets");
            if !retired.is_empty() {
                params["unset_secrets"] = json!(retired);
            }
            vec![action(ActionKind::GithubEnvironmentPut, a, params)]
        }
        (
            Address::GithubRepoRuleset { name, .. } | Address::GithubOrgRuleset { name, .. },
            ChangeKind::Create | ChangeKind::Update,
        ) => {
            // The whole body (a PUT replaces the ruleset); `security_relevant` names the
            // attributes that change who may bypass it.
            let mut params = json!({ "body": github_ruleset::request_body(name, after) });
            let relevant: Vec<&str> = change
                .diff
                .iter()
                .map(|d| d.path.as_str())
                .filter(|p| github_ruleset::is_security_relevant(p))
                .collect();
            if !relevant.is_empty() {
                params["security_relevant"] = json!(relevant);
            }
            vec![action(ActionKind::GithubRulesetPut, a, params)]
        }
        (
            Address::GithubRepoRuleset { .. } | Address::GithubOrgRuleset { .. },
            ChangeKind::Delete,
        ) => {
            vec![action(ActionKind::GithubRulesetDelete, a, json!({}))]
        }
        (Address::GithubSettings { .. }, ChangeKind::Create | ChangeKind::Update) => {
            // Only what differs: a PATCH leaves the other fields, topics are PUT whole.
            let mut body = serde_json::Map::new();
            let mut topics = None;
            for d in &change.diff {
                let key = d.path.split('.').next().unwrap_or_default();
                if key == "topics" {
                    topics = Some(after["topics"].clone());
                } else if let Some(v) = after.get(key) {
                    body.insert(key.to_string(), v.clone());
                }
            }
            let mut params = json!({ "body": body });
            if let Some(t) = topics {
                params["topics"] = t;
            }
            vec![action(ActionKind::GithubSettingsPatch, a, params)]
        }
        (Address::GithubCollaborator { .. }, ChangeKind::Create | ChangeKind::Update) => {
            vec![action(
                ActionKind::GithubCollaboratorPut,
                a,
                json!({ "permission": after["permission"] }),
            )]
        }
        (Address::GithubTeam { .. }, ChangeKind::Create | ChangeKind::Update) => vec![action(
            ActionKind::GithubTeamPut,
            a,
            json!({ "permission": after["permission"] }),
        )],
        (Address::GithubVariable { .. }, ChangeKind::Create | ChangeKind::Update) => {
            vec![action(
                ActionKind::GithubVariablePut,
                a,
                json!({ "value": after["value"], "exists": change.action == ChangeKind::Update }),
            )]
        }
        (Address::Provider { name }, ChangeKind::Create | ChangeKind::Update) => {
            // All that executing it reads, so apply acts on the signed plan alone: the
            // activation, and for the router the routes its validation is configured with.
            let mut params = json!({ "activation": after["activation"] });
            if let Some(routes) = facts.routes.as_ref().filter(|_| name == "router") {
                params["routes"] = json!(routes);
            }
            vec![action(ActionKind::ProviderActivate, a, params)]
        }
        (Address::ContextDbExtension { name }, ChangeKind::Create) => vec![action(
            ActionKind::ContextDbExtensionCreate,
            a,
            json!({ "name": name }),
        )],
        (Address::ContextDbSchema { name }, ChangeKind::Create) => vec![action(
            ActionKind::ContextDbSchemaCreate,
            a,
            json!({ "name": name }),
        )],
        (Address::QdrantCollection { .. }, ChangeKind::Create) => {
            vec![action(ActionKind::QdrantCollectionCreate, a, after.clone())]
        }
        (Address::QdrantCollection { .. }, ChangeKind::Replace) => vec![
            action(ActionKind::QdrantCollectionDelete, a, json!({})),
            action(ActionKind::QdrantCollectionCreate, a, after.clone()),
        ],
        (Address::RedisConfig { key }, ChangeKind::Create | ChangeKind::Update) => vec![action(
            ActionKind::RedisConfigSet,
            a,
            json!({ "key": key, "value": after["value"] }),
        )],
        (_, kind) => {
            let verb = match kind {
                ChangeKind::Create => "create",
                ChangeKind::Update => "update",
                ChangeKind::Delete => "delete",
                ChangeKind::Replace => "replace",
                ChangeKind::NoOp => "leave",
            };
            return Err(unsupported(verb));
        }
    };
    Ok(acts)
}

/// A Fly machine sees the app's secrets as they were when it was last created or updated.
/// So a `fly.secrets.set` (or `unset`, as `fly secrets unset` redeploys) whose app has running machines and no machines action in the plan
/// (which would update them anyway, after the secrets) restarts them itself: its params say
/// `restart_machines` and carry the app's strategy and health check for that rollout.
fn restart_for_secrets(actions: &mut [Action], facts: &Facts) {
    let deployed: BTreeSet<String> = actions
        .iter()
        .filter(|a| a.kind.as_str().starts_with("fly.machines."))
        .filter_map(|a| fly_app(&a.address).map(str::to_string))
        .collect();
    for a in actions.iter_mut().filter(|a| {
        matches!(
            a.kind,
            ActionKind::FlySecretsSet | ActionKind::FlySecretsUnset
        )
    }) {
        let Some(app) = fly_app(&a.address).map(str::to_string) else {
            continue;
        };
        let restart = facts.running.contains(&app) && !deployed.contains(&app);
        let spec = facts.app(&app);
        if let Value::Object(params) = &mut a.params {
            params.insert("restart_machines".into(), json!(restart));
            if restart {
                params.insert("strategy".into(), json!(spec.strategy.as_str()));
                if let Some(h) = &spec.health {
                    params.insert(
                        "health".into(),
                        json!({ "path": h.path, "expect_status": h.expect_status }),
                    );
                }
            }
        }
    }
}

/// `fly.machines.update` (and `fly.health.check` when the app has a health check). The
/// image replaced is the change's `before` (the live object when the machines exist).
fn machines_actions(address: &Address, change: &Change, spec: &AppFacts) -> Vec<Action> {
    let mut params = serde_json::Map::new();
    for key in [
        "image",
        "count",
        "regions",
        "guest",
        "env",
        "platform_env",
        "config",
    ] {
        params.insert(
            key.into(),
            change.after.get(key).cloned().unwrap_or(Value::Null),
        );
    }
    params.insert("strategy".into(), json!(spec.strategy.as_str()));
    if let Some(tag) = &spec.image_tag {
        params.insert("image_tag".into(), json!(tag));
    }
    params.insert(
        "previous_image".into(),
        change.before.get("image").cloned().unwrap_or(Value::Null),
    );
    let mut out = vec![action(
        ActionKind::FlyMachinesUpdate,
        address,
        Value::Object(params),
    )];
    if let Some(health) = &spec.health {
        out.push(action(
            ActionKind::FlyHealthCheck,
            address,
            json!({ "path": health.path, "port": health.port, "expect_status": health.expect_status }),
        ));
    }
    out
}

/// Check `depends_on` between Fly apps: every name exists and there is no cycle. The cycle
/// is named with app addresses, e.g. `fly.app.a → fly.app.b → fly.app.a` (read "depends
/// on").
pub fn check_app_dependencies(desired: &Desired) -> Result<(), GraphError> {
    let Some(fly) = &desired.fly else {
        return Ok(());
    };
    if desired.activation(ProviderName::Fly) != Some(Activation::Active) {
        return Ok(());
    }
    let mut edges = Vec::new();
    for (name, app) in &fly.apps {
        for dep in &app.depends_on {
            if !fly.apps.contains_key(dep) {
                let suggestion = fly
                    .apps
                    .keys()
                    .map(|k| (strsim::jaro_winkler(k, dep), k))
                    .filter(|(score, _)| *score > 0.8)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, k)| k.clone());
                return Err(GraphError::UnknownDependency {
                    app: name.clone(),
                    missing: dep.clone(),
                    suggestion,
                });
            }
            edges.push((format!("fly.app.{name}"), format!("fly.app.{dep}")));
        }
    }
    let nodes: Vec<String> = fly.apps.keys().map(|k| format!("fly.app.{k}")).collect();
    match dag::find_cycle(&nodes, &edges) {
        Some(cycle) => Err(GraphError::Cycle { cycle }),
        None => Ok(()),
    }
}

/// Edges from `depends_on`: app B's `fly.machines.update` waits for the last action of
/// every app it depends on, directly or not (its health check when present, else its
/// machines update, secrets, creation). Apps without actions in the plan add no edge.
pub fn dependency_edges(facts: &Facts, actions: &[Action]) -> Vec<(ActionId, ActionId)> {
    // Rank of the kinds in an app's chain: the last present one is what dependents wait for.
    const CHAIN: [ActionKind; 4] = [
        ActionKind::FlyAppCreate,
        ActionKind::FlySecretsSet,
        ActionKind::FlyMachinesUpdate,
        ActionKind::FlyHealthCheck,
    ];
    let mut last: BTreeMap<&str, (usize, &ActionId)> = BTreeMap::new();
    let mut machines: BTreeMap<&str, &ActionId> = BTreeMap::new();
    for a in actions {
        let (Some(app), Some(rank)) =
            (fly_app(&a.address), CHAIN.iter().position(|k| *k == a.kind))
        else {
            continue;
        };
        if last.get(app).is_none_or(|(r, _)| *r < rank) {
            last.insert(app, (rank, &a.id));
        }
        if a.kind == ActionKind::FlyMachinesUpdate {
            machines.insert(app, &a.id);
        }
    }
    let mut edges = Vec::new();
    for (app, update) in machines {
        // Transitive closure of `depends_on` (the app graph was checked acyclic).
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&str> = facts
            .apps
            .get(app)
            .map(|a| a.depends_on.iter().map(String::as_str).collect())
            .unwrap_or_default();
        while let Some(dep) = stack.pop() {
            if !seen.insert(dep) {
                continue;
            }
            if let Some((_, id)) = last.get(dep) {
                edges.push(((*id).clone(), update.clone()));
            }
            if let Some(d) = facts.apps.get(dep) {
                stack.extend(d.depends_on.iter().map(String::as_str));
            }
        }
    }
    edges
}

/// Build the ordered action list of a set of changes, planning `desired` against `live`.
pub fn build(
    changes: &[Change],
    desired: &Desired,
    live: &LiveSnapshot,
) -> Result<Vec<Action>, GraphError> {
    check_app_dependencies(desired)?;
    derive(changes, &Facts::gather(desired, live))
}

/// The ordered action list of a set of changes, given the [`Facts`] the changes do not
/// carry. Pure and total over its inputs: `sophia verify` and `apply` call it on a plan's
/// own changes and facts and refuse a plan whose actions differ ([`crate::core::plan::check`]).
pub fn derive(changes: &[Change], facts: &Facts) -> Result<Vec<Action>, GraphError> {
    let mut actions = Vec::new();
    for change in changes {
        if !retire::handles(change, changes) {
            actions.extend(actions_for(change, facts)?);
        }
    }
    actions.extend(retire::actions(changes));
    restart_for_secrets(&mut actions, facts);
    let mut edges: BTreeSet<(ActionId, ActionId)> = BTreeSet::new();
    // Quadratic in the actions of one scope only: group by provider first.
    let mut by_provider: BTreeMap<&str, Vec<&Action>> = BTreeMap::new();
    for a in &actions {
        by_provider.entry(a.address.provider()).or_default().push(a);
    }
    for group in by_provider.values() {
        let mut by_app: BTreeMap<Option<&str>, Vec<&Action>> = BTreeMap::new();
        for a in group {
            by_app.entry(fly_app(&a.address)).or_default().push(a);
        }
        let activators: Vec<&&Action> = group
            .iter()
            .filter(|a| a.kind == ActionKind::ProviderActivate)
            .collect();
        for rule in ORDER_RULES {
            match rule.2 {
                Scope::SameProvider => {
                    for a in &activators {
                        for b in group {
                            if rule_applies(rule, a, b) {
                                edges.insert((a.id.clone(), b.id.clone()));
                            }
                        }
                    }
                }
                Scope::SameApp | Scope::SameAddress => {
                    for (app, members) in &by_app {
                        // Outside Fly, same-address rules only meet actions of one address;
                        // those groups are small (a replace has two actions).
                        let groups: Vec<Vec<&Action>> = if app.is_some() {
                            vec![members.clone()]
                        } else {
                            let mut by_addr: BTreeMap<&Address, Vec<&Action>> = BTreeMap::new();
                            for a in members {
                                by_addr.entry(&a.address).or_default().push(a);
                            }
                            by_addr.into_values().collect()
                        };
                        for g in groups {
                            for a in &g {
                                for b in &g {
                                    if rule_applies(rule, a, b) {
                                        edges.insert((a.id.clone(), b.id.clone()));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    edges.extend(dependency_edges(facts, &actions));
    for a in &mut actions {
        a.depends_on.clear();
    }
    let mut deps: BTreeMap<ActionId, Vec<ActionId>> = BTreeMap::new();
    for (from, to) in &edges {
        deps.entry(to.clone()).or_default().push(from.clone());
    }
    for d in deps.values_mut() {
        d.sort();
        d.dedup();
    }
    dag::transitive_reduction(&mut deps);
    for a in &mut actions {
        if let Some(d) = deps.remove(&a.id) {
            a.depends_on = d;
        }
    }
    dag::order(actions).map_err(|cycle| GraphError::Cycle { cycle })
}
