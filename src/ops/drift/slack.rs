//! Drift to Slack: when Slack is active, a drift check posts one message per **new** drift
//! digest — a check that finds the same drift as the check before it posts nothing again.
//! The previous digest is read from the journal: the proof of the last drift check that read
//! every provider (`proofs/drift/<stamp>.json`, its `drift_digest`).
//!
//! The message names what drifted — addresses and attribute paths, never a value — with the
//! security-relevant changes first: branch protection, rulesets (who may bypass them),
//! secrets, and who has access to a repository.

use std::fmt::Write as _;

use crate::backend::Backend;
use crate::core::address::Address;
use crate::core::desired::Desired;
use crate::core::plan::Change;
use crate::core::render::change_symbol;
use crate::ops::drift::Drift;
use crate::ops::notify::{self, Notified};
use crate::proofs::RelPath;
use crate::providers::Credentials;

/// Changes listed in one message; the rest are counted.
const MAX_LISTED: usize = 30;
/// Attribute paths named per change.
const MAX_PATHS: usize = 6;

/// The drift digest of the last check recorded before now that read every provider (`None`:
/// no such check, or it found no drift). Unreadable records count as no previous digest: a
/// message too many is better than a drift nobody hears of.
pub async fn previous_digest(backend: &Backend) -> Option<String> {
    let journal = backend.journal().await.ok()?;
    let last = journal
        .iter()
        .rev()
        .find(|r| r.kind == "drift" && (r.status == "drift" || r.status == "clean"))?;
    if last.status == "clean" {
        return None;
    }
    let rel = RelPath::parse(last.proof.as_deref()?).ok()?;
    let bytes = backend.proofs().read(&rel).ok()?;
    let proof: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    proof["results"][0]["drift_digest"]
        .as_str()
        .map(str::to_string)
}

/// Post the drift to Slack when it is new (its digest is not `previous`).
pub async fn notify_new(
    desired: &Desired,
    creds: &Credentials,
    drift: &Drift,
    previous: Option<&str>,
) -> Notified {
    match &drift.digest {
        Some(d) if previous != Some(d.as_str()) => {
            notify::slack(desired, creds, &message(drift, d)).await
        }
        _ => Notified::Nothing,
    }
}

/// Why a change matters to security, if it does.
pub fn security_reason(change: &Change) -> Option<&'static str> {
    let touches = |prefix: &str| change.diff.iter().any(|d| d.path.starts_with(prefix));
    match &change.address {
        Address::GithubProtection { .. } => Some("branch protection"),
        Address::GithubRepoRuleset { .. } | Address::GithubOrgRuleset { .. } => {
            Some(if touches("bypass_actors") {
                "ruleset: who may bypass it"
            } else {
                "ruleset"
            })
        }
        Address::GithubSecret { .. } | Address::FlySecrets { .. } => Some("secrets"),
        Address::GithubEnvironment { .. } if touches("secrets") => Some("environment secrets"),
        Address::GithubEnvironment { .. } if touches("reviewers") => Some("environment reviewers"),
        Address::GithubCollaborator { .. } | Address::GithubTeam { .. } => {
            Some("repository access")
        }
        _ => None,
    }
}

/// The message: the count and digest, then one line per change (security-relevant first),
/// names and attribute paths only.
pub fn message(drift: &Drift, digest: &str) -> String {
    let changes = &drift.plan.changes;
    let (security, other): (Vec<&Change>, Vec<&Change>) =
        changes.iter().partition(|c| security_reason(c).is_some());
    let mut out = format!(
        "sophia drift: {} change(s) between the desired state and live state (drift digest {digest})\n",
        changes.len()
    );
    let mut listed = 0;
    for (heading, group) in [("Security-relevant:", &security), ("Other drift:", &other)] {
        if group.is_empty() || listed >= MAX_LISTED {
            continue;
        }
        let _ = writeln!(out, "{heading}");
        for c in group.iter().take(MAX_LISTED - listed) {
            let _ = writeln!(out, "• {}", line(c));
            listed += 1;
        }
    }
    if listed < changes.len() {
        let _ = writeln!(out, "… and {} more", changes.len() - listed);
    }
    out
}

/// `~ github.repo.o/r.branch.main.protection — branch protection (enforce_admins)`.
fn line(c: &Change) -> String {
    let mut paths: Vec<&str> = c.diff.iter().map(|d| d.path.as_str()).collect();
    paths.dedup();
    let mut named = paths
        .iter()
        .take(MAX_PATHS)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > MAX_PATHS {
        let _ = write!(named, ", … {} more", paths.len() - MAX_PATHS);
    }
    let reason = security_reason(c)
        .map(|r| format!(" — {r}"))
        .unwrap_or_default();
    let paths = if named.is_empty() {
        String::new()
    } else {
        format!(" ({named})")
    };
    format!("{} {}{reason}{paths}", change_symbol(c.action), c.address)
}
