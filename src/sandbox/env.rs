//! The environment that points every provider at a sandbox: each base-URL variable of
//! DESIGN.md's provider table and a demo token for every provider. NEON_DATABASE_URL and
//! REDIS_URL name real servers (PostgreSQL, Redis) that the sandbox does not emulate.

/// `(variable, value)` pairs, in the order they are printed. With `read_only`, every token is
/// a read-only one (`ro-…`), as `plan` needs.
pub fn variables(url: &str, read_only: bool) -> Vec<(String, String)> {
    let url = url.trim_end_matches('/');
    let token = |t: &str| {
        if read_only {
            format!("ro-{t}")
        } else {
            t.to_string()
        }
    };
    let pairs: Vec<(&str, String)> = vec![
        ("FLY_FLAPS_BASE_URL", format!("{url}/fly/machines")),
        ("FLY_API_BASE_URL", format!("{url}/fly/api")),
        ("FLY_APP_URL_TEMPLATE", format!("{url}/fly/apps/{{app}}")),
        ("FLY_REGISTRY_URL", format!("{url}/fly/registry")),
        ("FLY_API_TOKEN", token("sandbox-fly-token")),
        ("GITHUB_API_URL", format!("{url}/github")),
        ("GITHUB_TOKEN", token("sandbox-github-token")),
        ("PORTKEY_BASE_URL", format!("{url}/portkey/v1")),
        ("PORTKEY_API_KEY", token("sandbox-portkey-key")),
        ("TAVILY_BASE_URL", format!("{url}/tavily")),
        ("TAVILY_API_KEY", token("sandbox-tavily-key")),
        ("SERPER_BASE_URL", format!("{url}/serper")),
        ("SERPER_API_KEY", token("sandbox-serper-key")),
        ("QDRANT_URL", format!("{url}/qdrant")),
        ("QDRANT_API_KEY", token("sandbox-qdrant-key")),
        ("MEM0_BASE_URL", format!("{url}/mem0")),
        ("MEM0_API_KEY", token("sandbox-mem0-key")),
        ("SLACK_API_URL", format!("{url}/slack/api")),
        ("SLACK_BOT_TOKEN", token("sandbox-slack-bot-token")),
        (
            "SLACK_SIGNING_SECRET",
            "sandbox-slack-signing-secret".into(),
        ),
        ("GONG_BASE_URL", format!("{url}/gong")),
        ("GONG_ACCESS_KEY", token("sandbox-gong-key")),
        ("LAMBDA_API_URL", format!("{url}/lambda/api/v1")),
        ("LAMBDA_LABS_API_KEY", token("sandbox-lambda-key")),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Single-quotes a value for a POSIX shell.
fn shell_quote(value: &str) -> String {
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:".contains(c))
    {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// The `export` lines, newline-terminated.
pub fn script(url: &str, read_only: bool) -> String {
    let mut out = String::from("# sophia sandbox at ");
    out.push_str(url.trim_end_matches('/'));
    out.push('\n');
    for (k, v) in variables(url, read_only) {
        out.push_str(&format!("export {k}={}\n", shell_quote(&v)));
    }
    out.push_str(
        "# NEON_DATABASE_URL and REDIS_URL are real servers (PostgreSQL, Redis); the sandbox does not emulate them.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_design_variable_is_exported() {
        let script = script("http://127.0.0.1:4000/", false);
        for var in [
            "FLY_FLAPS_BASE_URL",
            "FLY_API_BASE_URL",
            "FLY_API_TOKEN",
            "GITHUB_API_URL",
            "GITHUB_TOKEN",
            "PORTKEY_BASE_URL",
            "PORTKEY_API_KEY",
            "TAVILY_BASE_URL",
            "TAVILY_API_KEY",
            "SERPER_BASE_URL",
            "SERPER_API_KEY",
            "QDRANT_URL",
            "QDRANT_API_KEY",
            "MEM0_BASE_URL",
            "MEM0_API_KEY",
            "SLACK_API_URL",
            "SLACK_BOT_TOKEN",
            "SLACK_SIGNING_SECRET",
            "GONG_BASE_URL",
            "GONG_ACCESS_KEY",
            "LAMBDA_API_URL",
            "LAMBDA_LABS_API_KEY",
        ] {
            assert!(script.contains(&format!("export {var}=")), "{var} missing");
        }
        assert!(
            script.contains("export FLY_APP_URL_TEMPLATE='http://127.0.0.1:4000/fly/apps/{app}'")
        );
        assert!(!script.contains("export NEON_DATABASE_URL"));
    }

    #[test]
    fn read_only_tokens_start_with_ro() {
        let vars = variables("http://x", true);
        let token = vars.iter().find(|(k, _)| k == "GITHUB_TOKEN").unwrap();
        assert!(token.1.starts_with("ro-"));
    }
}
