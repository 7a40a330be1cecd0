//! Fly's registry: image tags resolved to digests through the OCI distribution API
//! (`FLY_REGISTRY_URL`, default `https://registry.fly.io`), as `plan` pins every image
//! (DESIGN.md, "Images by digest").
//!
//! `HEAD /v2/<repository>/manifests/<tag>` → `Docker-Content-Digest: sha256:…`, authenticated
//! as flyctl configures Docker for Fly's registry: HTTP Basic with the user `x` and the Fly
//! token as password. The `Accept` header names the manifest and index media types (OCI and
//! Docker v2), so the digest is that of what the tag names — the index of a multi-platform
//! image, as `docker pull` and the Machines API resolve it. A read: nothing is changed.
//!
//! Only images in Fly's registry (`registry.fly.io/…`) are resolved here: another registry's
//! image is refused with a hint to give it by digest (sophia holds no credentials for it).

use std::collections::BTreeMap;

use base64::Engine as _;
use futures::StreamExt as _;
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};

use super::{FlyProvider, PROVIDER};
use crate::core::image::{self, FLY_REGISTRY_HOST, ImageRef, Resolved};
use crate::providers::ProviderError;
use crate::providers::http::{self, Req};

/// flyctl's registry (its `registry_host` setting).
pub const DEFAULT_REGISTRY_URL: &str = "https://registry.fly.io";

/// The media types a manifest `HEAD` accepts (what a Docker client sends).
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// The error code of a tag that does not resolve.
pub const UNRESOLVED: &str = "image-unresolved";

/// Where the registry is and how to authenticate to it.
#[derive(Debug, Clone)]
pub(super) struct Registry {
    pub(super) url: reqwest::Url,
    /// Basic `x` and the token, as flyctl logs Docker in.
    pub(super) auth: super::AuthHeader,
}

/// `Basic base64("x:<token>")`, the credentials flyctl gives Docker for Fly's registry.
pub(super) fn basic_auth(token: &str) -> String {
    let pair = format!("x:{}", token.trim());
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

impl FlyProvider {
    /// The digest of every tag of `tags` (image → the apps that run it): one `HEAD` per
    /// distinct image, as many at once as the HTTP layer allows.
    pub async fn resolve_images(
        &self,
        tags: &BTreeMap<String, Vec<String>>,
    ) -> Result<Resolved, ProviderError> {
        let results: Vec<_> = futures::stream::iter(tags.iter())
            .map(|(image, apps)| async move {
                self.resolve(image, apps).await.map(|d| (image.clone(), d))
            })
            .buffer_unordered(self.http.max_concurrency())
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn resolve(&self, image: &str, apps: &[String]) -> Result<String, ProviderError> {
        let who = apps
            .iter()
            .map(|a| format!("`fly.app.{a}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let unresolved = |why: String| {
            ProviderError::new(
                PROVIDER,
                UNRESOLVED,
                format!("the image `{image}` of {who} does not resolve: {why}"),
            )
        };
        let r = ImageRef::parse(image);
        if r.registry() != Some(FLY_REGISTRY_HOST) {
            return Err(unresolved(format!(
                "it is not in Fly's registry (`{FLY_REGISTRY_HOST}/…`), the only one sophia \
                 resolves tags in; give it by digest (`{}@sha256:…`)",
                r.name
            )));
        }
        let mut segments = vec!["v2"];
        segments.extend(r.repository().split('/'));
        segments.extend(["manifests", r.tag_or_latest()]);
        let req = Req::new(Method::HEAD, http::url(&self.registry.url, &segments))
            .header(AUTHORIZATION, self.registry.auth.0.clone())
            .header(ACCEPT, HeaderValue::from_static(MANIFEST_TYPES));
        let resp = self.send(req).await?;
        match resp.status.as_u16() {
            404 => {
                return Err(unresolved(format!(
                    "the registry has no manifest for the tag `{}` (MANIFEST_UNKNOWN)",
                    r.tag_or_latest()
                )));
            }
            401 | 403 => {
                return Err(ProviderError::new(
                    PROVIDER,
                    "unauthorized",
                    format!(
                        "the registry refused `FLY_API_TOKEN` (HTTP {}) resolving `{image}`",
                        resp.status.as_u16()
                    ),
                ));
            }
            _ => {}
        }
        let resp = resp.ok().map_err(|e| ProviderError::http(PROVIDER, e))?;
        let digest = resp
            .headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or_default();
        if !image::is_sha256_digest(digest) {
            return Err(unresolved(
                "the registry answered without a `Docker-Content-Digest: sha256:…` header".into(),
            ));
        }
        Ok(digest.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_credentials_are_flyctl_s() {
        // base64("x:tok")
        assert_eq!(basic_auth("tok"), "Basic eDp0b2s=");
    }
}
