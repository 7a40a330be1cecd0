//! Machines: `/fly/machines/v1/apps/{app}/machines…` (list, create, read, update, start, stop,
//! destroy, wait). Machines move as real ones do, deterministically: a create answers `created`
//! and the machine is `started` on the next observation (a read, a list or a wait); stop goes
//! through `stopping` to `stopped`; an update through `replacing` back to `started`. With a
//! lease held, a change without the lease's nonce gets 409.

use std::time::Duration;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::sandbox::Shared;
use crate::sandbox::gate::{Provider, json_response, parse_json};
use crate::sandbox::state::{Lease, Machine, World, event, now};

use super::VIEWER_EMAIL;
use super::errors::{app_not_found, err, machine_not_found};

/// The lease header of the Machines API.
const NONCE_HEADER: &str = "fly-machine-lease-nonce";

/// The longest `wait` the Machines API accepts: 60 seconds (also its default).
const MAX_WAIT_SECS: u64 = 60;

/// The machine in the Machines API shape.
pub fn machine_json(m: &Machine) -> Value {
    let image = m.config.get("image").and_then(Value::as_str).unwrap_or("");
    // As fly-go's `MachineImageRef`: the registry, the repository, the tag deployed (empty
    // for an image given by digest) and the digest the machine runs.
    let by_tag = image.split('@').next().unwrap_or(image);
    let (registry, rest) = match by_tag.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') => (host, rest),
        _ => ("docker.io", by_tag),
    };
    let (repository, tag) = match (rest.rsplit_once(':'), image.contains('@')) {
        (Some((r, t)), _) => (r, t),
        (None, true) => (rest, ""),
        (None, false) => (rest, "latest"),
    };
    let digest = m.running_digest();
    let mut out = json!({
        "id": m.id,
        "name": m.name,
        "state": m.state,
        "region": m.region,
        "instance_id": m.instance_id,
        "private_ip": m.private_ip,
        "config": m.config,
        "image_ref": {
            "registry": registry,
            "repository": repository,
            "tag": tag,
            "digest": digest,
            "labels": {},
        },
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        // Newest first, as the Machines API lists them.
        "events": m.events.iter().rev().cloned().collect::<Vec<_>>(),
    });
    if let Some(checks) = m.config.get("checks").and_then(Value::as_object) {
        let healthy = m.state == "started" && image_is_healthy(m.known_as());
        let checks: Vec<Value> = checks
            .keys()
            .map(|name| {
                json!({
                    "name": name,
                    "status": if healthy { "passing" } else { "critical" },
                    "output": if healthy { "HTTP 200" } else { "HTTP 503" },
                    "updated_at": m.updated_at,
                })
            })
            .collect();
        out["checks"] = Value::Array(checks);
    }
    out
}

/// Images whose name says so fail their health checks.
pub fn image_is_healthy(image: &str) -> bool {
    let lower = image.to_ascii_lowercase();
    !lower.contains("bad") && !lower.contains("unhealthy")
}

/// 409 unless the request carries the nonce of an unexpired lease on the machine.
pub(super) fn check_lease(m: &Machine, headers: &HeaderMap) -> Result<(), Response> {
    let Some(lease) = &m.lease else {
        return Ok(());
    };
    if lease.expires_at <= chrono::Utc::now().timestamp() {
        return Ok(());
    }
    let sent = headers.get(NONCE_HEADER).and_then(|v| v.to_str().ok());
    if sent == Some(lease.nonce.as_str()) {
        return Ok(());
    }
    Err(err(
        StatusCode::CONFLICT,
        format!(
            "machine ID {} lease currently held by {}, expires at {}",
            m.id,
            lease.owner,
            chrono::DateTime::from_timestamp(lease.expires_at, 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default()
        ),
    ))
}

pub(super) async fn list_machines(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
) -> Response {
    let mut world = shared.world();
    world.fly_settle(&app);
    let Some(a) = world.fly.apps.get(&app) else {
        return app_not_found(&app);
    };
    let machines: Vec<Value> = a.machines.values().map(machine_json).collect();
    json_response(StatusCode::OK, Value::Array(machines))
}

/// The body of a machine create or update, and its `config`, which must be an object with a
/// non-empty `image` and valid services, checks and mounts (the Machines API's 400s otherwise).
fn machine_request(body: &Bytes) -> Result<(Value, Value), Response> {
    let body = parse_json(Provider::FlyMachines, body)?;
    let Some(config) = body.get("config").filter(|c| c.is_object()).cloned() else {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "invalid config: config is required",
        ));
    };
    if config
        .get("image")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "invalid config: image is required",
        ));
    }
    if let Err(message) = super::validate::machine_config(&config) {
        return Err(err(
            StatusCode::BAD_REQUEST,
            format!("invalid config: {message}"),
        ));
    }
    Ok((body, config))
}

/// The digest of the config's image in the registry; a tag it does not hold is the Machines
/// API's 422 (the image cannot be pulled).
fn resolve_image(world: &World, config: &Value) -> Result<String, Response> {
    let image = config.get("image").and_then(Value::as_str).unwrap_or("");
    world.fly.image_digest(image).ok_or_else(|| {
        err(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("failed to get manifest {image}: MANIFEST_UNKNOWN: manifest unknown"),
        )
    })
}

pub(super) async fn create_machine(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    body: Bytes,
) -> Response {
    let (body, config) = match machine_request(&body) {
        Ok(parsed) => parsed,
        Err(resp) => return resp,
    };
    let region = body
        .get("region")
        .and_then(Value::as_str)
        .unwrap_or("ord")
        .to_string();
    let name = body.get("name").and_then(Value::as_str).map(str::to_string);
    let skip_launch = body
        .get("skip_launch")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let lease_ttl = body.get("lease_ttl").and_then(Value::as_i64);
    let mut world = shared.world();
    if !world.fly.apps.contains_key(&app) {
        return app_not_found(&app);
    }
    if let Err(resp) = resolve_image(&world, &config) {
        return resp;
    }
    let mounts = config.get("mounts").cloned();
    let id = world.fly_create_machine(&app, name, &region, config);
    if let Some(mounts) = mounts {
        let a = world.fly.apps.get_mut(&app).expect("checked");
        if let Err(message) = super::volumes::attach(a, &id, &region, &json!({ "mounts": mounts }))
        {
            a.machines.remove(&id);
            return err(StatusCode::BAD_REQUEST, message);
        }
    }
    let nonce = lease_ttl.map(|_| world.hex_id(12));
    let m = world.machine_mut(&app, &id).expect("just created");
    if skip_launch {
        m.pending = None;
    }
    if let (Some(ttl), Some(nonce)) = (lease_ttl, &nonce) {
        m.lease = Some(Lease {
            nonce: nonce.clone(),
            expires_at: chrono::Utc::now().timestamp() + ttl.max(1),
            owner: VIEWER_EMAIL.into(),
            description: String::new(),
        });
    }
    let mut out = machine_json(m);
    if let Some(nonce) = nonce {
        out["nonce"] = Value::String(nonce);
    }
    drop(world);
    shared.changed.notify_waiters();
    json_response(StatusCode::OK, out)
}

pub(super) async fn get_machine(
    State(shared): State<Arc<Shared>>,
    Path((app, id)): Path<(String, String)>,
) -> Response {
    let mut world = shared.world();
    if !world.fly.apps.contains_key(&app) {
        return app_not_found(&app);
    }
    world.fly_settle(&app);
    match world.machine_mut(&app, &id) {
        Some(m) => json_response(StatusCode::OK, machine_json(m)),
        None => machine_not_found(&id),
    }
}

/// Runs `f` on a machine after the lease check, then wakes waiters.
pub(super) fn mutate_machine(
    shared: &Shared,
    app: &str,
    id: &str,
    headers: &HeaderMap,
    f: impl FnOnce(&mut World, &str, &str) -> Response,
) -> Response {
    let mut world = shared.world();
    if !world.fly.apps.contains_key(app) {
        return app_not_found(app);
    }
    world.fly_settle(app);
    match world.machine_mut(app, id) {
        None => return machine_not_found(id),
        Some(m) => {
            if let Err(resp) = check_lease(m, headers) {
                return resp;
            }
        }
    }
    let resp = f(&mut world, app, id);
    drop(world);
    shared.changed.notify_waiters();
    resp
}

pub(super) async fn update_machine(
    State(shared): State<Arc<Shared>>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (body, config) = match machine_request(&body) {
        Ok(parsed) => parsed,
        Err(resp) => return resp,
    };
    let skip_launch = body
        .get("skip_launch")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    mutate_machine(&shared, &app, &id, &headers, |world, app, id| {
        let digest = match resolve_image(world, &config) {
            Ok(d) => d,
            Err(resp) => return resp,
        };
        let world_source = world
            .fly
            .image_source(config.get("image").and_then(Value::as_str).unwrap_or(""));
        let instance_id = world.hex_id(26).to_uppercase();
        let secrets_version = world.fly.apps.get(app).map_or(0, |a| a.secrets_version);
        let m = world.machine_mut(app, id).expect("checked");
        let before = m.state.clone();
        m.source = world_source;
        m.config = config;
        m.digest = digest;
        m.resolved_image = m.image().to_string();
        m.secrets_version = secrets_version;
        if let Some(region) = body.get("region").and_then(Value::as_str) {
            m.region = region.into();
        }
        if let Some(name) = body.get("name").and_then(Value::as_str) {
            m.name = name.into();
        }
        m.instance_id = instance_id;
        m.updated_at = now();
        m.events.push(event("update", "replacing", "user"));
        m.state = "replacing".into();
        m.pending = Some(if skip_launch && before != "started" {
            "stopped".into()
        } else {
            "started".into()
        });
        json_response(StatusCode::OK, machine_json(m))
    })
}

pub(super) async fn start(
    State(shared): State<Arc<Shared>>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    mutate_machine(&shared, &app, &id, &headers, |world, app, id| {
        let m = world.machine_mut(app, id).expect("checked");
        let previous = m.state.clone();
        if previous != "started" {
            m.state = "starting".into();
            m.pending = Some("started".into());
            m.events.push(event("start", "starting", "user"));
        }
        json_response(
            StatusCode::OK,
            json!({ "previous_state": previous, "migrated": false, "new_host": "" }),
        )
    })
}

pub(super) async fn stop(
    State(shared): State<Arc<Shared>>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    mutate_machine(&shared, &app, &id, &headers, |world, app, id| {
        let m = world.machine_mut(app, id).expect("checked");
        if m.state != "stopped" {
            m.state = "stopping".into();
            m.pending = Some("stopped".into());
            m.events.push(event("stop", "stopping", "user"));
        }
        json_response(StatusCode::OK, json!({ "ok": true }))
    })
}

#[derive(serde::Deserialize)]
pub(super) struct DeleteQuery {
    force: Option<bool>,
}

pub(super) async fn delete_machine(
    State(shared): State<Arc<Shared>>,
    Path((app, id)): Path<(String, String)>,
    Query(q): Query<DeleteQuery>,
    headers: HeaderMap,
) -> Response {
    let force = q.force.unwrap_or(false);
    mutate_machine(&shared, &app, &id, &headers, |world, app, id| {
        let a = world.fly.apps.get_mut(app).expect("checked");
        let state = a.machines[id].state.clone();
        if state == "started" && !force {
            return err(
                StatusCode::PRECONDITION_FAILED,
                "failed_precondition: unable to destroy machine, not currently stopped",
            );
        }
        a.machines.remove(id);
        super::volumes::detach(a, id);
        json_response(StatusCode::OK, json!({ "ok": true }))
    })
}

#[derive(serde::Deserialize)]
pub(super) struct WaitQuery {
    state: Option<String>,
    timeout: Option<u64>,
}

pub(super) async fn wait(
    State(shared): State<Arc<Shared>>,
    Path((app, id)): Path<(String, String)>,
    Query(q): Query<WaitQuery>,
) -> Response {
    let target = q.state.unwrap_or_else(|| "started".into());
    if !matches!(target.as_str(), "started" | "stopped" | "destroyed") {
        return err(
            StatusCode::BAD_REQUEST,
            format!("invalid state `{target}`: expected started, stopped or destroyed"),
        );
    }
    let timeout = Duration::from_secs(q.timeout.unwrap_or(MAX_WAIT_SECS).min(MAX_WAIT_SECS));
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = shared.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut world = shared.world();
            if !world.fly.apps.contains_key(&app) {
                return app_not_found(&app);
            }
            world.fly_settle(&app);
            match world.machine_mut(&app, &id) {
                None if target == "destroyed" => {
                    return json_response(StatusCode::OK, json!({ "ok": true }));
                }
                None => return machine_not_found(&id),
                Some(m) if m.state == target => {
                    return json_response(StatusCode::OK, json!({ "ok": true }));
                }
                Some(_) => {}
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return err(
                StatusCode::REQUEST_TIMEOUT,
                format!("deadline_exceeded: timeout waiting for machine to be {target}"),
            );
        }
    }
}
