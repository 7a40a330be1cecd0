//! The attestation an apply leaves: `proofs/apply/<digest>/attestation.intoto.json`, a DSSE
//! envelope over an in-toto Statement (subjects: the plan file and every image deployed by
//! digest), signed with `SOPHIA_ATTESTATION_KEY` (an OpenSSH ed25519 private key, given as
//! text) and journaled like every proof, so `proofs verify` notices any changed byte; with
//! the public key in [`PUBLIC_KEY_FILE`], `proofs verify` also checks every signature.

use std::path::Path;

use anyhow::{Context as _, ensure};
use serde_json::json;

use crate::apply::{ActionStatus, ApplyReport};
use crate::backend::Backend;
use crate::core::plan;
use crate::proofs::attestation;
use crate::proofs::journal::NewRecord;
use crate::proofs::safe::RelPath;

/// The variable that holds the signing key's text (never printed).
pub const KEY_ENV: &str = "SOPHIA_ATTESTATION_KEY";

/// The public key `proofs verify` checks attestations with (`ssh-keygen -y -f KEY`).
pub const PUBLIC_KEY_FILE: &str = ".infra/attestation.pub";

/// The name every attestation file has, under `proofs/apply/<digest>/`.
pub const FILE_NAME: &str = "attestation.intoto.json";

/// Sign and write the attestation of an apply of the plan file `plan_path` (under `root`),
/// and journal it. Returns the file's path under `proofs/`.
pub async fn attest(
    root: &Path,
    plan_path: &Path,
    report: &ApplyReport,
    backend: &Backend,
    key_text: &str,
) -> anyhow::Result<String> {
    let bytes = std::fs::read(root.join(plan_path))
        .with_context(|| format!("reading `{}` to attest it", plan_path.display()))?;
    let text = std::str::from_utf8(&bytes).context("the plan file is not UTF-8")?;
    let shown = plan_path.display().to_string();
    let plan = plan::read_plan(&shown, text)?;
    let count = |s| report.actions.iter().filter(|a| a.status == s).count();
    let predicate = json!({
        "plan_digest": report.plan_digest,
        "approver": report.approver,
        "actions": {
            "succeeded": count(ActionStatus::Succeeded),
            "failed": count(ActionStatus::Failed),
            "skipped": count(ActionStatus::Skipped),
            "not_started": count(ActionStatus::NotStarted),
        },
        "converged": report.not_converged.is_empty(),
        "finished_at": plan::rfc3339(chrono::Utc::now()),
    });
    let name = plan_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or(shown);
    let statement = attestation::statement(&plan, &name, &bytes, predicate);
    let envelope = attestation::sign(&statement, key_text)?;
    let mut out = serde_json::to_string_pretty(&envelope).expect("an envelope serializes");
    out.push('\n');
    let hex = report.plan_digest.trim_start_matches("sha256:");
    let rel = RelPath::parse(&format!("apply/{hex}/{FILE_NAME}"))
        .with_context(|| format!("naming the attestation of `{}`", report.plan_digest))?;
    let proof = backend
        .proofs()
        .write_at(&rel, out.as_bytes())
        .context("writing the attestation")?;
    backend
        .append(
            NewRecord::now("apply.attestation", "success")
                .plan(report.plan_digest.clone())
                .proof(proof),
        )
        .await
        .context("journaling the attestation")?;
    Ok(format!("proofs/apply/{hex}/{FILE_NAME}"))
}

/// Check every attestation under `proofs/apply/` with [`PUBLIC_KEY_FILE`]; `Ok(n)` is how
/// many were checked (0 without the public key file: the journal's hashes still cover them).
pub fn verify_all(root: &Path) -> anyhow::Result<usize> {
    let key_path = root.join(PUBLIC_KEY_FILE);
    if !key_path.is_file() {
        return Ok(0);
    }
    let key = ssh_key::PublicKey::read_openssh_file(&key_path)
        .with_context(|| format!("reading `{PUBLIC_KEY_FILE}`"))?;
    let dir = root.join("proofs/apply");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(0);
    };
    let mut checked = 0;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path().join(FILE_NAME))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    for path in paths {
        let shown = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading `{shown}`"))?;
        let statement = attestation::verify(&text, &key)
            .with_context(|| format!("`{shown}` does not verify with `{PUBLIC_KEY_FILE}`"))?;
        let dir_hex = path
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        ensure!(
            statement["predicate"]["plan_digest"] == format!("sha256:{dir_hex}"),
            "`{shown}` attests another plan than its folder names"
        );
        checked += 1;
    }
    Ok(checked)
}
