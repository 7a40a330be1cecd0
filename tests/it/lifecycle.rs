//! Issue 14, part 1: the managed set, deletes of retired resources, `protect`, unmanaged
//! resources and `.infra/ignore`, end to end against the in-process sandbox (and the
//! PostgreSQL backend at 127.0.0.1:5432).

use sophia::core::plan::Plan;

use crate::apply::Rig;
use crate::backend::TestDb;

const WITH_RETIRE: &str = r#"
providers: { fly: active, github: active }
fly:
  org: pay-ready
  apps:
    keep: { image: "registry.fly.io/keep:1", regions: [ord], count: 1 }
    retire:
      image: registry.fly.io/dash:1
      regions: [ord]
      count: 2
      http_service: { internal_port: 8080, force_https: true }
      mounts: { source: data, destination: /data, initial_size: "3gb" }
github:
  repos:
    acme/infra:
      actions_secrets: [ONE_SECRET]
"#;

const WITHOUT_RETIRE: &str = r#"
providers: { fly: active, github: active }
fly:
  org: pay-ready
  apps:
    keep: { image: "registry.fly.io/keep:1", regions: [ord], count: 1 }
github:
  repos:
    acme/infra:
      actions_secrets: [ONE_SECRET]
"#;

fn plan_file(rig: &Rig) -> Plan {
    serde_json::from_str(&std::fs::read_to_string(rig.repo.root().join("plan.json")).unwrap())
        .unwrap()
}

/// Plan, sign as the CEO, apply: the first apply that makes everything managed.
fn first_apply(rig: &Rig) {
    rig.plan(&[]);
    rig.sign_as("ceo", "plan.json.sig");
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "apply failed:\n{}", out.stderr);
}

/// Retire the app: the plan deletes it with its machines, volumes and IPs, needs the
/// destructive signatures, and after the apply it is gone; the app sophia never managed is
/// listed as unmanaged, never deleted. The managed set is journaled and `proofs verify`
/// catches an edit of it.
fn retire_flow(rig: &Rig) {
    rig.repo.file("desired/main.yaml", WITH_RETIRE);
    rig.sandbox
        .with_world(|w| w.fly_create_app("stray-app", "pay-ready"));
    let out = rig.plan(&[]);
    let shown = format!("{}{}", out.stdout, out.stderr);
    assert!(shown.contains("fly.app.stray-app"), "{shown}");
    assert!(shown.contains("sophia import fly.app.stray-app"), "{shown}");
    assert!(shown.contains("1 unmanaged resource(s)."), "{shown}");
    rig.sign_as("ceo", "plan.json.sig");
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "apply failed:\n{}", out.stderr);
    let (machines, volumes, ips) = rig.sandbox.with_world(|w| {
        let a = &w.fly.apps["retire"];
        (a.machines.len(), a.volumes.len(), a.ips.len())
    });
    assert_eq!((machines, volumes, ips), (2, 2, 2));

    rig.with_cfo_and_two_destructive_signers();
    rig.repo.file("desired/main.yaml", WITHOUT_RETIRE);
    let out = rig.plan(&[]);
    assert!(
        out.stdout
            .contains("# deletes app `retire` with 2 machine(s), 2 volume(s) and 2 IP address(es)"),
        "{}",
        out.stdout
    );
    let md = rig.run(&["show", "plan.json", "--format", "markdown"]);
    for want in [
        "`fly.app.retire` — **deletes app `retire` with 2 machine(s), 2 volume(s) and 2 IP address(es)**",
        "`fly.app.retire.machines` — **goes with app `retire`**",
        "<details><summary><b>unmanaged</b>: 1</summary>",
        "- `fly.app.stray-app` — `sophia import fly.app.stray-app`",
    ] {
        assert!(md.stdout.contains(want), "`{want}` not in:\n{}", md.stdout);
    }
    let plan = plan_file(rig);
    let deletes: Vec<String> = plan
        .actions
        .iter()
        .map(|a| a.id.0.clone())
        .filter(|id| id.contains("delete"))
        .collect();
    assert_eq!(deletes, ["fly.app.delete:fly.app.retire"]);
    assert_eq!(
        plan.summary.delete,
        plan.changes.len(),
        "{:#?}",
        plan.changes
    );
    assert!(
        plan.actions
            .iter()
            .all(|a| !a.address.to_string().contains("stray-app"))
    );
    assert_eq!(
        plan.unmanaged
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["fly.app.stray-app"]
    );

    // One signature is refused before any call; two distinct signers pass.
    rig.apply_needs_two_signers("applied a delete", "DELETE /fly/machines/v1/apps/retire");
    rig.sandbox.with_world(|w| {
        assert!(!w.fly.apps.contains_key("retire"));
        assert!(w.fly.apps.contains_key("stray-app"));
        assert!(w.fly.apps.contains_key("keep"));
    });
    let again = rig.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "not converged:\n{}", again.stdout);
    let verify = rig.run(&["proofs", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
}

/// The managed set file the journal names last.
fn last_managed_file(rig: &Rig) -> std::path::PathBuf {
    let journal = std::fs::read_to_string(rig.repo.root().join("proofs/journal.jsonl")).unwrap();
    let last = journal
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|r| r["kind"] == "managed.update")
        .expect("a managed.update record");
    rig.repo
        .root()
        .join("proofs")
        .join(last["proof"].as_str().unwrap())
}

#[test]
fn a_retired_app_is_deleted_with_two_signers_and_a_stray_one_is_only_listed() {
    let rig = Rig::new();
    retire_flow(&rig);
    let file = last_managed_file(&rig);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"fly.app.keep\""), "{text}");
    assert!(!text.contains("\"fly.app.retire"), "{text}");

    // An edit of the managed set (unprotecting, forgetting) is caught.
    std::fs::write(&file, text.replace("\"fly.app.keep\"", "\"fly.app.other\"")).unwrap();
    let verify = rig.run(&["proofs", "verify"]);
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    let plan = rig.run(&["plan"]);
    assert_eq!(plan.code, 1, "{}", plan.stdout);
    assert!(
        plan.stderr.contains("does not match journal record"),
        "{}",
        plan.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_managed_set_lives_in_postgres_and_an_edit_of_its_table_is_caught() {
    let db = TestDb::new().await;
    let mut rig = Rig::new();
    rig.env.push(("SOPHIA_BACKEND".into(), db.url()));
    let rig = tokio::task::spawn_blocking(move || {
        retire_flow(&rig);
        rig
    })
    .await
    .unwrap();
    db.sql("UPDATE sophia_managed SET protect = true WHERE address = 'fly.app.keep'")
        .await;
    let rig = tokio::task::spawn_blocking(move || {
        let verify = rig.run(&["proofs", "verify"]);
        assert_eq!(verify.code, 1, "{}", verify.stdout);
        assert!(
            verify.stderr.contains("sophia_managed") && verify.stderr.contains("fly.app.keep"),
            "{}",
            verify.stderr
        );
        rig
    })
    .await
    .unwrap();
    drop(rig);
}

#[test]
fn a_protected_app_cannot_be_deleted_even_after_its_removal_and_nothing_is_called() {
    let rig = Rig::new();
    rig.repo.file(
        "desired/main.yaml",
        &WITH_RETIRE.replace("count: 2\n", "count: 2\n      protect: true\n"),
    );
    first_apply(&rig);
    let again = rig.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        again.code, 0,
        "the protection was not recorded:\n{}",
        again.stdout
    );
    rig.repo.file("desired/main.yaml", WITHOUT_RETIRE);
    std::fs::remove_file(rig.repo.root().join("plan.json")).unwrap();
    rig.sandbox.clear_requests();
    let out = rig.run(&["plan", "--out", "plan.json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("the plan would delete protected resources: `fly.app.retire` (delete)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("set `protect: false`"),
        "{}",
        out.stderr
    );
    assert!(!rig.repo.root().join("plan.json").exists());
    assert!(
        rig.mutating_requests().is_empty(),
        "{:?}",
        rig.mutating_requests()
    );

    // Unprotect (a plan with nothing else to do still has that to apply), apply; then the
    // removal plans the delete.
    rig.repo.file("desired/main.yaml", WITH_RETIRE);
    let unprotect = rig.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(unprotect.code, 2, "{}", unprotect.stdout);
    assert!(
        unprotect.stdout.contains("`fly.app.retire`: unprotected"),
        "{}",
        unprotect.stdout
    );
    first_apply(&rig);
    rig.repo.file("desired/main.yaml", WITHOUT_RETIRE);
    rig.plan(&[]);
    assert!(
        plan_file(&rig)
            .actions
            .iter()
            .any(|a| a.id.0 == "fly.app.delete:fly.app.retire")
    );
}

#[test]
fn bad_protect_and_bad_ignore_globs_name_file_line_and_column() {
    let rig = Rig::new();
    rig.repo.file(
        "desired/main.yaml",
        "fly:\n  org: pay-ready\n  apps:\n    a:\n      protect: yes-please\n",
    );
    let out = rig.run(&["plan", "--out", "plan.json"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("desired/main.yaml:5:16"),
        "{}",
        out.stderr
    );
    assert!(!rig.repo.root().join("plan.json").exists());

    rig.repo.file("desired/main.yaml", WITHOUT_RETIRE);
    rig.repo.file(
        ".infra/ignore",
        "# strays\nfly.app.legacy-*\n  fly.app.[oops\n",
    );
    let out = rig.run(&["plan", "--out", "plan.json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr
            .contains(".infra/ignore:3:3: `fly.app.[oops` is not a valid glob"),
        "{}",
        out.stderr
    );
    assert!(!rig.repo.root().join("plan.json").exists());

    // A good glob hides the stray it matches.
    rig.repo.file(".infra/ignore", "fly.app.legacy-*\n");
    rig.sandbox.with_world(|w| {
        w.fly_create_app("legacy-api", "pay-ready");
        w.fly_create_app("stray", "pay-ready");
    });
    rig.plan(&[]);
    let unmanaged: Vec<String> = plan_file(&rig)
        .unmanaged
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        unmanaged.contains(&"fly.app.stray".to_string()),
        "{unmanaged:?}"
    );
    assert!(
        !unmanaged.iter().any(|a| a.contains("legacy")),
        "{unmanaged:?}"
    );
}

#[test]
fn drift_lists_unmanaged_resources_without_calling_them_drift() {
    let rig = Rig::new();
    rig.repo.file("desired/main.yaml", WITHOUT_RETIRE);
    first_apply(&rig);
    rig.sandbox
        .with_world(|w| w.fly_create_app("stray-app", "pay-ready"));
    let out = rig.run(&["drift"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let proofs = rig.repo.files();
    let drift = proofs
        .iter()
        .find(|p| p.starts_with("proofs/drift"))
        .expect("a drift proof");
    let text = std::fs::read_to_string(rig.repo.root().join(drift)).unwrap();
    assert!(
        text.contains("\"import\": \"sophia import fly.app.stray-app\""),
        "{text}"
    );
}

const GITHUB_MANAGED: &str = r#"
providers: { github: active }
github:
  repos:
    acme/infra:
      actions_secrets: [ONE_SECRET]
      actions_variables: { REGION: ord }
      environments:
        staging: { reviewers: [] }
"#;

const GITHUB_RETIRED: &str = r#"
providers: { github: active }
github:
  repos:
    acme/infra:
      branches:
        main: {}
"#;

#[test]
fn retired_github_objects_are_deleted_and_a_stray_secret_is_only_listed() {
    let rig = Rig::new();
    rig.repo.file("desired/main.yaml", GITHUB_MANAGED);
    first_apply(&rig);
    rig.sandbox.with_world(|w| {
        let repo = w.github.repos.get_mut("acme/infra").unwrap();
        assert!(repo.secrets.contains_key("ONE_SECRET"));
        assert!(repo.variables.contains_key("REGION"));
        assert!(repo.environments.contains_key("staging"));
        repo.secrets.insert(
            "STRAY_TOKEN".into(),
            sophia::sandbox::state::GithubSecret {
                value: None,
                created_at: "2026-01-01T00:00:00Z".into(),
                updated_at: "2026-01-01T00:00:00Z".into(),
            },
        );
    });

    rig.repo.file("desired/main.yaml", GITHUB_RETIRED);
    rig.plan(&[]);
    let plan = plan_file(&rig);
    let mut deletes: Vec<String> = plan.actions.iter().map(|a| a.id.0.clone()).collect();
    deletes.sort();
    assert_eq!(
        deletes,
        [
            "github.environment.delete:github.repo.acme/infra.environment.staging",
            "github.secret.delete:github.repo.acme/infra.secret.ONE_SECRET",
            "github.variable.delete:github.repo.acme/infra.variable.REGION",
        ]
    );
    assert_eq!(
        plan.unmanaged
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["github.repo.acme/infra.secret.STRAY_TOKEN"]
    );
    rig.sign_as("ceo", "plan.json.sig");
    rig.sandbox.clear_requests();
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut calls = rig.mutating_requests();
    calls.sort();
    assert_eq!(
        calls,
        [
            "DELETE /github/repos/acme/infra/actions/secrets/ONE_SECRET",
            "DELETE /github/repos/acme/infra/actions/variables/REGION",
            "DELETE /github/repos/acme/infra/environments/staging",
        ]
    );
    rig.sandbox.with_world(|w| {
        let repo = &w.github.repos["acme/infra"];
        assert!(!repo.secrets.contains_key("ONE_SECRET"));
        assert!(repo.secrets.contains_key("STRAY_TOKEN"));
        assert!(!repo.variables.contains_key("REGION"));
        assert!(!repo.environments.contains_key("staging"));
    });
    let again = rig.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
}

const GROUPS: &str = r#"
providers: { fly: active }
fly:
  org: pay-ready
  apps:
    dash:
      image: registry.fly.io/dash:1
      regions: [ord]
      count: 1
      processes: { app: "", worker: "bin/worker --queue default", cron: "bin/cron" }
"#;

#[test]
fn the_machines_of_a_retired_process_group_are_leased_and_destroyed() {
    let rig = Rig::new();
    rig.repo.file("desired/main.yaml", GROUPS);
    first_apply(&rig);
    let groups = |rig: &Rig| -> Vec<String> {
        rig.sandbox.with_world(|w| {
            let mut g: Vec<String> = w.fly.apps["dash"]
                .machines
                .values()
                .map(|m| {
                    m.config["metadata"]["fly_process_group"]
                        .as_str()
                        .unwrap_or("")
                        .to_string()
                })
                .collect();
            g.sort();
            g
        })
    };
    assert_eq!(groups(&rig), ["app", "cron", "worker"]);
    rig.repo.file(
        "desired/main.yaml",
        &GROUPS.replace(r#", cron: "bin/cron""#, ""),
    );
    rig.plan(&[]);
    let ids: Vec<String> = plan_file(&rig)
        .actions
        .iter()
        .map(|a| a.id.0.clone())
        .filter(|id| id.contains("delete"))
        .collect();
    assert_eq!(ids, ["fly.process.delete:fly.app.dash.process.cron"]);
    rig.sign_as("ceo", "plan.json.sig");
    rig.sandbox.clear_requests();
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(groups(&rig), ["app", "worker"]);
    let calls = rig.mutating_requests();
    let lease = calls
        .iter()
        .position(|c| c.starts_with("POST") && c.ends_with("/lease"));
    let destroy = calls.iter().position(|c| {
        c.starts_with("DELETE") && c.contains("/machines/") && !c.ends_with("/lease")
    });
    assert!(lease.is_some() && lease < destroy, "{calls:?}");
}
