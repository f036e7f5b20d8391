//! `/graphiql`: a small in-browser GraphQL explorer, served from the binary. It loads nothing
//! from elsewhere and runs no inline script or style, so a strict Content-Security-Policy
//! holds on the origin where the admin token lives. Its script and style are served beside it
//! (`graphiql.js`, `graphiql.css`), relative to wherever a host mounts the routes.

use axum::response::Response;

const PAGE: &str = include_str!("assets/graphiql.html");
const SCRIPT: &str = include_str!("assets/graphiql.js");
const STYLE: &str = include_str!("assets/graphiql.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    super::ui::static_asset(content_type, CSP, body)
}

pub(crate) async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}
