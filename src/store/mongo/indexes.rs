//! Indexes, created idempotently at start.

use std::time::Duration;

use bson::doc;
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};

use super::{classify, server_code};
use crate::domain::IsoDuration;
use crate::ports::StoreResult;

/// What the names of the one-pending indexes (by email, by phone) start with, as duplicate-key
/// errors name them.
pub(super) const ONE_PENDING: &str = "one_pending_";
const ONE_PENDING_EMAIL: &str = "one_pending_email_scope";
const ONE_PENDING_PHONE: &str = "one_pending_phone_scope";
/// Indexes earlier versions made and this one replaces: the one-pending index and the
/// accounts' email index that took every document (an SMS invitation or account has no email).
/// And the email index without the `_id` that makes it serve a sorted page.
const REPLACED: [(&str, &str); 3] = [
    ("invitations", "one_pending_per_email_scope"),
    ("accounts", "email_unique"),
    ("invitations", "by_email"),
];
const FINISHED_TTL: &str = "finished_ttl";
/// Server error codes: the index exists with other options; no such index.
const INDEX_OPTIONS_CONFLICT: i32 = 85;
const INDEX_NOT_FOUND: i32 = 27;
const NAMESPACE_NOT_FOUND: i32 = 26;

fn index(name: &str, keys: bson::Document, options: IndexOptions) -> IndexModel {
    let mut options = options;
    options.name = Some(name.to_owned());
    IndexModel::builder().keys(keys).options(options).build()
}

pub(super) async fn ensure(
    invitations: &Collection<bson::Document>,
    accounts: &Collection<bson::Document>,
    tokens: &Collection<bson::Document>,
    retention: Option<IsoDuration>,
) -> StoreResult<()> {
    let unique = || IndexOptions::builder().unique(true).build();
    // Unique among the documents whose `field` is a non-empty string, and with `more`
    // conditions (an invitation without an email keeps "" there).
    let unique_where = |field: &str, more: bson::Document| {
        let mut filter = more;
        filter.insert(field, doc! { "$gt": "" });
        IndexOptions::builder()
            .unique(true)
            .partial_filter_expression(filter)
            .build()
    };
    for (collection, name) in REPLACED {
        let collection = if collection == "accounts" {
            accounts
        } else {
            invitations
        };
        match collection.drop_index(name).await {
            Ok(()) => tracing::info!(index = name, "replaced an index of an earlier version"),
            Err(err)
                if matches!(
                    server_code(&err),
                    Some(INDEX_NOT_FOUND | NAMESPACE_NOT_FOUND)
                ) => {}
            Err(err) => return Err(classify(err)),
        }
    }
    invitations
        .create_indexes([
            index("secret_digest", doc! { "secretDigest": 1 }, unique()),
            index(
                ONE_PENDING_EMAIL,
                doc! { "emailNorm": 1, "scope": 1 },
                unique_where("emailNorm", doc! { "state": "PENDING" }),
            ),
            index(
                ONE_PENDING_PHONE,
                doc! { "phone": 1, "scope": 1 },
                unique_where("phone", doc! { "state": "PENDING" }),
            ),
            index(
                "by_phone",
                doc! { "phone": 1 },
                IndexOptions::builder().sparse(true).build(),
            ),
            index(
                "by_created",
                doc! { "createdAt": -1, "_id": -1 },
                IndexOptions::default(),
            ),
            index(
                "by_state_created",
                doc! { "state": 1, "createdAt": -1, "_id": -1 },
                IndexOptions::default(),
            ),
            index(
                "by_state_expiry",
                doc! { "state": 1, "expiresAt": 1 },
                IndexOptions::default(),
            ),
            // Every sort order's first page walks an index (`_id` breaks ties), whichever
            // direction: created, expiry, email; by state, each stored state's piece (see
            // `listing::by_state_pipeline`).
            index(
                "by_email_id",
                doc! { "emailNorm": 1, "_id": 1 },
                IndexOptions::default(),
            ),
            index(
                "by_state_id",
                doc! { "state": 1, "_id": 1 },
                IndexOptions::default(),
            ),
            index(
                "by_expiry_id",
                doc! { "expiresAt": 1, "_id": 1 },
                IndexOptions::default(),
            ),
            index(
                "by_email_grams",
                doc! { "emailGrams": 1 },
                IndexOptions::default(),
            ),
            index(
                "by_next_message",
                doc! { "nextMessageAt": 1 },
                IndexOptions::builder().sparse(true).build(),
            ),
            index(
                "by_next_event",
                doc! { "nextEventAt": 1 },
                IndexOptions::builder().sparse(true).build(),
            ),
            index(
                "by_scope_created",
                doc! { "scope": 1, "createdAt": -1 },
                IndexOptions::default(),
            ),
        ])
        .await
        .map_err(classify)?;
    accounts
        .create_indexes([
            index(
                "account_email_unique",
                doc! { "emailNorm": 1 },
                unique_where("emailNorm", doc! {}),
            ),
            index(
                "account_phone_unique",
                doc! { "phone": 1 },
                unique_where("phone", doc! {}),
            ),
        ])
        .await
        .map_err(classify)?;
    tokens
        .create_index(index("digest_unique", doc! { "digest": 1 }, unique()))
        .await
        .map_err(classify)?;
    backfill_email_grams(invitations).await?;
    ensure_retention(invitations, retention).await
}

/// Gives documents written before `emailGrams` existed their trigrams, computed by the server
/// in one pipeline update (the same pieces as `codec::trigrams`). Finds them through the
/// index: a missing field is indexed as null.
async fn backfill_email_grams(invitations: &Collection<bson::Document>) -> StoreResult<()> {
    let trigrams = doc! { "$setUnion": [{ "$map": {
        "input": { "$range": [0, { "$max": [0, { "$subtract": [{ "$strLenCP": "$emailNorm" }, 2] }] }] },
        "as": "at",
        "in": { "$substrCP": ["$emailNorm", "$$at", 3] },
    } }] };
    let result = invitations
        .update_many(
            doc! { "emailGrams": { "$exists": false } },
            vec![doc! { "$set": { "emailGrams": trigrams } }],
        )
        .await
        .map_err(classify)?;
    if result.modified_count > 0 {
        tracing::info!(
            invitations = result.modified_count,
            "indexed the emails of earlier invitations for search"
        );
    }
    Ok(())
}

/// The TTL index purges finished invitations; its period follows the configuration.
async fn ensure_retention(
    invitations: &Collection<bson::Document>,
    retention: Option<IsoDuration>,
) -> StoreResult<()> {
    let Some(retention) = retention else {
        return match invitations.drop_index(FINISHED_TTL).await {
            Err(err) if server_code(&err) != Some(INDEX_NOT_FOUND) => Err(classify(err)),
            _ => Ok(()),
        };
    };
    let seconds = u64::try_from(retention.as_seconds()).unwrap_or(0);
    let ttl = index(
        FINISHED_TTL,
        doc! { "finishedAt": 1 },
        IndexOptions::builder()
            .expire_after(Duration::from_secs(seconds))
            .build(),
    );
    match invitations.create_index(ttl).await {
        Ok(_) => Ok(()),
        Err(err) if server_code(&err) == Some(INDEX_OPTIONS_CONFLICT) => {
            let command = doc! {
                "collMod": invitations.name(),
                "index": { "name": FINISHED_TTL, "expireAfterSeconds": i64::try_from(seconds).unwrap_or(i64::MAX) },
            };
            invitations
                .client()
                .database(&invitations.namespace().db)
                .run_command(command)
                .await
                .map_err(classify)?;
            Ok(())
        }
        Err(err) => Err(classify(err)),
    }
}
