//! Pacing under AWS quotas. Each account-region has its own quota per API
//! (GetMetricData 50/s, DescribeAlarms 9/s, Logs Insights 30 concurrent
//! queries...). fleetdeck keeps itself under them with a token bucket per
//! (account, region, action) instead of bouncing off ThrottlingException and
//! retrying, which wastes calls and time and starves other clients of the
//! same account. Pure bookkeeping: time is passed in by the async wrapper.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Requests per second fleetdeck allows itself per account-region: 80% of
/// AWS's documented default quota, leaving room for other clients.
pub fn rate_for(action: &str) -> f64 {
    let quota = match action {
        "cloudwatch:GetMetricData" => 50.0,
        "cloudwatch:DescribeAlarms" => 9.0,
        "cloudwatch:DescribeAlarmHistory" => 5.0,
        "logs:StartQuery" | "logs:GetQueryResults" | "logs:StopQuery" => 5.0,
        "logs:DescribeLogGroups" => 10.0,
        "ce:GetCostAndUsage" => 5.0,
        // AWS publishes no per-action rate for Organizations reads; the SDK
        // retries TooManyRequestsException with backoff if this is too high.
        "organizations:ListAccounts" => 2.0,
        "organizations:ListTagsForResource" => 10.0,
        "sts:AssumeRole" => 100.0,
        // No published rate either; read every few hours, one page a call.
        "tag:GetResources" => 5.0,
        _ => 5.0,
    };
    quota * 0.8
}

/// Logs Insights runs at most 30 queries at once per account-region.
pub const LOGS_CONCURRENT_QUERIES: usize = 25;

/// A token bucket: `rate` tokens a second, holding at most `burst`.
#[derive(Debug, Clone)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Take a token at `now`; returns how long to wait before using it.
    fn take(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// All buckets of a session, and the Logs Insights concurrency limits.
#[derive(Debug, Default)]
pub struct Pacer {
    buckets: Mutex<HashMap<(String, String, &'static str), Bucket>>,
    queries: Mutex<HashMap<(String, String), Arc<Semaphore>>>,
}

impl Pacer {
    /// Wait until a call of `action` in this account-region is within quota.
    pub async fn wait(&self, account: &str, region: &str, action: &'static str) {
        let delay =
            {
                let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
                let rate = rate_for(action);
                // A burst of one second's worth: a short burst is within AWS's
                // quota (it is enforced per second), a long one is not.
                let bucket = buckets.entry((account.to_string(), region.to_string(), action)).or_insert_with(|| {
                    Bucket { rate, burst: rate.max(1.0), tokens: rate.max(1.0), at: Instant::now() }
                });
                bucket.take(Instant::now())
            };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }

    /// A slot for one running Logs Insights query in this account-region.
    pub async fn query_slot(&self, account: &str, region: &str) -> tokio::sync::OwnedSemaphorePermit {
        let sem = {
            let mut q = self.queries.lock().unwrap_or_else(|e| e.into_inner());
            q.entry((account.to_string(), region.to_string()))
                .or_insert_with(|| Arc::new(Semaphore::new(LOGS_CONCURRENT_QUERIES)))
                .clone()
        };
        // The semaphore is never closed, so acquiring cannot fail.
        sem.acquire_owned().await.expect("logs query semaphore is never closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_a_burst_then_paces_at_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket { rate: 40.0, burst: 40.0, tokens: 40.0, at: t0 };
        for _ in 0..40 {
            assert_eq!(b.take(t0), Duration::ZERO);
        }
        // The 41st call in the same instant waits one token's time.
        assert_eq!(b.take(t0), Duration::from_secs_f64(1.0 / 40.0));
        // Over any later second, no more than `rate` calls pass unpaced.
        let t1 = t0 + Duration::from_secs(1);
        let passed = (0..100).filter(|_| b.take(t1).is_zero()).count();
        assert!(passed <= 40, "{passed}");
    }

    #[test]
    fn every_action_fleetdeck_calls_is_paced_below_its_quota() {
        for action in crate::aws::READ_ACTIONS.iter().chain(&["sts:AssumeRole"]) {
            let r = rate_for(action);
            assert!(r > 0.0 && r < 100.0, "{action}: {r}");
        }
        assert_eq!(rate_for("cloudwatch:GetMetricData"), 40.0);
    }

    #[tokio::test]
    async fn sixty_calls_at_forty_a_second_take_at_least_half_a_second_and_other_regions_do_not_wait() {
        let p = Pacer::default();
        let start = Instant::now();
        for _ in 0..60 {
            p.wait("111111111111", "us-east-1", "cloudwatch:GetMetricData").await;
        }
        let took = start.elapsed();
        // 40 pass at once (the burst), 20 more at 40/s: 0.5 s at least.
        assert!(took >= Duration::from_millis(490), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        let other = Instant::now();
        for _ in 0..40 {
            p.wait("111111111111", "eu-west-1", "cloudwatch:GetMetricData").await;
        }
        assert!(other.elapsed() < Duration::from_millis(200), "each account-region has its own quota");
    }
}
