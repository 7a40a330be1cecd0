//! The context database against a real PostgreSQL (127.0.0.1:5432, user `postgres`, trust):
//! each test creates its own database (and roles) and drops them afterwards.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::support::Repo;
use serde_json::{Value, json};
use sophia::core::address::Address;
use sophia::core::plan::{Action, ActionId};
use sophia::providers::Credentials;
use sophia::providers::context_db::{
    ContextDbProvider, Limit, MAX_RESULT_BYTES, QueryError, QueryOpts, READONLY_URL_VAR, query,
};
use tokio_postgres::NoTls;

/// The server every PostgreSQL test uses (override with `SOPHIA_TEST_PG`).
fn server() -> String {
    std::env::var("SOPHIA_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database of its own, and the roles made for it, dropped when the test ends (even when
/// it fails).
pub struct TestDb {
    pub name: String,
    roles: Mutex<Vec<String>>,
}

impl TestDb {
    pub async fn create(tag: &str) -> TestDb {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!(
            "sophia_it_{tag}_{}_{}",
            std::process::id(),
            nanos % 1_000_000_000
        );
        let admin = admin().await;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("creating the test database");
        let db = TestDb {
            name,
            roles: Mutex::new(Vec::new()),
        };
        let client = db.client().await;
        client
            .batch_execute(
                "CREATE TABLE canary (id int PRIMARY KEY, note text);
                 INSERT INTO canary VALUES (1, 'one'), (2, 'two'), (3, 'three');
                 CREATE SEQUENCE canary_seq;",
            )
            .await
            .expect("creating the canary table");
        db
    }

    /// The superuser's URL of this database.
    pub fn url(&self) -> String {
        format!("{}/{}", server(), self.name)
    }

    /// A login role that can connect to this database and read its tables: what
    /// `NEON_READONLY_DATABASE_URL` should name. Its URL.
    pub async fn readonly_url(&self) -> String {
        self.role("ro", "", &[]).await
    }

    /// A login role `<db>_<tag>` with `attributes` (e.g. `CREATEROLE`), member of `grants`,
    /// that can connect and read the tables of `public`. Its URL.
    pub async fn role(&self, tag: &str, attributes: &str, grants: &[&str]) -> String {
        let role = format!("{}_{tag}", self.name);
        self.roles.lock().unwrap().push(role.clone());
        let admin = admin().await;
        admin
            .batch_execute(&format!(
                "CREATE ROLE \"{role}\" LOGIN {attributes}; \
                 GRANT CONNECT ON DATABASE \"{db}\" TO \"{role}\";",
                db = self.name
            ))
            .await
            .expect("creating a test role");
        for g in grants {
            admin
                .batch_execute(&format!("GRANT {g} TO \"{role}\""))
                .await
                .expect("granting a role");
        }
        self.client()
            .await
            .batch_execute(&format!(
                "GRANT USAGE ON SCHEMA public TO \"{role}\"; \
                 GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{role}\";"
            ))
            .await
            .expect("granting reads");
        let base = server();
        let (scheme, rest) = base.split_once("://").expect("a URL");
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        format!("{scheme}://{role}@{host}/{}", self.name)
    }

    /// A provider whose query credential is `url`.
    pub fn query_provider(url: &str) -> ContextDbProvider {
        ContextDbProvider::new(&Credentials::from_pairs([(READONLY_URL_VAR, url)])).unwrap()
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url(), NoTls)
            .await
            .expect("connecting to the test database");
        tokio::spawn(conn);
        client
    }

    /// The canary's rows, to compare before and after.
    pub async fn canary(&self) -> Vec<(i32, String)> {
        self.client()
            .await
            .query("SELECT id, note FROM canary ORDER BY id", &[])
            .await
            .expect("the canary table is still there")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }
}

async fn admin() -> tokio_postgres::Client {
    let url = format!("{}/postgres", server());
    let (client, conn) = tokio_postgres::connect(&url, NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {} ({e}): these tests need a running server \
             (set SOPHIA_TEST_PG to another one)",
                server()
            )
        });
    tokio::spawn(conn);
    client
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let roles = std::mem::take(&mut *self.roles.lock().unwrap());
        // Drop runs outside async: a thread with its own runtime does the cleanup.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let admin = admin().await;
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                    // The roles' grants went with the database.
                    for role in roles {
                        let _ = admin
                            .batch_execute(&format!("DROP ROLE IF EXISTS \"{role}\""))
                            .await;
                    }
                })
        })
        .join();
    }
}

#[tokio::test]
async fn ping_and_health_describe_the_server() {
    let db = TestDb::create("health").await;
    let p = ContextDbProvider::from_url(&db.url()).unwrap();
    assert!(!p.uses_tls(), "a loopback server is reached without TLS");
    let ping = p.ping().await.unwrap();
    assert!(ping["round_trip_ms"].as_f64().unwrap() >= 0.0);
    let health = p.health().await.unwrap();
    assert_eq!(health["database"], json!(db.name));
    assert!(health["server_version_num"].as_i64().unwrap() >= 100000);
    assert!(health["database_size_bytes"].as_i64().unwrap() > 0);
    assert!(
        health["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!("public"))
    );
    assert!(
        health["extensions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "plpgsql")
    );
}

#[tokio::test]
async fn query_returns_typed_rows_and_says_when_truncated() {
    let db = TestDb::create("rows").await;
    let p = TestDb::query_provider(&db.readonly_url().await);
    let out = p
        .query(
            "SELECT id, note, id * 1.5::float8 AS f, NULL::text AS nothing FROM canary ORDER BY id",
            QueryOpts::default(),
        )
        .await
        .unwrap();
    assert!(!out.truncated);
    assert_eq!(out.truncated_by, None);
    assert_eq!(out.rows.len(), 3);
    assert_eq!(out.rows[1]["id"], json!(2));
    assert_eq!(out.rows[1]["note"], json!("two"));
    assert_eq!(out.rows[1]["f"], json!(3.0));
    assert_eq!(out.rows[1]["nothing"], json!(null));

    // The server's order survives the wrapping that bounds the result.
    let out = p
        .query(
            "SELECT g FROM generate_series(1, 5000) g ORDER BY g DESC",
            QueryOpts::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.rows.len(), 1000);
    assert_eq!(out.rows[0]["g"], json!(5000));
    assert_eq!(out.rows[999]["g"], json!(4001));
    assert!(out.truncated);
    assert_eq!(out.truncated_by, Some(Limit::Rows));
    let out = p
        .query(
            "SELECT g FROM generate_series(1, 5000) g",
            QueryOpts {
                max_rows: 7,
                ..QueryOpts::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.rows.len(), 7);
    assert!(out.truncated);

    // Duplicate names, no columns, EXPLAIN.
    let out = p.query("SELECT 1, 2", QueryOpts::default()).await.unwrap();
    assert_eq!(out.columns.len(), 2);
    let out = p
        .query("SELECT FROM canary", QueryOpts::default())
        .await
        .unwrap();
    assert_eq!(out.rows.len(), 3);
    let out = p
        .query("EXPLAIN SELECT * FROM canary", QueryOpts::default())
        .await
        .unwrap();
    assert!(
        out.rows[0]["QUERY PLAN"]
            .as_str()
            .unwrap()
            .contains("canary")
    );
}

#[tokio::test]
async fn writes_are_refused_and_nothing_changes() {
    let db = TestDb::create("ro").await;
    let p = TestDb::query_provider(&db.readonly_url().await);
    let before = db.canary().await;
    for (sql, expect) in [
        ("DROP TABLE canary", "only one SELECT"),
        ("INSERT INTO canary VALUES (4, 'four')", "only one SELECT"),
        ("UPDATE canary SET note = 'x'", "only one SELECT"),
        ("CREATE TABLE intruder (x int)", "only one SELECT"),
        ("SELECT nextval('canary_seq')", "side effects"),
        ("SET TRANSACTION READ WRITE", "only one SELECT"),
        ("SELECT 1; DROP TABLE canary", "exactly one statement"),
        ("DELETE FROM canary; SELECT 1", "exactly one statement"),
        (
            "DO $$ BEGIN DELETE FROM canary; END $$",
            "refused before running",
        ),
        (
            "WITH d AS (DELETE FROM canary RETURNING *) SELECT * FROM d",
            "data-modifying",
        ),
        ("SELECT * INTO stolen FROM canary", "INTO"),
        ("SELECT * FROM canary FOR UPDATE", "locking"),
    ] {
        let err = p.query(sql, QueryOpts::default()).await.expect_err(sql);
        assert_eq!(err.code, "query-refused", "{sql}: {err:?}");
        assert!(err.message.contains(expect), "{sql}: {}", err.message);
    }
    assert_eq!(db.canary().await, before);
    let seq: i64 = db
        .client()
        .await
        .query_one("SELECT last_value FROM canary_seq", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seq, 1, "the sequence never advanced");
}

#[tokio::test]
async fn the_read_only_transaction_stops_writes_the_parser_cannot_see() {
    // A function that writes, called from a SELECT: the statement passes the allowlist, so
    // this is the transaction's layer alone — run with the superuser, no role check.
    let db = TestDb::create("rotx").await;
    let mut admin = db.client().await;
    admin
        .batch_execute(
            "CREATE FUNCTION wipe() RETURNS bigint LANGUAGE sql \
             AS 'WITH d AS (DELETE FROM canary RETURNING 1) SELECT count(*) FROM d'",
        )
        .await
        .unwrap();
    let err = query::query(&mut admin, "SELECT wipe()", &QueryOpts::default())
        .await
        .unwrap_err();
    let QueryError::Server(e) = err else {
        panic!("refused by the server, not before: {err:?}")
    };
    let message = e.as_db_error().map(|d| d.message().to_string());
    assert!(
        message
            .as_deref()
            .unwrap_or_default()
            .contains("read-only transaction"),
        "{message:?}"
    );
    assert_eq!(db.canary().await.len(), 3);
}

#[tokio::test]
async fn a_long_query_is_cancelled_by_the_statement_timeout() {
    let db = TestDb::create("slow").await;
    let p = TestDb::query_provider(&db.readonly_url().await);
    let opts = QueryOpts {
        statement_timeout: std::time::Duration::from_secs(1),
        ..QueryOpts::default()
    };
    let err = p.query("SELECT pg_sleep(10)", opts).await.unwrap_err();
    assert_eq!(err.code, "timeout", "{err:?}");
    assert!(err.message.contains("statement timeout"), "{}", err.message);
}

#[tokio::test]
async fn extensions_and_schemas_are_refreshed_and_created_idempotently() {
    let db = TestDb::create("exec").await;
    let p = ContextDbProvider::from_url(&db.url()).unwrap();
    let ext = Address::ContextDbExtension {
        name: "pg_trgm".into(),
    };
    // A name that would be an injection if it were not quoted.
    let schema = Address::ContextDbSchema {
        name: "ctx\"; DROP TABLE canary; --".into(),
    };
    let public = Address::ContextDbSchema {
        name: "public".into(),
    };
    let all = [ext.clone(), schema.clone(), public.clone()];
    let live = p.refresh(&all).await.unwrap();
    assert_eq!(live.keys().collect::<Vec<_>>(), vec![&public]);

    for (address, kind) in [
        (&ext, "context_db.extension.create"),
        (&schema, "context_db.schema.create"),
    ] {
        let action = Action {
            id: ActionId(format!("{kind}:{address}")),
            address: address.clone(),
            kind: kind.parse().unwrap(),
            params: json!({}),
            depends_on: vec![],
        };
        for _ in 0..2 {
            let out = p.execute(&action).await;
            assert!(out.is_success(), "{kind}: {out:?}");
        }
    }
    let live = p.refresh(&all).await.unwrap();
    assert_eq!(live.len(), 3);
    assert_eq!(live[&ext], json!({}));
    assert_eq!(
        db.canary().await.len(),
        3,
        "the quoted name injected nothing"
    );
}

#[tokio::test]
async fn an_unreachable_server_fails_cleanly_without_the_password() {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    let p = ContextDbProvider::from_url("postgres://u:s3cr3t-pw@127.0.0.1:1/db").unwrap();
    let err = p.ping().await.unwrap_err();
    assert_eq!(err.code, "connection-failed");
    assert!(err.message.contains("NEON_DATABASE_URL"), "{}", err.message);
    assert!(!err.message.contains("s3cr3t-pw"), "{}", err.message);
}

/// The attacks of issue 18, as they were tried there: each reached the operating system,
/// another database or another session through `op context_db query`.
fn attacks(db: &TestDb, marker: &std::path::Path, victim_pid: i32) -> Vec<String> {
    vec![
        format!("COPY (SELECT 1) TO PROGRAM 'id > {}'", marker.display()),
        "SELECT pg_read_file('/etc/passwd')".into(),
        "SELECT * FROM pg_ls_dir('/')".into(),
        format!(
            "SELECT dblink_exec('dbname={} user=postgres host=127.0.0.1', \
             'CREATE TABLE dblink_intruder (x int)')",
            db.name
        ),
        "SELECT lo_import('/etc/hostname')".into(),
        format!("SELECT pg_terminate_backend({victim_pid})"),
        "SELECT set_config('statement_timeout', '4321', false)".into(),
        "SELECT pg_reload_conf()".into(),
        "CHECKPOINT".into(),
    ]
}

#[tokio::test]
async fn the_attacks_of_issue_18_are_refused_even_with_a_superuser_url() {
    let db = TestDb::create("attack").await;
    let marker = std::path::PathBuf::from(format!("/tmp/{}_program", db.name));
    // dblink where the server has it; refused at parse either way.
    let _ = db
        .client()
        .await
        .batch_execute("CREATE EXTENSION IF NOT EXISTS dblink")
        .await;
    // Control: over a bare superuser connection the first attack does reach the OS here, so
    // the marker's absence below means something.
    let control = std::path::PathBuf::from(format!("/tmp/{}_control", db.name));
    db.client()
        .await
        .batch_execute(&format!(
            "COPY (SELECT 1) TO PROGRAM 'id > {}'",
            control.display()
        ))
        .await
        .unwrap();
    assert!(
        control.exists(),
        "the server does not share this machine's /tmp: run it locally (SOPHIA_TEST_PG)"
    );
    let _ = std::fs::remove_file(&control);
    let victim = db.client().await;
    let victim_pid: i32 = victim
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let attacks = attacks(&db, &marker, victim_pid);

    // The front door's path, with the superuser's URL given as the query credential: every
    // attack is refused before a connection is opened, and so is a harmless query, by role.
    let p = TestDb::query_provider(&db.url());
    for sql in &attacks {
        let e = p.query(sql, QueryOpts::default()).await.expect_err(sql);
        assert_eq!(e.code, "query-refused", "{sql}: {e:?}");
        assert!(!e.message.contains("root:"), "{}", e.message);
    }
    let e = p.query("SELECT 1", QueryOpts::default()).await.unwrap_err();
    assert_eq!(e.code, "refused", "{e:?}");
    assert!(e.message.contains("superuser"), "{}", e.message);

    // The statement layer alone, on a superuser connection (no role check at all).
    let mut su = db.client().await;
    for sql in &attacks {
        match query::query(&mut su, sql, &QueryOpts::default()).await {
            Err(QueryError::Refused(_)) => {}
            other => panic!("{sql}: {other:?}"),
        }
    }

    // Nothing happened: no file, no table elsewhere, no large object, the victim alive, the
    // setting unchanged.
    assert!(!marker.exists(), "COPY … TO PROGRAM ran");
    let admin = db.client().await;
    let intruder: bool = admin
        .query_one("SELECT to_regclass('dblink_intruder') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!intruder, "dblink_exec ran");
    let objects: i64 = admin
        .query_one("SELECT count(*) FROM pg_largeobject_metadata", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(objects, 0, "lo_import ran");
    victim
        .query_one("SELECT 1", &[])
        .await
        .expect("the victim session is alive");
    let timeout: String = su
        .query_one("SHOW statement_timeout", &[])
        .await
        .unwrap()
        .get(0);
    assert_ne!(timeout, "4321ms", "set_config ran");
    assert_eq!(db.canary().await.len(), 3);
}

#[tokio::test]
async fn a_role_with_more_than_reading_is_refused_naming_what_it_has() {
    let db = TestDb::create("roles").await;
    // Two group roles: one holding a dangerous role, one with a dangerous attribute.
    let files_group = format!("{}_grp", db.name);
    let admin_group = format!("{}_adm", db.name);
    admin()
        .await
        .batch_execute(&format!(
            "CREATE ROLE \"{files_group}\" NOLOGIN; \
             GRANT pg_read_server_files TO \"{files_group}\"; \
             CREATE ROLE \"{admin_group}\" NOLOGIN CREATEROLE;"
        ))
        .await
        .unwrap();
    db.roles
        .lock()
        .unwrap()
        .extend([files_group.clone(), admin_group.clone()]);
    let files_quoted = format!("\"{files_group}\"");
    let admin_quoted = format!("\"{admin_group}\"");
    let through_admin = format!("CREATEROLE (through `{admin_group}`)");
    for (tag, attributes, grants, expect) in [
        (
            "files",
            "",
            &["pg_read_server_files"][..],
            "pg_read_server_files",
        ),
        (
            "prog",
            "",
            &["pg_execute_server_program"][..],
            "pg_execute_server_program",
        ),
        (
            "write",
            "",
            &["pg_write_server_files"][..],
            "pg_write_server_files",
        ),
        (
            "signal",
            "",
            &["pg_signal_backend"][..],
            "pg_signal_backend",
        ),
        (
            "writer",
            "",
            &["pg_write_all_data"][..],
            "pg_write_all_data",
        ),
        ("creator", "CREATEROLE", &[][..], "CREATEROLE"),
        ("repl", "REPLICATION", &[][..], "REPLICATION"),
        // Through another role: membership is followed.
        (
            "nested",
            "",
            &[files_quoted.as_str()][..],
            "pg_read_server_files",
        ),
        (
            "member",
            "",
            &[admin_quoted.as_str()][..],
            through_admin.as_str(),
        ),
    ] {
        let url = db.role(tag, attributes, grants).await;
        let e = TestDb::query_provider(&url)
            .query("SELECT 1", QueryOpts::default())
            .await
            .unwrap_err();
        assert_eq!(e.code, "refused", "{tag}: {e:?}");
        assert!(e.message.contains(expect), "{tag}: {}", e.message);
        assert!(e.message.contains(READONLY_URL_VAR), "{}", e.message);
    }
    // A role that can only read is accepted, and reads.
    let out = TestDb::query_provider(&db.readonly_url().await)
        .query("SELECT note FROM canary ORDER BY id", QueryOpts::default())
        .await
        .unwrap();
    assert_eq!(out.rows[2]["note"], json!("three"));
}

#[tokio::test]
async fn the_role_stops_what_the_parser_cannot_see() {
    // Functions written by the database's owner that hide dangerous calls: the statement
    // `SELECT peek()` passes the allowlist, and the read-only role is what stops it.
    let db = TestDb::create("hidden").await;
    let marker = std::path::PathBuf::from(format!("/tmp/{}_hidden", db.name));
    db.client()
        .await
        .batch_execute(&format!(
            "CREATE FUNCTION peek() RETURNS text LANGUAGE sql \
               AS $$ SELECT pg_read_file('/etc/hostname') $$; \
             CREATE FUNCTION run() RETURNS void LANGUAGE plpgsql \
               AS $$ BEGIN COPY (SELECT 1) TO PROGRAM 'id > {}'; END $$;",
            marker.display()
        ))
        .await
        .unwrap();
    let p = TestDb::query_provider(&db.readonly_url().await);
    for sql in ["SELECT peek()", "SELECT run()"] {
        let e = p.query(sql, QueryOpts::default()).await.unwrap_err();
        assert_eq!(e.code, "query-refused", "{sql}: {e:?}");
        // insufficient_privilege
        assert!(e.message.contains("SQLSTATE 42501"), "{sql}: {}", e.message);
    }
    assert!(!marker.exists(), "COPY … TO PROGRAM ran");
}

#[test]
fn the_front_door_bounds_a_1_gb_result_in_rows_and_bytes() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create("big"));
    let url = rt.block_on(db.readonly_url());
    let repo = Repo::new();
    let query = |sql: &str| {
        let payload = json!({ "sql": sql, "timeout_ms": 60000 }).to_string();
        let out = repo.run(
            &["op", "context_db", "query", "--payload", &payload],
            &[(READONLY_URL_VAR, url.as_str())],
        );
        assert_eq!(out.code, 0, "{sql}\n{}", out.stderr);
        let proof = std::fs::read_to_string(repo.root().join("proofs/context_db/query.json"))
            .expect("the proof");
        // What is printed and kept is the cap plus the envelope, never the result.
        let slack = 16 << 10;
        assert!(
            out.stdout.len() < MAX_RESULT_BYTES + slack,
            "{}",
            out.stdout.len()
        );
        assert!(proof.len() < MAX_RESULT_BYTES + slack, "{}", proof.len());
        let env: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&proof).unwrap(), env);
        (
            env["results"][0].clone(),
            env["summary"]["text"].as_str().unwrap().to_string(),
        )
    };

    // 5 values of 200 MB: each cut on the server to its first 64 KiB, and said so.
    let (r, summary) = query("SELECT repeat('x', 200000000) AS big FROM generate_series(1, 5)");
    assert_eq!(r["row_count"], 5);
    assert_eq!(r["truncated"], false);
    let cuts = r["cut_values"].as_array().unwrap();
    assert_eq!(cuts.len(), 5);
    for (i, c) in cuts.iter().enumerate() {
        assert_eq!(c["row"], i);
        assert_eq!(c["column"], "big");
        assert_eq!(c["bytes"], 200_000_000);
        assert_eq!(c["kept_bytes"], 65536);
    }
    assert_eq!(r["rows"][0]["big"].as_str().unwrap().len(), 65536);
    assert!(summary.contains("5 value(s) cut"), "{summary}");

    // 100 rows of 60 kB: the rows stop at the byte cap.
    let (r, summary) = query("SELECT repeat('y', 60000) AS y FROM generate_series(1, 100)");
    assert_eq!(r["truncated"], true);
    assert_eq!(r["truncated_by"], "bytes");
    let kept = r["row_count"].as_u64().unwrap();
    assert!((15..=17).contains(&kept), "{kept}");
    assert!(r["bytes"].as_u64().unwrap() <= MAX_RESULT_BYTES as u64);
    assert!(summary.contains("truncated at 1048576 bytes"), "{summary}");
}

#[test]
fn the_front_door_refuses_the_apply_url_and_a_superuser() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create("door"));
    let repo = Repo::new();
    let canary = "canary-pw-0123456789";
    let su_url = db.url().replacen('@', &format!(":{canary}@"), 1);
    let payload = r#"{"sql": "SELECT 1"}"#;
    let run = |env: &[(&str, &str)]| {
        let out = repo.run(&["op", "context_db", "query", "--payload", payload], env);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(!out.stdout.contains(canary) && !out.stderr.contains(canary));
        let env: Value = serde_json::from_str(&out.stdout).unwrap();
        env["errors"][0].clone()
    };
    // Only the apply's URL: not configured for queries, whatever its role.
    let e = run(&[("NEON_DATABASE_URL", su_url.as_str())]);
    assert_eq!(e["code"], "not-configured");
    assert!(
        e["message"].as_str().unwrap().contains(READONLY_URL_VAR),
        "{e}"
    );
    // A superuser as the query credential.
    let e = run(&[(READONLY_URL_VAR, su_url.as_str())]);
    assert_eq!(e["code"], "refused");
    assert!(e["message"].as_str().unwrap().contains("superuser"), "{e}");
    let proof = std::fs::read_to_string(repo.root().join("proofs/context_db/query.json")).unwrap();
    assert!(!proof.contains(canary));
}
