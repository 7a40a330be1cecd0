//! The proof layout of the original control plane, as one table: every kind of proof and
//! the path it lives at under `proofs/`.
//!
//! ```text
//! fly/viewer.json                fly/<app>_org.json      fly/<app>_machines.json
//! fly/<app>_logs.txt             healthz/<app>.json
//! github/secrets_audit.json      github/protection_<owner/repo>+<branch>.json
//! repo/branch_protection.json    llm/router_allowlist.json
//! research/<tavily|serper>_search.json
//! context_db/<op>.json  qdrant/<op>.json  redis/<op>.json  slack/<op>.json
//! secrets/matrix.json   secrets/<name>.json
//! plans/<hex>.json  plans/<hex>.json.sig  plans/<hex>.json.<n>.sig  plans/<hex>.record.json
//! drift/<stamp>.json    apply/<hex>/<action id>.json    apply/lease-takeover_<stamp>.json  apply/lease-break_<stamp>.json
//! ```
//!
//! Every name from input goes through [`safe::component`](super::safe::component), so `<app>`
//! is the app name itself when it is made of `[A-Za-z0-9._-]` (every Fly app name is) and an
//! escaped form otherwise. `+` joins two names in one file name; escaping never produces `+`,
//! so the join is unambiguous.

use super::safe::{self, RelPath, UnsafeName};

/// The folders under `proofs/` whose every file a journal record names: the evidence of
/// changes (approved plans and their records, each apply's action results and summary,
/// lease takeovers, drift checks), each journaled right after it is written. `proofs verify`
/// fails on a file there that no record names. The other folders hold the latest result of
/// each read-only operation (`op`, `matrix`, the activation record), rewritten on every run
/// and not journaled — an apply's health check and branch protection write their copy there
/// too, unjournaled, beside the journaled proof under `apply/` (so `op fly health` after an
/// apply rewrites `healthz/<app>.json` without breaking the chain). A path the journal does
/// name (an older journal's) is checked against its newest record like any other.
pub const JOURNALED_DIRS: [&str; 4] = ["apply", "plans", "drift", "managed"];

/// What a proof is of. [`ProofKind::path`] is the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofKind {
    /// `fly viewer`: the GraphQL viewer and its organizations.
    FlyViewer,
    /// The organization that owns an app.
    FlyOrg {
        app: String,
    },
    FlyMachines {
        app: String,
    },
    /// Recent logs, as text.
    FlyLogs {
        app: String,
    },
    /// A `/healthz` check of an app.
    Healthz {
        app: String,
    },
    /// `github audit`: Actions secret names (never values).
    GithubSecretsAudit,
    /// Branch protection of one repository branch, as read or set.
    GithubProtection {
        repo: String,
        branch: String,
    },
    /// `github protect` result, as the original control plane named it.
    RepoBranchProtection,
    /// `router allowlist`.
    RouterAllowlist,
    /// `research search` by one provider (`tavily`, `serper`).
    ResearchSearch {
        provider: String,
    },
    /// A read-only operation of a provider whose proofs are one file per operation:
    /// `context_db`, `qdrant`, `redis`, `slack`, `mem0`, `gong`, `lambda`, `router`, `research`.
    ProviderOp {
        provider: String,
        op: String,
    },
    /// `sophia matrix`.
    SecretsMatrix,
    /// Another secrets-management proof (`github_api_blocked`, …).
    Secrets {
        name: String,
    },
    /// The plan file, named by its digest.
    Plan {
        digest: String,
    },
    /// A signature of the plan; `index` 0 is `plan.json.sig`, the first and usual one.
    PlanSignature {
        digest: String,
        index: usize,
    },
    /// The plan record: approver, status, signature files.
    PlanRecord {
        digest: String,
    },
    /// A drift report; `stamp` orders them (e.g. `20260101T000000Z`).
    Drift {
        stamp: String,
    },
    /// The result of one apply action.
    ApplyAction {
        plan_digest: String,
        action_id: String,
    },
    /// A lease taken over from an expired or dead holder; `stamp` as for drift.
    LeaseTakeover {
        stamp: String,
    },
    /// A lease broken by hand (`sophia lease break`); `stamp` as for drift.
    LeaseBreak {
        stamp: String,
    },
    /// The managed set after the apply of a plan (issue 14).
    Managed {
        plan_digest: String,
    },
}

impl ProofKind {
    /// The path under `proofs/`.
    pub fn path(&self) -> Result<RelPath, UnsafeName> {
        let c = safe::component;
        let p = |dir: &str, file: String| RelPath::from_components(&[dir, &file]);
        match self {
            ProofKind::FlyViewer => p("fly", "viewer.json".into()),
            ProofKind::FlyOrg { app } => p("fly", format!("{}_org.json", c(app)?)),
            ProofKind::FlyMachines { app } => p("fly", format!("{}_machines.json", c(app)?)),
            ProofKind::FlyLogs { app } => p("fly", format!("{}_logs.txt", c(app)?)),
            ProofKind::Healthz { app } => p("healthz", format!("{}.json", c(app)?)),
            ProofKind::GithubSecretsAudit => p("github", "secrets_audit.json".into()),
            ProofKind::GithubProtection { repo, branch } => p(
                "github",
                format!("protection_{}+{}.json", c(repo)?, c(branch)?),
            ),
            ProofKind::RepoBranchProtection => p("repo", "branch_protection.json".into()),
            ProofKind::RouterAllowlist => p("llm", "router_allowlist.json".into()),
            ProofKind::ResearchSearch { provider } => {
                p("research", format!("{}_search.json", c(provider)?))
            }
            ProofKind::ProviderOp { provider, op } => {
                let dir = match provider.as_str() {
                    "router" => "llm".to_string(),
                    other => c(other)?,
                };
                RelPath::from_components(&[&dir, &format!("{}.json", c(op)?)])
            }
            ProofKind::SecretsMatrix => p("secrets", "matrix.json".into()),
            ProofKind::Secrets { name } => p("secrets", format!("{}.json", c(name)?)),
            ProofKind::Plan { digest } => p("plans", format!("{}.json", digest_name(digest)?)),
            ProofKind::PlanSignature { digest, index: 0 } => {
                p("plans", format!("{}.json.sig", digest_name(digest)?))
            }
            ProofKind::PlanSignature { digest, index } => p(
                "plans",
                format!("{}.json.{}.sig", digest_name(digest)?, index + 1),
            ),
            ProofKind::PlanRecord { digest } => {
                p("plans", format!("{}.record.json", digest_name(digest)?))
            }
            ProofKind::Drift { stamp } => p("drift", format!("{}.json", c(stamp)?)),
            ProofKind::Managed { plan_digest } => {
                p("managed", format!("{}.json", digest_name(plan_digest)?))
            }
            ProofKind::LeaseTakeover { stamp } => {
                p("apply", format!("lease-takeover_{}.json", c(stamp)?))
            }
            ProofKind::LeaseBreak { stamp } => {
                p("apply", format!("lease-break_{}.json", c(stamp)?))
            }
            ProofKind::ApplyAction {
                plan_digest,
                action_id,
            } => RelPath::from_components(&[
                "apply",
                &digest_name(plan_digest)?,
                &format!("{}.json", c(action_id)?),
            ]),
        }
    }
}

/// The hex of a `sha256:<hex>` digest (the file-name form); anything else is escaped.
fn digest_name(digest: &str) -> Result<String, UnsafeName> {
    safe::component(digest.strip_prefix("sha256:").unwrap_or(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(k: ProofKind) -> String {
        k.path().unwrap().to_string()
    }

    #[test]
    fn the_original_layout() {
        assert_eq!(path(ProofKind::FlyViewer), "fly/viewer.json");
        let app = "sophiaai-dashboard-v2".to_string();
        assert_eq!(
            path(ProofKind::FlyOrg { app: app.clone() }),
            "fly/sophiaai-dashboard-v2_org.json"
        );
        assert_eq!(
            path(ProofKind::FlyMachines { app: app.clone() }),
            "fly/sophiaai-dashboard-v2_machines.json"
        );
        assert_eq!(
            path(ProofKind::FlyLogs { app: app.clone() }),
            "fly/sophiaai-dashboard-v2_logs.txt"
        );
        assert_eq!(
            path(ProofKind::Healthz { app }),
            "healthz/sophiaai-dashboard-v2.json"
        );
        assert_eq!(
            path(ProofKind::GithubSecretsAudit),
            "github/secrets_audit.json"
        );
        assert_eq!(
            path(ProofKind::GithubProtection {
                repo: "ai-cherry/sophia-intel-ai".into(),
                branch: "main".into()
            }),
            "github/protection_ai-cherry%2Fsophia-intel-ai+main.json"
        );
        assert_eq!(
            path(ProofKind::RepoBranchProtection),
            "repo/branch_protection.json"
        );
        assert_eq!(
            path(ProofKind::RouterAllowlist),
            "llm/router_allowlist.json"
        );
        assert_eq!(
            path(ProofKind::ResearchSearch {
                provider: "tavily".into()
            }),
            "research/tavily_search.json"
        );
        assert_eq!(
            path(ProofKind::ProviderOp {
                provider: "context_db".into(),
                op: "ping".into()
            }),
            "context_db/ping.json"
        );
        assert_eq!(path(ProofKind::SecretsMatrix), "secrets/matrix.json");
        let d = format!("sha256:{}", "ab".repeat(32));
        let hex = "ab".repeat(32);
        assert_eq!(
            path(ProofKind::Plan { digest: d.clone() }),
            format!("plans/{hex}.json")
        );
        assert_eq!(
            path(ProofKind::PlanSignature {
                digest: d.clone(),
                index: 0
            }),
            format!("plans/{hex}.json.sig")
        );
        assert_eq!(
            path(ProofKind::PlanSignature {
                digest: d.clone(),
                index: 1
            }),
            format!("plans/{hex}.json.2.sig")
        );
        assert_eq!(
            path(ProofKind::ApplyAction {
                plan_digest: d,
                action_id: "fly.secrets.set:fly.app.a.secrets".into()
            }),
            format!("apply/{hex}/fly.secrets.set%3Afly.app.a.secrets.json")
        );
    }

    #[test]
    fn hostile_names_stay_inside() {
        for app in ["x/../../etc/passwd", "/abs", "a/b", "\\..\\x"] {
            let p = path(ProofKind::FlyOrg { app: app.into() });
            assert!(p.starts_with("fly/") && p.matches('/').count() == 1, "{p}");
        }
        for app in ["..", "../../etc/passwd", ".ssh", "a\0b", ""] {
            assert!(
                ProofKind::FlyOrg { app: app.into() }.path().is_err(),
                "{app:?} accepted"
            );
        }
        assert!(
            ProofKind::ProviderOp {
                provider: "..".into(),
                op: "x".into()
            }
            .path()
            .is_err()
        );
    }
}
