//! Atomic, durable file writes: a reader sees the old file or the new one, never a mix, and
//! once [`write_atomic`] returns the new content survives a power cut.
//!
//! The sequence is the classic one: create a temporary file in the same directory (same
//! filesystem, so the rename is atomic) with `O_CREAT|O_EXCL` (never follows or reuses
//! anything already there), write everything, `fsync` the file, `rename` it over the
//! target, then `fsync` the directory so the rename itself is on disk. On any error the
//! temporary file is removed.
//!
//! A process killed between creating and renaming its temporary (`kill -9`, a crashed
//! runner) leaves it behind: the target is intact (its old content, or absent), but the
//! temporary would stay in the tree and be committed with `proofs/`. [`sweep_orphans`]
//! removes those whose writer is gone; `apply` runs it under its lease.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Write `bytes` to `path` atomically and durably. The parent directory must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// What a [`write_atomic_with`] writer buffers before each write to the file.
const WRITE_BUFFER: usize = 64 * 1024;

/// [`write_atomic`] of what `write` writes (buffered): content that is never held whole in
/// memory, such as the plan file of 100,000 resources streamed from the plan.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    // A bare file name (`plan.json`) lives in the current directory.
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
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
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("creating `{}`", tmp.display()))?;
        let mut buffered = std::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        write(&mut buffered)
            .and_then(|()| buffered.flush())
            .with_context(|| format!("writing `{}`", tmp.display()))?;
        let file = buffered
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)
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

/// Remove the temporaries of [`write_atomic`] under `root` (recursively, never following a
/// link) whose writing process is gone from this host, and return how many were removed. A
/// temporary of a live process (a write in progress) is left alone; where `/proc` is not
/// available nothing is judged gone and nothing is removed.
pub fn sweep_orphans(root: &Path) -> anyhow::Result<usize> {
    if !Path::new("/proc/self").exists() {
        return Ok(0);
    }
    let mut removed = 0;
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("reading `{}`", root.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("reading `{}`", root.display()))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("inspecting `{}`", path.display()))?;
        if kind.is_dir() {
            removed += sweep_orphans(&path)?;
        } else if kind.is_file()
            && orphan_writer(&entry.file_name().to_string_lossy())
                .is_some_and(|pid| !Path::new("/proc").join(pid.to_string()).exists())
        {
            std::fs::remove_file(&path)
                .with_context(|| format!("removing `{}`", path.display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Whether a file name is that of a temporary of [`write_atomic`].
pub(crate) fn is_temporary(name: &str) -> bool {
    orphan_writer(name).is_some()
}

/// The pid in the name of a temporary of [`write_atomic`] (`.NAME.tmp.PID.HEX16`), if it is
/// one.
fn orphan_writer(name: &str) -> Option<u32> {
    let mut parts = name.rsplitn(3, '.');
    let (hex, pid, rest) = (parts.next()?, parts.next()?, parts.next()?);
    let well_formed = name.starts_with('.')
        && rest.ends_with(".tmp")
        && hex.len() == 16
        && hex.bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then(|| pid.parse().ok()).flatten()
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

    #[test]
    fn sweeps_the_temporaries_of_dead_writers_only() {
        let dir = std::env::temp_dir().join(format!("sophia-sweep-{}", rand::random::<u64>()));
        std::fs::create_dir_all(dir.join("fly")).unwrap();
        // No process has pid u32::MAX (Linux caps pids at 2^22).
        let dead = dir.join(format!(".viewer.json.tmp.{}.00112233aabbccdd", u32::MAX));
        let alive = dir.join(format!(
            "fly/.a.json.tmp.{}.00112233aabbccdd",
            std::process::id()
        ));
        let nested_dead = dir.join(format!("fly/.b.json.tmp.{}.0011223344556677", u32::MAX));
        let unrelated = dir.join(format!(".notes.tmp.{}.short", u32::MAX));
        for p in [&dead, &alive, &nested_dead, &unrelated] {
            std::fs::write(p, b"partial").unwrap();
        }
        assert_eq!(sweep_orphans(&dir).unwrap(), 2);
        assert!(!dead.exists() && !nested_dead.exists());
        assert!(alive.exists(), "a live writer's temporary is kept");
        assert!(unrelated.exists(), "only write_atomic's names are touched");
        assert_eq!(sweep_orphans(&dir.join("missing")).unwrap(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
