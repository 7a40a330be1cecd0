//! `sophia apply`: open the backend, run the approved plan through the executor
//! ([`crate::apply::apply`]: lock, gate, stale check, the DAG, proofs, convergence), then
//! notify Slack of the result.

use std::path::Path;
use std::sync::Arc;

use super::notify::{self, Notified};
use crate::apply::{ApplyEnv, ApplyOptions, ApplyReport, Progress};
use crate::backend::Backend;
use crate::providers::{Credentials, SecretSource};

/// What `sophia apply` is asked.
pub struct ApplyRequest<'a> {
    /// The repository root.
    pub root: &'a Path,
    /// The backend (`SOPHIA_BACKEND`: `local` or a `postgres://` URL); `None` is local.
    pub backend: Option<&'a str>,
    pub creds: &'a Credentials,
    /// The secret values the plan's actions send (read only when sent).
    pub secrets: Arc<dyn SecretSource>,
    pub options: ApplyOptions,
    /// Told of every action as it ends.
    pub progress: &'a dyn Progress,
    /// The attestation key's text (`SOPHIA_ATTESTATION_KEY`); without it, no attestation.
    pub attestation_key: Option<&'a str>,
}

/// What an apply that got past the gate did.
#[derive(Debug, Clone)]
pub struct Applied {
    pub report: ApplyReport,
    pub notified: Notified,
    /// The attestation written (its path under the root), when a key was given.
    pub attestation: Option<String>,
}

/// Apply an approved plan. An error means nothing was changed (the executor refuses before
/// its first mutating call) or the backend could not be opened.
pub async fn apply(req: &ApplyRequest<'_>) -> anyhow::Result<Applied> {
    let backend = Backend::open(req.root, req.backend).await?;
    let env = ApplyEnv {
        root: req.root,
        creds: req.creds,
        secrets: req.secrets.clone(),
        backend: &backend,
        progress: req.progress,
    };
    // A key that cannot sign is refused before the apply changes anything.
    if let Some(key) = req.attestation_key {
        crate::proofs::attestation::check_key(key)?;
    }
    let report = crate::apply::apply(&env, &req.options).await?;
    let attestation = match req.attestation_key {
        Some(key) => {
            Some(super::attest::attest(req.root, &req.options.plan, &report, &backend, key).await?)
        }
        None => None,
    };
    let text = format!(
        "sophia apply {}: {} succeeded, {} failed, {} skipped; {} (approved by {})",
        report.plan_digest,
        report.count(crate::apply::ActionStatus::Succeeded),
        report.count(crate::apply::ActionStatus::Failed),
        report.count(crate::apply::ActionStatus::Skipped),
        if report.not_converged.is_empty() {
            "live state converged"
        } else {
            "live state has NOT converged"
        },
        report.approver
    );
    let notified = notify::slack_in(req.root, req.creds, &text).await;
    Ok(Applied {
        report,
        notified,
        attestation,
    })
}
