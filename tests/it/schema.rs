//! `sophia schema` prints a JSON Schema that the repository's own desired files satisfy and
//! that refuses what the loader refuses (unknown keys, unknown values).

use std::path::PathBuf;

use crate::support::project_root;

fn schema() -> jsonschema::Validator {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sophia"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stderr, b"", "the schema is data: stdout only");
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn yaml(text: &str) -> serde_json::Value {
    serde_yaml::from_str(text).unwrap()
}

fn desired_files() -> Vec<PathBuf> {
    let root = project_root();
    let mut dirs = vec![root.join("desired")];
    for e in std::fs::read_dir(root.join("examples")).unwrap() {
        dirs.push(e.unwrap().path().join("desired"));
    }
    let mut files = Vec::new();
    for d in dirs {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_desired_and_example_file_validates_against_the_schema() {
    let v = schema();
    let files = desired_files();
    assert!(files.len() >= 7, "desired/ and two examples: {files:?}");
    for f in files {
        let doc = yaml(&std::fs::read_to_string(&f).unwrap());
        let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", f.display());
    }
}

#[test]
fn the_schema_refuses_unknown_keys_and_values() {
    let v = schema();
    for bad in [
        "fly: { apps: { x-app: { imgae: a } } }",
        "routr: { primary: portkey }",
        "providers: { fly: on }",
        "fly: { apps: { x-app: { strategy: rolling-eyes } } }",
        "github: { repos: { a/b: { branches: { main: { protection: { enforce_admin: true } } } } } }",
    ] {
        assert!(!v.is_valid(&yaml(bad)), "{bad}");
    }
    // And the same shapes with the right keys pass.
    for good in [
        "fly: { apps: { x-app: { image: a } } }",
        "router: { primary: portkey }",
        "providers: { fly: paused }",
        "github: { repos: { a/b: { branches: { main: { protection: { enforce_admins: true } } } } } }",
    ] {
        assert!(v.is_valid(&yaml(good)), "{good}");
    }
}
