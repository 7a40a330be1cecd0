//! Digests: SHA-256 over RFC 8785 (JCS) canonical JSON, written `sha256:<hex>`.
//!
//! Canonical JSON makes a digest independent of key order and formatting, so the plan file
//! can be pretty-printed, re-indented or re-serialized by another tool and keep its digest.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::core::plan::Plan;

/// `sha256:<hex>` of raw bytes.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The RFC 8785 canonical JSON of a value.
pub fn canonical_json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    serde_json_canonicalizer::to_string(value)
}

/// `sha256:<hex>` of the canonical JSON of a value.
pub fn sha256_canonical<T: Serialize>(value: &T) -> String {
    // Serializing our own types (BTreeMaps, strings, numbers, serde_json::Value) cannot fail:
    // there are no non-string map keys and no non-finite floats in them.
    let text = canonical_json(value).expect("canonical JSON of a plain value");
    sha256_bytes(text.as_bytes())
}

/// The digest a plan must carry: over every field but `digest`.
pub fn plan_digest(plan: &Plan) -> String {
    let mut value = serde_json::to_value(plan).expect("a plan serializes");
    if let serde_json::Value::Object(map) = &mut value {
        map.remove("digest");
    }
    sha256_canonical(&value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_does_not_change_the_digest() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b":1,"a":[1,2,{"y":1,"x":2}]}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{ "a":[1,2,{"x":2,"y":1}], "b":1 }"#).unwrap();
        assert_eq!(sha256_canonical(&a), sha256_canonical(&b));
        assert_ne!(
            sha256_canonical(&a),
            sha256_canonical(&serde_json::json!({"b": 2}))
        );
    }

    #[test]
    fn canonical_form_is_rfc8785() {
        let v: serde_json::Value = serde_json::from_str(r#"{"b": 1.0, "a": "é\u0001"}"#).unwrap();
        assert_eq!(canonical_json(&v).unwrap(), "{\"a\":\"é\\u0001\",\"b\":1}");
    }
}
