//! One sync: credentials -> metrics -> alarms -> logs -> cost -> peers ->
//! health.
//! Every step is idempotent (upserts on natural keys, watermarks committed
//! with the points they cover) and a failed source is recorded with its
//! classified error while the rest carries on. Each series' anomaly
//! detector scores its new points as they are committed ([`crate::analysis`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_cloudwatch::types::AlarmType;
use aws_sdk_sts::config::SharedCredentialsProvider;
use futures::stream::{self, StreamExt};

use crate::analysis::{self, SeriesMeta};
use crate::aws::{AwsAccess, Failure};
use crate::cache::{Cache, CacheError, PointBatch, ScoredSeries, SeriesKey, SourceState};
use crate::catalog::{Catalog, MetricSpec};
use crate::clock::{self, DAY, HOUR};
use crate::collect::{self, QuerySpec};
use crate::fleet::{Fleet, Tenant};
use crate::model::{SourceStatus, SyncProgress, SyncSummary};
use crate::plan::{self, SeriesRead, Target};

mod cost;
mod logs;
mod tags;

pub use cost::COST_READING;
pub use tags::needs_tags;

use cost::cost_phase;
use logs::logs_phase;
pub use logs::{triage_now, triage_queries};

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
    /// The API budget's stretch ([`crate::spend`]): a healthy
    /// tenant-region whose metrics were read less than this long ago is not
    /// read again (nor its logs); `None` reads every tenant-region every
    /// sync. Alarms are read every sync regardless.
    pub healthy_every_secs: Option<i64>,
    /// Cost Explorer pages a sync buys before it stops waiting for them:
    /// past these, pages are read only while the rest of the sync is
    /// running, and the next sync resumes where this one stopped. A first
    /// sync of thousands of tenants needs over a thousand pages (minutes at
    /// Cost Explorer's pace); health does not wait for them. A read resumed
    /// from an earlier sync has a floor of 20 pages at most.
    pub cost_pages_floor: u32,
    /// The most Cost Explorer pages one sync buys, whatever else is still
    /// running (`None`: no cap but the rule above).
    pub cost_pages_cap: Option<u32>,
}

impl SyncOptions {
    pub fn at(now: i64) -> SyncOptions {
        SyncOptions {
            now,
            backfill_secs: DAY,
            overlap_secs: 10 * 60,
            logs_window_secs: HOUR,
            // Calls in flight across the fleet. Each account-region is
            // paced under its own quotas; on the F200 benchmark (2 cores) 8
            // beat 32, whose answers queue for the CPU instead (55 s vs 70 s).
            concurrency: 8,
            cost_every_secs: 6 * HOUR,
            logs_every_secs: 15 * 60,
            logs_concurrency: 64,
            healthy_every_secs: None,
            // 50 s at the 4 pages a second fleetdeck paces Cost Explorer
            // at ($2): a fleet of a few hundred tenants reads its first
            // bill whole in one sync.
            cost_pages_floor: 200,
            cost_pages_cap: None,
        }
    }
}

/// Below this many points per GetMetricData call on average, the metrics
/// phase runs twice `concurrency` calls at once.
const SMALL_CALL_POINTS: u64 = 20_000;

pub type Progress<'a> = &'a (dyn Fn(SyncProgress) + Send + Sync);

/// The tenant-regions a call covered, and how it went.
/// A metrics call's tenant-regions, how the call went, and the
/// tenant-regions of series CloudWatch answered only in part.
type Scoped = (Vec<(String, String)>, Result<(), Failure>, Vec<((String, String), Failure)>);

/// A role and the ExternalId it is assumed with.
type RoleKey = (String, Option<String>);

/// A tenant's region and the sources read there through one role.
type RegionSources<'a> = (&'a str, &'static [&'static str]);

/// Whose a metric read is, where, and the catalog entry it answers. What
/// it asks CloudWatch for is built when its call is sent ([`query_of`]):
/// a backfill plans 120,000 series at F2000, and their queries' strings
/// and dimension maps, held for the whole metrics phase, were 180 MB.
#[derive(Clone, Copy)]
struct ReadSpec<'a> {
    tenant: &'a Tenant,
    region: &'a str,
    spec: &'a MetricSpec,
}

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
    /// Each tenant-region's dimension values, typed or found by tag (set
    /// once the tag step ran).
    selectors: std::sync::OnceLock<tags::Selectors>,
}

impl Run<'_> {
    fn selectors(&self) -> &tags::Selectors {
        static NONE: std::sync::LazyLock<tags::Selectors> = std::sync::LazyLock::new(Default::default);
        self.selectors.get().unwrap_or(&NONE)
    }

    fn now_ms(&self) -> i64 {
        clock::ms(self.opts.now)
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
                    status: SourceStatus::Ok,
                    error: None,
                    remediation: None,
                    last_ok: None,
                }
            }
            Err(f) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.errors.lock().unwrap_or_else(|e| e.into_inner()).push(format!(
                    "{tenant} {region} {source}: {} ({})",
                    f.status.label(),
                    f.message
                ));
                SourceState {
                    tenant_id: tenant.into(),
                    region: region.into(),
                    source: source.into(),
                    status: f.status,
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
        status: f.status,
        error: Some(format!("not read: no credentials ({})", f.message)),
        remediation: Some(f.remediation.clone()),
        last_ok: None,
    }
}

/// Who reads a tenant's region's metrics and logs (the region as
/// [`Tenant::regions`] names it), and the AWS region it is in: the
/// monitoring account when the tenant is linked to it, else the tenant's
/// own role (or its environment's).
fn target(fleet: &Fleet, t: &Tenant, region: &str) -> Target {
    match fleet.monitoring_for(t, region) {
        Some(m) => Target::monitoring(m, region),
        None => own(t, region),
    }
}

/// The tenant's own account-region through its own role (its
/// environment's in an environment's region); `None` for a tenant read
/// only through the monitoring account.
fn own_target(t: &Tenant, region: &str) -> Option<Target> {
    let p = t.place(region);
    (!p.role_arn.is_empty()).then(|| own(t, region))
}

fn own(t: &Tenant, region: &str) -> Target {
    let p = t.place(region);
    Target {
        account: p.account.to_string(),
        role_arn: p.role_arn.to_string(),
        external_id: p.external_id.map(str::to_string),
        region: p.region.to_string(),
    }
}

/// The `AccountId` a tenant-region's queries name: its account, when it
/// is read through the monitoring account ("If you are performing a
/// GetMetricData operation in a monitoring account, use this to specify
/// which account to retrieve this metric from", MetricDataQuery, CloudWatch
/// API Reference).
fn linked_account(fleet: &Fleet, t: &Tenant, region: &str) -> Option<String> {
    fleet.monitoring_for(t, region).map(|_| t.account.clone())
}

/// Where a tenant's region is read from: the metrics and logs reader, and
/// each account-region whose alarms concern it (its own account through
/// its own role, the monitoring account when it is linked). For the
/// benchmark's bound, computed the way the sync reads.
pub fn reads_of(fleet: &Fleet, t: &Tenant, region: &str) -> (Target, Vec<Target>) {
    let own = own_target(t, region);
    let monitoring = fleet.monitoring_for(t, region).map(|_| target(fleet, t, region));
    (target(fleet, t, region), own.into_iter().chain(monitoring).collect())
}

/// The roles a tenant-region is read through, and for which sources: the
/// reader's (metrics, logs, and alarms when it is the monitoring
/// account's) and the tenant's own, if it is another (its alarms, its tag
/// map).
fn roles_of(fleet: &Fleet, t: &Tenant, region: &str) -> Vec<(Target, &'static [&'static str])> {
    let reader = target(fleet, t, region);
    match own_target(t, region) {
        Some(own) if own != reader => vec![(reader, &["metrics", "logs"]), (own, &["alarms", "alarm_history"])],
        _ => vec![(reader, &["metrics", "alarms", "alarm_history", "logs"])],
    }
}

/// Why a tenant-region's metrics have no dimension values, and the fix:
/// what to tag (a value a tag can supply), else what to type.
fn unconfigured_metrics(
    fleet: &Fleet,
    t: &Tenant,
    region: &str,
    missing: &[&str],
    tag_read: Option<&Failure>,
) -> Failure {
    let typed = missing.iter().map(|d| format!("{d} = \"...\"")).collect::<Vec<_>>().join(", ");
    let taggable = !t.model.owns_account() && missing.iter().all(|d| crate::tags::taggable(t.model, d));
    if let Some(f) = tag_read.filter(|_| taggable) {
        // Nothing is known of the tenant's resources: the read failed, not
        // the tagging.
        return Failure {
            status: f.status,
            message: format!(
                "could not list the resources tagged {} = {:?}, so its metrics were not read: {}",
                fleet.cost_tag, t.id, f.message
            ),
            remediation: f.remediation.clone(),
        };
    }
    if taggable && !t.place(region).role_arn.is_empty() {
        let kinds: Vec<&str> = missing.iter().map(|d| crate::tags::kind_of(d)).collect();
        return Failure {
            status: SourceStatus::NotConfigured,
            message: format!(
                "no {} tagged {} = {:?} in account {}, {region} (the tag map is read every {} hours)",
                kinds.join(" or "),
                fleet.cost_tag,
                t.id,
                t.place(region).account,
                crate::tags::REFRESH_SECS / crate::clock::HOUR
            ),
            remediation: format!(
                "tag the tenant's {} with {} = {:?}, or add selector.dimensions = {{ {typed} }} to tenant {:?} \
                 (fleet file line {})",
                kinds.join(" and "),
                fleet.cost_tag,
                t.id,
                t.id,
                t.line
            ),
        };
    }
    if taggable {
        // Read only through the monitoring account, which sees a linked
        // account's metrics and logs but not its tags.
        return Failure {
            status: SourceStatus::NotConfigured,
            message: format!(
                "the fleet file gives no {} for this tenant's metrics, and its tag map cannot be read: \
                 it is read through the monitoring account, which does not see account {}'s tags",
                missing.join(", "),
                t.account
            ),
            remediation: format!(
                "add selector.dimensions = {{ {typed} }} to tenant {:?} (fleet file line {}), or give it a role \
                 in its account (role_name = \"...\") so its resources tagged {} = {:?} are found",
                t.id, t.line, fleet.cost_tag, t.id
            ),
        };
    }
    Failure {
        status: SourceStatus::NotConfigured,
        message: format!("the fleet file gives no {} for this tenant's metrics", missing.join(", ")),
        remediation: format!("add selector.dimensions = {{ {typed} }} to tenant {:?} in the fleet file", t.id),
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
        selectors: Default::default(),
    };
    let run = &run;
    cache.record_fleet(fleet).await?;

    // 1. Credentials, once per role: the tenants' own, their other
    // environments', the monitoring account's.
    let mut roles: BTreeMap<RoleKey, Vec<(&Tenant, Vec<RegionSources>)>> = BTreeMap::new();
    for t in &fleet.tenants {
        for region in t.regions() {
            for (target, sources) in roles_of(fleet, t, region) {
                let of_role = roles.entry((target.role_arn, target.external_id)).or_default();
                match of_role.iter_mut().find(|(x, _)| x.id == t.id) {
                    Some((_, regions)) => regions.push((region, sources)),
                    None => of_role.push((t, vec![(region, sources)])),
                }
            }
        }
    }
    run.total.store(roles.len() as u32, Ordering::Relaxed);
    let checks: Vec<_> = roles.keys().map(|(arn, ext)| assume(run, arn, ext.as_deref())).collect();
    let checked: Vec<(SharedCredentialsProvider, Result<(), Failure>)> =
        stream::iter(checks).buffered(opts.concurrency).collect().await;
    let checked = roles.keys().cloned().zip(checked).map(|(k, (p, r))| (k, p, r));
    let mut creds: HashMap<(String, Option<String>), SharedCredentialsProvider> = HashMap::new();
    for (key, provider, result) in checked {
        for (t, regions) in &roles[&key] {
            // The tenant's own role is its credentials source (the
            // monitoring account's, for a tenant read only there); another
            // environment's failure shows in that environment's regions.
            let home = target(fleet, t, &t.home_region);
            let source_role = if t.has_role() { &t.role_arn } else { &home.role_arn };
            if &key.0 == source_role {
                run.record(&t.id, "*", "credentials", result.as_ref().map(|_| ())).await?;
            }
            // Without credentials nothing else of this tenant was read: its
            // sources say so instead of keeping an earlier sync's "ok".
            if let Err(f) = &result {
                for (region, sources) in regions.iter().copied() {
                    for source in sources.iter().copied() {
                        // A tenant without log groups has no logs source
                        // to fail.
                        if source == "logs" && t.selector.log_groups.is_empty() {
                            continue;
                        }
                        // Counted: "N failed" matches the sources then
                        // listed as not ok.
                        run.failed.fetch_add(1, Ordering::Relaxed);
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
    let has_creds = |t: &Target| creds.contains_key(&(t.role_arn.clone(), t.external_id.clone()));
    // Tenants with at least one region whose metrics can be read; `reaches`
    // says which of their regions.
    let reaches = |t: &Tenant, region: &str| has_creds(&target(fleet, t, region));
    let reachable: Vec<&Tenant> = fleet.tenants.iter().filter(|t| t.regions().any(|r| reaches(t, r))).collect();
    let reaches = &reaches;
    let has_creds = &has_creds;
    let creds = &creds;
    let provider_for = |t: &Target| creds[&(t.role_arn.clone(), t.external_id.clone())].clone();

    // Tenants found by their tags: the account-regions' maps, read again
    // every few hours.
    let _ = run.selectors.set(tags::read(run, &reachable, has_creds, &provider_for).await?);
    let selectors = run.selectors();

    // Under the budget's stretch, healthy tenant-regions read recently rest.
    let resting = resting(cache, opts).await?;

    // 2. Plan the metric reads.
    let end = plan::end_for(opts.now);
    let mut reads: Vec<SeriesRead> = Vec::new();
    let known = cache.known_series().await?;
    let mut new_series: Vec<(usize, crate::cache::OwnedSeriesKey)> = Vec::new();
    let mut unconfigured: BTreeMap<(String, String), Failure> = BTreeMap::new();
    let mut specs: Vec<ReadSpec> = Vec::new();
    for t in &reachable {
        for region in t.regions().filter(|r| reaches(t, r) && !resting.contains(&(t.id.clone(), r.to_string()))) {
            let to = Arc::new(target(fleet, t, region));
            for spec in catalog.metrics_for(t.model) {
                let (resources, identity) = match resources_of(selectors, &fleet.cost_tag, t, region, spec) {
                    Ok(found) => found,
                    Err(missing) => {
                        // Said only when no metric of the tenant-region
                        // could be read: say what to add, or what to tag.
                        unconfigured.entry((t.id.clone(), region.to_string())).or_insert_with(|| {
                            unconfigured_metrics(fleet, t, region, &missing, selectors.failure(t, region))
                        });
                        continue;
                    }
                };
                let dims_json = serde_json::Value::Object(identity).to_string();
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
                    target: Arc::clone(&to),
                    series_id,
                    period: spec.period,
                    start: plan::start_for(watermark, opts.now, opts.backfill_secs, opts.overlap_secs, spec.period),
                    queries: resources.len() as u32,
                });
                specs.push(ReadSpec { tenant: t, region, spec });
            }
        }
    }
    let keys: Vec<SeriesKey<'_>> = new_series.iter().map(|(_, k)| k.as_key()).collect();
    for ((i, _), (id, watermark)) in new_series.iter().zip(cache.series_batch(&keys).await?) {
        reads[*i].series_id = id;
        reads[*i].start = plan::start_for(watermark, opts.now, opts.backfill_secs, opts.overlap_secs, reads[*i].period);
    }
    drop(keys);
    drop((new_series, known));
    let calls = plan::pack(&reads, end);
    let (read_list, spec_list) = (reads, specs);
    let (reads, specs) = (&read_list, &spec_list);

    // Alarm and log jobs, so the progress total is known up front.
    let mut alarm_targets: BTreeMap<Target, Vec<(&Tenant, String)>> = BTreeMap::new();
    let mut log_jobs: Vec<(&Tenant, String)> = Vec::new();
    let logs_fresh = cache.logs_fresh(opts.now - opts.logs_every_secs, catalog.logs.len()).await?;
    // A resting tenant-region's logs are re-read as rarely as its metrics.
    let logs_resting = match opts.healthy_every_secs {
        Some(every) if !resting.is_empty() => cache.logs_fresh(opts.now - every, catalog.logs.len()).await?,
        _ => Default::default(),
    };
    for t in &reachable {
        for region in t.regions().filter(|r| reaches(t, r)) {
            // Its own account's alarms, and the monitoring account's
            // (alarms there on its metrics).
            for at in reads_of(fleet, t, region).1.into_iter().filter(|a| has_creds(a)) {
                alarm_targets.entry(at).or_default().push((t, region.to_string()));
            }
            let key = (t.id.clone(), region.to_string());
            let rests = resting.contains(&key) && logs_resting.contains(&key);
            if !t.selector.log_groups.is_empty() && !logs_fresh.contains(&key) && !rests {
                log_jobs.push((t, region.to_string()));
            }
        }
    }
    let cost_due = match cache.meta("cost_synced_at").await?.and_then(|v| v.parse::<i64>().ok()) {
        Some(at) => opts.now - at >= opts.cost_every_secs,
        None => true,
    };
    let cost_calls = if fleet.payer_account.is_some() && cost_due { 3 } else { 0 };
    run.total.fetch_add((calls.len() + alarm_targets.len() + log_jobs.len() + cost_calls) as u32, Ordering::Relaxed);

    // 3-6. Metrics, alarms, logs and cost at once: they wait on different
    // quotas, and logs mostly on queries running in AWS.
    // Cost pages past the floor are bought only while the others run.
    let pages = collect::CostPages::new(opts.cost_pages_floor, opts.cost_pages_cap);
    let rest = async {
        let done = tokio::join!(
            metrics_phase(run, &calls, reads, specs, &provider_for, &unconfigured),
            alarms_phase(run, &alarm_targets, &provider_for),
            logs_phase(run, &log_jobs, &provider_for),
        );
        pages.rest_done();
        done
    };
    let ((m, a, l), c) = tokio::join!(rest, cost_phase(run, cost_due, &pages));
    m?;
    a?;
    l?;
    c?;
    // The plan is done with: at thousands of tenants it is hundreds of MB
    // the analysis below can use.
    drop((calls, read_list, spec_list, alarm_targets, log_jobs));

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
    // Each step of the analysis is reported as it ends (phase `analysis:
    // <step>`): where a big fleet's sync spends its last seconds.
    let step = |name: &str, message: String| {
        (progress)(SyncProgress {
            phase: format!("analysis: {name}"),
            done: run.done.load(Ordering::Relaxed),
            total: run.total.load(Ordering::Relaxed),
            message,
        })
    };
    let peers = crate::peers::compute(cache, fleet, catalog, opts.now).await?;
    step(
        "peers",
        format!(
            "peers: {} series compared, {} departures and {} fleet-wide shifts ongoing",
            peers.series, peers.departures, peers.shifts
        ),
    );
    crate::health::compute(cache, fleet, catalog, opts.healthy_every_secs, opts.now).await?;
    step("health", "health assessed".into());
    // The cost anomalies as of this sync, beside those of the one before.
    crate::cost::remember_anomalies(cache, opts.now).await?;
    crate::spend::record_stretch(cache, opts.healthy_every_secs).await?;
    // The fleet's median lines for the buckets this sync's points fell in:
    // from the previous sync's window (or the backfill) on.
    let since = match cache.last_sync().await? {
        Some(last) => clock::secs(last.started_at) - opts.overlap_secs,
        None => opts.now - opts.backfill_secs,
    };
    crate::fleet_median::refresh(cache, since.min(opts.now - opts.overlap_secs)).await?;
    step("medians", "the tier medians refreshed".into());

    let calls = aws.ledger.drain();
    let summary = SyncSummary {
        started_at: run.now_ms(),
        finished_at: crate::clock::now_ms(),
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
    match crate::housekeeping::retention_if_due(cache, &fleet.retention, opts.now).await {
        Ok(Some(_)) => step("retention", "retention enforced".into()),
        Ok(None) => step("retention", "retention not due (once an hour)".into()),
        Err(e) => {
            tracing::warn!("retention pass failed (retried at the next sync): {e}");
            step("retention", "retention failed; retried at the next sync".into());
        }
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

/// The tenant-regions not read this sync under the budget's stretch:
/// healthy when last assessed, and their metrics read without error less
/// than `healthy_every_secs` ago.
async fn resting(
    cache: &Cache,
    opts: &SyncOptions,
) -> Result<std::collections::BTreeSet<(String, String)>, CacheError> {
    let Some(every) = opts.healthy_every_secs else { return Ok(Default::default()) };
    let healthy: std::collections::BTreeSet<(String, String)> = cache
        .active_health()
        .await?
        .into_iter()
        .filter(|(_, _, h)| *h == crate::model::Health::Ok)
        .map(|(t, r, _)| (t, r))
        .collect();
    let since = clock::ms(opts.now - every);
    Ok(cache
        .all_sources()
        .await?
        .into_iter()
        .filter(|s| s.source == "metrics" && s.last_ok.is_some_and(|at| at > since))
        .map(|s| (s.tenant_id, s.region))
        .filter(|key| healthy.contains(key))
        .collect())
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
    // Calls are made (their futures built) only as they are sent, and each
    // answer is folded in as it lands: at F2000 the thousands of calls'
    // futures and scopes, held until the last answer, were tens of MB.
    // (A stream over a closure would make the sync's future not Send for
    // every lifetime, hence the loop.)
    let mut waiting = calls.iter();
    let mut sent = futures::stream::FuturesUnordered::new();
    for call in waiting.by_ref().take(in_flight) {
        sent.push(metric_call(run, call, reads, specs, provider_for(&call.target)));
    }
    // A tenant-region's metrics are ok only if every call covering it was.
    let mut metric_state: BTreeMap<(String, String), Result<(), Failure>> = BTreeMap::new();
    while let Some((scope, result, incomplete)) = sent.next().await {
        if let Some(call) = waiting.next() {
            sent.push(metric_call(run, call, reads, specs, provider_for(&call.target)));
        }
        for key in scope {
            let slot = metric_state.entry(key).or_insert(Ok(()));
            if let Err(f) = &result {
                *slot = Err(f.clone());
            }
        }
        for (key, f) in incomplete {
            let slot = metric_state.entry(key).or_insert(Ok(()));
            if slot.is_ok() {
                *slot = Err(f);
            }
        }
    }
    // Read without error yet holding no datapoint at all over the window:
    // the selector names nothing CloudWatch has (a typo, a resource gone),
    // unless the region is a standby one, idle by design.
    let window = run.opts.backfill_secs.min(DAY);
    let newest = run.cache.newest_points_since(run.opts.now - window).await?;
    for ((tenant, region), result) in &mut metric_state {
        let Some(t) = run.fleet.tenant(tenant) else { continue };
        let idle = !newest.contains_key(&(tenant.clone(), region.clone()));
        if result.is_ok() && idle && !t.standby_regions.iter().any(|r| r == region) {
            let dims = run.selectors().all(t, region);
            let metrics: Vec<String> = run
                .catalog
                .metrics_for(t.model)
                .filter(|m| m.dimensions.iter().all(|d| dims.contains_key(d)))
                .map(|m| m.key.clone())
                .collect();
            *result = Err(match run.fleet.monitoring_for(t, region) {
                Some(m) => crate::check::no_linked_data(t, m, region, window / HOUR, &metrics),
                None => crate::check::no_data(t, t.place(region).account, region, window / HOUR, &metrics),
            });
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

/// One paged DescribeAlarms per account-region, shared out to its tenants,
/// then, where an alarm changed state since the history on record, one
/// paged DescribeAlarmHistory per account-region for those changes, so
/// episodes close and an alarm that fired and cleared between two syncs is
/// still seen.
async fn alarms_phase(
    run: &Run<'_>,
    alarm_targets: &BTreeMap<Target, Vec<(&Tenant, String)>>,
    provider_for: &(dyn Fn(&Target) -> SharedCredentialsProvider + Sync),
) -> Result<(), CacheError> {
    let newest = run.cache.alarm_history_newest().await?;
    let mut known = Vec::with_capacity(alarm_targets.len());
    for tenants in alarm_targets.values() {
        let mut theirs: HashMap<String, i64> = HashMap::new();
        for (t, region) in tenants {
            for (name, at) in newest.get(&(t.id.clone(), region.clone())).into_iter().flatten() {
                let slot = theirs.entry(name.clone()).or_insert(*at);
                *slot = (*slot).max(*at);
            }
        }
        known.push(theirs);
    }
    let jobs: Vec<_> = alarm_targets
        .iter()
        .zip(known)
        .map(|((target, tenants), known)| alarm_call(run, target, tenants, provider_for(target), known))
        .collect();
    let alarm_results: Vec<_> = stream::iter(jobs).buffer_unordered(run.opts.concurrency).collect().await;
    // A tenant-region may be covered by two reads (its own account's and
    // the monitoring account's): its alarms are replaced only when every
    // read covering it succeeded, with what they found together.
    let mut found: BTreeMap<(String, String), Vec<crate::cache::AlarmRow>> = BTreeMap::new();
    let mut failed: BTreeMap<(String, String), Failure> = BTreeMap::new();
    let mut history_failed: BTreeMap<(String, String), Failure> = BTreeMap::new();
    let mut changes = Vec::new();
    for (target, tenants, result) in alarm_results {
        match result {
            Ok((alarms, history)) => {
                let rows = match monitoring_account(run.fleet, target) {
                    Some(_) => attribute_linked(tenants, run.selectors(), alarms),
                    None => attribute(tenants, run.selectors(), alarms),
                };
                if let Ok(items) = history {
                    changes.extend(attribute_history(tenants, &rows, items));
                } else if let Err(f) = history {
                    for (t, region) in tenants {
                        history_failed.entry((t.id.clone(), region.clone())).or_insert_with(|| f.clone());
                    }
                }
                for (t, region) in tenants {
                    found.entry((t.id.clone(), region.clone())).or_default();
                }
                for row in rows {
                    found.entry((row.tenant_id.clone(), row.region.clone())).or_default().push(row);
                }
            }
            Err(f) => {
                for (t, region) in tenants {
                    failed.entry((t.id.clone(), region.clone())).or_insert_with(|| f.clone());
                }
            }
        }
    }
    let scope: Vec<(String, String)> = found.keys().filter(|k| !failed.contains_key(*k)).cloned().collect();
    let rows: Vec<crate::cache::AlarmRow> =
        scope.iter().flat_map(|k| found.get(k).into_iter().flatten().cloned()).collect();
    run.cache.replace_alarms(&scope, &rows, run.now_ms()).await?;
    run.cache.put_alarm_history(&changes).await?;
    for (tenant, region) in &scope {
        run.record(tenant, region, "alarms", Ok(())).await?;
        let history = history_failed.get(&(tenant.clone(), region.clone()));
        run.record(tenant, region, "alarm_history", history.map_or(Ok(()), Err)).await?;
    }
    for ((tenant, region), f) in &failed {
        run.record(tenant, region, "alarms", Err(f)).await?;
        // The history is read after the alarms: not read either.
        let history = Failure { message: format!("not read: the alarms were not read ({})", f.message), ..f.clone() };
        run.record(tenant, region, "alarm_history", Err(&history)).await?;
    }
    run.flush().await
}

/// The monitoring account, when `target` is its read.
fn monitoring_account<'f>(fleet: &'f Fleet, target: &Target) -> Option<&'f crate::fleet::Monitoring> {
    fleet.monitoring.as_ref().filter(|m| m.account == target.account && m.role_arn == target.role_arn)
}

/// A tenant's dimensions in a region: name -> the values that are its.
type Dimensions = BTreeMap<String, Vec<String>>;

/// Whose each alarm of the monitoring account is: an alarm on a linked
/// account's metric names that account (`AccountId` of its metric, which
/// an alarm on another account's metric must give: PutMetricAlarm,
/// CloudWatch API Reference), and is a tenant's when the account is the
/// tenant's own, or when its dimensions name the tenant's resources in a
/// shared one. The monitoring account's alarms on its own metrics, and
/// composites, name no tenant and are left out.
fn attribute_linked(
    tenants: &[(&Tenant, String)],
    selectors: &tags::Selectors,
    alarms: Vec<collect::RawAlarm>,
) -> Vec<crate::cache::AlarmRow> {
    // By account, each with its dimensions once: a monitoring account
    // region holds thousands of tenants' alarms.
    let mut by_account: HashMap<&str, Vec<(&Tenant, &String, Dimensions)>> = HashMap::new();
    for (t, region) in tenants {
        by_account.entry(t.account.as_str()).or_default().push((t, region, selectors.all(t, region)));
    }
    let mut rows = Vec::new();
    for a in alarms {
        let Some(theirs) = a.account.as_deref().and_then(|account| by_account.get(account)) else { continue };
        for (t, region, dims) in theirs {
            if a.belongs_to(t.model.owns_account(), dims) {
                rows.push(redacted(a.clone().into_row(&t.id, region), t));
            }
        }
    }
    rows
}

/// Alarm reasons quote datapoints and can quote dimension values:
/// redacted like any other cached text.
fn redacted(mut row: crate::cache::AlarmRow, t: &Tenant) -> crate::cache::AlarmRow {
    row.reason =
        if t.redact_personal { crate::redact::redact(&row.reason) } else { crate::redact::redact_secrets(&row.reason) };
    row
}

/// Whose each alarm of an account-region is. A tenant owning the account
/// owns every alarm in it; in a shared account an alarm belongs to the
/// tenants its dimensions name, and one whose dimensions name no tenant at
/// all (none is a dimension any tenant's selector uses: the shared
/// database's, a composite) is a platform alarm, kept on every tenant of
/// the account-region. An alarm naming a resource no tenant of the fleet
/// has is somebody else's and is left out.
fn attribute(
    tenants: &[(&Tenant, String)],
    selectors: &tags::Selectors,
    alarms: Vec<collect::RawAlarm>,
) -> Vec<crate::cache::AlarmRow> {
    let shared = !tenants.iter().any(|(t, _)| t.model.owns_account());
    let dims: Vec<BTreeMap<String, Vec<String>>> = tenants.iter().map(|(t, r)| selectors.all(t, r)).collect();
    let mut rows = Vec::new();
    for a in alarms {
        let mut matched: Vec<&(&Tenant, String)> = tenants
            .iter()
            .zip(&dims)
            .filter(|((t, _), dims)| a.belongs_to(t.model.owns_account(), dims))
            .map(|(t, _)| t)
            .collect();
        let names_no_tenant = !a.dimensions.keys().any(|k| dims.iter().any(|d| d.contains_key(k)));
        let platform = shared && matched.is_empty() && names_no_tenant;
        if platform {
            matched = tenants.iter().collect();
        }
        for (t, region) in matched {
            let mut row = a.clone().into_row(&t.id, region);
            row.platform = platform;
            rows.push(redacted(row, t));
        }
    }
    rows
}

/// The account-region's state changes, kept for the tenants each alarm
/// belongs to (changes of alarms nobody in the fleet owns are dropped).
fn attribute_history(
    tenants: &[(&Tenant, String)],
    rows: &[crate::cache::AlarmRow],
    items: Vec<collect::HistoryItem>,
) -> Vec<crate::cache::AlarmChange> {
    let personal: HashMap<&str, bool> = tenants.iter().map(|(t, _)| (t.id.as_str(), t.redact_personal)).collect();
    let mut owners: HashMap<&str, Vec<&crate::cache::AlarmRow>> = HashMap::new();
    for r in rows {
        owners.entry(r.name.as_str()).or_default().push(r);
    }
    let mut out = Vec::new();
    for item in items {
        for r in owners.get(item.alarm_name.as_str()).into_iter().flatten() {
            let summary = if personal.get(r.tenant_id.as_str()).copied().unwrap_or(true) {
                crate::redact::redact(&item.summary)
            } else {
                crate::redact::redact_secrets(&item.summary)
            };
            out.push(crate::cache::AlarmChange {
                tenant_id: r.tenant_id.clone(),
                region: r.region.clone(),
                alarm_name: item.alarm_name.clone(),
                at: item.at,
                summary,
            });
        }
    }
    out
}

/// Where an account-region's history read starts (epoch s), if it needs
/// one. An alarm whose last change (from DescribeAlarms) is newer than the
/// newest change on record for it changed since the last read, perhaps more
/// than once: it is read from just after that record. An alarm with no
/// record is read from a day back, and only if it changed within that day:
/// one that last changed earlier has held its state all day, and that
/// change's time (StateTransitionedTimestamp) already dates its episode.
/// Never before the 30 days CloudWatch keeps alarm history. When no alarm
/// changed, nothing is read: the alarms already say so.
fn history_since<'a>(
    now_ms: i64,
    known: &HashMap<String, i64>,
    alarms: impl Iterator<Item = &'a collect::RawAlarm>,
) -> Option<i64> {
    const DAY_MS: i64 = clock::ms(DAY);
    // A day's margin inside the retention, so the change is still there.
    let kept_from = now_ms - 29 * DAY_MS;
    alarms
        .filter_map(|a| a.transitioned_at.map(|at| (a, at)))
        .filter(|(a, at)| match known.get(&a.row.name) {
            Some(k) => k < at && *at > kept_from,
            None => *at > now_ms - DAY_MS,
        })
        .map(|(a, _)| match known.get(&a.row.name) {
            Some(k) => k + 1,
            None => now_ms - DAY_MS,
        })
        .min()
        .map(|since| clock::secs(since.max(now_ms - 30 * DAY_MS)))
}

async fn assume(run: &Run<'_>, arn: &str, ext: Option<&str>) -> (SharedCredentialsProvider, Result<(), Failure>) {
    let creds = run.aws.role(arn, ext).await;
    let result = run.aws.check(&creds, arn, ext).await;
    run.step("credentials", format!("assumed {arn}"));
    (creds, result)
}

/// A series' resources, one dimension set each (every combination of the
/// values), and its identity, which names where the values came from, so
/// that a load balancer added later continues the series; or the
/// dimensions it has no value for.
#[allow(clippy::type_complexity)]
fn resources_of<'s>(
    selectors: &tags::Selectors,
    cost_tag: &str,
    t: &Tenant,
    region: &str,
    spec: &'s MetricSpec,
) -> Result<(Vec<BTreeMap<String, String>>, serde_json::Map<String, serde_json::Value>), Vec<&'s str>> {
    let mut resources: Vec<BTreeMap<String, String>> = vec![BTreeMap::new()];
    let mut identity = serde_json::Map::new();
    let mut missing: Vec<&str> = Vec::new();
    for d in &spec.dimensions {
        let Some(v) = selectors.values(t, region, d) else {
            missing.push(d);
            continue;
        };
        resources = resources
            .into_iter()
            .flat_map(|set| {
                v.values.iter().map(move |value| {
                    let mut set = set.clone();
                    set.insert(d.clone(), value.clone());
                    set
                })
            })
            .collect();
        identity.insert(
            d.clone(),
            match (&v.values[..], v.from_tag) {
                (_, true) => format!("tag:{cost_tag}={}", t.id).into(),
                ([one], false) => one.clone().into(),
                (many, false) => many.to_vec().into(),
            },
        );
    }
    if missing.is_empty() {
        Ok((resources, identity))
    } else {
        Err(missing)
    }
}

/// What a planned series asks CloudWatch for. The selectors are the ones
/// it was planned with (set once per sync), so its resources are found
/// again as they were.
fn query_of(run: &Run<'_>, r: &ReadSpec<'_>) -> QuerySpec {
    let resources = resources_of(run.selectors(), &run.fleet.cost_tag, r.tenant, r.region, r.spec)
        .map(|(resources, _)| resources)
        .unwrap_or_default();
    QuerySpec {
        namespace: r.spec.namespace.clone(),
        metric_name: r.spec.name.clone(),
        resources,
        stat: r.spec.stat.clone(),
        period: r.spec.period,
        account_id: linked_account(run.fleet, r.tenant, r.region),
    }
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
    let queries: Vec<QuerySpec> = call.reads.iter().map(|&i| query_of(run, &specs[i])).collect();
    // The tenant-regions it covers, once each (a call holds up to 500
    // series, 20 or so of each tenant-region).
    let scope: Vec<(String, String)> = call
        .reads
        .iter()
        .map(|&i| (specs[i].tenant.id.as_str(), specs[i].region))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|(t, r)| (t.to_string(), r.to_string()))
        .collect();
    let mut incomplete: Vec<((String, String), Failure)> = Vec::new();
    let result = match collect::metric_data(&client, run.aws, &call.target, &queries, call.start, call.end).await {
        Ok(answer) => {
            // A series CloudWatch answered only in part is not committed:
            // its watermark stays, so the next sync reads the window again,
            // and its tenant-region says why.
            for (q, why) in &answer.incomplete {
                let i = call.reads[*q];
                incomplete.push((
                    (specs[i].tenant.id.clone(), specs[i].region.to_string()),
                    Failure {
                        status: SourceStatus::Error,
                        message: format!("{why}: not kept; the next sync reads it again"),
                        remediation: "none if the next sync reads it whole; else see the message".into(),
                    },
                ));
            }
            let skip: std::collections::HashSet<usize> = answer.incomplete.iter().map(|(q, _)| *q).collect();
            let (kept, batch): (Vec<usize>, Vec<PointBatch>) = call
                .reads
                .iter()
                .zip(answer.points)
                .enumerate()
                .filter(|(q, _)| !skip.contains(q))
                .map(|(_, (&i, points))| (i, PointBatch { series_id: reads[i].series_id, points, watermark: call.end }))
                .unzip();
            let committed = match detect_anomalies(run, &kept, specs, &batch).await {
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
                    status: SourceStatus::Error,
                    message: format!("cache write failed: {e}"),
                    remediation: "see the log".into(),
                }),
            }
        }
        Err(f) => Err(f),
    };
    run.step("metrics", format!("{} {}: {} series", call.target.account, call.target.region, queries.len()));
    (scope, result, incomplete)
}

/// Run the detectors of a call's series over their new points: one read of
/// their saved states, then memory only (the detector does millions of
/// points a second; a call carries at most 100,800).
async fn detect_anomalies(
    run: &Run<'_>,
    reads: &[usize],
    specs: &[ReadSpec<'_>],
    batch: &[PointBatch],
) -> Result<Vec<ScoredSeries>, CacheError> {
    let ids: Vec<i64> = batch.iter().map(|b| b.series_id).collect();
    let saved = run.cache.saved_detectors(&ids).await?;
    Ok(reads
        .iter()
        .zip(batch)
        .filter_map(|(&i, b)| {
            let ReadSpec { tenant, region, spec } = specs[i];
            let meta = SeriesMeta::new(b.series_id, &tenant.id, region, spec);
            analysis::score(&meta, saved.get(&b.series_id), &b.points)
        })
        .collect())
}

/// The job of one account-region: its alarms and, once they are read, the
/// state changes since the last read (an optional read: its failure costs
/// the timeline its history, not the alarms).
#[allow(clippy::type_complexity)]
async fn alarm_call<'t, 'f>(
    run: &Run<'_>,
    target: &'t Target,
    tenants: &'t [(&'f Tenant, String)],
    creds: SharedCredentialsProvider,
    known: HashMap<String, i64>,
) -> (
    &'t Target,
    &'t [(&'f Tenant, String)],
    Result<(Vec<collect::RawAlarm>, Result<Vec<collect::HistoryItem>, Failure>), Failure>,
) {
    let client = run.aws.cloudwatch(&creds, &target.role_arn, &target.region);
    let alarms = collect::alarms(&client, run.aws, target).await;
    run.step("alarms", format!("{} {}", target.account, target.region));
    let alarms = match alarms {
        Ok(a) => a,
        Err(f) => return (target, tenants, Err(f)),
    };
    // One read per alarm type that changed (the API answers for one type
    // a call); after a failed read the other is not tried.
    let mut history: Result<Vec<collect::HistoryItem>, Failure> = Ok(Vec::new());
    for (kind, composite) in [(AlarmType::MetricAlarm, false), (AlarmType::CompositeAlarm, true)] {
        let Ok(items) = &mut history else { break };
        let Some(since) = history_since(run.now_ms(), &known, alarms.iter().filter(|a| a.composite == composite))
        else {
            continue;
        };
        match collect::alarm_history(&client, run.aws, target, kind, since).await {
            Ok(more) => items.extend(more),
            Err(f) => history = Err(f),
        }
    }
    if let Err(f) = &history {
        tracing::debug!("alarm history of {} {} unavailable: {}", target.account, target.region, f.message);
    }
    (target, tenants, Ok((alarms, history)))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(name: &str, transitioned_at: i64) -> collect::RawAlarm {
        let mut a = collect::tests::alarm(&[]);
        a.row.name = name.into();
        a.transitioned_at = Some(transitioned_at);
        a
    }

    #[test]
    fn history_is_read_only_where_an_alarm_changed_since_the_record_or_within_the_day() {
        let now = clock::ms(1_800_000_000);
        let day = clock::ms(DAY);
        let none = HashMap::new();
        // No record, last changed three days ago: its state held all day.
        assert_eq!(history_since(now, &none, [alarm("a", now - 3 * day)].iter()), None);
        // No record, changed two hours ago: from a day back.
        assert_eq!(history_since(now, &none, [alarm("a", now - 7_200_000)].iter()), Some(clock::secs(now - day)));
        // A record older than the change: from just after it.
        let known = HashMap::from([("a".to_string(), now - 5 * day)]);
        assert_eq!(history_since(now, &known, [alarm("a", now - day)].iter()), Some(clock::secs(now - 5 * day + 1)));
        // The record already holds the change: nothing to read.
        let known = HashMap::from([("a".to_string(), now - day)]);
        assert_eq!(history_since(now, &known, [alarm("a", now - day)].iter()), None);
    }

    #[test]
    fn the_monitoring_accounts_alarms_go_to_the_tenant_whose_account_and_resources_they_name() {
        let text = "[fleet]\nregion = \"us-east-1\"\n\
                    [monitoring]\naccount = \"999988887777\"\nrole_name = \"M\"\nregions = [\"us-east-1\"]\n\
                    [[tenant]]\nid = \"silo\"\ntier = \"t\"\nmodel = \"silo\"\naccount = \"111111111111\"\n\
                    via = \"monitoring\"\nhome_region = \"us-east-1\"\n\
                    [[tenant]]\nid = \"p1\"\ntier = \"t\"\nmodel = \"pooled\"\naccount = \"222222222222\"\n\
                    via = \"monitoring\"\nhome_region = \"us-east-1\"\n\
                    [[tenant]]\nid = \"p2\"\ntier = \"t\"\nmodel = \"pooled\"\naccount = \"222222222222\"\n\
                    via = \"monitoring\"\nhome_region = \"us-east-1\"\n";
        let fleet = Fleet::parse(std::path::Path::new("f.toml"), text, &Catalog::builtin().unwrap()).unwrap();
        let tenants: Vec<(&Tenant, String)> = fleet.tenants.iter().map(|t| (t, "us-east-1".to_string())).collect();
        let on = |name: &str, account: Option<&str>, dims: &[(&str, &str)]| {
            let mut a = collect::tests::alarm(dims);
            a.row.name = name.into();
            a.account = account.map(str::to_string);
            a
        };
        let alarms = vec![
            on("silo-5xx", Some("111111111111"), &[("LoadBalancer", "app/x/1")]),
            on("p2-errors", Some("222222222222"), &[("TenantId", "p2")]),
            // Another account's, and the monitoring account's own: nobody's.
            on("stranger", Some("555555555555"), &[]),
            on("own-billing", None, &[]),
        ];
        let rows = attribute_linked(&tenants, &tags::Selectors::default(), alarms);
        let got: Vec<(&str, &str)> = rows.iter().map(|r| (r.tenant_id.as_str(), r.name.as_str())).collect();
        assert_eq!(got, [("silo", "silo-5xx"), ("p2", "p2-errors")]);
    }
}
