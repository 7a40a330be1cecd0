//! Issue 18, findings 2 and 4: what is signed is what runs, and destructive changes are
//! counted as such.
//!
//! - A plan whose actions were edited (an image, a protection body, an ordering) and whose
//!   digest was recomputed is refused by `verify` and `apply`, naming the action, before any
//!   provider call; an honest plan passes.
//! - Scaling to zero, removing an environment reviewer and every loosening of a branch
//!   protection need the destructive-plan policy's signers, and the refusal says why.

use sophia::core::digest::plan_digest;
use sophia::core::plan::Plan;

use crate::apply::Rig;

fn read_plan(rig: &Rig) -> Plan {
    serde_json::from_str(&std::fs::read_to_string(rig.repo.root().join("plan.json")).unwrap())
        .unwrap()
}

/// Edit the plan's actions, recompute its digest (what an attacker with write access to
/// the plan file can do) and sign it as the approver would.
fn tamper(rig: &Rig, edit: impl FnOnce(&mut Plan)) {
    let mut plan = read_plan(rig);
    edit(&mut plan);
    plan.digest = plan_digest(&plan);
    std::fs::write(
        rig.repo.root().join("plan.json"),
        serde_json::to_string_pretty(&plan).unwrap(),
    )
    .unwrap();
    rig.ssh_sign("ceo", "sophia-plan@v1");
}

fn action<'a>(plan: &'a mut Plan, id: &str) -> &'a mut sophia::core::plan::Action {
    plan.actions
        .iter_mut()
        .find(|a| a.id.0 == id)
        .unwrap_or_else(|| panic!("no action `{id}`"))
}

const MACHINES: &str = "fly.machines.update:fly.app.app-one.machines";
const PROTECTION: &str = "github.protection.put:github.repo.acme/infra.branch.main.protection";

#[test]
fn edited_actions_are_refused_before_any_call_and_honest_plans_run() {
    let rig = Rig::new();
    type Edit = Box<dyn FnOnce(&mut Plan)>;
    let pinned = format!(
        "`params.image` = `\"EVIL:1\"`, but the plan's changes give `\"registry.fly.io/app-one@{}\"`",
        sophia::sandbox::state::derived_digest("registry.fly.io/app-one:v1")
    );
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "image",
            Box::new(|p| action(p, MACHINES).params["image"] = "EVIL:1".into()),
            &pinned,
        ),
        (
            "protection",
            Box::new(|p| {
                let body = &mut action(p, PROTECTION).params["body"];
                body["enforce_admins"] = false.into();
                body["allow_force_pushes"] = true.into();
            }),
            "`params.body.allow_force_pushes` = `true`, but the plan's changes give nothing",
        ),
        (
            "depends_on",
            Box::new(|p| action(p, MACHINES).depends_on.clear()),
            "runs after [], but the plan's changes order it after [`fly.secrets.set:fly.app.app-one.secrets`]",
        ),
        (
            "dropped action",
            Box::new(|p| p.actions.retain(|a| a.id.0 != PROTECTION)),
            "call for action `github.protection.put:github.repo.acme/infra.branch.main.protection`, which its actions leave out",
        ),
    ];
    for (name, edit, expect) in cases {
        rig.plan(&[]);
        tamper(&rig, edit);
        rig.sandbox.clear_requests();
        for cmd in ["verify", "apply"] {
            let out = rig.run(&[cmd, "plan.json"]);
            assert_eq!(out.code, 1, "{name}: {cmd} passed:\n{}", out.stderr);
            assert!(
                out.stderr
                    .contains("the plan's actions are not what its changes call for"),
                "{name}: {cmd}:\n{}",
                out.stderr
            );
            assert!(
                out.stderr.contains(expect),
                "{name}: {cmd}: expected `{expect}` in:\n{}",
                out.stderr
            );
        }
        assert!(
            rig.sandbox.requests().is_empty(),
            "{name}: calls were made: {:?}",
            rig.mutating_requests()
        );
    }
    rig.sandbox.with_world(|w| assert!(w.fly.apps.is_empty()));

    // The honest plan verifies and applies.
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let out = rig.run(&["verify", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        rig.mutating_requests()
            .iter()
            .any(|r| r.starts_with("PUT ") && r.contains("/protection")),
        "{:?}",
        rig.mutating_requests()
    );
}

#[test]
fn renderings_show_what_the_actions_take_beyond_the_changes() {
    let rig = Rig::new();
    rig.plan(&[]);
    let out = rig.run(&["show", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "`fly.app.app-one`: image `registry.fly.io/app-one:v1` (planned by its digest); strategy `rolling`; health check `GET /healthz` (port 8080) expects 200"
        ),
        "{}",
        out.stdout
    );
    let out = rig.run(&["show", "plan.json", "--format", "markdown"]);
    assert!(
        out.stdout
            .contains("- `fly.app.app-two`: image `registry.fly.io/app-two:v1` (planned by its digest); strategy `rolling`"),
        "{}",
        out.stdout
    );
}

const LIVE_PROTECTION: &str = r#"{
  "required_status_checks": {"strict": true, "contexts": ["Deploy All"]},
  "enforce_admins": true,
  "required_pull_request_reviews": {"required_approving_review_count": 2, "require_code_owner_reviews": true},
  "restrictions": null,
  "allow_force_pushes": false,
  "allow_deletions": false
}"#;

fn live(rig: &Rig) {
    let live = format!(
        r#"{{"format": "sophia-live/v1", "taken_at": "2026-01-01T00:00:00Z", "resources": {{
  "provider.fly": {{"activation": "active"}},
  "provider.github": {{"activation": "active"}},
  "fly.app.aa": {{"org": "pay-ready"}},
  "fly.app.aa.machines": {{"image": "registry.fly.io/a:v1", "count": 2, "regions": ["ord"]}},
  "github.repo.acme/infra.branch.main.protection": {LIVE_PROTECTION},
  "github.repo.acme/infra.environment.production": {{"reviewers": [{{"type": "User", "login": "ceo"}}, {{"type": "User", "login": "cto"}}]}}
}}}}"#
    );
    rig.repo.file("live.json", &live);
}

fn desired(count: u32, protection: &str, reviewers: &str) -> String {
    format!(
        r#"
providers: {{ fly: active, github: active }}
fly:
  org: pay-ready
  apps:
    aa: {{ image: "registry.fly.io/a:v1", regions: [ord], count: {count} }}
github:
  repos:
    acme/infra:
      branches:
        main:
          protection: {protection}
      environments:
        production: {{ reviewers: [{reviewers}] }}
"#
    )
}

const SAME: &str = r#"{ required_status_checks: { strict: true, contexts: ["Deploy All"] }, enforce_admins: true, required_pull_request_reviews: { required_approving_review_count: 2, require_code_owner_reviews: true }, restrictions: null }"#;
const BOTH: &str = r#"{ type: User, login: ceo }, { type: User, login: cto }"#;

#[test]
fn loosening_changes_need_the_destructive_signers_and_say_why() {
    let rig = Rig::new();
    rig.with_cfo_and_two_destructive_signers();
    live(&rig);
    let loosened = |field: &str| {
        SAME.replace(
            "restrictions: null",
            &format!("restrictions: null, {field}"),
        )
    };
    let cases = [
        (
            "scale to zero",
            desired(0, SAME, BOTH),
            "fly.app.aa.machines: scales to zero machines",
        ),
        (
            "protection: {}",
            desired(2, "{}", BOTH),
            "empties the branch protection",
        ),
        (
            "force pushes",
            desired(2, &loosened("allow_force_pushes: true"), BOTH),
            "github.repo.acme/infra.branch.main.protection: allows force pushes",
        ),
        (
            "deletions",
            desired(2, &loosened("allow_deletions: true"), BOTH),
            "github.repo.acme/infra.branch.main.protection: allows deletions",
        ),
        (
            "admins",
            desired(
                2,
                &SAME.replace("enforce_admins: true", "enforce_admins: false"),
                BOTH,
            ),
            "no longer enforces the rules on admins",
        ),
        (
            "fewer reviews",
            desired(2, &SAME.replace("count: 2", "count: 1"), BOTH),
            "requires fewer approving reviews (2 → 1)",
        ),
        (
            "reviewer removed",
            desired(2, SAME, "{ type: User, login: ceo }"),
            "github.repo.acme/infra.environment.production: removes environment reviewer `cto`",
        ),
    ];
    for (name, yaml, why) in cases {
        rig.repo.file("desired/main.yaml", &yaml);
        let _ = std::fs::remove_file(rig.repo.root().join("plan.json.sig.cfo"));
        rig.plan(&["--live", "live.json"]);
        let shown = rig.run(&["show", "plan.json"]);
        assert!(
            shown.stdout.contains("# destructive: "),
            "{name}: the rendering does not say why:\n{}",
            shown.stdout
        );
        rig.sign_as("ceo", "plan.json.sig");
        let out = rig.run(&["verify", "plan.json"]);
        assert_eq!(out.code, 1, "{name}: one signature passed:\n{}", out.stdout);
        assert!(
            out.stderr
                .contains("needs signatures by 2 distinct principals")
                && out.stderr.contains(why),
            "{name}: expected `{why}` in:\n{}",
            out.stderr
        );
        let out = rig.run_with_two_signers("verify");
        assert_eq!(out.code, 0, "{name}: two signers refused:\n{}", out.stderr);
    }
    // Tightening needs one signer.
    rig.repo.file("desired/main.yaml", &desired(3, SAME, BOTH));
    let _ = std::fs::remove_file(rig.repo.root().join("plan.json.sig.cfo"));
    rig.plan(&["--live", "live.json"]);
    rig.sign_as("ceo", "plan.json.sig");
    let out = rig.run(&["verify", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}
