//! Issue 18, the front door: names given on the command line cannot choose a host or climb a
//! path (F8), payloads obey the desired state's rules and plans record an uncommitted
//! `desired/` (F12), and a plan's validity is capped (F3, the `--ttl` part).

use std::io::ErrorKind;
use std::net::TcpListener;

use serde_json::Value;

use crate::op::{DESIRED, env_of, op, repo, sandbox};
use crate::support::Repo;

/// F8: `--app '127.0.0.1:PORT/x?'` under Fly's template (`https://{app}.fly.dev`) made a TLS
/// connection to the injected host. Now it is refused as a Fly name and nothing connects.
#[test]
fn an_app_that_names_a_host_is_refused_without_a_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let sb = sandbox();
    let repo = repo(DESIRED);
    let mut env = env_of(&sb, &[]);
    env.retain(|(k, _)| k != "FLY_APP_URL_TEMPLATE");
    let app = format!("127.0.0.1:{port}/x?");
    for action in ["health", "machines", "logs", "deploy"] {
        let out = op(&repo, &["fly", action, "--app", &app], &env);
        assert_eq!(out.code, 1, "{action}: {}", out.stderr);
        assert!(
            out.stderr.contains("invalid name for `fly")
                && out.stderr.contains("at `--app`")
                && out.stderr.contains("Fly names are 2 to 63 characters"),
            "{action}: {}",
            out.stderr
        );
    }
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the injected host was connected to: {other:?}"),
    }
    assert!(sb.requests().is_empty(), "{:?}", sb.requests());
    assert!(!repo.root().join("proofs").exists(), "nothing was written");
}

/// F8: with the sandbox's template (`http://…/fly/apps/{app}`), `--app ../../etc` requested
/// `/etc/healthz`. Now neither the app nor a health path can climb out of the app's URL.
#[test]
fn an_app_or_health_path_that_climbs_is_refused_before_any_request() {
    let sb = sandbox();
    let repo = repo(DESIRED);
    let env = env_of(&sb, &[]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["fly", "health", "--app", "../../etc"],
            "at `--app`: `../../etc`",
        ),
        (&["fly", "health", "--app", "a/b"], "at `--app`"),
        (
            &["fly", "health", "--app", "x\u{1b}[2J\n::error::forged"],
            "at `--app`: `x\\u{1b}[2J\\u{a}::error::forged`",
        ),
        (
            &[
                "fly",
                "health",
                "--app",
                "sophiaai-dashboard-v2",
                "--payload",
                r#"{"path": "/../../etc/healthz"}"#,
            ],
            "at `path`",
        ),
    ];
    for (args, expect) in cases {
        let out = op(&repo, args, &env);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(expect), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains('\u{1b}'), "{}", out.stderr);
    }
    assert!(sb.requests().is_empty(), "{:?}", sb.requests());
    // The same app, well named, is reached through the builder.
    let out = op(
        &repo,
        &["fly", "health", "--app", "sophiaai-dashboard-v2"],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let paths: Vec<String> = sb.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        paths
            .iter()
            .any(|p| p == "/fly/apps/sophiaai-dashboard-v2/healthz"),
        "{paths:?}"
    );
    assert!(paths.iter().all(|p| !p.contains("etc")), "{paths:?}");
}

/// F12: `op fly deploy --payload '{"image":"x y"}'` wrote a plan with an invalid image. Every
/// name of a payload now obeys the desired state's rules, and no plan is written.
#[test]
fn payload_names_obey_the_desired_rules_and_write_no_plan() {
    let sb = sandbox();
    let repo = repo(DESIRED);
    let env = env_of(&sb, &[]);
    let app = "sophiaai-dashboard-v2";
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "fly",
                "deploy",
                "--app",
                app,
                "--payload",
                r#"{"image": "x y"}"#,
            ],
            "at `image`: `x y`: it holds whitespace",
        ),
        (
            &[
                "fly",
                "deploy",
                "--app",
                app,
                "--payload",
                r#"{"image": "EVIL:1"}"#,
            ],
            "at `image`",
        ),
        (
            &[
                "fly",
                "set-secrets",
                "--app",
                app,
                "--payload",
                r#"{"secret_names": ["lower"]}"#,
            ],
            "at `secret_names`",
        ),
        (
            &[
                "github",
                "protect",
                "--payload",
                r#"{"repo": "o/r.environment.e", "require_review": true}"#,
            ],
            "at `repo`",
        ),
        (
            &[
                "github",
                "protect",
                "--payload",
                r#"{"branch": "a..b", "require_review": true}"#,
            ],
            "at `branch`",
        ),
        (
            &["github", "audit", "--payload", r#"{"repo": "../../x/y"}"#],
            "at `repo`",
        ),
    ];
    for (args, expect) in cases {
        let out = op(&repo, args, &env);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(expect), "{args:?}: {}", out.stderr);
    }
    assert!(sb.requests().is_empty(), "{:?}", sb.requests());
    assert!(!repo.root().join("plan.json").exists());
    // A well-formed image still plans.
    let out = op(
        &repo,
        &[
            "fly",
            "deploy",
            "--app",
            app,
            "--payload",
            r#"{"image": "registry.fly.io/dash:2"}"#,
        ],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(repo.root().join("plan.json").exists());
}

// ───────────────────────────── plans from the CLI ─────────────────────────────

const SMALL: &str = "fly:\n  org: pay-ready\n  apps:\n    app-a:\n      count: 1\n";
const LIVE: &str =
    r#"{"format": "sophia-live/v1", "taken_at": "2026-01-01T00:00:00Z", "resources": {}}"#;

fn plan_repo() -> Repo {
    let repo = Repo::new();
    repo.file("desired/main.yaml", SMALL)
        .file("live.json", LIVE);
    repo
}

fn run(repo: &Repo, args: &[&str]) -> crate::support::Output {
    let path = std::env::var("PATH").unwrap_or_default();
    repo.run(
        args,
        &[
            ("PATH", path.as_str()),
            ("HOME", repo.root().to_str().unwrap()),
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("GIT_AUTHOR_NAME", "t"),
            ("GIT_AUTHOR_EMAIL", "t@example.com"),
            ("GIT_COMMITTER_NAME", "t"),
            ("GIT_COMMITTER_EMAIL", "t@example.com"),
        ],
    )
}

fn git(repo: &Repo, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .arg("-C")
        .arg(repo.root())
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", repo.root())
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

fn plan_file(repo: &Repo) -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo.root().join("plan.json")).unwrap()).unwrap()
}

/// F12: a plan of a `desired/` with uncommitted changes recorded HEAD as if it were clean.
/// It now records `desired.git_dirty: true` (inside the digest) and warns.
#[test]
fn a_plan_of_uncommitted_desired_state_says_so() {
    let repo = plan_repo();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "desired"]);
    let args = ["plan", "--live", "live.json", "--out", "plan.json"];
    let clean = run(&repo, &args);
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    assert!(!clean.stderr.contains("uncommitted"), "{}", clean.stderr);
    let plan = plan_file(&repo);
    assert!(plan["desired"]["git_commit"].is_string());
    assert!(plan["desired"].get("git_dirty").is_none(), "{plan}");

    repo.file("desired/main.yaml", &SMALL.replace("count: 1", "count: 2"));
    let dirty = run(&repo, &args);
    assert_eq!(dirty.code, 0, "{}", dirty.stderr);
    assert!(
        dirty
            .stderr
            .contains("warning: desired/ has uncommitted changes"),
        "{}",
        dirty.stderr
    );
    let plan = plan_file(&repo);
    assert_eq!(plan["desired"]["git_dirty"], true, "{plan}");
    // The flag is signed: the digest covers it.
    let parsed: sophia::core::plan::Plan = serde_json::from_value(plan).unwrap();
    assert_eq!(sophia::core::digest::plan_digest(&parsed), parsed.digest);

    // An untracked file under desired/ is loaded, so it makes the plan dirty too.
    git(&repo, &["checkout", "-q", "--", "desired"]);
    repo.file(
        "desired/extra.yaml",
        "slack: { notify_channel: \"#infra\" }\n",
    );
    assert_eq!(run(&repo, &args).code, 0);
    assert_eq!(plan_file(&repo)["desired"]["git_dirty"], true);
}

/// F3 (ttl): `plan --ttl 30d` gave a plan replayable for a month. The validity is capped by
/// `[policy] max_ttl` (default 7 days), and verify refuses a plan made beyond the cap.
#[test]
fn plan_validity_is_capped_and_verify_refuses_a_plan_over_the_cap() {
    let repo = plan_repo();
    let long = run(
        &repo,
        &[
            "plan",
            "--live",
            "live.json",
            "--ttl",
            "30d",
            "--out",
            "plan.json",
        ],
    );
    assert_eq!(long.code, 1, "{}", long.stderr);
    assert!(
        long.stderr
            .contains("`--ttl 30days` is longer than plans may be valid here: at most 7days")
            && long.stderr.contains("hint: use a shorter `--ttl`"),
        "{}",
        long.stderr
    );
    assert!(!repo.root().join("plan.json").exists());
    assert_eq!(
        run(
            &repo,
            &[
                "plan",
                "--live",
                "live.json",
                "--ttl",
                "7d",
                "--out",
                "plan.json"
            ]
        )
        .code,
        0
    );

    // Raised cap: the plan is made; lowered again, verify refuses it though it is unexpired.
    repo.file(
        ".infra/sophia.toml",
        "approval = \"digest\"\n[policy]\nmax_ttl = \"40d\"\n",
    );
    let out = run(
        &repo,
        &[
            "plan",
            "--live",
            "live.json",
            "--ttl",
            "30d",
            "--out",
            "plan.json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let digest = plan_file(&repo)["digest"].as_str().unwrap().to_string();
    let ok = run(&repo, &["verify", "plan.json", "--approve", &digest]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    repo.file(".infra/sophia.toml", "approval = \"digest\"\n");
    let refused = run(&repo, &["verify", "plan.json", "--approve", &digest]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("the plan is valid for 30days (from `created_at` to `not_after`), longer than the cap of 7days"),
        "{}",
        refused.stderr
    );
}
