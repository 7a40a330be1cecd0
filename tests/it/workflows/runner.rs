//! A GitHub Actions runner, small and strict: it runs the `run:` steps of a workflow's jobs in
//! order, with the environment Actions gives them (inputs, secrets mapped to variables by the
//! step's `env:`, the `GITHUB_*` variables, `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`, job
//! outputs through `needs`), and emulates the few actions the workflows use: checkout is a
//! clone of the remote, upload/download-artifact copy to and from a directory per run, cache
//! is a miss. An expression or an action it does not know fails the test: nothing the
//! workflows do is skipped silently.
//!
//! The runner's network is the sandbox (every provider's base URL) and the local bare
//! repository standing for github.com (`url.<remote>.insteadOf`), so the scripts run unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use serde_yaml::Value as Yaml;

/// What started a run.
#[derive(Debug, Clone)]
pub struct Event {
    /// `pull_request`, `workflow_dispatch` or `schedule`.
    pub name: &'static str,
    /// The branch checked out (a pull request's head branch, or `main`).
    pub branch: String,
    pub inputs: BTreeMap<String, String>,
    pub pr: Option<u64>,
}

impl Event {
    pub fn dispatch(inputs: &[(&str, &str)]) -> Event {
        Event {
            name: "workflow_dispatch",
            branch: "main".into(),
            inputs: inputs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            pr: None,
        }
    }

    pub fn pull_request(number: u64, branch: &str) -> Event {
        Event {
            name: "pull_request",
            branch: branch.into(),
            inputs: BTreeMap::new(),
            pr: Some(number),
        }
    }

    pub fn schedule() -> Event {
        Event {
            name: "schedule",
            branch: "main".into(),
            inputs: BTreeMap::new(),
            pr: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct StepResult {
    pub name: String,
    /// `false`: its `if:` said no.
    pub ran: bool,
    pub success: bool,
    pub output: String,
}

#[derive(Debug, Clone)]
pub struct JobResult {
    pub id: String,
    /// `false`: its `if:` said no, or a job it needs failed.
    pub ran: bool,
    pub success: bool,
    pub steps: Vec<StepResult>,
    pub summary: String,
}

#[derive(Debug, Clone)]
pub struct RunResult {
    pub id: u64,
    pub jobs: Vec<JobResult>,
}

impl RunResult {
    pub fn success(&self) -> bool {
        self.jobs.iter().all(|j| !j.ran || j.success)
    }

    pub fn job(&self, id: &str) -> &JobResult {
        self.jobs
            .iter()
            .find(|j| j.id == id)
            .unwrap_or_else(|| panic!("no job `{id}` in {self:#?}"))
    }

    pub fn step(&self, job: &str, name: &str) -> &StepResult {
        self.job(job)
            .steps
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no step `{name}` in job `{job}`"))
    }

    /// Every step's output, for assertion messages.
    pub fn log(&self) -> String {
        let mut out = String::new();
        for j in &self.jobs {
            out.push_str(&format!(
                "== job {} (ran {}, success {})\n",
                j.id, j.ran, j.success
            ));
            for s in &j.steps {
                out.push_str(&format!(
                    "-- step {} (ran {}, success {})\n{}\n",
                    s.name, s.ran, s.success, s.output
                ));
            }
        }
        out
    }
}

/// The runner: its directory (artifacts, workspaces, the `cargo` stand-in), the repository it
/// serves, the secrets of that repository and the network it sees.
pub struct Runner {
    pub dir: PathBuf,
    pub remote: PathBuf,
    pub repository: String,
    pub secrets: BTreeMap<String, String>,
    /// The provider base URLs (the sandbox) and GITHUB_API_URL.
    pub network: Vec<(String, String)>,
    /// The token `github.token` stands for.
    pub token: String,
    next_run: u64,
}

impl Runner {
    pub fn new(
        dir: &Path,
        remote: &Path,
        repository: &str,
        network: Vec<(String, String)>,
    ) -> Runner {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        // `cargo build --release --locked` on this runner is the build the test already made:
        // the binary under test, put where cargo would.
        let cargo = bin.join("cargo");
        std::fs::write(
            &cargo,
            format!(
                "#!/usr/bin/env bash\nset -eu\n[ \"$*\" = \"build --release --locked\" ] || {{ echo \"cargo stand-in: unexpected: $*\" >&2; exit 1; }}\nmkdir -p target/release\ncp '{}' target/release/sophia\n",
                env!("CARGO_BIN_EXE_sophia")
            ),
        )
        .unwrap();
        make_executable(&cargo);
        let token = "ghs_workflow-token-of-this-run".to_string();
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        // github.com is the local bare repository, with or without the token in the URL.
        let remotes = remote.parent().unwrap().parent().unwrap();
        let base = format!("file://{}/", remotes.display());
        let gitconfig = format!(
            "[url \"{base}\"]\n\tinsteadOf = https://github.com/\n\tinsteadOf = https://x-access-token:{token}@github.com/\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        );
        std::fs::write(home.join(".gitconfig"), gitconfig).unwrap();
        Runner {
            dir: dir.to_path_buf(),
            remote: remote.to_path_buf(),
            repository: repository.to_string(),
            secrets: BTreeMap::new(),
            network,
            token,
            next_run: 1000,
        }
    }

    pub fn artifact(&self, run: u64, name: &str) -> PathBuf {
        self.dir.join("artifacts").join(run.to_string()).join(name)
    }

    /// Run `.github/workflows/<file>` of the event's branch, as GitHub does, for `event`.
    pub fn run(&mut self, file: &str, event: &Event) -> RunResult {
        let text = git_out(
            &self.remote,
            &[
                "show",
                &format!("refs/heads/{}:.github/workflows/{file}", event.branch),
            ],
        );
        self.run_text(&text, event)
    }

    /// Run the workflow `text` for `event`.
    pub fn run_text(&mut self, text: &str, event: &Event) -> RunResult {
        self.next_run += 1;
        let run_id = self.next_run;
        let workflow: Yaml = serde_yaml::from_str(text).unwrap();
        let sha = git_out(
            &self.remote,
            &["rev-parse", &format!("refs/heads/{}", event.branch)],
        );
        let mut github = json!({
            "token": self.token,
            "repository": self.repository,
            "run_id": run_id.to_string(),
            "sha": sha,
            "event_name": event.name,
            "event": {},
        });
        if let Some(pr) = event.pr {
            github["event"] = json!({ "pull_request": { "number": pr } });
        }
        let mut ctx = json!({
            "github": github,
            "inputs": event.inputs,
            "secrets": self.secrets,
            "runner": { "os": "Linux" },
            "needs": {},
        });
        let jobs = workflow["jobs"].as_mapping().expect("jobs").clone();
        let mut results: Vec<JobResult> = Vec::new();
        let mut outputs = serde_json::Map::new();
        for (id, job) in &jobs {
            let id = id.as_str().unwrap().to_string();
            let needs: Vec<String> = match &job["needs"] {
                Yaml::Null => Vec::new(),
                Yaml::String(s) => vec![s.clone()],
                Yaml::Sequence(v) => v.iter().map(|n| n.as_str().unwrap().to_string()).collect(),
                other => panic!("needs: {other:?}"),
            };
            for n in &needs {
                assert!(
                    results.iter().any(|r| &r.id == n),
                    "job `{id}` needs `{n}`, which comes later in the file"
                );
            }
            let needs_ok = needs
                .iter()
                .all(|n| results.iter().any(|r| &r.id == n && r.ran && r.success));
            ctx["needs"] = Value::Object(outputs.clone());
            let wanted = match job["if"].as_str() {
                Some(cond) => truthy(&eval(cond, &ctx, false)),
                None => true,
            };
            if !(needs_ok && wanted) {
                results.push(JobResult {
                    id,
                    ran: false,
                    success: true,
                    steps: Vec::new(),
                    summary: String::new(),
                });
                continue;
            }
            let (result, job_outputs) = self.run_job(run_id, &id, job, &ctx, event, &sha);
            outputs.insert(id.clone(), json!({ "outputs": job_outputs, "result": if result.success { "success" } else { "failure" } }));
            results.push(result);
        }
        RunResult {
            id: run_id,
            jobs: results,
        }
    }

    fn run_job(
        &self,
        run_id: u64,
        id: &str,
        job: &Yaml,
        ctx: &Value,
        event: &Event,
        sha: &str,
    ) -> (JobResult, Value) {
        let base = self.dir.join("runs").join(run_id.to_string()).join(id);
        let ws = base.join("workspace");
        let temp = base.join("temp");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::create_dir_all(&temp).unwrap();
        let summary = base.join("summary.md");
        std::fs::write(&summary, "").unwrap();
        let mut ctx = ctx.clone();
        ctx["steps"] = json!({});
        let mut failed = false;
        let mut steps = Vec::new();
        for (i, step) in job["steps"]
            .as_sequence()
            .expect("steps")
            .iter()
            .enumerate()
        {
            let name = step["name"]
                .as_str()
                .map(str::to_string)
                .or_else(|| step["uses"].as_str().map(str::to_string))
                .unwrap_or_else(|| format!("step {i}"));
            let cond = step["if"].as_str().unwrap_or("success()");
            if !truthy(&eval(cond, &ctx, failed)) {
                steps.push(StepResult {
                    name,
                    ran: false,
                    success: true,
                    output: String::new(),
                });
                continue;
            }
            let output_file = temp.join(format!("output-{i}"));
            std::fs::write(&output_file, "").unwrap();
            let (success, output) = if let Some(uses) = step["uses"].as_str() {
                let with = |key: &str| -> Option<String> {
                    match &step["with"][key] {
                        Yaml::Null => None,
                        Yaml::String(v) => Some(interpolate(v, &ctx, failed)),
                        other => Some(serde_yaml::to_string(other).unwrap().trim().to_string()),
                    }
                    .filter(|v| !v.is_empty())
                };
                self.uses(uses, &with, &ws, run_id, &event.branch)
            } else {
                let script = step["run"].as_str().expect("a step has `uses` or `run`");
                let mut env: Vec<(String, String)> = self.network.clone();
                env.extend([
                    (
                        "PATH".into(),
                        format!(
                            "{}:{}",
                            self.dir.join("bin").display(),
                            std::env::var("PATH").unwrap_or_default()
                        ),
                    ),
                    ("HOME".into(), self.dir.join("home").display().to_string()),
                    ("CI".into(), "true".into()),
                    ("GITHUB_ACTIONS".into(), "true".into()),
                    ("GITHUB_REPOSITORY".into(), self.repository.clone()),
                    ("GITHUB_RUN_ID".into(), run_id.to_string()),
                    ("GITHUB_SHA".into(), sha.to_string()),
                    (
                        "GITHUB_REF".into(),
                        match event.pr {
                            Some(n) => format!("refs/pull/{n}/merge"),
                            None => format!("refs/heads/{}", event.branch),
                        },
                    ),
                    ("GITHUB_EVENT_NAME".into(), event.name.to_string()),
                    ("GITHUB_JOB".into(), id.to_string()),
                    ("GITHUB_WORKSPACE".into(), ws.display().to_string()),
                    ("GITHUB_SERVER_URL".into(), "https://github.com".into()),
                    ("GITHUB_OUTPUT".into(), output_file.display().to_string()),
                    ("GITHUB_STEP_SUMMARY".into(), summary.display().to_string()),
                    ("RUNNER_OS".into(), "Linux".into()),
                    ("RUNNER_TEMP".into(), temp.display().to_string()),
                    ("SOPHIA_HTTP_FAST_RETRIES".into(), "1".into()),
                ]);
                if let Some(map) = step["env"].as_mapping() {
                    for (k, v) in map {
                        let v = match v {
                            Yaml::String(s) => interpolate(s, &ctx, failed),
                            other => serde_yaml::to_string(other).unwrap().trim().to_string(),
                        };
                        env.push((k.as_str().unwrap().to_string(), v));
                    }
                }
                let file = temp.join(format!("step-{i}.sh"));
                // A `run:` never holds an expression here: inputs reach the shell through
                // `env:` only (zizmor's template-injection audit); the runner checks it.
                assert!(
                    !script.contains("${{"),
                    "step `{name}` interpolates an expression into its script"
                );
                std::fs::write(&file, script).unwrap();
                let out = Command::new("bash")
                    .args(["--noprofile", "--norc", "-eo", "pipefail"])
                    .arg(&file)
                    .current_dir(&ws)
                    .env_clear()
                    .envs(env)
                    .output()
                    .unwrap();
                (
                    out.status.success(),
                    format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ),
                )
            };
            if let Some(step_id) = step["id"].as_str() {
                let mut outs = serde_json::Map::new();
                for line in std::fs::read_to_string(&output_file).unwrap().lines() {
                    if let Some((k, v)) = line.split_once('=') {
                        outs.insert(k.to_string(), Value::String(v.to_string()));
                    }
                }
                ctx["steps"][step_id] = json!({ "outputs": outs });
            }
            failed |= !success;
            steps.push(StepResult {
                name,
                ran: true,
                success,
                output,
            });
        }
        let mut outputs = serde_json::Map::new();
        if let Some(map) = job["outputs"].as_mapping() {
            for (k, v) in map {
                outputs.insert(
                    k.as_str().unwrap().to_string(),
                    Value::String(interpolate(v.as_str().unwrap(), &ctx, failed)),
                );
            }
        }
        (
            JobResult {
                id: id.to_string(),
                ran: true,
                success: !failed,
                steps,
                summary: std::fs::read_to_string(&summary).unwrap(),
            },
            Value::Object(outputs),
        )
    }

    /// The actions the workflows use, emulated.
    fn uses(
        &self,
        uses: &str,
        with: &dyn Fn(&str) -> Option<String>,
        ws: &Path,
        run_id: u64,
        branch: &str,
    ) -> (bool, String) {
        let (action, pin) = uses.split_once('@').expect("uses: owner/name@ref");
        assert!(
            pin.len() == 40 && pin.chars().all(|c| c.is_ascii_hexdigit()),
            "`{uses}` is not pinned to a commit"
        );
        match action {
            "actions/checkout" => {
                assert_eq!(with("persist-credentials").as_deref(), Some("false"));
                git(ws, &["init", "-q", "."]);
                git(
                    ws,
                    &[
                        "remote",
                        "add",
                        "origin",
                        &self.remote.display().to_string(),
                    ],
                );
                git(
                    ws,
                    &[
                        "fetch",
                        "-q",
                        "--no-tags",
                        "origin",
                        &format!("refs/heads/{branch}"),
                    ],
                );
                git(ws, &["checkout", "-q", "--detach", "FETCH_HEAD"]);
                (true, format!("checked out {branch}"))
            }
            // A miss: the build step builds.
            "actions/cache" => (true, "cache miss".into()),
            "actions/upload-artifact" => {
                let name = with("name").expect("an artifact has a name");
                let path = ws.join(with("path").expect("an artifact has a path"));
                let dest = self.artifact(run_id, &name);
                if !path.exists() {
                    return match with("if-no-files-found").as_deref() {
                        Some("ignore") => (true, format!("no files for `{name}`")),
                        _ => (
                            false,
                            format!("error: no files found at {}", path.display()),
                        ),
                    };
                }
                std::fs::create_dir_all(&dest).unwrap();
                if path.is_dir() {
                    copy_dir(&path, &dest);
                } else {
                    std::fs::copy(&path, dest.join(path.file_name().unwrap())).unwrap();
                }
                (true, format!("uploaded `{name}`"))
            }
            "actions/download-artifact" => {
                let name = with("name").expect("an artifact has a name");
                let run: u64 = with("run-id").map_or(run_id, |r| r.parse().expect("a run id"));
                let src = self.artifact(run, &name);
                if !src.is_dir() {
                    return (
                        false,
                        format!("error: artifact `{name}` of run {run} not found"),
                    );
                }
                let dest = with("path").map_or(ws.to_path_buf(), |p| ws.join(p));
                std::fs::create_dir_all(&dest).unwrap();
                copy_dir(&src, &dest);
                (true, format!("downloaded `{name}` of run {run}"))
            }
            other => panic!("the runner does not emulate `{other}`"),
        }
    }
}

/// `${{ expr }}` replaced by its value.
pub fn interpolate(text: &str, ctx: &Value, failed: bool) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .expect("an expression ends with }}")
            + start;
        let value = eval(rest[start + 3..end].trim(), ctx, failed);
        out.push_str(&match value {
            Value::Null => String::new(),
            Value::String(s) => s,
            other => other.to_string(),
        });
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The expressions the workflows use: status functions, `a == ''`, `a != ''` and context
/// paths. Anything else fails the test.
pub fn eval(expr: &str, ctx: &Value, failed: bool) -> Value {
    let expr = expr.trim();
    let expr = expr
        .strip_prefix("${{")
        .and_then(|e| e.strip_suffix("}}"))
        .map_or(expr, str::trim);
    match expr {
        "always()" => return Value::Bool(true),
        "success()" => return Value::Bool(!failed),
        "failure()" => return Value::Bool(failed),
        "cancelled()" => return Value::Bool(false),
        _ => {}
    }
    for (op, equal) in [(" == ", true), (" != ", false)] {
        if let Some((left, right)) = expr.split_once(op) {
            let l = eval(left, ctx, failed);
            let r = literal(right.trim());
            let l = match l {
                Value::Null => String::new(),
                Value::String(s) => s,
                other => other.to_string(),
            };
            return Value::Bool((l == r) == equal);
        }
    }
    assert!(
        expr.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
        "the runner does not evaluate `{expr}`"
    );
    let mut v = ctx;
    for part in expr.split('.') {
        v = match v.get(part) {
            Some(next) => next,
            None => return Value::Null,
        };
    }
    v.clone()
}

fn literal(text: &str) -> String {
    text.strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .unwrap_or_else(|| panic!("the runner compares with string literals only: `{text}`"))
        .replace("''", "'")
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_f64() != Some(0.0),
        _ => true,
    }
}

pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn copy_dir(src: &Path, dest: &Path) {
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dest.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

pub fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut p = std::fs::metadata(path).unwrap().permissions();
    p.set_mode(0o755);
    std::fs::set_permissions(path, p).unwrap();
}
