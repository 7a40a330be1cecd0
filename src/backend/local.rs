//! The local backend: the lease in `.infra/.lock`, the journal in `proofs/journal.jsonl`,
//! plan records under `proofs/plans/`.
//!
//! # Why the lease is race-free
//!
//! Every operation on `.infra/.lock` — acquire, takeover, renew, release — runs while
//! holding an exclusive `flock` on the `.infra/` directory itself. Holders keep that flock
//! only for the few microseconds of a read-decide-write, and the kernel drops it if the
//! process dies, so it never needs cleaning up. Under it, "read the lease, decide it is
//! free / expired / dead, write ours" is one atomic step among all `sophia` processes:
//! two racing acquires are serialized, and the second one reads the first one's lease.
//!
//! Belt and braces: a fresh lease is published with `link(2)` from a fully written,
//! fsynced temporary file, which — like `O_CREAT|O_EXCL` — fails with `EEXIST` if a lock
//! file already exists, but unlike `create_new` + `write` never shows a reader an empty or
//! half-written lock. A takeover replaces the stale file by `rename(2)` of a fresh
//! temporary, only after re-reading it under the flock.
//!
//! A lease is taken over when it has expired, or at once when its holder ran on this host
//! and `/proc/<pid>` is gone.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;

use super::{Granted, Holder, LeaseError, LeaseInfo, Takeover, TakeoverReason};
use crate::proofs::atomic::{sync_dir, write_atomic};

/// The lease file under the repository root.
pub const LOCK_FILE: &str = ".infra/.lock";

/// The local lease, as a handle on `.infra/`.
#[derive(Debug, Clone)]
pub struct LocalLease {
    infra: PathBuf,
}

impl LocalLease {
    pub fn new(repo_root: &Path) -> LocalLease {
        LocalLease {
            infra: repo_root.join(".infra"),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.infra.join(".lock")
    }

    /// Hold the `.infra/` flock for the duration of `f`.
    fn locked<T>(&self, f: impl FnOnce() -> Result<T, LeaseError>) -> Result<T, LeaseError> {
        std::fs::create_dir_all(&self.infra)
            .with_context(|| format!("creating `{}`", self.infra.display()))?;
        let dir = File::open(&self.infra)
            .with_context(|| format!("opening `{}`", self.infra.display()))?;
        rustix::fs::flock(&dir, rustix::fs::FlockOperation::LockExclusive)
            .with_context(|| format!("locking `{}`", self.infra.display()))?;
        let out = f();
        drop(dir); // releases the flock
        out
    }

    /// Read the lease file; `None` when there is none.
    pub fn read(&self) -> anyhow::Result<Option<LeaseInfo>> {
        let path = self.path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).with_context(|| {
                format!(
                    "`{}` is not a lease; remove it if no apply is running",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading `{}`", path.display())),
        }
    }

    /// Take the lease for `ttl`, or fail fast naming the holder.
    pub fn acquire(&self, holder: &Holder, ttl: Duration) -> Result<Granted, LeaseError> {
        self.locked(|| {
            let now = Utc::now();
            let mine = LeaseInfo::new(holder, now, ttl);
            let took_over = match self.read()? {
                None => None,
                Some(current) => {
                    let reason = if current.expires_at <= now {
                        TakeoverReason::Expired
                    } else if holder_gone(&current) {
                        TakeoverReason::HolderGone
                    } else {
                        return Err(LeaseError::Held(Box::new(current)));
                    };
                    Some(Takeover {
                        previous: current,
                        reason,
                    })
                }
            };
            let bytes = lease_bytes(&mine)?;
            match took_over {
                None => self.publish_new(&bytes)?,
                Some(_) => write_atomic(&self.path(), &bytes)?,
            }
            Ok(Granted {
                lease: mine,
                took_over,
            })
        })
    }

    /// Create the lock file with complete content, failing if one exists.
    fn publish_new(&self, bytes: &[u8]) -> anyhow::Result<()> {
        let tmp = self.infra.join(format!(
            ".lock.new.{}.{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let result = (|| -> anyhow::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .with_context(|| format!("creating `{}`", tmp.display()))?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::hard_link(&tmp, self.path())
                .with_context(|| format!("creating `{}`", self.path().display()))?;
            Ok(())
        })();
        let _ = std::fs::remove_file(&tmp);
        result?;
        sync_dir(&self.infra)
    }

    /// Extend our lease to `now + ttl`; fails if it is no longer ours.
    pub fn renew(&self, mine: &LeaseInfo, ttl: Duration) -> Result<LeaseInfo, LeaseError> {
        self.locked(|| {
            let current = self.read()?;
            match current {
                Some(c) if c.token == mine.token => {
                    let mut renewed = c;
                    renewed.expires_at = Utc::now() + ttl_delta(ttl);
                    write_atomic(&self.path(), &lease_bytes(&renewed)?)?;
                    Ok(renewed)
                }
                other => Err(LeaseError::Lost {
                    holder: mine.holder.clone(),
                    now_held_by: other.map(|c| c.holder),
                }),
            }
        })
    }

    /// Remove our lease; a lease that is no longer ours is left alone. Returns whether ours
    /// was removed.
    pub fn release(&self, mine: &LeaseInfo) -> Result<bool, LeaseError> {
        self.locked(|| match self.read()? {
            Some(c) if c.token == mine.token => {
                std::fs::remove_file(self.path())
                    .with_context(|| format!("removing `{}`", self.path().display()))?;
                sync_dir(&self.infra)?;
                Ok(true)
            }
            _ => Ok(false),
        })
    }
}

impl LocalLease {
    /// Remove the lease file if it still holds the lease with `token` (`sophia lease
    /// break`). Returns whether it was removed.
    pub fn remove_if(&self, token: &str) -> anyhow::Result<bool> {
        let removed = self.locked(|| match self.read()? {
            Some(c) if c.token == token => {
                std::fs::remove_file(self.path())
                    .with_context(|| format!("removing `{}`", self.path().display()))?;
                sync_dir(&self.infra)?;
                Ok(true)
            }
            _ => Ok(false),
        });
        removed.map_err(|e| match e {
            LeaseError::Other(e) => e,
            other => anyhow::anyhow!("{other}"),
        })
    }
}

fn lease_bytes(info: &LeaseInfo) -> anyhow::Result<Vec<u8>> {
    let mut text = serde_json::to_string_pretty(info).context("serializing the lease")?;
    text.push('\n');
    Ok(text.into_bytes())
}

pub(crate) fn ttl_delta(ttl: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(ttl).unwrap_or(chrono::TimeDelta::MAX)
}

/// Whether the holder ran on this host and its process is gone. Only trusted where
/// `/proc/self` exists (Linux); elsewhere a holder is presumed alive until it expires.
fn holder_gone(info: &LeaseInfo) -> bool {
    info.host == super::this_host()
        && Path::new("/proc/self").exists()
        && !Path::new("/proc").join(info.pid.to_string()).exists()
}
