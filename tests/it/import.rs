//! `sophia import` (issue 14): desired YAML for live resources, through the same normalizer
//! as refresh, so that import then plan shows no change. The round trip: a sandbox with 20
//! Fly apps (services, volumes) made by an apply, and 10 seeded repositories (protection,
//! secrets, environments), imported into an empty `desired/`.

use sophia::sandbox::{Sandbox, SandboxConfig, Seed};

use crate::apply::keygen;
use crate::support::{Output, Repo};

const APPS: usize = 20;
const REPOS: usize = 10;

/// 20 apps: even ones with `[http_service]`, odd ones with a TCP `[[services]]`; every one
/// mounts a volume; every fourth has `[metrics]`, `[[statics]]` and a `[checks.alive]`.
/// Every fifth (from the third) runs two process groups, the worker with its own command,
/// restart policy, `[[vm]]`, check and service; every fifth from the fourth sets what
/// flyctl turns into `init`, `restart` and the stop config, and suspends its service.
fn fly_desired() -> String {
    let mut text = String::from("providers:\n  fly: active\nfly:\n  org: pay-ready\n  apps:\n");
    for i in 0..APPS {
        let region = if i % 3 == 0 { "iad" } else { "ord" };
        text.push_str(&format!(
            "    app-{i:02}:\n      image: registry.fly.io/app-{i:02}:v1\n      regions: [{region}]\n      count: {}\n      env: {{ LOG_LEVEL: info }}\n      secrets: [APP_KEY]\n      mounts: {{ source: data, destination: /data, initial_size: {}gb }}\n",
            1 + i % 2,
            1 + i % 3,
        ));
        let busy = "busy: { type: http, port: 9000, path: /busy, processes: [worker] }";
        if i % 4 == 0 {
            text.push_str("      metrics: { port: 9091, path: /metrics }\n      statics: { guest_path: /app/public, url_prefix: /static }\n");
            let more = if i % 5 == 2 {
                format!(", {busy}")
            } else {
                String::new()
            };
            text.push_str(&format!("      checks: {{ alive: {{ type: tcp, port: 8080, interval: 15s, timeout: 2s }}{more} }}\n"));
        } else if i % 5 == 2 {
            text.push_str(&format!("      checks: {{ {busy} }}\n"));
        }
        if i % 5 == 2 {
            text.push_str("      processes: { app: \"\", worker: \"bin/worker --queue 'high prio'\" }\n      restart: [{ policy: always, processes: [worker] }, { policy: never, processes: [app] }]\n      vm: { size: shared-cpu-2x, processes: [worker] }\n");
        }
        if i % 5 == 3 {
            text.push_str("      kill_signal: SIGINT\n      kill_timeout: 20s\n      swap_size_mb: 256\n      restart: { policy: on-failure, retries: 5 }\n      experimental: { cmd: [bin/serve, --port, \"8080\"], entrypoint: [/bin/sh, -c] }\n");
        }
        if i % 2 == 0 {
            text.push_str("      http_service: { internal_port: 8080, force_https: true, auto_stop_machines: stop, auto_start_machines: true, min_machines_running: 0 }\n");
        } else {
            text.push_str("      services:\n        - protocol: tcp\n          internal_port: 5432\n          ports: [{ port: 5432 }]\n          concurrency: { type: connections, soft_limit: 20, hard_limit: 25 }\n");
            if i % 5 == 3 {
                text.push_str("          auto_stop_machines: suspend\n          auto_start_machines: true\n          min_machines_running: 1\n");
            }
            if i % 5 == 2 {
                text.push_str("        - { protocol: tcp, internal_port: 9000, ports: [{ port: 9000 }], processes: [worker] }\n");
            }
        }
    }
    text
}

fn seed() -> String {
    let mut text =
        String::from("fly:\n  orgs: [pay-ready]\ngithub:\n  users: [the-ceo]\n  repos:\n");
    for i in 0..REPOS {
        text.push_str(&format!(
            "    acme/repo-{i:02}:\n      branches: [main]\n      secrets: [DEPLOY_TOKEN, NPM_TOKEN]\n      protection:\n        main: {{ required_status_checks: {{ strict: true, contexts: [ci] }}, enforce_admins: {}, required_pull_request_reviews: {{ required_approving_review_count: {} }}, restrictions: null }}\n      environments:\n        production: {{ reviewers: [{{ type: User, login: the-ceo }}], wait_timer: {i} }}\n",
            i % 2 == 0,
            1 + i % 3,
        ));
    }
    text
}

fn run(repo: &Repo, env: &[(String, String)], args: &[&str]) -> Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    repo.run(args, &env)
}

#[test]
fn import_then_plan_shows_no_changes_for_20_apps_and_10_repositories() {
    let sandbox = Sandbox::start(SandboxConfig {
        seed: Seed::parse(&seed()).unwrap(),
        ..SandboxConfig::default()
    })
    .unwrap();
    let mut env = sandbox.env();
    env.push(("SOPHIA_HTTP_FAST_RETRIES".into(), "1".into()));
    env.push(("APP_KEY".into(), "app-key-value-91".into()));

    // The Fly org, as an apply made it.
    let source = Repo::new();
    source.file("desired/fly.yaml", &fly_desired());
    keygen(&source, "ceo", "ceo@acme");
    let ceo = std::fs::read_to_string(source.root().join("ceo.pub")).unwrap();
    source.file(
        ".infra/allowed_signers",
        &format!("ceo@acme namespaces=\"sophia-plan@v1\" {ceo}"),
    );
    let plan = run(&source, &env, &["plan", "--out", "plan.json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let signed = std::process::Command::new("ssh-keygen")
        .current_dir(source.root())
        .args([
            "-q",
            "-Y",
            "sign",
            "-n",
            "sophia-plan@v1",
            "-f",
            "ceo",
            "plan.json",
        ])
        .status()
        .unwrap();
    assert!(signed.success());
    let applied = run(&source, &env, &["apply", "plan.json"]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    sandbox.with_world(|w| {
        assert_eq!(w.fly.apps.len(), APPS);
        assert!(w.fly.apps.values().all(|a| !a.volumes.is_empty()));
    });

    // Adopt everything into an empty desired/.
    let adopt = Repo::new();
    std::fs::create_dir_all(adopt.root().join("desired")).unwrap();
    let fly = run(
        &adopt,
        &env,
        &[
            "import",
            "--provider",
            "fly",
            "--org",
            "pay-ready",
            "--out",
            "desired/fly.yaml",
        ],
    );
    assert_eq!(fly.code, 0, "{}", fly.stderr);
    assert!(
        fly.stderr.contains(&format!("imported {APPS} Fly app(s)")),
        "{}",
        fly.stderr
    );
    let gh = run(
        &adopt,
        &env,
        &[
            "import",
            "--provider",
            "github",
            "--out",
            "desired/github.yaml",
        ],
    );
    assert_eq!(gh.code, 0, "{}", gh.stderr);
    assert!(
        gh.stderr.contains(&format!("and {REPOS} repositories")),
        "{}",
        gh.stderr
    );
    for out in [&fly, &gh] {
        assert!(!out.stderr.contains("warning"), "{}", out.stderr);
        assert!(!out.stderr.contains("note:"), "{}", out.stderr);
    }
    let yaml = std::fs::read_to_string(adopt.root().join("desired/fly.yaml")).unwrap();
    assert!(
        !yaml.contains("app-key-value-91"),
        "secrets come in as names"
    );
    assert!(
        yaml.contains("mounts:") && yaml.contains("services:"),
        "{yaml}"
    );
    assert!(yaml.contains("- APP_KEY"), "{yaml}");
    for section in [
        "metrics:",
        "statics:",
        "checks:",
        "alive:",
        "bin/worker --queue",
        "kill_signal: SIGINT",
        "kill_timeout: 20s",
        "swap_size_mb: 256",
        "policy: on-failure",
        "auto_stop_machines: suspend",
        "entrypoint:",
        "vm:",
    ] {
        assert!(yaml.contains(section), "{section} {yaml}");
    }
    let yaml = std::fs::read_to_string(adopt.root().join("desired/github.yaml")).unwrap();
    assert!(
        yaml.contains("protection:") && yaml.contains("- DEPLOY_TOKEN"),
        "{yaml}"
    );

    let before = sandbox.requests().len();
    let plan = run(&adopt, &env, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.code, 0,
        "import then plan shows no change:\n{}\n{}",
        plan.stdout, plan.stderr
    );
    let mutating = sandbox.requests()[before..]
        .iter()
        .filter(|r| r.method != "GET" && r.method != "HEAD" && !r.path.contains("/access_tokens"))
        .count();
    assert_eq!(mutating, 0, "plan and import make no mutating call");
}

#[test]
fn import_writes_stdout_and_never_overwrites_a_file_without_force() {
    let sandbox = Sandbox::start(SandboxConfig {
        seed: Seed::parse(&seed()).unwrap(),
        ..SandboxConfig::default()
    })
    .unwrap();
    let env = sandbox.env();
    let repo = Repo::new();
    let out = run(&repo, &env, &["import", "github.repo.acme/repo-03"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("acme/repo-03:"), "{}", out.stdout);
    assert!(out.stdout.contains("wait_timer: 3"), "{}", out.stdout);
    repo.file("desired/mine.yaml", "# mine\n");
    let refused = run(
        &repo,
        &env,
        &[
            "import",
            "github.repo.acme/repo-03",
            "--out",
            "desired/mine.yaml",
        ],
    );
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("exists"), "{}", refused.stderr);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(
        std::fs::read_to_string(repo.root().join("desired/mine.yaml")).unwrap(),
        "# mine\n"
    );
    let forced = run(
        &repo,
        &env,
        &[
            "import",
            "github.repo.acme/repo-03",
            "--out",
            "desired/mine.yaml",
            "--force",
        ],
    );
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(
        std::fs::read_to_string(repo.root().join("desired/mine.yaml"))
            .unwrap()
            .contains("acme/repo-03")
    );
}

/// Every GitHub kind import writes: a repository's settings and topics, Actions variables
/// (with their values), direct collaborators and teams (with their permission), and the
/// rulesets of its organization, made by hand on the sandbox, imported into an empty
/// `desired/`: the plan after shows no change and nothing unmanaged.
#[test]
fn import_then_plan_shows_no_changes_for_settings_access_variables_and_org_rulesets() {
    use reqwest::Method;
    use serde_json::json;
    let sandbox = Sandbox::start(SandboxConfig {
        seed: Seed::parse(
            "github:\n  users: [the-ceo, dev-1]\n  teams: { acme: [platform] }\n  repos:\n    acme/app: { branches: [main], secrets: [DEPLOY_TOKEN] }\n",
        )
        .unwrap(),
        ..SandboxConfig::default()
    })
    .unwrap();
    let by_hand = |method, path: &str, body| {
        crate::inventory::by_hand(&sandbox, method, path, body);
    };
    by_hand(
        Method::PATCH,
        "/repos/acme/app",
        json!({"description": "The app", "delete_branch_on_merge": true, "allow_merge_commit": false}),
    );
    by_hand(
        Method::PUT,
        "/repos/acme/app/topics",
        json!({"names": ["sophia", "infra"]}),
    );
    for (name, value) in [("REGION", "ord"), ("APP", "sophia")] {
        by_hand(
            Method::POST,
            "/repos/acme/app/actions/variables",
            json!({"name": name, "value": value}),
        );
    }
    for (login, permission) in [("the-ceo", "admin"), ("dev-1", "push")] {
        by_hand(
            Method::PUT,
            &format!("/repos/acme/app/collaborators/{login}"),
            json!({"permission": permission}),
        );
    }
    by_hand(
        Method::PUT,
        "/orgs/acme/teams/platform/repos/acme/app",
        json!({"permission": "maintain"}),
    );
    by_hand(
        Method::POST,
        "/orgs/acme/rulesets",
        json!({
            "name": "protect-main",
            "target": "branch",
            "enforcement": "active",
            "conditions": {
                "ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []},
                "repository_name": {"include": ["~ALL"], "exclude": []}
            },
            "rules": [{"type": "deletion"}, {"type": "non_fast_forward"}],
            "bypass_actors": [{"actor_id": 1, "actor_type": "OrganizationAdmin", "bypass_mode": "always"}]
        }),
    );

    let mut env = sandbox.env();
    env.push(("SOPHIA_HTTP_FAST_RETRIES".into(), "1".into()));
    let adopt = Repo::new();
    std::fs::create_dir_all(adopt.root().join("desired")).unwrap();
    let gh = run(
        &adopt,
        &env,
        &[
            "import",
            "--provider",
            "github",
            "--out",
            "desired/github.yaml",
        ],
    );
    assert_eq!(gh.code, 0, "{}", gh.stderr);
    assert!(
        gh.stderr
            .contains("imported 0 Fly app(s), 1 repository and 1 GitHub resource(s) into"),
        "{}",
        gh.stderr
    );
    assert!(!gh.stderr.contains("note:"), "{}", gh.stderr);
    let yaml = std::fs::read_to_string(adopt.root().join("desired/github.yaml")).unwrap();
    for want in [
        "description: The app",
        "delete_branch_on_merge: true",
        "allow_merge_commit: false",
        "- sophia",
        "REGION: ord",
        "APP: sophia",
        "the-ceo: admin",
        "dev-1: push",
        "platform: maintain",
        "protect-main:",
        "non_fast_forward",
        "OrganizationAdmin",
        "- DEPLOY_TOKEN",
    ] {
        assert!(yaml.contains(want), "`{want}` not in:\n{yaml}");
    }

    let before = sandbox.requests().len();
    let plan = run(&adopt, &env, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.code, 0,
        "import then plan shows no change:\n{}\n{}",
        plan.stdout, plan.stderr
    );
    assert!(!plan.stdout.contains("unmanaged"), "{}", plan.stdout);
    let mutating = sandbox.requests()[before..]
        .iter()
        .filter(|r| r.method != "GET" && r.method != "HEAD" && !r.path.contains("/access_tokens"))
        .count();
    assert_eq!(mutating, 0, "plan makes no mutating call");
}
