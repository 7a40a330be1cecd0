//! The command line: one file per subcommand. Each parses its arguments into one request,
//! calls one operation ([`crate::ops`], or [`crate::approve`] for signing and verifying) and
//! renders its outcome; no command imports another ([`render`] holds what several print the
//! same way). This module holds the global options, the one tokio runtime every command runs
//! on, the one place that prints errors, and the exit codes (0 success and no changes, 1
//! error, 2 success with changes).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

pub mod apply;
pub mod audit;
pub mod comment;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod drift;
pub mod graph;
pub mod import;
pub mod lease;
pub mod matrix;
pub mod op;
pub mod plan;
pub mod policy;
pub mod proofs;
pub mod refresh;
pub mod render;
pub mod report;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod schema;
pub mod show;
pub mod sign;
pub mod validate;
pub mod verify;

/// Declarative plan/apply for Sophia AI's infrastructure, with a signed approval gate.
///
/// Edit `desired/*.yaml`, run `sophia plan`, have the approver sign the plan file, then
/// `sophia apply` it. Data goes to stdout; status, progress and errors to stderr.
#[derive(Debug, Parser)]
#[command(
    name = "sophia",
    version = concat!(env!("CARGO_PKG_VERSION"), " (source ", env!("SOPHIA_SOURCE_DIGEST"), ")"),
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Run as if started in DIR (the repository root holding `desired/` and `.infra/`).
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print machine-readable JSON on stdout (results and errors in the normalized envelope).
    #[arg(long, global = true)]
    pub json: bool,
    /// More detail on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the desired state offline: syntax, unknown keys, names, duplicates.
    Validate(validate::Args),
    /// Read the live state of every active provider (reads only).
    Refresh(refresh::Args),
    /// Compute the plan: desired state against live state.
    Plan(plan::Args),
    /// Render a saved plan file.
    Show(show::Args),
    /// Draw a saved plan's action DAG (Mermaid or Graphviz DOT).
    Graph(graph::Args),
    /// Sign a plan file with an SSH key (writes PLAN.sig, as `ssh-keygen -Y sign` does).
    Sign(sign::Args),
    /// Verify a plan file: digest, expiry and signature against `.infra/allowed_signers`.
    Verify(verify::Args),
    /// Apply an approved plan: lock, verify, refuse if stale, run, record proofs.
    Apply(apply::Args),
    /// Write `proofs/secrets/matrix.json`: each provider's activation and secret status.
    Matrix(matrix::Args),
    /// The front door: run a provider operation (read-only) or plan a mutating one.
    Op(op::Args),
    /// Proofs and the hash-chained journal.
    Proofs(proofs::Args),
    /// Write desired YAML for live resources (Fly apps, repositories), to adopt them.
    Import(import::Args),
    /// The apply lease by hand: show it, or break one whose holder is gone.
    Lease(lease::Args),
    /// Policy as code (`.infra/policy/*.rego`): `sophia policy test` runs its tests.
    Policy(policy::Args),
    /// The audit report: one HTML page with every apply and drift check in `proofs/`.
    Report(audit::Args),
    /// Print the JSON Schema of `desired/*.yaml`.
    Schema(schema::Args),
    /// Run the local emulator of every provider API.
    #[cfg(feature = "sandbox")]
    Sandbox(sandbox::Args),
    /// Keep one comment with the plan on a pull request (edited in place on every plan).
    Comment(comment::Args),
    /// Plan against live state and report drift (exit 2); optionally keep a drift issue.
    Drift(drift::Args),
    /// The whole loop (plan, sign, apply, proofs, drift) against an embedded sandbox.
    #[cfg(feature = "sandbox")]
    Demo(demo::Args),
}

/// What every command gets: where it runs and how it prints.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The repository root.
    pub root: PathBuf,
    pub json: bool,
    pub verbose: u8,
    pub quiet: bool,
    /// Colour on stderr/stdout: off with `NO_COLOR` or when not a terminal.
    pub color: bool,
}

impl Ctx {
    /// A status line on stderr (suppressed by `-q`).
    pub fn status(&self, msg: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{}", crate::core::hint::escape(&msg.to_string()));
        }
    }

    /// A path under the repository root.
    pub fn path(&self, rel: impl AsRef<std::path::Path>) -> PathBuf {
        self.root.join(rel)
    }
}

/// How a successful command ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success, no changes.
    Clean,
    /// 2: success with changes (`plan --detailed-exitcode`, `drift`).
    Changes,
    /// 1: the command ran and has already printed its failure (e.g. `op`'s envelope).
    Failed,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = cli.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let ctx = Ctx {
        root,
        json: cli.json,
        verbose: cli.verbose,
        quiet: cli.quiet,
        color,
    };
    // The one runtime: every operation is `async` and runs on it.
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|runtime| runtime.block_on(run(&ctx, cli.command)));
    match result {
        Ok(Exit::Clean) => ExitCode::SUCCESS,
        Ok(Exit::Changes) => ExitCode::from(2),
        Ok(Exit::Failed) => ExitCode::FAILURE,
        Err(err) => {
            report::report(&ctx, &err);
            ExitCode::FAILURE
        }
    }
}

async fn run(ctx: &Ctx, command: Command) -> anyhow::Result<Exit> {
    crate::workspace::check(&ctx.root)?;
    match command {
        Command::Validate(args) => validate::run(ctx, args),
        Command::Refresh(args) => refresh::run(ctx, args).await,
        Command::Plan(args) => plan::run(ctx, args).await,
        Command::Show(args) => show::run(ctx, args),
        Command::Graph(args) => graph::run(ctx, args),
        Command::Sign(args) => sign::run(ctx, args),
        Command::Verify(args) => verify::run(ctx, args),
        Command::Apply(args) => apply::run(ctx, args).await,
        Command::Matrix(args) => matrix::run(ctx, args),
        Command::Op(args) => op::run(ctx, args).await,
        Command::Proofs(args) => proofs::run(ctx, args).await,
        Command::Import(args) => import::run(ctx, args).await,
        Command::Lease(args) => lease::run(ctx, args).await,
        Command::Policy(args) => policy::run(ctx, args),
        Command::Report(args) => audit::run(ctx, args),
        Command::Schema(args) => schema::run(ctx, args),
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => sandbox::run(ctx, args).await,
        Command::Comment(args) => comment::run(ctx, args).await,
        Command::Drift(args) => drift::run(ctx, args).await,
        #[cfg(feature = "sandbox")]
        Command::Demo(args) => demo::run(ctx, args).await,
    }
}
