//! The SaaS providers: the LLM router, research, Qdrant, Mem0, Slack, Gong and Lambda, one
//! file each, and the dispatch ([`Other`]) that puts them — with the context database and the
//! cache, which live beside this folder — behind one variant of [`super::Provider`].
//!
//! - [`api`]: what the providers share (required variables, base URLs, auth headers, JSON
//!   calls, the unknown-operation error). The providers import it and nothing else of this
//!   folder; this file imports the providers. Nothing points back, so there is no cycle.

use std::collections::BTreeMap;

use serde_json::Value;

use super::http::Http;
use super::{ActionOutcome, Credentials, ProviderError, context_db, redis};
use crate::core::address::Address;
use crate::core::desired::{Desired, ProviderName};
use crate::core::plan::Action;

pub mod api;
pub mod gong;
pub mod lambda;
pub mod mem0;
pub mod qdrant;
pub mod research;
pub mod router;
pub mod slack;

/// Every variable the SaaS providers, the context database and the cache read (base URLs,
/// keys, and the router's backup provider keys). `Credentials::from_env` reads these too.
pub const NAMES: [&str; 26] = [
    "PORTKEY_API_KEY",
    "PORTKEY_BASE_URL",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENROUTER_API_KEY",
    "GROQ_API_KEY",
    "DEEPSEEK_API_KEY",
    "TAVILY_API_KEY",
    "TAVILY_BASE_URL",
    "SERPER_API_KEY",
    "SERPER_BASE_URL",
    "NEON_DATABASE_URL",
    "NEON_READONLY_DATABASE_URL",
    "QDRANT_URL",
    "QDRANT_API_KEY",
    "MEM0_API_KEY",
    "MEM0_BASE_URL",
    "REDIS_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_URL",
    "GONG_BASE_URL",
    "GONG_ACCESS_KEY",
    "GONG_ACCESS_KEY_SECRET",
    "LAMBDA_LABS_API_KEY",
    "LAMBDA_API_URL",
];

/// The providers of this module family (everything but Fly and GitHub), behind one variant
/// of [`super::Provider`].
#[derive(Debug, Clone)]
pub enum Other {
    Router(router::RouterProvider),
    Research(research::ResearchProvider),
    ContextDb(context_db::ContextDbProvider),
    Qdrant(qdrant::QdrantProvider),
    Mem0(mem0::Mem0Provider),
    Redis(redis::RedisProvider),
    Slack(slack::SlackProvider),
    Gong(gong::GongProvider),
    Lambda(lambda::LambdaProvider),
}

impl Other {
    /// `None` for Fly and GitHub (not ours); `not-configured` naming the missing variables.
    pub fn configure(
        name: ProviderName,
        creds: &Credentials,
        http: &Http,
    ) -> Option<Result<Other, ProviderError>> {
        use ProviderName as P;
        let h = || http.clone();
        Some(match name {
            P::Fly | P::Github => return None,
            P::Router => router::RouterProvider::new(creds, h(), None).map(Other::Router),
            P::Research => research::ResearchProvider::new(creds, h()).map(Other::Research),
            P::ContextDb => context_db::ContextDbProvider::new(creds).map(Other::ContextDb),
            P::Qdrant => qdrant::QdrantProvider::new(creds, h()).map(Other::Qdrant),
            P::Mem0 => mem0::Mem0Provider::new(creds, h()).map(Other::Mem0),
            P::Redis => redis::RedisProvider::new(creds).map(Other::Redis),
            P::Slack => slack::SlackProvider::new(creds, h()).map(Other::Slack),
            P::Gong => gong::GongProvider::new(creds, h()).map(Other::Gong),
            P::Lambda => lambda::LambdaProvider::new(creds, h()).map(Other::Lambda),
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Other::Router(_) => "router",
            Other::Research(_) => "research",
            Other::ContextDb(_) => "context_db",
            Other::Qdrant(_) => "qdrant",
            Other::Mem0(_) => "mem0",
            Other::Redis(_) => "redis",
            Other::Slack(_) => "slack",
            Other::Gong(_) => "gong",
            Other::Lambda(_) => "lambda",
        }
    }

    /// Only the context database, Qdrant and Redis have live resources.
    pub async fn refresh(
        &self,
        addresses: &[Address],
    ) -> Result<BTreeMap<Address, Value>, ProviderError> {
        match self {
            Other::ContextDb(p) => p.refresh(addresses).await,
            Other::Qdrant(p) => p.refresh(addresses).await,
            Other::Redis(p) => p.refresh(addresses).await,
            _ => Ok(Default::default()),
        }
    }

    /// Execute a plan action on one of the resources above. (`provider.activate` needs the
    /// repository's activation record: see [`crate::providers::activation::execute`].)
    pub async fn execute(&self, action: &Action) -> ActionOutcome {
        match self {
            Other::ContextDb(p) => p.execute(action).await,
            Other::Qdrant(p) => p.execute(action).await,
            Other::Redis(p) => p.execute(action).await,
            other => ActionOutcome::failure(ProviderError::new(
                other.name(),
                "invalid-input",
                format!(
                    "{} has no resources: it cannot execute `{}`",
                    other.name(),
                    action.kind
                ),
            )),
        }
    }

    /// A read-only operation by name (the front door parses and checks payloads first).
    pub async fn op(
        &self,
        name: &str,
        payload: &Value,
    ) -> Result<(String, Vec<Value>), ProviderError> {
        match self {
            Other::Router(p) => p.op(name, payload).await,
            Other::Research(p) => p.op(name).await,
            Other::ContextDb(p) => p.op(name, payload).await,
            Other::Redis(p) => p.op(name, payload).await,
            Other::Qdrant(p) => p.op(name).await,
            Other::Mem0(p) => p.op(name).await,
            Other::Slack(p) => p.op(name).await,
            Other::Gong(p) => p.op(name).await,
            Other::Lambda(p) => p.op(name).await,
        }
    }
}

/// The addresses of `desired` that provider `p` (of this family) reads.
pub fn desired_addresses(desired: &Desired, p: ProviderName) -> Vec<Address> {
    use ProviderName as P;
    match p {
        P::ContextDb => desired
            .context_db
            .iter()
            .flat_map(|d| {
                d.extensions
                    .iter()
                    .map(|n| Address::ContextDbExtension { name: n.clone() })
                    .chain(
                        d.schemas
                            .iter()
                            .map(|n| Address::ContextDbSchema { name: n.clone() }),
                    )
            })
            .collect(),
        P::Qdrant => desired
            .qdrant
            .iter()
            .flat_map(|q| q.collections.keys())
            .map(|n| Address::QdrantCollection { name: n.clone() })
            .collect(),
        P::Redis => desired
            .redis
            .iter()
            .flat_map(|r| r.config.keys())
            .map(|k| Address::RedisConfig { key: k.clone() })
            .collect(),
        _ => Vec::new(),
    }
}
