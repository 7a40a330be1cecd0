//! Reading live state (`sophia refresh`, and every operation that plans).
//!
//! [`read_live`] is the one way live state is read: every active provider the desired state
//! manages, then the repository's activation record laid over the `provider.<p>` objects
//! (see [`crate::providers::activation`]). `plan`, `refresh`, `drift` and the demo all call
//! it, so they see the same live state.
//!
//! When a provider cannot be read (e.g. it is active but `not-configured`), every other
//! provider is still read and the errors come back beside the snapshot: a partial snapshot
//! would make the unread provider's resources look absent, so callers refuse to save it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::core::desired::Desired;
use crate::core::envelope::EnvelopeError;
use crate::core::live::{LIVE_FORMAT, LiveSnapshot};
use crate::providers::{Credentials, activation};

/// Live state of everything `desired` manages, read with `creds`, with the activation record
/// of the repository at `root` laid over it; and the errors of the providers that could not
/// be read.
///
/// GitHub reads are conditional: the ETag cache is loaded from the backend before and stored
/// after, so a refresh with nothing changed is answered by 304s. A backend that cannot be
/// opened or read only means no cache (the reads are made in full).
pub async fn read_live(
    root: &Path,
    desired: &Desired,
    creds: &Credentials,
) -> anyhow::Result<(LiveSnapshot, Vec<EnvelopeError>)> {
    read_live_plus(root, desired, creds, &[], None).await
}

/// [`read_live`], reading the `extra` addresses too (the retired managed ones). `ledger` is
/// the journal's secrets ledger when the caller has read it already (a plan reads it for
/// the lifecycle); otherwise it is read here.
pub async fn read_live_plus(
    root: &Path,
    desired: &Desired,
    creds: &Credentials,
    extra: &[crate::core::address::Address],
    ledger: Option<&crate::core::rotation::Ledger>,
) -> anyhow::Result<(LiveSnapshot, Vec<EnvelopeError>)> {
    let reads = CachedReads::open(root, creds).await;
    let mut read = crate::providers::refresh_all_plus(desired, creds, &reads.http, extra).await;
    reads.store().await;
    // Secrets: the rotation of sophia's last set, or that they were set outside it (see
    // `core::rotation`). An unreadable journal reads as no set at all.
    let own;
    let ledger = match (ledger, &reads.backend) {
        (Some(l), _) => Some(l),
        (None, Some(b)) => {
            own = read_ledger(b).await;
            own.as_ref()
        }
        (None, None) => None,
    };
    if let Some(ledger) = ledger {
        crate::core::rotation::overlay(&mut read.0.resources, ledger);
    }
    activation::with_record(root, read)
}

/// The journal's secrets ledger; an unreadable journal is `None`, with a warning.
pub async fn read_ledger(
    backend: &crate::backend::Backend,
) -> Option<crate::core::rotation::Ledger> {
    match backend.secret_ledger().await {
        Ok(ledger) => Some(ledger),
        Err(e) => {
            tracing::warn!("the secrets ledger was not read: {e:#}");
            None
        }
    }
}

/// The HTTP layer of provider reads whose conditional GETs use the ETag cache kept in the
/// backend (DESIGN.md, "GitHub governance"): loaded by [`CachedReads::open`], stored back by
/// [`CachedReads::store`]. Refresh and the unmanaged inventory both read through it, so a
/// second plan with nothing changed is answered by 304s. A backend that cannot be opened or
/// read only means no cache (the reads are made in full).
pub struct CachedReads {
    pub http: crate::providers::Http,
    cache: crate::providers::http::EtagCache,
    pub backend: Option<crate::backend::Backend>,
}

impl CachedReads {
    /// The backend's cache of the repository at `root`, under `creds`' HTTP layer.
    pub async fn open(root: &Path, creds: &Credentials) -> CachedReads {
        let backend = crate::backend::Backend::from_env(root).await.ok();
        let entries = match &backend {
            Some(b) => b.load_http_cache().await.unwrap_or_default(),
            None => Default::default(),
        };
        let cache = crate::providers::http::EtagCache::from_entries(entries);
        CachedReads {
            http: creds.http().with_etags(cache.clone()),
            cache,
            backend,
        }
    }

    /// Keep the answers read since [`CachedReads::open`] (a failure is only a warning: the
    /// next reads are then made in full).
    pub async fn store(&self) {
        if let Some(b) = &self.backend
            && let Err(e) = b.store_http_cache(&self.cache.entries()).await
        {
            tracing::warn!("the HTTP cache was not stored: {e:#}");
        }
    }
}

/// What `sophia refresh` is asked.
#[derive(Debug, Clone)]
pub struct RefreshRequest<'a> {
    /// The repository root.
    pub root: &'a Path,
    pub creds: &'a Credentials,
    /// Write the snapshot here (relative to the root), atomically; only when every provider
    /// was read.
    pub out: Option<PathBuf>,
}

/// What `sophia refresh` found.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub snapshot: LiveSnapshot,
    /// The providers that could not be read; when any, nothing was written.
    pub unread: Vec<EnvelopeError>,
    /// Where the snapshot was written (the root joined with `out`).
    pub written: Option<PathBuf>,
}

/// Read the live state of the desired state at `req.root`, and write it to `req.out`.
pub async fn refresh(req: &RefreshRequest<'_>) -> anyhow::Result<Refreshed> {
    let desired = crate::workspace::load_desired(req.root)?;
    let (snapshot, unread) = read_live(req.root, &desired, req.creds).await?;
    let mut written = None;
    if let (true, Some(out)) = (unread.is_empty(), &req.out) {
        let path = req.root.join(out);
        crate::proofs::atomic::write_atomic(&path, snapshot_text(&snapshot)?.as_bytes())?;
        written = Some(path);
    }
    Ok(Refreshed {
        snapshot,
        unread,
        written,
    })
}

/// A live snapshot as its file holds it: pretty JSON and a final newline.
pub fn snapshot_text(snapshot: &LiveSnapshot) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(snapshot)? + "\n")
}

/// The providers that could not be read, one line each: `provider [code]: message`.
pub fn describe_errors(errors: &[EnvelopeError]) -> String {
    let mut text = format!("{} provider(s) could not be read:", errors.len());
    for e in errors {
        text.push_str(&format!("\n  {} [{}]: {}", e.provider, e.code, e.message));
    }
    text
}

/// What to do about providers that could not be read, for a `purpose` such as "a plan": a
/// resource that does not exist or is hidden from the credential (`not-found`) is fixed in
/// `desired/` or in the credential's access; anything else by setting the variables named.
pub fn unread_hint(errors: &[EnvelopeError], purpose: &str) -> String {
    if errors
        .iter()
        .all(|e| e.code == crate::providers::fly::UNRESOLVED)
    {
        return "push the image, or correct its tag in desired/ (an image given as \
                `name@sha256:…` is deployed as given and needs no resolving)"
            .into();
    }
    let set =
        format!("set the variables named above (read-only credentials are enough for {purpose})");
    let not_found = errors.iter().filter(|e| e.code == "not-found").count();
    if not_found == 0 {
        return set;
    }
    let check = "check the repository and branch names in desired/, and that the credential \
                 named above can read that repository (a GitHub App must be installed on it, a \
                 token must have access to it)";
    if not_found == errors.len() {
        check.to_string()
    } else {
        format!("{check}; for the others, {set}")
    }
}

/// Read and check a live snapshot file; `shown` is its path as the user gave it.
pub fn load_snapshot(path: &Path, shown: &str) -> anyhow::Result<LiveSnapshot> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the live snapshot `{shown}`"))?;
    parse_snapshot(shown, &text)
}

/// Parse a live snapshot; `file` is the path shown in errors.
pub fn parse_snapshot(file: &str, text: &str) -> anyhow::Result<LiveSnapshot> {
    let hint = "a live snapshot is written by `sophia refresh --out live.json`";
    // One parse into the snapshot (a full `Value` tree first would double the time and the
    // peak memory of a large snapshot); the `format` is looked at on its own only to explain
    // a failure or a snapshot of another format.
    #[derive(serde::Deserialize)]
    struct Head {
        format: Option<serde_json::Value>,
    }
    let parsed = serde_json::from_str::<LiveSnapshot>(text);
    let format = match &parsed {
        Ok(snapshot) => Some(Some(serde_json::Value::from(snapshot.format.as_str()))),
        Err(_) => serde_json::from_str::<Head>(text).ok().map(|h| h.format),
    };
    let invalid = |e: &serde_json::Error| {
        crate::hinted!(
            hint = hint,
            "{file}:{}:{}: the live snapshot is not valid JSON: {}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        )
    };
    match format {
        // Not even JSON with a `format` field we could read: say why the JSON is bad.
        None => {
            if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
                return Err(invalid(&e));
            }
            return Err(crate::hinted!(
                hint = hint,
                "{file}: not a live snapshot: no `format` field, expected `\"format\": \"{LIVE_FORMAT}\"`"
            ));
        }
        Some(None) => {
            return Err(crate::hinted!(
                hint = hint,
                "{file}: not a live snapshot: no `format` field, expected `\"format\": \"{LIVE_FORMAT}\"`"
            ));
        }
        Some(Some(f)) if f.as_str() != Some(LIVE_FORMAT) => {
            let other = f.as_str().map_or_else(|| f.to_string(), str::to_string);
            return Err(crate::hinted!(
                hint = hint,
                "{file}: not a live snapshot: `format` is `{other}`, expected `{LIVE_FORMAT}`"
            ));
        }
        Some(Some(_)) => {}
    }
    parsed.map_err(|e| {
        crate::hinted!(
            hint = hint,
            "{file}:{}:{}: malformed live snapshot: {}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        )
    })
}

/// serde_json appends " at line L column C"; the errors show the position up front.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}
