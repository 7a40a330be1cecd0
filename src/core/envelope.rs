//! The normalized result envelope of the original control plane (DESIGN.md, "Proofs"): every
//! operation's result, every proof file and every `--json` error uses it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Success,
    Failure,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub status: Status,
    /// The operation, e.g. `fly.health` or `apply fly.machines.update fly.app.x.machines`.
    pub query: String,
    pub results: Vec<serde_json::Value>,
    pub summary: Summary,
    /// RFC 3339.
    pub timestamp: String,
    pub execution_time_ms: u64,
    pub errors: Vec<EnvelopeError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub text: String,
    pub confidence: f64,
    pub model: String,
    pub sources: Vec<String>,
}

/// One error: `code` is one of the normalized codes (`not-configured`, `paused`,
/// `invalid-input`, `http-error`, `timeout`, `rate-limited`, `stale`, `unapproved`,
/// `locked`, `internal`, …); `message` never carries a secret value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeError {
    pub provider: String,
    pub code: String,
    pub message: String,
    /// What to do about it; omitted when there is nothing to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Envelope {
    /// A successful result. The timestamp and duration are given: the core reads no clock.
    pub fn success(
        query: impl Into<String>,
        results: Vec<serde_json::Value>,
        text: impl Into<String>,
        timestamp: impl Into<String>,
        execution_time_ms: u64,
    ) -> Envelope {
        Envelope {
            status: Status::Success,
            query: query.into(),
            results,
            summary: Summary::new(text),
            timestamp: timestamp.into(),
            execution_time_ms,
            errors: Vec::new(),
        }
    }

    /// A failed result with its errors.
    pub fn failure(
        query: impl Into<String>,
        errors: Vec<EnvelopeError>,
        text: impl Into<String>,
        timestamp: impl Into<String>,
        execution_time_ms: u64,
    ) -> Envelope {
        Envelope {
            status: Status::Failure,
            query: query.into(),
            results: Vec::new(),
            summary: Summary::new(text),
            timestamp: timestamp.into(),
            execution_time_ms,
            errors,
        }
    }
}

impl Summary {
    pub fn new(text: impl Into<String>) -> Summary {
        Summary {
            text: text.into(),
            confidence: 1.0,
            model: "n/a".into(),
            sources: Vec::new(),
        }
    }
}

impl EnvelopeError {
    pub fn new(
        provider: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> EnvelopeError {
        EnvelopeError {
            provider: provider.into(),
            code: code.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// The same error with a hint.
    pub fn with_hint(mut self, hint: Option<String>) -> EnvelopeError {
        self.hint = hint;
        self
    }
}
