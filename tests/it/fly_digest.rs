//! Images pinned by digest (issue 13), end to end against the sandbox's registry: `plan`
//! resolves every tag (`HEAD /v2/<repository>/manifests/<tag>`), the signed plan names the
//! digest, apply deploys `name@sha256:…` — the signed one, even when the tag moves after
//! signing — a machine running another digest under the same tag is drift, and a tag that
//! does not resolve fails the plan, naming it, with no mutating call.

use serde_json::Value;
use sophia::sandbox::{LogEntry, Sandbox, SandboxConfig, SandboxHandle, Seed};

use crate::apply::keygen;
use crate::support::{Output, Repo};

const APP: &str = "digest-web";
const TAG: &str = "registry.fly.io/dash:1";

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn pinned(c: char) -> String {
    format!("registry.fly.io/dash@{}", digest(c))
}

/// A scratch repository wired to a sandbox whose registry holds `registry`, with an
/// approver key.
struct Rig {
    repo: Repo,
    sandbox: SandboxHandle,
    env: Vec<(String, String)>,
}

impl Rig {
    fn new(desired: &str, registry: &str) -> Rig {
        let seed = format!("fly:\n  orgs: [pay-ready]\n  registry: {registry}\n");
        let sandbox = Sandbox::start(SandboxConfig {
            seed: Seed::parse(&seed).expect("the test seed parses"),
            ..SandboxConfig::default()
        })
        .expect("the sandbox starts");
        let repo = Repo::new();
        repo.file("desired/main.yaml", desired);
        keygen(&repo, "ceo", "ceo@acme");
        let ceo_pub = std::fs::read_to_string(repo.root().join("ceo.pub")).unwrap();
        repo.file(
            ".infra/allowed_signers",
            &format!("ceo@acme namespaces=\"sophia-plan@v1\" {ceo_pub}"),
        );
        let mut env = sandbox.env();
        env.push(("SOPHIA_HTTP_FAST_RETRIES".into(), "1".into()));
        Rig { repo, sandbox, env }
    }

    fn run(&self, args: &[&str]) -> Output {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.repo.run(args, &env)
    }

    fn plan_and_sign(&self) -> Value {
        let out = self.run(&["plan", "--out", "plan.json"]);
        assert_eq!(out.code, 0, "plan failed:\n{}", out.stderr);
        let _ = std::fs::remove_file(self.repo.root().join("plan.json.sig"));
        let status = std::process::Command::new("ssh-keygen")
            .current_dir(self.repo.root())
            .args(["-q", "-Y", "sign", "-n", "sophia-plan@v1", "-f", "ceo"])
            .arg("plan.json")
            .status()
            .expect("ssh-keygen");
        assert!(status.success());
        let text = std::fs::read_to_string(self.repo.root().join("plan.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn repoint(&self, tag: &str, to: Option<String>) {
        self.sandbox
            .with_world(|w| w.fly.registry.insert(tag.to_string(), to));
    }

    /// The images the machine creates and updates sent, in order.
    fn deployed_images(&self) -> Vec<String> {
        machine_writes(&self.sandbox.requests())
            .filter_map(|r| r.body.pointer("/config/image").and_then(Value::as_str))
            .map(str::to_string)
            .collect()
    }

    /// The digests the app's machines run (`image_ref.digest`).
    fn running(&self) -> Vec<String> {
        self.sandbox.with_world(|w| {
            w.fly.apps[APP]
                .machines
                .values()
                .map(|m| m.running_digest())
                .collect()
        })
    }
}

fn machine_writes(log: &[LogEntry]) -> impl Iterator<Item = &LogEntry> {
    log.iter().filter(|r| {
        r.method == "POST"
            && r.path.contains("/machines")
            && !["/lease", "/start", "/stop"]
                .iter()
                .any(|s| r.path.ends_with(s))
    })
}

fn desired(image: &str) -> String {
    format!(
        "fly:\n  org: pay-ready\n  apps:\n    {APP}:\n      image: {image}\n      regions: [ord]\n      count: 2\n"
    )
}

/// The image of every `fly.machines.*` action of a plan file.
fn planned_images(plan: &Value) -> Vec<String> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"].as_str().unwrap().starts_with("fly.machines."))
        .map(|a| a["params"]["image"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_re_pointed_tag_is_drift_and_apply_deploys_exactly_the_signed_digest() {
    let rig = Rig::new(
        &desired(TAG),
        &format!("{{ \"{TAG}\": \"{}\" }}", digest('a')),
    );
    // First deploy: the plan names the digest, the machines are created by it.
    let plan = rig.plan_and_sign();
    assert_eq!(planned_images(&plan), [pinned('a')]);
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "apply failed:\n{}", out.stderr);
    assert_eq!(rig.deployed_images(), [pinned('a'), pinned('a')]);
    assert_eq!(rig.running(), [digest('a'), digest('a')]);
    let again = rig.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "re-plan shows changes:\n{}", again.stdout);

    // The tag moves: the machines run another digest under it, which is drift.
    rig.repoint(TAG, Some(digest('b')));
    let drift = rig.run(&["drift"]);
    assert_eq!(drift.code, 2, "{}\n{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains(&pinned('a')) && drift.stdout.contains(&pinned('b')),
        "the drift does not show the digest change:\n{}",
        drift.stdout
    );

    // The signed plan names the new digest; the tag moves again after signing.
    let plan = rig.plan_and_sign();
    assert_eq!(planned_images(&plan), [pinned('b')]);
    // The approver reads the tag beside the digest (signed with the action).
    let shown = rig.run(&["show", "plan.json"]);
    assert!(
        shown
            .stdout
            .contains(&format!("image `{TAG}` (planned by its digest)")),
        "{}",
        shown.stdout
    );
    let change = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == format!("fly.app.{APP}.machines"))
        .expect("a machines change");
    assert_eq!(change["before"]["image"], pinned('a'));
    assert_eq!(change["after"]["image"], pinned('b'));
    rig.repoint(TAG, Some(digest('c')));

    // Apply deploys what was signed: the tag is an input of the plan, not a resource it
    // touches, so the machines' fingerprints still hold and the signed digest is deployed.
    let before = rig.deployed_images().len();
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "apply failed:\n{}", out.stderr);
    assert!(
        out.stderr.contains("Live state converged"),
        "{}",
        out.stderr
    );
    let deployed = rig.deployed_images();
    assert_eq!(deployed[before..], [pinned('b'), pinned('b')]);
    assert_eq!(rig.running(), [digest('b'), digest('b')]);
    assert!(
        !deployed
            .iter()
            .any(|i| i == TAG || i.contains(&digest('c'))),
        "{deployed:?}"
    );

    // The tag now names what was not signed: the next plan shows that change.
    let next = rig.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(next.code, 2, "{}", next.stdout);
    assert!(next.stdout.contains(&pinned('c')), "{}", next.stdout);
}

#[test]
fn a_tag_that_does_not_resolve_fails_the_plan_naming_it_and_changes_nothing() {
    let gone = "registry.fly.io/dash:gone";
    let rig = Rig::new(&desired(gone), &format!("{{ \"{gone}\": null }}"));
    let out = rig.run(&["plan", "--out", "plan.json"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    for needle in [gone, "fly.app.digest-web", "MANIFEST_UNKNOWN", "hint: "] {
        assert!(
            out.stderr.contains(needle),
            "no `{needle}` in:\n{}",
            out.stderr
        );
    }
    assert!(!rig.repo.root().join("plan.json").exists());
    let log = rig.sandbox.requests();
    assert!(
        log.iter().all(|r| r.method == "GET" || r.method == "HEAD"),
        "{:?}",
        log.iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    );
    assert!(log.iter().any(|r| r.method == "HEAD"
        && r.path == "/fly/registry/v2/dash/manifests/gone"
        && r.status == Some(404)));

    // An image from a registry sophia cannot resolve in is refused the same way.
    rig.repo.file("desired/main.yaml", &desired("nginx:1.27"));
    let out = rig.run(&["plan"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("nginx:1.27") && out.stderr.contains("nginx@sha256:"),
        "{}",
        out.stderr
    );

    // An image given by digest is deployed as given: nothing to resolve.
    rig.repo.file("desired/main.yaml", &desired(&pinned('d')));
    let heads = |rig: &Rig| {
        rig.sandbox
            .requests()
            .iter()
            .filter(|r| r.method == "HEAD")
            .count()
    };
    let before = heads(&rig);
    let out = rig.run(&["plan", "--out", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(heads(&rig), before);
}

#[test]
fn each_distinct_tag_is_resolved_once_with_flyctl_s_registry_credentials() {
    let yaml = "fly:\n  org: pay-ready\n  apps:\n    \
                a-one: { image: 'registry.fly.io/shared:7', regions: [ord], count: 1 }\n    \
                a-two: { image: 'registry.fly.io/shared:7', regions: [ord], count: 1 }\n    \
                a-three: { image: 'registry.fly.io/other:1', regions: [ord], count: 1 }\n";
    let rig = Rig::new(yaml, "{}");
    let out = rig.run(&["plan"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut heads: Vec<(String, String)> = rig
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "HEAD")
        .map(|r| (r.path, r.token_scope))
        .collect();
    heads.sort();
    assert_eq!(
        heads,
        [
            ("/fly/registry/v2/other/manifests/1".into(), "full".into()),
            ("/fly/registry/v2/shared/manifests/7".into(), "full".into()),
        ]
    );
}

#[tokio::test]
async fn the_sandbox_registry_answers_as_the_distribution_api() {
    let sb = Sandbox::start(SandboxConfig {
        seed: Seed::parse(&format!(
            "fly:\n  registry: {{ \"{TAG}\": \"{}\", \"registry.fly.io/dash:gone\": null }}\n",
            digest('e')
        ))
        .unwrap(),
        ..SandboxConfig::default()
    })
    .unwrap();
    let client = reqwest::Client::new();
    let url = |r: &str| format!("{}/fly/registry/v2/dash/manifests/{r}", sb.url());
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "x:tok")
    );
    // HEAD: the digest, no body.
    let resp = client
        .head(url("1"))
        .header("authorization", &basic)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["docker-content-digest"],
        digest('e').as_str()
    );
    // GET: the same digest and a manifest of its media type; by digest too.
    for reference in ["1".to_string(), digest('e')] {
        let resp = client
            .get(url(&reference))
            .bearer_auth("tok")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{reference}");
        assert_eq!(
            resp.headers()["docker-content-digest"],
            digest('e').as_str()
        );
        let media = resp.headers()["content-type"].to_str().unwrap().to_string();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["mediaType"], media);
        assert_eq!(media, "application/vnd.oci.image.manifest.v1+json");
    }
    // An unknown tag: 404 with the OCI error body; no credentials: 401.
    let resp = client
        .get(url("gone"))
        .header("authorization", &basic)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "MANIFEST_UNKNOWN");
    let resp = client.head(url("1")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
}

#[test]
fn a_refreshed_snapshot_carries_the_digests_and_plans_from_it_pin_them() {
    let rig = Rig::new(
        &desired(TAG),
        &format!("{{ \"{TAG}\": \"{}\" }}", digest('f')),
    );
    let out = rig.run(&["refresh", "--out", "live.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(rig.repo.root().join("live.json")).unwrap();
    let live: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(live["images"][TAG], digest('f'));

    // Planned from the snapshot alone (no credentials): pinned as from the providers.
    let offline = |args: &[&str]| rig.repo.run(args, &[]);
    let out = offline(&["plan", "--live", "live.json", "--out", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(rig.repo.root().join("plan.json")).unwrap();
    let plan: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(planned_images(&plan), [pinned('f')]);
    assert!(!out.stderr.contains("no digest"), "{}", out.stderr);

    // A snapshot without the digest plans the tag, and says so.
    let mut bare = live.clone();
    bare.as_object_mut().unwrap().remove("images");
    std::fs::write(rig.repo.root().join("live.json"), bare.to_string()).unwrap();
    let out = offline(&["plan", "--live", "live.json", "--out", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("warning: the live snapshot holds no digest for the image")
            && out.stderr.contains(TAG)
            && out.stderr.contains("fly.app.digest-web"),
        "{}",
        out.stderr
    );
    let text = std::fs::read_to_string(rig.repo.root().join("plan.json")).unwrap();
    let plan: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(planned_images(&plan), [TAG]);
}
