//! Which changes of a plan are destructive, and why ([`destructive`]): what the
//! destructive-plan policy (`[policy] destructive_signers`) counts signers for, and what the
//! renderings flag.
//!
//! Destructive is anything that removes or weakens, not only a `delete`:
//! - a `delete` or `replace` change, an action kind ending in `.delete`;
//! - a Fly app scaled to zero machines;
//! - a Fly secret, an environment secret or an environment reviewer removed;
//! - a branch protection loosened: emptied; required reviews removed or fewer required;
//!   stale-review dismissal, code-owner or last-push review turned off; admins no longer
//!   enforced; force pushes or deletions allowed; status checks removed, no longer strict,
//!   or fewer contexts/checks; push restrictions removed; linear history, signatures or
//!   conversation resolution no longer required.
//!
//! The protection rules read the PUT bodies (`before` is the live body, `after` the body
//! sent): a field `after` does not set is not sent as such and is not judged.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::types::{Change, ChangeKind, Plan};
use crate::core::address::Address;

/// A destructive address and why (reasons joined with `; `).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Destructive {
    pub address: String,
    pub reason: String,
}

/// The destructive addresses of a plan and why, sorted by address.
pub fn destructive(plan: &Plan) -> Vec<Destructive> {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for change in &plan.changes {
        let reasons = change_reasons(change);
        if !reasons.is_empty() {
            found
                .entry(change.address.to_string())
                .or_default()
                .extend(reasons);
        }
    }
    for action in &plan.actions {
        let kind = action.kind.as_str();
        if kind.ends_with(".delete") || kind.ends_with(".replace") {
            let reasons = found.entry(action.address.to_string()).or_default();
            let why = format!("runs `{kind}`");
            if reasons.is_empty() {
                reasons.push(why);
            }
        }
    }
    found
        .into_iter()
        .map(|(address, mut reasons)| {
            reasons.dedup();
            Destructive {
                address,
                reason: reasons.join("; "),
            }
        })
        .collect()
}

/// Why one change is destructive (empty when it is not).
pub fn change_reasons(change: &Change) -> Vec<String> {
    match change.action {
        ChangeKind::Delete => return vec!["deleted".into()],
        ChangeKind::Replace => return vec!["replaced (deleted, then created)".into()],
        ChangeKind::Create | ChangeKind::NoOp => return Vec::new(),
        ChangeKind::Update => {}
    }
    let (before, after) = (&change.before, &change.after);
    let mut out = Vec::new();
    match &change.address {
        Address::FlyMachines { .. } | Address::FlyProcess { .. } => {
            let count = |v: &Value| v.get("count").and_then(Value::as_u64);
            if count(after) == Some(0) && count(before) != Some(0) {
                out.push("scales to zero machines".into());
            }
        }
        Address::FlySecrets { .. } => {
            for name in removed(before.get("names"), after.get("names")) {
                out.push(format!("removes Fly secret {name}"));
            }
        }
        Address::GithubEnvironment { .. } => {
            for r in removed(before.get("reviewers"), after.get("reviewers")) {
                out.push(format!("removes environment reviewer {r}"));
            }
            // A list `after` does not hold is not sent, and removes nothing.
            if after.get("secrets").is_some() {
                for name in removed(before.get("secrets"), after.get("secrets")) {
                    out.push(format!("removes environment secret {name}"));
                }
            }
        }
        Address::GithubProtection { .. } => protection_reasons(before, after, &mut out),
        _ => {}
    }
    out
}

/// The items of `before` that `after` lacks, shown (`login` of a reviewer, else the value).
fn removed(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    let items = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
    let after = items(after);
    items(before)
        .into_iter()
        .filter(|i| !after.contains(i))
        .map(|i| match i.get("login").or(i.get("slug")).or(Some(&i)) {
            Some(Value::String(s)) => format!("`{s}`"),
            Some(v) => format!("`{v}`"),
            None => String::new(),
        })
        .collect()
}

fn is_set(v: Option<&Value>) -> bool {
    !matches!(v, None | Some(Value::Null))
}

fn is_true(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true)))
}

/// Whether `after` explicitly turns off what `before` has on.
fn turned_off(before: &Value, after: &Value, key: &str) -> bool {
    is_true(before.get(key)) && after.get(key).is_some() && !is_true(after.get(key))
}

fn protection_reasons(before: &Value, after: &Value, out: &mut Vec<String>) {
    const RULES: [&str; 4] = [
        "required_status_checks",
        "enforce_admins",
        "required_pull_request_reviews",
        "restrictions",
    ];
    let had_any = RULES.iter().any(|k| match before.get(*k) {
        Some(Value::Bool(b)) => *b,
        v => is_set(v),
    });
    let has_any = RULES.iter().any(|k| match after.get(*k) {
        Some(Value::Bool(b)) => *b,
        v => is_set(v),
    });
    if had_any && !has_any {
        out.push("empties the branch protection".into());
    }
    // Reviews.
    let (rb, ra) = (
        before.get("required_pull_request_reviews"),
        after.get("required_pull_request_reviews"),
    );
    if is_set(rb) && ra.is_some() && !is_set(ra) {
        out.push("removes required reviews".into());
    } else if let (Some(rb), Some(ra)) = (rb.filter(|v| is_set(Some(v))), ra) {
        let count = |v: &Value| {
            v.get("required_approving_review_count")
                .and_then(Value::as_u64)
        };
        if let (Some(b), Some(a)) = (count(rb), count(ra)) {
            if a < b {
                out.push(format!("requires fewer approving reviews ({b} → {a})"));
            }
        }
        for (key, what) in [
            ("dismiss_stale_reviews", "no longer dismisses stale reviews"),
            (
                "require_code_owner_reviews",
                "no longer requires code owner reviews",
            ),
            (
                "require_last_push_approval",
                "no longer requires approval of the last push",
            ),
        ] {
            if turned_off(rb, ra, key) {
                out.push(what.into());
            }
        }
    }
    if turned_off(before, after, "enforce_admins") {
        out.push("no longer enforces the rules on admins".into());
    }
    for (key, what) in [
        ("allow_force_pushes", "allows force pushes"),
        ("allow_deletions", "allows deletions"),
    ] {
        if is_true(after.get(key)) && !is_true(before.get(key)) {
            out.push(what.into());
        }
    }
    for (key, what) in [
        (
            "required_linear_history",
            "no longer requires linear history",
        ),
        ("required_signatures", "no longer requires signed commits"),
        (
            "required_conversation_resolution",
            "no longer requires conversation resolution",
        ),
        ("block_creations", "no longer blocks branch creation"),
    ] {
        if turned_off(before, after, key) {
            out.push(what.into());
        }
    }
    // Status checks.
    let (cb, ca) = (
        before.get("required_status_checks"),
        after.get("required_status_checks"),
    );
    if is_set(cb) && ca.is_some() && !is_set(ca) {
        out.push("removes required status checks".into());
    } else if let (Some(cb), Some(ca)) = (cb.filter(|v| is_set(Some(v))), ca) {
        if turned_off(cb, ca, "strict") {
            out.push("status checks no longer strict (branches need not be up to date)".into());
        }
        for key in ["contexts", "checks"] {
            if ca.get(key).is_some() {
                for item in removed(cb.get(key), ca.get(key)) {
                    out.push(format!("removes required status check {item}"));
                }
            }
        }
    }
    let (xb, xa) = (before.get("restrictions"), after.get("restrictions"));
    if is_set(xb) && xa.is_some() && !is_set(xa) {
        out.push("removes push restrictions".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn update(address: &str, before: Value, after: Value) -> Vec<String> {
        change_reasons(&Change {
            address: Address::parse(address).unwrap(),
            action: ChangeKind::Update,
            before,
            after,
            diff: Vec::new(),
        })
    }

    const P: &str = "github.repo.o/r.branch.main.protection";

    fn live_protection() -> Value {
        json!({
            "required_status_checks": {"strict": true, "contexts": ["ci", "lint"]},
            "enforce_admins": true,
            "required_pull_request_reviews": {"required_approving_review_count": 2, "dismiss_stale_reviews": true, "require_code_owner_reviews": true},
            "restrictions": {"users": ["a"], "teams": [], "apps": []},
            "allow_force_pushes": false,
            "allow_deletions": false,
        })
    }

    #[test]
    fn every_loosening_of_a_protection_is_named() {
        let null4 = json!({"required_status_checks": null, "enforce_admins": null, "required_pull_request_reviews": null, "restrictions": null});
        let r = update(P, live_protection(), null4);
        assert_eq!(r[0], "empties the branch protection");
        assert!(r.contains(&"removes required reviews".to_string()), "{r:?}");
        assert!(
            r.contains(&"removes push restrictions".to_string()),
            "{r:?}"
        );
        let mut after = live_protection();
        after["allow_force_pushes"] = json!(true);
        assert_eq!(update(P, live_protection(), after), ["allows force pushes"]);
        let mut after = live_protection();
        after["allow_deletions"] = json!(true);
        after["enforce_admins"] = json!(false);
        assert_eq!(
            update(P, live_protection(), after),
            ["no longer enforces the rules on admins", "allows deletions"]
        );
        let mut after = live_protection();
        after["required_pull_request_reviews"] = json!({"required_approving_review_count": 1, "dismiss_stale_reviews": false, "require_code_owner_reviews": true});
        after["required_status_checks"] = json!({"strict": false, "contexts": ["ci"]});
        assert_eq!(
            update(P, live_protection(), after),
            [
                "requires fewer approving reviews (2 → 1)",
                "no longer dismisses stale reviews",
                "status checks no longer strict (branches need not be up to date)",
                "removes required status check `lint`"
            ]
        );
        // Tightening is not destructive.
        let mut after = live_protection();
        after["required_pull_request_reviews"]["required_approving_review_count"] = json!(3);
        assert!(update(P, live_protection(), after).is_empty());
    }

    #[test]
    fn scale_to_zero_and_removed_names_are_destructive() {
        assert_eq!(
            update(
                "fly.app.a.machines",
                json!({"count": 2}),
                json!({"count": 0})
            ),
            ["scales to zero machines"]
        );
        assert!(
            update(
                "fly.app.a.machines",
                json!({"count": 2}),
                json!({"count": 1})
            )
            .is_empty()
        );
        assert_eq!(
            update(
                "fly.app.a.secrets",
                json!({"names": ["A", "B"]}),
                json!({"names": ["A"]})
            ),
            ["removes Fly secret `B`"]
        );
        assert_eq!(
            update(
                "github.repo.o/r.environment.prod",
                json!({"reviewers": [{"type": "User", "login": "ceo"}, {"type": "User", "login": "cto"}]}),
                json!({"reviewers": [{"type": "User", "login": "ceo"}]})
            ),
            ["removes environment reviewer `cto`"]
        );
    }
}
