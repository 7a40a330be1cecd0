//! GitHub rulesets in one shape for the desired state and for GitHub's answers, so that a real
//! answer never shows false drift (shared by [`crate::core::lower`] and the GitHub provider).
//!
//! The shape is the POST body without `name` (the address names the ruleset):
//! `{target, enforcement, conditions?, rules, bypass_actors?}`, with
//! - `target` explicit (GitHub's default `branch` when desired leaves it out);
//! - `rules` sorted by type (their order means nothing to GitHub);
//! - `bypass_actors` sorted by (type, id), each with its `bypass_mode` (default `always`);
//! - from the GET answer, everything GitHub adds dropped: `id`, `node_id`, `_links`,
//!   `created_at`, `updated_at`, `source`, `source_type`, `current_user_can_bypass`.
//!
//! GitHub leaves `bypass_actors` out of its answer when the caller cannot see it (it needs
//! write access to the ruleset): the normalized answer then holds [`UNKNOWN`] there, so a plan
//! managing `bypass_actors` says the field is unknown instead of reporting no drift.

use serde_json::{Map, Value, json};

use crate::core::desired::Ruleset;

/// What a field the read credential could not see holds in a normalized answer.
pub const UNKNOWN: &str = "(unknown: the read credential cannot see this field)";

/// The fields of a ruleset that are compared (and sent, with `name`).
const FIELDS: [&str; 5] = [
    "target",
    "enforcement",
    "conditions",
    "rules",
    "bypass_actors",
];

/// The compared object of a desired ruleset.
pub fn desired_body(r: &Ruleset) -> Value {
    let mut v = serde_json::to_value(r).expect("a ruleset serializes");
    if let Some(m) = v.as_object_mut() {
        m.entry("target").or_insert_with(|| json!("branch"));
        // sophia's deletion protection: never sent to GitHub, never compared.
        m.remove("protect");
    }
    canonical(v)
}

/// The compared object of a `GET …/rulesets/{id}` answer.
pub fn normalize(answer: &Value) -> Value {
    let mut out = Map::new();
    for field in FIELDS {
        if let Some(v) = answer.get(field) {
            out.insert(field.to_string(), v.clone());
        }
    }
    out.entry("target").or_insert_with(|| json!("branch"));
    out.entry("rules").or_insert_with(|| json!([]));
    out.entry("bypass_actors").or_insert_with(|| json!(UNKNOWN));
    canonical(Value::Object(out))
}

/// The POST/PUT body of the ruleset `name` from its compared object.
pub fn request_body(name: &str, object: &Value) -> Value {
    let mut body = Map::new();
    body.insert("name".into(), json!(name));
    for field in FIELDS {
        match object.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s == UNKNOWN => {}
            Some(v) => {
                body.insert(field.to_string(), v.clone());
            }
        }
    }
    Value::Object(body)
}

/// Whether a change of this attribute path changes who may bypass the ruleset.
pub fn is_security_relevant(path: &str) -> bool {
    path == "bypass_actors" || path.starts_with("bypass_actors.")
}

/// Rules sorted by type, bypass actors by (type, id) with `bypass_mode` explicit.
fn canonical(mut v: Value) -> Value {
    if let Some(Value::Array(rules)) = v.get_mut("rules") {
        rules.sort_by_cached_key(|r| {
            (
                r.get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                r.get("parameters")
                    .map(Value::to_string)
                    .unwrap_or_default(),
            )
        });
    }
    if let Some(Value::Array(actors)) = v.get_mut("bypass_actors") {
        for a in actors.iter_mut() {
            if let Some(m) = a.as_object_mut() {
                m.entry("bypass_mode").or_insert_with(|| json!("always"));
                if m.get("actor_id").is_some_and(Value::is_null) {
                    m.remove("actor_id");
                }
            }
        }
        actors.sort_by_cached_key(|a| {
            (
                a.get("actor_type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                a.get("actor_id").and_then(Value::as_i64),
            )
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_loses_what_github_adds_and_keeps_the_body() {
        // GitHub's OpenAPI example of `GET /repos/{owner}/{repo}/rulesets/{ruleset_id}`.
        let answer = json!({"id":42,"name":"super cool ruleset","target":"branch","source_type":"Repository","source":"monalisa/my-repo","enforcement":"active","bypass_actors":[{"actor_id":234,"actor_type":"Team","bypass_mode":"always"}],"conditions":{"ref_name":{"include":["refs/heads/main","refs/heads/master"],"exclude":["refs/heads/dev*"]}},"rules":[{"type":"commit_author_email_pattern","parameters":{"operator":"contains","pattern":"github"}}],"node_id":"RRS_lACkVXNlcgQB","_links":{"self":{"href":"https://api.github.com/repos/monalisa/my-repo/rulesets/42"},"html":{"href":"https://github.com/monalisa/my-repo/rules/42"}},"created_at":"2023-07-15T08:43:03Z","updated_at":"2023-08-23T16:29:47Z"});
        let n = normalize(&answer);
        let mut keys: Vec<&String> = n.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "bypass_actors",
                "conditions",
                "enforcement",
                "rules",
                "target"
            ]
        );
        // Its POST example, as desired would write it, is the same object.
        let desired: Ruleset = serde_json::from_value(json!({"target":"branch","enforcement":"active","bypass_actors":[{"actor_id":234,"actor_type":"Team"}],"conditions":{"ref_name":{"include":["refs/heads/main","refs/heads/master"],"exclude":["refs/heads/dev*"]}},"rules":[{"type":"commit_author_email_pattern","parameters":{"operator":"contains","pattern":"github"}}]})).unwrap();
        assert_eq!(desired_body(&desired), n);
        let body = request_body("super cool ruleset", &n);
        assert_eq!(body["name"], "super cool ruleset");
        assert_eq!(body["bypass_actors"][0]["bypass_mode"], "always");
    }

    #[test]
    fn rules_and_actors_are_sorted_and_an_unseen_bypass_list_is_unknown() {
        let answer = json!({"enforcement":"active","rules":[{"type":"non_fast_forward"},{"type":"deletion"}]});
        let n = normalize(&answer);
        assert_eq!(n["rules"][0]["type"], "deletion");
        assert_eq!(n["target"], "branch");
        assert_eq!(n["bypass_actors"], UNKNOWN);
        assert!(request_body("x", &n).get("bypass_actors").is_none());
        let actors = json!({"enforcement":"active","bypass_actors":[
            {"actor_id":9,"actor_type":"Team"},{"actor_id":1,"actor_type":"OrganizationAdmin","bypass_mode":"always"},{"actor_id":null,"actor_type":"DeployKey"}]});
        let n = normalize(&actors);
        let order: Vec<&str> = n["bypass_actors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["actor_type"].as_str().unwrap())
            .collect();
        assert_eq!(order, ["DeployKey", "OrganizationAdmin", "Team"]);
        assert!(n["bypass_actors"][0].get("actor_id").is_none());
        assert!(is_security_relevant("bypass_actors"));
        assert!(!is_security_relevant("rules"));
    }
}
