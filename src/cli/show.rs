//! `sophia show`.

use super::{Ctx, Exit};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_ctx: &Ctx, _args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`sophia show` is not built yet")
}
