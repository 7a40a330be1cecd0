//! Deploys: bring an app's machines to the desired image, guest, env, count and regions,
//! by strategy (`rolling`, `immediate`, `canary`, `bluegreen`), rolling back what a failed
//! check leaves behind. What to change comes from [`super::spec`]; each machine call from
//! [`super::machines`].

use serde_json::{Value, json};

use super::live;
use super::spec::{MachineSpec, layout};
use super::{FlyProvider, PROVIDER};
use crate::providers::{ActionOutcome, ProviderError};

/// A deploy whose new machines did not start or pass the health check.
fn deploy_failed(message: String) -> ProviderError {
    ProviderError::new(PROVIDER, "health-check-failed", message)
}

/// Undoing a failed deploy failed too.
fn rollback_failed(message: String) -> ProviderError {
    ProviderError::new(PROVIDER, "rollback-failed", message)
}

impl FlyProvider {
    /// Bring the app's machines to the desired image, guest, env, count and regions.
    ///
    /// Params (all optional; what is absent stays as it is): `image`, `count`, `regions`,
    /// `guest`, `env`, `strategy` (`rolling` default: batches of `max_unavailable`, each
    /// started and health-checked, every updated machine rolled back on a failure;
    /// `immediate`: all at once, no check; `canary`: one extra machine with the new config
    /// first, checked and destroyed, then rolling; `bluegreen`: a new machine beside each old
    /// one, and the old ones destroyed once the new ones are healthy), `max_unavailable` (default 1),
    /// `health` (`{path, expect_status}`, default `/healthz` → 200).
    ///
    /// Order: update existing machines (rolling: batch by batch, each waited to `started`
    /// and health-checked, every updated machine rolled back to its previous config when a
    /// check fails), then create missing machines, then destroy surplus ones. Running it
    /// again reads the machines afresh and does only what is left: idempotent.
    ///
    /// Every existing machine it will update or destroy is leased first, and released at
    /// the end, whatever happened (see [`super::leases`]): a machine leased by another owner
    /// fails the deploy before any change.
    ///
    /// With a `group`, only that process group's machines are considered (see
    /// [`super::live::in_group`]).
    pub async fn reconcile_machines(
        &self,
        app: &str,
        group: Option<&str>,
        params: &Value,
    ) -> ActionOutcome {
        let mut leased = Vec::new();
        let outcome = self.reconcile_inner(app, group, params, &mut leased).await;
        self.release_all(app, &leased).await;
        match outcome {
            Ok(o) => o,
            Err(e) => ActionOutcome::failure(e),
        }
    }

    async fn reconcile_inner(
        &self,
        app: &str,
        group: Option<&str>,
        params: &Value,
        leased: &mut Vec<String>,
    ) -> Result<ActionOutcome, ProviderError> {
        let spec = MachineSpec::from_params(params)?;
        let machines = self.machines(app).await?.ok_or_else(|| {
            ProviderError::new(
                PROVIDER,
                "http-error",
                format!("app `{app}` does not exist"),
            )
        })?;
        let machines: Vec<Value> = match group {
            Some(g) => machines
                .into_iter()
                .filter(|m| live::in_group(m, g))
                .collect(),
            None => machines,
        };
        let layout = layout(&machines, &spec);
        let mut results = Vec::new();

        // 1. Update the machines we keep, per the strategy.
        let to_update: Vec<&Value> = layout
            .keep
            .iter()
            .filter(|m| spec.apply(&m["config"]) != m["config"])
            .copied()
            .collect();
        let touched: Vec<String> = to_update
            .iter()
            .chain(&layout.destroy)
            .filter_map(|m| m["id"].as_str().map(str::to_string))
            .collect();
        self.lease_all(app, &touched).await?;
        *leased = touched;
        if !to_update.is_empty() {
            let outcome = self.rollout(app, &to_update, &spec).await?;
            let failed = !outcome.is_success();
            results.extend(outcome.results.clone());
            if failed {
                return Ok(ActionOutcome { results, ..outcome });
            }
        }

        // 2. Create missing machines (a POST that creates is never retried blindly: the
        //    next run re-lists and creates only what is still missing).
        let template = layout
            .keep
            .first()
            .map(|m| spec.apply(&m["config"]))
            .or_else(|| machines.first().map(|m| spec.apply(&m["config"])))
            .unwrap_or_else(|| spec.apply(&json!({})));
        if layout
            .create
            .iter()
            .any(|_| template.get("image").is_none())
        {
            return Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("cannot create machines for `{app}` without an `image`"),
            ));
        }
        let mut taken = std::collections::BTreeSet::new();
        for region in &layout.create {
            let config = self
                .with_volumes(app, &template, region, &mut taken)
                .await?;
            let id = self.create_machine(app, &config, region).await?;
            if spec.wait {
                self.wait_started(app, &id).await?;
            }
            results.push(json!({"machine": id, "region": region, "action": "created"}));
        }

        // 3. Destroy surplus machines.
        for m in &layout.destroy {
            let id = m["id"].as_str().unwrap_or_default();
            self.destroy_machine(app, id).await?;
            results.push(json!({"machine": id, "region": m["region"], "action": "destroyed"}));
        }

        Ok(ActionOutcome::success(
            format!(
                "machines of `{app}`: {} updated ({}), {} created, {} destroyed",
                to_update.len(),
                spec.strategy,
                layout.create.len(),
                layout.destroy.len()
            ),
            results,
        ))
    }

    /// Update `machines` per the strategy; on a failed check, roll back every machine
    /// updated so far and report the failure.
    pub(super) async fn rollout(
        &self,
        app: &str,
        machines: &[&Value],
        spec: &MachineSpec,
    ) -> Result<ActionOutcome, ProviderError> {
        let mut results = Vec::new();
        if spec.strategy == "immediate" {
            for m in machines {
                let id = self
                    .update_machine(app, m, &spec.apply(&m["config"]))
                    .await?;
                results.push(json!({"machine": id, "action": "updated", "image": spec.image}));
            }
            return Ok(ActionOutcome::success(
                "updated at once (immediate)",
                results,
            ));
        }
        if spec.strategy == "bluegreen" {
            return self.blue_green(app, machines, spec).await;
        }
        if spec.strategy == "canary" {
            match self.canary(app, machines[0], spec).await? {
                Ok(canary) => results = canary,
                Err(failed) => return Ok(failed),
            }
        }
        // Rolling, or the rest of a canary deploy once its canary passed.
        let batch = spec.max_unavailable.max(1);
        let mut updated: Vec<&Value> = Vec::new();
        for chunk in machines.chunks(batch) {
            for m in chunk {
                let id = self
                    .update_machine(app, m, &spec.apply(&m["config"]))
                    .await?;
                updated.push(m);
                results.push(json!({"machine": id, "action": "updated", "image": spec.image}));
            }
            let ids = chunk.iter().map(|m| m["id"].as_str().unwrap_or_default());
            if let Err(err) = self.started_and_healthy(app, ids, &spec.health).await {
                let mut errors = vec![deploy_failed(format!(
                    "rolling deploy of `{app}` to `{}` failed: {}; rolled back {} machine(s) to the previous image",
                    spec.image_label(),
                    err.message,
                    updated.len()
                ))];
                for m in updated.iter().rev() {
                    let id = m["id"].as_str().unwrap_or_default();
                    // Back to the bytes it ran: its image by the digest it reported (the
                    // tag may have moved since).
                    let previous = live::previous_config(m);
                    match self.update_machine(app, m, &previous).await {
                        Ok(_) => {
                            let _ = self.wait_started(app, id).await;
                            results.push(json!({
                                "machine": id,
                                "action": "rolled-back",
                                "image": previous.get("image"),
                            }));
                        }
                        Err(e) => errors.push(rollback_failed(format!(
                            "rolling back machine `{id}` failed: {}",
                            e.message
                        ))),
                    }
                }
                return Ok(ActionOutcome::failed(errors, results));
            }
        }
        Ok(ActionOutcome::success(
            format!("rolled out in batches of {batch}"),
            results,
        ))
    }

    /// Canary: one extra machine with the new config, next to `like`; started and checked,
    /// then destroyed either way. `Ok(records)` when it passed and the rolling update may go
    /// on; `Err(failure)` when it failed — no existing machine was touched.
    async fn canary(
        &self,
        app: &str,
        like: &Value,
        spec: &MachineSpec,
    ) -> Result<Result<Vec<Value>, ActionOutcome>, ProviderError> {
        let region = like["region"].as_str().unwrap_or("ord");
        let id = self
            .create_machine(app, &spec.apply(&like["config"]), region)
            .await?;
        let checked = self
            .started_and_healthy(app, std::iter::once(id.as_str()), &spec.health)
            .await;
        // The canary goes whatever it showed; a failed destroy is reported, not hidden.
        let destroyed = self.destroy_machine(app, &id).await;
        let mut results = vec![
            json!({"machine": id, "region": region, "action": "canary-created", "image": spec.image}),
        ];
        if destroyed.is_ok() {
            results.push(json!({"machine": id, "action": "canary-destroyed"}));
        }
        match (checked, destroyed) {
            (Ok(_), Ok(())) => Ok(Ok(results)),
            (Ok(_), Err(e)) => Err(e),
            (Err(err), destroyed) => {
                let mut errors = vec![deploy_failed(format!(
                    "canary of `{app}` on `{}` failed: {}; no existing machine was changed",
                    spec.image_label(),
                    err.message
                ))];
                if let Err(e) = destroyed {
                    errors.push(rollback_failed(format!(
                        "destroying the canary `{id}` failed: {}",
                        e.message
                    )));
                }
                Ok(Err(ActionOutcome::failed(errors, results)))
            }
        }
    }

    /// Blue-green: a new ("green") machine with the new config beside each old ("blue") one;
    /// once every green one has started and the app passes its health check, the blue ones
    /// are destroyed. If anything fails, the green ones are destroyed and the blue ones,
    /// never touched, keep serving.
    async fn blue_green(
        &self,
        app: &str,
        blue: &[&Value],
        spec: &MachineSpec,
    ) -> Result<ActionOutcome, ProviderError> {
        let mut results = Vec::new();
        let mut green: Vec<String> = Vec::new();
        let mut failure = None;
        for m in blue {
            let region = m["region"].as_str().unwrap_or("ord");
            match self
                .create_machine(app, &spec.apply(&m["config"]), region)
                .await
            {
                Ok(id) => {
                    results.push(json!({"machine": id, "region": region, "action": "green-created", "image": spec.image}));
                    green.push(id);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if failure.is_none()
            && let Err(e) = self
                .started_and_healthy(app, green.iter().map(String::as_str), &spec.health)
                .await
        {
            failure = Some(e);
        }
        if let Some(err) = failure {
            let mut errors = vec![deploy_failed(format!(
                "blue-green deploy of `{app}` to `{}` failed: {}; destroyed {} new machine(s), the previous ones were not touched",
                spec.image_label(),
                err.message,
                green.len()
            ))];
            for id in &green {
                match self.destroy_machine(app, id).await {
                    Ok(()) => results.push(json!({"machine": id, "action": "green-destroyed"})),
                    Err(e) => errors.push(rollback_failed(format!(
                        "destroying the new machine `{id}` failed: {}",
                        e.message
                    ))),
                }
            }
            return Ok(ActionOutcome::failed(errors, results));
        }
        for m in blue {
            let id = m["id"].as_str().unwrap_or_default();
            self.destroy_machine(app, id).await?;
            results.push(json!({"machine": id, "action": "blue-destroyed"}));
        }
        Ok(ActionOutcome::success(
            format!(
                "blue-green: {} new machine(s) healthy, the previous ones destroyed",
                green.len()
            ),
            results,
        ))
    }
}
