//! Backends (DESIGN.md, "Backends"; "Apply" step 1): where the apply lease, the journal and
//! plan records live.
//!
//! - [`local`] (default): the lease in `.infra/.lock`, the journal in
//!   `proofs/journal.jsonl`, plan records under `proofs/plans/`.
//! - [`postgres`] (`SOPHIA_BACKEND=postgres://…`): the lease, the journal and plan records
//!   in tables (`sophia_lease`, `sophia_journal`, `sophia_plans`) created on first use, so
//!   several CI runners and people share one lock and one audit trail.
//!
//! Proof files themselves are always written under the repository's `proofs/` (a
//! [`ProofStore`]); both journals name them by path and hash, and both verify them.
//!
//! # The executor's view
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::time::Duration;
//! use sophia::backend::{Backend, Holder, DEFAULT_TTL};
//! let backend = Backend::from_env(std::path::Path::new(".")).await?;
//! // Fails fast with `LeaseError::Held` naming the holder and since when.
//! let acquired = backend.acquire(&Holder::current(), DEFAULT_TTL).await?;
//! if let Some(t) = &acquired.took_over {
//!     eprintln!("{t}");
//!     backend.journal_takeover(t).await?;   // proof + `lease.takeover` record
//! }
//! let mut lease = acquired.guard;
//! // … every DEFAULT_TTL / 3 while running:
//! lease.renew(DEFAULT_TTL).await?;
//! // … write proofs with backend.proofs(), journal them with backend.append(…) …
//! lease.release().await?;   // also released (best effort) when dropped
//! # Ok(()) }
//! ```

pub mod applied;
pub mod lease_break;
pub mod ledger;
pub mod local;
pub mod managed;
pub mod postgres;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::proofs::{NewRecord, ProofKind, ProofRef, ProofStore, Record, VerifyReport};
pub use applied::Applied;

/// The environment variable that selects the backend: unset or `local` for the local
/// backend, `postgres://…` / `postgresql://…` for PostgreSQL.
pub const BACKEND_ENV: &str = "SOPHIA_BACKEND";

/// The default lease TTL: long enough that a healthy apply renewing every TTL/3 never
/// loses it to a slow provider call, short enough that a crashed CI runner blocks the next
/// apply for minutes, not hours.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10 * 60);

/// Who holds (or wants) the lease: `user@host pid N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub user: String,
    pub host: String,
    pub pid: u32,
}

impl Holder {
    /// This process: `$USER` (or `$LOGNAME`), the host name, the pid.
    pub fn current() -> Holder {
        let user = ["USER", "LOGNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "unknown".into());
        Holder {
            user,
            host: this_host(),
            pid: std::process::id(),
        }
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{} pid {}", self.user, self.host, self.pid)
    }
}

/// This host's name (the kernel's node name).
pub fn this_host() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// A lease as stored: the local `.infra/.lock` file is exactly this JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseInfo {
    /// `user@host pid N`.
    pub holder: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub since: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Random, per acquisition: renew and release touch only the lease they took.
    pub token: String,
}

impl LeaseInfo {
    fn new(holder: &Holder, now: DateTime<Utc>, ttl: Duration) -> LeaseInfo {
        LeaseInfo {
            holder: holder.to_string(),
            user: holder.user.clone(),
            host: holder.host.clone(),
            pid: holder.pid,
            since: now,
            expires_at: now + local::ttl_delta(ttl),
            token: format!("{:032x}", rand::random::<u128>()),
        }
    }
}

fn stamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Why an earlier lease was taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TakeoverReason {
    /// Its `expires_at` had passed.
    Expired,
    /// Its holder ran on this host and its process is gone (local backend).
    HolderGone,
    /// Its holder's database session has ended: the process died, or lost its connection
    /// and with it any way to renew the lease or journal (PostgreSQL backend).
    SessionGone,
}

/// A lease that was taken over: report it, and journal it (`lease.takeover`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takeover {
    pub previous: LeaseInfo,
    pub reason: TakeoverReason,
}

impl fmt::Display for Takeover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.previous;
        write!(
            f,
            "took over the lease of `{}` (since {}): ",
            p.holder,
            stamp(&p.since)
        )?;
        match self.reason {
            TakeoverReason::Expired => write!(f, "it expired at {}", stamp(&p.expires_at)),
            TakeoverReason::HolderGone => {
                write!(f, "its process {} is gone from this host", p.pid)
            }
            TakeoverReason::SessionGone => {
                write!(f, "its PostgreSQL session has ended (the process died)")
            }
        }
    }
}

/// Lease errors. `Held` is what a second apply gets.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "the apply lease is held by `{}` since {} (until {}); wait for that apply to finish",
        .0.holder, stamp(&.0.since), stamp(&.0.expires_at)
    )]
    Held(Box<LeaseInfo>),
    #[error("the apply lease of `{holder}` was lost{}", match now_held_by { Some(h) => format!(" to `{h}`"), None => String::new() })]
    Lost {
        holder: String,
        now_held_by: Option<String>,
    },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// What the local lease grants before it is wrapped in a guard.
#[derive(Debug, Clone)]
pub struct Granted {
    pub lease: LeaseInfo,
    pub took_over: Option<Takeover>,
}

/// A successful acquire.
#[derive(Debug)]
pub struct Acquired {
    pub guard: LeaseGuard,
    /// `Some` when an expired or dead holder's lease was taken over: journal it.
    pub took_over: Option<Takeover>,
}

/// The held lease. Release it with [`LeaseGuard::release`]; dropping it releases too (best
/// effort: on PostgreSQL the release is spawned on the current tokio runtime, and the TTL
/// is the safety net).
#[derive(Debug)]
pub struct LeaseGuard {
    info: LeaseInfo,
    place: Place,
    released: bool,
}

#[derive(Debug, Clone)]
enum Place {
    Local(local::LocalLease),
    Postgres(Arc<postgres::PgBackend>),
}

impl LeaseGuard {
    pub fn info(&self) -> &LeaseInfo {
        &self.info
    }

    /// Extend the lease to now + `ttl`. Fails with [`LeaseError::Lost`] if it is no longer
    /// ours (it expired and was taken over).
    pub async fn renew(&mut self, ttl: Duration) -> Result<(), LeaseError> {
        self.info = match &self.place {
            Place::Local(l) => l.renew(&self.info, ttl)?,
            Place::Postgres(pg) => pg.renew(&self.info, ttl).await?,
        };
        Ok(())
    }

    /// Release the lease (a lease that is no longer ours is left alone).
    pub async fn release(mut self) -> Result<(), LeaseError> {
        self.released = true;
        match &self.place {
            Place::Local(l) => l.release(&self.info).map(|_| ()),
            Place::Postgres(pg) => pg.release(&self.info).await.map(|_| ()),
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        match &self.place {
            Place::Local(l) => {
                if let Err(e) = l.release(&self.info) {
                    tracing::warn!("releasing the lease: {e}");
                }
            }
            Place::Postgres(pg) => {
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let (pg, info) = (pg.clone(), self.info.clone());
                    rt.spawn(async move {
                        if let Err(e) = pg.release(&info).await {
                            tracing::warn!("releasing the lease: {e}");
                        }
                    });
                }
            }
        }
    }
}

/// A plan as stored by the backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRecord {
    /// `sha256:<hex>`, the plan's digest.
    pub digest: String,
    /// The plan file's exact text.
    pub plan: String,
    /// Armored SSH signatures (`-----BEGIN SSH SIGNATURE-----`), in order; empty in digest
    /// approval mode.
    pub signatures: Vec<String>,
    /// Who approved: signer principals, or the `--approve` reviewer.
    pub approver: Option<String>,
    /// `approved`, `applying`, `applied`, `failed`, … (the executor's vocabulary).
    pub status: String,
}

/// The plan record's own file under `proofs/plans/`: everything but the plan and
/// signature bytes, which have their own files.
#[derive(Debug, Serialize)]
struct PlanRecordFile<'a> {
    digest: &'a str,
    approver: &'a Option<String>,
    status: &'a str,
    plan: String,
    signatures: Vec<String>,
}

/// `.infra/cache/http-etags.json`, beside the local lease file (`.infra/.lock`).
fn http_cache_path(lease: &local::LocalLease) -> std::path::PathBuf {
    let lock = lease.path();
    lock.parent()
        .unwrap_or(std::path::Path::new("."))
        .join("cache/http-etags.json")
}

/// The backend in use.
#[derive(Debug)]
pub enum Backend {
    Local {
        lease: local::LocalLease,
        proofs: ProofStore,
    },
    Postgres(Arc<postgres::PgBackend>),
}

impl Backend {
    /// The backend `SOPHIA_BACKEND` names, for the repository at `repo_root`.
    pub async fn from_env(repo_root: &Path) -> anyhow::Result<Backend> {
        let spec = std::env::var(BACKEND_ENV).ok();
        Backend::open(repo_root, spec.as_deref()).await
    }

    /// `None`, `""` or `local`: local; `postgres://…`: PostgreSQL (connects and creates the
    /// tables on first use).
    pub async fn open(repo_root: &Path, spec: Option<&str>) -> anyhow::Result<Backend> {
        let proofs = ProofStore::of_repo(repo_root);
        match spec.map(str::trim) {
            None | Some("") | Some("local") => Ok(Backend::Local {
                lease: local::LocalLease::new(repo_root),
                proofs,
            }),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Ok(
                Backend::Postgres(Arc::new(postgres::PgBackend::connect(url, proofs).await?)),
            ),
            Some(_) => anyhow::bail!(
                "`{BACKEND_ENV}` must be `local` or a `postgres://` URL (its value is not shown: it may hold a password)"
            ),
        }
    }

    /// For messages: `local` or `postgres://user@host:port/db` (never the password).
    pub fn describe(&self) -> String {
        match self {
            Backend::Local { .. } => "local".into(),
            Backend::Postgres(pg) => pg.describe().to_string(),
        }
    }

    /// The ETag cache of conditional reads: `.infra/cache/http-etags.json` (local) or the
    /// `sophia_http_cache` table. A missing or unreadable local file is an empty cache.
    pub async fn load_http_cache(
        &self,
    ) -> anyhow::Result<std::collections::BTreeMap<String, crate::providers::http::CachedAnswer>>
    {
        match self {
            Backend::Local { lease, .. } => Ok(std::fs::read(http_cache_path(lease))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default()),
            Backend::Postgres(pg) => pg.load_http_cache().await,
        }
    }

    /// Store the ETag cache (atomically, for the local file).
    pub async fn store_http_cache(
        &self,
        entries: &std::collections::BTreeMap<String, crate::providers::http::CachedAnswer>,
    ) -> anyhow::Result<()> {
        match self {
            Backend::Local { lease, .. } => {
                let path = http_cache_path(lease);
                // Only in a repository set up for sophia (`.infra/` exists): a refresh
                // elsewhere leaves nothing behind.
                let Some(infra) = path
                    .parent()
                    .and_then(|d| d.parent())
                    .filter(|i| i.is_dir())
                else {
                    return Ok(());
                };
                std::fs::create_dir_all(infra.join("cache"))?;
                crate::proofs::atomic::write_atomic(&path, &serde_json::to_vec(entries)?)?;
                Ok(())
            }
            Backend::Postgres(pg) => pg.store_http_cache(entries).await,
        }
    }

    /// The repository's proof files.
    pub fn proofs(&self) -> &ProofStore {
        match self {
            Backend::Local { proofs, .. } => proofs,
            Backend::Postgres(pg) => pg.proofs(),
        }
    }

    /// Take the apply lease for `ttl`, or fail fast with [`LeaseError::Held`].
    pub async fn acquire(&self, holder: &Holder, ttl: Duration) -> Result<Acquired, LeaseError> {
        let (granted, place) = match self {
            Backend::Local { lease, .. } => {
                (lease.acquire(holder, ttl)?, Place::Local(lease.clone()))
            }
            Backend::Postgres(pg) => (pg.acquire(holder, ttl).await?, Place::Postgres(pg.clone())),
        };
        Ok(Acquired {
            guard: LeaseGuard {
                info: granted.lease,
                place,
                released: false,
            },
            took_over: granted.took_over,
        })
    }

    /// The current lease, if any (for `status`-like displays).
    pub async fn lease(&self) -> anyhow::Result<Option<LeaseInfo>> {
        match self {
            Backend::Local { lease, .. } => lease.read(),
            Backend::Postgres(pg) => pg.lease().await,
        }
    }

    /// Append one journal record. Call it after the proof it names is written (a
    /// [`ProofRef`] only exists then).
    pub async fn append(&self, record: NewRecord) -> anyhow::Result<Record> {
        match self {
            // File I/O with an fsync: off the async threads, so the other actions of an
            // apply keep running while one is journaled.
            Backend::Local { proofs, .. } => {
                let journal = proofs.journal();
                tokio::task::spawn_blocking(move || journal.append(record))
                    .await
                    .context("the journal append task")?
            }
            Backend::Postgres(pg) => pg.append(record).await,
        }
    }

    /// Record a takeover: its proof (`apply/lease-takeover_<stamp>.json`, the previous
    /// holder and why, never the previous token) and a `lease.takeover` journal record.
    pub async fn journal_takeover(&self, takeover: &Takeover) -> anyhow::Result<Record> {
        let mut detail = serde_json::Map::new();
        detail.insert("reason".into(), serde_json::json!(takeover.reason));
        self.journal_lease_event(
            "lease.takeover",
            &takeover.previous,
            detail,
            takeover.to_string(),
            |stamp| ProofKind::LeaseTakeover { stamp },
        )
        .await
    }

    /// A lease ended for another holder (a takeover, a break by hand): its proof
    /// (`apply/<kind>_<stamp>.json`: the previous holder — never its token — and `detail`)
    /// and a journal record named `action`.
    pub(crate) async fn journal_lease_event(
        &self,
        action: &str,
        previous: &LeaseInfo,
        detail: serde_json::Map<String, serde_json::Value>,
        message: String,
        kind: impl FnOnce(String) -> ProofKind,
    ) -> anyhow::Result<Record> {
        let now = Utc::now();
        let mut object = serde_json::Map::new();
        object.insert(
            "previous".into(),
            serde_json::json!({
                "holder": previous.holder, "host": previous.host, "pid": previous.pid,
                "since": stamp(&previous.since), "expires_at": stamp(&previous.expires_at),
            }),
        );
        object.extend(detail);
        let envelope = crate::core::envelope::Envelope::success(
            action,
            vec![serde_json::Value::Object(object)],
            message,
            now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            0,
        );
        let proof = self.proofs().write_envelope(
            &kind(now.format("%Y%m%dT%H%M%S%.6fZ").to_string()),
            &envelope,
        )?;
        self.append(NewRecord::now(action, "success").proof(proof))
            .await
    }

    /// Every journal record, in order.
    pub async fn journal(&self) -> anyhow::Result<Vec<Record>> {
        match self {
            Backend::Local { proofs, .. } => proofs.journal().read(),
            Backend::Postgres(pg) => pg.journal().await,
        }
    }

    /// Verify the journal and every file it references. A broken journal is an error whose
    /// root is a [`VerifyError`](crate::proofs::VerifyError) naming the first problem.
    pub async fn verify(&self, expect_head: Option<&str>) -> anyhow::Result<VerifyReport> {
        let report = match self {
            Backend::Local { proofs, .. } => proofs.journal().verify(expect_head)?,
            Backend::Postgres(pg) => pg.verify(expect_head).await?,
        };
        self.verify_managed().await?;
        Ok(report)
    }

    /// Store a plan record: the plan and its signatures under `proofs/plans/` (both
    /// backends) and, on PostgreSQL, a row in `sophia_plans` (upserted: call again to update
    /// the status). Returns the proof files written — plan, signatures, record — to journal.
    pub async fn store_plan(&self, plan: &PlanRecord) -> anyhow::Result<Vec<ProofRef>> {
        let refs = write_plan_files(self.proofs(), plan)?;
        if let Backend::Postgres(pg) = self {
            pg.store_plan(plan).await?;
        }
        Ok(refs)
    }

    /// An earlier apply of the plan with `digest` or `nonce`, if any (see [`applied`]).
    pub async fn applied(&self, digest: &str, nonce: &str) -> anyhow::Result<Option<Applied>> {
        match self {
            Backend::Local { proofs, .. } => {
                let records = self.journal().await?;
                Ok(applied::find_in_journal(&records, proofs, digest, nonce))
            }
            Backend::Postgres(pg) => pg.applied(digest, nonce).await,
        }
    }

    /// Claim the plan as applied, under the lease and before its first mutating call.
    /// `Some` is the earlier apply that already claimed it (refuse then). On the local
    /// backend the claim is the `apply.start` record the executor journals next, so this
    /// only checks; on PostgreSQL it is an insert under the table's unique constraints.
    pub async fn claim(&self, digest: &str, nonce: &str) -> anyhow::Result<Option<Applied>> {
        match self {
            Backend::Local { .. } => self.applied(digest, nonce).await,
            Backend::Postgres(pg) => pg.claim(digest, nonce).await,
        }
    }

    /// A stored plan record (PostgreSQL: from the table; local: from `proofs/plans/`).
    pub async fn load_plan(&self, digest: &str) -> anyhow::Result<Option<PlanRecord>> {
        match self {
            Backend::Local { proofs, .. } => read_plan_files(proofs, digest),
            Backend::Postgres(pg) => pg.load_plan(digest).await,
        }
    }
}

fn write_plan_files(proofs: &ProofStore, plan: &PlanRecord) -> anyhow::Result<Vec<ProofRef>> {
    let digest = plan.digest.clone();
    let mut refs = vec![proofs.write(
        &ProofKind::Plan {
            digest: digest.clone(),
        },
        plan.plan.as_bytes(),
    )?];
    for (index, sig) in plan.signatures.iter().enumerate() {
        refs.push(proofs.write(
            &ProofKind::PlanSignature {
                digest: digest.clone(),
                index,
            },
            sig.as_bytes(),
        )?);
    }
    let file = PlanRecordFile {
        digest: &plan.digest,
        approver: &plan.approver,
        status: &plan.status,
        plan: refs[0].path().to_string(),
        signatures: refs[1..].iter().map(|r| r.path().to_string()).collect(),
    };
    let mut text = serde_json::to_string_pretty(&file).context("serializing a plan record")?;
    text.push('\n');
    refs.push(proofs.write(&ProofKind::PlanRecord { digest }, text.as_bytes())?);
    Ok(refs)
}

fn read_plan_files(proofs: &ProofStore, digest: &str) -> anyhow::Result<Option<PlanRecord>> {
    #[derive(Deserialize)]
    struct File {
        approver: Option<String>,
        status: String,
        signatures: Vec<String>,
    }
    let rel = proofs.path_of(&ProofKind::PlanRecord {
        digest: digest.to_string(),
    })?;
    let bytes = match proofs.read(&rel) {
        Ok(b) => b,
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let file: File =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing `proofs/{rel}`"))?;
    let plan_rel = proofs.path_of(&ProofKind::Plan {
        digest: digest.to_string(),
    })?;
    let plan = String::from_utf8(proofs.read(&plan_rel)?).context("the plan file is not UTF-8")?;
    let mut signatures = Vec::new();
    for s in &file.signatures {
        let rel = crate::proofs::RelPath::parse(s)?;
        signatures.push(String::from_utf8(proofs.read(&rel)?).context("a signature is not UTF-8")?);
    }
    Ok(Some(PlanRecord {
        digest: digest.to_string(),
        plan,
        signatures,
        approver: file.approver,
        status: file.status,
    }))
}
