//! The `allowed_signers` file of git and OpenSSH (`man ssh-keygen`, section ALLOWED SIGNERS),
//! parsed exactly as `ssh-keygen -Y verify` reads it, so one file serves both tools.
//!
//! ```text
//! # comment lines and blank lines are ignored
//! alice@example.com ssh-ed25519 AAAAC3Nza… optional comment
//! bob@example.com,robert@example.com namespaces="sophia-plan@v1" ssh-rsa AAAAB3Nza…
//! "carol@example.com" valid-after="20260101",valid-before="20270101Z" ecdsa-sha2-nistp256 AAAAE2V…
//! ```
//!
//! Each line is `principals [options] keytype base64 [comment]`:
//!
//! - **principals**: a pattern list (`ssh_config(5)`, PATTERNS): comma-separated patterns
//!   where `*` matches any run of characters, `?` one character, and a leading `!` negates
//!   (a principal matching a negated pattern never matches the line). Matching is
//!   case-sensitive. The whole field may be wrapped in double quotes.
//! - **options**, comma-separated, keywords case-insensitive, values in double quotes (as
//!   `ssh-keygen` requires):
//!   - `namespaces="pattern-list"`: the signature namespaces this key may sign for;
//!   - `valid-after="TIME"` / `valid-before="TIME"`: the key is accepted at or after / at or
//!     before TIME, written `YYYYMMDD[Z]` or `YYYYMMDDHHMM[SS][Z]`. With the `Z` suffix the
//!     time is UTC; without it, it is the local time zone of the machine that verifies —
//!     exactly what `ssh-keygen` does. [`Timestamp`] keeps that distinction and is resolved
//!     against a time zone passed in (write `Z`: CI runners and laptops disagree on zones);
//!   - `cert-authority` is refused: sophia verifies signatures by plain keys only, so a
//!     certificate authority line would silently accept nothing; list the signers' keys.
//! - **keytype**: `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256|384|521`. Other types
//!   (`ssh-dss`, security keys `sk-…`, certificates `…-cert-v01@openssh.com`) are refused
//!   with an explanation rather than skipped, so a listed approver is never silently ignored.
//!
//! The parser is strict where `ssh-keygen` would also fail (unquoted values, unknown options,
//! duplicate options, `valid-before` not after `valid-after`), and every error carries
//! `file:line:column` and a hint. It never panics, whatever the input (a property test feeds
//! it random strings).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use ssh_key::PublicKey;

/// The key types sophia verifies, as written in the file.
pub const SUPPORTED_KEY_TYPES: [&str; 5] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
];

/// Key types OpenSSH knows that sophia refuses (recognized so that the error says so instead
/// of calling them unknown options).
const REFUSED_KEY_TYPES: [&str; 3] = [
    "ssh-dss",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// The options `ssh-keygen` accepts in an allowed_signers line.
const OPTIONS: [&str; 4] = [
    "namespaces",
    "valid-after",
    "valid-before",
    "cert-authority",
];

/// A parsed allowed_signers file: its entries in file order.
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    /// Where the file came from, for messages.
    pub path: String,
    pub entries: Vec<Entry>,
}

/// One line of the file.
#[derive(Debug, Clone)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    /// The principals pattern list as written (without the surrounding quotes).
    pub principals: String,
    /// The `namespaces=` pattern list, if any (absent: every namespace).
    pub namespaces: Option<String>,
    pub valid_after: Option<Timestamp>,
    pub valid_before: Option<Timestamp>,
    pub key: PublicKey,
}

/// A `valid-after` / `valid-before` time as written: UTC with the `Z` suffix, local
/// otherwise (resolved against a time zone given by the caller, as `ssh-keygen` uses the
/// machine's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    /// The text between the quotes, for messages.
    pub text: String,
    pub naive: NaiveDateTime,
    pub utc: bool,
}

/// Why an allowed_signers file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}\n  hint: {hint}")]
pub struct ParseError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: String,
}

impl Timestamp {
    /// Parse `YYYYMMDD[Z]` or `YYYYMMDDHHMM[SS][Z]` (`z` accepted too, as `ssh-keygen` does).
    pub fn parse(text: &str) -> Option<Timestamp> {
        let (digits, utc) = match text.strip_suffix(['Z', 'z']) {
            Some(d) => (d, true),
            None => (text, false),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let full = match digits.len() {
            8 => format!("{digits}000000"),
            12 => format!("{digits}00"),
            14 => digits.to_string(),
            _ => return None,
        };
        let date = NaiveDate::from_ymd_opt(
            full[0..4].parse().ok()?,
            full[4..6].parse().ok()?,
            full[6..8].parse().ok()?,
        )?;
        let naive = date.and_hms_opt(
            full[8..10].parse().ok()?,
            full[10..12].parse().ok()?,
            full[12..14].parse().ok()?,
        )?;
        Some(Timestamp {
            text: text.to_string(),
            naive,
            utc,
        })
    }

    /// The instant this names: UTC when written with `Z`, otherwise in `local`. A local time
    /// that a daylight-saving change makes ambiguous takes its earlier instant; one that does
    /// not exist gives `None`.
    pub fn resolve<Tz: TimeZone>(&self, local: &Tz) -> Option<DateTime<Utc>> {
        if self.utc {
            return Some(Utc.from_utc_datetime(&self.naive));
        }
        local
            .from_local_datetime(&self.naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let zone = if self.utc { " UTC" } else { " local time" };
        write!(f, "{}{zone}", self.naive.format("%Y-%m-%d %H:%M:%S"))
    }
}

impl Entry {
    /// Whether `principal` is accepted by this line's principals (`ssh-keygen -I`).
    pub fn matches_principal(&self, principal: &str) -> bool {
        match_pattern_list(principal, &self.principals) == PatternMatch::Positive
    }

    /// Whether this key may sign in `namespace` (no `namespaces=` option: any namespace).
    pub fn allows_namespace(&self, namespace: &str) -> bool {
        match &self.namespaces {
            None => true,
            Some(list) => match_pattern_list(namespace, list) == PatternMatch::Positive,
        }
    }

    /// The principals this line names for a person: its positive patterns that the line
    /// itself accepts as principals (so `alice@x,!alice@*` names nobody, exactly as
    /// `ssh-keygen -Y verify -I alice@x` would refuse it), joined with `,`. `None` when the
    /// line names nobody: such a line approves nothing.
    pub fn identity(&self) -> Option<String> {
        let names: Vec<&str> = self
            .principals
            .split(',')
            .filter(|p| !p.starts_with('!') && !p.is_empty() && self.matches_principal(p))
            .collect();
        if names.is_empty() {
            None
        } else {
            Some(names.join(","))
        }
    }
}

impl AllowedSigners {
    /// Parse a whole file. `path` is only used in messages.
    pub fn parse(path: &str, text: &str) -> Result<AllowedSigners, ParseError> {
        let mut entries = Vec::new();
        for (index, raw) in text.split('\n').enumerate() {
            let mut p = LineParser {
                path,
                line_no: index + 1,
                line: raw,
                pos: 0,
            };
            if let Some(entry) = p.entry()? {
                entries.push(entry);
            }
        }
        Ok(AllowedSigners {
            path: path.to_string(),
            entries,
        })
    }

    /// The entries listing this public key (compared by key material, not comment).
    pub fn entries_for<'a>(
        &'a self,
        key: &'a ssh_key::public::KeyData,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| e.key.key_data() == key)
    }
}

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

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r')
}

/// A cursor over one line; positions are byte offsets on char boundaries.
struct LineParser<'a> {
    path: &'a str,
    line_no: usize,
    line: &'a str,
    pos: usize,
}

impl LineParser<'_> {
    fn rest(&self) -> &str {
        &self.line[self.pos..]
    }

    fn column(&self, byte: usize) -> usize {
        self.line[..byte.min(self.line.len())].chars().count() + 1
    }

    fn error(
        &self,
        byte: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> ParseError {
        ParseError {
            path: self.path.to_string(),
            line: self.line_no,
            column: self.column(byte),
            message: message.into(),
            hint: hint.into(),
        }
    }

    fn skip_space(&mut self) {
        let skipped = self.rest().len() - self.rest().trim_start_matches(is_space).len();
        self.pos += skipped;
    }

    /// A run of non-space characters.
    fn token(&mut self) -> (usize, &str) {
        let start = self.pos;
        let len = self.rest().find(is_space).unwrap_or(self.rest().len());
        self.pos += len;
        (start, &self.line[start..start + len])
    }

    fn entry(&mut self) -> Result<Option<Entry>, ParseError> {
        self.skip_space();
        if self.rest().is_empty() || self.rest().starts_with('#') {
            return Ok(None);
        }
        let principals = self.principals()?;
        self.skip_space();
        if self.rest().is_empty() {
            return Err(self.error(
                self.pos,
                "expected options or a key type after the principals, found the end of the line",
                "each line is `principals [options] keytype base64-key`, e.g. \
                 `alice@example.com ssh-ed25519 AAAAC3Nza…` (copy the key from `~/.ssh/id_ed25519.pub`)",
            ));
        }
        let mut options = Options::default();
        let first = self.rest().split(is_space).next().unwrap_or("");
        if !is_key_type(first) {
            options = self.options()?;
            self.skip_space();
        }
        let (type_at, key_type) = self.token();
        let key_type = key_type.to_string();
        if key_type.is_empty() {
            return Err(self.error(
                type_at,
                "expected a key type after the options, found the end of the line",
                "each line is `principals [options] keytype base64-key`; options are separated \
                 by commas without spaces (spaces only inside double quotes)",
            ));
        }
        if key_type.contains('=') || key_type.contains('"') {
            return Err(self.error(
                type_at,
                format!("expected the key type, found `{key_type}`"),
                "options are separated by commas without spaces (spaces only inside double \
                 quotes), e.g. `namespaces=\"sophia-plan@v1\",valid-before=\"20271231Z\"`",
            ));
        }
        if !SUPPORTED_KEY_TYPES.contains(&key_type.as_str()) {
            let hint = if REFUSED_KEY_TYPES.contains(&key_type.as_str())
                || key_type.ends_with("-cert-v01@openssh.com")
            {
                "sophia verifies ed25519, RSA and ECDSA keys only (no DSA, security-key or \
                 certificate keys); have the approver generate one with `ssh-keygen -t ed25519`"
                    .to_string()
            } else {
                format!(
                    "the key type is one of {}{}",
                    quoted_list(&SUPPORTED_KEY_TYPES),
                    did_you_mean(&key_type, &SUPPORTED_KEY_TYPES)
                )
            };
            return Err(self.error(type_at, format!("unsupported key type `{key_type}`"), hint));
        }
        self.skip_space();
        let (b64_at, b64) = self.token();
        if b64.is_empty() {
            return Err(self.error(
                b64_at,
                format!("expected the base64 key after `{key_type}`, found the end of the line"),
                "copy the whole line of the signer's `.pub` file: `keytype base64 comment`",
            ));
        }
        let key = PublicKey::from_openssh(&format!("{key_type} {b64}")).map_err(|e| {
            self.error(
                b64_at,
                format!("invalid `{key_type}` key: {e}"),
                "copy the key exactly from the signer's `.pub` file (`ssh-keygen -y -f KEY` prints it)",
            )
        })?;
        if key.algorithm().as_str() != key_type {
            return Err(self.error(
                type_at,
                format!(
                    "the key is a `{}` key but the line says `{key_type}`",
                    key.algorithm().as_str()
                ),
                "copy the whole line of the signer's `.pub` file: `keytype base64 comment`",
            ));
        }
        // The rest of the line is the key's comment, ignored as ssh-keygen does.
        Ok(Some(Entry {
            line: self.line_no,
            principals,
            namespaces: options.namespaces,
            valid_after: options.valid_after,
            valid_before: options.valid_before,
            key,
        }))
    }

    fn principals(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        let value = if self.rest().starts_with('"') {
            let inner = &self.rest()[1..];
            let Some(end) = inner.find('"') else {
                return Err(self.error(
                    start,
                    "unterminated quote in the principals",
                    "close the quote: `\"alice@example.com\" ssh-ed25519 AAAA…`",
                ));
            };
            let value = inner[..end].to_string();
            self.pos += end + 2;
            if !self.rest().is_empty() && !self.rest().starts_with(is_space) {
                return Err(self.error(
                    self.pos,
                    "expected a space after the quoted principals",
                    "quote the whole principals list: `\"alice@example.com,bob@example.com\" …`",
                ));
            }
            value
        } else {
            self.token().1.to_string()
        };
        if value.is_empty() {
            return Err(self.error(
                start,
                "the principals are empty",
                "name who holds the key, e.g. `alice@example.com`",
            ));
        }
        Ok(value)
    }

    /// The options field, up to the first space outside double quotes.
    fn options(&mut self) -> Result<Options, ParseError> {
        let mut options = Options::default();
        loop {
            let name_at = self.pos;
            let name_len = self
                .rest()
                .find(|c: char| c == '=' || c == ',' || is_space(c))
                .unwrap_or(self.rest().len());
            let name = self.rest()[..name_len].to_string();
            self.pos += name_len;
            let lower = name.to_ascii_lowercase();
            let has_value = self.rest().starts_with('=');
            match lower.as_str() {
                "cert-authority" => {
                    return Err(self.error(
                        name_at,
                        "`cert-authority` lines are not supported",
                        "sophia verifies signatures made by plain SSH keys; list each \
                         approver's own public key instead of a certificate authority",
                    ));
                }
                "namespaces" | "valid-after" | "valid-before" => {
                    if !has_value {
                        return Err(self.error(
                            self.pos,
                            format!("`{name}` needs a value"),
                            format!("write `{lower}=\"…\"`"),
                        ));
                    }
                    self.pos += 1;
                    let value_at = self.pos;
                    let value = self.quoted(&lower)?;
                    let duplicate = match lower.as_str() {
                        "namespaces" => options.namespaces.is_some(),
                        "valid-after" => options.valid_after.is_some(),
                        _ => options.valid_before.is_some(),
                    };
                    if duplicate {
                        return Err(self.error(
                            name_at,
                            format!("`{lower}` is given twice on this line"),
                            format!("give `{lower}` once (a namespaces list is comma-separated inside its quotes)"),
                        ));
                    }
                    if lower == "namespaces" {
                        options.namespaces = Some(value);
                    } else {
                        let time = Timestamp::parse(&value).ok_or_else(|| {
                            self.error(
                                value_at,
                                format!("invalid `{lower}` time `{value}`"),
                                "write YYYYMMDD or YYYYMMDDHHMM[SS], with a `Z` suffix for UTC \
                                 (without it the verifying machine's local time zone applies), \
                                 e.g. `valid-before=\"20271231Z\"`",
                            )
                        })?;
                        if lower == "valid-after" {
                            options.valid_after = Some(time);
                        } else {
                            options.valid_before = Some(time);
                        }
                    }
                }
                _ => {
                    let message = if name.is_empty() {
                        "expected an option name".to_string()
                    } else {
                        format!("unknown option `{name}`")
                    };
                    let mut known: Vec<&str> = OPTIONS.to_vec();
                    known.extend(SUPPORTED_KEY_TYPES);
                    return Err(self.error(
                        name_at,
                        message,
                        format!(
                            "options are {}, followed by the key type ({}){}",
                            quoted_list(&OPTIONS[..3]),
                            SUPPORTED_KEY_TYPES.join(", "),
                            did_you_mean(&lower, &known)
                        ),
                    ));
                }
            }
            if self.rest().starts_with(',') {
                self.pos += 1;
                continue;
            }
            if self.rest().is_empty() || self.rest().starts_with(is_space) {
                break;
            }
            return Err(self.error(
                self.pos,
                "expected `,` or a space after an option",
                "options are separated by commas without spaces, e.g. \
                 `namespaces=\"sophia-plan@v1\",valid-before=\"20271231Z\"`",
            ));
        }
        let never_valid = match (&options.valid_after, &options.valid_before) {
            (Some(after), Some(before)) => after.utc == before.utc && before.naive <= after.naive,
            _ => false,
        };
        if let (true, Some(after), Some(before)) =
            (never_valid, &options.valid_after, &options.valid_before)
        {
            return Err(self.error(
                0,
                format!(
                    "`valid-before` ({}) is not after `valid-after` ({})",
                    before.text, after.text
                ),
                "the key would never be valid; check the two dates",
            ));
        }
        Ok(options)
    }

    /// A double-quoted value (`\"` escapes a quote), as OpenSSH's `opt_dequote`.
    fn quoted(&mut self, option: &str) -> Result<String, ParseError> {
        if !self.rest().starts_with('"') {
            return Err(self.error(
                self.pos,
                format!("the value of `{option}` must be in double quotes"),
                format!(
                    "write `{option}=\"{}\"` (ssh-keygen refuses unquoted values too)",
                    self.rest()
                        .split(|c: char| c == ',' || is_space(c))
                        .next()
                        .unwrap_or("")
                ),
            ));
        }
        let open = self.pos;
        self.pos += 1;
        let mut value = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(value);
                }
                '\\' if self.rest()[i + 1..].starts_with('"') => {
                    value.push('"');
                    chars.next();
                }
                _ => value.push(c),
            }
        }
        Err(self.error(
            open,
            format!("unterminated quote in the value of `{option}`"),
            format!("close the quote: `{option}=\"…\"`"),
        ))
    }
}

#[derive(Debug, Default)]
struct Options {
    namespaces: Option<String>,
    valid_after: Option<Timestamp>,
    valid_before: Option<Timestamp>,
}

fn is_key_type(token: &str) -> bool {
    SUPPORTED_KEY_TYPES.contains(&token)
        || REFUSED_KEY_TYPES.contains(&token)
        || token.ends_with("-cert-v01@openssh.com")
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "; did you mean `x`?" when a known word is close (Jaro-Winkler ≥ 0.8: close enough to be
/// a typo, far enough not to suggest unrelated words).
fn did_you_mean(word: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k), *k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!("; did you mean `{k}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    // A real ed25519 public key (generated once with `ssh-keygen -t ed25519`).
    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIId0Se61ua3d41rNs2du9OrcR75WaN2rCN4pxQalgLZQ";

    fn parse(text: &str) -> Result<AllowedSigners, ParseError> {
        AllowedSigners::parse(".infra/allowed_signers", text)
    }

    fn one(line: &str) -> Entry {
        let mut all = parse(line).unwrap();
        assert_eq!(all.entries.len(), 1);
        all.entries.remove(0)
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

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

    #[test]
    fn parses_principals_options_and_key() {
        let text = format!(
            "# approvers\n\n  alice@example.com,!mallory@* {KEY} alice's laptop\n\
             \"bob@example.com\" NAMESPACES=\"sophia-plan@v1,git\",valid-after=\"20260101\",valid-before=\"20270101123000Z\" {KEY}\r\n"
        );
        let all = parse(&text).unwrap();
        assert_eq!(all.entries.len(), 2);
        let alice = &all.entries[0];
        assert_eq!(alice.line, 3);
        assert!(alice.matches_principal("alice@example.com"));
        assert!(!alice.matches_principal("mallory@example.com"));
        assert!(alice.allows_namespace("anything"));
        assert_eq!(alice.identity().as_deref(), Some("alice@example.com"));
        let bob = &all.entries[1];
        assert_eq!(bob.line, 4);
        assert_eq!(bob.principals, "bob@example.com");
        assert!(bob.allows_namespace("sophia-plan@v1"));
        assert!(!bob.allows_namespace("file"));
        let after = bob.valid_after.as_ref().unwrap();
        assert!(!after.utc);
        let before = bob.valid_before.as_ref().unwrap();
        assert!(before.utc);
        assert_eq!(before.to_string(), "2027-01-01 12:30:00 UTC");
    }

    #[test]
    fn quoted_principals_may_hold_spaces_and_commas() {
        let e = one(&format!("\"alice smith@example.com,bob@*\" {KEY}"));
        assert!(e.matches_principal("alice smith@example.com"));
        assert!(e.matches_principal("bob@example.com"));
        assert_eq!(
            e.identity().as_deref(),
            Some("alice smith@example.com,bob@*")
        );
        let nobody = one(&format!("alice@example.com,!alice@* {KEY}"));
        assert_eq!(nobody.identity(), None);
        let only_negated = one(&format!("!eve@* {KEY}"));
        assert_eq!(only_negated.identity(), None);
    }

    #[test]
    fn namespace_patterns_are_exact_like_ssh_keygen() {
        let e = one(&format!("a namespaces=\"x,sophia-*\" {KEY}"));
        assert!(e.allows_namespace("sophia-plan@v1"));
        // ssh-keygen does not trim: " sophia-*" never matches.
        let e = one(&format!("a namespaces=\"x, sophia-*\" {KEY}"));
        assert!(!e.allows_namespace("sophia-plan@v1"));
        let e = one(&format!("a namespaces=\"*,!sophia-plan@v1\" {KEY}"));
        assert!(!e.allows_namespace("sophia-plan@v1"));
        assert!(e.allows_namespace("git"));
    }

    #[test]
    fn timestamps_resolve_utc_and_local() {
        let t = Timestamp::parse("20270101").unwrap();
        let plus2 = FixedOffset::east_opt(2 * 3600).unwrap();
        assert_eq!(
            t.resolve(&plus2).unwrap().to_rfc3339(),
            "2026-12-31T22:00:00+00:00"
        );
        let z = Timestamp::parse("202701011230Z").unwrap();
        assert_eq!(
            z.resolve(&plus2).unwrap().to_rfc3339(),
            "2027-01-01T12:30:00+00:00"
        );
        let s = Timestamp::parse("20270101123045z").unwrap();
        assert_eq!(
            s.resolve(&Utc).unwrap().to_rfc3339(),
            "2027-01-01T12:30:45+00:00"
        );
        for bad in [
            "2027",
            "2027010112",
            "20271301",
            "20270230",
            "2027010125000",
            "202701011260",
            "x0270101",
            "",
            "Z",
        ] {
            assert!(Timestamp::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_place_and_give_a_hint() {
        let cases = [
            "alice".to_string(),
            format!("# c\nalice namespaces=sophia-plan@v1 {KEY}"),
            format!("alice namespace=\"x\" {KEY}"),
            format!("alice cert-authority {KEY}"),
            format!("alice valid-before=\"2027\" {KEY}"),
            format!("alice valid-after=\"20270101Z\",valid-before=\"20260101Z\" {KEY}"),
            format!("alice namespaces=\"a\",namespaces=\"b\" {KEY}"),
            format!("alice namespaces=\"a\" valid-after=\"20260101\" {KEY}"),
            format!("alice namespaces=\"a {KEY}"),
            format!("alice namespaces=\"a\"x {KEY}"),
            format!("alice ssh-ed2519 {KEY}"),
            "alice ssh-dss AAAA".to_string(),
            "alice ssh-ed25519".to_string(),
            "alice ssh-ed25519 AAAAnotakey".to_string(),
            "\"alice ssh-ed25519 AAAA".to_string(),
            "\"\" ssh-ed25519 AAAA".to_string(),
            "é ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIId0Se61ua3d41rNs2du9OrcR75WaN2rCN4pxQalgLZQ"
                .to_string(),
        ];
        let report: Vec<String> = cases
            .iter()
            .map(|c| format!("{c}\n=> {}\n", err(c)))
            .collect();
        insta::assert_snapshot!("allowed_signers_errors", report.join("\n"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_input(text in "\\PC*") {
            let _ = parse(&text);
        }

        #[test]
        fn never_panics_on_near_valid_lines(
            principals in "[a-z@.*?!,\"]{0,12}",
            options in "[a-zA-Z=\",\\\\ -]{0,40}",
            tail in "(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|x)? ?[A-Za-z0-9+/=]{0,20}",
        ) {
            let _ = parse(&format!("{principals} {options} {tail}"));
            let _ = parse(&format!("{principals} {options} {KEY}"));
        }

        #[test]
        fn patterns_never_panic(s in "\\PC{0,20}", list in "[a-z*?!,]{0,20}") {
            let _ = match_pattern_list(&s, &list);
        }
    }
}
