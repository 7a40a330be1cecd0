//! One desired file: YAML text → a [`Desired`] holding only what that file defines, with every
//! error located.
//!
//! The file is deserialized piece by piece (each provider section, each Fly app, each GitHub
//! repository) so that one mistake does not hide the others: every piece that fails gives its
//! own error, located through [`FileIndex`] from the path serde_path_to_error reports. Each
//! piece's subtree is dropped once deserialized, so the typed state grows as the tree
//! shrinks.

use serde::de::DeserializeOwned;

use super::locate::{FileIndex, Pos, display_path, path_key};
use super::model::*;
use super::node::Node;
use super::ruleset::OrgDesired;
use super::{LoadError, Source};

/// The top-level keys of a desired file.
pub fn top_level_keys() -> Vec<&'static str> {
    let mut keys = vec!["providers"];
    keys.extend(PROVIDERS);
    keys
}

/// What one file gave: its part of the desired state and its position index.
#[derive(Debug)]
pub struct ParsedFile {
    pub desired: Desired,
    pub index: FileIndex,
    /// Whether the file defines anything at all.
    pub empty: bool,
}

/// Errors of one file, with its path for locating them.
struct Ctx<'a> {
    source: &'a Source,
    index: &'a FileIndex,
    errors: &'a mut Vec<LoadError>,
}

impl Ctx<'_> {
    fn error_at(&mut self, pos: Pos, message: String, hint: Option<String>) {
        self.errors.push(LoadError {
            file: self.source.path.clone(),
            line: pos.line,
            column: pos.column,
            message,
            hint,
        });
    }

    fn key_pos(&self, segs: &[String]) -> Pos {
        self.index.key(&path_key(segs)).unwrap_or_default()
    }

    fn value_pos(&self, segs: &[String]) -> Pos {
        self.index.value(&path_key(segs)).unwrap_or_default()
    }

    /// An unknown key at `segs` (whose last segment is the key), with the keys expected there.
    fn unknown_key(&mut self, segs: &[String], expected: &[&str]) {
        let key = segs.last().map(String::as_str).unwrap_or_default();
        let pos = self.key_pos(segs);
        let (message, hint) = unknown_key_message(&segs[..segs.len() - 1], key, expected);
        self.error_at(pos, message, Some(hint));
    }

    /// Deserialize `value` (found at `base`) into `T`, locating a failure. When a mapping
    /// fails, each of its keys is tried alone so that every bad field is reported, not only
    /// the first.
    fn de<T: DeserializeOwned>(&mut self, value: Node, base: &[String]) -> Option<T> {
        // Most pieces deserialize: they pay no path tracking (serde_path_to_error copies
        // every key it passes). A failure is deserialized again below, with it, to find
        // where: the same input fails the same way.
        if let Ok(v) = T::deserialize(&value) {
            return Some(v);
        }
        let Node::Map(map) = &value else {
            return self.de_one(&value, base, false);
        };
        if map.len() < 2 {
            return self.de_one(&value, base, false);
        }
        let before = self.errors.len();
        let mut rest = map.clone();
        for (k, v) in map {
            let single = Node::Map(vec![(k.clone(), v.clone())]);
            let n = self.errors.len();
            self.de_one::<T>(&single, base, true);
            if self.errors.len() > n
                && let Some(i) = rest.iter().position(|(k2, _)| k2 == k)
            {
                // As serde_yaml's `Mapping::remove` does (the last entry takes its place).
                rest.swap_remove(i);
            }
        }
        if self.errors.len() == before {
            return self.de_one::<T>(&value, base, false);
        }
        // Keep what parsed, so that the later checks still see (and report on) the good
        // fields; the load fails anyway on the errors recorded.
        serde_path_to_error::deserialize::<_, T>(&Node::Map(rest)).ok()
    }

    /// Deserialize `value` at once; `partial` ignores missing fields (the value is one key
    /// of a larger mapping).
    fn de_one<T: DeserializeOwned>(
        &mut self,
        value: &Node,
        base: &[String],
        partial: bool,
    ) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(v) => Some(v),
            Err(e) => {
                if partial && e.inner().to_string().starts_with("missing field") {
                    return None;
                }
                let mut segs = base.to_vec();
                for seg in e.path().iter() {
                    use serde_path_to_error::Segment;
                    match seg {
                        Segment::Seq { index } => segs.push(index.to_string()),
                        Segment::Map { key } => segs.push(key.clone()),
                        Segment::Enum { .. } | Segment::Unknown => {}
                    }
                }
                let inner = e.into_inner().to_string();
                self.serde_error(segs, &inner);
                None
            }
        }
    }

    fn serde_error(&mut self, mut segs: Vec<String>, message: &str) {
        if let Some((bad, expected)) = parse_unknown(message, "unknown field `") {
            // serde_path_to_error stops at the mapping holding the unknown key.
            if segs.last() != Some(&bad) {
                segs.push(bad.clone());
            }
            let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
            self.unknown_key(&segs, &expected);
            return;
        }
        if let Some((bad, expected)) = parse_unknown(message, "unknown variant `") {
            let pos = self.value_pos(&segs);
            let list = backticked(&expected);
            let mut hint = format!("`{}` is one of {list}", display_path(&path_key(&segs)));
            if let Some(close) = did_you_mean(&bad, expected.iter().map(String::as_str)) {
                hint = format!("did you mean `{close}`? {hint}");
            }
            self.error_at(
                pos,
                format!(
                    "`{}`: unknown value `{bad}`",
                    display_path(&path_key(&segs))
                ),
                Some(hint),
            );
            return;
        }
        let pos = if message.starts_with("missing field") {
            self.key_pos(&segs)
        } else {
            self.value_pos(&segs)
        };
        let hint = if message.contains("expected a string") {
            Some("quote the value to make it a string, e.g. `\"1\"`".to_string())
        } else if message.starts_with("missing field") {
            Some("`sophia schema` prints every field and whether it is required".to_string())
        } else {
            None
        };
        let what = if segs.is_empty() {
            String::new()
        } else {
            format!("`{}`: ", display_path(&path_key(&segs)))
        };
        self.error_at(pos, format!("{what}{message}"), hint);
    }
}

/// The message and hint of an unknown key `key` under `parent`.
pub fn unknown_key_message(parent: &[String], key: &str, expected: &[&str]) -> (String, String) {
    let place = if parent.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in `{}`", display_path(&path_key(parent)))
    };
    let message = format!("unknown key `{key}` {place}");
    let list = backticked(expected);
    let hint = match did_you_mean(key, expected.iter().copied()) {
        Some(close) => format!("did you mean `{close}`? expected one of {list}"),
        None if expected.is_empty() => "no keys are allowed here".to_string(),
        None => format!("expected one of {list}"),
    };
    (message, hint)
}

/// The closest candidate to `bad`, when it is close enough to be a likely typo: at most one
/// edit (insertion, deletion, substitution or transposition) per three characters, at least
/// one; ties go to the higher Jaro-Winkler similarity. Case is ignored.
pub fn did_you_mean<'a>(bad: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let bad = bad.to_lowercase();
    candidates
        .filter_map(|c| {
            let lc = c.to_lowercase();
            let distance = strsim::damerau_levenshtein(&bad, &lc);
            let allowed = (lc.chars().count() / 3).max(1);
            (distance <= allowed).then(|| (distance, -strsim::jaro_winkler(&bad, &lc), c))
        })
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
        .map(|(_, _, c)| c)
}

fn backticked<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses serde's "unknown field `x`, expected one of `a`, `b`" (and the variant form) into
/// the bad name and the expected ones.
fn parse_unknown(message: &str, prefix: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix(prefix)?;
    let end = rest.find('`')?;
    let bad = rest[..end].to_string();
    let expected = rest[end + 1..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((bad, expected))
}

fn key_string(k: Node) -> String {
    match k {
        Node::String(s) => s,
        Node::Bool(b) => b.to_string(),
        Node::Number(n) => n.to_string(),
        Node::Null => "null".into(),
        _ => "<complex key>".into(),
    }
}

/// Parse one file. Errors go to `errors`; the returned part holds what parsed.
pub fn parse_file(source: &Source, errors: &mut Vec<LoadError>) -> Option<ParsedFile> {
    let (index, value) = match super::tree::parse(&source.text) {
        Ok(parsed) => parsed,
        Err(e) => {
            errors.push(LoadError {
                file: source.path.clone(),
                line: e.pos.line,
                column: e.pos.column,
                message: e.message,
                hint: Some(e.hint.unwrap_or_else(|| {
                    "check the indentation and the quoting around this place; \
                     a value holding `: ` or starting with `{`, `[`, `*` or `&` needs quotes"
                        .into()
                })),
            });
            return None;
        }
    };
    if !index.duplicates.is_empty() {
        // serde_yaml would refuse the file naming the second place only; name both.
        for dup in &index.duplicates {
            errors.push(LoadError {
                file: source.path.clone(),
                line: dup.second.line,
                column: dup.second.column,
                message: format!(
                    "`{}` is defined twice in this file; the first is at {}:{}:{}",
                    display_path(&dup.path),
                    source.path,
                    dup.first.line,
                    dup.first.column
                ),
                hint: Some("remove one of the two; a key may appear once in a mapping".into()),
            });
        }
        return None;
    }
    for big in &index.unsafe_integers {
        errors.push(LoadError {
            file: source.path.clone(),
            line: big.pos.line,
            column: big.pos.column,
            message: format!(
                "`{}`: the integer {} is outside ±(2^53 − 1) = ±{}",
                display_path(&big.path),
                big.text,
                crate::core::number::MAX_SAFE_INTEGER
            ),
            hint: Some(
                "plan digests (RFC 8785) read numbers as doubles, which hold integers exactly \
                 only up to 2^53 − 1: a larger one would be rounded, and two plans could share \
                 one digest; quote it if the field takes a string"
                    .into(),
            ),
        });
    }
    let mut ctx = Ctx {
        source,
        index: &index,
        errors,
    };
    let mut desired = Desired::default();
    let top = match value {
        Node::Null => {
            return Some(ParsedFile {
                desired,
                index,
                empty: true,
            });
        }
        Node::Map(m) => m,
        other => {
            ctx.error_at(
                Pos { line: 1, column: 1 },
                format!(
                    "expected a mapping of provider sections, found {}",
                    kind(&other)
                ),
                Some(format!(
                    "top-level keys are {}",
                    backticked(&top_level_keys())
                )),
            );
            return None;
        }
    };
    let empty = top.is_empty();
    for (k, v) in top {
        let key = key_string(k);
        let segs = vec![key.clone()];
        match key.as_str() {
            "providers" => parse_providers(&mut ctx, v, &mut desired),
            "fly" => desired.fly = parse_fly(&mut ctx, v),
            "github" => desired.github = parse_github(&mut ctx, v),
            "router" => desired.router = ctx.de(v, &segs),
            "research" => desired.research = ctx.de(v, &segs),
            "context_db" => desired.context_db = ctx.de(v, &segs),
            "qdrant" => desired.qdrant = ctx.de(v, &segs),
            "mem0" => desired.mem0 = ctx.de(v, &segs),
            "redis" => desired.redis = ctx.de(v, &segs),
            "slack" => desired.slack = ctx.de(v, &segs),
            "gong" => desired.gong = ctx.de(v, &segs),
            "lambda" => desired.lambda = ctx.de(v, &segs),
            _ => ctx.unknown_key(&segs, &top_level_keys()),
        }
    }
    Some(ParsedFile {
        desired,
        index,
        empty,
    })
}

fn kind(v: &Node) -> &'static str {
    match v {
        Node::Null => "nothing",
        Node::Bool(_) => "a boolean",
        Node::Number(_) => "a number",
        Node::String(_) => "a string",
        Node::Seq(_) => "a list",
        Node::Map(_) => "a mapping",
    }
}

/// The entries of a mapping at `segs`, or an error saying a mapping was expected. `null`
/// counts as an empty mapping. Each entry is moved out in turn: a piece's subtree is freed
/// once the piece is deserialized.
fn mapping(
    ctx: &mut Ctx<'_>,
    v: Node,
    segs: &[String],
) -> Option<impl Iterator<Item = (String, Node)> + use<>> {
    let entries = match v {
        Node::Null => Vec::new(),
        Node::Map(m) => m,
        other => {
            let pos = ctx.value_pos(segs);
            ctx.error_at(
                pos,
                format!(
                    "`{}`: expected a mapping, found {}",
                    display_path(&path_key(segs)),
                    kind(&other)
                ),
                None,
            );
            return None;
        }
    };
    Some(entries.into_iter().map(|(k, v)| (key_string(k), v)))
}

fn parse_providers(ctx: &mut Ctx<'_>, v: Node, desired: &mut Desired) {
    let base = vec!["providers".to_string()];
    let Some(entries) = mapping(ctx, v, &base) else {
        return;
    };
    for (name, value) in entries {
        let segs = vec!["providers".to_string(), name.clone()];
        let Some(p) = ProviderName::parse(&name) else {
            ctx.unknown_key(&segs, &PROVIDERS);
            continue;
        };
        if let Some(a) = ctx.de::<Activation>(value, &segs) {
            desired.providers.insert(p, a);
        }
    }
}

fn parse_fly(ctx: &mut Ctx<'_>, v: Node) -> Option<FlyDesired> {
    let base = vec!["fly".to_string()];
    let entries = mapping(ctx, v, &base)?;
    let mut fly = FlyDesired::default();
    for (key, value) in entries {
        let segs = vec!["fly".to_string(), key.clone()];
        match key.as_str() {
            "org" => fly.org = ctx.de(value, &segs),
            "apps" => {
                for (name, app) in mapping(ctx, value, &segs).into_iter().flatten() {
                    let app_segs = vec!["fly".into(), "apps".into(), name.clone()];
                    // `app: ~` is an app with every field unset.
                    let app = if app.is_null() {
                        Some(FlyApp::default())
                    } else {
                        ctx.de::<FlyApp>(app, &app_segs)
                    };
                    if let Some(app) = app {
                        fly.apps.insert(name, app);
                    }
                }
            }
            _ => ctx.unknown_key(&segs, &["org", "apps"]),
        }
    }
    Some(fly)
}

fn parse_github(ctx: &mut Ctx<'_>, v: Node) -> Option<GithubDesired> {
    let base = vec!["github".to_string()];
    let entries = mapping(ctx, v, &base)?;
    let mut github = GithubDesired::default();
    for (key, value) in entries {
        let segs = vec!["github".to_string(), key.clone()];
        match key.as_str() {
            "repos" => {
                for (name, repo) in mapping(ctx, value, &segs).into_iter().flatten() {
                    let repo_segs = vec!["github".into(), "repos".into(), name.clone()];
                    let repo = if repo.is_null() {
                        Some(RepoDesired::default())
                    } else {
                        ctx.de::<RepoDesired>(repo, &repo_segs)
                    };
                    if let Some(repo) = repo {
                        github.repos.insert(name, repo);
                    }
                }
            }
            "orgs" => {
                for (name, org) in mapping(ctx, value, &segs).into_iter().flatten() {
                    let org_segs = vec!["github".into(), "orgs".into(), name.clone()];
                    let org = if org.is_null() {
                        Some(OrgDesired::default())
                    } else {
                        ctx.de::<OrgDesired>(org, &org_segs)
                    };
                    if let Some(org) = org {
                        github.orgs.insert(name, org);
                    }
                }
            }
            _ => ctx.unknown_key(&segs, &["orgs", "repos"]),
        }
    }
    Some(github)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_finds_typos_and_ignores_unrelated_keys() {
        let keys = [
            "image", "config", "regions", "secrets", "health", "strategy",
        ];
        assert_eq!(did_you_mean("imgae", keys.into_iter()), Some("image"));
        assert_eq!(did_you_mean("region", keys.into_iter()), Some("regions"));
        assert_eq!(did_you_mean("Secrets", keys.into_iter()), Some("secrets"));
        assert_eq!(did_you_mean("xyz", keys.into_iter()), None);
    }

    #[test]
    fn parses_serde_unknown_messages() {
        assert_eq!(
            parse_unknown(
                "unknown field `imgae`, expected one of `image`, `config`",
                "unknown field `"
            ),
            Some(("imgae".into(), vec!["image".into(), "config".into()]))
        );
        assert_eq!(
            parse_unknown(
                "unknown variant `x`, expected `a` or `b`",
                "unknown variant `"
            ),
            Some(("x".into(), vec!["a".into(), "b".into()]))
        );
    }
}
