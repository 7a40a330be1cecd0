//! Every GitHub and Fly route of the sandbox, and their refusals, answered exactly: one scripted
//! session per provider whose transcript (status, headers, body of every answer) is a snapshot.
//! It pins the wire format the providers' clients depend on, so that the emulator's code can
//! move without its answers changing by one byte.

use serde_json::{Value, json};

use super::{Api, jwt, seal_for, start};

/// What a request sends.
enum Send<'a> {
    Nothing,
    Json(Value),
    /// Sent as is, with a JSON content type (e.g. not JSON at all).
    Raw(&'a str),
}

/// Records every exchange of a session as text.
struct Transcript {
    text: String,
}

impl Transcript {
    fn new() -> Transcript {
        Transcript {
            text: String::new(),
        }
    }

    async fn get(&mut self, api: &Api, path: &str) -> Value {
        self.call_with(api, "GET", path, Send::Nothing, &[]).await
    }

    async fn delete(&mut self, api: &Api, path: &str) -> Value {
        self.call_with(api, "DELETE", path, Send::Nothing, &[])
            .await
    }

    /// A request without a body.
    async fn send(&mut self, api: &Api, method: &str, path: &str) -> Value {
        self.call_with(api, method, path, Send::Nothing, &[]).await
    }

    async fn json(&mut self, api: &Api, method: &str, path: &str, body: Value) -> Value {
        self.call_with(api, method, path, Send::Json(body), &[])
            .await
    }

    async fn raw(&mut self, api: &Api, method: &str, path: &str, body: &str) -> Value {
        self.call_with(api, method, path, Send::Raw(body), &[])
            .await
    }

    /// Sends one request and records it with its answer; returns the answer's body.
    async fn call_with(
        &mut self,
        api: &Api,
        method: &str,
        path: &str,
        body: Send<'_>,
        headers: &[(&str, &str)],
    ) -> Value {
        let mut req = api.request(method, path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req = match body {
            Send::Nothing => req,
            Send::Json(v) => req.json(&v),
            Send::Raw(s) => req
                .header("content-type", "application/json")
                .body(s.to_string()),
        };
        let resp = req.send().await.expect("the sandbox answers");
        self.text.push_str(&format!("> {method} {path}\n"));
        self.text
            .push_str(&format!("< {}\n", resp.status().as_u16()));
        let mut names: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter(|(k, _)| k.as_str() != "date")
            .map(|(k, v)| {
                let value = match k.as_str() {
                    // A process-wide counter: depends on what other tests ran first.
                    "x-github-request-id" | "fly-request-id" => "[ID]".to_string(),
                    _ => v.to_str().unwrap_or("[BINARY]").to_string(),
                };
                (k.as_str().to_string(), value)
            })
            .collect();
        names.sort();
        for (k, v) in names {
            self.text.push_str(&format!("< {k}: {v}\n"));
        }
        let text = resp.text().await.unwrap();
        self.text.push_str(&text);
        self.text.push_str("\n\n");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

/// Times, Unix times and per-repository keys vary from run to run.
fn filters() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
        "[TIME]",
    );
    // Unix seconds and milliseconds (ids in the sandbox are 7 digits).
    s.add_filter(r"\b1\d{9}(\d{3})?\b", "[UNIX]");
    s.add_filter(r#""key_id":"\d{18}""#, r#""key_id":"[KEY_ID]""#);
    s.add_filter(r#""key":"[A-Za-z0-9+/=]{44}""#, r#""key":"[KEY]""#);
    s.add_filter(r"http://127\.0\.0\.1:\d+", "http://[ADDR]");
    // A GitHub ETag is the SHA-256 of a body that holds times and addresses.
    s.add_filter(r#"etag: W/"[0-9a-f]{64}""#, r#"etag: W/"[SHA256]""#);
    s
}

const REPO: &str = "/repos/ai-cherry/sophia-intel-ai";
const MISSING: &str = "/repos/ai-cherry/missing";

const GITHUB_SEED: &str = r#"
github:
  users: [the-ceo, reviewer-2]
  teams: { ai-cherry: [infra] }
  app: { id: 99, installations: [5] }
  repos:
    ai-cherry/sophia-intel-ai:
      branches: [main, develop]
      private: true
      secrets: [FLY_API_TOKEN, PORTKEY_API_KEY]
      environments:
        production: { reviewers: [{ type: User, login: the-ceo }, { type: Team, slug: infra }], wait_timer: 5 }
      issues: [{ title: "Tracking", body: "first", state: open }, { title: "Old", state: closed }]
"#;

#[tokio::test]
async fn every_github_route_answers_as_github_does() {
    let sb = start(GITHUB_SEED);
    let base = format!("{}/github", sb.url());
    let api = Api::new(&base, "token", "full");
    let mut t = Transcript::new();

    // Accounts, rate limit, unknown paths, the app and its installation tokens.
    t.get(&api, "/rate_limit").await;
    for who in ["the-ceo", "ai-cherry", "sophia-bot", "somebody-new"] {
        t.get(&api, &format!("/users/{who}")).await;
    }
    t.get(&api, "/orgs/ai-cherry/teams/infra").await;
    t.get(&api, "/orgs/ai-cherry/teams/nope").await;
    t.get(&api, "/nope").await;
    let app = Api::new(&base, "Bearer", &jwt(99));
    t.get(&app, "/app").await;
    t.get(&Api::new(&base, "Bearer", "x.y.z"), "/app").await;
    t.get(&Api::new(&base, "Bearer", &jwt(7)), "/app").await;
    let expired = {
        use base64::Engine as _;
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
        };
        format!(
            "{}.{}.c2ln",
            b64(&json!({ "alg": "RS256" })),
            b64(&json!({ "exp": 1, "iss": "99" }))
        )
    };
    let tokens = "/app/installations/5/access_tokens";
    t.send(&Api::new(&base, "Bearer", &expired), "POST", tokens)
        .await;
    t.send(&app, "POST", tokens).await;
    let perms = json!({ "permissions": { "metadata": "read", "issues": "read" } });
    t.json(&app, "POST", tokens, perms).await;
    t.raw(&app, "POST", tokens, "{not json").await;
    t.send(&app, "POST", "/app/installations/6/access_tokens")
        .await;
    t.send(&app, "POST", "/app/installations/x/access_tokens")
        .await;

    // Repositories.
    t.get(&api, REPO).await;
    t.get(&api, REPO).await;
    t.get(&api, MISSING).await;

    // Branch protection.
    let prot = format!("{REPO}/branches/main/protection");
    let no_branch = format!("{REPO}/branches/nope/protection");
    let no_repo = format!("{MISSING}/branches/main/protection");
    t.get(&api, &prot).await;
    t.get(&api, &no_branch).await;
    t.raw(&api, "PUT", &prot, "{").await;
    t.raw(&api, "PUT", &prot, "[1]").await;
    for bad in [
        json!({ "required_status_checks": null, "enforce_admins": true, "restrictions": null }),
        json!({ "required_status_checks": { "contexts": [] }, "enforce_admins": true, "required_pull_request_reviews": null, "restrictions": null }),
        json!({ "required_status_checks": { "strict": true }, "enforce_admins": true, "required_pull_request_reviews": null, "restrictions": null }),
        json!({ "required_status_checks": 3, "enforce_admins": true, "required_pull_request_reviews": null, "restrictions": null }),
        json!({ "required_status_checks": null, "enforce_admins": "yes", "required_pull_request_reviews": null, "restrictions": null }),
        json!({ "required_status_checks": null, "enforce_admins": true, "required_pull_request_reviews": null, "restrictions": { "users": [] } }),
        json!({ "required_status_checks": null, "enforce_admins": true, "required_pull_request_reviews": null, "restrictions": 1 }),
        json!({ "required_status_checks": null, "enforce_admins": true, "required_pull_request_reviews": { "required_approving_review_count": 7 }, "restrictions": null }),
    ] {
        t.json(&api, "PUT", &prot, bad).await;
    }
    let full = json!({
        "required_status_checks": { "strict": true, "contexts": ["Deploy All"] },
        "enforce_admins": true,
        "required_pull_request_reviews": {
            "require_code_owner_reviews": true,
            "dismiss_stale_reviews": true,
            "dismissal_restrictions": { "users": ["the-ceo"], "teams": ["infra"] },
            "bypass_pull_request_allowances": { "users": ["reviewer-2"], "teams": [] },
        },
        "restrictions": { "users": ["the-ceo"], "teams": ["infra"], "apps": [] },
        "required_linear_history": true,
        "allow_force_pushes": false,
    });
    t.json(&api, "PUT", &prot, full).await;
    t.get(&api, &prot).await;
    let checks = json!({
        "required_status_checks": { "strict": false, "contexts": [], "checks": [{ "context": "ci", "app_id": 15368 }, { "context": "lint" }] },
        "enforce_admins": null,
        "required_pull_request_reviews": { "required_approving_review_count": 2 },
        "restrictions": null,
    });
    let develop = format!("{REPO}/branches/develop/protection");
    t.json(&api, "PUT", &develop, checks).await;
    // A body that is not JSON is refused before the repository is looked up.
    t.raw(&api, "PUT", &no_repo, "nope").await;
    t.json(&api, "PUT", &no_repo, json!({})).await;
    t.json(&api, "PUT", &no_branch, json!({})).await;
    t.delete(&api, &prot).await;
    t.delete(&api, &prot).await;
    t.delete(&api, &no_branch).await;
    t.delete(&api, &no_repo).await;

    // Actions secrets.
    let secrets = format!("{REPO}/actions/secrets");
    let key = t.get(&api, &format!("{secrets}/public-key")).await;
    t.get(&api, &format!("{MISSING}/actions/secrets/public-key"))
        .await;
    t.get(&api, &format!("{secrets}/FLY_API_TOKEN")).await;
    t.get(&api, &format!("{secrets}/NOPE")).await;
    let sealed = seal_for(&key, b"value");
    let good = json!({ "encrypted_value": sealed, "key_id": key["key_id"] });
    let new = format!("{secrets}/NEW");
    t.raw(&api, "PUT", &new, "x").await;
    t.json(&api, "PUT", &new, json!({ "key_id": key["key_id"] }))
        .await;
    for name in ["GITHUB_TOKEN", "1ABC", "A-B"] {
        t.json(&api, "PUT", &format!("{secrets}/{name}"), good.clone())
            .await;
    }
    let wrong_key = json!({ "encrypted_value": sealed, "key_id": "1" });
    t.json(&api, "PUT", &new, wrong_key).await;
    let not_a_box = json!({ "encrypted_value": "bm90IGEgYm94", "key_id": key["key_id"] });
    t.json(&api, "PUT", &new, not_a_box).await;
    t.json(
        &api,
        "PUT",
        &format!("{MISSING}/actions/secrets/NEW"),
        good.clone(),
    )
    .await;
    t.json(&api, "PUT", &new, good.clone()).await;
    t.json(&api, "PUT", &new, good).await;
    t.get(&api, &secrets).await;
    t.get(&api, &format!("{secrets}?per_page=1&page=2")).await;
    t.get(&api, &format!("{secrets}?per_page=abc")).await;
    t.delete(&api, &new).await;
    t.delete(&api, &new).await;
    t.get(&api, &format!("{MISSING}/actions/secrets")).await;

    // Environments.
    let envs = format!("{REPO}/environments");
    let staging = format!("{envs}/staging");
    t.get(&api, &envs).await;
    t.get(&api, &format!("{envs}/production")).await;
    t.get(&api, &format!("{envs}/nope")).await;
    t.send(&api, "PUT", &staging).await;
    t.raw(&api, "PUT", &staging, "{").await;
    let ceo = t.get(&api, "/users/the-ceo").await;
    let team = t.get(&api, "/orgs/ai-cherry/teams/infra").await;
    let seven: Vec<Value> = (0..7)
        .map(|_| json!({ "type": "User", "id": ceo["id"] }))
        .collect();
    for bad in [
        json!({ "wait_timer": 43_201 }),
        json!({ "wait_timer": "soon" }),
        json!({ "reviewers": seven }),
        json!({ "reviewers": [{ "type": "User" }] }),
        json!({ "reviewers": [{ "type": "Bot", "id": 1 }] }),
        json!({ "reviewers": [{ "type": "Team", "id": 1 }] }),
        json!({ "reviewers": "the-ceo" }),
        json!({ "deployment_branch_policy": { "protected_branches": true } }),
    ] {
        t.json(&api, "PUT", &staging, bad).await;
    }
    let full = json!({
        "wait_timer": 30,
        "prevent_self_review": true,
        "reviewers": [{ "type": "User", "id": ceo["id"] }, { "type": "Team", "id": team["id"] }],
        "deployment_branch_policy": { "protected_branches": true, "custom_branch_policies": false },
    });
    t.json(&api, "PUT", &staging, full).await;
    let cleared = json!({ "reviewers": null, "deployment_branch_policy": null });
    t.json(&api, "PUT", &staging, cleared).await;
    t.json(
        &api,
        "PUT",
        &format!("{MISSING}/environments/staging"),
        json!({ "wait_timer": 1 }),
    )
    .await;
    t.get(&api, &format!("{envs}?per_page=1")).await;
    t.delete(&api, &staging).await;
    t.delete(&api, &staging).await;
    t.delete(&api, &format!("{MISSING}/environments/staging"))
        .await;

    // Issues.
    let issues = format!("{REPO}/issues");
    t.get(&api, &issues).await;
    t.get(&api, &format!("{issues}?state=all&per_page=1")).await;
    t.raw(&api, "POST", &issues, "[").await;
    t.json(&api, "POST", &issues, json!({ "body": "x" })).await;
    let too_long = json!({ "title": "t", "body": "x".repeat(65_537) });
    t.json(&api, "POST", &issues, too_long).await;
    t.json(&api, "POST", &issues, json!({ "title": 42 })).await;
    let plan = json!({ "title": "Plan", "body": "the plan" });
    t.json(&api, "POST", &issues, plan).await;
    t.json(
        &api,
        "POST",
        &format!("{MISSING}/issues"),
        json!({ "title": "x" }),
    )
    .await;
    t.get(&api, &format!("{issues}/1")).await;
    t.get(&api, &format!("{issues}/99")).await;
    t.get(&api, &format!("{issues}/abc")).await;
    let third = format!("{issues}/3");
    t.json(&api, "PATCH", &third, json!({ "state": "done" }))
        .await;
    let too_long = json!({ "body": "y".repeat(65_537) });
    t.json(&api, "PATCH", &third, too_long).await;
    let close = json!({ "state": "closed", "title": "Plan (done)" });
    t.json(&api, "PATCH", &third, close).await;
    let reopen = json!({ "state": "open", "body": null });
    t.json(&api, "PATCH", &third, reopen).await;
    t.json(
        &api,
        "PATCH",
        &format!("{issues}/99"),
        json!({ "state": "open" }),
    )
    .await;
    t.raw(&api, "PATCH", &third, "-").await;
    t.get(&api, &format!("{issues}?state=closed")).await;
    t.get(&api, &format!("{MISSING}/issues")).await;

    // Issue comments.
    let comments = format!("{issues}/1/comments");
    let no_issue = format!("{issues}/99/comments");
    t.get(&api, &no_issue).await;
    t.json(&api, "POST", &comments, json!({})).await;
    let too_long = json!({ "body": "z".repeat(65_537) });
    t.json(&api, "POST", &comments, too_long).await;
    t.json(&api, "POST", &no_issue, json!({ "body": "hi" }))
        .await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        let c = t
            .json(&api, "POST", &comments, json!({ "body": text }))
            .await;
        ids.push(c["id"].as_u64().unwrap());
    }
    t.get(&api, &comments).await;
    t.get(&api, &format!("{comments}?per_page=2&page=2")).await;
    let one = format!("{issues}/comments/{}", ids[0]);
    t.get(&api, &one).await;
    t.get(&api, &format!("{issues}/comments/1")).await;
    t.get(&api, &format!("{issues}/comments/x")).await;
    t.json(&api, "PATCH", &one, json!({ "body": "uno" })).await;
    t.json(&api, "PATCH", &one, json!({ "body": 1 })).await;
    t.json(
        &api,
        "PATCH",
        &format!("{issues}/comments/1"),
        json!({ "body": "x" }),
    )
    .await;
    t.delete(&api, &one).await;
    t.delete(&api, &one).await;
    t.get(&api, REPO).await;

    filters().bind(|| insta::assert_snapshot!("github_routes", t.text));
}

const FLY_SEED: &str = r#"
fly:
  orgs: [pay-ready]
  apps:
    web: { image: "registry.fly.io/web:1", count: 1, secrets: [DATABASE_URL] }
    broken: { image: "registry.fly.io/web:bad-1", count: 1 }
    empty: { count: 0 }
"#;

#[tokio::test]
async fn every_fly_route_answers_as_fly_does() {
    let sb = start(FLY_SEED);
    let m = Api::new(&format!("{}/fly/machines/v1", sb.url()), "Bearer", "full");
    let gql = Api::new(&format!("{}/fly/api", sb.url()), "Bearer", "full");
    let apps = Api::anonymous(&format!("{}/fly/apps", sb.url()));
    let mut t = Transcript::new();

    // Apps.
    t.get(&m, "/apps").await;
    t.get(&m, "/apps?org_slug=nope").await;
    t.get(&m, "/apps?org_slug=pay-ready").await;
    t.raw(&m, "POST", "/apps", "{").await;
    t.json(&m, "POST", "/apps", json!({ "app_name": "x" }))
        .await;
    for (name, org) in [("x", "nope"), ("web", "pay-ready"), ("api", "pay-ready")] {
        let body = json!({ "app_name": name, "org_slug": org });
        t.json(&m, "POST", "/apps", body).await;
    }
    t.get(&m, "/apps/api").await;
    t.get(&m, "/apps/web").await;
    t.get(&m, "/apps/nope").await;

    // Machines.
    t.get(&m, "/apps/web/machines").await;
    t.get(&m, "/apps/nope/machines").await;
    t.json(&m, "POST", "/apps/api/machines", json!({})).await;
    let no_image = json!({ "config": { "image": "" } });
    t.json(&m, "POST", "/apps/api/machines", no_image).await;
    let image = json!({ "config": { "image": "x:1" } });
    t.json(&m, "POST", "/apps/nope/machines", image).await;
    let config = json!({
        "image": "registry.fly.io/api:1",
        "checks": { "http": { "type": "http", "port": 8080, "path": "/healthz" } },
    });
    let create = json!({ "config": config, "region": "ams", "name": "api-1", "lease_ttl": 60 });
    let created = t.json(&m, "POST", "/apps/api/machines", create).await;
    let id = created["id"].as_str().unwrap().to_string();
    let nonce = created["nonce"].as_str().unwrap().to_string();
    let with_nonce = [("fly-machine-lease-nonce", nonce.as_str())];
    let machine = format!("/apps/api/machines/{id}");
    t.get(&m, &machine).await;
    t.get(&m, "/apps/api/machines/nope").await;
    t.get(&m, "/apps/nope/machines/nope").await;
    let update = json!({ "config": { "image": "registry.fly.io/api:2" }, "region": "ord" });
    t.json(&m, "POST", &machine, update.clone()).await;
    t.json(&m, "POST", &machine, json!({ "config": 1 })).await;
    t.call_with(&m, "POST", &machine, Send::Json(update), &with_nonce)
        .await;
    t.get(&m, &format!("{machine}/wait?state=started")).await;
    t.get(&m, &format!("{machine}/wait?state=gone")).await;

    // Leases.
    let lease = format!("{machine}/lease");
    t.get(&m, &lease).await;
    t.json(&m, "POST", &lease, json!({ "ttl": 5 })).await;
    let refresh = json!({ "ttl": 5, "description": "deploy" });
    t.call_with(&m, "POST", &lease, Send::Json(refresh), &with_nonce)
        .await;
    t.call_with(&m, "DELETE", &lease, Send::Nothing, &with_nonce)
        .await;
    t.get(&m, &lease).await;
    t.get(&m, "/apps/api/machines/nope/lease").await;

    // Start, stop, wait, destroy.
    t.send(&m, "POST", &format!("{machine}/start")).await;
    t.delete(&m, &machine).await;
    t.send(&m, "POST", &format!("{machine}/stop")).await;
    t.get(&m, &format!("{machine}/wait?state=stopped")).await;
    t.send(&m, "POST", &format!("{machine}/stop")).await;
    t.send(&m, "POST", &format!("{machine}/start")).await;
    t.delete(&m, &format!("{machine}?force=true")).await;
    t.get(&m, &format!("{machine}/wait?state=destroyed")).await;
    t.send(&m, "POST", "/apps/api/machines/nope/start").await;

    // Secrets.
    t.get(&m, "/apps/web/secrets").await;
    t.get(&m, "/apps/nope/secrets").await;
    t.json(&m, "POST", "/apps/web/secrets", json!({})).await;
    for values in [
        json!({ "1BAD": "x" }),
        json!({ "GOOD": 1 }),
        json!({ "API_KEY": "s3cr3t", "DATABASE_URL": null }),
    ] {
        let body = json!({ "values": values });
        t.json(&m, "POST", "/apps/web/secrets", body).await;
    }
    let empty = json!({ "values": {} });
    t.json(&m, "POST", "/apps/nope/secrets", empty).await;
    t.delete(&m, "/apps/web/secrets/API_KEY").await;
    t.delete(&m, "/apps/web/secrets/API_KEY").await;
    t.delete(&m, "/apps/nope/secrets/API_KEY").await;

    // GraphQL and logs.
    let q = |query: &str| json!({ "query": query });
    t.json(&gql, "POST", "/graphql", q("query { viewer { email } }"))
        .await;
    let deploy_token = Api::new(&format!("{}/fly/api", sb.url()), "FlyV1", "fm2_deploy");
    t.json(
        &deploy_token,
        "POST",
        "/graphql",
        q("query { viewer { email } }"),
    )
    .await;
    let by_variable = json!({
        "query": "query($name: String!) { app(name: $name) { id } organization(slug: \"nope\") { id } }",
        "variables": { "name": "web" },
    });
    t.json(&gql, "POST", "/graphql", by_variable).await;
    let literal = "query { app(name: \"nope\") { id } organization(slug: \"pay-ready\") { id } }";
    t.json(&gql, "POST", "/graphql", q(literal)).await;
    t.json(
        &gql,
        "POST",
        "/graphql",
        q("query { platform { regions } }"),
    )
    .await;
    t.json(&gql, "POST", "/graphql", q("mutation { x }")).await;
    t.raw(&gql, "POST", "/graphql", "{").await;
    t.get(&gql, "/api/v1/apps/web/logs").await;
    t.get(&gql, "/api/v1/apps/api/logs?next_token=1").await;
    t.get(&gql, "/api/v1/apps/nope/logs").await;

    // Health, then the app's deletion.
    for path in [
        "/web",
        "/web/healthz",
        "/broken/healthz",
        "/empty/",
        "/nope/x",
    ] {
        t.get(&apps, path).await;
    }
    t.delete(&m, "/apps/api").await;
    t.delete(&m, "/apps/api").await;

    filters().bind(|| insta::assert_snapshot!("fly_routes", t.text));
}
