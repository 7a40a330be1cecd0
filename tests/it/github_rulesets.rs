//! Rulesets, organization and repository, against the sandbox: from nothing to converged with
//! every request body valid against GitHub's OpenAPI request schema; GitHub's own examples
//! showing no false drift; a change made directly on the sandbox showing up as exactly that
//! change, `bypass_actors` marked security-relevant; a read-only token making the field
//! unknown; `op github rules`; and bad input located at `file:line:column`.

use serde_json::{Value, json};
use sophia::core::address::Address;
use sophia::core::desired::{self, Source};
use sophia::core::github_ruleset::{self, UNKNOWN};
use sophia::core::plan::{ActionKind, ChangeKind};
use sophia::core::render;
use sophia::providers::http::Recorder;
use sophia::providers::{Credentials, Http};

use crate::github_gov::{
    creds, example, fast_http, github, load, plan_and_apply, plan_of, refresh, replan, sandbox,
};
use crate::providers::{template_matches, to_json_schema};
use crate::support::conformance_dir;

const SEED: &str = "github:\n  repos:\n    ai-cherry/app: { branches: [main, dev] }\n";

/// GitHub's POST example (`super cool ruleset`) as the repository's, and an organization
/// ruleset protecting every default branch.
const DESIRED: &str = r#"
github:
  orgs:
    ai-cherry:
      rulesets:
        protect-main:
          target: branch
          enforcement: active
          conditions:
            ref_name: { include: ["~DEFAULT_BRANCH"], exclude: [] }
            repository_name: { include: ["~ALL"], exclude: [] }
          rules:
            - { type: pull_request, parameters: { required_approving_review_count: 1, dismiss_stale_reviews_on_push: true, require_code_owner_review: false, require_last_push_approval: true, required_review_thread_resolution: false } }
            - { type: deletion }
            - { type: non_fast_forward }
          bypass_actors: [{ actor_id: 1, actor_type: OrganizationAdmin, bypass_mode: always }]
  repos:
    ai-cherry/app:
      rulesets:
        super cool ruleset:
          target: branch
          enforcement: active
          bypass_actors: [{ actor_id: 234, actor_type: Team, bypass_mode: always }]
          conditions: { ref_name: { include: [refs/heads/main, refs/heads/master], exclude: ["refs/heads/dev*"] } }
          rules: [{ type: commit_author_email_pattern, parameters: { operator: contains, pattern: github } }]
"#;

fn openapi() -> Option<Value> {
    let dir = conformance_dir()?;
    Some(
        serde_json::from_str(
            &std::fs::read_to_string(dir.join("github/openapi-subset.json")).unwrap(),
        )
        .unwrap(),
    )
}

fn changes_of(plan: &sophia::core::plan::Plan) -> Vec<(String, ChangeKind)> {
    plan.changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect()
}

#[tokio::test]
async fn rulesets_from_nothing_are_created_with_valid_bodies_and_converge() {
    let Some(spec) = openapi() else { return };
    let sb = sandbox(SEED);
    let desired = load(DESIRED);
    let (http, recorder): (Http, Recorder) = fast_http().recording();
    let creds = creds(&sb);
    let live = refresh(&desired, &creds, &http).await;
    let plan = plan_of(&desired, &live);
    assert_eq!(
        changes_of(&plan),
        [
            (
                "github.org.ai-cherry.ruleset.protect-main".to_string(),
                ChangeKind::Create
            ),
            (
                "github.repo.ai-cherry/app.ruleset.super cool ruleset".to_string(),
                ChangeKind::Create
            ),
        ]
    );
    let gh = github(&creds, &http);
    let secrets = std::collections::BTreeMap::<String, String>::new();
    for action in &plan.actions {
        assert_eq!(action.kind, ActionKind::GithubRulesetPut);
        let outcome = gh.execute(action, &secrets).await;
        assert!(outcome.is_success(), "{}: {:?}", action.id, outcome.errors);
    }
    assert_eq!(replan(&sb, &desired).await, []);

    // Every body sent validates against GitHub's request schema.
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
        assert!(errors.is_empty(), "{method} {template}: {errors:?}");
        validated.push(format!("{method} {template}"));
    }
    validated.sort();
    assert_eq!(
        validated,
        [
            "post /orgs/{org}/rulesets",
            "post /repos/{owner}/{repo}/rulesets"
        ]
    );
}

#[test]
fn githubs_own_ruleset_examples_show_no_false_drift() {
    let Some(spec) = openapi() else { return };
    let desired = load(DESIRED);
    let expected = sophia::core::lower::lower(&desired);
    let address = Address::GithubRepoRuleset {
        repo: "ai-cherry/app".into(),
        name: "super cool ruleset".into(),
    };
    for path in [
        "/repos/{owner}/{repo}/rulesets/{ruleset_id}",
        "/orgs/{org}/rulesets/{ruleset_id}",
    ] {
        let answer = example(&spec, path, "get");
        let live = github_ruleset::normalize(&answer);
        let change =
            sophia::core::diff::diff_one(&address, &expected[&address], Some(&live)).unwrap();
        assert!(change.is_none(), "{path}: false drift {change:?}");
    }
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

async fn ruleset_id(sb: &sophia::sandbox::SandboxHandle, list: &str, name: &str) -> u64 {
    let items: Value = reqwest::Client::new()
        .get(format!("{}/github{list}", sb.url()))
        .bearer_auth("hand-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .and_then(|r| r["id"].as_u64())
        .unwrap()
}

#[tokio::test]
async fn a_change_made_on_github_shows_up_as_exactly_that_change_and_bypass_is_security_relevant() {
    let sb = sandbox(SEED);
    let desired = load(DESIRED);
    plan_and_apply(&sb, &desired).await;

    let org_id = ruleset_id(&sb, "/orgs/ai-cherry/rulesets", "protect-main").await;
    by_hand(
        &sb,
        reqwest::Method::PUT,
        &format!("/orgs/ai-cherry/rulesets/{org_id}"),
        json!({"enforcement": "disabled"}),
    )
    .await;
    let repo_id = ruleset_id(
        &sb,
        "/repos/ai-cherry/app/rulesets?includes_parents=false",
        "super cool ruleset",
    )
    .await;
    by_hand(
        &sb,
        reqwest::Method::PUT,
        &format!("/repos/ai-cherry/app/rulesets/{repo_id}"),
        json!({"bypass_actors": [{"actor_id": 234, "actor_type": "Team", "bypass_mode": "always"}, {"actor_id": 99, "actor_type": "User", "bypass_mode": "always"}]}),
    )
    .await;

    let creds = creds(&sb);
    let http = fast_http();
    let plan = plan_of(&desired, &refresh(&desired, &creds, &http).await);
    let diffs: Vec<(String, Vec<String>)> = plan
        .changes
        .iter()
        .map(|c| {
            (
                c.address.to_string(),
                c.diff.iter().map(|d| d.path.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(
        diffs,
        [
            (
                "github.org.ai-cherry.ruleset.protect-main".to_string(),
                vec!["enforcement".to_string()]
            ),
            (
                "github.repo.ai-cherry/app.ruleset.super cool ruleset".to_string(),
                vec!["bypass_actors".to_string()]
            ),
        ]
    );
    // Security-relevant in the text, the markdown and the plan file (json).
    let text = render::text::render(&plan, false);
    assert!(
        text.contains("# security-relevant: changes who may bypass this ruleset (bypass_actors)"),
        "{text}"
    );
    let md = render::markdown::render(&plan, "plan.json");
    assert!(
        md.contains("**security-relevant: changes who may bypass this ruleset (bypass_actors)**"),
        "{md}"
    );
    let json = render::json::render(&plan);
    let file: Value = serde_json::from_str(&json).unwrap();
    let relevant: Vec<&Value> = file["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["params"].get("security_relevant").is_some())
        .collect();
    assert_eq!(relevant.len(), 1);
    assert_eq!(
        relevant[0]["params"]["security_relevant"],
        json!(["bypass_actors"])
    );
    assert!(!text.contains("protect-main (bypass_actors)"));

    // Applying puts both back.
    plan_and_apply(&sb, &desired).await;
    assert_eq!(replan(&sb, &desired).await, []);

    // Removed from desired: `null` deletes.
    let gone = load(
        "github:\n  repos:\n    ai-cherry/app:\n      rulesets: { super cool ruleset: null }\n",
    );
    let plan = plan_and_apply(&sb, &gone).await;
    assert_eq!(plan.actions.len(), 1);
    assert_eq!(plan.actions[0].kind, ActionKind::GithubRulesetDelete);
    assert_eq!(replan(&sb, &gone).await, []);
}

#[tokio::test]
async fn a_read_only_token_cannot_see_bypass_actors_and_the_plan_says_unknown() {
    let sb = sandbox(SEED);
    let desired = load(DESIRED);
    plan_and_apply(&sb, &desired).await;
    let mut pairs = sb.env();
    for (k, v) in pairs.iter_mut() {
        if k == "GITHUB_TOKEN" {
            *v = format!("ro-{v}");
        }
    }
    let ro = Credentials::from_pairs(pairs);
    let http = fast_http();
    let plan = plan_of(&desired, &refresh(&desired, &ro, &http).await);
    assert_eq!(plan.changes.len(), 2, "both rulesets manage bypass_actors");
    for c in &plan.changes {
        assert_eq!(c.action, ChangeKind::Update);
        assert_eq!(c.diff.len(), 1, "{:?}", c.diff);
        assert_eq!(c.diff[0].path, "bypass_actors");
        assert_eq!(c.diff[0].before, json!(UNKNOWN));
    }
    let text = render::text::render(&plan, false);
    assert!(
        text.contains("unknown: the read credential cannot see this field"),
        "{text}"
    );
    // Not managing bypass_actors: nothing unknown to report, no drift.
    let unmanaged = load(
        "github:\n  repos:\n    ai-cherry/app:\n      rulesets:\n        super cool ruleset: { enforcement: active, conditions: { ref_name: { include: [refs/heads/main, refs/heads/master] } }, rules: [{ type: commit_author_email_pattern, parameters: { operator: contains, pattern: github } }] }\n",
    );
    assert_eq!(
        plan_of(&unmanaged, &refresh(&unmanaged, &ro, &http).await).changes,
        []
    );
}

#[tokio::test]
async fn op_github_rules_lists_the_rules_of_a_branch_with_their_ruleset() {
    let sb = sandbox(SEED);
    plan_and_apply(&sb, &load(DESIRED)).await;
    let gh = github(&creds(&sb), &fast_http());
    let out = gh
        .op("rules", &json!({"repo": "ai-cherry/app", "branch": "main"}))
        .await;
    assert_eq!(
        out.status,
        sophia::core::envelope::Status::Success,
        "{:?}",
        out.errors
    );
    let rules = out.results[0]["rules"].as_array().unwrap().clone();
    let mut seen: Vec<(String, String)> = rules
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap().to_string(),
                r["ruleset_source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "commit_author_email_pattern".to_string(),
                "ai-cherry/app".to_string()
            ),
            ("deletion".to_string(), "ai-cherry".to_string()),
            ("non_fast_forward".to_string(), "ai-cherry".to_string()),
            ("pull_request".to_string(), "ai-cherry".to_string()),
        ]
    );
    // `dev` is excluded from the repository ruleset and is not the default branch.
    let out = gh
        .op("rules", &json!({"repo": "ai-cherry/app", "branch": "dev"}))
        .await;
    assert_eq!(out.results[0]["rules"], json!([]));
}

#[test]
fn bad_rulesets_are_refused_at_their_file_line_and_column() {
    let errors = |yaml: &str| -> Vec<String> {
        desired::load(&[Source {
            path: "desired/gh.yaml".into(),
            text: yaml.into(),
        }])
        .unwrap_err()
        .0
        .iter()
        .map(|e| format!("{e}"))
        .collect()
    };
    let unknown_rule = errors(
        "github:\n  repos:\n    o/r:\n      rulesets:\n        main:\n          enforcement: active\n          rules: [{ type: no_force_push }]\n",
    );
    assert_eq!(unknown_rule.len(), 1, "{unknown_rule:?}");
    assert!(
        unknown_rule[0].starts_with("desired/gh.yaml:7:")
            && unknown_rule[0].contains("no_force_push"),
        "{unknown_rule:?}"
    );
    let no_enforcement = errors(
        "github:\n  orgs:\n    acme:\n      rulesets:\n        main:\n          target: branch\n",
    );
    assert_eq!(no_enforcement.len(), 1, "{no_enforcement:?}");
    assert!(
        no_enforcement[0].starts_with("desired/gh.yaml:")
            && no_enforcement[0].contains("enforcement"),
        "{no_enforcement:?}"
    );
    let e = &no_enforcement[0];
    let line: usize = e.split(':').nth(1).unwrap().parse().unwrap();
    assert!(line >= 5, "{e}");
}
