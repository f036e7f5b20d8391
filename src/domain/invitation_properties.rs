//! Property tests: no sequence of operations and clock moves reaches an illegal state.

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    Accept,
    RollBack { same_user: bool },
    Decline,
    Revoke,
    Resend { valid_for_minutes: i64 },
    Extend { valid_for_minutes: i64 },
    Expire,
    Wait { minutes: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Accept),
        any::<bool>().prop_map(|same_user| Op::RollBack { same_user }),
        Just(Op::Decline),
        Just(Op::Revoke),
        (1i64..600).prop_map(|valid_for_minutes| Op::Resend { valid_for_minutes }),
        (1i64..600).prop_map(|valid_for_minutes| Op::Extend { valid_for_minutes }),
        Just(Op::Expire),
        (0i64..240).prop_map(|minutes| Op::Wait { minutes }),
    ]
}

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}

fn editor() -> Actor {
    Actor {
        id: "editor-1".into(),
        name: "Edith".into(),
    }
}

/// A new PENDING invitation with an email to send, valid for two hours from `now`.
pub(super) fn fresh(now: DateTime<Utc>) -> Invitation {
    let details = InvitationDetails {
        contact: Contact::email_only(EmailAddress::parse("invitee@example.org").unwrap()),
        name: None,
        role: Role::parse("viewer").unwrap(),
        groups: Groups::default(),
        metadata: Metadata::default(),
        locale: None,
        scope: None,
        redirect_url: None,
        template: None,
    };
    let draft = InvitationDraft {
        details,
        send_email: true,
    };
    let digest = Secret::generate().unwrap().digest();
    Invitation::create(
        InvitationId::new(),
        draft,
        editor(),
        None,
        digest,
        now,
        now + TimeDelta::minutes(120),
    )
}

fn assert_invariants(inv: &Invitation, now: DateTime<Utc>) {
    use InvitationState::*;
    assert_eq!(inv.accepted_at.is_some(), inv.stored_state == Accepted);
    assert_eq!(inv.accepted_user_id.is_some(), inv.stored_state == Accepted);
    assert_eq!(inv.revoked_at.is_some(), inv.stored_state == Revoked);
    assert_eq!(inv.declined_at.is_some(), inv.stored_state == Declined);
    if inv.stored_state == Expired {
        assert!(inv.expires_at <= now, "persisted EXPIRED before its time");
    }
    if inv.state_at(now) == Pending {
        assert!(inv.expires_at > now, "reads as PENDING after expiry");
    }
    assert_eq!(inv.is_revocable(now), inv.state_at(now) == Pending);
    assert_eq!(
        inv.is_resendable(now),
        matches!(inv.state_at(now), Pending | Expired)
    );
    assert!(
        inv.events.windows(2).all(|w| w[0].at <= w[1].at),
        "events out of order"
    );
    assert_eq!(inv.events.first().map(|e| e.kind), Some(EventKind::Created));
    assert_eq!(
        inv.updated_at,
        inv.events.last().map(|e| e.at).unwrap_or(inv.created_at)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_sequence_of_operations_reaches_an_illegal_state(ops in prop::collection::vec(op(), 1..40)) {
        let mut now = start();
        let mut inv = fresh(now);
        for op in ops {
            let before = inv.clone();
            let effective_before = before.state_at(now);
            let result = match op {
                Op::Wait { minutes } => { now += TimeDelta::minutes(minutes); Ok(()) }
                Op::Accept => inv.accept(now, "user-1".into()),
                Op::RollBack { same_user } => inv.roll_back_accept(now, if same_user { "user-1" } else { "user-2" }),
                Op::Decline => inv.decline(now),
                Op::Revoke => inv.revoke(now, editor()),
                Op::Resend { valid_for_minutes } => {
                    let digest = Secret::generate().unwrap().digest();
                    inv.resend(now, digest, now + TimeDelta::minutes(valid_for_minutes), editor())
                }
                Op::Extend { valid_for_minutes } => {
                    inv.extend(now, now + TimeDelta::minutes(valid_for_minutes), editor())
                }
                Op::Expire => inv.expire(now),
            };
            match (&op, &result) {
                (Op::Wait { .. }, _) => {}
                (_, Err(TransitionRefused(state))) => {
                    // A refused transition changes nothing and names the state that forbids it.
                    prop_assert_eq!(*state, effective_before);
                    prop_assert_eq!(inv.revision, before.revision);
                    prop_assert_eq!(inv.events.len(), before.events.len());
                    prop_assert_eq!(inv.stored_state, before.stored_state);
                }
                (_, Ok(())) => {
                    prop_assert_eq!(inv.events.len(), before.events.len() + 1);
                    match op {
                        Op::Accept | Op::Decline | Op::Revoke => {
                            prop_assert_eq!(effective_before, InvitationState::Pending);
                        }
                        Op::Resend { .. } => {
                            prop_assert!(matches!(effective_before, InvitationState::Pending | InvitationState::Expired), "resent from {}", effective_before);
                            prop_assert_ne!(inv.secret_digest, before.secret_digest);
                            prop_assert_eq!(inv.send_count, before.send_count + 1);
                        }
                        Op::Extend { valid_for_minutes } => {
                            prop_assert!(matches!(effective_before, InvitationState::Pending | InvitationState::Expired), "extended from {}", effective_before);
                            // The link stays: same secret, nothing sent.
                            prop_assert_eq!(inv.secret_digest, before.secret_digest);
                            prop_assert_eq!(inv.send_count, before.send_count);
                            prop_assert_eq!(inv.expires_at, now + TimeDelta::minutes(valid_for_minutes));
                            prop_assert_eq!(inv.state_at(now), InvitationState::Pending);
                        }
                        Op::Expire => {
                            prop_assert_eq!(before.stored_state, InvitationState::Pending);
                            prop_assert_eq!(effective_before, InvitationState::Expired);
                        }
                        Op::RollBack { same_user } => {
                            prop_assert!(same_user);
                            prop_assert_eq!(before.stored_state, InvitationState::Accepted);
                        }
                        Op::Wait { .. } => {}
                    }
                }
            }
            // Final states are left only by rolling back the very accept that was recorded.
            if before.stored_state.is_final() && inv.stored_state != before.stored_state {
                prop_assert!(matches!(op, Op::RollBack { same_user: true }), "left a final state by {:?}", op);
            }
            assert_invariants(&inv, now);
        }
    }
}

#[test]
fn an_invitation_past_its_expiry_reads_as_expired_before_the_sweeper_runs() {
    let now = start();
    let mut inv = fresh(now);
    let later = inv.expires_at;
    assert_eq!(inv.state_at(later), InvitationState::Expired);
    assert_eq!(inv.stored_state, InvitationState::Pending);
    assert_eq!(
        inv.accept(later, "u".into()),
        Err(TransitionRefused(InvitationState::Expired))
    );
}

#[test]
fn a_resend_revives_an_expired_invitation_with_a_new_secret() {
    let now = start();
    let mut inv = fresh(now);
    let later = inv.expires_at + TimeDelta::minutes(1);
    inv.expire(later).unwrap();
    let digest = Secret::generate().unwrap().digest();
    inv.resend(later, digest, later + TimeDelta::days(1), editor())
        .unwrap();
    assert_eq!(inv.state_at(later), InvitationState::Pending);
    assert_eq!(inv.secret_digest, digest);
    assert_eq!(inv.send_count, 2);
    assert_eq!(inv.finished_at(), None);
}

#[test]
fn the_history_keeps_its_creation_and_the_latest_events_within_its_bound() {
    let now = start();
    let mut inv = fresh(now);
    for i in 0..150 {
        let at = now + TimeDelta::minutes(i);
        let digest = Secret::generate().unwrap().digest();
        inv.resend(at, digest, at + TimeDelta::days(1), editor())
            .unwrap();
    }
    assert_eq!(inv.events.len(), MAX_EVENTS);
    assert_eq!(inv.events[0].kind, EventKind::Created);
    assert_eq!(inv.events.last().unwrap().at, now + TimeDelta::minutes(149));
    assert_eq!(inv.send_count, 151, "the count still counts every resend");
}
