//! Rulesets: `/orgs/{org}/rulesets…`, `/repos/{owner}/{repo}/rulesets…` and the rules that
//! apply to a branch, `/repos/{owner}/{repo}/rules/branches/{branch}`.
//!
//! Facts emulated: a POST needs `name` and `enforcement` (422 otherwise), names are unique per
//! organization or repository (422 "Name must be unique"), every enumeration (`target`,
//! `enforcement`, rule `type`, `actor_type`, `bypass_mode`) is checked before anything
//! changes; a PUT changes only the fields it sends. The GET adds what GitHub adds (`id`,
//! `node_id`, `source`, `source_type`, `_links`, timestamps, `current_user_can_bypass` on the
//! repository endpoint) and leaves `bypass_actors` out for a caller without write access (a
//! read-only token). A repository listing includes the owner's organization rulesets unless
//! `includes_parents=false`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::extract::{ApiRoot, JsonBody, Refusal, Reply, RepoItem, RepoPath};
use super::pages::Page;
use crate::sandbox::Shared;
use crate::sandbox::gate::{Caller, Scope, json_response};
use crate::sandbox::state::{RulesetSource, StoredRuleset, World, now};

/// Every rule type of GitHub's OpenAPI description (`repository-rule`).
pub const RULE_TYPES: [&str; 23] = [
    "creation",
    "update",
    "deletion",
    "required_linear_history",
    "merge_queue",
    "required_deployments",
    "required_signatures",
    "pull_request",
    "required_status_checks",
    "non_fast_forward",
    "commit_message_pattern",
    "commit_author_email_pattern",
    "committer_email_pattern",
    "branch_name_pattern",
    "tag_name_pattern",
    "workflows",
    "code_scanning",
    "copilot_code_review",
    "license_compliance_scanning",
    "file_path_restriction",
    "max_file_path_length",
    "file_extension_restriction",
    "max_file_size",
];

const TARGETS: [&str; 3] = ["branch", "tag", "push"];
const ENFORCEMENTS: [&str; 3] = ["disabled", "active", "evaluate"];
const ACTOR_TYPES: [&str; 6] = [
    "Integration",
    "OrganizationAdmin",
    "RepositoryRole",
    "Team",
    "DeployKey",
    "User",
];
const BYPASS_MODES: [&str; 3] = ["always", "pull_request", "exempt"];

#[derive(serde::Deserialize, Default)]
pub struct ListQuery {
    includes_parents: Option<bool>,
}

impl RulesetSource {
    fn type_name(&self) -> &'static str {
        match self {
            RulesetSource::Organization(_) => "Organization",
            RulesetSource::Repository(_) => "Repository",
        }
    }

    fn name(&self) -> &str {
        match self {
            RulesetSource::Organization(s) | RulesetSource::Repository(s) => s,
        }
    }

    fn self_url(&self, api: &str, id: u64) -> String {
        match self {
            RulesetSource::Organization(org) => format!("{api}/orgs/{org}/rulesets/{id}"),
            RulesetSource::Repository(full) => format!("{api}/repos/{full}/rulesets/{id}"),
        }
    }

    fn html_url(&self, id: u64) -> String {
        match self {
            RulesetSource::Organization(org) => {
                format!("https://github.com/organizations/{org}/settings/rules/{id}")
            }
            RulesetSource::Repository(full) => format!("https://github.com/{full}/rules/{id}"),
        }
    }
}

/// The fields every answer has (the listing's item).
fn summary_json(api: &str, r: &StoredRuleset) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("name".into(), r.body["name"].clone());
    m.insert(
        "target".into(),
        r.body.get("target").cloned().unwrap_or(json!("branch")),
    );
    m.insert("source_type".into(), json!(r.source.type_name()));
    m.insert("source".into(), json!(r.source.name()));
    m.insert("enforcement".into(), r.body["enforcement"].clone());
    m.insert("node_id".into(), json!(format!("RRS_lACkVXNlcgQ{}", r.id)));
    m.insert(
        "_links".into(),
        json!({"self": {"href": r.source.self_url(api, r.id)}, "html": {"href": r.source.html_url(r.id)}}),
    );
    m.insert("created_at".into(), json!(r.created_at));
    m.insert("updated_at".into(), json!(r.updated_at));
    m
}

/// A whole ruleset as `GET …/rulesets/{id}` answers it.
fn ruleset_json(api: &str, r: &StoredRuleset, caller: &Caller, repo_level: bool) -> Value {
    let mut m = summary_json(api, r);
    let can_write = caller.scope == Scope::Full;
    if can_write {
        m.insert(
            "bypass_actors".into(),
            r.body.get("bypass_actors").cloned().unwrap_or(json!([])),
        );
    }
    if let Some(c) = r.body.get("conditions") {
        m.insert("conditions".into(), c.clone());
    }
    m.insert(
        "rules".into(),
        r.body.get("rules").cloned().unwrap_or(json!([])),
    );
    if repo_level {
        m.insert(
            "current_user_can_bypass".into(),
            json!(if can_write { "always" } else { "never" }),
        );
    }
    Value::Object(m)
}

fn one_of(field: &str, v: Option<&Value>, allowed: &[&str]) -> Result<(), Refusal> {
    match v {
        None => Ok(()),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(()),
        Some(other) => Err(Refusal::invalid(format!(
            "{other} is not a valid value for {field}; expected one of: {}",
            allowed.join(", ")
        ))),
    }
}

/// GitHub's checks of a ruleset body; `create` also requires `name` and `enforcement`.
fn check_body(body: &Value, create: bool) -> Result<Map<String, Value>, Refusal> {
    let Some(m) = body.as_object() else {
        return Err(Refusal::invalid("The body is not a JSON object."));
    };
    const FIELDS: [&str; 6] = [
        "name",
        "target",
        "enforcement",
        "bypass_actors",
        "conditions",
        "rules",
    ];
    if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(Refusal::invalid(format!("\"{k}\" is not a permitted key.")));
    }
    if create {
        for required in ["name", "enforcement"] {
            if !m.contains_key(required) {
                return Err(Refusal::invalid(format!("\"{required}\" wasn't supplied.")));
            }
        }
    }
    match m.get("name") {
        None => {}
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        Some(_) => return Err(Refusal::validation("Ruleset", "name", "invalid")),
    }
    one_of("target", m.get("target"), &TARGETS)?;
    one_of("enforcement", m.get("enforcement"), &ENFORCEMENTS)?;
    if let Some(c) = m.get("conditions")
        && !c.is_object()
        && !c.is_null()
    {
        return Err(Refusal::invalid("\"conditions\" is not an object."));
    }
    if let Some(rules) = m.get("rules") {
        let Some(rules) = rules.as_array() else {
            return Err(Refusal::invalid("\"rules\" is not an array."));
        };
        for rule in rules {
            one_of("rules.type", rule.get("type"), &RULE_TYPES)?;
            if rule.get("type").is_none() {
                return Err(Refusal::invalid("A rule needs a \"type\"."));
            }
            if let Some(p) = rule.get("parameters")
                && !p.is_object()
            {
                return Err(Refusal::invalid("A rule's \"parameters\" is an object."));
            }
        }
    }
    if let Some(actors) = m.get("bypass_actors") {
        let Some(actors) = actors.as_array() else {
            return Err(Refusal::invalid("\"bypass_actors\" is not an array."));
        };
        for a in actors {
            if a.get("actor_type").is_none() {
                return Err(Refusal::invalid("A bypass actor needs an \"actor_type\"."));
            }
            one_of("actor_type", a.get("actor_type"), &ACTOR_TYPES)?;
            one_of("bypass_mode", a.get("bypass_mode"), &BYPASS_MODES)?;
            if let Some(id) = a.get("actor_id")
                && !(id.is_null() || id.is_i64())
            {
                return Err(Refusal::invalid("\"actor_id\" is an integer or null."));
            }
        }
    }
    Ok(m.clone())
}

fn of_source<'w>(
    world: &'w World,
    source: &RulesetSource,
) -> impl Iterator<Item = &'w StoredRuleset> {
    let source = source.clone();
    world
        .github
        .rulesets
        .values()
        .filter(move |r| r.source == source)
}

fn create(world: &mut World, api: &str, source: RulesetSource, body: &Value) -> Reply {
    let body = check_body(body, true)?;
    let name = body["name"].as_str().unwrap_or_default().to_string();
    if of_source(world, &source).any(|r| r.body["name"] == json!(name)) {
        return Err(Refusal::invalid_field(
            "Ruleset",
            "name",
            "already_exists",
            "Name must be unique",
        ));
    }
    let id = world.next_id();
    let now = now();
    let r = StoredRuleset {
        id,
        source,
        body,
        created_at: now.clone(),
        updated_at: now,
    };
    let caller = Caller {
        token: String::new(),
        scope: Scope::Full,
    };
    let repo_level = matches!(r.source, RulesetSource::Repository(_));
    let out = ruleset_json(api, &r, &caller, repo_level);
    world.github.rulesets.insert(id, r);
    Ok(json_response(StatusCode::CREATED, out))
}

fn update(world: &mut World, api: &str, source: &RulesetSource, id: u64, body: &Value) -> Reply {
    let change = check_body(body, false)?;
    if let Some(name) = change.get("name")
        && of_source(world, source).any(|r| r.id != id && r.body["name"] == *name)
    {
        return Err(Refusal::invalid_field(
            "Ruleset",
            "name",
            "already_exists",
            "Name must be unique",
        ));
    }
    let r = world
        .github
        .rulesets
        .get_mut(&id)
        .filter(|r| r.source == *source)
        .ok_or(Refusal::NotFound)?;
    for (k, v) in change {
        r.body.insert(k, v);
    }
    r.updated_at = now();
    let caller = Caller {
        token: String::new(),
        scope: Scope::Full,
    };
    let repo_level = matches!(source, RulesetSource::Repository(_));
    Ok(json_response(
        StatusCode::OK,
        ruleset_json(api, r, &caller, repo_level),
    ))
}

fn delete(world: &mut World, source: &RulesetSource, id: u64) -> Reply {
    match world.github.rulesets.get(&id) {
        Some(r) if r.source == *source => {
            world.github.rulesets.remove(&id);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(Refusal::NotFound),
    }
}

pub async fn list_org(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    Path(org): Path<String>,
    page: Page,
) -> Reply {
    let world = shared.world();
    let all: Vec<Value> = of_source(&world, &RulesetSource::Organization(org))
        .map(|r| Value::Object(summary_json(&api, r)))
        .collect();
    let (items, link) = page.of(all);
    Ok(link.respond(Value::Array(items)))
}

pub async fn list_repo(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    repo: RepoPath,
    Query(q): Query<ListQuery>,
    page: Page,
) -> Reply {
    let world = shared.world();
    repo.find(&world)?;
    let own = RulesetSource::Repository(repo.full.clone());
    let parent = RulesetSource::Organization(repo.owner.clone());
    let parents = q.includes_parents.unwrap_or(true);
    let all: Vec<Value> = world
        .github
        .rulesets
        .values()
        .filter(|r| r.source == own || (parents && r.source == parent))
        .map(|r| Value::Object(summary_json(&api, r)))
        .collect();
    let (items, link) = page.of(all);
    Ok(link.respond(Value::Array(items)))
}

pub async fn get_org(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    Extension(caller): Extension<Caller>,
    Path((org, id)): Path<(String, u64)>,
) -> Reply {
    let world = shared.world();
    let r = world
        .github
        .rulesets
        .get(&id)
        .filter(|r| r.source == RulesetSource::Organization(org))
        .ok_or(Refusal::NotFound)?;
    Ok(json_response(
        StatusCode::OK,
        ruleset_json(&api, r, &caller, false),
    ))
}

pub async fn get_repo(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    Extension(caller): Extension<Caller>,
    RepoItem(repo, id): RepoItem<u64>,
) -> Reply {
    let world = shared.world();
    repo.find(&world)?;
    let r = world
        .github
        .rulesets
        .get(&id)
        .filter(|r| {
            r.source == RulesetSource::Repository(repo.full.clone())
                || r.source == RulesetSource::Organization(repo.owner.clone())
        })
        .ok_or(Refusal::NotFound)?;
    Ok(json_response(
        StatusCode::OK,
        ruleset_json(&api, r, &caller, true),
    ))
}

pub async fn create_org(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    Path(org): Path<String>,
    JsonBody(body): JsonBody,
) -> Reply {
    let mut world = shared.world();
    create(&mut world, &api, RulesetSource::Organization(org), &body)
}

pub async fn create_repo(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    repo: RepoPath,
    JsonBody(body): JsonBody,
) -> Reply {
    let mut world = shared.world();
    repo.find(&world)?;
    create(
        &mut world,
        &api,
        RulesetSource::Repository(repo.full.clone()),
        &body,
    )
}

pub async fn update_org(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    Path((org, id)): Path<(String, u64)>,
    JsonBody(body): JsonBody,
) -> Reply {
    let mut world = shared.world();
    update(
        &mut world,
        &api,
        &RulesetSource::Organization(org),
        id,
        &body,
    )
}

pub async fn update_repo(
    State(shared): State<Arc<Shared>>,
    ApiRoot(api): ApiRoot,
    RepoItem(repo, id): RepoItem<u64>,
    JsonBody(body): JsonBody,
) -> Reply {
    let mut world = shared.world();
    repo.find(&world)?;
    update(
        &mut world,
        &api,
        &RulesetSource::Repository(repo.full.clone()),
        id,
        &body,
    )
}

pub async fn delete_org(
    State(shared): State<Arc<Shared>>,
    Path((org, id)): Path<(String, u64)>,
) -> Reply {
    let mut world = shared.world();
    delete(&mut world, &RulesetSource::Organization(org), id)
}

pub async fn delete_repo(
    State(shared): State<Arc<Shared>>,
    RepoItem(repo, id): RepoItem<u64>,
) -> Reply {
    let mut world = shared.world();
    repo.find(&world)?;
    delete(
        &mut world,
        &RulesetSource::Repository(repo.full.clone()),
        id,
    )
}

/// `fnmatch`-style: `*` matches any run of characters.
fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, rest)) => {
            let Some(tail) = s.strip_prefix(head) else {
                return false;
            };
            let rest = rest.trim_start_matches('*');
            if rest.is_empty() {
                return true;
            }
            (0..=tail.len())
                .filter(|i| tail.is_char_boundary(*i))
                .any(|i| glob(rest, &tail[i..]))
        }
    }
}

/// Whether a `{include, exclude}` condition admits `name` (`~ALL`, `~DEFAULT_BRANCH` known).
fn admits(cond: Option<&Value>, name: &str, default: &str) -> bool {
    let Some(cond) = cond else { return true };
    let list = |k: &str| -> Vec<String> {
        cond.get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let hit =
        |p: &String| p == "~ALL" || (p == "~DEFAULT_BRANCH" && name == default) || glob(p, name);
    list("include").iter().any(hit) && !list("exclude").iter().any(hit)
}

/// `GET /repos/{owner}/{repo}/rules/branches/{branch}`: the rules of every active branch
/// ruleset (the repository's and its organization's) whose conditions admit the branch.
pub async fn branch_rules(
    State(shared): State<Arc<Shared>>,
    RepoItem(repo, branch): RepoItem<String>,
    page: Page,
) -> Reply {
    let world = shared.world();
    let r = repo.find(&world)?;
    let name = r.name.clone();
    let default_ref = format!("refs/heads/{}", r.default_branch);
    let full_ref = format!("refs/heads/{branch}");
    let mut out = Vec::new();
    for rs in world.github.rulesets.values() {
        let applies_to_repo = match &rs.source {
            RulesetSource::Repository(full) => *full == repo.full,
            RulesetSource::Organization(org) => {
                *org == repo.owner
                    && admits(
                        rs.body
                            .get("conditions")
                            .and_then(|c| c.get("repository_name")),
                        &name,
                        "",
                    )
            }
        };
        let active = rs.body.get("enforcement") == Some(&json!("active"));
        let branch_target = rs.body.get("target").is_none_or(|t| t == "branch");
        let admitted = admits(
            rs.body.get("conditions").and_then(|c| c.get("ref_name")),
            &full_ref,
            &default_ref,
        );
        if !(applies_to_repo && active && branch_target && admitted) {
            continue;
        }
        for rule in rs
            .body
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut item = json!({
                "type": rule["type"],
                "ruleset_source_type": rs.source.type_name(),
                "ruleset_source": rs.source.name(),
                "ruleset_id": rs.id,
            });
            if let Some(p) = rule.get("parameters") {
                item["parameters"] = p.clone();
            }
            out.push(item);
        }
    }
    let (items, link) = page.of(out);
    Ok(link.respond(Value::Array(items)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_conditions_match_as_github_does() {
        assert!(glob("refs/heads/dev*", "refs/heads/dev-1"));
        assert!(!glob("refs/heads/dev*", "refs/heads/main"));
        assert!(glob("*", ""));
        assert!(glob("a*c*e", "abcde"));
        let cond = json!({"include": ["~DEFAULT_BRANCH", "refs/heads/release/*"], "exclude": ["refs/heads/release/old*"]});
        assert!(admits(Some(&cond), "refs/heads/main", "refs/heads/main"));
        assert!(admits(
            Some(&cond),
            "refs/heads/release/1",
            "refs/heads/main"
        ));
        assert!(!admits(
            Some(&cond),
            "refs/heads/release/old-1",
            "refs/heads/main"
        ));
        assert!(!admits(Some(&cond), "refs/heads/dev", "refs/heads/main"));
        assert!(admits(None, "anything", ""));
    }
}
