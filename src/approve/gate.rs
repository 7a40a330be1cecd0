//! The gate on a repository: read the plan file, `.infra/sophia.toml`,
//! `.infra/allowed_signers` and the signature files, then [`verify_approval`] them; then
//! check that the policy that judged the plan is unchanged ([`crate::policy::check_fresh`]).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use super::verify::verify_approval;
use super::{
    ALLOWED_SIGNERS_PATH, AllowedSigners, Approval, ApprovalError, Evidence, Settings,
    SignatureFile, settings,
};
use crate::core::plan::Plan;
use crate::identity;

/// What `verify` and `apply` are given on the command line.
#[derive(Debug, Clone, Default)]
pub struct GateOptions {
    /// The plan file.
    pub plan: PathBuf,
    /// `--signature` files; empty: `PLAN.sig` and `PLAN.sig.*` next to the plan.
    pub signatures: Vec<PathBuf>,
    /// `--approve sha256:…`.
    pub approve: Option<String>,
}

/// An approved plan, with the bytes it was read from.
#[derive(Debug, Clone)]
pub struct Gated {
    pub plan: Plan,
    pub plan_bytes: Vec<u8>,
    pub approval: Approval,
}

/// Read a plan file: its bytes and the plan they hold (errors name `file:line:column`).
pub fn read_plan(path: &Path) -> anyhow::Result<(Vec<u8>, Plan)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading `{}`", path.display()))?;
    let plan = serde_json::from_slice::<Plan>(&bytes).map_err(|e| {
        let message = e.to_string();
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        crate::hinted!(
            hint = "plan files are written by `sophia plan --out plan.json` and must not be edited",
            "{}:{}:{}: not a sophia plan file: {message}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    // One digest, one plan: integers a double cannot hold are refused (core::number).
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("reading `{}`", path.display()))?;
    crate::core::number::check_json(&value).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}\n  hint: plan files are written by `sophia plan --out plan.json` and must not be edited",
            path.display()
        )
    })?;
    Ok((bytes, plan))
}

/// Read `.infra/sophia.toml` (absent: the defaults).
pub fn read_settings(root: &Path) -> anyhow::Result<Settings> {
    let path = root.join(settings::SETTINGS_PATH);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Settings::parse(settings::SETTINGS_PATH, &text)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(e).with_context(|| format!("reading `{}`", path.display())),
    }
}

/// Read `.infra/allowed_signers` (absent: `None`).
pub fn read_allowed_signers(root: &Path) -> anyhow::Result<Option<AllowedSigners>> {
    let path = root.join(ALLOWED_SIGNERS_PATH);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(AllowedSigners::parse(ALLOWED_SIGNERS_PATH, &text)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading `{}`", path.display())),
    }
}

/// The warnings for the lines of `.infra/allowed_signers` that are skipped (as ssh-keygen
/// skips them), for the command to print on stderr before it runs the gate. Reading or
/// parsing errors give none here: the gate reports them.
pub fn allowed_signers_warnings(root: &Path) -> Vec<String> {
    match read_allowed_signers(root) {
        Ok(Some(allowed)) => allowed.warnings(),
        _ => Vec::new(),
    }
}

/// The signature files of a plan: the given ones, or `PLAN.sig` and `PLAN.sig.*` (sorted)
/// next to it.
pub fn signature_paths(plan: &Path, given: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    let name = plan
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match plan.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let default = format!("{name}.sig");
    let extra = format!("{name}.sig.");
    let mut found = Vec::new();
    let entries =
        std::fs::read_dir(&dir).with_context(|| format!("reading `{}`", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading `{}`", dir.display()))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if file == default || (file.starts_with(&extra) && file.len() > extra.len()) {
            found.push(plan.with_file_name(file));
        }
    }
    found.sort();
    Ok(found)
}

/// The whole gate on a repository: read the plan, the settings, the allowed signers and the
/// signatures, and [`verify_approval`] at `now`. A refusal is an [`ApprovalError`] inside
/// the returned error (`err.downcast_ref::<ApprovalError>()`).
pub fn gate(root: &Path, options: &GateOptions, now: DateTime<Utc>) -> anyhow::Result<Gated> {
    let plan_path = root.join(&options.plan);
    let (plan_bytes, plan) = read_plan(&plan_path)?;
    let settings = read_settings(root)?;
    let allowed = read_allowed_signers(root)?;
    let given: Vec<PathBuf> = options.signatures.iter().map(|p| root.join(p)).collect();
    let mut signatures = Vec::new();
    for path in signature_paths(&plan_path, &given)? {
        let bytes =
            std::fs::read(&path).with_context(|| format!("reading `{}`", path.display()))?;
        signatures.push(SignatureFile {
            name: shown(root, &path),
            bytes,
        });
    }
    let evidence = Evidence {
        signatures,
        approve_digest: options.approve.clone(),
    };
    // The build that planned is the build that applies (once the digest says the recorded
    // build is the plan's own).
    if crate::core::digest::plan_digest(&plan) == plan.digest && !identity::made_here(&plan) {
        return Err(ApprovalError::OtherBuild {
            planned: identity::plan_build(&plan),
            this: identity::this_build(),
        }
        .into());
    }
    let approval = verify_approval(
        &plan_bytes,
        &plan,
        &evidence,
        allowed.as_ref(),
        &settings,
        now,
    )
    .map_err(|e| match e {
        ApprovalError::NoSignature { .. } => ApprovalError::NoSignature {
            expected: format!("{}.sig", shown(root, &plan_path)),
        },
        other => other,
    })?;
    // The policy that judged the plan is the policy now (files only, before any provider
    // call): a policy edited since would have judged another plan.
    crate::policy::check_fresh(root, &plan)?;
    Ok(Gated {
        plan,
        plan_bytes,
        approval,
    })
}

/// A path for messages: relative to the repository root when under it.
pub fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
