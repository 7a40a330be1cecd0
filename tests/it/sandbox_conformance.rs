//! Conformance: every GitHub body the sandbox produces validates against the response schema
//! of its operation in GitHub's official OpenAPI description, every request body sent validates
//! against the request schema, and Fly bodies against the Machines API's component schemas.

use crate::support::conformance_dir;

use serde_json::{Value, json};

use super::sandbox::{Api, jwt, repo_seed, seal_for};
use sophia::sandbox::{Sandbox, SandboxConfig, Seed};

/// OpenAPI 3.0 schema → JSON Schema: `nullable: true` becomes a `null` alternative.
fn to_json_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out: serde_json::Map<String, Value> = map
                .iter()
                .filter(|(k, _)| k.as_str() != "nullable" && k.as_str() != "example")
                .map(|(k, v)| {
                    let converted = match k.as_str() {
                        // Property names are keys, not schemas: convert their values only.
                        "properties" => Value::Object(
                            v.as_object()
                                .into_iter()
                                .flatten()
                                .map(|(name, s)| (name.clone(), to_json_schema(s)))
                                .collect(),
                        ),
                        "enum" | "required" => v.clone(),
                        _ => to_json_schema(v),
                    };
                    (k.clone(), converted)
                })
                .collect();
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(t)) = out.get("type").cloned() {
                    out.insert("type".into(), json!([t, "null"]));
                }
                if let Some(Value::Array(mut e)) = out.get("enum").cloned() {
                    e.push(Value::Null);
                    out.insert("enum".into(), Value::Array(e));
                }
                let has_combinator = ["anyOf", "oneOf", "allOf"]
                    .iter()
                    .any(|c| out.contains_key(*c));
                if has_combinator && !out.contains_key("type") {
                    return json!({ "anyOf": [{ "type": "null" }, Value::Object(out)] });
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(to_json_schema).collect()),
        other => other.clone(),
    }
}

fn assert_valid(schema: &Value, instance: &Value, what: &str) {
    let validator = jsonschema::validator_for(schema)
        .unwrap_or_else(|e| panic!("{what}: the schema does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .take(10)
        .map(|e| format!("  at `{}`: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: the body does not validate:\n{}\nbody: {}",
        errors.join("\n"),
        serde_json::to_string(instance)
            .unwrap()
            .chars()
            .take(2000)
            .collect::<String>()
    );
}

struct GithubSpec(Value);

impl GithubSpec {
    fn load(dir: &std::path::Path) -> GithubSpec {
        let text = std::fs::read_to_string(dir.join("github/openapi-subset.json")).unwrap();
        GithubSpec(serde_json::from_str(&text).unwrap())
    }

    fn operation(&self, path: &str, method: &str) -> &Value {
        let op = &self.0["paths"][path][method];
        assert!(
            op.is_object(),
            "no operation {method} {path} in the description"
        );
        op
    }

    fn response(&self, path: &str, method: &str, status: u16, body: &Value) {
        let op = self.operation(path, method);
        let schema = &op["responses"][status.to_string()]["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} has no {status} JSON response in the description"
        );
        assert_valid(
            &to_json_schema(schema),
            body,
            &format!("{} {path} → {status}", method.to_uppercase()),
        );
    }

    fn request(&self, path: &str, method: &str, body: &Value) {
        let op = self.operation(path, method);
        let schema = &op["requestBody"]["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} has no JSON request body"
        );
        assert_valid(
            &to_json_schema(schema),
            body,
            &format!("{} {path} request", method.to_uppercase()),
        );
    }
}

#[tokio::test]
async fn github_bodies_validate_against_the_official_description() {
    let Some(dir) = conformance_dir() else {
        return;
    };
    let spec = GithubSpec::load(&dir);
    let seed = Seed::parse(&format!(
        "{}\n  users: [the-ceo, reviewer-2]\n  teams: {{ ai-cherry: [infra] }}\n  app: {{ id: 4242, installations: [77] }}\n",
        repo_seed()
    ))
    .unwrap();
    let sandbox = Sandbox::start(SandboxConfig {
        seed,
        ..SandboxConfig::default()
    })
    .unwrap();
    let gh = Api::new(&format!("{}/github", sandbox.url()), "token", "full-token");
    let repo = "/repos/ai-cherry/sophia-intel-ai";

    let (s, b) = gh.get(repo).await;
    assert_eq!(s, 200);
    spec.response("/repos/{owner}/{repo}", "get", s, &b);

    // Branch protection: PUT (request and response), GET, DELETE, GET → 404.
    let protection = json!({
        "required_status_checks": { "strict": true, "contexts": ["Deploy All"] },
        "enforce_admins": true,
        "required_pull_request_reviews": {
            "dismissal_restrictions": { "users": ["the-ceo"], "teams": ["infra"] },
            "require_code_owner_reviews": true,
            "bypass_pull_request_allowances": { "users": ["reviewer-2"], "teams": [] }
        },
        "restrictions": { "users": ["the-ceo"], "teams": ["infra"], "apps": [] },
        "required_linear_history": true,
        "allow_force_pushes": false
    });
    let ppath = "/repos/{owner}/{repo}/branches/{branch}/protection";
    spec.request(ppath, "put", &protection);
    let (s, b) = gh
        .send(
            "PUT",
            &format!("{repo}/branches/main/protection"),
            &protection,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    spec.response(ppath, "put", s, &b);
    let (s, b) = gh.get(&format!("{repo}/branches/main/protection")).await;
    assert_eq!(s, 200);
    spec.response(ppath, "get", s, &b);
    assert_eq!(b["enforce_admins"]["enabled"], json!(true));
    assert_eq!(
        b["required_pull_request_reviews"]["required_approving_review_count"],
        json!(1)
    );
    assert_eq!(b["restrictions"]["users"][0]["login"], json!("the-ceo"));
    assert_eq!(b["restrictions"]["teams"][0]["slug"], json!("infra"));
    let null_protection = json!({
        "required_status_checks": null, "enforce_admins": null,
        "required_pull_request_reviews": null, "restrictions": null
    });
    spec.request(ppath, "put", &null_protection);
    let (s, b) = gh
        .send(
            "PUT",
            &format!("{repo}/branches/main/protection"),
            &null_protection,
        )
        .await;
    assert_eq!(s, 200);
    spec.response(ppath, "put", s, &b);
    let (s, _) = gh
        .send(
            "DELETE",
            &format!("{repo}/branches/main/protection"),
            &Value::Null,
        )
        .await;
    assert_eq!(s, 204);
    let (s, b) = gh.get(&format!("{repo}/branches/main/protection")).await;
    assert_eq!(s, 404);
    spec.response(ppath, "get", s, &b);
    assert_eq!(b["message"], json!("Branch not protected"));

    // Actions secrets.
    let (s, b) = gh.get(&format!("{repo}/actions/secrets")).await;
    assert_eq!(s, 200);
    spec.response("/repos/{owner}/{repo}/actions/secrets", "get", s, &b);
    let (s, key) = gh.get(&format!("{repo}/actions/secrets/public-key")).await;
    assert_eq!(s, 200);
    spec.response(
        "/repos/{owner}/{repo}/actions/secrets/public-key",
        "get",
        s,
        &key,
    );
    let spath = "/repos/{owner}/{repo}/actions/secrets/{secret_name}";
    let put = json!({ "encrypted_value": seal_for(&key, b"value-1"), "key_id": key["key_id"] });
    spec.request(spath, "put", &put);
    let (s, b) = gh
        .send("PUT", &format!("{repo}/actions/secrets/NEW_ONE"), &put)
        .await;
    assert_eq!(s, 201);
    spec.response(spath, "put", s, &b);
    let (s, _) = gh
        .send("PUT", &format!("{repo}/actions/secrets/NEW_ONE"), &put)
        .await;
    assert_eq!(s, 204, "setting an existing secret again is an update");
    let (s, b) = gh.get(&format!("{repo}/actions/secrets/NEW_ONE")).await;
    assert_eq!(s, 200);
    spec.response(spath, "get", s, &b);
    let (s, _) = gh
        .send(
            "DELETE",
            &format!("{repo}/actions/secrets/NEW_ONE"),
            &Value::Null,
        )
        .await;
    assert_eq!(s, 204);

    // Environments with reviewers (ids looked up as a client would).
    let (_, ceo) = gh.get("/users/the-ceo").await;
    let (_, team) = gh.get("/orgs/ai-cherry/teams/infra").await;
    let epath = "/repos/{owner}/{repo}/environments/{environment_name}";
    let env = json!({
        "wait_timer": 5,
        "prevent_self_review": true,
        "reviewers": [{ "type": "User", "id": ceo["id"] }, { "type": "Team", "id": team["id"] }],
        "deployment_branch_policy": { "protected_branches": true, "custom_branch_policies": false }
    });
    spec.request(epath, "put", &env);
    let (s, b) = gh
        .send("PUT", &format!("{repo}/environments/production"), &env)
        .await;
    assert_eq!(s, 200, "{b}");
    spec.response(epath, "put", s, &b);
    let (s, b) = gh.get(&format!("{repo}/environments/production")).await;
    assert_eq!(s, 200);
    spec.response(epath, "get", s, &b);
    let (s, b) = gh.get(&format!("{repo}/environments")).await;
    assert_eq!(s, 200);
    spec.response("/repos/{owner}/{repo}/environments", "get", s, &b);

    // Issues and comments.
    let ipath = "/repos/{owner}/{repo}/issues";
    let issue = json!({ "title": "Plan for main", "body": "details" });
    spec.request(ipath, "post", &issue);
    let (s, b) = gh.send("POST", &format!("{repo}/issues"), &issue).await;
    assert_eq!(s, 201);
    spec.response(ipath, "post", s, &b);
    let number = b["number"].as_u64().unwrap();
    let (s, b) = gh.get(&format!("{repo}/issues")).await;
    assert_eq!(s, 200);
    spec.response(ipath, "get", s, &b);
    let one = "/repos/{owner}/{repo}/issues/{issue_number}";
    let (s, b) = gh.get(&format!("{repo}/issues/{number}")).await;
    assert_eq!(s, 200);
    spec.response(one, "get", s, &b);
    let patch = json!({ "state": "closed" });
    spec.request(one, "patch", &patch);
    let (s, b) = gh
        .send("PATCH", &format!("{repo}/issues/{number}"), &patch)
        .await;
    assert_eq!(s, 200);
    spec.response(one, "patch", s, &b);
    let cpath = "/repos/{owner}/{repo}/issues/{issue_number}/comments";
    let comment = json!({ "body": "<!-- sophia-plan -->\nPlan: 1 to change." });
    spec.request(cpath, "post", &comment);
    let (s, b) = gh
        .send(
            "POST",
            &format!("{repo}/issues/{number}/comments"),
            &comment,
        )
        .await;
    assert_eq!(s, 201);
    spec.response(cpath, "post", s, &b);
    let id = b["id"].as_u64().unwrap();
    let (s, b) = gh.get(&format!("{repo}/issues/{number}/comments")).await;
    assert_eq!(s, 200);
    spec.response(cpath, "get", s, &b);
    let cone = "/repos/{owner}/{repo}/issues/comments/{comment_id}";
    let (s, b) = gh.get(&format!("{repo}/issues/comments/{id}")).await;
    assert_eq!(s, 200);
    spec.response(cone, "get", s, &b);
    let edit = json!({ "body": "Plan: 2 to change." });
    spec.request(cone, "patch", &edit);
    let (s, b) = gh
        .send("PATCH", &format!("{repo}/issues/comments/{id}"), &edit)
        .await;
    assert_eq!(s, 200);
    spec.response(cone, "patch", s, &b);
    let (s, b) = gh
        .send(
            "PATCH",
            &format!("{repo}/issues/comments/{id}"),
            &json!({ "body": "x".repeat(65_537) }),
        )
        .await;
    assert_eq!(s, 422);
    spec.response(cone, "patch", s, &b);

    // Rate limit and installation tokens.
    let (s, b) = gh.get("/rate_limit").await;
    assert_eq!(s, 200);
    spec.response("/rate_limit", "get", s, &b);
    let tpath = "/app/installations/{installation_id}/access_tokens";
    let req = json!({ "permissions": { "contents": "read", "metadata": "read" } });
    spec.request(tpath, "post", &req);
    let app = Api::new(&format!("{}/github", sandbox.url()), "Bearer", &jwt(4242));
    let (s, b) = app
        .send("POST", "/app/installations/77/access_tokens", &req)
        .await;
    assert_eq!(s, 201, "{b}");
    spec.response(tpath, "post", s, &b);
    let (s, b) = app.get("/app").await;
    assert_eq!(s, 200);
    spec.response("/app", "get", s, &b);
}

struct FlySpec {
    components: Value,
    paths: Value,
}

impl FlySpec {
    fn load(dir: &std::path::Path) -> FlySpec {
        let text = std::fs::read_to_string(dir.join("fly/machines-openapi.yaml")).unwrap();
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        FlySpec {
            components: to_json_schema(&doc["components"]),
            paths: doc["paths"].clone(),
        }
    }

    fn schema(&self, component: &str) -> Value {
        assert!(
            self.components["schemas"][component].is_object(),
            "no component {component}"
        );
        json!({
            "$ref": format!("#/components/schemas/{component}"),
            "components": self.components,
        })
    }

    fn check(&self, component: &str, body: &Value) {
        assert_valid(&self.schema(component), body, component);
    }

    /// The component an operation's response (or request) names, so the test follows the
    /// description rather than a guess.
    fn response_component(&self, path: &str, method: &str, status: u16) -> String {
        let schema = &self.paths[path][method]["responses"][status.to_string()]["content"]["application/json"]
            ["schema"];
        let r = schema["$ref"]
            .as_str()
            .or_else(|| schema["items"]["$ref"].as_str())
            .unwrap_or_else(|| panic!("{method} {path} {status}: no schema"));
        r.rsplit('/').next().unwrap().to_string()
    }
}

#[tokio::test]
async fn fly_bodies_follow_the_machines_api() {
    let Some(dir) = conformance_dir() else {
        return;
    };
    let spec = FlySpec::load(&dir);
    let sandbox = Sandbox::start(SandboxConfig::default()).unwrap();
    let fly = Api::new(
        &format!("{}/fly/machines/v1", sandbox.url()),
        "Bearer",
        "full-token",
    );

    let create_app = json!({ "app_name": "conformance-app", "org_slug": "pay-ready" });
    spec.check("CreateAppRequest", &create_app);
    let (s, _) = fly.send("POST", "/apps", &create_app).await;
    assert_eq!(s, 201);
    let (s, b) = fly.get("/apps?org_slug=pay-ready").await;
    assert_eq!(s, 200);
    spec.check(&spec.response_component("/apps", "get", 200), &b);
    assert_eq!(b["apps"][0]["name"], json!("conformance-app"));
    let (s, b) = fly.get("/apps/conformance-app").await;
    assert_eq!(s, 200);
    spec.check(&spec.response_component("/apps/{app_name}", "get", 200), &b);

    let create = json!({
        "name": "web-1",
        "region": "ord",
        "config": {
            "image": "registry.fly.io/conformance-app:deployment-01",
            "env": { "LOG_LEVEL": "info" },
            "guest": { "cpu_kind": "shared", "cpus": 1, "memory_mb": 512 },
            "services": [{ "protocol": "tcp", "internal_port": 8080,
                           "ports": [{ "port": 443, "handlers": ["tls", "http"] }] }],
            "checks": { "alive": { "type": "http", "port": 8080, "path": "/healthz",
                                   "interval": "15s", "timeout": "2s" } }
        }
    });
    spec.check("CreateMachineRequest", &create);
    let (s, machine) = fly
        .send("POST", "/apps/conformance-app/machines", &create)
        .await;
    assert_eq!(s, 200, "{machine}");
    let component = spec.response_component("/apps/{app_name}/machines/{machine_id}", "get", 200);
    spec.check(&component, &machine);
    assert_eq!(machine["state"], json!("created"));
    let id = machine["id"].as_str().unwrap().to_string();
    let (s, b) = fly.get("/apps/conformance-app/machines").await;
    assert_eq!(s, 200);
    for m in b.as_array().unwrap() {
        spec.check(&component, m);
    }
    let (s, b) = fly
        .get(&format!("/apps/conformance-app/machines/{id}"))
        .await;
    assert_eq!(s, 200);
    spec.check(&component, &b);
    assert_eq!(b["state"], json!("started"));
    assert_eq!(b["checks"][0]["status"], json!("passing"));

    let lease_req = json!({ "ttl": 60, "description": "sophia apply" });
    spec.check("CreateLeaseRequest", &lease_req);
    let (s, lease) = fly
        .send(
            "POST",
            &format!("/apps/conformance-app/machines/{id}/lease"),
            &lease_req,
        )
        .await;
    assert_eq!(s, 200);
    spec.check("Lease", &lease["data"]);

    let mut update = create.clone();
    update["config"]["image"] = json!("registry.fly.io/conformance-app:deployment-02");
    spec.check("UpdateMachineRequest", &update);
    let nonce = lease["data"]["nonce"].as_str().unwrap().to_string();
    let (s, b) = fly
        .send_with(
            "POST",
            &format!("/apps/conformance-app/machines/{id}"),
            &update,
            &[("fly-machine-lease-nonce", &nonce)],
        )
        .await;
    assert_eq!(s, 200);
    spec.check(&component, &b);

    let (s, b) = fly.get("/apps/conformance-app/machines/nope").await;
    assert_eq!(s, 404);
    spec.check("ErrorResponse", &b);
}

#[test]
fn the_schemas_reject_bodies_that_break_them() {
    let Some(dir) = conformance_dir() else {
        return;
    };
    // Guards the guard: if schema loading silently accepted anything, the tests above would
    // prove nothing.
    let spec = GithubSpec::load(&dir);
    let op = spec.operation("/repos/{owner}/{repo}/branches/{branch}/protection", "get");
    let schema = to_json_schema(&op["responses"]["200"]["content"]["application/json"]["schema"]);
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(
        !validator.is_valid(&json!({ "enforce_admins": true })),
        "a PUT-shaped flag is not the GET shape"
    );
    assert!(validator.is_valid(&json!({ "enforce_admins": { "url": "u", "enabled": true } })));
    let op = spec.operation("/repos/{owner}/{repo}/issues/comments/{comment_id}", "get");
    let schema = to_json_schema(&op["responses"]["200"]["content"]["application/json"]["schema"]);
    assert!(
        !jsonschema::validator_for(&schema)
            .unwrap()
            .is_valid(&json!({ "id": 1 }))
    );
    let fly = FlySpec::load(&dir);
    let machine = jsonschema::validator_for(&fly.schema("Machine")).unwrap();
    assert!(!machine.is_valid(&json!({ "id": 5 })), "an id is a string");
    assert!(!machine.is_valid(&json!({ "config": { "guest": { "cpus": "one" } } })));
}
