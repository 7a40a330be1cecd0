//! Which build of sophia this is: the package version and the SHA-256 of the source tree it
//! was compiled from (computed by `build.rs`). Every plan records both; `verify` and `apply`
//! refuse a plan made by another build (the gate, `approve::gate`, asks [`made_here`]), as
//! Terraform refuses a plan made by another version.

use crate::core::plan::Plan;

/// The package version, e.g. `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `sha256:<hex>` of the source tree (Cargo.toml, Cargo.lock, build.rs, src/).
pub const SOURCE_DIGEST: &str = env!("SOPHIA_SOURCE_DIGEST");

/// `0.1.0 (source sha256:…)`: how a build is named in messages and `sophia --version`.
pub fn describe(version: &str, source: &str) -> String {
    if source.is_empty() {
        format!("{version} (source not recorded)")
    } else {
        format!("{version} (source {source})")
    }
}

/// This build, named as [`describe`] does.
pub fn this_build() -> String {
    describe(VERSION, SOURCE_DIGEST)
}

/// The build that made `plan`, named as [`describe`] does.
pub fn plan_build(plan: &Plan) -> String {
    describe(&plan.tool_version, &plan.tool_source)
}

/// Whether `plan` was made by this build (same version, same source digest).
pub fn made_here(plan: &Plan) -> bool {
    plan.tool_version == VERSION && plan.tool_source == SOURCE_DIGEST
}
