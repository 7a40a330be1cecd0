//! What several commands print the same way (not a command).

use crate::core::plan::Plan;
use crate::core::render;

/// How a plan is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Terraform-like, coloured on a terminal (not with `NO_COLOR`).
    Text,
    /// The PR comment.
    Markdown,
    /// The plan file.
    Json,
}

/// Render a plan in one of the three formats; `plan_file` is where the markdown says the
/// plan file is.
pub fn render_plan(plan: &Plan, format: Format, color: bool, plan_file: &str) -> String {
    match format {
        Format::Text => render::text::render(plan, color),
        Format::Markdown => render::markdown::render(plan, plan_file),
        Format::Json => render::json::render(plan),
    }
}

/// The `Notified Slack.` line, or the warning of a notification that failed.
pub fn notified(ctx: &super::Ctx, notified: &crate::ops::notify::Notified) {
    use crate::ops::notify::Notified;
    match notified {
        Notified::Sent => ctx.status("Notified Slack."),
        Notified::Failed(e) => ctx.status(format!("warning: could not notify Slack: {e}")),
        Notified::Nothing => {}
    }
}
