//! Activation: where the LIVE side of `provider.<p>` comes from, and what executing
//! `provider.activate` does.
//!
//! # The activation record
//!
//! `proofs/secrets/activation.json` records, per provider, the activation that the last
//! successful `provider.activate` action put in place; it is a proof file, read and written
//! by [`crate::proofs::activation`] (re-exported here).
//!
//! Refresh reads it ([`overlay`]): each recorded provider becomes the live object
//! `provider.<p>` = `{"activation": …}`, overriding the refresh's own guess (a provider that
//! answers is taken as active). So when `desired/providers.yaml` turns `qdrant: paused` into
//! `qdrant: active`, the live side still says `paused` and the plan has a
//! `provider.activate` action — which runs the provider's validation before anything else
//! of that provider (the planner orders `provider.activate` before its other actions).
//!
//! # Executing `provider.activate`
//!
//! [`execute`] reads nothing but the action's signed `params` — never `desired/`, which may
//! have changed since the plan was approved:
//!
//! ```json
//! { "activation": "active", "routes": { "primary": "portkey", "fallbacks": ["openai"] } }
//! ```
//!
//! (`routes` only on the router's action: the routes its validation is configured with.)
//! With `activation: paused`, record it (no call); with `active`, run the provider's
//! `validate` and record `active` only when it succeeds. Either way the outcome carries the
//! validation result, which becomes the action's proof. Running it twice is the same as once
//! (the record is overwritten with the same value), so the action is idempotent.

use serde_json::{Value, json};

use super::http::Http;
use super::{ActionOutcome, Credentials, Provider, ProviderError};
use crate::core::address::Address;
use crate::core::desired::{Activation, ProviderName, RouterDesired};
use crate::core::live::LiveSnapshot;
use crate::core::plan::Action;
use crate::proofs::ProofStore;
pub use crate::proofs::activation::{
    ActivationRecord, Entry, RECORD_FORMAT, read, read_repo, record, record_kind,
};

/// A refresh result with the record of the repository at `root` laid over it: what `sophia
/// refresh` and `sophia plan` use.
pub fn with_record(
    root: &std::path::Path,
    (mut snapshot, errors): (LiveSnapshot, Vec<crate::core::envelope::EnvelopeError>),
) -> anyhow::Result<(LiveSnapshot, Vec<crate::core::envelope::EnvelopeError>)> {
    overlay(&mut snapshot, &read_repo(root)?);
    Ok((snapshot, errors))
}

/// The live object of `provider.<name>` for a provider that answered: its recorded
/// activation, else `active`.
pub fn live_object(record: &ActivationRecord, name: &str) -> Value {
    let activation = ProviderName::parse(name)
        .and_then(|p| record.providers.get(&p))
        .map(|e| e.activation)
        .unwrap_or(Activation::Active);
    json!({ "activation": activation.as_str() })
}

/// Set `provider.<p>` in `snapshot` from every recorded provider.
pub fn overlay(snapshot: &mut LiveSnapshot, record: &ActivationRecord) {
    for (p, entry) in &record.providers {
        snapshot.resources.insert(
            Address::Provider {
                name: p.as_str().to_string(),
            },
            json!({ "activation": entry.activation.as_str() }),
        );
    }
}

/// [`execute`] for the repository at `root`: its proof store and the clock.
pub async fn execute_in(
    root: &std::path::Path,
    action: &Action,
    creds: &Credentials,
) -> ActionOutcome {
    let store = ProofStore::of_repo(root);
    execute(&store, action, creds, &creds.http(), &super::now_rfc3339()).await
}

/// Run provider `p`'s validation: configure it (missing secrets → `not-configured`, naming
/// them) and make its cheapest authenticated read. Fly and GitHub are validated by a
/// successful configuration with their credentials (their reads need an app or a repository).
/// `routes` configures the router (from the signed plan; `None`: its defaults).
pub async fn validate(
    p: ProviderName,
    creds: &Credentials,
    http: &Http,
    routes: Option<&RouterDesired>,
) -> Result<(String, Vec<Value>), ProviderError> {
    let provider = Provider::configure(p, creds, http).ok_or_else(|| {
        ProviderError::new(
            p.as_str(),
            "internal",
            "no implementation for this provider",
        )
    })??;
    match provider {
        Provider::Fly(_) | Provider::Github(_) => Ok((
            format!("{p} credentials are configured"),
            vec![json!({ "configured": true })],
        )),
        Provider::Other(other) => {
            let name = match p {
                ProviderName::ContextDb | ProviderName::Redis => "ping",
                _ => "validate",
            };
            // The router validates with the plan's routes (the allowlist is free; `/models`
            // proves the key).
            if let (super::saas::Other::Router(_), Some(routes)) = (&*other, routes) {
                let r = super::router::RouterProvider::new(creds, http.clone(), Some(routes))?;
                return r.validate().await;
            }
            other.op(name, &json!({})).await
        }
    }
}

/// What a `provider.activate` action's params say (all that executing it reads).
struct Params {
    activation: Activation,
    routes: Option<RouterDesired>,
}

fn params(action: &Action, name: &str) -> Result<Params, ProviderError> {
    let invalid = |message: String| ProviderError::new(name, "invalid-input", message);
    let activation = match action.params.get("activation").and_then(Value::as_str) {
        Some("paused") => Activation::Paused,
        Some("active") | None => Activation::Active,
        Some(other) => {
            return Err(invalid(format!(
                "activation `{other}` (expected active or paused)"
            )));
        }
    };
    let routes = match action.params.get("routes") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            serde_json::from_value(v.clone())
                .map_err(|e| invalid(format!("the plan's router `routes`: {e}")))?,
        ),
    };
    Ok(Params { activation, routes })
}

/// Execute `provider.activate` from its params alone (see the module documentation).
pub async fn execute(
    store: &ProofStore,
    action: &Action,
    creds: &Credentials,
    http: &Http,
    now: &str,
) -> ActionOutcome {
    let Address::Provider { name } = &action.address else {
        return ActionOutcome::failure(ProviderError::new(
            "sophia",
            "invalid-input",
            format!("`provider.activate` on `{}`", action.address),
        ));
    };
    let Some(p) = ProviderName::parse(name) else {
        return ActionOutcome::failure(ProviderError::new(
            name.as_str(),
            "invalid-input",
            format!("unknown provider `{name}`"),
        ));
    };
    let Params { activation, routes } = match params(action, name) {
        Ok(p) => p,
        Err(e) => return ActionOutcome::failure(e),
    };
    let (outcome, entry) = match activation {
        Activation::Paused => (
            ActionOutcome::success(
                format!("{p} is paused"),
                vec![json!({ "activation": "paused" })],
            ),
            Entry {
                activation,
                at: now.to_string(),
                validated: None,
            },
        ),
        Activation::Active => match validate(p, creds, http, routes.as_ref()).await {
            Ok((text, results)) => {
                let mut result = json!({ "activation": "active" });
                if let Some(routes) = &routes {
                    // The proof names the routes that were activated: the plan's.
                    result["routes"] = json!(routes);
                }
                result["validate"] =
                    json!({ "status": "success", "summary": text, "results": results });
                (
                    ActionOutcome::success(format!("{p} is active: {text}"), vec![result]),
                    Entry {
                        activation,
                        at: now.to_string(),
                        validated: Some(true),
                    },
                )
            }
            Err(e) => {
                let mut out = ActionOutcome::failure(e.clone());
                out.text = format!("{p} stays inactive: its validation failed: {}", e.message);
                out.results = vec![
                    json!({ "activation": "inactive", "validate": { "status": "failure", "code": e.code, "message": e.message } }),
                ];
                return out;
            }
        },
    };
    match record(store, p, entry) {
        Ok(_) => outcome,
        Err(e) => ActionOutcome::failure(ProviderError::new(
            name.as_str(),
            "internal",
            format!("recording the activation: {e:#}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(params: Value) -> Action {
        Action {
            id: crate::core::plan::ActionId("provider.activate:provider.router".into()),
            address: Address::Provider {
                name: "router".into(),
            },
            kind: crate::core::plan::ActionKind::ProviderActivate,
            params,
            depends_on: vec![],
        }
    }

    #[test]
    fn the_record_overrides_the_refresh_guess() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProofStore::new(dir.path().join("proofs"));
        record(
            &store,
            ProviderName::Qdrant,
            Entry {
                activation: Activation::Paused,
                at: "2026-01-01T00:00:00Z".into(),
                validated: None,
            },
        )
        .unwrap();
        let mut snap = LiveSnapshot::new("t");
        let addr = Address::Provider {
            name: "qdrant".into(),
        };
        snap.resources
            .insert(addr.clone(), json!({ "activation": "active" }));
        overlay(&mut snap, &read(&store).unwrap());
        assert_eq!(snap.resources[&addr], json!({ "activation": "paused" }));
        assert_eq!(
            live_object(&read(&store).unwrap(), "router"),
            json!({ "activation": "active" })
        );
    }

    #[test]
    fn params_are_all_that_is_read() {
        let p = params(
            &action(json!({ "activation": "active", "routes": { "primary": "portkey", "fallbacks": ["groq"] } })),
            "router",
        )
        .unwrap();
        assert_eq!(p.activation, Activation::Active);
        assert_eq!(
            p.routes,
            Some(RouterDesired {
                primary: "portkey".into(),
                fallbacks: vec!["groq".into()],
            })
        );
        let p = params(&action(json!({ "activation": "paused" })), "router").unwrap();
        assert_eq!((p.activation, p.routes), (Activation::Paused, None));
        for bad in [
            json!({ "activation": "on" }),
            json!({ "activation": "active", "routes": { "primary": 1 } }),
        ] {
            let e = params(&action(bad.clone()), "router")
                .err()
                .expect("refused");
            assert_eq!(e.code, "invalid-input", "{bad}");
        }
    }
}
