//! The plan file read back: [`read_plan`] parses it and checks its digest; [`is_expired`]
//! checks its validity window.

use chrono::{DateTime, Utc};

use super::types::{PLAN_FORMAT, Plan};
use crate::core::digest;

/// Why a plan file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanFileError {
    #[error("{file}:{line}:{column}: not valid JSON: {message}")]
    BadJson {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: not a plan file: `format` is {found}, expected `{PLAN_FORMAT}`")]
    WrongFormat { file: String, found: String },
    #[error("{file}: {number}\n  hint: a plan file is written by `sophia plan --out FILE`")]
    UnsafeNumber {
        file: String,
        number: crate::core::number::UnsafeNumber,
    },
    #[error("{file}:{line}:{column}: malformed plan: {message}")]
    Malformed {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{file}: the plan's digest does not match its content (recorded {recorded}, computed {computed}): the file was modified after it was planned"
    )]
    DigestMismatch {
        file: String,
        recorded: String,
        computed: String,
    },
}

/// Check that a plan's digest matches its content.
pub fn verify_digest(plan: &Plan) -> Result<(), (String, String)> {
    let computed = digest::plan_digest(plan);
    if computed == plan.digest {
        Ok(())
    } else {
        Err((plan.digest.clone(), computed))
    }
}

/// Whether `now` is past the plan's `not_after` (an unreadable `not_after` counts as
/// expired: a plan that cannot say until when it is valid is not valid).
pub fn is_expired(plan: &Plan, now: DateTime<Utc>) -> bool {
    match DateTime::parse_from_rfc3339(&plan.not_after) {
        Ok(t) => now > t.with_timezone(&Utc),
        Err(_) => true,
    }
}

/// Parse a plan file and verify its digest. `file` is the path shown in errors.
pub fn read_plan(file: &str, text: &str) -> Result<Plan, PlanFileError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| PlanFileError::BadJson {
            file: file.to_string(),
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        })?;
    match value.get("format") {
        Some(serde_json::Value::String(f)) if f == PLAN_FORMAT => {}
        other => {
            return Err(PlanFileError::WrongFormat {
                file: file.to_string(),
                found: match other {
                    None => "missing".to_string(),
                    Some(serde_json::Value::String(f)) => format!("`{f}`"),
                    Some(v) => format!("`{v}`"),
                },
            });
        }
    }
    crate::core::number::check_json(&value).map_err(|number| PlanFileError::UnsafeNumber {
        file: file.to_string(),
        number,
    })?;
    let plan: Plan = serde_json::from_str(text).map_err(|e| PlanFileError::Malformed {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    verify_digest(&plan).map_err(|(recorded, computed)| PlanFileError::DigestMismatch {
        file: file.to_string(),
        recorded,
        computed,
    })?;
    Ok(plan)
}

/// serde_json appends " at line L column C"; the error shows the position up front.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

impl crate::core::hint::Hint for PlanFileError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            PlanFileError::BadJson { .. } => {
                "a plan file is written by `sophia plan --out FILE`".to_string()
            }
            PlanFileError::WrongFormat { .. } => {
                "a plan file is written by `sophia plan --out FILE`".to_string()
            }
            PlanFileError::DigestMismatch { .. } => {
                "plan again with `sophia plan --out FILE`".to_string()
            }
            _ => return None,
        })
    }
}
