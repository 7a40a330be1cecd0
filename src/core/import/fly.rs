//! A Fly app's desired state from its live objects, written as its `fly.toml` would be: the
//! inverse of [`crate::core::flymachine::machine_config`] (and of
//! [`crate::core::lower`]'s Fly part) for what flyctl sets. Pure.
//!
//! An app's machines are read per process group (`fly.app.<a>.process.<g>`, or the one
//! `fly.app.<a>.machines`), and each machine config key goes back to the fly.toml section
//! flyctl builds it from:
//!
//! | machine config            | fly.toml                                                  |
//! |---------------------------|-----------------------------------------------------------|
//! | `init.cmd`                | `[processes]` (group → command, shell-quoted)             |
//! | `init.entrypoint`, `exec` | `[experimental] entrypoint`, `exec`                       |
//! | `init.swap_size_mb`       | `swap_size_mb`                                            |
//! | `services`                | `[[services]]` (`autostop` → `auto_stop_machines`, …)     |
//! | `checks`                  | `[checks.NAME]`                                           |
//! | `mounts`                  | `[[mounts]]` (`initial_size` from the live volume)        |
//! | `metrics`, `statics`      | `[[metrics]]`, `[[statics]]`                              |
//! | `restart`                 | `[[restart]]` (`no` → `never`, `max_retries` → `retries`) |
//! | `stop_config`             | `kill_signal`, `kill_timeout`                             |
//! | `dns`                     | `[experimental] machine_config`                           |
//! | `guest`                   | `guest`, or one `[[vm]]` per group when groups differ     |
//!
//! With several groups, each per-group section names its groups in `processes`: an entry
//! that several groups share is written once naming them all when that keeps each group's
//! own order, else once per group. What fly.toml holds once per app (`image`, `count`,
//! `regions`, `env`, `primary_region`, `statics`, the stop config, the entrypoint) must agree
//! across the groups; where it does not, or a config key has no fly.toml section, a note
//! names the address, the key and why, and that key is left out.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::core::address::Address;
use crate::core::desired::FlyApp;
use crate::core::flymachine::{DEFAULT_GROUP, META_PLATFORM_VERSION, META_PROCESS_GROUP};
use crate::core::live::LiveSnapshot;

/// One process group: its name and its normalized machines object.
struct Group<'a> {
    name: String,
    machines: &'a Value,
}

impl Group<'_> {
    fn config(&self, key: &str) -> Option<&Value> {
        self.machines
            .pointer(&format!("/config/{key}"))
            .filter(|v| !v.is_null())
    }
}

/// The app's groups: each `fly.app.<a>.process.<g>`, else the one `fly.app.<a>.machines`
/// (named by its metadata: a lone group need not be `app`). Empty without machines.
fn groups<'a>(live: &'a LiveSnapshot, app: &str) -> Vec<Group<'a>> {
    let processes: Vec<Group> = live
        .resources
        .iter()
        .filter_map(|(a, v)| match a {
            Address::FlyProcess { app: x, group } if x == app => Some(Group {
                name: group.clone(),
                machines: v,
            }),
            _ => None,
        })
        .collect();
    if !processes.is_empty() {
        return processes;
    }
    live.get(&Address::FlyMachines {
        app: app.to_string(),
    })
    .map(|m| Group {
        name: m
            .pointer(&format!("/config/metadata/{META_PROCESS_GROUP}"))
            .and_then(Value::as_str)
            .filter(|g| !g.is_empty())
            .unwrap_or(DEFAULT_GROUP)
            .to_string(),
        machines: m,
    })
    .into_iter()
    .collect()
}

/// The desired state of Fly app `name` (see the module docs); `None` when it does not exist.
pub(super) fn fly_app(live: &LiveSnapshot, name: &str, notes: &mut Vec<String>) -> Option<FlyApp> {
    live.get(&Address::FlyApp {
        app: name.to_string(),
    })?;
    let mut doc = Map::new();
    if let Some(names) = live
        .get(&Address::FlySecrets {
            app: name.to_string(),
        })
        .and_then(|s| s.get("names"))
    {
        doc.insert("secrets".into(), names.clone());
    }
    let groups = groups(live, name);
    if !groups.is_empty() {
        Reader {
            live,
            app: name,
            here: if groups.len() > 1 {
                format!("fly.app.{name}")
            } else {
                format!("fly.app.{name}.machines")
            },
            groups: &groups,
            notes: &mut *notes,
        }
        .read(&mut doc);
    }
    Some(assemble(doc, &format!("fly.app.{name}"), notes))
}

/// The app from its fly.toml-shaped document; a key desired cannot read is left out with a
/// note (the rest still comes in).
fn assemble(doc: Map<String, Value>, here: &str, notes: &mut Vec<String>) -> FlyApp {
    if let Ok(app) = serde_json::from_value(Value::Object(doc.clone())) {
        return app;
    }
    let mut kept = Map::new();
    for (key, v) in doc {
        let mut with = kept.clone();
        with.insert(key.clone(), v);
        match serde_json::from_value::<FlyApp>(Value::Object(with.clone())) {
            Ok(_) => kept = with,
            Err(e) => notes.push(format!("{here}: `{key}` not imported ({e})")),
        }
    }
    serde_json::from_value(Value::Object(kept)).unwrap_or_default()
}

struct Reader<'a, 'n> {
    live: &'a LiveSnapshot,
    app: &'a str,
    /// The address notes name.
    here: String,
    groups: &'a [Group<'a>],
    notes: &'n mut Vec<String>,
}

/// The machine config keys [`Reader::read`] writes back beside flyctl's own
/// ([`crate::core::flymachine::MANAGED_CONFIG`]); `metadata` is flyctl's, and `guest` is never
/// in a normalized object (it is its own attribute) but named so that an old snapshot that
/// has it is not noted twice.
const READ_ALSO: [&str; 4] = ["restart", "dns", "metadata", "guest"];

/// The `init` keys fly.toml sets.
const READ_INIT: [&str; 4] = ["cmd", "entrypoint", "exec", "swap_size_mb"];

impl Reader<'_, '_> {
    fn multi(&self) -> bool {
        self.groups.len() > 1
    }

    /// The one value every group has at `key` of the machines object (`None` when none
    /// has it); a note when they differ.
    fn common(&mut self, what: &str, f: impl Fn(&Group) -> Option<Value>) -> Option<Value> {
        let values: Vec<Option<Value>> = self.groups.iter().map(&f).collect();
        if values.iter().all(|v| *v == values[0]) {
            return values[0].clone();
        }
        let shown: Vec<String> = self
            .groups
            .iter()
            .zip(&values)
            .map(|(g, v)| match v {
                Some(v) if v.is_string() || v.is_number() || v.is_array() => {
                    format!("{}: {v}", g.name)
                }
                Some(_) => format!("{}: set", g.name),
                None => format!("{}: none", g.name),
            })
            .collect();
        self.notes.push(format!(
            "{}: its process groups differ in `{what}` ({}), which desired holds once per app; it is not imported",
            self.here,
            shown.join(", ")
        ));
        None
    }

    fn read(mut self, doc: &mut Map<String, Value>) {
        let here = self.here.clone();
        match self.common("image", |g| g.machines.get("image").cloned()) {
            Some(Value::String(image)) => {
                doc.insert("image".into(), json!(image));
            }
            Some(other) => self.notes.push(format!(
                "{here}: its machines run different images ({other}); `image` is not imported"
            )),
            None => {}
        }
        for key in ["count", "regions", "env"] {
            if let Some(v) = self.common(key, |g| {
                g.machines.get(key).filter(|v| !v.is_null()).cloned()
            }) {
                doc.insert(key.into(), v);
            }
        }
        if let Some(r) = self.common("primary_region", |g| {
            g.machines.pointer("/platform_env/PRIMARY_REGION").cloned()
        }) {
            doc.insert("primary_region".into(), r);
        }
        self.guest(doc);
        self.unknown_keys();
        self.init(doc);
        self.stop_config(doc);
        if let Some(statics) = self.common("config.statics", |g| g.config("statics").cloned()) {
            doc.insert("statics".into(), statics_section(&statics));
        }
        if let Some(dns) = self.common("config.dns", |g| g.config("dns").cloned()) {
            let raw = json!({ "dns": dns }).to_string();
            experimental(doc).insert("machine_config".into(), json!(raw));
        }
        let services = self.per_group(|g| list(g.config("services")).iter().map(service).collect());
        put(doc, "services", services);
        let (live, app) = (self.live, self.app);
        let mounts = self.per_group(|g| {
            list(g.config("mounts"))
                .iter()
                .map(|m| mount(live, app, m))
                .collect()
        });
        put(doc, "mounts", mounts);
        let metrics = self.per_group(|g| g.config("metrics").cloned().into_iter().collect());
        put(doc, "metrics", metrics);
        let restart = self.per_group(|g| g.config("restart").map(restart).into_iter().collect());
        put(doc, "restart", restart);
        self.checks(doc);
    }

    /// `guest` when the groups agree, else one `[[vm]]` per group with a guest.
    fn guest(&mut self, doc: &mut Map<String, Value>) {
        let guests: Vec<Option<&Value>> = self
            .groups
            .iter()
            .map(|g| g.machines.get("guest").filter(|v| !v.is_null()))
            .collect();
        if guests.iter().all(|g| *g == guests[0]) {
            if let Some(g) = guests[0] {
                doc.insert("guest".into(), g.clone());
            }
            return;
        }
        let vms: Vec<Value> = self
            .groups
            .iter()
            .zip(guests)
            .filter_map(|(group, guest)| {
                let mut vm = guest?.as_object()?.clone();
                vm.insert("processes".into(), json!([group.name]));
                Some(Value::Object(vm))
            })
            .collect();
        doc.insert("vm".into(), json!(vms));
    }

    /// A note for each config key no fly.toml section sets (once per key).
    fn unknown_keys(&mut self) {
        let mut unknown = BTreeSet::new();
        for g in self.groups {
            let config = g.machines.get("config").and_then(Value::as_object);
            for key in config.into_iter().flatten().map(|(k, _)| k.as_str()) {
                if !crate::core::flymachine::MANAGED_CONFIG.contains(&key)
                    && !READ_ALSO.contains(&key)
                {
                    unknown.insert(format!("config.{key}"));
                }
            }
            let init = g.config("init").and_then(Value::as_object);
            for key in init.into_iter().flatten().map(|(k, _)| k.as_str()) {
                if !READ_INIT.contains(&key) {
                    unknown.insert(format!("config.init.{key}"));
                }
            }
            let stop = g.config("stop_config").and_then(Value::as_object);
            for key in stop.into_iter().flatten().map(|(k, _)| k.as_str()) {
                if !["timeout", "signal"].contains(&key) {
                    unknown.insert(format!("config.stop_config.{key}"));
                }
            }
            let restart = g.config("restart").and_then(Value::as_object);
            for key in restart.into_iter().flatten().map(|(k, _)| k.as_str()) {
                if !["policy", "max_retries"].contains(&key) {
                    unknown.insert(format!("config.restart.{key}"));
                }
            }
        }
        for key in unknown {
            self.notes.push(format!(
                "{}: `{key}` is not imported (no fly.toml section sets it; write it by hand)",
                self.here
            ));
        }
        for g in self.groups {
            let version = g
                .config("metadata")
                .and_then(|m| m.get(META_PLATFORM_VERSION));
            if version.is_none() {
                self.notes.push(format!(
                    "{}: the machines of group `{}` lack flyctl's `{META_PLATFORM_VERSION}` metadata, which the first apply adds",
                    self.here, g.name
                ));
            }
        }
    }

    /// `[processes]` from each group's `init.cmd`; the entrypoint, exec and swap, which
    /// fly.toml holds once.
    fn init(&mut self, doc: &mut Map<String, Value>) {
        let commands: BTreeMap<String, String> = self
            .groups
            .iter()
            .map(|g| {
                let words = list(g.config("init").and_then(|i| i.get("cmd")));
                let cmd: Vec<&str> = words.iter().filter_map(Value::as_str).collect();
                // Only a NUL byte cannot be quoted, and no command line holds one.
                let line = shlex::try_join(cmd).unwrap_or_default();
                (g.name.clone(), line)
            })
            .collect();
        let named = self.multi() || self.groups[0].name != DEFAULT_GROUP;
        if named || commands.values().any(|c| !c.is_empty()) {
            doc.insert("processes".into(), json!(commands));
        }
        for key in ["entrypoint", "exec"] {
            let what = format!("config.init.{key}");
            if let Some(v) = self.common(&what, |g| g.config("init")?.get(key).cloned()) {
                experimental(doc).insert(key.into(), v);
            }
        }
        if let Some(v) = self.common("config.init.swap_size_mb", |g| {
            g.config("init")?.get("swap_size_mb").cloned()
        }) {
            doc.insert("swap_size_mb".into(), v);
        }
    }

    /// `kill_signal` and `kill_timeout` from the stop config, which fly.toml holds once.
    fn stop_config(&mut self, doc: &mut Map<String, Value>) {
        let Some(stop) = self.common("config.stop_config", |g| g.config("stop_config").cloned())
        else {
            return;
        };
        for (from, to) in [("signal", "kill_signal"), ("timeout", "kill_timeout")] {
            if let Some(v) = stop.get(from) {
                doc.insert(to.into(), v.clone());
            }
        }
    }

    /// The entries of a per-group section: each group's list (`f`), merged into entries
    /// naming their groups in `processes` (see the module docs). A lone group's list is
    /// written as it is.
    fn per_group(&self, f: impl Fn(&Group) -> Vec<Value>) -> Vec<Value> {
        let lists: Vec<(&str, Vec<Value>)> = self
            .groups
            .iter()
            .map(|g| (g.name.as_str(), f(g)))
            .collect();
        if !self.multi() {
            return lists.into_iter().next().map(|(_, l)| l).unwrap_or_default();
        }
        let mut merged: Vec<(Value, Vec<&str>)> = Vec::new();
        for (group, items) in &lists {
            let group: &str = group;
            for item in items {
                match merged
                    .iter_mut()
                    .find(|(v, gs)| *v == *item && !gs.contains(&group))
                {
                    Some((_, gs)) => gs.push(group),
                    None => merged.push((item.clone(), vec![group])),
                }
            }
        }
        let keeps_order = lists.iter().all(|(group, items)| {
            merged
                .iter()
                .filter(|(_, gs)| gs.contains(group))
                .map(|(v, _)| v)
                .eq(items.iter())
        });
        if !keeps_order {
            merged = lists
                .iter()
                .flat_map(|(g, items)| items.iter().map(move |v| (v.clone(), vec![*g])))
                .collect();
        }
        merged
            .into_iter()
            .map(|(mut v, groups)| {
                if let Some(o) = v.as_object_mut() {
                    o.insert("processes".into(), json!(groups));
                }
                v
            })
            .collect()
    }

    /// `[checks.NAME]`: a check several groups share names them all; one name with
    /// different checks in different groups cannot be written (a note).
    fn checks(&mut self, doc: &mut Map<String, Value>) {
        let mut by_name: BTreeMap<String, Vec<(Value, Vec<String>)>> = BTreeMap::new();
        for g in self.groups {
            let checks = g.config("checks").and_then(Value::as_object);
            for (name, c) in checks.into_iter().flatten() {
                let mut c = c.as_object().cloned().unwrap_or_default();
                headers(&mut c);
                let c = Value::Object(c);
                let entries = by_name.entry(name.clone()).or_default();
                match entries.iter_mut().find(|(v, _)| *v == c) {
                    Some((_, gs)) => gs.push(g.name.clone()),
                    None => entries.push((c, vec![g.name.clone()])),
                }
            }
        }
        let mut out = Map::new();
        for (name, mut entries) in by_name {
            if entries.len() > 1 {
                let groups: Vec<String> = entries.iter().flat_map(|(_, g)| g.clone()).collect();
                self.notes.push(format!(
                    "{}: check `{name}` differs between process groups ({}), and fly.toml names a check once; it is not imported",
                    self.here,
                    groups.join(", ")
                ));
                continue;
            }
            let (mut check, groups) = entries.remove(0);
            if let (true, Some(o)) = (self.multi(), check.as_object_mut()) {
                o.insert("processes".into(), json!(groups));
            }
            out.insert(name, check);
        }
        if !out.is_empty() {
            doc.insert("checks".into(), Value::Object(out));
        }
    }
}

fn list(v: Option<&Value>) -> Vec<Value> {
    v.and_then(Value::as_array).cloned().unwrap_or_default()
}

fn put(doc: &mut Map<String, Value>, key: &str, items: Vec<Value>) {
    if !items.is_empty() {
        doc.insert(key.into(), json!(items));
    }
}

/// The document's `[experimental]` table (made on first use).
fn experimental(doc: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let table = doc
        .entry("experimental")
        .or_insert_with(|| Value::Object(Map::new()));
    if !table.is_object() {
        *table = Value::Object(Map::new());
    }
    table.as_object_mut().expect("made an object above")
}

/// A machine config service as fly.toml's `[[services]]` writes it (the inverse of
/// flyctl's `ToMachineService`).
fn service(s: &Value) -> Value {
    let mut out = Map::new();
    for (key, v) in s.as_object().into_iter().flatten() {
        match key.as_str() {
            "autostop" => {
                out.insert("auto_stop_machines".into(), v.clone());
            }
            "autostart" => {
                out.insert("auto_start_machines".into(), v.clone());
            }
            "checks" => {
                for c in v.as_array().into_iter().flatten() {
                    let mut c = c.as_object().cloned().unwrap_or_default();
                    let kind = c.remove("type");
                    let list = match kind.as_ref().and_then(Value::as_str) {
                        Some("http") => "http_checks",
                        _ => "tcp_checks",
                    };
                    headers(&mut c);
                    let entry = out.entry(list).or_insert_with(|| json!([]));
                    if let Some(a) = entry.as_array_mut() {
                        a.push(Value::Object(c));
                    }
                }
            }
            _ => {
                out.insert(key.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// A check's `headers`: the machine config's `[{name, values: [v]}]` back to fly.toml's
/// `{name: v}`.
fn headers(c: &mut Map<String, Value>) {
    if let Some(h) = c.remove("headers") {
        let map: Map<String, Value> = h
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| {
                Some((
                    x.get("name")?.as_str()?.to_string(),
                    x.pointer("/values/0")?.clone(),
                ))
            })
            .collect();
        c.insert("headers".into(), Value::Object(map));
    }
}

/// The machine config's `statics` as `[[statics]]` writes them.
fn statics_section(v: &Value) -> Value {
    let mut statics = v.as_array().cloned().unwrap_or_default();
    for s in statics.iter_mut().filter_map(Value::as_object_mut) {
        // flyctl sends `""` for the two optional fields.
        s.retain(|_, v| v.as_str() != Some(""));
    }
    Value::Array(statics)
}

/// The machine config's `restart` as `[[restart]]` writes it.
fn restart(r: &Value) -> Value {
    let mut out = Map::new();
    let policy = match r.get("policy").and_then(Value::as_str) {
        Some("no") => "never",
        Some(other) => other,
        None => "",
    };
    out.insert("policy".into(), json!(policy));
    if let Some(n) = r.get("max_retries").filter(|n| n.as_u64() > Some(0)) {
        out.insert("retries".into(), n.clone());
    }
    Value::Object(out)
}

/// A machine config mount as fly.toml's `[[mounts]]` writes it; `initial_size` from the
/// live volumes of that name.
fn mount(live: &LiveSnapshot, app: &str, m: &Value) -> Value {
    let mut out = Map::new();
    let name = m.get("name").and_then(Value::as_str).unwrap_or_default();
    out.insert("source".into(), json!(name));
    out.insert(
        "destination".into(),
        m.get("path").cloned().unwrap_or(json!("")),
    );
    if let Some(n) = m.get("extend_threshold_percent") {
        out.insert("auto_extend_size_threshold".into(), n.clone());
    }
    for (from, to) in [
        ("add_size_gb", "auto_extend_size_increment"),
        ("size_gb_limit", "auto_extend_size_limit"),
    ] {
        if let Some(n) = m.get(from).and_then(Value::as_u64) {
            out.insert(to.into(), json!(format!("{n}gb")));
        }
    }
    let volume = live.get(&Address::FlyVolume {
        app: app.to_string(),
        name: name.to_string(),
    });
    if let Some(gb) = volume
        .and_then(|v| v.get("size_gb"))
        .and_then(Value::as_u64)
    {
        out.insert("initial_size".into(), json!(format!("{gb}gb")));
    }
    Value::Object(out)
}
