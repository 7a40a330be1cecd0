//! Repository settings, topics, collaborators, teams, Actions variables and the gate
//! settings of an environment, against the sandbox: from nothing to converged with every
//! request body valid against GitHub's OpenAPI request schema, a change made directly on the
//! sandbox showing up as exactly that change, the gate check, and a bad permission refused at
//! its `file:line:column`.

use serde_json::{Value, json};
use sophia::core::desired::{self, Source};
use sophia::core::plan::ChangeKind;
use sophia::providers::Http;
use sophia::providers::http::Recorder;

use crate::github_gov::{creds, fast_http, github, load, plan_of, refresh, replan, sandbox};
use crate::providers::{template_matches, to_json_schema};
use crate::support::conformance_dir;

const SEED: &str = "github:\n  users: [the-ceo, dev-1]\n  teams: { ai-cherry: [platform] }\n  repos:\n    ai-cherry/app: { branches: [main, trunk] }\n";

const DESIRED: &str = r#"
github:
  repos:
    ai-cherry/app:
      settings: { delete_branch_on_merge: true, allow_squash_merge: true, allow_merge_commit: false, default_branch: trunk, visibility: private, description: The app }
      topics: [infra, sophia]
      collaborators: { the-ceo: admin, dev-1: push }
      teams: { platform: maintain }
      actions_variables: { REGION: ord, APP: sophia }
      environments:
        production:
          reviewers: [{ type: User, login: the-ceo }, { type: Team, login: platform }]
          prevent_self_review: true
          wait_timer: 5
          deployment_branch_policy: { protected_branches: true, custom_branch_policies: false }
"#;

async fn apply_all(
    sb: &sophia::sandbox::SandboxHandle,
    desired: &sophia::core::desired::Desired,
    http: &Http,
) -> Vec<(String, ChangeKind)> {
    let creds = creds(sb);
    let plan = plan_of(desired, &refresh(desired, &creds, http).await);
    let gh = github(&creds, http);
    let secrets = std::collections::BTreeMap::from([(
        "FLY_API_TOKEN".to_string(),
        "canary-env-secret".to_string(),
    )]);
    for action in &plan.actions {
        let outcome = gh.execute(action, &secrets).await;
        assert!(outcome.is_success(), "{}: {:?}", action.id, outcome.errors);
    }
    plan.changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect()
}

#[tokio::test]
async fn settings_access_variables_and_a_full_environment_converge_with_valid_bodies() {
    let sb = sandbox(SEED);
    let desired = load(DESIRED);
    let (http, recorder): (Http, Recorder) = fast_http().recording();
    let changes = apply_all(&sb, &desired, &http).await;
    let r = "github.repo.ai-cherry/app";
    assert_eq!(
        changes,
        [
            (format!("{r}.collaborator.dev-1"), ChangeKind::Create),
            (format!("{r}.collaborator.the-ceo"), ChangeKind::Create),
            (format!("{r}.environment.production"), ChangeKind::Create),
            (format!("{r}.settings"), ChangeKind::Update),
            (format!("{r}.team.platform"), ChangeKind::Create),
            (format!("{r}.variable.APP"), ChangeKind::Create),
            (format!("{r}.variable.REGION"), ChangeKind::Create),
        ]
    );
    assert_eq!(replan(&sb, &desired).await, []);

    let Some(dir) = conformance_dir() else { return };
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("github/openapi-subset.json")).unwrap(),
    )
    .unwrap();
    let mut validated = Vec::new();
    for req in recorder.requests() {
        let (Some(path), Some(body)) = (req.path.strip_prefix("/github"), &req.body) else {
            continue;
        };
        let method = req.method.to_lowercase();
        let (template, op) = spec["paths"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(t, item)| template_matches(t, path) && item.get(&method).is_some())
            .map(|(t, item)| (t.clone(), item[&method].clone()))
            .unwrap_or_else(|| panic!("{method} {path} is not in GitHub's description"));
        let mut schema = op["requestBody"]["content"]["application/json"]["schema"].clone();
        to_json_schema(&mut schema);
        let validator = jsonschema::draft7::new(&schema).unwrap();
        let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{method} {template}: {errors:?}\n{body}");
        validated.push(format!("{method} {template}"));
    }
    validated.sort();
    validated.dedup();
    assert_eq!(
        validated,
        [
            "patch /repos/{owner}/{repo}",
            "post /repos/{owner}/{repo}/actions/variables",
            "put /orgs/{org}/teams/{team_slug}/repos/{owner}/{repo}",
            "put /repos/{owner}/{repo}/collaborators/{username}",
            "put /repos/{owner}/{repo}/environments/{environment_name}",
            "put /repos/{owner}/{repo}/topics",
        ]
    );
}

/// A request straight to the sandbox, as someone changing GitHub by hand.
async fn by_hand(
    sb: &sophia::sandbox::SandboxHandle,
    method: reqwest::Method,
    path: &str,
    body: Value,
) {
    let resp = reqwest::Client::new()
        .request(method, format!("{}/github{path}", sb.url()))
        .bearer_auth("hand-token")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
}

#[tokio::test]
async fn each_change_made_on_github_shows_up_as_exactly_that_change() {
    let sb = sandbox(SEED);
    let desired = load(DESIRED);
    let http = fast_http();
    apply_all(&sb, &desired, &http).await;
    let r = "github.repo.ai-cherry/app";
    let cases: [(reqwest::Method, &str, Value, String, &str); 6] = [
        (
            reqwest::Method::PATCH,
            "/repos/ai-cherry/app",
            json!({"allow_merge_commit": true}),
            format!("{r}.settings"),
            "allow_merge_commit",
        ),
        (
            reqwest::Method::PUT,
            "/repos/ai-cherry/app/topics",
            json!({"names": ["infra"]}),
            format!("{r}.settings"),
            "topics",
        ),
        (
            reqwest::Method::PUT,
            "/repos/ai-cherry/app/collaborators/dev-1",
            json!({"permission": "pull"}),
            format!("{r}.collaborator.dev-1"),
            "permission",
        ),
        (
            reqwest::Method::PUT,
            "/orgs/ai-cherry/teams/platform/repos/ai-cherry/app",
            json!({"permission": "admin"}),
            format!("{r}.team.platform"),
            "permission",
        ),
        (
            reqwest::Method::PATCH,
            "/repos/ai-cherry/app/actions/variables/REGION",
            json!({"value": "ams"}),
            format!("{r}.variable.REGION"),
            "value",
        ),
        (
            reqwest::Method::PUT,
            "/repos/ai-cherry/app/environments/production",
            json!({"prevent_self_review": false}),
            format!("{r}.environment.production"),
            "prevent_self_review",
        ),
    ];
    for (method, path, body, address, attr) in cases {
        by_hand(&sb, method, path, body).await;
        let creds = creds(&sb);
        let plan = plan_of(&desired, &refresh(&desired, &creds, &http).await);
        let got: Vec<(String, Vec<String>)> = plan
            .changes
            .iter()
            .map(|c| {
                (
                    c.address.to_string(),
                    c.diff.iter().map(|d| d.path.clone()).collect(),
                )
            })
            .collect();
        assert_eq!(got, [(address.clone(), vec![attr.to_string()])], "{path}");
        apply_all(&sb, &desired, &http).await;
        assert_eq!(replan(&sb, &desired).await, [], "{path} put back");
    }
}

#[test]
fn the_gate_check_warns_about_an_apply_environment_without_reviewers_or_allowing_self_review() {
    use sophia::core::live::LiveSnapshot;
    use sophia::core::plan::apply_gate::warnings;
    let live = LiveSnapshot::new("t");
    let weak = load(
        "github:\n  repos:\n    ai-cherry/app:\n      environments: { production: { reviewers: [{ type: User, login: the-ceo }] } }\n",
    );
    let w = warnings(&sophia::core::lower::lower(&weak), &live, "production");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("allow self-review"), "{w:?}");
    let strong = load(DESIRED);
    assert_eq!(
        warnings(&sophia::core::lower::lower(&strong), &live, "production"),
        Vec::<String>::new()
    );
}

#[test]
fn a_permission_owner_is_refused_at_its_file_line_and_column() {
    let errors: Vec<String> = desired::load(&[Source {
        path: "desired/gh.yaml".into(),
        text: "github:\n  repos:\n    o/r:\n      collaborators:\n        the-ceo: owner\n".into(),
    }])
    .unwrap_err()
    .0
    .iter()
    .map(|e| e.to_string())
    .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("desired/gh.yaml:5:") && errors[0].contains("owner"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn environment_branch_policies_and_variables_converge_and_drift_shows() {
    let sb = sandbox(SEED);
    let desired = load(
        r#"
github:
  repos:
    ai-cherry/app:
      environments:
        production:
          reviewers: [{ type: User, login: the-ceo }]
          prevent_self_review: true
          deployment_branch_policy: { protected_branches: false, custom_branch_policies: true }
          branch_policies: [main, "release/*"]
          variables: { APP: sophia, REGION: ord }
          secrets: [FLY_API_TOKEN]
"#,
    );
    let (http, recorder): (Http, Recorder) = fast_http().recording();
    apply_all(&sb, &desired, &http).await;
    assert_eq!(replan(&sb, &desired).await, []);
    let sent: Vec<String> = recorder
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let env = "/github/repos/ai-cherry/app/environments/production";
    for expected in [
        format!("PUT {env}"),
        format!("POST {env}/deployment-branch-policies"),
        format!("POST {env}/variables"),
        format!("PUT {env}/secrets/FLY_API_TOKEN"),
    ] {
        assert!(sent.contains(&expected), "{expected}: {sent:?}");
    }

    // By hand: a variable changed and a policy added show up as exactly those attributes.
    by_hand(
        &sb,
        reqwest::Method::PATCH,
        "/repos/ai-cherry/app/environments/production/variables/APP",
        json!({"value": "other"}),
    )
    .await;
    by_hand(
        &sb,
        reqwest::Method::POST,
        "/repos/ai-cherry/app/environments/production/deployment-branch-policies",
        json!({"name": "dev"}),
    )
    .await;
    let creds = creds(&sb);
    let plan = plan_of(&desired, &refresh(&desired, &creds, &http).await);
    let paths: Vec<String> = plan.changes[0]
        .diff
        .iter()
        .map(|d| d.path.clone())
        .collect();
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(paths, ["branch_policies", "variables.APP"]);
    apply_all(&sb, &desired, &http).await;
    assert_eq!(replan(&sb, &desired).await, []);
}
