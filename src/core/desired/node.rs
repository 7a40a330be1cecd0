//! A YAML value as the loader builds it: serde_yaml's `Value` without its hash tables.
//!
//! serde_yaml's `Mapping` is an `IndexMap` hashed with SipHash, 168 bytes an entry: building
//! one hashed every key of a desired file, and at 100,000 resources the tree outweighed the
//! typed state built from it. The loader never looks a key up in a mapping: it walks each
//! one in order, and deserializes it. So a mapping here is a vector of entries, and a node
//! is 32 bytes.
//!
//! The [`Deserializer`] of `&Node` mirrors serde_yaml's for `&Value` call for call — the same
//! visitor methods, the same `serde_yaml::Error` and `Unexpected` values — so every message
//! a bad field gives is the one it gave when the loader deserialized `Value`s (the tests
//! below compare the two on every kind of value and target).

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    DeserializeSeed, Deserializer, EnumAccess, Error as _, Expected, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};
use serde_yaml::{Error, Number};

/// One YAML value. Tags other than `!!str` are not kept (the loader never read them).
#[derive(Debug, Clone, Default)]
pub enum Node {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Seq(Vec<Node>),
    /// Entries in file order; no two keys are equal (see [`Node::insert`]).
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }

    /// Add `key: value` to `entries` as serde_yaml's `Mapping::insert` does: a key equal to
    /// one already there replaces that entry's value, in its place. `scan` says whether an
    /// equal key may be there at all; the caller knows when none can (see `tree.rs`), and a
    /// scan of every key would make a mapping of n keys cost n².
    pub fn insert(entries: &mut Vec<(Node, Node)>, key: Node, value: Node, scan: bool) {
        if scan && let Some(e) = entries.iter_mut().find(|(k, _)| *k == key) {
            e.1 = value;
            return;
        }
        entries.push((key, value));
    }

    /// What serde's messages call this value (`invalid type: string "x", expected …`).
    fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Node::Null => Unexpected::Unit,
            Node::Bool(b) => Unexpected::Bool(*b),
            Node::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Unexpected::Unsigned(u)
                } else if let Some(i) = n.as_i64() {
                    Unexpected::Signed(i)
                } else {
                    Unexpected::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Node::String(s) => Unexpected::Str(s),
            Node::Seq(_) => Unexpected::Seq,
            Node::Map(_) => Unexpected::Map,
        }
    }

    #[cold]
    fn invalid_type(&self, exp: &dyn Expected) -> Error {
        Error::invalid_type(self.unexpected(), exp)
    }
}

/// Equality as serde_yaml's `Value` has it: numbers by value (one NaN), mappings whatever
/// the order of their entries.
impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::Null, Node::Null) => true,
            (Node::Bool(a), Node::Bool(b)) => a == b,
            (Node::Number(a), Node::Number(b)) => a == b,
            (Node::String(a), Node::String(b)) => a == b,
            (Node::Seq(a), Node::Seq(b)) => a == b,
            (Node::Map(a), Node::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.iter().any(|(k2, v2)| k == k2 && v == v2))
            }
            _ => false,
        }
    }
}

fn visit_seq<'de, V: Visitor<'de>>(items: &'de [Node], visitor: V) -> Result<V::Value, Error> {
    let len = items.len();
    let mut de = SeqDe(items.iter());
    let seq = visitor.visit_seq(&mut de)?;
    if de.0.len() == 0 {
        Ok(seq)
    } else {
        Err(Error::invalid_length(len, &"fewer elements in sequence"))
    }
}

fn visit_map<'de, V: Visitor<'de>>(
    entries: &'de [(Node, Node)],
    visitor: V,
) -> Result<V::Value, Error> {
    let len = entries.len();
    let mut de = MapDe {
        iter: Some(entries.iter()),
        value: None,
    };
    let map = visitor.visit_map(&mut de)?;
    if de.iter.map_or(0, |i| i.len()) == 0 {
        Ok(map)
    } else {
        Err(Error::invalid_length(len, &"fewer elements in map"))
    }
}

impl<'de> Deserializer<'de> for &'de Node {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::Null => visitor.visit_unit(),
            Node::Bool(b) => visitor.visit_bool(*b),
            Node::Number(n) => n.deserialize_any(visitor),
            Node::String(s) => visitor.visit_borrowed_str(s),
            Node::Seq(items) => visit_seq(items, visitor),
            Node::Map(entries) => visit_map(entries, visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::Bool(b) => visitor.visit_bool(*b),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        deserialize_number(self, visitor)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        deserialize_number(self, visitor)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        deserialize_number(self, visitor)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        deserialize_number(self, visitor)
    }
    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        deserialize_number(self, visitor)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        deserialize_number(self, visitor)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        deserialize_number(self, visitor)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        deserialize_number(self, visitor)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        deserialize_number(self, visitor)
    }
    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        deserialize_number(self, visitor)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        deserialize_number(self, visitor)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        deserialize_number(self, visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::String(s) => visitor.visit_borrowed_str(s),
            other => Err(other.invalid_type(&visitor)),
        }
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::String(s) => visitor.visit_borrowed_str(s),
            Node::Seq(items) => visit_seq(items, visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::Null => visitor.visit_unit(),
            _ => Err(self.invalid_type(&visitor)),
        }
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::Seq(items) => visit_seq(items, visitor),
            Node::Null => visit_seq(&[], visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::Map(entries) => visit_map(entries, visitor),
            // serde_yaml gives a `null` mapping no length (its size hint is `None`).
            Node::Null => visitor.visit_map(&mut MapDe {
                iter: None,
                value: None,
            }),
            other => Err(other.invalid_type(&visitor)),
        }
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    /// A unit variant is a string; serde_yaml reads other variants from a tag (`!name`),
    /// which the loader does not keep, so they are refused as serde_yaml refuses an untagged
    /// value.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Node::String(tag) => visitor.visit_enum(EnumDe(tag)),
            other => Err(Error::invalid_type(
                other.unexpected(),
                &"a Value::Tagged enum",
            )),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

fn deserialize_number<'de, V: Visitor<'de>>(
    node: &'de Node,
    visitor: V,
) -> Result<V::Value, Error> {
    match node {
        Node::Number(n) => n.deserialize_any(visitor),
        other => Err(other.invalid_type(&visitor)),
    }
}

/// A unit variant named by a string.
struct EnumDe<'de>(&'de str);

impl<'de> EnumAccess<'de> for EnumDe<'de> {
    type Error = Error;
    type Variant = UnitOnly;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, UnitOnly), Error> {
        let variant = seed.deserialize(BorrowedStrDeserializer::<Error>::new(self.0))?;
        Ok((variant, UnitOnly))
    }
}

/// The variant of a string: a unit variant, never one with content.
struct UnitOnly;

impl<'de> VariantAccess<'de> for UnitOnly {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value, Error> {
        Err(Error::invalid_type(
            Unexpected::UnitVariant,
            &"newtype variant",
        ))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, Error> {
        Err(Error::invalid_type(
            Unexpected::UnitVariant,
            &"tuple variant",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Error> {
        Err(Error::invalid_type(
            Unexpected::UnitVariant,
            &"struct variant",
        ))
    }
}

struct SeqDe<'de>(std::slice::Iter<'de, Node>);

impl<'de> SeqAccess<'de> for SeqDe<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.0.next() {
            Some(node) => seed.deserialize(node).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct MapDe<'de> {
    /// `None` for a `null` read as a mapping.
    iter: Option<std::slice::Iter<'de, (Node, Node)>>,
    value: Option<&'de Node>,
}

impl<'de> MapAccess<'de> for MapDe<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.as_mut().and_then(Iterator::next) {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(value),
            None => panic!("visit_value called before visit_key"),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.iter.as_ref().map(|i| i.len())
    }
}

#[cfg(test)]
impl Node {
    /// serde_yaml's value as a node (without its tags).
    pub fn from_value(v: &serde_yaml::Value) -> Node {
        use serde_yaml::Value;
        match v {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Number(n) => Node::Number(n.clone()),
            Value::String(s) => Node::String(s.clone()),
            Value::Sequence(items) => Node::Seq(items.iter().map(Node::from_value).collect()),
            Value::Mapping(m) => Node::Map(
                m.iter()
                    .map(|(k, v)| (Node::from_value(k), Node::from_value(v)))
                    .collect(),
            ),
            Value::Tagged(t) => Node::from_value(&t.value),
        }
    }

    /// The same value as serde_yaml's.
    pub fn to_value(&self) -> serde_yaml::Value {
        use serde_yaml::Value;
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String(s.clone()),
            Node::Seq(items) => Value::Sequence(items.iter().map(Node::to_value).collect()),
            Node::Map(entries) => Value::Mapping(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_value(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use proptest::prelude::*;
    use serde::de::DeserializeOwned;
    use serde_yaml::Value;

    use super::super::model::{Desired, FlyApp, Protection, RepoDesired};
    use super::super::ruleset::OrgDesired;
    use super::super::secret_name::SecretName;
    use super::Node;

    /// What deserializing `T` gives: its value, or where and why it failed.
    fn outcome<T: Debug>(r: Result<T, serde_path_to_error::Error<serde_yaml::Error>>) -> String {
        match r {
            Ok(v) => format!("ok {v:?}"),
            Err(e) => format!("error at `{}`: {}", e.path(), e.inner()),
        }
    }

    /// `T` from the node of `text` and from serde_yaml's `Value` of it (owned and borrowed,
    /// as the loader deserialized before): the same outcome.
    fn same<T: DeserializeOwned + Debug>(node: &Node) {
        let value = node.to_value();
        let ours = outcome(serde_path_to_error::deserialize::<_, T>(node));
        let theirs = outcome(serde_path_to_error::deserialize::<_, T>(value.clone()));
        let theirs_ref = outcome(serde_path_to_error::deserialize::<_, T>(&value));
        assert_eq!(ours, theirs, "{value:?}");
        assert_eq!(ours, theirs_ref, "{value:?}");
        assert_eq!(
            T::deserialize(node).is_ok(),
            ours.starts_with("ok "),
            "{value:?}"
        );
    }

    fn all_targets(text: &str) {
        let node = Node::from_value(&serde_yaml::from_str(text).unwrap());
        same::<FlyApp>(&node);
        same::<RepoDesired>(&node);
        same::<OrgDesired>(&node);
        same::<Desired>(&node);
        same::<Protection>(&node);
        same::<Vec<SecretName>>(&node);
        same::<Option<u16>>(&node);
        same::<std::collections::BTreeMap<String, String>>(&node);
    }

    #[test]
    fn errors_are_serde_yaml_s() {
        for text in [
            "image: x\ncount: -1\n",
            "image: 3\nregions: ord\n",
            "guest: {cpu_kind: big, cpus: 1.5}\n",
            "guest: ~\nhealth: {port: 8080}\n",
            "env: {A: 1, B: [x], C: {d: e}}\n",
            "secrets: [A, {name: B, rotation: 3}, {nam: C}, 4]\n",
            "strategy: canary\nkill_timeout: 10s\nservices: {internal_port: 80}\n",
            "strategy: [x]\nmounts: [{source: a, destination: /d}, 3]\n",
            "branches: {main: {protection: {enforce_admins: maybe}}}\n",
            "required_status_checks: null\nrestrictions: {users: [a], apps: ~}\n",
            "fly: {apps: {a: {image: x}}}\nrouter: 3\n",
            "1: x\ntrue: y\n~: z\n1.5: w\n",
            "[1, 2, 3]\n",
            "plain string\n",
            "count: 0x10\nswap_size_mb: .inf\n",
            "rulesets: {r: {enforcement: active, rules: [{type: creation}]}}\n",
        ] {
            all_targets(text);
        }
    }

    /// A YAML value drawn from the words a desired file holds, good and bad.
    fn value() -> impl Strategy<Value = Value> {
        let scalar = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..70_000).prop_map(|n| Value::Number(n.into())),
            Just(Value::Number(1.5.into())),
            prop::sample::select(vec![
                "ord", "shared", "canary", "10s", "/healthz", "User", "active", "A_B", "",
            ])
            .prop_map(|s| Value::String(s.into())),
        ];
        let key = prop::sample::select(vec![
            "image",
            "regions",
            "count",
            "guest",
            "cpu_kind",
            "cpus",
            "memory_mb",
            "env",
            "secrets",
            "name",
            "rotation",
            "health",
            "path",
            "port",
            "strategy",
            "depends_on",
            "services",
            "internal_port",
            "mounts",
            "source",
            "kill_timeout",
            "branches",
            "main",
            "protection",
            "enforce_admins",
            "environments",
            "reviewers",
            "type",
            "login",
            "actions_secrets",
            "fly",
            "apps",
            "github",
            "repos",
            "nope",
        ]);
        scalar.prop_recursive(3, 24, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Sequence),
                prop::collection::vec((key.clone(), inner), 0..5).prop_map(|entries| {
                    Value::Mapping(
                        entries
                            .into_iter()
                            .map(|(k, v)| (Value::String(k.into()), v))
                            .collect(),
                    )
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_value_deserializes_as_serde_yaml_s(v in value()) {
            prop_assert_eq!(Node::from_value(&v).to_value(), v.clone());
            all_targets(&serde_yaml::to_string(&v).unwrap());
        }
    }
}
