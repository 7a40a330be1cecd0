//! `sophia proofs`.

use super::{Ctx, Exit};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_ctx: &Ctx, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`sophia proofs` is not built yet")
}
