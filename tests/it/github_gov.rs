//! GitHub governance against recorded real answers and the sandbox: environment reviewers
//! compared as a set, environment names GitHub accepts (`test/env`), numeric `key_id`s, and
//! listings followed by `Link: rel="next"` to their end.
//!
//! Sources of the recorded vectors, kept small: GitHub's OpenAPI description's own examples
//! (`../shared/conformance/github/openapi-subset.json`), PyGithub's replay data
//! (`tests/ReplayData/Environment.testCreateEnvironment.txt`: `PUT
//! /repos/alson/PyGithub/environments/test%2Fenv`, answered with `"name":"test/env"`), and
//! @octokit/fixtures (`scenarios/api.github.com/paginate-issues`: 13 issues paged by 3, the
//! next page at `/repositories/1000/issues?per_page=3&page=2`).

use std::collections::BTreeMap;

use serde_json::Value;
use sophia::core::address::Address;
use sophia::core::desired::{self, Desired, ProviderName, Source};
use sophia::core::diff::diff_one;
use sophia::core::lower::lower;
use sophia::core::plan::{ChangeKind, Plan};
use sophia::providers::github::environment_of;
use sophia::providers::github_issues::{Issues, RepoRef};
use sophia::providers::{Credentials, Http, Provider, RetryPolicy};
use sophia::sandbox::{Sandbox, SandboxConfig, SandboxHandle, Seed};

use crate::support::conformance_dir;
pub use crate::support::{plan_of, refresh};

pub fn sandbox(seed: &str) -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        seed: Seed::parse(seed).expect("the test seed parses"),
        ..SandboxConfig::default()
    })
    .expect("the sandbox starts")
}

pub fn creds(sb: &SandboxHandle) -> Credentials {
    Credentials::from_pairs(sb.env())
}

pub fn fast_http() -> Http {
    Http::new(RetryPolicy::fast(), 16)
}

pub fn load(yaml: &str) -> Desired {
    desired::load(&[Source {
        path: "desired/main.yaml".into(),
        text: yaml.into(),
    }])
    .expect("the test desired state loads")
}

pub fn github(creds: &Credentials, http: &Http) -> Provider {
    Provider::configure(ProviderName::Github, creds, http)
        .expect("an implemented provider")
        .expect("configured")
}

/// Plan, run every action (all must succeed), and return the plan that was run.
pub async fn plan_and_apply(sb: &SandboxHandle, desired: &Desired) -> Plan {
    let creds = creds(sb);
    let http = fast_http();
    let live = refresh(desired, &creds, &http).await;
    let plan = plan_of(desired, &live);
    let gh = github(&creds, &http);
    let secrets: BTreeMap<String, String> = BTreeMap::new();
    for action in &plan.actions {
        let outcome = gh.execute(action, &secrets).await;
        assert!(
            outcome.is_success(),
            "{} failed: {:?}",
            action.id,
            outcome.errors
        );
    }
    plan
}

/// The changes of a fresh plan, as `(address, kind)`.
pub async fn replan(sb: &SandboxHandle, desired: &Desired) -> Vec<(String, ChangeKind)> {
    let creds = creds(sb);
    let http = fast_http();
    let live = refresh(desired, &creds, &http).await;
    plan_of(desired, &live)
        .changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect()
}

fn openapi() -> Option<Value> {
    let dir = conformance_dir()?;
    let text = std::fs::read_to_string(dir.join("github/openapi-subset.json")).unwrap();
    Some(serde_json::from_str(&text).unwrap())
}

/// The `default` example of an operation's 200 answer.
pub fn example(api: &Value, path: &str, method: &str) -> Value {
    let content = &api["paths"][path][method]["responses"]["200"]["content"]["application/json"];
    let ex = &content["examples"]["default"]["value"];
    if ex.is_null() {
        content["example"].clone()
    } else {
        ex.clone()
    }
}

#[test]
fn environment_reviewers_from_githubs_own_example_match_desired_in_either_order() {
    let Some(api) = openapi() else { return };
    // GitHub lists User `octocat`, then Team `justice-league`.
    let answer = example(
        &api,
        "/repos/{owner}/{repo}/environments/{environment_name}",
        "get",
    );
    let live = environment_of(&answer);
    for reviewers in [
        "[{ type: User, login: octocat }, { type: Team, login: justice-league }]",
        "[{ type: Team, login: justice-league }, { type: User, login: octocat }]",
    ] {
        let d = load(&format!(
            "github:\n  repos:\n    github/hello-world:\n      environments:\n        staging: {{ reviewers: {reviewers} }}\n"
        ));
        let address = Address::GithubEnvironment {
            repo: "github/hello-world".into(),
            env: "staging".into(),
        };
        let expected = lower(&d);
        let change = diff_one(&address, &expected[&address], Some(&live)).unwrap();
        assert!(change.is_none(), "{reviewers}: false drift {change:?}");
    }
    // A reviewer that is not there is exactly that change.
    let d = load(
        "github:\n  repos:\n    github/hello-world:\n      environments:\n        staging: { reviewers: [{ type: User, login: octocat }] }\n",
    );
    let address = Address::GithubEnvironment {
        repo: "github/hello-world".into(),
        env: "staging".into(),
    };
    let change = diff_one(&address, &lower(&d)[&address], Some(&live))
        .unwrap()
        .expect("a Team reviewer too many");
    assert_eq!(change.action, ChangeKind::Update);
    assert_eq!(change.diff.len(), 1);
    assert_eq!(change.diff[0].path, "reviewers");
}

#[tokio::test]
async fn an_environment_named_with_a_slash_is_created_percent_encoded_and_converges() {
    // PyGithub's replay data: GitHub creates `test/env` from `PUT …/environments/test%2Fenv`.
    let sb = sandbox(
        "github:\n  users: [the-ceo]\n  teams: { ai-cherry: [infra] }\n  repos:\n    ai-cherry/app: { branches: [main] }\n",
    );
    let desired = load(
        "github:\n  repos:\n    ai-cherry/app:\n      environments:\n        test/env: { reviewers: [{ type: User, login: the-ceo }, { type: Team, login: infra }] }\n",
    );
    sb.clear_requests();
    let plan = plan_and_apply(&sb, &desired).await;
    assert_eq!(
        plan.changes
            .iter()
            .map(|c| (c.address.to_string(), c.action))
            .collect::<Vec<_>>(),
        [(
            "github.repo.ai-cherry/app.environment.test/env".to_string(),
            ChangeKind::Create
        )]
    );
    let paths: Vec<String> = sb
        .requests()
        .iter()
        .filter(|e| e.path.contains("/environments/"))
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    assert!(
        paths.contains(&"PUT /github/repos/ai-cherry/app/environments/test%2Fenv".to_string()),
        "{paths:?}"
    );
    // A User and a Team reviewer: GitHub's order and desired's differ, and that is no drift.
    assert_eq!(replan(&sb, &desired).await, []);
}

#[tokio::test]
async fn every_listing_follows_link_next_when_the_server_pages_by_three() {
    // As @octokit/fixtures' paginate-issues: the server pages by 3 whatever `per_page` asks.
    let issues: Vec<String> = (1..=8)
        .map(|i| format!("{{ title: Issue {i}, body: text }}"))
        .collect();
    let seed = format!(
        "github:\n  max_per_page: 3\n  repos:\n    acme/one:\n      branches: [main]\n      secrets: [A, B, C, D, E, F, G]\n      issues: [{}, {{ title: drift, body: \"<!-- sophia:drift -->\\nmarked\" }}]\n",
        issues.join(", ")
    );
    let sb = sandbox(&seed);
    let creds = creds(&sb);
    let http = fast_http();
    let api = Issues::new(&creds, http.clone()).unwrap();
    let repo: RepoRef = "acme/one".parse().unwrap();
    let open = api.open_issues(&repo).await.unwrap();
    assert_eq!(open.len(), 9, "every page was read");
    assert!(open.iter().any(|i| i.body.contains("sophia:drift")));
    let listing = sb
        .requests()
        .iter()
        .filter(|e| e.path == "/github/repos/acme/one/issues")
        .count();
    assert_eq!(listing, 3, "three pages of three");

    // The secrets listing too: the 7th secret is on the third page.
    let gh = github(&creds, &http);
    let addresses = vec![Address::GithubSecret {
        repo: "acme/one".into(),
        name: "G".into(),
    }];
    let live = gh.refresh(&addresses).await.unwrap();
    assert_eq!(live.len(), 1, "the secret on the last page is found");
}

/// `GET /rate_limit` (free): the requests the sandbox has counted against the token.
async fn rate_used(sb: &SandboxHandle) -> u64 {
    let token = sb
        .env()
        .into_iter()
        .find(|(k, _)| k == "GITHUB_TOKEN")
        .map(|(_, v)| v)
        .unwrap();
    let v: Value = reqwest::Client::new()
        .get(format!("{}/github/rate_limit", sb.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["rate"]["used"].as_u64().unwrap()
}

#[tokio::test]
async fn a_second_refresh_of_200_repositories_is_answered_by_304s_that_cost_nothing() {
    let repos: Vec<String> = (0..200).map(|i| format!("acme/r{i}")).collect();
    let seed = format!(
        "github:\n  repos:\n{}",
        repos
            .iter()
            .map(|r| format!(
                "    {r}: {{ branches: [main], secrets: [A], environments: {{ production: {{ reviewers: [] }} }} }}\n"
            ))
            .collect::<String>()
    );
    let desired = load(&format!(
        "github:\n  repos:\n{}",
        repos
            .iter()
            .map(|r| format!(
                "    {r}:\n      actions_secrets: [A]\n      environments: {{ production: {{ reviewers: [] }} }}\n"
            ))
            .collect::<String>()
    ));
    let sb = sandbox(&seed);
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join(".infra")).unwrap();
    let creds = creds(&sb);

    let before = rate_used(&sb).await;
    let (first, unread) = sophia::ops::refresh::read_live(root.path(), &desired, &creds)
        .await
        .unwrap();
    assert!(unread.is_empty(), "{unread:?}");
    let first_cost = rate_used(&sb).await - before;
    assert!(first_cost >= 400, "two reads per repository: {first_cost}");
    assert!(root.path().join(".infra/cache/http-etags.json").is_file());

    sb.clear_requests();
    let before = rate_used(&sb).await;
    let (second, _) = sophia::ops::refresh::read_live(root.path(), &desired, &creds)
        .await
        .unwrap();
    let second_cost = rate_used(&sb).await - before;
    assert_eq!(
        first.resources, second.resources,
        "the cached bodies read the same"
    );
    let log = sb.requests();
    let gets: Vec<_> = log
        .iter()
        .filter(|e| e.method == "GET" && e.path != "/github/rate_limit")
        .collect();
    let not_modified = gets.iter().filter(|e| e.status == Some(304)).count();
    assert!(
        not_modified * 10 >= gets.len() * 9,
        "{not_modified} of {} answered 304",
        gets.len()
    );
    assert!(
        second_cost * 10 <= first_cost,
        "second refresh cost {second_cost}, the first {first_cost}"
    );
}

#[tokio::test]
async fn an_apply_of_300_secrets_is_paced_within_the_secondary_limits_the_sandbox_enforces() {
    // GitHub's 80 a minute and 500 an hour, scaled down so that the test reaches both windows
    // in seconds. The client paces a little under the sandbox's limits: at this scale a
    // request delayed 50 ms on a busy machine would outgrow the 5 % margin the pacer keeps
    // (3 s on GitHub's minute).
    let limits = vec![
        (60, std::time::Duration::from_secs(1)),
        (150, std::time::Duration::from_secs(3)),
    ];
    let sb = Sandbox::start(SandboxConfig {
        seed: Seed::parse("github:\n  repos:\n    acme/one: { branches: [main] }\n").unwrap(),
        github_write_limits: limits,
        ..SandboxConfig::default()
    })
    .unwrap();
    let names: Vec<String> = (0..300).map(|i| format!("S_{i:03}")).collect();
    let desired = load(&format!(
        "github:\n  repos:\n    acme/one:\n      actions_secrets: [{}]\n",
        names.join(", ")
    ));
    let mut pairs = sb.env();
    pairs.push(("SOPHIA_GITHUB_WRITE_LIMITS".into(), "50/1,130/3".into()));
    let creds = Credentials::from_pairs(pairs);
    let http = fast_http();
    let plan = plan_of(&desired, &refresh(&desired, &creds, &http).await);
    assert_eq!(plan.actions.len(), 300);
    let values: BTreeMap<String, String> = names
        .iter()
        .map(|n| (n.clone(), format!("value-of-{n}")))
        .collect();
    let gh = github(&creds, &http);
    let outcomes =
        futures::future::join_all(plan.actions.iter().map(|a| gh.execute(a, &values))).await;
    assert!(outcomes.iter().all(|o| o.is_success()));
    let log = sb.requests();
    let puts = log.iter().filter(|e| e.method == "PUT").count();
    assert_eq!(puts, 300);
    assert!(
        log.iter().all(|e| e.status != Some(403)),
        "no secondary-limit answer"
    );

    // Without pacing, the sandbox refuses as GitHub does: 403 with `retry-after`.
    let token = sb
        .env()
        .into_iter()
        .find(|(k, _)| k == "GITHUB_TOKEN")
        .unwrap()
        .1;
    let client = reqwest::Client::new();
    let mut refused = None;
    for i in 0..200 {
        let resp = client
            .patch(format!("{}/github/repos/acme/one", sb.url()))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "description": format!("burst {i}") }))
            .send()
            .await
            .unwrap();
        if resp.status() == 403 {
            refused = Some(resp);
            break;
        }
    }
    let refused = refused.expect("a burst of writes meets the secondary limit");
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("secondary rate limit")
    );
}
