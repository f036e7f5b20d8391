//! The client's address, for rate limiting.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

/// The client's address: with `trusted_proxies` = N > 0, the address N places from the end of
/// `X-Forwarded-For` (each of the N proxies in front of us appended the address it saw, so
/// that one was written by our outermost proxy and cannot be forged by the client); else, or
/// when the header has fewer addresses than that, the connection's peer. `None` when neither
/// is known, for example when a host serves the routes without connect info.
pub(crate) fn client_address(parts: &Parts, trusted_proxies: u8) -> Option<IpAddr> {
    if trusted_proxies > 0 {
        let hops: Vec<IpAddr> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|hop| hop.trim().parse::<IpAddr>().ok())
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default();
        if let Some(index) = hops.len().checked_sub(usize::from(trusted_proxies)) {
            return Some(hops[index]);
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(forwarded: &[&str], peer: Option<&str>) -> Parts {
        let mut request = Request::builder();
        for value in forwarded {
            request = request.header("x-forwarded-for", *value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        if let Some(peer) = peer {
            parts
                .extensions
                .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        }
        parts
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn the_client_is_as_many_hops_from_the_end_as_there_are_trusted_proxies() {
        // The client forged the first entry; proxies appended the other two.
        let request = parts(&["6.6.6.6, 1.1.1.1", "2.2.2.2"], Some("10.0.0.9:4000"));
        assert_eq!(client_address(&request, 1), ip("2.2.2.2"));
        assert_eq!(client_address(&request, 2), ip("1.1.1.1"));
        // Fewer addresses than proxies: the request did not come through them all.
        assert_eq!(client_address(&request, 5), ip("10.0.0.9"));
        assert_eq!(client_address(&request, 0), ip("10.0.0.9"));
        // A malformed entry makes the header worthless, not the forger's choice.
        let garbled = parts(&["1.1.1.1, not-an-address"], Some("10.0.0.9:4000"));
        assert_eq!(client_address(&garbled, 1), ip("10.0.0.9"));
        assert_eq!(client_address(&parts(&[], None), 1), None);
    }
}
