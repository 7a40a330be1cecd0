//! The bound an apply is measured against, shared by the apply and org benchmarks.

use std::collections::BTreeMap;

use sophia::core::plan::Action;

/// `max(longest dependency chain, total work ÷ parallelism)` from each action's measured
/// duration (ms, by action id): no schedule can beat either. `actions` are in topological
/// order, as a plan lists them.
pub fn bound(actions: &[Action], took: &BTreeMap<String, u64>, parallelism: usize) -> f64 {
    let mut finish: BTreeMap<&str, u64> = BTreeMap::new();
    for a in actions {
        let start = a
            .depends_on
            .iter()
            .filter_map(|d| finish.get(d.0.as_str()))
            .max()
            .copied()
            .unwrap_or(0);
        finish.insert(&a.id.0, start + took.get(&a.id.0).copied().unwrap_or(0));
    }
    let chain = finish.values().max().copied().unwrap_or(0) as f64;
    let total: u64 = took.values().sum();
    chain.max(total as f64 / parallelism as f64)
}
