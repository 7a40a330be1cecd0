//! Digests: SHA-256 over RFC 8785 (JCS) canonical JSON, written `sha256:<hex>`.
//!
//! Canonical JSON makes a digest independent of key order and formatting, so the plan file
//! can be pretty-printed, re-indented or re-serialized by another tool and keep its digest.
//!
//! The canonical form is written here, straight from a [`serde_json::Value`] into one byte
//! buffer: object members sorted by the UTF-16 code units of their names, strings escaped
//! as RFC 8785 §3.2.2.2 requires, numbers in the ECMAScript shortest form (§3.2.2.3, via
//! `ryu-js`). A property test checks it byte for byte against `serde_json_canonicalizer`.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::core::plan::types::Plan;

/// `sha256:<hex>` of raw bytes.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Where canonical JSON goes: a byte buffer, or a SHA-256 fed in chunks ([`Hashing`]).
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// How much canonical JSON [`Hashing`] gathers before it feeds the hash: large enough that
/// SHA-256 runs over long slices, small enough to stay in the cache. A digest never holds
/// the whole canonical text (at 100,000 resources that is tens of megabytes).
const HASH_CHUNK: usize = 64 * 1024;

/// SHA-256 of canonical JSON as it is written.
struct Hashing {
    buf: Vec<u8>,
    sha: Sha256,
}

impl Hashing {
    fn new() -> Hashing {
        Hashing {
            buf: Vec::with_capacity(HASH_CHUNK + 1024),
            sha: Sha256::new(),
        }
    }

    fn finish(mut self) -> String {
        self.sha.update(&self.buf);
        format!("sha256:{}", hex::encode(self.sha.finalize()))
    }
}

impl Sink for Hashing {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= HASH_CHUNK {
            self.sha.update(&self.buf);
            self.buf.clear();
        }
    }
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
    let mut out = Hashing::new();
    write_value(&mut out, value);
    out.finish()
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
    hash_object(&members, |out, v| write_value(out, v))
}

/// [`sha256_canonical_map`] of a map given one member at a time, each member's value
/// written out as canonical JSON when it comes, so the values need not stay alive: the
/// planner digests the expected state as it lowers it, one unit at a time, and keeps a few
/// hundred bytes per address instead of the object (issue 20). Keys must be distinct.
#[derive(Debug, Default)]
pub struct CanonicalMap {
    members: Vec<(Box<str>, Box<[u8]>)>,
}

impl CanonicalMap {
    pub fn add(&mut self, key: &impl std::fmt::Display, value: &Value) {
        let mut bytes = Vec::new();
        write_value(&mut bytes, value);
        self.members
            .push((key.to_string().into_boxed_str(), bytes.into_boxed_slice()));
    }

    /// `sha256:<hex>` of the canonical JSON of the whole map.
    pub fn finish(mut self) -> String {
        self.members.sort_unstable_by(|a, b| utf16_cmp(&a.0, &b.0));
        hash_object(&self.members, |out, bytes| out.put(bytes))
    }
}

/// SHA-256 of the canonical JSON object of `members`, already sorted by key.
fn hash_object<K: AsRef<str>, V>(members: &[(K, V)], write: impl Fn(&mut Hashing, &V)) -> String {
    let mut out = Hashing::new();
    out.put(b"{");
    for (i, (k, v)) in members.iter().enumerate() {
        if i > 0 {
            out.put(b",");
        }
        write_string(&mut out, k.as_ref());
        out.put(b":");
        write(&mut out, v);
    }
    out.put(b"}");
    out.finish()
}

/// The digest a plan must carry: over every field but `digest`.
///
/// The same bytes as the canonical JSON of the whole plan, without converting the whole
/// plan to one [`Value`] first (with every resource created, that is a second copy of all
/// of them): the plan's small fields are converted together, its changes and actions one
/// at a time.
pub fn plan_digest(plan: &Plan) -> String {
    // Every field named, so a field added to `Plan` cannot be left out of its digest.
    let Plan {
        format,
        tool_version,
        tool_source,
        created_at,
        not_after,
        nonce,
        desired,
        live,
        changes,
        actions,
        summary,
        targets,
        cost,
        protect,
        protect_names,
        unmanaged,
        policy,
        digest: _,
    } = plan;
    let head = Plan {
        format: format.clone(),
        tool_version: tool_version.clone(),
        tool_source: tool_source.clone(),
        created_at: created_at.clone(),
        not_after: not_after.clone(),
        nonce: nonce.clone(),
        desired: desired.clone(),
        live: live.clone(),
        changes: Vec::new(),
        actions: Vec::new(),
        summary: *summary,
        targets: targets.clone(),
        cost: cost.clone(),
        protect: protect.clone(),
        protect_names: protect_names.clone(),
        unmanaged: unmanaged.clone(),
        policy: policy.clone(),
        digest: String::new(),
    };
    let Value::Object(mut head) = serde_json::to_value(&head).expect("a plan serializes") else {
        unreachable!("a plan serializes to a JSON object")
    };
    head.remove("digest");
    let mut members: Vec<(&String, &Value)> = head.iter().collect();
    members.sort_unstable_by(|a, b| utf16_cmp(a.0, b.0));
    let mut out = Hashing::new();
    out.put(b"{");
    for (i, (k, v)) in members.into_iter().enumerate() {
        if i > 0 {
            out.put(b",");
        }
        write_string(&mut out, k);
        out.put(b":");
        match k.as_str() {
            "changes" => write_each(&mut out, changes),
            "actions" => write_each(&mut out, actions),
            _ => write_value(&mut out, v),
        }
    }
    out.put(b"}");
    out.finish()
}

/// A JSON array of `items`, each converted to a [`Value`] on its own.
fn write_each<T: Serialize>(out: &mut impl Sink, items: &[T]) {
    out.put(b"[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.put(b",");
        }
        let value = serde_json::to_value(item).expect("a plan serializes");
        write_value(out, &value);
    }
    out.put(b"]");
}

/// The largest integer magnitude a double holds exactly (2^53): integers within it print
/// the same as the ECMAScript shortest form of their double, so they skip the conversion.
const EXACT_INTEGER: u64 = 1 << 53;

/// Append the RFC 8785 canonical JSON of `value` to `out`.
pub fn write_canonical(out: &mut Vec<u8>, value: &Value) {
    write_value(out, value);
}

fn write_value(out: &mut impl Sink, value: &Value) {
    match value {
        Value::Null => out.put(b"null"),
        Value::Bool(true) => out.put(b"true"),
        Value::Bool(false) => out.put(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.put(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.put(b",");
                }
                write_value(out, item);
            }
            out.put(b"]");
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // RFC 8785 §3.2.3: sort by UTF-16 code units. That differs from UTF-8 byte order
            // only between U+E000..U+FFFF and supplementary characters, so ASCII-only pairs
            // (every key we write) compare as bytes.
            members.sort_unstable_by(|a, b| utf16_cmp(a.0, b.0));
            out.put(b"{");
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.put(b",");
                }
                write_string(out, k);
                out.put(b":");
                write_value(out, v);
            }
            out.put(b"}");
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

fn write_number(out: &mut impl Sink, n: &serde_json::Number) {
    // RFC 8785 numbers are IEEE 754 doubles: every integer prints as its double would.
    if let Some(u) = n.as_u64().filter(|u| *u <= EXACT_INTEGER) {
        write_integer(out, false, u);
    } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= EXACT_INTEGER) {
        write_integer(out, i < 0, i.unsigned_abs());
    } else {
        // serde_json holds no NaN or infinity, and integers beyond 2^53 round to a double.
        let f = n.as_f64().expect("a JSON number converts to a double");
        out.put(ryu_js::Buffer::new().format_finite(f).as_bytes());
    }
}

/// An integer's decimal digits, without an allocation.
fn write_integer(out: &mut impl Sink, negative: bool, mut magnitude: u64) {
    // u64::MAX has 20 digits, and one more for the sign.
    let mut buf = [0u8; 21];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if negative {
        at -= 1;
        buf[at] = b'-';
    }
    out.put(&buf[at..]);
}

/// RFC 8785 §3.2.2.2: `\"`, `\\`, the five short escapes, other controls as `\u00xx` in
/// lowercase hex, everything else as is.
fn write_string(out: &mut impl Sink, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.put(b"\"");
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
        out.put(&bytes[start..i]);
        out.put(escape);
        start = i + 1;
    }
    out.put(&bytes[start..]);
    out.put(b"\"");
}

#[cfg(test)]
pub(crate) mod tests {
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

    /// Any JSON value, with the strings and numbers canonical JSON finds hard (also read by
    /// [`crate::core::compact_json`]'s tests).
    pub(crate) fn json_value() -> impl Strategy<Value = Value> {
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

    /// The plan digest written piece by piece is the digest of the whole plan's canonical
    /// JSON without `digest`, across many hash chunks.
    #[test]
    fn a_plan_digests_as_its_whole_json_without_its_digest() {
        let change = serde_json::json!({
            "address": "fly.app.a", "action": "create", "before": null,
            "after": {"org": "o", "\u{e9}": [1, -2, 2.5, "\n"]},
            "diff": [{"path": "org", "before": null, "after": "o"}]
        });
        let action = serde_json::json!({
            "id": "fly.app.create:fly.app.a", "address": "fly.app.a", "kind": "fly.app.create",
            "params": {"b": 1, "a": {"z": null, "y": true}}, "depends_on": []
        });
        for n in [0, 1, 3_000] {
            let plan: Plan = serde_json::from_value(serde_json::json!({
                "format": "sophia-plan/v1", "tool_version": "t",
                "created_at": "2026-01-01T00:00:00Z", "not_after": "2026-01-02T00:00:00Z",
                "nonce": "00", "desired": {"digest": "sha256:00", "git_dirty": true},
                "live": {"fly.app.a": "sha256:11", "fly.app.b": "sha256:22"},
                "changes": vec![change.clone(); n],
                "actions": vec![action.clone(); n],
                "summary": {"create": n, "update": 0, "delete": 0, "replace": 0},
                "targets": ["fly.app.a"], "unmanaged": ["fly.app.z"],
                "digest": "sha256:ff"
            }))
            .unwrap();
            let mut whole = serde_json::to_value(&plan).unwrap();
            whole.as_object_mut().unwrap().remove("digest");
            let text = canonical_json(&whole).unwrap();
            assert!(n < 3_000 || text.len() > 4 * HASH_CHUNK);
            assert_eq!(
                plan_digest(&plan),
                sha256_bytes(text.as_bytes()),
                "{n} changes"
            );
        }
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
