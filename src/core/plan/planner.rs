//! The planner: desired state + live snapshot + what the shell supplies (clock, nonce,
//! version, targets) → a digested [`Plan`]. Pure.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::types::{DesiredRef, PLAN_FORMAT, Plan, PlanSummary, rfc3339};
use crate::core::address::Address;
use crate::core::cost::{self, Prices};
use crate::core::dag;
use crate::core::desired::Desired;
use crate::core::diff::{self, DiffError};
use crate::core::digest;
use crate::core::graph::{self, GraphError};
use crate::core::lifecycle::{self, Lifecycle, ProtectedError};
use crate::core::live::{LIVE_FORMAT, LiveSnapshot};
use crate::core::lower;

/// How long a plan stays valid by default: DESIGN.md, "`not_after` defaults to 24 hours
/// after `created_at`" — long enough for an approver in another time zone to sign it, short
/// enough that live state has rarely moved on.
pub const DEFAULT_TTL_HOURS: i64 = 24;

/// What the shell supplies to the pure planner.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub tool_version: String,
    /// `sha256:` of the source tree of the build that plans.
    pub tool_source: String,
    pub created_at: DateTime<Utc>,
    pub ttl: chrono::Duration,
    /// Random, from the shell: two plans of the same state still differ, so a signature
    /// approves one plan only.
    pub nonce: String,
    pub git_commit: Option<String>,
    /// Whether `desired/` differs from `git_commit` (uncommitted changes).
    pub git_dirty: bool,
    /// `--target` addresses (or address prefixes such as `fly.app.x`).
    pub targets: Vec<String>,
    /// The price table (`.infra/prices/fly.toml`), when the repository has one: the plan
    /// then records its cost ([`crate::core::cost`]).
    pub prices: Option<Prices>,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the live snapshot has format `{found}`, expected `{LIVE_FORMAT}`")]
    LiveFormat { found: String },
    #[error("`--target {target}` matches no resource of the desired or live state")]
    UnknownTarget {
        target: String,
        suggestion: Option<String>,
    },
    #[error(transparent)]
    Diff(#[from] DiffError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Protected(#[from] ProtectedError),
}

/// The digest of a desired state: SHA-256 of the canonical JSON of its lowered form, so it
/// does not depend on key order, file order or how the state is split across files.
pub fn desired_digest(desired: &Desired) -> String {
    digest::sha256_canonical_map(&lower::lower(desired))
}

/// Plan `desired` against `live`, with nothing managed yet (no deletes, no unmanaged list).
/// Pure: the clock, nonce and version come in `opts`. Each desired image tag that
/// `live.images` resolves is planned by its digest ([`crate::core::image::planned`]).
pub fn build(
    desired: &Desired,
    live: &LiveSnapshot,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    build_with(desired, live, opts, &Lifecycle::default())
}

/// Plan `desired` against `live` knowing the managed set, the live inventory and the
/// ignore globs: retired managed addresses plan a `delete`, a delete or replace of a
/// protected address fails the plan ([`PlanError::Protected`]), and the unmanaged
/// resources are listed. Pure.
pub fn build_with(
    desired: &Desired,
    live: &LiveSnapshot,
    opts: &PlanOptions,
    lifecycle: &Lifecycle,
) -> Result<Plan, PlanError> {
    if live.format != LIVE_FORMAT {
        return Err(PlanError::LiveFormat {
            found: live.format.clone(),
        });
    }
    // Lowered one unit (an app, a repository…) at a time; each object is digested, compared
    // with live, asked what secret names it retires or leaves unmanaged, and let go as it
    // comes (issue 20: the whole expected state of 100,000 resources cost more memory than
    // anything else a plan holds). What stays of it is its outline ([`lower::outline`]): all
    // the lifecycle reads of it. The desired digest is of desired/ alone, before anything is retired.
    // Gathered, then built in one go (a B-tree built from sorted entries has full nodes).
    let mut outline = Vec::new();
    let mut desired_digest = digest::CanonicalMap::default();
    let mut differ = diff::Differ::default();
    let mut secret_names = Vec::new();
    let mut retiring = lifecycle::secrets::Retiring::new();
    let mut look = |address: &Address, want: &serde_json::Value| {
        if let Some(set) = &lifecycle.secrets_set {
            secret_names.extend(lifecycle::secrets::unmanaged_at(address, want, live, set));
            if let Some(r) = lifecycle::secrets::retiring_at(address, want, live, set) {
                retiring.insert(address.clone(), r);
            }
        }
    };
    // Images by digest: every tag the live state resolved is planned as `name@sha256:…`,
    // pinned as each app is lowered (not by a copy of the desired state).
    lower::lower_each(desired, &live.images, |unit| {
        for (address, want) in unit {
            desired_digest.add(&address, &want);
            look(&address, &want);
            let kept = lower::outline_of(&want);
            differ.push(&address, want, live);
            outline.push((address, kept));
        }
    });
    let expected: lower::Expected = outline.into_iter().collect();
    for target in &opts.targets {
        let known = expected
            .keys()
            .chain(live.resources.keys())
            .any(|a| a.is_under(target));
        if !known {
            let suggestion = expected
                .keys()
                .map(|a| a.to_string())
                .map(|a| (strsim::jaro_winkler(&a, target), a))
                .filter(|(score, _)| *score > 0.85)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, a)| a);
            return Err(PlanError::UnknownTarget {
                target: target.clone(),
                suggestion,
            });
        }
    }
    let roots = lifecycle::protected_roots(desired);
    let protect = lifecycle::protect_flags(&expected, &roots, &lifecycle.managed);
    let names = lifecycle::protected_names(desired);
    let protect_names = lifecycle::protect_name_flags(&expected, &names, &lifecycle.managed);
    let unmanaged = lifecycle::unmanaged_with(lifecycle, &expected, &secret_names);
    let desired_digest = desired_digest.finish();
    // The retired addresses are then expected gone (a Fly app's secrets list, while the app
    // stays: empty, so that sophia's names in it retire), and compared too.
    let retired = lifecycle::retired(desired, &expected, &lifecycle.managed);
    for a in retired {
        let gone =
            lifecycle::secrets::retired_list(&a, &expected).unwrap_or(serde_json::Value::Null);
        if let Some(set) = &lifecycle.secrets_set
            && let Some(r) = lifecycle::secrets::retiring_at(&a, &gone, live, set)
        {
            retiring.insert(a.clone(), r);
        }
        differ.push(&a, gone, live);
    }
    drop(expected);
    let mut changes = differ.finish()?;
    let unsets = lifecycle::secrets::retire(&mut changes, retiring, live);
    let mut actions = graph::build(&changes, desired, live)?;
    let mut targets = opts.targets.clone();
    targets.sort();
    targets.dedup();
    if !targets.is_empty() {
        actions = dag::select(&actions, &targets);
        let acted: BTreeSet<&Address> = actions.iter().map(|a| &a.address).collect();
        changes.retain(|c| {
            acted.contains(&c.address) || targets.iter().any(|t| c.address.is_under(t))
        });
    }
    lifecycle::check_protection(&changes, &unsets, &roots, &names, &lifecycle.managed)?;
    let touched: BTreeSet<&Address> = changes
        .iter()
        .map(|c| &c.address)
        .chain(actions.iter().map(|a| &a.address))
        .collect();
    let live_fingerprints = touched
        .into_iter()
        .map(|a| {
            (
                a.clone(),
                digest::sha256_canonical_value(live.get(a).unwrap_or(&serde_json::Value::Null)),
            )
        })
        .collect();
    let mut plan = Plan {
        format: PLAN_FORMAT.to_string(),
        tool_version: opts.tool_version.clone(),
        tool_source: opts.tool_source.clone(),
        created_at: rfc3339(opts.created_at),
        not_after: rfc3339(opts.created_at + opts.ttl),
        nonce: opts.nonce.clone(),
        desired: DesiredRef {
            digest: desired_digest,
            git_commit: opts.git_commit.clone(),
            git_dirty: opts.git_dirty,
        },
        live: live_fingerprints,
        summary: PlanSummary::of(&changes),
        changes,
        actions,
        targets,
        cost: None,
        protect,
        protect_names,
        unmanaged,
        // Judged by the shell (`crate::policy`), which reads the policy files.
        policy: None,
        digest: String::new(),
    };
    plan.cost = opts
        .prices
        .as_ref()
        .and_then(|p| cost::estimate(p, live, &plan.changes));
    plan.digest = digest::plan_digest(&plan);
    Ok(plan)
}

impl crate::core::hint::Hint for PlanError {
    fn hint(&self) -> Option<String> {
        match self {
            PlanError::LiveFormat { .. } => {
                Some("write it with `sophia refresh --out live.json`".to_string())
            }
            PlanError::UnknownTarget { suggestion, .. } => {
                suggestion.as_ref().map(|s| format!("did you mean `{s}`?"))
            }
            PlanError::Diff(e) => crate::core::hint::Hint::hint(e),
            PlanError::Graph(e) => crate::core::hint::Hint::hint(e),
            PlanError::Protected(e) => crate::core::hint::Hint::hint(e),
        }
    }
}

/// Fixed options for unit tests: a plan made of them is the same every time.
#[cfg(test)]
pub(crate) fn test_options() -> PlanOptions {
    PlanOptions {
        tool_version: "0".into(),
        tool_source: "sha256:0".into(),
        created_at: chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .into(),
        ttl: chrono::Duration::hours(1),
        nonce: "n".into(),
        git_commit: None,
        git_dirty: false,
        targets: Vec::new(),
        prices: None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::core::image;
    use crate::core::lifecycle::ManagedEntry;

    fn a(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    fn entry() -> ManagedEntry {
        ManagedEntry {
            first: "sha256:1".into(),
            last: "sha256:1".into(),
            protect: false,
            protect_names: Default::default(),
        }
    }

    /// The planner as it was before it lowered unit by unit (issue 20): the whole expected
    /// state, digested, the retired addresses put in, diffed at once.
    fn whole(
        desired: &Desired,
        live: &LiveSnapshot,
        lifecycle: &Lifecycle,
    ) -> (String, Vec<crate::core::plan::types::Change>) {
        let desired = &image::pin(desired, &live.images);
        let mut expected = lower::lower(desired);
        let digest = digest::sha256_canonical_map(&expected);
        for a in lifecycle::retired(desired, &expected, &lifecycle.managed) {
            let gone = lifecycle::secrets::retired_list(&a, &expected);
            expected.insert(a, gone.unwrap_or(Value::Null));
        }
        let retiring = match &lifecycle.secrets_set {
            Some(set) => expected
                .iter()
                .filter_map(|(a, want)| {
                    Some((
                        a.clone(),
                        lifecycle::secrets::retiring_at(a, want, live, set)?,
                    ))
                })
                .collect(),
            None => Default::default(),
        };
        let mut changes = diff::diff(&expected, live).unwrap();
        lifecycle::secrets::retire(&mut changes, retiring, live);
        (digest, changes)
    }

    #[test]
    fn planning_unit_by_unit_is_planning_the_whole_expected_state() {
        // `x-y` sorts between `fly.app.x` and `fly.app.x.machines` as a string: the digest
        // orders members by string, not unit by unit.
        let desired: Desired = serde_yaml::from_str(
            r#"
providers: { fly: active, github: active, qdrant: active, redis: active, context_db: active }
fly:
  org: o
  apps:
    x: { image: "i:1", count: 2, regions: [ord], secrets: [A, B], env: { K: v } }
    x-y: { image: "i:2", secrets: [A] }
    z: { image: "i:3", processes: { web: "run", worker: "work" } }
github:
  orgs: { acme: { rulesets: { base: { target: branch, enforcement: active, rules: [{ type: deletion }] } } } }
  repos:
    acme/app:
      branches: { main: { protection: { enforce_admins: true } } }
      actions_secrets: [S1, S2]
      environments: { production: { reviewers: [{ type: User, login: ceo }], secrets: [E1] } }
qdrant: { collections: { docs: { size: 1536, distance: Cosine } } }
redis: { config: { maxmemory-policy: allkeys-lru } }
context_db: { extensions: [vector], schemas: [app] }
"#,
        )
        .unwrap();
        let mut live = LiveSnapshot::new("2026-01-01T00:00:00Z");
        for (address, mut value) in lower::lower(&desired) {
            match address.to_string().as_str() {
                "fly.app.x.machines" => value["count"] = json!(1),
                "fly.app.x.secrets" => value["names"] = json!(["A", "B", "C", "D"]),
                "fly.app.x-y" | "fly.app.x-y.machines" | "qdrant.collection.docs" => continue,
                "github.repo.acme/app.environment.production" => {
                    value["secrets"] = json!(["E1", "E2"])
                }
                _ => {}
            }
            live.resources.insert(address, value);
        }
        // `i:1` resolves (pinned as it is lowered), `i:2` does not (planned by its tag).
        live.images
            .insert("i:1".into(), format!("sha256:{}", "a".repeat(64)));
        for gone in [
            "fly.app.gone",
            "fly.app.gone.machines",
            "github.repo.acme/app.secret.OLD",
        ] {
            live.resources.insert(a(gone), json!({}));
        }
        let lifecycle = Lifecycle {
            managed: [
                "fly.app.gone",
                "github.repo.acme/app.secret.OLD",
                "fly.app.x",
            ]
            .into_iter()
            .map(|s| (a(s), entry()))
            .collect(),
            secrets_set: Some(
                [
                    (a("fly.app.x.secrets"), ["C".to_string()].into()),
                    (
                        a("github.repo.acme/app.environment.production"),
                        ["E2".to_string()].into(),
                    ),
                ]
                .into(),
            ),
            ..Lifecycle::default()
        };
        let plan = build_with(&desired, &live, &test_options(), &lifecycle).unwrap();
        let (digest, changes) = whole(&desired, &live, &lifecycle);
        assert_eq!(plan.desired.digest, digest);
        assert_eq!(
            plan.desired.digest,
            desired_digest(&image::pin(&desired, &live.images))
        );
        assert_eq!(
            plan.changes[4].after["image"],
            json!(format!("i@sha256:{}", "a".repeat(64)))
        );
        assert_eq!(plan.changes, changes);
        // Every kind of change is in it: creates, updates, retirements, unsets.
        let shown: Vec<String> = plan
            .changes
            .iter()
            .map(|c| format!("{} {:?}", c.address, c.action))
            .collect();
        assert_eq!(
            shown,
            [
                "fly.app.gone Delete",
                "fly.app.gone.machines Delete",
                "fly.app.x-y Create",
                "fly.app.x-y.machines Create",
                "fly.app.x.machines Update",
                "fly.app.x.secrets Update",
                "github.repo.acme/app.environment.production Update",
                "github.repo.acme/app.secret.OLD Delete",
                "qdrant.collection.docs Create",
            ]
        );
    }

    #[test]
    fn of_several_org_moves_the_first_address_is_refused() {
        let desired: Desired =
            serde_yaml::from_str("fly: { org: o, apps: { b: { image: i }, a: { image: i } } }")
                .unwrap();
        let mut live = LiveSnapshot::new("2026-01-01T00:00:00Z");
        for app in ["a", "b"] {
            live.resources
                .insert(a(&format!("fly.app.{app}")), json!({ "org": "other" }));
        }
        let err = build(&desired, &live, &test_options()).unwrap_err();
        assert!(err.to_string().starts_with("`fly.app.a` belongs"), "{err}");
    }
}
