//! `sophia proofs verify`: check the hash-chained journal (the local `proofs/journal.jsonl`,
//! or the PostgreSQL journal) and every proof file it references, and the apply
//! attestations' signatures ([`super::attest::verify_all`]).
//!
//! With PostgreSQL the files are looked for in this checkout's `proofs/`: runners that
//! share one database must also share their proof files (commit them), or verify reports
//! the files written elsewhere as missing.

use std::path::Path;

use crate::backend::Backend;
use crate::proofs::VerifyReport;

/// What `sophia proofs verify` is asked.
#[derive(Debug, Clone)]
pub struct VerifyRequest<'a> {
    /// The repository root.
    pub root: &'a Path,
    /// The backend (`SOPHIA_BACKEND`); `None` is local.
    pub backend: Option<&'a str>,
    /// Also require the journal's head (the hash of its last record) to be this.
    pub head: Option<&'a str>,
}

/// Verify the journal and its proof files, then (with `.infra/attestation.pub`) the
/// signature of every apply's attestation. A failed journal check is a
/// [`crate::proofs::VerifyError`] inside the error.
pub async fn verify(req: &VerifyRequest<'_>) -> anyhow::Result<VerifyReport> {
    let backend = Backend::open(req.root, req.backend).await?;
    let report = backend.verify(req.head).await?;
    super::attest::verify_all(req.root)?;
    Ok(report)
}
