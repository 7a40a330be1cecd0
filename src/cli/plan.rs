//! `sophia plan`: desired state against live state → a digested plan, rendered on stdout
//! and optionally written to `--out` (atomically; nothing is written on any error). See
//! [`crate::ops::plan`].

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use super::render::{Format, notified, render_plan};
use super::{Ctx, Exit};
use crate::ops::plan::{PlanRequest, plan};
use crate::ops::refresh::{describe_errors, unread_hint};
use crate::providers::{Credentials, EnvSecrets};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the plan file here (atomically; nothing is written on any error).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// How to print the plan on stdout (`--json` means `--format json`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Plan only the changes under ADDR (e.g. `fly.app.x`) and what they depend on.
    /// Repeatable.
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Plan against this live snapshot (`sophia refresh --out live.json`) instead of
    /// reading the providers.
    #[arg(long, value_name = "FILE")]
    pub live: Option<PathBuf>,
    /// How long the plan stays valid (e.g. `24h`, `90m`), at most `[policy] max_ttl` of
    /// .infra/sophia.toml (default 7d).
    // The default is `ops::plan::DEFAULT_TTL`, spelled as people write it.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    pub ttl: std::time::Duration,
    /// Exit 2 when the plan has changes (0 when none, 1 on error), as Terraform does.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub async fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let creds = Credentials::from_env();
    let planned = plan(&PlanRequest {
        root: &ctx.root,
        creds: &creds,
        secrets: &EnvSecrets,
        live: args.live,
        ttl: args.ttl,
        targets: args.targets,
        out: args.out.clone(),
    })
    .await?;
    if planned.plan.desired.git_dirty {
        ctx.status(dirty_warning(planned.plan.desired.git_commit.as_deref()));
    }
    for u in &planned.unpinned {
        ctx.status(format!(
            "warning: {u}; it is planned by tag, and apply deploys whatever the tag names then \
             (plan against the providers, or from a `sophia refresh` snapshot, to pin it)"
        ));
    }
    for w in &planned.gate_warnings {
        ctx.status(format!("warning: {w}"));
    }
    if !planned.missing_secrets.is_empty() {
        ctx.status(format!(
            "warning: `sophia apply` will need these secrets, which are not set here: {}",
            planned.missing_secrets.join(", ")
        ));
    }
    let plan_file = args
        .out
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "plan.json".to_string());
    let format = if ctx.json { Format::Json } else { args.format };
    let rendered = render_plan(&planned.plan, format, ctx.color, &plan_file);
    if !planned.unread.is_empty() {
        print!("{rendered}");
        return Err(crate::hinted!(
            hint = format!(
                "no plan file was written; {}",
                unread_hint(&planned.unread, "a plan")
            ),
            "{}",
            describe_errors(&planned.unread)
        ));
    }
    notified(ctx, &planned.notified);
    if let (Some(out), Some(_)) = (&args.out, &planned.written) {
        ctx.status(format!("wrote the plan to `{}`", out.display()));
    }
    print!("{rendered}");
    std::io::stdout()
        .flush()
        .context("writing the plan to stdout")?;
    Ok(if args.detailed_exitcode && planned.plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Clean
    })
}

/// The warning for a plan of a `desired/` with uncommitted changes (recorded in the plan as
/// `desired.git_dirty: true`).
pub fn dirty_warning(commit: Option<&str>) -> String {
    format!(
        "warning: desired/ has uncommitted changes: this plan is not the state of commit {} \
         (recorded as `desired.git_dirty: true`)\n  hint: commit desired/ first so the \
         reviewed commit is what the plan holds",
        commit.map_or("HEAD", |c| &c[..c.len().min(12)])
    )
}
