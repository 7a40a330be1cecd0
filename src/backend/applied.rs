//! A plan runs once (issue 18, finding 3): which plans an apply has already started.
//!
//! An apply claims its plan — digest and nonce — under the lease, after the gate and before
//! its first mutating call; a later apply of the same plan (the same digest, or the same
//! nonce under a re-computed digest) is refused before any provider call, naming when the
//! first one started. A plan whose apply failed part-way is refused too: DESIGN.md's apply
//! is one attempt, and running the same desired state again plans exactly the remaining
//! work, which a new plan (a new nonce, a new approval) then carries.
//!
//! - local: derived from the hash-chained journal — every `apply.start` record names the
//!   claimed digest, and the plan file journaled with it (`proofs/plans/<hex>.json`) holds
//!   its nonce. Nothing new to keep in sync, and an edit of either fails `proofs verify`.
//! - PostgreSQL: the table `sophia_applied` (digest primary key, nonce unique): the insert
//!   is the claim, so two runners can never both claim one plan.

use serde::Serialize;

use crate::proofs::{ProofKind, ProofStore, Record};

/// The journal kind that claims a plan (local backend).
pub const CLAIM_KIND: &str = "apply.start";

/// An earlier apply of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// `sha256:<hex>` of the plan applied then.
    pub digest: String,
    pub nonce: String,
    /// When that apply started (RFC 3339, UTC).
    pub at: String,
}

/// The first `apply.start` of `records` whose plan has `digest` or `nonce` (local backend).
/// A plan file that cannot be read is skipped for the nonce comparison (with a warning): the
/// digest comparison does not need it, and `proofs verify` names the missing file.
pub(super) fn find_in_journal(
    records: &[Record],
    proofs: &ProofStore,
    digest: &str,
    nonce: &str,
) -> Option<Applied> {
    records
        .iter()
        .filter(|r| r.kind == CLAIM_KIND)
        .find_map(|r| {
            let d = r.plan_digest.as_deref()?;
            let their_nonce = if d == digest {
                nonce.to_string()
            } else {
                match nonce_of(proofs, d) {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!("reading the nonce of the applied plan `{d}`: {e:#}");
                        return None;
                    }
                }
            };
            (d == digest || their_nonce == nonce).then(|| Applied {
                digest: d.to_string(),
                nonce: their_nonce,
                at: r.at.clone(),
            })
        })
}

/// The `nonce` of the stored plan `digest`.
fn nonce_of(proofs: &ProofStore, digest: &str) -> anyhow::Result<String> {
    let rel = proofs.path_of(&ProofKind::Plan {
        digest: digest.to_string(),
    })?;
    let plan: serde_json::Value = serde_json::from_slice(&proofs.read(&rel)?)?;
    plan["nonce"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("`proofs/{rel}` has no nonce"))
}
