//! Proof files in the original layout, the hash-chained journal, and their verification
//! (DESIGN.md, "Proofs").
//!
//! - [`safe`]: names from input → file-name components that can never leave `proofs/`;
//!   symbolic links inside `proofs/` are never followed.
//! - [`atomic`]: temporary file, write, fsync, rename, fsync the directory.
//! - [`layout`]: the table of proof kinds and their paths ([`ProofKind`]).
//! - [`journal`]: `proofs/journal.jsonl`, hash-chained, appended under a file lock, and
//!   [`journal::verify_entries`], shared with the PostgreSQL backend; [`verify`]: what it
//!   concludes; [`coverage`]: the files of the journaled folders that no record names.
//! - [`writable`]: [`check_writable`], run before an apply's first mutating call, so that
//!   no change is made whose proof or journal record could not be written.
//!
//! The root `proofs/` is never a symbolic link: every path is resolved through
//! [`safe::resolve`], which refuses a linked root as it refuses a link below it.
//!
//! # Using it (the executor's view)
//!
//! ```no_run
//! # fn demo(envelope: &sophia::core::envelope::Envelope) -> anyhow::Result<()> {
//! use sophia::proofs::{NewRecord, ProofKind, ProofStore};
//! let store = ProofStore::new("proofs");
//! // 1. Write the proof; it is durable when this returns.
//! let proof = store.write_envelope(
//!     &ProofKind::ApplyAction { plan_digest: "sha256:…".into(), action_id: "fly.secrets.set:fly.app.a.secrets".into() },
//!     envelope,
//! )?;
//! // 2. Journal it (through the backend, `Backend::append`, when a backend is in use).
//! store.journal().append(
//!     NewRecord::now("fly.secrets.set", "success").plan("sha256:…").address("fly.app.a.secrets").proof(proof),
//! )?;
//! # Ok(()) }
//! ```

pub mod activation;
pub mod atomic;
pub mod attestation;
pub mod coverage;
pub mod journal;
pub mod layout;
pub mod safe;
pub mod verify;
pub mod writable;

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::core::envelope::Envelope;
pub use journal::{GENESIS, JOURNAL_FILE, LocalJournal, NewRecord, ProofRef, Record};
pub use layout::ProofKind;
pub use safe::RelPath;
pub use verify::{VerifyError, VerifyReport};
pub use writable::{NotWritable, check_writable};

/// The `proofs/` directory of a repository: where proof files are written and read.
#[derive(Debug, Clone)]
pub struct ProofStore {
    root: PathBuf,
}

impl ProofStore {
    /// The store rooted at `proofs_dir` (usually `<repo>/proofs`).
    pub fn new(proofs_dir: impl Into<PathBuf>) -> ProofStore {
        ProofStore {
            root: proofs_dir.into(),
        }
    }

    /// The store of the repository at `repo_root`: `<repo_root>/proofs`.
    pub fn of_repo(repo_root: &Path) -> ProofStore {
        ProofStore::new(repo_root.join("proofs"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The local journal under this store.
    pub fn journal(&self) -> LocalJournal {
        LocalJournal::new(&self.root)
    }

    /// The path of a proof kind (relative to `proofs/`).
    pub fn path_of(&self, kind: &ProofKind) -> anyhow::Result<RelPath> {
        kind.path()
            .with_context(|| format!("naming the proof file of {kind:?}"))
    }

    /// Write a normalized envelope, pretty-printed with a final newline, at its kind's path.
    pub fn write_envelope(
        &self,
        kind: &ProofKind,
        envelope: &Envelope,
    ) -> anyhow::Result<ProofRef> {
        let mut text = serde_json::to_string_pretty(envelope).context("serializing a proof")?;
        text.push('\n');
        self.write(kind, text.as_bytes())
    }

    /// Write raw bytes (a plan file, a signature, logs as text) at a kind's path.
    pub fn write(&self, kind: &ProofKind, bytes: &[u8]) -> anyhow::Result<ProofRef> {
        let rel = self.path_of(kind)?;
        self.write_at(&rel, bytes)
    }

    /// Write bytes at a path under `proofs/`, atomically and durably, creating directories
    /// as needed and refusing to go through a symbolic link.
    pub fn write_at(&self, rel: &RelPath, bytes: &[u8]) -> anyhow::Result<ProofRef> {
        // Refuse a root that is a link before creating anything (create_dir_all would
        // follow it).
        safe::check_root(&self.root)?;
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("creating `{}`", self.root.display()))?;
        let path = safe::resolve(&self.root, rel)?;
        // Create each missing directory below the root (create_dir never follows a link),
        // re-checking what exists: resolve() above refused links already present.
        let mut dir = self.root.clone();
        let parts: Vec<&str> = rel.components().collect();
        for part in &parts[..parts.len() - 1] {
            dir.push(part);
            atomic::ensure_dir(&dir)?;
        }
        atomic::write_atomic(&path, bytes)?;
        Ok(ProofRef {
            path: rel.clone(),
            sha256: crate::core::digest::sha256_bytes(bytes),
        })
    }

    /// A reference to a proof file already on disk (written by another tool), hashing its
    /// current bytes after an fsync so the journal can name it.
    pub fn reference(&self, rel: &RelPath) -> anyhow::Result<ProofRef> {
        use std::io::Read as _;
        let path = safe::resolve(&self.root, rel)?;
        let mut file = journal::open_nofollow(&path)
            .with_context(|| format!("opening `{}`", path.display()))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .with_context(|| format!("reading `{}`", path.display()))?;
        file.sync_all()
            .with_context(|| format!("syncing `{}`", path.display()))?;
        Ok(ProofRef {
            path: rel.clone(),
            sha256: crate::core::digest::sha256_bytes(&bytes),
        })
    }

    /// Read a proof file back (no links followed).
    pub fn read(&self, rel: &RelPath) -> anyhow::Result<Vec<u8>> {
        use std::io::Read as _;
        let path = safe::resolve(&self.root, rel)?;
        let mut bytes = Vec::new();
        journal::open_nofollow(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .with_context(|| format!("reading `{}`", path.display()))?;
        Ok(bytes)
    }
}
