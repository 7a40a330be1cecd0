//! `sophia matrix`: write `proofs/secrets/matrix.json`, each provider's activation and secret
//! status (names only), and print it with `--json`.

use super::{Ctx, Exit};
use crate::core::envelope::Envelope;
use crate::core::matrix;
use crate::secrets;

#[derive(Debug, clap::Args)]
pub struct Args {}

/// Where the matrix is written, relative to the repository root (the original layout).
pub const MATRIX_PATH: &str = "proofs/secrets/matrix.json";

pub fn run(ctx: &Ctx, _args: Args) -> anyhow::Result<Exit> {
    let started = std::time::Instant::now();
    let desired = crate::workspace::load_desired(&ctx.root)?;
    let map = secrets::load_map(&ctx.root)?;
    let present = secrets::present_from_env(&map);
    let activations = desired.managed().into_iter().collect();
    let rows = matrix::compute(&map, &activations, &present);
    let summary = matrix::summary(&rows);
    let env = Envelope::success(
        "secrets.matrix",
        rows.iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()?,
        summary.clone(),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        started.elapsed().as_millis() as u64,
    );
    // Names only by construction; the redactor is the second line of defence.
    let text = secrets::Redactor::from_env(&map).redact(&serde_json::to_string_pretty(&env)?);
    secrets::write_atomic(&ctx.path(MATRIX_PATH), format!("{text}\n").as_bytes())?;
    ctx.status(format!("wrote {MATRIX_PATH}: {summary}"));
    if ctx.json {
        println!("{text}");
    }
    Ok(Exit::Clean)
}
