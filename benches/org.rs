//! `sophia plan` and `sophia apply` over a generated organization served by the sandbox at a
//! given latency: N Fly apps (3 machines each, two secrets) and M repositories (protection on
//! `main`, five Actions secrets, two environments), with a little drift for the apply to fix.
//!
//! Both commands run as the real binary, in a scratch repository, the way CI runs them; the
//! sandbox runs in this process and counts the calls. For each run it prints the wall time,
//! the API calls, the CPU time and peak RSS of the `sophia` process (GNU time's `%U %S %M`)
//! and the ratio to the bound:
//!
//! - **plan** (refresh + core): `calls × latency ÷ concurrency` — no client can read faster
//!   with that many calls in flight, whatever it does;
//! - **apply**: the DAG's wall time against its critical path, `max(longest dependency chain,
//!   total work ÷ parallelism)` from each action's measured duration (the proofs record it),
//!   and the whole apply (stale check + DAG + convergence re-read) for reference.
//!
//! Then the same with one call at a time, for comparison. A benchmark, not a test: it reports,
//! it asserts only that the runs succeed.
//!
//! `cargo bench --bench org [-- --apps N] [--repos M] [--latency MS] [--parallelism P]
//! [--no-serial-apply] [--no-serial] [--plan-only] [--sophia PATH]`; defaults: 520 apps, 55 repositories (2,000 resources), 25 ms, 16.

#[path = "common/critical_path.rs"]
mod critical_path;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use sophia::core::plan::Plan;
use sophia::sandbox::{Sandbox, SandboxConfig, SandboxHandle, Seed};

/// Fly secret names of every app, and Actions secret names of every repository.
const APP_SECRETS: [&str; 2] = ["APP_DB_URL", "APP_API_KEY"];
const REPO_SECRETS: [&str; 5] = [
    "DEPLOY_TOKEN",
    "PORTKEY_KEY",
    "NEON_URL",
    "TAVILY_KEY",
    "SERPER_KEY",
];
const ENVIRONMENTS: [&str; 2] = ["production", "staging"];

#[derive(Clone, Copy)]
struct Org {
    apps: usize,
    repos: usize,
}

impl Org {
    /// Addresses the desired state manages: app, secrets and machines per app; protection,
    /// each secret and each environment per repository.
    fn resources(self) -> usize {
        self.apps * 3 + self.repos * (1 + REPO_SECRETS.len() + ENVIRONMENTS.len())
    }

    /// Apps that exist only in the desired state (created by the apply): one in 50.
    fn is_new(i: usize) -> bool {
        i % 50 == 49
    }

    /// What the sandbox holds before the first request: everything as desired but one app in
    /// ten on the previous image, one in twenty missing a secret, one repository in ten with a
    /// looser protection and one in ten missing a secret.
    fn seed(self) -> String {
        let mut s = String::from("fly:\n  orgs: [pay-ready]\n  apps:\n");
        for i in (0..self.apps).filter(|i| !Org::is_new(*i)) {
            let image = if i % 10 == 3 { "v1" } else { "v2" };
            let secrets: &[&str] = if i % 20 == 7 {
                &APP_SECRETS[..1]
            } else {
                &APP_SECRETS
            };
            let _ = writeln!(
                s,
                "    app-{i:04}: {{ org: pay-ready, image: \"registry.fly.io/app-{i:04}:{image}\", count: 3, region: ord, secrets: [{}] }}",
                secrets.join(", ")
            );
        }
        s.push_str("github:\n  users: [the-ceo]\n  repos:\n");
        for r in 0..self.repos {
            let strict = r % 10 != 4;
            let secrets = if r % 10 == 6 {
                &REPO_SECRETS[1..]
            } else {
                &REPO_SECRETS[..]
            };
            let _ = write!(
                s,
                "    acme/repo-{r:03}:\n      branches: [main]\n      secrets: [{}]\n      protection:\n        main:\n          required_status_checks: {{ strict: {strict}, contexts: [\"Deploy All\"] }}\n          enforce_admins: true\n          required_pull_request_reviews: {{ require_code_owner_reviews: true }}\n          restrictions: null\n      environments:\n",
                secrets.join(", ")
            );
            environments(&mut s);
        }
        s
    }

    fn desired(self) -> String {
        let mut s = String::from(
            "providers:\n  fly: active\n  github: active\nfly:\n  org: pay-ready\n  apps:\n",
        );
        for i in 0..self.apps {
            let _ = writeln!(
                s,
                "    app-{i:04}: {{ image: \"registry.fly.io/app-{i:04}:v2\", regions: [ord], count: 3, secrets: [{}], health: {{ path: /healthz, port: 8080 }} }}",
                APP_SECRETS.join(", ")
            );
        }
        s.push_str("github:\n  repos:\n");
        for r in 0..self.repos {
            let _ = write!(
                s,
                "    acme/repo-{r:03}:\n      branches:\n        main:\n          protection:\n            required_status_checks: {{ strict: true, contexts: [\"Deploy All\"] }}\n            enforce_admins: true\n            required_pull_request_reviews: {{ require_code_owner_reviews: true }}\n            restrictions: null\n      actions_secrets: [{}]\n      environments:\n",
                REPO_SECRETS.join(", ")
            );
            environments(&mut s);
        }
        s
    }
}

/// The environments of a repository, the same in the seed and the desired state.
fn environments(s: &mut String) {
    for e in ENVIRONMENTS {
        let _ = writeln!(
            s,
            "        {e}: {{ reviewers: [{{ type: User, login: the-ceo }}] }}"
        );
    }
}

/// A scratch repository with the org's desired state, and a sandbox serving its live state.
struct Rig {
    /// The `sophia` binary run: this build's, or `--sophia PATH` (to compare builds).
    sophia: String,
    dir: tempfile::TempDir,
    sandbox: SandboxHandle,
    env: Vec<(String, String)>,
}

impl Rig {
    fn new(org: Org, latency: Duration, sophia: &str) -> Rig {
        let sandbox = Sandbox::start(SandboxConfig {
            seed: Seed::parse(&org.seed()).expect("the generated seed parses"),
            latency,
            // GitHub's real budget is 5,000 calls an hour; a benchmark of several thousand
            // calls a minute would only measure the rate limiter.
            rate_limit: 10_000_000,
            ..SandboxConfig::default()
        })
        .expect("the sandbox starts");
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("desired")).unwrap();
        std::fs::create_dir_all(root.join(".infra")).unwrap();
        std::fs::write(root.join("desired/org.yaml"), org.desired()).unwrap();
        std::fs::write(root.join(".infra/sophia.toml"), "approval = \"digest\"\n").unwrap();
        let mut env = sandbox.env();
        for name in APP_SECRETS.iter().chain(&REPO_SECRETS) {
            env.push((name.to_string(), format!("bench-value-of-{name}")));
        }
        Rig {
            sophia: sophia.to_string(),
            dir,
            sandbox,
            env,
        }
    }

    /// Run `sophia ARGS…` under GNU time, with `concurrency` HTTP calls allowed at once.
    /// Returns (stdout, wall, peak RSS in KiB, API calls made).
    fn run(&self, args: &[&str], concurrency: usize) -> Run {
        let root = self.dir.path();
        let rss_file = root.join(".rss");
        let before = self.sandbox.requests().len();
        let started = Instant::now();
        // GNU time reports the child's peak RSS; without it the run is still timed.
        let gnu_time = Path::new(GNU_TIME).exists();
        let mut cmd = if gnu_time {
            let mut c = Command::new(GNU_TIME);
            c.arg("-f")
                .arg("%U %S %M")
                .arg("-o")
                .arg(&rss_file)
                .arg(&self.sophia);
            c
        } else {
            Command::new(&self.sophia)
        };
        let out = cmd
            .arg("-C")
            .arg(root)
            .args(args)
            .env_clear()
            .env("NO_COLOR", "1")
            .env("SOPHIA_HTTP_MAX_CONCURRENCY", concurrency.to_string())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("sophia runs");
        let wall = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success() || out.status.code() == Some(2),
            "sophia {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // User and system CPU seconds, then the peak RSS in KiB (zeros without GNU time).
        let figures: Vec<f64> = std::fs::read_to_string(&rss_file)
            .ok()
            .and_then(|t| {
                let f: Vec<f64> = t
                    .lines()
                    .last()?
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                (f.len() == 3).then_some(f)
            })
            .unwrap_or_else(|| vec![0.0; 3]);
        let cpu = Duration::from_secs_f64(figures[0] + figures[1]);
        let rss_kib = figures[2] as u64;
        Run {
            stdout,
            wall,
            cpu,
            rss_kib,
            calls: self.sandbox.requests().len() - before,
        }
    }

    /// `sophia plan --out FILE`: the run and the plan it wrote.
    fn plan(&self, out: &str, concurrency: usize) -> (Run, Value) {
        let run = self.run(
            &["plan", "--out", out, "--detailed-exitcode", "--quiet"],
            concurrency,
        );
        let plan: Value = serde_json::from_slice(
            &std::fs::read(self.dir.path().join(out)).expect("the plan file is written"),
        )
        .expect("the plan file is JSON");
        (run, plan)
    }

    fn apply(&self, plan: &Value, parallelism: usize) -> (Run, Value) {
        let digest = plan["digest"].as_str().expect("a digest");
        let p = parallelism.to_string();
        let run = self.run(
            &[
                "--json",
                "apply",
                "plan.json",
                "--approve",
                digest,
                "--parallelism",
                &p,
            ],
            parallelism,
        );
        let report: Value = serde_json::from_str(&run.stdout).expect("apply --json prints JSON");
        assert_eq!(report["succeeded"], true, "the apply failed: {report:#}");
        (run, report)
    }

    /// Each action's duration (ms), from its proof.
    fn durations(&self, report: &Value) -> BTreeMap<String, u64> {
        let proofs = self.dir.path().join("proofs");
        report["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let path = proofs.join(a["proof"].as_str().expect("a proof per action"));
                let proof: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
                (
                    a["id"].as_str().unwrap().to_string(),
                    proof["execution_time_ms"].as_u64().unwrap(),
                )
            })
            .collect()
    }
}

struct Run {
    stdout: String,
    wall: Duration,
    /// User + system CPU time of the `sophia` process.
    cpu: Duration,
    rss_kib: u64,
    calls: usize,
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Where GNU time is expected (Debian's `time` package).
const GNU_TIME: &str = "/usr/bin/time";

fn mib(kib: u64) -> String {
    if kib == 0 {
        return format!("n/a (no {GNU_TIME})");
    }
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1)?.parse().ok())
            .unwrap_or(default)
    };
    let org = Org {
        apps: flag("--apps", 520),
        repos: flag("--repos", 55),
    };
    let latency = Duration::from_millis(flag("--latency", 25) as u64);
    let parallelism = flag("--parallelism", 16);
    let serial_apply = !args.iter().any(|a| a == "--no-serial-apply");
    let plan_only = args.iter().any(|a| a == "--plan-only");
    let sophia = args
        .iter()
        .position(|a| a == "--sophia")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_sophia").to_string());
    let lat_ms = latency.as_secs_f64() * 1000.0;

    println!(
        "{} apps × 3 machines, {} repositories: {} resources; sandbox latency {} ms\n",
        org.apps,
        org.repos,
        org.resources(),
        lat_ms
    );
    println!(
        "| run | concurrency | API calls | wall | bound | wall ÷ bound | CPU (sophia) | peak RSS (sophia) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");

    let rig = Rig::new(org, latency, &sophia);
    let (fast, plan) = rig.plan("plan.json", parallelism);
    let bound = fast.calls as f64 * lat_ms / parallelism as f64 / 1000.0;
    println!(
        "| plan | {parallelism} | {} | {} | {bound:.2} s | {:.2}× | {} | {} |",
        fast.calls,
        secs(fast.wall),
        fast.wall.as_secs_f64() / bound,
        secs(fast.cpu),
        mib(fast.rss_kib)
    );
    let no_serial = args.iter().any(|a| a == "--no-serial");
    let slow = (!no_serial).then(|| {
        let (slow, _) = rig.plan("plan-one-at-a-time.json", 1);
        let serial_bound = slow.calls as f64 * lat_ms / 1000.0;
        println!(
            "| plan, one call at a time | 1 | {} | {} | {serial_bound:.2} s | {:.2}× | {} | {} |",
            slow.calls,
            secs(slow.wall),
            slow.wall.as_secs_f64() / serial_bound,
            secs(slow.cpu),
            mib(slow.rss_kib)
        );
        slow
    });

    let actions = plan["actions"].as_array().unwrap().len();
    let mut apply_rows = Vec::new();
    for p in [parallelism, 1] {
        if plan_only || (p == 1 && (no_serial || !serial_apply)) {
            break;
        }
        // The parallel apply reuses the plan above (nothing changed since); the serial one
        // needs a world of its own, as the first apply changed this one.
        let fresh;
        let (world, plan) = if p == parallelism {
            (&rig, plan.clone())
        } else {
            fresh = Rig::new(org, latency, &sophia);
            let (_, plan) = fresh.plan("plan.json", parallelism);
            (&fresh, plan)
        };
        let (run, report) = world.apply(&plan, p);
        let took = world.durations(&report);
        let parsed: Plan = serde_json::from_value(plan.clone()).expect("the plan file is a plan");
        let bound_ms = critical_path::bound(&parsed.actions, &took, p);
        let t = &report["timings_ms"];
        let dag_ms = t["actions"].as_f64().unwrap();
        apply_rows.push(format!(
            "| apply: {actions} actions (DAG) | {p} | {} | {:.2} s | {:.2} s | {:.2}× | {} | {} |",
            run.calls,
            dag_ms / 1000.0,
            bound_ms / 1000.0,
            dag_ms / bound_ms,
            secs(run.cpu),
            mib(run.rss_kib)
        ));
        apply_rows.push(format!(
            "| apply: whole (stale check {:.2} s + DAG + convergence {:.2} s) | {p} | | {} | | | | |",
            t["stale_check"].as_f64().unwrap() / 1000.0,
            t["convergence"].as_f64().unwrap() / 1000.0,
            secs(run.wall),
        ));
    }
    for row in apply_rows {
        println!("{row}");
    }
    if let Some(slow) = slow {
        println!(
            "\nplan: {:.1}× faster than one call at a time",
            slow.wall.as_secs_f64() / fast.wall.as_secs_f64()
        );
    }
}
