//! Hints as data (issue 12) and control characters escaped in printed errors (issue 18,
//! finding 11), through the binary.

use crate::support::Repo;

/// A plan file that is not JSON: the gate's error carries a hint.
fn repo_with_broken_plan() -> Repo {
    let repo = Repo::new();
    repo.file("desired/a.yaml", "fly:\n  org: sophia\n  apps: {}\n");
    repo.file("plan.json", "{ not json");
    repo
}

#[test]
fn json_errors_carry_the_hint_in_its_own_field() {
    let repo = repo_with_broken_plan();
    let out = repo.run(&["--json", "verify", "plan.json"], &[]);
    assert_eq!(out.code, 1, "stderr: {}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let error = &v["errors"][0];
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("not a sophia plan file"), "{error}");
    assert!(!message.contains("hint:"), "{error}");
    assert_eq!(
        error["hint"],
        "plan files are written by `sophia plan --out plan.json` and must not be edited"
    );
}

#[test]
fn a_terminal_shows_the_hint_as_its_own_line() {
    let repo = repo_with_broken_plan();
    let out = repo.run(&["verify", "plan.json"], &[]);
    assert_eq!(out.code, 1);
    let last = out.stderr.trim_end().lines().last().unwrap();
    assert_eq!(
        last,
        "  hint: plan files are written by `sophia plan --out plan.json` and must not be edited"
    );
}

#[test]
fn load_errors_in_json_carry_the_hint_in_its_own_field() {
    let repo = Repo::new();
    repo.file("desired/a.yaml", "fly:\n  org: X\n  apps: {}\n");
    let out = repo.run(&["validate", "--json"], &[]);
    assert_eq!(out.code, 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let error = &v["errors"][0];
    assert!(
        !error["message"].as_str().unwrap().contains("hint"),
        "{error}"
    );
    assert!(!error["hint"].as_str().unwrap().is_empty(), "{error}");
    // An error without a hint has no `hint` key at all.
    let e = sophia::core::envelope::EnvelopeError::new("p", "c", "m");
    assert!(serde_json::to_value(e).unwrap().get("hint").is_none());
}

#[test]
fn control_characters_in_a_name_never_reach_the_log_raw() {
    let repo = Repo::new();
    repo.file(
        "desired/a.yaml",
        "fly:\n  org: sophia\n  apps:\n    \"a\\e[2J\\n::error::forged\":\n      image: x:1\n",
    );
    for args in [&["validate"][..], &["validate", "--json"][..]] {
        let out = repo.run(args, &[]);
        assert_eq!(out.code, 1, "stderr: {}", out.stderr);
        for text in [&out.stderr, &out.stdout] {
            assert!(
                !text.contains('\u{1b}'),
                "an ESC byte was printed: {text:?}"
            );
            assert!(
                !text.lines().any(|l| l.trim_start().starts_with("::")),
                "a line starts a workflow command: {text}"
            );
        }
        assert!(
            out.stderr.contains("\\u{1b}[2J\\n::error::forged"),
            "{}",
            out.stderr
        );
    }
}
