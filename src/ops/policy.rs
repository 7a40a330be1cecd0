//! `sophia policy test`: the `test_*` rules of `.infra/policy/` as `opa test` runs them
//! ([`crate::policy::test`]), for the command to print.

use std::path::Path;

pub use crate::policy::test::{Outcome, TestResult};

/// What `sophia policy test` found.
#[derive(Debug, Clone)]
pub struct PolicyTested {
    /// Every test, in file and line order.
    pub results: Vec<TestResult>,
}

impl PolicyTested {
    /// Whether every test passed.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.outcome == Outcome::Pass)
    }

    /// How many tests had `outcome`'s kind (errors counted together).
    pub fn count(&self, pass: bool) -> usize {
        self.results
            .iter()
            .filter(|r| (r.outcome == Outcome::Pass) == pass)
            .count()
    }
}

/// Run the policy's tests in the repository at `root`. A policy that does not parse fails
/// with `file:line:column`; no policy, or no test, is an error too.
pub fn test(root: &Path) -> anyhow::Result<PolicyTested> {
    Ok(PolicyTested {
        results: crate::policy::test::run(root)?,
    })
}
