//! The secrets ledger ([`crate::core::rotation::Ledger`]): the last set of every secret,
//! read back from the journal's successful set actions (`fly.secrets.set`,
//! `github.secret.put`, `github.environment.put`), less what sophia removed since
//! (`fly.secrets.unset`, `fly.app.delete`, `github.environment.delete`), and the stored
//! plans they ran (their `params` name the secrets and rotations set; never a value). Both backends keep both,
//! so the ledger is the same wherever the journal lives.

use std::collections::BTreeMap;

use crate::core::address::Address;
use crate::core::plan::{ActionKind, Plan};
use crate::core::rotation::Ledger;

use super::Backend;

impl Backend {
    /// The ledger of this backend's journal. A plan that cannot be read back contributes
    /// nothing (its secrets read as never set by sophia: the worst case is one more set).
    pub async fn secret_ledger(&self) -> anyhow::Result<Ledger> {
        let mut ledger = Ledger::default();
        let mut plans: BTreeMap<String, Option<Plan>> = BTreeMap::new();
        for r in self.journal().await? {
            let Ok(kind) = r.kind.parse::<ActionKind>() else {
                continue;
            };
            // Sets, and the removals that make sophia forget a name.
            let sets = crate::core::rotation::LEDGER_KINDS.contains(&kind.as_str());
            let (Some(digest), Some(address)) = (&r.plan_digest, &r.address) else {
                continue;
            };
            if !sets || r.status != "success" {
                continue;
            }
            let Ok(address) = Address::parse(address) else {
                continue;
            };
            if !plans.contains_key(digest) {
                let plan = match self.load_plan(digest).await {
                    Ok(Some(record)) => serde_json::from_str::<Plan>(&record.plan).ok(),
                    _ => None,
                };
                plans.insert(digest.clone(), plan);
            }
            let Some(plan) = &plans[digest] else {
                continue;
            };
            if let Some(a) = plan
                .actions
                .iter()
                .find(|a| a.kind == kind && a.address == address)
            {
                ledger.record(kind.as_str(), &address, &a.params, &r.at);
            }
        }
        Ok(ledger)
    }
}
