//! Naming rules: what each service accepts as a name, checked the same way wherever a name
//! comes in (desired files, `op` payloads, the secrets map).
//!
//! The rules follow each service's own (GitHub logins, repositories, branches as
//! `git check-ref-format`, environment and secret names; Fly app, organization and region
//! names; PostgreSQL identifiers; Qdrant collections; Redis config keys), with one addition
//! that keeps resource addresses unambiguous (see [`crate::core::address`]): a repository
//! name may not hold `branch`, `secret` or `environment` as a dot-separated part after its
//! first, since `github.repo.o/r.environment.e.secret.A` could otherwise be an environment
//! `e.secret.A` of `o/r` or a secret `A` of a repository `r.environment.e`.

/// A naming rule, with its check and the hint shown when a name breaks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    FlyName,
    OwnerRepo,
    Login,
    TeamSlug,
    Branch,
    SecretName,
    ActionsSecretName,
    EnvKey,
    Region,
    QdrantCollection,
    RedisConfigKey,
    PgIdent,
    EnvironmentName,
    RulesetName,
    Topic,
    SlackChannel,
    Image,
    RelativePath,
}

impl Rule {
    pub fn check(self, s: &str) -> Result<(), String> {
        match self {
            Rule::FlyName => fly_name(s),
            Rule::OwnerRepo => owner_repo(s),
            Rule::Login => github_login(s),
            Rule::TeamSlug => team_slug(s),
            Rule::Branch => branch_name(s),
            Rule::SecretName => secret_name(s),
            Rule::ActionsSecretName => {
                secret_name(s)?;
                if s.starts_with("GITHUB_") {
                    return Err("the `GITHUB_` prefix is reserved by GitHub".into());
                }
                Ok(())
            }
            Rule::EnvKey => env_key(s),
            Rule::Region => region(s),
            Rule::QdrantCollection => qdrant_collection(s),
            Rule::RedisConfigKey => redis_config_key(s),
            Rule::PgIdent => pg_ident(s),
            Rule::EnvironmentName => environment_name(s),
            Rule::RulesetName => environment_name(s),
            Rule::Topic => topic(s),
            Rule::SlackChannel => slack_channel(s),
            Rule::Image => image(s),
            Rule::RelativePath => relative_path(s),
        }
    }

    pub fn hint(self) -> &'static str {
        match self {
            Rule::FlyName => {
                "Fly names are 2 to 63 characters of `a-z`, `0-9` and `-`, starting with a letter \
                 or digit and not ending with `-`, e.g. `sophiaai-dashboard-v2`"
            }
            Rule::OwnerRepo => {
                "write `owner/repo`: the owner is 1 to 39 letters, digits or single inner `-`; \
                 the repository is up to 100 of letters, digits, `.`, `-` and `_`"
            }
            Rule::Login => {
                "GitHub logins are 1 to 39 letters, digits or single inner `-`, e.g. `the-ceo`"
            }
            Rule::TeamSlug => "team slugs are lowercase letters, digits, `-` and `_`",
            Rule::Branch => {
                "branch names follow `git check-ref-format --branch`: no spaces, `..`, `~`, `^`, \
                 `:`, `?`, `*`, `[`, `\\`, `@{`, no leading `-` or `.`, no trailing `/`, `.` or \
                 `.lock`"
            }
            Rule::SecretName | Rule::ActionsSecretName => {
                "secret names are environment-variable names: `A-Z`, `0-9` and `_`, not starting \
                 with a digit (GitHub also reserves the `GITHUB_` prefix for Actions secrets), \
                 e.g. `NEON_DATABASE_URL`"
            }
            Rule::EnvKey => {
                "environment variable names are letters, digits and `_`, not starting with a \
                 digit, e.g. `LOG_LEVEL`"
            }
            Rule::Region => "Fly regions are three lowercase letters, e.g. `ord`, `iad`, `sea`",
            Rule::QdrantCollection => {
                "Qdrant collection names are 1 to 255 characters without `/`, `\\`, `<`, `>`, \
                 `:`, `\"`, `|`, `?`, `*` or control characters"
            }
            Rule::RedisConfigKey => {
                "Redis config keys are lowercase words joined by `-`, e.g. `maxmemory-policy`"
            }
            Rule::PgIdent => {
                "PostgreSQL names here are up to 63 of `a-z`, `0-9` and `_`, not starting with a \
                 digit, e.g. `pg_trgm`"
            }
            Rule::EnvironmentName => {
                "GitHub environment names are 1 to 255 characters without control characters \
                 (`/` and spaces are fine), e.g. `production` or `test/env`"
            }
            Rule::RulesetName => {
                "ruleset names are 1 to 255 characters without control characters, e.g. \
                 `protect-main`"
            }
            Rule::Topic => {
                "GitHub topics are up to 50 lowercase letters, digits and `-`, starting with a \
                 letter or digit, e.g. `infra`"
            }
            Rule::SlackChannel => "write the channel as `#name` or its ID, e.g. `#infra`",
            Rule::Image => {
                "write an image reference without spaces, e.g. \
                 `registry.fly.io/sophiaai-dashboard-v2:deployment-01`"
            }
            Rule::RelativePath => {
                "write the path relative to the repository root, inside it, e.g. \
                 `apps/dashboard/fly.toml`"
            }
        }
    }
}

/// The largest GitHub login (user or organization).
const MAX_LOGIN: usize = 39;
/// The largest GitHub repository name.
const MAX_REPO: usize = 100;
/// DNS label limit, which Fly app names (`<app>.fly.dev`) must fit.
const MAX_FLY_NAME: usize = 63;
/// PostgreSQL truncates identifiers beyond NAMEDATALEN - 1 = 63 bytes.
const MAX_PG_IDENT: usize = 63;
/// Qdrant's limit on collection names.
const MAX_QDRANT_NAME: usize = 255;
/// GitHub's limit on environment names.
const MAX_ENV_NAME: usize = 255;

fn characters(s: &str) -> String {
    match s.chars().count() {
        1 => "1 character".to_string(),
        n => format!("{n} characters"),
    }
}

pub fn fly_name(s: &str) -> Result<(), String> {
    if !(2..=MAX_FLY_NAME).contains(&s.len()) {
        return Err(format!(
            "{} characters, expected 2 to 63",
            s.chars().count()
        ));
    }
    if let Some(ch) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "`{ch}` is not allowed; only lowercase letters, digits and `-` are"
        ));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("it starts or ends with `-`".into());
    }
    Ok(())
}

pub fn github_login(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_LOGIN {
        return Err(format!(
            "{} characters, expected 1 to 39",
            s.chars().count()
        ));
    }
    if let Some(ch) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(format!("`{ch}` is not allowed"));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("it starts or ends with `-`".into());
    }
    if s.contains("--") {
        return Err("it holds `--`".into());
    }
    Ok(())
}

pub fn owner_repo(s: &str) -> Result<(), String> {
    let Some((owner, repo)) = s.split_once('/') else {
        return Err("expected `owner/repo`".into());
    };
    github_login(owner).map_err(|e| format!("owner `{owner}`: {e}"))?;
    if repo.is_empty() || repo.len() > MAX_REPO {
        return Err(format!(
            "repository `{repo}`: {}, expected 1 to 100",
            characters(repo)
        ));
    }
    if let Some(ch) = repo
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(format!("repository `{repo}`: `{ch}` is not allowed"));
    }
    if repo == "." || repo == ".." {
        return Err(format!("repository `{repo}` is reserved"));
    }
    if repo.to_ascii_lowercase().ends_with(".git") {
        return Err(format!("repository `{repo}` ends with `.git`"));
    }
    if let Some(word) = repo
        .split('.')
        .skip(1)
        .find(|part| ADDRESS_KEYWORDS.contains(part))
    {
        return Err(format!(
            "repository `{repo}` holds `.{word}`, which separates the parts of a resource \
             address (`github.repo.{s}.…` would be ambiguous)"
        ));
    }
    Ok(())
}

/// The words that follow the repository in a GitHub resource address
/// (`github.repo.<owner>/<repo>.<word>.…`): a repository name holding one as a dot-separated
/// part would make two resources share an address, so such names are refused. GitHub allows
/// them, but they are rare (no repository of Sophia's organization is near one), and quoting
/// every address instead would change the address format that plans, `--target` and the
/// journal share.
pub const ADDRESS_KEYWORDS: [&str; 8] = [
    "branch",
    "secret",
    "environment",
    "ruleset",
    "settings",
    "collaborator",
    "team",
    "variable",
];

pub fn team_slug(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if let Some(ch) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_')))
    {
        return Err(format!("`{ch}` is not allowed"));
    }
    Ok(())
}

/// `git check-ref-format --branch` rules for `refs/heads/<s>`.
pub fn branch_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if s == "@" {
        return Err("`@` alone is not a branch name".into());
    }
    if s.starts_with('-') {
        return Err("it starts with `-`".into());
    }
    if let Some(ch) = s.chars().find(|c| {
        c.is_ascii_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
    }) {
        return Err(format!("{:?} is not allowed", ch));
    }
    if s.contains("..") {
        return Err("it holds `..`".into());
    }
    if s.contains("@{") {
        return Err("it holds `@{`".into());
    }
    if s.ends_with('/') || s.starts_with('/') || s.contains("//") {
        return Err("it has an empty `/` component".into());
    }
    if s.ends_with('.') {
        return Err("it ends with `.`".into());
    }
    for comp in s.split('/') {
        if comp.starts_with('.') {
            return Err(format!("component `{comp}` starts with `.`"));
        }
        if comp.ends_with(".lock") {
            return Err(format!("component `{comp}` ends with `.lock`"));
        }
    }
    Ok(())
}

pub fn secret_name(s: &str) -> Result<(), String> {
    let mut chars = s.chars();
    match chars.next() {
        None => return Err("it is empty".into()),
        Some(c) if !(c.is_ascii_uppercase() || c == '_') => {
            return Err(format!("it starts with `{c}`; expected `A-Z` or `_`"));
        }
        _ => {}
    }
    if let Some(ch) = chars.find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')) {
        return Err(format!(
            "`{ch}` is not allowed; only `A-Z`, `0-9` and `_` are"
        ));
    }
    Ok(())
}

pub fn env_key(s: &str) -> Result<(), String> {
    let mut chars = s.chars();
    match chars.next() {
        None => return Err("it is empty".into()),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return Err(format!("it starts with `{c}`"));
        }
        _ => {}
    }
    if let Some(ch) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(format!("`{ch}` is not allowed"));
    }
    Ok(())
}

pub fn region(s: &str) -> Result<(), String> {
    if s.len() == 3 && s.chars().all(|c| c.is_ascii_lowercase()) {
        Ok(())
    } else {
        Err("expected three lowercase letters".into())
    }
}

pub fn qdrant_collection(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_QDRANT_NAME {
        return Err("expected 1 to 255 characters".into());
    }
    if let Some(ch) = s.chars().find(|c| {
        c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*')
    }) {
        return Err(format!("{ch:?} is not allowed"));
    }
    Ok(())
}

pub fn redis_config_key(s: &str) -> Result<(), String> {
    let ok = s.split('-').all(|w| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    }) && s.starts_with(|c: char| c.is_ascii_lowercase());
    if ok {
        Ok(())
    } else {
        Err("expected lowercase words joined by `-`".into())
    }
}

pub fn pg_ident(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= MAX_PG_IDENT
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err("expected up to 63 of `a-z`, `0-9` and `_`".into())
    }
}

/// Every name GitHub accepts for an environment (it creates `test/env`, `QA 2`, `prod.eu`):
/// 1 to 255 characters, not only spaces, no control characters. Paths carry it as one
/// percent-encoded segment (`test%2Fenv`), as the providers' HTTP layer builds every path.
pub fn environment_name(s: &str) -> Result<(), String> {
    if s.trim().is_empty() || s.chars().count() > MAX_ENV_NAME {
        return Err("expected 1 to 255 characters".into());
    }
    if let Some(ch) = s.chars().find(|c| c.is_control()) {
        return Err(format!("{ch:?} is not allowed"));
    }
    Ok(())
}

/// A GitHub topic: 1 to 50 of `a-z`, `0-9` and `-`, not starting with `-`.
pub fn topic(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 50
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err("expected 1 to 50 of `a-z`, `0-9` and `-`, not starting with `-`".into())
    }
}

pub fn slack_channel(s: &str) -> Result<(), String> {
    let named = s.strip_prefix('#').is_some_and(|n| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
    });
    let id = s.len() >= 9
        && s.starts_with(['C', 'G'])
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if named || id {
        Ok(())
    } else {
        Err("expected `#name` (lowercase) or a channel ID".into())
    }
}

pub fn image(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if s.chars().any(char::is_whitespace) {
        return Err("it holds whitespace".into());
    }
    Ok(())
}

/// A path relative to the repository root that cannot leave it (lexically; the shell also
/// checks symbolic links).
pub fn relative_path(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if s.starts_with('/') || s.starts_with('\\') || s.get(1..2) == Some(":") {
        return Err("it is absolute".into());
    }
    let mut depth: i64 = 0;
    for comp in s.split(['/', '\\']) {
        match comp {
            "" | "." => {}
            ".." => depth -= 1,
            _ => depth += 1,
        }
        if depth < 0 {
            return Err("it leaves the repository root".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fly_names() {
        assert!(fly_name("sophiaai-dashboard-v2").is_ok());
        assert!(fly_name("a").is_err());
        assert!(fly_name("Dash").is_err());
        assert!(fly_name("dash_board").is_err());
        assert!(fly_name("-dash").is_err());
        assert!(fly_name(&"a".repeat(64)).is_err());
        assert!(fly_name(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn repos_and_logins() {
        assert!(owner_repo("ai-cherry/sophia-intel-ai").is_ok());
        assert!(owner_repo("ai-cherry/x.y_z").is_ok());
        assert!(owner_repo("ai-cherry").is_err());
        assert!(owner_repo("-x/y").is_err());
        assert!(owner_repo("a/b/c").is_err());
        assert!(owner_repo("a/..").is_err());
        assert!(owner_repo("a/b.git").is_err());
        // Address keywords as a dot-separated part after the first (finding 10).
        assert!(owner_repo("o/r.environment.e").is_err());
        assert!(owner_repo("o/r.secret").is_err());
        assert!(owner_repo("o/x.branch.y").is_err());
        assert!(owner_repo("o/secret.r").is_ok());
        assert!(owner_repo("o/x.github.io").is_ok());
        assert!(owner_repo("o/r.environments").is_ok());
        assert!(github_login("the-ceo").is_ok());
        assert!(github_login("the--ceo").is_err());
        assert!(github_login(&"a".repeat(40)).is_err());
    }

    #[test]
    fn branches_follow_check_ref_format() {
        for ok in ["main", "release/1.2", "feature/x-y", "v1", "a@b"] {
            assert!(branch_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "@",
            "-x",
            "a..b",
            "a b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[",
            "a\\b",
            "x@{1}",
            "a/",
            "/a",
            "a//b",
            "a.",
            ".a",
            "a/.b",
            "a.lock",
            "a/b.lock/c",
        ] {
            assert!(branch_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secret_and_env_names() {
        assert!(secret_name("NEON_DATABASE_URL").is_ok());
        assert!(secret_name("_X1").is_ok());
        assert!(secret_name("1X").is_err());
        assert!(secret_name("lower").is_err());
        assert!(secret_name("A-B").is_err());
        assert!(Rule::ActionsSecretName.check("GITHUB_TOKEN").is_err());
        assert!(Rule::ActionsSecretName.check("FLY_API_TOKEN").is_ok());
        assert!(env_key("log_level").is_ok());
        assert!(env_key("LOG-LEVEL").is_err());
        // GitHub creates all of these (PyGithub's replay data names `test/env`).
        for ok in ["production", "test/env", "QA 2", "prod.eu", "a/b/c"] {
            assert!(environment_name(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", "   ", "a\nb", "a\u{7}"] {
            assert!(environment_name(bad).is_err(), "{bad:?}");
        }
        assert!(environment_name(&"e".repeat(255)).is_ok());
        assert!(environment_name(&"e".repeat(256)).is_err());
    }

    #[test]
    fn other_names() {
        assert!(region("ord").is_ok());
        assert!(region("ORD").is_err());
        assert!(region("ordx").is_err());
        assert!(qdrant_collection("context_chunks").is_ok());
        assert!(qdrant_collection("a/b").is_err());
        assert!(redis_config_key("maxmemory-policy").is_ok());
        assert!(redis_config_key("maxmemory_policy").is_err());
        assert!(redis_config_key("-x").is_err());
        assert!(pg_ident("pg_trgm").is_ok());
        assert!(pg_ident("Pg").is_err());
        assert!(slack_channel("#infra").is_ok());
        assert!(slack_channel("C0123456789").is_ok());
        assert!(slack_channel("infra").is_err());
        assert!(relative_path("apps/x/fly.toml").is_ok());
        assert!(relative_path("apps/../fly.toml").is_ok());
        assert!(relative_path("../fly.toml").is_err());
        assert!(relative_path("a/../../fly.toml").is_err());
        assert!(relative_path("/etc/fly.toml").is_err());
    }
}
