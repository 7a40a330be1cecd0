//! Policy as code (DESIGN.md, "Review: policy, cost and picture"): the Rego files of
//! `.infra/policy/`, evaluated in-process by `regorus` with conftest's conventions.
//!
//! ```text
//! .infra/policy/*.rego (not *_test.rego) ─▶ package sophia: deny contains msg if …
//!                                                           warn contains msg if …
//! input = the plan file's object (changes, actions, cost, …) + desired (normalized)
//! ```
//!
//! - [`judge`]: `sophia plan` (and the front door's targeted plans) record the verdicts and
//!   the policy's digest in the plan, covered by its digest and signature; any `deny` fails
//!   the plan with every message ([`PolicyError::Denied`]) and no plan file is written.
//! - [`check_fresh`]: `verify` and `apply` recompute the digest from the files and refuse a
//!   plan judged by another policy ([`PolicyError::Stale`]), naming each file that changed,
//!   before any provider call. The warnings raise the signers a plan needs
//!   ([`crate::approve::verify`]).
//! - [`test`]: `sophia policy test`, the `test_*` rules as `opa test` runs them.
//!
//! Not in `core/`: this module reads files, and regorus brings its own allocator-free but
//! randomness-capable runtime. Every error in a policy names `file:line:column`.

pub mod test;

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::core::desired::Desired;
use crate::core::plan::{Plan, PolicyVerdicts};
use crate::workspace::ReadError;

/// Where the policy lives, relative to the repository root.
pub const POLICY_DIR: &str = ".infra/policy";

/// The package whose `deny` and `warn` rules judge a plan (conftest's default namespace is
/// `main`; sophia's is its own name).
pub const PACKAGE: &str = "sophia";

/// Files whose name ends so are `opa test` tests: run by `sophia policy test`, never part of
/// the policy a plan is judged by (nor of its digest).
const TEST_SUFFIX: &str = "_test.rego";

/// The policy `sophia demo` writes into its repository (`.infra/policy/demo.rego`).
pub const DEMO_POLICY: &str = include_str!("demo.rego");

/// One Rego file: its path from the repository root (`.infra/policy/fly.rego`) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFile {
    pub path: String,
    pub text: String,
}

/// Why a policy could not judge a plan, or refused it.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{}", denied(.deny, .warn))]
    Denied {
        deny: Vec<String>,
        warn: Vec<String>,
    },
    #[error("{location}: {message}{snippet}")]
    Invalid {
        /// `file:line:column`, or the file alone when the evaluator gave no position.
        location: String,
        message: String,
        /// The source line with a caret under the position (empty when unknown).
        snippet: String,
    },
    #[error("the plan is stale: the policy changed since it was judged\n{}", .changes.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n"))]
    Stale { changes: Vec<String> },
    #[error("`{path}` {error}")]
    Read { path: String, error: ReadError },
    #[error("`{path}` {what}")]
    Unsafe { path: String, what: String },
}

fn denied(deny: &[String], warn: &[String]) -> String {
    let mut out = format!(
        "the plan violates the policy ({POLICY_DIR}/): {} denied",
        deny.len()
    );
    for m in deny {
        out.push_str(&format!("\n  deny: {}", one_line(m)));
    }
    for m in warn {
        out.push_str(&format!("\n  warn: {}", one_line(m)));
    }
    out
}

/// A message on one line (a policy's message could hold line feeds; the list must not
/// break).
pub fn one_line(message: &str) -> String {
    crate::core::hint::escape_name(message)
}

impl crate::core::hint::Hint for PolicyError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            PolicyError::Denied { .. } => format!(
                "change desired/ so that the plan complies; the rules are `{POLICY_DIR}/*.rego` \
                 (changed, like desired/, through a reviewed pull request)"
            ),
            PolicyError::Invalid { .. } => format!(
                "fix the policy, then check it with `sophia policy test` (Rego v1: `deny \
                 contains msg if {{ … }}` in `package {PACKAGE}`)"
            ),
            PolicyError::Stale { .. } => {
                "re-run `sophia plan` (the plan is judged by the policy as it is now) and have \
                 the new plan approved"
                    .to_string()
            }
            PolicyError::Read { error, .. } => error.hint().to_string(),
            PolicyError::Unsafe { .. } => format!(
                "keep the policy as regular `.rego` files directly in `{POLICY_DIR}/` of the \
                 repository"
            ),
        })
    }
}

/// The policy a plan is judged by: the `.rego` files of [`POLICY_DIR`] that are not tests,
/// sorted by path. `None` when the folder is absent or holds none: the plan carries no
/// policy block.
pub fn read(root: &Path) -> Result<Option<Vec<PolicyFile>>, PolicyError> {
    let files = read_files(root, false)?;
    Ok((!files.is_empty()).then_some(files))
}

/// Every `.rego` file of [`POLICY_DIR`], tests included when `tests` is true, sorted by
/// path. Each is a regular file directly in the folder (never a link, which could point
/// out of the repository), read through [`crate::workspace::read_bounded`].
pub fn read_files(root: &Path, tests: bool) -> Result<Vec<PolicyFile>, PolicyError> {
    let dir = root.join(POLICY_DIR);
    let meta = match std::fs::symlink_metadata(&dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(PolicyError::Read {
                path: format!("{POLICY_DIR}/"),
                error: ReadError::Io(e),
            });
        }
    };
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(PolicyError::Unsafe {
            path: format!("{POLICY_DIR}/"),
            what: "is not a directory of the repository (a link or a file)".into(),
        });
    }
    let entries = std::fs::read_dir(&dir).map_err(|e| PolicyError::Read {
        path: format!("{POLICY_DIR}/"),
        error: ReadError::Io(e),
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| PolicyError::Read {
            path: format!("{POLICY_DIR}/"),
            error: ReadError::Io(e),
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".rego") || (!tests && name.ends_with(TEST_SUFFIX)) {
            continue;
        }
        let path = format!("{POLICY_DIR}/{name}");
        let kind = entry.file_type().map_err(|e| PolicyError::Read {
            path: path.clone(),
            error: ReadError::Io(e),
        })?;
        if kind.is_symlink() {
            return Err(PolicyError::Unsafe {
                path,
                what: "is a symbolic link: the policy is read from regular files only".into(),
            });
        }
        let text =
            crate::workspace::read_bounded(&entry.path()).map_err(|error| PolicyError::Read {
                path: path.clone(),
                error,
            })?;
        files.push(PolicyFile { path, text });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// `sha256:` over the files, each as `path NUL length NUL bytes`, in path order (the same
/// framing as the build's source digest, so no two sets of files hash alike).
pub fn digest(files: &[PolicyFile]) -> String {
    let mut sorted: Vec<&PolicyFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut hasher = Sha256::new();
    for f in sorted {
        hasher.update(format!("{}\0{}\0", f.path, f.text.len()).as_bytes());
        hasher.update(f.text.as_bytes());
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// Each file's path and the `sha256:` of its bytes.
pub fn file_digests(files: &[PolicyFile]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|f| {
            (
                f.path.clone(),
                crate::core::digest::sha256_bytes(f.text.as_bytes()),
            )
        })
        .collect()
}

/// The policy's `input` for a plan: the plan file's object without its digest (not yet
/// final) or policy block (the verdicts being made), with the normalized desired state
/// (each address → its normalized object, as the plan's desired digest covers it) as
/// `desired`.
pub fn input(plan: &Plan, desired: &Desired) -> serde_json::Value {
    let mut value = serde_json::to_value(plan).expect("a plan serializes");
    if let serde_json::Value::Object(map) = &mut value {
        map.remove("digest");
        map.remove("policy");
        let normalized: serde_json::Map<String, serde_json::Value> =
            crate::core::lower::lower(desired)
                .into_iter()
                .map(|(address, object)| (address.to_string(), object))
                .collect();
        map.insert("desired".into(), serde_json::Value::Object(normalized));
    }
    value
}

/// A regorus engine holding `files`, builtin errors fatal (a broken rule fails loudly
/// rather than leaving a `deny` undefined). A syntax error names `file:line:column`.
pub(crate) fn engine(files: &[PolicyFile]) -> Result<regorus::Engine, PolicyError> {
    let mut engine = regorus::Engine::new();
    engine.set_strict_builtin_errors(true);
    for f in files {
        engine
            .add_policy(f.path.clone(), f.text.clone())
            .map_err(|e| located(&e, &f.path))?;
    }
    Ok(engine)
}

/// A regorus error as `file:line:column: message` with its source snippet. regorus
/// writes `--> file:line:column`, the snippet, then `error: message`.
pub(crate) fn located(err: &anyhow::Error, fallback: &str) -> PolicyError {
    let text = format!("{err}");
    let mut location = None;
    let mut message = Vec::new();
    let mut snippet = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(at) = trimmed.strip_prefix("--> ") {
            location.get_or_insert_with(|| at.trim().to_string());
        } else if let Some(m) = trimmed.strip_prefix("error: ") {
            message.push(m.to_string());
        } else if location.is_some() && message.is_empty() && !trimmed.is_empty() {
            snippet.push('\n');
            snippet.push_str(line);
        } else if !trimmed.is_empty() {
            message.push(trimmed.to_string());
        }
    }
    PolicyError::Invalid {
        location: location.unwrap_or_else(|| fallback.to_string()),
        message: if message.is_empty() {
            text.trim().to_string()
        } else {
            message.join("; ")
        },
        snippet,
    }
}

/// The messages of `data.sophia.<rule>` (undefined: none), sorted. A message is a string,
/// or an object with a string `msg` (conftest's structured form); anything else is shown
/// as its JSON.
fn messages(engine: &mut regorus::Engine, rule: &str) -> Result<Vec<String>, PolicyError> {
    let query = format!("data.{PACKAGE}.{rule}");
    let results = engine
        .eval_query(query.clone(), false)
        .map_err(|e| located(&e, POLICY_DIR))?;
    let Some(value) = results
        .result
        .first()
        .and_then(|r| r.expressions.first())
        .map(|e| &e.value)
    else {
        return Ok(Vec::new());
    };
    let json = value.to_json_str().map_err(|e| located(&e, POLICY_DIR))?;
    let items = match serde_json::from_str::<serde_json::Value>(&json) {
        Ok(serde_json::Value::Array(items)) => items,
        _ => {
            return Err(PolicyError::Invalid {
                location: POLICY_DIR.to_string(),
                message: format!(
                    "`{query}` must be a set of messages (`{rule} contains msg if {{ … }}`), \
                     not `{json}`"
                ),
                snippet: String::new(),
            });
        }
    };
    let mut out: Vec<String> = items
        .into_iter()
        .map(|item| match item {
            serde_json::Value::String(s) => s,
            serde_json::Value::Object(ref o) => match o.get("msg") {
                Some(serde_json::Value::String(s)) => s.clone(),
                _ => item.to_string(),
            },
            other => other.to_string(),
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// The `deny` and `warn` messages of `files` on `input`.
pub fn evaluate(
    files: &[PolicyFile],
    input: &serde_json::Value,
) -> Result<(Vec<String>, Vec<String>), PolicyError> {
    let mut engine = engine(files)?;
    let input =
        regorus::Value::from_json_str(&input.to_string()).map_err(|e| located(&e, POLICY_DIR))?;
    engine.set_input(input);
    let deny = messages(&mut engine, "deny")?;
    let warn = messages(&mut engine, "warn")?;
    Ok((deny, warn))
}

/// Judge `plan` (made from `desired`) by the repository's policy: the verdicts go into the
/// plan and its digest is recomputed. A `deny` fails with every message
/// ([`PolicyError::Denied`]); without a policy the plan is left as it is.
pub fn judge(root: &Path, plan: &mut Plan, desired: &Desired) -> Result<(), PolicyError> {
    let Some(files) = read(root)? else {
        return Ok(());
    };
    let (deny, warn) = evaluate(&files, &input(plan, desired))?;
    if !deny.is_empty() {
        return Err(PolicyError::Denied { deny, warn });
    }
    plan.policy = Some(PolicyVerdicts {
        digest: digest(&files),
        files: file_digests(&files),
        deny,
        warn,
    });
    plan.digest = crate::core::digest::plan_digest(plan);
    Ok(())
}

/// Refuse a plan judged by another policy than the files hold now: each file changed,
/// added or removed since, by name. A plan without a policy block is fresh only while the
/// repository has no policy.
pub fn check_fresh(root: &Path, plan: &Plan) -> Result<(), PolicyError> {
    let now = read(root)?.unwrap_or_default();
    let current = file_digests(&now);
    let recorded = plan
        .policy
        .as_ref()
        .map(|p| p.files.clone())
        .unwrap_or_default();
    let mut changes = Vec::new();
    for (path, digest) in &recorded {
        match current.get(path) {
            None => changes.push(format!("`{path}` was removed")),
            Some(d) if d != digest => {
                changes.push(format!("`{path}` was edited (judged {digest}, now {d})"))
            }
            Some(_) => {}
        }
    }
    for path in current.keys().filter(|p| !recorded.contains_key(*p)) {
        changes.push(format!("`{path}` was added"));
    }
    if changes.is_empty()
        && let Some(p) = &plan.policy
        && p.digest != digest(&now)
    {
        changes.push(format!(
            "the policy's digest is {}, the plan was judged by {}",
            digest(&now),
            p.digest
        ));
    }
    if changes.is_empty() {
        Ok(())
    } else {
        Err(PolicyError::Stale { changes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> PolicyFile {
        PolicyFile {
            path: path.into(),
            text: text.into(),
        }
    }

    #[test]
    fn the_digest_frames_each_file_so_moving_bytes_between_files_changes_it() {
        let a = [file("a.rego", "xy"), file("b.rego", "z")];
        let b = [file("a.rego", "x"), file("b.rego", "yz")];
        assert_ne!(digest(&a), digest(&b));
        let reordered = [file("b.rego", "z"), file("a.rego", "xy")];
        assert_eq!(digest(&a), digest(&reordered));
    }

    #[test]
    fn deny_and_warn_are_sorted_sets_of_messages() {
        let files = [file(
            ".infra/policy/p.rego",
            "package sophia\n\ndeny contains msg if {\n  some n in input.names\n  msg := sprintf(\"no %s\", [n])\n}\n\nwarn contains {\"msg\": \"structured\"} if true\n",
        )];
        let input = serde_json::json!({"names": ["b", "a", "b"]});
        let (deny, warn) = evaluate(&files, &input).unwrap();
        assert_eq!(deny, ["no a", "no b"]);
        assert_eq!(warn, ["structured"]);
    }

    #[test]
    fn a_package_without_the_rules_says_nothing() {
        let files = [file(".infra/policy/p.rego", "package other\n\nx := 1\n")];
        assert_eq!(
            evaluate(&files, &serde_json::json!({})).unwrap(),
            (Vec::new(), Vec::new())
        );
    }

    #[test]
    fn a_syntax_error_names_file_line_and_column() {
        let files = [file(
            ".infra/policy/bad.rego",
            "package sophia\n\ndeny contains msg if {\n  msg := \"x\"\n  input.foo ==\n}\n",
        )];
        let e = evaluate(&files, &serde_json::json!({})).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(".infra/policy/bad.rego:6:1: expecting expression"),
            "unexpected: {text}"
        );
    }

    #[test]
    fn a_builtin_error_is_fatal_and_located() {
        let files = [file(
            ".infra/policy/p.rego",
            "package sophia\n\ndeny contains msg if {\n  msg := sprintf(\"%s\", input.x)\n}\n",
        )];
        let e = evaluate(&files, &serde_json::json!({"x": 1})).unwrap_err();
        assert!(
            e.to_string().starts_with(".infra/policy/p.rego:4:"),
            "unexpected: {e}"
        );
    }
}
