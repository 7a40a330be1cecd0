//! The Slack notification of a plan with changes and of every apply (DESIGN.md): posted to
//! the desired state's `slack.notify_channel` when Slack is active. A failure to notify is
//! reported, never fatal: the plan or apply itself already happened and is recorded.

use std::path::Path;

use crate::core::desired::Desired;
use crate::providers::{Credentials, ProviderError};

/// What became of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notified {
    /// Nothing to notify: Slack is paused or not managed, no channel is set, or the desired
    /// state could not be read.
    Nothing,
    Sent,
    /// The post failed (e.g. Slack's credentials are missing).
    Failed(ProviderError),
}

/// Post `text` to the notify channel of `desired`.
pub async fn slack(desired: &Desired, creds: &Credentials, text: &str) -> Notified {
    match crate::providers::slack::notify(desired, creds, &creds.http(), text).await {
        Some(Ok(_)) => Notified::Sent,
        Some(Err(e)) => Notified::Failed(e),
        None => Notified::Nothing,
    }
}

/// [`slack`] with the desired state of the repository at `root`.
pub async fn slack_in(root: &Path, creds: &Credentials, text: &str) -> Notified {
    match crate::workspace::load_desired(root) {
        Ok(desired) => slack(&desired, creds, text).await,
        Err(_) => Notified::Nothing,
    }
}
