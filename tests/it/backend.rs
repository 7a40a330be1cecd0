//! Backends: the local lease (real races between threads released by a barrier, expired
//! and dead-holder takeovers) and the PostgreSQL backend against the real server at
//! 127.0.0.1:5432 (each test in its own database, dropped at the end).

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use sophia::backend::local::LocalLease;
use sophia::backend::{
    Backend, Holder, LeaseError, LeaseInfo, PlanRecord, TakeoverReason, this_host,
};
use sophia::proofs::{NewRecord, ProofKind, VerifyError};

/// A TTL no test outlives.
const TTL: Duration = Duration::from_secs(600);

fn holder(user: &str) -> Holder {
    Holder {
        user: user.into(),
        host: this_host(),
        pid: std::process::id(),
    }
}

fn write_lock(root: &Path, info: &LeaseInfo) {
    std::fs::create_dir_all(root.join(".infra")).unwrap();
    std::fs::write(
        root.join(".infra/.lock"),
        serde_json::to_vec_pretty(info).unwrap(),
    )
    .unwrap();
}

fn stale(holder: &str, host: &str, pid: u32, expires_in: chrono::TimeDelta) -> LeaseInfo {
    let now = chrono::Utc::now();
    LeaseInfo {
        holder: format!("{holder}@{host} pid {pid}"),
        user: holder.into(),
        host: host.into(),
        pid,
        since: now - chrono::TimeDelta::hours(1),
        expires_at: now + expires_in,
        token: "old".into(),
    }
}

#[test]
fn local_lease_race_has_exactly_one_winner() {
    const RACERS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let barrier = Arc::new(Barrier::new(RACERS));
    let handles: Vec<_> = (0..RACERS)
        .map(|i| {
            let lease = LocalLease::new(dir.path());
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                lease.acquire(&holder(&format!("racer{i}")), TTL)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let winner = &winners[0].lease;
    assert!(winners[0].took_over.is_none());
    for r in &results {
        match r {
            Ok(_) => {}
            Err(LeaseError::Held(info)) => {
                assert_eq!(info.holder, winner.holder);
                let msg = r.as_ref().unwrap_err().to_string();
                assert!(msg.contains(&winner.holder), "{msg}");
                assert!(
                    msg.contains(&winner.since.format("%Y-%m-%dT%H:%M:%S").to_string()),
                    "{msg}"
                );
            }
            Err(e) => panic!("{e}"),
        }
    }
    // The lock file is the winner's, complete.
    let on_disk = LocalLease::new(dir.path()).read().unwrap().unwrap();
    assert_eq!(&on_disk, winner);
}

#[test]
fn local_lease_is_held_released_and_free_again() {
    let dir = tempfile::tempdir().unwrap();
    let lease = LocalLease::new(dir.path());
    let first = lease.acquire(&holder("alice"), TTL).unwrap();
    let err = lease.acquire(&holder("bob"), TTL).unwrap_err();
    insta::with_settings!({filters => vec![
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"),
        (r"@[^ ]+ pid \d+", "@[HOST] pid [PID]"),
    ]}, {
        insta::assert_snapshot!(err.to_string());
    });
    assert!(lease.release(&first.lease).unwrap());
    assert!(!dir.path().join(".infra/.lock").exists());
    lease.acquire(&holder("bob"), TTL).unwrap();
}

#[test]
fn an_expired_local_lease_is_taken_over_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    // A holder on another host, expired a minute ago.
    let old = stale("carol", "ci-runner-7", 4242, -chrono::TimeDelta::minutes(1));
    write_lock(dir.path(), &old);
    let got = LocalLease::new(dir.path())
        .acquire(&holder("dave"), TTL)
        .unwrap();
    let t = got.took_over.expect("a takeover");
    assert_eq!(t.reason, TakeoverReason::Expired);
    assert_eq!(t.previous, old);
    assert!(
        t.to_string()
            .starts_with("took over the lease of `carol@ci-runner-7 pid 4242`")
    );
    assert_eq!(
        LocalLease::new(dir.path()).read().unwrap().unwrap(),
        got.lease
    );
    // The old holder can no longer renew or release it.
    let lost = LocalLease::new(dir.path()).renew(&old, TTL).unwrap_err();
    assert!(matches!(lost, LeaseError::Lost { .. }), "{lost}");
    assert!(!LocalLease::new(dir.path()).release(&old).unwrap());
}

#[test]
fn a_dead_holder_on_this_host_is_taken_over_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap(); // reaped: /proc/<pid> is gone
    let old = stale("erin", &this_host(), pid, chrono::TimeDelta::hours(1));
    write_lock(dir.path(), &old);
    let got = LocalLease::new(dir.path())
        .acquire(&holder("frank"), TTL)
        .unwrap();
    let t = got.took_over.expect("a takeover");
    assert_eq!(t.reason, TakeoverReason::HolderGone);
    assert!(
        t.to_string()
            .contains(&format!("its process {pid} is gone"))
    );
}

#[test]
fn a_live_holder_on_this_host_or_elsewhere_is_not_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    // This very process is alive.
    let mine = stale(
        "gina",
        &this_host(),
        std::process::id(),
        chrono::TimeDelta::hours(1),
    );
    write_lock(dir.path(), &mine);
    assert!(matches!(
        LocalLease::new(dir.path()).acquire(&holder("hank"), TTL),
        Err(LeaseError::Held(_))
    ));
    // A pid on another host is never judged from here.
    let remote = stale("ivy", "elsewhere", 1, chrono::TimeDelta::hours(1));
    write_lock(dir.path(), &remote);
    assert!(matches!(
        LocalLease::new(dir.path()).acquire(&holder("hank"), TTL),
        Err(LeaseError::Held(_))
    ));
}

#[tokio::test]
async fn the_local_guard_renews_and_releases_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::open(dir.path(), None).await.unwrap();
    let mut acquired = backend.acquire(&holder("jo"), TTL).await.unwrap();
    let before = acquired.guard.info().expires_at;
    acquired.guard.renew(TTL * 2).await.unwrap();
    assert!(acquired.guard.info().expires_at > before);
    assert_eq!(
        backend.lease().await.unwrap().as_ref(),
        Some(acquired.guard.info())
    );
    drop(acquired);
    assert_eq!(backend.lease().await.unwrap(), None);
}

#[tokio::test]
async fn local_plan_records_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::open(dir.path(), Some("local")).await.unwrap();
    let plan = plan_record();
    let refs = backend.store_plan(&plan).await.unwrap();
    let paths: Vec<_> = refs.iter().map(|r| r.path().to_string()).collect();
    let hex = "cd".repeat(32);
    assert_eq!(
        paths,
        [
            format!("plans/{hex}.json"),
            format!("plans/{hex}.json.sig"),
            format!("plans/{hex}.json.2.sig"),
            format!("plans/{hex}.record.json"),
        ]
    );
    assert_eq!(backend.load_plan(&plan.digest).await.unwrap(), Some(plan));
    assert_eq!(backend.load_plan("sha256:00").await.unwrap(), None);
}

fn plan_record() -> PlanRecord {
    PlanRecord {
        digest: format!("sha256:{}", "cd".repeat(32)),
        plan: "{\"format\": \"sophia-plan/v1\"}\n".into(),
        signatures: vec![
            "-----BEGIN SSH SIGNATURE-----\nAAA\n-----END SSH SIGNATURE-----\n".into(),
            "-----BEGIN SSH SIGNATURE-----\nBBB\n-----END SSH SIGNATURE-----\n".into(),
        ],
        approver: Some("the-ceo".into()),
        status: "approved".into(),
    }
}

#[tokio::test]
async fn a_bad_backend_value_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = Backend::open(dir.path(), Some("mysql://u:pw@h/db"))
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("pw"), "{err}");
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

/// The test server (DESIGN/BRIEF: 127.0.0.1:5432, user postgres, trust auth).
const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database of its own for one test, dropped (with `FORCE`) when this is dropped, even
/// when the test panics.
pub(crate) struct TestDb {
    name: String,
}

impl TestDb {
    pub(crate) async fn new() -> TestDb {
        let name = format!("sophia_test_{:016x}", rand::random::<u64>());
        let admin = admin().await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        TestDb { name }
    }
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }
    async fn backend(&self, root: &Path) -> Backend {
        Backend::open(root, Some(&self.url())).await.unwrap()
    }
    pub(crate) async fn sql(&self, sql: &str) {
        let (client, conn) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client.batch_execute(sql).await.unwrap();
    }
}

async fn admin() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(ADMIN_URL, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for this test and is not reachable at 127.0.0.1:5432 \
                 as user `postgres` ({e}); start it (CI's .ci/run does)"
            )
        });
    tokio::spawn(conn);
    client
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // A thread of its own: this may run inside (or outside) a tokio runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                admin()
                    .await
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .unwrap();
            });
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_lease_race_has_exactly_one_winner() {
    const RACERS: usize = 6;
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    // Each racer has its own connection, opened (and the schema created) concurrently.
    let backends: Vec<Backend> =
        futures::future::join_all((0..RACERS).map(|_| db.backend(dir.path()))).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let backends = Arc::new(backends);
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (barrier, backends) = (barrier.clone(), backends.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                backends[i]
                    .acquire(&holder(&format!("racer{i}")), TTL)
                    .await
                    .map(|a| {
                        let info = a.guard.info().clone();
                        std::mem::forget(a.guard); // keep the lease held
                        info
                    })
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let winners: Vec<&LeaseInfo> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in &results {
        match r {
            Ok(_) => {}
            Err(LeaseError::Held(info)) => {
                assert_eq!(info.holder, winners[0].holder);
                assert!(r.as_ref().unwrap_err().to_string().contains(&info.holder));
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        backends[0].lease().await.unwrap().as_ref(),
        Some(winners[0])
    );
}

#[tokio::test]
async fn postgres_lease_expires_is_taken_over_renewed_and_released() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let a = db.backend(dir.path()).await;
    let b = db.backend(dir.path()).await;
    // A zero TTL expires at the server's now(): the next transaction sees it expired.
    let first = a.acquire(&holder("kim"), Duration::ZERO).await.unwrap();
    let second = b.acquire(&holder("lee"), TTL).await.unwrap();
    let t = second.took_over.as_ref().expect("a takeover");
    assert_eq!(t.reason, TakeoverReason::Expired);
    assert_eq!(&t.previous.holder, &first.guard.info().holder);
    // The old guard has lost it.
    let mut old = first.guard;
    assert!(matches!(old.renew(TTL).await, Err(LeaseError::Lost { .. })));
    old.release().await.unwrap(); // leaves the new lease alone
    let mut guard = second.guard;
    guard.renew(TTL * 2).await.unwrap();
    assert_eq!(a.lease().await.unwrap().as_ref(), Some(guard.info()));
    assert!(matches!(
        a.acquire(&holder("kim"), TTL).await,
        Err(LeaseError::Held(_))
    ));
    guard.release().await.unwrap();
    assert_eq!(a.lease().await.unwrap(), None);
    a.acquire(&holder("kim"), TTL)
        .await
        .unwrap()
        .guard
        .release()
        .await
        .unwrap();
}

/// A holder whose database session ended (its process died) is taken over at once, long
/// before its TTL; a holder whose session lives is not.
#[tokio::test]
async fn postgres_lease_of_an_ended_session_is_taken_over_at_once() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let dead = db.backend(dir.path()).await;
    let first = dead.acquire(&holder("kim"), TTL).await.unwrap();
    std::mem::forget(first.guard); // never released: as if killed
    // A live holder's lease is refused to others.
    let other = db.backend(dir.path()).await;
    assert!(matches!(
        other.acquire(&holder("lee"), TTL).await,
        Err(LeaseError::Held(_))
    ));
    drop(other);
    // The holder's session ends (the server would end it on its own when the dead process's
    // socket closes; terminating and waiting makes the test independent of that timing).
    db.sql(
        "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .await;
    drop(dead);
    let next = db.backend(dir.path()).await;
    let acquired = next.acquire(&holder("lee"), TTL).await.unwrap();
    let t = acquired.took_over.as_ref().expect("a takeover");
    assert_eq!(t.reason, TakeoverReason::SessionGone);
    assert!(t.previous.holder.starts_with("kim@"), "{t}");
    assert!(t.to_string().contains("session has ended"), "{t}");
    // Ours is alive: a third party is refused, and after release the lease is free.
    let third = db.backend(dir.path()).await;
    assert!(matches!(
        third.acquire(&holder("max"), TTL).await,
        Err(LeaseError::Held(_))
    ));
    acquired.guard.release().await.unwrap();
    let free = third.acquire(&holder("max"), TTL).await.unwrap();
    assert!(free.took_over.is_none());
    free.guard.release().await.unwrap();
}

async fn append_chain(backend: &Backend, n: usize) {
    for i in 0..n {
        let proof = backend
            .proofs()
            .write(
                &ProofKind::Healthz {
                    app: format!("app{i}"),
                },
                format!("{{\"i\": {i}}}\n").as_bytes(),
            )
            .unwrap();
        backend
            .append(
                NewRecord::now("fly.health.check", "success")
                    .address(format!("fly.app.app{i}"))
                    .proof(proof),
            )
            .await
            .unwrap();
    }
}

fn verify_error(err: anyhow::Error) -> VerifyError {
    err.downcast_ref::<VerifyError>()
        .unwrap_or_else(|| panic!("not a VerifyError: {err:#}"))
        .clone()
}

#[tokio::test]
async fn postgres_journal_appends_verifies_and_detects_updates() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let backend = db.backend(dir.path()).await;
    append_chain(&backend, 4).await;
    let report = backend.verify(None).await.unwrap();
    assert_eq!((report.records, report.files), (4, 4));
    let records = backend.journal().await.unwrap();
    assert_eq!(
        records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(records[0].prev, sophia::proofs::GENESIS);

    // A column edited behind the journal's back.
    db.sql("UPDATE sophia_journal SET status = 'failure' WHERE seq = 2")
        .await;
    match verify_error(backend.verify(None).await.unwrap_err()) {
        VerifyError::ColumnEdited { line, column, .. } => {
            assert_eq!((line, column.as_str()), (2, "status"))
        }
        other => panic!("{other}"),
    }
    // The hashed line edited consistently with its column: the chain names it.
    db.sql(
        "UPDATE sophia_journal SET line = replace(line, '\"status\":\"success\"', '\"status\":\"failure\"') WHERE seq = 2",
    )
    .await;
    let err = verify_error(backend.verify(None).await.unwrap_err());
    assert!(
        matches!(
            err,
            VerifyError::Edited {
                line: 2,
                seq: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("table `sophia_journal` row 2 (seq 2) was edited")
    );

    // A deleted row.
    db.sql("UPDATE sophia_journal SET status = 'success', line = replace(line, '\"status\":\"failure\"', '\"status\":\"success\"') WHERE seq = 2; DELETE FROM sophia_journal WHERE seq = 3").await;
    let err = verify_error(backend.verify(None).await.unwrap_err());
    assert!(
        matches!(
            err,
            VerifyError::Removed {
                line: 3,
                expected: 3,
                found: 4,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn postgres_journal_checks_the_files_it_references() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let backend = db.backend(dir.path()).await;
    append_chain(&backend, 3).await;
    std::fs::write(dir.path().join("proofs/healthz/app1.json"), "{}").unwrap();
    let err = verify_error(backend.verify(None).await.unwrap_err());
    assert!(
        matches!(&err, VerifyError::ChangedFile { line: 2, file, .. } if file == "healthz/app1.json"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_appends_keep_one_chain() {
    const WRITERS: usize = 4;
    const EACH: usize = 8;
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let backend = db.backend(dir.path()).await;
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                backend
                    .append(NewRecord::now("redis.ping", "success").address(format!("w{w}-{i}")))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let backend = db.backend(dir.path()).await;
    assert_eq!(backend.verify(None).await.unwrap().records, WRITERS * EACH);
}

#[tokio::test]
async fn postgres_plan_records_are_upserted() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let backend = db.backend(dir.path()).await;
    let mut plan = plan_record();
    backend.store_plan(&plan).await.unwrap();
    plan.status = "applied".into();
    let refs = backend.store_plan(&plan).await.unwrap();
    assert_eq!(refs.len(), 4);
    assert_eq!(backend.load_plan(&plan.digest).await.unwrap(), Some(plan));
}

#[tokio::test]
async fn postgres_connection_errors_name_the_host_and_hide_the_password() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens there.
    let err = Backend::open(
        dir.path(),
        Some("postgres://postgres:hunter2@127.0.0.1:1/sophia"),
    )
    .await
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.starts_with("connecting to PostgreSQL at `postgres://postgres@127.0.0.1:1/sophia`"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test]
async fn cli_verifies_the_postgres_journal() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let backend = db.backend(dir.path()).await;
    append_chain(&backend, 3).await;
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sophia"))
            .arg("-C")
            .arg(dir.path())
            .args(["proofs", "verify"])
            .env("SOPHIA_BACKEND", db.url())
            .output()
            .unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "journal: 3 records, 3 files verified\n"
    );
    db.sql("UPDATE sophia_journal SET address = 'fly.app.evil' WHERE seq = 1")
        .await;
    let out = run();
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(String::from_utf8(out.stderr).unwrap());
}

#[tokio::test]
async fn a_takeover_is_journaled_with_its_proof() {
    let dir = tempfile::tempdir().unwrap();
    let old = stale("mo", "ci-runner-2", 77, -chrono::TimeDelta::seconds(1));
    write_lock(dir.path(), &old);
    let backend = Backend::open(dir.path(), None).await.unwrap();
    let acquired = backend.acquire(&holder("ned"), TTL).await.unwrap();
    let t = acquired.took_over.as_ref().unwrap();
    let record = backend.journal_takeover(t).await.unwrap();
    assert_eq!((record.seq, record.kind.as_str()), (1, "lease.takeover"));
    let proof =
        std::fs::read_to_string(dir.path().join("proofs").join(record.proof.unwrap())).unwrap();
    let env: sophia::core::envelope::Envelope = serde_json::from_str(&proof).unwrap();
    assert_eq!(
        env.results[0]["previous"]["holder"],
        "mo@ci-runner-2 pid 77"
    );
    assert_eq!(env.results[0]["reason"], "expired");
    assert!(
        !proof.contains("\"old\""),
        "the previous token is not recorded: {proof}"
    );
    assert_eq!(backend.verify(None).await.unwrap().records, 1);
}

/// The other side of `local_lease_race_between_processes`: run only as its child.
#[test]
#[ignore = "helper process of local_lease_race_between_processes"]
fn lease_race_child() {
    let dir = std::env::var("SOPHIA_TEST_LEASE_DIR").expect("run by the race test");
    let me = Holder::current();
    // libtest prints `test … ` without a newline first: markers are found anywhere in a line.
    println!("\n[ready]");
    // The barrier: wait until the parent has seen every child ready.
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    match LocalLease::new(Path::new(&dir)).acquire(&me, TTL) {
        Ok(g) => println!("\n[verdict]won {}", g.lease.holder),
        Err(LeaseError::Held(info)) => println!("\n[verdict]held {}", info.holder),
        Err(e) => println!("\n[verdict]error {e}"),
    }
    // Stay alive (holding whatever was won) until every child has given its verdict: a winner
    // that exited at once would leave a dead holder's lease, which a slow racer would then
    // rightly take over.
    let mut done = String::new();
    std::io::stdin().read_line(&mut done).unwrap();
}

#[test]
fn local_lease_race_between_processes() {
    use std::io::{BufRead as _, BufReader, Write as _};
    const RACERS: usize = 6;
    let dir = tempfile::tempdir().unwrap();
    let mut children: Vec<_> = (0..RACERS)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "backend::lease_race_child",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("SOPHIA_TEST_LEASE_DIR", dir.path())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut outputs: Vec<_> = children
        .iter_mut()
        .map(|c| BufReader::new(c.stdout.take().unwrap()))
        .collect();
    // Every child is up and waiting…
    for out in &mut outputs {
        let mut line = String::new();
        while !line.contains("[ready]") {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "a child exited early"
            );
        }
    }
    // …then all are released at once.
    let mut stdins: Vec<_> = children
        .iter_mut()
        .map(|c| c.stdin.take().unwrap())
        .collect();
    for stdin in &mut stdins {
        stdin.write_all(b"go\n").unwrap();
        stdin.flush().unwrap();
    }
    let mut verdicts = Vec::new();
    for out in &mut outputs {
        let mut line = String::new();
        let verdict = loop {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "a child gave no verdict"
            );
            if let Some((_, v)) = line.split_once("[verdict]") {
                break v.trim_end().to_string();
            }
        };
        verdicts.push(verdict);
    }
    // Every verdict is in: let the children go.
    for mut stdin in stdins {
        stdin.write_all(b"done\n").unwrap();
    }
    for c in &mut children {
        assert!(c.wait().unwrap().success());
    }
    let won: Vec<_> = verdicts.iter().filter(|v| v.starts_with("won ")).collect();
    assert_eq!(won.len(), 1, "{verdicts:?}");
    let winner = won[0].trim_start_matches("won ");
    for v in &verdicts {
        assert!(
            v == won[0] || *v == format!("held {winner}"),
            "{verdicts:?}"
        );
    }
}

/// The ETag cache of conditional GitHub reads round-trips through both backends (local:
/// `.infra/cache/http-etags.json`, only in a repository with `.infra/`; PostgreSQL: the
/// `sophia_http_cache` table, upserted).
#[tokio::test]
async fn the_http_cache_is_kept_in_the_local_and_the_postgres_backend() {
    use sophia::providers::http::CachedAnswer;
    use std::collections::BTreeMap;
    let entries = |etag: &str| -> BTreeMap<String, CachedAnswer> {
        BTreeMap::from([(
            "GET https://api.github.com/repos/o/r 0011223344556677".to_string(),
            CachedAnswer {
                etag: etag.into(),
                body: r#"{"name":"r"}"#.into(),
            },
        )])
    };
    let root = tempfile::tempdir().unwrap();
    let local = Backend::open(root.path(), None).await.unwrap();
    local.store_http_cache(&entries("W/\"a\"")).await.unwrap();
    assert!(
        !root.path().join(".infra").exists(),
        "no .infra: nothing written"
    );
    std::fs::create_dir_all(root.path().join(".infra")).unwrap();
    local.store_http_cache(&entries("W/\"a\"")).await.unwrap();
    assert_eq!(local.load_http_cache().await.unwrap(), entries("W/\"a\""));

    let db = TestDb::new().await;
    let pg = db.backend(root.path()).await;
    assert!(pg.load_http_cache().await.unwrap().is_empty());
    pg.store_http_cache(&entries("W/\"a\"")).await.unwrap();
    pg.store_http_cache(&entries("W/\"b\"")).await.unwrap();
    assert_eq!(pg.load_http_cache().await.unwrap(), entries("W/\"b\""));
}
