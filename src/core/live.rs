//! The live snapshot: what providers read, normalized so that it compares with the desired
//! state attribute by attribute (DESIGN.md, "Plans").
//!
//! ```json
//! {"format": "sophia-live/v1", "taken_at": "…", "resources": {"<address>": {…}},
//!  "images": {"registry.fly.io/dash:1": "sha256:…"}}
//! ```
//! `images` holds the registry digest of every desired image tag (DESIGN.md, "Images by
//! digest"): the plan pins each tag to it ([`crate::core::image::planned`]).
//! An address that is absent does not exist. The normalized object of each address kind is
//! a contract between the providers (which produce it) and the diff (which compares it):
//!
//! | address | normalized object |
//! |---|---|
//! | `fly.app.<a>` | `{"org": "pay-ready"}` |
//! | `fly.app.<a>.secrets` | `{"names": ["A", "B"], "updated_at": {"A": "…"}}` (sorted, names only; `rotations` laid over from the journal, see [`crate::core::rotation`]) |
//! | `fly.app.<a>.machines` | `{"image": "name@sha256:…", "count": 2, "regions": ["ord"], "guest": {"cpu_kind", "cpus", "memory_mb"}, "env": {…}, "platform_env": {"FLY_PROCESS_GROUP", "PRIMARY_REGION"}, "config": {services, checks, mounts, metrics, statics, init, stop_config, restart, dns, metadata}}`; `image` is a sorted array of the distinct images when machines disagree; regions sorted, unique; `env` the app's own variables, `platform_env` those flyctl adds; `config` the non-empty keys flyctl sets from fly.toml, `metadata` only flyctl's two keys |
//! | `fly.app.<a>.process.<g>` | as `machines`, for the machines of process group `g` |
//! | `fly.app.<a>.ips` | `{"public": true \| false, "v6": n, "v4": n, "v4_dedicated": n}` (public addresses; Flycast `fdaa:` ones are private; `v4_dedicated` the v4 ones not shared, which Fly bills) |
//! | `fly.app.<a>.volume.<n>` | `{"count": n, "regions": [...], "size_gb": n}` (volumes named `n` not destroyed) |
//! | `github.repo.<r>.branch.<b>.protection` | the PUT body shape: flags unwrapped (`enforce_admins: true`), users by login, teams and apps by slug, all lists sorted |
//! | `github.repo.<r>.secret.<N>` | `{"updated_at": "…"}` (`rotation` laid over from the journal) |
//! | `github.repo.<r>.environment.<e>` | `{"reviewers": [{"type": "User", "login": "…"}], "prevent_self_review": false, "wait_timer": 0, "deployment_branch_policy": null}` (reviewers compared as a set of (type, login)); `secrets` names, `secrets_updated_at`, and `secret_rotations` laid over from the journal |
//! | `github.repo.<r>.ruleset.<n>`, `github.org.<o>.ruleset.<n>` | the POST body without `name`: `{target, enforcement, conditions, rules (sorted by type), bypass_actors (sorted; `"(unknown: …)"` when the credential cannot see it)}` |
//! | `provider.<p>` | `{"activation": "active" \| "paused"}` |
//! | `context_db.extension.<n>`, `context_db.schema.<n>` | `{}` |
//! | `qdrant.collection.<n>` | `{"size": 1536, "distance": "Cosine"}` |
//! | `redis.config.<k>` | `{"value": "…"}` |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::address::Address;

pub const LIVE_FORMAT: &str = "sophia-live/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSnapshot {
    pub format: String,
    pub taken_at: String,
    /// Read with each object at its own size ([`crate::core::compact_json`]).
    #[serde(deserialize_with = "compact_resources")]
    pub resources: BTreeMap<Address, serde_json::Value>,
    /// Every desired image tag, resolved to its registry digest when the snapshot was taken
    /// (`"registry.fly.io/dash:1": "sha256:…"`); absent when nothing needed resolving.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: crate::core::image::Resolved,
}

impl LiveSnapshot {
    pub fn new(taken_at: impl Into<String>) -> LiveSnapshot {
        LiveSnapshot {
            format: LIVE_FORMAT.to_string(),
            taken_at: taken_at.into(),
            resources: BTreeMap::new(),
            images: BTreeMap::new(),
        }
    }

    pub fn get(&self, address: &Address) -> Option<&serde_json::Value> {
        self.resources.get(address)
    }
}

/// The `resources` of a snapshot, each object read compactly: a plan holds the whole live
/// state while it plans, and at 100,000 resources it is the largest thing it holds.
fn compact_resources<'de, D>(d: D) -> Result<BTreeMap<Address, serde_json::Value>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Resources;

    impl<'de> serde::de::Visitor<'de> for Resources {
        type Value = BTreeMap<Address, serde_json::Value>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map from addresses to normalized objects")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut access: A,
        ) -> Result<Self::Value, A::Error> {
            // Gathered first, then built in one go: a B-tree built from sorted entries has
            // full nodes, one built by inserting them in order has half-empty ones (about
            // 10 MB of the 100,000-resource snapshot). A repeated address keeps its last
            // object, as inserting would.
            let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0));
            while let Some(address) = access.next_key::<Address>()? {
                let value = access.next_value_seed(crate::core::compact_json::Compact)?;
                entries.push((address, value));
            }
            Ok(entries.into_iter().collect())
        }
    }

    d.deserialize_map(Resources)
}
