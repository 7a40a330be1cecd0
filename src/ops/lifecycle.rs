//! What plan and drift know of a resource's lifecycle beyond desired and live (issue 14):
//! the backend's managed set, the secret names sophia set (the journal's ledger), the
//! `.infra/ignore` globs, and the live inventory of the managed scopes — the apps of the Fly
//! organization; the Actions secrets and variables, environments, rulesets, direct
//! collaborators and teams of the managed repositories; the rulesets of the managed
//! organizations. All reads; nothing is written but the ETag cache of the GitHub reads (the
//! one refresh keeps, [`super::refresh::CachedReads`]).

use std::path::Path;

use anyhow::Context as _;
use futures::StreamExt as _;

use crate::core::address::Address;
use crate::core::desired::{Activation, Desired, ProviderName};
use crate::core::lifecycle::secrets::SecretsSet;
use crate::core::lifecycle::{Ignore, Lifecycle};
use crate::core::rotation::Ledger;
use crate::providers::Credentials;
use crate::providers::fly::FlyProvider;
use crate::providers::github::GithubProvider;

/// Repositories whose inventory is read at once: each reads six listings together, so four
/// keep a 16-request HTTP layer full without queueing a whole organization's worth.
const REPOS_AT_ONCE: usize = 4;

/// `.infra/ignore`, relative to the repository root.
pub const IGNORE_FILE: &str = ".infra/ignore";

/// The globs of `.infra/ignore` (none when the file does not exist). A line that is not a
/// glob is an error naming `file:line:column`.
pub fn read_ignore(root: &Path) -> anyhow::Result<Ignore> {
    let path = root.join(IGNORE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ignore::default()),
        Err(e) => return Err(e).with_context(|| format!("reading `{IGNORE_FILE}`")),
    };
    Ignore::parse(IGNORE_FILE, &text).map_err(|e| {
        let hint = crate::core::hint::Hint::hint(&e).unwrap_or_default();
        crate::hinted!(hint = hint, "{e}")
    })
}

/// The managed set and the ignore globs of the repository at `root`; with `inventory`, the
/// live inventory of the managed scopes too (read with `creds`; a scope that cannot be
/// listed is left out with a warning: the unmanaged report is advice, not a gate).
pub async fn load(
    root: &Path,
    desired: &Desired,
    creds: &Credentials,
    inventory: bool,
) -> anyhow::Result<Lifecycle> {
    Ok(load_with_ledger(root, desired, creds, inventory).await?.0)
}

/// [`load`], with the secrets ledger it read the secrets set from (`None`: unreadable), for
/// the refresh that lays rotations over live state ([`super::refresh::read_live_plus`]): the
/// journal is read once per plan, not twice.
pub async fn load_with_ledger(
    root: &Path,
    desired: &Desired,
    creds: &Credentials,
    inventory: bool,
) -> anyhow::Result<(Lifecycle, Option<Ledger>)> {
    let ignore = read_ignore(root)?;
    let backend = crate::backend::Backend::from_env(root).await?;
    let managed = backend.managed().await?;
    let inventory = if inventory {
        read_inventory(root, desired, creds).await
    } else {
        Vec::new()
    };
    let ledger = super::refresh::read_ledger(&backend).await;
    let lifecycle = Lifecycle {
        managed,
        inventory,
        ignore,
        secrets_set: secrets_set(ledger.as_ref()),
    };
    Ok((lifecycle, ledger))
}

/// The secret names sophia set and has not removed since, from the journal's ledger. An
/// unreadable journal is `None`: then no secret name is unset, nor listed as unmanaged
/// (which ones are sophia's is unknown).
pub fn secrets_set(ledger: Option<&Ledger>) -> Option<SecretsSet> {
    ledger.map(Ledger::names)
}

/// The live addresses of the managed scopes: the apps of `fly.org`, what each repository of
/// `github.repos` holds, the rulesets of each organization of `github.orgs`. GitHub's
/// listings are conditional GETs through the backend's ETag cache, as refresh's are.
pub async fn read_inventory(root: &Path, desired: &Desired, creds: &Credentials) -> Vec<Address> {
    let active = |p| desired.activation(p) == Some(Activation::Active);
    let mut out = Vec::new();
    if let (true, Some(org)) = (
        active(ProviderName::Fly),
        desired.fly.as_ref().and_then(|f| f.org.as_deref()),
    ) {
        match FlyProvider::new(creds, creds.http()) {
            Ok(fly) => match fly.app_names(org).await {
                Ok(apps) => out.extend(apps.into_iter().map(|app| Address::FlyApp { app })),
                Err(e) => tracing::warn!("listing the apps of `{org}`: {}", e.message),
            },
            Err(e) => tracing::warn!("listing Fly apps: {}", e.message),
        }
    }
    out.extend(github_inventory(root, desired, creds).await);
    out
}

/// The GitHub part of [`read_inventory`]: what the managed repositories hold and the
/// rulesets of the managed organizations (nothing when GitHub is not active).
pub async fn github_inventory(root: &Path, desired: &Desired, creds: &Credentials) -> Vec<Address> {
    let mut out = Vec::new();
    if let (Some(Activation::Active), Some(github)) = (
        desired.activation(ProviderName::Github),
        desired.github.as_ref(),
    ) && !(github.repos.is_empty() && github.orgs.is_empty())
    {
        let reads = super::refresh::CachedReads::open(root, creds).await;
        match GithubProvider::new(creds, reads.http.clone()) {
            Ok(gh) => {
                // Repositories side by side, in order (the HTTP layer bounds the requests
                // in flight; a few repositories at once keep it busy).
                let gh = &gh;
                let mut listed = futures::stream::iter(github.repos.keys())
                    .map(|repo| async move { (repo, gh.inventory(repo).await) })
                    .buffered(REPOS_AT_ONCE);
                while let Some((repo, found)) = listed.next().await {
                    match found {
                        Ok(found) => out.extend(found),
                        Err(e) => tracing::warn!("listing what `{repo}` holds: {}", e.message),
                    }
                }
                for org in github.orgs.keys() {
                    match gh.org_inventory(org).await {
                        Ok(found) => out.extend(found),
                        Err(e) => tracing::warn!("listing the rulesets of `{org}`: {}", e.message),
                    }
                }
            }
            Err(e) => tracing::warn!("listing GitHub repositories: {}", e.message),
        }
        reads.store().await;
    }
    out
}
