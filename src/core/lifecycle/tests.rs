use super::*;
use crate::core::live::LiveSnapshot;
use crate::core::plan::types::{Action, PlanSummary};
use serde_json::json;

fn a(s: &str) -> Address {
    Address::parse(s).unwrap()
}

fn entry(protect: bool) -> ManagedEntry {
    ManagedEntry {
        first: "sha256:1".into(),
        last: "sha256:1".into(),
        protect,
    }
}

fn fly_desired(yaml: &str) -> Desired {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn a_retired_app_takes_its_machines_ips_and_secrets_and_never_the_unmanaged() {
    let desired = fly_desired("fly: { org: pay-ready, apps: { keep: { image: i } } }");
    let expected = crate::core::lower::lower(&desired);
    let managed: ManagedSet = [
        (a("fly.app.gone"), entry(false)),
        (a("fly.app.gone.volume.data"), entry(false)),
        (a("fly.app.keep"), entry(false)),
        (a("fly.app.keep.ips"), entry(false)),
    ]
    .into();
    let r = retired(&desired, &expected, &managed);
    let shown: Vec<String> = r.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            // In the order of the address kinds.
            "fly.app.gone",
            "fly.app.gone.secrets",
            "fly.app.gone.machines",
            "fly.app.gone.ips",
            "fly.app.gone.volume.data",
            // `fly.app.keep.ips` is not retired: IPs have no delete while the app stays.
        ]
    );
}

#[test]
fn a_paused_provider_retires_nothing() {
    let desired =
        fly_desired("providers: { fly: paused }\nfly: { org: pay-ready, apps: { keep: {} } }");
    let managed: ManagedSet = [(a("fly.app.gone"), entry(false))].into();
    let expected = crate::core::lower::lower(&desired);
    assert!(retired(&desired, &expected, &managed).is_empty());
}

fn change(address: &str, action: ChangeKind) -> Change {
    Change {
        address: a(address),
        action,
        before: json!({}),
        after: json!({}),
        diff: Vec::new(),
    }
}

#[test]
fn protection_holds_from_desired_and_from_the_managed_set() {
    let deletes = [change("fly.app.x.machines", ChangeKind::Delete)];
    let roots: BTreeSet<Address> = [a("fly.app.x")].into();
    let err = check_protection(&deletes, &roots, &ManagedSet::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the plan would delete protected resource: `fly.app.x.machines` (delete)"
    );
    let managed: ManagedSet = [(a("fly.app.x"), entry(true))].into();
    assert!(check_protection(&deletes, &BTreeSet::new(), &managed).is_err());
    let unprotected: ManagedSet = [(a("fly.app.x"), entry(false))].into();
    assert!(check_protection(&deletes, &BTreeSet::new(), &unprotected).is_ok());
    let updates = [change("fly.app.x.machines", ChangeKind::Update)];
    assert!(check_protection(&updates, &roots, &managed).is_ok());
}

fn plan(changes: Vec<Change>, protect: BTreeMap<Address, bool>) -> Plan {
    Plan {
        format: String::new(),
        tool_version: String::new(),
        tool_source: String::new(),
        created_at: String::new(),
        not_after: String::new(),
        nonce: String::new(),
        desired: crate::core::plan::types::DesiredRef {
            digest: String::new(),
            git_commit: None,
            git_dirty: false,
        },
        live: BTreeMap::new(),
        summary: PlanSummary::of(&changes),
        changes,
        actions: Vec::<Action>::new(),
        targets: Vec::new(),
        cost: None,
        policy: None,
        protect,
        unmanaged: Vec::new(),
        digest: "sha256:2".into(),
    }
}

#[test]
fn record_adds_refreshes_removes_and_protects() {
    let managed: ManagedSet = [
        (a("fly.app.old"), entry(false)),
        (a("fly.app.kept"), entry(false)),
    ]
    .into();
    let p = plan(
        vec![
            change("fly.app.new", ChangeKind::Create),
            change("fly.app.kept", ChangeKind::Update),
            change("fly.app.old", ChangeKind::Delete),
            change("fly.app.failed", ChangeKind::Create),
        ],
        [(a("fly.app.new"), true)].into(),
    );
    let done: BTreeSet<Address> = [a("fly.app.new"), a("fly.app.kept"), a("fly.app.old")].into();
    let out = record(&managed, &p, &done);
    let shown: Vec<(String, &str, &str, bool)> = out
        .iter()
        .map(|(k, e)| (k.to_string(), e.first.as_str(), e.last.as_str(), e.protect))
        .collect();
    assert_eq!(
        shown,
        [
            ("fly.app.kept".to_string(), "sha256:1", "sha256:2", false),
            ("fly.app.new".to_string(), "sha256:2", "sha256:2", true),
        ]
    );
}

#[test]
fn unmanaged_is_live_minus_desired_managed_and_ignored() {
    let desired = fly_desired("fly: { org: pay-ready, apps: { mine: {} } }");
    let expected = crate::core::lower::lower(&desired);
    let lifecycle = Lifecycle {
        managed: [(a("fly.app.owned"), entry(false))].into(),
        inventory: vec![
            a("fly.app.mine"),
            a("fly.app.owned"),
            a("fly.app.stray"),
            a("fly.app.legacy-1"),
        ],
        ignore: Ignore::parse("i", "fly.app.legacy-*").unwrap(),
        ..Lifecycle::default()
    };
    assert_eq!(
        unmanaged(
            &lifecycle,
            &expected,
            &LiveSnapshot::new("2026-01-01T00:00:00Z")
        ),
        vec![a("fly.app.stray")]
    );
    assert_eq!(
        import_command(&a("fly.app.stray")),
        "sophia import fly.app.stray"
    );
}
