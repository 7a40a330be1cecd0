//! Issue 14: `protect: true` on every kind of resource, end to end against the in-process
//! sandbox — recorded in the managed set by an apply, holding once the resource is gone
//! from desired/ (the plan fails naming the address, no plan file, nothing called), retired
//! in two reviewed changes; and a bad `protect` value located at its `file:line:column`.

use sophia::core::plan::Plan;

use crate::apply::Rig;

const PROTECTED: &str = r#"
providers: { fly: active, github: active }
fly:
  org: pay-ready
  apps:
    keep:
      image: "registry.fly.io/keep:1"
      regions: [ord]
      count: 1
      secrets: [ONE_SECRET, { name: KEPT_SECRET, protect: true }]
github:
  orgs:
    acme:
      rulesets: { org-main: { enforcement: active, protect: true } }
  repos:
    acme/infra:
      actions_secrets: [{ name: ONE_SECRET, protect: true }]
      actions_variables: { REGION: { value: ord, protect: true } }
      collaborators: { the-ceo: { permission: admin, protect: true } }
      teams: { platform: { permission: maintain, protect: true } }
      rulesets: { tags: { target: tag, enforcement: active, protect: true } }
      environments:
        staging:
          reviewers: []
          secrets: [{ name: ONE_SECRET, protect: true }]
          variables: { APP: { value: sophia, protect: true } }
"#;

/// A rig whose world has the collaborator and the team `PROTECTED` grants, and the value
/// of the second Fly secret.
fn rig() -> Rig {
    let mut rig = Rig::new();
    rig.env
        .push(("KEPT_SECRET".into(), "kept-secret-value".into()));
    rig.sandbox.with_world(|w| {
        w.github_user_id("the-ceo");
        w.github_team_id("acme", "platform");
    });
    rig
}

fn plan_file(rig: &Rig) -> Plan {
    serde_json::from_str(&std::fs::read_to_string(rig.repo.root().join("plan.json")).unwrap())
        .unwrap()
}

fn apply(rig: &Rig) {
    rig.sign_as("ceo", "plan.json.sig");
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "apply failed:\n{}", out.stderr);
}

/// `desired` must fail to plan, naming `says`, with nothing written and nothing called.
fn refused(rig: &Rig, desired: &str, says: &str) {
    rig.repo.file("desired/main.yaml", desired);
    let _ = std::fs::remove_file(rig.repo.root().join("plan.json"));
    rig.sandbox.clear_requests();
    let out = rig.run(&["plan", "--out", "plan.json"]);
    assert_eq!(out.code, 1, "{says}: {}", out.stdout);
    assert!(out.stderr.contains(says), "{says}:\n{}", out.stderr);
    assert!(
        out.stderr.contains("set `protect: false`"),
        "{}",
        out.stderr
    );
    assert!(!rig.repo.root().join("plan.json").exists(), "{says}");
    assert!(
        rig.mutating_requests().is_empty(),
        "{says}: {:?}",
        rig.mutating_requests()
    );
}

/// `text` without the line holding `needle` (and the lines indented under it).
fn without(text: &str, needle: &str) -> String {
    let mut out = Vec::new();
    let mut skip: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(i) = skip {
            if indent > i {
                continue;
            }
            skip = None;
        }
        if line.contains(needle) {
            skip = Some(indent);
            continue;
        }
        out.push(line);
    }
    out.join("\n") + "\n"
}

#[test]
fn every_kind_stays_protected_once_gone_from_desired_and_nothing_is_called() {
    let rig = rig();
    rig.repo.file("desired/main.yaml", PROTECTED);
    rig.plan(&[]);
    let plan = plan_file(&rig);
    let flagged: Vec<String> = plan
        .protect
        .iter()
        .filter(|(_, p)| **p)
        .map(|(a, _)| a.to_string())
        .collect();
    assert_eq!(
        flagged,
        [
            "github.repo.acme/infra.secret.ONE_SECRET",
            "github.repo.acme/infra.ruleset.tags",
            "github.org.acme.ruleset.org-main",
            "github.repo.acme/infra.collaborator.the-ceo",
            "github.repo.acme/infra.team.platform",
            "github.repo.acme/infra.variable.REGION",
        ]
    );
    let names: Vec<String> = plan
        .protect_names
        .iter()
        .flat_map(|(a, n)| {
            n.iter()
                .filter(|(_, p)| **p)
                .map(move |(n, _)| format!("{a} {n}"))
        })
        .collect();
    assert_eq!(
        names,
        [
            "fly.app.keep.secrets secret.KEPT_SECRET",
            "github.repo.acme/infra.environment.staging secret.ONE_SECRET",
            "github.repo.acme/infra.environment.staging variable.APP",
        ]
    );
    apply(&rig);
    let again = rig.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "protection not recorded:\n{}", again.stdout);

    // Each resource gone from desired/ (its `protect` with it): the plan that would delete it
    // fails, naming it.
    for (gone, says) in [
        (
            "secrets: [ONE",
            "`fly.app.keep.secrets` (unsets protected `secret.KEPT_SECRET`)",
        ),
        ("orgs:", "`github.org.acme.ruleset.org-main` (delete)"),
        (
            "rulesets: { tags",
            "`github.repo.acme/infra.ruleset.tags` (delete)",
        ),
        (
            "actions_secrets:",
            "`github.repo.acme/infra.secret.ONE_SECRET` (delete)",
        ),
        (
            "actions_variables:",
            "`github.repo.acme/infra.variable.REGION` (delete)",
        ),
        (
            "collaborators:",
            "`github.repo.acme/infra.collaborator.the-ceo` (delete)",
        ),
        ("teams:", "`github.repo.acme/infra.team.platform` (delete)"),
        (
            "environments:",
            "`github.repo.acme/infra.environment.staging` (delete, which holds protected \
             `secret.ONE_SECRET`, `variable.APP`)",
        ),
    ] {
        refused(&rig, &without(PROTECTED, gone), says);
    }

    // A protected name retires in two reviewed changes: listed without `protect`, applied;
    // then the list may go.
    let plain = PROTECTED.replace("{ name: KEPT_SECRET, protect: true }", "KEPT_SECRET");
    rig.repo.file("desired/main.yaml", &plain);
    let unprotect = rig.run(&["plan", "--out", "plan.json", "--detailed-exitcode"]);
    assert_eq!(unprotect.code, 2, "{}", unprotect.stderr);
    assert!(
        unprotect
            .stdout
            .contains("`fly.app.keep.secrets` `secret.KEPT_SECRET`: unprotected"),
        "{}",
        unprotect.stdout
    );
    apply(&rig);
    rig.repo
        .file("desired/main.yaml", &without(&plain, "secrets: [ONE"));
    rig.plan(&[]);
    assert!(
        plan_file(&rig)
            .actions
            .iter()
            .any(|a| a.id.0 == "fly.secrets.unset:fly.app.keep.secrets"),
        "{:?}",
        plan_file(&rig).actions
    );
}

const SCOPES: &str = r#"
providers: { github: active }
github:
  orgs:
    acme: { protect: true, rulesets: { org-main: { enforcement: active } } }
  repos:
    acme/infra:
      protect: true
      actions_secrets: [ONE_SECRET]
      actions_variables: { REGION: ord }
"#;

#[test]
fn a_protected_repository_and_organization_cover_everything_under_them() {
    let rig = rig();
    rig.repo.file("desired/main.yaml", SCOPES);
    rig.plan(&[]);
    apply(&rig);
    let only_a_branch = "providers: { github: active }\ngithub:\n  repos:\n    acme/infra:\n      branches:\n        main: {}\n";
    refused(
        &rig,
        only_a_branch,
        "the plan would delete protected resources: `github.org.acme.ruleset.org-main` \
         (delete), `github.repo.acme/infra.secret.ONE_SECRET` (delete), \
         `github.repo.acme/infra.variable.REGION` (delete)",
    );
}

#[test]
fn a_bad_protect_anywhere_names_file_line_and_column_and_writes_nothing() {
    let rig = Rig::new();
    for desired in [
        "github:\n  repos:\n    o/r:\n      protect: yes-please\n",
        "github:\n  orgs:\n    acme:\n      protect: yes-please\n",
        "github:\n  orgs:\n    acme:\n      rulesets:\n        r: { enforcement: active, protect: yes-please }\n",
        "github:\n  repos:\n    o/r:\n      rulesets:\n        r:\n          enforcement: active\n          protect: yes-please\n",
        "github:\n  repos:\n    o/r:\n      actions_secrets: [A, { name: B, protect: yes-please }]\n",
        "github:\n  repos:\n    o/r:\n      actions_variables:\n        A: { value: a, protect: yes-please }\n",
        "github:\n  repos:\n    o/r:\n      collaborators:\n        ceo: { permission: admin, protect: yes-please }\n",
        "github:\n  repos:\n    o/r:\n      teams:\n        ops:\n          permission: admin\n          protect: yes-please\n",
        "github:\n  repos:\n    o/r:\n      environments:\n        e:\n          secrets: [{ name: S, protect: yes-please }]\n",
        "github:\n  repos:\n    o/r:\n      environments:\n        e:\n          variables: { V: { value: v, protect: yes-please } }\n",
        "fly:\n  org: o\n  apps:\n    a:\n      secrets:\n        - name: S\n          protect: yes-please\n",
        "qdrant:\n  collections:\n    c: { size: 3, distance: Cosine, protect: yes-please }\n",
    ] {
        let (line, column) = desired
            .lines()
            .enumerate()
            .find_map(|(i, l)| l.find("yes-please").map(|c| (i + 1, c + 1)))
            .unwrap();
        rig.repo.file("desired/main.yaml", desired);
        let out = rig.run(&["plan", "--out", "plan.json"]);
        assert_eq!(out.code, 1, "{desired}{}", out.stdout);
        let at = format!("desired/main.yaml:{line}:{column}");
        assert!(
            out.stderr.contains(&at),
            "{desired}wanted {at}:\n{}",
            out.stderr
        );
        assert!(out.stderr.contains("expected a boolean"), "{}", out.stderr);
        assert!(!rig.repo.root().join("plan.json").exists());
    }
}

const FLY_NAME: &str = r#"
providers: { fly: active }
fly:
  org: pay-ready
  apps:
    keep:
      image: "registry.fly.io/keep:1"
      regions: [ord]
      count: 1
      secrets: [ONE_SECRET, { name: KEPT_SECRET, protect: true }]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn protected_names_live_in_postgres_and_an_edit_of_them_is_caught() {
    let db = crate::backend::TestDb::new().await;
    let mut rig = rig();
    rig.env.push(("SOPHIA_BACKEND".into(), db.url()));
    let rig = tokio::task::spawn_blocking(move || {
        rig.repo.file("desired/main.yaml", FLY_NAME);
        rig.plan(&[]);
        apply(&rig);
        let verify = rig.run(&["proofs", "verify"]);
        assert_eq!(verify.code, 0, "{}", verify.stderr);
        refused(
            &rig,
            &without(FLY_NAME, "secrets:"),
            "`fly.app.keep.secrets` (unsets protected `secret.KEPT_SECRET`)",
        );
        rig
    })
    .await
    .unwrap();
    db.sql("UPDATE sophia_managed SET protect_names = '{}' WHERE address = 'fly.app.keep.secrets'")
        .await;
    let rig = tokio::task::spawn_blocking(move || {
        let verify = rig.run(&["proofs", "verify"]);
        assert_eq!(verify.code, 1, "{}", verify.stdout);
        assert!(
            verify.stderr.contains("sophia_managed")
                && verify.stderr.contains("fly.app.keep.secrets"),
            "{}",
            verify.stderr
        );
        rig
    })
    .await
    .unwrap();
    drop(rig);
}
