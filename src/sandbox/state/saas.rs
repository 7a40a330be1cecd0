//! The SaaS providers behind the apps: the LLM router's models (Portkey), Qdrant collections,
//! Mem0 memories, Slack (team, channels, the messages posted), Gong users and Lambda instances;
//! and their parts of the seed file.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::{World, now};

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

impl PortkeyWorld {
    pub(super) fn new(seed: &PortkeySeed) -> PortkeyWorld {
        PortkeyWorld {
            models: if seed.models.is_empty() {
                vec!["gpt-4o-mini".into(), "claude-3-5-sonnet-latest".into()]
            } else {
                seed.models.clone()
            },
        }
    }
}

impl QdrantWorld {
    pub(super) fn new(seed: &QdrantSeed) -> QdrantWorld {
        QdrantWorld {
            collections: seed
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
        }
    }
}

impl SlackWorld {
    pub(super) fn new(seed: &SlackSeed) -> SlackWorld {
        SlackWorld {
            team: seed.team.clone().unwrap_or_else(|| "Sophia AI".into()),
            channels: seed
                .channels
                .as_ref()
                .map(|c| c.iter().map(|c| c.trim_start_matches('#').into()).collect()),
            messages: Vec::new(),
        }
    }
}

impl World {
    /// Seeds the memories of the state file (their ids come from the world's sequence).
    pub(super) fn seed_mem0(&mut self, seed: &Mem0Seed) {
        for m in &seed.memories {
            let id = self.uuid();
            self.mem0.memories.push(Memory {
                id,
                user_id: m.user_id.clone(),
                memory: m.memory.clone(),
                created_at: now(),
            });
        }
    }
}
