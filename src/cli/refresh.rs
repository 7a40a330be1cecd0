//! `sophia refresh [--out live.json]`: read the live state of every active provider the
//! desired state manages, into a live snapshot (`sophia-live/v1`). Reads only.
//!
//! Without `--out` the snapshot goes to stdout. When a provider cannot be read (e.g. it is
//! active but `not-configured`), every other provider is still read and reported on stderr,
//! but no snapshot is written and the exit code is 1: a partial snapshot would make the
//! unread provider's resources look absent, and a plan from it would propose creating them.

use std::path::PathBuf;

use anyhow::Context;

use super::{Ctx, Exit};
use crate::core::desired::Desired;
use crate::core::envelope::{Envelope, EnvelopeError};
use crate::core::live::LiveSnapshot;
use crate::providers::{Credentials, now_rfc3339, refresh_all};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the snapshot to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let started = std::time::Instant::now();
    let desired = crate::workspace::load_desired(&ctx.root)?;
    let (snapshot, errors) =
        crate::providers::activation::with_record(&ctx.root, refresh_live(&desired)?)?;
    if !errors.is_empty() {
        if ctx.json {
            let env = Envelope::failure(
                "refresh",
                errors.clone(),
                "some providers could not be read",
                now_rfc3339(),
                started.elapsed().as_millis() as u64,
            );
            println!("{}", serde_json::to_string_pretty(&env)?);
        }
        anyhow::bail!("{}", describe_errors(&errors));
    }
    let text = serde_json::to_string_pretty(&snapshot)? + "\n";
    match &args.out {
        Some(path) => {
            let path = ctx.path(path);
            write_atomic(&path, text.as_bytes())?;
            ctx.status(format!(
                "wrote {} resource(s) to {}",
                snapshot.resources.len(),
                path.display()
            ));
        }
        None => print!("{text}"),
    }
    Ok(Exit::Clean)
}

/// Refresh `desired` with credentials from the environment: the snapshot and the errors of
/// the providers that could not be read. This is what `sophia plan` calls without `--live`.
pub fn refresh_live(desired: &Desired) -> anyhow::Result<(LiveSnapshot, Vec<EnvelopeError>)> {
    let creds = Credentials::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(runtime.block_on(refresh_all(desired, &creds)))
}

/// One line a provider error, `provider [code]: message`.
pub fn describe_errors(errors: &[EnvelopeError]) -> String {
    let mut text = format!("{} provider(s) could not be read:", errors.len());
    for e in errors {
        text.push_str(&format!("\n  {} [{}]: {}", e.provider, e.code, e.message));
    }
    text
}

pub use crate::proofs::atomic::write_atomic;
