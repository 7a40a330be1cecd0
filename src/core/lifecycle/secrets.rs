//! Retiring one Fly secret (issue 14: "delete … a Fly secret"). An app's secrets sit at one
//! address, `fly.app.<a>.secrets`, whose `names` desired lists; live may hold more names.
//! Which of them are sophia's comes in as data: the names its applies set and did not
//! remove since ([`SecretsSet`], from the secrets ledger the journal rebuilds). Without it
//! (a plan built knowing nothing of the lifecycle, an unreadable journal) no name is
//! retired nor listed.
//!
//! - A name sophia set, gone from desired/ (from the list, or the whole list gone while the
//!   app stays) and still live, is *retired*: the change at `fly.app.<a>.secrets` drops it
//!   from `names`, and the graph plans `fly.secrets.unset` of that name alone — destructive
//!   ("removes Fly secret `X`"), so it needs the destructive signers and renders red.
//! - A live name sophia never set is never unset: it is listed as unmanaged, as
//!   `fly.app.<a>.secret.<NAME>` (`sophia import` writes it into the app's list).
//!
//! An environment's secrets have the same shape (`secrets` of
//! `github.repo.<r>.environment.<e>`) and the same gap: a name sophia set, gone from the
//! environment's list, is removed alone (`unset_secrets` of its `github.environment.put`,
//! destructive likewise); the others stay. (Actions secrets have an address each: the
//! managed set retires them.)

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::core::address::Address;
use crate::core::live::LiveSnapshot;
use crate::core::lower::Expected;
use crate::core::plan::types::{AttrDiff, Change, ChangeKind};

/// The secret names sophia set and has not removed since, by the address that lists them.
pub type SecretsSet = BTreeMap<Address, BTreeSet<String>>;

/// The list of secret names of an address's object: `names` of `fly.app.<a>.secrets`,
/// `secrets` of an environment.
fn list_key(address: &Address) -> Option<&'static str> {
    match address {
        Address::FlySecrets { .. } => Some("names"),
        Address::GithubEnvironment { .. } => Some("secrets"),
        _ => None,
    }
}

fn names(v: Option<&Value>, key: &str) -> BTreeSet<String> {
    v.and_then(|v| v.get(key))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// What a retired `fly.app.<a>.secrets` is expected to be while its app stays: no name
/// required. The names sophia set are then retired one by one ([`retire`]); the others are
/// not sophia's to remove. `None` for every other address (planned as a delete).
pub fn retired_list(address: &Address, expected: &Expected) -> Option<Value> {
    let Address::FlySecrets { app } = address else {
        return None;
    };
    let app_stays = expected
        .get(&Address::FlyApp { app: app.clone() })
        .is_some_and(|v| !v.is_null());
    app_stays.then(|| json!({ "names": [] }))
}

/// The names the secrets list at `address`, expected to be `want`, retires: set by sophia,
/// not desired, still live; with `want` (what the change then promises). The planner asks
/// as it lowers each address, so it need not keep the lists.
pub fn retiring_at(
    address: &Address,
    want: &Value,
    live: &LiveSnapshot,
    set: &SecretsSet,
) -> Option<(BTreeSet<String>, Value)> {
    let (Some(key), Some(ours)) = (list_key(address), set.get(address)) else {
        return None;
    };
    if want.is_null() {
        return None;
    }
    let desired = names(Some(want), key);
    let have = names(live.get(address), key);
    let gone: BTreeSet<String> = ours
        .iter()
        .filter(|n| have.contains(*n) && !desired.contains(*n))
        .cloned()
        .collect();
    (!gone.is_empty()).then(|| (gone, want.clone()))
}

/// Address → (the names it retires, what desired/ expects of the list).
pub type Retiring = BTreeMap<Address, (BTreeSet<String>, Value)>;

/// Lay the retired names over the diff's `changes` (see the module docs): each retired name
/// leaves the `names` its address's change promises, in a change made for it when the diff
/// had none. Changes stay in address order. Returns the names unset, by address (a
/// protected name among them fails the plan: [`super::check_protection`]).
pub fn retire(
    changes: &mut Vec<Change>,
    retiring: Retiring,
    live: &LiveSnapshot,
) -> BTreeMap<Address, BTreeSet<String>> {
    if retiring.is_empty() {
        return BTreeMap::new();
    }
    let mut unsets = BTreeMap::new();
    for (address, (gone, want)) in retiring {
        let key = list_key(&address).expect("only secrets lists retire names");
        let have = live.get(&address).cloned().unwrap_or(Value::Null);
        let at = changes.iter().position(|c| c.address == address);
        let change = match at {
            Some(i) => &mut changes[i],
            None => {
                changes.push(Change {
                    address: address.clone(),
                    action: ChangeKind::Update,
                    before: have.clone(),
                    after: want,
                    diff: Vec::new(),
                });
                changes.last_mut().expect("just pushed")
            }
        };
        // What live will hold: what it holds and desired adds, less the retired names.
        let mut kept = names(Some(&change.after), key);
        kept.extend(names(Some(&have), key));
        kept.retain(|n| !gone.contains(n));
        let kept = json!(kept);
        change.after[key] = kept.clone();
        match change.diff.iter_mut().find(|d| d.path == key) {
            Some(d) => d.after = kept,
            None => change.diff.push(AttrDiff {
                path: key.into(),
                before: have.get(key).cloned().unwrap_or(json!([])),
                after: kept,
            }),
        }
        change.diff.sort_by(|a, b| a.path.cmp(&b.path));
        unsets.insert(address, gone);
    }
    changes.sort_by_cached_key(|c| c.address.to_string());
    unsets
}

/// The live names of each desired `fly.app.<a>.secrets` that are neither desired nor set by
/// sophia, as `fly.app.<a>.secret.<NAME>` addresses.
pub fn unmanaged(expected: &Expected, live: &LiveSnapshot, set: &SecretsSet) -> Vec<Address> {
    expected
        .iter()
        .flat_map(|(address, want)| unmanaged_at(address, want, live, set))
        .collect()
}

/// [`unmanaged`] of one address, expected to be `want`.
pub fn unmanaged_at(
    address: &Address,
    want: &Value,
    live: &LiveSnapshot,
    set: &SecretsSet,
) -> Vec<Address> {
    let Address::FlySecrets { app } = address else {
        return Vec::new();
    };
    if want.is_null() {
        return Vec::new();
    }
    let desired = names(Some(want), "names");
    let ours = set.get(address);
    names(live.get(address), "names")
        .into_iter()
        .filter(|name| !desired.contains(name) && !ours.is_some_and(|o| o.contains(name)))
        .map(|name| Address::FlySecret {
            app: app.clone(),
            name,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::desired::Desired;
    use crate::core::lifecycle::{Lifecycle, ManagedEntry};
    use crate::core::plan::build_with;
    use crate::core::plan::planner::test_options;

    fn a(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    fn plan(yaml: &str, live_names: &[&str], ours: &[&str]) -> crate::core::plan::Plan {
        try_plan(yaml, live_names, ours, &[]).unwrap()
    }

    /// `protected`: the names the managed set protects in `fly.app.x.secrets`.
    fn try_plan(
        yaml: &str,
        live_names: &[&str],
        ours: &[&str],
        protected: &[&str],
    ) -> Result<crate::core::plan::Plan, crate::core::plan::PlanError> {
        let desired: Desired = serde_yaml::from_str(yaml).unwrap();
        let mut live = LiveSnapshot::new("2026-01-01T00:00:00Z");
        live.resources
            .insert(a("provider.fly"), json!({"activation": "active"}));
        live.resources.insert(a("fly.app.x"), json!({"org": "o"}));
        live.resources
            .insert(a("fly.app.x.secrets"), json!({ "names": live_names }));
        let lifecycle = Lifecycle {
            managed: [(
                a("fly.app.x.secrets"),
                ManagedEntry {
                    first: "sha256:1".into(),
                    last: "sha256:1".into(),
                    protect: false,
                    protect_names: protected.iter().map(|n| format!("secret.{n}")).collect(),
                },
            )]
            .into(),
            secrets_set: Some(
                [(
                    a("fly.app.x.secrets"),
                    ours.iter().map(|n| n.to_string()).collect(),
                )]
                .into(),
            ),
            ..Lifecycle::default()
        };
        build_with(&desired, &live, &test_options(), &lifecycle)
    }

    #[test]
    fn a_protected_name_is_not_unset_when_it_leaves_the_list() {
        let yaml = "fly: { org: o, apps: { x: { secrets: [A] } } }";
        let err = try_plan(yaml, &["A", "B"], &["A", "B"], &["B"]).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("`fly.app.x.secrets` (unsets protected `secret.B`)"),
            "{shown}"
        );
        // Another protected name, not retired, does not stop the unset of B.
        let p = try_plan(yaml, &["A", "B"], &["A", "B"], &["A"]).unwrap();
        assert_eq!(actions(&p), [("fly.secrets.unset".into(), json!(["B"]))]);
    }

    fn actions(p: &crate::core::plan::Plan) -> Vec<(String, Value)> {
        p.actions
            .iter()
            .map(|x| (x.kind.as_str().to_string(), x.params["unset"].clone()))
            .collect()
    }

    #[test]
    fn a_name_sophia_set_is_unset_alone_and_one_it_never_set_is_unmanaged() {
        let p = plan(
            "fly: { org: o, apps: { x: { secrets: [A] } } }",
            &["A", "B", "C"],
            &["A", "B"],
        );
        assert_eq!(actions(&p), [("fly.secrets.unset".into(), json!(["B"]))]);
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].after["names"], json!(["A", "C"]));
        assert_eq!(
            crate::core::plan::destructive::change_reasons(&p.changes[0]),
            ["removes Fly secret `B`"]
        );
        assert_eq!(p.unmanaged, [a("fly.app.x.secret.C")]);
    }

    #[test]
    fn a_new_name_and_a_retired_one_plan_a_set_and_an_unset() {
        let p = plan(
            "fly: { org: o, apps: { x: { secrets: [A, D] } } }",
            &["A", "B"],
            &["A", "B"],
        );
        assert_eq!(
            actions(&p),
            [
                ("fly.secrets.set".into(), Value::Null),
                ("fly.secrets.unset".into(), json!(["B"])),
            ]
        );
        assert_eq!(p.actions[0].params["names"], json!(["D"]));
    }

    #[test]
    fn a_retired_list_unsets_only_what_sophia_set() {
        let p = plan("fly: { org: o, apps: { x: {} } }", &["A", "C"], &["A"]);
        assert_eq!(actions(&p), [("fly.secrets.unset".into(), json!(["A"]))]);
        assert_eq!(p.changes[0].action, ChangeKind::Update);
        // Nothing sophia set is live: nothing to do, and nothing is deleted.
        let p = plan("fly: { org: o, apps: { x: {} } }", &["C"], &["A"]);
        assert!(p.actions.is_empty() && p.changes.is_empty(), "{p:?}");
    }
}
