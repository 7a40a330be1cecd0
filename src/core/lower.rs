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
//!   in that body defaulting to `null` ([`github_protection::desired_body`]; the provider's
//!   refresh turns GitHub's GET response into the same shape with
//!   [`github_protection::normalize`]).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::core::address::Address;
use crate::core::desired::{
    Activation, BranchDesired, Desired, FlyApp, ProviderName, RepoDesired, secret_name,
};
use crate::core::flymachine;
use crate::core::github_protection;
use crate::core::github_ruleset;
use crate::core::image::{self, Resolved};

/// The expected normalized object of every address the desired state manages.
pub type Expected = BTreeMap<Address, Value>;

/// Lower the desired state to expected normalized objects.
pub fn lower(desired: &Desired) -> Expected {
    let mut out = Expected::new();
    lower_each(desired, &Resolved::new(), |unit| out.extend(unit));
    out
}

/// The outline of the expected state: every address [`lower`] gives, `null` where desired/
/// removes it and `{}` where it is expected to exist ([`outline_of`]) — what the lifecycle
/// reads of it (retired addresses, protect flags), at a fraction of its size.
pub fn outline(desired: &Desired) -> Expected {
    let mut out = Expected::new();
    lower_each(desired, &Resolved::new(), |unit| {
        out.extend(unit.into_iter().map(|(a, v)| (a, outline_of(&v))))
    });
    out
}

/// What [`outline`] keeps of one expected object.
pub fn outline_of(want: &Value) -> Value {
    match want {
        Value::Null => Value::Null,
        _ => Value::Object(Map::new()),
    }
}

/// [`lower`], one unit at a time: a provider's activation, one Fly app, one repository, one
/// organization's rulesets, each other provider's resources. No address is in two units,
/// so the units together are [`lower`]'s map; a caller that compares each unit with live
/// state and lets it go never holds the whole expected state (issue 20: at 100,000
/// resources it is the largest thing a plan would hold). Each app's image is lowered as
/// the plan deploys it, pinned to the digest `images` resolves ([`image::planned`]).
pub fn lower_each(desired: &Desired, images: &Resolved, mut each: impl FnMut(Expected)) {
    for (provider, activation) in desired.managed() {
        each(Expected::from([(
            Address::Provider {
                name: provider.as_str().to_string(),
            },
            json!({ "activation": activation.as_str() }),
        )]));
        if activation == Activation::Paused {
            continue;
        }
        let mut out = Expected::new();
        match provider {
            ProviderName::Fly => {
                if let Some(fly) = &desired.fly {
                    for (name, app) in &fly.apps {
                        lower_fly_app(&mut out, fly.org.as_deref(), name, app, images);
                        each(std::mem::take(&mut out));
                    }
                }
            }
            ProviderName::Github => {
                if let Some(github) = &desired.github {
                    for (org, o) in &github.orgs {
                        for (name, rs) in &o.rulesets {
                            out.insert(
                                Address::GithubOrgRuleset {
                                    org: org.clone(),
                                    name: name.clone(),
                                },
                                rs.as_ref()
                                    .map_or(Value::Null, github_ruleset::desired_body),
                            );
                        }
                        each(std::mem::take(&mut out));
                    }
                    for (repo, r) in &github.repos {
                        lower_repo(&mut out, repo, r);
                        each(std::mem::take(&mut out));
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
        if !out.is_empty() {
            each(out);
        }
    }
}

fn sorted_unique(items: &[String]) -> Vec<String> {
    let mut v = items.to_vec();
    v.sort();
    v.dedup();
    v
}

fn lower_fly_app(
    out: &mut Expected,
    org: Option<&str>,
    name: &str,
    app: &FlyApp,
    images: &Resolved,
) {
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
        // `rotations` only when some name has one (see `core::rotation`).
        let mut object = json!({ "names": sorted_unique(&secret_name::names(secrets)) });
        let rotations = secret_name::rotations(secrets);
        if !rotations.is_empty() {
            object["rotations"] = json!(rotations);
        }
        out.insert(
            Address::FlySecrets {
                app: name.to_string(),
            },
            object,
        );
    }

    let mut machines = Map::new();
    if let Some(image) = &app.image {
        machines.insert("image".into(), json!(image::planned(image, images)));
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
        // The variables flyctl adds are compared on their own (`platform_env`).
        let own: BTreeMap<&String, &String> = env
            .iter()
            .filter(|(k, _)| !flymachine::PLATFORM_ENV.contains(&k.as_str()))
            .collect();
        machines.insert("env".into(), json!(own));
    }
    if app.has_services() {
        // Public addresses as flyctl's first deploy assigns them, when there are none.
        out.insert(
            Address::FlyIps {
                app: name.to_string(),
            },
            json!({ "public": true }),
        );
    }
    if machines.is_empty() {
        return;
    }
    let sections = app.sections();
    let groups = flymachine::process_groups(&sections);
    lower_volumes(out, name, app, &groups, machines.get("regions"));
    if groups.len() == 1 {
        lower_machine_config(&mut machines, app, &groups[0]);
        out.insert(
            Address::FlyMachines {
                app: name.to_string(),
            },
            Value::Object(machines),
        );
        return;
    }
    // Several process groups: each its own machines, count and guest.
    for group in groups {
        let mut m = machines.clone();
        lower_machine_config(&mut m, app, &group);
        out.insert(
            Address::FlyProcess {
                app: name.to_string(),
                group,
            },
            Value::Object(m),
        );
    }
}

/// One volume per machine that mounts it (`count` machines of each group whose config mounts
/// it), in the machines' regions, created before them; `size_gb` from `initial_size` when set.
fn lower_volumes(
    out: &mut Expected,
    name: &str,
    app: &FlyApp,
    groups: &[String],
    regions: Option<&Value>,
) {
    let sections = app.sections();
    let mut volumes: BTreeMap<String, (u64, Option<u64>)> = BTreeMap::new();
    for group in groups {
        let Ok(config) = flymachine::machine_config(&sections, group, None, &BTreeMap::new())
        else {
            continue;
        };
        for m in config
            .get("mounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(vol) = m.get("name").and_then(Value::as_str) else {
                continue;
            };
            let size = app
                .mounts
                .iter()
                .flatten()
                .find(|x| x.source == vol)
                .and_then(|x| x.initial_size.as_ref())
                .and_then(flymachine::memory_mb)
                .map(|mb| u64::from(mb.div_ceil(1024).max(1)));
            let entry = volumes.entry(vol.to_string()).or_insert((0, size));
            entry.0 += u64::from(app.count.unwrap_or(1));
        }
    }
    for (vol, (count, size)) in volumes {
        let mut o = Map::new();
        o.insert("count".into(), json!(count));
        if let Some(r) = regions {
            o.insert("regions".into(), r.clone());
        }
        if let Some(size) = size {
            o.insert("size_gb".into(), json!(size));
        }
        out.insert(
            Address::FlyVolume {
                app: name.to_string(),
                name: vol,
            },
            Value::Object(o),
        );
    }
}

/// The machine config flyctl would build (`flymachine`), as the machines object carries it:
/// `platform_env` (the variables flyctl adds, compared one by one), `guest` from `[[vm]]`
/// when the app sets no `guest`, and `config` — flyctl's metadata always; for an app with
/// fly.toml sections also its init, services, checks, mounts, metrics, statics and stop
/// config, `null` where absent (flyctl removes them). An app whose sections flyctl refuses
/// was refused by validation already; here it gets the metadata alone.
fn lower_machine_config(machines: &mut Map<String, Value>, app: &FlyApp, group: &str) {
    let sections = app.sections();
    let mut env = app.env.clone().unwrap_or_default();
    env.retain(|k, _| flymachine::PLATFORM_ENV.contains(&k.as_str()));
    let Ok(mut built) =
        flymachine::machine_config(&sections, group, app.primary_region.as_deref(), &env)
    else {
        machines.insert(
            "config".into(),
            json!({ "metadata": {
                flymachine::META_PLATFORM_VERSION: flymachine::PLATFORM_VERSION,
                flymachine::META_PROCESS_GROUP: group,
            }}),
        );
        return;
    };
    if let Some(platform) = built.remove("env") {
        machines.insert("platform_env".into(), platform);
    }
    if let (None, Some(guest)) = (&app.guest, built.remove("guest")) {
        machines.insert("guest".into(), guest);
    }
    let mut config = Map::new();
    if let Some(meta) = built.remove("metadata") {
        config.insert("metadata".into(), meta);
    }
    if app.has_fly_sections() {
        for key in flymachine::MANAGED_CONFIG {
            let v = built.remove(key).unwrap_or(Value::Null);
            let empty = v.as_object().is_some_and(Map::is_empty);
            config.insert(key.into(), if empty { Value::Null } else { v });
        }
        // Set only when fly.toml sets them (the API fills its own defaults otherwise).
        for key in ["restart", "dns"] {
            if let Some(v) = built.remove(key) {
                config.insert(key.into(), v);
            }
        }
    }
    machines.insert("config".into(), Value::Object(config));
}

fn lower_repo(out: &mut Expected, repo: &str, r: &RepoDesired) {
    for (branch, BranchDesired { protection, .. }) in &r.branches {
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
                out.insert(address, github_protection::desired_body(p));
            }
        }
    }
    for s in &r.actions_secrets {
        let object = match s.rotation.and_then(|r| u64::try_from(r).ok()) {
            Some(r) => json!({ "rotation": r }),
            None => json!({}),
        };
        out.insert(
            Address::GithubSecret {
                repo: repo.to_string(),
                name: s.name.clone(),
            },
            object,
        );
    }
    for (env, e) in &r.environments {
        let mut reviewers = e.reviewers.clone();
        reviewers.sort();
        reviewers.dedup();
        // Only what desired sets is managed: reviewers always, the rest when written.
        let mut object = json!({ "reviewers": reviewers });
        if let Some(p) = e.prevent_self_review {
            object["prevent_self_review"] = json!(p);
        }
        if let Some(w) = e.wait_timer {
            object["wait_timer"] = json!(w);
        }
        if let Some(p) = &e.deployment_branch_policy {
            object["deployment_branch_policy"] = json!(p);
        }
        if let Some(b) = &e.branch_policies {
            object["branch_policies"] = json!(sorted_unique(b));
        }
        if !e.variables.is_empty() {
            let values: BTreeMap<&String, &String> =
                e.variables.iter().map(|(k, v)| (k, &v.value)).collect();
            object["variables"] = json!(values);
        }
        if !e.secrets.is_empty() {
            object["secrets"] = json!(sorted_unique(&secret_name::names(&e.secrets)));
            let rotations = secret_name::rotations(&e.secrets);
            if !rotations.is_empty() {
                object["secret_rotations"] = json!(rotations);
            }
        }
        out.insert(
            Address::GithubEnvironment {
                repo: repo.to_string(),
                env: env.clone(),
            },
            object,
        );
    }
    if r.settings.is_some() || r.topics.is_some() {
        let mut object = serde_json::to_value(r.settings.clone().unwrap_or_default())
            .expect("settings serialize");
        if let Some(topics) = &r.topics {
            object["topics"] = json!(sorted_unique(topics));
        }
        out.insert(
            Address::GithubSettings {
                repo: repo.to_string(),
            },
            object,
        );
    }
    for (login, p) in &r.collaborators {
        out.insert(
            Address::GithubCollaborator {
                repo: repo.to_string(),
                login: login.clone(),
            },
            json!({ "permission": p.permission.as_str() }),
        );
    }
    for (slug, p) in &r.teams {
        out.insert(
            Address::GithubTeam {
                repo: repo.to_string(),
                slug: slug.clone(),
            },
            json!({ "permission": p.permission.as_str() }),
        );
    }
    for (name, v) in &r.actions_variables {
        out.insert(
            Address::GithubVariable {
                repo: repo.to_string(),
                name: name.clone(),
            },
            json!({ "value": v.value }),
        );
    }
    for (name, rs) in &r.rulesets {
        out.insert(
            Address::GithubRepoRuleset {
                repo: repo.to_string(),
                name: name.clone(),
            },
            rs.as_ref()
                .map_or(Value::Null, github_ruleset::desired_body),
        );
    }
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
                    protect: None,
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
            json!({
                "image": "img:1",
                "regions": ["ams", "ord"],
                // flyctl's variable and metadata, so that `fly deploy` sees the machines.
                "platform_env": {"FLY_PROCESS_GROUP": "app"},
                "config": {"metadata": {"fly_platform_version": "v2", "fly_process_group": "app"}},
            })
        );
    }

    #[test]
    fn process_groups_lower_to_one_address_each_with_flyctl_s_config() {
        let yaml = r#"
org: pay-ready
apps:
  a:
    image: img:1
    count: 1
    regions: [ord]
    processes: { app: "", worker: "bin/worker --fast" }
    http_service: { internal_port: 8080, processes: [app] }
"#;
        let d = Desired {
            fly: Some(serde_yaml::from_str(yaml).unwrap()),
            ..Default::default()
        };
        let out = lower(&d);
        assert!(!out.contains_key(&addr("fly.app.a.machines")));
        let app = &out[&addr("fly.app.a.process.app")];
        let worker = &out[&addr("fly.app.a.process.worker")];
        assert_eq!(app["count"], json!(1));
        assert_eq!(worker["count"], json!(1));
        assert_eq!(app["platform_env"], json!({"FLY_PROCESS_GROUP": "app"}));
        assert_eq!(
            worker["platform_env"],
            json!({"FLY_PROCESS_GROUP": "worker"})
        );
        assert_eq!(app["config"]["init"], Value::Null);
        assert_eq!(
            worker["config"]["init"],
            json!({"cmd": ["bin/worker", "--fast"]})
        );
        // The http service is the app group's only.
        assert_eq!(app["config"]["services"][0]["internal_port"], json!(8080));
        assert_eq!(worker["config"]["services"], Value::Null);
        assert_eq!(
            worker["config"]["metadata"]["fly_process_group"],
            json!("worker")
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
}
