//! Map values that may carry deletion protection (DESIGN.md, "Lifecycle: adopt, own,
//! retire, rotate"): a collaborator's or team's permission, an Actions or environment
//! variable's value. Each is written plainly, or as a mapping with `protect`:
//!
//! ```yaml
//! collaborators: { the-ceo: admin, auditor: { permission: pull, protect: true } }
//! actions_variables: { REGION: ord, APP: { value: sophia, protect: true } }
//! ```
//!
//! The plain form is written back plainly, so a desired state without `protect` reads and
//! writes as before. `protect` is sophia's: it is never sent to GitHub nor compared.

use std::borrow::Cow;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::github_repo::Permission;

/// A repository permission granted to a collaborator or a team, and its protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub permission: Permission,
    /// `None`: written as the plain permission.
    pub protect: Option<bool>,
}

impl From<Permission> for Grant {
    fn from(permission: Permission) -> Grant {
        Grant {
            permission,
            protect: None,
        }
    }
}

/// A variable's value (variables are not secrets: values live in desired/), and its
/// protection.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Variable {
    pub value: String,
    /// `None`: written as the plain value.
    pub protect: Option<bool>,
}

impl From<&str> for Variable {
    fn from(value: &str) -> Variable {
        Variable {
            value: value.to_string(),
            protect: None,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by serde and schemars only
struct FullGrant {
    /// `pull`, `triage`, `push`, `maintain` or `admin`.
    permission: Permission,
    /// Deletion protection: no plan may remove the grant, even once removed from desired/.
    #[serde(default)]
    protect: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by serde and schemars only
struct FullVariable {
    /// The variable's value.
    value: String,
    /// Deletion protection: no plan may delete the variable, even once removed from desired/.
    #[serde(default)]
    protect: Option<bool>,
}

/// For the JSON Schema: the plain value, or the mapping with `protect`.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum GrantRepr {
    Plain(Permission),
    Full(FullGrant),
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum VariableRepr {
    Plain(String),
    Full(FullVariable),
}

impl JsonSchema for Grant {
    fn schema_name() -> Cow<'static, str> {
        "Grant".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <GrantRepr as JsonSchema>::json_schema(generator)
    }
}

impl JsonSchema for Variable {
    fn schema_name() -> Cow<'static, str> {
        "Variable".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <VariableRepr as JsonSchema>::json_schema(generator)
    }
}

/// The plain value alone, or the mapping `{<key>: value, protect: p}`.
fn serialize_with_protect<S: Serializer, T: Serialize>(
    s: S,
    key: &'static str,
    value: &T,
    protect: Option<bool>,
) -> Result<S::Ok, S::Error> {
    let Some(p) = protect else {
        return value.serialize(s);
    };
    use serde::ser::SerializeMap as _;
    let mut m = s.serialize_map(Some(2))?;
    m.serialize_entry(key, value)?;
    m.serialize_entry("protect", &p)?;
    m.end()
}

impl Serialize for Grant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_with_protect(s, "permission", &self.permission, self.protect)
    }
}

impl Serialize for Variable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_with_protect(s, "value", &self.value, self.protect)
    }
}

impl<'de> Deserialize<'de> for Grant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Grant, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Grant;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a permission, or `{permission: P, protect: BOOL}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Grant, E> {
                // Through serde, so that a bad permission reads as an unknown variant.
                Permission::deserialize(de::value::StrDeserializer::<E>::new(v)).map(Grant::from)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Grant, A::Error> {
                let g = FullGrant::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Grant {
                    permission: g.permission,
                    protect: g.protect,
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Variable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Variable, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Variable;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                // "expected a string" keeps the loader's hint to quote a number.
                f.write_str("a string, or `{value: STRING, protect: BOOL}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Variable, E> {
                Ok(Variable::from(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Variable, A::Error> {
                let v = FullVariable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Variable {
                    value: v.value,
                    protect: v.protect,
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn plain_or_with_protect_and_written_back_as_read() {
        let grants: BTreeMap<String, Grant> =
            serde_yaml::from_str("{a: admin, b: {permission: pull, protect: true}}").unwrap();
        assert_eq!(grants["a"], Grant::from(Permission::Admin));
        assert_eq!(
            grants["b"],
            Grant {
                permission: Permission::Pull,
                protect: Some(true)
            }
        );
        assert_eq!(
            serde_json::to_string(&grants).unwrap(),
            r#"{"a":"admin","b":{"permission":"pull","protect":true}}"#
        );
        let vars: BTreeMap<String, Variable> =
            serde_yaml::from_str("{A: ord, B: {value: x, protect: false}}").unwrap();
        assert_eq!(vars["A"], Variable::from("ord"));
        assert_eq!(vars["B"].protect, Some(false));
        assert_eq!(
            serde_json::to_string(&vars).unwrap(),
            r#"{"A":"ord","B":{"value":"x","protect":false}}"#
        );
        for (bad, says) in [
            ("{a: owner}", "unknown variant `owner`"),
            (
                "{a: {permission: pull, protect: yes-please}}",
                "expected a boolean",
            ),
            ("{a: {permision: pull}}", "unknown field `permision`"),
        ] {
            let err = serde_yaml::from_str::<BTreeMap<String, Grant>>(bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let err = serde_yaml::from_str::<BTreeMap<String, Variable>>("{A: 3}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a string"), "{err}");
    }
}
