//! `sophia op PROVIDER ACTION [--app APP] [--payload JSON]`: the front door of the original
//! control plane. Read-only operations run at once: the normalized envelope goes to stdout
//! and to its proof file. Mutating ones (`fly deploy`, `fly set-secrets`, `github protect`)
//! write a targeted plan to sign and apply. See [`crate::ops::frontdoor`].

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use super::render::{Format, render_plan};
use super::{Ctx, Exit};
use crate::core::envelope::Status;
use crate::ops::frontdoor::{self, OpContext, OpOutcome, OpRequest};
use crate::providers::Credentials;

#[derive(Debug, clap::Args)]
#[command(after_help = OPS_HELP)]
pub struct Args {
    /// fly, github, router, research, context_db, qdrant, mem0, redis, slack, gong, lambda.
    pub provider: String,
    /// The operation (see the list below).
    pub action: String,
    /// The Fly app (Fly operations only).
    #[arg(long, value_name = "APP")]
    pub app: Option<String>,
    /// The operation's payload, a JSON object (at most 64 KiB; unknown keys are errors).
    #[arg(long, value_name = "JSON")]
    pub payload: Option<String>,
    /// The repository, `OWNER/REPO` (GitHub operations; sets the payload's `repo`).
    #[arg(long, value_name = "OWNER/REPO")]
    pub repo: Option<String>,
    /// The branch (`github rules`; sets the payload's `branch`).
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
    /// Where a mutating operation writes its plan.
    #[arg(long, value_name = "FILE", default_value = "plan.json")]
    pub out: PathBuf,
}

const OPS_HELP: &str = "\
Operations (read-only unless marked; mutating ones write a targeted plan):
  fly         health | machines | logs | deploy* | set-secrets*   (--app APP)
  router      allowlist | route-test
  github      audit | rules (--repo R --branch B) | protect*
  research    search | validate
  context_db  ping | health | query
  qdrant      collections | validate
  mem0        validate
  redis       ping | info
  slack       validate
  gong        validate
  lambda      instances | validate

Examples:
  sophia op fly health --app sophiaai-dashboard-v2
  sophia op research search --payload '{\"query\": \"AI infrastructure trends\", \"max_results\": 10}'
  sophia op github protect --payload '{\"required_checks\": [\"Deploy All\"], \"require_review\": true}'
  sophia op context_db query --payload '{\"sql\": \"SELECT now()\"}'";

/// `--repo` and `--branch` as the payload's `repo` and `branch` (over the payload's own).
fn with_flags(
    payload: Option<String>,
    repo: Option<String>,
    branch: Option<String>,
) -> anyhow::Result<Option<String>> {
    if repo.is_none() && branch.is_none() {
        return Ok(payload);
    }
    let mut body: serde_json::Value = match &payload {
        Some(text) => serde_json::from_str(text).context("`--payload` is not JSON")?,
        None => serde_json::json!({}),
    };
    let Some(map) = body.as_object_mut() else {
        anyhow::bail!("`--payload` is not a JSON object");
    };
    for (key, value) in [("repo", repo), ("branch", branch)] {
        if let Some(v) = value {
            map.insert(key.into(), serde_json::Value::String(v));
        }
    }
    Ok(Some(body.to_string()))
}

pub async fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let creds = Credentials::from_env();
    let cx = OpContext {
        root: ctx.root.clone(),
        http: creds.http(),
        creds,
    };
    let req = OpRequest {
        provider: args.provider,
        action: args.action,
        app: args.app,
        payload: with_flags(args.payload, args.repo, args.branch)?,
        out: Some(args.out),
    };
    let outcome = frontdoor::run(&cx, &req).await?;
    // Defence in depth: whatever a provider echoed, no secret value reaches the terminal.
    let redactor = crate::secrets::load_map(&ctx.root)
        .map(|m| crate::secrets::Redactor::from_env(&m))
        .unwrap_or_default();
    let mut stdout = std::io::stdout().lock();
    match outcome {
        OpOutcome::Ran { envelope, proofs } => {
            let text = serde_json::to_string_pretty(&envelope)?;
            writeln!(stdout, "{}", redactor.redact(&text)).context("writing to stdout")?;
            stdout.flush().ok();
            for p in &proofs {
                ctx.status(format!("proof: proofs/{p}"));
            }
            if envelope.status == Status::Success {
                for e in &envelope.errors {
                    ctx.status(redactor.redact(&format!(
                        "warning: {} [{}]: {}",
                        e.provider, e.code, e.message
                    )));
                }
                return Ok(Exit::Clean);
            }
            for e in &envelope.errors {
                eprintln!(
                    "{}",
                    redactor.redact(&format!(
                        "error: {} [{}]: {}",
                        e.provider, e.code, e.message
                    ))
                );
            }
            Ok(Exit::Failed)
        }
        OpOutcome::Planned {
            plan,
            path,
            targets,
        } => {
            let file = path.display().to_string();
            let format = if ctx.json { Format::Json } else { Format::Text };
            let rendered = render_plan(&plan, format, ctx.color, &file);
            write!(stdout, "{}", redactor.redact(&rendered)).context("writing to stdout")?;
            stdout.flush().ok();
            if plan.desired.git_dirty {
                ctx.status(super::plan::dirty_warning(
                    plan.desired.git_commit.as_deref(),
                ));
            }
            ctx.status(format!(
                "wrote a plan targeted at {} to `{file}` ({}); nothing was changed",
                targets.join(", "),
                plan.summary.sentence()
            ));
            if plan.actions.is_empty() {
                ctx.status("nothing to apply: live state already matches");
            } else {
                ctx.status(format!(
                    "next: have the approver sign it, then apply it:\n  \
                     sophia sign {file} --key ~/.ssh/id_ed25519\n  \
                     sophia apply {file} --signature {file}.sig"
                ));
                ctx.status(
                    "note: the payload's change is not in desired/*.yaml: commit it there too, \
                     or the next full plan will undo it",
                );
            }
            Ok(Exit::Clean)
        }
    }
}
