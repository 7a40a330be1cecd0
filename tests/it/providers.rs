//! The Fly and GitHub providers against the in-process sandbox: refresh reads only, executed
//! plans converge, out-of-band drift shows as exactly that change, a failed rolling deploy
//! rolls back, GitHub request bodies validate against GitHub's own OpenAPI description, rate
//! limits are waited out, repeated 5xx end in a clear error, and no secret value escapes.

use crate::support::{conformance_dir, plan_of, refresh};
use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use sophia::core::address::Address;
use sophia::core::desired::{self, Desired, ProviderName, Source};
use sophia::core::envelope::Status;
use sophia::core::live::LiveSnapshot;
use sophia::core::plan::{Action, ActionId, ChangeKind, Plan};
use sophia::providers::http::Recorder;
use sophia::providers::{
    ActionOutcome, Credentials, Http, Provider, RetryPolicy, refresh_all_with,
};
use sophia::sandbox::{FaultConfig, FaultKind, Sandbox, SandboxConfig, SandboxHandle, Seed};

/// Secret values no output, log or file may ever contain.
const CANARY_NEON: &str = "canary-neon-3f9a1c7e5b";
const CANARY_DEPLOY: &str = "canary-deploy-8d2e4b6a0c";

const APP: &str = "sophiaai-dashboard-v2";
const REPO: &str = "ai-cherry/sophia-intel-ai";

/// An empty Fly organization and an unprotected repository without secrets.
const EMPTY_SEED: &str = r#"
fly:
  orgs: [pay-ready]
github:
  users: [the-ceo]
  repos:
    ai-cherry/sophia-intel-ai: { branches: [main] }
"#;

const DESIRED: &str = r#"
fly:
  org: pay-ready
  apps:
    sophiaai-dashboard-v2:
      image: registry.fly.io/sophiaai-dashboard-v2:deployment-01
      regions: [ord]
      count: 2
      guest: { cpu_kind: shared, cpus: 1, memory_mb: 512 }
      env: { LOG_LEVEL: info }
      secrets: [NEON_DATABASE_URL]
      health: { path: /healthz, port: 8080, expect_status: 200 }
      strategy: rolling
github:
  repos:
    ai-cherry/sophia-intel-ai:
      branches:
        main:
          protection:
            required_status_checks: { strict: true, contexts: ["Deploy All"] }
            enforce_admins: true
            required_pull_request_reviews: { require_code_owner_reviews: true }
            restrictions: null
      actions_secrets: [DEPLOY_TOKEN]
      environments:
        production: { reviewers: [{ type: User, login: the-ceo }] }
"#;

fn sandbox(seed: &str) -> SandboxHandle {
    sandbox_with(seed, FaultConfig::default())
}

fn sandbox_with(seed: &str, faults: FaultConfig) -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        seed: Seed::parse(seed).expect("the test seed parses"),
        faults,
        ..SandboxConfig::default()
    })
    .expect("the sandbox starts")
}

fn creds(sb: &SandboxHandle) -> Credentials {
    Credentials::from_pairs(sb.env())
}

fn fast_http() -> Http {
    Http::new(RetryPolicy::fast(), 16)
}

fn load(yaml: &str) -> Desired {
    desired::load(&[Source {
        path: "desired/main.yaml".into(),
        text: yaml.into(),
    }])
    .expect("the test desired state loads")
}

fn secrets() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("NEON_DATABASE_URL".to_string(), CANARY_NEON.to_string()),
        ("DEPLOY_TOKEN".to_string(), CANARY_DEPLOY.to_string()),
    ])
}

fn provider(name: &str, creds: &Credentials, http: &Http) -> Provider {
    Provider::configure(ProviderName::parse(name).unwrap(), creds, http)
        .expect("an implemented provider")
        .expect("configured")
}

/// Run the plan's actions in its (topological) order, as apply will.
async fn execute_all(
    plan: &Plan,
    creds: &Credentials,
    http: &Http,
) -> Vec<(Action, ActionOutcome)> {
    let mut out = Vec::new();
    for action in &plan.actions {
        let outcome = match action.address.provider() {
            p @ ("fly" | "github") => provider(p, creds, http).execute(action, &secrets()).await,
            other => panic!("unexpected action for `{other}`: {}", action.id),
        };
        out.push((action.clone(), outcome));
    }
    out
}

/// The plan's changes by address, sorted (the order of the plan itself is the planner's).
fn changes(plan: &Plan) -> Vec<(String, ChangeKind)> {
    let mut out: Vec<_> = plan
        .changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect();
    out.sort();
    out
}

fn assert_no_canary(what: &str, text: &str) {
    for canary in [CANARY_NEON, CANARY_DEPLOY] {
        assert!(!text.contains(canary), "a secret value leaked into {what}");
    }
}

/// From nothing to converged: the plan, the request log of refresh, and the outcomes.
async fn converge(sb: &SandboxHandle, http: &Http) -> (Desired, Plan) {
    let desired = load(DESIRED);
    let creds = creds(sb);
    sb.clear_requests();
    let live = refresh(&desired, &creds, http).await;
    let plan = plan_of(&desired, &live);
    let refresh_log = sb.requests();
    assert!(!refresh_log.is_empty());
    for entry in &refresh_log {
        // Reads only: GETs, and the registry's HEADs that resolve image tags.
        assert!(
            entry.method == "GET" || entry.method == "HEAD",
            "refresh/plan made a mutating call: {} {}",
            entry.method,
            entry.path
        );
    }
    let outcomes = execute_all(&plan, &creds, http).await;
    for (action, outcome) in &outcomes {
        assert!(
            outcome.is_success(),
            "{} failed: {:?}",
            action.id,
            outcome.errors
        );
        let envelope = outcome.envelope(format!("apply {}", action.id), "t", 0);
        assert_no_canary(
            "an action's envelope",
            &serde_json::to_string(&envelope).unwrap(),
        );
    }
    (desired, plan)
}

#[tokio::test]
async fn a_plan_from_nothing_creates_everything_and_converges() {
    let sb = sandbox(EMPTY_SEED);
    let http = fast_http();
    let (desired, plan) = converge(&sb, &http).await;
    assert_eq!(
        changes(&plan),
        [
            (format!("fly.app.{APP}"), ChangeKind::Create),
            (format!("fly.app.{APP}.machines"), ChangeKind::Create),
            (format!("fly.app.{APP}.secrets"), ChangeKind::Create),
            (
                format!("github.repo.{REPO}.branch.main.protection"),
                ChangeKind::Create
            ),
            (
                format!("github.repo.{REPO}.environment.production"),
                ChangeKind::Create
            ),
            (
                format!("github.repo.{REPO}.secret.DEPLOY_TOKEN"),
                ChangeKind::Create
            ),
        ]
    );
    let kinds: Vec<&str> = plan.actions.iter().map(|a| a.kind.as_str()).collect();
    for kind in [
        "fly.app.create",
        "fly.secrets.set",
        "fly.machines.update",
        "fly.health.check",
        "github.protection.put",
        "github.secret.put",
        "github.environment.put",
    ] {
        assert!(kinds.contains(&kind), "no `{kind}` in {kinds:?}");
    }

    // After the actions, a new refresh and plan show nothing to do.
    let live = refresh(&desired, &creds(&sb), &http).await;
    let again = plan_of(&desired, &live);
    assert_eq!(changes(&again), [], "not converged: {:#?}", again.changes);
    assert_eq!(
        live.get(&Address::parse(&format!("fly.app.{APP}.machines")).unwrap())
            .unwrap()["count"],
        json!(2)
    );

    // The secrets arrived (the sandbox opened the sealed box), and nothing logged them.
    let stored = sb.with_world(|w| {
        w.github.repos[REPO].secrets["DEPLOY_TOKEN"]
            .value
            .clone()
            .unwrap_or_default()
    });
    assert_eq!(stored, CANARY_DEPLOY.as_bytes());
    let log = serde_json::to_string(&sb.requests()).unwrap();
    assert_no_canary("the sandbox request log", &log);
    assert_no_canary("the live snapshot", &serde_json::to_string(&live).unwrap());
    assert_no_canary("the plan", &serde_json::to_string(&plan).unwrap());
}

#[tokio::test]
async fn out_of_band_changes_show_up_as_exactly_that_change() {
    let sb = sandbox(EMPTY_SEED);
    let http = fast_http();
    let (desired, _) = converge(&sb, &http).await;

    // Someone loosens the protection, swaps one machine's image and deletes a secret.
    sb.with_world(|w| {
        let repo = w.github.repos.get_mut(REPO).unwrap();
        let body = repo.branches.get_mut("main").unwrap().as_mut().unwrap();
        body["enforce_admins"] = json!(false);
        repo.secrets.remove("DEPLOY_TOKEN");
        let app = w.fly.apps.get_mut(APP).unwrap();
        let machine = app.machines.values_mut().next().unwrap();
        machine.config["image"] = json!("registry.fly.io/sophiaai-dashboard-v2:hotfix");
    });

    let live = refresh(&desired, &creds(&sb), &http).await;
    let plan = plan_of(&desired, &live);
    assert_eq!(
        changes(&plan),
        [
            (format!("fly.app.{APP}.machines"), ChangeKind::Update),
            (
                format!("github.repo.{REPO}.branch.main.protection"),
                ChangeKind::Update
            ),
            (
                format!("github.repo.{REPO}.secret.DEPLOY_TOKEN"),
                ChangeKind::Create
            ),
        ]
    );
    let diff_paths = |address: &str| -> Vec<(String, Value, Value)> {
        plan.changes
            .iter()
            .find(|c| c.address.to_string() == address)
            .unwrap()
            .diff
            .iter()
            .map(|d| (d.path.clone(), d.before.clone(), d.after.clone()))
            .collect()
    };
    assert_eq!(
        diff_paths(&format!("github.repo.{REPO}.branch.main.protection")),
        [("enforce_admins".to_string(), json!(false), json!(true))]
    );
    let machines = diff_paths(&format!("fly.app.{APP}.machines"));
    assert_eq!(machines.len(), 1, "{machines:?}");
    assert_eq!(machines[0].0, "image");
    // Back to the desired tag's digest (the hot-fixed machine runs its own).
    assert!(
        machines[0].1.as_array().unwrap().contains(&json!(by_digest(
            "registry.fly.io/sophiaai-dashboard-v2:hotfix"
        ))),
        "{machines:?}"
    );
    assert_eq!(
        machines[0].2,
        json!(by_digest(
            "registry.fly.io/sophiaai-dashboard-v2:deployment-01"
        ))
    );
}

const RUNNING_SEED: &str = r#"
fly:
  orgs: [pay-ready]
  apps:
    sophiaai-dashboard-v2: { org: pay-ready, image: "registry.fly.io/dash:1", count: 3, region: ord }
"#;

fn machines_action(params: Value) -> Action {
    let address = Address::FlyMachines { app: APP.into() };
    Action {
        id: ActionId(format!("fly.machines.update:{address}")),
        address,
        kind: "fly.machines.update".parse().unwrap(),
        params,
        depends_on: Vec::new(),
    }
}

/// How a machine deployed with `tag` reads live: by the digest the sandbox's registry holds
/// for the tag (derived from its name unless the seed re-points it).
fn by_digest(tag: &str) -> String {
    let name = tag.rsplit_once(':').unwrap().0;
    format!("{name}@{}", sophia::sandbox::state::derived_digest(tag))
}

async fn machine_images(fly: &Provider) -> Value {
    let address = Address::FlyMachines { app: APP.into() };
    let live = fly.refresh(std::slice::from_ref(&address)).await.unwrap();
    live[&address].clone()
}

#[tokio::test]
async fn a_rolling_deploy_that_fails_its_health_check_rolls_back() {
    let sb = sandbox(RUNNING_SEED);
    let http = fast_http();
    let fly = provider("fly", &creds(&sb), &http);
    let outcome = fly
        .execute(
            &machines_action(json!({"image": "registry.fly.io/dash:bad-2", "strategy": "rolling"})),
            &secrets(),
        )
        .await;
    let envelope = outcome.envelope("apply fly.machines.update", "2026-01-01T00:00:00Z", 1);
    assert_eq!(envelope.status, Status::Failure);
    assert_eq!(envelope.errors[0].provider, "fly");
    assert_eq!(envelope.errors[0].code, "health-check-failed");
    assert!(
        envelope.errors[0].message.contains("rolled back 1 machine"),
        "{}",
        envelope.errors[0].message
    );
    let actions: Vec<&str> = envelope
        .results
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(actions, ["updated", "rolled-back"]);

    // The previous image runs everywhere, and the app is healthy again.
    let live = machine_images(&fly).await;
    assert_eq!(live["image"], json!(by_digest("registry.fly.io/dash:1")));
    assert_eq!(live["count"], json!(3));
    let health = fly.op("health", &json!({"app": APP})).await;
    assert_eq!(health.status, Status::Success, "{:?}", health.errors);
}

/// The sandbox's machines of the app: (id, image), sorted by id.
fn machines_in(sb: &SandboxHandle) -> Vec<(String, String)> {
    sb.with_world(|w| {
        let mut out: Vec<(String, String)> = w.fly.apps[APP]
            .machines
            .values()
            .map(|m| {
                (
                    m.id.clone(),
                    m.config["image"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        out.sort();
        out
    })
}

fn result_actions(outcome: &sophia::providers::ActionOutcome) -> Vec<String> {
    outcome
        .results
        .iter()
        .filter_map(|r| r["action"].as_str().map(str::to_string))
        .collect()
}

fn secrets_action(params: Value) -> Action {
    let address = Address::FlySecrets { app: APP.into() };
    Action {
        id: ActionId(format!("fly.secrets.set:{address}")),
        address,
        kind: "fly.secrets.set".parse().unwrap(),
        params,
        depends_on: Vec::new(),
    }
}

/// (the app's secrets version, each machine's), from the sandbox.
fn secrets_versions(sb: &SandboxHandle) -> (u64, Vec<u64>) {
    sb.with_world(|w| {
        let app = &w.fly.apps[APP];
        (
            app.secrets_version,
            app.machines.values().map(|m| m.secrets_version).collect(),
        )
    })
}

#[tokio::test]
async fn new_secrets_reach_running_machines_through_a_redeploy() {
    let sb = sandbox(RUNNING_SEED);
    let http = fast_http();
    let fly = provider("fly", &creds(&sb), &http);

    // Set only (the plan updates the machines anyway): they still run the old version.
    let outcome = fly
        .execute(
            &secrets_action(json!({"names": ["NEON_DATABASE_URL"], "restart_machines": false})),
            &secrets(),
        )
        .await;
    assert!(outcome.is_success(), "{:?}", outcome.errors);
    let (app, machines) = secrets_versions(&sb);
    assert!(machines.iter().all(|m| *m < app), "{app} vs {machines:?}");

    // Set and redeploy: every machine was updated after the secrets, with a health check.
    sb.clear_requests();
    let outcome = fly
        .execute(
            &secrets_action(json!({
                "names": ["DEPLOY_TOKEN"], "restart_machines": true,
                "strategy": "rolling", "health": {"path": "/healthz", "expect_status": 200},
            })),
            &secrets(),
        )
        .await;
    assert!(outcome.is_success(), "{:?}", outcome.errors);
    assert!(
        outcome.text.contains("redeployed 3 machine(s)"),
        "{}",
        outcome.text
    );
    let (app, machines) = secrets_versions(&sb);
    assert_eq!(machines, vec![app; 3]);
    let health_checks = sb
        .requests()
        .iter()
        .filter(|e| e.path.contains("/fly/apps/") && e.path.ends_with("/healthz"))
        .count();
    assert_eq!(health_checks, 3, "one check per batch of one");
    assert_eq!(
        machine_images(&fly).await["image"],
        json!(by_digest("registry.fly.io/dash:1")),
        "the same config"
    );
}

#[tokio::test]
async fn a_canary_checks_one_new_machine_before_touching_the_others() {
    let sb = sandbox(RUNNING_SEED);
    let http = fast_http();
    let fly = provider("fly", &creds(&sb), &http);
    let before = machines_in(&sb);

    // A failing canary: destroyed, and no existing machine changed.
    let outcome = fly
        .execute(
            &machines_action(json!({"image": "registry.fly.io/dash:bad-2", "strategy": "canary"})),
            &secrets(),
        )
        .await;
    assert!(!outcome.is_success());
    assert_eq!(outcome.errors[0].code, "health-check-failed");
    assert!(
        outcome.errors[0].message.contains("canary of `")
            && outcome.errors[0]
                .message
                .contains("no existing machine was changed"),
        "{}",
        outcome.errors[0].message
    );
    assert_eq!(
        result_actions(&outcome),
        ["canary-created", "canary-destroyed"]
    );
    assert_eq!(machines_in(&sb), before, "the machines are untouched");

    // A passing canary: destroyed, then every machine updated in place.
    let outcome = fly
        .execute(
            &machines_action(json!({"image": "registry.fly.io/dash:2", "strategy": "canary"})),
            &secrets(),
        )
        .await;
    assert!(outcome.is_success(), "{:?}", outcome.errors);
    assert_eq!(
        result_actions(&outcome),
        [
            "canary-created",
            "canary-destroyed",
            "updated",
            "updated",
            "updated"
        ]
    );
    let after = machines_in(&sb);
    assert_eq!(
        after.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        before.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        "updated in place, the canary gone"
    );
    assert!(
        after
            .iter()
            .all(|(_, image)| image == "registry.fly.io/dash:2")
    );
}

#[tokio::test]
async fn blue_green_replaces_every_machine_only_once_the_new_ones_are_healthy() {
    let sb = sandbox(RUNNING_SEED);
    let http = fast_http();
    let fly = provider("fly", &creds(&sb), &http);
    let blue = machines_in(&sb);

    // Unhealthy green machines are destroyed; the blue ones keep serving.
    let outcome = fly
        .execute(
            &machines_action(
                json!({"image": "registry.fly.io/dash:bad-2", "strategy": "bluegreen"}),
            ),
            &secrets(),
        )
        .await;
    assert!(!outcome.is_success());
    assert!(
        outcome.errors[0].message.contains("blue-green deploy")
            && outcome.errors[0]
                .message
                .contains("destroyed 3 new machine(s), the previous ones were not touched"),
        "{}",
        outcome.errors[0].message
    );
    assert_eq!(machines_in(&sb), blue);
    let health = fly.op("health", &json!({"app": APP})).await;
    assert_eq!(health.status, Status::Success, "{:?}", health.errors);

    // Healthy green machines replace the blue ones: new ids, the new image, the same count.
    let outcome = fly
        .execute(
            &machines_action(json!({"image": "registry.fly.io/dash:2", "strategy": "bluegreen"})),
            &secrets(),
        )
        .await;
    assert!(outcome.is_success(), "{:?}", outcome.errors);
    let green = machines_in(&sb);
    assert_eq!(green.len(), 3);
    assert!(
        green
            .iter()
            .all(|(_, image)| image == "registry.fly.io/dash:2")
    );
    assert!(
        green.iter().all(|g| blue.iter().all(|b| b.0 != g.0)),
        "new machines: {green:?} vs {blue:?}"
    );
    assert_eq!(
        result_actions(&outcome)
            .iter()
            .filter(|a| *a == "blue-destroyed")
            .count(),
        3
    );
}

#[tokio::test]
async fn rolling_updates_go_in_batches_and_immediate_skips_the_checks() {
    let sb = sandbox(RUNNING_SEED);
    let http = fast_http();
    let fly = provider("fly", &creds(&sb), &http);

    sb.clear_requests();
    let outcome = fly
        .execute(
            &machines_action(json!({"image": "registry.fly.io/dash:2", "strategy": "rolling", "max_unavailable": 2})),
            &secrets(),
        )
        .await;
    assert!(outcome.is_success(), "{:?}", outcome.errors);
    let calls: Vec<String> = sb
        .requests()
        .iter()
        .map(|e| {
            let kind = if e.path.ends_with("/lease") {
                if e.method == "POST" {
                    "lease"
                } else {
                    "release"
                }
            } else if e.path.ends_with("/wait") {
                "wait"
            } else if e.path.contains("/fly/apps/") {
                "health"
            } else if e.method == "POST" {
                "update"
            } else if e.path.ends_with("/machines") {
                "list"
            } else {
                // `GET` the machine: its own checks.
                "checks"
            };
            kind.to_string()
        })
        .collect();
    assert_eq!(
        calls,
        [
            "list", "lease", "lease", "lease", "update", "update", "wait", "checks", "wait",
            "checks", "health", "update", "wait", "checks", "health", "release", "release",
            "release"
        ]
    );
    assert_eq!(
        machine_images(&fly).await["image"],
        json!(by_digest("registry.fly.io/dash:2"))
    );

    sb.clear_requests();
    let outcome = fly
        .execute(
            &machines_action(json!({"image": "registry.fly.io/dash:3", "strategy": "immediate"})),
            &secrets(),
        )
        .await;
    assert!(outcome.is_success(), "{:?}", outcome.errors);
    let log = sb.requests();
    assert!(
        log.iter()
            .all(|e| !e.path.ends_with("/wait") && !e.path.contains("/fly/apps/"))
    );
    let updates = log
        .iter()
        .filter(|e| e.method == "POST" && !e.path.ends_with("/lease"));
    assert_eq!(updates.count(), 3);
}

#[tokio::test]
async fn scaling_creates_and_destroys_machines() {
    let sb = sandbox(RUNNING_SEED);
    let http = fast_http();
    let fly = provider("fly", &creds(&sb), &http);
    let up = fly
        .execute(
            &machines_action(json!({"count": 5, "regions": ["ord", "ams"]})),
            &secrets(),
        )
        .await;
    assert!(up.is_success(), "{:?}", up.errors);
    let live = machine_images(&fly).await;
    assert_eq!(live["count"], json!(5));
    assert_eq!(live["regions"], json!(["ams", "ord"]));

    let down = fly
        .execute(
            &machines_action(json!({"count": 1, "regions": ["ord"]})),
            &secrets(),
        )
        .await;
    assert!(down.is_success(), "{:?}", down.errors);
    let live = machine_images(&fly).await;
    assert_eq!(live["count"], json!(1));
    assert_eq!(live["regions"], json!(["ord"]));
}

#[tokio::test]
async fn an_active_provider_without_credentials_is_not_configured_and_the_others_still_refresh() {
    let sb = sandbox(EMPTY_SEED);
    let mut pairs = sb.env();
    pairs.retain(|(k, _)| k != "FLY_API_TOKEN");
    let creds = Credentials::from_pairs(pairs);
    sb.clear_requests();
    let (live, errors) = refresh_all_with(&load(DESIRED), &creds, &fast_http()).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].provider, "fly");
    assert_eq!(errors[0].code, "not-configured");
    assert!(errors[0].message.contains("FLY_API_TOKEN"));
    assert!(live.resources.keys().any(|a| a.provider() == "github"));
    assert!(!live.resources.keys().any(|a| a.provider() == "fly"));
    assert!(sb.requests().iter().all(|e| !e.path.starts_with("/fly")));
}

// ───────────────────────── GitHub's OpenAPI request schemas ─────────────────────────

/// OpenAPI 3.0 `nullable: true` → JSON Schema's `null` type.
pub fn to_json_schema(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for child in m.values_mut() {
                to_json_schema(child);
            }
            if m.remove("nullable") == Some(Value::Bool(true)) {
                match m.get("type").cloned() {
                    Some(Value::String(t)) => {
                        m.insert("type".into(), json!([t, "null"]));
                        if let Some(Value::Array(e)) = m.get_mut("enum") {
                            e.push(Value::Null);
                        }
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(m));
                        m.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(to_json_schema),
        _ => {}
    }
}

pub fn template_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}')) || t == p)
}

#[tokio::test]
async fn github_request_bodies_validate_against_the_official_openapi_schemas() {
    let Some(dir) = conformance_dir() else {
        return;
    };
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("github/openapi-subset.json")).unwrap(),
    )
    .unwrap();
    let sb = sandbox(EMPTY_SEED);
    let (http, recorder): (Http, Recorder) = fast_http().recording();
    converge(&sb, &http).await;

    let mut validated = Vec::new();
    for req in recorder.requests() {
        let Some(path) = req.path.strip_prefix("/github") else {
            continue;
        };
        let Some(body) = &req.body else { continue };
        let method = req.method.to_lowercase();
        let (template, op) = spec["paths"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(t, item)| template_matches(t, path) && item.get(&method).is_some())
            .map(|(t, item)| (t.clone(), item[&method].clone()))
            .unwrap_or_else(|| panic!("{} {path} is not in GitHub's description", req.method));
        let mut schema = op["requestBody"]["content"]["application/json"]["schema"].clone();
        assert!(schema.is_object(), "{method} {template} takes no JSON body");
        to_json_schema(&mut schema);
        let validator = jsonschema::draft7::new(&schema).unwrap();
        let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{method} {template}: {errors:?}\nbody: {body}"
        );
        validated.push(format!("{method} {template}"));
    }
    for op in [
        "put /repos/{owner}/{repo}/branches/{branch}/protection",
        "put /repos/{owner}/{repo}/actions/secrets/{secret_name}",
        "put /repos/{owner}/{repo}/environments/{environment_name}",
    ] {
        assert!(
            validated.iter().any(|v| v == op),
            "{op} was never sent: {validated:?}"
        );
    }
}

// ───────────────────────── rate limits and server errors ─────────────────────────

const GITHUB_ONLY: &str = r#"
github:
  repos:
    ai-cherry/sophia-intel-ai:
      branches: { main: { protection: { enforce_admins: true } } }
      actions_secrets: [A, B, C]
      environments: { production: { reviewers: [] }, staging: { reviewers: [] } }
"#;

const PROTECTED_SEED: &str = r#"
github:
  repos:
    ai-cherry/sophia-intel-ai:
      branches: [main]
      secrets: [A, B]
      protection:
        main: { required_status_checks: null, enforce_admins: true, required_pull_request_reviews: null, restrictions: null }
      environments: { production: { reviewers: [] } }
"#;

#[tokio::test]
async fn rate_limit_answers_are_waited_out_and_succeed() {
    let sb = sandbox_with(
        PROTECTED_SEED,
        FaultConfig {
            // Low enough that no request is refused eight times in a row.
            rate: 0.3,
            seed: 11,
            kinds: vec![FaultKind::TooManyRequests, FaultKind::SecondaryRateLimit],
            // The smallest wait the header can say: one second.
            retry_after_secs: 1,
            ..FaultConfig::default()
        },
    );
    let http = Http::new(
        RetryPolicy {
            max_attempts: 8,
            ..RetryPolicy::fast()
        },
        16,
    );
    let live = tokio::time::timeout(
        Duration::from_secs(120),
        refresh(&load(GITHUB_ONLY), &creds(&sb), &http),
    )
    .await
    .expect("refresh finishes");
    let address = |s: &str| Address::parse(&format!("github.repo.{REPO}.{s}")).unwrap();
    assert_eq!(
        live.get(&address("branch.main.protection")).unwrap()["enforce_admins"],
        json!(true)
    );
    assert!(live.get(&address("secret.A")).is_some());
    assert!(live.get(&address("secret.C")).is_none());
    assert!(live.get(&address("environment.production")).is_some());
    assert!(live.get(&address("environment.staging")).is_none());

    // Refused requests were sent again, no sooner than the Retry-After the server gave.
    let log = sb.requests();
    let refused: Vec<_> = log.iter().filter(|e| e.fault.is_some()).collect();
    assert!(!refused.is_empty(), "the seed injected no rate limit");
    assert!(refused.iter().all(|e| matches!(e.status, Some(429 | 403))));
    for r in &refused {
        let at = chrono::DateTime::parse_from_rfc3339(&r.at).unwrap();
        let retry = log
            .iter()
            .filter(|e| e.path == r.path && e.method == r.method)
            .map(|e| chrono::DateTime::parse_from_rfc3339(&e.at).unwrap())
            .find(|t| *t > at)
            .expect("a refused request is sent again");
        assert!(
            retry - at >= chrono::Duration::milliseconds(990),
            "{} {} retried after {:?}",
            r.method,
            r.path,
            retry - at
        );
    }
}

#[tokio::test]
async fn repeated_server_errors_end_in_a_clear_error_after_the_retry_budget() {
    let sb = sandbox_with(
        PROTECTED_SEED,
        FaultConfig {
            rate: 1.0,
            seed: 1,
            kinds: vec![FaultKind::Internal],
            ..FaultConfig::default()
        },
    );
    let desired = load(
        r#"
github:
  repos:
    ai-cherry/sophia-intel-ai:
      branches: { main: { protection: { enforce_admins: true } } }
"#,
    );
    let (_, errors) = tokio::time::timeout(
        Duration::from_secs(60),
        refresh_all_with(&desired, &creds(&sb), &fast_http()),
    )
    .await
    .expect("no hang");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].provider, "github");
    assert_eq!(errors[0].code, "http-error");
    let path = format!("/github/repos/{REPO}/branches/main/protection");
    assert!(
        errors[0]
            .message
            .starts_with(&format!("github: GET {path}: gave up after 4 attempts"))
            || errors[0]
                .message
                .starts_with(&format!("GET {path}: gave up after 4 attempts")),
        "{}",
        errors[0].message
    );
    assert!(errors[0].message.contains("HTTP 500"));
    assert!(!errors[0].message.contains("sandbox-github-token"));
    let attempts = sb.requests().iter().filter(|e| e.path == path).count();
    assert_eq!(attempts, RetryPolicy::fast().max_attempts as usize);
}

// ───────────────────────── the command line ─────────────────────────

#[test]
fn sophia_refresh_writes_the_snapshot_and_no_secret_value() {
    let sb = sandbox(EMPTY_SEED);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("desired")).unwrap();
    std::fs::write(dir.path().join("desired/main.yaml"), DESIRED).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sophia"))
        .arg("-C")
        .arg(dir.path())
        .args(["refresh", "--out", "live.json"])
        .envs(sb.env())
        .env("NEON_DATABASE_URL", CANARY_NEON)
        .env("DEPLOY_TOKEN", CANARY_DEPLOY)
        .env("SOPHIA_HTTP_FAST_RETRIES", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = std::fs::read_to_string(dir.path().join("live.json")).unwrap();
    let live: LiveSnapshot = serde_json::from_str(&text).unwrap();
    assert_eq!(live.format, "sophia-live/v1");
    assert!(live.resources.contains_key(&Address::Provider {
        name: "github".into()
    }));
    assert!(
        sb.requests()
            .iter()
            .all(|e| e.method == "GET" || e.method == "HEAD")
    );
    assert_no_canary("stdout", &String::from_utf8_lossy(&out.stdout));
    assert_no_canary("stderr", &stderr);
    assert_no_canary("live.json", &text);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "only desired/ and live.json (no temporary file left)"
    );
}

#[tokio::test]
async fn a_github_app_exchanges_its_jwt_for_an_installation_token_once() {
    use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
    let sb = sandbox(
        r#"
github:
  app: { id: 12345, installations: [67890] }
  repos:
    ai-cherry/sophia-intel-ai: { branches: [main], secrets: [A] }
"#,
    );
    let key = rsa::RsaPrivateKey::new(&mut crypto_box::aead::OsRng, 2048).unwrap();
    let pem = key.to_pkcs1_pem(LineEnding::LF).unwrap().to_string();
    let mut pairs = sb.env();
    pairs.retain(|(k, _)| k != "GITHUB_TOKEN");
    pairs.extend([
        ("GITHUB_APP_ID".to_string(), "12345".to_string()),
        ("GITHUB_INSTALLATION_ID".to_string(), "67890".to_string()),
        ("GITHUB_PRIVATE_KEY".to_string(), pem.clone()),
    ]);
    let creds = Credentials::from_pairs(pairs);
    sb.clear_requests();
    let live = refresh(&load(GITHUB_ONLY), &creds, &fast_http()).await;
    assert!(
        live.get(&Address::parse(&format!("github.repo.{REPO}.secret.A")).unwrap())
            .is_some()
    );
    let log = sb.requests();
    let exchanges: Vec<_> = log.iter().filter(|e| e.method == "POST").collect();
    assert_eq!(
        exchanges.len(),
        1,
        "one token exchange for the whole refresh"
    );
    assert_eq!(
        exchanges[0].path,
        "/github/app/installations/67890/access_tokens"
    );
    assert!(log.iter().skip(1).all(|e| e.method == "GET"));
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains("PRIVATE KEY"));
}

#[tokio::test]
async fn transient_server_errors_and_dropped_connections_are_retried() {
    let clean = sandbox(PROTECTED_SEED);
    let faulty = sandbox_with(
        PROTECTED_SEED,
        FaultConfig {
            // Low enough that no request fails eight times in a row.
            rate: 0.3,
            seed: 5,
            kinds: vec![FaultKind::Internal, FaultKind::BadGateway, FaultKind::Drop],
            ..FaultConfig::default()
        },
    );
    let http = Http::new(
        RetryPolicy {
            max_attempts: 8,
            ..RetryPolicy::fast()
        },
        16,
    );
    let desired = load(GITHUB_ONLY);
    let expected = refresh(&desired, &creds(&clean), &http).await;
    let got = refresh(&desired, &creds(&faulty), &http).await;
    assert_eq!(got.resources, expected.resources);
    assert!(
        faulty.requests().iter().any(|e| e.fault.is_some()),
        "the seed injected no fault"
    );
}

#[tokio::test]
async fn connections_that_keep_dropping_end_in_a_clear_error() {
    let sb = sandbox_with(
        PROTECTED_SEED,
        FaultConfig {
            rate: 1.0,
            seed: 1,
            kinds: vec![FaultKind::Drop],
            ..FaultConfig::default()
        },
    );
    let desired = load(
        r#"
github:
  repos:
    ai-cherry/sophia-intel-ai:
      branches: { main: { protection: { enforce_admins: true } } }
"#,
    );
    let (_, errors) = tokio::time::timeout(
        Duration::from_secs(60),
        refresh_all_with(&desired, &creds(&sb), &fast_http()),
    )
    .await
    .expect("no hang");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let message = &errors[0].message;
    assert!(
        message.contains(&format!(
            "GET /github/repos/{REPO}/branches/main/protection: connection failed after 4 attempt(s)"
        )),
        "{message}"
    );
    assert!(
        !message.contains("127.0.0.1"),
        "no URL in the message: {message}"
    );
}

fn sophia_in(dir: &std::path::Path, sb: &SandboxHandle, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sophia"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .envs(sb.env())
        .env("NEON_DATABASE_URL", CANARY_NEON)
        .env("DEPLOY_TOKEN", CANARY_DEPLOY)
        .env("SOPHIA_HTTP_FAST_RETRIES", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn sophia_plan_reads_the_providers_and_reports_an_unconfigured_one() {
    let sb = sandbox(EMPTY_SEED);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("desired")).unwrap();
    std::fs::write(dir.path().join("desired/main.yaml"), DESIRED).unwrap();

    let out = sophia_in(
        dir.path(),
        &sb,
        &["plan", "--format", "json", "--detailed-exitcode"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let plan: Plan = serde_json::from_str(&stdout).unwrap();
    assert_eq!(plan.summary.create, 6, "{:#?}", plan.changes);
    assert!(
        sb.requests()
            .iter()
            .all(|e| e.method == "GET" || e.method == "HEAD")
    );
    assert_no_canary("plan stdout", &stdout);
    assert_no_canary("plan stderr", &stderr);

    // Without the Fly token: Fly is not configured, GitHub is still planned and shown.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sophia"))
        .arg("-C")
        .arg(dir.path())
        .args(["plan", "--format", "json"])
        .envs(sb.env().into_iter().filter(|(k, _)| k != "FLY_API_TOKEN"))
        .env_remove("FLY_API_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("fly [not-configured]"), "{stderr}");
    assert!(stderr.contains("FLY_API_TOKEN"), "{stderr}");
    let plan: Plan = serde_json::from_str(&stdout).unwrap();
    assert!(
        plan.changes
            .iter()
            .all(|c| c.address.provider() == "github")
    );
    assert_eq!(plan.summary.create, 3);
}

#[tokio::test]
async fn an_exhausted_primary_quota_fails_at_once_instead_of_sleeping_until_the_reset() {
    let sb = Sandbox::start(SandboxConfig {
        seed: Seed::parse(PROTECTED_SEED).unwrap(),
        // Two requests an hour: the third finds the quota exhausted until the next hour.
        rate_limit: 2,
        ..SandboxConfig::default()
    })
    .unwrap();
    let (_, errors) = tokio::time::timeout(
        Duration::from_secs(30),
        refresh_all_with(&load(GITHUB_ONLY), &creds(&sb), &fast_http()),
    )
    .await
    .expect("no sleeping until the reset");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, "rate-limited");
    assert!(
        errors[0]
            .message
            .contains("rate limited; the server asks to wait")
            && errors[0].message.contains("try again later"),
        "{}",
        errors[0].message
    );
}

#[tokio::test]
async fn read_only_operations_answer_in_the_envelope() {
    let sb = sandbox(
        r#"
fly:
  orgs: [pay-ready]
  apps:
    sophiaai-dashboard-v2: { org: pay-ready, image: "registry.fly.io/dash:1", count: 2, region: ord }
github:
  repos:
    ai-cherry/sophia-intel-ai: { branches: [main], secrets: [FLY_API_TOKEN, PORTKEY_API_KEY] }
"#,
    );
    let http = fast_http();
    let creds = creds(&sb);
    let fly = provider("fly", &creds, &http);
    let github = provider("github", &creds, &http);
    sb.clear_requests();

    let health = fly.op("health", &json!({"app": APP})).await;
    assert_eq!(health.status, Status::Success, "{:?}", health.errors);
    assert_eq!(health.query, "fly.health");
    let machines = fly.op("machines", &json!({"app": APP})).await;
    assert_eq!(machines.results.len(), 2);
    assert_eq!(
        machines.results[0]["image"],
        json!("registry.fly.io/dash:1")
    );
    let logs = fly.op("logs", &json!({"app": APP})).await;
    assert_eq!(logs.status, Status::Success, "{:?}", logs.errors);
    assert!(
        logs.results.iter().all(|l| l["message"].is_string()),
        "{:?}",
        logs.results
    );
    let viewer = fly.op("viewer", &json!({})).await;
    assert_eq!(viewer.status, Status::Success, "{:?}", viewer.errors);
    assert!(viewer.results[0]["email"].is_string());
    let org = fly.op("app-org", &json!({"app": APP})).await;
    assert_eq!(org.results[0]["organization"]["slug"], json!("pay-ready"));
    let missing = fly.op("app-org", &json!({"app": "nope"})).await;
    assert_eq!(missing.status, Status::Failure);
    assert!(missing.errors[0].message.contains("Could not find App"));
    let unknown = fly.op("deploy", &json!({"app": APP})).await;
    assert_eq!(unknown.errors[0].code, "invalid-input");

    let audit = github.op("audit", &json!({"repo": REPO})).await;
    assert_eq!(audit.status, Status::Success, "{:?}", audit.errors);
    assert_eq!(
        audit.results[0]["secrets"],
        json!(["FLY_API_TOKEN", "PORTKEY_API_KEY"])
    );
    // Read-only operations read only (GraphQL queries are POSTed but change nothing).
    for e in sb.requests() {
        assert!(
            e.method == "GET" || e.path.ends_with("/graphql"),
            "{} {}",
            e.method,
            e.path
        );
    }
}

#[tokio::test]
async fn a_missing_branch_is_an_error_not_an_unprotected_branch() {
    let sb = sandbox(EMPTY_SEED);
    let desired = load(
        r#"
github:
  repos:
    ai-cherry/sophia-intel-ai:
      branches: { release: { protection: { enforce_admins: true } } }
"#,
    );
    let (live, errors) = refresh_all_with(&desired, &creds(&sb), &fast_http()).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, "not-found");
    assert!(
        errors[0].message.contains(&format!(
            "branch `release` does not exist in `{REPO}` (GET …/branches/release/protection answered 404 Branch not found)"
        )),
        "{}",
        errors[0].message
    );
    assert!(live.resources.is_empty());
}

/// A refresh lists each repository's Actions secrets once, whatever the number of secret
/// addresses asked for, and answers each address from that listing.
#[tokio::test]
async fn github_secrets_are_listed_once_per_repository() {
    let sb = sandbox(
        "github:\n  repos:\n    acme/one: { branches: [main], secrets: [A, B] }\n    acme/two: { branches: [main], secrets: [A] }\n",
    );
    let http = fast_http();
    let github = provider("github", &creds(&sb), &http);
    let addresses: Vec<Address> = ["acme/one", "acme/two"]
        .into_iter()
        .flat_map(|repo| {
            ["A", "B", "C"].map(|name| Address::GithubSecret {
                repo: repo.into(),
                name: name.into(),
            })
        })
        .collect();
    sb.clear_requests();
    let live = github.refresh(&addresses).await.unwrap();
    let found: Vec<String> = live.keys().map(ToString::to_string).collect();
    assert_eq!(
        found,
        [
            "github.repo.acme/one.secret.A",
            "github.repo.acme/one.secret.B",
            "github.repo.acme/two.secret.A"
        ]
    );
    let mut listings: Vec<String> = sb
        .requests()
        .iter()
        .filter(|e| e.path.ends_with("/actions/secrets"))
        .map(|e| e.path.clone())
        .collect();
    listings.sort();
    assert_eq!(
        listings,
        [
            "/github/repos/acme/one/actions/secrets",
            "/github/repos/acme/two/actions/secrets"
        ]
    );
}
