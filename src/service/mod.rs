//! Use cases: create, resend, revoke, accept, decline, look up, list, sweep.
//!
//! Each use case checks permissions, parses input into domain types, applies one domain
//! transition and persists it with an optimistic revision check (re-reading and deciding
//! again on a conflict), so concurrent requests never apply a rule twice.

mod counts;
mod create;
mod emails;
mod erasure;
mod events;
mod input;
mod lifecycle;
mod links;
mod listing;
mod permissions;
mod public;
mod quota;
mod sender;
mod sweeper;
mod templates;
mod viewer;
mod webhooks;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;
use url::Url;

/// What template authors read, as the service's clients see it.
pub use crate::email::{
    DraftPreview, TemplateInfo, TemplateOrigin, TemplateProblem, TemplateVariable, author_line,
    template_variable_samples,
};
/// The listing vocabulary and the caller, as the service's clients speak them.
pub use crate::ports::{
    AcceptInput, InvitationFilter, Principal, SortDirection, SortField, SortKey,
};
pub use emails::{EmailSettings, accept_language_tags};
pub use input::{CreateInvitation, OnDuplicate};
pub use links::invite_url;
pub use listing::{ListRequest, Listing, Total};
pub use public::Accepted;
pub use sender::{Couriers, DeliveryReport};
pub use sweeper::SweepReport;
pub use templates::{MAX_TEMPLATE_VERSIONS, SaveTemplate, TEMPLATE_POLL, TemplateRef};
pub use viewer::Viewer;
pub use webhooks::{
    EndpointInput, EndpointWithSecret, MAX_DELIVERY_PAGE, MAX_ENDPOINTS, WebhookReport,
    WebhookSettings,
};

use crate::config::{Config, RolePolicy};
use crate::domain::{
    AllowedRedirect, Invitation, InvitationId, IsoDuration, MessageKeys, REDACTED, RetryPolicy,
    Secret, ValidityPolicy,
};
use crate::email::{EmailTemplates, PageMessages};
use crate::error::{Error, Result};
use crate::ports::Clock;
use crate::ports::{AccountProvisioner, Store, StoreError};
use counts::TotalCounts;
use quota::EmailQuota;

/// The parts of the configuration the use cases need.
#[derive(Debug, Clone)]
pub struct Settings {
    pub validity: ValidityPolicy,
    pub roles: RolePolicy,
    pub redirect_allow_list: Vec<AllowedRedirect>,
    pub metadata_max_bytes: usize,
    /// Where invitation links point when the invitation has no `redirectUrl`.
    pub accept_url: Url,
    pub retention: Option<IsoDuration>,
    pub email: EmailSettings,
    /// How long a listing's `totalCount` may be reused (see [`Total`]); zero counts every time.
    pub count_max_age: TimeDelta,
    /// Invitation emails one principal may queue per hour; 0: no quota.
    pub email_quota_per_hour: u32,
    /// Shortest time between two emails of one invitation.
    pub resend_cooldown: TimeDelta,
    pub webhooks: WebhookSettings,
}

impl Settings {
    /// `accept_url` falls back to the standalone server's own `/accept` page. Loads the email
    /// templates (INTERNAL, listing the problems, when they do not compile). The message key
    /// must be configured (the standalone server makes one for SQLite).
    pub fn from_config(config: &Config) -> Result<Self> {
        let templates = EmailTemplates::load(
            config.email.email_templates_dir.as_deref(),
            config.email.email_templates_reload,
        )
        .map_err(|problems| {
            Error::internal(format!("the email templates do not compile:\n{problems}"))
        })?;
        let send_timeout = config.email.email_send_timeout.as_time_delta();
        let email = EmailSettings {
            templates,
            pages: PageMessages::load(
                config.email.email_templates_dir.as_deref(),
                config.email.email_templates_reload,
            ),
            product_name: config.email.email_product_name.clone(),
            reply_to_inviter: config.email.email_reply_to_inviter,
            default_locale: config.email.default_locale.as_str().to_owned(),
            retry: RetryPolicy {
                initial: config.email.email_retry_initial.as_time_delta(),
                max: config.email.email_retry_max.as_time_delta(),
                max_attempts: config.email.email_max_attempts,
            },
            // An attempt is bounded by the send timeout; the lease outlasts it many times over.
            lease: (send_timeout * 10).max(TimeDelta::minutes(1)),
            keys: MessageKeys::new(
                config.email.message_key.clone().ok_or_else(|| {
                    Error::internal(
                        "no message key: set message_key (INVITATIONS_MESSAGE_KEY or \
                         INVITATIONS_MESSAGE_KEY_FILE) to seal queued emails at rest",
                    )
                })?,
                config.email.previous_message_keys.clone(),
            ),
        };
        let accept_url = match &config.rules.accept_url {
            Some(url) => url.clone(),
            None => Url::parse(&format!("http://{}/accept", config.http.listen))
                .map_err(|_| Error::internal("the listen address does not make a URL"))?,
        };
        Ok(Self {
            validity: config.validity,
            roles: config.roles.clone(),
            redirect_allow_list: config.rules.redirect_allow_list.clone(),
            metadata_max_bytes: config.rules.metadata_max_bytes,
            accept_url,
            retention: config.store.retention,
            email,
            count_max_age: config.store.count_max_age.as_time_delta(),
            email_quota_per_hour: config.rules.email_quota_per_hour,
            resend_cooldown: config.rules.resend_cooldown.as_time_delta(),
            webhooks: WebhookSettings::from_config(&config.webhooks),
        })
    }
}

/// An invitation with the secret that was just minted for it. The only place the raw secret
/// and the link exist, besides the queued email. `Debug` shows neither.
#[derive(Clone)]
pub struct Minted {
    pub invitation: Invitation,
    pub secret: Secret,
    pub invite_url: Url,
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minted")
            .field("invitation", &self.invitation)
            .field("secret", &self.secret)
            .field("invite_url", &REDACTED)
            .finish()
    }
}

/// How many times a use case re-reads after losing a race before it reports UNAVAILABLE.
const MAX_CONFLICT_RETRIES: usize = 8;

#[derive(Debug, Clone)]
pub struct InvitationService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    provisioner: Arc<dyn AccountProvisioner>,
    settings: Arc<Settings>,
    /// Woken when a change queues an email, so the sender does not wait for its next poll.
    outbox_ready: Arc<Notify>,
    total_counts: Arc<TotalCounts>,
    email_quota: Arc<EmailQuota>,
    events: Arc<events::EventRuntime>,
    /// Held while the stored templates are read and compiled (see `refresh_templates`).
    template_refresh: Arc<tokio::sync::Mutex<()>>,
}

impl InvitationService {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        provisioner: Arc<dyn AccountProvisioner>,
        settings: Settings,
    ) -> Self {
        let local_feed = store.shared_feed().is_none();
        Self {
            store,
            clock,
            provisioner,
            total_counts: Arc::new(TotalCounts::new(settings.count_max_age)),
            email_quota: Arc::new(EmailQuota::new(settings.email_quota_per_hour)),
            events: Arc::new(events::EventRuntime::new(
                settings.webhooks.subscription_buffer,
                local_feed,
            )),
            settings: Arc::new(settings),
            outbox_ready: Arc::new(Notify::new()),
            template_refresh: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// One invitation, for editors. NOT_FOUND when there is none.
    pub async fn get(&self, principal: Option<&Principal>, id: InvitationId) -> Result<Invitation> {
        let principal = permissions::require_reader(principal)?;
        let invitation = self.store.get(id).await?.ok_or(Error::NotFound)?;
        permissions::require_reach(principal, &invitation)?;
        Ok(invitation)
    }

    /// Called after every write that may change which invitations a filter matches.
    fn counts_changed(&self) {
        self.total_counts.invalidate();
    }

    /// Checks the store answers.
    pub async fn ready(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    /// Reads `id`, then applies `change` as [`Self::transition_from`] does.
    async fn transition(
        &self,
        id: InvitationId,
        change: impl FnMut(&mut Invitation, DateTime<Utc>) -> Result<()>,
    ) -> Result<Invitation> {
        let current = self.store.get(id).await?.ok_or(Error::NotFound)?;
        self.transition_from(current, change).await
    }

    /// Applies `change` to `current` (a copy the caller has just read) and writes it back; on a
    /// lost race, re-reads and applies again. The decision is always made on the latest state,
    /// and without a race nothing is read twice. NOT_FOUND when the invitation is gone.
    async fn transition_from(
        &self,
        current: Invitation,
        mut change: impl FnMut(&mut Invitation, DateTime<Utc>) -> Result<()>,
    ) -> Result<Invitation> {
        self.write_if(current, |invitation, now| change(invitation, now).map(Some))
            .await?
            .map(|(invitation, ())| invitation)
            .ok_or(Error::NotFound)
    }

    /// The one conditional-write loop: applies `change` to `current` and writes it if the
    /// stored revision is still the one read; on a lost race, re-reads and applies again (at
    /// most [`MAX_CONFLICT_RETRIES`] times, then UNAVAILABLE). `Ok(None)`, with no write, when
    /// `change` finds nothing to do or the invitation is gone.
    async fn write_if<T>(
        &self,
        current: Invitation,
        change: impl FnMut(&mut Invitation, DateTime<Utc>) -> Result<Option<T>>,
    ) -> Result<Option<(Invitation, T)>> {
        let written = self.write_quietly(current, change).await?;
        if let Some((invitation, _)) = &written {
            self.announce(invitation);
        }
        Ok(written)
    }

    /// [`Self::write_if`] without handing the record's events to the dispatcher: for the
    /// dispatcher's own writes, which publish what they claim themselves.
    async fn write_quietly<T>(
        &self,
        mut current: Invitation,
        mut change: impl FnMut(&mut Invitation, DateTime<Utc>) -> Result<Option<T>>,
    ) -> Result<Option<(Invitation, T)>> {
        let id = current.id;
        for _ in 0..MAX_CONFLICT_RETRIES {
            let counted_as = (current.stored_state, current.expires_at);
            let Some(out) = change(&mut current, self.clock.now())? else {
                return Ok(None);
            };
            match self.store.update(&current).await {
                Ok(revision) => {
                    current.revision = revision;
                    if (current.stored_state, current.expires_at) != counted_as {
                        self.counts_changed();
                    }
                    return Ok(Some((current, out)));
                }
                Err(StoreError::Conflict) => match self.store.get(id).await? {
                    Some(fresh) => current = fresh,
                    None => return Ok(None),
                },
                Err(err) => return Err(err.into()),
            }
        }
        Err(Error::Unavailable(
            "too much contention on one invitation".into(),
        ))
    }
}
