//! The executor (DESIGN.md, "Apply"): one idempotent attempt to realize an approved plan.
//!
//! ```text
//! lease ▸ gate (digest, expiry, approval) ▸ providers configured ▸ stale check (re-read every
//! address the plan fingerprinted) ▸ secrets present ▸ plan stored ▸ DAG (bounded parallelism,
//! proofs + journal per action) ▸ re-read, converged? ▸ lease released
//! ```
//!
//! Nothing mutating happens before the stale check passes: the gate reads files only, the
//! stale check only reads providers. Running the same desired state again after a partial
//! failure plans exactly the remaining work, because every action is idempotent (its
//! provider checks before it creates) and the plan is made from live state.
//!
//! - [`dag`]: running the action DAG with bounded parallelism, skipping the dependents of a
//!   failed action.

pub mod dag;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::approve::{self, GateOptions, Gated};
use crate::backend::{Backend, Holder, LeaseError, PlanRecord};
use crate::core::address::Address;
use crate::core::desired::ProviderName;
use crate::core::digest;
use crate::core::envelope::{Envelope, EnvelopeError, Status};
use crate::core::plan::{Action, ActionKind, ChangeKind, Plan};
use crate::proofs::{NewRecord, ProofKind, ProofRef, RelPath};
use crate::providers::{
    ActionOutcome, Credentials, Http, Provider, ProviderError, SecretSource, activation,
    now_rfc3339,
};
use dag::Outcome;

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
    #[error("the plan is stale: live state changed since it was made\n{}\n  hint: re-run `sophia plan` and have the new plan approved", .changes.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n"))]
    Stale { changes: Vec<String> },
    #[error("cannot read live state to check the plan is fresh:\n{}", .errors.iter().map(|e| format!("  {}: {} ({})", e.provider, e.message, e.code)).collect::<Vec<_>>().join("\n"))]
    Unreadable { errors: Vec<EnvelopeError> },
    #[error("secrets the plan sends are not set: {}\n  hint: set them in the environment (GitHub Actions maps repository secrets there); only their names are ever recorded", .names.join(", "))]
    MissingSecrets { names: Vec<String> },
    #[error("the plan has actions of `{provider}`, which this build of sophia cannot execute")]
    UnsupportedProvider { provider: String },
}

/// What one action did.
#[derive(Debug, Clone)]
pub struct ActionReport {
    pub action: Action,
    /// `succeeded`, `failed`, `skipped`, `not-started`.
    pub status: &'static str,
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
        self.actions.iter().all(|a| a.status == "succeeded")
    }

    pub fn count(&self, status: &str) -> usize {
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

async fn gated_apply(
    env: &ApplyEnv<'_>,
    opts: &ApplyOptions,
    guard: &mut crate::backend::LeaseGuard,
    started: Instant,
    took_over: Option<String>,
) -> anyhow::Result<ApplyReport> {
    // 2. Digest, expiry and approval: files only.
    let gate_opts = GateOptions {
        plan: opts.plan.clone(),
        signatures: opts.signatures.clone(),
        approve: opts.approve.clone(),
    };
    let Gated {
        plan,
        plan_bytes,
        approval,
    } = match approve::gate(env.root, &gate_opts, chrono::Utc::now()) {
        Ok(g) => g,
        Err(e) => {
            journal_refusal(env.backend, None, &e).await;
            return Err(e);
        }
    };
    let approver = describe_approval(&approval);

    // 3. Providers, then the stale check: reads only.
    let http = env.creds.http();
    let providers = match configure(&plan, env.creds, &http) {
        Ok(p) => p,
        Err(e) => {
            journal_refusal(env.backend, Some(&plan.digest), &e).await;
            return Err(e);
        }
    };
    let phase = Instant::now();
    if let Err(e) = check_fresh(env.root, &plan, &providers).await {
        journal_refusal(env.backend, Some(&plan.digest), &e).await;
        return Err(e);
    }
    let stale_check_ms = phase.elapsed().as_millis() as u64;
    // 4. Every secret the plan will send is present (names only are checked and named).
    let missing = missing_secrets(&plan, env.secrets.as_ref());
    if !missing.is_empty() {
        let e = anyhow::Error::new(Refusal::MissingSecrets { names: missing });
        journal_refusal(env.backend, Some(&plan.digest), &e).await;
        return Err(e);
    }

    // 5. The plan and its approval are recorded before the first mutating call.
    let record = PlanRecord {
        digest: plan.digest.clone(),
        plan: String::from_utf8_lossy(&plan_bytes).into_owned(),
        signatures: signature_texts(env.root, &opts.signatures, &opts.plan),
        approver: Some(approver.clone()),
        status: "approved".into(),
    };
    let stored = env
        .backend
        .store_plan(&record)
        .await
        .context("storing the approved plan")?;
    for proof in stored {
        env.backend
            .append(
                NewRecord::now("plan.approved", "success")
                    .plan(&plan.digest)
                    .proof(proof),
            )
            .await
            .context("journaling the approved plan")?;
    }
    env.backend
        .append(NewRecord::now("apply.start", "success").plan(&plan.digest))
        .await
        .context("journaling the start of the apply")?;

    // 6. The DAG, renewing the lease every third of its TTL while it runs.
    env.progress.started(plan.actions.len());
    let phase = Instant::now();
    // Set when a renewal finds the lease taken over (this apply stalled past its TTL and
    // another one started): from then on no action starts, so two applies never act at once.
    let lease_lost: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let outcomes = {
        let (providers, lease_lost) = (&providers, &lease_lost);
        let digest = plan.digest.as_str();
        let run = dag::run(
            &plan.actions,
            opts.parallelism,
            opts.fail_fast,
            |action| async move {
                let lost = lease_lost.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let Some(why) = lost {
                    return Err(format!("not started: {why}"));
                }
                execute_one(env, providers, digest, action).await
            },
        );
        tokio::pin!(run);
        let mut tick = tokio::time::interval(opts.lease_ttl / 3);
        tick.tick().await; // the first tick is immediate
        loop {
            tokio::select! {
                out = &mut run => break out,
                _ = tick.tick() => match guard.renew(opts.lease_ttl).await {
                    Ok(()) => {}
                    Err(e @ crate::backend::LeaseError::Lost { .. }) => {
                        tracing::error!("{e}: no further action starts");
                        *lease_lost.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                    }
                    Err(e) => tracing::error!("renewing the apply lease: {e}"),
                },
            }
        }
    };
    env.progress.finished();
    let actions_ms = phase.elapsed().as_millis() as u64;

    let mut actions = Vec::new();
    for (action, (_, outcome)) in plan.actions.iter().zip(outcomes) {
        let (message, proof) = match &outcome {
            Outcome::Succeeded((text, proof)) => (text.clone(), proof.clone()),
            Outcome::Failed(msg) => (msg.clone(), None),
            Outcome::Skipped { because } => (format!("skipped: `{because}` failed"), None),
            Outcome::NotStarted => ("not started (--fail-fast)".to_string(), None),
        };
        if matches!(outcome, Outcome::Skipped { .. } | Outcome::NotStarted) {
            env.backend
                .append(
                    NewRecord::now(action.kind.as_str(), outcome.label())
                        .plan(&plan.digest)
                        .address(&action.address),
                )
                .await
                .context("journaling a skipped action")?;
        }
        actions.push(ActionReport {
            action: action.clone(),
            status: outcome.label(),
            message,
            proof,
        });
    }

    // 7. Re-read and record whether live state converged to what the plan promised.
    let phase = Instant::now();
    let not_converged = match converged(env.root, &plan, &providers).await {
        Ok(list) => list,
        Err(e) => vec![format!("could not re-read live state: {e}")],
    };
    let timings = PhaseTimings {
        stale_check: stale_check_ms,
        actions: actions_ms,
        convergence: phase.elapsed().as_millis() as u64,
    };
    let ok = actions.iter().all(|a| a.status == "succeeded");
    let summary = json!({
        "plan_digest": plan.digest,
        "approver": approver,
        "actions": actions.iter().map(|a| json!({
            "id": a.action.id, "address": a.action.address, "status": a.status,
            "message": a.message, "proof": a.proof,
        })).collect::<Vec<_>>(),
        "converged": not_converged.is_empty(),
        "not_converged": not_converged,
        "timings_ms": timings,
    });
    let envelope = if ok {
        Envelope::success(
            format!("apply {}", plan.digest),
            vec![summary],
            format!("{} actions succeeded", actions.len()),
            now_rfc3339(),
            started.elapsed().as_millis() as u64,
        )
    } else {
        let mut env_ = Envelope::failure(
            format!("apply {}", plan.digest),
            actions
                .iter()
                .filter(|a| a.status == "failed")
                .map(|a| {
                    EnvelopeError::new(a.action.address.provider(), "action-failed", &a.message)
                })
                .collect(),
            "some actions failed",
            now_rfc3339(),
            started.elapsed().as_millis() as u64,
        );
        env_.results = vec![summary];
        env_
    };
    let rel = apply_summary_path(&plan.digest)?;
    let proof = env
        .backend
        .proofs()
        .write_at(&rel, &pretty(&envelope))
        .context("writing the apply summary proof")?;
    env.backend
        .append(
            NewRecord::now(
                "apply.finish",
                if ok && not_converged.is_empty() {
                    "success"
                } else {
                    "failure"
                },
            )
            .plan(&plan.digest)
            .proof(proof),
        )
        .await
        .context("journaling the end of the apply")?;
    let mut record = record;
    record.status = if ok { "applied" } else { "failed" }.into();
    for proof in env
        .backend
        .store_plan(&record)
        .await
        .context("updating the plan record")?
    {
        env.backend
            .append(
                NewRecord::now("plan.record", "success")
                    .plan(&plan.digest)
                    .proof(proof),
            )
            .await
            .context("journaling the plan record")?;
    }

    Ok(ApplyReport {
        plan_digest: plan.digest.clone(),
        approver,
        actions,
        not_converged,
        took_over,
        elapsed: started.elapsed(),
        timings,
    })
}

/// The providers the plan touches, configured; a provider without credentials refuses the
/// whole apply (before any call) with the normalized `not-configured` error.
fn configure(
    plan: &Plan,
    creds: &Credentials,
    http: &Http,
) -> anyhow::Result<BTreeMap<String, Provider>> {
    let names: BTreeSet<&str> = plan
        .live
        .keys()
        .map(Address::provider)
        .chain(plan.actions.iter().map(|a| a.address.provider()))
        .collect();
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for name in names {
        let Some(p) = ProviderName::parse(name) else {
            return Err(Refusal::UnsupportedProvider {
                provider: name.to_string(),
            }
            .into());
        };
        match Provider::configure(p, creds, http) {
            Some(Ok(provider)) => {
                out.insert(name.to_string(), provider);
            }
            Some(Err(e)) => errors.push(e.envelope_error()),
            None => {
                return Err(Refusal::UnsupportedProvider {
                    provider: name.to_string(),
                }
                .into());
            }
        }
    }
    if !errors.is_empty() {
        return Err(Refusal::Unreadable { errors }.into());
    }
    Ok(out)
}

/// Re-read every address of `addresses`, grouped by provider. `provider.<p>` reads as
/// active when its provider answers (the rule `refresh_all` applies).
async fn read_live(
    root: &Path,
    addresses: &[Address],
    providers: &BTreeMap<String, Provider>,
) -> Result<BTreeMap<Address, Value>, Vec<EnvelopeError>> {
    let mut by_provider: BTreeMap<&str, Vec<Address>> = BTreeMap::new();
    for a in addresses {
        by_provider.entry(a.provider()).or_default().push(a.clone());
    }
    // The activation record rules `provider.<p>` (see `providers::activation`).
    let record = activation::read_repo(root)
        .map_err(|e| vec![EnvelopeError::new("sophia", "internal", format!("{e:#}"))])?;
    let record = &record;
    let reads = by_provider.into_iter().map(|(name, addrs)| async move {
        let Some(provider) = providers.get(name) else {
            return Err(ProviderError::new(
                name,
                "not-configured",
                "provider not configured",
            ));
        };
        let mut found = provider.refresh(&addrs).await?;
        for a in &addrs {
            if matches!(a, Address::Provider { .. }) {
                found.insert(a.clone(), activation::live_object(record, a.provider()));
            }
        }
        Ok(found)
    });
    let mut live = BTreeMap::new();
    let mut errors = Vec::new();
    for result in futures::future::join_all(reads).await {
        match result {
            Ok(found) => live.extend(found),
            Err(e) => errors.push(e.envelope_error()),
        }
    }
    if errors.is_empty() {
        Ok(live)
    } else {
        Err(errors)
    }
}

/// Refuse a plan whose fingerprinted live state has moved, naming each changed address and
/// what changed.
async fn check_fresh(
    root: &Path,
    plan: &Plan,
    providers: &BTreeMap<String, Provider>,
) -> anyhow::Result<()> {
    let addresses: Vec<Address> = plan.live.keys().cloned().collect();
    let live = read_live(root, &addresses, providers)
        .await
        .map_err(|errors| Refusal::Unreadable { errors })?;
    let before: BTreeMap<&Address, &Value> = plan
        .changes
        .iter()
        .map(|c| (&c.address, &c.before))
        .collect();
    let mut changes = Vec::new();
    for (address, fingerprint) in &plan.live {
        let now = live.get(address).cloned().unwrap_or(Value::Null);
        if &digest::sha256_canonical(&now) == fingerprint {
            continue;
        }
        let what = match before.get(address) {
            Some(b) => describe_change(b, &now),
            None => "changed since the plan was made".to_string(),
        };
        changes.push(format!("{address}: {what}"));
    }
    if changes.is_empty() {
        Ok(())
    } else {
        Err(Refusal::Stale { changes }.into())
    }
}

/// A short account of how a live object moved: created, deleted, or the attributes that
/// differ (at most five named).
fn describe_change(before: &Value, now: &Value) -> String {
    match (before, now) {
        (Value::Null, _) => "now exists (it was absent when the plan was made)".into(),
        (_, Value::Null) => "no longer exists".into(),
        _ => {
            let mut paths = Vec::new();
            differing_paths("", before, now, &mut paths);
            let shown: Vec<String> = paths.iter().take(5).map(|p| format!("`{p}`")).collect();
            let more = paths.len().saturating_sub(5);
            format!(
                "{} changed{}",
                shown.join(", "),
                if more > 0 {
                    format!(" (and {more} more)")
                } else {
                    String::new()
                }
            )
        }
    }
}

fn differing_paths(prefix: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                differing_paths(
                    &path,
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ if a != b => out.push(if prefix.is_empty() {
            "(value)".into()
        } else {
            prefix.to_string()
        }),
        _ => {}
    }
}

/// The secret names the plan's actions send, and which of them have no value.
pub fn missing_secrets(plan: &Plan, secrets: &dyn SecretSource) -> Vec<String> {
    let mut needed = BTreeSet::new();
    for a in &plan.actions {
        match (a.kind.as_str(), &a.address) {
            ("github.secret.put", Address::GithubSecret { name, .. }) => {
                needed.insert(name.clone());
            }
            ("fly.secrets.set", _) => {
                for key in ["names", "secret_names"] {
                    if let Some(Value::Array(items)) = a.params.get(key) {
                        needed.extend(items.iter().filter_map(|v| v.as_str().map(String::from)));
                    }
                }
            }
            _ => {}
        }
    }
    needed
        .into_iter()
        .filter(|n| secrets.value(n).is_none())
        .collect()
}

/// Execute one action: the provider call, its proof, its journal record. Returns the
/// outcome's text and proof path, or the failure message.
async fn execute_one(
    env: &ApplyEnv<'_>,
    providers: &BTreeMap<String, Provider>,
    plan_digest: &str,
    action: &Action,
) -> Result<(String, Option<String>), String> {
    let started = Instant::now();
    let outcome = match providers.get(action.address.provider()) {
        // Activation validates the provider and updates the repository's record.
        Some(_) if action.kind == ActionKind::ProviderActivate => {
            activation::execute_in(env.root, action, env.creds).await
        }
        Some(p) => p.execute(action, env.secrets.as_ref()).await,
        None => ActionOutcome::failure(ProviderError::new(
            action.address.provider(),
            "not-configured",
            "provider not configured",
        )),
    };
    let millis = started.elapsed().as_millis() as u64;
    let envelope = outcome.envelope(
        format!("apply {} {}", action.kind, action.address),
        now_rfc3339(),
        millis,
    );
    let proof = write_action_proof(env, plan_digest, action, &envelope).await;
    let label = if outcome.is_success() {
        "succeeded"
    } else {
        "failed"
    };
    env.progress.action_done(action, label, millis);
    let proof = match proof {
        Ok(p) => p,
        Err(e) => {
            return Err(format!(
                "{}; and its proof could not be written: {e:#}",
                outcome.text
            ));
        }
    };
    if outcome.status == Status::Success {
        Ok((outcome.text, Some(proof)))
    } else {
        Err(outcome.text)
    }
}

/// Write an action's proof (under `proofs/apply/<digest>/`, plus the original layout's own
/// file for health checks and branch protection) and journal each file.
async fn write_action_proof(
    env: &ApplyEnv<'_>,
    plan_digest: &str,
    action: &Action,
    envelope: &Envelope,
) -> anyhow::Result<String> {
    let bytes = pretty(envelope);
    let status = match envelope.status {
        Status::Success => "success",
        Status::Failure => "failure",
    };
    let store = env.backend.proofs();
    let mut kinds = vec![ProofKind::ApplyAction {
        plan_digest: plan_digest.to_string(),
        action_id: action.id.0.clone(),
    }];
    match &action.address {
        Address::FlyMachines { app } if action.kind == ActionKind::FlyHealthCheck => {
            kinds.push(ProofKind::Healthz { app: app.clone() })
        }
        Address::GithubProtection { repo, branch } => kinds.push(ProofKind::GithubProtection {
            repo: repo.clone(),
            branch: branch.clone(),
        }),
        _ => {}
    }
    let mut first: Option<ProofRef> = None;
    for kind in kinds {
        // Written off the async threads (an fsync'd atomic write): the DAG's other actions
        // all run in this task and would wait for the disk otherwise.
        let (store, bytes) = (store.clone(), bytes.clone());
        let proof = tokio::task::spawn_blocking(move || store.write(&kind, &bytes))
            .await
            .context("the proof write task")??;
        env.backend
            .append(
                NewRecord::now(action.kind.as_str(), status)
                    .plan(plan_digest)
                    .address(&action.address)
                    .proof(proof.clone()),
            )
            .await?;
        first.get_or_insert(proof);
    }
    Ok(first
        .map(|p| p.path().as_str().to_string())
        .unwrap_or_default())
}

/// After the run: every changed address's live object now matches what the plan promised.
async fn converged(
    root: &Path,
    plan: &Plan,
    providers: &BTreeMap<String, Provider>,
) -> anyhow::Result<Vec<String>> {
    let addresses: Vec<Address> = plan.changes.iter().map(|c| c.address.clone()).collect();
    let live = read_live(root, &addresses, providers)
        .await
        .map_err(|errors| {
            anyhow::anyhow!(
                "{}",
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.provider, e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?;
    let mut off = Vec::new();
    for change in &plan.changes {
        let want = if change.action == ChangeKind::Delete {
            Value::Null
        } else {
            change.after.clone()
        };
        if crate::core::diff::diff_one(&change.address, &want, live.get(&change.address))?.is_some()
        {
            off.push(change.address.to_string());
        }
    }
    Ok(off)
}

/// The texts of the signature files used, to store with the plan record.
fn signature_texts(root: &Path, given: &[PathBuf], plan: &Path) -> Vec<String> {
    let given: Vec<PathBuf> = given.iter().map(|p| root.join(p)).collect();
    approve::signature_paths(&root.join(plan), &given)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

/// Who approved, for the record: the signers' principals and key fingerprints, or the
/// digest approval.
fn describe_approval(approval: &approve::Approval) -> String {
    if approval.signers.is_empty() {
        return format!("digest approval of {}", approval.plan_digest);
    }
    approval
        .signers
        .iter()
        .map(|s| format!("{} ({} {})", s.principal, s.key_type, s.fingerprint))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Journal a refused apply (best effort: the refusal itself is what the user must see).
async fn journal_refusal(backend: &Backend, digest: Option<&str>, err: &anyhow::Error) {
    let mut record = NewRecord::now("apply.refused", "failure");
    if let Some(d) = digest {
        record = record.plan(d);
    }
    if let Err(e) = backend.append(record).await {
        tracing::warn!("journaling the refusal ({err}): {e}");
    }
}

fn apply_summary_path(digest: &str) -> anyhow::Result<RelPath> {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    RelPath::parse(&format!("apply/{hex}/summary.json"))
        .with_context(|| format!("naming the summary proof of `{digest}`"))
}

fn pretty(envelope: &Envelope) -> Vec<u8> {
    let mut text = serde_json::to_string_pretty(envelope).expect("an envelope serializes");
    text.push('\n');
    text.into_bytes()
}
