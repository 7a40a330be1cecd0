//! Issue 18, findings 3 and 6, against the sandbox: a plan runs once (local and PostgreSQL
//! backends), an apply whose proofs cannot be written makes no call, and every action's
//! intent is journaled before it runs.

use serde_json::Value;
use sophia::backend::Backend;
use sophia::proofs::journal::INTENT_STATUS;
use sophia::proofs::{NewRecord, ProofKind, ProofStore, VerifyError};

use crate::apply::{DESIRED, Rig};
use crate::backend::TestDb;

/// Make a plan of the current desired state, sign it, and keep it as `NAME.json` (+ `.sig`).
fn signed_plan(rig: &Rig, name: &str) -> String {
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let root = rig.repo.root();
    std::fs::rename(root.join("plan.json"), root.join(format!("{name}.json"))).unwrap();
    std::fs::rename(
        root.join("plan.json.sig"),
        root.join(format!("{name}.json.sig")),
    )
    .unwrap();
    let plan: Value =
        serde_json::from_slice(&std::fs::read(root.join(format!("{name}.json"))).unwrap()).unwrap();
    plan["digest"].as_str().unwrap().to_string()
}

fn apply(rig: &Rig, name: &str) -> crate::support::Output {
    let plan = format!("{name}.json");
    let sig = format!("{name}.json.sig");
    rig.run(&["apply", &plan, "--signature", &sig])
}

/// Apply A (v1), B (v2), then A again: the third is refused as a replay, naming when A
/// was applied, with no mutating call and the live image still B's.
fn a_b_a(rig: &Rig) {
    let a = signed_plan(rig, "a");
    let out = apply(rig, "a");
    assert_eq!(out.code, 0, "A: {}", out.stderr);
    rig.repo.file(
        "desired/main.yaml",
        &DESIRED.replace("app-one:v1", "app-one:v2"),
    );
    signed_plan(rig, "b");
    let out = apply(rig, "b");
    assert_eq!(out.code, 0, "B: {}", out.stderr);
    let image = || {
        rig.sandbox.with_world(|w| {
            w.fly.apps["app-one"]
                .machines
                .values()
                .map(|m| m.config["image"].to_string())
                .collect::<Vec<_>>()
        })
    };
    let before = image();

    rig.sandbox.clear_requests();
    let out = rig.run(&["--json", "apply", "a.json", "--signature", "a.json.sig"]);
    assert_eq!(out.code, 1, "A again was not refused:\n{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "the plan `{a}` was already applied: its apply started at"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("\"code\": \"replayed\""),
        "{}",
        out.stdout
    );
    assert_eq!(rig.mutating_requests(), Vec::<String>::new());
    assert_eq!(image(), before, "A ran again");
    assert_eq!(rig.run(&["proofs", "verify"]).code, 0);
}

#[test]
fn a_plan_applied_once_is_refused_the_second_time_local() {
    a_b_a(&Rig::new());
}

#[test]
fn a_plan_applied_once_is_refused_the_second_time_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new());
    let mut rig = Rig::new();
    rig.env.push(("SOPHIA_BACKEND".into(), db.url()));
    a_b_a(&rig);
}

/// The PostgreSQL claim: once per digest and once per nonce, even with the other changed.
#[tokio::test]
async fn postgres_claims_each_digest_and_each_nonce_once() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::open(dir.path(), Some(&db.url())).await.unwrap();
    assert_eq!(backend.applied("sha256:d1", "n1").await.unwrap(), None);
    assert_eq!(backend.claim("sha256:d1", "n1").await.unwrap(), None);
    let same_digest = backend.claim("sha256:d1", "n2").await.unwrap().unwrap();
    assert_eq!(
        (same_digest.digest.as_str(), same_digest.nonce.as_str()),
        ("sha256:d1", "n1")
    );
    let same_nonce = backend.claim("sha256:d2", "n1").await.unwrap().unwrap();
    assert_eq!(same_nonce.digest, "sha256:d1");
    assert!(same_nonce.at.ends_with('Z'), "{}", same_nonce.at);
    assert_eq!(backend.claim("sha256:d2", "n2").await.unwrap(), None);
}

/// Plant something in the way of the apply's proofs, then apply: refused, no call made.
fn refused_without_a_call(plant: impl Fn(&std::path::Path, &str)) {
    let rig = Rig::new();
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let text = std::fs::read_to_string(rig.repo.root().join("plan.json")).unwrap();
    let plan: Value = serde_json::from_str(&text).unwrap();
    let hex = plan["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    plant(rig.repo.root(), hex);
    rig.sandbox.clear_requests();
    let out = rig.run(&["--json", "apply", "plan.json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot write the proof"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("\"code\": \"proofs-not-writable\""),
        "{}",
        out.stdout
    );
    assert_eq!(rig.mutating_requests(), Vec::<String>::new());
    assert!(!out.stderr.contains("succeeded"), "{}", out.stderr);
}

#[test]
fn a_symlinked_proof_folder_refuses_the_apply_before_any_call() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().to_path_buf();
    refused_without_a_call(move |root, hex| {
        std::fs::create_dir_all(root.join("proofs/apply")).unwrap();
        std::os::unix::fs::symlink(&target, root.join(format!("proofs/apply/{hex}"))).unwrap();
    });
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

/// A `proofs/apply` that cannot hold files. Permission bits do not stop root (the tests
/// may run as root), so a regular file stands in the way: no directory can be made there.
#[test]
fn an_unwritable_proof_folder_refuses_the_apply_before_any_call() {
    refused_without_a_call(|root, _| {
        std::fs::create_dir_all(root.join("proofs")).unwrap();
        std::fs::write(root.join("proofs/apply"), "in the way").unwrap();
    });
}

/// Every action's intent is journaled before its outcome, with the same kind, plan and
/// address; verify reports nothing interrupted.
#[test]
fn each_action_journals_its_intent_before_its_outcome() {
    let rig = Rig::new();
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(rig.repo.root().join("proofs/journal.jsonl")).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let plan: Value =
        serde_json::from_slice(&std::fs::read(rig.repo.root().join("plan.json")).unwrap()).unwrap();
    let position = |kind: &Value, address: &Value, intent: bool| {
        records.iter().position(|r| {
            &r["kind"] == kind
                && &r["address"] == address
                && r["plan_digest"] == plan["digest"]
                && (r["status"] == INTENT_STATUS) == intent
        })
    };
    let actions = plan["actions"].as_array().unwrap();
    assert!(!actions.is_empty());
    for a in actions {
        let intent = position(&a["kind"], &a["address"], true)
            .unwrap_or_else(|| panic!("no intent for {}", a["id"]));
        let outcome = position(&a["kind"], &a["address"], false)
            .unwrap_or_else(|| panic!("no outcome for {}", a["id"]));
        assert!(intent < outcome, "{}: outcome before intent", a["id"]);
        assert_eq!(records[intent]["proof"], Value::Null);
    }
    let verify = rig.run(&["proofs", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    assert!(!verify.stderr.contains("interrupted"), "{}", verify.stderr);
}

/// A proof written after its intent but before its outcome record (a kill in between) is
/// covered and reported; a proof no record names still fails.
#[test]
fn verify_accepts_an_interrupted_actions_proof_and_refuses_an_unnamed_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = ProofStore::of_repo(dir.path());
    let digest = format!("sha256:{}", "ab".repeat(32));
    let journal = store.journal();
    journal
        .append(
            NewRecord::now("fly.secrets.set", INTENT_STATUS)
                .plan(&digest)
                .address("fly.app.a.secrets"),
        )
        .unwrap();
    let kind = |id: &str| ProofKind::ApplyAction {
        plan_digest: digest.clone(),
        action_id: id.into(),
    };
    store
        .write(&kind("fly.secrets.set:fly.app.a.secrets"), b"{}")
        .unwrap();
    let report = journal.verify(None).unwrap();
    assert_eq!(
        report.interrupted,
        [format!(
            "`fly.secrets.set` on `fly.app.a.secrets` (plan `{digest}`)"
        )]
    );

    store
        .write(&kind("fly.machines.update:fly.app.a"), b"{}")
        .unwrap();
    let err = journal.verify(None).unwrap_err();
    match err.downcast_ref::<VerifyError>() {
        Some(VerifyError::Unjournaled { files }) => assert_eq!(
            files,
            &[format!(
                "apply/{}/fly.machines.update%3Afly.app.a.json",
                "ab".repeat(32)
            )]
        ),
        other => panic!("{other:?}"),
    }
}
