//! The executor (DESIGN.md, "Apply"): one idempotent attempt to realize an approved plan.
//!
//! ```text
//! lease ▸ gate (digest, expiry, approval) ▸ providers configured ▸ stale check (re-read every
//! address the plan fingerprinted) ▸ secrets present ▸ plan stored ▸ DAG (bounded parallelism,
//! proofs + journal per action) ▸ re-read, converged? ▸ summary recorded ▸ lease released
//! ```
//!
//! Nothing mutating happens before the stale check passes: the gate reads files only, the
//! stale check only reads providers. The actions run from the signed plan alone — its
//! `params` carry everything an action needs, and nothing re-reads `desired/` (which may have
//! changed since the plan was approved). Running the same desired state again after a partial
//! failure plans exactly the remaining work, because every action is idempotent (its
//! provider checks before it creates) and the plan is made from live state.
//!
//! - `fresh`: reads before and after acting — providers configured, the stale check, the
//!   secrets present, the convergence re-read.
//! - `run`: running the actions (the lease renewed meanwhile), each with its proof.
//! - [`dag`]: the action DAG with bounded parallelism, skipping the dependents of a failed
//!   action.
//! - `record`: the plan record, the proofs and the journal.

pub mod dag;
mod fresh;
mod record;
mod run;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::approve::{self, GateOptions, Gated};
use crate::backend::{Applied, Backend, Holder, LeaseError, LeaseGuard};
use crate::core::envelope::EnvelopeError;
use crate::core::plan::{Action, Plan};
use crate::proofs::writable::NotWritable;
use crate::providers::{Credentials, SecretSource};
pub use dag::ActionStatus;
pub use fresh::missing_secrets;

/// What `sophia apply` is given.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub plan: PathBuf,
    pub signatures: Vec<PathBuf>,
    pub approve: Option<String>,
    /// Actions run at once (DESIGN.md: default 10).
    pub parallelism: usize,
    pub fail_fast: bool,
    /// The lease's time to live; renewed every third of it while the apply runs.
    pub lease_ttl: Duration,
}

/// Default `--parallelism`: DESIGN.md's 10 — enough to deploy independent apps together,
/// well under GitHub's secondary limit on concurrent requests (100).
pub const DEFAULT_PARALLELISM: usize = 10;

/// How the executor reports progress (a terminal bar, plain lines, or nothing).
pub trait Progress: Send + Sync {
    fn started(&self, total: usize);
    fn action_done(&self, action: &Action, outcome: &str, millis: u64);
    fn finished(&self);
}

/// No progress output.
pub struct Silent;

impl Progress for Silent {
    fn started(&self, _: usize) {}
    fn action_done(&self, _: &Action, _: &str, _: u64) {}
    fn finished(&self) {}
}

/// Why an apply stopped before its first mutating call.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the plan is stale: live state changed since it was made\n{}", .changes.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n"))]
    Stale { changes: Vec<String> },
    #[error("cannot read live state to check the plan is fresh:\n{}", .errors.iter().map(|e| format!("  {}: {} ({})", e.provider, e.message, e.code)).collect::<Vec<_>>().join("\n"))]
    Unreadable { errors: Vec<EnvelopeError> },
    #[error("secrets the plan sends are not set: {}", .names.join(", "))]
    MissingSecrets { names: Vec<String> },
    #[error("the plan has actions of `{provider}`, which this build of sophia cannot execute")]
    UnsupportedProvider { provider: String },
    #[error("{}\n  hint: a plan runs once; re-run `sophia plan` (it plans exactly the work that remains) and have the new plan approved", replayed(.digest, .earlier))]
    Replayed { digest: String, earlier: Applied },
    #[error("{not_writable}\n  hint: {}", .not_writable.hint())]
    ProofsNotWritable { not_writable: NotWritable },
}

fn replayed(digest: &str, earlier: &Applied) -> String {
    if earlier.digest == digest {
        format!(
            "the plan `{digest}` was already applied: its apply started at {}",
            earlier.at
        )
    } else {
        format!(
            "the plan `{digest}` reuses the nonce `{}` of the plan `{}`, whose apply started at {}",
            earlier.nonce, earlier.digest, earlier.at
        )
    }
}

/// What one action did.
#[derive(Debug, Clone)]
pub struct ActionReport {
    pub action: Action,
    pub status: ActionStatus,
    pub message: String,
    pub proof: Option<String>,
}

/// The result of an apply that got past the gate.
#[derive(Debug, Clone)]
pub struct ApplyReport {
    pub plan_digest: String,
    pub approver: String,
    pub actions: Vec<ActionReport>,
    /// Addresses whose live state does not match the plan after the run.
    pub not_converged: Vec<String>,
    pub took_over: Option<String>,
    pub elapsed: Duration,
    /// Where the time went.
    pub timings: PhaseTimings,
}

/// The wall time of each phase of an apply, in milliseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct PhaseTimings {
    /// The stale check: every fingerprinted address re-read.
    pub stale_check: u64,
    /// The DAG: every action.
    pub actions: u64,
    /// The convergence re-read after the actions.
    pub convergence: u64,
}

impl ApplyReport {
    pub fn succeeded(&self) -> bool {
        self.actions
            .iter()
            .all(|a| a.status == ActionStatus::Succeeded)
    }

    pub fn count(&self, status: ActionStatus) -> usize {
        self.actions.iter().filter(|a| a.status == status).count()
    }
}

/// The world the executor acts on: credentials, secret values (read only when sent), the
/// backend, and the clock (read here, in the shell).
pub struct ApplyEnv<'a> {
    pub root: &'a Path,
    pub creds: &'a Credentials,
    pub secrets: Arc<dyn SecretSource>,
    pub backend: &'a Backend,
    pub progress: &'a dyn Progress,
}

/// Apply an approved plan. Errors before the DAG runs mean nothing was changed.
pub async fn apply(env: &ApplyEnv<'_>, opts: &ApplyOptions) -> anyhow::Result<ApplyReport> {
    let started = Instant::now();
    // 1. The lease: a second apply fails fast here, naming the holder.
    let acquired = env
        .backend
        .acquire(&Holder::current(), opts.lease_ttl)
        .await
        .map_err(|e| match e {
            LeaseError::Other(e) => e,
            other => anyhow::Error::new(other),
        })?;
    let took_over = acquired.took_over.as_ref().map(|t| t.to_string());
    // Temporaries of proof writes that a killed apply left behind (never read, but they
    // would be committed with proofs/): removed under the lease, before anything is written.
    match crate::proofs::atomic::sweep_orphans(env.backend.proofs().root()) {
        Ok(0) => {}
        Ok(n) => tracing::info!("removed {n} temporary file(s) left by an interrupted write"),
        Err(e) => tracing::warn!("sweeping temporaries under proofs/: {e:#}"),
    }
    if let Some(t) = &acquired.took_over {
        env.backend
            .journal_takeover(t)
            .await
            .context("journaling the lease takeover")?;
    }
    let mut guard = acquired.guard;
    let result = gated_apply(env, opts, &mut guard, started, took_over).await;
    let released = guard.release().await;
    let report = result?;
    released.context("releasing the apply lease")?;
    Ok(report)
}

/// Steps 2 to 8 of the apply, under the lease. Every refusal (steps 2–4) is journaled and
/// comes before the first mutating call.
async fn gated_apply(
    env: &ApplyEnv<'_>,
    opts: &ApplyOptions,
    guard: &mut LeaseGuard,
    started: Instant,
    took_over: Option<String>,
) -> anyhow::Result<ApplyReport> {
    // 2. Digest, expiry and approval: files only.
    let Gated {
        plan,
        plan_bytes,
        approval,
    } = refused(env.backend, None, gate(env.root, opts)).await?;
    let approver = record::describe_approval(&approval);
    let digest = Some(plan.digest.as_str());

    // 2b. A plan runs once: refused when an apply of it (its digest, or its nonce) ever
    //     started, before any provider call.
    let earlier = env.backend.applied(&plan.digest, &plan.nonce).await;
    refused(env.backend, digest, not_replayed(&plan, earlier)).await?;

    // 2c. Every proof the apply will write can be written (files only): a proof location
    //     that is a link or not writable is refused before the first mutating call.
    let writable = record::check_writable(env, opts, &plan);
    refused(env.backend, digest, writable).await?;

    // 3. Providers configured, then the stale check: reads only.
    let http = env.creds.http();
    let providers = refused(
        env.backend,
        digest,
        fresh::configure(&plan, env.creds, &http),
    )
    .await?;
    let phase = Instant::now();
    let ledger = env.backend.secret_ledger().await.unwrap_or_default();
    let fresh = fresh::check_fresh(env.root, &plan, &providers, &ledger).await;
    refused(env.backend, digest, fresh).await?;
    let stale_check = millis(phase);

    // 4. Every secret the plan will send is present (names only are checked and named).
    let secrets = fresh::secrets_present(&plan, env.secrets.as_ref());
    refused(env.backend, digest, secrets).await?;

    // 4b. The managed set this apply will update (a tampered one is refused here).
    let managed = refused(env.backend, digest, env.backend.managed().await).await?;

    // 5. The plan is claimed (a concurrent claim of it is refused), then it and its
    //    approval are recorded, all before the first mutating call.
    let claimed = env.backend.claim(&plan.digest, &plan.nonce).await;
    refused(env.backend, digest, not_replayed(&plan, claimed)).await?;
    let plan_record = record::plan_approved(env, opts, &plan, &plan_bytes, &approver).await?;

    // 6. The DAG, from the signed plan alone.
    let phase = Instant::now();
    let actions = run::run(env, opts, guard, &plan, &providers).await?;
    let actions_ms = millis(phase);
    // 6b. The managed set: what this apply created, changed or deleted (issue 14).
    record::managed(env, &plan, &actions, &managed).await?;

    // 7. Re-read: has live state converged to what the plan promised?
    let phase = Instant::now();
    let ledger = env.backend.secret_ledger().await.unwrap_or_default();
    let not_converged = fresh::converged(env.root, &plan, &providers, &ledger)
        .await
        .unwrap_or_else(|e| vec![format!("could not re-read live state: {e}")]);
    let timings = PhaseTimings {
        stale_check,
        actions: actions_ms,
        convergence: millis(phase),
    };

    // 8. The summary proof, the journal's last record and the plan record's status.
    let mut report = ApplyReport {
        plan_digest: plan.digest.clone(),
        approver,
        actions,
        not_converged,
        took_over,
        elapsed: started.elapsed(),
        timings,
    };
    record::finish(env, &report, plan_record, started).await?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The gate of step 2, on the repository's files.
fn gate(root: &Path, opts: &ApplyOptions) -> anyhow::Result<Gated> {
    let gate_opts = GateOptions {
        plan: opts.plan.clone(),
        signatures: opts.signatures.clone(),
        approve: opts.approve.clone(),
    };
    approve::gate(root, &gate_opts, chrono::Utc::now())
}

/// `Ok` when no earlier apply of `plan` is known, else the [`Refusal::Replayed`].
fn not_replayed(plan: &Plan, earlier: anyhow::Result<Option<Applied>>) -> anyhow::Result<()> {
    match earlier.context("reading which plans were applied")? {
        None => Ok(()),
        Some(earlier) => Err(Refusal::Replayed {
            digest: plan.digest.clone(),
            earlier,
        }
        .into()),
    }
}

/// `result`, with a refusal journaled (best effort) when it is one.
async fn refused<T>(
    backend: &Backend,
    digest: Option<&str>,
    result: anyhow::Result<T>,
) -> anyhow::Result<T> {
    if let Err(e) = &result {
        record::journal_refusal(backend, digest, e).await;
    }
    result
}

fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

impl crate::core::hint::Hint for Refusal {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Refusal::Stale { .. } => "re-run `sophia plan` and have the new plan approved".to_string(),
            Refusal::MissingSecrets { .. } => "set them in the environment (GitHub Actions maps repository secrets there); only their names are ever recorded".to_string(),
            _ => return None,
        })
    }
}
