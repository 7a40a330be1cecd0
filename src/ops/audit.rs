//! `sophia report --html FILE`: read what `proofs/` holds — each apply's summary proof, its
//! plan file and attestation, each drift proof — into an [`Audit`] for the page
//! ([`crate::core::render::html`]).

use std::path::Path;

use anyhow::Context as _;

use super::attest;
use crate::core::envelope::{Envelope, Status};
use crate::core::plan;
use crate::core::render::change_symbol;
use crate::core::render::html::{Audit, AuditApply, AuditDrift};

/// Read every apply and drift check under `root`'s `proofs/`, newest first.
pub fn collect(root: &Path, generated_at: String) -> anyhow::Result<Audit> {
    let proofs = root.join("proofs");
    let public_key =
        ssh_key::PublicKey::read_openssh_file(&root.join(attest::PUBLIC_KEY_FILE)).ok();
    let mut applies = Vec::new();
    for dir in sorted_entries(&proofs.join("apply"))? {
        let summary = dir.join("summary.json");
        if !summary.is_file() {
            continue;
        }
        let envelope = read_envelope(&summary)?;
        let hex = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let result = envelope.results.first().cloned().unwrap_or_default();
        let plan_file = proofs.join("plans").join(format!("{hex}.json"));
        let plan = std::fs::read_to_string(&plan_file)
            .ok()
            .and_then(|t| plan::read_plan(&plan_file.display().to_string(), &t).ok());
        let changes = plan
            .as_ref()
            .map(|p| {
                p.changes
                    .iter()
                    .map(|c| (change_symbol(c.action).to_string(), c.address.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let actions = result["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                (
                    a["id"].as_str().unwrap_or_default().to_string(),
                    a["status"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let attestation_file = dir.join(attest::FILE_NAME);
        let attestation = if !attestation_file.is_file() {
            "none".to_string()
        } else {
            match &public_key {
                None => format!("present (no {} to check it)", attest::PUBLIC_KEY_FILE),
                Some(key) => {
                    let text = std::fs::read_to_string(&attestation_file).unwrap_or_default();
                    match crate::proofs::attestation::verify(&text, key) {
                        Ok(_) => "verified".to_string(),
                        Err(e) => format!("INVALID: {e}"),
                    }
                }
            }
        };
        applies.push(AuditApply {
            at: envelope.timestamp.clone(),
            plan_digest: format!("sha256:{hex}"),
            approver: result["approver"].as_str().unwrap_or("unknown").to_string(),
            status: match envelope.status {
                Status::Success => "succeeded",
                _ => "failed",
            }
            .to_string(),
            converged: result["converged"].as_bool().unwrap_or(false),
            changes,
            actions,
            policy: plan.as_ref().and_then(|p| p.policy.as_ref()).map(|v| {
                let deny = v.deny.iter().map(|m| format!("deny: {m}"));
                deny.chain(v.warn.iter().map(|m| format!("warn: {m}")))
                    .collect()
            }),
            cost_delta: plan.as_ref().and_then(|p| p.cost.as_ref()).map(|c| {
                format!(
                    "{} {} a month ({} → {}; Fly prices of {})",
                    c.delta.signed(),
                    c.currency,
                    c.before,
                    c.after,
                    c.prices_date
                )
            }),
            attestation,
        });
    }
    let mut drifts = Vec::new();
    for file in sorted_entries(&proofs.join("drift"))? {
        if file.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let envelope = read_envelope(&file)?;
        let status = match (&envelope.status, envelope.results.first()) {
            (Status::Success, Some(r)) if r["drift"] == true => "drift",
            (Status::Success, _) => "no drift",
            _ => "failed",
        };
        drifts.push(AuditDrift {
            at: envelope.timestamp.clone(),
            status: status.to_string(),
            summary: envelope.summary.text.clone(),
        });
    }
    applies.sort_by(|a, b| b.at.cmp(&a.at));
    drifts.sort_by(|a, b| b.at.cmp(&a.at));
    Ok(Audit {
        applies,
        drifts,
        generated_at,
    })
}

fn read_envelope(path: &Path) -> anyhow::Result<Envelope> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("`{}` is not a proof envelope", path.display()))
}

/// The entries of `dir`, sorted; none when it does not exist.
fn sorted_entries(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<_> = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("listing `{}`", dir.display()))?;
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(root: &Path, hex: &str, at: &str, status: &str) {
        let dir = root.join("proofs/apply").join(hex);
        std::fs::create_dir_all(&dir).unwrap();
        let text = serde_json::json!({
            "status": status, "query": format!("apply sha256:{hex}"),
            "results": [{"approver": format!("signer-{hex}"), "actions": [], "converged": true}],
            "summary": {"text": "", "confidence": 1.0, "model": "", "sources": []},
            "timestamp": at, "execution_time_ms": 1, "errors": [],
        });
        std::fs::write(dir.join("summary.json"), text.to_string()).unwrap();
    }

    #[test]
    fn applies_come_newest_first_with_their_signer_and_status() {
        let tmp = tempfile::tempdir().unwrap();
        summary(tmp.path(), "aa", "2026-01-02T00:00:00.000Z", "success");
        summary(tmp.path(), "bb", "2026-01-03T00:00:00.000Z", "failure");
        summary(tmp.path(), "cc", "2026-01-01T00:00:00.000Z", "success");
        let audit = collect(tmp.path(), "now".into()).unwrap();
        let seen: Vec<_> = audit
            .applies
            .iter()
            .map(|a| {
                (
                    a.approver.as_str(),
                    a.status.as_str(),
                    a.attestation.as_str(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("signer-bb", "failed", "none"),
                ("signer-aa", "succeeded", "none"),
                ("signer-cc", "succeeded", "none"),
            ]
        );
        assert!(audit.drifts.is_empty());
    }
}
