//! The GitHub loop against the in-process sandbox: the sticky PR comment (`sophia comment`),
//! the drift issue (`sophia drift --issue`), and `sophia demo`. Every command runs the real
//! binary with the sandbox's variables and nothing else from the environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sophia::sandbox::{LogEntry, Sandbox, SandboxConfig, SandboxHandle, Seed};

const REPO: &str = "ai-cherry/sophia-demo";

/// A small desired state: one Fly app (`count` machines) and its repository's protection.
fn desired(count: u32, image_tag: &str) -> String {
    format!(
        r#"providers:
  fly: active
fly:
  org: pay-ready
  apps:
    loop-api:
      image: registry.fly.io/loop-api:{image_tag}
      regions: [ord]
      count: {count}
      guest: {{ cpu_kind: shared, cpus: 1, memory_mb: 256 }}
      env: {{ LOG_LEVEL: info }}
      health: {{ path: /healthz, port: 8080, expect_status: 200 }}
"#
    )
}

/// A repository directory with `desired/main.yaml`.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new(desired: &str) -> Repo {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir_all(dir.path().join("desired")).unwrap();
        let repo = Repo { dir };
        repo.set_desired(desired);
        repo
    }

    fn set_desired(&self, text: &str) {
        std::fs::write(self.path().join("desired/main.yaml"), text).unwrap();
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Run `sophia ARGS` here, with only the sandbox's variables (and PATH, NO_COLOR).
    fn sophia(&self, sandbox: &SandboxHandle, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sophia"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .env("SOPHIA_HTTP_FAST_RETRIES", "1")
            .current_dir(self.path())
            .args(args);
        for (k, v) in sandbox.env() {
            cmd.env(k, v);
        }
        cmd.output().expect("running sophia")
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A sandbox with the Fly organization and the repository, whose issue #1 stands for the pull
/// request (for these endpoints a pull request is an issue).
fn sandbox() -> SandboxHandle {
    let seed = Seed::parse(&format!(
        "fly: {{ orgs: [pay-ready] }}\ngithub:\n  repos:\n    {REPO}:\n      branches: [main]\n      issues: [{{ title: \"Change the API\", state: open }}]\n"
    ))
    .unwrap();
    Sandbox::start(SandboxConfig {
        seed,
        ..SandboxConfig::default()
    })
    .unwrap()
}

/// The comments of issue/PR `number`: (id, body).
fn comments(sandbox: &SandboxHandle, number: u64) -> Vec<(u64, String)> {
    sandbox.with_world(|w| {
        w.github.repos[REPO]
            .comments
            .iter()
            .filter(|c| c.issue_number == number)
            .map(|c| (c.id, c.body.clone()))
            .collect()
    })
}

/// The issues: (number, state, title, body).
fn issues(sandbox: &SandboxHandle) -> Vec<(u64, String, String, String)> {
    sandbox.with_world(|w| {
        w.github.repos[REPO]
            .issues
            .iter()
            .map(|i| {
                (
                    i.number,
                    i.state.clone(),
                    i.title.clone(),
                    i.body.clone().unwrap_or_default(),
                )
            })
            .collect()
    })
}

/// `METHOD path` of the requests that changed something on GitHub.
fn github_writes(log: &[LogEntry]) -> Vec<String> {
    log.iter()
        .filter(|e| e.path.starts_with("/github/") && e.method != "GET")
        .map(|e| format!("{} {}", e.method, e.path))
        .collect()
}

fn with_marker<'a>(list: &'a [(u64, String)], marker: &str) -> Vec<&'a (u64, String)> {
    list.iter()
        .filter(|(_, b)| b.lines().next() == Some(marker))
        .collect()
}

fn digest_of(plan: &Path) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(plan).unwrap()).unwrap();
    v["digest"].as_str().unwrap().to_string()
}

#[test]
fn the_plan_comment_is_posted_once_then_edited_in_place_and_stays_within_githubs_limit() {
    let sandbox = sandbox();
    // 101 comments by people first: the sticky comment lands on the second page, so finding
    // it again needs the pagination.
    let repo = Repo::new(&desired(1, "v1"));
    let creds = sophia::providers::Credentials::from_pairs(sandbox.env());
    let issues_api = sophia::providers::github_issues::Issues::new(&creds, creds.http()).unwrap();
    let repo_ref: sophia::providers::github_issues::RepoRef = REPO.parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for i in 0..101 {
        rt.block_on(issues_api.create_comment(&repo_ref, 1, &format!("review note {i}")))
            .unwrap();
    }
    let marker = format!("<!-- sophia-plan: {REPO}#1 target=all -->");

    // 1. Plan, comment: one comment is posted.
    let out = repo.sophia(&sandbox, &["plan", "--out", "plan.json"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    sandbox.clear_requests();
    let out = repo.sophia(
        &sandbox,
        &["comment", "--repo", REPO, "--pr", "1", "plan.json"],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    let all = comments(&sandbox, 1);
    let sticky = with_marker(&all, &marker);
    assert_eq!(sticky.len(), 1, "{all:?}");
    let (id, first_body) = sticky[0].clone();
    assert!(first_body.contains(&digest_of(&repo.path().join("plan.json"))));
    assert_eq!(
        github_writes(&sandbox.requests()),
        [format!("POST /github/repos/{REPO}/issues/1/comments")]
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.trim().ends_with(&format!("#issuecomment-{id}")),
        "{stdout}"
    );
    insta::with_settings!({filters => vec![
        (r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"),
    ]}, {
        insta::assert_snapshot!("plan_comment", first_body);
    });

    // 2. The plan changes: the same comment is edited (PATCH), no second one.
    repo.set_desired(&desired(2, "v2"));
    let out = repo.sophia(&sandbox, &["plan", "--out", "plan.json"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    sandbox.clear_requests();
    let out = repo.sophia(
        &sandbox,
        &["comment", "--repo", REPO, "--pr", "1", "plan.json"],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    let all = comments(&sandbox, 1);
    let sticky = with_marker(&all, &marker);
    assert_eq!(sticky.len(), 1, "still one sticky comment");
    assert_eq!(sticky[0].0, id, "the same comment, edited");
    assert!(
        sticky[0]
            .1
            .contains(&digest_of(&repo.path().join("plan.json")))
    );
    // The new tag, by its digest.
    let v2 = sophia::sandbox::state::derived_digest("registry.fly.io/loop-api:v2");
    assert!(sticky[0].1.contains(&format!("loop-api@{v2}")));
    assert_eq!(
        github_writes(&sandbox.requests()),
        [format!("PATCH /github/repos/{REPO}/issues/comments/{id}")]
    );
    assert_eq!(all.len(), 102, "the people's comments are untouched");

    // 3. The same plan again: nothing is sent.
    sandbox.clear_requests();
    let out = repo.sophia(
        &sandbox,
        &["comment", "--repo", REPO, "--pr", "1", "plan.json"],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!(github_writes(&sandbox.requests()), Vec::<String>::new());

    // 4. Another target label is another comment.
    let out = repo.sophia(
        &sandbox,
        &[
            "comment",
            "--repo",
            REPO,
            "--pr",
            "1",
            "plan.json",
            "--target-label",
            "fly",
        ],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    let all = comments(&sandbox, 1);
    assert_eq!(with_marker(&all, &marker).len(), 1);
    assert_eq!(
        with_marker(&all, &format!("<!-- sophia-plan: {REPO}#1 target=fly -->")).len(),
        1
    );

    // 5. An oversize plan (3,000 new apps, planned from an empty live snapshot): the same
    //    comment, within 65,536 characters, still with the summary, digest and commands.
    let mut big = String::from("providers:\n  fly: active\nfly:\n  org: pay-ready\n  apps:\n");
    for i in 0..3000 {
        big.push_str(&format!(
            "    app-{i:04}:\n      image: registry.fly.io/app-{i:04}:v1\n      regions: [ord]\n      count: 1\n      env: {{ LOG_LEVEL: info }}\n"
        ));
    }
    repo.set_desired(&big);
    std::fs::write(
        repo.path().join("live.json"),
        r#"{"format": "sophia-live/v1", "taken_at": "2026-01-01T00:00:00Z", "resources": {}}"#,
    )
    .unwrap();
    let out = repo.sophia(
        &sandbox,
        &["plan", "--live", "live.json", "--out", "big.json"],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    let out = repo.sophia(
        &sandbox,
        &["comment", "--repo", REPO, "--pr", "1", "big.json"],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    let all = comments(&sandbox, 1);
    let sticky = with_marker(&all, &marker);
    assert_eq!(sticky.len(), 1);
    assert_eq!(sticky[0].0, id);
    let body = &sticky[0].1;
    let chars = body.chars().count();
    assert!(chars <= 65_536, "{chars} characters");
    assert!(chars > 60_000, "the room is used: {chars} characters");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo.path().join("big.json")).unwrap())
            .unwrap();
    let creates = plan["summary"]["create"].as_u64().unwrap();
    assert!(creates >= 3000, "{creates}");
    let summary = &plan["summary"];
    assert!(
        body.contains(&format!(
            "Plan: {creates} to create, {} to update, {} to delete, {} to replace.",
            summary["update"], summary["delete"], summary["replace"]
        )),
        "{}",
        &body[..400]
    );
    assert!(body.contains(plan["digest"].as_str().unwrap()));
    assert!(body.contains("too large for one GitHub comment"));
    assert!(body.contains("ssh-keygen -Y sign -n sophia-plan@v1 -f ~/.ssh/id_ed25519 big.json"));
    assert!(body.contains("sophia sign big.json --key ~/.ssh/id_ed25519"));
}

#[test]
fn a_plan_file_that_was_edited_is_not_commented() {
    let sandbox = sandbox();
    let repo = Repo::new(&desired(1, "v1"));
    let out = repo.sophia(&sandbox, &["plan", "--out", "plan.json"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let path = repo.path().join("plan.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("loop-api@sha256:", "loop-api@sha256:e");
    std::fs::write(&path, text).unwrap();
    sandbox.clear_requests();
    let out = repo.sophia(
        &sandbox,
        &["comment", "--repo", REPO, "--pr", "1", "plan.json"],
    );
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match its content"));
    assert!(sandbox.requests().is_empty(), "nothing was sent");
}

/// The drift proofs of a repository, sorted.
fn drift_proofs(repo: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(repo.join("proofs/drift"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn drift_twice_keeps_one_issue_and_closes_it_when_the_drift_is_gone() {
    let sandbox = sandbox();
    let issue_args = ["drift", "--issue", REPO];

    // No drift: exit 0, a clean proof, no issue.
    let repo = Repo::new("providers:\n  fly: active\nfly:\n  org: pay-ready\n  apps: {}\n");
    let out = repo.sophia(&sandbox, &issue_args);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!(issues(&sandbox).len(), 1, "only the seeded PR issue");
    let proofs = drift_proofs(repo.path());
    assert_eq!(proofs.len(), 1);
    let proof: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&proofs[0]).unwrap()).unwrap();
    assert_eq!(proof["status"], "success");
    assert_eq!(proof["results"][0]["drift"], false);

    // Drift (the app does not exist): exit 2, one issue.
    repo.set_desired(&desired(1, "v1"));
    let out = repo.sophia(&sandbox, &issue_args);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let list = issues(&sandbox);
    assert_eq!(list.len(), 2, "{list:?}");
    let (number, state, title, first_body) = list[1].clone();
    assert_eq!(state, "open");
    assert!(title.starts_with("Drift: "), "{title}");
    assert!(first_body.starts_with("<!-- sophia-drift -->\n<!-- sophia-drift-digest: sha256:"));
    assert!(first_body.contains("fly.app.loop-api"));
    insta::with_settings!({filters => vec![
        (r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]"),
        (r"\d{8}T\d{6}\.\d{3}Z(-\d+)?", "[STAMP]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"),
    ]}, {
        insta::assert_snapshot!("drift_issue", format!("{title}\n\n{first_body}"));
    });

    // The same drift again: the same issue, refreshed, not a second one.
    sandbox.clear_requests();
    let out = repo.sophia(&sandbox, &issue_args);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let list = issues(&sandbox);
    assert_eq!(list.len(), 2, "still one drift issue: {list:?}");
    assert_eq!(list[1].0, number);
    assert_eq!(list[1].1, "open");
    let digest_line = |b: &str| b.lines().nth(1).unwrap().to_string();
    assert_eq!(
        digest_line(&list[1].3),
        digest_line(&first_body),
        "same drift digest"
    );
    assert_eq!(
        github_writes(&sandbox.requests()),
        [format!("PATCH /github/repos/{REPO}/issues/{number}")]
    );
    assert_eq!(
        comments(&sandbox, number).len(),
        0,
        "no notification for the same drift"
    );

    // Different drift: the same issue, its digest updated, and a comment says so.
    repo.set_desired(&desired(3, "v1"));
    let out = repo.sophia(&sandbox, &issue_args);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let list = issues(&sandbox);
    assert_eq!(list.len(), 2);
    assert_ne!(digest_line(&list[1].3), digest_line(&first_body));
    let notes = comments(&sandbox, number);
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].1.starts_with("The drift changed"),
        "{}",
        notes[0].1
    );

    // No drift any more: a comment, and the issue is closed.
    repo.set_desired("providers:\n  fly: active\nfly:\n  org: pay-ready\n  apps: {}\n");
    let out = repo.sophia(&sandbox, &issue_args);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let list = issues(&sandbox);
    assert_eq!(list[1].1, "closed");
    let notes = comments(&sandbox, number);
    assert_eq!(notes.len(), 2);
    assert!(notes[1].1.starts_with("Resolved"), "{}", notes[1].1);

    // Every check left a proof, all journaled, and the journal verifies.
    assert_eq!(drift_proofs(repo.path()).len(), 5);
    let out = repo.sophia(&sandbox, &["proofs", "verify"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("journal: 5 records, 5 files verified"));
}

#[test]
fn drift_without_credentials_is_an_error_and_says_why() {
    let repo = Repo::new(&desired(1, "v1"));
    let out = Command::new(env!("CARGO_BIN_EXE_sophia"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(repo.path())
        .arg("drift")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FLY_API_TOKEN"));
    assert_eq!(
        drift_proofs(repo.path()).len(),
        1,
        "the failed check is recorded"
    );
}

#[test]
fn the_demo_runs_the_whole_loop_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_sophia"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TMPDIR", tmp.path())
        .env("NO_COLOR", "1")
        .current_dir(tmp.path())
        .arg("demo")
        .output()
        .unwrap();
    eprintln!("sophia demo took {:.1}s", started.elapsed().as_secs_f64());
    assert_eq!(code(&out), 0, "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for step in 1..=9 {
        assert!(
            stdout.contains(&format!("Step {step}/9: ")),
            "step {step}\n{stdout}"
        );
    }
    assert!(
        stdout.contains("Every step behaved as expected"),
        "{stdout}"
    );
    assert!(!stdout.contains('\x1b'), "no colour with NO_COLOR");
    // The plan step shows what the approver decides on: the monthly cost from the price
    // table (three shared-cpu-1x/256MB machines in `ord` at 2.74 each) and the picture.
    let plan_step = &stdout[stdout.find("Step 3/9: ").unwrap()..stdout.find("Step 4/9: ").unwrap()];
    assert!(
        plan_step.contains("Fly prices of ") && plan_step.contains("0.00 → 8.22 (+8.22)"),
        "{plan_step}"
    );
    assert!(plan_step.contains("flowchart LR"), "{plan_step}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "the demo left files behind: {left:?}");

    // What a newcomer reads. Actions run in parallel, so their progress lines are sorted.
    let mut lines: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    for l in stdout.lines() {
        if l.starts_with("    succeeded ") {
            run.push(l.to_string());
            continue;
        }
        run.sort();
        lines.append(&mut run);
        lines.push(l.to_string());
    }
    insta::with_settings!({filters => vec![
        (r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]"),
        (r"SHA256:[A-Za-z0-9+/]{43}", "SHA256:[FINGERPRINT]"),
        (r"apply/[0-9a-f]{12}…", "apply/[HEX]…"),
        (r"\d{8}T\d{6}\.\d{3}Z(-\d+)?", "[STAMP]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"/[^ ]*/sophia-demo-[A-Za-z0-9]+", "[TMP]/sophia-demo-[X]"),
        (r"\(\d+ ms\)", "([N] ms)"),
        (r"\d+\.\ds", "[N]s"),
    ]}, {
        insta::assert_snapshot!("demo", lines.join("\n"));
    });
}

// ───────────────────────── the README's desired-state reference ─────────────────────────

/// The placeholder for the keys of a map, by the map's own key.
fn placeholder(map_key: &str) -> &'static str {
    match map_key {
        "apps" => "<app>",
        "repos" => "<owner/repo>",
        "branches" => "<branch>",
        "environments" => "<environment>",
        "collections" => "<collection>",
        "config" => "<key>",
        _ => "<name>",
    }
}

/// A schema node with `$ref` and `anyOf: [X, null]` resolved; the description of the node
/// itself wins over the referenced definition's.
fn resolve(node: &serde_json::Value, defs: &serde_json::Value) -> serde_json::Value {
    let mut node = node.clone();
    if let Some(any) = node.get("anyOf").and_then(|a| a.as_array()).cloned() {
        let inner = any
            .iter()
            .find(|v| v.get("type") != Some(&serde_json::json!("null")))
            .cloned()
            .unwrap_or_default();
        let mut merged = resolve(&inner, defs);
        for k in ["description", "default"] {
            if let Some(v) = node.get(k) {
                merged[k] = v.clone();
            }
        }
        return merged;
    }
    if let Some(r) = node.get("$ref").and_then(|r| r.as_str()) {
        let name = r.trim_start_matches("#/$defs/");
        let mut merged = defs[name].clone();
        for k in ["description", "default"] {
            if let Some(v) = node.get(k) {
                merged[k] = v.clone();
            }
        }
        node = merged;
    }
    node
}

/// `string`, `list of string`, `` `a` \| `b` ``, `map`, …
fn type_name(node: &serde_json::Value, defs: &serde_json::Value) -> String {
    // Alternatives (e.g. a secret: a name, or `{name, rotation}`): `string or object`.
    if let Some(any) = node.get("anyOf").and_then(|a| a.as_array()) {
        return any
            .iter()
            .filter(|v| v.get("type") != Some(&serde_json::json!("null")))
            .map(|v| type_name(&resolve(v, defs), defs))
            .collect::<Vec<_>>()
            .join(" or ");
    }
    if let Some(values) = node.get("enum").and_then(|e| e.as_array()) {
        return values
            .iter()
            .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(" \\| ");
    }
    let t = match node.get("type") {
        Some(serde_json::Value::String(t)) => t.clone(),
        Some(serde_json::Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str())
            .find(|t| *t != "null")
            .unwrap_or("null")
            .to_string(),
        _ => "object".to_string(),
    };
    match t.as_str() {
        "array" => format!(
            "list of {}",
            type_name(&resolve(&node["items"], defs), defs)
        ),
        "object"
            if node
                .get("additionalProperties")
                .is_some_and(|a| a.is_object()) =>
        {
            format!(
                "map of {}",
                type_name(&resolve(&node["additionalProperties"], defs), defs)
            )
        }
        "object" => "object".to_string(),
        other => other.to_string(),
    }
}

/// One table row per key: path, type, description (with its default).
fn reference_rows(
    path: &str,
    key: &str,
    node: &serde_json::Value,
    defs: &serde_json::Value,
    rows: &mut Vec<String>,
) {
    let node = resolve(node, defs);
    let mut text = node
        .get("description")
        .and_then(|d| d.as_str())
        .unwrap_or_default()
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .replace('\n', " ")
        .replace('|', "\\|");
    if let Some(d) = node.get("default")
        && !d.is_null()
        && d != &serde_json::json!([])
        && d != &serde_json::json!({})
    {
        text = format!("{text} Default: `{d}`.").trim().to_string();
    }
    let props = node.get("properties").and_then(|p| p.as_object());
    // A map from a fixed set of keys to the same type (`providers:`) is one row.
    if let Some(props) = props
        && props.len() > 1
        && props.values().all(|v| {
            v.get("$ref").is_some() && v.get("$ref") == props.values().next().unwrap().get("$ref")
        })
    {
        let first = resolve(props.values().next().unwrap(), defs);
        rows.push(format!(
            "| `{path}.<provider>` | {} | {text} Keys: {}. |",
            type_name(&first, defs),
            props
                .keys()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return;
    }
    if !path.is_empty() {
        // The protection body is GitHub's: its keys are shown under `….protection`.
        let shown = path.replace(
            "github.repos.<owner/repo>.branches.<branch>.protection.",
            "….protection.",
        );
        rows.push(format!(
            "| `{shown}` | {} | {text} |",
            type_name(&node, defs)
        ));
    }
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    if let Some(props) = props {
        for (k, v) in props {
            reference_rows(&join(k), k, v, defs, rows);
        }
    }
    if let Some(inner) = node.get("additionalProperties").filter(|a| a.is_object()) {
        let inner = resolve(inner, defs);
        if inner.get("properties").is_some() {
            reference_rows(&join(placeholder(key)), key, &inner, defs, rows);
        }
    }
    if let Some(items) = node.get("items") {
        let items = resolve(items, defs);
        if let Some(props) = items.get("properties").and_then(|p| p.as_object()) {
            for (k, v) in props {
                reference_rows(&format!("{path}[].{k}"), k, v, defs, rows);
            }
        }
    }
}

/// The desired-state reference as a markdown table, from what `sophia schema` prints.
fn reference_table() -> String {
    let schema: serde_json::Value =
        serde_json::from_str(&sophia::cli::schema::schema_json().expect("the schema"))
            .expect("`sophia schema` prints JSON");
    let defs = schema["$defs"].clone();
    let mut rows = Vec::new();
    reference_rows("", "", &schema, &defs, &mut rows);
    format!(
        "| key | type | meaning |\n|---|---|---|\n{}\n",
        rows.join("\n")
    )
}

#[test]
fn the_readme_reference_is_generated_from_the_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let (begin, end) = ("<!-- reference:begin -->\n", "<!-- reference:end -->");
    let start = readme
        .find(begin)
        .expect("README.md has the reference markers")
        + begin.len();
    let stop = readme
        .find(end)
        .expect("README.md has the reference markers");
    let table = reference_table();
    if std::env::var_os("SOPHIA_UPDATE_README").is_some() {
        let updated = format!("{}{table}{}", &readme[..start], &readme[stop..]);
        std::fs::write(path, updated).unwrap();
        return;
    }
    assert_eq!(
        readme[start..stop],
        table,
        "the desired-state reference in README.md is out of date: run \
         `SOPHIA_UPDATE_README=1 cargo test readme`"
    );
}
