//! Mem0 (memory for agents): `validate` calls `GET /v1/ping/` with `Authorization: Token`,
//! the check Mem0's own client makes before first use.

use reqwest::Method;
use reqwest::header::AUTHORIZATION;
use serde_json::{Value, json};

use super::api::{self, Api};
use crate::providers::http::Http;
use crate::providers::{Credentials, ProviderError};

pub const PROVIDER: &str = "mem0";
pub const KEY_VAR: &str = "MEM0_API_KEY";
pub const DEFAULT_BASE_URL: &str = "https://api.mem0.ai";

#[derive(Debug, Clone)]
pub struct Mem0Provider {
    api: Api,
}

impl Mem0Provider {
    pub fn new(creds: &Credentials, http: Http) -> Result<Mem0Provider, ProviderError> {
        let key = api::require(PROVIDER, creds, &[KEY_VAR])?[0];
        Ok(Mem0Provider {
            api: Api {
                provider: PROVIDER,
                http,
                base: api::base(PROVIDER, creds, "MEM0_BASE_URL", DEFAULT_BASE_URL)?,
                headers: vec![(
                    AUTHORIZATION,
                    api::secret_header(PROVIDER, KEY_VAR, &format!("Token {}", key.trim()))?,
                )],
            },
        })
    }

    pub async fn op(&self, name: &str) -> Result<(String, Vec<Value>), ProviderError> {
        match name {
            "validate" => {
                let started = std::time::Instant::now();
                let body = self
                    .api
                    .json(self.api.req(Method::GET, &["v1", "ping", ""]))
                    .await?;
                let org = body.get("org_id").cloned().unwrap_or(Value::Null);
                Ok((
                    "Mem0 accepted the key".into(),
                    vec![json!({
                        "status": body.get("status").cloned().unwrap_or(json!("ok")),
                        "org_id": org,
                        "latency_ms": api::ms(started.elapsed()),
                    })],
                ))
            }
            other => Err(api::unknown(PROVIDER, other, "validate")),
        }
    }
}
