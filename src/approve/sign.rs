//! `sophia sign`: sign a plan file with the approver's SSH key, as
//! `ssh-keygen -Y sign -n sophia-plan@v1` does, refusing plans `apply` would refuse anyway.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::gate::{read_plan, shown};
use super::verify::rfc3339;
use super::{ApprovalError, sshsig};
use crate::core::digest::plan_digest;
use crate::core::plan::PLAN_FORMAT;
pub use crate::proofs::atomic::write_atomic;

/// What [`sign_plan`] signed, and with which key.
#[derive(Debug, Clone)]
pub struct Signed {
    pub plan_digest: String,
    pub key_type: String,
    pub fingerprint: String,
    /// The key's comment (often `user@host`).
    pub comment: String,
}

/// Sign a plan file with a private key, writing the armored signature to `out` atomically.
/// Refuses a plan whose digest does not match its content, or that has expired at `now`:
/// signing it could only produce an approval that `apply` refuses.
pub fn sign_plan(
    root: &Path,
    plan_path: &Path,
    key_path: &Path,
    out: &Path,
    now: DateTime<Utc>,
) -> anyhow::Result<Signed> {
    let plan_name = shown(root, plan_path);
    let key_name = shown(root, key_path);
    let (bytes, plan) = read_plan(plan_path)?;
    if plan.format != PLAN_FORMAT {
        return Err(ApprovalError::UnsupportedFormat {
            found: plan.format.clone(),
        }
        .into());
    }
    let computed = plan_digest(&plan);
    if computed != plan.digest {
        return Err(anyhow::Error::new(ApprovalError::DigestMismatch {
            recorded: plan.digest.clone(),
            computed,
        })
        .context(format!("refusing to sign `{plan_name}`")));
    }
    let not_after = DateTime::parse_from_rfc3339(&plan.not_after).map_err(|_| {
        ApprovalError::InvalidExpiry {
            not_after: plan.not_after.clone(),
        }
    })?;
    if now > not_after {
        return Err(anyhow::Error::new(ApprovalError::Expired {
            not_after: plan.not_after.clone(),
            now: rfc3339(now),
        })
        .context(format!("refusing to sign `{plan_name}`")));
    }
    let key = super::keyfile::read_private_key(key_path, &key_name)?;
    let armored = sshsig::sign(&key, &key_name, &bytes)?;
    write_atomic(out, armored.as_bytes())?;
    let data = key.public_key().key_data();
    Ok(Signed {
        plan_digest: plan.digest,
        key_type: sshsig::family(data).to_string(),
        fingerprint: sshsig::fingerprint(data),
        comment: key.comment().to_string(),
    })
}
