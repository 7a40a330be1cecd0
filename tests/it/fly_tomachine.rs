//! The oracle: for every `tomachine*.toml` case that flyctl's own test
//! (`fly/flyctl-appconfig/machines_test.go`, superfly/flyctl ad0172f, Apache-2.0) states,
//! the machine config `sophia` builds equals the one flyctl builds. The expected values are
//! flyctl's Go literals written as the JSON the Machines API receives (`new(80)` is `80`,
//! omitted zero values are absent); flyctl's `fly_flyctl_version` metadata is the one key
//! left out, as DESIGN.md says. Cases flyctl refuses are refused, with its reason.
//!
//! Not covered here: `ToReleaseMachineConfig`, `ToConsoleMachineConfig` and
//! `ToTestMachineConfig` (`tomachine-machinechecks.toml`) build the temporary machines of
//! `release_command`, `fly console` and `machine_checks`, which `sophia` does not run;
//! updating a live config (`TestToMachineConfig`'s second half) is the provider's
//! `MachineSpec::apply`, tested in `src/providers/fly/spec.rs`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::conformance_dir;
use sophia::core::desired::flytoml::import;
use sophia::core::desired::{FlyApp, apply_fly_config};
use sophia::core::flymachine::{MachineConfigError, machine_config};

/// The app a `fly.toml` imports to, as `config: <file>` gives it.
fn app(name: &str) -> Option<FlyApp> {
    let dir = conformance_dir()?;
    let text = std::fs::read_to_string(dir.join("fly/flytoml").join(name)).unwrap();
    let imported = import(name, &text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut app = FlyApp::default();
    apply_fly_config(&mut app, &imported);
    Some(app)
}

fn build(app: &FlyApp, group: &str) -> Result<Value, MachineConfigError> {
    let env: BTreeMap<String, String> = app.env.clone().unwrap_or_default();
    machine_config(&app.sections(), group, app.primary_region.as_deref(), &env).map(Value::Object)
}

#[test]
fn tomachine_toml_builds_flyctl_s_config() {
    let Some(app) = app("tomachine.toml") else {
        return;
    };
    let want = json!({
        "env": {"FOO": "BAR", "PRIMARY_REGION": "mia", "FLY_PROCESS_GROUP": "app"},
        "services": [{
            "protocol": "tcp",
            "internal_port": 8080,
            "ports": [
                {"port": 80, "handlers": ["http"], "force_https": true},
                {"port": 443, "handlers": ["http", "tls"]},
            ],
        }],
        "metadata": {"fly_platform_version": "v2", "fly_process_group": "app"},
        "metrics": {"port": 9999, "path": "/metrics"},
        "statics": [{"guest_path": "/guest/path", "url_prefix": "/url/prefix",
                     "tigris_bucket": "example-bucket", "index_document": "index.html"}],
        "mounts": [{"name": "data", "path": "/data"}],
        "checks": {
            "listening": {"port": 8080, "type": "tcp"},
            "status": {"port": 8080, "type": "http", "interval": "10s", "timeout": "1s",
                       "path": "/status"},
        },
        "stop_config": {"timeout": "10s", "signal": "SIGTERM"},
        "init": {"swap_size_mb": 512},
        "restart": {"policy": "always"},
        "dns": {"nameservers": ["1.2.3.4"]},
    });
    assert_eq!(build(&app, "").unwrap(), want);
}

#[test]
fn tomachine_experimental_sets_init_and_processes_override_cmd() {
    let Some(mut app) = app("tomachine-experimental.toml") else {
        return;
    };
    assert_eq!(
        build(&app, "").unwrap()["init"],
        json!({"cmd": ["/call", "me"], "entrypoint": ["/IgoFirst"], "exec": ["ignore", "others"]})
    );
    app.processes = Some(BTreeMap::from([(
        "app".to_string(),
        "/override experimental".to_string(),
    )]));
    assert_eq!(
        build(&app, "").unwrap()["init"],
        json!({"cmd": ["/override", "experimental"], "entrypoint": ["/IgoFirst"],
               "exec": ["ignore", "others"]})
    );
}

#[test]
fn tomachine_processgroups_flattens_per_group() {
    let Some(app) = app("tomachine-processgroups.toml") else {
        return;
    };
    let listening = json!({"listening": {"port": 8080, "type": "tcp"}});
    let cases = [
        (
            "app",
            json!({"cmd": ["run-nginx"]}),
            json!([
                {"protocol": "tcp", "internal_port": 8080, "ports": [
                    {"port": 80, "handlers": ["http"]},
                    {"port": 443, "handlers": ["http", "tls"]},
                ]},
                {"protocol": "tcp", "internal_port": 1111},
            ]),
            listening.clone(),
        ),
        (
            "vpn",
            json!({"cmd": ["run-tailscale"]}),
            json!([
                {"protocol": "udp", "internal_port": 9999},
                {"protocol": "tcp", "internal_port": 1111},
            ]),
            Value::Null,
        ),
        (
            "foo",
            json!({"cmd": ["keep", "me", "alive"]}),
            json!([{"protocol": "tcp", "internal_port": 1111}]),
            listening,
        ),
    ];
    for (group, init, services, checks) in cases {
        let got = build(&app, group).unwrap();
        assert_eq!(
            got["metadata"]["fly_process_group"],
            json!(group),
            "{group}"
        );
        assert_eq!(got["env"]["FLY_PROCESS_GROUP"], json!(group), "{group}");
        assert_eq!(got["init"], init, "{group}: init");
        assert_eq!(got["services"], services, "{group}: services");
        assert_eq!(got["checks"], checks, "{group}: checks");
    }
}

#[test]
fn tomachine_default_for_new_apps_and_the_check_flyctl_refuses() {
    let Some(mut app) = app("tomachine-default-for-new-apps.toml") else {
        return;
    };
    let want = json!({
        "env": {"PRIMARY_REGION": "ord", "FLY_PROCESS_GROUP": "app"},
        "services": [{
            "protocol": "tcp",
            "internal_port": 8080,
            "ports": [
                {"port": 80, "handlers": ["http"], "force_https": true},
                {"port": 443, "handlers": ["http", "tls"]},
            ],
        }],
        "metadata": {"fly_platform_version": "v2", "fly_process_group": "app"},
        "checks": {"alive": {"port": 8080, "type": "tcp", "interval": "15s", "timeout": "2s",
                             "grace_period": "5s"}},
        "init": {},
    });
    assert_eq!(build(&app, "").unwrap(), want);

    // A top-level check without a port fails when there is no http service to take it from.
    app.http_service = None;
    let e = build(&app, "").unwrap_err();
    assert_eq!(
        e.to_string(),
        "check `alive` for process group `app` has no port set and the group has no \
         http_service to take it from"
    );
}

#[test]
fn tomachine_mounts_per_group() {
    let Some(app) = app("tomachine-mounts.toml") else {
        return;
    };
    let data = json!([{"name": "data", "path": "/data"}]);
    assert_eq!(build(&app, "").unwrap()["mounts"], data);
    assert_eq!(build(&app, "app").unwrap()["mounts"], data);
    assert_eq!(
        build(&app, "back").unwrap()["mounts"],
        json!([{"name": "trash", "path": "/trash"}])
    );
    assert_eq!(build(&app, "hola").unwrap().get("mounts"), None);
}

#[test]
fn tomachine_services_autostart_and_autostop() {
    let Some(app) = app("tomachine-services.toml") else {
        return;
    };
    let want = json!([
        {"protocol": "tcp", "internal_port": 8080, "autostart": true, "autostop": "stop",
         "ports": [
            {"port": 80, "handlers": ["http"], "force_https": true},
            {"port": 443, "handlers": ["http", "tls"]},
         ]},
        {"protocol": "tcp", "internal_port": 1000, "autostart": true, "autostop": "stop"},
        {"protocol": "tcp", "internal_port": 1001, "autostart": false, "autostop": "off"},
        {"protocol": "tcp", "internal_port": 1002, "autostart": false},
        {"protocol": "tcp", "internal_port": 1003, "autostop": "stop"},
        {"protocol": "tcp", "internal_port": 1004},
    ]);
    assert_eq!(build(&app, "").unwrap()["services"], want);
}

#[test]
fn tomachine_compute_guests_per_group() {
    let Some(app) = app("tomachine-compute.toml") else {
        return;
    };
    for (group, want) in [
        (
            "app",
            json!({"cpu_kind": "shared", "cpus": 2, "memory_mb": 512}),
        ),
        (
            "worker",
            json!({"cpu_kind": "shared", "cpus": 2, "memory_mb": 512}),
        ),
        (
            "whisper",
            json!({"cpu_kind": "performance", "cpus": 8, "memory_mb": 65536,
                   "gpu_kind": "a100-pcie-40gb"}),
        ),
        (
            "isolated",
            json!({"cpu_kind": "shared", "cpus": 1, "memory_mb": 256,
                   "host_dedication_id": "lookma-iamsolo"}),
        ),
    ] {
        assert_eq!(build(&app, group).unwrap()["guest"], want, "{group}");
    }
}

#[test]
fn tomachine_compute_nodefault_leaves_the_guest_alone() {
    let Some(app) = app("tomachine-compute-nodefault.toml") else {
        return;
    };
    assert_eq!(build(&app, "app").unwrap().get("guest"), None);
    assert_eq!(build(&app, "woo").unwrap().get("guest"), None);
    assert_eq!(
        build(&app, "bar").unwrap()["guest"],
        json!({"cpu_kind": "performance", "cpus": 4, "memory_mb": 8192})
    );
}

#[test]
fn tomachine_hostdedicationid_top_level_and_per_section() {
    let Some(app) = app("tomachine-hostdedicationid.toml") else {
        return;
    };
    assert_eq!(build(&app, "front").unwrap().get("guest"), None);
    assert_eq!(
        build(&app, "back").unwrap()["guest"],
        json!({"cpu_kind": "shared", "cpus": 1, "memory_mb": 256,
               "host_dedication_id": "specific"})
    );
    assert_eq!(
        build(&app, "other").unwrap()["guest"],
        json!({"cpu_kind": "shared", "cpus": 4, "memory_mb": 1024,
               "host_dedication_id": "toplevel"})
    );
}
