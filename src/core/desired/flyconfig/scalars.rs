//! The scalar spellings flyctl accepts in a `fly.toml` (ports, durations, autostop, commands,
//! headers, one-or-many tables), shared by the YAML and TOML readers.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

// ───────────────────────────── scalars ─────────────────────────────

/// A TCP/UDP port: an integer, or a string holding one (flyctl's old format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Port(pub u16);

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Port;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port number (1-65535)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Port, E> {
                u16::try_from(v)
                    .map(Port)
                    .map_err(|_| E::custom(format!("{v} is not a port (1-65535)")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Port, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("{v} is not a port (1-65535)")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Port, E> {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| E::custom(format!("`{v}` is not a port number")))
                    .and_then(|n| self.visit_u64(n))
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration, kept as Go prints it (`10s`, `1m21s`, `500ms`), because that is what flyctl
/// sends in the machine config. Read from a Go duration string or an integer of
/// milliseconds; an empty string is no duration (flyctl ignores it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Duration(pub String);

impl Duration {
    pub fn from_millis(ms: u64) -> Duration {
        Duration(go_duration(ms))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor { int_unit_ms: 1 })
    }
}

struct DurationVisitor {
    /// Milliseconds per unit of a bare integer.
    int_unit_ms: u64,
}

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"10s\" or \"1m30s\"")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_millis(v.saturating_mul(self.int_unit_ms)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .map_err(|_| E::custom(format!("a duration cannot be negative ({v})")))
            .and_then(|v| self.visit_u64(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        if v.is_empty() {
            return Ok(Duration(String::new()));
        }
        parse_go_duration(v)
            .map(Duration::from_millis)
            .ok_or_else(|| {
                E::custom(format!(
                    "`{v}` is not a duration (expected e.g. \"10s\", \"1m30s\", \"500ms\")"
                ))
            })
    }
}

/// `kill_timeout`: a duration, where a bare integer counts seconds (flyctl's old format).
pub fn seconds_or_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    d.deserialize_any(DurationVisitor { int_unit_ms: 1000 })
        .map(Some)
}

/// A Go duration string (`1h2m3.5s`, `500ms`, `10s`) in milliseconds (sub-millisecond parts
/// are dropped: no machine config setting is finer).
pub fn parse_go_duration(s: &str) -> Option<u64> {
    let mut rest = s.trim();
    if rest == "0" {
        return Some(0);
    }
    let mut total = 0f64;
    let mut any = false;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let ms = match &rest[..unit_len] {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "ms" => 1.0,
            "s" => 1000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * ms;
        any = true;
    }
    any.then_some(total.round() as u64)
}

/// Milliseconds as Go's `time.Duration.String()` prints them.
pub fn go_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, rem) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rem) = (rem / 60_000, rem % 60_000);
    let (s, frac) = (rem / 1000, rem % 1000);
    let secs = if frac == 0 {
        format!("{s}s")
    } else {
        let f = format!("{frac:03}");
        format!("{s}.{}s", f.trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{secs}")
    } else if m > 0 {
        format!("{m}m{secs}")
    } else {
        secs
    }
}

/// `auto_stop_machines`: `off`, `stop` or `suspend`; `true` is `stop`, `false` is `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Autostop {
    Off,
    Stop,
    Suspend,
}

impl Autostop {
    pub fn as_str(self) -> &'static str {
        match self {
            Autostop::Off => "off",
            Autostop::Stop => "stop",
            Autostop::Suspend => "suspend",
        }
    }
}

impl<'de> Deserialize<'de> for Autostop {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Autostop;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`off`, `stop`, `suspend` or a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Autostop, E> {
                Ok(if v { Autostop::Stop } else { Autostop::Off })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Autostop, E> {
                match v {
                    "off" | "false" => Ok(Autostop::Off),
                    "stop" | "true" => Ok(Autostop::Stop),
                    "suspend" => Ok(Autostop::Suspend),
                    other => Err(E::custom(format!(
                        "unknown auto_stop_machines `{other}`, expected `off`, `stop` or `suspend`"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A command: a list of arguments, or one string taken as a single argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Command(pub Vec<String>);

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Command;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of strings or a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Command, E> {
                Ok(Command(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Command, A::Error> {
                Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Command)
            }
        }
        d.deserialize_any(V)
    }
}

/// Check headers: a table of name → value (numbers and booleans made strings), or a list of
/// `{name, value}` (flyctl's old format).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Headers(pub BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Pair {
            name: String,
            value: Value,
        }
        fn text<E: de::Error>(v: Value) -> Result<String, E> {
            match v {
                Value::String(s) => Ok(s),
                Value::Number(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
                other => Err(E::custom(format!(
                    "a header value must be a string, number or boolean, found {other}"
                ))),
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Headers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of header names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.insert(k, text(v)?);
                }
                Ok(Headers(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Headers, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(p) = seq.next_element::<Pair>()? {
                    out.insert(p.name, text(p.value)?);
                }
                Ok(Headers(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A table, or an array of tables (`[mounts]` and `[[mounts]]` both work in flyctl).
pub fn one_or_many<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a table or an array of tables")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<T>, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| vec![t])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Vec<T>, A::Error> {
            Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq))
        }
    }
    d.deserialize_any(V(std::marker::PhantomData)).map(Some)
}

/// `[processes]`: a table of group → command; flyctl's API also answers an empty array
/// (`[[processes]]`) for "none", and arrays of tables merge.
pub fn processes_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<BTreeMap<String, String>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a table of process group names to commands")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            BTreeMap::<String, String>::deserialize(de::value::MapAccessDeserializer::new(map))
                .map(Some)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(t) = seq.next_element::<BTreeMap<String, String>>()? {
                out.extend(t);
            }
            Ok((!out.is_empty()).then_some(out))
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_does() {
        for (text, go) in [
            ("10s", "10s"),
            ("1m21s", "1m21s"),
            ("3m", "3m0s"),
            ("500ms", "500ms"),
            ("1.5s", "1.5s"),
            ("2h", "2h0m0s"),
        ] {
            assert_eq!(go_duration(parse_go_duration(text).unwrap()), go, "{text}");
        }
        assert_eq!(parse_go_duration("10 parsecs"), None);
        assert_eq!(parse_go_duration(""), None);
    }
}
