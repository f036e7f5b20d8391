//! Writing the messages a change queues: the invitation (to the invitee, by email or by text
//! message) and the "accepted" notice (to the inviter, by email). They are rendered when
//! queued, because the invitation holds the link and the raw secret exists only at that moment.

use chrono::{DateTime, TimeDelta, Utc};
use url::Url;

use super::InvitationService;
use crate::domain::{
    Invitation, MessageBody, MessageDraft, MessageKeys, MessageKind, QueuedMessage, Recipient,
    RetryPolicy,
};
use crate::email::{
    AcceptedContext, EmailContext, EmailTemplates, ExtendedContext, InvitationContext,
    PageMessages, RenderedEmail, TemplateProblems, format_date_time,
};

/// Most language tags taken from one `Accept-Language` header.
const MAX_REQUEST_LOCALES: usize = 8;

/// What the service needs to write emails and what the sender needs to deliver them.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub templates: EmailTemplates,
    /// The words of the invitee's page, beside the templates.
    pub pages: PageMessages,
    /// The CMS's name, as emails show it.
    pub product_name: String,
    /// The locale when neither the invitation nor the creating request names one we have.
    pub default_locale: String,
    pub retry: RetryPolicy,
    /// How long a sender holds a claimed message before another process may take it over;
    /// longer than one SMTP attempt can take.
    pub lease: TimeDelta,
    /// Seal queued bodies at rest and open them for the mailer.
    pub keys: MessageKeys,
    /// Invitation emails carry `Reply-To: <the inviter>` when the inviter has an address.
    pub reply_to_inviter: bool,
}

impl EmailSettings {
    /// The template locale for preferences in order, trying each tag, then its language,
    /// then the default.
    fn choose_locale<'a>(&'a self, preferences: impl IntoIterator<Item = &'a str>) -> String {
        self.templates.choose_locale(
            preferences
                .into_iter()
                .chain([self.default_locale.as_str()]),
            "en",
        )
    }
}

/// The language tags of an `Accept-Language` header, most preferred first (`q=0` and `*`
/// left out, at most a few, anything malformed skipped).
pub fn accept_language_tags(header: &str) -> Vec<String> {
    let mut tags: Vec<(u16, usize, String)> = header
        .split(',')
        .enumerate()
        .filter_map(|(position, item)| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), parse_weight)?;
            let valid = !tag.is_empty()
                && tag.len() <= 35
                && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            (valid && weight > 0).then(|| (weight, position, tag.to_owned()))
        })
        .collect();
    tags.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    tags.into_iter()
        .take(MAX_REQUEST_LOCALES)
        .map(|(_, _, tag)| tag)
        .collect()
}

/// A quality value (`0.8`) in thousandths; `None` when malformed.
fn parse_weight(value: &str) -> Option<u16> {
    let q: f32 = value.trim().parse().ok()?;
    // In 0..=1 by the check, so the cast cannot truncate meaningfully.
    (0.0..=1.0)
        .contains(&q)
        .then(|| (q * 1000.0).round() as u16)
}

impl InvitationService {
    /// Writes the invitation message with `url` (an email, or a text message for an SMS
    /// invitation) and queues it on `invitation`. The locale is the invitation's own, else the
    /// one chosen for its earlier message, else the creating request's `Accept-Language`, else
    /// the default. A template that fails to render marks the delivery FAILED instead of
    /// failing the change.
    pub(super) fn queue_invitation_message(
        &self,
        invitation: &mut Invitation,
        url: &Url,
        request_locales: &[String],
        now: DateTime<Utc>,
    ) {
        let email = &self.settings.email;
        let preferences: Vec<&str> = match &invitation.details.locale {
            Some(locale) => vec![locale.as_str()],
            None => invitation
                .delivery
                .locale
                .as_deref()
                .into_iter()
                .chain(request_locales.iter().map(String::as_str))
                .collect(),
        };
        // A variant is written in the first preferred locale that has it (then English, then
        // any); a variant gone from the templates since the create fails the delivery below.
        let variant = invitation.details.template.as_ref().map(|t| t.as_str());
        let locale = match variant {
            None => email.choose_locale(preferences),
            Some(variant) => email
                .templates
                .variant_locale(
                    variant,
                    preferences
                        .iter()
                        .copied()
                        .chain([email.default_locale.as_str()]),
                )
                .unwrap_or_else(|| email.choose_locale(preferences)),
        };
        let contact = &invitation.details.contact;
        let context = self.invitation_context(invitation, url, &locale);
        let to_name = invitee_name(invitation);
        let rendered = message_draft(
            &email.templates,
            contact.recipient(),
            to_name,
            &locale,
            variant,
            &EmailContext::Invitation(context),
        )
        .map(|mut draft| {
            // Replies to an email reach the inviter, when so configured; a text has no Reply-To.
            if email.reply_to_inviter && matches!(draft.to, Recipient::Email(_)) {
                draft.body.reply_to = invitation
                    .inviter_email
                    .as_ref()
                    .map(|e| e.as_str().to_owned());
            }
            draft
        });
        let queued = rendered
            .map_err(|problems| {
                tracing::error!(invitation = %invitation.id, %locale, channel = %contact.channel(), %problems, "the invitation message could not be rendered");
                "the message template could not be rendered; fix it and resend"
            })
            .and_then(|draft| self.seal(draft, now));
        match queued {
            Ok(message) => invitation.queue_email(message),
            Err(reason) => invitation.email_not_written(&locale, reason.to_owned(), now),
        }
    }

    /// What the invitation message of `invitation` says in `locale`, linking to `url`.
    pub(super) fn invitation_context(
        &self,
        invitation: &Invitation,
        url: &Url,
        locale: &str,
    ) -> InvitationContext {
        let contact = &invitation.details.contact;
        InvitationContext {
            product_name: self.settings.email.product_name.clone(),
            lang: locale.to_owned(),
            invitee_name: text(invitation.details.name.as_ref()),
            invitee_email: contact.email().map(|e| e.as_str().to_owned()),
            invitee_phone: contact.phone().map(|p| p.as_str().to_owned()),
            inviter_name: invitation.invited_by.name.clone(),
            role: self.role_name(invitation, locale),
            scope: text(invitation.details.scope.as_ref()),
            groups: invitation.details.groups.to_strings(),
            accept_url: url.to_string(),
            expires_at: format_date_time(invitation.expires_at, language(locale)),
        }
    }

    /// The role `invitation` gives, by its name in `locale`.
    fn role_name(&self, invitation: &Invitation, locale: &str) -> String {
        self.settings
            .roles
            .display_name(invitation.details.role.as_str(), locale)
            .to_owned()
    }

    /// What the "accepted" notice of `invitation` says in `locale` (accepted at `now` when it
    /// has not been).
    pub(super) fn accepted_context(
        &self,
        invitation: &Invitation,
        locale: &str,
        now: DateTime<Utc>,
    ) -> AcceptedContext {
        let contact = &invitation.details.contact;
        AcceptedContext {
            product_name: self.settings.email.product_name.clone(),
            lang: locale.to_owned(),
            inviter_name: invitation.invited_by.name.clone(),
            invitee_name: text(invitation.details.name.as_ref()),
            invitee_email: contact.email().map(|e| e.as_str().to_owned()),
            invitee_phone: contact.phone().map(|p| p.as_str().to_owned()),
            invitee_address: contact.display().to_owned(),
            role: self.role_name(invitation, locale),
            scope: text(invitation.details.scope.as_ref()),
            accepted_at: format_date_time(invitation.accepted_at.unwrap_or(now), language(locale)),
        }
    }

    /// What the "extended" notice of `invitation` says in `locale`.
    pub(super) fn extended_context(
        &self,
        invitation: &Invitation,
        locale: &str,
    ) -> ExtendedContext {
        ExtendedContext {
            product_name: self.settings.email.product_name.clone(),
            lang: locale.to_owned(),
            invitee_name: text(invitation.details.name.as_ref()),
            inviter_name: invitation.invited_by.name.clone(),
            scope: text(invitation.details.scope.as_ref()),
            expires_at: format_date_time(invitation.expires_at, language(locale)),
        }
    }

    /// Queues the "accepted" notice to the inviter, in the default locale, when the inviter
    /// has a known address. It is held until the account is provisioned (see
    /// [`Invitation::queue_held_notice`]).
    pub(super) fn queue_accepted_notice(&self, invitation: &mut Invitation, now: DateTime<Utc>) {
        let Some(to) = invitation.inviter_email.clone() else {
            return;
        };
        let email = &self.settings.email;
        let locale = email.choose_locale([]);
        let context =
            EmailContext::InvitationAccepted(self.accepted_context(invitation, &locale, now));
        let rendered = match email.templates.render(&locale, &context) {
            Ok(rendered) => rendered,
            Err(problems) => {
                tracing::error!(invitation = %invitation.id, %locale, %problems, "the accepted notice could not be rendered; not sent");
                return;
            }
        };
        let to_name = Some(invitation.invited_by.name.clone());
        let draft = draft(
            MessageKind::InvitationAccepted,
            Recipient::Email(to),
            to_name,
            rendered,
        );
        if let Ok(message) = self.seal(draft, now) {
            invitation.queue_held_notice(message, now + email.lease);
        }
    }

    /// Queues the "extended" notice to the invitee, through the invitation's channel, in the
    /// locale its invitation was written in. It carries no link. A template that fails to
    /// render is logged and the notice left out: the extension itself stands.
    pub(super) fn queue_extended_notice(&self, invitation: &mut Invitation, now: DateTime<Utc>) {
        let email = &self.settings.email;
        let preferences: Vec<&str> = invitation
            .details
            .locale
            .as_ref()
            .map(|l| l.as_str())
            .into_iter()
            .chain(invitation.delivery.locale.as_deref())
            .collect();
        let locale = email.choose_locale(preferences);
        let context = EmailContext::InvitationExtended(self.extended_context(invitation, &locale));
        let to_name = invitee_name(invitation);
        let rendered = message_draft(
            &email.templates,
            invitation.details.contact.recipient(),
            to_name,
            &locale,
            None,
            &context,
        );
        match rendered {
            Ok(draft) => {
                if let Ok(message) = self.seal(draft, now) {
                    invitation.queue_email(message);
                }
            }
            Err(problems) => {
                tracing::error!(invitation = %invitation.id, %locale, %problems, "the extended notice could not be rendered; not sent");
            }
        }
    }

    /// `draft` sealed for the outbox; on failure (no randomness) logged, with the reason an
    /// editor sees.
    fn seal(&self, draft: MessageDraft, now: DateTime<Utc>) -> Result<QueuedMessage, &'static str> {
        let kind = draft.kind;
        draft.seal(&self.settings.email.keys, now).map_err(|err| {
            tracing::error!(error = %err, %kind, "a message could not be sealed for the outbox");
            "the message could not be sealed for the outbox; resend it"
        })
    }
}

/// An optional validated text as the template contexts take it.
fn text<T: AsRef<str>>(value: Option<&T>) -> Option<String> {
    value.map(|v| v.as_ref().to_owned())
}

fn language(locale: &str) -> &str {
    locale.split('-').next().unwrap_or(locale)
}

/// `context`'s message for `to`, through its channel: an email's three parts for an address,
/// the text message for a phone; from `variant`'s templates when given.
fn message_draft(
    templates: &EmailTemplates,
    to: Recipient,
    to_name: Option<String>,
    locale: &str,
    variant: Option<&str>,
    context: &EmailContext,
) -> Result<MessageDraft, TemplateProblems> {
    let kind = context.kind();
    match to {
        Recipient::Email(_) => templates
            .render_with(locale, variant, context)
            .map(|rendered| draft(kind, to, to_name, rendered)),
        Recipient::Phone(_) => templates
            .render_sms_with(locale, variant, context)
            .map(|sms| MessageDraft {
                kind,
                to,
                to_name,
                locale: sms.locale,
                body: MessageBody::text_only(sms.text),
            }),
    }
}

fn draft(
    kind: MessageKind,
    to: Recipient,
    to_name: Option<String>,
    rendered: RenderedEmail,
) -> MessageDraft {
    MessageDraft {
        kind,
        to,
        to_name,
        locale: rendered.locale,
        body: MessageBody {
            subject: rendered.subject,
            html: rendered.html,
            text: rendered.text,
            reply_to: None,
        },
    }
}

/// The invitee's name for the message's `To:`, when the invitation has one.
fn invitee_name(invitation: &Invitation) -> Option<String> {
    invitation
        .details
        .name
        .as_ref()
        .map(|name| name.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_is_ordered_by_weight_then_position() {
        assert_eq!(
            accept_language_tags("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5"),
            ["fr-CH", "fr", "en", "de"]
        );
        assert_eq!(accept_language_tags("en;q=0.5, de"), ["de", "en"]);
        assert_eq!(accept_language_tags("de;q=0, en"), ["en"]);
        assert!(accept_language_tags("").is_empty());
        assert!(accept_language_tags("<script>, de;q=abc").is_empty());
        assert_eq!(
            accept_language_tags(&"a,".repeat(1000)).len(),
            MAX_REQUEST_LOCALES
        );
    }
}
