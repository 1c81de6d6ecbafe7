//! Each tenant's tokens of the (UTC) day, against its `tokens_per_day`: a counter in Redis that
//! every replica adds to when a run ends (`INCRBY`) and reads for free inside each request's
//! rate-limit call, mirrored here so checks and headers cost no round trip. Without Redis (or
//! while it is down) each replica counts what it sees itself.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use dashmap::DashMap;
use openclaw_domain::{Error, ErrorKind, TenantId};
use openclaw_store::redis::Redis;
use serde_json::json;

#[derive(Debug, Clone, Copy)]
struct Count {
    day: NaiveDate,
    used: u64,
}

pub struct TokenQuota {
    redis: Option<Arc<Redis>>,
    counts: DashMap<TenantId, Count>,
}

/// The Redis counter of `tenant`'s tokens on `day`.
pub fn counter_name(tenant: TenantId, day: NaiveDate) -> String {
    format!("tok:{tenant}:{}", day.format("%Y%m%d"))
}

/// Until the next UTC midnight, when the daily quota starts afresh.
pub fn until_midnight(now: DateTime<Utc>) -> Duration {
    let tomorrow = now.date_naive().succ_opt().unwrap_or(now.date_naive());
    let midnight = tomorrow.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    (midnight - now).to_std().unwrap_or_default()
}

impl TokenQuota {
    pub fn new(redis: Option<Arc<Redis>>) -> TokenQuota {
        TokenQuota {
            redis,
            counts: DashMap::new(),
        }
    }

    /// Tokens the tenant has used today, as far as this replica knows.
    pub fn used(&self, tenant: TenantId) -> u64 {
        let today = Utc::now().date_naive();
        self.counts
            .get(&tenant)
            .filter(|c| c.day == today)
            .map_or(0, |c| c.used)
    }

    /// What the shared counter said (read with a request's rate-limit call). Counts only grow
    /// within a day, so the larger figure is the fresher.
    pub fn observe(&self, tenant: TenantId, used: u64) {
        let today = Utc::now().date_naive();
        let mut c = self.counts.entry(tenant).or_insert(Count {
            day: today,
            used: 0,
        });
        if c.day != today {
            *c = Count { day: today, used };
        } else {
            c.used = c.used.max(used);
        }
    }

    /// Counts a run's tokens on this replica, at once (before its answer goes out, so the
    /// answer's own quota headers include them).
    pub fn count(&self, tenant: TenantId, tokens: u64) {
        let today = Utc::now().date_naive();
        let mut c = self.counts.entry(tenant).or_insert(Count {
            day: today,
            used: 0,
        });
        if c.day != today {
            *c = Count {
                day: today,
                used: 0,
            };
        }
        c.used += tokens;
    }

    /// Adds what `count` counted to the shared counter, for the other replicas (one `INCRBY`,
    /// after the answer).
    pub async fn share(&self, tenant: TenantId, tokens: u64) {
        let Some(redis) = self.redis.as_ref().filter(|_| tokens > 0) else {
            return;
        };
        let today = Utc::now().date_naive();
        // Kept a day past its own, so a late reader still finds yesterday's total.
        let ttl = Duration::from_secs(2 * 86_400);
        if let Ok(total) = redis
            .add_tokens(&counter_name(tenant, today), tokens, ttl)
            .await
        {
            self.observe(tenant, total);
        }
    }

    /// The 429 of a tenant whose tokens of the day reached `limit`; `None` while some are left.
    pub fn check(&self, tenant: TenantId, limit: u64, spending: u64) -> Result<(), Error> {
        let used = self.used(tenant) + spending;
        if used < limit {
            return Ok(());
        }
        let now = Utc::now();
        let wait = until_midnight(now);
        let reset_at = now + chrono::Duration::from_std(wait).unwrap_or_default();
        Err(Error::new(
            ErrorKind::RateLimited,
            format!(
                "The daily token quota ({limit} tokens) is used up; it starts afresh at midnight UTC."
            ),
        )
        .with_details(json!({
            "quota": "tokens_per_day",
            "limit": limit,
            "used": used,
            "remaining": 0,
            "reset_at": reset_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "retry_after": wait.as_secs().max(1),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midnight_is_utc() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T23:59:30Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(until_midnight(now), Duration::from_secs(30));
    }

    #[test]
    fn a_spent_quota_is_a_429_until_midnight() {
        let quota = TokenQuota::new(None);
        let tenant = TenantId::new();
        quota.observe(tenant, 90);
        assert!(quota.check(tenant, 100, 9).is_ok());
        let refused = quota.check(tenant, 100, 10).unwrap_err();
        assert_eq!(refused.kind, ErrorKind::RateLimited);
        assert_eq!(refused.details["used"], 100);
        // A shared figure lower than what this replica counted is older: the count stays.
        quota.observe(tenant, 50);
        assert_eq!(quota.used(tenant), 90);
    }
}
