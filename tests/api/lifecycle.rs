//! The invitation lifecycle through the service: create, look up, accept, decline, revoke,
//! resend, expire, duplicates and permissions.

use chrono::TimeDelta;
use cms_invitations::ErrorCode;
use cms_invitations::config::ExistingAccountPolicy;
use cms_invitations::domain::{EventActor, EventKind, InvitationState};
use cms_invitations::service::InvitationFilter;
use cms_invitations::service::{AcceptInput, CreateInvitation, OnDuplicate};

use crate::helpers::{Backend, Options, admin, author, editor, spawn_app, spawn_app_with, viewer};

crate::on_both_backends!(
    accepting_creates_an_account_with_the_invited_role_groups_and_metadata,
    accepting_links_an_existing_account_when_the_policy_attaches,
    accepting_is_refused_for_an_existing_account_when_the_policy_refuses,
    looking_up_by_secret_has_no_side_effects,
    accepting_an_expired_invitation_is_refused_before_the_sweeper_runs,
    declined_and_revoked_invitations_cannot_be_accepted,
    resending_rotates_the_secret_and_the_old_link_stops_working,
    resending_an_expired_invitation_makes_it_pending_again,
    a_second_pending_invitation_for_the_same_email_and_scope_is_refused,
    asking_to_resend_on_duplicate_resends_the_existing_invitation,
    an_expired_invitation_does_not_block_a_new_one,
    the_sweeper_persists_expiry_and_records_it_once,
    permissions_are_checked_for_every_editor_operation,
);

async fn accepting_creates_an_account_with_the_invited_role_groups_and_metadata(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut input = CreateInvitation::new("new.user@example.org", "author");
    input.groups = vec!["writers".into()];
    input.metadata = Some(serde_json::json!({"team": "docs"}));
    let minted = app.service.create(Some(&editor()), input).await.unwrap();
    app.advance(TimeDelta::minutes(5));

    let accepted = app
        .service
        .accept(
            &minted.secret,
            AcceptInput {
                name: Some("New User".into()),
                password: Some("a long passphrase".into()),
            },
        )
        .await
        .unwrap();

    assert!(!accepted.existing_user);
    assert_eq!(
        accepted.invitation.state_at(app.now()),
        InvitationState::Accepted
    );
    assert_eq!(accepted.invitation.accepted_at, Some(app.now()));
    assert_eq!(
        accepted.invitation.accepted_user_id.as_deref(),
        Some(accepted.user_id.as_str())
    );
    let account = app
        .store
        .find_account(Some("new.user@example.org"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.id, accepted.user_id);
    assert_eq!(account.name.as_deref(), Some("New User"));
    assert_eq!(account.roles, ["author"]);
    assert_eq!(account.groups, ["writers"]);
    assert_eq!(account.metadata["team"], "docs");
    assert!(
        account
            .password_hash
            .as_deref()
            .unwrap()
            .starts_with("$argon2id$")
    );
    let stored = app.store.get(minted.invitation.id).await.unwrap().unwrap();
    let kinds: Vec<_> = stored.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Created, EventKind::Accepted]);
    assert_eq!(stored.events[1].actor, EventActor::Invitee);
    app.cleanup().await;
}

async fn accepting_links_an_existing_account_when_the_policy_attaches(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut first = CreateInvitation::new("member@example.org", "viewer");
    first.groups = vec!["a".into()];
    first.scope = Some("team-1".into());
    let first = app.service.create(Some(&admin()), first).await.unwrap();
    let created = app
        .service
        .accept(&first.secret, AcceptInput::default())
        .await
        .unwrap();
    let mut second = CreateInvitation::new("Member@Example.org", "author");
    second.groups = vec!["a".into(), "b".into()];
    second.scope = Some("team-2".into());
    let second = app.service.create(Some(&admin()), second).await.unwrap();

    let linked = app
        .service
        .accept(&second.secret, AcceptInput::default())
        .await
        .unwrap();

    assert!(linked.existing_user);
    assert_eq!(linked.user_id, created.user_id);
    let account = app
        .store
        .find_account(Some("member@example.org"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.roles, ["viewer", "author"]);
    assert_eq!(account.groups, ["a", "b"]);
    app.cleanup().await;
}

async fn accepting_is_refused_for_an_existing_account_when_the_policy_refuses(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Options {
            existing_accounts: ExistingAccountPolicy::Refuse,
            ..Options::default()
        },
    )
    .await;
    let mut first = CreateInvitation::new("member@example.org", "viewer");
    first.scope = Some("team-1".into());
    let first = app.service.create(Some(&admin()), first).await.unwrap();
    app.service
        .accept(&first.secret, AcceptInput::default())
        .await
        .unwrap();
    let mut second = CreateInvitation::new("member@example.org", "viewer");
    second.scope = Some("team-2".into());
    let second = app.service.create(Some(&admin()), second).await.unwrap();

    let err = app
        .service
        .accept(&second.secret, AcceptInput::default())
        .await
        .unwrap_err();

    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    assert_eq!(err.field(), Some("email"));
    let stored = app.store.get(second.invitation.id).await.unwrap().unwrap();
    assert_eq!(stored.state_at(app.now()), InvitationState::Pending);
    app.cleanup().await;
}

async fn looking_up_by_secret_has_no_side_effects(backend: Backend) {
    let app = spawn_app(backend).await;
    let minted = app.invite("scanner@example.org").await;
    for _ in 0..3 {
        let found = app
            .service
            .lookup_by_secret(&minted.secret)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, minted.invitation.id);
    }
    let stored = app.store.get(minted.invitation.id).await.unwrap().unwrap();
    assert_eq!(stored.revision, 0);
    assert_eq!(stored.events.len(), 1);
    let unknown = cms_invitations::domain::Secret::generate().unwrap();
    assert!(
        app.service
            .lookup_by_secret(&unknown)
            .await
            .unwrap()
            .is_none()
    );
    app.service
        .accept(&minted.secret, AcceptInput::default())
        .await
        .unwrap();
    app.cleanup().await;
}

async fn accepting_an_expired_invitation_is_refused_before_the_sweeper_runs(backend: Backend) {
    let app = spawn_app(backend).await;
    let minted = app.invite("late@example.org").await;
    app.advance(TimeDelta::days(7));

    let err = app
        .service
        .accept(&minted.secret, AcceptInput::default())
        .await
        .unwrap_err();

    assert_eq!(err.code(), ErrorCode::InvitationExpired);
    let found = app
        .service
        .lookup_by_secret(&minted.secret)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.state_at(app.now()), InvitationState::Expired);
    assert_eq!(found.stored_state, InvitationState::Pending);
    assert!(
        app.store
            .find_account(Some("late@example.org"), None)
            .await
            .unwrap()
            .is_none()
    );
    app.cleanup().await;
}

async fn declined_and_revoked_invitations_cannot_be_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let declined = app.invite("no@example.org").await;
    let revoked = app.invite("revoked@example.org").await;

    app.service.decline(&declined.secret).await.unwrap();
    app.service
        .revoke(Some(&admin()), revoked.invitation.id)
        .await
        .unwrap();

    fn code<T: std::fmt::Debug>(r: cms_invitations::Result<T>) -> ErrorCode {
        r.unwrap_err().code()
    }
    assert_eq!(
        code(
            app.service
                .accept(&declined.secret, AcceptInput::default())
                .await
        ),
        ErrorCode::InvitationDeclined
    );
    assert_eq!(
        code(
            app.service
                .accept(&revoked.secret, AcceptInput::default())
                .await
        ),
        ErrorCode::InvitationRevoked
    );
    assert_eq!(
        code(app.service.decline(&revoked.secret).await),
        ErrorCode::InvitationRevoked
    );
    assert_eq!(
        code(
            app.service
                .revoke(Some(&admin()), revoked.invitation.id)
                .await
        ),
        ErrorCode::InvitationRevoked
    );
    assert_eq!(
        code(
            app.service
                .resend(Some(&admin()), declined.invitation.id, None)
                .await
        ),
        ErrorCode::InvitationDeclined
    );
    // A malformed secret never reaches the service: it is refused where it is parsed.
    let malformed = cms_invitations::domain::Secret::parse("garbage").unwrap_err();
    assert_eq!(
        cms_invitations::Error::from(malformed).code(),
        ErrorCode::InvalidSecret
    );
    let revoked = app.store.get(revoked.invitation.id).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(app.now()));
    assert!(matches!(&revoked.events[1].actor, EventActor::Editor(a) if a.id == "admin-1"));
    app.cleanup().await;
}

async fn resending_rotates_the_secret_and_the_old_link_stops_working(backend: Backend) {
    let app = spawn_app(backend).await;
    let minted = app.invite("again@example.org").await;
    app.advance(TimeDelta::hours(1));

    let resent = app
        .service
        .resend(Some(&admin()), minted.invitation.id, Some("P2D"))
        .await
        .unwrap();

    assert_ne!(resent.secret, minted.secret);
    assert_eq!(resent.invitation.send_count, 2);
    assert_eq!(resent.invitation.expires_at, app.now() + TimeDelta::days(2));
    assert_eq!(resent.invitation.last_sent_at, Some(app.now()));
    let old = app
        .service
        .accept(&minted.secret, AcceptInput::default())
        .await
        .unwrap_err();
    assert_eq!(old.code(), ErrorCode::InvalidSecret);
    app.service
        .accept(&resent.secret, AcceptInput::default())
        .await
        .unwrap();
    let again = app
        .service
        .resend(Some(&admin()), minted.invitation.id, None)
        .await
        .unwrap_err();
    assert_eq!(again.code(), ErrorCode::InvitationAccepted);
    app.cleanup().await;
}

async fn resending_an_expired_invitation_makes_it_pending_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let minted = app.invite("expired@example.org").await;
    app.advance(TimeDelta::days(8));
    app.service.sweep().await.unwrap();

    let resent = app
        .service
        .resend(Some(&admin()), minted.invitation.id, None)
        .await
        .unwrap();

    assert_eq!(
        resent.invitation.state_at(app.now()),
        InvitationState::Pending
    );
    let kinds: Vec<_> = resent.invitation.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [EventKind::Created, EventKind::Expired, EventKind::Resent]
    );
    app.service
        .accept(&resent.secret, AcceptInput::default())
        .await
        .unwrap();
    app.cleanup().await;
}

async fn a_second_pending_invitation_for_the_same_email_and_scope_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.invite("dup@example.org").await;

    let err = app
        .service
        .create(
            Some(&admin()),
            CreateInvitation::new(" DUP@example.org ", "viewer"),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(err, cms_invitations::Error::DuplicatePending { existing } if existing == first.invitation.id)
    );
    let mut other_scope = CreateInvitation::new("dup@example.org", "viewer");
    other_scope.scope = Some("another-team".into());
    app.service
        .create(Some(&admin()), other_scope)
        .await
        .unwrap();
    assert_eq!(app.count_all().await, 2);
    app.cleanup().await;
}

async fn asking_to_resend_on_duplicate_resends_the_existing_invitation(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.invite("dup@example.org").await;
    let mut input = CreateInvitation::new("dup@example.org", "viewer");
    input.on_duplicate = OnDuplicate::Resend;

    let resent = app.service.create(Some(&admin()), input).await.unwrap();

    assert_eq!(resent.invitation.id, first.invitation.id);
    assert_eq!(resent.invitation.send_count, 2);
    assert_eq!(app.count_all().await, 1);
    app.cleanup().await;
}

async fn an_expired_invitation_does_not_block_a_new_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let old = app.invite("again@example.org").await;
    app.advance(TimeDelta::days(7) + TimeDelta::seconds(1));

    let new = app.invite("again@example.org").await;

    assert_ne!(new.invitation.id, old.invitation.id);
    let old = app.store.get(old.invitation.id).await.unwrap().unwrap();
    assert_eq!(old.stored_state, InvitationState::Expired);
    assert_eq!(old.events.last().unwrap().kind, EventKind::Expired);
    app.cleanup().await;
}

async fn the_sweeper_persists_expiry_and_records_it_once(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..5 {
        app.invite(&format!("user{i}@example.org")).await;
    }
    let keeper = app
        .service
        .create(Some(&admin()), {
            let mut input = CreateInvitation::new("keeper@example.org", "viewer");
            input.valid_for = Some("P30D".into());
            input
        })
        .await
        .unwrap();
    app.advance(TimeDelta::days(8));

    let first = app.service.sweep().await.unwrap();
    let second = app.service.sweep().await.unwrap();

    assert_eq!(first.expired, 5);
    assert_eq!(second.expired, 0);
    let expired = app
        .list(InvitationFilter {
            states: vec![InvitationState::Expired],
            ..Default::default()
        })
        .await;
    assert_eq!(expired.total_count, Some(5));
    for invitation in expired.items {
        assert_eq!(invitation.stored_state, InvitationState::Expired);
        assert_eq!(
            invitation
                .events
                .iter()
                .filter(|e| e.kind == EventKind::Expired)
                .count(),
            1
        );
        assert_eq!(invitation.events.last().unwrap().actor, EventActor::System);
    }
    let keeper = app.store.get(keeper.invitation.id).await.unwrap().unwrap();
    assert_eq!(keeper.stored_state, InvitationState::Pending);
    app.cleanup().await;
}

async fn permissions_are_checked_for_every_editor_operation(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin_invite = app
        .service
        .create(
            Some(&admin()),
            CreateInvitation::new("boss@example.org", "admin"),
        )
        .await
        .unwrap();
    let id = admin_invite.invitation.id;
    let input = || CreateInvitation::new("x@example.org", "viewer");
    let code = |r: cms_invitations::Result<()>| r.unwrap_err().code();

    assert_eq!(
        code(app.service.create(None, input()).await.map(drop)),
        ErrorCode::Unauthenticated
    );
    assert_eq!(
        code(app.service.get(None, id).await.map(drop)),
        ErrorCode::Unauthenticated
    );
    assert_eq!(
        code(app.service.create(Some(&viewer()), input()).await.map(drop)),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(app.service.create(Some(&author()), input()).await.map(drop)),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(app.service.revoke(Some(&viewer()), id).await.map(drop)),
        ErrorCode::Forbidden
    );
    // An editor may grant author and viewer, nothing above.
    let above = app
        .service
        .create(
            Some(&editor()),
            CreateInvitation::new("y@example.org", "admin"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (above.code(), above.field()),
        (ErrorCode::ValidationFailed, Some("role"))
    );
    assert_eq!(
        code(app.service.revoke(Some(&editor()), id).await.map(drop)),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            app.service
                .resend(Some(&editor()), id, None)
                .await
                .map(drop)
        ),
        ErrorCode::Forbidden
    );
    // Every configured role may read.
    for reader in [viewer(), author(), editor(), admin()] {
        assert_eq!(app.service.get(Some(&reader), id).await.unwrap().id, id);
    }
    let missing = cms_invitations::domain::InvitationId::new();
    assert_eq!(
        code(app.service.get(Some(&viewer()), missing).await.map(drop)),
        ErrorCode::NotFound
    );
    assert_eq!(app.store.get(id).await.unwrap().unwrap().revision, 0);
    app.cleanup().await;
}
