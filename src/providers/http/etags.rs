//! Conditional reads: answers kept with their `ETag`, sent back as `If-None-Match`, and
//! reused when the server answers `304 Not Modified` (GitHub does not count a 304 against
//! the rate limit). Only requests marked [`super::Req::conditional`] take part (the GitHub
//! provider's GETs); the cache is loaded from and stored to the backend by refresh.
//!
//! Entries are keyed by the URL and a digest of the `Authorization` header (GitHub varies
//! its answers by credential, `Vary: Authorization`), never by the token itself.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::Req;

/// One kept answer: its entity tag and its body (JSON text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedAnswer {
    pub etag: String,
    pub body: String,
}

/// The cache, shared by clones.
#[derive(Debug, Clone, Default)]
pub struct EtagCache(Arc<Mutex<BTreeMap<String, CachedAnswer>>>);

impl EtagCache {
    pub fn from_entries(entries: BTreeMap<String, CachedAnswer>) -> EtagCache {
        EtagCache(Arc::new(Mutex::new(entries)))
    }

    /// Every entry, to store.
    pub fn entries(&self) -> BTreeMap<String, CachedAnswer> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The key of a request: `METHOD url` and 16 hex digits of the credential's digest.
    pub fn key(req: &Req) -> String {
        let auth = req
            .headers
            .iter()
            .find(|(n, _)| *n == AUTHORIZATION)
            .map(|(_, v)| v.as_bytes().to_vec())
            .unwrap_or_default();
        let digest = hex::encode(&Sha256::digest(&auth)[..8]);
        format!("{} {} {digest}", req.method, req.url)
    }

    pub fn get(&self, key: &str) -> Option<CachedAnswer> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    pub fn put(&self, key: String, etag: &HeaderValue, body: &[u8]) {
        let (Ok(etag), Ok(body)) = (etag.to_str(), std::str::from_utf8(body)) else {
            return;
        };
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(
            key,
            CachedAnswer {
                etag: etag.to_string(),
                body: body.to_string(),
            },
        );
    }
}
