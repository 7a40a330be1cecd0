//! The pure core: desired state → diff against live → plan DAG → digest → renderings.
//!
//! Nothing in here reads files, the network, the environment, the clock or a random source:
//! those are passed in by the shell (`src/cli`, `src/providers`, …). That is what makes
//! plans reproducible and these modules fast to test.
//!
//! - [`address`]: typed resource addresses.
//! - [`desired`]: the desired-state model, the YAML loader and the `fly.toml` importer.
//! - [`live`]: the live snapshot format and the normalized object of each resource kind.
//! - [`compact_json`]: JSON values read at their own size (the live snapshot's objects).
//! - [`plan`]: changes, actions, the plan file.
//! - [`digest`]: canonical JSON and SHA-256 digests.
//! - [`number`]: the integers a digest can tell apart (±(2^53 − 1)).
//! - [`envelope`]: the normalized result envelope.
//! - [`hint`]: hints as data, and the escaping of printed messages.
//! - [`flymachine`]: the machine config flyctl builds from a Fly app's `fly.toml` sections.
//! - [`image`]: image references, and desired images pinned to their resolved digests.
//! - [`lower`]: desired state → the expected normalized object of every address.
//! - [`github_protection`]: GitHub's branch protection body, shared with the provider.
//! - [`diff`]: expected against live, attribute by attribute → changes.
//! - [`graph`]: changes → the ordered action DAG.
//! - [`dag`]: cycle naming, transitive reduction and topological order of that DAG.
//! - [`cost`]: the monthly cost of a plan from the repository's price table.
//! - [`lifecycle`]: the managed set, protection, retired and unmanaged addresses.
//! - [`render`]: a plan as text, markdown (the PR comment) or JSON.

pub mod address;
pub mod compact_json;
pub mod cost;
pub mod dag;
pub mod desired;
pub mod diff;
pub mod digest;
pub mod envelope;
pub mod flymachine;
pub mod github_protection;
pub mod github_ruleset;
pub mod graph;
pub mod hint;
pub mod image;
pub mod import;
pub mod lifecycle;
pub mod live;
pub mod lower;
pub mod matrix;
pub mod number;
pub mod plan;
pub mod render;
pub mod rotation;
