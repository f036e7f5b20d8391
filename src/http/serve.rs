//! The standalone server's accept loop, on hyper with a timer, so that no client holds a
//! connection for free: a request header must arrive within `header_read_timeout` (also on an
//! idle kept-alive connection), at most `max_connections` connections are served at once
//! (further ones are closed as they arrive), and a stopping server waits at most
//! `shutdown_grace` for the requests in flight.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Service as _;

/// Bounds on connections, from the `http` section of the configuration.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the requests in flight
/// finish for at most `limits.shutdown_grace`. Each request carries the client's address as
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let capacity = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(capacity));
    // hyper-util's graceful shutdown does not take upgradeable connections, so each
    // connection watches this itself.
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // A client may close its sending side once its request is out (`curl -T`, netcat,
        // some proxies): it still gets the answer, instead of a connection dropped mid-request.
        .half_close(true);
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();
    let mut at_limit = false;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, or the like: wait a moment instead of spinning.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            // Once per episode at the limit, so a flood of connections is no flood of logs.
            if !at_limit {
                tracing::warn!(
                    limit = limits.max_connections,
                    "connection limit reached; further connections are closed until one ends"
                );
                at_limit = true;
            }
            continue;
        };
        at_limit = false;
        // Making the per-connection service never fails: it only records the peer.
        let Ok(service) = make.call(peer).await;
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            // WebSockets (GraphQL subscriptions) take the connection over after a 101.
            .with_upgrades();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let stopping = async move {
                // The guard `wait_for` returns must not live across an await.
                let _ = stop.wait_for(|stop| *stop).await.is_ok();
            };
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = stopping => {
                    // Finishes the request in flight, then closes.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = ended {
                tracing::debug!(client = %peer, error = %err, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    let all = u32::try_from(capacity).unwrap_or(u32::MAX);
    tokio::select! {
        _ = slots.acquire_many(all) => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!(grace = ?limits.shutdown_grace, "requests still in flight after the shutdown grace; closing their connections");
        }
    }
}
