//! fleetdeck against a simulated fleet that misbehaves the way AWS does on a
//! bad day: throttling, server errors and dropped connections; credentials
//! that run out in the middle of a sync; a tenant whose role was deleted; and
//! the laptop's own process killed mid-write. Each story ends with the cache
//! compared, row by row, with the cache a fault-free sync of the same fleet
//! at the same moment builds: nothing lost, nothing duplicated, no gaps.
//!
//! Every test starts its own simulated fleet and its own cache file. The
//! simulator's clock is frozen (except where credentials must really expire)
//! so that two syncs see exactly the same data.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use fleetdeck_engine::aws::AwsAccess;
use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::fleet::{Fleet, Model};
use fleetdeck_engine::model::{SyncProgress, SyncSummary};
use fleetdeck_engine::sync::{self, SyncOptions};
use fleetdeck_sim::{Faults, SimFleet, SimKnobs};
use sqlx::{Connection, Row};

use fleetdeck_testkit::world::{epoch_now, sim_settings as settings, World, SEED};

/// A small fleet: the first five tenants cover all five isolation models
/// and the three incidents; the rest follow the documented mix.
const TENANTS: usize = 8;

/// This file's own ways to start and drive a [`World`].
#[allow(async_fn_in_trait)]
trait Local {
    /// [`TENANTS`] tenants placed at `epoch`, with the built-in catalog.
    async fn start(epoch: i64) -> World;
    /// One whole sync at `now` into `cache`, with a fresh [`AwsAccess`].
    async fn sync(&self, cache: &Cache, now: i64) -> SyncSummary;
    async fn sync_with(
        &self,
        aws: &AwsAccess,
        cache: &Cache,
        now: i64,
        progress: &(dyn Fn(SyncProgress) + Send + Sync),
    ) -> SyncSummary;
    /// A fault-free sync of this fleet at the epoch, into a cache of its own:
    /// what every faulty run must end up equal to.
    async fn reference(&self, dir: &Path) -> Cache;
}

impl Local for World {
    /// [`TENANTS`] tenants placed at `epoch`, with the built-in catalog.
    async fn start(epoch: i64) -> World {
        World::start_with(TENANTS, Catalog::builtin().expect("built-in catalog"), epoch).await
    }

    /// One whole sync at `now` into `cache`, with a fresh [`AwsAccess`].
    async fn sync(&self, cache: &Cache, now: i64) -> SyncSummary {
        let aws = self.aws().await;
        self.sync_with(&aws, cache, now, &|_| {}).await
    }

    async fn sync_with(
        &self,
        aws: &AwsAccess,
        cache: &Cache,
        now: i64,
        progress: &(dyn Fn(SyncProgress) + Send + Sync),
    ) -> SyncSummary {
        sync::run(&self.fleet, &self.catalog, aws, cache, &SyncOptions::at(now), progress)
            .await
            .expect("sync::run returns Ok: a failing source never fails the sync")
    }

    /// A fault-free sync of this fleet at the epoch, into a cache of its own:
    /// what every faulty run must end up equal to.
    async fn reference(&self, dir: &Path) -> Cache {
        let cache = Cache::open(&dir.join("reference.sqlite")).await.expect("reference cache");
        let summary = self.sync(&cache, self.epoch).await;
        assert_eq!(summary.sources_failed, 0, "the fault-free sync itself failed: {:#?}", summary.errors);
        cache
    }
}

// ---------------------------------------------------------------------------
// The cache, by content

/// (tenant, region, metric key) of one logical series.
type SeriesName = (String, String, String);

/// Everything a sync brings into the cache that a user reads, by content
/// rather than by row id or sync time.
#[derive(Debug, Default, PartialEq)]
struct Content {
    /// Datapoints by series, then timestamp. Duplicates are counted apart
    /// (see [`Content::duplicates`]) since a map would fold them.
    points: BTreeMap<SeriesName, BTreeMap<i64, f64>>,
    alarms: Vec<Alarm>,
    logs: Vec<LogResult>,
    costs: Vec<CostDay>,
    /// The same (series, timestamp) stored more than once, with how often:
    /// under two series rows of one logical series, or twice in one.
    duplicates: Vec<(SeriesName, i64, i64)>,
}

#[derive(Debug, PartialEq)]
struct Alarm {
    tenant: String,
    region: String,
    name: String,
    state: String,
    reason: String,
    changed_at: Option<i64>,
    metric: Option<String>,
    threshold: Option<f64>,
}

#[derive(Debug, PartialEq)]
struct LogResult {
    tenant: String,
    region: String,
    query: String,
    window: (i64, i64),
    rows: String,
    matched: i64,
    truncated: bool,
    withheld: bool,
}

#[derive(Debug, PartialEq)]
struct CostDay {
    tenant: String,
    day: String,
    service: String,
    source: String,
    amount: f64,
    amortized: Option<f64>,
    unit: String,
    estimated: bool,
}

impl Content {
    async fn of(cache: &Cache) -> Content {
        let pool = cache.pool();
        let mut c = Content::default();
        let rows = sqlx::query(
            "SELECT s.tenant_id, s.region, s.metric_key, d.ts, d.value
             FROM datapoint d JOIN series s ON s.id = d.series_id ORDER BY 1, 2, 3, 4",
        )
        .fetch_all(pool)
        .await
        .expect("read datapoints");
        for r in &rows {
            let series = (r.get(0), r.get(1), r.get(2));
            c.points.entry(series).or_default().insert(r.get(3), r.get(4));
        }
        let dups = sqlx::query(
            "SELECT s.tenant_id, s.region, s.metric_key, d.ts, count(*)
             FROM datapoint d JOIN series s ON s.id = d.series_id
             GROUP BY 1, 2, 3, 4 HAVING count(*) > 1 ORDER BY 1, 2, 3, 4",
        )
        .fetch_all(pool)
        .await
        .expect("count duplicates");
        c.duplicates = dups.iter().map(|r| ((r.get(0), r.get(1), r.get(2)), r.get(3), r.get(4))).collect();
        c.alarms = sqlx::query(
            "SELECT tenant_id, region, name, state, reason, state_changed_at, metric_name, threshold
             FROM alarm ORDER BY tenant_id, region, name",
        )
        .fetch_all(pool)
        .await
        .expect("read alarms")
        .iter()
        .map(|r| Alarm {
            tenant: r.get(0),
            region: r.get(1),
            name: r.get(2),
            state: r.get(3),
            reason: r.get(4),
            changed_at: r.get(5),
            metric: r.get(6),
            threshold: r.get(7),
        })
        .collect();
        c.logs = sqlx::query(
            "SELECT tenant_id, region, query_key, window_start, window_end, rows, records_matched, truncated, withheld
             FROM log_result ORDER BY tenant_id, region, query_key",
        )
        .fetch_all(pool)
        .await
        .expect("read log results")
        .iter()
        .map(|r| LogResult {
            tenant: r.get(0),
            region: r.get(1),
            query: r.get(2),
            window: (r.get(3), r.get(4)),
            rows: r.get(5),
            matched: r.get(6),
            truncated: r.get(7),
            withheld: r.get(8),
        })
        .collect();
        c.costs = sqlx::query(
            "SELECT tenant_id, day, service, source, amount, amortized, unit, estimated
             FROM cost_daily ORDER BY tenant_id, day, service, source",
        )
        .fetch_all(pool)
        .await
        .expect("read cost")
        .iter()
        .map(|r| CostDay {
            tenant: r.get(0),
            day: r.get(1),
            service: r.get(2),
            source: r.get(3),
            amount: r.get(4),
            amortized: r.get(5),
            unit: r.get(6),
            estimated: r.get(7),
        })
        .collect();
        c
    }

    /// This content without anything of `tenant` (cost comes from the payer
    /// account and is kept whole).
    fn without_tenant(mut self, tenant: &str) -> Content {
        self.points.retain(|(t, _, _), _| t != tenant);
        self.alarms.retain(|a| a.tenant != tenant);
        self.logs.retain(|l| l.tenant != tenant);
        self.duplicates.retain(|((t, _, _), _, _)| t != tenant);
        self
    }

    fn point_count(&self) -> usize {
        self.points.values().map(BTreeMap::len).sum()
    }
}

/// Asserts `actual` holds exactly what `expected` holds, saying first what
/// a user would notice: duplicated points, then gaps, then wrong values,
/// then the other tables.
fn assert_same_content(actual: &Content, expected: &Content, story: &str) {
    assert!(!expected.points.is_empty(), "{story}: the reference cache has no datapoints at all");
    assert!(actual.duplicates.is_empty(), "{story}: points stored twice: {:?}", first(&actual.duplicates, 10));

    let mut gaps = Vec::new();
    let mut extra = Vec::new();
    let mut wrong = Vec::new();
    for (series, want) in &expected.points {
        let got = actual.points.get(series).cloned().unwrap_or_default();
        let missing: Vec<i64> = want.keys().filter(|ts| !got.contains_key(ts)).copied().collect();
        if !missing.is_empty() {
            gaps.push((series.clone(), missing.len(), first(&runs(&missing), 5)));
        }
        for (ts, v) in &got {
            match want.get(ts) {
                None => extra.push((series.clone(), *ts)),
                Some(w) if w.to_bits() != v.to_bits() => wrong.push((series.clone(), *ts, *v, *w)),
                Some(_) => {}
            }
        }
    }
    for series in actual.points.keys().filter(|s| !expected.points.contains_key(*s)) {
        extra.push((series.clone(), i64::MIN));
    }
    assert!(
        gaps.is_empty(),
        "{story}: {} series have gaps (series, points missing, first missing ranges): {:?}",
        gaps.len(),
        first(&gaps, 5)
    );
    assert!(extra.is_empty(), "{story}: points the fault-free sync does not have: {:?}", first(&extra, 10));
    assert!(wrong.is_empty(), "{story}: values differ (series, ts, got, want): {:?}", first(&wrong, 10));
    assert_eq!(actual.point_count(), expected.point_count(), "{story}: datapoint count");

    assert_eq!(actual.alarms, expected.alarms, "{story}: alarms differ");
    assert_eq!(actual.logs, expected.logs, "{story}: Logs Insights results differ");
    assert_eq!(actual.costs, expected.costs, "{story}: daily cost differs");
}

fn first<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    items.iter().take(n).cloned().collect()
}

/// Consecutive one-minute timestamps folded into (from, to) ranges.
fn runs(ts: &[i64]) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &t in ts {
        match out.last_mut() {
            Some((_, to)) if t - *to <= 60 => *to = t,
            _ => out.push((t, t)),
        }
    }
    out
}

/// Every (tenant, region, source) status the cache holds.
async fn statuses(cache: &Cache) -> Vec<(String, String, String, String, Option<String>)> {
    sqlx::query("SELECT tenant_id, region, source, status, error FROM source_status ORDER BY 1, 2, 3")
        .fetch_all(cache.pool())
        .await
        .expect("read source status")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

fn not_ok(statuses: &[(String, String, String, String, Option<String>)]) -> Vec<String> {
    statuses
        .iter()
        .filter(|s| s.3 != "ok")
        .map(|(t, r, s, st, e)| format!("{t} {r} {s}: {st} ({})", e.as_deref().unwrap_or("")))
        .collect()
}

/// Requests the simulator received for `action`, and how many it faulted.
fn received(sim: &SimFleet, action: &str) -> (u64, u64) {
    sim.requests().iter().filter(|r| r.action == action).fold((0, 0), |(n, f), r| (n + r.count, f + r.faulted))
}

/// Requests signed by each account's identity (AssumeRole is counted under
/// the base identity's account, not the role's).
fn by_account(sim: &SimFleet) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for r in sim.requests() {
        *out.entry(r.account).or_default() += r.count;
    }
    out
}

fn total_requests(sim: &SimFleet) -> u64 {
    sim.requests().iter().map(|r| r.count).sum()
}

// ---------------------------------------------------------------------------
// 1. Throttling, server errors, dropped connections

mod stories;
