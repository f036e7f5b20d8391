//! Principals limited to scopes. Over GraphQL on both stores: an editor of team A neither sees
//! nor changes team B's invitations (or unscoped ones) through any operation, learns nothing
//! about them from errors or `totalCount`, and creates only in team A. At the service, a
//! property test runs random operation sequences as a scoped principal and checks after each
//! that nothing outside its scopes was shown or changed.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use cms_invitations::domain::{Actor, Invitation, InvitationId, Scope};
use cms_invitations::ports::{InvitationFilter, Principal};
use cms_invitations::service::{CreateInvitation, ListRequest, Total};
use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

use crate::events::Subscriber;
use crate::helpers::{Backend, admin, spawn_app};
use crate::server::{TestServer, data, spawn_server};

crate::on_both_backends!(
    a_scoped_editor_reaches_only_its_own_scopes,
    groups_beyond_a_roles_limit_are_refused_as_roles_are,
    no_sequence_of_operations_lets_a_scoped_principal_observe_or_change_another_scope,
);

async fn invite_in(server: &TestServer, scope: Option<&str>, email: &str) -> Value {
    server
        .create_invitation(
            &server.tokens.admin,
            json!({ "email": email, "role": "author", "sendEmail": false, "scope": scope }),
        )
        .await
}

/// The error code of a response, or `None` when it has none.
fn code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

/// The invitation as an unlimited admin reads it now.
async fn as_admin(server: &TestServer, id: &Value) -> Value {
    let read = server
        .gql(
            "Invitation",
            json!({ "id": id }),
            Some(&server.tokens.admin),
        )
        .await;
    data(&read, "invitation").clone()
}

async fn a_scoped_editor_reaches_only_its_own_scopes(backend: Backend) {
    let server = spawn_server(backend).await;
    let own = invite_in(&server, Some("team-a"), "mine@example.org").await;
    let foreign = invite_in(&server, Some("team-b"), "theirs@example.org").await;
    let unscoped = invite_in(&server, None, "nobodys@example.org").await;
    let before = [
        as_admin(&server, &foreign["id"]).await,
        as_admin(&server, &unscoped["id"]).await,
    ];
    let editor = Some(server.tokens.team_a_editor.as_str());
    let missing = json!(uuid::Uuid::now_v7().to_string());

    // Reading one: exactly what an id that does not exist answers.
    let nothing = server
        .gql("Invitation", json!({ "id": missing }), editor)
        .await;
    for other in [&foreign, &unscoped] {
        let read = server
            .gql("Invitation", json!({ "id": other["id"] }), editor)
            .await;
        assert_eq!(read, nothing, "reading {other}");
    }
    let read = server
        .gql("Invitation", json!({ "id": own["id"] }), editor)
        .await;
    assert_eq!(data(&read, "invitation")["email"], "mine@example.org");

    // Listing and counting: their own only, whatever the filter asks.
    let list = |filter: Value| {
        let server = &server;
        async move {
            let listed = server
                .gql("Invitations", json!({ "filter": filter }), editor)
                .await;
            let page = data(&listed, "invitations").clone();
            let emails: Vec<String> = page["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["email"].as_str().unwrap().to_owned())
                .collect();
            (page["totalCount"].as_u64().unwrap(), emails)
        }
    };
    assert_eq!(
        list(json!({})).await,
        (1, vec!["mine@example.org".to_owned()])
    );
    for filter in [
        json!({ "scope": "team-b" }),
        json!({ "email": "theirs@example.org" }),
        json!({ "emailContains": "nobody" }),
        json!({ "states": ["PENDING"], "scope": "team-b" }),
    ] {
        assert_eq!(list(filter.clone()).await, (0, Vec::new()), "{filter}");
    }
    // An unlimited editor's count of the same filter is not reused for the limited one.
    let everyone = server
        .gql("Invitations", json!({}), Some(&server.tokens.editor))
        .await;
    assert_eq!(data(&everyone, "invitations")["totalCount"], 3);
    assert_eq!(list(json!({})).await.0, 1);

    // Resending and revoking: NOT_FOUND, as for an id that does not exist.
    for operation in ["ResendInvitation", "RevokeInvitation"] {
        let absent = server
            .gql(operation, json!({ "id": missing }), editor)
            .await;
        assert_eq!(code(&absent), Some("NOT_FOUND"));
        for other in [&foreign, &unscoped] {
            let answer = server
                .gql(operation, json!({ "id": other["id"] }), editor)
                .await;
            assert_eq!(answer["errors"], absent["errors"], "{operation} of {other}");
        }
    }
    let revoked = server
        .gql("RevokeInvitation", json!({ "id": own["id"] }), editor)
        .await;
    assert_eq!(data(&revoked, "revokeInvitation")["state"], "REVOKED");

    // Creating: in team A only; elsewhere or nowhere is FORBIDDEN and says why.
    let create = |scope: Value, email: &'static str| {
        let server = &server;
        async move {
            server
                .gql(
                    "CreateInvitation",
                    json!({ "input": { "email": email, "role": "author", "scope": scope, "sendEmail": false } }),
                    editor,
                )
                .await
        }
    };
    let elsewhere = create(json!("team-b"), "new-b@example.org").await;
    assert_eq!(code(&elsewhere), Some("FORBIDDEN"));
    let message = elsewhere["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("\"team-b\"") && message.contains("team-a"),
        "{message}"
    );
    let nowhere = create(Value::Null, "new-none@example.org").await;
    assert_eq!(code(&nowhere), Some("FORBIDDEN"));
    assert!(
        nowhere["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("name a scope")
    );
    let inside = create(json!("team-a"), "new-a@example.org").await;
    assert_eq!(data(&inside, "createInvitation")["scope"], "team-a");
    let bulk = server
        .gql(
            "CreateInvitations",
            json!({ "inputs": [
                { "email": "bulk-a@example.org", "role": "author", "scope": "team-a", "sendEmail": false },
                { "email": "bulk-b@example.org", "role": "author", "scope": "team-b", "sendEmail": false },
            ] }),
            editor,
        )
        .await;
    let bulk = data(&bulk, "createInvitations");
    assert_eq!((&bulk["created"], &bulk["failed"]), (&json!(1), &json!(1)));
    assert_eq!(bulk["items"][1]["error"]["code"], "FORBIDDEN");
    let everyone = server
        .gql(
            "Invitations",
            json!({ "filter": { "scope": "team-b" } }),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(
        data(&everyone, "invitations")["totalCount"],
        1,
        "nothing was created in team B"
    );

    // Nothing outside team A changed.
    let after = [
        as_admin(&server, &foreign["id"]).await,
        as_admin(&server, &unscoped["id"]).await,
    ];
    assert_eq!(before, after);

    // The viewer says which scopes; a scoped admin manages no webhooks (they carry every
    // scope's events).
    let viewer = server
        .query(
            "{ invitationViewer { scopes grantableGroups canManageWebhooks } }",
            json!({}),
            editor,
        )
        .await;
    assert_eq!(
        data(&viewer, "invitationViewer")["scopes"],
        json!(["team-a"])
    );
    let admin_a = Some(server.tokens.team_a_admin.as_str());
    let viewer = server
        .query(
            "{ invitationViewer { scopes canManageWebhooks } }",
            json!({}),
            admin_a,
        )
        .await;
    assert_eq!(
        data(&viewer, "invitationViewer"),
        &json!({ "scopes": ["team-a", "team-c"], "canManageWebhooks": false })
    );
    let endpoints = server.gql("WebhookEndpoints", json!({}), admin_a).await;
    assert_eq!(code(&endpoints), Some("FORBIDDEN"));
    let unlimited = server
        .query(
            "{ invitationViewer { scopes grantableGroups } }",
            json!({}),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(
        data(&unlimited, "invitationViewer"),
        &json!({ "scopes": null, "grantableGroups": null })
    );

    // Events: a subscriber limited to team A gets team A's only.
    let query = "subscription { invitationEvents { type invitation { email } } }";
    let mut limited = Subscriber::start(&server, "graphql-transport-ws", editor, query).await;
    limited.warm_up_in(&server, Some("team-a")).await;
    let mut everything = Subscriber::start(
        &server,
        "graphql-transport-ws",
        Some(&server.tokens.admin),
        query,
    )
    .await;
    everything.warm_up_in(&server, None).await;
    invite_in(&server, Some("team-b"), "event-b@example.org").await;
    invite_in(&server, None, "event-none@example.org").await;
    let seen = everything.next_event().await;
    assert_eq!(
        seen["next"]["data"]["invitationEvents"]["invitation"]["email"],
        "event-b@example.org"
    );
    let seen = everything.next_event().await;
    assert_eq!(
        seen["next"]["data"]["invitationEvents"]["invitation"]["email"],
        "event-none@example.org"
    );
    // Both published before this one, in order: the limited subscriber's next is team A's.
    invite_in(&server, Some("team-a"), "event-a@example.org").await;
    let seen = limited.next_event().await;
    assert_eq!(
        seen["next"]["data"]["invitationEvents"]["invitation"]["email"],
        "event-a@example.org"
    );
    limited.stop().await;
    everything.stop().await;
    server.cleanup().await;
}

/// One step a scoped principal tries.
#[derive(Debug, Clone)]
enum Step {
    Get(usize),
    List {
        scope: Option<usize>,
        email: Option<usize>,
    },
    Resend(usize),
    Revoke(usize),
    Create {
        scope: Option<usize>,
    },
    /// Time passes (invitations expire; resends cool down).
    Wait(i64),
}

/// Scopes the invitations live in: the principal's two, another, and none.
const SCOPES: [Option<&str>; 4] = [Some("team-a"), Some("team-c"), Some("team-b"), None];

fn steps(invitations: usize) -> impl Strategy<Value = Vec<Step>> {
    let scope = proptest::option::of(0..SCOPES.len());
    let step = prop_oneof![
        (0..invitations).prop_map(Step::Get),
        (scope.clone(), proptest::option::of(0..invitations))
            .prop_map(|(scope, email)| Step::List { scope, email }),
        (0..invitations).prop_map(Step::Resend),
        (0..invitations).prop_map(Step::Revoke),
        scope.prop_map(|scope| Step::Create { scope }),
        (1..200_i64).prop_map(Step::Wait),
    ];
    proptest::collection::vec(step, 1..40)
}

fn reachable(scope: Option<&Scope>) -> bool {
    matches!(scope.map(Scope::as_str), Some("team-a" | "team-c"))
}

async fn no_sequence_of_operations_lets_a_scoped_principal_observe_or_change_another_scope(
    backend: Backend,
) {
    let seed = crate::hostile::target::seed();
    // Every assertion names the seed; INVITATIONS_HOSTILE_SEED repeats a run.
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config {
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    );
    let app = spawn_app(backend).await;
    let limited = Principal::with_role(
        &app.service.settings().roles,
        Actor {
            id: "team-lead".into(),
            name: "Team lead".into(),
        },
        "editor",
    )
    .unwrap()
    .with_scopes(["team-a", "team-c"].map(|s| Scope::parse(s).unwrap()));
    let mut ids: Vec<InvitationId> = Vec::new();
    for (n, scope) in SCOPES.iter().cycle().take(12).enumerate() {
        let input = CreateInvitation {
            scope: scope.map(str::to_owned),
            send_email: false,
            ..CreateInvitation::new(format!("person{n}@example.org"), "author")
        };
        ids.push(
            app.service
                .create(Some(&admin()), input)
                .await
                .unwrap()
                .invitation
                .id,
        );
    }
    // Invitations outside its scopes, as they are before the principal does anything.
    let mut untouched: BTreeMap<InvitationId, Invitation> = BTreeMap::new();
    for id in &ids {
        let invitation = app.store.get(*id).await.unwrap().unwrap();
        if !reachable(invitation.details.scope.as_ref()) {
            untouched.insert(*id, invitation);
        }
    }
    let sequences = 12;
    for sequence in 0..sequences {
        let plan = steps(ids.len()).new_tree(&mut runner).unwrap().current();
        for (n, step) in plan.iter().enumerate() {
            let context = format!("seed {seed}, sequence {sequence}, step {n}: {step:?}");
            let who = Some(&limited);
            match step {
                Step::Get(i) => {
                    if let Ok(seen) = app.service.get(who, ids[*i]).await {
                        assert!(reachable(seen.details.scope.as_ref()), "{context}");
                    }
                }
                Step::List { scope, email } => {
                    let filter = InvitationFilter {
                        scope: scope.and_then(|s| SCOPES[s]).map(str::to_owned),
                        email: email.map(|e| format!("person{e}@example.org")),
                        ..InvitationFilter::default()
                    };
                    let request = ListRequest::first_page(filter, ListRequest::MAX_FIRST);
                    let listing = app.service.list(who, request, Total::Count).await.unwrap();
                    assert!(
                        listing
                            .items
                            .iter()
                            .all(|i| reachable(i.details.scope.as_ref())),
                        "{context}"
                    );
                    assert_eq!(
                        listing.total_count,
                        Some(listing.items.len() as u64),
                        "{context}: the count covers what it may see, no more"
                    );
                }
                Step::Resend(i) => {
                    if let Ok(minted) = app.service.resend(who, ids[*i], None).await {
                        assert!(
                            reachable(minted.invitation.details.scope.as_ref()),
                            "{context}"
                        );
                    }
                }
                Step::Revoke(i) => {
                    if let Ok(revoked) = app.service.revoke(who, ids[*i]).await {
                        assert!(reachable(revoked.details.scope.as_ref()), "{context}");
                    }
                }
                Step::Create { scope } => {
                    let scope = scope.and_then(|s| SCOPES[s]);
                    let input = CreateInvitation {
                        scope: scope.map(str::to_owned),
                        send_email: false,
                        ..CreateInvitation::new(format!("new{sequence}-{n}@example.org"), "author")
                    };
                    let created = app.service.create(who, input).await;
                    match created {
                        Ok(minted) => {
                            assert!(
                                reachable(minted.invitation.details.scope.as_ref()),
                                "{context}"
                            );
                        }
                        Err(err) => assert!(
                            !reachable(scope.map(|s| Scope::parse(s).unwrap()).as_ref()),
                            "{context}: {err}"
                        ),
                    }
                }
                Step::Wait(minutes) => app.advance(TimeDelta::minutes(*minutes)),
            }
            // Whatever happened, invitations outside its scopes are as they were.
            for (id, was) in &untouched {
                let is = app.store.get(*id).await.unwrap().unwrap();
                assert_eq!(
                    (is.revision, is.send_count, is.revoked_at, &is.details),
                    (was.revision, was.send_count, was.revoked_at, &was.details),
                    "{context}"
                );
            }
        }
    }
    app.cleanup().await;
}

/// A role limited to some groups (`roles.principals.NAME.groups`) gives only those, and
/// resends or revokes no invitation that gives another.
async fn groups_beyond_a_roles_limit_are_refused_as_roles_are(backend: Backend) {
    let app = spawn_app(backend).await;
    let lead = Principal::new(
        Actor {
            id: "lead".into(),
            name: "Lead".into(),
        },
        true,
        ["author".to_owned()],
    )
    .with_grantable_groups(Some(["engineering".to_owned()].into()));
    let with_groups = |email: &str, groups: &[&str]| CreateInvitation {
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        send_email: false,
        ..CreateInvitation::new(email, "author")
    };
    let allowed = app
        .service
        .create(
            Some(&lead),
            with_groups("eng@example.org", &["engineering"]),
        )
        .await
        .unwrap();
    assert_eq!(
        allowed.invitation.details.groups.iter().collect::<Vec<_>>(),
        ["engineering"]
    );
    let refused = app
        .service
        .create(
            Some(&lead),
            with_groups("sales@example.org", &["engineering", "sales"]),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), refused.field()),
        (
            cms_invitations::error::ErrorCode::ValidationFailed,
            Some("groups")
        )
    );
    assert!(refused.to_string().contains("\"sales\""), "{refused}");
    let theirs = app
        .service
        .create(Some(&admin()), with_groups("other@example.org", &["sales"]))
        .await
        .unwrap();
    let resend = app
        .service
        .resend(Some(&lead), theirs.invitation.id, None)
        .await
        .unwrap_err();
    let revoke = app
        .service
        .revoke(Some(&lead), theirs.invitation.id)
        .await
        .unwrap_err();
    for err in [resend, revoke] {
        assert_eq!(
            err.code(),
            cms_invitations::error::ErrorCode::Forbidden,
            "{err}"
        );
    }
    let after = app.store.get(theirs.invitation.id).await.unwrap().unwrap();
    assert_eq!(after.revision, theirs.invitation.revision, "left as it was");
    app.cleanup().await;
}
