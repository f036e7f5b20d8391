//! Pure types and rules: no I/O, no clock of their own (time is always passed in).

mod delivery;
mod duration;
mod email;
mod event;
mod id;
mod invitation;
mod locale;
mod metadata;
mod outbox;
mod redirect;
mod secret;
mod state;
mod text;
mod validation;
mod validity;

#[cfg(test)]
mod invitation_properties;

pub use delivery::{Delivery, DeliveryStatus, UnknownDeliveryStatus};
pub use duration::IsoDuration;
pub use email::EmailAddress;
pub use event::{Actor, EventActor, EventKind, InvitationEvent, UnknownEventKind};
pub use id::InvitationId;
pub use invitation::{Invitation, InvitationDraft, TransitionRefused};
pub use locale::Locale;
pub use metadata::Metadata;
pub use outbox::{
    AfterFailure, Claim, DeliveryFailure, MessageKind, QueuedMessage, RetryPolicy, Schedule,
    UnknownMessageKind,
};
pub use redirect::{AllowedRedirect, RedirectUrl};
pub use secret::{MalformedSecret, Secret, SecretDigest};
pub use state::{InvitationState, UnknownState};
pub use text::{GroupName, Groups, PersonName, Role, Scope};
pub use validation::ValidationError;
pub use validity::ValidityPolicy;
