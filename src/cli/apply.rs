//! `sophia apply`: run an approved plan (DESIGN.md, "Apply").

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Ctx, Exit};
use crate::apply::{self, ApplyEnv, ApplyOptions, Progress};
use crate::core::plan::Action;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file written by `sophia plan --out`.
    pub plan: PathBuf,
    /// SSH signature file(s) of the plan (default: PLAN.sig and PLAN.sig.* next to it).
    #[arg(long = "signature", value_name = "FILE")]
    pub signatures: Vec<PathBuf>,
    /// Approve by digest instead of a signature (`approval = "digest"` in .infra/sophia.toml).
    #[arg(long, value_name = "sha256:HEX")]
    pub approve: Option<String>,
    /// How many actions run at once.
    #[arg(long, default_value_t = apply::DEFAULT_PARALLELISM)]
    pub parallelism: usize,
    /// Start nothing new after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// The apply lease's time to live (renewed while the apply runs).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub lease_ttl: Duration,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(async {
        let backend = crate::backend::Backend::from_env(&ctx.root).await?;
        let creds = crate::providers::Credentials::from_env();
        let progress = Lines::new(ctx);
        let env = ApplyEnv {
            root: &ctx.root,
            creds: &creds,
            secrets: Arc::new(crate::providers::EnvSecrets),
            backend: &backend,
            progress: &progress,
        };
        let opts = ApplyOptions {
            plan: args.plan.clone(),
            signatures: args.signatures.clone(),
            approve: args.approve.clone(),
            parallelism: args.parallelism,
            fail_fast: args.fail_fast,
            lease_ttl: args.lease_ttl,
        };
        apply::apply(&env, &opts).await
    })?;
    if let Some(t) = &report.took_over {
        ctx.status(format!("note: {t}"));
    }
    ctx.status(format!(
        "Apply {}: {} succeeded, {} failed, {} skipped, {} not started in {:.1}s (approved by {}).",
        if report.succeeded() {
            "complete"
        } else {
            "incomplete"
        },
        report.count(apply::ActionStatus::Succeeded),
        report.count(apply::ActionStatus::Failed),
        report.count(apply::ActionStatus::Skipped),
        report.count(apply::ActionStatus::NotStarted),
        report.elapsed.as_secs_f64(),
        report.approver,
    ));
    for a in report
        .actions
        .iter()
        .filter(|a| a.status != apply::ActionStatus::Succeeded)
    {
        ctx.status(format!("  {} {}: {}", a.status, a.action.id, a.message));
    }
    if report.not_converged.is_empty() {
        ctx.status("Live state converged to the plan.");
    } else {
        ctx.status(format!(
            "Live state has not converged for: {}",
            report.not_converged.join(", ")
        ));
    }
    if ctx.json {
        let out = serde_json::json!({
            "plan_digest": report.plan_digest,
            "approver": report.approver,
            "succeeded": report.succeeded(),
            "converged": report.not_converged.is_empty(),
            "timings_ms": report.timings,
            "actions": report.actions.iter().map(|a| serde_json::json!({
                "id": a.action.id, "status": a.status, "message": a.message, "proof": a.proof,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    notify_slack(
        ctx,
        &format!(
            "sophia apply {}: {} succeeded, {} failed, {} skipped; {} (approved by {})",
            report.plan_digest,
            report.count(apply::ActionStatus::Succeeded),
            report.count(apply::ActionStatus::Failed),
            report.count(apply::ActionStatus::Skipped),
            if report.not_converged.is_empty() {
                "live state converged"
            } else {
                "live state has NOT converged"
            },
            report.approver
        ),
    );
    if report.succeeded() {
        Ok(Exit::Clean)
    } else {
        anyhow::bail!("the apply did not complete: see the actions above and proofs/apply/")
    }
}

/// Progress on stderr: a bar on a terminal, one line per action otherwise.
struct Lines {
    quiet: bool,
    bar: Mutex<Option<indicatif::ProgressBar>>,
    terminal: bool,
}

impl Lines {
    fn new(ctx: &Ctx) -> Lines {
        Lines {
            quiet: ctx.quiet,
            bar: Mutex::new(None),
            terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }
}

impl Progress for Lines {
    fn started(&self, total: usize) {
        if self.quiet {
            return;
        }
        if self.terminal {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            ) {
                bar.set_style(style);
            }
            *self.bar.lock().expect("progress lock") = Some(bar);
        } else {
            eprintln!("Applying {total} actions…");
        }
    }

    fn action_done(&self, action: &Action, outcome: &str, millis: u64) {
        if self.quiet {
            return;
        }
        let line = format!("{outcome:>9} {} ({millis} ms)", action.id);
        match &*self.bar.lock().expect("progress lock") {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => eprintln!("{line}"),
        }
    }

    fn finished(&self) {
        if let Some(bar) = self.bar.lock().expect("progress lock").take() {
            bar.finish_and_clear();
        }
    }
}

/// Post `text` to the desired state's `slack.notify_channel` when Slack is active (DESIGN.md:
/// plan and apply notifications). A failure to notify is a warning: the plan or apply itself
/// already happened and is recorded.
pub fn notify_slack(ctx: &Ctx, text: &str) {
    let Ok(desired) = crate::workspace::load_desired(&ctx.root) else {
        return;
    };
    let creds = crate::providers::Credentials::from_env();
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        return;
    };
    let result = runtime.block_on(crate::providers::slack::notify(
        &desired,
        &creds,
        &creds.http(),
        text,
    ));
    match result {
        Some(Ok(_)) => ctx.status("Notified Slack."),
        Some(Err(e)) => ctx.status(format!("warning: could not notify Slack: {e}")),
        None => {}
    }
}
