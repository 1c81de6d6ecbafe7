//! Per-tenant request limits: a GCRA cell in Redis shared by every replica (one script call per
//! request), falling back to a local `governor` cell per tenant while Redis is absent or down;
//! and a cap on a tenant's concurrent in-flight requests on this replica.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use openclaw_domain::{Limits, TenantId};
use openclaw_engine::run::quota::counter_name;
use openclaw_store::redis::Redis;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

type LocalCell = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    Shared,
    Local,
}

/// The verdict for one request, with what the headers need.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub allowed: bool,
    pub limit_per_hour: u32,
    pub burst: u32,
    pub remaining: u32,
    pub retry_after: Duration,
    /// Until the whole burst is available again.
    pub reset_after: Duration,
    pub source: LimitSource,
    /// The tenant's tokens of the day as the shared counter says, read in the same call
    /// (`None` from the local fallback).
    pub tokens_used: Option<u64>,
}

pub struct TenantLimiter {
    redis: Option<Arc<Redis>>,
    local: DashMap<TenantId, (Limits, Arc<LocalCell>)>,
    in_flight: DashMap<TenantId, (u32, Arc<Semaphore>)>,
}

/// The sustained spacing between requests for an hourly limit.
pub fn interval(limits: &Limits) -> Duration {
    Duration::from_secs(3600) / limits.requests_per_hour.max(1)
}

impl TenantLimiter {
    pub fn new(redis: Option<Arc<Redis>>) -> TenantLimiter {
        TenantLimiter {
            redis,
            local: DashMap::new(),
            in_flight: DashMap::new(),
        }
    }

    pub async fn check(&self, tenant: TenantId, limits: &Limits) -> Decision {
        let interval = interval(limits);
        if let Some(redis) = &self.redis {
            // The cell is named by its limits too: state built up under old limits (say, a
            // drained burst before an upgrade) must not carry over into new ones.
            let cell = format!("rl:{tenant}:{}:{}", limits.requests_per_hour, limits.burst);
            let tokens = counter_name(tenant, chrono::Utc::now().date_naive());
            if let Ok(o) = redis.gcra(&cell, &tokens, interval, limits.burst).await {
                return Decision {
                    allowed: o.allowed,
                    limit_per_hour: limits.requests_per_hour,
                    burst: limits.burst,
                    remaining: o.remaining,
                    retry_after: o.retry_after,
                    reset_after: o.reset_after,
                    source: LimitSource::Shared,
                    tokens_used: Some(o.tokens),
                };
            }
            metrics::counter!("openclaw_rate_limit_fallback_total").increment(1);
        }
        self.check_local(tenant, limits, interval)
    }

    fn check_local(&self, tenant: TenantId, limits: &Limits, interval: Duration) -> Decision {
        let cell = {
            let mut entry = self
                .local
                .entry(tenant)
                .or_insert_with(|| (*limits, local_cell(limits, interval)));
            if entry.0 != *limits {
                *entry = (*limits, local_cell(limits, interval));
            }
            entry.1.clone()
        };
        let base = Decision {
            allowed: true,
            limit_per_hour: limits.requests_per_hour,
            burst: limits.burst,
            remaining: 0,
            retry_after: Duration::ZERO,
            reset_after: Duration::ZERO,
            source: LimitSource::Local,
            tokens_used: None,
        };
        match cell.check() {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let missing = limits.burst.max(1).saturating_sub(remaining);
                Decision {
                    remaining,
                    reset_after: interval * missing,
                    ..base
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Decision {
                    allowed: false,
                    retry_after: wait,
                    reset_after: wait + interval * limits.burst.max(1).saturating_sub(1),
                    ..base
                }
            }
        }
    }

    /// A slot among the tenant's concurrent requests on this replica, or `None` when all are
    /// taken. The permit is released when dropped.
    pub fn try_acquire(&self, tenant: TenantId, cap: u32) -> Option<OwnedSemaphorePermit> {
        let sem = {
            let mut entry = self
                .in_flight
                .entry(tenant)
                .or_insert_with(|| (cap, Arc::new(Semaphore::new(cap as usize))));
            if entry.0 != cap {
                // A changed cap takes effect for new requests; in-flight ones finish on the old.
                *entry = (cap, Arc::new(Semaphore::new(cap as usize)));
            }
            entry.1.clone()
        };
        sem.try_acquire_owned().ok()
    }
}

fn local_cell(limits: &Limits, interval: Duration) -> Arc<LocalCell> {
    let burst = NonZeroU32::new(limits.burst.max(1)).expect("non-zero");
    let quota = Quota::with_period(interval.max(Duration::from_nanos(1)))
        .expect("non-zero period")
        .allow_burst(burst);
    Arc::new(RateLimiter::direct(quota).with_middleware::<StateInformationMiddleware>())
}

/// This replica's WebSocket connections per tenant: the cap while Redis is absent or down (the
/// shared count, in Redis, is `openclaw_store::redis`'s).
#[derive(Default)]
pub struct Connections {
    local: DashMap<TenantId, u32>,
}

impl Connections {
    /// Counts a connection of `tenant` here if it has fewer than `cap` (`cap`: `None` counts
    /// it whatever the number, the shared count having admitted it).
    pub(crate) fn admit(&self, tenant: TenantId, cap: Option<u32>) -> bool {
        let mut n = self.local.entry(tenant).or_insert(0);
        if cap.is_some_and(|cap| *n >= cap) {
            return false;
        }
        *n += 1;
        true
    }

    pub(crate) fn leave(&self, tenant: TenantId) {
        if let Some(mut n) = self.local.get_mut(&tenant) {
            *n = n.saturating_sub(1);
        }
        self.local.remove_if(&tenant, |_, n| *n == 0);
    }
}

/// WebSocket sockets still waiting for their `auth` frame, counted per client address and in
/// all on this replica: each costs a task and buffers before anyone is known to pay for it.
#[derive(Default)]
pub struct Unauthenticated {
    total: std::sync::atomic::AtomicUsize,
    per_address: DashMap<std::net::IpAddr, usize>,
}

impl Unauthenticated {
    /// Counts one more from `ip` if neither its address nor the replica is at its cap.
    pub(crate) fn admit(
        self: &std::sync::Arc<Self>,
        ip: std::net::IpAddr,
        per_address: usize,
        total: usize,
    ) -> Option<Anonymous> {
        use std::sync::atomic::Ordering;
        let mut n = self.per_address.entry(ip).or_insert(0);
        if *n >= per_address {
            return None;
        }
        if self.total.fetch_add(1, Ordering::SeqCst) >= total {
            self.total.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        *n += 1;
        Some(Anonymous {
            registry: self.clone(),
            ip,
        })
    }
}

/// One unauthenticated socket's place; given back when it authenticates or closes.
pub struct Anonymous {
    registry: std::sync::Arc<Unauthenticated>,
    ip: std::net::IpAddr,
}

impl Drop for Anonymous {
    fn drop(&mut self) {
        let r = &self.registry;
        r.total.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        if let Some(mut n) = r.per_address.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
        }
        r.per_address.remove_if(&self.ip, |_, n| *n == 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_domain::Tier;

    #[test]
    fn unauthenticated_sockets_are_capped_per_address_and_in_all() {
        let r = std::sync::Arc::new(Unauthenticated::default());
        let a: std::net::IpAddr = "10.0.0.1".parse().unwrap();
        let b: std::net::IpAddr = "10.0.0.2".parse().unwrap();
        let first = r.admit(a, 2, 3).unwrap();
        let _second = r.admit(a, 2, 3).unwrap();
        assert!(r.admit(a, 2, 3).is_none(), "the address is at its cap");
        let _third = r.admit(b, 2, 3).unwrap();
        assert!(r.admit(b, 2, 3).is_none(), "the replica is at its cap");
        drop(first);
        assert!(
            r.admit(b, 2, 3).is_some(),
            "a closed socket gives its place back"
        );
    }

    #[tokio::test]
    async fn local_cell_allows_the_burst_then_refuses() {
        let limiter = TenantLimiter::new(None);
        let tenant = TenantId::new();
        let limits = Limits {
            burst: 3,
            ..Tier::Free.limits()
        };
        let remaining: Vec<u32> =
            futures::future::join_all((0..3).map(|_| limiter.check(tenant, &limits)))
                .await
                .into_iter()
                .map(|d| {
                    assert!(d.allowed);
                    d.remaining
                })
                .collect();
        assert_eq!(remaining, vec![2, 1, 0]);
        let refused = limiter.check(tenant, &limits).await;
        assert!(!refused.allowed);
        assert!(
            refused.retry_after > Duration::from_secs(3)
                && refused.retry_after <= Duration::from_secs(4)
        );
        assert_eq!(refused.source, LimitSource::Local);
    }

    #[test]
    fn concurrency_cap_is_per_tenant() {
        let limiter = TenantLimiter::new(None);
        let (a, b) = (TenantId::new(), TenantId::new());
        let held: Vec<_> = (0..2).map(|_| limiter.try_acquire(a, 2).unwrap()).collect();
        assert!(limiter.try_acquire(a, 2).is_none());
        assert!(limiter.try_acquire(b, 2).is_some());
        drop(held);
        assert!(limiter.try_acquire(a, 2).is_some());
    }
}

#[cfg(test)]
mod connection_tests {
    use super::*;

    #[test]
    fn local_connections_are_capped_and_empty_tenants_forgotten() {
        let hub = Connections::default();
        let t = TenantId::new();
        assert!(hub.admit(t, Some(2)));
        assert!(hub.admit(t, Some(2)));
        assert!(!hub.admit(t, Some(2)));
        assert!(hub.admit(t, None), "admitted by the shared count");
        assert_eq!(hub.local.get(&t).map(|n| *n), Some(3));
        for _ in 0..3 {
            hub.leave(t);
        }
        assert!(hub.local.is_empty());
    }
}
