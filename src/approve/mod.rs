//! Approval: SSH signatures in OpenSSH's SSHSIG format (namespace `sophia-plan@v1`),
//! `.infra/allowed_signers`, and digest approvals (DESIGN.md, "Approval").
//!
//! - [`allowed_signers`]: the allowed_signers file of git and OpenSSH.
//! - [`sshsig`]: signing and verifying SSHSIG signatures, as `ssh-keygen -Y` does.
//! - [`settings`]: `.infra/sophia.toml` (approval mode, destructive-plan policy).
//! - [`verify`]: the gate itself ([`verify_approval`]), pure but for the local time zone.
//! - [`gate`](mod@gate): the same, reading the files of a repository ([`gate()`]); `apply`
//!   calls it before any provider call.
//! - [`sign`]: `sophia sign` ([`sign_plan`]).
//! - [`error`]: [`ApprovalError`], one variant per refused check.
//!
//! # Security model
//!
//! **What is signed.** The exact bytes of the plan file, as SSHSIG over their SHA-512 hash.
//! Not a re-serialization, not only the digest: what the approver reviewed is what is
//! checked, byte for byte, and any tool (`ssh-keygen -Y verify`) can check it independently.
//! The plan's own `digest` field (SHA-256 of the canonical JSON of every other field) is
//! checked as well, so a plan cannot claim a digest its content does not have, and the
//! `digest` approval mode and the proofs can name a plan by it.
//!
//! **Why a namespace.** SSHSIG puts the namespace inside the signed data. A signature made
//! with the approver's key for another purpose (a git commit: `git`; a file: `file`) can never
//! pass as a plan approval, and a plan approval can never be replayed elsewhere. A signature
//! in another namespace is refused with its own error. `namespaces=` in allowed_signers can
//! restrict a key further.
//!
//! **Order of checks**, each refusing before anything else happens (no provider is called
//! before [`verify_approval`] returns `Ok`):
//!
//! 1. the plan format is `sophia-plan/v1`, and the `plan` given was parsed from these bytes;
//! 2. the plan's `digest` equals the digest of its content;
//! 3. the plan is not expired (`now` ≤ `not_after`);
//! 4. the approval for the configured mode:
//!    - `signature`: at least one signature, and every signature given must pass, in turn:
//!      it is an SSHSIG armor; its namespace is `sophia-plan@v1`; it verifies over the exact
//!      plan bytes with the key it carries; that key is listed in `.infra/allowed_signers`
//!      on a line whose `namespaces=` allows `sophia-plan@v1` and whose
//!      `valid-after`/`valid-before` window contains `now` (the time of verification, as
//!      ssh-keygen uses it: removing or expiring a key revokes its pending approvals). A
//!      security-key (`sk-…`) signature must carry the user-presence flag; a signature by a
//!      certificate is accepted through a `cert-authority` line instead (`certs.rs`);
//!    - `digest`: `--approve sha256:<hex>` equals the plan's digest; `--approve` is refused in
//!      `signature` mode, so it can never bypass a signature requirement;
//! 5. the policy: a destructive plan (a `delete`/`replace` change, or an action kind ending in
//!    `.delete`) needs valid signatures by `[policy] destructive_signers` distinct principals
//!    — in both modes. Principals are counted by the allowed_signers line that accepted each
//!    key (its principals as written, negations left out), one per key.
//!
//! **What an attacker who edits the plan after signing gets:** a refusal. Changing any
//! field changes the content digest (check 2, unless the `digest` field is updated too);
//! updating `digest` as well, or changing only whitespace, changes the bytes, and the
//! signature no longer verifies (check 4). Forging a signature needs a listed private key.
//! Replaying an old approved plan is bounded by `not_after`, and `apply` refuses a plan whose
//! live fingerprints are stale. Adding a key to `.infra/allowed_signers` is itself a change
//! reviewed in the repository.
//!
//! # Using the gate (apply)
//!
//! ```no_run
//! # fn demo(root: &std::path::Path) -> anyhow::Result<()> {
//! use sophia::approve::{self, ApprovalError, GateOptions};
//! let options = GateOptions {
//!     plan: "plan.json".into(),
//!     signatures: vec![],  // --signature …; empty: plan.json.sig and plan.json.sig.*
//!     approve: None,       // --approve sha256:…
//! };
//! match approve::gate(root, &options, chrono::Utc::now()) {
//!     Ok(gated) => { /* run gated.plan; record gated.approval (who, which key) in proofs */ }
//!     Err(err) => {
//!         let code = err.downcast_ref::<ApprovalError>().map_or("invalid-input", |e| e.code());
//!         return Err(err.context(format!("refused ({code}) before any provider call")));
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! The plan to execute is `gated.plan`, parsed from exactly the bytes that were verified
//! (`gated.plan_bytes`): never re-read the file after the gate.

// ApprovalError carries the data of the failed check (file, key, principal, window) so its
// message is complete; it is built at most once per command, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod allowed_signers;
mod certs;
pub mod envelope;
pub mod error;
pub mod gate;
pub mod keyfile;
pub mod settings;
pub mod sign;
pub mod sshsig;
pub mod verify;
mod window;

use serde::Serialize;

pub use allowed_signers::AllowedSigners;
pub use error::ApprovalError;
pub use gate::{
    GateOptions, Gated, allowed_signers_warnings, gate, read_allowed_signers, read_plan,
    read_settings, shown, signature_paths,
};
pub use settings::{ApprovalMode, Settings};
pub use sign::{Signed, sign_plan, write_atomic};
pub use verify::{destructive_addresses, verify_approval, verify_approval_in};

/// Where the allowed signers live, relative to the repository root.
pub const ALLOWED_SIGNERS_PATH: &str = ".infra/allowed_signers";

/// A signature file as given: its name (for messages) and its bytes.
#[derive(Debug, Clone)]
pub struct SignatureFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What the approver supplied: signature files and/or `--approve sha256:…`.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub signatures: Vec<SignatureFile>,
    pub approve_digest: Option<String>,
}

/// A successful approval: who approved which plan, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    pub plan_digest: String,
    pub mode: ApprovalMode,
    /// Valid signers, one per key, in the order the signatures were given.
    pub signers: Vec<Signer>,
    /// The addresses that make the plan destructive (empty when it is not).
    pub destructive: Vec<String>,
}

/// One valid signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signer {
    /// The principals of the allowed_signers line that accepted the key.
    pub principal: String,
    /// `SHA256:…`, as ssh-keygen prints it.
    pub fingerprint: String,
    /// `ED25519`, `RSA`, `ECDSA`, `ED25519-SK`, `ECDSA-SK`, or one of them followed by
    /// `-CERT` for a certificate, as ssh-keygen names key types.
    pub key_type: String,
    pub signature_file: String,
    /// The line of `.infra/allowed_signers` that accepted the key.
    pub allowed_signers_line: usize,
}
