//! The accept loop. `axum::serve` cannot close a connection without answering, and a dropped
//! connection is one of the faults the sandbox injects, so connections are served here with
//! hyper directly: each request carries a [`DropConnection`] handle; when the gate fires it,
//! the connection is dropped (the socket closes) without a response.

use std::sync::Arc;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt as _;

/// Closes the request's connection without a response.
#[derive(Clone)]
pub struct DropConnection(Arc<Notify>);

impl DropConnection {
    pub fn fire(&self) {
        self.0.notify_one();
    }
}

/// Serves `app` on `listener` until `stop` turns true.
pub async fn serve(listener: TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors or a reset before accept: keep serving the others.
                    tokio::task::yield_now().await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, app.clone(), stop.clone()));
            }
            _ = stop.changed() => return,
        }
    }
}

async fn connection(stream: tokio::net::TcpStream, app: Router, mut stop: watch::Receiver<bool>) {
    let dropper = Arc::new(Notify::new());
    let handle = DropConnection(dropper.clone());
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(handle.clone());
        app.clone().oneshot(req.map(axum::body::Body::new))
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        // Dropping `conn` closes the socket: the client sees the connection end, no response.
        _ = dropper.notified() => {}
        _ = stop.changed() => {}
    }
}
