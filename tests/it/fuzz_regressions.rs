//! Inputs the fuzz targets of `fuzz/` (run by `scripts/fuzz`, figures in docs/fuzzing.md)
//! found to crash, hang or exhaust memory, each with the error it must give instead. The
//! inputs are written out here rather than read from `fuzz/artifacts/`, which is not kept.

use sophia::core::desired::{self, Source};

fn load_one(text: &str) -> Result<desired::Desired, desired::LoadErrors> {
    desired::load(&[Source {
        path: "desired/fly.yaml".into(),
        text: text.into(),
    }])
}

/// Aliases of aliases, ten copies per level: eight levels would build 10^8 values.
fn billion_laughs(levels: usize) -> String {
    let mut text = String::from("fly:\n  org: pay-ready\n  apps:\n    x:\n      env:\n");
    text.push_str("        A0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..levels {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("        A{i}: &a{i} [{refs}]\n"));
    }
    text
}

/// desired_loader: the loader expanded YAML aliases without a limit, so a few lines ran out
/// of memory (libFuzzer: out-of-memory at 2 GB) before any check ran.
#[test]
fn yaml_alias_expansion_is_bounded() {
    let started = std::time::Instant::now();
    let errors = load_one(&billion_laughs(8)).unwrap_err();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "refused quickly, took {:?}",
        started.elapsed()
    );
    assert_eq!(errors.0.len(), 1, "{errors}");
    let e = &errors.0[0];
    // `A1`–`A3` copy 12,330 values; each alias of `A4` (line 10) copies 11,111 more, so its
    // eighth (column 53) is the first to pass 100,000.
    assert_eq!(
        (e.file.as_str(), e.line, e.column),
        ("desired/fly.yaml", 10, 53),
        "{errors}"
    );
    assert_eq!(
        e.message,
        "aliases copy more than 100000 values into this file (this alias passes the limit)"
    );
    assert!(
        e.hint.as_deref().unwrap().contains("aliases of aliases"),
        "{errors}"
    );
}

/// Aliases within the limit still work as YAML says: the value is copied.
#[test]
fn yaml_aliases_below_the_limit_still_load() {
    let text = "fly:\n  org: pay-ready\n  apps:\n    app-a:\n      regions: &r [ord, sea]\n    \
                app-b:\n      regions: *r\n";
    let d = load_one(text).unwrap();
    let apps = &d.fly.unwrap().apps;
    assert_eq!(apps["app-b"].regions, apps["app-a"].regions);
    assert_eq!(apps["app-b"].regions.as_deref().unwrap(), ["ord", "sea"]);
}
