//! Before an apply's first mutating call: can every proof it will write be written?
//! (issue 18, finding 6).
//!
//! An apply that changes live state and then fails to write the proof — because
//! `proofs/apply/<digest>` was planted as a symbolic link, or `proofs/apply` is not
//! writable — leaves changes with no evidence. [`check_writable`] refuses such a tree up
//! front: every location's existing components are real directories inside `proofs/`
//! (never a link, the root included), an existing file there is a regular file, the
//! journal (when listed) opens for appending, and the deepest existing directory of each
//! location accepts a new file (tried for real: a temporary is created and removed, since
//! permission bits alone do not say what a read-only mount or an ACL allows). Nothing is
//! created but that temporary, named as the atomic writer names its own, so a crash
//! between the two steps leaves nothing the sweep would not remove.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::safe::{self, RelPath};

/// A proof location an apply could not write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot write the proof `proofs/{location}`: {reason}")]
pub struct NotWritable {
    /// Relative to `proofs/` (empty for the root itself).
    pub location: String,
    pub reason: String,
}

impl NotWritable {
    /// What to do about it, for the `hint:` line.
    pub fn hint(&self) -> &'static str {
        "no change was made: every proof location must be a real, writable directory inside \
         proofs/ (no symbolic links); fix it and apply again"
    }
}

/// Check that each of `locations` (file paths relative to `proofs_root`, e.g. each
/// action's `apply/<hex>/<action>.json`, the summary, the plan files and `journal.jsonl`)
/// can be written, without writing any of them. See the module docs.
pub fn check_writable(proofs_root: &Path, locations: &[RelPath]) -> Result<(), NotWritable> {
    let fail = |location: &str, reason: String| NotWritable {
        location: location.to_string(),
        reason,
    };
    safe::check_root(proofs_root).map_err(|e| fail("", e.to_string()))?;
    let mut probed: BTreeSet<PathBuf> = BTreeSet::new();
    for rel in locations {
        let at = rel.as_str();
        let path = safe::resolve(proofs_root, rel).map_err(|e| fail(at, e.to_string()))?;
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if !meta.is_file() => {
                return Err(fail(at, "it exists and is not a regular file".into()));
            }
            Ok(_) if at == super::journal::JOURNAL_FILE => {
                open_for_append(&path).map_err(|e| fail(at, format!("cannot append: {e}")))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(fail(at, format!("inspecting it: {e}"))),
        }
        let dir = deepest_existing_dir(&path);
        if probed.insert(dir.clone()) {
            probe(&dir).map_err(|e| {
                fail(
                    at,
                    format!("cannot create a file in `{}`: {e}", dir.display()),
                )
            })?;
        }
    }
    Ok(())
}

/// The nearest existing ancestor of `path` (already checked free of links by
/// [`safe::resolve`]).
fn deepest_existing_dir(path: &Path) -> PathBuf {
    let mut dir = path.parent().unwrap_or(Path::new("."));
    while std::fs::symlink_metadata(dir).is_err() {
        match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => dir = p,
            _ => return PathBuf::from("."),
        }
    }
    dir.to_path_buf()
}

/// Create and remove a temporary in `dir`.
fn probe(dir: &Path) -> std::io::Result<()> {
    let tmp = dir.join(format!(
        ".write-check.tmp.{}.{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    std::fs::remove_file(&tmp)
}

/// Open an existing file for appending (writing nothing), never through a link.
fn open_for_append(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map(drop)
}

impl crate::core::hint::Hint for NotWritable {
    fn hint(&self) -> Option<String> {
        Some(NotWritable::hint(self).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(s: &str) -> RelPath {
        RelPath::parse(s).unwrap()
    }

    #[test]
    fn a_fresh_or_sound_tree_is_writable_and_nothing_is_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("proofs");
        let locations = [rel("apply/ab/x.json"), rel("journal.jsonl")];
        check_writable(&root, &locations).unwrap();
        assert!(!root.exists(), "the check creates nothing");
        std::fs::create_dir_all(root.join("apply")).unwrap();
        std::fs::write(root.join("journal.jsonl"), "").unwrap();
        check_writable(&root, &locations).unwrap();
        assert_eq!(std::fs::read_dir(root.join("apply")).unwrap().count(), 0);
    }

    #[test]
    fn links_and_files_in_the_way_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("proofs");
        std::fs::create_dir_all(root.join("apply")).unwrap();
        std::fs::create_dir(dir.path().join("outside")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside"), root.join("apply/ab")).unwrap();
        let err = check_writable(&root, &[rel("apply/ab/x.json")]).unwrap_err();
        assert_eq!(err.location, "apply/ab/x.json");
        assert!(err.reason.contains("symbolic link"), "{err}");
        std::fs::remove_file(root.join("apply/ab")).unwrap();
        std::fs::write(root.join("apply/ab"), "").unwrap();
        let err = check_writable(&root, &[rel("apply/ab/x.json")]).unwrap_err();
        assert!(err.reason.contains("not a directory"), "{err}");
        std::fs::create_dir(root.join("plans")).unwrap();
        std::fs::create_dir(root.join("plans/x.json")).unwrap();
        let err = check_writable(&root, &[rel("plans/x.json")]).unwrap_err();
        assert!(err.reason.contains("not a regular file"), "{err}");
        std::os::unix::fs::symlink(dir.path().join("outside/j"), root.join("journal.jsonl"))
            .unwrap();
        assert!(check_writable(&root, &[rel("journal.jsonl")]).is_err());
    }
}
