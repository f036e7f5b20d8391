//! `POST /graphql` and `GET /graphql` for any schema that contains the module.
//!
//! POST takes `application/json`, so a plain HTML form on another site cannot post to it;
//! GET runs queries only. The caller's principal comes from the [`Authenticator`]; bad
//! credentials refuse the whole request with UNAUTHENTICATED.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::parser::types::OperationType;
use async_graphql::{
    ErrorExtensionValues, ObjectType, Schema, ServerError, SubscriptionType, Value,
};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::client::client_address;
use super::graphiql;
use super::metrics::Metrics;
use crate::error::{Error, ErrorCode};
use crate::graphql::{Caller, for_each_field, precheck, to_graphql_error};
use crate::ports::Authenticator;

/// How the GraphQL endpoint treats requests.
#[derive(Debug, Clone)]
pub struct GraphqlOptions {
    /// Larger bodies are refused with 413.
    pub max_body_bytes: usize,
    /// Rate-limit by the last `X-Forwarded-For` address instead of the peer address.
    /// How many proxies in front of the server append to `X-Forwarded-For`; 0: the header is
    /// ignored and the connection's peer is the client.
    pub trusted_proxies: u8,
    /// Where to count the error codes returned.
    pub metrics: Option<Arc<Metrics>>,
}

impl Default for GraphqlOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 * 1024 * 1024,
            trusted_proxies: 0,
            metrics: None,
        }
    }
}

struct Endpoint<Q, M, S> {
    schema: Schema<Q, M, S>,
    auth: Arc<dyn Authenticator>,
    options: GraphqlOptions,
    /// Whether the missing-client-address warning was logged (once per endpoint).
    warned_unknown_clients: AtomicBool,
}

/// `/graphql` (GET and POST) and the `/graphiql` explorer, for a schema that contains the
/// module (the standalone one, or a host's merged schema).
pub fn graphql_routes<Q, M, S>(
    schema: Schema<Q, M, S>,
    auth: Arc<dyn Authenticator>,
    options: GraphqlOptions,
) -> Router
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let endpoint = Arc::new(Endpoint {
        schema,
        auth,
        options,
        warned_unknown_clients: AtomicBool::new(false),
    });
    Router::new()
        .route("/graphql", get(execute::<Q, M, S>).post(execute::<Q, M, S>))
        .route("/graphiql", get(graphiql::page))
        .route("/graphiql.js", get(graphiql::script))
        .route("/graphiql.css", get(graphiql::style))
        .with_state(endpoint)
}

async fn execute<Q, M, S>(
    State(endpoint): State<Arc<Endpoint<Q, M, S>>>,
    request: Request,
) -> Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let (parts, body) = request.into_parts();
    let max_body_bytes = endpoint.options.max_body_bytes;
    let read = read_request(
        &parts.method,
        parts.uri.query(),
        &parts.headers,
        body,
        max_body_bytes,
    );
    let mut gql_request = match read.await {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    // Before anything here parses the document (the GET checks below do; the executor's own
    // precheck would come too late for them).
    if let Err(why) = precheck(&gql_request.query) {
        return refusal(StatusCode::BAD_REQUEST, &why);
    }
    let principal = match endpoint.auth.authenticate(&parts.headers).await {
        Ok(principal) => principal,
        Err(err) => {
            let status = match err.code() {
                ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
                ErrorCode::Forbidden => StatusCode::FORBIDDEN,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            let mut response = error_response(status, &err);
            if status == StatusCode::UNAUTHORIZED {
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            return response;
        }
    };
    if parts.method == Method::GET && is_mutation(&mut gql_request) {
        return refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations must be sent with POST",
        );
    }
    if parts.method == Method::GET && presents_secret(&mut gql_request) {
        return refusal(
            StatusCode::BAD_REQUEST,
            "an invitation secret is never accepted in a URL (it would end up in logs and \
             browser history); send the request with POST",
        );
    }
    let client = client_address(&parts, endpoint.options.trusted_proxies);
    if client.is_none()
        && !endpoint
            .warned_unknown_clients
            .swap(true, Ordering::Relaxed)
    {
        tracing::warn!(
            "client addresses are unknown, so all anonymous callers share one rate limit: \
             serve the routes with `into_make_service_with_connect_info::<SocketAddr>()`"
        );
    }
    let caller = Caller {
        principal,
        client,
        accept_language: parts
            .headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
    };
    let response = endpoint.schema.execute(gql_request.data(caller)).await;
    let mut retry_after: Option<u64> = None;
    for extensions in response.errors.iter().filter_map(|e| e.extensions.as_ref()) {
        if let (Some(metrics), Some(Value::String(code))) =
            (&endpoint.options.metrics, extensions.get("code"))
        {
            metrics.record_error_code(code);
        }
        if let Some(Value::Number(seconds)) = extensions.get("retryAfterSeconds") {
            retry_after = retry_after.max(seconds.as_u64());
        }
    }
    let mut http = graphql_json(StatusCode::OK, &response);
    if let Some(seconds) = retry_after {
        http.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    http
}

/// The GraphQL request in a GET query string or a JSON POST body, or the HTTP refusal.
async fn read_request(
    method: &Method,
    query: Option<&str>,
    headers: &axum::http::HeaderMap,
    body: Body,
    max_body_bytes: usize,
) -> Result<async_graphql::Request, Response> {
    if method == Method::GET {
        return async_graphql::http::parse_query_string(query.unwrap_or_default()).map_err(|err| {
            refusal(
                StatusCode::BAD_REQUEST,
                &format!("the query string is not a GraphQL request: {err}"),
            )
        });
    }
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request as Content-Type: application/json",
        ));
    }
    let bytes = to_bytes(body, max_body_bytes).await.map_err(|_| {
        refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the request body is larger than {max_body_bytes} bytes"),
        )
    })?;
    serde_json::from_slice::<async_graphql::Request>(&bytes).map_err(|err| {
        refusal(
            StatusCode::BAD_REQUEST,
            &format!("the body is not a GraphQL request: {err}"),
        )
    })
}

fn is_mutation(request: &mut async_graphql::Request) -> bool {
    // A document that does not parse is left to the executor, which reports it.
    request.parsed_query().is_ok_and(|doc| {
        doc.operations
            .iter()
            .any(|(_, op)| op.node.ty == OperationType::Mutation)
    })
}

/// Whether any field of the document takes a `secret` argument (the public operations do).
fn presents_secret(request: &mut async_graphql::Request) -> bool {
    request.parsed_query().is_ok_and(|document| {
        let mut found = false;
        // A document too large to walk whole is refused by the executor's limits anyway.
        let _ = for_each_field(document, |field, _| {
            found |= field
                .arguments
                .iter()
                .any(|(name, _)| name.node == "secret");
        });
        found
    })
}

fn graphql_json(status: StatusCode, response: &async_graphql::Response) -> Response {
    let body = serde_json::to_vec(response).unwrap_or_else(|_| {
        br#"{"errors":[{"message":"the response could not be encoded","extensions":{"code":"INTERNAL"}}]}"#
            .to_vec()
    });
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

/// A request that never reached the executor: VALIDATION_FAILED with `status`.
fn refusal(status: StatusCode, message: &str) -> Response {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", ErrorCode::ValidationFailed.as_str());
    let mut error = ServerError::new(message, None);
    error.extensions = Some(extensions);
    graphql_json(status, &async_graphql::Response::from_errors(vec![error]))
}

fn error_response(status: StatusCode, err: &Error) -> Response {
    let mut error = to_graphql_error(err).into_server_error(async_graphql::Pos::default());
    // Refused before any query was read: there is no location to point at.
    error.locations.clear();
    graphql_json(status, &async_graphql::Response::from_errors(vec![error]))
}
