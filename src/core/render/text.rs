//! The terminal rendering, Terraform-like:
//!
//! ```text
//!   # fly.app.x.machines will be updated in place
//!   ~ fly.app.x.machines
//!       ~ count = 1 → 2
//!
//! Plan: 0 to create, 1 to update, 0 to delete, 0 to replace.
//! ```
//!
//! Colour (ANSI) only when `color` is true; the text reads the same without it.

use std::fmt::Write as _;

use crate::core::plan::{ChangeKind, Plan};
use crate::core::render::{
    Line, Mark, PROTECT_HEADING, SETTINGS_HEADING, attr_lines, change_symbol, change_words, cost,
    destructive_note, protect_lines, retire_note, security_note, settings_lines, unmanaged_heading,
    unmanaged_lines, verdicts,
};

const GREEN: &str = "32";
const RED: &str = "31";
const YELLOW: &str = "33";
const MAGENTA: &str = "35";
const DIM: &str = "2";
const BOLD: &str = "1";

fn paint(color: bool, code: &str, s: &str) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn kind_color(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Create => GREEN,
        ChangeKind::Update => YELLOW,
        ChangeKind::Delete => RED,
        ChangeKind::Replace => MAGENTA,
        ChangeKind::NoOp => DIM,
    }
}

fn mark_color(mark: Mark) -> &'static str {
    match mark {
        Mark::Add => GREEN,
        Mark::Remove => RED,
        Mark::Change => YELLOW,
        Mark::Same | Mark::Note => DIM,
    }
}

/// One attribute line, indented under its resource.
fn attr_line(color: bool, l: &Line) -> String {
    let indent = "      ".to_string() + &"    ".repeat(l.depth);
    let body = format!("{} {}", l.mark.symbol(), l.text);
    format!("{indent}{}", paint(color, mark_color(l.mark), &body))
}

/// Render a plan for the terminal.
pub fn render(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}",
        paint(color, BOLD, "sophia plan"),
        paint(color, DIM, &plan.digest)
    );
    let _ = writeln!(
        out,
        "created {}, valid until {}; desired state {}",
        plan.created_at, plan.not_after, plan.desired.digest
    );
    if !plan.targets.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            paint(
                color,
                YELLOW,
                &format!(
                    "Targeted plan: only changes under {} and what they depend on; other changes are left out.",
                    plan.targets
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            )
        );
    }
    out.push('\n');
    if plan.changes.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            paint(
                color,
                GREEN,
                "No changes. Live state matches the desired state."
            )
        );
        out.push('\n');
    } else {
        let _ = writeln!(out, "sophia will perform the following changes:");
        out.push('\n');
        for change in &plan.changes {
            let _ = writeln!(
                out,
                "  {}",
                paint(
                    color,
                    DIM,
                    &format!("# {} {}", change.address, change_words(change.action))
                )
            );
            if let Some(note) = retire_note(plan, change) {
                let _ = writeln!(out, "  {}", paint(color, RED, &format!("# {note}")));
            }
            if let Some(note) = destructive_note(change) {
                let _ = writeln!(out, "  {}", paint(color, RED, &format!("# {note}")));
            }
            if let Some(note) = security_note(change) {
                let _ = writeln!(out, "  {}", paint(color, RED, &format!("# {note}")));
            }
            let _ = writeln!(
                out,
                "  {} {}",
                paint(
                    color,
                    kind_color(change.action),
                    change_symbol(change.action)
                ),
                paint(color, BOLD, &change.address.to_string())
            );
            for l in attr_lines(change) {
                let _ = writeln!(out, "{}", attr_line(color, &l));
            }
            out.push('\n');
        }
        let settings = settings_lines(plan);
        if !settings.is_empty() {
            let _ = writeln!(out, "{SETTINGS_HEADING}");
            for l in settings {
                let _ = writeln!(out, "  {l}");
            }
            out.push('\n');
        }
        let _ = writeln!(out, "Actions, in order:");
        let width = plan.actions.len().to_string().len();
        for (i, a) in plan.actions.iter().enumerate() {
            let after = if a.depends_on.is_empty() {
                String::new()
            } else {
                paint(
                    color,
                    DIM,
                    &format!(
                        "  (after {})",
                        a.depends_on
                            .iter()
                            .map(|d| d.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            };
            let _ = writeln!(out, "  {:>width$}. {}{after}", i + 1, a.id);
        }
        out.push('\n');
    }
    if let Some(cost) = &plan.cost {
        let _ = writeln!(out, "{}", paint(color, BOLD, &cost::headline(cost)));
        for (app, c) in &cost.apps {
            let _ = writeln!(out, "  {}", cost::app_line(app, c));
        }
        for w in &cost.warnings {
            let _ = writeln!(out, "  {}", paint(color, YELLOW, &format!("warning: {w}")));
        }
        out.push('\n');
    }
    let protection = protect_lines(plan);
    if !protection.is_empty() {
        let _ = writeln!(out, "{PROTECT_HEADING}");
        for l in protection {
            let _ = writeln!(out, "  {l}");
        }
        out.push('\n');
    }
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(out, "{}", paint(color, YELLOW, &unmanaged_heading(plan)));
        for (address, import) in unmanaged_lines(plan) {
            let _ = writeln!(out, "  ? {address}  (import: `{import}`)");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", paint(color, BOLD, &plan.summary.sentence()));
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(out, "{} unmanaged resource(s).", plan.unmanaged.len());
    }
    let verdicts = verdicts::text_lines(plan);
    if !verdicts.is_empty() {
        let clean = plan.policy_warnings().is_empty();
        for l in verdicts {
            let _ = writeln!(
                out,
                "{}",
                paint(color, if clean { GREEN } else { YELLOW }, &l)
            );
        }
    }
    out
}
