//! The sandbox's world: what exists at each provider, in memory, and the seed file that says
//! what exists before the first request (format in the [module docs](super)).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

// ---------------------------------------------------------------- seed file

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

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlySeed {
    pub orgs: Vec<String>,
    pub apps: BTreeMap<String, FlyAppSeed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlyAppSeed {
    pub org: Option<String>,
    pub image: Option<String>,
    pub count: u32,
    pub region: String,
    pub state: String,
    pub env: BTreeMap<String, String>,
    pub secrets: Vec<String>,
}

impl Default for FlyAppSeed {
    fn default() -> Self {
        FlyAppSeed {
            org: None,
            image: None,
            count: 1,
            region: "ord".into(),
            state: "started".into(),
            env: BTreeMap::new(),
            secrets: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GithubSeed {
    pub login: Option<String>,
    pub users: Vec<String>,
    pub teams: BTreeMap<String, Vec<String>>,
    pub app: Option<GithubAppSeed>,
    pub repos: BTreeMap<String, RepoSeed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubAppSeed {
    pub id: u64,
    #[serde(default)]
    pub installations: Vec<u64>,
    /// The app's RSA public key (PEM, `BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`): when
    /// given, app JWTs must carry a valid RS256 signature.
    #[serde(default)]
    pub public_key: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RepoSeed {
    pub branches: Vec<String>,
    pub private: bool,
    pub secrets: Vec<String>,
    pub protection: BTreeMap<String, Value>,
    pub environments: BTreeMap<String, EnvironmentSeed>,
    pub issues: Vec<IssueSeed>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnvironmentSeed {
    pub reviewers: Vec<ReviewerSeed>,
    pub wait_timer: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewerSeed {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub slug: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IssueSeed {
    pub title: String,
    pub body: Option<String>,
    pub state: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortkeySeed {
    pub models: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QdrantSeed {
    pub collections: BTreeMap<String, CollectionSeed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionSeed {
    pub size: u64,
    pub distance: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mem0Seed {
    pub memories: Vec<MemorySeed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemorySeed {
    pub user_id: String,
    pub memory: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackSeed {
    pub team: Option<String>,
    pub channels: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GongSeed {
    pub users: Vec<GongUserSeed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GongUserSeed {
    pub email: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LambdaSeed {
    pub instances: Vec<LambdaInstanceSeed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaInstanceSeed {
    pub name: String,
    #[serde(default = "default_lambda_type")]
    pub instance_type: String,
    #[serde(default = "default_lambda_region")]
    pub region: String,
    #[serde(default = "default_lambda_status")]
    pub status: String,
}

fn default_lambda_type() -> String {
    "gpu_1x_a10".into()
}
fn default_lambda_region() -> String {
    "us-east-1".into()
}
fn default_lambda_status() -> String {
    "active".into()
}

// ---------------------------------------------------------------- the world

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

pub struct FlyWorld {
    pub orgs: BTreeSet<String>,
    pub apps: BTreeMap<String, FlyApp>,
}

pub struct FlyApp {
    pub id: String,
    pub name: String,
    pub org: String,
    pub machines: BTreeMap<String, Machine>,
    pub secrets: BTreeMap<String, FlySecret>,
    /// Bumped by every secrets change; returned as `version`.
    pub secrets_version: u64,
    /// What `GET /api/v1/apps/{app}/logs` serves: one line per machine event.
    pub logs: Vec<FlyLogLine>,
}

pub struct Machine {
    pub id: String,
    pub name: String,
    pub region: String,
    pub state: String,
    /// Where the machine is heading (`started` after a create); reached on the next
    /// observation, so waits and reads are deterministic.
    pub pending: Option<String>,
    pub config: Value,
    pub instance_id: String,
    pub private_ip: String,
    pub created_at: String,
    pub updated_at: String,
    pub events: Vec<Value>,
    pub lease: Option<Lease>,
    /// The app's secrets version this machine booted with, set by its create and by every
    /// update: as on Fly, a secret set later reaches a machine only when it is updated.
    pub secrets_version: u64,
}

pub struct Lease {
    pub nonce: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub owner: String,
    pub description: String,
}

pub struct FlySecret {
    /// `None` for secrets that came from the seed file.
    pub value: Option<String>,
    pub digest: String,
    pub created_at: String,
    pub updated_at: String,
}

pub struct FlyLogLine {
    pub id: String,
    pub timestamp: String,
    pub message: String,
    pub level: String,
    pub instance: String,
    pub region: String,
}

pub struct GithubWorld {
    /// The user every token acts as.
    pub login: String,
    pub users: BTreeMap<String, u64>,
    /// (org, team slug) → id.
    pub teams: BTreeMap<(String, String), u64>,
    pub app: Option<GithubApp>,
    pub repos: BTreeMap<String, Repo>,
}

pub struct GithubApp {
    pub id: u64,
    pub installations: BTreeSet<u64>,
    pub public_key: Option<rsa::RsaPublicKey>,
}

pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub private: bool,
    pub default_branch: String,
    pub created_at: String,
    /// branch → the last accepted protection PUT body (None: unprotected).
    pub branches: BTreeMap<String, Option<Value>>,
    pub secrets: BTreeMap<String, GithubSecret>,
    pub environments: BTreeMap<String, Environment>,
    pub issues: Vec<Issue>,
    pub comments: Vec<Comment>,
    /// The Actions secrets key pair; the public half is served, the secret half opens the
    /// sealed boxes clients send.
    pub key: crypto_box::SecretKey,
    pub key_id: String,
    /// The last rendered `GET /repos/{o}/{r}` body and what it depended on (the API root and
    /// the open-issue count): the object is large and read often.
    pub rendered: Option<(String, usize, axum::body::Bytes)>,
}

pub struct GithubSecret {
    /// The decrypted value; `None` for secrets that came from the seed file. Never logged.
    pub value: Option<Vec<u8>>,
    pub created_at: String,
    pub updated_at: String,
}

pub struct Environment {
    pub id: u64,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    pub wait_timer: u64,
    pub prevent_self_review: bool,
    /// (`User` | `Team`, id).
    pub reviewers: Vec<(String, u64)>,
    pub deployment_branch_policy: Option<Value>,
}

pub struct Issue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    pub user: String,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
}

pub struct Comment {
    pub id: u64,
    pub issue_number: u64,
    pub body: String,
    pub user: String,
    pub created_at: String,
    pub updated_at: String,
}

pub struct PortkeyWorld {
    pub models: Vec<String>,
}

pub struct QdrantWorld {
    pub collections: BTreeMap<String, Collection>,
}

pub struct Collection {
    pub size: u64,
    pub distance: String,
}

pub struct Mem0World {
    pub memories: Vec<Memory>,
}

pub struct Memory {
    pub id: String,
    pub user_id: String,
    pub memory: String,
    pub created_at: String,
}

pub struct SlackWorld {
    pub team: String,
    /// `None`: every channel exists.
    pub channels: Option<BTreeSet<String>>,
    pub messages: Vec<SlackMessage>,
}

pub struct SlackMessage {
    pub channel: String,
    pub text: String,
    pub ts: String,
}

pub struct GongWorld {
    pub users: Vec<GongUserSeed>,
}

pub struct LambdaWorld {
    pub instances: Vec<LambdaInstanceSeed>,
}

/// Now, RFC 3339 to the second (the precision GitHub and Fly use).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl World {
    pub fn from_seed(seed: &Seed) -> anyhow::Result<World> {
        let mut world = World {
            seq: 0,
            fly: FlyWorld {
                orgs: BTreeSet::new(),
                apps: BTreeMap::new(),
            },
            github: GithubWorld {
                login: seed
                    .github
                    .login
                    .clone()
                    .unwrap_or_else(|| "sophia-bot".into()),
                users: BTreeMap::new(),
                teams: BTreeMap::new(),
                app: match &seed.github.app {
                    None => None,
                    Some(a) => Some(GithubApp {
                        id: a.id,
                        installations: a.installations.iter().copied().collect(),
                        public_key: a.public_key.as_deref().map(parse_public_key).transpose()?,
                    }),
                },
                repos: BTreeMap::new(),
            },
            portkey: PortkeyWorld {
                models: if seed.portkey.models.is_empty() {
                    vec!["gpt-4o-mini".into(), "claude-3-5-sonnet-latest".into()]
                } else {
                    seed.portkey.models.clone()
                },
            },
            qdrant: QdrantWorld {
                collections: seed
                    .qdrant
                    .collections
                    .iter()
                    .map(|(name, c)| {
                        (
                            name.clone(),
                            Collection {
                                size: c.size,
                                distance: c.distance.clone(),
                            },
                        )
                    })
                    .collect(),
            },
            mem0: Mem0World {
                memories: Vec::new(),
            },
            slack: SlackWorld {
                team: seed
                    .slack
                    .team
                    .clone()
                    .unwrap_or_else(|| "Sophia AI".into()),
                channels: seed
                    .slack
                    .channels
                    .as_ref()
                    .map(|c| c.iter().map(|c| c.trim_start_matches('#').into()).collect()),
                messages: Vec::new(),
            },
            gong: GongWorld {
                users: seed.gong.users.clone(),
            },
            lambda: LambdaWorld {
                instances: seed.lambda.instances.clone(),
            },
        };
        for m in &seed.mem0.memories {
            let id = world.uuid();
            world.mem0.memories.push(Memory {
                id,
                user_id: m.user_id.clone(),
                memory: m.memory.clone(),
                created_at: now(),
            });
        }

        // Fly.
        let orgs = if seed.fly.orgs.is_empty() {
            vec!["pay-ready".to_string()]
        } else {
            seed.fly.orgs.clone()
        };
        world.fly.orgs = orgs.iter().cloned().collect();
        for (name, app) in &seed.fly.apps {
            let org = app.org.clone().unwrap_or_else(|| orgs[0].clone());
            if !world.fly.orgs.contains(&org) {
                anyhow::bail!(
                    "fly app `{name}` names org `{org}`, which is not in `fly.orgs` ({})",
                    orgs.join(", ")
                );
            }
            if !matches!(app.state.as_str(), "started" | "stopped") {
                anyhow::bail!(
                    "fly app `{name}`: state `{}` is not one of: started, stopped",
                    app.state
                );
            }
            world.fly_create_app(name, &org);
            let image = app
                .image
                .clone()
                .unwrap_or_else(|| format!("registry.fly.io/{name}:seed"));
            for _ in 0..app.count {
                let config = json!({
                    "image": image,
                    "env": app.env,
                    "guest": { "cpu_kind": "shared", "cpus": 1, "memory_mb": 256 },
                    "restart": { "policy": "on-failure" },
                    "metadata": { "fly_platform_version": "v2", "fly_process_group": "app" }
                });
                let id = world.fly_create_machine(name, None, &app.region, config);
                let machine = world.machine_mut(name, &id).expect("just created");
                machine.state = app.state.clone();
                machine.pending = None;
            }
            let fly_app = world.fly.apps.get_mut(name).expect("just created");
            for secret in &app.secrets {
                fly_app.secrets_version += 1;
                let digest = secret_digest(name, secret, fly_app.secrets_version);
                fly_app.secrets.insert(
                    secret.clone(),
                    FlySecret {
                        value: None,
                        digest,
                        created_at: now(),
                        updated_at: now(),
                    },
                );
            }
        }

        // GitHub.
        for login in &seed.github.users {
            world.github_user_id(login);
        }
        for (org, slugs) in &seed.github.teams {
            for slug in slugs {
                world.github_team_id(org, slug);
            }
        }
        for (full, repo) in &seed.github.repos {
            let Some((owner, name)) = full.split_once('/') else {
                anyhow::bail!("github repo `{full}` is not `owner/name`");
            };
            let branches = if repo.branches.is_empty() {
                vec!["main".to_string()]
            } else {
                repo.branches.clone()
            };
            let id = world.next_id();
            let key = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
            let key_id = key_id(key.public_key().as_bytes());
            let mut r = Repo {
                id,
                owner: owner.into(),
                name: name.into(),
                private: repo.private,
                default_branch: branches[0].clone(),
                created_at: now(),
                branches: branches.iter().map(|b| (b.clone(), None)).collect(),
                secrets: repo
                    .secrets
                    .iter()
                    .map(|s| {
                        (
                            s.clone(),
                            GithubSecret {
                                value: None,
                                created_at: now(),
                                updated_at: now(),
                            },
                        )
                    })
                    .collect(),
                environments: BTreeMap::new(),
                issues: Vec::new(),
                comments: Vec::new(),
                key,
                key_id,
                rendered: None,
            };
            for (branch, body) in &repo.protection {
                let Some(slot) = r.branches.get_mut(branch) else {
                    anyhow::bail!(
                        "github repo `{full}`: protection for branch `{branch}`, which is not in `branches`"
                    );
                };
                *slot = Some(body.clone());
            }
            for issue in &repo.issues {
                let id = world.next_id();
                let number = r.issues.len() as u64 + 1;
                let state = issue.state.clone().unwrap_or_else(|| "open".into());
                r.issues.push(Issue {
                    id,
                    number,
                    title: issue.title.clone(),
                    body: issue.body.clone(),
                    closed_at: (state == "closed").then(now),
                    state,
                    user: world.github.login.clone(),
                    created_at: now(),
                    updated_at: now(),
                });
            }
            for (env_name, env) in &repo.environments {
                let mut reviewers = Vec::new();
                for rv in &env.reviewers {
                    match (rv.kind.as_str(), &rv.login, &rv.slug) {
                        ("User", Some(login), _) => {
                            reviewers.push(("User".into(), world.github_user_id(login)))
                        }
                        ("Team", _, Some(slug)) => {
                            reviewers.push(("Team".into(), world.github_team_id(owner, slug)))
                        }
                        _ => anyhow::bail!(
                            "github repo `{full}` environment `{env_name}`: a reviewer is `{{type: User, login: …}}` or `{{type: Team, slug: …}}`"
                        ),
                    }
                }
                let id = world.next_id();
                r.environments.insert(
                    env_name.clone(),
                    Environment {
                        id,
                        name: env_name.clone(),
                        created_at: now(),
                        updated_at: now(),
                        wait_timer: env.wait_timer,
                        prevent_self_review: false,
                        reviewers,
                        deployment_branch_policy: None,
                    },
                );
            }
            world.github.repos.insert(full.clone(), r);
        }
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

    /// The id of a GitHub user, registering the login on first use (the sandbox knows every
    /// login, as github.com knows every user).
    pub fn github_user_id(&mut self, login: &str) -> u64 {
        if let Some(id) = self.github.users.get(login) {
            return *id;
        }
        let id = self.next_id();
        self.github.users.insert(login.into(), id);
        id
    }

    pub fn github_team_id(&mut self, org: &str, slug: &str) -> u64 {
        let key = (org.to_string(), slug.to_string());
        if let Some(id) = self.github.teams.get(&key) {
            return *id;
        }
        let id = self.next_id();
        self.github.teams.insert(key, id);
        id
    }

    pub fn fly_create_app(&mut self, name: &str, org: &str) {
        let id = self.hex_id(16);
        self.fly.apps.insert(
            name.into(),
            FlyApp {
                id,
                name: name.into(),
                org: org.into(),
                machines: BTreeMap::new(),
                secrets: BTreeMap::new(),
                secrets_version: 0,
                logs: Vec::new(),
            },
        );
    }

    /// Creates a machine heading for `started`; returns its id.
    pub fn fly_create_machine(
        &mut self,
        app: &str,
        name: Option<String>,
        region: &str,
        config: Value,
    ) -> String {
        let id = self.hex_id(14);
        let instance_id = self.hex_id(26).to_uppercase();
        let ip_tail = self.hex_id(4);
        let name = name.unwrap_or_else(|| format!("machine-{}", &id[..6]));
        let now = now();
        let secrets_version = self.fly.apps.get(app).map_or(0, |a| a.secrets_version);
        let machine = Machine {
            id: id.clone(),
            name,
            region: region.into(),
            state: "created".into(),
            pending: Some("started".into()),
            config,
            instance_id,
            private_ip: format!("fdaa:0:1:a7b:{ip_tail}::2"),
            created_at: now.clone(),
            updated_at: now,
            events: vec![event("launch", "created", "user")],
            lease: None,
            secrets_version,
        };
        if let Some(app) = self.fly.apps.get_mut(app) {
            app.machines.insert(id.clone(), machine);
        }
        id
    }

    pub fn machine_mut(&mut self, app: &str, id: &str) -> Option<&mut Machine> {
        self.fly.apps.get_mut(app)?.machines.get_mut(id)
    }

    /// Brings every machine of `app` to its pending state, logging the transition.
    pub fn fly_settle(&mut self, app: &str) {
        let Some(app) = self.fly.apps.get_mut(app) else {
            return;
        };
        for machine in app.machines.values_mut() {
            if let Some(next) = machine.pending.take() {
                let image = machine
                    .config
                    .get("image")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                machine.state = next.clone();
                machine.updated_at = now();
                machine.events.push(event(
                    match next.as_str() {
                        "started" => "start",
                        "stopped" => "exit",
                        _ => "update",
                    },
                    &next,
                    "flyd",
                ));
                let line_id = format!("{}-{}", machine.id, machine.events.len());
                app.logs.push(FlyLogLine {
                    id: line_id,
                    timestamp: chrono::Utc::now()
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    message: format!("Machine {} is {next} (image {image})", machine.id),
                    level: "info".into(),
                    instance: machine.id.clone(),
                    region: machine.region.clone(),
                });
            }
        }
    }

    /// The plaintext of a GitHub Actions secret as the sandbox decrypted it (tests only; never
    /// logged).
    pub fn github_secret_value(&self, repo: &str, name: &str) -> Option<&[u8]> {
        self.github
            .repos
            .get(repo)?
            .secrets
            .get(name)?
            .value
            .as_deref()
    }

    /// The value of a Fly app secret as last set (tests only; never logged).
    pub fn fly_secret_value(&self, app: &str, name: &str) -> Option<&str> {
        self.fly.apps.get(app)?.secrets.get(name)?.value.as_deref()
    }
}

/// An RSA public key in PEM, SPKI or PKCS#1.
fn parse_public_key(pem: &str) -> anyhow::Result<rsa::RsaPublicKey> {
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    use rsa::pkcs8::DecodePublicKey as _;
    rsa::RsaPublicKey::from_public_key_pem(pem.trim())
        .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(pem.trim()))
        .map_err(|e| {
            anyhow::anyhow!(
                "`github.app.public_key` is not an RSA public key in PEM: {e}\n  hint: `openssl rsa -in app.pem -pubout` prints it"
            )
        })
}

/// A machine event in the Machines API shape.
pub fn event(kind: &str, status: &str, source: &str) -> Value {
    json!({
        "type": kind,
        "status": status,
        "source": source,
        "timestamp": chrono::Utc::now().timestamp_millis(),
    })
}

/// Fly's secret digest. Derived from the app, the name and the secrets version — never from
/// the value, so nothing derived from a secret leaves the sandbox — and it changes whenever the
/// secret is set again, as the real digest does when the value changes.
pub fn secret_digest(app: &str, name: &str, version: u64) -> String {
    hex::encode(Sha256::digest(format!("{app}/{name}/{version}")))[..16].to_string()
}

/// A GitHub-style numeric key id for a public key.
pub fn key_id(public: &[u8]) -> String {
    let digest = Sha256::digest(public);
    let n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) % 10u64.pow(18);
    format!("{n:018}")
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
