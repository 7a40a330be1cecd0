use super::*;
use crate::core::live::LiveSnapshot;
use crate::core::plan::types::Change;
use crate::core::plan::types::{Action, PlanSummary};
use serde_json::json;
use std::collections::BTreeMap;

fn a(s: &str) -> Address {
    Address::parse(s).unwrap()
}

fn entry(protect: bool) -> ManagedEntry {
    ManagedEntry {
        first: "sha256:1".into(),
        last: "sha256:1".into(),
        protect,
        protect_names: BTreeSet::new(),
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

/// [`check_protection`] with what the managed set protects alone.
fn by_managed(changes: &[Change], managed: &ManagedSet) -> Result<(), ProtectedError> {
    let (unsets, names) = (BTreeMap::new(), NameFlags::new());
    check_protection(changes, &unsets, &BTreeSet::new(), &names, managed)
}

/// [`check_protection`] with the scopes desired/ protects alone.
fn by_roots(changes: &[Change], roots: &BTreeSet<String>) -> Result<(), ProtectedError> {
    let (unsets, names) = (BTreeMap::new(), NameFlags::new());
    check_protection(changes, &unsets, roots, &names, &ManagedSet::new())
}

#[test]
fn protection_holds_from_desired_and_from_the_managed_set() {
    let deletes = [change("fly.app.x.machines", ChangeKind::Delete)];
    let roots: BTreeSet<String> = ["fly.app.x".to_string()].into();
    let none = NameFlags::new();
    let err = by_roots(&deletes, &roots).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the plan would delete protected resource: `fly.app.x.machines` (delete)"
    );
    let managed: ManagedSet = [(a("fly.app.x"), entry(true))].into();
    assert!(by_managed(&deletes, &managed).is_err());
    let unprotected: ManagedSet = [(a("fly.app.x"), entry(false))].into();
    assert!(by_managed(&deletes, &unprotected).is_ok());
    let updates = [change("fly.app.x.machines", ChangeKind::Update)];
    assert!(check_protection(&updates, &BTreeMap::new(), &roots, &none, &managed).is_ok());
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
        protect_names: BTreeMap::new(),
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

const EVERY_KIND: &str = r#"
fly:
  org: o
  apps:
    app: { image: i, protect: true }
    plain: { image: i, secrets: [A, { name: KEEP, protect: true }] }
qdrant:
  collections:
    chunks: { size: 3, distance: Cosine, protect: true }
    scratch: { size: 3, distance: Cosine }
github:
  orgs:
    acme:
      rulesets: { org-main: { enforcement: active, protect: true }, other: { enforcement: active } }
    whole: { protect: true, rulesets: { any: { enforcement: active } } }
  repos:
    acme/one:
      branches: { main: { protection: {}, protect: true } }
      environments:
        prod: { protect: true }
        dev: { secrets: [{ name: S, protect: true }], variables: { V: { value: v, protect: true }, W: w } }
      rulesets: { tags: { enforcement: active, protect: true } }
      actions_secrets: [PLAIN, { name: TOKEN, protect: true }]
      actions_variables: { REGION: { value: ord, protect: true }, OTHER: x }
      collaborators: { ceo: { permission: admin, protect: true }, dev: push }
      teams: { ops: { permission: maintain, protect: true } }
    acme/all:
      protect: true
      actions_secrets: [X]
"#;

#[test]
fn protect_true_marks_every_kind_and_the_repository_and_organization_scopes() {
    let desired = fly_desired(EVERY_KIND);
    let roots: Vec<String> = protected_roots(&desired).into_iter().collect();
    assert_eq!(
        roots,
        [
            "fly.app.app",
            "github.org.acme.ruleset.org-main",
            "github.org.whole",
            "github.repo.acme/all",
            "github.repo.acme/one.branch.main.protection",
            "github.repo.acme/one.collaborator.ceo",
            "github.repo.acme/one.environment.prod",
            "github.repo.acme/one.ruleset.tags",
            "github.repo.acme/one.secret.TOKEN",
            "github.repo.acme/one.team.ops",
            "github.repo.acme/one.variable.REGION",
            "qdrant.collection.chunks",
        ]
    );
    let names = protected_names(&desired);
    let shown: Vec<(String, &String, bool)> = names
        .iter()
        .flat_map(|(a, n)| n.iter().map(move |(n, p)| (a.to_string(), n, *p)))
        .collect();
    assert_eq!(
        shown
            .iter()
            .map(|(a, n, p)| format!("{a} {n} {p}"))
            .collect::<Vec<_>>(),
        [
            "fly.app.plain.secrets secret.A false",
            "fly.app.plain.secrets secret.KEEP true",
            "github.repo.acme/one.environment.dev secret.S true",
            "github.repo.acme/one.environment.dev variable.V true",
            "github.repo.acme/one.environment.dev variable.W false",
        ]
    );
    // `protect` is sophia's: never part of a ruleset's body nor of a permission or value.
    let expected = crate::core::lower::lower(&desired);
    let tags = &expected[&a("github.repo.acme/one.ruleset.tags")];
    assert!(tags.get("protect").is_none(), "{tags}");
    assert_eq!(
        expected[&a("github.repo.acme/one.collaborator.ceo")],
        json!({"permission": "admin"})
    );
    assert_eq!(
        expected[&a("github.repo.acme/one.environment.dev")]["variables"],
        json!({"V": "v", "W": "w"})
    );
    // The repository and organization scopes cover every desired address under them.
    let flags = protect_flags(&expected, &protected_roots(&desired), &ManagedSet::new());
    for covered in [
        "github.repo.acme/all.secret.X",
        "github.org.whole.ruleset.any",
        "qdrant.collection.chunks",
        "github.repo.acme/one.variable.REGION",
    ] {
        assert_eq!(flags.get(&a(covered)), Some(&true), "{covered}");
    }
    for not in [
        "github.org.acme.ruleset.other",
        "github.repo.acme/one.secret.PLAIN",
        "github.repo.acme/one.collaborator.dev",
        "qdrant.collection.scratch",
    ] {
        assert!(!flags.contains_key(&a(not)), "{not}");
    }
}

#[test]
fn without_protect_a_plan_changes_no_flag() {
    let desired = fly_desired(&EVERY_KIND.replace("protect: true", "protect: false"));
    let expected = crate::core::lower::lower(&desired);
    let managed = ManagedSet::new();
    assert!(protect_flags(&expected, &protected_roots(&desired), &managed).is_empty());
    let names = protected_names(&desired);
    assert!(protect_name_flags(&expected, &names, &managed).is_empty());
}

#[test]
fn a_protected_name_blocks_the_delete_of_its_address_even_once_gone_from_the_list() {
    let with =
        fly_desired("fly: { org: o, apps: { a: { secrets: [A, { name: K, protect: true }] } } }");
    let expected = crate::core::lower::lower(&with);
    let names = protected_names(&with);
    let flags = protect_name_flags(&expected, &names, &ManagedSet::new());
    let secrets = a("fly.app.a.secrets");
    assert_eq!(flags[&secrets], [("secret.K".to_string(), true)].into());
    let mut p = plan(
        vec![change("fly.app.a.secrets", ChangeKind::Create)],
        BTreeMap::new(),
    );
    p.protect_names = flags;
    let managed = record(&ManagedSet::new(), &p, &[secrets.clone()].into());
    assert_eq!(
        managed[&secrets].protect_names,
        ["secret.K".to_string()].into()
    );
    // Recorded: the same desired state changes nothing more.
    assert!(protect_name_flags(&expected, &names, &managed).is_empty());

    // `K` gone from the list: its protection stays (no flag changes), and the delete of the
    // whole list (which would unset `K`) is refused, naming it.
    let without = fly_desired("fly: { org: o, apps: { a: { secrets: [A] } } }");
    let expected = crate::core::lower::lower(&without);
    let names = protected_names(&without);
    assert!(protect_name_flags(&expected, &names, &managed).is_empty());
    let deletes = [change("fly.app.a.secrets", ChangeKind::Delete)];
    let err = by_managed(&deletes, &managed).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the plan would delete protected resource: `fly.app.a.secrets` (delete, which holds \
         protected `secret.K`)"
    );
    // Listed again without `protect`: unprotected, and the delete may go.
    let plain = fly_desired("fly: { org: o, apps: { a: { secrets: [A, K] } } }");
    let expected = crate::core::lower::lower(&plain);
    let flags = protect_name_flags(&expected, &protected_names(&plain), &managed);
    assert_eq!(flags[&secrets], [("secret.K".to_string(), false)].into());
    let mut p = plan(Vec::new(), BTreeMap::new());
    p.protect_names = flags;
    let managed = record(&managed, &p, &BTreeSet::new());
    assert!(managed[&secrets].protect_names.is_empty());
    assert!(by_managed(&deletes, &managed).is_ok());
}

#[test]
fn a_protected_repository_or_organization_survives_in_the_managed_set() {
    let managed: ManagedSet = [
        (a("github.repo.o/r.secret.A"), entry(true)),
        (a("github.org.acme.ruleset.main"), entry(true)),
    ]
    .into();
    let deletes = [
        change("github.repo.o/r.secret.A", ChangeKind::Delete),
        change("github.org.acme.ruleset.main", ChangeKind::Delete),
        change("github.repo.o/r.variable.B", ChangeKind::Delete),
    ];
    let err = by_managed(&deletes, &managed).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the plan would delete protected resources: `github.repo.o/r.secret.A` (delete), \
         `github.org.acme.ruleset.main` (delete)"
    );
    // A repository root protects what desired/ does not name yet, by its scope.
    let roots: BTreeSet<String> = ["github.repo.o/r".to_string()].into();
    let err = by_roots(&deletes[2..], &roots).unwrap_err();
    assert_eq!(
        err.changes,
        [(a("github.repo.o/r.variable.B"), ChangeKind::Delete)]
    );
    // `o/r.x` is another repository.
    let other = [change("github.repo.o/r.x.secret.A", ChangeKind::Delete)];
    assert!(by_roots(&other, &roots).is_ok());
}
