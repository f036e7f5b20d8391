//! Stored template versions in the embedded store: one row per version, its record as JSON
//! beside the template's name and the version's number (unique together).

use async_trait::async_trait;
use rusqlite::{ErrorCode, OptionalExtension, params};
use uuid::Uuid;

use super::events::{from_json, to_json};
use super::{SqliteStore, classify};
use crate::domain::{TemplateKey, TemplateVersion};
use crate::ports::{StoreError, StoreResult, TemplateStore, template_revision};
use crate::store::template_record::TemplateVersionRecord;

fn version_from_json(text: &str) -> StoreResult<TemplateVersion> {
    from_json::<TemplateVersionRecord>(text, "template version")?.into_version()
}

#[async_trait]
impl TemplateStore for SqliteStore {
    async fn insert_template_version(&self, version: &TemplateVersion) -> StoreResult<()> {
        let record = TemplateVersionRecord::from(version);
        let data = to_json(&record);
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO email_template_versions (id, name, version, data) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    record.id.hyphenated().to_string(),
                    record.name,
                    record.version,
                    data
                ])
            })
            .map(drop)
            .map_err(|err| match err.sqlite_error_code() {
                Some(ErrorCode::ConstraintViolation) => StoreError::Conflict,
                _ => classify(err),
            })
        })
        .await
    }

    async fn template_versions(
        &self,
        key: &TemplateKey,
        limit: usize,
    ) -> StoreResult<Vec<TemplateVersion>> {
        let name = key.name();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<String> = self
            .read(move |conn| {
                let mut statement = conn
                    .prepare_cached(
                        "SELECT data FROM email_template_versions WHERE name = ?1 \
                         ORDER BY version DESC LIMIT ?2",
                    )
                    .map_err(classify)?;
                let rows = statement
                    .query_map(params![name, limit], |row| row.get(0))
                    .map_err(classify)?;
                rows.collect::<Result<_, _>>().map_err(classify)
            })
            .await?;
        rows.iter().map(|text| version_from_json(text)).collect()
    }

    async fn template_version(&self, id: Uuid) -> StoreResult<Option<TemplateVersion>> {
        let row: Option<String> = self
            .read(move |conn| {
                conn.prepare_cached("SELECT data FROM email_template_versions WHERE id = ?1")
                    .and_then(|mut s| {
                        s.query_row([id.hyphenated().to_string()], |row| row.get(0))
                            .optional()
                    })
                    .map_err(classify)
            })
            .await?;
        row.as_deref().map(version_from_json).transpose()
    }

    async fn current_template_versions(&self) -> StoreResult<Vec<TemplateVersion>> {
        let rows: Vec<String> = self
            .read(|conn| {
                let mut statement = conn
                    .prepare_cached(
                        "SELECT data FROM email_template_versions AS v WHERE version = \
                         (SELECT MAX(version) FROM email_template_versions WHERE name = v.name) \
                         ORDER BY name",
                    )
                    .map_err(classify)?;
                let rows = statement
                    .query_map([], |row| row.get(0))
                    .map_err(classify)?;
                rows.collect::<Result<_, _>>().map_err(classify)
            })
            .await?;
        rows.iter().map(|text| version_from_json(text)).collect()
    }

    async fn template_revision(&self) -> StoreResult<u64> {
        self.read(|conn| {
            conn.prepare_cached("SELECT COUNT(*), MAX(id) FROM email_template_versions")
                .and_then(|mut s| {
                    s.query_row([], |row| {
                        Ok((row.get::<_, i64>(0)?, row.get::<_, Option<String>>(1)?))
                    })
                })
                .map(|(count, newest)| {
                    template_revision(u64::try_from(count).unwrap_or(0), newest.as_deref())
                })
                .map_err(classify)
        })
        .await
    }
}
