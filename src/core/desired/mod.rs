//! Desired state: `desired/*.yaml` parsed, merged and validated into one [`Desired`].
//!
//! The shell reads the files and hands their text in as [`Source`]s; nothing here touches
//! the file system. `config:` references to `fly.toml` files are resolved by the shell with
//! [`flytoml`] and merged in with [`apply_fly_config`].

pub mod flyconfig;
pub mod flytoml;
pub mod github_repo;
pub mod locate;
mod merge;
pub mod model;
pub mod names;
mod node;
pub mod others;
mod parse;
pub mod protectable;
pub mod ruleset;
pub mod secret_name;
mod tree;
pub mod validate;

pub use github_repo::{Permission, RepoSettings};
pub use model::*;
pub use protectable::{Grant, Variable};
pub use ruleset::{OrgDesired, Ruleset};
pub use secret_name::SecretName;

/// One desired file: its display path (relative to the repository root) and its text.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: String,
    pub text: String,
}

/// One load or validation error, pointing at `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    /// 1-based; 0 when the error concerns the whole file.
    pub line: usize,
    /// 1-based; 0 when unknown.
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Every error found, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct LoadErrors(pub Vec<LoadError>);

/// Parse, merge and validate the desired files.
pub fn load(sources: &[Source]) -> Result<Desired, LoadErrors> {
    load_located(sources).map(|l| l.desired)
}

/// A loaded desired state with the positions of its keys, for errors found later (the shell
/// locates `config:` import failures with it).
#[derive(Debug)]
pub struct Loaded {
    pub desired: Desired,
    files: Vec<(String, locate::FileIndex)>,
}

impl Loaded {
    /// Where the value at `segs` (e.g. `["fly", "apps", "x", "config"]`) is defined.
    pub fn locate(&self, segs: &[&str]) -> (String, usize, usize) {
        let loc = validate::Locator {
            files: self.files.iter().map(|(f, i)| (f.as_str(), i)).collect(),
        }
        .value(segs);
        (loc.file, loc.pos.line, loc.pos.column)
    }
}

/// [`load`], keeping the position index.
pub fn load_located(sources: &[Source]) -> Result<Loaded, LoadErrors> {
    let mut errors = Vec::new();
    let mut parts = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        if let Some(part) = parse::parse_file(source, &mut errors) {
            parts.push((i, part));
        }
    }
    let files: Vec<&str> = sources.iter().map(|s| s.path.as_str()).collect();
    if errors.is_empty() && parts.iter().all(|(_, p)| p.empty) {
        let message = if sources.is_empty() {
            "no desired state: the folder holds no `*.yaml` file"
        } else {
            "no desired state: every desired file is empty"
        };
        return Err(LoadErrors(vec![LoadError {
            file: "desired/".into(),
            line: 0,
            column: 0,
            message: message.into(),
            hint: Some(
                "define at least one provider section, e.g. `fly:` with its apps; \
                 `sophia schema` prints what a desired file may hold"
                    .into(),
            ),
        }]));
    }
    let desired = merge::merge(sources, &mut parts, &mut errors);
    let locator = validate::Locator {
        files: parts
            .iter()
            .map(|(i, p)| (sources[*i].path.as_str(), &p.index))
            .collect(),
    };
    errors.extend(validate::validate(&desired, &locator));
    if !errors.is_empty() {
        validate::sort_errors(&mut errors, &files);
        return Err(LoadErrors(errors));
    }
    Ok(Loaded {
        desired,
        files: parts
            .into_iter()
            .map(|(i, p)| (sources[i].path.clone(), p.index))
            .collect(),
    })
}

pub use flytoml::apply_fly_config;

#[cfg(test)]
mod tests {
    use super::*;

    /// A position is asked for only to report an error: loading the repository's own
    /// desired/ (every provider, `depends_on`, secrets, environments) builds no key index.
    #[test]
    fn a_clean_load_builds_no_position_index() {
        let sources: Vec<Source> = [
            (
                "desired/fly.yaml",
                include_str!("../../../desired/fly.yaml"),
            ),
            (
                "desired/github.yaml",
                include_str!("../../../desired/github.yaml"),
            ),
            (
                "desired/providers.yaml",
                include_str!("../../../desired/providers.yaml"),
            ),
            (
                "desired/saas.yaml",
                include_str!("../../../desired/saas.yaml"),
            ),
        ]
        .into_iter()
        .map(|(path, text)| Source {
            path: path.into(),
            text: text.into(),
        })
        .collect();
        let loaded = load_located(&sources).unwrap();
        assert!(
            loaded
                .desired
                .fly
                .iter()
                .flat_map(|f| f.apps.values())
                .any(|a| !a.depends_on.is_empty()),
            "the fixture should exercise depends_on"
        );
        for (file, index) in &loaded.files {
            assert!(!index.is_indexed(), "{file}: indexed on a clean load");
        }
    }
}
