//! `sophia import [ADDR…] [--provider fly|github] [--org SLUG] [--out FILE] [--force]`:
//! desired YAML for live resources, through the same normalizer as refresh (see
//! [`crate::ops::import`]). The YAML goes to stdout, or atomically to `--out` (an existing
//! file only with `--force`); what could not be imported, and the changes a plan of the
//! imported state would still show (0 when the import is exact), go to stderr.

use std::path::PathBuf;

use super::{Ctx, Exit};
use crate::core::desired::ProviderName;
use crate::ops::import::{ImportRequest, run as import};
use crate::providers::Credentials;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `fly.app.NAME` or `github.repo.OWNER/REPO` to import, or one GitHub resource: an
    /// address under a repository (`….variable.NAME`, `….collaborator.LOGIN`, `….team.SLUG`,
    /// `….settings`, …) or `github.org.ORG.ruleset.NAME`.
    #[arg(value_name = "ADDR")]
    pub addresses: Vec<String>,
    /// Import every live resource of this provider that desired/ does not name (for GitHub,
    /// also the unmanaged resources of the repositories and organizations it names).
    #[arg(long, value_enum, value_name = "NAME")]
    pub provider: Option<Which>,
    /// The Fly organization, when desired/ sets no `fly.org`.
    #[arg(long, value_name = "SLUG")]
    pub org: Option<String>,
    /// Write the YAML here (relative to the repository root) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace `--out` if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Which {
    Fly,
    Github,
}

pub async fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let creds = Credentials::from_env();
    let outcome = import(&ImportRequest {
        root: &ctx.root,
        creds: &creds,
        addresses: args.addresses,
        provider: args.provider.map(|w| match w {
            Which::Fly => ProviderName::Fly,
            Which::Github => ProviderName::Github,
        }),
        org: args.org,
        out: args.out,
        force: args.force,
    })
    .await?;
    if outcome.written.is_none() {
        print!("{}", outcome.yaml);
    }
    for note in &outcome.notes {
        ctx.status(format!("note: {note}"));
    }
    let repos = format!(
        "{} repositor{}",
        outcome.repos.len(),
        if outcome.repos.len() == 1 { "y" } else { "ies" }
    );
    let what = match outcome.resources.len() {
        0 => format!("imported {} Fly app(s) and {repos}", outcome.apps.len()),
        n => format!(
            "imported {} Fly app(s), {repos} and {n} GitHub resource(s)",
            outcome.apps.len()
        ),
    };
    match &outcome.written {
        Some(path) => ctx.status(format!("{what} into {}", path.display())),
        None => ctx.status(what),
    }
    if outcome.residual_changes > 0 {
        ctx.status(format!(
            "warning: a plan of the imported state would still show {} change(s): see the notes above",
            outcome.residual_changes
        ));
    }
    Ok(Exit::Clean)
}
