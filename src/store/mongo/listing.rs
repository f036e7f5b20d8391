//! Aggregation pipelines for listing: filters on effective state, multi-key sort, keyset paging.

use bson::{Bson, Document, doc};
use chrono::{DateTime, Utc};

use super::codec;
use crate::domain::{Channel, InvitationState};
use crate::ports::SortValue;
use crate::ports::{InvitationFilter, ListQuery, PieceStart, SortDirection, SortField, SortKey};

/// The computed field that holds the effective state when a listing sorts by state.
const EFFECTIVE_STATE: &str = "effectiveState";

fn state_predicate(state: InvitationState, now: &Bson) -> Document {
    match state {
        InvitationState::Pending => {
            doc! { "state": "PENDING", "expiresAt": { "$gt": now.clone() } }
        }
        InvitationState::Expired => doc! { "$or": [
            { "state": "EXPIRED" },
            { "state": "PENDING", "expiresAt": { "$lte": now.clone() } },
        ] },
        other => doc! { "state": other.as_str() },
    }
}

/// Escapes a user's text for a literal match inside `$regex`.
fn regex_literal(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if "\\^$.|?*+()[]{}-/#".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

pub(super) fn filter_document(filter: &InvitationFilter, now: DateTime<Utc>) -> Document {
    let now = codec::time(now);
    let mut clauses: Vec<Document> = Vec::new();
    if !filter.states.is_empty() {
        let states: Vec<Document> = filter
            .states
            .iter()
            .map(|s| state_predicate(*s, &now))
            .collect();
        clauses.push(doc! { "$or": states });
    }
    if let Some(email) = &filter.email {
        clauses.push(doc! { "emailNorm": email });
    }
    if let Some(part) = &filter.email_contains {
        // Three characters or more: every trigram of the part is in `emailGrams` (one index
        // predicate each, so the planner can start from the rarest), and the regular
        // expression then checks they stand together. A part of exactly three characters is
        // its own trigram: the index alone answers (a count reads no document). Shorter parts
        // scan every email.
        let grams = codec::trigrams(part);
        let whole = grams.len() == 1 && part.chars().count() == 3;
        for gram in grams {
            clauses.push(doc! { "emailGrams": gram });
        }
        if !whole {
            clauses.push(doc! { "emailNorm": { "$regex": regex_literal(part) } });
        }
    }
    if let Some(phone) = &filter.phone {
        clauses.push(doc! { "phone": phone });
    }
    if !filter.channels.is_empty() {
        // Records from before SMS invitations have no channel: email ones.
        let channels: Vec<&str> = filter.channels.iter().map(|c| c.as_str()).collect();
        let mut channel = doc! { "channel": { "$in": &channels } };
        if filter.channels.contains(&Channel::Email) {
            channel = doc! { "$or": [channel, { "channel": { "$exists": false } }] };
        }
        clauses.push(channel);
    }
    if let Some(role) = &filter.role {
        clauses.push(doc! { "role": role });
    }
    if let Some(group) = &filter.group {
        clauses.push(doc! { "groups": group });
    }
    if let Some(scope) = &filter.scope {
        clauses.push(doc! { "scope": scope });
    }
    if let Some(scopes) = &filter.within_scopes {
        let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
        clauses.push(doc! { "scope": { "$in": scopes } });
    }
    if let Some(inviter) = &filter.invited_by {
        clauses.push(doc! { "invitedBy.id": inviter });
    }
    for (field, op, bound) in [
        ("createdAt", "$gte", filter.created_after),
        ("createdAt", "$lt", filter.created_before),
        ("expiresAt", "$gte", filter.expires_after),
        ("expiresAt", "$lt", filter.expires_before),
    ] {
        if let Some(t) = bound {
            clauses.push(doc! { field: { op: codec::time(t) } });
        }
    }
    match clauses.len() {
        0 => Document::new(),
        1 => clauses.remove(0),
        _ => doc! { "$and": clauses },
    }
}

fn sort_path(field: SortField) -> &'static str {
    match field {
        SortField::CreatedAt => "createdAt",
        SortField::ExpiresAt => "expiresAt",
        SortField::Email => "emailNorm",
        SortField::State => EFFECTIVE_STATE,
    }
}

fn order(direction: SortDirection) -> i32 {
    match direction {
        SortDirection::Asc => 1,
        SortDirection::Desc => -1,
    }
}

fn beyond(direction: SortDirection) -> &'static str {
    match direction {
        SortDirection::Asc => "$gt",
        SortDirection::Desc => "$lt",
    }
}

fn keyset(query: &ListQuery) -> Option<Document> {
    let cursor = query.after.as_ref()?;
    Some(keyset_after(
        &query.sort,
        &cursor.values,
        cursor.id,
        query.id_direction(),
    ))
}

/// Past `values` of `sort`, then past `id` in `id_direction`.
fn keyset_after(
    sort: &[SortKey],
    values: &[SortValue],
    id: uuid::Uuid,
    id_direction: SortDirection,
) -> Document {
    let mut keys: Vec<(&str, SortDirection, Bson)> = sort
        .iter()
        .zip(values)
        .map(|(key, value)| {
            let value = match value {
                SortValue::Millis(ms) => Bson::DateTime(bson::DateTime::from_millis(*ms)),
                SortValue::Text(text) => Bson::String(text.clone()),
            };
            (sort_path(key.field), key.direction, value)
        })
        .collect();
    keys.push(("_id", id_direction, codec::uuid(id)));
    let alternatives: Vec<Document> = (0..keys.len())
        .map(|i| {
            let mut alternative = Document::new();
            for (path, _, value) in &keys[..i] {
                alternative.insert(*path, value.clone());
            }
            let (path, direction, value) = &keys[i];
            alternative.insert(*path, doc! { beyond(*direction): value.clone() });
            alternative
        })
        .collect();
    doc! { "$or": alternatives }
}

/// `$match` filter, the effective state when sorting by it, keyset, sort, limit (one extra row
/// tells whether another page follows). Sorted by state first: see [`by_state_pipeline`].
pub(super) fn page_pipeline(
    query: &ListQuery,
    now: DateTime<Utc>,
    collection: &str,
) -> Vec<Document> {
    if query.sort.first().map(|key| key.field) == Some(SortField::State) {
        return by_state_pipeline(query, now, collection);
    }
    let mut pipeline = vec![doc! { "$match": filter_document(&query.filter, now) }];
    let by_state = query.sort.iter().any(|key| key.field == SortField::State);
    if by_state {
        pipeline.push(doc! { "$addFields": { EFFECTIVE_STATE: { "$cond": [
            { "$and": [ { "$eq": ["$state", "PENDING"] }, { "$lte": ["$expiresAt", codec::time(now)] } ] },
            "EXPIRED",
            "$state",
        ] } } });
    }
    if let Some(keyset) = keyset(query) {
        pipeline.push(doc! { "$match": keyset });
    }
    let mut sort = Document::new();
    for key in &query.sort {
        sort.insert(sort_path(key.field), order(key.direction));
    }
    sort.insert("_id", order(query.id_direction()));
    pipeline.push(doc! { "$sort": sort });
    pipeline.push(doc! { "$limit": i64::try_from(query.first + 1).unwrap_or(i64::MAX) });
    if by_state {
        pipeline.push(doc! { "$project": { EFFECTIVE_STATE: 0 } });
    }
    pipeline
}

/// The stored conditions of each effective state, in the order a listing sorted by state shows
/// them (ascending): EXPIRED is two pieces, a stored EXPIRED and a PENDING past its expiry.
fn state_conditions(now: &Bson) -> [(InvitationState, Document); 6] {
    [
        (InvitationState::Accepted, doc! { "state": "ACCEPTED" }),
        (InvitationState::Declined, doc! { "state": "DECLINED" }),
        (InvitationState::Expired, doc! { "state": "EXPIRED" }),
        (
            InvitationState::Expired,
            doc! { "state": "PENDING", "expiresAt": { "$lte": now.clone() } },
        ),
        (
            InvitationState::Pending,
            doc! { "state": "PENDING", "expiresAt": { "$gt": now.clone() } },
        ),
        (InvitationState::Revoked, doc! { "state": "REVOKED" }),
    ]
}

/// A page sorted by state first, without sorting every match by a computed field: one piece
/// per stored condition (see [`state_conditions`]), each a page of its own in the remaining order
/// that an index serves (`state, _id` or `state, createdAt, _id`), joined with `$unionWith`;
/// then only those few rows are sorted by effective state. Pieces before the cursor's state are
/// left out, the piece of its state continues after it.
fn by_state_pipeline(query: &ListQuery, now: DateTime<Utc>, collection: &str) -> Vec<Document> {
    let direction = query.sort[0].direction;
    let rest = &query.sort[1..];
    let id_direction = query.id_direction();
    let limit = i64::try_from(query.first + 1).unwrap_or(i64::MAX);
    let filter = filter_document(&query.filter, now);
    let now_bson = codec::time(now);
    let mut pieces = state_conditions(&now_bson).to_vec();
    if direction == SortDirection::Desc {
        pieces.reverse();
    }
    let mut sort = Document::new();
    for key in rest {
        sort.insert(sort_path(key.field), order(key.direction));
    }
    sort.insert("_id", order(id_direction));
    let states: Vec<InvitationState> = pieces.iter().map(|(state, _)| *state).collect();
    let mut sub_pipelines: Vec<Vec<Document>> = Vec::new();
    for ((_, condition), start) in pieces.into_iter().zip(query.state_pieces(&states)) {
        let mut clauses = vec![filter.clone(), condition];
        match (start, &query.after) {
            (PieceStart::Skip, _) => continue,
            (PieceStart::AfterCursor, Some(cursor)) => clauses.push(keyset_after(
                rest,
                &cursor.values[1..],
                cursor.id,
                id_direction,
            )),
            _ => {}
        }
        sub_pipelines.push(vec![
            doc! { "$match": { "$and": clauses } },
            doc! { "$sort": sort.clone() },
            doc! { "$limit": limit },
        ]);
    }
    let mut pieces = sub_pipelines.into_iter();
    let mut pipeline = pieces.next().unwrap_or_default();
    for piece in pieces {
        pipeline.push(doc! { "$unionWith": { "coll": collection, "pipeline": piece } });
    }
    pipeline.push(doc! { "$addFields": { EFFECTIVE_STATE: { "$cond": [
        { "$and": [ { "$eq": ["$state", "PENDING"] }, { "$lte": ["$expiresAt", now_bson] } ] },
        "EXPIRED",
        "$state",
    ] } } });
    let mut all = doc! { EFFECTIVE_STATE: order(direction) };
    all.extend(sort);
    pipeline.push(doc! { "$sort": all });
    pipeline.push(doc! { "$limit": limit });
    pipeline.push(doc! { "$project": { EFFECTIVE_STATE: 0 } });
    pipeline
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_metacharacters_in_a_search_match_literally() {
        assert_eq!(regex_literal("a.b+(c)"), "a\\.b\\+\\(c\\)");
    }
}
