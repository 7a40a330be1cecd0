//! `sophia report --html`: the demo's proofs, rendered in headless Chromium (Debian's
//! package; `.ci/run` installs it) — the DOM must show the apply, its signer and its changes;
//! a phone-width screenshot is kept under `target/test-artifacts/`.

use std::path::Path;
use std::process::Command;

use crate::support::project_root;

/// The Chromium binary, or `None` (the test says it was skipped) when it is missing —
/// unless `SOPHIA_REQUIRE_CONFORMANCE` is set (as `.ci/run` sets it): then it fails.
fn chromium() -> Option<&'static str> {
    for name in ["chromium", "chromium-browser"] {
        if Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(name);
        }
    }
    assert!(
        std::env::var_os("SOPHIA_REQUIRE_CONFORMANCE").is_none(),
        "chromium is missing and SOPHIA_REQUIRE_CONFORMANCE is set: `apt-get install -y \
         chromium` (.ci/run does)"
    );
    eprintln!("skipped: no chromium to render the report in");
    None
}

fn headless(chromium: &str, profile: &Path, args: &[&str], page: &Path) -> std::process::Output {
    Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium")
}

#[test]
fn the_report_of_the_demo_renders_in_chromium_with_the_apply_its_signer_and_changes() {
    let (_tmp, kept) = crate::support::kept_demo();
    let page = kept.join("report.html");
    let made = Command::new(env!("CARGO_BIN_EXE_sophia"))
        .arg("-C")
        .arg(&kept)
        .args(["report", "--html", "report.html"])
        .env_clear()
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&made.stderr);
    assert!(made.status.success(), "{made:?}");
    assert!(stderr.contains("1 applies, 1 drift checks"), "{stderr}");
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: no script, nothing loaded from elsewhere.
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("src=") && !html.contains("<link"), "{html}");
    assert!(html.contains("name=\"viewport\""));

    let Some(chromium) = chromium() else { return };
    let profile = tempfile::tempdir().unwrap();
    let dom = headless(chromium, profile.path(), &["--dump-dom"], &page);
    assert!(dom.status.success(), "{dom:?}");
    let dom = String::from_utf8_lossy(&dom.stdout);
    // What Chromium parsed: one apply article with its signer, status and changes, then the
    // drift check — each status a word, not only a colour.
    assert_eq!(dom.matches("<article class=\"apply\">").count(), 1, "{dom}");
    assert!(
        dom.contains("<dt>Signed by</dt><dd>demo-approver@sophia"),
        "{dom}"
    );
    assert!(
        dom.contains("<span class=\"status ok\">succeeded</span>"),
        "{dom}"
    );
    assert!(dom.contains("<dt>Changes (8)</dt>"), "{dom}");
    // The demo's three shared-cpu-1x/256MB machines in `ord`, at 2.74 a month each.
    assert!(
        dom.contains("+8.22 USD a month (0.00 → 8.22; Fly prices of "),
        "{dom}"
    );
    assert!(
        dom.contains("<code>fly.app.sophia-demo-api</code>"),
        "{dom}"
    );
    assert!(
        dom.contains("<code>github.repo.ai-cherry/sophia-demo.branch.main.protection</code>"),
        "{dom}"
    );
    assert_eq!(dom.matches("<article class=\"drift\">").count(), 1, "{dom}");
    assert!(
        dom.find("id=\"applies\"").unwrap() < dom.find("id=\"drift\"").unwrap(),
        "{dom}"
    );

    // A phone-width screenshot, kept as the test's artifact.
    let artifacts = project_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("report-phone.png");
    let _ = std::fs::remove_file(&shot);
    let taken = headless(
        chromium,
        profile.path(),
        &[
            "--window-size=390,1800",
            &format!("--screenshot={}", shot.display()),
        ],
        &page,
    );
    assert!(taken.status.success(), "{taken:?}");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    // The PNG's width (IHDR) is the phone's: nothing made the page wider.
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 390);
}
