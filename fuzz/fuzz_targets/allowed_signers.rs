//! `.infra/allowed_signers` and armored SSH signatures (`plan.json.sig`): the two files an
//! approver supplies to the approval gate.
//!
//! The whole input goes to both parsers. Whatever parses is then used as the gate uses it:
//! principal and namespace matching, validity times resolved in UTC and in a fixed offset,
//! key fingerprints, and signature verification over a fixed message.

#![no_main]

use chrono::{FixedOffset, Utc};
use libfuzzer_sys::fuzz_target;
use sophia::approve::allowed_signers::{AllowedSigners, match_pattern_list};
use sophia::approve::sshsig;

/// The namespace plans are signed in (DESIGN.md, "Approval").
const NAMESPACE: &str = "sophia-plan@v1";

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match AllowedSigners::parse("allowed_signers", text) {
            Ok(signers) => {
                let east = FixedOffset::east_opt(14 * 3600).unwrap();
                for entry in &signers.entries {
                    let identity = entry.identity();
                    if let Some(name) = &identity {
                        // Each named pattern is one of the line's positive patterns.
                        for p in name.split(',') {
                            assert!(
                                entry.principals.split(',').any(|q| q == p),
                                "identity `{p}` not a pattern of the line"
                            );
                        }
                    }
                    let _ = entry.matches_principal("alice@example.com");
                    let _ = entry.allows_namespace(NAMESPACE);
                    for t in [&entry.valid_after, &entry.valid_before]
                        .into_iter()
                        .flatten()
                    {
                        let _ = t.resolve(&Utc);
                        let _ = t.resolve(&east);
                        let _ = t.to_string();
                    }
                    let _ = sshsig::fingerprint(entry.key.key_data());
                    let _ = signers.entries_for(entry.key.key_data()).count();
                    let _ = match_pattern_list(NAMESPACE, &entry.principals);
                }
            }
            Err(e) => {
                assert!(e.line >= 1, "error without a line: {e}");
                let _ = e.to_string();
            }
        }
    }

    if let Ok(sig) = sshsig::parse(data) {
        let _ = sshsig::family(sig.public_key());
        let _ = sshsig::fingerprint(sig.public_key());
        let _ = sshsig::verify(&sig, NAMESPACE, b"hello\n");
    }
});
