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
pub use super::names::*;
use super::secret_name::{self, SecretName};

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
                if let Some(e) = idx.entries().get(&key) {
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
            if let Some(e) = idx.entries().get(&exact) {
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

    /// Secret names (`NAME` or `{name, rotation}`): the names, and rotations 0 or more.
    fn secret_list(&mut self, segs: &[&str], list: &[SecretName], what: &str, rule: Rule) {
        self.list_names(segs, &secret_name::names(list), what, rule);
        for (i, message) in secret_name::negative_rotations(list) {
            let i = i.to_string();
            let at = self.loc.value(&[segs, &[i.as_str(), "rotation"]].concat());
            self.push(at, message, secret_name::ROTATION_HINT);
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
/// An environment's wait timer is 0 to 43,200 minutes (30 days).
const MAX_WAIT_TIMER: u32 = 43_200;
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

/// The app's fly.toml sections make a machine config for every process group, as flyctl
/// would; what flyctl refuses is refused here, at the section that causes it.
fn check_machine_config(c: &mut Checker<'_, '_>, base: &[&str], name: &str, app: &FlyApp) {
    use crate::core::flymachine::{MachineConfigError as E, machine_config, process_groups};
    let sections = app.sections();
    for group in process_groups(&sections) {
        let Err(e) = machine_config(&sections, &group, None, &Default::default()) else {
            continue;
        };
        let (at, hint): (Vec<&str>, &str) = match &e {
            E::CheckWithoutPort { check, .. } => (
                vec!["checks", check.as_str()],
                "give the check a `port`, or add an `http_service` whose internal port it takes",
            ),
            E::CheckType { check, .. } => (
                vec!["checks", check.as_str(), "type"],
                "machine checks are `tcp` or `http`",
            ),
            E::RestartPolicy(_) => (vec!["restart"], "use `always`, `on-failure` or `never`"),
            E::Command { .. } => (
                vec!["processes", group.as_str()],
                "quote the command as a shell would (flyctl splits it with shell rules)",
            ),
            E::Size(_) | E::Memory(_) => (
                vec!["vm"],
                "use a Fly size such as `shared-cpu-2x` or `performance-4x`, and memory such as \
                 `\"1gb\"`",
            ),
            E::MachineConfig(_) => (
                vec!["experimental", "machine_config"],
                "write a JSON object, e.g. '{\"dns\": {\"nameservers\": [\"1.2.3.4\"]}}'",
            ),
        };
        let at = c.loc.value(&join(base, &at));
        c.push(at, format!("app `{name}`: {e}"), hint);
        return;
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
        let listed = app.secrets.as_deref().unwrap_or_default();
        let at = join(&base, &["secrets"]);
        c.secret_list(&at, listed, "secret name", Rule::SecretName);
        let secrets = secret_name::names(listed);
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
        check_machine_config(c, &base, name, app);
        let mut seen = BTreeSet::new();
        for (i, dep) in app.depends_on.iter().enumerate() {
            let i = i.to_string();
            let here = |c: &Checker<'_, '_>| c.loc.value(&join(&base, &["depends_on", &i]));
            if dep == name {
                c.push(
                    here(c),
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
                    here(c),
                    format!("app `{name}` depends on `{dep}`, which is not defined"),
                    hint,
                );
            } else if !seen.insert(dep.as_str()) {
                c.push(
                    here(c),
                    format!("app `{name}` lists `{dep}` twice in `depends_on`"),
                    "remove the repeated entry",
                );
            }
        }
    }
}

/// Two definitions that GitHub reads as one resource: repositories whose `owner/repo`
/// differ only in case, and environments of one repository likewise (GitHub compares both
/// without case). Each would plan against the same live object and never converge. The
/// error is at the second place and names the first.
fn check_same_resource(c: &mut Checker<'_, '_>, gh: &GithubDesired) {
    let mut first: HashMap<String, Vec<&str>> = HashMap::new();
    for (repo, r) in &gh.repos {
        let repo_segs = ["github", "repos", repo.as_str()];
        let id = repo.to_lowercase();
        match first.get(&id) {
            Some(other) => {
                let (here, there) = (c.loc.key(&repo_segs), c.loc.key(other));
                c.push(
                    here,
                    format!(
                        "repository `{repo}` is repository `{}` (defined at {}:{}:{}): \
                         GitHub compares owner and repository names without case",
                        other[2], there.file, there.pos.line, there.pos.column
                    ),
                    "define each repository once, spelled as GitHub shows it",
                );
            }
            None => {
                first.insert(id, repo_segs.to_vec());
            }
        }
        let mut envs: HashMap<String, &str> = HashMap::new();
        for env in r.environments.keys() {
            if let Some(other) = envs.insert(env.to_lowercase(), env) {
                let there = c.loc.key(&join(&repo_segs, &["environments", other]));
                let here = c.loc.key(&join(&repo_segs, &["environments", env]));
                c.push(
                    here,
                    format!(
                        "environment `{env}` of `{repo}` is environment `{other}` (defined at \
                         {}:{}:{}): GitHub compares environment names without case",
                        there.file, there.pos.line, there.pos.column
                    ),
                    "define each environment once, spelled as GitHub shows it",
                );
            }
        }
    }
}

fn check_github(c: &mut Checker<'_, '_>, gh: &GithubDesired) {
    check_same_resource(c, gh);
    for (org, o) in &gh.orgs {
        let base = ["github", "orgs", org.as_str()];
        c.key_name(&base, "organization", Rule::Login);
        for name in o.rulesets.keys() {
            c.key_name(
                &join(&base, &["rulesets", name]),
                "ruleset name",
                Rule::RulesetName,
            );
        }
    }
    for (repo, r) in &gh.repos {
        let base = ["github", "repos", repo.as_str()];
        c.key_name(&base, "repository", Rule::OwnerRepo);
        for name in r.rulesets.keys() {
            c.key_name(
                &join(&base, &["rulesets", name]),
                "ruleset name",
                Rule::RulesetName,
            );
        }
        for login in r.collaborators.keys() {
            c.key_name(
                &join(&base, &["collaborators", login]),
                "collaborator",
                Rule::Login,
            );
        }
        for slug in r.teams.keys() {
            c.key_name(&join(&base, &["teams", slug]), "team slug", Rule::TeamSlug);
        }
        for name in r.actions_variables.keys() {
            c.key_name(
                &join(&base, &["actions_variables", name]),
                "Actions variable name",
                Rule::ActionsSecretName,
            );
        }
        if let Some(topics) = &r.topics {
            c.list_names(&join(&base, &["topics"]), topics, "topic", Rule::Topic);
        }
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
        c.secret_list(
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
            c.secret_list(
                &join(&env_segs, &["secrets"]),
                &e.secrets,
                "environment secret name",
                Rule::ActionsSecretName,
            );
            for name in e.variables.keys() {
                c.key_name(
                    &join(&env_segs, &["variables", name]),
                    "environment variable name",
                    Rule::ActionsSecretName,
                );
            }
            if let Some(w) = e.wait_timer.filter(|w| *w > MAX_WAIT_TIMER) {
                c.push(
                    c.loc.value(&[&env_segs[..], &["wait_timer"]].concat()),
                    format!("environment `{env}` of `{repo}`: wait_timer {w} is out of range"),
                    format!("GitHub waits 0 to {MAX_WAIT_TIMER} minutes (30 days)"),
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
