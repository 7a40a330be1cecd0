//! The one place errors are printed: `error:` then each cause as `Caused by:`, then the
//! hints found in the error chain as `  hint:` lines. With `--json`, the normalized failure
//! envelope goes to stdout as well, the hint in its own field. Every printed string is
//! redacted and then escaped ([`crate::core::hint::escape`]).

use std::error::Error as StdError;

use super::Ctx;
use crate::core::envelope::{Envelope, EnvelopeError};
use crate::core::hint::{Hint, escape};

pub fn report(ctx: &Ctx, err: &anyhow::Error) {
    if let Some(errors) = err.downcast_ref::<crate::core::desired::LoadErrors>() {
        super::validate::report_load_errors(ctx, errors);
        return;
    }
    // Defence in depth: no secret value may reach stderr or stdout, even inside a message
    // from a server or a library.
    let redactor = redactor(ctx);
    let clean = |s: &str| escape(&redactor.redact(s));
    let mut text = format!("error: {}", clean(&err.to_string()));
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\nCaused by: {}", clean(&cause.to_string())));
    }
    let hints: Vec<String> = hints(err).iter().map(|h| clean(h)).collect();
    for hint in &hints {
        text.push_str(&format!("\n  hint: {hint}"));
    }
    eprintln!("{text}");
    if ctx.json {
        let message = clean(&err.to_string());
        let hint = (!hints.is_empty()).then(|| hints.join("\n"));
        let env = Envelope::failure(
            "sophia",
            vec![EnvelopeError::new("sophia", error_code(err), &message).with_hint(hint)],
            &message,
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            0,
        );
        println!("{}", serde_json::to_string_pretty(&env).unwrap_or_default());
    }
}

/// The hints of every error in the chain, outermost first, each once.
pub fn hints(err: &anyhow::Error) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in err.chain() {
        if let Some(h) = hint_of(e)
            && !out.contains(&h)
        {
            out.push(h);
        }
    }
    out
}

/// The hint of one error of a chain, if its type is one that carries hints.
fn hint_of(e: &(dyn StdError + 'static)) -> Option<String> {
    macro_rules! try_types {
        ($($t:ty),* $(,)?) => {
            $(if let Some(x) = e.downcast_ref::<$t>() {
                return Hint::hint(x);
            })*
        };
    }
    try_types!(
        crate::core::hint::Hinted,
        crate::approve::ApprovalError,
        crate::approve::sshsig::SignError,
        crate::approve::settings::SettingsError,
        crate::approve::allowed_signers::ParseError,
        crate::core::plan::PlanFileError,
        crate::core::plan::PlanError,
        crate::core::graph::GraphError,
        crate::core::diff::DiffError,
        crate::core::cost::PricesError,
        crate::apply::Refusal,
        crate::workspace::UnsafeWorkspace,
        crate::proofs::VerifyError,
        crate::proofs::NotWritable,
        crate::policy::PolicyError,
    );
    None
}

/// The normalized error code of an error: the refusals and provider errors keep theirs.
fn error_code(err: &anyhow::Error) -> &'static str {
    use crate::apply::Refusal;
    if let Some(e) = err.downcast_ref::<crate::approve::ApprovalError>() {
        return e.code();
    }
    if let Some(r) = err.downcast_ref::<Refusal>() {
        return match r {
            Refusal::Stale { .. } => "stale",
            Refusal::Unreadable { .. } => "not-configured",
            Refusal::MissingSecrets { .. } => "not-configured",
            Refusal::UnsupportedProvider { .. } => "invalid-input",
            Refusal::Replayed { .. } => "replayed",
            Refusal::ProofsNotWritable { .. } => "proofs-not-writable",
        };
    }
    if let Some(p) = err.downcast_ref::<crate::policy::PolicyError>() {
        return match p {
            crate::policy::PolicyError::Denied { .. } => "policy-denied",
            crate::policy::PolicyError::Stale { .. } => "stale",
            _ => "invalid-input",
        };
    }
    if let Some(crate::backend::LeaseError::Held(_)) = err.downcast_ref() {
        return "locked";
    }
    "error"
}

/// A redactor for every secret the repository's secrets map and the providers know.
fn redactor(ctx: &Ctx) -> crate::secrets::Redactor {
    let mut names: Vec<String> = crate::providers::Credentials::NAMES
        .iter()
        .filter(|n| n.contains("TOKEN") || n.contains("KEY") || n.ends_with("_ID"))
        .map(|n| n.to_string())
        .collect();
    if let Ok(map) = crate::secrets::load_map(&ctx.root) {
        names.extend(map.names().into_iter().map(String::from));
    }
    crate::secrets::Redactor::new(names.iter().filter_map(|n| std::env::var(n).ok()))
}
