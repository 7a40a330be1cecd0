//! Leases by hand (DESIGN.md, "Lifecycle": `sophia lease show`, `sophia lease break`).
//!
//! Breaking a lease removes the lease row (PostgreSQL) or `.infra/.lock` (local) — only the
//! very lease that was looked at, matched by its token, so a lease taken in between is left
//! alone — and journals it: a proof `apply/lease-break_<stamp>.json` naming the previous
//! holder, who broke it and why, and a `lease.break` record. It is refused while the holder
//! runs on this host and its process is alive: that apply is still running, and breaking
//! its lease would let a second one run beside it.

use std::fmt;

use super::{Backend, Holder, LeaseInfo, stamp};
use crate::proofs::{ProofKind, Record};

/// Why a lease was not broken.
#[derive(Debug, thiserror::Error)]
pub enum BreakError {
    #[error("no apply lease is held: there is nothing to break")]
    NotHeld,
    #[error(
        "the apply lease of `{}` (since {}) is not broken: its process {} is alive on this host; wait for that apply to finish, or stop it first",
        .0.holder, stamp(&.0.since), .0.pid
    )]
    HolderAlive(Box<LeaseInfo>),
    #[error(
        "the apply lease changed while it was being broken (now held by `{}`); look again with `sophia lease show`",
        .0
    )]
    Changed(String),
    #[error("a reason is required: `sophia lease break --reason TEXT` (it is journaled)")]
    NoReason,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A lease broken by hand.
#[derive(Debug, Clone)]
pub struct Broken {
    pub previous: LeaseInfo,
    /// Who broke it: `user@host pid N`.
    pub by: String,
    pub reason: String,
    /// The `lease.break` journal record.
    pub record: Record,
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "broke the apply lease of `{}` (since {}, until {})",
            self.previous.holder,
            stamp(&self.previous.since),
            stamp(&self.previous.expires_at)
        )
    }
}

/// Whether `info`'s holder runs on this host with its process alive. Only decided where
/// `/proc/self` exists (Linux); elsewhere a holder on this host is presumed alive.
pub fn holder_alive_here(info: &LeaseInfo) -> bool {
    info.host == super::this_host()
        && (!std::path::Path::new("/proc/self").exists()
            || std::path::Path::new("/proc")
                .join(info.pid.to_string())
                .exists())
}

impl Backend {
    /// Break the current lease (see the module docs), as `by`, for `reason`.
    pub async fn break_lease(&self, by: &Holder, reason: &str) -> Result<Broken, BreakError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(BreakError::NoReason);
        }
        let current = self.lease().await?.ok_or(BreakError::NotHeld)?;
        if holder_alive_here(&current) {
            return Err(BreakError::HolderAlive(Box::new(current)));
        }
        let removed = match self {
            Backend::Local { lease, .. } => lease.remove_if(&current.token)?,
            Backend::Postgres(pg) => pg.remove_if(&current.token).await?,
        };
        if !removed {
            let now = self.lease().await?.map(|l| l.holder);
            return Err(BreakError::Changed(now.unwrap_or_else(|| "nobody".into())));
        }
        let mut detail = serde_json::Map::new();
        detail.insert("broken_by".into(), serde_json::json!(by.to_string()));
        detail.insert("reason".into(), serde_json::json!(reason));
        let record = self
            .journal_lease_event(
                "lease.break",
                &current,
                detail,
                format!(
                    "`{by}` broke the apply lease of `{}`: {reason}",
                    current.holder
                ),
                |stamp| ProofKind::LeaseBreak { stamp },
            )
            .await?;
        Ok(Broken {
            previous: current,
            by: by.to_string(),
            reason: reason.to_string(),
            record,
        })
    }
}
