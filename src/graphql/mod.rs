//! The GraphQL API (DESIGN section 4), as objects a host merges into its own schema.
//!
//! A host adds [`InvitationsQuery`] and [`InvitationsMutation`] to its `MergedObject`s,
//! registers an [`InvitationsModule`] as schema data (see [`InvitationsModule::register`]),
//! and puts a [`Caller`] into each request's data to say who is asking. The standalone server
//! does exactly that with [`schema`].

mod document;
mod enums;
mod errors;
mod inputs;
mod limits;
mod mutation;
mod objects;
mod query;
mod rate_limit;
mod scalars;
mod subscription;
mod templates;
mod webhooks;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::{
    Context, MergedObject, MergedSubscription, SDLExportOptions, Schema, SchemaBuilder,
};

pub(crate) use document::{for_each_field, precheck};
pub(crate) use errors::log_cause;
pub use errors::{ErrorCodes, to_graphql_error};
pub use limits::{Checked, MAX_DEPTH, MAX_INTROSPECTION_DEPTH, OperationLimits, check};
pub use mutation::InvitationsMutation;
pub use query::InvitationsQuery;
pub use subscription::InvitationsSubscription;
pub use templates::{EmailTemplatesMutation, EmailTemplatesQuery};
pub use webhooks::{WebhooksMutation, WebhooksQuery};

use crate::domain::Secret;
use crate::error::{Error, Result};
use crate::ports::{Principal, WebhookTransport};
use crate::service::{CreateInvitation, InvitationService};
use rate_limit::{RateKey, RateLimiter};

/// The standalone server's root query type: the module's queries alone, named `Query`.
#[derive(MergedObject, Debug, Default)]
#[graphql(name = "Query")]
pub struct StandaloneQuery(InvitationsQuery, WebhooksQuery, EmailTemplatesQuery);

/// The standalone server's root mutation type, named `Mutation`.
#[derive(MergedObject, Debug, Default)]
#[graphql(name = "Mutation")]
pub struct StandaloneMutation(
    InvitationsMutation,
    WebhooksMutation,
    EmailTemplatesMutation,
);

/// The standalone server's root subscription type, named `Subscription`.
#[derive(MergedSubscription, Debug, Default)]
#[graphql(name = "Subscription")]
pub struct StandaloneSubscription(InvitationsSubscription);

/// The standalone server's schema: the module's operations alone.
pub type InvitationsSchema = Schema<StandaloneQuery, StandaloneMutation, StandaloneSubscription>;

/// Largest query cost accepted. A list field costs `first` times what one item selects, so a
/// full admin listing of 500 invitations fits, and a query of many aliased listings does not.
pub const MAX_COMPLEXITY: usize = 25_000;

/// Request data a transport adds to learn whether its request reached execution: the
/// module's extension marks it as execution starts. A request that never got there (it did not
/// parse or validate) is a request error, whose response has no `data` at all.
#[derive(Debug, Clone, Default)]
pub struct ExecutionStarted(Arc<AtomicBool>);

impl ExecutionStarted {
    pub(crate) fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Who is asking, as the host (or the standalone server) established it. Absent request data
/// means an anonymous caller of unknown address.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// `None`: anonymous; only the public operations are allowed.
    pub principal: Option<Principal>,
    /// The client's address, for the public operations' rate limit.
    pub client: Option<IpAddr>,
    /// The request's `Accept-Language` header: the email locale of invitations created
    /// without one.
    pub accept_language: Option<String>,
}

impl Caller {
    fn of<'a>(ctx: &Context<'a>) -> &'a Caller {
        static ANONYMOUS: Caller = Caller {
            principal: None,
            client: None,
            accept_language: None,
        };
        ctx.data_opt::<Caller>().unwrap_or(&ANONYMOUS)
    }

    /// `input` as the service takes it, with this request's language preferences.
    fn create_request(&self, input: inputs::CreateInvitationInput) -> CreateInvitation {
        CreateInvitation {
            accept_language: self.accept_language.clone(),
            ..input.into()
        }
    }
}

/// The module's schema data: the service and the public operations' rate limiter.
#[derive(Debug, Clone)]
pub struct InvitationsModule {
    service: InvitationService,
    public_limiter: Arc<RateLimiter>,
    webhook_transport: Option<Arc<dyn WebhookTransport>>,
}

impl InvitationsModule {
    /// `public_rate_limit`: look-ups, accepts and declines per minute per client address and
    /// per invitation; 0 turns the limit off.
    pub fn new(service: InvitationService, public_rate_limit: u32) -> Self {
        Self {
            service,
            public_limiter: Arc::new(RateLimiter::per_minute(public_rate_limit)),
            webhook_transport: None,
        }
    }

    /// The transport that checks webhook endpoint URLs (and that the host's webhook sender
    /// uses); without one, creating or changing an endpoint is refused.
    #[must_use]
    pub fn with_webhook_transport(mut self, transport: Arc<dyn WebhookTransport>) -> Self {
        self.webhook_transport = Some(transport);
        self
    }

    fn webhook_transport(&self) -> Result<Arc<dyn WebhookTransport>> {
        self.webhook_transport.clone().ok_or_else(|| {
            Error::internal("no webhook transport is registered with the invitations module")
        })
    }

    pub fn service(&self) -> &InvitationService {
        &self.service
    }

    /// Adds the module's data, error codes and limits to a schema under construction.
    pub fn register<Q, M, S>(self, builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S> {
        builder
            .data(self)
            .extension(ErrorCodes)
            .extension(OperationLimits)
            .limit_complexity(MAX_COMPLEXITY)
    }

    fn of<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Self> {
        ctx.data_opt::<Self>().ok_or_else(|| {
            to_graphql_error(&Error::internal(
                "InvitationsModule is not registered on this schema",
            ))
        })
    }

    /// Parses the secret a public operation presents (here, once, at the edge) and counts the
    /// request against the caller's address and the invitation: RATE_LIMITED when either has
    /// used up its allowance. `None` for a malformed secret, which still counts against the
    /// caller.
    fn public_secret(&self, caller: &Caller, secret: &str) -> Result<Option<Secret>> {
        let secret = Secret::parse(secret).ok();
        let mut keys = Vec::with_capacity(2);
        // Callers whose address is unknown (a host serving without connect info) share one
        // allowance rather than none.
        keys.push(
            caller
                .client
                .map_or(RateKey::UnknownClient, RateKey::client),
        );
        if let Some(secret) = &secret {
            keys.push(RateKey::secret(&secret.digest()));
        }
        self.public_limiter
            .check(&keys)
            .map_err(|wait| Error::RateLimited {
                retry_after_secs: wait
                    .as_secs()
                    .saturating_add(u64::from(wait.subsec_nanos() > 0)),
            })?;
        Ok(secret)
    }
}

/// What `__schema { description }` says, for a schema that sets it in its data (the
/// standalone one does; a host's schema keeps whatever its GraphQL library says).
#[derive(Debug, Clone, Copy)]
pub struct SchemaDescription(pub &'static str);

/// The standalone schema's description.
pub const STANDALONE_DESCRIPTION: &str = "Invitations: invite people by email to a role, \
    resend and revoke invitations, and look up, accept or decline one by the secret in its link.";

/// The standalone schema, with the module registered; `introspection: false` hides
/// `__schema` and `__type`.
pub fn schema(module: InvitationsModule, introspection: bool) -> InvitationsSchema {
    let builder = module
        .register(Schema::build(
            StandaloneQuery::default(),
            StandaloneMutation::default(),
            StandaloneSubscription::default(),
        ))
        .data(SchemaDescription(STANDALONE_DESCRIPTION));
    if introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The SDL of the standalone schema, as committed in `schema/invitations.graphql`.
pub fn sdl() -> String {
    Schema::build(
        StandaloneQuery::default(),
        StandaloneMutation::default(),
        StandaloneSubscription::default(),
    )
    .finish()
    // `@specifiedBy` as introspection reports it (`DateTime` is RFC 3339).
    .sdl_with_options(SDLExportOptions::new().include_specified_by())
}
