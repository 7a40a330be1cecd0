//! The SSHSIG blob read field by field (`PROTOCOL.sshsig`), before `ssh-key` parses it: the
//! signing key may be a certificate (which `ssh-key`'s `SshSig` cannot hold) and the
//! signature may be a webauthn one (which it reports as "unexpected trailing data"), so the
//! types are looked at first, to verify the one and name the other.
//!
//! ```text
//! byte[6]   "SSHSIG"
//! uint32    version (1)
//! string    publickey      (a key or a certificate blob: string type, …)
//! string    namespace
//! string    reserved
//! string    hash_algorithm
//! string    signature      (string type, string blob [, flags, counter, … for sk keys])
//! ```

use base64::Engine as _;

const MAGIC: &[u8] = b"SSHSIG";
const BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const END: &str = "-----END SSH SIGNATURE-----";

/// The fields of an SSHSIG blob.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The whole blob, for `ssh-key` to parse when the key is a plain one.
    pub blob: Vec<u8>,
    /// The public key or certificate, as encoded.
    pub public_key: Vec<u8>,
    /// The type name the public key blob starts with (`ssh-ed25519`,
    /// `ssh-ed25519-cert-v01@openssh.com`, …).
    pub key_type: String,
    pub namespace: String,
    pub hash_alg: String,
    /// The signature, as encoded (type name first).
    pub signature: Vec<u8>,
    /// The type name the signature starts with (`rsa-sha2-512`,
    /// `webauthn-sk-ecdsa-sha2-nistp256@openssh.com`, …).
    pub signature_type: String,
}

/// The armor removed, as OpenSSH's `sshsig_dearmor` does (surrounding whitespace and CRLF
/// line endings accepted).
pub fn dearmor(armored: &[u8]) -> Result<Vec<u8>, String> {
    let text = String::from_utf8_lossy(armored).replace("\r\n", "\n");
    let text = text.trim();
    let body = text
        .strip_prefix(BEGIN)
        .ok_or("it has no `-----BEGIN SSH SIGNATURE-----` armor")?;
    let body = body
        .strip_suffix(END)
        .ok_or("it has no `-----END SSH SIGNATURE-----` line")?;
    let b64: String = body.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("its base64 is invalid: {e}"))
}

/// A reader of SSH wire-format fields.
struct Wire<'a>(&'a [u8]);

impl<'a> Wire<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("it is truncated".to_string());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn text(&mut self) -> Result<String, String> {
        let bytes = self.string()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "a name in it is not UTF-8".to_string())
    }
}

/// The first string of an encoded key or signature: its type name.
pub fn type_name(encoded: &[u8]) -> Result<String, String> {
    Wire(encoded).text()
}

impl Envelope {
    /// Parse an armored signature file.
    pub fn parse(armored: &[u8]) -> Result<Envelope, String> {
        let blob = dearmor(armored)?;
        let mut wire = Wire(&blob);
        if wire.take(MAGIC.len())? != MAGIC {
            return Err("it does not start with `SSHSIG`".to_string());
        }
        let version = wire.u32()?;
        if version != 1 {
            return Err(format!("its version is {version}, not 1"));
        }
        let public_key = wire.string()?.to_vec();
        let namespace = wire.text()?;
        wire.string()?; // reserved
        let hash_alg = wire.text()?;
        let signature = wire.string()?.to_vec();
        if !wire.0.is_empty() {
            return Err("it has trailing data after the signature".to_string());
        }
        let key_type = type_name(&public_key)?;
        let signature_type = type_name(&signature)?;
        Ok(Envelope {
            blob,
            public_key,
            key_type,
            namespace,
            hash_alg,
            signature,
            signature_type,
        })
    }

    /// Whether the signing key is a certificate.
    pub fn is_certificate(&self) -> bool {
        self.key_type.ends_with("-cert-v01@openssh.com")
    }
}

/// The flags byte of a security-key signature (`sk-…`): the signature data ends with
/// `byte flags, uint32 counter`. Bit 0 is user presence (the key was touched), bit 2 user
/// verification (a PIN or biometric).
pub fn sk_flags(signature: &ssh_key::Signature) -> Option<u8> {
    let data = signature.as_bytes();
    data.len().checked_sub(5).map(|i| data[i])
}

/// `SSH_SK_USER_PRESENCE_REQD`: the flag a security key sets when it was touched.
pub const SK_USER_PRESENCE: u8 = 0x01;
