//! Merging the files: each resource may be defined in one place only.
//!
//! The unit of definition is what one file can own without surprising another: a provider's
//! activation entry, `fly.org`, a Fly app, a repository's branch, its actions-secret list, one
//! of its environments, and each whole singleton section (`router:`, `qdrant:`, …). A second
//! definition is an error located at the second place and naming the first.

use std::collections::HashMap;

use super::locate::path_key;
use super::model::*;
use super::parse::ParsedFile;
use super::{LoadError, Source};

struct Merger<'a> {
    sources: &'a [Source],
    /// The parsed files, for the positions of a duplicate definition.
    parts: &'a [(usize, ParsedFile)],
    /// Resource id → the file number of its first definition. Positions are looked up only
    /// for a duplicate: the same id comes from the same key path in either file, and a file
    /// without errors never builds its position index (see [`super::locate::FileIndex`]).
    defined: HashMap<String, usize>,
    errors: &'a mut Vec<LoadError>,
}

impl Merger<'_> {
    /// Record the definition of `id` at `segs` in file `file`; false (and an error) when it
    /// was already defined.
    fn define(&mut self, id: String, file: usize, part: &ParsedFile, segs: &[&str]) -> bool {
        if let Some(first_file) = self.defined.get(&id) {
            let key = path_key(segs);
            let pos = part.index.key(&key).unwrap_or_default();
            let first = self
                .parts
                .iter()
                .find(|(f, _)| f == first_file)
                .and_then(|(_, p)| p.index.key(&key))
                .unwrap_or_default();
            self.errors.push(LoadError {
                file: self.sources[file].path.clone(),
                line: pos.line,
                column: pos.column,
                message: format!(
                    "`{id}` is defined twice: here and at {}:{}:{}",
                    self.sources[*first_file].path, first.line, first.column
                ),
                hint: Some(
                    "desired files are merged and each resource may be defined in one place \
                     only; remove one of the two definitions"
                        .into(),
                ),
            });
            return false;
        }
        self.defined.insert(id, file);
        true
    }
}

/// Merge the parsed files (in file order) into one desired state. Each part's state is moved
/// out (its position index stays, for the checks after the merge).
pub fn merge(
    sources: &[Source],
    parts: &mut [(usize, ParsedFile)],
    errors: &mut Vec<LoadError>,
) -> Desired {
    let taken: Vec<Desired> = parts
        .iter_mut()
        .map(|(_, part)| std::mem::take(&mut part.desired))
        .collect();
    let parts = &*parts;
    let mut m = Merger {
        sources,
        parts,
        defined: HashMap::new(),
        errors,
    };
    let mut out = Desired::default();
    for ((file, part), d) in parts.iter().zip(taken) {
        let file = *file;
        for (p, a) in &d.providers {
            if m.define(
                format!("providers.{p}"),
                file,
                part,
                &["providers", p.as_str()],
            ) {
                out.providers.insert(*p, *a);
            }
        }
        if let Some(fly) = d.fly {
            let dst = out.fly.get_or_insert_with(Default::default);
            if let Some(org) = fly.org
                && m.define("fly.org".into(), file, part, &["fly", "org"])
            {
                dst.org = Some(org);
            }
            for (name, app) in fly.apps {
                if m.define(
                    format!("fly.app.{name}"),
                    file,
                    part,
                    &["fly", "apps", &name],
                ) {
                    dst.apps.insert(name, app);
                }
            }
        }
        if let Some(gh) = d.github {
            let dst = out.github.get_or_insert_with(Default::default);
            for (org, o) in gh.orgs {
                let into = dst.orgs.entry(org.clone()).or_default();
                if o.protect.is_some()
                    && m.define(
                        format!("github.org.{org}.protect"),
                        file,
                        part,
                        &["github", "orgs", &org, "protect"],
                    )
                {
                    into.protect = o.protect;
                }
                for (name, rs) in o.rulesets {
                    if m.define(
                        format!("github.org.{org}.ruleset.{name}"),
                        file,
                        part,
                        &["github", "orgs", &org, "rulesets", &name],
                    ) {
                        into.rulesets.insert(name, rs);
                    }
                }
            }
            for (repo, r) in gh.repos {
                let base = ["github", "repos", repo.as_str()];
                let into = dst.repos.entry(repo.clone()).or_default();
                if r.protect.is_some() {
                    let segs = [&base[..], &["protect"]].concat();
                    if m.define(format!("github.repo.{repo}.protect"), file, part, &segs) {
                        into.protect = r.protect;
                    }
                }
                for (branch, b) in r.branches {
                    let segs = [&base[..], &["branches", &branch]].concat();
                    if m.define(
                        format!("github.repo.{repo}.branch.{branch}"),
                        file,
                        part,
                        &segs,
                    ) {
                        into.branches.insert(branch, b);
                    }
                }
                if !r.actions_secrets.is_empty() {
                    let segs = [&base[..], &["actions_secrets"]].concat();
                    if m.define(
                        format!("github.repo.{repo}.actions_secrets"),
                        file,
                        part,
                        &segs,
                    ) {
                        into.actions_secrets = r.actions_secrets;
                    }
                }
                for (env, e) in r.environments {
                    let segs = [&base[..], &["environments", &env]].concat();
                    if m.define(
                        format!("github.repo.{repo}.environment.{env}"),
                        file,
                        part,
                        &segs,
                    ) {
                        into.environments.insert(env, e);
                    }
                }
                if let Some(settings) = r.settings {
                    let segs = [&base[..], &["settings"]].concat();
                    if m.define(format!("github.repo.{repo}.settings"), file, part, &segs) {
                        into.settings = Some(settings);
                    }
                }
                if let Some(topics) = r.topics {
                    let segs = [&base[..], &["topics"]].concat();
                    if m.define(format!("github.repo.{repo}.topics"), file, part, &segs) {
                        into.topics = Some(topics);
                    }
                }
                for (login, p) in r.collaborators {
                    let segs = [&base[..], &["collaborators", &login]].concat();
                    if m.define(
                        format!("github.repo.{repo}.collaborator.{login}"),
                        file,
                        part,
                        &segs,
                    ) {
                        into.collaborators.insert(login, p);
                    }
                }
                for (slug, p) in r.teams {
                    let segs = [&base[..], &["teams", &slug]].concat();
                    if m.define(format!("github.repo.{repo}.team.{slug}"), file, part, &segs) {
                        into.teams.insert(slug, p);
                    }
                }
                for (name, v) in r.actions_variables {
                    let segs = [&base[..], &["actions_variables", &name]].concat();
                    if m.define(
                        format!("github.repo.{repo}.variable.{name}"),
                        file,
                        part,
                        &segs,
                    ) {
                        into.actions_variables.insert(name, v);
                    }
                }
                for (name, rs) in r.rulesets {
                    let segs = [&base[..], &["rulesets", &name]].concat();
                    if m.define(
                        format!("github.repo.{repo}.ruleset.{name}"),
                        file,
                        part,
                        &segs,
                    ) {
                        into.rulesets.insert(name, rs);
                    }
                }
            }
        }
        macro_rules! singleton {
            ($($f:ident),*) => {$(
                if let Some(section) = d.$f
                    && m.define(stringify!($f).into(), file, part, &[stringify!($f)])
                {
                    out.$f = Some(section);
                }
            )*};
        }
        singleton!(
            router, research, context_db, qdrant, mem0, redis, slack, gong, lambda
        );
    }
    out
}
