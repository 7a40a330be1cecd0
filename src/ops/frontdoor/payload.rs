//! The front door's operations and their payloads: one typed struct per action, each denying
//! unknown keys, parsed with the path of the offending key in every error.
//!
//! [`OPS`] is the table of every `PROVIDER ACTION` pair, whether it mutates (and so goes
//! through a plan), whether it needs `--app`, and the payload shape shown in errors and help.

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The largest payload accepted, in bytes. The biggest legitimate payload (a SQL query, a
/// list of check names) is a few KiB; 64 KiB leaves room while refusing a pasted file.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// The longest research query: Tavily's own limit is 400 characters.
pub const MAX_QUERY_CHARS: usize = 400;
/// Results per research provider at most: Tavily caps `max_results` at 20.
pub const MAX_SEARCH_RESULTS: u32 = 20;
/// The longest route-test prompt: the test is a liveness probe, not a workload.
pub const MAX_PROMPT_CHARS: usize = 2000;
/// Completion tokens of a route test at most: a probe needs a few words, and each token
/// costs money on every route.
pub const MAX_ROUTE_TEST_TOKENS: u32 = 64;

/// One `PROVIDER ACTION` of the front door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpSpec {
    pub provider: &'static str,
    pub action: &'static str,
    /// Mutating operations produce a targeted plan; they never change anything directly.
    pub mutating: bool,
    /// Whether `--app` is required.
    pub needs_app: bool,
    /// The payload, as shown in errors: keys with `?` are optional.
    pub shape: &'static str,
}

const fn op(
    provider: &'static str,
    action: &'static str,
    mutating: bool,
    needs_app: bool,
    shape: &'static str,
) -> OpSpec {
    OpSpec {
        provider,
        action,
        mutating,
        needs_app,
        shape,
    }
}

const EMPTY: &str = "{}";

/// Every operation of the original control plane, plus `validate` on the providers that
/// had only a validation in the original (and the `health` alias `validate` elsewhere).
pub const OPS: &[OpSpec] = &[
    op(
        "fly",
        "health",
        false,
        true,
        r#"{"path"?: string, "expect_status"?: integer}"#,
    ),
    op("fly", "machines", false, true, EMPTY),
    op("fly", "logs", false, true, EMPTY),
    op("fly", "deploy", true, true, r#"{"image"?: string}"#),
    op(
        "fly",
        "set-secrets",
        true,
        true,
        r#"{"secret_names": [string, …]}"#,
    ),
    op("router", "allowlist", false, false, EMPTY),
    op(
        "router",
        "route-test",
        false,
        false,
        r#"{"prompt"?: string, "max_tokens"?: integer 1..=64, "routes"?: [string, …]}"#,
    ),
    op(
        "github",
        "protect",
        true,
        false,
        r#"{"required_checks"?: [string, …], "require_review"?: bool, "repo"?: "owner/repo", "branch"?: string}"#,
    ),
    op(
        "github",
        "audit",
        false,
        false,
        r#"{"repo"?: "owner/repo"}"#,
    ),
    op(
        "github",
        "rules",
        false,
        false,
        r#"{"repo": "owner/repo", "branch": string}"#,
    ),
    op(
        "research",
        "search",
        false,
        false,
        r#"{"query": string (1..=400 chars), "max_results"?: integer 1..=20}"#,
    ),
    op("research", "validate", false, false, EMPTY),
    op("context_db", "ping", false, false, EMPTY),
    op("context_db", "health", false, false, EMPTY),
    op(
        "context_db",
        "query",
        false,
        false,
        r#"{"sql": string (one statement), "timeout_ms"?: integer 1..=60000, "max_rows"?: integer 1..=1000}"#,
    ),
    op("qdrant", "collections", false, false, EMPTY),
    op("qdrant", "validate", false, false, EMPTY),
    op("mem0", "validate", false, false, EMPTY),
    op("redis", "ping", false, false, EMPTY),
    op(
        "redis",
        "info",
        false,
        false,
        r#"{"sections"?: ["server" | "clients" | "memory" | "persistence" | "stats" | "replication" | "cpu" | "keyspace", …]}"#,
    ),
    op("slack", "validate", false, false, EMPTY),
    op("gong", "validate", false, false, EMPTY),
    op("lambda", "instances", false, false, EMPTY),
    op("lambda", "validate", false, false, EMPTY),
];

/// Look up an operation; the error lists what exists.
pub fn spec(provider: &str, action: &str) -> Result<&'static OpSpec, PayloadError> {
    if let Some(s) = OPS
        .iter()
        .find(|s| s.provider == provider && s.action == action)
    {
        return Ok(s);
    }
    let actions: Vec<&str> = OPS
        .iter()
        .filter(|s| s.provider == provider)
        .map(|s| s.action)
        .collect();
    if actions.is_empty() {
        let mut providers: Vec<&str> = OPS.iter().map(|s| s.provider).collect();
        providers.dedup();
        let hint = did_you_mean(provider, providers.iter().copied());
        return Err(PayloadError::UnknownProvider {
            provider: provider.to_string(),
            expected: providers.join(", "),
            hint,
        });
    }
    Err(PayloadError::UnknownAction {
        provider: provider.to_string(),
        action: action.to_string(),
        hint: did_you_mean(action, actions.iter().copied()),
        expected: actions.join(", "),
    })
}

fn did_you_mean<'a>(input: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    candidates
        .map(|c| (strsim::jaro_winkler(input, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// Why an operation or its payload was refused. Every variant names the operation; payload
/// errors name the key and show the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("unknown provider `{provider}`{hint}; expected one of: {expected}")]
    UnknownProvider {
        provider: String,
        expected: String,
        hint: String,
    },
    #[error("`{provider}` has no action `{action}`{hint}; expected one of: {expected}")]
    UnknownAction {
        provider: String,
        action: String,
        expected: String,
        hint: String,
    },
    #[error("the payload of `{op}` is {size} bytes, over the limit of {MAX_PAYLOAD_BYTES} bytes")]
    TooLarge { op: String, size: usize },
    #[error("invalid payload for `{op}`{at}: {message}\n  expected: {shape}")]
    Invalid {
        op: String,
        /// ` at `key`` (empty at the top level).
        at: String,
        message: String,
        shape: &'static str,
    },
    #[error("invalid name for `{op}` at `{key}`: `{value}`: {reason}\n  hint: {hint}")]
    InvalidName {
        op: String,
        /// `--app`, or the payload's key.
        key: String,
        /// The value, control characters escaped.
        value: String,
        reason: String,
        hint: String,
    },
    #[error("`{op}` needs `--app APP`")]
    MissingApp { op: String },
    #[error("`{op}` takes no `--app` (only Fly operations do)")]
    UnexpectedApp { op: String },
}

// ───────────────────────────── payloads ─────────────────────────────

/// No keys at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlyHealth {
    pub path: Option<String>,
    pub expect_status: Option<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlyDeploy {
    pub image: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlySetSecrets {
    pub secret_names: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTest {
    pub prompt: Option<String>,
    pub max_tokens: Option<u32>,
    /// Only these routes (`portkey` and fallback names); all by default.
    pub routes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubProtect {
    pub required_checks: Option<Vec<String>>,
    pub require_review: Option<bool>,
    pub repo: Option<String>,
    pub branch: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubAudit {
    pub repo: Option<String>,
}

/// `github rules`: the effective rules of a branch (`--repo R --branch B`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubRules {
    pub repo: String,
    pub branch: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResearchSearch {
    pub query: String,
    #[serde(default = "default_max_results")]
    pub max_results: u32,
}

/// The original front door's example asks for 10.
fn default_max_results() -> u32 {
    10
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbQuery {
    pub sql: String,
    pub timeout_ms: Option<u64>,
    pub max_rows: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisInfo {
    pub sections: Option<Vec<String>>,
}

/// A parsed, validated payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Empty,
    FlyHealth(FlyHealth),
    FlyDeploy(FlyDeploy),
    FlySetSecrets(FlySetSecrets),
    RouteTest(RouteTest),
    GithubProtect(GithubProtect),
    GithubAudit(GithubAudit),
    GithubRules(GithubRules),
    ResearchSearch(ResearchSearch),
    DbQuery(DbQuery),
    RedisInfo(RedisInfo),
}

impl OpSpec {
    /// `provider action`, as the operation is named in messages.
    pub fn name(&self) -> String {
        format!("{} {}", self.provider, self.action)
    }

    /// Check `--app` and parse the payload text (absent = `{}`).
    pub fn parse(&self, app: Option<&str>, text: Option<&str>) -> Result<Payload, PayloadError> {
        let name = self.name();
        match (self.needs_app, app) {
            (true, None) => return Err(PayloadError::MissingApp { op: name }),
            (false, Some(_)) => return Err(PayloadError::UnexpectedApp { op: name }),
            _ => {}
        }
        let text = text
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or("{}");
        if text.len() > MAX_PAYLOAD_BYTES {
            return Err(PayloadError::TooLarge {
                op: name,
                size: text.len(),
            });
        }
        let payload = match (self.provider, self.action) {
            ("fly", "health") => Payload::FlyHealth(self.de(text)?),
            ("fly", "deploy") => Payload::FlyDeploy(self.de(text)?),
            ("fly", "set-secrets") => {
                let p: FlySetSecrets = self.de(text)?;
                if p.secret_names.is_empty() {
                    return Err(self.invalid("secret_names", "the list is empty"));
                }
                for n in &p.secret_names {
                    if !is_env_name(n) {
                        return Err(self.invalid(
                            "secret_names",
                            &format!("`{n}` is not a secret name (expected `[A-Z_][A-Z0-9_]*`)"),
                        ));
                    }
                }
                Payload::FlySetSecrets(p)
            }
            ("router", "route-test") => {
                let p: RouteTest = self.de(text)?;
                if let Some(prompt) = &p.prompt {
                    if prompt.chars().count() > MAX_PROMPT_CHARS || prompt.trim().is_empty() {
                        return Err(self.invalid(
                            "prompt",
                            &format!("expected 1..={MAX_PROMPT_CHARS} characters"),
                        ));
                    }
                }
                if let Some(n) = p.max_tokens {
                    if !(1..=MAX_ROUTE_TEST_TOKENS).contains(&n) {
                        return Err(self.invalid(
                            "max_tokens",
                            &format!("{n} is out of range 1..={MAX_ROUTE_TEST_TOKENS}"),
                        ));
                    }
                }
                Payload::RouteTest(p)
            }
            ("github", "protect") => {
                let p: GithubProtect = self.de(text)?;
                if let Some(repo) = &p.repo {
                    if repo.split('/').filter(|s| !s.is_empty()).count() != 2 {
                        return Err(self.invalid("repo", &format!("`{repo}` is not `owner/repo`")));
                    }
                }
                if p.required_checks.is_none() && p.require_review.is_none() {
                    return Err(self.invalid(
                        "",
                        "nothing to change: give `required_checks` or `require_review`",
                    ));
                }
                Payload::GithubProtect(p)
            }
            ("github", "audit") => Payload::GithubAudit(self.de(text)?),
            ("github", "rules") => Payload::GithubRules(self.de(text)?),
            ("research", "search") => {
                let p: ResearchSearch = self.de(text)?;
                let n = p.query.trim().chars().count();
                if n == 0 || n > MAX_QUERY_CHARS {
                    return Err(self.invalid(
                        "query",
                        &format!("{n} characters; expected 1..={MAX_QUERY_CHARS}"),
                    ));
                }
                if !(1..=MAX_SEARCH_RESULTS).contains(&p.max_results) {
                    return Err(self.invalid(
                        "max_results",
                        &format!("{} is out of range 1..={MAX_SEARCH_RESULTS}", p.max_results),
                    ));
                }
                Payload::ResearchSearch(p)
            }
            ("context_db", "query") => {
                let p: DbQuery = self.de(text)?;
                if p.sql.trim().is_empty() {
                    return Err(self.invalid("sql", "the statement is empty"));
                }
                if let Some(ms) = p.timeout_ms {
                    if !(1..=60_000).contains(&ms) {
                        return Err(
                            self.invalid("timeout_ms", &format!("{ms} is out of range 1..=60000"))
                        );
                    }
                }
                if let Some(n) = p.max_rows {
                    if !(1..=1000).contains(&n) {
                        return Err(
                            self.invalid("max_rows", &format!("{n} is out of range 1..=1000"))
                        );
                    }
                }
                Payload::DbQuery(p)
            }
            ("redis", "info") => {
                let p: RedisInfo = self.de(text)?;
                for s in p.sections.iter().flatten() {
                    if !crate::providers::redis::INFO_SECTIONS.contains(&s.as_str()) {
                        return Err(self.invalid("sections", &format!("unknown section `{s}`")));
                    }
                }
                Payload::RedisInfo(p)
            }
            _ => {
                let _: Empty = self.de(text)?;
                Payload::Empty
            }
        };
        Ok(payload)
    }

    fn de<T: DeserializeOwned>(&self, text: &str) -> Result<T, PayloadError> {
        // A payload is a JSON object: serde would also take `[]` for a struct.
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(other) => {
                let kind = match other {
                    serde_json::Value::Array(_) => "an array",
                    serde_json::Value::String(_) => "a string",
                    serde_json::Value::Number(_) => "a number",
                    serde_json::Value::Bool(_) => "a boolean",
                    _ => "null",
                };
                return Err(self.invalid("", &format!("expected a JSON object, found {kind}")));
            }
            Err(e) => return Err(self.invalid("", &format!("not JSON: {e}"))),
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let path = if path == "." { String::new() } else { path };
            self.invalid(&path, &inner.to_string())
        })?;
        de.end().map_err(|e| self.invalid("", &e.to_string()))?;
        Ok(value)
    }

    fn invalid(&self, key: &str, message: &str) -> PayloadError {
        PayloadError::Invalid {
            op: self.name(),
            at: if key.is_empty() {
                String::new()
            } else {
                format!(" at `{key}`")
            },
            message: message.to_string(),
            shape: self.shape,
        }
    }
}

/// An environment variable name as GitHub and Fly accept them for secrets.
pub fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(p: &str, a: &str, app: Option<&str>, text: &str) -> Result<Payload, PayloadError> {
        spec(p, a)?.parse(app, Some(text))
    }

    #[test]
    fn seed_shorthands_are_accepted() {
        assert!(matches!(
            parse(
                "github",
                "protect",
                None,
                r#"{"required_checks": ["Deploy All"], "require_review": true}"#
            ),
            Ok(Payload::GithubProtect(_))
        ));
        assert!(matches!(
            parse(
                "fly",
                "set-secrets",
                Some("a"),
                r#"{"secret_names": ["NEON_DATABASE_URL"]}"#
            ),
            Ok(Payload::FlySetSecrets(_))
        ));
        assert_eq!(
            parse(
                "research",
                "search",
                None,
                r#"{"query": "AI infrastructure trends", "max_results": 10}"#
            ),
            Ok(Payload::ResearchSearch(ResearchSearch {
                query: "AI infrastructure trends".into(),
                max_results: 10
            }))
        );
    }

    #[test]
    fn unknown_keys_name_the_key_and_the_shape() {
        let e = parse("research", "search", None, r#"{"query": "x", "limit": 3}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `limit`"), "{e}");
        assert!(e.contains(r#""max_results"?"#), "{e}");
    }

    #[test]
    fn wrong_types_name_the_key() {
        let e = parse(
            "research",
            "search",
            None,
            r#"{"query": "x", "max_results": "ten"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("at `max_results`"), "{e}");
        assert!(e.contains("invalid type"), "{e}");
        let e = parse(
            "fly",
            "set-secrets",
            Some("a"),
            r#"{"secret_names": ["A", 3]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("at `secret_names[1]`"), "{e}");
    }

    #[test]
    fn oversized_payloads_are_refused() {
        let big = format!(r#"{{"sql": "{}"}}"#, "x".repeat(MAX_PAYLOAD_BYTES));
        assert!(matches!(
            parse("context_db", "query", None, &big),
            Err(PayloadError::TooLarge { .. })
        ));
    }

    #[test]
    fn empty_payload_ops_refuse_any_key() {
        let e = parse("redis", "ping", None, r#"{"x": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `x`"), "{e}");
        assert_eq!(parse("redis", "ping", None, ""), Ok(Payload::Empty));
    }

    #[test]
    fn app_is_required_exactly_for_fly() {
        assert!(matches!(
            parse("fly", "health", None, "{}"),
            Err(PayloadError::MissingApp { .. })
        ));
        assert!(matches!(
            parse("redis", "ping", Some("a"), "{}"),
            Err(PayloadError::UnexpectedApp { .. })
        ));
    }

    #[test]
    fn unknown_operations_suggest() {
        let e = spec("reddis", "ping").unwrap_err().to_string();
        assert!(e.contains("did you mean `redis`"), "{e}");
        let e = spec("fly", "deplyo").unwrap_err().to_string();
        assert!(e.contains("did you mean `deploy`"), "{e}");
    }

    #[test]
    fn trailing_garbage_and_non_objects_are_refused() {
        assert!(parse("redis", "ping", None, "{} x").is_err());
        assert!(parse("redis", "ping", None, "[]").is_err());
    }
}
