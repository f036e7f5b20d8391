//! `POST /graphql` and `GET /graphql` for any schema that contains the module.
//!
//! POST takes `application/json`, so a plain HTML form on another site cannot post to it;
//! GET runs queries only. The caller's principal comes from the [`Authenticator`]; bad
//! credentials refuse the whole request with UNAUTHENTICATED. Answers follow GraphQL over
//! HTTP: `application/graphql-response+json` (request errors 400) when the client accepts it,
//! else `application/json`; a request error carries no `data`. A GET that asks to upgrade to a
//! WebSocket speaks GraphQL over WebSocket instead (subscriptions; see `subscriptions`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::parser::types::OperationType;
use async_graphql::{
    ErrorExtensionValues, ObjectType, Schema, ServerError, SubscriptionType, Value,
};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT, ALLOW, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::client::client_address;
use super::graphiql;
use super::metrics::Metrics;
use super::persisted::{PersistedQueries, Unusable};
use super::subscriptions::{self, SubscriptionLimits};
use crate::error::{Error, ErrorCode};
use crate::graphql::{
    Caller, Checked, ExecutionStarted, check, for_each_field, precheck, to_graphql_error,
};
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
    /// Bytes of query text kept for automatic persisted queries; 0: off.
    pub persisted_query_cache_bytes: usize,
    /// GraphQL-over-WebSocket connections (subscriptions) open at once.
    pub max_subscription_connections: usize,
}

impl Default for GraphqlOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 * 1024 * 1024,
            trusted_proxies: 0,
            metrics: None,
            persisted_query_cache_bytes: 8 * 1024 * 1024,
            max_subscription_connections: 1024,
        }
    }
}

struct Endpoint<Q, M, S> {
    schema: Schema<Q, M, S>,
    auth: Arc<dyn Authenticator>,
    options: GraphqlOptions,
    persisted: PersistedQueries,
    /// Whether the missing-client-address warning was logged (once per endpoint).
    warned_unknown_clients: AtomicBool,
    subscriptions: SubscriptionLimits,
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
        persisted: PersistedQueries::new(options.persisted_query_cache_bytes),
        subscriptions: SubscriptionLimits {
            slots: Arc::new(tokio::sync::Semaphore::new(
                options.max_subscription_connections,
            )),
            max_message_bytes: options.max_body_bytes,
        },
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
    if parts.method == Method::GET && subscriptions::is_upgrade(&parts.headers) {
        return subscriptions::upgrade(
            parts,
            endpoint.schema.clone(),
            Arc::clone(&endpoint.auth),
            &endpoint.subscriptions,
        )
        .await;
    }
    let format = Format::accepted_by(&parts.headers);
    let max_body_bytes = endpoint.options.max_body_bytes;
    let read = read_request(
        format,
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
    if let Err(unusable) = endpoint.persisted.resolve(&mut gql_request) {
        return match unusable {
            // What Apollo's clients look for (the message or the code) to send the query.
            Unusable::NotFound => refusal_coded(
                format,
                StatusCode::OK,
                ErrorCode::PersistedQueryNotFound,
                "PersistedQueryNotFound",
            ),
            Unusable::NotSupported => refusal_coded(
                format,
                StatusCode::OK,
                ErrorCode::PersistedQueryNotSupported,
                "PersistedQueryNotSupported",
            ),
            Unusable::Invalid(why) => refusal(format, StatusCode::BAD_REQUEST, why),
        };
    }
    // Before anything parses the document (the executor's own precheck would come too late
    // for the GET checks below).
    if let Err(why) = precheck(&gql_request.query) {
        return refusal(format, StatusCode::BAD_REQUEST, &why);
    }
    // Parsed once, here: the checks below and the executor use this parse, and the schema's
    // limits extension, told by `Checked`, does not parse it again. A document that does not
    // parse is left to the executor, which reports it.
    let variables = std::mem::take(&mut gql_request.variables);
    let checked = gql_request
        .parsed_query()
        .ok()
        .map(|document| check(document, &variables));
    gql_request.variables = variables;
    if let Some(checked) = checked {
        if let Err(refused) = checked {
            let status = match format {
                Format::GraphqlResponse => StatusCode::BAD_REQUEST,
                Format::Json => StatusCode::OK,
            };
            return refusal(format, status, &refused.message);
        }
        gql_request = gql_request.data(Checked);
    }
    let principal = match endpoint.auth.authenticate(&parts.headers).await {
        Ok(principal) => principal,
        Err(err) => {
            let status = match err.code() {
                ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
                ErrorCode::Forbidden => StatusCode::FORBIDDEN,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            let mut response = error_response(format, status, &err);
            if status == StatusCode::UNAUTHORIZED {
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            return response;
        }
    };
    if parts.method == Method::GET && selects_mutation(&mut gql_request) {
        let mut response = refusal(
            format,
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if parts.method == Method::GET && presents_secret(&mut gql_request) {
        return refusal(
            format,
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
    let started = ExecutionStarted::default();
    let response = endpoint
        .schema
        .execute(gql_request.data(caller).data(started.clone()))
        .await;
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
    // A request that never reached execution (it did not parse or validate) is a request
    // error: no `data`, and with the GraphQL response media type, 400.
    let executed = started.get();
    let status = match (format, executed) {
        (Format::GraphqlResponse, false) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let mut http = graphql_json(format, status, &response, executed);
    if let Some(seconds) = retry_after {
        http.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    http
}

/// The GraphQL request in a GET query string or a JSON POST body, or the HTTP refusal.
async fn read_request(
    format: Format,
    method: &Method,
    query: Option<&str>,
    headers: &axum::http::HeaderMap,
    body: Body,
    max_body_bytes: usize,
) -> Result<async_graphql::Request, Response> {
    if method == Method::GET {
        return from_query_string(query.unwrap_or_default()).map_err(|why| {
            refusal(
                format,
                StatusCode::BAD_REQUEST,
                &format!("the query string is not a GraphQL request: {why}"),
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
            format,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request as Content-Type: application/json",
        ));
    }
    let bytes = to_bytes(body, max_body_bytes).await.map_err(|_| {
        refusal(
            format,
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the request body is larger than {max_body_bytes} bytes"),
        )
    })?;
    // The derived reader would take a JSON array as the fields of one request in order.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(b'[') => {
            return Err(refusal(
                format,
                StatusCode::BAD_REQUEST,
                "batching is not supported: send each operation as its own request, a JSON \
                 object with a \"query\"",
            ));
        }
        _ => {
            return Err(refusal(
                format,
                StatusCode::BAD_REQUEST,
                "the body must be a JSON object with a \"query\" string",
            ));
        }
    }
    serde_json::from_slice::<async_graphql::Request>(&bytes).map_err(|err| {
        refusal(
            format,
            StatusCode::BAD_REQUEST,
            &format!("the body is not a GraphQL request: {err}"),
        )
    })
}

/// A GET request's `query`, `operationName`, `variables` and `extensions` (the last two as
/// JSON), as GraphQL over HTTP names them. (async-graphql's own reader expects
/// `operation_name`, so a standard client's choice of operation was lost.)
fn from_query_string(text: &str) -> Result<async_graphql::Request, String> {
    let (mut query, mut operation, mut variables, mut extensions) = (None, None, None, None);
    for (key, value) in url::form_urlencoded::parse(text.as_bytes()) {
        let slot = match key.as_ref() {
            "query" => &mut query,
            "operationName" => &mut operation,
            "variables" => &mut variables,
            "extensions" => &mut extensions,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(format!("{key} is given more than once"));
        }
    }
    let json = |name: &str, text: Option<String>| -> Result<Option<serde_json::Value>, String> {
        text.map(|text| serde_json::from_str(&text).map_err(|err| format!("{name}: {err}")))
            .transpose()
    };
    let mut request = async_graphql::Request::new(query.unwrap_or_default());
    request.operation_name = operation;
    if let Some(variables) = json("variables", variables)? {
        request.variables = async_graphql::Variables::from_json(variables);
    }
    if let Some(serde_json::Value::Object(map)) = json("extensions", extensions)? {
        for (key, value) in map {
            request
                .extensions
                .insert(key, Value::from_json(value).unwrap_or_default());
        }
    }
    Ok(request)
}

/// Whether the operation the request selects (by `operationName`, or the only one) is a
/// mutation. A document that does not parse, or selects no operation, is left to the executor,
/// which reports it.
fn selects_mutation(request: &mut async_graphql::Request) -> bool {
    let name = request.operation_name.clone();
    request.parsed_query().is_ok_and(|document| {
        let mut operations = document.operations.iter();
        let selected = match name {
            Some(name) => operations.find(|(op_name, _)| op_name.is_some_and(|n| *n == *name)),
            None => operations
                .next()
                .filter(|_| document.operations.iter().count() == 1),
        };
        selected.is_some_and(|(_, op)| op.node.ty == OperationType::Mutation)
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

/// The media type of the answer: the GraphQL-over-HTTP one when the client accepts it (with
/// its status codes: 400 for a request error), else `application/json` (200 for every GraphQL
/// response, as legacy clients expect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    GraphqlResponse,
    Json,
}

impl Format {
    const GRAPHQL_RESPONSE: &'static str = "application/graphql-response+json";

    fn accepted_by(headers: &axum::http::HeaderMap) -> Self {
        let accepts = headers.get_all(ACCEPT).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value.split(',').any(|item| {
                    let mut parts = item.split(';');
                    let media = parts.next().unwrap_or("").trim();
                    let refused = parts.any(|p| {
                        p.trim()
                            .strip_prefix("q=")
                            .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
                    });
                    media.eq_ignore_ascii_case(Self::GRAPHQL_RESPONSE) && !refused
                })
            })
        });
        if accepts {
            Self::GraphqlResponse
        } else {
            Self::Json
        }
    }

    fn content_type(self) -> HeaderValue {
        match self {
            Self::GraphqlResponse => HeaderValue::from_static(Self::GRAPHQL_RESPONSE),
            Self::Json => HeaderValue::from_static("application/json"),
        }
    }
}

/// `response` as the body of an answer; without `data` unless execution started.
fn graphql_json(
    format: Format,
    status: StatusCode,
    response: &async_graphql::Response,
    executed: bool,
) -> Response {
    let encoded = if executed {
        serde_json::to_vec(response)
    } else {
        // A request error: the same members but `data` (small, so the detour is cheap).
        serde_json::to_value(response).and_then(|mut value| {
            if let Some(object) = value.as_object_mut() {
                object.remove("data");
            }
            serde_json::to_vec(&value)
        })
    };
    let body = encoded
        .unwrap_or_else(|_| {
            br#"{"errors":[{"message":"the response could not be encoded","extensions":{"code":"INTERNAL"}}]}"#
                .to_vec()
        });
    (status, [(CONTENT_TYPE, format.content_type())], body).into_response()
}

/// A request that never reached the executor: VALIDATION_FAILED with `status`.
fn refusal(format: Format, status: StatusCode, message: &str) -> Response {
    refusal_coded(format, status, ErrorCode::ValidationFailed, message)
}

/// A request that never reached the executor, with `code`.
fn refusal_coded(format: Format, status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    let mut error = ServerError::new(message, None);
    error.extensions = Some(extensions);
    graphql_json(
        format,
        status,
        &async_graphql::Response::from_errors(vec![error]),
        false,
    )
}

fn error_response(format: Format, status: StatusCode, err: &Error) -> Response {
    let mut error = to_graphql_error(err).into_server_error(async_graphql::Pos::default());
    // Refused before any query was read: there is no location to point at.
    error.locations.clear();
    graphql_json(
        format,
        status,
        &async_graphql::Response::from_errors(vec![error]),
        false,
    )
}
