//! Listings: every page, by following the `Link: rel="next"` header GitHub sends, to the end.
//!
//! A page shorter than `per_page` does not mean the last page (a server may page by fewer
//! than asked, as GitHub does for some listings and a proxy may), nor does a `total_count`
//! reached: only a page without a `next` link ends a listing. A `next` link leaving the API's
//! origin is refused rather than followed, since the request would carry the token there.

use reqwest::Method;
use reqwest::Url;
use reqwest::header::{HeaderMap, LINK};
use serde_json::Value;

use super::{GithubProvider, PROVIDER};
use crate::providers::ProviderError;
use crate::providers::http::Retry;

/// Items asked for per page: GitHub's maximum, so most listings cost one request.
pub const PER_PAGE: usize = 100;

/// Page cap: 100 pages of 100 is beyond any listing sophia reads, and stops a server whose
/// pages never end from looping forever.
pub const MAX_PAGES: usize = 100;

/// The `rel="next"` target of a `Link` header (RFC 8288: `<url>; rel="next", <url>; rel="last"`).
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|link| {
            let (target, params) = link.trim().split_once(';')?;
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            let is_next = params.split(';').any(|p| {
                let Some((name, value)) = p.trim().split_once('=') else {
                    return false;
                };
                name.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            });
            is_next.then(|| target.to_string())
        })
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

impl GithubProvider {
    /// Every item of a listing at `segments` (query `pairs`, plus `per_page`), in the server's
    /// order: the items are the answer itself (`key: None`) or its field `key`
    /// (`{"total_count": …, "secrets": [...]}`).
    pub(crate) async fn list_all(
        &self,
        segments: &[&str],
        pairs: &[(&str, String)],
        key: Option<&str>,
    ) -> Result<Vec<Value>, ProviderError> {
        let listed = self.list_pages(segments, pairs, key, false).await?;
        Ok(listed.unwrap_or_default())
    }

    /// [`Self::list_all`], `None` when the listing itself answers 404 (its owner does not
    /// exist, or is not of that kind: a user account has no organization rulesets).
    pub(crate) async fn list_all_opt(
        &self,
        segments: &[&str],
        pairs: &[(&str, String)],
        key: Option<&str>,
    ) -> Result<Option<Vec<Value>>, ProviderError> {
        self.list_pages(segments, pairs, key, true).await
    }

    async fn list_pages(
        &self,
        segments: &[&str],
        pairs: &[(&str, String)],
        key: Option<&str>,
        missing_ok: bool,
    ) -> Result<Option<Vec<Value>>, ProviderError> {
        let what = format!("GET /{}", segments.join("/"));
        let mut req = self.req(Method::GET, segments).await?;
        {
            let mut q = req.url.query_pairs_mut();
            q.extend_pairs(pairs);
            q.append_pair("per_page", &PER_PAGE.to_string());
        }
        let mut out = Vec::new();
        for page in 0..MAX_PAGES {
            let resp = self.send(req.retry(Retry::Idempotent)).await?;
            if missing_ok && page == 0 && resp.status.as_u16() == 404 {
                return Ok(None);
            }
            let resp = resp.ok().map_err(|e| ProviderError::http(PROVIDER, e))?;
            let body = resp.json().map_err(|e| ProviderError::http(PROVIDER, e))?;
            let items = match key {
                None => body.as_array(),
                Some(k) => body.get(k).and_then(Value::as_array),
            }
            .ok_or_else(|| {
                ProviderError::new(
                    PROVIDER,
                    "http-error",
                    format!("{what}: the answer is not a JSON list"),
                )
            })?;
            out.extend(items.iter().cloned());
            let Some(next) = next_link(&resp.headers) else {
                return Ok(Some(out));
            };
            let next = self.base.join(&next).map_err(|_| {
                ProviderError::new(
                    PROVIDER,
                    "http-error",
                    format!("{what}: the `Link: rel=\"next\"` target is not a URL"),
                )
            })?;
            if !same_origin(&next, &self.base) {
                return Err(ProviderError::new(
                    PROVIDER,
                    "http-error",
                    format!(
                        "{what}: the next page is on another host; it is not followed \
                         (the request would carry the token there)"
                    ),
                ));
            }
            req = self.req_at(Method::GET, next).await?;
        }
        Err(ProviderError::new(
            PROVIDER,
            "http-error",
            format!("{what}: more than {MAX_PAGES} pages; the listing was not read to its end"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(link: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(LINK, HeaderValue::from_str(link).unwrap());
        h
    }

    #[test]
    fn next_is_read_from_recorded_link_headers() {
        // @octokit/fixtures, `scenarios/api.github.com/paginate-issues` (13 issues by 3): the
        // first page's `link` header, as recorded. The next page is under `/repositories/`,
        // not the path asked: only the header knows it.
        let first = "<https://api.github.com/repositories/1000/issues?per_page=3&page=2>; \
                     rel=\"next\", <https://api.github.com/repositories/1000/issues?per_page=3&page=5>; \
                     rel=\"last\"";
        assert_eq!(
            next_link(&headers(first)).as_deref(),
            Some("https://api.github.com/repositories/1000/issues?per_page=3&page=2")
        );
        // A last page names prev and first only (the shape GitHub sends; written here).
        let last = "<https://api.github.com/repositories/1000/issues?per_page=3&page=4>; \
                    rel=\"prev\", <https://api.github.com/repositories/1000/issues?per_page=3&page=1>; \
                    rel=\"first\"";
        assert_eq!(next_link(&headers(last)), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
        // Unquoted and multi-valued rel, other parameters, odd spacing.
        assert_eq!(
            next_link(&headers("<https://x/a?page=2>;rel=next")).as_deref(),
            Some("https://x/a?page=2")
        );
        assert_eq!(
            next_link(&headers(
                "<https://x/a?page=1>; rel=\"prev\" , <https://x/a?page=3> ; title=\"n\"; rel=\"last next\""
            ))
            .as_deref(),
            Some("https://x/a?page=3")
        );
        assert_eq!(next_link(&headers("garbage, <no-params>")), None);
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(same_origin(
            &u("https://api.github.com/x"),
            &u("https://api.github.com:443/y")
        ));
        assert!(!same_origin(
            &u("https://api.github.com/x"),
            &u("https://evil.example/x")
        ));
        assert!(!same_origin(
            &u("http://127.0.0.1:1/x"),
            &u("http://127.0.0.1:2/x")
        ));
    }
}
