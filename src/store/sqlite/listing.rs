//! SQL for listing and counting: filters on effective state, multi-key sort, keyset paging.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;

use crate::domain::InvitationState;
use crate::ports::SortValue;
use crate::ports::{InvitationFilter, ListQuery, PieceStart, SortDirection, SortField, SortKey};

/// SQL text with its positional parameters.
pub(super) struct Sql {
    pub text: String,
    pub params: Vec<Value>,
    now: DateTime<Utc>,
    now_placeholder: Option<String>,
    /// How state predicates name `expires_at`; see [`page`].
    expires_at: &'static str,
}

impl Sql {
    fn new(now: DateTime<Utc>) -> Self {
        Self {
            text: String::new(),
            params: Vec::new(),
            now,
            now_placeholder: None,
            expires_at: "expires_at",
        }
    }

    /// The placeholder of the current time, bound on first use.
    fn now(&mut self) -> String {
        if let Some(placeholder) = &self.now_placeholder {
            return placeholder.clone();
        }
        let placeholder = self.bind_time(self.now);
        self.now_placeholder = Some(placeholder.clone());
        placeholder
    }

    /// Adds a parameter and returns its placeholder.
    fn bind(&mut self, value: Value) -> String {
        self.params.push(value);
        format!("?{}", self.params.len())
    }

    fn bind_text(&mut self, text: &str) -> String {
        self.bind(Value::Text(text.to_owned()))
    }

    fn bind_time(&mut self, t: DateTime<Utc>) -> String {
        self.bind(Value::Integer(t.timestamp_millis()))
    }
}

/// Matches invitations whose effective state is `state`.
fn state_predicate(sql: &mut Sql, state: InvitationState) -> String {
    let expires_at = sql.expires_at;
    match state {
        InvitationState::Pending => format!("(state = 'PENDING' AND {expires_at} > {})", sql.now()),
        InvitationState::Expired => {
            format!(
                "(state = 'EXPIRED' OR (state = 'PENDING' AND {expires_at} <= {}))",
                sql.now()
            )
        }
        other => format!("state = '{}'", other.as_str()),
    }
}

fn filter_clauses(sql: &mut Sql, filter: &InvitationFilter) -> Vec<String> {
    let mut clauses = Vec::new();
    if !filter.states.is_empty() {
        let states: Vec<String> = filter
            .states
            .iter()
            .map(|s| state_predicate(sql, *s))
            .collect();
        clauses.push(format!("({})", states.join(" OR ")));
    }
    if let Some(email) = &filter.email {
        clauses.push(format!("email_normalized = {}", sql.bind_text(email)));
    }
    if let Some(part) = &filter.email_contains {
        if part.chars().count() >= 3 {
            // The trigram index: a phrase of three characters or more matches where the text
            // holds it (case-insensitive); `"` is doubled inside an FTS5 string.
            let phrase = format!("\"{}\"", part.replace('"', "\"\""));
            clauses.push(format!(
                "rowid IN (SELECT rowid FROM invitation_email_grams \
                 WHERE invitation_email_grams MATCH {})",
                sql.bind_text(&phrase)
            ));
        } else {
            clauses.push(format!(
                "instr(email_normalized, {}) > 0",
                sql.bind_text(part)
            ));
        }
    }
    if let Some(phone) = &filter.phone {
        clauses.push(format!("phone = {}", sql.bind_text(phone)));
    }
    if !filter.channels.is_empty() {
        let list: Vec<String> = filter
            .channels
            .iter()
            .map(|channel| sql.bind_text(channel.as_str()))
            .collect();
        clauses.push(format!("channel IN ({})", list.join(", ")));
    }
    if let Some(role) = &filter.role {
        clauses.push(format!("role = {}", sql.bind_text(role)));
    }
    if let Some(group) = &filter.group {
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM json_each(invitations.groups) WHERE json_each.value = {})",
            sql.bind_text(group)
        ));
    }
    if let Some(scope) = &filter.scope {
        clauses.push(format!("scope = {}", sql.bind_text(scope)));
    }
    if let Some(scopes) = &filter.within_scopes {
        let list: Vec<String> = scopes.iter().map(|s| sql.bind_text(s)).collect();
        // `IN ()` matches nothing, as an empty set should.
        clauses.push(format!("scope IN ({})", list.join(", ")));
    }
    if let Some(inviter) = &filter.invited_by {
        clauses.push(format!("invited_by_id = {}", sql.bind_text(inviter)));
    }
    for (column, op, bound) in [
        ("created_at", ">=", filter.created_after),
        ("created_at", "<", filter.created_before),
        ("expires_at", ">=", filter.expires_after),
        ("expires_at", "<", filter.expires_before),
    ] {
        if let Some(t) = bound {
            clauses.push(format!("{column} {op} {}", sql.bind_time(t)));
        }
    }
    clauses
}

fn sort_expression(sql: &mut Sql, field: SortField) -> String {
    match field {
        SortField::CreatedAt => "created_at".to_owned(),
        SortField::ExpiresAt => "expires_at".to_owned(),
        SortField::Email => "email_normalized".to_owned(),
        SortField::State => {
            format!(
                "(CASE WHEN state = 'PENDING' AND expires_at <= {} THEN 'EXPIRED' ELSE state END)",
                sql.now()
            )
        }
    }
}

fn keyword(direction: SortDirection) -> &'static str {
    match direction {
        SortDirection::Asc => "ASC",
        SortDirection::Desc => "DESC",
    }
}

fn beyond(direction: SortDirection) -> &'static str {
    match direction {
        SortDirection::Asc => ">",
        SortDirection::Desc => "<",
    }
}

/// `k1 ASC, k2 DESC, ..., id ASC`: the keys, then the id in `id_direction`.
fn order_by(sql: &mut Sql, keys: &[SortKey], id_direction: SortDirection) -> String {
    let mut order: Vec<String> = keys
        .iter()
        .map(|key| {
            format!(
                "{} {}",
                sort_expression(sql, key.field),
                keyword(key.direction)
            )
        })
        .collect();
    order.push(format!("id {}", keyword(id_direction)));
    order.join(", ")
}

/// `(k1 > v1) OR (k1 = v1 AND k2 > v2) OR ... OR (all equal AND id > last_id)`.
fn keyset_clause(sql: &mut Sql, query: &ListQuery) -> Option<String> {
    let cursor = query.after.as_ref()?;
    Some(keyset_after(
        sql,
        &query.sort,
        &cursor.values,
        cursor.id,
        query.id_direction(),
    ))
}

/// Past `values` of `sort`, then past `id` in `id_direction`.
fn keyset_after(
    sql: &mut Sql,
    sort: &[SortKey],
    values: &[SortValue],
    id: uuid::Uuid,
    id_direction: SortDirection,
) -> String {
    let mut keys: Vec<(String, SortDirection, Value)> = sort
        .iter()
        .zip(values)
        .map(|(key, value)| {
            let value = match value {
                SortValue::Millis(ms) => Value::Integer(*ms),
                SortValue::Text(text) => Value::Text(text.clone()),
            };
            (sort_expression(sql, key.field), key.direction, value)
        })
        .collect();
    keys.push((
        "id".to_owned(),
        id_direction,
        Value::Text(id.hyphenated().to_string()),
    ));
    let placeholders: Vec<String> = keys.iter().map(|(_, _, v)| sql.bind(v.clone())).collect();
    let alternatives: Vec<String> = (0..keys.len())
        .map(|i| {
            let mut parts: Vec<String> = (0..i)
                .map(|j| format!("{} = {}", keys[j].0, placeholders[j]))
                .collect();
            parts.push(format!(
                "{} {} {}",
                keys[i].0,
                beyond(keys[i].1),
                placeholders[i]
            ));
            format!("({})", parts.join(" AND "))
        })
        .collect();
    format!("({})", alternatives.join(" OR "))
}

fn where_text(clauses: &[String]) -> String {
    if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    }
}

/// One page plus one row, to tell whether another page follows.
///
/// The expiry check is written `+expires_at`, which keeps SQLite from range-scanning the
/// expiry index for it: that scan meets every PENDING invitation and then sorts them all
/// (128 ms over 100,000). Walking the index of the sort order instead and checking expiry on
/// the rows it meets stops after one page (0.3 ms). Counting keeps the range scan, on a
/// covering index.
pub(super) fn page(query: &ListQuery, columns: &str, now: DateTime<Utc>) -> Sql {
    if query.sort.first().map(|key| key.field) == Some(SortField::State) {
        return by_state_page(query, columns, now);
    }
    let mut sql = Sql {
        expires_at: "+expires_at",
        ..Sql::new(now)
    };
    let mut clauses = filter_clauses(&mut sql, &query.filter);
    clauses.extend(keyset_clause(&mut sql, query));
    let order = order_by(&mut sql, &query.sort, query.id_direction());
    sql.text = format!(
        "SELECT {columns} FROM invitations{} ORDER BY {} LIMIT {}",
        where_text(&clauses),
        order,
        query.first + 1
    );
    sql
}

/// A page sorted by state first, without sorting every match by a computed value: one piece
/// per stored condition of an effective state (EXPIRED is two: a stored EXPIRED, and a PENDING
/// past its expiry), each a page of its own in the remaining order, which an index serves
/// (`state, id` or `state, created_at, id`); only those few rows are then sorted by effective
/// state. Pieces before the cursor's state are left out, the piece of its state continues after
/// it.
fn by_state_page(query: &ListQuery, columns: &str, now: DateTime<Utc>) -> Sql {
    let mut sql = Sql {
        expires_at: "+expires_at",
        ..Sql::new(now)
    };
    let direction = query.sort[0].direction;
    let rest = &query.sort[1..];
    let id_direction = query.id_direction();
    let filter = filter_clauses(&mut sql, &query.filter);
    let at = sql.now();
    let effective = sort_expression(&mut sql, SortField::State);
    // The PENDING past expiry are few (the sweeper records them EXPIRED): that piece ranges over
    // the expiry index; the others walk the sort order and check expiry on the rows they meet.
    let mut pieces = vec![
        (InvitationState::Accepted, "state = 'ACCEPTED'".to_owned()),
        (InvitationState::Declined, "state = 'DECLINED'".to_owned()),
        (InvitationState::Expired, "state = 'EXPIRED'".to_owned()),
        (
            InvitationState::Expired,
            format!("state = 'PENDING' AND expires_at <= {at}"),
        ),
        (
            InvitationState::Pending,
            format!("state = 'PENDING' AND +expires_at > {at}"),
        ),
        (InvitationState::Revoked, "state = 'REVOKED'".to_owned()),
    ];
    if direction == SortDirection::Desc {
        pieces.reverse();
    }
    let order = order_by(&mut sql, rest, id_direction);
    let limit = query.first + 1;
    let states: Vec<InvitationState> = pieces.iter().map(|(state, _)| *state).collect();
    let mut selects = Vec::new();
    for ((_, condition), start) in pieces.into_iter().zip(query.state_pieces(&states)) {
        let mut clauses = filter.clone();
        clauses.push(condition);
        match (start, &query.after) {
            (PieceStart::Skip, _) => continue,
            (PieceStart::AfterCursor, Some(cursor)) => clauses.push(keyset_after(
                &mut sql,
                rest,
                &cursor.values[1..],
                cursor.id,
                id_direction,
            )),
            _ => {}
        }
        selects.push(format!(
            "SELECT * FROM (SELECT {columns}, {effective} AS effective_state FROM invitations{} \
             ORDER BY {order} LIMIT {limit})",
            where_text(&clauses)
        ));
    }
    sql.text = format!(
        "SELECT {columns} FROM ({}) ORDER BY effective_state {}, {order} LIMIT {limit}",
        selects.join(" UNION ALL "),
        keyword(direction)
    );
    sql
}

pub(super) fn count(filter: &InvitationFilter, now: DateTime<Utc>) -> Sql {
    let mut sql = Sql::new(now);
    let clauses = filter_clauses(&mut sql, filter);
    sql.text = format!("SELECT count(*) FROM invitations{}", where_text(&clauses));
    sql
}
