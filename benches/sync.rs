//! `cargo bench --bench sync`: fleet F200 (the README's "Benchmarks", sync) served
//! by the simulated fleet with 30 ms added latency and AWS's per
//! account-region quotas enforced. A 24 h backfill into an empty cache, then
//! a re-sync 5 minutes later (the simulator's clock is frozen, so both see
//! exactly the data a real fleet would have shown). Then the scale case,
//! F2000 (2,000 tenants over 1,500 accounts), the same way twice over the
//! same simulated data: through per-tenant roles, and through a CloudWatch
//! cross-account observability monitoring account, each mode in a process
//! of its own (see [`each_mode_alone`]). Every figure is printed
//! beside its bound computed in the same run; the last line is JSON.
//! `FLEETDECK_BENCH_CASE=f200` or `f2000` runs one case only. For profiling
//! (not figures): `FLEETDECK_BENCH_KEEP=<dir>` keeps F2000's backfilled
//! caches so that later runs re-sync copies of them only (see
//! [`resync_kept`]; compare builds within the hour of the keeping run:
//! later, every build's kept re-sync slowed by about 7 s, its alarms phase
//! most), and `FLEETDECK_BENCH_SQL_LOG=<file>` writes every SQL statement
//! with its elapsed time there. `FLEETDECK_BENCH_COST_CAP=<pages>` caps the
//! backfill's Cost Explorer pages (to see what reading the bill costs the
//! rest).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fleetdeck_engine::aws::{AwsAccess, AwsSettings};
use fleetdeck_engine::cache::{Cache, PointBatch, SeriesKey};
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::fleet::Fleet;
use fleetdeck_engine::plan::{self, SeriesRead};
use fleetdeck_sim::{SimFleet, SimKnobs, SimOptions, SimShape};

// (The child process serves the simulator; see `serve`.)
use fleetdeck_engine::sync::{self, SyncOptions};

const LATENCY: Duration = Duration::from_millis(30);

/// The allocator the `fleetdeck` program runs with (src-tauri/main.rs), so
/// that memory is measured as it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Elapsed times include waiting for the write lock: a statement's own
    // cost is best read from a run with one writer at a time.
    if let Ok(path) = std::env::var("FLEETDECK_BENCH_SQL_LOG") {
        let file = std::fs::File::create(path).unwrap();
        tracing_subscriber::fmt()
            .with_env_filter("sqlx::query=debug")
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .init();
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    // The simulated fleet runs in a child process (this same binary), so the
    // peak memory measured is fleetdeck's, not the simulator's.
    match std::env::var("FLEETDECK_BENCH_SIM") {
        Ok(dir) => rt.block_on(serve(std::path::PathBuf::from(dir))),
        Err(_) => {
            sample_rss();
            rt.block_on(run())
        }
    }
}

/// Child: serve F200, write its fleet file and catalog additions into
/// `dir`, print `ready <endpoint>`, then obey `clock <epoch>` and `stats`
/// lines on stdin until it closes.
async fn serve(dir: std::path::PathBuf) {
    use std::io::BufRead;
    let t0: i64 = std::env::var("FLEETDECK_BENCH_T0").ok().and_then(|v| v.parse().ok()).expect("T0");
    let f2000 = std::env::var("FLEETDECK_BENCH_SHAPE").is_ok_and(|s| s == "f2000");
    let shape = if f2000 { SimShape::f2000() } else { SimShape::f200() };
    let sim = SimFleet::start(SimOptions {
        seed: 7,
        shape: Some(shape),
        now: t0,
        monitoring: f2000,
        ..SimOptions::default()
    })
    .await
    .expect("sim");
    sim.set_knobs(SimKnobs { latency: LATENCY, clock: Some(t0), ..SimKnobs::aws_quotas() });
    std::fs::write(dir.join("fleet.toml"), sim.fleet_toml()).unwrap();
    if f2000 {
        std::fs::write(dir.join("fleet-monitoring.toml"), sim.monitoring_fleet_toml()).unwrap();
    }
    std::fs::write(dir.join("synthetic.toml"), sim.synthetic_catalog_toml()).unwrap();
    println!("ready {}", sim.endpoint());
    let lines = tokio::task::spawn_blocking(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if let Some(t) = line.strip_prefix("clock ").and_then(|t| t.parse::<i64>().ok()) {
                sim.set_knobs(SimKnobs { latency: LATENCY, clock: Some(t), ..SimKnobs::aws_quotas() });
                println!("ok");
            } else if line == "stats" {
                println!("rate_limited {}", sim.rate_limited());
            }
        }
    });
    let _ = lines.await;
}

/// The parent's handle on the simulator child.
struct SimChild {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl SimChild {
    fn ask(&mut self, line: &str) -> String {
        use std::io::Write;
        writeln!(self.input, "{line}").unwrap();
        self.input.flush().unwrap();
        self.output.next().expect("simulator answers").unwrap()
    }
}

impl Drop for SimChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// When each phase of a sync was first and last reported (phases overlap),
/// and the most memory the process held at any of its reports.
#[derive(Default)]
struct Phases(std::sync::Mutex<Vec<(String, Instant, Instant, f64)>>);

impl Phases {
    fn see(&self, phase: &str) {
        phase.clone_into(&mut LAST_PHASE.lock().unwrap());
        let now = Instant::now();
        let rss = rss_mb();
        let mut seen = self.0.lock().unwrap();
        match seen.iter_mut().find(|(p, _, _, _)| p == phase) {
            Some(entry) => {
                entry.2 = now;
                entry.3 = entry.3.max(rss);
            }
            None => seen.push((phase.to_string(), now, now, rss)),
        }
    }

    /// "metrics 0.01-2.10 (≤ 180 MB), ..." in seconds from the first
    /// report, and start afresh.
    fn take(&self, started: Instant) -> String {
        let seen = std::mem::take(&mut *self.0.lock().unwrap());
        let at = |t: Instant| (t - started).as_secs_f64();
        seen.iter()
            .map(|(p, a, b, rss)| format!("{p} {:.2}-{:.2} (RSS up to {rss:.0} MB)", at(*a), at(*b)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// This process's resident set now (VmRSS), in MB.
fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

/// CPU seconds (user + system, every thread) used so far by process `pid`
/// ("self" for this one), from /proc (USER_HZ is 100 on Linux).
fn cpu_s(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name, which is in parentheses.
            let rest = s.rsplit_once(") ")?.1.split_whitespace().collect::<Vec<_>>();
            Some((rest.get(11)?.parse::<f64>().ok()? + rest.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0)
}

/// Peak resident set of this process so far (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

/// A size line of /proc/self/status (`VmHWM:`, `VmRSS:`), in MB.
fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// The fewest calls and dollars any client could spend on the same sync:
/// GetMetricData packed to both limits, one AssumeRole per role, one
/// DescribeAlarms page per account-region, StartQuery and one
/// GetQueryResults per query, and the Cost Explorer pages of the three
/// reads. Priced as AWS bills: STS is free, and Logs Insights bills the
/// bytes its queries scan (`logs_dollars`, what this sync's queries
/// scanned: the same data scans the same bytes whoever asks).
fn minimum(
    fleet: &Fleet,
    catalog: &Catalog,
    now: i64,
    backfill: i64,
    starts: &BTreeMap<(String, String, String), i64>,
    ce_pages: u64,
    logs_dollars: f64,
) -> (u64, f64) {
    let end = plan::end_for(now);
    let mut reads = Vec::new();
    let mut roles = std::collections::BTreeSet::new();
    let mut account_regions = std::collections::BTreeSet::new();
    let mut queries = 0u64;
    let mut shared_groups: BTreeMap<(plan::Target, String), u64> = BTreeMap::new();
    let mut metrics = 0u64;
    for t in &fleet.tenants {
        for region in t.regions() {
            // Read where the sync reads it: its own role, or the
            // monitoring account (metrics and logs), and each account
            // whose alarms concern it.
            let (reader, alarms) = sync::reads_of(fleet, t, region);
            roles.insert((reader.role_arn.clone(), reader.external_id.clone()));
            for a in alarms {
                roles.insert((a.role_arn.clone(), a.external_id.clone()));
                account_regions.insert((a.role_arn, a.region));
            }
            if !t.selector.log_groups.is_empty() {
                // Through a monitoring account, tenants with log groups of
                // their own share an aggregation query, 50 groups a query
                // (all exact names here: one group each).
                for q in &catalog.logs {
                    let shareable = fleet.monitoring_for(t, region).is_some()
                        && t.selector.log_tenant_field.is_none()
                        && !q.raw_lines
                        && fleetdeck_engine::insights::packed(&q.render(None, "")).is_some();
                    if shareable {
                        *shared_groups.entry((reader.clone(), q.key.clone())).or_default() +=
                            t.selector.log_groups.len() as u64;
                    } else {
                        queries += 1;
                    }
                }
            }
            for spec in catalog.metrics_for(t.model) {
                let start = starts
                    .get(&(t.id.clone(), region.to_string(), spec.key.clone()))
                    .copied()
                    .unwrap_or(plan::start_for(None, now, backfill, 0, spec.period));
                reads.push(SeriesRead {
                    target: std::sync::Arc::new(reader.clone()),
                    series_id: 0,
                    period: spec.period,
                    start,
                    queries: 1,
                });
                metrics += 1;
            }
        }
    }
    let gmd = plan::minimum_calls(&reads, end);
    // A shared query over a target's groups is one query, unless that
    // target has a single tenant-region to read (then it is its own).
    queries +=
        shared_groups.values().map(|g| g.div_ceil(fleetdeck_engine::insights::MAX_LOG_GROUPS as u64)).sum::<u64>();
    let others = roles.len() as u64 + account_regions.len() as u64 + 2 * queries;
    let ce = if fleet.payer_account.is_some() { ce_pages } else { 0 };
    let calls = gmd + others + ce;
    // Each GetMetricData call bills its metrics; with one call per group the
    // bound is one billing per series.
    let describe_alarms = account_regions.len() as u64;
    let dollars =
        metrics as f64 * 0.01 / 1000.0 + ce as f64 * 0.01 + describe_alarms as f64 * 0.01 / 1000.0 + logs_dollars;
    (calls, dollars)
}

/// Start the simulator child serving `shape` ("f200" or "f2000") with its
/// clock at `t0`; it writes its fleet files and catalog additions in `dir`.
fn spawn_sim(dir: &std::path::Path, t0: i64, shape: &str) -> (SimChild, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env("FLEETDECK_BENCH_SIM", dir)
        .env("FLEETDECK_BENCH_T0", t0.to_string())
        .env("FLEETDECK_BENCH_SHAPE", shape)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the simulator");
    let input = child.stdin.take().unwrap();
    let mut output = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = output.next().expect("simulator started").unwrap();
    let endpoint = ready.strip_prefix("ready ").expect("ready line").to_string();
    (SimChild { child, input, output }, endpoint)
}

/// The catalog: the built-in metrics plus the simulator's filler gauges
/// (20 per tenant-region), one triage query per tenant-region.
fn bench_catalog(dir: &std::path::Path) -> Catalog {
    let builtin = include_str!("../queries/metrics.toml");
    let synthetic = std::fs::read_to_string(dir.join("synthetic.toml")).unwrap();
    std::fs::write(dir.join("metrics.toml"), format!("{builtin}\n{synthetic}")).unwrap();
    let logs = include_str!("../queries/logs.toml");
    // Up to the second query (the header's comments name `[[query]]` too).
    let first_query: String = logs.split("\n[[query]]").take(2).collect::<Vec<_>>().join("\n[[query]]");
    std::fs::write(dir.join("logs.toml"), first_query).unwrap();
    let catalog = Catalog::load(Some(dir)).expect("catalog");
    assert_eq!(catalog.logs.len(), 1, "the benchmark runs one Logs Insights query per tenant-region");
    catalog
}

async fn bench_aws(fleet: &Fleet, endpoint: &str) -> AwsAccess {
    AwsAccess::new(&AwsSettings {
        region: fleet.region.clone(),
        endpoint_url: Some(endpoint.to_string()),
        static_credentials: Some((SimFleet::ACCESS_KEY_ID.into(), SimFleet::SECRET_ACCESS_KEY.into())),
        static_session_token: None,
        max_attempts: fleetdeck_engine::aws::DEFAULT_MAX_ATTEMPTS,
        ..Default::default()
    })
    .await
}

/// Start a new peak for `peak_rss_mb` (Linux: "5" resets VmHWM).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    *PEAK.lock().unwrap() = (0.0, String::new());
}

/// The phase last reported, and the highest RSS sampled (every 50 ms, by
/// [`sample_rss`]) with the phase it was sampled in: a phase's "RSS up to"
/// is sampled only when it reports, so the peak can fall between reports.
static LAST_PHASE: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
static PEAK: std::sync::Mutex<(f64, String)> = std::sync::Mutex::new((0.0, String::new()));

fn sample_rss() {
    std::thread::spawn(|| loop {
        let rss = rss_mb();
        let mut peak = PEAK.lock().unwrap();
        if rss > peak.0 {
            *peak = (rss, LAST_PHASE.lock().unwrap().clone());
        }
        drop(peak);
        std::thread::sleep(Duration::from_millis(50));
    });
}

/// Where the sampled peak was: "574 MB in analysis: medians".
fn peak_at() -> String {
    let peak = PEAK.lock().unwrap();
    format!("{:.0} MB sampled, after the report of {:?}", peak.0, peak.1)
}

/// (action, calls) of one sync, most first.
type CallsByAction = Vec<(String, i64)>;

/// What one backfill and its re-sync five minutes later measured.
struct Measured {
    backfill: fleetdeck_engine::model::SyncSummary,
    resync: fleetdeck_engine::model::SyncSummary,
    backfill_s: f64,
    resync_s: f64,
    own_cpu: f64,
    sim_cpu: f64,
    rss: f64,
    /// Where the backfill's peak was sampled.
    rss_at: String,
    backfill_phases: String,
    resync_phases: String,
    /// ThrottlingExceptions over both syncs, and in the re-sync alone
    /// (the steady state).
    throttled: u64,
    throttled_resync: u64,
    /// What the backfill and the re-sync left of the bill unread ("" when
    /// it was read whole): Cost Explorer's pages past the floor are read
    /// only while the rest of a sync runs.
    cost_left: (String, String),
    min_calls: u64,
    min_dollars: f64,
    rows: i64,
    /// Calls by action: the backfill's, the re-sync's.
    by_action: (CallsByAction, CallsByAction),
    cache_mb: f64,
}

impl Measured {
    fn calls_ratio(&self) -> f64 {
        self.backfill.api_calls as f64 / self.min_calls as f64
    }

    fn assume_roles(&self) -> i64 {
        self.by_action.0.iter().filter(|(a, _)| a == "sts:AssumeRole").map(|(_, n)| n).sum()
    }
}

/// Calls by action of the first sync (`last` false) or the last one.
async fn calls_by_action(cache: &Cache, last: bool) -> CallsByAction {
    sqlx::query_as(
        "SELECT action, sum(calls) FROM api_call
         WHERE sync_id = (SELECT CASE WHEN ?1 THEN max(id) ELSE min(id) END FROM sync_run)
         GROUP BY action ORDER BY 2 DESC",
    )
    .bind(last)
    .fetch_all(cache.pool())
    .await
    .unwrap()
}

/// A 24 h backfill at `t0` into `cache`, then a re-sync at `t0 + 300`,
/// with the bound of the backfill's calls and dollars.
async fn sync_twice(
    fleet: &Fleet,
    catalog: &Catalog,
    aws: &AwsAccess,
    cache: &Cache,
    sim: &mut SimChild,
    t0: i64,
    keep: Option<&std::path::Path>,
) -> Measured {
    assert_eq!(sim.ask(&format!("clock {t0}")), "ok");
    // The simulator counts throttling over its life (both modes share it).
    let throttled_before: u64 =
        sim.ask("stats").strip_prefix("rate_limited ").and_then(|n| n.parse().ok()).expect("stats");
    reset_peak_rss();
    // `FLEETDECK_BENCH_COST_CAP=<pages>` (an experiment, not a figure):
    // the backfill buys at most that many Cost Explorer pages.
    let cap = std::env::var("FLEETDECK_BENCH_COST_CAP").ok().and_then(|v| v.parse().ok());
    let opts = SyncOptions { cost_pages_cap: cap, ..SyncOptions::at(t0) };
    let started = Instant::now();
    let phases = Phases::default();
    let sim_pid = sim.child.id().to_string();
    let (own_cpu0, sim_cpu0) = (cpu_s("self"), cpu_s(&sim_pid));
    let backfill = sync::run(fleet, catalog, aws, cache, &opts, &|p| phases.see(&p.phase)).await.expect("backfill");
    let backfill_phases = phases.take(started);
    let (own_cpu, sim_cpu) = (cpu_s("self") - own_cpu0, cpu_s(&sim_pid) - sim_cpu0);
    let backfill_s = started.elapsed().as_secs_f64();
    let rss = peak_rss_mb();
    let rss_at = peak_at();
    // Cost Explorer decides its page size: every page it returned was needed
    // once, so the bound counts the pages this sync read (a page read twice
    // would show as a second sync's calls, which the re-sync must not make).
    let ce_pages: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(calls), 0) FROM api_call WHERE action = 'ce:GetCostAndUsage' AND sync_id = (SELECT min(id) FROM sync_run)",
    )
    .fetch_one(cache.pool())
    .await
    .unwrap();
    let logs_dollars: f64 = sqlx::query_scalar(
        "SELECT coalesce(sum(dollars), 0.0) FROM api_call WHERE action LIKE 'logs:%' AND sync_id = (SELECT min(id) FROM sync_run)",
    )
    .fetch_one(cache.pool())
    .await
    .unwrap();
    let (min_calls, min_dollars) =
        minimum(fleet, catalog, t0, opts.backfill_secs, &BTreeMap::new(), ce_pages.max(3) as u64, logs_dollars);
    let backfill_calls = calls_by_action(cache, false).await;
    let throttled_backfill: u64 =
        sim.ask("stats").strip_prefix("rate_limited ").and_then(|n| n.parse().ok()).expect("stats");
    let cost_left_backfill = cache.meta(sync::COST_READING).await.unwrap().unwrap_or_default();
    if let Some(keep) = keep {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(cache.pool()).await.unwrap();
        std::fs::copy(cache.path().expect("a cache file"), keep).expect("keep the backfilled cache");
    }

    // Five minutes later.
    let t1 = t0 + 300;
    assert_eq!(sim.ask(&format!("clock {t1}")), "ok");
    let started = Instant::now();
    let resync =
        sync::run(fleet, catalog, aws, cache, &SyncOptions::at(t1), &|p| phases.see(&p.phase)).await.expect("resync");
    let resync_s = started.elapsed().as_secs_f64();
    let resync_phases = phases.take(started);
    let throttled: u64 = sim.ask("stats").strip_prefix("rate_limited ").and_then(|n| n.parse().ok()).expect("stats");
    let cost_left = (cost_left_backfill, cache.meta(sync::COST_READING).await.unwrap().unwrap_or_default());
    let rows = cache.datapoint_count().await.unwrap();
    let resync_calls = calls_by_action(cache, true).await;
    let path = cache.path().expect("a cache file").to_path_buf();
    let cache_mb = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|x| std::fs::metadata(format!("{}{x}", path.display())).ok())
        .map(|m| m.len() as f64)
        .sum::<f64>()
        / 1e6;
    Measured {
        backfill,
        resync,
        backfill_s,
        resync_s,
        own_cpu,
        sim_cpu,
        rss,
        rss_at,
        backfill_phases,
        resync_phases,
        throttled: throttled - throttled_before,
        throttled_resync: throttled - throttled_backfill,
        cost_left,
        min_calls,
        min_dollars,
        rows,
        by_action: (backfill_calls, resync_calls),
        cache_mb,
    }
}

async fn run() {
    let case = std::env::var("FLEETDECK_BENCH_CASE").unwrap_or_else(|_| "all".into());
    let mut json = serde_json::Map::new();
    if case == "all" || case == "f200" {
        json = f200().await;
    }
    if case == "all" || case == "f2000" {
        json.insert("f2000".into(), f2000().await);
    }
    println!("{}", serde_json::Value::Object(json));
}

async fn f200() -> serde_json::Map<String, serde_json::Value> {
    let t0 = fleetdeck_engine::clock::now() / 60 * 60;
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut sim, endpoint) = spawn_sim(dir.path(), t0, "f200");
    let catalog = bench_catalog(dir.path());
    let fleet_text = std::fs::read_to_string(dir.path().join("fleet.toml")).unwrap();
    let fleet = Fleet::parse(std::path::Path::new("<F200>"), &fleet_text, &catalog).expect("fleet");
    let aws = bench_aws(&fleet, &endpoint).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.expect("cache");
    let series: u64 =
        fleet.tenants.iter().map(|t| t.regions().count() as u64 * catalog.metrics_for(t.model).count() as u64).sum();
    eprintln!(
        "F200: {} tenants, {series} series, {} log queries",
        fleet.tenants.len(),
        fleet.tenants.iter().map(|t| t.regions().count()).sum::<usize>()
    );
    let m = sync_twice(&fleet, &catalog, &aws, &cache, &mut sim, t0, None).await;
    let opts = SyncOptions::at(t0);
    // What health looks like after the re-sync: unhealthy tenant-regions
    // re-run their triage queries every sync, so they shape its time.
    let health: Vec<(String, i64)> =
        sqlx::query_as("SELECT health, count(*) FROM health GROUP BY health ORDER BY health")
            .fetch_all(cache.pool())
            .await
            .unwrap();
    let reasons: Vec<(String,)> = sqlx::query_as("SELECT reasons FROM health WHERE health != 'ok' LIMIT 3")
        .fetch_all(cache.pool())
        .await
        .unwrap();
    eprintln!("health after the re-sync: {health:?}; e.g. {reasons:?}");
    let expected = series as i64 * (24 * 60 + 5);
    let (commit_per_s, recommit_per_s) = commit_path(dir.path(), t0).await;
    let points_per_s = m.backfill.datapoints as f64 / m.backfill_s;

    // Where the re-sync's calls go, by action: the start of a profile.
    eprintln!("re-sync calls by action: {:?}", m.by_action.1);
    eprintln!("backfill phases (s from start, first-last report): {}", m.backfill_phases);
    eprintln!("re-sync phases (s from start, first-last report):  {}", m.resync_phases);
    eprintln!("backfill peak RSS: {}", m.rss_at);
    // Series holding fewer rows than 24 h + 5 min: CloudWatch (and the
    // simulator) emit no datapoint for a period without samples.
    let short: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT s.metric_name, count(*), sum(1445 - n) FROM series s
         JOIN (SELECT series_id, count(*) AS n FROM datapoint GROUP BY series_id) d ON d.series_id = s.id
         WHERE n < 1445 GROUP BY s.metric_name ORDER BY 3 DESC LIMIT 5",
    )
    .fetch_all(cache.pool())
    .await
    .unwrap();
    eprintln!("series short of 1445 rows (metric, series, rows missing): {short:?}");

    let calls_ratio = m.calls_ratio();
    let (backfill_s, resync_s, own_cpu, sim_cpu, rss, rows) =
        (m.backfill_s, m.resync_s, m.own_cpu, m.sim_cpu, m.rss, m.rows);
    let (min_calls, min_dollars) = (m.min_calls, m.min_dollars);
    let bound_s = LATENCY.as_secs_f64() * min_calls as f64 / opts.concurrency as f64;
    println!("F200            value          bound / baseline (same run)");
    println!("calls_ratio     {calls_ratio:<14.3} <= 1.05   ({} calls, minimum {min_calls})", m.backfill.api_calls);
    println!("dollars         {:<14.4} = {min_dollars:.4} (minimum)", m.backfill.dollars);
    println!("backfill_s      {backfill_s:<14.2} <= 60     (latency x minimum calls / concurrency = {bound_s:.2} s)");
    println!(
        "resync_s        {resync_s:<14.2} <= 5      ({} calls, {} new points)",
        m.resync.api_calls, m.resync.datapoints
    );
    println!(
        "points_per_s    {points_per_s:<14.0} >= 1e6    (end to end; commit path alone: {commit_per_s:.0}/s new, {recommit_per_s:.0}/s delivered again)"
    );
    let per_cpu_s = m.backfill.datapoints as f64 / own_cpu.max(1e-9);
    println!(
        "points_per_cpu_s {per_cpu_s:<13.0} (backfill: fleetdeck used {own_cpu:.1} CPU-s, the simulator {sim_cpu:.1}, of {:.1} available on 2 cores)",
        2.0 * backfill_s
    );
    println!("throttled       {:<14} = 0 (re-sync: {})", m.throttled, m.throttled_resync);
    println!("peak_rss_mb     {rss:<14.1} <= 300");
    println!("rows            {rows:<14} = {expected} (24 h + 5 min of every series, no duplicates)");
    let failed = m.backfill.sources_failed + m.resync.sources_failed;
    println!("failed_sources  {failed:<14} = 0");
    let json = serde_json::json!({
        "calls_ratio": calls_ratio, "calls": m.backfill.api_calls, "min_calls": min_calls,
        "dollars": m.backfill.dollars, "min_dollars": min_dollars,
        "backfill_s": backfill_s, "backfill_bound_s": bound_s,
        "resync_s": resync_s, "points_per_s": points_per_s, "commit_points_per_s": commit_per_s,
        "recommit_points_per_s": recommit_per_s,
        "points_per_cpu_s": per_cpu_s, "backfill_cpu_s": own_cpu, "backfill_sim_cpu_s": sim_cpu,
        "throttled": m.throttled, "peak_rss_mb": rss, "rows": rows, "expected_rows": expected,
        "failed_sources": failed,
    });
    match json {
        serde_json::Value::Object(map) => map,
        _ => unreachable!(),
    }
}

/// The commit path alone: a million points through the same upsert, new
/// (as a backfill commits them) and delivered again (as a re-sync's
/// overlap re-reads them). Points per second of each.
async fn commit_path(dir: &std::path::Path, t0: i64) -> (f64, f64) {
    let commit_cache = Cache::open(&dir.join("commit.sqlite")).await.unwrap();
    sqlx::query("INSERT INTO tenant (id, name, tier, model, account, home_region, regions) VALUES ('b','b','t','silo','111111111111','us-east-1','[]')")
        .execute(commit_cache.pool())
        .await
        .unwrap();
    let mut batch = Vec::new();
    for s in 0..70 {
        let key = SeriesKey {
            tenant_id: "b",
            region: "us-east-1",
            metric_key: "m",
            namespace: "N",
            metric_name: &format!("M{s}"),
            dimensions: "{}",
            stat: "Sum",
            period: 60,
            unit: "count",
        };
        let (id, _) = commit_cache.series(&key).await.unwrap();
        batch.push(PointBatch {
            series_id: id,
            points: (0..1440).map(|i| (t0 - 86_400 + i * 60, i as f64)).collect(),
            watermark: t0,
        });
    }
    let commit_points = 70 * 1440 * 10;
    // New points, as a backfill commits them: ten days, one after another
    // (their rollups are summed from the points in hand).
    let started = Instant::now();
    for day in 0..10 {
        let days: Vec<PointBatch> = batch
            .iter()
            .map(|b| PointBatch {
                series_id: b.series_id,
                points: b.points.iter().map(|(ts, v)| (ts - (10 - day) * 86_400, *v)).collect(),
                // Each day's watermark is where its points end, as a
                // call's end is (a day further made every point "late",
                // behind the watermark, and its hours recomputed).
                watermark: b.watermark - (10 - day) * 86_400,
            })
            .collect();
        commit_cache.commit_points(&days).await.unwrap();
    }
    let commit_per_s = commit_points as f64 / started.elapsed().as_secs_f64();
    // The same points delivered again: the upsert's worst case.
    let started = Instant::now();
    for _ in 0..10 {
        commit_cache.commit_points(&batch).await.unwrap();
    }
    (commit_per_s, commit_points as f64 / started.elapsed().as_secs_f64())
}

/// F2000 through per-tenant roles, then through the monitoring account,
/// over the same simulated data (the simulator's clock set back between
/// them), each into an empty cache of its own.
/// `FLEETDECK_BENCH_KEEP=<dir>` (for profiling, not a figure): F2000's
/// backfilled caches are kept in `dir` with their clock, and a later run
/// with the same `dir` re-syncs a copy of them only, over the same
/// simulated data.
async fn resync_kept(keep: &std::path::Path, modes: &[(&str, &str)]) -> Option<serde_json::Value> {
    let t0: i64 = std::fs::read_to_string(keep.join("t0")).ok()?.trim().parse().ok()?;
    let (mut sim, endpoint) = spawn_sim(keep, t0, "f2000");
    let catalog = bench_catalog(keep);
    let mut out = serde_json::Map::new();
    for (mode, file) in modes {
        let kept = keep.join(format!("{mode}.backfilled.sqlite"));
        if !kept.exists() {
            continue;
        }
        let text = std::fs::read_to_string(keep.join(file)).unwrap();
        let fleet = Fleet::parse(std::path::Path::new(file), &text, &catalog).expect("fleet");
        let aws = bench_aws(&fleet, &endpoint).await;
        let path = keep.join(format!("{mode}.sqlite"));
        // A WAL left by an earlier run over the copy belongs to another
        // database: SQLite would replay its frames onto this one and
        // corrupt it ("database disk image is malformed").
        for x in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{x}", path.display()));
        }
        std::fs::copy(&kept, &path).expect("copy the kept cache");
        // Written out before the clock starts: the kernel writing the
        // copy's gigabytes back during the re-sync slowed it by seconds.
        std::fs::File::open(&path).and_then(|f| f.sync_all()).expect("sync the copy");
        let cache = Cache::open(&path).await.expect("cache");
        // `FLEETDECK_BENCH_MEDIANS=1`: time the backfill's tier-median
        // refresh (its 24 hours) on the kept cache, before the re-sync.
        if std::env::var("FLEETDECK_BENCH_MEDIANS").is_ok() {
            let started = Instant::now();
            let written = fleetdeck_engine::cache::fleet_median::refresh(&cache, t0 - 86_400).await.expect("medians");
            eprintln!(
                "F2000 {mode} (kept) tier medians of the backfill: {written} in {:.2} s",
                started.elapsed().as_secs_f64()
            );
        }
        let t1 = t0 + 300;
        assert_eq!(sim.ask(&format!("clock {t1}")), "ok");
        reset_peak_rss();
        let phases = Phases::default();
        let started = Instant::now();
        let cpu0 = cpu_s("self");
        let resync = sync::run(&fleet, &catalog, &aws, &cache, &SyncOptions::at(t1), &|p| phases.see(&p.phase))
            .await
            .expect("resync");
        let resync_s = started.elapsed().as_secs_f64();
        eprintln!("F2000 {mode} (kept) re-sync phases: {}", phases.take(started));
        let row = serde_json::json!({
            "resync_s": resync_s, "resync_cpu_s": cpu_s("self") - cpu0, "peak_rss_mb": peak_rss_mb(),
            "points": resync.datapoints, "failed_sources": resync.sources_failed,
        });
        println!("F2000 {mode} (kept) {row}");
        out.insert((*mode).into(), row);
    }
    Some(serde_json::Value::Object(out))
}

async fn f2000() -> serde_json::Value {
    let modes = [("roles", "fleet.toml"), ("monitoring", "fleet-monitoring.toml")];
    // `FLEETDECK_BENCH_MODES=monitoring` runs one mode only.
    let only = std::env::var("FLEETDECK_BENCH_MODES").ok();
    let modes: Vec<(&str, &str)> =
        modes.into_iter().filter(|(m, _)| only.as_deref().is_none_or(|o| o.contains(m))).collect();
    let keep = std::env::var_os("FLEETDECK_BENCH_KEEP").map(std::path::PathBuf::from);
    if let Some(keep) = &keep {
        if let Some(out) = resync_kept(keep, &modes).await {
            return out;
        }
    }
    // Each mode in a process of its own (this binary again), so that each
    // one's peak memory is its own: run one after the other in one
    // process, the second began from what the first left resident (553
    // MB measured for the monitoring mode after the roles mode, 446 – 460
    // MB alone). Both read the same simulated data: same seed, same t0.
    let t0 = std::env::var("FLEETDECK_BENCH_T0")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fleetdeck_engine::clock::now() / 60 * 60);
    if keep.is_none() && modes.len() > 1 {
        return each_mode_alone(&modes, t0);
    }
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = match &keep {
        Some(k) => {
            std::fs::create_dir_all(k).expect("keep dir");
            std::fs::write(k.join("t0"), t0.to_string()).unwrap();
            k.as_path()
        }
        None => temp.path(),
    };
    let (mut sim, endpoint) = spawn_sim(dir, t0, "f2000");
    let catalog = bench_catalog(dir);
    let mut out = serde_json::Map::new();
    for (mode, file) in &modes {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let fleet = Fleet::parse(std::path::Path::new(file), &text, &catalog).expect("fleet");
        let series: u64 = fleet
            .tenants
            .iter()
            .map(|t| t.regions().count() as u64 * catalog.metrics_for(t.model).count() as u64)
            .sum();
        let accounts: std::collections::BTreeSet<&str> = fleet.tenants.iter().map(|t| t.account.as_str()).collect();
        let linked = fleet.tenants.iter().filter(|t| t.monitored).count();
        eprintln!(
            "F2000 {mode}: {} tenants ({linked} read through the monitoring account), {} accounts, {series} series",
            fleet.tenants.len(),
            accounts.len()
        );
        let aws = bench_aws(&fleet, &endpoint).await;
        let path = dir.join(format!("{mode}.sqlite"));
        let cache = Cache::open(&path).await.expect("cache");
        let kept = keep.as_ref().map(|k| k.join(format!("{mode}.backfilled.sqlite")));
        let m = sync_twice(&fleet, &catalog, &aws, &cache, &mut sim, t0, kept.as_deref()).await;
        eprintln!("F2000 {mode} backfill phases: {}", m.backfill_phases);
        eprintln!("F2000 {mode} re-sync phases:  {}", m.resync_phases);
        eprintln!("F2000 {mode} backfill calls by action: {:?}", m.by_action.0);
        eprintln!("F2000 {mode} re-sync calls by action:  {:?}", m.by_action.1);
        eprintln!("F2000 {mode} backfill peak RSS: {}", m.rss_at);
        eprintln!(
            "F2000 {mode} bill left after the backfill: {:?}; after the re-sync: {:?}",
            m.cost_left.0, m.cost_left.1
        );
        let expected = series as i64 * (24 * 60 + 5);
        out.insert(
            (*mode).into(),
            serde_json::json!({
                "calls": m.backfill.api_calls, "min_calls": m.min_calls, "calls_ratio": m.calls_ratio(),
                "calls_by_action": m.by_action.0.iter().cloned().collect::<BTreeMap<_, _>>(),
                "resync_calls_by_action": m.by_action.1.iter().cloned().collect::<BTreeMap<_, _>>(),
                "assume_roles": m.assume_roles(), "dollars": m.backfill.dollars, "min_dollars": m.min_dollars,
                "resync_dollars": m.resync.dollars,
                "backfill_s": m.backfill_s, "resync_s": m.resync_s,
                "points_per_s": m.backfill.datapoints as f64 / m.backfill_s,
                "backfill_cpu_s": m.own_cpu, "backfill_sim_cpu_s": m.sim_cpu,
                "peak_rss_mb": m.rss, "cache_mb": m.cache_mb, "throttled_total": m.throttled, "throttled_resync": m.throttled_resync,
                "cost_left_after_backfill": m.cost_left.0, "cost_left_after_resync": m.cost_left.1,
                "rows": m.rows, "expected_rows": expected,
                "failed_sources": m.backfill.sources_failed + m.resync.sources_failed,
            }),
        );
        drop(cache);
        // One cache on disk at a time: each is several GB (a kept one aside).
        for x in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{x}", path.display()));
        }
    }
    // A child's one column would only repeat what the parent prints beside
    // the other mode's.
    if std::env::var_os(CHILD).is_none() {
        print_side_by_side(&out);
    }
    serde_json::Value::Object(out)
}

/// Set in the environment of [`each_mode_alone`]'s children.
const CHILD: &str = "FLEETDECK_BENCH_CHILD";

/// Run each F2000 mode in a child process (this binary, one mode each, the
/// same t0): its own lines pass through, and its figures come back as its
/// last line's JSON.
fn each_mode_alone(modes: &[(&str, &str)], t0: i64) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (mode, _) in modes {
        let child = std::process::Command::new(std::env::current_exe().expect("the bench binary"))
            .arg("--bench")
            .env("FLEETDECK_BENCH_CASE", "f2000")
            .env("FLEETDECK_BENCH_MODES", mode)
            .env("FLEETDECK_BENCH_T0", t0.to_string())
            .env(CHILD, "1")
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run one mode");
        let text = String::from_utf8_lossy(&child.stdout);
        let (shown, last) = text.trim_end().rsplit_once('\n').unwrap_or(("", text.trim_end()));
        if !shown.trim().is_empty() {
            println!("{shown}");
        }
        assert!(child.status.success(), "F2000 {mode} failed: {}", child.status);
        let json: serde_json::Value = serde_json::from_str(last).expect("the mode's JSON line");
        out.insert((*mode).into(), json["f2000"][*mode].clone());
    }
    print_side_by_side(&out);
    serde_json::Value::Object(out)
}

/// The modes' figures (their JSON rows) side by side with the bars.
fn print_side_by_side(rows: &serde_json::Map<String, serde_json::Value>) {
    let mut names: Vec<&String> = rows.keys().collect();
    names.sort_by_key(|n| n.as_str() != "roles");
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let col = |cell: &dyn Fn(&serde_json::Value) -> String| -> (String, String) {
        let at = |k: usize| names.get(k).map_or("-".to_string(), |n| cell(&rows[n.as_str()]));
        (at(0), at(1))
    };
    println!();
    println!(
        "F2000              {:<24} {:<24} bar (monitoring mode)",
        names.first().map_or("-", |n| n.as_str()),
        names.get(1).map_or("-", |n| n.as_str())
    );
    let table: Vec<(&str, (String, String), &str)> = vec![
        ("calls_ratio", col(&|m| format!("{:.3} ({}/{})", f(m, "calls_ratio"), m["calls"], m["min_calls"])), "<= 1.05"),
        ("assume_roles", col(&|m| m["assume_roles"].to_string()), ""),
        ("dollars", col(&|m| format!("{:.4} (min {:.4})", f(m, "dollars"), f(m, "min_dollars"))), "= minimum"),
        ("backfill_s", col(&|m| format!("{:.1}", f(m, "backfill_s"))), "<= 240"),
        ("resync_s", col(&|m| format!("{:.2}", f(m, "resync_s"))), "<= 10"),
        ("points_per_s", col(&|m| format!("{:.0}", f(m, "points_per_s"))), ""),
        (
            "cpu_s (us / sim)",
            col(&|m| format!("{:.0} / {:.0}", f(m, "backfill_cpu_s"), f(m, "backfill_sim_cpu_s"))),
            "sim not the bottleneck",
        ),
        ("peak_rss_mb", col(&|m| format!("{:.0}", f(m, "peak_rss_mb"))), "<= 500"),
        ("cache_mb", col(&|m| format!("{:.0}", f(m, "cache_mb"))), ""),
        (
            "throttled (re-sync)",
            col(&|m| format!("{} ({})", m["throttled_total"], m["throttled_resync"])),
            "0 in steady state",
        ),
        ("rows", col(&|m| format!("{} / {}", m["rows"], m["expected_rows"])), "= 24 h + 5 min each"),
        ("failed_sources", col(&|m| m["failed_sources"].to_string()), "0"),
    ];
    for (name, (a, b), bar) in table {
        println!("{name:<18} {a:<24} {b:<24} {bar}");
    }
}
