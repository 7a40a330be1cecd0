//! What `proofs verify` concludes: a [`VerifyReport`] when the journal and the files hold
//! together, else the first [`VerifyError`], which names the line (or row) and the file,
//! with a hint. Shared by the local journal and the PostgreSQL backend.

use serde::Serialize;

/// A successful verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub records: usize,
    /// Distinct proof files checked.
    pub files: usize,
    /// `sha256:` of the last line (GENESIS when empty): pin it to detect an edit of the tip.
    pub head: String,
    /// Actions whose intent is journaled but not their outcome (`kind address (plan)`): the
    /// run was interrupted, and each may or may not have happened.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interrupted: Vec<String>,
}

/// The first thing wrong with a journal. `line` is 1-based; `seq` is the record's when
/// known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "{at} is torn: it has no newline and {what} (a crash during an append?); \
         truncating the journal to its first {keep_bytes} bytes removes it"
    )]
    Torn {
        at: String,
        line: usize,
        what: String,
        keep_bytes: usize,
    },
    #[error("{at} is not a journal record: {reason}")]
    NotJson {
        at: String,
        line: usize,
        reason: String,
    },
    #[error(
        "{at} holds seq {found} where seq {expected} was expected: the first record must be seq 1"
    )]
    BadStart {
        at: String,
        line: usize,
        expected: u64,
        found: u64,
    },
    #[error(
        "{at} holds seq {found}, but seq {expected} is missing: record{plural} {missing} removed",
        plural = if *found - *expected > 1 { "s" } else { "" },
        missing = if *found - *expected > 1 { format!("{expected}..{}", found - 1) } else { expected.to_string() },
    )]
    Removed {
        at: String,
        line: usize,
        expected: u64,
        found: u64,
    },
    #[error(
        "{at} holds seq {found} where seq {expected} was expected; seq {expected} is at {other}: lines reordered"
    )]
    Reordered {
        at: String,
        line: usize,
        expected: u64,
        found: u64,
        other: String,
    },
    #[error("{at} repeats seq {seq} of {other}: a line was inserted")]
    Inserted {
        at: String,
        line: usize,
        seq: u64,
        other: String,
    },
    #[error(
        "{at} (seq {seq}) was edited: {next} records prev `{recorded}` but it hashes to `{actual}`"
    )]
    Edited {
        at: String,
        line: usize,
        seq: u64,
        next: String,
        recorded: String,
        actual: String,
    },
    #[error(
        "{at} (seq 1) has prev `{found}`, not the genesis value: the start of the journal was removed or the line edited"
    )]
    BadGenesis {
        at: String,
        line: usize,
        found: String,
    },
    #[error(
        "{at} (seq {seq}): column `{column}` is {column_value} but the hashed record says {line_value}: the row was edited"
    )]
    ColumnEdited {
        at: String,
        line: usize,
        seq: u64,
        column: String,
        column_value: String,
        line_value: String,
    },
    #[error("{at} (seq {seq}) names an unsafe proof path: {reason}")]
    UnsafeProof {
        at: String,
        line: usize,
        seq: u64,
        reason: String,
    },
    #[error("{at} (seq {seq}) has a proof without a hash, or a hash without a proof")]
    HalfProof { at: String, line: usize, seq: u64 },
    #[error(
        "proof file `proofs/{file}` of {at} (seq {seq}) is missing: removed after it was journaled"
    )]
    MissingFile {
        at: String,
        line: usize,
        seq: u64,
        file: String,
    },
    #[error(
        "proof file `proofs/{file}` of {at} (seq {seq}) was changed: journaled as `{expected}`, now `{actual}`"
    )]
    ChangedFile {
        at: String,
        line: usize,
        seq: u64,
        file: String,
        expected: String,
        actual: String,
    },
    #[error("proof file `proofs/{file}` of {at} (seq {seq}) cannot be read: {reason}")]
    UnreadableFile {
        at: String,
        line: usize,
        seq: u64,
        file: String,
        reason: String,
    },
    #[error(
        "the journal head is `{actual}`, not the expected `{expected}`: the last record was edited, or records were added or removed at the end"
    )]
    HeadMismatch { expected: String, actual: String },
    #[error(
        "{journal} is missing or empty, but {} proof file{} that the journal must name exist{}: {}",
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        if files.len() == 1 { "s" } else { "" },
        list(files)
    )]
    NoJournal {
        /// `proofs/journal.jsonl`, or the table.
        journal: String,
        files: Vec<String>,
    },
    #[error(
        "{} proof file{} under {} {} named by no journal record: {}",
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        journaled_dirs(),
        if files.len() == 1 { "is" } else { "are" },
        list(files)
    )]
    Unjournaled { files: Vec<String> },
    #[error("cannot list the proof files: {reason}")]
    Unlistable { reason: String },
}

/// `proofs/apply/, proofs/plans/ or proofs/drift/`.
fn journaled_dirs() -> String {
    let dirs: Vec<String> = super::layout::JOURNALED_DIRS
        .iter()
        .map(|d| format!("proofs/{d}/"))
        .collect();
    match dirs.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// How many files a message names before `and N more`.
const LISTED: usize = 10;

/// `proofs/a`, `proofs/b` and 3 more.
fn list(files: &[String]) -> String {
    let mut out = files
        .iter()
        .take(LISTED)
        .map(|f| format!("`proofs/{f}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if files.len() > LISTED {
        out.push_str(&format!(" and {} more", files.len() - LISTED));
    }
    out
}

impl VerifyError {
    /// What to do about it, for the `hint:` line.
    pub fn hint(&self) -> &'static str {
        match self {
            VerifyError::Torn { .. } => {
                "only the interrupted append is lost; its proof file is still in place"
            }
            VerifyError::NotJson { .. }
            | VerifyError::BadStart { .. }
            | VerifyError::Removed { .. }
            | VerifyError::Reordered { .. }
            | VerifyError::Inserted { .. }
            | VerifyError::Edited { .. }
            | VerifyError::BadGenesis { .. }
            | VerifyError::ColumnEdited { .. }
            | VerifyError::HalfProof { .. }
            | VerifyError::HeadMismatch { .. } => {
                "the journal is append-only evidence and is never edited: compare it with its \
                 history (`git log -p proofs/journal.jsonl`, or a backup of the table) to see what changed"
            }
            VerifyError::UnsafeProof { .. } => {
                "a journal record may only name a plain file inside proofs/, never through a link"
            }
            VerifyError::MissingFile { .. }
            | VerifyError::ChangedFile { .. }
            | VerifyError::UnreadableFile { .. } => {
                "proof files are never edited by hand: `git log -p` on the file shows the change, \
                 `git checkout` restores the journaled version"
            }
            VerifyError::NoJournal { .. } => {
                "the journal was removed or emptied: restore it from history (`git log -- \
                 proofs/journal.jsonl`); proofs without their journal prove nothing"
            }
            VerifyError::Unjournaled { .. } => {
                "each of these files is written just before its journal record: one without a \
                 record was added by hand, or its action ran but was never journaled (a crash, \
                 an unwritable journal); `git log -- FILE` shows where it came from — keep it in \
                 history, then remove it"
            }
            VerifyError::Unlistable { .. } => "check the permissions of proofs/",
        }
    }
}

impl crate::core::hint::Hint for VerifyError {
    fn hint(&self) -> Option<String> {
        Some(VerifyError::hint(self).to_string())
    }
}
