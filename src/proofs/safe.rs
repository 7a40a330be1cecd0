//! Safe paths under `proofs/`: names that come from input (app names, repository names,
//! addresses, action ids) become file-name components that can never leave the directory.
//!
//! - [`component`] maps a name to one file-name component, deterministically and
//!   injectively: `[A-Za-z0-9._-]` are kept, every other byte is written `%XX` (so `/` can
//!   never separate components and two different names never share a file). Names that are
//!   empty, start with `.` (`.`, `..`, hidden files), hold NUL or another control character,
//!   or are longer than [`MAX_NAME_BYTES`] are refused.
//! - [`RelPath`] is a path relative to `proofs/` made only of such components (or fixed
//!   names from the layout table). Parsing one back from the journal refuses absolute paths,
//!   `..`, empty components and anything [`component`] would not have produced.
//! - [`resolve`] joins a [`RelPath`] onto the proofs root and refuses to go through a
//!   symbolic link at any level — the root itself included — so a link planted as or inside
//!   `proofs/` that points outside is never followed for reading or writing.

use std::fmt;
use std::path::{Path, PathBuf};

/// The longest input name accepted, in bytes: refused before escaping so that a huge input
/// is not copied around. No legitimate name is near it (Fly app names stop at 63 bytes,
/// GitHub `owner/repo` at 140); the escaped length is checked against
/// [`MAX_COMPONENT_BYTES`] as well, since `%XX` can triple it.
pub const MAX_NAME_BYTES: usize = 200;

/// The longest component written to disk, in bytes: the 255-byte file-name limit of ext4,
/// APFS, NTFS and friends, less room for the atomic writer's temporary suffix
/// (`.tmp.<pid>.<16 hex>`, under 40 bytes) and a file extension.
pub const MAX_COMPONENT_BYTES: usize = 200;

/// Why a name or path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsafeName {
    #[error("the name is empty")]
    Empty,
    #[error("`{0}` starts with `.` (hidden files and `..` are refused)")]
    LeadingDot(String),
    #[error("the name holds a NUL or control character (byte 0x{byte:02x} at {at})")]
    Control { byte: u8, at: usize },
    #[error("the name is {len} bytes long; the limit is {max}")]
    TooLong { len: usize, max: usize },
    #[error("`{0}` is an absolute path; proof paths are relative to `proofs/`")]
    Absolute(String),
    #[error("`{path}` has an unsafe component `{component}`")]
    BadComponent { path: String, component: String },
}

/// Map a name to one safe file-name component (see the module docs).
pub fn component(name: &str) -> Result<String, UnsafeName> {
    if name.is_empty() {
        return Err(UnsafeName::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(UnsafeName::TooLong {
            len: name.len(),
            max: MAX_NAME_BYTES,
        });
    }
    if name.starts_with('.') {
        return Err(UnsafeName::LeadingDot(name.to_string()));
    }
    if let Some((at, &byte)) = name
        .as_bytes()
        .iter()
        .enumerate()
        .find(|(_, b)| b.is_ascii_control())
    {
        return Err(UnsafeName::Control { byte, at });
    }
    let mut out = String::with_capacity(name.len());
    for &b in name.as_bytes() {
        if is_kept(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > MAX_COMPONENT_BYTES {
        return Err(UnsafeName::TooLong {
            len: out.len(),
            max: MAX_COMPONENT_BYTES,
        });
    }
    Ok(out)
}

fn is_kept(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// Whether a component read back (from the journal) is one [`component`] or the layout
/// table could have produced: kept bytes, `%XX` escapes and the `+` joiner, no leading dot.
fn is_safe_component(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= MAX_COMPONENT_BYTES
        && !c.starts_with('.')
        && c.bytes().all(|b| is_kept(b) || b == b'%' || b == b'+')
}

/// A path relative to `proofs/`, `/`-separated, every component safe.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelPath(String);

impl RelPath {
    /// Build from components that are already safe (layout table output).
    pub(crate) fn from_components(parts: &[&str]) -> Result<RelPath, UnsafeName> {
        RelPath::parse(&parts.join("/"))
    }

    /// Parse a path read from the journal or given by a caller.
    pub fn parse(path: &str) -> Result<RelPath, UnsafeName> {
        if path.is_empty() {
            return Err(UnsafeName::Empty);
        }
        if path.starts_with('/') || path.starts_with('\\') {
            return Err(UnsafeName::Absolute(path.to_string()));
        }
        for c in path.split('/') {
            if !is_safe_component(c) {
                return Err(UnsafeName::BadComponent {
                    path: path.escape_debug().to_string(),
                    component: c.escape_debug().to_string(),
                });
            }
        }
        Ok(RelPath(path.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The directory part (`fly` of `fly/viewer.json`), empty at the top.
    pub fn parent(&self) -> &str {
        self.0.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
    }

    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a path could not be resolved under the root.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "the proofs folder `{}` is a symbolic link: proofs are never written or read through one, \
         which could point outside the repository",
        .root.display()
    )]
    RootSymlink { root: PathBuf },
    #[error("the proofs folder `{}` is not a directory", .root.display())]
    RootNotADirectory { root: PathBuf },
    #[error(
        "`{path}` goes through the symbolic link `{link}`; links inside proofs/ are never followed"
    )]
    Symlink { path: String, link: PathBuf },
    #[error("`{path}`: `{dir}` is not a directory")]
    NotADirectory { path: String, dir: PathBuf },
    #[error("inspecting `{}`", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Join `rel` onto `root`, checking every existing component below the root: none may be a
/// symbolic link, every directory must be one. A component that does not exist yet is fine
/// (the writer creates directories with `create_dir`, which never follows links, and the
/// file itself with `O_EXCL` + `rename`, which replace a link rather than follow it).
pub fn resolve(root: &Path, rel: &RelPath) -> Result<PathBuf, ResolveError> {
    check_root(root)?;
    let mut path = root.to_path_buf();
    let parts: Vec<&str> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(ResolveError::Symlink {
                    path: rel.to_string(),
                    link: path,
                });
            }
            Ok(meta) if i + 1 < parts.len() && !meta.is_dir() => {
                return Err(ResolveError::NotADirectory {
                    path: rel.to_string(),
                    dir: path,
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Nothing below a missing component exists either.
                for rest in &parts[i + 1..] {
                    path.push(rest);
                }
                return Ok(path);
            }
            Err(source) => return Err(ResolveError::Io { path, source }),
        }
    }
    Ok(path)
}

/// The proofs root itself: not a symbolic link, and a directory when it exists (a missing
/// root is created by the writer with `create_dir`, which never follows a link).
pub fn check_root(root: &Path) -> Result<(), ResolveError> {
    match std::fs::symlink_metadata(root) {
        Ok(meta) if meta.file_type().is_symlink() => Err(ResolveError::RootSymlink {
            root: root.to_path_buf(),
        }),
        Ok(meta) if !meta.is_dir() => Err(ResolveError::RootNotADirectory {
            root: root.to_path_buf(),
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ResolveError::Io {
            path: root.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_ordinary_names_and_escapes_the_rest() {
        assert_eq!(
            component("sophiaai-dashboard-v2").unwrap(),
            "sophiaai-dashboard-v2"
        );
        assert_eq!(
            component("ai-cherry/sophia-intel-ai").unwrap(),
            "ai-cherry%2Fsophia-intel-ai"
        );
        assert_eq!(component("a/../b").unwrap(), "a%2F..%2Fb");
        assert_eq!(component("50%").unwrap(), "50%25");
        assert_eq!(component("é").unwrap(), "%C3%A9");
    }

    #[test]
    fn escaping_is_injective() {
        assert_ne!(component("a/b").unwrap(), component("a_b").unwrap());
        assert_ne!(component("a%2Fb").unwrap(), component("a/b").unwrap());
    }

    #[test]
    fn refuses_hostile_names() {
        assert_eq!(component(""), Err(UnsafeName::Empty));
        assert!(matches!(component(".."), Err(UnsafeName::LeadingDot(_))));
        assert!(matches!(component(".git"), Err(UnsafeName::LeadingDot(_))));
        assert!(matches!(
            component("a\0b"),
            Err(UnsafeName::Control { byte: 0, at: 1 })
        ));
        assert!(matches!(
            component("a\nb"),
            Err(UnsafeName::Control { byte: 10, .. })
        ));
        assert!(matches!(
            component(&"x".repeat(201)),
            Err(UnsafeName::TooLong { .. })
        ));
        // 100 bytes that all need escaping triple past the component limit.
        assert!(matches!(
            component(&"/".repeat(100)),
            Err(UnsafeName::TooLong { .. })
        ));
    }

    #[test]
    fn relpaths_from_the_journal_are_checked() {
        assert!(RelPath::parse("fly/viewer.json").is_ok());
        assert!(RelPath::parse("github/protection_o%2Fr+main.json").is_ok());
        for bad in [
            "/etc/passwd",
            "../x",
            "fly/../../x",
            "fly//x",
            "fly/.hidden",
            "",
            "a\\b",
            "fly/x\0",
        ] {
            assert!(RelPath::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
