//! Who is calling: the trait a host implements, and the standalone server's API tokens.

use std::fmt::Debug;

use async_trait::async_trait;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::auth::ApiTokens;
use crate::error::{Error, Result};
use crate::service::Principal;

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

/// `Authorization: Bearer cmsi_...`. No header: anonymous.
#[async_trait]
impl Authenticator for ApiTokens {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>> {
        let Some(value) = headers.get(AUTHORIZATION) else {
            return Ok(None);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token)
            .ok_or(Error::Unauthenticated)?;
        self.authenticate(token).await.map(Some)
    }
}
