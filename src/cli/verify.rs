//! `sophia verify`.

use super::{Ctx, Exit};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_ctx: &Ctx, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`sophia verify` is not built yet")
}
