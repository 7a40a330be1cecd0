//! The checks of an allowed_signers line that do not depend on how the signer was matched
//! (a plain key or a certificate): `namespaces=` and the `valid-after`/`valid-before` window.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

use super::{ApprovalError, SignatureFile, allowed_signers, sshsig};

/// The line's `namespaces=` and `valid-after`/`valid-before` options, for a key (or a
/// certificate) of `identity`.
pub(super) fn check_options<Tz: TimeZone>(
    entry: &allowed_signers::Entry,
    file: &SignatureFile,
    fingerprint: &str,
    identity: &str,
    now: DateTime<Utc>,
    local: &Tz,
) -> Result<(), ApprovalError> {
    let identity = identity.to_string();
    if !entry.allows_namespace(sshsig::NAMESPACE) {
        return Err(ApprovalError::NamespaceNotAllowed {
            file: file.name.clone(),
            fingerprint: fingerprint.to_string(),
            principal: identity.clone(),
            line: entry.line,
            namespace: sshsig::NAMESPACE.to_string(),
            allowed: entry.namespaces.clone().unwrap_or_default(),
        });
    }
    // ssh-keygen compares whole seconds, inclusive at both ends.
    let now_s = now.timestamp();
    let resolve = |t: &allowed_signers::Timestamp| {
        t.resolve(local)
            .ok_or_else(|| ApprovalError::NonexistentLocalTime {
                time: t.text.clone(),
                line: entry.line,
            })
    };
    if let Some(after) = &entry.valid_after {
        if now_s < resolve(after)?.timestamp() {
            return Err(ApprovalError::KeyNotYetValid {
                file: file.name.clone(),
                fingerprint: fingerprint.to_string(),
                principal: identity.clone(),
                line: entry.line,
                valid_after: after.to_string(),
                now: rfc3339(now),
            });
        }
    }
    if let Some(before) = &entry.valid_before {
        if now_s > resolve(before)?.timestamp() {
            return Err(ApprovalError::KeyExpired {
                file: file.name.clone(),
                fingerprint: fingerprint.to_string(),
                principal: identity.clone(),
                line: entry.line,
                valid_before: before.to_string(),
                now: rfc3339(now),
            });
        }
    }
    Ok(())
}

/// A time as messages show it (RFC 3339, whole seconds, `Z`).
pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
