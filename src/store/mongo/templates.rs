//! Stored template versions in MongoDB: one document per version, unique by template name and
//! version number.

use async_trait::async_trait;
use bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use uuid::Uuid;

use super::events::{from_document, key, to_document};
use super::{MongoStore, all_of, classify, duplicate_key_message};
use crate::domain::{TemplateKey, TemplateVersion};
use crate::ports::{StoreError, StoreResult, TemplateStore, template_revision};
use crate::store::template_record::TemplateVersionRecord;

pub(super) async fn ensure_indexes(versions: &Collection<Document>) -> StoreResult<()> {
    versions
        .create_index(
            IndexModel::builder()
                .keys(doc! { "name": 1, "version": -1 })
                .options(
                    IndexOptions::builder()
                        .name("one_number_per_version".to_owned())
                        .unique(true)
                        .build(),
                )
                .build(),
        )
        .await
        .map(drop)
        .map_err(classify)
}

fn version_from(document: Document) -> StoreResult<TemplateVersion> {
    from_document::<TemplateVersionRecord>(document, "template version")?.into_version()
}

#[async_trait]
impl TemplateStore for MongoStore {
    async fn insert_template_version(&self, version: &TemplateVersion) -> StoreResult<()> {
        let record = TemplateVersionRecord::from(version);
        let document = to_document(&record, record.id)?;
        match self.template_versions.insert_one(document).await {
            Ok(_) => Ok(()),
            Err(err) if duplicate_key_message(&err).is_some() => Err(StoreError::Conflict),
            Err(err) => Err(classify(err)),
        }
    }

    async fn template_versions(
        &self,
        key: &TemplateKey,
        limit: usize,
    ) -> StoreResult<Vec<TemplateVersion>> {
        all_of(
            self.template_versions
                .find(doc! { "name": key.name() })
                .sort(doc! { "version": -1 })
                .limit(i64::try_from(limit).unwrap_or(i64::MAX)),
        )
        .await?
        .into_iter()
        .map(version_from)
        .collect()
    }

    async fn template_version(&self, id: Uuid) -> StoreResult<Option<TemplateVersion>> {
        self.template_versions
            .find_one(doc! { "_id": key(id) })
            .await
            .map_err(classify)?
            .map(version_from)
            .transpose()
    }

    async fn current_template_versions(&self) -> StoreResult<Vec<TemplateVersion>> {
        let pipeline = [
            doc! { "$sort": { "name": 1, "version": -1 } },
            doc! { "$group": { "_id": "$name", "latest": { "$first": "$$ROOT" } } },
            doc! { "$replaceWith": "$latest" },
            doc! { "$sort": { "name": 1 } },
        ];
        all_of(self.template_versions.aggregate(pipeline))
            .await?
            .into_iter()
            .map(version_from)
            .collect()
    }

    async fn template_revision(&self) -> StoreResult<u64> {
        let pipeline = [doc! {
            "$group": { "_id": null, "count": { "$sum": 1 }, "newest": { "$max": "$_id" } }
        }];
        let found = all_of(self.template_versions.aggregate(pipeline)).await?;
        let (count, newest) = found.first().map_or((0, None), |d| {
            (
                d.get_i32("count").map_or(0, i64::from),
                d.get_str("newest").ok(),
            )
        });
        Ok(template_revision(u64::try_from(count).unwrap_or(0), newest))
    }
}
