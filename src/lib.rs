//! cms-invitations: an Invitations content-type module for headless CMSs.
//!
//! What a host needs, by layer (see `docs/architecture.md`):
//! - [`graphql`]: the module's query and mutation objects to merge into the host's schema,
//!   and [`graphql::InvitationsModule`] to register;
//! - [`http`]: the routes that serve a schema containing the module;
//! - [`ports`]: the traits a host implements or picks an adapter for (authenticator, account
//!   provisioner, store, mailer, clock);
//! - [`service`]: the use cases, built from [`config`] and the ports;
//! - [`store`] and [`email`]: the adapters that ship with the module;
//! - [`standalone`]: the standalone server's own wiring, tokens and provisioner.
//!
//! [`domain`] holds the pure types every layer speaks; [`Error`] is the one error type with
//! its stable codes.

pub mod config;
pub mod domain;
pub mod email;
pub mod error;
mod fs;
pub mod graphql;
pub mod http;
mod net;
pub mod ports;
pub mod service;
pub mod sms;
pub mod standalone;
pub mod store;
pub mod webhook;

pub use error::{Error, ErrorCode, Result};
