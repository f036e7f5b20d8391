//! The API's scalars: `DateTime` (RFC 3339), `Duration` (ISO 8601) and `JSON`.
//!
//! Input values are taken as written and checked by the module's own validation, so that a
//! malformed value is a VALIDATION_FAILED error that names its field, like every other input
//! problem, rather than a bare GraphQL coercion message.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{DateTime as ChronoDateTime, SecondsFormat, Utc};

use crate::domain::ValidationError;

/// Takes any string: the module's validation checks it and names the field on failure.
fn as_text<T: async_graphql::InputType>(value: Value) -> Result<String, InputValueError<T>> {
    match value {
        Value::String(text) => Ok(text),
        other => Err(InputValueError::expected_type(other)),
    }
}

/// An instant, written as RFC 3339 in UTC with milliseconds (`2026-11-21T09:30:00.000Z`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateTime(String);

/// An instant in RFC 3339, e.g. `2026-11-21T09:30:00.000Z`; outputs are UTC with milliseconds.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://www.rfc-editor.org/rfc/rfc3339"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        as_text::<Self>(value).map(Self)
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

impl DateTime {
    pub(crate) fn parse_for(&self, field: &str) -> Result<ChronoDateTime<Utc>, ValidationError> {
        ChronoDateTime::parse_from_rfc3339(&self.0)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                ValidationError::new(
                    field,
                    "must be an RFC 3339 date-time such as 2026-11-21T09:30:00Z",
                )
            })
    }
}

impl From<ChronoDateTime<Utc>> for DateTime {
    fn from(t: ChronoDateTime<Utc>) -> Self {
        Self(t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

/// A length of time as an ISO 8601 duration: `P7D`, `PT12H`, `P1DT6H`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duration(String);

/// A length of time in ISO 8601, e.g. `P7D`, `PT12H` or `P1DT6H`.
#[Scalar(name = "Duration")]
impl ScalarType for Duration {
    fn parse(value: Value) -> InputValueResult<Self> {
        as_text::<Self>(value).map(Self)
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

impl Duration {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<crate::domain::IsoDuration> for Duration {
    fn from(duration: crate::domain::IsoDuration) -> Self {
        Self(duration.to_string())
    }
}

/// A JSON value; `metadata` must be an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Json(pub serde_json::Value);

/// Any JSON value; `metadata` takes an object.
#[Scalar(name = "JSON")]
impl ScalarType for Json {
    fn parse(value: Value) -> InputValueResult<Self> {
        value
            .into_json()
            .map(Self)
            .map_err(|_| InputValueError::custom("not representable as JSON"))
    }

    fn to_value(&self) -> Value {
        Value::from_json(self.0.clone()).unwrap_or(Value::Null)
    }
}
