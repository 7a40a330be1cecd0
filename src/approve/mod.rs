//! Approval: SSH signatures in OpenSSH's SSHSIG format (namespace `sophia-plan@v1`),
//! `.infra/allowed_signers`, and digest approvals (DESIGN.md, "Approval").
//!
//! - [`allowed_signers`]: the allowed_signers file of git and OpenSSH.
//! - [`sshsig`]: signing and verifying SSHSIG signatures, as `ssh-keygen -Y` does.
//! - [`settings`]: `.infra/sophia.toml` (approval mode, destructive-plan policy).
//! - [`verify_approval`]: the gate itself, pure but for the local time zone; [`gate`]: the
//!   same reading the files of a repository. `apply` calls [`gate`] before any provider call.
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
//!      ssh-keygen uses it: removing or expiring a key revokes its pending approvals);
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
pub mod settings;
pub mod sshsig;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::Serialize;

use crate::core::digest::plan_digest;
use crate::core::plan::{ChangeKind, PLAN_FORMAT, Plan};

pub use allowed_signers::AllowedSigners;
pub use settings::{ApprovalMode, Settings};

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
    /// `ED25519`, `RSA` or `ECDSA`.
    pub key_type: String,
    pub signature_file: String,
    /// The line of `.infra/allowed_signers` that accepted the key.
    pub allowed_signers_line: usize,
}

/// Why a plan is not approved. Every message names the failed check and the data it
/// compared, and ends with a hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    #[error(
        "the plan's format is `{found}`, not `{PLAN_FORMAT}`\n  hint: re-run `sophia plan` with this version of sophia"
    )]
    UnsupportedFormat { found: String },
    #[error(
        "internal error: the plan checked is not the one parsed from the plan file's bytes\n  hint: this is a bug in sophia; please report it"
    )]
    PlanBytesMismatch,
    #[error(
        "the plan's content does not match its digest: it records `{recorded}` but its content hashes to `{computed}`\n  hint: the plan file was edited after `sophia plan` wrote it; never edit a plan — change desired/*.yaml and re-run `sophia plan`"
    )]
    DigestMismatch { recorded: String, computed: String },
    #[error(
        "the plan's `not_after` `{not_after}` is not an RFC 3339 time\n  hint: re-run `sophia plan`"
    )]
    InvalidExpiry { not_after: String },
    #[error(
        "the plan expired at {not_after} (it is now {now})\n  hint: re-run `sophia plan` (add `--ttl` for a longer validity) and have it approved again"
    )]
    Expired { not_after: String, now: String },
    #[error(
        "`--approve` is refused: this repository approves plans by signature (`approval = \"signature\"` in .infra/sophia.toml)\n  hint: sign the plan (`sophia sign PLAN --key KEY` or `ssh-keygen -Y sign -n sophia-plan@v1 -f KEY PLAN`) and pass `--signature`"
    )]
    DigestModeRefused,
    #[error(
        "no approval: this repository approves plans by digest (`approval = \"digest\"`) and no `--approve` was given\n  hint: pass `--approve {digest}` once the plan has been reviewed"
    )]
    DigestRequired { digest: String },
    #[error(
        "`--approve {given}` is not a digest\n  hint: write `--approve sha256:<64 hex digits>`, the digest shown by `sophia plan`"
    )]
    MalformedDigest { given: String },
    #[error(
        "`--approve {given}` does not match the plan's digest `{plan}`\n  hint: the approved digest is for another plan; review this plan and approve its digest"
    )]
    DigestApprovalMismatch { given: String, plan: String },
    #[error(
        "no signature: expected `{expected}`\n  hint: sign the plan with `sophia sign PLAN --key KEY` or `ssh-keygen -Y sign -n sophia-plan@v1 -f KEY PLAN`"
    )]
    NoSignature { expected: String },
    #[error(
        "`{ALLOWED_SIGNERS_PATH}` does not exist, so no signature can be trusted\n  hint: list each approver as `principal keytype base64-key` (the line of their `.pub` file, prefixed with their name)"
    )]
    NoAllowedSigners,
    #[error(
        "`{file}` is not an SSH signature: {reason}\n  hint: the file must be what `ssh-keygen -Y sign` or `sophia sign` wrote, starting with `-----BEGIN SSH SIGNATURE-----`"
    )]
    MalformedSignature { file: String, reason: String },
    #[error(
        "`{file}` is a signature for namespace `{found}`, not `{expected}` (key {fingerprint})\n  hint: sign with `-n {expected}`: `ssh-keygen -Y sign -n {expected} -f KEY PLAN`"
    )]
    WrongNamespace {
        file: String,
        found: String,
        expected: String,
        fingerprint: String,
    },
    #[error(
        "the signature in `{file}` does not match the plan file (key {fingerprint}): the plan was changed after it was signed\n  hint: never edit a signed plan; re-run `sophia plan`, review it and sign it again"
    )]
    BadSignature { file: String, fingerprint: String },
    #[error(
        "`{file}` is signed by {key_type} key {fingerprint}, which is not listed in `{ALLOWED_SIGNERS_PATH}`\n  hint: only listed keys approve plans; add the approver's key there through a reviewed change, or have a listed approver sign"
    )]
    UnlistedKey {
        file: String,
        fingerprint: String,
        key_type: String,
    },
    #[error(
        "key {fingerprint} of `{principal}` ({ALLOWED_SIGNERS_PATH}:{line}) may not sign in namespace `{namespace}`: its namespaces are `{allowed}` (`{file}`)\n  hint: add `{namespace}` to the line's `namespaces=\"…\"` through a reviewed change"
    )]
    NamespaceNotAllowed {
        file: String,
        fingerprint: String,
        principal: String,
        line: usize,
        namespace: String,
        allowed: String,
    },
    #[error(
        "key {fingerprint} of `{principal}` is not valid yet: valid-after {valid_after} ({ALLOWED_SIGNERS_PATH}:{line}), it is now {now} (`{file}`)\n  hint: wait until the key's window opens, or have another listed approver sign"
    )]
    KeyNotYetValid {
        file: String,
        fingerprint: String,
        principal: String,
        line: usize,
        valid_after: String,
        now: String,
    },
    #[error(
        "key {fingerprint} of `{principal}` has expired: valid-before {valid_before} ({ALLOWED_SIGNERS_PATH}:{line}), it is now {now} (`{file}`)\n  hint: have a listed approver with a current key sign, or renew the key's window through a reviewed change"
    )]
    KeyExpired {
        file: String,
        fingerprint: String,
        principal: String,
        line: usize,
        valid_before: String,
        now: String,
    },
    #[error(
        "key {fingerprint} is listed at {ALLOWED_SIGNERS_PATH}:{line} under `{principals}`, which names no principal its own negations do not exclude (`{file}`)\n  hint: name the key's holder with a pattern the line's `!` negations do not match, e.g. `alice@example.com,!mallory@*`"
    )]
    NoPrincipal {
        file: String,
        fingerprint: String,
        principals: String,
        line: usize,
    },
    #[error(
        "the time `{time}` ({ALLOWED_SIGNERS_PATH}:{line}) does not exist in the local time zone (a daylight-saving gap)\n  hint: write the time in UTC with a `Z` suffix"
    )]
    NonexistentLocalTime { time: String, line: usize },
    #[error(
        "the plan is destructive ({destructive}) and needs signatures by {needed} distinct principals; it has {have}\n  hint: have more listed approvers sign (`plan.json.sig.<name>` files, or `--signature` repeated) — `[policy] destructive_signers` in .infra/sophia.toml"
    )]
    NotEnoughSigners {
        needed: u32,
        /// The distinct principals that did sign, e.g. "1 (`alice@example.com`)" or "none".
        have: String,
        destructive: String,
    },
}

impl ApprovalError {
    /// The normalized envelope error code.
    pub fn code(&self) -> &'static str {
        match self {
            ApprovalError::PlanBytesMismatch => "internal",
            ApprovalError::UnsupportedFormat { .. } | ApprovalError::InvalidExpiry { .. } => {
                "invalid-input"
            }
            _ => "unapproved",
        }
    }
}

/// Whether a plan is destructive, and why: the addresses of delete/replace changes and of
/// actions whose kind ends in `.delete` (e.g. `github.protection.delete`), sorted.
pub fn destructive_addresses(plan: &Plan) -> Vec<String> {
    let mut found = BTreeSet::new();
    for change in &plan.changes {
        if matches!(change.action, ChangeKind::Delete | ChangeKind::Replace) {
            found.insert(change.address.to_string());
        }
    }
    for action in &plan.actions {
        let kind = action.kind.as_str();
        if kind.ends_with(".delete") || kind.ends_with(".replace") {
            found.insert(action.address.to_string());
        }
    }
    found.into_iter().collect()
}

/// Check that `plan` (parsed from `plan_bytes`) is approved, in the order the module
/// documentation gives. Local allowed_signers times (no `Z`) are read in the machine's
/// time zone, as ssh-keygen does; see [`verify_approval_in`].
pub fn verify_approval(
    plan_bytes: &[u8],
    plan: &Plan,
    evidence: &Evidence,
    allowed: Option<&AllowedSigners>,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Approval, ApprovalError> {
    verify_approval_in(
        plan_bytes,
        plan,
        evidence,
        allowed,
        settings,
        now,
        &chrono::Local,
    )
}

/// [`verify_approval`] with the time zone of local allowed_signers times given.
pub fn verify_approval_in<Tz: TimeZone>(
    plan_bytes: &[u8],
    plan: &Plan,
    evidence: &Evidence,
    allowed: Option<&AllowedSigners>,
    settings: &Settings,
    now: DateTime<Utc>,
    local: &Tz,
) -> Result<Approval, ApprovalError> {
    // 1. Format, and the plan value is the one these bytes hold.
    if plan.format != PLAN_FORMAT {
        return Err(ApprovalError::UnsupportedFormat {
            found: plan.format.clone(),
        });
    }
    match serde_json::from_slice::<Plan>(plan_bytes) {
        Ok(parsed) if &parsed == plan => {}
        _ => return Err(ApprovalError::PlanBytesMismatch),
    }
    // 2. Digest.
    let computed = plan_digest(plan);
    if computed != plan.digest {
        return Err(ApprovalError::DigestMismatch {
            recorded: plan.digest.clone(),
            computed,
        });
    }
    // 3. Expiry.
    let not_after = DateTime::parse_from_rfc3339(&plan.not_after)
        .map_err(|_| ApprovalError::InvalidExpiry {
            not_after: plan.not_after.clone(),
        })?
        .with_timezone(&Utc);
    if now > not_after {
        return Err(ApprovalError::Expired {
            not_after: plan.not_after.clone(),
            now: rfc3339(now),
        });
    }
    // 4. The approval of the configured mode.
    let destructive = destructive_addresses(plan);
    let policy = settings
        .policy
        .destructive_signers
        .filter(|_| !destructive.is_empty());
    let signers = match settings.approval {
        ApprovalMode::Signature => {
            if evidence.approve_digest.is_some() {
                return Err(ApprovalError::DigestModeRefused);
            }
            verify_signatures(plan_bytes, evidence, allowed, now, local)?
        }
        ApprovalMode::Digest => {
            let Some(given) = &evidence.approve_digest else {
                return Err(ApprovalError::DigestRequired {
                    digest: plan.digest.clone(),
                });
            };
            if !is_digest(given) {
                return Err(ApprovalError::MalformedDigest {
                    given: given.clone(),
                });
            }
            if given != &plan.digest {
                return Err(ApprovalError::DigestApprovalMismatch {
                    given: given.clone(),
                    plan: plan.digest.clone(),
                });
            }
            // Signatures only matter here for the destructive-plan policy.
            if policy.is_some() && !evidence.signatures.is_empty() {
                verify_signatures(plan_bytes, evidence, allowed, now, local)?
            } else {
                Vec::new()
            }
        }
    };
    // 5. The destructive-plan policy.
    if let Some(needed) = policy {
        let principals: BTreeSet<&str> = signers.iter().map(|s| s.principal.as_str()).collect();
        if principals.len() < needed as usize {
            let have = if principals.is_empty() {
                "none".to_string()
            } else {
                format!(
                    "{} ({})",
                    principals.len(),
                    principals
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(ApprovalError::NotEnoughSigners {
                needed,
                have,
                destructive: destructive.join(", "),
            });
        }
    }
    Ok(Approval {
        plan_digest: plan.digest.clone(),
        mode: settings.approval,
        signers,
        destructive,
    })
}

/// Every signature must pass; one [`Signer`] per distinct key.
fn verify_signatures<Tz: TimeZone>(
    plan_bytes: &[u8],
    evidence: &Evidence,
    allowed: Option<&AllowedSigners>,
    now: DateTime<Utc>,
    local: &Tz,
) -> Result<Vec<Signer>, ApprovalError> {
    if evidence.signatures.is_empty() {
        return Err(ApprovalError::NoSignature {
            expected: "PLAN.sig".to_string(),
        });
    }
    let mut signers: Vec<Signer> = Vec::new();
    for file in &evidence.signatures {
        let signer = verify_one(plan_bytes, file, allowed, now, local)?;
        if !signers.iter().any(|s| s.fingerprint == signer.fingerprint) {
            signers.push(signer);
        }
    }
    Ok(signers)
}

fn verify_one<Tz: TimeZone>(
    plan_bytes: &[u8],
    file: &SignatureFile,
    allowed: Option<&AllowedSigners>,
    now: DateTime<Utc>,
    local: &Tz,
) -> Result<Signer, ApprovalError> {
    let sig = sshsig::parse(&file.bytes).map_err(|e| ApprovalError::MalformedSignature {
        file: file.name.clone(),
        reason: if String::from_utf8_lossy(&file.bytes).contains("-----BEGIN SSH SIGNATURE-----") {
            e.to_string()
        } else {
            "it has no `-----BEGIN SSH SIGNATURE-----` armor".to_string()
        },
    })?;
    let key = sig.public_key();
    let fingerprint = sshsig::fingerprint(key);
    if sig.namespace() != sshsig::NAMESPACE {
        return Err(ApprovalError::WrongNamespace {
            file: file.name.clone(),
            found: sig.namespace().to_string(),
            expected: sshsig::NAMESPACE.to_string(),
            fingerprint,
        });
    }
    if sshsig::verify(&sig, sshsig::NAMESPACE, plan_bytes).is_err() {
        return Err(ApprovalError::BadSignature {
            file: file.name.clone(),
            fingerprint,
        });
    }
    let allowed = allowed.ok_or(ApprovalError::NoAllowedSigners)?;
    let key_type = sshsig::family(key).to_string();
    // The first line listing the key that accepts it wins; otherwise report why the first
    // line listing it refused.
    let mut first_refusal = None;
    for entry in allowed.entries_for(key) {
        match check_entry(entry, file, &fingerprint, now, local) {
            Ok(principal) => {
                return Ok(Signer {
                    principal,
                    fingerprint,
                    key_type,
                    signature_file: file.name.clone(),
                    allowed_signers_line: entry.line,
                });
            }
            Err(e) => {
                first_refusal.get_or_insert(e);
            }
        }
    }
    Err(first_refusal.unwrap_or(ApprovalError::UnlistedKey {
        file: file.name.clone(),
        fingerprint,
        key_type,
    }))
}

/// Whether one allowed_signers line accepts the key now; its identity when it does.
fn check_entry<Tz: TimeZone>(
    entry: &allowed_signers::Entry,
    file: &SignatureFile,
    fingerprint: &str,
    now: DateTime<Utc>,
    local: &Tz,
) -> Result<String, ApprovalError> {
    let Some(identity) = entry.identity() else {
        return Err(ApprovalError::NoPrincipal {
            file: file.name.clone(),
            fingerprint: fingerprint.to_string(),
            principals: entry.principals.clone(),
            line: entry.line,
        });
    };
    if !entry.allows_namespace(sshsig::NAMESPACE) {
        return Err(ApprovalError::NamespaceNotAllowed {
            file: file.name.clone(),
            fingerprint: fingerprint.to_string(),
            principal: identity.clone(),
            line: entry.line,
            namespace: sshsig::NAMESPACE.to_string(),
            allowed: entry.namespaces.clone().unwrap_or_default(),
        });
    }
    // ssh-keygen compares whole seconds, inclusive at both ends.
    let now_s = now.timestamp();
    let resolve = |t: &allowed_signers::Timestamp| {
        t.resolve(local)
            .ok_or_else(|| ApprovalError::NonexistentLocalTime {
                time: t.text.clone(),
                line: entry.line,
            })
    };
    if let Some(after) = &entry.valid_after {
        if now_s < resolve(after)?.timestamp() {
            return Err(ApprovalError::KeyNotYetValid {
                file: file.name.clone(),
                fingerprint: fingerprint.to_string(),
                principal: identity.clone(),
                line: entry.line,
                valid_after: after.to_string(),
                now: rfc3339(now),
            });
        }
    }
    if let Some(before) = &entry.valid_before {
        if now_s > resolve(before)?.timestamp() {
            return Err(ApprovalError::KeyExpired {
                file: file.name.clone(),
                fingerprint: fingerprint.to_string(),
                principal: identity.clone(),
                line: entry.line,
                valid_before: before.to_string(),
                now: rfc3339(now),
            });
        }
    }
    Ok(identity)
}

/// `sha256:` and 64 lowercase hex digits.
fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

// ---------------------------------------------------------------------------------------
// The shell: reading the files of a repository.

/// What `verify` and `apply` are given on the command line.
#[derive(Debug, Clone, Default)]
pub struct GateOptions {
    /// The plan file.
    pub plan: PathBuf,
    /// `--signature` files; empty: `PLAN.sig` and `PLAN.sig.*` next to the plan.
    pub signatures: Vec<PathBuf>,
    /// `--approve sha256:…`.
    pub approve: Option<String>,
}

/// An approved plan, with the bytes it was read from.
#[derive(Debug, Clone)]
pub struct Gated {
    pub plan: Plan,
    pub plan_bytes: Vec<u8>,
    pub approval: Approval,
}

/// Read a plan file: its bytes and the plan they hold (errors name `file:line:column`).
pub fn read_plan(path: &Path) -> anyhow::Result<(Vec<u8>, Plan)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading `{}`", path.display()))?;
    let plan = serde_json::from_slice::<Plan>(&bytes).map_err(|e| {
        let message = e.to_string();
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        anyhow::anyhow!(
            "{}:{}:{}: not a sophia plan file: {message}\n  hint: plan files are written by `sophia plan --out plan.json` and must not be edited",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    Ok((bytes, plan))
}

/// Read `.infra/sophia.toml` (absent: the defaults).
pub fn read_settings(root: &Path) -> anyhow::Result<Settings> {
    let path = root.join(settings::SETTINGS_PATH);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Settings::parse(settings::SETTINGS_PATH, &text)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(e).with_context(|| format!("reading `{}`", path.display())),
    }
}

/// Read `.infra/allowed_signers` (absent: `None`).
pub fn read_allowed_signers(root: &Path) -> anyhow::Result<Option<AllowedSigners>> {
    let path = root.join(ALLOWED_SIGNERS_PATH);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(AllowedSigners::parse(ALLOWED_SIGNERS_PATH, &text)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading `{}`", path.display())),
    }
}

/// The signature files of a plan: the given ones, or `PLAN.sig` and `PLAN.sig.*` (sorted)
/// next to it.
pub fn signature_paths(plan: &Path, given: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    let name = plan
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match plan.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let default = format!("{name}.sig");
    let extra = format!("{name}.sig.");
    let mut found = Vec::new();
    let entries =
        std::fs::read_dir(&dir).with_context(|| format!("reading `{}`", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading `{}`", dir.display()))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if file == default || (file.starts_with(&extra) && file.len() > extra.len()) {
            found.push(plan.with_file_name(file));
        }
    }
    found.sort();
    Ok(found)
}

/// The whole gate on a repository: read the plan, the settings, the allowed signers and the
/// signatures, and [`verify_approval`] at `now`. A refusal is an [`ApprovalError`] inside
/// the returned error (`err.downcast_ref::<ApprovalError>()`).
pub fn gate(root: &Path, options: &GateOptions, now: DateTime<Utc>) -> anyhow::Result<Gated> {
    let plan_path = root.join(&options.plan);
    let (plan_bytes, plan) = read_plan(&plan_path)?;
    let settings = read_settings(root)?;
    let allowed = read_allowed_signers(root)?;
    let given: Vec<PathBuf> = options.signatures.iter().map(|p| root.join(p)).collect();
    let mut signatures = Vec::new();
    for path in signature_paths(&plan_path, &given)? {
        let bytes =
            std::fs::read(&path).with_context(|| format!("reading `{}`", path.display()))?;
        signatures.push(SignatureFile {
            name: shown(root, &path),
            bytes,
        });
    }
    let evidence = Evidence {
        signatures,
        approve_digest: options.approve.clone(),
    };
    let approval = verify_approval(
        &plan_bytes,
        &plan,
        &evidence,
        allowed.as_ref(),
        &settings,
        now,
    )
    .map_err(|e| match e {
        ApprovalError::NoSignature { .. } => ApprovalError::NoSignature {
            expected: format!("{}.sig", shown(root, &plan_path)),
        },
        other => other,
    })?;
    Ok(Gated {
        plan,
        plan_bytes,
        approval,
    })
}

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
    let key = sshsig::read_private_key(key_path, &key_name)?;
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

/// A path for messages: relative to the repository root when under it.
pub fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

pub use crate::proofs::atomic::write_atomic;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, FixedOffset};
    use ssh_key::PrivateKey;
    use ssh_key::private::Ed25519Keypair;

    /// A deterministic key from a seed (no randomness, no committed private key file).
    fn key(seed: u8) -> PrivateKey {
        PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn plan(destructive: bool) -> (Vec<u8>, Plan) {
        let mut value = serde_json::json!({
            "format": PLAN_FORMAT, "tool_version": "0.1.0",
            "created_at": "2026-06-01T11:00:00Z", "not_after": "2026-06-02T11:00:00Z",
            "nonce": "n", "desired": {"digest": "sha256:00"}, "live": {},
            "changes": [], "actions": [],
            "summary": {"create": 0, "update": 0, "delete": 0, "replace": 0}, "digest": ""
        });
        if destructive {
            value["actions"] = serde_json::json!([{
                "id": "qdrant.collection.delete:qdrant.collection.c", "address": "qdrant.collection.c",
                "kind": "qdrant.collection.delete", "params": {}, "depends_on": []
            }]);
        }
        let mut plan: Plan = serde_json::from_value(value).unwrap();
        plan.digest = plan_digest(&plan);
        (serde_json::to_vec_pretty(&plan).unwrap(), plan)
    }

    fn sig(key: &PrivateKey, namespace: &str, bytes: &[u8], name: &str) -> SignatureFile {
        let armored = key
            .sign(namespace, sshsig::HASH, bytes)
            .unwrap()
            .to_pem(ssh_key::LineEnding::LF)
            .unwrap();
        SignatureFile {
            name: name.into(),
            bytes: armored.into_bytes(),
        }
    }

    fn allowed(lines: &[String]) -> AllowedSigners {
        AllowedSigners::parse(ALLOWED_SIGNERS_PATH, &lines.join("\n")).unwrap()
    }

    fn line(principal: &str, options: &str, key: &PrivateKey) -> String {
        format!(
            "{principal} {options} {}",
            key.public_key().to_openssh().unwrap()
        )
    }

    fn check(
        bytes: &[u8],
        plan: &Plan,
        sigs: Vec<SignatureFile>,
        allowed: &AllowedSigners,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<Approval, ApprovalError> {
        let evidence = Evidence {
            signatures: sigs,
            approve_digest: None,
        };
        verify_approval_in(bytes, plan, &evidence, Some(allowed), settings, now, &Utc)
    }

    #[test]
    fn approves_a_listed_signer_and_says_who() {
        let alice = key(1);
        let (bytes, plan) = plan(false);
        let list = allowed(&[line("alice@example.com,!eve@*", "", &alice)]);
        let approval = check(
            &bytes,
            &plan,
            vec![sig(&alice, sshsig::NAMESPACE, &bytes, "plan.json.sig")],
            &list,
            &Settings::default(),
            now(),
        )
        .unwrap();
        assert_eq!(approval.plan_digest, plan.digest);
        assert_eq!(approval.signers.len(), 1);
        assert_eq!(approval.signers[0].principal, "alice@example.com");
        assert_eq!(
            approval.signers[0].fingerprint,
            sshsig::fingerprint(alice.public_key().key_data())
        );
        assert!(approval.destructive.is_empty());
    }

    #[test]
    fn checks_run_in_order_digest_then_expiry_then_signature() {
        let alice = key(1);
        let mallory = key(2);
        let list = allowed(&[line("alice@example.com", "", &alice)]);
        let (bytes, mut plan) = plan(false);
        let unlisted = vec![sig(&mallory, "other@v1", &bytes, "s")];
        let settings = Settings::default();
        // Bad digest, expired and a bad signature: the digest is reported.
        plan.digest = format!("sha256:{}", "0".repeat(64));
        let edited = serde_json::to_vec(&plan).unwrap();
        let late = now() + Duration::days(2);
        let e = check(&edited, &plan, unlisted.clone(), &list, &settings, late).unwrap_err();
        assert!(matches!(e, ApprovalError::DigestMismatch { .. }), "{e}");
        // Expired and a bad signature: the expiry.
        plan.digest = plan_digest(&plan);
        let e = check(&bytes, &plan, unlisted.clone(), &list, &settings, late).unwrap_err();
        assert!(matches!(e, ApprovalError::Expired { .. }), "{e}");
        // At `not_after` exactly the plan is still valid.
        let edge = DateTime::parse_from_rfc3339(&plan.not_after)
            .unwrap()
            .with_timezone(&Utc);
        let e = check(&bytes, &plan, unlisted.clone(), &list, &settings, edge).unwrap_err();
        assert!(matches!(e, ApprovalError::WrongNamespace { .. }), "{e}");
        // Wrong namespace is reported before the key is looked up.
        let e = check(&bytes, &plan, unlisted, &list, &settings, now()).unwrap_err();
        assert!(matches!(e, ApprovalError::WrongNamespace { .. }), "{e}");
        // The plan value must be the one the bytes hold.
        let mut other = plan.clone();
        other.nonce = "m".into();
        other.digest = plan_digest(&other);
        let good = vec![sig(&alice, sshsig::NAMESPACE, &bytes, "s")];
        let e = check(&bytes, &other, good, &list, &settings, now()).unwrap_err();
        assert_eq!(e, ApprovalError::PlanBytesMismatch);
    }

    #[test]
    fn every_given_signature_must_pass() {
        let alice = key(1);
        let mallory = key(2);
        let list = allowed(&[line("alice@example.com", "", &alice)]);
        let (bytes, plan) = plan(false);
        let e = check(
            &bytes,
            &plan,
            vec![
                sig(&alice, sshsig::NAMESPACE, &bytes, "a"),
                sig(&mallory, sshsig::NAMESPACE, &bytes, "m"),
            ],
            &list,
            &Settings::default(),
            now(),
        )
        .unwrap_err();
        assert!(
            matches!(&e, ApprovalError::UnlistedKey { file, .. } if file == "m"),
            "{e}"
        );
    }

    #[test]
    fn local_validity_times_use_the_given_zone() {
        let alice = key(1);
        let (bytes, plan) = plan(false);
        // valid-before 13:30 local; now is 12:00 UTC.
        let list = allowed(&[line(
            "alice@example.com",
            "valid-before=\"202606011330\"",
            &alice,
        )]);
        let evidence = Evidence {
            signatures: vec![sig(&alice, sshsig::NAMESPACE, &bytes, "s")],
            approve_digest: None,
        };
        let at = |zone: FixedOffset| {
            verify_approval_in(
                &bytes,
                &plan,
                &evidence,
                Some(&list),
                &Settings::default(),
                now(),
                &zone,
            )
        };
        // UTC+1: 13:30 local is 12:30 UTC, still valid.
        at(FixedOffset::east_opt(3600).unwrap()).unwrap();
        // UTC+2: 13:30 local is 11:30 UTC, expired.
        let e = at(FixedOffset::east_opt(7200).unwrap()).unwrap_err();
        assert!(matches!(e, ApprovalError::KeyExpired { .. }), "{e}");
    }

    #[test]
    fn the_first_line_that_accepts_the_key_wins() {
        let alice = key(1);
        let (bytes, plan) = plan(false);
        let list = allowed(&[
            line("alice@git", "namespaces=\"git\"", &alice),
            line("alice@example.com", "namespaces=\"sophia-*\"", &alice),
        ]);
        let approval = check(
            &bytes,
            &plan,
            vec![sig(&alice, sshsig::NAMESPACE, &bytes, "s")],
            &list,
            &Settings::default(),
            now(),
        )
        .unwrap();
        assert_eq!(approval.signers[0].principal, "alice@example.com");
        assert_eq!(approval.signers[0].allowed_signers_line, 2);
    }

    #[test]
    fn destructive_policy_counts_distinct_principals() {
        let (alice, bob) = (key(1), key(3));
        let (bytes, plan) = plan(true);
        assert_eq!(destructive_addresses(&plan), vec!["qdrant.collection.c"]);
        let list = allowed(&[
            line("alice@example.com", "", &alice),
            line("bob@example.com", "", &bob),
        ]);
        let settings = Settings::parse("t", "[policy]\ndestructive_signers = 2").unwrap();
        let a = sig(&alice, sshsig::NAMESPACE, &bytes, "a");
        let b = sig(&bob, sshsig::NAMESPACE, &bytes, "b");
        let e = check(
            &bytes,
            &plan,
            vec![a.clone(), a.clone()],
            &list,
            &settings,
            now(),
        )
        .unwrap_err();
        assert!(
            matches!(e, ApprovalError::NotEnoughSigners { needed: 2, .. }),
            "{e}"
        );
        let ok = check(&bytes, &plan, vec![a, b], &list, &settings, now()).unwrap();
        assert_eq!(ok.signers.len(), 2);
        assert_eq!(ok.destructive, vec!["qdrant.collection.c"]);
    }

    #[test]
    fn digests_are_recognized() {
        assert!(is_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!is_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!is_digest(&format!("sha256:{}", "a".repeat(63))));
        assert!(!is_digest(&"a".repeat(64)));
    }
}
