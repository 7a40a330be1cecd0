//! Secret rotation (issue 14): `{name, rotation}` entries; raising the number plans exactly
//! one set whose value the sandbox receives (GitHub's sealed box, opened by the sandbox); a
//! secret set outside sophia after its last set is drift; a negative rotation is refused
//! with its `file:line:column`.

use crate::apply::{CANARY, DESIRED, Rig};
use crate::support::Repo;

/// The rig's desired state with both `ONE_SECRET`s watched at `fly` and `gh` rotations.
fn rotated(fly: i64, gh: i64) -> String {
    DESIRED
        .replace(
            "      secrets: [ONE_SECRET]",
            &format!("      secrets: [{{ name: ONE_SECRET, rotation: {fly} }}]"),
        )
        .replace(
            "      actions_secrets: [ONE_SECRET]",
            &format!("      actions_secrets: [{{ name: ONE_SECRET, rotation: {gh} }}]"),
        )
}

fn apply(rig: &Rig) {
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

fn plan_json(rig: &Rig) -> serde_json::Value {
    rig.plan(&[]);
    serde_json::from_str(&std::fs::read_to_string(rig.repo.root().join("plan.json")).unwrap())
        .unwrap()
}

fn action_ids(plan: &serde_json::Value) -> Vec<String> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn raising_a_rotation_sets_that_secret_once_and_an_outside_set_is_drift() {
    let mut rig = Rig::new();
    rig.repo.file("desired/main.yaml", &rotated(1, 1));
    apply(&rig);
    let again = plan_json(&rig);
    assert!(action_ids(&again).is_empty(), "{:?}", action_ids(&again));

    // Raise the Actions secret's rotation, with a new value in the environment.
    let new_value = "rotated-value-2-7c1e";
    for (k, v) in rig.env.iter_mut() {
        if k == "ONE_SECRET" {
            *v = new_value.into();
        }
    }
    rig.repo.file("desired/main.yaml", &rotated(1, 2));
    let plan = plan_json(&rig);
    assert_eq!(
        action_ids(&plan),
        vec!["github.secret.put:github.repo.acme/infra.secret.ONE_SECRET"]
    );
    assert_eq!(plan["actions"][0]["params"]["rotation"], 2);
    let text = std::fs::read_to_string(rig.repo.root().join("plan.json")).unwrap();
    assert!(!text.contains(new_value) && !text.contains(CANARY));
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let before = rig.mutating_requests().len();
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sent: Vec<String> = rig.mutating_requests().split_off(before);
    assert_eq!(
        sent,
        vec!["PUT /github/repos/acme/infra/actions/secrets/ONE_SECRET"],
        "exactly one set"
    );
    rig.sandbox.with_world(|w| {
        let s = &w.github.repos["acme/infra"].secrets["ONE_SECRET"];
        assert_eq!(
            s.value.as_deref(),
            Some(new_value.as_bytes()),
            "the sandbox opened the sealed box"
        );
    });
    assert!(action_ids(&plan_json(&rig)).is_empty(), "converged");

    // The Fly secret set directly at Fly, after sophia's last set: drift.
    rig.sandbox.with_world(|w| {
        let s = w
            .fly
            .apps
            .get_mut("app-one")
            .unwrap()
            .secrets
            .get_mut("ONE_SECRET")
            .unwrap();
        s.value = Some("set-by-hand".into());
        s.updated_at = "2099-01-01T00:00:00Z".into();
    });
    let drift = rig.run(&["drift"]);
    assert_eq!(drift.code, 2, "{}\n{}", drift.stdout, drift.stderr);
    let shown = format!("{}{}", drift.stdout, drift.stderr);
    assert!(shown.contains("fly.app.app-one.secrets"), "{shown}");
    assert!(
        shown.contains("set outside sophia at 2099-01-01T00:00:00Z"),
        "{shown}"
    );
    // The plan repairs it by setting that secret again.
    let plan = plan_json(&rig);
    let ids = action_ids(&plan);
    assert!(
        ids.contains(&"fly.secrets.set:fly.app.app-one.secrets".to_string()),
        "{ids:?}"
    );
    let set = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "fly.secrets.set")
        .unwrap();
    assert_eq!(set["params"]["names"], serde_json::json!(["ONE_SECRET"]));
}

#[test]
fn a_negative_rotation_is_refused_with_its_position() {
    let repo = Repo::new();
    repo.file(
        "desired/main.yaml",
        "fly:\n  org: pay-ready\n  apps:\n    a:\n      secrets:\n        - A\n        - { name: B, rotation: -1 }\n",
    );
    let before = repo.files();
    let out = repo.run(&["validate"], &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("desired/main.yaml:7:32: invalid rotation -1 of secret `B`: expected a whole number 0 or more"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("hint:"), "{}", out.stderr);
    assert_eq!(repo.files(), before, "nothing written");
}

#[test]
fn an_environment_secret_rotates_through_its_environment() {
    let mut rig = Rig::new();
    let with_env = |r: i64| {
        DESIRED.replace(
            "      actions_secrets: [ONE_SECRET]",
            &format!(
                "      actions_secrets: [ONE_SECRET]\n      environments:\n        production:\n          reviewers: []\n          secrets: [{{ name: ONE_SECRET, rotation: {r} }}]"
            ),
        )
    };
    rig.repo.file("desired/main.yaml", &with_env(4));
    apply(&rig);
    assert!(action_ids(&plan_json(&rig)).is_empty(), "converged");
    for (k, v) in rig.env.iter_mut() {
        if k == "ONE_SECRET" {
            *v = "env-rotated-5-a3f0".into();
        }
    }
    rig.repo.file("desired/main.yaml", &with_env(5));
    let plan = plan_json(&rig);
    assert_eq!(
        action_ids(&plan),
        vec!["github.environment.put:github.repo.acme/infra.environment.production"]
    );
    assert_eq!(
        plan["actions"][0]["params"]["set_secrets"],
        serde_json::json!(["ONE_SECRET"])
    );
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let before = rig.mutating_requests().len();
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sent = rig.mutating_requests().split_off(before);
    let puts: Vec<&String> = sent
        .iter()
        .filter(|r| r.contains("/secrets/ONE_SECRET"))
        .collect();
    assert_eq!(
        puts,
        vec!["PUT /github/repos/acme/infra/environments/production/secrets/ONE_SECRET"],
        "the rotated secret is set once: {sent:?}"
    );
    assert!(action_ids(&plan_json(&rig)).is_empty(), "converged");
}
