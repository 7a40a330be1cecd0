//! Issue 14, "delete … a Fly secret": a name sophia set, removed from an app's `secrets`,
//! plans `fly.secrets.unset` of that name alone (destructive: two signers); a live name
//! sophia never set is never unset, and is listed as unmanaged with its import command.

use sophia::core::plan::Plan;

use crate::apply::{DESIRED, Rig};

fn with_secrets(list: &str) -> String {
    DESIRED.replace(
        "      secrets: [ONE_SECRET]",
        &format!("      secrets: {list}"),
    )
}

fn plan_file(rig: &Rig) -> Plan {
    serde_json::from_str(&std::fs::read_to_string(rig.repo.root().join("plan.json")).unwrap())
        .unwrap()
}

/// Set `name` on app-one directly at Fly, as `fly secrets set` by hand would.
fn set_by_hand(rig: &Rig, name: &str) {
    rig.sandbox.with_world(|w| {
        let app = w.fly.apps.get_mut("app-one").unwrap();
        app.secrets.insert(
            name.into(),
            sophia::sandbox::state::FlySecret {
                value: Some("typed-by-hand".into()),
                digest: "0123456789abcdef".into(),
                created_at: "2099-01-01T00:00:00Z".into(),
                updated_at: "2099-01-01T00:00:00Z".into(),
            },
        );
    });
}

fn secret_names(rig: &Rig) -> Vec<String> {
    rig.sandbox
        .with_world(|w| w.fly.apps["app-one"].secrets.keys().cloned().collect())
}

fn unsets(plan: &Plan) -> Vec<(String, serde_json::Value)> {
    plan.actions
        .iter()
        .filter(|a| a.kind.as_str() == "fly.secrets.unset")
        .map(|a| (a.address.to_string(), a.params["unset"].clone()))
        .collect()
}

#[test]
fn one_retired_fly_secret_is_unset_alone_and_a_stray_one_is_only_listed() {
    let mut rig = Rig::new();
    rig.env
        .push(("TWO_SECRET".into(), "two-secret-value-93a1".into()));
    rig.repo.file(
        "desired/main.yaml",
        &with_secrets("[ONE_SECRET, TWO_SECRET]"),
    );
    rig.plan(&[]);
    rig.sign_as("ceo", "plan.json.sig");
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    set_by_hand(&rig, "STRAY_KEY");

    // TWO_SECRET leaves the list: its unset alone, destructive; STRAY_KEY only listed.
    rig.with_cfo_and_two_destructive_signers();
    rig.repo
        .file("desired/main.yaml", &with_secrets("[ONE_SECRET]"));
    let out = rig.plan(&[]);
    assert!(
        out.stdout
            .contains("# destructive: removes Fly secret `TWO_SECRET`"),
        "{}",
        out.stdout
    );
    let plan = plan_file(&rig);
    assert_eq!(
        unsets(&plan),
        [(
            "fly.app.app-one.secrets".to_string(),
            serde_json::json!(["TWO_SECRET"])
        )]
    );
    assert!(
        plan.actions
            .iter()
            .all(|a| a.kind.as_str() != "fly.secrets.set"),
        "{:?}",
        plan.actions
    );
    assert_eq!(
        plan.unmanaged
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["fly.app.app-one.secret.STRAY_KEY"]
    );
    let md = rig.run(&["show", "plan.json", "--format", "markdown"]);
    for want in [
        "removes Fly secret `TWO_SECRET`",
        "- `fly.app.app-one.secret.STRAY_KEY` — `sophia import fly.app.app-one.secret.STRAY_KEY`",
    ] {
        assert!(md.stdout.contains(want), "`{want}` not in:\n{}", md.stdout);
    }

    // One signature is refused before any call; two distinct signers pass.
    rig.apply_needs_two_signers(
        "unset a secret",
        "POST /fly/machines/v1/apps/app-one/secrets",
    );
    assert_eq!(secret_names(&rig), ["ONE_SECRET", "STRAY_KEY"]);
    let again = rig.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "not converged:\n{}", again.stdout);

    // Set again by hand, TWO_SECRET is no longer sophia's: removing the whole list unsets
    // ONE_SECRET alone.
    set_by_hand(&rig, "TWO_SECRET");
    rig.repo.file(
        "desired/main.yaml",
        &DESIRED.replace("      secrets: [ONE_SECRET]\n", ""),
    );
    rig.plan(&[]);
    assert_eq!(
        unsets(&plan_file(&rig)),
        [(
            "fly.app.app-one.secrets".to_string(),
            serde_json::json!(["ONE_SECRET"])
        )]
    );

    // The stray name comes in as a name: the app's list, nothing else of the app.
    let imported = rig.run(&["import", "fly.app.app-one.secret.STRAY_KEY"]);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    let yaml: serde_json::Value = serde_yaml::from_str(&imported.stdout).unwrap();
    assert_eq!(
        yaml["fly"]["apps"]["app-one"],
        serde_json::json!({"secrets": ["STRAY_KEY"]}),
        "{}",
        imported.stdout
    );
    assert!(!imported.stdout.contains("image:"), "{}", imported.stdout);
    assert!(!imported.stdout.contains("typed-by-hand"));
}

const ENVIRONMENT: &str = r#"
providers: { github: active }
github:
  repos:
    acme/infra:
      environments:
        production: { reviewers: [], secrets: [DEPLOY_KEY, OLD_KEY] }
"#;

/// An environment's secrets have the same gap, closed the same way: `OLD_KEY`, set by
/// sophia and gone from the list, is deleted alone; `STRAY`, set by hand, stays.
#[test]
fn one_retired_environment_secret_is_deleted_alone() {
    let mut rig = Rig::new();
    rig.env
        .push(("DEPLOY_KEY".into(), "deploy-key-value-5b2".into()));
    rig.env.push(("OLD_KEY".into(), "old-key-value-8c4".into()));
    rig.repo.file("desired/main.yaml", ENVIRONMENT);
    rig.plan(&[]);
    rig.sign_as("ceo", "plan.json.sig");
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let env_secrets = |rig: &Rig| -> Vec<String> {
        rig.sandbox.with_world(|w| {
            w.github.repos["acme/infra"].environments["production"]
                .secrets
                .keys()
                .cloned()
                .collect()
        })
    };
    assert_eq!(env_secrets(&rig), ["DEPLOY_KEY", "OLD_KEY"]);
    rig.sandbox.with_world(|w| {
        let e = w
            .github
            .repos
            .get_mut("acme/infra")
            .unwrap()
            .environments
            .get_mut("production")
            .unwrap();
        let t = "2099-01-01T00:00:00Z".to_string();
        e.secrets.insert("STRAY".into(), (t.clone(), t));
    });

    rig.with_cfo_and_two_destructive_signers();
    rig.repo.file(
        "desired/main.yaml",
        &ENVIRONMENT.replace("[DEPLOY_KEY, OLD_KEY]", "[DEPLOY_KEY]"),
    );
    let out = rig.plan(&[]);
    assert!(
        out.stdout
            .contains("# destructive: removes environment secret `OLD_KEY`"),
        "{}",
        out.stdout
    );
    let plan = plan_file(&rig);
    assert_eq!(plan.actions.len(), 1, "{:?}", plan.actions);
    assert_eq!(plan.actions[0].kind.as_str(), "github.environment.put");
    assert_eq!(
        plan.actions[0].params["unset_secrets"],
        serde_json::json!(["OLD_KEY"])
    );
    assert!(plan.actions[0].params.get("set_secrets").is_none());
    rig.sandbox.clear_requests();
    let out = rig.run_with_two_signers("apply");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        rig.mutating_requests().contains(
            &"DELETE /github/repos/acme/infra/environments/production/secrets/OLD_KEY".to_string()
        ),
        "{:?}",
        rig.mutating_requests()
    );
    assert_eq!(env_secrets(&rig), ["DEPLOY_KEY", "STRAY"]);
    let again = rig.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "not converged:\n{}", again.stdout);
}
