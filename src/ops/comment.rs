//! `sophia comment --repo OWNER/REPO --pr N plan.json [--target-label NAME]`: keep ONE
//! comment per pull request and target with the plan: found by its hidden marker
//! (`<!-- sophia-plan: OWNER/REPO#N target=NAME -->`, the first line of the body) among the
//! PR's comments, edited in place when it exists, posted otherwise. A re-run with the same
//! plan sends nothing.
//!
//! The body is the markdown rendering (summary table, a section per provider, the digest,
//! the signing commands), within GitHub's 65,536-character limit marker included; in GitHub
//! Actions it also links the workflow run whose artifacts hold the plan file.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::core::plan::{self, Plan};
use crate::core::render::markdown::{self, MAX_COMMENT_CHARS};
use crate::providers::Credentials;
use crate::providers::github_issues::{Issues, RepoRef, Upserted};

/// What `sophia comment` is asked.
pub struct CommentRequest<'a> {
    /// The repository root.
    pub root: &'a Path,
    /// The plan file, as the user gave it (relative to the root).
    pub plan: PathBuf,
    /// The pull request.
    pub repo: RepoRef,
    pub pr: u64,
    /// Which plan of the PR this is (`None`: the plan's targets, or `all`).
    pub label: Option<String>,
    /// The credentials that write the comment ([`super::reporting::reporting_credentials`]).
    pub creds: &'a Credentials,
    /// The workflow run whose artifacts hold the plan file.
    pub run_link: Option<String>,
}

/// What became of the comment.
#[derive(Debug, Clone)]
pub struct Commented {
    pub plan_digest: String,
    pub label: String,
    /// The body's length in characters.
    pub chars: usize,
    pub upserted: Upserted,
}

/// Post or edit the plan comment of a pull request.
pub async fn comment(req: &CommentRequest<'_>) -> anyhow::Result<Commented> {
    let path = req.root.join(&req.plan);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the plan file `{}`", path.display()))?;
    let plan_file = req.plan.display().to_string();
    let plan = plan::read_plan(&plan_file, &text)?;
    let label = match &req.label {
        Some(l) => check_label(l)?,
        None => default_label(&plan),
    };
    let body = comment_body(
        &plan,
        &plan_file,
        &req.repo,
        req.pr,
        &label,
        req.run_link.as_deref(),
    );
    let issues = Issues::new(req.creds, req.creds.http()).context("`sophia comment` writes to GitHub: set GITHUB_TOKEN (in a workflow, `${{ github.token }}` with `pull-requests: write`) or SOPHIA_REPORT_TOKEN")?;
    let upserted = issues
        .upsert_comment(&req.repo, req.pr, &marker(&req.repo, req.pr, &label), &body)
        .await
        .with_context(|| format!("upserting the plan comment on {}#{}", req.repo, req.pr))?;
    Ok(Commented {
        plan_digest: plan.digest,
        label,
        chars: body.chars().count(),
        upserted,
    })
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
        Err(crate::hinted!(
            hint = "use letters, digits and `._,/:-` (no spaces, no `--`), e.g. `fly` or \
                    `fly.app.sophiaai-dashboard-v2`",
            "`--target-label {label}` is not a label"
        ))
    }
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
