//! Retiring (issue 14): delete an app with everything it has, destroy the machines of a
//! process group gone from desired/, and list the apps of an organization (the inventory
//! the unmanaged report reads). Machines are leased before they are destroyed, as before
//! any update: one leased by someone else (a concurrent `fly deploy`) fails the action,
//! naming the lease's owner, and nothing is deleted.

use reqwest::Method;
use serde_json::{Value, json};

use super::{FlyProvider, PROVIDER, live};
use crate::providers::http::Retry;
use crate::providers::{ActionOutcome, ProviderError};

impl FlyProvider {
    /// `DELETE /v1/apps/{app}`, its machines leased first; the app's volumes and IP
    /// addresses go with it. Idempotent: an app already gone is a success.
    pub(super) async fn delete_app(&self, app: &str) -> Result<ActionOutcome, ProviderError> {
        let Some(machines) = self.machines(app).await? else {
            return Ok(ActionOutcome::success(
                format!("app `{app}` was already deleted"),
                vec![json!({ "app": app, "deleted": false })],
            ));
        };
        let ids = ids(&machines);
        self.lease_all(app, &ids).await?;
        let req = self
            .machines_api(Method::DELETE, &["apps", app])
            .retry(Retry::Idempotent);
        let resp = match self.send(req).await {
            Ok(r) => r,
            Err(e) => {
                self.release_all(app, &ids).await;
                return Err(e);
            }
        };
        if resp.status.as_u16() != 404
            && let Err(e) = resp.ok()
        {
            self.release_all(app, &ids).await;
            return Err(ProviderError::http(PROVIDER, e));
        }
        // The leases ended with their machines.
        for id in &ids {
            self.forget_lease(id);
        }
        Ok(ActionOutcome::success(
            format!(
                "deleted app `{app}` with its {} machine(s), volumes and IP addresses",
                ids.len()
            ),
            vec![json!({ "app": app, "deleted": true, "machines": ids })],
        ))
    }

    /// Destroy the machines of process group `group` (leased first). Idempotent: a machine
    /// already gone counts as destroyed.
    pub(super) async fn delete_process(
        &self,
        app: &str,
        group: &str,
    ) -> Result<ActionOutcome, ProviderError> {
        let machines: Vec<Value> = self
            .machines(app)
            .await?
            .unwrap_or_default()
            .into_iter()
            .filter(|m| live::in_group(m, group))
            .collect();
        let ids = ids(&machines);
        self.lease_all(app, &ids).await?;
        for (i, id) in ids.iter().enumerate() {
            if let Err(e) = self.destroy_machine(app, id).await {
                self.release_all(app, &ids[i..]).await;
                return Err(e);
            }
            self.forget_lease(id);
        }
        Ok(ActionOutcome::success(
            format!(
                "destroyed the {} machine(s) of process group `{group}` of `{app}`",
                ids.len()
            ),
            vec![json!({ "app": app, "group": group, "destroyed": ids })],
        ))
    }
}

fn ids(machines: &[Value]) -> Vec<String> {
    machines
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect()
}
