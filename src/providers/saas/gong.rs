//! Gong (call recordings): `validate` lists users (`GET /v2/users`), which any valid key
//! may do.
//!
//! Authentication: Gong's API keys are an access key and its secret, sent as HTTP Basic.
//! `GONG_ACCESS_KEY` holds either `key:secret`, or the key alone with the secret in
//! `GONG_ACCESS_KEY_SECRET`; a value without either is taken as an OAuth bearer token.

use base64::Engine as _;
use reqwest::Method;
use reqwest::header::AUTHORIZATION;
use serde_json::{Value, json};

use super::api::{self, Api};
use crate::providers::http::Http;
use crate::providers::{Credentials, ProviderError};

pub const PROVIDER: &str = "gong";
pub const URL_VAR: &str = "GONG_BASE_URL";
pub const KEY_VAR: &str = "GONG_ACCESS_KEY";
pub const SECRET_VAR: &str = "GONG_ACCESS_KEY_SECRET";

#[derive(Debug, Clone)]
pub struct GongProvider {
    api: Api,
}

impl GongProvider {
    pub fn new(creds: &Credentials, http: Http) -> Result<GongProvider, ProviderError> {
        let vals = api::require(PROVIDER, creds, &[URL_VAR, KEY_VAR])?;
        let key = vals[1].trim();
        let auth = if key.contains(':') {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(key)
            )
        } else if let Some(secret) = creds.get(SECRET_VAR) {
            let pair = format!("{key}:{}", secret.trim());
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        } else {
            format!("Bearer {key}")
        };
        Ok(GongProvider {
            api: Api {
                provider: PROVIDER,
                http,
                base: api::base(PROVIDER, creds, URL_VAR, vals[0])?,
                headers: vec![(AUTHORIZATION, api::secret_header(PROVIDER, KEY_VAR, &auth)?)],
            },
        })
    }

    pub async fn op(&self, name: &str) -> Result<(String, Vec<Value>), ProviderError> {
        match name {
            "validate" => {
                let body = self
                    .api
                    .json(self.api.req(Method::GET, &["v2", "users"]))
                    .await?;
                let users = body
                    .get("users")
                    .and_then(Value::as_array)
                    .map(Vec::len)
                    .unwrap_or(0);
                let total = body
                    .pointer("/records/totalRecords")
                    .cloned()
                    .unwrap_or(json!(users));
                Ok((
                    "Gong accepted the key".into(),
                    vec![json!({ "users_listed": users, "total_users": total })],
                ))
            }
            other => Err(api::unknown(PROVIDER, other, "validate")),
        }
    }
}
