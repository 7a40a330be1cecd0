//! The PostgreSQL backend (`SOPHIA_BACKEND=postgres://…`): one lease, one journal and the
//! plan records in tables shared by every runner.
//!
//! ```text
//! sophia_lease   (name PK, holder, username, host, pid, token, since, expires_at)
//! sophia_journal (seq PK, at, kind, plan_digest, address, status, proof, proof_sha256, prev, line)
//! sophia_plans   (digest PK, plan, signatures[], approver, status, stored_at, updated_at)
//! sophia_applied (digest PK, nonce UNIQUE, at): each plan an apply started, claimed once
//! sophia_managed (address PK, first_digest, last_digest, protect, protect_names): the managed set
//! ```
//!
//! - Tables are created on first use, under a transaction-scoped advisory lock
//!   ([`SCHEMA_LOCK`]): concurrent `CREATE TABLE IF NOT EXISTS` can otherwise fail on the
//!   catalog's unique index.
//! - The lease is acquired in one transaction that first takes the advisory lock
//!   [`LEASE_LOCK`], then reads the row `FOR UPDATE` and inserts, refuses, or takes over an
//!   expired row. Times are the **server's** `now()`, so runners with skewed clocks agree.
//! - **A dead holder is detected at once**, as the local backend does with `/proc/<pid>`,
//!   but across hosts: the holder keeps a session-level advisory lock whose key is derived
//!   from its lease token ([`liveness_key`]) for as long as its connection lives. The server
//!   drops it when the session ends — the process died (`kill -9`, a crashed runner) or lost
//!   its connection, and so any way to renew the lease or append to the journal. `acquire`
//!   tries that lock: if it is free, the holder is gone and its lease is taken over
//!   ([`TakeoverReason::SessionGone`]) without waiting for the TTL. A holder whose session is
//!   alive keeps its lease until it expires, as before. (A lease row written by a `sophia`
//!   that did not hold this lock would look dead: every version since this one holds it.)
//! - The journal is chained exactly like `journal.jsonl`: `line` holds the record's exact
//!   JSON and `prev` the hash of the previous row's `line`. Append holds
//!   `LOCK TABLE sophia_journal IN EXCLUSIVE MODE` while it reads the last row and inserts.
//!   The other columns repeat the line's fields for queries; verify checks they agree, so an
//!   `UPDATE` of either is named.
//! - Errors name the host, port, database and user; never the password.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

use super::{
    Applied, Granted, Holder, LeaseError, LeaseInfo, PlanRecord, Takeover, TakeoverReason,
};
use crate::proofs::journal::{self, Entry, Source};
use crate::proofs::{GENESIS, NewRecord, ProofStore, Record, VerifyReport};

/// Advisory lock key serializing schema creation ("sophia" + 1 in ASCII-ish hex; any fixed
/// value that other applications on the server are unlikely to use).
pub const SCHEMA_LOCK: i64 = 0x736f_7068_6961_0001;
/// Advisory lock key serializing lease operations.
pub const LEASE_LOCK: i64 = 0x736f_7068_6961_0002;
/// The `application_name` of sophia's sessions, followed by ` pid N`.
pub const APPLICATION_NAME: &str = "sophia";
/// The one lease row: there is one apply lease per database.
const LEASE_NAME: &str = "apply";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sophia_lease (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    username    TEXT NOT NULL,
    host        TEXT NOT NULL,
    pid         BIGINT NOT NULL,
    token       TEXT NOT NULL,
    since       TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS sophia_journal (
    seq          BIGINT PRIMARY KEY,
    at           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    plan_digest  TEXT,
    address      TEXT,
    status       TEXT NOT NULL,
    proof        TEXT,
    proof_sha256 TEXT,
    prev         TEXT NOT NULL,
    line         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sophia_plans (
    digest      TEXT PRIMARY KEY,
    plan        TEXT NOT NULL,
    signatures  TEXT[] NOT NULL,
    approver    TEXT,
    status      TEXT NOT NULL,
    stored_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS sophia_http_cache (
    key         TEXT PRIMARY KEY,
    etag        TEXT NOT NULL,
    body        TEXT NOT NULL,
    stored_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS sophia_applied (
    digest      TEXT PRIMARY KEY,
    nonce       TEXT NOT NULL UNIQUE,
    at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS sophia_managed (
    address      TEXT PRIMARY KEY,
    first_digest TEXT NOT NULL,
    last_digest  TEXT NOT NULL,
    protect      BOOLEAN NOT NULL DEFAULT false
);
-- Protected names inside an address (issue 14: a Fly secret, an environment's secret or
-- variable); added after the table, so an existing table gains it.
ALTER TABLE sophia_managed ADD COLUMN IF NOT EXISTS protect_names TEXT[] NOT NULL DEFAULT '{}';
";

/// A connected PostgreSQL backend.
#[derive(Debug)]
pub struct PgBackend {
    client: Mutex<Client>,
    describe: String,
    proofs: ProofStore,
}

/// `postgres://user@host:port/db` of a config, without the password.
fn describe(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                tokio_postgres::config::Host::Tcp(s) => s.clone(),
                tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
            };
            let port = config
                .get_ports()
                .get(i)
                .or(config.get_ports().first())
                .copied()
                .unwrap_or(5432);
            format!("{host}:{port}")
        })
        .collect();
    format!(
        "postgres://{}@{}/{}",
        config.get_user().unwrap_or("(default user)"),
        hosts.join(","),
        config.get_dbname().unwrap_or("(default database)")
    )
}

/// The password of a `postgres://user:password@…` URL, to scrub from error messages that a
/// driver might have built from it.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    userinfo
        .split_once(':')
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty())
}

fn scrub(message: String, password: Option<&str>) -> String {
    match password {
        Some(p) => message.replace(p, "***"),
        None => message,
    }
}

impl PgBackend {
    /// Connect (no TLS) and create the tables if missing.
    pub async fn connect(url: &str, proofs: ProofStore) -> anyhow::Result<PgBackend> {
        let password = url_password(url);
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| {
                anyhow::anyhow!(
                    "`{}` is not a valid PostgreSQL URL: {}",
                    super::BACKEND_ENV,
                    scrub(e.to_string(), password)
                )
            })?;
        // Who holds a session, for `pg_stat_activity` (and the operator looking at a lease):
        // `sophia pid N`, unless the URL names its own.
        if config.get_application_name().is_none() {
            config.application_name(format!("{APPLICATION_NAME} pid {}", std::process::id()));
        }
        let describe = describe(&config);
        let (client, connection) = config.connect(NoTls).await.map_err(|e| {
            // Flatten the chain into one scrubbed message: the driver's text never reaches
            // the user unscrubbed.
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            anyhow::anyhow!(
                "connecting to PostgreSQL at `{describe}`: {}",
                scrub(text, password)
            )
        })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!("PostgreSQL connection closed: {e}");
            }
        });
        let pg = PgBackend {
            client: Mutex::new(client),
            describe,
            proofs,
        };
        pg.ensure_schema().await?;
        Ok(pg)
    }

    pub fn describe(&self) -> &str {
        &self.describe
    }

    pub fn proofs(&self) -> &ProofStore {
        &self.proofs
    }

    pub(super) fn ctx(&self, what: &str) -> String {
        format!("{what} on `{}`", self.describe)
    }

    async fn ensure_schema(&self) -> anyhow::Result<()> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .await
            .with_context(|| self.ctx("locking the schema"))?;
        tx.batch_execute(SCHEMA)
            .await
            .with_context(|| self.ctx("creating the sophia_* tables"))?;
        tx.commit()
            .await
            .with_context(|| self.ctx("creating the sophia_* tables"))?;
        Ok(())
    }

    /// Take the lease (see the module docs).
    pub async fn acquire(&self, holder: &Holder, ttl: Duration) -> Result<Granted, LeaseError> {
        let mut client = self.client.lock().await;
        let ctx = || self.ctx("acquiring the lease");
        let tx = client.transaction().await.with_context(ctx)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LEASE_LOCK])
            .await
            .with_context(ctx)?;
        let current = tx
            .query_opt(
                &format!("{LEASE_COLUMNS}, expires_at <= now() FROM sophia_lease WHERE name = $1 FOR UPDATE"),
                &[&LEASE_NAME],
            )
            .await
            .with_context(ctx)?;
        let took_over = match current {
            None => None,
            Some(row) => {
                let info = lease_from_row(&row)?;
                let expired: bool = row.get(7);
                let reason = if expired {
                    TakeoverReason::Expired
                } else if session_gone(&tx, &info.token).await.with_context(ctx)? {
                    TakeoverReason::SessionGone
                } else {
                    return Err(LeaseError::Held(Box::new(info)));
                };
                Some(Takeover {
                    previous: info,
                    reason,
                })
            }
        };
        let token = format!("{:032x}", rand::random::<u128>());
        let row = tx
            .query_one(
                "INSERT INTO sophia_lease (name, holder, username, host, pid, token, since, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, now(), now() + make_interval(secs => $7))
                 ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, username = EXCLUDED.username,
                   host = EXCLUDED.host, pid = EXCLUDED.pid, token = EXCLUDED.token,
                   since = EXCLUDED.since, expires_at = EXCLUDED.expires_at
                 RETURNING holder, username, host, pid, token,
                   extract(epoch from since)::float8, extract(epoch from expires_at)::float8",
                &[
                    &LEASE_NAME,
                    &holder.to_string(),
                    &holder.user,
                    &holder.host,
                    &i64::from(holder.pid),
                    &token,
                    &ttl.as_secs_f64(),
                ],
            )
            .await
            .with_context(ctx)?;
        let lease = lease_from_row(&row)?;
        // Our liveness lock: a fresh random key, so it is free; held until the session ends
        // or `release`.
        if let Some(key) = liveness_key(&token) {
            tx.query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await
                .with_context(ctx)?;
        }
        tx.commit().await.with_context(ctx)?;
        Ok(Granted { lease, took_over })
    }

    pub async fn lease(&self) -> anyhow::Result<Option<LeaseInfo>> {
        let client = self.client.lock().await;
        let row = client
            .query_opt(
                &format!("{LEASE_COLUMNS} FROM sophia_lease WHERE name = $1"),
                &[&LEASE_NAME],
            )
            .await
            .with_context(|| self.ctx("reading the lease"))?;
        row.map(|r| lease_from_row(&r)).transpose()
    }

    pub async fn renew(&self, mine: &LeaseInfo, ttl: Duration) -> Result<LeaseInfo, LeaseError> {
        let client = self.client.lock().await;
        let row = client
            .query_opt(
                "UPDATE sophia_lease SET expires_at = now() + make_interval(secs => $3)
                 WHERE name = $1 AND token = $2
                 RETURNING holder, username, host, pid, token,
                   extract(epoch from since)::float8, extract(epoch from expires_at)::float8",
                &[&LEASE_NAME, &mine.token, &ttl.as_secs_f64()],
            )
            .await
            .with_context(|| self.ctx("renewing the lease"))?;
        match row {
            Some(r) => Ok(lease_from_row(&r)?),
            None => {
                drop(client);
                Err(LeaseError::Lost {
                    holder: mine.holder.clone(),
                    now_held_by: self.lease().await?.map(|l| l.holder),
                })
            }
        }
    }

    pub async fn release(&self, mine: &LeaseInfo) -> Result<bool, LeaseError> {
        let client = self.client.lock().await;
        let n = client
            .execute(
                "DELETE FROM sophia_lease WHERE name = $1 AND token = $2",
                &[&LEASE_NAME, &mine.token],
            )
            .await
            .with_context(|| self.ctx("releasing the lease"))?;
        if let Some(key) = liveness_key(&mine.token) {
            client
                .query_one("SELECT pg_advisory_unlock($1)", &[&key])
                .await
                .with_context(|| self.ctx("releasing the lease"))?;
        }
        Ok(n == 1)
    }

    /// Delete the lease row if it still holds the lease with `token` (`sophia lease break`).
    /// The holder's liveness lock, if its session still lives, is its own to drop.
    pub async fn remove_if(&self, token: &str) -> anyhow::Result<bool> {
        let client = self.client.lock().await;
        let n = client
            .execute(
                "DELETE FROM sophia_lease WHERE name = $1 AND token = $2",
                &[&LEASE_NAME, &token],
            )
            .await
            .with_context(|| self.ctx("breaking the lease"))?;
        Ok(n == 1)
    }

    /// Append a record, chained onto the last row under a table lock.
    pub async fn append(&self, new: NewRecord) -> anyhow::Result<Record> {
        let mut client = self.client.lock().await;
        let ctx = || self.ctx("appending to the journal");
        let tx = client.transaction().await.with_context(ctx)?;
        tx.batch_execute("LOCK TABLE sophia_journal IN EXCLUSIVE MODE")
            .await
            .with_context(ctx)?;
        let last = tx
            .query_opt(
                "SELECT seq, line FROM sophia_journal ORDER BY seq DESC LIMIT 1",
                &[],
            )
            .await
            .with_context(ctx)?;
        let (last_seq, prev) = match last {
            None => (0, GENESIS.to_string()),
            Some(row) => {
                let seq: i64 = row.get(0);
                let line: String = row.get(1);
                (seq as u64, journal::line_hash(&line))
            }
        };
        let record = new.chain(last_seq, prev);
        let line = record.to_line();
        tx.execute(
            "INSERT INTO sophia_journal (seq, at, kind, plan_digest, address, status, proof, proof_sha256, prev, line)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &(record.seq as i64),
                &record.at,
                &record.kind,
                &record.plan_digest,
                &record.address,
                &record.status,
                &record.proof,
                &record.proof_sha256,
                &record.prev,
                &line,
            ],
        )
        .await
        .with_context(ctx)?;
        tx.commit().await.with_context(ctx)?;
        Ok(record)
    }

    pub async fn journal(&self) -> anyhow::Result<Vec<Record>> {
        let client = self.client.lock().await;
        let rows = client
            .query("SELECT seq, line FROM sophia_journal ORDER BY seq", &[])
            .await
            .with_context(|| self.ctx("reading the journal"))?;
        rows.iter()
            .map(|r| {
                let seq: i64 = r.get(0);
                let line: String = r.get(1);
                serde_json::from_str(&line)
                    .with_context(|| format!("sophia_journal row seq {seq} is not a record"))
            })
            .collect()
    }

    /// Verify the table's chain, its columns against its lines, and the proof files.
    pub async fn verify(&self, expect_head: Option<&str>) -> anyhow::Result<VerifyReport> {
        let rows = {
            let client = self.client.lock().await;
            client
                .query(
                    "SELECT seq, at, kind, plan_digest, address, status, proof, proof_sha256, prev, line
                     FROM sophia_journal ORDER BY seq",
                    &[],
                )
                .await
                .with_context(|| self.ctx("reading the journal"))?
        };
        let entries: Vec<Entry> = rows
            .iter()
            .map(|r| {
                let seq: i64 = r.get(0);
                let text = |i: usize| -> Option<String> { r.get(i) };
                Entry {
                    bytes: r.get::<_, String>(9).into_bytes(),
                    terminated: true,
                    columns: vec![
                        ("seq", Some(seq.to_string())),
                        ("at", text(1)),
                        ("kind", text(2)),
                        ("plan_digest", text(3)),
                        ("address", text(4)),
                        ("status", text(5)),
                        ("proof", text(6)),
                        ("proof_sha256", text(7)),
                        ("prev", text(8)),
                    ],
                }
            })
            .collect();
        Ok(journal::verify_entries(
            &Source::Table("sophia_journal".into()),
            &entries,
            self.proofs.root(),
            expect_head,
        )?)
    }

    /// The connection, for the tables of other modules (`sophia_managed`: `managed.rs`).
    pub(super) async fn client(&self) -> tokio::sync::MutexGuard<'_, Client> {
        self.client.lock().await
    }

    pub async fn store_plan(&self, plan: &PlanRecord) -> anyhow::Result<()> {
        let client = self.client.lock().await;
        client
            .execute(
                "INSERT INTO sophia_plans (digest, plan, signatures, approver, status)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (digest) DO UPDATE SET plan = EXCLUDED.plan,
                   signatures = EXCLUDED.signatures, approver = EXCLUDED.approver,
                   status = EXCLUDED.status, updated_at = now()",
                &[
                    &plan.digest,
                    &plan.plan,
                    &plan.signatures,
                    &plan.approver,
                    &plan.status,
                ],
            )
            .await
            .with_context(|| self.ctx("storing a plan record"))?;
        Ok(())
    }

    /// The ETag cache of conditional reads (see `providers::http::EtagCache`).
    pub async fn load_http_cache(
        &self,
    ) -> anyhow::Result<std::collections::BTreeMap<String, crate::providers::http::CachedAnswer>>
    {
        let client = self.client.lock().await;
        let rows = client
            .query("SELECT key, etag, body FROM sophia_http_cache", &[])
            .await
            .with_context(|| self.ctx("reading the HTTP cache"))?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<_, String>(0),
                    crate::providers::http::CachedAnswer {
                        etag: r.get(1),
                        body: r.get(2),
                    },
                )
            })
            .collect())
    }

    /// Store the ETag cache (upserts, one transaction).
    pub async fn store_http_cache(
        &self,
        entries: &std::collections::BTreeMap<String, crate::providers::http::CachedAnswer>,
    ) -> anyhow::Result<()> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await?;
        let stmt = tx
            .prepare(
                "INSERT INTO sophia_http_cache (key, etag, body) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET etag = EXCLUDED.etag, body = EXCLUDED.body,
                   stored_at = now()",
            )
            .await?;
        for (key, a) in entries {
            tx.execute(&stmt, &[key, &a.etag, &a.body])
                .await
                .with_context(|| self.ctx("storing the HTTP cache"))?;
        }
        tx.commit()
            .await
            .with_context(|| self.ctx("storing the HTTP cache"))?;
        Ok(())
    }

    /// The earlier apply of the plan with `digest` or `nonce`, if any.
    pub async fn applied(&self, digest: &str, nonce: &str) -> anyhow::Result<Option<Applied>> {
        let client = self.client.lock().await;
        let row = client
            .query_opt(
                "SELECT digest, nonce,
                   to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
                 FROM sophia_applied
                 WHERE digest = $1 OR nonce = $2 ORDER BY at LIMIT 1",
                &[&digest, &nonce],
            )
            .await
            .with_context(|| self.ctx("reading the applied plans"))?;
        Ok(row.map(|r| Applied {
            digest: r.get(0),
            nonce: r.get(1),
            at: r.get(2),
        }))
    }

    /// Claim a plan: the insert succeeds once per digest and once per nonce; otherwise the
    /// earlier claim is returned.
    pub async fn claim(&self, digest: &str, nonce: &str) -> anyhow::Result<Option<Applied>> {
        let inserted = {
            let client = self.client.lock().await;
            client
                .execute(
                    "INSERT INTO sophia_applied (digest, nonce) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&digest, &nonce],
                )
                .await
                .with_context(|| self.ctx("claiming the plan as applied"))?
        };
        if inserted == 1 {
            return Ok(None);
        }
        Ok(Some(self.applied(digest, nonce).await?.ok_or_else(
            || anyhow::anyhow!("claiming the plan as applied: a conflicting claim vanished"),
        )?))
    }

    pub async fn load_plan(&self, digest: &str) -> anyhow::Result<Option<PlanRecord>> {
        let client = self.client.lock().await;
        let row = client
            .query_opt(
                "SELECT digest, plan, signatures, approver, status FROM sophia_plans WHERE digest = $1",
                &[&digest],
            )
            .await
            .with_context(|| self.ctx("reading a plan record"))?;
        Ok(row.map(|r| PlanRecord {
            digest: r.get(0),
            plan: r.get(1),
            signatures: r.get(2),
            approver: r.get(3),
            status: r.get(4),
        }))
    }
}

/// The key of a holder's liveness lock: the first 64 bits of its random lease token (`None`
/// for a token that is not the hex `acquire` makes, which is then never judged dead).
pub fn liveness_key(token: &str) -> Option<i64> {
    token
        .get(..16)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .map(|k| k as i64)
}

/// Whether the session of the lease holding `token` has ended: no session holds its
/// liveness lock. Read from `pg_locks` (which every role may read) rather than by trying the
/// lock, which would succeed in the holder's own session too (advisory locks are
/// re-entrant). A bigint key shows as its high half in `classid`, its low half in `objid`,
/// with `objsubid` 1.
async fn session_gone(
    tx: &tokio_postgres::Transaction<'_>,
    token: &str,
) -> Result<bool, tokio_postgres::Error> {
    let Some(key) = liveness_key(token) else {
        return Ok(false);
    };
    let (high, low) = (((key as u64) >> 32) as u32, key as u64 as u32);
    let row = tx
        .query_one(
            "SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
               AND classid = $1 AND objid = $2 AND objsubid = 1 AND granted)",
            &[&high, &low],
        )
        .await?;
    Ok(row.get(0))
}

/// The lease columns, times as epoch seconds (no chrono feature needed in the driver).
const LEASE_COLUMNS: &str = "SELECT holder, username, host, pid, token,
    extract(epoch from since)::float8, extract(epoch from expires_at)::float8";

fn lease_from_row(row: &tokio_postgres::Row) -> anyhow::Result<LeaseInfo> {
    let time = |i: usize| -> anyhow::Result<DateTime<Utc>> {
        let secs: f64 = row.get(i);
        DateTime::from_timestamp_micros((secs * 1e6).round() as i64)
            .context("a lease time out of range")
    };
    let pid: i64 = row.get(3);
    Ok(LeaseInfo {
        holder: row.get(0),
        user: row.get(1),
        host: row.get(2),
        pid: u32::try_from(pid).unwrap_or(0),
        token: row.get(4),
        since: time(5)?,
        expires_at: time(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_never_hold_the_password() {
        let url = "postgres://alice:s3cr3t@db.example:6543/sophia";
        let config: tokio_postgres::Config = url.parse().unwrap();
        assert_eq!(describe(&config), "postgres://alice@db.example:6543/sophia");
        assert_eq!(url_password(url), Some("s3cr3t"));
        assert_eq!(
            scrub("bad s3cr3t here".into(), url_password(url)),
            "bad *** here"
        );
        assert_eq!(url_password("postgres://alice@h/db"), None);
    }
}
