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
//! Registry: `HEAD`/`GET /fly/registry/v2/<repository>/manifests/<tag>` (`FLY_REGISTRY_URL`
//! is `…/fly/registry`) answers `Docker-Content-Digest`; see [`registry`].
//!
//! Health: `GET /fly/apps/{app}/<any path>` answers 200 `ok` when the app has machines, all
//! `started`, none running an image whose name contains `bad` or `unhealthy`; 503 otherwise.
//!
//! # Code map
//!
//! One file per resource: [`apps`], [`machines`], [`leases`], [`ips`], [`secrets`], [`registry`], [`graphql`],
//! [`logs`], [`health`]; [`errors`] holds the Machines API's error shape they share.

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post};

use super::Shared;

mod apps;
mod errors;
mod graphql;
mod health;
mod ips;
mod leases;
mod logs;
mod machines;
mod registry;
mod secrets;
mod validate;
mod volumes;

pub use machines::{image_is_healthy, machine_json};

/// Who holds leases and who the viewer is.
const VIEWER_EMAIL: &str = "sandbox@sophia.invalid";

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/machines/v1/apps",
            get(apps::list_apps).post(apps::create_app),
        )
        .route(
            "/machines/v1/apps/{app}",
            get(apps::get_app).delete(apps::delete_app),
        )
        .route(
            "/machines/v1/apps/{app}/machines",
            get(machines::list_machines).post(machines::create_machine),
        )
        .route(
            "/machines/v1/apps/{app}/machines/{id}",
            get(machines::get_machine)
                .post(machines::update_machine)
                .delete(machines::delete_machine),
        )
        .route(
            "/machines/v1/apps/{app}/machines/{id}/start",
            post(machines::start),
        )
        .route(
            "/machines/v1/apps/{app}/machines/{id}/stop",
            post(machines::stop),
        )
        .route(
            "/machines/v1/apps/{app}/machines/{id}/wait",
            get(machines::wait),
        )
        .route(
            "/machines/v1/apps/{app}/machines/{id}/lease",
            get(leases::get_lease)
                .post(leases::acquire_lease)
                .delete(leases::release_lease),
        )
        .route(
            "/machines/v1/apps/{app}/volumes",
            get(volumes::list_volumes).post(volumes::create_volume),
        )
        .route(
            "/machines/v1/apps/{app}/ip_assignments",
            get(ips::list_ips).post(ips::assign_ip),
        )
        .route(
            "/machines/v1/apps/{app}/secrets",
            get(secrets::list_secrets).post(secrets::set_secrets),
        )
        .route(
            "/machines/v1/apps/{app}/secrets/{name}",
            delete(secrets::delete_secret),
        )
        .route("/registry/v2/{*rest}", get(registry::manifest))
        .route("/api/graphql", post(graphql::graphql))
        .route("/api/api/v1/apps/{app}/logs", get(logs::logs))
        .route("/apps/{app}", get(health::health))
        .route("/apps/{app}/{*rest}", get(health::health_path))
}
