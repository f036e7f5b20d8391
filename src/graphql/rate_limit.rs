//! Rate limits for the public operations (look up, accept, decline by secret).
//!
//! A generic cell rate algorithm per key: `per_minute` requests are spread evenly over the
//! minute, with a burst of the same size. Each key costs one small map entry that is dropped
//! once its allowance has fully recovered, so memory stays bounded by the recent callers.
//! The state is per process: behind a load balancer every instance applies the limit alone.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::SecretDigest;

/// What a request is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// A client address. IPv6 addresses count per /64, the block one subscriber usually has.
    Client(IpAddr),
    /// One invitation, whoever asks.
    Secret([u8; 32]),
    /// Every caller whose address is unknown, together.
    UnknownClient,
}

impl RateKey {
    pub fn client(address: IpAddr) -> Self {
        match address {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                Self::Client(IpAddr::from(segments))
            }
            IpAddr::V6(v6) => Self::Client(v6.to_ipv4_mapped().map_or(address, IpAddr::V4)),
            IpAddr::V4(_) => Self::Client(address),
        }
    }

    pub fn secret(digest: &SecretDigest) -> Self {
        Self::Secret(*digest.as_bytes())
    }
}

/// Above this many tracked keys, a request first drops the keys that have fully recovered.
const PRUNE_ABOVE: usize = 50_000;

#[derive(Debug)]
pub struct RateLimiter {
    /// Time between two requests at the steady rate; `None`: no limit.
    interval: Option<Duration>,
    /// How far ahead of now a key's schedule may run (the burst).
    burst: Duration,
    /// Per key, the time at which its allowance is fully recovered.
    schedule: Mutex<HashMap<RateKey, Instant>>,
}

impl RateLimiter {
    /// `per_minute` requests per key and minute; 0 turns the limit off.
    pub fn per_minute(per_minute: u32) -> Self {
        let interval = (per_minute > 0).then(|| Duration::from_secs(60) / per_minute);
        Self {
            interval,
            burst: Duration::from_secs(60),
            schedule: Mutex::new(HashMap::new()),
        }
    }

    #[cfg(test)]
    fn is_enabled(&self) -> bool {
        self.interval.is_some()
    }

    /// Counts one request against every key; `Err(retry_after)` when any key is over its limit,
    /// in which case nothing is counted.
    pub fn check(&self, keys: &[RateKey]) -> Result<(), Duration> {
        self.check_at(keys, Instant::now())
    }

    fn check_at(&self, keys: &[RateKey], now: Instant) -> Result<(), Duration> {
        let Some(interval) = self.interval else {
            return Ok(());
        };
        let mut schedule = self
            .schedule
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if schedule.len() > PRUNE_ABOVE {
            schedule.retain(|_, recovered_at| *recovered_at > now);
        }
        let mut wait = Duration::ZERO;
        for key in keys {
            let recovered_at = schedule.get(key).copied().unwrap_or(now).max(now);
            let next = recovered_at + interval;
            if next > now + self.burst {
                wait = wait.max(next - (now + self.burst));
            }
        }
        if wait > Duration::ZERO {
            return Err(wait);
        }
        for key in keys {
            let recovered_at = schedule.get(key).copied().unwrap_or(now).max(now);
            schedule.insert(*key, recovered_at + interval);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(last: u8) -> RateKey {
        RateKey::client(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_for_the_steady_rate() {
        let limiter = RateLimiter::per_minute(6);
        let start = Instant::now();
        for _ in 0..6 {
            assert!(limiter.check_at(&[client(1)], start).is_ok());
        }
        let wait = limiter.check_at(&[client(1)], start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(10));
        assert!(
            limiter.check_at(&[client(2)], start).is_ok(),
            "other clients are not affected"
        );
        assert!(limiter.check_at(&[client(1)], start + wait).is_ok());
    }

    #[test]
    fn a_refused_request_counts_against_no_key() {
        let limiter = RateLimiter::per_minute(1);
        let start = Instant::now();
        let secret = RateKey::Secret([7; 32]);
        assert!(limiter.check_at(&[client(1)], start).is_ok());
        assert!(limiter.check_at(&[client(1), secret], start).is_err());
        assert!(limiter.check_at(&[client(2), secret], start).is_ok());
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let limiter = RateLimiter::per_minute(0);
        let now = Instant::now();
        assert!((0..1000).all(|_| limiter.check_at(&[client(1)], now).is_ok()));
        assert!(!limiter.is_enabled());
    }

    #[test]
    fn ipv6_clients_count_per_64_block() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(RateKey::client(a), RateKey::client(b));
        assert_ne!(RateKey::client(a), RateKey::client(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(RateKey::client(mapped), client(1));
    }
}
