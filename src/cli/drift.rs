//! `sophia drift [--issue OWNER/REPO]`: plan the desired state against live state (reads
//! only; nothing is saved to apply) and report whether they differ. See [`crate::ops::drift`].
//!
//! - Exit 0: no drift; 2: drift; 1: error (a provider could not be read, a file could not
//!   be written, the issue could not be updated).
//! - stdout: the changes (the plan's text rendering), or the envelope with `--json`.

use std::time::Instant;

use super::{Ctx, Exit};
use crate::core::render;
use crate::ops::drift::{DriftOutcome, DriftRequest, IssueOutcome, IssueRequest, drift, envelope};
use crate::ops::refresh::{describe_errors, unread_hint};
use crate::ops::reporting::{reporting_credentials, workflow_run_link};
use crate::providers::Credentials;
use crate::providers::github_issues::RepoRef;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also keep the drift issue of this repository: open or update ONE issue while there
    /// is drift, comment and close it when there is none.
    #[arg(long, value_name = "OWNER/REPO")]
    pub issue: Option<RepoRef>,
}

pub async fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let started = Instant::now();
    let creds = Credentials::from_env();
    let report_creds = reporting_credentials();
    let backend = std::env::var(crate::backend::BACKEND_ENV).ok();
    let outcome = drift(&DriftRequest {
        root: &ctx.root,
        creds: &creds,
        backend: backend.as_deref(),
        issue: args.issue.clone().map(|repo| IssueRequest {
            repo,
            creds: &report_creds,
            run_link: workflow_run_link(),
        }),
    })
    .await?;
    let (drift, proof, issue, notified) = match outcome {
        DriftOutcome::Checked {
            drift,
            proof,
            issue,
            notified,
        } => (drift, proof, issue, notified),
        DriftOutcome::Unread { errors, proof } => {
            return Err(crate::hinted!(
                hint = unread_hint(&errors, "a drift check"),
                "{}\n  the failed check is recorded in `proofs/{}`",
                describe_errors(&errors),
                proof.path()
            ));
        }
    };
    if ctx.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&envelope(&drift, started))?
        );
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
    super::render::notified(ctx, &notified);
    if let (Some(repo), Some(issue)) = (&args.issue, issue) {
        ctx.status(describe_outcome(repo, &issue?));
    }
    Ok(if drift.has_drift() {
        Exit::Changes
    } else {
        Exit::Clean
    })
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
