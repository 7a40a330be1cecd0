//! The plan as a picture: [`resources`] (the changed resources and their dependencies, for
//! the PR comment) and [`actions`] (the action DAG, for `sophia graph`), drawn as a Mermaid
//! flowchart ([`mermaid`]) or Graphviz DOT ([`dot`], petgraph's `Dot`).
//!
//! Each node is coloured by what happens to its resource and says it in words too (`+`,
//! `~`, `-`, `-/+` before the name), so the picture reads without colour. A Mermaid
//! flowchart stays inside Mermaid's own limits ([`MERMAID_MAX_EDGES`],
//! [`MERMAID_MAX_TEXT`]): nodes past the limit are counted in one `… and N more` node.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use petgraph::dot::{Config, Dot};
use petgraph::graph::DiGraph;

use crate::core::address::Address;
use crate::core::plan::{ChangeKind, Plan};
use crate::core::render::change_symbol;

/// Mermaid's default `maxEdges`: a flowchart with more edges is refused by its parser.
pub const MERMAID_MAX_EDGES: usize = 500;

/// Mermaid's default `maxTextSize`: a longer diagram is not drawn.
pub const MERMAID_MAX_TEXT: usize = 50_000;

/// One node: its label and what happens to it (`None`: an action on a resource the plan
/// does not change, e.g. a provider's activation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub label: String,
    pub kind: Option<ChangeKind>,
}

/// Nodes and edges (`from` finishes before `to` starts), both in a deterministic order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Picture {
    pub nodes: Vec<Node>,
    pub edges: Vec<(usize, usize)>,
}

/// The changed resources (in the plan's order) and the dependencies between them, taken
/// from the actions' `depends_on`.
pub fn resources(plan: &Plan) -> Picture {
    let kinds = change_kinds(plan);
    let mut index: BTreeMap<&Address, usize> = BTreeMap::new();
    let mut nodes = Vec::new();
    let addresses = plan
        .changes
        .iter()
        .map(|c| &c.address)
        .chain(plan.actions.iter().map(|a| &a.address));
    for address in addresses {
        index.entry(address).or_insert_with(|| {
            nodes.push(Node {
                label: address.to_string(),
                kind: kinds.get(address).copied(),
            });
            nodes.len() - 1
        });
    }
    let address_of: BTreeMap<_, _> = plan.actions.iter().map(|a| (&a.id, &a.address)).collect();
    let mut edges = BTreeSet::new();
    for a in &plan.actions {
        for d in &a.depends_on {
            if let Some(from) = address_of.get(d)
                && *from != &a.address
            {
                edges.insert((index[from], index[&a.address]));
            }
        }
    }
    Picture {
        nodes,
        edges: edges.into_iter().collect(),
    }
}

/// The action DAG: one node per action (in the plan's order), an edge per `depends_on`.
pub fn actions(plan: &Plan) -> Picture {
    let kinds = change_kinds(plan);
    let index: BTreeMap<_, _> = plan
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| (&a.id, i))
        .collect();
    let nodes = plan
        .actions
        .iter()
        .map(|a| Node {
            label: a.id.to_string(),
            kind: kinds.get(&a.address).copied(),
        })
        .collect();
    let mut edges = BTreeSet::new();
    for (i, a) in plan.actions.iter().enumerate() {
        for d in &a.depends_on {
            if let Some(&from) = index.get(d) {
                edges.insert((from, i));
            }
        }
    }
    Picture {
        nodes,
        edges: edges.into_iter().collect(),
    }
}

fn change_kinds(plan: &Plan) -> BTreeMap<&Address, ChangeKind> {
    plan.changes
        .iter()
        .map(|c| (&c.address, c.action))
        .collect()
}

/// The class (Mermaid) of a node: its change kind.
fn class(kind: Option<ChangeKind>) -> &'static str {
    match kind {
        Some(ChangeKind::Create) => "create",
        Some(ChangeKind::Update) => "update",
        Some(ChangeKind::Delete) => "delete",
        Some(ChangeKind::Replace) => "replace",
        Some(ChangeKind::NoOp) | None => "other",
    }
}

/// Fill and border colour of each class: GitHub's diff colours, dark text on light fills.
const COLOURS: [(&str, &str, &str); 5] = [
    ("create", "#dafbe1", "#1a7f37"),
    ("update", "#fff8c5", "#9a6700"),
    ("delete", "#ffebe9", "#cf222e"),
    ("replace", "#fbefff", "#8250df"),
    ("other", "#f6f8fa", "#57606a"),
];

/// The label a node shows: the change's symbol, then the name.
fn shown(node: &Node) -> String {
    match node.kind {
        Some(k) if k != ChangeKind::NoOp => format!("{} {}", change_symbol(k), node.label),
        _ => node.label.clone(),
    }
}

/// A label inside Mermaid's `["…"]`: quotes, `#`, angle brackets and backticks as
/// Mermaid's entity codes, so no name can end the string or start markup.
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A Mermaid flowchart (left to right) of `picture`, at most [`MERMAID_MAX_EDGES`] edges and
/// [`MERMAID_MAX_TEXT`] characters: nodes are taken in order while they fit, an edge only
/// between two nodes taken, and the rest counted in a last node.
pub fn mermaid(picture: &Picture) -> String {
    let mut head = String::from("flowchart LR\n");
    for (name, fill, stroke) in COLOURS {
        let _ = writeln!(
            head,
            "  classDef {name} fill:{fill},stroke:{stroke},color:#24292f"
        );
    }
    // Room kept for the `… and N more` node and the edge lines of the nodes taken.
    const MORE_LINE: usize = 80;
    let budget = MERMAID_MAX_TEXT - MORE_LINE;
    let mut out = head;
    let mut taken = 0;
    let mut edge_lines = String::new();
    let mut edges = 0;
    // Edges by their later node, so each node brings the edges to it from nodes taken.
    let mut into: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
    for &(from, to) in &picture.edges {
        into.entry(from.max(to)).or_default().push((from, to));
    }
    for (i, node) in picture.nodes.iter().enumerate() {
        let line = format!(
            "  n{i}[\"{}\"]:::{}\n",
            mermaid_text(&shown(node)),
            class(node.kind)
        );
        let mut new_edges = String::new();
        let mut count = 0;
        for &(from, to) in into.get(&i).into_iter().flatten() {
            let _ = writeln!(new_edges, "  n{from} --> n{to}");
            count += 1;
        }
        let size = out.len() + edge_lines.len() + line.len() + new_edges.len();
        if size > budget || edges + count > MERMAID_MAX_EDGES {
            break;
        }
        out.push_str(&line);
        edge_lines.push_str(&new_edges);
        edges += count;
        taken += 1;
    }
    if taken < picture.nodes.len() {
        let _ = writeln!(
            out,
            "  more[\"… and {} more (sophia graph draws them all)\"]:::other",
            picture.nodes.len() - taken
        );
    }
    out.push_str(&edge_lines);
    out
}

/// Graphviz DOT of `picture` (petgraph's `Dot`), nodes filled by their class.
pub fn dot(picture: &Picture) -> String {
    let mut graph: DiGraph<&Node, ()> = DiGraph::new();
    let ids: Vec<_> = picture.nodes.iter().map(|n| graph.add_node(n)).collect();
    for &(from, to) in &picture.edges {
        graph.add_edge(ids[from], ids[to], ());
    }
    let node_attrs = |_, (_, node): (_, &&Node)| {
        let (_, fill, stroke) = COLOURS
            .iter()
            .find(|(name, _, _)| *name == class(node.kind))
            .copied()
            .unwrap_or(COLOURS[4]);
        format!(
            "label = \"{}\" shape = box style = filled fillcolor = \"{fill}\" color = \"{stroke}\"",
            dot_text(&shown(node))
        )
    };
    let dot = Dot::with_attr_getters(
        &graph,
        &[Config::EdgeNoLabel, Config::NodeNoLabel],
        &|_, _| String::new(),
        &node_attrs,
    );
    format!("{dot:?}")
}

/// A DOT string's content: backslashes and quotes escaped, no line breaks.
fn dot_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(label: &str, kind: Option<ChangeKind>) -> Node {
        Node {
            label: label.into(),
            kind,
        }
    }

    #[test]
    fn mermaid_labels_cannot_break_out() {
        let p = Picture {
            nodes: vec![
                node("a\"]; click n0 \"x", Some(ChangeKind::Create)),
                node("b#<i>`", None),
            ],
            edges: vec![(0, 1)],
        };
        let m = mermaid(&p);
        assert!(
            m.contains("n0[\"+ a#quot;]; click n0 #quot;x\"]:::create"),
            "{m}"
        );
        assert!(m.contains("n1[\"b#35;#lt;i#gt;#96;\"]:::other"), "{m}");
        assert!(m.ends_with("  n0 --> n1\n"), "{m}");
    }

    #[test]
    fn mermaid_keeps_to_the_edge_limit() {
        let nodes = (0..2000)
            .map(|i| node(&format!("r{i}"), Some(ChangeKind::Update)))
            .collect();
        let edges = (1..2000).map(|i| (i - 1, i)).collect();
        let m = mermaid(&Picture { nodes, edges });
        assert_eq!(m.matches("-->").count(), MERMAID_MAX_EDGES);
        assert!(m.contains("… and 1499 more"), "{m}");
        assert!(m.len() <= MERMAID_MAX_TEXT);
    }

    #[test]
    fn dot_escapes_and_colours() {
        let p = Picture {
            nodes: vec![node("a\"b", Some(ChangeKind::Delete)), node("c", None)],
            edges: vec![(0, 1)],
        };
        let d = dot(&p);
        assert!(d.starts_with("digraph {"), "{d}");
        assert!(d.contains("label = \"- a\\\"b\""), "{d}");
        assert!(d.contains("fillcolor = \"#ffebe9\""), "{d}");
        assert!(d.contains("0 -> 1"), "{d}");
    }
}
