//! Live machines read as the API means them (the normalized `fly.app.<a>.machines` object),
//! and which listed machines are the app's own and in which process group. Pure.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::core::{flymachine, image};

/// The normalized machines object: `{image, count, regions, guest, env, platform_env,
/// config}` — `image` a string when all machines agree, else the sorted distinct images,
/// each `name@sha256:…` when the machine reports the digest it runs (`image_ref.digest`);
/// regions sorted and unique; guest, env and config of the first machine (by id). `env`
/// holds the app's own variables, `platform_env` those flyctl adds (`FLY_PROCESS_GROUP`,
/// `PRIMARY_REGION`: not drift unless desired sets them); `config` the machine config keys
/// flyctl sets from fly.toml, empty ones left out. `None` when there is no machine.
///
/// Older response shapes are read as the API means them: a machine on an unreachable host
/// has `incomplete_config` and no `config` (fly-go's `GetConfig` falls back to it); a
/// `config.size` without `guest` is that preset; `cpu_kind: ""` is `shared`.
pub fn normalize_machines(machines: &[Value]) -> Option<Value> {
    let first = machines.first()?;
    let images: BTreeSet<String> = machines.iter().filter_map(machine_image).collect();
    let image = match images.len() {
        1 => json!(images.iter().next()),
        _ => json!(images),
    };
    let regions: BTreeSet<&str> = machines
        .iter()
        .filter_map(|m| m.get("region").and_then(Value::as_str))
        .collect();
    let config = config_of(first);
    let guest = live_guest(config);
    let mut env: BTreeMap<String, Value> = BTreeMap::new();
    let mut platform_env: BTreeMap<String, Value> = BTreeMap::new();
    for (k, v) in config
        .get("env")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if flymachine::PLATFORM_ENV.contains(&k.as_str()) {
            platform_env.insert(k.clone(), v.clone());
        } else {
            env.insert(k.clone(), v.clone());
        }
    }
    let mut managed = Map::new();
    for key in flymachine::MANAGED_CONFIG.iter().chain(&["restart", "dns"]) {
        if let Some(v) = config.get(*key).filter(|v| !is_empty(v)) {
            managed.insert((*key).to_string(), v.clone());
        }
    }
    let meta: Map<String, Value> = config
        .get("metadata")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(k, _)| {
            [
                flymachine::META_PLATFORM_VERSION,
                flymachine::META_PROCESS_GROUP,
            ]
            .contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !meta.is_empty() {
        managed.insert("metadata".into(), Value::Object(meta));
    }
    Some(json!({
        "image": image,
        "count": machines.len(),
        "regions": regions,
        "guest": guest,
        "env": env,
        "platform_env": platform_env,
        "config": managed,
    }))
}

/// The image a machine runs: its configured image, pinned to the digest the registry gave
/// when the machine was deployed (`image_ref.digest`), when it reports one.
fn machine_image(m: &Value) -> Option<String> {
    let image = config_of(m).get("image").and_then(Value::as_str)?;
    let digest = m.pointer("/image_ref/digest").and_then(Value::as_str);
    Some(image::live_image(image, digest))
}

/// A machine's config as it ran: its image pinned to the digest it reports, so a rollback
/// restores those bytes even when the tag has moved since.
pub(super) fn previous_config(m: &Value) -> Value {
    let mut config = config_of(m).clone();
    if let (Some(image), Value::Object(c)) = (machine_image(m), &mut config) {
        c.insert("image".into(), Value::String(image));
    }
    config
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A machine's config, or its `incomplete_config` when the host could not give the full one.
pub(super) fn config_of(m: &Value) -> &Value {
    static NULL: Value = Value::Null;
    match m.get("config") {
        Some(c) if c.is_object() => c,
        _ => m
            .get("incomplete_config")
            .filter(|c| c.is_object())
            .unwrap_or(&NULL),
    }
}

/// The guest of a live config, with Fly's defaults and its older shapes read as meant.
fn live_guest(config: &Value) -> Value {
    let preset = config
        .get("size")
        .and_then(Value::as_str)
        .and_then(|size| PRESETS.iter().find(|p| p.0 == size));
    match (config.get("guest").filter(|g| g.is_object()), preset) {
        (Some(g), _) => json!({
            "cpu_kind": g.get("cpu_kind")
                .filter(|k| k.as_str().is_some_and(|k| !k.is_empty()))
                .cloned()
                .unwrap_or(json!("shared")),
            "cpus": g.get("cpus").cloned().unwrap_or(json!(1)),
            "memory_mb": g.get("memory_mb").cloned().unwrap_or(json!(256)),
        }),
        (None, Some((_, kind, cpus, mem))) => {
            json!({"cpu_kind": kind, "cpus": cpus, "memory_mb": mem})
        }
        (None, None) => Value::Null,
    }
}

/// The sizes older machine configs name instead of a `guest` (fly-go's `MachinePresets`).
const PRESETS: [(&str, &str, u32, u32); 9] = [
    ("shared-cpu-1x", "shared", 1, 256),
    ("shared-cpu-2x", "shared", 2, 512),
    ("shared-cpu-4x", "shared", 4, 1024),
    ("shared-cpu-8x", "shared", 8, 2048),
    ("performance-1x", "performance", 1, 2048),
    ("performance-2x", "performance", 2, 4096),
    ("performance-4x", "performance", 4, 8192),
    ("performance-8x", "performance", 8, 16384),
    ("performance-16x", "performance", 16, 32768),
];

/// Whether a machine belongs to process `group` (flyctl's metadata; a machine without it is
/// in the default group, `app`).
pub(super) fn in_group(m: &Value, group: &str) -> bool {
    group_of(m) == group
}

/// The process group of a listed machine (flyctl's metadata; `app` when it has none).
pub(super) fn group_of(m: &Value) -> &str {
    config_of(m)
        .get("metadata")
        .and_then(|x| x.get(flymachine::META_PROCESS_GROUP))
        .and_then(Value::as_str)
        .filter(|g| !g.is_empty())
        .unwrap_or(flymachine::DEFAULT_GROUP)
}

/// Whether a listed machine is one of the app's own: not destroyed, not a console or
/// release-command (or test) machine, as fly-go's `ListActive` filters them.
pub(super) fn is_app_machine(m: &Value) -> bool {
    if matches!(
        m.get("state").and_then(Value::as_str),
        Some("destroying" | "destroyed")
    ) {
        return false;
    }
    let meta = config_of(m).get("metadata");
    let group = meta
        .and_then(|x| x.get(flymachine::META_PROCESS_GROUP))
        .and_then(Value::as_str);
    let old_release = meta
        .and_then(|x| x.get("process_group"))
        .and_then(Value::as_str)
        == Some("release_command");
    !old_release
        && !matches!(
            group,
            Some("fly_app_release_command" | "fly_app_console" | "fly_app_test_machine_command")
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shapes from Fly's documented machine samples (fly-go `machine_types.go`: `GetConfig`
    /// falls back to `incomplete_config`; `ListActive` drops release-command and console
    /// machines; `config.size` names a `MachinePresets` entry) and flyctl's deploy
    /// (`machines.go`: `FLY_PROCESS_GROUP`, `PRIMARY_REGION` in every machine's env).
    #[test]
    fn flyctl_deployed_machines_normalize_without_false_drift() {
        // flyctl's variables are apart from the app's own.
        let m = json!({"id": "a", "region": "ord", "state": "started", "config": {
            "image": "i", "env": {"LOG_LEVEL": "info", "FLY_PROCESS_GROUP": "app",
                                  "PRIMARY_REGION": "ord"},
            "guest": {"cpu_kind": "", "cpus": 1, "memory_mb": 512}}});
        let n = normalize_machines(&[m]).unwrap();
        assert_eq!(n["env"], json!({"LOG_LEVEL": "info"}));
        assert_eq!(
            n["platform_env"],
            json!({"FLY_PROCESS_GROUP": "app", "PRIMARY_REGION": "ord"})
        );
        // `cpu_kind: ""` is shared.
        assert_eq!(n["guest"]["cpu_kind"], json!("shared"));

        // An unreachable host: no `config`, an `incomplete_config`.
        let m = json!({"id": "b", "region": "ord", "state": "started", "host_status": "unreachable",
                       "incomplete_config": {"image": "i", "guest": {"cpu_kind": "shared", "cpus": 2, "memory_mb": 512}}});
        let n = normalize_machines(&[m]).unwrap();
        assert_eq!(n["image"], json!("i"));
        assert_eq!(n["guest"]["cpus"], json!(2));

        // An older shape: `size` and no `guest`.
        let m =
            json!({"id": "c", "region": "ord", "config": {"image": "i", "size": "shared-cpu-2x"}});
        assert_eq!(
            normalize_machines(&[m]).unwrap()["guest"],
            json!({"cpu_kind": "shared", "cpus": 2, "memory_mb": 512})
        );
    }

    #[test]
    fn release_command_and_console_machines_are_not_the_app_s() {
        let with_group = |g: &str| {
            json!({"id": "r", "region": "ord", "state": "stopped", "config": {
            "metadata": {"fly_platform_version": "v2", "fly_process_group": g}}})
        };
        assert!(is_app_machine(&with_group("app")));
        assert!(is_app_machine(&with_group("worker")));
        assert!(!is_app_machine(&with_group("fly_app_release_command")));
        assert!(!is_app_machine(&with_group("fly_app_console")));
        let old = json!({"id": "o", "config": {"metadata": {"process_group": "release_command"}}});
        assert!(!is_app_machine(&old));
        let gone = json!({"id": "g", "state": "destroyed", "config": {}});
        assert!(!is_app_machine(&gone));
    }
}
