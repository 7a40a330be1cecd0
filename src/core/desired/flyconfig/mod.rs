//! The `fly.toml` sections a desired Fly app takes with fly.toml's own key names
//! (DESIGN.md, "Fly apps, as `fly.toml` describes them"): `http_service`, `services`,
//! `checks`, `mounts`, `processes`, `restart`, `metrics`, `statics`, `experimental`, `vm`.
//!
//! The same types read YAML (`desired/*.yaml`) and TOML (`config: fly.toml`), so a section
//! pasted from one into the other means the same thing. They accept the spellings flyctl
//! accepts: ports as integers or strings holding one, durations as Go duration strings or
//! integers (milliseconds, as flyctl's old format), `auto_stop_machines` as a boolean or
//! `off`/`stop`/`suspend`, a single table where flyctl allows a table or an array
//! (`[mounts]`, `[metrics]`, `[[vm]]`, `[[restart]]`), the old `"soft,hard"` concurrency
//! string, and check headers as a table or a list of `{name, value}`. Unknown keys are errors
//! in both formats; keys flyctl knows and the machine config never carries
//! (`machine_checks`, `experimental.auto_rollback`, …) are accepted and ignored.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod scalars;
pub use scalars::*;

// ───────────────────────────── sections ─────────────────────────────

/// `concurrency`: how many connections or requests a machine takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Concurrency {
    /// `connections` or `requests`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_limit: Option<u32>,
}

impl<'de> Deserialize<'de> for Concurrency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            #[serde(rename = "type", default)]
            kind: Option<String>,
            #[serde(default)]
            hard_limit: Option<u32>,
            #[serde(default)]
            soft_limit: Option<u32>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Concurrency;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table with `type`, `soft_limit` and `hard_limit`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Concurrency, E> {
                // The old "soft,hard" form, counted in connections.
                let parts: Vec<Option<u32>> = v.split(',').map(|p| p.trim().parse().ok()).collect();
                match parts.as_slice() {
                    [Some(soft), Some(hard)] => Ok(Concurrency {
                        kind: Some("connections".into()),
                        hard_limit: Some(*hard),
                        soft_limit: Some(*soft),
                    }),
                    _ => Err(E::custom(format!(
                        "`{v}` is not a concurrency (expected a table, or \"soft,hard\")"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Concurrency, A::Error> {
                let t = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Concurrency {
                    kind: t.kind,
                    hard_limit: t.hard_limit,
                    soft_limit: t.soft_limit,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `[http_service]`: one service on ports 80 (http) and 443 (http + tls).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpService {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_port: Option<Port>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_https: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_stop_machines: Option<Autostop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_start_machines: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_machines_running: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
    /// Passed to the machine's port 443 as the Machines API takes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_options: Option<Value>,
    /// Passed to both ports as the Machines API takes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_options: Option<Value>,
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Option::is_none"
    )]
    pub checks: Option<Vec<HttpCheck>>,
    /// flyctl's test machines; accepted, not run by `sophia`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_checks: Option<Vec<Value>>,
}

/// `[[services]]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// `tcp` or `udp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_port: Option<Port>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_stop_machines: Option<Autostop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_start_machines: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_machines_running: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<ServicePort>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_checks: Option<Vec<TcpCheck>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_checks: Option<Vec<HttpCheck>>,
    /// flyctl's test machines; accepted, not run by `sophia`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_checks: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<Vec<String>>,
}

/// `[[services.ports]]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicePort {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Port>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_port: Option<Port>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<Port>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handlers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_https: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_options: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_options: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_proto_options: Option<Value>,
}

/// `[[services.tcp_checks]]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<Duration>,
    /// flyctl's old format; accepted and ignored, as flyctl does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_limit: Option<u32>,
}

/// `[[services.http_checks]]` and `[[http_service.checks]]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `http` or `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_skip_verify: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
    /// flyctl's old format; accepted and ignored, as flyctl does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_limit: Option<u32>,
}

/// `[checks.NAME]`: a machine check (run by the machine's host, not the proxy).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopCheck {
    /// The port checked; the `http_service` internal port when not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Port>,
    /// `tcp` or `http`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_skip_verify: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<Vec<String>>,
}

/// `[[mounts]]`: a volume mounted into every machine of its process groups.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    /// The volume name.
    pub source: String,
    /// The path inside the machine.
    pub destination: String,
    /// Size of a new volume, e.g. `"10gb"` or a number of GB (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_size: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_retention: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_snapshots: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_extend_size_threshold: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_extend_size_increment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_extend_size_limit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<Vec<String>>,
}

/// `[[metrics]]`: where the machine serves Prometheus metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    pub port: Port,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<Vec<String>>,
}

/// `[[statics]]`: files served by Fly's proxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Static {
    pub guest_path: String,
    pub url_prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tigris_bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_document: Option<String>,
}

/// `[[restart]]`: the machines' restart policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Restart {
    /// `always`, `on-failure` or `never`.
    pub policy: String,
    #[serde(
        default,
        alias = "max_retries",
        skip_serializing_if = "Option::is_none"
    )]
    pub retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<Vec<String>>,
}

/// `[experimental]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Experimental {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Command>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Command>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<Command>,
    /// A JSON machine config merged under what fly.toml sets (e.g. `dns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_config: Option<String>,
    /// Keys of flyctl's `[experimental]` that the machine config does not carry; accepted
    /// and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_rollback: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_consul: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_etcd: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lazy_load_images: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_network: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_timeout: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_signal: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_port: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_path: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_public_ports: Option<Value>,
}

/// `[[vm]]` (alias `[[compute]]`): the guest of the machines of its process groups.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vm {
    /// A preset such as `shared-cpu-2x` or `performance-4x`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// `"1gb"`, `"512mb"`, `"4G"` or a number of MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_args: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_dedication_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persist_rootfs: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<Vec<String>>,
}

/// The fly.toml sections as one value: what an imported `fly.toml` contributes and what a
/// desired app holds (see `FlyApp`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlySections {
    #[serde(default)]
    pub http_service: Option<Box<HttpService>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub services: Option<Vec<Service>>,
    #[serde(default)]
    pub checks: Option<BTreeMap<String, TopCheck>>,
    /// `[mount]` is flyctl's old singular spelling.
    #[serde(default, alias = "mount", deserialize_with = "one_or_many")]
    pub mounts: Option<Vec<Mount>>,
    #[serde(default, deserialize_with = "processes_map")]
    pub processes: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub restart: Option<Vec<Restart>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub metrics: Option<Vec<Metrics>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub statics: Option<Vec<Static>>,
    #[serde(default)]
    pub kill_signal: Option<String>,
    #[serde(default, deserialize_with = "seconds_or_duration")]
    pub kill_timeout: Option<Duration>,
    #[serde(default)]
    pub swap_size_mb: Option<u32>,
    #[serde(default)]
    pub experimental: Option<Box<Experimental>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub vm: Option<Vec<Vm>>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub compute: Option<Vec<Vm>>,
    #[serde(default)]
    pub host_dedication_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flyctl_spellings_are_accepted() {
        let s: Service = serde_yaml::from_str(
            "internal_port: \"8080\"\nconcurrency: \"12,23\"\nauto_stop_machines: false\n\
             tcp_checks: [{interval: 10000, timeout: \"2s\"}]\n\
             http_checks: [{headers: [{name: origin, value: x}], grace_period: \"\"}]\n",
        )
        .unwrap();
        assert_eq!(s.internal_port, Some(Port(8080)));
        assert_eq!(s.auto_stop_machines, Some(Autostop::Off));
        assert_eq!(s.concurrency.unwrap().hard_limit, Some(23));
        let tcp = &s.tcp_checks.unwrap()[0];
        assert_eq!(tcp.interval, Some(Duration("10s".into())));
        let http = &s.http_checks.unwrap()[0];
        assert_eq!(http.headers.as_ref().unwrap().0["origin"], "x");
        assert!(http.grace_period.as_ref().unwrap().is_empty());
    }
}
