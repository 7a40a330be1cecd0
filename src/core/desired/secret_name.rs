//! An entry of a list of secret names (Fly app `secrets`, `actions_secrets`, an
//! environment's `secrets`): a name, or a name with a rotation number and deletion
//! protection (DESIGN.md, "Lifecycle: rotate" and "Deletion protection").
//!
//! ```yaml
//! secrets: [A, { name: B, rotation: 3 }, { name: C, protect: true }]
//! ```
//!
//! Raising `rotation` plans one set of that secret, with the value from the environment at
//! apply; the number is compared with the rotation of the last set the journal records. A
//! secret with a rotation is also watched: set outside sophia after sophia's last set, it is
//! drift. The number is kept as written (`i64`) so that validation can point at a negative
//! one with its `file:line:column`.

use std::borrow::Cow;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret name, with its rotation number when it has one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretName {
    pub name: String,
    /// `None`: written as a plain name.
    pub rotation: Option<i64>,
    /// `protect: true`: no plan may delete (unset) the secret, even once removed from the
    /// list (see `core::lifecycle`).
    pub protect: Option<bool>,
}

impl SecretName {
    pub fn plain(name: impl Into<String>) -> SecretName {
        SecretName {
            name: name.into(),
            rotation: None,
            protect: None,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }
}

impl From<&str> for SecretName {
    fn from(s: &str) -> SecretName {
        SecretName::plain(s)
    }
}

impl From<String> for SecretName {
    fn from(s: String) -> SecretName {
        SecretName::plain(s)
    }
}

impl PartialEq<&str> for SecretName {
    fn eq(&self, other: &&str) -> bool {
        self.name == *other
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The names of a list, in its order.
pub fn names(list: &[SecretName]) -> Vec<String> {
    list.iter().map(|s| s.name.clone()).collect()
}

/// `name → rotation` of the entries that carry one (negative ones are refused by validation
/// before this is used).
pub fn rotations(list: &[SecretName]) -> std::collections::BTreeMap<String, u64> {
    list.iter()
        .filter_map(|s| Some((s.name.clone(), u64::try_from(s.rotation?).ok()?)))
        .collect()
}

/// What to do about a negative rotation.
pub const ROTATION_HINT: &str = "a rotation counts the sets of a secret: start at 0 or 1 and \
     raise it by one to set the secret again";

/// `(index, message)` of each entry whose rotation is negative.
pub fn negative_rotations(list: &[SecretName]) -> Vec<(usize, String)> {
    list.iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let r = s.rotation.filter(|r| *r < 0)?;
            Some((
                i,
                format!(
                    "invalid rotation {r} of secret `{}`: expected a whole number 0 or more",
                    s.name
                ),
            ))
        })
        .collect()
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by serde and schemars only
struct Rotated {
    /// The secret's name.
    name: String,
    /// Raise it to set the secret again (its value from the environment at apply).
    #[serde(default)]
    #[schemars(range(min = 0))]
    rotation: Option<i64>,
    /// Deletion protection: no plan may delete the secret, even once removed from desired/.
    #[serde(default)]
    protect: Option<bool>,
}

/// For the JSON Schema: a name, or `{name, rotation, protect}`.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Repr {
    Name(String),
    Rotated(Rotated),
}

impl JsonSchema for SecretName {
    fn schema_name() -> Cow<'static, str> {
        "SecretName".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <Repr as JsonSchema>::json_schema(generator)
    }
}

impl Serialize for SecretName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.rotation.is_none() && self.protect.is_none() {
            return s.serialize_str(&self.name);
        }
        use serde::ser::SerializeMap as _;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", &self.name)?;
        if let Some(r) = self.rotation {
            m.serialize_entry("rotation", &r)?;
        }
        if let Some(p) = self.protect {
            m.serialize_entry("protect", &p)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for SecretName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SecretName, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a secret name, or `{name: NAME, rotation: N, protect: BOOL}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretName, E> {
                Ok(SecretName::plain(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SecretName, A::Error> {
                let r = Rotated::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(SecretName {
                    name: r.name,
                    rotation: r.rotation,
                    protect: r.protect,
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_or_a_name_with_its_rotation() {
        let list: Vec<SecretName> = serde_yaml::from_str(
            "[A, {name: B, rotation: 3}, {name: C}, {name: D, protect: true}]",
        )
        .unwrap();
        assert_eq!(
            list,
            vec![
                SecretName::plain("A"),
                SecretName {
                    name: "B".into(),
                    rotation: Some(3),
                    protect: None,
                },
                SecretName::plain("C"),
                SecretName {
                    name: "D".into(),
                    rotation: None,
                    protect: Some(true),
                },
            ]
        );
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"["A",{"name":"B","rotation":3},"C",{"name":"D","protect":true}]"#
        );
        assert_eq!(
            rotations(&list),
            [("B".to_string(), 3)].into_iter().collect()
        );

        let err = serde_yaml::from_str::<Vec<SecretName>>("[{name: B, rotaton: 3}]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `rotaton`"), "{err}");
    }
}
