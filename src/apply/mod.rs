//! The executor: lock ▸ verify ▸ stale check ▸ run the DAG ▸ proofs ▸ converge check.
//!
//! - [`dag`]: running the action DAG with bounded parallelism, skipping the dependents of
//!   a failed action.

pub mod dag;
