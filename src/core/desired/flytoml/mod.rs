//! `fly.toml` import (`config:` on a Fly app): app name, primary region, build image,
//! http_service (internal port, checks), vm/guest size, env, deploy strategy, and the
//! sections flyctl turns into the machine config (`http_service`, `services`, `checks`,
//! `mounts`, `processes`, `restart`, `metrics`, `statics`, `kill_signal`, `kill_timeout`,
//! `swap_size_mb`, `experimental`, `vm`/`compute`, `host_dedication_id`), read with the same
//! types as the YAML ([`super::flyconfig`]).
//!
//! The file is read with the `toml` crate's spanned parser so that every error names the file,
//! the field (`deploy.strategy`, `vm[0].memory`, `services[0].ports[1].port`) and its
//! `line:column`. Other keys (`build`, `deploy` apart from `strategy`, `files`, …) are not
//! read. A `concurrency` given as a bare number (in `[[services]]` or `[http_service]`) is
//! reported, since flyctl itself refuses to load such a file.
//!
//! Rules, as flyctl applies them:
//! - `internal_port` and check ports may be integers or strings holding one (the old format).
//! - `[vm]` may be a table or an array (`[[vm]]`, alias `[[compute]]`); sections limited to
//!   some `processes` are not imported (`sophia` gives one guest to the whole app); the
//!   others apply in file order. `size` sets a preset (`shared-cpu-2x` is 2 shared CPUs and
//!   512 MB), then `cpu_kind`, `cpus`, `memory` (`"1gb"`, `"512mb"`, `"4G"`, or a number of
//!   MB) and `memory_mb` override it; `memory` and `memory_mb` must agree when both are set.
//! - `[env]` values may be strings, numbers or booleans (made strings); `[[env]]` sections are
//!   merged.
//! - The health check is the first `[[http_service.checks]]` with a `path` (its port, else the
//!   internal port), else the first top-level `[checks.NAME]` of type `http` with a path.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::model::{FlyApp, FlySections, Guest, Health, Strategy};
use super::validate;

mod vm;
use vm::guest;

/// What `sophia` takes from a `fly.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlyToml {
    pub app: Option<String>,
    pub primary_region: Option<String>,
    /// `[build] image`.
    pub image: Option<String>,
    /// `[http_service] internal_port`.
    pub internal_port: Option<u16>,
    pub health: Option<Health>,
    pub guest: Option<Guest>,
    pub env: BTreeMap<String, String>,
    pub strategy: Option<Strategy>,
    /// The sections flyctl turns into the machine config (`http_service`, `services`,
    /// `checks`, `mounts`, `processes`, …), read with the same types as the YAML.
    pub sections: FlySections,
}

/// A `fly.toml` that cannot be imported: the file, the field and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {}{message}", field.as_ref().map(|f| format!("`{f}`: ")).unwrap_or_default())]
pub struct FlyTomlError {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub column: usize,
    /// The dotted field, e.g. `deploy.strategy`; `None` for a TOML syntax error.
    pub field: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

type V<'i> = Spanned<DeValue<'i>>;

struct Reader<'a> {
    file: &'a str,
    text: &'a str,
}

impl Reader<'_> {
    fn err(
        &self,
        span: Range<usize>,
        field: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> FlyTomlError {
        let (line, column) = line_col(self.text, span.start);
        FlyTomlError {
            file: self.file.to_string(),
            line,
            column,
            field: Some(field.to_string()),
            message: message.into(),
            hint,
        }
    }

    fn string(&self, v: &V<'_>, field: &str) -> Result<String, FlyTomlError> {
        match v.get_ref() {
            DeValue::String(s) => Ok(s.to_string()),
            other => Err(self.err(
                v.span(),
                field,
                format!("expected a string, found {}", other.type_str()),
                None,
            )),
        }
    }

    /// An integer, or a string holding one (flyctl's old format stringifies ports).
    fn integer(&self, v: &V<'_>, field: &str) -> Result<i64, FlyTomlError> {
        let parsed = match v.get_ref() {
            DeValue::Integer(i) => {
                i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok()
            }
            DeValue::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| {
            self.err(
                v.span(),
                field,
                format!("expected an integer, found {}", describe(v.get_ref())),
                None,
            )
        })
    }

    fn port(&self, v: &V<'_>, field: &str) -> Result<u16, FlyTomlError> {
        let n = self.integer(v, field)?;
        u16::try_from(n)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| self.err(v.span(), field, format!("{n} is not a port"), None))
    }

    fn table<'t, 'i>(&self, v: &'t V<'i>, field: &str) -> Result<&'t DeTable<'i>, FlyTomlError> {
        v.get_ref().as_table().ok_or_else(|| {
            self.err(
                v.span(),
                field,
                format!("expected a table, found {}", v.get_ref().type_str()),
                None,
            )
        })
    }

    /// A table or an array of tables, as `(index, table)`; `index` is `None` for a table.
    fn sections<'t, 'i>(
        &self,
        v: &'t V<'i>,
        field: &str,
    ) -> Result<Vec<(Option<usize>, &'t DeTable<'i>)>, FlyTomlError> {
        match v.get_ref() {
            DeValue::Table(t) => Ok(vec![(None, t)]),
            DeValue::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    self.table(item, &format!("{field}[{i}]"))
                        .map(|t| (Some(i), t))
                })
                .collect(),
            other => Err(self.err(
                v.span(),
                field,
                format!(
                    "expected a table or an array of tables, found {}",
                    other.type_str()
                ),
                None,
            )),
        }
    }
}

fn describe(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("the string \"{s}\""),
        other => other.type_str().to_string(),
    }
}

fn field_name(base: &str, index: Option<usize>) -> String {
    match index {
        Some(i) => format!("{base}[{i}]"),
        None => base.to_string(),
    }
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Import a `fly.toml`. `path_display` names the file in errors.
pub fn import(path_display: &str, text: &str) -> Result<FlyToml, FlyTomlError> {
    let r = Reader {
        file: path_display,
        text,
    };
    let root = DeTable::parse(text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
        FlyTomlError {
            file: path_display.to_string(),
            line,
            column,
            field: None,
            message: format!("malformed TOML: {}", e.message().trim()),
            hint: None,
        }
    })?;
    let root = root.get_ref();
    let mut out = FlyToml::default();

    if let Some(v) = root.get("app") {
        let app = r.string(v, "app")?;
        validate::fly_name(&app).map_err(|reason| {
            r.err(
                v.span(),
                "app",
                format!("invalid Fly app name `{app}`: {reason}"),
                Some(validate::Rule::FlyName.hint().to_string()),
            )
        })?;
        out.app = Some(app);
    }
    if let Some(v) = root.get("primary_region") {
        let region = r.string(v, "primary_region")?;
        validate::region(&region).map_err(|reason| {
            r.err(
                v.span(),
                "primary_region",
                format!("invalid region `{region}`: {reason}"),
                Some(validate::Rule::Region.hint().to_string()),
            )
        })?;
        out.primary_region = Some(region);
    }
    if let Some(build) = root.get("build") {
        let build = r.table(build, "build")?;
        if let Some(v) = build.get("image") {
            out.image = Some(r.string(v, "build.image")?);
        }
    }
    let mut http_checks = None;
    if let Some(hs) = root.get("http_service") {
        let hs = r.table(hs, "http_service")?;
        if let Some(v) = hs.get("internal_port") {
            out.internal_port = Some(r.port(v, "http_service.internal_port")?);
        }
        check_concurrency(&r, hs, "http_service")?;
        http_checks = hs.get("checks");
    }
    out.health = health(&r, http_checks, root.get("checks"), out.internal_port)?;
    out.guest = guest(&r, root)?;
    if let Some(env) = root.get("env") {
        for (i, section) in r.sections(env, "env")? {
            let base = field_name("env", i);
            for (k, v) in section {
                let field = format!("{base}.{}", k.get_ref());
                validate::env_key(k.get_ref()).map_err(|reason| {
                    r.err(
                        k.span(),
                        &field,
                        format!("invalid environment variable `{}`: {reason}", k.get_ref()),
                        Some(validate::Rule::EnvKey.hint().to_string()),
                    )
                })?;
                let value = match v.get_ref() {
                    DeValue::String(s) => s.to_string(),
                    DeValue::Integer(i) => i.as_str().to_string(),
                    DeValue::Float(f) => f.as_str().to_string(),
                    DeValue::Boolean(b) => b.to_string(),
                    other => {
                        return Err(r.err(
                            v.span(),
                            &field,
                            format!(
                                "expected a string, number or boolean, found {}",
                                other.type_str()
                            ),
                            None,
                        ));
                    }
                };
                out.env.insert(k.get_ref().to_string(), value);
            }
        }
    }
    if let Some(deploy) = root.get("deploy") {
        let deploy = r.table(deploy, "deploy")?;
        if let Some(v) = deploy.get("strategy") {
            let s = r.string(v, "deploy.strategy")?;
            let all = [
                Strategy::Rolling,
                Strategy::Canary,
                Strategy::Immediate,
                Strategy::Bluegreen,
            ];
            let names = all.map(Strategy::as_str);
            let found = all.into_iter().find(|x| x.as_str() == s);
            out.strategy = Some(found.ok_or_else(|| {
                let list = names.map(|n| format!("`{n}`")).join(", ");
                let hint = match super::parse::did_you_mean(&s, names.into_iter()) {
                    Some(c) => format!("did you mean `{c}`? flyctl's strategies are {list}"),
                    None => format!("flyctl's strategies are {list}"),
                };
                r.err(
                    v.span(),
                    "deploy.strategy",
                    format!("unknown deploy strategy `{s}`"),
                    Some(hint),
                )
            })?);
        }
    }
    if let Some(services) = root.get("services") {
        for (i, section) in r.sections(services, "services")? {
            check_concurrency(&r, section, &field_name("services", i))?;
        }
    }
    out.sections = sections(&r, root)?;
    Ok(out)
}

/// The machine-config sections, through serde (the same types as the YAML), with errors
/// located at the value that failed.
fn sections(r: &Reader<'_>, root: &DeTable<'_>) -> Result<FlySections, FlyTomlError> {
    let de = toml::Deserializer::parse(r.text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| line_col(r.text, s.start));
        FlyTomlError {
            file: r.file.to_string(),
            line,
            column,
            field: None,
            message: format!("malformed TOML: {}", e.message().trim()),
            hint: None,
        }
    })?;
    serde_path_to_error::deserialize::<_, FlySections>(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        // The span of the failing value, else of the section named first in the path.
        let span = inner.span().or_else(|| {
            let top = field.split(['.', '[']).next().unwrap_or_default();
            root.get(top).map(|v| v.span())
        });
        let (line, column) = span.map_or((1, 1), |s| line_col(r.text, s.start));
        FlyTomlError {
            file: r.file.to_string(),
            line,
            column,
            field: Some(field),
            message: inner.message().trim().to_string(),
            hint: Some(
                "write the section as flyctl documents it: \
                 https://fly.io/docs/reference/configuration/"
                    .to_string(),
            ),
        }
    })
}

/// `concurrency` must be a table (or the old `"soft,hard"` string); flyctl refuses a number.
fn check_concurrency(
    r: &Reader<'_>,
    section: &DeTable<'_>,
    base: &str,
) -> Result<(), FlyTomlError> {
    if let Some(v) = section.get("concurrency")
        && !matches!(v.get_ref(), DeValue::Table(_) | DeValue::String(_))
    {
        return Err(r.err(
            v.span(),
            &format!("{base}.concurrency"),
            format!(
                "expected a table with `type`, `soft_limit` and `hard_limit`, found {}",
                v.get_ref().type_str()
            ),
            Some(format!(
                "write `[{base}.concurrency]` with `type = \"requests\"`, `soft_limit` and \
                 `hard_limit`; flyctl refuses a single number here",
                base = base.split('[').next().unwrap_or(base)
            )),
        ));
    }
    Ok(())
}

fn health(
    r: &Reader<'_>,
    http_checks: Option<&V<'_>>,
    checks: Option<&V<'_>>,
    internal_port: Option<u16>,
) -> Result<Option<Health>, FlyTomlError> {
    let from = |t: &DeTable<'_>, base: &str| -> Result<Option<Health>, FlyTomlError> {
        let Some(p) = t.get("path") else {
            return Ok(None);
        };
        let path = r.string(p, &format!("{base}.path"))?;
        if !path.starts_with('/') {
            return Err(r.err(
                p.span(),
                &format!("{base}.path"),
                format!("health path `{path}` does not start with `/`"),
                None,
            ));
        }
        let port = match t.get("port") {
            Some(v) => Some(r.port(v, &format!("{base}.port"))?),
            None => internal_port,
        };
        Ok(Some(Health {
            path,
            port,
            expect_status: 200,
        }))
    };
    if let Some(v) = http_checks {
        for (i, t) in r.sections(v, "http_service.checks")? {
            if let Some(h) = from(t, &field_name("http_service.checks", i))? {
                return Ok(Some(h));
            }
        }
    }
    if let Some(v) = checks {
        let checks = r.table(v, "checks")?;
        // In file order (the table itself is sorted by name).
        let mut named: Vec<_> = checks.iter().collect();
        named.sort_by_key(|(k, _)| k.span().start);
        for (name, check) in named {
            let base = format!("checks.{}", name.get_ref());
            let t = r.table(check, &base)?;
            let is_http = match t.get("type") {
                Some(ty) => r.string(ty, &format!("{base}.type"))? == "http",
                None => false,
            };
            if is_http && let Some(h) = from(t, &base)? {
                return Ok(Some(h));
            }
        }
    }
    Ok(None)
}

/// Merge an imported `fly.toml` into an app: fields the YAML sets win; `env` merges key by
/// key (YAML wins per key).
pub fn apply_fly_config(app: &mut FlyApp, imported: &FlyToml) {
    if app.image.is_none() {
        app.image.clone_from(&imported.image);
    }
    if app.primary_region.is_none() {
        app.primary_region.clone_from(&imported.primary_region);
    }
    // With `[[vm]]` sections limited to some process groups, the guest is flyctl's, per
    // group (built from `vm`); a size for the whole app is the app's `guest`.
    let per_group = imported
        .sections
        .vm
        .iter()
        .chain(&imported.sections.compute)
        .flatten()
        .any(|v| v.processes.as_ref().is_some_and(|p| !p.is_empty()));
    if app.guest.is_none() && !per_group {
        app.guest.clone_from(&imported.guest);
    }
    if app.health.is_none() {
        app.health.clone_from(&imported.health);
    }
    if app.strategy.is_none() {
        app.strategy = imported.strategy;
    }
    merge_sections(app, &imported.sections);
    if !imported.env.is_empty() {
        let env = app.env.get_or_insert_with(BTreeMap::new);
        for (k, v) in &imported.env {
            env.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// The fly.toml sections the YAML does not set, from the imported file.
fn merge_sections(app: &mut FlyApp, s: &FlySections) {
    fn fill<T: Clone>(slot: &mut Option<T>, from: &Option<T>) {
        if slot.is_none() {
            slot.clone_from(from);
        }
    }
    fill(&mut app.http_service, &s.http_service);
    fill(&mut app.services, &s.services);
    fill(&mut app.checks, &s.checks);
    fill(&mut app.mounts, &s.mounts);
    fill(&mut app.processes, &s.processes);
    fill(&mut app.restart, &s.restart);
    fill(&mut app.metrics, &s.metrics);
    fill(&mut app.statics, &s.statics);
    fill(&mut app.kill_signal, &s.kill_signal);
    fill(&mut app.kill_timeout, &s.kill_timeout);
    fill(&mut app.swap_size_mb, &s.swap_size_mb);
    fill(&mut app.experimental, &s.experimental);
    fill(&mut app.host_dedication_id, &s.host_dedication_id);
    if app.vm.is_none() && (s.vm.is_some() || s.compute.is_some()) {
        app.vm = Some(
            s.vm.iter()
                .flatten()
                .chain(s.compute.iter().flatten())
                .cloned()
                .collect(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::CpuKind;
    use super::*;

    #[test]
    fn imports_the_fields_sophia_manages() {
        let text = r#"
app = "sophiaai-dashboard-v2"
primary_region = "ord"
[build]
  image = "registry.fly.io/x:1"
[deploy]
  strategy = "bluegreen"
[env]
  LOG_LEVEL = "info"
  PORT = 8080
[http_service]
  internal_port = "8080"
  [[http_service.checks]]
    path = "/healthz"
[[vm]]
  size = "shared-cpu-2x"
  memory = "1gb"
"#;
        let t = import("fly.toml", text).unwrap();
        assert_eq!(t.app.as_deref(), Some("sophiaai-dashboard-v2"));
        assert_eq!(t.primary_region.as_deref(), Some("ord"));
        assert_eq!(t.image.as_deref(), Some("registry.fly.io/x:1"));
        assert_eq!(t.strategy, Some(Strategy::Bluegreen));
        assert_eq!(t.env["PORT"], "8080");
        assert_eq!(t.internal_port, Some(8080));
        assert_eq!(
            t.health,
            Some(Health {
                path: "/healthz".into(),
                port: Some(8080),
                expect_status: 200
            })
        );
        assert_eq!(
            t.guest,
            Some(Guest {
                cpu_kind: CpuKind::Shared,
                cpus: 2,
                memory_mb: 1024
            })
        );
    }

    #[test]
    fn errors_name_the_field_and_its_position() {
        let e = import(
            "a/fly.toml",
            "app = \"x-y\"\n[deploy]\nstrategy = \"rollin\"\n",
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("deploy.strategy"));
        assert_eq!((e.line, e.column), (3, 12));
        assert_eq!(
            e.to_string(),
            "a/fly.toml:3:12: `deploy.strategy`: unknown deploy strategy `rollin`"
        );
        assert!(e.hint.unwrap().contains("did you mean `rolling`?"));
    }

    #[test]
    fn memory_units() {
        for (text, mb) in [
            ("memory = 512", 512),
            ("memory = \"1gb\"", 1024),
            ("memory = \"4G\"", 4096),
            ("memory = \"512mb\"", 512),
            ("memory_mb = 2048", 2048),
        ] {
            let t = import("f", &format!("[vm]\n{text}\n")).unwrap();
            assert_eq!(t.guest.unwrap().memory_mb, mb, "{text}");
        }
        let e = import("f", "[vm]\nmemory = \"lots\"\n").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("vm.memory"));
    }

    #[test]
    fn yaml_wins_over_imported_fields() {
        let mut app = FlyApp {
            primary_region: Some("sea".into()),
            env: Some(BTreeMap::from([("A".to_string(), "yaml".to_string())])),
            ..FlyApp::default()
        };
        let imported = FlyToml {
            primary_region: Some("ord".into()),
            strategy: Some(Strategy::Canary),
            env: BTreeMap::from([
                ("A".to_string(), "toml".to_string()),
                ("B".to_string(), "toml".to_string()),
            ]),
            ..FlyToml::default()
        };
        apply_fly_config(&mut app, &imported);
        assert_eq!(app.primary_region.as_deref(), Some("sea"));
        assert_eq!(app.strategy, Some(Strategy::Canary));
        let env = app.env.unwrap();
        assert_eq!(env["A"], "yaml");
        assert_eq!(env["B"], "toml");
    }
}
