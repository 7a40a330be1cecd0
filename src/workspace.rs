//! The repository on disk: reading `desired/*.yaml` (and the `fly.toml` files they import)
//! into the pure loader, and the paths of `.infra/` and `proofs/`.

use std::path::{Component, Path, PathBuf};

use anyhow::Context as _;

use crate::core::desired::{self, Desired, LoadError, LoadErrors, Source, flytoml};

/// Read every `desired/*.yaml` (sorted by name), load them, and import each app's `config:`
/// `fly.toml` (YAML fields win). Load errors come back as [`LoadErrors`] inside the
/// `anyhow::Error`, so callers can print them located.
pub fn load_desired(root: &Path) -> anyhow::Result<Desired> {
    let sources = read_sources(root)?;
    let loaded = desired::load_located(&sources)?;
    let mut desired = loaded.desired.clone();
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
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(at(
                        format!("app `{name}`: cannot read config `{config}`: {e}"),
                        "the path is relative to the repository root",
                    ));
                    continue;
                }
            };
            match flytoml::import(&config, &text) {
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

/// The `desired/*.yaml` files (sorted by name) with paths relative to `root`.
pub fn read_sources(root: &Path) -> anyhow::Result<Vec<Source>> {
    let dir = root.join("desired");
    let mut sources = Vec::new();
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
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading `{}`", path.display()))?;
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        sources.push(Source { path: rel, text });
    }
    Ok(sources)
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
