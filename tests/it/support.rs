//! Running the `sophia` binary in a scratch repository.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch repository root with files written into it.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

/// What one run gave.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Repo {
    pub fn new() -> Repo {
        Repo {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Write `text` at `rel`, creating folders.
    pub fn file(&self, rel: &str, text: &str) -> &Repo {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }

    /// Run `sophia -C ROOT ARGS…` with only `env` in the environment.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_sophia"))
            .arg("-C")
            .arg(self.root())
            .args(args)
            .env_clear()
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .output()
            .expect("running sophia");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    /// Every file under the root, sorted (to check that nothing was written).
    pub fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, root, out);
                } else {
                    out.push(p.strip_prefix(root).unwrap().to_path_buf());
                }
            }
        }
        let mut out = Vec::new();
        walk(self.root(), self.root(), &mut out);
        out.sort();
        out
    }
}

/// The repository this test binary belongs to.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The conformance data (real API descriptions and `fly.toml` files), read in place from
/// `SOPHIA_CONFORMANCE_DIR` (default `../shared/conformance`). `None` — the test says it was
/// skipped and returns — when it is absent, unless `SOPHIA_REQUIRE_CONFORMANCE` is set (as
/// `.ci/run` sets it): then its absence fails the test.
pub fn conformance_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SOPHIA_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("../shared/conformance"));
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("SOPHIA_REQUIRE_CONFORMANCE").is_none(),
        "no conformance data at `{}`, and SOPHIA_REQUIRE_CONFORMANCE is set: set \
         SOPHIA_CONFORMANCE_DIR to the folder that holds `github/` and `fly/flytoml/`",
        dir.display()
    );
    eprintln!(
        "skipped: no conformance data at `{}` (set SOPHIA_CONFORMANCE_DIR)",
        dir.display()
    );
    None
}

/// Refresh every active provider of `desired`, asserting that no read failed.
pub async fn refresh(
    desired: &sophia::core::desired::Desired,
    creds: &sophia::providers::Credentials,
    http: &sophia::providers::Http,
) -> sophia::core::live::LiveSnapshot {
    let (live, errors) = sophia::providers::refresh_all_with(desired, creds, http).await;
    assert!(errors.is_empty(), "refresh failed: {errors:?}");
    live
}

/// The plan of `desired` against `live`, with fixed clock, nonce and build.
pub fn plan_of(
    desired: &sophia::core::desired::Desired,
    live: &sophia::core::live::LiveSnapshot,
) -> sophia::core::plan::Plan {
    sophia::core::plan::build(
        desired,
        live,
        &sophia::core::plan::PlanOptions {
            tool_version: "test".into(),
            tool_source: String::new(),
            created_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            ttl: chrono::Duration::hours(24),
            nonce: "test-nonce".into(),
            git_commit: None,
            git_dirty: false,
            targets: Vec::new(),
            prices: None,
        },
    )
    .expect("the plan builds")
}

/// Run `sophia demo --keep` with its temporary directory under a fresh scratch folder; the
/// scratch folder (drop it to clean up) and the kept demo repository.
pub fn kept_demo() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sophia"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TMPDIR", tmp.path())
        .env("NO_COLOR", "1")
        .args(["demo", "--keep"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let kept = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("plan.json").is_file() && p.join("proofs").is_dir())
        .expect("the kept demo directory, with plan.json and proofs/");
    (tmp, kept)
}
