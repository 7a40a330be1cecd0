//! `sophia`: a declarative plan/apply reconciler with a signed approval gate for the
//! infrastructure of Sophia AI.
//!
//! ```text
//! desired/*.yaml ─load/validate─▶ Desired ──┐
//!                                           ├─ diff ─▶ Changes ─ plan ─▶ Plan (DAG, digest)
//! providers ───────refresh (reads only)─▶ Live ┘                           │
//!                                     render: text │ markdown │ json        │
//!                       approver signs the plan file (SSH signature) ──────┤
//!                                                                          ▼
//! apply: lock ▸ verify digest/expiry/signature ▸ re-read live, refuse if stale ▸ run DAG
//!        ▸ proofs + journal ▸ re-read, confirm converged
//! ```
//!
//! - [`core`]: **pure** — load, diff, plan, digest, render, the envelope.
//! - [`cli`]: one file per subcommand; each parses its arguments into one request, calls one
//!   operation and renders the outcome. The one tokio runtime is started there.
//! - [`ops`]: the operations (plan, refresh, drift, apply, notify, comment, the front door,
//!   the demo): typed request → typed outcome; they print nothing.
//! - [`providers`]: one module per provider: refresh, execute actions, read-only ops.
//! - [`approve`]: SSH signatures (SSHSIG), `allowed_signers`, digest approvals.
//! - [`policy`]: policy as code — `.infra/policy/*.rego` judging each plan (Rego, in
//!   process), its freshness at apply, and `sophia policy test`.
//! - [`apply`]: the executor.
//! - [`proofs`]: proof files, the hash-chained journal, verification.
//! - [`backend`]: local files + lock (default) or PostgreSQL.
//! - [`secrets`]: the secrets map, presence, the redactor.
//! - [`identity`]: which build this is (version, digest of the source tree), checked
//!   against the build that made a plan.
//! - [`workspace`]: the repository on disk: desired files, `.infra/`, `proofs/`.
//! - `sandbox` (feature `sandbox`): the local emulator of every provider API.

pub mod apply;
pub mod approve;
pub mod backend;
pub mod cli;
pub mod core;
pub mod identity;
pub mod ops;
pub mod policy;
pub mod proofs;
pub mod providers;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod secrets;
pub mod workspace;
