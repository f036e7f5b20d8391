//! GraphQL over WebSocket on `/graphql`: `graphql-transport-ws` and the legacy `graphql-ws`,
//! spoken by async-graphql's own protocol implementation. The token comes in
//! `connection_init` (`{"authorization": "Bearer <token>"}`). A client that does not read what
//! it is sent is disconnected rather than let a buffer grow.

use std::sync::Arc;
use std::time::Duration;

use std::str::FromStr as _;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocket, WebSocketProtocols, WsMessage};
use async_graphql::{Data, Executor};
use axum::extract::FromRequestParts;
use axum::extract::ws::{CloseFrame, Message, WebSocketUpgrade};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::Semaphore;

use crate::graphql::Caller;
use crate::ports::Authenticator;

/// Longest wait for the client to take one message; a client that reads no faster is
/// disconnected.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// A `connection_init` must come within this, as `graphql-transport-ws` asks.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Pings keep idle connections (and the proxies between) alive.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// Whether `headers` ask to upgrade to a WebSocket.
pub(super) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Subscription connections one server keeps open at once.
#[derive(Debug)]
pub(super) struct SubscriptionLimits {
    pub slots: Arc<Semaphore>,
    pub max_message_bytes: usize,
}

/// Upgrades to a GraphQL WebSocket serving `executor`.
pub(super) async fn upgrade<E: Executor>(
    mut parts: Parts,
    executor: E,
    auth: Arc<dyn Authenticator>,
    limits: &SubscriptionLimits,
) -> Response {
    // The first protocol offered that async-graphql speaks.
    let Some(protocol) = parts
        .headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok())
        .and_then(|offered| {
            offered
                .split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        })
    else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            "offer the graphql-transport-ws (or graphql-ws) subprotocol",
        )
            .into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(refusal) => return refusal.into_response(),
    };
    let Ok(slot) = Arc::clone(&limits.slots).try_acquire_owned() else {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "too many subscription connections; try again later",
        )
            .into_response();
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(limits.max_message_bytes)
        .max_frame_size(limits.max_message_bytes)
        .on_upgrade(move |socket| async move {
            let (mut sink, stream) = socket.split();
            let input = stream
                .take_while(|message| std::future::ready(message.is_ok()))
                .filter_map(|message| {
                    std::future::ready(match message {
                        Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                            Some(message.into_data())
                        }
                        _ => None,
                    })
                });
            let outgoing = WebSocket::new(executor, input, protocol)
                .on_connection_init(move |payload| init(payload, auth))
                .keepalive_timeout(KEEPALIVE);
            futures_util::pin_mut!(outgoing);
            let started = tokio::time::Instant::now();
            let mut initialised = false;
            loop {
                let next = if initialised {
                    outgoing.next().await
                } else {
                    match tokio::time::timeout_at(started + INIT_TIMEOUT, outgoing.next()).await {
                        Ok(next) => next,
                        Err(_) => {
                            let _ =
                                close(&mut sink, 4408, "connection initialisation timeout").await;
                            break;
                        }
                    }
                };
                let Some(message) = next else { break };
                let message = match message {
                    WsMessage::Text(text) => {
                        initialised |= serde_json::from_str::<serde_json::Value>(&text)
                            .is_ok_and(|m| m["type"] == "connection_ack");
                        Message::Text(text.into())
                    }
                    WsMessage::Close(code, reason) => Message::Close(Some(CloseFrame {
                        code,
                        reason: reason.into(),
                    })),
                };
                match tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break,
                    Err(_) => {
                        tracing::info!("a subscriber did not read for 10 s; disconnected");
                        let _ = tokio::time::timeout(
                            Duration::from_secs(1),
                            close(&mut sink, 4400, "too slow: messages were not read"),
                        )
                        .await;
                        break;
                    }
                }
            }
            drop(slot);
        })
}

async fn close<S>(sink: &mut S, code: u16, reason: &'static str) -> Result<(), axum::Error>
where
    S: futures_util::Sink<Message, Error = axum::Error> + Unpin,
{
    sink.send(Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    })))
    .await
}

/// `connection_init`: authenticates the `authorization` member the way an HTTP request's
/// header is, and makes the connection's caller. Bad credentials refuse the connection.
async fn init(
    payload: serde_json::Value,
    auth: Arc<dyn Authenticator>,
) -> async_graphql::Result<Data> {
    let mut headers = HeaderMap::new();
    let authorization = payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))
        .and_then(serde_json::Value::as_str);
    if let Some(value) = authorization {
        let value = HeaderValue::from_str(value)
            .map_err(|_| async_graphql::Error::new("the authorization value is not valid"))?;
        headers.insert(header::AUTHORIZATION, value);
    }
    let principal = auth
        .authenticate(&headers)
        .await
        .map_err(|err| async_graphql::Error::new(err.to_string()))?;
    let mut data = Data::default();
    data.insert(Caller {
        principal,
        client: None,
        accept_language: None,
    });
    Ok(data)
}
