//! Bad input: a validation error that names the field, and nothing stored.

use cms_invitations::ErrorCode;
use cms_invitations::service::CreateInvitation;

use crate::helpers::{Backend, admin, editor, spawn_app};

crate::on_both_backends!(each_bad_input_names_its_field_and_stores_nothing);

async fn each_bad_input_names_its_field_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let base = || CreateInvitation::new("ok@example.org", "viewer");
    let cases: Vec<(&str, CreateInvitation, &str)> = vec![
        (
            "malformed email",
            CreateInvitation {
                email: Some("not-an-email".into()),
                ..base()
            },
            "email",
        ),
        (
            "unknown role",
            CreateInvitation {
                role: "overlord".into(),
                ..base()
            },
            "role",
        ),
        (
            "validity below the bounds",
            CreateInvitation {
                valid_for: Some("PT5M".into()),
                ..base()
            },
            "validFor",
        ),
        (
            "validity above the bounds",
            CreateInvitation {
                valid_for: Some("P90D".into()),
                ..base()
            },
            "validFor",
        ),
        (
            "validity in months",
            CreateInvitation {
                valid_for: Some("P1M".into()),
                ..base()
            },
            "validFor",
        ),
        (
            "malformed locale",
            CreateInvitation {
                locale: Some("english!".into()),
                ..base()
            },
            "locale",
        ),
        (
            "metadata not an object",
            CreateInvitation {
                metadata: Some(serde_json::json!([1, 2, 3])),
                ..base()
            },
            "metadata",
        ),
        (
            "metadata too large",
            CreateInvitation {
                metadata: Some(serde_json::json!({"blob": "x".repeat(2000)})),
                ..base()
            },
            "metadata",
        ),
        (
            "redirect outside the allow-list",
            CreateInvitation {
                redirect_url: Some("https://evil.example.com/join".into()),
                ..base()
            },
            "redirectUrl",
        ),
        (
            "blank group",
            CreateInvitation {
                groups: vec!["  ".into()],
                ..base()
            },
            "groups",
        ),
        (
            "name with a line break",
            CreateInvitation {
                name: Some("a\nb".into()),
                ..base()
            },
            "name",
        ),
    ];
    for (case, input, field) in cases {
        let err = app.service.create(Some(&admin()), input).await.unwrap_err();
        assert_eq!(
            (err.code(), err.field()),
            (ErrorCode::ValidationFailed, Some(field)),
            "{case}"
        );
        assert!(
            !err.to_string().is_empty(),
            "{case}: the message explains the problem"
        );
    }
    let not_grantable = app
        .service
        .create(
            Some(&editor()),
            CreateInvitation::new("ok@example.org", "admin"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (not_grantable.code(), not_grantable.field()),
        (ErrorCode::ValidationFailed, Some("role"))
    );

    let bulk = app
        .service
        .create_many(
            Some(&admin()),
            vec![
                CreateInvitation {
                    email: Some("bad".into()),
                    ..base()
                },
                CreateInvitation {
                    role: "nope".into(),
                    ..base()
                },
            ],
        )
        .await
        .unwrap();
    assert!(bulk.iter().all(|o| {
        o.as_ref()
            .is_err_and(|e| e.code() == ErrorCode::ValidationFailed)
    }));
    let too_many = app
        .service
        .create_many(Some(&admin()), vec![base(); 1001])
        .await
        .unwrap_err();
    assert_eq!(too_many.field(), Some("inputs"));

    assert_eq!(app.count_all().await, 0, "nothing was stored");
    app.cleanup().await;
}
