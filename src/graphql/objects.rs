//! Output types: `Invitation`, `PublicInvitation` and what hangs off them.

use async_graphql::{ComplexObject, Context, ID, Object, SimpleObject};
use chrono::Utc;

use super::enums::{Channel, DeliveryStatus, EventActorKind, EventKind, InvitationState};
use super::errors::IntoGraphql;
use super::scalars::{DateTime, Duration, Json};
use url::Url;

use crate::domain::{self, EventActor, REDACTED, Secret};
use crate::service::{self, Minted};

/// An invitation as editors see it. `state` and the derived flags are computed at the moment
/// of the request, so a PENDING invitation past `expiresAt` reads as EXPIRED even before the
/// sweeper has persisted it.
#[derive(Debug, Clone)]
pub struct Invitation {
    invitation: domain::Invitation,
    now: chrono::DateTime<Utc>,
    minted: Option<MintedLink>,
}

/// What the minting response shows once. `Debug` shows neither.
#[derive(Clone)]
struct MintedLink {
    secret: Secret,
    invite_url: Url,
}

impl std::fmt::Debug for MintedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedLink")
            .field("secret", &self.secret)
            .field("invite_url", &REDACTED)
            .finish()
    }
}

impl Invitation {
    pub(crate) fn new(invitation: domain::Invitation, now: chrono::DateTime<Utc>) -> Self {
        Self {
            invitation,
            now,
            minted: None,
        }
    }

    /// The response of the mutation that minted a secret: the only place it is shown.
    pub(crate) fn minted(minted: Minted, now: chrono::DateTime<Utc>) -> Self {
        Self {
            minted: Some(MintedLink {
                secret: minted.secret,
                invite_url: minted.invite_url,
            }),
            ..Self::new(minted.invitation, now)
        }
    }
}

#[Object(name = "Invitation")]
impl Invitation {
    async fn id(&self) -> ID {
        ID(self.invitation.id.to_string())
    }

    /// As typed; uniqueness uses a normalized form. `null` for an SMS invitation without one.
    async fn email(&self) -> Option<&str> {
        self.invitation.details.contact.email().map(|e| e.as_str())
    }

    /// The mobile number in E.164; `null` when none was given.
    async fn phone(&self) -> Option<&str> {
        self.invitation.details.contact.phone().map(|p| p.as_str())
    }

    /// How the invitation reaches the invitee; `delivery` follows that channel.
    async fn channel(&self) -> Channel {
        self.invitation.details.contact.channel().into()
    }

    async fn name(&self) -> Option<&str> {
        self.invitation.details.name.as_ref().map(|n| n.as_str())
    }

    /// The role the account gets on acceptance.
    async fn role(&self) -> &str {
        self.invitation.details.role.as_str()
    }

    /// The variant of the invitation message it was created with; `null`: the base template.
    /// A resend uses it again.
    async fn template(&self) -> Option<&str> {
        self.invitation
            .details
            .template
            .as_ref()
            .map(|t| t.as_str())
    }

    async fn groups(&self) -> Vec<&str> {
        self.invitation.details.groups.iter().collect()
    }

    /// Copied to the account on acceptance.
    async fn metadata(&self) -> Json {
        Json(serde_json::Value::Object(
            self.invitation.details.metadata.as_map().clone(),
        ))
    }

    /// BCP 47; the email's language.
    async fn locale(&self) -> Option<&str> {
        self.invitation.details.locale.as_ref().map(|l| l.as_str())
    }

    /// Team, workspace or company the invitation is for.
    async fn scope(&self) -> Option<&str> {
        self.invitation.details.scope.as_ref().map(|s| s.as_str())
    }

    async fn redirect_url(&self) -> Option<&str> {
        self.invitation
            .details
            .redirect_url
            .as_ref()
            .map(|u| u.as_str())
    }

    async fn invited_by(&self) -> InvitationActor {
        InvitationActor::from(&self.invitation.invited_by)
    }

    /// Only in the response of the `createInvitation`/`createInvitations`/`resendInvitation`
    /// call that minted it; `null` everywhere else. It is stored only as a digest.
    async fn secret(&self) -> Option<&str> {
        self.minted.as_ref().map(|m| m.secret.expose())
    }

    /// The link to send, with the secret in its fragment. Same visibility as `secret`.
    async fn invite_url(&self) -> Option<&str> {
        self.minted.as_ref().map(|m| m.invite_url.as_str())
    }

    async fn state(&self) -> InvitationState {
        self.invitation.state_at(self.now).into()
    }

    async fn accepted_at(&self) -> Option<DateTime> {
        self.invitation.accepted_at.map(DateTime::from)
    }

    async fn created_at(&self) -> DateTime {
        self.invitation.created_at.into()
    }

    async fn updated_at(&self) -> DateTime {
        self.invitation.updated_at.into()
    }

    async fn expires_at(&self) -> DateTime {
        self.invitation.expires_at.into()
    }

    async fn revoked_at(&self) -> Option<DateTime> {
        self.invitation.revoked_at.map(DateTime::from)
    }

    async fn declined_at(&self) -> Option<DateTime> {
        self.invitation.declined_at.map(DateTime::from)
    }

    /// The account the invitation was accepted into.
    async fn accepted_user_id(&self) -> Option<ID> {
        self.invitation.accepted_user_id.clone().map(ID)
    }

    /// How many links were minted: 1 after creation, +1 per resend.
    async fn send_count(&self) -> u32 {
        self.invitation.send_count
    }

    async fn last_sent_at(&self) -> Option<DateTime> {
        self.invitation.last_sent_at.map(DateTime::from)
    }

    /// Whether the latest email went out.
    async fn delivery(&self) -> InvitationDelivery {
        InvitationDelivery::from(&self.invitation.delivery)
    }

    /// Whether `resendInvitation` would succeed now (PENDING or EXPIRED).
    async fn is_resendable(&self) -> bool {
        self.invitation.is_resendable(self.now)
    }

    /// Whether `revokeInvitation` would succeed now (PENDING and not expired).
    async fn is_revocable(&self) -> bool {
        self.invitation.is_revocable(self.now)
    }

    /// Everything that happened to the invitation, oldest first.
    async fn events(&self) -> Vec<InvitationEvent> {
        self.invitation
            .events
            .iter()
            .map(InvitationEvent::from)
            .collect()
    }
}

/// What the holder of a secret may see: enough to say who invited them to what.
#[derive(Debug, Clone)]
pub struct PublicInvitation {
    invitation: domain::Invitation,
    now: chrono::DateTime<Utc>,
}

impl PublicInvitation {
    pub(crate) fn new(invitation: domain::Invitation, now: chrono::DateTime<Utc>) -> Self {
        Self { invitation, now }
    }
}

impl PublicInvitation {
    /// The invitation's details while it can still be acted on; nothing once it is accepted,
    /// revoked or declined, so an old link tells a finder no more than that.
    fn open(&self) -> Option<&domain::Invitation> {
        (!self.invitation.state_at(self.now).is_final()).then_some(&self.invitation)
    }
}

/// What the holder of a link sees. Once the invitation is accepted, revoked or declined only
/// `state` and `locale` are filled; every other field is `null`.
#[Object(name = "PublicInvitation")]
impl PublicInvitation {
    async fn email(&self) -> Option<&str> {
        self.open()?.details.contact.email().map(|e| e.as_str())
    }

    /// The mobile number, masked (`+49 •••••••••78`): the link's holder sees which phone it
    /// was sent to, not the number.
    async fn phone(&self) -> Option<String> {
        self.open()?.details.contact.phone().map(|p| p.masked())
    }

    async fn channel(&self) -> Option<Channel> {
        self.open().map(|i| i.details.contact.channel().into())
    }

    async fn name(&self) -> Option<&str> {
        self.open()?.details.name.as_ref().map(|n| n.as_str())
    }

    async fn role(&self) -> Option<&str> {
        self.open().map(|i| i.details.role.as_str())
    }

    async fn scope(&self) -> Option<&str> {
        self.open()?.details.scope.as_ref().map(|s| s.as_str())
    }

    /// Display name of whoever sent the invitation.
    async fn inviter_name(&self) -> Option<&str> {
        self.open().map(|i| i.invited_by.name.as_str())
    }

    /// PENDING means it can be accepted or declined now.
    async fn state(&self) -> InvitationState {
        self.invitation.state_at(self.now).into()
    }

    async fn expires_at(&self) -> Option<DateTime> {
        self.open().map(|i| i.expires_at.into())
    }

    /// The role by the name people read, in the invitee's language (`locale`, else the
    /// default); `role` stays the identifier.
    async fn role_name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let Some(invitation) = self.open() else {
            return Ok(None);
        };
        let settings = super::InvitationsModule::of(ctx)?.service.settings();
        let locale = invitation
            .details
            .locale
            .as_ref()
            .map(|l| l.as_str())
            .or(invitation.delivery.locale.as_deref())
            .unwrap_or(&settings.email.default_locale);
        let role = invitation.details.role.as_str();
        Ok(Some(settings.roles.display_name(role, locale).to_owned()))
    }

    /// The invitee's language: the invitation's locale, else the one its email was written
    /// in. The accept page speaks it, in every state.
    async fn locale(&self) -> Option<&str> {
        let invitation = &self.invitation;
        invitation
            .details
            .locale
            .as_ref()
            .map(|l| l.as_str())
            .or(invitation.delivery.locale.as_deref())
    }
}

/// An editor (or host user) as recorded on an invitation.
#[derive(SimpleObject, Debug, Clone)]
pub struct InvitationActor {
    pub id: ID,
    pub name: String,
}

impl From<&domain::Actor> for InvitationActor {
    fn from(actor: &domain::Actor) -> Self {
        Self {
            id: ID(actor.id.clone()),
            name: actor.name.clone(),
        }
    }
}

#[derive(SimpleObject, Debug, Clone)]
pub struct InvitationDelivery {
    pub status: DeliveryStatus,
    /// Sending attempts for the latest email.
    pub attempts: u32,
    /// Why the latest attempt failed, as the mail server said it.
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime>,
    /// The template locale the email was written in (`de` for an invitation in `de-AT`).
    pub locale: Option<String>,
}

impl From<&domain::Delivery> for InvitationDelivery {
    fn from(delivery: &domain::Delivery) -> Self {
        Self {
            status: delivery.status.into(),
            attempts: delivery.attempts,
            last_error: delivery.last_error.clone(),
            last_attempt_at: delivery.last_attempt_at.map(DateTime::from),
            locale: delivery.locale.clone(),
        }
    }
}

#[derive(SimpleObject, Debug, Clone)]
pub struct InvitationEvent {
    pub kind: EventKind,
    pub at: DateTime,
    pub actor_kind: EventActorKind,
    /// The editor, when `actorKind` is EDITOR.
    pub actor: Option<InvitationActor>,
}

impl From<&domain::InvitationEvent> for InvitationEvent {
    fn from(event: &domain::InvitationEvent) -> Self {
        let (actor_kind, actor) = match &event.actor {
            EventActor::Editor(actor) => (EventActorKind::Editor, Some(actor.into())),
            EventActor::Invitee => (EventActorKind::Invitee, None),
            EventActor::System => (EventActorKind::System, None),
        };
        Self {
            kind: event.kind.into(),
            at: event.at.into(),
            actor_kind,
            actor,
        }
    }
}

#[derive(SimpleObject, Debug, Clone)]
pub struct InvitationEdge {
    /// Pass as `after` to continue after this invitation.
    pub cursor: String,
    pub node: Invitation,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct InvitationPageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct InvitationConnection {
    pub nodes: Vec<Invitation>,
    pub edges: Vec<InvitationEdge>,
    pub page_info: InvitationPageInfo,
    /// Counted only when the query selects `totalCount`.
    #[graphql(skip)]
    pub total_count: Option<u64>,
}

#[ComplexObject]
impl InvitationConnection {
    /// Matches of the filter, across all pages. Reused for up to the server's
    /// `count_max_age` (one second by default) by listings with the same filter, except that
    /// a change made through the same server shows at once.
    async fn total_count(&self) -> async_graphql::Result<u64> {
        self.total_count
            .ok_or_else(|| crate::error::Error::internal("totalCount was selected but not counted"))
            .gql()
    }
}

#[derive(SimpleObject, Debug, Clone)]
pub struct BulkInvitationResult {
    pub created: u32,
    pub failed: u32,
    /// One item per input, in input order.
    pub items: Vec<BulkInvitationItem>,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct BulkInvitationItem {
    /// Position of the input this item answers.
    pub index: u32,
    pub invitation: Option<Invitation>,
    pub error: Option<InvitationBulkError>,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct InvitationBulkError {
    /// One of the API's error codes.
    pub code: String,
    pub message: String,
    /// The input field, for VALIDATION_FAILED.
    pub field: Option<String>,
    /// The PENDING invitation in the way, for DUPLICATE_PENDING_INVITATION.
    pub invitation_id: Option<ID>,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct AcceptInvitationResult {
    pub invitation: PublicInvitation,
    /// The account the invitation was accepted into.
    pub user_id: ID,
    /// True when the role and groups were attached to an account that existed already.
    pub existing_user: bool,
}

/// The caller, as an admin UI needs to know it: what to show and which roles to offer.
#[derive(SimpleObject, Debug, Clone)]
pub struct InvitationViewer {
    pub id: ID,
    pub name: String,
    /// May list and read invitations.
    pub can_read: bool,
    /// Roles this caller may give in an invitation (empty: may not create, resend or revoke).
    pub grantable_roles: Vec<String>,
    /// Locales that have email templates.
    pub email_locales: Vec<String>,
    /// The email locale of invitations that name none (and whose request names none).
    pub default_locale: String,
    pub default_validity: Duration,
    pub min_validity: Duration,
    pub max_validity: Duration,
    /// May manage webhook endpoints (admins).
    pub can_manage_webhooks: bool,
    /// May delete invitations and erase invitees (admins; within their scopes).
    pub can_erase: bool,
    /// May save, revert and delete stored email templates (admins and designers, unscoped).
    pub can_edit_templates: bool,
    /// The event types webhook endpoints and the subscription can ask for.
    pub event_types: Vec<String>,
    /// The scopes the caller is limited to: it sees, manages and creates invitations in
    /// these only (a create must name one). `null`: every scope.
    pub scopes: Option<Vec<String>>,
    /// The groups the caller may put invitees in. `null`: any group.
    pub grantable_groups: Option<Vec<String>>,
    /// Every invitee role with its display name in the language `invitationViewer` was asked
    /// for, in the configured order.
    pub role_names: Vec<RoleName>,
    /// The variants of the invitation message a create may name in `template`.
    pub template_variants: Vec<String>,
}

/// A role's identifier and the name people read.
#[derive(SimpleObject, Debug, Clone)]
pub struct RoleName {
    pub role: String,
    pub name: String,
}

impl From<service::Viewer> for InvitationViewer {
    fn from(viewer: service::Viewer) -> Self {
        Self {
            id: ID(viewer.actor.id),
            name: viewer.actor.name,
            can_read: viewer.can_read,
            grantable_roles: viewer.grantable_roles,
            email_locales: viewer.email_locales,
            default_locale: viewer.default_locale,
            default_validity: viewer.default_validity.into(),
            min_validity: viewer.min_validity.into(),
            max_validity: viewer.max_validity.into(),
            can_manage_webhooks: viewer.can_manage_webhooks,
            can_erase: viewer.can_erase,
            can_edit_templates: viewer.can_edit_templates,
            event_types: viewer.event_types,
            scopes: viewer.scopes,
            grantable_groups: viewer.grantable_groups,
            role_names: viewer
                .role_names
                .into_iter()
                .map(|(role, name)| RoleName { role, name })
                .collect(),
            template_variants: viewer.template_variants,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_link_prints_neither_secret_nor_link() {
        let secret = Secret::generate().unwrap();
        let url = Url::parse(&format!(
            "https://x.example/accept#secret={}",
            secret.expose()
        ));
        let link = MintedLink {
            secret: secret.clone(),
            invite_url: url.unwrap(),
        };
        let printed = format!("{link:?}");
        assert!(!printed.contains(secret.expose()), "{printed}");
    }
}
