//! Digests: SHA-256 over RFC 8785 (JCS) canonical JSON, written `sha256:<hex>`.
//!
//! Canonical JSON makes a digest independent of key order and formatting, so the plan file
//! can be pretty-printed, re-indented or re-serialized by another tool and keep its digest.
//!
//! The canonical form is written here, straight from a [`serde_json::Value`] into one byte
//! buffer: object members sorted by the UTF-16 code units of their names, strings escaped
//! as RFC 8785 §3.2.2.2 requires, numbers in the ECMAScript shortest form (§3.2.2.3, via
//! `ryu-js`). A property test checks it byte for byte against `serde_json_canonicalizer`.

use std::io::Write as _;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::core::plan::types::Plan;

/// `sha256:<hex>` of raw bytes.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The RFC 8785 canonical JSON of a value.
pub fn canonical_json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let value = serde_json::to_value(value)?;
    let mut out = Vec::new();
    write_canonical(&mut out, &value);
    // Only whole UTF-8 strings and ASCII are written, so the buffer is UTF-8.
    Ok(String::from_utf8(out).expect("canonical JSON is UTF-8"))
}

/// `sha256:<hex>` of the canonical JSON of a value.
pub fn sha256_canonical<T: Serialize>(value: &T) -> String {
    // Serializing our own types (BTreeMaps, strings, numbers, serde_json::Value) cannot fail:
    // there are no non-string map keys and no non-finite floats in them.
    let value = serde_json::to_value(value).expect("a plain value converts to JSON");
    sha256_canonical_value(&value)
}

/// [`sha256_canonical`] of a JSON value, without converting it first.
pub fn sha256_canonical_value(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(&mut out, value);
    sha256_bytes(&out)
}

/// [`sha256_canonical`] of a map from displayable keys (e.g. addresses) to JSON values,
/// without copying the values into a [`Value`] first.
pub fn sha256_canonical_map<'a, K, I>(entries: I) -> String
where
    K: std::fmt::Display + 'a,
    I: IntoIterator<Item = (&'a K, &'a Value)>,
{
    let mut members: Vec<(String, &Value)> = entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    members.sort_unstable_by(|a, b| utf16_cmp(&a.0, &b.0));
    let mut out = Vec::new();
    out.push(b'{');
    for (i, (k, v)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(&mut out, k);
        out.push(b':');
        write_canonical(&mut out, v);
    }
    out.push(b'}');
    sha256_bytes(&out)
}

/// The digest a plan must carry: over every field but `digest`.
pub fn plan_digest(plan: &Plan) -> String {
    let mut value = serde_json::to_value(plan).expect("a plan serializes");
    if let Value::Object(map) = &mut value {
        map.remove("digest");
    }
    sha256_canonical_value(&value)
}

/// The largest integer magnitude a double holds exactly (2^53): integers within it print
/// the same as the ECMAScript shortest form of their double, so they skip the conversion.
const EXACT_INTEGER: u64 = 1 << 53;

/// Append the RFC 8785 canonical JSON of `value` to `out`.
pub fn write_canonical(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // RFC 8785 §3.2.3: sort by UTF-16 code units. That differs from UTF-8 byte order
            // only between U+E000..U+FFFF and supplementary characters, so ASCII-only pairs
            // (every key we write) compare as bytes.
            members.sort_unstable_by(|a, b| utf16_cmp(a.0, b.0));
            out.push(b'{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, k);
                out.push(b':');
                write_canonical(out, v);
            }
            out.push(b'}');
        }
    }
}

fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.as_bytes().cmp(b.as_bytes())
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

fn write_number(out: &mut Vec<u8>, n: &serde_json::Number) {
    // RFC 8785 numbers are IEEE 754 doubles: every integer prints as its double would.
    if let Some(u) = n.as_u64().filter(|u| *u <= EXACT_INTEGER) {
        let _ = write!(out, "{u}");
    } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= EXACT_INTEGER) {
        let _ = write!(out, "{i}");
    } else {
        // serde_json holds no NaN or infinity, and integers beyond 2^53 round to a double.
        let f = n.as_f64().expect("a JSON number converts to a double");
        out.extend_from_slice(ryu_js::Buffer::new().format_finite(f).as_bytes());
    }
}

/// RFC 8785 §3.2.2.2: `\"`, `\\`, the five short escapes, other controls as `\u00xx` in
/// lowercase hex, everything else as is.
fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut unicode = *b"\\u00xx";
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => {
                unicode[4] = HEX[(b >> 4) as usize];
                unicode[5] = HEX[(b & 0xf) as usize];
                &unicode
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn canon(text: &str) -> String {
        let v: Value = serde_json::from_str(text).unwrap();
        canonical_json(&v).unwrap()
    }

    #[test]
    fn key_order_does_not_change_the_digest() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":[1,2,{"y":1,"x":2}]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{ "a":[1,2,{"x":2,"y":1}], "b":1 }"#).unwrap();
        assert_eq!(sha256_canonical(&a), sha256_canonical(&b));
        assert_ne!(
            sha256_canonical(&a),
            sha256_canonical(&serde_json::json!({"b": 2}))
        );
    }

    #[test]
    fn canonical_form_is_rfc8785() {
        assert_eq!(
            canon(r#"{"b": 1.0, "a": "é\u0001"}"#),
            "{\"a\":\"é\\u0001\",\"b\":1}"
        );
    }

    /// RFC 8785 §3.2.2, the example of the whole transformation.
    #[test]
    fn rfc8785_example_3_2_2() {
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        assert_eq!(
            canon(input),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
    }

    /// RFC 8785 §3.2.3, the sorting example: UTF-16 code units, so U+1F600 (a surrogate
    /// pair starting 0xD83D) sorts before U+FB33.
    #[test]
    fn rfc8785_example_3_2_3_sorting() {
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        let keys: Vec<String> =
            serde_json::from_str::<serde_json::Map<String, Value>>(&canon(input))
                .unwrap()
                .keys()
                .cloned()
                .collect();
        assert_eq!(
            keys,
            [
                "\r",
                "1",
                "\u{80}",
                "\u{f6}",
                "\u{20ac}",
                "\u{1f600}",
                "\u{fb33}"
            ]
        );
    }

    /// RFC 8785 Appendix B, number serialization samples that JSON text can carry.
    #[test]
    fn rfc8785_appendix_b_numbers() {
        for (input, expected) in [
            ("0", "0"),
            ("-0", "0"),
            ("5e-324", "5e-324"),
            ("-5e-324", "-5e-324"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("-1.7976931348623157e308", "-1.7976931348623157e+308"),
            ("9007199254740992", "9007199254740992"),
            ("-9007199254740992", "-9007199254740992"),
            ("9007199254740993", "9007199254740992"),
            ("295147905179352830000", "295147905179352830000"),
            ("9.999999999999997e22", "9.999999999999997e+22"),
            ("1e21", "1e+21"),
            ("999999999999999700000", "999999999999999700000"),
            ("0.000001", "0.000001"),
            ("1e-7", "1e-7"),
            ("4.5", "4.5"),
            ("0.002", "0.002"),
            ("1e-27", "1e-27"),
        ] {
            assert_eq!(canon(input), expected, "{input}");
        }
    }

    #[test]
    fn controls_are_escaped_in_lowercase_hex_and_del_is_literal() {
        assert_eq!(
            canon(r#""\u0000\u001f\u0008\u000c\t\n\r\u007f""#),
            "\"\\u0000\\u001f\\b\\f\\t\\n\\r\u{7f}\""
        );
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter_map("finite", serde_json::Number::from_f64)
                .prop_map(Value::Number),
            (-1.0e25..1.0e25f64)
                .prop_filter_map("finite", serde_json::Number::from_f64)
                .prop_map(Value::Number),
            any::<String>().prop_map(Value::String),
            "[a-z\u{e000}-\u{e010}\u{fb33}\u{1f600}-\u{1f610}\u{10000}]{0,4}"
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            any::<String>(),
                            "[a-z\u{7f}-\u{ff}\u{e000}-\u{e010}\u{fb33}\u{1f600}-\u{1f610}]{0,3}"
                        ],
                        inner
                    ),
                    0..8
                )
                .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn a_map_digests_as_its_json_object() {
        let mut map = std::collections::BTreeMap::new();
        map.insert("b\u{1f600}".to_string(), serde_json::json!([1, 2.5]));
        map.insert(
            "b\u{fb33}".to_string(),
            serde_json::json!({"y": null, "x": "\n"}),
        );
        map.insert("a".to_string(), serde_json::json!(true));
        assert_eq!(sha256_canonical_map(&map), sha256_canonical(&map));
    }

    proptest! {
        #[test]
        fn matches_serde_json_canonicalizer(value in json_value()) {
            let ours = canonical_json(&value).unwrap();
            let theirs = serde_json_canonicalizer::to_string(&value).unwrap();
            prop_assert_eq!(ours, theirs);
        }
    }
}
