//! `sophia validate`: load the desired state offline (syntax, unknown keys, names, duplicates,
//! imported `fly.toml` files) and say what it holds.

use serde_json::json;

use super::{Ctx, Exit};
use crate::core::desired::{Activation, Desired, LoadErrors};
use crate::core::envelope::{Envelope, EnvelopeError};
use crate::core::hint::escape_name;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: Args) -> anyhow::Result<Exit> {
    let started = std::time::Instant::now();
    let desired = crate::workspace::load_desired(&ctx.root)?;
    let counts = Counts::of(&desired);
    ctx.status(format!("desired state is valid: {}", counts.sentence()));
    if ctx.json {
        let env = Envelope::success(
            "validate",
            vec![counts.json()],
            format!("desired state is valid: {}", counts.sentence()),
            now(),
            started.elapsed().as_millis() as u64,
        );
        println!("{}", serde_json::to_string_pretty(&env)?);
    }
    Ok(Exit::Clean)
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// How much a desired state holds, for the summary line.
#[derive(Debug, Default)]
pub struct Counts {
    pub active: usize,
    pub paused: usize,
    pub apps: usize,
    pub repos: usize,
    pub protections: usize,
    pub actions_secrets: usize,
    pub environments: usize,
}

impl Counts {
    pub fn of(d: &Desired) -> Counts {
        let managed = d.managed();
        let mut c = Counts {
            active: managed
                .iter()
                .filter(|(_, a)| *a == Activation::Active)
                .count(),
            paused: managed
                .iter()
                .filter(|(_, a)| *a == Activation::Paused)
                .count(),
            ..Counts::default()
        };
        if let Some(fly) = &d.fly {
            c.apps = fly.apps.len();
        }
        if let Some(gh) = &d.github {
            c.repos = gh.repos.len();
            for r in gh.repos.values() {
                c.protections += r
                    .branches
                    .values()
                    .filter(|b| b.protection.is_some())
                    .count();
                c.actions_secrets += r.actions_secrets.len();
                c.environments += r.environments.len();
            }
        }
        c
    }

    pub fn sentence(&self) -> String {
        let n = |count: usize, one: &str, many: &str| {
            format!("{count} {}", if count == 1 { one } else { many })
        };
        format!(
            "{} ({} active, {} paused), {}, {}, {}, {}, {}",
            n(self.active + self.paused, "provider", "providers"),
            self.active,
            self.paused,
            n(self.apps, "app", "apps"),
            n(self.repos, "repo", "repos"),
            n(self.protections, "branch protection", "branch protections"),
            n(self.actions_secrets, "actions secret", "actions secrets"),
            n(self.environments, "environment", "environments"),
        )
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "providers": { "active": self.active, "paused": self.paused },
            "apps": self.apps,
            "repos": self.repos,
            "branch_protections": self.protections,
            "actions_secrets": self.actions_secrets,
            "environments": self.environments,
        })
    }
}

/// Print load errors as `error: file:line:column: message` and `  hint: …` on stderr (and,
/// with `--json`, the failure envelope with one error each on stdout, its hint in its own
/// field). Called by the CLI's one error printer for any command whose desired state does
/// not load. Each message and hint is one line: every control character in it is escaped.
pub fn report_load_errors(ctx: &Ctx, errors: &LoadErrors) {
    let mut text = String::new();
    for e in &errors.0 {
        text.push_str(&format!("error: {}\n", escape_name(&e.to_string())));
        if let Some(h) = &e.hint {
            text.push_str(&format!("  hint: {}\n", escape_name(h)));
        }
    }
    let n = errors.0.len();
    text.push_str(&format!(
        "error: the desired state is invalid ({n} {})",
        if n == 1 { "error" } else { "errors" }
    ));
    eprintln!("{text}");
    if ctx.json {
        let env = Envelope::failure(
            "desired.load",
            errors
                .0
                .iter()
                .map(|e| {
                    EnvelopeError::new("sophia", "invalid-input", escape_name(&e.to_string()))
                        .with_hint(e.hint.as_deref().map(escape_name))
                })
                .collect(),
            format!("the desired state is invalid ({n} errors)"),
            now(),
            0,
        );
        println!("{}", serde_json::to_string_pretty(&env).unwrap_or_default());
    }
}
