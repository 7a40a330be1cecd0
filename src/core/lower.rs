//! Lowering: the desired state → the normalized object every address is expected to have.
//!
//! The result has the shape of the live snapshot (see [`crate::core::live`] for the table of
//! normalized objects), holding only the attributes the desired state sets: an attribute
//! left out is not managed. `Value::Null` at an address is an explicit removal (today only
//! `protection: null` on a GitHub branch).
//!
//! Rules:
//! - every managed provider contributes `provider.<p>` `{"activation": "active" | "paused"}`;
//! - a paused provider contributes nothing else: only active providers' resources are
//!   planned;
//! - lists are sorted (and de-duplicated where order and repetition carry no meaning) so
//!   they compare with live objects, which the providers sort the same way;
//! - GitHub branch protection keeps the PUT body shape, with the four fields GitHub requires
//!   in that body (`required_status_checks`, `enforce_admins`,
//!   `required_pull_request_reviews`, `restrictions`) defaulting to `null` (DESIGN.md).
//!
//! [`normalize_github_protection`] is the other half of the GitHub contract: it turns the
//! GET response into the same PUT body shape, for the GitHub provider's refresh.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::core::address::Address;
use crate::core::desired::{
    Activation, BranchDesired, Desired, FlyApp, Protection, ProviderName, RepoDesired,
};

/// The expected normalized object of every address the desired state manages.
pub type Expected = BTreeMap<Address, Value>;

/// The four fields GitHub requires in the protection PUT body; DESIGN.md: "the four fields
/// GitHub requires in the PUT body default to `null`".
pub const PROTECTION_REQUIRED_FIELDS: [&str; 4] = [
    "required_status_checks",
    "enforce_admins",
    "required_pull_request_reviews",
    "restrictions",
];

/// Lower the desired state to expected normalized objects.
pub fn lower(desired: &Desired) -> Expected {
    let mut out = Expected::new();
    for (provider, activation) in desired.managed() {
        out.insert(
            Address::Provider {
                name: provider.as_str().to_string(),
            },
            json!({ "activation": activation.as_str() }),
        );
        if activation == Activation::Paused {
            continue;
        }
        match provider {
            ProviderName::Fly => {
                if let Some(fly) = &desired.fly {
                    for (name, app) in &fly.apps {
                        lower_fly_app(&mut out, fly.org.as_deref(), name, app);
                    }
                }
            }
            ProviderName::Github => {
                if let Some(github) = &desired.github {
                    for (repo, r) in &github.repos {
                        lower_repo(&mut out, repo, r);
                    }
                }
            }
            ProviderName::ContextDb => {
                if let Some(db) = &desired.context_db {
                    for name in &db.extensions {
                        out.insert(
                            Address::ContextDbExtension { name: name.clone() },
                            json!({}),
                        );
                    }
                    for name in &db.schemas {
                        out.insert(Address::ContextDbSchema { name: name.clone() }, json!({}));
                    }
                }
            }
            ProviderName::Qdrant => {
                if let Some(q) = &desired.qdrant {
                    for (name, c) in &q.collections {
                        out.insert(
                            Address::QdrantCollection { name: name.clone() },
                            json!({ "size": c.size, "distance": c.distance }),
                        );
                    }
                }
            }
            ProviderName::Redis => {
                if let Some(r) = &desired.redis {
                    for (key, value) in &r.config {
                        out.insert(
                            Address::RedisConfig { key: key.clone() },
                            json!({ "value": value }),
                        );
                    }
                }
            }
            // These providers are used through read-only operations; their desired state
            // (routes, search backends, channels) configures `sophia` itself and has no
            // live resource to reconcile.
            ProviderName::Router
            | ProviderName::Research
            | ProviderName::Mem0
            | ProviderName::Slack
            | ProviderName::Gong
            | ProviderName::Lambda => {}
        }
    }
    out
}

fn sorted_unique(items: &[String]) -> Vec<String> {
    let mut v = items.to_vec();
    v.sort();
    v.dedup();
    v
}

fn lower_fly_app(out: &mut Expected, org: Option<&str>, name: &str, app: &FlyApp) {
    let mut app_obj = Map::new();
    if let Some(org) = org {
        app_obj.insert("org".into(), json!(org));
    }
    out.insert(
        Address::FlyApp {
            app: name.to_string(),
        },
        Value::Object(app_obj),
    );

    if let Some(secrets) = &app.secrets {
        out.insert(
            Address::FlySecrets {
                app: name.to_string(),
            },
            json!({ "names": sorted_unique(secrets) }),
        );
    }

    let mut machines = Map::new();
    if let Some(image) = &app.image {
        machines.insert("image".into(), json!(image));
    }
    if let Some(count) = app.count {
        machines.insert("count".into(), json!(count));
    }
    // `regions` wins; a `primary_region` alone (typically imported from fly.toml) means the
    // machines run there.
    match (&app.regions, &app.primary_region) {
        (Some(regions), _) => {
            machines.insert("regions".into(), json!(sorted_unique(regions)));
        }
        (None, Some(primary)) => {
            machines.insert("regions".into(), json!([primary]));
        }
        (None, None) => {}
    }
    if let Some(guest) = &app.guest {
        machines.insert("guest".into(), json!(guest));
    }
    if let Some(env) = &app.env {
        machines.insert("env".into(), json!(env));
    }
    if !machines.is_empty() {
        out.insert(
            Address::FlyMachines {
                app: name.to_string(),
            },
            Value::Object(machines),
        );
    }
}

fn lower_repo(out: &mut Expected, repo: &str, r: &RepoDesired) {
    for (branch, BranchDesired { protection }) in &r.branches {
        let address = Address::GithubProtection {
            repo: repo.to_string(),
            branch: branch.clone(),
        };
        match protection {
            None => {}
            Some(None) => {
                out.insert(address, Value::Null);
            }
            Some(Some(p)) => {
                out.insert(address, protection_body(p));
            }
        }
    }
    for name in &r.actions_secrets {
        out.insert(
            Address::GithubSecret {
                repo: repo.to_string(),
                name: name.clone(),
            },
            json!({}),
        );
    }
    for (env, e) in &r.environments {
        let mut reviewers = e.reviewers.clone();
        reviewers.sort();
        reviewers.dedup();
        out.insert(
            Address::GithubEnvironment {
                repo: repo.to_string(),
                env: env.clone(),
            },
            json!({ "reviewers": reviewers }),
        );
    }
}

/// The PUT body of a desired protection: the fields it sets, the four required ones
/// defaulting to `null`, every list sorted.
pub fn protection_body(p: &Protection) -> Value {
    let mut body = serde_json::to_value(p).expect("a protection serializes");
    if let Value::Object(map) = &mut body {
        for field in PROTECTION_REQUIRED_FIELDS {
            map.entry(field).or_insert(Value::Null);
        }
    }
    sort_protection_lists(&mut body);
    body
}

/// Sort every list of a protection body: status check contexts, checks (by context, then
/// app id) and the users/teams/apps of restrictions, dismissal restrictions and bypass
/// allowances. GitHub treats them all as sets.
fn sort_protection_lists(body: &mut Value) {
    fn sort_strings(v: Option<&mut Value>) {
        if let Some(Value::Array(items)) = v {
            items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            items.dedup();
        }
    }
    fn sort_actors(v: Option<&mut Value>) {
        if let Some(Value::Object(m)) = v {
            for key in ["users", "teams", "apps"] {
                sort_strings(m.get_mut(key));
            }
        }
    }
    let Value::Object(map) = body else { return };
    if let Some(Value::Object(checks)) = map.get_mut("required_status_checks") {
        sort_strings(checks.get_mut("contexts"));
        if let Some(Value::Array(items)) = checks.get_mut("checks") {
            items.sort_by(|a, b| {
                (a["context"].as_str(), a["app_id"].as_i64())
                    .cmp(&(b["context"].as_str(), b["app_id"].as_i64()))
            });
        }
    }
    sort_actors(map.get_mut("restrictions"));
    if let Some(Value::Object(reviews)) = map.get_mut("required_pull_request_reviews") {
        sort_actors(reviews.get_mut("dismissal_restrictions"));
        sort_actors(reviews.get_mut("bypass_pull_request_allowances"));
    }
}

/// GitHub's `GET /repos/{owner}/{repo}/branches/{branch}/protection` response → the PUT
/// body shape the diff compares with:
///
/// - wrapped flags (`{"url", "enabled"}`) become booleans;
/// - users become logins, teams and apps become slugs, all sorted;
/// - `url`, `*_url`, `enforcement_level` and other read-only fields are dropped;
/// - the four required PUT fields are present, `null` when GitHub reports nothing.
///
/// Server defaults (e.g. `required_approving_review_count: 1`) are kept: they are real
/// live values, and the diff ignores every field the desired state does not set.
/// `required_signatures` has no place in the PUT body (it has its own endpoint) and is
/// dropped.
pub fn normalize_github_protection(get_response: &Value) -> Value {
    let mut out = Map::new();
    let Value::Object(resp) = get_response else {
        return Value::Null;
    };
    // Flags that the GET wraps as `{"enabled": bool}` and the PUT takes as a bool.
    const FLAGS: [&str; 8] = [
        "enforce_admins",
        "required_linear_history",
        "allow_force_pushes",
        "allow_deletions",
        "block_creations",
        "required_conversation_resolution",
        "lock_branch",
        "allow_fork_syncing",
    ];
    for flag in FLAGS {
        if let Some(v) = resp.get(flag) {
            let enabled = match v {
                Value::Object(m) => m.get("enabled").cloned().unwrap_or(Value::Null),
                Value::Bool(_) | Value::Null => v.clone(),
                _ => Value::Null,
            };
            out.insert(flag.into(), enabled);
        }
    }
    out.insert(
        "required_status_checks".into(),
        match resp.get("required_status_checks") {
            Some(Value::Object(c)) => {
                let mut m = Map::new();
                if let Some(strict) = c.get("strict") {
                    m.insert("strict".into(), strict.clone());
                }
                if let Some(contexts) = c.get("contexts") {
                    m.insert("contexts".into(), contexts.clone());
                }
                if let Some(Value::Array(checks)) = c.get("checks") {
                    let checks: Vec<Value> = checks
                        .iter()
                        .map(|ch| {
                            json!({
                                "context": ch.get("context").cloned().unwrap_or(Value::Null),
                                "app_id": ch.get("app_id").cloned().unwrap_or(Value::Null),
                            })
                        })
                        .collect();
                    m.insert("checks".into(), Value::Array(checks));
                }
                Value::Object(m)
            }
            _ => Value::Null,
        },
    );
    out.insert(
        "required_pull_request_reviews".into(),
        match resp.get("required_pull_request_reviews") {
            Some(Value::Object(r)) => {
                let mut m = Map::new();
                for key in [
                    "dismiss_stale_reviews",
                    "require_code_owner_reviews",
                    "required_approving_review_count",
                    "require_last_push_approval",
                ] {
                    if let Some(v) = r.get(key) {
                        m.insert(key.into(), v.clone());
                    }
                }
                for key in ["dismissal_restrictions", "bypass_pull_request_allowances"] {
                    if let Some(v @ Value::Object(_)) = r.get(key) {
                        m.insert(key.into(), actors(v));
                    }
                }
                Value::Object(m)
            }
            _ => Value::Null,
        },
    );
    out.insert(
        "restrictions".into(),
        match resp.get("restrictions") {
            Some(v @ Value::Object(_)) => actors(v),
            _ => Value::Null,
        },
    );
    let mut body = Value::Object(out);
    sort_protection_lists(&mut body);
    body
}

/// `{users: [{login…}], teams: [{slug…}], apps: [{slug…}]}` → logins and slugs. `apps` is
/// kept only when GitHub reports it (the PUT body makes it optional).
fn actors(v: &Value) -> Value {
    let pick = |key: &str, field: &str| -> Option<Value> {
        v.get(key).and_then(Value::as_array).map(|items| {
            Value::Array(
                items
                    .iter()
                    .filter_map(|i| match i {
                        Value::String(s) => Some(json!(s)),
                        other => other.get(field).cloned(),
                    })
                    .collect(),
            )
        })
    };
    let mut m = Map::new();
    m.insert(
        "users".into(),
        pick("users", "login").unwrap_or_else(|| json!([])),
    );
    m.insert(
        "teams".into(),
        pick("teams", "slug").unwrap_or_else(|| json!([])),
    );
    if let Some(apps) = pick("apps", "slug") {
        m.insert("apps".into(), apps);
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::desired::{FlyDesired, GithubDesired, QdrantDesired};

    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    #[test]
    fn paused_provider_contributes_only_its_activation() {
        let mut d = Desired::default();
        d.providers.insert(ProviderName::Qdrant, Activation::Paused);
        d.qdrant = Some(QdrantDesired {
            collections: [(
                "c".to_string(),
                crate::core::desired::QdrantCollection {
                    size: 3,
                    distance: crate::core::desired::Distance::Cosine,
                },
            )]
            .into(),
        });
        let out = lower(&d);
        assert_eq!(
            out.into_iter().collect::<Vec<_>>(),
            vec![(addr("provider.qdrant"), json!({"activation": "paused"}))]
        );
    }

    #[test]
    fn fly_app_lowers_to_three_addresses_with_sorted_lists() {
        let mut d = Desired::default();
        let app = FlyApp {
            image: Some("img:1".into()),
            regions: Some(vec!["ord".into(), "ams".into(), "ord".into()]),
            secrets: Some(vec!["B".into(), "A".into()]),
            ..Default::default()
        };
        d.fly = Some(FlyDesired {
            org: Some("pay-ready".into()),
            apps: [("a".to_string(), app)].into(),
        });
        let out = lower(&d);
        assert_eq!(out[&addr("provider.fly")], json!({"activation": "active"}));
        assert_eq!(out[&addr("fly.app.a")], json!({"org": "pay-ready"}));
        assert_eq!(
            out[&addr("fly.app.a.secrets")],
            json!({"names": ["A", "B"]})
        );
        assert_eq!(
            out[&addr("fly.app.a.machines")],
            json!({"image": "img:1", "regions": ["ams", "ord"]})
        );
    }

    #[test]
    fn protection_defaults_required_fields_to_null_and_null_means_removal() {
        let yaml = r#"
repos:
  o/r:
    branches:
      main:
        protection:
          required_status_checks: { strict: true, contexts: ["b", "a"] }
          required_pull_request_reviews: { require_code_owner_reviews: true }
      old:
        protection: null
      unmanaged: {}
"#;
        let d = Desired {
            github: Some(serde_yaml::from_str::<GithubDesired>(yaml).unwrap()),
            ..Default::default()
        };
        let out = lower(&d);
        assert_eq!(
            out[&addr("github.repo.o/r.branch.main.protection")],
            json!({
                "required_status_checks": {"strict": true, "contexts": ["a", "b"]},
                "enforce_admins": null,
                "required_pull_request_reviews": {"require_code_owner_reviews": true},
                "restrictions": null,
            })
        );
        assert_eq!(
            out[&addr("github.repo.o/r.branch.old.protection")],
            Value::Null
        );
        assert!(!out.contains_key(&addr("github.repo.o/r.branch.unmanaged.protection")));
    }

    #[test]
    fn normalizes_a_minimal_get_response() {
        let resp = json!({
            "url": "https://api.github.com/repos/o/r/branches/main/protection",
            "enforce_admins": {"url": "…", "enabled": false},
            "required_linear_history": {"enabled": true},
            "required_signatures": {"url": "…", "enabled": false},
        });
        assert_eq!(
            normalize_github_protection(&resp),
            json!({
                "enforce_admins": false,
                "required_linear_history": true,
                "required_status_checks": null,
                "required_pull_request_reviews": null,
                "restrictions": null,
            })
        );
    }
}
