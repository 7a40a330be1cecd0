//! The sandbox: a local emulator of exactly the provider APIs `sophia` uses, so everything runs
//! and is tested without credentials or network. The providers' clients cannot tell it from the
//! real services: same paths, methods, status codes, headers and body shapes. It is an emulator
//! of the providers, never a shortcut inside `sophia`.
//!
//! ```text
//! TCP ─▶ server (accept loop; can drop a connection) ─▶ gate ─▶ provider router ─▶ World
//!                                                         │  which provider (path prefix)
//!                                                         │  faults (seeded), latency
//!                                                         │  token → scope, 401 / read-only 403
//!                                                         │  request budget (x-ratelimit-*)
//!                                                         └─ request log (masked JSON lines)
//! ```
//!
//! - [`state`]: the in-memory world, seeded from a YAML file (format below).
//! - [`gate`]: the middleware every request passes: auth, scopes, budgets, faults, the log.
//! - [`faults`]: seeded fault injection (ChaCha8): the same seed and the same request sequence
//!   give the same faults.
//! - [`log`]: the request log, secret values masked.
//! - [`server`]: the accept loop (HTTP/1.1) that can also close a connection without answering.
//! - [`fly`], [`github`], [`saas`]: the provider APIs.
//! - [`env`]: the `export` lines pointing every provider at a sandbox.
//! - [`oci`]: the OCI distribution API's error body and credentials (Fly's registry).
//!
//! # Address scheme
//!
//! One address serves every provider under its own prefix (`ADDR` is `host:port`):
//!
//! | variable | value | the client appends |
//! |---|---|---|
//! | `FLY_FLAPS_BASE_URL` | `http://ADDR/fly/machines` | `/v1/apps/…` |
//! | `FLY_API_BASE_URL` | `http://ADDR/fly/api` | `/graphql`, `/api/v1/apps/{app}/logs` |
//! | `FLY_APP_URL_TEMPLATE` | `http://ADDR/fly/apps/{app}` | the health path, e.g. `/healthz` |
//! | `FLY_REGISTRY_URL` | `http://ADDR/fly/registry` | `/v2/<repository>/manifests/<tag>` |
//! | `GITHUB_API_URL` | `http://ADDR/github` | `/repos/…`, `/rate_limit`, … |
//! | `PORTKEY_BASE_URL` | `http://ADDR/portkey/v1` | `/chat/completions`, `/models` |
//! | `TAVILY_BASE_URL` | `http://ADDR/tavily` | `/search` |
//! | `SERPER_BASE_URL` | `http://ADDR/serper` | `/search` |
//! | `QDRANT_URL` | `http://ADDR/qdrant` | `/collections…` |
//! | `MEM0_BASE_URL` | `http://ADDR/mem0` | `/v1/ping/`, `/v1/memories/` |
//! | `SLACK_API_URL` | `http://ADDR/slack/api` | `/auth.test`, `/chat.postMessage` |
//! | `GONG_BASE_URL` | `http://ADDR/gong` | `/v2/users` |
//! | `LAMBDA_API_URL` | `http://ADDR/lambda/api/v1` | `/instances` |
//!
//! `FLY_APP_URL_TEMPLATE` is a proposal for the Fly provider: the public URL of an app, with
//! `{app}` replaced by its name; its default is `https://{app}.fly.dev`. In the sandbox,
//! `GET /fly/apps/{app}/<any path>` answers 200 `ok` when the app has at least one machine,
//! every live machine is `started`, and no machine's image contains `bad` or `unhealthy`;
//! otherwise 503 (so a deploy of `registry.fly.io/x:bad-1` fails its health check and can be
//! rolled back). Health requests need no token and are never faulted.
//!
//! # Tokens
//!
//! No token → 401 in the provider's own shape (Slack answers 200 `{"ok":false,"error":
//! "not_authed"}`, as the real Slack does). A token beginning `ro-` is read-only: writes get
//! GitHub's 403 "Resource not accessible by integration" or the provider's own refusal. Any
//! other token has full access. Fly tokens beginning `fm1r_`, `fm1a_` or `fm2_` (sent as
//! `FlyV1 …`) are organization/deploy tokens: GraphQL `viewer` answers them with Fly's "You must
//! be authenticated to view this." error, as the real API does for non-user tokens.
//!
//! # State file (`sandbox serve --state FILE`)
//!
//! Everything is optional; unknown keys are errors. Without a file the sandbox holds the Fly
//! organization `pay-ready` and nothing else.
//!
//! ```yaml
//! fly:
//!   orgs: [pay-ready]                  # organization slugs
//!   apps:
//!     sophiaai-dashboard-v2:
//!       org: pay-ready                 # default: the first org
//!       image: registry.fly.io/dash:1  # machines' image (default registry.fly.io/<app>:seed)
//!       count: 2                       # machines (default 1; 0 for an app without machines)
//!       region: ord                    # default ord
//!       state: started                 # started | stopped (default started)
//!       env: { LOG_LEVEL: info }
//!       secrets: [NEON_DATABASE_URL]   # names (values are placeholders)
//!   registry:                          # every registry.fly.io tag exists (digest derived from
//!                                      # its name) except: a digest re-points it, null removes it
//!     "registry.fly.io/dash:1": "sha256:<64 hex>"
//!     "registry.fly.io/dash:gone": null
//! github:
//!   login: sophia-bot                  # the user every token acts as (default sophia-bot)
//!   users: [the-ceo]                   # known users (any login is known on first use anyway)
//!   teams: { ai-cherry: [infra] }      # org → team slugs
//!   app: { id: 12345, installations: [67890] }   # GitHub App for installation tokens;
//!                                    # `public_key: <PEM>` makes JWT signatures checked (RS256)
//!   repos:
//!     ai-cherry/sophia-intel-ai:
//!       branches: [main]               # default [main]; the first is the default branch
//!       private: true
//!       secrets: [FLY_API_TOKEN]       # Actions secret names
//!       protection:                    # branch → the body of PUT …/branches/{b}/protection
//!         main: { required_status_checks: null, enforce_admins: true,
//!                 required_pull_request_reviews: null, restrictions: null }
//!       environments:
//!         production: { reviewers: [{ type: User, login: the-ceo }], wait_timer: 0 }
//!       issues: [{ title: "Tracking", body: "…", state: open }]
//! portkey: { models: [gpt-4o-mini] }
//! qdrant: { collections: { context_chunks: { size: 1536, distance: Cosine } } }
//! mem0: { memories: [{ user_id: sophia, memory: "Prefers concise answers" }] }
//! slack: { team: Sophia AI, channels: ["#infra"] }   # without channels, every channel exists
//! gong: { users: [{ email: a@example.com, first_name: A, last_name: B }] }
//! lambda: { instances: [{ name: gpu-1, instance_type: gpu_1x_a10, region: us-east-1, status: active }] }
//! ```

// Helpers return a finished `Response` as their error, the axum idiom for early answers; boxing
// it would only add an allocation per refusal.
#![allow(clippy::result_large_err)]

pub mod env;
mod etag;
pub mod faults;
pub mod fly;
pub mod gate;
pub mod github;
pub mod log;
pub mod oci;
pub mod saas;
pub mod secondary;
pub mod server;
pub mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;

pub use faults::{FaultConfig, FaultKind};
pub use log::LogEntry;
pub use state::{Seed, World};

/// How a sandbox behaves: its seed state, faults, latency, budgets and log.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// What exists before the first request.
    pub seed: Seed,
    /// Added to every response (except app health checks).
    pub latency: Duration,
    /// Fault injection; rate 0 by default.
    pub faults: FaultConfig,
    /// Requests per token per hour before the primary rate limit answers (GitHub's default for
    /// a personal token is 5,000 an hour, so clients see realistic headers).
    pub rate_limit: u64,
    /// Also append the request log, one JSON line per request, to this file.
    pub log_file: Option<PathBuf>,
    /// Keep the request log in memory for [`SandboxHandle::requests`] (tests). `serve` turns
    /// it off so a long-running sandbox does not grow without bound.
    pub memory_log: bool,
    /// GitHub's secondary limits on content-creating requests per token: (count, window)
    /// pairs, GitHub's 80 a minute and 500 an hour by default.
    pub github_write_limits: Vec<(usize, Duration)>,
}

/// GitHub's primary rate limit for a personal access token: 5,000 requests an hour.
pub const DEFAULT_RATE_LIMIT: u64 = 5_000;

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: Seed::default(),
            latency: Duration::ZERO,
            faults: FaultConfig::default(),
            rate_limit: DEFAULT_RATE_LIMIT,
            log_file: None,
            memory_log: true,
            github_write_limits: secondary::GITHUB_WRITE_LIMITS.to_vec(),
        }
    }
}

/// Everything the handlers share.
pub struct Shared {
    pub world: Mutex<World>,
    pub log: log::RequestLog,
    pub faults: Mutex<faults::Injector>,
    pub budgets: Mutex<gate::Budgets>,
    /// Content-creating GitHub requests per token (the secondary limits).
    pub writes: Mutex<secondary::Writes>,
    pub config: SandboxConfig,
    /// Woken on every state change (machine waits listen to it).
    pub changed: tokio::sync::Notify,
}

impl Shared {
    pub fn new(config: SandboxConfig) -> anyhow::Result<Arc<Shared>> {
        let world = World::from_seed(&config.seed)?;
        let log = log::RequestLog::new(config.log_file.as_deref(), config.memory_log)?;
        Ok(Arc::new(Shared {
            world: Mutex::new(world),
            log,
            faults: Mutex::new(faults::Injector::new(&config.faults)),
            budgets: Mutex::new(gate::Budgets::default()),
            writes: Mutex::new(secondary::Writes::default()),
            config,
            changed: tokio::sync::Notify::new(),
        }))
    }

    /// The world, locked. A poisoned lock (a handler panicked) still gives the data: the
    /// sandbox keeps serving.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The whole application: every provider under its prefix, behind the gate.
pub fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .nest("/fly", fly::router())
        .nest("/github", github::router())
        .merge(saas::router())
        .fallback(gate::not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            gate::gate,
        ))
        .with_state(shared)
}

/// Starts sandboxes in-process (for tests and `sophia demo`).
pub struct Sandbox;

impl Sandbox {
    /// Binds 127.0.0.1:0 and serves on a dedicated runtime thread until the handle is dropped.
    /// Works from synchronous and asynchronous callers alike.
    pub fn start(config: SandboxConfig) -> anyhow::Result<SandboxHandle> {
        Self::start_on("127.0.0.1:0".parse().expect("a valid address"), config)
    }

    /// As [`Sandbox::start`], on a given address.
    pub fn start_on(addr: SocketAddr, config: SandboxConfig) -> anyhow::Result<SandboxHandle> {
        let shared = Shared::new(config)?;
        let listener =
            std::net::TcpListener::bind(addr).with_context(|| format!("binding `{addr}`"))?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let app = router(shared.clone());
        let thread = std::thread::Builder::new()
            .name("sophia-sandbox".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    // Two workers: this machine has two cores, shared with the client under test.
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a tokio runtime for the sandbox");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("a tokio listener from a bound socket");
                    server::serve(listener, app, stopped).await;
                });
            })
            .context("starting the sandbox thread")?;
        Ok(SandboxHandle {
            url: format!("http://{local}"),
            addr: local,
            shared,
            stop,
            thread: Some(thread),
        })
    }
}

/// A running sandbox; shuts down on drop.
pub struct SandboxHandle {
    url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SandboxHandle {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<LogEntry> {
        self.shared.log.entries()
    }

    /// Block until the request log holds `n` requests that would change something
    /// ([`LogEntry::write`], faulted ones included), or `timeout` passes; returns whether it
    /// does. Tests use it to act at a given point of a client's run (e.g. kill it once its
    /// k-th mutating request has been handled) without sleeping.
    pub fn wait_for_writes(&self, n: usize, timeout: Duration) -> bool {
        self.wait_for_requests(timeout, |entries| {
            entries.iter().filter(|e| e.write).count() >= n
        })
    }

    /// Block until `done` holds for the request log, or `timeout` passes; returns whether it
    /// does (see [`log::RequestLog::wait_for`]).
    pub fn wait_for_requests(&self, timeout: Duration, done: impl Fn(&[LogEntry]) -> bool) -> bool {
        self.shared.log.wait_for(timeout, done)
    }

    /// Forget the request log (e.g. between the phases of a test).
    pub fn clear_requests(&self) {
        self.shared.log.clear()
    }

    /// Read or change the world out of band (to simulate drift, or to assert).
    pub fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        let out = f(&mut self.shared.world());
        self.shared.changed.notify_waiters();
        out
    }

    /// The `export` lines pointing every provider at this sandbox.
    pub fn env(&self) -> Vec<(String, String)> {
        env::variables(&self.url, false)
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
