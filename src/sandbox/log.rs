//! The request log: every request as one JSON line `{at, method, path, status, token_scope,
//! body, write}` (plus `fault` when one was injected), in memory and optionally in a file. Secret
//! values are masked before anything is kept: sealed `encrypted_value`s, the values of Fly's
//! `values` map, API keys and tokens become `"***"`. Tokens themselves are never logged, only
//! their scope; query strings are not logged (some APIs accept keys there).

use std::io::Write as _;
use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value;

/// What a masked value becomes.
pub const MASK: &str = "***";

/// Keys whose value is a secret wherever they appear in a request body.
const SECRET_KEYS: &[&str] = &[
    "encrypted_value",
    "api_key",
    "apikey",
    "apiKey",
    "token",
    "access_token",
    "password",
    "secret",
    "client_secret",
    "private_key",
];

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LogEntry {
    /// RFC 3339, milliseconds.
    pub at: String,
    pub method: String,
    pub path: String,
    /// `None` when the connection was dropped without a response.
    pub status: Option<u16>,
    /// `none`, `read-only` or `full`.
    pub token_scope: String,
    /// The request body, masked; `null` when empty, a note when not JSON.
    pub body: Value,
    /// Whether the request would change something (what a read-only token is refused), so a
    /// test can assert that `plan` made no mutating call whatever it was answered.
    #[serde(default)]
    pub write: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// For a `lost` fault: the status the handler answered before the answer was lost (the
    /// change it made stands). `status` is what the client saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled: Option<u16>,
}

pub struct RequestLog {
    /// `None` when the log is not kept in memory.
    entries: Option<Mutex<Vec<LogEntry>>>,
    /// Signalled after every entry kept in memory, for [`RequestLog::wait_for`].
    grown: Condvar,
    file: Option<Mutex<std::io::BufWriter<std::fs::File>>>,
}

impl RequestLog {
    pub fn new(path: Option<&Path>, in_memory: bool) -> anyhow::Result<RequestLog> {
        let file = match path {
            Some(path) => Some(Mutex::new(std::io::BufWriter::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening the request log `{}`", path.display()))?,
            ))),
            None => None,
        };
        Ok(RequestLog {
            entries: in_memory.then(|| Mutex::new(Vec::new())),
            grown: Condvar::new(),
            file,
        })
    }

    pub fn record(&self, entry: LogEntry) {
        if let Some(file) = &self.file {
            let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
            if let Ok(line) = serde_json::to_string(&entry) {
                // The log is best effort: a full disk must not fail the request it describes.
                let _ = writeln!(file, "{line}").and_then(|()| file.flush());
            }
        }
        if let Some(entries) = &self.entries {
            entries
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(entry);
            self.grown.notify_all();
        }
    }

    /// Block until `done` holds for the entries kept so far, or `timeout` passes; returns
    /// whether it held. An entry is recorded once the request has been handled (its state
    /// change made) and before the response is sent, so a caller woken by the n-th entry acts
    /// while the client is still waiting for that answer. Always false when the log is not
    /// kept in memory.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&[LogEntry]) -> bool) -> bool {
        let Some(entries) = &self.entries else {
            return false;
        };
        let deadline = Instant::now() + timeout;
        let mut guard = entries.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if done(&guard) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = self
                .grown
                .wait_timeout(guard, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    pub fn entries(&self) -> Vec<LogEntry> {
        self.entries
            .as_ref()
            .map(|e| e.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }

    pub fn clear(&self) {
        if let Some(entries) = &self.entries {
            entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }
}

/// The body as it may be logged.
pub fn masked_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut value) => {
            mask(&mut value);
            value
        }
        Err(_) => Value::String(format!("<{} bytes, not JSON>", bytes.len())),
    }
}

fn mask(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if SECRET_KEYS.contains(&key.as_str()) {
                    if !v.is_null() {
                        *v = Value::String(MASK.into());
                    }
                } else if key == "values" && v.is_object() {
                    // Fly's `POST /apps/{app}/secrets {"values": {NAME: value | null}}`: keep the
                    // names and the removals (null), mask every value.
                    for secret in v.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                        if !secret.is_null() {
                            *secret = Value::String(MASK.into());
                        }
                    }
                } else {
                    mask(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_secret_values_and_keeps_names() {
        let body = json!({
            "encrypted_value": "c2VhbGVk", "key_id": "123",
            "values": { "A": "hunter2", "B": null },
            "api_key": "tvly-secret", "query": "rust",
            "nested": [{ "token": "xoxb-1" }]
        });
        let masked = masked_body(body.to_string().as_bytes());
        assert_eq!(
            masked,
            json!({
                "encrypted_value": "***", "key_id": "123",
                "values": { "A": "***", "B": null },
                "api_key": "***", "query": "rust",
                "nested": [{ "token": "***" }]
            })
        );
        assert!(!masked.to_string().contains("hunter2"));
    }

    fn entry(write: bool) -> LogEntry {
        LogEntry {
            at: "2026-01-01T00:00:00.000Z".into(),
            method: if write { "POST" } else { "GET" }.into(),
            path: "/fly/machines/v1/apps".into(),
            status: Some(200),
            token_scope: "full".into(),
            body: Value::Null,
            write,
            fault: None,
            handled: None,
        }
    }

    #[test]
    fn wait_for_wakes_on_the_entry_that_satisfies_it_and_times_out_otherwise() {
        let log = std::sync::Arc::new(RequestLog::new(None, true).unwrap());
        let writer = {
            let log = log.clone();
            std::thread::spawn(move || {
                for write in [false, true, false, true] {
                    log.record(entry(write));
                }
            })
        };
        let two_writes = |e: &[LogEntry]| e.iter().filter(|e| e.write).count() >= 2;
        assert!(log.wait_for(Duration::from_secs(30), two_writes));
        writer.join().unwrap();
        // Never satisfied: returns false once the timeout passes.
        assert!(!log.wait_for(Duration::from_millis(10), |e| e.len() > 4));
        // A log not kept in memory never satisfies anything.
        let off = RequestLog::new(None, false).unwrap();
        assert!(!off.wait_for(Duration::ZERO, |_| true));
    }

    #[test]
    fn non_json_bodies_are_not_logged() {
        assert_eq!(
            masked_body(b"token=xoxb-1&channel=C1"),
            json!("<23 bytes, not JSON>")
        );
        assert_eq!(masked_body(b""), Value::Null);
    }
}
