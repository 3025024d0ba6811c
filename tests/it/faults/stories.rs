//! The fault stories: throttling, expiry, missing roles, kills, an unreachable AWS.

use super::*;

/// An on-call engineer syncs during a regional brownout: one request in five
/// is throttled, one in twenty gets a 500 or 503, one in fifty loses its
/// connection. The sync rides it out with the SDK's backoff and retries:
/// no source is marked failed, and the cache is exactly what a calm day's
/// sync of the same moment produces: same points, same alarms, same Logs
/// Insights results, same cost, no duplicate and no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_through_throttling_server_errors_and_dropped_connections_equals_a_calm_one() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(epoch_now()).await;
    let calm = Content::of(&world.reference(dir.path()).await).await;
    let calm_requests = total_requests(&world.sim);

    world.sim.set_knobs(SimKnobs {
        clock: Some(world.epoch),
        faults: Faults { throttle: 0.20, server_error: 0.05, reset: 0.02 },
        ..SimKnobs::default()
    });
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let summary = world.sync(&cache, world.epoch).await;

    // The premise: the brownout really happened, on every kind of call.
    let faults = world.sim.faults_injected();
    assert!(
        faults * 5 >= calm_requests,
        "only {faults} faults injected for a sync of {calm_requests} requests: the fault knobs did not bite"
    );
    let (metric_calls, metric_faults) = received(&world.sim, "GetMetricData");
    assert!(metric_faults > 0, "no GetMetricData call was faulted ({metric_calls} calls)");

    assert_eq!(
        (summary.sources_failed, summary.errors.as_slice()),
        (0, &[][..]),
        "sources failed under {faults} injected faults"
    );
    assert_eq!(not_ok(&statuses(&cache).await), Vec::<String>::new(), "sources not ok");
    assert_same_content(&Content::of(&cache).await, &calm, "under throttling, 5xx and resets");
}

// ---------------------------------------------------------------------------
// 2. Credentials that expire mid-sync

/// An engineer's sync outlives the tenant roles' sessions: the credentials
/// fleetdeck assumed at the start of the sync expire while it is still
/// reading, on a clock the laptop and "AWS" share. fleetdeck notices they
/// are about to expire and assumes each role again before using them, so no
/// request is refused with `ExpiredToken` and no source is failed; and it
/// keeps using a session while it is still good instead of assuming the
/// role again for every call.
///
/// The simulator's clock runs here (a frozen clock would never let a
/// session expire); the sync reads a window that ended two minutes ago, so
/// its metrics and Logs Insights results do not depend on the moment and
/// are compared exactly with a sync that had hour-long sessions. Alarm
/// states and today's running cost move with the clock; for those, the same
/// alarms and the same cost lines must be there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_that_expire_mid_sync_are_refreshed_and_no_source_fails() {
    const TTL: Duration = Duration::from_secs(2);
    let dir = tempfile::tempdir().unwrap();
    let epoch = epoch_now() - 120;
    let world = World::start(epoch).await;
    world.sim.set_knobs(SimKnobs::default());
    let long_lived = world.reference(dir.path()).await;

    // Latency stretches the sync over several lifetimes of a session.
    let latency = Duration::from_millis(400);
    world.sim.set_knobs(SimKnobs { latency, credential_ttl: Some(TTL), ..SimKnobs::default() });
    let (assumed_before, used_before) = (received(&world.sim, "AssumeRole").0, by_account(&world.sim));
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let started = Instant::now();
    let summary = world.sync(&cache, epoch).await;
    let took = started.elapsed();

    // The premise: the sync lasted several session lifetimes, so sessions
    // assumed at its start expired while it ran.
    assert!(took >= TTL * 2, "the sync took {took:?}, not long enough to outlive {TTL:?} sessions");

    assert_eq!(summary.sources_failed, 0, "sources failed: {:#?}", summary.errors);
    let failing = not_ok(&statuses(&cache).await);
    assert!(failing.is_empty(), "sources not ok: {failing:#?}");
    // An expired (or unknown) session key leaves the request without an account.
    let refused: Vec<_> = world.sim.requests().into_iter().filter(|r| r.account.is_empty()).collect();
    assert!(refused.is_empty(), "requests refused for their credentials (ExpiredToken): {refused:?}");

    // Each role was assumed again during the sync (the simulator's count),
    // and fleetdeck's own ledger agrees with it, role account by role account.
    let roles: BTreeSet<(String, Option<String>)> =
        world.fleet.tenants.iter().map(|t| (t.role_arn.clone(), t.external_id.clone())).collect();
    let assumed = received(&world.sim, "AssumeRole").0 - assumed_before;
    let ledger: BTreeMap<String, i64> = sqlx::query(
        "SELECT account, calls FROM api_call WHERE action = 'sts:AssumeRole' AND sync_id = (SELECT max(id) FROM sync_run)",
    )
    .fetch_all(cache.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    assert_eq!(ledger.values().sum::<i64>() as u64, assumed, "fleetdeck's ledger and the simulator disagree");
    let mut roles_per_account: BTreeMap<String, i64> = BTreeMap::new();
    for (arn, _) in &roles {
        *roles_per_account.entry(arn.split(':').nth(4).unwrap_or_default().to_string()).or_default() += 1;
    }
    for (account, n) in &roles_per_account {
        let calls = ledger.get(account).copied().unwrap_or(0);
        assert!(calls > *n, "account {account}: {calls} AssumeRole for {n} roles: expired sessions were not renewed");
    }
    // ...but not for every call: a session is used while it is good. A
    // renewal per call would mean as many AssumeRoles as requests; renewal
    // near expiry (a quarter of a short session's life before it) means at
    // most one per three quarters of a lifetime, plus the first.
    let used_after = by_account(&world.sim);
    let per_lifetime = (took.as_secs_f64() / (TTL.as_secs_f64() * 0.75)).ceil() as i64 + 1;
    for (account, sessions) in &ledger {
        let used = used_after.get(account).copied().unwrap_or(0) - used_before.get(account).copied().unwrap_or(0);
        let roles = roles_per_account.get(account).copied().unwrap_or(1);
        assert!(
            (*sessions as u64) < used && *sessions <= per_lifetime * roles,
            "account {account}: {sessions} AssumeRole for {used} requests made with them in {took:?} \
             (at most {} expected): {TTL:?} sessions are being re-assumed per call, not when about to expire",
            per_lifetime * roles
        );
    }

    // Alarm states and today's running cost move with the clock: the same
    // alarms and cost lines must be there. The rest is compared exactly.
    let (mut got, mut want) = (Content::of(&cache).await, Content::of(&long_lived).await);
    let alarms = |c: &Content| c.alarms.iter().map(|a| (a.tenant.clone(), a.region.clone(), a.name.clone())).collect();
    let lines =
        |c: &Content| c.costs.iter().map(|l| [&l.tenant, &l.day, &l.service, &l.source].map(String::clone)).collect();
    let (a, b): (Vec<(String, String, String)>, Vec<_>) = (alarms(&got), alarms(&want));
    assert_eq!(a, b, "alarms");
    let (a, b): (Vec<[String; 4]>, Vec<_>) = (lines(&got), lines(&want));
    assert_eq!(a, b, "cost lines");
    for c in [&mut got, &mut want] {
        c.alarms.clear();
        c.costs.clear();
    }
    assert_same_content(&got, &want, "with expiring sessions");
}

// ---------------------------------------------------------------------------
// 3. One tenant's role denies access

/// A remote-plane customer deleted the vendor role from their account. The
/// operator's sync still completes: that tenant's credentials, metrics,
/// alarms and logs are marked access denied with AWS's own words (which
/// role, which action), every other tenant is read in full exactly as on a
/// day the role existed, and the sync itself reports success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_whose_role_denies_access_is_marked_and_every_other_tenant_completes() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(epoch_now()).await;
    let full = Content::of(&world.reference(dir.path()).await).await;
    let denied = world
        .fleet
        .tenants
        .iter()
        .find(|t| t.model == Model::Remote)
        .expect("the fleet has a remote-plane tenant")
        .clone();
    assert_eq!(
        world.fleet.tenants.iter().filter(|t| t.account == denied.account).count(),
        1,
        "{} shares its account: denying it would deny others",
        denied.id
    );

    world.sim.set_knobs(SimKnobs {
        clock: Some(world.epoch),
        deny_assume_role: vec![denied.account.clone()],
        ..SimKnobs::default()
    });
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let summary = world.sync(&cache, world.epoch).await;

    let all = statuses(&cache).await;
    let (theirs, others): (Vec<_>, Vec<_>) = all.iter().partition(|s| s.0 == denied.id);
    let not_ok_others = not_ok(&others.into_iter().cloned().collect::<Vec<_>>());
    assert!(not_ok_others.is_empty(), "other tenants' sources not ok: {not_ok_others:#?}");

    // Credentials once for the tenant, then every source of every region.
    let mut expected: BTreeSet<(String, String)> = BTreeSet::from([("*".into(), "credentials".into())]);
    for region in denied.regions() {
        for source in ["metrics", "alarms", "alarm_history", "logs"] {
            expected.insert((region.to_string(), source.to_string()));
        }
    }
    let seen: BTreeSet<(String, String)> = theirs.iter().map(|s| (s.1.clone(), s.2.clone())).collect();
    assert_eq!(seen, expected, "{}'s sources", denied.id);
    // "N failed" is the number of sources then listed as not ok.
    assert_eq!(summary.sources_failed as usize, theirs.len(), "{:#?}", summary.errors);
    let aws_words = format!("is not authorized to perform: sts:AssumeRole on resource: {}", denied.role_arn);
    for (_, region, source, status, error) in &theirs {
        assert_eq!(status, "access_denied", "{} {region} {source}", denied.id);
        let error = error.as_deref().unwrap_or_default();
        assert!(error.contains(&aws_words), "{} {region} {source}: the AWS error is missing: {error:?}", denied.id);
    }
    assert!(
        !summary.errors.is_empty() && summary.errors.iter().all(|e| e.starts_with(&format!("{} ", denied.id))),
        "the sync's error lines should name {} and only it: {:#?}",
        denied.id,
        summary.errors
    );

    // Everyone else, in full: exactly the fault-free fleet without that tenant.
    let got = Content::of(&cache).await;
    assert!(got.points.keys().all(|(t, _, _)| *t != denied.id), "points cached for a tenant never read");
    assert_same_content(&got, &full.without_tenant(&denied.id), "with one role denied");
}

// ---------------------------------------------------------------------------
// 4. Killed at random points

/// Environment of the child half of [`a_sync_killed_twenty_times_at_random_points_loses_and_duplicates_nothing`].
const CHILD_CACHE: &str = "FLEETDECK_FAULTS_CHILD_CACHE";
const CHILD_FLEET: &str = "FLEETDECK_FAULTS_CHILD_FLEET";
const CHILD_ENDPOINT: &str = "FLEETDECK_FAULTS_CHILD_ENDPOINT";
const CHILD_NOW: &str = "FLEETDECK_FAULTS_CHILD_NOW";
/// The child's test name as the harness knows it: its module path within
/// this test binary (`faults::stories::killed_sync_child`).
fn child_test() -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    format!("{module}::killed_sync_child")
}

/// The child process of the kill test, not a test of its own: without
/// [`CHILD_CACHE`] in its environment it does nothing. With it, it is a
/// fleetdeck process syncing the parent's simulated fleet into the parent's
/// cache file, printing one line per step so the parent can pick the moment
/// to kill it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_sync_child() {
    let Some(cache_path) = std::env::var_os(CHILD_CACHE) else { return };
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let now: i64 = var(CHILD_NOW).parse().expect("epoch seconds");
    println!("child started");
    let catalog = Catalog::builtin().unwrap();
    let fleet_file = PathBuf::from(var(CHILD_FLEET));
    let fleet = Fleet::parse(&fleet_file, &std::fs::read_to_string(&fleet_file).unwrap(), &catalog).unwrap();
    let cache = Cache::open(Path::new(&cache_path)).await.expect("open the cache");
    println!("child opened the cache");
    let aws = AwsAccess::new(&settings(&var(CHILD_ENDPOINT), &fleet.region)).await;
    let progress = |p: SyncProgress| println!("progress {}/{} {}: {}", p.done, p.total, p.phase, p.message);
    let summary = sync::run(&fleet, &catalog, &aws, &cache, &SyncOptions::at(now), &progress).await.expect("sync");
    println!("child finished: {} sources failed", summary.sources_failed);
}

/// A tiny seeded generator (splitmix64), so the kill points replay.
struct KillPoints(u64);

impl KillPoints {
    fn below(&mut self, n: u32) -> u32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % n.max(1) as u64) as u32
    }
}

/// Runs the child sync at `now` and SIGKILLs it right after it printed line
/// number `kill_after` (0 is "child started", before the cache is even
/// opened). Returns whether the kill landed (`false`: it finished first).
fn run_child_and_kill(endpoint: &str, fleet_file: &Path, cache: &Path, now: i64, kill_after: u32, log: &Path) -> bool {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", &child_test(), "--nocapture", "--test-threads=1"])
        .env(CHILD_CACHE, cache)
        .env(CHILD_FLEET, fleet_file)
        .env(CHILD_ENDPOINT, endpoint)
        .env(CHILD_NOW, now.to_string())
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("child log"))
        .spawn()
        .expect("start the child sync");
    let stdout = child.stdout.take().expect("child stdout");
    let mut seen = 0u32;
    let mut tail = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if !(line.starts_with("child ") || line.starts_with("progress ")) {
            continue; // the test harness's own lines
        }
        tail.push(line);
        if seen == kill_after {
            child.kill().expect("SIGKILL the child");
            break;
        }
        seen += 1;
    }
    let status: ExitStatus = child.wait().expect("reap the child");
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(9) => true,
        _ => {
            assert!(
                status.success(),
                "the child sync failed on its own ({status}) after:\n{}\n{}",
                tail.join("\n"),
                std::fs::read_to_string(log).unwrap_or_default()
            );
            false
        }
    }
}

/// `PRAGMA integrity_check` and `foreign_key_check` on the file exactly as
/// the kill left it, through a plain connection: `Cache::open` would move a
/// corrupt file aside and hide the damage.
async fn assert_intact(path: &Path, when: &str) {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).create_if_missing(false);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await.expect("open the killed cache");
    let verdict: Vec<String> =
        sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&mut conn).await.expect("integrity_check");
    assert_eq!(verdict, ["ok"], "{when}: the cache is damaged");
    let orphans = sqlx::query("PRAGMA foreign_key_check").fetch_all(&mut conn).await.expect("foreign_key_check");
    assert!(orphans.is_empty(), "{when}: {} rows reference nothing", orphans.len());
    conn.close().await.unwrap();
}

/// The laptop's fleetdeck is killed (SIGKILL: no destructor, no flush)
/// at a random moment of a sync, twenty times in a row, each time followed
/// by a normal sync, while the fleet moves on by a quarter of an hour each
/// round. After every kill the SQLite file passes `integrity_check`, opens
/// without being moved aside, and the next sync completes with no failed
/// source. At the end the cache is exactly what two calm syncs (at the
/// first and the last moment) build: no point lost to a watermark that ran
/// ahead of its data, none stored twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_twenty_times_at_random_points_loses_and_duplicates_nothing() {
    const ROUNDS: i64 = 20;
    // Longer than the re-read overlap (10 min), so a watermark committed
    // without its points would show as a gap; 20 rounds stay under the
    // 6-hour Cost Explorer interval, so cost is read once in both histories.
    const STEP: i64 = 15 * 60;
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(epoch_now()).await;
    let last = world.epoch + (ROUNDS - 1) * STEP;

    // The calm history: a sync at the first moment, one at the last. The
    // first also tells how many progress lines a whole sync prints.
    let calm = Cache::open(&dir.path().join("calm.sqlite")).await.unwrap();
    let steps = AtomicU32::new(0);
    let count = |_: SyncProgress| {
        steps.fetch_add(1, Ordering::Relaxed);
    };
    let summary = world.sync_with(&world.aws().await, &calm, world.epoch, &count).await;
    assert_eq!(summary.sources_failed, 0, "{:#?}", summary.errors);
    let mut lines = steps.load(Ordering::Relaxed);
    world.sim.set_knobs(SimKnobs { clock: Some(last), ..SimKnobs::default() });
    let summary = world.sync(&calm, last).await;
    assert_eq!(summary.sources_failed, 0, "{:#?}", summary.errors);
    let calm = Content::of(&calm).await;

    let fleet_file = dir.path().join("fleet.toml");
    std::fs::write(&fleet_file, world.sim.fleet_toml()).unwrap();
    let path = dir.path().join("killed.sqlite");
    let log = dir.path().join("child.log");
    let mut kill_points = KillPoints(SEED);
    let mut killed = 0;
    for round in 0..ROUNDS {
        let now = world.epoch + round * STEP;
        world.sim.set_knobs(SimKnobs { clock: Some(now), ..SimKnobs::default() });
        // Lines: 0 "child started", 1 "child opened the cache", then one per
        // progress step; the last point drawn is the step before "done".
        let kill_after = kill_points.below(1 + lines);
        if run_child_and_kill(&world.sim.endpoint(), &fleet_file, &path, now, kill_after, &log) {
            killed += 1;
        }
        assert_intact(&path, &format!("round {round}, killed after line {kill_after}")).await;

        let cache = Cache::open(&path).await.expect("the killed cache opens");
        assert!(
            cache.recovered().is_none(),
            "round {round}: the killed cache was moved aside: {:?}",
            cache.recovered()
        );
        let steps = AtomicU32::new(0);
        let count = |_: SyncProgress| {
            steps.fetch_add(1, Ordering::Relaxed);
        };
        let aws = world.aws().await;
        let summary = world.sync_with(&aws, &cache, now, &count).await;
        assert_eq!(summary.sources_failed, 0, "round {round}: the sync after the kill failed: {:#?}", summary.errors);
        lines = steps.load(Ordering::Relaxed);
        cache.pool().close().await;
        assert_intact(&path, &format!("round {round}, after the normal sync")).await;
    }
    assert!(killed >= ROUNDS * 3 / 4, "only {killed} of {ROUNDS} child syncs were killed before they finished");

    let cache = Cache::open(&path).await.unwrap();
    assert_same_content(&Content::of(&cache).await, &calm, "after 20 kills");
}

// ---------------------------------------------------------------------------
// 5. AWS unreachable

/// The laptop loses its route to AWS (VPN down, proxy gone) while the
/// console is open. The next sync neither hangs nor fails the app: every
/// source is marked unreachable and says when it was last read; the fleet
/// view goes on serving what the cache holds; and when AWS answers again
/// the next scheduled sync, with the same long-lived session, brings every
/// source back to ok without anyone restarting anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_keeps_the_cache_served_and_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mut world = World::start(epoch_now()).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    // One AwsAccess for the whole story, as the console keeps one.
    let aws = world.aws().await;
    let good = world.sync_with(&aws, &cache, world.epoch, &|_| {}).await;
    assert_eq!(good.sources_failed, 0, "the first sync failed: {:#?}", good.errors);
    let before = Content::of(&cache).await;
    let overview_before =
        fleetdeck_engine::view::fleet_overview(&cache, &world.catalog, false, world.epoch).await.unwrap();

    world.sim.go_dark().await;
    let started = Instant::now();
    let dark = world.sync_with(&aws, &cache, world.epoch + 300, &|_| {}).await;
    let took = started.elapsed();
    eprintln!("the sync with AWS unreachable took {took:?}");
    assert!(dark.sources_failed > 0);
    // Not minutes of retries per call: the on-call engineer learns of it at once.
    assert!(took < Duration::from_secs(60), "the sync took {took:?} to find AWS unreachable");
    // Every source this sync tried is unreachable and keeps its last good
    // read. Not tried: credentials still held in memory, cost (read every
    // 6 hours) and the triage logs of healthy tenants (every 15 minutes).
    let sources: Vec<_> = sqlx::query(
        "SELECT tenant_id, region, source, status, last_ok FROM source_status
         WHERE source NOT IN ('cost', 'credentials') AND last_attempt = ?1",
    )
    .bind((world.epoch + 300) * 1000)
    .fetch_all(cache.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.get::<String, _>(0),
            r.get::<String, _>(1),
            r.get::<String, _>(2),
            r.get::<String, _>(3),
            r.get::<Option<i64>, _>(4),
        )
    })
    .collect();
    let tried: BTreeSet<(&str, &str, &str)> =
        sources.iter().map(|s| (s.0.as_str(), s.1.as_str(), s.2.as_str())).collect();
    for t in &world.fleet.tenants {
        for region in t.regions() {
            for source in ["metrics", "alarms"] {
                assert!(tried.contains(&(t.id.as_str(), region, source)), "{} {region} {source} was not tried", t.id);
            }
        }
    }
    for (tenant, region, source, status, last_ok) in &sources {
        assert_eq!(status, "unreachable", "{tenant} {region} {source}");
        assert_eq!(*last_ok, Some(world.epoch * 1000), "{tenant} {region} {source}: last good sync lost");
    }

    // The cache still serves everything it had, and says how old it is.
    assert_same_content(&Content::of(&cache).await, &before, "while AWS is unreachable");
    let overview = fleetdeck_engine::view::fleet_overview(&cache, &world.catalog, false, world.epoch).await.unwrap();
    assert_eq!(overview.rows.len(), overview_before.rows.len(), "tenants vanished from the fleet view");
    for row in &overview.rows {
        assert!(
            row.reasons.iter().any(|r| r.contains("unreachable") && r.contains("last good read")),
            "{} {}: the fleet view does not say the data is stale: {:?}",
            row.tenant,
            row.region,
            row.reasons
        );
    }

    world.sim.come_back().await.expect("the simulator listens again on its port");
    let back = world.sync_with(&aws, &cache, world.epoch + 600, &|_| {}).await;
    assert_eq!(back.sources_failed, 0, "the sync after the outage still failed: {:#?}", back.errors);
    assert!(not_ok(&statuses(&cache).await).is_empty(), "{:#?}", not_ok(&statuses(&cache).await));
}

// ---------------------------------------------------------------------------
// 6. Triage logs: fresh where on-call looks, not re-run for the quiet

/// Logs Insights bills by data scanned and its 30 concurrent queries are
/// shared with the tenant's own engineers. Five minutes after a sync, only
/// the tenant-regions that were not healthy run their triage queries again;
/// fifteen minutes after, every tenant-region does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_queries_rerun_every_sync_for_unhealthy_tenants_and_every_15_minutes_for_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(epoch_now()).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let aws = world.aws().await;
    let synced_at = |cache: &Cache| {
        let pool = cache.pool().clone();
        async move {
            sqlx::query_as::<_, (String, String, i64)>(
                "SELECT l.tenant_id, l.region, max(l.synced_at) FROM log_result l GROUP BY 1, 2 ORDER BY 1, 2",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let health = |cache: &Cache| {
        let pool = cache.pool().clone();
        async move {
            sqlx::query_as::<_, (String, String, String)>("SELECT tenant_id, region, health FROM health")
                .fetch_all(&pool)
                .await
                .unwrap()
                .into_iter()
                .map(|(t, r, h)| ((t, r), h))
                .collect::<BTreeMap<_, _>>()
        }
    };

    let first = world.sync_with(&aws, &cache, world.epoch, &|_| {}).await;
    assert_eq!(first.sources_failed, 0, "{:#?}", first.errors);
    let before = health(&cache).await;
    let unhealthy: BTreeSet<_> = before.iter().filter(|(_, h)| *h != "ok").map(|(k, _)| k.clone()).collect();
    assert!(!unhealthy.is_empty(), "the simulated incidents make some tenant-region unhealthy");
    assert!(unhealthy.len() < before.len(), "some tenant-regions are healthy");

    world.sync_with(&aws, &cache, world.epoch + 300, &|_| {}).await;
    for (tenant, region, at) in synced_at(&cache).await {
        let rerun = at == (world.epoch + 300) * 1000;
        let key = (tenant.clone(), region.clone());
        assert_eq!(rerun, unhealthy.contains(&key), "{tenant} {region} ({}): rerun = {rerun}", before[&key]);
    }

    world.sync_with(&aws, &cache, world.epoch + 900, &|_| {}).await;
    for (tenant, region, at) in synced_at(&cache).await {
        assert_eq!(at, (world.epoch + 900) * 1000, "{tenant} {region}: not rerun after 15 minutes");
    }
}
