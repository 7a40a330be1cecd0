//! The hash-chained journal: `proofs/journal.jsonl`, one JSON record a line.
//!
//! ```text
//! {"seq":1,"at":"…","kind":"fly.secrets.set","plan_digest":"sha256:…","address":"fly.app.a.secrets",
//!  "status":"success","proof":"apply/<hex>/….json","proof_sha256":"sha256:…","prev":"sha256:e3b0…"}
//! ```
//!
//! - `seq` counts from 1 with no gaps.
//! - `prev` is `sha256:` of the exact bytes of the previous line, without its `\n`. The
//!   first record's `prev` is [`GENESIS`], the SHA-256 of the empty string (as if an empty
//!   line stood before it).
//! - `proof` is a path relative to `proofs/` (or `null` for a record without a file, e.g. a
//!   lease takeover), `proof_sha256` the hash of that file's bytes when the record was written.
//!
//! **Durability.** A record can only name a proof through a [`ProofRef`], which only
//! [`ProofStore`](super::ProofStore) makes, after the file is written and fsynced: so a
//! record is never written before its proof is durable. [`LocalJournal::append`] takes an
//! exclusive `flock` on the journal (appends already happen under the apply lease; the file
//! lock makes the append itself safe against any other writer), reads the last line, writes
//! the new line with one `O_APPEND` write and `fdatasync`s it. A crash mid-write leaves a
//! torn last line without its `\n`: `verify` names it, and `append` refuses to chain onto it.
//!
//! **What verify proves.** Every line parses, `seq` runs 1, 2, 3…, each `prev` matches the
//! line before, and every proof file still has the hash its latest record gave it (a proof
//! path written again later — `fly/viewer.json` on each `op fly viewer` — is checked
//! against the newest record naming it; older records of that path are superseded). And
//! every file under the journaled folders (`apply/`, `plans/`, `drift/`) is named by a
//! record: a missing journal, or a proof whose record was never written, fails — except an
//! action's own proof whose intent record is there (the run was interrupted between the
//! proof and its outcome record), which is reported with every intent that has no
//! outcome: that action may have happened. A hash
//! chain cannot by itself detect an edit of its **last** line: verify returns the `head`
//! hash so it can be pinned elsewhere (a commit, a CI log) and checked with `--head`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::safe::{self, RelPath};
pub use super::verify::{VerifyError, VerifyReport};

/// The `prev` of the first record: `sha256:` of the empty string.
pub const GENESIS: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

pub use super::coverage::INTENT_STATUS;

/// The journal's file name under `proofs/`.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// One journal record, exactly as a line holds it (field order is the line's order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub seq: u64,
    /// RFC 3339, UTC.
    pub at: String,
    /// What happened: an action kind (`fly.secrets.set`), or a journal event of the
    /// executor (`apply.start`, `lease.takeover`, `plan.stored`, `apply.converged`, …).
    pub kind: String,
    pub plan_digest: Option<String>,
    pub address: Option<String>,
    /// `success`, `failure`, `skipped`, … (the executor's vocabulary).
    pub status: String,
    pub proof: Option<String>,
    pub proof_sha256: Option<String>,
    pub prev: String,
}

/// A durable proof file: only [`ProofStore`](super::ProofStore) makes these, after fsync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofRef {
    pub(crate) path: RelPath,
    pub(crate) sha256: String,
}

impl ProofRef {
    /// The path relative to `proofs/`.
    pub fn path(&self) -> &RelPath {
        &self.path
    }
    /// `sha256:<hex>` of the file's bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// What the caller gives to append a record; `seq` and `prev` are the journal's to fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub at: String,
    pub kind: String,
    pub plan_digest: Option<String>,
    pub address: Option<String>,
    pub status: String,
    pub proof: Option<ProofRef>,
}

impl NewRecord {
    /// A record stamped now (the shell's clock), without plan, address or proof.
    pub fn now(kind: impl Into<String>, status: impl Into<String>) -> NewRecord {
        NewRecord {
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            kind: kind.into(),
            plan_digest: None,
            address: None,
            status: status.into(),
            proof: None,
        }
    }
    pub fn plan(mut self, digest: impl Into<String>) -> NewRecord {
        self.plan_digest = Some(digest.into());
        self
    }
    pub fn address(mut self, address: impl std::fmt::Display) -> NewRecord {
        self.address = Some(address.to_string());
        self
    }
    pub fn proof(mut self, proof: ProofRef) -> NewRecord {
        self.proof = Some(proof);
        self
    }

    /// The record that follows a line whose `seq` is `last_seq` and whose hash is `prev`.
    pub fn chain(self, last_seq: u64, prev: String) -> Record {
        let (proof, proof_sha256) = match self.proof {
            Some(p) => (Some(p.path.to_string()), Some(p.sha256)),
            None => (None, None),
        };
        Record {
            seq: last_seq + 1,
            at: self.at,
            kind: self.kind,
            plan_digest: self.plan_digest,
            address: self.address,
            status: self.status,
            proof,
            proof_sha256,
            prev,
        }
    }
}

impl Record {
    /// The line (without `\n`) this record is written as.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a record serializes")
    }
}

/// `sha256:` of a line's bytes (without its `\n`): the next record's `prev`.
pub fn line_hash(line: &str) -> String {
    crate::core::digest::sha256_bytes(line.as_bytes())
}

/// The journal file of the local backend.
#[derive(Debug, Clone)]
pub struct LocalJournal {
    proofs_root: PathBuf,
}

impl LocalJournal {
    pub fn new(proofs_root: impl Into<PathBuf>) -> LocalJournal {
        LocalJournal {
            proofs_root: proofs_root.into(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.proofs_root.join(JOURNAL_FILE)
    }

    /// Append one record (see the module docs for the durability argument).
    pub fn append(&self, new: NewRecord) -> anyhow::Result<Record> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = self.checked_path()?;
        std::fs::create_dir_all(&self.proofs_root)
            .with_context(|| format!("creating `{}`", self.proofs_root.display()))?;
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .with_context(|| format!("opening `{}`", path.display()))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .with_context(|| format!("locking `{}`", path.display()))?;
        let refusing = || {
            format!(
                "refusing to append to `{}`; run `sophia proofs verify`",
                path.display()
            )
        };
        let tail = read_tail(&mut file).with_context(|| format!("reading `{}`", path.display()))?;
        let (last_seq, prev) = match tip(&tail) {
            Ok(t) => t,
            Err(_) => {
                // Re-read it all, so the error numbers the bad line exactly.
                let mut text = String::new();
                file.seek(SeekFrom::Start(0))
                    .and_then(|_| file.read_to_string(&mut text))
                    .with_context(|| format!("reading `{}`", path.display()))?;
                tip(&text).with_context(refusing)?
            }
        };
        let record = new.chain(last_seq, prev);
        let mut line = record.to_line();
        line.push('\n');
        file.write_all(line.as_bytes())
            .with_context(|| format!("appending to `{}`", path.display()))?;
        file.sync_data()
            .with_context(|| format!("syncing `{}`", path.display()))?;
        if !existed {
            super::atomic::sync_dir(&self.proofs_root)?;
        }
        // The flock is released when `file` closes.
        Ok(record)
    }

    /// Every record, in file order. Fails on a line that does not parse.
    pub fn read(&self) -> anyhow::Result<Vec<Record>> {
        let path = self.checked_path()?;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading `{}`", path.display())),
        };
        text.lines()
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .with_context(|| format!("`{}` line {}", path.display(), i + 1))
            })
            .collect()
    }

    /// Verify the chain and every referenced file (see [`verify_entries`]).
    pub fn verify(&self, expect_head: Option<&str>) -> anyhow::Result<VerifyReport> {
        let path = self.checked_path()?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("reading `{}`", path.display())),
        };
        let entries = split_lines(&bytes);
        Ok(verify_entries(
            &Source::File(format!("proofs/{JOURNAL_FILE}")),
            &entries,
            &self.proofs_root,
            expect_head,
        )?)
    }

    /// The journal path, refusing a symbolic link in its place.
    fn checked_path(&self) -> anyhow::Result<PathBuf> {
        let rel = RelPath::parse(JOURNAL_FILE).expect("a fixed safe name");
        Ok(safe::resolve(&self.proofs_root, &rel)?)
    }
}

/// The end of a journal holding at least its whole last line: read backwards in growing
/// chunks, so an append costs the size of the last line, not of the whole journal. The
/// partial first line of a chunk is dropped.
fn read_tail(file: &mut File) -> std::io::Result<String> {
    // 4 KiB holds a typical record (≈ 400 bytes) many times over; growing 4× per round
    // reaches any line length in a few reads.
    let mut want: u64 = 4096;
    let len = file.metadata()?.len();
    loop {
        let start = len.saturating_sub(want);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if start == 0 || body.contains(&b'\n') || !buf.ends_with(b"\n") {
            let from = if start == 0 {
                0
            } else {
                buf.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1)
            };
            return Ok(String::from_utf8_lossy(&buf[from..]).into_owned());
        }
        want *= 4;
    }
}

/// The last `seq` and the hash of the last line of a journal's text, refusing a torn or
/// unparsable last line. An empty journal is `(0, GENESIS)`.
pub fn tip(text: &str) -> anyhow::Result<(u64, String)> {
    if text.is_empty() {
        return Ok((0, GENESIS.to_string()));
    }
    let lines = text.matches('\n').count();
    anyhow::ensure!(
        text.ends_with('\n'),
        "line {} is torn: the last line has no newline (a crash during an append?); \
         truncating the journal to its first {} bytes removes it",
        lines + 1,
        text.rfind('\n').map_or(0, |i| i + 1)
    );
    let last = text[..text.len() - 1]
        .rsplit('\n')
        .next()
        .expect("split yields one item");
    let record: Record = serde_json::from_str(last)
        .with_context(|| format!("line {lines} is not a journal record"))?;
    Ok((record.seq, line_hash(last)))
}

/// One line of a journal, wherever it is stored.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The line's bytes, without `\n`.
    pub bytes: Vec<u8>,
    /// False for a last line that has no `\n` (a torn write).
    pub terminated: bool,
    /// For a database row: columns that must agree with the hashed line (name, value).
    pub columns: Vec<(&'static str, Option<String>)>,
}

/// Split a journal file into entries.
pub fn split_lines(bytes: &[u8]) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                out.push(Entry {
                    bytes: rest[..i].to_vec(),
                    terminated: true,
                    columns: Vec::new(),
                });
                rest = &rest[i + 1..];
            }
            None => {
                out.push(Entry {
                    bytes: rest.to_vec(),
                    terminated: false,
                    columns: Vec::new(),
                });
                rest = &[];
            }
        }
    }
    out
}

/// Where the journal lives, for messages: a file's lines or a table's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(String),
    Table(String),
}

impl Source {
    fn at(&self, n: usize) -> String {
        match self {
            Source::File(f) => format!("`{f}` line {n}"),
            Source::Table(t) => format!("table `{t}` row {n}"),
        }
    }
    /// The journal itself, for messages: `` `proofs/journal.jsonl` `` or ``table `t` ``.
    fn describe(&self) -> String {
        match self {
            Source::File(f) => format!("`{f}`"),
            Source::Table(t) => format!("table `{t}`"),
        }
    }
    fn unit(&self) -> &'static str {
        match self {
            Source::File(_) => "line",
            Source::Table(_) => "row",
        }
    }
}

/// Check a journal: every entry parses, `seq` runs 1.., each `prev` chains, database
/// columns agree with their line, and every referenced file (the newest record of each
/// path) has its recorded hash. Stops at the first failure, naming it.
pub fn verify_entries(
    source: &Source,
    entries: &[Entry],
    proofs_root: &Path,
    expect_head: Option<&str>,
) -> Result<VerifyReport, VerifyError> {
    let at = |i: usize| source.at(i + 1);
    // 1. Every entry parses (a torn last line is named as such).
    let mut records = Vec::with_capacity(entries.len());
    let mut offset = 0;
    for (i, e) in entries.iter().enumerate() {
        let keep_bytes = offset;
        offset += e.bytes.len() + 1;
        let parsed = std::str::from_utf8(&e.bytes)
            .map_err(|err| err.to_string())
            .and_then(|s| serde_json::from_str::<Record>(s).map_err(|err| err.to_string()));
        match parsed {
            Ok(r) if e.terminated => records.push(r),
            Ok(_) => {
                return Err(VerifyError::Torn {
                    at: at(i),
                    line: i + 1,
                    what: "the record may be incomplete".into(),
                    keep_bytes,
                });
            }
            Err(reason) if !e.terminated => {
                return Err(VerifyError::Torn {
                    at: at(i),
                    line: i + 1,
                    what: format!("is not a whole record ({reason})"),
                    keep_bytes,
                });
            }
            Err(reason) => {
                return Err(VerifyError::NotJson {
                    at: at(i),
                    line: i + 1,
                    reason,
                });
            }
        }
    }
    // 2. Database rows: the columns say what the hashed line says.
    for (i, (e, r)) in entries.iter().zip(&records).enumerate() {
        let line_value = serde_json::to_value(r).expect("a record serializes");
        for (column, value) in &e.columns {
            let in_line = line_value.get(*column).and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            });
            if &in_line != value {
                let show = |v: &Option<String>| match v {
                    Some(s) => format!("`{s}`"),
                    None => "null".into(),
                };
                return Err(VerifyError::ColumnEdited {
                    at: at(i),
                    line: i + 1,
                    seq: r.seq,
                    column: column.to_string(),
                    column_value: show(value),
                    line_value: show(&in_line),
                });
            }
        }
    }
    // 3. Sequence numbers: 1, 2, 3… — naming removals, reorders and insertions.
    let mut lines_of: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        lines_of.entry(r.seq).or_default().push(i);
    }
    for (i, r) in records.iter().enumerate() {
        let expected = i as u64 + 1;
        if r.seq == expected {
            continue;
        }
        let same = &lines_of[&r.seq];
        if same.len() > 1 {
            let other = *same.iter().find(|&&j| j != i).expect("two lines");
            let (first, second) = (other.min(i), other.max(i));
            return Err(VerifyError::Inserted {
                at: at(second),
                line: second + 1,
                seq: r.seq,
                other: format!("{} {}", source.unit(), first + 1),
            });
        }
        if r.seq == 0 || (i == 0 && !lines_of.contains_key(&1)) {
            return Err(VerifyError::BadStart {
                at: at(i),
                line: i + 1,
                expected,
                found: r.seq,
            });
        }
        if let Some(js) = lines_of.get(&expected) {
            return Err(VerifyError::Reordered {
                at: at(i),
                line: i + 1,
                expected,
                found: r.seq,
                other: format!("{} {}", source.unit(), js[0] + 1),
            });
        }
        return Err(VerifyError::Removed {
            at: at(i),
            line: i + 1,
            expected,
            found: r.seq,
        });
    }
    // 4. The chain.
    let hashes: Vec<String> = entries
        .iter()
        .map(|e| crate::core::digest::sha256_bytes(&e.bytes))
        .collect();
    for (i, r) in records.iter().enumerate() {
        if i == 0 {
            if r.prev != GENESIS {
                return Err(VerifyError::BadGenesis {
                    at: at(0),
                    line: 1,
                    found: r.prev.clone(),
                });
            }
        } else if r.prev != hashes[i - 1] {
            return Err(VerifyError::Edited {
                at: at(i - 1),
                line: i,
                seq: records[i - 1].seq,
                next: format!("{} {}", source.unit(), i + 1),
                recorded: r.prev.clone(),
                actual: hashes[i - 1].clone(),
            });
        }
    }
    // 5. Files: the newest record of each path.
    let mut newest: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        match (&r.proof, &r.proof_sha256) {
            (Some(p), Some(_)) => {
                newest.insert(p, i);
            }
            (None, None) => {}
            _ => {
                return Err(VerifyError::HalfProof {
                    at: at(i),
                    line: i + 1,
                    seq: r.seq,
                });
            }
        }
    }
    let mut by_line: Vec<(usize, &str)> = newest.iter().map(|(p, &i)| (i, *p)).collect();
    by_line.sort();
    for (i, p) in by_line {
        let r = &records[i];
        let expected = r.proof_sha256.as_deref().expect("checked above");
        let unsafe_proof = |reason: String| VerifyError::UnsafeProof {
            at: at(i),
            line: i + 1,
            seq: r.seq,
            reason,
        };
        let rel = RelPath::parse(p).map_err(|e| unsafe_proof(e.to_string()))?;
        let path = safe::resolve(proofs_root, &rel).map_err(|e| unsafe_proof(e.to_string()))?;
        let read = open_nofollow(&path).and_then(|mut f| {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).map(|_| bytes)
        });
        match read {
            Ok(bytes) => {
                let actual = crate::core::digest::sha256_bytes(&bytes);
                if actual != expected {
                    return Err(VerifyError::ChangedFile {
                        at: at(i),
                        line: i + 1,
                        seq: r.seq,
                        file: p.to_string(),
                        expected: expected.to_string(),
                        actual,
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(VerifyError::MissingFile {
                    at: at(i),
                    line: i + 1,
                    seq: r.seq,
                    file: p.to_string(),
                });
            }
            Err(e) => {
                return Err(VerifyError::UnreadableFile {
                    at: at(i),
                    line: i + 1,
                    seq: r.seq,
                    file: p.to_string(),
                    reason: e.to_string(),
                });
            }
        }
    }
    // 6. No file in a journaled folder without a record naming it (nor, with no journal
    //    at all, any file there).
    //    An action's own proof whose outcome record is missing but whose intent record is
    //    there is the trace of an interrupted run: reported, not refused.
    let named: std::collections::BTreeSet<&str> =
        records.iter().filter_map(|r| r.proof.as_deref()).collect();
    let steps: Vec<super::coverage::Step<'_>> = records
        .iter()
        .map(|r| {
            let (d, a) = (r.plan_digest.as_deref(), r.address.as_deref());
            (r.kind.as_str(), r.status.as_str(), d, a)
        })
        .collect();
    let interrupted = super::coverage::interrupted(&steps);
    let files: Vec<String> = super::coverage::unjournaled(proofs_root, &named)
        .map_err(|reason| VerifyError::Unlistable { reason })?
        .into_iter()
        .filter(|f| !interrupted.proofs.contains(f))
        .collect();
    if !files.is_empty() {
        return Err(if records.is_empty() {
            VerifyError::NoJournal {
                journal: source.describe(),
                files,
            }
        } else {
            VerifyError::Unjournaled { files }
        });
    }
    let head = hashes
        .last()
        .cloned()
        .unwrap_or_else(|| GENESIS.to_string());
    if let Some(expected) = expect_head {
        if expected != head {
            return Err(VerifyError::HeadMismatch {
                expected: expected.to_string(),
                actual: head,
            });
        }
    }
    Ok(VerifyReport {
        records: records.len(),
        files: newest.len(),
        head,
        interrupted: interrupted.actions,
    })
}

/// Open a file for reading without following a symbolic link in its place (closing the
/// gap between [`safe::resolve`]'s check and the open).
pub(crate) fn open_nofollow(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_is_the_hash_of_nothing() {
        assert_eq!(GENESIS, crate::core::digest::sha256_bytes(b""));
    }

    #[test]
    fn tip_of_empty_and_torn() {
        assert_eq!(tip("").unwrap(), (0, GENESIS.to_string()));
        let r = NewRecord::now("k", "success").chain(0, GENESIS.into());
        let line = r.to_line();
        assert_eq!(tip(&format!("{line}\n")).unwrap(), (1, line_hash(&line)));
        let err = tip(&format!("{line}\n{{\"seq\":2"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2 is torn"), "{err}");
    }
}
