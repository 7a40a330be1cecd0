//! `sophia policy test`: run the tests of `.infra/policy/` (`*_test.rego`, rules named
//! `test_*`) as `opa test` does. Each test's verdict on stdout, grouped by file, then the
//! counts; exit 1 when any test fails or errs.

use super::{Ctx, Exit};
use crate::ops::policy::{Outcome, PolicyTested};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Run the policy's tests (`test_*` rules of `.infra/policy/*.rego`), as `opa test`.
    Test,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    match args.command {
        PolicyCommand::Test => {
            let tested = crate::ops::policy::test(&ctx.root)?;
            if ctx.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "passed": tested.passed(),
                        "tests": tested.results,
                    }))?
                );
            } else {
                print!("{}", render(&tested));
            }
            Ok(if tested.passed() {
                Exit::Clean
            } else {
                Exit::Failed
            })
        }
    }
}

/// `opa test`'s report: each file, its tests' verdicts, then `PASS: n/N` (and `FAIL:`).
fn render(tested: &PolicyTested) -> String {
    let mut out = String::new();
    let mut file = None;
    for r in &tested.results {
        if file != Some(&r.file) {
            if file.is_some() {
                out.push('\n');
            }
            out.push_str(&format!("{}:\n", r.file));
            file = Some(&r.file);
        }
        match &r.outcome {
            Outcome::Pass => out.push_str(&format!("{}: PASS\n", r.name)),
            Outcome::Fail => out.push_str(&format!("{}: FAIL (line {})\n", r.name, r.line)),
            Outcome::Error(e) => out.push_str(&format!(
                "{}: ERROR (line {})\n  {}\n",
                r.name,
                r.line,
                crate::core::hint::escape(e).replace('\n', "\n  ")
            )),
        }
    }
    let total = tested.results.len();
    out.push_str(&format!("{}\n", "-".repeat(80)));
    out.push_str(&format!("PASS: {}/{total}\n", tested.count(true)));
    let failed = tested.count(false);
    if failed > 0 {
        out.push_str(&format!("FAIL: {failed}/{total}\n"));
    }
    out
}
