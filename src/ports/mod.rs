//! Ports: the traits through which the use cases reach the world, and the types they exchange.
//!
//! The service depends on these and on nothing that implements them. Adapters implement them
//! and depend on these, never on the service: the stores (`crate::store`), the SMTP and `.eml`
//! mailers (`crate::email`), the standalone server's account provisioner and API tokens
//! (`crate::standalone`), and whatever an embedding host brings. A new capability (events,
//! SMS) adds its port here.

mod account;
mod auth;
mod clock;
mod events;
mod listing;
mod mailer;
mod principal;
mod provisioner;
mod sms;
mod store;
mod templates;
mod token;
mod webhook;

pub use account::Account;
pub use auth::{Anonymous, Authenticator};
pub use clock::{Clock, ManualClock, SystemClock, truncate_to_millis};
pub use events::{
    EventStore, FeedPosition, FeedStream, InvitationListener, LoggedEvent, SharedEventFeed,
};
pub use listing::{
    Cursor, InvitationFilter, ListQuery, Page, PieceStart, SortDirection, SortField, SortKey,
    SortValue,
};
pub use mailer::Mailer;
pub use principal::Principal;
pub use provisioner::{AcceptInput, AccountProvisioner, ProvisionPlan};
pub use sms::SmsSender;
pub use store::{
    AccountStore, Erasure, InvitationStore, Store, StoreError, StoreResult, TokenStore,
};
pub use templates::{TemplateStore, template_revision};
pub use token::ApiTokenRecord;
pub use webhook::{WebhookRequest, WebhookResponse, WebhookTransport};
