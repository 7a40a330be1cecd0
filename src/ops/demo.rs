//! `sophia demo`: the whole loop in a temporary directory, against the embedded sandbox — how
//! a newcomer meets the tool. No credentials, no network (the sandbox listens on 127.0.0.1).
//!
//! ```text
//! sandbox ▸ desired state ▸ plan ▸ sign (fresh ed25519 key, temporary allowed_signers)
//!         ▸ apply (progress) ▸ plan again (no changes) ▸ proofs verify
//!         ▸ out-of-band change on the sandbox ▸ drift
//! ```
//!
//! Every step runs the operation its command runs (`ops::plan`, `approve::sign_plan`,
//! `approve::gate`, `ops::apply`, `ops::proofs`, `ops::drift`), says what it does and why
//! through the caller's [`Narrator`], and checks that it behaved as it should: an error names
//! the step that did not. The directory is deleted at the end unless asked to keep it; the
//! sandbox stops with the walk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};

use super::apply::{ApplyRequest, apply};
use super::drift::{DriftOutcome, DriftRequest, drift};
use super::plan::{PlanRequest, Planned, plan};
use super::proofs::{VerifyRequest, verify};
use super::refresh::describe_errors;
use crate::apply::{ApplyOptions, DEFAULT_PARALLELISM, Progress};
use crate::approve::{self, GateOptions};
use crate::core::plan::Plan;
use crate::providers::Credentials;
use crate::sandbox::{Sandbox, SandboxConfig, Seed};

/// How the demo tells its story; the command line prints it.
pub trait Narrator: Sync {
    /// A plain line.
    fn line(&self, text: &str);
    /// The heading of step `n` of [`STEPS`].
    fn step(&self, n: usize, what: &str);
    /// One line of why the step matters.
    fn why(&self, text: &str);
    /// What the step achieved.
    fn done(&self, text: &str);
    /// A block of output (e.g. the proof files).
    fn block(&self, text: &str);
    /// A plan, as `sophia plan` shows it.
    fn plan(&self, plan: &Plan);
    /// A file and its content.
    fn file(&self, name: &str, text: &str);
    /// The apply's progress.
    fn progress(&self) -> &dyn Progress;
}

/// What `sophia demo` is asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct DemoRequest {
    /// Keep the demo directory (desired state, plan, signature, proofs).
    pub keep: bool,
}

/// How the demo went.
#[derive(Debug)]
pub struct Demoed {
    /// `Err` names the step that did not behave as expected.
    pub walk: anyhow::Result<()>,
    /// The demo directory, when kept.
    pub kept: Option<PathBuf>,
    pub elapsed: Duration,
}

/// The number of steps, for `Step 3/9`.
pub const STEPS: usize = 9;

/// How long the demo's plans stay valid: it signs and applies them within seconds.
const DEMO_TTL: Duration = Duration::from_secs(3600);

/// Run the whole loop in a fresh temporary directory.
pub async fn demo(req: &DemoRequest, say: &dyn Narrator) -> anyhow::Result<Demoed> {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("sophia-demo-")
        .tempdir()
        .context("creating the demo directory")?;
    say.line(&format!(
        "Working in {} (a temporary directory{}).",
        dir.path().display(),
        if req.keep {
            ", kept at the end"
        } else {
            ", deleted at the end"
        }
    ));
    say.line("No credentials and no network: every provider API is emulated on 127.0.0.1.");
    let walk = walk(say, dir.path()).await;
    let kept = if req.keep {
        Some(dir.keep())
    } else {
        dir.close().context("removing the demo directory")?;
        None
    };
    Ok(Demoed {
        walk,
        kept,
        elapsed: started.elapsed(),
    })
}

/// The demo's desired state: two Fly apps (one depending on the other) and the governance of
/// one GitHub repository. Self-contained, so the demo runs from any checkout.
const DESIRED: &str = r#"# The demo's desired state: what should exist. sophia compares it with what does.
providers:
  fly: active
  github: active

fly:
  org: pay-ready
  apps:
    sophia-demo-api:
      image: registry.fly.io/sophia-demo-api:v1
      regions: [ord]
      count: 1
      guest: { cpu_kind: shared, cpus: 1, memory_mb: 256 }
      env: { LOG_LEVEL: info }
      secrets: [DEMO_API_KEY]          # names only; the value is read at apply time
      health: { path: /healthz, port: 8080, expect_status: 200 }
      strategy: rolling
    sophia-demo-web:
      image: registry.fly.io/sophia-demo-web:v1
      regions: [ord]
      count: 2
      guest: { cpu_kind: shared, cpus: 1, memory_mb: 256 }
      env: { LOG_LEVEL: info }
      health: { path: /healthz, port: 8080, expect_status: 200 }
      strategy: rolling
      depends_on: [sophia-demo-api]    # deployed after the API

github:
  repos:
    ai-cherry/sophia-demo:
      branches:
        main:
          protection:
            required_status_checks: { strict: true, contexts: ["Deploy All"] }
            enforce_admins: true
            required_pull_request_reviews: { require_code_owner_reviews: true }
            restrictions: null
      actions_secrets: [FLY_API_TOKEN]
      environments:
        production: { reviewers: [{ type: User, login: the-ceo }] }
"#;

/// What exists before the demo: the Fly organization and an unprotected repository.
const SEED: &str = r#"
fly:
  orgs: [pay-ready]
github:
  users: [the-ceo]
  repos:
    ai-cherry/sophia-demo: { branches: [main] }
"#;

/// The repository's price table, so the demo's plans carry their cost.
const PRICES: &str = include_str!("../../.infra/prices/fly.toml");

/// The plan's policy verdicts, when it carries a `policy` block (`{digest, deny, warn}`,
/// DESIGN.md "Review: policy, cost and picture"): read from the plan file's JSON, so the
/// demo shows them whichever build of the block it gets.
fn policy_lines(plan: &Plan) -> Vec<String> {
    let value = serde_json::to_value(plan).unwrap_or_default();
    let Some(policy) = value.get("policy").filter(|p| p.is_object()) else {
        return Vec::new();
    };
    let list = |k: &str| -> Vec<String> {
        policy
            .get(k)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_string))
            .collect()
    };
    let (deny, warn) = (list("deny"), list("warn"));
    let mut out = vec![format!(
        "Policy ({}): {} deny, {} warn.",
        policy
            .get("digest")
            .and_then(|d| d.as_str())
            .unwrap_or("no digest"),
        deny.len(),
        warn.len()
    )];
    out.extend(deny.iter().map(|m| format!("  deny: {m}")));
    out.extend(warn.iter().map(|m| format!("  warn: {m}")));
    out
}

/// The secrets the demo's apply sends. Their values are random, exist only in this process,
/// and are never printed: sophia records names only.
const DEMO_SECRETS: [&str; 2] = ["DEMO_API_KEY", "FLY_API_TOKEN"];

/// The identity of the demo approver in `.infra/allowed_signers`.
const APPROVER: &str = "demo-approver@sophia";

/// The walk itself; each step returns an error naming what did not behave.
async fn walk(say: &dyn Narrator, root: &Path) -> anyhow::Result<()> {
    // 1. The sandbox.
    say.step(1, "Start the sandbox");
    say.why("sophia talks to Fly.io and GitHub over their real APIs; the sandbox emulates both");
    say.why("(same paths, status codes and bodies), so nothing here touches a real account.");
    let seed = Seed::parse(SEED).context("the demo's sandbox seed")?;
    let sandbox = Sandbox::start(SandboxConfig {
        seed,
        ..SandboxConfig::default()
    })
    .context("starting the sandbox")?;
    let creds = Credentials::from_pairs(sandbox.env());
    let secrets: BTreeMap<String, String> = DEMO_SECRETS
        .iter()
        .map(|n| (n.to_string(), hex::encode(rand::random::<[u8; 16]>())))
        .collect();
    say.done(&format!(
        "listening on {}: Fly organization `pay-ready` (no apps yet), GitHub repository \
         `ai-cherry/sophia-demo` (`main` unprotected).",
        sandbox.url()
    ));

    // 2. The desired state.
    say.step(2, "Write the desired state");
    say.why("desired/*.yaml says what should exist. It is the only thing people edit, in pull");
    say.why("requests; sophia works out what to do about it.");
    write(root, "desired/demo.yaml", DESIRED)?;
    say.file("desired/demo.yaml", DESIRED);
    say.why("Beside it, .infra/prices/fly.toml (Fly's published prices, dated, with their source)");
    say.why("gives every plan its monthly cost before and after.");
    write(root, crate::core::cost::PRICES_PATH, PRICES)?;
    say.why("Every plan must also pass the rules of .infra/policy/*.rego (Rego, as OPA runs it).");
    write(root, ".infra/policy/demo.rego", crate::policy::DEMO_POLICY)?;
    say.file(".infra/policy/demo.rego", crate::policy::DEMO_POLICY);

    // 3. Plan.
    say.step(3, "Plan: compare the desired state with live state");
    say.why("sophia reads live state (reads only) and computes every change and the order of");
    say.why("the actions that make them. The plan file is what gets approved, byte for byte.");
    let plan_path = root.join("plan.json");
    let plan = make_plan(root, &creds, &secrets, Some(&plan_path)).await?;
    say.plan(&plan);
    say.line(
        "The picture the PR comment embeds (Mermaid; `sophia graph plan.json` draws the actions):",
    );
    say.block(&crate::core::render::picture::mermaid(
        &crate::core::render::picture::resources(&plan),
    ));
    // The cost is in the plan (shown above with the changes), signed with them.
    ensure!(
        plan.cost.as_ref().is_some_and(|c| c.delta.0 > 0),
        "step 3: the plan should carry its monthly cost (.infra/prices/fly.toml)"
    );
    for line in policy_lines(&plan) {
        say.line(&line);
    }
    ensure!(
        plan.summary.create > 0 && plan.summary.delete == 0,
        "step 3: the first plan should create the apps and settings, and delete nothing \
         ({})",
        plan.summary.sentence()
    );
    say.done(&format!(
        "wrote plan.json ({} actions, digest {}).",
        plan.actions.len(),
        plan.digest
    ));

    // 4. Sign.
    say.step(4, "Sign the plan");
    say.why("Nothing is applied without approval. The approver signs the exact plan file with");
    say.why("their SSH key (`ssh-keygen -Y sign -n sophia-plan@v1 -f ~/.ssh/id_ed25519 plan.json`");
    say.why("or `sophia sign plan.json --key …`); apply checks the signature against the keys");
    say.why("listed in .infra/allowed_signers. Here a fresh ed25519 key plays the approver.");
    let key_path = demo_key(root)?;
    let signature = root.join("plan.json.sig");
    approve::sign_plan(root, &plan_path, &key_path, &signature, chrono::Utc::now())?;
    let gated = approve::gate(
        root,
        &GateOptions {
            plan: plan_path.clone(),
            ..GateOptions::default()
        },
        chrono::Utc::now(),
    )
    .context("step 4: the signed plan should pass the approval gate")?;
    for s in &gated.approval.signers {
        say.done(&format!(
            "plan.json.sig: signed by `{}` ({} key {}), accepted by {}:{}.",
            s.principal,
            s.key_type,
            s.fingerprint,
            approve::ALLOWED_SIGNERS_PATH,
            s.allowed_signers_line
        ));
    }

    // 5. Apply.
    say.step(5, "Apply the signed plan");
    say.why("apply takes a lock, checks the digest, expiry and signature, re-reads live state");
    say.why("and refuses if it moved since the plan, then runs the actions in dependency order,");
    say.why("writing a proof for each one to proofs/ and a line to the hash-chained journal.");
    let report = apply(&ApplyRequest {
        root,
        backend: None,
        creds: &creds,
        secrets: Arc::new(secrets.clone()),
        options: ApplyOptions {
            plan: plan_path.clone(),
            signatures: Vec::new(),
            approve: None,
            parallelism: DEFAULT_PARALLELISM,
            fail_fast: false,
            // The demo's apply takes seconds; a minute is ample and expires soon if killed.
            lease_ttl: Duration::from_secs(60),
        },
        progress: say.progress(),
        attestation_key: None,
    })
    .await
    .context("step 5: apply")?
    .report;
    for a in report
        .actions
        .iter()
        .filter(|a| a.status != crate::apply::ActionStatus::Succeeded)
    {
        say.line(&format!("    {} {}: {}", a.status, a.action.id, a.message));
    }
    ensure!(
        report.succeeded(),
        "step 5: every action should succeed ({} failed, {} skipped)",
        report.count(crate::apply::ActionStatus::Failed),
        report.count(crate::apply::ActionStatus::Skipped)
    );
    ensure!(
        report.not_converged.is_empty(),
        "step 5: live state should match the plan after the apply; it does not for {}",
        report.not_converged.join(", ")
    );
    say.done(&format!(
        "{} actions succeeded in {:.1}s, approved by {}; live state re-read and converged.",
        report.actions.len(),
        report.elapsed.as_secs_f64(),
        report.approver
    ));

    // 6. Plan again.
    say.step(6, "Plan again");
    say.why("Applying is idempotent: once live state matches, the same desired state plans");
    say.why("nothing. (After a partial failure, it plans exactly the remaining work.)");
    let again = make_plan(root, &creds, &secrets, None).await?;
    say.plan(&again);
    ensure!(
        !again.has_changes(),
        "step 6: a second plan should have no changes ({})",
        again.summary.sentence()
    );
    say.done("no changes.");

    // 7. Proofs.
    say.step(7, "Verify the proofs");
    say.why("proofs/ holds the approved plan, its signature, one file per action and the");
    say.why("journal, each line carrying the hash of the one before: `sophia proofs verify`");
    say.why("re-checks the chain and every file, so an edit after the fact is detected.");
    let verified = verify(&VerifyRequest {
        root,
        backend: None,
        head: None,
    })
    .await
    .context("step 7: the journal and proofs should verify")?;
    let files = list_files(&root.join("proofs"))?;
    say.block(&proof_summary(&files));
    say.done(&format!(
        "journal: {} records, {} files verified (head {}).",
        verified.records, verified.files, verified.head
    ));

    // 8. Out-of-band change.
    say.step(8, "Change live state behind sophia's back");
    say.why("Someone hot-fixes an image with `fly deploy` and unticks \"Do not allow bypassing");
    say.why("the above settings\" on `main`. sophia did not make these changes; drift finds them.");
    let web = sandbox.with_world(out_of_band)?;
    say.done(&format!(
        "`sophia-demo-web` now runs {web}; `main` no longer enforces its protection for admins."
    ));

    // 9. Drift.
    say.step(9, "Detect the drift");
    say.why("`sophia drift` (a scheduled workflow) plans against live state: any change is drift,");
    say.why("shown as the plan that would undo it. It exits 2, writes a proof, and with --issue");
    say.why("keeps one GitHub issue about it (closed again once the drift is gone).");
    let checked = drift(&DriftRequest {
        root,
        creds: &creds,
        backend: None,
        issue: None,
    })
    .await?;
    let (drift, proof) = match checked {
        DriftOutcome::Checked { drift, proof, .. } => (drift, proof),
        DriftOutcome::Unread { errors, .. } => bail!("{}", describe_errors(&errors)),
    };
    say.plan(&drift.plan);
    let found: Vec<String> = drift
        .plan
        .changes
        .iter()
        .map(|c| c.address.to_string())
        .collect();
    let expected = [
        "fly.app.sophia-demo-web.machines",
        "github.repo.ai-cherry/sophia-demo.branch.main.protection",
    ];
    if found != expected {
        bail!(
            "step 9: drift should be exactly {} — found {}",
            expected.join(", "),
            if found.is_empty() {
                "none".to_string()
            } else {
                found.join(", ")
            }
        );
    }
    say.done(&format!(
        "drift on {} (`sophia drift` would exit 2); recorded in proofs/{} and the journal.",
        found.join(" and "),
        proof.path()
    ));
    say.line("  To undo it, the usual gate: plan, sign, apply. Or accept it by changing desired/.");
    drop(sandbox);
    Ok(())
}

/// Plan the demo's desired state against the sandbox, as `sophia plan` does; the plan file is
/// written to `out`. Fails on any provider that cannot be read.
async fn make_plan(
    root: &Path,
    creds: &Credentials,
    secrets: &BTreeMap<String, String>,
    out: Option<&Path>,
) -> anyhow::Result<Plan> {
    let Planned { plan, unread, .. } = plan(&PlanRequest {
        root,
        creds,
        secrets,
        live: None,
        ttl: DEMO_TTL,
        targets: Vec::new(),
        out: out.map(Path::to_path_buf),
    })
    .await?;
    if !unread.is_empty() {
        bail!("{}", describe_errors(&unread));
    }
    Ok(plan)
}

/// A fresh ed25519 key in `.demo/id_ed25519`, listed for the plan namespace in
/// `.infra/allowed_signers`. Returns the private key's path.
fn demo_key(root: &Path) -> anyhow::Result<PathBuf> {
    let seed: [u8; 32] = rand::random();
    let mut key = ssh_key::PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&seed));
    key.set_comment(APPROVER);
    let text = key
        .to_openssh(ssh_key::LineEnding::LF)
        .context("encoding the demo key")?;
    let path = root.join(".demo/id_ed25519");
    write(root, ".demo/id_ed25519", &text)?;
    let public = key
        .public_key()
        .to_openssh()
        .context("encoding the demo public key")?;
    write(
        root,
        approve::ALLOWED_SIGNERS_PATH,
        &format!(
            "# Who may approve plans: one line per key (git's allowed_signers format).\n\
             {APPROVER} namespaces=\"sophia-plan@v1\" {public}\n"
        ),
    )?;
    Ok(path)
}

/// The out-of-band changes: a hot-fixed image on every `sophia-demo-web` machine, and
/// `enforce_admins` turned off on `main`. Returns the new image.
fn out_of_band(world: &mut crate::sandbox::World) -> anyhow::Result<String> {
    let image = "registry.fly.io/sophia-demo-web:hotfix".to_string();
    let app = world
        .fly
        .apps
        .get_mut("sophia-demo-web")
        .context("step 8: the apply should have created `sophia-demo-web`")?;
    for m in app.machines.values_mut() {
        m.config["image"] = serde_json::json!(image);
    }
    let repo = world
        .github
        .repos
        .get_mut("ai-cherry/sophia-demo")
        .context("step 8: the sandbox should hold `ai-cherry/sophia-demo`")?;
    match repo.branches.get_mut("main") {
        Some(Some(protection)) => protection["enforce_admins"] = serde_json::json!(false),
        _ => bail!("step 8: the apply should have protected `main`"),
    }
    Ok(image)
}

fn write(root: &Path, rel: &str, text: &str) -> anyhow::Result<()> {
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    }
    std::fs::write(&path, text).with_context(|| format!("writing `{}`", path.display()))
}

/// Every file under `dir`, relative to it, sorted.
fn list_files(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading `{}`", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push(rel.display().to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The proof files grouped by directory, digests shortened: what a newcomer should notice.
fn proof_summary(files: &[String]) -> String {
    let mut dirs: BTreeMap<String, usize> = BTreeMap::new();
    for f in files {
        let dir = match f.rsplit_once('/') {
            Some((d, _)) => format!("proofs/{}/", short_digests(d)),
            None => format!("proofs/{f}"),
        };
        *dirs.entry(dir).or_default() += 1;
    }
    let what = |dir: &str| {
        if dir.starts_with("proofs/apply/") {
            "one result per action, and the apply's summary"
        } else if dir.starts_with("proofs/plans/") {
            "the approved plan, its signature and its record"
        } else if dir.starts_with("proofs/healthz/") {
            "the health check after each deploy"
        } else if dir.starts_with("proofs/github/") {
            "branch protection as set"
        } else if dir.starts_with("proofs/managed/") {
            "what sophia manages now, and what is protected"
        } else if dir == "proofs/journal.jsonl" {
            "the hash-chained journal"
        } else {
            ""
        }
    };
    let width = dirs.keys().map(|d| d.chars().count()).max().unwrap_or(0);
    dirs.iter()
        .map(|(dir, n)| {
            let count = if dir.ends_with('/') {
                format!("{n} file{}", if *n == 1 { "" } else { "s" })
            } else {
                String::new()
            };
            let pad = width - dir.chars().count();
            format!("{dir}{}  {count:<9} {}\n", " ".repeat(pad), what(dir))
                .trim_end()
                .to_string()
                + "\n"
        })
        .collect()
}

/// `apply/91fd00be…` for `apply/<64 hex>`.
fn short_digests(path: &str) -> String {
    path.split('/')
        .map(|part| {
            if part.len() == 64 && part.chars().all(|c| c.is_ascii_hexdigit()) {
                format!("{}…", &part[..12])
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
