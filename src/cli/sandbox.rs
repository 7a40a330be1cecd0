//! `sophia sandbox serve` and `sophia sandbox env` (see [`crate::ops::sandbox`]).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{Ctx, Exit};
use crate::sandbox::{self, FaultConfig, FaultKind, SandboxConfig, Seed};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Serve every provider API from one address until killed.
    ///
    /// Prints `listening on http://ADDR` as its first line on stdout. Each provider lives
    /// under its own prefix (`/fly/machines`, `/fly/api`, `/fly/apps/{app}`, `/github`,
    /// `/portkey/v1`, `/tavily`, `/serper`, `/qdrant`, `/mem0`, `/slack/api`, `/gong`,
    /// `/lambda/api/v1`); `sophia sandbox env --url URL` prints the variables pointing at them.
    #[command(after_long_help = STATE_HELP)]
    Serve(ServeArgs),
    /// Print `export` lines pointing every provider at a sandbox, with a demo token each.
    Env(EnvArgs),
}

const STATE_HELP: &str = "\
State file (--state), everything optional, unknown keys are errors. Without it the sandbox
holds the Fly organization `pay-ready` and nothing else.

  fly:
    orgs: [pay-ready]
    apps:
      sophiaai-dashboard-v2:
        org: pay-ready                 # default: the first org
        image: registry.fly.io/dash:1  # an image containing `bad` or `unhealthy` fails /healthz
        count: 2                       # machines (default 1)
        region: ord                    # default ord
        state: started                 # started | stopped
        env: { LOG_LEVEL: info }
        secrets: [NEON_DATABASE_URL]   # names
    registry:                          # every registry.fly.io tag exists, its digest derived
      \"registry.fly.io/dash:1\": \"sha256:<64 hex>\"   # from its name; this re-points one
      \"registry.fly.io/dash:9\": null                  # and this removes one
  github:
    login: sophia-bot                  # the user tokens act as
    users: [the-ceo]
    teams: { ai-cherry: [infra] }
    app: { id: 12345, installations: [67890] }   # + public_key: PEM to verify JWTs (RS256)
    max_per_page: 100                  # list pages hold at most this (default GitHub's 100)
    repos:
      ai-cherry/sophia-intel-ai:
        branches: [main]               # the first is the default branch
        private: true
        secrets: [FLY_API_TOKEN]
        protection: { main: { required_status_checks: null, enforce_admins: true,
                              required_pull_request_reviews: null, restrictions: null } }
        environments: { production: { reviewers: [{ type: User, login: the-ceo }], wait_timer: 0 } }
        issues: [{ title: Tracking, body: text, state: open }]
  portkey: { models: [gpt-4o-mini] }
  qdrant:  { collections: { context_chunks: { size: 1536, distance: Cosine } } }
  mem0:    { memories: [{ user_id: sophia, memory: Prefers concise answers }] }
  slack:   { team: Sophia AI, channels: [\"#infra\"] }   # without channels, every channel exists
  gong:    { users: [{ email: a@example.com, first_name: A, last_name: B }] }
  lambda:  { instances: [{ name: gpu-1, instance_type: gpu_1x_a10, region: us-east-1, status: active }] }

Tokens: none gives 401 (the provider's own shape); a token starting `ro-` is read-only; any
other token has full access.";

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    /// YAML file naming what exists before the first request (format below).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Delay added to every response, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_ms: u64,
    /// Probability in [0, 1] that a request fails with an injected fault.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Seed of the fault sequence: the same seed and requests give the same faults.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Fault kinds to draw from (comma-separated): 500, 502, 429, secondary, slow, drop —
    /// none of which lets the request through — and `lost` (not in the default), whose request
    /// is handled and its change made before the client gets a 502.
    #[arg(
        long,
        value_name = "KINDS",
        value_delimiter = ',',
        default_value = "500,502,429,secondary,slow,drop"
    )]
    pub faults: Vec<FaultKind>,
    /// How long a `slow` fault holds the response, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 35_000)]
    pub slow_ms: u64,
    /// The `Retry-After` seconds of 429 and secondary-rate-limit faults.
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    pub retry_after: u64,
    /// Requests per token per hour before the primary rate limit answers.
    #[arg(long, value_name = "N", default_value_t = sandbox::DEFAULT_RATE_LIMIT)]
    pub rate_limit: u64,
    /// Append every request as a JSON line (secret values masked) to FILE.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct EnvArgs {
    /// The sandbox's URL, as `serve` printed it.
    #[arg(long)]
    pub url: String,
    /// Print read-only tokens (`ro-…`), as `plan` should run with.
    #[arg(long)]
    pub read_only: bool,
}

pub async fn run(_ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    match args.command {
        Command::Serve(args) => serve(args).await,
        Command::Env(args) => {
            print!("{}", sandbox::env::script(&args.url, args.read_only));
            Ok(Exit::Clean)
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<Exit> {
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err(crate::hinted!(
            hint = "use a number between 0 and 1, e.g. 0.1",
            "--fault-rate {} is not a probability",
            args.fault_rate
        ));
    }
    let seed = match &args.state {
        Some(path) => Seed::load(path)?,
        None => Seed::default(),
    };
    let config = SandboxConfig {
        seed,
        latency: Duration::from_millis(args.latency_ms),
        faults: FaultConfig {
            rate: args.fault_rate,
            seed: args.seed,
            kinds: args.faults,
            slow: Duration::from_millis(args.slow_ms),
            retry_after_secs: args.retry_after,
        },
        rate_limit: args.rate_limit,
        log_file: args.log,
        memory_log: false,
        github_write_limits: crate::sandbox::secondary::GITHUB_WRITE_LIMITS.to_vec(),
    };
    crate::ops::sandbox::serve(args.addr, config, |local: SocketAddr| {
        let mut stdout = std::io::stdout();
        writeln!(stdout, "listening on http://{local}")?;
        stdout.flush()?;
        Ok(())
    })
    .await?;
    Ok(Exit::Clean)
}
