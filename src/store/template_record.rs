//! A stored template version as plain data both stores keep: SQLite as JSON beside its name
//! and number, MongoDB as a document. Turning it back into the domain type (and rejecting
//! corrupt data) happens here once.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::webhook_record::{ms, time};
use crate::domain::{Actor, TemplateKey, TemplateVersion};
use crate::ports::{StoreError, StoreResult};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TemplateVersionRecord {
    pub id: Uuid,
    /// `de/invitation.subject`: what versions of one template share.
    pub name: String,
    pub kind: String,
    pub locale: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub part: String,
    pub version: u32,
    /// `None`: the stored text was deleted at this version.
    #[serde(default)]
    pub body: Option<String>,
    pub comment: String,
    pub author_id: String,
    pub author_name: String,
    pub saved_at: i64,
}

impl From<&TemplateVersion> for TemplateVersionRecord {
    fn from(version: &TemplateVersion) -> Self {
        let key = &version.key;
        Self {
            id: version.id,
            name: key.name(),
            kind: key.kind.as_str().to_owned(),
            locale: key.locale.as_str().to_owned(),
            variant: key.variant.as_ref().map(|v| v.as_str().to_owned()),
            part: key.part.as_str().to_owned(),
            version: version.version,
            body: version.body.clone(),
            comment: version.comment.clone(),
            author_id: version.author.id.clone(),
            author_name: version.author.name.clone(),
            saved_at: ms(version.saved_at),
        }
    }
}

impl TemplateVersionRecord {
    pub fn into_version(self) -> StoreResult<TemplateVersion> {
        let corrupt = || StoreError::Corrupt("a stored template version".to_owned());
        let kind = self.kind.parse().map_err(|_| corrupt())?;
        let part = self.part.parse().map_err(|_| corrupt())?;
        let key = TemplateKey::new(kind, &self.locale, self.variant.as_deref(), part)
            .map_err(|_| corrupt())?;
        if key.name() != self.name {
            return Err(corrupt());
        }
        Ok(TemplateVersion {
            id: self.id,
            key,
            version: self.version,
            body: self.body,
            comment: self.comment,
            author: Actor {
                id: self.author_id,
                name: self.author_name,
            },
            saved_at: time(self.saved_at, "template version's time")?,
        })
    }
}
