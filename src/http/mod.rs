//! HTTP transport: the GraphQL endpoint a host can mount, and the standalone server's routes
//! (the admin UI and accept page, GraphiQL, the email preview, health, readiness, metrics).

mod client;
mod email_preview;
mod graphiql;
mod graphql;
mod metrics;
mod middleware;
mod operations;
mod persisted;
mod serve;
mod server;
mod subscriptions;
mod ui;

pub use graphql::{GraphqlOptions, graphql_routes};
pub use metrics::Metrics;
pub use serve::{ConnectionLimits, serve};
pub use server::{ServerParts, server_router};
