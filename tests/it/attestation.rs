//! The attestation of an apply: a DSSE envelope over an in-toto Statement, checked by an
//! independent DSSE verifier (`tests/dsse/verify.py`, pyca/cryptography) with only the
//! public key — and refused, by it and by sophia, once one byte is flipped.

use std::path::Path;
use std::process::Command;

use serde_json::json;
use sophia::proofs::attestation::{self, PREDICATE_TYPE};

use crate::plan::fixture_plan;
use crate::support::project_root;

/// Whether python3 with pyca/cryptography is there. Its absence fails the test when
/// `SOPHIA_REQUIRE_CONFORMANCE` is set (as `.ci/run` sets it) and skips it otherwise.
fn python_with_cryptography() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("SOPHIA_REQUIRE_CONFORMANCE").is_none(),
            "python3 with `cryptography` is missing and SOPHIA_REQUIRE_CONFORMANCE is set: \
             install python3-cryptography (.ci/run does)"
        );
        eprintln!("skipped: the independent DSSE verifier needs python3 with `cryptography`");
    }
    ok
}

fn independent_verify(envelope: &Path, public_key: &Path) -> std::process::Output {
    Command::new("python3")
        .arg(project_root().join("tests/dsse/verify.py"))
        .arg(envelope)
        .arg(public_key)
        .output()
        .unwrap()
}

/// A fresh ed25519 key pair made by ssh-keygen: (private key text, public key path).
fn keypair(dir: &Path) -> (String, std::path::PathBuf) {
    let key = dir.join("attest");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "attest", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    (
        std::fs::read_to_string(&key).unwrap(),
        key.with_extension("pub"),
    )
}

#[test]
fn an_attestation_verifies_independently_and_a_flipped_byte_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public_path) = keypair(dir.path());
    let public = ssh_key::PublicKey::read_openssh_file(&public_path).unwrap();

    let mut plan = fixture_plan();
    // One machine deployed by digest: a subject besides the plan file.
    let digest = "ab".repeat(32);
    for a in &mut plan.actions {
        if a.kind == sophia::core::plan::ActionKind::FlyMachinesUpdate {
            a.params["image"] = json!(format!("registry.fly.io/web@sha256:{digest}"));
        }
    }
    let plan_bytes = b"{\"the\":\"plan file\"}\n";
    let statement = attestation::statement(
        &plan,
        "plan.json",
        plan_bytes,
        json!({ "plan_digest": plan.digest }),
    );
    let envelope = attestation::sign(&statement, &private).unwrap();
    let text = serde_json::to_string_pretty(&envelope).unwrap();
    assert!(!text.contains("PRIVATE KEY"));
    assert_eq!(
        envelope.signatures[0].keyid,
        public.fingerprint(ssh_key::HashAlg::Sha256).to_string()
    );
    let path = dir.path().join("apply.intoto.json");
    std::fs::write(&path, &text).unwrap();

    // sophia's own check.
    let checked = attestation::verify(&text, &public).unwrap();
    assert_eq!(checked["predicateType"], PREDICATE_TYPE);
    let subjects = checked["subject"].as_array().unwrap();
    assert_eq!(subjects[0]["name"], "plan.json");
    assert_eq!(
        subjects[0]["digest"]["sha256"],
        sophia::core::digest::sha256_bytes(plan_bytes).trim_start_matches("sha256:")
    );
    assert!(
        subjects
            .iter()
            .any(|s| s["name"] == "registry.fly.io/web" && s["digest"]["sha256"] == digest),
        "{subjects:?}"
    );

    // A flipped byte inside the payload: still base64, still JSON-shaped, no longer signed.
    let mut flipped = envelope.clone();
    let mut payload = base64_decode(&flipped.payload);
    let at = payload.iter().position(|&b| b == b'p').unwrap();
    payload[at] ^= 0x01;
    flipped.payload = base64_encode(&payload);
    let flipped_text = serde_json::to_string_pretty(&flipped).unwrap();
    let flipped_path = dir.path().join("flipped.intoto.json");
    std::fs::write(&flipped_path, &flipped_text).unwrap();
    let err = attestation::verify(&flipped_text, &public).unwrap_err();
    assert!(err.to_string().contains("no signature"), "{err:#}");
    // Another key does not verify it either.
    let (_, other_path) = keypair(&dir.path().join("other").tap_mkdir());
    let other = ssh_key::PublicKey::read_openssh_file(&other_path).unwrap();
    assert!(attestation::verify(&text, &other).is_err());

    if python_with_cryptography() {
        let good = independent_verify(&path, &public_path);
        assert!(good.status.success(), "{good:?}");
        let listed = String::from_utf8_lossy(&good.stdout);
        assert!(
            listed.contains(&format!("registry.fly.io/web sha256:{digest}")),
            "{listed}"
        );
        let bad = independent_verify(&flipped_path, &public_path);
        assert!(!bad.status.success(), "a flipped byte must fail: {bad:?}");
        let wrong_key = independent_verify(&path, &other_path);
        assert!(!wrong_key.status.success(), "{wrong_key:?}");
    }
}

#[test]
fn a_bad_key_is_named_not_shown() {
    let err = attestation::sign(&json!({}), "not a key SECRETVALUE").unwrap_err();
    let shown = format!("{err:#}");
    assert!(shown.contains("not an OpenSSH private key"), "{shown}");
    assert!(!shown.contains("SECRETVALUE"), "{shown}");
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn every_apply_leaves_an_attestation_that_proofs_verify_checks() {
    let mut rig = crate::apply::Rig::new();
    crate::apply::keygen(&rig.repo, "attest", "attest@ci");
    let root = rig.repo.root().to_path_buf();
    let private = std::fs::read_to_string(root.join("attest")).unwrap();
    std::fs::copy(root.join("attest.pub"), root.join(".infra/attestation.pub")).unwrap();
    rig.env
        .push(("SOPHIA_ATTESTATION_KEY".into(), private.clone()));
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 0, "apply failed:\n{}", out.stderr);
    let key_body = private.lines().nth(1).unwrap();
    assert!(
        !out.stdout.contains(key_body) && !out.stderr.contains(key_body),
        "the key was printed"
    );
    let rel = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("attestation: "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("no attestation line:\n{}", out.stderr))
        .to_string();
    let path = root.join(&rel);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(key_body));
    let verify = rig.run(&["proofs", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);

    let public = ssh_key::PublicKey::read_openssh_file(&root.join("attest.pub")).unwrap();
    let statement = attestation::verify(&text, &public).unwrap();
    let plan_bytes = std::fs::read(root.join("plan.json")).unwrap();
    assert_eq!(statement["subject"][0]["name"], "plan.json");
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        sophia::core::digest::sha256_bytes(&plan_bytes).trim_start_matches("sha256:")
    );
    assert_eq!(statement["predicate"]["converged"], true);
    if python_with_cryptography() {
        let good = independent_verify(&path, &root.join("attest.pub"));
        assert!(good.status.success(), "{good:?}");
    }

    // The audit report shows the attestation as verified.
    let report = rig.run(&["report", "--html", "report.html"]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    let html = std::fs::read_to_string(root.join("report.html")).unwrap();
    assert!(
        html.contains("<dt>Attestation</dt><dd><span class=\"status ok\">verified</span>"),
        "{html}"
    );

    // Another public key: the signature no longer verifies, and verify says which file.
    std::fs::copy(
        root.join("stranger.pub"),
        root.join(".infra/attestation.pub"),
    )
    .unwrap();
    let wrong = rig.run(&["proofs", "verify"]);
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(wrong.stderr.contains(&rel), "{}", wrong.stderr);
    std::fs::copy(root.join("attest.pub"), root.join(".infra/attestation.pub")).unwrap();

    // One flipped byte: proofs verify and the independent verifier both refuse it.
    let mut bytes = text.into_bytes();
    let at = bytes
        .windows(11)
        .position(|w| w == b"\"payload\": ")
        .unwrap()
        + 20;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&path, &bytes).unwrap();
    let flipped = rig.run(&["proofs", "verify"]);
    assert_eq!(flipped.code, 1, "{}", flipped.stderr);
    if python_with_cryptography() {
        let bad = independent_verify(&path, &root.join("attest.pub"));
        assert!(!bad.status.success(), "{bad:?}");
    }
}

#[test]
fn a_bad_attestation_key_refuses_the_apply_before_any_change() {
    let mut rig = crate::apply::Rig::new();
    rig.env.push((
        "SOPHIA_ATTESTATION_KEY".into(),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nSECRETVALUE\n".into(),
    ));
    rig.plan(&[]);
    rig.ssh_sign("ceo", "sophia-plan@v1");
    let out = rig.run(&["apply", "plan.json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("attestation key"), "{}", out.stderr);
    assert!(!out.stderr.contains("SECRETVALUE"), "{}", out.stderr);
    assert!(
        rig.mutating_requests().is_empty(),
        "{:?}",
        rig.mutating_requests()
    );
}
