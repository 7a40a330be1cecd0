//! `.infra/ignore`: one glob of addresses per line (`#` starts a comment line, blank lines
//! are skipped), e.g. `fly.app.legacy-*` or `github.repo.ai-cherry/*.secret.DEPENDABOT_*`.
//! An unmanaged address that one matches is not listed. Globs are `globset`'s, matched on
//! the whole address with `*` free to cross dots and slashes (an address is not a path).

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::core::address::Address;

/// The globs of `.infra/ignore`.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    set: GlobSet,
    patterns: Vec<String>,
}

/// A line of `.infra/ignore` that is not a glob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: `{pattern}` is not a valid glob: {reason}")]
pub struct IgnoreError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub pattern: String,
    pub reason: String,
}

impl crate::core::hint::Hint for IgnoreError {
    fn hint(&self) -> Option<String> {
        Some(
            "each line of .infra/ignore is one glob of addresses, e.g. `fly.app.legacy-*`; \
             `*` matches any run of characters, `?` one, `[…]` a class, `{a,b}` either"
                .into(),
        )
    }
}

impl Ignore {
    /// Parse the text of `file` (shown in errors).
    pub fn parse(file: &str, text: &str) -> Result<Ignore, IgnoreError> {
        let mut builder = GlobSetBuilder::new();
        let mut patterns = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let pattern = raw.trim();
            if pattern.is_empty() || pattern.starts_with('#') {
                continue;
            }
            let column = raw.len() - raw.trim_start().len() + 1;
            let glob = GlobBuilder::new(pattern)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map_err(|e| IgnoreError {
                    file: file.to_string(),
                    line: i + 1,
                    column,
                    pattern: pattern.to_string(),
                    reason: e.kind().to_string(),
                })?;
            builder.add(glob);
            patterns.push(pattern.to_string());
        }
        let set = builder.build().map_err(|e| IgnoreError {
            file: file.to_string(),
            line: 1,
            column: 1,
            pattern: String::new(),
            reason: e.to_string(),
        })?;
        Ok(Ignore { set, patterns })
    }

    /// Whether a glob matches the whole address.
    pub fn matches(&self, address: &Address) -> bool {
        !self.patterns.is_empty() && self.set.is_match(address.to_string())
    }

    /// Whether a glob matches the whole of `text`, an address written out (e.g. the
    /// `github.repo.<owner/repo>` that `sophia import` takes).
    pub fn matches_str(&self, text: &str) -> bool {
        !self.patterns.is_empty() && self.set.is_match(text)
    }

    /// The globs, as written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_addresses_across_dots_and_slashes() {
        let ig = Ignore::parse(
            ".infra/ignore",
            "# legacy\n\nfly.app.legacy-*\ngithub.repo.*.secret.DEPENDABOT_*\n",
        )
        .unwrap();
        let a = |s: &str| Address::parse(s).unwrap();
        assert!(ig.matches(&a("fly.app.legacy-api")));
        assert!(!ig.matches(&a("fly.app.api")));
        assert!(ig.matches(&a("github.repo.o/r.secret.DEPENDABOT_TOKEN")));
        assert!(!ig.matches(&a("github.repo.o/r.secret.FLY_API_TOKEN")));
        assert!(!Ignore::default().matches(&a("fly.app.x")));
    }

    #[test]
    fn a_bad_glob_names_file_line_and_column() {
        let err = Ignore::parse(".infra/ignore", "fly.app.ok\n  fly.app.[broken\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 3));
        assert!(
            err.to_string()
                .starts_with(".infra/ignore:2:3: `fly.app.[broken` is not a valid glob"),
            "{err}"
        );
    }
}
