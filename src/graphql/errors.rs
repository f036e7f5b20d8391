//! The one mapping from the module's [`Error`] to GraphQL errors, and an extension that gives
//! GraphQL's own errors (syntax, unknown fields, limits) a code too.
//!
//! Every error in a response carries `extensions.code`; VALIDATION_FAILED adds `field`,
//! a refused template adds `problems`; DUPLICATE_PENDING_INVITATION adds `invitationId`; RATE_LIMITED and UNAVAILABLE add
//! `retryAfterSeconds` (the HTTP layer turns it into `Retry-After`).
//! Messages are the `Display` of [`Error`], written to be shown to people: no driver message,
//! stack or secret. The cause chain of UNAVAILABLE and INTERNAL goes to the log, once, here.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextRequest};
use async_graphql::{ErrorExtensionValues, Response, Value};

use crate::error::{Error, ErrorCode};

/// The retry hint on UNAVAILABLE: a replica set elects a new primary within a few seconds.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

/// Turns a service error into the GraphQL error a client sees.
pub fn to_graphql_error(err: &Error) -> async_graphql::Error {
    log_cause(err);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", err.code().as_str());
    if let Some(field) = err.field() {
        extensions.set("field", field);
    }
    match err {
        Error::DuplicatePending { existing } => {
            extensions.set("invitationId", existing.to_string())
        }
        Error::RateLimited { retry_after_secs } => {
            extensions.set("retryAfterSeconds", *retry_after_secs);
        }
        // A store that cannot answer now (a replica set electing a primary, a busy SQLite
        // file) usually can within a second or two.
        Error::Unavailable(_) => extensions.set("retryAfterSeconds", UNAVAILABLE_RETRY_AFTER_SECS),
        Error::TemplateRejected(problems) => extensions.set("problems", problems.clone()),
        _ => {}
    }
    async_graphql::Error {
        message: err.to_string(),
        source: None,
        extensions: Some(extensions),
    }
}

/// Logs what people are not shown: the cause of UNAVAILABLE and INTERNAL errors.
pub(crate) fn log_cause(err: &Error) {
    let source = match err {
        Error::Unavailable(source) | Error::Internal(source) => source,
        _ => return,
    };
    let mut chain = source.to_string();
    let mut next = source.source();
    while let Some(cause) = next {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        next = cause.source();
    }
    tracing::error!(code = %err.code(), cause = %chain, "request failed");
}

pub(crate) trait IntoGraphql<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> IntoGraphql<T> for Result<T, Error> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|err| to_graphql_error(&err))
    }
}

/// Gives every error without a code VALIDATION_FAILED: those come from GraphQL itself (a
/// syntax error, an unknown field, a value of the wrong type, the depth or complexity limit),
/// never from the module. Register it on a host schema with `.extension(ErrorCodes)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodes)
    }
}

#[async_trait::async_trait]
impl Extension for ErrorCodes {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", Value::from(ErrorCode::ValidationFailed.as_str()));
            }
        }
        response
    }
}
