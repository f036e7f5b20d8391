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

use crate::email::Page;
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

/// `/accept/messages?lang=de-AT,fr` and `/admin/messages?lang=…`: a page's words for the first
/// preference that has them (its tag, then its language), else the default locale's, as
/// `{"locale": "de", "locales": ["de", "en", "fr"], "messages": {...}}`. The invitee page asks
/// with the invitation's locale, or with the browser's languages for a link it cannot look up;
/// the admin UI with the editor's choice or the browser's languages, and offers `locales`.
pub(crate) async fn messages(
    page: Page,
    State(email): State<EmailSettings>,
    Query(query): Query<MessagesQuery>,
) -> Response {
    let lang = query.lang.unwrap_or_default();
    let preferences = lang
        .split(',')
        .map(str::trim)
        .filter(|tag| !tag.is_empty() && tag.len() <= 35)
        .take(MAX_PREFERENCES);
    let (locale, messages) = email.pages.choose(page, preferences, &email.default_locale);
    let body = serde_json::json!({
        "locale": locale,
        "locales": email.pages.locales(page),
        "messages": &*messages,
    })
    .to_string();
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::PageMessages;

    /// The `(key, text)` of every `data-i18n` element in `html`, with each `data-slot` child
    /// written as its `{placeholder}`.
    fn built_in_words(html: &str) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let mut rest = html;
        while let Some(at) = rest.find(" data-i18n=\"") {
            let tag_start = rest[..at].rfind('<').expect("inside a tag");
            let tag = rest[tag_start + 1..]
                .split([' ', '>'])
                .next()
                .unwrap()
                .to_owned();
            let after = &rest[at + " data-i18n=\"".len()..];
            let key = after[..after.find('"').unwrap()].to_owned();
            let open_end = after.find('>').unwrap() + 1;
            let inner = &after[open_end..];
            let inner = &inner[..inner.find(&format!("</{tag}>")).expect("closed")];
            let mut text = String::new();
            let mut inner_rest = inner;
            while let Some(slot) = inner_rest.find('<') {
                text.push_str(&inner_rest[..slot]);
                let slot_tag = &inner_rest[slot..];
                let name_at = slot_tag.find("data-slot=\"").expect("only slots inside") + 11;
                let name = &slot_tag[name_at..name_at + slot_tag[name_at..].find('"').unwrap()];
                text.push_str(&format!("{{{name}}}"));
                let close = slot_tag.find("</").unwrap();
                inner_rest = &slot_tag[close + slot_tag[close..].find('>').unwrap() + 1..];
            }
            text.push_str(inner_rest);
            found.push((key, text));
            rest = &after[open_end..];
        }
        found
    }

    #[test]
    fn the_words_built_into_the_pages_are_the_english_messages() {
        let messages = PageMessages::load(None, false);
        for (page, html) in [(Page::Accept, ACCEPT_HTML), (Page::Admin, ADMIN_HTML)] {
            let (_, english) = messages.choose(page, ["en"], "en");
            let words = built_in_words(html);
            assert!(words.len() > 10, "{page:?}: {words:?}");
            for (key, text) in words {
                assert_eq!(
                    english.get(&key).map(String::as_str),
                    Some(text.as_str()),
                    "{page:?}: the page's built-in text for {key:?} differs from en/{}",
                    page.file_name()
                );
            }
        }
    }

    #[test]
    fn every_key_the_admin_script_asks_for_is_in_the_english_messages() {
        let messages = PageMessages::load(None, false);
        let (_, english) = messages.choose(Page::Admin, ["en"], "en");
        // Literal keys: t("key"), plural("key", …), tNodes("key", …) and the HTML's data-i18n.
        let mut asked = Vec::new();
        for source in [ADMIN_JS, ADMIN_HTML] {
            for opener in [
                "t(\"",
                "plural(\"",
                "tNodes(\"",
                "data-i18n=\"",
                "data-i18n-title=\"",
                "data-i18n-aria-label=\"",
            ] {
                for (at, _) in source.match_indices(opener) {
                    // A call of t itself, not of split( or select(.
                    let before = source[..at].chars().next_back();
                    if before.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_') {
                        continue;
                    }
                    let after = &source[at + opener.len()..];
                    asked.push(after[..after.find('"').unwrap()].to_owned());
                }
            }
        }
        // Keys made from the API's enums: one message per value.
        let schema = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/invitations.graphql"
        ));
        for (family, name) in [
            ("state", "InvitationState"),
            ("delivery", "InvitationDeliveryStatus"),
            ("event", "InvitationEventKind"),
        ] {
            let body = &schema[schema.find(&format!("enum {name} {{")).unwrap()..];
            let body = &body[..body.find('}').unwrap()];
            let values: Vec<&str> = body
                .lines()
                .skip(1)
                .map(str::trim)
                .filter(|line| {
                    !line.is_empty() && line.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                })
                .collect();
            assert!(values.len() >= 3, "{name}: {values:?}");
            asked.extend(values.iter().map(|value| format!("{family}.{value}")));
        }
        assert!(asked.len() > 100, "{asked:?}");
        for key in asked {
            let known = english.contains_key(&key) || english.contains_key(&format!("{key}.other"));
            assert!(
                known,
                "admin UI asks for {key:?}, which en/admin.json lacks"
            );
        }
    }
}
