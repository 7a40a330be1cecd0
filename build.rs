//! The build's identity: SHA-256 over the source tree sophia is compiled from (`Cargo.toml`,
//! `Cargo.lock`, this file and every file under `src/` but test snapshots), as
//! `SOPHIA_SOURCE_DIGEST`. Plans record it and `apply` refuses a plan made by another build
//! (DESIGN.md, "Plans"). A digest of the source, not of the binary: the same commit built on
//! two runners gives the same digest, so a plan made by the pull request's build is accepted
//! by `main`'s build of the same source — and by nothing else.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let mut files = vec![
        PathBuf::from("Cargo.toml"),
        PathBuf::from("Cargo.lock"),
        PathBuf::from("build.rs"),
    ];
    collect(&root, Path::new("src"), &mut files);
    files.sort();
    let mut hasher = Sha256::new();
    for rel in &files {
        let bytes = std::fs::read(root.join(rel)).unwrap_or_default();
        let name = rel.to_string_lossy().replace('\\', "/");
        // Name and length first: no two trees hash the same bytes.
        hasher.update(format!("{name}\0{}\0", bytes.len()).as_bytes());
        hasher.update(&bytes);
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo:rustc-env=SOPHIA_SOURCE_DIGEST=sha256:{digest}");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=build.rs");
}

/// Every regular file under `rel` (relative to `root`), skipping `snapshots/` folders.
fn collect(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let path = rel.join(&name);
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if name != "snapshots" {
                collect(root, &path, out);
            }
        } else if kind.is_file() {
            out.push(path);
        }
    }
}
