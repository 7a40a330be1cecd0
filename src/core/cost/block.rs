//! The plan's `cost` block: data only (the plan file's types import it; [`super::estimate`]
//! fills it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::prices::Money;

/// The plan's `cost` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cost {
    /// ISO 4217, from the price table (`USD`).
    pub currency: String,
    /// The monthly total of the priced apps before the plan, after it, and the difference.
    pub before: Money,
    pub after: Money,
    pub delta: Money,
    /// The price table's `date` and `source`.
    pub prices_date: String,
    pub prices_source: String,
    /// Each app the plan changes (priced), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub apps: BTreeMap<String, AppCost>,
    /// What could not be priced (the apps concerned are left out of the totals).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One app's month before and after the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppCost {
    pub before: Money,
    pub after: Money,
    pub delta: Money,
}
