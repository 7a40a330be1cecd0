//! What is signed is what runs: [`check_actions`] re-derives a plan's actions from its own
//! changes (which every rendering shows) and [`Facts`] (which every rendering shows beside
//! them), with the planner's own graph ([`graph::derive`]), and names the first action
//! whose id, kind, address, parameters, dependencies or place differs.
//!
//! So an edited `actions[].params` (an image swapped, a protection body loosened) with a
//! recomputed digest is refused by `sophia verify` and `apply` before any provider call,
//! although the digest matches: the approver read the changes, not the actions' JSON.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::facts::Facts;
use super::types::{Action, ActionId, Plan};
use crate::core::{dag, graph};

/// The first way a plan's actions differ from those its changes call for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}")]
pub struct ActionMismatch {
    /// The action concerned (`<kind>:<address>`), when one is.
    pub action: Option<String>,
    pub what: String,
}

/// Check that `plan.actions` are exactly what its changes and facts derive (for a targeted
/// plan: the part its targets select, as the planner selected it).
pub fn check_actions(plan: &Plan) -> Result<(), ActionMismatch> {
    let mismatch = |action: Option<&ActionId>, what: String| ActionMismatch {
        action: action.map(|a| a.0.clone()),
        what,
    };
    let facts = Facts::of_actions(&plan.actions).map_err(|what| mismatch(None, what))?;
    let mut derived = graph::derive(&plan.changes, &facts).map_err(|e| {
        mismatch(
            None,
            format!("the plan's changes do not give its actions: {e}"),
        )
    })?;
    if !plan.targets.is_empty() {
        derived = dag::select(&derived, &plan.targets);
    }
    let want: BTreeMap<&ActionId, &Action> = derived.iter().map(|a| (&a.id, a)).collect();
    for a in &plan.actions {
        let Some(d) = want.get(&a.id) else {
            return Err(mismatch(
                Some(&a.id),
                format!(
                    "action `{}` does not follow from any change of the plan",
                    a.id
                ),
            ));
        };
        if a.kind != d.kind || a.address != d.address {
            return Err(mismatch(
                Some(&a.id),
                format!(
                    "action `{}` is `{}` on `{}`; its id says `{}` on `{}`",
                    a.id, a.kind, a.address, d.kind, d.address
                ),
            ));
        }
        if let Some(path) = first_difference("params", &a.params, &d.params) {
            return Err(mismatch(
                Some(&a.id),
                format!(
                    "action `{}` has `{path}` = {}, but the plan's changes give {}",
                    a.id,
                    shown(pointer(&a.params, &path)),
                    shown(pointer(&d.params, &path)),
                ),
            ));
        }
        let (have, need): (BTreeSet<_>, BTreeSet<_>) =
            (a.depends_on.iter().collect(), d.depends_on.iter().collect());
        if have != need || a.depends_on.len() != d.depends_on.len() {
            let list = |s: &BTreeSet<&ActionId>| {
                s.iter()
                    .map(|i| format!("`{i}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(mismatch(
                Some(&a.id),
                format!(
                    "action `{}` runs after [{}], but the plan's changes order it after [{}]",
                    a.id,
                    list(&have),
                    list(&need)
                ),
            ));
        }
    }
    let have: BTreeSet<&ActionId> = plan.actions.iter().map(|a| &a.id).collect();
    if let Some(missing) = derived.iter().find(|d| !have.contains(&d.id)) {
        return Err(mismatch(
            Some(&missing.id),
            format!(
                "the plan's changes call for action `{}`, which its actions leave out",
                missing.id
            ),
        ));
    }
    for (i, (a, d)) in plan.actions.iter().zip(&derived).enumerate() {
        if a.id != d.id {
            return Err(mismatch(
                Some(&a.id),
                format!(
                    "action {} is `{}`, but the plan's changes put `{}` there",
                    i + 1,
                    a.id,
                    d.id
                ),
            ));
        }
    }
    Ok(())
}

/// The dotted path of the first difference between two values (`None` when equal).
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                first_difference(
                    &format!("{path}.{k}"),
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                )
                .or_else(|| (x.contains_key(k) != y.contains_key(k)).then(|| format!("{path}.{k}")))
            })
        }
        _ if a != b => Some(path.to_string()),
        _ => None,
    }
}

/// The value at a dotted path below `params`.
fn pointer<'a>(params: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .skip(1)
        .try_fold(params, |v, key| v.get(key))
}

fn shown(v: Option<&Value>) -> String {
    match v {
        None => "nothing".to_string(),
        Some(v) => {
            let text = v.to_string();
            // A long value (a whole protection body) is cut: the path already says where.
            const MAX_SHOWN: usize = 120;
            if text.chars().count() > MAX_SHOWN {
                format!("`{}…`", text.chars().take(MAX_SHOWN).collect::<String>())
            } else {
                format!("`{text}`")
            }
        }
    }
}
