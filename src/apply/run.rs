//! Running the plan's actions: the DAG with bounded parallelism ([`super::dag`]), the lease
//! renewed every third of its TTL while it runs, and each action executed from the signed
//! plan alone — its provider call, its proof and its journal record.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use super::dag::{self, Outcome};
use super::record;
use super::{ActionReport, ActionStatus, ApplyEnv, ApplyOptions};
use crate::backend::{LeaseError, LeaseGuard};
use crate::core::envelope::Status;
use crate::core::plan::{Action, Plan};
use crate::providers::{ActionOutcome, Provider, ProviderError, activation, now_rfc3339};

/// Run every action of `plan`; one report per action, in plan order. Skipped and unstarted
/// actions are journaled here (the others journal their proofs as they finish).
pub(super) async fn run(
    env: &ApplyEnv<'_>,
    opts: &ApplyOptions,
    guard: &mut LeaseGuard,
    plan: &Plan,
    providers: &BTreeMap<String, Provider>,
) -> anyhow::Result<Vec<ActionReport>> {
    env.progress.started(plan.actions.len());
    // Set when a renewal finds the lease taken over (this apply stalled past its TTL and
    // another one started): from then on no action starts, so two applies never act at once.
    let lease_lost: Mutex<Option<String>> = Mutex::new(None);
    let outcomes = {
        let lease_lost = &lease_lost;
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
                    Err(e @ LeaseError::Lost { .. }) => {
                        tracing::error!("{e}: no further action starts");
                        *lease_lost.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                    }
                    Err(e) => tracing::error!("renewing the apply lease: {e}"),
                },
            }
        }
    };
    env.progress.finished();

    let mut reports = Vec::new();
    for (action, (_, outcome)) in plan.actions.iter().zip(outcomes) {
        let status = outcome.status();
        let (message, proof) = match outcome {
            Outcome::Succeeded((text, proof)) => (text, proof),
            Outcome::Failed(msg) => (msg, None),
            Outcome::Skipped { because } => (format!("skipped: `{because}` failed"), None),
            Outcome::NotStarted => ("not started (--fail-fast)".to_string(), None),
        };
        if matches!(status, ActionStatus::Skipped | ActionStatus::NotStarted) {
            record::action_not_run(env.backend, &plan.digest, action, status).await?;
        }
        reports.push(ActionReport {
            action: action.clone(),
            status,
            message,
            proof,
        });
    }
    Ok(reports)
}

/// Execute one action: the provider call, its proof, its journal record. Returns the
/// outcome's text and proof path, or the failure message.
async fn execute_one(
    env: &ApplyEnv<'_>,
    providers: &BTreeMap<String, Provider>,
    plan_digest: &str,
    action: &Action,
) -> Result<(String, Option<String>), String> {
    // The intent first: if it cannot be journaled, the action does not run.
    if let Err(e) = record::action_intent(env.backend, plan_digest, action).await {
        return Err(format!("not started: {e:#}"));
    }
    let started = Instant::now();
    let outcome = match providers.get(action.address.provider()) {
        // Activation validates the provider and updates the repository's record.
        Some(_) if action.kind == crate::core::plan::ActionKind::ProviderActivate => {
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
    let proof = record::write_action_proof(env, plan_digest, action, &envelope).await;
    let status = if outcome.is_success() {
        ActionStatus::Succeeded
    } else {
        ActionStatus::Failed
    };
    env.progress.action_done(action, status.as_str(), millis);
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
