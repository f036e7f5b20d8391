//! cms-invitations: an Invitations content-type module for headless CMSs.

pub mod clock;
pub mod config;
pub mod domain;
pub mod email;
pub mod error;

pub use error::{Error, ErrorCode, Result};
pub mod accounts;
pub mod auth;
pub mod graphql;
pub mod http;
pub mod rate_limit;
pub mod seed;
pub mod service;
pub mod standalone;
pub mod store;
