//! The build that planned is the build that applies (issue 19): a plan records the version
//! and the source digest of the build that made it, and `verify` and `apply` refuse a plan
//! made by another build, naming both, before any provider call. And the 404 of a repository
//! that does not exist (or that the credential cannot see) says so.

use sophia::core::digest::plan_digest;
use sophia::core::plan::Plan;

use crate::apply::Rig;

/// Rewrite `plan.json` as another build would have written it (`version`, `source`), with
/// its digest recomputed: a genuine plan of that build, not a tampered one.
fn as_made_by(rig: &Rig, version: &str, source: &str) {
    let path = rig.repo.root().join("plan.json");
    let mut plan: Plan = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    plan.tool_version = version.to_string();
    plan.tool_source = source.to_string();
    plan.digest = plan_digest(&plan);
    std::fs::write(&path, serde_json::to_string_pretty(&plan).unwrap()).unwrap();
}

#[test]
fn a_plan_records_the_build_that_made_it() {
    let rig = Rig::new();
    rig.plan(&[]);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rig.repo.root().join("plan.json")).unwrap())
            .unwrap();
    assert_eq!(plan["tool_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(plan["tool_source"], sophia::identity::SOURCE_DIGEST);
    let source = sophia::identity::SOURCE_DIGEST;
    assert!(
        source.len() == 71 && source.starts_with("sha256:"),
        "{source}"
    );
    let version = rig.run(&["--version"]);
    assert!(version.stdout.contains(source), "{}", version.stdout);
}

#[test]
fn a_plan_made_by_another_build_is_refused_naming_both_builds() {
    let other = format!("sha256:{}", "0".repeat(64));
    for (version, source) in [
        (env!("CARGO_PKG_VERSION"), other.as_str()),
        ("0.0.9", sophia::identity::SOURCE_DIGEST),
        ("0.0.9", ""),
    ] {
        let rig = Rig::new();
        rig.plan(&[]);
        as_made_by(&rig, version, source);
        rig.ssh_sign("ceo", "sophia-plan@v1");
        rig.sandbox.clear_requests();
        for command in ["verify", "apply"] {
            let out = rig.run(&[command, "plan.json"]);
            assert_eq!(out.code, 1, "{command}: {}", out.stderr);
            let planned = if source.is_empty() {
                format!("sophia {version} (source not recorded)")
            } else {
                format!("sophia {version} (source {source})")
            };
            let this = format!(
                "sophia {} (source {})",
                env!("CARGO_PKG_VERSION"),
                sophia::identity::SOURCE_DIGEST
            );
            assert!(
                out.stderr.contains(&format!(
                    "the plan was made by another build of sophia: the plan by {planned}, this is {this}"
                )),
                "{command}: {}",
                out.stderr
            );
            assert!(
                out.stderr
                    .contains("hint: apply a plan with the build that made it")
            );
        }
        assert_eq!(
            rig.mutating_requests(),
            Vec::<String>::new(),
            "no call was made"
        );
    }
}

#[test]
fn the_same_build_verifies_and_a_build_field_edited_after_planning_is_a_digest_mismatch() {
    let rig = Rig::new();
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let out = rig.run(&["verify", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Editing the recorded build without re-digesting is tampering, reported as such.
    let path = rig.repo.root().join("plan.json");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        sophia::identity::SOURCE_DIGEST,
        &format!("sha256:{}", "1".repeat(64)),
    );
    std::fs::write(&path, text).unwrap();
    let out = rig.run(&["verify", "plan.json"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("does not match its digest"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_repository_that_does_not_exist_is_named_with_the_credential_that_cannot_see_it() {
    let rig = Rig::new();
    rig.repo.file(
        "desired/main.yaml",
        r#"
providers:
  github: active
github:
  repos:
    acme/no-such-repo:
      branches:
        main:
          protection:
            required_status_checks: { strict: true, contexts: ["ci"] }
            enforce_admins: true
            required_pull_request_reviews: { required_approving_review_count: 1 }
            restrictions: null
"#,
    );
    let out = rig.run(&["plan", "--out", "plan.json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(!rig.repo.root().join("plan.json").exists());
    insta::assert_snapshot!("github_repository_not_found", out.stderr);
}
