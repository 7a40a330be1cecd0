//! What plan and drift know of a resource's lifecycle beyond desired and live (issue 14):
//! the backend's managed set, the secret names sophia set (the journal's ledger), the
//! `.infra/ignore` globs, and the live inventory of the
//! managed scopes — the apps of the Fly organization, and the Actions secrets, environments
//! and rulesets of the managed repositories. All reads; nothing is written.

use std::path::Path;

use anyhow::Context as _;

use crate::core::address::Address;
use crate::core::desired::{Activation, Desired, ProviderName};
use crate::core::lifecycle::secrets::SecretsSet;
use crate::core::lifecycle::{Ignore, Lifecycle};
use crate::providers::Credentials;
use crate::providers::fly::FlyProvider;
use crate::providers::github::GithubProvider;

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
    let ignore = read_ignore(root)?;
    let backend = crate::backend::Backend::from_env(root).await?;
    let managed = backend.managed().await?;
    let inventory = if inventory {
        read_inventory(desired, creds).await
    } else {
        Vec::new()
    };
    Ok(Lifecycle {
        managed,
        inventory,
        ignore,
        secrets_set: secrets_set(&backend).await,
    })
}

/// The secret names sophia set and has not removed since, from the journal's ledger. An
/// unreadable journal is `None`, with a warning: then no secret name is unset, nor listed
/// as unmanaged (which ones are sophia's is unknown).
pub async fn secrets_set(backend: &crate::backend::Backend) -> Option<SecretsSet> {
    match backend.secret_ledger().await {
        Ok(ledger) => Some(ledger.names()),
        Err(e) => {
            tracing::warn!("the secrets ledger was not read: {e:#}");
            None
        }
    }
}

/// The live addresses of the managed scopes.
pub async fn read_inventory(desired: &Desired, creds: &Credentials) -> Vec<Address> {
    let active = |p| desired.activation(p) == Some(Activation::Active);
    let http = creds.http();
    let mut out = Vec::new();
    if let (true, Some(org)) = (
        active(ProviderName::Fly),
        desired.fly.as_ref().and_then(|f| f.org.as_deref()),
    ) {
        match FlyProvider::new(creds, http.clone()) {
            Ok(fly) => match fly.app_names(org).await {
                Ok(apps) => out.extend(apps.into_iter().map(|app| Address::FlyApp { app })),
                Err(e) => tracing::warn!("listing the apps of `{org}`: {}", e.message),
            },
            Err(e) => tracing::warn!("listing Fly apps: {}", e.message),
        }
    }
    if let (true, Some(github)) = (active(ProviderName::Github), desired.github.as_ref())
        && !github.repos.is_empty()
    {
        match GithubProvider::new(creds, http) {
            Ok(gh) => {
                for repo in github.repos.keys() {
                    match gh.inventory(repo).await {
                        Ok(found) => out.extend(found),
                        Err(e) => tracing::warn!("listing what `{repo}` holds: {}", e.message),
                    }
                }
            }
            Err(e) => tracing::warn!("listing GitHub repositories: {}", e.message),
        }
    }
    out
}
