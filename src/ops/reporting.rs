//! Reporting on GitHub: the credentials that `sophia comment` and `sophia drift --issue`
//! write with, and the link to the workflow run whose artifacts hold the evidence.

use crate::providers::Credentials;

/// The variable holding the token `sophia comment` and `sophia drift --issue` write with,
/// when it must differ from the one that reads live state: in the drift workflow the
/// read-only GitHub App reads branch protection (which the workflow's own token cannot),
/// while the workflow's token (`issues: write`) writes the issue.
pub const REPORT_TOKEN_VAR: &str = "SOPHIA_REPORT_TOKEN";

/// The credentials `sophia comment` and `sophia drift --issue` write with: the token in
/// [`REPORT_TOKEN_VAR`] when set (with `GITHUB_API_URL` and the HTTP settings), else the
/// GitHub provider's own (`GITHUB_TOKEN`, or the GitHub App).
pub fn reporting_credentials() -> Credentials {
    let creds = Credentials::from_env();
    let Some(token) = std::env::var(REPORT_TOKEN_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return creds;
    };
    const AUTH: [&str; 4] = [
        "GITHUB_TOKEN",
        "GITHUB_APP_ID",
        "GITHUB_INSTALLATION_ID",
        "GITHUB_PRIVATE_KEY",
    ];
    Credentials::from_pairs(
        Credentials::NAMES
            .iter()
            .filter(|n| !AUTH.contains(n))
            .filter_map(|n| creds.get(n).map(|v| (n.to_string(), v.to_string())))
            .chain([("GITHUB_TOKEN".to_string(), token)]),
    )
}

/// In GitHub Actions, a link to this workflow run, whose artifacts hold the plan file.
pub fn workflow_run_link() -> Option<String> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    Some(format!(
        "{}/{}/actions/runs/{}",
        var("GITHUB_SERVER_URL")?,
        var("GITHUB_REPOSITORY")?,
        var("GITHUB_RUN_ID")?
    ))
}
