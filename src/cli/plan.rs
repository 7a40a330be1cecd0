//! `sophia plan`: desired state against live state → a digested plan, rendered on stdout
//! and optionally written to `--out` (atomically; nothing is written on any error).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{Ctx, Exit};
use crate::core::live::{LIVE_FORMAT, LiveSnapshot};
use crate::core::plan::{self, Plan, PlanOptions};
use crate::core::render;

/// How a plan is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Terraform-like, coloured on a terminal (not with `NO_COLOR`).
    Text,
    /// The PR comment.
    Markdown,
    /// The plan file.
    Json,
}

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
    /// How long the plan stays valid (e.g. `24h`, `90m`).
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    pub ttl: std::time::Duration,
    /// Exit 2 when the plan has changes (0 when none, 1 on error), as Terraform does.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let mut desired = crate::workspace::load_desired(&ctx.root)?;
    let (live, unread) = match &args.live {
        Some(path) => (
            read_live(&ctx.path(path), &path.display().to_string())?,
            Vec::new(),
        ),
        None => crate::providers::activation::with_record(
            &ctx.root,
            crate::cli::refresh::refresh_live(&desired)?,
        )?,
    };
    // A provider that could not be read is left out of the plan (its resources would look
    // absent and be proposed for creation); the others are planned and shown, and the plan
    // fails afterwards naming what could not be read.
    for e in &unread {
        if let Some(p) = crate::core::desired::ProviderName::parse(&e.provider) {
            desired.forget(p);
        }
    }
    let opts = PlanOptions {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: chrono::Utc::now(),
        ttl: chrono::Duration::from_std(args.ttl).context("`--ttl` is too long")?,
        nonce: hex::encode(rand::random::<[u8; 16]>()),
        git_commit: git_commit(&ctx.root),
        targets: args.targets.clone(),
    };
    let plan = plan::build(&desired, &live, &opts)?;
    // DESIGN.md: plan warns about the secrets apply will send that are not set here (apply
    // refuses to start without them). Names only.
    let missing = crate::apply::missing_secrets(&plan, &crate::providers::EnvSecrets);
    if !missing.is_empty() {
        ctx.status(format!(
            "warning: `sophia apply` will need these secrets, which are not set here: {}",
            missing.join(", ")
        ));
    }
    let plan_file = args
        .out
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "plan.json".to_string());
    let format = if ctx.json { Format::Json } else { args.format };
    let rendered = render_plan(&plan, format, ctx.color, &plan_file);
    if !unread.is_empty() {
        print!("{rendered}");
        anyhow::bail!(
            "{}\n  hint: no plan file was written; set the variables named above (read-only \
             credentials are enough for a plan)",
            crate::cli::refresh::describe_errors(&unread)
        );
    }
    if plan.has_changes() {
        let s = &plan.summary;
        crate::cli::apply::notify_slack(
            ctx,
            &format!(
                "sophia plan {}: {} to create, {} to update, {} to delete, {} to replace",
                plan.digest, s.create, s.update, s.delete, s.replace
            ),
        );
    }
    if let Some(out) = &args.out {
        let path = ctx.path(out);
        write_atomic(&path, render::json::render(&plan).as_bytes())?;
        ctx.status(format!("wrote the plan to `{}`", out.display()));
    }
    print!("{rendered}");
    std::io::stdout()
        .flush()
        .context("writing the plan to stdout")?;
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Clean
    })
}

/// Render a plan in one of the three formats.
pub fn render_plan(plan: &Plan, format: Format, color: bool, plan_file: &str) -> String {
    match format {
        Format::Text => render::text::render(plan, color),
        Format::Markdown => render::markdown::render(plan, plan_file),
        Format::Json => render::json::render(plan),
    }
}

/// Read and check a live snapshot file; `shown` is its path as the user gave it.
pub fn read_live(path: &Path, shown: &str) -> anyhow::Result<LiveSnapshot> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the live snapshot `{shown}`"))?;
    parse_live(shown, &text)
}

/// Parse a live snapshot; `file` is the path shown in errors.
pub fn parse_live(file: &str, text: &str) -> anyhow::Result<LiveSnapshot> {
    let hint = "hint: a live snapshot is written by `sophia refresh --out live.json`";
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "{file}:{}:{}: the live snapshot is not valid JSON: {}\n  {hint}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        )
    })?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(LIVE_FORMAT) => {}
        Some(other) => anyhow::bail!(
            "{file}: not a live snapshot: `format` is `{other}`, expected `{LIVE_FORMAT}`\n  {hint}"
        ),
        None => anyhow::bail!(
            "{file}: not a live snapshot: no `format` field, expected `\"format\": \"{LIVE_FORMAT}\"`\n  {hint}"
        ),
    }
    serde_json::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "{file}:{}:{}: malformed live snapshot: {}\n  {hint}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        )
    })
}

/// serde_json appends " at line L column C"; the errors show the position up front.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The commit the desired state comes from: `GITHUB_SHA` in Actions, else `git rev-parse
/// HEAD` in the repository, else none.
fn git_commit(root: &Path) -> Option<String> {
    if let Some(sha) = std::env::var("GITHUB_SHA").ok().filter(|s| !s.is_empty()) {
        return Some(sha);
    }
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let sha = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !sha.is_empty()).then_some(sha)
}

pub use crate::proofs::atomic::write_atomic;
