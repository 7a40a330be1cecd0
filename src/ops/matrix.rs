//! `sophia matrix`: each provider's activation and secret status (names only), written to
//! `proofs/secrets/matrix.json` in the normalized envelope.

use std::path::Path;
use std::time::Instant;

use crate::core::envelope::Envelope;
use crate::core::matrix;
use crate::secrets;

/// Where the matrix is written, relative to the repository root (the original layout).
pub const MATRIX_PATH: &str = "proofs/secrets/matrix.json";

/// What `sophia matrix` wrote.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// The envelope as written (pretty JSON, every secret value redacted).
    pub text: String,
    /// One sentence: how many providers are ready.
    pub summary: String,
}

/// Compute the secrets matrix of the repository at `root` from the environment, and write it.
pub fn matrix(root: &Path) -> anyhow::Result<Matrix> {
    let started = Instant::now();
    let desired = crate::workspace::load_desired(root)?;
    let map = secrets::load_map(root)?;
    let present = secrets::present_from_env(&map);
    let activations = desired.managed().into_iter().collect();
    let rows = matrix::compute(&map, &activations, &present);
    let summary = matrix::summary(&rows);
    let env = Envelope::success(
        "secrets.matrix",
        rows.iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()?,
        summary.clone(),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        started.elapsed().as_millis() as u64,
    );
    // Names only by construction; the redactor is the second line of defence.
    let text = secrets::Redactor::from_env(&map).redact(&serde_json::to_string_pretty(&env)?);
    secrets::write_atomic(&root.join(MATRIX_PATH), format!("{text}\n").as_bytes())?;
    Ok(Matrix { text, summary })
}
