//! The managed set in the backend (DESIGN.md, "Lifecycle"; issue 14): every address an
//! apply created or changed, with the first and last plan that did, and `protect`.
//!
//! Both backends journal each new set: after an apply, the whole set is written as a proof
//! file (`proofs/managed/<plan hex>.json`, atomically) and a `managed.update` record names it
//! with its SHA-256, so `sophia proofs verify` covers it like every proof.
//!
//! - local: the set *is* the file the last `managed.update` record names. Reading it checks
//!   its hash against that record, so a hand-edited set is refused, not trusted.
//! - PostgreSQL: the table `sophia_managed (address PK, first_digest, last_digest, protect,
//!   protect_names)`,
//!   replaced in one transaction per apply; `verify` checks it equals the last journaled
//!   file, so an `UPDATE` of the table is named.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::Backend;
use crate::core::lifecycle::ManagedSet;
use crate::proofs::{NewRecord, ProofKind, ProofStore, Record, RelPath};

/// The journal kind of a new managed set.
pub const MANAGED_KIND: &str = "managed.update";
/// The managed set file's format.
pub const MANAGED_FORMAT: &str = "sophia-managed/v1";

/// `proofs/managed/<plan hex>.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManagedFile {
    format: String,
    /// The plan whose apply made this set.
    plan: String,
    addresses: ManagedSet,
}

/// The set the last `managed.update` record of `records` names, its hash checked; empty
/// when there is none.
fn from_journal(records: &[Record], proofs: &ProofStore) -> anyhow::Result<ManagedSet> {
    let Some(record) = records.iter().rev().find(|r| r.kind == MANAGED_KIND) else {
        return Ok(ManagedSet::new());
    };
    let path = record
        .proof
        .as_deref()
        .with_context(|| format!("journal record {} names no managed set file", record.seq))?;
    let rel = RelPath::parse(path)?;
    let bytes = proofs.read(&rel)?;
    let sha = crate::core::digest::sha256_bytes(&bytes);
    if record.proof_sha256.as_deref() != Some(sha.as_str()) {
        return Err(crate::hinted!(
            hint = "run `sophia proofs verify` to see what changed; restore the file from the `proofs` branch",
            "the managed set `proofs/{path}` does not match journal record {} (it was changed after the apply that wrote it)",
            record.seq
        ));
    }
    let file: ManagedFile =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing `proofs/{path}`"))?;
    Ok(file.addresses)
}

impl Backend {
    /// The managed set: empty before the first apply.
    pub async fn managed(&self) -> anyhow::Result<ManagedSet> {
        match self {
            Backend::Local { proofs, .. } => from_journal(&self.journal().await?, proofs),
            Backend::Postgres(pg) => pg.managed().await,
        }
    }

    /// Store the managed set after the apply of `plan_digest`: the file, the table
    /// (PostgreSQL), then the `managed.update` record naming the file.
    pub async fn store_managed(
        &self,
        plan_digest: &str,
        set: &ManagedSet,
    ) -> anyhow::Result<Record> {
        let file = ManagedFile {
            format: MANAGED_FORMAT.into(),
            plan: plan_digest.into(),
            addresses: set.clone(),
        };
        let mut text = serde_json::to_string_pretty(&file)?;
        text.push('\n');
        let proof = self.proofs().write(
            &ProofKind::Managed {
                plan_digest: plan_digest.into(),
            },
            text.as_bytes(),
        )?;
        if let Backend::Postgres(pg) = self {
            pg.store_managed(set).await?;
        }
        self.append(
            NewRecord::now(MANAGED_KIND, "success")
                .plan(plan_digest)
                .proof(proof),
        )
        .await
    }

    /// PostgreSQL: the table equals the last journaled set (local: the file is the set, and
    /// the journal's verification already checks its hash).
    pub async fn verify_managed(&self) -> anyhow::Result<()> {
        let Backend::Postgres(pg) = self else {
            return Ok(());
        };
        let journaled = from_journal(&self.journal().await?, self.proofs())?;
        let table = pg.managed().await?;
        if journaled == table {
            return Ok(());
        }
        let mut differ: Vec<String> = journaled
            .iter()
            .filter(|(a, e)| table.get(*a) != Some(*e))
            .chain(table.iter().filter(|(a, e)| journaled.get(*a) != Some(*e)))
            .map(|(a, _)| format!("`{a}`"))
            .collect();
        differ.sort();
        differ.dedup();
        Err(crate::hinted!(
            hint = "the table was changed outside sophia; restore it from the last `proofs/managed/` file",
            "the table `sophia_managed` differs from the managed set the journal last recorded, at {}",
            differ.join(", ")
        ))
    }
}

/// A `sophia_managed` row: `(address, first, last, protect, protect_names)`.
type Row = (String, String, String, bool, Vec<String>);

/// The set of `sophia_managed` rows.
pub(super) fn rows_to_set(rows: impl Iterator<Item = Row>) -> anyhow::Result<ManagedSet> {
    rows.map(|(address, first, last, protect, names)| {
        let address = crate::core::address::Address::parse(&address)
            .with_context(|| "a row of `sophia_managed` names no address")?;
        Ok((
            address,
            crate::core::lifecycle::ManagedEntry {
                first,
                last,
                protect,
                protect_names: names.into_iter().collect(),
            },
        ))
    })
    .collect()
}

impl super::postgres::PgBackend {
    /// The managed set (`sophia_managed`).
    pub async fn managed(&self) -> anyhow::Result<crate::core::lifecycle::ManagedSet> {
        let client = self.client().await;
        let rows = client
            .query(
                "SELECT address, first_digest, last_digest, protect, protect_names FROM sophia_managed",
                &[],
            )
            .await
            .with_context(|| self.ctx("reading the managed set"))?;
        super::managed::rows_to_set(
            rows.iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))),
        )
    }

    /// Replace the managed set in one transaction.
    pub async fn store_managed(
        &self,
        set: &crate::core::lifecycle::ManagedSet,
    ) -> anyhow::Result<()> {
        let mut client = self.client().await;
        let ctx = || self.ctx("storing the managed set");
        let tx = client.transaction().await.with_context(ctx)?;
        tx.execute("DELETE FROM sophia_managed", &[])
            .await
            .with_context(ctx)?;
        for (address, e) in set {
            let names: Vec<&String> = e.protect_names.iter().collect();
            tx.execute(
                "INSERT INTO sophia_managed (address, first_digest, last_digest, protect, protect_names) VALUES ($1, $2, $3, $4, $5)",
                &[&address.to_string(), &e.first, &e.last, &e.protect, &names],
            )
            .await
            .with_context(ctx)?;
        }
        tx.commit().await.with_context(ctx)?;
        Ok(())
    }
}
