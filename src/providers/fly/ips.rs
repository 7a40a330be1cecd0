//! Public addresses (`/apps/{app}/ip_assignments`), as flyctl's first deploy assigns them: an
//! app whose machines serve through the proxy and has no public address gets one `v6` and one
//! `shared_v4`. Flycast addresses (`fdaa:…`) are private and do not count.

use reqwest::Method;
use serde_json::{Value, json};

use super::FlyProvider;
use crate::providers::http::Retry;
use crate::providers::{ActionOutcome, ProviderError};

/// The normalized `fly.app.<a>.ips` object of an `ip_assignments` answer.
pub fn normalize_ips(body: &Value) -> Value {
    let public: Vec<(&str, bool)> = body
        .get("ips")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|ip| {
            let shared = ip.get("shared").and_then(Value::as_bool).unwrap_or(false);
            Some((ip.get("ip").and_then(Value::as_str)?, shared))
        })
        .filter(|(ip, _)| !ip.starts_with("fdaa:"))
        .collect();
    let v6 = public.iter().filter(|(ip, _)| ip.contains(':')).count();
    // A v4 address that is not shared is dedicated: the one Fly bills (the plan's cost).
    let dedicated = public
        .iter()
        .filter(|(ip, shared)| !ip.contains(':') && !shared)
        .count();
    json!({ "public": !public.is_empty(), "v6": v6, "v4": public.len() - v6, "v4_dedicated": dedicated })
}

impl FlyProvider {
    /// The app's addresses, `None` when the app does not exist.
    pub(super) async fn ips(&self, app: &str) -> Result<Option<Value>, ProviderError> {
        Ok(self
            .get_opt(&["apps", app, "ip_assignments"])
            .await?
            .map(|b| normalize_ips(&b)))
    }

    /// Assign one `v6` and one `shared_v4` when the app has no public address. Idempotent:
    /// it reads the addresses first, and a run after a partial one assigns nothing twice.
    pub(super) async fn allocate_ips(&self, app: &str) -> Result<ActionOutcome, ProviderError> {
        let body = self
            .get_opt(&["apps", app, "ip_assignments"])
            .await?
            .unwrap_or(Value::Null);
        let have = normalize_ips(&body);
        let mut results = Vec::new();
        let wanted: &[&str] = match (have["v6"].as_u64(), have["v4"].as_u64()) {
            (Some(0), Some(0)) => &["v6", "shared_v4"],
            _ => &[],
        };
        for kind in wanted {
            // Never retried blindly: a lost answer would assign a second address.
            let req = self
                .machines_api(Method::POST, &["apps", app, "ip_assignments"])
                .json(json!({ "type": kind }))
                .retry(Retry::Never);
            let ip = self.send_ok(req).await?;
            results.push(json!({"type": kind, "ip": ip.get("ip")}));
        }
        Ok(ActionOutcome::success(
            if results.is_empty() {
                format!("`{app}` already has public addresses")
            } else {
                format!("assigned `{app}` one v6 and one shared v4 address")
            },
            results,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flycast_addresses_are_not_public() {
        let body = json!({"ips": [
            {"ip": "fdaa:0:1::3", "region": "global", "shared": false},
        ]});
        assert_eq!(
            normalize_ips(&body),
            json!({"public": false, "v6": 0, "v4": 0, "v4_dedicated": 0})
        );
        let body = json!({"ips": [
            {"ip": "2a09:8280:1::2a", "region": "global", "shared": false},
            {"ip": "66.241.124.10", "region": "global", "shared": true},
            {"ip": "137.66.1.11", "region": "global", "shared": false},
        ]});
        assert_eq!(
            normalize_ips(&body),
            json!({"public": true, "v6": 1, "v4": 2, "v4_dedicated": 1})
        );
    }
}
