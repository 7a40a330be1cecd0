//! The plan file: pretty JSON. Its digest is over canonical JSON, so the indentation does
//! not matter to it.

use crate::core::plan::Plan;

/// The plan as pretty JSON, ending with a newline.
pub fn render(plan: &Plan) -> String {
    let mut out = serde_json::to_string_pretty(plan).expect("a plan serializes");
    out.push('\n');
    out
}
