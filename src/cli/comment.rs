//! `sophia comment --repo OWNER/REPO --pr N plan.json [--target-label NAME]`: keep ONE
//! comment per pull request and target with the plan: found by its hidden marker
//! (`<!-- sophia-plan: OWNER/REPO#N target=NAME -->`, the first line of the body) among the
//! PR's comments, edited in place when it exists, posted otherwise. A re-run with the same
//! plan sends nothing.
//!
//! The body is the markdown rendering (summary table, a section per provider, the digest,
//! the signing commands), within GitHub's 65,536-character limit marker included; in GitHub
//! Actions it also links the workflow run whose artifacts hold the plan file.
//!
//! Credentials: `SOPHIA_REPORT_TOKEN` when set (see [`reporting_credentials`]), else those of
//! the GitHub provider (`GITHUB_TOKEN`, or the GitHub App); `GITHUB_API_URL`.

use std::path::PathBuf;

use anyhow::Context as _;

use super::{Ctx, Exit};
use crate::core::plan::{self, Plan};
use crate::core::render::markdown::{self, MAX_COMMENT_CHARS};
use crate::providers::Credentials;
use crate::providers::github_issues::{Issues, RepoRef, Upserted};

/// The variable holding the token `sophia comment` and `sophia drift --issue` write with,
/// when it must differ from the one that reads live state: in the drift workflow the
/// read-only GitHub App reads branch protection (which the workflow's own token cannot),
/// while the workflow's token (`issues: write`) writes the issue.
pub const REPORT_TOKEN_VAR: &str = "SOPHIA_REPORT_TOKEN";

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

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let path = ctx.path(&args.plan);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the plan file `{}`", path.display()))?;
    let plan = plan::read_plan(&args.plan.display().to_string(), &text)?;
    let label = match &args.target_label {
        Some(l) => check_label(l)?,
        None => default_label(&plan),
    };
    let run_link = workflow_run_link();
    let body = comment_body(
        &plan,
        &args.plan.display().to_string(),
        &args.repo,
        args.pr,
        &label,
        run_link.as_deref(),
    );
    let creds = reporting_credentials();
    let issues = Issues::new(&creds, creds.http()).context("`sophia comment` writes to GitHub: set GITHUB_TOKEN (in a workflow, `${{ github.token }}` with `pull-requests: write`) or SOPHIA_REPORT_TOKEN")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let done = runtime
        .block_on(issues.upsert_comment(
            &args.repo,
            args.pr,
            &marker(&args.repo, args.pr, &label),
            &body,
        ))
        .with_context(|| format!("upserting the plan comment on {}#{}", args.repo, args.pr))?;
    let (verb, c) = match &done {
        Upserted::Created(c) => ("posted", c),
        Upserted::Updated(c) => ("updated", c),
        Upserted::Unchanged(c) => ("left unchanged (same plan)", c),
    };
    ctx.status(format!(
        "{verb} the plan comment on {}#{} (target `{label}`, {} characters): {}",
        args.repo,
        args.pr,
        body.chars().count(),
        c.html_url
    ));
    if ctx.json {
        let out = serde_json::json!({
            "action": match done { Upserted::Created(_) => "created", Upserted::Updated(_) => "updated", Upserted::Unchanged(_) => "unchanged" },
            "id": c.id,
            "url": c.html_url,
            "chars": body.chars().count(),
            "plan_digest": plan.digest,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{}", c.html_url);
    }
    Ok(Exit::Clean)
}

/// The hidden first line that finds the comment again.
pub fn marker(repo: &RepoRef, pr: u64, label: &str) -> String {
    format!("<!-- sophia-plan: {repo}#{pr} target={label} -->")
}

/// The label of a plan without `--target-label`: its targets, or `all`.
pub fn default_label(plan: &Plan) -> String {
    if plan.targets.is_empty() {
        "all".to_string()
    } else {
        plan.targets.join(",")
    }
}

/// A label is part of an HTML comment: no spaces, no `--`, nothing that could end it.
fn check_label(label: &str) -> anyhow::Result<String> {
    let ok = !label.is_empty()
        && !label.contains("--")
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._,/:-".contains(c));
    if ok {
        Ok(label.to_string())
    } else {
        anyhow::bail!(
            "`--target-label {label}` is not a label\n  hint: use letters, digits and `._,/:-` \
             (no spaces, no `--`), e.g. `fly` or `fly.app.sophiaai-dashboard-v2`"
        )
    }
}

/// In GitHub Actions, a link to this workflow run, whose artifacts hold the plan file.
pub fn workflow_run_link() -> Option<String> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    Some(format!(
        "{}/{}/actions/runs/{}",
        var("GITHUB_SERVER_URL")?,
        var("GITHUB_REPOSITORY")?,
        var("GITHUB_RUN_ID")?
    ))
}

/// The whole comment: the marker, the markdown rendering cut to what remains of GitHub's
/// limit, and where the plan file is. Pure: the run link is given.
pub fn comment_body(
    plan: &Plan,
    plan_file: &str,
    repo: &RepoRef,
    pr: u64,
    label: &str,
    run_link: Option<&str>,
) -> String {
    let head = marker(repo, pr, label) + "\n";
    let tail = match run_link {
        Some(url) => format!(
            "\nThe plan file `{plan_file}` is an artifact of [the workflow run]({url}); sign \
             exactly that file.\n"
        ),
        None => String::new(),
    };
    let room = MAX_COMMENT_CHARS
        .saturating_sub(head.chars().count())
        .saturating_sub(tail.chars().count());
    let body = head + &markdown::render_within(plan, plan_file, room) + &tail;
    debug_assert!(body.chars().count() <= MAX_COMMENT_CHARS);
    body
}

/// The credentials `sophia comment` and `sophia drift --issue` write with: the token in
/// [`REPORT_TOKEN_VAR`] when set (with `GITHUB_API_URL` and the HTTP settings), else the
/// GitHub provider's own (`GITHUB_TOKEN`, or the GitHub App).
pub fn reporting_credentials() -> Credentials {
    let creds = Credentials::from_env();
    let Some(token) = std::env::var(REPORT_TOKEN_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return creds;
    };
    const AUTH: [&str; 4] = [
        "GITHUB_TOKEN",
        "GITHUB_APP_ID",
        "GITHUB_INSTALLATION_ID",
        "GITHUB_PRIVATE_KEY",
    ];
    Credentials::from_pairs(
        Credentials::NAMES
            .iter()
            .filter(|n| !AUTH.contains(n))
            .filter_map(|n| creds.get(n).map(|v| (n.to_string(), v.to_string())))
            .chain([("GITHUB_TOKEN".to_string(), token)]),
    )
}
