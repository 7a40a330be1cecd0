//! The attribute-level diff: expected objects (from [`crate::core::lower`]) against the live
//! snapshot → [`Change`]s.
//!
//! Rules:
//! - a field the desired state does not set is not managed and never shows as drift: on
//!   objects, only the keys of the expected object are compared, recursively (a server
//!   default such as `required_approving_review_count: 1` is ignored unless desired sets it);
//! - some attributes are compared as a whole ([`WHOLE_VALUE`]) — e.g. a machine's `env`:
//!   the desired map is the complete environment, a variable removed from the YAML must go;
//! - secret name lists are sets that must *contain* the desired names
//!   ([`SUBSET_LISTS`]): extra live names are not drift;
//! - an expected `null` is an explicit removal: `delete` when the resource exists;
//! - some attributes cannot change in place ([`replace_reason`]): the change is a
//!   `replace`;
//! - a `provider.<p>` absent from live is paused: a provider that was not read (refresh
//!   reads only active providers) is not active, so a paused provider never shows as
//!   drift ([`live_or_default`]);
//! - no-op changes are omitted.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::core::address::Address;
use crate::core::live::LiveSnapshot;
use crate::core::lower::Expected;
use crate::core::plan::types::{AttrDiff, Change, ChangeKind};

/// Why an expected state cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    #[error(
        "`{address}` belongs to organization `{live}` but the desired state says `{desired}`: \
         a Fly app cannot change organization through a plan"
    )]
    FlyOrgMove {
        address: Address,
        live: String,
        desired: String,
    },
}

/// Attributes (by address kind, dotted path) compared as one value rather than key by key.
pub const WHOLE_VALUE: [(&str, &str); 1] = [("fly.machines", "env")];

/// Lists that must contain the desired items; extra live items are not drift.
pub const SUBSET_LISTS: [(&str, &str); 2] =
    [("fly.secrets", "names"), ("github.environment", "secrets")];

/// Lists of objects compared as sets keyed by some of their fields: the order GitHub lists
/// them in is not the order desired writes them in (a `GET /environments/{name}` lists a
/// User and a Team reviewer in its own order, whichever order desired has).
pub const KEYED_SETS: [(&str, &str, &[&str]); 1] =
    [("github.environment", "reviewers", &["type", "login"])];

/// The kind of an address, for the rule tables above.
fn kind(address: &Address) -> &'static str {
    match address {
        Address::FlyApp { .. } => "fly.app",
        Address::FlySecrets { .. } => "fly.secrets",
        Address::FlySecret { .. } => "fly.secret",
        // A process group's machines compare as an app's machines do.
        Address::FlyMachines { .. } | Address::FlyProcess { .. } => "fly.machines",
        Address::FlyIps { .. } => "fly.ips",
        Address::FlyVolume { .. } => "fly.volume",
        Address::GithubProtection { .. } => "github.protection",
        Address::GithubSecret { .. } => "github.secret",
        Address::GithubEnvironment { .. } => "github.environment",
        Address::GithubRepoRuleset { .. } | Address::GithubOrgRuleset { .. } => "github.ruleset",
        Address::GithubSettings { .. } => "github.settings",
        Address::GithubCollaborator { .. } => "github.collaborator",
        Address::GithubTeam { .. } => "github.team",
        Address::GithubVariable { .. } => "github.variable",
        Address::Provider { .. } => "provider",
        Address::ContextDbExtension { .. } => "context_db.extension",
        Address::ContextDbSchema { .. } => "context_db.schema",
        Address::QdrantCollection { .. } => "qdrant.collection",
        Address::RedisConfig { .. } => "redis.config",
    }
}

/// Why a differing attribute forces a replace, if it does.
///
/// - `qdrant.collection` `size` and `distance`: Qdrant has no call that changes a
///   collection's vector parameters; the collection is deleted and created again (its
///   points are lost, which the plan shows as `-/+`).
///
/// Every other attribute changes in place: `github.secret`, `context_db.*` have no
/// attributes; GitHub protection and environments are PUT as a whole; Fly machines are
/// updated (rolled) in place; `redis.config` is `CONFIG SET`. A Fly app's `org` cannot
/// change at all and is refused ([`DiffError::FlyOrgMove`]).
pub fn replace_reason(address: &Address, path: &str) -> Option<&'static str> {
    match (kind(address), path) {
        ("qdrant.collection", "size" | "distance") => {
            Some("a Qdrant collection's vector parameters cannot change in place")
        }
        _ => None,
    }
}

/// Diff every expected address against live. Changes come out in address order.
pub fn diff(expected: &Expected, live: &LiveSnapshot) -> Result<Vec<Change>, DiffError> {
    let mut changes = Vec::new();
    for (address, want) in expected {
        let have = live_or_default(address, live.get(address));
        if let Some(change) = diff_cow(address, Cow::Borrowed(want), have.as_deref())? {
            changes.push(change);
        }
    }
    sort(&mut changes);
    Ok(changes)
}

/// [`diff`] fed one expected object at a time, in any order, each consumed (a created or
/// updated object moves into its change): the planner compares each unit of
/// [`crate::core::lower::lower_each`] as it is lowered and never holds the whole expected
/// state. The result is [`diff`]'s: changes in address order, and of several errors the one
/// at the first address.
#[derive(Debug, Default)]
pub struct Differ {
    changes: Vec<Change>,
    error: Option<(Address, DiffError)>,
}

impl Differ {
    /// Compare `want` with what `live` holds at `address`; the object moves into its change.
    pub fn push(&mut self, address: &Address, want: Value, live: &LiveSnapshot) {
        let have = live_or_default(address, live.get(address));
        match diff_cow(address, Cow::Owned(want), have.as_deref()) {
            Ok(Some(change)) => self.changes.push(change),
            Ok(None) => {}
            Err(e) => {
                if self.error.as_ref().is_none_or(|(first, _)| address < first) {
                    self.error = Some((address.clone(), e));
                }
            }
        }
    }

    pub fn finish(self) -> Result<Vec<Change>, DiffError> {
        if let Some((_, e)) = self.error {
            return Err(e);
        }
        let mut changes = self.changes;
        sort(&mut changes);
        Ok(changes)
    }
}

/// Address strings sort an app's resources together (`fly.app.x`, `fly.app.x.machines`,
/// `fly.app.x.secrets`), which is how a reader scans a plan.
fn sort(changes: &mut [Change]) {
    changes.sort_by_cached_key(|c| c.address.to_string());
}

/// The live object to compare with: as read, except that an absent `provider.<p>` is
/// `{"activation": "paused"}` (refresh reads, and marks active, only active providers).
pub fn live_or_default<'a>(address: &Address, have: Option<&'a Value>) -> Option<Cow<'a, Value>> {
    match (address, have) {
        (_, Some(v)) => Some(Cow::Borrowed(v)),
        (Address::Provider { .. }, None) => {
            Some(Cow::Owned(serde_json::json!({ "activation": "paused" })))
        }
        (_, None) => None,
    }
}

/// Diff one address; `None` when there is nothing to do.
pub fn diff_one(
    address: &Address,
    want: &Value,
    have: Option<&Value>,
) -> Result<Option<Change>, DiffError> {
    diff_cow(address, Cow::Borrowed(want), have)
}

/// [`diff_one`] of a borrowed or owned expected object: an owned one becomes the change's
/// `after` without a copy.
fn diff_cow(
    address: &Address,
    want: Cow<'_, Value>,
    have: Option<&Value>,
) -> Result<Option<Change>, DiffError> {
    let change = |action, before: Value, after: Value, diff| Change {
        address: address.clone(),
        action,
        before,
        after,
        diff,
    };
    let Some(have) = have else {
        if want.is_null() {
            return Ok(None);
        }
        let mut diff = Vec::new();
        leaves_with(address, "", &want, &mut |path, v| {
            diff.push(attr(path, Value::Null, v.clone()))
        });
        return Ok(Some(change(
            ChangeKind::Create,
            Value::Null,
            want.into_owned(),
            diff,
        )));
    };
    if want.is_null() {
        let mut diff = Vec::new();
        leaves("", have, &mut |path, v| {
            diff.push(attr(path, v.clone(), Value::Null))
        });
        return Ok(Some(change(
            ChangeKind::Delete,
            have.clone(),
            Value::Null,
            diff,
        )));
    }
    let mut diff = Vec::new();
    compare(address, "", &want, have, &mut diff);
    if diff.is_empty() {
        return Ok(None);
    }
    if let (Address::FlyApp { .. }, Some(d)) = (address, diff.iter().find(|d| d.path == "org")) {
        return Err(DiffError::FlyOrgMove {
            address: address.clone(),
            live: scalar_text(&d.before),
            desired: scalar_text(&d.after),
        });
    }
    let action = if diff
        .iter()
        .any(|d| replace_reason(address, &d.path).is_some())
    {
        ChangeKind::Replace
    } else {
        ChangeKind::Update
    };
    // A subset list's "after" is what live will hold: live ∪ desired.
    let mut after = want.into_owned();
    for d in &diff {
        if is_rule(&SUBSET_LISTS, address, &d.path) {
            set_path(&mut after, &d.path, d.after.clone());
        }
    }
    Ok(Some(change(action, have.clone(), after, diff)))
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn attr(path: &str, before: Value, after: Value) -> AttrDiff {
    AttrDiff {
        path: path.to_string(),
        before,
        after,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn is_rule(table: &[(&str, &str)], address: &Address, path: &str) -> bool {
    let k = kind(address);
    table.iter().any(|(rk, rp)| *rk == k && *rp == path)
}

/// Every leaf of a value with its dotted path (an empty object is a leaf).
fn leaves(path: &str, v: &Value, f: &mut dyn FnMut(&str, &Value)) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                leaves(&join(path, k), child, f);
            }
        }
        _ if path.is_empty() => {}
        _ => f(path, v),
    }
}

/// As [`leaves`], but stopping at whole-value attributes.
fn leaves_with(address: &Address, path: &str, v: &Value, f: &mut dyn FnMut(&str, &Value)) {
    match v {
        Value::Object(m) if !m.is_empty() && !is_rule(&WHOLE_VALUE, address, path) => {
            for (k, child) in m {
                leaves_with(address, &join(path, k), child, f);
            }
        }
        _ if path.is_empty() => {}
        _ => f(path, v),
    }
}

/// The set of `keys` tuples of a list of objects, for [`KEYED_SETS`].
fn keyed_set(items: &[Value], keys: &[&str]) -> BTreeSet<Vec<String>> {
    items
        .iter()
        .map(|item| {
            keys.iter()
                .map(|k| item.get(*k).unwrap_or(&Value::Null).to_string())
                .collect()
        })
        .collect()
}

fn compare(address: &Address, path: &str, want: &Value, have: &Value, out: &mut Vec<AttrDiff>) {
    let k = kind(address);
    if let Some((_, _, keys)) = KEYED_SETS
        .iter()
        .find(|(rk, rp, _)| *rk == k && *rp == path)
    {
        if let (Value::Array(w), Value::Array(h)) = (want, have) {
            if keyed_set(w, keys) != keyed_set(h, keys) {
                out.push(attr(path, have.clone(), want.clone()));
            }
            return;
        }
    }
    if is_rule(&SUBSET_LISTS, address, path) {
        if let (Value::Array(w), Value::Array(h)) = (want, have) {
            let live: BTreeSet<&str> = h.iter().filter_map(Value::as_str).collect();
            if w.iter().filter_map(Value::as_str).all(|n| live.contains(n)) {
                return;
            }
            let union: BTreeSet<&str> = live
                .iter()
                .copied()
                .chain(w.iter().filter_map(Value::as_str))
                .collect();
            out.push(attr(path, have.clone(), serde_json::json!(union)));
            return;
        }
    }
    match (want, have) {
        (Value::Object(w), Value::Object(h)) if !is_rule(&WHOLE_VALUE, address, path) => {
            for (k, wv) in w {
                let hv = h.get(k).unwrap_or(&Value::Null);
                compare(address, &join(path, k), wv, hv, out);
            }
        }
        // Lists of objects of the same length (e.g. status `checks`) compare item by item,
        // each on the keys desired sets: a check without `app_id` accepts the app GitHub
        // picked. Lists of different lengths, or of scalars, compare as a whole.
        (Value::Array(w), Value::Array(h))
            if w.len() == h.len() && !w.is_empty() && w.iter().all(Value::is_object) =>
        {
            let mut items = Vec::new();
            for (i, (wv, hv)) in w.iter().zip(h).enumerate() {
                compare(address, &join(path, &i.to_string()), wv, hv, &mut items);
            }
            if !items.is_empty() {
                out.push(attr(path, have.clone(), want.clone()));
            }
        }
        (Value::Object(w), Value::Null)
            if !w.is_empty() && !is_rule(&WHOLE_VALUE, address, path) =>
        {
            leaves_with(address, path, want, &mut |p, v| {
                out.push(attr(p, Value::Null, v.clone()))
            });
        }
        _ if want != have => out.push(attr(path, have.clone(), want.clone())),
        _ => {}
    }
}

/// Set a dotted path inside an object (creating objects on the way).
fn set_path(root: &mut Value, path: &str, value: Value) {
    let mut cur = root;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let map = cur.as_object_mut().expect("just made an object");
        if i + 1 == parts.len() {
            map.insert((*part).to_string(), value);
            return;
        }
        cur = map.entry((*part).to_string()).or_insert(Value::Null);
    }
}

impl crate::core::hint::Hint for DiffError {
    fn hint(&self) -> Option<String> {
        match self {
            DiffError::FlyOrgMove { .. } => Some(
                "move it with `flyctl apps move` first, or give the app a new name".to_string(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    fn one(address: &str, want: Value, have: Option<Value>) -> Option<Change> {
        diff_one(&addr(address), &want, have.as_ref()).unwrap()
    }

    #[test]
    fn unset_fields_are_not_drift() {
        let want = json!({"required_pull_request_reviews": {"require_code_owner_reviews": true}, "restrictions": null});
        let have = json!({
            "required_pull_request_reviews": {"require_code_owner_reviews": true, "required_approving_review_count": 1},
            "restrictions": null,
            "allow_deletions": false,
        });
        assert_eq!(
            one("github.repo.o/r.branch.main.protection", want, Some(have)),
            None
        );
    }

    #[test]
    fn nested_difference_has_a_dotted_path() {
        let want = json!({"required_status_checks": {"strict": true, "contexts": ["Deploy All"]}});
        let have = json!({"required_status_checks": {"strict": false, "contexts": ["Deploy All"]}});
        let c = one("github.repo.o/r.branch.main.protection", want, Some(have)).unwrap();
        assert_eq!(c.action, ChangeKind::Update);
        assert_eq!(
            c.diff,
            vec![attr(
                "required_status_checks.strict",
                json!(false),
                json!(true)
            )]
        );
    }

    #[test]
    fn secrets_must_be_a_subset_of_live() {
        assert_eq!(
            one(
                "fly.app.a.secrets",
                json!({"names": ["A"]}),
                Some(json!({"names": ["A", "EXTRA"]}))
            ),
            None
        );
        let c = one(
            "fly.app.a.secrets",
            json!({"names": ["A", "B"]}),
            Some(json!({"names": ["A", "EXTRA"]})),
        )
        .unwrap();
        assert_eq!(c.action, ChangeKind::Update);
        assert_eq!(c.after, json!({"names": ["A", "B", "EXTRA"]}));
    }

    #[test]
    fn list_items_compare_on_desired_keys() {
        let want = json!({"required_status_checks": {"checks": [{"context": "Deploy All"}]}});
        let have = json!({"required_status_checks": {"checks": [{"context": "Deploy All", "app_id": 15368}]}});
        assert_eq!(
            one(
                "github.repo.o/r.branch.main.protection",
                want.clone(),
                Some(have)
            ),
            None
        );
        let have = json!({"required_status_checks": {"checks": [{"context": "CI", "app_id": 1}]}});
        let c = one("github.repo.o/r.branch.main.protection", want, Some(have)).unwrap();
        assert_eq!(c.diff[0].path, "required_status_checks.checks");
    }

    #[test]
    fn env_is_compared_whole() {
        let c = one(
            "fly.app.a.machines",
            json!({"env": {"A": "1"}}),
            Some(json!({"env": {"A": "1", "B": "2"}})),
        )
        .unwrap();
        assert_eq!(c.diff[0].path, "env");
    }

    #[test]
    fn create_delete_replace() {
        let c = one(
            "qdrant.collection.c",
            json!({"size": 3, "distance": "Cosine"}),
            None,
        )
        .unwrap();
        assert_eq!(c.action, ChangeKind::Create);
        assert_eq!(c.diff.len(), 2);
        let c = one(
            "qdrant.collection.c",
            json!({"size": 4, "distance": "Cosine"}),
            Some(json!({"size": 3, "distance": "Cosine"})),
        )
        .unwrap();
        assert_eq!(c.action, ChangeKind::Replace);
        let c = one(
            "github.repo.o/r.branch.main.protection",
            Value::Null,
            Some(json!({"enforce_admins": true})),
        )
        .unwrap();
        assert_eq!(c.action, ChangeKind::Delete);
        assert_eq!(
            one("github.repo.o/r.branch.main.protection", Value::Null, None),
            None
        );
        assert_eq!(
            one("github.repo.o/r.secret.X", json!({}), Some(json!({}))),
            None
        );
        let c = one("github.repo.o/r.secret.X", json!({}), None).unwrap();
        assert_eq!(c.action, ChangeKind::Create);
        assert!(c.diff.is_empty());
    }

    #[test]
    fn an_unread_provider_is_paused() {
        let live = LiveSnapshot::new("t");
        let mut expected = Expected::new();
        expected.insert(addr("provider.qdrant"), json!({"activation": "paused"}));
        expected.insert(addr("provider.fly"), json!({"activation": "active"}));
        let changes = diff(&expected, &live).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].address, addr("provider.fly"));
        assert_eq!(changes[0].action, ChangeKind::Update);
    }

    #[test]
    fn fly_org_move_is_refused() {
        let err = diff_one(
            &addr("fly.app.a"),
            &json!({"org": "pay-ready"}),
            Some(&json!({"org": "personal"})),
        )
        .unwrap_err();
        assert!(err.to_string().contains("cannot change organization"));
    }
}
