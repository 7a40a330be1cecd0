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
//!     before TIME, written `YYYYMMDD` or `YYYYMMDDHHMM[SS]`, optionally followed by `Z` or
//!     `UTC` (any case). With the suffix the time is UTC; without it, it is the local time
//!     zone of the machine that verifies — exactly what `ssh-keygen` does. [`Timestamp`]
//!     keeps that distinction and is resolved against a time zone passed in (write `Z`: CI
//!     runners and laptops disagree on zones);
//!   - `cert-authority`: the key is a certificate authority's; a signature made with a
//!     certificate it signed is accepted (see `verify.rs`), a signature by the CA key
//!     itself is not (as ssh-keygen).
//! - **keytype**: `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256|384|521`, and the security
//!   keys `sk-ssh-ed25519@openssh.com`, `sk-ecdsa-sha2-nistp256@openssh.com`.
//!
//! A line ssh-keygen cannot use (unquoted values, unknown options, duplicate options,
//! `valid-before` not after `valid-after`, a truncated key, an `ssh-dss` key or another type
//! sophia does not verify) is skipped, as ssh-keygen skips it, and reported in
//! [`AllowedSigners::skipped`] so the user sees a warning naming `file:line:column`. A line
//! the two tools would read differently refuses the whole file (a calendar date that does not
//! exist, which ssh-keygen rolls over). The parser never panics, whatever the input (a
//! property test feeds it random strings).
//!
//! - `line` parses one line (`principals [options] keytype base64 [comment]`);
//! - [`pattern`] matches principals and namespaces against pattern lists, as OpenSSH does.

mod line;
pub mod pattern;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use ssh_key::PublicKey;

pub use pattern::{PatternMatch, match_pattern, match_pattern_list, names_someone};

/// The key types sophia verifies, as written in the file.
pub const SUPPORTED_KEY_TYPES: [&str; 7] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// A parsed allowed_signers file: its entries in file order.
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    /// Where the file came from, for messages.
    pub path: String,
    pub entries: Vec<Entry>,
    /// The lines skipped because ssh-keygen could not use them either, each with why: the
    /// commands print them as warnings.
    pub skipped: Vec<ParseError>,
    /// The keys found on skipped lines, with their line: a signature by one of them is
    /// refused saying its line was skipped, rather than that the key is not listed.
    pub skipped_keys: Vec<(usize, ssh_key::public::KeyData)>,
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
    /// `cert-authority`: `key` is a CA key, accepting signatures by certificates it signed
    /// (and never a signature by the key itself).
    pub cert_authority: bool,
    pub key: PublicKey,
}

/// Why a `valid-after`/`valid-before` time is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    /// Not `YYYYMMDD[HHMM[SS]]` with an optional `Z`/`UTC` suffix, or a field out of the
    /// range `strptime` accepts (month 13, hour 24): ssh-keygen cannot read it either.
    Syntax,
    /// A date whose fields are each in range but that does not exist (30 February, second
    /// 60): ssh-keygen rolls it over, sophia refuses it.
    NoSuchDate,
    /// At or before 1970-01-01 00:00:00 UTC: ssh-keygen reads 0 as invalid and earlier times
    /// as the far future (an unsigned wrap), so sophia skips the line.
    BeforeEpoch,
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
    /// Parse `YYYYMMDD` or `YYYYMMDDHHMM[SS]` with an optional UTC suffix `Z` or `UTC` (any
    /// case), as OpenSSH's `parse_absolute_time`.
    pub fn parse(text: &str) -> Result<Timestamp, TimeError> {
        let ends_with = |suffix: &str| {
            text.len() > suffix.len()
                && text
                    .get(text.len() - suffix.len()..)
                    .is_some_and(|end| end.eq_ignore_ascii_case(suffix))
        };
        let (digits, utc) = if ends_with("Z") {
            (&text[..text.len() - 1], true)
        } else if ends_with("UTC") {
            (&text[..text.len() - 3], true)
        } else {
            (text, false)
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TimeError::Syntax);
        }
        let full = match digits.len() {
            8 => format!("{digits}000000"),
            12 => format!("{digits}00"),
            14 => digits.to_string(),
            _ => return Err(TimeError::Syntax),
        };
        let field = |r: std::ops::Range<usize>| full[r].parse::<u32>().unwrap_or(u32::MAX);
        let (year, month, day) = (field(0..4), field(4..6), field(6..8));
        let (hour, minute, second) = (field(8..10), field(10..12), field(12..14));
        // The ranges glibc's strptime accepts for %m %d %H %M %S.
        if !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 61
        {
            return Err(TimeError::Syntax);
        }
        let naive = NaiveDate::from_ymd_opt(year as i32, month, day)
            .and_then(|d| d.and_hms_opt(hour, minute, second))
            .ok_or(TimeError::NoSuchDate)?;
        // Any zone is within ±1 day of UTC: a local time this early is refused too.
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 2)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default();
        let too_early = if utc {
            naive.and_utc().timestamp() <= 0
        } else {
            naive < epoch
        };
        if too_early {
            return Err(TimeError::BeforeEpoch);
        }
        Ok(Timestamp {
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

    /// The principals this line names for a person: its positive patterns that accept at
    /// least one principal the line's negations do not exclude (so `*b,!?b` names `*b`,
    /// since `ssh-keygen -Y verify -I xyb` accepts it, and `alice@x,!alice@*` names nobody,
    /// since `-I alice@x` is refused), joined with `,`. `None` when the line accepts no
    /// principal at all: such a line approves nothing. See [`names_someone`].
    pub fn identity(&self) -> Option<String> {
        names_someone(&self.principals)
    }
}

impl AllowedSigners {
    /// Parse a whole file. `path` is only used in messages.
    pub fn parse(path: &str, text: &str) -> Result<AllowedSigners, ParseError> {
        let mut entries = Vec::new();
        let mut skipped = Vec::new();
        let mut skipped_keys = Vec::new();
        for (index, raw) in text.split('\n').enumerate() {
            match line::parse(path, index + 1, raw) {
                Ok(Some(entry)) => entries.push(entry),
                Ok(None) => {}
                Err(line::LineError::Skip(e)) => {
                    if let Some(key) = line::key_in(raw) {
                        skipped_keys.push((index + 1, key));
                    }
                    skipped.push(e);
                }
                Err(line::LineError::Fatal(e)) => return Err(e),
            }
        }
        Ok(AllowedSigners {
            path: path.to_string(),
            entries,
            skipped,
            skipped_keys,
        })
    }

    /// The plain (not `cert-authority`) entries listing this public key (compared by key
    /// material, not comment).
    pub fn entries_for<'a>(
        &'a self,
        key: &'a ssh_key::public::KeyData,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries
            .iter()
            .filter(move |e| !e.cert_authority && e.key.key_data() == key)
    }

    /// The `cert-authority` entries listing this CA key.
    pub fn authorities_for<'a>(
        &'a self,
        ca: &'a ssh_key::public::KeyData,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.cert_authority && e.key.key_data() == ca)
    }

    /// The first skipped line holding this key, if any.
    pub fn skipped_line_of(&self, key: &ssh_key::public::KeyData) -> Option<usize> {
        self.skipped_keys
            .iter()
            .find(|(_, k)| k == key)
            .map(|(line, _)| *line)
    }

    /// The warnings to show for the skipped lines, one per line.
    pub fn warnings(&self) -> Vec<String> {
        self.skipped
            .iter()
            .map(|e| {
                format!(
                    "warning: {e} — this line is skipped (ssh-keygen skips it too)\n  hint: {}",
                    e.hint
                )
            })
            .collect()
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

    /// What the user sees for a file: the error that refuses it, or the warnings of the
    /// lines it skips.
    fn err(text: &str) -> String {
        match parse(text) {
            Err(e) => format!("error: {e}\n  hint: {}", e.hint),
            Ok(all) => all.warnings().join("\n"),
        }
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
        let utc = Timestamp::parse("20990101UTC").unwrap();
        assert!(utc.utc);
        assert_eq!(utc.naive, Timestamp::parse("20990101").unwrap().naive);
        assert!(Timestamp::parse("209901011230utc").unwrap().utc);
        assert!(Timestamp::parse("20990101Utc").unwrap().utc);
        for bad in [
            "2027",
            "2027010112",
            "20271301",
            "2027010125000",
            "202701011260",
            "2027010124",
            "x0270101",
            "",
            "Z",
            "UTC",
            "20270101 Z",
            "20270101ZZ",
        ] {
            assert_eq!(Timestamp::parse(bad), Err(TimeError::Syntax), "{bad}");
        }
        for impossible in ["20270230", "20270431", "20270101235960"] {
            assert_eq!(
                Timestamp::parse(impossible),
                Err(TimeError::NoSuchDate),
                "{impossible}"
            );
        }
        for early in ["19700101Z", "19691231", "19700101", "00010101UTC"] {
            assert_eq!(
                Timestamp::parse(early),
                Err(TimeError::BeforeEpoch),
                "{early}"
            );
        }
        assert!(Timestamp::parse("19700101000001Z").is_ok());
    }

    #[test]
    fn skipped_lines_and_errors_name_the_place_and_give_a_hint() {
        let cases = [
            "alice".to_string(),
            format!("# c\nalice namespaces=sophia-plan@v1 {KEY}"),
            format!("alice namespace=\"x\" {KEY}"),
            format!("alice cert-authority=\"x\" {KEY}"),
            format!("alice valid-before=\"20270230\" {KEY}"),
            format!("alice valid-before=\"19691231Z\" {KEY}"),
            format!("alice octopus,namespaces=\"git\" {KEY}"),
            format!("alice ssh-ed25519-cert-v01@openssh.com {}", &KEY[12..]),
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

    #[test]
    fn a_bad_line_is_skipped_and_the_others_are_kept() {
        let text = format!(
            "alice@example.com octopus {KEY}\nbob@example.com {KEY}\ncarol ssh-dss AAAAB3NzaC1kc3M=\n\
             dave ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n"
        );
        let all = parse(&text).unwrap();
        assert_eq!(all.entries.len(), 1);
        assert_eq!(all.entries[0].principals, "bob@example.com");
        let lines: Vec<(usize, usize)> = all.skipped.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(lines, vec![(1, 19), (3, 7), (4, 18)]);
        // The key of the skipped line 1 is remembered (line 2, kept, lists it too).
        let key = all.entries[0].key.key_data().clone();
        assert_eq!(all.skipped_line_of(&key), Some(1));
        // An impossible date refuses the file, naming its place.
        let e = parse(&format!("{text}erin valid-after=\"20270229Z\" {KEY}\n")).unwrap_err();
        assert_eq!((e.line, e.column), (5, 18));
    }

    #[test]
    fn cert_authority_lines_hold_a_ca_key() {
        let e = one(&format!(
            "*@example.com cert-authority,namespaces=\"git\" {KEY}"
        ));
        assert!(e.cert_authority);
        let all = parse(&format!("*@example.com CERT-AUTHORITY {KEY}")).unwrap();
        let key = all.entries[0].key.key_data().clone();
        assert_eq!(all.entries_for(&key).count(), 0);
        assert_eq!(all.authorities_for(&key).count(), 1);
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
