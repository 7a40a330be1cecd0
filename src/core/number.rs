//! Numbers that mean one thing: integers a plan can carry without two plans sharing a
//! digest.
//!
//! The plan digest is SHA-256 over RFC 8785 canonical JSON, whose numbers are IEEE 754
//! doubles. A double holds every integer up to 2^53 − 1 exactly and no further: 2^53 + 1
//! (`9007199254740993`) canonicalizes to the same text as 2^53 (`9007199254740992`). A plan
//! holding the first would carry the digest of the second while the apply sent the first,
//! so an approved digest would no longer name one plan. Such integers are refused — in
//! desired files (with `file:line:column`, by the loader) and in plan files
//! ([`check_json`], naming the JSON path) — rather than rounded or carried as strings: no
//! field any provider takes needs them (GitHub app ids, ports, counts and sizes are far
//! below), and a refusal cannot change a value behind the approver's back.

use std::fmt;

use serde_json::Value;

/// The largest integer an IEEE 754 double holds exactly, with every smaller one: 2^53 − 1
/// (JavaScript's `Number.MAX_SAFE_INTEGER`). Its negation is the smallest.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Whether an integer survives the round trip through a double (|n| ≤ 2^53 − 1).
pub fn is_safe_integer(n: i128) -> bool {
    n.unsigned_abs() <= MAX_SAFE_INTEGER as u128
}

/// An integer in a plan file that a double cannot hold, and where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{path}` holds the integer {value}, outside ±(2^53 − 1) = ±{MAX_SAFE_INTEGER}: the plan \
     digest (RFC 8785) reads numbers as doubles, which would round it, so one digest could \
     name two plans"
)]
pub struct UnsafeNumber {
    /// Where, as a JSON path from the document root: `$.changes[0].after.app_id`.
    pub path: String,
    /// The integer as written.
    pub value: String,
}

/// Check every number of a JSON document: each integer must satisfy [`is_safe_integer`].
/// Floats (a written fraction or exponent) are doubles already and pass. The first
/// offender, in document order, is returned.
pub fn check_json(value: &Value) -> Result<(), UnsafeNumber> {
    let mut path = Path(vec![]);
    walk(value, &mut path)
}

fn walk(value: &Value, path: &mut Path) -> Result<(), UnsafeNumber> {
    match value {
        Value::Number(n) => {
            let integer = n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from));
            match integer {
                Some(i) if !is_safe_integer(i) => Err(UnsafeNumber {
                    path: path.to_string(),
                    value: n.to_string(),
                }),
                _ => Ok(()),
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.0.push(Seg::Index(i));
                walk(item, path)?;
                path.0.pop();
            }
            Ok(())
        }
        Value::Object(map) => {
            for (k, v) in map {
                path.0.push(Seg::Key(k.clone()));
                walk(v, path)?;
                path.0.pop();
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

enum Seg {
    Key(String),
    Index(usize),
}

/// A JSON path: `$`, `.key` for plain keys, `["key"]` for any other, `[i]` for items.
struct Path(Vec<Seg>);

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for seg in &self.0 {
            match seg {
                Seg::Index(i) => write!(f, "[{i}]")?,
                Seg::Key(k)
                    if !k.is_empty()
                        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    write!(f, ".{k}")?
                }
                Seg::Key(k) => write!(f, "[{}]", Value::String(k.clone()))?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_bound_is_where_doubles_stop_being_exact() {
        let max = MAX_SAFE_INTEGER;
        assert_eq!(max as f64 as i64, max);
        assert_eq!((max + 1) as f64 as i64, max + 1);
        // 2^53 + 1 is the first integer a double rounds: the collision of the issue.
        assert_eq!((max + 2) as f64 as i64, max + 1);
        assert!(is_safe_integer(max.into()) && is_safe_integer((-max).into()));
        assert!(!is_safe_integer((max + 1).into()) && !is_safe_integer((-max - 1).into()));
        assert!(!is_safe_integer(u64::MAX.into()));
    }

    #[test]
    fn names_the_first_unsafe_integer_by_its_path() {
        let plan = json!({
            "format": "sophia-plan/v1",
            "changes": [
                { "after": { "count": 2 } },
                { "after": { "checks": [{ "context": "ci", "app_id": 9007199254740993u64 }] } }
            ]
        });
        let err = check_json(&plan).unwrap_err();
        assert_eq!(err.path, "$.changes[1].after.checks[0].app_id");
        assert_eq!(err.value, "9007199254740993");
        assert!(err.to_string().contains("±9007199254740991"), "{err}");
        let odd_key = json!({ "env": { "a.b": -9007199254740992i64 } });
        assert_eq!(check_json(&odd_key).unwrap_err().path, r#"$.env["a.b"]"#);
    }

    #[test]
    fn safe_integers_and_floats_pass() {
        let ok = json!({
            "max": MAX_SAFE_INTEGER, "min": -MAX_SAFE_INTEGER, "big_float": 1e300,
            "list": [0, 1.5, null, true, "9007199254740993"]
        });
        assert_eq!(check_json(&ok), Ok(()));
    }
}
