//! Errors in the Machines API's shape: `{"error": "…"}`.

use axum::http::StatusCode;
use axum::response::Response;

use crate::sandbox::gate::Provider;

pub(super) fn err(status: StatusCode, message: impl AsRef<str>) -> Response {
    Provider::FlyMachines.error(status, message.as_ref())
}

pub(super) fn app_not_found(app: &str) -> Response {
    err(StatusCode::NOT_FOUND, format!("app not found: {app}"))
}

pub(super) fn machine_not_found(id: &str) -> Response {
    err(StatusCode::NOT_FOUND, format!("machine not found: {id}"))
}
