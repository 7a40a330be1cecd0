//! `sophia policy test`: the policy's tests, as `opa test` runs them. Every `.rego` file of
//! `.infra/policy/` is loaded (tests included); every rule whose name starts with `test_`,
//! in any package, is one test: it passes when it evaluates to `true`, fails when it is
//! `false` or undefined, and errs when evaluating it fails (a builtin error, a conflict).

use std::path::Path;

use super::{POLICY_DIR, PolicyError, PolicyFile, engine, located, read_files};

/// How one test went.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "outcome", content = "error")]
pub enum Outcome {
    Pass,
    Fail,
    Error(String),
}

/// One `test_*` rule and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TestResult {
    /// The file and line of the rule's (first) definition.
    pub file: String,
    pub line: u64,
    /// `data.<package>.<rule>`, as `opa test` names it.
    pub name: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Run every `test_*` rule of the repository's policy, in file and line order. No policy,
/// or a policy without tests, is an error: a check that runs nothing must not pass.
pub fn run(root: &Path) -> Result<Vec<TestResult>, PolicyError> {
    let files = read_files(root, true)?;
    if files.is_empty() {
        return Err(PolicyError::Unsafe {
            path: format!("{POLICY_DIR}/"),
            what: "holds no `.rego` file: there is no policy to test".into(),
        });
    }
    let results = run_files(&files)?;
    if results.is_empty() {
        return Err(PolicyError::Unsafe {
            path: format!("{POLICY_DIR}/"),
            what: "has no tests: no rule is named `test_…` (write them in `*_test.rego`)".into(),
        });
    }
    Ok(results)
}

/// [`run`] on given files.
pub fn run_files(files: &[PolicyFile]) -> Result<Vec<TestResult>, PolicyError> {
    let mut engine = engine(files)?;
    let ast = engine
        .get_ast_as_json()
        .map_err(|e| located(&e, POLICY_DIR))?;
    let modules: serde_json::Value =
        serde_json::from_str(&ast).map_err(|e| PolicyError::Invalid {
            location: POLICY_DIR.to_string(),
            message: format!("reading the parsed policy: {e}"),
            snippet: String::new(),
        })?;
    let mut tests: Vec<(String, u64, String)> = Vec::new();
    for module in modules.as_array().into_iter().flatten() {
        let file = module["source"]["file"].as_str().unwrap_or_default();
        let Some(package) = path_of(&module["ast"]["package"]["refr"]) else {
            continue;
        };
        for rule in module["ast"]["rules"].as_array().into_iter().flatten() {
            if let Some((name, line)) = test_rule(rule) {
                let full = format!("data.{package}.{name}");
                if !tests.iter().any(|(_, _, n)| *n == full) {
                    tests.push((file.to_string(), line, full));
                }
            }
        }
    }
    tests.sort();
    Ok(tests
        .into_iter()
        .map(|(file, line, name)| {
            let outcome = match engine.eval_rule(name.clone()) {
                Ok(regorus::Value::Bool(true)) => Outcome::Pass,
                Ok(_) => Outcome::Fail,
                Err(e) => Outcome::Error(located(&e, &file).to_string()),
            };
            TestResult {
                file,
                line,
                name,
                outcome,
            }
        })
        .collect())
}

/// The dotted path of a reference in the parsed module (`a.b.c`): a `Var`, or `RefDot`s on
/// one.
fn path_of(refr: &serde_json::Value) -> Option<String> {
    if let Some(var) = refr.get("Var") {
        return var["value"].as_str().map(str::to_string);
    }
    let dot = refr.get("RefDot")?;
    let base = path_of(&dot["refr"])?;
    let field = dot["field"].get(1)?.as_str()?;
    Some(format!("{base}.{field}"))
}

/// A rule `test_… if { … }` (or `test_… := …`): its name and line.
fn test_rule(rule: &serde_json::Value) -> Option<(String, u64)> {
    let head = rule.get("Spec")?.get("head")?;
    let compr = head.get("Compr")?;
    let var = compr.get("refr")?.get("Var")?;
    let name = var.get("value")?.as_str()?;
    let line = var.get("span")?.get("line")?.as_u64()?;
    name.starts_with("test_").then(|| (name.to_string(), line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tests_pass_fail_and_err_as_opa_test_says() {
        let files = [
            PolicyFile {
                path: ".infra/policy/p.rego".into(),
                text: "package sophia\n\ndeny contains \"no\" if input.bad\n".into(),
            },
            PolicyFile {
                path: ".infra/policy/p_test.rego".into(),
                text: "package sophia_test\n\nimport data.sophia\n\n\
                       test_denies if {\n  sophia.deny[\"no\"] with input as {\"bad\": true}\n}\n\n\
                       test_wrong if {\n  count(sophia.deny) == 1 with input as {\"bad\": false}\n}\n\n\
                       test_errs if {\n  sprintf(\"%s\", 1)\n}\n\nhelper := 1\n"
                    .into(),
            },
        ];
        let results = run_files(&files).unwrap();
        let got: Vec<(&str, u64, &Outcome)> = results
            .iter()
            .map(|r| (r.name.as_str(), r.line, &r.outcome))
            .collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].0, "data.sophia_test.test_denies");
        assert_eq!((got[0].1, got[0].2), (5, &Outcome::Pass));
        assert_eq!((got[1].0, got[1].1), ("data.sophia_test.test_wrong", 9));
        assert_eq!(got[1].2, &Outcome::Fail);
        assert_eq!(got[2].0, "data.sophia_test.test_errs");
        assert!(
            matches!(got[2].2, Outcome::Error(e) if e.starts_with(".infra/policy/p_test.rego:14:")),
            "{:?}",
            got[2].2
        );
    }
}
