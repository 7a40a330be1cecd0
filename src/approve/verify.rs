//! The gate itself: is this plan, read from these bytes, approved now? Pure but for the local
//! time zone (passed in by [`verify_approval_in`]); the checks run in the order the module
//! documentation of [`crate::approve`] gives, each refusing before the next.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};

use super::envelope::Envelope;
use super::window::check_options;
pub(super) use super::window::rfc3339;
use super::{
    AllowedSigners, Approval, ApprovalError, ApprovalMode, Evidence, Settings, SignatureFile,
    Signer, allowed_signers, certs, sshsig,
};
use crate::core::digest::plan_digest;
use crate::core::plan::{Destructive, PLAN_FORMAT, Plan};

/// Whether a plan is destructive, and why: each address with its reasons, sorted (see
/// [`crate::core::plan::destructive`] for what counts: deletes and replaces, but also
/// scaling to zero, removing a secret or reviewer, loosening a branch protection).
pub fn destructive_addresses(plan: &Plan) -> Vec<Destructive> {
    crate::core::plan::destructive(plan)
}

/// Check that `plan` (parsed from `plan_bytes`) is approved, in the order the module
/// documentation gives. Local allowed_signers times (no `Z`) are read in the machine's
/// time zone, as ssh-keygen does; see [`verify_approval_in`].
pub fn verify_approval(
    plan_bytes: &[u8],
    plan: &Plan,
    evidence: &Evidence,
    allowed: Option<&AllowedSigners>,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Approval, ApprovalError> {
    verify_approval_in(
        plan_bytes,
        plan,
        evidence,
        allowed,
        settings,
        now,
        &chrono::Local,
    )
}

/// [`verify_approval`] with the time zone of local allowed_signers times given.
pub fn verify_approval_in<Tz: TimeZone>(
    plan_bytes: &[u8],
    plan: &Plan,
    evidence: &Evidence,
    allowed: Option<&AllowedSigners>,
    settings: &Settings,
    now: DateTime<Utc>,
    local: &Tz,
) -> Result<Approval, ApprovalError> {
    // 1. Format, and the plan value is the one these bytes hold.
    if plan.format != PLAN_FORMAT {
        return Err(ApprovalError::UnsupportedFormat {
            found: plan.format.clone(),
        });
    }
    match serde_json::from_slice::<Plan>(plan_bytes) {
        Ok(parsed) if &parsed == plan => {}
        _ => return Err(ApprovalError::PlanBytesMismatch),
    }
    // 2. Digest.
    let computed = plan_digest(plan);
    if computed != plan.digest {
        return Err(ApprovalError::DigestMismatch {
            recorded: plan.digest.clone(),
            computed,
        });
    }
    // 2b. The actions are what the (rendered) changes and facts derive.
    crate::core::plan::check_actions(plan).map_err(|m| ApprovalError::Tampered {
        action: m.action,
        what: m.what,
    })?;
    // 3. Expiry.
    let not_after = DateTime::parse_from_rfc3339(&plan.not_after)
        .map_err(|_| ApprovalError::InvalidExpiry {
            not_after: plan.not_after.clone(),
        })?
        .with_timezone(&Utc);
    if now > not_after {
        return Err(ApprovalError::Expired {
            not_after: plan.not_after.clone(),
            now: rfc3339(now),
        });
    }
    // 3b. The validity is within the cap: a signed plan is replayable until `not_after`.
    let max = settings.policy.max_ttl();
    let ttl = DateTime::parse_from_rfc3339(&plan.created_at)
        .ok()
        .and_then(|c| (not_after - c.with_timezone(&Utc)).to_std().ok());
    if ttl.is_none_or(|t| t > max) {
        return Err(ApprovalError::TtlOverCap {
            ttl: ttl.map_or_else(
                || format!("an unknown time (`created_at` `{}`)", plan.created_at),
                |t| humantime::format_duration(t).to_string(),
            ),
            max: humantime::format_duration(max).to_string(),
        });
    }
    // 4. The approval of the configured mode.
    let destructive = destructive_addresses(plan);
    let policy = needed_signers(
        settings,
        !destructive.is_empty(),
        plan.policy_warnings().len(),
    );
    let signers = match settings.approval {
        ApprovalMode::Signature => {
            if evidence.approve_digest.is_some() {
                return Err(ApprovalError::DigestModeRefused);
            }
            verify_signatures(plan_bytes, evidence, allowed, now, local)?
        }
        ApprovalMode::Digest => {
            let Some(given) = &evidence.approve_digest else {
                return Err(ApprovalError::DigestRequired {
                    digest: plan.digest.clone(),
                });
            };
            if !is_digest(given) {
                return Err(ApprovalError::MalformedDigest {
                    given: given.clone(),
                });
            }
            if given != &plan.digest {
                return Err(ApprovalError::DigestApprovalMismatch {
                    given: given.clone(),
                    plan: plan.digest.clone(),
                });
            }
            // Signatures only matter here for the destructive-plan policy.
            if policy.is_some() && !evidence.signatures.is_empty() {
                verify_signatures(plan_bytes, evidence, allowed, now, local)?
            } else {
                Vec::new()
            }
        }
    };
    // 5. The destructive-plan policy.
    if let Some(needed) = policy {
        let principals: BTreeSet<&str> = signers.iter().map(|s| s.principal.as_str()).collect();
        if principals.len() < needed as usize {
            let have = if principals.is_empty() {
                "none".to_string()
            } else {
                format!(
                    "{} ({})",
                    principals.len(),
                    principals
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(ApprovalError::NotEnoughSigners {
                needed,
                have,
                why: why_signers(&destructive, plan.policy_warnings()),
            });
        }
    }
    Ok(Approval {
        plan_digest: plan.digest.clone(),
        mode: settings.approval,
        signers,
        destructive: destructive.into_iter().map(|d| d.address).collect(),
    })
}

/// How many distinct principals must sign, when the plan needs more than the mode's own
/// approval: `[policy] destructive_signers` for a destructive plan (else one signature in
/// signature mode, none beyond `--approve` in digest mode), plus one per policy warning.
fn needed_signers(settings: &Settings, destructive: bool, warnings: usize) -> Option<u32> {
    let base = settings.policy.destructive_signers.filter(|_| destructive);
    if warnings == 0 {
        return base;
    }
    let floor = match settings.approval {
        ApprovalMode::Signature => 1,
        ApprovalMode::Digest => 0,
    };
    let warnings = u32::try_from(warnings).unwrap_or(u32::MAX);
    Some(base.unwrap_or(floor).saturating_add(warnings))
}

/// Why the plan needs its signers: `is destructive (…)`, `has N policy warnings (…)`, or
/// both.
fn why_signers(destructive: &[Destructive], warnings: &[String]) -> String {
    let mut parts = Vec::new();
    if !destructive.is_empty() {
        parts.push(format!(
            "is destructive ({})",
            destructive
                .iter()
                .map(|d| format!("{}: {}", d.address, d.reason))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if !warnings.is_empty() {
        parts.push(format!(
            "has {} policy warning{} ({}), each raising the signers needed by one",
            warnings.len(),
            if warnings.len() == 1 { "" } else { "s" },
            warnings
                .iter()
                .map(|w| format!("`{}`", crate::core::hint::escape_name(w)))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    parts.join(" and ")
}

/// Every signature must pass; one [`Signer`] per distinct key.
fn verify_signatures<Tz: TimeZone>(
    plan_bytes: &[u8],
    evidence: &Evidence,
    allowed: Option<&AllowedSigners>,
    now: DateTime<Utc>,
    local: &Tz,
) -> Result<Vec<Signer>, ApprovalError> {
    if evidence.signatures.is_empty() {
        return Err(ApprovalError::NoSignature {
            expected: "PLAN.sig".to_string(),
        });
    }
    let mut signers: Vec<Signer> = Vec::new();
    for file in &evidence.signatures {
        let signer = verify_one(plan_bytes, file, allowed, now, local)?;
        if !signers.iter().any(|s| s.fingerprint == signer.fingerprint) {
            signers.push(signer);
        }
    }
    Ok(signers)
}

fn verify_one<Tz: TimeZone>(
    plan_bytes: &[u8],
    file: &SignatureFile,
    allowed: Option<&AllowedSigners>,
    now: DateTime<Utc>,
    local: &Tz,
) -> Result<Signer, ApprovalError> {
    let envelope =
        Envelope::parse(&file.bytes).map_err(|reason| ApprovalError::MalformedSignature {
            file: file.name.clone(),
            reason,
        })?;
    if envelope.signature_type.starts_with("webauthn-") {
        return Err(ApprovalError::UnsupportedSignature {
            file: file.name.clone(),
            signature_type: envelope.signature_type.clone(),
            key_type: envelope.key_type.clone(),
            fingerprint: ssh_key::PublicKey::from_bytes(&envelope.public_key)
                .map(|k| sshsig::fingerprint(k.key_data()))
                .unwrap_or_else(|_| "(unreadable)".to_string()),
        });
    }
    if envelope.is_certificate() {
        return certs::verify_certificate(&envelope, plan_bytes, file, allowed, now, local);
    }
    let sig = sshsig::parse(&file.bytes).map_err(|e| ApprovalError::MalformedSignature {
        file: file.name.clone(),
        reason: e.to_string(),
    })?;
    let key = sig.public_key();
    let fingerprint = sshsig::fingerprint(key);
    if sig.namespace() != sshsig::NAMESPACE {
        return Err(ApprovalError::WrongNamespace {
            file: file.name.clone(),
            found: sig.namespace().to_string(),
            expected: sshsig::NAMESPACE.to_string(),
            fingerprint,
        });
    }
    if sshsig::verify(&sig, sshsig::NAMESPACE, plan_bytes).is_err() {
        return Err(ApprovalError::BadSignature {
            file: file.name.clone(),
            fingerprint,
        });
    }
    sshsig::require_user_presence(&sig, file, &fingerprint)?;
    let allowed = allowed.ok_or(ApprovalError::NoAllowedSigners)?;
    let key_type = sshsig::family(key).to_string();
    // The first line listing the key that accepts it wins; otherwise report why the first
    // line listing it refused.
    let mut first_refusal = None;
    for entry in allowed.entries_for(key) {
        match check_entry(entry, file, &fingerprint, now, local) {
            Ok(principal) => {
                return Ok(Signer {
                    principal,
                    fingerprint,
                    key_type,
                    signature_file: file.name.clone(),
                    allowed_signers_line: entry.line,
                });
            }
            Err(e) => {
                first_refusal.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_refusal {
        return Err(e);
    }
    if let Some(line) = allowed.skipped_line_of(key) {
        return Err(ApprovalError::KeyOnSkippedLine {
            file: file.name.clone(),
            fingerprint,
            line,
        });
    }
    Err(ApprovalError::UnlistedKey {
        file: file.name.clone(),
        fingerprint,
        key_type,
    })
}

/// Whether one allowed_signers line accepts the key now; its identity when it does.
fn check_entry<Tz: TimeZone>(
    entry: &allowed_signers::Entry,
    file: &SignatureFile,
    fingerprint: &str,
    now: DateTime<Utc>,
    local: &Tz,
) -> Result<String, ApprovalError> {
    let Some(identity) = entry.identity() else {
        return Err(ApprovalError::NoPrincipal {
            file: file.name.clone(),
            fingerprint: fingerprint.to_string(),
            principals: entry.principals.clone(),
            line: entry.line,
        });
    };
    check_options(entry, file, fingerprint, &identity, now, local)?;
    Ok(identity)
}

/// `sha256:` and 64 lowercase hex digits.
pub(super) fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approve::ALLOWED_SIGNERS_PATH;
    use chrono::{Duration, FixedOffset};
    use ssh_key::PrivateKey;
    use ssh_key::private::Ed25519Keypair;

    /// A deterministic key from a seed (no randomness, no committed private key file).
    fn key(seed: u8) -> PrivateKey {
        PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn plan(destructive: bool) -> (Vec<u8>, Plan) {
        let mut value = serde_json::json!({
            "format": PLAN_FORMAT, "tool_version": "0.1.0",
            "created_at": "2026-06-01T11:00:00Z", "not_after": "2026-06-02T11:00:00Z",
            "nonce": "n", "desired": {"digest": "sha256:00"}, "live": {},
            "changes": [], "actions": [],
            "summary": {"create": 0, "update": 0, "delete": 0, "replace": 0}, "digest": ""
        });
        if destructive {
            let p = "github.repo.o/r.branch.main.protection";
            value["changes"] = serde_json::json!([{
                "address": p, "action": "delete", "before": {"enforce_admins": true},
                "after": null, "diff": []
            }]);
            value["actions"] = serde_json::json!([{
                "id": format!("github.protection.delete:{p}"), "address": p,
                "kind": "github.protection.delete", "params": {}, "depends_on": []
            }]);
        }
        let mut plan: Plan = serde_json::from_value(value).unwrap();
        plan.digest = plan_digest(&plan);
        (serde_json::to_vec_pretty(&plan).unwrap(), plan)
    }

    fn sig(key: &PrivateKey, namespace: &str, bytes: &[u8], name: &str) -> SignatureFile {
        let armored = key
            .sign(namespace, sshsig::HASH, bytes)
            .unwrap()
            .to_pem(ssh_key::LineEnding::LF)
            .unwrap();
        SignatureFile {
            name: name.into(),
            bytes: armored.into_bytes(),
        }
    }

    fn allowed(lines: &[String]) -> AllowedSigners {
        AllowedSigners::parse(ALLOWED_SIGNERS_PATH, &lines.join("\n")).unwrap()
    }

    fn line(principal: &str, options: &str, key: &PrivateKey) -> String {
        format!(
            "{principal} {options} {}",
            key.public_key().to_openssh().unwrap()
        )
    }

    fn check(
        bytes: &[u8],
        plan: &Plan,
        sigs: Vec<SignatureFile>,
        allowed: &AllowedSigners,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<Approval, ApprovalError> {
        let evidence = Evidence {
            signatures: sigs,
            approve_digest: None,
        };
        verify_approval_in(bytes, plan, &evidence, Some(allowed), settings, now, &Utc)
    }

    #[test]
    fn approves_a_listed_signer_and_says_who() {
        let alice = key(1);
        let (bytes, plan) = plan(false);
        let list = allowed(&[line("alice@example.com,!eve@*", "", &alice)]);
        let approval = check(
            &bytes,
            &plan,
            vec![sig(&alice, sshsig::NAMESPACE, &bytes, "plan.json.sig")],
            &list,
            &Settings::default(),
            now(),
        )
        .unwrap();
        assert_eq!(approval.plan_digest, plan.digest);
        assert_eq!(approval.signers.len(), 1);
        assert_eq!(approval.signers[0].principal, "alice@example.com");
        assert_eq!(
            approval.signers[0].fingerprint,
            sshsig::fingerprint(alice.public_key().key_data())
        );
        assert!(approval.destructive.is_empty());
    }

    #[test]
    fn checks_run_in_order_digest_then_expiry_then_signature() {
        let alice = key(1);
        let mallory = key(2);
        let list = allowed(&[line("alice@example.com", "", &alice)]);
        let (bytes, mut plan) = plan(false);
        let unlisted = vec![sig(&mallory, "other@v1", &bytes, "s")];
        let settings = Settings::default();
        // Bad digest, expired and a bad signature: the digest is reported.
        plan.digest = format!("sha256:{}", "0".repeat(64));
        let edited = serde_json::to_vec(&plan).unwrap();
        let late = now() + Duration::days(2);
        let e = check(&edited, &plan, unlisted.clone(), &list, &settings, late).unwrap_err();
        assert!(matches!(e, ApprovalError::DigestMismatch { .. }), "{e}");
        // Expired and a bad signature: the expiry.
        plan.digest = plan_digest(&plan);
        let e = check(&bytes, &plan, unlisted.clone(), &list, &settings, late).unwrap_err();
        assert!(matches!(e, ApprovalError::Expired { .. }), "{e}");
        // At `not_after` exactly the plan is still valid.
        let edge = DateTime::parse_from_rfc3339(&plan.not_after)
            .unwrap()
            .with_timezone(&Utc);
        let e = check(&bytes, &plan, unlisted.clone(), &list, &settings, edge).unwrap_err();
        assert!(matches!(e, ApprovalError::WrongNamespace { .. }), "{e}");
        // Wrong namespace is reported before the key is looked up.
        let e = check(&bytes, &plan, unlisted, &list, &settings, now()).unwrap_err();
        assert!(matches!(e, ApprovalError::WrongNamespace { .. }), "{e}");
        // The plan value must be the one the bytes hold.
        let mut other = plan.clone();
        other.nonce = "m".into();
        other.digest = plan_digest(&other);
        let good = vec![sig(&alice, sshsig::NAMESPACE, &bytes, "s")];
        let e = check(&bytes, &other, good, &list, &settings, now()).unwrap_err();
        assert_eq!(e, ApprovalError::PlanBytesMismatch);
    }

    #[test]
    fn every_given_signature_must_pass() {
        let alice = key(1);
        let mallory = key(2);
        let list = allowed(&[line("alice@example.com", "", &alice)]);
        let (bytes, plan) = plan(false);
        let e = check(
            &bytes,
            &plan,
            vec![
                sig(&alice, sshsig::NAMESPACE, &bytes, "a"),
                sig(&mallory, sshsig::NAMESPACE, &bytes, "m"),
            ],
            &list,
            &Settings::default(),
            now(),
        )
        .unwrap_err();
        assert!(
            matches!(&e, ApprovalError::UnlistedKey { file, .. } if file == "m"),
            "{e}"
        );
    }

    #[test]
    fn local_validity_times_use_the_given_zone() {
        let alice = key(1);
        let (bytes, plan) = plan(false);
        // valid-before 13:30 local; now is 12:00 UTC.
        let list = allowed(&[line(
            "alice@example.com",
            "valid-before=\"202606011330\"",
            &alice,
        )]);
        let evidence = Evidence {
            signatures: vec![sig(&alice, sshsig::NAMESPACE, &bytes, "s")],
            approve_digest: None,
        };
        let at = |zone: FixedOffset| {
            verify_approval_in(
                &bytes,
                &plan,
                &evidence,
                Some(&list),
                &Settings::default(),
                now(),
                &zone,
            )
        };
        // UTC+1: 13:30 local is 12:30 UTC, still valid.
        at(FixedOffset::east_opt(3600).unwrap()).unwrap();
        // UTC+2: 13:30 local is 11:30 UTC, expired.
        let e = at(FixedOffset::east_opt(7200).unwrap()).unwrap_err();
        assert!(matches!(e, ApprovalError::KeyExpired { .. }), "{e}");
    }

    #[test]
    fn the_first_line_that_accepts_the_key_wins() {
        let alice = key(1);
        let (bytes, plan) = plan(false);
        let list = allowed(&[
            line("alice@git", "namespaces=\"git\"", &alice),
            line("alice@example.com", "namespaces=\"sophia-*\"", &alice),
        ]);
        let approval = check(
            &bytes,
            &plan,
            vec![sig(&alice, sshsig::NAMESPACE, &bytes, "s")],
            &list,
            &Settings::default(),
            now(),
        )
        .unwrap();
        assert_eq!(approval.signers[0].principal, "alice@example.com");
        assert_eq!(approval.signers[0].allowed_signers_line, 2);
    }

    #[test]
    fn destructive_policy_counts_distinct_principals() {
        let (alice, bob) = (key(1), key(3));
        let (bytes, plan) = plan(true);
        assert_eq!(
            destructive_addresses(&plan),
            vec![Destructive {
                address: "github.repo.o/r.branch.main.protection".into(),
                reason: "deleted".into()
            }]
        );
        let list = allowed(&[
            line("alice@example.com", "", &alice),
            line("bob@example.com", "", &bob),
        ]);
        let settings = Settings::parse("t", "[policy]\ndestructive_signers = 2").unwrap();
        let a = sig(&alice, sshsig::NAMESPACE, &bytes, "a");
        let b = sig(&bob, sshsig::NAMESPACE, &bytes, "b");
        let e = check(
            &bytes,
            &plan,
            vec![a.clone(), a.clone()],
            &list,
            &settings,
            now(),
        )
        .unwrap_err();
        assert!(
            matches!(e, ApprovalError::NotEnoughSigners { needed: 2, .. }),
            "{e}"
        );
        let ok = check(&bytes, &plan, vec![a, b], &list, &settings, now()).unwrap();
        assert_eq!(ok.signers.len(), 2);
        assert_eq!(
            ok.destructive,
            vec!["github.repo.o/r.branch.main.protection"]
        );
    }

    #[test]
    fn each_policy_warning_needs_one_more_signer_in_either_mode() {
        let signature = Settings::default();
        let digest = Settings::parse("t", "approval = \"digest\"").unwrap();
        let two = Settings::parse("t", "[policy]\ndestructive_signers = 2").unwrap();
        // No warning: only the destructive-plan policy, as before.
        assert_eq!(needed_signers(&signature, true, 0), None);
        assert_eq!(needed_signers(&two, true, 0), Some(2));
        assert_eq!(needed_signers(&two, false, 0), None);
        // Warnings: on top of the mode's own approval, or of the destructive count.
        assert_eq!(needed_signers(&signature, false, 1), Some(2));
        assert_eq!(needed_signers(&signature, false, 3), Some(4));
        assert_eq!(needed_signers(&digest, false, 1), Some(1));
        assert_eq!(needed_signers(&two, true, 1), Some(3));
        assert_eq!(needed_signers(&two, false, 1), Some(2));
    }

    #[test]
    fn digests_are_recognized() {
        assert!(is_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!is_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!is_digest(&format!("sha256:{}", "a".repeat(63))));
        assert!(!is_digest(&"a".repeat(64)));
    }
}
