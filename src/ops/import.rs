//! `sophia import [ADDR…] [--provider fly|github] [--out FILE] [--force]`: desired YAML for
//! live resources (DESIGN.md, "Lifecycle: adopt"). Reads only, as `plan` does.
//!
//! 1. Which resources: the addresses given (`fly.app.<a>`, `github.repo.<owner>/<repo>`, or
//!    one GitHub resource: an address under a repository, `github.org.<org>.ruleset.<n>`), or
//!    with `--provider` every live one of that provider not already in `desired/`
//!    ([`not_desired`], the one place that selection is made): the apps of the Fly org
//!    (`fly.org` of desired/, or `--org`), the repositories the GitHub credential can see —
//!    and for GitHub, each unmanaged resource of the managed repositories and organizations
//!    (what `plan` lists) and the rulesets of the organizations owning the repositories
//!    imported ([`unmanaged_github`]).
//! 2. Their live objects, read by the providers' own refresh (the same normalizer plan
//!    uses), with each Fly app's volumes named by its mounts.
//! 3. [`crate::core::import`] turns them into desired state; a plan of that state against
//!    the same live state is made at once, and its change count comes back (0 is the
//!    promise: import then plan shows nothing to do).
//!    A `providers.github` entry desired/ already has is left out of the YAML (a second one
//!    would not load).
//! 4. The YAML goes to stdout, or to `--out` atomically; an existing file is refused without
//!    `--force`. Secret values are never read: secrets come in as names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::core::address::Address;
use crate::core::desired::{Desired, ProviderName};
use crate::core::import::{Imported, import, import_github, only_secret_names, to_yaml};
use crate::core::live::LiveSnapshot;
use crate::providers::{Credentials, Provider, ProviderError};

/// What `sophia import` is asked.
#[derive(Debug, Clone)]
pub struct ImportRequest<'a> {
    pub root: &'a Path,
    pub creds: &'a Credentials,
    /// `fly.app.<a>` (any address under it names it), `github.repo.<owner>/<repo>`, or one
    /// GitHub resource (an address under a repository, an organization's ruleset).
    pub addresses: Vec<String>,
    pub provider: Option<ProviderName>,
    /// The Fly organization for `--provider fly` when desired/ names none.
    pub org: Option<String>,
    /// Write here (relative to the root) instead of returning the text for stdout.
    pub out: Option<PathBuf>,
    pub force: bool,
}

/// What `sophia import` made.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    pub yaml: String,
    pub apps: Vec<String>,
    pub repos: Vec<String>,
    /// The GitHub resources imported one by one (not with a whole repository).
    pub resources: Vec<Address>,
    /// What could not be written back (also comments at the top of the YAML).
    pub notes: Vec<String>,
    /// The changes a plan of the imported state against the same live state shows.
    pub residual_changes: usize,
    pub written: Option<PathBuf>,
}

/// Import (see the module docs).
pub async fn run(req: &ImportRequest<'_>) -> anyhow::Result<ImportOutcome> {
    if let Some(out) = &req.out {
        let path = req.root.join(out);
        if path.exists() && !req.force {
            return Err(crate::hinted!(
                hint = "pass `--force` to replace it, or choose another `--out`",
                "`{}` exists: import does not overwrite a file",
                out.display()
            ));
        }
    }
    let desired = desired_so_far(req.root)?;
    let http = req.creds.http();
    let org = req
        .org
        .clone()
        .or_else(|| desired.fly.as_ref().and_then(|f| f.org.clone()));
    let (mut apps, mut repos, mut picks) = named(&req.addresses)?;
    // `fly.app.<a>.secret.<NAME>`: the name alone, unless the whole app is named too.
    let mut secret_names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in &req.addresses {
        if let Ok(Address::FlySecret { app, name }) = Address::parse(a) {
            secret_names.entry(app).or_default().push(name);
        }
    }
    secret_names.retain(|app, _| {
        !req.addresses.iter().any(|a| {
            Address::parse(a).is_ok_and(|x| {
                !matches!(x, Address::FlySecret { .. })
                    && crate::core::plan::facts::fly_app(&x) == Some(app.as_str())
            })
        })
    });
    // `--provider`: the unmanaged ones only (the listing is read here).
    let mut lifecycle = match req.provider {
        Some(_) => super::lifecycle::load(req.root, &desired, req.creds, false).await?,
        None => Default::default(),
    };
    match req.provider {
        None => {}
        Some(ProviderName::Fly) => {
            let org = org.clone().ok_or_else(|| {
                crate::hinted!(
                    hint = "set `fly.org` in desired/, or pass `--org SLUG`",
                    "`--provider fly` needs the Fly organization whose apps to import"
                )
            })?;
            let all = fly(req.creds, &http)?.app_names(&org).await.map_err(err)?;
            apps.extend(not_desired(&desired, &lifecycle, ProviderName::Fly, all));
        }
        Some(ProviderName::Github) => {
            let gh = github(req.creds, &http)?;
            let all = gh.repo_names().await.map_err(err)?;
            repos.extend(not_desired(&desired, &lifecycle, ProviderName::Github, all));
            picks.extend(unmanaged_github(req, &desired, &mut lifecycle, &gh, &repos).await?);
        }
        Some(other) => anyhow::bail!(
            "`--provider {}` cannot be imported: only `fly` and `github` can",
            other.as_str()
        ),
    }
    let apps: Vec<String> = apps
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let repos: Vec<String> = repos
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // One by one only what a whole repository imported does not already bring.
    let picks: Vec<Address> = picks
        .into_iter()
        .filter(|a| repo_of(a).is_none_or(|r| !repos.iter().any(|x| x == r)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if apps.is_empty() && repos.is_empty() && picks.is_empty() {
        anyhow::bail!(
            "nothing to import: name addresses (`fly.app.NAME`, `github.repo.OWNER/REPO`) or `--provider fly|github`"
        );
    }
    let live = read(req.creds, &http, &apps, &repos, &picks).await?;
    let mut imported = import(&live, org.as_deref(), &apps, &repos);
    import_github(&mut imported, &live, &picks);
    only_secret_names(&mut imported, &secret_names);
    let residual_changes = residual(req.root, &imported.desired, &live)?;
    beside(&desired, &mut imported);
    let Imported { notes, .. } = &imported;
    let yaml = to_yaml(&imported).context("writing the imported state as YAML")?;
    let mut written = None;
    if let Some(out) = &req.out {
        let path = req.root.join(out);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating `{}`", dir.display()))?;
        }
        crate::proofs::atomic::write_atomic(&path, yaml.as_bytes())?;
        written = Some(path);
    }
    Ok(ImportOutcome {
        yaml,
        apps,
        repos,
        resources: picks,
        notes: notes.clone(),
        residual_changes,
        written,
    })
}

/// The desired state already written: none at all (no folder, no file, only empty files)
/// is what adopting starts from, not an error.
fn desired_so_far(root: &Path) -> anyhow::Result<Desired> {
    match super::load_desired_or_empty(root) {
        Err(e)
            if e.downcast_ref::<crate::core::desired::LoadErrors>()
                .is_some_and(|l| {
                    l.0.iter()
                        .all(|e| e.message.starts_with("no desired state"))
                }) =>
        {
            Ok(Desired::default())
        }
        other => other,
    }
}

/// The live resources of `provider` that are unmanaged: not named by desired/, not in the
/// managed set (a managed app gone from desired/ is being retired, not adopted), and not
/// matched by `.infra/ignore` (as `fly.app.<name>` or `github.repo.<owner/repo>`).
pub fn not_desired(
    desired: &Desired,
    lifecycle: &crate::core::lifecycle::Lifecycle,
    provider: ProviderName,
    live: Vec<String>,
) -> Vec<String> {
    let managed = |name: &str| {
        lifecycle.managed.keys().any(|a| match (provider, a) {
            (ProviderName::Fly, Address::FlyApp { app, .. }) => app == name,
            (ProviderName::Github, a) => repo_of(a) == Some(name),
            _ => false,
        })
    };
    let ignored = |name: &str| match provider {
        ProviderName::Fly => lifecycle.ignore.matches_str(&format!("fly.app.{name}")),
        ProviderName::Github => lifecycle.ignore.matches_str(&format!("github.repo.{name}")),
        _ => false,
    };
    live.into_iter()
        .filter(|name| !managed(name) && !ignored(name))
        .filter(|name| match provider {
            ProviderName::Fly => !desired
                .fly
                .as_ref()
                .is_some_and(|f| f.apps.contains_key(name)),
            ProviderName::Github => !desired
                .github
                .as_ref()
                .is_some_and(|g| g.repos.contains_key(name)),
            _ => true,
        })
        .collect()
}

/// What the imported YAML must leave out to load beside `desired` (each is defined in one
/// place only): the `providers.github` entry desired/ has already, and Actions secrets of a
/// repository whose `actions_secrets` list desired/ already writes (named in a note, to add
/// to that list by hand).
fn beside(desired: &Desired, imported: &mut Imported) {
    if desired.providers.contains_key(&ProviderName::Github) {
        imported.desired.providers.remove(&ProviderName::Github);
    }
    let (Some(have), Some(new)) = (&desired.github, &mut imported.desired.github) else {
        return;
    };
    for (repo, r) in &mut new.repos {
        let listed = have
            .repos
            .get(repo)
            .is_some_and(|h| !h.actions_secrets.is_empty());
        if listed && !r.actions_secrets.is_empty() {
            let names: Vec<&str> = r.actions_secrets.iter().map(|s| s.name.as_str()).collect();
            imported.notes.push(format!(
                "github.repo.{repo}: add {} to its `actions_secrets` in desired/ (the list is defined in one place)",
                names.join(", ")
            ));
            r.actions_secrets.clear();
        }
    }
}

/// The unmanaged GitHub resources `--provider github` imports one by one: those of the
/// managed repositories and organizations (the inventory `plan` lists), and the rulesets of
/// the organizations owning `repos` (the repositories imported whole) that desired/ does not
/// name — each neither desired, managed nor ignored.
async fn unmanaged_github(
    req: &ImportRequest<'_>,
    desired: &Desired,
    lifecycle: &mut crate::core::lifecycle::Lifecycle,
    gh: &crate::providers::github::GithubProvider,
    repos: &[String],
) -> anyhow::Result<Vec<Address>> {
    let mut inventory = super::lifecycle::github_inventory(req.root, desired, req.creds).await;
    let named_orgs = desired.github.as_ref().map(|g| &g.orgs);
    let owners: BTreeSet<&str> = repos
        .iter()
        .filter_map(|r| r.split_once('/').map(|(owner, _)| owner))
        .filter(|owner| !named_orgs.is_some_and(|o| o.contains_key(*owner)))
        .collect();
    for owner in owners {
        inventory.extend(gh.org_inventory(owner).await.map_err(err)?);
    }
    lifecycle.inventory = inventory;
    let expected = crate::core::lower::lower(desired);
    // Only the GitHub inventory: no live Fly secret names come into it here.
    let no_fly = LiveSnapshot::new(String::new());
    Ok(crate::core::lifecycle::unmanaged(
        lifecycle, &expected, &no_fly,
    ))
}

/// The repository a GitHub repository-level address is under.
fn repo_of(a: &Address) -> Option<&str> {
    match a {
        Address::GithubProtection { repo, .. }
        | Address::GithubSecret { repo, .. }
        | Address::GithubEnvironment { repo, .. }
        | Address::GithubRepoRuleset { repo, .. }
        | Address::GithubSettings { repo }
        | Address::GithubCollaborator { repo, .. }
        | Address::GithubTeam { repo, .. }
        | Address::GithubVariable { repo, .. } => Some(repo),
        _ => None,
    }
}

/// The apps, repositories and single GitHub resources the addresses name: `fly.app.<a>[.…]`,
/// `github.repo.<owner>/<repo>`, a GitHub address under a repository or an organization's
/// ruleset.
type Named = (Vec<String>, Vec<String>, Vec<Address>);

fn named(addresses: &[String]) -> anyhow::Result<Named> {
    let (mut apps, mut repos, mut picks) = (Vec::new(), Vec::new(), Vec::new());
    for a in addresses {
        let parsed = Address::parse(a)
            .ok()
            .filter(|p| p.provider() == ProviderName::Github.as_str());
        if let Some(app) = a.strip_prefix("fly.app.") {
            apps.push(app.split('.').next().unwrap_or(app).to_string());
        } else if let Some(address) =
            parsed.filter(|p| repo_of(p).is_some() || matches!(p, Address::GithubOrgRuleset { .. }))
        {
            picks.push(address);
        } else if let Some(repo) = a
            .strip_prefix("github.repo.")
            .filter(|r| r.matches('/').count() == 1 && !r.starts_with('/') && !r.ends_with('/'))
        {
            repos.push(repo.to_string());
        } else {
            return Err(crate::hinted!(
                hint = "import takes `fly.app.NAME`, `github.repo.OWNER/REPO`, an address under a repository (`github.repo.OWNER/REPO.variable.NAME`, …) or `github.org.ORG.ruleset.NAME`",
                "`{a}` cannot be imported"
            ));
        }
    }
    Ok((apps, repos, picks))
}

fn err(e: ProviderError) -> anyhow::Error {
    anyhow::anyhow!("{} [{}]: {}", e.provider, e.code, e.message)
}

fn fly(
    creds: &Credentials,
    http: &crate::providers::Http,
) -> anyhow::Result<crate::providers::fly::FlyProvider> {
    crate::providers::fly::FlyProvider::new(creds, http.clone()).map_err(err)
}

fn github(
    creds: &Credentials,
    http: &crate::providers::Http,
) -> anyhow::Result<crate::providers::github::GithubProvider> {
    crate::providers::github::GithubProvider::new(creds, http.clone()).map_err(err)
}

/// The live objects import reads, through the providers' refresh.
async fn read(
    creds: &Credentials,
    http: &crate::providers::Http,
    apps: &[String],
    repos: &[String],
    picks: &[Address],
) -> anyhow::Result<LiveSnapshot> {
    let mut live = LiveSnapshot::new(crate::providers::now_rfc3339());
    if !apps.is_empty() {
        let f = fly(creds, http)?;
        // An app of several process groups: each group's machines are read on their own
        // (import writes each group's sections from them, as plan reads them).
        let mut groups = Vec::new();
        for app in apps {
            let found = f.process_groups(app).await.map_err(err)?;
            if found.len() > 1 {
                groups.extend(found.into_iter().map(|group| Address::FlyProcess {
                    app: app.clone(),
                    group,
                }));
            }
        }
        let p = Provider::Fly(f);
        let first: Vec<Address> = apps
            .iter()
            .flat_map(|app| {
                let app = app.clone();
                [
                    Address::FlyApp { app: app.clone() },
                    Address::FlySecrets { app: app.clone() },
                    Address::FlyMachines { app: app.clone() },
                    Address::FlyIps { app },
                ]
            })
            .chain(groups)
            .collect();
        live.resources.extend(p.refresh(&first).await.map_err(err)?);
        let volumes: Vec<Address> = live
            .resources
            .iter()
            .filter_map(|(a, v)| match a {
                // Each group's mounts: a lone `machines` object is the first machine's.
                Address::FlyMachines { app } | Address::FlyProcess { app, .. } => Some((app, v)),
                _ => None,
            })
            .flat_map(|(app, v)| {
                v.pointer("/config/mounts")
                    .and_then(serde_json::Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m.get("name")?.as_str())
                    .map(|name| Address::FlyVolume {
                        app: app.clone(),
                        name: name.to_string(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        live.resources
            .extend(p.refresh(&volumes).await.map_err(err)?);
    }
    if !repos.is_empty() || !picks.is_empty() {
        let g = github(creds, http)?;
        let mut addresses = picks.to_vec();
        for repo in repos {
            addresses.extend(g.repo_inventory(repo).await.map_err(err)?);
        }
        live.resources
            .extend(Provider::Github(g).refresh(&addresses).await.map_err(err)?);
    }
    for p in [ProviderName::Fly, ProviderName::Github] {
        live.resources.insert(
            Address::Provider {
                name: p.as_str().to_string(),
            },
            serde_json::json!({ "activation": "active" }),
        );
    }
    Ok(live)
}

/// The changes a plan of `desired` against `live` shows (0: the import is exact).
fn residual(root: &Path, desired: &Desired, live: &LiveSnapshot) -> anyhow::Result<usize> {
    let hour = std::time::Duration::from_secs(3600);
    let options = super::plan::plan_options(root, hour, Vec::new())?;
    let plan = crate::core::plan::build(desired, live, &options)?;
    Ok(plan
        .changes
        .iter()
        .filter(|c| c.action != crate::core::plan::ChangeKind::NoOp)
        .count())
}
