//! Issue 14's unmanaged report for every GitHub kind, end to end against the sandbox: the
//! Actions variables, direct collaborators and teams of a managed repository and the
//! rulesets of a managed organization, made by hand on GitHub, are listed by `plan` (text,
//! markdown, the plan file) and `drift` (the proof) with their import command, hidden by
//! `.infra/ignore`, adopted by `sophia import`; and the inventory's listings are
//! conditional reads (a second plan's are answered 304 Not Modified).

use serde_json::{Value, json};
use sophia::core::plan::Plan;

use crate::apply::Rig;

/// A managed repository (one variable desired) and a managed organization (nothing desired
/// yet: its rulesets are in scope all the same).
const MANAGED: &str = r#"
providers: { github: active }
github:
  orgs:
    acme: {}
  repos:
    acme/infra:
      actions_variables: { REGION: ord }
"#;

const R: &str = "github.repo.acme/infra";

/// A request straight to the sandbox, as someone changing GitHub by hand.
pub(crate) fn by_hand(
    sandbox: &sophia::sandbox::SandboxHandle,
    method: reqwest::Method,
    path: &str,
    body: Value,
) {
    let url = format!("{}/github{path}", sandbox.url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .request(method, url)
            .bearer_auth("hand-token")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
    });
}

/// The desired variable, and one of each unmanaged kind, made by hand.
fn strays(rig: &Rig) {
    use reqwest::Method;
    let by_hand = |method, path: &str, body| by_hand(&rig.sandbox, method, path, body);
    let vars = "/repos/acme/infra/actions/variables";
    by_hand(
        Method::POST,
        vars,
        json!({"name": "REGION", "value": "ord"}),
    );
    by_hand(
        Method::POST,
        vars,
        json!({"name": "STRAY_VAR", "value": "blue"}),
    );
    by_hand(
        Method::PUT,
        "/repos/acme/infra/collaborators/dev-1",
        json!({"permission": "triage"}),
    );
    by_hand(
        Method::PUT,
        "/orgs/acme/teams/platform/repos/acme/infra",
        json!({"permission": "maintain"}),
    );
    by_hand(
        Method::POST,
        "/orgs/acme/rulesets",
        json!({
            "name": "stray-rules",
            "target": "branch",
            "enforcement": "evaluate",
            "conditions": {
                "ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []},
                "repository_name": {"include": ["~ALL"], "exclude": []}
            },
            "rules": [{"type": "deletion"}]
        }),
    );
}

fn plan_file(rig: &Rig) -> Plan {
    serde_json::from_str(&std::fs::read_to_string(rig.repo.root().join("plan.json")).unwrap())
        .unwrap()
}

fn unmanaged(rig: &Rig) -> Vec<String> {
    plan_file(rig)
        .unmanaged
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn variables_collaborators_teams_and_org_rulesets_made_by_hand_are_listed_with_their_import() {
    let rig = Rig::new();
    rig.repo.file("desired/main.yaml", MANAGED);
    strays(&rig);

    let out = rig.plan(&["--detailed-exitcode"]);
    let want = [
        "github.org.acme.ruleset.stray-rules".to_string(),
        format!("{R}.collaborator.dev-1"),
        format!("{R}.team.platform"),
        format!("{R}.variable.STRAY_VAR"),
    ];
    assert_eq!(unmanaged(&rig), want);
    let shown = format!("{}{}", out.stdout, out.stderr);
    for a in &want {
        assert!(
            shown.contains(&format!("sophia import {a}")),
            "{a}: {shown}"
        );
    }
    assert!(shown.contains("4 unmanaged resource(s)."), "{shown}");
    assert!(
        !shown.contains(&format!("{R}.variable.REGION")),
        "desired is not unmanaged: {shown}"
    );
    assert!(plan_file(&rig).changes.is_empty(), "nothing to change");
    let md = rig.run(&["show", "plan.json", "--format", "markdown"]);
    assert!(
        md.stdout
            .contains("<details><summary><b>unmanaged</b>: 4</summary>"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout.contains(&format!(
            "- `{R}.team.platform` — `sophia import {R}.team.platform`"
        )),
        "{}",
        md.stdout
    );

    // Drift: listed in the proof with the import command, and not drift (exit 0).
    let out = rig.run(&["drift"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let drift = rig
        .repo
        .files()
        .into_iter()
        .find(|p| p.starts_with("proofs/drift"))
        .expect("a drift proof");
    let text = std::fs::read_to_string(rig.repo.root().join(drift)).unwrap();
    for a in &want {
        assert!(
            text.contains(&format!("\"import\": \"sophia import {a}\"")),
            "{a}: {text}"
        );
    }

    // `.infra/ignore` hides what it matches.
    rig.repo.file(
        ".infra/ignore",
        "github.repo.acme/infra.team.*\ngithub.org.acme.ruleset.*\n",
    );
    rig.plan(&[]);
    assert_eq!(
        unmanaged(&rig),
        [
            format!("{R}.collaborator.dev-1"),
            format!("{R}.variable.STRAY_VAR")
        ]
    );
}

#[test]
fn a_second_plan_reads_the_inventory_listings_as_304s() {
    let rig = Rig::new();
    rig.repo.file("desired/main.yaml", MANAGED);
    strays(&rig);
    rig.plan(&[]);
    rig.sandbox.clear_requests();
    rig.plan(&[]);
    assert_eq!(unmanaged(&rig).len(), 4, "the answers come from the cache");
    let listings = [
        "/github/repos/acme/infra/actions/variables",
        "/github/repos/acme/infra/actions/secrets",
        "/github/repos/acme/infra/collaborators",
        "/github/repos/acme/infra/teams",
        "/github/repos/acme/infra/environments",
        "/github/repos/acme/infra/rulesets",
        "/github/orgs/acme/rulesets",
    ];
    let requests = rig.sandbox.requests();
    for path in listings {
        let statuses: Vec<Option<u16>> = requests
            .iter()
            .filter(|r| r.method == "GET" && r.path == path)
            .map(|r| r.status)
            .collect();
        assert!(!statuses.is_empty(), "{path} was not read");
        assert!(
            statuses.iter().all(|s| *s == Some(304)),
            "{path}: {statuses:?}"
        );
    }
}

#[test]
fn import_adopts_one_unmanaged_resource_or_all_of_them_and_then_none_is_left() {
    let rig = Rig::new();
    rig.repo.file("desired/main.yaml", MANAGED);
    strays(&rig);

    // One address: that resource only, and no second `providers.github`.
    let out = rig.run(&["import", &format!("{R}.variable.STRAY_VAR")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("STRAY_VAR: blue"), "{}", out.stdout);
    assert!(!out.stdout.contains("providers"), "{}", out.stdout);
    assert!(!out.stdout.contains("REGION"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("imported 0 Fly app(s), 0 repositories and 1 GitHub resource(s)"),
        "{}",
        out.stderr
    );

    // The repository's settings, on their own.
    let out = rig.run(&["import", &format!("{R}.settings")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("default_branch: main"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("STRAY_VAR"), "{}", out.stdout);

    // `--provider github`: every unmanaged one, into a file desired/ loads beside the rest.
    let out = rig.run(&[
        "import",
        "--provider",
        "github",
        "--out",
        "desired/adopted.yaml",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let yaml = std::fs::read_to_string(rig.repo.root().join("desired/adopted.yaml")).unwrap();
    for want in [
        "STRAY_VAR: blue",
        "dev-1: triage",
        "platform: maintain",
        "stray-rules:",
        "enforcement: evaluate",
    ] {
        assert!(yaml.contains(want), "{want}: {yaml}");
    }
    let out = rig.run(&["plan", "--out", "plan.json", "--detailed-exitcode"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(unmanaged(&rig), Vec::<String>::new());
}
