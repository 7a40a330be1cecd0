//! The policy's verdicts on a plan, as the text and markdown renderings show them: the
//! policy's digest, and each warning with what it costs (one more distinct signer). A plan
//! file never carries a `deny` (a denied plan is not written), but a rendering of one that
//! did would show them first.

use crate::core::hint::escape_name;
use crate::core::plan::Plan;

/// The lines of the terminal rendering (none without a policy).
pub fn text_lines(plan: &Plan) -> Vec<String> {
    let Some(p) = &plan.policy else {
        return Vec::new();
    };
    let mut out = vec![format!("Policy {}: {}", short(&p.digest), summary(plan))];
    for m in &p.deny {
        out.push(format!("  deny: {}", escape_name(m)));
    }
    for m in &p.warn {
        out.push(format!("  warn: {}", escape_name(m)));
    }
    out
}

/// The PR comment's policy section (empty without a policy): a GitHub alert when the
/// policy warns, one line when it passes.
pub fn markdown(plan: &Plan) -> String {
    let Some(p) = &plan.policy else {
        return String::new();
    };
    if p.deny.is_empty() && p.warn.is_empty() {
        return format!("**Policy** (`{}`): {}\n\n", short(&p.digest), summary(plan));
    }
    let alert = if p.deny.is_empty() {
        "WARNING"
    } else {
        "CAUTION"
    };
    let mut out = format!(
        "> [!{alert}]\n> **Policy** (`{}`): {}\n",
        short(&p.digest),
        summary(plan)
    );
    for m in &p.deny {
        out.push_str(&format!("> - **deny**: {}\n", markdown_text(m)));
    }
    for m in &p.warn {
        out.push_str(&format!("> - **warn**: {}\n", markdown_text(m)));
    }
    out.push('\n');
    out
}

/// `no warnings` | `1 warning: one more distinct signer needed` | `N warnings: …`.
fn summary(plan: &Plan) -> String {
    let Some(p) = &plan.policy else {
        return String::new();
    };
    let deny = match p.deny.len() {
        0 => String::new(),
        n => format!("{n} denied, "),
    };
    match p.warn.len() {
        0 => format!("{deny}passes, no warnings."),
        1 => format!("{deny}1 warning: the plan needs one more distinct signer."),
        n => format!("{deny}{n} warnings: the plan needs {n} more distinct signers."),
    }
}

/// `sha256:` and the first 12 hex digits: enough to tell policies apart at a glance (the
/// plan file holds the whole digest).
fn short(digest: &str) -> &str {
    const SHOWN: usize = "sha256:".len() + 12;
    digest.get(..SHOWN).unwrap_or(digest)
}

/// A message in a comment: one line, with no HTML (a name in it cannot open a tag).
fn markdown_text(message: &str) -> String {
    escape_name(message)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
