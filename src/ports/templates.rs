//! The stored-templates port: the versions template authors save, kept by the store so every
//! server instance renders from the same ones.

use std::fmt::Debug;

use async_trait::async_trait;
use uuid::Uuid;

use super::store::StoreResult;
use crate::domain::{TemplateKey, TemplateVersion};

#[async_trait]
pub trait TemplateStore: Send + Sync + Debug {
    /// Appends `version`. `Conflict` when its template has a version with that number already
    /// (another author saved first): the caller reads the latest again and decides again.
    async fn insert_template_version(&self, version: &TemplateVersion) -> StoreResult<()>;

    /// Up to `limit` versions of `key`'s template, the newest first.
    async fn template_versions(
        &self,
        key: &TemplateKey,
        limit: usize,
    ) -> StoreResult<Vec<TemplateVersion>>;

    async fn template_version(&self, id: Uuid) -> StoreResult<Option<TemplateVersion>>;

    /// The latest version of every template that has one (deletions included).
    async fn current_template_versions(&self) -> StoreResult<Vec<TemplateVersion>>;

    /// A number that changes with every version appended, and with a restore that brings
    /// back other versions: a server compares it to the one it compiled its templates at. See
    /// [`template_revision`].
    async fn template_revision(&self) -> StoreResult<u64>;
}

/// The revision of a set of `count` versions whose greatest id is `newest`: every append
/// changes the count, and a restore to as many other versions changes the greatest id.
pub fn template_revision(count: u64, newest: Option<&str>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    (count, newest).hash(&mut hasher);
    hasher.finish()
}
