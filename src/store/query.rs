//! Listing: filters, sort keys, opaque keyset cursors and pages, shared by both backends.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::domain::{EmailAddress, Invitation, InvitationState, ValidationError};

/// Which invitations to list. Empty or `None` fields do not filter. Strings compare against
/// the normalized email; time bounds are half-open (`after` inclusive, `before` exclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct InvitationFilter {
    /// Effective states: `EXPIRED` includes PENDING invitations past their expiry.
    pub states: Vec<InvitationState>,
    pub email: Option<String>,
    pub email_contains: Option<String>,
    pub role: Option<String>,
    pub group: Option<String>,
    pub scope: Option<String>,
    pub invited_by: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub expires_after: Option<DateTime<Utc>>,
    pub expires_before: Option<DateTime<Utc>>,
}

impl InvitationFilter {
    /// Emails compare in the normalized form the stores index: `email` exactly,
    /// `email_contains` as a case-insensitive part.
    fn normalized(mut self) -> Self {
        self.email = self.email.map(|email| match EmailAddress::parse(&email) {
            Ok(parsed) => parsed.normalized().to_owned(),
            Err(_) => email.trim().to_lowercase(),
        });
        self.email_contains = self.email_contains.map(|part| part.trim().to_lowercase());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortField {
    CreatedAt,
    ExpiresAt,
    /// By normalized email.
    Email,
    /// By effective state name, alphabetically.
    State,
}

impl SortField {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAt => "CREATED_AT",
            Self::ExpiresAt => "EXPIRES_AT",
            Self::Email => "EMAIL",
            Self::State => "STATE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortDirection {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SortKey {
    pub field: SortField,
    pub direction: SortDirection,
}

/// A sort key's value for one invitation, as the stores compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    Millis(i64),
    Text(String),
}

/// Where a page ends: the sort values and id of its last item. Opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub values: Vec<SortValue>,
    pub id: Uuid,
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: InvitationFilter,
    /// Never empty; no field twice. The id breaks ties in the first key's direction.
    pub sort: Vec<SortKey>,
    pub first: usize,
    pub after: Option<Cursor>,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Invitation>,
    pub has_next_page: bool,
}

impl ListQuery {
    pub const MAX_FIRST: usize = 500;
    pub const DEFAULT_FIRST: usize = 50;

    /// Validates a page request: `first` in 1..=500, no sort field twice, and a cursor that was
    /// made for the same sort.
    pub fn new(
        filter: InvitationFilter,
        sort: Vec<SortKey>,
        first: i64,
        after: Option<&str>,
    ) -> Result<Self, ValidationError> {
        let sort = if sort.is_empty() {
            vec![SortKey {
                field: SortField::CreatedAt,
                direction: SortDirection::Desc,
            }]
        } else {
            sort
        };
        for (i, key) in sort.iter().enumerate() {
            if sort[..i].iter().any(|earlier| earlier.field == key.field) {
                return Err(ValidationError::new(
                    "sort",
                    format!("{} is listed twice", key.field.as_str()),
                ));
            }
        }
        let first = usize::try_from(first)
            .ok()
            .filter(|n| (1..=Self::MAX_FIRST).contains(n))
            .ok_or_else(|| {
                ValidationError::new(
                    "first",
                    format!("must be between 1 and {}", Self::MAX_FIRST),
                )
            })?;
        let after = after.map(|text| Cursor::decode(text, &sort)).transpose()?;
        Ok(Self {
            filter: filter.normalized(),
            sort,
            first,
            after,
        })
    }

    /// The id tie-breaker's direction.
    pub fn id_direction(&self) -> SortDirection {
        self.sort
            .first()
            .map_or(SortDirection::Desc, |key| key.direction)
    }
}

fn sort_signature(sort: &[SortKey]) -> String {
    sort.iter()
        .map(|k| {
            format!(
                "{}:{}",
                k.field.as_str(),
                if k.direction == SortDirection::Asc {
                    "A"
                } else {
                    "D"
                }
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl Cursor {
    /// The cursor that continues after `invitation` in a listing sorted by `sort` at `now`.
    pub fn after_invitation(invitation: &Invitation, sort: &[SortKey], now: DateTime<Utc>) -> Self {
        let values = sort
            .iter()
            .map(|key| match key.field {
                SortField::CreatedAt => SortValue::Millis(invitation.created_at.timestamp_millis()),
                SortField::ExpiresAt => SortValue::Millis(invitation.expires_at.timestamp_millis()),
                SortField::Email => SortValue::Text(invitation.email.normalized().to_owned()),
                SortField::State => SortValue::Text(invitation.state_at(now).as_str().to_owned()),
            })
            .collect();
        Self {
            values,
            id: invitation.id.as_uuid(),
        }
    }

    pub fn encode(&self, sort: &[SortKey]) -> String {
        let values: Vec<Value> = self
            .values
            .iter()
            .map(|v| match v {
                SortValue::Millis(ms) => json!(ms),
                SortValue::Text(text) => json!(text),
            })
            .collect();
        let body = json!([sort_signature(sort), values, self.id.to_string()]);
        URL_SAFE_NO_PAD.encode(body.to_string())
    }

    fn decode(text: &str, sort: &[SortKey]) -> Result<Self, ValidationError> {
        let invalid = || {
            ValidationError::new(
                "after",
                "the cursor is not valid for this query; start again without `after`",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| invalid())?;
        let body: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        let [signature, values, id] = body.as_array().map(Vec::as_slice).unwrap_or_default() else {
            return Err(invalid());
        };
        if signature.as_str() != Some(sort_signature(sort).as_str()) {
            return Err(invalid());
        }
        let id = id
            .as_str()
            .and_then(|id| Uuid::try_parse(id).ok())
            .ok_or_else(invalid)?;
        let values = values.as_array().ok_or_else(invalid)?;
        if values.len() != sort.len() {
            return Err(invalid());
        }
        let values = sort
            .iter()
            .zip(values)
            .map(|(key, value)| match key.field {
                SortField::CreatedAt | SortField::ExpiresAt => {
                    value.as_i64().map(SortValue::Millis)
                }
                SortField::Email | SortField::State => {
                    value.as_str().map(|s| SortValue::Text(s.to_owned()))
                }
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(invalid)?;
        Ok(Self { values, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by(field: SortField, direction: SortDirection) -> SortKey {
        SortKey { field, direction }
    }

    #[test]
    fn the_default_sort_is_newest_first() {
        let query = ListQuery::new(InvitationFilter::default(), vec![], 50, None).unwrap();
        assert_eq!(query.sort, [by(SortField::CreatedAt, SortDirection::Desc)]);
    }

    #[test]
    fn a_cursor_round_trips_for_the_same_sort_only() {
        let sort = vec![
            by(SortField::Email, SortDirection::Asc),
            by(SortField::CreatedAt, SortDirection::Desc),
        ];
        let cursor = Cursor {
            values: vec![SortValue::Text("a@b.c".into()), SortValue::Millis(42)],
            id: Uuid::now_v7(),
        };
        let text = cursor.encode(&sort);
        let query = ListQuery::new(InvitationFilter::default(), sort, 10, Some(&text)).unwrap();
        assert_eq!(query.after, Some(cursor));
        let other_sort = vec![by(SortField::Email, SortDirection::Desc)];
        assert_eq!(
            ListQuery::new(InvitationFilter::default(), other_sort, 10, Some(&text))
                .unwrap_err()
                .field(),
            "after"
        );
    }

    #[test]
    fn bad_page_requests_name_their_field() {
        let f = InvitationFilter::default;
        assert_eq!(
            ListQuery::new(f(), vec![], 0, None).unwrap_err().field(),
            "first"
        );
        assert_eq!(
            ListQuery::new(f(), vec![], 501, None).unwrap_err().field(),
            "first"
        );
        assert_eq!(
            ListQuery::new(f(), vec![], 5, Some("garbage"))
                .unwrap_err()
                .field(),
            "after"
        );
        let twice = vec![
            by(SortField::Email, SortDirection::Asc),
            by(SortField::Email, SortDirection::Desc),
        ];
        assert_eq!(
            ListQuery::new(f(), twice, 5, None).unwrap_err().field(),
            "sort"
        );
    }
}
