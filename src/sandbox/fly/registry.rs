//! Fly's registry: `/fly/registry/v2/<repository>/manifests/<tag-or-digest>` (`HEAD` and
//! `GET`), what `FLY_REGISTRY_URL` points at — the OCI distribution API's manifest endpoint.
//!
//! The registry holds every tag of `registry.fly.io`, with a digest derived from its
//! reference, except the tags the state file (or a test, through the world) re-points or
//! removes ([`crate::sandbox::state::FlyWorld::registry`]). An answer carries
//! `Docker-Content-Digest`, `Content-Type` (an OCI image manifest) and, for `GET`, a small
//! manifest body; an unknown tag or digest is 404 with the OCI error body
//! (`{"errors": [{"code": "MANIFEST_UNKNOWN", …}]}`). Authentication is checked by the gate:
//! Basic `x:<token>` as flyctl logs Docker in, or a Bearer token.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::sandbox::{Shared, oci};

/// The media type the sandbox's manifests have.
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// The host whose images this registry holds.
const HOST: &str = "registry.fly.io";

/// `HEAD`/`GET /v2/<name>/manifests/<reference>` (axum answers `HEAD` with this handler and
/// no body).
pub(super) async fn manifest(
    State(shared): State<Arc<Shared>>,
    Path(rest): Path<String>,
) -> Response {
    let Some((name, reference)) = rest.rsplit_once("/manifests/") else {
        return oci::error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry",
        );
    };
    let image = if reference.starts_with("sha256:") {
        format!("{HOST}/{name}@{reference}")
    } else {
        format!("{HOST}/{name}:{reference}")
    };
    let digest = {
        let mut world = shared.world();
        if reference.starts_with("sha256:") {
            // A digest is known when a tag points at it or a machine runs it.
            let known = world
                .fly
                .registry
                .values()
                .flatten()
                .any(|d| d == reference)
                || world
                    .fly
                    .apps
                    .values()
                    .flat_map(|a| a.machines.values())
                    .any(|m| m.running_digest() == reference);
            known.then(|| reference.to_string())
        } else {
            let digest = world.fly.image_digest(&image);
            if let Some(d) = &digest {
                world.fly.answered.insert(d.clone(), image.clone());
            }
            digest
        }
    };
    let Some(digest) = digest else {
        return oci::error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            &format!("manifest unknown: {name}:{reference}"),
        );
    };
    let body = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest,
            "size": 0,
        },
        "layers": [],
    })
    .to_string();
    let mut resp = (StatusCode::OK, body).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(OCI_MANIFEST));
    if let Ok(v) = HeaderValue::from_str(&digest) {
        headers.insert("docker-content-digest", v);
    }
    headers.insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    resp
}
