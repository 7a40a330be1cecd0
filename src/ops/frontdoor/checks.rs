//! Names and values given on the command line are checked with the desired state's own rules
//! ([`crate::core::desired::names`]) before anything runs: `--app` is a Fly app name, a
//! payload's `repo` is `owner/repo`, `branch` a branch name, `secret_names` secret names,
//! `image` an image reference, `path` a health path that stays under the app. A name that
//! would reach a URL or an address is therefore the same kind of name `desired/` accepts.
//!
//! Image references follow the OCI distribution grammar (as `docker/distribution`'s
//! `reference` package): `[host[:port]/]component[/component…][:tag][@algorithm:hex]`.

use super::payload::{OpSpec, Payload, PayloadError};
use crate::core::desired::names::Rule;
use crate::providers::fly::printable;

/// The longest tag the OCI distribution spec allows.
const MAX_TAG: usize = 128;
/// The longest required-check name: GitHub's contexts are short labels; 255 matches its
/// other name limits and refuses pasted text.
const MAX_CHECK: usize = 255;

/// Check `--app` and every name of the payload; the error names the key and the rule.
pub fn check(spec: &OpSpec, app: Option<&str>, payload: &Payload) -> Result<(), PayloadError> {
    let bad = |key: &str, value: &str, reason: String, hint: &str| PayloadError::InvalidName {
        op: spec.name(),
        key: key.to_string(),
        value: printable(value),
        reason: printable(&reason),
        hint: hint.to_string(),
    };
    let rule = |key: &str, value: &str, rule: Rule| {
        rule.check(value)
            .map_err(|reason| bad(key, value, reason, rule.hint()))
    };
    if let Some(app) = app {
        rule("--app", app, Rule::FlyName)?;
    }
    match payload {
        Payload::FlyHealth(p) => {
            if let Some(path) = &p.path {
                health_path(path).map_err(|reason| {
                    bad(
                        "path",
                        path,
                        reason,
                        "write the path under the app's URL, e.g. `/healthz`",
                    )
                })?;
            }
        }
        Payload::FlyDeploy(p) => {
            if let Some(image) = &p.image {
                rule("image", image, Rule::Image)?;
                image_reference(image)
                    .map_err(|reason| bad("image", image, reason, Rule::Image.hint()))?;
            }
        }
        Payload::FlySetSecrets(p) => {
            for n in &p.secret_names {
                rule("secret_names", n, Rule::SecretName)?;
            }
        }
        Payload::GithubProtect(p) => {
            if let Some(repo) = &p.repo {
                rule("repo", repo, Rule::OwnerRepo)?;
            }
            if let Some(branch) = &p.branch {
                rule("branch", branch, Rule::Branch)?;
            }
            for c in p.required_checks.iter().flatten() {
                if c.trim().is_empty()
                    || c.chars().count() > MAX_CHECK
                    || c.contains(char::is_control)
                {
                    return Err(bad(
                        "required_checks",
                        c,
                        format!("expected 1 to {MAX_CHECK} characters without control characters"),
                        "write the check's name as GitHub shows it, e.g. `build`",
                    ));
                }
            }
        }
        Payload::GithubAudit(p) => {
            if let Some(repo) = &p.repo {
                rule("repo", repo, Rule::OwnerRepo)?;
            }
        }
        Payload::GithubRules(p) => {
            rule("repo", &p.repo, Rule::OwnerRepo)?;
            rule("branch", &p.branch, Rule::Branch)?;
        }
        _ => {}
    }
    Ok(())
}

/// A health path: starts with `/`, no control characters, no `.` or `..` segment.
fn health_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err("it does not start with `/`".into());
    }
    if path.contains(char::is_control) {
        return Err("it holds control characters".into());
    }
    if path.split('/').any(|s| matches!(s, "." | "..")) {
        return Err("it has a `.` or `..` segment".into());
    }
    Ok(())
}

/// An image reference as the OCI distribution grammar defines it.
pub fn image_reference(s: &str) -> Result<(), String> {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let (alg, hex) = d
            .split_once(':')
            .ok_or_else(|| format!("the digest `{d}` is not `algorithm:hex`"))?;
        let alg_ok = !alg.is_empty()
            && alg
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c));
        if !alg_ok || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("the digest `{d}` is not `sha256:<64 hex digits>`"));
        }
    }
    // A `:` after the last `/` starts the tag; one before it is the registry's port.
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if let Some(tag) = tag {
        let mut chars = tag.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !first_ok
            || tag.len() > MAX_TAG
            || !chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(format!(
                "the tag `{tag}` is not 1 to {MAX_TAG} of letters, digits, `_`, `.` and `-`"
            ));
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    // The first part is a registry host when it looks like one (a `.` or `:`, or `localhost`).
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        let host = parts.remove(0);
        let (h, port) = match host.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host, None),
        };
        let host_ok = !h.is_empty()
            && h.split('.').all(|l| {
                !l.is_empty()
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        let port_ok = port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        if !host_ok || !port_ok {
            return Err(format!("the registry `{host}` is not `host[:port]`"));
        }
    }
    for part in &parts {
        if !path_component(part) {
            return Err(format!(
                "`{part}` is not a repository path component (lowercase letters and digits, \
                 separated by `.`, `_`, `__` or dashes)"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn path_component(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let b = s.as_bytes();
    if b.is_empty() || !alnum(b[0] as char) || !alnum(b[b.len() - 1] as char) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if alnum(c) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i] as char) {
            i += 1;
        }
        let sep = &s[start..i];
        let dashes = sep.chars().all(|c| c == '-');
        if !(sep == "." || sep == "_" || sep == "__" || dashes) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_follow_the_distribution_grammar() {
        for ok in [
            "nginx",
            "nginx:1.27",
            "registry.fly.io/sophiaai-dashboard-v2:deployment-01",
            "localhost:5000/a/b__c:v1",
            "ghcr.io/ai-cherry/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "registry.fly.io/x:tag@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(image_reference(ok), Ok(()), "{ok}");
        }
        for bad in [
            "x y",
            "EVIL:1",
            "a:",
            ":tag",
            "a//b",
            "a/-b",
            "a@sha256:xyz",
            "reg:port/a",
            "a:t@g",
            "-a",
            "a/b:.tag",
        ] {
            assert!(image_reference(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn health_paths_stay_under_the_app() {
        assert!(health_path("/healthz").is_ok());
        assert!(health_path("healthz").is_err());
        assert!(health_path("/../etc").is_err());
        assert!(health_path("/a\u{0}").is_err());
    }
}
