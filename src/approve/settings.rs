//! `.infra/sophia.toml`: how plans are approved.
//!
//! ```toml
//! # "signature" (default): an SSH signature by a key in .infra/allowed_signers.
//! # "digest": `--approve sha256:<hex>`, when the GitHub environment's required reviewers
//! #           already authenticate the approver.
//! approval = "signature"
//! # The GitHub environment whose job runs `sophia apply` (default "production"): a plan
//! # warns when it would lack required reviewers or allow self-review.
//! apply_environment = "production"
//!
//! [policy]
//! # Plans with destructive actions (a delete or replace change, an action kind ending in
//! # `.delete`, such as `github.protection.delete`) need signatures by this many distinct
//! # principals of .infra/allowed_signers — in either approval mode.
//! destructive_signers = 2
//! # The longest validity a plan may have (`not_after - created_at`), as `--ttl` takes it;
//! # default 7 days. `plan --ttl` beyond it fails, and `verify`/`apply` refuse such a plan:
//! # a signature is replayable until `not_after`, so the cap bounds that window.
//! max_ttl = "7d"
//! ```
//!
//! Every key is optional; the file itself is optional (absent: the defaults above, without
//! a policy). Unknown keys are errors, with a "did you mean" hint.

use serde::{Deserialize, Serialize};

/// Where the settings live, relative to the repository root.
pub const SETTINGS_PATH: &str = ".infra/sophia.toml";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub approval: ApprovalMode,
    /// The GitHub environment whose job runs `sophia apply` (default `production`): a plan
    /// warns when it would lack required reviewers or allow self-review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_environment: Option<String>,
    #[serde(default)]
    pub policy: Policy,
}

/// How a plan is approved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalMode {
    /// An SSH signature over the plan file by a listed key.
    #[default]
    Signature,
    /// `--approve sha256:<hex>` equal to the plan's digest.
    Digest,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Distinct listed principals whose signatures a destructive plan needs (at least 1).
    #[serde(default)]
    pub destructive_signers: Option<u32>,
    /// The longest `--ttl` (humantime, e.g. `"7d"`, `"36h"`); absent: [`DEFAULT_MAX_TTL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ttl: Option<String>,
}

/// The default cap on a plan's validity: a week covers a review across a weekend, while an
/// approved plan cannot be replayed for longer than that.
pub const DEFAULT_MAX_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

impl Policy {
    /// The cap on a plan's validity (`max_ttl`, else [`DEFAULT_MAX_TTL`]). `parse` has
    /// checked the text, so an unreadable value cannot reach here; it falls back to the
    /// default rather than lifting the cap.
    pub fn max_ttl(&self) -> std::time::Duration {
        self.max_ttl
            .as_deref()
            .and_then(|t| humantime::parse_duration(t).ok())
            .unwrap_or(DEFAULT_MAX_TTL)
    }
}

/// Why `.infra/sophia.toml` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct SettingsError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: String,
}

impl crate::core::hint::Hint for SettingsError {
    fn hint(&self) -> Option<String> {
        Some(self.hint.clone())
    }
}

/// Every key the file knows, for "did you mean".
const KNOWN_KEYS: [&str; 4] = ["approval", "policy", "destructive_signers", "max_ttl"];

impl Settings {
    /// Parse the file's text; `path` is only used in messages.
    pub fn parse(path: &str, text: &str) -> Result<Settings, SettingsError> {
        let settings: Settings = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| line_column(text, s.start))
                .unwrap_or((1, 1));
            let message = e.message().trim().to_string();
            let hint = match unknown_field(&message) {
                Some(name) => {
                    let suggestion = KNOWN_KEYS
                        .iter()
                        .map(|k| (strsim::jaro_winkler(&name, k), *k))
                        .filter(|(score, _)| *score >= 0.8)
                        .max_by(|a, b| a.0.total_cmp(&b.0))
                        .map(|(_, k)| format!("did you mean `{k}`? "))
                        .unwrap_or_default();
                    format!(
                        "{suggestion}the file knows `approval = \"signature\" | \"digest\"` and \
                         `[policy] destructive_signers = N`"
                    )
                }
                None => "expected `approval = \"signature\"` or `\"digest\"`, and optionally \
                         `[policy]` with `destructive_signers = N` (N ≥ 1)"
                    .to_string(),
            };
            SettingsError {
                path: path.to_string(),
                line,
                column,
                message,
                hint,
            }
        })?;
        if settings.policy.destructive_signers == Some(0) {
            let at = text.find("destructive_signers").unwrap_or(0);
            let (line, column) = line_column(text, at);
            return Err(SettingsError {
                path: path.to_string(),
                line,
                column,
                message: "`destructive_signers` must be at least 1".to_string(),
                hint: "remove the key to have no destructive-plan policy".to_string(),
            });
        }
        if let Some(text_ttl) = &settings.policy.max_ttl {
            let bad = match humantime::parse_duration(text_ttl) {
                Ok(d) if d.is_zero() => Some("`max_ttl` must be longer than zero".to_string()),
                Ok(_) => None,
                Err(e) => Some(format!("`max_ttl = \"{text_ttl}\"` is not a duration: {e}")),
            };
            if let Some(message) = bad {
                let at = text.find("max_ttl").unwrap_or(0);
                let (line, column) = line_column(text, at);
                return Err(SettingsError {
                    path: path.to_string(),
                    line,
                    column,
                    message,
                    hint: "write a duration as `--ttl` takes it, e.g. `max_ttl = \"7d\"` or \
                           `\"36h\"`"
                        .to_string(),
                });
            }
        }
        Ok(settings)
    }
}

/// The name in toml's "unknown field `x`, expected …".
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error as the printer shows it: the message, then its hint.
    fn err(text: &str) -> String {
        let e = Settings::parse(SETTINGS_PATH, text).unwrap_err();
        format!("{e}\n  hint: {}", e.hint)
    }

    #[test]
    fn defaults_and_full_file() {
        assert_eq!(
            Settings::parse(SETTINGS_PATH, "").unwrap(),
            Settings::default()
        );
        let s = Settings::parse(
            SETTINGS_PATH,
            "approval = \"digest\"\n[policy]\ndestructive_signers = 2\n",
        )
        .unwrap();
        assert_eq!(s.approval, ApprovalMode::Digest);
        assert_eq!(s.policy.destructive_signers, Some(2));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_located() {
        let cases = [
            "aproval = \"digest\"\n",
            "[policy]\ndestructive_signer = 2\n",
            "approval = \"signed\"\n",
            "[policy]\ndestructive_signers = 0\n",
            "[policy]\ndestructive_signers = \"two\"\n",
            "approval = \n",
        ];
        let report: Vec<String> = cases
            .iter()
            .map(|c| format!("{c}=> {}\n", err(c)))
            .collect();
        insta::assert_snapshot!("settings_errors", report.join("\n"));
    }

    #[test]
    fn max_ttl_defaults_to_a_week_and_is_checked() {
        assert_eq!(Settings::default().policy.max_ttl(), DEFAULT_MAX_TTL);
        let s = Settings::parse(SETTINGS_PATH, "[policy]\nmax_ttl = \"36h\"\n").unwrap();
        assert_eq!(s.policy.max_ttl().as_secs(), 36 * 3600);
        let e = err("[policy]\nmax_ttl = \"forever\"\n");
        assert!(
            e.starts_with(".infra/sophia.toml:2:1: `max_ttl = \"forever\"`"),
            "{e}"
        );
        assert!(err("[policy]\nmax_ttl = \"0s\"\n").contains("longer than zero"));
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncé d", 7), (2, 4));
        assert_eq!(line_column("", 5), (1, 1));
    }
}
