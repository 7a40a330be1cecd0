//! Atomic, durable file writes: a reader sees the old file or the new one, never a mix, and
//! once [`write_atomic`] returns the new content survives a power cut.
//!
//! The sequence is the classic one: create a temporary file in the same directory (same
//! filesystem, so the rename is atomic) with `O_CREAT|O_EXCL` (never follows or reuses
//! anything already there), write everything, `fsync` the file, `rename` it over the
//! target, then `fsync` the directory so the rename itself is on disk. On any error the
//! temporary file is removed.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Write `bytes` to `path` atomically and durably. The parent directory must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("`{}` has no parent directory", path.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("`{}` has no file name", path.display()))?
        .to_string_lossy();
    // A leading dot keeps the temporary out of globs; pid + random makes it unique across
    // processes and threads, and `create_new` refuses a collision rather than reuse it.
    let tmp = dir.join(format!(
        ".{name}.tmp.{}.{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("creating `{}`", tmp.display()))?;
        file.write_all(bytes)
            .with_context(|| format!("writing `{}`", tmp.display()))?;
        file.sync_all()
            .with_context(|| format!("syncing `{}`", tmp.display()))?;
        drop(file);
        std::fs::rename(&tmp, path)
            .with_context(|| format!("renaming `{}` to `{}`", tmp.display(), path.display()))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `fsync` a directory, making renames and new entries in it durable.
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory `{}`", dir.display()))
}

/// Create `dir` (under an existing, already checked parent) if missing, without following
/// a symbolic link in its place, and sync the parent so the new entry is durable.
pub(crate) fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => {
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let meta = std::fs::symlink_metadata(dir)
                .with_context(|| format!("inspecting `{}`", dir.display()))?;
            anyhow::ensure!(
                meta.is_dir(),
                "`{}` exists and is not a directory (links inside proofs/ are never followed)",
                dir.display()
            );
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("creating directory `{}`", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("sophia-atomic-{}", rand::random::<u64>()));
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("a.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two, longer").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two, longer");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.json")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
