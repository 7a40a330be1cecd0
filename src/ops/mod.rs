//! The operations: what each command does, as cargo's `src/ops/` is to its commands. Each
//! operation is a function from a typed request to a typed outcome; it prints nothing (what a
//! person should see comes back in the outcome, or goes through a trait the caller passes,
//! such as [`crate::apply::Progress`]), so the command line renders it and `sophia demo`
//! calls the very same operations.
//!
//! ```text
//! cli/<command>.rs ─ args ▸ request ─▶ ops::<operation> ─▶ outcome ─▶ cli renders it
//!                                         │
//!            workspace (desired/) · providers (read live state) · core (plan, pure)
//!            approve (the gate) · apply (the executor) · backend (proofs, journal, lease)
//! ```
//!
//! - [`refresh`]: reading live state — [`refresh::read_live`] is the one way plan, refresh
//!   and drift read it (every provider, then the activation record laid over it).
//! - [`plan`]: desired against live → a plan file; [`plan::plan_options`] is the one place a
//!   plan's options (time, expiry, nonce, commit, targets) are decided.
//! - [`drift`]: plan against live without saving a plan; a proof of every check, and the ONE
//!   GitHub issue that reports drift while it lasts.
//! - [`apply`]: run an approved plan through [`crate::apply::apply`], then notify.
//! - [`lifecycle`]: the managed set, `.infra/ignore` and the live inventory plan and drift
//!   read (issue 14).
//! - [`notify`]: the Slack notification of a plan or an apply.
//! - [`comment`]: the sticky pull-request comment with the plan.
//! - [`reporting`]: the credentials and workflow-run link the comment and the drift issue use.
//! - [`policy`]: `sophia policy test`, the policy's own tests (plans are judged in [`plan`]).
//! - [`proofs`]: verify the journal and the proof files.
//! - [`import`]: desired YAML for live resources (`sophia import`).
//! - [`lease`]: `lease show` and `lease break`, the apply lease by hand.
//! - [`matrix`]: each provider's activation and secret status (names only).
//! - [`frontdoor`]: `sophia op PROVIDER ACTION`, the original control plane's entry point.
//! - `demo` and `sandbox` (feature `sandbox`): the whole loop against an embedded sandbox, and
//!   serving the sandbox.

pub mod apply;
pub mod attest;
pub mod audit;
pub mod comment;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod drift;
pub mod frontdoor;
pub mod import;
pub mod lease;
pub mod lifecycle;
pub mod matrix;
pub mod notify;
pub mod plan;
pub mod policy;
pub mod proofs;
pub mod refresh;
pub mod reporting;
#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use frontdoor::load_desired_or_empty;
