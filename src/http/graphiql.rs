//! `/graphiql`: a small in-browser GraphQL explorer, served from the binary. It loads nothing
//! from elsewhere, so it works offline and under a strict Content-Security-Policy.

use axum::http::HeaderValue;
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("assets/graphiql.html");

pub(crate) async fn page() -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                ),
            ),
        ],
        PAGE,
    )
        .into_response()
}
