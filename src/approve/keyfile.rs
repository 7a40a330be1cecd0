//! Reading the approver's private key file for `sophia sign`: the OpenSSH format
//! (`-----BEGIN OPENSSH PRIVATE KEY-----`), unencrypted. Every other format is named in the
//! refusal with the command that converts it.
//!
//! **Short ECDSA scalars.** ssh-keygen writes the private scalar of an ECDSA key as an
//! mpint, without leading zero bytes: a P-521 scalar shorter than 66 bytes (about 1 key in
//! 4, since its top byte is 0 or 1) or a P-256/P-384 scalar with a zero top byte (1 key in
//! 256… 512) is shorter than the field. `ssh-key` 0.6.7 reads exactly the field size and
//! fails ("length invalid"). [`normalize_ecdsa`] left-pads the scalar to the field size in
//! the decoded blob (re-padding the private section) before `ssh-key` parses it; the key is
//! unchanged.

use base64::Engine as _;
use ssh_key::{PrivateKey, PublicKey};

use super::sshsig::SignError;

const OPENSSH_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const OPENSSH_END: &str = "-----END OPENSSH PRIVATE KEY-----";
const MAGIC: &[u8] = b"openssh-key-v1\0";

/// Read an OpenSSH private key (unencrypted); `shown` names it in messages.
pub fn read_private_key(path: &std::path::Path, shown: &str) -> anyhow::Result<PrivateKey> {
    let shown = shown.to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading the key `{shown}`: {e}"))?;
    if PublicKey::from_openssh(text.trim()).is_ok() {
        let stem = shown.strip_suffix(".pub").unwrap_or(&shown).to_string();
        return Err(SignError::PublicKeyGiven { path: shown, stem }.into());
    }
    if let Some(format) = other_format(&text) {
        return Err(SignError::OtherFormat {
            path: shown,
            format: format.to_string(),
        }
        .into());
    }
    let normalized = normalize_ecdsa(&text);
    let key = PrivateKey::from_openssh(normalized.as_deref().unwrap_or(&text)).map_err(|e| {
        SignError::NotAKey {
            path: shown.clone(),
            reason: e.to_string(),
        }
    })?;
    if key.is_encrypted() {
        return Err(SignError::Encrypted {
            path: shown,
            cipher: key.cipher().as_str().to_string(),
        }
        .into());
    }
    Ok(key)
}

/// The name of a private-key format other than OpenSSH's, recognized by its first line.
fn other_format(text: &str) -> Option<&'static str> {
    let first = text.trim_start().lines().next().unwrap_or("");
    let encrypted_pem = text.contains("Proc-Type: 4,ENCRYPTED");
    Some(match first.trim_end() {
        "-----BEGIN RSA PRIVATE KEY-----" if encrypted_pem => {
            "a PEM (PKCS#1) RSA private key, encrypted with a passphrase"
        }
        "-----BEGIN RSA PRIVATE KEY-----" => "a PEM (PKCS#1) RSA private key",
        "-----BEGIN EC PRIVATE KEY-----" if encrypted_pem => {
            "a PEM (SEC1) ECDSA private key, encrypted with a passphrase"
        }
        "-----BEGIN EC PRIVATE KEY-----" => "a PEM (SEC1) ECDSA private key",
        "-----BEGIN DSA PRIVATE KEY-----" => "a PEM DSA private key",
        "-----BEGIN PRIVATE KEY-----" => "a PKCS#8 private key",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----" => {
            "a PKCS#8 private key, encrypted with a passphrase"
        }
        "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----" => "an RFC 4716 (SSH2) private key",
        l if l.starts_with("PuTTY-User-Key-File") => "a PuTTY (.ppk) private key",
        _ => return None,
    })
}

/// A reader of SSH wire-format fields.
struct Wire<'a>(&'a [u8]);

impl<'a> Wire<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

/// The same key file with a short ECDSA private scalar left-padded to the field size;
/// `None` when there is nothing to fix (not an unencrypted single ECDSA key, or a scalar of
/// full length), and the file is parsed as it is.
pub fn normalize_ecdsa(text: &str) -> Option<String> {
    let body = text
        .trim()
        .strip_prefix(OPENSSH_BEGIN)?
        .strip_suffix(OPENSSH_END)?;
    let b64: String = body.split_whitespace().collect();
    let blob = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let mut outer = Wire(&blob);
    if outer.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let cipher = outer.string()?;
    let kdf = outer.string()?;
    let kdf_options = outer.string()?;
    if cipher != b"none" || outer.u32()? != 1 {
        return None;
    }
    let public = outer.string()?;
    let private = outer.string()?;
    if !outer.0.is_empty() {
        return None;
    }
    let mut inner = Wire(private);
    let checks = inner.take(8)?;
    let key_type = inner.string()?;
    if !key_type.starts_with(b"ecdsa-sha2-nistp") {
        return None;
    }
    let curve = inner.string()?;
    let point = inner.string()?;
    let scalar = inner.string()?;
    let comment = inner.string()?;
    let size = match curve {
        b"nistp256" => 32,
        b"nistp384" => 48,
        b"nistp521" => 66,
        _ => return None,
    };
    // `ssh-key` reads exactly `size` bytes, or `size + 1` with a leading zero.
    if scalar.len() >= size {
        return None;
    }
    let digits = scalar;
    let mut padded = vec![0u8; size - digits.len()];
    padded.extend_from_slice(digits);
    let mut section = checks.to_vec();
    put_string(&mut section, key_type);
    put_string(&mut section, curve);
    put_string(&mut section, point);
    put_string(&mut section, &padded);
    put_string(&mut section, comment);
    // Unencrypted keys are padded to a multiple of 8 bytes with 1, 2, 3, … (PROTOCOL.key).
    let mut pad = 1u8;
    while section.len() % 8 != 0 {
        section.push(pad);
        pad += 1;
    }
    let mut out = MAGIC.to_vec();
    put_string(&mut out, cipher);
    put_string(&mut out, kdf);
    put_string(&mut out, kdf_options);
    out.extend_from_slice(&1u32.to_be_bytes());
    put_string(&mut out, public);
    put_string(&mut out, &section);
    let b64 = base64::engine::general_purpose::STANDARD.encode(out);
    let mut armored = format!("{OPENSSH_BEGIN}\n");
    // 70 columns, as ssh-keygen writes (any width parses).
    for chunk in b64.as_bytes().chunks(70) {
        armored.push_str(std::str::from_utf8(chunk).ok()?);
        armored.push('\n');
    }
    armored.push_str(OPENSSH_END);
    armored.push('\n');
    Some(armored)
}
