//! The cost of a plan (DESIGN.md, "Review: policy, cost and picture"): the monthly price of
//! each Fly app before the plan (live) and after it (live with the plan's changes), from the
//! dated price table in the repository ([`prices`]). Pure: the table comes in as data.
//!
//! An app's month is its machines (each machine group's `count` × the price of its guest
//! size in its region), its volumes (`count` × `size_gb` × the GB-month price) and its
//! dedicated IPv4 addresses. Machines spread over several regions are counted as the Fly
//! provider lays them out: evenly, the first regions (by name) taking one more when the
//! count does not divide.
//!
//! A guest size or region the table does not list is **not** guessed: the app is left out of
//! the totals and the plan carries a warning naming what is missing. A warning the approver
//! reads is better than a figure that looks exact and is not.

pub mod block;
pub mod prices;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

pub use block::{AppCost, Cost};
pub use prices::{GuestSize, Money, PRICES_PATH, Prices, PricesError};

use crate::core::address::Address;
use crate::core::live::LiveSnapshot;
use crate::core::plan::facts::fly_app;
use crate::core::plan::types::{Change, ChangeKind};

/// The Fly resources of one state, by app then address.
type State = BTreeMap<String, BTreeMap<Address, Value>>;

/// The cost of applying `changes` to `live`; `None` when neither side has a Fly app.
pub fn estimate(prices: &Prices, live: &LiveSnapshot, changes: &[Change]) -> Option<Cost> {
    let before = fly_state(live.resources.iter());
    let after = apply_changes(&before, live, changes);
    let apps: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    if apps.is_empty() {
        return None;
    }
    let changed: BTreeSet<&str> = changes.iter().filter_map(|c| fly_app(&c.address)).collect();
    let mut cost = Cost {
        currency: prices.currency.clone(),
        before: Money::ZERO,
        after: Money::ZERO,
        delta: Money::ZERO,
        prices_date: prices.date.clone(),
        prices_source: prices.source.clone(),
        apps: BTreeMap::new(),
        warnings: Vec::new(),
    };
    let empty = BTreeMap::new();
    for app in apps {
        let was = app_month(prices, before.get(app).unwrap_or(&empty));
        let will = app_month(prices, after.get(app).unwrap_or(&empty));
        let (was, will) = match (was, will) {
            (Ok(was), Ok(will)) => (was, will),
            (was, will) => {
                let mut missing: BTreeSet<String> = BTreeSet::new();
                missing.extend(was.err().into_iter().flatten());
                missing.extend(will.err().into_iter().flatten());
                cost.warnings.push(format!(
                    "fly.app.{app} is left out of the cost: the price table has no {} ({PRICES_PATH}, prices of {})",
                    missing.into_iter().collect::<Vec<_>>().join(", "),
                    prices.date
                ));
                continue;
            }
        };
        cost.before = cost.before + was;
        cost.after = cost.after + will;
        if changed.contains(app.as_str()) {
            cost.apps.insert(
                app.clone(),
                AppCost {
                    before: was,
                    after: will,
                    delta: will - was,
                },
            );
        }
    }
    cost.delta = cost.after - cost.before;
    Some(cost)
}

/// Whether an address carries a price (machines, volumes, addresses).
fn priced(address: &Address) -> bool {
    matches!(
        address,
        Address::FlyMachines { .. }
            | Address::FlyProcess { .. }
            | Address::FlyIps { .. }
            | Address::FlyVolume { .. }
    )
}

fn fly_state<'a>(resources: impl Iterator<Item = (&'a Address, &'a Value)>) -> State {
    let mut state = State::new();
    for (address, value) in resources {
        if let Some(app) = fly_app(address).filter(|_| priced(address)) {
            state
                .entry(app.to_string())
                .or_default()
                .insert(address.clone(), value.clone());
        }
    }
    state
}

/// Live with the plan's changes: a deleted resource (or app) is gone; a created or updated
/// one holds live's attributes overlaid with those the change sets (an attribute desired
/// does not set keeps its live value).
fn apply_changes(before: &State, live: &LiveSnapshot, changes: &[Change]) -> State {
    let mut after = before.clone();
    for change in changes {
        let Some(app) = fly_app(&change.address) else {
            continue;
        };
        if change.action == ChangeKind::Delete {
            if matches!(change.address, Address::FlyApp { .. }) {
                after.remove(app);
            } else if let Some(resources) = after.get_mut(app) {
                resources.remove(&change.address);
            }
            continue;
        }
        if !priced(&change.address) {
            continue;
        }
        let mut value = live
            .get(&change.address)
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        if let (Value::Object(obj), Value::Object(set)) = (&mut value, &change.after) {
            for (k, v) in set {
                obj.insert(k.clone(), v.clone());
            }
        }
        after
            .entry(app.to_string())
            .or_default()
            .insert(change.address.clone(), value);
    }
    after
}

/// An app's month, or what the table lacks to price it.
fn app_month(prices: &Prices, resources: &BTreeMap<Address, Value>) -> Result<Money, Vec<String>> {
    let mut total = Money::ZERO;
    let mut missing = Vec::new();
    for (address, value) in resources {
        match address {
            Address::FlyMachines { .. } | Address::FlyProcess { .. } => {
                match machines_month(prices, value) {
                    Ok(m) => total = total + m,
                    Err(m) => missing.extend(m),
                }
            }
            Address::FlyVolume { .. } => {
                let count = value.get("count").and_then(Value::as_u64).unwrap_or(0);
                // The Fly provider creates a volume of 1 GB when desired gives no size.
                let size = value.get("size_gb").and_then(Value::as_u64).unwrap_or(1);
                total = total + prices.volume_gb_month * count.saturating_mul(size);
            }
            Address::FlyIps { .. } => {
                let n = value
                    .get("v4_dedicated")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                total = total + prices.dedicated_ipv4_month * n;
            }
            _ => {}
        }
    }
    if missing.is_empty() {
        Ok(total)
    } else {
        Err(missing)
    }
}

/// A machine group's month: its count spread over its regions, each at its guest's price.
fn machines_month(prices: &Prices, machines: &Value) -> Result<Money, Vec<String>> {
    let count = machines.get("count").and_then(Value::as_u64).unwrap_or(0);
    if count == 0 {
        return Ok(Money::ZERO);
    }
    let guest = guest_of(machines.get("guest"));
    let regions: Vec<&str> = machines
        .get("regions")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if regions.is_empty() {
        return Err(vec!["region for machines placed nowhere".to_string()]);
    }
    let mut total = Money::ZERO;
    let mut missing = Vec::new();
    for (region, n) in spread(count, &regions) {
        match prices.machine(region, &guest) {
            Some(price) => total = total + price * n,
            None => missing.push(format!("price for {guest} in `{region}`")),
        }
    }
    if missing.is_empty() {
        Ok(total)
    } else {
        Err(missing)
    }
}

/// A guest object (`{cpu_kind, cpus, memory_mb}`), Fly's defaults (shared, 1 cpu, 256 MB)
/// for what it leaves out.
fn guest_of(guest: Option<&Value>) -> GuestSize {
    let field = |k: &str| guest.and_then(|g| g.get(k));
    GuestSize {
        cpu_kind: field("cpu_kind")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .unwrap_or("shared")
            .to_string(),
        cpus: field("cpus").and_then(Value::as_u64).unwrap_or(1),
        memory_mb: field("memory_mb").and_then(Value::as_u64).unwrap_or(256),
    }
}

/// `count` machines over `regions` (sorted by name): evenly, the first regions taking one
/// more when the count does not divide.
fn spread<'a>(count: u64, regions: &[&'a str]) -> Vec<(&'a str, u64)> {
    let mut sorted = regions.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let n = sorted.len() as u64;
    sorted
        .into_iter()
        .enumerate()
        .map(|(i, r)| (r, count / n + u64::from((i as u64) < count % n)))
        .filter(|(_, k)| *k > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prices() -> Prices {
        prices::parse(
            "t",
            r#"currency = "USD"
source = "s"
date = "2026-11-27"
[volume]
gb_month = "0.15"
[ipv4]
dedicated_month = "2.00"
[machines.ord]
"performance-2x/4GB" = "82.50"
"shared-cpu-1x/256MB" = "2.74"
[machines.ams]
"shared-cpu-1x/256MB" = "2.28"
"#,
        )
        .unwrap()
    }

    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    fn change(address: &str, action: ChangeKind, after: Value) -> Change {
        Change {
            address: addr(address),
            action,
            before: Value::Null,
            after,
            diff: vec![],
        }
    }

    #[test]
    fn one_more_machine_volume_and_address() {
        let mut live = LiveSnapshot::new("t");
        live.resources.insert(
            addr("fly.app.a.machines"),
            json!({"count": 1, "regions": ["ord"], "guest": {"cpu_kind": "performance", "cpus": 2, "memory_mb": 4096}, "image": "i"}),
        );
        live.resources.insert(
            addr("fly.app.a.ips"),
            json!({"public": true, "v4": 2, "v6": 1, "v4_dedicated": 1}),
        );
        let changes = [
            change(
                "fly.app.a.machines",
                ChangeKind::Update,
                json!({"count": 2, "image": "j"}),
            ),
            change(
                "fly.app.a.volume.data",
                ChangeKind::Create,
                json!({"count": 2, "regions": ["ord"], "size_gb": 10}),
            ),
        ];
        let cost = estimate(&prices(), &live, &changes).unwrap();
        // before: 1 × 82.50 + 1 × 2.00; after: 2 × 82.50 + 2 × 10 × 0.15 + 2.00.
        assert_eq!(cost.before, Money(8450));
        assert_eq!(cost.after, Money(16500 + 300 + 200));
        assert_eq!(cost.delta, Money(8250 + 300));
        assert_eq!(cost.apps["a"].delta, cost.delta);
        assert!(cost.warnings.is_empty());
    }

    #[test]
    fn an_unknown_size_is_a_warning_not_a_figure() {
        let live = LiveSnapshot::new("t");
        let changes = [change(
            "fly.app.b.machines",
            ChangeKind::Create,
            json!({"count": 3, "regions": ["ord", "ams"], "guest": {"cpu_kind": "performance", "cpus": 2, "memory_mb": 4096}}),
        )];
        let cost = estimate(&prices(), &live, &changes).unwrap();
        assert_eq!(cost.after, Money::ZERO);
        assert!(cost.apps.is_empty());
        assert_eq!(
            cost.warnings,
            [
                "fly.app.b is left out of the cost: the price table has no price for performance-2x/4GB in `ams` (.infra/prices/fly.toml, prices of 2026-11-27)"
            ]
        );
    }

    #[test]
    fn machines_spread_over_regions_and_default_guest() {
        let live = LiveSnapshot::new("t");
        // 3 machines over ams and ord: ams takes two. No guest: shared-cpu-1x/256MB.
        let changes = [change(
            "fly.app.c.machines",
            ChangeKind::Create,
            json!({"count": 3, "regions": ["ord", "ams"]}),
        )];
        let cost = estimate(&prices(), &live, &changes).unwrap();
        assert_eq!(cost.after, Money(2 * 228 + 274));
    }

    #[test]
    fn no_fly_app_no_cost() {
        assert_eq!(estimate(&prices(), &LiveSnapshot::new("t"), &[]), None);
    }
}
