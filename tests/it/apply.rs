//! `sophia apply` end to end against the in-process sandbox: the signed gate, refusals that
//! happen before any provider call, stale plans, the lease, and the journal. Faults, kills
//! and canaries in every variable are in `reliability.rs`, which shares this file's [`Rig`].

use std::process::Command;

use sophia::sandbox::{Sandbox, SandboxConfig, SandboxHandle, Seed};

use crate::support::{Output, Repo};

pub(crate) const DESIRED: &str = r#"
providers:
  fly: active
  github: active
fly:
  org: pay-ready
  apps:
    app-one:
      image: registry.fly.io/app-one:v1
      regions: [ord]
      count: 2
      secrets: [ONE_SECRET]
      health: { path: /healthz, port: 8080 }
    app-two:
      image: registry.fly.io/app-two:v1
      regions: [ord]
      count: 1
      health: { path: /healthz, port: 8080 }
github:
  repos:
    acme/infra:
      branches:
        main:
          protection:
            required_status_checks: { strict: true, contexts: ["Deploy All"] }
            enforce_admins: true
            required_pull_request_reviews: { require_code_owner_reviews: true }
            restrictions: null
      actions_secrets: [ONE_SECRET]
"#;

pub(crate) const SEED: &str = r#"
fly:
  orgs: [pay-ready]
github:
  repos:
    acme/infra: { branches: [main] }
"#;

/// A canary secret value: it must never appear in anything sophia writes or prints.
pub(crate) const CANARY: &str = "canary-secret-value-4f1d";

/// A scratch repository wired to a sandbox, with an approver key in allowed_signers.
pub(crate) struct Rig {
    pub(crate) repo: Repo,
    pub(crate) sandbox: SandboxHandle,
    pub(crate) env: Vec<(String, String)>,
}

impl Rig {
    pub(crate) fn new() -> Rig {
        Rig::with(SandboxConfig::default())
    }

    pub(crate) fn with(mut config: SandboxConfig) -> Rig {
        config.seed = Seed::parse(SEED).expect("seed");
        let sandbox = Sandbox::start(config).expect("sandbox");
        let repo = Repo::new();
        repo.file("desired/main.yaml", DESIRED);
        keygen(&repo, "ceo", "ceo@acme");
        keygen(&repo, "stranger", "stranger@elsewhere");
        let ceo_pub = std::fs::read_to_string(repo.root().join("ceo.pub")).unwrap();
        repo.file(
            ".infra/allowed_signers",
            &format!("ceo@acme namespaces=\"sophia-plan@v1\" {ceo_pub}"),
        );
        let mut env = sandbox.env();
        env.push(("ONE_SECRET".into(), CANARY.into()));
        // Fast retries: the sandbox's Retry-After is 1 s; tests wait it out, never sleep.
        env.push(("SOPHIA_HTTP_FAST_RETRIES".into(), "1".into()));
        Rig { repo, sandbox, env }
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let out = self.repo.run(args, &env);
        assert!(
            !out.stdout.contains(CANARY) && !out.stderr.contains(CANARY),
            "a secret value was printed:\n{}\n{}",
            out.stdout,
            out.stderr
        );
        out
    }

    /// `sophia -C ROOT ARGS…` with this rig's environment, to spawn (e.g. to kill it).
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sophia"));
        cmd.arg("-C")
            .arg(self.repo.root())
            .args(args)
            .env_clear()
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd
    }

    pub(crate) fn plan(&self, extra: &[&str]) -> Output {
        let mut args = vec!["plan", "--out", "plan.json"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        assert_eq!(out.code, 0, "plan failed: {}", out.stderr);
        out
    }

    /// Sign `plan.json` with `ssh-keygen -Y sign`, as the approver does.
    pub(crate) fn ssh_sign(&self, key: &str, namespace: &str) {
        let _ = std::fs::remove_file(self.repo.root().join("plan.json.sig"));
        let status = Command::new("ssh-keygen")
            .current_dir(self.repo.root())
            .args(["-q", "-Y", "sign", "-n", namespace, "-f", key, "plan.json"])
            .stdin(std::process::Stdio::null())
            .status()
            .expect("ssh-keygen");
        assert!(status.success());
    }

    /// Sign `plan.json` with `key` into `out` (`plan.json.sig` or another name, for a second
    /// signer). ssh-keygen always writes `plan.json.sig` and asks before overwriting one (with
    /// no terminal it keeps the old file): both names are cleared first.
    pub(crate) fn sign_as(&self, key: &str, out: &str) {
        let _ = std::fs::remove_file(self.repo.root().join(out));
        self.ssh_sign(key, "sophia-plan@v1");
        if out != "plan.json.sig" {
            std::fs::rename(
                self.repo.root().join("plan.json.sig"),
                self.repo.root().join(out),
            )
            .unwrap();
        }
    }

    /// A second signer, the CFO, beside the CEO; destructive plans need both.
    pub(crate) fn with_cfo_and_two_destructive_signers(&self) {
        keygen(&self.repo, "cfo", "cfo@acme");
        let key =
            |name: &str| std::fs::read_to_string(self.repo.root().join(format!("{name}.pub")));
        self.repo.file(
            ".infra/allowed_signers",
            &format!(
                "ceo@acme {}cfo@acme {}",
                key("ceo").unwrap(),
                key("cfo").unwrap()
            ),
        );
        self.repo
            .file(".infra/sophia.toml", "[policy]\ndestructive_signers = 2\n");
    }

    /// `verb` (`apply` or `verify`) of `plan.json` signed by both the CFO and the CEO (cfo
    /// first: [`Rig::sign_as`] clears `plan.json.sig` to make another signer's file).
    pub(crate) fn run_with_two_signers(&self, verb: &str) -> Output {
        self.sign_as("cfo", "plan.json.sig.cfo");
        self.sign_as("ceo", "plan.json.sig");
        self.run(&[
            verb,
            "plan.json",
            "--signature",
            "plan.json.sig",
            "--signature",
            "plan.json.sig.cfo",
        ])
    }

    /// A destructive plan's apply: with the CEO's signature alone it is refused before any
    /// call (`what` names the case in a failure); with the CFO's too it runs and makes `call`.
    pub(crate) fn apply_needs_two_signers(&self, what: &str, call: &str) {
        let _ = std::fs::remove_file(self.repo.root().join("plan.json.sig.cfo"));
        self.sign_as("ceo", "plan.json.sig");
        self.sandbox.clear_requests();
        let out = self.run(&["apply", "plan.json"]);
        assert_eq!(out.code, 1, "one signer {what}:\n{}", out.stderr);
        assert!(
            out.stderr
                .contains("needs signatures by 2 distinct principals"),
            "{}",
            out.stderr
        );
        assert!(
            self.mutating_requests().is_empty(),
            "{:?}",
            self.mutating_requests()
        );
        let out = self.run_with_two_signers("apply");
        assert_eq!(out.code, 0, "two signers refused:\n{}", out.stderr);
        assert!(
            self.mutating_requests().contains(&call.to_string()),
            "{:?}",
            self.mutating_requests()
        );
    }

    pub(crate) fn mutating_requests(&self) -> Vec<String> {
        self.sandbox
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET" && r.method != "HEAD")
            .filter(|r| !r.path.contains("/access_tokens"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// Nothing under the repository holds the canary (proofs, journal, plan files).
    pub(crate) fn assert_no_canary_written(&self) {
        for f in self.repo.files() {
            let bytes = std::fs::read(self.repo.root().join(&f)).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(CANARY),
                "`{}` holds a secret value",
                f.display()
            );
        }
    }
}

pub(crate) fn keygen(repo: &Repo, name: &str, comment: &str) {
    let status = Command::new("ssh-keygen")
        .current_dir(repo.root())
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", name])
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
}

#[test]
fn a_plan_signed_with_ssh_keygen_applies_and_converges() {
    let rig = Rig::new();
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "apply failed:\n{}", out.stderr);
    assert!(
        out.stderr.contains("Live state converged"),
        "{}",
        out.stderr
    );

    // The secret really reached the providers (the sandbox opened the sealed box).
    rig.sandbox.with_world(|w| {
        let app = &w.fly.apps["app-one"];
        assert!(app.secrets.contains_key("ONE_SECRET"));
        assert_eq!(app.machines.len(), 2);
        assert_eq!(w.fly.apps["app-two"].machines.len(), 1);
    });

    let again = rig.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "re-plan shows changes:\n{}", again.stdout);
    let verify = rig.run(&["proofs", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    // The plan and its signature are kept under proofs/plans/.
    let files: Vec<String> = rig
        .repo
        .files()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("proofs/plans/") && f.ends_with(".json"))
    );
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("proofs/plans/") && f.ends_with(".sig"))
    );
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("proofs/healthz/app-one"))
    );
    // A front-door health check rewrites the apply's `healthz/` copy: the chain still holds
    // (the journaled proof is the one under `proofs/apply/`).
    let health = rig.run(&["op", "fly", "health", "--app", "app-one"]);
    assert!(
        rig.repo
            .root()
            .join("proofs/healthz/app-one.json")
            .is_file(),
        "{}",
        health.stderr
    );
    let verify = rig.run(&["proofs", "verify"]);
    assert_eq!(verify.code, 0, "after op fly health:\n{}", verify.stderr);
    rig.assert_no_canary_written();
}

/// Every refusal of the gate happens before the first provider call.
#[test]
fn refusals_make_no_provider_call() {
    let rig = Rig::new();

    // A plan edited after signing (one value changed, JSON still valid).
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let path = rig.repo.root().join("plan.json");
    let text = std::fs::read_to_string(&path).unwrap();
    // (The image is pinned by digest: one digit of it changed.)
    std::fs::write(
        &path,
        text.replacen("app-one@sha256:", "app-one@sha256:6", 1),
    )
    .unwrap();
    rig.sandbox.clear_requests();
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("does not match its digest"),
        "{}",
        out.stderr
    );
    assert!(
        rig.sandbox.requests().is_empty(),
        "edited plan: calls were made"
    );

    let cases: [(&str, &str, &[&str], &str); 3] = [
        ("unlisted key", "stranger", &[], "not listed"),
        ("wrong namespace", "ceo", &[], "namespace"),
        ("expired", "ceo", &["--ttl", "1ns"], "expired"),
    ];
    for (name, key, plan_args, expect) in cases {
        rig.plan(plan_args);
        let namespace = if name == "wrong namespace" {
            "file"
        } else {
            "sophia-plan@v1"
        };
        rig.ssh_sign(key, namespace);
        rig.sandbox.clear_requests();
        let out = rig.run(&["apply", "plan.json"]);
        assert_eq!(out.code, 1, "{name}: {}", out.stderr);
        assert!(
            out.stderr.contains(expect),
            "{name}: expected `{expect}` in:\n{}",
            out.stderr
        );
        assert!(
            rig.sandbox.requests().is_empty(),
            "{name}: {} calls were made",
            rig.sandbox.requests().len()
        );
    }

    // A key outside its valid-before window.
    let ceo_pub = std::fs::read_to_string(rig.repo.root().join("ceo.pub")).unwrap();
    rig.repo.file(
        ".infra/allowed_signers",
        &format!("ceo@acme namespaces=\"sophia-plan@v1\",valid-before=\"20200101\" {ceo_pub}"),
    );
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    rig.sandbox.clear_requests();
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("valid"), "{}", out.stderr);
    assert!(rig.sandbox.requests().is_empty());
    // Nothing exists on the providers.
    rig.sandbox.with_world(|w| assert!(w.fly.apps.is_empty()));
}

#[test]
fn a_stale_plan_is_refused_naming_what_changed() {
    let rig = Rig::new();
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    // Out of band, after the plan: somebody protects the branch by hand.
    rig.sandbox.with_world(|w| {
        let repo = w.github.repos.get_mut("acme/infra").unwrap();
        repo.branches.insert(
            "main".into(),
            Some(
                serde_json::json!({"required_status_checks": null, "enforce_admins": false,
                "required_pull_request_reviews": null, "restrictions": null}),
            ),
        );
    });
    rig.sandbox.clear_requests();
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("stale"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("github.repo.acme/infra.branch.main.protection"),
        "{}",
        out.stderr
    );
    assert!(
        rig.mutating_requests().is_empty(),
        "a stale plan made mutating calls: {:?}",
        rig.mutating_requests()
    );
}

#[test]
fn a_second_apply_fails_fast_naming_the_holder() {
    two_applies_race(&[]);
}

#[test]
fn with_the_postgres_backend_a_second_apply_fails_fast_too() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(crate::backend::TestDb::new());
    two_applies_race(&[("SOPHIA_BACKEND", db.url())]);
    // The journal lives in the database and verifies.
    drop(db);
}

/// Two applies of the same signed plan started at the same moment: exactly one runs, the
/// other exits 1 naming the holder. Sandbox latency makes the winner hold the lease for
/// seconds, so the loser, started in the same instant, finds it held.
fn two_applies_race(extra: &[(&str, String)]) {
    let mut rig = Rig::with(SandboxConfig {
        latency: std::time::Duration::from_millis(150),
        ..SandboxConfig::default()
    });
    rig.env
        .extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let spawn = || rig.command(&["apply", "plan.json"]).output();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    let codes = [a.status.code(), b.status.code()];
    assert!(
        codes.contains(&Some(0)) && codes.contains(&Some(1)),
        "exactly one apply must run: {codes:?}\n{}\n{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let loser = if a.status.code() == Some(1) { &a } else { &b };
    let err = String::from_utf8_lossy(&loser.stderr);
    assert!(err.contains("held by"), "{err}");
    // Each app was created once.
    rig.sandbox.with_world(|w| {
        assert_eq!(w.fly.apps.len(), 2);
        assert_eq!(w.fly.apps["app-one"].machines.len(), 2);
    });
    let verify = rig.run(&["proofs", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
}

#[test]
fn plan_and_apply_notify_the_slack_channel_when_slack_is_active() {
    let rig = Rig::new();
    rig.repo.file(
        "desired/slack.yaml",
        "providers:\n  slack: active\nslack: { notify_channel: \"#infra\" }\n",
    );
    let plan = rig.plan(&[]);
    assert!(plan.stderr.contains("Notified Slack"), "{}", plan.stderr);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let messages: Vec<(String, String)> = rig.sandbox.with_world(|w| {
        w.slack
            .messages
            .iter()
            .map(|m| (m.channel.clone(), m.text.clone()))
            .collect()
    });
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages
            .iter()
            .all(|(c, _)| c.trim_start_matches('#') == "infra"),
        "{messages:?}"
    );
    assert!(
        messages[0].1.starts_with("sophia plan sha256:"),
        "{messages:?}"
    );
    assert!(
        messages[1].1.starts_with("sophia apply sha256:"),
        "{messages:?}"
    );
    assert!(
        messages[1].1.contains("live state converged"),
        "{messages:?}"
    );
}

/// An apply that finds its lease taken over (it stalled past its TTL and another apply took
/// the lease) starts no further action: two applies never act at once. The takeover is made
/// by hand, under the same `.infra/` flock every lease operation takes, once the apply has
/// made its first change; one action at a time and the sandbox's latency keep the rest of the
/// DAG running for seconds, far past the apply's next renewal (a third of its 900 ms TTL).
#[test]
fn an_apply_whose_lease_was_taken_over_starts_no_further_action() {
    use std::process::Stdio;
    use std::time::Duration;
    let rig = Rig::with(SandboxConfig {
        latency: Duration::from_millis(150),
        ..SandboxConfig::default()
    });
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let child = rig
        .command(&[
            "apply",
            "plan.json",
            "--lease-ttl",
            "900ms",
            "--parallelism",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        rig.sandbox.wait_for_writes(1, Duration::from_secs(60)),
        "the apply made no change"
    );
    let writes_at_takeover = rig.mutating_requests().len();
    {
        let infra = rig.repo.root().join(".infra");
        let dir = std::fs::File::open(&infra).unwrap();
        rustix::fs::flock(&dir, rustix::fs::FlockOperation::LockExclusive).unwrap();
        let lock = infra.join(".lock");
        let mut lease: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&lock).unwrap()).unwrap();
        lease["holder"] = "someone@elsewhere pid 1".into();
        lease["token"] = "0123456789abcdef0123456789abcdef".into();
        let tmp = infra.join(".lock.takeover");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&lease).unwrap()).unwrap();
        std::fs::rename(&tmp, &lock).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not started: the apply lease of")
            && stderr.contains("was lost to `someone@elsewhere pid 1`"),
        "{stderr}"
    );
    // What was in flight at the renewal may finish; nothing new starts. A full apply makes
    // 8 changes; this one stopped well short of them.
    let writes = rig.mutating_requests().len();
    assert!(
        writes < 8 && writes >= writes_at_takeover,
        "{writes} changes (takeover after {writes_at_takeover})\n{stderr}"
    );
    // The lease that is not ours is left alone.
    let lease = std::fs::read_to_string(rig.repo.root().join(".infra/.lock")).unwrap();
    assert!(lease.contains("someone@elsewhere"), "{lease}");
}

/// `apply --json` and the apply's summary proof say where the time went: the stale check, the
/// actions, the convergence re-read — with a sandbox latency, each phase takes at least one
/// round trip.
#[test]
fn an_apply_reports_the_time_of_each_phase() {
    let rig = Rig::with(SandboxConfig {
        latency: std::time::Duration::from_millis(20),
        ..SandboxConfig::default()
    });
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let out = rig.run(&["--json", "apply", "plan.json"]);
    assert_eq!(out.code, 0, "apply failed:\n{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let timings = &report["timings_ms"];
    for phase in ["stale_check", "actions", "convergence"] {
        let ms = timings[phase].as_u64();
        assert!(ms.is_some_and(|ms| ms >= 20), "{phase}: {timings}");
    }
    let digest = report["plan_digest"].as_str().unwrap();
    let summary = std::fs::read_to_string(
        rig.repo
            .root()
            .join("proofs/apply")
            .join(digest.trim_start_matches("sha256:"))
            .join("summary.json"),
    )
    .unwrap();
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(&summary["results"][0]["timings_ms"], timings);
}

/// Apply acts on the signed plan alone: `desired/` edited between plan and apply (the
/// router's routes changed, then the file made unreadable) changes nothing the apply does.
/// The router's activation carries its routes in its params; the executor validates with
/// those, records them in the action's proof, and makes exactly the signed calls.
#[test]
fn apply_does_what_was_signed_whatever_desired_says_since() {
    const ROUTER: &str = "providers: { router: active }\n\
                          router: { primary: portkey, fallbacks: [openai, groq] }\n";
    let rig = Rig::new();
    let paused = r#"{"format":"sophia-activation/v1","providers":{"router":{"activation":"paused","at":"2026-01-01T00:00:00Z"}}}"#;
    let id = "provider.activate:provider.router";
    let signed_routes =
        serde_json::json!({ "primary": "portkey", "fallbacks": ["openai", "groq"] });

    for edit in [
        "providers: { router: active }\nrouter: { primary: portkey, fallbacks: [anthropic] }\n",
        "router: [\n",
    ] {
        // The last activation recorded the router paused; desired says active.
        rig.repo.file("desired/main.yaml", ROUTER);
        rig.repo.file("proofs/secrets/activation.json", paused);
        rig.plan(&[]);
        let plan: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(rig.repo.root().join("plan.json")).unwrap(),
        )
        .unwrap();
        let actions = plan["actions"].as_array().unwrap();
        assert_eq!(actions.len(), 1, "{actions:?}");
        assert_eq!(actions[0]["id"], id);
        assert_eq!(
            actions[0]["params"],
            serde_json::json!({ "activation": "active", "routes": signed_routes })
        );
        rig.ssh_sign("ceo", "sophia-plan@v1");

        rig.repo.file("desired/main.yaml", edit);
        rig.sandbox.clear_requests();
        let out = rig.run(&["--json", "apply", "plan.json"]);
        assert_eq!(out.code, 0, "after `{edit}`: {}", out.stderr);
        // Exactly the signed calls: the router's validation, nothing else.
        let calls: Vec<String> = rig
            .sandbox
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert_eq!(calls, ["GET /portkey/v1/models"], "after `{edit}`");
        // The proof names the routes that were activated: the signed ones.
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(report["actions"][0]["status"], "succeeded");
        let proof = report["actions"][0]["proof"].as_str().unwrap();
        let proof: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(rig.repo.root().join("proofs").join(proof)).unwrap(),
        )
        .unwrap();
        assert_eq!(proof["status"], "success", "{proof}");
        assert_eq!(proof["results"][0]["activation"], "active");
        assert_eq!(proof["results"][0]["routes"], signed_routes, "{proof}");
        let record =
            std::fs::read_to_string(rig.repo.root().join("proofs/secrets/activation.json"))
                .unwrap();
        let record: serde_json::Value = serde_json::from_str(&record).unwrap();
        assert_eq!(record["providers"]["router"]["activation"], "active");
    }
}
