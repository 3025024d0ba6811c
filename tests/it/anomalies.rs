//! Anomalies on the simulated fleet, as an on-call engineer meets them: the
//! sync finds the injected incidents and says in words what is unusual,
//! stays quiet about the tenants that are fine, carries each series'
//! detector from one sync to the next without scoring a point twice, and
//! health and the incident timeline show what it found.
//!
//! Every test starts its own simulated fleet (the first 24 tenants of the
//! plan: every isolation model, three regions, the three incidents; the
//! false-alarm test 320) with its clock frozen, and syncs it into a cache
//! file of its own.

use std::collections::BTreeMap;
use std::sync::Mutex;

use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::model::{SyncProgress, SyncSummary};
use fleetdeck_engine::sync::{self, SyncOptions};
use fleetdeck_sim::SimKnobs;
use sqlx::Row;

use fleetdeck_testkit::world::{epoch_now, World};

const TENANTS: usize = 24;

/// This file's own ways to start and drive a [`World`].
#[allow(async_fn_in_trait)]
trait Local {
    /// [`TENANTS`] tenants placed at `epoch`, with the built-in catalog.
    async fn start(epoch: i64) -> World;
    /// One whole sync at `now` (the simulator's clock moved there too),
    /// with the progress reports it streamed.
    async fn sync(&self, cache: &Cache, now: i64) -> (SyncSummary, Vec<SyncProgress>);
    async fn sync_with(&self, cache: &Cache, opts: &SyncOptions) -> (SyncSummary, Vec<SyncProgress>);
}

impl Local for World {
    /// [`TENANTS`] tenants placed at `epoch`, with the built-in catalog.
    async fn start(epoch: i64) -> World {
        World::start_with(TENANTS, Catalog::builtin().expect("built-in catalog"), epoch).await
    }

    /// One whole sync at `now` (the simulator's clock moved there too),
    /// with the progress reports it streamed.
    async fn sync(&self, cache: &Cache, now: i64) -> (SyncSummary, Vec<SyncProgress>) {
        self.sync_with(cache, &SyncOptions::at(now)).await
    }

    async fn sync_with(&self, cache: &Cache, opts: &SyncOptions) -> (SyncSummary, Vec<SyncProgress>) {
        self.sim.set_knobs(SimKnobs { clock: Some(opts.now), ..SimKnobs::default() });
        let aws = self.aws().await;
        let seen = Mutex::new(Vec::new());
        let summary = sync::run(&self.fleet, &self.catalog, &aws, cache, opts, &|p| seen.lock().unwrap().push(p))
            .await
            .expect("the sync completes");
        assert_eq!(summary.sources_failed, 0, "sources failed: {:#?}", summary.errors);
        (summary, seen.into_inner().unwrap())
    }
}

/// One stored anomaly episode, by content.
#[derive(Debug, Clone, PartialEq)]
struct Episode {
    tenant: String,
    region: String,
    metric: String,
    start: i64,
    end: Option<i64>,
    through: i64,
    direction: String,
    peak_ts: i64,
    peak_value: f64,
    expected: f64,
    explanation: String,
}

async fn episodes(cache: &Cache) -> Vec<Episode> {
    sqlx::query(
        "SELECT tenant_id, region, metric_key, start, \"end\", through_ts, direction, peak_ts, peak_value, expected,
                explanation
         FROM anomaly ORDER BY tenant_id, region, metric_key, start",
    )
    .fetch_all(cache.pool())
    .await
    .expect("read anomalies")
    .iter()
    .map(|r| Episode {
        tenant: r.get(0),
        region: r.get(1),
        metric: r.get(2),
        start: r.get(3),
        end: r.get(4),
        through: r.get(5),
        direction: r.get(6),
        peak_ts: r.get(7),
        peak_value: r.get(8),
        expected: r.get(9),
        explanation: r.get(10),
    })
    .collect()
}

/// (series id, through_ts) of every saved detector.
async fn detectors(cache: &Cache) -> BTreeMap<i64, i64> {
    sqlx::query("SELECT series_id, through_ts FROM detector_state")
        .fetch_all(cache.pool())
        .await
        .expect("read detectors")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// (points, series) of the analysis report: "scored N new points of M
/// series for anomalies ...".
fn scored(progress: &[SyncProgress]) -> (u64, u64) {
    let p = progress.iter().find(|p| p.phase == "analysis").expect("an analysis progress report");
    let words: Vec<&str> = p.message.split_whitespace().collect();
    match words[..] {
        ["scored", points, "new", "points", "of", series, "series", ..] => {
            (points.parse().expect("points"), series.parse().expect("series"))
        }
        _ => panic!("unexpected analysis report: {}", p.message),
    }
}

/// (health, reasons, focus metric) stored for a tenant-region.
async fn health(cache: &Cache, tenant: &str, region: &str) -> (String, Vec<String>, Option<String>) {
    let r = sqlx::query("SELECT health, reasons, focus_metric FROM health WHERE tenant_id = ?1 AND region = ?2")
        .bind(tenant)
        .bind(region)
        .fetch_one(cache.pool())
        .await
        .expect("a health row");
    (r.get(0), serde_json::from_str(r.get::<&str, _>(1)).expect("reasons are JSON"), r.get(2))
}

/// Where the simulator put its incidents (tests/faults.rs and sim/fleet.rs).
const SPIKE: (&str, &str, &str) = ("globex", "us-east-1", "errors");
const RAMP: (&str, &str, &str) = ("initech", "eu-west-1", "latency_p99");
const SPIKE_BEFORE_NOW: i64 = 45 * 60;
const RAMP_BEFORE_NOW: i64 = 2 * 3600;

fn on(e: &Episode, (tenant, region, metric): (&str, &str, &str)) -> bool {
    e.tenant == tenant && e.region == region && e.metric == metric
}

/// Where the simulator put the incidents the fleet's peers reveal: a broken
/// deploy at one tenant (its name is drawn from the seed) and a regional
/// slowdown (sim/fleet.rs).
struct Injected {
    /// (tenant, region) of the broken deploy, and its start (epoch s).
    deploy: (String, String),
    deploy_start: i64,
    /// Region of the slowdown, its start and end (epoch s).
    slowdown: (String, i64, i64),
    /// The tenant whose pods tripled (the cost jump), and from when.
    pods: (String, i64),
}

impl Injected {
    fn of(world: &World) -> Injected {
        let (t, region, deploy_start) = world.sim.peer_departure().expect("the simulator has a broken deploy");
        let (r, from, to) = world.sim.region_shift().expect("the simulator has a regional slowdown");
        let (jumped, since) = world.sim.cost_jump().expect("the simulator has a cost jump");
        Injected {
            deploy: (t.id.clone(), region.to_string()),
            deploy_start,
            slowdown: (r.to_string(), from, to),
            pods: (jumped.id.clone(), since),
        }
    }

    /// Neither the spike, the ramp nor the broken deploy is at this
    /// tenant-region (the slowdown is judged by metric and time).
    fn quiet(&self, tenant: &str, region: &str) -> bool {
        let at = |(t, r): (&str, &str)| tenant == t && region == r;
        !at((SPIKE.0, SPIKE.1)) && !at((RAMP.0, RAMP.1)) && !at((&self.deploy.0, &self.deploy.1))
    }

    /// Whether something of `metric` in `region` through `through` (epoch s)
    /// may be the slowdown's doing.
    fn slowdown(&self, region: &str, metric: &str, through: i64) -> bool {
        region == self.slowdown.0 && metric == "latency_p99" && through >= self.slowdown.1
    }

    /// Whether something of `tenant`'s `metric` through `through` may be
    /// its pods tripling (the cost jump, real usage: an anomaly to find).
    fn pods_jump(&self, tenant: &str, metric: &str, through: i64) -> bool {
        tenant == self.pods.0 && metric == "pods" && through >= self.pods.1
    }
}

// ---------------------------------------------------------------------------

/// Globex's 5xx spike began 45 minutes ago; Initech's p99 latency has been
/// climbing for two hours. After one sync the engineer sees both as
/// anomalies that say what is wrong in words, starting when the trouble
/// did, and globex's health names the anomaly and points at its errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_injected_incidents_are_found_explained_and_shown_in_health() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(epoch_now()).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    world.sync(&cache, world.epoch).await;
    let found = episodes(&cache).await;

    let spike_start = world.epoch - SPIKE_BEFORE_NOW;
    let spike: Vec<&Episode> = found.iter().filter(|e| on(e, SPIKE)).collect();
    assert!(
        spike.iter().any(|e| (spike_start..=spike_start + 3 * 60).contains(&e.start) && e.direction == "up"),
        "no anomaly on globex us-east-1 errors within 3 minutes of the spike at {spike_start}: {spike:#?}"
    );
    let e = spike.iter().find(|e| e.start >= spike_start).unwrap();
    eprintln!("globex's spike found {} s after it began", e.start - spike_start);
    // "5xx errors 39.3x its usual level (78 per minute against 1.99 per minute) for 5 minutes"
    assert!(
        e.explanation.starts_with("5xx errors ")
            && e.explanation.contains("x its usual ")
            && e.explanation.contains(" per minute against "),
        "{}",
        e.explanation
    );
    assert!(e.peak_value > 10.0 * e.expected, "{e:?}");

    let ramp_start = world.epoch - RAMP_BEFORE_NOW;
    let e = ramp_episode(&found, &world);
    // The ramp climbs from the tenant's usual p99 (~0.3 s) to 3 s over two
    // hours: 3 minutes in it is ~0.37 s, within the minute-to-minute noise
    // (6%) of a busy hour. It is found 7 to 8 minutes in (issue 20 asks for
    // 3; the detector does not get there yet).
    eprintln!("initech's ramp found {} s after it began", e.start - ramp_start);
    assert!(e.start <= ramp_start + 10 * 60, "the ramp found later than 10 minutes in: {e:?}");
    // "p99 latency 1.46x its usual level (0.46 s against 0.316 s)"
    assert!(
        e.explanation.starts_with("p99 latency ")
            && e.explanation.contains("x its usual ")
            && e.explanation.contains(" s against "),
        "{}",
        e.explanation
    );

    let (h, reasons, focus) = health(&cache, "globex", "us-east-1").await;
    assert_eq!(h, "critical", "{reasons:#?}");
    assert!(reasons.iter().any(|r| r.starts_with("anomaly: 5xx errors ")), "no anomaly among {reasons:#?}");
    assert!(reasons.iter().any(|r| r.starts_with("alarm ")), "no alarm among {reasons:#?}");
    assert_eq!(focus.as_deref(), Some("errors"));
}

/// The upward episode on initech's p99 latency that starts during its
/// ramp (two hours before the sync, until the sync).
fn ramp_episode<'a>(found: &'a [Episode], world: &World) -> &'a Episode {
    let ramp_start = world.epoch - RAMP_BEFORE_NOW;
    let ramp: Vec<&Episode> = found.iter().filter(|e| on(e, RAMP)).collect();
    ramp.iter()
        .find(|e| (ramp_start..world.epoch).contains(&e.start) && e.direction == "up")
        .copied()
        .unwrap_or_else(|| panic!("no anomaly on initech eu-west-1 p99 latency during the ramp: {ramp:#?}"))
}

/// The ramp is found as soon whatever the hour the tests run at. It
/// begins two hours before the sync; run at 16:00 UTC on a weekday, it
/// begins at 14:00, the daily peak, where the tenant's usual p99 is
/// highest (1.15x its base). The bug this pins: the simulated regression
/// climbed from the tenant's base p99, not from where its p99 was, so at
/// the peak the "regression" first stepped 13% down and was found 10
/// minutes in (on six different days), while at night it stepped up and
/// was found sooner: the test above passed or failed by the hour of the
/// run. From where it was, it is found 7 to 8 minutes in at the peak.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_latency_ramp_at_the_daily_peak_is_found_as_soon() {
    // The last weekday 16:00 UTC before now (the simulated history needs
    // the week before it).
    let day = 86_400;
    let mut epoch = epoch_now() / day * day - day + 16 * 3600;
    while matches!((epoch / day + 4).rem_euclid(7), 0 | 6) {
        epoch -= day;
    }
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(epoch).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    world.sync(&cache, world.epoch).await;
    let ramp_start = world.epoch - RAMP_BEFORE_NOW;
    let found = episodes(&cache).await;
    let e = ramp_episode(&found, &world);
    eprintln!("initech's ramp at 14:00 UTC found {} s after it began", e.start - ramp_start);
    assert!(e.start <= ramp_start + 9 * 60, "the ramp found later than 9 minutes in: {e:?}");
}

/// Two weeks of a quiet fleet of 320 tenants (every tenant-region but
/// the incidents'): the engineer is not paged for noise. Issue 20's goal:
/// at most one false episode per 5,000 series-days (at F200's 12,000
/// series, one every five days or so, instead of 20 a day).
///
/// Why this many: one week of 24 tenants (about 550 series-days, this
/// test until 2026-12-07) could only show a rate below one in 180 even
/// with no episode at all. Here about 15,800 series-days are scored, so
/// the bound (3 episodes) is the goal's rate itself, and a run with none
/// shows the rate below one in 5,000 (95%, Poisson). Two weeks, so the
/// detector's shift channel, which waits for a week of history, speaks
/// for the second (its likelihood channel waits a day, so the first
/// weekend is in its sight); 1-minute data is kept 15 days by
/// CloudWatch. The simulated data moves with the real clock (see
/// `epoch_now`): on 2026-12-07, runs at three times gave 0, 1 and 0
/// episodes (the one: requests 29% below the usual 03:45 level, the
/// simulator's own day-to-day wobble). This is the detector on the
/// simulator's traffic, whose noise is this project's own model: a
/// witness for the method, not a measurement of a real fleet.
///
/// The simulator's injected incidents are not "quiet": the spike's, the
/// ramp's and the broken deploy's tenant-regions, the regional slowdown's
/// p99 latency from its start, and the cost jump's tripled pods (real
/// usage, which the detector rightly finds: it was counted as noise in
/// this test until 2026-12-07).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_tenants_raise_at_most_one_anomaly_per_5000_series_days() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start_with(320, Catalog::builtin().expect("built-in catalog"), epoch_now()).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let opts = SyncOptions { backfill_secs: 14 * 86_400, ..SyncOptions::at(world.epoch) };
    world.sync_with(&cache, &opts).await;

    let injected = Injected::of(&world);
    let mut series_days = 0.0;
    for r in sqlx::query(
        "SELECT s.tenant_id, s.region, count(*) FROM datapoint d JOIN series s ON s.id = d.series_id GROUP BY s.id",
    )
    .fetch_all(cache.pool())
    .await
    .unwrap()
    {
        if injected.quiet(r.get(0), r.get(1)) {
            // One-minute points.
            series_days += r.get::<i64, _>(2) as f64 / 1440.0;
        }
    }
    assert!(series_days > 15_000.0, "the premise: two weeks of the fleet were scored ({series_days:.0} series-days)");
    let noise: Vec<Episode> = episodes(&cache)
        .await
        .into_iter()
        .filter(|e| {
            injected.quiet(&e.tenant, &e.region)
                && !injected.slowdown(&e.region, &e.metric, e.through)
                && !injected.pods_jump(&e.tenant, &e.metric, e.through)
        })
        .collect();
    let rate = noise.len() as f64 / series_days;
    eprintln!("quiet tenant-regions: {} anomaly episodes in {series_days:.0} series-days: {noise:#?}", noise.len());
    assert!(rate <= 1.0 / 5_000.0, "{} episodes in {series_days:.0} series-days: {noise:#?}", noise.len());
}

/// Five minutes after the first sync, the next one scores just the five
/// new minutes of each series (not the ten-minute overlap it re-reads),
/// and the episode that was going on is continued, not stored twice. Two
/// caches synced the same way hold the same anomalies, byte for byte.
///
/// The first sync runs two minutes into globex's spike, so that its
/// episode is still going on when the second sync comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_scores_only_new_points_and_continues_the_ongoing_episode() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(epoch_now()).await;
    let first_at = world.epoch - SPIKE_BEFORE_NOW + 2 * 60;
    let spike_start = world.epoch - SPIKE_BEFORE_NOW;

    let mut runs = Vec::new();
    for name in ["a", "b"] {
        let cache = Cache::open(&dir.path().join(format!("{name}.sqlite"))).await.unwrap();
        world.sync(&cache, first_at).await;
        let before = detectors(&cache).await;
        let first = episodes(&cache).await;
        let ongoing: Vec<&Episode> = first.iter().filter(|e| on(e, SPIKE) && e.start == spike_start).collect();
        assert_eq!(ongoing.len(), 1, "the premise: globex's spike is an episode after the first sync: {first:#?}");
        assert_eq!(ongoing[0].end, None, "the premise: the episode is ongoing: {:?}", ongoing[0]);

        // Points the detectors have not seen yet, as stored after the re-sync.
        let (_, progress) = world.sync(&cache, first_at + 300).await;
        let mut new_points = 0u64;
        let mut new_series = 0u64;
        for (series, through) in &before {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM datapoint WHERE series_id = ?1 AND ts > ?2")
                .bind(series)
                .bind(through)
                .fetch_one(cache.pool())
                .await
                .unwrap();
            new_points += n as u64;
            new_series += u64::from(n > 0);
        }
        assert!(new_series > 0 && new_points <= 5 * new_series, "{new_points} new points in {new_series} series");
        assert_eq!(scored(&progress), (new_points, new_series), "only points after each detector's through_ts");

        // Every detector is through its series' newest point.
        let after = detectors(&cache).await;
        assert_eq!(after.len(), before.len());
        for (series, through) in &after {
            let newest: i64 = sqlx::query_scalar("SELECT max(ts) FROM datapoint WHERE series_id = ?1")
                .bind(series)
                .fetch_one(cache.pool())
                .await
                .unwrap();
            assert_eq!(*through, newest, "series {series}");
        }
        assert!(after.values().any(|t| *t == first_at + 300 - 60), "{after:?}");

        let second = episodes(&cache).await;
        let spike: Vec<&Episode> = second.iter().filter(|e| on(e, SPIKE) && e.start >= spike_start).collect();
        assert_eq!(spike.len(), 1, "the spike's episode once, continued: {spike:#?}");
        assert!(spike[0].through > ongoing[0].through, "not extended: {:?} then {:?}", ongoing[0], spike[0]);
        // Every episode of the first sync is still there, once.
        for e in &first {
            let same = second.iter().filter(|s| on(s, (&e.tenant, &e.region, &e.metric)) && s.start == e.start);
            assert_eq!(same.count(), 1, "{e:?}");
        }
        let open: BTreeMap<(String, String, String), usize> =
            second.iter().filter(|e| e.end.is_none()).fold(BTreeMap::new(), |mut m, e| {
                *m.entry((e.tenant.clone(), e.region.clone(), e.metric.clone())).or_default() += 1;
                m
            });
        assert!(open.values().all(|n| *n == 1), "two ongoing episodes of one metric: {open:?}");

        let states: Vec<(i64, Vec<u8>, i64)> =
            sqlx::query_as("SELECT series_id, state, through_ts FROM detector_state ORDER BY series_id")
                .fetch_all(cache.pool())
                .await
                .unwrap();
        runs.push((second, states));
    }
    assert_eq!(runs[0].0, runs[1].0, "two caches synced alike hold different anomalies");
    assert!(runs[0].1 == runs[1].1, "two caches synced alike hold different detector states");
}

/// The incident timeline of the last day: globex's anomaly and its alarm,
/// Initech's anomaly, newest first; narrowed to the last ten minutes, what
/// ended before is gone and what is still in ALARM stays; narrowed to before
/// globex's spike, the spike is gone.
///
/// (Until sustained episodes stayed ongoing, the last ten minutes alone
/// narrowed globex's and initech's anomalies away, having "ended" minutes
/// into their incidents; now every incident of this story is still going
/// on at the sync, so the narrowing is shown by a window that ends earlier.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_timeline_merges_anomalies_and_alarms_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(epoch_now()).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    world.sync(&cache, world.epoch).await;
    let day = cache.incidents(world.epoch - 86_400, world.epoch).await.unwrap();

    let starts: Vec<i64> = day.iter().map(|i| i.start).collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]), "not newest first: {day:#?}");
    let spike_ms = (world.epoch - SPIKE_BEFORE_NOW) * 1000;
    let anomaly = day
        .iter()
        .find(|i| i.kind == "anomaly" && i.tenant == "globex" && i.region == "us-east-1" && i.subject == "errors")
        .unwrap_or_else(|| panic!("no globex errors anomaly: {day:#?}"));
    assert!((spike_ms..=spike_ms + 300_000).contains(&anomaly.start), "{anomaly:?}");
    assert!(anomaly.title.starts_with("5xx errors "), "{anomaly:?}");
    let stored = episodes(&cache).await;
    let e = stored.iter().find(|e| on(e, SPIKE) && e.start * 1000 == anomaly.start).unwrap();
    assert_eq!((anomaly.end, &anomaly.title), (e.end.map(|t| t * 1000), &e.explanation));

    let alarm = day
        .iter()
        .find(|i| i.kind == "alarm" && i.tenant == "globex" && i.region == "us-east-1" && i.end.is_none())
        .unwrap_or_else(|| panic!("no globex alarm still in ALARM: {day:#?}"));
    assert!(alarm.title.contains("from OK to ALARM"), "{alarm:?}");
    assert!(alarm.title.contains(&alarm.subject), "{alarm:?}");
    assert!(day.iter().any(|i| i.kind == "anomaly" && i.tenant == "initech"), "{day:#?}");

    let recent = cache.incidents(world.epoch - 600, world.epoch).await.unwrap();
    assert!(recent.iter().all(|i| i.end.is_none_or(|end| end >= (world.epoch - 600) * 1000)), "{recent:#?}");
    assert!(recent.iter().any(|i| i == alarm), "the alarm still in ALARM is in the last ten minutes: {recent:#?}");
    let until = world.epoch - SPIKE_BEFORE_NOW - 60;
    let before = cache.incidents(world.epoch - 86_400, until).await.unwrap();
    assert!(before.iter().all(|i| i.start <= until * 1000), "{before:#?}");
    // (A one-minute requests episode of globex the day before, which the
    // detector finds at some times of day, is not the spike.)
    let spike =
        |i: &&fleetdeck_engine::model::Incident| i.tenant == "globex" && (i.subject == "errors" || i.kind == "alarm");
    assert!(!before.iter().any(|i| spike(&i)), "the spike began after the window: {before:#?}");
    assert!(!before.is_empty() && before.len() < day.len(), "nothing was narrowed away: {before:#?}");
}

/// The account manager's cost spike: hooli's compute spend jumped three
/// days ago (the simulator's injected cost incident). It is on the incident
/// timeline as one ongoing cost episode with its dollar impact, and no other
/// tenant's steady spend raises one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_whose_daily_cost_jumped_shows_one_cost_incident_and_nobody_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(epoch_now()).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let (summary, _) = world.sync(&cache, world.epoch).await;
    assert_eq!(summary.sources_failed, 0, "{:#?}", summary.errors);

    let view = fleetdeck_engine::view::incidents(&cache, 24 * 7, world.epoch).await.unwrap();
    let cost: Vec<_> = view.incidents.iter().filter(|i| i.kind == "cost").collect();
    let hooli: Vec<_> = cost.iter().filter(|i| i.tenant == "hooli").collect();
    assert_eq!(hooli.len(), 1, "one cost episode for hooli: {cost:#?}");
    let jump = hooli[0];
    let day = world.epoch.div_euclid(86_400) - 3;
    assert_eq!(jump.start, day * 86_400_000, "it starts the day the spend jumped: {jump:?}");
    assert_eq!(jump.end, None, "still going on: {jump:?}");
    assert!(jump.subject.contains("Compute"), "{jump:?}");
    assert!(jump.title.contains("a day against a usual $") && jump.title.contains("over"), "{}", jump.title);
    let others: Vec<_> = cost.iter().filter(|i| i.tenant != "hooli").collect();
    assert!(others.is_empty(), "steady tenants raised cost anomalies: {others:#?}");
}

/// Cost Explorer calls the whole open month estimated (the simulator
/// follows it). The month's days are kept as estimated, yet judged once
/// settled (48 h), and not bought again every sync once settled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_month_is_estimated_yet_its_settled_days_are_judged_and_not_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(epoch_now()).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    world.sync(&cache, world.epoch).await;
    let today = fleetdeck_engine::clock::day_of(world.epoch);
    let first = today.format("%Y-%m-01").to_string();
    let (open, final_days): (i64, i64) =
        sqlx::query_as("SELECT sum(estimated = 1), sum(estimated = 0) FROM cost_daily WHERE day >= ?1")
            .bind(&first)
            .fetch_one(cache.pool())
            .await
            .unwrap();
    assert!(
        open > 0 && final_days == 0,
        "every day of the open month is estimated: {open} estimated, {final_days} final"
    );
    let settled = fleetdeck_engine::cost::stable_through(today).format("%Y-%m-%d").to_string();
    assert_eq!(cache.meta("cost_closed_through").await.unwrap().as_deref(), Some(settled.as_str()));
}

/// (health, reasons) of every tenant-region, by (tenant, region).
async fn all_health(cache: &Cache) -> BTreeMap<(String, String), (String, Vec<String>)> {
    sqlx::query("SELECT tenant_id, region, health, reasons FROM health")
        .fetch_all(cache.pool())
        .await
        .expect("health rows")
        .iter()
        .map(|r| {
            let reasons: Vec<String> = serde_json::from_str(r.get::<&str, _>(3)).expect("reasons are JSON");
            ((r.get(0), r.get(1)), (r.get(2), reasons))
        })
        .collect()
}

/// A broken deploy three hours ago at one premium tenant: 3% of its
/// requests fail, a few a minute at night, which its own detector does not
/// page for (fewer than five errors over its usual) while the rest of its
/// tier is steady. After one sync the engineer finds one peer departure,
/// attributed to that tenant and region, saying how far it is from its
/// tier; its health names it. Nobody else in the fleet departs from their
/// peers but the two incidents that really do (globex's outage, initech's
/// latency).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_whose_errors_depart_from_its_tier_is_named_and_nobody_else_is() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(epoch_now()).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    world.sync(&cache, world.epoch).await;
    let injected = Injected::of(&world);
    let (tenant, region) = (&injected.deploy.0, &injected.deploy.1);
    let tier = world.sim.tenants().iter().find(|t| &t.id == tenant).expect("the tenant").tier.as_str();

    let timeline = cache.incidents(world.epoch - 86_400, world.epoch).await.unwrap();
    let peers: Vec<_> = timeline.iter().filter(|i| i.kind == "peer").collect();
    let deploy: Vec<_> = peers.iter().filter(|i| &i.tenant == tenant && &i.region == region).collect();
    assert_eq!(deploy.len(), 1, "one departure at {tenant} {region}: {peers:#?}");
    let d = deploy[0];
    assert_eq!((d.subject.as_str(), d.end), ("errors", None), "{d:?}");
    assert!(d.start > injected.deploy_start * 1000, "{d:?}");
    // "5xx errors 7.62x the premium tier's median change over 20 min while
    // the tier is steady (3.7 per minute against a usual 0.109 per minute
    // in eu-west-1; 5 peers)"; with a few peers the tier's median may read
    // "while the tier moved 0.848x" (within the 1.5x a departure allows).
    let tier_phrase = format!("x the {tier} tier's median change over 20 min while the tier ");
    assert!(d.title.starts_with("5xx errors ") && d.title.contains(&tier_phrase), "{}", d.title);

    // Only the incidents that really depart from their tiers do.
    for p in &peers {
        let known = [(SPIKE.0, SPIKE.1, SPIKE.2), (RAMP.0, RAMP.1, RAMP.2), (tenant, region, "errors")];
        assert!(
            known.iter().any(|(t, r, m)| p.tenant == *t && p.region == *r && p.subject == *m),
            "a peer departure at a quiet tenant-region: {p:#?}"
        );
    }
    assert!(peers.iter().any(|p| p.tenant == SPIKE.0 && p.subject == SPIKE.2), "globex's outage: {peers:#?}");

    let health = all_health(&cache).await;
    let (h, reasons) = &health[&(tenant.clone(), region.clone())];
    assert_ne!(h, "ok", "{reasons:#?}");
    let named: Vec<&String> = reasons.iter().filter(|r| r.starts_with("peer: 5xx errors ")).collect();
    assert_eq!(named.len(), 1, "{reasons:#?}");
    assert!(named[0].contains(&tier_phrase), "{named:?}");
}

/// A regional slowdown: every tenant's p99 in ap-southeast-2 doubled 25
/// minutes ago. That is one incident for everybody: the timeline shows one
/// fleet-wide shift (tenant `*`) and none of the per-tenant anomalies or
/// peer departures it explains; each tenant-region that moved says in its
/// health that the shift is fleet-wide, the same words for all, instead of
/// an anomaly of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regional_slowdown_is_one_fleet_incident_not_one_alert_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(epoch_now()).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    world.sync(&cache, world.epoch).await;
    let injected = Injected::of(&world);
    let (region, from, _) = &injected.slowdown;

    let timeline = cache.incidents(world.epoch - 3600, world.epoch).await.unwrap();
    let fleet: Vec<_> = timeline.iter().filter(|i| i.kind == "fleet").collect();
    assert_eq!(fleet.len(), 1, "the slowdown once, and no other fleet-wide shift: {fleet:#?}");
    let shift = fleet[0];
    assert_eq!((shift.tenant.as_str(), &shift.region, shift.subject.as_str()), ("*", region, "latency_p99"));
    assert!(shift.end.is_none(), "{shift:?}");
    // "p99 latency 2.16x its usual level across ap-southeast-2: 5 of 5
    // tenant-regions moved together (median over 20 min)" ("x the fleet's
    // median change" on a Saturday or a Monday, against a Friday's or a
    // Sunday's usual level).
    assert!(
        shift.title.starts_with("p99 latency ")
            && shift.title.contains(&format!(" across {region}: "))
            && shift.title.contains(" tenant-regions moved together"),
        "{}",
        shift.title
    );
    let told_again: Vec<_> = timeline
        .iter()
        .filter(|i| i.kind != "fleet" && &i.region == region && i.subject == "latency_p99" && i.start >= from * 1000)
        .collect();
    assert!(told_again.is_empty(), "the slowdown told again per tenant: {told_again:#?}");

    // Who moved: every tenant-region of the region with a p99 latency.
    let stored = cache.recent_peer_anomalies(world.epoch - 3600).await.unwrap();
    let members = &stored.iter().find(|p| p.tenant_id == "*").expect("the shift's row").members;
    let with_latency: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT tenant_id, region FROM series WHERE region = ?1 AND metric_key = 'latency_p99' ORDER BY 1",
    )
    .bind(region)
    .fetch_all(cache.pool())
    .await
    .unwrap();
    assert!(with_latency.len() >= 4, "the premise: a region with several tenants: {with_latency:?}");
    assert_eq!(members, &with_latency);
    // Their own detectors did see it (which is what must not be N alerts).
    let own = episodes(&cache).await.into_iter().filter(|e| injected.slowdown(&e.region, &e.metric, e.through));
    assert!(own.count() >= 2, "the premise: the tenants' own detectors saw the slowdown");

    let health = all_health(&cache).await;
    let mut said = Vec::new();
    for key in members {
        let (h, reasons) = &health[key];
        assert_ne!(h, "ok", "{key:?}: {reasons:#?}");
        let fleet_wide: Vec<&String> = reasons.iter().filter(|r| r.starts_with("fleet-wide: p99 latency ")).collect();
        assert_eq!(fleet_wide.len(), 1, "{key:?}: {reasons:#?}");
        assert!(!reasons.iter().any(|r| r.starts_with("anomaly: p99 latency")), "{key:?}: {reasons:#?}");
        said.push(fleet_wide[0].clone());
    }
    said.dedup();
    assert_eq!(said, vec![format!("fleet-wide: {}", shift.title)], "one shift, named alike everywhere");

    // The Fleet view's "Anomalies, 24 h" card opens the Incidents view: it
    // counts the anomalies that view lists over 24 h (inside incidents too),
    // so the slowdown is not one anomaly per tenant there either. It counted
    // every episode begun in 24 h: 8 against the Incidents view's 3.
    let overview = fleetdeck_engine::view::fleet_overview(&cache, &world.catalog, false, world.epoch).await.unwrap();
    let listed = fleetdeck_engine::view::incidents(&cache, 24, world.epoch).await.unwrap();
    let anomalies = listed
        .incidents
        .iter()
        .flat_map(|i| std::iter::once(i).chain(&i.evidence))
        .filter(|i| i.kind == "anomaly")
        .count();
    assert_eq!(overview.anomalies_24h as usize, anomalies, "{:#?}", listed.incidents);
}

/// A week of the fleet with nothing injected (the six days before the
/// incidents), compared every 20 minutes as syncs would: quiet tenants
/// raise at most one peer departure or fleet-wide shift per 100
/// series-days of comparisons.
///
/// The measured rate is printed; the bound leaves room for the real-clock
/// data of any one run (see the detector's quiet test). Weekend days in the
/// week cross from weekday baselines to weekend ones, which is where a
/// naive comparison would see every tenant "shift".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_tenants_raise_at_most_one_peer_anomaly_per_100_series_days() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(epoch_now()).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let opts = SyncOptions { backfill_secs: 7 * 86_400, ..SyncOptions::at(world.epoch) };
    world.sync_with(&cache, &opts).await;
    // What the sync found now is the incidents'; replay the days before.
    sqlx::query("DELETE FROM peer_anomaly").execute(cache.pool()).await.unwrap();

    let window = fleetdeck_engine::peers::WINDOW_SECS;
    let (first, last) = (world.epoch - 6 * 86_400, world.epoch - 4 * 3600);
    let mut compared = 0usize;
    let mut at = first;
    while at <= last {
        compared += fleetdeck_engine::peers::compute(&cache, &world.fleet, &world.catalog, at).await.unwrap().series;
        at += window;
    }
    let series_days = compared as f64 * window as f64 / 86_400.0;
    assert!(series_days > 400.0, "the premise: days of the fleet were compared ({series_days:.0} series-days)");
    let found = cache.recent_peer_anomalies(0).await.unwrap();
    let rate = found.len() as f64 / series_days;
    eprintln!("{} peer anomalies in {series_days:.0} series-days of comparisons: {found:#?}", found.len());
    assert!(rate <= 1.0 / 100.0, "{} in {series_days:.0} series-days: {found:#?}", found.len());
}
