//! The desired-state loader on arbitrary files, then everything a loaded state goes through
//! offline: lowering, planning against an empty live snapshot, the three renderings, and
//! reading the plan file back.
//!
//! The input is split into one to three files on NUL bytes (YAML refuses NUL in a file, so a
//! real desired file never holds one). A file that is not UTF-8 is skipped: the shell reads
//! files with `read_to_string`, which refuses them before the loader sees them.
//!
//! Invariants: nothing panics; a loaded state plans; the plan file `sophia` writes is read
//! back with a verified digest; the desired digest does not depend on file order.

#![no_main]

use chrono::{TimeZone as _, Utc};
use libfuzzer_sys::fuzz_target;
use sophia::core::desired::{self, Source};
use sophia::core::live::LiveSnapshot;
use sophia::core::plan::{self, PlanOptions};
use sophia::core::render;

/// At most three files: enough to exercise merging and cross-file duplicates.
const MAX_FILES: usize = 3;

fuzz_target!(|data: &[u8]| {
    let mut sources = Vec::new();
    for (i, part) in data.splitn(MAX_FILES, |b| *b == 0).enumerate() {
        let Ok(text) = std::str::from_utf8(part) else {
            return;
        };
        sources.push(Source {
            path: format!("desired/{i}.yaml"),
            text: text.to_string(),
        });
    }
    let desired = match desired::load(&sources) {
        Ok(d) => d,
        Err(errors) => {
            // Every error is located in one of the files given (or the folder as a whole).
            for e in &errors.0 {
                assert!(
                    e.file == "desired/" || sources.iter().any(|s| s.path == e.file),
                    "error names an unknown file: {e}"
                );
            }
            let _ = errors.to_string();
            return;
        }
    };

    if sources.len() > 1 {
        let mut reversed = sources.clone();
        reversed.reverse();
        let again = desired::load(&reversed).expect("the same files load in any order");
        assert_eq!(
            plan::desired_digest(&desired),
            plan::desired_digest(&again),
            "the desired digest depends on file order"
        );
    }

    let live = LiveSnapshot::new("2026-01-01T00:00:00Z");
    let opts = PlanOptions {
        tool_version: "0.0.0-fuzz".to_string(),
        tool_source: String::new(),
        created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        ttl: chrono::Duration::hours(plan::DEFAULT_TTL_HOURS),
        nonce: "fuzz".to_string(),
        git_commit: None,
        git_dirty: false,
        targets: Vec::new(),
        prices: None,
    };
    let plan = match plan::build(&desired, &live, &opts) {
        Ok(p) => p,
        Err(e) => {
            // A cycle in `depends_on` is a legitimate refusal; anything is, as long as it is
            // an error and not a panic.
            let _ = e.to_string();
            return;
        }
    };
    let _ = render::text::render(&plan, true);
    let _ = render::markdown::render(&plan, "plan.json");
    let json = render::json::render(&plan);
    let back = plan::read_plan("plan.json", &json).expect("a written plan reads back");
    assert_eq!(back.digest, plan.digest);
});
