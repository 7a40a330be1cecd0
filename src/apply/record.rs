//! What the executor writes down: the approved plan before the first mutating call, one
//! proof and journal record per action, the refusals, and at the end the summary proof, the
//! `apply.finish` record and the plan record's final status. Proof files are written
//! atomically through the backend's proof store; the journal is the backend's.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use serde_json::json;

use super::{ActionReport, ApplyEnv, ApplyOptions, ApplyReport};
use crate::approve;
use crate::backend::{Backend, PlanRecord};
use crate::core::address::Address;
use crate::core::envelope::{Envelope, EnvelopeError, Status};
use crate::core::plan::{Action, Plan};
use crate::proofs::{NewRecord, ProofKind, ProofRef, RelPath};
use crate::providers::now_rfc3339;

/// Store the approved plan (with its signatures and approver) and journal it, then journal
/// the start of the apply. Returns the plan record, to be updated by [`finish`].
pub(super) async fn plan_approved(
    env: &ApplyEnv<'_>,
    opts: &ApplyOptions,
    plan: &Plan,
    plan_bytes: &[u8],
    approver: &str,
) -> anyhow::Result<PlanRecord> {
    let record = PlanRecord {
        digest: plan.digest.clone(),
        plan: String::from_utf8_lossy(plan_bytes).into_owned(),
        signatures: signature_texts(env.root, &opts.signatures, &opts.plan),
        approver: Some(approver.to_string()),
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
    Ok(record)
}

/// Journal an action that never ran (skipped, or not started): it has no proof file.
pub(super) async fn action_not_run(
    backend: &Backend,
    plan_digest: &str,
    action: &Action,
    status: super::ActionStatus,
) -> anyhow::Result<()> {
    backend
        .append(
            NewRecord::now(action.kind.as_str(), status.as_str())
                .plan(plan_digest)
                .address(&action.address),
        )
        .await
        .context("journaling a skipped action")?;
    Ok(())
}

/// Write an action's proof under `proofs/apply/<digest>/` and journal it; then the original
/// layout's own copy for health checks and branch protection (`healthz/<app>.json`,
/// `github/…`). The copy is the *latest result* of that check, as the front door's
/// `op fly health` also writes it: it is not journaled (the journaled file under `apply/`
/// holds the same bytes), so a later front-door check rewriting it leaves the chain intact.
pub(super) async fn write_action_proof(
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
    let mut first: Option<ProofRef> = None;
    for kind in action_proof_kinds(plan_digest, action) {
        // Written off the async threads (an fsync'd atomic write): the DAG's other actions
        // all run in this task and would wait for the disk otherwise.
        let (store, bytes) = (store.clone(), bytes.clone());
        let proof = tokio::task::spawn_blocking(move || store.write(&kind, &bytes))
            .await
            .context("the proof write task")??;
        if first.is_some() {
            continue;
        }
        env.backend
            .append(
                NewRecord::now(action.kind.as_str(), status)
                    .plan(plan_digest)
                    .address(&action.address)
                    .proof(proof.clone()),
            )
            .await?;
        first = Some(proof);
    }
    Ok(first
        .map(|p| p.path().as_str().to_string())
        .unwrap_or_default())
}

/// The proofs of one action: `proofs/apply/<hex>/<action id>.json`, plus the original
/// layout's own file for health checks and branch protection.
fn action_proof_kinds(plan_digest: &str, action: &Action) -> Vec<ProofKind> {
    let mut kinds = vec![ProofKind::ApplyAction {
        plan_digest: plan_digest.to_string(),
        action_id: action.id.0.clone(),
    }];
    match &action.address {
        Address::FlyMachines { app } | Address::FlyProcess { app, .. }
            if action.kind == crate::core::plan::ActionKind::FlyHealthCheck =>
        {
            kinds.push(ProofKind::Healthz { app: app.clone() })
        }
        Address::GithubProtection { repo, branch } => kinds.push(ProofKind::GithubProtection {
            repo: repo.clone(),
            branch: branch.clone(),
        }),
        _ => {}
    }
    kinds
}

/// Journal the intent to run an action, before its first call (issue 18, finding 6): a
/// crash, or a proof that cannot be written, then still leaves evidence that the call may
/// have happened. Its outcome record (the action's kind and address again, with its status
/// and proof) follows; `proofs verify` reports an intent without one.
pub(super) async fn action_intent(
    backend: &Backend,
    plan_digest: &str,
    action: &Action,
) -> anyhow::Result<()> {
    backend
        .append(
            NewRecord::now(action.kind.as_str(), crate::proofs::journal::INTENT_STATUS)
                .plan(plan_digest)
                .address(&action.address),
        )
        .await
        .context("journaling the intent to run an action")?;
    Ok(())
}

/// Refuse, before the first mutating call, an apply that could not write one of its proofs:
/// each action's, the summary, the plan record's files and (local backend) the journal.
pub(super) fn check_writable(
    env: &ApplyEnv<'_>,
    opts: &ApplyOptions,
    plan: &Plan,
) -> anyhow::Result<()> {
    let store = env.backend.proofs();
    let digest = plan.digest.clone();
    let mut kinds: Vec<ProofKind> = plan
        .actions
        .iter()
        .flat_map(|a| action_proof_kinds(&digest, a))
        .collect();
    kinds.push(ProofKind::Plan {
        digest: digest.clone(),
    });
    let signatures = signature_texts(env.root, &opts.signatures, &opts.plan).len();
    kinds.extend((0..signatures).map(|index| ProofKind::PlanSignature {
        digest: digest.clone(),
        index,
    }));
    kinds.push(ProofKind::PlanRecord {
        digest: digest.clone(),
    });
    let mut locations = kinds
        .iter()
        .map(|k| store.path_of(k))
        .collect::<anyhow::Result<Vec<RelPath>>>()?;
    locations.push(apply_summary_path(&digest)?);
    if matches!(env.backend, Backend::Local { .. }) {
        locations.push(RelPath::parse(crate::proofs::journal::JOURNAL_FILE)?);
    }
    crate::proofs::writable::check_writable(store.root(), &locations)
        .map_err(|not_writable| super::Refusal::ProofsNotWritable { not_writable })?;
    Ok(())
}

/// The end of an apply: the summary proof (`proofs/apply/<hex>/summary.json`), the
/// `apply.finish` journal record, and the plan record's final status (`applied` | `failed`).
pub(super) async fn finish(
    env: &ApplyEnv<'_>,
    report: &ApplyReport,
    mut record: PlanRecord,
    started: Instant,
) -> anyhow::Result<()> {
    let ok = report.succeeded();
    let digest = report.plan_digest.as_str();
    let summary = json!({
        "plan_digest": digest,
        "approver": report.approver,
        "actions": report.actions.iter().map(|a| json!({
            "id": a.action.id, "address": a.action.address, "status": a.status,
            "message": a.message, "proof": a.proof,
        })).collect::<Vec<_>>(),
        "converged": report.not_converged.is_empty(),
        "not_converged": report.not_converged,
        "timings_ms": report.timings,
    });
    let envelope = if ok {
        Envelope::success(
            format!("apply {digest}"),
            vec![summary],
            format!("{} actions succeeded", report.actions.len()),
            now_rfc3339(),
            started.elapsed().as_millis() as u64,
        )
    } else {
        let mut failed = Envelope::failure(
            format!("apply {digest}"),
            report
                .actions
                .iter()
                .filter(|a| a.status == super::ActionStatus::Failed)
                .map(failure)
                .collect(),
            "some actions failed",
            now_rfc3339(),
            started.elapsed().as_millis() as u64,
        );
        failed.results = vec![summary];
        failed
    };
    let rel = apply_summary_path(digest)?;
    let proof = env
        .backend
        .proofs()
        .write_at(&rel, &pretty(&envelope))
        .context("writing the apply summary proof")?;
    let finished = if ok && report.not_converged.is_empty() {
        "success"
    } else {
        "failure"
    };
    env.backend
        .append(
            NewRecord::now("apply.finish", finished)
                .plan(digest)
                .proof(proof),
        )
        .await
        .context("journaling the end of the apply")?;
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
                    .plan(digest)
                    .proof(proof),
            )
            .await
            .context("journaling the plan record")?;
    }
    Ok(())
}

fn failure(a: &ActionReport) -> EnvelopeError {
    EnvelopeError::new(a.action.address.provider(), "action-failed", &a.message)
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
pub(super) fn describe_approval(approval: &approve::Approval) -> String {
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
pub(super) async fn journal_refusal(backend: &Backend, digest: Option<&str>, err: &anyhow::Error) {
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

/// Record the managed set after the actions: the changes whose actions all succeeded are
/// added, refreshed or (deleted) removed, with the plan's `protect` flags
/// ([`crate::core::lifecycle::record`]). A change without actions of its own (what a deleted
/// Fly app takes with it) follows its app's delete. Journaled only when the set changes.
pub(super) async fn managed(
    env: &ApplyEnv<'_>,
    plan: &Plan,
    actions: &[ActionReport],
    before: &crate::core::lifecycle::ManagedSet,
) -> anyhow::Result<()> {
    use super::ActionStatus;
    let ok = |a: &Address| {
        actions
            .iter()
            .filter(|r| &r.action.address == a)
            .all(|r| r.status == ActionStatus::Succeeded)
    };
    let has_own = |a: &Address| actions.iter().any(|r| &r.action.address == a);
    let done = plan
        .changes
        .iter()
        .map(|c| &c.address)
        .filter(|a| {
            if has_own(a) {
                return ok(a);
            }
            match crate::core::plan::facts::fly_app(a) {
                Some(app) => ok(&Address::FlyApp {
                    app: app.to_string(),
                }),
                None => true,
            }
        })
        .cloned()
        .collect();
    let after = crate::core::lifecycle::record(before, plan, &done);
    if &after != before {
        env.backend
            .store_managed(&plan.digest, &after)
            .await
            .context("recording the managed set")?;
    }
    Ok(())
}
