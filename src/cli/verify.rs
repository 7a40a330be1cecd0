//! `sophia verify plan.json [--signature FILE]… [--approve sha256:…]`: run the approval gate
//! `apply` runs (digest, expiry, signatures against `.infra/allowed_signers`, the policy of
//! `.infra/sophia.toml`) and say who approved the plan. Exit 0 when approved, 1 otherwise.

use std::path::PathBuf;

use super::{Ctx, Exit};
use crate::approve::{self, ApprovalMode, GateOptions};
use crate::core::envelope::Envelope;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file.
    pub plan: PathBuf,
    /// A signature file (repeatable; default: PLAN.sig and every PLAN.sig.* next to the plan).
    #[arg(long = "signature", value_name = "FILE")]
    pub signatures: Vec<PathBuf>,
    /// Approve by digest (`approval = "digest"` in .infra/sophia.toml): the plan's digest.
    #[arg(long, value_name = "sha256:HEX")]
    pub approve: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let started = std::time::Instant::now();
    let now = chrono::Utc::now();
    let options = GateOptions {
        plan: args.plan,
        signatures: args.signatures,
        approve: args.approve,
    };
    // Skipped allowed_signers lines are warned about on stderr (stdout stays the result).
    for warning in approve::allowed_signers_warnings(&ctx.root) {
        ctx.status(warning);
    }
    let gated = approve::gate(&ctx.root, &options, now)?;
    let approval = &gated.approval;
    let plan_name = approve::shown(&ctx.root, &ctx.path(&options.plan));
    let mut text = match approval.mode {
        ApprovalMode::Digest => format!(
            "approved: `{plan_name}` ({}) by digest, valid until {}",
            approval.plan_digest, gated.plan.not_after
        ),
        ApprovalMode::Signature => format!(
            "approved: `{plan_name}` ({}), valid until {}",
            approval.plan_digest, gated.plan.not_after
        ),
    };
    for s in &approval.signers {
        text.push_str(&format!(
            "\n  signed by `{}` with {} key {} (`{}`, {}:{})",
            s.principal,
            s.key_type,
            s.fingerprint,
            s.signature_file,
            approve::ALLOWED_SIGNERS_PATH,
            s.allowed_signers_line
        ));
    }
    if !approval.destructive.is_empty() {
        text.push_str(&format!(
            "\n  destructive: {}",
            approval.destructive.join(", ")
        ));
    }
    if ctx.json {
        let envelope = Envelope::success(
            "verify",
            vec![serde_json::json!({
                "plan": plan_name,
                "not_after": gated.plan.not_after,
                "approval": approval,
            })],
            text,
            now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            started.elapsed().as_millis() as u64,
        );
        println!("{}", serde_json::to_string_pretty(&envelope)?);
    } else {
        println!("{text}");
    }
    Ok(Exit::Clean)
}
