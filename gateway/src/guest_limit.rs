//! The rate limit of `POST /auth/guest`: a token bucket per client address
//! (an IPv6 address by its /64, which one subscriber usually holds whole), in
//! a map of at most [`MAX_ADDRESSES`] entries. When it is full, buckets that
//! have refilled (they mean nothing any more) are dropped first, then the
//! least recently used sixteenth: the map never grows with the number of
//! addresses.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Client addresses tracked at once (about 40 bytes each).
pub const MAX_ADDRESSES: usize = 10_000;

/// Entries dropped together when the map is full of recent ones.
const EVICT_BATCH: usize = MAX_ADDRESSES / 16;

/// Guest tokens per client address: bursts of `per_min`, refilled at
/// `per_min` a minute.
pub struct GuestLimiter {
    per_min: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl GuestLimiter {
    /// A limiter of `per_min` tokens a minute per address (at least one).
    pub fn new(per_min: u32) -> GuestLimiter {
        GuestLimiter { per_min: per_min.max(1), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes a token for `addr` at `now`; `Err` says how long until the next.
    pub fn take(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.per_min);
        let per_sec = capacity / 60.0;
        let key = key(addr);
        // A poisoned lock only means another request panicked mid-update of
        // a bucket; the counts are still usable.
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ADDRESSES && !map.contains_key(&key) {
            let refill = Duration::from_secs(60);
            map.retain(|_, b| now.saturating_duration_since(b.at) < refill);
            if map.len() >= MAX_ADDRESSES {
                // Drop the least recently used sixteenth at once, so a flood
                // of new addresses costs one scan per EVICT_BATCH of them.
                let mut times: Vec<Instant> = map.values().map(|b| b.at).collect();
                let (_, cutoff, _) = times.select_nth_unstable(EVICT_BATCH - 1);
                let cutoff = *cutoff;
                map.retain(|_, b| b.at > cutoff);
            }
        }
        let b = map.entry(key).or_insert(Bucket { tokens: capacity, at: now });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_sec).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
        }
    }

    /// Addresses tracked now (for tests of the bound).
    pub fn tracked(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The bucket an address counts against: IPv4 as is (also when mapped into
/// IPv6), IPv6 by its /64.
fn key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(n.into())
    }

    #[test]
    fn a_burst_then_one_per_refill_interval() {
        let limiter = GuestLimiter::new(30);
        let t0 = Instant::now();
        let a = v4(0x0a00_0001);
        for _ in 0..30 {
            assert!(limiter.take(a, t0).is_ok());
        }
        let wait = limiter.take(a, t0).expect_err("the burst is spent");
        assert!(wait > Duration::from_millis(1900) && wait <= Duration::from_secs(2), "{wait:?}");
        // Another address has its own bucket.
        assert!(limiter.take(v4(0x0a00_0002), t0).is_ok());
        // Two seconds later (30 a minute) there is one more, not two.
        let t1 = t0 + Duration::from_secs(2);
        assert!(limiter.take(a, t1).is_ok());
        assert!(limiter.take(a, t1).is_err());
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client() {
        let limiter = GuestLimiter::new(2);
        let t0 = Instant::now();
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("address");
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("address");
        let other_64: IpAddr = "2001:db8:1:3::1".parse().expect("address");
        assert!(limiter.take(one, t0).is_ok());
        assert!(limiter.take(same_64, t0).is_ok());
        assert!(limiter.take(one, t0).is_err(), "the /64 shares one bucket");
        assert!(limiter.take(other_64, t0).is_ok());
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().expect("address");
        assert!(limiter.take(mapped, t0).is_ok());
        assert!(limiter.take(v4(0x0a00_0001), t0).is_ok());
        assert!(limiter.take(v4(0x0a00_0001), t0).is_err(), "a mapped IPv4 address is that address");
    }

    #[test]
    fn the_map_stays_bounded_under_many_addresses() {
        let limiter = GuestLimiter::new(5);
        let t0 = Instant::now();
        for n in 0..(3 * MAX_ADDRESSES as u32) {
            let _ = limiter.take(v4(n), t0 + Duration::from_micros(u64::from(n)));
            assert!(limiter.tracked() <= MAX_ADDRESSES);
        }
        assert!(limiter.tracked() > MAX_ADDRESSES - EVICT_BATCH);
        // A client that keeps asking while the others churn: the least recently
        // used are dropped first, not the one being limited right now.
        let busy = v4(u32::MAX);
        let t1 = t0 + Duration::from_secs(1);
        for _ in 0..5 {
            assert!(limiter.take(busy, t1).is_ok());
        }
        for n in 0..100u32 {
            let _ = limiter.take(v4(1_000_000 + n), t1 + Duration::from_millis(u64::from(n)));
        }
        assert!(limiter.take(busy, t1 + Duration::from_millis(200)).is_err(), "still limited");
    }
}
