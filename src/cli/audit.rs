//! `sophia report --html FILE`: the audit report — one self-contained HTML page with every
//! apply (signers, changes, policy verdicts, cost delta, attestation, convergence) and every
//! drift check recorded under `proofs/`, newest first.

use std::path::PathBuf;

use super::{Ctx, Exit};
use crate::core::render::html;
use crate::ops::audit::collect;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the page (written atomically).
    #[arg(long, value_name = "FILE")]
    pub html: PathBuf,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let now = crate::core::plan::rfc3339(chrono::Utc::now());
    let audit = collect(&ctx.root, now)?;
    let path = ctx.path(&args.html);
    crate::proofs::atomic::write_atomic(&path, html::render(&audit).as_bytes())?;
    ctx.status(format!(
        "wrote {}: {} applies, {} drift checks",
        args.html.display(),
        audit.applies.len(),
        audit.drifts.len()
    ));
    Ok(Exit::Clean)
}
