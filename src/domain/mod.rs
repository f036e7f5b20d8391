//! Pure types and rules: no I/O, no clock of their own (time is always passed in).

mod contact;
mod delivery;
mod duration;
mod email;
mod email_template;
mod event;
mod id;
mod invitation;
mod locale;
mod metadata;
mod outbox;
mod phone;
mod redirect;
mod sealed;
mod secret;
mod state;
mod text;
mod validation;
mod validity;
mod vocabulary;
mod webhook;

#[cfg(test)]
mod invitation_properties;

pub use contact::{Channel, Contact, Recipient};
pub use delivery::{Delivery, DeliveryStatus};
pub use duration::IsoDuration;
pub use email::EmailAddress;
pub use email_template::{
    EmailPart, MAX_TEMPLATE_BYTES, MAX_TEMPLATE_COMMENT_CHARS, TemplateKey, TemplateVersion,
    template_body, template_comment,
};
pub use event::{
    ACCEPT_HOLD, Actor, EVENT_CLAIM, EventActor, EventKind, EventType, InvitationEvent,
    OutgoingEvent,
};
pub use id::InvitationId;
pub use invitation::{
    Invitation, InvitationDetails, InvitationDraft, MAX_EVENTS, TransitionRefused,
};
pub use locale::Locale;
pub use metadata::Metadata;
pub use outbox::{
    AfterFailure, Claim, DeliveryFailure, MessageDraft, MessageKind, Outgoing, OutgoingEmail,
    OutgoingSms, QueuedMessage, RetryPolicy, Schedule,
};
pub use phone::PhoneNumber;
pub use redirect::{AllowedRedirect, RedirectUrl};
pub use sealed::{
    KeyId, MalformedKey, MessageBody, MessageKey, MessageKeys, OpenError, SealError, SealedBody,
};
pub use secret::{MalformedSecret, REDACTED, Secret, SecretDigest};
pub use state::InvitationState;
pub use text::{GroupName, Groups, PersonName, Role, Scope, TemplateVariant};
pub use validation::ValidationError;
pub use validity::ValidityPolicy;
pub use vocabulary::UnknownValue;
pub(crate) use vocabulary::string_enum;
pub use webhook::{
    AttemptOutcome, StoredSecret, WebhookAttempt, WebhookDelivery, WebhookDeliveryState,
    WebhookEndpoint, WebhookRetryPolicy, WebhookSecret, WebhookUrl, is_public_address,
    signature_header,
};
