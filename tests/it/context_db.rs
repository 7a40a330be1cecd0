//! The context database against a real PostgreSQL (127.0.0.1:5432, user `postgres`, trust):
//! each test creates its own database and drops it afterwards.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use sophia::core::address::Address;
use sophia::core::plan::{Action, ActionId};
use sophia::providers::context_db::{ContextDbProvider, QueryOpts};
use tokio_postgres::NoTls;

/// The server every PostgreSQL test uses (override with `SOPHIA_TEST_PG`).
fn server() -> String {
    std::env::var("SOPHIA_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database of its own, dropped when the test ends (even when it fails).
pub struct TestDb {
    pub name: String,
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
        let db = TestDb { name };
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

    pub fn url(&self) -> String {
        format!("{}/{}", server(), self.name)
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
    let p = ContextDbProvider::from_url(&db.url()).unwrap();
    let out = p
        .query(
            "SELECT id, note, id * 1.5::float8 AS f, NULL::text AS nothing FROM canary ORDER BY id",
            QueryOpts::default(),
        )
        .await
        .unwrap();
    assert!(!out.truncated);
    assert_eq!(out.rows.len(), 3);
    assert_eq!(out.rows[1]["id"], json!(2));
    assert_eq!(out.rows[1]["note"], json!("two"));
    assert_eq!(out.rows[1]["f"], json!(3.0));
    assert_eq!(out.rows[1]["nothing"], json!(null));

    let out = p
        .query(
            "SELECT g FROM generate_series(1, 5000) g",
            QueryOpts::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.rows.len(), 1000);
    assert!(out.truncated);
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
}

#[tokio::test]
async fn writes_are_refused_by_the_server_and_nothing_changes() {
    let db = TestDb::create("ro").await;
    let p = ContextDbProvider::from_url(&db.url()).unwrap();
    let before = db.canary().await;
    for (sql, expect) in [
        ("DROP TABLE canary", "read-only transaction"),
        (
            "INSERT INTO canary VALUES (4, 'four')",
            "read-only transaction",
        ),
        ("UPDATE canary SET note = 'x'", "read-only transaction"),
        ("CREATE TABLE intruder (x int)", "read-only transaction"),
        ("SELECT nextval('canary_seq')", "read-only transaction"),
        ("SET TRANSACTION READ WRITE", "before any query"),
        ("SELECT 1; DROP TABLE canary", "multiple commands"),
        ("DELETE FROM canary; SELECT 1", "multiple commands"),
        (
            "DO $$ BEGIN DELETE FROM canary; END $$",
            "read-only transaction",
        ),
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
async fn a_long_query_is_cancelled_by_the_statement_timeout() {
    let db = TestDb::create("slow").await;
    let p = ContextDbProvider::from_url(&db.url()).unwrap();
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
