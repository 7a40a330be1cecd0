//! The plan as a picture: `sophia graph` and the Mermaid flowchart of the PR comment, checked
//! with the real Mermaid parser (`tests/mermaid/`, installed by `npm ci --prefix
//! tests/mermaid`, as `.ci/run` does).

use std::path::{Path, PathBuf};
use std::process::Command;

use sophia::core::live::LiveSnapshot;
use sophia::core::plan;
use sophia::core::render::markdown::{self, MAX_COMMENT_CHARS};
use sophia::core::render::picture::{self, MERMAID_MAX_EDGES, MERMAID_MAX_TEXT};

use crate::plan::{fixed_opts, fixture_plan, load_yaml};
use crate::render::many_apps;
use crate::support::{Repo, project_root};

/// `tests/mermaid/check.mjs` when node and the installed Mermaid are there. `None` — the
/// test says it was skipped — when they are not, unless `SOPHIA_REQUIRE_CONFORMANCE` is set
/// (as `.ci/run` sets it): then their absence fails the test.
fn mermaid_checker() -> Option<PathBuf> {
    let dir = project_root().join("tests/mermaid");
    let node = Command::new("node").arg("--version").output();
    let installed = dir.join("node_modules/mermaid/package.json").is_file()
        && dir.join("node_modules/jsdom/package.json").is_file();
    if node.is_ok_and(|o| o.status.success()) && installed {
        return Some(dir.join("check.mjs"));
    }
    assert!(
        std::env::var_os("SOPHIA_REQUIRE_CONFORMANCE").is_none(),
        "the Mermaid parser is missing and SOPHIA_REQUIRE_CONFORMANCE is set: install node \
         and run `npm ci --prefix tests/mermaid` (.ci/run does)"
    );
    eprintln!("skipped: no Mermaid parser (install node, then `npm ci --prefix tests/mermaid`)");
    None
}

/// Parse every diagram with the real Mermaid parser; panics with its message on the first
/// one it refuses.
fn assert_mermaid_parses(checker: &Path, diagrams: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, text) in diagrams {
        let path = dir.path().join(format!("{name}.mmd"));
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    let out = Command::new("node")
        .arg(checker)
        .args(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "Mermaid refused a diagram:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        diagrams.len(),
        "{stdout}"
    );
}

/// The Mermaid code block of a PR comment, if it has one.
fn comment_mermaid(comment: &str) -> Option<String> {
    let start = comment.find("```mermaid\n")? + "```mermaid\n".len();
    let len = comment[start..].find("```")?;
    Some(comment[start..start + len].to_string())
}

/// Keeps Mermaid's limits and those of a PR comment.
fn assert_within_limits(diagram: &str) {
    let edges = diagram.matches(" --> ").count();
    assert!(edges <= MERMAID_MAX_EDGES, "{edges} edges");
    assert!(
        diagram.chars().count() <= MERMAID_MAX_TEXT,
        "{} characters",
        diagram.chars().count()
    );
}

#[test]
fn the_demo_plan_draws_and_parses() {
    let (tmp, kept) = crate::support::kept_demo();
    let repo = Repo { dir: tmp };
    let plan_file = kept.join("plan.json");
    let plan_arg = plan_file.to_str().unwrap();

    let mermaid = repo.run(&["graph", plan_arg, "--format", "mermaid"], &[]);
    assert_eq!(mermaid.code, 0, "{mermaid:?}");
    assert!(mermaid.stderr.contains("digest verified"), "{mermaid:?}");
    let dot = repo.run(&["graph", plan_arg, "--format", "dot"], &[]);
    assert_eq!(dot.code, 0, "{dot:?}");
    let comment = repo.run(&["show", plan_arg, "--format", "markdown"], &[]);
    assert_eq!(comment.code, 0, "{comment:?}");
    let in_comment = comment_mermaid(&comment.stdout).expect("the comment has a picture");

    // The demo's apps: `api` depends on `db`, so the picture has arrows, coloured creates.
    let plan = plan::read_plan("plan.json", &std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    let actions = plan.actions.len();
    assert!(actions > 1);
    assert_eq!(
        mermaid.stdout.matches("]:::").count(),
        actions,
        "one node per action:\n{}",
        mermaid.stdout
    );
    assert!(in_comment.contains(":::create"), "{in_comment}");
    assert!(in_comment.contains(" --> "), "{in_comment}");
    assert!(dot.stdout.starts_with("digraph {"), "{}", dot.stdout);
    assert_eq!(dot.stdout.matches("fillcolor").count(), actions);
    assert_within_limits(&mermaid.stdout);
    assert_within_limits(&in_comment);

    if let Some(checker) = mermaid_checker() {
        assert_mermaid_parses(
            &checker,
            &[("graph", &mermaid.stdout), ("comment", &in_comment)],
        );
    }
}

#[test]
fn a_3000_app_plan_stays_within_the_limits_and_parses() {
    let d = load_yaml(&[("desired/apps.yaml", &many_apps(3000))]);
    let plan = plan::build(&d, &LiveSnapshot::new("t"), &fixed_opts()).unwrap();
    let resources = picture::mermaid(&picture::resources(&plan));
    let actions = picture::mermaid(&picture::actions(&plan));
    assert_within_limits(&resources);
    assert_within_limits(&actions);
    assert!(resources.contains(" more (sophia graph draws them all)"));
    let comment = markdown::render(&plan, "plan.json");
    assert!(comment.chars().count() <= MAX_COMMENT_CHARS);
    // DOT has no limit: every action is drawn.
    let dot = picture::dot(&picture::actions(&plan));
    assert_eq!(dot.matches("fillcolor").count(), plan.actions.len());

    if let Some(checker) = mermaid_checker() {
        assert_mermaid_parses(
            &checker,
            &[("resources", &resources), ("actions", &actions)],
        );
    }
}

#[test]
fn the_fixture_comment_picture_parses() {
    let plan = fixture_plan();
    let comment = markdown::render(&plan, "plan.json");
    let diagram = comment_mermaid(&comment).expect("the comment has a picture");
    // Every changed resource is a node, marked with its change in words as well as colour.
    for c in &plan.changes {
        assert!(
            diagram.contains(&format!("{}\"]:::", c.address)),
            "{} missing:\n{diagram}",
            c.address
        );
    }
    // The picture comes before the per-provider lists.
    assert!(comment.find("```mermaid").unwrap() < comment.find("<details><summary><b>").unwrap());
    if let Some(checker) = mermaid_checker() {
        assert_mermaid_parses(&checker, &[("fixture", &diagram)]);
    }
}

#[test]
fn the_picture_is_dropped_before_the_tables() {
    let plan = fixture_plan();
    let full = markdown::render(&plan, "plan.json");
    let picture = comment_mermaid(&full).unwrap();
    // Just too short for the picture: the full detail stays, the picture goes.
    let max = full.chars().count() - 1;
    let without = markdown::render_within(&plan, "plan.json", max);
    assert!(comment_mermaid(&without).is_none(), "{without}");
    assert!(without.chars().count() <= max);
    assert!(
        !without.contains("per-resource detail was cut"),
        "{without}"
    );
    assert!(without.chars().count() + picture.chars().count() < full.chars().count());
    // With room for everything, nothing is cut.
    assert_eq!(
        markdown::render_within(&plan, "plan.json", full.chars().count()),
        full
    );
}
