//! The store contract: what every backend must do, proved on both.

use chrono::TimeDelta;
use cms_invitations::domain::{EventKind, InvitationState, Secret};
use cms_invitations::ports::StoreError;
use cms_invitations::service::{
    CreateInvitation, InvitationFilter, ListRequest, SortDirection, SortField, SortKey, Total,
};

use crate::helpers::{Backend, admin, editor, spawn_app};

crate::on_both_backends!(
    metadata_at_its_limits_is_stored_exactly_or_refused,
    a_stored_invitation_reads_back_field_for_field,
    a_write_with_a_stale_revision_is_refused_as_a_conflict,
    bulk_inserts_report_an_outcome_for_every_item,
    state_filters_use_the_effective_state,
    every_filter_narrows_the_listing,
    paging_through_every_sort_returns_each_invitation_once_in_order,
    finished_invitations_are_purged_after_the_retention_period,
    total_count_shows_own_changes_at_once_and_others_within_its_max_age,
    email_search_finds_exactly_the_addresses_holding_the_part,
    a_batch_write_says_which_copies_it_wrote,
    template_versions_are_numbered_once_and_read_newest_first,
);

/// Stored template versions: one number per version of a template (a second insert of a taken
/// number is a conflict), read newest first, the latest of each template in force, and a
/// revision that moves with every append.
async fn template_versions_are_numbered_once_and_read_newest_first(backend: Backend) {
    use cms_invitations::domain::{Actor, EmailPart, MessageKind, TemplateKey, TemplateVersion};

    let app = spawn_app(backend).await;
    let key = |part| TemplateKey::new(MessageKind::Invitation, "de", None, part).unwrap();
    let version = |key: TemplateKey, number: u32, body: Option<&str>| TemplateVersion {
        id: uuid::Uuid::now_v7(),
        key,
        version: number,
        body: body.map(str::to_owned),
        comment: format!("v{number}"),
        author: Actor {
            id: "designer-1".into(),
            name: "Dana".into(),
        },
        saved_at: app.now(),
    };
    let empty = app.store.template_revision().await.unwrap();
    assert!(
        app.store
            .current_template_versions()
            .await
            .unwrap()
            .is_empty()
    );
    let first = version(key(EmailPart::Subject), 1, Some("Eins"));
    app.store.insert_template_version(&first).await.unwrap();
    let after_one = app.store.template_revision().await.unwrap();
    assert_ne!(after_one, empty);
    let taken = version(key(EmailPart::Subject), 1, Some("Auch eins"));
    assert!(matches!(
        app.store.insert_template_version(&taken).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        app.store.template_revision().await.unwrap(),
        after_one,
        "nothing was stored"
    );
    let second = version(key(EmailPart::Subject), 2, None);
    app.store.insert_template_version(&second).await.unwrap();
    let html = version(key(EmailPart::Html), 1, Some("<p>{{inviter_name}}</p>"));
    app.store.insert_template_version(&html).await.unwrap();
    assert_ne!(app.store.template_revision().await.unwrap(), after_one);

    let history = app
        .store
        .template_versions(&key(EmailPart::Subject), 10)
        .await
        .unwrap();
    assert_eq!(
        history,
        [second.clone(), first.clone()],
        "newest first, field for field"
    );
    assert_eq!(
        app.store.template_version(first.id).await.unwrap(),
        Some(first)
    );
    let current = app.store.current_template_versions().await.unwrap();
    assert_eq!(current.len(), 2);
    assert!(current.contains(&second) && current.contains(&html));
    app.cleanup().await;
}

/// `update_many` writes the copies whose revision is still the stored one, says which, and
/// leaves the others (changed meanwhile) as they are stored.
async fn a_batch_write_says_which_copies_it_wrote(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut copies = Vec::new();
    for email in [
        "one@batch.example",
        "two@batch.example",
        "three@batch.example",
    ] {
        copies.push(app.invite(email).await.invitation);
    }
    // The second changes after it was read.
    app.service
        .revoke(Some(&admin()), copies[1].id)
        .await
        .unwrap();
    let mut changed = copies.clone();
    for copy in &mut changed {
        copy.details.name = Some(cms_invitations::domain::PersonName::parse("Batch").unwrap());
    }
    let written = app.store.update_many(&changed).await.unwrap();
    assert_eq!(
        written,
        vec![
            Some(copies[0].revision + 1),
            None,
            Some(copies[2].revision + 1)
        ]
    );
    for (copy, was_written) in copies.iter().zip([true, false, true]) {
        let stored = app.store.get(copy.id).await.unwrap().unwrap();
        assert_eq!(stored.details.name.is_some(), was_written, "{}", copy.id);
        if was_written {
            assert_eq!(stored.revision, copy.revision + 1);
        } else {
            assert_eq!(stored.state_at(app.now()), InvitationState::Revoked);
        }
    }
    // A batch of one, and an empty one.
    assert_eq!(
        app.store.update_many(&changed[..1]).await.unwrap(),
        vec![None]
    );
    assert!(app.store.update_many(&[]).await.unwrap().is_empty());
    app.cleanup().await;
}

/// `emailContains` through the trigram index (three characters or more) or a scan (fewer)
/// finds exactly what a plain substring test finds: case, regular-expression and FTS
/// metacharacters, a part whose trigrams all occur but apart, and non-ASCII letters.
async fn email_search_finds_exactly_the_addresses_holding_the_part(backend: Backend) {
    let app = spawn_app(backend).await;
    let emails = [
        "anna.kowalski@example.org",
        "ann.akow@example.org",
        "o'quote@example.org",
        "star.*@example.org",
        "jürgen.müller@beispiel.de",
        "nak@example.org",
        "x@ab.example",
    ];
    for email in emails {
        app.service
            .create(Some(&admin()), CreateInvitation::new(email, "viewer"))
            .await
            .unwrap();
    }
    for part in [
        "NA.K",
        "a.k",
        "akow",
        "kowalski@",
        "'quo",
        "\"quo",
        "o\"",
        "o'",
        ".*@",
        "*",
        "müll",
        "ürg",
        "ab",
        "@",
        "x@ab",
        "nak",
        "zzz",
        "example.org",
        "a k",
    ] {
        let page = app
            .list(InvitationFilter {
                email_contains: Some(part.into()),
                ..InvitationFilter::default()
            })
            .await;
        let mut found: Vec<String> = page
            .items
            .iter()
            .map(|i| i.details.contact.email().unwrap().normalized().to_owned())
            .collect();
        found.sort();
        let needle = part.to_lowercase();
        let mut expected: Vec<String> = emails
            .iter()
            .map(|e| e.to_lowercase())
            .filter(|e| e.contains(&needle))
            .collect();
        expected.sort();
        assert_eq!(found, expected, "emailContains {part:?}");
        assert_eq!(page.total_count, Some(expected.len() as u64), "{part:?}");
    }
    app.cleanup().await;
}

async fn a_stored_invitation_reads_back_field_for_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut input = CreateInvitation::new("Ada.Lovelace@Example.org", "editor");
    input.name = Some("Ada Lovelace".into());
    input.groups = vec!["engines".into(), "poetry".into()];
    input.metadata = Some(serde_json::json!({"plan": "pro", "seats": 3, "nested": {"ok": true}}));
    input.locale = Some("de-at".into());
    input.scope = Some("acme".into());
    input.redirect_url = Some("https://app.example.org/join/acme".into());
    input.valid_for = Some("PT12H".into());
    let minted = app.service.create(Some(&admin()), input).await.unwrap();

    let by_id = app.store.get(minted.invitation.id).await.unwrap().unwrap();
    let by_secret = app
        .store
        .find_by_secret_digest(&minted.secret.digest())
        .await
        .unwrap()
        .unwrap();

    for read in [&by_id, &by_secret] {
        assert_eq!(read.id, minted.invitation.id);
        assert_eq!(
            read.details.contact.email().unwrap().as_str(),
            "Ada.Lovelace@Example.org"
        );
        assert_eq!(
            read.details.contact.email().unwrap().normalized(),
            "ada.lovelace@example.org"
        );
        assert_eq!(read.details.name.as_ref().unwrap().as_str(), "Ada Lovelace");
        assert_eq!(read.details.role.as_str(), "editor");
        assert_eq!(read.details.groups.to_strings(), ["engines", "poetry"]);
        assert_eq!(read.details.metadata.as_map()["nested"]["ok"], true);
        assert_eq!(read.details.metadata.as_map()["seats"], 3);
        assert_eq!(read.details.locale.as_ref().unwrap().as_str(), "de-AT");
        assert_eq!(read.details.scope.as_ref().unwrap().as_str(), "acme");
        assert_eq!(
            read.details.redirect_url.as_ref().unwrap().as_str(),
            "https://app.example.org/join/acme"
        );
        assert_eq!(read.invited_by, *admin().actor());
        assert_eq!(read.created_at, app.now());
        assert_eq!(read.expires_at, app.now() + TimeDelta::hours(12));
        assert_eq!(read.stored_state, InvitationState::Pending);
        assert_eq!(read.events, minted.invitation.events);
        assert_eq!(read.send_count, 1);
        assert_eq!(read.revision, 0);
    }
    assert!(
        minted
            .invite_url
            .as_str()
            .starts_with("https://app.example.org/join/acme#secret=")
    );
    let unknown = Secret::generate().unwrap().digest();
    assert!(
        app.store
            .find_by_secret_digest(&unknown)
            .await
            .unwrap()
            .is_none()
    );
    app.cleanup().await;
}

async fn a_write_with_a_stale_revision_is_refused_as_a_conflict(backend: Backend) {
    let app = spawn_app(backend).await;
    let minted = app.invite("race@example.org").await;
    let mut first = app.store.get(minted.invitation.id).await.unwrap().unwrap();
    let mut second = first.clone();

    first.revoke(app.now(), admin().actor().clone()).unwrap();
    assert_eq!(app.store.update(&first).await.unwrap(), 1);
    second.decline(app.now()).unwrap();
    assert!(matches!(
        app.store.update(&second).await,
        Err(StoreError::Conflict)
    ));

    let stored = app.store.get(minted.invitation.id).await.unwrap().unwrap();
    assert_eq!(stored.stored_state, InvitationState::Revoked);
    assert_eq!(stored.revision, 1);
    assert_eq!(stored.events.last().unwrap().kind, EventKind::Revoked);
    app.cleanup().await;
}

async fn bulk_inserts_report_an_outcome_for_every_item(backend: Backend) {
    let app = spawn_app(backend).await;
    let existing = app.invite("taken@example.org").await;
    let inputs = vec![
        CreateInvitation::new("one@example.org", "viewer"),
        CreateInvitation::new("taken@example.org", "viewer"),
        CreateInvitation::new("not an email", "viewer"),
        CreateInvitation::new("two@example.org", "author"),
        CreateInvitation::new("ONE@example.org", "viewer"),
    ];
    let outcomes = app
        .service
        .create_many(Some(&admin()), inputs)
        .await
        .unwrap();
    let codes: Vec<&str> = outcomes
        .iter()
        .map(|o| o.as_ref().map_or_else(|e| e.code().as_str(), |_| "OK"))
        .collect();
    assert_eq!(
        codes,
        [
            "OK",
            "DUPLICATE_PENDING_INVITATION",
            "VALIDATION_FAILED",
            "OK",
            "DUPLICATE_PENDING_INVITATION"
        ]
    );
    match &outcomes[1] {
        Err(cms_invitations::Error::DuplicatePending { existing: id }) => {
            assert_eq!(*id, existing.invitation.id)
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
    assert_eq!(app.count_all().await, 3);
    app.cleanup().await;
}

async fn state_filters_use_the_effective_state(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut short = CreateInvitation::new("short@example.org", "viewer");
    short.valid_for = Some("PT1H".into());
    let short = app.service.create(Some(&admin()), short).await.unwrap();
    let long = app.invite("long@example.org").await;
    let revoked = app.invite("revoked@example.org").await;
    app.service
        .revoke(Some(&admin()), revoked.invitation.id)
        .await
        .unwrap();
    app.advance(TimeDelta::hours(2));

    let ids = |states: Vec<InvitationState>| {
        let app = &app;
        async move {
            let page = app
                .list(InvitationFilter {
                    states,
                    ..Default::default()
                })
                .await;
            page.items.iter().map(|i| i.id).collect::<Vec<_>>()
        }
    };
    // Not swept yet: stored PENDING, but past its expiry.
    assert_eq!(
        ids(vec![InvitationState::Expired]).await,
        [short.invitation.id]
    );
    assert_eq!(
        ids(vec![InvitationState::Pending]).await,
        [long.invitation.id]
    );
    assert_eq!(
        ids(vec![InvitationState::Revoked]).await,
        [revoked.invitation.id]
    );
    assert_eq!(
        ids(vec![InvitationState::Pending, InvitationState::Expired])
            .await
            .len(),
        2
    );
    app.cleanup().await;
}

async fn every_filter_narrows_the_listing(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut a = CreateInvitation::new("Alice@Example.org", "editor");
    a.groups = vec!["red".into()];
    a.scope = Some("acme".into());
    let a = app.service.create(Some(&admin()), a).await.unwrap();
    app.advance(TimeDelta::minutes(10));
    let mut b = CreateInvitation::new("bob.smith+x@example.org", "viewer");
    b.groups = vec!["blue".into(), "red".into()];
    b.valid_for = Some("P1D".into());
    app.service.create(Some(&editor()), b).await.unwrap();
    let t_b = app.now();

    let only = |filter: InvitationFilter| {
        let app = &app;
        async move {
            let page = app.list(filter).await;
            assert_eq!(page.total_count, Some(page.items.len() as u64));
            page.items
                .iter()
                .map(|i| i.details.contact.email().unwrap().normalized().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let f = InvitationFilter::default;
    let (alice, bob) = ("alice@example.org", "bob.smith+x@example.org");
    assert_eq!(
        only(InvitationFilter {
            email: Some("alice@example.org".into()),
            ..f()
        })
        .await,
        [alice]
    );
    assert_eq!(
        only(InvitationFilter {
            email_contains: Some("h+x".into()),
            ..f()
        })
        .await,
        [bob]
    );
    assert_eq!(
        only(InvitationFilter {
            email_contains: Some(".*".into()),
            ..f()
        })
        .await,
        [] as [&str; 0]
    );
    assert_eq!(
        only(InvitationFilter {
            role: Some("editor".into()),
            ..f()
        })
        .await,
        [alice]
    );
    assert_eq!(
        only(InvitationFilter {
            group: Some("blue".into()),
            ..f()
        })
        .await,
        [bob]
    );
    assert_eq!(
        only(InvitationFilter {
            group: Some("red".into()),
            ..f()
        })
        .await,
        [bob, alice]
    );
    assert_eq!(
        only(InvitationFilter {
            scope: Some("acme".into()),
            ..f()
        })
        .await,
        [alice]
    );
    assert_eq!(
        only(InvitationFilter {
            invited_by: Some(editor().actor().id.clone()),
            ..f()
        })
        .await,
        [bob]
    );
    assert_eq!(
        only(InvitationFilter {
            created_after: Some(t_b),
            ..f()
        })
        .await,
        [bob]
    );
    assert_eq!(
        only(InvitationFilter {
            created_before: Some(t_b),
            ..f()
        })
        .await,
        [alice]
    );
    assert_eq!(
        only(InvitationFilter {
            expires_before: Some(a.invitation.expires_at),
            ..f()
        })
        .await,
        [bob]
    );
    assert_eq!(
        only(InvitationFilter {
            expires_after: Some(a.invitation.expires_at),
            ..f()
        })
        .await,
        [alice]
    );
    app.cleanup().await;
}

async fn paging_through_every_sort_returns_each_invitation_once_in_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let emails = [
        "m@x.org", "c@x.org", "z@x.org", "a@x.org", "k@x.org", "b@x.org", "y@x.org",
    ];
    let mut created = Vec::new();
    for (i, email) in emails.iter().enumerate() {
        let mut input = CreateInvitation::new(*email, "viewer");
        input.valid_for = Some(format!("PT{}H", 10 - i % 3));
        created.push(
            app.service
                .create(Some(&admin()), input)
                .await
                .unwrap()
                .invitation,
        );
        if i % 2 == 0 {
            app.advance(TimeDelta::seconds(1)); // some share a creation time: the id breaks ties
        }
    }
    app.service
        .revoke(Some(&admin()), created[2].id)
        .await
        .unwrap();
    let resent = app
        .service
        .resend(Some(&admin()), created[4].id, None)
        .await
        .unwrap();
    app.service.decline(&resent.secret).await.unwrap();
    // Past the 8-hour invitations' expiry, not the 9- and 10-hour ones': some PENDING read as
    // EXPIRED, which sorting by state must place with the EXPIRED.
    app.advance(TimeDelta::minutes(8 * 60 + 30));

    let sorts = [
        vec![],
        vec![SortKey {
            field: SortField::Email,
            direction: SortDirection::Asc,
        }],
        vec![
            SortKey {
                field: SortField::ExpiresAt,
                direction: SortDirection::Asc,
            },
            SortKey {
                field: SortField::Email,
                direction: SortDirection::Desc,
            },
        ],
        vec![SortKey {
            field: SortField::State,
            direction: SortDirection::Desc,
        }],
        vec![SortKey {
            field: SortField::State,
            direction: SortDirection::Asc,
        }],
        vec![
            SortKey {
                field: SortField::State,
                direction: SortDirection::Asc,
            },
            SortKey {
                field: SortField::CreatedAt,
                direction: SortDirection::Desc,
            },
        ],
        vec![
            SortKey {
                field: SortField::State,
                direction: SortDirection::Desc,
            },
            SortKey {
                field: SortField::Email,
                direction: SortDirection::Asc,
            },
        ],
        vec![SortKey {
            field: SortField::CreatedAt,
            direction: SortDirection::Asc,
        }],
    ];
    for sort in sorts {
        let everything = app
            .service
            .list(
                Some(&admin()),
                ListRequest {
                    sort: sort.clone(),
                    first: Some(100),
                    ..ListRequest::default()
                },
                Total::Count,
            )
            .await
            .unwrap();
        assert_eq!(everything.items.len(), emails.len());
        assert_eq!(everything.total_count, Some(emails.len() as u64));
        let mut paged = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let request = ListRequest {
                sort: sort.clone(),
                first: Some(3),
                after: after.take(),
                ..ListRequest::default()
            };
            let page = app
                .service
                .list(Some(&admin()), request, Total::Skip)
                .await
                .unwrap();
            assert_eq!(page.total_count, None);
            paged.extend(page.items.iter().map(|i| i.id));
            if !page.has_next_page {
                break;
            }
            after = page.end_cursor();
        }
        let expected: Vec<_> = everything.items.iter().map(|i| i.id).collect();
        assert_eq!(paged, expected, "paging differs from one page for {sort:?}");
        assert_sorted(&everything.items, &query_sort(&sort), app.now());
    }
    app.cleanup().await;
}

/// The sort as the service applies it: the default order when none is given.
fn query_sort(sort: &[SortKey]) -> Vec<SortKey> {
    if sort.is_empty() {
        vec![SortKey {
            field: SortField::CreatedAt,
            direction: SortDirection::Desc,
        }]
    } else {
        sort.to_vec()
    }
}

fn assert_sorted(
    items: &[cms_invitations::domain::Invitation],
    sort: &[SortKey],
    now: chrono::DateTime<chrono::Utc>,
) {
    use std::cmp::Ordering;
    let key_cmp = |a: &cms_invitations::domain::Invitation,
                   b: &cms_invitations::domain::Invitation| {
        for key in sort {
            let ord = match key.field {
                SortField::CreatedAt => a.created_at.cmp(&b.created_at),
                SortField::ExpiresAt => a.expires_at.cmp(&b.expires_at),
                SortField::Email => a
                    .details
                    .contact
                    .email()
                    .unwrap()
                    .normalized()
                    .cmp(b.details.contact.email().unwrap().normalized()),
                SortField::State => a.state_at(now).as_str().cmp(b.state_at(now).as_str()),
            };
            let ord = if key.direction == SortDirection::Desc {
                ord.reverse()
            } else {
                ord
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        let ord = a.id.cmp(&b.id);
        if sort[0].direction == SortDirection::Desc {
            ord.reverse()
        } else {
            ord
        }
    };
    for pair in items.windows(2) {
        assert_eq!(
            key_cmp(&pair[0], &pair[1]),
            Ordering::Less,
            "out of order for {sort:?}"
        );
    }
}

async fn finished_invitations_are_purged_after_the_retention_period(backend: Backend) {
    let app = spawn_app(backend).await; // retention P30D
    let old = app.invite("old@example.org").await;
    app.service
        .revoke(Some(&admin()), old.invitation.id)
        .await
        .unwrap();
    let pending = app.invite("pending@example.org").await;
    app.advance(TimeDelta::days(20));
    let recent = app.invite("recent@example.org").await;
    app.service
        .revoke(Some(&admin()), recent.invitation.id)
        .await
        .unwrap();
    app.advance(TimeDelta::days(11));

    let report = app.service.sweep().await.unwrap();

    assert_eq!(report.purged, 1);
    assert!(app.store.get(old.invitation.id).await.unwrap().is_none());
    assert!(app.store.get(recent.invitation.id).await.unwrap().is_some());
    // The long-pending one expired during the sweep; its retention starts at its expiry.
    assert_eq!(report.expired, 1);
    assert!(
        app.store
            .get(pending.invitation.id)
            .await
            .unwrap()
            .is_some()
    );
    app.cleanup().await;
}

async fn total_count_shows_own_changes_at_once_and_others_within_its_max_age(backend: Backend) {
    let app = spawn_app(backend).await; // count_max_age PT1S, the default
    let other = app.another_process();
    let pending = || InvitationFilter {
        states: vec![InvitationState::Pending],
        ..Default::default()
    };
    assert_eq!(app.count(pending()).await, 0);

    let mine = app.invite("mine@example.org").await;
    assert_eq!(app.count(pending()).await, 1, "a create here shows at once");

    let theirs = CreateInvitation::new("theirs@example.org", "viewer");
    other.create(Some(&admin()), theirs).await.unwrap();
    assert_eq!(app.count(pending()).await, 1, "reused within the max age");
    assert_eq!(app.count_all().await, 2, "another filter counts on its own");
    app.advance(TimeDelta::milliseconds(1000));
    assert_eq!(app.count(pending()).await, 2, "recounted after the max age");

    app.service
        .revoke(Some(&admin()), mine.invitation.id)
        .await
        .unwrap();
    assert_eq!(app.count(pending()).await, 1, "a revoke here shows at once");

    // Expiry comes with time, not with a write: it shows once the count is older than its
    // max age.
    app.advance(TimeDelta::days(8));
    assert_eq!(app.count(pending()).await, 0);
    app.cleanup().await;
}

/// Metadata exactly at the size limit, with the extreme numbers and odd strings both stores
/// must keep, reads back unchanged; what a store would change is refused before it is stored.
async fn metadata_at_its_limits_is_stored_exactly_or_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut metadata = serde_json::json!({
        "max": i64::MAX, "min": i64::MIN, "float": 1.5, "nul": "a\u{0}b",
        "nested": [{ "ü": [true, null, -0.25] }], "pad": "",
    });
    let limit = app.service.settings().metadata_max_bytes;
    let size = serde_json::to_vec(&metadata).unwrap().len();
    metadata["pad"] = serde_json::Value::String("x".repeat(limit - size));
    assert_eq!(serde_json::to_vec(&metadata).unwrap().len(), limit);
    let mut input = CreateInvitation::new("meta@example.org", "viewer");
    input.metadata = Some(metadata.clone());
    let minted = app.service.create(Some(&admin()), input).await.unwrap();
    let stored = app.store.get(minted.invitation.id).await.unwrap().unwrap();
    assert_eq!(
        serde_json::Value::Object(stored.details.metadata.as_map().clone()),
        metadata
    );

    for refused in [
        serde_json::json!({ "n": u64::MAX }),
        serde_json::json!({ "$where": "1" }),
        serde_json::json!({ "a.b": 1 }),
    ] {
        let mut input = CreateInvitation::new("refused@example.org", "viewer");
        input.metadata = Some(refused.clone());
        let err = app.service.create(Some(&admin()), input).await.unwrap_err();
        assert_eq!(
            err.code(),
            cms_invitations::ErrorCode::ValidationFailed,
            "{refused}"
        );
    }
    assert_eq!(app.count_all().await, 1, "nothing refused was stored");
    app.cleanup().await;
}
