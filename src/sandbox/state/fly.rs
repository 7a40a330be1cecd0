//! Fly: organizations, apps, their machines (with leases, events and the logs their
//! transitions write) and secrets; and the `fly:` part of the seed file.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::{World, now};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlySeed {
    pub orgs: Vec<String>,
    pub apps: BTreeMap<String, FlyAppSeed>,
    /// Fly's registry, by exception: every tag of `registry.fly.io` exists, with a digest
    /// derived from its reference ([`derived_digest`]), except those named here — a digest
    /// (`sha256:` and 64 hex digits) re-points the tag, `null` removes it.
    pub registry: BTreeMap<String, Option<String>>,
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
    /// Every machine starts leased by this owner (a concurrent `fly deploy`), for an hour.
    pub leased_by: Option<String>,
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
            leased_by: None,
        }
    }
}

#[derive(Default)]
pub struct FlyWorld {
    pub orgs: BTreeSet<String>,
    pub apps: BTreeMap<String, FlyApp>,
    /// The registry's tags that differ from the default (see [`FlySeed::registry`]): image
    /// reference (`registry.fly.io/dash:1`) → its digest, or `None` for a tag that does not
    /// exist. Tests re-point a tag by inserting here.
    pub registry: BTreeMap<String, Option<String>>,
    /// Digest → the tag the registry last answered with it: a machine deployed by digest
    /// is known by that tag (the sandbox's health reads `bad`/`unhealthy` in it).
    pub answered: BTreeMap<String, String>,
}

impl FlyWorld {
    /// The reference a machine running `image` is known by: for `name@digest`, the tag the
    /// registry answered that digest for, when it did; else `image` itself.
    pub fn image_source(&self, image: &str) -> String {
        image
            .split_once('@')
            .and_then(|(_, d)| self.answered.get(d))
            .cloned()
            .unwrap_or_else(|| image.to_string())
    }

    /// The digest `image` names: its own when given by digest, else the registry's for the
    /// tag (`latest` when none is written); `None` for a tag the registry does not hold.
    pub fn image_digest(&self, image: &str) -> Option<String> {
        if let Some((_, digest)) = image.split_once('@') {
            return Some(digest.to_string());
        }
        let slash = image.rfind('/').map_or(0, |i| i + 1);
        let image = if image[slash..].contains(':') {
            image.to_string()
        } else {
            format!("{image}:latest")
        };
        match self.registry.get(&image) {
            Some(entry) => entry.clone(),
            None => Some(derived_digest(&image)),
        }
    }
}

/// The digest of a tag the state file does not name: SHA-256 of its reference, so the
/// same image has the same digest in every run.
pub fn derived_digest(image: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(image)))
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
    /// The app's IP assignments, as `GET …/ip_assignments` lists them.
    pub ips: Vec<Value>,
    /// The app's volumes, as `GET …/volumes` lists them.
    pub volumes: Vec<Value>,
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
    /// The digest of the image it runs, resolved when it was created or last updated (a tag
    /// re-pointed since does not change what a machine runs): its `image_ref.digest`.
    pub digest: String,
    /// The reference the image is known by ([`FlyWorld::image_source`]): what the sandbox's
    /// health checks read.
    pub source: String,
    /// The config's image when `digest` and `source` were set: a test (or the demo's
    /// `fly deploy`) that edits the config directly changes what the machine runs too.
    pub resolved_image: String,
}

impl Machine {
    /// The config's image.
    pub fn image(&self) -> &str {
        self.config
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The digest it runs (`image_ref.digest`): the one resolved at its create or update,
    /// or, when its config's image was edited since, that image's own.
    pub fn running_digest(&self) -> String {
        let image = self.image();
        if image == self.resolved_image {
            return self.digest.clone();
        }
        match image.split_once('@') {
            Some((_, d)) => d.to_string(),
            None => derived_digest(image),
        }
    }

    /// The reference its image is known by (what health reads: `bad`, `unhealthy`).
    pub fn known_as(&self) -> &str {
        if self.image() == self.resolved_image {
            &self.source
        } else {
            self.image()
        }
    }
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

impl World {
    /// Seeds the orgs (default `pay-ready`) and apps of the state file.
    pub(super) fn seed_fly(&mut self, seed: &FlySeed) -> anyhow::Result<()> {
        let orgs = if seed.orgs.is_empty() {
            vec!["pay-ready".to_string()]
        } else {
            seed.orgs.clone()
        };
        self.fly.orgs = orgs.iter().cloned().collect();
        for (image, digest) in &seed.registry {
            if let Some(d) = digest
                && !is_digest(d)
            {
                anyhow::bail!(
                    "fly registry tag `{image}`: `{d}` is not a digest (expected `sha256:` and 64 lowercase hex digits)"
                );
            }
        }
        self.fly.registry = seed.registry.clone();
        for (name, app) in &seed.apps {
            let org = app.org.clone().unwrap_or_else(|| orgs[0].clone());
            if !self.fly.orgs.contains(&org) {
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
            self.fly_create_app(name, &org);
            let image = app
                .image
                .clone()
                .unwrap_or_else(|| format!("registry.fly.io/{name}:seed"));
            // As `fly deploy` leaves them: flyctl's variables beside the app's own.
            let mut env = app.env.clone();
            env.insert("FLY_PROCESS_GROUP".into(), "app".into());
            env.insert("PRIMARY_REGION".into(), app.region.clone());
            for _ in 0..app.count {
                let config = json!({
                    "image": image,
                    "env": env,
                    "guest": { "cpu_kind": "shared", "cpus": 1, "memory_mb": 256 },
                    "restart": { "policy": "on-failure" },
                    "metadata": { "fly_platform_version": "v2", "fly_process_group": "app" }
                });
                let id = self.fly_create_machine(name, None, &app.region, config);
                let nonce = app.leased_by.as_ref().map(|_| self.hex_id(12));
                let machine = self.machine_mut(name, &id).expect("just created");
                machine.state = app.state.clone();
                machine.pending = None;
                if let (Some(owner), Some(nonce)) = (&app.leased_by, nonce) {
                    machine.lease = Some(Lease {
                        nonce,
                        // An hour: longer than any test, as a running deploy's lease would be.
                        expires_at: chrono::Utc::now().timestamp() + 3600,
                        owner: owner.clone(),
                        description: "fly deploy".into(),
                    });
                }
            }
            let fly_app = self.fly.apps.get_mut(name).expect("just created");
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
        Ok(())
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
                ips: Vec::new(),
                volumes: Vec::new(),
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
        let image = config.get("image").and_then(Value::as_str).unwrap_or("");
        let digest = self
            .fly
            .image_digest(image)
            .unwrap_or_else(|| derived_digest(image));
        let source = self.fly.image_source(image);
        let resolved_image = image.to_string();
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
            digest,
            source,
            resolved_image,
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

    /// The value of a Fly app secret as last set (tests only; never logged).
    pub fn fly_secret_value(&self, app: &str, name: &str) -> Option<&str> {
        self.fly.apps.get(app)?.secrets.get(name)?.value.as_deref()
    }
}

/// `sha256:` and 64 lowercase hex digits.
fn is_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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
