//! Why a plan is not approved: one variant per refused check, carrying the data it compared.

use super::ALLOWED_SIGNERS_PATH;
use crate::core::plan::PLAN_FORMAT;

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
        "the plan's actions are not what its changes call for: {what}\n  hint: the actions were edited after `sophia plan` wrote them (what runs must be what the approver read); never edit a plan — re-run `sophia plan`"
    )]
    Tampered {
        /// The first differing action, when one is named.
        action: Option<String>,
        what: String,
    },
    #[error(
        "the plan's `not_after` `{not_after}` is not an RFC 3339 time\n  hint: re-run `sophia plan`"
    )]
    InvalidExpiry { not_after: String },
    #[error(
        "the plan expired at {not_after} (it is now {now})\n  hint: re-run `sophia plan` (add `--ttl` for a longer validity) and have it approved again"
    )]
    Expired { not_after: String, now: String },
    #[error(
        "the plan is valid for {ttl} (from `created_at` to `not_after`), longer than the cap of {max} (`[policy] max_ttl` of .infra/sophia.toml, default 7d)\n  hint: re-run `sophia plan` with a shorter `--ttl` and have it approved again"
    )]
    TtlOverCap { ttl: String, max: String },
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
            ApprovalError::Tampered { .. } => "tampered",
            _ => "unapproved",
        }
    }
}
