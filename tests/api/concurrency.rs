//! Races: many requests at once for the same invitation or the same email.

use std::sync::Arc;

use chrono::TimeDelta;
use cms_invitations::ErrorCode;
use cms_invitations::domain::{EventKind, InvitationState};
use cms_invitations::service::InvitationFilter;
use cms_invitations::service::{AcceptInput, CreateInvitation};

use crate::helpers::{Backend, admin, spawn_app};

crate::on_both_backends!(
    fifty_simultaneous_accepts_of_one_secret_give_exactly_one_success,
    fifty_simultaneous_creates_for_one_email_and_scope_leave_one_pending,
    two_sweepers_at_once_record_each_expiry_once,
);

const RACERS: usize = 50;

async fn fifty_simultaneous_accepts_of_one_secret_give_exactly_one_success(backend: Backend) {
    let app = Arc::new(spawn_app(backend).await);
    let minted = app.invite("popular@example.org").await;
    let secret = minted.secret.clone();
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));

    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (app, secret, barrier) = (app.clone(), secret.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                app.service
                    .accept(&secret, AcceptInput::default())
                    .await
                    .map(|a| a.user_id)
            })
        })
        .collect();
    let mut wins = Vec::new();
    let mut codes = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(user_id) => wins.push(user_id),
            Err(err) => codes.push(err.code()),
        }
    }

    assert_eq!(wins.len(), 1, "exactly one accept wins");
    assert_eq!(codes, vec![ErrorCode::InvitationAccepted; RACERS - 1]);
    let stored = app.store.get(minted.invitation.id).await.unwrap().unwrap();
    assert_eq!(stored.accepted_user_id.as_ref(), Some(&wins[0]));
    assert_eq!(
        stored
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Accepted)
            .count(),
        1
    );
    let account = app
        .store
        .find_account(Some("popular@example.org"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.id, wins[0]);
    Arc::into_inner(app).unwrap().cleanup().await;
}

async fn fifty_simultaneous_creates_for_one_email_and_scope_leave_one_pending(backend: Backend) {
    let app = Arc::new(spawn_app(backend).await);
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));

    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (app, barrier) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                // Case differs per request: uniqueness is on the normalized address.
                let email = if i % 2 == 0 {
                    "Same@Example.org"
                } else {
                    "same@example.org"
                };
                let mut input = CreateInvitation::new(email, "viewer");
                input.scope = Some("acme".into());
                barrier.wait().await;
                app.service
                    .create(Some(&admin()), input)
                    .await
                    .map(|m| m.invitation.id)
            })
        })
        .collect();
    let mut created = Vec::new();
    let mut named = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(id) => created.push(id),
            Err(cms_invitations::Error::DuplicatePending { existing }) => named.push(existing),
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }

    assert_eq!(created.len(), 1);
    assert_eq!(named.len(), RACERS - 1);
    assert!(
        named.iter().all(|id| *id == created[0]),
        "every duplicate names the one that won"
    );
    let pending = app
        .list(InvitationFilter {
            states: vec![InvitationState::Pending],
            ..Default::default()
        })
        .await;
    assert_eq!(pending.total_count, Some(1));
    assert_eq!(app.count_all().await, 1);
    Arc::into_inner(app).unwrap().cleanup().await;
}

async fn two_sweepers_at_once_record_each_expiry_once(backend: Backend) {
    let app = Arc::new(spawn_app(backend).await);
    let inputs: Vec<_> = (0..60)
        .map(|i| CreateInvitation::new(format!("u{i}@example.org"), "viewer"))
        .collect();
    for outcome in app
        .service
        .create_many(Some(&admin()), inputs)
        .await
        .unwrap()
    {
        outcome.unwrap();
    }
    app.advance(TimeDelta::days(8));

    let (a, b) = tokio::join!(
        tokio::spawn({
            let app = app.clone();
            async move { app.service.sweep().await.unwrap() }
        }),
        tokio::spawn({
            let app = app.clone();
            async move { app.service.sweep().await.unwrap() }
        }),
    );
    let (a, b) = (a.unwrap(), b.unwrap());

    assert_eq!(
        a.expired + b.expired,
        60,
        "each expiry recorded by exactly one sweeper ({a:?}, {b:?})"
    );
    let expired = app.list(InvitationFilter::default()).await;
    for invitation in &expired.items {
        assert_eq!(invitation.stored_state, InvitationState::Expired);
        assert_eq!(
            invitation
                .events
                .iter()
                .filter(|e| e.kind == EventKind::Expired)
                .count(),
            1
        );
    }
    Arc::into_inner(app).unwrap().cleanup().await;
}
