//! The context database: a PostgreSQL server (Neon in production), reached with two
//! credentials, both secrets since each URL carries a password:
//!
//! - `NEON_DATABASE_URL`, the apply's: a role that may create extensions and schemas.
//! - `NEON_READONLY_DATABASE_URL`, the front door's `query`: a role that can only read.
//!
//! Operations:
//! - Read-only: `ping` (round-trip time), `health` (server version, database size, schemas,
//!   extensions) with the apply's URL, or the read-only one when only that is set; and
//!   `query` (one statement, read-only, bounded — see [`query::query`]) with the read-only
//!   URL only.
//! - Resources: `context_db.extension.<name>` and `context_db.schema.<name>`, normalized as
//!   `{}` when present; refreshed from `pg_extension` / `pg_namespace` (either URL), created
//!   with `CREATE EXTENSION IF NOT EXISTS` / `CREATE SCHEMA IF NOT EXISTS` (the apply's URL;
//!   idempotent: running an action twice is the same as once). Nothing is ever dropped:
//!   extra extensions and schemas are not managed.
//!
//! # Why `query` has its own credential
//!
//! A statement from the front door is input from whoever can run `sophia op`. With the
//! apply's role (often a superuser) `BEGIN READ ONLY` does not stop `COPY … TO PROGRAM`,
//! `pg_read_file`, `dblink_exec` or `pg_terminate_backend`. So `query` is safe by
//! construction, in three layers, each enough on its own against the attacks of issue 18:
//! 1. the credential: `NEON_READONLY_DATABASE_URL` only — never the apply's URL, not even as
//!    a fallback (a role that can create extensions can write, whatever else it lacks); and
//!    before the statement, the server is asked whether this role is a superuser, may create
//!    roles or replicate, or is a member of [`query::DANGEROUS_ROLES`]: if so, nothing runs;
//! 2. the statement: one query or `EXPLAIN`, parsed, every function call checked
//!    ([`guard`]);
//! 3. the transaction: read-only, with a statement timeout, bounded rows and bytes, rolled
//!    back.
//!
//! # TLS
//!
//! Chosen from the URL's `sslmode`, as libpq users expect:
//! - `disable`: plain TCP.
//! - `prefer` (the default when absent): plain TCP to a loopback host (`localhost`,
//!   `127.0.0.0/8`, `::1`) or a Unix socket, TLS to any other host. A production database is
//!   never reached in clear text by accident; a local test server needs no certificate.
//! - `require`, `verify-ca`, `verify-full`: TLS always.
//!
//! Whenever TLS is used the server certificate is verified against the Mozilla roots
//! (`webpki-roots`) and the host name — libpq's `verify-full`, stricter than its `require`.
//! Neon's certificates are publicly trusted, so this needs no configuration.
//!
//! # Secrets
//!
//! The URLs are never printed. Every error message is scrubbed of the URL and its password
//! should a driver message ever echo them.

pub mod endpoint;
pub mod guard;
pub mod query;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_postgres::Client;

use super::{ActionOutcome, Credentials, ProviderError};
use crate::core::address::Address;
use crate::core::plan::{Action, ActionKind};
pub use endpoint::{CONNECT_TIMEOUT, Endpoint};
pub use query::{
    Column, DEFAULT_STATEMENT_TIMEOUT, Limit, MAX_RESULT_BYTES, MAX_ROWS, MAX_STATEMENT_TIMEOUT,
    QueryError, QueryOpts, QueryOutput,
};

pub const PROVIDER: &str = "context_db";
/// The apply's credential: the connection URL, password included.
pub const URL_VAR: &str = "NEON_DATABASE_URL";
/// The front door's `query` credential: a URL whose role can only read.
pub const READONLY_URL_VAR: &str = "NEON_READONLY_DATABASE_URL";

/// Bound on the statements `ping`, `health` and refresh run, so a stuck server cannot hang a
/// plan: they are catalogue reads that answer in milliseconds.
const CATALOG_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach the server with each credential that is set; `Debug` shows no URL.
#[derive(Debug, Clone)]
pub struct ContextDbProvider {
    /// `NEON_DATABASE_URL`: refresh, ping, health, and the only one that executes actions.
    main: Option<Endpoint>,
    /// `NEON_READONLY_DATABASE_URL`: the only one `query` uses; refresh, ping and health
    /// when `main` is not set (a plan runs with read-only credentials).
    readonly: Option<Endpoint>,
}

impl ContextDbProvider {
    /// From `NEON_DATABASE_URL` and `NEON_READONLY_DATABASE_URL`; `not-configured` naming
    /// `NEON_DATABASE_URL` when neither is set.
    pub fn new(creds: &Credentials) -> Result<ContextDbProvider, ProviderError> {
        let parse = |var| creds.get(var).map(|u| Endpoint::parse(var, u)).transpose();
        let main = parse(URL_VAR)?;
        let readonly = parse(READONLY_URL_VAR)?;
        if main.is_none() && readonly.is_none() {
            return Err(ProviderError::not_configured(PROVIDER, &[URL_VAR]));
        }
        Ok(ContextDbProvider { main, readonly })
    }

    /// With the apply's URL only (`query` then answers `not-configured`).
    pub fn from_url(url: &str) -> Result<ContextDbProvider, ProviderError> {
        Ok(ContextDbProvider {
            main: Some(Endpoint::parse(URL_VAR, url)?),
            readonly: None,
        })
    }

    /// The credential for catalogue reads: the apply's, else the read-only one.
    fn reader(&self) -> &Endpoint {
        self.main
            .as_ref()
            .or(self.readonly.as_ref())
            .expect("`new` refuses a provider without any URL")
    }

    /// Whether catalogue reads use TLS (see the module documentation).
    pub fn uses_tls(&self) -> bool {
        self.reader().uses_tls()
    }

    /// Run `fut` under [`CATALOG_TIMEOUT`] (plus the time to connect).
    async fn bounded<T, F>(&self, what: &str, fut: F) -> Result<T, ProviderError>
    where
        F: std::future::Future<Output = Result<T, ProviderError>>,
    {
        tokio::time::timeout(CATALOG_TIMEOUT + CONNECT_TIMEOUT, fut)
            .await
            .unwrap_or_else(|_| {
                Err(ProviderError::new(
                    PROVIDER,
                    "timeout",
                    format!("{what}: no answer within {CATALOG_TIMEOUT:?}"),
                ))
            })
    }

    /// `ping`: connect and time one `SELECT 1` round trip.
    pub async fn ping(&self) -> Result<Value, ProviderError> {
        let ep = self.reader();
        self.bounded("ping", async {
            let started = Instant::now();
            let client = ep.connect().await?;
            let connect_ms = started.elapsed().as_secs_f64() * 1000.0;
            let t = Instant::now();
            client
                .simple_query("SELECT 1")
                .await
                .map_err(|e| ep.pg_err("ping", e))?;
            let rtt_ms = t.elapsed().as_secs_f64() * 1000.0;
            Ok(json!({
                "connect_ms": round2(connect_ms),
                "round_trip_ms": round2(rtt_ms),
                "tls": ep.uses_tls(),
            }))
        })
        .await
    }

    /// `health`: server version, database and size, schemas and extensions.
    pub async fn health(&self) -> Result<Value, ProviderError> {
        let ep = self.reader();
        self.bounded("health", async {
            let client = ep.connect().await?;
            let q = |e| ep.pg_err("health", e);
            let row = client
                .query_one(
                    "SELECT current_setting('server_version'), current_database()::text, \
                     pg_database_size(current_database()), \
                     current_setting('server_version_num')::int",
                    &[],
                )
                .await
                .map_err(q)?;
            let version: String = row.get(0);
            let database: String = row.get(1);
            let size: i64 = row.get(2);
            let version_num: i32 = row.get(3);
            let schemas = schemas(ep, &client).await?;
            let extensions: Vec<Value> = client
                .query(
                    "SELECT extname::text, extversion FROM pg_catalog.pg_extension ORDER BY 1",
                    &[],
                )
                .await
                .map_err(q)?
                .iter()
                .map(|r| json!({ "name": r.get::<_, String>(0), "version": r.get::<_, String>(1) }))
                .collect();
            Ok(json!({
                "server_version": version,
                "server_version_num": version_num,
                "database": database,
                "database_size_bytes": size,
                "schemas": schemas,
                "extensions": extensions,
                "tls": ep.uses_tls(),
            }))
        })
        .await
    }

    /// `query`: one statement, read-only, bounded, with the read-only credential only.
    ///
    /// In order, and nothing is sent to the server before the first two pass:
    /// 1. `NEON_READONLY_DATABASE_URL` is set (`not-configured` otherwise — the apply's URL is
    ///    never used instead) and does not log in as the apply's role (`refused`);
    /// 2. the statement passes the allowlist ([`guard`]; `query-refused`);
    /// 3. the role is not a superuser, cannot create roles or replicate, and is a member of
    ///    none of [`query::DANGEROUS_ROLES`] (`refused`, naming what it has);
    /// 4. the statement runs as [`query::query`] describes.
    pub async fn query(&self, sql: &str, opts: QueryOpts) -> Result<QueryOutput, ProviderError> {
        let ep = self.query_endpoint()?;
        guard::check(sql).map_err(|e| refused_statement(&e))?;
        // The client-side bound is the statement timeout plus slack for the round trips, so
        // the server's own cancellation (with its clear message) normally comes first.
        let bound = opts.statement_timeout + CATALOG_TIMEOUT + CONNECT_TIMEOUT;
        let run = async {
            let mut client = ep.connect().await?;
            match query::check_role(&client).await {
                Ok(Ok(())) => {}
                Ok(Err(unsafe_role)) => return Err(refused_role(ep.var, &unsafe_role)),
                Err(e) => return Err(ep.pg_err("checking the query role", e)),
            }
            query::query(&mut client, sql, &opts)
                .await
                .map_err(|e| match e {
                    QueryError::Refused(r) => refused_statement(&r),
                    QueryError::Server(e) => ep.pg_err("query", e),
                })
        };
        match tokio::time::timeout(bound, run).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::new(
                PROVIDER,
                "timeout",
                format!("query: no answer within {bound:?}"),
            )),
        }
    }

    /// The credential `query` may use, or why there is none.
    fn query_endpoint(&self) -> Result<&Endpoint, ProviderError> {
        let Some(ro) = &self.readonly else {
            return Err(ProviderError::new(
                PROVIDER,
                "not-configured",
                format!(
                    "context_db query needs its own read-only credential: set \
                     {READONLY_URL_VAR} to the URL of a role that can only read (e.g. a \
                     member of pg_read_all_data); {URL_VAR} is the apply's and is never used \
                     for queries — see docs/security.md"
                ),
            ));
        };
        if self.main.as_ref().is_some_and(|m| m.same_login_as(ro)) {
            return Err(ProviderError::new(
                PROVIDER,
                "refused",
                format!(
                    "{READONLY_URL_VAR} logs in as the same role as {URL_VAR}: give queries a \
                     role of their own that can only read — see docs/security.md"
                ),
            ));
        }
        Ok(ro)
    }

    /// Read the normalized live object of each `context_db.*` address (absent ones are left
    /// out).
    pub async fn refresh(
        &self,
        addresses: &[Address],
    ) -> Result<BTreeMap<Address, Value>, ProviderError> {
        if !addresses.iter().any(|a| {
            matches!(
                a,
                Address::ContextDbExtension { .. } | Address::ContextDbSchema { .. }
            )
        }) {
            return Ok(BTreeMap::new());
        }
        let ep = self.reader();
        self.bounded("refresh", async {
            let client = ep.connect().await?;
            let extensions: Vec<String> = client
                .query("SELECT extname::text FROM pg_catalog.pg_extension", &[])
                .await
                .map_err(|e| ep.pg_err("listing extensions", e))?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let schemas: Vec<String> = client
                .query("SELECT nspname::text FROM pg_catalog.pg_namespace", &[])
                .await
                .map_err(|e| ep.pg_err("listing schemas", e))?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut out = BTreeMap::new();
            for a in addresses {
                let present = match a {
                    Address::ContextDbExtension { name } => extensions.contains(name),
                    Address::ContextDbSchema { name } => schemas.contains(name),
                    _ => false,
                };
                if present {
                    out.insert(a.clone(), json!({}));
                }
            }
            Ok(out)
        })
        .await
    }

    /// Execute `context_db.extension.create` or `context_db.schema.create`.
    pub async fn execute(&self, action: &Action) -> ActionOutcome {
        let (sql, what) = match (&action.address, action.kind) {
            (Address::ContextDbExtension { name }, ActionKind::ContextDbExtensionCreate) => (
                format!("CREATE EXTENSION IF NOT EXISTS {}", quote_ident(name)),
                format!("extension `{name}`"),
            ),
            (Address::ContextDbSchema { name }, ActionKind::ContextDbSchemaCreate) => (
                format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(name)),
                format!("schema `{name}`"),
            ),
            (address, kind) => {
                return ActionOutcome::failure(ProviderError::new(
                    PROVIDER,
                    "invalid-input",
                    format!("context_db cannot execute `{kind}` on `{address}`"),
                ));
            }
        };
        // Only the apply's credential writes.
        let Some(ep) = &self.main else {
            return ActionOutcome::failure(ProviderError::not_configured(PROVIDER, &[URL_VAR]));
        };
        let result = self
            .bounded("execute", async {
                let client = ep.connect().await?;
                client
                    .batch_execute(&sql)
                    .await
                    .map_err(|e| ep.pg_err(&format!("creating {what}"), e))
            })
            .await;
        match result {
            Ok(()) => ActionOutcome::success(
                format!("{what} exists"),
                vec![json!({ "address": action.address.to_string(), "statement": sql })],
            ),
            Err(e) => ActionOutcome::failure(e),
        }
    }

    /// A read-only operation: `ping`, `health`, `query` (`{"sql": "…", "timeout_ms"?,
    /// "max_rows"?}`), `validate` (the same as `ping`).
    pub async fn op(
        &self,
        name: &str,
        payload: &Value,
    ) -> Result<(String, Vec<Value>), ProviderError> {
        match name {
            "ping" | "validate" => {
                let r = self.ping().await?;
                Ok((
                    format!("context database answered in {} ms", r["round_trip_ms"]),
                    vec![r],
                ))
            }
            "health" => {
                let r = self.health().await?;
                Ok((
                    format!(
                        "PostgreSQL {} — database `{}`, {} bytes",
                        r["server_version"].as_str().unwrap_or("?"),
                        r["database"].as_str().unwrap_or("?"),
                        r["database_size_bytes"]
                    ),
                    vec![r],
                ))
            }
            "query" => {
                let sql = payload.get("sql").and_then(Value::as_str).ok_or_else(|| {
                    ProviderError::new(
                        PROVIDER,
                        "invalid-input",
                        "`context_db query` needs `sql` in its payload",
                    )
                })?;
                let mut opts = QueryOpts::default();
                if let Some(ms) = payload.get("timeout_ms").and_then(Value::as_u64) {
                    opts.statement_timeout = Duration::from_millis(ms).min(MAX_STATEMENT_TIMEOUT);
                }
                if let Some(n) = payload.get("max_rows").and_then(Value::as_u64) {
                    opts.max_rows = (n as usize).clamp(1, MAX_ROWS);
                }
                let out = self.query(sql, opts).await?;
                let text = out.summary();
                Ok((text, vec![out.to_json()]))
            }
            other => Err(ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!("unknown context_db operation `{other}` (expected ping, health, query)"),
            )),
        }
    }
}

/// A PostgreSQL identifier, double-quoted with inner quotes doubled: safe for any name
/// (`"weird""name"`), and the name keeps its exact case.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// User schemas (not `pg_*`, not `information_schema`), sorted.
async fn schemas(ep: &Endpoint, client: &Client) -> Result<Vec<String>, ProviderError> {
    Ok(client
        .query(
            "SELECT nspname::text FROM pg_catalog.pg_namespace \
             WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1",
            &[],
        )
        .await
        .map_err(|e| ep.pg_err("listing schemas", e))?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// A statement outside the allowlist: nothing was sent to the server.
fn refused_statement(r: &guard::Refusal) -> ProviderError {
    ProviderError::new(
        PROVIDER,
        "query-refused",
        format!("query refused before running: {r}"),
    )
}

/// A query credential with more power than reading.
fn refused_role(var: &str, r: &query::UnsafeRole) -> ProviderError {
    ProviderError::new(
        PROVIDER,
        "refused",
        format!(
            "query refused: the role `{}` of {var} is not read-only (it has {}); give it a \
             role that can only read — see docs/security.md",
            r.role,
            r.has.join(", ")
        ),
    )
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("pg_trgm"), "\"pg_trgm\"");
        assert_eq!(
            quote_ident("a\"; DROP TABLE x; --"),
            "\"a\"\"; DROP TABLE x; --\""
        );
    }

    #[test]
    fn debug_shows_no_url() {
        let p = ContextDbProvider::from_url("postgres://u:hunter2@h/db").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    fn creds(pairs: &[(&str, &str)]) -> Credentials {
        Credentials::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn either_url_configures_the_provider() {
        let e = ContextDbProvider::new(&creds(&[])).unwrap_err();
        assert_eq!(e.code, "not-configured");
        assert!(e.message.contains(URL_VAR), "{}", e.message);
        assert!(ContextDbProvider::new(&creds(&[(URL_VAR, "postgres://a@h/db")])).is_ok());
        assert!(ContextDbProvider::new(&creds(&[(READONLY_URL_VAR, "postgres://r@h/db")])).is_ok());
    }

    #[tokio::test]
    async fn query_never_falls_back_to_the_apply_url() {
        // Port 1: were anything to connect, it would fail with `connection-failed` instead.
        let p = ContextDbProvider::from_url("postgres://app:pw@127.0.0.1:1/db").unwrap();
        let e = p.query("SELECT 1", QueryOpts::default()).await.unwrap_err();
        assert_eq!(e.code, "not-configured");
        assert!(e.message.contains(READONLY_URL_VAR), "{}", e.message);
        assert!(!e.message.contains("pw"), "{}", e.message);
    }

    #[tokio::test]
    async fn the_read_only_url_must_be_another_role() {
        let p = ContextDbProvider::new(&creds(&[
            (URL_VAR, "postgres://app:pw@127.0.0.1:1/db"),
            (READONLY_URL_VAR, "postgres://app:pw@127.0.0.1:1/db"),
        ]))
        .unwrap();
        let e = p.query("SELECT 1", QueryOpts::default()).await.unwrap_err();
        assert_eq!(e.code, "refused");
        assert!(e.message.contains("same role"), "{}", e.message);
    }

    #[tokio::test]
    async fn a_refused_statement_never_connects() {
        let p =
            ContextDbProvider::new(&creds(&[(READONLY_URL_VAR, "postgres://r@127.0.0.1:1/db")]))
                .unwrap();
        let e = p
            .query("COPY (SELECT 1) TO PROGRAM 'id'", QueryOpts::default())
            .await
            .unwrap_err();
        assert_eq!(e.code, "query-refused", "{e:?}");
        assert!(e.message.contains("`COPY"), "{}", e.message);
    }
}
