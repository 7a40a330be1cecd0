//! The workflows of `.github/workflows/` run end to end (issue 19): each `run:` step in order
//! on [`runner::Runner`], against the sandbox and a local bare repository whose pre-receive
//! hook enforces the protection the desired state sets. The loop: a pull request edits
//! `desired/` → `plan` uploads the plan and keeps one comment → the approver signs with
//! ssh-keygen → `apply` applies, keeps the proofs as an artifact and lands them on the
//! append-only `proofs` branch → `drift` opens and closes its issue → the front door runs an
//! operation. And what today's design did, pushing proofs to protected `main`, is refused.

mod runner;

use std::path::{Path, PathBuf};
use std::process::Command;

use runner::{Event, RunResult, Runner, git, git_out, make_executable};
use sophia::sandbox::{Sandbox, SandboxConfig, SandboxHandle, Seed};

const REPO: &str = "ai-cherry/sophia-loop";

/// The desired state of the governed repository: its own protection, and `apps` under Fly.
fn desired(apps: &str) -> String {
    format!(
        r#"providers:
  fly: active
  github: active
fly:
  org: pay-ready
  apps:{apps}
github:
  repos:
    {REPO}:
      branches:
        main:
          protection:
            required_status_checks: {{ strict: true, contexts: ["plan"] }}
            enforce_admins: true
            required_pull_request_reviews:
              required_approving_review_count: 1
            restrictions: null
"#
    )
}

fn app(count: u32) -> String {
    format!(
        r#"
    loop-api:
      image: registry.fly.io/loop-api:v1
      regions: [ord]
      count: {count}
      guest: {{ cpu_kind: shared, cpus: 1, memory_mb: 256 }}
      health: {{ path: /healthz, port: 8080, expect_status: 200 }}
"#
    )
}

/// The pre-receive hook: GitHub's answer to a push, from the desired state's protection (a
/// branch that requires reviews takes no push at all: it moves by merged pull requests only)
/// and the `proofs` ruleset of DESIGN.md (no deletion, no force push). `deny-proofs` in the
/// repository stands for a push the rules refuse (e.g. a token without `contents: write`).
fn hook(protected: &[String]) -> String {
    format!(
        r#"#!/usr/bin/env bash
zero=0000000000000000000000000000000000000000
status=0
while read -r old new ref; do
  for p in {protected}; do
    if [ "$ref" = "refs/heads/$p" ]; then
      echo "error: GH006: Protected branch update failed for $ref." >&2
      echo "error: Changes must be made through a pull request." >&2
      status=1
      continue 2
    fi
  done
  if [ "$ref" = refs/heads/proofs ]; then
    if [ -e "$GIT_DIR/deny-proofs" ]; then
      echo "error: GH013: Repository rule violations found for $ref: this actor may not update it." >&2
      status=1
    elif [ "$new" = "$zero" ]; then
      echo "error: GH013: Repository rule violations found for $ref: Cannot delete this branch." >&2
      status=1
    elif [ "$old" != "$zero" ] && ! git merge-base --is-ancestor "$old" "$new"; then
      echo "error: GH013: Repository rule violations found for $ref: Cannot force-push to this branch." >&2
      status=1
    fi
  fi
done
exit $status
"#,
        protected = protected.join(" ")
    )
}

/// The branches of `REPO` whose desired protection requires reviews.
fn protected_branches(desired: &str) -> Vec<String> {
    let v: serde_yaml::Value = serde_yaml::from_str(desired).unwrap();
    let branches = &v["github"]["repos"][REPO]["branches"];
    branches
        .as_mapping()
        .map(|m| {
            m.iter()
                .filter(|(_, b)| !b["protection"]["required_pull_request_reviews"].is_null())
                .map(|(name, _)| name.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

struct World {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    remote: PathBuf,
    sandbox: SandboxHandle,
    runner: Runner,
    approver_key: PathBuf,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let seed = Seed::parse(&format!(
            "fly: {{ orgs: [pay-ready] }}\ngithub:\n  app: {{ id: 1, installations: [11] }}\n  repos:\n    {REPO}:\n      branches: [main]\n      issues: [{{ title: \"Add the API\", state: open }}]\n"
        ))
        .unwrap();
        let sandbox = Sandbox::start(SandboxConfig {
            seed,
            ..SandboxConfig::default()
        })
        .unwrap();

        // The approver's key, and the GitHub App's.
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let approver_key = keys.join("approver");
        keygen(
            &["-t", "ed25519", "-N", "", "-C", "approver", "-f"],
            &approver_key,
        );
        let app_key = keys.join("app");
        keygen(
            &["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f"],
            &app_key,
        );
        let approver_pub = std::fs::read_to_string(approver_key.with_extension("pub")).unwrap();

        // The repository on "github.com": main holds the workflows and scripts under test.
        let remote = dir.join("remotes").join(format!("{REPO}.git"));
        std::fs::create_dir_all(&remote).unwrap();
        git(&remote, &["init", "-q", "--bare", "-b", "main"]);
        let work = dir.join("seed");
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        let root = crate::support::project_root();
        let text = desired(" {}");
        write(&work, "desired/main.yaml", &text);
        write(
            &work,
            ".infra/allowed_signers",
            &format!("approver@example.com namespaces=\"sophia-plan@v1\" {approver_pub}"),
        );
        write(&work, ".gitignore", "/target/\n/dist/\n");
        for entry in std::fs::read_dir(root.join(".github/workflows")).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            std::fs::create_dir_all(work.join(".github/workflows")).unwrap();
            std::fs::copy(&path, work.join(".github/workflows").join(name)).unwrap();
        }
        for script in ["ci-build", "ci-install", "proofs-branch"] {
            std::fs::create_dir_all(work.join("scripts")).unwrap();
            let to = work.join("scripts").join(script);
            std::fs::copy(root.join("scripts").join(script), &to).unwrap();
            make_executable(&to);
        }
        commit(&work, "the repository");
        git(
            &work,
            &["push", "-q", &remote.display().to_string(), "main"],
        );
        // From now on, GitHub's rules.
        let hook_path = remote.join("hooks/pre-receive");
        std::fs::write(&hook_path, hook(&protected_branches(&text))).unwrap();
        make_executable(&hook_path);

        let mut network: Vec<(String, String)> = sandbox
            .env()
            .into_iter()
            .filter(|(k, _)| k.ends_with("_URL") || k.ends_with("_URL_TEMPLATE"))
            .collect();
        network.retain(|(k, _)| k != "GONG_BASE_URL");
        let runner_dir = dir.join("runner");
        let mut runner = Runner::new(&runner_dir, &remote, REPO, network);
        for (name, value) in [
            ("FLY_API_TOKEN", "sandbox-fly-token".to_string()),
            ("FLY_API_TOKEN_READONLY", "ro-sandbox-fly-token".to_string()),
            ("SOPHIA_APP_ID", "1".to_string()),
            ("SOPHIA_APP_INSTALLATION_ID", "11".to_string()),
            (
                "SOPHIA_APP_PRIVATE_KEY",
                std::fs::read_to_string(&app_key).unwrap(),
            ),
        ] {
            runner.secrets.insert(name.to_string(), value);
        }
        World {
            _dir: tmp,
            dir,
            remote,
            sandbox,
            runner,
            approver_key,
        }
    }

    /// A pull request's branch: `main` with `desired/main.yaml` replaced, pushed (allowed).
    fn push_branch(&self, branch: &str, desired_text: &str) -> String {
        let work = self.dir.join(format!("work-{branch}"));
        let _ = std::fs::remove_dir_all(&work);
        let out = Command::new("git")
            .args(["clone", "-q", "-b", "main"])
            .arg(&self.remote)
            .arg(&work)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        git(&work, &["checkout", "-q", "-b", branch]);
        write(&work, "desired/main.yaml", desired_text);
        commit(&work, &format!("{branch}: edit desired/"));
        git(&work, &["push", "-q", "origin", branch]);
        git_out(&work, &["rev-parse", "HEAD"])
    }

    /// The pull request is reviewed and merged: GitHub moves `main` on the server.
    fn merge(&self, head: &str) {
        git(&self.remote, &["update-ref", "refs/heads/main", head]);
    }

    fn main(&self) -> String {
        git_out(&self.remote, &["rev-parse", "refs/heads/main"])
    }

    fn proofs_head(&self) -> Option<String> {
        Command::new("git")
            .arg("-C")
            .arg(&self.remote)
            .args(["rev-parse", "--verify", "-q", "refs/heads/proofs"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    }

    fn journal(&self) -> String {
        git_out(
            &self.remote,
            &["show", "refs/heads/proofs:proofs/journal.jsonl"],
        )
    }

    fn comments(&self, number: u64) -> Vec<String> {
        self.sandbox.with_world(|w| {
            w.github.repos[REPO]
                .comments
                .iter()
                .filter(|c| c.issue_number == number)
                .map(|c| c.body.clone())
                .collect()
        })
    }

    /// (number, state, title) of the issues.
    fn issues(&self) -> Vec<(u64, String, String)> {
        self.sandbox.with_world(|w| {
            w.github.repos[REPO]
                .issues
                .iter()
                .map(|i| (i.number, i.state.clone(), i.title.clone()))
                .collect()
        })
    }

    fn machines(&self, app: &str) -> usize {
        self.sandbox
            .with_world(|w| w.fly.apps.get(app).map_or(0, |a| a.machines.len()))
    }
}

fn keygen(args: &[&str], path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q"])
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn commit(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(
        dir,
        &[
            "-c",
            "user.name=dev",
            "-c",
            "user.email=dev@example.com",
            "commit",
            "-q",
            "-m",
            message,
        ],
    );
}

fn assert_ok(run: &RunResult) {
    assert!(run.success(), "run {} failed:\n{}", run.id, run.log());
}

/// The last step of today's (before issue 19) `apply`, `deploy_all` and `sophia_infra`
/// workflows, as they were: commit the proofs and push them to `main`.
const TODAYS_PROOF_PUSH: &str = r#"
name: apply (before issue 19)
on: workflow_dispatch
permissions: {}
jobs:
  apply:
    runs-on: ubuntu-latest
    permissions:
      contents: write
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          persist-credentials: false
      - name: An apply writes its proofs
        run: mkdir -p proofs/fly && echo '{"status":"success"}' > proofs/fly/apply.json
      - name: Commit the proofs
        if: always()
        env:
          GITHUB_TOKEN: ${{ github.token }}
          REPOSITORY: ${{ github.repository }}
        run: |
          git config user.name "sophia-infra"
          git config user.email "sophia-infra@users.noreply.github.com"
          git add proofs
          if git diff --cached --quiet; then exit 0; fi
          git commit -m "[proof] apply"
          git push "https://x-access-token:${GITHUB_TOKEN}@github.com/${REPOSITORY}.git" HEAD:main
"#;

#[test]
fn the_loop_runs_its_workflows_end_to_end_and_the_proofs_land_without_touching_main() {
    let mut w = World::new();

    // 1. A pull request adds an app to desired/: `plan` plans it with read-only credentials,
    //    uploads the plan file and keeps one comment; planned twice, still one comment.
    let head = w.push_branch("add-api", &desired(&app(1)));
    let plan = w.runner.run("plan.yml", &Event::pull_request(1, "add-api"));
    assert_ok(&plan);
    let again = w.runner.run("plan.yml", &Event::pull_request(1, "add-api"));
    assert_ok(&again);
    let sticky: Vec<String> = w
        .comments(1)
        .into_iter()
        .filter(|b| b.starts_with("<!-- sophia-plan:"))
        .collect();
    assert_eq!(sticky.len(), 1, "one sticky comment: {sticky:#?}");
    let plan_file = w.runner.artifact(again.id, "plan-pr-1").join("plan.json");
    let plan_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    let digest = plan_json["digest"].as_str().unwrap().to_string();
    assert!(
        sticky[0].contains(&digest),
        "the comment shows the plan's digest"
    );
    assert_eq!(plan_json["tool_source"], sophia::identity::SOURCE_DIGEST);
    let summary = &again.job("plan").summary;
    assert!(
        summary.contains(&format!(
            "gh workflow run apply --ref main -f plan_run_id={}",
            again.id
        )),
        "{summary}"
    );
    assert_eq!(w.machines("loop-api"), 0, "a plan changes nothing");

    // 2. The approver signs the plan file with ssh-keygen; the pull request is merged.
    let signature = sign(&w, &plan_file);
    w.merge(&head);

    // 3. `apply` (from main, with main's build of the same source) applies the signed plan,
    //    keeps the proofs as an artifact and lands them on the `proofs` branch; main stays.
    let run_id = again.id.to_string();
    let apply = w.runner.run(
        "apply.yml",
        &Event::dispatch(&[
            ("plan_run_id", &run_id),
            ("pr", "1"),
            ("signature", &signature),
        ]),
    );
    assert_ok(&apply);
    assert_eq!(w.machines("loop-api"), 1, "the app was created");
    assert_eq!(w.main(), head, "main is untouched");
    let journal = w.journal();
    assert!(
        journal.contains(&digest),
        "the journal on the proofs branch records the apply"
    );
    assert!(
        w.runner
            .artifact(apply.id, &format!("proofs-{}", apply.id))
            .join("journal.jsonl")
            .is_file(),
        "the proofs are in the run's artifact too"
    );

    // 4. Today's design: a proof push to protected main is refused by the remote.
    let old = w.runner.run_text(TODAYS_PROOF_PUSH, &Event::dispatch(&[]));
    assert!(!old.success(), "{}", old.log());
    let step = old.step("apply", "Commit the proofs");
    assert!(
        step.output
            .contains("GH006: Protected branch update failed for refs/heads/main"),
        "{}",
        step.output
    );
    assert_eq!(w.main(), head);
    // … and no workflow does that any more.
    for entry in
        std::fs::read_dir(crate::support::project_root().join(".github/workflows")).unwrap()
    {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("HEAD:main"),
            "{} pushes to main",
            path.display()
        );
    }

    // 5. The front door runs a read-only operation; its proof lands after the apply's, and the
    //    journal on the proofs branch verifies as one chain. (Not `fly health`: its proof file
    //    is `healthz/<app>.json`, which apply journals too, so the operation would rewrite a
    //    journaled file and `proofs verify` would fail — a defect this harness found, left to
    //    the proofs layout to fix.)
    let before = w.proofs_head().unwrap();
    let op = w.runner.run(
        "sophia_infra.yml",
        &Event::dispatch(&[
            ("provider", "fly"),
            ("action", "machines"),
            ("app", "loop-api"),
            ("payload_json", "{}"),
        ]),
    );
    assert_ok(&op);
    let after = w.proofs_head().unwrap();
    assert_ne!(before, after);
    assert_eq!(
        git_out(&w.remote, &["rev-parse", &format!("{after}^")]),
        before,
        "appended"
    );
    let landed = git_out(&w.remote, &["diff", "--name-only", &before, &after]);
    assert_eq!(
        landed, "proofs/fly/loop-api_machines.json",
        "the operation's proof"
    );
    assert_eq!(w.journal(), journal, "the apply's records are still there");
    let trail = w.dir.join("trail");
    let out = Command::new("git")
        .args(["clone", "-q", "-b", "proofs"])
        .arg(&w.remote)
        .arg(&trail)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_sophia"))
        .args(["proofs", "verify"])
        .current_dir(&trail)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // 6. A refused proof push fails the job loudly, and the proof stays in the artifact.
    std::fs::write(w.remote.join("deny-proofs"), "").unwrap();
    let refused = w.runner.run(
        "sophia_infra.yml",
        &Event::dispatch(&[
            ("provider", "fly"),
            ("action", "logs"),
            ("app", "loop-api"),
            ("payload_json", "{}"),
        ]),
    );
    std::fs::remove_file(w.remote.join("deny-proofs")).unwrap();
    assert!(!refused.success(), "{}", refused.log());
    assert!(refused.step("op", "Run the operation").success);
    let land = refused.step("op", "Land the proof");
    assert!(!land.success);
    assert!(
        land.output.contains("::error title=Proofs not landed::"),
        "{}",
        land.output
    );
    assert_eq!(w.proofs_head().unwrap(), after, "nothing landed");
    let kept = w
        .runner
        .artifact(refused.id, &format!("proofs-{}", refused.id));
    assert!(
        kept.join("fly/loop-api_logs.txt").is_file(),
        "the refused proof is kept in the artifact"
    );
    assert!(kept.join("journal.jsonl").is_file(), "with the whole trail");

    // 7. Drift: main is changed without an apply (one more machine) → one issue; back to
    //    what is live → the issue is closed.
    let drifted = w.push_branch("more", &desired(&app(2)));
    w.merge(&drifted);
    let drift = w.runner.run("drift.yml", &Event::schedule());
    assert_ok(&drift);
    let open: Vec<_> = w
        .issues()
        .into_iter()
        .filter(|i| i.2.starts_with("Drift"))
        .collect();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].1, "open");
    let back = w.push_branch("back", &desired(&app(1)));
    w.merge(&back);
    let drift = w.runner.run("drift.yml", &Event::schedule());
    assert_ok(&drift);
    let closed: Vec<_> = w
        .issues()
        .into_iter()
        .filter(|i| i.2.starts_with("Drift"))
        .collect();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].1, "closed", "{closed:?}");
}

/// Sign `plan.json` of `dir` as the approver does; the armored signature.
fn sign(w: &World, plan: &Path) -> String {
    let signing = w.dir.join("approver");
    std::fs::create_dir_all(&signing).unwrap();
    let _ = std::fs::remove_file(signing.join("plan.json.sig"));
    std::fs::copy(plan, signing.join("plan.json")).unwrap();
    let out = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "sophia-plan@v1", "-f"])
        .arg(&w.approver_key)
        .arg("plan.json")
        .current_dir(&signing)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(signing.join("plan.json.sig")).unwrap()
}

#[test]
fn deploy_all_plans_then_applies_the_signed_plan_and_lands_its_proofs() {
    let mut w = World::new();
    let head = w.push_branch("add-api", &desired(&app(1)));
    w.merge(&head);

    // Without inputs: the plan job runs, the apply job does not.
    let plan = w.runner.run("deploy_all.yml", &Event::dispatch(&[]));
    assert_ok(&plan);
    assert!(plan.job("plan").ran && !plan.job("apply").ran);
    assert!(
        plan.job("plan").summary.contains("fly.app.loop-api"),
        "{}",
        plan.job("plan").summary
    );
    let signature = sign(
        &w,
        &w.runner
            .artifact(plan.id, "deploy-all-plan")
            .join("plan.json"),
    );
    assert_eq!(w.machines("loop-api"), 0);

    // With the run id and the signature: the apply job runs that plan, not the plan job.
    let run_id = plan.id.to_string();
    let apply = w.runner.run(
        "deploy_all.yml",
        &Event::dispatch(&[("plan_run_id", &run_id), ("signature", &signature)]),
    );
    assert_ok(&apply);
    assert!(!apply.job("plan").ran && apply.job("apply").ran);
    assert_eq!(w.machines("loop-api"), 1);
    assert!(
        w.journal().contains("\"kind\""),
        "the proofs landed on the proofs branch"
    );
    assert_eq!(w.main(), head);
}

#[test]
fn a_binary_whose_sha256_is_not_the_build_jobs_is_not_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("dist")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_sophia"), dir.path().join("dist/sophia")).unwrap();
    let script = crate::support::project_root().join("scripts/ci-install");
    let install = |sha: &str| {
        Command::new("bash")
            .arg(&script)
            .current_dir(dir.path())
            .env("SOPHIA_SHA256", sha)
            .output()
            .unwrap()
    };
    let wrong = install(&"0".repeat(64));
    assert!(!wrong.status.success());
    assert!(
        !dir.path().join("target/release/sophia").exists(),
        "nothing installed"
    );
    let bytes = std::fs::read(dir.path().join("dist/sophia")).unwrap();
    let right = install(&sha256_hex(&bytes));
    assert!(
        right.status.success(),
        "{}",
        String::from_utf8_lossy(&right.stderr)
    );
    assert!(dir.path().join("target/release/sophia").is_file());
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
