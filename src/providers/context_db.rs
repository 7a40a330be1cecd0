//! The context database: a PostgreSQL server (Neon in production) reached through
//! `NEON_DATABASE_URL` — a secret, since the URL carries the password.
//!
//! - Read-only operations: `ping` (round-trip time), `health` (server version, database size,
//!   schemas, extensions) and `query` (one statement, read-only, bounded — see [`query`]).
//! - Resources: `context_db.extension.<name>` and `context_db.schema.<name>`, normalized as
//!   `{}` when present; refreshed from `pg_extension` / `pg_namespace`, created with
//!   `CREATE EXTENSION IF NOT EXISTS` / `CREATE SCHEMA IF NOT EXISTS` (idempotent: running an
//!   action twice is the same as once). Nothing is ever dropped: extra extensions and schemas
//!   are not managed.
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
//! The URL is never printed. Every error message passes [`scrub`], which masks the URL and
//! its password should a driver message ever echo them.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{Client, Config, NoTls};

use super::{ActionOutcome, Credentials, ProviderError};
use crate::core::address::Address;
use crate::core::plan::{Action, ActionKind};

pub const PROVIDER: &str = "context_db";
/// The one variable: the connection URL, password included.
pub const URL_VAR: &str = "NEON_DATABASE_URL";

/// Time to connect (TCP, TLS, authentication). Neon wakes a suspended compute in a few
/// seconds; 15 s covers that cold start while still failing fast on a wrong host.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Default `statement_timeout` of `query`: enough for any interactive read, short enough
/// that a mistaken full scan does not hold a connection of a shared database for long.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest `statement_timeout` a payload may ask for. Queries from the front door are
/// inspections, not reports; a minute bounds their load on production.
pub const MAX_STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Rows returned by `query` at most (more are not fetched: the portal is executed with this
/// row limit plus one, to know whether the result was truncated). A thousand rows is already
/// more than a proof file should hold.
pub const MAX_ROWS: usize = 1000;
/// Bound on the statements `ping`, `health` and refresh run, so a stuck server cannot hang a
/// plan: they are catalogue reads that answer in milliseconds.
const CATALOG_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach the server; `Debug` shows no URL.
#[derive(Clone)]
pub struct ContextDbProvider {
    config: Config,
    tls: bool,
    /// What to mask in messages: the URL and its password.
    masks: Vec<String>,
}

impl std::fmt::Debug for ContextDbProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextDbProvider")
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl ContextDbProvider {
    /// From `NEON_DATABASE_URL`; `not-configured` when it is missing.
    pub fn new(creds: &Credentials) -> Result<ContextDbProvider, ProviderError> {
        let url = creds
            .get(URL_VAR)
            .ok_or_else(|| ProviderError::not_configured(PROVIDER, &[URL_VAR]))?;
        ContextDbProvider::from_url(url)
    }

    /// From a connection URL (`postgres://user:pass@host:port/db?sslmode=…`).
    pub fn from_url(url: &str) -> Result<ContextDbProvider, ProviderError> {
        let mut masks = vec![url.to_string()];
        // libpq's `verify-ca` / `verify-full` are what we always do under TLS; the driver
        // only knows `require`.
        let normalized = url
            .replace("sslmode=verify-full", "sslmode=require")
            .replace("sslmode=verify-ca", "sslmode=require");
        let config = Config::from_str(&normalized).map_err(|e| {
            ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!(
                    "`{URL_VAR}` is not a PostgreSQL connection URL ({})",
                    scrub(&e.to_string(), &masks)
                ),
            )
        })?;
        if let Some(pw) = config.get_password() {
            if let Ok(pw) = std::str::from_utf8(pw) {
                if !pw.is_empty() {
                    masks.push(pw.to_string());
                }
            }
        }
        let tls = match config.get_ssl_mode() {
            SslMode::Disable => false,
            SslMode::Prefer => !config.get_hosts().iter().all(is_local),
            _ => true,
        };
        let mut config = config;
        config.connect_timeout(CONNECT_TIMEOUT);
        config.application_name("sophia");
        Ok(ContextDbProvider { config, tls, masks })
    }

    /// Whether connections use TLS (see the module documentation).
    pub fn uses_tls(&self) -> bool {
        self.tls
    }

    fn err(&self, code: &str, what: &str, e: impl std::fmt::Display) -> ProviderError {
        ProviderError::new(
            PROVIDER,
            code,
            format!("{what}: {}", scrub(&e.to_string(), &self.masks)),
        )
    }

    /// A PostgreSQL error as a provider error: `query-refused` for the server's refusals
    /// (read-only transaction, syntax, permissions), `timeout` for a cancelled statement.
    fn pg_err(&self, what: &str, e: tokio_postgres::Error) -> ProviderError {
        let (code, text) = match e.as_db_error() {
            Some(db) => {
                let code = match db.code().code() {
                    // query_canceled: the statement_timeout fired.
                    "57014" => "timeout",
                    _ => "query-refused",
                };
                (
                    code,
                    format!("{} (SQLSTATE {})", db.message(), db.code().code()),
                )
            }
            None => ("connection-failed", e.to_string()),
        };
        self.err(code, what, text)
    }

    /// A connection whose driver task runs in the background until the client is dropped.
    async fn connect(&self) -> Result<Client, ProviderError> {
        let what = format!("connecting to the context database ({URL_VAR})");
        let fail = |e: tokio_postgres::Error| self.err("connection-failed", &what, e);
        if self.tls {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| self.err("internal", "setting up TLS", e))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            let connector = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
            let (client, conn) = self.config.connect(connector).await.map_err(fail)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(client)
        } else {
            let (client, conn) = self.config.connect(NoTls).await.map_err(fail)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(client)
        }
    }

    /// Run `f` with a fresh connection under [`CATALOG_TIMEOUT`].
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
        self.bounded("ping", async {
            let started = Instant::now();
            let client = self.connect().await?;
            let connect_ms = started.elapsed().as_secs_f64() * 1000.0;
            let t = Instant::now();
            client
                .simple_query("SELECT 1")
                .await
                .map_err(|e| self.pg_err("ping", e))?;
            let rtt_ms = t.elapsed().as_secs_f64() * 1000.0;
            Ok(json!({
                "connect_ms": round2(connect_ms),
                "round_trip_ms": round2(rtt_ms),
                "tls": self.tls,
            }))
        })
        .await
    }

    /// `health`: server version, database and size, schemas and extensions.
    pub async fn health(&self) -> Result<Value, ProviderError> {
        self.bounded("health", async {
            let client = self.connect().await?;
            let q = |e| self.pg_err("health", e);
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
            let schemas = self.schemas(&client).await?;
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
                "tls": self.tls,
            }))
        })
        .await
    }

    /// User schemas (not `pg_*`, not `information_schema`), sorted.
    async fn schemas(&self, client: &Client) -> Result<Vec<String>, ProviderError> {
        Ok(client
            .query(
                "SELECT nspname::text FROM pg_catalog.pg_namespace \
                 WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1",
                &[],
            )
            .await
            .map_err(|e| self.pg_err("listing schemas", e))?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    /// `query`: one statement, read-only, bounded. See [`query`] for the guarantees.
    pub async fn query(&self, sql: &str, opts: QueryOpts) -> Result<QueryOutput, ProviderError> {
        let mut client = self.connect().await?;
        // The client-side bound is the statement timeout plus slack for the round trips, so
        // the server's own cancellation (with its clear message) normally comes first.
        let bound = opts.statement_timeout + CATALOG_TIMEOUT;
        match tokio::time::timeout(bound, query(&mut client, sql, &opts)).await {
            Ok(r) => r.map_err(|e| self.pg_err("query", e)),
            Err(_) => Err(ProviderError::new(
                PROVIDER,
                "timeout",
                format!("query: no answer within {bound:?}"),
            )),
        }
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
        self.bounded("refresh", async {
            let client = self.connect().await?;
            let extensions: Vec<String> = client
                .query("SELECT extname::text FROM pg_catalog.pg_extension", &[])
                .await
                .map_err(|e| self.pg_err("listing extensions", e))?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let schemas: Vec<String> = client
                .query("SELECT nspname::text FROM pg_catalog.pg_namespace", &[])
                .await
                .map_err(|e| self.pg_err("listing schemas", e))?
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
        let result = self
            .bounded("execute", async {
                let client = self.connect().await?;
                client
                    .batch_execute(&sql)
                    .await
                    .map_err(|e| self.pg_err(&format!("creating {what}"), e))
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
                let text = if out.truncated {
                    format!(
                        "{} row(s) — truncated at {} (the query returns more)",
                        out.rows.len(),
                        out.max_rows
                    )
                } else {
                    format!("{} row(s)", out.rows.len())
                };
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

/// How `query` is bounded.
#[derive(Debug, Clone, Copy)]
pub struct QueryOpts {
    pub statement_timeout: Duration,
    pub max_rows: usize,
}

impl Default for QueryOpts {
    fn default() -> Self {
        QueryOpts {
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            max_rows: MAX_ROWS,
        }
    }
}

/// What `query` returned.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    pub columns: Vec<Column>,
    /// Each row as column name → value.
    pub rows: Vec<BTreeMap<String, Value>>,
    /// More rows existed than `max_rows`.
    pub truncated: bool,
    pub max_rows: usize,
    pub statement_timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
}

impl QueryOutput {
    pub fn to_json(&self) -> Value {
        json!({
            "columns": self.columns,
            "rows": self.rows,
            "row_count": self.rows.len(),
            "truncated": self.truncated,
            "max_rows": self.max_rows,
            "statement_timeout_ms": self.statement_timeout_ms,
        })
    }
}

/// Run one statement so that it cannot change anything, on an open connection:
///
/// 1. `BEGIN READ ONLY`: every write (`INSERT`, `DROP`, `CREATE`, `nextval()`, a `DO` block
///    that writes, …) is refused by the server itself — no parsing of SQL on our side.
/// 2. `SET LOCAL statement_timeout`: the server cancels a long statement (SQLSTATE 57014).
/// 3. A snapshot is taken (`SELECT 1`) before the statement, so `SET TRANSACTION READ WRITE`
///    is refused ("must be called before any query").
/// 4. The statement goes through the extended protocol (Parse/Bind/Execute), which accepts
///    exactly one statement: `SELECT 1; DROP TABLE t` is refused at Parse.
/// 5. The portal is executed with a row limit of `max_rows + 1`: rows past the cap are never
///    sent, and the extra one tells that the result was truncated.
/// 6. The transaction is rolled back, whatever happened.
pub async fn query(
    client: &mut Client,
    sql: &str,
    opts: &QueryOpts,
) -> Result<QueryOutput, tokio_postgres::Error> {
    let tx = client.build_transaction().read_only(true).start().await?;
    let timeout_ms = opts.statement_timeout.as_millis().max(1) as u64;
    // Our own constant text with an integer: nothing from the caller is interpolated.
    tx.batch_execute(&format!(
        "SET LOCAL statement_timeout = {timeout_ms}; SELECT 1"
    ))
    .await?;
    let stmt = tx.prepare(sql).await?;
    let portal = tx.bind(&stmt, &[]).await?;
    let limit = i32::try_from(opts.max_rows + 1).unwrap_or(i32::MAX);
    let rows = tx.query_portal(&portal, limit).await?;
    tx.rollback().await?;
    let columns: Vec<Column> = stmt
        .columns()
        .iter()
        .map(|c| Column {
            name: c.name().to_string(),
            type_name: c.type_().name().to_string(),
        })
        .collect();
    let truncated = rows.len() > opts.max_rows;
    let rows = rows
        .iter()
        .take(opts.max_rows)
        .map(|row| {
            stmt.columns()
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let v = row
                        .try_get::<_, Cell>(i)
                        .map(|c| c.0)
                        .unwrap_or_else(|e| json!(format!("<unreadable: {e}>")));
                    (c.name().to_string(), v)
                })
                .collect()
        })
        .collect();
    Ok(QueryOutput {
        columns,
        rows,
        truncated,
        max_rows: opts.max_rows,
        statement_timeout_ms: timeout_ms,
    })
}

/// A column value as JSON, for any type: the common ones natively, the others as a note
/// telling the user to cast to text (the binary formats of PostgreSQL's many types are not
/// worth decoding here).
struct Cell(Value);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let v = match *ty {
            Type::BOOL => json!(bool::from_sql(ty, raw)?),
            Type::INT2 => json!(i16::from_sql(ty, raw)?),
            Type::INT4 => json!(i32::from_sql(ty, raw)?),
            Type::INT8 => json!(i64::from_sql(ty, raw)?),
            Type::OID => json!(u32::from_sql(ty, raw)?),
            Type::FLOAT4 => json!(f32::from_sql(ty, raw)?),
            Type::FLOAT8 => json!(f64::from_sql(ty, raw)?),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                json!(<&str>::from_sql(ty, raw)?)
            }
            Type::JSON => serde_json::from_slice(raw)?,
            // jsonb's binary form is a version byte (1) and the JSON text.
            Type::JSONB if raw.first() == Some(&1) => serde_json::from_slice(&raw[1..])?,
            Type::BYTEA => json!(format!("\\x{}", hex::encode(raw))),
            Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::NAME_ARRAY => {
                json!(Vec::<Option<String>>::from_sql(ty, raw)?)
            }
            Type::INT4_ARRAY => json!(Vec::<Option<i32>>::from_sql(ty, raw)?),
            Type::INT8_ARRAY => json!(Vec::<Option<i64>>::from_sql(ty, raw)?),
            _ => json!(format!(
                "<{} not rendered: cast it to text in the query, e.g. `col::text`>",
                ty.name()
            )),
        };
        Ok(Cell(v))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Cell(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A PostgreSQL identifier, double-quoted with inner quotes doubled: safe for any name
/// (`"weird""name"`), and the name keeps its exact case.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` with every mask replaced by `***`.
fn scrub(text: &str, masks: &[String]) -> String {
    let mut out = text.to_string();
    for m in masks {
        if !m.is_empty() {
            out = out.replace(m.as_str(), "***");
        }
    }
    out
}

fn is_local(host: &Host) -> bool {
    match host {
        Host::Tcp(name) => {
            name == "localhost"
                || name
                    .trim_matches(|c| c == '[' || c == ']')
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    }
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
    fn tls_follows_sslmode_and_host() {
        let tls = |url: &str| ContextDbProvider::from_url(url).unwrap().uses_tls();
        assert!(!tls("postgres://u@127.0.0.1:5432/db"));
        assert!(!tls("postgres://u@localhost/db"));
        assert!(tls("postgres://u@127.0.0.1/db?sslmode=require"));
        assert!(tls("postgres://u:p@ep-x.neon.tech/db"));
        assert!(tls("postgres://u:p@ep-x.neon.tech/db?sslmode=verify-full"));
        assert!(!tls("postgres://u:p@db.internal/db?sslmode=disable"));
    }

    #[test]
    fn bad_urls_never_echo_the_password() {
        let e = ContextDbProvider::from_url("postgres://u:hunter2@h/db?sslmode=bogus").unwrap_err();
        assert_eq!(e.code, "invalid-input");
        assert!(!e.message.contains("hunter2"), "{}", e.message);
        assert!(e.message.contains(URL_VAR));
    }

    #[test]
    fn debug_shows_no_url() {
        let p = ContextDbProvider::from_url("postgres://u:hunter2@h/db").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
