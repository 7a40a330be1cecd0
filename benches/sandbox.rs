//! Requests per second the sandbox serves with no injected latency.
//!
//! `cargo bench --bench sandbox` measures (20,000 requests); without `--bench` (e.g. under
//! `cargo test --all-targets`) it runs a short smoke pass. `SOPHIA_BENCH_REQUESTS=N` overrides
//! the count; `SOPHIA_BENCH_PATH=PATH` measures one path instead of the mix. The target is 2,000 requests per second on a 2-core machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use sophia::sandbox::{Sandbox, SandboxConfig, Seed};

/// Concurrent clients: enough to keep both server workers busy, as an apply with
/// `--parallelism 10` and a few readers would.
const CLIENTS: usize = 16;

/// Requests in a measuring run: long enough (several seconds) to smooth out warm-up.
const BENCH_REQUESTS: usize = 20_000;

/// Requests in a smoke run: enough to exercise every path, quick enough for `cargo test`.
const SMOKE_REQUESTS: usize = 300;

/// The mix: a big GitHub object, a paginated list, a Fly list, a health check.
const PATHS: [&str; 4] = [
    "/github/repos/ai-cherry/sophia-intel-ai",
    "/github/repos/ai-cherry/sophia-intel-ai/actions/secrets",
    "/fly/machines/v1/apps/web/machines",
    "/fly/apps/web/healthz",
];

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let total = std::env::var("SOPHIA_BENCH_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if measuring {
            BENCH_REQUESTS
        } else {
            SMOKE_REQUESTS
        });
    let seed = Seed::parse(
        "fly:\n  apps:\n    web: { count: 2 }\ngithub:\n  repos:\n    ai-cherry/sophia-intel-ai: { secrets: [A, B, C] }\n",
    )
    .expect("a valid seed");
    let sandbox = Sandbox::start(SandboxConfig {
        seed,
        // No primary rate limit: the benchmark measures serving, not refusing.
        rate_limit: u64::MAX,
        // The log stays on (as in tests); its cost is part of the figure.
        ..SandboxConfig::default()
    })
    .expect("the sandbox starts");
    let base = sandbox.url().to_string();
    // `SOPHIA_BENCH_PATH=/fly/apps/web/healthz` measures one path alone.
    let only = std::env::var("SOPHIA_BENCH_PATH").ok();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (elapsed, errors) = runtime.block_on(async move {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .expect("a client");
        let next = Arc::new(AtomicUsize::new(0));
        let errors = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let (client, base, next, errors, only) = (
                client.clone(),
                base.clone(),
                next.clone(),
                errors.clone(),
                only.clone(),
            );
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let path = only.as_deref().unwrap_or(PATHS[i % PATHS.len()]);
                    let url = format!("{base}{path}");
                    let ok = match client.get(url).bearer_auth("bench-token").send().await {
                        Ok(resp) => resp.status().is_success() && resp.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("a client task");
        }
        (start.elapsed(), errors.load(Ordering::Relaxed))
    });
    let rps = total as f64 / elapsed.as_secs_f64();
    println!(
        "sandbox: {total} requests, {CLIENTS} clients, {:.2} s, {rps:.0} requests/s, {errors} errors",
        elapsed.as_secs_f64()
    );
    assert_eq!(errors, 0, "every request succeeds");
    assert_eq!(sandbox.requests().len(), total, "every request is logged");
}
