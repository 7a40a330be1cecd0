//! Hints as data, and the escaping of what the error printer prints.
//!
//! An error's message says what went wrong; its hint says what to do about it. They are kept
//! apart so that a terminal shows the hint as a `  hint: …` line after the message and its
//! causes, and the `--json` envelope carries it as a `hint` field of its own. An error type
//! gives its hint through [`Hint`]; an ad-hoc error with a hint is a [`Hinted`] (the
//! [`hinted!`](crate::hinted) macro makes one as an `anyhow::Error`).
//!
//! The escaping rule (issue 18, finding 11: terminal escapes and GitHub workflow commands
//! must not be injected into a CI log through a name in the input):
//! - [`escape`] is applied by the printer to every message, cause, hint and status line. It
//!   escapes every control character — C0 (tab and CR included), DEL and C1 — except a line
//!   feed, which our own messages use for layout (a list of changes, of variables). A line
//!   feed that would start a line with `::` (after blanks), the form of a workflow command,
//!   is escaped as well.
//! - [`escape_name`] escapes every control character, line feed included: for a name taken
//!   from the input and interpolated into a message, which never lays out lines.

/// An error message with a hint. Its `Display` is the message alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hinted {
    pub message: String,
    pub hint: String,
}

impl Hinted {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Hinted {
        Hinted {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

/// What to do about an error, if the error knows.
pub trait Hint {
    fn hint(&self) -> Option<String>;
}

impl Hint for Hinted {
    fn hint(&self) -> Option<String> {
        Some(self.hint.clone())
    }
}

/// An `anyhow::Error` with a hint: `hinted!(hint = "do this", "`{}` failed", name)`.
#[macro_export]
macro_rules! hinted {
    (hint = $hint:expr, $($arg:tt)+) => {
        ::anyhow::Error::new($crate::core::hint::Hinted::new(format!($($arg)+), $hint))
    };
}

/// Escape the control characters of a printed message; line feeds stay for layout unless
/// the next line would start with `::` (see the module documentation).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if c == '\n' {
            let rest = text[i + 1..].trim_start_matches([' ', '\t']);
            if rest.starts_with("::") {
                out.push_str("\\n");
            } else {
                out.push('\n');
            }
        } else {
            push_escaped(&mut out, c);
        }
    }
    out
}

/// Escape every control character of a name taken from the input, line feeds included.
pub fn escape_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        push_escaped(&mut out, c);
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hinted_displays_its_message_only() {
        let e = crate::hinted!(hint = "do this", "`{}` failed", "x");
        assert_eq!(e.to_string(), "`x` failed");
        let h = e.downcast_ref::<Hinted>().unwrap();
        assert_eq!(h.hint().as_deref(), Some("do this"));
    }

    #[test]
    fn escape_keeps_layout_and_escapes_everything_else() {
        assert_eq!(escape("a\n  b"), "a\n  b");
        assert_eq!(escape("a\u{1b}[2J\u{7}\r\tb"), "a\\u{1b}[2J\\u{7}\\r\\tb");
        assert_eq!(escape("x\u{7f}\u{9b}y"), "x\\u{7f}\\u{9b}y");
        assert_eq!(escape("a\n::error::forged"), "a\\n::error::forged");
        assert_eq!(escape("a\n  ::error::x"), "a\\n  ::error::x");
        assert_eq!(escape("café ✓"), "café ✓");
    }

    #[test]
    fn escape_name_escapes_line_feeds_too() {
        assert_eq!(
            escape_name("a\u{1b}[2J\n::error::forged"),
            "a\\u{1b}[2J\\n::error::forged"
        );
    }
}
