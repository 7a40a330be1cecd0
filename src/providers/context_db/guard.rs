//! The statement allowlist of `context_db query`: what may run, decided on the parsed tree,
//! before any connection is opened. Pure: no I/O.
//!
//! A statement is accepted when it is exactly one of
//! - a query: `SELECT …`, `WITH … SELECT …`, `VALUES …`, and set operations of those
//!   (`UNION`, `INTERSECT`, `EXCEPT`);
//! - `EXPLAIN [ANALYZE] [(options)]` of such a query (`ANALYZE` runs the query, which is then
//!   held to the same rules);
//!
//! and nowhere in its tree (subqueries, CTEs, `FROM` items, function arguments, window and
//! filter clauses) is there
//! - a call to a side-effecting function ([`DENIED_FUNCTIONS`], [`DENIED_PREFIXES`]): file
//!   and directory reads, large objects, `dblink`, signalling other sessions, configuration,
//!   advisory locks, sequences, notifications, replication slots, WAL control, functions that
//!   run a query given as text;
//! - `SELECT … INTO` (creates a table), a locking clause (`FOR UPDATE`, `FOR SHARE`, …) or a
//!   data-modifying statement (`INSERT`/`UPDATE`/`DELETE`/`MERGE`, e.g. in a CTE).
//!
//! The text sent to the server is the parsed tree rendered again ([`Checked::sql`]), not the
//! caller's text: what was checked is what runs, whatever the two parsers might disagree on
//! in comments, quoting or escapes.
//!
//! This is one layer of three (see `docs/security.md`): the read-only role, checked on the
//! server before the query, is what stops what no parser can see (a user-defined function
//! calling `pg_read_file`); `BEGIN READ ONLY` stops writes.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, ObjectName, ObjectNamePart, Query, Select, SetExpr, Statement, TableFactor, Visit,
    Visitor,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// Nesting depth the parser accepts (subqueries, parentheses, operators). Far beyond any
/// inspection query, and low enough that a hostile, deeply nested statement is refused
/// instead of exhausting the stack.
const RECURSION_LIMIT: usize = 64;

/// Side-effecting functions refused by exact name (case-insensitive, any schema).
pub const DENIED_FUNCTIONS: &[&str] = &[
    // Writes to sequences (a read-only transaction refuses them too).
    "nextval",
    "setval",
    // Configuration of this session or of the server.
    "set_config",
    "pg_reload_conf",
    "pg_rotate_logfile",
    // Other sessions.
    "pg_terminate_backend",
    "pg_cancel_backend",
    // Notifications reach every listener.
    "pg_notify",
    // Transaction ids and snapshots: assigning an xid is a write to the cluster's state.
    "txid_current",
    "pg_current_xact_id",
    "pg_export_snapshot",
    // WAL, backups, recovery, replication.
    "pg_switch_wal",
    "pg_switch_xlog",
    "pg_start_backup",
    "pg_stop_backup",
    "pg_promote",
    "pg_replication_slot_advance",
    "pg_sync_replication_slots",
    // Files.
    "pg_stat_file",
    // Maintenance that writes: index and visibility-map surgery, collations, cache.
    "gin_clean_pending_list",
    "brin_desummarize_range",
    "pg_truncate_visibility_map",
    "pg_import_system_collations",
    "pg_prewarm",
    "pg_stat_statements_reset",
    "pg_nextoid",
    // Large objects without the `lo_` prefix.
    "loread",
    "lowrite",
    // Functions that run a query given as text, out of this checker's sight.
    "ts_stat",
];

/// Side-effecting function families refused by name prefix (case-insensitive, any schema).
pub const DENIED_PREFIXES: &[&str] = &[
    // Server files and directories: pg_read_file, pg_read_binary_file, pg_ls_dir, pg_ls_logdir,
    // pg_ls_waldir, …; adminpack's pg_file_write, pg_file_rename, pg_file_unlink, pg_logdir_ls.
    "pg_read_",
    "pg_ls_",
    "pg_file_",
    // Large objects: lo_import, lo_export, lo_create, lo_unlink, lo_put, lo_from_bytea, …
    "lo_",
    // Other databases and servers.
    "dblink",
    "postgres_fdw_",
    // Locks that outlive the statement.
    "pg_advisory",
    "pg_try_advisory",
    // Replication slots, restore points, origins, logical decoding and messages, logging.
    "pg_create_",
    "pg_drop_",
    "pg_copy_",
    "pg_replication_origin_",
    "pg_log",
    "pg_wal_replay_",
    "pg_xlog_replay_",
    "pg_backup_",
    // Statistics resets and rewrites.
    "pg_stat_reset",
    "pg_clear_",
    "pg_restore_",
    // Index summarization, page surgery, buffer eviction, pre-warming workers.
    "brin_summarize_",
    "heap_force_",
    "pg_buffercache_evict",
    "autoprewarm_",
    // Catalog manipulation reserved for pg_upgrade.
    "binary_upgrade_",
    // Functions that run a query given as text: query_to_xml, query_to_xmlschema,
    // query_to_xml_and_xmlschema, cursor_to_xml, cursor_to_xmlschema.
    "query_to_xml",
    "cursor_to_xml",
];

/// A statement that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The parsed statement rendered again: the text that runs.
    pub sql: String,
    pub shape: Shape,
}

/// What kind of statement was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A query: its rows are the result (and can be bounded by wrapping it).
    Query,
    /// `EXPLAIN` of a query: the plan's lines are the result.
    Explain,
}

/// Why a statement is refused. Messages name the offending part in backticks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the statement could not be parsed as PostgreSQL ({0})")]
    Parse(String),
    #[error("exactly one statement is allowed, found {0}")]
    NotOne(usize),
    #[error("`{0}` is not allowed: only one SELECT, WITH … SELECT, VALUES or EXPLAIN runs")]
    Shape(String),
    #[error("`EXPLAIN` is allowed only of a query, not of `{0}`")]
    ExplainOfNonQuery(String),
    #[error("the function `{0}` has side effects and is not allowed")]
    Function(String),
    #[error("`{0}` is not a plain function name (quoted names with other characters are refused)")]
    OddName(String),
    #[error("`SELECT … INTO` creates a table and is not allowed")]
    SelectInto,
    #[error("the locking clause `{0}` is not allowed")]
    Locking(String),
    #[error("the data-modifying `{0}` is not allowed (also not inside WITH)")]
    Modifying(String),
    #[error("`{0}` is not allowed in a PostgreSQL query")]
    Clause(&'static str),
}

/// Check `sql` against the allowlist; the accepted statement comes back rendered.
pub fn check(sql: &str) -> Result<Checked, Refusal> {
    let dialect = PostgreSqlDialect {};
    let statements = Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| Refusal::Parse(e.to_string()))?;
    let [statement] = statements.as_slice() else {
        return Err(Refusal::NotOne(statements.len()));
    };
    let shape = match statement {
        Statement::Query(query) => {
            check_query_tree(query)?;
            Shape::Query
        }
        Statement::Explain {
            describe_alias: sqlparser::ast::DescribeAlias::Explain,
            statement: inner,
            query_plan: false,
            estimate: false,
            ..
        } => match inner.as_ref() {
            Statement::Query(query) => {
                check_query_tree(query)?;
                Shape::Explain
            }
            other => return Err(Refusal::ExplainOfNonQuery(first_words(other))),
        },
        other => return Err(Refusal::Shape(first_words(other))),
    };
    Ok(Checked {
        sql: statement.to_string(),
        shape,
    })
}

/// Walk every node of a query (subqueries and CTEs included).
fn check_query_tree(query: &Query) -> Result<(), Refusal> {
    match query.visit(&mut Checker) {
        ControlFlow::Break(refusal) => Err(refusal),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// The visitor: stops at the first refusal.
struct Checker;

impl Visitor for Checker {
    type Break = Refusal;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Refusal> {
        if let Some(lock) = query.locks.first() {
            return ControlFlow::Break(Refusal::Locking(lock.to_string()));
        }
        if query.for_clause.is_some() {
            return ControlFlow::Break(Refusal::Clause("FOR XML/JSON/BROWSE"));
        }
        if query.settings.is_some() {
            return ControlFlow::Break(Refusal::Clause("SETTINGS"));
        }
        if query.format_clause.is_some() {
            return ControlFlow::Break(Refusal::Clause("FORMAT"));
        }
        if !query.pipe_operators.is_empty() {
            return ControlFlow::Break(Refusal::Clause("|>"));
        }
        check_set_expr(&query.body)
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<Refusal> {
        if select.into.is_some() {
            return ControlFlow::Break(Refusal::SelectInto);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<Refusal> {
        // Inside a query, any statement is a data-modifying one (`WITH d AS (DELETE …)`).
        ControlFlow::Break(Refusal::Modifying(first_words(statement)))
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Refusal> {
        match expr {
            Expr::Function(f) => check_function(&f.name),
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<Refusal> {
        match factor {
            // `FROM pg_ls_dir('/')`: a set-returning function in FROM is a relation with
            // arguments. Plain tables (no arguments) are not calls and are not checked.
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => check_function(name),
            _ => ControlFlow::Continue(()),
        }
    }
}

/// A set expression's own operands (nested queries are visited on their own).
fn check_set_expr(body: &SetExpr) -> ControlFlow<Refusal> {
    match body {
        SetExpr::Select(select) if select.into.is_some() => ControlFlow::Break(Refusal::SelectInto),
        SetExpr::SetOperation { left, right, .. } => {
            check_set_expr(left)?;
            check_set_expr(right)
        }
        SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) | SetExpr::Merge(s) => {
            ControlFlow::Break(Refusal::Modifying(first_words(s)))
        }
        _ => ControlFlow::Continue(()),
    }
}

/// Refuse a denied function name, and names the server could read differently than we do.
fn check_function(name: &ObjectName) -> ControlFlow<Refusal> {
    for part in &name.0 {
        let ObjectNamePart::Identifier(ident) = part else {
            return ControlFlow::Break(Refusal::OddName(name.to_string()));
        };
        let plain = !ident.value.is_empty()
            && ident
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        if !plain {
            return ControlFlow::Break(Refusal::OddName(name.to_string()));
        }
    }
    let Some(last) = name.0.last().and_then(ObjectNamePart::as_ident) else {
        return ControlFlow::Continue(());
    };
    if is_denied(&last.value) {
        return ControlFlow::Break(Refusal::Function(name.to_string()));
    }
    ControlFlow::Continue(())
}

/// Whether a function name (without schema) is denied. Case-insensitive: a quoted
/// `"PG_READ_FILE"` is another (absent) function for the server, and refusing it costs
/// nothing.
pub fn is_denied(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    DENIED_FUNCTIONS.contains(&name.as_str()) || DENIED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The first words of a statement, for messages (`COPY`, `DELETE FROM canary`, …): at most
/// 40 characters, so a long statement does not flood the error.
fn first_words(statement: &Statement) -> String {
    const MAX: usize = 40;
    let text = statement.to_string();
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{} …", text[..i].trim_end()),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(sql: &str) -> Refusal {
        check(sql).expect_err(sql)
    }

    #[test]
    fn queries_and_explain_are_accepted_and_rendered_again() {
        for (sql, shape) in [
            ("SELECT 1", Shape::Query),
            (
                "select id, note from canary where id > 1 order by id",
                Shape::Query,
            ),
            ("WITH x AS (SELECT 1 AS a) SELECT a FROM x", Shape::Query),
            ("SELECT 1 UNION ALL SELECT 2", Shape::Query),
            ("VALUES (1), (2)", Shape::Query),
            ("SELECT count(*) FROM pg_catalog.pg_class", Shape::Query),
            ("SELECT g FROM generate_series(1, 3) g", Shape::Query),
            ("SELECT pg_sleep(0)", Shape::Query),
            ("EXPLAIN SELECT 1", Shape::Explain),
            ("EXPLAIN ANALYZE SELECT 1", Shape::Explain),
            ("EXPLAIN (ANALYZE, FORMAT JSON) SELECT 1", Shape::Explain),
        ] {
            let c = check(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            assert_eq!(c.shape, shape, "{sql}");
            // What runs parses back to itself.
            assert_eq!(check(&c.sql).unwrap().sql, c.sql, "{sql}");
        }
        // Comments are gone from what runs.
        assert_eq!(check("SELECT 1 -- DROP TABLE x").unwrap().sql, "SELECT 1");
        // Tables are not calls: any name goes, even one like a denied function.
        assert!(check("SELECT * FROM \"user-events\" JOIN lo_files USING (id)").is_ok());
    }

    #[test]
    fn other_statements_are_refused_by_shape() {
        for sql in [
            "COPY (SELECT 1) TO PROGRAM 'id > /tmp/x'",
            "COPY canary TO '/tmp/x'",
            "CHECKPOINT",
            "DROP TABLE canary",
            "INSERT INTO canary VALUES (4, 'four')",
            "UPDATE canary SET note = 'x'",
            "DELETE FROM canary",
            "CREATE TABLE intruder (x int)",
            "CREATE EXTENSION dblink",
            "SET TRANSACTION READ WRITE",
            "SET statement_timeout = 0",
            "DO $$ BEGIN PERFORM 1; END $$",
            "VACUUM canary",
            "GRANT pg_read_server_files TO public",
            "LISTEN x",
            "NOTIFY x",
            "CALL p()",
            "LOCK TABLE canary",
        ] {
            let e = refused(sql);
            assert!(
                matches!(e, Refusal::Shape(_) | Refusal::Parse(_)),
                "{sql}: {e:?}"
            );
        }
        assert!(matches!(
            refused("EXPLAIN ANALYZE DELETE FROM canary"),
            Refusal::ExplainOfNonQuery(_)
        ));
        assert!(matches!(
            refused("EXPLAIN INSERT INTO canary VALUES (1, 'x')"),
            Refusal::ExplainOfNonQuery(_)
        ));
    }

    #[test]
    fn exactly_one_statement() {
        assert_eq!(refused("SELECT 1; SELECT 2"), Refusal::NotOne(2));
        assert_eq!(refused("SELECT 1; DROP TABLE canary"), Refusal::NotOne(2));
        assert_eq!(refused(""), Refusal::NotOne(0));
        assert_eq!(refused("-- nothing"), Refusal::NotOne(0));
    }

    #[test]
    fn side_effecting_functions_are_refused_wherever_they_are() {
        for (sql, name) in [
            ("SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
            (
                "SELECT pg_catalog.pg_read_binary_file('/etc/passwd')",
                "pg_read_binary_file",
            ),
            ("SELECT * FROM pg_ls_dir('/')", "pg_ls_dir"),
            ("SELECT lo_import('/etc/passwd')", "lo_import"),
            ("SELECT lo_export(1, '/tmp/x')", "lo_export"),
            (
                "SELECT dblink_exec('dbname=x', 'CREATE TABLE t (x int)')",
                "dblink_exec",
            ),
            (
                "SELECT * FROM dblink('dbname=x', 'SELECT 1') AS t(x int)",
                "dblink",
            ),
            ("SELECT pg_terminate_backend(1)", "pg_terminate_backend"),
            ("SELECT pg_cancel_backend(1)", "pg_cancel_backend"),
            ("SELECT set_config('work_mem', '1GB', false)", "set_config"),
            ("SELECT pg_reload_conf()", "pg_reload_conf"),
            ("SELECT pg_advisory_lock(1)", "pg_advisory_lock"),
            ("SELECT nextval('s')", "nextval"),
            ("SELECT pg_notify('c', 'x')", "pg_notify"),
            ("SELECT pg_switch_wal()", "pg_switch_wal"),
            (
                "SELECT pg_create_logical_replication_slot('s', 'test_decoding')",
                "pg_create_logical_replication_slot",
            ),
            (
                "SELECT query_to_xml('DELETE FROM canary', true, true, '')",
                "query_to_xml",
            ),
            ("SELECT PG_READ_FILE('/etc/passwd')", "PG_READ_FILE"),
            ("SELECT \"pg_read_file\"('/etc/passwd')", "pg_read_file"),
            // Hidden in a subquery, a CTE, an argument, a CASE, a window, ORDER BY, EXPLAIN.
            (
                "SELECT (SELECT pg_read_file('/etc/passwd'))",
                "pg_read_file",
            ),
            (
                "WITH x AS (SELECT lo_import('/etc/passwd')) SELECT 1",
                "lo_import",
            ),
            ("SELECT length(pg_read_file('/etc/passwd'))", "pg_read_file"),
            (
                "SELECT CASE WHEN true THEN pg_terminate_backend(1) END",
                "pg_terminate_backend",
            ),
            (
                "SELECT 1 FROM canary ORDER BY pg_cancel_backend(1)",
                "pg_cancel_backend",
            ),
            (
                "SELECT 1 WHERE EXISTS (SELECT pg_reload_conf())",
                "pg_reload_conf",
            ),
            (
                "EXPLAIN ANALYZE SELECT pg_read_file('/etc/passwd')",
                "pg_read_file",
            ),
            (
                "SELECT 1 UNION SELECT length(pg_read_file('/x'))",
                "pg_read_file",
            ),
        ] {
            match refused(sql) {
                Refusal::Function(n) => {
                    assert!(n.trim_end_matches('"').ends_with(name), "{sql}: {n}")
                }
                e => panic!("{sql}: {e:?}"),
            }
        }
    }

    #[test]
    fn into_locking_and_modifying_ctes_are_refused() {
        assert_eq!(
            refused("SELECT * INTO copy FROM canary"),
            Refusal::SelectInto
        );
        assert!(matches!(
            refused("SELECT * FROM canary FOR UPDATE"),
            Refusal::Locking(_)
        ));
        assert!(matches!(
            refused("SELECT * FROM canary FOR SHARE"),
            Refusal::Locking(_)
        ));
        for sql in [
            "WITH d AS (DELETE FROM canary RETURNING *) SELECT * FROM d",
            "WITH i AS (INSERT INTO canary VALUES (9, 'x') RETURNING id) SELECT id FROM i",
            "WITH u AS (UPDATE canary SET note = 'x' RETURNING id) SELECT 1",
        ] {
            assert!(matches!(refused(sql), Refusal::Modifying(_)), "{sql}");
        }
    }

    #[test]
    fn names_that_could_be_read_otherwise_are_refused() {
        // A quoted name with characters outside [A-Za-z0-9_$]: the server may unescape
        // or fold it differently.
        for sql in [
            "SELECT \"pg read file\"('/x')",
            "SELECT U&\"pg\\005fread_file\"('/x')",
        ] {
            assert!(check(sql).is_err(), "{sql}");
        }
    }

    #[test]
    fn messages_name_what_was_refused_briefly() {
        let e = refused("COPY (SELECT 1) TO PROGRAM 'id > /tmp/x'").to_string();
        assert!(e.starts_with("`COPY"), "{e}");
        assert!(e.contains("only one SELECT"), "{e}");
        let long = format!("DELETE FROM canary WHERE note = '{}'", "x".repeat(500));
        assert!(refused(&long).to_string().len() < 150);
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let sql = format!("SELECT {}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(matches!(refused(&sql), Refusal::Parse(_)));
    }
}
