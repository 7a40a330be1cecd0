//! The operations layer seen from the command line: `plan` and `drift` read live state the
//! same way (`ops::refresh::read_live`), so they agree on what differs.

use serde_json::Value;
use sophia::sandbox::{Sandbox, SandboxConfig};

use crate::support::Repo;

/// Fly is managed and active in `desired/`, with its organization and no apps, so the only
/// possible difference is the provider's activation.
const DESIRED: &str = "providers:\n  fly: active\nfly:\n  org: pay-ready\n";

/// The activation record of a Fly that the last apply left paused: the live side of
/// `provider.fly` is `paused`, though the provider answers.
const FLY_PAUSED: &str = r#"{
  "format": "sophia-activation/v1",
  "providers": { "fly": { "activation": "paused", "at": "2026-01-01T00:00:00Z" } }
}
"#;

/// The addresses of a list of changes.
fn addresses(changes: &Value) -> Vec<String> {
    changes
        .as_array()
        .expect("a list of changes")
        .iter()
        .map(|c| c["address"].as_str().expect("an address").to_string())
        .collect()
}

#[test]
fn drift_sees_the_activation_record_as_plan_does() {
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let env: Vec<(String, String)> = sandbox.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let repo = Repo::new();
    repo.file("desired/main.yaml", DESIRED)
        .file("proofs/secrets/activation.json", FLY_PAUSED);

    let plan = repo.run(&["plan", "--format", "json"], &env);
    assert_eq!(plan.code, 0, "{plan:?}");
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    let planned = addresses(&plan["changes"]);
    assert_eq!(planned, ["provider.fly"], "plan activates the paused Fly");

    let drift = repo.run(&["--json", "drift"], &env);
    assert_eq!(drift.code, 2, "a difference is drift: {drift:?}");
    let envelope: Value = serde_json::from_str(&drift.stdout).unwrap();
    assert_eq!(
        addresses(&envelope["results"][0]["changes"]),
        planned,
        "drift sees what plan sees"
    );
    assert_eq!(
        envelope["results"][0]["changes"][0]["before"]["activation"],
        "paused"
    );

    // Without the record both see a Fly that answers as active: no difference at all.
    std::fs::remove_file(repo.root().join("proofs/secrets/activation.json")).unwrap();
    let drift = repo.run(&["drift"], &env);
    assert_eq!(drift.code, 0, "{drift:?}");
    let plan = repo.run(&["plan", "--detailed-exitcode"], &env);
    assert_eq!(plan.code, 0, "{plan:?}");
}

/// A repository whose `main` is governed; the sandbox holds it unprotected.
const GOVERNED: &str = "providers:\n  github: active\ngithub:\n  repos:\n    ai-cherry/sophia-demo:\n      branches:\n        main:\n          protection:\n            required_status_checks: { strict: true, contexts: [ci] }\n            enforce_admins: true\n            required_pull_request_reviews: null\n            restrictions: null\n";

/// How long a plan file says it stays valid.
fn validity(plan: &Value) -> chrono::Duration {
    let at = |k: &str| {
        chrono::DateTime::parse_from_rfc3339(plan[k].as_str().unwrap()).expect("an RFC 3339 time")
    };
    at("not_after") - at("created_at")
}

#[test]
fn the_front_door_stamps_its_targeted_plans_as_plan_does() {
    let seed = "github:\n  repos:\n    ai-cherry/sophia-demo: { branches: [main] }\n";
    let sandbox = Sandbox::start(SandboxConfig {
        seed: sophia::sandbox::Seed::parse(seed).unwrap(),
        ..SandboxConfig::default()
    })
    .unwrap();
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let mut env: Vec<(String, String)> = sandbox.env();
    env.push(("GITHUB_SHA".into(), commit.into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let repo = Repo::new();
    repo.file("desired/main.yaml", GOVERNED);
    let read = |rel: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(repo.root().join(rel)).unwrap()).unwrap()
    };

    let out = repo.run(&["plan", "--out", "full.json"], &env);
    assert_eq!(out.code, 0, "{out:?}");
    let payload = r#"{"required_checks": ["ci", "Deploy All"]}"#;
    let out = repo.run(
        &[
            "op",
            "github",
            "protect",
            "--out",
            "targeted.json",
            "--payload",
            payload,
        ],
        &env,
    );
    assert_eq!(out.code, 0, "{out:?}");

    let (full, targeted) = (read("full.json"), read("targeted.json"));
    assert_eq!(full["desired"]["git_commit"], commit);
    assert_eq!(targeted["desired"]["git_commit"], commit, "{targeted}");
    assert_eq!(validity(&full), chrono::Duration::hours(24));
    assert_eq!(validity(&targeted), validity(&full));
    assert_eq!(
        targeted["targets"],
        serde_json::json!(["github.repo.ai-cherry/sophia-demo.branch.main.protection"])
    );
}
