//! `sophia lease show` and `sophia lease break --reason` (issue 14), on the local backend
//! and on PostgreSQL: a lease whose holder is gone is broken and an apply then proceeds; the
//! journal records who broke it and why; a lease whose holder is alive on this host is not
//! broken.

use sophia::backend::{LeaseInfo, this_host};

use crate::apply::Rig;

/// A lease held by `host`/`pid` for another hour.
fn lease(host: &str, pid: u32) -> LeaseInfo {
    let now = chrono::Utc::now();
    LeaseInfo {
        holder: format!("mo@{host} pid {pid}"),
        user: "mo".into(),
        host: host.into(),
        pid,
        since: now - chrono::TimeDelta::minutes(5),
        expires_at: now + chrono::TimeDelta::hours(1),
        token: format!("{:032x}", rand::random::<u128>()),
    }
}

fn write_local(rig: &Rig, info: &LeaseInfo) {
    rig.repo
        .file(".infra/.lock", &serde_json::to_string_pretty(info).unwrap());
}

/// The `lease.break` proof of the journal's records, as JSON.
fn break_proofs(rig: &Rig) -> Vec<serde_json::Value> {
    let out = rig.run(&["--json", "proofs", "verify"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let journal = |backend: Option<&str>| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let b = sophia::backend::Backend::open(rig.repo.root(), backend)
                .await
                .unwrap();
            b.journal().await.unwrap()
        })
    };
    let spec = rig
        .env
        .iter()
        .find(|(k, _)| k == "SOPHIA_BACKEND")
        .map(|(_, v)| v.clone());
    journal(spec.as_deref())
        .into_iter()
        .filter(|r| r.kind == "lease.break")
        .map(|r| {
            let text =
                std::fs::read_to_string(rig.repo.root().join("proofs").join(r.proof.unwrap()))
                    .unwrap();
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["results"][0].clone()
        })
        .collect()
}

#[test]
fn a_gone_holders_lease_is_broken_then_an_apply_proceeds_local() {
    let rig = Rig::new();
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    // A runner elsewhere crashed holding the lease: apply refuses, naming it.
    let gone = lease("ci-runner-9", 4242);
    write_local(&rig, &gone);
    let held = rig.run(&["apply", "plan.json"]);
    assert_eq!(held.code, 1, "{}", held.stderr);
    assert!(
        held.stderr.contains("held by `mo@ci-runner-9 pid 4242`"),
        "{}",
        held.stderr
    );
    assert!(rig.mutating_requests().is_empty());

    let show = rig.run(&["lease", "show"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(
        show.stdout
            .starts_with("holder: mo@ci-runner-9 pid 4242\nsince:  "),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("\nuntil:  "), "{}", show.stdout);

    let broke = rig.run(&[
        "lease",
        "break",
        "--reason",
        "runner 9 was lost with its VM",
    ]);
    assert_eq!(broke.code, 0, "{}", broke.stderr);
    assert!(
        broke
            .stdout
            .contains("broke the apply lease of `mo@ci-runner-9 pid 4242`")
    );
    assert!(!rig.repo.root().join(".infra/.lock").exists());
    assert_eq!(
        rig.run(&["lease", "show"]).stdout.lines().next().unwrap(),
        "no apply lease is held (local)"
    );

    let applied = rig.run(&["apply", "plan.json"]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let proofs = break_proofs(&rig);
    assert_eq!(proofs.len(), 1);
    assert_eq!(proofs[0]["previous"]["holder"], "mo@ci-runner-9 pid 4242");
    assert_eq!(proofs[0]["reason"], "runner 9 was lost with its VM");
    let by = proofs[0]["broken_by"].as_str().unwrap();
    assert!(by.contains(&format!("@{} pid ", this_host())), "{by}");
    let text = serde_json::to_string(&proofs[0]).unwrap();
    assert!(
        !text.contains(&gone.token),
        "the token is not journaled: {text}"
    );
}

#[test]
fn a_live_holder_on_this_host_is_not_broken_local() {
    let rig = Rig::new();
    // This test process holds it: alive on this host.
    let alive = lease(&this_host(), std::process::id());
    write_local(&rig, &alive);
    let before = std::fs::read(rig.repo.root().join(".infra/.lock")).unwrap();
    let out = rig.run(&["lease", "break", "--reason", "impatient"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("is alive on this host"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("hint:"), "{}", out.stderr);
    assert_eq!(
        std::fs::read(rig.repo.root().join(".infra/.lock")).unwrap(),
        before
    );
    assert!(!rig.repo.root().join("proofs/journal.jsonl").exists());
    // No lease at all: nothing to break.
    std::fs::remove_file(rig.repo.root().join(".infra/.lock")).unwrap();
    let none = rig.run(&["lease", "break", "--reason", "x"]);
    assert_eq!(none.code, 1);
    assert!(
        none.stderr.contains("no apply lease is held"),
        "{}",
        none.stderr
    );
}

async fn pg_write(url: &str, root: &std::path::Path, info: &LeaseInfo) {
    // Opening the backend creates the tables.
    sophia::backend::Backend::open(root, Some(url))
        .await
        .unwrap();
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .execute(
            "INSERT INTO sophia_lease (name, holder, username, host, pid, token, since, expires_at)
             VALUES ('apply', $1, $2, $3, $4, $5, now() - interval '5 minutes', now() + interval '1 hour')",
            &[&info.holder, &info.user, &info.host, &i64::from(info.pid), &info.token],
        )
        .await
        .unwrap();
}

#[test]
fn with_postgres_a_lease_is_shown_broken_and_journaled_and_a_live_one_is_kept() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(crate::backend::TestDb::new());
    let mut rig = Rig::new();
    rig.env.push(("SOPHIA_BACKEND".into(), db.url()));
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");

    // Alive on this host: refused, the row stays.
    let alive = lease(&this_host(), std::process::id());
    runtime.block_on(pg_write(&db.url(), rig.repo.root(), &alive));
    let show = rig.run(&["lease", "show"]);
    assert!(
        show.stdout
            .starts_with(&format!("holder: {}\n", alive.holder)),
        "{}",
        show.stdout
    );
    let refused = rig.run(&["lease", "break", "--reason", "impatient"]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("is alive on this host"),
        "{}",
        refused.stderr
    );
    let still = rig.run(&["--json", "lease", "show"]);
    let env: serde_json::Value = serde_json::from_str(&still.stdout).unwrap();
    assert_eq!(env["results"][0]["lease"]["holder"], alive.holder.as_str());
    assert_eq!(env["results"][0]["lease"]["alive_here"], true);

    // Its holder gone (another host): broken, journaled, then the apply runs.
    runtime.block_on(async {
        let (client, conn) = tokio_postgres::connect(&db.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .execute("DELETE FROM sophia_lease", &[])
            .await
            .unwrap();
    });
    let gone = lease("ci-runner-3", 99);
    runtime.block_on(pg_write(&db.url(), rig.repo.root(), &gone));
    let broke = rig.run(&["lease", "break", "--reason", "runner 3 is gone"]);
    assert_eq!(broke.code, 0, "{}", broke.stderr);
    assert!(
        rig.run(&["lease", "show"])
            .stdout
            .starts_with("no apply lease is held (postgres://")
    );
    let applied = rig.run(&["apply", "plan.json"]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert!(!applied.stderr.contains("took over"), "{}", applied.stderr);
    let proofs = break_proofs(&rig);
    assert_eq!(proofs.len(), 1);
    assert_eq!(proofs[0]["previous"]["holder"], "mo@ci-runner-3 pid 99");
    assert_eq!(proofs[0]["reason"], "runner 3 is gone");
    drop(db);
}
