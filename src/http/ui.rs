//! `/admin` (the editors' UI) and `/accept` (the page invitation links open when no frontend
//! URL is configured): static pages compiled into the binary that talk only to `/graphql`
//! (and the admin to the email preview). No CDN, no inline script, a strict CSP.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::service::EmailSettings;

/// Language preferences one request may name at most.
const MAX_PREFERENCES: usize = 10;

const ADMIN_HTML: &str = include_str!("assets/admin.html");
const ADMIN_JS: &str = include_str!("assets/admin.js");
const ACCEPT_HTML: &str = include_str!("assets/accept.html");
const ACCEPT_JS: &str = include_str!("assets/accept.js");
const UI_CSS: &str = include_str!("assets/ui.css");

/// Scripts and styles from this server only; data from `/graphql` only; the admin frames the
/// email preview from this server.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    static_asset(content_type, PAGE_CSP, body)
}

/// A file compiled into the binary, with its policy: no sniffing, no Referer (the accept
/// page's URL carries the secret in its fragment), revalidated rather than kept.
pub(crate) fn static_asset(
    content_type: &'static str,
    csp: &'static str,
    body: &'static str,
) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp)),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            // The accept page's URL carries the secret in its fragment: never pass it on.
            (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            // Pages follow the binary; a browser revalidates rather than keeping an old UI.
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// The routes of both pages and their assets.
pub(crate) fn routes() -> Router {
    Router::new()
        .route(
            "/admin",
            get(|| async { asset("text/html; charset=utf-8", ADMIN_HTML) }),
        )
        .route(
            "/accept",
            get(|| async { asset("text/html; charset=utf-8", ACCEPT_HTML) }),
        )
        .route(
            "/ui/admin.js",
            get(|| async { asset("text/javascript; charset=utf-8", ADMIN_JS) }),
        )
        .route(
            "/ui/accept.js",
            get(|| async { asset("text/javascript; charset=utf-8", ACCEPT_JS) }),
        )
        .route(
            "/ui/ui.css",
            get(|| async { asset("text/css; charset=utf-8", UI_CSS) }),
        )
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct MessagesQuery {
    /// Preferences in order, comma-separated: `de-AT,de,en`.
    lang: Option<String>,
}

/// `/accept/messages?lang=de-AT,fr`: the invitee page's words for the first preference that
/// has them (its tag, then its language), else the default locale's, as
/// `{"locale": "de", "messages": {...}}`. The page asks with the invitation's locale, or with
/// the browser's languages for a link it cannot look up.
pub(crate) async fn accept_messages(
    State(email): State<EmailSettings>,
    Query(query): Query<MessagesQuery>,
) -> Response {
    let lang = query.lang.unwrap_or_default();
    let preferences = lang
        .split(',')
        .map(str::trim)
        .filter(|tag| !tag.is_empty() && tag.len() <= 35)
        .take(MAX_PREFERENCES);
    let (locale, messages) = email.pages.choose(preferences, &email.default_locale);
    let body = serde_json::json!({ "locale": locale, "messages": &*messages }).to_string();
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}
