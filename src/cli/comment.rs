//! `sophia comment --repo OWNER/REPO --pr N plan.json [--target-label NAME]`: keep ONE
//! comment per pull request and target with the plan (see [`crate::ops::comment`]).
//!
//! Credentials: `SOPHIA_REPORT_TOKEN` when set (see
//! [`crate::ops::reporting::reporting_credentials`]), else those of the GitHub provider
//! (`GITHUB_TOKEN`, or the GitHub App); `GITHUB_API_URL`.

use std::path::PathBuf;

use super::{Ctx, Exit};
use crate::ops::comment::{CommentRequest, comment};
use crate::ops::reporting::{reporting_credentials, workflow_run_link};
use crate::providers::github_issues::{RepoRef, Upserted};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository of the pull request.
    #[arg(long, value_name = "OWNER/REPO")]
    pub repo: RepoRef,
    /// The pull request's number.
    #[arg(long, value_name = "N")]
    pub pr: u64,
    /// The plan file (written by `sophia plan --out`).
    pub plan: PathBuf,
    /// Which plan of the PR this is, when a PR has several (one comment each). Default: the
    /// plan's `--target` addresses, or `all` for a full plan.
    #[arg(long, value_name = "NAME")]
    pub target_label: Option<String>,
}

pub async fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let creds = reporting_credentials();
    let done = comment(&CommentRequest {
        root: &ctx.root,
        plan: args.plan,
        repo: args.repo.clone(),
        pr: args.pr,
        label: args.target_label,
        creds: &creds,
        run_link: workflow_run_link(),
    })
    .await?;
    let (verb, action, c) = match &done.upserted {
        Upserted::Created(c) => ("posted", "created", c),
        Upserted::Updated(c) => ("updated", "updated", c),
        Upserted::Unchanged(c) => ("left unchanged (same plan)", "unchanged", c),
    };
    ctx.status(format!(
        "{verb} the plan comment on {}#{} (target `{}`, {} characters): {}",
        args.repo, args.pr, done.label, done.chars, c.html_url
    ));
    if ctx.json {
        let out = serde_json::json!({
            "action": action,
            "id": c.id,
            "url": c.html_url,
            "chars": done.chars,
            "plan_digest": done.plan_digest,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{}", c.html_url);
    }
    Ok(Exit::Clean)
}
