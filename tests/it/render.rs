//! The renderings users see: text, markdown (the PR comment), JSON.

use std::fmt::Write as _;

use sophia::core::live::LiveSnapshot;
use sophia::core::plan;
use sophia::core::render::{json, markdown, text};

use crate::plan::{fixed_opts, fixture_plan, load_yaml, settings};

#[test]
fn text_rendering() {
    let plan = fixture_plan();
    settings().bind(|| insta::assert_snapshot!(text::render(&plan, false)));
}

#[test]
fn text_colour_is_an_argument() {
    let plan = fixture_plan();
    assert!(text::render(&plan, true).contains("\x1b[32m+"));
    assert!(!text::render(&plan, false).contains('\x1b'));
}

#[test]
fn markdown_rendering() {
    let plan = fixture_plan();
    settings().bind(|| insta::assert_snapshot!(markdown::render(&plan, "plan.json")));
}

#[test]
fn targeted_plan_says_so() {
    let mut opts = fixed_opts();
    opts.targets = vec!["github.repo.ai-cherry/sophia-intel-ai".into()];
    let plan = plan::build(
        &crate::plan::fixture_desired(),
        &crate::plan::fixture_live(),
        &opts,
    )
    .unwrap();
    let t = text::render(&plan, false);
    assert!(
        t.contains("Targeted plan: only changes under `github.repo.ai-cherry/sophia-intel-ai`"),
        "{t}"
    );
    assert!(markdown::render(&plan, "plan.json").contains("Targeted plan"));
}

#[test]
fn no_changes_text() {
    let d = crate::plan::fixture_desired();
    let plan = plan::build(&d, &crate::plan::live_from_desired(&d), &fixed_opts()).unwrap();
    settings().bind(|| insta::assert_snapshot!(text::render(&plan, false)));
}

#[test]
fn json_is_the_plan_file() {
    let plan = fixture_plan();
    let rendered = json::render(&plan);
    assert_eq!(plan::read_plan("plan.json", &rendered).unwrap(), plan);
    assert!(rendered.ends_with("}\n"));
}

/// A desired state of `n` Fly apps, each with secrets, machines and a health check.
pub fn many_apps(n: usize) -> String {
    let mut y = String::from("fly:\n  org: pay-ready\n  apps:\n");
    for i in 0..n {
        let _ = write!(
            y,
            "    app-{i:05}:\n      image: registry.fly.io/app-{i:05}:deployment-{i}\n      regions: [ord, ams]\n      count: 2\n      env: {{ LOG_LEVEL: info, APP_INDEX: \"{i}\" }}\n      secrets: [NEON_DATABASE_URL, PORTKEY_API_KEY]\n      health: {{ path: /healthz, port: 8080 }}\n"
        );
    }
    y
}

#[test]
fn markdown_of_3000_apps_fits_a_github_comment() {
    let d = load_yaml(&[("desired/apps.yaml", &many_apps(3000))]);
    let plan = plan::build(&d, &LiveSnapshot::new("t"), &fixed_opts()).unwrap();
    let md = markdown::render(&plan, "plan.json");
    let chars = md.chars().count();
    assert!(chars <= markdown::MAX_COMMENT_CHARS, "{chars} characters");
    assert!(md.contains("Plan: 9000 to create, 1 to update, 0 to delete, 0 to replace."));
    assert!(md.contains(&plan.digest));
    assert!(md.contains("| **total** | **9000** | **1** |"));
    assert!(md.contains("ssh-keygen -Y sign -n sophia-plan@v1 -f ~/.ssh/id_ed25519 plan.json"));
    assert!(md.contains("per-resource detail and part of the per-provider lists were cut"));
    assert!(md.contains("more\n"));
}

#[test]
fn markdown_of_a_plan_with_thousands_of_targets_fits_a_github_comment() {
    let d = load_yaml(&[("desired/apps.yaml", &many_apps(3000))]);
    let mut opts = fixed_opts();
    opts.targets = (0..3000).map(|i| format!("fly.app.app-{i:05}")).collect();
    let plan = plan::build(&d, &LiveSnapshot::new("t"), &opts).unwrap();
    assert_eq!(plan.targets.len(), 3000);
    let md = markdown::render(&plan, "plan.json");
    let chars = md.chars().count();
    assert!(chars <= markdown::MAX_COMMENT_CHARS, "{chars} characters");
    assert!(md.contains(&plan.digest));
    assert!(md.contains("`fly.app.app-00019` and 2980 more (all in the plan file's `targets`)"));
    assert!(!md.contains("`fly.app.app-00020`,"));
}

#[test]
fn markdown_cuts_detail_before_lists() {
    // Big enough that attribute detail does not fit, small enough that the lists do.
    let d = load_yaml(&[("desired/apps.yaml", &many_apps(400))]);
    let plan = plan::build(&d, &LiveSnapshot::new("t"), &fixed_opts()).unwrap();
    let md = markdown::render(&plan, "plan.json");
    assert!(md.chars().count() <= markdown::MAX_COMMENT_CHARS);
    assert!(md.contains("per-resource detail was cut"), "{}", &md[..600]);
    assert!(md.contains("`fly.app.app-00399.machines`"));
    assert!(!md.contains("```diff"));
}
