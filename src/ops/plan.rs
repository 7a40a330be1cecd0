//! `sophia plan`: the desired state against live state → a digested plan, judged by the
//! repository's policy ([`crate::policy::judge`]), written atomically to `out` (nothing is
//! written on any error — a policy `deny` included — nor when a provider could not be read).
//!
//! [`plan_options`] is the one place a plan's options are decided — the tool version, the
//! time, how long the plan stays valid, a fresh nonce, the commit of the desired state and
//! whether `desired/` has uncommitted changes (`desired.git_dirty`), the price table the
//! plan's cost comes from (`.infra/prices/fly.toml`, [`read_prices`]) — for `plan`, `drift`,
//! the demo and the front door's targeted plans alike.
//!
//! `--ttl` is capped by `[policy] max_ttl` of `.infra/sophia.toml` (default 7 days,
//! [`crate::approve::settings::DEFAULT_MAX_TTL`]): a longer request fails before anything is
//! read, and `verify`/`apply` refuse a plan made with a longer validity.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use super::notify::{self, Notified};
use super::refresh::{load_snapshot, read_live_plus};
use crate::core::cost::{self, PRICES_PATH, Prices};
use crate::core::desired::{Activation, ProviderName};
use crate::core::envelope::EnvelopeError;
use crate::core::plan::{self, Plan, PlanOptions};
use crate::providers::{Credentials, SecretSource};

/// How long a plan stays valid unless `--ttl` says otherwise: a working day to have it
/// reviewed and signed, short enough that live state has rarely moved under it.
pub const DEFAULT_TTL: Duration = Duration::from_secs(plan::DEFAULT_TTL_HOURS as u64 * 3600);

/// The options of a plan made now from the repository at `root`: valid for `ttl`, limited to
/// `targets` (none: everything), with a fresh nonce (two plans of the same state still
/// differ, so a signature approves one plan only) and the commit the desired state comes
/// from.
pub fn plan_options(
    root: &Path,
    ttl: Duration,
    targets: Vec<String>,
) -> anyhow::Result<PlanOptions> {
    let git_commit = git_commit(root);
    Ok(PlanOptions {
        tool_version: crate::identity::VERSION.to_string(),
        tool_source: crate::identity::SOURCE_DIGEST.to_string(),
        created_at: chrono::Utc::now(),
        ttl: chrono::Duration::from_std(ttl).context("`--ttl` is too long")?,
        nonce: hex::encode(rand::random::<[u8; 16]>()),
        git_dirty: git_commit.is_some() && desired_is_dirty(root),
        git_commit,
        targets,
        prices: read_prices(root)?,
    })
}

/// The repository's price table (`.infra/prices/fly.toml`); `None` when it has none (the
/// plan then carries no cost). A table that cannot be read or parsed is an error: a plan
/// never shows a cost from a table it misread.
pub fn read_prices(root: &Path) -> anyhow::Result<Option<Prices>> {
    let path = root.join(PRICES_PATH);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(cost::prices::parse(PRICES_PATH, &text)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading `{}`", path.display())),
    }
}

/// Refuse a `--ttl` beyond the repository's cap (`[policy] max_ttl`).
pub fn check_ttl(root: &Path, ttl: Duration) -> anyhow::Result<()> {
    let max = crate::approve::gate::read_settings(root)?.policy.max_ttl();
    if ttl > max {
        anyhow::bail!(
            "`--ttl {}` is longer than plans may be valid here: at most {} (`[policy] max_ttl` \
             of .infra/sophia.toml, default 7d)\n  hint: use a shorter `--ttl` (the default is \
             24h); an approved plan can be applied until it expires, so raise `max_ttl` only \
             with the approvers' agreement",
            humantime::format_duration(ttl),
            humantime::format_duration(max)
        );
    }
    Ok(())
}

/// The default time to live, within the repository's cap (for plans made without `--ttl`).
pub fn default_ttl(root: &Path) -> anyhow::Result<Duration> {
    let max = crate::approve::gate::read_settings(root)?.policy.max_ttl();
    Ok(DEFAULT_TTL.min(max))
}

/// Whether `desired/` differs from the commit: modified, staged, deleted or untracked
/// files under it (`git status --porcelain`). Without git, nothing is known: `false`.
fn desired_is_dirty(root: &Path) -> bool {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "status",
            "--porcelain",
            "--untracked-files=all",
            "--",
            "desired",
        ])
        .stderr(std::process::Stdio::null())
        .output();
    match out {
        Ok(out) if out.status.success() => !out.stdout.is_empty(),
        _ => false,
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

/// What `sophia plan` is asked.
pub struct PlanRequest<'a> {
    /// The repository root.
    pub root: &'a Path,
    /// Read live state with these (unless `live` is given).
    pub creds: &'a Credentials,
    /// Where the secrets apply will send are looked for, to warn about missing ones.
    pub secrets: &'a dyn SecretSource,
    /// Plan against this live snapshot file (relative to the root) instead of the providers.
    pub live: Option<PathBuf>,
    pub ttl: Duration,
    /// `--target` addresses (none: everything).
    pub targets: Vec<String>,
    /// Write the plan file here (relative to the root).
    pub out: Option<PathBuf>,
}

/// What `sophia plan` made.
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: Plan,
    /// Images planned by tag: a plan from a snapshot that holds no digest for them.
    pub unpinned: Vec<crate::core::image::Unresolved>,
    /// The secrets `sophia apply` will send that are not set here (names only).
    pub missing_secrets: Vec<String>,
    /// Weaknesses of the environment that runs apply, once the plan is applied
    /// ([`crate::core::plan::apply_gate`]).
    pub gate_warnings: Vec<String>,
    /// The providers that could not be read. Their resources are left out of the plan (they
    /// would look absent and be proposed for creation), and when any is, no plan file was
    /// written and nobody was notified.
    pub unread: Vec<EnvelopeError>,
    /// The Slack notification (a plan with changes only).
    pub notified: Notified,
    /// Where the plan file was written (the root joined with `out`).
    pub written: Option<PathBuf>,
}

/// Plan the desired state at `req.root` against live state.
pub async fn plan(req: &PlanRequest<'_>) -> anyhow::Result<Planned> {
    check_ttl(req.root, req.ttl)?;
    let mut desired = crate::workspace::load_desired(req.root)?;
    let (lifecycle, ledger) =
        super::lifecycle::load_with_ledger(req.root, &desired, req.creds, req.live.is_none())
            .await?;
    let retired = crate::core::lifecycle::retired_from(&desired, &lifecycle.managed);
    let (live, unread) = match &req.live {
        Some(path) => (
            load_snapshot(&req.root.join(path), &path.display().to_string())?,
            Vec::new(),
        ),
        None => read_live_plus(req.root, &desired, req.creds, &retired, ledger.as_ref()).await?,
    };
    // A snapshot made by `refresh` holds the digest of every tag; one without (hand-written,
    // or older) plans those images by tag, and says so: planning from a snapshot needs no
    // credentials, so nothing can be resolved here.
    let unpinned = if req.live.is_some()
        && desired
            .managed()
            .contains(&(ProviderName::Fly, Activation::Active))
    {
        crate::core::image::unresolved(&desired, &live.images)
    } else {
        Vec::new()
    };
    for e in &unread {
        if let Some(p) = ProviderName::parse(&e.provider) {
            desired.forget(p);
        }
    }
    let opts = plan_options(req.root, req.ttl, req.targets.clone())?;
    let mut plan = plan::build_with(&desired, &live, &opts, &lifecycle)?;
    // The policy judges a whole plan: not one that leaves unread providers out (that plan is
    // reported, never written). A `deny` fails here, before anything is written or sent.
    if unread.is_empty() {
        crate::policy::judge(req.root, &mut plan, &desired)?;
    }
    // DESIGN.md: plan warns about the secrets apply will send that are not set here (apply
    // refuses to start without them).
    let missing_secrets = crate::apply::missing_secrets(&plan, req.secrets);
    let apply_env = crate::approve::gate::read_settings(req.root)?
        .apply_environment
        .unwrap_or_else(|| crate::core::plan::apply_gate::DEFAULT_APPLY_ENVIRONMENT.into());
    let gate_warnings = crate::core::plan::apply_gate::warnings(
        &crate::core::lower::lower(&crate::core::plan::apply_gate::scope(&desired, &apply_env)),
        &live,
        &apply_env,
    );
    let mut planned = Planned {
        plan,
        unpinned,
        missing_secrets,
        gate_warnings,
        unread,
        notified: Notified::Nothing,
        written: None,
    };
    if !planned.unread.is_empty() {
        return Ok(planned);
    }
    if planned.plan.has_changes() {
        let (p, s) = (&planned.plan, &planned.plan.summary);
        let text = format!(
            "sophia plan {}: {} to create, {} to update, {} to delete, {} to replace",
            p.digest, s.create, s.update, s.delete, s.replace
        );
        planned.notified = notify::slack(&desired, req.creds, &text).await;
    }
    if let Some(out) = &req.out {
        let path = req.root.join(out);
        // Streamed to the file: a large plan is not held a second time as text.
        crate::proofs::atomic::write_atomic_with(&path, |w| {
            crate::core::render::json::write(&planned.plan, w)
        })?;
        planned.written = Some(path);
    }
    Ok(planned)
}
