//! The plan: changes, the action DAG and the plan file (DESIGN.md, "Plans").
//!
//! - [`types`]: the plan file's data ([`Plan`], [`Change`], [`Action`], …), and
//!   [`action_kind`]: the closed set of action kinds. The diff, graph and digest modules
//!   import only these, never the planner.
//! - [`planner`]: [`build`], the pure planner (desired state + live snapshot + what the
//!   shell supplies → a digested [`Plan`]).
//! - [`file`]: [`read_plan`], [`verify_digest`] and [`is_expired`] check a plan file read
//!   back.
//! - [`facts`]: what the actions take from desired/ and live beyond the changes, and
//!   [`check`]: [`check_actions`], the actions re-derived from a plan's own changes and
//!   facts (what is signed — and rendered — is what runs).
//! - [`destructive`]: which changes need the destructive-plan policy's signers, and why.
//! - [`apply_gate`]: the warnings about the environment that runs apply (its own gate).
//!
//! Everything is re-exported here: callers write `crate::core::plan::{Plan, build, …}`.

pub mod action_kind;
pub mod apply_gate;
pub mod check;
pub mod destructive;
pub mod facts;
pub mod file;
pub mod planner;
pub mod types;

pub use action_kind::{ActionKind, UnknownActionKind};
pub use check::{ActionMismatch, check_actions};
pub use destructive::{Destructive, destructive};
pub use facts::{AppFacts, Facts};
pub use file::{PlanFileError, is_expired, read_plan, verify_digest};
pub use planner::{DEFAULT_TTL_HOURS, PlanError, PlanOptions, build, build_with, desired_digest};
pub use types::{
    Action, ActionId, AttrDiff, Change, ChangeKind, DesiredRef, PLAN_FORMAT, Plan, PlanSummary,
    PolicyVerdicts, rfc3339,
};
