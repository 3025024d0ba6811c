//! The sync planner: turns the fleet and the catalog into the fewest
//! GetMetricData calls. A call carries up to 500 queries and returns up to
//! 100,800 datapoints, so queries of one account-region (same credentials)
//! that start at the same time are packed together; a window longer than one
//! call can return is split. Pure: time and the watermarks are passed in.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::clock::MINUTE;

/// CloudWatch's limits for one GetMetricData call.
pub const MAX_QUERIES_PER_CALL: usize = 500;
pub const MAX_POINTS_PER_CALL: u64 = 100_800;

/// Who the calls are made as, and where.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    pub account: String,
    pub role_arn: String,
    pub external_id: Option<String>,
    pub region: String,
}

impl Target {
    /// The monitoring account's role in `region` (`[monitoring]`).
    pub fn monitoring(m: &crate::fleet::Monitoring, region: &str) -> Target {
        Target {
            account: m.account.clone(),
            role_arn: m.role_arn.clone(),
            external_id: m.external_id.clone(),
            region: region.to_string(),
        }
    }
}

/// One series to read: where, what, and from when.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRead {
    /// Shared by the tenant-region's series (one copy of its strings).
    pub target: Arc<Target>,
    pub series_id: i64,
    pub period: u32,
    /// Epoch seconds, period-aligned: the first timestamp wanted.
    pub start: i64,
    /// Queries it takes in a call: one per resource it sums up (a tenant
    /// found by its tag with two load balancers reads each).
    pub queries: u32,
}

/// One GetMetricData call (before NextToken paging, which only happens when
/// CloudWatch itself decides to split).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricCall {
    pub target: Target,
    pub start: i64,
    pub end: i64,
    /// Indexes into the reads passed to [`pack`].
    pub reads: Vec<usize>,
}

impl MetricCall {
    pub fn points(&self, reads: &[SeriesRead]) -> u64 {
        self.reads.iter().map(|&i| points(self.start, self.end, reads[i].period) * u64::from(reads[i].queries)).sum()
    }

    /// Queries it carries (the 500 a call allows).
    pub fn queries(&self, reads: &[SeriesRead]) -> usize {
        self.reads.iter().map(|&i| reads[i].queries as usize).sum()
    }
}

/// Datapoints a query returns at most over [start, end).
pub fn points(start: i64, end: i64, period: u32) -> u64 {
    if end <= start {
        return 0;
    }
    ((end - start) as u64).div_ceil(period as u64)
}

/// Where a series' next read starts: its watermark minus `overlap` (late
/// datapoints), never before `now - backfill`, aligned down to its period.
pub fn start_for(watermark: Option<i64>, now: i64, backfill: i64, overlap: i64, period: u32) -> i64 {
    let floor = now - backfill;
    let s = match watermark {
        Some(w) => (w - overlap).max(floor),
        None => floor,
    };
    s - s.rem_euclid(period as i64)
}

/// The end of every read: the last complete minute.
pub fn end_for(now: i64) -> i64 {
    now - now.rem_euclid(MINUTE)
}

/// Pack reads into calls: grouped by target and start, filled greedily up to
/// both limits. Windows too long for a single query are split in time.
pub fn pack(reads: &[SeriesRead], end: i64) -> Vec<MetricCall> {
    let mut groups: BTreeMap<(&Target, i64), Vec<usize>> = BTreeMap::new();
    for (i, r) in reads.iter().enumerate() {
        if r.start < end {
            groups.entry((&*r.target, r.start)).or_default().push(i);
        }
    }
    let mut calls = Vec::new();
    for ((target, start), members) in groups {
        // The longest period bounds how far one call's window may reach.
        let min_period = members.iter().map(|&i| reads[i].period).min().unwrap_or(60) as i64;
        let max_span = MAX_POINTS_PER_CALL as i64 * min_period;
        let mut window_start = start;
        while window_start < end {
            let window_end = (window_start + max_span).min(end);
            let mut current: Vec<usize> = Vec::new();
            let mut current_points = 0u64;
            let mut current_queries = 0usize;
            for &i in &members {
                let q = reads[i].queries as usize;
                let p = points(window_start, window_end, reads[i].period) * q as u64;
                if !current.is_empty()
                    && (current_queries + q > MAX_QUERIES_PER_CALL || current_points + p > MAX_POINTS_PER_CALL)
                {
                    calls.push(MetricCall {
                        target: target.clone(),
                        start: window_start,
                        end: window_end,
                        reads: std::mem::take(&mut current),
                    });
                    current_points = 0;
                    current_queries = 0;
                }
                current.push(i);
                current_points += p;
                current_queries += q;
            }
            if !current.is_empty() {
                calls.push(MetricCall { target: target.clone(), start: window_start, end: window_end, reads: current });
            }
            window_start = window_end;
        }
    }
    calls
}

/// The fewest calls any packing could make for these reads (the benchmark's
/// denominator): per group, the larger of the query-count and point bounds.
pub fn minimum_calls(reads: &[SeriesRead], end: i64) -> u64 {
    let mut groups: BTreeMap<(&Target, i64), (u64, u64)> = BTreeMap::new();
    for r in reads.iter().filter(|r| r.start < end) {
        let g = groups.entry((&*r.target, r.start)).or_default();
        g.0 += u64::from(r.queries);
        g.1 += points(r.start, end, r.period) * u64::from(r.queries);
    }
    groups.values().map(|&(n, p)| n.div_ceil(MAX_QUERIES_PER_CALL as u64).max(p.div_ceil(MAX_POINTS_PER_CALL))).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{DAY, HOUR};

    fn target(account: &str, region: &str) -> Target {
        Target {
            account: account.into(),
            role_arn: format!("arn:aws:iam::{account}:role/r"),
            external_id: None,
            region: region.into(),
        }
    }

    fn reads(n: usize, t: &Target, start: i64) -> Vec<SeriesRead> {
        (0..n)
            .map(|i| SeriesRead { target: Arc::new(t.clone()), series_id: i as i64, period: 60, start, queries: 1 })
            .collect()
    }

    #[test]
    fn a_day_of_minutes_for_many_series_fills_calls_to_the_point_limit() {
        let t = target("111111111111", "us-east-1");
        let end = 100 * DAY;
        let start = end - DAY;
        let r = reads(300, &t, start); // 300 x 1440 = 432,000 points
        let calls = pack(&r, end);
        assert_eq!(calls.len(), 5); // 70 queries (100,800 points) a call
        assert!(calls.iter().all(|c| c.points(&r) <= MAX_POINTS_PER_CALL && c.queries(&r) <= MAX_QUERIES_PER_CALL));
        assert_eq!(calls.iter().map(|c| c.reads.len()).sum::<usize>(), 300);
        assert_eq!(minimum_calls(&r, end), 5);
    }

    #[test]
    fn a_series_summed_over_several_resources_takes_a_query_each() {
        let t = target("111111111111", "us-east-1");
        let mut r = reads(300, &t, 0);
        for read in &mut r {
            read.queries = 2;
        }
        let calls = pack(&r, 3600);
        assert_eq!(calls.iter().map(|c| c.queries(&r)).collect::<Vec<_>>(), vec![500, 100]);
        assert_eq!(minimum_calls(&r, 3600), 2);
    }

    #[test]
    fn a_short_resync_packs_500_queries_a_call() {
        let t = target("111111111111", "us-east-1");
        let end = 1_000_000 * 60;
        let r = reads(1200, &t, end - 15 * MINUTE);
        let calls = pack(&r, end);
        assert_eq!(calls.iter().map(|c| c.reads.len()).collect::<Vec<_>>(), vec![500, 500, 200]);
    }

    #[test]
    fn different_accounts_regions_and_starts_never_share_a_call() {
        let a = target("111111111111", "us-east-1");
        let b = target("111111111111", "eu-west-1");
        let c = target("222222222222", "us-east-1");
        let mut r = reads(2, &a, 0);
        r.extend(reads(2, &b, 0));
        r.extend(reads(2, &c, 0));
        r.extend(reads(2, &a, 600));
        let calls = pack(&r, HOUR);
        assert_eq!(calls.len(), 4);
        for call in &calls {
            assert!(call.reads.iter().all(|&i| *r[i].target == call.target && r[i].start == call.start));
        }
    }

    #[test]
    fn a_window_longer_than_one_call_is_split_in_time() {
        let t = target("111111111111", "us-east-1");
        let r = reads(1, &t, 0);
        let end = 200_000 * 60; // 200,000 one-minute points
        let calls = pack(&r, end);
        assert_eq!(calls.len(), 2);
        assert_eq!((calls[0].start, calls[0].end, calls[1].end), (0, 100_800 * 60, end));
    }

    #[test]
    fn resync_starts_at_the_watermark_minus_overlap_and_never_before_the_backfill() {
        assert_eq!(start_for(Some(10_000), 10_030, DAY, 600, 60), 9_360);
        assert_eq!(start_for(None, 100_000, HOUR, 600, 60), 96_360);
        assert_eq!(start_for(Some(10), 100_000, HOUR, 600, 60), 96_360);
        assert_eq!(end_for(125), 120);
    }
}
