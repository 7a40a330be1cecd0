//! Volumes (`/apps/{app}/volumes`): one per machine that mounts it, in the machine's region,
//! created before the machines (`fly.volumes.create`), reused when they exist, never deleted
//! here. A new machine mounts a free volume of its mount's name in its region.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};

use super::{FlyProvider, PROVIDER};
use crate::providers::http::Retry;
use crate::providers::{ActionOutcome, ProviderError};

fn live(v: &Value) -> bool {
    !matches!(
        v.get("state").and_then(Value::as_str),
        Some("destroyed" | "destroying" | "pending_destroy")
    )
}

/// The normalized `fly.app.<a>.volume.<name>` object: `{count, regions, size_gb}`.
pub fn normalize_volumes(list: &Value, name: &str) -> Option<Value> {
    let mine: Vec<&Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v.get("name").and_then(Value::as_str) == Some(name) && live(v))
        .collect();
    let first = mine.first()?;
    let regions: BTreeSet<&str> = mine
        .iter()
        .filter_map(|v| v.get("region").and_then(Value::as_str))
        .collect();
    Some(json!({"count": mine.len(), "regions": regions, "size_gb": first.get("size_gb")}))
}

impl FlyProvider {
    async fn volumes(&self, app: &str) -> Result<Option<Value>, ProviderError> {
        self.get_opt(&["apps", app, "volumes"]).await
    }

    pub(super) async fn read_volume(
        &self,
        app: &str,
        name: &str,
    ) -> Result<Option<Value>, ProviderError> {
        Ok(self
            .volumes(app)
            .await?
            .and_then(|l| normalize_volumes(&l, name)))
    }

    /// Create the volumes `name` still lacks: `count` spread over `regions` round-robin (as
    /// the machines are), minus those that exist there. Idempotent: it counts first.
    pub(super) async fn create_volumes(
        &self,
        app: &str,
        params: &Value,
    ) -> Result<ActionOutcome, ProviderError> {
        let name = params["name"].as_str().unwrap_or_default();
        let count = params["count"].as_u64().unwrap_or(1) as usize;
        let size = params["size_gb"].as_u64().unwrap_or(1);
        let list = self.volumes(app).await?.unwrap_or(json!([]));
        let mut have: BTreeMap<String, usize> = BTreeMap::new();
        for v in list.as_array().into_iter().flatten() {
            if v["name"] == name && live(v) {
                *have
                    .entry(v["region"].as_str().unwrap_or_default().into())
                    .or_default() += 1;
            }
        }
        let mut regions: Vec<String> = params["regions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect();
        if regions.is_empty() {
            regions = have.keys().cloned().collect();
        }
        if regions.is_empty() {
            return Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("volume `{name}` of `{app}`: no region to create it in"),
            ));
        }
        let mut want: BTreeMap<String, usize> = BTreeMap::new();
        for i in 0..count {
            *want.entry(regions[i % regions.len()].clone()).or_default() += 1;
        }
        let mut results = Vec::new();
        for (region, n) in want {
            for _ in have.get(&region).copied().unwrap_or(0)..n {
                // Never retried blindly: the next run counts and creates what is missing.
                let req = self
                    .machines_api(Method::POST, &["apps", app, "volumes"])
                    .json(json!({ "name": name, "region": region, "size_gb": size }))
                    .retry(Retry::Never);
                let v = self.send_ok(req).await?;
                results.push(json!({"volume": v.get("id"), "name": name, "region": region}));
            }
        }
        Ok(ActionOutcome::success(
            format!("volumes `{name}` of `{app}`: {} created", results.len()),
            results,
        ))
    }

    /// `config` with each mount given a free volume of its name in `region` (one not attached
    /// and not taken by this deploy, recorded in `taken`).
    pub(super) async fn with_volumes(
        &self,
        app: &str,
        config: &Value,
        region: &str,
        taken: &mut BTreeSet<String>,
    ) -> Result<Value, ProviderError> {
        let Some(mounts) = config.get("mounts").and_then(Value::as_array) else {
            return Ok(config.clone());
        };
        let list = self.volumes(app).await?.unwrap_or(json!([]));
        let mut out = config.clone();
        let mut assigned = Vec::new();
        for m in mounts {
            let name = m["name"].as_str().unwrap_or_default();
            let free = list.as_array().into_iter().flatten().find(|v| {
                v["name"] == name
                    && v["region"] == region
                    && live(v)
                    && v["attached_machine_id"].is_null()
                    && !taken.contains(v["id"].as_str().unwrap_or_default())
            });
            let Some(id) = free.and_then(|v| v["id"].as_str()) else {
                return Err(ProviderError::new(
                    PROVIDER,
                    "invalid-input",
                    format!("no free volume `{name}` of `{app}` in `{region}` for a new machine"),
                ));
            };
            taken.insert(id.to_string());
            let mut m = m.clone();
            m["volume"] = json!(id);
            assigned.push(m);
        }
        out["mounts"] = Value::Array(assigned);
        Ok(out)
    }
}
