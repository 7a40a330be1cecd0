//! Signatures made with an SSH user certificate, accepted through a `cert-authority` line of
//! allowed_signers, as `ssh-keygen -Y verify -I PRINCIPAL` accepts them
//! (`sshsig.c: check_allowed_keys_line`, `sshkey.c: sshkey_cert_check_authority`):
//!
//! 1. the SSHSIG signature verifies with the certificate's key;
//! 2. a `cert-authority` line lists the key that signed the certificate, and that CA
//!    signature verifies;
//! 3. it is a user certificate, valid now (`valid_after ≤ now < valid_before`), with at
//!    least one principal;
//! 4. the principals: the certificate's principals that the line's pattern list accepts
//!    (`match_pattern_list` answers positive, negations included) — exactly the `-I`
//!    values ssh-keygen would accept; none refuses the line;
//! 5. the line's `namespaces=` and `valid-after`/`valid-before`, as for a plain key.
//!
//! The principals of a line that accepts the certificate are the ones the approval records.
//!
//! The certificate is read here, field by field (`PROTOCOL.certkeys`), rather than with
//! `ssh_key::Certificate`: that one refuses `valid_before = 2^64 - 1`, the "forever" that
//! `ssh-keygen -s` writes by default.

use chrono::{DateTime, TimeZone, Utc};
use rsa::signature::Verifier as _;
use ssh_key::public::KeyData;
use ssh_key::{HashAlg, PublicKey, SshSig};

use super::envelope::Envelope;
use super::window::{check_options, rfc3339};
use super::{AllowedSigners, ApprovalError, SignatureFile, Signer, allowed_signers, sshsig};

/// Verify a signature whose key is a certificate, against the `cert-authority` lines.
pub(super) fn verify_certificate<Tz: TimeZone>(
    envelope: &Envelope,
    plan_bytes: &[u8],
    file: &SignatureFile,
    allowed: Option<&AllowedSigners>,
    now: DateTime<Utc>,
    local: &Tz,
) -> Result<Signer, ApprovalError> {
    let malformed = |reason: String| ApprovalError::MalformedSignature {
        file: file.name.clone(),
        reason,
    };
    let cert = Cert::parse(&envelope.public_key)
        .map_err(|e| malformed(format!("its `{}` certificate {e}", envelope.key_type)))?;
    let fingerprint = sshsig::fingerprint(&cert.key);
    if envelope.namespace != sshsig::NAMESPACE {
        return Err(ApprovalError::WrongNamespace {
            file: file.name.clone(),
            found: envelope.namespace.clone(),
            expected: sshsig::NAMESPACE.to_string(),
            fingerprint,
        });
    }
    let bad = || ApprovalError::BadSignature {
        file: file.name.clone(),
        fingerprint: fingerprint.clone(),
    };
    let hash = HashAlg::new(&envelope.hash_alg).map_err(|_| bad())?;
    let signature =
        ssh_key::Signature::try_from(envelope.signature.as_slice()).map_err(|_| bad())?;
    let sig =
        SshSig::new(cert.key.clone(), sshsig::NAMESPACE, hash, signature).map_err(|_| bad())?;
    sshsig::verify(&sig, sshsig::NAMESPACE, plan_bytes).map_err(|_| bad())?;
    sshsig::require_user_presence(&sig, file, &fingerprint)?;
    let allowed = allowed.ok_or(ApprovalError::NoAllowedSigners)?;
    let key_type = format!("{}-CERT", sshsig::family(&cert.key));
    let mut first_refusal = None;
    for entry in allowed.authorities_for(&cert.ca) {
        match check_authority(&cert, entry, file, &fingerprint, now, local) {
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
    Err(
        first_refusal.unwrap_or_else(|| ApprovalError::UnlistedAuthority {
            file: file.name.clone(),
            fingerprint,
            ca: sshsig::fingerprint(&cert.ca),
            key_id: cert.key_id.as_str().to_string(),
        }),
    )
}

/// Whether one `cert-authority` line accepts the certificate now; the principals it accepts.
fn check_authority<Tz: TimeZone>(
    cert: &Cert,
    entry: &allowed_signers::Entry,
    file: &SignatureFile,
    fingerprint: &str,
    now: DateTime<Utc>,
    local: &Tz,
) -> Result<String, ApprovalError> {
    let refuse = |reason: String| ApprovalError::CertificateRefused {
        file: file.name.clone(),
        fingerprint: fingerprint.to_string(),
        key_id: cert.key_id.as_str().to_string(),
        line: entry.line,
        reason,
    };
    if !cert.ca_signature_verifies() {
        return Err(refuse(
            "its CA signature does not verify (the certificate was altered)".to_string(),
        ));
    }
    if cert.cert_type != USER_CERT {
        return Err(refuse(
            "it is a host certificate, not a user certificate".to_string(),
        ));
    }
    let now_s = u64::try_from(now.timestamp()).unwrap_or(0);
    let at = |t: u64| {
        i64::try_from(t)
            .ok()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
            .map_or_else(|| "forever".to_string(), rfc3339)
    };
    if now_s < cert.valid_after {
        return Err(refuse(format!(
            "it is not valid before {} (it is now {})",
            at(cert.valid_after),
            rfc3339(now)
        )));
    }
    if now_s >= cert.valid_before {
        return Err(refuse(format!(
            "it expired at {} (it is now {})",
            at(cert.valid_before),
            rfc3339(now)
        )));
    }
    if cert.principals.as_slice().is_empty() {
        return Err(refuse(
            "it lists no principal (ssh-keygen refuses such a certificate too)".to_string(),
        ));
    }
    let accepted: Vec<&str> = cert
        .principals
        .iter()
        .filter(|p| {
            allowed_signers::match_pattern_list(p, &entry.principals)
                == allowed_signers::PatternMatch::Positive
        })
        .map(String::as_str)
        .collect();
    if accepted.is_empty() {
        return Err(refuse(format!(
            "none of its principals ({}) is accepted by the line's `{}`",
            cert.principals.as_slice().join(", "),
            entry.principals
        )));
    }
    let identity = accepted.join(",");
    check_options(entry, file, fingerprint, &identity, now, local)?;
    Ok(identity)
}

/// `SSH2_CERT_TYPE_USER`.
const USER_CERT: u32 = 1;

/// An OpenSSH certificate, as `PROTOCOL.certkeys` lays it out.
struct Cert {
    /// The certified key, as a plain key.
    key: KeyData,
    cert_type: u32,
    key_id: String,
    principals: Vec<String>,
    valid_after: u64,
    valid_before: u64,
    /// The CA key that signed it.
    ca: KeyData,
    /// The bytes the CA signed (everything before the signature) and the signature.
    signed: Vec<u8>,
    signature: Vec<u8>,
}

/// A reader of SSH wire-format fields.
struct Wire<'a>(&'a [u8]);

impl<'a> Wire<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("is truncated".to_string());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    fn string(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn text(&mut self) -> Result<String, String> {
        String::from_utf8(self.string()?.to_vec())
            .map_err(|_| "has a name that is not UTF-8".into())
    }
}

impl Cert {
    fn parse(blob: &[u8]) -> Result<Cert, String> {
        let mut wire = Wire(blob);
        let cert_type_name = wire.text()?;
        let plain = cert_type_name
            .strip_suffix("-cert-v01@openssh.com")
            .map(|base| match base {
                "sk-ssh-ed25519" | "sk-ecdsa-sha2-nistp256" => format!("{base}@openssh.com"),
                _ => base.to_string(),
            })
            .ok_or("is not a v01 certificate")?;
        // The public fields of each key type (all length-prefixed), as in its plain form.
        let fields = match plain.as_str() {
            "ssh-ed25519" => 1,
            "ssh-rsa" | "sk-ssh-ed25519@openssh.com" => 2,
            p if p.starts_with("ecdsa-sha2-") => 2,
            "sk-ecdsa-sha2-nistp256@openssh.com" => 3,
            _ => {
                return Err(format!(
                    "certifies a `{plain}` key, which sophia does not verify"
                ));
            }
        };
        wire.string()?; // nonce
        let mut key_blob = Vec::new();
        put_string(&mut key_blob, plain.as_bytes());
        for _ in 0..fields {
            put_string(&mut key_blob, wire.string()?);
        }
        let key = PublicKey::from_bytes(&key_blob)
            .map_err(|e| format!("holds an invalid key: {e}"))?
            .key_data()
            .clone();
        wire.u64()?; // serial
        let cert_type = wire.u32()?;
        let key_id = wire.text()?;
        let mut packed = Wire(wire.string()?);
        let mut principals = Vec::new();
        while !packed.0.is_empty() {
            principals.push(packed.text()?);
        }
        let valid_after = wire.u64()?;
        let valid_before = wire.u64()?;
        wire.string()?; // critical options (ssh-keygen -Y verify ignores them)
        wire.string()?; // extensions
        wire.string()?; // reserved
        let ca = PublicKey::from_bytes(wire.string()?)
            .map_err(|e| format!("has an invalid CA key: {e}"))?
            .key_data()
            .clone();
        let signed = blob[..blob.len() - wire.0.len()].to_vec();
        let signature = wire.string()?.to_vec();
        if !wire.0.is_empty() {
            return Err("has trailing data".to_string());
        }
        Ok(Cert {
            key,
            cert_type,
            key_id,
            principals,
            valid_after,
            valid_before,
            ca,
            signed,
            signature,
        })
    }

    /// Whether the CA's signature over the certificate verifies with the CA key it names
    /// (whether that CA is trusted is the allowed_signers line's business).
    fn ca_signature_verifies(&self) -> bool {
        ssh_key::Signature::try_from(self.signature.as_slice())
            .is_ok_and(|sig| self.ca.verify(&self.signed, &sig).is_ok())
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}
