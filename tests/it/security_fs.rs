//! Issue 18, the file-system findings: inputs and proofs stay inside the repository
//! (5, 9), every proof is journaled or refused (6), numbers mean one thing (7), one
//! address names one resource (10), and desired files that are not plain UTF-8 YAML in
//! `desired/` say so (12).

use std::path::Path;
use std::time::Duration;

use sophia::core::envelope::Envelope;
use sophia::proofs::{NewRecord, ProofKind, ProofStore, RelPath, VerifyError};
use sophia::sandbox::{Sandbox, SandboxConfig};

use crate::support::{Output, Repo};

const FLY: &str = "fly:\n  org: pay-ready\n  apps:\n    sophiaai-dashboard-v2: { image: \"registry.fly.io/d:1\" }\n";

/// `sophia validate` fails: exit 1, nothing on stdout; returns stderr.
fn invalid(repo: &Repo) -> String {
    let out = repo.run(&["validate"], &[]);
    assert_eq!(
        out.code, 1,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    assert_eq!(out.stdout, "");
    out.stderr
}

fn valid(repo: &Repo) -> Output {
    let out = repo.run(&["validate"], &[]);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    out
}

fn link(target: impl AsRef<Path>, at: impl AsRef<Path>) {
    std::os::unix::fs::symlink(target, at).unwrap();
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}

// Finding 5: `proofs/`, `.infra/` and `desired/` are real directories of the repository.

#[test]
fn a_linked_proofs_infra_or_desired_folder_is_refused_before_any_provider_call() {
    let sb = Sandbox::start(SandboxConfig::default()).unwrap();
    let env = sb.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for dir in ["proofs", ".infra", "desired"] {
        let repo = Repo::new();
        repo.file("elsewhere/fly.yaml", FLY);
        if dir != "desired" {
            repo.file("desired/fly.yaml", FLY);
        }
        link(repo.root().join("elsewhere"), repo.root().join(dir));
        sb.clear_requests();
        let out = repo.run(&["op", "fly", "viewer"], &env);
        assert_eq!(out.code, 1, "{dir}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("error: `{dir}/` is a symbolic link")),
            "{dir}: {}",
            out.stderr
        );
        assert!(sb.requests().is_empty(), "{dir}: a provider was called");
        let outside: Vec<_> = std::fs::read_dir(repo.root().join("elsewhere"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            outside,
            ["fly.yaml"],
            "{dir}: something was written through the link"
        );
    }
}

#[test]
fn the_refusal_names_the_link_and_what_to_do() {
    let repo = Repo::new();
    repo.file("desired/fly.yaml", FLY);
    link("/tmp", repo.root().join("proofs"));
    let out = repo.run(&["validate"], &[]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: `proofs/` is a symbolic link (to `/tmp`): sophia neither reads its inputs nor writes its proofs through a link, which could point outside the repository
      hint: make `proofs/` a real directory of the repository
    ");
}

#[test]
fn the_proof_store_never_writes_or_appends_through_a_linked_root() {
    let repo = Repo::new();
    std::fs::create_dir(repo.root().join("elsewhere")).unwrap();
    link(repo.root().join("elsewhere"), repo.root().join("proofs"));
    let store = ProofStore::of_repo(repo.root());
    let err = store.write(&ProofKind::FlyViewer, b"{}").unwrap_err();
    assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
    let err = store
        .journal()
        .append(NewRecord::now("x", "success"))
        .unwrap_err();
    assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
    assert!(store.journal().verify(None).is_err());
    assert!(is_empty_dir(&repo.root().join("elsewhere")));
}

// Finding 6: proofs are writable before the first call; verify names what is not journaled.

#[test]
fn check_writable_refuses_a_planted_link_where_an_apply_writes() {
    let repo = Repo::new();
    let hex = "ab".repeat(32);
    std::fs::create_dir_all(repo.root().join("proofs/apply")).unwrap();
    std::fs::create_dir(repo.root().join("elsewhere")).unwrap();
    link(
        repo.root().join("elsewhere"),
        repo.root().join(format!("proofs/apply/{hex}")),
    );
    let locations: Vec<RelPath> = [
        format!("apply/{hex}/fly.secrets.set%3Afly.app.a.secrets.json"),
        "journal.jsonl".to_string(),
    ]
    .iter()
    .map(|p| RelPath::parse(p).unwrap())
    .collect();
    let err = sophia::proofs::check_writable(&repo.root().join("proofs"), &locations).unwrap_err();
    assert_eq!(err.location, locations[0].as_str());
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(is_empty_dir(&repo.root().join("elsewhere")));
    std::fs::remove_file(repo.root().join(format!("proofs/apply/{hex}"))).unwrap();
    sophia::proofs::check_writable(&repo.root().join("proofs"), &locations).unwrap();
}

/// Two applied actions with their proofs and records, plus an unjournaled `op` proof.
fn journaled(repo: &Repo) -> ProofStore {
    let store = ProofStore::of_repo(repo.root());
    let digest = format!("sha256:{}", "ab".repeat(32));
    for app in ["a", "b"] {
        let env = Envelope::success("fly.secrets.set", vec![], "ok", "2026-01-01T00:00:00Z", 1);
        let proof = store
            .write_envelope(
                &ProofKind::ApplyAction {
                    plan_digest: digest.clone(),
                    action_id: format!("fly.secrets.set:fly.app.{app}.secrets"),
                },
                &env,
            )
            .unwrap();
        store
            .journal()
            .append(NewRecord::now("fly.secrets.set", "success").proof(proof))
            .unwrap();
    }
    store.write(&ProofKind::FlyViewer, b"{}").unwrap();
    std::fs::write(repo.root().join("proofs/README.md"), "what is here\n").unwrap();
    store
}

fn verify(repo: &Repo) -> Output {
    repo.run(&["proofs", "verify"], &[])
}

fn hashes() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"[0-9a-f]{64}", "[HEX]");
    s
}

#[test]
fn verify_passes_with_op_proofs_and_a_readme_that_are_not_journaled() {
    let repo = Repo::new();
    journaled(&repo);
    let out = verify(&repo);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "journal: 2 records, 2 files verified\n");
}

#[test]
fn verify_fails_when_the_journal_is_missing_but_proofs_exist() {
    let repo = Repo::new();
    journaled(&repo);
    std::fs::remove_file(repo.root().join("proofs/journal.jsonl")).unwrap();
    let out = verify(&repo);
    assert_eq!(out.code, 1);
    hashes().bind(|| insta::assert_snapshot!(out.stderr, @r"
    error: `proofs/journal.jsonl` is missing or empty, but 2 proof files that the journal must name exist: `proofs/apply/[HEX]/fly.secrets.set%3Afly.app.a.secrets.json`, `proofs/apply/[HEX]/fly.secrets.set%3Afly.app.b.secrets.json`
      hint: the journal was removed or emptied: restore it from history (`git log -- proofs/journal.jsonl`); proofs without their journal prove nothing
    "));
    // Only files of the read-only operations (never journaled) and no journal: nothing to
    // prove, nothing missing.
    std::fs::remove_dir_all(repo.root().join("proofs/apply")).unwrap();
    assert_eq!(verify(&repo).code, 0);
}

#[test]
fn verify_names_proof_files_that_no_record_names() {
    let repo = Repo::new();
    let store = journaled(&repo);
    let hex = "ab".repeat(32);
    // An action whose record was never written, a planted plan, and a link in apply/.
    std::fs::write(repo.root().join(format!("proofs/apply/{hex}/x.json")), "{}").unwrap();
    std::fs::create_dir_all(repo.root().join("proofs/plans")).unwrap();
    std::fs::write(repo.root().join("proofs/plans/evil.json"), "{}").unwrap();
    link("/etc/passwd", repo.root().join("proofs/apply/passwd"));
    let err = store.journal().verify(None).unwrap_err();
    match err.downcast_ref::<VerifyError>() {
        Some(VerifyError::Unjournaled { files }) => assert_eq!(
            files,
            &[
                format!("apply/{hex}/x.json"),
                "apply/passwd".to_string(),
                "plans/evil.json".to_string()
            ]
        ),
        other => panic!("{other:?}"),
    }
    let out = verify(&repo);
    assert_eq!(out.code, 1);
    hashes().bind(|| insta::assert_snapshot!(out.stderr, @r"
    error: 3 proof files under proofs/apply/, proofs/plans/, proofs/drift/ or proofs/managed/ are named by no journal record: `proofs/apply/[HEX]/x.json`, `proofs/apply/passwd`, `proofs/plans/evil.json`
      hint: each of these files is written just before its journal record: one without a record was added by hand, or its action ran but was never journaled (a crash, an unwritable journal); `git log -- FILE` shows where it came from — keep it in history, then remove it
    "));
}

// Finding 7: integers a double cannot hold are refused where they are written.

#[test]
fn desired_integers_beyond_two_to_the_53_are_refused_with_their_place() {
    let repo = Repo::new();
    repo.file(
        "desired/github.yaml",
        "github:\n  repos:\n    o/r:\n      branches:\n        main:\n          protection:\n            \
         required_status_checks:\n              strict: true\n              checks:\n                \
         - { context: ci, app_id: 9007199254740993 }\n                - { context: cd, app_id: 9007199254740991 }\n",
    );
    insta::assert_snapshot!(invalid(&repo), @r"
    error: desired/github.yaml:10:42: `github.repos.o/r.branches.main.protection.required_status_checks.checks.0.app_id`: the integer 9007199254740993 is outside ±(2^53 − 1) = ±9007199254740991
      hint: plan digests (RFC 8785) read numbers as doubles, which hold integers exactly only up to 2^53 − 1: a larger one would be rounded, and two plans could share one digest; quote it if the field takes a string
    error: the desired state is invalid (1 error)
    ");
}

#[test]
fn plan_files_with_unsafe_integers_are_named_by_json_path() {
    let plan: serde_json::Value = serde_json::from_str(
        r#"{"format":"sophia-plan/v1","changes":[{"after":{"checks":[{"app_id":9007199254740992}]}}]}"#,
    )
    .unwrap();
    let err = sophia::core::number::check_json(&plan).unwrap_err();
    assert_eq!(err.path, "$.changes[0].after.checks[0].app_id");
}

// Finding 9: desired files are regular files of the repository, at most 4 MiB.

#[test]
fn desired_files_that_leave_the_repository_or_are_not_files_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x.yaml"), FLY).unwrap();
    let repo = Repo::new();
    repo.file("desired/a.yaml", FLY);
    link(
        outside.path().join("x.yaml"),
        repo.root().join("desired/b.yaml"),
    );
    link("/dev/zero", repo.root().join("desired/c.yaml"));
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        repo.root().join("desired/d.yaml"),
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
    std::fs::create_dir(repo.root().join("desired/e.yaml")).unwrap();
    let big = format!("# {}\n", "x".repeat(4 * 1024 * 1024));
    repo.file("desired/f.yaml", &big);
    let root = outside.path().display().to_string();
    // A FIFO would block a reader forever: the whole run must end on its own.
    let stderr = within(Duration::from_secs(60), move || invalid(&repo));
    insta::with_settings!({ filters => vec![(root.as_str(), "[OUTSIDE]")] }, {
        insta::assert_snapshot!(stderr, @r"
        error: desired/b.yaml:0:0: this file is a symbolic link to `[OUTSIDE]/x.yaml`, outside the repository
          hint: sophia reads its inputs from the repository only: copy the file in (a link may point elsewhere inside the repository)
        error: desired/c.yaml:0:0: this file is a symbolic link to `/dev/zero`, outside the repository
          hint: sophia reads its inputs from the repository only: copy the file in (a link may point elsewhere inside the repository)
        error: desired/d.yaml:0:0: this file is a FIFO (named pipe), not a regular file
          hint: inputs are regular files: remove it, or rename it so that it does not end in `.yaml`
        error: desired/e.yaml:0:0: this file is a directory, not a regular file
          hint: inputs are regular files: remove it, or rename it so that it does not end in `.yaml`
        error: desired/f.yaml:0:0: this file is larger than 4 MiB
          hint: split it: every `desired/*.yaml` is merged, and each may hold up to 4 MiB
        error: the desired state is invalid (5 errors)
        ");
    });
}

#[test]
fn the_bounded_reader_refuses_devices_and_reads_no_more_than_its_limit() {
    let err = sophia::workspace::read_bounded(Path::new("/dev/zero")).unwrap_err();
    assert_eq!(err.to_string(), "is a character device, not a regular file");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yaml");
    let limit = sophia::workspace::MAX_INPUT_BYTES as usize;
    std::fs::write(&path, "x".repeat(limit + 1)).unwrap();
    assert!(matches!(
        sophia::workspace::read_bounded(&path),
        Err(sophia::workspace::ReadError::TooLarge)
    ));
    std::fs::write(&path, "x".repeat(limit)).unwrap();
    assert_eq!(sophia::workspace::read_bounded(&path).unwrap().len(), limit);
}

/// Run `f` on a thread and fail the test if it has not returned within `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()));
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}

#[test]
fn a_link_to_a_file_inside_the_repository_and_a_file_of_exactly_4_mib_load() {
    let repo = Repo::new();
    repo.file("shared/fly.yaml", FLY);
    std::fs::create_dir(repo.root().join("desired")).unwrap();
    link("../shared/fly.yaml", repo.root().join("desired/fly.yaml"));
    let head = "redis: { config: { maxmemory-policy: allkeys-lru } }\n# ";
    let pad = 4 * 1024 * 1024 - head.len() - 1;
    repo.file(
        "desired/redis.yaml",
        &format!("{head}{}\n", "x".repeat(pad)),
    );
    assert_eq!(
        std::fs::metadata(repo.root().join("desired/redis.yaml"))
            .unwrap()
            .len(),
        4 * 1024 * 1024
    );
    valid(&repo);
}

// Finding 10: one address, one resource.

#[test]
fn a_repository_name_holding_an_address_keyword_is_refused() {
    let repo = Repo::new();
    repo.file(
        "desired/github.yaml",
        "github:\n  repos:\n    o/r:\n      environments:\n        e.secret.A: {}\n    \
         o/r.environment.e:\n      actions_secrets: [A]\n",
    );
    insta::assert_snapshot!(invalid(&repo), @r"
    error: desired/github.yaml:6:5: invalid repository `o/r.environment.e`: repository `r.environment.e` holds `.environment`, which separates the parts of a resource address (`github.repo.o/r.environment.e.…` would be ambiguous)
      hint: write `owner/repo`: the owner is 1 to 39 letters, digits or single inner `-`; the repository is up to 100 of letters, digits, `.`, `-` and `_`
    error: the desired state is invalid (1 error)
    ");
    // The environment alone is fine: its address has one reading.
    repo.file(
        "desired/github.yaml",
        "github:\n  repos:\n    o/r:\n      environments:\n        e.secret.A: {}\n",
    );
    valid(&repo);
}

#[test]
fn names_github_compares_without_case_are_one_resource() {
    let repo = Repo::new();
    repo.file(
        "desired/a.yaml",
        "github:\n  repos:\n    ai-cherry/sophia:\n      environments:\n        production: {}\n        \
         Production: {}\n",
    );
    repo.file(
        "desired/b.yaml",
        "github:\n  repos:\n    AI-Cherry/Sophia:\n      actions_secrets: [FLY_API_TOKEN]\n",
    );
    insta::assert_snapshot!(invalid(&repo), @r"
    error: desired/a.yaml:3:5: repository `ai-cherry/sophia` is repository `AI-Cherry/Sophia` (defined at desired/b.yaml:3:5): GitHub compares owner and repository names without case
      hint: define each repository once, spelled as GitHub shows it
    error: desired/a.yaml:5:9: environment `production` of `ai-cherry/sophia` is environment `Production` (defined at desired/a.yaml:6:9): GitHub compares environment names without case
      hint: define each environment once, spelled as GitHub shows it
    error: the desired state is invalid (2 errors)
    ");
}

// Finding 12: a byte order mark, bytes that are not UTF-8, files in subfolders.

#[test]
fn a_byte_order_mark_is_accepted() {
    let repo = Repo::new();
    repo.file("desired/fly.yaml", &format!("\u{feff}{FLY}"));
    let out = valid(&repo);
    assert!(out.stderr.contains("1 app"), "{}", out.stderr);
}

#[test]
fn bytes_that_are_not_utf8_are_located() {
    let repo = Repo::new();
    repo.file("desired/fly.yaml", FLY);
    let mut bytes = b"redis:\n  config:\n    maxmemory-policy: caf".to_vec();
    bytes.extend_from_slice(&[0xe9, b'\n']); // Latin-1 `é`
    std::fs::write(repo.root().join("desired/redis.yaml"), bytes).unwrap();
    insta::assert_snapshot!(invalid(&repo), @r"
    error: desired/redis.yaml:3:26: the file is not UTF-8: byte 0xe9 here is not part of a UTF-8 character
      hint: desired files are UTF-8 text: save the file as UTF-8 (your editor's encoding setting); a byte order mark at the start is accepted
    error: the desired state is invalid (1 error)
    ");
}

#[test]
fn yaml_files_in_subfolders_of_desired_are_refused_not_ignored() {
    let repo = Repo::new();
    repo.file("desired/fly.yaml", FLY);
    repo.file("desired/sub/github.yaml", "github: {}\n");
    repo.file("desired/sub/deeper/x.yml", "redis: {}\n");
    repo.file("desired/notes/README.md", "not yaml\n");
    repo.file("shared/x.yaml", "redis: {}\n");
    link("../shared", repo.root().join("desired/linked"));
    insta::assert_snapshot!(invalid(&repo), @r"
    error: desired/linked:0:0: this is a link to a folder holding YAML files, which sophia does not load: only `desired/*.yaml` is the desired state
      hint: move the files into `desired/` itself
    error: desired/sub/deeper/x.yml:0:0: this file is in a subfolder of `desired/`, which sophia does not load: only `desired/*.yaml` is the desired state
      hint: move the file up into `desired/` (every `desired/*.yaml` is merged), or rename it so that it does not end in `.yaml`
    error: desired/sub/github.yaml:0:0: this file is in a subfolder of `desired/`, which sophia does not load: only `desired/*.yaml` is the desired state
      hint: move the file up into `desired/` (every `desired/*.yaml` is merged), or rename it so that it does not end in `.yaml`
    error: the desired state is invalid (3 errors)
    ");
}

/// Finding 7, end to end: a plan file carrying 2^53 + 1 (whose canonical JSON, and so whose
/// digest, is that of 2^53) is refused by `show` and `verify`, naming where the number is.
#[test]
fn a_plan_file_with_an_integer_a_double_cannot_hold_is_refused_by_show_and_verify() {
    let repo = Repo::new();
    repo.file("desired/fly.yaml", FLY).file(
        "live.json",
        r#"{"format":"sophia-live/v1","taken_at":"2026-01-01T00:00:00Z","resources":{}}"#,
    );
    let out = repo.run(&["plan", "--live", "live.json", "--out", "plan.json"], &[]);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let text = std::fs::read_to_string(repo.root().join("plan.json")).unwrap();
    let mut plan: sophia::core::plan::Plan = serde_json::from_str(&text).unwrap();
    plan.changes[0].after["app_id"] = serde_json::json!(9_007_199_254_740_993_u64);
    plan.digest = sophia::core::digest::plan_digest(&plan);
    std::fs::write(
        repo.root().join("plan.json"),
        serde_json::to_string_pretty(&plan).unwrap(),
    )
    .unwrap();
    for cmd in ["show", "verify"] {
        let out = repo.run(&[cmd, "plan.json"], &[]);
        assert_eq!(out.code, 1, "{cmd}: stdout {}", out.stdout);
        assert!(
            out.stderr.contains("$.changes[0].after.app_id")
                && out.stderr.contains("9007199254740993"),
            "{cmd}: {}",
            out.stderr
        );
    }
}
