//! Fly.io: the Machines API (`/fly/machines/v1/…`, what `FLY_FLAPS_BASE_URL` points at), the
//! GraphQL API and the logs API (`/fly/api/…`, `FLY_API_BASE_URL`), and the apps themselves
//! (`/fly/apps/{app}/…`, `FLY_APP_URL_TEMPLATE`).
//!
//! Shapes follow `conformance/fly/machines-openapi.yaml` and Fly's Go client: errors are
//! `{"error": "…"}` with a `fly-request-id` header; leases are `{"status": "success", "data":
//! {nonce, expires_at, owner, description, version}}`; with a lease held, a mutation without the
//! matching `fly-machine-lease-nonce` header gets 409.
//!
//! Machines move as real ones do, deterministically: a create answers `created` and the machine
//! is `started` on the next observation (a read, a list or a wait); stop goes through
//! `stopping` to `stopped`; an update through `replacing` back to `started`.
//!
//! Logs: flyctl polls `GET {FLY_API_BASE_URL}/api/v1/apps/{app}/logs?next_token=…` and gets
//! `{"data": [{"id", "type": "logs", "attributes": {timestamp, message, level, instance,
//! region, meta}}], "meta": {"next_token"}}`; the sandbox serves one line per machine
//! transition.
//!
//! Health: `GET /fly/apps/{app}/<any path>` answers 200 `ok` when the app has machines, all
//! `started`, none running an image whose name contains `bad` or `unhealthy`; 503 otherwise.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Router};
use serde_json::{Map, Value, json};

use super::Shared;
use super::gate::{Caller, Provider, json_response, parse_json};
use super::state::{FlySecret, Lease, Machine, World, event, now, secret_digest};

/// The lease header of the Machines API.
const NONCE_HEADER: &str = "fly-machine-lease-nonce";

/// A lease's default time to live when the request names none: Fly's default, 30 seconds.
const DEFAULT_LEASE_TTL: i64 = 30;

/// The longest `wait` the Machines API accepts: 60 seconds (also its default).
const MAX_WAIT_SECS: u64 = 60;

/// Who holds leases and who the viewer is.
const VIEWER_EMAIL: &str = "sandbox@sophia.invalid";

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/machines/v1/apps", get(list_apps).post(create_app))
        .route("/machines/v1/apps/{app}", get(get_app).delete(delete_app))
        .route(
            "/machines/v1/apps/{app}/machines",
            get(list_machines).post(create_machine),
        )
        .route(
            "/machines/v1/apps/{app}/machines/{id}",
            get(get_machine).post(update_machine).delete(delete_machine),
        )
        .route("/machines/v1/apps/{app}/machines/{id}/start", post(start))
        .route("/machines/v1/apps/{app}/machines/{id}/stop", post(stop))
        .route("/machines/v1/apps/{app}/machines/{id}/wait", get(wait))
        .route(
            "/machines/v1/apps/{app}/machines/{id}/lease",
            get(get_lease).post(acquire_lease).delete(release_lease),
        )
        .route(
            "/machines/v1/apps/{app}/secrets",
            get(list_secrets).post(set_secrets),
        )
        .route(
            "/machines/v1/apps/{app}/secrets/{name}",
            delete(delete_secret),
        )
        .route("/api/graphql", post(graphql))
        .route("/api/api/v1/apps/{app}/logs", get(logs))
        .route("/apps/{app}", get(health))
        .route("/apps/{app}/{*rest}", get(health_path))
}

fn err(status: StatusCode, message: impl AsRef<str>) -> Response {
    Provider::FlyMachines.error(status, message.as_ref())
}

fn app_not_found(app: &str) -> Response {
    err(StatusCode::NOT_FOUND, format!("app not found: {app}"))
}

fn machine_not_found(id: &str) -> Response {
    err(StatusCode::NOT_FOUND, format!("machine not found: {id}"))
}

// ---------------------------------------------------------------- apps

#[derive(serde::Deserialize)]
struct OrgQuery {
    org_slug: Option<String>,
}

async fn list_apps(State(shared): State<Arc<Shared>>, Query(q): Query<OrgQuery>) -> Response {
    let Some(org) = q.org_slug else {
        return err(StatusCode::BAD_REQUEST, "org_slug is required");
    };
    let world = shared.world();
    if !world.fly.orgs.contains(&org) && org != "personal" {
        return err(
            StatusCode::NOT_FOUND,
            format!("organization not found: {org}"),
        );
    }
    let apps: Vec<Value> = world
        .fly
        .apps
        .values()
        .filter(|a| a.org == org)
        .map(|a| json!({ "id": a.id, "name": a.name, "machine_count": a.machines.len() }))
        .collect();
    json_response(
        StatusCode::OK,
        json!({ "total_apps": apps.len(), "apps": apps }),
    )
}

async fn create_app(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body = match parse_json(Provider::FlyMachines, &body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let name = body.get("app_name").and_then(Value::as_str).unwrap_or("");
    let org = body.get("org_slug").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() || org.is_empty() {
        return err(
            StatusCode::BAD_REQUEST,
            "app_name and org_slug are required",
        );
    }
    let mut world = shared.world();
    if !world.fly.orgs.contains(org) {
        return err(
            StatusCode::NOT_FOUND,
            format!("organization not found: {org}"),
        );
    }
    if world.fly.apps.contains_key(name) {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Name has already been taken",
        );
    }
    world.fly_create_app(name, org);
    StatusCode::CREATED.into_response()
}

async fn get_app(State(shared): State<Arc<Shared>>, Path(app): Path<String>) -> Response {
    let world = shared.world();
    let Some(a) = world.fly.apps.get(&app) else {
        return app_not_found(&app);
    };
    json_response(
        StatusCode::OK,
        json!({
            "id": a.id,
            "name": a.name,
            "organization": { "name": a.org, "slug": a.org },
            "status": if a.machines.is_empty() { "pending" } else { "deployed" },
        }),
    )
}

async fn delete_app(State(shared): State<Arc<Shared>>, Path(app): Path<String>) -> Response {
    let mut world = shared.world();
    if world.fly.apps.remove(&app).is_none() {
        return app_not_found(&app);
    }
    shared.changed.notify_waiters();
    StatusCode::ACCEPTED.into_response()
}

// ---------------------------------------------------------------- machines

/// The machine in the Machines API shape.
pub fn machine_json(m: &Machine) -> Value {
    let image = m.config.get("image").and_then(Value::as_str).unwrap_or("");
    let (registry, rest) = match image.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') => (host, rest),
        _ => ("docker.io", image),
    };
    let (repository, tag) = match rest.rsplit_once(':') {
        Some((r, t)) => (r, t),
        None => (rest, "latest"),
    };
    let digest = {
        use sha2::Digest as _;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(image)))
    };
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
        let healthy = m.state == "started" && image_is_healthy(image);
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
fn check_lease(m: &Machine, headers: &HeaderMap) -> Result<(), Response> {
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

async fn list_machines(State(shared): State<Arc<Shared>>, Path(app): Path<String>) -> Response {
    let mut world = shared.world();
    world.fly_settle(&app);
    let Some(a) = world.fly.apps.get(&app) else {
        return app_not_found(&app);
    };
    let machines: Vec<Value> = a.machines.values().map(machine_json).collect();
    json_response(StatusCode::OK, Value::Array(machines))
}

async fn create_machine(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_json(Provider::FlyMachines, &body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let Some(config) = body.get("config").filter(|c| c.is_object()).cloned() else {
        return err(
            StatusCode::BAD_REQUEST,
            "invalid config: config is required",
        );
    };
    if config
        .get("image")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return err(StatusCode::BAD_REQUEST, "invalid config: image is required");
    }
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
    let id = world.fly_create_machine(&app, name, &region, config);
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

async fn get_machine(
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
fn mutate_machine(
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

async fn update_machine(
    State(shared): State<Arc<Shared>>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match parse_json(Provider::FlyMachines, &body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let Some(config) = body.get("config").filter(|c| c.is_object()).cloned() else {
        return err(
            StatusCode::BAD_REQUEST,
            "invalid config: config is required",
        );
    };
    if config
        .get("image")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return err(StatusCode::BAD_REQUEST, "invalid config: image is required");
    }
    let skip_launch = body
        .get("skip_launch")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    mutate_machine(&shared, &app, &id, &headers, |world, app, id| {
        let instance_id = world.hex_id(26).to_uppercase();
        let secrets_version = world.fly.apps.get(app).map_or(0, |a| a.secrets_version);
        let m = world.machine_mut(app, id).expect("checked");
        let before = m.state.clone();
        m.config = config;
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

async fn start(
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

async fn stop(
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
struct DeleteQuery {
    force: Option<bool>,
}

async fn delete_machine(
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
        json_response(StatusCode::OK, json!({ "ok": true }))
    })
}

#[derive(serde::Deserialize)]
struct WaitQuery {
    state: Option<String>,
    timeout: Option<u64>,
}

async fn wait(
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

// ---------------------------------------------------------------- leases

fn lease_json(lease: &Lease, m: &Machine) -> Value {
    json!({
        "status": "success",
        "data": {
            "nonce": lease.nonce,
            "expires_at": lease.expires_at,
            "owner": lease.owner,
            "description": lease.description,
            "version": m.instance_id,
        }
    })
}

async fn acquire_lease(
    State(shared): State<Arc<Shared>>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match parse_json(Provider::FlyMachines, &body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let ttl = body
        .get("ttl")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_LEASE_TTL)
        .max(1);
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut world = shared.world();
    if !world.fly.apps.contains_key(&app) {
        return app_not_found(&app);
    }
    let nonce = world.hex_id(12);
    let Some(m) = world.machine_mut(&app, &id) else {
        return machine_not_found(&id);
    };
    // Refreshing one's own lease needs its nonce; anyone else gets 409.
    if let Err(resp) = check_lease(m, &headers) {
        return resp;
    }
    let now = chrono::Utc::now().timestamp();
    let nonce = match &m.lease {
        Some(l) if l.expires_at > now => l.nonce.clone(),
        _ => nonce,
    };
    let lease = Lease {
        nonce,
        expires_at: now + ttl,
        owner: VIEWER_EMAIL.into(),
        description,
    };
    let out = lease_json(&lease, m);
    m.lease = Some(lease);
    json_response(StatusCode::OK, out)
}

async fn get_lease(
    State(shared): State<Arc<Shared>>,
    Path((app, id)): Path<(String, String)>,
) -> Response {
    let mut world = shared.world();
    if !world.fly.apps.contains_key(&app) {
        return app_not_found(&app);
    }
    let Some(m) = world.machine_mut(&app, &id) else {
        return machine_not_found(&id);
    };
    match &m.lease {
        Some(l) if l.expires_at > chrono::Utc::now().timestamp() => {
            json_response(StatusCode::OK, lease_json(l, m))
        }
        _ => err(StatusCode::NOT_FOUND, "lease not found"),
    }
}

async fn release_lease(
    State(shared): State<Arc<Shared>>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    mutate_machine(&shared, &app, &id, &headers, |world, app, id| {
        let m = world.machine_mut(app, id).expect("checked");
        m.lease = None;
        json_response(StatusCode::OK, json!({ "status": "success" }))
    })
}

// ---------------------------------------------------------------- secrets

fn secrets_json(secrets: &BTreeMap<String, FlySecret>) -> Value {
    Value::Array(
        secrets
            .iter()
            .map(|(name, s)| {
                json!({
                    "name": name,
                    "digest": s.digest,
                    "created_at": s.created_at,
                    "updated_at": s.updated_at,
                })
            })
            .collect(),
    )
}

/// Fly accepts environment-variable names.
fn valid_secret_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

async fn list_secrets(State(shared): State<Arc<Shared>>, Path(app): Path<String>) -> Response {
    let world = shared.world();
    let Some(a) = world.fly.apps.get(&app) else {
        return app_not_found(&app);
    };
    json_response(
        StatusCode::OK,
        json!({ "secrets": secrets_json(&a.secrets) }),
    )
}

async fn set_secrets(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_json(Provider::FlyMachines, &body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let Some(values) = body.get("values").and_then(Value::as_object) else {
        return err(StatusCode::BAD_REQUEST, "values is required");
    };
    // Validate everything before changing anything: a refused request changes nothing.
    let mut changes: Vec<(String, Option<String>)> = Vec::new();
    for (name, value) in values {
        if !valid_secret_name(name) {
            return err(
                StatusCode::BAD_REQUEST,
                format!("invalid secret name `{name}`"),
            );
        }
        match value {
            Value::Null => changes.push((name.clone(), None)),
            Value::String(s) => changes.push((name.clone(), Some(s.clone()))),
            _ => {
                return err(
                    StatusCode::BAD_REQUEST,
                    format!("the value of `{name}` must be a string or null"),
                );
            }
        }
    }
    let mut world = shared.world();
    let Some(a) = world.fly.apps.get_mut(&app) else {
        return app_not_found(&app);
    };
    a.secrets_version += 1;
    let version = a.secrets_version;
    for (name, value) in changes {
        match value {
            None => {
                a.secrets.remove(&name);
            }
            Some(value) => {
                let digest = secret_digest(&app, &name, version);
                let now = now();
                let created_at = a
                    .secrets
                    .get(&name)
                    .map(|s| s.created_at.clone())
                    .unwrap_or_else(|| now.clone());
                a.secrets.insert(
                    name,
                    FlySecret {
                        value: Some(value),
                        digest,
                        created_at,
                        updated_at: now,
                    },
                );
            }
        }
    }
    json_response(
        StatusCode::OK,
        json!({ "version": version, "secrets": secrets_json(&a.secrets) }),
    )
}

async fn delete_secret(
    State(shared): State<Arc<Shared>>,
    Path((app, name)): Path<(String, String)>,
) -> Response {
    let mut world = shared.world();
    let Some(a) = world.fly.apps.get_mut(&app) else {
        return app_not_found(&app);
    };
    if a.secrets.remove(&name).is_none() {
        return err(StatusCode::NOT_FOUND, format!("secret not found: {name}"));
    }
    a.secrets_version += 1;
    json_response(StatusCode::OK, json!({ "version": a.secrets_version }))
}

// ---------------------------------------------------------------- GraphQL

/// Organization and deploy tokens (macaroons) are not users: `viewer` refuses them.
fn is_user_token(token: &str) -> bool {
    let token = token.strip_prefix("ro-").unwrap_or(token);
    !["fm1r_", "fm1a_", "fm2_"]
        .iter()
        .any(|p| token.starts_with(p))
}

/// The argument of `field(arg: …)` in a query: a literal string or a variable.
fn argument(query: &str, field: &str, variables: &Value) -> Option<String> {
    let start = query.find(&format!("{field}("))? + field.len() + 1;
    let inner = &query[start..start + query[start..].find(')')?];
    let value = inner.split_once(':')?.1.trim();
    if let Some(var) = value.strip_prefix('$') {
        let var: String = var
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        return variables.get(var)?.as_str().map(str::to_string);
    }
    Some(value.trim_matches('"').to_string())
}

fn org_json(slug: &str) -> Value {
    json!({ "id": format!("org-{slug}"), "slug": slug, "name": slug, "type": "SHARED" })
}

async fn graphql(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let body = match parse_json(Provider::FlyApi, &body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let query = body.get("query").and_then(Value::as_str).unwrap_or("");
    let variables = body.get("variables").cloned().unwrap_or(Value::Null);
    if query.trim_start().starts_with("mutation") {
        return json_response(
            StatusCode::OK,
            json!({ "data": null, "errors": [{ "message": "mutations are not emulated by the sophia sandbox" }] }),
        );
    }
    let world = shared.world();
    let mut data = Map::new();
    let mut errors = Vec::new();
    if query.contains("viewer") {
        if is_user_token(&caller.token) {
            let orgs: Vec<Value> = world.fly.orgs.iter().map(|o| org_json(o)).collect();
            data.insert(
                "viewer".into(),
                json!({
                    "id": "U_sandbox",
                    "email": VIEWER_EMAIL,
                    "name": "Sophia Sandbox",
                    "organizations": { "nodes": orgs },
                }),
            );
        } else {
            data.insert("viewer".into(), Value::Null);
            errors.push(json!({
                "message": "You must be authenticated to view this.",
                "path": ["viewer"],
                "extensions": { "code": "UNAUTHORIZED" },
            }));
        }
    }
    if query.contains("app(") {
        let name = argument(query, "app", &variables).unwrap_or_default();
        match world.fly.apps.get(&name) {
            Some(a) => {
                data.insert(
                    "app".into(),
                    json!({
                        "id": a.id,
                        "name": a.name,
                        "status": if a.machines.is_empty() { "pending" } else { "deployed" },
                        "deployed": !a.machines.is_empty(),
                        "hostname": format!("{}.fly.dev", a.name),
                        "appUrl": format!("https://{}.fly.dev", a.name),
                        "organization": org_json(&a.org),
                    }),
                );
            }
            None => {
                data.insert("app".into(), Value::Null);
                errors.push(json!({
                    "message": "Could not find App",
                    "path": ["app"],
                    "extensions": { "code": "NOT_FOUND" },
                }));
            }
        }
    }
    if query.contains("organization(") {
        let slug = argument(query, "organization", &variables).unwrap_or_default();
        if world.fly.orgs.contains(&slug) {
            data.insert("organization".into(), org_json(&slug));
        } else {
            data.insert("organization".into(), Value::Null);
            errors.push(json!({
                "message": "Could not find Organization",
                "path": ["organization"],
                "extensions": { "code": "NOT_FOUND" },
            }));
        }
    }
    if data.is_empty() && errors.is_empty() {
        errors.push(json!({ "message": "this query is not emulated by the sophia sandbox (viewer, app(name:), organization(slug:) are)" }));
    }
    let mut out =
        json!({ "data": if data.is_empty() { Value::Null } else { Value::Object(data) } });
    if !errors.is_empty() {
        out["errors"] = Value::Array(errors);
    }
    json_response(StatusCode::OK, out)
}

// ---------------------------------------------------------------- logs

#[derive(serde::Deserialize)]
struct LogsQuery {
    next_token: Option<String>,
}

async fn logs(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    Query(q): Query<LogsQuery>,
) -> Response {
    let mut world = shared.world();
    world.fly_settle(&app);
    let Some(a) = world.fly.apps.get(&app) else {
        return Provider::FlyApi.error(StatusCode::NOT_FOUND, "Could not find App");
    };
    let from: usize = q
        .next_token
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let data: Vec<Value> = a
        .logs
        .iter()
        .skip(from)
        .map(|l| {
            json!({
                "id": l.id,
                "type": "logs",
                "attributes": {
                    "timestamp": l.timestamp,
                    "message": l.message,
                    "level": l.level,
                    "instance": l.instance,
                    "region": l.region,
                    "meta": { "instance": l.instance, "region": l.region, "event": { "provider": "app" } },
                }
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        json!({ "data": data, "meta": { "next_token": a.logs.len().to_string() } }),
    )
}

// ---------------------------------------------------------------- health

async fn health(State(shared): State<Arc<Shared>>, Path(app): Path<String>) -> Response {
    app_health(&shared, &app)
}

async fn health_path(
    State(shared): State<Arc<Shared>>,
    Path((app, _rest)): Path<(String, String)>,
) -> Response {
    app_health(&shared, &app)
}

fn app_health(shared: &Shared, app: &str) -> Response {
    let mut world = shared.world();
    world.fly_settle(app);
    let Some(a) = world.fly.apps.get(app) else {
        return (StatusCode::NOT_FOUND, format!("app not found: {app}")).into_response();
    };
    if a.machines.is_empty() {
        return (StatusCode::SERVICE_UNAVAILABLE, "unhealthy: no machines").into_response();
    }
    for m in a.machines.values() {
        let image = m.config.get("image").and_then(Value::as_str).unwrap_or("");
        if m.state != "started" {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("unhealthy: machine {} is {}", m.id, m.state),
            )
                .into_response();
        }
        if !image_is_healthy(image) {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("unhealthy: machine {} runs {image}", m.id),
            )
                .into_response();
        }
    }
    (StatusCode::OK, "ok").into_response()
}
