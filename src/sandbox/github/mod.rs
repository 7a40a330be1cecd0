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
//! app's JWT as `Bearer`; see [`app`] for what is checked.
//!
//! # Code map
//!
//! One file per resource, each with its handlers and the shapes it serves: [`repos`],
//! [`rulesets`] (organization and repository rulesets, the rules of a branch), [`access`]
//! (settings, topics, collaborators, teams, Actions variables),
//! [`protection`], [`secrets`], [`environments`], [`issues`], [`comments`], [`users`] (users,
//! organizations, teams), [`app`] (the GitHub App and installation tokens), [`rate_limit`].
//! What they share is in [`extract`] (the repository in the path, the JSON body, the API root,
//! refusals in GitHub's shapes) and [`pages`] (`per_page`/`page` and the `Link` header).
//! Every route's answers, refusals included, are pinned byte for byte by
//! `tests/it/sandbox/routes.rs`.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use super::Shared;

mod access;
mod app;
mod comments;
mod environments;
mod extract;
mod issues;
mod pages;
mod protection;
mod rate_limit;
mod repos;
mod rulesets;
mod secrets;
mod users;

pub use issues::MAX_BODY_CHARS;
pub use users::{team_json, user_json};

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/rate_limit", get(rate_limit::rate_limit))
        .route("/app", get(app::get_app))
        .route("/users/{login}", get(users::get_user))
        .route("/user/repos", get(repos::list_user_repos))
        .route("/orgs/{org}/teams/{slug}", get(users::get_team))
        .route(
            "/app/installations/{id}/access_tokens",
            post(app::installation_token),
        )
        .route(
            "/repos/{owner}/{repo}",
            get(repos::get_repo).patch(access::patch_repo),
        )
        .route(
            "/repos/{owner}/{repo}/topics",
            get(access::get_topics).put(access::put_topics),
        )
        .route(
            "/repos/{owner}/{repo}/collaborators",
            get(access::list_collaborators),
        )
        .route(
            "/repos/{owner}/{repo}/collaborators/{username}",
            get(access::get_collaborator)
                .put(access::put_collaborator)
                .delete(access::delete_collaborator),
        )
        .route("/repos/{owner}/{repo}/teams", get(access::list_teams))
        .route(
            "/orgs/{org}/teams/{slug}/repos/{owner}/{repo}",
            axum::routing::put(access::put_team_repo).delete(access::delete_team_repo),
        )
        .route(
            "/repos/{owner}/{repo}/actions/variables",
            get(access::list_variables).post(access::create_variable),
        )
        .route(
            "/repos/{owner}/{repo}/actions/variables/{name}",
            get(access::get_variable)
                .patch(access::update_variable)
                .delete(access::delete_variable),
        )
        .route(
            "/orgs/{org}/rulesets",
            get(rulesets::list_org).post(rulesets::create_org),
        )
        .route(
            "/orgs/{org}/rulesets/{id}",
            get(rulesets::get_org)
                .put(rulesets::update_org)
                .delete(rulesets::delete_org),
        )
        .route(
            "/repos/{owner}/{repo}/rulesets",
            get(rulesets::list_repo).post(rulesets::create_repo),
        )
        .route(
            "/repos/{owner}/{repo}/rulesets/{id}",
            get(rulesets::get_repo)
                .put(rulesets::update_repo)
                .delete(rulesets::delete_repo),
        )
        .route(
            "/repos/{owner}/{repo}/rules/branches/{branch}",
            get(rulesets::branch_rules),
        )
        .route(
            "/repos/{owner}/{repo}/branches/{branch}/protection",
            get(protection::get_protection)
                .put(protection::put_protection)
                .delete(protection::delete_protection),
        )
        .route(
            "/repos/{owner}/{repo}/actions/secrets",
            get(secrets::list_secrets),
        )
        .route(
            "/repos/{owner}/{repo}/actions/secrets/public-key",
            get(secrets::public_key),
        )
        .route(
            "/repos/{owner}/{repo}/actions/secrets/{name}",
            get(secrets::get_secret)
                .put(secrets::put_secret)
                .delete(secrets::delete_secret),
        )
        .route(
            "/repos/{owner}/{repo}/environments",
            get(environments::list_environments),
        )
        .route(
            "/repos/{owner}/{repo}/environments/{env}/deployment-branch-policies",
            get(environments::list_branch_policies).post(environments::create_branch_policy),
        )
        .route(
            "/repos/{owner}/{repo}/environments/{env}/deployment-branch-policies/{id}",
            axum::routing::delete(environments::delete_branch_policy),
        )
        .route(
            "/repos/{owner}/{repo}/environments/{env}/secrets",
            get(environments::list_env_secrets),
        )
        .route(
            "/repos/{owner}/{repo}/environments/{env}/secrets/public-key",
            get(environments::env_public_key),
        )
        .route(
            "/repos/{owner}/{repo}/environments/{env}/secrets/{name}",
            axum::routing::put(environments::put_env_secret)
                .delete(environments::delete_env_secret),
        )
        .route(
            "/repos/{owner}/{repo}/environments/{env}/variables",
            get(environments::list_env_variables).post(environments::create_env_variable),
        )
        .route(
            "/repos/{owner}/{repo}/environments/{env}/variables/{name}",
            axum::routing::patch(environments::update_env_variable),
        )
        .route(
            "/repos/{owner}/{repo}/environments/{env}",
            get(environments::get_environment)
                .put(environments::put_environment)
                .delete(environments::delete_environment),
        )
        .route(
            "/repos/{owner}/{repo}/issues",
            get(issues::list_issues).post(issues::create_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}",
            get(issues::get_issue).patch(issues::update_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            get(comments::list_comments).post(comments::create_comment),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{id}",
            get(comments::get_comment)
                .patch(comments::update_comment)
                .delete(comments::delete_comment),
        )
}
