//! `sophia proofs verify`: check the hash-chained journal (the local `proofs/journal.jsonl`,
//! or the PostgreSQL journal when `SOPHIA_BACKEND=postgres://…`) and every proof file it
//! references (see [`crate::ops::proofs`]). Exit 0 with `journal: N records, N files
//! verified` on stdout (and the head hash on stderr, to pin with `--head`); exit 1 naming the
//! first problem, with a hint.

use super::{Ctx, Exit};
use crate::core::envelope::Envelope;
use crate::ops::proofs::{VerifyRequest, verify};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check the journal's hash chain and every proof file it references.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Also require the journal's head (the hash of its last record, printed by a previous
    /// verify) to be this `sha256:…` value: detects an edit of the last record.
    #[arg(long, value_name = "SHA256")]
    pub head: Option<String>,
}

pub async fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    match args.command {
        Command::Verify(v) => run_verify(ctx, v).await,
    }
}

async fn run_verify(ctx: &Ctx, args: VerifyArgs) -> anyhow::Result<Exit> {
    let started = std::time::Instant::now();
    let backend = std::env::var(crate::backend::BACKEND_ENV).ok();
    let report = verify(&VerifyRequest {
        root: &ctx.root,
        backend: backend.as_deref(),
        head: args.head.as_deref(),
    })
    .await?;
    let text = format!(
        "journal: {} records, {} files verified",
        report.records, report.files
    );
    if ctx.json {
        let env = Envelope::success(
            "proofs.verify",
            vec![serde_json::to_value(&report)?],
            text,
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            started.elapsed().as_millis() as u64,
        );
        println!("{}", serde_json::to_string_pretty(&env)?);
    } else {
        println!("{text}");
        ctx.status(format!("head: {}", report.head));
    }
    for action in &report.interrupted {
        ctx.status(format!(
            "warning: {action}: intent journaled, outcome not journaled: the run was interrupted and it may have happened"
        ));
    }
    Ok(Exit::Clean)
}
