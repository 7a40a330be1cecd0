//! The pure part of the Fly provider: what the desired machines are (from an action's
//! params), how a live machine list normalizes into the `fly.app.<a>.machines` object, and
//! which machines to keep, create and destroy. No I/O here: everything is a function of its
//! arguments, tested below without a server.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::PROVIDER;
pub use super::live::normalize_machines;
use crate::providers::ProviderError;

/// What a health check expects.
#[derive(Debug, Clone)]
pub(super) struct HealthSpec {
    pub(super) path: String,
    pub(super) expect_status: u16,
}

impl HealthSpec {
    pub(super) fn from_params(params: &Value) -> HealthSpec {
        let h = params.get("health").unwrap_or(params);
        HealthSpec {
            path: h
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or("/healthz")
                .to_string(),
            expect_status: h
                .get("expect_status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(200),
        }
    }
}

/// The desired machines, from an action's params.
#[derive(Debug, Clone)]
pub(super) struct MachineSpec {
    pub(super) image: Option<String>,
    pub(super) count: Option<usize>,
    pub(super) regions: Option<Vec<String>>,
    pub(super) guest: Option<Value>,
    pub(super) env: Option<Value>,
    /// The variables flyctl adds (`FLY_PROCESS_GROUP`, `PRIMARY_REGION`), merged into env.
    pub(super) platform_env: Option<Map<String, Value>>,
    /// Machine config keys as flyctl sets them: a `null` removes the key, `metadata` and
    /// `dns` merge into what the machine has.
    pub(super) config: Option<Map<String, Value>>,
    pub(super) strategy: String,
    pub(super) max_unavailable: usize,
    pub(super) health: HealthSpec,
    /// Wait for created machines to start (off for `immediate`).
    pub(super) wait: bool,
}

impl MachineSpec {
    /// The image deployed, for messages.
    pub(super) fn image_label(&self) -> &str {
        self.image.as_deref().unwrap_or("(unchanged image)")
    }

    pub(super) fn from_params(p: &Value) -> Result<MachineSpec, ProviderError> {
        let strategy = p
            .get("strategy")
            .and_then(Value::as_str)
            .unwrap_or("rolling")
            .to_string();
        if !matches!(
            strategy.as_str(),
            "rolling" | "immediate" | "canary" | "bluegreen"
        ) {
            return Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("unknown deploy strategy `{strategy}`"),
            ));
        }
        Ok(MachineSpec {
            image: p.get("image").and_then(Value::as_str).map(str::to_string),
            count: p.get("count").and_then(Value::as_u64).map(|c| c as usize),
            regions: p.get("regions").and_then(Value::as_array).map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            }),
            guest: p.get("guest").filter(|g| g.is_object()).cloned(),
            env: p.get("env").filter(|g| g.is_object()).cloned(),
            platform_env: p.get("platform_env").and_then(Value::as_object).cloned(),
            config: p.get("config").and_then(Value::as_object).cloned(),
            wait: strategy != "immediate",
            max_unavailable: p
                .get("max_unavailable")
                .and_then(Value::as_u64)
                .map(|n| n as usize)
                .unwrap_or(1),
            health: HealthSpec::from_params(p),
            strategy,
        })
    }

    /// `config` with the managed fields replaced.
    pub(super) fn apply(&self, config: &Value) -> Value {
        let mut c = match config {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        if let Some(image) = &self.image {
            c.insert("image".into(), json!(image));
        }
        if let Some(guest) = &self.guest {
            c.insert("guest".into(), guest.clone());
        }
        if let Some(env) = &self.env {
            c.insert("env".into(), env.clone());
        }
        if let Some(platform) = &self.platform_env {
            let env = c.entry("env").or_insert_with(|| json!({}));
            if let Value::Object(env) = env {
                env.extend(platform.clone());
            }
        }
        for (key, v) in self.config.iter().flatten() {
            match (key.as_str(), v) {
                (_, Value::Null) => {
                    c.remove(key);
                }
                // A mount keeps the volume it is attached to (flyctl keeps the machine's
                // volume on an update; only a new machine gets a new one).
                ("mounts", Value::Array(want)) => {
                    let have = c.get("mounts").and_then(Value::as_array).cloned();
                    let merged: Vec<Value> = want
                        .iter()
                        .map(|m| {
                            let old = have.iter().flatten().find(|h| {
                                h.get("path") == m.get("path") && h.get("name") == m.get("name")
                            });
                            match (old, m) {
                                (Some(Value::Object(old)), Value::Object(new)) => {
                                    let mut o = old.clone();
                                    o.extend(new.clone());
                                    Value::Object(o)
                                }
                                _ => m.clone(),
                            }
                        })
                        .collect();
                    c.insert(key.clone(), Value::Array(merged));
                }
                ("metadata" | "dns", Value::Object(add)) => {
                    let slot = c.entry(key.clone()).or_insert_with(|| json!({}));
                    match slot {
                        Value::Object(have) => have.extend(add.clone()),
                        other => *other = v.clone(),
                    }
                }
                _ => {
                    c.insert(key.clone(), v.clone());
                }
            }
        }
        Value::Object(c)
    }
}

/// Which machines to keep, which regions need new ones, which to destroy.
#[derive(Debug)]
pub(super) struct Layout<'a> {
    pub(super) keep: Vec<&'a Value>,
    pub(super) create: Vec<String>,
    pub(super) destroy: Vec<&'a Value>,
}

/// Keep machines in the desired regions up to `count`, balanced across regions; destroy the
/// rest; create the missing ones in the regions with the fewest machines.
pub(super) fn layout<'a>(machines: &'a [Value], spec: &MachineSpec) -> Layout<'a> {
    let region_of = |m: &Value| m["region"].as_str().unwrap_or_default().to_string();
    let regions: Vec<String> = match &spec.regions {
        Some(r) if !r.is_empty() => r.clone(),
        _ => {
            let mut r: Vec<String> = machines.iter().map(region_of).collect();
            r.sort();
            r.dedup();
            r
        }
    };
    let count = spec.count.unwrap_or(machines.len());
    let mut per_region: BTreeMap<String, Vec<&Value>> =
        regions.iter().map(|r| (r.clone(), Vec::new())).collect();
    let mut destroy = Vec::new();
    for m in machines {
        match per_region.get_mut(&region_of(m)) {
            Some(list) => list.push(m),
            None => destroy.push(m),
        }
    }
    // Take machines round-robin across regions until `count` are kept.
    let mut keep = Vec::new();
    let mut index = 0;
    while keep.len() < count {
        let mut took = false;
        for list in per_region.values() {
            if keep.len() < count
                && let Some(m) = list.get(index)
            {
                keep.push(*m);
                took = true;
            }
        }
        if !took {
            break;
        }
        index += 1;
    }
    for list in per_region.values() {
        for m in list {
            if !keep.iter().any(|k| std::ptr::eq(*k, *m)) {
                destroy.push(m);
            }
        }
    }
    let mut counts: BTreeMap<String, usize> = regions.iter().map(|r| (r.clone(), 0)).collect();
    for m in &keep {
        *counts.entry(region_of(m)).or_default() += 1;
    }
    let mut create = Vec::new();
    while keep.len() + create.len() < count && !counts.is_empty() {
        let (region, n) = counts
            .iter_mut()
            .min_by(|a, b| (*a.1).cmp(&*b.1).then(a.0.cmp(b.0)))
            .expect("non-empty");
        *n += 1;
        create.push(region.clone());
    }
    Layout {
        keep,
        create,
        destroy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(id: &str, region: &str, image: &str) -> Value {
        json!({"id": id, "region": region, "state": "started",
               "config": {"image": image, "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 512}, "env": {"A": "1"}}})
    }

    fn spec(params: Value) -> MachineSpec {
        MachineSpec::from_params(&params).unwrap()
    }

    fn ids(machines: &[&Value]) -> Vec<String> {
        machines
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn machines_normalize_to_the_live_table_shape() {
        let ms = vec![machine("a", "ord", "img:1"), machine("b", "ams", "img:1")];
        assert_eq!(
            normalize_machines(&ms).unwrap(),
            json!({"image": "img:1", "count": 2, "regions": ["ams", "ord"],
                   "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 512}, "env": {"A": "1"},
                   "platform_env": {}, "config": {}})
        );
        let mixed = vec![machine("a", "ord", "img:2"), machine("b", "ord", "img:1")];
        assert_eq!(
            normalize_machines(&mixed).unwrap()["image"],
            json!(["img:1", "img:2"])
        );
        assert_eq!(normalize_machines(&[]), None);
    }

    #[test]
    fn a_live_machine_normalizes_to_the_managed_fields_with_flyctl_defaults() {
        // As `GET /v1/apps/{app}/machines` answers: much more than sophia manages.
        let live = json!({
            "id": "148ed", "name": "quiet-sun", "state": "started", "region": "ord",
            "instance_id": "01H", "private_ip": "fdaa::3",
            "config": {
                "image": "registry.fly.io/dash@sha256:ab",
                "guest": {"cpus": 2, "kernel_args": ["quiet"]},
                "services": [{"internal_port": 8080, "protocol": "tcp"}],
                "metadata": {"fly_platform_version": "v2", "fly_process_group": "app"},
                "restart": {"policy": "always"}
            }
        });
        assert_eq!(
            normalize_machines(&[live]).unwrap(),
            json!({
                "image": "registry.fly.io/dash@sha256:ab",
                "count": 1,
                "regions": ["ord"],
                // Absent guest fields are Fly's defaults; unknown ones are left out.
                "guest": {"cpu_kind": "shared", "cpus": 2, "memory_mb": 256},
                "env": {},
                "platform_env": {},
                // The keys flyctl sets from fly.toml, and flyctl's metadata.
                "config": {
                    "services": [{"internal_port": 8080, "protocol": "tcp"}],
                    "metadata": {"fly_platform_version": "v2", "fly_process_group": "app"},
                    "restart": {"policy": "always"},
                },
            })
        );
        let bare = json!({"id": "m", "region": "ams", "config": {"image": "i"}});
        assert_eq!(normalize_machines(&[bare]).unwrap()["guest"], Value::Null);
    }

    /// flyctl's `TestToMachineConfig`, second half: updating a live config replaces what
    /// fly.toml sets and keeps the rest (guest, schedule, auto_destroy, other metadata),
    /// merging `dns`.
    #[test]
    fn an_update_keeps_what_fly_toml_does_not_set() {
        let live = json!({
            "guest": {"cpus": 3}, "schedule": "24/7", "auto_destroy": true,
            "restart": {"policy": "always"}, "dns": {"skip_registration": true},
            "env": {"removed": "by-update"},
            "mounts": [{"name": "removed", "path": "/by/update"}],
            "metadata": {"retain": "propagated"},
            "init": {"cmd": ["removed", "by", "update"]},
        });
        let s = spec(json!({
            "env": {"FOO": "BAR"},
            "platform_env": {"FLY_PROCESS_GROUP": "app", "PRIMARY_REGION": "mia"},
            "config": {
                "metadata": {"fly_platform_version": "v2", "fly_process_group": "app"},
                "init": {"swap_size_mb": 512}, "mounts": [{"name": "data", "path": "/data"}],
                "services": null, "checks": null, "dns": {"nameservers": ["1.2.3.4"]},
            },
        }));
        let got = s.apply(&live);
        assert_eq!(
            got["env"],
            json!({"FOO": "BAR", "FLY_PROCESS_GROUP": "app", "PRIMARY_REGION": "mia"})
        );
        assert_eq!(got["guest"], json!({"cpus": 3}));
        assert_eq!(got["schedule"], json!("24/7"));
        assert_eq!(got["auto_destroy"], json!(true));
        assert_eq!(got["restart"], json!({"policy": "always"}));
        assert_eq!(
            got["dns"],
            json!({"skip_registration": true, "nameservers": ["1.2.3.4"]})
        );
        assert_eq!(got["metadata"]["retain"], json!("propagated"));
        assert_eq!(got["metadata"]["fly_process_group"], json!("app"));
        assert_eq!(got["init"], json!({"swap_size_mb": 512}));
        assert_eq!(got["mounts"], json!([{"name": "data", "path": "/data"}]));
        assert_eq!(got.get("services"), None);

        // A mount keeps its volume.
        let live =
            json!({"mounts": [{"name": "data", "path": "/data", "volume": "vol_1", "size_gb": 1}]});
        let s = spec(json!({"config": {"mounts": [{"name": "data", "path": "/data"}]}}));
        assert_eq!(s.apply(&live), live);
    }

    #[test]
    fn guest_and_env_come_from_the_first_machine() {
        let mut b = machine("b", "ord", "i");
        b["config"]["env"] = json!({"A": "2"});
        let ms = vec![machine("a", "ord", "i"), b];
        assert_eq!(normalize_machines(&ms).unwrap()["env"], json!({"A": "1"}));
    }

    #[test]
    fn layout_balances_regions_and_destroys_strays() {
        let ms = vec![
            machine("a", "ord", "i"),
            machine("b", "ord", "i"),
            machine("c", "ord", "i"),
            machine("d", "fra", "i"),
        ];
        let l = layout(&ms, &spec(json!({"count": 4, "regions": ["ord", "ams"]})));
        assert_eq!(ids(&l.keep), ["a", "b", "c"]);
        assert_eq!(l.create, ["ams"]);
        assert_eq!(ids(&l.destroy), ["d"]);

        let l = layout(&ms, &spec(json!({"count": 1})));
        assert_eq!(l.keep.len(), 1);
        assert_eq!(l.destroy.len(), 3);
        assert!(l.create.is_empty());
    }

    #[test]
    fn layout_keeps_round_robin_across_regions() {
        let ms = vec![
            machine("a", "ams", "i"),
            machine("b", "ams", "i"),
            machine("c", "ord", "i"),
            machine("d", "ord", "i"),
        ];
        let l = layout(&ms, &spec(json!({"count": 2, "regions": ["ams", "ord"]})));
        assert_eq!(ids(&l.keep), ["a", "c"]);
        assert_eq!(ids(&l.destroy), ["b", "d"]);
        assert!(l.create.is_empty());
    }

    #[test]
    fn a_first_deploy_spreads_new_machines_over_the_regions() {
        let l = layout(&[], &spec(json!({"count": 3, "regions": ["ord", "ams"]})));
        assert!(l.keep.is_empty() && l.destroy.is_empty());
        // The region with the fewest machines first, ties by name.
        assert_eq!(l.create, ["ams", "ord", "ams"]);

        // No region anywhere: nowhere to create, and nothing is invented.
        let l = layout(&[], &spec(json!({"count": 2})));
        assert!(l.create.is_empty());
    }

    #[test]
    fn without_regions_or_count_the_machines_stay_where_they_are() {
        let ms = vec![machine("a", "ord", "i"), machine("b", "fra", "i")];
        let l = layout(&ms, &spec(json!({})));
        assert_eq!(ids(&l.keep), ["b", "a"]);
        assert!(l.create.is_empty() && l.destroy.is_empty());

        let l = layout(&ms, &spec(json!({"count": 4})));
        assert_eq!(l.keep.len(), 2);
        assert_eq!(l.create, ["fra", "ord"]);
    }

    #[test]
    fn a_count_of_zero_destroys_every_machine() {
        let ms = vec![machine("a", "ord", "i"), machine("b", "ord", "i")];
        let l = layout(&ms, &spec(json!({"count": 0, "regions": ["ord"]})));
        assert!(l.keep.is_empty() && l.create.is_empty());
        assert_eq!(ids(&l.destroy), ["a", "b"]);
    }

    #[test]
    fn applying_a_spec_replaces_only_the_managed_fields() {
        let live = json!({
            "image": "img:1",
            "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 512},
            "env": {"A": "1"},
            "services": [{"internal_port": 8080}],
            "metadata": {"fly_process_group": "app"},
        });
        let s = spec(json!({"image": "img:2", "env": {"A": "2"}}));
        assert_eq!(
            s.apply(&live),
            json!({
                "image": "img:2",
                "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 512},
                "env": {"A": "2"},
                "services": [{"internal_port": 8080}],
                "metadata": {"fly_process_group": "app"},
            })
        );
        // A machine that already matches needs no update, whatever else its config holds:
        // this equality is how a deploy picks the machines to touch.
        let same = spec(json!({"image": "img:1", "env": {"A": "1"},
                               "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 512}}));
        assert_eq!(same.apply(&live), live);
        assert_eq!(spec(json!({})).apply(&live), live);
        // Params that are not objects are not applied.
        assert_eq!(spec(json!({"guest": "big", "env": 3})).apply(&live), live);
        // A machine without a config gets just the managed fields (the creation template).
        assert_eq!(
            spec(json!({"image": "img:3"})).apply(&Value::Null),
            json!({"image": "img:3"})
        );
    }

    #[test]
    fn params_default_to_a_checked_rolling_deploy() {
        let s = spec(json!({}));
        assert_eq!(s.strategy, "rolling");
        assert_eq!(s.max_unavailable, 1);
        assert!(s.wait);
        assert_eq!(
            (s.health.path.as_str(), s.health.expect_status),
            ("/healthz", 200)
        );
        assert_eq!(s.image_label(), "(unchanged image)");
        assert_eq!((s.image, s.count, s.regions), (None, None, None));

        let s = spec(
            json!({"strategy": "immediate", "max_unavailable": 3, "image": "img:9",
                            "health": {"path": "/up", "expect_status": 204}}),
        );
        assert!(!s.wait, "immediate does not wait for machines to start");
        assert_eq!(s.max_unavailable, 3);
        assert_eq!(s.image_label(), "img:9");
        assert_eq!(
            (s.health.path.as_str(), s.health.expect_status),
            ("/up", 204)
        );
    }

    #[test]
    fn a_health_spec_reads_a_nested_health_or_the_payload_itself() {
        let h = HealthSpec::from_params(&json!({"app": "x", "path": "/ready"}));
        assert_eq!((h.path.as_str(), h.expect_status), ("/ready", 200));
        // A status that is not an HTTP status falls back to 200.
        let h = HealthSpec::from_params(&json!({"health": {"expect_status": 70000}}));
        assert_eq!((h.path.as_str(), h.expect_status), ("/healthz", 200));
    }

    #[test]
    fn unknown_strategies_are_refused() {
        let e = MachineSpec::from_params(&json!({"strategy": "rolling-eyes"})).unwrap_err();
        assert_eq!(e.code, "invalid-input");
        assert!(e.message.contains("`rolling-eyes`"), "{}", e.message);
        for ok in ["rolling", "immediate", "canary", "bluegreen"] {
            assert!(MachineSpec::from_params(&json!({ "strategy": ok })).is_ok());
        }
    }
}
