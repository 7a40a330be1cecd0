//! `sophia import`: the desired state of live resources, from the very objects refresh
//! normalizes (DESIGN.md, "Lifecycle: adopt"), so that importing then planning shows no
//! change. The inverse of [`crate::core::lower`] for what it covers; pure.
//!
//! - A Fly app: `image`, `count`, `regions`, `guest`, `env`, `primary_region` (flyctl's
//!   `PRIMARY_REGION`), `secrets` by name, and the fly.toml sections its machine config
//!   carries — `services` (each port, handler, `force_https`, `auto_stop_machines`,
//!   `auto_start_machines`, `min_machines_running`, `concurrency`, its `tcp_checks` and
//!   `http_checks`) and `mounts` (`source`, `destination`, `initial_size` from the
//!   volumes), top-level `checks`, `metrics` and `statics`. An app of several process
//!   groups, or with config flyctl sets from other sections (`init`, `restart`, the stop
//!   config), gets a note: those are not written back, and the plan after import says so.
//! - A repository: `settings` and `topics`, the default branch's `protection` (the PUT body
//!   refresh normalizes to), `actions_secrets` by name, `environments` (reviewers, flags,
//!   branch policies, variables, secrets by name), `rulesets`, `collaborators` and `teams`
//!   (with their permission) and `actions_variables` (with their values: variables are not
//!   secrets).
//! - One GitHub resource ([`import_github`]): any of those addresses of a repository, or an
//!   organization's ruleset (`github.orgs.<org>.rulesets`), on its own.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::core::address::Address;
use crate::core::desired::ruleset::Ruleset;
use crate::core::desired::{
    Activation, BranchDesired, Desired, EnvironmentDesired, FlyApp, FlyDesired, GithubDesired,
    Permission, ProviderName, RepoDesired,
};
use crate::core::live::LiveSnapshot;

/// An imported desired state and what could not be written back.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub desired: Desired,
    /// One line per thing left out, naming its address.
    pub notes: Vec<String>,
}

/// The desired state of Fly `apps` (of `org`) and GitHub `repos`, from `live`.
pub fn import(
    live: &LiveSnapshot,
    org: Option<&str>,
    apps: &[String],
    repos: &[String],
) -> Imported {
    let mut out = Imported::default();
    if !apps.is_empty() {
        let mut fly = FlyDesired {
            org: org.map(str::to_string),
            apps: BTreeMap::new(),
        };
        for app in apps {
            if let Some(a) = fly_app(live, app, &mut out.notes) {
                fly.apps.insert(app.clone(), a);
            }
        }
        out.desired
            .providers
            .insert(ProviderName::Fly, Activation::Active);
        out.desired.fly = Some(fly);
    }
    if !repos.is_empty() {
        let mut github = GithubDesired::default();
        for repo in repos {
            github
                .repos
                .insert(repo.clone(), github_repo(live, repo, &mut out.notes));
        }
        out.desired
            .providers
            .insert(ProviderName::Github, Activation::Active);
        out.desired.github = Some(github);
    }
    out
}

fn parse<T: serde::de::DeserializeOwned>(
    v: Value,
    address: &str,
    notes: &mut Vec<String>,
) -> Option<T> {
    match serde_json::from_value(v) {
        Ok(t) => Some(t),
        Err(e) => {
            notes.push(format!("{address}: not imported ({e})"));
            None
        }
    }
}

// ───────────────────────────── fly ─────────────────────────────

fn fly_app(live: &LiveSnapshot, name: &str, notes: &mut Vec<String>) -> Option<FlyApp> {
    let app = name.to_string();
    live.get(&Address::FlyApp { app: app.clone() })?;
    let mut out = FlyApp {
        secrets: live
            .get(&Address::FlySecrets { app: app.clone() })
            .and_then(|s| s.get("names"))
            .and_then(|n| serde_json::from_value(n.clone()).ok()),
        ..FlyApp::default()
    };
    let processes: Vec<&Address> = live
        .resources
        .keys()
        .filter(|a| matches!(a, Address::FlyProcess { app: x, .. } if x == name))
        .collect();
    if !processes.is_empty() {
        // One mixed `machines` would be wrong for every group: only the app and its
        // secrets are written, and the groups are left to write by hand.
        notes.push(format!(
            "fly.app.{name}: its {} process groups are not imported (write `processes` and its sections by hand)",
            processes.len()
        ));
        return Some(out);
    }
    let Some(m) = live.get(&Address::FlyMachines { app: app.clone() }) else {
        return Some(out);
    };
    let here = format!("fly.app.{name}.machines");
    match m.get("image") {
        Some(Value::String(image)) => out.image = Some(image.clone()),
        Some(other) => notes.push(format!(
            "{here}: its machines run different images ({other}); `image` is not imported"
        )),
        None => {}
    }
    out.count = m.get("count").and_then(Value::as_u64).map(|c| c as u32);
    out.regions = m
        .get("regions")
        .and_then(|r| serde_json::from_value(r.clone()).ok());
    let set = |key: &str| m.get(key).filter(|v| !v.is_null()).cloned();
    out.guest = set("guest").and_then(|g| parse(g, &here, notes));
    out.env = set("env").and_then(|e| parse(e, &here, notes));
    out.primary_region = m
        .pointer("/platform_env/PRIMARY_REGION")
        .and_then(Value::as_str)
        .map(str::to_string);
    let config = m.get("config").and_then(Value::as_object);
    for (key, v) in config.into_iter().flatten() {
        match key.as_str() {
            "metadata" => {}
            "services" => {
                let services: Vec<Value> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(fly_toml_service)
                    .collect();
                out.services = parse(Value::Array(services), &here, notes);
            }
            "mounts" => {
                let mounts: Vec<Value> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|mount| fly_toml_mount(live, name, mount))
                    .collect();
                out.mounts = parse(Value::Array(mounts), &here, notes);
            }
            "checks" => out.checks = parse(fly_toml_section(key, v), &here, notes),
            "metrics" => out.metrics = parse(fly_toml_section(key, v), &here, notes),
            "statics" => out.statics = parse(fly_toml_section(key, v), &here, notes),
            other => notes.push(format!(
                "{here}: `config.{other}` is not imported (write its fly.toml section by hand)"
            )),
        }
    }
    Some(out)
}

/// A machine config service as fly.toml's `[[services]]` writes it (the inverse of
/// flyctl's `ToMachineService`).
fn fly_toml_service(s: &Value) -> Value {
    let mut out = Map::new();
    for (key, v) in s.as_object().into_iter().flatten() {
        match key.as_str() {
            "autostop" => {
                out.insert("auto_stop_machines".into(), v.clone());
            }
            "autostart" => {
                out.insert("auto_start_machines".into(), v.clone());
            }
            "checks" => {
                for c in v.as_array().into_iter().flatten() {
                    let mut c = c.as_object().cloned().unwrap_or_default();
                    let kind = c.remove("type");
                    let list = match kind.as_ref().and_then(Value::as_str) {
                        Some("http") => "http_checks",
                        _ => "tcp_checks",
                    };
                    fly_toml_headers(&mut c);
                    let entry = out.entry(list).or_insert_with(|| json!([]));
                    if let Some(a) = entry.as_array_mut() {
                        a.push(Value::Object(c));
                    }
                }
            }
            _ => {
                out.insert(key.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// A check's `headers`: the machine config's `[{name, values: [v]}]` back to fly.toml's
/// `{name: v}`.
fn fly_toml_headers(c: &mut Map<String, Value>) {
    if let Some(h) = c.remove("headers") {
        let map: Map<String, Value> = h
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| {
                Some((
                    x.get("name")?.as_str()?.to_string(),
                    x.pointer("/values/0")?.clone(),
                ))
            })
            .collect();
        c.insert("headers".into(), Value::Object(map));
    }
}

/// The machine config's top-level `checks`, `metrics` and `statics` as fly.toml writes
/// them (`[checks.NAME]`, `[[metrics]]`, `[[statics]]`).
fn fly_toml_section(key: &str, v: &Value) -> Value {
    match key {
        "checks" => {
            let mut checks = v.as_object().cloned().unwrap_or_default();
            for c in checks.values_mut() {
                if let Some(c) = c.as_object_mut() {
                    fly_toml_headers(c);
                }
            }
            Value::Object(checks)
        }
        "metrics" => json!([v]),
        _ => {
            let mut statics = v.as_array().cloned().unwrap_or_default();
            for s in statics.iter_mut().filter_map(Value::as_object_mut) {
                // flyctl sends `""` for the two optional fields.
                s.retain(|_, v| v.as_str() != Some(""));
            }
            Value::Array(statics)
        }
    }
}

/// A machine config mount as fly.toml's `[[mounts]]` writes it; `initial_size` from the
/// live volumes of that name.
fn fly_toml_mount(live: &LiveSnapshot, app: &str, m: &Value) -> Value {
    let mut out = Map::new();
    let name = m.get("name").and_then(Value::as_str).unwrap_or_default();
    out.insert("source".into(), json!(name));
    out.insert(
        "destination".into(),
        m.get("path").cloned().unwrap_or(json!("")),
    );
    if let Some(n) = m.get("extend_threshold_percent") {
        out.insert("auto_extend_size_threshold".into(), n.clone());
    }
    for (from, to) in [
        ("add_size_gb", "auto_extend_size_increment"),
        ("size_gb_limit", "auto_extend_size_limit"),
    ] {
        if let Some(n) = m.get(from).and_then(Value::as_u64) {
            out.insert(to.into(), json!(format!("{n}gb")));
        }
    }
    let volume = live.get(&Address::FlyVolume {
        app: app.to_string(),
        name: name.to_string(),
    });
    if let Some(gb) = volume
        .and_then(|v| v.get("size_gb"))
        .and_then(Value::as_u64)
    {
        out.insert("initial_size".into(), json!(format!("{gb}gb")));
    }
    Value::Object(out)
}

// ───────────────────────────── github ─────────────────────────────

fn github_repo(live: &LiveSnapshot, repo: &str, notes: &mut Vec<String>) -> RepoDesired {
    let mut out = RepoDesired::default();
    for (address, v) in &live.resources {
        if repo_of(address) == Some(repo) {
            repo_item(&mut out, address, v, notes);
        }
    }
    out
}

/// The repository a repository-level GitHub address is under.
fn repo_of(a: &Address) -> Option<&str> {
    match a {
        Address::GithubSettings { repo }
        | Address::GithubProtection { repo, .. }
        | Address::GithubSecret { repo, .. }
        | Address::GithubEnvironment { repo, .. }
        | Address::GithubRepoRuleset { repo, .. }
        | Address::GithubCollaborator { repo, .. }
        | Address::GithubTeam { repo, .. }
        | Address::GithubVariable { repo, .. } => Some(repo),
        _ => None,
    }
}

/// Lay the desired form of one repository-level address's live object `v` over `out`.
fn repo_item(out: &mut RepoDesired, address: &Address, v: &Value, notes: &mut Vec<String>) {
    let here = address.to_string();
    match address {
        Address::GithubSettings { .. } => {
            let mut settings = v.as_object().cloned().unwrap_or_default();
            out.topics = settings
                .remove("topics")
                .and_then(|t| serde_json::from_value(t).ok());
            settings.retain(|_, v| !v.is_null());
            out.settings = parse(Value::Object(settings), &here, notes);
        }
        Address::GithubProtection { branch, .. } => {
            if let Some(p) = parse(v.clone(), &here, notes) {
                out.branches.insert(
                    branch.clone(),
                    BranchDesired {
                        protection: Some(Some(p)),
                        ..BranchDesired::default()
                    },
                );
            }
        }
        Address::GithubSecret { name, .. } => {
            out.actions_secrets.push(name.as_str().into());
        }
        Address::GithubEnvironment { env, .. } => {
            if let Some(e) = parse::<EnvironmentDesired>(environment(v), &here, notes) {
                out.environments.insert(env.clone(), e);
            }
        }
        Address::GithubRepoRuleset { name, .. } => {
            if let Some(rs) = ruleset(v, &here, notes) {
                out.rulesets.insert(name.clone(), Some(rs));
            }
        }
        Address::GithubCollaborator { login, .. } => {
            if let Some(p) = permission(v, &here, notes) {
                out.collaborators.insert(login.clone(), p.into());
            }
        }
        Address::GithubTeam { slug, .. } => {
            if let Some(p) = permission(v, &here, notes) {
                out.teams.insert(slug.clone(), p.into());
            }
        }
        Address::GithubVariable { name, .. } => match v.get("value") {
            Some(Value::String(value)) => {
                out.actions_variables.insert(name.clone(), value.as_str().into());
            }
            other => notes.push(format!(
                "{here}: not imported (its value reads as {})",
                other.unwrap_or(&Value::Null)
            )),
        },
        _ => {}
    }
}

/// A collaborator's or team's `{permission}` as desired writes it.
fn permission(v: &Value, here: &str, notes: &mut Vec<String>) -> Option<Permission> {
    let p = v.get("permission").and_then(Value::as_str).unwrap_or("");
    let found = Permission::from_github(p);
    if found.is_none() {
        notes.push(format!(
            "{here}: not imported (permission `{p}` is not pull, triage, push, maintain or admin)"
        ));
    }
    found
}

/// A normalized ruleset (of an organization or a repository) as desired writes it; a
/// `bypass_actors` the credential could not see is left out, with a note.
fn ruleset(v: &Value, here: &str, notes: &mut Vec<String>) -> Option<Ruleset> {
    let mut body = v.clone();
    if body.get("bypass_actors").is_some_and(|b| b.is_string()) {
        // The credential could not see it: left unmanaged.
        if let Some(o) = body.as_object_mut() {
            o.remove("bypass_actors");
        }
        notes.push(format!(
            "{here}: `bypass_actors` could not be read and is left out"
        ));
    }
    parse(body, here, notes)
}

/// Lay the desired form of each of `addresses` (GitHub addresses under a repository, or
/// organization rulesets) over `imported`, from `live`; an address `live` lacks is noted.
/// `sophia import ADDR` of one resource, and the unmanaged resources of managed scopes.
pub fn import_github(imported: &mut Imported, live: &LiveSnapshot, addresses: &[Address]) {
    for address in addresses {
        let Some(v) = live.get(address).filter(|v| !v.is_null()) else {
            imported
                .notes
                .push(format!("{address}: not imported (it does not exist)"));
            continue;
        };
        let github = imported.desired.github.get_or_insert_with(Default::default);
        match (address, repo_of(address)) {
            (Address::GithubOrgRuleset { org, name }, _) => {
                let here = address.to_string();
                if let Some(rs) = ruleset(v, &here, &mut imported.notes) {
                    let o = github.orgs.entry(org.clone()).or_default();
                    o.rulesets.insert(name.clone(), Some(rs));
                }
            }
            (_, Some(repo)) => {
                let r = github.repos.entry(repo.to_string()).or_default();
                repo_item(r, address, v, &mut imported.notes);
            }
            _ => {
                imported
                    .notes
                    .push(format!("{address}: not imported (not a GitHub resource)"));
                continue;
            }
        }
        imported
            .desired
            .providers
            .insert(ProviderName::Github, Activation::Active);
    }
}

/// A normalized environment as desired writes it: the fields desired has, empty lists and
/// maps left out (`reviewers` and `deployment_branch_policy` always: `null` there means
/// every branch may deploy).
fn environment(v: &Value) -> Value {
    const FIELDS: [&str; 7] = [
        "reviewers",
        "prevent_self_review",
        "wait_timer",
        "deployment_branch_policy",
        "branch_policies",
        "variables",
        "secrets",
    ];
    let mut o = v.as_object().cloned().unwrap_or_default();
    o.retain(|k, v| {
        let empty = v.is_null()
            || v.as_array().is_some_and(Vec::is_empty)
            || v.as_object().is_some_and(Map::is_empty);
        FIELDS.contains(&k.as_str())
            && (k == "reviewers" || k == "deployment_branch_policy" || !empty)
    });
    Value::Object(o)
}

/// The imported desired state as YAML, with the notes as comments on top.
pub fn to_yaml(imported: &Imported) -> Result<String, serde_yaml::Error> {
    let mut text = String::from("# written by `sophia import`\n");
    for n in &imported.notes {
        text.push_str(&format!("# note: {n}\n"));
    }
    text.push_str(&serde_yaml::to_string(&imported.desired)?);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(pairs: &[(&str, Value)]) -> LiveSnapshot {
        let mut l = LiveSnapshot::new("2026-01-01T00:00:00Z");
        for (a, v) in pairs {
            l.resources.insert(Address::parse(a).unwrap(), v.clone());
        }
        l
    }

    #[test]
    fn an_app_of_several_process_groups_is_noted_not_guessed() {
        let machines = json!({"image": "i:1", "count": 1, "regions": ["ord"], "config": {}});
        let l = live(&[
            ("fly.app.a", json!({"org": "o"})),
            ("fly.app.a.secrets", json!({"names": ["K"]})),
            ("fly.app.a.machines", machines.clone()),
            ("fly.app.a.process.web", machines.clone()),
            ("fly.app.a.process.worker", machines),
        ]);
        let imported = import(&l, Some("o"), &["a".into()], &[]);
        let app = &imported.desired.fly.as_ref().unwrap().apps["a"];
        assert_eq!(app.image, None, "no mixed machines");
        assert_eq!(app.secrets.as_deref(), Some(&["K".into()][..]));
        assert_eq!(imported.notes.len(), 1);
        assert!(
            imported.notes[0].contains("2 process groups"),
            "{:?}",
            imported.notes
        );
    }

    #[test]
    fn one_github_resource_imports_on_its_own_with_its_value_or_permission() {
        let l = live(&[
            ("github.repo.o/r.variable.REGION", json!({"value": "ord"})),
            (
                "github.repo.o/r.collaborator.dev-1",
                json!({"permission": "triage"}),
            ),
            (
                "github.repo.o/r.team.platform",
                json!({"permission": "maintain"}),
            ),
            (
                "github.repo.o/r.team.odd",
                json!({"permission": "custom-role"}),
            ),
            (
                "github.org.o.ruleset.main",
                json!({"target": "branch", "enforcement": "active", "rules": [{"type": "deletion"}], "bypass_actors": "unknown"}),
            ),
        ]);
        let mut imported = Imported::default();
        let picks: Vec<Address> = [
            "github.repo.o/r.variable.REGION",
            "github.repo.o/r.collaborator.dev-1",
            "github.repo.o/r.team.platform",
            "github.repo.o/r.team.odd",
            "github.repo.o/r.variable.GONE",
            "github.org.o.ruleset.main",
        ]
        .iter()
        .map(|a| Address::parse(a).unwrap())
        .collect();
        import_github(&mut imported, &l, &picks);
        let github = imported.desired.github.as_ref().unwrap();
        let r = &github.repos["o/r"];
        assert_eq!(r.actions_variables["REGION"], "ord".into());
        assert_eq!(r.collaborators["dev-1"], Permission::Triage.into());
        assert_eq!(r.teams["platform"], Permission::Maintain.into());
        assert!(!r.teams.contains_key("odd"));
        assert!(r.settings.is_none() && r.actions_secrets.is_empty());
        let rs = github.orgs["o"].rulesets["main"].as_ref().unwrap();
        assert!(rs.bypass_actors.is_none());
        assert_eq!(
            imported.notes,
            vec![
                "github.repo.o/r.team.odd: not imported (permission `custom-role` is not pull, triage, push, maintain or admin)",
                "github.repo.o/r.variable.GONE: not imported (it does not exist)",
                "github.org.o.ruleset.main: `bypass_actors` could not be read and is left out",
            ]
        );
        assert_eq!(
            imported.desired.providers.get(&ProviderName::Github),
            Some(&Activation::Active)
        );
    }

    #[test]
    fn config_without_a_fly_toml_section_is_noted() {
        let l = live(&[
            ("fly.app.a", json!({"org": "o"})),
            (
                "fly.app.a.machines",
                json!({"image": "i:1", "count": 1, "regions": ["ord"], "config": {"init": {"cmd": ["x"]}}}),
            ),
        ]);
        let imported = import(&l, Some("o"), &["a".into()], &[]);
        assert_eq!(
            imported.notes,
            vec![
                "fly.app.a.machines: `config.init` is not imported (write its fly.toml section by hand)"
            ]
        );
        let yaml = to_yaml(&imported).unwrap();
        assert!(
            yaml.starts_with("# written by `sophia import`\n# note: fly.app.a.machines"),
            "{yaml}"
        );
    }
}
