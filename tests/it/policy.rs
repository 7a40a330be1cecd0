//! Issue 16, policy as code: `.infra/policy/*.rego` judges every plan.
//!
//! - A plan that breaks the shipped default policy fails with every message, writes no plan
//!   file and makes no mutating call; the canonical `desired/` passes it.
//! - A `warn` raises the signers a plan needs: one signature is refused at apply, two
//!   distinct signers pass.
//! - A policy file edited after signing makes the plan stale at `verify` and `apply`, before
//!   any provider call.
//! - `sophia policy test` passes on the shipped policy, fails (exit 1) with a broken test,
//!   and names `file:line:column` of a syntax error.

use std::path::Path;

use sophia::core::plan::Plan;

use crate::apply::{Rig, keygen};
use crate::support::{Repo, project_root};

/// Copy the repository's shipped policy into `repo`.
fn ship_default_policy(repo: &Repo) {
    let dir = project_root().join(".infra/policy");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        repo.file(
            &format!(".infra/policy/{name}"),
            &std::fs::read_to_string(&path).unwrap(),
        );
    }
}

fn read_plan(root: &Path) -> Plan {
    serde_json::from_str(&std::fs::read_to_string(root.join("plan.json")).unwrap()).unwrap()
}

#[test]
fn a_plan_breaking_the_default_policy_fails_with_every_message_and_writes_nothing() {
    let rig = Rig::new();
    ship_default_policy(&rig.repo);
    // The rig's desired state, where `app-two` runs one machine, with `main` left to admins.
    rig.repo.file(
        "desired/main.yaml",
        &crate::apply::DESIRED.replace("enforce_admins: true", "enforce_admins: false"),
    );
    let before = rig.repo.files();
    let out = rig.run(&["plan", "--out", "plan.json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    for expected in [
        "  deny: `fly.app.app-two.machines` would run 1 machine(s): production apps run at \
         least 2 (set `count: 2` for `app-two` in desired/)\n",
        "  deny: `github.repo.acme/infra.branch.main.protection` would let administrators \
         bypass the protection of `main`: set `enforce_admins: true`\n",
        "  hint: change desired/ so that the plan complies",
    ] {
        assert!(
            out.stderr.contains(expected),
            "expected `{expected}` in:\n{}",
            out.stderr
        );
    }
    // Every message is listed: as many `deny:` lines as the count says. (Images are denied
    // too while the plan names tags; once `plan` pins them by digest, only these two are.)
    let denied = out.stderr.matches("\n  deny: ").count();
    assert!(denied >= 2);
    assert!(
        out.stderr.starts_with(&format!(
            "error: the plan violates the policy (.infra/policy/): {denied} denied\n"
        )),
        "{}",
        out.stderr
    );
    // Nothing but the refresh's HTTP cache (`.infra/cache/`): no plan file, no proof.
    let after: Vec<_> = rig
        .repo
        .files()
        .into_iter()
        .filter(|f| !f.starts_with(".infra/cache"))
        .collect();
    assert_eq!(after, before, "a file was written");
    assert!(rig.mutating_requests().is_empty());

    // `--json`: the failure envelope carries the code `policy-denied`.
    let out = rig.run(&["--json", "plan", "--out", "plan.json"]);
    assert_eq!(out.code, 1);
    let envelope: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(envelope["errors"][0]["code"], "policy-denied", "{envelope}");
}

#[test]
fn the_canonical_desired_state_passes_the_default_policy() {
    use sha2::Digest as _;
    let mut desired = sophia::workspace::load_desired(&project_root()).unwrap();
    // As `plan` pins them (issue 13): each tag resolved to its registry digest. The digest
    // here is derived from the reference, as the sandbox's registry derives it.
    for app in desired.fly.as_mut().unwrap().apps.values_mut() {
        let image = app.image.clone().unwrap();
        if !image.contains("@sha256:") {
            let name = &image[..image.rfind(':').unwrap()];
            let digest = hex::encode(sha2::Sha256::digest(image.as_bytes()));
            app.image = Some(format!("{name}@sha256:{digest}"));
        }
    }
    // Against nothing live, every resource is created: every rule sees every resource.
    let plan = crate::support::plan_of(
        &desired,
        &sophia::core::live::LiveSnapshot::new("2026-01-01T00:00:00Z"),
    );
    assert!(plan.changes.len() > 20, "{}", plan.changes.len());
    let files = sophia::policy::read(&project_root()).unwrap().unwrap();
    assert!(
        files.iter().all(|f| !f.path.ends_with("_test.rego")),
        "tests are no part of the policy a plan is judged by"
    );
    let (deny, warn) =
        sophia::policy::evaluate(&files, &sophia::policy::input(&plan, &desired)).unwrap();
    assert_eq!(deny, Vec::<String>::new());
    assert_eq!(warn, Vec::<String>::new());

    // The same state with a tag, one machine for the dashboard and `main` left to admins is
    // denied on each count: the policy is not vacuous on Sophia's own resources.
    let fly = desired.fly.as_mut().unwrap();
    let dashboard = fly.apps.get_mut("sophiaai-dashboard-v2").unwrap();
    dashboard.count = Some(1);
    dashboard.image = Some("registry.fly.io/sophiaai-dashboard-v2:deployment-01".into());
    let repo = desired
        .github
        .as_mut()
        .unwrap()
        .repos
        .get_mut("ai-cherry/sophia-intel-ai")
        .unwrap();
    let protection = repo.branches.get_mut("main").unwrap().protection.as_mut();
    protection.unwrap().as_mut().unwrap().enforce_admins = Some(Some(false));
    let plan = crate::support::plan_of(
        &desired,
        &sophia::core::live::LiveSnapshot::new("2026-01-01T00:00:00Z"),
    );
    let (deny, _) =
        sophia::policy::evaluate(&files, &sophia::policy::input(&plan, &desired)).unwrap();
    assert_eq!(deny.len(), 3, "{deny:#?}");
}

/// A policy that warns about every new app `app-two`, and passes everything else.
const WARN_POLICY: &str = r#"package sophia

warn contains msg if {
	some change in input.changes
	change.address == "fly.app.app-two"
	change.action == "create"
	msg := "`app-two` is a new app: a second approver looks at it"
}
"#;

#[test]
fn a_warning_needs_one_more_distinct_signer_at_apply() {
    let rig = Rig::new();
    rig.repo.file(".infra/policy/review.rego", WARN_POLICY);
    keygen(&rig.repo, "cfo", "cfo@acme");
    let ceo = std::fs::read_to_string(rig.repo.root().join("ceo.pub")).unwrap();
    let cfo = std::fs::read_to_string(rig.repo.root().join("cfo.pub")).unwrap();
    rig.repo.file(
        ".infra/allowed_signers",
        &format!(
            "ceo@acme namespaces=\"sophia-plan@v1\" {ceo}cfo@acme namespaces=\"sophia-plan@v1\" {cfo}"
        ),
    );
    let out = rig.plan(&[]);
    let warning = "`app-two` is a new app: a second approver looks at it";
    assert!(
        out.stdout
            .contains("1 warning: the plan needs one more distinct signer.")
            && out.stdout.contains(&format!("  warn: {warning}")),
        "{}",
        out.stdout
    );
    let plan = read_plan(rig.repo.root());
    let policy = plan.policy.as_ref().expect("the plan records the verdicts");
    assert_eq!(policy.warn, [warning]);
    assert!(policy.deny.is_empty());
    assert_eq!(
        policy.files.keys().collect::<Vec<_>>(),
        [".infra/policy/review.rego"]
    );
    // The verdicts are covered by the digest: the file verifies as it was written.
    sophia::core::plan::verify_digest(&plan).unwrap();

    // One signer: refused before any call, saying why a second one is needed.
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "error: the plan has 1 policy warning (`{warning}`), each raising the signers \
             needed by one and needs signatures by 2 distinct principals; it has 1 (`ceo@acme`)"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("each warning of `.infra/policy/` needs one more distinct signer")
    );
    assert!(rig.mutating_requests().is_empty());

    // The same principal's signature twice is still one signer.
    std::fs::copy(
        rig.repo.root().join("plan.json.sig"),
        rig.repo.root().join("plan.json.sig.again"),
    )
    .unwrap();
    let out = rig.run(&["verify", "plan.json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("it has 1 (`ceo@acme`)"),
        "{}",
        out.stderr
    );
    std::fs::remove_file(rig.repo.root().join("plan.json.sig.again")).unwrap();

    // Two distinct signers: applied.
    std::fs::rename(
        rig.repo.root().join("plan.json.sig"),
        rig.repo.root().join("plan.json.sig.ceo"),
    )
    .unwrap();
    rig.ssh_sign("cfo", "sophia-plan@v1");
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    rig.sandbox
        .with_world(|w| assert_eq!(w.fly.apps["app-two"].machines.len(), 1));
}

#[test]
fn the_renderings_show_the_verdicts() {
    let rig = Rig::new();
    rig.repo.file(".infra/policy/review.rego", WARN_POLICY);
    rig.plan(&[]);
    let markdown = rig.run(&["show", "plan.json", "--format", "markdown"]);
    assert_eq!(markdown.code, 0, "{}", markdown.stderr);
    let plan = read_plan(rig.repo.root());
    let digest = &plan.policy.as_ref().unwrap().digest[..19];
    assert!(
        markdown.stdout.contains(&format!(
            "> [!WARNING]\n> **Policy** (`{digest}`): 1 warning: the plan needs one more \
             distinct signer.\n> - **warn**: `app-two` is a new app: a second approver looks at it\n"
        )),
        "{}",
        markdown.stdout
    );
    let json = rig.run(&["show", "plan.json", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        value["policy"]["warn"][0],
        "`app-two` is a new app: a second approver looks at it"
    );

    // A policy that passes: one line, no alert.
    rig.repo.file(
        ".infra/policy/review.rego",
        "package sophia\n\nwarn contains \"never\" if false\n",
    );
    rig.plan(&[]);
    let text = rig.run(&["show", "plan.json"]);
    assert!(
        text.stdout.contains(": passes, no warnings."),
        "{}",
        text.stdout
    );
    let markdown = rig.run(&["show", "plan.json", "--format", "markdown"]);
    assert!(
        markdown.stdout.contains("**Policy** (`sha256:")
            && markdown.stdout.contains("`): passes, no warnings.")
            && !markdown.stdout.contains("[!WARNING]"),
        "{}",
        markdown.stdout
    );

    // No policy: no block in the plan, nothing rendered.
    std::fs::remove_dir_all(rig.repo.root().join(".infra/policy")).unwrap();
    let out = rig.plan(&[]);
    assert!(!out.stdout.contains("Policy"), "{}", out.stdout);
    assert!(read_plan(rig.repo.root()).policy.is_none());
}

#[test]
fn a_policy_edited_after_signing_makes_the_plan_stale() {
    let rig = Rig::new();
    let review = "package sophia\n\nwarn contains \"never\" if false\n";
    rig.repo.file(".infra/policy/review.rego", review);
    rig.repo.file(
        ".infra/policy/quiet.rego",
        "package sophia\n\ndeny contains \"x\" if false\n",
    );
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let out = rig.run(&["verify", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    // A comment is an edit too: the bytes are what was judged.
    let original =
        std::fs::read_to_string(rig.repo.root().join(".infra/policy/quiet.rego")).unwrap();
    rig.repo.file(
        ".infra/policy/quiet.rego",
        &format!("{original}# relaxed later\n"),
    );
    rig.repo
        .file(".infra/policy/extra.rego", "package sophia\n");
    for cmd in ["verify", "apply"] {
        let out = rig.run(&[cmd, "plan.json"]);
        assert_eq!(out.code, 1, "{cmd}: {}", out.stderr);
        assert!(
            out.stderr.contains(
                "error: the plan is stale: the policy changed since it was judged\n  \
                 `.infra/policy/quiet.rego` was edited (judged sha256:"
            ) && out
                .stderr
                .contains("  `.infra/policy/extra.rego` was added")
                && out.stderr.contains("hint: re-run `sophia plan`"),
            "{cmd}: {}",
            out.stderr
        );
    }
    assert!(rig.mutating_requests().is_empty());

    // Removed, too.
    std::fs::remove_file(rig.repo.root().join(".infra/policy/extra.rego")).unwrap();
    std::fs::remove_file(rig.repo.root().join(".infra/policy/review.rego")).unwrap();
    rig.repo.file(".infra/policy/quiet.rego", &original);
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("`.infra/policy/review.rego` was removed"),
        "{}",
        out.stderr
    );
    assert!(rig.mutating_requests().is_empty());

    // The policy as it was judged: the plan applies.
    rig.repo.file(".infra/policy/review.rego", review);
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_plan_made_without_the_policy_is_stale_once_there_is_one() {
    let rig = Rig::new();
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    rig.repo.file(".infra/policy/review.rego", WARN_POLICY);
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("`.infra/policy/review.rego` was added"),
        "{}",
        out.stderr
    );
    assert!(rig.mutating_requests().is_empty());
}

fn policy_test(repo: &Repo) -> crate::support::Output {
    repo.run(&["policy", "test"], &[])
}

#[test]
fn policy_test_passes_on_the_shipped_policy_and_fails_on_a_broken_test() {
    let repo = Repo::new();
    ship_default_policy(&repo);
    let out = policy_test(&repo);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let passed = out.stdout.matches(": PASS\n").count();
    assert!(passed >= 20, "{}", out.stdout);
    assert!(
        out.stdout.contains(".infra/policy/fly_test.rego:\n")
            && out
                .stdout
                .contains("data.sophia_test.test_one_machine_is_denied: PASS\n")
            && out.stdout.ends_with(&format!("PASS: {passed}/{passed}\n"))
            && !out.stdout.contains("FAIL"),
        "{}",
        out.stdout
    );

    // A test that does not hold fails the run, naming it and its line.
    repo.file(
        ".infra/policy/broken_test.rego",
        "package sophia_test\n\nimport data.sophia\n\ntest_one_machine_passes if {\n\tcount(sophia.deny) == 0 with input as {\"changes\": [{\"address\": \"fly.app.web.machines\", \"action\": \"create\", \"after\": {\"count\": 1}}]}\n}\n",
    );
    let out = policy_test(&repo);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains(
            ".infra/policy/broken_test.rego:\ndata.sophia_test.test_one_machine_passes: FAIL (line 5)\n"
        ) && out.stdout.contains(&format!("PASS: {passed}/{}\n", passed + 1))
            && out.stdout.contains(&format!("FAIL: 1/{}\n", passed + 1)),
        "{}",
        out.stdout
    );

    // `--json`: each test's outcome.
    let out = repo.run(&["--json", "policy", "test"], &[]);
    assert_eq!(out.code, 1);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(value["passed"], false);
    let broken = value["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "data.sophia_test.test_one_machine_passes")
        .unwrap();
    assert_eq!(broken["outcome"], "fail");
    assert_eq!(broken["file"], ".infra/policy/broken_test.rego");
}

#[test]
fn a_syntax_error_in_the_policy_names_its_file_and_line() {
    let repo = Repo::new();
    ship_default_policy(&repo);
    repo.file(
        ".infra/policy/bad.rego",
        "package sophia\n\ndeny contains msg if {\n\tmsg := \"x\"\n\tinput.foo ==\n}\n",
    );
    let out = policy_test(&repo);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr
            .starts_with("error: .infra/policy/bad.rego:6:1: expecting expression\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: fix the policy"),
        "{}",
        out.stderr
    );

    // `plan` stops at it too, and writes no plan file.
    repo.file("desired/main.yaml", "providers: {}\n");
    let out = repo.run(&["plan", "--out", "plan.json"], &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr
            .starts_with("error: .infra/policy/bad.rego:6:1: expecting expression\n"),
        "{}",
        out.stderr
    );
    assert!(!repo.root().join("plan.json").exists());
}

#[test]
fn no_policy_or_no_test_is_an_error_for_policy_test() {
    let repo = Repo::new();
    let out = policy_test(&repo);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("there is no policy to test"),
        "{}",
        out.stderr
    );
    repo.file(".infra/policy/p.rego", "package sophia\n");
    let out = policy_test(&repo);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("has no tests"), "{}", out.stderr);
}

#[test]
fn a_policy_file_that_is_a_link_is_refused() {
    let repo = Repo::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("p.rego"), "package sophia\n").unwrap();
    std::fs::create_dir_all(repo.root().join(".infra/policy")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("p.rego"),
        repo.root().join(".infra/policy/p.rego"),
    )
    .unwrap();
    repo.file("desired/main.yaml", "providers: {}\n");
    let out = repo.run(&["plan"], &[]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("`.infra/policy/p.rego` is a symbolic link"),
        "{}",
        out.stderr
    );
}
