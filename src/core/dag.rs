//! Deterministic algorithms on the action DAG, with no knowledge of what the actions do:
//! naming a cycle, dropping implied dependencies, the topological order and the `--target`
//! selection. [`crate::core::graph`] decides which actions exist and how they are ordered;
//! this module only follows the edges. Ties are always broken by name or id, so the same
//! input gives the same plan.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use petgraph::graph::{DiGraph, NodeIndex};

use crate::core::plan::types::{Action, ActionId};

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

/// A deterministic topological order (Kahn's algorithm, ties broken by id), or the cycle
/// (as [`find_cycle`] names it).
pub fn order(actions: Vec<Action>) -> Result<Vec<Action>, Vec<String>> {
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
        return Err(find_cycle(&names, &edges).unwrap_or(names));
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
}
