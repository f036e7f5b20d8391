//! The authenticator port: who is calling. A host implements it with its own sessions or
//! tokens; the standalone server's API tokens are one adapter (`crate::standalone`).

use std::fmt::Debug;

use async_trait::async_trait;
use axum::http::HeaderMap;

use super::Principal;
use crate::error::Result;

/// Turns a request's headers into the principal making it. A host implements this with its own
/// sessions or tokens and maps its users' permissions onto a [`Principal`].
#[async_trait]
pub trait Authenticator: Send + Sync + Debug + 'static {
    /// `Ok(None)`: anonymous (only the public operations are allowed).
    /// `Err(UNAUTHENTICATED)`: credentials were presented but are not valid; the request is
    /// refused as a whole rather than run anonymously.
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>>;
}

/// Everyone is anonymous: only the public operations work.
#[derive(Debug, Clone, Copy, Default)]
pub struct Anonymous;

#[async_trait]
impl Authenticator for Anonymous {
    async fn authenticate(&self, _headers: &HeaderMap) -> Result<Option<Principal>> {
        Ok(None)
    }
}
