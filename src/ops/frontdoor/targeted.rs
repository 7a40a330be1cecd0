//! The front door's mutating operations — `fly deploy`, `fly set-secrets`, `github protect` —
//! never change anything themselves. Each one:
//!
//! 1. applies its payload to a copy of the desired state (`deploy`: the image; `set-secrets`:
//!    the secret names the app must have; `protect`: required checks and reviews on the
//!    branch's protection);
//! 2. reads the live state of the affected provider only (read-only calls);
//! 3. plans with `--target` on the affected address (`fly.app.<a>.machines`,
//!    `fly.app.<a>.secrets`, `github.repo.<r>.branch.<b>.protection`), so the plan holds that
//!    change and what it depends on, nothing else;
//! 4. writes the plan file (`plan.json`, or `--out`) for the same signature and `apply` as
//!    any plan.
//!
//! The desired state with the payload applied is validated as `desired/` is (a payload cannot
//! plan what a desired file could not hold).
//!
//! The payload's change is not written back to `desired/*.yaml`: the next full plan would
//! revert it unless it is committed there too, which the command says.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::Context as _;

use super::payload::{OpSpec, Payload};
use super::{OpContext, OpOutcome, OpRequest};
use crate::core::address::Address;
use crate::core::desired::{
    Desired, Protection, ProviderName, RequiredPullRequestReviews, RequiredStatusChecks,
};
use crate::core::live::LiveSnapshot;
use crate::core::plan;
use crate::providers::{Provider, ProviderError, activation, desired_addresses, now_rfc3339};

/// The one repository of the desired state, for operations that take an optional `repo`.
pub fn only_repo(desired: &Desired) -> Result<String, ProviderError> {
    let repos: Vec<&String> = desired.github.iter().flat_map(|g| g.repos.keys()).collect();
    match repos.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(ProviderError::new(
            "github",
            "invalid-input",
            "no repository in desired/ (github.repos): give `repo` (owner/repo) in the payload",
        )),
        many => Err(ProviderError::new(
            "github",
            "invalid-input",
            format!(
                "desired/ has {} repositories ({}): give `repo` in the payload",
                many.len(),
                many.iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// The desired state with the payload applied, and the address to target.
pub fn apply_payload(
    desired: &Desired,
    spec: &OpSpec,
    app: Option<&str>,
    payload: &Payload,
) -> Result<(Desired, Address), ProviderError> {
    let mut d = desired.clone();
    let fly_app = |d: &mut Desired| -> Result<(), ProviderError> {
        let app = app.unwrap_or_default();
        if d.fly.as_ref().is_none_or(|f| !f.apps.contains_key(app)) {
            return Err(ProviderError::new(
                "fly",
                "invalid-input",
                format!("`{app}` is not an app of desired/ (fly.apps): add it there first"),
            ));
        }
        Ok(())
    };
    let address = match payload {
        Payload::FlyDeploy(p) => {
            fly_app(&mut d)?;
            let app = app.unwrap_or_default().to_string();
            if let Some(image) = &p.image {
                let a = d.fly.as_mut().and_then(|f| f.apps.get_mut(&app));
                if let Some(a) = a {
                    a.image = Some(image.clone());
                }
            }
            Address::FlyMachines { app }
        }
        Payload::FlySetSecrets(p) => {
            fly_app(&mut d)?;
            let app = app.unwrap_or_default().to_string();
            if let Some(a) = d.fly.as_mut().and_then(|f| f.apps.get_mut(&app)) {
                // The names asked for join the app's own (rotations kept).
                let mut list = a.secrets.clone().unwrap_or_default();
                let have: BTreeSet<String> = list.iter().map(|s| s.name.clone()).collect();
                for name in p.secret_names.iter().filter(|n| !have.contains(*n)) {
                    list.push(name.as_str().into());
                }
                list.sort();
                a.secrets = Some(list);
            }
            Address::FlySecrets { app }
        }
        Payload::GithubProtect(p) => {
            let repo = match &p.repo {
                Some(r) => r.clone(),
                None => only_repo(desired)?,
            };
            let branch = p.branch.clone().unwrap_or_else(|| "main".into());
            let github = d.github.get_or_insert_with(Default::default);
            let b = github
                .repos
                .entry(repo.clone())
                .or_default()
                .branches
                .entry(branch.clone())
                .or_default();
            let mut prot: Protection = b.protection.clone().flatten().unwrap_or_default();
            if let Some(checks) = &p.required_checks {
                let strict = prot
                    .required_status_checks
                    .clone()
                    .flatten()
                    .and_then(|c| c.strict)
                    .or(Some(true));
                prot.required_status_checks = Some(Some(RequiredStatusChecks {
                    strict,
                    contexts: Some(checks.clone()),
                    checks: None,
                }));
            }
            match p.require_review {
                Some(true) => {
                    let mut reviews = prot
                        .required_pull_request_reviews
                        .clone()
                        .flatten()
                        .unwrap_or_default();
                    // The original front door's "require review": one approving review.
                    reviews.required_approving_review_count =
                        reviews.required_approving_review_count.or(Some(1));
                    prot.required_pull_request_reviews = Some(Some(reviews));
                }
                Some(false) => {
                    prot.required_pull_request_reviews = Some(None::<RequiredPullRequestReviews>);
                }
                None => {}
            }
            b.protection = Some(Some(prot));
            Address::GithubProtection { repo, branch }
        }
        _ => {
            return Err(ProviderError::new(
                spec.provider,
                "internal",
                format!("`{}` is not a mutating operation", spec.name()),
            ));
        }
    };
    // The payload's change must make a desired state that `desired/` itself could hold:
    // the same validation as loading (names, image references, limits), as a backstop to
    // the front door's own checks.
    let locator = crate::core::desired::validate::Locator { files: Vec::new() };
    let errors = crate::core::desired::validate::validate(&d, &locator);
    if !errors.is_empty() {
        let messages: Vec<String> = errors
            .iter()
            .map(|e| crate::providers::fly::printable(&e.message))
            .collect();
        return Err(ProviderError::new(
            spec.provider,
            "invalid-input",
            format!(
                "the payload of `{}` gives an invalid desired state: {}",
                spec.name(),
                messages.join("; ")
            ),
        ));
    }
    Ok((d, address))
}

/// Make the targeted plan of a mutating operation and write it.
pub async fn plan(
    cx: &OpContext,
    spec: &OpSpec,
    req: &OpRequest,
    payload: &Payload,
    desired: &Desired,
) -> anyhow::Result<OpOutcome> {
    let started = Instant::now();
    let query = format!("{}.{}", spec.provider, spec.action);
    let fail = |e: ProviderError| {
        Ok(OpOutcome::Ran {
            envelope: super::failure(&query, e, started),
            proofs: Vec::new(),
        })
    };
    let (modified, address) = match apply_payload(desired, spec, req.app.as_deref(), payload) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let provider = ProviderName::parse(spec.provider).expect("fly or github");
    let configured = match Provider::configure(provider, &cx.creds, &cx.http)
        .expect("fly and github are implemented")
    {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let addresses = desired_addresses(&modified, provider);
    let (resources, images) = futures::join!(
        configured.refresh(&addresses),
        configured.resolve_images(&modified)
    );
    let (resources, images) = match resources.and_then(|r| images.map(|i| (r, i))) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let mut live = LiveSnapshot::new(now_rfc3339());
    live.resources.extend(resources);
    live.images = images;
    // As `refresh` does: a provider that answered is active, unless the activation record
    // says otherwise.
    live.resources.insert(
        Address::Provider {
            name: spec.provider.to_string(),
        },
        serde_json::json!({ "activation": "active" }),
    );
    let store = crate::proofs::ProofStore::of_repo(&cx.root);
    activation::overlay(&mut live, &activation::read(&store)?);

    let target = address.to_string();
    // As `sophia plan` makes its plans: the default time to live, the desired state's commit.
    let ttl = crate::ops::plan::default_ttl(&cx.root)?;
    let opts = crate::ops::plan::plan_options(&cx.root, ttl, vec![target.clone()])?;
    // The managed set, as `sophia plan` reads it: a protected address stays protected in a
    // targeted plan too, even once it is gone from desired/ (no live inventory: a targeted
    // plan lists no unmanaged resources).
    let lifecycle = crate::ops::lifecycle::load(&cx.root, &modified, &cx.creds, false).await?;
    let mut plan = plan::build_with(&modified, &live, &opts, &lifecycle)
        .with_context(|| format!("planning `{}` on `{target}`", spec.name()))?;
    // Judged by the repository's policy as every plan is (`apply` refuses one that is not).
    crate::policy::judge(&cx.root, &mut plan, &modified)?;
    let rel = req.out.clone().unwrap_or_else(|| "plan.json".into());
    let path = cx.root.join(&rel);
    let text = crate::core::render::json::render(&plan);
    crate::proofs::atomic::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("writing the plan to `{}`", path.display()))?;
    Ok(OpOutcome::Planned {
        plan: Box::new(plan),
        path: rel,
        targets: vec![target],
    })
}
