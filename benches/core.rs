//! The pure core on 10,000 resources: load (from YAML text) → lower → diff → action graph →
//! plan (with digests) → renderings. Prints the wall time of each stage and the peak
//! resident set size (VmHWM from /proc/self/status). A benchmark, not a test: it asserts
//! nothing, it reports. Targets (issue 2): ≤ 250 ms in all, ≤ 150 MB peak.
//!
//! `cargo bench --bench core [-- --resources N] [--changes K]`: N resources (default
//! 10,000: three quarters Fly addresses, a quarter GitHub); live state either close to desired
//! (every other app's image, every fourth repository's secret and protection differ) or, with
//! `--changes K`, equal to desired but for K resources (the common case of a pull request).
//! The live snapshot is also serialized and parsed back as `plan --live` reads it (`parse
//! live.json`), the text and markdown renderings are summed (issue 20: ≤ 50 ms for 10 changes
//! among 30,000 resources), and the desired and plan digests and the plan file's SHA-256 are
//! printed, so two builds can be checked to plan byte-identically. Each stage also reports
//! the heap it leaves allocated and the resident memory it adds at its peak. `--write DIR`
//! writes the repository (the apps split over files of 2,500, under the loader's 4 MiB
//! limit) and `live.json`. `--sophia PATH` then times the whole process in it — `PATH plan
//! --live live.json --out plan.json` under GNU time, 5 runs: wall, CPU and peak RSS (issue
//! 20: ≤ 200 ms at 10,000 resources, ≤ 300 MB at 100,000):
//!
//! ```text
//! cargo build --release --bin sophia
//! cargo bench --bench core -- --resources 100000 --changes 10 --sophia target/release/sophia
//! ```

/// The allocator of the `sophia` binary (src/main.rs), so the figures are the binary's,
/// wrapped to count the bytes allocated and not yet freed: each stage reports the heap it
/// leaves behind (where the bytes of a plan go, without a heap profiler: mimalloc maps its
/// own memory, which heaptrack and massif do not see).
#[global_allocator]
static ALLOCATOR: cap::Cap<mimalloc::MiMalloc> = cap::Cap::new(mimalloc::MiMalloc, usize::MAX);

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
use sophia::ops::refresh::parse_snapshot;

/// The size of the generated organisation.
#[derive(Clone, Copy)]
struct Size {
    /// Apps × 3 addresses (app, secrets, machines): three quarters of the resources.
    apps: usize,
    /// Repositories × (1 protection + 5 secrets + 4 environments): a quarter.
    repos: usize,
}

impl Size {
    fn of(resources: usize) -> Size {
        Size {
            apps: resources * 3 / 4 / 3,
            repos: resources / 4 / 10,
        }
    }
}

/// The command line: `--resources N`, `--changes K`, `--write DIR`, `--sophia PATH` (cargo
/// bench passes `--bench`).
struct Args {
    resources: usize,
    changes: Option<usize>,
    write: Option<std::path::PathBuf>,
    sophia: Option<std::path::PathBuf>,
}

fn args() -> Args {
    let mut resources = 10_000;
    let mut changes = None;
    let mut write = None;
    let mut sophia = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .and_then(|v| v.replace('_', "").parse::<usize>().ok())
                .unwrap_or_else(|| panic!("{a} needs a number"))
        };
        match a.as_str() {
            "--resources" => resources = value(),
            "--changes" => changes = Some(value()),
            "--write" => write = it.next().map(std::path::PathBuf::from),
            "--sophia" => sophia = it.next().map(std::path::PathBuf::from),
            _ => {}
        }
    }
    Args {
        resources,
        changes,
        write,
        sophia,
    }
}

/// `--write DIR`: the generated repository (`DIR/desired/*.yaml`) and live snapshot
/// (`DIR/live.json`), so the whole process can be measured:
/// `cd DIR && /usr/bin/time -v sophia plan --live live.json --out plan.json`.
fn write_repo(dir: &std::path::Path, sources: &[Source], live: &LiveSnapshot) {
    std::fs::create_dir_all(dir.join("desired")).expect("creating DIR/desired");
    for s in sources {
        std::fs::write(dir.join(&s.path), &s.text).expect("writing a desired file");
    }
    let json = serde_json::to_vec(live).expect("the snapshot serializes");
    std::fs::write(dir.join("live.json"), json).expect("writing live.json");
}

/// Apps per generated file: the loader refuses a file over 4 MiB (about 340 bytes an app).
const APPS_PER_FILE: usize = 2_500;

fn desired_yaml(size: Size) -> Vec<Source> {
    let (apps, repos) = (size.apps, size.repos);
    let mut files = Vec::new();
    let mut fly = String::from(
        "providers:\n  fly: active\n  github: active\nfly:\n  org: pay-ready\n  apps:\n",
    );
    for i in 0..apps {
        if i > 0 && i % APPS_PER_FILE == 0 {
            files.push(Source {
                path: format!("desired/fly-{:02}.yaml", files.len()),
                text: std::mem::replace(&mut fly, String::from("fly:\n  apps:\n")),
            });
        }
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
    files.push(Source {
        path: format!("desired/fly-{:02}.yaml", files.len()),
        text: fly,
    });
    let mut gh = String::from("github:\n  repos:\n");
    for r in 0..repos {
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
    files.push(Source {
        path: "desired/github.yaml".into(),
        text: gh,
    });
    files
}

/// Live state close to desired: every other app runs the previous image, every fourth
/// repository lacks a secret and has a looser protection. With `changes`, live equals
/// desired but for that many machine sets (spread evenly) running the previous image.
fn live_for(expected: &lower::Expected, changes: Option<usize>) -> LiveSnapshot {
    let mut live = LiveSnapshot::new("2026-11-26T07:00:00Z");
    if let Some(k) = changes {
        let machines = expected
            .iter()
            .filter(|(a, _)| matches!(a, Address::FlyMachines { .. }))
            .count();
        let every = (machines / k.max(1)).max(1);
        let mut seen = 0;
        for (address, value) in expected.iter() {
            let mut value = value.clone();
            if matches!(address, Address::FlyMachines { .. }) {
                if seen % every == 0 && seen / every < k {
                    value["image"] = json!("registry.fly.io/app:deployment-01");
                }
                seen += 1;
            }
            live.resources.insert(address.clone(), value);
        }
        return live;
    }
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
    Some(status_kb("VmHWM:")? as f64 / 1024.0)
}

/// A field of /proc/self/status, in KiB.
fn status_kb(field: &str) -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Reset the peak RSS to the current RSS (Linux: `5` to /proc/self/clear_refs), returning
/// the current RSS in KiB (0 where unavailable: the stage's RSS peak is then absolute).
fn reset_peak_rss() -> usize {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_kb("VmRSS:").unwrap_or(0)
}

/// CPU time of this thread so far, in nanoseconds from the scheduler's own accounting
/// (`/proc/thread-self/schedstat`, first field): unlike wall time it does not grow while
/// other processes hold the cores, so on a busy machine it is the better estimate of the
/// idle wall time. Zero where the file does not exist.
fn cpu_now() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// Wall and CPU time of one stage.
#[derive(Clone, Copy, Default)]
struct Took {
    wall: Duration,
    cpu: Duration,
    /// Heap bytes the stage left allocated (negative: freed), and the most resident memory
    /// it added (the peak RSS during the stage above the RSS before it).
    heap_left: isize,
    rss_peak: isize,
}

/// Times of each stage, in the order run.
#[derive(Default)]
struct Stages(Vec<(&'static str, Took)>);

impl Stages {
    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let rss_before = reset_peak_rss();
        let before = ALLOCATOR.allocated();
        let (wall, cpu) = (Instant::now(), cpu_now());
        let out = f();
        let (wall, cpu) = (wall.elapsed(), cpu_now() - cpu);
        let after = ALLOCATOR.allocated();
        let peak = status_kb("VmHWM:").unwrap_or(0);
        self.0.push((
            name,
            Took {
                wall,
                cpu,
                heap_left: after as isize - before as isize,
                rss_peak: (peak as isize - rss_before as isize) * 1024,
            },
        ));
        out
    }

    /// The pipeline a `sophia plan` runs: load, plan (which lowers, diffs, orders and
    /// digests), and one rendering of each kind.
    fn pipeline(&self) -> Took {
        let mut sum = Took::default();
        for (name, t) in &self.0 {
            if name.starts_with("load") || name.starts_with("plan (") || name.starts_with("render")
            {
                sum.wall += t.wall;
                sum.cpu += t.cpu;
            }
        }
        sum
    }
}

/// Runs of the whole pipeline; the median is reported.
const RUNS: usize = 5;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let Args {
        resources,
        changes,
        write,
        sophia,
    } = args();
    // `--sophia` runs the binary in the written repository: a scratch one unless `--write`.
    let scratch = (sophia.is_some() && write.is_none())
        .then(|| tempfile::tempdir().expect("a scratch directory"));
    let write = write.or_else(|| scratch.as_ref().map(|d| d.path().to_path_buf()));
    let size = Size::of(resources);
    let sources = desired_yaml(size);
    let yaml_bytes: usize = sources.iter().map(|s| s.text.len()).sum();
    let opts = PlanOptions {
        tool_version: "bench".into(),
        tool_source: String::new(),
        created_at: chrono::Utc.with_ymd_and_hms(2026, 11, 26, 8, 0, 0).unwrap(),
        ttl: chrono::Duration::hours(plan::DEFAULT_TTL_HOURS),
        nonce: "00".repeat(16),
        git_commit: None,
        git_dirty: false,
        targets: Vec::new(),
        prices: None,
    };
    let mut runs: Vec<Stages> = Vec::new();
    let mut report = String::new();
    for run in 0..RUNS {
        let mut st = Stages::default();
        let d = st.time("load (YAML → Desired)", || {
            desired::load(&sources).expect("the generated desired state loads")
        });
        let expected = st.time("lower", || lower::lower(&d));
        let expected_len = expected.len();
        let live = live_for(&expected, changes);
        if let (Some(dir), 0) = (&write, run) {
            write_repo(dir, &sources, &live);
        }
        // The snapshot as `plan --live` reads it: JSON text parsed into the snapshot.
        let live_json = serde_json::to_string(&live).expect("the snapshot serializes");
        drop(live);
        let live_bytes = live_json.len();
        let live = st.time("parse live.json", || {
            parse_snapshot("live.json", &live_json).expect("the snapshot parses")
        });
        drop(live_json);
        let changes = st.time("diff", || diff::diff(&expected, &live).expect("diff"));
        drop(expected);
        let actions = st
            .time("action graph", || {
                graph::build(&changes, &d, &live).expect("graph")
            })
            .len();
        // The stages above on their own; the plan below does them again, holding only what
        // `sophia plan` holds (the desired state and the live snapshot).
        drop(changes);
        let p = st.time("plan (lower+diff+graph+digests)", || {
            plan::build(&d, &live, &opts).expect("plan")
        });
        let dg = st.time("plan digest alone", || digest::plan_digest(&p));
        assert_eq!(dg, p.digest);
        let text = st.time("render text", || render::text::render(&p, false));
        let md = st.time("render markdown", || {
            render::markdown::render(&p, "plan.json")
        });
        let js = st.time("render json", || render::json::render(&p));
        if run == 0 {
            report = format!(
                "core benchmark: {} resources ({} apps × 3 + {} repos × 10 + providers), {} KiB of YAML\n\
                 live.json {} KiB; plan: {} changes ({}), {} actions; text {} KiB, markdown {} chars, json {} KiB\n\
                 desired digest {}, plan digest {}, plan file {}",
                expected_len,
                size.apps,
                size.repos,
                yaml_bytes / 1024,
                live_bytes / 1024,
                p.changes.len(),
                p.summary.sentence(),
                actions,
                text.len() / 1024,
                md.chars().count(),
                js.len() / 1024,
                p.desired.digest,
                p.digest,
                digest::sha256_bytes(js.as_bytes())
            );
        }
        runs.push(st);
    }
    println!("{report}");
    println!("median of {RUNS} runs, in one thread:");
    println!(
        "  {:<34} {:>9} {:>9} {:>12} {:>12}",
        "", "wall", "CPU", "heap left", "RSS peak +"
    );
    for (i, (name, t)) in runs[0].0.iter().enumerate() {
        let wall = median(runs.iter().map(|r| r.0[i].1.wall).collect());
        let cpu = median(runs.iter().map(|r| r.0[i].1.cpu).collect());
        println!(
            "  {name:<34} {:>6.1} ms {:>6.1} ms {:>+9.1} MB {:>9.1} MB",
            ms(wall),
            ms(cpu),
            t.heap_left as f64 / 1e6,
            t.rss_peak as f64 / 1e6
        );
    }
    let wall = median(runs.iter().map(|r| r.pipeline().wall).collect());
    let cpu = median(runs.iter().map(|r| r.pipeline().cpu).collect());
    let best = runs.iter().map(|r| r.pipeline().wall).min().unwrap();
    println!(
        "  {:<34} {:>6.1} ms {:>6.1} ms   (target ≤ 250 ms; fastest run {:.1} ms wall)",
        "pipeline: load + plan + renders",
        ms(wall),
        ms(cpu),
        ms(best)
    );
    if wall > cpu + cpu / 5 {
        println!(
            "  note: wall time is well above CPU time: other processes held the cores during the\n  \
             run; the CPU time is what the pipeline itself costs"
        );
    }
    // What a pull request's reviewer waits for besides the plan: the two human renderings.
    // With `--changes K` they should cost what K changes cost, whatever the resources.
    let renders = median(
        runs.iter()
            .map(|r| {
                r.0.iter()
                    .filter(|(n, _)| *n == "render text" || *n == "render markdown")
                    .map(|(_, t)| t.wall)
                    .sum()
            })
            .collect(),
    );
    println!(
        "  {:<34} {:>6.1} ms             (target ≤ 50 ms for 10 changes among 30,000)",
        "render text + markdown",
        ms(renders)
    );
    match peak_rss_mb() {
        Some(mb) => println!(
            "  {:<34} {mb:>6.1} MB   (target ≤ 150 MB)",
            "peak RSS (VmHWM)"
        ),
        None => println!("  peak RSS: /proc/self/status unavailable on this platform"),
    }
    if let (Some(sophia), Some(dir)) = (&sophia, &write) {
        whole_process(sophia, dir);
    }
}

/// GNU time: the child's user and system CPU time and peak RSS.
const GNU_TIME: &str = "/usr/bin/time";

/// `--sophia PATH`: the whole `sophia plan --live live.json --out plan.json` process in the
/// written repository, RUNS times (issue 20: ≤ 200 ms at 10,000 resources on an idle
/// machine): median wall, CPU (user + system) and peak RSS, as GNU time reports them.
fn whole_process(sophia: &std::path::Path, dir: &std::path::Path) {
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..RUNS {
        let report = dir.join(".time");
        let started = Instant::now();
        let out = std::process::Command::new(GNU_TIME)
            .args(["-f", "%U %S %M", "-o"])
            .arg(&report)
            .arg(sophia)
            .arg("-C")
            .arg(dir)
            .args([
                "plan",
                "--live",
                "live.json",
                "--out",
                "plan.json",
                "--quiet",
            ])
            .env("NO_COLOR", "1")
            .output()
            .expect("GNU time runs sophia (apt-get install time)");
        walls.push(started.elapsed());
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "sophia plan failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&report).expect("GNU time wrote its report");
        let f: Vec<f64> = text
            .lines()
            .last()
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        assert_eq!(f.len(), 3, "unexpected GNU time report: {text}");
        cpus.push(Duration::from_secs_f64(f[0] + f[1]));
        rss.push(f[2] / 1024.0);
    }
    println!(
        "whole process, `{} plan --live live.json --out plan.json`, median of {RUNS}:",
        sophia.display()
    );
    println!(
        "  wall {:.1} ms, CPU (user + system) {:.1} ms, peak RSS {:.1} MB   (target ≤ 200 ms at 10,000 on an idle machine)",
        ms(median(walls)),
        ms(median(cpus)),
        {
            rss.sort_by(f64::total_cmp);
            rss[rss.len() / 2]
        }
    );
}
