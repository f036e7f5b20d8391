//! `cms-invitations seed FILE`: create the invitations a JSON file lists, for demos and tests.
//!
//! The file is `{"invitations": [ ...CreateInvitationInput fields... ]}`. Invitations are made
//! by a "Seed data" actor that may grant every invitee role. One already PENDING for the same
//! email and scope is left alone, so seeding twice changes nothing.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::domain::{Actor, Channel};
use crate::error::{Error, ErrorCode};
use crate::ports::Principal;
use crate::service::{CreateInvitation, InvitationService, OnDuplicate};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    invitations: Vec<SeedInvitation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SeedInvitation {
    email: String,
    role: String,
    name: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    metadata: Option<Value>,
    locale: Option<String>,
    scope: Option<String>,
    valid_for: Option<String>,
    redirect_url: Option<String>,
    /// A variant of the invitation message.
    template: Option<String>,
    #[serde(default)]
    send_email: bool,
}

/// What a seed run did.
#[derive(Debug, Default)]
pub struct SeedReport {
    pub created: usize,
    pub already_pending: usize,
    /// `(index in the file, problem)`.
    pub failures: Vec<(usize, String)>,
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "created {} invitation(s); {} already pending; {} failed",
            self.created,
            self.already_pending,
            self.failures.len()
        )?;
        for (index, problem) in &self.failures {
            write!(f, "\n  invitations[{index}]: {problem}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a seed file: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("seeding failed: {0} ({code})", code = .0.code())]
    Service(Error),
}

/// Creates the file's invitations. Emails are sent only for entries with `"sendEmail": true`.
pub async fn load(service: &InvitationService, path: &Path) -> Result<SeedReport, SeedError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
        path: shown.clone(),
        source,
    })?;
    let file: SeedFile = serde_json::from_str(&text).map_err(|source| SeedError::Parse {
        path: shown,
        source,
    })?;
    let seeder = Principal::new(
        Actor {
            id: "seed".to_owned(),
            name: "Seed data".to_owned(),
        },
        true,
        service.settings().roles.invitee_roles().to_vec(),
    );
    let inputs = file
        .invitations
        .into_iter()
        .map(|entry| CreateInvitation {
            email: Some(entry.email),
            phone: None,
            channel: Channel::Email,
            name: entry.name,
            role: entry.role,
            groups: entry.groups,
            metadata: entry.metadata,
            locale: entry.locale,
            scope: entry.scope,
            valid_for: entry.valid_for,
            redirect_url: entry.redirect_url,
            template: entry.template,
            send_email: entry.send_email,
            on_duplicate: OnDuplicate::Error,
            accept_language: None,
        })
        .collect();
    let outcomes = service
        .create_many(Some(&seeder), inputs)
        .await
        .map_err(SeedError::Service)?;
    let mut report = SeedReport::default();
    for (index, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(_) => report.created += 1,
            Err(err) if err.code() == ErrorCode::DuplicatePendingInvitation => {
                report.already_pending += 1;
            }
            Err(err) => {
                let field = err.field().map(|f| format!(" ({f})")).unwrap_or_default();
                report
                    .failures
                    .push((index, format!("{}{field}: {err}", err.code())));
            }
        }
    }
    Ok(report)
}
