//! The machine config flyctl builds from a `fly.toml` for one process group
//! (`appconfig.Config.ToMachineConfig`, `../shared/conformance/fly/flyctl-appconfig/
//! machines.go`), built here from the same sections of a desired app. Pure.
//!
//! As flyctl: the config is flattened for the group first (services, checks, mounts,
//! metrics and restart sections whose `processes` name the group, or name none and the group
//! is the default one); `[http_service]` becomes a `tcp` service on ports 80 (`http`,
//! `force_https`) and 443 (`http` + `tls`); a top-level check without a port takes the
//! `http_service` internal port (and is refused when there is none); the env gets
//! `FLY_PROCESS_GROUP` and `PRIMARY_REGION`; the metadata `fly_platform_version: v2` and
//! `fly_process_group`; the guest comes from the most specific `[[vm]]` section and is left
//! out when none applies (so `fly scale` settings survive). flyctl's own metadata key for its
//! version (`fly_flyctl_version`) is not written: it would make every release of `sophia`
//! look like drift.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::core::desired::flyconfig::{
    Concurrency, Duration, FlySections, Headers, HttpCheck, HttpService, Service, TcpCheck, Vm,
};

/// The group of an app without `[processes]`.
pub const DEFAULT_GROUP: &str = "app";
/// flyctl's metadata: which machines belong to Fly Launch and to which group.
pub const META_PLATFORM_VERSION: &str = "fly_platform_version";
pub const META_PROCESS_GROUP: &str = "fly_process_group";
pub const PLATFORM_VERSION: &str = "v2";
/// The environment variables flyctl adds to every machine.
pub const PLATFORM_ENV: [&str; 2] = ["FLY_PROCESS_GROUP", "PRIMARY_REGION"];

/// The machine config keys flyctl sets from fly.toml and removes when fly.toml has none.
pub const MANAGED_CONFIG: [&str; 7] = [
    "init",
    "services",
    "checks",
    "mounts",
    "metrics",
    "statics",
    "stop_config",
];

/// A config flyctl refuses to turn into a machine config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MachineConfigError {
    #[error(
        "check `{check}` for process group `{group}` has no port set and the group has no \
         http_service to take it from"
    )]
    CheckWithoutPort { check: String, group: String },
    #[error("invalid restart policy `{0}`: expected `always`, `on-failure` or `never`")]
    RestartPolicy(String),
    #[error("could not parse the command of process group `{group}`: `{command}`")]
    Command { group: String, command: String },
    #[error("invalid machine size `{0}`")]
    Size(String),
    #[error("invalid memory `{0}`")]
    Memory(String),
    #[error("`experimental.machine_config` is not a JSON object: {0}")]
    MachineConfig(String),
    #[error("check `{check}` has type `{kind}`: expected `tcp` or `http`")]
    CheckType { check: String, kind: String },
}

/// The process groups, sorted; `["app"]` without `[processes]`.
pub fn process_groups(s: &FlySections) -> Vec<String> {
    match &s.processes {
        Some(p) if !p.is_empty() => p.keys().cloned().collect(),
        _ => vec![DEFAULT_GROUP.to_string()],
    }
}

/// `app` when it is a group, else the first group by name (flyctl's `DefaultProcessName`).
pub fn default_group(s: &FlySections) -> String {
    let groups = process_groups(s);
    if groups.iter().any(|g| g == DEFAULT_GROUP) {
        DEFAULT_GROUP.to_string()
    } else {
        groups[0].clone()
    }
}

/// Whether a section limited to `processes` applies to `group` (flyctl's
/// `flattenGroupsMatch`): no list means the default group only.
fn applies(processes: Option<&Vec<String>>, group: &str, default: &str) -> bool {
    match processes {
        None => group == default,
        Some(p) if p.is_empty() => group == default,
        Some(p) => p
            .iter()
            .any(|x| x == group || (x.is_empty() && group == default)),
    }
}

fn set<T: Into<Value>>(m: &mut Map<String, Value>, key: &str, v: Option<T>) {
    if let Some(v) = v {
        m.insert(key.into(), v.into());
    }
}

fn duration(m: &mut Map<String, Value>, key: &str, d: &Option<Duration>) {
    if let Some(d) = d.as_ref().filter(|d| !d.is_empty()) {
        m.insert(key.into(), json!(d.0));
    }
}

fn headers(m: &mut Map<String, Value>, h: &Option<Headers>) {
    if let Some(h) = h.as_ref().filter(|h| !h.0.is_empty()) {
        let list: Vec<Value> =
            h.0.iter()
                .map(|(k, v)| json!({ "name": k, "values": [v] }))
                .collect();
        m.insert("headers".into(), json!(list));
    }
}

fn tcp_check(c: &TcpCheck) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("tcp"));
    duration(&mut m, "interval", &c.interval);
    duration(&mut m, "timeout", &c.timeout);
    duration(&mut m, "grace_period", &c.grace_period);
    Value::Object(m)
}

fn http_check(c: &HttpCheck) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("http"));
    duration(&mut m, "interval", &c.interval);
    duration(&mut m, "timeout", &c.timeout);
    duration(&mut m, "grace_period", &c.grace_period);
    set(&mut m, "method", c.method.clone());
    set(&mut m, "path", c.path.clone());
    set(&mut m, "protocol", c.protocol.clone());
    set(&mut m, "tls_skip_verify", c.tls_skip_verify);
    set(&mut m, "tls_server_name", c.tls_server_name.clone());
    headers(&mut m, &c.headers);
    Value::Object(m)
}

fn concurrency(m: &mut Map<String, Value>, c: &Option<Concurrency>) {
    if let Some(c) = c {
        let mut o = Map::new();
        set(&mut o, "type", c.kind.clone().filter(|k| !k.is_empty()));
        set(&mut o, "hard_limit", c.hard_limit.filter(|n| *n > 0));
        set(&mut o, "soft_limit", c.soft_limit.filter(|n| *n > 0));
        m.insert("concurrency".into(), Value::Object(o));
    }
}

fn machine_service(s: &Service) -> Value {
    let mut m = Map::new();
    set(
        &mut m,
        "protocol",
        s.protocol.clone().filter(|p| !p.is_empty()),
    );
    set(
        &mut m,
        "internal_port",
        s.internal_port.map(|p| p.0).filter(|p| *p > 0),
    );
    set(&mut m, "autostop", s.auto_stop_machines.map(|a| a.as_str()));
    set(&mut m, "autostart", s.auto_start_machines);
    set(&mut m, "min_machines_running", s.min_machines_running);
    if let Some(ports) = s.ports.as_ref().filter(|p| !p.is_empty()) {
        let ports: Vec<Value> = ports
            .iter()
            .map(|p| {
                let mut o = Map::new();
                set(&mut o, "port", p.port.map(|p| p.0));
                set(&mut o, "start_port", p.start_port.map(|p| p.0));
                set(&mut o, "end_port", p.end_port.map(|p| p.0));
                set(
                    &mut o,
                    "handlers",
                    p.handlers.clone().filter(|h| !h.is_empty()),
                );
                set(&mut o, "force_https", p.force_https.filter(|f| *f));
                set(&mut o, "tls_options", p.tls_options.clone());
                set(&mut o, "http_options", p.http_options.clone());
                set(&mut o, "proxy_proto_options", p.proxy_proto_options.clone());
                Value::Object(o)
            })
            .collect();
        m.insert("ports".into(), json!(ports));
    }
    let checks: Vec<Value> = s
        .tcp_checks
        .iter()
        .flatten()
        .map(tcp_check)
        .chain(s.http_checks.iter().flatten().map(http_check))
        .collect();
    if !checks.is_empty() {
        m.insert("checks".into(), json!(checks));
    }
    concurrency(&mut m, &s.concurrency);
    Value::Object(m)
}

/// `[http_service]` as the service flyctl makes of it (`HTTPService.ToService`).
fn http_service_as_service(h: &HttpService) -> Value {
    let mut m = Map::new();
    m.insert("protocol".into(), json!("tcp"));
    set(
        &mut m,
        "internal_port",
        h.internal_port.map(|p| p.0).filter(|p| *p > 0),
    );
    set(&mut m, "autostop", h.auto_stop_machines.map(|a| a.as_str()));
    set(&mut m, "autostart", h.auto_start_machines);
    set(&mut m, "min_machines_running", h.min_machines_running);
    let mut p80 = Map::new();
    p80.insert("port".into(), json!(80));
    p80.insert("handlers".into(), json!(["http"]));
    set(&mut p80, "force_https", h.force_https.filter(|f| *f));
    set(&mut p80, "http_options", h.http_options.clone());
    let mut p443 = Map::new();
    p443.insert("port".into(), json!(443));
    p443.insert("handlers".into(), json!(["http", "tls"]));
    set(&mut p443, "tls_options", h.tls_options.clone());
    set(&mut p443, "http_options", h.http_options.clone());
    m.insert(
        "ports".into(),
        json!([Value::Object(p80), Value::Object(p443)]),
    );
    let checks: Vec<Value> = h.checks.iter().flatten().map(http_check).collect();
    if !checks.is_empty() {
        m.insert("checks".into(), json!(checks));
    }
    concurrency(&mut m, &h.concurrency);
    Value::Object(m)
}

/// Fly's guest presets: (size, cpu kind, cpus, memory MB, gpu kind).
const PRESETS: [(&str, &str, u32, u32, Option<&str>); 18] = [
    ("shared-cpu-1x", "shared", 1, 256, None),
    ("shared-cpu-2x", "shared", 2, 512, None),
    ("shared-cpu-4x", "shared", 4, 1024, None),
    ("shared-cpu-6x", "shared", 6, 1536, None),
    ("shared-cpu-8x", "shared", 8, 2048, None),
    ("performance-1x", "performance", 1, 2048, None),
    ("performance-2x", "performance", 2, 4096, None),
    ("performance-4x", "performance", 4, 8192, None),
    ("performance-6x", "performance", 6, 12288, None),
    ("performance-8x", "performance", 8, 16384, None),
    ("performance-10x", "performance", 10, 20480, None),
    ("performance-12x", "performance", 12, 24576, None),
    ("performance-14x", "performance", 14, 28672, None),
    ("performance-16x", "performance", 16, 32768, None),
    ("a100-40gb", "performance", 8, 32768, Some("a100-pcie-40gb")),
    ("a100-80gb", "performance", 8, 32768, Some("a100-sxm4-80gb")),
    ("l40s", "performance", 8, 32768, Some("l40s")),
    ("a10", "performance", 8, 32768, Some("a10")),
];

/// A memory size in MB: a number of MB, or `"1gb"`, `"512mb"`, `"4G"` (binary units, as
/// flyctl's `units.RAMInBytes`).
pub fn memory_mb(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => {
            let s = s.trim().to_ascii_lowercase();
            let split = s
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(s.len());
            let n: f64 = s[..split].parse().ok()?;
            let mb = match s[split..].trim() {
                "" | "m" | "mb" | "mib" => n,
                "g" | "gb" | "gib" => n * 1024.0,
                "t" | "tb" | "tib" => n * 1024.0 * 1024.0,
                "k" | "kb" | "kib" => n / 1024.0,
                _ => return None,
            };
            let mb = mb.round();
            (mb >= 0.0 && mb <= f64::from(u32::MAX)).then_some(mb as u32)
        }
        _ => None,
    }
}

/// The most specific `[[vm]]` for `group` (flyctl's `ComputeForGroup`): the last section
/// naming the group, else the first that applies.
fn compute_for_group<'a>(vms: &'a [Vm], group: &str, default: &str) -> Option<&'a Vm> {
    let mut candidates = vms.iter().filter(|v| {
        v.processes.as_ref().is_none_or(Vec::is_empty)
            || applies(v.processes.as_ref(), group, default)
    });
    let mut best = candidates.next()?;
    for v in candidates {
        if v.processes
            .as_ref()
            .is_some_and(|p| p.iter().any(|x| x == group))
        {
            best = v;
        }
    }
    Some(best)
}

fn guest(s: &FlySections, group: &str, default: &str) -> Result<Option<Value>, MachineConfigError> {
    let vms: Vec<Vm> =
        s.vm.iter()
            .flatten()
            .chain(s.compute.iter().flatten())
            .cloned()
            .collect();
    let Some(vm) = compute_for_group(&vms, group, default) else {
        return Ok(None);
    };
    let size = match (&vm.size, &vm.gpu_kind) {
        (Some(size), _) if !size.is_empty() => size.as_str(),
        (_, Some(g)) if !g.is_empty() => "performance-8x",
        _ => "shared-cpu-1x",
    };
    let (_, kind, cpus, mem, gpu) = PRESETS
        .iter()
        .find(|p| p.0 == size)
        .ok_or_else(|| MachineConfigError::Size(size.to_string()))?;
    let mut g = Map::new();
    g.insert("cpu_kind".into(), json!(kind));
    g.insert("cpus".into(), json!(cpus));
    g.insert("memory_mb".into(), json!(mem));
    if let Some(gpu) = gpu {
        g.insert("gpu_kind".into(), json!(gpu));
        g.insert("gpus".into(), json!(1));
    }
    let host = vm
        .host_dedication_id
        .clone()
        .filter(|h| !h.is_empty())
        .or_else(|| s.host_dedication_id.clone().filter(|h| !h.is_empty()));
    set(&mut g, "host_dedication_id", host);
    if let Some(m) = &vm.memory {
        match memory_mb(m) {
            Some(0) | None => return Err(MachineConfigError::Memory(m.to_string())),
            Some(mb) => {
                g.insert("memory_mb".into(), json!(mb));
            }
        }
    }
    // Then every non-empty field of the section (flyctl copies with `IgnoreEmpty`).
    set(
        &mut g,
        "cpu_kind",
        vm.cpu_kind.clone().filter(|k| !k.is_empty()),
    );
    set(&mut g, "cpus", vm.cpus.filter(|n| *n > 0));
    set(&mut g, "memory_mb", vm.memory_mb.filter(|n| *n > 0));
    set(&mut g, "gpus", vm.gpus.filter(|n| *n > 0));
    set(
        &mut g,
        "gpu_kind",
        vm.gpu_kind.clone().filter(|k| !k.is_empty()),
    );
    set(
        &mut g,
        "kernel_args",
        vm.kernel_args.clone().filter(|k| !k.is_empty()),
    );
    set(
        &mut g,
        "persist_rootfs",
        vm.persist_rootfs.clone().filter(|k| !k.is_empty()),
    );
    Ok(Some(Value::Object(g)))
}

/// The machine config flyctl would send for `group` (no `image`: that is the deploy's).
/// `env` is the app's own environment; `primary_region` fly.toml's.
pub fn machine_config(
    s: &FlySections,
    group: &str,
    primary_region: Option<&str>,
    env: &BTreeMap<String, String>,
) -> Result<Map<String, Value>, MachineConfigError> {
    let default = default_group(s);
    let group = if group.is_empty() {
        default.as_str()
    } else {
        group
    };
    let applies = |p: Option<&Vec<String>>| applies(p, group, &default);
    let mut c = Map::new();

    // `[experimental] machine_config`: a base the fly.toml fields then override.
    if let Some(raw) = s
        .experimental
        .as_ref()
        .and_then(|e| e.machine_config.as_ref())
        .filter(|r| !r.trim().is_empty())
    {
        match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(m)) => c.extend(m),
            Ok(other) => return Err(MachineConfigError::MachineConfig(other.to_string())),
            Err(e) => return Err(MachineConfigError::MachineConfig(e.to_string())),
        }
    }

    // Env.
    let mut e: BTreeMap<String, String> = env.clone();
    e.insert("FLY_PROCESS_GROUP".into(), group.to_string());
    if let Some(r) = primary_region.filter(|r| !r.is_empty()) {
        e.insert("PRIMARY_REGION".into(), r.to_string());
    }
    c.insert("env".into(), json!(e));

    // Init.
    let mut init = Map::new();
    let mut cmd = match s.processes.as_ref().and_then(|p| p.get(group)) {
        Some(line) if !line.trim().is_empty() => {
            Some(
                shlex::split(line).ok_or_else(|| MachineConfigError::Command {
                    group: group.to_string(),
                    command: line.clone(),
                })?,
            )
        }
        _ => None,
    };
    if let Some(x) = &s.experimental {
        if cmd.is_none() {
            cmd = x.cmd.as_ref().map(|c| c.0.clone());
        }
        set(
            &mut init,
            "entrypoint",
            x.entrypoint.as_ref().map(|c| c.0.clone()),
        );
        set(&mut init, "exec", x.exec.as_ref().map(|c| c.0.clone()));
    }
    set(&mut init, "cmd", cmd.filter(|c| !c.is_empty()));
    set(&mut init, "swap_size_mb", s.swap_size_mb);
    c.insert("init".into(), Value::Object(init));

    // Metadata.
    c.insert(
        "metadata".into(),
        json!({ META_PLATFORM_VERSION: PLATFORM_VERSION, META_PROCESS_GROUP: group }),
    );

    // Services.
    let http = s
        .http_service
        .as_deref()
        .filter(|h| applies(h.processes.as_ref()));
    let services: Vec<Value> = http
        .map(http_service_as_service)
        .into_iter()
        .chain(
            s.services
                .iter()
                .flatten()
                .filter(|x| applies(x.processes.as_ref()))
                .map(machine_service),
        )
        .collect();
    if !services.is_empty() {
        c.insert("services".into(), json!(services));
    }

    // Checks.
    let mut checks = Map::new();
    for (name, check) in s.checks.iter().flatten() {
        if !applies(check.processes.as_ref()) {
            continue;
        }
        let mut m = Map::new();
        let port = match (check.port, http.and_then(|h| h.internal_port)) {
            (Some(p), _) | (None, Some(p)) => p.0,
            (None, None) => {
                return Err(MachineConfigError::CheckWithoutPort {
                    check: name.clone(),
                    group: group.to_string(),
                });
            }
        };
        m.insert("port".into(), json!(port));
        if let Some(kind) = &check.kind {
            if kind != "tcp" && kind != "http" {
                return Err(MachineConfigError::CheckType {
                    check: name.clone(),
                    kind: kind.clone(),
                });
            }
            m.insert("type".into(), json!(kind));
        }
        duration(&mut m, "interval", &check.interval);
        duration(&mut m, "timeout", &check.timeout);
        duration(&mut m, "grace_period", &check.grace_period);
        set(&mut m, "method", check.method.clone());
        set(&mut m, "path", check.path.clone());
        set(&mut m, "protocol", check.protocol.clone());
        set(&mut m, "tls_skip_verify", check.tls_skip_verify);
        set(&mut m, "tls_server_name", check.tls_server_name.clone());
        headers(&mut m, &check.headers);
        checks.insert(name.clone(), Value::Object(m));
    }
    if !checks.is_empty() {
        c.insert("checks".into(), Value::Object(checks));
    }

    // Statics (every group serves them, as flyctl does not flatten them).
    let statics: Vec<Value> = s
        .statics
        .iter()
        .flatten()
        .map(|x| {
            json!({
                "guest_path": x.guest_path,
                "url_prefix": x.url_prefix,
                "tigris_bucket": x.tigris_bucket.clone().unwrap_or_default(),
                "index_document": x.index_document.clone().unwrap_or_default(),
            })
        })
        .collect();
    if !statics.is_empty() {
        c.insert("statics".into(), json!(statics));
    }

    // Mounts.
    let mounts: Vec<Value> = s
        .mounts
        .iter()
        .flatten()
        .filter(|m| applies(m.processes.as_ref()))
        .map(|m| {
            let mut o = Map::new();
            o.insert("path".into(), json!(m.destination));
            o.insert("name".into(), json!(m.source));
            set(
                &mut o,
                "extend_threshold_percent",
                m.auto_extend_size_threshold.filter(|n| *n > 0),
            );
            let gb = |v: &Option<String>| {
                v.as_ref()
                    .and_then(|s| memory_mb(&json!(s)))
                    .map(|mb| mb / 1024)
                    .filter(|n| *n > 0)
            };
            set(&mut o, "add_size_gb", gb(&m.auto_extend_size_increment));
            set(&mut o, "size_gb_limit", gb(&m.auto_extend_size_limit));
            Value::Object(o)
        })
        .collect();
    if !mounts.is_empty() {
        c.insert("mounts".into(), json!(mounts));
    }

    // Metrics: the first section of the group.
    if let Some(m) = s
        .metrics
        .iter()
        .flatten()
        .find(|m| applies(m.processes.as_ref()))
    {
        let mut o = Map::new();
        o.insert("port".into(), json!(m.port.0));
        o.insert("path".into(), json!(m.path));
        set(&mut o, "https", m.https.filter(|h| *h));
        c.insert("metrics".into(), Value::Object(o));
    }

    // Stop config.
    let timeout = s.kill_timeout.as_ref().filter(|d| !d.is_empty());
    if s.kill_signal.is_some() || timeout.is_some() {
        let mut o = Map::new();
        set(&mut o, "timeout", timeout.map(|d| d.0.clone()));
        set(&mut o, "signal", s.kill_signal.clone());
        c.insert("stop_config".into(), Value::Object(o));
    }

    // Guest: only when a `[[vm]]` applies.
    if let Some(g) = guest(s, group, &default)? {
        c.insert("guest".into(), g);
    }

    // Restart: the last section of the group.
    for r in s
        .restart
        .iter()
        .flatten()
        .filter(|r| applies(r.processes.as_ref()))
    {
        let policy = match r.policy.as_str() {
            "always" => "always",
            "on-failure" => "on-failure",
            "never" | "no" => "no",
            other => return Err(MachineConfigError::RestartPolicy(other.to_string())),
        };
        let mut o = Map::new();
        o.insert("policy".into(), json!(policy));
        set(&mut o, "max_retries", r.retries.filter(|n| *n > 0));
        c.insert("restart".into(), Value::Object(o));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(yaml: &str) -> FlySections {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn an_app_without_sections_gets_flyctl_metadata_and_env() {
        let c = machine_config(&FlySections::default(), "", Some("ord"), &BTreeMap::new()).unwrap();
        assert_eq!(
            Value::Object(c),
            json!({
                "env": {"FLY_PROCESS_GROUP": "app", "PRIMARY_REGION": "ord"},
                "init": {},
                "metadata": {"fly_platform_version": "v2", "fly_process_group": "app"},
            })
        );
    }

    #[test]
    fn a_check_without_port_needs_an_http_service() {
        let s = sections("checks: {alive: {type: tcp}}\n");
        let e = machine_config(&s, "", None, &BTreeMap::new()).unwrap_err();
        assert!(e.to_string().contains("has no port set"), "{e}");
        let s = sections("checks: {alive: {type: tcp}}\nhttp_service: {internal_port: 8080}\n");
        let c = machine_config(&s, "", None, &BTreeMap::new()).unwrap();
        assert_eq!(c["checks"]["alive"]["port"], json!(8080));
    }

    #[test]
    fn restart_policies_are_flyctl_s() {
        let s = sections("restart: {policy: never}\n");
        let c = machine_config(&s, "", None, &BTreeMap::new()).unwrap();
        assert_eq!(c["restart"], json!({"policy": "no"}));
        let s = sections("restart: {policy: sometimes}\n");
        assert!(machine_config(&s, "", None, &BTreeMap::new()).is_err());
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(memory_mb(&json!("64gb")), Some(65536));
        assert_eq!(memory_mb(&json!("4G")), Some(4096));
        assert_eq!(memory_mb(&json!("512mb")), Some(512));
        assert_eq!(memory_mb(&json!(1024)), Some(1024));
        assert_eq!(memory_mb(&json!("lots")), None);
    }
}
