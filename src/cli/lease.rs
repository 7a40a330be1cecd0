//! `sophia lease show` and `sophia lease break --reason TEXT`: the apply lease of the
//! backend (`SOPHIA_BACKEND`), by hand (see [`crate::ops::lease`]). `show` prints the holder,
//! since when and until when (nothing held: `no apply lease is held`); `break` ends a lease
//! whose holder is gone and journals who broke it and why, and is refused (exit 1) while the
//! holder's process is alive on this host.

use super::{Ctx, Exit};
use crate::backend::lease_break::BreakError;
use crate::core::envelope::Envelope;
use crate::ops::lease;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the apply lease: holder, since when, until when.
    Show,
    /// End the apply lease of a holder that is gone (journaled with who and why).
    Break(BreakArgs),
}

#[derive(Debug, clap::Args)]
pub struct BreakArgs {
    /// Why the lease is broken (journaled).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

pub async fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let spec = std::env::var(crate::backend::BACKEND_ENV).ok();
    let started = std::time::Instant::now();
    let (query, result, text) = match args.command {
        Command::Show => {
            let shown = lease::show(&ctx.root, spec.as_deref()).await?;
            let text = match &shown.lease {
                None => format!("no apply lease is held ({})", shown.backend),
                Some(l) => format!(
                    "holder: {}\nsince:  {}\nuntil:  {}{}",
                    l.holder,
                    l.since,
                    l.until,
                    if l.expired { " (expired)" } else { "" }
                ),
            };
            ("lease.show", serde_json::to_value(&shown)?, text)
        }
        Command::Break(b) => {
            let broken = lease::break_lease(&ctx.root, spec.as_deref(), &b.reason)
                .await
                .map_err(with_hint)?;
            let value = serde_json::json!({
                "previous": broken.previous.holder,
                "broken_by": broken.by,
                "reason": broken.reason,
                "journal_seq": broken.record.seq,
            });
            ("lease.break", value, broken.to_string())
        }
    };
    if ctx.json {
        let env = Envelope::success(
            query,
            vec![result],
            text,
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            started.elapsed().as_millis() as u64,
        );
        println!("{}", serde_json::to_string_pretty(&env)?);
    } else {
        println!("{text}");
    }
    Ok(Exit::Clean)
}

fn with_hint(e: BreakError) -> anyhow::Error {
    match e {
        BreakError::HolderAlive(_) => crate::hinted!(
            hint = "a lease whose holder is alive ends when its apply finishes; `sophia lease show` shows until when",
            "{e}"
        ),
        BreakError::Other(e) => e,
        other => anyhow::Error::new(other),
    }
}
