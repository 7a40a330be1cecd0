//! Why a plan is not approved: one variant per refused check, carrying the data it compared.

use super::ALLOWED_SIGNERS_PATH;
use crate::core::plan::PLAN_FORMAT;

/// Why a plan is not approved. Every message names the failed check and the data it
/// compared, and ends with a hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    #[error("the plan's format is `{found}`, not `{PLAN_FORMAT}`")]
    UnsupportedFormat { found: String },
    #[error("internal error: the plan checked is not the one parsed from the plan file's bytes")]
    PlanBytesMismatch,
    #[error(
        "the plan's content does not match its digest: it records `{recorded}` but its content hashes to `{computed}`"
    )]
    DigestMismatch { recorded: String, computed: String },
    #[error("the plan's actions are not what its changes call for: {what}")]
    Tampered {
        /// The first differing action, when one is named.
        action: Option<String>,
        what: String,
    },
    #[error(
        "the plan was made by another build of sophia: the plan by sophia {planned}, this is sophia {this}"
    )]
    OtherBuild { planned: String, this: String },
    #[error("the plan's `not_after` `{not_after}` is not an RFC 3339 time")]
    InvalidExpiry { not_after: String },
    #[error("the plan expired at {not_after} (it is now {now})")]
    Expired { not_after: String, now: String },
    #[error(
        "the plan is valid for {ttl} (from `created_at` to `not_after`), longer than the cap of {max} (`[policy] max_ttl` of .infra/sophia.toml, default 7d)"
    )]
    TtlOverCap { ttl: String, max: String },
    #[error(
        "`--approve` is refused: this repository approves plans by signature (`approval = \"signature\"` in .infra/sophia.toml)"
    )]
    DigestModeRefused,
    #[error(
        "no approval: this repository approves plans by digest (`approval = \"digest\"`) and no `--approve` was given"
    )]
    DigestRequired { digest: String },
    #[error("`--approve {given}` is not a digest")]
    MalformedDigest { given: String },
    #[error("`--approve {given}` does not match the plan's digest `{plan}`")]
    DigestApprovalMismatch { given: String, plan: String },
    #[error("no signature: expected `{expected}`")]
    NoSignature { expected: String },
    #[error("`{ALLOWED_SIGNERS_PATH}` does not exist, so no signature can be trusted")]
    NoAllowedSigners,
    #[error("`{file}` is not an SSH signature: {reason}")]
    MalformedSignature { file: String, reason: String },
    #[error(
        "`{file}` is a signature for namespace `{found}`, not `{expected}` (key {fingerprint})"
    )]
    WrongNamespace {
        file: String,
        found: String,
        expected: String,
        fingerprint: String,
    },
    #[error(
        "the signature in `{file}` does not match the plan file (key {fingerprint}): the plan was changed after it was signed"
    )]
    BadSignature { file: String, fingerprint: String },
    #[error(
        "`{file}` is signed by {key_type} key {fingerprint}, which is not listed in `{ALLOWED_SIGNERS_PATH}`"
    )]
    UnlistedKey {
        file: String,
        fingerprint: String,
        key_type: String,
    },
    #[error(
        "key {fingerprint} of `{principal}` ({ALLOWED_SIGNERS_PATH}:{line}) may not sign in namespace `{namespace}`: its namespaces are `{allowed}` (`{file}`)"
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
        "key {fingerprint} of `{principal}` is not valid yet: valid-after {valid_after} ({ALLOWED_SIGNERS_PATH}:{line}), it is now {now} (`{file}`)"
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
        "key {fingerprint} of `{principal}` has expired: valid-before {valid_before} ({ALLOWED_SIGNERS_PATH}:{line}), it is now {now} (`{file}`)"
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
        "key {fingerprint} is listed at {ALLOWED_SIGNERS_PATH}:{line} under `{principals}`, which names no principal its own negations do not exclude (`{file}`)"
    )]
    NoPrincipal {
        file: String,
        fingerprint: String,
        principals: String,
        line: usize,
    },
    #[error(
        "`{file}` is a `{signature_type}` signature by a `{key_type}` key ({fingerprint}), which sophia does not verify"
    )]
    UnsupportedSignature {
        file: String,
        signature_type: String,
        key_type: String,
        fingerprint: String,
    },
    #[error(
        "`{file}` is signed by key {fingerprint}, listed only on {ALLOWED_SIGNERS_PATH}:{line}, a line that is skipped (see the warning above)"
    )]
    KeyOnSkippedLine {
        file: String,
        fingerprint: String,
        line: usize,
    },
    #[error(
        "the security-key signature in `{file}` (key {fingerprint}) was made without touching the key: its user-presence flag is not set (flags 0x{flags:02x})"
    )]
    NoUserPresence {
        file: String,
        fingerprint: String,
        flags: u8,
    },
    #[error(
        "`{file}` is signed with certificate `{key_id}` (key {fingerprint}), whose CA key {ca} is on no `cert-authority` line of `{ALLOWED_SIGNERS_PATH}`"
    )]
    UnlistedAuthority {
        file: String,
        fingerprint: String,
        ca: String,
        key_id: String,
    },
    #[error(
        "certificate `{key_id}` (key {fingerprint}) that signed `{file}` is refused by the cert-authority line {ALLOWED_SIGNERS_PATH}:{line}: {reason}"
    )]
    CertificateRefused {
        file: String,
        fingerprint: String,
        key_id: String,
        line: usize,
        reason: String,
    },
    #[error(
        "the time `{time}` ({ALLOWED_SIGNERS_PATH}:{line}) does not exist in the local time zone (a daylight-saving gap)"
    )]
    NonexistentLocalTime { time: String, line: usize },
    #[error("the plan {why} and needs signatures by {needed} distinct principals; it has {have}")]
    NotEnoughSigners {
        needed: u32,
        /// The distinct principals that did sign, e.g. "1 (`alice@example.com`)" or "none".
        have: String,
        /// Why it needs them: "is destructive (ADDRESS: REASON; …)", "has 1 policy warning
        /// (`…`), each raising the signers needed by one", or both joined by "and".
        why: String,
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
            ApprovalError::Tampered { .. } => "tampered",
            _ => "unapproved",
        }
    }
}

impl crate::core::hint::Hint for ApprovalError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            ApprovalError::UnsupportedFormat { .. } => "re-run `sophia plan` with this version of sophia".to_string(),
            ApprovalError::PlanBytesMismatch => "this is a bug in sophia; please report it".to_string(),
            ApprovalError::DigestMismatch { .. } => "the plan file was edited after `sophia plan` wrote it; never edit a plan — change desired/*.yaml and re-run `sophia plan`".to_string(),
            ApprovalError::InvalidExpiry { .. } => "re-run `sophia plan`".to_string(),
            ApprovalError::OtherBuild { .. } => "apply a plan with the build that made it: re-run `sophia plan` with this build and have the new plan approved (the workflows build sophia once per commit and pass that binary from the plan job to the apply job)".to_string(),
            ApprovalError::Tampered { .. } => "the actions were edited after `sophia plan` wrote them (what runs must be what the approver read); never edit a plan — re-run `sophia plan`".to_string(),
            ApprovalError::TtlOverCap { .. } => "re-run `sophia plan` with a shorter `--ttl` and have it approved again".to_string(),
            ApprovalError::Expired { .. } => "re-run `sophia plan` (add `--ttl` for a longer validity) and have it approved again".to_string(),
            ApprovalError::DigestModeRefused => "sign the plan (`sophia sign PLAN --key KEY` or `ssh-keygen -Y sign -n sophia-plan@v1 -f KEY PLAN`) and pass `--signature`".to_string(),
            ApprovalError::DigestRequired { digest, .. } => format!("pass `--approve {digest}` once the plan has been reviewed"),
            ApprovalError::MalformedDigest { .. } => "write `--approve sha256:<64 hex digits>`, the digest shown by `sophia plan`".to_string(),
            ApprovalError::DigestApprovalMismatch { .. } => "the approved digest is for another plan; review this plan and approve its digest".to_string(),
            ApprovalError::NoSignature { .. } => "sign the plan with `sophia sign PLAN --key KEY` or `ssh-keygen -Y sign -n sophia-plan@v1 -f KEY PLAN`".to_string(),
            ApprovalError::NoAllowedSigners => "list each approver as `principal keytype base64-key` (the line of their `.pub` file, prefixed with their name)".to_string(),
            ApprovalError::MalformedSignature { .. } => "the file must be what `ssh-keygen -Y sign` or `sophia sign` wrote, starting with `-----BEGIN SSH SIGNATURE-----`".to_string(),
            ApprovalError::WrongNamespace { expected, .. } => format!("sign with `-n {expected}`: `ssh-keygen -Y sign -n {expected} -f KEY PLAN`"),
            ApprovalError::BadSignature { .. } => "never edit a signed plan; re-run `sophia plan`, review it and sign it again".to_string(),
            ApprovalError::UnlistedKey { .. } => "only listed keys approve plans; add the approver's key there through a reviewed change, or have a listed approver sign".to_string(),
            ApprovalError::NamespaceNotAllowed { namespace, .. } => format!("add `{namespace}` to the line's `namespaces=\"…\"` through a reviewed change"),
            ApprovalError::KeyNotYetValid { .. } => "wait until the key's window opens, or have another listed approver sign".to_string(),
            ApprovalError::KeyExpired { .. } => "have a listed approver with a current key sign, or renew the key's window through a reviewed change".to_string(),
            ApprovalError::NoPrincipal { .. } => "name the key's holder with a pattern the line's `!` negations do not match, e.g. `alice@example.com,!mallory@*`".to_string(),
            ApprovalError::UnsupportedSignature { .. } => "this is a webauthn signature (made through a browser); sign with `ssh-keygen -Y sign -n sophia-plan@v1 -f KEY PLAN` and the security key itself, which writes an `sk-…` signature sophia verifies".to_string(),
            ApprovalError::KeyOnSkippedLine { .. } => "fix that line as its warning says (ssh-keygen skips it too), through a reviewed change".to_string(),
            ApprovalError::NoUserPresence { .. } => "sign again and touch the security key when it blinks; a key made with `ssh-keygen -O no-touch-required` cannot approve plans".to_string(),
            ApprovalError::UnlistedAuthority { .. } => "list the CA's public key on a line `principals cert-authority CA-KEY` through a reviewed change, or sign with a listed key".to_string(),
            ApprovalError::CertificateRefused { .. } => "have the CA issue a current user certificate naming a principal the line accepts, or sign with a listed key".to_string(),
            ApprovalError::NonexistentLocalTime { .. } => "write the time in UTC with a `Z` suffix".to_string(),
            ApprovalError::NotEnoughSigners { why, .. } if why.contains("policy warning") => "have more listed approvers sign (`plan.json.sig.<name>` files, or `--signature` repeated): each warning of `.infra/policy/` needs one more distinct signer, on top of `[policy] destructive_signers` in .infra/sophia.toml for a destructive plan".to_string(),
            ApprovalError::NotEnoughSigners { .. } => "have more listed approvers sign (`plan.json.sig.<name>` files, or `--signature` repeated) — `[policy] destructive_signers` in .infra/sophia.toml".to_string(),
        })
    }
}
