//! `sophia graph PLAN [--format mermaid|dot]`: draw a saved plan's action DAG after verifying
//! its digest — a Mermaid flowchart (as the PR comment embeds, within Mermaid's limits) or
//! Graphviz DOT (every action).

use std::path::PathBuf;

use anyhow::Context as _;

use super::{Ctx, Exit};
use crate::core::plan;
use crate::core::render::picture;

/// How to draw the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// A Mermaid flowchart (`flowchart LR`), coloured by action.
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`), coloured by action.
    Dot,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file (`sophia plan --out FILE`).
    #[arg(value_name = "PLAN", default_value = "plan.json")]
    pub plan: PathBuf,
    /// What to draw with.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let path = ctx.path(&args.plan);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the plan file `{}`", args.plan.display()))?;
    let plan = plan::read_plan(&args.plan.display().to_string(), &text)?;
    ctx.status(format!("digest verified: {}", plan.digest));
    let drawn = picture::actions(&plan);
    print!(
        "{}",
        match args.format {
            GraphFormat::Mermaid => picture::mermaid(&drawn),
            GraphFormat::Dot => picture::dot(&drawn) + "\n",
        }
    );
    Ok(Exit::Clean)
}
