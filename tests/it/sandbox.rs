//! The sandbox, driven over HTTP as the providers' clients will drive it.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use sophia::sandbox::{FaultConfig, FaultKind, Sandbox, SandboxConfig, SandboxHandle, Seed};

mod routes;

/// A client for one provider prefix with one auth scheme.
pub struct Api {
    base: String,
    auth: Option<(String, String)>,
    client: reqwest::Client,
}

impl Api {
    /// `scheme` is the header form: `token`/`Bearer`/`FlyV1`/`Token` (Authorization), or a
    /// header name such as `x-api-key` when it contains a dash.
    pub fn new(base: &str, scheme: &str, token: &str) -> Api {
        Api {
            base: base.trim_end_matches('/').to_string(),
            auth: Some((scheme.into(), token.into())),
            client: reqwest::Client::new(),
        }
    }

    pub fn anonymous(base: &str) -> Api {
        Api {
            base: base.trim_end_matches('/').to_string(),
            auth: None,
            client: reqwest::Client::new(),
        }
    }

    pub fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some((scheme, token)) = &self.auth {
            req = if scheme.contains('-') {
                req.header(scheme.as_str(), token.as_str())
            } else {
                req.header("authorization", format!("{scheme} {token}"))
            };
        }
        req
    }

    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self.request(method, path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if !body.is_null() {
            req = req.json(body);
        }
        let resp = req.send().await.expect("the sandbox answers");
        read(resp).await
    }

    pub async fn send(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        self.send_with(method, path, body, &[]).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, &Value::Null).await
    }
}

/// Status and body (JSON, or the text as a string, or null when empty).
pub async fn read(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// The GitHub part of a seed file with one repository.
pub fn repo_seed() -> String {
    "github:\n  repos:\n    ai-cherry/sophia-intel-ai: { branches: [main, develop], secrets: [FLY_API_TOKEN] }"
        .into()
}

/// A GitHub App JWT for `app_id` (the sandbox does not check the signature).
pub fn jwt(app_id: u64) -> String {
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let now = chrono::Utc::now().timestamp();
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(&json!({ "alg": "RS256", "typ": "JWT" })),
        b64(&json!({ "iat": now - 60, "exp": now + 540, "iss": app_id.to_string() }))
    )
}

/// A libsodium sealed box of `value` for the `{key_id, key}` the sandbox served, base64.
pub fn seal_for(public_key: &Value, value: &[u8]) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let bytes: [u8; 32] = engine
        .decode(public_key["key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .expect("an X25519 key is 32 bytes");
    let key = crypto_box::PublicKey::from(bytes);
    engine.encode(key.seal(&mut crypto_box::aead::OsRng, value).unwrap())
}

fn start(seed: &str) -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        seed: Seed::parse(seed).unwrap(),
        ..SandboxConfig::default()
    })
    .unwrap()
}

fn gh(sb: &SandboxHandle, token: &str) -> Api {
    Api::new(&format!("{}/github", sb.url()), "token", token)
}

fn fly(sb: &SandboxHandle, token: &str) -> Api {
    Api::new(&format!("{}/fly/machines/v1", sb.url()), "Bearer", token)
}

const REPO: &str = "/repos/ai-cherry/sophia-intel-ai";

#[tokio::test]
async fn a_request_without_a_token_gets_each_providers_401() {
    let sb = start("");
    let u = sb.url();
    let cases: Vec<(&str, &str, Value, u16, Value)> = vec![
        (
            "GET",
            "/github/rate_limit",
            Value::Null,
            401,
            json!({ "message": "Requires authentication", "documentation_url": "https://docs.github.com/rest", "status": "401" }),
        ),
        (
            "GET",
            "/fly/machines/v1/apps?org_slug=pay-ready",
            Value::Null,
            401,
            json!({ "error": "unauthorized" }),
        ),
        (
            "POST",
            "/portkey/v1/chat/completions",
            json!({ "messages": [] }),
            401,
            json!({ "status": "failure", "message": "Invalid API Key" }),
        ),
        (
            "POST",
            "/tavily/search",
            json!({ "query": "q" }),
            401,
            json!({ "detail": { "error": "Unauthorized: missing or invalid API key." } }),
        ),
        (
            "POST",
            "/serper/search",
            json!({ "q": "q" }),
            401,
            json!({ "message": "Unauthorized.", "statusCode": 401 }),
        ),
        (
            "GET",
            "/qdrant/collections",
            Value::Null,
            401,
            json!("Must provide an API key or an Authorization bearer token"),
        ),
        (
            "GET",
            "/mem0/v1/memories/",
            Value::Null,
            401,
            json!({ "detail": "Authentication credentials were not provided." }),
        ),
        // Slack never answers 401.
        (
            "POST",
            "/slack/api/chat.postMessage",
            json!({ "channel": "#infra", "text": "hi" }),
            200,
            json!({ "ok": false, "error": "not_authed" }),
        ),
        (
            "GET",
            "/lambda/api/v1/instances",
            Value::Null,
            401,
            json!({ "error": {
            "code": "global/invalid-api-key",
            "message": "API key was invalid, expired, or deleted.",
            "suggestion": "Check your API key or create a new one, then try again." } }),
        ),
    ];
    let anon = Api::anonymous(u);
    for (method, path, body, status, expected) in cases {
        let (s, b) = anon.send(method, path, &body).await;
        assert_eq!((s, &b), (status, &expected), "{method} {path}");
    }
    let resp = anon
        .request("GET", "/github/rate_limit")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["x-ratelimit-limit"],
        "60",
        "GitHub's headers are on every response, with the anonymous limit"
    );
    let (s, b) = anon.get("/gong/v2/users").await;
    assert_eq!(s, 401);
    assert_eq!(b["errors"], json!(["Unauthorized"]));
    // Nothing was read or changed, and every request is in the log as unauthenticated.
    let log = sb.requests();
    assert_eq!(log.len(), 11);
    assert!(log.iter().all(|e| e.token_scope == "none"));
}

#[tokio::test]
async fn read_only_tokens_read_but_every_write_is_refused() {
    let sb = start(&format!(
        "{}\nfly:\n  apps:\n    web: {{ count: 1 }}\n",
        repo_seed()
    ));
    let ro = gh(&sb, "ro-plan-token");
    let (s, _) = ro.get(REPO).await;
    assert_eq!(s, 200, "reads are allowed");
    let (s, _) = ro.get(&format!("{REPO}/actions/secrets")).await;
    assert_eq!(s, 200);
    let refused = json!({
        "message": "Resource not accessible by integration",
        "documentation_url": "https://docs.github.com/rest",
        "status": "403",
    });
    for (method, path, body) in [
        ("PUT", format!("{REPO}/branches/main/protection"), json!({})),
        (
            "DELETE",
            format!("{REPO}/actions/secrets/FLY_API_TOKEN"),
            Value::Null,
        ),
        ("PUT", format!("{REPO}/environments/production"), json!({})),
        ("POST", format!("{REPO}/issues"), json!({ "title": "t" })),
    ] {
        let (s, b) = ro.send(method, &path, &body).await;
        assert_eq!((s, &b), (403, &refused), "{method} {path}");
    }
    let flyro = fly(&sb, "ro-fly");
    let (s, _) = flyro.get("/apps/web/machines").await;
    assert_eq!(s, 200);
    let (s, b) = flyro
        .send(
            "POST",
            "/apps/web/secrets",
            &json!({ "values": { "A": "x" } }),
        )
        .await;
    assert_eq!(s, 403);
    assert!(b["error"].as_str().unwrap().contains("read-only"));
    let qdrant = Api::new(&format!("{}/qdrant", sb.url()), "api-key", "ro-q");
    let (s, _) = qdrant
        .send(
            "PUT",
            "/collections/c",
            &json!({ "vectors": { "size": 4, "distance": "Cosine" } }),
        )
        .await;
    assert_eq!(s, 403);
    let slack = Api::new(&format!("{}/slack/api", sb.url()), "Bearer", "ro-xoxb");
    let (s, b) = slack.send("POST", "/auth.test", &json!({})).await;
    assert_eq!((s, &b["ok"]), (200, &json!(true)), "auth.test is a read");
    let (_, b) = slack
        .send(
            "POST",
            "/chat.postMessage",
            &json!({ "channel": "#infra", "text": "x" }),
        )
        .await;
    assert_eq!(b["error"], json!("missing_scope"));
    // The refusals changed nothing.
    sb.with_world(|w| {
        assert!(
            w.github.repos[&"ai-cherry/sophia-intel-ai".to_string()]
                .secrets
                .contains_key("FLY_API_TOKEN")
        );
        assert!(w.fly.apps["web"].secrets.is_empty());
        assert!(w.qdrant.collections.is_empty());
        assert!(w.slack.messages.is_empty());
    });
}

#[tokio::test]
async fn a_sealed_secret_is_opened_by_the_sandbox_and_never_logged() {
    let sb = start(&repo_seed());
    let api = gh(&sb, "full");
    let (_, key) = api.get(&format!("{REPO}/actions/secrets/public-key")).await;
    let value = b"postgres://user:s3cr3t-value@db/neon";
    let put = json!({ "encrypted_value": seal_for(&key, value), "key_id": key["key_id"] });
    let (s, _) = api
        .send(
            "PUT",
            &format!("{REPO}/actions/secrets/NEON_DATABASE_URL"),
            &put,
        )
        .await;
    assert_eq!(s, 201);
    let opened = sb.with_world(|w| {
        w.github_secret_value("ai-cherry/sophia-intel-ai", "NEON_DATABASE_URL")
            .map(<[u8]>::to_vec)
    });
    assert!(
        opened.as_deref() == Some(&value[..]),
        "the sandbox opened the box to the same value"
    );

    // A box sealed for another key, or a wrong key_id, is refused and changes nothing.
    let other = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
    let other_key = json!({ "key": base64::engine::general_purpose::STANDARD.encode(other.public_key().as_bytes()) });
    let bad = json!({ "encrypted_value": seal_for(&other_key, b"x"), "key_id": key["key_id"] });
    let (s, _) = api
        .send("PUT", &format!("{REPO}/actions/secrets/OTHER"), &bad)
        .await;
    assert_eq!(s, 422);
    let (s, _) = api
        .send(
            "PUT",
            &format!("{REPO}/actions/secrets/OTHER"),
            &json!({ "encrypted_value": put["encrypted_value"], "key_id": "1" }),
        )
        .await;
    assert_eq!(s, 422);
    assert!(sb.with_world(|w| {
        !w.github.repos["ai-cherry/sophia-intel-ai"]
            .secrets
            .contains_key("OTHER")
    }));

    let log = serde_json::to_string(&sb.requests()).unwrap();
    assert!(!log.contains("s3cr3t-value"));
    assert!(!log.contains(put["encrypted_value"].as_str().unwrap()));
    let entry = sb
        .requests()
        .into_iter()
        .find(|e| e.method == "PUT" && e.path.ends_with("NEON_DATABASE_URL"))
        .unwrap();
    assert_eq!(entry.body["encrypted_value"], json!("***"));
    assert_eq!(entry.body["key_id"], key["key_id"]);
}

/// What a client saw for each request: a status, or `drop` when the connection closed.
async fn outcomes(seed: u64, n: usize) -> Vec<String> {
    let sb = Sandbox::start(SandboxConfig {
        faults: FaultConfig {
            rate: 0.4,
            seed,
            kinds: vec![
                FaultKind::Internal,
                FaultKind::BadGateway,
                FaultKind::TooManyRequests,
                FaultKind::SecondaryRateLimit,
                FaultKind::Drop,
            ],
            ..FaultConfig::default()
        },
        ..SandboxConfig::default()
    })
    .unwrap();
    let api = gh(&sb, "t");
    let mut out = Vec::new();
    for _ in 0..n {
        match api.request("GET", "/rate_limit").send().await {
            Ok(resp) => out.push(resp.status().as_u16().to_string()),
            Err(_) => out.push("drop".into()),
        }
    }
    assert_eq!(sb.requests().len(), n, "the log records every request");
    out
}

#[tokio::test]
async fn faults_are_reproducible_with_a_seed() {
    let a = outcomes(42, 60).await;
    assert_eq!(a, outcomes(42, 60).await, "same seed, same faults");
    assert_ne!(a, outcomes(43, 60).await, "another seed, other faults");
    for kind in ["200", "500", "502", "429", "403", "drop"] {
        assert!(a.iter().any(|o| o == kind), "{kind} appears in {a:?}");
    }
}

#[tokio::test]
async fn a_faulted_write_changes_nothing() {
    let sb = Sandbox::start(SandboxConfig {
        seed: Seed::parse("fly:\n  apps:\n    web: {}\n").unwrap(),
        faults: FaultConfig {
            rate: 1.0,
            kinds: vec![FaultKind::Internal, FaultKind::BadGateway],
            ..FaultConfig::default()
        },
        ..SandboxConfig::default()
    })
    .unwrap();
    for _ in 0..4 {
        let (s, _) = fly(&sb, "t")
            .send(
                "POST",
                "/apps/web/secrets",
                &json!({ "values": { "A": "x" } }),
            )
            .await;
        assert!(s == 500 || s == 502, "{s}");
    }
    assert!(sb.with_world(|w| w.fly.apps["web"].secrets.is_empty()));
    assert!(sb.requests().iter().all(|e| e.fault.is_some()));
}

#[tokio::test]
async fn a_lost_answer_still_made_its_change() {
    let sb = Sandbox::start(SandboxConfig {
        seed: Seed::parse("fly:\n  apps:\n    web: {}\n").unwrap(),
        faults: FaultConfig {
            rate: 1.0,
            kinds: vec![FaultKind::Lost],
            ..FaultConfig::default()
        },
        ..SandboxConfig::default()
    })
    .unwrap();
    let (s, body) = fly(&sb, "t")
        .send(
            "POST",
            "/apps/web/secrets",
            &json!({ "values": { "A": "x" } }),
        )
        .await;
    assert_eq!(s, 502, "the client sees the proxy's 502: {body}");
    assert!(sb.with_world(|w| w.fly.apps["web"].secrets.contains_key("A")));
    let logged = &sb.requests()[0];
    assert_eq!(logged.fault.as_deref(), Some("lost"));
    assert_eq!(logged.status, Some(502));
    assert!(
        logged.handled.is_some_and(|h| (200..300).contains(&h)),
        "{logged:?}"
    );
}

#[tokio::test]
async fn secondary_rate_limits_dropped_connections_and_slow_responses() {
    let config = |kind| SandboxConfig {
        faults: FaultConfig {
            rate: 1.0,
            kinds: vec![kind],
            slow: Duration::from_secs(5),
            retry_after_secs: 7,
            ..FaultConfig::default()
        },
        ..SandboxConfig::default()
    };
    let sb = Sandbox::start(config(FaultKind::SecondaryRateLimit)).unwrap();
    let resp = gh(&sb, "t")
        .request("GET", "/rate_limit")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["retry-after"], "7");
    let (s, b) = read(resp).await;
    assert_eq!(s, 403);
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .starts_with("You have exceeded a secondary rate limit")
    );
    let resp = fly(&sb, "t")
        .request("GET", "/apps?org_slug=pay-ready")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429, "other providers answer 429");
    assert_eq!(resp.headers()["retry-after"], "7");

    let sb = Sandbox::start(config(FaultKind::Drop)).unwrap();
    let err = gh(&sb, "t")
        .request("GET", "/rate_limit")
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_timeout(), "closed, not timed out: {err}");
    assert_eq!(sb.requests()[0].status, None);
    assert_eq!(sb.requests()[0].fault.as_deref(), Some("drop"));

    let sb = Sandbox::start(config(FaultKind::Slow)).unwrap();
    let err = gh(&sb, "t")
        .request("GET", "/rate_limit")
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // The client gave up (and closed the connection) before the answer: the request is in
    // the log all the same, with the status it was going to get.
    assert_eq!(sb.requests().len(), 1);
    assert_eq!(sb.requests()[0].status, Some(504));
    assert_eq!(sb.requests()[0].fault.as_deref(), Some("slow"));
}

#[tokio::test]
async fn the_primary_rate_limit_counts_down_per_token() {
    let sb = Sandbox::start(SandboxConfig {
        rate_limit: 3,
        ..SandboxConfig::default()
    })
    .unwrap();
    let api = gh(&sb, "budgeted");
    for expected in ["2", "1", "0"] {
        let resp = api.request("GET", "/users/octocat").send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(resp.headers()["x-ratelimit-remaining"], expected);
        assert_eq!(resp.headers()["x-ratelimit-limit"], "3");
    }
    let resp = api.request("GET", "/users/octocat").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
    assert!(resp.headers().contains_key("x-ratelimit-reset"));
    // /rate_limit is free and tells the same story; another token has its own budget.
    let (s, b) = api.get("/rate_limit").await;
    assert_eq!((s, &b["resources"]["core"]["remaining"]), (200, &json!(0)));
    let (s, _) = gh(&sb, "another").get("/users/octocat").await;
    assert_eq!(s, 200);
    let resp = Api::new(&format!("{}/tavily", sb.url()), "Bearer", "budgeted")
        .request("POST", "/search")
        .json(&json!({ "query": "q" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        429,
        "the budget is per token, across providers"
    );
    assert!(resp.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn the_request_log_goes_to_a_file_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("requests.jsonl");
    let sb = Sandbox::start(SandboxConfig {
        seed: Seed::parse("fly:\n  apps:\n    web: {}\n").unwrap(),
        log_file: Some(path.clone()),
        ..SandboxConfig::default()
    })
    .unwrap();
    let f = fly(&sb, "t");
    f.send(
        "POST",
        "/apps/web/secrets",
        &json!({ "values": { "DB": "hunter2", "OLD": null } }),
    )
    .await;
    f.get("/apps/web/secrets").await;
    Api::anonymous(sb.url()).get("/github/rate_limit").await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("hunter2"));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines
            .iter()
            .map(|l| (
                l["method"].clone(),
                l["path"].clone(),
                l["status"].clone(),
                l["token_scope"].clone()
            ))
            .collect::<Vec<_>>(),
        vec![
            (
                json!("POST"),
                json!("/fly/machines/v1/apps/web/secrets"),
                json!(200),
                json!("full")
            ),
            (
                json!("GET"),
                json!("/fly/machines/v1/apps/web/secrets"),
                json!(200),
                json!("full")
            ),
            (
                json!("GET"),
                json!("/github/rate_limit"),
                json!(401),
                json!("none")
            ),
        ]
    );
    assert_eq!(
        lines[0]["body"],
        json!({ "values": { "DB": "***", "OLD": null } })
    );
    assert_eq!(
        lines.iter().map(|l| l["write"].clone()).collect::<Vec<_>>(),
        vec![json!(true), json!(false), json!(false)],
        "each line says whether the request was a write"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["at"].as_str().is_some_and(|a| a.ends_with('Z')))
    );
}

#[tokio::test]
async fn fly_machines_leases_secrets_health_and_rollback() {
    let sb = start("");
    let f = fly(&sb, "t");
    let (s, _) = f
        .send(
            "POST",
            "/apps",
            &json!({ "app_name": "web", "org_slug": "pay-ready" }),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = f
        .send(
            "POST",
            "/apps",
            &json!({ "app_name": "web", "org_slug": "pay-ready" }),
        )
        .await;
    assert_eq!(s, 422, "names are unique");
    let health = Api::anonymous(&format!("{}/fly/apps/web", sb.url()));
    assert_eq!(
        health.get("/healthz").await.0,
        503,
        "no machines, no service"
    );

    let config = json!({ "image": "registry.fly.io/web:v1" });
    let (s, m) = f
        .send(
            "POST",
            "/apps/web/machines",
            &json!({ "config": config, "region": "ord" }),
        )
        .await;
    assert_eq!((s, &m["state"]), (200, &json!("created")));
    let id = m["id"].as_str().unwrap().to_string();
    let (s, b) = f
        .get(&format!(
            "/apps/web/machines/{id}/wait?state=started&timeout=5"
        ))
        .await;
    assert_eq!((s, b), (200, json!({ "ok": true })));
    assert_eq!(health.get("/healthz").await, (200, json!("ok")));

    // A lease makes mutations without its nonce conflict.
    let (_, lease) = f
        .send(
            "POST",
            &format!("/apps/web/machines/{id}/lease"),
            &json!({ "ttl": 60 }),
        )
        .await;
    let nonce = lease["data"]["nonce"].as_str().unwrap().to_string();
    let bad = json!({ "config": { "image": "registry.fly.io/web:bad-2" } });
    let (s, b) = f
        .send("POST", &format!("/apps/web/machines/{id}"), &bad)
        .await;
    assert_eq!(s, 409);
    assert!(b["error"].as_str().unwrap().contains("lease"));
    let (s, _) = f
        .send(
            "POST",
            &format!("/apps/web/machines/{id}/lease"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 409, "someone else cannot take a held lease");
    let (s, b) = f
        .send_with(
            "POST",
            &format!("/apps/web/machines/{id}"),
            &bad,
            &[("fly-machine-lease-nonce", &nonce)],
        )
        .await;
    assert_eq!((s, &b["state"]), (200, &json!("replacing")));
    let (s, _) = f
        .get(&format!("/apps/web/machines/{id}/wait?state=started"))
        .await;
    assert_eq!(s, 200);
    let (s, b) = health.get("/healthz").await;
    assert_eq!(s, 503, "a bad image fails its health check: {b}");

    // Roll back.
    let good = json!({ "config": { "image": "registry.fly.io/web:v1" } });
    f.send_with(
        "POST",
        &format!("/apps/web/machines/{id}"),
        &good,
        &[("fly-machine-lease-nonce", &nonce)],
    )
    .await;
    assert_eq!(health.get("/healthz").await.0, 200);
    let (s, _) = f
        .send_with(
            "DELETE",
            &format!("/apps/web/machines/{id}/lease"),
            &Value::Null,
            &[("fly-machine-lease-nonce", &nonce)],
        )
        .await;
    assert_eq!(s, 200);

    // Stop, wait stopped, and a wait that cannot be met times out with 408.
    let (s, b) = f
        .send("POST", &format!("/apps/web/machines/{id}/stop"), &json!({}))
        .await;
    assert_eq!((s, b), (200, json!({ "ok": true })));
    assert_eq!(
        f.get(&format!("/apps/web/machines/{id}/wait?state=stopped"))
            .await
            .0,
        200
    );
    let (s, b) = f
        .get(&format!(
            "/apps/web/machines/{id}/wait?state=started&timeout=1"
        ))
        .await;
    assert_eq!(s, 408);
    assert!(
        b["error"]
            .as_str()
            .unwrap()
            .starts_with("deadline_exceeded")
    );

    // Secrets: set and remove in one call, versions, digests, delete.
    let (s, b) = f
        .send(
            "POST",
            "/apps/web/secrets",
            &json!({ "values": { "A": "1", "B": "2" } }),
        )
        .await;
    assert_eq!((s, &b["version"]), (200, &json!(1)));
    let (_, b) = f
        .send(
            "POST",
            "/apps/web/secrets",
            &json!({ "values": { "A": "3", "B": null } }),
        )
        .await;
    assert_eq!(b["version"], json!(2));
    let (_, list) = f.get("/apps/web/secrets").await;
    let names: Vec<&str> = list["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["A"]);
    assert_eq!(
        sb.with_world(|w| w.fly_secret_value("web", "A").map(str::to_string))
            .as_deref(),
        Some("3")
    );
    let (s, b) = f.send("DELETE", "/apps/web/secrets/A", &Value::Null).await;
    assert_eq!((s, b), (200, json!({ "version": 3 })));

    // Logs show the machine's life; GraphQL knows the app.
    let api = Api::new(&format!("{}/fly/api", sb.url()), "Bearer", "t");
    let (s, logs) = api.get("/api/v1/apps/web/logs").await;
    assert_eq!(s, 200);
    assert!(logs["data"].as_array().unwrap().len() >= 3);
    let (_, b) = api
        .send("POST", "/graphql", &json!({ "query": "query($name: String!) { app(name: $name) { name organization { slug } } }", "variables": { "name": "web" } }))
        .await;
    assert_eq!(b["data"]["app"]["organization"]["slug"], json!("pay-ready"));
    let (_, b) = api
        .send(
            "POST",
            "/graphql",
            &json!({ "query": "query { app(name: \"nope\") { name } }" }),
        )
        .await;
    assert_eq!(b["errors"][0]["extensions"]["code"], json!("NOT_FOUND"));
    let deploy = Api::new(&format!("{}/fly/api", sb.url()), "FlyV1", "fm2_deploytoken");
    let (s, b) = deploy
        .send(
            "POST",
            "/graphql",
            &json!({ "query": "query { viewer { email } }" }),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        b["errors"][0]["message"],
        json!("You must be authenticated to view this.")
    );
}

#[tokio::test]
async fn github_comments_pagination_environments_and_installation_tokens() {
    let sb = start(&format!(
        "{}\n  users: [the-ceo]\n  app: {{ id: 99, installations: [5] }}\n",
        repo_seed()
    ));
    let api = gh(&sb, "full");
    let (_, issue) = api
        .send("POST", &format!("{REPO}/issues"), &json!({ "title": "PR" }))
        .await;
    let n = issue["number"].as_u64().unwrap();
    let at_limit = "é".repeat(65_536);
    let (s, _) = api
        .send(
            "POST",
            &format!("{REPO}/issues/{n}/comments"),
            &json!({ "body": at_limit }),
        )
        .await;
    assert_eq!(s, 201, "65,536 characters (not bytes) are allowed");
    let (s, b) = api
        .send(
            "POST",
            &format!("{REPO}/issues/{n}/comments"),
            &json!({ "body": "x".repeat(65_537) }),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(b["errors"][0]["field"], json!("body"));

    // Pagination with Link headers.
    let (_, key) = api.get(&format!("{REPO}/actions/secrets/public-key")).await;
    for name in ["S1", "S2", "S3", "S4"] {
        let put = json!({ "encrypted_value": seal_for(&key, b"v"), "key_id": key["key_id"] });
        api.send("PUT", &format!("{REPO}/actions/secrets/{name}"), &put)
            .await;
    }
    let resp = api
        .request("GET", &format!("{REPO}/actions/secrets?per_page=2"))
        .send()
        .await
        .unwrap();
    let link = resp.headers()["link"].to_str().unwrap().to_string();
    let (_, page1) = read(resp).await;
    assert_eq!(page1["total_count"], json!(5));
    assert_eq!(page1["secrets"].as_array().unwrap().len(), 2);
    assert!(link.contains("per_page=2&page=2>; rel=\"next\""), "{link}");
    assert!(link.contains("per_page=2&page=3>; rel=\"last\""), "{link}");
    let resp = api
        .request("GET", &format!("{REPO}/actions/secrets?per_page=2&page=3"))
        .send()
        .await
        .unwrap();
    let link = resp.headers()["link"].to_str().unwrap().to_string();
    let (_, page3) = read(resp).await;
    assert_eq!(page3["secrets"].as_array().unwrap().len(), 1);
    assert!(
        link.contains("rel=\"prev\"")
            && link.contains("rel=\"first\"")
            && !link.contains("rel=\"next\"")
    );

    // Environments: reviewers by id, unknown ids refused.
    let (_, ceo) = api.get("/users/the-ceo").await;
    let (s, env) = api
        .send(
            "PUT",
            &format!("{REPO}/environments/production"),
            &json!({ "reviewers": [{ "type": "User", "id": ceo["id"] }] }),
        )
        .await;
    assert_eq!(s, 200);
    let rule = env["protection_rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "required_reviewers")
        .unwrap();
    assert_eq!(rule["reviewers"][0]["reviewer"]["login"], json!("the-ceo"));
    let (s, _) = api
        .send(
            "PUT",
            &format!("{REPO}/environments/production"),
            &json!({ "reviewers": [{ "type": "User", "id": 1 }] }),
        )
        .await;
    assert_eq!(s, 422);

    // Installation tokens: the app's JWT, read-only when only read permissions are asked.
    let app = Api::new(&format!("{}/github", sb.url()), "Bearer", &jwt(99));
    let (s, t) = app
        .send("POST", "/app/installations/5/access_tokens", &Value::Null)
        .await;
    assert_eq!(s, 201);
    assert!(t["token"].as_str().unwrap().starts_with("ghs_"));
    let (s, t) = app
        .send(
            "POST",
            "/app/installations/5/access_tokens",
            &json!({ "permissions": { "metadata": "read", "secrets": "read" } }),
        )
        .await;
    assert_eq!(s, 201);
    let ro = t["token"].as_str().unwrap();
    assert!(ro.starts_with("ro-ghs_"));
    let (s, _) = gh(&sb, ro)
        .send("POST", &format!("{REPO}/issues"), &json!({ "title": "x" }))
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .send("POST", "/app/installations/6/access_tokens", &Value::Null)
        .await;
    assert_eq!(s, 404, "not this app's installation");
    let (s, _) = Api::new(&format!("{}/github", sb.url()), "Bearer", &jwt(100))
        .send("POST", "/app/installations/5/access_tokens", &Value::Null)
        .await;
    assert_eq!(s, 401, "another app's JWT");
}

#[tokio::test]
async fn saas_providers_answer_in_their_own_shapes() {
    let sb = start(
        "qdrant: { collections: { context_chunks: { size: 1536, distance: Cosine } } }\ngong: { users: [{ email: a@example.com }] }\nlambda: { instances: [{ name: gpu-1 }] }\nslack: { channels: ['#infra'] }",
    );
    let u = sb.url();
    let (s, b) = Api::new(&format!("{u}/portkey/v1"), "x-portkey-api-key", "pk")
        .send(
            "POST",
            "/chat/completions",
            &json!({ "model": "gpt-4o-mini", "messages": [{ "role": "user", "content": "ping" }] }),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["object"], json!("chat.completion"));
    assert_eq!(
        b["choices"][0]["message"]["content"],
        json!("sandbox reply to: ping")
    );
    let (s, b) = Api::anonymous(&format!("{u}/tavily"))
        .send(
            "POST",
            "/search",
            &json!({ "api_key": "tvly-x", "query": "vector db", "max_results": 2 }),
        )
        .await;
    assert_eq!((s, b["results"].as_array().unwrap().len()), (200, 2));
    let (s, b) = Api::new(&format!("{u}/serper"), "x-api-key", "sk")
        .send("POST", "/search", &json!({ "q": "vector db" }))
        .await;
    assert_eq!((s, b["organic"].as_array().unwrap().len()), (200, 10));
    let q = Api::new(&format!("{u}/qdrant"), "api-key", "qk");
    assert_eq!(
        q.get("/collections").await.1["result"]["collections"],
        json!([{ "name": "context_chunks" }])
    );
    assert_eq!(
        q.get("/collections/context_chunks").await.1["result"]["config"]["params"]["vectors"],
        json!({ "size": 1536, "distance": "Cosine" })
    );
    let (s, b) = q.get("/collections/missing").await;
    assert_eq!(
        (s, &b["status"]["error"]),
        (
            404,
            &json!("Not found: Collection `missing` doesn't exist!")
        )
    );
    let (s, _) = q
        .send(
            "PUT",
            "/collections/new",
            &json!({ "vectors": { "size": 8, "distance": "Dot" } }),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        q.send(
            "PUT",
            "/collections/new",
            &json!({ "vectors": { "size": 8, "distance": "Dot" } })
        )
        .await
        .0,
        409
    );
    assert_eq!(
        q.send("DELETE", "/collections/new", &Value::Null).await.1["result"],
        json!(true)
    );
    let m = Api::new(&format!("{u}/mem0"), "Token", "m0");
    assert_eq!(m.get("/v1/ping/").await.1["status"], json!("ok"));
    let (s, _) = m
        .send(
            "POST",
            "/v1/memories/",
            &json!({ "messages": [{ "role": "user", "content": "likes tea" }], "user_id": "u1" }),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        m.get("/v1/memories/?user_id=u1").await.1[0]["memory"],
        json!("likes tea")
    );
    let slack = Api::new(&format!("{u}/slack/api"), "Bearer", "xoxb");
    assert_eq!(
        slack
            .send(
                "POST",
                "/chat.postMessage",
                &json!({ "channel": "#infra", "text": "plan ready" })
            )
            .await
            .1["ok"],
        json!(true)
    );
    assert_eq!(
        slack
            .send(
                "POST",
                "/chat.postMessage",
                &json!({ "channel": "#other", "text": "x" })
            )
            .await
            .1["error"],
        json!("channel_not_found")
    );
    let gong = Api::new(
        &format!("{u}/gong"),
        "Basic",
        &base64::engine::general_purpose::STANDARD.encode("key:secret"),
    );
    assert_eq!(
        gong.get("/v2/users").await.1["users"][0]["emailAddress"],
        json!("a@example.com")
    );
    let lambda = Api::new(&format!("{u}/lambda/api/v1"), "Bearer", "lk");
    assert_eq!(
        lambda.get("/instances").await.1["data"][0]["name"],
        json!("gpu-1")
    );
    // Slack also takes a form-encoded body, with the token in it.
    let resp = reqwest::Client::new()
        .post(format!("{u}/slack/api/chat.postMessage"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=xoxb-form&channel=%23infra&text=from+a+form")
        .send()
        .await
        .unwrap();
    assert_eq!(read(resp).await.1["ok"], json!(true));
    sb.with_world(|w| {
        assert_eq!(w.slack.messages.len(), 2);
        assert_eq!(w.slack.messages[1].text, "from a form");
    });
    let form_entry = sb.requests().into_iter().last().unwrap();
    assert_eq!(
        (form_entry.token_scope.as_str(), form_entry.write),
        ("full", true)
    );
    assert!(
        !serde_json::to_string(&form_entry)
            .unwrap()
            .contains("xoxb-form")
    );
}

#[test]
fn serve_prints_its_address_first_and_env_points_every_provider_at_it() {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sophia"))
        .args(["sandbox", "serve", "--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        first.starts_with("listening on http://127.0.0.1:"),
        "{first}"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sophia"))
        .args(["sandbox", "env", "--url", "http://127.0.0.1:4000"])
        .output()
        .unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

#[test]
fn a_bad_state_file_names_the_file_and_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.yaml");
    std::fs::write(&path, "fly:\n  apps:\n    web: { cont: 2 }\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sophia"))
        .args(["sandbox", "serve", "--state"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("state.yaml"), "{stderr}");
    assert!(stderr.contains("unknown field `cont`"), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
}

#[tokio::test]
async fn app_jwts_must_be_signed_by_the_apps_key_when_the_state_gives_one() {
    use rsa::pkcs8::EncodePublicKey as _;
    use rsa::signature::{SignatureEncoding as _, Signer as _};
    // 1,024 bits keeps key generation quick in a debug build; the check is the same.
    let private = rsa::RsaPrivateKey::new(&mut crypto_box::aead::OsRng, 1024).unwrap();
    let pem = private
        .to_public_key()
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap();
    let indented = pem
        .lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    let sb = start(&format!(
        "{}\n  app:\n    id: 31\n    installations: [8]\n    public_key: |\n{indented}\n",
        repo_seed()
    ));
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = chrono::Utc::now().timestamp();
    let unsigned = format!(
        "{}.{}",
        engine.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        engine.encode(json!({ "iat": now - 60, "exp": now + 540, "iss": "31" }).to_string())
    );
    let signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(private);
    let signature = engine.encode(signer.sign(unsigned.as_bytes()).to_bytes());
    let try_token = |jwt: String| {
        let base = format!("{}/github", sb.url());
        async move {
            Api::new(&base, "Bearer", &jwt)
                .send("POST", "/app/installations/8/access_tokens", &Value::Null)
                .await
                .0
        }
    };
    assert_eq!(try_token(format!("{unsigned}.{signature}")).await, 201);
    assert_eq!(try_token(jwt(31)).await, 401, "an unsigned JWT is refused");
    let mut forged = signature.clone().into_bytes();
    forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(
        try_token(format!("{unsigned}.{forged}")).await,
        401,
        "a forged signature is refused"
    );
}
