//! Free-form metadata copied to the account on acceptance: a JSON object of bounded size.

use serde_json::{Map, Value};

use super::ValidationError;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata(Map<String, Value>);

impl Metadata {
    /// Accepts a JSON object whose compact serialization is at most `max_bytes` long and whose
    /// nesting is at most 16 levels deep.
    pub fn parse(value: Value, max_bytes: usize) -> Result<Self, ValidationError> {
        let Value::Object(map) = value else {
            return Err(ValidationError::new(
                "metadata",
                "metadata must be a JSON object",
            ));
        };
        let size = serde_json::to_vec(&map)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > max_bytes {
            return Err(ValidationError::new(
                "metadata",
                format!("metadata must be at most {max_bytes} bytes as JSON (it is {size})"),
            ));
        }
        if depth(&Value::Object(map.clone())) > 16 {
            return Err(ValidationError::new(
                "metadata",
                "metadata is nested more than 16 levels deep",
            ));
        }
        for (key, value) in &map {
            storable(key, value).map_err(|why| ValidationError::new("metadata", why))?;
        }
        Ok(Self(map))
    }

    /// Rebuilds metadata read back from a store, which validated it on the way in.
    pub fn from_stored(map: Map<String, Value>) -> Self {
        Self(map)
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// Whether every store keeps `key: value` exactly as given: keys without a leading `$`, a
/// `.` or a NUL (MongoDB reads those as operators or paths, or cannot write them), and whole
/// numbers within 64-bit signed integers (what both stores hold).
fn storable(key: &str, value: &Value) -> Result<(), String> {
    if key.starts_with('$') || key.contains(['.', '\0']) {
        return Err(format!(
            "metadata key {key:?} cannot be stored: keys may not start with `$` or hold `.` or NUL"
        ));
    }
    match value {
        Value::Number(number) if number.is_u64() && number.as_i64().is_none() => Err(format!(
            "metadata number {number} under {key:?} is too large: whole numbers must fit in 64-bit signed integers"
        )),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| storable(k, v)),
        Value::Array(items) => items.iter().try_for_each(|item| storable(key, item)),
        _ => Ok(()),
    }
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_object_within_the_bound_is_kept() {
        let metadata = Metadata::parse(json!({"plan": "pro", "seats": 3}), 100).unwrap();
        assert_eq!(metadata.as_map()["seats"], 3);
    }

    #[test]
    fn non_objects_and_oversized_objects_are_refused() {
        assert_eq!(
            Metadata::parse(json!([1, 2]), 100).unwrap_err().field(),
            "metadata"
        );
        assert_eq!(
            Metadata::parse(json!("text"), 100).unwrap_err().field(),
            "metadata"
        );
        let big = json!({"blob": "x".repeat(200)});
        assert!(Metadata::parse(big, 100).is_err());
    }

    #[test]
    fn what_a_store_would_change_is_refused_naming_the_problem() {
        for (bad, says) in [
            (json!({ "n": u64::MAX }), "too large"),
            (
                json!({ "a": [{ "deep": 9_223_372_036_854_775_808_u64 }] }),
                "too large",
            ),
            (json!({ "$set": 1 }), "`$`"),
            (json!({ "a": { "b.c": 1 } }), "`.`"),
            (json!({ "k\u{0}": 1 }), "NUL"),
        ] {
            let err = Metadata::parse(bad.clone(), 10_000).unwrap_err();
            assert_eq!(err.field(), "metadata");
            assert!(err.message().contains(says), "{bad}: {}", err.message());
        }
        let fine =
            json!({ "max": i64::MAX, "min": i64::MIN, "f": 1.5, "s": "a\u{0}b", "a$b": true });
        assert!(Metadata::parse(fine, 10_000).is_ok());
    }

    #[test]
    fn deeply_nested_objects_are_refused() {
        let mut value = json!(1);
        for _ in 0..20 {
            value = json!({ "a": value });
        }
        assert!(Metadata::parse(value, 10_000).is_err());
    }
}
