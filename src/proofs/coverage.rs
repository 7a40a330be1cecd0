//! Which proof files no journal record names (issue 18, finding 6).
//!
//! A proof under [`JOURNALED_DIRS`] is written, then journaled; a file there that no record
//! names is either planted or the only trace of an action whose record was never written.
//! `proofs verify` fails on either, so neither passes for evidence. Nothing is followed:
//! a symbolic link, a FIFO or any other non-file entry in those folders is reported as it
//! stands. Two kinds of entry are not proofs and are skipped: empty folders (git does not
//! keep them) and the temporaries of the atomic writer (`.NAME.tmp.PID.HEX`, a write in
//! progress or the leftover of a killed one, which `apply` sweeps).
//!
//! An action's intent record is journaled before its first call and its outcome record
//! after its proof ([`interrupted`]): a kill between the proof and the outcome leaves
//! `apply/<hex>/<action id>.json` with only the intent naming it. That file is covered — the
//! journal says the action was started — and reported as "outcome not journaled".

use std::collections::BTreeSet;
use std::path::Path;

use super::layout::{JOURNALED_DIRS, ProofKind};

/// The status of an action's intent record, journaled before its first call; its outcome
/// record follows with the same kind, plan and address.
pub const INTENT_STATUS: &str = "intent";

/// What [`interrupted`] reads of a journal record: `(kind, status, plan_digest, address)`.
pub type Step<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// What the intents without an outcome say (see [`interrupted`]).
#[derive(Debug, Default)]
pub struct Interrupted {
    /// `kind address (plan digest)` of each, in journal order.
    pub actions: Vec<String>,
    /// Their own proof paths (`apply/<hex>/<kind>:<address>.json`), which no outcome names.
    pub proofs: BTreeSet<String>,
}

/// Every intent record (kind, plan, address) that no later record of the same kind, plan and
/// address concludes.
pub fn interrupted(records: &[Step<'_>]) -> Interrupted {
    let mut open: Vec<&Step<'_>> = Vec::new();
    for r in records {
        if r.1 == INTENT_STATUS {
            open.push(r);
        } else if r.3.is_some() {
            open.retain(|i| (i.0, i.2, i.3) != (r.0, r.2, r.3));
        }
    }
    let mut out = Interrupted::default();
    for &(kind, _, digest, address) in open {
        let (Some(digest), Some(address)) = (digest, address) else {
            continue;
        };
        out.actions
            .push(format!("`{kind}` on `{address}` (plan `{digest}`)"));
        let kind = ProofKind::ApplyAction {
            plan_digest: digest.to_string(),
            action_id: format!("{kind}:{address}"),
        };
        if let Ok(path) = kind.path() {
            out.proofs.insert(path.to_string());
        }
    }
    out
}

/// The entries under `proofs_root`'s journaled folders that are not in `named` (paths
/// relative to `proofs/`, `/`-separated), sorted. `Err` says why a folder could not be
/// listed, or that the root itself is a link.
pub fn unjournaled(proofs_root: &Path, named: &BTreeSet<&str>) -> Result<Vec<String>, String> {
    super::safe::check_root(proofs_root).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for dir in JOURNALED_DIRS {
        walk(&proofs_root.join(dir), dir, named, &mut out)?;
    }
    out.sort();
    Ok(out)
}

fn walk(
    path: &Path,
    rel: &str,
    named: &BTreeSet<&str>,
    out: &mut Vec<String>,
) -> Result<(), String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("inspecting `proofs/{rel}`: {e}")),
    };
    if meta.is_dir() {
        let entries =
            std::fs::read_dir(path).map_err(|e| format!("reading `proofs/{rel}`: {e}"))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("reading `proofs/{rel}`: {e}"))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            walk(&entry.path(), &format!("{rel}/{name}"), named, out)?;
        }
        return Ok(());
    }
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let temporary = meta.is_file() && super::atomic::is_temporary(name);
    if !(temporary || (meta.is_file() && named.contains(rel))) {
        out.push(rel.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_no_record_names_in_the_journaled_folders_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "apply/ab/x.json",
            "apply/ab/y.json",
            "plans/ab.json",
            "drift/1.json",
            "fly/viewer.json",
            "README.md",
        ] {
            std::fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            std::fs::write(root.join(f), "{}").unwrap();
        }
        std::fs::create_dir_all(root.join("apply/empty")).unwrap();
        std::fs::write(root.join("apply/ab/.y.json.tmp.1.00112233aabbccdd"), "").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("apply/cd")).unwrap();
        let named = BTreeSet::from(["apply/ab/x.json", "plans/ab.json"]);
        assert_eq!(
            unjournaled(root, &named).unwrap(),
            ["apply/ab/y.json", "apply/cd", "drift/1.json"]
        );
    }

    #[test]
    fn a_proofs_root_that_is_a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("proofs"))
            .unwrap();
        let err = unjournaled(&dir.path().join("proofs"), &BTreeSet::new()).unwrap_err();
        assert!(err.contains("symbolic link"), "{err}");
    }
}
