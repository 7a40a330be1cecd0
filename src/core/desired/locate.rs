//! Where each key of a desired file is: a map from key path (`fly` › `apps` › `x` › `image`)
//! to the 1-based line and column of the key and of its value.
//!
//! serde_yaml gives the position of a syntax error but not of the keys of a value that
//! deserialized fine, and the semantic checks (names, duplicates across files) need those. So
//! each file is read with `yaml-rust2`'s marked event parser, which reports the position of
//! every scalar and collection start; the same pass builds the `serde_yaml::Value` that is
//! then deserialized into the model (one parse per file, not two). Sequence items are indexed
//! by their position (`0`, `1`, …), as serde_path_to_error names them.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_yaml::Value;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Separates the segments of a path key. A unit separator cannot appear in a YAML key that
/// anyone would write, and a flat string hashes much faster than a vector of segments (the
/// index of a 10,000-resource state holds some 100,000 paths).
const SEP: char = '\u{1f}';

/// A 1-based position in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl From<Marker> for Pos {
    fn from(m: Marker) -> Pos {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Pos {
            line: m.line(),
            column: m.col() + 1,
        }
    }
}

/// The internal key of a path given as segments.
pub fn path_key<S: AsRef<str>>(segs: &[S]) -> String {
    let mut key = String::new();
    for (i, s) in segs.iter().enumerate() {
        if i > 0 {
            key.push(SEP);
        }
        key.push_str(s.as_ref());
    }
    key
}

/// A path key shown to a user: `fly.apps.x.image`.
pub fn display_path(key: &str) -> String {
    key.replace(SEP, ".")
}

/// The positions of one entry: the key (or, for a sequence item, the item) and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub key: Pos,
    pub value: Pos,
}

/// A key that appears twice in the same mapping of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    pub path: String,
    pub first: Pos,
    pub second: Pos,
}

/// Why a file could not be read: where, what, and (when it is not a plain syntax slip) what
/// to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
}

/// How many values aliases may copy into one file, in total. An alias (`*x`) copies the
/// value anchored at `&x`, so a few lines of aliases of aliases (the "billion laughs") would
/// build billions of values and exhaust memory before any check runs (the `desired_loader`
/// fuzz target ran out of memory on eight such lines). A hand-written desired file that shares, say, one
/// protection body of 20 values across 50 branches copies 1,000; this leaves two orders
/// of magnitude above that and stays under a few tens of MB of copies.
pub const MAX_ALIAS_COPIES: usize = 100_000;

/// An integer written in a file that a plan cannot carry exactly (see
/// [`crate::core::number`]): outside ±(2^53 − 1), or too large for any integer type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsafeInteger {
    pub path: String,
    pub pos: Pos,
    /// As written.
    pub text: String,
}

/// The positions of every key of one file.
///
/// Positions are needed only to report an error, and a file without errors never asks for
/// one; yet indexing every key of a 100,000-resource file costs a million path strings (a
/// third of the loader's memory and a fifth of its time). So the parse that builds the value
/// finds only what it must check (duplicate keys, unsafe integers) and keeps the text; the
/// key index is built by a second parse the first time a position is asked for.
#[derive(Debug, Clone, Default)]
pub struct FileIndex {
    /// The text the index is built from, when it is first needed (the BOM stripped).
    text: Arc<str>,
    entries: OnceLock<HashMap<String, Entry>>,
    pub duplicates: Vec<DuplicateKey>,
    /// Integer values no plan can carry exactly, in file order.
    pub unsafe_integers: Vec<UnsafeInteger>,
}

impl FileIndex {
    /// Index `text`; a YAML syntax error gives its position and the parser's message.
    pub fn build(text: &str) -> Result<FileIndex, YamlError> {
        parse(text).map(|(index, _)| index)
    }

    /// The position of every key path of the file (built on first use).
    pub fn entries(&self) -> &HashMap<String, Entry> {
        self.entries.get_or_init(|| {
            let mut builder = Builder {
                index: true,
                ..Builder::default()
            };
            // The text parsed once already: it is well-formed, and a second parse of the
            // same text gives the same events.
            let _ = Parser::new_from_str(&self.text).load(&mut builder, true);
            builder.entries
        })
    }

    /// The position of the key at `path`, or of its nearest indexed ancestor.
    pub fn key(&self, path: &str) -> Option<Pos> {
        self.nearest(path).map(|e| e.key)
    }

    /// The position of the value at `path`, or of its nearest indexed ancestor's key.
    pub fn value(&self, path: &str) -> Option<Pos> {
        match self.entries().get(path) {
            Some(e) => Some(e.value),
            None => self.key(path),
        }
    }

    fn nearest(&self, path: &str) -> Option<&Entry> {
        let entries = self.entries();
        let mut p = path;
        loop {
            if let Some(e) = entries.get(p) {
                return Some(e);
            }
            p = &p[..p.rfind(SEP)?];
        }
    }
}

/// The UTF-8 byte order mark. YAML allows one at the start of a stream (YAML 1.2, 5.2) and
/// editors on Windows write it; the parser underneath would read it as part of the first key.
const BOM: char = '\u{feff}';

/// Parse `text` (its first document) into its position index and its value. A YAML syntax
/// error gives its position and the parser's message. A leading byte order mark is skipped
/// (it is invisible in an editor, so columns stay as the editor shows them).
pub fn parse(text: &str) -> Result<(FileIndex, Value), YamlError> {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    let mut builder = Builder::default();
    Parser::new_from_str(text)
        .load(&mut builder, true)
        .map_err(|e| YamlError {
            pos: Pos::from(*e.marker()),
            message: format!("malformed YAML: {}", e.info()),
            hint: None,
        })?;
    if let Some(pos) = builder.too_many_copies {
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
    if let Some(pos) = builder.second_document {
        return Err(YamlError {
            pos,
            message: "malformed YAML: a second YAML document (`---`); a desired file holds \
                      one document, split it into two files"
                .into(),
            hint: None,
        });
    }
    let value = builder.root.unwrap_or(Value::Null);
    Ok((
        FileIndex {
            text: Arc::from(text),
            entries: OnceLock::new(),
            duplicates: builder.duplicates,
            unsafe_integers: builder.unsafe_integers,
        },
        value,
    ))
}

/// A collection being built.
enum Building {
    /// The mapping and the key whose value comes next.
    Map(serde_yaml::Mapping, Option<Value>),
    Seq(Vec<Value>),
}

/// The value of a scalar, resolved as serde_yaml does (YAML 1.2 core schema): plain `null`,
/// `~` and empty are null; `true`/`false` booleans; integers (decimal, `0x`, `0o`, `0b`);
/// floats (`1.5`, `1e3`, `.inf`, `.nan`); anything else, and every quoted scalar, a string.
fn resolve(text: String, style: TScalarStyle, tagged_str: bool) -> Value {
    if style != TScalarStyle::Plain || tagged_str {
        return Value::String(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Number(f64::INFINITY.into());
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Number(f64::NEG_INFINITY.into()),
        ".nan" | ".NaN" | ".NAN" => return Value::Number(f64::NAN.into()),
        _ => {}
    }
    if let Some(n) = parse_int(&text) {
        return Value::Number(n);
    }
    if looks_like_float(&text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Number(f.into());
    }
    Value::String(text)
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

enum Frame {
    Map {
        /// Length of the builder's path string at this mapping.
        base: usize,
        /// The key whose value comes next, with its position; `None` while a key is expected.
        key: Option<(String, Pos)>,
        seen: HashMap<String, Pos>,
    },
    Seq {
        base: usize,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    /// Whether to record every key's position in `entries` (see [`FileIndex`]).
    index: bool,
    path: String,
    stack: Vec<Frame>,
    entries: HashMap<String, Entry>,
    duplicates: Vec<DuplicateKey>,
    /// The value under construction, parallel to `stack`.
    values: Vec<Building>,
    /// Anchored values, for aliases, with how many values each holds.
    anchors: HashMap<usize, (Value, usize)>,
    /// Values built so far, aliases counted by what they copy.
    built: usize,
    /// Values aliases copied so far (at most [`MAX_ALIAS_COPIES`]).
    copied: usize,
    /// The alias that would have passed [`MAX_ALIAS_COPIES`]; no alias is copied after it.
    too_many_copies: Option<Pos>,
    /// `built` when each collection being built started, parallel to `values`.
    starts: Vec<usize>,
    documents: usize,
    second_document: Option<Pos>,
    unsafe_integers: Vec<UnsafeInteger>,
    /// The anchor of each collection being built.
    pending_anchors: Vec<usize>,
    root: Option<Value>,
}

impl Builder {
    /// Add a finished value (or key) of `size` values to the collection being built, or make
    /// it the root.
    fn add_value(&mut self, v: Value, anchor: usize, size: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (v.clone(), size));
        }
        match self.values.last_mut() {
            None => self.root = Some(v),
            Some(Building::Seq(items)) => items.push(v),
            Some(Building::Map(map, key)) => match key.take() {
                None => *key = Some(v),
                Some(k) => {
                    map.insert(k, v);
                }
            },
        }
    }

    /// Sets `self.path` to the path of the value about to start and records its entry.
    /// Returns false when the event is a mapping key (handled here) rather than a value.
    fn begin_value(&mut self, mark: Pos, scalar_key: Option<&str>) -> bool {
        let Some(top) = self.stack.last_mut() else {
            self.path.clear();
            return true;
        };
        match top {
            Frame::Map { base, key, seen } => {
                self.path.truncate(*base);
                match key.take() {
                    None => {
                        // This event is a key.
                        let name = scalar_key.unwrap_or("<complex key>").to_string();
                        if let Some(first) = seen.get(&name) {
                            let mut p = self.path.clone();
                            push_seg(&mut p, &name);
                            self.duplicates.push(DuplicateKey {
                                path: p,
                                first: *first,
                                second: mark,
                            });
                        } else {
                            seen.insert(name.clone(), mark);
                        }
                        *key = Some((name, mark));
                        false
                    }
                    Some((name, key_pos)) => {
                        push_seg(&mut self.path, &name);
                        if self.index {
                            self.entries.entry(self.path.clone()).or_insert(Entry {
                                key: key_pos,
                                value: mark,
                            });
                        }
                        true
                    }
                }
            }
            Frame::Seq { base, next } => {
                self.path.truncate(*base);
                push_seg(&mut self.path, &next.to_string());
                *next += 1;
                if self.index {
                    self.entries.insert(
                        self.path.clone(),
                        Entry {
                            key: mark,
                            value: mark,
                        },
                    );
                }
                true
            }
        }
    }
}

fn push_seg(path: &mut String, seg: &str) {
    if !path.is_empty() {
        path.push(SEP);
    }
    path.push_str(seg);
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Pos::from(mark);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let is_value = self.begin_value(pos, Some(&text));
                let tagged_str = tag.is_some_and(|t| t.suffix == "str");
                if is_value && is_unsafe_integer(&text, style, tagged_str) {
                    self.unsafe_integers.push(UnsafeInteger {
                        path: self.path.clone(),
                        pos,
                        text: text.clone(),
                    });
                }
                self.built += 1;
                self.add_value(resolve(text, style, tagged_str), anchor, 1);
            }
            Event::Alias(id) => {
                self.begin_value(pos, Some("<alias>"));
                let (v, size) = match self.anchors.get(&id) {
                    Some((_, size))
                        if self.too_many_copies.is_some()
                            || self.copied + size > MAX_ALIAS_COPIES =>
                    {
                        // Refused once parsing ends; until then build nothing more.
                        self.too_many_copies.get_or_insert(pos);
                        (Value::Null, 1)
                    }
                    Some((v, size)) => {
                        self.copied += size;
                        (v.clone(), *size)
                    }
                    None => (Value::Null, 1),
                };
                self.built += size;
                self.add_value(v, 0, size);
            }
            Event::MappingStart(anchor, _) => {
                // A collection used as a key is indexed under `<complex key>`.
                self.begin_value(pos, None);
                self.stack.push(Frame::Map {
                    base: self.path.len(),
                    key: None,
                    seen: HashMap::new(),
                });
                self.values
                    .push(Building::Map(serde_yaml::Mapping::new(), None));
                self.starts.push(self.built);
                self.built += 1;
                self.pending_anchors.push(anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.begin_value(pos, None);
                self.stack.push(Frame::Seq {
                    base: self.path.len(),
                    next: 0,
                });
                self.values.push(Building::Seq(Vec::new()));
                self.starts.push(self.built);
                self.built += 1;
                self.pending_anchors.push(anchor);
            }
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents == 2 {
                    self.second_document = Some(pos);
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                let anchor = self.pending_anchors.pop().unwrap_or(0);
                let v = match self.values.pop() {
                    Some(Building::Map(m, _)) => Value::Mapping(m),
                    Some(Building::Seq(items)) => Value::Sequence(items),
                    None => Value::Null,
                };
                let size = self.built - self.starts.pop().unwrap_or(self.built);
                self.add_value(v, anchor, size);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_values_and_items() {
        let text = "fly:\n  org: pay-ready\n  apps:\n    a:\n      regions: [ord, sea]\n";
        let idx = FileIndex::build(text).unwrap();
        let at = |segs: &[&str]| idx.entries()[&path_key(segs)];
        assert_eq!(at(&["fly"]).key, Pos { line: 1, column: 1 });
        assert_eq!(at(&["fly", "org"]).key, Pos { line: 2, column: 3 });
        assert_eq!(at(&["fly", "org"]).value, Pos { line: 2, column: 8 });
        assert_eq!(at(&["fly", "apps", "a"]).key, Pos { line: 4, column: 5 });
        assert_eq!(
            at(&["fly", "apps", "a", "regions", "1"]).key,
            Pos {
                line: 5,
                column: 22
            }
        );
        assert!(idx.duplicates.is_empty());
    }

    #[test]
    fn duplicate_keys_in_one_mapping_are_reported_with_both_positions() {
        let idx = FileIndex::build("a: 1\nb: 2\na: 3\n").unwrap();
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
    fn nearest_ancestor_answers_for_paths_not_indexed() {
        let idx = FileIndex::build("fly:\n  org: x\n").unwrap();
        assert_eq!(
            idx.key(&path_key(&["fly", "org", "deeper"])),
            Some(Pos { line: 2, column: 3 })
        );
        assert_eq!(idx.key("nothing"), None);
    }

    #[test]
    fn values_resolve_as_serde_yaml_does() {
        let text =
            "a: 1\nb: '1'\nc: true\nd: ~\ne: 1.5\nf: [x, 0x10, -3]\ng: &x {h: inf}\ni: *x\nj:\n";
        let (_, built) = parse(text).unwrap();
        let expected: Value = serde_yaml::from_str(text).unwrap();
        assert_eq!(built, expected);
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
        let e = FileIndex::build("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.pos.line >= 1, "{e:?}");
    }
}
