//! Pattern lists as OpenSSH matches them (`ssh_config(5)`, PATTERNS): comma-separated
//! patterns, `*` any run of characters, `?` one character, a leading `!` negates.

/// The result of matching a string against a pattern list, as OpenSSH's
/// `match_pattern_list`: a negated pattern that matches wins over everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternMatch {
    /// No pattern matched.
    None,
    /// A positive pattern matched and no negated one did.
    Positive,
    /// A negated (`!`) pattern matched.
    Negated,
}

/// Match `s` against a comma-separated pattern list (`*`, `?`, leading `!`).
pub fn match_pattern_list(s: &str, list: &str) -> PatternMatch {
    let mut positive = false;
    for pattern in list.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        if match_pattern(s, pattern) {
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

/// Match `s` against one wildcard pattern (`*` any run, `?` one character). Linear-time
/// greedy matching with backtracking to the last `*`, so hostile patterns cannot blow up.
pub fn match_pattern(s: &str, pattern: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut si, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            si += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
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
        assert!(match_pattern("abcabc", "*abc"));
        assert!(match_pattern("abXbc", "ab*bc"));
        assert!(!match_pattern("abXbd", "ab*bc"));
        assert!(!match_pattern("Alice@example.com", "alice@example.com"));
        assert!(match_pattern("x*y", "x*y"));
        assert!(!match_pattern(
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
            "*a*a*a*a*a*a*a*a*c"
        ));
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
    }

    proptest::proptest! {
        #[test]
        fn patterns_never_panic(s in "\\PC{0,20}", list in "[a-z*?!,]{0,20}") {
            let _ = match_pattern_list(&s, &list);
        }
    }
}
