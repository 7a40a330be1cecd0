//! `sophia schema`: the JSON Schema of `desired/*.yaml` on stdout, for editors (e.g. a
//! `# yaml-language-server: $schema=…` line) and for checking files outside `sophia`.

use super::{Ctx, Exit};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_ctx: &Ctx, _args: Args) -> anyhow::Result<Exit> {
    println!("{}", schema_json()?);
    Ok(Exit::Clean)
}

/// The schema of one desired file (the same type describes the merged state).
pub fn schema_json() -> anyhow::Result<String> {
    let schema = schemars::schema_for!(crate::core::desired::Desired);
    Ok(serde_json::to_string_pretty(&schema)?)
}
