//! The vector database: Qdrant's REST API at `QDRANT_URL`, key in the `api-key` header.
//!
//! - `collections` / `validate`: `GET /collections`, then each collection's vector config.
//! - Resources: `qdrant.collection.<name>`, normalized as `{"size": 1536, "distance":
//!   "Cosine"}` (from `result.config.params.vectors`; a collection with named vectors shows
//!   them as `{"vectors": {…}}`, which never equals a desired single vector, so it shows as
//!   drift instead of being silently accepted).
//! - `qdrant.collection.create`: `PUT /collections/{name}`; already present with the same
//!   config is success (idempotent). `qdrant.collection.delete`: `DELETE`; already absent is
//!   success.

use std::collections::BTreeMap;

use reqwest::Method;
use reqwest::header::HeaderName;
use serde_json::{Value, json};

use super::api::{self, Api};
use crate::core::address::Address;
use crate::core::plan::Action;
use crate::providers::http::Http;
use crate::providers::{ActionOutcome, Credentials, ProviderError};

pub const PROVIDER: &str = "qdrant";
pub const URL_VAR: &str = "QDRANT_URL";
pub const KEY_VAR: &str = "QDRANT_API_KEY";

#[derive(Debug, Clone)]
pub struct QdrantProvider {
    api: Api,
}

impl QdrantProvider {
    pub fn new(creds: &Credentials, http: Http) -> Result<QdrantProvider, ProviderError> {
        let vals = api::require(PROVIDER, creds, &[URL_VAR, KEY_VAR])?;
        let api = Api {
            provider: PROVIDER,
            http,
            base: api::base(PROVIDER, creds, URL_VAR, vals[0])?,
            headers: vec![(
                HeaderName::from_static("api-key"),
                api::secret_header(PROVIDER, KEY_VAR, vals[1])?,
            )],
        };
        Ok(QdrantProvider { api })
    }

    /// The normalized object of one collection; `None` when absent.
    pub async fn collection(&self, name: &str) -> Result<Option<Value>, ProviderError> {
        let Some(body) = self
            .api
            .json_opt(self.api.req(Method::GET, &["collections", name]))
            .await?
        else {
            return Ok(None);
        };
        let vectors = body
            .pointer("/result/config/params/vectors")
            .cloned()
            .unwrap_or(Value::Null);
        Ok(Some(match (vectors.get("size"), vectors.get("distance")) {
            (Some(size), Some(distance)) => json!({ "size": size, "distance": distance }),
            _ => json!({ "vectors": vectors }),
        }))
    }

    /// Every collection with its normalized config, by name.
    pub async fn collections(&self) -> Result<BTreeMap<String, Value>, ProviderError> {
        let body = self
            .api
            .json(self.api.req(Method::GET, &["collections"]))
            .await?;
        let names: Vec<String> = body
            .pointer("/result/collections")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
        let mut out = BTreeMap::new();
        for name in names {
            if let Some(v) = self.collection(&name).await? {
                out.insert(name, v);
            }
        }
        Ok(out)
    }

    pub async fn refresh(
        &self,
        addresses: &[Address],
    ) -> Result<BTreeMap<Address, Value>, ProviderError> {
        crate::providers::refresh_each(&self.api.http, addresses, |a| async move {
            match a {
                Address::QdrantCollection { name } => self.collection(name).await,
                _ => Ok(None),
            }
        })
        .await
    }

    pub async fn execute(&self, action: &Action) -> ActionOutcome {
        let Address::QdrantCollection { name } = &action.address else {
            return ActionOutcome::failure(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!(
                    "qdrant cannot execute `{}` on `{}`",
                    action.kind, action.address
                ),
            ));
        };
        let result = match action.kind.as_str() {
            "qdrant.collection.create" => self.create(name, &action.params).await,
            "qdrant.collection.delete" => self.delete(name).await,
            other => Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("qdrant cannot execute `{other}`"),
            )),
        };
        match result {
            Ok((text, v)) => ActionOutcome::success(text, vec![v]),
            Err(e) => ActionOutcome::failure(e),
        }
    }

    async fn create(&self, name: &str, params: &Value) -> Result<(String, Value), ProviderError> {
        let (Some(size), Some(distance)) = (
            params.get("size").and_then(Value::as_u64),
            params.get("distance").and_then(Value::as_str),
        ) else {
            return Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("creating collection `{name}` needs `size` and `distance` parameters"),
            ));
        };
        let want = json!({ "size": size, "distance": distance });
        // Check first: PUT on an existing collection is a 409, and a retried create must
        // not fail.
        if let Some(have) = self.collection(name).await? {
            return if have == want {
                Ok((format!("collection `{name}` already exists"), have))
            } else {
                Err(ProviderError::new(
                    PROVIDER,
                    "conflict",
                    format!(
                        "collection `{name}` exists with another config ({have}); it must be replaced"
                    ),
                ))
            };
        }
        self.api
            .json(
                self.api
                    .req(Method::PUT, &["collections", name])
                    .json(json!({ "vectors": want })),
            )
            .await?;
        Ok((format!("collection `{name}` created"), want))
    }

    async fn delete(&self, name: &str) -> Result<(String, Value), ProviderError> {
        let gone = self
            .api
            .json_opt(self.api.req(Method::DELETE, &["collections", name]))
            .await?
            .is_none();
        let text = if gone {
            format!("collection `{name}` was already absent")
        } else {
            format!("collection `{name}` deleted")
        };
        Ok((text, json!({ "name": name, "deleted": true })))
    }

    /// `collections` and `validate`: every collection and its config.
    pub async fn op(&self, name: &str) -> Result<(String, Vec<Value>), ProviderError> {
        match name {
            "collections" | "validate" => {
                let all = self.collections().await?;
                let rows: Vec<Value> = all
                    .iter()
                    .map(|(n, c)| {
                        let mut c = c.clone();
                        c["name"] = json!(n);
                        c
                    })
                    .collect();
                Ok((format!("{} collection(s)", rows.len()), rows))
            }
            other => Err(api::unknown(PROVIDER, other, "collections, validate")),
        }
    }
}
