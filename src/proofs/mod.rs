//! Proof files in the original layout, the hash-chained journal, and their verification.
