//! Every `fly.toml` flyctl tests its config loader with imports to the expected app, or fails
//! with an error naming the file and the field.

use crate::support::conformance_dir;

use sophia::core::desired::flytoml::import;
use sophia::core::desired::{CpuKind, Guest, Health, Strategy};

/// What a file imports to, or the field its error names.
enum Expect {
    /// app, primary region, internal port, strategy.
    Ok(
        Option<&'static str>,
        Option<&'static str>,
        Option<u16>,
        Option<Strategy>,
    ),
    Err(&'static str),
}
use Expect::{Err as Fails, Ok as Imports};

/// Every file of `fly/flytoml/`. The `validate-*.toml` files carry errors in process groups,
/// services and mounts, which `sophia` does not read (it manages one guest, one http service
/// and one health check per app), so they import.
const TABLE: [(&str, Expect); 45] = [
    // A bare-number `concurrency` (flyctl refuses the file too).
    ("always-invalid-v2.toml", Fails("services[0].concurrency")),
    ("app-name.toml", Imports(Some("test-app"), None, None, None)),
    (
        "build-with-args.toml",
        Imports(Some("build-with-args"), None, None, None),
    ),
    ("build.toml", Imports(Some("build"), None, None, None)),
    (
        "compose-autodetect.toml",
        Imports(Some("test-app"), None, None, None),
    ),
    ("compose.toml", Imports(Some("test-app"), None, None, None)),
    ("docker.toml", Imports(Some("image"), None, None, None)),
    ("env-list.toml", Imports(Some("foo"), None, None, None)),
    (
        "experimental-alt.toml",
        Imports(Some("foo"), None, None, None),
    ),
    ("format-quirks.toml", Imports(Some("foo"), None, None, None)),
    ("full-reference.toml", Fails("deploy.strategy")),
    ("image.toml", Imports(Some("image"), None, None, None)),
    (
        "internal__command__deploy__testdata__basic__fly.toml",
        Imports(Some("test-basic"), Some("ord"), None, None),
    ),
    ("mounts-array.toml", Imports(Some("foo"), None, None, None)),
    ("old-format.toml", Imports(Some("foo"), None, None, None)),
    ("old-pg-checks.toml", Imports(Some("foo"), None, None, None)),
    // No `app` at all: imports, and the YAML key names the app.
    ("old-processes.toml", Imports(None, None, None, None)),
    (
        "processes-multi.toml",
        Imports(Some("foo"), None, None, None),
    ),
    (
        "processes-multiwithapp.toml",
        Imports(Some("foo"), None, None, None),
    ),
    (
        "processes-none.toml",
        Imports(Some("foo"), None, None, None),
    ),
    ("processes-one.toml", Imports(Some("foo"), None, None, None)),
    (
        "services-emptysection.toml",
        Imports(Some("foo"), None, None, None),
    ),
    (
        "services-multi.toml",
        Imports(Some("foo"), None, None, None),
    ),
    (
        "services-ports.toml",
        Imports(Some("foo"), None, None, None),
    ),
    (
        "setters-deploy.toml",
        Imports(Some("setters"), None, None, Some(Strategy::Immediate)),
    ),
    (
        "setters-experimental.toml",
        Imports(Some("setters"), None, None, None),
    ),
    (
        "setters-httpservice.toml",
        Imports(Some("httpservice-setters"), None, Some(9999), None),
    ),
    (
        "setters-processes.toml",
        Imports(Some("setters"), None, None, None),
    ),
    (
        "setters-service.toml",
        Imports(Some("setters"), None, None, None),
    ),
    // A template (`app = "{{apps.0}}"`), not a deployable file.
    (
        "test__preflight__fixtures__deploy-node__fly.toml",
        Fails("app"),
    ),
    (
        "test__preflight__fixtures__example-buildpack__fly.toml",
        Imports(Some("flyctl-example-buildpack"), None, None, None),
    ),
    (
        "test__preflight__fixtures__example__fly.toml",
        Imports(Some("damp-fire-3810"), None, None, None),
    ),
    (
        "tomachine-compute-nodefault.toml",
        Imports(Some("no-default-compute"), None, None, None),
    ),
    (
        "tomachine-compute.toml",
        Imports(Some("foo"), None, None, None),
    ),
    (
        "tomachine-default-for-new-apps.toml",
        Imports(Some("foo"), Some("ord"), Some(8080), None),
    ),
    (
        "tomachine-experimental.toml",
        Imports(Some("foo"), None, None, None),
    ),
    (
        "tomachine-hostdedicationid.toml",
        Imports(Some("foo"), None, None, None),
    ),
    (
        "tomachine-machinechecks.toml",
        Imports(Some("foo"), Some("mia"), Some(8080), None),
    ),
    (
        "tomachine-mounts.toml",
        Imports(Some("foo"), None, None, None),
    ),
    (
        "tomachine-processgroups.toml",
        Imports(Some("foo"), Some("ord"), Some(8080), None),
    ),
    (
        "tomachine-services.toml",
        Imports(Some("foo"), Some("scl"), Some(8080), None),
    ),
    (
        "tomachine.toml",
        Imports(Some("foo"), Some("mia"), Some(8080), None),
    ),
    (
        "validate-groups.toml",
        Imports(Some("foo"), Some("ord"), Some(8080), None),
    ),
    (
        "validate-mounts.toml",
        Imports(Some("foo"), Some("ord"), None, None),
    ),
    (
        "validate-services.toml",
        Imports(Some("foo"), Some("ord"), None, None),
    ),
];

fn read(dir: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(dir.join("fly/flytoml").join(name))
        .unwrap_or_else(|e| panic!("reading {name}: {e}"))
}

#[test]
fn every_conformance_fly_toml_imports_or_names_the_bad_field() {
    let Some(dir) = conformance_dir() else { return };
    let mut on_disk: Vec<String> = std::fs::read_dir(dir.join("fly/flytoml"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = TABLE.iter().map(|(f, _)| *f).collect();
    assert_eq!(on_disk, listed, "the table lists exactly the files on disk");
    for (name, expect) in TABLE {
        let got = import(name, &read(&dir, name));
        match (expect, got) {
            (Imports(app, region, port, strategy), Ok(t)) => {
                assert_eq!(t.app.as_deref(), app, "{name}: app");
                assert_eq!(
                    t.primary_region.as_deref(),
                    region,
                    "{name}: primary_region"
                );
                assert_eq!(t.internal_port, port, "{name}: internal_port");
                assert_eq!(t.strategy, strategy, "{name}: strategy");
            }
            (Fails(field), Err(e)) => {
                assert_eq!(e.file, name, "{name}: the error names the file");
                assert_eq!(e.field.as_deref(), Some(field), "{name}: {e}");
                assert!(e.line > 0 && e.column > 0, "{name}: located: {e}");
                assert!(e.hint.is_some(), "{name}: {e} has a hint");
            }
            (Imports(..), Err(e)) => panic!("{name} should import, failed: {e}"),
            (Fails(field), Ok(t)) => panic!("{name} should fail on `{field}`, imported {t:?}"),
        }
    }
}

#[test]
fn conformance_details_guest_env_health_image() {
    let Some(dir) = conformance_dir() else { return };
    let get = |name: &str| import(name, &read(&dir, name)).unwrap();
    // `[vm]` as a table, memory as a bare number of MB.
    assert_eq!(
        get("format-quirks.toml").guest,
        Some(Guest {
            cpu_kind: CpuKind::Shared,
            cpus: 1,
            memory_mb: 512
        })
    );
    // Only the `[[vm]]` without `processes` applies to the whole app; its size is a preset.
    assert_eq!(
        get("tomachine-compute.toml").guest,
        Some(Guest {
            cpu_kind: CpuKind::Shared,
            cpus: 2,
            memory_mb: 512
        })
    );
    assert_eq!(get("tomachine-compute-nodefault.toml").guest, None);
    // `[[env]]` sections merge; numbers and booleans become strings.
    let env = get("env-list.toml").env;
    assert_eq!(
        env.iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        [("FOO", "BAR"), ("TRUE", "true"), ("TWO", "2")]
    );
    assert_eq!(get("old-format.toml").env["BAR"], "123");
    // Health from a top-level http check (its own port), or none when only tcp checks exist.
    assert_eq!(
        get("tomachine.toml").health,
        Some(Health {
            path: "/status".into(),
            port: Some(8080),
            expect_status: 200
        })
    );
    assert_eq!(get("tomachine-default-for-new-apps.toml").health, None);
    assert_eq!(get("image.toml").image.as_deref(), Some("image/name"));
}

#[test]
fn conformance_error_messages() {
    let Some(dir) = conformance_dir() else { return };
    let msg = |name: &str| {
        let e = import(name, &read(&dir, name)).unwrap_err();
        format!("{e}\n  hint: {}", e.hint.clone().unwrap_or_default())
    };
    insta::assert_snapshot!(
        "flytoml_errors",
        [
            msg("full-reference.toml"),
            msg("always-invalid-v2.toml"),
            msg("test__preflight__fixtures__deploy-node__fly.toml"),
        ]
        .join("\n")
    );
}
