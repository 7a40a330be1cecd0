//! `sophia lease show` and `sophia lease break --reason TEXT` (DESIGN.md, "Lifecycle: leases
//! by hand"): the apply lease of the backend `SOPHIA_BACKEND` names, local or PostgreSQL.
//! Breaking is journaled with who broke it and why (see [`crate::backend::lease_break`]).

use std::path::Path;

use crate::backend::lease_break::{BreakError, Broken, holder_alive_here};
use crate::backend::{Backend, Holder, LeaseInfo};

/// The lease as `sophia lease show` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Shown {
    /// `local` or `postgres://user@host:port/db` (never a password).
    pub backend: String,
    pub lease: Option<ShownLease>,
}

/// One held lease: who, since when, until when, and whether its holder is known alive.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShownLease {
    pub holder: String,
    pub since: String,
    pub until: String,
    pub expired: bool,
    /// Its holder runs on this host and its process is alive (then `break` refuses).
    pub alive_here: bool,
}

/// The current lease of the backend `spec` names (`None`: local) for the repository at `root`.
pub async fn show(root: &Path, spec: Option<&str>) -> anyhow::Result<Shown> {
    let backend = Backend::open(root, spec).await?;
    let lease = backend.lease().await?.map(|l| shown(&l));
    Ok(Shown {
        backend: backend.describe(),
        lease,
    })
}

fn shown(l: &LeaseInfo) -> ShownLease {
    let at =
        |t: &chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    ShownLease {
        holder: l.holder.clone(),
        since: at(&l.since),
        until: at(&l.expires_at),
        expired: l.expires_at <= chrono::Utc::now(),
        alive_here: holder_alive_here(l),
    }
}

/// Break the current lease as this process's user, for `reason`.
pub async fn break_lease(
    root: &Path,
    spec: Option<&str>,
    reason: &str,
) -> Result<Broken, BreakError> {
    let backend = Backend::open(root, spec).await?;
    backend.break_lease(&Holder::current(), reason).await
}
