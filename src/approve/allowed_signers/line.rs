//! One line of an allowed_signers file, parsed as `ssh-keygen -Y verify` reads it. A line
//! ssh-keygen cannot use (unknown option, unquoted value, truncated key, `ssh-dss`) is skipped
//! with a warning, as ssh-keygen skips it; a line whose meaning would differ between the two
//! tools refuses the file. Every message has `file:line:column` and a hint.

use ssh_key::PublicKey;

use super::{Entry, ParseError, SUPPORTED_KEY_TYPES, TimeError, Timestamp};

/// Key types OpenSSH knows that sophia refuses (recognized so that the warning says so
/// instead of calling them unknown options). DSA: OpenSSH itself disabled it (9.8 removed
/// it); a line with such a key is skipped, never the file.
const REFUSED_KEY_TYPES: [&str; 1] = ["ssh-dss"];

/// Why a line is not used: skipped (with a warning, as ssh-keygen skips it), or the whole
/// file is refused because the line would mean something else to ssh-keygen.
#[derive(Debug)]
pub(super) enum LineError {
    Skip(ParseError),
    Fatal(ParseError),
}

impl From<ParseError> for LineError {
    fn from(e: ParseError) -> Self {
        LineError::Skip(e)
    }
}

/// The options `ssh-keygen` accepts in an allowed_signers line.
const OPTIONS: [&str; 4] = [
    "namespaces",
    "valid-after",
    "valid-before",
    "cert-authority",
];

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

/// Parse line `line_no` (1-based) of `path`: `None` for a blank or comment line.
pub(super) fn parse(path: &str, line_no: usize, line: &str) -> Result<Option<Entry>, LineError> {
    LineParser {
        path,
        line_no,
        line,
        pos: 0,
    }
    .entry()
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

    fn entry(&mut self) -> Result<Option<Entry>, LineError> {
        self.skip_space();
        if self.rest().is_empty() || self.rest().starts_with('#') {
            return Ok(None);
        }
        let principals = self.principals()?;
        self.skip_space();
        if self.rest().is_empty() {
            return Err(LineError::Skip(self.error(
                self.pos,
                "expected options or a key type after the principals, found the end of the line",
                "each line is `principals [options] keytype base64-key`, e.g. \
                 `alice@example.com ssh-ed25519 AAAAC3Nza…` (copy the key from `~/.ssh/id_ed25519.pub`)",
            )));
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
            return Err(self
                .error(
                    type_at,
                    "expected a key type after the options, found the end of the line",
                    "each line is `principals [options] keytype base64-key`; options are separated \
                     by commas without spaces (spaces only inside double quotes)",
                )
                .into());
        }
        if key_type.contains('=') || key_type.contains('"') {
            return Err(self
                .error(
                    type_at,
                    format!("expected the key type, found `{key_type}`"),
                    "options are separated by commas without spaces (spaces only inside double \
                     quotes), e.g. `namespaces=\"sophia-plan@v1\",valid-before=\"20271231Z\"`",
                )
                .into());
        }
        if !SUPPORTED_KEY_TYPES.contains(&key_type.as_str()) {
            let hint = if REFUSED_KEY_TYPES.contains(&key_type.as_str())
                || key_type.ends_with("-cert-v01@openssh.com")
            {
                "sophia verifies ed25519, RSA, ECDSA and security keys (`sk-…`), and \
                 certificates through a `cert-authority` line naming the CA's key; DSA keys and \
                 certificates written on a line are not used: have the approver generate a key \
                 with `ssh-keygen -t ed25519`"
                    .to_string()
            } else {
                format!(
                    "the key type is one of {}{}",
                    quoted_list(&SUPPORTED_KEY_TYPES),
                    did_you_mean(&key_type, &SUPPORTED_KEY_TYPES)
                )
            };
            return Err(self
                .error(type_at, format!("unsupported key type `{key_type}`"), hint)
                .into());
        }
        self.skip_space();
        let (b64_at, b64) = self.token();
        if b64.is_empty() {
            return Err(self
                .error(
                    b64_at,
                    format!(
                        "expected the base64 key after `{key_type}`, found the end of the line"
                    ),
                    "copy the whole line of the signer's `.pub` file: `keytype base64 comment`",
                )
                .into());
        }
        let key = PublicKey::from_openssh(&format!("{key_type} {b64}")).map_err(|e| {
            self.error(
                b64_at,
                format!("invalid `{key_type}` key: {e}"),
                "copy the key exactly from the signer's `.pub` file (`ssh-keygen -y -f KEY` prints it)",
            )
        })?;
        if key.algorithm().as_str() != key_type {
            return Err(self
                .error(
                    type_at,
                    format!(
                        "the key is a `{}` key but the line says `{key_type}`",
                        key.algorithm().as_str()
                    ),
                    "copy the whole line of the signer's `.pub` file: `keytype base64 comment`",
                )
                .into());
        }
        // The rest of the line is the key's comment, ignored as ssh-keygen does.
        Ok(Some(Entry {
            line: self.line_no,
            principals,
            namespaces: options.namespaces,
            valid_after: options.valid_after,
            valid_before: options.valid_before,
            cert_authority: options.cert_authority,
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
    fn options(&mut self) -> Result<Options, LineError> {
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
                "cert-authority" if !has_value => options.cert_authority = true,
                "namespaces" | "valid-after" | "valid-before" => {
                    if !has_value {
                        return Err(self
                            .error(
                                self.pos,
                                format!("`{name}` needs a value"),
                                format!("write `{lower}=\"…\"`"),
                            )
                            .into());
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
                        return Err(self
                            .error(
                                name_at,
                                format!("`{lower}` is given twice on this line"),
                                format!("give `{lower}` once (a namespaces list is comma-separated inside its quotes)"),
                            )
                            .into());
                    }
                    if lower == "namespaces" {
                        options.namespaces = Some(value);
                    } else {
                        let time = Timestamp::parse(&value)
                            .map_err(|e| self.time_error(e, value_at, &lower, &value))?;
                        if lower == "valid-after" {
                            options.valid_after = Some(time);
                        } else {
                            options.valid_before = Some(time);
                        }
                    }
                }
                _ => {
                    if lower == "cert-authority" {
                        return Err(self
                            .error(
                                name_at,
                                "`cert-authority` takes no value",
                                "write `cert-authority` alone, before or after the other options: \
                                 `*@example.com cert-authority ssh-ed25519 CA-KEY`",
                            )
                            .into());
                    }
                    let message = if name.is_empty() {
                        "expected an option name".to_string()
                    } else {
                        format!("unknown option `{name}`")
                    };
                    let mut known: Vec<&str> = OPTIONS.to_vec();
                    known.extend(SUPPORTED_KEY_TYPES);
                    return Err(self
                        .error(
                            name_at,
                            message,
                            format!(
                                "options are {}, followed by the key type ({}){}",
                                quoted_list(&OPTIONS),
                                SUPPORTED_KEY_TYPES.join(", "),
                                did_you_mean(&lower, &known)
                            ),
                        )
                        .into());
                }
            }
            if self.rest().starts_with(',') {
                self.pos += 1;
                continue;
            }
            if self.rest().is_empty() || self.rest().starts_with(is_space) {
                break;
            }
            return Err(self
                .error(
                    self.pos,
                    "expected `,` or a space after an option",
                    "options are separated by commas without spaces, e.g. \
                     `namespaces=\"sophia-plan@v1\",valid-before=\"20271231Z\"`",
                )
                .into());
        }
        let never_valid = match (&options.valid_after, &options.valid_before) {
            (Some(after), Some(before)) => after.utc == before.utc && before.naive <= after.naive,
            _ => false,
        };
        if let (true, Some(after), Some(before)) =
            (never_valid, &options.valid_after, &options.valid_before)
        {
            return Err(self
                .error(
                    0,
                    format!(
                        "`valid-before` ({}) is not after `valid-after` ({})",
                        before.text, after.text
                    ),
                    "the key would never be valid; check the two dates",
                )
                .into());
        }
        Ok(options)
    }

    /// The error for a `valid-after`/`valid-before` time: a line ssh-keygen cannot read is
    /// skipped; a calendar date that does not exist (`20270230`), which ssh-keygen silently
    /// rolls over (to 2 March), refuses the file: the two tools would read different times.
    fn time_error(&self, e: TimeError, at: usize, option: &str, value: &str) -> LineError {
        let format_hint = "write YYYYMMDD or YYYYMMDDHHMM[SS], with a `Z` (or `UTC`) suffix for \
                           UTC (without it the verifying machine's local time zone applies), \
                           e.g. `valid-before=\"20271231Z\"`";
        match e {
            TimeError::Syntax => LineError::Skip(self.error(
                at,
                format!("invalid `{option}` time `{value}`"),
                format_hint,
            )),
            TimeError::BeforeEpoch => LineError::Skip(self.error(
                at,
                format!("the `{option}` time `{value}` is not after 1970-01-01 00:00:00 UTC"),
                "ssh-keygen reads such times as invalid or as the far future; write a time \
                 after 1970",
            )),
            TimeError::NoSuchDate => LineError::Fatal(self.error(
                at,
                format!("the `{option}` date `{value}` does not exist"),
                "ssh-keygen rolls an impossible date over (30 February becomes 2 March) while \
                 sophia refuses it, so the two tools would read different times; write a real date",
            )),
        }
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
    cert_authority: bool,
}

/// A public key written somewhere on a line (`keytype base64`, two tokens in a row), for a
/// line that was skipped: the first pair that parses.
pub(super) fn key_in(line: &str) -> Option<ssh_key::public::KeyData> {
    let tokens: Vec<&str> = line.split(is_space).filter(|t| !t.is_empty()).collect();
    tokens.windows(2).find_map(|pair| {
        PublicKey::from_openssh(&format!("{} {}", pair[0], pair[1]))
            .ok()
            .map(|k| k.key_data().clone())
    })
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
