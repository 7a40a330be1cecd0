//! The action DAG: changes → provider actions, ordered by explicit rules.
//!
//! Each change becomes one or more actions (ids `<kind>:<address>`); [`ORDER_RULES`] says
//! which action must finish before which; `depends_on` between Fly apps adds edges across
//! apps. The graph (petgraph) must be acyclic — a cycle is an error naming it — and the
//! actions come out in a deterministic topological order, ties broken by id.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use petgraph::graph::{DiGraph, NodeIndex};
use serde_json::{Value, json};

use crate::core::address::Address;
use crate::core::desired::{Activation, Desired, FlyApp, ProviderName};
use crate::core::live::LiveSnapshot;
use crate::core::plan::{Action, ActionId, Change, ChangeKind};

/// Why the actions cannot be ordered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Names every node of the cycle, the first repeated at the end.
    #[error("dependency cycle: {}\n  hint: remove one of these `depends_on` entries", .cycle.join(" → "))]
    Cycle { cycle: Vec<String> },
    #[error(
        "`fly.app.{app}` depends on `{missing}`, which the desired state does not define{}",
        .suggestion.as_ref().map(|s| format!("\n  hint: did you mean `{s}`?")).unwrap_or_default()
    )]
    UnknownDependency {
        app: String,
        missing: String,
        suggestion: Option<String>,
    },
    #[error("`{address}`: no action can {action} this kind of resource")]
    Unsupported { address: Address, action: String },
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

/// The ordering rules: `(earlier kind, later kind, scope)`; `*` is any kind. Read as
/// "within <scope>, <earlier> finishes before <later> starts".
///
/// - A Fly app exists → its secrets are set → its machines are updated (they pick up the
///   new secrets version) → its health is verified.
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
pub const ORDER_RULES: &[(&str, &str, Scope)] = &[
    ("fly.app.create", "fly.secrets.set", Scope::SameApp),
    ("fly.app.create", "fly.machines.update", Scope::SameApp),
    ("fly.secrets.set", "fly.machines.update", Scope::SameApp),
    ("fly.machines.update", "fly.health.check", Scope::SameApp),
    (
        "qdrant.collection.delete",
        "qdrant.collection.create",
        Scope::SameAddress,
    ),
    ("provider.activate", "*", Scope::SameProvider),
];

/// The Fly app an address belongs to.
fn fly_app(address: &Address) -> Option<&str> {
    match address {
        Address::FlyApp { app } | Address::FlySecrets { app } | Address::FlyMachines { app } => {
            Some(app)
        }
        _ => None,
    }
}

/// Whether `rule` orders `a` before `b`.
fn rule_applies(rule: &(&str, &str, Scope), a: &Action, b: &Action) -> bool {
    let (first, then, scope) = rule;
    if a.kind != *first || (*then != "*" && b.kind != *then) || a.id == b.id {
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

/// The id of an action: `<kind>:<address>`.
pub fn action_id(kind: &str, address: &Address) -> ActionId {
    ActionId(format!("{kind}:{address}"))
}

fn action(kind: &str, address: &Address, params: Value) -> Action {
    Action {
        id: action_id(kind, address),
        address: address.clone(),
        kind: kind.to_string(),
        params,
        depends_on: Vec::new(),
    }
}

/// The actions of one change, without dependencies yet.
pub fn actions_for(
    change: &Change,
    desired: &Desired,
    live: &LiveSnapshot,
) -> Result<Vec<Action>, GraphError> {
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
            "fly.app.create",
            a,
            json!({ "app": app, "org": after.get("org") }),
        )],
        (Address::FlySecrets { .. }, ChangeKind::Create | ChangeKind::Update) => {
            // Only the names that are missing: existing secrets keep their values.
            let have: BTreeSet<&str> = change.before["names"]
                .as_array()
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let names: Vec<&str> = after["names"]
                .as_array()
                .map(|v| v.iter().filter_map(Value::as_str).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .filter(|n| !have.contains(n))
                .collect();
            vec![action("fly.secrets.set", a, json!({ "names": names }))]
        }
        (Address::FlyMachines { app }, ChangeKind::Create | ChangeKind::Update) => {
            let spec = desired.fly.as_ref().and_then(|f| f.apps.get(app));
            machines_actions(a, after, spec, live)
        }
        (Address::GithubProtection { .. }, ChangeKind::Create | ChangeKind::Update) => {
            vec![action("github.protection.put", a, json!({ "body": after }))]
        }
        (Address::GithubProtection { .. }, ChangeKind::Delete) => {
            vec![action("github.protection.delete", a, json!({}))]
        }
        (Address::GithubSecret { name, .. }, ChangeKind::Create | ChangeKind::Update) => {
            vec![action("github.secret.put", a, json!({ "name": name }))]
        }
        (Address::GithubEnvironment { .. }, ChangeKind::Create | ChangeKind::Update) => {
            vec![action(
                "github.environment.put",
                a,
                json!({ "reviewers": after["reviewers"] }),
            )]
        }
        (Address::Provider { name }, ChangeKind::Create | ChangeKind::Update) => {
            // All that executing it reads, so apply acts on the signed plan alone: the
            // activation, and for the router the routes its validation is configured with.
            let mut params = json!({ "activation": after["activation"] });
            if let Some(routes) = desired.router.as_ref().filter(|_| name == "router") {
                params["routes"] = json!(routes);
            }
            vec![action("provider.activate", a, params)]
        }
        (Address::ContextDbExtension { name }, ChangeKind::Create) => vec![action(
            "context_db.extension.create",
            a,
            json!({ "name": name }),
        )],
        (Address::ContextDbSchema { name }, ChangeKind::Create) => vec![action(
            "context_db.schema.create",
            a,
            json!({ "name": name }),
        )],
        (Address::QdrantCollection { .. }, ChangeKind::Create) => {
            vec![action("qdrant.collection.create", a, after.clone())]
        }
        (Address::QdrantCollection { .. }, ChangeKind::Replace) => vec![
            action("qdrant.collection.delete", a, json!({})),
            action("qdrant.collection.create", a, after.clone()),
        ],
        (Address::RedisConfig { key }, ChangeKind::Create | ChangeKind::Update) => vec![action(
            "redis.config.set",
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
/// So a `fly.secrets.set` whose app has running machines and no machines action in the plan
/// (which would update them anyway, after the secrets) restarts them itself: its params say
/// `restart_machines` and carry the app's strategy and health check for that rollout.
fn restart_for_secrets(actions: &mut [Action], desired: &Desired, live: &LiveSnapshot) {
    let deployed: BTreeSet<String> = actions
        .iter()
        .filter(|a| a.kind.starts_with("fly.machines."))
        .filter_map(|a| fly_app(&a.address).map(str::to_string))
        .collect();
    for a in actions.iter_mut().filter(|a| a.kind == "fly.secrets.set") {
        let Some(app) = fly_app(&a.address).map(str::to_string) else {
            continue;
        };
        let running = live
            .get(&Address::FlyMachines { app: app.clone() })
            .and_then(|m| m.get("count"))
            .and_then(Value::as_u64)
            .is_some_and(|n| n > 0);
        let restart = running && !deployed.contains(&app);
        let spec = desired.fly.as_ref().and_then(|f| f.apps.get(&app));
        if let Value::Object(params) = &mut a.params {
            params.insert("restart_machines".into(), json!(restart));
            if restart {
                params.insert(
                    "strategy".into(),
                    json!(spec.and_then(|s| s.strategy).unwrap_or_default().as_str()),
                );
                if let Some(h) = spec.and_then(|s| s.health.as_ref()) {
                    params.insert(
                        "health".into(),
                        json!({ "path": h.path, "expect_status": h.expect_status }),
                    );
                }
            }
        }
    }
}

/// `fly.machines.update` (and `fly.health.check` when the app has a health check).
fn machines_actions(
    address: &Address,
    after: &Value,
    spec: Option<&FlyApp>,
    live: &LiveSnapshot,
) -> Vec<Action> {
    let mut params = serde_json::Map::new();
    for key in ["image", "count", "regions", "guest", "env"] {
        params.insert(key.into(), after.get(key).cloned().unwrap_or(Value::Null));
    }
    params.insert(
        "strategy".into(),
        json!(spec.and_then(|s| s.strategy).unwrap_or_default().as_str()),
    );
    params.insert(
        "previous_image".into(),
        live.get(address)
            .and_then(|m| m.get("image"))
            .cloned()
            .unwrap_or(Value::Null),
    );
    let mut out = vec![action(
        "fly.machines.update",
        address,
        Value::Object(params),
    )];
    if let Some(health) = spec.and_then(|s| s.health.as_ref()) {
        out.push(action(
            "fly.health.check",
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
    match find_cycle(&nodes, &edges) {
        Some(cycle) => Err(GraphError::Cycle { cycle }),
        None => Ok(()),
    }
}

/// A cycle in a directed graph, if any: the smallest node of the first strongly connected
/// component (in node order) that has a cycle, followed round back to itself, always taking
/// the smallest next node. Deterministic whatever the input order.
pub fn find_cycle(nodes: &[String], edges: &[(String, String)]) -> Option<Vec<String>> {
    let mut graph: DiGraph<String, ()> = DiGraph::new();
    let mut index: BTreeMap<&str, NodeIndex> = BTreeMap::new();
    for n in nodes {
        index
            .entry(n.as_str())
            .or_insert_with(|| graph.add_node(n.clone()));
    }
    for (a, b) in edges {
        graph.add_edge(index[a.as_str()], index[b.as_str()], ());
    }
    let mut cyclic: Vec<Vec<NodeIndex>> = petgraph::algo::tarjan_scc(&graph)
        .into_iter()
        .filter(|scc| scc.len() > 1 || graph.contains_edge(scc[0], scc[0]))
        .collect();
    for scc in &mut cyclic {
        scc.sort_by(|a, b| graph[*a].cmp(&graph[*b]));
    }
    cyclic.sort_by(|a, b| graph[a[0]].cmp(&graph[b[0]]));
    let scc = cyclic.first()?;
    let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
    let start = scc[0];
    // Depth-first search inside the component for a path back to `start`.
    let mut path = vec![start];
    let mut visited = BTreeSet::from([start]);
    fn dfs(
        graph: &DiGraph<String, ()>,
        members: &BTreeSet<NodeIndex>,
        start: NodeIndex,
        path: &mut Vec<NodeIndex>,
        visited: &mut BTreeSet<NodeIndex>,
    ) -> bool {
        let cur = *path.last().expect("path starts non-empty");
        let mut next: Vec<NodeIndex> = graph
            .neighbors(cur)
            .filter(|n| members.contains(n))
            .collect();
        next.sort_by(|a, b| graph[*a].cmp(&graph[*b]));
        next.dedup();
        for n in next {
            if n == start {
                path.push(n);
                return true;
            }
            if visited.insert(n) {
                path.push(n);
                if dfs(graph, members, start, path, visited) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    dfs(&graph, &members, start, &mut path, &mut visited)
        .then(|| path.into_iter().map(|i| graph[i].clone()).collect())
}

/// Edges from `depends_on`: app B's `fly.machines.update` waits for the last action of
/// every app it depends on, directly or not (its health check when present, else its
/// machines update, secrets, creation). Apps without actions in the plan add no edge.
pub fn dependency_edges(desired: &Desired, actions: &[Action]) -> Vec<(ActionId, ActionId)> {
    let Some(fly) = &desired.fly else {
        return Vec::new();
    };
    // Rank of the kinds in an app's chain: the last present one is what dependents wait for.
    const CHAIN: [&str; 4] = [
        "fly.app.create",
        "fly.secrets.set",
        "fly.machines.update",
        "fly.health.check",
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
        if a.kind == "fly.machines.update" {
            machines.insert(app, &a.id);
        }
    }
    let mut edges = Vec::new();
    for (app, update) in machines {
        // Transitive closure of `depends_on` (the app graph was checked acyclic).
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&str> = fly
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
            if let Some(d) = fly.apps.get(dep) {
                stack.extend(d.depends_on.iter().map(String::as_str));
            }
        }
    }
    edges
}

/// Build the ordered action list of a set of changes.
pub fn build(
    changes: &[Change],
    desired: &Desired,
    live: &LiveSnapshot,
) -> Result<Vec<Action>, GraphError> {
    check_app_dependencies(desired)?;
    let mut actions = Vec::new();
    for change in changes {
        actions.extend(actions_for(change, desired, live)?);
    }
    restart_for_secrets(&mut actions, desired, live);
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
            .filter(|a| a.kind == "provider.activate")
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
    edges.extend(dependency_edges(desired, &actions));
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
    transitive_reduction(&mut deps);
    for a in &mut actions {
        if let Some(d) = deps.remove(&a.id) {
            a.depends_on = d;
        }
    }
    order(actions)
}

/// Drop every dependency that another dependency already implies (`a` after `b` after `c`
/// makes `a` after `c` redundant). Cycles are left for [`order`] to report.
pub fn transitive_reduction(deps: &mut BTreeMap<ActionId, Vec<ActionId>>) {
    let ids: Vec<ActionId> = deps.keys().cloned().collect();
    for id in ids {
        let direct = deps[&id].clone();
        if direct.len() < 2 {
            continue;
        }
        // Everything reachable from the direct dependencies, one step removed.
        let mut reached: BTreeSet<&ActionId> = BTreeSet::new();
        let mut stack: Vec<&ActionId> = direct
            .iter()
            .flat_map(|d| deps.get(d).into_iter().flatten())
            .collect();
        while let Some(n) = stack.pop() {
            if n != &id && reached.insert(n) {
                stack.extend(deps.get(n).into_iter().flatten());
            }
        }
        let kept: Vec<ActionId> = direct
            .into_iter()
            .filter(|d| !reached.contains(d))
            .collect();
        deps.insert(id, kept);
    }
}

/// A deterministic topological order (Kahn's algorithm, ties broken by id), or the cycle.
pub fn order(actions: Vec<Action>) -> Result<Vec<Action>, GraphError> {
    let mut graph: DiGraph<usize, ()> = DiGraph::with_capacity(actions.len(), actions.len());
    let nodes: Vec<NodeIndex> = (0..actions.len()).map(|i| graph.add_node(i)).collect();
    let index: BTreeMap<&ActionId, usize> = actions
        .iter()
        .enumerate()
        .map(|(i, a)| (&a.id, i))
        .collect();
    for (i, a) in actions.iter().enumerate() {
        for d in &a.depends_on {
            // A dependency outside the set (filtered by `--target`) is not waited for.
            if let Some(&j) = index.get(d) {
                graph.add_edge(nodes[j], nodes[i], ());
            }
        }
    }
    if petgraph::algo::is_cyclic_directed(&graph) {
        let names: Vec<String> = actions.iter().map(|a| a.id.0.clone()).collect();
        let edges: Vec<(String, String)> = graph
            .edge_indices()
            .filter_map(|e| graph.edge_endpoints(e))
            .map(|(a, b)| (names[graph[a]].clone(), names[graph[b]].clone()))
            .collect();
        let cycle = find_cycle(&names, &edges).unwrap_or(names);
        return Err(GraphError::Cycle { cycle });
    }
    let mut indegree: Vec<usize> = nodes
        .iter()
        .map(|n| {
            graph
                .neighbors_directed(*n, petgraph::Direction::Incoming)
                .count()
        })
        .collect();
    let mut ready: BinaryHeap<Reverse<(&ActionId, usize)>> = actions
        .iter()
        .enumerate()
        .filter(|(i, _)| indegree[*i] == 0)
        .map(|(i, a)| Reverse((&a.id, i)))
        .collect();
    let mut sequence = Vec::with_capacity(actions.len());
    while let Some(Reverse((_, i))) = ready.pop() {
        sequence.push(i);
        for n in graph.neighbors_directed(nodes[i], petgraph::Direction::Outgoing) {
            let j = graph[n];
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(Reverse((&actions[j].id, j)));
            }
        }
    }
    drop(ready);
    let mut slots: Vec<Option<Action>> = actions.into_iter().map(Some).collect();
    Ok(sequence
        .into_iter()
        .map(|i| slots[i].take().expect("each action once"))
        .collect())
}

/// `--target`: the actions under any target plus everything they depend on, transitively,
/// in the given (already topological) order.
pub fn select(actions: &[Action], targets: &[String]) -> Vec<Action> {
    let by_id: BTreeMap<&ActionId, &Action> = actions.iter().map(|a| (&a.id, a)).collect();
    let mut keep: BTreeSet<&ActionId> = BTreeSet::new();
    let mut stack: Vec<&ActionId> = actions
        .iter()
        .filter(|a| targets.iter().any(|t| a.address.is_under(t)))
        .map(|a| &a.id)
        .collect();
    while let Some(id) = stack.pop() {
        if keep.insert(id) {
            if let Some(a) = by_id.get(id) {
                stack.extend(a.depends_on.iter());
            }
        }
    }
    actions
        .iter()
        .filter(|a| keep.contains(&a.id))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_is_named_from_its_smallest_node() {
        let nodes: Vec<String> = ["c", "b", "a"].iter().map(|s| s.to_string()).collect();
        let edges = vec![
            ("b".to_string(), "a".to_string()),
            ("a".to_string(), "b".to_string()),
            ("c".to_string(), "a".to_string()),
        ];
        assert_eq!(
            find_cycle(&nodes, &edges),
            Some(vec!["a".to_string(), "b".to_string(), "a".to_string()])
        );
        assert_eq!(find_cycle(&nodes, &edges[2..]), None);
        assert_eq!(
            find_cycle(&nodes, &[("c".to_string(), "c".to_string())]),
            Some(vec!["c".to_string(), "c".to_string()])
        );
    }

    #[test]
    fn every_rule_names_known_kinds() {
        const KINDS: [&str; 15] = [
            "fly.app.create",
            "fly.secrets.set",
            "fly.machines.update",
            "fly.health.check",
            "github.protection.put",
            "github.protection.delete",
            "github.secret.put",
            "github.environment.put",
            "provider.activate",
            "context_db.extension.create",
            "context_db.schema.create",
            "qdrant.collection.create",
            "qdrant.collection.delete",
            "redis.config.set",
            "*",
        ];
        for (a, b, _) in ORDER_RULES {
            assert!(KINDS.contains(a) && KINDS.contains(b), "{a} / {b}");
        }
    }
}
