//! The pure core on 10,000 resources: load (from YAML text) → lower → diff → action graph →
//! plan (with digests) → renderings. Prints the wall time of each stage and the peak
//! resident set size (VmHWM from /proc/self/status). A benchmark, not a test: it asserts
//! nothing, it reports. Targets (issue 2): ≤ 250 ms in all, ≤ 150 MB peak.
//!
//! `cargo bench --bench core`

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::TimeZone as _;
use serde_json::json;
use sophia::core::address::Address;
use sophia::core::desired::{self, Source};
use sophia::core::live::LiveSnapshot;
use sophia::core::plan::{self, PlanOptions};
use sophia::core::render;
use sophia::core::{diff, digest, graph, lower};

/// 2,500 apps × 3 addresses (app, secrets, machines) = 7,500 resources.
const APPS: usize = 2_500;
/// 250 repositories × (1 protection + 5 secrets + 4 environments) = 2,500 resources.
const REPOS: usize = 250;

fn desired_yaml() -> Vec<Source> {
    let mut fly = String::from(
        "providers:\n  fly: active\n  github: active\nfly:\n  org: pay-ready\n  apps:\n",
    );
    for i in 0..APPS {
        let dep = if i % 10 == 0 || i == 0 {
            String::new()
        } else {
            format!("      depends_on: [app-{:05}]\n", i - i % 10)
        };
        let _ = write!(
            fly,
            "    app-{i:05}:\n      image: registry.fly.io/app-{i:05}:deployment-02\n      regions: [ord, ams]\n      count: 2\n      guest: {{ cpu_kind: shared, cpus: 1, memory_mb: 512 }}\n      env: {{ LOG_LEVEL: info, APP_INDEX: \"{i}\" }}\n      secrets: [NEON_DATABASE_URL, PORTKEY_API_KEY]\n      health: {{ path: /healthz, port: 8080 }}\n{dep}"
        );
    }
    let mut gh = String::from("github:\n  repos:\n");
    for r in 0..REPOS {
        let _ = write!(
            gh,
            "    ai-cherry/repo-{r:04}:\n      branches:\n        main:\n          protection:\n            required_status_checks: {{ strict: true, contexts: [\"Deploy All\"] }}\n            enforce_admins: true\n            required_pull_request_reviews: {{ require_code_owner_reviews: true }}\n            restrictions: null\n      actions_secrets: [FLY_API_TOKEN, PORTKEY_API_KEY, NEON_DATABASE_URL, TAVILY_API_KEY, SERPER_API_KEY]\n      environments:\n"
        );
        for e in ["production", "staging", "preview", "dev"] {
            let _ = writeln!(
                gh,
                "        {e}: {{ reviewers: [{{ type: User, login: the-ceo }}] }}"
            );
        }
    }
    vec![
        Source {
            path: "desired/fly.yaml".into(),
            text: fly,
        },
        Source {
            path: "desired/github.yaml".into(),
            text: gh,
        },
    ]
}

/// Live state close to desired: every other app runs the previous image, every fourth
/// repository lacks a secret and has a looser protection.
fn live_for(expected: &lower::Expected) -> LiveSnapshot {
    let mut live = LiveSnapshot::new("2026-11-26T07:00:00Z");
    for (i, (address, value)) in expected.iter().enumerate() {
        let mut value = value.clone();
        match address {
            Address::FlyMachines { .. } if i % 2 == 0 => {
                value["image"] = json!("registry.fly.io/app:deployment-01");
            }
            Address::GithubSecret { name, .. } if name == "SERPER_API_KEY" && i % 4 == 0 => {
                continue;
            }
            Address::GithubProtection { .. } if i % 4 == 0 => {
                value["required_status_checks"]["strict"] = json!(false);
                value["required_pull_request_reviews"]["required_approving_review_count"] =
                    json!(1);
            }
            _ => {}
        }
        live.resources.insert(address.clone(), value);
    }
    live
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU time of this process so far (user + system), from /proc/self/stat: unlike wall
/// time it does not grow when other processes compete for the cores.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here (0-based
    // 11, 12), in clock ticks; Linux reports USER_HZ = 100 ticks per second to userspace.
    const TICKS_PER_SECOND: u64 = 100;
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND))
}

fn main() {
    let sources = desired_yaml();
    let yaml_bytes: usize = sources.iter().map(|s| s.text.len()).sum();
    let opts = PlanOptions {
        tool_version: "bench".into(),
        created_at: chrono::Utc.with_ymd_and_hms(2026, 11, 26, 8, 0, 0).unwrap(),
        ttl: chrono::Duration::hours(plan::DEFAULT_TTL_HOURS),
        nonce: "00".repeat(16),
        git_commit: None,
        targets: Vec::new(),
    };
    let mut stages: Vec<(&str, Duration)> = Vec::new();
    let mut time = |name: &'static str, t: Instant| stages.push((name, t.elapsed()));

    let cpu_start = cpu_time();
    let t = Instant::now();
    let d = desired::load(&sources).expect("the generated desired state loads");
    time("load (YAML → Desired)", t);

    let t = Instant::now();
    let expected = lower::lower(&d);
    time("lower", t);
    let live = live_for(&expected);

    let t = Instant::now();
    let changes = diff::diff(&expected, &live).expect("diff");
    time("diff", t);

    let t = Instant::now();
    let actions = graph::build(&changes, &d, &live).expect("graph");
    time("action graph", t);

    let t = Instant::now();
    let p = plan::build(&d, &live, &opts).expect("plan");
    time("plan (lower+diff+graph+digests)", t);

    let t = Instant::now();
    let dg = digest::plan_digest(&p);
    time("plan digest alone", t);
    assert_eq!(dg, p.digest);

    let t = Instant::now();
    let text = render::text::render(&p, false);
    time("render text", t);

    let t = Instant::now();
    let md = render::markdown::render(&p, "plan.json");
    time("render markdown", t);

    let t = Instant::now();
    let js = render::json::render(&p);
    time("render json", t);

    let cpu = cpu_start.zip(cpu_time()).map(|(a, b)| b - a);
    let resources = expected.len();
    println!(
        "core benchmark: {resources} resources ({APPS} apps × 3 + {REPOS} repos × 10 + providers), {} KiB of YAML",
        yaml_bytes / 1024
    );
    println!(
        "plan: {} changes ({}), {} actions; text {} KiB, markdown {} chars, json {} KiB",
        p.changes.len(),
        p.summary.sentence(),
        actions.len(),
        text.len() / 1024,
        md.chars().count(),
        js.len() / 1024
    );
    for (name, d) in &stages {
        println!("  {name:<34} {:>9.1} ms", d.as_secs_f64() * 1000.0);
    }
    // The pipeline a `sophia plan` runs: load, plan (which lowers, diffs, orders and
    // digests), and one rendering of each kind.
    let pipeline: Duration = stages
        .iter()
        .filter(|(n, _)| {
            n.starts_with("load") || n.starts_with("plan (") || n.starts_with("render")
        })
        .map(|(_, d)| *d)
        .sum();
    println!(
        "  {:<34} {:>9.1} ms   (target ≤ 250 ms)",
        "pipeline: load + plan + renders",
        pipeline.as_secs_f64() * 1000.0
    );
    if let Some(cpu) = cpu {
        println!(
            "  {:<34} {:>9.1} ms   (all stages above; 10 ms resolution)",
            "CPU time (user + system)",
            cpu.as_secs_f64() * 1000.0
        );
    }
    match peak_rss_mb() {
        Some(mb) => println!(
            "  {:<34} {mb:>9.1} MB   (target ≤ 150 MB)",
            "peak RSS (VmHWM)"
        ),
        None => println!("  peak RSS: /proc/self/status unavailable on this platform"),
    }
}
