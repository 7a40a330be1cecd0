//! `sophia apply`: run an approved plan (DESIGN.md, "Apply"; [`crate::ops::apply`]), with
//! progress on stderr and a summary of what each action did.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::render::notified;
use super::{Ctx, Exit};
use crate::apply::{ApplyOptions, DEFAULT_PARALLELISM, Progress};
use crate::core::plan::Action;
use crate::ops::apply::{ApplyRequest, apply};
use crate::providers::{Credentials, EnvSecrets};

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
    #[arg(long, default_value_t = DEFAULT_PARALLELISM)]
    pub parallelism: usize,
    /// Start nothing new after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// The apply lease's time to live (renewed while the apply runs).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub lease_ttl: Duration,
}

pub async fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    for warning in crate::approve::allowed_signers_warnings(&ctx.root) {
        ctx.status(warning);
    }
    let creds = Credentials::from_env();
    let backend = std::env::var(crate::backend::BACKEND_ENV).ok();
    let attestation_key = std::env::var(crate::ops::attest::KEY_ENV)
        .ok()
        .filter(|k| !k.trim().is_empty());
    let applied = apply(&ApplyRequest {
        root: &ctx.root,
        backend: backend.as_deref(),
        creds: &creds,
        secrets: Arc::new(EnvSecrets),
        options: ApplyOptions {
            plan: args.plan,
            signatures: args.signatures,
            approve: args.approve,
            parallelism: args.parallelism,
            fail_fast: args.fail_fast,
            lease_ttl: args.lease_ttl,
        },
        progress: &Lines::new(ctx),
        attestation_key: attestation_key.as_deref(),
    })
    .await?;
    let report = &applied.report;
    if let Some(t) = &report.took_over {
        ctx.status(format!("note: {t}"));
    }
    if let Some(path) = &applied.attestation {
        ctx.status(format!("attestation: {path} (DSSE, in-toto Statement v1)"));
    }
    ctx.status(format!(
        "Apply {}: {} succeeded, {} failed, {} skipped, {} not started in {:.1}s (approved by {}).",
        if report.succeeded() {
            "complete"
        } else {
            "incomplete"
        },
        report.count(crate::apply::ActionStatus::Succeeded),
        report.count(crate::apply::ActionStatus::Failed),
        report.count(crate::apply::ActionStatus::Skipped),
        report.count(crate::apply::ActionStatus::NotStarted),
        report.elapsed.as_secs_f64(),
        report.approver,
    ));
    for a in report
        .actions
        .iter()
        .filter(|a| a.status != crate::apply::ActionStatus::Succeeded)
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
    notified(ctx, &applied.notified);
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
