//! The desired-state loader through `sophia validate`: the real `desired/`, the examples, and
//! every kind of bad input (each: exit 1, a located message with a hint, nothing written).

use proptest::prelude::*;
use sophia::core::desired::{self, Desired, Source, Strategy};

use crate::support::{Repo, project_root};

/// `sophia validate` fails: exit 1, nothing on stdout, nothing written; returns stderr.
fn invalid(repo: &Repo) -> String {
    let before = repo.files();
    let out = repo.run(&["validate"], &[]);
    assert_eq!(out.code, 1, "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "", "no data on stdout without --json");
    assert_eq!(repo.files(), before, "validate writes nothing");
    out.stderr
}

#[test]
fn the_sophia_environment_loads() {
    let d = sophia::workspace::load_desired(&project_root()).unwrap();
    let fly = d.fly.as_ref().unwrap();
    assert_eq!(fly.org.as_deref(), Some("pay-ready"));
    assert_eq!(
        fly.apps.keys().collect::<Vec<_>>(),
        [
            "sophiaai-dashboard-v2",
            "sophiaai-mcp-context-v2",
            "sophiaai-mcp-repo-v2",
            "sophiaai-mcp-research-v2"
        ]
    );
    for (name, app) in &fly.apps {
        let h = app.health.as_ref().unwrap();
        assert_eq!(
            (h.path.as_str(), h.port),
            ("/healthz", Some(8080)),
            "{name}"
        );
        assert_eq!(
            app.image.as_deref(),
            Some(format!("registry.fly.io/{name}:deployment-01").as_str())
        );
        assert!(
            !app.secrets.as_ref().unwrap().is_empty(),
            "{name} names its secrets"
        );
    }
    assert_eq!(
        fly.apps["sophiaai-mcp-repo-v2"].secrets.as_deref().unwrap(),
        [
            "GITHUB_APP_ID",
            "GITHUB_INSTALLATION_ID",
            "GITHUB_PRIVATE_KEY"
        ]
    );
    let repo = &d.github.as_ref().unwrap().repos["ai-cherry/sophia-intel-ai"];
    let main = repo.branches["main"].protection.clone().unwrap().unwrap();
    let checks = main.required_status_checks.unwrap().unwrap();
    assert_eq!(checks.contexts.unwrap(), ["Deploy All"]);
    let reviews = main.required_pull_request_reviews.unwrap().unwrap();
    assert_eq!(reviews.require_code_owner_reviews, Some(true));
    assert_eq!(repo.environments["production"].reviewers.len(), 1);
    let managed: Vec<String> = d
        .managed()
        .iter()
        .map(|(p, a)| format!("{p}={}", a.as_str()))
        .collect();
    assert_eq!(
        managed,
        [
            "fly=active",
            "github=active",
            "router=active",
            "research=active",
            "context_db=active",
            "qdrant=paused",
            "mem0=paused",
            "redis=paused",
            "slack=paused",
            "gong=paused",
            "lambda=paused"
        ]
    );
    for p in sophia::core::desired::ProviderName::ALL {
        assert!(d.has_section(p), "{p} has its section");
    }
}

#[test]
fn validate_summarizes_the_sophia_environment() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sophia"))
        .arg("-C")
        .arg(project_root())
        .arg("validate")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"");
    insta::assert_snapshot!(String::from_utf8(out.stderr).unwrap(), @"desired state is valid: 11 providers (5 active, 6 paused), 4 apps, 1 repo, 1 branch protection, 5 actions secrets, 1 environment");
}

#[test]
fn validate_json_prints_the_envelope() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sophia"))
        .arg("-C")
        .arg(project_root())
        .args(["validate", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "success");
    assert_eq!(v["query"], "validate");
    assert_eq!(v["results"][0]["apps"], 4);
    assert_eq!(v["results"][0]["providers"]["paused"], 6);
}

#[test]
fn the_minimal_example_imports_its_fly_toml() {
    let d = sophia::workspace::load_desired(&project_root().join("examples/minimal")).unwrap();
    let app = &d.fly.unwrap().apps["hello-sophia"];
    assert_eq!(app.primary_region.as_deref(), Some("ord"));
    assert_eq!(app.strategy, Some(Strategy::Rolling));
    let h = app.health.as_ref().unwrap();
    assert_eq!((h.path.as_str(), h.port), ("/healthz", Some(8080)));
    let g = app.guest.as_ref().unwrap();
    assert_eq!((g.cpus, g.memory_mb), (1, 512));
    assert_eq!(app.env.as_ref().unwrap()["LOG_LEVEL"], "info");
    // The YAML's own field stays.
    assert_eq!(
        app.image.as_deref(),
        Some("registry.fly.io/hello-sophia:deployment-01")
    );
}

#[test]
fn the_multi_repo_example_loads() {
    let d = sophia::workspace::load_desired(&project_root().join("examples/multi-repo")).unwrap();
    let gh = d.github.unwrap();
    assert_eq!(gh.repos.len(), 3);
    let intel = &gh.repos["ai-cherry/sophia-intel-ai"];
    assert_eq!(
        intel.branches.keys().collect::<Vec<_>>(),
        ["main", "release/v2"]
    );
    // `protection: null` is kept as an explicit removal.
    assert_eq!(
        gh.repos["ai-cherry/sophia-dashboard"].branches["experiments"].protection,
        Some(None)
    );
}

#[test]
fn malformed_yaml() {
    let repo = Repo::new();
    repo.file(
        "desired/fly.yaml",
        "fly:\n  org: pay-ready\n  apps: [unclosed\n  other: 1\n",
    );
    insta::assert_snapshot!(invalid(&repo));
}

#[test]
fn malformed_yaml_of_the_wrong_shape() {
    let repo = Repo::new();
    repo.file("desired/a.yaml", "- just\n- a list\n");
    repo.file("desired/b.yaml", "fly: [1, 2]\n");
    insta::assert_snapshot!(invalid(&repo));
}

#[test]
fn unknown_keys_with_hints() {
    let repo = Repo::new();
    repo.file(
        "desired/main.yaml",
        "\
providers:
  fyl: active
fly:
  org: pay-ready
  apps:
    sophiaai-dashboard-v2:
      imgae: registry.fly.io/x:1
      strategy: blue-green
      health: { path: /healthz, prot: 8080 }
routr:
  primary: portkey
",
    );
    insta::assert_snapshot!(invalid(&repo));
}

#[test]
fn duplicates_across_files_name_both_places() {
    let repo = Repo::new();
    repo.file(
        "desired/a.yaml",
        "\
providers:
  fly: active
fly:
  org: pay-ready
  apps:
    sophiaai-dashboard-v2: { count: 1 }
github:
  repos:
    ai-cherry/sophia-intel-ai:
      branches:
        main: { protection: null }
      actions_secrets: [FLY_API_TOKEN]
      environments:
        production: { reviewers: [] }
router: { primary: portkey }
",
    );
    repo.file(
        "desired/b.yaml",
        "\
providers:
  fly: paused
fly:
  org: pay-ready
  apps:
    sophiaai-dashboard-v2: { count: 2 }
github:
  repos:
    ai-cherry/sophia-intel-ai:
      branches:
        main: { protection: null }
        dev: { protection: null }
      actions_secrets: [PORTKEY_API_KEY]
      environments:
        production: { reviewers: [] }
router: { primary: portkey }
",
    );
    insta::assert_snapshot!(invalid(&repo));
}

#[test]
fn a_key_twice_in_one_file() {
    let repo = Repo::new();
    repo.file(
        "desired/a.yaml",
        "fly:\n  apps:\n    app-one: {}\n    app-one: {}\n",
    );
    insta::assert_snapshot!(invalid(&repo));
}

#[test]
fn every_kind_of_invalid_name() {
    let repo = Repo::new();
    repo.file(
        "desired/names.yaml",
        r#"
fly:
  org: Pay_Ready
  apps:
    Sophia_Dashboard: { count: 1 }
    good-app:
      regions: [ORD, chicago]
      primary_region: or
      secrets: [neon_url, 1PASSWORD, OK_NAME]
      env: { "LOG-LEVEL": info, "9X": y }
      health: { path: healthz, port: 0, expect_status: 99 }
      guest: { cpus: 3, memory_mb: 300 }
      depends_on: [good-ap, good-app, missing-app]
    x: {}
github:
  repos:
    ai-cherry: {}
    ai-cherry/bad repo: {}
    -bad-owner/repo: {}
    ai-cherry/sophia-intel-ai:
      branches:
        "feature..x": { protection: null }
        "-leading": { protection: null }
        "ends.lock": { protection: null }
        "has space": { protection: null }
      actions_secrets: [GITHUB_TOKEN, lower_case, GOOD]
      environments:
        production:
          reviewers:
            - { type: User, login: the--ceo }
            - { type: Team, login: Release Managers }
            - { type: User, login: a }
            - { type: User, login: b }
            - { type: User, login: c }
            - { type: User, login: d }
qdrant:
  collections:
    "chunks/v2": { size: 1536, distance: Cosine }
redis:
  config: { maxmemory_policy: allkeys-lru, MaxMemory: 1gb }
router: { primary: portky, fallbacks: [openai, claude] }
research: { providers: [tavily, google] }
context_db: { extensions: [pg-trgm], schemas: [Context] }
slack: { notify_channel: infra }
"#,
    );
    insta::assert_snapshot!(invalid(&repo));
}

#[test]
fn bad_fly_toml_imports() {
    let repo = Repo::new();
    repo.file(
        "desired/fly.yaml",
        "\
fly:
  apps:
    strategy-typo: { config: apps/a/fly.toml }
    absent: { config: apps/none/fly.toml }
    other-name: { config: apps/b/fly.toml }
    broken: { config: apps/c/fly.toml }
",
    );
    repo.file(
        "apps/a/fly.toml",
        "app = \"strategy-typo\"\n[deploy]\n  strategy = \"rolling-eyes\"\n",
    );
    repo.file("apps/b/fly.toml", "app = \"someone-else\"\n");
    repo.file("apps/c/fly.toml", "app = \"broken\"\n[vm\n");
    let filters = vec![(r"\(os error \d+\)", "[OS ERROR]")];
    insta::with_settings!({ filters => filters }, {
        insta::assert_snapshot!(invalid(&repo));
    });
}

#[test]
fn a_config_outside_the_repository() {
    let repo = Repo::new();
    repo.file(
        "desired/fly.yaml",
        "fly:\n  apps:\n    outside: { config: ../elsewhere/fly.toml }\n    absolute: { config: /etc/fly.toml }\n",
    );
    insta::assert_snapshot!(invalid(&repo));
}

#[test]
fn empty_desired_folder() {
    let repo = Repo::new();
    std::fs::create_dir_all(repo.root().join("desired")).unwrap();
    insta::assert_snapshot!(invalid(&repo));
}

#[test]
fn desired_files_that_are_all_empty() {
    let repo = Repo::new();
    repo.file("desired/a.yaml", "");
    repo.file("desired/b.yaml", "# nothing yet\n");
    repo.file("desired/c.yaml", "{}\n");
    insta::assert_snapshot!(invalid(&repo));
}

#[test]
fn no_desired_folder() {
    let repo = Repo::new();
    let root = repo.root().display().to_string();
    insta::with_settings!({ filters => vec![(root.as_str(), "[ROOT]")] }, {
        insta::assert_snapshot!(invalid(&repo));
    });
}

#[test]
fn json_errors_are_one_envelope_error_each() {
    let repo = Repo::new();
    repo.file("desired/a.yaml", "fly:\n  org: X\n  appz: {}\n");
    let out = repo.run(&["validate", "--json"], &[]);
    assert_eq!(out.code, 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["status"], "failure");
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0]["code"], "invalid-input");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("desired/a.yaml:2:8: invalid Fly organization slug `X`"),
        "{errors:?}"
    );
}

/// The pieces of the real desired state, each of which one file may own.
fn pieces(d: &Desired) -> Vec<Desired> {
    let mut out = Vec::new();
    for (p, a) in &d.providers {
        out.push(Desired {
            providers: [(*p, *a)].into(),
            ..Desired::default()
        });
    }
    let fly = d.fly.clone().unwrap();
    out.push(Desired {
        fly: Some(desired::FlyDesired {
            org: fly.org.clone(),
            apps: Default::default(),
        }),
        ..Desired::default()
    });
    for (name, app) in fly.apps {
        out.push(Desired {
            fly: Some(desired::FlyDesired {
                org: None,
                apps: [(name, app)].into(),
            }),
            ..Desired::default()
        });
    }
    for (name, repo) in d.github.clone().unwrap().repos {
        let one = |r: desired::RepoDesired| Desired {
            github: Some(desired::GithubDesired {
                repos: [(name.clone(), r)].into(),
                ..Default::default()
            }),
            ..Desired::default()
        };
        for (b, branch) in repo.branches {
            out.push(one(desired::RepoDesired {
                branches: [(b, branch)].into(),
                ..Default::default()
            }));
        }
        out.push(one(desired::RepoDesired {
            actions_secrets: repo.actions_secrets.clone(),
            ..Default::default()
        }));
        for (e, env) in repo.environments {
            out.push(one(desired::RepoDesired {
                environments: [(e, env)].into(),
                ..Default::default()
            }));
        }
        for (r, ruleset) in repo.rulesets {
            out.push(one(desired::RepoDesired {
                rulesets: [(r, ruleset)].into(),
                ..Default::default()
            }));
        }
    }
    let mut rest = d.clone();
    rest.providers.clear();
    rest.fly = None;
    rest.github = None;
    out.push(rest);
    out
}

/// Merge JSON objects key by key (the pieces never set the same leaf).
fn deep_merge(into: &mut serde_json::Value, from: serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Merge pieces the way several files would be: append each piece's sections to the file.
fn into_files(pieces: &[Desired], assign: &[usize], files: usize) -> Vec<Source> {
    let mut texts = vec![String::new(); files];
    let mut per_file: Vec<Vec<&Desired>> = vec![Vec::new(); files];
    for (piece, f) in pieces.iter().zip(assign) {
        per_file[*f].push(piece);
    }
    for (i, ps) in per_file.iter().enumerate() {
        let mut doc = serde_json::Value::Object(Default::default());
        for p in ps {
            deep_merge(&mut doc, serde_json::to_value(p).unwrap());
        }
        if !ps.is_empty() {
            texts[i] = serde_yaml::to_string(&doc).unwrap();
        }
    }
    texts
        .into_iter()
        .enumerate()
        .map(|(i, text)| Source {
            path: format!("desired/{i}.yaml"),
            text,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// However the real desired state is split into files, it loads to the same state.
    #[test]
    fn splitting_into_files_gives_the_same_state(
        files in 1usize..5,
        seeds in proptest::collection::vec(0usize..1000, 40),
    ) {
        let sources = sophia::workspace::read_sources(&project_root()).unwrap();
        let whole = desired::load(&sources).unwrap();
        let pieces = pieces(&whole);
        prop_assert!(pieces.len() <= seeds.len());
        let assign: Vec<usize> = seeds.iter().take(pieces.len()).map(|s| s % files).collect();
        let split = into_files(&pieces, &assign, files);
        prop_assert_eq!(desired::load(&split).unwrap(), whole);
    }
}
