//! One credential of the context database: a connection URL read from one variable, how to
//! reach the server with it (TLS or not), and how to report its errors without the URL.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, NoTls};

use super::PROVIDER;
use crate::providers::ProviderError;

/// Time to connect (TCP, TLS, authentication). Neon wakes a suspended compute in a few
/// seconds; 15 s covers that cold start while still failing fast on a wrong host.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A parsed connection URL; `Debug` shows the variable's name, never the URL.
#[derive(Clone)]
pub struct Endpoint {
    /// The variable the URL came from, named in every message.
    pub var: &'static str,
    config: Config,
    tls: bool,
    /// What to mask in messages: the URL and its password.
    masks: Vec<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("var", &self.var)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// From a connection URL (`postgres://user:pass@host:port/db?sslmode=…`) read from `var`.
    pub fn parse(var: &'static str, url: &str) -> Result<Endpoint, ProviderError> {
        let mut masks = vec![url.to_string()];
        // libpq's `verify-ca` / `verify-full` are what we always do under TLS; the driver
        // only knows `require`.
        let normalized = url
            .replace("sslmode=verify-full", "sslmode=require")
            .replace("sslmode=verify-ca", "sslmode=require");
        let config = Config::from_str(&normalized).map_err(|e| {
            ProviderError::new(
                PROVIDER,
                "invalid-input",
                format!(
                    "`{var}` is not a PostgreSQL connection URL ({})",
                    scrub(&e.to_string(), &masks)
                ),
            )
        })?;
        if let Some(pw) = config.get_password() {
            if let Ok(pw) = std::str::from_utf8(pw) {
                if !pw.is_empty() {
                    masks.push(pw.to_string());
                }
            }
        }
        let tls = match config.get_ssl_mode() {
            SslMode::Disable => false,
            SslMode::Prefer => !config.get_hosts().iter().all(is_local),
            _ => true,
        };
        let mut config = config;
        config.connect_timeout(CONNECT_TIMEOUT);
        config.application_name("sophia");
        Ok(Endpoint {
            var,
            config,
            tls,
            masks,
        })
    }

    /// Whether connections use TLS (see the module documentation of `context_db`).
    pub fn uses_tls(&self) -> bool {
        self.tls
    }

    /// Whether both log in as the same role to the same database on the same servers.
    pub fn same_login_as(&self, other: &Endpoint) -> bool {
        let a = &self.config;
        let b = &other.config;
        a.get_user() == b.get_user()
            && a.get_dbname() == b.get_dbname()
            && a.get_hosts() == b.get_hosts()
            && a.get_ports() == b.get_ports()
    }

    /// An error whose text passes [`scrub`].
    pub fn err(&self, code: &str, what: &str, e: impl std::fmt::Display) -> ProviderError {
        ProviderError::new(
            PROVIDER,
            code,
            format!("{what}: {}", scrub(&e.to_string(), &self.masks)),
        )
    }

    /// A PostgreSQL error as a provider error: `query-refused` for the server's refusals
    /// (read-only transaction, syntax, permissions), `timeout` for a cancelled statement.
    pub fn pg_err(&self, what: &str, e: tokio_postgres::Error) -> ProviderError {
        let (code, text) = match e.as_db_error() {
            Some(db) => {
                let code = match db.code().code() {
                    // query_canceled: the statement_timeout fired.
                    "57014" => "timeout",
                    _ => "query-refused",
                };
                (
                    code,
                    format!("{} (SQLSTATE {})", db.message(), db.code().code()),
                )
            }
            None => ("connection-failed", e.to_string()),
        };
        self.err(code, what, text)
    }

    /// A connection whose driver task runs in the background until the client is dropped.
    pub async fn connect(&self) -> Result<Client, ProviderError> {
        let what = format!("connecting to the context database ({})", self.var);
        let fail = |e: tokio_postgres::Error| self.err("connection-failed", &what, e);
        if self.tls {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| self.err("internal", "setting up TLS", e))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            let connector = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
            let (client, conn) = self.config.connect(connector).await.map_err(fail)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(client)
        } else {
            let (client, conn) = self.config.connect(NoTls).await.map_err(fail)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(client)
        }
    }
}

/// `text` with every mask replaced by `***`.
fn scrub(text: &str, masks: &[String]) -> String {
    let mut out = text.to_string();
    for m in masks {
        if !m.is_empty() {
            out = out.replace(m.as_str(), "***");
        }
    }
    out
}

fn is_local(host: &Host) -> bool {
    match host {
        Host::Tcp(name) => {
            name == "localhost"
                || name
                    .trim_matches(|c| c == '[' || c == ']')
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VAR: &str = "NEON_DATABASE_URL";

    #[test]
    fn tls_follows_sslmode_and_host() {
        let tls = |url: &str| Endpoint::parse(VAR, url).unwrap().uses_tls();
        assert!(!tls("postgres://u@127.0.0.1:5432/db"));
        assert!(!tls("postgres://u@localhost/db"));
        assert!(tls("postgres://u@127.0.0.1/db?sslmode=require"));
        assert!(tls("postgres://u:p@ep-x.neon.tech/db"));
        assert!(tls("postgres://u:p@ep-x.neon.tech/db?sslmode=verify-full"));
        assert!(!tls("postgres://u:p@db.internal/db?sslmode=disable"));
    }

    #[test]
    fn bad_urls_never_echo_the_password() {
        let e = Endpoint::parse(VAR, "postgres://u:hunter2@h/db?sslmode=bogus").unwrap_err();
        assert_eq!(e.code, "invalid-input");
        assert!(!e.message.contains("hunter2"), "{}", e.message);
        assert!(e.message.contains(VAR));
    }

    #[test]
    fn debug_shows_no_url() {
        let p = Endpoint::parse(VAR, "postgres://u:hunter2@h/db").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn same_login_compares_role_database_and_servers() {
        let e = |url: &str| Endpoint::parse(VAR, url).unwrap();
        let a = e("postgres://app:pw1@h:5432/db");
        assert!(a.same_login_as(&e("postgres://app:other@h:5432/db?sslmode=require")));
        assert!(!a.same_login_as(&e("postgres://reader:pw@h:5432/db")));
        assert!(!a.same_login_as(&e("postgres://app:pw1@h:5432/other")));
        assert!(!a.same_login_as(&e("postgres://app:pw1@h2:5432/db")));
    }
}
