//! Email templates as content: template authors list, preview, save, revert and delete the
//! stored versions that replace the folder and built-in templates. Every save is checked as
//! `templates check` checks files, so a stored template never breaks a message. Each server
//! compiles the set again when the store's template revision moves (it checks every
//! [`TEMPLATE_POLL`], and at once after its own writes), so a save reaches every instance
//! within about a second. Messages already queued keep the text they were rendered with.

use std::time::Duration;

use uuid::Uuid;

use super::InvitationService;
use super::links::link_base;
use super::permissions::{require_template_editor, require_template_reader};
use crate::domain::{
    EmailPart, InvitationId, MessageKind, TemplateKey, TemplateVersion, template_body,
    template_comment,
};
use crate::email::{
    DraftPreview, EmailContext, StoredTemplates, TemplateInfo, TemplateOrigin, author_line,
};
use crate::error::{Error, Result};
use crate::ports::{Principal, StoreError};

/// How often a server asks the store whether templates changed.
pub const TEMPLATE_POLL: Duration = Duration::from_millis(500);
/// Versions one history lists at most, the newest first.
pub const MAX_TEMPLATE_VERSIONS: usize = 100;
/// How many times a save takes the next version number after another author took it.
const MAX_SAVE_RETRIES: usize = 8;

/// Which template, as a request names it.
#[derive(Debug, Clone)]
pub struct TemplateRef {
    pub kind: MessageKind,
    pub locale: String,
    pub variant: Option<String>,
    pub part: EmailPart,
}

impl TemplateRef {
    fn key(&self) -> Result<TemplateKey> {
        Ok(TemplateKey::new(
            self.kind,
            &self.locale,
            self.variant.as_deref(),
            self.part,
        )?)
    }
}

/// A save: the new text, why, and (optionally) the version the author started from.
#[derive(Debug, Clone)]
pub struct SaveTemplate {
    pub template: TemplateRef,
    pub body: String,
    pub comment: String,
    /// The stored version the author's text started from (0: none was stored). When another
    /// version was saved since, the save is refused rather than overwriting it unseen.
    pub base_version: Option<u32>,
}

impl InvitationService {
    /// The templates in force, narrowed to a kind and a locale when given. Another
    /// instance's save shows once this server's watcher has seen it (within
    /// [`TEMPLATE_POLL`]); this server's own, at once.
    pub async fn email_templates(
        &self,
        principal: Option<&Principal>,
        kind: Option<MessageKind>,
        locale: Option<&str>,
    ) -> Result<Vec<TemplateInfo>> {
        require_template_reader(principal)?;
        Ok(self
            .settings
            .email
            .templates
            .list()
            .into_iter()
            .filter(|t| kind.is_none_or(|k| t.kind == k))
            .filter(|t| locale.is_none_or(|l| t.locale.eq_ignore_ascii_case(l)))
            .collect())
    }

    /// One template in force. NOT_FOUND when the set has no such template.
    pub async fn email_template(
        &self,
        principal: Option<&Principal>,
        template: &TemplateRef,
    ) -> Result<TemplateInfo> {
        require_template_reader(principal)?;
        self.template_in_force(&template.key()?)
    }

    /// Renders `template`'s message with `body` in its place, with sample data or with the
    /// data of invitation `invitation` (whose link is replaced: the secret is never stored).
    /// Nothing is saved or sent.
    pub async fn preview_email_template(
        &self,
        principal: Option<&Principal>,
        template: &TemplateRef,
        body: &str,
        invitation: Option<InvitationId>,
    ) -> Result<DraftPreview> {
        let principal = require_template_reader(principal)?;
        let key = template.key()?;
        let body = template_body(body)?;
        self.template_in_force(&key)?;
        let templates = &self.settings.email.templates;
        let Some(id) = invitation else {
            // The sample as this server's emails would show it, and what a save would refuse.
            let mut context = EmailContext::sample(key.kind, key.locale.as_str(), true);
            context.set_product_name(&self.settings.email.product_name);
            return Ok(templates.check_draft(&key, body, Some(&context)));
        };
        // A real invitation's data: only for those who may read it.
        let invitation = self.get(Some(principal), id).await?;
        let locale = key.locale.as_str();
        let context = match key.kind {
            MessageKind::Invitation => {
                let mut url = link_base(&invitation, &self.settings.accept_url);
                url.set_fragment(Some("secret=PREVIEW-NOT-A-REAL-LINK"));
                EmailContext::Invitation(self.invitation_context(&invitation, &url, locale))
            }
            MessageKind::InvitationAccepted => EmailContext::InvitationAccepted(
                self.accepted_context(&invitation, locale, self.now()),
            ),
            MessageKind::InvitationExtended => {
                EmailContext::InvitationExtended(self.extended_context(&invitation, locale))
            }
        };
        Ok(templates.preview_draft(&key, body, &context))
    }

    /// Checks `save.body` and stores it as the template's next version. VALIDATION_FAILED with
    /// the problems when it would not render.
    pub async fn save_email_template(
        &self,
        principal: Option<&Principal>,
        save: SaveTemplate,
    ) -> Result<TemplateInfo> {
        let principal = require_template_editor(principal)?;
        let key = save.template.key()?;
        let body = template_body(&save.body)?.to_owned();
        let comment = template_comment(&save.comment)?;
        self.refresh_templates().await?;
        self.template_in_force(&key)?;
        self.refuse_problems(&key, &body)?;
        self.append_version(principal, key, Some(body), comment, save.base_version)
            .await
    }

    /// The saved versions of `template`, the newest first (at most
    /// [`MAX_TEMPLATE_VERSIONS`]).
    pub async fn email_template_versions(
        &self,
        principal: Option<&Principal>,
        template: &TemplateRef,
    ) -> Result<Vec<TemplateVersion>> {
        require_template_reader(principal)?;
        let key = template.key()?;
        Ok(self
            .store
            .template_versions(&key, MAX_TEMPLATE_VERSIONS)
            .await?)
    }

    /// Makes the text of version `id` its template's current text again, as a new version (so
    /// the history keeps what it replaced). Reverting to a deletion deletes the stored text.
    pub async fn revert_email_template(
        &self,
        principal: Option<&Principal>,
        id: Uuid,
    ) -> Result<TemplateInfo> {
        let principal = require_template_editor(principal)?;
        let target = self
            .store
            .template_version(id)
            .await?
            .ok_or(Error::NoSuch("template version"))?;
        self.refresh_templates().await?;
        self.template_in_force(&target.key)?;
        if let Some(body) = &target.body {
            self.refuse_problems(&target.key, body)?;
        }
        let comment = format!("Reverted to version {}", target.version);
        self.append_version(principal, target.key, target.body, comment, None)
            .await
    }

    /// Deletes the stored text of `template`: the folder or built-in template applies again.
    /// The history keeps every version, and the deletion as one more. Deleting a template with
    /// no stored text changes nothing.
    pub async fn delete_email_template(
        &self,
        principal: Option<&Principal>,
        template: &TemplateRef,
    ) -> Result<TemplateInfo> {
        let principal = require_template_editor(principal)?;
        let key = template.key()?;
        self.refresh_templates().await?;
        let latest = self.store.template_versions(&key, 1).await?;
        if latest.first().is_none_or(|v| v.body.is_none()) {
            return self.template_in_force(&key);
        }
        self.append_version(principal, key, None, "Deleted".to_owned(), None)
            .await
    }

    /// Compiles the templates again when the store's template revision moved since this
    /// server last did. `true` when it did. A stored set that does not compile (which a save
    /// cannot make, but a change to the folder under it can) is logged, and the set in force
    /// stays.
    pub async fn refresh_templates(&self) -> Result<bool> {
        // One at a time, so an older read never replaces a newer one.
        let _one = self.template_refresh.lock().await;
        let templates = &self.settings.email.templates;
        let revision = self.store.template_revision().await?;
        if revision == templates.stored_revision() {
            return Ok(false);
        }
        let current = self.store.current_template_versions().await?;
        let stored = StoredTemplates {
            revision,
            bodies: current
                .into_iter()
                .filter_map(|v| Some((v.key.name(), (v.version, v.body?))))
                .collect(),
        };
        if let Err(problems) = templates.apply_stored(stored) {
            tracing::error!(%problems, revision, "the stored email templates do not compile; the templates in force stay");
        } else {
            tracing::info!(
                revision,
                "email templates compiled with the stored versions"
            );
        }
        Ok(true)
    }

    /// Keeps this server's templates in step with the store: checks every [`TEMPLATE_POLL`]
    /// until `stop` completes. A store that does not answer is logged and asked again.
    pub async fn run_template_watcher(&self, stop: impl Future<Output = ()>) {
        let mut tick = tokio::time::interval(TEMPLATE_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = &mut stop => return,
            }
            if let Err(err) = self.refresh_templates().await {
                tracing::warn!(error = %err, "could not check the stored email templates");
            }
        }
    }

    fn template_in_force(&self, key: &TemplateKey) -> Result<TemplateInfo> {
        self.settings
            .email
            .templates
            .get(key)
            .ok_or(Error::NoSuch("template"))
    }

    /// VALIDATION_FAILED with every problem that would refuse `body` as `key`'s template.
    fn refuse_problems(&self, key: &TemplateKey, body: &str) -> Result<()> {
        let checked = self.settings.email.templates.check_draft(key, body, None);
        if checked.problems.is_empty() {
            Ok(())
        } else {
            Err(Error::TemplateRejected(
                checked.problems.iter().map(author_line).collect(),
            ))
        }
    }

    /// Stores the template's next version and compiles the templates with it. Two authors
    /// saving at once get consecutive numbers; with `base_version`, the second is refused.
    async fn append_version(
        &self,
        principal: &Principal,
        key: TemplateKey,
        body: Option<String>,
        comment: String,
        base_version: Option<u32>,
    ) -> Result<TemplateInfo> {
        for _ in 0..MAX_SAVE_RETRIES {
            let latest = self
                .store
                .template_versions(&key, 1)
                .await?
                .first()
                .map_or(0, |v| v.version);
            if let Some(base) = base_version
                && base != latest
            {
                return Err(Error::validation(
                    "baseVersion",
                    format!(
                        "version {latest} was saved since you opened version {base}; load it, then save again"
                    ),
                ));
            }
            let version = TemplateVersion {
                id: Uuid::now_v7(),
                key: key.clone(),
                version: latest + 1,
                body: body.clone(),
                comment: comment.clone(),
                author: principal.actor().clone(),
                saved_at: self.now(),
            };
            match self.store.insert_template_version(&version).await {
                Ok(()) => {
                    tracing::info!(template = %key.name(), version = version.version, by = %principal.actor().id, deleted = body.is_none(), "email template saved");
                    self.refresh_templates().await?;
                    let mut saved = self.template_in_force(&key)?;
                    // What this save made, even when another author's save came right after.
                    if let Some(body) = version.body {
                        saved.origin = TemplateOrigin::Stored {
                            version: version.version,
                        };
                        saved.body = body;
                    }
                    return Ok(saved);
                }
                Err(StoreError::Conflict) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(Error::Unavailable(
            "too many authors saving one template at once".into(),
        ))
    }
}
