//! The repository on disk: reading `desired/*.yaml` (and the `fly.toml` files they import)
//! into the pure loader, and the paths of `.infra/` and `proofs/`.
//!
//! Everything read or written here stays inside the repository (issue 18, findings 5, 9
//! and 12):
//!
//! - [`check`]: `.infra/`, `desired/` and `proofs/` are real directories of the repository,
//!   never symbolic links (a link would let a pull request point the trust settings, the
//!   desired state or the evidence anywhere on the runner). The command line calls it before
//!   any command runs, so before any provider call.
//! - [`read_sources`]: each `desired/*.yaml` is a regular file (or a link to one inside the
//!   repository), at most [`MAX_INPUT_BYTES`], read through a bounded reader (so
//!   `/dev/zero` or a FIFO can neither grow memory nor hang), UTF-8 (a leading byte order
//!   mark is skipped by the loader; other bytes are located `file:line:column`). YAML files
//!   in subfolders of `desired/` are refused, not silently ignored: only `desired/*.yaml`
//!   is the desired state.

use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

use anyhow::Context as _;

use crate::core::desired::{self, Desired, LoadError, LoadErrors, Source, flytoml};

/// The folders sophia trusts (`.infra/`: signers, settings, the secrets map; `desired/`:
/// what to build) or writes evidence to (`proofs/`).
pub const GUARDED_DIRS: [&str; 3] = [".infra", "desired", "proofs"];

/// Why the repository's layout is refused.
#[derive(Debug, thiserror::Error)]
pub enum UnsafeWorkspace {
    #[error("`{dir}/` is a symbolic link (to `{}`): sophia neither reads its inputs nor writes its \
         proofs through a link, which could point outside the repository",
        .target.display())]
    Symlink { dir: &'static str, target: PathBuf },
    #[error("`{dir}` is not a directory")]
    NotADirectory {
        dir: &'static str,
        what: &'static str,
    },
    #[error(
        "`{dir}/` resolves to `{}`, outside the repository `{}`",
        .real.display(),
        .root.display()
    )]
    Outside {
        dir: &'static str,
        real: PathBuf,
        root: PathBuf,
    },
    #[error("inspecting `{}`", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Refuse a repository whose `.infra/`, `desired/` or `proofs/` is a symbolic link, is not
/// a directory, or resolves outside the repository. A folder that does not exist is fine
/// (it is created, or reported missing, by whoever needs it).
pub fn check(root: &Path) -> Result<(), UnsafeWorkspace> {
    for dir in GUARDED_DIRS {
        check_dir(root, dir)?;
    }
    Ok(())
}

fn check_dir(root: &Path, dir: &'static str) -> Result<(), UnsafeWorkspace> {
    let path = root.join(dir);
    let io = |source| UnsafeWorkspace::Io {
        path: path.clone(),
        source,
    };
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(&path).map_err(io)?;
        return Err(UnsafeWorkspace::Symlink { dir, target });
    }
    if !meta.is_dir() {
        let what = match dir {
            ".infra" => "settings and allowed signers",
            "desired" => "desired state",
            _ => "proofs",
        };
        return Err(UnsafeWorkspace::NotADirectory { dir, what });
    }
    let real_root = root.canonicalize().map_err(io)?;
    let real = path.canonicalize().map_err(io)?;
    if !real.starts_with(&real_root) {
        return Err(UnsafeWorkspace::Outside {
            dir,
            real,
            root: real_root,
        });
    }
    Ok(())
}

/// Read every `desired/*.yaml` (sorted by name), load them, and import each app's `config:`
/// `fly.toml` (YAML fields win). Load errors come back as [`LoadErrors`] inside the
/// `anyhow::Error`, so callers can print them located.
pub fn load_desired(root: &Path) -> anyhow::Result<Desired> {
    let sources = read_sources(root)?;
    let mut loaded = desired::load_located(&sources)?;
    // Taken, not copied: `loaded` is kept only to locate `config:` keys (a copy of a
    // 100,000-resource desired state was the largest thing a plan held; issue 20).
    let mut desired = std::mem::take(&mut loaded.desired);
    let mut errors = Vec::new();
    if let Some(fly) = &mut desired.fly {
        for (name, app) in &mut fly.apps {
            let Some(config) = app.config.clone() else {
                continue;
            };
            let (file, line, column) = loaded.locate(&["fly", "apps", name, "config"]);
            let at = |message: String, hint: &str| LoadError {
                file: file.clone(),
                line,
                column,
                message,
                hint: Some(hint.to_string()),
            };
            let path = match resolve_inside(root, &config) {
                Ok(p) => p,
                Err(reason) => {
                    errors.push(at(
                        format!("app `{name}`: config `{config}` {reason}"),
                        "write the path relative to the repository root, inside it",
                    ));
                    continue;
                }
            };
            let text = match read_bounded(&path) {
                Ok(t) => t,
                Err(ReadError::Io(e)) => {
                    errors.push(at(
                        format!("app `{name}`: cannot read config `{config}`: {e}"),
                        "the path is relative to the repository root",
                    ));
                    continue;
                }
                Err(e) => {
                    errors.push(at(format!("app `{name}`: config `{config}` {e}"), e.hint()));
                    continue;
                }
            };
            // A byte order mark is invisible in an editor; skip it as the YAML loader does.
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            match flytoml::import(&config, text) {
                Ok(imported) => {
                    if let Some(toml_app) = &imported.app
                        && toml_app != name
                    {
                        errors.push(at(
                            format!(
                                "app `{name}`: config `{config}` is the fly.toml of app `{toml_app}`"
                            ),
                            "point `config:` at this app's own fly.toml, or fix its `app =` line",
                        ));
                        continue;
                    }
                    desired::apply_fly_config(app, &imported);
                }
                Err(e) => errors.push(LoadError {
                    file: e.file,
                    line: e.line,
                    column: e.column,
                    message: match &e.field {
                        Some(f) => format!("`{f}`: {}", e.message),
                        None => e.message,
                    },
                    hint: e.hint.or_else(|| {
                        Some(format!(
                            "imported by app `{name}` at {file}:{line}:{column}"
                        ))
                    }),
                }),
            }
        }
    }
    if errors.is_empty() {
        Ok(desired)
    } else {
        let files: Vec<&str> = sources.iter().map(|s| s.path.as_str()).collect();
        desired::validate::sort_errors(&mut errors, &files);
        Err(LoadErrors(errors).into())
    }
}

/// The `desired/*.yaml` files (sorted by name) with paths relative to `root`. Every file
/// that cannot be read as the desired state is an error naming it (all of them, as
/// [`LoadErrors`]); a `desired/` that is a symbolic link is refused ([`UnsafeWorkspace`]).
pub fn read_sources(root: &Path) -> anyhow::Result<Vec<Source>> {
    check_dir(root, "desired")?;
    let dir = root.join("desired");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LoadErrors(vec![LoadError {
                file: "desired/".into(),
                line: 0,
                column: 0,
                message: format!("no desired state: `{}` does not exist", dir.display()),
                hint: Some(
                    "run sophia in the repository root (or pass `-C DIR`), which holds \
                     `desired/*.yaml`"
                        .into(),
                ),
            }])
            .into());
        }
        Err(e) => return Err(e).with_context(|| format!("reading `{}`", dir.display())),
    };
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading `{}`", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry
            .file_type()
            .with_context(|| format!("inspecting `desired/{name}`"))?;
        if is_yaml(&name) {
            files.push(name.clone());
        }
        let linked_dir = kind.is_symlink()
            && std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir())
            && std::fs::read_dir(entry.path()).is_ok_and(|mut d| {
                d.any(|e| e.is_ok_and(|e| is_yaml(&e.file_name().to_string_lossy())))
            });
        if linked_dir {
            errors.push(file_error(
                format!("desired/{name}"),
                "this is a link to a folder holding YAML files, which sophia does not load: \
                 only `desired/*.yaml` is the desired state"
                    .into(),
                "move the files into `desired/` itself",
            ));
        }
        if kind.is_dir() {
            for nested in yaml_files_below(&entry.path(), &format!("desired/{name}"))? {
                errors.push(file_error(
                    nested,
                    "this file is in a subfolder of `desired/`, which sophia does not load: \
                     only `desired/*.yaml` is the desired state"
                        .into(),
                    "move the file up into `desired/` (every `desired/*.yaml` is merged), or \
                     rename it so that it does not end in `.yaml`",
                ));
            }
        }
    }
    files.sort();
    let real_root = root
        .canonicalize()
        .with_context(|| format!("resolving `{}`", root.display()))?;
    let mut sources = Vec::new();
    for name in files {
        let rel = format!("desired/{name}");
        match read_desired_file(&real_root, &dir.join(&name)) {
            Ok(text) => sources.push(Source { path: rel, text }),
            Err(ReadError::Utf8 { line, column, byte }) => errors.push(LoadError {
                file: rel,
                line,
                column,
                message: format!(
                    "the file is not UTF-8: byte 0x{byte:02x} here is not part of a UTF-8 character"
                ),
                hint: Some(UTF8_HINT.into()),
            }),
            Err(e) => {
                let hint = e.hint();
                errors.push(file_error(rel, format!("this file {e}"), hint));
            }
        }
    }
    if errors.is_empty() {
        Ok(sources)
    } else {
        errors.sort_by(|a, b| a.file.cmp(&b.file));
        Err(LoadErrors(errors).into())
    }
}

fn is_yaml(name: &str) -> bool {
    matches!(
        Path::new(name).extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

fn file_error(file: String, message: String, hint: &str) -> LoadError {
    LoadError {
        file,
        line: 0,
        column: 0,
        message,
        hint: Some(hint.to_string()),
    }
}

/// One desired file: a regular file, or a symbolic link to one inside the repository
/// (`real_root` is the repository's canonical path), read by [`read_bounded`].
fn read_desired_file(real_root: &Path, path: &Path) -> Result<String, ReadError> {
    let meta = std::fs::symlink_metadata(path).map_err(ReadError::Io)?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).map_err(ReadError::Io)?;
        let real = path.canonicalize().map_err(ReadError::Io)?;
        if !real.starts_with(real_root) {
            return Err(ReadError::LinkOutside { target });
        }
        return read_bounded(&real);
    }
    read_bounded(path)
}

/// The `*.yaml`/`*.yml` entries anywhere below `dir` (never following a link), shown as
/// `shown/…`, sorted.
fn yaml_files_below(dir: &Path, shown: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading `{shown}`"))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading `{shown}`"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let here = format!("{shown}/{name}");
        let kind = entry
            .file_type()
            .with_context(|| format!("inspecting `{here}`"))?;
        if kind.is_dir() {
            out.extend(yaml_files_below(&entry.path(), &here)?);
        } else if is_yaml(&name) {
            out.push(here);
        }
    }
    out.sort();
    Ok(out)
}

/// The most one desired file (or an imported `fly.toml`) may hold: 4 MiB. The benchmarks'
/// 10,000-resource state is 1 MiB of YAML in all, so four times that in a single file is
/// room for any real repository; the bound keeps `/dev/zero`, a runaway generator or a
/// 50 MB paste from taking memory and time before any check runs.
pub const MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024;

const UTF8_HINT: &str = "desired files are UTF-8 text: save the file as UTF-8 (your editor's \
                         encoding setting); a byte order mark at the start is accepted";

/// Why an input file could not be read as text.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("is a symbolic link to `{}`, outside the repository", .target.display())]
    LinkOutside { target: PathBuf },
    #[error("is {kind}, not a regular file")]
    NotRegular { kind: &'static str },
    #[error("is larger than {} MiB", MAX_INPUT_BYTES >> 20)]
    TooLarge,
    #[error(
        "is not UTF-8: byte 0x{byte:02x} at line {line}, column {column} is not part of a UTF-8 character"
    )]
    Utf8 {
        line: usize,
        column: usize,
        byte: u8,
    },
    #[error("cannot be read: {0}")]
    Io(#[source] std::io::Error),
}

impl ReadError {
    /// What to do about it, for the `hint:` line.
    pub fn hint(&self) -> &'static str {
        match self {
            ReadError::LinkOutside { .. } => {
                "sophia reads its inputs from the repository only: copy the file in (a link \
                 may point elsewhere inside the repository)"
            }
            ReadError::NotRegular { .. } => {
                "inputs are regular files: remove it, or rename it so that it does not end in \
                 `.yaml`"
            }
            ReadError::TooLarge => {
                "split it: every `desired/*.yaml` is merged, and each may hold up to 4 MiB"
            }
            ReadError::Utf8 { .. } => UTF8_HINT,
            ReadError::Io(_) => "check the file's permissions",
        }
    }
}

/// Read a text file of at most [`MAX_INPUT_BYTES`]: it must be a regular file (checked on
/// the open file, which is opened non-blocking so that a FIFO cannot hang the open), is
/// read through a bounded reader (a file that grows, or a device that reports no size,
/// cannot take more), and must be UTF-8 (the error locates the first bad byte).
pub fn read_bounded(path: &Path) -> Result<String, ReadError> {
    use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let kind = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO (named pipe)"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "a special file"
        };
        return Err(ReadError::NotRegular { kind });
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(ReadError::TooLarge);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(ReadError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let valid = std::str::from_utf8(&bytes[..at]).expect("the prefix is valid");
        let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
        ReadError::Utf8 {
            line: valid.matches('\n').count() + 1,
            column: valid[line_start..].chars().count() + 1,
            byte: bytes[at],
        }
    })
}

/// `rel` under `root`, refusing absolute paths and any path that leaves `root` — lexically
/// (`..`) or through a symbolic link.
pub fn resolve_inside(root: &Path, rel: &str) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    if p.is_absolute() || p.has_root() {
        return Err("is absolute".into());
    }
    let mut depth = 0i64;
    for c in p.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::Prefix(_) | Component::RootDir => return Err("is absolute".into()),
        }
        if depth < 0 {
            return Err("leaves the repository root".into());
        }
    }
    let joined = root.join(p);
    if let (Ok(real_root), Ok(real)) = (root.canonicalize(), joined.canonicalize())
        && !real.starts_with(&real_root)
    {
        return Err("leaves the repository root through a symbolic link".into());
    }
    Ok(joined)
}

impl crate::core::hint::Hint for UnsafeWorkspace {
    fn hint(&self) -> Option<String> {
        Some(match self {
            UnsafeWorkspace::Symlink { dir, .. } => {
                format!("make `{dir}/` a real directory of the repository")
            }
            UnsafeWorkspace::NotADirectory { dir, what, .. } => {
                format!("`{dir}/` holds sophia's {what}; remove or rename the file")
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_paths_stay_inside_the_root() {
        let root = Path::new("/repo");
        assert!(resolve_inside(root, "apps/x/fly.toml").is_ok());
        assert!(resolve_inside(root, "apps/../fly.toml").is_ok());
        assert_eq!(
            resolve_inside(root, "../fly.toml").unwrap_err(),
            "leaves the repository root"
        );
        assert_eq!(
            resolve_inside(root, "/etc/fly.toml").unwrap_err(),
            "is absolute"
        );
    }
}
