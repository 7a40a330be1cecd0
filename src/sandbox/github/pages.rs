//! Pagination as GitHub's lists do it: `per_page` (default 30, at most 100) and `page`, with a
//! `Link` header pointing at the other pages.

use axum::Extension;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use std::sync::Arc;

use crate::sandbox::Shared;
use crate::sandbox::gate::{Origin, json_response};

/// Lists default to 30 items a page and allow at most 100, as GitHub's.
const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

#[derive(serde::Deserialize, Default)]
pub struct PageQuery {
    per_page: Option<usize>,
    page: Option<usize>,
    /// Issues only: `open` (default), `closed` or `all`.
    pub state: Option<String>,
}

/// Which page a list request asks for, and what its `Link` header is built from. A query
/// string that does not parse gets axum's 400.
pub struct Page {
    pub query: PageQuery,
    origin: Origin,
    uri: Uri,
    /// The seed's `github.max_per_page`, GitHub's 100 when unset.
    max_per_page: usize,
}

impl FromRequestParts<Arc<Shared>> for Page {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<Shared>) -> Result<Self, Response> {
        let max_per_page = state
            .world()
            .github
            .max_per_page
            .unwrap_or(MAX_PER_PAGE)
            .min(MAX_PER_PAGE);
        let Query(query) = Query::<PageQuery>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Extension(origin) = Extension::<Origin>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        // The URI as the client sent it: under a nested router `Uri` has lost the
        // `/github` prefix, and a `Link` built from it would point at a 404.
        let axum::extract::OriginalUri(uri) =
            axum::extract::OriginalUri::from_request_parts(parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        Ok(Page {
            query,
            origin,
            uri,
            max_per_page,
        })
    }
}

/// The `Link` header of one page of a list (none when the list fits one page).
pub struct Link(Option<HeaderValue>);

impl Link {
    /// A 200 with `body` (built from the page's items) and the `Link` header.
    pub fn respond(self, body: Value) -> Response {
        let mut resp = json_response(StatusCode::OK, body);
        if let Some(link) = self.0 {
            resp.headers_mut().insert(header::LINK, link);
        }
        resp
    }
}

impl Page {
    /// The requested page of `items`, and the `Link` header pointing at the others.
    pub fn of<T>(&self, items: Vec<T>) -> (Vec<T>, Link) {
        let q = &self.query;
        let per_page = q
            .per_page
            .unwrap_or(DEFAULT_PER_PAGE)
            .clamp(1, self.max_per_page);
        let page = q.page.unwrap_or(1).max(1);
        let total = items.len();
        let last = total.div_ceil(per_page).max(1);
        let others: Vec<String> = self
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty() && !kv.starts_with("page=") && !kv.starts_with("per_page="))
            .map(str::to_string)
            .collect();
        let link_to = |p: usize| {
            let mut params = others.clone();
            params.push(format!("per_page={per_page}"));
            params.push(format!("page={p}"));
            format!(
                "<{}{}?{}>",
                self.origin.0,
                self.uri.path(),
                params.join("&")
            )
        };
        let mut links = Vec::new();
        if page > 1 {
            links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
        }
        if page < last {
            links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
            links.push(format!("{}; rel=\"last\"", link_to(last)));
        }
        if page > 1 {
            links.push(format!("{}; rel=\"first\"", link_to(1)));
        }
        let items = items
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
        let link = (!links.is_empty())
            .then(|| HeaderValue::from_str(&links.join(", ")).ok())
            .flatten();
        (items, Link(link))
    }
}
