//! The sandbox's world: what exists at each provider, in memory, and the seed file that says
//! what exists before the first request (format in the [module docs](super)).
//!
//! One file per provider family, each with its part of the seed file, its part of the world and
//! the [`World`] methods that change it: [`fly`], [`github`], [`saas`]. This file holds what
//! they share: the seed file as a whole, the world as a whole, and the deterministic ids.

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

mod fly;
mod github;
mod saas;

pub use fly::{
    FlyApp, FlyAppSeed, FlyLogLine, FlySecret, FlySeed, FlyWorld, Lease, Machine, derived_digest,
    event, secret_digest,
};
pub use github::{
    Comment, Environment, EnvironmentSeed, GithubApp, GithubAppSeed, GithubSecret, GithubSeed,
    GithubWorld, Issue, IssueSeed, Repo, RepoSeed, ReviewerSeed, RulesetSource, StoredRuleset,
    key_id,
};
pub use saas::{
    Collection, CollectionSeed, GongSeed, GongUserSeed, GongWorld, LambdaInstanceSeed, LambdaSeed,
    LambdaWorld, Mem0Seed, Mem0World, Memory, MemorySeed, PortkeySeed, PortkeyWorld, QdrantSeed,
    QdrantWorld, SlackMessage, SlackSeed, SlackWorld,
};

/// The seed file. Everything is optional; unknown keys are errors.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Seed {
    pub fly: FlySeed,
    pub github: GithubSeed,
    pub portkey: PortkeySeed,
    pub qdrant: QdrantSeed,
    pub mem0: Mem0Seed,
    pub slack: SlackSeed,
    pub gong: GongSeed,
    pub lambda: LambdaSeed,
}

impl Seed {
    /// Reads a seed file; errors name the file, line and column.
    pub fn load(path: &Path) -> anyhow::Result<Seed> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the sandbox state `{}`", path.display()))?;
        Seed::parse(&text).with_context(|| {
            format!(
                "`{}` is not a sandbox state file (see `sophia sandbox serve --help`)",
                path.display()
            )
        })
    }

    pub fn parse(text: &str) -> anyhow::Result<Seed> {
        if text.trim().is_empty() {
            return Ok(Seed::default());
        }
        Ok(serde_yaml::from_str(text)?)
    }
}

/// Everything that exists, per provider. Fields are public so tests can arrange drift and
/// assert outcomes through [`super::SandboxHandle::with_world`].
pub struct World {
    /// Source of ids (GitHub numeric ids, Fly machine ids, …): deterministic per run.
    seq: u64,
    pub fly: FlyWorld,
    pub github: GithubWorld,
    pub portkey: PortkeyWorld,
    pub qdrant: QdrantWorld,
    pub mem0: Mem0World,
    pub slack: SlackWorld,
    pub gong: GongWorld,
    pub lambda: LambdaWorld,
}

/// Now, RFC 3339 to the second (the precision GitHub and Fly use).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl World {
    pub fn from_seed(seed: &Seed) -> anyhow::Result<World> {
        let mut world = World {
            seq: 0,
            fly: FlyWorld::default(),
            github: GithubWorld::new(&seed.github)?,
            portkey: PortkeyWorld::new(&seed.portkey),
            qdrant: QdrantWorld::new(&seed.qdrant),
            mem0: Mem0World {
                memories: Vec::new(),
            },
            slack: SlackWorld::new(&seed.slack),
            gong: GongWorld {
                users: seed.gong.users.clone(),
            },
            lambda: LambdaWorld {
                instances: seed.lambda.instances.clone(),
            },
        };
        // In this order: ids are drawn from one sequence, and clients see them.
        world.seed_mem0(&seed.mem0);
        world.seed_fly(&seed.fly)?;
        world.seed_github(&seed.github)?;
        Ok(world)
    }

    /// The next numeric id (GitHub ids).
    pub fn next_id(&mut self) -> u64 {
        self.seq += 1;
        // Offset so ids look like real ones and never collide with small literal numbers.
        1_000_000 + self.seq
    }

    /// A deterministic hex id of `len` characters.
    pub fn hex_id(&mut self, len: usize) -> String {
        self.seq += 1;
        let digest = Sha256::digest(format!("sophia-sandbox-id-{}", self.seq));
        hex::encode(digest)[..len].to_string()
    }

    /// A deterministic UUID-shaped id.
    pub fn uuid(&mut self) -> String {
        let h = self.hex_id(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_world_holds_pay_ready_and_nothing_else() {
        let world = World::from_seed(&Seed::default()).unwrap();
        assert_eq!(world.fly.orgs.iter().collect::<Vec<_>>(), vec!["pay-ready"]);
        assert!(world.fly.apps.is_empty());
        assert!(world.github.repos.is_empty());
        assert!(world.qdrant.collections.is_empty());
    }

    #[test]
    fn design_example_seeds() {
        let seed = Seed::parse(
            r#"
fly:
  orgs: [pay-ready]
  apps:
    sophiaai-dashboard-v2: { org: pay-ready, image: "registry.fly.io/dash:1", count: 2, region: ord, secrets: [NEON_DATABASE_URL] }
github:
  repos:
    ai-cherry/sophia-intel-ai: { branches: [main], secrets: [FLY_API_TOKEN] }
"#,
        )
        .unwrap();
        let world = World::from_seed(&seed).unwrap();
        let app = &world.fly.apps["sophiaai-dashboard-v2"];
        assert_eq!(app.machines.len(), 2);
        assert!(app.machines.values().all(|m| m.state == "started"));
        assert!(app.secrets.contains_key("NEON_DATABASE_URL"));
        let repo = &world.github.repos["ai-cherry/sophia-intel-ai"];
        assert_eq!(repo.default_branch, "main");
        assert!(repo.secrets.contains_key("FLY_API_TOKEN"));
    }

    #[test]
    fn unknown_keys_are_errors_with_a_location() {
        let err = Seed::parse("fly:\n  appz: {}\n").unwrap_err().to_string();
        assert!(err.contains("unknown field `appz`"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }
}
