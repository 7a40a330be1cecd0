//! Renderings of a plan: [`text`] (the terminal, Terraform-like), [`markdown`] (the PR
//! comment) and [`json`] (the plan file). Pure: colour is an argument, decided by the shell
//! (`NO_COLOR`, terminal or not).
//!
//! Both human renderings describe each change with the same attribute lines
//! ([`attr_lines`]): `+ path = value`, `- path = value`, `~ path = before → after`, and for
//! long values (images, env maps, multi-line strings) a line diff made with `similar`.

pub mod cost;
pub mod html;
pub mod json;
pub mod markdown;
pub mod picture;
pub mod text;
pub mod verdicts;

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use crate::core::diff::replace_reason;
use crate::core::plan::destructive::change_reasons;
use crate::core::plan::{Change, ChangeKind, Facts, Plan};

/// A value is shown as a line diff rather than `before → after` once it is longer than
/// this: past ~40 characters two values no longer fit side by side on an 80-column line.
const LONG_VALUE_CHARS: usize = 40;

/// The mark in front of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Add,
    Remove,
    Change,
    /// Unchanged context inside a line diff.
    Same,
    /// A comment (`# forces replacement`).
    Note,
}

impl Mark {
    pub fn symbol(self) -> &'static str {
        match self {
            Mark::Add => "+",
            Mark::Remove => "-",
            Mark::Change => "~",
            Mark::Same => " ",
            Mark::Note => "#",
        }
    }
}

/// One attribute line: its mark, its nesting depth (0 for an attribute, 1 inside a line
/// diff) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub mark: Mark,
    pub depth: usize,
    pub text: String,
}

/// The symbol of a change kind: `+`, `~`, `-`, `-/+`.
pub fn change_symbol(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Create => "+",
        ChangeKind::Update => "~",
        ChangeKind::Delete => "-",
        ChangeKind::Replace => "-/+",
        ChangeKind::NoOp => " ",
    }
}

/// What a change does, in words.
pub fn change_words(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Create => "will be created",
        ChangeKind::Update => "will be updated in place",
        ChangeKind::Delete => "will be deleted",
        ChangeKind::Replace => "must be replaced",
        ChangeKind::NoOp => "is unchanged",
    }
}

/// A short value: compact JSON, `(none)` for null.
pub fn short(v: &Value) -> String {
    match v {
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    }
}

/// Whether a value reads better as a line diff.
fn is_long(v: &Value) -> bool {
    match v {
        Value::String(s) => s.chars().count() > LONG_VALUE_CHARS || s.contains('\n'),
        Value::Object(m) => !m.is_empty(),
        Value::Array(items) => {
            items.iter().map(|i| i.to_string().len()).sum::<usize>() > LONG_VALUE_CHARS
        }
        _ => false,
    }
}

/// A value as lines for a line diff: a string's lines, a map's `KEY = value` lines, a
/// list's items.
fn value_lines(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Null => {}
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Object(m) => {
            // Sorted: a live object may list its keys in any order.
            let sorted: std::collections::BTreeMap<_, _> = m.iter().collect();
            for (k, v) in sorted {
                out.push_str(&format!("{k} = {v}\n"));
            }
        }
        Value::Array(items) => {
            for i in items {
                out.push_str(&format!("{i}\n"));
            }
        }
        other => {
            out.push_str(&other.to_string());
            out.push('\n');
        }
    }
    out
}

/// The attribute lines of one change.
pub fn attr_lines(change: &Change) -> Vec<Line> {
    let mut lines = Vec::new();
    let line = |mark, depth, text: String| Line { mark, depth, text };
    for d in &change.diff {
        let multi_line = |v: &Value| {
            v.as_object().is_some_and(|m| !m.is_empty())
                || v.as_str().is_some_and(|s| s.contains('\n'))
        };
        // A created or deleted value is listed line by line only when it has lines (an env
        // map, a multi-line string); an update diffs any long value.
        let line_diff = match change.action {
            ChangeKind::Create => multi_line(&d.after),
            ChangeKind::Delete => multi_line(&d.before),
            _ => is_long(&d.before) || is_long(&d.after),
        };
        if line_diff {
            let head = match change.action {
                ChangeKind::Create => Mark::Add,
                ChangeKind::Delete => Mark::Remove,
                _ => Mark::Change,
            };
            lines.push(line(head, 0, format!("{}:", d.path)));
            let old = value_lines(&d.before);
            let new = value_lines(&d.after);
            let diff = TextDiff::from_lines(&old, &new);
            for c in diff.iter_all_changes() {
                let mark = match c.tag() {
                    ChangeTag::Delete => Mark::Remove,
                    ChangeTag::Insert => Mark::Add,
                    ChangeTag::Equal => Mark::Same,
                };
                lines.push(line(mark, 1, c.value().trim_end_matches('\n').to_string()));
            }
        } else {
            match change.action {
                ChangeKind::Create => lines.push(line(
                    Mark::Add,
                    0,
                    format!("{} = {}", d.path, short(&d.after)),
                )),
                ChangeKind::Delete => lines.push(line(
                    Mark::Remove,
                    0,
                    format!("{} = {}", d.path, short(&d.before)),
                )),
                _ => lines.push(line(
                    Mark::Change,
                    0,
                    format!("{} = {} → {}", d.path, short(&d.before), short(&d.after)),
                )),
            }
        }
        if let Some(reason) = replace_reason(&change.address, &d.path) {
            lines.push(line(Mark::Note, 0, format!("forces replacement: {reason}")));
        }
    }
    lines
}

/// Why an update is destructive (`destructive: allows force pushes`), when it is. A
/// delete or replace already says so in its words and symbol.
pub fn destructive_note(change: &Change) -> Option<String> {
    if change.action != ChangeKind::Update {
        return None;
    }
    let reasons = change_reasons(change);
    (!reasons.is_empty()).then(|| format!("destructive: {}", reasons.join("; ")))
}

/// `security-relevant: …` for a change of who may bypass a ruleset (`bypass_actors`), in
/// every rendering; the plan file's action carries the same paths as `security_relevant`.
pub fn security_note(change: &Change) -> Option<String> {
    let paths: Vec<&str> = change
        .diff
        .iter()
        .map(|d| d.path.as_str())
        .filter(|p| crate::core::github_ruleset::is_security_relevant(p))
        .collect();
    let ruleset = matches!(
        change.address,
        crate::core::address::Address::GithubRepoRuleset { .. }
            | crate::core::address::Address::GithubOrgRuleset { .. }
    );
    (ruleset && !paths.is_empty()).then(|| {
        format!(
            "security-relevant: changes who may bypass this ruleset ({})",
            paths.join(", ")
        )
    })
}

/// What a delete takes with it, in every rendering: a Fly app's machines, volumes and IP
/// addresses (from its `fly.app.delete` action); an app's part goes with its app.
pub fn retire_note(plan: &Plan, change: &Change) -> Option<String> {
    use crate::core::address::Address;
    if change.action != ChangeKind::Delete {
        return None;
    }
    if let Address::FlyApp { app } = &change.address {
        let a = plan
            .actions
            .iter()
            .find(|a| a.address == change.address && a.kind.as_str() == "fly.app.delete")?;
        let n = |k: &str| a.params.get(k).and_then(Value::as_u64).unwrap_or(0);
        return Some(format!(
            "deletes app `{app}` with {} machine(s), {} volume(s) and {} IP address(es)",
            n("machines"),
            n("volumes"),
            n("ips")
        ));
    }
    let app = crate::core::plan::facts::fly_app(&change.address)?;
    crate::core::lifecycle::delete::app_deleted(&change.address, &plan.changes)
        .then(|| format!("goes with app `{app}`"))
}

/// The heading of the protection section of the renderings.
pub const PROTECT_HEADING: &str =
    "Deletion protection the apply records (kept after removal from desired/):";

/// One line per `protect` flag the plan changes: `` `fly.app.x`: protected ``, and per
/// protected name: `` `fly.app.x.secrets` `secret.K`: protected ``.
pub fn protect_lines(plan: &Plan) -> Vec<String> {
    let word = |p: bool| if p { "protected" } else { "unprotected" };
    plan.protect
        .iter()
        .map(|(a, p)| format!("`{a}`: {}", word(*p)))
        .chain(plan.protect_names.iter().flat_map(|(a, names)| {
            names
                .iter()
                .map(move |(n, p)| format!("`{a}` `{n}`: {}", word(*p)))
        }))
        .collect()
}

/// The heading of the unmanaged section of the renderings.
pub fn unmanaged_heading(plan: &Plan) -> String {
    format!(
        "Unmanaged: {} live resource(s) in managed scopes that desired/ does not name and \
         sophia never managed (never changed; import them, or list them in .infra/ignore):",
        plan.unmanaged.len()
    )
}

/// One line per unmanaged resource: its address and the command that imports it.
pub fn unmanaged_lines(plan: &Plan) -> Vec<(String, String)> {
    plan.unmanaged
        .iter()
        .map(|a| (a.to_string(), crate::core::lifecycle::import_command(a)))
        .collect()
}

/// The heading of the settings section of the renderings.
pub const SETTINGS_HEADING: &str =
    "Settings the actions also run with (from desired/, not diffed above):";

/// What the actions take beyond the changes ([`Facts`]), one line each: the approver reads
/// every input of every action, and `verify`/`apply` refuse actions that differ from what
/// the changes and these lines derive.
pub fn settings_lines(plan: &Plan) -> Vec<String> {
    match Facts::of_actions(&plan.actions) {
        Ok(facts) => facts.lines(),
        Err(e) => vec![format!("the actions' settings cannot be read: {e}")],
    }
}

/// The provider a change belongs to, for grouping (`provider.<p>` belongs to `p`).
pub fn provider_of(change: &Change) -> &str {
    change.address.provider()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::address::Address;
    use crate::core::plan::AttrDiff;
    use serde_json::json;

    #[test]
    fn long_values_get_a_line_diff() {
        let change = Change {
            address: Address::parse("fly.app.a.machines").unwrap(),
            action: ChangeKind::Update,
            before: json!({}),
            after: json!({}),
            diff: vec![AttrDiff {
                path: "env".into(),
                before: json!({"A": "1", "B": "2"}),
                after: json!({"A": "1", "B": "3"}),
            }],
        };
        let lines: Vec<String> = attr_lines(&change)
            .into_iter()
            .map(|l| format!("{}{}", l.mark.symbol(), l.text))
            .collect();
        assert_eq!(lines, ["~env:", " A = \"1\"", "-B = \"2\"", "+B = \"3\""]);
    }
}
