//! Bearer API tokens for the editors of the standalone server.
//!
//! A token is `cmsi_` followed by 256 random bits in base64url. Only its SHA-256 digest is
//! stored, so a copy of the database holds no usable token. The raw value is shown exactly once:
//! when it is created. Hosts that embed the module authenticate their own users instead and
//! hand the module a [`Principal`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::config::RolePolicy;
use chrono::TimeDelta;

use crate::domain::{Actor, EmailAddress, IsoDuration, Scope, Secret};
use crate::error::{Error, Result};
use crate::ports::{ApiTokenRecord, Authenticator, Clock, Principal, Store, StoreError};

/// Every token starts with this, so that secret scanners and people can recognise one.
pub const TOKEN_PREFIX: &str = "cmsi_";

/// The fixed id of the token made on first start: two servers starting on one empty database
/// at the same time cannot both make one.
pub const BOOTSTRAP_TOKEN_ID: &str = "bootstrap-admin";

const MAX_NAME_CHARS: usize = 100;
/// Scopes one token may be limited to at most.
const MAX_SCOPES: usize = 100;

/// What a new token is for. Only `role` is required.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewToken<'a> {
    /// One of the configured principal roles.
    pub role: &'a str,
    /// A name to recognise the token by in invitation histories (default: "ROLE token").
    pub name: Option<&'a str>,
    /// Where "invitation accepted" notices for its invitations go.
    pub email: Option<&'a str>,
    /// How long it works (at least a minute); `None`: until revoked.
    pub expires_in: Option<IsoDuration>,
    /// The scopes it is limited to (see [`Principal::with_scopes`]); empty: every scope.
    pub scopes: &'a [String],
}

/// A freshly minted token. `Debug` hides the token.
pub struct IssuedToken {
    pub record: ApiTokenRecord,
    token: String,
}

impl IssuedToken {
    /// The raw token, to show once to whoever asked for it.
    pub fn expose(&self) -> &str {
        &self.token
    }
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("record", &self.record)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Creates tokens and turns presented ones into principals.
#[derive(Debug, Clone)]
pub struct ApiTokens {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    roles: RolePolicy,
}

impl ApiTokens {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, roles: RolePolicy) -> Self {
        Self {
            store,
            clock,
            roles,
        }
    }

    /// A new token. VALIDATION_FAILED for an unknown role, an unusable name, a malformed
    /// email or scope, or a lifetime under a minute.
    pub async fn create(&self, request: NewToken<'_>) -> Result<IssuedToken> {
        let mut issued = self.mint(uuid::Uuid::now_v7().to_string(), request.role, request.name)?;
        if let Some(email) = request.email {
            let email = EmailAddress::parse(email).map_err(Error::from)?;
            issued.record.email = Some(email.as_str().to_owned());
        }
        if let Some(lifetime) = request.expires_in {
            if lifetime.as_seconds() < 60 {
                return Err(Error::validation("expiresIn", "must be at least PT1M"));
            }
            issued.record.expires_at = Some(issued.record.created_at + lifetime.as_time_delta());
        }
        if request.scopes.len() > MAX_SCOPES {
            return Err(Error::validation(
                "scope",
                format!("at most {MAX_SCOPES} scopes per token"),
            ));
        }
        let mut scopes: Vec<String> = request
            .scopes
            .iter()
            .map(|scope| Scope::parse(scope).map(|s| s.as_str().to_owned()))
            .collect::<std::result::Result<_, _>>()
            .map_err(Error::from)?;
        scopes.sort();
        scopes.dedup();
        issued.record.scopes = scopes;
        self.store.insert_token(&issued.record).await?;
        Ok(issued)
    }

    /// Every token, oldest first (digests only; no token can be read back).
    pub async fn list(&self) -> Result<Vec<ApiTokenRecord>> {
        Ok(self.store.list_tokens().await?)
    }

    /// Revokes the token `id` at once: every later request with it is UNAUTHENTICATED.
    /// NOT_FOUND when there is no such token, or it was revoked already.
    pub async fn revoke(&self, id: &str) -> Result<()> {
        if self.store.revoke_token(id, self.clock.now()).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// The first admin token, when the token table is empty (`admin` must be a configured
    /// role); `None` when any token exists. It is not stored yet: the caller keeps a copy
    /// first, then [`ApiTokens::store_bootstrap`] stores it.
    pub async fn mint_bootstrap(&self) -> Result<Option<IssuedToken>> {
        if self.store.count_tokens().await? > 0 {
            return Ok(None);
        }
        let issued = self.mint(
            BOOTSTRAP_TOKEN_ID.to_owned(),
            "admin",
            Some("bootstrap admin"),
        )?;
        Ok(Some(issued))
    }

    /// Stores a token from [`ApiTokens::mint_bootstrap`]; `false` when another server stored
    /// one a moment ago (this one then never works).
    pub async fn store_bootstrap(&self, issued: &IssuedToken) -> Result<bool> {
        match self.store.insert_token(&issued.record).await {
            Ok(()) => Ok(true),
            Err(StoreError::DuplicateToken) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    fn mint(&self, id: String, role: &str, name: Option<&str>) -> Result<IssuedToken> {
        if self.roles.permissions(role).is_none() {
            let known: Vec<&str> = self.roles.principal_roles().collect();
            return Err(Error::validation(
                "role",
                format!(
                    "unknown role {role:?}; configured roles: {}",
                    known.join(", ")
                ),
            ));
        }
        let name = match name.map(str::trim) {
            None | Some("") => format!("{role} token"),
            Some(name)
                if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) =>
            {
                return Err(Error::validation(
                    "name",
                    format!("use up to {MAX_NAME_CHARS} printable characters"),
                ));
            }
            Some(name) => name.to_owned(),
        };
        let secret = Secret::generate().map_err(|err| Error::Internal(Box::new(err)))?;
        let record = ApiTokenRecord {
            id,
            name,
            role: role.to_owned(),
            digest: *secret.digest().as_bytes(),
            created_at: self.clock.now(),
            email: None,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            scopes: Vec::new(),
        };
        Ok(IssuedToken {
            record,
            token: format!("{TOKEN_PREFIX}{}", secret.expose()),
        })
    }

    /// The principal a bearer token stands for. UNAUTHENTICATED for a malformed or unknown
    /// token; FORBIDDEN when the token's role is no longer configured.
    pub async fn authenticate(&self, token: &str) -> Result<Principal> {
        let secret = token
            .trim()
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|body| Secret::parse(body).ok())
            .ok_or(Error::Unauthenticated)?;
        let record = self
            .store
            .find_token(secret.digest().as_bytes())
            .await?
            .ok_or(Error::Unauthenticated)?;
        let now = self.clock.now();
        let expired = record.expires_at.is_some_and(|at| at <= now);
        if record.revoked_at.is_some() || expired {
            return Err(Error::Unauthenticated);
        }
        // Kept to the minute: a busy token does not write on every request.
        let stale = record
            .last_used_at
            .is_none_or(|at| now - at >= TimeDelta::minutes(1));
        if stale && let Err(err) = self.store.touch_token(&record.id, now).await {
            tracing::warn!(token = %record.id, error = %err, "could not record the token's use");
        }
        let actor = Actor {
            id: record.id,
            name: record.name,
        };
        let principal =
            Principal::with_role(&self.roles, actor, &record.role).ok_or_else(|| {
                Error::Forbidden(format!(
                    "this token's role {:?} is no longer configured",
                    record.role
                ))
            })?;
        // Only valid addresses were stored; a corrupted one just means no notices.
        let email = record
            .email
            .as_deref()
            .and_then(|e| EmailAddress::parse(e).ok());
        // Only valid scopes were stored; one that no longer parses reaches nothing, so a
        // limited token never becomes unlimited.
        let scopes: Vec<Scope> = record
            .scopes
            .iter()
            .map(|s| Scope::parse(s))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| Error::Forbidden("this token's scopes are unreadable".into()))?;
        Ok(principal.with_email(email).with_scopes(scopes))
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
