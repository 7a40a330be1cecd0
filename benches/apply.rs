//! Apply of N independent app deploys against the sandbox at a given latency: wall time
//! versus the DAG's critical-path bound (issue 5: 50 apps, 50 ms, parallelism 10, target
//! ≤ 1.3×), and the same plan run one action at a time for comparison.
//!
//! The bound is computed from the run itself: each action's measured duration, then
//! `max(longest dependency chain, total work ÷ parallelism)` — no schedule can beat either.
//! A ratio near 1 means the executor adds no waiting of its own (no head-of-line blocking,
//! no idle slot while work is ready). A benchmark, not a test: it reports, it asserts nothing.
//!
//! `cargo bench --bench apply [-- APPS LATENCY_MS PARALLELISM]`

#[path = "common/critical_path.rs"]
mod critical_path;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sophia::apply::{self, ApplyEnv, ApplyOptions, Progress};
use sophia::backend::Backend;
use sophia::core::desired::{self, Source};
use sophia::core::plan::{self, Action, PlanOptions};
use sophia::providers::{Credentials, refresh_all};
use sophia::sandbox::{Sandbox, SandboxConfig, Seed};

/// Records each action's duration, and when the DAG started and finished.
#[derive(Default)]
struct Timings {
    took: Mutex<BTreeMap<String, u64>>,
    dag: Mutex<(Option<Instant>, Option<Instant>)>,
}

impl Progress for Timings {
    fn started(&self, _: usize) {
        self.dag.lock().unwrap().0 = Some(Instant::now());
    }
    fn action_done(&self, action: &Action, _: &str, millis: u64) {
        self.took
            .lock()
            .unwrap()
            .insert(action.id.0.clone(), millis);
    }
    fn finished(&self) {
        self.dag.lock().unwrap().1 = Some(Instant::now());
    }
}

fn desired(apps: usize) -> Source {
    let mut text = String::from("providers:\n  fly: active\nfly:\n  org: pay-ready\n  apps:\n");
    for i in 0..apps {
        let _ = write!(
            text,
            "    bench-{i:03}:\n      image: registry.fly.io/bench-{i:03}:v1\n      regions: [ord]\n      count: 1\n      health: {{ path: /healthz, port: 8080 }}\n"
        );
    }
    Source {
        path: "desired/bench.yaml".into(),
        text,
    }
}

/// What one run measured.
struct Figures {
    /// The whole apply: lease, gate, stale check, DAG, proofs, convergence check.
    total: Duration,
    /// The DAG alone.
    dag: Duration,
    bound_ms: f64,
    actions: usize,
    calls: usize,
}

fn run(apps: usize, latency_ms: u64, parallelism: usize) -> Figures {
    let sandbox = Sandbox::start(SandboxConfig {
        seed: Seed::parse("fly: { orgs: [pay-ready] }").unwrap(),
        latency: Duration::from_millis(latency_ms),
        memory_log: true,
        ..SandboxConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".infra")).unwrap();
    std::fs::write(root.join(".infra/sophia.toml"), "approval = \"digest\"\n").unwrap();
    let desired = desired::load(&[desired(apps)]).unwrap();
    let creds = Credentials::from_pairs(sandbox.env());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (live, errors) = runtime.block_on(refresh_all(&desired, &creds));
    assert!(errors.is_empty(), "{errors:?}");
    let plan = plan::build(
        &desired,
        &live,
        &PlanOptions {
            tool_version: "bench".into(),
            tool_source: String::new(),
            created_at: chrono::Utc::now(),
            ttl: chrono::Duration::hours(1),
            nonce: "bench".into(),
            git_commit: None,
            git_dirty: false,
            targets: Vec::new(),
            prices: None,
        },
    )
    .unwrap();
    std::fs::write(
        root.join("plan.json"),
        serde_json::to_string_pretty(&plan).unwrap(),
    )
    .unwrap();
    let requests_before = sandbox.requests().len();
    let timings = Timings::default();
    let started = Instant::now();
    let report = runtime.block_on(async {
        let backend = Backend::open(root, None).await.unwrap();
        let env = ApplyEnv {
            root,
            creds: &creds,
            secrets: Arc::new(BTreeMap::<String, String>::new()),
            backend: &backend,
            progress: &timings,
        };
        apply::apply(
            &env,
            &ApplyOptions {
                plan: "plan.json".into(),
                signatures: Vec::new(),
                approve: Some(plan.digest.clone()),
                parallelism,
                fail_fast: false,
                lease_ttl: Duration::from_secs(600),
            },
        )
        .await
        .unwrap()
    });
    let wall = started.elapsed();
    assert!(report.succeeded(), "the apply failed: {:?}", report.actions);
    let took = timings.took.lock().unwrap().clone();
    let (dag_start, dag_end) = *timings.dag.lock().unwrap();
    Figures {
        total: wall,
        dag: dag_end.unwrap() - dag_start.unwrap(),
        bound_ms: critical_path::bound(&plan.actions, &took, parallelism),
        actions: plan.actions.len(),
        calls: sandbox.requests().len() - requests_before,
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let num = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (apps, latency, parallelism) = (num(0, 50) as usize, num(1, 50), num(2, 10) as usize);
    println!("apply of {apps} independent app deploys at {latency} ms sandbox latency");
    println!(
        "| parallelism | actions | API calls | whole apply | DAG | critical-path bound | DAG ÷ bound |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for p in [parallelism, 1] {
        let f = run(apps, latency, p);
        println!(
            "| {p} | {} | {} | {:.2} s | {:.2} s | {:.2} s | {:.2}× |",
            f.actions,
            f.calls,
            f.total.as_secs_f64(),
            f.dag.as_secs_f64(),
            f.bound_ms / 1000.0,
            f.dag.as_secs_f64() * 1000.0 / f.bound_ms
        );
    }
}
