//! What the action graph needs beyond the plan's changes ([`Facts`]), and where it comes
//! from: the desired state and live snapshot when planning ([`Facts::gather`]), the plan's
//! own actions when checking a plan ([`Facts::of_actions`]).
//!
//! Every action parameter follows from a change's `before`/`after` — images, counts,
//! regions, guests, env, secret names, protection bodies, reviewers, Redis values, Qdrant
//! vectors, the image a deploy replaces (`before.image`) — except these, which desired/
//! states beside its diffed objects (or live states outside the plan's fingerprints):
//!
//! - a Fly app's deploy `strategy` and `health` check;
//! - the tag a Fly app's image was resolved from (the plan deploys its digest);
//! - a Fly app's `depends_on` (the cross-app edges of the DAG);
//! - whether setting (or unsetting) an app's secrets restarts its running machines (live
//!   machine count);
//! - the router's routes (`provider.activate` of `router`).
//!
//! These facts are what the renderings show beside the changes ([`Facts::lines`]), so the
//! approver reads every input of every action; [`super::check`] re-derives the actions
//! from the changes and these facts, and refuses a plan whose actions differ.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::action_kind::ActionKind;
use super::types::{Action, ActionId};
use crate::core::address::Address;
use crate::core::desired::{Desired, Health, RouterDesired, Strategy};
use crate::core::image;
use crate::core::live::LiveSnapshot;

/// What one Fly app's actions take from desired/ beyond its diffed objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppFacts {
    pub strategy: Strategy,
    pub health: Option<Health>,
    /// Apps deployed before this one (direct dependencies).
    pub depends_on: BTreeSet<String>,
    /// The tag desired/ names, when the image is planned by the digest it resolved to: the
    /// approver reads both.
    pub image_tag: Option<String>,
}

/// The inputs of the action graph that are not in the plan's changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub apps: BTreeMap<String, AppFacts>,
    pub routes: Option<RouterDesired>,
    /// Apps with running machines (restarted when only their secrets change).
    pub running: BTreeSet<String>,
}

/// The Fly app an address belongs to.
pub fn fly_app(address: &Address) -> Option<&str> {
    match address {
        Address::FlyApp { app }
        | Address::FlySecrets { app }
        | Address::FlySecret { app, .. }
        | Address::FlyMachines { app }
        | Address::FlyProcess { app, .. }
        | Address::FlyIps { app }
        | Address::FlyVolume { app, .. } => Some(app),
        _ => None,
    }
}

impl Facts {
    /// The facts of a desired state and live snapshot (when planning).
    pub fn gather(desired: &Desired, live: &LiveSnapshot) -> Facts {
        let apps = desired
            .fly
            .iter()
            .flat_map(|f| &f.apps)
            .map(|(name, app)| {
                let facts = AppFacts {
                    strategy: app.strategy.unwrap_or_default(),
                    health: app.health.clone(),
                    depends_on: app.depends_on.iter().cloned().collect(),
                    // The desired state may be pinned already or not: pinning is idempotent.
                    image_tag: app.image.as_deref().and_then(|i| {
                        image::tag_of(&image::planned(i, &live.images), &live.images)
                    }),
                };
                (name.clone(), facts)
            })
            .collect();
        let running = live
            .resources
            .iter()
            .filter(|(_, m)| {
                m.get("count")
                    .and_then(Value::as_u64)
                    .is_some_and(|n| n > 0)
            })
            .filter_map(|(a, _)| match a {
                Address::FlyMachines { app } | Address::FlyProcess { app, .. } => Some(app.clone()),
                _ => None,
            })
            .collect();
        Facts {
            apps,
            routes: desired.router.clone(),
            running,
        }
    }

    /// The facts a plan's actions state. An action whose parameters cannot state them
    /// (an unknown strategy, a malformed health check) is an error naming it.
    pub fn of_actions(actions: &[Action]) -> Result<Facts, String> {
        let by_id: BTreeMap<&ActionId, &Action> = actions.iter().map(|a| (&a.id, a)).collect();
        let mut facts = Facts::default();
        let bad = |a: &Action, what: &str, e: serde_json::Error| {
            format!("`{}`: `params.{what}` is malformed: {e}", a.id)
        };
        // Health checks first: their `port` is what a secrets restart leaves out.
        let mut sorted: Vec<&Action> = actions.iter().collect();
        sorted.sort_by_key(|a| a.kind != ActionKind::FlyHealthCheck);
        for a in sorted {
            let Some(app) = fly_app(&a.address) else {
                if a.kind == ActionKind::ProviderActivate {
                    if let Some(routes) = a.params.get("routes") {
                        let routes = serde_json::from_value(routes.clone())
                            .map_err(|e| bad(a, "routes", e))?;
                        facts.routes = Some(routes);
                    }
                }
                continue;
            };
            let strategy = |facts: &mut Facts| -> Result<(), String> {
                if let Some(s) = a.params.get("strategy") {
                    let s = serde_json::from_value(s.clone()).map_err(|e| bad(a, "strategy", e))?;
                    facts.apps.entry(app.to_string()).or_default().strategy = s;
                }
                Ok(())
            };
            match a.kind {
                ActionKind::FlyMachinesUpdate => {
                    strategy(&mut facts)?;
                    if let Some(tag) = a.params.get("image_tag").and_then(Value::as_str) {
                        facts.apps.entry(app.to_string()).or_default().image_tag =
                            Some(tag.to_string());
                    }
                    let deps = a
                        .depends_on
                        .iter()
                        .filter_map(|d| by_id.get(d).and_then(|d| fly_app(&d.address)))
                        .filter(|d| *d != app)
                        .map(str::to_string);
                    let entry = facts.apps.entry(app.to_string()).or_default();
                    entry.depends_on.extend(deps);
                }
                ActionKind::FlyHealthCheck => {
                    let health =
                        serde_json::from_value(a.params.clone()).map_err(|e| bad(a, "", e))?;
                    facts.apps.entry(app.to_string()).or_default().health = Some(health);
                }
                ActionKind::FlySecretsSet | ActionKind::FlySecretsUnset
                    if a.params.get("restart_machines") == Some(&Value::Bool(true)) =>
                {
                    facts.running.insert(app.to_string());
                    let entry = facts.apps.entry(app.to_string()).or_default();
                    if entry.health.is_none() {
                        if let Some(h) = a.params.get("health") {
                            entry.health = Some(
                                serde_json::from_value(h.clone())
                                    .map_err(|e| bad(a, "health", e))?,
                            );
                        }
                    }
                    strategy(&mut facts)?;
                }
                _ => {}
            }
        }
        Ok(facts)
    }

    /// The facts of one app (defaults for an app desired/ does not describe).
    pub fn app(&self, name: &str) -> AppFacts {
        self.apps.get(name).cloned().unwrap_or_default()
    }

    /// The facts as lines for the renderings, one per app and one for the router, e.g.
    /// `fly.app.a: strategy rolling; health check GET /healthz (port 8080) expects 200;
    /// deployed after fly.app.b; restarts its running machines after setting secrets`.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, app) in &self.apps {
            let mut parts = Vec::new();
            if let Some(tag) = &app.image_tag {
                parts.push(format!("image `{tag}` (planned by its digest)"));
            }
            parts.push(format!("strategy `{}`", app.strategy.as_str()));
            if let Some(h) = &app.health {
                let port = h.port.map(|p| format!(" (port {p})")).unwrap_or_default();
                parts.push(format!(
                    "health check `GET {}`{port} expects {}",
                    h.path, h.expect_status
                ));
            }
            if !app.depends_on.is_empty() {
                let deps: Vec<String> = app
                    .depends_on
                    .iter()
                    .map(|d| format!("`fly.app.{d}`"))
                    .collect();
                parts.push(format!("deployed after {}", deps.join(", ")));
            }
            if self.running.contains(name) {
                parts.push("restarts its running machines after setting secrets".into());
            }
            out.push(format!("`fly.app.{name}`: {}", parts.join("; ")));
        }
        if let Some(r) = &self.routes {
            let fallbacks: Vec<String> = r.fallbacks.iter().map(|f| format!("`{f}`")).collect();
            out.push(format!(
                "`provider.router`: routes through `{}`{}",
                r.primary,
                if fallbacks.is_empty() {
                    String::new()
                } else {
                    format!(", fallbacks {}", fallbacks.join(", "))
                }
            ));
        }
        out
    }
}
