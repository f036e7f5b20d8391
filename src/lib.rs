//! cms-invitations: an Invitations content-type module for headless CMSs.

pub mod domain;
pub mod clock;
pub mod config;
pub mod error;

pub use error::{Error, ErrorCode, Result};
pub mod store;
pub mod accounts;
pub mod service;
