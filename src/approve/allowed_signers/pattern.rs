//! Pattern lists exactly as OpenSSH matches them (`match.c`: `match_pattern` and
//! `match_pattern_list`, `ssh_config(5)` PATTERNS): comma-separated patterns, `*` any run of
//! bytes, `?` one byte, a leading `!` negates. Matching is on bytes, as in C: `?` matches one
//! byte, so it never matches a two-byte UTF-8 character.

use std::collections::{HashSet, VecDeque};

/// OpenSSH copies each sub-pattern into a 1024-byte buffer; a sub-pattern that does not fit
/// (1023 bytes or more) makes the whole list fail to match (`match_pattern_list` returns 0).
const MAX_SUBPATTERN: usize = 1023;

/// How many configurations [`names_someone`] explores before giving up (and answering "no
/// one", which refuses rather than accepts). Real principal lists are a few short patterns
/// and need a few dozen; this bound only stops a hostile file from costing time.
const MAX_CONFIGURATIONS: usize = 100_000;

/// The result of matching a string against a pattern list, as OpenSSH's
/// `match_pattern_list`: a negated pattern that matches wins over everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternMatch {
    /// No pattern matched (OpenSSH's 0).
    None,
    /// A positive pattern matched and no negated one did (1).
    Positive,
    /// A negated (`!`) pattern matched (-1).
    Negated,
}

/// The sub-patterns of a list as `match_pattern_list` cuts them: `(negated, pattern)`. A
/// trailing comma ends the list (no empty pattern after it); `None` when a sub-pattern is too
/// long, which makes OpenSSH answer "no match" for the list.
fn subpatterns(list: &str) -> Vec<Option<(bool, &[u8])>> {
    let bytes = list.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let negated = bytes[i] == b'!';
        if negated {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b',' {
            i += 1;
        }
        if i - start >= MAX_SUBPATTERN {
            out.push(None);
            return out;
        }
        out.push(Some((negated, &bytes[start..i])));
        if i < bytes.len() {
            i += 1; // the comma
        }
    }
    out
}

/// Match `s` against a comma-separated pattern list, as OpenSSH's
/// `match_pattern_list(s, list, 0)`.
pub fn match_pattern_list(s: &str, list: &str) -> PatternMatch {
    let mut positive = false;
    for sub in subpatterns(list) {
        let Some((negated, pattern)) = sub else {
            return PatternMatch::None;
        };
        if match_bytes(s.as_bytes(), pattern) {
            if negated {
                return PatternMatch::Negated;
            }
            positive = true;
        }
    }
    if positive {
        PatternMatch::Positive
    } else {
        PatternMatch::None
    }
}

/// Match `s` against one wildcard pattern (`*` any run of bytes, `?` one byte), as OpenSSH's
/// `match_pattern`: a non-deterministic automaton with one state per pattern byte, so hostile
/// patterns cost at most `len(s) × len(pattern)` steps.
pub fn match_pattern(s: &str, pattern: &str) -> bool {
    match_bytes(s.as_bytes(), pattern.as_bytes())
}

fn match_bytes(s: &[u8], pattern: &[u8]) -> bool {
    let mut states = start(pattern);
    for &c in s {
        states = step(pattern, &states, c);
        if !states.iter().any(|&a| a) {
            return false;
        }
    }
    states[pattern.len()]
}

/// The active states before any input: state 0 and what `*` reaches from it.
fn start(pattern: &[u8]) -> Vec<bool> {
    let mut states = vec![false; pattern.len() + 1];
    states[0] = true;
    closure(pattern, &mut states);
    states
}

/// `*` may match nothing: an active `*` state also activates the next one.
fn closure(pattern: &[u8], states: &mut [bool]) {
    for i in 0..pattern.len() {
        if states[i] && pattern[i] == b'*' {
            states[i + 1] = true;
        }
    }
}

fn step(pattern: &[u8], states: &[bool], c: u8) -> Vec<bool> {
    let mut next = vec![false; pattern.len() + 1];
    for i in 0..pattern.len() {
        if !states[i] {
            continue;
        }
        match pattern[i] {
            b'*' => next[i] = true,
            p if p == b'?' || p == c => next[i + 1] = true,
            _ => {}
        }
    }
    closure(pattern, &mut next);
    next
}

/// Whether the pattern list accepts at least one (non-empty) principal, i.e. some string for
/// which `match_pattern_list` answers [`PatternMatch::Positive`]; `Some` with the positive
/// patterns that do (each accepts a string no negation excludes), joined with `,`.
///
/// `*b,!?b` names `xyb` (a string `*b` matches and `?b` does not), so it names `*b`;
/// `alice@x,!alice@*` names nobody. Decided exactly by exploring the product of the
/// automata of the positive pattern and of every negation, over the bytes the patterns
/// mention plus one byte they do not.
pub fn names_someone(list: &str) -> Option<String> {
    let subs: Option<Vec<(bool, &[u8])>> = subpatterns(list).into_iter().collect();
    let subs = subs?;
    let negations: Vec<&[u8]> = subs.iter().filter(|s| s.0).map(|s| s.1).collect();
    let named: Vec<&str> = subs
        .iter()
        .filter(|(negated, pattern)| !negated && accepts_outside(pattern, &negations))
        .filter_map(|(_, pattern)| std::str::from_utf8(pattern).ok())
        .collect();
    if named.is_empty() {
        None
    } else {
        Some(named.join(","))
    }
}

/// Is there a non-empty string `pattern` matches and no pattern of `negations` does?
fn accepts_outside(pattern: &[u8], negations: &[&[u8]]) -> bool {
    let mut alphabet: Vec<u8> = pattern
        .iter()
        .chain(negations.iter().flat_map(|n| n.iter()))
        .copied()
        .filter(|&b| b != b'*' && b != b'?')
        .collect();
    alphabet.sort_unstable();
    alphabet.dedup();
    if let Some(other) = (1..=255u8).find(|b| alphabet.binary_search(b).is_err()) {
        alphabet.push(other);
    }
    let automata: Vec<&[u8]> = std::iter::once(pattern)
        .chain(negations.iter().copied())
        .collect();
    let first: Vec<Vec<bool>> = automata.iter().map(|p| start(p)).collect();
    let mut seen: HashSet<Vec<Vec<bool>>> = HashSet::new();
    let mut queue = VecDeque::from([first]);
    while let Some(config) = queue.pop_front() {
        if seen.len() >= MAX_CONFIGURATIONS {
            return false;
        }
        if !seen.insert(config.clone()) {
            continue;
        }
        for &c in &alphabet {
            let next: Vec<Vec<bool>> = automata
                .iter()
                .zip(&config)
                .map(|(p, states)| step(p, states, c))
                .collect();
            if !next[0].iter().any(|&a| a) {
                continue; // the positive pattern can no longer match
            }
            let accepted = next[0][pattern.len()]
                && automata[1..]
                    .iter()
                    .zip(&next[1..])
                    .all(|(p, states)| !states[p.len()]);
            if accepted {
                return true;
            }
            if !seen.contains(&next) {
                queue.push_back(next);
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_openssh() {
        assert!(match_pattern("alice@example.com", "*@example.com"));
        assert!(match_pattern("alice@example.com", "alic?@example.com"));
        assert!(match_pattern("a", "*"));
        assert!(match_pattern("", "*"));
        assert!(!match_pattern("", "?"));
        assert!(match_pattern("", ""));
        assert!(!match_pattern("a", ""));
        assert!(match_pattern("abcabc", "*abc"));
        assert!(match_pattern("abXbc", "ab*bc"));
        assert!(!match_pattern("abXbd", "ab*bc"));
        assert!(!match_pattern("Alice@example.com", "alice@example.com"));
        assert!(match_pattern("x*y", "x*y"));
        assert!(!match_pattern(
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
            "*a*a*a*a*a*a*a*a*c"
        ));
        // Bytes, as in C: `?` is one byte, `é` is two.
        assert!(!match_pattern("é", "?"));
        assert!(match_pattern("é", "??"));
    }

    #[test]
    fn negation_wins_over_positive_patterns() {
        assert_eq!(
            match_pattern_list("bob@example.com", "*@example.com,!bob@*"),
            PatternMatch::Negated
        );
        assert_eq!(
            match_pattern_list("bob@example.com", "!bob@*,*@example.com"),
            PatternMatch::Negated
        );
        assert_eq!(
            match_pattern_list("alice@example.com", "*@example.com,!bob@*"),
            PatternMatch::Positive
        );
        assert_eq!(
            match_pattern_list("eve@evil.com", "*@example.com,!bob@*"),
            PatternMatch::None
        );
        // A list of only negations never matches positively.
        assert_eq!(match_pattern_list("alice", "!bob"), PatternMatch::None);
        assert_eq!(match_pattern_list("xyb", "*b,!?b"), PatternMatch::Positive);
    }

    #[test]
    fn lists_are_cut_as_openssh_cuts_them() {
        // A trailing comma adds no empty pattern; an inner one does.
        assert_eq!(match_pattern_list("", "a,"), PatternMatch::None);
        assert_eq!(match_pattern_list("", "a,,b"), PatternMatch::Positive);
        // A sub-pattern of 1023 bytes or more: the list matches nothing at all.
        let long = format!("alice,{}", "x".repeat(1023));
        assert_eq!(match_pattern_list("alice", &long), PatternMatch::None);
        let fits = format!("alice,{}", "x".repeat(1022));
        assert_eq!(match_pattern_list("alice", &fits), PatternMatch::Positive);
        // `!!a` is the negation of the pattern `!a`.
        assert_eq!(match_pattern_list("!a", "!!a"), PatternMatch::Negated);
    }

    #[test]
    fn a_list_names_someone_when_a_positive_pattern_escapes_every_negation() {
        assert_eq!(names_someone("*b,!?b").as_deref(), Some("*b"));
        assert_eq!(names_someone("alice@x,!alice@*"), None);
        assert_eq!(names_someone("!alice@*,alice@x"), None);
        assert_eq!(names_someone("!eve@*"), None);
        assert_eq!(names_someone("*,!*"), None);
        assert_eq!(names_someone("*,!?*"), None);
        assert_eq!(names_someone("??,!a*,!*a,!??").as_deref(), None);
        assert_eq!(names_someone("??,!a*,!*a").as_deref(), Some("??"));
        assert_eq!(
            names_someone("bob@*,alice@x,!bob@evil.com").as_deref(),
            Some("bob@*,alice@x")
        );
        assert_eq!(names_someone(&"x".repeat(1023)), None);
        // A witness may need a byte only the patterns name (`!` here).
        assert_eq!(names_someone("*!").as_deref(), Some("*!"));
    }

    proptest::proptest! {
        // 64 cases: each explores up to 21,844 strings.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn patterns_never_panic(s in "\\PC{0,20}", list in "[a-z*?!,]{0,20}") {
            let _ = match_pattern_list(&s, &list);
            let _ = names_someone(&list);
        }

        /// `names_someone` agrees with a brute-force search for a witness over every string
        /// of up to 7 bytes of `a`, `b`, `!` (the bytes the patterns can name) and `c` (one
        /// they never name): a list of 6 bytes that accepts anything accepts such a string.
        #[test]
        fn names_someone_agrees_with_brute_force(list in "[ab*?!,]{0,6}") {
            let mut found = false;
            let mut words = vec![String::new()];
            for _ in 0..7 {
                words = words.iter().flat_map(|w| ["a", "b", "!", "c"].map(|c| format!("{w}{c}"))).collect();
                if words.iter().any(|w| match_pattern_list(w, &list) == PatternMatch::Positive) {
                    found = true;
                    break;
                }
            }
            proptest::prop_assert_eq!(found, names_someone(&list).is_some(), "{}", list);
        }
    }
}
