//! SSH signatures in OpenSSH's SSHSIG format (`PROTOCOL.sshsig`), with the `ssh-key` crate.
//!
//! [`sign`] writes byte for byte what `ssh-keygen -Y sign -n sophia-plan@v1 -f KEY FILE`
//! writes: SHA-512 message hash, the `-----BEGIN SSH SIGNATURE-----` armor, base64 in
//! 70-column lines, `\n` line endings and a final newline. Ed25519 and RSA
//! (`rsa-sha2-512`, PKCS#1 v1.5) signatures are deterministic, so the files are identical to
//! ssh-keygen's; ECDSA signatures differ (ssh-keygen draws a random nonce) but verify both ways.
//!
//! Encrypted private keys are refused with a clear error: sophia does not prompt for
//! passphrases (it runs in CI and must never hold one in an environment variable). Sign with
//! `ssh-keygen -Y sign`, which asks for the passphrase or uses the SSH agent; the resulting
//! file is the same. Key files are read by [`super::keyfile`].

use ssh_key::private::{KeypairData, RsaKeypair};
use ssh_key::public::KeyData;
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

/// The SSHSIG namespace of sophia plans. A signature made for another purpose (git commits
/// use `git`, files `file`) can never be replayed as a plan approval, and a plan signature
/// can never be used elsewhere: the namespace is inside the signed data.
pub const NAMESPACE: &str = "sophia-plan@v1";

/// The message hash ssh-keygen uses by default (and the one we write): SHA-512.
pub const HASH: HashAlg = HashAlg::Sha512;

/// Why a key cannot sign.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(
        "`{path}` is an OpenSSH private key encrypted with a passphrase ({cipher}); sophia does not read passphrases"
    )]
    Encrypted { path: String, cipher: String },
    #[error("`{path}` is {format}; sophia reads OpenSSH-format private keys only")]
    OtherFormat { path: String, format: String },
    #[error("`{path}` is a public key; `--key` takes the private key")]
    PublicKeyGiven { path: String, stem: String },
    #[error("`{path}` is not an OpenSSH private key: {reason}")]
    NotAKey { path: String, reason: String },
    #[error("`{path}` holds a `{algorithm}` key, which sophia cannot sign with")]
    Unsupported { path: String, algorithm: String },
    #[error("signing with `{path}` failed: {reason}")]
    Crypto { path: String, reason: String },
}

/// Sign `message` (the exact plan file bytes) in the sophia namespace; the armored text
/// ssh-keygen writes.
pub fn sign(key: &PrivateKey, path: &str, message: &[u8]) -> Result<String, SignError> {
    if !matches!(
        family(key.public_key().key_data()),
        "ED25519" | "RSA" | "ECDSA"
    ) {
        return Err(SignError::Unsupported {
            path: path.to_string(),
            algorithm: key.algorithm().as_str().to_string(),
        });
    }
    let crypto = |e: ssh_key::Error| SignError::Crypto {
        path: path.to_string(),
        reason: e.to_string(),
    };
    let sig = match key.key_data() {
        KeypairData::Rsa(rsa) => sign_rsa(rsa, message).map_err(crypto)?,
        _ => key.sign(NAMESPACE, HASH, message).map_err(crypto)?,
    };
    let mut armored = sig.to_pem(LineEnding::LF).map_err(crypto)?;
    if !armored.ends_with('\n') {
        armored.push('\n');
    }
    Ok(armored)
}

/// RSA signing, done here because `ssh-key` 0.6.7 builds the RSA private key from the
/// primes `p, p` instead of `p, q`, which `rsa` 0.9.10 rejects. `rsa-sha2-512` with
/// PKCS#1 v1.5, over the same SSHSIG signed data, exactly as ssh-keygen signs.
fn sign_rsa(key: &RsaKeypair, message: &[u8]) -> Result<SshSig, ssh_key::Error> {
    use rsa::signature::{SignatureEncoding as _, Signer as _};
    let int = |m: &ssh_key::Mpint| {
        m.as_positive_bytes()
            .map(rsa::BigUint::from_bytes_be)
            .ok_or(ssh_key::Error::Crypto)
    };
    let private = rsa::RsaPrivateKey::from_components(
        int(&key.public.n)?,
        int(&key.public.e)?,
        int(&key.private.d)?,
        vec![int(&key.private.p)?, int(&key.private.q)?],
    )
    .map_err(|_| ssh_key::Error::Crypto)?;
    let signing = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha512>::new(private);
    let data = SshSig::signed_data(NAMESPACE, HASH, message)?;
    let raw = signing
        .try_sign(&data)
        .map_err(|_| ssh_key::Error::Crypto)?
        .to_vec();
    let signature = ssh_key::Signature::new(
        Algorithm::Rsa {
            hash: Some(HashAlg::Sha512),
        },
        raw,
    )?;
    SshSig::new(KeyData::Rsa(key.public.clone()), NAMESPACE, HASH, signature)
}

/// Parse an armored signature file.
pub fn parse(armored: &[u8]) -> Result<SshSig, ssh_key::Error> {
    // ssh-keygen accepts surrounding whitespace and CRLF line endings; so do we.
    let text = String::from_utf8_lossy(armored).replace("\r\n", "\n");
    SshSig::from_pem(text.trim())
}

/// `SHA256:<base64>`, as ssh-keygen prints fingerprints.
pub fn fingerprint(key: &KeyData) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// `ED25519`, `RSA`, `ECDSA`, `ED25519-SK`, `ECDSA-SK`: the key family, as ssh-keygen names
/// it in messages (`sshkey_type`).
pub fn family(key: &KeyData) -> &'static str {
    match key.algorithm() {
        Algorithm::Ed25519 => "ED25519",
        Algorithm::Rsa { .. } => "RSA",
        Algorithm::Ecdsa { .. } => "ECDSA",
        Algorithm::SkEd25519 => "ED25519-SK",
        Algorithm::SkEcdsaSha2NistP256 => "ECDSA-SK",
        _ => "unsupported",
    }
}

/// A security-key signature must have been made with the key touched (the user-presence
/// flag). ssh-keygen `-Y verify` does not check the flag (sshd does, unless
/// `no-touch-required`); sophia requires it: an approval is a person's act.
pub fn require_user_presence(
    sig: &SshSig,
    file: &super::SignatureFile,
    fingerprint: &str,
) -> Result<(), super::ApprovalError> {
    let sk = matches!(
        sig.public_key().algorithm(),
        Algorithm::SkEd25519 | Algorithm::SkEcdsaSha2NistP256
    );
    if !sk {
        return Ok(());
    }
    let flags = super::envelope::sk_flags(sig.signature()).unwrap_or(0);
    if flags & super::envelope::SK_USER_PRESENCE == 0 {
        return Err(super::ApprovalError::NoUserPresence {
            file: file.name.clone(),
            fingerprint: fingerprint.to_string(),
            flags,
        });
    }
    Ok(())
}

/// Check `sig` over `message` with the key it carries, in namespace `namespace`. Whether
/// that key is trusted is the caller's business (allowed_signers).
pub fn verify(sig: &SshSig, namespace: &str, message: &[u8]) -> Result<(), ssh_key::Error> {
    PublicKey::new(sig.public_key().clone(), "").verify(namespace, message, sig)
}

impl crate::core::hint::Hint for SignError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            SignError::Encrypted { path, .. } => format!(
                "sign with `ssh-keygen -Y sign -n {NAMESPACE} -f {path} PLAN` (it prompts or uses your agent) — the signature file is the same"
            ),
            SignError::PublicKeyGiven { stem, .. } => {
                format!("drop the `.pub` suffix: `--key {stem}`")
            }
            SignError::OtherFormat { path, format } if format.starts_with("a PuTTY") => format!(
                "export it in OpenSSH format with `puttygen {path} -O private-openssh-new -o {path}.openssh`, or sign with `ssh-keygen -Y sign -n {NAMESPACE} -f KEY PLAN`"
            ),
            SignError::OtherFormat { path, format } if format.starts_with("an RFC 4716") => format!(
                "import it with `ssh-keygen -i -m RFC4716 -f {path} > {path}.openssh` (unencrypted keys only), or sign with `ssh-keygen -Y sign -n {NAMESPACE} -f {path} PLAN`"
            ),
            SignError::OtherFormat { path, .. } => format!(
                "rewrite it in the OpenSSH format, in place, with `ssh-keygen -p -f {path}` (it asks for the current passphrase and a new one; the key itself does not change), or sign with `ssh-keygen -Y sign -n {NAMESPACE} -f {path} PLAN`"
            ),
            SignError::NotAKey { .. } => {
                "`--key` takes an OpenSSH private key file, as `ssh-keygen -t ed25519` writes it (`~/.ssh/id_ed25519`)".to_string()
            }
            SignError::Unsupported { path, algorithm } if algorithm.starts_with("sk-") => format!(
                "a security key signs through its hardware: `ssh-keygen -Y sign -n {NAMESPACE} -f {path} PLAN` (touch the key when it blinks) writes a signature sophia verifies"
            ),
            SignError::Unsupported { .. } => {
                "use an ed25519, RSA or ECDSA key (`ssh-keygen -t ed25519`)".to_string()
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The signature `ssh-keygen -Y sign -n sophia-plan@v1` (OpenSSH 9.2) wrote for the message
    // "hello\n" with a throwaway ed25519 key. (Signing byte for byte like ssh-keygen is tested
    // in tests/it/approve.rs with keys generated at run time: no private key is committed.)
    const SSH_KEYGEN_SIG: &str = "-----BEGIN SSH SIGNATURE-----\n\
U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgh3RJ7rW5rd3jWs2zZ2706txHvl\n\
Zo3asI3inFBqWAtlAAAAAOc29waGlhLXBsYW5AdjEAAAAAAAAABnNoYTUxMgAAAFMAAAAL\n\
c3NoLWVkMjU1MTkAAABAArsNfZZq1kV2lHdWP2AEfM9aQ/PYi8VBowx7vTRaL1VFWIEjVN\n\
zG9KdG3T/tEjlU8vhR4xTuj5qUH6wr/YI0DA==\n\
-----END SSH SIGNATURE-----\n\
";

    #[test]
    fn verifies_and_the_namespace_is_bound() {
        let sig = parse(SSH_KEYGEN_SIG.as_bytes()).unwrap();
        assert_eq!(sig.namespace(), NAMESPACE);
        assert_eq!(sig.hash_alg(), HashAlg::Sha512);
        assert_eq!(family(sig.public_key()), "ED25519");
        assert_eq!(
            fingerprint(sig.public_key()),
            "SHA256:yFncasepZFisjFGQUKslh+e80+t6TxNTlV8voPBB/20"
        );
        verify(&sig, NAMESPACE, b"hello\n").unwrap();
        assert!(verify(&sig, NAMESPACE, b"hello!\n").is_err());
        assert!(verify(&sig, "git", b"hello\n").is_err());
        let crlf = SSH_KEYGEN_SIG.replace('\n', "\r\n");
        verify(&parse(crlf.as_bytes()).unwrap(), NAMESPACE, b"hello\n").unwrap();
    }
}
