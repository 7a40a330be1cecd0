//! One desired file's text → its [`Node`] tree, in one pass of `yaml-rust2`'s event parser,
//! finding on the way what only the events show: keys written twice in one mapping, and
//! integers a plan cannot carry exactly.
//!
//! Built for a file that has no error, which is nearly every file: no key path is written
//! out unless an error needs it (the path is read off the stack of open collections then),
//! and a mapping finds a repeated key by comparing its own keys, hashing them only once it
//! holds more than [`SCAN_UP_TO`]. Where each key is, is the business of
//! [`super::locate::FileIndex`], asked only once an error needs a position.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::locate::{
    BOM, DuplicateKey, FileIndex, MAX_ALIAS_COPIES, Pos, UnsafeInteger, YamlError, path_key,
};
use super::node::Node;

/// A mapping compares a new key with each of its keys up to this many; past it, it keeps
/// its keys in a hash map. Comparing 16 short strings costs less than hashing one key and
/// allocating a table for each small mapping (a desired file is mostly small mappings: an
/// app's guest, its env, a protection's checks), and a large one (the apps, the
/// repositories) stays linear.
const SCAN_UP_TO: usize = 16;

/// Parse `text` (its first document) into its position index and its value. A YAML syntax
/// error gives its position and the parser's message. A leading byte order mark is skipped
/// (it is invisible in an editor, so columns stay as the editor shows them).
pub fn parse(text: &str) -> Result<(FileIndex, Node), YamlError> {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    let mut receiver = Receiver::default();
    Parser::new_from_str(text)
        .load(&mut receiver, true)
        .map_err(|e| YamlError {
            pos: Pos::from(*e.marker()),
            message: format!("malformed YAML: {}", e.info()),
            hint: None,
        })?;
    let tree = receiver.tree;
    if let Some(pos) = tree.too_many_copies {
        return Err(YamlError {
            pos,
            message: format!(
                "aliases copy more than {MAX_ALIAS_COPIES} values into this file \
                 (this alias passes the limit)"
            ),
            hint: Some(
                "write the shared values out, or anchor them once and alias that anchor \
                 directly; aliases of aliases multiply what they copy"
                    .into(),
            ),
        });
    }
    if let Some(pos) = tree.second_document {
        return Err(YamlError {
            pos,
            message: "malformed YAML: a second YAML document (`---`); a desired file holds \
                      one document, split it into two files"
                .into(),
            hint: None,
        });
    }
    Ok((
        FileIndex::new(text, tree.duplicates, tree.unsafe_integers),
        tree.root.unwrap_or_default(),
    ))
}

/// What the receiver built: the root value and what it found. [`DuplicateKey::first`] is
/// filled in.
#[derive(Default)]
pub struct Tree {
    pub root: Option<Node>,
    pub duplicates: Vec<DuplicateKey>,
    pub unsafe_integers: Vec<UnsafeInteger>,
    /// The alias that would have passed [`MAX_ALIAS_COPIES`]; no alias is copied after it.
    pub too_many_copies: Option<Pos>,
    pub second_document: Option<Pos>,
}

/// The key whose value a mapping waits for.
enum Key {
    /// The next event is a key.
    Expected,
    Pending {
        /// `None` while a collection used as a key is being built.
        node: Option<Node>,
        /// The key as written, when it is not the node's own string (a `null`, boolean or
        /// number key, an alias, a collection): its segment in a path.
        text: Option<String>,
    },
}

struct MapBuild {
    entries: Vec<(Node, Node)>,
    key: Key,
    /// Where this mapping's key positions start in [`Receiver::key_pos`] (while `seen` is
    /// `None`, its keys are the strings of `entries` and their positions lie there, in order).
    pos_base: usize,
    /// Every key as written with its first position, once the mapping holds more than
    /// [`SCAN_UP_TO`] keys or a key whose text is not its node's string.
    seen: Option<HashMap<String, Pos>>,
    /// Whether a key whose text is not its node's string was seen: then two keys written
    /// differently may still be equal (`1` and `0x1`) and are merged as serde_yaml's
    /// `Mapping` merges them.
    irregular: bool,
}

enum Build {
    Map(MapBuild),
    Seq(Vec<Node>),
}

/// A collection being built.
struct Open {
    build: Build,
    anchor: usize,
    /// `Receiver::built` when it started.
    start: usize,
}

/// The event receiver.
#[derive(Default)]
pub struct Receiver {
    stack: Vec<Open>,
    /// Positions of the keys of open mappings not yet in `seen` mode, stacked (a mapping gets
    /// no key while a collection inside it is open, so each one's positions are contiguous).
    key_pos: Vec<Pos>,
    /// Anchored values, for aliases, with how many values each holds.
    anchors: HashMap<usize, (Node, usize)>,
    /// Values built so far, aliases counted by what they copy.
    built: usize,
    /// Values aliases copied so far (at most [`MAX_ALIAS_COPIES`]).
    copied: usize,
    documents: usize,
    pub tree: Tree,
}

/// What the next event is to the collection it lands in.
#[derive(PartialEq, Eq)]
enum Role {
    Key,
    Value,
}

/// The text of a key that is not a string, kept for its path segment.
const COMPLEX_KEY: &str = "<complex key>";
const ALIAS_KEY: &str = "<alias>";

impl Receiver {
    fn role(&self) -> Role {
        match self.stack.last() {
            Some(Open {
                build:
                    Build::Map(MapBuild {
                        key: Key::Expected, ..
                    }),
                ..
            }) => Role::Key,
            _ => Role::Value,
        }
    }

    /// The key path of the value about to start (`with_top`) or of the key about to be
    /// registered in the innermost mapping (not `with_top`; `last` is then its text).
    fn path(&self, last: Option<&str>) -> String {
        let levels = match last {
            Some(_) => &self.stack[..self.stack.len() - 1],
            None => &self.stack[..],
        };
        let mut segs: Vec<String> = Vec::new();
        for open in levels {
            match &open.build {
                Build::Seq(items) => segs.push(items.len().to_string()),
                Build::Map(m) => match &m.key {
                    // Inside a collection used as a key: paths stay those of the mapping.
                    Key::Pending { node: None, .. } | Key::Expected => {}
                    Key::Pending {
                        text: Some(t),
                        node: Some(_),
                    } => segs.push(t.clone()),
                    Key::Pending {
                        text: None,
                        node: Some(n),
                    } => segs.push(match n {
                        Node::String(s) => s.clone(),
                        _ => String::new(),
                    }),
                },
            }
        }
        segs.extend(last.map(str::to_string));
        path_key(&segs)
    }

    /// Register a key of the innermost mapping, written `text`, at `pos`: report it when the
    /// mapping has it already. `regular` says whether the key's node is the string `text`.
    fn register_key(&mut self, text: &str, regular: bool, pos: Pos) {
        let Some(Open {
            build: Build::Map(m),
            ..
        }) = self.stack.last_mut()
        else {
            return;
        };
        let switch = m.seen.is_none() && (!regular || m.entries.len() >= SCAN_UP_TO);
        if switch {
            let positions = self.key_pos.drain(m.pos_base..);
            let seen = m
                .entries
                .iter()
                .zip(positions)
                .rev()
                .filter_map(|((k, _), p)| match k {
                    Node::String(s) => Some((s.clone(), p)),
                    _ => None,
                })
                .collect();
            m.seen = Some(seen);
        }
        m.irregular |= !regular;
        let first = match &mut m.seen {
            Some(seen) => match seen.get(text) {
                Some(first) => Some(*first),
                None => {
                    seen.insert(text.to_string(), pos);
                    None
                }
            },
            None => {
                let found = m
                    .entries
                    .iter()
                    .position(|(k, _)| matches!(k, Node::String(s) if s == text));
                self.key_pos.push(pos);
                found.map(|i| self.key_pos[m.pos_base + i])
            }
        };
        if let Some(first) = first {
            let path = self.path(Some(text));
            self.tree.duplicates.push(DuplicateKey {
                path,
                first,
                second: pos,
            });
        }
    }

    /// Add a finished value (or key) of `size` values to the collection being built, or make
    /// it the root.
    fn add(&mut self, v: Node, anchor: usize, size: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (v.clone(), size));
        }
        let Some(open) = self.stack.last_mut() else {
            self.tree.root = Some(v);
            return;
        };
        match &mut open.build {
            Build::Seq(items) => items.push(v),
            Build::Map(m) => match std::mem::replace(&mut m.key, Key::Expected) {
                Key::Pending {
                    node: Some(k),
                    text,
                } => {
                    let scan = m.irregular || text.is_some();
                    Node::insert(&mut m.entries, k, v, scan);
                }
                Key::Pending { node: None, text } => {
                    m.key = Key::Pending {
                        node: Some(v),
                        text,
                    }
                }
                Key::Expected => {}
            },
        }
    }

    /// Set the key the innermost mapping waits a value for.
    fn set_key(&mut self, node: Option<Node>, text: Option<String>) {
        if let Some(Open {
            build: Build::Map(m),
            ..
        }) = self.stack.last_mut()
        {
            m.key = Key::Pending { node, text };
        }
    }

    fn open(&mut self, build: Build, anchor: usize) {
        self.stack.push(Open {
            build,
            anchor,
            start: self.built,
        });
        self.built += 1;
    }

    fn close(&mut self) {
        let Some(open) = self.stack.pop() else {
            return;
        };
        let v = match open.build {
            Build::Map(m) => {
                if m.seen.is_none() {
                    self.key_pos.truncate(m.pos_base);
                }
                Node::Map(m.entries)
            }
            Build::Seq(items) => Node::Seq(items),
        };
        let size = self.built - open.start;
        self.add(v, open.anchor, size);
    }
}

impl MarkedEventReceiver for Receiver {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Pos::from(mark);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let tagged_str = tag.is_some_and(|t| t.suffix == "str");
                let resolved = resolve(&text, style, tagged_str);
                if self.role() == Role::Key {
                    self.register_key(&text, resolved.is_none(), pos);
                    let (node, text) = match resolved {
                        None => (Node::String(text), None),
                        Some(n) => (n, Some(text)),
                    };
                    if anchor > 0 {
                        self.anchors.insert(anchor, (node.clone(), 1));
                    }
                    self.built += 1;
                    self.set_key(Some(node), text);
                    return;
                }
                if is_unsafe_integer(&text, style, tagged_str) {
                    self.tree.unsafe_integers.push(UnsafeInteger {
                        path: self.path(None),
                        pos,
                        text: text.clone(),
                    });
                }
                self.built += 1;
                self.add(resolved.unwrap_or(Node::String(text)), anchor, 1);
            }
            Event::Alias(id) => {
                let is_key = self.role() == Role::Key;
                if is_key {
                    self.register_key(ALIAS_KEY, false, pos);
                }
                let (v, size) = match self.anchors.get(&id) {
                    Some((_, size))
                        if self.tree.too_many_copies.is_some()
                            || self.copied + size > MAX_ALIAS_COPIES =>
                    {
                        // Refused once parsing ends; until then build nothing more.
                        self.tree.too_many_copies.get_or_insert(pos);
                        (Node::Null, 1)
                    }
                    Some((v, size)) => {
                        self.copied += size;
                        (v.clone(), *size)
                    }
                    None => (Node::Null, 1),
                };
                self.built += size;
                if is_key {
                    self.set_key(Some(v), Some(ALIAS_KEY.into()));
                } else {
                    self.add(v, 0, size);
                }
            }
            Event::MappingStart(anchor, _) => {
                if self.role() == Role::Key {
                    self.register_key(COMPLEX_KEY, false, pos);
                    self.set_key(None, Some(COMPLEX_KEY.into()));
                }
                let build = Build::Map(MapBuild {
                    entries: Vec::new(),
                    key: Key::Expected,
                    pos_base: self.key_pos.len(),
                    seen: None,
                    irregular: false,
                });
                self.open(build, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                if self.role() == Role::Key {
                    self.register_key(COMPLEX_KEY, false, pos);
                    self.set_key(None, Some(COMPLEX_KEY.into()));
                }
                self.open(Build::Seq(Vec::new()), anchor);
            }
            Event::MappingEnd | Event::SequenceEnd => self.close(),
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents == 2 {
                    self.tree.second_document = Some(pos);
                }
            }
            _ => {}
        }
    }
}

/// The value of a scalar that is not a string, resolved as serde_yaml does (YAML 1.2 core
/// schema): plain `null`, `~` and empty are null; `true`/`false` booleans; integers
/// (decimal, `0x`, `0o`, `0b`); floats (`1.5`, `1e3`, `.inf`, `.nan`). `None` for a string:
/// anything else, and every quoted or `!!str` scalar.
pub fn resolve(text: &str, style: TScalarStyle, tagged_str: bool) -> Option<Node> {
    if style != TScalarStyle::Plain || tagged_str {
        return None;
    }
    let number = |f: f64| Some(Node::Number(f.into()));
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Node::Null),
        "true" | "True" | "TRUE" => return Some(Node::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Node::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return number(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return number(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return number(f64::NAN),
        _ => {}
    }
    // Only a digit, a sign or a dot can open a number: most scalars stop here.
    if !text.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.')) {
        return None;
    }
    if let Some(n) = parse_int(text) {
        return Some(Node::Number(n));
    }
    if looks_like_float(text)
        && let Ok(f) = text.parse::<f64>()
    {
        return number(f);
    }
    None
}

fn parse_int(s: &str) -> Option<serde_yaml::Number> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(d) = digits.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = digits.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = digits.strip_prefix("0b") {
        (2, d)
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        let n = i64::try_from(magnitude)
            .ok()
            .map(|m| -m)
            .or_else(|| (magnitude == 1 << 63).then_some(i64::MIN))?;
        Some(n.into())
    } else {
        Some(magnitude.into())
    }
}

/// Whether a scalar is an integer that a double cannot hold exactly: plain, resolving to an
/// integer outside ±(2^53 − 1), or written in decimal digits too many for any integer type
/// (which [`resolve`] would otherwise read as a rounded float).
fn is_unsafe_integer(text: &str, style: TScalarStyle, tagged_str: bool) -> bool {
    if style != TScalarStyle::Plain || tagged_str {
        return false;
    }
    match parse_int(text) {
        Some(n) => {
            let n = n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from));
            n.is_some_and(|n| !crate::core::number::is_safe_integer(n))
        }
        None => {
            let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, so that words Rust's float parser
/// accepts (`inf`, `NaN`) stay strings.
fn looks_like_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |d: &str| d.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = digits(int)
        && frac.is_none_or(digits)
        && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()));
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exp_ok
}

#[cfg(test)]
mod tests {
    use super::super::locate::{display_path, path_key};
    use super::*;

    fn build(text: &str) -> Result<FileIndex, YamlError> {
        parse(text).map(|(index, _)| index)
    }

    #[test]
    fn duplicate_keys_in_one_mapping_are_reported_with_both_positions() {
        let idx = build("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(
            idx.duplicates,
            vec![DuplicateKey {
                path: "a".into(),
                first: Pos { line: 1, column: 1 },
                second: Pos { line: 3, column: 1 },
            }]
        );
    }

    #[test]
    fn a_duplicate_inside_a_duplicate_names_the_first_of_its_own_mapping() {
        let idx = build("a: {b: 0}\na: {b: 1, b: 2}\n").unwrap();
        let at = |line, column| Pos { line, column };
        assert_eq!(
            idx.duplicates,
            vec![
                DuplicateKey {
                    path: "a".into(),
                    first: at(1, 1),
                    second: at(2, 1),
                },
                DuplicateKey {
                    path: path_key(&["a", "b"]),
                    first: at(2, 5),
                    second: at(2, 11),
                },
            ]
        );
    }

    #[test]
    fn duplicates_are_found_in_large_mappings_and_among_keys_of_every_kind() {
        let mut text = String::from("m:\n");
        for i in 0..40 {
            text.push_str(&format!("  k{i}: {i}\n"));
        }
        text.push_str("  k3: again\n  1: x\n  0x1: y\n  0x1: z\n  true: t\n  'true': u\n");
        let idx = build(&text).unwrap();
        let found: Vec<(String, usize, usize)> = idx
            .duplicates
            .iter()
            .map(|d| (display_path(&d.path), d.first.line, d.second.line))
            .collect();
        assert_eq!(
            found,
            [
                ("m.k3".to_string(), 5, 42),
                ("m.0x1".to_string(), 44, 45),
                ("m.true".to_string(), 46, 47),
            ]
        );
    }

    #[test]
    fn keys_equal_as_values_are_merged_as_serde_yaml_merges_them() {
        let (idx, node) = parse("1: x\n0x1: y\n~: a\nnull: b\n").unwrap();
        assert!(idx.duplicates.is_empty());
        let mut expected = serde_yaml::Mapping::new();
        expected.insert(1.into(), "y".into());
        expected.insert(serde_yaml::Value::Null, "b".into());
        assert_eq!(node.to_value(), serde_yaml::Value::Mapping(expected));
    }

    #[test]
    fn values_resolve_as_serde_yaml_does() {
        let text =
            "a: 1\nb: '1'\nc: true\nd: ~\ne: 1.5\nf: [x, 0x10, -3]\ng: &x {h: inf}\ni: *x\nj:\n";
        let (_, built) = parse(text).unwrap();
        let expected: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
        assert_eq!(built.to_value(), expected);
    }

    #[test]
    fn a_second_document_is_refused() {
        let e = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(e.pos.line, 2, "{}", e.message);
        assert!(parse("---\na: 1\n").is_ok());
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let (idx, value) = parse("\u{feff}fly:\n  org: x\n").unwrap();
        assert_eq!(value, parse("fly:\n  org: x\n").unwrap().1);
        assert_eq!(
            idx.entries()[&path_key(&["fly", "org"])].key,
            Pos { line: 2, column: 3 }
        );
    }

    #[test]
    fn integers_a_double_cannot_hold_are_indexed() {
        let text = "a: 9007199254740991\nb: [1, 9007199254740993]\nc: -9007199254740992\n\
                    d: 99999999999999999999\ne: '9007199254740993'\nf: 1e20\n";
        let (idx, _) = parse(text).unwrap();
        let found: Vec<(String, usize, &str)> = idx
            .unsafe_integers
            .iter()
            .map(|u| (display_path(&u.path), u.pos.line, u.text.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("b.1".to_string(), 2, "9007199254740993"),
                ("c".to_string(), 3, "-9007199254740992"),
                ("d".to_string(), 4, "99999999999999999999"),
            ]
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = build("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.pos.line >= 1, "{e:?}");
    }
}
