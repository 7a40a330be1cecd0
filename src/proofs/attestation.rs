//! The attestation of an apply: a DSSE envelope (<https://github.com/secure-systems-lab/dsse>)
//! over an in-toto Statement v1 whose subjects are the plan file and every image the plan
//! deploys by digest, with the predicate type
//! `https://in-toto.io/attestation/deployment/v1`, signed with an OpenSSH ed25519 key.
//!
//! The signature is over DSSE's pre-authentication encoding ([`pae`]) of the payload type
//! and the payload, so any verifier that follows the DSSE spec checks it with the public key
//! alone. The key's text is an argument: it never leaves this module, never appears in an
//! error, and the envelope carries only its fingerprint (`keyid`).

use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use ssh_key::{HashAlg, PrivateKey, PublicKey};

use crate::core::digest::sha256_bytes;
use crate::core::plan::{ActionKind, Plan};

/// DSSE's payload type for an in-toto Statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The deployment predicate.
pub const PREDICATE_TYPE: &str = "https://in-toto.io/attestation/deployment/v1";

/// A DSSE envelope, as the spec's JSON serialization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Envelope {
    /// Base64 of the statement's bytes.
    pub payload: String,
    pub payload_type: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// The signing key's `SHA256:` fingerprint.
    pub keyid: String,
    /// Base64 of the raw ed25519 signature over [`pae`].
    pub sig: String,
}

/// DSSE's pre-authentication encoding: `DSSEv1 <len> <type> <len> <body>`, lengths in
/// ASCII decimal bytes.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The images the plan deploys pinned by digest (`…@sha256:<hex>`), each once, sorted.
pub fn deployed_images(plan: &Plan) -> Vec<String> {
    let mut images: Vec<String> = plan
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::FlyMachinesUpdate)
        .filter_map(|a| a.params.get("image").and_then(Value::as_str))
        .filter(|i| i.contains("@sha256:"))
        .map(str::to_string)
        .collect();
    images.sort();
    images.dedup();
    images
}

/// The in-toto Statement of an apply of `plan` (whose file, named `plan_name`, is
/// `plan_bytes`): subjects the plan file and each image deployed by digest.
pub fn statement(plan: &Plan, plan_name: &str, plan_bytes: &[u8], predicate: Value) -> Value {
    let hex = |d: &str| d.trim_start_matches("sha256:").to_string();
    let mut subjects = vec![json!({
        "name": plan_name,
        "digest": { "sha256": hex(&sha256_bytes(plan_bytes)) },
    })];
    for image in deployed_images(plan) {
        let (name, digest) = image
            .split_once("@sha256:")
            .expect("filtered on `@sha256:`");
        subjects.push(json!({ "name": name, "digest": { "sha256": digest } }));
    }
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    })
}

/// Check that `key_text` is a key [`sign`] can use, before an apply makes its first call.
pub fn check_key(key_text: &str) -> anyhow::Result<()> {
    signing_key(key_text).map(|_| ())
}

/// The key pair of `key_text`: an unencrypted OpenSSH ed25519 private key.
fn signing_key(key_text: &str) -> anyhow::Result<PrivateKey> {
    // The key's text stays out of every error: parse errors name only what is wrong.
    let key = PrivateKey::from_openssh(key_text)
        .map_err(|e| anyhow::anyhow!("the attestation key is not an OpenSSH private key: {e}"))?;
    ensure!(
        !key.is_encrypted(),
        "the attestation key is encrypted; sophia needs it unencrypted (from a secret)"
    );
    ensure!(
        key.key_data().ed25519().is_some(),
        "the attestation key is {}, not ed25519",
        key.algorithm().as_str()
    );
    Ok(key)
}

/// Sign `statement` with the OpenSSH ed25519 private key `key_text` (unencrypted).
pub fn sign(statement: &Value, key_text: &str) -> anyhow::Result<Envelope> {
    let key = signing_key(key_text)?;
    let pair = key.key_data().ed25519().expect("checked by signing_key");
    let payload = serde_json::to_vec(statement).context("serializing the statement")?;
    let signing = ed25519_dalek::SigningKey::from_bytes(&pair.private.to_bytes());
    use ed25519_dalek::Signer as _;
    let sig = signing.sign(&pae(PAYLOAD_TYPE, &payload));
    Ok(Envelope {
        payload: B64.encode(&payload),
        payload_type: PAYLOAD_TYPE.into(),
        signatures: vec![EnvelopeSignature {
            keyid: key.public_key().fingerprint(HashAlg::Sha256).to_string(),
            sig: B64.encode(sig.to_bytes()),
        }],
    })
}

/// Check an envelope's text against `public_key` (an OpenSSH ed25519 public key): a
/// signature by it over the PAE, an in-toto Statement v1 with the deployment predicate.
/// Returns the statement.
pub fn verify(envelope_text: &str, public_key: &PublicKey) -> anyhow::Result<Value> {
    let envelope: Envelope =
        serde_json::from_str(envelope_text).context("not a DSSE envelope (JSON)")?;
    ensure!(
        envelope.payload_type == PAYLOAD_TYPE,
        "payloadType `{}`, expected `{PAYLOAD_TYPE}`",
        envelope.payload_type
    );
    let payload = B64
        .decode(&envelope.payload)
        .context("the payload is not base64")?;
    let Some(key) = public_key.key_data().ed25519() else {
        bail!("the attestation public key is not ed25519");
    };
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&key.0)
        .context("the attestation public key is not a valid ed25519 point")?;
    let message = pae(&envelope.payload_type, &payload);
    let good = envelope.signatures.iter().any(|s| {
        B64.decode(&s.sig)
            .ok()
            .and_then(|b| ed25519_dalek::Signature::from_slice(&b).ok())
            .is_some_and(|sig| verifying.verify_strict(&message, &sig).is_ok())
    });
    ensure!(
        good,
        "no signature by {} verifies",
        public_key.fingerprint(HashAlg::Sha256)
    );
    let statement: Value = serde_json::from_slice(&payload).context("the payload is not JSON")?;
    ensure!(
        statement["_type"] == STATEMENT_TYPE && statement["predicateType"] == PREDICATE_TYPE,
        "the payload is not an in-toto Statement v1 with predicate `{PREDICATE_TYPE}`"
    );
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_the_specs_encoding() {
        // The DSSE spec's example: PAE("http://example.com/HelloWorld", "hello world").
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }
}
