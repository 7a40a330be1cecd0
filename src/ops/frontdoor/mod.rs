//! The front door: `sophia op PROVIDER ACTION [--app APP] [--payload JSON]`, the original
//! control plane's single entry point (provider, action, app, payload_json).
//!
//! ```text
//! spec (provider, action) ─▶ payload (typed, unknown keys refused, ≤ 64 KiB)
//!        │
//!        ├─ provider paused in desired ─▶ `paused` envelope + proof, exit 1
//!        ├─ read-only ─▶ provider op ─▶ envelope ─▶ proof(s) in the original layout
//!        └─ mutating (fly deploy|set-secrets, github protect)
//!               ─▶ desired state with the payload applied ─▶ refresh the affected provider
//!               ─▶ plan with `--target` on the affected address ─▶ plan.json (sign, apply)
//! ```
//!
//! - [`payload`]: the table of operations and their typed payloads.
//! - [`checks`]: `--app` and the payload's names, by the desired state's naming rules.
//! - [`targeted`]: the mutating operations as targeted plans.
//!
//! Every failure of a provider (not configured, paused, HTTP error, refused query) is a
//! normalized envelope with `status: failure`, written as the operation's proof like a
//! success: the record of what was tried. Input errors (unknown operation, bad payload) are
//! refused before anything runs and write nothing.

pub mod checks;
pub mod payload;
pub mod targeted;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::core::desired::{Activation, Desired, ProviderName};
use crate::core::envelope::{Envelope, EnvelopeError};
use crate::core::plan::Plan;
use crate::proofs::{ProofKind, ProofStore};
use crate::providers::http::Http;
use crate::providers::research::ResearchProvider;
use crate::providers::router::RouterProvider;
use crate::providers::{Credentials, Provider, ProviderError, now_rfc3339};
use payload::{OpSpec, Payload};

/// One front-door request, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct OpRequest {
    pub provider: String,
    pub action: String,
    pub app: Option<String>,
    /// The payload text (`None`: `{}`).
    pub payload: Option<String>,
    /// Where a mutating operation writes its plan (default `plan.json`, relative to the root).
    pub out: Option<PathBuf>,
}

/// What the front door runs with: the repository, credentials and the HTTP layer.
#[derive(Debug, Clone)]
pub struct OpContext {
    pub root: PathBuf,
    pub creds: Credentials,
    pub http: Http,
}

/// What an operation produced.
#[derive(Debug, Clone)]
pub enum OpOutcome {
    /// A read-only operation ran (or was refused as paused / not configured).
    Ran {
        envelope: Envelope,
        /// The proof files written, relative to `proofs/`.
        proofs: Vec<String>,
    },
    /// A mutating operation produced a targeted plan; nothing was changed.
    Planned {
        plan: Box<Plan>,
        /// Where the plan file was written.
        path: PathBuf,
        targets: Vec<String>,
    },
}

/// Read `desired/*.yaml`; a repository without `desired/` manages nothing (every provider
/// is then usable through the front door with its credentials).
pub fn load_desired_or_empty(root: &Path) -> anyhow::Result<Desired> {
    if !root.join("desired").is_dir() {
        return Ok(Desired::default());
    }
    crate::workspace::load_desired(root)
}

/// Run one front-door request.
pub async fn run(cx: &OpContext, req: &OpRequest) -> anyhow::Result<OpOutcome> {
    let spec = payload::spec(&req.provider, &req.action)?;
    let payload = spec.parse(req.app.as_deref(), req.payload.as_deref())?;
    checks::check(spec, req.app.as_deref(), &payload)?;
    let desired = load_desired_or_empty(&cx.root)?;
    let provider = ProviderName::parse(spec.provider)
        .with_context(|| format!("`{}` is not a provider", spec.provider))?;
    let store = ProofStore::of_repo(&cx.root);
    let started = Instant::now();
    let query = format!("{}.{}", spec.provider, spec.action);

    if desired.activation(provider) == Some(Activation::Paused) {
        let err = ProviderError::new(
            spec.provider,
            "paused",
            format!(
                "{p} is paused: set `providers: {{{p}: active}}` in desired/, then plan and \
                 apply to activate it",
                p = spec.provider
            ),
        );
        let env = failure(&query, err, started);
        let proofs = write_proofs(&store, spec, req.app.as_deref(), &env)?;
        return Ok(OpOutcome::Ran {
            envelope: env,
            proofs,
        });
    }

    if spec.mutating {
        return targeted::plan(cx, spec, req, &payload, &desired).await;
    }

    if let Payload::ResearchSearch(p) = &payload {
        return research_search(cx, &store, &query, p, started).await;
    }

    let result = run_read_only(cx, spec, req, &payload, &desired).await;
    let ms = started.elapsed().as_millis() as u64;
    let envelope = match result {
        Ok(Ran {
            text,
            results,
            errors,
        }) => {
            let mut env = Envelope::success(&query, results, text, now_rfc3339(), ms);
            if !errors.is_empty() {
                env.status = crate::core::envelope::Status::Failure;
                env.errors = errors;
            }
            env
        }
        Err(e) => failure(&query, e, started),
    };
    let proofs = write_proofs(&store, spec, req.app.as_deref(), &envelope)?;
    Ok(OpOutcome::Ran { envelope, proofs })
}

/// What a read-only operation returned: its results, and errors that do not discard them
/// (e.g. one route of several failing).
struct Ran {
    text: String,
    results: Vec<Value>,
    errors: Vec<EnvelopeError>,
}

impl From<(String, Vec<Value>)> for Ran {
    fn from((text, results): (String, Vec<Value>)) -> Ran {
        Ran {
            text,
            results,
            errors: Vec::new(),
        }
    }
}

async fn run_read_only(
    cx: &OpContext,
    spec: &OpSpec,
    req: &OpRequest,
    payload: &Payload,
    desired: &Desired,
) -> Result<Ran, ProviderError> {
    let provider = ProviderName::parse(spec.provider).expect("the table names real providers");
    match (provider, payload) {
        (ProviderName::Router, _) => {
            let router = RouterProvider::new(&cx.creds, cx.http.clone(), desired.router.as_ref())?;
            match payload {
                Payload::RouteTest(p) => {
                    let rows = router
                        .route_test(p.prompt.as_deref(), p.max_tokens, p.routes.as_deref())
                        .await;
                    let errors: Vec<EnvelopeError> = rows
                        .iter()
                        .filter(|r| r["status"] == "failed")
                        .map(|r| {
                            EnvelopeError::new(
                                format!("router/{}", r["route"].as_str().unwrap_or("?")),
                                "route-failed",
                                r["error"].as_str().unwrap_or("failed"),
                            )
                        })
                        .collect();
                    let ok = rows.iter().filter(|r| r["status"] == "ok").count();
                    if ok == 0 && errors.is_empty() {
                        return Err(ProviderError::new(
                            "router",
                            "not-configured",
                            "no route could be tested: every route was skipped",
                        ));
                    }
                    Ok(Ran {
                        text: format!("{ok} of {} route(s) answered", rows.len()),
                        results: rows,
                        errors,
                    })
                }
                _ => Ok(("router allowlist".to_string(), vec![router.allowlist()]).into()),
            }
        }
        (ProviderName::Fly | ProviderName::Github, _) => {
            let p = Provider::configure(provider, &cx.creds, &cx.http)
                .expect("fly and github are implemented")?;
            let mut body = serde_json::to_value(payload_json(payload)).unwrap_or(json!({}));
            if let Some(app) = &req.app {
                body["app"] = json!(app);
            }
            if spec.action == "audit" && body.get("repo").is_none() {
                body["repo"] = json!(targeted::only_repo(desired)?);
            }
            let op = p.op(spec.action, &body).await;
            if op.status == crate::core::envelope::Status::Success {
                Ok((op.summary.text, op.results).into())
            } else {
                let e = op.errors.into_iter().next().unwrap_or_else(|| {
                    EnvelopeError::new(spec.provider, "internal", op.summary.text.clone())
                });
                Err(ProviderError::new(e.provider, e.code, e.message))
            }
        }
        _ => {
            let p = Provider::configure(provider, &cx.creds, &cx.http)
                .expect("every other provider is implemented")?;
            let body = payload_json(payload);
            match p {
                Provider::Other(o) => o.op(spec.action, &body).await.map(Ran::from),
                _ => unreachable!("configure gives Other for these providers"),
            }
        }
    }
}

/// The typed payload back as the JSON the provider ops read.
fn payload_json(payload: &Payload) -> Value {
    match payload {
        Payload::FlyHealth(p) => json!({ "path": p.path, "expect_status": p.expect_status })
            .as_object()
            .map(|m| {
                Value::Object(
                    m.iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )
            })
            .unwrap_or_default(),
        Payload::GithubAudit(p) => match &p.repo {
            Some(r) => json!({ "repo": r }),
            None => json!({}),
        },
        Payload::GithubRules(p) => json!({ "repo": p.repo, "branch": p.branch }),
        Payload::DbQuery(p) => {
            let mut v = json!({ "sql": p.sql });
            if let Some(ms) = p.timeout_ms {
                v["timeout_ms"] = json!(ms);
            }
            if let Some(n) = p.max_rows {
                v["max_rows"] = json!(n);
            }
            v
        }
        Payload::RedisInfo(p) => match &p.sections {
            Some(s) => json!({ "sections": s }),
            None => json!({}),
        },
        _ => json!({}),
    }
}

/// `research search`: Tavily and Serper at once; each backend's own proof, and the merged,
/// de-duplicated result as the operation's envelope. One backend failing keeps the other's
/// results, its error recorded in `errors`; the status is `failure` only when both fail.
async fn research_search(
    cx: &OpContext,
    store: &ProofStore,
    query: &str,
    p: &payload::ResearchSearch,
    started: Instant,
) -> anyhow::Result<OpOutcome> {
    let research = match ResearchProvider::new(&cx.creds, cx.http.clone()) {
        Ok(r) => r,
        Err(e) => {
            let env = failure(query, e, started);
            let mut proofs = Vec::new();
            for backend in crate::providers::research::BACKENDS {
                let kind = ProofKind::ResearchSearch {
                    provider: backend.into(),
                };
                proofs.push(store.write_envelope(&kind, &env)?.path.to_string());
            }
            return Ok(OpOutcome::Ran {
                envelope: env,
                proofs,
            });
        }
    };
    let outcome = research.search(&p.query, p.max_results).await;
    let now = now_rfc3339();
    let ms = started.elapsed().as_millis() as u64;
    let mut proofs = Vec::new();
    let mut errors = Vec::new();
    for (backend, result) in &outcome.per_backend {
        let q = format!("{query} {backend}");
        let env = match result {
            Ok((hits, latency)) => {
                let mut env = Envelope::success(
                    &q,
                    hits.iter().map(|h| json!(h)).collect(),
                    format!("{} result(s) from {backend} in {latency} ms", hits.len()),
                    &now,
                    ms,
                );
                env.summary.sources = hits.iter().map(|h| h.url.clone()).collect();
                env
            }
            Err(e) => {
                let mut e = e.clone();
                e.provider = (*backend).to_string();
                errors.push(e.envelope_error());
                Envelope::failure(&q, vec![e.envelope_error()], &e.message, &now, ms)
            }
        };
        let kind = ProofKind::ResearchSearch {
            provider: (*backend).to_string(),
        };
        proofs.push(store.write_envelope(&kind, &env)?.path.to_string());
    }
    let both_failed = outcome.per_backend.values().all(Result::is_err);
    let mut env = Envelope::success(
        query,
        outcome.merged.iter().map(|h| json!(h)).collect(),
        format!(
            "{} result(s) for \"{}\" after merging and removing duplicates",
            outcome.merged.len(),
            p.query
        ),
        &now,
        ms,
    );
    env.summary.sources = outcome.merged.iter().map(|h| h.url.clone()).collect();
    env.errors = errors;
    if both_failed {
        env.status = crate::core::envelope::Status::Failure;
        env.summary.text = "both research backends failed".into();
    }
    let kind = ProofKind::ProviderOp {
        provider: "research".into(),
        op: "search".into(),
    };
    proofs.push(store.write_envelope(&kind, &env)?.path.to_string());
    Ok(OpOutcome::Ran {
        envelope: env,
        proofs,
    })
}

fn failure(query: &str, e: ProviderError, started: Instant) -> Envelope {
    Envelope::failure(
        query,
        vec![e.envelope_error()],
        e.message.clone(),
        now_rfc3339(),
        started.elapsed().as_millis() as u64,
    )
}

/// Where an operation's proof goes, in the original layout.
fn proof_kind(spec: &OpSpec, app: Option<&str>) -> ProofKind {
    let app = || app.unwrap_or_default().to_string();
    match (spec.provider, spec.action) {
        ("fly", "health") => ProofKind::Healthz { app: app() },
        ("fly", "machines") => ProofKind::FlyMachines { app: app() },
        ("fly", "logs") => ProofKind::FlyLogs { app: app() },
        ("github", "audit") => ProofKind::GithubSecretsAudit,
        ("router", "allowlist") => ProofKind::RouterAllowlist,
        (provider, action) => ProofKind::ProviderOp {
            provider: provider.into(),
            op: action.replace('-', "_"),
        },
    }
}

/// Write the envelope as the operation's proof (`research search` writes one per backend:
/// see [`research_search`]). Fly logs are text: one line per log entry on success.
fn write_proofs(
    store: &ProofStore,
    spec: &OpSpec,
    app: Option<&str>,
    env: &Envelope,
) -> anyhow::Result<Vec<String>> {
    if spec.provider == "research" && spec.action == "search" {
        let mut out = Vec::new();
        for backend in crate::providers::research::BACKENDS {
            let kind = ProofKind::ResearchSearch {
                provider: backend.into(),
            };
            out.push(store.write_envelope(&kind, env)?.path.to_string());
        }
        return Ok(out);
    }
    let kind = proof_kind(spec, app);
    let written = if matches!(kind, ProofKind::FlyLogs { .. })
        && env.status == crate::core::envelope::Status::Success
    {
        let mut text = String::new();
        for line in &env.results {
            let field = |k: &str| line.get(k).and_then(Value::as_str).unwrap_or("");
            text.push_str(&format!(
                "{} {} {}\n",
                field("timestamp"),
                field("level"),
                field("message")
            ));
        }
        store.write(&kind, text.as_bytes())?
    } else {
        store.write_envelope(&kind, env)?
    };
    Ok(vec![written.path.to_string()])
}
