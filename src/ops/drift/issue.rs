//! The drift issue (`sophia drift --issue OWNER/REPO`). Drift is a state, not an event, so
//! there is at most ONE open drift issue, found by the marker `<!-- sophia-drift -->` on the
//! first line of its body; the second line records the drift digest.
//!
//! | found | same digest | other digest | no open issue |
//! |---|---|---|---|
//! | drift | body refreshed (last check, proof); no comment, so no notification | body and title replaced, and a comment says how the drift changed | issue opened |
//! | no drift | comment "resolved" and close (every open drift issue) | same | nothing |
//!
//! A closed drift issue is never reopened: drift that comes back is a new event, with a new
//! issue.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::json;

use super::check::Drift;
use crate::core::plan::{Change, Plan, PlanSummary};
use crate::core::render::markdown::MAX_COMMENT_CHARS;
use crate::core::render::{attr_lines, change_symbol};
use crate::proofs::ProofRef;
use crate::providers::github_issues::{Issue, Issues, RepoRef, has_marker};

/// The first line of the drift issue's body.
pub const DRIFT_MARKER: &str = "<!-- sophia-drift -->";

/// What happened to the drift issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueOutcome {
    Opened(Issue),
    /// Same drift: the body was refreshed.
    Refreshed(Issue),
    /// Other drift: body replaced and a comment added.
    Changed(Issue),
    /// No drift any more: these were commented on and closed.
    Closed(Vec<Issue>),
    /// No drift and no open drift issue.
    Nothing,
}

/// The digest a drift issue's body records (its second line).
fn recorded_digest(body: &str) -> Option<&str> {
    body.lines()
        .nth(1)?
        .trim()
        .strip_prefix("<!-- sophia-drift-digest: ")?
        .strip_suffix(" -->")
}

/// Open, refresh, change or close the drift issue of `repo` (see the module's table).
pub async fn sync_issue(
    issues: &Issues,
    repo: &RepoRef,
    drift: &Drift,
    proof: &ProofRef,
    run_link: Option<&str>,
) -> anyhow::Result<IssueOutcome> {
    let open: Vec<Issue> = issues
        .open_issues(repo)
        .await?
        .into_iter()
        .filter(|i| has_marker(&i.body, DRIFT_MARKER))
        .collect();
    let proof_path = format!("proofs/{}", proof.path());
    let Some(digest) = &drift.digest else {
        let mut closed = Vec::new();
        for issue in open {
            issues
                .create_comment(
                    repo,
                    issue.number,
                    &format!(
                        "Resolved: the drift check of {} found live state matching the desired \
                         state again (evidence: `{proof_path}`). Closing.",
                        drift.checked_at
                    ),
                )
                .await?;
            closed.push(
                issues
                    .update_issue(
                        repo,
                        issue.number,
                        json!({ "state": "closed", "state_reason": "completed" }),
                    )
                    .await?,
            );
        }
        return Ok(if closed.is_empty() {
            IssueOutcome::Nothing
        } else {
            IssueOutcome::Closed(closed)
        });
    };
    let title = issue_title(&drift.plan);
    let body = issue_body(drift, digest, &proof_path, run_link);
    // The issue with this very drift, else the newest drift issue (the list is newest first).
    let found = open
        .iter()
        .find(|i| recorded_digest(&i.body) == Some(digest.as_str()))
        .or(open.first());
    match found {
        None => Ok(IssueOutcome::Opened(
            issues.create_issue(repo, &title, &body).await?,
        )),
        Some(issue) if recorded_digest(&issue.body) == Some(digest.as_str()) => {
            Ok(IssueOutcome::Refreshed(
                issues
                    .update_issue(repo, issue.number, json!({ "title": title, "body": body }))
                    .await?,
            ))
        }
        Some(issue) => {
            let was = recorded_digest(&issue.body).unwrap_or("unknown");
            let updated = issues
                .update_issue(repo, issue.number, json!({ "title": title, "body": body }))
                .await?;
            issues
                .create_comment(
                    repo,
                    issue.number,
                    &format!(
                        "The drift changed at {}: it is now {} (drift digest `{digest}`, was \
                         `{was}`). The description above shows the current drift.",
                        drift.checked_at,
                        counts_words(&drift.plan.summary)
                    ),
                )
                .await?;
            Ok(IssueOutcome::Changed(updated))
        }
    }
}

/// `1 to create, 2 to update`.
fn counts_words(s: &PlanSummary) -> String {
    let parts: Vec<String> = [
        (s.create, "to create"),
        (s.update, "to update"),
        (s.delete, "to delete"),
        (s.replace, "to replace"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, w)| format!("{n} {w}"))
    .collect();
    if parts.is_empty() {
        "no changes".into()
    } else {
        parts.join(", ")
    }
}

fn issue_title(plan: &Plan) -> String {
    format!(
        "Drift: live state differs from the desired state ({} change{})",
        plan.changes.len(),
        if plan.changes.len() == 1 { "" } else { "s" }
    )
}

/// How much of each change the issue shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    Full,
    Addresses,
    /// At most this many addresses in all.
    First(usize),
}

/// The drift issue's body, within GitHub's 65,536 characters: per-change detail is cut
/// first, then the address lists.
pub fn issue_body(drift: &Drift, digest: &str, proof_path: &str, run_link: Option<&str>) -> String {
    for detail in [Detail::Full, Detail::Addresses] {
        let body = issue_body_with(drift, digest, proof_path, run_link, detail);
        if body.chars().count() <= MAX_COMMENT_CHARS {
            return body;
        }
    }
    // Halve the addresses shown until it fits (the skeleton alone is a few hundred chars).
    let mut n = drift.plan.changes.len();
    loop {
        n /= 2;
        let body = issue_body_with(drift, digest, proof_path, run_link, Detail::First(n));
        if body.chars().count() <= MAX_COMMENT_CHARS || n == 0 {
            return body;
        }
    }
}

fn issue_body_with(
    drift: &Drift,
    digest: &str,
    proof_path: &str,
    run_link: Option<&str>,
    detail: Detail,
) -> String {
    let plan = &drift.plan;
    let mut out = String::new();
    let _ = writeln!(out, "{DRIFT_MARKER}");
    let _ = writeln!(out, "<!-- sophia-drift-digest: {digest} -->");
    let _ = writeln!(out, "## Live state differs from the desired state\n");
    let _ = writeln!(
        out,
        "The drift check of {} found **{}** between `desired/` and live state: {}. Someone or \
         something changed live state outside sophia, or the desired state changed without \
         being applied.\n",
        drift.checked_at,
        if plan.changes.len() == 1 {
            "1 change".to_string()
        } else {
            format!("{} changes", plan.changes.len())
        },
        counts_words(&plan.summary),
    );
    if detail != Detail::Full {
        let _ = writeln!(
            out,
            "> [!NOTE]\n> This drift is too large for one GitHub issue (65,536 characters): \
             detail was cut. `{proof_path}` has all of it.\n"
        );
    }
    let mut by_provider: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
    for c in &plan.changes {
        by_provider.entry(c.address.provider()).or_default().push(c);
    }
    let _ = writeln!(out, "| provider | create | update | delete | replace |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for (p, changes) in &by_provider {
        let s = PlanSummary::of(&changes.iter().map(|c| (*c).clone()).collect::<Vec<_>>());
        let _ = writeln!(
            out,
            "| {p} | {} | {} | {} | {} |",
            s.create, s.update, s.delete, s.replace
        );
    }
    let _ = writeln!(out);
    let mut left = match detail {
        Detail::First(n) => n,
        _ => usize::MAX,
    };
    for (p, changes) in &by_provider {
        let s = PlanSummary::of(&changes.iter().map(|c| (*c).clone()).collect::<Vec<_>>());
        let _ = writeln!(
            out,
            "<details open><summary><b>{p}</b>: {}</summary>\n",
            counts_words(&s)
        );
        let mut shown = 0;
        for c in changes {
            if left == 0 {
                break;
            }
            left -= 1;
            shown += 1;
            let _ = writeln!(out, "- `{}` `{}`", change_symbol(c.action), c.address);
            if detail == Detail::Full {
                let lines: Vec<String> = attr_lines(c)
                    .iter()
                    // The mark in the first column, where GitHub's `diff` highlighting looks.
                    .map(|l| format!("  {} {}{}", l.mark.symbol(), "    ".repeat(l.depth), l.text))
                    .collect();
                if !lines.is_empty() {
                    let text = lines.join("\n");
                    let fence = "`".repeat(longest_backtick_run(&text).max(2) + 1);
                    let _ = writeln!(out, "\n  {fence}diff\n{text}\n  {fence}");
                }
            }
        }
        if shown < changes.len() {
            let _ = writeln!(out, "- … and {} more", changes.len() - shown);
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary><b>unmanaged</b>: {} (not drift)</summary>\n\n{}\n",
            plan.unmanaged.len(),
            crate::core::render::unmanaged_heading(plan)
        );
        let shown = if detail == Detail::Full {
            usize::MAX
        } else {
            left
        };
        for (address, import) in crate::core::render::unmanaged_lines(plan)
            .iter()
            .take(shown)
        {
            let _ = writeln!(out, "- `{address}` — `{import}`");
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    let _ = writeln!(
        out,
        "Drift digest: `{digest}`. A later check that finds the same drift refreshes this issue \
         instead of opening another; different drift updates it and says so in a comment.  "
    );
    let _ = writeln!(
        out,
        "Evidence: `{proof_path}` (journaled in `proofs/journal.jsonl`){}.\n",
        match run_link {
            Some(url) => format!(", kept as an artifact of [the workflow run]({url})"),
            None => String::new(),
        }
    );
    let _ = writeln!(
        out,
        "**What to do.** If live state is wrong, restore it through the usual gate: plan \
         (`sophia plan --out plan.json`), have the approver sign it, run the `apply` workflow. \
         If live state is right, change `desired/` to match it in a pull request. This issue \
         closes itself when a check finds no drift."
    );
    out
}

fn longest_backtick_run(text: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::live::LiveSnapshot;

    #[test]
    fn the_recorded_digest_is_read_back() {
        let body = format!("{DRIFT_MARKER}\n<!-- sophia-drift-digest: sha256:abc -->\n## x");
        assert_eq!(recorded_digest(&body), Some("sha256:abc"));
        assert_eq!(recorded_digest(DRIFT_MARKER), None);
    }

    #[test]
    fn a_huge_drift_still_fits_in_one_issue_with_its_digest() {
        let mut text = String::from("fly:\n  org: pay-ready\n  apps:\n");
        for i in 0..3000 {
            text.push_str(&format!(
                "    app-{i:04}:\n      image: registry.fly.io/app-{i:04}:v1\n      count: 1\n"
            ));
        }
        let desired = crate::core::desired::load(&[crate::core::desired::Source {
            path: "desired/main.yaml".into(),
            text,
        }])
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let opts =
            crate::ops::plan::plan_options(dir.path(), crate::ops::plan::DEFAULT_TTL, Vec::new())
                .unwrap();
        let live = LiveSnapshot::new("2026-01-02T03:04:05Z");
        let drift = crate::ops::drift::check(&desired, &live, &opts).unwrap();
        let digest = drift.digest.clone().unwrap();
        let body = issue_body(&drift, &digest, "proofs/drift/x.json", None);
        assert!(body.chars().count() <= MAX_COMMENT_CHARS);
        assert!(body.starts_with(&format!(
            "{DRIFT_MARKER}\n<!-- sophia-drift-digest: {digest} -->\n"
        )));
        assert!(body.contains("too large for one GitHub issue"));
        assert!(body.contains("more"));
        assert!(body.contains(&format!("Drift digest: `{digest}`")));
    }
}
