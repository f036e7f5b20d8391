//! Aggregation pipelines for listing: filters on effective state, multi-key sort, keyset paging.

use bson::{Bson, Document, doc};
use chrono::{DateTime, Utc};

use super::codec;
use crate::domain::{Channel, InvitationState};
use crate::ports::SortValue;
use crate::ports::{InvitationFilter, ListQuery, SortDirection, SortField};

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
        // expression then checks they stand together. Shorter parts scan every email.
        for gram in codec::trigrams(part) {
            clauses.push(doc! { "emailGrams": gram });
        }
        clauses.push(doc! { "emailNorm": { "$regex": regex_literal(part) } });
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
    let mut keys: Vec<(&str, SortDirection, Bson)> = query
        .sort
        .iter()
        .zip(&cursor.values)
        .map(|(key, value)| {
            let value = match value {
                SortValue::Millis(ms) => Bson::DateTime(bson::DateTime::from_millis(*ms)),
                SortValue::Text(text) => Bson::String(text.clone()),
            };
            (sort_path(key.field), key.direction, value)
        })
        .collect();
    keys.push(("_id", query.id_direction(), codec::uuid(cursor.id)));
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
    Some(doc! { "$or": alternatives })
}

/// `$match` filter, the effective state when sorting by it, keyset, sort, limit (one extra row
/// tells whether another page follows).
pub(super) fn page_pipeline(query: &ListQuery, now: DateTime<Utc>) -> Vec<Document> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_metacharacters_in_a_search_match_literally() {
        assert_eq!(regex_literal("a.b+(c)"), "a\\.b\\+\\(c\\)");
    }
}
