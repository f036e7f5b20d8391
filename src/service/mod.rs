//! Use cases: create, resend, revoke, accept, decline, look up, list, sweep.
//!
//! Each use case checks permissions, parses input into domain types, applies one domain
//! transition and persists it with an optimistic revision check (re-reading and deciding
//! again on a conflict), so concurrent requests never apply a rule twice.

mod counts;
mod create;
mod emails;
mod input;
mod lifecycle;
mod links;
mod principal;
mod public;
mod sender;
mod sweeper;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;
use url::Url;

pub use emails::{EmailSettings, accept_language_tags};
pub use input::{AcceptInput, CreateInvitation, OnDuplicate};
pub use links::invite_url;
pub use principal::Principal;
pub use public::Accepted;
pub use sender::{DeliveryReport, Mailer};
pub use sweeper::SweepReport;

use crate::accounts::AccountProvisioner;
use crate::clock::Clock;
use crate::config::{Config, RolePolicy};
use crate::domain::{
    AllowedRedirect, Invitation, InvitationId, IsoDuration, RetryPolicy, Secret, ValidityPolicy,
};
use crate::email::EmailTemplates;
use crate::error::{Error, Result};
use crate::store::{InvitationFilter, ListQuery, Page, Store, StoreError};
use counts::TotalCounts;

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
}

impl Settings {
    /// `accept_url` falls back to the standalone server's own `/accept` page. Loads the email
    /// templates (INTERNAL, listing the problems, when they do not compile).
    pub fn from_config(config: &Config) -> Result<Self> {
        let templates = EmailTemplates::load(
            config.email_templates_dir.as_deref(),
            config.email_templates_reload,
        )
        .map_err(|problems| {
            Error::internal(format!("the email templates do not compile:\n{problems}"))
        })?;
        let send_timeout = config.email_send_timeout.as_time_delta();
        let email = EmailSettings {
            templates,
            product_name: config.email_product_name.clone(),
            default_locale: config.default_locale.as_str().to_owned(),
            retry: RetryPolicy {
                initial: config.email_retry_initial.as_time_delta(),
                max: config.email_retry_max.as_time_delta(),
                max_attempts: config.email_max_attempts,
            },
            // One attempt is several SMTP commands, each bounded by the timeout.
            lease: (send_timeout * 10).max(TimeDelta::minutes(1)),
        };
        let accept_url = match &config.accept_url {
            Some(url) => url.clone(),
            None => Url::parse(&format!("http://{}/accept", config.listen))
                .map_err(|_| Error::internal("the listen address does not make a URL"))?,
        };
        Ok(Self {
            validity: config.validity,
            roles: config.roles.clone(),
            redirect_allow_list: config.redirect_allow_list.clone(),
            metadata_max_bytes: config.metadata_max_bytes,
            accept_url,
            retention: config.retention,
            email,
            count_max_age: config.count_max_age.as_time_delta(),
        })
    }
}

/// An invitation with the secret that was just minted for it. The only place the raw secret
/// and the link exist, besides the queued email.
#[derive(Debug, Clone)]
pub struct Minted {
    pub invitation: Invitation,
    pub secret: Secret,
    pub invite_url: Url,
}

/// Whether a listing counts all its matches, which costs far more than a page: an exact
/// count walks every matching index entry.
///
/// The count is shared by the listings of the same filter that run at the same time, and
/// reused for up to [`Settings::count_max_age`]. Every change this process makes that can
/// move a count (a new invitation, a change of state or expiry, a purge) drops the reused
/// counts; changes by other processes and expiry with time show within the max age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    Count,
    Skip,
}

/// A page of invitations, with the number of all matches when it was asked for.
#[derive(Debug, Clone)]
pub struct Listing {
    pub items: Vec<Invitation>,
    pub has_next_page: bool,
    pub total_count: Option<u64>,
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
}

impl InvitationService {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        provisioner: Arc<dyn AccountProvisioner>,
        settings: Settings,
    ) -> Self {
        Self {
            store,
            clock,
            provisioner,
            total_counts: Arc::new(TotalCounts::new(settings.count_max_age)),
            settings: Arc::new(settings),
            outbox_ready: Arc::new(Notify::new()),
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
        principal::require_reader(principal)?;
        self.store.get(id).await?.ok_or(Error::NotFound)
    }

    /// A page of invitations, for editors, and the number of all matches if `total` asks.
    pub async fn list(
        &self,
        principal: Option<&Principal>,
        query: &ListQuery,
        total: Total,
    ) -> Result<Listing> {
        principal::require_reader(principal)?;
        let now = self.clock.now();
        let page = async { Ok(self.store.list(query, now).await?) };
        let total_count = async {
            match total {
                Total::Count => self.total_count(&query.filter, now).await.map(Some),
                Total::Skip => Ok(None),
            }
        };
        let (
            Page {
                items,
                has_next_page,
            },
            total_count,
        ) = tokio::try_join!(page, total_count)?;
        Ok(Listing {
            items,
            has_next_page,
            total_count,
        })
    }

    async fn total_count(&self, filter: &InvitationFilter, now: DateTime<Utc>) -> Result<u64> {
        let count = || {
            let (store, filter) = (Arc::clone(&self.store), filter.clone());
            async move { Ok(store.count(&filter, now).await?) }
        };
        self.total_counts.total(filter, now, count).await
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
