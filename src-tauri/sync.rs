//! One sync: credentials -> metrics -> alarms -> logs -> cost -> peers ->
//! health.
//! Every step is idempotent (upserts on natural keys, watermarks committed
//! with the points they cover) and a failed source is recorded with its
//! classified error while the rest carries on. Each series' anomaly
//! detector scores its new points as they are committed ([`crate::analysis`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use aws_sdk_sts::config::SharedCredentialsProvider;
use futures::stream::{self, StreamExt};

use crate::analysis::{self, SeriesMeta};
use crate::aws::{AwsAccess, Failure};
use crate::cache::{Cache, CacheError, LogResult, PointBatch, ScoredSeries, SeriesKey, SourceState};
use crate::catalog::{Catalog, MetricSpec};
use crate::collect::{self, CostGrouping, QuerySpec};
use crate::fleet::{Fleet, Tenant};
use crate::model::{SyncProgress, SyncSummary};
use crate::plan::{self, SeriesRead, Target};

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Epoch seconds; passed in so tests are exact.
    pub now: i64,
    /// How far back a series with no watermark is read.
    pub backfill_secs: i64,
    /// Re-read this much before the watermark: CloudWatch datapoints arrive late.
    pub overlap_secs: i64,
    /// Logs Insights window.
    pub logs_window_secs: i64,
    /// Calls in flight at once across the fleet.
    pub concurrency: usize,
    /// Cost Explorer costs $0.01 a request and refreshes its data about once
    /// a day: read it at most this often.
    pub cost_every_secs: i64,
    /// A healthy tenant-region's triage queries are re-run this often; an
    /// unhealthy one's on every sync (see `logs_due`).
    pub logs_every_secs: i64,
    /// Logs Insights jobs in flight at once: each mostly waits for its
    /// query to finish, so far more than `concurrency`.
    pub logs_concurrency: usize,
}

impl SyncOptions {
    pub fn at(now: i64) -> SyncOptions {
        SyncOptions {
            now,
            backfill_secs: 24 * 3600,
            overlap_secs: 10 * 60,
            logs_window_secs: 3600,
            // Calls in flight across the fleet. Each account-region is
            // paced under its own quotas; on the F200 benchmark (2 cores) 8
            // beat 32, whose answers queue for the CPU instead (55 s vs 70 s).
            concurrency: 8,
            cost_every_secs: 6 * 3600,
            logs_every_secs: 15 * 60,
            logs_concurrency: 64,
        }
    }
}

/// Below this many points per GetMetricData call on average, the metrics
/// phase runs twice `concurrency` calls at once.
const SMALL_CALL_POINTS: u64 = 20_000;

pub type Progress<'a> = &'a (dyn Fn(SyncProgress) + Send + Sync);

/// The tenant-regions a call covered, and how it went.
type Scoped = (Vec<(String, String)>, Result<(), Failure>);

/// What a metric read asks CloudWatch for, whose it is, and the catalog
/// entry it answers (for the anomalies found in it).
type ReadSpec<'a> = (QuerySpec, &'a Tenant, String, &'a MetricSpec);

struct Run<'a> {
    fleet: &'a Fleet,
    catalog: &'a Catalog,
    aws: &'a AwsAccess,
    cache: &'a Cache,
    opts: &'a SyncOptions,
    progress: Progress<'a>,
    done: AtomicU32,
    total: AtomicU32,
    ok: AtomicU32,
    failed: AtomicU32,
    points: AtomicU64,
    /// Points and series scored for anomalies, and episodes new or updated.
    scored_points: AtomicU64,
    scored_series: AtomicU64,
    episodes: AtomicU64,
    errors: Mutex<Vec<String>>,
    /// Source statuses recorded and not yet written ([`Run::flush`]).
    pending: Mutex<Vec<SourceState>>,
    /// The newest Cost Explorer day fetched that can no longer change.
    closed_through: Mutex<Option<String>>,
}

impl Run<'_> {
    fn now_ms(&self) -> i64 {
        self.opts.now * 1000
    }

    fn step(&self, phase: &str, message: String) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        (self.progress)(SyncProgress { phase: phase.into(), done, total: self.total.load(Ordering::Relaxed), message });
    }

    async fn record(
        &self,
        tenant: &str,
        region: &str,
        source: &str,
        result: Result<(), &Failure>,
    ) -> Result<(), CacheError> {
        let state = match result {
            Ok(()) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                SourceState {
                    tenant_id: tenant.into(),
                    region: region.into(),
                    source: source.into(),
                    status: "ok".into(),
                    error: None,
                    remediation: None,
                    last_ok: None,
                }
            }
            Err(f) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.errors.lock().unwrap_or_else(|e| e.into_inner()).push(format!(
                    "{tenant} {region} {source}: {} ({})",
                    f.status.replace('_', " "),
                    f.message
                ));
                SourceState {
                    tenant_id: tenant.into(),
                    region: region.into(),
                    source: source.into(),
                    status: f.status.into(),
                    error: Some(f.message.clone()),
                    remediation: Some(f.remediation.clone()),
                    last_ok: None,
                }
            }
        };
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).push(state);
        Ok(())
    }

    /// Write the statuses recorded so far, in one transaction. Each phase
    /// ends with one.
    async fn flush(&self) -> Result<(), CacheError> {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        self.cache.put_sources(&pending, self.now_ms()).await
    }
}

fn failed_source(tenant: &str, region: &str, source: &str, f: &Failure) -> SourceState {
    SourceState {
        tenant_id: tenant.into(),
        region: region.into(),
        source: source.into(),
        status: f.status.into(),
        error: Some(format!("not read: no credentials ({})", f.message)),
        remediation: Some(f.remediation.clone()),
        last_ok: None,
    }
}

fn target(t: &Tenant, region: &str) -> Target {
    Target {
        account: t.account.clone(),
        role_arn: t.role_arn.clone(),
        external_id: t.external_id.clone(),
        region: region.to_string(),
    }
}

/// Run one sync of the whole fleet into the cache.
pub async fn run(
    fleet: &Fleet,
    catalog: &Catalog,
    aws: &AwsAccess,
    cache: &Cache,
    opts: &SyncOptions,
    progress: Progress<'_>,
) -> Result<SyncSummary, CacheError> {
    // Calls made between syncs (none, normally) are not this sync's.
    aws.ledger.drain();
    // An outage seen by the last sync is this one's to find again, or not.
    aws.reach.reset();
    let run = Run {
        fleet,
        catalog,
        aws,
        cache,
        opts,
        progress,
        done: AtomicU32::new(0),
        total: AtomicU32::new(0),
        ok: AtomicU32::new(0),
        failed: AtomicU32::new(0),
        points: AtomicU64::new(0),
        scored_points: AtomicU64::new(0),
        scored_series: AtomicU64::new(0),
        episodes: AtomicU64::new(0),
        errors: Mutex::default(),
        pending: Mutex::default(),
        closed_through: Mutex::default(),
    };
    let run = &run;
    cache.record_fleet(fleet).await?;

    // 1. Credentials, once per role.
    let mut roles: BTreeMap<(String, Option<String>), Vec<&Tenant>> = BTreeMap::new();
    for t in &fleet.tenants {
        roles.entry((t.role_arn.clone(), t.external_id.clone())).or_default().push(t);
    }
    run.total.store(roles.len() as u32, Ordering::Relaxed);
    let checks: Vec<_> = roles.keys().map(|(arn, ext)| assume(run, arn, ext.as_deref())).collect();
    let checked: Vec<(SharedCredentialsProvider, Result<(), Failure>)> =
        stream::iter(checks).buffered(opts.concurrency).collect().await;
    let checked = roles.keys().cloned().zip(checked).map(|(k, (p, r))| (k, p, r));
    let mut creds: HashMap<(String, Option<String>), SharedCredentialsProvider> = HashMap::new();
    for (key, provider, result) in checked {
        for t in &roles[&key] {
            run.record(&t.id, "*", "credentials", result.as_ref().map(|_| ())).await?;
            // Without credentials nothing else of this tenant was read: its
            // sources say so instead of keeping an earlier sync's "ok".
            if let Err(f) = &result {
                for region in t.regions() {
                    for source in ["metrics", "alarms", "logs"] {
                        run.pending
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(failed_source(&t.id, region, source, f));
                    }
                }
            }
        }
        if result.is_ok() {
            creds.insert(key, provider);
        }
    }
    run.flush().await?;
    let reachable: Vec<&Tenant> =
        fleet.tenants.iter().filter(|t| creds.contains_key(&(t.role_arn.clone(), t.external_id.clone()))).collect();
    let creds = &creds;
    let provider_for = |t: &Target| creds[&(t.role_arn.clone(), t.external_id.clone())].clone();

    // 2. Plan the metric reads.
    let end = plan::end_for(opts.now);
    let mut reads: Vec<SeriesRead> = Vec::new();
    let known = cache.known_series().await?;
    let mut new_series: Vec<(usize, crate::cache::OwnedSeriesKey)> = Vec::new();
    let mut unconfigured: BTreeMap<(String, String), Failure> = BTreeMap::new();
    let mut specs: Vec<ReadSpec> = Vec::new();
    for t in &reachable {
        for region in t.regions() {
            for spec in catalog.metrics_for(t.model) {
                let dims: BTreeMap<String, String> = spec
                    .dimensions
                    .iter()
                    .filter_map(|d| t.selector.dimensions.get(d).map(|v| (d.clone(), v.clone())))
                    .collect();
                if dims.len() < spec.dimensions.len() {
                    // Only whole-account tenants get here (the fleet file
                    // demands the values elsewhere): say what to add.
                    let missing: Vec<&str> =
                        spec.dimensions.iter().map(String::as_str).filter(|d| !dims.contains_key(*d)).collect();
                    unconfigured.entry((t.id.clone(), region.to_string())).or_insert_with(|| Failure {
                        status: "not_configured",
                        message: format!("the fleet file gives no {} for this tenant's metrics", missing.join(", ")),
                        remediation: format!(
                            "add selector.dimensions = {{ {} }} to tenant {:?} in the fleet file",
                            missing.iter().map(|d| format!("{d} = \"...\"")).collect::<Vec<_>>().join(", "),
                            t.id
                        ),
                    });
                    continue;
                }
                let dims_json = serde_json::to_string(&dims).unwrap_or_default();
                let key = SeriesKey {
                    tenant_id: &t.id,
                    region,
                    metric_key: &spec.key,
                    namespace: &spec.namespace,
                    metric_name: &spec.name,
                    dimensions: &dims_json,
                    stat: &spec.stat,
                    period: spec.period,
                    unit: &spec.unit,
                };
                // Known series from one read; new ones (or a changed unit)
                // are written below, together.
                let (series_id, watermark) = match known.get(&key.identity()) {
                    Some((id, unit, watermark)) if unit == &spec.unit => (*id, *watermark),
                    _ => {
                        new_series.push((reads.len(), key.to_owned()));
                        (0, None)
                    }
                };
                reads.push(SeriesRead {
                    target: target(t, region),
                    series_id,
                    period: spec.period,
                    start: plan::start_for(watermark, opts.now, opts.backfill_secs, opts.overlap_secs, spec.period),
                });
                specs.push((
                    QuerySpec {
                        namespace: spec.namespace.clone(),
                        metric_name: spec.name.clone(),
                        dimensions: dims,
                        stat: spec.stat.clone(),
                        period: spec.period,
                    },
                    t,
                    region.to_string(),
                    spec,
                ));
            }
        }
    }
    let keys: Vec<SeriesKey<'_>> = new_series.iter().map(|(_, k)| k.as_key()).collect();
    for ((i, _), (id, watermark)) in new_series.iter().zip(cache.series_batch(&keys).await?) {
        reads[*i].series_id = id;
        reads[*i].start = plan::start_for(watermark, opts.now, opts.backfill_secs, opts.overlap_secs, reads[*i].period);
    }
    let calls = plan::pack(&reads, end);
    let (reads, specs) = (&reads, &specs);

    // Alarm and log jobs, so the progress total is known up front.
    let mut alarm_targets: BTreeMap<Target, Vec<(&Tenant, String)>> = BTreeMap::new();
    let mut log_jobs: Vec<(&Tenant, String)> = Vec::new();
    let logs_fresh = cache.logs_fresh(opts.now - opts.logs_every_secs, catalog.logs.len()).await?;
    for t in &reachable {
        for region in t.regions() {
            alarm_targets.entry(target(t, region)).or_default().push((t, region.to_string()));
            if !t.selector.log_groups.is_empty() && !logs_fresh.contains(&(t.id.clone(), region.to_string())) {
                log_jobs.push((t, region.to_string()));
            }
        }
    }
    let cost_due = match cache.meta("cost_synced_at").await?.and_then(|v| v.parse::<i64>().ok()) {
        Some(at) => opts.now - at >= opts.cost_every_secs,
        None => true,
    };
    let cost_calls = if fleet.payer_account.is_some() && cost_due { 2 } else { 0 };
    run.total.fetch_add((calls.len() + alarm_targets.len() + log_jobs.len() + cost_calls) as u32, Ordering::Relaxed);

    // 3-6. Metrics, alarms, logs and cost at once: they wait on different
    // quotas, and logs mostly on queries running in AWS.
    let (m, a, l, c) = tokio::join!(
        metrics_phase(run, &calls, reads, specs, &provider_for, &unconfigured),
        alarms_phase(run, &alarm_targets, &provider_for),
        logs_phase(run, &log_jobs, &provider_for),
        cost_phase(run, cost_due),
    );
    m?;
    a?;
    l?;
    c?;

    // 7. Health from what is now in the cache. The anomalies it reads were
    // found as the metric calls committed their points.
    (progress)(SyncProgress {
        phase: "analysis".into(),
        done: run.done.load(Ordering::Relaxed),
        total: run.total.load(Ordering::Relaxed),
        message: format!(
            "scored {} new points of {} series for anomalies ({} episodes new or continued); assessing health",
            run.scored_points.load(Ordering::Relaxed),
            run.scored_series.load(Ordering::Relaxed),
            run.episodes.load(Ordering::Relaxed)
        ),
    });
    // The fleet's series against each other (peer departures, fleet-wide
    // shifts), which health then reads.
    let peers = crate::peers::compute(cache, fleet, catalog, opts.now).await?;
    tracing::debug!(
        "peers: {} series compared, {} departures and {} fleet-wide shifts ongoing",
        peers.series,
        peers.departures,
        peers.shifts
    );
    crate::health::compute(cache, fleet, catalog, opts.now).await?;
    // The fleet's median lines for the buckets this sync's points fell in:
    // from the previous sync's window (or the backfill) on.
    let since = match cache.last_sync().await? {
        Some(last) => last.started_at / 1000 - opts.overlap_secs,
        None => opts.now - opts.backfill_secs,
    };
    crate::fleet_median::refresh(cache, since.min(opts.now - opts.overlap_secs)).await?;

    let calls = aws.ledger.drain();
    let summary = SyncSummary {
        started_at: run.now_ms(),
        finished_at: now_ms_wall(),
        sources_ok: run.ok.load(Ordering::Relaxed),
        sources_failed: run.failed.load(Ordering::Relaxed),
        datapoints: run.points.load(Ordering::Relaxed),
        api_calls: calls.iter().map(|c| c.calls).sum::<u64>() as u32,
        dollars: calls.iter().map(crate::aws::CallCount::dollars).sum(),
        errors: std::mem::take(&mut *run.errors.lock().unwrap_or_else(|e| e.into_inner())),
        unreachable: aws.reach.down().is_some(),
    };
    cache.record_sync(&summary, &calls).await?;
    // Retention last, in small transactions; everything above is committed
    // already, so a failure here costs only disk and is retried next sync.
    if let Err(e) = crate::housekeeping::enforce_retention(cache, &fleet.retention, opts.now).await {
        tracing::warn!("retention pass failed (retried at the next sync): {e}");
    }
    let total = run.total.load(Ordering::Relaxed);
    (progress)(SyncProgress {
        phase: "done".into(),
        done: total,
        total,
        message: format!("{} datapoints, {} sources failed", summary.datapoints, summary.sources_failed),
    });
    Ok(summary)
}

/// Packed GetMetricData calls, each committing its own points and
/// watermarks; then each tenant-region's metrics source.
async fn metrics_phase(
    run: &Run<'_>,
    calls: &[plan::MetricCall],
    reads: &[SeriesRead],
    specs: &[ReadSpec<'_>],
    provider_for: &(dyn Fn(&Target) -> SharedCredentialsProvider + Sync),
    unconfigured: &BTreeMap<(String, String), Failure>,
) -> Result<(), CacheError> {
    // Small calls (a re-sync's few minutes per series) wait on latency, big
    // ones (a backfill's) on the CPU committing them: more of the former in
    // flight. Measured on F200 (2 cores): 8 beat 32 for the backfill.
    let points: u64 = calls.iter().map(|c| c.points(reads)).sum();
    let in_flight = if points / (calls.len() as u64).max(1) < SMALL_CALL_POINTS {
        run.opts.concurrency * 2
    } else {
        run.opts.concurrency
    };
    let jobs: Vec<_> =
        calls.iter().map(|call| metric_call(run, call, reads, specs, provider_for(&call.target))).collect();
    let metric_results: Vec<Scoped> = stream::iter(jobs).buffer_unordered(in_flight).collect().await;
    // A tenant-region's metrics are ok only if every call covering it was.
    let mut metric_state: BTreeMap<(String, String), Result<(), Failure>> = BTreeMap::new();
    for (scope, result) in metric_results {
        for key in scope {
            let slot = metric_state.entry(key).or_insert(Ok(()));
            if let Err(f) = &result {
                *slot = Err(f.clone());
            }
        }
    }
    for ((tenant, region), result) in &metric_state {
        run.record(tenant, region, "metrics", result.as_ref().map(|_| ())).await?;
    }
    for ((tenant, region), failure) in unconfigured {
        if !metric_state.contains_key(&(tenant.clone(), region.clone())) {
            run.record(tenant, region, "metrics", Err(failure)).await?;
        }
    }
    run.flush().await
}

/// One paged DescribeAlarms per account-region, shared out to its tenants.
async fn alarms_phase(
    run: &Run<'_>,
    alarm_targets: &BTreeMap<Target, Vec<(&Tenant, String)>>,
    provider_for: &(dyn Fn(&Target) -> SharedCredentialsProvider + Sync),
) -> Result<(), CacheError> {
    let jobs: Vec<_> =
        alarm_targets.iter().map(|(target, tenants)| alarm_call(run, target, tenants, provider_for(target))).collect();
    let alarm_results: Vec<_> = stream::iter(jobs).buffer_unordered(run.opts.concurrency).collect().await;
    for (tenants, result) in alarm_results {
        match result {
            Ok(alarms) => {
                let mut rows = Vec::new();
                for (t, region) in tenants {
                    for a in alarms.iter().filter(|a| a.belongs_to(t.model.owns_account(), &t.selector.dimensions)) {
                        let mut row = a.clone().into_row(&t.id, region);
                        // Alarm reasons quote datapoints and can quote
                        // dimension values: residency tenants' are redacted
                        // like any other cached text.
                        if t.residency {
                            row.reason = crate::redact::redact(&row.reason);
                        }
                        rows.push(row);
                    }
                }
                let scope: Vec<(String, String)> = tenants.iter().map(|(t, r)| (t.id.clone(), r.clone())).collect();
                run.cache.replace_alarms(&scope, &rows, run.now_ms()).await?;
                history(run, &rows).await?;
                for (t, region) in tenants {
                    run.record(&t.id, region, "alarms", Ok(())).await?;
                }
            }
            Err(f) => {
                for (t, region) in tenants {
                    run.record(&t.id, region, "alarms", Err(&f)).await?;
                }
            }
        }
    }
    run.flush().await
}

/// The triage queries of each tenant-region due for them.
async fn logs_phase(
    run: &Run<'_>,
    log_jobs: &[(&Tenant, String)],
    provider_for: &(dyn Fn(&Target) -> SharedCredentialsProvider + Sync),
) -> Result<(), CacheError> {
    let jobs: Vec<_> =
        log_jobs.iter().map(|(t, region)| logs_call(run, t, region, provider_for(&target(t, region)))).collect();
    let log_results: Vec<_> = stream::iter(jobs).buffer_unordered(run.opts.logs_concurrency).collect().await;
    for (t, region, result) in log_results {
        match result {
            Ok(results) => {
                for r in &results {
                    run.cache.put_log_result(r, run.now_ms()).await?;
                }
                run.record(&t.id, &region, "logs", Ok(())).await?;
            }
            Err(f) => run.record(&t.id, &region, "logs", Err(&f)).await?,
        }
    }
    run.flush().await
}

/// Cost from the payer account, when due.
async fn cost_phase(run: &Run<'_>, cost_due: bool) -> Result<(), CacheError> {
    let Some(payer) = run.fleet.payer_account.as_ref().filter(|_| cost_due) else { return Ok(()) };
    let result = cost(run, payer).await;
    run.record("*", "*", "cost", result.as_ref().map(|_| ())).await?;
    if let Ok(rows) = result {
        run.cache.put_costs(&rows).await?;
        run.cache.set_meta("cost_synced_at", &run.opts.now.to_string()).await?;
        let today = chrono::DateTime::from_timestamp(run.opts.now, 0).unwrap_or_default().date_naive();
        crate::cost::refresh_anomalies(run.cache, today).await?;
        // Only once the rows are stored: a crash before this line
        // re-fetches those days rather than losing them.
        let closed = run.closed_through.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(day) = closed {
            run.cache.set_meta("cost_closed_through", &day).await?;
        }
    }
    run.flush().await
}

/// The last day's state changes of every alarm in ALARM, where the API is
/// available: an emulator without DescribeAlarmHistory, or a role without
/// the permission, costs the timeline its history, not the alarms source.
async fn history(run: &Run<'_>, rows: &[crate::cache::AlarmRow]) -> Result<(), CacheError> {
    let tenants: HashMap<&str, &Tenant> = run.fleet.tenants.iter().map(|t| (t.id.as_str(), t)).collect();
    for a in rows.iter().filter(|a| a.state == "ALARM") {
        let Some(t) = tenants.get(a.tenant_id.as_str()) else { continue };
        let target = target(t, &a.region);
        let Some(creds) = run.aws.known_role(&target.role_arn, target.external_id.as_deref()) else { continue };
        let client = run.aws.cloudwatch(&creds, &target.role_arn, &target.region);
        match collect::alarm_history(&client, run.aws, &target, &a.name, run.opts.now - 86_400).await {
            Ok(mut items) => {
                if t.residency {
                    for (_, summary) in &mut items {
                        *summary = crate::redact::redact(summary);
                    }
                }
                run.cache.put_alarm_history(&a.tenant_id, &a.region, &a.name, &items).await?
            }
            Err(f) => tracing::debug!("alarm history of {} unavailable: {}", a.name, f.message),
        }
    }
    Ok(())
}

async fn assume(run: &Run<'_>, arn: &str, ext: Option<&str>) -> (SharedCredentialsProvider, Result<(), Failure>) {
    let creds = run.aws.role(arn, ext).await;
    let result = run.aws.check(&creds, arn, ext).await;
    run.step("credentials", format!("assumed {arn}"));
    (creds, result)
}

/// One packed GetMetricData call; its points, watermarks, and what the
/// series' anomaly detectors made of the points are committed together.
async fn metric_call(
    run: &Run<'_>,
    call: &plan::MetricCall,
    reads: &[SeriesRead],
    specs: &[ReadSpec<'_>],
    creds: SharedCredentialsProvider,
) -> Scoped {
    let client = run.aws.cloudwatch(&creds, &call.target.role_arn, &call.target.region);
    let queries: Vec<QuerySpec> = call.reads.iter().map(|&i| specs[i].0.clone()).collect();
    let scope: Vec<(String, String)> =
        call.reads.iter().map(|&i| (specs[i].1.id.clone(), specs[i].2.clone())).collect();
    let result = match collect::metric_data(&client, run.aws, &call.target, &queries, call.start, call.end).await {
        Ok(points) => {
            let batch: Vec<PointBatch> = call
                .reads
                .iter()
                .zip(points)
                .map(|(&i, points)| PointBatch { series_id: reads[i].series_id, points, watermark: call.end })
                .collect();
            let committed = match detect_anomalies(run, call, specs, &batch).await {
                Ok(scored) => run.cache.commit_points_scored(&batch, &scored).await.map(|n| (n, scored)),
                Err(e) => Err(e),
            };
            match committed {
                Ok((n, scored)) => {
                    run.points.fetch_add(n, Ordering::Relaxed);
                    run.scored_series.fetch_add(scored.len() as u64, Ordering::Relaxed);
                    run.scored_points.fetch_add(scored.iter().map(|s| s.points).sum(), Ordering::Relaxed);
                    run.episodes.fetch_add(scored.iter().map(|s| s.episodes.len() as u64).sum(), Ordering::Relaxed);
                    Ok(())
                }
                Err(e) => Err(Failure {
                    status: "error",
                    message: format!("cache write failed: {e}"),
                    remediation: "see the log".into(),
                }),
            }
        }
        Err(f) => Err(f),
    };
    run.step("metrics", format!("{} {}: {} series", call.target.account, call.target.region, queries.len()));
    (scope, result)
}

/// Run the detectors of a call's series over their new points: one read of
/// their saved states, then memory only (the detector does millions of
/// points a second; a call carries at most 100,800).
async fn detect_anomalies(
    run: &Run<'_>,
    call: &plan::MetricCall,
    specs: &[ReadSpec<'_>],
    batch: &[PointBatch],
) -> Result<Vec<ScoredSeries>, CacheError> {
    let ids: Vec<i64> = batch.iter().map(|b| b.series_id).collect();
    let saved = run.cache.saved_detectors(&ids).await?;
    Ok(call
        .reads
        .iter()
        .zip(batch)
        .filter_map(|(&i, b)| {
            let (_, t, region, spec) = &specs[i];
            let meta = SeriesMeta::new(b.series_id, &t.id, region, spec);
            analysis::score(&meta, saved.get(&b.series_id), &b.points)
        })
        .collect())
}

async fn alarm_call<'t, 'f>(
    run: &Run<'_>,
    target: &Target,
    tenants: &'t [(&'f Tenant, String)],
    creds: SharedCredentialsProvider,
) -> (&'t [(&'f Tenant, String)], Result<Vec<collect::RawAlarm>, Failure>) {
    let client = run.aws.cloudwatch(&creds, &target.role_arn, &target.region);
    let result = collect::alarms(&client, run.aws, target).await;
    run.step("alarms", format!("{} {}", target.account, target.region));
    (tenants, result)
}

async fn logs_call<'f>(
    run: &Run<'_>,
    t: &'f Tenant,
    region: &str,
    creds: SharedCredentialsProvider,
) -> (&'f Tenant, String, Result<Vec<LogResult>, Failure>) {
    let target = target(t, region);
    let client = run.aws.logs(&creds, &target.role_arn, region);
    let result = logs_for(run, &client, &target, t, region).await;
    run.step("logs", format!("{} {region}", t.id));
    (t, region.to_string(), result)
}

fn now_ms_wall() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

async fn logs_for(
    run: &Run<'_>,
    client: &aws_sdk_cloudwatchlogs::Client,
    target: &Target,
    t: &Tenant,
    region: &str,
) -> Result<Vec<LogResult>, Failure> {
    let end = run.opts.now;
    let window = (end - run.opts.logs_window_secs, end);
    triage_queries(run.aws, client, target, t, region, &run.catalog.logs, window).await
}

/// Run triage queries for one tenant-region over `window` (epoch s) in its
/// log groups, as the sync does and as the console does on demand. Data
/// residency: raw lines never reach the caller (nor the disk), only their
/// count, and whatever text is kept for them is redacted first.
pub async fn triage_queries(
    aws: &AwsAccess,
    client: &aws_sdk_cloudwatchlogs::Client,
    target: &Target,
    t: &Tenant,
    region: &str,
    queries: &[crate::catalog::LogsQuery],
    (start, end): (i64, i64),
) -> Result<Vec<LogResult>, Failure> {
    let groups = collect::log_group_names(client, aws, target, &t.selector.log_groups).await?;
    if groups.is_empty() {
        return Err(Failure {
            status: "not_configured",
            message: format!("no log group matches {:?}", t.selector.log_groups),
            remediation: "fix selector.log_groups in the fleet file".into(),
        });
    }
    let mut out = Vec::new();
    for q in queries {
        let text = q.render(t.selector.log_tenant_field.as_deref(), &t.id);
        let r = collect::insights(client, aws, target, groups.clone(), &text, start, end).await?;
        let withheld = q.raw_lines && t.residency;
        let rows = if withheld {
            serde_json::Value::Array(vec![])
        } else {
            let mut rows = serde_json::to_value(&r.rows).unwrap_or_default();
            if t.residency {
                crate::redact::redact_json(&mut rows);
            }
            rows
        };
        out.push(LogResult {
            tenant_id: t.id.clone(),
            region: region.to_string(),
            query_key: q.key.clone(),
            window_start: start,
            window_end: end,
            rows,
            records_matched: r.records_matched,
            truncated: r.truncated,
            withheld,
        });
    }
    Ok(out)
}

/// One triage query of one tenant-region run now, on demand (the Tenant
/// view's "run" button): the tenant's role is assumed (or reused from the
/// session), the query runs over `window`, and the result comes back to
/// the caller; the cache keeps the sync's own results. Read-only, like
/// every call fleetdeck makes.
pub async fn triage_now(
    fleet: &Fleet,
    catalog: &Catalog,
    aws: &AwsAccess,
    tenant: &str,
    region: &str,
    query: &str,
    window: (i64, i64),
) -> Result<LogResult, Failure> {
    let unknown = |what: String| Failure { status: "not_configured", message: what, remediation: String::new() };
    let t = fleet.tenant(tenant).ok_or_else(|| unknown(format!("no tenant {tenant:?} in the fleet file")))?;
    if !t.regions().any(|r| r == region) {
        return Err(unknown(format!("tenant {tenant} does not run in {region}")));
    }
    let q =
        catalog.logs.iter().find(|q| q.key == query).ok_or_else(|| unknown(format!("no triage query {query:?}")))?;
    if t.selector.log_groups.is_empty() {
        return Err(Failure {
            status: "not_configured",
            message: format!("tenant {tenant} has no log groups in the fleet file"),
            remediation: "add selector.log_groups to the tenant in the fleet file".into(),
        });
    }
    let target = target(t, region);
    let creds = aws.role(&target.role_arn, target.external_id.as_deref()).await;
    aws.check(&creds, &target.role_arn, target.external_id.as_deref()).await?;
    let client = aws.logs(&creds, &target.role_arn, region);
    let mut results = triage_queries(aws, &client, &target, t, region, std::slice::from_ref(q), window).await?;
    results.pop().ok_or_else(|| unknown("the query returned nothing".into()))
}

/// Daily cost by tenant tag and by linked account, from the first day not
/// yet closed (Cost Explorer bills $0.01 a request: a closed day, one no
/// longer `Estimated`, is never fetched twice) through today; on a first
/// sync, from the first day of last month.
async fn cost(run: &Run<'_>, payer: &str) -> Result<Vec<crate::cache::CostRow>, Failure> {
    use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
    let fleet = run.fleet;
    let creds = match &fleet.payer_role_arn {
        Some(arn) => {
            let c = run.aws.role(arn, None).await;
            run.aws.check(&c, arn, None).await?;
            c
        }
        None => run.aws.base_credentials(),
    };
    let client = run.aws.cost_explorer(&creds);
    let today = Utc.timestamp_opt(run.opts.now, 0).single().unwrap_or_default().date_naive();
    let first_this = today.with_day(1).unwrap_or(today);
    let first_last = (first_this - Duration::days(1)).with_day(1).unwrap_or(first_this);
    let closed = run
        .cache
        .meta("cost_closed_through")
        .await
        .ok()
        .flatten()
        .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
    let from = closed.map(|d| d + Duration::days(1)).unwrap_or(first_last).max(first_last).min(today);
    let (start, end) =
        (from.format("%Y-%m-%d").to_string(), (today + Duration::days(1)).format("%Y-%m-%d").to_string());

    let mut owned: Vec<String> =
        fleet.tenants.iter().filter(|t| t.model.owns_account()).map(|t| t.account.clone()).collect();
    owned.sort();
    owned.dedup();
    let by_tag = collect::cost(&client, run.aws, payer, CostGrouping::Tag(&fleet.cost_tag, &owned), &start, &end).await;
    run.step("cost", format!("by tenant tag from {start}"));
    let by_account = collect::cost(&client, run.aws, payer, CostGrouping::LinkedAccount, &start, &end).await;
    run.step("cost", format!("by linked account from {start}"));
    let (by_tag, by_account) = (by_tag?, by_account?);

    // The closed days now cached: up to the day before the first estimated one.
    let first_open =
        by_tag.iter().chain(&by_account).filter(|l| l.estimated).map(|l| l.day.as_str()).min().map(str::to_string);
    let newest_closed = match first_open {
        Some(day) => NaiveDate::parse_from_str(&day, "%Y-%m-%d").ok().map(|d| d - Duration::days(1)),
        None => Some(today - Duration::days(1)),
    };

    let tagged: HashMap<&str, &str> =
        fleet.tenants.iter().filter(|t| !t.model.owns_account()).map(|t| (t.id.as_str(), t.id.as_str())).collect();
    let owners: HashMap<&str, &str> =
        fleet.tenants.iter().filter(|t| t.model.owns_account()).map(|t| (t.account.as_str(), t.id.as_str())).collect();
    // A whole-account tenant that also tags its resources is costed by its
    // account below; its tag lines are neither its cost twice nor untagged.
    let by_tag: Vec<collect::CostLine> =
        by_tag.into_iter().filter(|l| !fleet.tenants.iter().any(|t| t.model.owns_account() && t.id == l.key)).collect();
    let mut rows = collect::cost_rows(by_tag, "tag", |k| tagged.get(k).map(|s| s.to_string()));
    // Whole-account tenants are costed by account; tag lines in their
    // accounts would count them twice, so only account lines are kept.
    rows.extend(
        collect::cost_rows(by_account, "account", |k| owners.get(k).map(|s| s.to_string()))
            .into_iter()
            .filter(|r| !r.tenant_id.is_empty()),
    );
    if let Some(d) = newest_closed.filter(|d| *d >= from) {
        run.closed_through.lock().unwrap_or_else(|e| e.into_inner()).replace(d.format("%Y-%m-%d").to_string());
    }
    Ok(rows)
}

/// Regression: a commit path that kept an iterator of closures (or passed a
/// pool reference down) across an await made the sync's future not Send
/// for every lifetime, and the desktop build's `start_sync` command, which
/// needs that, stopped compiling while the engine build still did. This
/// fails to compile when it happens again, in the engine build too.
#[cfg(test)]
#[allow(dead_code)]
fn the_sync_future_is_send_for_every_lifetime<'a>(
    fleet: &'a Fleet,
    catalog: &'a Catalog,
    aws: &'a AwsAccess,
    cache: &'a Cache,
    opts: &'a SyncOptions,
    progress: Progress<'a>,
) {
    fn is_send<T: Send>(_: T) {}
    is_send(run(fleet, catalog, aws, cache, opts, progress));
}
