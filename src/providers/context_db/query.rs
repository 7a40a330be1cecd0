//! `context_db query`: one read-only statement on an open connection, bounded in time, rows
//! and bytes. The credential check ([`check_role`]) comes first, on the same connection; the
//! statement layers are in [`query`].

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt as _, pin_mut};
use serde_json::{Value, json};
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{Client, Row};

use super::guard::{self, Checked, Refusal, Shape};

/// Default `statement_timeout` of `query`: enough for any interactive read, short enough
/// that a mistaken full scan does not hold a connection of a shared database for long.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest `statement_timeout` a payload may ask for. Queries from the front door are
/// inspections, not reports; a minute bounds their load on production.
pub const MAX_STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Rows returned by `query` at most (the server is asked for one more, to know whether the
/// result was cut). A thousand rows is already more than a proof file should hold.
pub const MAX_ROWS: usize = 1000;
/// Bytes of rendered JSON rows `query` returns at most, 1 MiB: the result is printed and
/// written to `proofs/context_db/query.json`, both meant to be read by a person or a PR
/// comment, and a megabyte is far beyond that already. Rows past it are not sent by the
/// server (see [`wrap`]).
pub const MAX_RESULT_BYTES: usize = 1 << 20;
/// Bytes of one value at most, 64 KiB: enough to recognise any document, and 16 such values
/// still fit in [`MAX_RESULT_BYTES`]. A longer value is cut on the server to its first 64 Ki
/// characters and the cut is reported.
pub const MAX_VALUE_BYTES: usize = 64 << 10;
/// The per-value cap never goes below this on very wide results (it is
/// `MAX_RESULT_BYTES / columns` there), so that each value still shows something.
const MIN_VALUE_BYTES: usize = 256;

/// Predefined roles that reach the operating system or other sessions, or write anything:
/// a query credential must hold none of them (nor be a superuser, nor create roles or
/// replicate — see [`check_role`]).
pub const DANGEROUS_ROLES: &[&str] = &[
    "pg_execute_server_program",
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_signal_backend",
    "pg_write_all_data",
];

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

/// Which bound cut the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Limit {
    /// More rows than `max_rows`.
    Rows,
    /// More than [`MAX_RESULT_BYTES`] of rendered rows.
    Bytes,
}

/// A value longer than the per-value cap, shown as its first `kept_bytes` (as text).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CutValue {
    pub row: usize,
    pub column: String,
    /// The whole value's length as text.
    pub bytes: u64,
    pub kept_bytes: usize,
}

/// What `query` returned.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    pub columns: Vec<Column>,
    /// Each row as column name → value.
    pub rows: Vec<BTreeMap<String, Value>>,
    /// The result was cut (`truncated_by` says by which bound).
    pub truncated: bool,
    pub truncated_by: Option<Limit>,
    /// Values cut to the per-value cap.
    pub cut_values: Vec<CutValue>,
    /// Bytes of the rows rendered as JSON.
    pub bytes: usize,
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
            "truncated_by": self.truncated_by,
            "cut_values": self.cut_values,
            "bytes": self.bytes,
            "max_rows": self.max_rows,
            "max_bytes": MAX_RESULT_BYTES,
            "statement_timeout_ms": self.statement_timeout_ms,
        })
    }

    /// One line for the envelope's summary.
    pub fn summary(&self) -> String {
        let mut text = format!("{} row(s)", self.rows.len());
        match self.truncated_by {
            Some(Limit::Rows) => text.push_str(&format!(
                " — truncated at {} rows (the query returns more)",
                self.max_rows
            )),
            Some(Limit::Bytes) => text.push_str(&format!(
                " — truncated at {} bytes of rows (the query returns more)",
                MAX_RESULT_BYTES
            )),
            None => {}
        }
        if !self.cut_values.is_empty() {
            text.push_str(&format!(
                "; {} value(s) cut to their first bytes (see `cut_values`)",
                self.cut_values.len()
            ));
        }
        text
    }
}

/// Why `query` did not run or failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The statement is outside the allowlist; nothing was sent to the server.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The server refused or failed.
    #[error(transparent)]
    Server(#[from] tokio_postgres::Error),
}

/// What makes a role unfit to run queries from the front door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsafeRole {
    pub role: String,
    /// `superuser`, `CREATEROLE`, `REPLICATION` (its own, or `(through `other`)` a role it is a
    /// member of), and the [`DANGEROUS_ROLES`] it is a member of.
    pub has: Vec<String>,
}

/// Whether the current role may run front-door queries: not a superuser, no `CREATEROLE` or
/// `REPLICATION`, no membership in [`DANGEROUS_ROLES`] — nor in any role that has one of
/// these (a member can `SET ROLE` to it). `pg_has_role(current_user, …, 'MEMBER')` follows
/// every grant, inherited or not, through any depth.
pub async fn check_role(client: &Client) -> Result<Result<(), UnsafeRole>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT m.rolname::text, m.rolname = current_user, \
                    m.rolsuper, m.rolcreaterole, m.rolreplication, m.rolname = ANY($1::text[]) \
             FROM pg_catalog.pg_roles m \
             WHERE pg_catalog.pg_has_role(current_user, m.oid, 'MEMBER') \
               AND (m.rolname = current_user OR m.rolsuper OR m.rolcreaterole \
                    OR m.rolreplication OR m.rolname = ANY($1::text[])) \
             ORDER BY 2 DESC, 1",
            &[&DANGEROUS_ROLES],
        )
        .await?;
    let role: String = rows.first().map(|r| r.get(0)).unwrap_or_default();
    let mut has = Vec::new();
    for row in &rows {
        let name: String = row.get(0);
        let own: bool = row.get(1);
        if own && row.get::<_, bool>(2) {
            // A superuser is a member of every role: that says it all.
            return Ok(Err(UnsafeRole {
                role,
                has: vec!["superuser".into()],
            }));
        }
        let through = if own {
            String::new()
        } else {
            format!(" (through `{name}`)")
        };
        for (i, what) in [(2, "superuser"), (3, "CREATEROLE"), (4, "REPLICATION")] {
            if row.get::<_, bool>(i) {
                has.push(format!("{what}{through}"));
            }
        }
        if row.get::<_, bool>(5) {
            has.push(name);
        }
    }
    Ok(if has.is_empty() {
        Ok(())
    } else {
        Err(UnsafeRole { role, has })
    })
}

/// Run one statement so that it cannot change anything, on an open connection. These are
/// the statement's layers; the credential's ([`check_role`]) is the caller's.
///
/// 1. The statement is checked against the allowlist ([`guard::check`]) before anything is
///    sent, and what runs is the checked tree rendered again.
/// 2. `BEGIN READ ONLY`: the server refuses every write the parser might have missed.
/// 3. `SET LOCAL statement_timeout`: the server cancels a long statement (SQLSTATE 57014).
///    `standard_conforming_strings` is forced on, so the server reads string literals as the
///    checker did.
/// 4. A snapshot is taken (`SELECT 1`) before the statement, so `SET TRANSACTION READ WRITE`
///    could not succeed even if it got through.
/// 5. The statement goes through the extended protocol (Parse/Bind/Execute), which accepts
///    exactly one statement.
/// 6. A query is wrapped ([`wrap`]) so that the server sends at most `max_rows + 1` rows,
///    each value cut to the per-value cap, and no row after [`MAX_RESULT_BYTES`]; the rows
///    are read as a stream and reading stops at the first bound.
/// 7. The transaction is rolled back, whatever happened.
pub async fn query(
    client: &mut Client,
    sql: &str,
    opts: &QueryOpts,
) -> Result<QueryOutput, QueryError> {
    let checked = guard::check(sql)?;
    let tx = client.build_transaction().read_only(true).start().await?;
    let timeout_ms = opts.statement_timeout.as_millis().max(1) as u64;
    // Our own constant text with an integer: nothing from the caller is interpolated.
    tx.batch_execute(&format!(
        "SET LOCAL statement_timeout = {timeout_ms}; \
         SET LOCAL standard_conforming_strings = on; SELECT 1"
    ))
    .await?;
    let out = run(&tx, &checked, opts, timeout_ms).await;
    tx.rollback().await?;
    out
}

async fn run(
    tx: &tokio_postgres::Transaction<'_>,
    checked: &Checked,
    opts: &QueryOpts,
    timeout_ms: u64,
) -> Result<QueryOutput, QueryError> {
    // Parse/Describe only: the columns, nothing executed.
    let stmt = tx.prepare(&checked.sql).await?;
    let columns: Vec<Column> = stmt
        .columns()
        .iter()
        .map(|c| Column {
            name: c.name().to_string(),
            type_name: c.type_().name().to_string(),
        })
        .collect();
    let value_cap =
        (MAX_RESULT_BYTES / columns.len().max(1)).clamp(MIN_VALUE_BYTES, MAX_VALUE_BYTES);
    let mut acc = Acc::new(opts.max_rows);
    match checked.shape {
        Shape::Query => {
            let wrapped = tx
                .prepare(&wrap(&checked.sql, columns.len(), value_cap, opts.max_rows))
                .await?;
            let rows = tx.query_raw(&wrapped, std::iter::empty::<i32>()).await?;
            pin_mut!(rows);
            while let Some(row) = rows.next().await {
                let row = row?;
                let n = columns.len();
                // The server's running total of value bytes, up to and including this row.
                let upto: i64 = row.get(3 * n + 1);
                if upto > MAX_RESULT_BYTES as i64 {
                    acc.cut = Some(Limit::Bytes);
                    break;
                }
                let rendered = (0..n)
                    .map(|i| wrapped_value(&row, i, value_cap))
                    .collect::<Vec<_>>();
                if !acc.push(&columns, rendered) {
                    break;
                }
            }
        }
        Shape::Explain => {
            // A plan is a few lines; it is not wrapped (EXPLAIN cannot be a subquery), only
            // limited here.
            let portal = tx.bind(&stmt, &[]).await?;
            let limit = i32::try_from(opts.max_rows + 1).unwrap_or(i32::MAX);
            for row in tx.query_portal(&portal, limit).await? {
                let rendered = (0..columns.len())
                    .map(|i| plain_value(&row, i, value_cap))
                    .collect::<Vec<_>>();
                if !acc.push(&columns, rendered) {
                    break;
                }
            }
        }
    }
    Ok(QueryOutput {
        columns,
        truncated: acc.cut.is_some(),
        truncated_by: acc.cut,
        rows: acc.rows,
        cut_values: acc.cut_values,
        bytes: acc.bytes,
        max_rows: opts.max_rows,
        statement_timeout_ms: timeout_ms,
    })
}

/// The rows kept so far and the bounds.
struct Acc {
    rows: Vec<BTreeMap<String, Value>>,
    cut_values: Vec<CutValue>,
    bytes: usize,
    max_rows: usize,
    cut: Option<Limit>,
}

/// A rendered value, and its length as text when it was cut.
type Rendered = (Value, Option<(u64, usize)>);

impl Acc {
    fn new(max_rows: usize) -> Acc {
        Acc {
            rows: Vec::new(),
            cut_values: Vec::new(),
            bytes: 0,
            max_rows,
            cut: None,
        }
    }

    /// Keep one more row if it fits; `false` (and the reason recorded) when it does not.
    fn push(&mut self, columns: &[Column], values: Vec<Rendered>) -> bool {
        if self.rows.len() == self.max_rows {
            self.cut = Some(Limit::Rows);
            return false;
        }
        let mut row = BTreeMap::new();
        let mut cuts = Vec::new();
        for (c, (v, cut)) in columns.iter().zip(values) {
            if let Some((bytes, kept_bytes)) = cut {
                cuts.push(CutValue {
                    row: self.rows.len(),
                    column: c.name.clone(),
                    bytes,
                    kept_bytes,
                });
            }
            row.insert(c.name.clone(), v);
        }
        // The row as it will be written, plus the comma between rows.
        let size = serde_json::to_vec(&row).map_or(0, |b| b.len()) + 1;
        if self.bytes + size > MAX_RESULT_BYTES {
            self.cut = Some(Limit::Bytes);
            return false;
        }
        self.bytes += size;
        self.rows.push(row);
        self.cut_values.extend(cuts);
        true
    }
}

/// The query wrapped so that the server bounds what it sends:
/// - each value whose text is longer than `value_cap` comes as its first `value_cap`
///   characters instead (`p`), with its length (`n`); shorter values keep their type (`v`);
/// - `LIMIT max_rows + 1` stops the query itself once enough rows exist;
/// - a running sum of the (capped) value bytes drops every row after the one that passes
///   [`MAX_RESULT_BYTES`].
///
/// `OFFSET 0` keeps each level from being merged into the next: the caller's expressions are
/// computed once, and the window function never holds an uncut value. Columns are renamed
/// `c1…cn`, so duplicate or odd output names do not matter. Row `i` of the result has, for
/// each column, `v, p, n` at `3i, 3i+1, 3i+2`, then the row's bytes and the running total.
pub fn wrap(sql: &str, columns: usize, value_cap: usize, max_rows: usize) -> String {
    let names: Vec<String> = (1..=columns).map(|i| format!("c{i}")).collect();
    let alias = if columns == 0 {
        "sophia_q".to_string()
    } else {
        format!("sophia_q({})", names.join(", "))
    };
    let mut select = Vec::new();
    let mut len = vec!["0".to_string()];
    for c in &names {
        let t = format!("octet_length(sophia_q.{c}::text)");
        select.push(format!(
            "CASE WHEN {t} <= {value_cap} THEN sophia_q.{c} END AS v_{c}, \
             CASE WHEN {t} > {value_cap} THEN left(sophia_q.{c}::text, {value_cap}) END AS p_{c}, \
             {t}::int8 AS n_{c}"
        ));
        len.push(format!("coalesce(least({t}, {value_cap}), 0)"));
    }
    select.push(format!("({})::int8 AS sophia_len", len.join(" + ")));
    format!(
        "SELECT * FROM (\
           SELECT sophia_c.*, \
                  (sum(sophia_c.sophia_len) OVER (ROWS UNBOUNDED PRECEDING))::int8 AS sophia_upto \
           FROM (\
             SELECT {select} \
             FROM (SELECT * FROM ({sql}) AS sophia_i OFFSET 0) AS {alias} \
             OFFSET 0\
           ) AS sophia_c \
           LIMIT {limit}\
         ) AS sophia_w \
         WHERE sophia_w.sophia_upto - sophia_w.sophia_len <= {max_bytes}",
        select = select.join(", "),
        limit = max_rows + 1,
        max_bytes = MAX_RESULT_BYTES,
    )
}

/// Column `i` of a wrapped row: the typed value, or the cut text and its length.
fn wrapped_value(row: &Row, i: usize, value_cap: usize) -> Rendered {
    let prefix: Option<&str> = row.try_get(3 * i + 1).ok().flatten();
    match prefix {
        Some(text) => {
            let full: i64 = row.try_get(3 * i + 2).unwrap_or(0);
            let kept = cut_str(text, value_cap);
            (json!(kept), Some((full.max(0) as u64, kept.len())))
        }
        None => plain_value(row, 3 * i, value_cap),
    }
}

/// Column `i` of a row as JSON; text longer than `value_cap` is cut here too (EXPLAIN).
fn plain_value(row: &Row, i: usize, value_cap: usize) -> Rendered {
    let v = row
        .try_get::<_, Cell>(i)
        .map(|c| c.0)
        .unwrap_or_else(|e| json!(format!("<unreadable: {e}>")));
    match v {
        Value::String(s) if s.len() > value_cap => {
            let kept = cut_str(&s, value_cap).to_string();
            let cut = Some((s.len() as u64, kept.len()));
            (json!(kept), cut)
        }
        v => (v, None),
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn cut_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_end_on_character_boundaries() {
        assert_eq!(cut_str("abc", 5), "abc");
        assert_eq!(cut_str("abcdef", 3), "abc");
        // "é" is two bytes: a cut inside it keeps the character out.
        assert_eq!(cut_str("aé", 2), "a");
    }

    #[test]
    fn the_wrapper_bounds_rows_and_bytes_on_the_server() {
        let w = wrap("SELECT 1", 2, 100, 10);
        assert!(
            w.contains("FROM (SELECT 1) AS sophia_i OFFSET 0) AS sophia_q(c1, c2)"),
            "{w}"
        );
        assert!(w.contains("LIMIT 11"), "{w}");
        assert!(w.contains(&format!("<= {MAX_RESULT_BYTES}")), "{w}");
        assert!(w.contains("left(sophia_q.c2::text, 100)"), "{w}");
        // No columns (`SELECT FROM t`): no alias list, no value columns.
        let w = wrap("SELECT FROM t", 0, 100, 10);
        assert!(w.contains("AS sophia_q OFFSET 0"), "{w}");
    }
}
