//! Accepting at the edges: the last millisecond of validity, a provisioner that fails, and
//! one person accepting two scopes' invitations at the same instant.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::TimeDelta;
use cms_invitations::domain::{EmailAddress, EventKind, Invitation, InvitationState, MessageKind};
use cms_invitations::ports::{AcceptInput, AccountProvisioner, ProvisionPlan};
use cms_invitations::service::CreateInvitation;
use cms_invitations::{Error, ErrorCode, Result};

use crate::helpers::{Backend, Options, admin, editor, spawn_app, spawn_app_provisioned_by};

crate::on_both_backends!(
    an_invitation_accepts_one_millisecond_before_its_expiry_and_not_at_it,
    a_failed_provisioning_rolls_the_accept_back_and_tells_nobody,
    one_new_person_accepting_two_scopes_at_once_gets_one_account_with_both,
);

async fn an_invitation_accepts_one_millisecond_before_its_expiry_and_not_at_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut last_moment = CreateInvitation::new("edge@example.org", "viewer");
    last_moment.valid_for = Some("PT1H".into());
    let last_moment = app
        .service
        .create(Some(&admin()), last_moment)
        .await
        .unwrap();
    let mut at_expiry = CreateInvitation::new("late@example.org", "viewer");
    at_expiry.valid_for = Some("PT1H".into());
    let at_expiry = app.service.create(Some(&admin()), at_expiry).await.unwrap();

    app.advance(TimeDelta::hours(1) - TimeDelta::milliseconds(1));
    let accepted = app
        .service
        .accept(&last_moment.secret, AcceptInput::default())
        .await;
    assert_eq!(
        accepted.unwrap().invitation.state_at(app.now()),
        InvitationState::Accepted
    );
    app.advance(TimeDelta::milliseconds(1));
    let refused = app
        .service
        .accept(&at_expiry.secret, AcceptInput::default())
        .await;
    assert_eq!(refused.unwrap_err().code(), ErrorCode::InvitationExpired);
    app.cleanup().await;
}

/// Plans like the built-in provisioner would, and fails to provision while `failures` lasts.
#[derive(Debug)]
struct Flaky {
    failures: AtomicUsize,
    provisioned: AtomicUsize,
}

#[async_trait]
impl AccountProvisioner for Flaky {
    async fn prepare(&self, _: &Invitation, _: &AcceptInput) -> Result<ProvisionPlan> {
        Ok(ProvisionPlan {
            user_id: uuid::Uuid::now_v7().to_string(),
            existing_user: false,
        })
    }

    async fn provision(&self, _: &Invitation, _: &AcceptInput, _: &ProvisionPlan) -> Result<()> {
        let left = self.failures.load(Ordering::SeqCst);
        if left > 0 {
            self.failures.store(left - 1, Ordering::SeqCst);
            return Err(Error::internal("the user directory refused the account"));
        }
        self.provisioned.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn a_failed_provisioning_rolls_the_accept_back_and_tells_nobody(backend: Backend) {
    let flaky = Arc::new(Flaky {
        failures: AtomicUsize::new(1),
        provisioned: AtomicUsize::new(0),
    });
    let provisioner = flaky.clone();
    let app = spawn_app_provisioned_by(backend, Options::default(), move |_, _| provisioner).await;
    // The editor has an address, so a successful accept would queue a notice to them.
    let inviter = editor().with_email(Some(EmailAddress::parse("editor@example.org").unwrap()));
    let minted = app
        .service
        .create(
            Some(&inviter),
            CreateInvitation::new("rollback@example.org", "viewer"),
        )
        .await
        .unwrap();

    let failed = app
        .service
        .accept(&minted.secret, AcceptInput::default())
        .await;
    assert_eq!(failed.unwrap_err().code(), ErrorCode::Internal);
    let stored = app.store.get(minted.invitation.id).await.unwrap().unwrap();
    assert_eq!(stored.state_at(app.now()), InvitationState::Pending);
    assert_eq!(stored.accepted_user_id, None);
    assert_eq!(
        stored.events.last().map(|e| e.kind),
        Some(EventKind::AcceptRolledBack)
    );
    assert!(
        stored
            .outbox
            .iter()
            .all(|m| m.kind != MessageKind::InvitationAccepted),
        "the rolled-back accept queued no notice"
    );
    assert_eq!(flaky.provisioned.load(Ordering::SeqCst), 0);

    // The same link works once the directory does.
    let accepted = app
        .service
        .accept(&minted.secret, AcceptInput::default())
        .await;
    let accepted = accepted.unwrap().invitation;
    assert_eq!(accepted.state_at(app.now()), InvitationState::Accepted);
    assert!(
        accepted
            .outbox
            .iter()
            .any(|m| m.kind == MessageKind::InvitationAccepted),
        "the successful accept queued the notice"
    );
    assert_eq!(flaky.provisioned.load(Ordering::SeqCst), 1);
    app.cleanup().await;
}

async fn one_new_person_accepting_two_scopes_at_once_gets_one_account_with_both(backend: Backend) {
    const ROUNDS: usize = 5;
    let app = Arc::new(spawn_app(backend).await);
    for round in 0..ROUNDS {
        let email = format!("twice{round}@example.org");
        let mut minted = Vec::new();
        for (scope, role) in [("team-a", "viewer"), ("team-b", "author")] {
            let mut input = CreateInvitation::new(email.clone(), role);
            input.scope = Some(scope.into());
            minted.push(app.service.create(Some(&admin()), input).await.unwrap());
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let accepts = minted.iter().map(|m| {
            let (app, secret, barrier) = (app.clone(), m.secret.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                app.service.accept(&secret, AcceptInput::default()).await
            })
        });
        let outcomes: Vec<_> = futures_util::future::join_all(accepts).await;
        let accepted: Vec<_> = outcomes
            .into_iter()
            .map(|joined| joined.unwrap().unwrap_or_else(|err| panic!("{err:?}")))
            .collect();
        assert_eq!(
            accepted[0].user_id, accepted[1].user_id,
            "both invitations lead to one account"
        );
        assert_eq!(
            accepted.iter().filter(|a| !a.existing_user).count(),
            1,
            "exactly one accept created the account"
        );
    }
    Arc::into_inner(app).unwrap().cleanup().await;
}
