//! Identifiers.

use std::fmt;

use uuid::Uuid;

use super::ValidationError;

/// An invitation id: a UUID v7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InvitationId(Uuid);

impl InvitationId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Parses an id from the API. Any well-formed UUID is accepted so that ids minted elsewhere
    /// (imports, a host) still resolve; new ids are always v7.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        Uuid::try_parse(input.trim())
            .map(Self)
            .map_err(|_| ValidationError::new("id", "the id is not a valid UUID"))
    }

    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for InvitationId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for InvitationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}
