//! Semantic checks of the merged desired state: names (Fly apps, repositories, branches,
//! secrets, environment variables, regions, logins, collections, Redis keys), references
//! (`depends_on`) and limits (six reviewers). Every error is located through [`Locator`].
//!
//! The name rules are public so other parts (the `op` front door's payloads) check names the
//! same way.

use std::collections::{BTreeSet, HashMap};

use super::LoadError;
use super::locate::{Entry, FileIndex, Pos, path_key};
use super::model::*;

/// Finds the file and position of a path in the merged state: the first file that defines
/// it, else the nearest ancestor.
pub struct Locator<'a> {
    pub files: Vec<(&'a str, &'a FileIndex)>,
}

/// A file and a position in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: String,
    pub pos: Pos,
}

impl Locator<'_> {
    fn find(&self, segs: &[&str]) -> Option<(&str, Entry)> {
        let mut n = segs.len();
        while n > 0 {
            let key = path_key(&segs[..n]);
            for (file, idx) in &self.files {
                if let Some(e) = idx.entries.get(&key) {
                    return Some((file, *e));
                }
            }
            n -= 1;
        }
        None
    }

    /// Where the key at `segs` is.
    pub fn key(&self, segs: &[&str]) -> Loc {
        self.find(segs).map_or_else(
            || Loc {
                file: self.files.first().map_or("desired/", |f| f.0).to_string(),
                pos: Pos::default(),
            },
            |(file, e)| Loc {
                file: file.to_string(),
                pos: e.key,
            },
        )
    }

    /// Where the value at `segs` is (its key's position if it is not indexed itself).
    pub fn value(&self, segs: &[&str]) -> Loc {
        let exact = path_key(segs);
        for (file, idx) in &self.files {
            if let Some(e) = idx.entries.get(&exact) {
                return Loc {
                    file: file.to_string(),
                    pos: e.value,
                };
            }
        }
        self.key(segs)
    }
}

struct Checker<'a, 'b> {
    loc: &'a Locator<'b>,
    errors: Vec<LoadError>,
}

impl Checker<'_, '_> {
    fn push(&mut self, at: Loc, message: String, hint: impl Into<String>) {
        self.errors.push(LoadError {
            file: at.file,
            line: at.pos.line,
            column: at.pos.column,
            message,
            hint: Some(hint.into()),
        });
    }

    /// Check a name that is a mapping key at `segs`.
    fn key_name(&mut self, segs: &[&str], what: &str, rule: Rule) {
        let name = segs.last().copied().unwrap_or_default();
        if let Err(reason) = rule.check(name) {
            let at = self.loc.key(segs);
            self.push(
                at,
                format!("invalid {what} `{name}`: {reason}"),
                rule.hint(),
            );
        }
    }

    /// Check names in a list at `segs`, and that none repeats.
    fn list_names(&mut self, segs: &[&str], names: &[String], what: &str, rule: Rule) {
        let mut seen = BTreeSet::new();
        for (i, name) in names.iter().enumerate() {
            let i = i.to_string();
            let item = [segs, &[i.as_str()]].concat();
            if let Err(reason) = rule.check(name) {
                let at = self.loc.value(&item);
                self.push(
                    at,
                    format!("invalid {what} `{name}`: {reason}"),
                    rule.hint(),
                );
            }
            if !seen.insert(name.as_str()) {
                let at = self.loc.value(&item);
                self.push(
                    at,
                    format!("{what} `{name}` is listed twice"),
                    "remove the repeated entry",
                );
            }
        }
    }

    /// Check a value against a rule at `segs`.
    fn value_name(&mut self, segs: &[&str], value: &str, what: &str, rule: Rule) {
        if let Err(reason) = rule.check(value) {
            let at = self.loc.value(segs);
            self.push(
                at,
                format!("invalid {what} `{value}`: {reason}"),
                rule.hint(),
            );
        }
    }
}

/// Validate the merged state; errors are returned unsorted.
pub fn validate(d: &Desired, loc: &Locator<'_>) -> Vec<LoadError> {
    let mut c = Checker {
        loc,
        errors: Vec::new(),
    };
    if let Some(fly) = &d.fly {
        check_fly(&mut c, fly);
    }
    if let Some(gh) = &d.github {
        check_github(&mut c, gh);
    }
    if let Some(r) = &d.router {
        check_known(
            &mut c,
            &["router", "primary"],
            std::slice::from_ref(&r.primary),
            &ROUTER_GATEWAYS,
            "router gateway",
            false,
        );
        check_known(
            &mut c,
            &["router", "fallbacks"],
            &r.fallbacks,
            &ROUTER_FALLBACKS,
            "router fallback",
            true,
        );
    }
    if let Some(r) = &d.research {
        check_known(
            &mut c,
            &["research", "providers"],
            &r.providers,
            &RESEARCH_PROVIDERS,
            "research provider",
            true,
        );
    }
    if let Some(db) = &d.context_db {
        c.list_names(
            &["context_db", "extensions"],
            &db.extensions,
            "PostgreSQL extension",
            Rule::PgIdent,
        );
        c.list_names(
            &["context_db", "schemas"],
            &db.schemas,
            "PostgreSQL schema",
            Rule::PgIdent,
        );
    }
    if let Some(q) = &d.qdrant {
        for (name, coll) in &q.collections {
            let segs = ["qdrant", "collections", name.as_str()];
            c.key_name(&segs, "Qdrant collection name", Rule::QdrantCollection);
            if !(1..=MAX_QDRANT_DIM).contains(&coll.size) {
                let at = loc.value(&[&segs[..], &["size"]].concat());
                c.push(
                    at,
                    format!(
                        "Qdrant collection `{name}`: vector size {} is out of range",
                        coll.size
                    ),
                    format!("Qdrant vectors have 1 to {MAX_QDRANT_DIM} dimensions"),
                );
            }
        }
    }
    if let Some(r) = &d.redis {
        for key in r.config.keys() {
            c.key_name(
                &["redis", "config", key],
                "Redis config key",
                Rule::RedisConfigKey,
            );
        }
    }
    if let Some(s) = &d.slack
        && let Some(ch) = &s.notify_channel
    {
        c.value_name(
            &["slack", "notify_channel"],
            ch,
            "Slack channel",
            Rule::SlackChannel,
        );
    }
    c.errors
}

/// Qdrant's largest vector dimension (its documented limit is 65,536).
const MAX_QDRANT_DIM: u64 = 65_536;
/// GitHub refuses more than six required reviewers on an environment.
const MAX_REVIEWERS: usize = 6;
/// GitHub allows 0 to 6 required approving reviews on a branch.
const MAX_APPROVING_REVIEWS: u32 = 6;
/// The LLM gateways `sophia` knows how to check (the original router's primary).
pub const ROUTER_GATEWAYS: [&str; 1] = ["portkey"];
/// The backup providers of the original router, each with its key in the secrets map.
pub const ROUTER_FALLBACKS: [&str; 5] = ["openai", "anthropic", "openrouter", "groq", "deepseek"];
/// The research backends of the original control plane.
pub const RESEARCH_PROVIDERS: [&str; 2] = ["tavily", "serper"];
/// Fly guest CPU counts (shared-cpu-Nx and performance-Nx sizes).
const FLY_CPUS: [u32; 5] = [1, 2, 4, 8, 16];
/// Fly allocates memory in steps of 256 MB, from 256 MB.
const FLY_MEMORY_STEP_MB: u32 = 256;

fn check_known(
    c: &mut Checker<'_, '_>,
    segs: &[&str],
    values: &[String],
    known: &[&str],
    what: &str,
    is_list: bool,
) {
    let mut seen = BTreeSet::new();
    for (i, v) in values.iter().enumerate() {
        let i = i.to_string();
        let item: Vec<&str> = if is_list {
            [segs, &[i.as_str()]].concat()
        } else {
            segs.to_vec()
        };
        if !known.contains(&v.as_str()) {
            let list = known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let hint = match super::parse::did_you_mean(v, known.iter().copied()) {
                Some(close) => format!("did you mean `{close}`? known: {list}"),
                None => format!("known: {list}"),
            };
            c.push(c.loc.value(&item), format!("unknown {what} `{v}`"), hint);
        }
        if !seen.insert(v.as_str()) {
            c.push(
                c.loc.value(&item),
                format!("{what} `{v}` is listed twice"),
                "remove the repeated entry",
            );
        }
    }
}

fn check_fly(c: &mut Checker<'_, '_>, fly: &FlyDesired) {
    if let Some(org) = &fly.org {
        c.value_name(&["fly", "org"], org, "Fly organization slug", Rule::FlyName);
    }
    for (name, app) in &fly.apps {
        let base = ["fly", "apps", name.as_str()];
        c.key_name(&base, "Fly app name", Rule::FlyName);
        if let Some(image) = &app.image {
            c.value_name(
                &join(&base, &["image"]),
                image,
                "image reference",
                Rule::Image,
            );
        }
        if let Some(config) = &app.config {
            c.value_name(
                &join(&base, &["config"]),
                config,
                "config path",
                Rule::RelativePath,
            );
        }
        if let Some(r) = &app.primary_region {
            c.value_name(&join(&base, &["primary_region"]), r, "region", Rule::Region);
        }
        if let Some(regions) = &app.regions {
            c.list_names(&join(&base, &["regions"]), regions, "region", Rule::Region);
        }
        if let Some(g) = &app.guest {
            if !FLY_CPUS.contains(&g.cpus) {
                c.push(
                    c.loc.value(&join(&base, &["guest", "cpus"])),
                    format!("app `{name}`: {} CPUs is not a Fly guest size", g.cpus),
                    "Fly guests have 1, 2, 4, 8 or 16 CPUs",
                );
            }
            if g.memory_mb < FLY_MEMORY_STEP_MB || g.memory_mb % FLY_MEMORY_STEP_MB != 0 {
                c.push(
                    c.loc.value(&join(&base, &["guest", "memory_mb"])),
                    format!(
                        "app `{name}`: memory_mb {} is not a multiple of {FLY_MEMORY_STEP_MB}",
                        g.memory_mb
                    ),
                    "Fly allocates memory in steps of 256 MB, e.g. 256, 512, 1024, 2048",
                );
            }
        }
        let secrets = app.secrets.as_deref().unwrap_or_default();
        c.list_names(
            &join(&base, &["secrets"]),
            secrets,
            "secret name",
            Rule::SecretName,
        );
        if let Some(env) = &app.env {
            for key in env.keys() {
                c.key_name(
                    &join(&base, &["env", key]),
                    "environment variable",
                    Rule::EnvKey,
                );
                if secrets.contains(key) {
                    c.push(
                        c.loc.key(&join(&base, &["env", key])),
                        format!("app `{name}`: `{key}` is both an env variable and a secret"),
                        "Fly refuses an env variable with the name of a secret; keep one",
                    );
                }
            }
        }
        if let Some(h) = &app.health {
            if !h.path.starts_with('/') {
                c.push(
                    c.loc.value(&join(&base, &["health", "path"])),
                    format!(
                        "app `{name}`: health path `{}` does not start with `/`",
                        h.path
                    ),
                    format!("write it as an absolute HTTP path, e.g. `/{}`", h.path),
                );
            }
            if h.port == Some(0) {
                c.push(
                    c.loc.value(&join(&base, &["health", "port"])),
                    format!("app `{name}`: health port 0 is not a port"),
                    "use the port the app listens on, e.g. 8080",
                );
            }
            if !(100..=599).contains(&h.expect_status) {
                c.push(
                    c.loc.value(&join(&base, &["health", "expect_status"])),
                    format!(
                        "app `{name}`: {} is not an HTTP status code",
                        h.expect_status
                    ),
                    "HTTP status codes are 100 to 599; health checks usually expect 200",
                );
            }
        }
        let mut seen = BTreeSet::new();
        for (i, dep) in app.depends_on.iter().enumerate() {
            let i = i.to_string();
            let here = c.loc.value(&join(&base, &["depends_on", &i]));
            if dep == name {
                c.push(
                    here,
                    format!("app `{name}` depends on itself"),
                    "remove it from its own `depends_on`",
                );
            } else if !fly.apps.contains_key(dep) {
                let hint =
                    match super::parse::did_you_mean(dep, fly.apps.keys().map(String::as_str)) {
                        Some(close) => format!(
                            "did you mean `{close}`? `depends_on` names apps under `fly.apps`"
                        ),
                        None => "`depends_on` names apps defined under `fly.apps`".to_string(),
                    };
                c.push(
                    here,
                    format!("app `{name}` depends on `{dep}`, which is not defined"),
                    hint,
                );
            } else if !seen.insert(dep.as_str()) {
                c.push(
                    here,
                    format!("app `{name}` lists `{dep}` twice in `depends_on`"),
                    "remove the repeated entry",
                );
            }
        }
    }
}

fn check_github(c: &mut Checker<'_, '_>, gh: &GithubDesired) {
    for (repo, r) in &gh.repos {
        let base = ["github", "repos", repo.as_str()];
        c.key_name(&base, "repository", Rule::OwnerRepo);
        for (branch, b) in &r.branches {
            c.key_name(
                &join(&base, &["branches", branch]),
                "branch name",
                Rule::Branch,
            );
            if let Some(Some(p)) = &b.protection {
                check_protection(c, &join(&base, &["branches", branch, "protection"]), p);
            }
        }
        c.list_names(
            &join(&base, &["actions_secrets"]),
            &r.actions_secrets,
            "actions secret name",
            Rule::ActionsSecretName,
        );
        for (env, e) in &r.environments {
            let env_segs = join(&base, &["environments", env]);
            c.key_name(&env_segs, "environment name", Rule::EnvironmentName);
            if e.reviewers.len() > MAX_REVIEWERS {
                c.push(
                    c.loc.key(&[&env_segs[..], &["reviewers"]].concat()),
                    format!(
                        "environment `{env}` of `{repo}` has {} reviewers; GitHub allows at most {MAX_REVIEWERS}",
                        e.reviewers.len()
                    ),
                    "use a team as a reviewer to cover more people",
                );
            }
            let mut seen = BTreeSet::new();
            for (i, rv) in e.reviewers.iter().enumerate() {
                let i = i.to_string();
                let segs = [&env_segs[..], &["reviewers", &i, "login"]].concat();
                let rule = match rv.kind {
                    ReviewerKind::User => Rule::Login,
                    ReviewerKind::Team => Rule::TeamSlug,
                };
                c.value_name(&segs, &rv.login, "reviewer", rule);
                if !seen.insert(rv) {
                    c.push(
                        c.loc.value(&segs),
                        format!("reviewer `{}` is listed twice", rv.login),
                        "remove the repeated entry",
                    );
                }
            }
        }
    }
}

fn check_protection(c: &mut Checker<'_, '_>, base: &[&str], p: &Protection) {
    if let Some(Some(reviews)) = &p.required_pull_request_reviews
        && let Some(n) = reviews.required_approving_review_count
        && n > MAX_APPROVING_REVIEWS
    {
        c.push(
            c.loc.value(&join(
                base,
                &[
                    "required_pull_request_reviews",
                    "required_approving_review_count",
                ],
            )),
            format!("required_approving_review_count {n} is out of range"),
            format!("GitHub allows 0 to {MAX_APPROVING_REVIEWS}"),
        );
    }
    if let Some(Some(r)) = &p.restrictions {
        c.list_names(
            &join(base, &["restrictions", "users"]),
            &r.users,
            "user login",
            Rule::Login,
        );
        c.list_names(
            &join(base, &["restrictions", "teams"]),
            &r.teams,
            "team slug",
            Rule::TeamSlug,
        );
    }
    if let Some(Some(checks)) = &p.required_status_checks
        && let Some(contexts) = &checks.contexts
    {
        for (i, ctx) in contexts.iter().enumerate() {
            if ctx.trim().is_empty() {
                let i = i.to_string();
                c.push(
                    c.loc
                        .value(&join(base, &["required_status_checks", "contexts", &i])),
                    "empty status check name".into(),
                    "name the check as it appears on pull requests, e.g. `Deploy All`",
                );
            }
        }
    }
}

/// `base` followed by `rest`.
fn join<'a>(base: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    [base, rest].concat()
}

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
                "GitHub environment names are 1 to 255 characters without `/` or control \
                 characters, e.g. `production`"
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
    Ok(())
}

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

pub fn environment_name(s: &str) -> Result<(), String> {
    if s.trim().is_empty() || s.len() > MAX_ENV_NAME {
        return Err("expected 1 to 255 characters".into());
    }
    if let Some(ch) = s.chars().find(|c| c.is_control() || *c == '/') {
        return Err(format!("{ch:?} is not allowed"));
    }
    Ok(())
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

/// Sort errors by file (in the order given, then other files by name), line and column.
pub fn sort_errors(errors: &mut [LoadError], files: &[&str]) {
    let rank: HashMap<&str, usize> = files.iter().enumerate().map(|(i, f)| (*f, i)).collect();
    // Files not in the list (imported `fly.toml` files) come after, by name.
    errors.sort_by(|a, b| {
        let key = |e: &LoadError| {
            (
                rank.get(e.file.as_str()).copied().unwrap_or(usize::MAX),
                e.line,
                e.column,
            )
        };
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0)
            .then_with(|| a.file.cmp(&b.file))
            .then(ka.1.cmp(&kb.1))
            .then(ka.2.cmp(&kb.2))
    });
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
