//! The repository on disk: reading `desired/*.yaml` (and the `fly.toml` files they import)
//! into the pure loader, and the paths of `.infra/` and `proofs/`.

use std::path::Path;

use anyhow::Context as _;

use crate::core::desired::{self, Desired, Source};

/// Read every `desired/*.yaml` (sorted by name) and load them.
pub fn load_desired(root: &Path) -> anyhow::Result<Desired> {
    let dir = root.join("desired");
    let mut sources = Vec::new();
    let entries =
        std::fs::read_dir(&dir).with_context(|| format!("reading `{}`", dir.display()))?;
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
    Ok(desired::load(&sources)?)
}
