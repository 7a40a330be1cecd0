//! Where each key of a desired file is: a map from key path (`fly` › `apps` › `x` › `image`)
//! to the 1-based line and column of the key and of its value.
//!
//! serde_yaml gives the position of a syntax error but not of the keys of a value that
//! deserialized fine, and the semantic checks (names, duplicates across files) need those. So
//! each file is read with `yaml-rust2`'s marked event parser, which reports the position of
//! every scalar and collection start. The parse that builds the file's value (`tree.rs`)
//! records no position but those of its findings; the index of every key is
//! built by a second parse of the text, the first time an error asks for a position.
//! Sequence items are indexed by their position (`0`, `1`, …), as serde_path_to_error names
//! them.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

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
    /// The index of `text` (the BOM stripped), with what the parse that read it found.
    pub fn new(
        text: &str,
        duplicates: Vec<DuplicateKey>,
        unsafe_integers: Vec<UnsafeInteger>,
    ) -> FileIndex {
        FileIndex {
            text: Arc::from(text),
            entries: OnceLock::new(),
            duplicates,
            unsafe_integers,
        }
    }

    /// Whether the key index was built (a position was asked for).
    pub fn is_indexed(&self) -> bool {
        self.entries.get().is_some()
    }

    /// The position of every key path of the file (built on first use).
    pub fn entries(&self) -> &HashMap<String, Entry> {
        self.entries.get_or_init(|| {
            let mut builder = Indexer::default();
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
pub const BOM: char = '\u{feff}';

enum Frame {
    Map {
        /// Length of the indexer's path string at this mapping.
        base: usize,
        /// The key whose value comes next, with its position; `None` while a key is expected.
        key: Option<(String, Pos)>,
    },
    Seq {
        base: usize,
        next: usize,
    },
}

/// The event receiver that records where each key is (see [`FileIndex`]).
#[derive(Default)]
struct Indexer {
    path: String,
    stack: Vec<Frame>,
    entries: HashMap<String, Entry>,
}

impl Indexer {
    /// Sets `self.path` to the path of the value about to start and records its entry.
    /// Does nothing more when the event is a mapping key (`scalar_key`: its text).
    fn begin_value(&mut self, mark: Pos, scalar_key: Option<&str>) {
        let Some(top) = self.stack.last_mut() else {
            self.path.clear();
            return;
        };
        match top {
            Frame::Map { base, key } => {
                self.path.truncate(*base);
                match key.take() {
                    None => {
                        // This event is a key.
                        let name = scalar_key.unwrap_or("<complex key>").to_string();
                        *key = Some((name, mark));
                    }
                    Some((name, key_pos)) => {
                        push_seg(&mut self.path, &name);
                        // A key written twice keeps its first place.
                        self.entries.entry(self.path.clone()).or_insert(Entry {
                            key: key_pos,
                            value: mark,
                        });
                    }
                }
            }
            Frame::Seq { base, next } => {
                self.path.truncate(*base);
                push_seg(&mut self.path, &next.to_string());
                *next += 1;
                self.entries.insert(
                    self.path.clone(),
                    Entry {
                        key: mark,
                        value: mark,
                    },
                );
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

impl MarkedEventReceiver for Indexer {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Pos::from(mark);
        match ev {
            Event::Scalar(text, ..) => self.begin_value(pos, Some(&text)),
            Event::Alias(_) => self.begin_value(pos, Some("<alias>")),
            Event::MappingStart(..) => {
                // A collection used as a key is indexed under `<complex key>`.
                self.begin_value(pos, None);
                self.stack.push(Frame::Map {
                    base: self.path.len(),
                    key: None,
                });
            }
            Event::SequenceStart(..) => {
                self.begin_value(pos, None);
                self.stack.push(Frame::Seq {
                    base: self.path.len(),
                    next: 0,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
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
        let idx = FileIndex::new(text, Vec::new(), Vec::new());
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
    fn nearest_ancestor_answers_for_paths_not_indexed() {
        let idx = FileIndex::new("fly:\n  org: x\n", Vec::new(), Vec::new());
        assert_eq!(
            idx.key(&path_key(&["fly", "org", "deeper"])),
            Some(Pos { line: 2, column: 3 })
        );
        assert_eq!(idx.key("nothing"), None);
    }
}
