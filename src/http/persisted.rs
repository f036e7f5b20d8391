//! Automatic persisted queries, as Apollo's clients speak them: a request may carry
//! `extensions.persistedQuery = {version: 1, sha256Hash}` and leave out the query. A known hash
//! stands for its query; an unknown one is answered `PERSISTED_QUERY_NOT_FOUND`, and the client
//! sends the query with its hash once, which registers it. Hash-only requests can then go over
//! GET and be cached by a CDN.
//!
//! The cache is per process and bounded in bytes; when it is full the oldest entries go first
//! (a client whose query was dropped simply registers it again). A resolved query goes through
//! every check a written-out one does, since it is resolved before any of them.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_graphql::Value;
use sha2::{Digest as _, Sha256};

/// Why a request's persisted query cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unusable {
    /// The hash is not registered here (yet): send the query with it.
    NotFound,
    /// Persisted queries are off on this server.
    NotSupported,
    /// The extension is malformed, or the query does not hash to the hash given.
    Invalid(&'static str),
}

#[derive(Debug)]
pub(crate) struct PersistedQueries {
    /// Bytes of query text kept at most; 0: persisted queries are off.
    max_bytes: usize,
    cache: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    queries: HashMap<[u8; 32], String>,
    /// Insertion order, oldest first.
    order: VecDeque<[u8; 32]>,
    bytes: usize,
}

impl PersistedQueries {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// Fills in the query of a request that names a persisted one, or registers the query it
    /// sends along with its hash. A request without the extension is left as it is.
    pub(crate) fn resolve(&self, request: &mut async_graphql::Request) -> Result<(), Unusable> {
        let Some(extension) = request.extensions.get("persistedQuery") else {
            return Ok(());
        };
        if self.max_bytes == 0 {
            return Err(Unusable::NotSupported);
        }
        let hash = parse(extension)?;
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if request.query.is_empty() {
            let query = cache.queries.get(&hash).ok_or(Unusable::NotFound)?;
            request.query.clone_from(query);
            return Ok(());
        }
        if Sha256::digest(request.query.as_bytes()).as_slice() != hash {
            return Err(Unusable::Invalid(
                "the query does not hash to persistedQuery.sha256Hash",
            ));
        }
        cache.insert(hash, &request.query, self.max_bytes);
        Ok(())
    }
}

impl Cache {
    fn insert(&mut self, hash: [u8; 32], query: &str, max_bytes: usize) {
        if self.queries.contains_key(&hash) || query.len() > max_bytes {
            return;
        }
        while self.bytes + query.len() > max_bytes {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(dropped) = self.queries.remove(&oldest) {
                self.bytes -= dropped.len();
            }
        }
        self.bytes += query.len();
        self.order.push_back(hash);
        self.queries.insert(hash, query.to_owned());
    }
}

/// The hash of `{version: 1, sha256Hash: "<64 hex digits>"}`.
fn parse(extension: &Value) -> Result<[u8; 32], Unusable> {
    let Value::Object(fields) = extension else {
        return Err(Unusable::Invalid("persistedQuery must be an object"));
    };
    let version = fields.get("version").and_then(|v| match v {
        Value::Number(n) => n.as_u64(),
        _ => None,
    });
    if version != Some(1) {
        return Err(Unusable::Invalid("persistedQuery.version must be 1"));
    }
    let hex = match fields.get("sha256Hash") {
        Some(Value::String(hex)) if hex.len() == 64 => hex,
        _ => {
            return Err(Unusable::Invalid(
                "persistedQuery.sha256Hash must be 64 hexadecimal digits",
            ));
        }
    };
    let mut hash = [0u8; 32];
    for (byte, pair) in hash.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let text = std::str::from_utf8(pair).unwrap_or("");
        *byte = u8::from_str_radix(text, 16).map_err(|_| {
            Unusable::Invalid("persistedQuery.sha256Hash must be 64 hexadecimal digits")
        })?;
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str, hash: &str) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(query);
        request.extensions.insert(
            "persistedQuery".to_owned(),
            Value::from_json(serde_json::json!({ "version": 1, "sha256Hash": hash })).unwrap(),
        );
        request
    }

    fn hex(query: &str) -> String {
        Sha256::digest(query.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn an_unknown_hash_is_not_found_until_its_query_is_sent_with_it() {
        let cache = PersistedQueries::new(1024);
        let query = "{ __typename }";
        let mut hash_only = request("", &hex(query));
        assert_eq!(cache.resolve(&mut hash_only), Err(Unusable::NotFound));
        assert_eq!(cache.resolve(&mut request(query, &hex(query))), Ok(()));
        let mut hash_only = request("", &hex(query));
        assert_eq!(cache.resolve(&mut hash_only), Ok(()));
        assert_eq!(hash_only.query, query);
    }

    #[test]
    fn a_query_that_does_not_match_its_hash_is_refused_and_not_kept() {
        let cache = PersistedQueries::new(1024);
        let claimed = hex("{ __typename }");
        let mut lying = request("{ invitations { totalCount } }", &claimed);
        assert!(matches!(
            cache.resolve(&mut lying),
            Err(Unusable::Invalid(_))
        ));
        assert_eq!(
            cache.resolve(&mut request("", &claimed)),
            Err(Unusable::NotFound)
        );
        for bad in ["zz", &"g".repeat(64)] {
            assert!(matches!(
                cache.resolve(&mut request("", bad)),
                Err(Unusable::Invalid(_))
            ));
        }
    }

    #[test]
    fn the_cache_keeps_its_byte_bound_by_dropping_the_oldest() {
        let cache = PersistedQueries::new(40);
        let queries: Vec<String> = (0..5).map(|i| format!("{{ a{i}: __typename }}")).collect();
        for query in &queries {
            cache.resolve(&mut request(query, &hex(query))).unwrap();
        }
        let kept = cache.cache.lock().unwrap();
        assert!(kept.bytes <= 40);
        assert!(kept.queries.len() < 5);
        drop(kept);
        let newest = &queries[4];
        assert_eq!(cache.resolve(&mut request("", &hex(newest))), Ok(()));
        assert_eq!(
            cache.resolve(&mut request("", &hex(&queries[0]))),
            Err(Unusable::NotFound)
        );
    }

    #[test]
    fn off_means_not_supported_and_requests_without_the_extension_pass() {
        let off = PersistedQueries::new(0);
        let query = "{ __typename }";
        assert_eq!(
            off.resolve(&mut request(query, &hex(query))),
            Err(Unusable::NotSupported)
        );
        assert_eq!(off.resolve(&mut async_graphql::Request::new(query)), Ok(()));
    }
}
