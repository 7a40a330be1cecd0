//! The desired sections of the providers other than Fly and GitHub: small, and mostly
//! settings of `sophia` itself (routes, search backends, channels).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterDesired {
    /// The gateway every route goes through, e.g. `portkey`.
    pub primary: String,
    /// Backup providers, in order: `openai`, `anthropic`, `openrouter`, `groq`, `deepseek`.
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResearchDesired {
    /// Search backends: `tavily`, `serper`.
    #[serde(default)]
    pub providers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextDbDesired {
    /// PostgreSQL extensions that must be installed.
    #[serde(default)]
    pub extensions: Vec<String>,
    /// Schemas that must exist.
    #[serde(default)]
    pub schemas: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QdrantDesired {
    #[serde(default)]
    pub collections: BTreeMap<String, QdrantCollection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QdrantCollection {
    /// Vector size, e.g. 1536.
    pub size: u64,
    pub distance: Distance,
    /// Deletion protection: no plan may delete or replace (recreate) the collection, even
    /// once removed from desired/.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Distance {
    Cosine,
    Euclid,
    Dot,
    Manhattan,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mem0Desired {}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisDesired {
    /// `CONFIG SET` keys and values, e.g. `maxmemory-policy: allkeys-lru`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackDesired {
    /// Channel that receives plan and apply notifications, e.g. `#infra`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_channel: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GongDesired {}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LambdaDesired {}
