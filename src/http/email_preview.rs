//! `/email-preview`: every kind and locale of email rendered with sample data, for template
//! authors. The html part is shown in a sandboxed frame, the text part as text. The admin UI
//! uses the same renders as JSON (`/email-preview.json`) and the html part on its own
//! (`/email-preview/html`, framed by the admin page only).

use axum::extract::{Query, State};
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::domain::MessageKind;
use crate::email::{EmailContext, EmailPart, RenderedEmail, SmsLength, TemplateProblems};
use crate::service::EmailSettings;

#[derive(Debug, Deserialize)]
pub(crate) struct PreviewQuery {
    kind: Option<String>,
    locale: Option<String>,
    /// A variant of the invitation message; unknown ones and other kinds show the base.
    variant: Option<String>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The asked-for kind and locale (unknown ones fall back to `invitation` and the default
/// locale), the locales there are, and the render.
struct Preview {
    kind: MessageKind,
    locale: String,
    locales: Vec<String>,
    rendered: Result<RenderedEmail, TemplateProblems>,
    /// The invitation's text message and its length; `None` for other kinds.
    sms: Option<Result<(String, SmsLength), TemplateProblems>>,
}

fn preview(state: &EmailSettings, query: PreviewQuery) -> Preview {
    let locales = state.templates.locales();
    let kind = query
        .kind
        .as_deref()
        .and_then(|kind| kind.parse().ok())
        .unwrap_or(MessageKind::Invitation);
    let locale = query
        .locale
        .filter(|l| locales.contains(l))
        .unwrap_or_else(|| {
            state
                .templates
                .choose_locale([state.default_locale.as_str()], "en")
        });
    // A variant is shown in the locale it would be written in for this one.
    let variant = query
        .variant
        .filter(|v| kind == MessageKind::Invitation && state.templates.has_variant(v));
    let locale = match &variant {
        Some(variant) => state
            .templates
            .variant_locale(variant, [locale.as_str()])
            .unwrap_or(locale),
        None => locale,
    };
    let variant = variant.as_deref();
    let mut context = EmailContext::sample(kind, &locale, true);
    context.set_product_name(&state.product_name);
    let rendered = state.templates.render_with(&locale, variant, &context);
    // Messages to the invitee have a text message too.
    let sms = EmailPart::of(kind).contains(&EmailPart::Sms).then(|| {
        state
            .templates
            .render_sms_with(&locale, variant, &context)
            .map(|sms| {
                let length = SmsLength::of(&sms.text);
                (sms.text, length)
            })
    });
    Preview {
        kind,
        locale,
        locales,
        rendered,
        sms,
    }
}

/// `{kinds, locales, kind, locale, subject, text}` or `{…, problem}`; for the invitation also
/// `sms` and `smsLength` (or `smsProblem`).
pub(crate) async fn json(
    State(state): State<EmailSettings>,
    Query(query): Query<PreviewQuery>,
) -> Response {
    let Preview {
        kind,
        locale,
        locales,
        rendered,
        sms,
    } = preview(&state, query);
    let mut body = serde_json::json!({
        "kinds": MessageKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "variants": state.templates.variants(),
        "locales": locales,
        "kind": kind.as_str(),
        "locale": locale,
    });
    match rendered {
        Ok(email) => {
            body["subject"] = email.subject.into();
            body["text"] = email.text.into();
        }
        Err(problems) => body["problem"] = problems.to_string().into(),
    }
    match sms {
        Some(Ok((text, length))) => {
            body["sms"] = text.into();
            body["smsLength"] = length.to_string().into();
        }
        Some(Err(problems)) => body["smsProblem"] = problems.to_string().into(),
        None => {}
    }
    axum::Json(body).into_response()
}

/// What an email's html may do where the admin page shows it: inline styles and inline images,
/// no scripts, nothing fetched, framed by this server's pages only.
const EMAIL_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/// An empty page with the email's policy: the admin page frames it (sandboxed, without
/// scripts) and moves a rendered html part into it, so that a preview of unsaved text gets
/// the same policy as a stored one.
pub(crate) async fn frame() -> Response {
    crate::http::ui::static_asset(
        "text/html; charset=utf-8",
        EMAIL_CSP,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Email</title></head><body></body></html>",
    )
}

/// The html part alone, to be framed by the admin page: no scripts, inline styles only.
pub(crate) async fn html(
    State(state): State<EmailSettings>,
    Query(query): Query<PreviewQuery>,
) -> Response {
    let body = match preview(&state, query).rendered {
        Ok(email) => email.html,
        Err(problems) => format!("<pre>{}</pre>", escape(&problems.to_string())),
    };
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CONTENT_SECURITY_POLICY, HeaderValue::from_static(EMAIL_CSP)),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn page(
    State(state): State<EmailSettings>,
    Query(query): Query<PreviewQuery>,
) -> Response {
    let Preview {
        kind,
        locale,
        locales,
        rendered,
        sms,
    } = preview(&state, query);
    let sms = match sms {
        Some(Ok((text, length))) => format!(
            "<h2>Text message (SMS)</h2><pre>{}</pre><p>{}</p>",
            escape(&text),
            escape(&length.to_string())
        ),
        Some(Err(problems)) => format!(
            "<h2>The text message does not render</h2><pre class=\"problem\">{}</pre>",
            escape(&problems.to_string())
        ),
        None => String::new(),
    };
    let body = match rendered {
        Ok(email) => format!(
            "<h2>Subject</h2><p class=\"subject\">{}</p>\
             <h2>HTML part</h2><iframe title=\"HTML part\" sandbox srcdoc=\"{}\"></iframe>\
             <h2>Text part</h2><pre>{}</pre>{sms}",
            escape(&email.subject),
            escape(&email.html),
            escape(&email.text)
        ),
        Err(problems) => format!(
            "<h2>This template does not render</h2><pre class=\"problem\">{}</pre>",
            escape(&problems.to_string())
        ),
    };
    let options = |values: Vec<(String, String)>, selected: &str| -> String {
        values
            .into_iter()
            .map(|(value, label)| {
                let mark = if value == selected { " selected" } else { "" };
                format!(
                    "<option value=\"{}\"{mark}>{}</option>",
                    escape(&value),
                    escape(&label)
                )
            })
            .collect()
    };
    let kinds = options(
        MessageKind::ALL
            .iter()
            .map(|k| (k.as_str().to_owned(), k.as_str().to_owned()))
            .collect(),
        kind.as_str(),
    );
    let locale_options = options(
        locales.iter().map(|l| (l.clone(), l.clone())).collect(),
        &locale,
    );
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Email preview</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1c2430}}\
         iframe{{width:100%;height:34rem;border:1px solid #d6d9de;border-radius:6px}}\
         pre{{white-space:pre-wrap;background:#f6f7f9;padding:1rem;border-radius:6px}}\
         .subject{{font-weight:600}} form{{display:flex;gap:1rem;align-items:end}}</style></head><body>\
         <h1>Email preview</h1><p>Sample data, rendered with the templates this server uses.</p>\
         <form method=\"get\"><label>Kind <select name=\"kind\">{kinds}</select></label>\
         <label>Locale <select name=\"locale\">{locale_options}</select></label>\
         <button type=\"submit\">Show</button></form>{body}</body></html>"
    );
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
                ),
            ),
        ],
        html,
    )
        .into_response()
}
