//! Proof files and the hash-chained journal: atomic writes, hostile names, tamper detection,
//! concurrent appends, and `sophia proofs verify` through the binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier};

use sophia::core::envelope::Envelope;
use sophia::proofs::{NewRecord, ProofKind, ProofStore, VerifyError};

/// A repository in a temporary directory, with an `outside/` sibling of `proofs/` that no
/// write may ever reach.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("outside")).unwrap();
        Repo { dir }
    }
    fn root(&self) -> &Path {
        self.dir.path()
    }
    fn store(&self) -> ProofStore {
        ProofStore::of_repo(self.root())
    }
    fn proofs(&self) -> PathBuf {
        self.root().join("proofs")
    }
    fn journal_path(&self) -> PathBuf {
        self.proofs().join("journal.jsonl")
    }
    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.journal_path())
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }
    fn set_lines(&self, lines: &[String]) {
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(self.journal_path(), text).unwrap();
    }
    fn outside_is_empty(&self) -> bool {
        std::fs::read_dir(self.root().join("outside"))
            .unwrap()
            .next()
            .is_none()
    }

    /// Five applied actions, each with its proof, at fixed times.
    fn with_chain(self) -> Repo {
        let store = self.store();
        let digest = format!("sha256:{}", "ab".repeat(32));
        for (i, app) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            let env = Envelope::success(
                format!("fly.secrets.set fly.app.{app}.secrets"),
                vec![serde_json::json!({ "app": app, "secrets": ["NEON_DATABASE_URL"] })],
                "secrets set",
                format!("2026-01-01T00:00:0{i}.000Z"),
                12,
            );
            let proof = store
                .write_envelope(
                    &ProofKind::ApplyAction {
                        plan_digest: digest.clone(),
                        action_id: format!("fly.secrets.set:fly.app.{app}.secrets"),
                    },
                    &env,
                )
                .unwrap();
            let mut rec = NewRecord::now("fly.secrets.set", "success")
                .plan(&digest)
                .address(format!("fly.app.{app}.secrets"))
                .proof(proof);
            rec.at = format!("2026-01-01T00:00:0{i}.000Z");
            store.journal().append(rec).unwrap();
        }
        self
    }

    fn verify_err(&self) -> VerifyError {
        let err = self.store().journal().verify(None).unwrap_err();
        err.downcast_ref::<VerifyError>()
            .unwrap_or_else(|| panic!("not a VerifyError: {err:#}"))
            .clone()
    }
}

#[test]
fn atomic_writes_leave_complete_content_and_no_temporary() {
    let repo = Repo::new();
    let store = repo.store();
    let kind = ProofKind::FlyViewer;
    for n in [10usize, 100_000, 3] {
        let bytes = vec![b'x'; n];
        let proof = store.write(&kind, &bytes).unwrap();
        assert_eq!(proof.path().as_str(), "fly/viewer.json");
        assert_eq!(
            std::fs::read(repo.proofs().join("fly/viewer.json")).unwrap(),
            bytes
        );
    }
    let names: Vec<String> = std::fs::read_dir(repo.proofs().join("fly"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["viewer.json"]);
}

#[test]
fn envelopes_are_written_pretty_with_a_final_newline() {
    let repo = Repo::new();
    let env = Envelope::success("fly.health", vec![], "ok", "2026-01-01T00:00:00Z", 0);
    repo.store()
        .write_envelope(&ProofKind::Healthz { app: "a".into() }, &env)
        .unwrap();
    let text = std::fs::read_to_string(repo.proofs().join("healthz/a.json")).unwrap();
    assert!(text.starts_with("{\n  \"status\": \"success\""), "{text}");
    assert!(text.ends_with("}\n"));
    let back: Envelope = serde_json::from_str(&text).unwrap();
    assert_eq!(back, env);
}

#[test]
fn hostile_names_never_leave_proofs() {
    let repo = Repo::new();
    let store = repo.store();
    let hostile = [
        "../outside/x",
        "..",
        ".",
        "/etc/passwd",
        "../../../../../../tmp/pwned",
        "a/../../outside/y",
        "a\0b",
        "a\nb",
        "\u{1b}[31m",
        "..\\..\\outside",
        "",
        &"z".repeat(300),
        "app/../../../outside/z",
        "%2e%2e",
    ];
    for name in hostile {
        for kind in [
            ProofKind::FlyOrg { app: name.into() },
            ProofKind::GithubProtection {
                repo: name.into(),
                branch: name.into(),
            },
            ProofKind::ProviderOp {
                provider: name.into(),
                op: name.into(),
            },
            ProofKind::ApplyAction {
                plan_digest: name.into(),
                action_id: name.into(),
            },
        ] {
            if let Ok(proof) = store.write(&kind, b"{}") {
                // Written: it must be a plain file strictly inside proofs/.
                let path = repo.proofs().join(proof.path().as_str());
                let real = path.canonicalize().unwrap();
                assert!(
                    real.starts_with(repo.proofs().canonicalize().unwrap()),
                    "{name:?} wrote {}",
                    real.display()
                );
            }
        }
    }
    assert!(repo.outside_is_empty());
    // Nothing but the layout's directories was created under proofs/.
    let mut dirs: Vec<String> = std::fs::read_dir(repo.proofs())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    dirs.retain(|d| !["fly", "github", "apply"].contains(&d.as_str()));
    // ProviderOp directories are escaped names: none starts with a dot.
    assert!(dirs.iter().all(|d| !d.starts_with('.')), "{dirs:?}");
}

#[test]
fn symlinks_inside_proofs_are_never_followed() {
    let repo = Repo::new();
    std::fs::create_dir(repo.proofs()).unwrap();
    let outside = repo.root().join("outside");
    // A directory link: proofs/fly -> outside.
    std::os::unix::fs::symlink(&outside, repo.proofs().join("fly")).unwrap();
    let err = repo
        .store()
        .write(&ProofKind::FlyViewer, b"{}")
        .unwrap_err();
    assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
    // A file link: proofs/healthz/a.json -> outside/target.
    std::fs::create_dir(repo.proofs().join("healthz")).unwrap();
    std::os::unix::fs::symlink(outside.join("target"), repo.proofs().join("healthz/a.json"))
        .unwrap();
    let err = repo
        .store()
        .write(&ProofKind::Healthz { app: "a".into() }, b"{}")
        .unwrap_err();
    assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
    assert!(repo.outside_is_empty());
}

#[test]
fn a_good_chain_verifies() {
    let repo = Repo::new().with_chain();
    let report = repo.store().journal().verify(None).unwrap();
    assert_eq!((report.records, report.files), (5, 5));
    // The head is the hash of the last line, and pinning it passes.
    let last = repo.lines().pop().unwrap();
    assert_eq!(
        report.head,
        sophia::core::digest::sha256_bytes(last.as_bytes())
    );
    repo.store().journal().verify(Some(&report.head)).unwrap();
    // Records read back in order, prev-chained from the genesis value.
    let records = repo.store().journal().read().unwrap();
    assert_eq!(records[0].prev, sophia::proofs::GENESIS);
    assert_eq!(
        records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
}

#[test]
fn an_empty_journal_verifies() {
    let repo = Repo::new();
    let report = repo.store().journal().verify(None).unwrap();
    assert_eq!((report.records, report.files), (0, 0));
}

#[test]
fn an_edited_line_is_named() {
    let repo = Repo::new().with_chain();
    let mut lines = repo.lines();
    lines[2] = lines[2].replace("\"success\"", "\"failure\"");
    repo.set_lines(&lines);
    match repo.verify_err() {
        VerifyError::Edited { line, seq, .. } => assert_eq!((line, seq), (3, 3)),
        other => panic!("{other}"),
    }
}

#[test]
fn an_edited_last_line_is_caught_by_the_pinned_head() {
    let repo = Repo::new().with_chain();
    let head = repo.store().journal().verify(None).unwrap().head;
    let mut lines = repo.lines();
    lines[4] = lines[4].replace("\"success\"", "\"failure\"");
    repo.set_lines(&lines);
    let err = repo.store().journal().verify(Some(&head)).unwrap_err();
    assert!(matches!(
        err.downcast_ref::<VerifyError>(),
        Some(VerifyError::HeadMismatch { .. })
    ));
}

#[test]
fn a_removed_line_is_named() {
    let repo = Repo::new().with_chain();
    let mut lines = repo.lines();
    lines.remove(2);
    repo.set_lines(&lines);
    match repo.verify_err() {
        VerifyError::Removed {
            line,
            expected,
            found,
            ..
        } => assert_eq!((line, expected, found), (3, 3, 4)),
        other => panic!("{other}"),
    }
}

#[test]
fn reordered_lines_are_named() {
    let repo = Repo::new().with_chain();
    let mut lines = repo.lines();
    lines.swap(1, 3);
    repo.set_lines(&lines);
    match repo.verify_err() {
        VerifyError::Reordered {
            line,
            expected,
            found,
            other,
            ..
        } => {
            assert_eq!((line, expected, found), (2, 2, 4));
            assert_eq!(other, "line 4");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn an_inserted_line_is_named() {
    let repo = Repo::new().with_chain();
    let mut lines = repo.lines();
    let copy = lines[1].clone();
    lines.insert(2, copy);
    repo.set_lines(&lines);
    match repo.verify_err() {
        VerifyError::Inserted {
            line, seq, other, ..
        } => {
            assert_eq!((line, seq), (3, 2));
            assert_eq!(other, "line 2");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_forged_line_with_the_next_seq_is_named() {
    // Inserted with a plausible seq and the right prev, renumbering nothing after it.
    let repo = Repo::new().with_chain();
    let mut lines = repo.lines();
    let mut forged: serde_json::Value = serde_json::from_str(&lines[4]).unwrap();
    forged["seq"] = 6.into();
    forged["prev"] = sophia::core::digest::sha256_bytes(lines[4].as_bytes()).into();
    lines.push(serde_json::to_string(&forged).unwrap());
    lines.swap(4, 5); // now the forged seq 6 sits before seq 5
    repo.set_lines(&lines);
    assert!(matches!(
        repo.verify_err(),
        VerifyError::Reordered { line: 5, .. }
    ));
}

#[test]
fn an_edited_proof_file_is_named() {
    let repo = Repo::new().with_chain();
    let rec = &repo.store().journal().read().unwrap()[3];
    let file = repo.proofs().join(rec.proof.as_ref().unwrap());
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("secrets set", "nothing happened")).unwrap();
    match repo.verify_err() {
        VerifyError::ChangedFile {
            line, seq, file, ..
        } => {
            assert_eq!((line, seq), (4, 4));
            assert_eq!(&file, rec.proof.as_ref().unwrap());
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_deleted_proof_file_is_named() {
    let repo = Repo::new().with_chain();
    let rec = &repo.store().journal().read().unwrap()[1];
    std::fs::remove_file(repo.proofs().join(rec.proof.as_ref().unwrap())).unwrap();
    match repo.verify_err() {
        VerifyError::MissingFile { line, file, .. } => {
            assert_eq!(line, 2);
            assert_eq!(&file, rec.proof.as_ref().unwrap());
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_proof_replaced_by_a_symlink_is_refused() {
    let repo = Repo::new().with_chain();
    let rec = &repo.store().journal().read().unwrap()[0];
    let file = repo.proofs().join(rec.proof.as_ref().unwrap());
    let outside = repo.root().join("outside/copy.json");
    std::fs::rename(&file, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &file).unwrap();
    assert!(matches!(
        repo.verify_err(),
        VerifyError::UnsafeProof { line: 1, .. }
    ));
}

#[test]
fn a_torn_last_line_is_named_and_blocks_appends() {
    let repo = Repo::new().with_chain();
    let mut text = std::fs::read_to_string(repo.journal_path()).unwrap();
    let line = repo.lines()[4].clone();
    text.push_str(&line[..line.len() / 2]); // a crash half-way through an append
    std::fs::write(repo.journal_path(), text).unwrap();
    match repo.verify_err() {
        VerifyError::Torn { line, .. } => assert_eq!(line, 6),
        other => panic!("{other}"),
    }
    let err = repo
        .store()
        .journal()
        .append(NewRecord::now("x", "success"))
        .unwrap_err();
    assert!(format!("{err:#}").contains("line 6 is torn"), "{err:#}");
}

#[test]
fn a_rewritten_proof_path_is_checked_against_its_newest_record() {
    let repo = Repo::new();
    let store = repo.store();
    for text in ["first", "second"] {
        let proof = store.write(&ProofKind::FlyViewer, text.as_bytes()).unwrap();
        store
            .journal()
            .append(NewRecord::now("fly.viewer", "success").proof(proof))
            .unwrap();
    }
    let report = store.journal().verify(None).unwrap();
    assert_eq!((report.records, report.files), (2, 1));
    std::fs::write(repo.proofs().join("fly/viewer.json"), "first").unwrap();
    assert!(matches!(
        repo.verify_err(),
        VerifyError::ChangedFile { line: 2, .. }
    ));
}

#[test]
fn concurrent_appends_keep_one_chain() {
    const THREADS: usize = 8;
    const EACH: usize = 10;
    let repo = Repo::new();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = repo.store();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..EACH {
                    let proof = store
                        .write(
                            &ProofKind::ProviderOp {
                                provider: "redis".into(),
                                op: format!("t{t}-{i}"),
                            },
                            b"{}",
                        )
                        .unwrap();
                    store
                        .journal()
                        .append(NewRecord::now("redis.ping", "success").proof(proof))
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let report = repo.store().journal().verify(None).unwrap();
    assert_eq!(
        (report.records, report.files),
        (THREADS * EACH, THREADS * EACH)
    );
}

fn sophia(root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sophia"));
    cmd.arg("-C").arg(root).env_remove("SOPHIA_BACKEND");
    cmd
}

#[test]
fn cli_verifies_a_good_tree() {
    let repo = Repo::new().with_chain();
    let out = sophia(repo.root())
        .args(["proofs", "verify"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "journal: 5 records, 5 files verified\n"
    );
    let out = sophia(repo.root())
        .args(["--json", "proofs", "verify"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let env: Envelope = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(env.results[0]["records"], 5);
    assert_eq!(env.results[0]["files"], 5);
}

fn cli_failure(repo: &Repo) -> String {
    let out = sophia(repo.root())
        .args(["proofs", "verify"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    String::from_utf8(out.stderr).unwrap()
}

fn hashes() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[HASH]");
    s.add_filter(r"apply/[0-9a-f]{64}/", "apply/[PLAN]/");
    s
}

#[test]
fn cli_names_an_edited_line() {
    let repo = Repo::new().with_chain();
    let mut lines = repo.lines();
    lines[1] = lines[1].replace("fly.app.b.secrets", "fly.app.x.secrets");
    repo.set_lines(&lines);
    hashes().bind(|| insta::assert_snapshot!(cli_failure(&repo)));
}

#[test]
fn cli_names_a_changed_proof_file() {
    let repo = Repo::new().with_chain();
    let rec = &repo.store().journal().read().unwrap()[2];
    std::fs::write(repo.proofs().join(rec.proof.as_ref().unwrap()), "{}").unwrap();
    hashes().bind(|| insta::assert_snapshot!(cli_failure(&repo)));
}

#[test]
fn cli_names_a_torn_line() {
    let repo = Repo::new().with_chain();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(repo.journal_path())
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"seq\":6,\"at\":").unwrap();
    hashes().bind(|| insta::assert_snapshot!(cli_failure(&repo)));
}

#[test]
fn a_journal_naming_a_path_outside_proofs_is_refused() {
    let repo = Repo::new().with_chain();
    std::fs::write(repo.root().join("outside/x.json"), "{}").unwrap();
    let mut lines = repo.lines();
    let mut evil: serde_json::Value = serde_json::from_str(&lines[4]).unwrap();
    evil["seq"] = 6.into();
    evil["proof"] = "../outside/x.json".into();
    evil["proof_sha256"] = sophia::core::digest::sha256_bytes(b"{}").into();
    evil["prev"] = sophia::core::digest::sha256_bytes(lines[4].as_bytes()).into();
    lines.push(serde_json::to_string(&evil).unwrap());
    repo.set_lines(&lines);
    match repo.verify_err() {
        VerifyError::UnsafeProof { line, reason, .. } => {
            assert_eq!(line, 6);
            assert!(reason.contains("`..`"), "{reason}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn appends_chain_after_lines_longer_than_the_tail_chunk() {
    let repo = Repo::new();
    let journal = repo.store().journal();
    // 20 KiB addresses: the tail reader must grow past its first 4 KiB chunk.
    for i in 0..3 {
        journal
            .append(NewRecord::now("x", "success").address(format!("{i}{}", "a".repeat(20_000))))
            .unwrap();
    }
    assert_eq!(journal.verify(None).unwrap().records, 3);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any single-byte change anywhere in the journal, or in any proof file, fails verify
    /// once the head is pinned.
    #[test]
    fn any_single_byte_change_is_detected(at in 0.0f64..1.0, delta in 1u8..=255, in_proof in proptest::bool::ANY) {
        let repo = Repo::new().with_chain();
        let head = repo.store().journal().verify(None).unwrap().head;
        let target = if in_proof {
            let recs = repo.store().journal().read().unwrap();
            repo.proofs().join(recs[(at * 5.0) as usize].proof.as_ref().unwrap())
        } else {
            repo.journal_path()
        };
        let mut bytes = std::fs::read(&target).unwrap();
        let i = ((at * bytes.len() as f64) as usize).min(bytes.len() - 1);
        bytes[i] = bytes[i].wrapping_add(delta);
        std::fs::write(&target, &bytes).unwrap();
        proptest::prop_assert!(repo.store().journal().verify(Some(&head)).is_err());
    }
}

#[test]
fn a_journal_that_is_a_symlink_is_refused() {
    let repo = Repo::new();
    std::fs::create_dir(repo.proofs()).unwrap();
    std::os::unix::fs::symlink(repo.root().join("outside/j"), repo.journal_path()).unwrap();
    let err = repo
        .store()
        .journal()
        .append(NewRecord::now("x", "success"))
        .unwrap_err();
    assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
    assert!(repo.outside_is_empty());
}
