//! Listing invitations: the page request as transports give it, the validated query the store
//! runs, and the page the transports map, with opaque cursors encoded here and nowhere else.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::InvitationService;
use super::permissions::require_reader;
use crate::domain::{Invitation, ValidationError};
use crate::error::Result;
use crate::ports::{
    Cursor, InvitationFilter, ListQuery, Page, Principal, SortDirection, SortField, SortKey,
    SortValue,
};

/// A page request as a transport received it: the cursor is the opaque text a client holds.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub filter: InvitationFilter,
    /// Empty: newest first. The id always breaks ties, so cursors are stable.
    pub sort: Vec<SortKey>,
    /// `None`: [`ListRequest::DEFAULT_FIRST`].
    pub first: Option<i64>,
    pub after: Option<String>,
}

impl ListRequest {
    pub const MAX_FIRST: usize = 500;
    pub const DEFAULT_FIRST: usize = 50;
    /// Longest `emailContains`: a substring match cannot use an index, so it is kept short.
    pub const MAX_EMAIL_CONTAINS: usize = 100;

    /// The first page of `filter` in the default order.
    pub fn first_page(filter: InvitationFilter, first: usize) -> Self {
        Self {
            filter,
            first: i64::try_from(first).ok(),
            ..Self::default()
        }
    }

    /// Validates the request: `first` in 1..=500, no sort field twice, and a cursor that was
    /// made for the same sort. Each problem names its argument.
    pub fn into_query(self) -> std::result::Result<ListQuery, ValidationError> {
        if let Some(part) = &self.filter.email_contains
            && part.chars().count() > Self::MAX_EMAIL_CONTAINS
        {
            return Err(ValidationError::new(
                "filter.emailContains",
                format!("must be at most {} characters", Self::MAX_EMAIL_CONTAINS),
            ));
        }
        let sort = if self.sort.is_empty() {
            vec![SortKey {
                field: SortField::CreatedAt,
                direction: SortDirection::Desc,
            }]
        } else {
            self.sort
        };
        for (i, key) in sort.iter().enumerate() {
            if sort[..i].iter().any(|earlier| earlier.field == key.field) {
                return Err(ValidationError::new(
                    "sort",
                    format!("{} is listed twice", key.field.as_str()),
                ));
            }
        }
        let first = match self.first {
            None => Self::DEFAULT_FIRST,
            Some(first) => usize::try_from(first)
                .ok()
                .filter(|n| (1..=Self::MAX_FIRST).contains(n))
                .ok_or_else(|| {
                    ValidationError::new(
                        "first",
                        format!("must be between 1 and {}", Self::MAX_FIRST),
                    )
                })?,
        };
        let after = self
            .after
            .as_deref()
            .map(|text| decode_cursor(text, &sort))
            .transpose()?;
        Ok(ListQuery {
            filter: self.filter.normalized(),
            sort,
            first,
            after,
        })
    }
}

/// Whether a listing counts all its matches, which costs far more than a page: an exact
/// count walks every matching index entry.
///
/// The count is shared by the listings of the same filter that run at the same time, and
/// reused for up to [`super::Settings::count_max_age`]. Every change this process makes that
/// can move a count (a new invitation, a change of state or expiry, a purge) drops the reused
/// counts; changes by other processes and expiry with time show within the max age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    Count,
    Skip,
}

/// A page of invitations, with the number of all matches when it was asked for, and the
/// cursors that continue after each item.
#[derive(Debug, Clone)]
pub struct Listing {
    pub items: Vec<Invitation>,
    pub has_next_page: bool,
    pub total_count: Option<u64>,
    sort: Vec<SortKey>,
    now: DateTime<Utc>,
}

impl Listing {
    /// The opaque cursor that continues after `invitation`, one of this page's items.
    pub fn cursor(&self, invitation: &Invitation) -> String {
        encode_cursor(
            &Cursor::after_invitation(invitation, &self.sort, self.now),
            &self.sort,
        )
    }

    /// The cursor after the last item; `None` for an empty page.
    pub fn end_cursor(&self) -> Option<String> {
        self.items.last().map(|last| self.cursor(last))
    }

    /// The time the page was read at: what decided which PENDING invitations read as EXPIRED.
    pub fn read_at(&self) -> DateTime<Utc> {
        self.now
    }
}

impl InvitationService {
    /// A page of invitations, for readers, and the number of all matches if `total` asks.
    /// VALIDATION_FAILED (naming `first`, `sort` or `after`) for a bad page request.
    pub async fn list(
        &self,
        principal: Option<&Principal>,
        request: ListRequest,
        total: Total,
    ) -> Result<Listing> {
        let principal = require_reader(principal)?;
        let mut query = request.into_query()?;
        if let Some(scopes) = principal.scopes() {
            query.filter.within_scopes = Some(scopes.clone());
        }
        let now = self.clock.now();
        let page = async { Ok(self.store.list(&query, now).await?) };
        let total_count = async {
            match total {
                Total::Count => self.total_count(&query.filter, now).await.map(Some),
                Total::Skip => Ok(None),
            }
        };
        let (
            Page {
                items,
                has_next_page,
            },
            total_count,
        ) = tokio::try_join!(page, total_count)?;
        Ok(Listing {
            items,
            has_next_page,
            total_count,
            sort: query.sort,
            now,
        })
    }

    async fn total_count(&self, filter: &InvitationFilter, now: DateTime<Utc>) -> Result<u64> {
        let count = || {
            let (store, filter) = (self.store.clone(), filter.clone());
            async move { Ok(store.count(&filter, now).await?) }
        };
        self.total_counts.total(filter, now, count).await
    }
}

fn sort_signature(sort: &[SortKey]) -> String {
    sort.iter()
        .map(|k| {
            let direction = match k.direction {
                SortDirection::Asc => "A",
                SortDirection::Desc => "D",
            };
            format!("{}:{direction}", k.field.as_str())
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn encode_cursor(cursor: &Cursor, sort: &[SortKey]) -> String {
    let values: Vec<Value> = cursor
        .values
        .iter()
        .map(|v| match v {
            SortValue::Millis(ms) => json!(ms),
            SortValue::Text(text) => json!(text),
        })
        .collect();
    let body = json!([sort_signature(sort), values, cursor.id.to_string()]);
    URL_SAFE_NO_PAD.encode(body.to_string())
}

/// A cursor is only valid for the sort it was made for, with a value of the right kind for
/// each key; anything else (a forged, truncated or foreign cursor) is VALIDATION_FAILED.
fn decode_cursor(text: &str, sort: &[SortKey]) -> std::result::Result<Cursor, ValidationError> {
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
            SortField::CreatedAt | SortField::ExpiresAt => value.as_i64().map(SortValue::Millis),
            SortField::Email | SortField::State => {
                value.as_str().map(|s| SortValue::Text(s.to_owned()))
            }
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(invalid)?;
    Ok(Cursor { values, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by(field: SortField, direction: SortDirection) -> SortKey {
        SortKey { field, direction }
    }

    fn request(sort: Vec<SortKey>, first: i64, after: Option<&str>) -> ListRequest {
        ListRequest {
            filter: InvitationFilter::default(),
            sort,
            first: Some(first),
            after: after.map(str::to_owned),
        }
    }

    #[test]
    fn the_default_sort_is_newest_first_and_the_default_page_is_fifty() {
        let query = ListRequest::default().into_query().unwrap();
        assert_eq!(query.sort, [by(SortField::CreatedAt, SortDirection::Desc)]);
        assert_eq!(query.first, ListRequest::DEFAULT_FIRST);
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
        let text = encode_cursor(&cursor, &sort);
        let query = request(sort, 10, Some(&text)).into_query().unwrap();
        assert_eq!(query.after, Some(cursor));
        let other_sort = vec![by(SortField::Email, SortDirection::Desc)];
        let refused = request(other_sort, 10, Some(&text)).into_query();
        assert_eq!(refused.unwrap_err().field(), "after");
    }

    #[test]
    fn a_forged_well_formed_cursor_is_refused_not_run() {
        let sort = vec![by(SortField::CreatedAt, SortDirection::Desc)];
        let signature = sort_signature(&sort);
        let id = Uuid::now_v7().to_string();
        let forged = [
            // A text where the sort key needs milliseconds.
            json!([signature, ["1970-01-01"], id]),
            // Too many values for the sort.
            json!([signature, [1, 2], id]),
            // Not an id.
            json!([signature, [1], "'; DROP TABLE invitations; --"]),
            // An object where the values go.
            json!([signature, {"$gt": ""}, id]),
            // Not the three parts.
            json!([signature, [1]]),
        ];
        for body in forged {
            let text = URL_SAFE_NO_PAD.encode(body.to_string());
            let refused = request(sort.clone(), 10, Some(&text)).into_query();
            assert_eq!(refused.unwrap_err().field(), "after", "{body}");
        }
    }

    #[test]
    fn bad_page_requests_name_their_field() {
        assert_eq!(
            request(vec![], 0, None).into_query().unwrap_err().field(),
            "first"
        );
        assert_eq!(
            request(vec![], 501, None).into_query().unwrap_err().field(),
            "first"
        );
        let garbage = request(vec![], 5, Some("garbage")).into_query();
        assert_eq!(garbage.unwrap_err().field(), "after");
        let twice = vec![
            by(SortField::Email, SortDirection::Asc),
            by(SortField::Email, SortDirection::Desc),
        ];
        assert_eq!(
            request(twice, 5, None).into_query().unwrap_err().field(),
            "sort"
        );
    }
}
