//! The plan file: pretty JSON. Its digest is over canonical JSON, so the indentation does
//! not matter to it.

use crate::core::plan::Plan;

/// The plan as pretty JSON, ending with a newline.
pub fn render(plan: &Plan) -> String {
    let mut out = Vec::new();
    write(plan, &mut out).expect("a plan serializes");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// [`render`] written to `out` as it is made, never held whole (the plan file of a plan that
/// creates 100,000 resources is about 150 MB).
pub fn write(plan: &Plan, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, plan)?;
    out.write_all(b"\n")
}
