//! `sophia show PLAN`: render a saved plan file after verifying its digest; a file whose
//! digest does not match its content is refused.

use std::path::PathBuf;

use anyhow::Context as _;

use super::render::{Format, render_plan};
use super::{Ctx, Exit};
use crate::core::plan;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file (`sophia plan --out FILE`).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// How to print the plan (`--json` means `--format json`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let path = ctx.path(&args.plan);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the plan file `{}`", args.plan.display()))?;
    let shown = args.plan.display().to_string();
    let plan = plan::read_plan(&shown, &text)?;
    ctx.status(format!("digest verified: {}", plan.digest));
    if plan::is_expired(&plan, chrono::Utc::now()) {
        ctx.status(format!(
            "warning: this plan expired at {}; `sophia apply` will refuse it",
            plan.not_after
        ));
    }
    let format = if ctx.json { Format::Json } else { args.format };
    print!("{}", render_plan(&plan, format, ctx.color, &shown));
    Ok(Exit::Clean)
}
