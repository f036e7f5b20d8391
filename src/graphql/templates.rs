//! Email templates as content, for template authors (DESIGN section 11): list, read, preview,
//! save, revert and delete stored versions.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use uuid::Uuid;

use super::errors::IntoGraphql;
use super::scalars::DateTime;
use super::{Caller, InvitationsModule};
use crate::domain::{self, InvitationId};
use crate::error::Error;
use crate::service::{
    self, DraftPreview, SaveTemplate, TemplateInfo, TemplateOrigin, TemplateRef,
    template_variable_samples,
};

/// Which message a template writes.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "EmailTemplateKind", remote = "domain::MessageKind")]
pub enum TemplateKind {
    /// The invitation, with its link, to the invitee.
    Invitation,
    /// The notice to the inviter that their invitation was accepted.
    InvitationAccepted,
    /// The notice to the invitee that their invitation was extended.
    InvitationExtended,
}

/// A part of a message.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "EmailTemplatePart", remote = "domain::EmailPart")]
pub enum TemplatePart {
    Subject,
    Html,
    /// The plain-text body.
    Text,
    /// The text message of an SMS invitation.
    Sms,
}

/// Where a template's text in force comes from. A stored version replaces the override
/// folder's file, which replaces the built-in one.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "EmailTemplateSource")]
pub enum TemplateSource {
    BuiltIn,
    Folder,
    Stored,
}

/// A variable the template's kind may use.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "EmailTemplateVariable")]
pub struct TemplateVariable {
    name: String,
    description: String,
    /// Its value in the preview's sample data; `null` when the sample leaves it out.
    sample: Option<String>,
}

/// One template in force.
#[derive(Debug, Clone)]
pub struct EmailTemplate(TemplateInfo);

#[Object]
impl EmailTemplate {
    async fn kind(&self) -> TemplateKind {
        self.0.kind.into()
    }

    /// The locale folder it belongs to (`de`, `pt-BR`).
    async fn locale(&self) -> &str {
        &self.0.locale
    }

    /// The variant of the invitation message; `null` for the base message.
    async fn variant(&self) -> Option<&str> {
        self.0.variant.as_deref()
    }

    async fn part(&self) -> TemplatePart {
        self.0.part.into()
    }

    async fn source(&self) -> TemplateSource {
        match self.0.origin {
            TemplateOrigin::BuiltIn => TemplateSource::BuiltIn,
            TemplateOrigin::Folder => TemplateSource::Folder,
            TemplateOrigin::Stored { .. } => TemplateSource::Stored,
        }
    }

    /// The stored version in force; `null` when the text comes from a file.
    async fn version(&self) -> Option<u32> {
        match self.0.origin {
            TemplateOrigin::Stored { version } => Some(version),
            TemplateOrigin::BuiltIn | TemplateOrigin::Folder => None,
        }
    }

    /// The Handlebars source in force.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// The variables this kind of message may use, with their sample values in this locale.
    async fn variables(&self) -> Vec<TemplateVariable> {
        template_variable_samples(self.0.kind, &self.0.locale)
            .into_iter()
            .map(|v| TemplateVariable {
                name: v.name.to_owned(),
                description: v.description.to_owned(),
                sample: v.sample,
            })
            .collect()
    }
}

/// One saved version of a template.
#[derive(SimpleObject, Debug, Clone)]
pub struct EmailTemplateVersion {
    /// Pass it to `revertEmailTemplate`.
    id: ID,
    kind: TemplateKind,
    locale: String,
    variant: Option<String>,
    part: TemplatePart,
    /// 1 for the template's first save, then one more for each.
    version: u32,
    /// The text saved; `null` when this version deleted the stored text.
    body: Option<String>,
    deleted: bool,
    comment: String,
    /// The name of who saved it.
    saved_by: String,
    saved_at: DateTime,
}

impl From<domain::TemplateVersion> for EmailTemplateVersion {
    fn from(v: domain::TemplateVersion) -> Self {
        Self {
            id: ID(v.id.to_string()),
            kind: v.key.kind.into(),
            locale: v.key.locale.as_str().to_owned(),
            variant: v.key.variant.as_ref().map(|x| x.as_str().to_owned()),
            part: v.key.part.into(),
            version: v.version,
            deleted: v.body.is_none(),
            body: v.body,
            comment: v.comment,
            saved_by: v.author.name,
            saved_at: v.saved_at.into(),
        }
    }
}

/// A problem in a template: where, and what.
#[derive(SimpleObject, Debug, Clone)]
pub struct EmailTemplateProblem {
    /// `null` when the problem is in the text being edited; else the file it is in (a partial).
    file: Option<String>,
    line: Option<u32>,
    column: Option<u32>,
    message: String,
    /// `line:column: message`, as a save's error lists it.
    text: String,
}

impl From<&service::TemplateProblem> for EmailTemplateProblem {
    fn from(p: &service::TemplateProblem) -> Self {
        let number = |n: Option<usize>| n.and_then(|n| u32::try_from(n).ok());
        Self {
            file: (!p.in_draft()).then(|| p.file.clone()),
            line: number(p.line),
            column: number(p.column),
            message: p.message.clone(),
            text: service::author_line(p),
        }
    }
}

/// A message rendered with unsaved text: what a save would make, and what stands in its way.
#[derive(SimpleObject, Debug, Clone)]
pub struct EmailTemplatePreview {
    /// Each part of the message that rendered; `null` for a part that did not (or that the
    /// kind does not have).
    subject: Option<String>,
    html: Option<String>,
    text: Option<String>,
    sms: Option<String>,
    /// What would refuse the save.
    problems: Vec<EmailTemplateProblem>,
    /// What would not (a text message longer than its budget).
    warnings: Vec<EmailTemplateProblem>,
}

impl From<DraftPreview> for EmailTemplatePreview {
    fn from(p: DraftPreview) -> Self {
        Self {
            problems: p.problems.iter().map(Into::into).collect(),
            warnings: p.warnings.iter().map(Into::into).collect(),
            subject: p.subject,
            html: p.html,
            text: p.text,
            sms: p.sms,
        }
    }
}

#[derive(InputObject, Debug, Clone)]
pub struct SaveEmailTemplateInput {
    kind: TemplateKind,
    locale: String,
    part: TemplatePart,
    variant: Option<String>,
    /// The Handlebars text.
    source: String,
    /// Why it changed; shown in the history.
    #[graphql(default)]
    comment: String,
    /// The stored version the text was edited from (0 when none was stored): when another
    /// version was saved since, the save is refused instead of overwriting it unseen.
    base_version: Option<u32>,
}

#[derive(InputObject, Debug, Clone)]
pub struct PreviewEmailTemplateInput {
    kind: TemplateKind,
    locale: String,
    part: TemplatePart,
    variant: Option<String>,
    /// The unsaved Handlebars text.
    source: String,
    /// Render with this invitation's data instead of the sample (its link is replaced; the
    /// secret is never stored). Needs read permission for the invitation.
    invitation_id: Option<ID>,
}

fn template_ref(
    kind: TemplateKind,
    locale: String,
    part: TemplatePart,
    variant: Option<String>,
) -> TemplateRef {
    TemplateRef {
        kind: kind.into(),
        locale,
        variant,
        part: part.into(),
    }
}

/// Template authors' queries, ready to merge into a host's `MergedObject`.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmailTemplatesQuery;

#[Object]
impl EmailTemplatesQuery {
    /// The templates in force, each with where its text comes from; narrowed to a kind and a
    /// locale when given. For readers and template authors.
    async fn email_templates(
        &self,
        ctx: &Context<'_>,
        kind: Option<TemplateKind>,
        locale: Option<String>,
    ) -> async_graphql::Result<Vec<EmailTemplate>> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let templates = module
            .service
            .email_templates(
                caller.principal.as_ref(),
                kind.map(Into::into),
                locale.as_deref(),
            )
            .await
            .gql()?;
        Ok(templates.into_iter().map(EmailTemplate).collect())
    }

    /// One template in force; `null` when there is no such template.
    async fn email_template(
        &self,
        ctx: &Context<'_>,
        kind: TemplateKind,
        locale: String,
        part: TemplatePart,
        variant: Option<String>,
    ) -> async_graphql::Result<Option<EmailTemplate>> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let template = template_ref(kind, locale, part, variant);
        match module
            .service
            .email_template(caller.principal.as_ref(), &template)
            .await
        {
            Ok(info) => Ok(Some(EmailTemplate(info))),
            Err(Error::NoSuch(_)) => Ok(None),
            Err(err) => Err(err).gql(),
        }
    }

    /// Renders a template's message with unsaved text, with sample data or an invitation's.
    /// Nothing is saved or sent. For readers and template authors.
    async fn preview_email_template(
        &self,
        ctx: &Context<'_>,
        input: PreviewEmailTemplateInput,
    ) -> async_graphql::Result<EmailTemplatePreview> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let invitation = input
            .invitation_id
            .as_deref()
            .map(|id| InvitationId::parse(id))
            .transpose()
            .map_err(Error::from)
            .gql()?;
        let template = template_ref(input.kind, input.locale, input.part, input.variant);
        let preview = module
            .service
            .preview_email_template(
                caller.principal.as_ref(),
                &template,
                &input.source,
                invitation,
            )
            .await
            .gql()?;
        Ok(preview.into())
    }

    /// The saved versions of a template, the newest first (at most 100).
    async fn email_template_versions(
        &self,
        ctx: &Context<'_>,
        kind: TemplateKind,
        locale: String,
        part: TemplatePart,
        variant: Option<String>,
    ) -> async_graphql::Result<Vec<EmailTemplateVersion>> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let template = template_ref(kind, locale, part, variant);
        let versions = module
            .service
            .email_template_versions(caller.principal.as_ref(), &template)
            .await
            .gql()?;
        Ok(versions.into_iter().map(Into::into).collect())
    }
}

/// Template authors' mutations, ready to merge into a host's `MergedObject`.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmailTemplatesMutation;

#[Object]
impl EmailTemplatesMutation {
    /// Checks the text as `templates check` would and stores it as the template's next
    /// version; every server renders with it within a second or two. A text that would not
    /// render is refused with VALIDATION_FAILED and `extensions.problems`.
    async fn save_email_template(
        &self,
        ctx: &Context<'_>,
        input: SaveEmailTemplateInput,
    ) -> async_graphql::Result<EmailTemplate> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let saved = module
            .service
            .save_email_template(
                caller.principal.as_ref(),
                SaveTemplate {
                    template: template_ref(input.kind, input.locale, input.part, input.variant),
                    body: input.source,
                    comment: input.comment,
                    base_version: input.base_version,
                },
            )
            .await
            .gql()?;
        Ok(EmailTemplate(saved))
    }

    /// Makes a saved version's text current again, as a new version.
    async fn revert_email_template(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<EmailTemplate> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let id = Uuid::try_parse(id.trim())
            .map_err(|_| Error::validation("id", "the id is not a valid UUID"))
            .gql()?;
        let reverted = module
            .service
            .revert_email_template(caller.principal.as_ref(), id)
            .await
            .gql()?;
        Ok(EmailTemplate(reverted))
    }

    /// Deletes a template's stored text: the folder or built-in template applies again. The
    /// history keeps every version.
    async fn delete_email_template(
        &self,
        ctx: &Context<'_>,
        kind: TemplateKind,
        locale: String,
        part: TemplatePart,
        variant: Option<String>,
    ) -> async_graphql::Result<EmailTemplate> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let template = template_ref(kind, locale, part, variant);
        let template = module
            .service
            .delete_email_template(caller.principal.as_ref(), &template)
            .await
            .gql()?;
        Ok(EmailTemplate(template))
    }
}
