//! The audit report (`sophia report --html FILE`): one self-contained page — inline CSS, no
//! script, no external resource — with every apply (signers, changes, policy verdicts, cost
//! delta, attestation, convergence) and every drift check, newest first. Every status is a
//! word as well as a colour, and the layout is one column that fits a phone's width.

use std::fmt::Write as _;

/// One apply, as the proofs tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditApply {
    /// RFC 3339, from the apply's summary proof.
    pub at: String,
    pub plan_digest: String,
    /// Who approved (signer principals and key fingerprints, or the `--approve` reviewer).
    pub approver: String,
    /// `succeeded` or `failed`.
    pub status: String,
    pub converged: bool,
    /// `(symbol, address)` of each change in the plan (`+`, `~`, `-`, `-/+`).
    pub changes: Vec<(String, String)>,
    /// `(action id, status)` of each action.
    pub actions: Vec<(String, String)>,
    /// The plan's policy verdicts (`deny:`/`warn:` lines); `None` when the plan has none.
    pub policy: Option<Vec<String>>,
    /// The plan's monthly cost delta; `None` when the plan records no cost.
    pub cost_delta: Option<String>,
    /// `verified`, `present (no public key to check it)`, `INVALID: …` or `none`.
    pub attestation: String,
}

/// One drift check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDrift {
    pub at: String,
    /// `drift`, `no drift` or `failed`.
    pub status: String,
    pub summary: String,
}

/// What the report shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audit {
    pub applies: Vec<AuditApply>,
    pub drifts: Vec<AuditDrift>,
    /// When the report was made (RFC 3339): an argument, the core reads no clock.
    pub generated_at: String,
}

const CSS: &str = "\
*{box-sizing:border-box}\
body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;padding:1rem;\
max-width:60rem;color:#1f2328;background:#fff}\
h1{font-size:1.5rem}h2{font-size:1.25rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}\
article{border:1px solid #d0d7de;border-radius:6px;padding:.75rem 1rem;margin:1rem 0}\
article h3{font-size:1.05rem;margin:.25rem 0}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem .75rem;margin:.5rem 0}\
dt{font-weight:600}dd{margin:0;min-width:0;overflow-wrap:anywhere}\
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.875em;\
overflow-wrap:anywhere}\
ul{padding-left:1.25rem;margin:.25rem 0}li{overflow-wrap:anywhere}\
.status{font-weight:700;padding:0 .35rem;border-radius:4px;border:1px solid currentColor}\
.ok{color:#1a7f37}.bad{color:#cf222e}.warn{color:#9a6700}\
@media (max-width:30rem){dl{grid-template-columns:1fr}dt{margin-top:.35rem}}\
@media print{.status{border:none}}";

/// HTML-escape text for an element or an attribute.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A status word in a box, coloured as well (`ok`, `bad` or `warn`).
fn status(word: &str, class: &str) -> String {
    format!("<span class=\"status {class}\">{}</span>", esc(word))
}

/// The page.
pub fn render(audit: &Audit) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>sophia audit report</title>\n<style>{CSS}</style>\n</head>\n<body>\n\
         <h1>sophia audit report</h1>\n<p>Generated {} from <code>proofs/</code>: {} \
         apply{}, {} drift check{}, newest first.</p>\n",
        esc(&audit.generated_at),
        audit.applies.len(),
        if audit.applies.len() == 1 { "" } else { "es" },
        audit.drifts.len(),
        if audit.drifts.len() == 1 { "" } else { "s" },
    );
    let _ = writeln!(out, "<section id=\"applies\">\n<h2>Applies</h2>");
    if audit.applies.is_empty() {
        let _ = writeln!(out, "<p>No apply is recorded.</p>");
    }
    for a in &audit.applies {
        apply_article(&mut out, a);
    }
    let _ = writeln!(
        out,
        "</section>\n<section id=\"drift\">\n<h2>Drift checks</h2>"
    );
    if audit.drifts.is_empty() {
        let _ = writeln!(out, "<p>No drift check is recorded.</p>");
    }
    for d in &audit.drifts {
        let class = match d.status.as_str() {
            "no drift" => "ok",
            "drift" => "warn",
            _ => "bad",
        };
        let _ = writeln!(
            out,
            "<article class=\"drift\">\n<h3>{} {}</h3>\n<p>{}</p>\n</article>",
            esc(&d.at),
            status(&d.status, class),
            esc(&d.summary)
        );
    }
    let _ = writeln!(out, "</section>\n</body>\n</html>");
    out
}

fn apply_article(out: &mut String, a: &AuditApply) {
    let ok = a.status == "succeeded";
    let _ = writeln!(
        out,
        "<article class=\"apply\">\n<h3>{} {}</h3>\n<dl>",
        esc(&a.at),
        status(&a.status, if ok { "ok" } else { "bad" })
    );
    let mut row = |term: &str, html: String| {
        let _ = writeln!(out, "<dt>{term}</dt><dd>{html}</dd>");
    };
    row("Plan", format!("<code>{}</code>", esc(&a.plan_digest)));
    row("Signed by", esc(&a.approver));
    row(
        "Converged",
        if a.converged {
            status("yes", "ok")
        } else {
            status("NO", "bad")
        },
    );
    let attestation_class = if a.attestation == "verified" {
        "ok"
    } else if a.attestation.starts_with("INVALID") {
        "bad"
    } else {
        "warn"
    };
    row("Attestation", status(&a.attestation, attestation_class));
    row(
        "Policy",
        match &a.policy {
            None => "not recorded in the plan".into(),
            Some(v) if v.is_empty() => status("passed", "ok"),
            Some(v) => list(v.iter().map(|l| esc(l))),
        },
    );
    row(
        "Cost delta",
        a.cost_delta
            .as_deref()
            .map(esc)
            .unwrap_or_else(|| "not recorded in the plan".into()),
    );
    row(
        &format!("Changes ({})", a.changes.len()),
        list(
            a.changes
                .iter()
                .map(|(sym, addr)| format!("<code>{}</code> <code>{}</code>", esc(sym), esc(addr))),
        ),
    );
    row(
        &format!("Actions ({})", a.actions.len()),
        list(
            a.actions
                .iter()
                .map(|(id, st)| format!("<code>{}</code>: {}", esc(id), esc(st))),
        ),
    );
    let _ = writeln!(out, "</dl>\n</article>");
}

fn list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.map(|i| format!("<li>{i}</li>")).collect();
    if items.is_empty() {
        "none".into()
    } else {
        format!("<ul>{}</ul>", items.concat())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped() {
        let audit = Audit {
            applies: vec![AuditApply {
                at: "t".into(),
                plan_digest: "sha256:x".into(),
                approver: "<script>alert(1)</script>".into(),
                status: "succeeded".into(),
                converged: true,
                changes: vec![("+".into(), "a&b".into())],
                actions: vec![],
                policy: None,
                cost_delta: None,
                attestation: "none".into(),
            }],
            drifts: vec![],
            generated_at: "now".into(),
        };
        let html = render(&audit);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("<code>a&amp;b</code>"));
    }
}
