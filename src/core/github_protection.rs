//! GitHub branch protection: the one schema core and provider share (DESIGN.md, "Desired
//! state": GitHub field names are GitHub's own).
//!
//! The PUT body of `/repos/{owner}/{repo}/branches/{branch}/protection` is the shape of
//! everything: the desired state writes it, [`desired_body`] completes it, [`normalize`]
//! turns GitHub's GET response into it, and [`put_body`] builds the body the provider sends
//! (desired over live). The sandbox keeps its own copy of GitHub's rules on purpose: an
//! emulator that borrowed the client's idea of the API could not catch the client's
//! mistakes.
//!
//! - The four fields GitHub requires in the PUT body ([`REQUIRED_FIELDS`]) default to
//!   `null` (DESIGN.md).
//! - Lists are sets to GitHub (status checks, users, teams, apps): they are sorted so that
//!   desired and live compare.

use serde_json::{Map, Value, json};

use crate::core::desired::Protection;

/// The PUT body's fields (GitHub's request schema), in its order.
pub const PUT_FIELDS: [&str; 11] = [
    "required_status_checks",
    "enforce_admins",
    "required_pull_request_reviews",
    "restrictions",
    "required_linear_history",
    "allow_force_pushes",
    "allow_deletions",
    "block_creations",
    "required_conversation_resolution",
    "lock_branch",
    "allow_fork_syncing",
];

/// The four fields GitHub requires in the PUT body (`null` disables them).
pub const REQUIRED_FIELDS: [&str; 4] = [
    "required_status_checks",
    "enforce_admins",
    "required_pull_request_reviews",
    "restrictions",
];

/// Flags: a boolean in the PUT body, wrapped as `{"url", "enabled"}` in the GET response.
pub const FLAGS: [&str; 8] = [
    "enforce_admins",
    "required_linear_history",
    "allow_force_pushes",
    "allow_deletions",
    "block_creations",
    "required_conversation_resolution",
    "lock_branch",
    "allow_fork_syncing",
];

/// The flags the request schema does not make nullable: a `null` one is left out of the
/// PUT body.
const NON_NULLABLE_FLAGS: [&str; 6] = [
    "required_linear_history",
    "allow_deletions",
    "block_creations",
    "required_conversation_resolution",
    "lock_branch",
    "allow_fork_syncing",
];

/// The scalar settings of `required_pull_request_reviews`.
const REVIEW_SETTINGS: [&str; 4] = [
    "dismiss_stale_reviews",
    "require_code_owner_reviews",
    "required_approving_review_count",
    "require_last_push_approval",
];

/// The actor lists (`{users, teams, apps}`) of `required_pull_request_reviews`.
const REVIEW_ACTORS: [&str; 2] = ["dismissal_restrictions", "bypass_pull_request_allowances"];

/// The PUT body of a desired protection: the fields it sets, the four required ones
/// defaulting to `null`, every list sorted.
pub fn desired_body(p: &Protection) -> Value {
    let mut body = serde_json::to_value(p).expect("a protection serializes");
    if let Value::Object(map) = &mut body {
        for field in REQUIRED_FIELDS {
            map.entry(field).or_insert(Value::Null);
        }
    }
    sort_lists(&mut body);
    body
}

/// The PUT body: `desired` fields over `live` ones (objects of the two nested settings
/// merged field by field), limited to the fields of GitHub's request schema, with the four
/// required fields present (`null` when neither side has them) and values the schema does
/// not allow dropped (`null` flags, `null` check app ids).
pub fn put_body(desired: &Value, live: Option<&Value>) -> Value {
    let empty = Map::new();
    let d = desired.as_object().unwrap_or(&empty);
    let l = live.and_then(Value::as_object).unwrap_or(&empty);
    let mut body = Map::new();
    for field in PUT_FIELDS {
        let value = match (d.get(field), l.get(field)) {
            (Some(Value::Object(dv)), Some(Value::Object(lv)))
                if field == "required_status_checks"
                    || field == "required_pull_request_reviews" =>
            {
                let mut merged = lv.clone();
                for (k, v) in dv {
                    merged.insert(k.clone(), v.clone());
                }
                Some(Value::Object(merged))
            }
            (Some(dv), _) => Some(dv.clone()),
            (None, Some(lv)) => Some(lv.clone()),
            (None, None) => None,
        };
        match value {
            Some(v) => {
                body.insert(field.to_string(), v);
            }
            None if REQUIRED_FIELDS.contains(&field) => {
                body.insert(field.to_string(), Value::Null);
            }
            None => {}
        }
    }
    for flag in NON_NULLABLE_FLAGS {
        if body.get(flag) == Some(&Value::Null) {
            body.remove(flag);
        }
    }
    if let Some(Value::Object(checks)) = body.get_mut("required_status_checks") {
        // `strict` and `contexts` are required in the request schema.
        checks.entry("strict").or_insert(Value::Bool(false));
        if !checks.contains_key("contexts") {
            let from_checks: Vec<Value> = checks
                .get("checks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("context").cloned())
                .collect();
            checks.insert("contexts".into(), Value::Array(from_checks));
        }
        if let Some(Value::Array(items)) = checks.get_mut("checks") {
            for c in items {
                if let Value::Object(m) = c
                    && m.get("app_id") == Some(&Value::Null)
                {
                    m.remove("app_id");
                }
            }
        }
    }
    Value::Object(body)
}

/// Sort every list of a protection body: status check contexts, checks (by context, then
/// app id) and the users/teams/apps of restrictions, dismissal restrictions and bypass
/// allowances. GitHub treats them all as sets.
fn sort_lists(body: &mut Value) {
    fn sort_strings(v: Option<&mut Value>) {
        if let Some(Value::Array(items)) = v {
            items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            items.dedup();
        }
    }
    fn sort_actors(v: Option<&mut Value>) {
        if let Some(Value::Object(m)) = v {
            for key in ["users", "teams", "apps"] {
                sort_strings(m.get_mut(key));
            }
        }
    }
    let Value::Object(map) = body else { return };
    if let Some(Value::Object(checks)) = map.get_mut("required_status_checks") {
        sort_strings(checks.get_mut("contexts"));
        if let Some(Value::Array(items)) = checks.get_mut("checks") {
            items.sort_by(|a, b| {
                (a["context"].as_str(), a["app_id"].as_i64())
                    .cmp(&(b["context"].as_str(), b["app_id"].as_i64()))
            });
        }
    }
    sort_actors(map.get_mut("restrictions"));
    if let Some(Value::Object(reviews)) = map.get_mut("required_pull_request_reviews") {
        for key in REVIEW_ACTORS {
            sort_actors(reviews.get_mut(key));
        }
    }
}

/// GitHub's `GET /repos/{owner}/{repo}/branches/{branch}/protection` response → the PUT
/// body shape the diff compares with:
///
/// - wrapped flags (`{"url", "enabled"}`) become booleans;
/// - users become logins, teams and apps become slugs, all sorted;
/// - `url`, `*_url`, `enforcement_level` and other read-only fields are dropped;
/// - the four required PUT fields are present, `null` when GitHub reports nothing.
///
/// Server defaults (e.g. `required_approving_review_count: 1`) are kept: they are real
/// live values, and the diff ignores every field the desired state does not set.
/// `required_signatures` has no place in the PUT body (it has its own endpoint) and is
/// dropped.
pub fn normalize(get_response: &Value) -> Value {
    let mut out = Map::new();
    let Value::Object(resp) = get_response else {
        return Value::Null;
    };
    for flag in FLAGS {
        if let Some(v) = resp.get(flag) {
            let enabled = match v {
                Value::Object(m) => m.get("enabled").cloned().unwrap_or(Value::Null),
                Value::Bool(_) | Value::Null => v.clone(),
                _ => Value::Null,
            };
            out.insert(flag.into(), enabled);
        }
    }
    out.insert(
        "required_status_checks".into(),
        match resp.get("required_status_checks") {
            Some(Value::Object(c)) => {
                let mut m = Map::new();
                if let Some(strict) = c.get("strict") {
                    m.insert("strict".into(), strict.clone());
                }
                if let Some(contexts) = c.get("contexts") {
                    m.insert("contexts".into(), contexts.clone());
                }
                if let Some(Value::Array(checks)) = c.get("checks") {
                    let checks: Vec<Value> = checks
                        .iter()
                        .map(|ch| {
                            json!({
                                "context": ch.get("context").cloned().unwrap_or(Value::Null),
                                "app_id": ch.get("app_id").cloned().unwrap_or(Value::Null),
                            })
                        })
                        .collect();
                    m.insert("checks".into(), Value::Array(checks));
                }
                Value::Object(m)
            }
            _ => Value::Null,
        },
    );
    out.insert(
        "required_pull_request_reviews".into(),
        match resp.get("required_pull_request_reviews") {
            Some(Value::Object(r)) => {
                let mut m = Map::new();
                for key in REVIEW_SETTINGS {
                    if let Some(v) = r.get(key) {
                        m.insert(key.into(), v.clone());
                    }
                }
                for key in REVIEW_ACTORS {
                    if let Some(v @ Value::Object(_)) = r.get(key) {
                        m.insert(key.into(), actors(v));
                    }
                }
                Value::Object(m)
            }
            _ => Value::Null,
        },
    );
    out.insert(
        "restrictions".into(),
        match resp.get("restrictions") {
            Some(v @ Value::Object(_)) => actors(v),
            _ => Value::Null,
        },
    );
    let mut body = Value::Object(out);
    sort_lists(&mut body);
    body
}

/// `{users: [{login…}], teams: [{slug…}], apps: [{slug…}]}` → logins and slugs. `apps` is
/// kept only when GitHub reports it (the PUT body makes it optional).
fn actors(v: &Value) -> Value {
    let pick = |key: &str, field: &str| -> Option<Value> {
        v.get(key).and_then(Value::as_array).map(|items| {
            Value::Array(
                items
                    .iter()
                    .filter_map(|i| match i {
                        Value::String(s) => Some(json!(s)),
                        other => other.get(field).cloned(),
                    })
                    .collect(),
            )
        })
    };
    let mut m = Map::new();
    m.insert(
        "users".into(),
        pick("users", "login").unwrap_or_else(|| json!([])),
    );
    m.insert(
        "teams".into(),
        pick("teams", "slug").unwrap_or_else(|| json!([])),
    );
    if let Some(apps) = pick("apps", "slug") {
        m.insert("apps".into(), apps);
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_lists_agree_with_each_other_and_with_the_desired_model() {
        for field in REQUIRED_FIELDS.iter().chain(&FLAGS) {
            assert!(PUT_FIELDS.contains(field), "{field}");
        }
        for flag in NON_NULLABLE_FLAGS {
            assert!(FLAGS.contains(&flag), "{flag}");
        }
        // The desired model (`desired/*.yaml`) accepts exactly the PUT body's fields.
        let schema = serde_json::to_value(schemars::schema_for!(Protection)).unwrap();
        let properties: Vec<&str> = schema["properties"]
            .as_object()
            .expect("the protection schema has properties")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(properties, PUT_FIELDS);
    }

    #[test]
    fn normalizes_a_minimal_get_response() {
        let resp = json!({
            "url": "https://api.github.com/repos/o/r/branches/main/protection",
            "enforce_admins": {"url": "…", "enabled": false},
            "required_linear_history": {"enabled": true},
            "required_signatures": {"url": "…", "enabled": false},
        });
        assert_eq!(
            normalize(&resp),
            json!({
                "enforce_admins": false,
                "required_linear_history": true,
                "required_status_checks": null,
                "required_pull_request_reviews": null,
                "restrictions": null,
            })
        );
    }

    #[test]
    fn put_body_keeps_unmanaged_live_settings_and_required_fields() {
        let desired = json!({
            "required_pull_request_reviews": {"require_code_owner_reviews": true},
            "enforce_admins": true,
            "required_status_checks": null,
            "restrictions": null,
        });
        let live = json!({
            "required_pull_request_reviews": {"required_approving_review_count": 2, "require_code_owner_reviews": false},
            "enforce_admins": false,
            "required_linear_history": true,
            "allow_deletions": null,
            "required_status_checks": {"strict": true, "checks": [{"context": "ci", "app_id": null}]},
            "restrictions": null,
        });
        assert_eq!(
            put_body(&desired, Some(&live)),
            json!({
                "required_pull_request_reviews": {"required_approving_review_count": 2, "require_code_owner_reviews": true},
                "enforce_admins": true,
                "required_linear_history": true,
                "required_status_checks": null,
                "restrictions": null,
            })
        );
        let body = put_body(
            &json!({"required_status_checks": {"checks": [{"context": "ci", "app_id": null}]}}),
            None,
        );
        assert_eq!(
            body["required_status_checks"],
            json!({"strict": false, "contexts": ["ci"], "checks": [{"context": "ci"}]})
        );
        assert_eq!(body["enforce_admins"], Value::Null);
    }
}
