//! `sophia drift [--issue OWNER/REPO]`: plan the desired state against live state (reads
//! only; nothing is saved to apply) and report whether they differ.
//!
//! - Exit 0: no drift; 2: drift; 1: error (a provider could not be read, a file could not
//!   be written, the issue could not be updated).
//! - Always writes `proofs/drift/<stamp>.json` (the normalized envelope: the changes, their
//!   digest, the desired state's digest; names only, never a secret value) and journals it
//!   (`kind: "drift"`, `status: "drift" | "clean" | "failure"`).
//! - stdout: the changes (the plan's text rendering), or the envelope with `--json`.
//!
//! **The drift digest** is `sha256:` of the canonical JSON of the changes: the same drift
//! gives the same digest whenever it is checked (unlike the plan digest, which covers a
//! nonce and times).
//!
//! **The drift issue** (`--issue OWNER/REPO`). Drift is a state, not an event, so there is
//! at most ONE open drift issue, found by the marker `<!-- sophia-drift -->` on the first
//! line of its body; the second line records the drift digest.
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
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Ctx, Exit};
use crate::backend::Backend;
use crate::core::desired::Desired;
use crate::core::digest;
use crate::core::envelope::{Envelope, EnvelopeError};
use crate::core::live::LiveSnapshot;
use crate::core::plan::{self, Change, Plan, PlanOptions, PlanSummary};
use crate::core::render::markdown::MAX_COMMENT_CHARS;
use crate::core::render::{self, attr_lines, change_symbol};
use crate::proofs::{NewRecord, ProofKind, ProofRef, RelPath};
use crate::providers::github_issues::{Issue, Issues, RepoRef, has_marker};

/// The first line of the drift issue's body.
pub const DRIFT_MARKER: &str = "<!-- sophia-drift -->";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also keep the drift issue of this repository: open or update ONE issue while there
    /// is drift, comment and close it when there is none.
    #[arg(long, value_name = "OWNER/REPO")]
    pub issue: Option<RepoRef>,
}

/// What one drift check found.
#[derive(Debug, Clone)]
pub struct Drift {
    /// The desired state planned against live state: its changes are the drift.
    pub plan: Plan,
    /// `sha256:` of the canonical JSON of the changes; `None` when there are none.
    pub digest: Option<String>,
    /// When the check ran (RFC 3339, UTC).
    pub checked_at: String,
}

impl Drift {
    pub fn has_drift(&self) -> bool {
        self.digest.is_some()
    }
}

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

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let started = Instant::now();
    let desired = crate::workspace::load_desired(&ctx.root)?;
    let (live, unread) = crate::cli::refresh::refresh_live(&desired)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let backend = runtime.block_on(Backend::from_env(&ctx.root))?;
    if !unread.is_empty() {
        let proof = runtime.block_on(record_failure(&backend, &unread, started))?;
        anyhow::bail!(
            "{}\n  the failed check is recorded in `proofs/{}`\n  hint: set the variables \
             named above (read-only credentials are enough for a drift check)",
            crate::cli::refresh::describe_errors(&unread),
            proof.path()
        );
    }
    let drift = check(&desired, &live, Utc::now())?;
    let proof = runtime.block_on(record(&backend, &drift, started))?;
    if ctx.json {
        let envelope = envelope(&drift, started);
        println!("{}", serde_json::to_string_pretty(&envelope)?);
    } else {
        print!("{}", render::text::render(&drift.plan, ctx.color));
    }
    match &drift.digest {
        Some(d) => ctx.status(format!(
            "drift: {} change(s) between the desired state and live state (drift digest {d}); \
             recorded in `proofs/{}`",
            drift.plan.changes.len(),
            proof.path()
        )),
        None => ctx.status(format!(
            "no drift: live state matches the desired state; recorded in `proofs/{}`",
            proof.path()
        )),
    }
    if let Some(repo) = &args.issue {
        let creds = crate::cli::comment::reporting_credentials();
        let issues = Issues::new(&creds, creds.http()).context("`sophia drift --issue` writes to GitHub: set GITHUB_TOKEN or SOPHIA_REPORT_TOKEN (in a workflow, `${{ github.token }}` with `issues: write`)")?;
        let outcome = runtime
            .block_on(sync_issue(
                &issues,
                repo,
                &drift,
                &proof,
                crate::cli::comment::workflow_run_link().as_deref(),
            ))
            .with_context(|| format!("updating the drift issue of {repo}"))?;
        ctx.status(describe_outcome(repo, &outcome));
    }
    Ok(if drift.has_drift() {
        Exit::Changes
    } else {
        Exit::Clean
    })
}

/// Plan `desired` against `live` at `now`: the drift. Pure.
pub fn check(desired: &Desired, live: &LiveSnapshot, now: DateTime<Utc>) -> anyhow::Result<Drift> {
    let opts = PlanOptions {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: now,
        ttl: chrono::Duration::hours(plan::DEFAULT_TTL_HOURS),
        // Never applied or signed: the nonce only has to be there.
        nonce: "drift".to_string(),
        git_commit: None,
        targets: Vec::new(),
    };
    let plan = plan::build(desired, live, &opts)?;
    Ok(Drift {
        digest: (!plan.changes.is_empty()).then(|| drift_digest(&plan.changes)),
        checked_at: plan::rfc3339(now),
        plan,
    })
}

/// The drift digest: `sha256:` of the canonical JSON of the changes.
pub fn drift_digest(changes: &[Change]) -> String {
    digest::sha256_canonical(&changes)
}

/// The normalized envelope of a drift check (the proof's content).
pub fn envelope(drift: &Drift, started: Instant) -> Envelope {
    let plan = &drift.plan;
    let text = match &drift.digest {
        Some(_) => format!(
            "drift: {} change(s) between the desired state and live state",
            plan.changes.len()
        ),
        None => "no drift: live state matches the desired state".to_string(),
    };
    Envelope::success(
        "drift",
        vec![json!({
            "drift": drift.has_drift(),
            "drift_digest": drift.digest,
            "desired_digest": plan.desired.digest,
            "summary": plan.summary,
            "changes": plan.changes,
        })],
        text,
        drift.checked_at.clone(),
        started.elapsed().as_millis() as u64,
    )
}

/// `20260101T000000.000Z`: sorts by time, and fits a file name.
fn stamp(now: DateTime<Utc>) -> String {
    now.format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

/// A drift proof path that does not exist yet (two checks in the same millisecond get `-1`,
/// `-2`, … rather than overwrite each other).
fn fresh_path(backend: &Backend, now: DateTime<Utc>) -> anyhow::Result<RelPath> {
    let base = stamp(now);
    for n in 0..1000 {
        let stamp = if n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let rel = backend.proofs().path_of(&ProofKind::Drift { stamp })?;
        if !backend.proofs().root().join(rel.to_string()).exists() {
            return Ok(rel);
        }
    }
    anyhow::bail!("a thousand drift proofs already carry the stamp {base}")
}

/// Write the proof of a drift check and journal it.
pub async fn record(
    backend: &Backend,
    drift: &Drift,
    started: Instant,
) -> anyhow::Result<ProofRef> {
    let rel = fresh_path(backend, Utc::now())?;
    let proof = backend
        .proofs()
        .write_at(&rel, &pretty(&envelope(drift, started))?)
        .context("writing the drift proof")?;
    backend
        .append(
            NewRecord::now("drift", if drift.has_drift() { "drift" } else { "clean" })
                .proof(proof.clone()),
        )
        .await
        .context("journaling the drift check")?;
    Ok(proof)
}

/// Write and journal the proof of a check that could not read every provider.
async fn record_failure(
    backend: &Backend,
    errors: &[EnvelopeError],
    started: Instant,
) -> anyhow::Result<ProofRef> {
    let envelope = Envelope::failure(
        "drift",
        errors.to_vec(),
        "some providers could not be read; drift unknown",
        crate::providers::now_rfc3339(),
        started.elapsed().as_millis() as u64,
    );
    let rel = fresh_path(backend, Utc::now())?;
    let proof = backend
        .proofs()
        .write_at(&rel, &pretty(&envelope)?)
        .context("writing the drift proof")?;
    backend
        .append(NewRecord::now("drift", "failure").proof(proof.clone()))
        .await
        .context("journaling the drift check")?;
    Ok(proof)
}

fn pretty(envelope: &Envelope) -> anyhow::Result<Vec<u8>> {
    let mut text = serde_json::to_string_pretty(envelope).context("serializing a proof")?;
    text.push('\n');
    Ok(text.into_bytes())
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

fn describe_outcome(repo: &RepoRef, outcome: &IssueOutcome) -> String {
    match outcome {
        IssueOutcome::Opened(i) => {
            format!("opened drift issue {repo}#{}: {}", i.number, i.html_url)
        }
        IssueOutcome::Refreshed(i) => format!(
            "drift issue {repo}#{} already reports this drift; refreshed it: {}",
            i.number, i.html_url
        ),
        IssueOutcome::Changed(i) => format!(
            "the drift changed; updated drift issue {repo}#{} and commented: {}",
            i.number, i.html_url
        ),
        IssueOutcome::Closed(list) => format!(
            "no drift any more; commented on and closed {}",
            list.iter()
                .map(|i| format!("{repo}#{}", i.number))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        IssueOutcome::Nothing => format!("no drift and no open drift issue in {repo}"),
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
        let now = "2026-01-02T03:04:05Z".parse().unwrap();
        let drift = check(&desired, &LiveSnapshot::new("2026-01-02T03:04:05Z"), now).unwrap();
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

    #[test]
    fn the_same_drift_has_the_same_digest_whenever_it_is_checked() {
        let desired = crate::core::desired::load(&[crate::core::desired::Source {
            path: "desired/main.yaml".into(),
            text: "fly:\n  org: pay-ready\n  apps:\n    app-a:\n      count: 1\n".into(),
        }])
        .unwrap();
        let live = LiveSnapshot::new("2026-01-02T03:04:05Z");
        let a = check(&desired, &live, "2026-01-02T03:04:05Z".parse().unwrap()).unwrap();
        let b = check(&desired, &live, "2027-06-07T08:09:10Z".parse().unwrap()).unwrap();
        assert!(a.digest.is_some());
        assert_eq!(a.digest, b.digest);
        assert_ne!(
            a.plan.digest, b.plan.digest,
            "the plan digest covers the time"
        );
    }

    #[test]
    fn stamps_sort_by_time() {
        let a = stamp("2026-01-02T03:04:05.006Z".parse().unwrap());
        let b = stamp("2026-01-02T03:04:05.010Z".parse().unwrap());
        assert_eq!(a, "20260102T030405.006Z");
        assert!(a < b);
    }
}
