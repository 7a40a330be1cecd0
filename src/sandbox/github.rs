//! GitHub REST (`/github/…`, what `GITHUB_API_URL` points at): repositories, branch
//! protection, Actions secrets (sealed boxes the sandbox really opens), environments, issues and
//! issue comments, `/rate_limit`, app installation tokens, and the user/team lookups a client
//! needs to turn logins into reviewer ids.
//!
//! Every body validates against GitHub's official OpenAPI description (tested in
//! `tests/it/sandbox_conformance.rs`). Facts emulated: `GET …/protection` on an unprotected
//! branch answers 404 "Branch not protected"; the protection read differs from the PUT body
//! (wrapped flags, users and teams as objects, `required_approving_review_count` defaulting to
//! 1); lists paginate with `per_page`/`page` and a `Link` header; a comment body over 65,536
//! characters is refused with 422; secrets are set with `{encrypted_value, key_id}` (201
//! created, 204 updated).
//!
//! Installation tokens: `POST /app/installations/{id}/access_tokens` (and `GET /app`) take the
//! app's JWT as `Bearer`. The sandbox checks the JWT's shape, that `exp` is in the future and,
//! when the state file names an app, that `iss` is its id and the installation is one of its
//! own; when the app has a `public_key`, the RS256 signature must verify against it. A token requested with only `read` permissions is read-only
//! (`ro-ghs_…`), any other `ghs_…`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::Shared;
use super::gate::{Caller, Origin, Provider, json_response};
use super::state::{Comment, Environment, GithubSecret, Issue, Repo, World, now};

/// GitHub refuses comment and issue bodies longer than this many characters.
pub const MAX_BODY_CHARS: usize = 65_536;

/// Lists default to 30 items a page and allow at most 100, as GitHub's.
const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

/// An environment allows at most six reviewers.
const MAX_REVIEWERS: usize = 6;

/// `wait_timer` is in minutes, at most 30 days.
const MAX_WAIT_TIMER: u64 = 43_200;

/// Installation tokens live one hour.
const INSTALLATION_TOKEN_SECS: i64 = 3600;

const DOCS: &str = "https://docs.github.com/rest";

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/rate_limit", get(rate_limit))
        .route("/app", get(get_app))
        .route("/users/{login}", get(get_user))
        .route("/orgs/{org}/teams/{slug}", get(get_team))
        .route(
            "/app/installations/{id}/access_tokens",
            post(installation_token),
        )
        .route("/repos/{owner}/{repo}", get(get_repo))
        .route(
            "/repos/{owner}/{repo}/branches/{branch}/protection",
            get(get_protection)
                .put(put_protection)
                .delete(delete_protection),
        )
        .route("/repos/{owner}/{repo}/actions/secrets", get(list_secrets))
        .route(
            "/repos/{owner}/{repo}/actions/secrets/public-key",
            get(public_key),
        )
        .route(
            "/repos/{owner}/{repo}/actions/secrets/{name}",
            get(get_secret).put(put_secret).delete(delete_secret),
        )
        .route("/repos/{owner}/{repo}/environments", get(list_environments))
        .route(
            "/repos/{owner}/{repo}/environments/{env}",
            get(get_environment)
                .put(put_environment)
                .delete(delete_environment),
        )
        .route(
            "/repos/{owner}/{repo}/issues",
            get(list_issues).post(create_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}",
            get(get_issue).patch(update_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            get(list_comments).post(create_comment),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{id}",
            get(get_comment)
                .patch(update_comment)
                .delete(delete_comment),
        )
}

fn error(status: StatusCode, message: &str) -> Response {
    Provider::Github.error(status, message)
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

fn validation_failed(resource: &str, field: &str, code: &str, message: Option<&str>) -> Response {
    let mut e = json!({ "resource": resource, "field": field, "code": code });
    if let Some(m) = message {
        e["message"] = Value::String(m.into());
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

fn invalid_request(message: &str) -> Response {
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({
            "message": format!("Invalid request.\n\n{message}"),
            "documentation_url": DOCS,
            "status": "422",
        }),
    )
}

fn parse_body(bytes: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(bytes).map_err(|_| {
        json_response(
            StatusCode::BAD_REQUEST,
            json!({ "message": "Problems parsing JSON", "documentation_url": DOCS, "status": "400" }),
        )
    })
}

/// The API root as the client addressed it, e.g. `http://127.0.0.1:4000/github`.
fn api(origin: &Origin) -> String {
    format!("{}/github", origin.0)
}

// ---------------------------------------------------------------- object shapes

/// A user (or organization) in GitHub's "simple user" shape.
pub fn user_json(api: &str, login: &str, id: u64, kind: &str) -> Value {
    let u = format!("{api}/users/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_kgDO{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": u,
        "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{u}/followers"),
        "following_url": format!("{u}/following{{/other_user}}"),
        "gists_url": format!("{u}/gists{{/gist_id}}"),
        "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{u}/subscriptions"),
        "organizations_url": format!("{u}/orgs"),
        "repos_url": format!("{u}/repos"),
        "events_url": format!("{u}/events{{/privacy}}"),
        "received_events_url": format!("{u}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

fn login_json(world: &mut World, api: &str, login: &str) -> Value {
    let id = world.github_user_id(login);
    let kind = if login == world.github.login {
        "User"
    } else if world.github.teams.keys().any(|(org, _)| org == login)
        || world.github.repos.values().any(|r| r.owner == login)
    {
        "Organization"
    } else {
        "User"
    };
    user_json(api, login, id, kind)
}

pub fn team_json(api: &str, org: &str, slug: &str, id: u64) -> Value {
    let t = format!("{api}/organizations/1/team/{id}");
    json!({
        "id": id,
        "node_id": format!("T_kwDO{id}"),
        "url": t,
        "html_url": format!("https://github.com/orgs/{org}/teams/{slug}"),
        "name": slug,
        "slug": slug,
        "description": null,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "members_url": format!("{t}/members{{/member}}"),
        "repositories_url": format!("{t}/repos"),
        "parent": null,
        "type": "organization",
    })
}

fn repo_json(world: &mut World, api: &str, full: &str) -> Option<Value> {
    let (owner, private, id, default_branch, created_at, open_issues) = {
        let r = world.github.repos.get(full)?;
        (
            r.owner.clone(),
            r.private,
            r.id,
            r.default_branch.clone(),
            r.created_at.clone(),
            r.issues.iter().filter(|i| i.state == "open").count(),
        )
    };
    let owner_json = login_json(world, api, &owner);
    let name = full.split_once('/').map(|(_, n)| n).unwrap_or(full);
    let u = format!("{api}/repos/{full}");
    let mut out = json!({
        "id": id,
        "node_id": format!("R_kgDO{id}"),
        "name": name,
        "full_name": full,
        "private": private,
        "owner": owner_json,
        "html_url": format!("https://github.com/{full}"),
        "description": null,
        "fork": false,
        "url": u,
        "archive_url": format!("{u}/{{archive_format}}{{/ref}}"),
        "assignees_url": format!("{u}/assignees{{/user}}"),
        "blobs_url": format!("{u}/git/blobs{{/sha}}"),
        "branches_url": format!("{u}/branches{{/branch}}"),
        "collaborators_url": format!("{u}/collaborators{{/collaborator}}"),
        "comments_url": format!("{u}/comments{{/number}}"),
        "commits_url": format!("{u}/commits{{/sha}}"),
        "compare_url": format!("{u}/compare/{{base}}...{{head}}"),
        "contents_url": format!("{u}/contents/{{+path}}"),
        "contributors_url": format!("{u}/contributors"),
        "deployments_url": format!("{u}/deployments"),
    });
    let middle = json!({
        "downloads_url": format!("{u}/downloads"),
        "events_url": format!("{u}/events"),
        "forks_url": format!("{u}/forks"),
        "git_commits_url": format!("{u}/git/commits{{/sha}}"),
        "git_refs_url": format!("{u}/git/refs{{/sha}}"),
        "git_tags_url": format!("{u}/git/tags{{/sha}}"),
        "git_url": format!("git://github.com/{full}.git"),
        "issue_comment_url": format!("{u}/issues/comments{{/number}}"),
        "issue_events_url": format!("{u}/issues/events{{/number}}"),
        "issues_url": format!("{u}/issues{{/number}}"),
        "keys_url": format!("{u}/keys{{/key_id}}"),
        "labels_url": format!("{u}/labels{{/name}}"),
        "languages_url": format!("{u}/languages"),
        "merges_url": format!("{u}/merges"),
        "milestones_url": format!("{u}/milestones{{/number}}"),
        "notifications_url": format!("{u}/notifications{{?since,all,participating}}"),
        "pulls_url": format!("{u}/pulls{{/number}}"),
        "releases_url": format!("{u}/releases{{/id}}"),
        "ssh_url": format!("git@github.com:{full}.git"),
        "stargazers_url": format!("{u}/stargazers"),
        "statuses_url": format!("{u}/statuses/{{sha}}"),
        "subscribers_url": format!("{u}/subscribers"),
        "subscription_url": format!("{u}/subscription"),
        "tags_url": format!("{u}/tags"),
        "teams_url": format!("{u}/teams"),
        "trees_url": format!("{u}/git/trees{{/sha}}"),
    });
    let rest = json!({
        "clone_url": format!("https://github.com/{full}.git"),
        "mirror_url": null,
        "hooks_url": format!("{u}/hooks"),
        "svn_url": format!("https://github.com/{full}"),
        "homepage": null,
        "language": "Rust",
        "forks_count": 0,
        "forks": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 0,
        "default_branch": default_branch,
        "open_issues_count": open_issues,
        "open_issues": open_issues,
        "is_template": false,
        "topics": [],
        "has_issues": true,
        "has_projects": true,
        "has_wiki": false,
        "has_pages": false,
        "has_downloads": true,
        "has_discussions": false,
        "archived": false,
        "disabled": false,
        "visibility": if private { "private" } else { "public" },
        "pushed_at": created_at,
        "created_at": created_at,
        "updated_at": created_at,
        "permissions": { "admin": true, "maintain": true, "push": true, "triage": true, "pull": true },
        "allow_rebase_merge": true,
        "allow_squash_merge": true,
        "allow_merge_commit": true,
        "allow_auto_merge": false,
        "delete_branch_on_merge": false,
        "license": null,
        "network_count": 0,
        "subscribers_count": 0,
    });
    for part in [middle, rest] {
        if let (Value::Object(out), Value::Object(part)) = (&mut out, part) {
            out.extend(part);
        }
    }
    Some(out)
}

fn reactions_json(url: &str) -> Value {
    json!({
        "url": format!("{url}/reactions"), "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
        "confused": 0, "heart": 0, "hooray": 0, "eyes": 0, "rocket": 0,
    })
}

fn issue_json(world: &mut World, api: &str, full: &str, issue: &IssueView) -> Value {
    let user = login_json(world, api, &issue.user);
    let r = format!("{api}/repos/{full}");
    let u = format!("{r}/issues/{}", issue.number);
    json!({
        "id": issue.id,
        "node_id": format!("I_kwDO{}", issue.id),
        "url": u,
        "repository_url": r,
        "labels_url": format!("{u}/labels{{/name}}"),
        "comments_url": format!("{u}/comments"),
        "events_url": format!("{u}/events"),
        "html_url": format!("https://github.com/{full}/issues/{}", issue.number),
        "number": issue.number,
        "state": issue.state,
        "state_reason": if issue.state == "closed" { json!("completed") } else { Value::Null },
        "title": issue.title,
        "body": issue.body,
        "user": user,
        "labels": [],
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "locked": false,
        "active_lock_reason": null,
        "comments": issue.comments,
        "closed_at": issue.closed_at,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_by": null,
        "author_association": "OWNER",
        "reactions": reactions_json(&u),
    })
}

/// An issue with its comment count, detached from the world's borrow.
struct IssueView {
    id: u64,
    number: u64,
    title: String,
    body: Option<String>,
    state: String,
    user: String,
    created_at: String,
    updated_at: String,
    closed_at: Option<String>,
    comments: usize,
}

fn issue_view(repo: &Repo, issue: &Issue) -> IssueView {
    IssueView {
        id: issue.id,
        number: issue.number,
        title: issue.title.clone(),
        body: issue.body.clone(),
        state: issue.state.clone(),
        user: issue.user.clone(),
        created_at: issue.created_at.clone(),
        updated_at: issue.updated_at.clone(),
        closed_at: issue.closed_at.clone(),
        comments: repo
            .comments
            .iter()
            .filter(|c| c.issue_number == issue.number)
            .count(),
    }
}

struct CommentView {
    id: u64,
    issue_number: u64,
    body: String,
    user: String,
    created_at: String,
    updated_at: String,
}

fn comment_view(c: &Comment) -> CommentView {
    CommentView {
        id: c.id,
        issue_number: c.issue_number,
        body: c.body.clone(),
        user: c.user.clone(),
        created_at: c.created_at.clone(),
        updated_at: c.updated_at.clone(),
    }
}

fn comment_json(world: &mut World, api: &str, full: &str, c: &CommentView) -> Value {
    let user = login_json(world, api, &c.user);
    let u = format!("{api}/repos/{full}/issues/comments/{}", c.id);
    json!({
        "id": c.id,
        "node_id": format!("IC_kwDO{}", c.id),
        "url": u,
        "html_url": format!("https://github.com/{full}/issues/{}#issuecomment-{}", c.issue_number, c.id),
        "body": c.body,
        "user": user,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "issue_url": format!("{api}/repos/{full}/issues/{}", c.issue_number),
        "author_association": "OWNER",
        "reactions": reactions_json(&u),
    })
}

// ---------------------------------------------------------------- pagination

#[derive(serde::Deserialize, Default)]
struct PageQuery {
    per_page: Option<usize>,
    page: Option<usize>,
    state: Option<String>,
}

/// One page of `items`, and the `Link` header pointing at the others.
fn paginate<T>(
    items: Vec<T>,
    q: &PageQuery,
    origin: &Origin,
    uri: &Uri,
) -> (Vec<T>, Option<HeaderValue>) {
    let per_page = q
        .per_page
        .unwrap_or(DEFAULT_PER_PAGE)
        .clamp(1, MAX_PER_PAGE);
    let page = q.page.unwrap_or(1).max(1);
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let others: Vec<String> = uri
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
        format!("<{}{}?{}>", origin.0, uri.path(), params.join("&"))
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
    let page_items = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let link = (!links.is_empty())
        .then(|| HeaderValue::from_str(&links.join(", ")).ok())
        .flatten();
    (page_items, link)
}

fn with_link(mut resp: Response, link: Option<HeaderValue>) -> Response {
    if let Some(link) = link {
        resp.headers_mut().insert(header::LINK, link);
    }
    resp
}

// ---------------------------------------------------------------- misc

async fn rate_limit(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let now = chrono::Utc::now().timestamp();
    let core = shared
        .budgets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .peek(&caller.token, shared.config.rate_limit, now);
    let core_json = json!({ "limit": core.limit, "remaining": core.remaining, "reset": core.reset, "used": core.used, "resource": "core" });
    let mut resources = Map::new();
    resources.insert("core".into(), core_json.clone());
    // The other resources keep GitHub's own limits; the sandbox only counts `core`.
    for (name, limit) in [
        ("search", 30),
        ("graphql", 5000),
        ("integration_manifest", 5000),
        ("source_import", 100),
        ("code_scanning_upload", 1000),
        ("actions_runner_registration", 10000),
        ("scim", 15000),
        ("dependency_snapshots", 100),
        ("dependency_sbom", 100),
        ("code_search", 10),
        ("code_scanning_autofix", 10),
        ("copilot_usage_records", 100),
    ] {
        resources.insert(
            name.into(),
            json!({ "limit": limit, "remaining": limit, "reset": now + 60, "used": 0, "resource": name }),
        );
    }
    json_response(
        StatusCode::OK,
        json!({ "resources": resources, "rate": core_json }),
    )
}

async fn get_user(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path(login): Path<String>,
) -> Response {
    let mut world = shared.world();
    json_response(
        StatusCode::OK,
        login_json(&mut world, &api(&origin), &login),
    )
}

async fn get_team(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((org, slug)): Path<(String, String)>,
) -> Response {
    let world = shared.world();
    match world.github.teams.get(&(org.clone(), slug.clone())) {
        Some(id) => json_response(StatusCode::OK, team_json(&api(&origin), &org, &slug, *id)),
        None => not_found(),
    }
}

/// The claims of a GitHub App JWT, checked as GitHub does (except the signature): decodable,
/// not expired, and issued by the app the state file names (if it names one). Answers the app
/// id.
fn check_app_jwt(shared: &Shared, jwt: &str) -> Result<u64, Response> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let claims = (parts.len() == 3)
        .then(|| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(parts[1].trim_end_matches('='))
                .ok()
        })
        .flatten()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let Some(claims) = claims else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
        ));
    };
    let now = chrono::Utc::now().timestamp();
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| exp <= now)
    {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
        ));
    }
    let iss = claims.get("iss").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let world = shared.world();
    if let Some(key) = world
        .github
        .app
        .as_ref()
        .and_then(|a| a.public_key.as_ref())
        && !rs256_valid(key, &parts)
    {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
        ));
    }
    match &world.github.app {
        Some(app) if iss.as_deref() != Some(app.id.to_string().as_str()) => {
            Err(error(StatusCode::UNAUTHORIZED, "Integration not found"))
        }
        Some(app) => Ok(app.id),
        None => iss
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "Integration not found")),
    }
}

/// Whether `header.payload.signature` is an RS256 JWT signed by `key`'s private half.
fn rs256_valid(key: &rsa::RsaPublicKey, parts: &[&str]) -> bool {
    use rsa::signature::Verifier as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine
        .decode(parts[0].trim_end_matches('='))
        .ok()
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok());
    if header
        .as_ref()
        .and_then(|h| h.get("alg"))
        .and_then(Value::as_str)
        != Some("RS256")
    {
        return false;
    }
    let Ok(signature) = engine
        .decode(parts[2].trim_end_matches('='))
        .map_err(|_| ())
        .and_then(|b| rsa::pkcs1v15::Signature::try_from(b.as_slice()).map_err(|_| ()))
    else {
        return false;
    };
    let verifier = rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(key.clone());
    let signed = format!("{}.{}", parts[0], parts[1]);
    verifier.verify(signed.as_bytes(), &signature).is_ok()
}

async fn get_app(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Extension(origin): Extension<Origin>,
) -> Response {
    let id = match check_app_jwt(&shared, &caller.token) {
        Ok(id) => id,
        Err(resp) => return resp,
    };
    let mut world = shared.world();
    let owner = world
        .github
        .repos
        .values()
        .next()
        .map(|r| r.owner.clone())
        .unwrap_or_else(|| world.github.login.clone());
    let owner_json = login_json(&mut world, &api(&origin), &owner);
    let installations = world
        .github
        .app
        .as_ref()
        .map_or(0, |a| a.installations.len());
    json_response(
        StatusCode::OK,
        json!({
            "id": id,
            "slug": "sophia-infra",
            "client_id": format!("Iv1.{id:016x}"),
            "node_id": format!("A_kwDO{id}"),
            "owner": owner_json,
            "name": "sophia-infra",
            "description": "The sophia reconciler (sandbox)",
            "external_url": "https://github.com/ai-cherry/sophia-intel-ai",
            "html_url": "https://github.com/apps/sophia-infra",
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "permissions": { "administration": "write", "contents": "read", "environments": "write", "issues": "write", "metadata": "read", "secrets": "write" },
            "events": [],
            "installations_count": installations,
        }),
    )
}

async fn installation_token(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(installation): Path<u64>,
    body: Bytes,
) -> Response {
    if let Err(resp) = check_app_jwt(&shared, &caller.token) {
        return resp;
    }
    let now = chrono::Utc::now().timestamp();
    let body = if body.is_empty() {
        Value::Object(Map::new())
    } else {
        match parse_body(&body) {
            Ok(b) => b,
            Err(resp) => return resp,
        }
    };
    if shared
        .world()
        .github
        .app
        .as_ref()
        .is_some_and(|app| !app.installations.contains(&installation))
    {
        return not_found();
    }
    let permissions = body
        .get("permissions")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_else(|| {
            let mut m = Map::new();
            for p in [
                "actions",
                "administration",
                "contents",
                "environments",
                "issues",
                "metadata",
                "pull_requests",
                "secrets",
            ] {
                m.insert(p.into(), json!("write"));
            }
            m.insert("metadata".into(), json!("read"));
            m
        });
    let read_only = !permissions.is_empty() && permissions.values().all(|v| v == "read");
    let secret = shared.world().hex_id(36);
    let token = if read_only {
        format!("ro-ghs_{secret}")
    } else {
        format!("ghs_{secret}")
    };
    let expires_at = chrono::DateTime::from_timestamp(now + INSTALLATION_TOKEN_SECS, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    json_response(
        StatusCode::CREATED,
        json!({
            "token": token,
            "expires_at": expires_at,
            "permissions": permissions,
            "repository_selection": "all",
        }),
    )
}

async fn get_repo(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    let full = format!("{owner}/{repo}");
    let api = api(&origin);
    let mut world = shared.world();
    let Some(r) = world.github.repos.get(&full) else {
        return not_found();
    };
    let open = r.issues.iter().filter(|i| i.state == "open").count();
    if let Some((root, count, bytes)) = &r.rendered
        && *root == api
        && *count == open
    {
        return json_bytes(bytes.clone());
    }
    let Some(v) = repo_json(&mut world, &api, &full) else {
        return not_found();
    };
    let bytes = axum::body::Bytes::from(serde_json::to_vec(&v).unwrap_or_default());
    if let Some(r) = world.github.repos.get_mut(&full) {
        r.rendered = Some((api, open, bytes.clone()));
    }
    json_bytes(bytes)
}

fn json_bytes(bytes: axum::body::Bytes) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response()
}

// ---------------------------------------------------------------- branch protection

fn flag(body: &Value, key: &str) -> bool {
    body.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Users, teams and apps of a restriction, as objects.
fn actors(world: &mut World, api: &str, owner: &str, v: &Value) -> (Value, Value) {
    let users: Vec<Value> = strings(v.get("users"))
        .iter()
        .map(|login| login_json(world, api, login))
        .collect();
    let teams: Vec<Value> = strings(v.get("teams"))
        .iter()
        .map(|slug| {
            let id = world.github_team_id(owner, slug);
            team_json(api, owner, slug, id)
        })
        .collect();
    (Value::Array(users), Value::Array(teams))
}

/// The protection as `GET …/protection` shows it, from the last accepted PUT body.
fn protection_json(
    world: &mut World,
    api: &str,
    owner: &str,
    full: &str,
    branch: &str,
    body: &Value,
) -> Value {
    let p = format!("{api}/repos/{full}/branches/{branch}/protection");
    let mut out = Map::new();
    out.insert("url".into(), json!(p));
    if let Some(rsc) = body.get("required_status_checks").filter(|v| v.is_object()) {
        let contexts = strings(rsc.get("contexts"));
        let checks: Vec<Value> = match rsc.get("checks").and_then(Value::as_array) {
            Some(checks) => checks
                .iter()
                .map(|c| json!({ "context": c.get("context").cloned().unwrap_or(Value::Null), "app_id": c.get("app_id").cloned().unwrap_or(Value::Null) }))
                .collect(),
            None => contexts
                .iter()
                .map(|c| json!({ "context": c, "app_id": null }))
                .collect(),
        };
        let contexts: Vec<Value> = if rsc.get("checks").is_some() {
            checks.iter().map(|c| c["context"].clone()).collect()
        } else {
            contexts.iter().map(|c| json!(c)).collect()
        };
        out.insert(
            "required_status_checks".into(),
            json!({
                "url": format!("{p}/required_status_checks"),
                "strict": flag(rsc, "strict"),
                "contexts": contexts,
                "contexts_url": format!("{p}/required_status_checks/contexts"),
                "checks": checks,
            }),
        );
    }
    if let Some(reviews) = body
        .get("required_pull_request_reviews")
        .filter(|v| v.is_object())
    {
        let mut r = Map::new();
        r.insert(
            "url".into(),
            json!(format!("{p}/required_pull_request_reviews")),
        );
        r.insert(
            "dismiss_stale_reviews".into(),
            json!(flag(reviews, "dismiss_stale_reviews")),
        );
        r.insert(
            "require_code_owner_reviews".into(),
            json!(flag(reviews, "require_code_owner_reviews")),
        );
        r.insert(
            "required_approving_review_count".into(),
            json!(
                reviews
                    .get("required_approving_review_count")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
            ),
        );
        r.insert(
            "require_last_push_approval".into(),
            json!(flag(reviews, "require_last_push_approval")),
        );
        if let Some(d) = reviews
            .get("dismissal_restrictions")
            .filter(|v| v.is_object())
        {
            let (users, teams) = actors(world, api, owner, d);
            r.insert(
                "dismissal_restrictions".into(),
                json!({
                    "url": format!("{p}/dismissal_restrictions"),
                    "users_url": format!("{p}/dismissal_restrictions/users"),
                    "teams_url": format!("{p}/dismissal_restrictions/teams"),
                    "users": users, "teams": teams, "apps": [],
                }),
            );
        }
        if let Some(b) = reviews
            .get("bypass_pull_request_allowances")
            .filter(|v| v.is_object())
        {
            let (users, teams) = actors(world, api, owner, b);
            r.insert(
                "bypass_pull_request_allowances".into(),
                json!({ "users": users, "teams": teams, "apps": [] }),
            );
        }
        out.insert("required_pull_request_reviews".into(), Value::Object(r));
    }
    out.insert(
        "required_signatures".into(),
        json!({ "url": format!("{p}/required_signatures"), "enabled": false }),
    );
    out.insert(
        "enforce_admins".into(),
        json!({ "url": format!("{p}/enforce_admins"), "enabled": flag(body, "enforce_admins") }),
    );
    for key in [
        "required_linear_history",
        "allow_force_pushes",
        "allow_deletions",
        "block_creations",
        "required_conversation_resolution",
        "lock_branch",
        "allow_fork_syncing",
    ] {
        out.insert(key.into(), json!({ "enabled": flag(body, key) }));
    }
    if let Some(rs) = body.get("restrictions").filter(|v| v.is_object()) {
        let (users, teams) = actors(world, api, owner, rs);
        out.insert(
            "restrictions".into(),
            json!({
                "url": format!("{p}/restrictions"),
                "users_url": format!("{p}/restrictions/users"),
                "teams_url": format!("{p}/restrictions/teams"),
                "apps_url": format!("{p}/restrictions/apps"),
                "users": users, "teams": teams, "apps": [],
            }),
        );
    }
    Value::Object(out)
}

async fn get_protection(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
) -> Response {
    let full = format!("{owner}/{repo}");
    let mut world = shared.world();
    let Some(r) = world.github.repos.get(&full) else {
        return not_found();
    };
    let Some(slot) = r.branches.get(&branch) else {
        return error(StatusCode::NOT_FOUND, "Branch not found");
    };
    let Some(body) = slot.clone() else {
        return error(StatusCode::NOT_FOUND, "Branch not protected");
    };
    let out = protection_json(&mut world, &api(&origin), &owner, &full, &branch, &body);
    json_response(StatusCode::OK, out)
}

/// The checks GitHub makes on a protection PUT body.
fn check_protection_body(body: &Value) -> Result<(), Response> {
    let Some(obj) = body.as_object() else {
        return Err(invalid_request(
            "For 'links/0/schema', the body is not an object.",
        ));
    };
    for key in [
        "required_status_checks",
        "enforce_admins",
        "required_pull_request_reviews",
        "restrictions",
    ] {
        if !obj.contains_key(key) {
            return Err(invalid_request(&format!("\"{key}\" wasn't supplied.")));
        }
    }
    if let Some(rsc) = obj["required_status_checks"].as_object() {
        if !rsc.get("strict").is_some_and(Value::is_boolean) {
            return Err(invalid_request("\"strict\" wasn't supplied."));
        }
        if !rsc.get("contexts").is_some_and(Value::is_array) {
            return Err(invalid_request("\"contexts\" wasn't supplied."));
        }
    } else if !obj["required_status_checks"].is_null() {
        return Err(invalid_request(
            "\"required_status_checks\" is not an object or null.",
        ));
    }
    if !(obj["enforce_admins"].is_boolean() || obj["enforce_admins"].is_null()) {
        return Err(invalid_request(
            "\"enforce_admins\" is not a boolean or null.",
        ));
    }
    if let Some(rs) = obj["restrictions"].as_object() {
        if !rs.get("users").is_some_and(Value::is_array)
            || !rs.get("teams").is_some_and(Value::is_array)
        {
            return Err(invalid_request("\"users\" and \"teams\" weren't supplied."));
        }
    } else if !obj["restrictions"].is_null() {
        return Err(invalid_request(
            "\"restrictions\" is not an object or null.",
        ));
    }
    if let Some(n) = obj
        .get("required_pull_request_reviews")
        .and_then(|r| r.get("required_approving_review_count"))
        && n.as_u64().is_none_or(|n| n > 6)
    {
        return Err(invalid_request(
            "required_approving_review_count must be an integer between 0 and 6.",
        ));
    }
    Ok(())
}

async fn put_protection(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let full = format!("{owner}/{repo}");
    let mut world = shared.world();
    let Some(r) = world.github.repos.get_mut(&full) else {
        return not_found();
    };
    let Some(slot) = r.branches.get_mut(&branch) else {
        return error(StatusCode::NOT_FOUND, "Branch not found");
    };
    if let Err(resp) = check_protection_body(&body) {
        return resp;
    }
    *slot = Some(body.clone());
    let out = protection_json(&mut world, &api(&origin), &owner, &full, &branch, &body);
    json_response(StatusCode::OK, out)
}

async fn delete_protection(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
) -> Response {
    let mut world = shared.world();
    let Some(r) = world.github.repos.get_mut(&format!("{owner}/{repo}")) else {
        return not_found();
    };
    let Some(slot) = r.branches.get_mut(&branch) else {
        return error(StatusCode::NOT_FOUND, "Branch not found");
    };
    if slot.take().is_none() {
        return error(StatusCode::NOT_FOUND, "Branch not protected");
    }
    StatusCode::NO_CONTENT.into_response()
}

// ---------------------------------------------------------------- Actions secrets

fn secret_json(name: &str, s: &GithubSecret) -> Value {
    json!({ "name": name, "created_at": s.created_at, "updated_at": s.updated_at })
}

async fn list_secrets(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
    uri: Uri,
) -> Response {
    let world = shared.world();
    let Some(r) = world.github.repos.get(&format!("{owner}/{repo}")) else {
        return not_found();
    };
    let all: Vec<Value> = r.secrets.iter().map(|(n, s)| secret_json(n, s)).collect();
    let total = all.len();
    let (page, link) = paginate(all, &q, &origin, &uri);
    with_link(
        json_response(
            StatusCode::OK,
            json!({ "total_count": total, "secrets": page }),
        ),
        link,
    )
}

async fn public_key(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    let world = shared.world();
    let Some(r) = world.github.repos.get(&format!("{owner}/{repo}")) else {
        return not_found();
    };
    let key = base64::engine::general_purpose::STANDARD.encode(r.key.public_key().as_bytes());
    json_response(StatusCode::OK, json!({ "key_id": r.key_id, "key": key }))
}

async fn get_secret(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> Response {
    let world = shared.world();
    let Some(s) = world
        .github
        .repos
        .get(&format!("{owner}/{repo}"))
        .and_then(|r| r.secrets.get(&name))
    else {
        return not_found();
    };
    json_response(StatusCode::OK, secret_json(&name, s))
}

/// GitHub's rules for secret names.
fn valid_secret_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.to_ascii_uppercase().starts_with("GITHUB_")
}

async fn put_secret(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let (Some(encrypted), Some(key_id)) = (
        body.get("encrypted_value").and_then(Value::as_str),
        body.get("key_id").and_then(Value::as_str),
    ) else {
        return invalid_request("\"encrypted_value\" and \"key_id\" are required.");
    };
    if !valid_secret_name(&name) {
        return validation_failed(
            "Secret",
            "name",
            "invalid",
            Some(
                "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_), must not start with a number or GITHUB_.",
            ),
        );
    }
    let mut world = shared.world();
    let Some(r) = world.github.repos.get_mut(&format!("{owner}/{repo}")) else {
        return not_found();
    };
    if key_id != r.key_id {
        return validation_failed(
            "Secret",
            "key_id",
            "invalid",
            Some("key_id does not match the repository public key"),
        );
    }
    let plain = base64::engine::general_purpose::STANDARD
        .decode(encrypted)
        .ok()
        .and_then(|sealed| r.key.unseal(&sealed).ok());
    let Some(plain) = plain else {
        return validation_failed(
            "Secret",
            "encrypted_value",
            "invalid",
            Some("encrypted_value is not a sealed box for this repository's public key"),
        );
    };
    let now = now();
    match r.secrets.get_mut(&name) {
        Some(s) => {
            s.value = Some(plain);
            s.updated_at = now;
            StatusCode::NO_CONTENT.into_response()
        }
        None => {
            r.secrets.insert(
                name,
                GithubSecret {
                    value: Some(plain),
                    created_at: now.clone(),
                    updated_at: now,
                },
            );
            json_response(StatusCode::CREATED, json!({}))
        }
    }
}

async fn delete_secret(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> Response {
    let mut world = shared.world();
    let Some(r) = world.github.repos.get_mut(&format!("{owner}/{repo}")) else {
        return not_found();
    };
    if r.secrets.remove(&name).is_none() {
        return not_found();
    }
    StatusCode::NO_CONTENT.into_response()
}

// ---------------------------------------------------------------- environments

struct EnvView {
    id: u64,
    name: String,
    created_at: String,
    updated_at: String,
    wait_timer: u64,
    prevent_self_review: bool,
    reviewers: Vec<(String, u64)>,
    deployment_branch_policy: Option<Value>,
}

fn env_view(e: &Environment) -> EnvView {
    EnvView {
        id: e.id,
        name: e.name.clone(),
        created_at: e.created_at.clone(),
        updated_at: e.updated_at.clone(),
        wait_timer: e.wait_timer,
        prevent_self_review: e.prevent_self_review,
        reviewers: e.reviewers.clone(),
        deployment_branch_policy: e.deployment_branch_policy.clone(),
    }
}

fn environment_json(world: &mut World, api: &str, owner: &str, full: &str, e: &EnvView) -> Value {
    let mut rules = Vec::new();
    if e.wait_timer > 0 {
        let id = e.id * 10 + 1;
        rules.push(json!({ "id": id, "node_id": format!("GA_kwDO{id}"), "type": "wait_timer", "wait_timer": e.wait_timer }));
    }
    if !e.reviewers.is_empty() {
        let id = e.id * 10 + 2;
        let reviewers: Vec<Value> = e
            .reviewers
            .iter()
            .map(|(kind, rid)| {
                let reviewer = if kind == "Team" {
                    let slug = world
                        .github
                        .teams
                        .iter()
                        .find(|(_, v)| *v == rid)
                        .map(|((_, s), _)| s.clone())
                        .unwrap_or_default();
                    team_json(api, owner, &slug, *rid)
                } else {
                    let login = world
                        .github
                        .users
                        .iter()
                        .find(|(_, v)| *v == rid)
                        .map(|(l, _)| l.clone())
                        .unwrap_or_default();
                    user_json(api, &login, *rid, "User")
                };
                json!({ "type": kind, "reviewer": reviewer })
            })
            .collect();
        rules.push(json!({
            "id": id, "node_id": format!("GA_kwDO{id}"), "type": "required_reviewers",
            "prevent_self_review": e.prevent_self_review, "reviewers": reviewers,
        }));
    }
    if e.deployment_branch_policy.is_some() {
        let id = e.id * 10 + 3;
        rules.push(json!({ "id": id, "node_id": format!("GA_kwDO{id}"), "type": "branch_policy" }));
    }
    json!({
        "id": e.id,
        "node_id": format!("EN_kwDO{}", e.id),
        "name": e.name,
        "url": format!("{api}/repos/{full}/environments/{}", e.name),
        "html_url": format!("https://github.com/{full}/deployments/activity_log?environments_filter={}", e.name),
        "created_at": e.created_at,
        "updated_at": e.updated_at,
        "can_admins_bypass": true,
        "protection_rules": rules,
        "deployment_branch_policy": e.deployment_branch_policy,
    })
}

async fn list_environments(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
    uri: Uri,
) -> Response {
    let full = format!("{owner}/{repo}");
    let mut world = shared.world();
    let Some(r) = world.github.repos.get(&full) else {
        return not_found();
    };
    let views: Vec<EnvView> = r.environments.values().map(env_view).collect();
    let total = views.len();
    let (page, link) = paginate(views, &q, &origin, &uri);
    let a = api(&origin);
    let envs: Vec<Value> = page
        .iter()
        .map(|e| environment_json(&mut world, &a, &owner, &full, e))
        .collect();
    with_link(
        json_response(
            StatusCode::OK,
            json!({ "total_count": total, "environments": envs }),
        ),
        link,
    )
}

async fn get_environment(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((owner, repo, env)): Path<(String, String, String)>,
) -> Response {
    let full = format!("{owner}/{repo}");
    let mut world = shared.world();
    let Some(view) = world
        .github
        .repos
        .get(&full)
        .and_then(|r| r.environments.get(&env))
        .map(env_view)
    else {
        return not_found();
    };
    let out = environment_json(&mut world, &api(&origin), &owner, &full, &view);
    json_response(StatusCode::OK, out)
}

async fn put_environment(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((owner, repo, env)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let body = if body.is_empty() {
        Value::Object(Map::new())
    } else {
        match parse_body(&body) {
            Ok(b) => b,
            Err(resp) => return resp,
        }
    };
    let full = format!("{owner}/{repo}");
    let mut world = shared.world();
    if !world.github.repos.contains_key(&full) {
        return not_found();
    }
    // Validate the whole body before changing anything.
    let wait_timer = match body.get("wait_timer") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().filter(|n| *n <= MAX_WAIT_TIMER) {
            Some(n) => Some(n),
            None => return invalid_request("wait_timer must be an integer between 0 and 43200."),
        },
    };
    let reviewers = match body.get("reviewers") {
        None => None,
        Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => {
            if items.len() > MAX_REVIEWERS {
                return invalid_request("Only 6 reviewers are allowed.");
            }
            let mut out = Vec::new();
            for item in items {
                let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
                let Some(id) = item.get("id").and_then(Value::as_u64) else {
                    return invalid_request("Each reviewer needs a numeric \"id\".");
                };
                let known = match kind {
                    "User" => world.github.users.values().any(|v| *v == id),
                    "Team" => world.github.teams.values().any(|v| *v == id),
                    _ => return invalid_request("A reviewer's \"type\" is User or Team."),
                };
                if !known {
                    return validation_failed(
                        "Environment",
                        "reviewers",
                        "invalid",
                        Some(&format!("{kind} {id} is not a valid reviewer")),
                    );
                }
                out.push((kind.to_string(), id));
            }
            Some(out)
        }
        Some(_) => return invalid_request("\"reviewers\" is not an array or null."),
    };
    let policy = match body.get("deployment_branch_policy") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(p @ Value::Object(o))
            if o.get("protected_branches").is_some_and(Value::is_boolean)
                && o.get("custom_branch_policies")
                    .is_some_and(Value::is_boolean) =>
        {
            Some(Some(p.clone()))
        }
        Some(_) => {
            return invalid_request(
                "deployment_branch_policy needs protected_branches and custom_branch_policies.",
            );
        }
    };
    let new_id = world.next_id();
    let r = world.github.repos.get_mut(&full).expect("checked");
    let now = now();
    let e = r
        .environments
        .entry(env.clone())
        .or_insert_with(|| Environment {
            id: new_id,
            name: env.clone(),
            created_at: now.clone(),
            updated_at: now.clone(),
            wait_timer: 0,
            prevent_self_review: false,
            reviewers: Vec::new(),
            deployment_branch_policy: None,
        });
    if let Some(w) = wait_timer {
        e.wait_timer = w;
    }
    if let Some(p) = body.get("prevent_self_review").and_then(Value::as_bool) {
        e.prevent_self_review = p;
    }
    if let Some(rv) = reviewers {
        e.reviewers = rv;
    }
    if let Some(p) = policy {
        e.deployment_branch_policy = p;
    }
    e.updated_at = now;
    let view = env_view(e);
    let out = environment_json(&mut world, &api(&origin), &owner, &full, &view);
    json_response(StatusCode::OK, out)
}

async fn delete_environment(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, env)): Path<(String, String, String)>,
) -> Response {
    let mut world = shared.world();
    let Some(r) = world.github.repos.get_mut(&format!("{owner}/{repo}")) else {
        return not_found();
    };
    if r.environments.remove(&env).is_none() {
        return not_found();
    }
    StatusCode::NO_CONTENT.into_response()
}

// ---------------------------------------------------------------- issues

fn too_long(body: &str) -> bool {
    body.chars().count() > MAX_BODY_CHARS
}

async fn list_issues(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
    uri: Uri,
) -> Response {
    let full = format!("{owner}/{repo}");
    let mut world = shared.world();
    let Some(r) = world.github.repos.get(&full) else {
        return not_found();
    };
    let state = q.state.clone().unwrap_or_else(|| "open".into());
    // Newest first, as GitHub's default sort.
    let views: Vec<IssueView> = r
        .issues
        .iter()
        .rev()
        .filter(|i| state == "all" || i.state == state)
        .map(|i| issue_view(r, i))
        .collect();
    let (page, link) = paginate(views, &q, &origin, &uri);
    let a = api(&origin);
    let out: Vec<Value> = page
        .iter()
        .map(|i| issue_json(&mut world, &a, &full, i))
        .collect();
    with_link(json_response(StatusCode::OK, Value::Array(out)), link)
}

async fn create_issue(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let Some(title) = body.get("title").and_then(|t| match t {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }) else {
        return validation_failed("Issue", "title", "missing_field", None);
    };
    let text = body.get("body").and_then(Value::as_str).map(str::to_string);
    if text.as_deref().is_some_and(too_long) {
        return validation_failed(
            "Issue",
            "body",
            "custom",
            Some("body is too long (maximum is 65536 characters)"),
        );
    }
    let full = format!("{owner}/{repo}");
    let mut world = shared.world();
    if !world.github.repos.contains_key(&full) {
        return not_found();
    }
    let id = world.next_id();
    let user = world.github.login.clone();
    let r = world.github.repos.get_mut(&full).expect("checked");
    let now = now();
    let issue = Issue {
        id,
        number: r.issues.len() as u64 + 1,
        title,
        body: text,
        state: "open".into(),
        user,
        created_at: now.clone(),
        updated_at: now,
        closed_at: None,
    };
    let view = issue_view(r, &issue);
    r.issues.push(issue);
    let out = issue_json(&mut world, &api(&origin), &full, &view);
    json_response(StatusCode::CREATED, out)
}

async fn get_issue(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
) -> Response {
    let full = format!("{owner}/{repo}");
    let mut world = shared.world();
    let Some(view) = world.github.repos.get(&full).and_then(|r| {
        r.issues
            .iter()
            .find(|i| i.number == number)
            .map(|i| issue_view(r, i))
    }) else {
        return not_found();
    };
    let out = issue_json(&mut world, &api(&origin), &full, &view);
    json_response(StatusCode::OK, out)
}

async fn update_issue(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    if body
        .get("body")
        .and_then(Value::as_str)
        .is_some_and(too_long)
    {
        return validation_failed(
            "Issue",
            "body",
            "custom",
            Some("body is too long (maximum is 65536 characters)"),
        );
    }
    let state = body.get("state").and_then(Value::as_str);
    if state.is_some_and(|s| s != "open" && s != "closed") {
        return validation_failed("Issue", "state", "invalid", None);
    }
    let full = format!("{owner}/{repo}");
    let mut world = shared.world();
    let Some(r) = world.github.repos.get_mut(&full) else {
        return not_found();
    };
    let Some(index) = r.issues.iter().position(|i| i.number == number) else {
        return not_found();
    };
    let now = now();
    let issue = &mut r.issues[index];
    if let Some(t) = body.get("title").and_then(Value::as_str) {
        issue.title = t.into();
    }
    match body.get("body") {
        Some(Value::String(b)) => issue.body = Some(b.clone()),
        Some(Value::Null) => issue.body = None,
        _ => {}
    }
    if let Some(s) = state {
        if s == "closed" && issue.state != "closed" {
            issue.closed_at = Some(now.clone());
        } else if s == "open" {
            issue.closed_at = None;
        }
        issue.state = s.into();
    }
    issue.updated_at = now;
    let view = issue_view(r, &r.issues[index]);
    let out = issue_json(&mut world, &api(&origin), &full, &view);
    json_response(StatusCode::OK, out)
}

// ---------------------------------------------------------------- issue comments

async fn list_comments(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Query(q): Query<PageQuery>,
    uri: Uri,
) -> Response {
    let full = format!("{owner}/{repo}");
    let mut world = shared.world();
    let Some(r) = world.github.repos.get(&full) else {
        return not_found();
    };
    if !r.issues.iter().any(|i| i.number == number) {
        return not_found();
    }
    // Oldest first, as GitHub lists issue comments.
    let views: Vec<CommentView> = r
        .comments
        .iter()
        .filter(|c| c.issue_number == number)
        .map(comment_view)
        .collect();
    let (page, link) = paginate(views, &q, &origin, &uri);
    let a = api(&origin);
    let out: Vec<Value> = page
        .iter()
        .map(|c| comment_json(&mut world, &a, &full, c))
        .collect();
    with_link(json_response(StatusCode::OK, Value::Array(out)), link)
}

fn comment_body(body: &Value) -> Result<String, Response> {
    let Some(text) = body.get("body").and_then(Value::as_str) else {
        return Err(validation_failed(
            "IssueComment",
            "body",
            "missing_field",
            None,
        ));
    };
    if too_long(text) {
        return Err(validation_failed(
            "IssueComment",
            "body",
            "custom",
            Some("body is too long (maximum is 65536 characters)"),
        ));
    }
    Ok(text.to_string())
}

async fn create_comment(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let text = match comment_body(&body) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let full = format!("{owner}/{repo}");
    let mut world = shared.world();
    match world.github.repos.get(&full) {
        Some(r) if r.issues.iter().any(|i| i.number == number) => {}
        _ => return not_found(),
    }
    let id = world.next_id();
    let user = world.github.login.clone();
    let now = now();
    let comment = Comment {
        id,
        issue_number: number,
        body: text,
        user,
        created_at: now.clone(),
        updated_at: now,
    };
    let view = comment_view(&comment);
    world
        .github
        .repos
        .get_mut(&full)
        .expect("checked")
        .comments
        .push(comment);
    let out = comment_json(&mut world, &api(&origin), &full, &view);
    json_response(StatusCode::CREATED, out)
}

async fn get_comment(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
) -> Response {
    let full = format!("{owner}/{repo}");
    let mut world = shared.world();
    let Some(view) = world
        .github
        .repos
        .get(&full)
        .and_then(|r| r.comments.iter().find(|c| c.id == id).map(comment_view))
    else {
        return not_found();
    };
    let out = comment_json(&mut world, &api(&origin), &full, &view);
    json_response(StatusCode::OK, out)
}

async fn update_comment(
    State(shared): State<Arc<Shared>>,
    Extension(origin): Extension<Origin>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let text = match comment_body(&body) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let full = format!("{owner}/{repo}");
    let mut world = shared.world();
    let Some(c) = world
        .github
        .repos
        .get_mut(&full)
        .and_then(|r| r.comments.iter_mut().find(|c| c.id == id))
    else {
        return not_found();
    };
    c.body = text;
    c.updated_at = now();
    let view = comment_view(c);
    let out = comment_json(&mut world, &api(&origin), &full, &view);
    json_response(StatusCode::OK, out)
}

async fn delete_comment(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
) -> Response {
    let mut world = shared.world();
    let Some(r) = world.github.repos.get_mut(&format!("{owner}/{repo}")) else {
        return not_found();
    };
    let before = r.comments.len();
    r.comments.retain(|c| c.id != id);
    if r.comments.len() == before {
        return not_found();
    }
    StatusCode::NO_CONTENT.into_response()
}
