//! The PR comment: a summary table, a Mermaid picture of the changes, one collapsible
//! `<details>` section per provider, the digest and the exact commands to sign.
//!
//! GitHub refuses a comment longer than [`MAX_COMMENT_CHARS`]. When the full comment would
//! be longer, the picture is dropped first, then per-resource detail is cut (each provider
//! lists its addresses only),
//! then the per-provider lists themselves (`… and N more`); the comment says so. The
//! summary, the digest and the signing commands always stay.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::core::plan::{Change, Plan, PlanSummary};
use crate::core::render::{
    PROTECT_HEADING, SETTINGS_HEADING, attr_lines, change_symbol, cost, destructive_note, picture,
    protect_lines, retire_note, security_note, settings_lines, unmanaged_heading, unmanaged_lines,
    verdicts,
};

/// Unmanaged resources listed in the comment: enough for a real organization's strays
/// (about 60 characters a line, so at most ~12 KB of the 65,536), the rest in the plan file.
const MAX_UNMANAGED_LISTED: usize = 200;

/// GitHub's limit on an issue or PR comment body: longer bodies are refused with 422
/// ("body is too long (maximum is 65536 characters)").
pub const MAX_COMMENT_CHARS: usize = 65_536;

/// Apps named in the comment's cost table; the rest are counted (the plan file has all).
const MAX_COST_APPS_LISTED: usize = 20;

/// `--target` addresses named in the comment; the rest are counted.
const MAX_TARGETS_LISTED: usize = 20;

/// The SSH signature namespace of plans (DESIGN.md, "Approval").
const SIGNING_NAMESPACE: &str = "sophia-plan@v1";

/// How much of the per-resource detail a comment carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Every change with its attribute lines.
    Full,
    /// Every change's address, no attribute lines.
    Addresses,
    /// As many addresses as fit, then `… and N more`.
    Budgeted(usize),
}

/// Render the PR comment. `plan_file` is the plan's file name in the signing commands.
pub fn render(plan: &Plan, plan_file: &str) -> String {
    render_within(plan, plan_file, MAX_COMMENT_CHARS)
}

/// [`render`] in at most `max` characters, for a caller that adds its own lines to the
/// comment (`sophia comment` adds its marker and where to download the plan file).
pub fn render_within(plan: &Plan, plan_file: &str, max: usize) -> String {
    // The picture goes first when space is short: the tables say the same in words.
    let picture = Some(picture_section(plan)).filter(|_| !plan.changes.is_empty());
    if let Some(full) = render_with(plan, plan_file, Detail::Full, picture.as_deref(), None, max) {
        return full;
    }
    if let Some(full) = render_with(plan, plan_file, Detail::Full, None, None, max) {
        return full;
    }
    let note = "> [!NOTE]\n> This plan is too large for one GitHub comment (65,536 characters): \
                per-resource detail was cut. Run `sophia show "
        .to_string()
        + plan_file
        + "` for every attribute.\n\n";
    if let Some(addresses) = render_with(plan, plan_file, Detail::Addresses, None, Some(&note), max)
    {
        return addresses;
    }
    let note = "> [!NOTE]\n> This plan is too large for one GitHub comment (65,536 characters): \
                per-resource detail and part of the per-provider lists were cut. Run `sophia show "
        .to_string()
        + plan_file
        + "` for all of it.\n\n";
    // Everything but the lists: what the lists may use is the rest.
    let skeleton = render_with(plan, plan_file, Detail::Budgeted(0), None, Some(&note), max)
        .expect("a budgeted comment always renders");
    let budget = max.saturating_sub(skeleton.chars().count());
    render_with(
        plan,
        plan_file,
        Detail::Budgeted(budget),
        None,
        Some(&note),
        max,
    )
    .expect("a budgeted comment always renders")
}

fn provider_summary(changes: &[&Change]) -> PlanSummary {
    PlanSummary::of(&changes.iter().map(|c| (*c).clone()).collect::<Vec<_>>())
}

fn counts_words(s: &PlanSummary) -> String {
    let mut parts = Vec::new();
    for (n, word) in [
        (s.create, "to create"),
        (s.update, "to update"),
        (s.delete, "to delete"),
        (s.replace, "to replace"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    parts.join(", ")
}

/// A code fence longer than any run of backticks in `content`.
fn fence(content: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in content.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// The comment at one level of detail; `None` as soon as a `Full` or `Addresses` comment
/// passes [`MAX_COMMENT_CHARS`] (a `Budgeted` one always renders).
fn render_with(
    plan: &Plan,
    plan_file: &str,
    detail: Detail,
    picture: Option<&str>,
    note: Option<&str>,
    max: usize,
) -> Option<String> {
    let mut out = String::new();
    let _ = writeln!(out, "## sophia plan\n");
    let _ = writeln!(out, "**{}**\n", plan.summary.sentence());
    if !plan.targets.is_empty() {
        // The targets are listed, but never so many that they crowd out the summary and the
        // digest: the plan file holds them all.
        let mut listed = plan
            .targets
            .iter()
            .take(MAX_TARGETS_LISTED)
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ");
        if plan.targets.len() > MAX_TARGETS_LISTED {
            let _ = write!(
                listed,
                " and {} more (all in the plan file's `targets`)",
                plan.targets.len() - MAX_TARGETS_LISTED
            );
        }
        let _ = writeln!(
            out,
            "Targeted plan: only changes under {listed} and what they depend on.\n"
        );
    }
    if let Some(note) = note {
        out.push_str(note);
    }

    let mut by_provider: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
    for c in &plan.changes {
        by_provider.entry(c.address.provider()).or_default().push(c);
    }
    if !by_provider.is_empty() {
        let _ = writeln!(out, "| provider | create | update | delete | replace |");
        let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        for (p, changes) in &by_provider {
            let s = provider_summary(changes);
            let _ = writeln!(
                out,
                "| {p} | {} | {} | {} | {} |",
                s.create, s.update, s.delete, s.replace
            );
        }
        let s = &plan.summary;
        let _ = writeln!(
            out,
            "| **total** | **{}** | **{}** | **{}** | **{}** |\n",
            s.create, s.update, s.delete, s.replace
        );
    } else {
        let _ = writeln!(out, "No changes: live state matches the desired state.\n");
    }
    // The policy's verdicts stay whatever the budget: the approver decides with them.
    out.push_str(&verdicts::markdown(plan));
    if let Some(c) = &plan.cost {
        cost_section(&mut out, c);
    }
    let protection = protect_lines(plan);
    if !protection.is_empty() {
        let _ = writeln!(out, "{PROTECT_HEADING}\n");
        for l in &protection {
            let _ = writeln!(out, "- {l}");
        }
        out.push('\n');
    }
    if !plan.unmanaged.is_empty() {
        // Addresses only: a few hundred strays must not crowd out the changes.
        let _ = writeln!(
            out,
            "<details><summary><b>unmanaged</b>: {}</summary>\n\n{}\n",
            plan.unmanaged.len(),
            unmanaged_heading(plan)
        );
        for (address, import) in unmanaged_lines(plan).iter().take(MAX_UNMANAGED_LISTED) {
            let _ = writeln!(out, "- `{address}` — `{import}`");
        }
        if plan.unmanaged.len() > MAX_UNMANAGED_LISTED {
            let _ = writeln!(
                out,
                "- … and {} more (all in the plan file's `unmanaged`)",
                plan.unmanaged.len() - MAX_UNMANAGED_LISTED
            );
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    if let Some(picture) = picture {
        out.push_str(picture);
    }

    let (mut chars, mut counted) = (0, 0);
    let mut budget = match detail {
        Detail::Budgeted(b) => Some(b),
        _ => None,
    };
    for (p, changes) in &by_provider {
        let _ = writeln!(
            out,
            "<details><summary><b>{p}</b>: {}</summary>\n",
            counts_words(&provider_summary(changes))
        );
        let mut shown = 0;
        for c in changes {
            let entry = match detail {
                Detail::Full => {
                    let mut body = String::new();
                    for l in attr_lines(c) {
                        // The mark in the first column, where GitHub's `diff`
                        // highlighting looks for it.
                        let _ = writeln!(
                            body,
                            "{} {}{}",
                            l.mark.symbol(),
                            "    ".repeat(l.depth),
                            l.text
                        );
                    }
                    let head = format!(
                        "- `{}` `{}`{}\n",
                        change_symbol(c.action),
                        c.address,
                        destructive_flag(plan, c)
                    );
                    if body.is_empty() {
                        head
                    } else {
                        let f = fence(&body);
                        format!("{head}\n  {f}diff\n{}  {f}\n", indent(&body, "  "))
                    }
                }
                Detail::Addresses | Detail::Budgeted(_) => {
                    format!(
                        "- `{}` `{}`{}\n",
                        change_symbol(c.action),
                        c.address,
                        destructive_flag(plan, c)
                    )
                }
            };
            if let Some(b) = budget.as_mut() {
                // Room for the `… and N more` line after this one.
                const MORE_LINE_CHARS: usize = 40;
                let cost = entry.chars().count();
                if cost + MORE_LINE_CHARS > *b {
                    break;
                }
                *b -= cost;
            }
            out.push_str(&entry);
            if budget.is_none() {
                // Count characters incrementally, so giving up early stays linear.
                chars += out[counted..].chars().count();
                counted = out.len();
                if chars > max {
                    return None;
                }
            }
            shown += 1;
        }
        if shown < changes.len() {
            let _ = writeln!(out, "- … and {} more", changes.len() - shown);
        }
        let _ = writeln!(out, "\n</details>\n");
    }

    // What the actions run with besides the changes: all of it with full detail; once
    // detail is cut, the first 20 (a screenful) and where to read the rest, so the lists of
    // what changes still fit.
    let settings = settings_lines(plan);
    if !settings.is_empty() {
        let _ = writeln!(out, "{SETTINGS_HEADING}\n");
        let shown = if detail == Detail::Full {
            settings.len()
        } else {
            settings.len().min(20)
        };
        for l in &settings[..shown] {
            let _ = writeln!(out, "- {l}");
        }
        if shown < settings.len() {
            let _ = writeln!(
                out,
                "- … and {} more: `sophia show {plan_file}` lists them all",
                settings.len() - shown
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "Plan digest: `{}`  ", plan.digest);
    let _ = writeln!(out, "Desired state: `{}`  ", plan.desired.digest);
    let _ = writeln!(
        out,
        "Created {}, valid until {}.\n",
        plan.created_at, plan.not_after
    );
    let _ = writeln!(out, "To approve, sign the plan file:\n");
    let _ = writeln!(
        out,
        "```sh\nssh-keygen -Y sign -n {SIGNING_NAMESPACE} -f ~/.ssh/id_ed25519 {plan_file}\n```\n"
    );
    let _ = writeln!(out, "or\n");
    let _ = writeln!(
        out,
        "```sh\nsophia sign {plan_file} --key ~/.ssh/id_ed25519\n```"
    );
    match detail {
        Detail::Budgeted(_) => Some(out),
        _ => (out.chars().count() <= max).then_some(out),
    }
}

/// The monthly cost: the headline, a table of the apps the plan changes (the first
/// [`MAX_COST_APPS_LISTED`]) and what could not be priced.
fn cost_section(out: &mut String, c: &crate::core::cost::Cost) {
    let _ = writeln!(out, "**{}**\n", cost::headline(c));
    if !c.apps.is_empty() {
        let _ = writeln!(out, "| app | before | after | delta |");
        let _ = writeln!(out, "|---|---:|---:|---:|");
        for (app, a) in c.apps.iter().take(MAX_COST_APPS_LISTED) {
            let _ = writeln!(
                out,
                "| `{app}` | {} | {} | {} |",
                a.before,
                a.after,
                a.delta.signed()
            );
        }
        if c.apps.len() > MAX_COST_APPS_LISTED {
            let _ = writeln!(
                out,
                "| … and {} more (the plan file's `cost.apps`) | | | |",
                c.apps.len() - MAX_COST_APPS_LISTED
            );
        }
        let _ = writeln!(
            out,
            "| **total** | **{}** | **{}** | **{}** |\n",
            c.before,
            c.after,
            c.delta.signed()
        );
    }
    for w in c.warnings.iter().take(MAX_COST_APPS_LISTED) {
        let _ = writeln!(out, "> [!WARNING]\n> {w}\n");
    }
    if c.warnings.len() > MAX_COST_APPS_LISTED {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> … and {} more apps left out of the cost (the plan file's `cost.warnings`)\n",
            c.warnings.len() - MAX_COST_APPS_LISTED
        );
    }
}

/// The changed resources as a Mermaid flowchart, coloured by action (GitHub draws a
/// `mermaid` code block).
fn picture_section(plan: &Plan) -> String {
    format!(
        "<details open><summary>The changes as a picture (an arrow: what must finish \
         first)</summary>\n\n```mermaid\n{}```\n\n</details>\n\n",
        picture::mermaid(&picture::resources(plan))
    )
}

/// ` — **destructive: …**` after a destructive update's address.
fn destructive_flag(plan: &Plan, c: &Change) -> String {
    [retire_note(plan, c), destructive_note(c), security_note(c)]
        .into_iter()
        .flatten()
        .map(|n| format!(" — **{n}**"))
        .collect()
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}\n"))
        .collect::<String>()
}
