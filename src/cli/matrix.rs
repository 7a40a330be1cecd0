//! `sophia matrix`: write `proofs/secrets/matrix.json`, each provider's activation and secret
//! status (names only), and print it with `--json`. See [`crate::ops::matrix`].

use super::{Ctx, Exit};
use crate::ops::matrix::{MATRIX_PATH, matrix};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: Args) -> anyhow::Result<Exit> {
    let written = matrix(&ctx.root)?;
    ctx.status(format!("wrote {MATRIX_PATH}: {}", written.summary));
    if ctx.json {
        println!("{}", written.text);
    }
    Ok(Exit::Clean)
}
