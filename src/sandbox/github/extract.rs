//! What every GitHub handler shares: the repository a path names, the JSON body, the API root
//! for the URLs inside bodies, and refusals in GitHub's own shapes.
//!
//! The extractors only parse. Which refusal comes first is part of the wire format (a body that
//! is not JSON answers 400 before a missing repository answers 404, and some fields are
//! validated before the repository is looked up), so looking things up in the world stays in
//! the handlers, under one lock: [`RepoPath::find`] answers GitHub's 404.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::sandbox::gate::{Origin, Provider, json_response};
use crate::sandbox::state::{Repo, World};

const DOCS: &str = "https://docs.github.com/rest";

/// What a handler answers: a response, or a refusal.
pub type Reply = Result<Response, Refusal>;

/// A refusal, in the shape GitHub gives it.
#[derive(Debug)]
pub enum Refusal {
    /// 404 `Not Found`: GitHub's answer for anything missing (or hidden from the caller).
    NotFound,
    /// `{message, documentation_url, status}` with a status and message of its own.
    Message(StatusCode, &'static str),
    /// 422 `Validation Failed`, naming the resource, the field and GitHub's error code.
    Validation {
        resource: &'static str,
        field: &'static str,
        code: &'static str,
        message: Option<String>,
    },
    /// 422 `Invalid request.` with GitHub's explanation (schema checks on the body).
    Invalid(String),
    /// 400 `Problems parsing JSON`.
    BadJson,
}

impl Refusal {
    /// A 422 `Validation Failed` without a message.
    pub fn validation(resource: &'static str, field: &'static str, code: &'static str) -> Refusal {
        Refusal::Validation {
            resource,
            field,
            code,
            message: None,
        }
    }

    /// A 422 `Validation Failed` with a message.
    pub fn invalid_field(
        resource: &'static str,
        field: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Refusal {
        Refusal::Validation {
            resource,
            field,
            code,
            message: Some(message.into()),
        }
    }

    /// A 422 `Invalid request.`.
    pub fn invalid(message: impl Into<String>) -> Refusal {
        Refusal::Invalid(message.into())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NotFound => Provider::Github.error(StatusCode::NOT_FOUND, "Not Found"),
            Refusal::Message(status, message) => Provider::Github.error(status, message),
            Refusal::Validation {
                resource,
                field,
                code,
                message,
            } => {
                let mut e = json!({ "resource": resource, "field": field, "code": code });
                if let Some(m) = message {
                    e["message"] = Value::String(m);
                }
                json_response(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({
                        "message": "Validation Failed",
                        "errors": [e],
                        "documentation_url": DOCS,
                        "status": "422",
                    }),
                )
            }
            Refusal::Invalid(message) => json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({
                    "message": format!("Invalid request.\n\n{message}"),
                    "documentation_url": DOCS,
                    "status": "422",
                }),
            ),
            Refusal::BadJson => json_response(
                StatusCode::BAD_REQUEST,
                json!({ "message": "Problems parsing JSON", "documentation_url": DOCS, "status": "400" }),
            ),
        }
    }
}

/// `/repos/{owner}/{repo}/…`: which repository a request is for. An axum rejection (e.g. a
/// path that is not UTF-8) answers as axum does.
pub struct RepoPath {
    pub owner: String,
    /// `owner/repo`, as the world keys repositories.
    pub full: String,
}

impl RepoPath {
    fn new(owner: String, repo: String) -> RepoPath {
        let full = format!("{owner}/{repo}");
        RepoPath { owner, full }
    }

    /// The repository, or GitHub's 404.
    pub fn find<'w>(&self, world: &'w World) -> Result<&'w Repo, Refusal> {
        world.github.repos.get(&self.full).ok_or(Refusal::NotFound)
    }

    /// The repository to change, or GitHub's 404.
    pub fn find_mut<'w>(&self, world: &'w mut World) -> Result<&'w mut Repo, Refusal> {
        world
            .github
            .repos
            .get_mut(&self.full)
            .ok_or(Refusal::NotFound)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RepoPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Path((owner, repo)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(RepoPath::new(owner, repo))
    }
}

/// `/repos/{owner}/{repo}/…/{item}`: a repository and the one item its path names (a branch, a
/// secret or environment name, an issue number, a comment id). An item that does not parse
/// (`/issues/abc`) gets axum's 400, as before the extractor existed.
pub struct RepoItem<T>(pub RepoPath, pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for RepoItem<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Path((owner, repo, item)) =
            Path::<(String, String, T)>::from_request_parts(parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        Ok(RepoItem(RepoPath::new(owner, repo), item))
    }
}

/// A JSON request body; GitHub's 400 `Problems parsing JSON` when it is not JSON (an empty
/// body included).
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        parse(&bytes)
            .map(JsonBody)
            .map_err(IntoResponse::into_response)
    }
}

/// As [`JsonBody`], for the endpoints whose body is optional: an empty body reads as `{}`.
pub struct OptionalJsonBody(pub Value);

impl OptionalJsonBody {
    /// The body, `{}` when there is none.
    pub fn parse(bytes: &Bytes) -> Result<Value, Refusal> {
        if bytes.is_empty() {
            Ok(Value::Object(Map::new()))
        } else {
            parse(bytes)
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for OptionalJsonBody {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        OptionalJsonBody::parse(&bytes)
            .map(OptionalJsonBody)
            .map_err(IntoResponse::into_response)
    }
}

fn parse(bytes: &Bytes) -> Result<Value, Refusal> {
    serde_json::from_slice(bytes).map_err(|_| Refusal::BadJson)
}

/// The API root as the client addressed it, e.g. `http://127.0.0.1:4000/github`: the base of
/// every URL inside a body.
pub struct ApiRoot(pub String);

impl ApiRoot {
    pub fn of(origin: &Origin) -> String {
        format!("{}/github", origin.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ApiRoot {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Extension(origin) = Extension::<Origin>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(ApiRoot(ApiRoot::of(&origin)))
    }
}
