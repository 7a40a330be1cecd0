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
//!
//! - `line` parses one line (`principals [options] keytype base64 [comment]`);
//! - [`pattern`] matches principals and namespaces against pattern lists, as OpenSSH does.

mod line;
pub mod pattern;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use ssh_key::PublicKey;

pub use pattern::{PatternMatch, match_pattern, match_pattern_list};

/// The key types sophia verifies, as written in the file.
pub const SUPPORTED_KEY_TYPES: [&str; 5] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
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
#[error("{path}:{line}:{column}: {message}")]
pub struct ParseError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: String,
}

impl crate::core::hint::Hint for ParseError {
    fn hint(&self) -> Option<String> {
        Some(self.hint.clone())
    }
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
            if let Some(entry) = line::parse(path, index + 1, raw)? {
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

    /// The error as the printer shows it: the message, then its hint.
    fn err(text: &str) -> String {
        let e = parse(text).unwrap_err();
        format!("{e}\n  hint: {}", e.hint)
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
    }
}
