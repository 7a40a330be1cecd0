//! Which build of sophia this is: the package version and the SHA-256 of the source tree it
//! was compiled from (computed by `build.rs`). Every plan records both; `verify` and `apply`
//! refuse a plan made by another build ([`check_plan`]), as Terraform refuses a plan made by
//! another version.

// The refusal is an `ApprovalError`, returned by value as everywhere in `approve`.
#![allow(clippy::result_large_err)]

use crate::approve::ApprovalError;
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

/// Refuse a plan whose recorded build is not this one (version and source digest).
pub fn check_plan(plan: &Plan) -> Result<(), ApprovalError> {
    check(plan, VERSION, SOURCE_DIGEST)
}

/// [`check_plan`] against a given build.
pub fn check(plan: &Plan, version: &str, source: &str) -> Result<(), ApprovalError> {
    if plan.tool_version == version && plan.tool_source == source {
        Ok(())
    } else {
        Err(ApprovalError::OtherBuild {
            planned: describe(&plan.tool_version, &plan.tool_source),
            this: describe(version, source),
        })
    }
}
