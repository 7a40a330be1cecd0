//! `sophia drift [--issue OWNER/REPO]`: plan the desired state against live state (reads
//! only; nothing is saved to apply) and report whether they differ.
//!
//! - Live state is read as `plan` reads it ([`super::refresh::read_live`]), so drift and plan
//!   always agree on what differs.
//! - Every check writes `proofs/drift/<stamp>.json` (the normalized envelope: the changes,
//!   their digest, the desired state's digest; names only, never a secret value) and
//!   journals it (`kind: "drift"`, `status: "drift" | "clean" | "failure"`).
//! - With `--issue`, the ONE drift issue of a repository is kept (see [`issue`]).
//! - When Slack is active, a drift whose digest differs from the previous check's is posted
//!   to the notify channel, security-relevant changes first (see [`slack`]).
//!
//! **The drift digest** is `sha256:` of the canonical JSON of the changes: the same drift
//! gives the same digest whenever it is checked (unlike the plan digest, which covers a
//! nonce and times).

mod check;
pub mod issue;
pub mod slack;

pub use check::{Drift, check, check_with, drift_digest, envelope};
pub use issue::{DRIFT_MARKER, IssueOutcome};

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use super::plan::{DEFAULT_TTL, plan_options};
use super::refresh::read_live_plus;
use crate::backend::Backend;
use crate::core::envelope::{Envelope, EnvelopeError};
use crate::proofs::{NewRecord, ProofKind, ProofRef, RelPath};
use crate::providers::Credentials;
use crate::providers::github_issues::{Issues, RepoRef};

/// What `sophia drift` is asked.
pub struct DriftRequest<'a> {
    /// The repository root.
    pub root: &'a Path,
    /// Read live state with these.
    pub creds: &'a Credentials,
    /// The backend (`SOPHIA_BACKEND`); `None` is local.
    pub backend: Option<&'a str>,
    /// Also keep the drift issue of a repository.
    pub issue: Option<IssueRequest<'a>>,
}

/// Where the drift issue is kept, and with what.
pub struct IssueRequest<'a> {
    pub repo: RepoRef,
    /// The credentials that write the issue ([`super::reporting::reporting_credentials`]).
    pub creds: &'a Credentials,
    /// The workflow run whose artifacts keep the proof.
    pub run_link: Option<String>,
}

/// What a drift check did.
#[derive(Debug)]
pub enum DriftOutcome {
    /// Some providers could not be read: drift is unknown. The failed check is recorded.
    Unread {
        errors: Vec<EnvelopeError>,
        proof: ProofRef,
    },
    /// The check ran and is recorded in `proof`.
    Checked {
        drift: Box<Drift>,
        proof: ProofRef,
        /// What became of the drift issue, when one was asked for.
        issue: Option<anyhow::Result<IssueOutcome>>,
        /// The Slack message (a new drift digest only, [`slack`]).
        notified: super::notify::Notified,
    },
}

/// Check for drift, record the check, and keep the drift issue when asked.
pub async fn drift(req: &DriftRequest<'_>) -> anyhow::Result<DriftOutcome> {
    let started = Instant::now();
    let desired = crate::workspace::load_desired(req.root)?;
    let backend = Backend::open(req.root, req.backend).await?;
    let ledger = super::refresh::read_ledger(&backend).await;
    let lifecycle = crate::core::lifecycle::Lifecycle {
        managed: backend.managed().await?,
        inventory: super::lifecycle::read_inventory(req.root, &desired, req.creds).await,
        ignore: super::lifecycle::read_ignore(req.root)?,
        secrets_set: super::lifecycle::secrets_set(ledger.as_ref()),
    };
    let retired = crate::core::lifecycle::retired_from(&desired, &lifecycle.managed);
    let (live, unread) =
        read_live_plus(req.root, &desired, req.creds, &retired, ledger.as_ref()).await?;
    if !unread.is_empty() {
        let proof = record_failure(&backend, &unread, started).await?;
        return Ok(DriftOutcome::Unread {
            errors: unread,
            proof,
        });
    }
    let drift = check_with(
        &desired,
        &live,
        &plan_options(req.root, DEFAULT_TTL, Vec::new())?,
        &lifecycle,
    )?;
    let previous = slack::previous_digest(&backend).await;
    let proof = record(&backend, &drift, started).await?;
    let notified = slack::notify_new(&desired, req.creds, &drift, previous.as_deref()).await;
    let issue = match &req.issue {
        Some(issue) => Some(keep_issue(issue, &drift, &proof).await),
        None => None,
    };
    Ok(DriftOutcome::Checked {
        drift: Box::new(drift),
        proof,
        issue,
        notified,
    })
}

async fn keep_issue(
    req: &IssueRequest<'_>,
    drift: &Drift,
    proof: &ProofRef,
) -> anyhow::Result<IssueOutcome> {
    let issues = Issues::new(req.creds, req.creds.http()).context("`sophia drift --issue` writes to GitHub: set GITHUB_TOKEN or SOPHIA_REPORT_TOKEN (in a workflow, `${{ github.token }}` with `issues: write`)")?;
    issue::sync_issue(&issues, &req.repo, drift, proof, req.run_link.as_deref())
        .await
        .with_context(|| format!("updating the drift issue of {}", req.repo))
}

/// `20260101T000000.000Z`: sorts by time, and fits a file name.
fn stamp(now: DateTime<Utc>) -> String {
    now.format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

/// A drift proof path that does not exist yet (two checks in the same millisecond get `-1`,
/// `-2`, … rather than overwrite each other; a thousand is far more checks than fit in one
/// millisecond).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_sort_by_time() {
        let a = stamp("2026-01-02T03:04:05.006Z".parse().unwrap());
        let b = stamp("2026-01-02T03:04:05.010Z".parse().unwrap());
        assert_eq!(a, "20260102T030405.006Z");
        assert!(a < b);
    }
}
