//! The cache: a Redis server reached through `REDIS_URL` (a secret: it may carry a password).
//!
//! - Read-only operations: `ping` (round-trip time) and `info` (selected `INFO` sections,
//!   parsed into key/value maps).
//! - Resources: `redis.config.<key>`, normalized as `{"value": "…"}`, refreshed with
//!   `CONFIG GET key` and applied with `CONFIG SET key value` (idempotent: setting the same
//!   value twice is the same as once).
//!
//! Keys that hold credentials (`requirepass`, `masterauth`, …) are never read or written:
//! not through `CONFIG GET`, not through a glob that would match them (keys with `*`, `?`
//! or `[` are refused), so no password can reach a plan or a proof.
//!
//! TLS (`rediss://`) is not built in (the `redis` crate's rustls feature is off); such a URL
//! gets a clear `invalid-input` error rather than a clear-text connection.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use serde_json::{Value, json};

use super::{ActionOutcome, Credentials, ProviderError};
use crate::core::address::Address;
use crate::core::plan::{Action, ActionKind};

pub const PROVIDER: &str = "redis";
pub const URL_VAR: &str = "REDIS_URL";

/// Time to connect and authenticate: a healthy Redis answers in milliseconds; ten seconds
/// covers a cold managed instance and still fails a plan quickly on a wrong host.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for one command: every command we send is O(1) or a small `INFO`.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The `INFO` sections `info` may return. They describe the server (version, memory,
/// clients, keyspace, …) and never contain a credential.
pub const INFO_SECTIONS: [&str; 8] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "keyspace",
];
/// What `info` returns without a `sections` payload.
pub const DEFAULT_INFO_SECTIONS: [&str; 4] = ["server", "clients", "memory", "keyspace"];

/// Configuration parameters that hold credentials: never read, never written.
pub const SECRET_CONFIG_KEYS: [&str; 5] = [
    "requirepass",
    "masterauth",
    "masteruser",
    "tls-key-file-pass",
    "tls-client-key-file-pass",
];

#[derive(Clone)]
pub struct RedisProvider {
    client: redis::Client,
    masks: Vec<String>,
}

impl std::fmt::Debug for RedisProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisProvider").finish_non_exhaustive()
    }
}

impl RedisProvider {
    /// From `REDIS_URL`; `not-configured` when it is missing.
    pub fn new(creds: &Credentials) -> Result<RedisProvider, ProviderError> {
        let url = creds
            .get(URL_VAR)
            .ok_or_else(|| ProviderError::not_configured(PROVIDER, &[URL_VAR]))?;
        RedisProvider::from_url(url)
    }

    pub fn from_url(url: &str) -> Result<RedisProvider, ProviderError> {
        let invalid =
            |why: &str| ProviderError::new(PROVIDER, "invalid-input", format!("`{URL_VAR}` {why}"));
        if url.starts_with("rediss://") {
            return Err(invalid(
                "is a TLS URL (`rediss://`), which this build does not support",
            ));
        }
        let client = redis::Client::open(url).map_err(|_| {
            invalid("is not a Redis URL (expected `redis://[user:pass@]host:port[/db]`)")
        })?;
        let mut masks = vec![url.to_string()];
        if let Some(pw) = &client.get_connection_info().redis_settings().password() {
            if !pw.is_empty() {
                masks.push(pw.to_string());
            }
        }
        Ok(RedisProvider { client, masks })
    }

    fn err(&self, code: &str, what: &str, e: impl std::fmt::Display) -> ProviderError {
        let mut text = e.to_string();
        for m in &self.masks {
            text = text.replace(m.as_str(), "***");
        }
        ProviderError::new(PROVIDER, code, format!("{what}: {text}"))
    }

    fn cmd_err(&self, what: &str, e: redis::RedisError) -> ProviderError {
        let code = if e.is_timeout() {
            "timeout"
        } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
            "connection-failed"
        } else {
            "command-failed"
        };
        self.err(code, what, e)
    }

    async fn connect(&self) -> Result<MultiplexedConnection, ProviderError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| self.cmd_err(&format!("connecting to Redis ({URL_VAR})"), e))
    }

    /// `ping`: connect and time one `PING`.
    pub async fn ping(&self) -> Result<Value, ProviderError> {
        let started = Instant::now();
        let mut con = self.connect().await?;
        let connect_ms = started.elapsed().as_secs_f64() * 1000.0;
        let t = Instant::now();
        let pong: String = redis::cmd("PING")
            .query_async(&mut con)
            .await
            .map_err(|e| self.cmd_err("PING", e))?;
        let rtt = t.elapsed().as_secs_f64() * 1000.0;
        Ok(json!({
            "reply": pong,
            "connect_ms": round2(connect_ms),
            "round_trip_ms": round2(rtt),
        }))
    }

    /// `info`: the given sections (each one of [`INFO_SECTIONS`]) as
    /// `{section: {key: value}}`.
    pub async fn info(&self, sections: &[String]) -> Result<Value, ProviderError> {
        for s in sections {
            if !INFO_SECTIONS.contains(&s.as_str()) {
                return Err(ProviderError::new(
                    PROVIDER,
                    "invalid-input",
                    format!(
                        "unknown INFO section `{s}` (expected one of {})",
                        INFO_SECTIONS.join(", ")
                    ),
                ));
            }
        }
        let mut con = self.connect().await?;
        let mut out = serde_json::Map::new();
        for s in sections {
            let text: String = redis::cmd("INFO")
                .arg(s)
                .query_async(&mut con)
                .await
                .map_err(|e| self.cmd_err(&format!("INFO {s}"), e))?;
            out.insert(s.clone(), parse_info(&text));
        }
        Ok(Value::Object(out))
    }

    /// Read `redis.config.<key>` addresses with `CONFIG GET` (absent keys are left out).
    pub async fn refresh(
        &self,
        addresses: &[Address],
    ) -> Result<BTreeMap<Address, Value>, ProviderError> {
        let keys: Vec<(&Address, &str)> = addresses
            .iter()
            .filter_map(|a| match a {
                Address::RedisConfig { key } => Some((a, key.as_str())),
                _ => None,
            })
            .collect();
        if keys.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut con = self.connect().await?;
        let mut out = BTreeMap::new();
        for (address, key) in keys {
            check_key(key)?;
            let pairs: Vec<String> = redis::cmd("CONFIG")
                .arg("GET")
                .arg(key)
                .query_async(&mut con)
                .await
                .map_err(|e| self.cmd_err(&format!("CONFIG GET {key}"), e))?;
            // The reply is [name, value] pairs; with no glob in the key, at most one.
            if let Some(pos) = pairs.chunks(2).position(|p| p[0] == key) {
                out.insert(address.clone(), json!({ "value": pairs[pos * 2 + 1] }));
            }
        }
        Ok(out)
    }

    /// Execute `redis.config.set` (`params: {"key", "value"}`; the key is the address's).
    pub async fn execute(&self, action: &Action) -> ActionOutcome {
        let key = match (&action.address, action.kind) {
            (Address::RedisConfig { key }, ActionKind::RedisConfigSet) => key,
            (address, kind) => {
                return ActionOutcome::failure(ProviderError::new(
                    PROVIDER,
                    "invalid-input",
                    format!("redis cannot execute `{kind}` on `{address}`"),
                ));
            }
        };
        if let Err(e) = check_key(key) {
            return ActionOutcome::failure(e);
        }
        let Some(value) = action.params.get("value").and_then(Value::as_str) else {
            return ActionOutcome::failure(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("`redis.config.set` on `{key}` needs a string `value` parameter"),
            ));
        };
        let result = async {
            let mut con = self.connect().await?;
            redis::cmd("CONFIG")
                .arg("SET")
                .arg(key)
                .arg(value)
                .query_async::<()>(&mut con)
                .await
                .map_err(|e| self.cmd_err(&format!("CONFIG SET {key}"), e))
        }
        .await;
        match result {
            Ok(()) => ActionOutcome::success(
                format!("{key} = {value}"),
                vec![json!({ "key": key, "value": value })],
            ),
            Err(e) => ActionOutcome::failure(e),
        }
    }

    /// A read-only operation: `ping`, `validate` (the same), `info` (`{"sections": […]}`).
    pub async fn op(
        &self,
        name: &str,
        payload: &Value,
    ) -> Result<(String, Vec<Value>), ProviderError> {
        match name {
            "ping" | "validate" => {
                let r = self.ping().await?;
                Ok((
                    format!("Redis answered {} in {} ms", r["reply"], r["round_trip_ms"]),
                    vec![r],
                ))
            }
            "info" => {
                let sections: Vec<String> = match payload.get("sections").and_then(Value::as_array)
                {
                    Some(list) => list
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect(),
                    None => DEFAULT_INFO_SECTIONS
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                };
                let r = self.info(&sections).await?;
                let version = r
                    .pointer("/server/redis_version")
                    .and_then(Value::as_str)
                    .map(|v| format!("Redis {v}: "))
                    .unwrap_or_default();
                Ok((format!("{version}INFO {}", sections.join(" ")), vec![r]))
            }
            other => Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("unknown redis operation `{other}` (expected ping, info)"),
            )),
        }
    }
}

/// Refuse credential keys and globs.
fn check_key(key: &str) -> Result<(), ProviderError> {
    if SECRET_CONFIG_KEYS.contains(&key.to_ascii_lowercase().as_str()) {
        return Err(ProviderError::new(
            PROVIDER,
            "invalid-input",
            format!("`{key}` holds a credential: sophia never reads or sets it"),
        ));
    }
    if key.contains(['*', '?', '[']) || key.is_empty() {
        return Err(ProviderError::new(
            PROVIDER,
            "invalid-input",
            format!("`{key}` is not a configuration parameter name (globs are refused)"),
        ));
    }
    Ok(())
}

/// `INFO` text (`# Section` headers, `key:value` lines) as a JSON map.
pub fn parse_info(text: &str) -> Value {
    let map: BTreeMap<String, String> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    json!(map)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_text_parses() {
        let v = parse_info("# Server\r\nredis_version:7.0.15\r\nos:Linux\r\n\r\n");
        assert_eq!(v["redis_version"], "7.0.15");
        assert_eq!(v["os"], "Linux");
    }

    #[test]
    fn credential_keys_and_globs_are_refused() {
        assert!(check_key("requirepass").is_err());
        assert!(check_key("MASTERAUTH").is_err());
        assert!(check_key("*").is_err());
        assert!(check_key("maxmemory-*").is_err());
        assert!(check_key("maxmemory-policy").is_ok());
    }

    #[test]
    fn tls_urls_are_refused_clearly() {
        let e = RedisProvider::from_url("rediss://:pw@h:6380").unwrap_err();
        assert_eq!(e.code, "invalid-input");
        assert!(!e.message.contains("pw@"));
    }
}
