//! Fly apps as flyctl runs them, against the sandbox: the machine config carries what
//! fly.toml's sections describe (services, checks, flyctl's metadata and variables) and a
//! re-plan after apply shows no changes; machines are leased around every change, and a
//! machine leased by someone else fails the deploy before anything changes, naming the owner.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sophia::core::address::Address;
use sophia::core::desired::{self, Desired, ProviderName, Source};
use sophia::core::live::LiveSnapshot;
use sophia::core::plan::{Action, ActionId, Plan};
use sophia::providers::{Credentials, Http, Provider, RetryPolicy};
use sophia::sandbox::{Sandbox, SandboxConfig, SandboxHandle, Seed};

use crate::support::plan_of;

const APP: &str = "sophiaai-dashboard-v2";

fn sandbox(seed: &str) -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        seed: Seed::parse(seed).expect("the test seed parses"),
        ..SandboxConfig::default()
    })
    .expect("the sandbox starts")
}

fn creds(sb: &SandboxHandle) -> Credentials {
    Credentials::from_pairs(sb.env())
}

fn http() -> Http {
    Http::new(RetryPolicy::fast(), 16)
}

fn fly(sb: &SandboxHandle) -> Provider {
    Provider::configure(ProviderName::Fly, &creds(sb), &http())
        .expect("an implemented provider")
        .expect("configured")
}

fn load(yaml: &str) -> Desired {
    desired::load(&[Source {
        path: "desired/fly.yaml".into(),
        text: yaml.into(),
    }])
    .expect("the test desired state loads")
}

async fn refresh(desired: &Desired, sb: &SandboxHandle) -> LiveSnapshot {
    crate::support::refresh(desired, &creds(sb), &http()).await
}

/// Plan and run every action in order, each succeeding.
async fn apply(desired: &Desired, sb: &SandboxHandle) -> Plan {
    let live = refresh(desired, sb).await;
    let plan = plan_of(desired, &live);
    let fly = fly(sb);
    for action in &plan.actions {
        let outcome = fly.execute(action, &BTreeMap::new()).await;
        assert!(
            outcome.is_success(),
            "{} failed: {:?}",
            action.id,
            outcome.errors
        );
    }
    plan
}

fn machine_configs(sb: &SandboxHandle) -> Vec<Value> {
    sb.with_world(|w| {
        w.fly.apps[APP]
            .machines
            .values()
            .map(|m| m.config.clone())
            .collect()
    })
}

const SERVED: &str = r#"
fly:
  org: pay-ready
  apps:
    sophiaai-dashboard-v2:
      image: registry.fly.io/dash:1
      primary_region: ord
      regions: [ord]
      count: 2
      env: { LOG_LEVEL: info }
      http_service: { internal_port: 8080, force_https: true, auto_stop_machines: "off" }
      checks:
        alive: { type: tcp, interval: 15s, timeout: 2s }
      kill_signal: SIGINT
      kill_timeout: 5
      restart: { policy: always }
"#;

#[tokio::test]
async fn an_app_with_fly_toml_sections_runs_flyctl_s_machine_config_and_converges() {
    let sb = sandbox("fly: { orgs: [pay-ready] }\n");
    let desired = load(SERVED);
    let plan = apply(&desired, &sb).await;
    // Public addresses come with the app, after it exists.
    let ips = plan
        .actions
        .iter()
        .find(|a| a.kind.as_str() == "fly.ips.allocate")
        .expect("an ips action");
    assert_eq!(ips.address.to_string(), format!("fly.app.{APP}.ips"));
    assert!(
        ips.depends_on
            .iter()
            .any(|d| d.0 == format!("fly.app.create:fly.app.{APP}")),
        "{:?}",
        ips.depends_on
    );
    // Exactly one v6 and one shared v4.
    let assigned: Vec<(bool, bool)> = sb.with_world(|w| {
        w.fly.apps[APP]
            .ips
            .iter()
            .map(|ip| {
                (
                    ip["ip"].as_str().unwrap().contains(':'),
                    ip["shared"].as_bool().unwrap(),
                )
            })
            .collect()
    });
    assert_eq!(assigned, [(true, false), (false, true)]);

    let configs = machine_configs(&sb);
    assert_eq!(configs.len(), 2);
    for c in &configs {
        assert_eq!(
            c["services"],
            json!([{
                "protocol": "tcp", "internal_port": 8080, "autostop": "off",
                "ports": [
                    {"port": 80, "handlers": ["http"], "force_https": true},
                    {"port": 443, "handlers": ["http", "tls"]},
                ],
            }])
        );
        assert_eq!(
            c["checks"],
            json!({"alive": {"port": 8080, "type": "tcp", "interval": "15s", "timeout": "2s"}})
        );
        assert_eq!(
            c["metadata"],
            json!({"fly_platform_version": "v2", "fly_process_group": "app"})
        );
        assert_eq!(
            c["env"],
            json!({"LOG_LEVEL": "info", "FLY_PROCESS_GROUP": "app", "PRIMARY_REGION": "ord"})
        );
        assert_eq!(
            c["stop_config"],
            json!({"timeout": "5s", "signal": "SIGINT"})
        );
        assert_eq!(c["restart"], json!({"policy": "always"}));
    }

    // A re-plan shows nothing to do: flyctl's variables and the API's answer are not drift.
    let live = refresh(&desired, &sb).await;
    let again = plan_of(&desired, &live);
    assert!(
        again.changes.is_empty(),
        "not converged: {:#?}",
        again.changes
    );

    // Removing the http service from the YAML removes it from the machines (as flyctl).
    let without = load(&SERVED.replace(
        "      http_service: { internal_port: 8080, force_https: true, auto_stop_machines: \"off\" }\n",
        "",
    ).replace("type: tcp,", "type: tcp, port: 8080,"));
    let live = refresh(&without, &sb).await;
    let plan = plan_of(&without, &live);
    let change = &plan.changes[0];
    assert_eq!(
        change.address.to_string(),
        format!("fly.app.{APP}.machines")
    );
    assert!(
        change.diff.iter().any(|d| d.path == "config.services"),
        "{:#?}",
        change.diff
    );
}

const LEASED: &str = r#"
fly:
  orgs: [pay-ready]
  apps:
    sophiaai-dashboard-v2: { image: "registry.fly.io/dash:1", count: 2, region: ord, leased_by: "deployer@pay-ready.example" }
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

#[tokio::test]
async fn a_machine_leased_by_another_owner_fails_the_deploy_naming_it_and_nothing_changes() {
    let sb = sandbox(LEASED);
    let before = machine_configs(&sb);
    sb.clear_requests();
    let outcome = fly(&sb)
        .execute(
            &machines_action(json!({"image": "registry.fly.io/dash:2", "strategy": "immediate"})),
            &BTreeMap::new(),
        )
        .await;
    assert!(!outcome.is_success());
    let e = &outcome.errors[0];
    assert_eq!(e.code, "lease-conflict");
    assert!(
        e.message.contains("`deployer@pay-ready.example`"),
        "{}",
        e.message
    );
    assert!(e.message.contains("nothing was changed"), "{}", e.message);
    assert_eq!(machine_configs(&sb), before, "no machine changed");
    // Only lease requests were written, and none of them took a lease.
    for r in sb.requests() {
        if r.method != "GET" {
            assert!(r.path.ends_with("/lease"), "{} {}", r.method, r.path);
            assert_eq!(r.status, Some(409), "{} {}", r.method, r.path);
        }
    }
}

#[tokio::test]
async fn every_updated_machine_is_leased_first_and_released_after() {
    let sb = sandbox(
        "fly:\n  orgs: [pay-ready]\n  apps:\n    sophiaai-dashboard-v2: { image: \"registry.fly.io/dash:1\", count: 2, region: ord }\n",
    );
    sb.clear_requests();
    let outcome = fly(&sb)
        .execute(
            &machines_action(json!({"image": "registry.fly.io/dash:2", "strategy": "immediate"})),
            &BTreeMap::new(),
        )
        .await;
    assert!(outcome.is_success(), "{:?}", outcome.errors);
    let writes: Vec<String> = sb
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| {
            let kind = if r.path.ends_with("/lease") {
                "lease"
            } else {
                "machine"
            };
            format!("{} {kind}", r.method)
        })
        .collect();
    // Both leases first (nothing changes unless all are held), the updates with their
    // nonces (the sandbox refuses a leased machine's update without it), then the releases.
    assert_eq!(
        writes,
        [
            "POST lease",
            "POST lease",
            "POST machine",
            "POST machine",
            "DELETE lease",
            "DELETE lease"
        ]
    );
    let leased = sb.with_world(|w| {
        w.fly.apps[APP]
            .machines
            .values()
            .filter(|m| m.lease.is_some())
            .count()
    });
    assert_eq!(leased, 0, "every lease was released");
}

#[tokio::test]
async fn a_critical_machine_check_rolls_the_deploy_back_naming_the_check() {
    let sb = sandbox(
        "fly:\n  orgs: [pay-ready]\n  apps:\n    sophiaai-dashboard-v2: { image: \"registry.fly.io/dash:1\", count: 1, region: ord }\n",
    );
    let checks = json!({"alive": {"port": 8080, "type": "tcp"}});
    let outcome = fly(&sb)
        .execute(
            &machines_action(json!({
                "image": "registry.fly.io/dash:bad-2",
                "strategy": "rolling",
                "config": {"checks": checks},
            })),
            &BTreeMap::new(),
        )
        .await;
    assert!(!outcome.is_success());
    let e = &outcome.errors[0];
    assert_eq!(e.code, "health-check-failed");
    assert!(
        e.message.contains("check `alive` is critical"),
        "{}",
        e.message
    );
    let images: Vec<Value> = machine_configs(&sb)
        .into_iter()
        .map(|c| c["image"].clone())
        .collect();
    // Back to the bytes it ran: the digest of `dash:1` when it was deployed.
    let ran = format!(
        "registry.fly.io/dash@{}",
        sophia::sandbox::state::derived_digest("registry.fly.io/dash:1")
    );
    assert_eq!(images, [json!(ran)], "rolled back");
}

const GROUPS: &str = r#"
fly:
  org: pay-ready
  apps:
    sophiaai-dashboard-v2:
      image: registry.fly.io/dash:1
      regions: [ord]
      count: 1
      processes: { app: "", worker: "bin/worker --queue default" }
      http_service: { internal_port: 8080, processes: [app] }
"#;

#[tokio::test]
async fn each_process_group_gets_its_own_machines_and_converges() {
    let sb = sandbox("fly: { orgs: [pay-ready] }\n");
    let desired = load(GROUPS);
    let plan = apply(&desired, &sb).await;
    let mut addresses: Vec<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
    addresses.sort();
    assert_eq!(
        addresses,
        [
            format!("fly.app.{APP}"),
            format!("fly.app.{APP}.ips"),
            format!("fly.app.{APP}.process.app"),
            format!("fly.app.{APP}.process.worker"),
        ]
    );

    let mut configs = machine_configs(&sb);
    configs.sort_by_key(|c| c["metadata"]["fly_process_group"].to_string());
    assert_eq!(configs.len(), 2, "one machine per group");
    let (app, worker) = (&configs[0], &configs[1]);
    assert_eq!(app["metadata"]["fly_process_group"], json!("app"));
    assert_eq!(app["services"][0]["internal_port"], json!(8080));
    assert_eq!(worker["metadata"]["fly_process_group"], json!("worker"));
    assert_eq!(worker["env"]["FLY_PROCESS_GROUP"], json!("worker"));
    assert_eq!(
        worker["init"]["cmd"],
        json!(["bin/worker", "--queue", "default"])
    );
    assert_eq!(worker.get("services"), None);

    let live = refresh(&desired, &sb).await;
    let again = plan_of(&desired, &live);
    assert!(
        again.changes.is_empty(),
        "not converged: {:#?}",
        again.changes
    );
}

const MOUNTED: &str = r#"
fly:
  org: pay-ready
  apps:
    sophiaai-dashboard-v2:
      image: registry.fly.io/dash:1
      regions: [ord]
      count: 2
      http_service: { internal_port: 8080, force_https: true }
      mounts: { source: data, destination: /data, initial_size: "3gb" }
"#;

/// DESIGN.md's first deploy: from an empty organization, an app with an http service and a
/// mount gets its volumes (one per machine, before the machines), its machines with the
/// service and a volume each, one v6 and one shared v4 address; then nothing is left to do.
#[tokio::test]
async fn a_first_deploy_creates_volumes_before_machines_and_public_addresses() {
    let sb = sandbox("fly: { orgs: [pay-ready] }\n");
    let desired = load(MOUNTED);
    sb.clear_requests();
    let plan = apply(&desired, &sb).await;
    assert!(
        plan.changes
            .iter()
            .any(|c| c.address.to_string() == format!("fly.app.{APP}.volume.data")),
        "{:#?}",
        plan.changes
    );

    // The request log: both volumes are created before the first machine.
    let writes: Vec<String> = sb
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.path.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    let first_machine = writes.iter().position(|p| p == "machines").unwrap();
    let volumes: Vec<usize> = writes
        .iter()
        .enumerate()
        .filter(|(_, p)| *p == "volumes")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(volumes.len(), 2, "{writes:?}");
    assert!(volumes.iter().all(|i| *i < first_machine), "{writes:?}");

    // Every machine has the service and its own volume, in its region.
    let (configs, vols, ips) = sb.with_world(|w| {
        let a = &w.fly.apps[APP];
        let configs: Vec<Value> = a.machines.values().map(|m| m.config.clone()).collect();
        (configs, a.volumes.clone(), a.ips.clone())
    });
    assert_eq!(configs.len(), 2);
    let mut attached = Vec::new();
    for c in &configs {
        assert_eq!(c["services"][0]["internal_port"], json!(8080));
        let mount = &c["mounts"][0];
        assert_eq!(
            (&mount["name"], &mount["path"]),
            (&json!("data"), &json!("/data"))
        );
        attached.push(mount["volume"].as_str().unwrap().to_string());
    }
    attached.sort();
    attached.dedup();
    assert_eq!(attached.len(), 2, "one volume per machine");
    assert!(
        vols.iter()
            .all(|v| v["size_gb"] == json!(3) && v["region"] == json!("ord"))
    );
    assert_eq!(ips.len(), 2);
    assert_eq!(
        ips.iter().filter(|ip| ip["shared"] == json!(true)).count(),
        1,
        "one shared v4"
    );

    let live = refresh(&desired, &sb).await;
    let again = plan_of(&desired, &live);
    assert!(
        again.changes.is_empty(),
        "not converged: {:#?}",
        again.changes
    );
}

/// fly.toml's sections in YAML are checked where they are written: unknown keys, bad values,
/// and what flyctl refuses to build (a check with no port to take).
#[test]
fn fly_toml_sections_in_yaml_are_located_errors() {
    let err = |yaml: &str| {
        desired::load(&[Source {
            path: "desired/fly.yaml".into(),
            text: yaml.into(),
        }])
        .unwrap_err()
        .0[0]
            .clone()
    };
    let e = err(
        "fly:\n  apps:\n    ab:\n      image: x:1\n      http_service: { internal_prot: 8080 }\n",
    );
    assert_eq!((e.file.as_str(), e.line), ("desired/fly.yaml", 5), "{e}");
    assert!(e.message.contains("internal_prot"), "{e}");

    let e = err("fly:\n  apps:\n    ab:\n      image: x:1\n      restart: { policy: sometimes }\n");
    assert_eq!(e.line, 5, "{e}");
    assert!(
        e.message.contains("invalid restart policy `sometimes`"),
        "{e}"
    );

    let e = err(
        "fly:\n  apps:\n    ab:\n      image: x:1\n      checks:\n        alive: { type: tcp }\n",
    );
    assert_eq!((e.line, e.column), (6, 16), "{e}");
    assert!(e.message.contains("has no port set"), "{e}");
    assert!(e.hint.unwrap().contains("http_service"));
}
