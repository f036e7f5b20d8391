//! `Subscription`: invitation events as they happen, over GraphQL over WebSocket.

use std::sync::Arc;

use super::scalars::DateTime;
use async_graphql::{Context, ErrorExtensions as _, ID, SimpleObject, Subscription};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::errors::IntoGraphql;
use super::objects::Invitation;
use super::{Caller, InvitationsModule};
use crate::domain::{EventActor, EventType};
use crate::error::{Error, ErrorCode};
use crate::ports::{LoggedEvent, Principal};

/// Who caused an event.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "InvitationEventActorRef")]
pub struct EventActorRef {
    /// EDITOR, INVITEE or SYSTEM.
    kind: String,
    id: Option<String>,
    name: Option<String>,
}

/// One event, as the subscription delivers it.
#[derive(SimpleObject, Debug, Clone)]
pub struct InvitationEventMessage {
    /// The event's id: the same in the webhook body's log and on every instance.
    id: ID,
    /// `invitation.created`, `invitation.accepted`, …
    #[graphql(name = "type")]
    event_type: String,
    at: DateTime,
    /// The invitation as it is when the event reaches this server; `null` once it is deleted.
    invitation: Option<Invitation>,
    actor: EventActorRef,
}

/// The module's subscription, ready to merge into a host's `MergedSubscription`.
#[derive(Debug, Default, Clone, Copy)]
pub struct InvitationsSubscription;

struct Filter {
    types: Vec<EventType>,
    scope: Option<String>,
    /// The subscriber's own limit: a principal limited to scopes gets their events only.
    principal: Option<Principal>,
}

impl Filter {
    fn matches(&self, event: &LoggedEvent) -> bool {
        self.principal
            .as_ref()
            .is_none_or(|p| p.reaches(event.scope.as_deref()))
            && (self.types.is_empty() || self.types.contains(&event.event_type))
            && self
                .scope
                .as_ref()
                .is_none_or(|scope| event.scope.as_ref() == Some(scope))
    }
}

#[Subscription]
impl InvitationsSubscription {
    /// Events about invitations, from any server instance, for principals who may read
    /// invitations (a principal limited to scopes: of those only). `types` narrows to some
    /// event types, `scope` to one scope. A subscriber that falls too far behind gets an
    /// error and the subscription ends: subscribe again.
    async fn invitation_events(
        &self,
        ctx: &Context<'_>,
        types: Option<Vec<String>>,
        scope: Option<String>,
    ) -> async_graphql::Result<
        impl Stream<Item = async_graphql::Result<InvitationEventMessage>> + use<>,
    > {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let principal = caller.principal.clone();
        let receiver = module
            .service
            .subscribe_events_for(principal.as_ref())
            .gql()?;
        let mut parsed = Vec::new();
        for name in types.unwrap_or_default() {
            let event_type = name
                .parse::<EventType>()
                .ok()
                .filter(|t| *t != EventType::Test)
                .ok_or_else(|| Error::validation("types", format!("unknown event type {name:?}")))
                .gql()?;
            parsed.push(event_type);
        }
        let filter = Arc::new(Filter {
            types: parsed,
            scope: scope.map(|s| s.trim().to_owned()),
            principal: principal.clone(),
        });
        let service = module.service.clone();
        Ok(futures_util::stream::unfold(
            Some(receiver),
            move |receiver| {
                let (service, principal, filter) =
                    (service.clone(), principal.clone(), Arc::clone(&filter));
                async move {
                    let mut receiver = receiver?;
                    loop {
                        match receiver.recv().await {
                            Ok(event) if filter.matches(&event) => {
                                let invitation = service
                                    .get(principal.as_ref(), event.invitation_id)
                                    .await
                                    .ok()
                                    .map(|i| Invitation::new(i, service.now()));
                                return Some((Ok(message(&event, invitation)), Some(receiver)));
                            }
                            Ok(_) => {}
                            Err(RecvError::Lagged(missed)) => {
                                // Said as it is: the generic UNAVAILABLE text would hide why.
                                let err = async_graphql::Error::new(format!(
                                    "this subscription fell {missed} events behind and was ended; subscribe again"
                                ))
                                .extend_with(|_, extensions| {
                                    extensions.set("code", ErrorCode::Unavailable.as_str());
                                });
                                return Some((Err(err), None));
                            }
                            Err(RecvError::Closed) => return None,
                        }
                    }
                }
            },
        ))
    }
}

fn message(event: &LoggedEvent, invitation: Option<Invitation>) -> InvitationEventMessage {
    let (id, name) = match &event.actor {
        EventActor::Editor(actor) => (Some(actor.id.clone()), Some(actor.name.clone())),
        EventActor::Invitee | EventActor::System => (None, None),
    };
    InvitationEventMessage {
        id: ID(event.id.to_string()),
        event_type: event.event_type.as_str().to_owned(),
        at: event.at.into(),
        invitation,
        actor: EventActorRef {
            kind: event.actor.kind_str().to_owned(),
            id,
            name,
        },
    }
}
