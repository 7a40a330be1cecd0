//! Machine leases, as flyctl takes them around a deploy: every machine a deploy will update,
//! stop or destroy is leased first (`POST …/machines/{id}/lease`), its nonce is sent with each
//! change (`fly-machine-lease-nonce`), and the lease is released afterwards, also when the
//! deploy fails. A machine leased by someone else (a concurrent `fly deploy`) fails the whole
//! deploy before anything is changed, naming the lease's owner.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Value, json};

use super::{FlyProvider, PROVIDER};
use crate::providers::ProviderError;
use crate::providers::http::{Req, Retry};

/// The Machines API's lease header.
pub(super) const NONCE_HEADER: &str = "fly-machine-lease-nonce";

/// Seconds a lease is taken for. A rolling deploy holds it while earlier batches are
/// updated, started and checked; flyctl asks for 120 s and so does `sophia` (a lease that
/// outlives a crashed apply expires on its own).
const LEASE_TTL_SECS: u64 = 120;

/// The nonces of the leases this provider holds, by machine id.
#[derive(Debug, Clone, Default)]
pub(super) struct Held(Arc<Mutex<BTreeMap<String, String>>>);

impl Held {
    fn get(&self, id: &str) -> Option<String> {
        self.0.lock().expect("lease map").get(id).cloned()
    }
    fn insert(&self, id: &str, nonce: String) {
        self.0
            .lock()
            .expect("lease map")
            .insert(id.to_string(), nonce);
    }
    fn remove(&self, id: &str) -> Option<String> {
        self.0.lock().expect("lease map").remove(id)
    }
}

impl FlyProvider {
    /// Forget the lease held on a machine that is gone (its lease went with it).
    pub(super) fn forget_lease(&self, id: &str) {
        self.leases.remove(id);
    }

    /// `req` with the nonce of the lease held on machine `id`, if any.
    pub(super) fn with_lease(&self, req: Req, id: &str) -> Req {
        match self
            .leases
            .get(id)
            .and_then(|n| HeaderValue::from_str(&n).ok())
        {
            Some(v) => req.header(HeaderName::from_static(NONCE_HEADER), v),
            None => req,
        }
    }

    /// Lease every machine of `ids` (in order). When one cannot be leased, the ones taken are
    /// released and the error names the machine and its lease's owner.
    pub(super) async fn lease_all(&self, app: &str, ids: &[String]) -> Result<(), ProviderError> {
        for (i, id) in ids.iter().enumerate() {
            if let Err(e) = self.acquire(app, id).await {
                self.release_all(app, &ids[..i]).await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Release the leases held on `ids`; a release that fails is left to expire (its TTL).
    pub(super) async fn release_all(&self, app: &str, ids: &[String]) {
        for id in ids {
            let Some(nonce) = self.leases.remove(id) else {
                continue;
            };
            let Ok(v) = HeaderValue::from_str(&nonce) else {
                continue;
            };
            let req = self
                .machines_api(Method::DELETE, &["apps", app, "machines", id, "lease"])
                .header(HeaderName::from_static(NONCE_HEADER), v)
                .retry(Retry::Idempotent);
            let _ = self.send(req).await;
        }
    }

    async fn acquire(&self, app: &str, id: &str) -> Result<(), ProviderError> {
        // Never retried blindly: a lease taken by a lost answer would be ours without its
        // nonce; the TTL frees it.
        let req = self
            .machines_api(Method::POST, &["apps", app, "machines", id, "lease"])
            .json(json!({ "ttl": LEASE_TTL_SECS, "description": "sophia apply" }))
            .retry(Retry::Never);
        let resp = self.send(req).await?;
        if resp.status.as_u16() == 409 {
            let owner = self.lease_owner(app, id).await;
            return Err(ProviderError::new(
                PROVIDER,
                "lease-conflict",
                format!(
                    "machine `{id}` of `{app}` is leased by `{}`; nothing was changed \
                     (another deploy is running: retry when it is done)",
                    owner.as_deref().unwrap_or("another owner")
                ),
            ));
        }
        let body = resp
            .ok()
            .and_then(|r| r.json())
            .map_err(|e| ProviderError::http(PROVIDER, e))?;
        let nonce = body
            .pointer("/data/nonce")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ProviderError::new(
                    PROVIDER,
                    "http-error",
                    format!("the lease on machine `{id}` came without a nonce"),
                )
            })?;
        self.leases.insert(id, nonce.to_string());
        Ok(())
    }

    /// Who holds the lease on machine `id` (`GET …/lease`), when it can be read.
    async fn lease_owner(&self, app: &str, id: &str) -> Option<String> {
        let req = self.machines_api(Method::GET, &["apps", app, "machines", id, "lease"]);
        let body = self.send(req).await.ok()?.ok().ok()?.json().ok()?;
        body.pointer("/data/owner")
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}
