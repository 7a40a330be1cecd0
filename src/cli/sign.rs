//! `sophia sign plan.json --key KEY [--out FILE]`: sign a plan file with an SSH key, writing
//! the same armored signature `ssh-keygen -Y sign -n sophia-plan@v1 -f KEY plan.json` writes.

use std::path::PathBuf;

use super::{Ctx, Exit};
use crate::approve;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file (written by `sophia plan --out`).
    pub plan: PathBuf,
    /// The private SSH key (OpenSSH format, unencrypted: ed25519, RSA or ECDSA). For an
    /// encrypted key or one in an agent, use `ssh-keygen -Y sign -n sophia-plan@v1 -f KEY PLAN`.
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Where to write the signature (default: PLAN.sig).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let plan_path = ctx.path(&args.plan);
    let out = match &args.out {
        Some(out) => ctx.path(out),
        None => {
            let mut name = plan_path.as_os_str().to_owned();
            name.push(".sig");
            PathBuf::from(name)
        }
    };
    let key_path = ctx.path(&args.key);
    let started = std::time::Instant::now();
    let now = chrono::Utc::now();
    let signed = approve::sign_plan(&ctx.root, &plan_path, &key_path, &out, now)?;
    if ctx.json {
        let envelope = crate::core::envelope::Envelope::success(
            "sign",
            vec![serde_json::json!({
                "plan": approve::shown(&ctx.root, &plan_path),
                "plan_digest": signed.plan_digest,
                "signature_file": approve::shown(&ctx.root, &out),
                "key_type": signed.key_type,
                "fingerprint": signed.fingerprint,
                "namespace": approve::sshsig::NAMESPACE,
            })],
            format!("signed {}", signed.plan_digest),
            now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            started.elapsed().as_millis() as u64,
        );
        println!("{}", serde_json::to_string_pretty(&envelope)?);
    }
    ctx.status(format!(
        "signed `{}` (digest {}) with {} key {}{} → `{}`",
        approve::shown(&ctx.root, &plan_path),
        signed.plan_digest,
        signed.key_type,
        signed.fingerprint,
        if signed.comment.is_empty() {
            String::new()
        } else {
            format!(" ({})", signed.comment)
        },
        approve::shown(&ctx.root, &out),
    ));
    match approve::read_allowed_signers(&ctx.root) {
        Ok(Some(allowed)) => {
            for warning in allowed.warnings() {
                ctx.status(warning);
            }
            let listed: Vec<String> = allowed
                .entries
                .iter()
                .filter(|e| approve::sshsig::fingerprint(e.key.key_data()) == signed.fingerprint)
                .filter_map(|e| {
                    let who = e.identity()?;
                    Some(format!("`{who}` ({}:{})", approve::ALLOWED_SIGNERS_PATH, e.line))
                })
                .collect();
            if listed.is_empty() {
                ctx.status(format!(
                    "warning: this key is not listed in `{}`; `apply` will refuse this signature",
                    approve::ALLOWED_SIGNERS_PATH
                ));
            } else {
                ctx.status(format!("the key is listed for {}", listed.join(", ")));
            }
        }
        Ok(None) => ctx.status(format!(
            "warning: `{}` does not exist; `apply` will refuse every signature until it lists approvers",
            approve::ALLOWED_SIGNERS_PATH
        )),
        Err(e) => ctx.status(format!("warning: {e:#}")),
    }
    Ok(Exit::Clean)
}
