//! `sophia op`: the front door, run as the binary against the sandbox (SaaS providers, Fly,
//! GitHub) and the real PostgreSQL and Redis servers.

use serde_json::{Value, json};
use sophia::sandbox::{Sandbox, SandboxConfig, SandboxHandle, Seed};

use crate::context_db::TestDb;
use crate::support::{Output, Repo};

/// Every provider active, with the sections the operations read.
pub const DESIRED: &str = r##"
providers:
  fly: active
  github: active
  router: active
  research: active
  context_db: active
  qdrant: active
  mem0: active
  redis: active
  slack: active
  gong: active
  lambda: active
fly:
  org: pay-ready
  apps:
    sophiaai-dashboard-v2:
      image: registry.fly.io/dash:1
      regions: [ord]
      count: 1
      secrets: [NEON_DATABASE_URL]
github:
  repos:
    ai-cherry/sophia-intel-ai:
      branches:
        main:
          protection:
            required_status_checks: { strict: true, contexts: [build] }
            enforce_admins: true
            required_pull_request_reviews: null
            restrictions: null
router: { primary: portkey, fallbacks: [openai, groq] }
research: { providers: [tavily, serper] }
context_db: { extensions: [pg_trgm], schemas: [context] }
qdrant:
  collections:
    context_chunks: { size: 1536, distance: Cosine }
redis: { config: { maxmemory-policy: allkeys-lru } }
slack: { notify_channel: "#infra" }
mem0: {}
gong: {}
lambda: {}
"##;

const SEED: &str = r#"
fly:
  orgs: [pay-ready]
  apps:
    sophiaai-dashboard-v2: { org: pay-ready, image: "registry.fly.io/dash:1", count: 1, region: ord, secrets: [NEON_DATABASE_URL] }
github:
  repos:
    ai-cherry/sophia-intel-ai: { branches: [main], secrets: [FLY_API_TOKEN, PORTKEY_API_KEY] }
qdrant:
  collections:
    context_chunks: { size: 1536, distance: Cosine }
lambda:
  instances: [{ name: gpu-1 }]
"#;

pub fn sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        seed: Seed::parse(SEED).unwrap(),
        ..SandboxConfig::default()
    })
    .unwrap()
}

pub fn repo(desired: &str) -> Repo {
    let repo = Repo::new();
    repo.file("desired/main.yaml", desired);
    repo
}

/// The sandbox's variables plus `extra`, as owned pairs.
pub fn env_of(sb: &SandboxHandle, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = sb.env();
    // Tests must not wait out real backoffs.
    env.push(("SOPHIA_HTTP_FAST_RETRIES".into(), "1".into()));
    for (k, v) in extra {
        env.retain(|(n, _)| n != k);
        env.push((k.to_string(), v.to_string()));
    }
    env
}

pub fn op(repo: &Repo, args: &[&str], env: &[(String, String)]) -> Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut all = vec!["op"];
    all.extend_from_slice(args);
    repo.run(&all, &env)
}

fn envelope(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not an envelope ({e}):\n{}\n{}",
            out.stdout, out.stderr
        )
    })
}

/// The envelope's shape is exactly the original's.
fn assert_normalized(env: &Value) {
    let keys: Vec<&str> = env
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut keys = keys;
    keys.sort();
    assert_eq!(
        keys,
        [
            "errors",
            "execution_time_ms",
            "query",
            "results",
            "status",
            "summary",
            "timestamp"
        ]
    );
    assert_eq!(env["summary"]["model"], "n/a");
    assert!(env["timestamp"].as_str().unwrap().ends_with('Z'));
}

fn proof(repo: &Repo, rel: &str) -> Value {
    let path = repo.root().join("proofs").join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("proof `{}` missing: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_read_only_operation_succeeds_and_writes_its_proof() {
    let sb = sandbox();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create("op"));
    let url = db.url();
    let readonly_url = rt.block_on(db.readonly_url());
    let redis_url = crate::redis::redis_url();
    let env = env_of(
        &sb,
        &[
            ("NEON_DATABASE_URL", &url),
            ("NEON_READONLY_DATABASE_URL", &readonly_url),
            ("REDIS_URL", &redis_url),
            ("OPENAI_API_KEY", "sk-sandbox-openai"),
        ],
    );
    let repo = repo(DESIRED);
    let cases: &[(&[&str], &str)] = &[
        (&["router", "allowlist"], "llm/router_allowlist.json"),
        (&["router", "route-test"], "llm/route_test.json"),
        (&["research", "validate"], "research/validate.json"),
        (&["context_db", "ping"], "context_db/ping.json"),
        (&["context_db", "health"], "context_db/health.json"),
        (
            &[
                "context_db",
                "query",
                "--payload",
                r#"{"sql": "SELECT count(*) AS n FROM canary"}"#,
            ],
            "context_db/query.json",
        ),
        (&["redis", "ping"], "redis/ping.json"),
        (
            &["redis", "info", "--payload", r#"{"sections": ["server"]}"#],
            "redis/info.json",
        ),
        (&["qdrant", "collections"], "qdrant/collections.json"),
        (&["qdrant", "validate"], "qdrant/validate.json"),
        (&["mem0", "validate"], "mem0/validate.json"),
        (&["slack", "validate"], "slack/validate.json"),
        (&["gong", "validate"], "gong/validate.json"),
        (&["lambda", "instances"], "lambda/instances.json"),
        (&["lambda", "validate"], "lambda/validate.json"),
        (&["github", "audit"], "github/secrets_audit.json"),
        (
            &["fly", "machines", "--app", "sophiaai-dashboard-v2"],
            "fly/sophiaai-dashboard-v2_machines.json",
        ),
        (
            &["fly", "health", "--app", "sophiaai-dashboard-v2"],
            "healthz/sophiaai-dashboard-v2.json",
        ),
    ];
    for (args, rel) in cases {
        let out = op(&repo, args, &env);
        assert_eq!(out.code, 0, "{args:?}\n{}\n{}", out.stdout, out.stderr);
        let env = envelope(&out);
        assert_normalized(&env);
        assert_eq!(env["status"], "success", "{args:?}: {env}");
        assert_eq!(env["query"], format!("{}.{}", args[0], args[1]));
        assert_eq!(
            proof(&repo, rel),
            env,
            "{args:?}: the proof is the envelope"
        );
        assert!(
            out.stderr.contains(&format!("proof: proofs/{rel}")),
            "{}",
            out.stderr
        );
    }
    // A few results worth checking beyond success.
    let q = proof(&repo, "context_db/query.json");
    assert_eq!(q["results"][0]["rows"], json!([{ "n": 3 }]));
    let allow = proof(&repo, "llm/router_allowlist.json");
    assert_eq!(
        allow["results"][0]["keys_present"],
        json!(["PORTKEY_API_KEY", "OPENAI_API_KEY"])
    );
    assert_eq!(allow["results"][0]["keys_missing"], json!(["GROQ_API_KEY"]));
    let routes = proof(&repo, "llm/route_test.json");
    let statuses: Vec<(&str, &str)> = routes["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["route"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [("portkey", "ok"), ("openai", "ok"), ("groq", "skipped")]
    );
    let audit = proof(&repo, "github/secrets_audit.json");
    assert_eq!(
        audit["results"][0]["secrets"],
        json!(["FLY_API_TOKEN", "PORTKEY_API_KEY"])
    );
    let collections = proof(&repo, "qdrant/collections.json");
    assert_eq!(
        collections["results"],
        json!([{ "name": "context_chunks", "size": 1536, "distance": "Cosine" }])
    );

    // The route test sent one completion per tested route, with Portkey's provider header
    // for the fallback (the sandbox log masks values, so the header is checked by effect:
    // both requests answered 200).
    let completions: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .collect();
    assert_eq!(completions.len(), 2);
    // Read-only operations never wrote anything.
    for r in sb.requests() {
        let read = r.method == "GET"
            || r.path.ends_with("/search")
            || r.path.ends_with("/chat/completions")
            || r.path.ends_with("/auth.test");
        assert!(
            read,
            "a read-only operation made a write: {} {}",
            r.method, r.path
        );
    }
}

#[test]
fn research_search_merges_both_backends_and_survives_one_failing() {
    let sb = sandbox();
    let repo = repo(DESIRED);
    let payload = r#"{"query": "AI infrastructure trends", "max_results": 4}"#;
    let out = op(
        &repo,
        &["research", "search", "--payload", payload],
        &env_of(&sb, &[]),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let merged = envelope(&out);
    assert_normalized(&merged);
    // Both backends return the same URLs (one with a trailing slash would fold too): four
    // unique results, each from both.
    let results = merged["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert!(
        results
            .iter()
            .all(|r| r["sources"] == json!(["serper", "tavily"]))
    );
    for backend in ["tavily", "serper"] {
        let p = proof(&repo, &format!("research/{backend}_search.json"));
        assert_normalized(&p);
        assert_eq!(p["status"], "success");
        assert_eq!(p["results"].as_array().unwrap().len(), 4);
    }
    let searches: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/search"))
        .map(|r| r.path)
        .collect();
    assert_eq!(searches.len(), 2, "one call per backend: {searches:?}");

    // Serper pointed at a path that does not exist: Tavily's results still come back, and
    // Serper's error is recorded.
    let bad = format!("{}/no-such-serper", sb.url());
    let out = op(
        &repo,
        &["research", "search", "--payload", payload],
        &env_of(&sb, &[("SERPER_BASE_URL", &bad)]),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let merged = envelope(&out);
    assert_eq!(merged["status"], "success");
    assert_eq!(merged["results"].as_array().unwrap().len(), 4);
    assert!(
        merged["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["sources"] == json!(["tavily"]))
    );
    assert_eq!(merged["errors"][0]["provider"], "serper");
    assert_eq!(merged["errors"][0]["code"], "http-error");
    assert!(
        out.stderr.contains("warning: serper [http-error]"),
        "{}",
        out.stderr
    );
    let serper = proof(&repo, "research/serper_search.json");
    assert_eq!(serper["status"], "failure");

    // Without Serper's key: the same, its error is `not-configured`.
    let env: Vec<_> = env_of(&sb, &[])
        .into_iter()
        .filter(|(k, _)| k != "SERPER_API_KEY")
        .collect();
    let out = op(&repo, &["research", "search", "--payload", payload], &env);
    let merged = envelope(&out);
    assert_eq!(merged["status"], "success");
    assert_eq!(merged["errors"][0]["code"], "not-configured");
    assert!(
        merged["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("SERPER_API_KEY")
    );
}

#[test]
fn bad_operations_and_payloads_are_refused_before_anything_runs() {
    let sb = sandbox();
    let repo = repo(DESIRED);
    let env = env_of(&sb, &[]);
    let big = format!(r#"{{"query": "{}"}}"#, "x".repeat(70 * 1024));
    let cases: &[(&[&str], &[&str])] = &[
        (
            &[
                "research",
                "search",
                "--payload",
                r#"{"query": "x", "limit": 3}"#,
            ],
            &["unknown field `limit`", r#""max_results"?: integer 1..=20"#],
        ),
        (
            &[
                "research",
                "search",
                "--payload",
                r#"{"query": "x", "max_results": "ten"}"#,
            ],
            &[
                "at `max_results`",
                "invalid type: string \"ten\", expected u32",
            ],
        ),
        (
            &[
                "fly",
                "set-secrets",
                "--app",
                "sophiaai-dashboard-v2",
                "--payload",
                r#"{"secret_names": "NEON_DATABASE_URL"}"#,
            ],
            &["at `secret_names`", "expected a sequence"],
        ),
        (
            &["research", "search", "--payload", &big],
            &["over the limit of 65536 bytes"],
        ),
        (
            &["research", "search", "--payload", "[1]"],
            &["expected a JSON object, found an array"],
        ),
        (&["research", "search", "--payload", "{"], &["not JSON"]),
        (
            &["redis", "flushall"],
            &["`redis` has no action `flushall`", "ping, info"],
        ),
        (&["reddis", "ping"], &["did you mean `redis`"]),
        (&["fly", "health"], &["`fly health` needs `--app APP`"]),
        (&["redis", "ping", "--app", "x"], &["takes no `--app`"]),
        (
            &[
                "context_db",
                "query",
                "--payload",
                r#"{"sql": "SELECT 1", "timeout_ms": 0}"#,
            ],
            &["at `timeout_ms`", "out of range 1..=60000"],
        ),
    ];
    for (args, expect) in cases {
        let out = op(&repo, args, &env);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        for e in *expect {
            assert!(
                out.stderr.contains(e),
                "{args:?}: expected `{e}` in\n{}",
                out.stderr
            );
        }
    }
    assert!(sb.requests().is_empty(), "nothing was called");
    assert!(!repo.root().join("proofs").exists(), "nothing was written");
    let out = op(
        &repo,
        &[
            "research",
            "search",
            "--payload",
            r#"{"query": "x", "max_results": "ten"}"#,
        ],
        &env,
    );
    insta::assert_snapshot!("op_wrong_type", out.stderr);
}

/// Each provider with a representative operation and the variables it needs.
const EVERY_PROVIDER: &[(&[&str], &[&str])] = &[
    (
        &["fly", "machines", "--app", "sophiaai-dashboard-v2"],
        &["FLY_API_TOKEN"],
    ),
    (&["github", "audit"], &["GITHUB_APP_ID", "GITHUB_TOKEN"]),
    (&["router", "allowlist"], &["PORTKEY_API_KEY"]),
    (&["router", "route-test"], &["PORTKEY_API_KEY"]),
    (
        &["research", "search", "--payload", r#"{"query": "x"}"#],
        &["TAVILY_API_KEY", "SERPER_API_KEY"],
    ),
    (
        &["research", "validate"],
        &["TAVILY_API_KEY", "SERPER_API_KEY"],
    ),
    (&["context_db", "ping"], &["NEON_DATABASE_URL"]),
    (
        &["context_db", "query", "--payload", r#"{"sql": "SELECT 1"}"#],
        &["NEON_DATABASE_URL"],
    ),
    (
        &["qdrant", "collections"],
        &["QDRANT_URL", "QDRANT_API_KEY"],
    ),
    (&["mem0", "validate"], &["MEM0_API_KEY"]),
    (&["redis", "info"], &["REDIS_URL"]),
    (
        &["slack", "validate"],
        &["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"],
    ),
    (&["gong", "validate"], &["GONG_BASE_URL", "GONG_ACCESS_KEY"]),
    (&["lambda", "instances"], &["LAMBDA_LABS_API_KEY"]),
    (
        &["fly", "deploy", "--app", "sophiaai-dashboard-v2"],
        &["FLY_API_TOKEN"],
    ),
    (
        &[
            "github",
            "protect",
            "--payload",
            r#"{"require_review": true}"#,
        ],
        &["GITHUB_TOKEN"],
    ),
];

#[test]
fn every_provider_without_its_variables_is_not_configured() {
    let repo = repo(DESIRED);
    for (args, names) in EVERY_PROVIDER {
        let out = op(&repo, args, &[]);
        assert_eq!(
            out.code, 1,
            "{args:?}: exit 1, never a panic\n{}",
            out.stderr
        );
        let env = envelope(&out);
        assert_normalized(&env);
        assert_eq!(env["status"], "failure");
        assert_eq!(
            env["errors"][0]["code"], "not-configured",
            "{args:?}: {env}"
        );
        for n in *names {
            assert!(
                env["errors"][0]["message"].as_str().unwrap().contains(n),
                "{args:?} names {n}: {env}"
            );
            assert!(out.stderr.contains(n), "{args:?}: {}", out.stderr);
        }
    }
    assert!(
        !repo.root().join("plan.json").exists(),
        "no plan without credentials"
    );
}

#[test]
fn a_partly_configured_provider_names_what_is_missing_and_never_a_value() {
    let repo = repo(DESIRED);
    let canary = "canary-secret-value-0123456789";
    for (args, var, missing) in [
        (
            &["qdrant", "collections"][..],
            "QDRANT_API_KEY",
            "QDRANT_URL",
        ),
        (
            &["slack", "validate"][..],
            "SLACK_BOT_TOKEN",
            "SLACK_SIGNING_SECRET",
        ),
        (
            &["gong", "validate"][..],
            "GONG_ACCESS_KEY",
            "GONG_BASE_URL",
        ),
    ] {
        let out = op(&repo, args, &[(var.to_string(), canary.to_string())]);
        assert_eq!(out.code, 1);
        let env = envelope(&out);
        let msg = env["errors"][0]["message"].as_str().unwrap();
        assert!(msg.contains(missing) && !msg.contains(var), "{msg}");
        assert!(!out.stdout.contains(canary) && !out.stderr.contains(canary));
    }
    // An unreachable database: its URL (with the password) never appears.
    let out = op(
        &repo,
        &["context_db", "ping"],
        &[(
            "NEON_DATABASE_URL".into(),
            format!("postgres://u:{canary}@127.0.0.1:1/db"),
        )],
    );
    assert_eq!(out.code, 1);
    assert_eq!(envelope(&out)["errors"][0]["code"], "connection-failed");
    assert!(!out.stdout.contains(canary) && !out.stderr.contains(canary));
    let p = std::fs::read_to_string(repo.root().join("proofs/context_db/ping.json")).unwrap();
    assert!(!p.contains(canary));
}

#[test]
fn paused_providers_answer_paused_and_call_nothing() {
    let sb = sandbox();
    let paused = DESIRED
        .replace("qdrant: active", "qdrant: paused")
        .replace("research: active", "research: paused");
    let repo = repo(&paused);
    for (args, rel) in [
        (
            &["qdrant", "collections"][..],
            vec!["qdrant/collections.json"],
        ),
        (
            &["research", "search", "--payload", r#"{"query": "x"}"#][..],
            vec!["research/tavily_search.json", "research/serper_search.json"],
        ),
    ] {
        let out = op(&repo, args, &env_of(&sb, &[]));
        assert_eq!(out.code, 1, "{}", out.stderr);
        let env = envelope(&out);
        assert_eq!(env["errors"][0]["code"], "paused");
        assert!(
            env["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("active")
        );
        for r in rel {
            assert_eq!(proof(&repo, r), env);
        }
    }
    assert!(
        sb.requests().is_empty(),
        "a paused provider is never called"
    );
}

#[test]
fn a_query_that_writes_is_refused_through_the_cli_too() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create("opq"));
    let repo = repo(DESIRED);
    let env = [(
        "NEON_READONLY_DATABASE_URL".to_string(),
        rt.block_on(db.readonly_url()),
    )];
    for sql in ["DROP TABLE canary", "SELECT 1; DELETE FROM canary"] {
        let payload = json!({ "sql": sql }).to_string();
        let out = op(&repo, &["context_db", "query", "--payload", &payload], &env);
        assert_eq!(out.code, 1, "{sql}");
        assert_eq!(envelope(&out)["errors"][0]["code"], "query-refused");
    }
    let out = op(
        &repo,
        &[
            "context_db",
            "query",
            "--payload",
            r#"{"sql": "SELECT pg_sleep(10)", "timeout_ms": 1000}"#,
        ],
        &env,
    );
    assert_eq!(envelope(&out)["errors"][0]["code"], "timeout");
    let rows = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(db.canary());
    assert_eq!(rows.len(), 3, "the database is unchanged");
}

#[test]
fn mutating_operations_write_a_targeted_plan_and_change_nothing() {
    let sb = sandbox();
    let repo = repo(DESIRED);
    let env = env_of(&sb, &[]);

    let out = op(
        &repo,
        &[
            "github",
            "protect",
            "--payload",
            r#"{"required_checks": ["Deploy All"], "require_review": true}"#,
        ],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("sophia sign plan.json"),
        "{}",
        out.stderr
    );
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.root().join("plan.json")).unwrap())
            .unwrap();
    assert_eq!(plan["format"], "sophia-plan/v1");
    let target = "github.repo.ai-cherry/sophia-intel-ai.branch.main.protection";
    assert_eq!(plan["targets"], json!([target]));
    let put = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "github.protection.put")
        .unwrap_or_else(|| panic!("a protection put: {plan}"));
    assert_eq!(put["address"], target);
    let body = &put["params"]["body"];
    assert_eq!(
        body["required_status_checks"]["contexts"],
        json!(["Deploy All"])
    );
    assert_eq!(body["required_status_checks"]["strict"], json!(true));
    assert_eq!(
        body["required_pull_request_reviews"]["required_approving_review_count"],
        json!(1)
    );
    assert_eq!(
        body["enforce_admins"],
        json!(true),
        "the rest of desired is kept"
    );
    for a in plan["actions"].as_array().unwrap() {
        let addr = a["address"].as_str().unwrap();
        assert!(
            addr == target || addr == "provider.github",
            "only the target: {addr}"
        );
    }

    let out = op(
        &repo,
        &[
            "fly",
            "set-secrets",
            "--app",
            "sophiaai-dashboard-v2",
            "--out",
            "secrets-plan.json",
            "--payload",
            r#"{"secret_names": ["NEON_DATABASE_URL", "PORTKEY_API_KEY"]}"#,
        ],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: Value = serde_json::from_str(
        &std::fs::read_to_string(repo.root().join("secrets-plan.json")).unwrap(),
    )
    .unwrap();
    let set = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "fly.secrets.set")
        .unwrap_or_else(|| panic!("a secrets set: {plan}"));
    assert_eq!(
        set["params"]["names"],
        json!(["PORTKEY_API_KEY"]),
        "only the missing name"
    );

    let out = op(
        &repo,
        &[
            "fly",
            "deploy",
            "--app",
            "sophiaai-dashboard-v2",
            "--out",
            "deploy-plan.json",
            "--payload",
            r#"{"image": "registry.fly.io/dash:2"}"#,
        ],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: Value = serde_json::from_str(
        &std::fs::read_to_string(repo.root().join("deploy-plan.json")).unwrap(),
    )
    .unwrap();
    assert!(
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["address"] == "fly.app.sophiaai-dashboard-v2.machines"),
        "{plan}"
    );

    // Planning made reads only.
    for r in sb.requests() {
        assert!(
            r.method == "GET"
                || r.method == "HEAD"
                || (r.method == "POST" && r.path.contains("graphql")),
            "a plan must not write: {} {}",
            r.method,
            r.path
        );
    }
    // An app that desired/ does not know is refused with a hint.
    let out = op(&repo, &["fly", "deploy", "--app", "nope-app"], &env);
    assert_eq!(out.code, 1);
    assert!(
        envelope(&out)["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("fly.apps")
    );
}

fn creds_of(sb: &SandboxHandle, drop: &[&str]) -> sophia::providers::Credentials {
    sophia::providers::Credentials::from_pairs(
        env_of(sb, &[])
            .into_iter()
            .filter(|(k, _)| !drop.contains(&k.as_str())),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn activation_validates_then_records_and_the_plan_sees_it() {
    use sophia::core::address::Address;
    use sophia::core::desired::{Activation, ProviderName};
    use sophia::core::plan::{Action, ActionId};
    use sophia::providers::activation;

    let sb = sandbox();
    let repo = repo(DESIRED);
    let store = sophia::proofs::ProofStore::of_repo(repo.root());
    let action = |activation: &str| Action {
        id: ActionId("provider.activate:provider.qdrant".into()),
        address: Address::Provider {
            name: "qdrant".into(),
        },
        kind: "provider.activate".parse().unwrap(),
        params: json!({ "activation": activation }),
        depends_on: vec![],
    };
    let creds = creds_of(&sb, &[]);
    let http = creds.http();

    // Recorded paused first (what the first apply of a paused provider does): no call.
    let out = activation::execute(&store, &action("paused"), &creds, &http, "t0").await;
    assert!(out.is_success(), "{out:?}");
    assert!(sb.requests().is_empty());

    // desired says active, the record says paused: the plan activates it first.
    let mut live = sophia::core::live::LiveSnapshot::new("t");
    live.resources.insert(
        Address::Provider {
            name: "qdrant".into(),
        },
        json!({ "activation": "active" }),
    );
    activation::overlay(&mut live, &activation::read(&store).unwrap());
    let d = sophia::workspace::load_desired(repo.root()).unwrap();
    let changes = sophia::core::diff::diff(&sophia::core::lower::lower(&d), &live).unwrap();
    let change = changes
        .iter()
        .find(|c| {
            c.address
                == Address::Provider {
                    name: "qdrant".into(),
                }
        })
        .expect("a change of provider.qdrant");
    assert_eq!(change.after, json!({ "activation": "active" }));

    // Without its key, activation fails naming it, and the record still says paused.
    let missing = creds_of(&sb, &["QDRANT_API_KEY"]);
    let out = activation::execute(&store, &action("active"), &missing, &http, "t1").await;
    assert!(!out.is_success());
    assert_eq!(out.errors[0].code, "not-configured");
    assert!(out.errors[0].message.contains("QDRANT_API_KEY"));
    let rec = activation::read(&store).unwrap();
    assert_eq!(
        rec.providers[&ProviderName::Qdrant].activation,
        Activation::Paused
    );

    // With it: validation runs (GET /collections) and the record says active.
    let out = activation::execute(&store, &action("active"), &creds, &http, "t2").await;
    assert!(out.is_success(), "{out:?}");
    assert_eq!(out.results[0]["validate"]["status"], "success");
    assert!(
        sb.requests()
            .iter()
            .any(|r| r.path == "/qdrant/collections")
    );
    let rec = activation::read(&store).unwrap();
    assert_eq!(
        rec.providers[&ProviderName::Qdrant].activation,
        Activation::Active
    );
    assert_eq!(rec.providers[&ProviderName::Qdrant].validated, Some(true));
    let text = std::fs::read_to_string(repo.root().join("proofs/secrets/activation.json")).unwrap();
    assert!(text.contains("sophia-activation/v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_notifies_its_channel_only_when_active() {
    use sophia::providers::slack;
    let sb = sandbox();
    let creds = creds_of(&sb, &[]);
    let http = creds.http();
    let desired = sophia::ops::load_desired_or_empty(repo(DESIRED).root()).unwrap();
    let posted = slack::notify(&desired, &creds, &http, "plan: 1 to add")
        .await
        .expect("slack is active with a channel")
        .unwrap();
    assert!(posted["ts"].is_string(), "{posted}");
    let posts: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/chat.postMessage"))
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].body["text"], "plan: 1 to add");
    assert_eq!(posts[0].body["channel"], "#infra");

    let paused = DESIRED.replace("slack: active", "slack: paused");
    let desired = sophia::ops::load_desired_or_empty(repo(&paused).root()).unwrap();
    assert!(slack::notify(&desired, &creds, &http, "x").await.is_none());
    let unset = creds_of(&sb, &["SLACK_BOT_TOKEN"]);
    let desired = sophia::ops::load_desired_or_empty(repo(DESIRED).root()).unwrap();
    let err = slack::notify(&desired, &unset, &http, "x")
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code, "not-configured");
}
