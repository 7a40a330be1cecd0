//! `sophia refresh [--out live.json]`: read the live state of every active provider the
//! desired state manages, into a live snapshot (`sophia-live/v1`). Reads only.
//!
//! Without `--out` the snapshot goes to stdout. When a provider cannot be read (e.g. it is
//! active but `not-configured`), every other provider is still read and reported on stderr,
//! but no snapshot is written and the exit code is 1: a partial snapshot would make the
//! unread provider's resources look absent, and a plan from it would propose creating them.
//! See [`crate::ops::refresh`].

use std::path::PathBuf;

use super::{Ctx, Exit};
use crate::core::envelope::Envelope;
use crate::ops::refresh::{RefreshRequest, describe_errors, refresh, snapshot_text};
use crate::providers::{Credentials, now_rfc3339};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the snapshot to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub async fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let started = std::time::Instant::now();
    let creds = Credentials::from_env();
    let refreshed = refresh(&RefreshRequest {
        root: &ctx.root,
        creds: &creds,
        out: args.out,
    })
    .await?;
    if !refreshed.unread.is_empty() {
        if ctx.json {
            let env = Envelope::failure(
                "refresh",
                refreshed.unread.clone(),
                "some providers could not be read",
                now_rfc3339(),
                started.elapsed().as_millis() as u64,
            );
            println!("{}", serde_json::to_string_pretty(&env)?);
        }
        anyhow::bail!("{}", describe_errors(&refreshed.unread));
    }
    match &refreshed.written {
        Some(path) => ctx.status(format!(
            "wrote {} resource(s) to {}",
            refreshed.snapshot.resources.len(),
            path.display()
        )),
        None => print!("{}", snapshot_text(&refreshed.snapshot)?),
    }
    Ok(Exit::Clean)
}
