//! `sophia sandbox serve`: the local emulator of every provider API, on one address, until
//! interrupted.

use std::net::SocketAddr;

use anyhow::Context as _;

use crate::sandbox::{self, SandboxConfig};

/// Serve `config` on `addr` until Ctrl-C. `listening` is told the bound address (port 0 picks
/// one) before the first request is accepted.
pub async fn serve(
    addr: SocketAddr,
    config: SandboxConfig,
    listening: impl FnOnce(SocketAddr) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let shared = sandbox::Shared::new(config)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding `{addr}`"))?;
    listening(listener.local_addr()?)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop.send(true);
        }
    });
    sandbox::server::serve(listener, sandbox::router(shared), stopped).await;
    Ok(())
}
