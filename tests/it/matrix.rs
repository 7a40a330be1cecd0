//! `sophia matrix` with a controlled environment: statuses, the file it writes, and that no
//! secret value ever appears in its output.

use crate::support::{Repo, project_root};

/// A scratch repository holding the real desired state and secrets map.
fn repo() -> Repo {
    let repo = Repo::new();
    let root = project_root();
    for f in ["providers.yaml", "fly.yaml", "github.yaml", "saas.yaml"] {
        repo.file(
            &format!("desired/{f}"),
            &std::fs::read_to_string(root.join("desired").join(f)).unwrap(),
        );
    }
    repo.file(
        ".infra/secrets_map.json",
        &std::fs::read_to_string(root.join(".infra/secrets_map.json")).unwrap(),
    );
    repo
}

/// Values long enough to be masked, unlikely to appear by chance.
const ENV: [(&str, &str); 8] = [
    ("FLY_API_TOKEN", "fm2_flyvalue-0001"),
    ("GITHUB_APP_ID", "app-id-value-0002"),
    ("GITHUB_INSTALLATION_ID", "install-value-0003"),
    ("GITHUB_PRIVATE_KEY", "-----BEGIN KEY value-0004"),
    ("PORTKEY_API_KEY", "pk-value-0005"),
    ("TAVILY_API_KEY", "tvly-value-0006"),
    // Set but empty: not present.
    ("SERPER_API_KEY", ""),
    ("QDRANT_URL", "https://qdrant.example/value-0007"),
];

fn status_of(v: &serde_json::Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} present={} missing={}",
                r["provider"].as_str().unwrap(),
                r["activation"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
                r["present"],
                r["missing"]
            )
        })
        .collect()
}

#[test]
fn matrix_for_a_given_environment() {
    let repo = repo();
    let out = repo.run(&["matrix", "--json"], &ENV);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let printed: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let written: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.root().join("proofs/secrets/matrix.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(printed, written, "--json prints what was written");
    assert_eq!(written["status"], "success");
    assert_eq!(written["query"], "secrets.matrix");
    insta::assert_snapshot!(status_of(&written).join("\n"), @r#"
    fly active ready present=["FLY_API_TOKEN"] missing=[]
    github active ready present=["GITHUB_APP_ID","GITHUB_INSTALLATION_ID","GITHUB_PRIVATE_KEY"] missing=[]
    router active partial present=["PORTKEY_API_KEY"] missing=["OPENAI_API_KEY","ANTHROPIC_API_KEY","OPENROUTER_API_KEY","GROQ_API_KEY","DEEPSEEK_API_KEY"]
    research active missing present=["TAVILY_API_KEY"] missing=["SERPER_API_KEY"]
    context_db active missing present=[] missing=["NEON_DATABASE_URL","NEON_READONLY_DATABASE_URL"]
    qdrant paused paused present=["QDRANT_URL"] missing=["QDRANT_API_KEY"]
    mem0 paused paused present=[] missing=["MEM0_API_KEY"]
    redis paused paused present=[] missing=["REDIS_URL"]
    slack paused paused present=[] missing=["SLACK_BOT_TOKEN","SLACK_SIGNING_SECRET"]
    gong paused paused present=[] missing=["GONG_BASE_URL","GONG_ACCESS_KEY"]
    lambda paused paused present=[] missing=["LAMBDA_LABS_API_KEY"]
    "#);
    insta::assert_snapshot!(out.stderr.trim(), @"wrote proofs/secrets/matrix.json: 2 ready, 1 partial, 6 paused, 2 missing");
}

#[test]
fn no_secret_value_appears_in_output_or_proof() {
    let repo = repo();
    let out = repo.run(&["matrix", "--json"], &ENV);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written = std::fs::read_to_string(repo.root().join("proofs/secrets/matrix.json")).unwrap();
    for (name, value) in ENV.iter().filter(|(_, v)| !v.is_empty()) {
        for (what, text) in [
            ("stdout", &out.stdout),
            ("stderr", &out.stderr),
            ("matrix.json", &written),
        ] {
            assert!(
                !text.contains(value),
                "the value of {name} leaked into {what}"
            );
        }
    }
}

#[test]
fn the_github_token_alone_makes_github_ready() {
    let repo = repo();
    let out = repo.run(&["matrix", "--json"], &[("GITHUB_TOKEN", "ghs_tokenvalue")]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let gh = &v["results"][1];
    assert_eq!(gh["provider"], "github");
    assert_eq!(gh["status"], "ready");
    assert_eq!(gh["present"], serde_json::json!(["GITHUB_TOKEN"]));
}

#[test]
fn an_invalid_desired_state_writes_no_matrix() {
    let repo = repo();
    repo.file("desired/extra.yaml", "fly: { org: other }\n");
    let out = repo.run(&["matrix"], &ENV);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("`fly.org` is defined twice"),
        "{}",
        out.stderr
    );
    assert!(!repo.root().join("proofs").exists());
}

#[test]
fn a_bad_secrets_map_is_a_located_error() {
    let repo = repo();
    repo.file(
        ".infra/secrets_map.json",
        "{\"format\": \"sophia-secrets-map/v1\",\n \"providers\": {\"fly\": {\"requried\": []}}}",
    );
    let out = repo.run(&["matrix"], &[]);
    assert_eq!(out.code, 1);
    // serde_json places the error just after the offending key.
    assert!(
        out.stderr
            .starts_with("error: .infra/secrets_map.json:2:33: unknown field `requried`"),
        "{}",
        out.stderr
    );
    assert!(!repo.root().join("proofs").exists());
}
