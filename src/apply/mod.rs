//! The executor: lock ▸ verify ▸ stale check ▸ run the DAG ▸ proofs ▸ converge check.
