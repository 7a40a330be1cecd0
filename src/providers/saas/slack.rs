//! Slack: `validate` (`auth.test`) and plan/apply notifications (`chat.postMessage` to
//! `slack.notify_channel`), both with the bot token as `Authorization: Bearer`.
//!
//! Slack answers HTTP 200 with `{"ok": false, "error": "…"}` on failure: such an answer is
//! an error with code `slack-error` and Slack's error name (`invalid_auth`,
//! `channel_not_found`, …). `SLACK_SIGNING_SECRET` is required (the original plane listed it)
//! though only incoming requests, which sophia does not receive, use it.

use reqwest::Method;
use reqwest::header::AUTHORIZATION;
use serde_json::{Value, json};

use super::api::{self, Api};
use crate::core::desired::{Activation, Desired, ProviderName};
use crate::providers::http::{Http, Retry};
use crate::providers::{Credentials, ProviderError};

pub const PROVIDER: &str = "slack";
pub const TOKEN_VAR: &str = "SLACK_BOT_TOKEN";
pub const SIGNING_VAR: &str = "SLACK_SIGNING_SECRET";
pub const DEFAULT_BASE_URL: &str = "https://slack.com/api";
/// Longest notification text: Slack truncates messages over 40,000 characters; a plan
/// summary is far shorter, and the rest belongs in the PR comment.
pub const MAX_TEXT_CHARS: usize = 4000;

#[derive(Debug, Clone)]
pub struct SlackProvider {
    api: Api,
}

impl SlackProvider {
    pub fn new(creds: &Credentials, http: Http) -> Result<SlackProvider, ProviderError> {
        let token = api::require(PROVIDER, creds, &[TOKEN_VAR, SIGNING_VAR])?[0];
        Ok(SlackProvider {
            api: Api {
                provider: PROVIDER,
                http,
                base: api::base(PROVIDER, creds, "SLACK_API_URL", DEFAULT_BASE_URL)?,
                headers: vec![(
                    AUTHORIZATION,
                    api::secret_header(PROVIDER, TOKEN_VAR, &format!("Bearer {}", token.trim()))?,
                )],
            },
        })
    }

    /// Slack's `ok: false` as an error.
    fn check(body: Value, what: &str) -> Result<Value, ProviderError> {
        if body.get("ok") == Some(&Value::Bool(true)) {
            return Ok(body);
        }
        let error = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown_error");
        Err(ProviderError::new(
            PROVIDER,
            "slack-error",
            format!("{what}: Slack answered `{error}`"),
        ))
    }

    /// `auth.test`: which team and bot the token belongs to.
    pub async fn validate(&self) -> Result<Value, ProviderError> {
        // auth.test changes nothing: safe to retry.
        let req = self
            .api
            .req(Method::POST, &["auth.test"])
            .retry(Retry::Idempotent);
        let body = Self::check(self.api.json(req).await?, "POST /auth.test")?;
        Ok(json!({
            "team": body.get("team"), "team_id": body.get("team_id"),
            "user": body.get("user"), "bot_id": body.get("bot_id"),
        }))
    }

    /// `chat.postMessage` to `channel` (never retried on a server error: the message may
    /// have been posted).
    pub async fn post(&self, channel: &str, text: &str) -> Result<Value, ProviderError> {
        let text: String = text.chars().take(MAX_TEXT_CHARS).collect();
        let req = self
            .api
            .req(Method::POST, &["chat.postMessage"])
            .json(json!({ "channel": channel, "text": text }));
        let body = Self::check(self.api.json(req).await?, "POST /chat.postMessage")?;
        Ok(json!({ "channel": body.get("channel"), "ts": body.get("ts") }))
    }

    pub async fn op(&self, name: &str) -> Result<(String, Vec<Value>), ProviderError> {
        match name {
            "validate" => {
                let v = self.validate().await?;
                Ok((
                    format!("Slack token of team {}", v["team"].as_str().unwrap_or("?")),
                    vec![v],
                ))
            }
            other => Err(api::unknown(PROVIDER, other, "validate")),
        }
    }
}

/// Post `text` to `slack.notify_channel` when Slack is active and a channel is set; what
/// `plan` and `apply` call. `None` when there is nothing to notify (Slack paused, not
/// managed, or no channel); a failure to notify is returned, never fatal to the caller.
pub async fn notify(
    desired: &Desired,
    creds: &Credentials,
    http: &Http,
    text: &str,
) -> Option<Result<Value, ProviderError>> {
    if desired.activation(ProviderName::Slack) != Some(Activation::Active) {
        return None;
    }
    let channel = desired.slack.as_ref()?.notify_channel.as_deref()?;
    let slack = match SlackProvider::new(creds, http.clone()) {
        Ok(s) => s,
        Err(e) => return Some(Err(e)),
    };
    Some(slack.post(channel, text).await)
}
