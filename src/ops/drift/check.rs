//! What a drift check finds: the desired state planned against live state. Pure.

use std::time::Instant;

use serde_json::json;

use crate::core::desired::Desired;
use crate::core::digest;
use crate::core::envelope::Envelope;
use crate::core::lifecycle::{self, Lifecycle};
use crate::core::live::LiveSnapshot;
use crate::core::plan::{self, Change, Plan, PlanOptions};

/// What one drift check found.
#[derive(Debug, Clone)]
pub struct Drift {
    /// The desired state planned against live state: its changes are the drift.
    pub plan: Plan,
    /// `sha256:` of the canonical JSON of the changes; `None` when there are none.
    pub digest: Option<String>,
    /// When the check ran (RFC 3339, UTC).
    pub checked_at: String,
}

impl Drift {
    pub fn has_drift(&self) -> bool {
        self.digest.is_some()
    }
}

/// Plan `desired` against `live` with `opts`: the drift.
pub fn check(desired: &Desired, live: &LiveSnapshot, opts: &PlanOptions) -> anyhow::Result<Drift> {
    check_with(desired, live, opts, &Lifecycle::default())
}

/// [`check`] knowing the managed set, the inventory and the ignore globs: retired managed
/// resources are drift (their delete is pending); unmanaged ones are listed, never drift.
pub fn check_with(
    desired: &Desired,
    live: &LiveSnapshot,
    opts: &PlanOptions,
    lifecycle: &Lifecycle,
) -> anyhow::Result<Drift> {
    let plan = plan::build_with(desired, live, opts, lifecycle)?;
    Ok(Drift {
        digest: (!plan.changes.is_empty()).then(|| drift_digest(&plan.changes)),
        checked_at: plan::rfc3339(opts.created_at),
        plan,
    })
}

/// The drift digest: `sha256:` of the canonical JSON of the changes.
pub fn drift_digest(changes: &[Change]) -> String {
    digest::sha256_canonical(&changes)
}

/// The normalized envelope of a drift check (the proof's content, and `--json`'s output);
/// `started` is when the check started.
pub fn envelope(drift: &Drift, started: Instant) -> Envelope {
    let plan = &drift.plan;
    let text = match &drift.digest {
        Some(_) => format!(
            "drift: {} change(s) between the desired state and live state",
            plan.changes.len()
        ),
        None => "no drift: live state matches the desired state".to_string(),
    };
    Envelope::success(
        "drift",
        vec![json!({
            "drift": drift.has_drift(),
            "drift_digest": drift.digest,
            "desired_digest": plan.desired.digest,
            "summary": plan.summary,
            "changes": plan.changes,
            "unmanaged": plan.unmanaged.iter().map(|a| json!({
                "address": a,
                "import": lifecycle::import_command(a),
            })).collect::<Vec<_>>(),
        })],
        text,
        drift.checked_at.clone(),
        started.elapsed().as_millis() as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::plan::{DEFAULT_TTL, plan_options};

    /// The options of a check at `now` (from a directory outside any repository).
    fn at(now: &str) -> PlanOptions {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = plan_options(dir.path(), DEFAULT_TTL, Vec::new()).unwrap();
        opts.created_at = now.parse().unwrap();
        opts
    }

    #[test]
    fn the_same_drift_has_the_same_digest_whenever_it_is_checked() {
        let desired = crate::core::desired::load(&[crate::core::desired::Source {
            path: "desired/main.yaml".into(),
            text: "fly:\n  org: pay-ready\n  apps:\n    app-a:\n      count: 1\n".into(),
        }])
        .unwrap();
        let live = LiveSnapshot::new("2026-01-02T03:04:05Z");
        let a = check(&desired, &live, &at("2026-01-02T03:04:05Z")).unwrap();
        let b = check(&desired, &live, &at("2027-06-07T08:09:10Z")).unwrap();
        assert!(a.digest.is_some());
        assert_eq!(a.digest, b.digest);
        assert_ne!(
            a.plan.digest, b.plan.digest,
            "the plan digest covers the time"
        );
        assert_eq!(a.checked_at, "2026-01-02T03:04:05Z");
    }
}
