//! Lambda (GPU cloud): `instances` lists running instances (`GET /instances`, bearer key);
//! `validate` makes the same call.

use reqwest::Method;
use reqwest::header::AUTHORIZATION;
use serde_json::{Value, json};

use super::api::{self, Api};
use crate::providers::http::Http;
use crate::providers::{Credentials, ProviderError};

pub const PROVIDER: &str = "lambda";
pub const KEY_VAR: &str = "LAMBDA_LABS_API_KEY";
pub const DEFAULT_BASE_URL: &str = "https://cloud.lambdalabs.com/api/v1";

#[derive(Debug, Clone)]
pub struct LambdaProvider {
    api: Api,
}

impl LambdaProvider {
    pub fn new(creds: &Credentials, http: Http) -> Result<LambdaProvider, ProviderError> {
        let key = api::require(PROVIDER, creds, &[KEY_VAR])?[0];
        Ok(LambdaProvider {
            api: Api {
                provider: PROVIDER,
                http,
                base: api::base(PROVIDER, creds, "LAMBDA_API_URL", DEFAULT_BASE_URL)?,
                headers: vec![(
                    AUTHORIZATION,
                    api::secret_header(PROVIDER, KEY_VAR, &format!("Bearer {}", key.trim()))?,
                )],
            },
        })
    }

    pub async fn op(&self, name: &str) -> Result<(String, Vec<Value>), ProviderError> {
        match name {
            "instances" | "validate" => {
                let body = self
                    .api
                    .json(self.api.req(Method::GET, &["instances"]))
                    .await?;
                let rows: Vec<Value> = body
                    .get("data")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|i| {
                        json!({
                            "id": i.get("id"), "name": i.get("name"), "status": i.get("status"),
                            "instance_type": i.pointer("/instance_type/name"),
                            "region": i.pointer("/region/name"), "ip": i.get("ip"),
                        })
                    })
                    .collect();
                Ok((format!("{} instance(s)", rows.len()), rows))
            }
            other => Err(api::unknown(PROVIDER, other, "instances, validate")),
        }
    }
}
