//! `sophia import`: the desired state of live resources, from the very objects refresh
//! normalizes (DESIGN.md, "Lifecycle: adopt"), so that importing then planning shows no
//! change. The inverse of [`crate::core::lower`] for what it covers; pure.
//!
//! - A Fly app ([`fly`]): `image`, `count`, `regions`, `guest`, `env`, `primary_region`
//!   (flyctl's `PRIMARY_REGION`), `secrets` by name, and the fly.toml sections its machine
//!   config carries, per process group — `[processes]`, `services`, `checks`, `mounts`
//!   (`initial_size` from the volumes), `metrics`, `statics`, `restart`, `[[vm]]`, the stop
//!   config (`kill_signal`, `kill_timeout`), `swap_size_mb` and `[experimental]`
//!   `entrypoint`, `exec` and `machine_config` (`dns`). What fly.toml cannot say (groups
//!   that differ in what it holds once per app, a config key no section sets) gets a note
//!   naming the address, the key and why.
//! - A repository: `settings` and `topics`, the default branch's `protection` (the PUT body
//!   refresh normalizes to), `actions_secrets` by name, `environments` (reviewers, flags,
//!   branch policies, variables, secrets by name), `rulesets`, `collaborators` and `teams`
//!   (with their permission) and `actions_variables` (with their values: variables are not
//!   secrets).
//! - One GitHub resource ([`import_github`]): any of those addresses of a repository, or an
//!   organization's ruleset (`github.orgs.<org>.rulesets`), on its own.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::core::address::Address;
use crate::core::desired::ruleset::Ruleset;
use crate::core::desired::{
    Activation, BranchDesired, Desired, EnvironmentDesired, FlyDesired, GithubDesired, Permission,
    ProviderName, RepoDesired,
};

mod fly;
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
            if let Some(a) = fly::fly_app(live, app, &mut out.notes) {
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
                out.actions_variables
                    .insert(name.clone(), value.as_str().into());
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

/// Narrow the imported apps of `names` to those secret names alone (`sophia import
/// fly.app.<a>.secret.<NAME>`: a name to add to an app desired/ already has; its list
/// requires the name, and no other field of the app comes in).
pub fn only_secret_names(imported: &mut Imported, names: &BTreeMap<String, Vec<String>>) {
    let Some(fly) = imported.desired.fly.as_mut() else {
        return;
    };
    for (app, names) in names {
        if let Some(a) = fly.apps.get_mut(app) {
            *a = crate::core::desired::FlyApp {
                secrets: Some(names.iter().map(|n| n.as_str().into()).collect()),
                ..Default::default()
            };
        }
    }
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
    use serde_json::json;

    /// The live objects an apply of `yaml` (a `fly:` section) leaves: its lowered objects,
    /// with empty config keys left out as refresh leaves them out.
    fn applied(yaml: &str) -> (Desired, LiveSnapshot) {
        let desired = Desired {
            providers: [(ProviderName::Fly, Activation::Active)].into(),
            fly: Some(serde_yaml::from_str(yaml).unwrap()),
            ..Desired::default()
        };
        let mut l = LiveSnapshot::new("2026-01-01T00:00:00Z");
        for (a, mut v) in crate::core::lower::lower(&desired) {
            if let Some(config) = v.get_mut("config").and_then(Value::as_object_mut) {
                config.retain(|_, v| !(v.is_null() || v.as_object().is_some_and(Map::is_empty)));
            }
            l.resources.insert(a, v);
        }
        (desired, l)
    }

    /// Import of what `yaml` applied lowers to exactly what `yaml` lowers to, with no note.
    fn round_trip(yaml: &str, apps: &[&str]) -> Imported {
        let (desired, l) = applied(yaml);
        let apps: Vec<String> = apps.iter().map(|a| a.to_string()).collect();
        let imported = import(&l, Some("o"), &apps, &[]);
        assert_eq!(imported.notes, Vec::<String>::new());
        let text = to_yaml(&imported).unwrap();
        let back: Desired = serde_yaml::from_str(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
                .as_str(),
        )
        .unwrap();
        let (want, got) = (
            crate::core::lower::lower(&desired),
            crate::core::lower::lower(&back),
        );
        for (a, v) in &want {
            assert_eq!(got.get(a), Some(v), "{a} after import:\n{text}");
        }
        assert_eq!(got.len(), want.len(), "{text}");
        imported
    }

    #[test]
    fn two_process_groups_and_every_flyctl_section_come_back_as_written() {
        let imported = round_trip(
            r#"
org: o
apps:
  a:
    image: img:1
    count: 2
    regions: [ord]
    env: { LOG_LEVEL: info }
    secrets: [K]
    processes: { app: "", worker: "bin/worker --queue 'high prio'" }
    http_service:
      internal_port: 8080
      force_https: true
      auto_stop_machines: suspend
      auto_start_machines: true
      min_machines_running: 1
      processes: [app]
      checks: [{ path: /healthz, interval: 10s }]
    services:
      - { protocol: tcp, internal_port: 9000, ports: [{ port: 9000 }], processes: [app, worker] }
    checks:
      alive: { type: tcp, port: 8080, interval: 15s, processes: [app] }
      busy: { type: http, port: 9000, path: /busy, headers: { x-probe: "1" }, processes: [worker] }
    mounts: { source: data, destination: /data, initial_size: 2gb, processes: [worker] }
    metrics: { port: 9091, path: /metrics }
    statics: { guest_path: /app/public, url_prefix: /static }
    restart:
      - { policy: never, processes: [app] }
      - { policy: on-failure, retries: 3, processes: [worker] }
    vm:
      - { size: performance-2x, processes: [worker] }
      - { cpu_kind: shared, cpus: 2, memory_mb: 1024, processes: [app] }
    kill_signal: SIGTERM
    kill_timeout: 30s
    swap_size_mb: 512
    experimental:
      entrypoint: [/sbin/tini, --]
      machine_config: '{"dns": {"skip_registration": true}}'
"#,
            &["a"],
        );
        let app = &imported.desired.fly.as_ref().unwrap().apps["a"];
        assert_eq!(
            app.processes.as_ref().unwrap()["worker"],
            "bin/worker --queue 'high prio'"
        );
        // The service both groups run is written once, naming both.
        let shared = app
            .services
            .iter()
            .flatten()
            .find(|s| s.internal_port.map(|p| p.0) == Some(9000))
            .unwrap();
        assert_eq!(
            shared.processes.as_deref(),
            Some(&["app".to_string(), "worker".to_string()][..])
        );
    }

    #[test]
    fn a_lone_group_keeps_its_name_and_command() {
        let imported = round_trip(
            r#"
org: o
apps:
  w:
    image: img:1
    count: 1
    regions: [ams]
    processes: { web: "serve --port 8080" }
    restart: { policy: always }
    services: [{ protocol: tcp, internal_port: 8080, auto_stop_machines: stop, ports: [{ port: 443, handlers: [tls, http] }] }]
"#,
            &["w"],
        );
        let app = &imported.desired.fly.as_ref().unwrap().apps["w"];
        assert_eq!(app.processes.as_ref().unwrap()["web"], "serve --port 8080");
    }

    fn live(pairs: &[(&str, Value)]) -> LiveSnapshot {
        let mut l = LiveSnapshot::new("2026-01-01T00:00:00Z");
        for (a, v) in pairs {
            l.resources.insert(Address::parse(a).unwrap(), v.clone());
        }
        l
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
    fn what_fly_toml_holds_once_but_the_groups_differ_in_is_noted() {
        let (_, mut l) = applied(
            "org: o\napps:\n  a: { image: 'i:1', count: 1, regions: [ord], processes: { app: '', worker: run } }\n",
        );
        let worker = Address::parse("fly.app.a.process.worker").unwrap();
        l.resources.get_mut(&worker).unwrap()["count"] = json!(3);
        l.resources.get_mut(&worker).unwrap()["config"]["init"]["tty"] = json!(true);
        let imported = import(&l, Some("o"), &["a".into()], &[]);
        assert_eq!(
            imported.notes,
            [
                "fly.app.a: its process groups differ in `count` (app: 1, worker: 3), which desired holds once per app; it is not imported",
                "fly.app.a: `config.init.tty` is not imported (no fly.toml section sets it; write it by hand)",
            ]
        );
        let app = &imported.desired.fly.as_ref().unwrap().apps["a"];
        assert_eq!(app.count, None);
        assert_eq!(app.image.as_deref(), Some("i:1"));
        assert_eq!(app.processes.as_ref().unwrap()["worker"], "run");
        let yaml = to_yaml(&imported).unwrap();
        assert!(
            yaml.starts_with("# written by `sophia import`\n# note: fly.app.a: its process groups"),
            "{yaml}"
        );
    }
}
