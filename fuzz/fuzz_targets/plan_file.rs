//! The plan-file reader `sophia show` / `sign` / `verify` / `apply` use, and the RFC 8785
//! writer the digest is computed with.
//!
//! 1. Any JSON value: our canonical writer agrees byte for byte with
//!    `serde_json_canonicalizer`, and its output parses back to a value with the same
//!    canonical form (idempotence).
//! 2. `core::plan::read_plan` (format check, typed parse, digest check) never panics.
//! 3. The approval gate's own reader (`serde_json::from_slice::<Plan>`) and
//!    `verify_approval_in` in digest mode, on whatever parses.
//! 4. A parsed plan with its digest recomputed (re-canonicalisation) reads back through
//!    `read_plan` and renders as `sophia show` would. Without this step the fuzzer could
//!    never get past the digest check.

#![no_main]

use chrono::{TimeZone as _, Utc};
use libfuzzer_sys::fuzz_target;
use sophia::approve::{self, ApprovalMode, Evidence, Settings};
use sophia::core::{digest, plan, render};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let ours = digest::canonical_json(&value).expect("a JSON value canonicalizes");
        let theirs = serde_json_canonicalizer::to_string(&value)
            .expect("serde_json_canonicalizer takes any JSON value");
        assert_eq!(
            ours, theirs,
            "canonical JSON differs from serde_json_canonicalizer"
        );
        let reparsed: serde_json::Value =
            serde_json::from_str(&ours).expect("canonical JSON parses");
        assert_eq!(
            digest::canonical_json(&reparsed).unwrap(),
            ours,
            "canonical JSON is not idempotent"
        );
    }

    if let Ok(text) = std::str::from_utf8(data) {
        match plan::read_plan("plan.json", text) {
            Ok(p) => show(&p),
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }

    let Ok(mut parsed) = serde_json::from_slice::<plan::Plan>(data) else {
        return;
    };
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    let evidence = Evidence {
        signatures: Vec::new(),
        approve_digest: Some(parsed.digest.clone()),
    };
    let settings = Settings {
        approval: ApprovalMode::Digest,
        ..Settings::default()
    };
    let _ = approve::verify_approval_in(data, &parsed, &evidence, None, &settings, now, &Utc)
        .map_err(|e| e.to_string());
    let _ = approve::destructive_addresses(&parsed);
    let _ = plan::is_expired(&parsed, now);

    parsed.digest = digest::plan_digest(&parsed);
    let written = render::json::render(&parsed);
    match plan::read_plan("plan.json", &written) {
        Ok(back) => {
            assert_eq!(back, parsed, "a plan changes when written and read back");
            show(&back);
        }
        // The typed parse does not look at `format`; the reader does.
        Err(plan::PlanFileError::WrongFormat { .. }) if parsed.format != plan::PLAN_FORMAT => {}
        Err(e) => panic!("a re-digested plan does not read back: {e}"),
    }
});

/// What `sophia show` prints, in every format.
fn show(p: &plan::Plan) {
    let _ = render::text::render(p, false);
    let _ = render::markdown::render(p, "plan.json");
    let _ = render::json::render(p);
}
