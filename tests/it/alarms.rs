//! Alarms as a real account holds them, seen by an on-call engineer across
//! syncs: an alarm that fired and cleared between two syncs is still an
//! episode, an episode ends when its alarm returns to OK, composite alarms
//! are read, and an alarm in a shared account that names no tenant is a
//! platform alarm on every tenant living there, once in Incidents.
//!
//! The simulated fleet is the realistic one (`SimOptions::realistic`): a
//! 5xx blip on tyrell from 100 to 88 minutes before `now`, a composite
//! alarm over globex's alarms, and the shared account's database alarm,
//! in ALARM from 30 minutes before `now`.

use std::sync::Mutex;

use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::model::{Incident, SyncSummary};
use fleetdeck_engine::sync::{self, SyncOptions};
use fleetdeck_sim::{Model, SimKnobs};
use fleetdeck_testkit::world::{epoch_now, World};

const BLIP_ALARM: &str = "tyrell-5xx-errors-critical";
const PLATFORM_ALARM: &str = "platform-shared-db-cpu-critical";

pub(crate) async fn realistic(epoch: i64) -> World {
    let opts = World::realistic_options(epoch);
    World::start_options(opts, Catalog::builtin().expect("built-in catalog")).await
}

/// One sync at `now`, the simulator's clock moved there too; every source
/// must succeed.
pub(crate) async fn sync_at(world: &World, cache: &Cache, now: i64) -> SyncSummary {
    world.sim.set_knobs(SimKnobs { clock: Some(now), ..SimKnobs::default() });
    let summary = sync_as_is(world, cache, now).await;
    assert_eq!(summary.sources_failed, 0, "sources failed: {:#?}", summary.errors);
    summary
}

/// One sync at `now` with the simulator's knobs as they are.
pub(crate) async fn sync_as_is(world: &World, cache: &Cache, now: i64) -> SyncSummary {
    let aws = world.aws().await;
    let seen = Mutex::new(Vec::new());
    sync::run(&world.fleet, &world.catalog, &aws, cache, &SyncOptions::at(now), &|p| seen.lock().unwrap().push(p))
        .await
        .expect("the sync completes")
}

fn alarm_episodes<'a>(incidents: &'a [Incident], alarm: &str) -> Vec<&'a Incident> {
    incidents.iter().filter(|i| i.kind == "alarm" && i.subject == alarm).collect()
}

/// Synced before the blip and an hour after it, both times the alarm is OK;
/// only its history shows that it fired. The timeline holds the episode,
/// closed, at the times CloudWatch recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_that_fired_and_cleared_between_two_syncs_is_a_closed_episode() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = epoch_now();
    let world = realistic(epoch).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    sync_at(&world, &cache, epoch - 110 * 60).await;
    sync_at(&world, &cache, epoch).await;

    let tyrell = world.sim.tenants().iter().find(|t| t.id == "tyrell").unwrap();
    let now_state = cache.alarms(&tyrell.id, tyrell.home_region).await.unwrap();
    let a = now_state.iter().find(|a| a.name == BLIP_ALARM).expect("tyrell's 5xx alarm");
    assert_eq!(a.state, "OK");

    let timeline = cache.incidents(epoch - 3 * 3600, epoch).await.unwrap();
    let blip = alarm_episodes(&timeline, BLIP_ALARM);
    assert_eq!(blip.len(), 1, "{timeline:#?}");
    let (start, end) = (blip[0].start / 1000, blip[0].end.expect("the episode closed") / 1000);
    assert!((epoch - 100 * 60..epoch - 95 * 60).contains(&start), "fired {} min before now", (epoch - start) / 60);
    assert!((epoch - 88 * 60..epoch - 80 * 60).contains(&end), "cleared {} min before now", (epoch - end) / 60);
}

/// Synced while the blip's alarm is in ALARM, the episode is ongoing; the
/// next sync, after it cleared, closes it (before, history was read only
/// for alarms then in ALARM, so the return to OK was never seen).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_episode_ends_when_its_alarm_returns_to_ok() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = epoch_now();
    let world = realistic(epoch).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    sync_at(&world, &cache, epoch - 92 * 60).await;
    let during = cache.incidents(epoch - 3 * 3600, epoch - 92 * 60).await.unwrap();
    let open = alarm_episodes(&during, BLIP_ALARM);
    assert_eq!(open.len(), 1, "{during:#?}");
    assert_eq!(open[0].end, None, "ongoing while in ALARM");

    let summary = sync_at(&world, &cache, epoch).await;
    let after = cache.incidents(epoch - 3 * 3600, epoch).await.unwrap();
    let closed = alarm_episodes(&after, BLIP_ALARM);
    assert_eq!(closed.len(), 1, "{after:#?}");
    assert_eq!(closed[0].start, open[0].start, "the same episode");
    assert!(closed[0].end.is_some(), "closed once the alarm was back to OK: {:?}", closed[0]);

    let history_calls: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(calls), 0) FROM api_call WHERE action = 'cloudwatch:DescribeAlarmHistory'
         AND sync_id = (SELECT max(id) FROM sync_run)",
    )
    .fetch_one(cache.pool())
    .await
    .unwrap();
    let describe_calls: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(calls), 0) FROM api_call WHERE action = 'cloudwatch:DescribeAlarms'
         AND sync_id = (SELECT max(id) FROM sync_run)",
    )
    .fetch_one(cache.pool())
    .await
    .unwrap();
    // One DescribeAlarmHistory at most per account-region, and only where
    // an alarm changed since the last read (tyrell's, globex's, the
    // platform's...), not for every account-region on every sync.
    assert!(0 < history_calls && history_calls < describe_calls, "{history_calls} of {describe_calls} ({summary:?})");
}

/// globex's composite alarm is read with its metric alarms; the shared
/// account's database alarm names no tenant, so every tenant living in that
/// account-region carries it (its blast radius) and Incidents shows it once,
/// naming them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composite_and_platform_alarms_are_read_and_a_platform_alarm_is_one_incident() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = epoch_now();
    let world = realistic(epoch).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    sync_at(&world, &cache, epoch).await;

    let globex = cache.alarms("globex", "us-east-1").await.unwrap();
    let composite = globex.iter().find(|a| a.name == "globex-service-health").expect("the composite alarm");
    assert_eq!((composite.state.as_str(), composite.platform), ("ALARM", false));

    let shared = world.sim.tenants().iter().find(|t| t.model == Model::Shared).unwrap().account.clone();
    let mut reached: Vec<String> = world
        .sim
        .tenants()
        .iter()
        .filter(|t| t.account == shared && t.regions().contains(&"us-east-1"))
        .map(|t| t.id.clone())
        .collect();
    reached.sort();
    assert!(reached.len() >= 2, "the shared account has several tenants in us-east-1: {reached:?}");
    for t in &reached {
        let alarms = cache.alarms(t, "us-east-1").await.unwrap();
        let p = alarms.iter().find(|a| a.name == PLATFORM_ALARM).unwrap_or_else(|| panic!("{t}: {alarms:#?}"));
        assert!(p.platform && p.state == "ALARM", "{p:?}");
        let own = cache.incidents_for(Some(t), epoch - 3600, epoch).await.unwrap();
        let here: Vec<_> =
            alarm_episodes(&own, PLATFORM_ALARM).into_iter().filter(|i| i.region == "us-east-1").collect();
        assert_eq!(here.len(), 1, "{t}'s timeline: {own:#?}");
    }
    // Tenants of other accounts do not carry it.
    assert!(!globex.iter().any(|a| a.name == PLATFORM_ALARM));

    let fleet = cache.incidents(epoch - 3600, epoch).await.unwrap();
    let platform: Vec<_> =
        alarm_episodes(&fleet, PLATFORM_ALARM).into_iter().filter(|i| i.region == "us-east-1").collect();
    assert_eq!(platform.len(), 1, "once in Incidents: {platform:#?}");
    let title = &platform[0].title;
    assert!(
        title.starts_with(&format!(
            "platform alarm {PLATFORM_ALARM} (shared account, reaches {} tenants: ",
            reached.len()
        )),
        "{title}"
    );
    for t in &reached {
        assert!(title.contains(t.as_str()), "{title} names {t}");
    }
}

/// DescribeAlarmHistory is down (every request a 500, as moto answers it):
/// the history is an optional read, so the sync does not retry it for
/// minutes. Sources say, for every tenant-region, that the history was not
/// read and why; the alarms themselves are read; and every attempt sent is
/// counted in the API ledger (before, a 500 cost ten attempts per alarm in
/// ALARM, one alarm after another, and the ledger counted one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_alarm_history_is_said_in_sources_costs_seconds_and_every_attempt_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = epoch_now();
    let world = realistic(epoch).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    world.sim.set_knobs(SimKnobs {
        clock: Some(epoch),
        broken_operations: vec!["DescribeAlarmHistory".into()],
        ..SimKnobs::default()
    });
    let started = std::time::Instant::now();
    let summary = sync_as_is(&world, &cache, epoch).await;
    let took = started.elapsed();
    assert!(took < fleetdeck_engine::collect::OPTIONAL_DEADLINE, "the sync took {took:?}");

    let sources: Vec<(String, String, String, String, Option<String>)> =
        sqlx::query_as("SELECT tenant_id, region, source, status, error FROM source_status ORDER BY 1, 2, 3")
            .fetch_all(cache.pool())
            .await
            .unwrap();
    let history: Vec<_> = sources.iter().filter(|s| s.2 == "alarm_history").collect();
    let alarms: Vec<_> = sources.iter().filter(|s| s.2 == "alarms").collect();
    assert_eq!(history.len(), alarms.len(), "one history source per alarms source");
    // A first sync reads history only where an alarm changed within the
    // day: there it failed, and says so; elsewhere nothing was to be read.
    let tried: std::collections::BTreeSet<(String, String)> = world
        .sim
        .requests()
        .iter()
        .filter(|r| r.action == "DescribeAlarmHistory")
        .map(|r| (r.account.clone(), r.region.clone()))
        .collect();
    assert!(!tried.is_empty(), "some alarm changed within the day (the 5xx spike's)");
    let mut failed = 0;
    for (tenant, region, _, status, error) in &history {
        let account = world.fleet.tenant(tenant).map(|t| t.account.clone()).unwrap_or_default();
        if tried.contains(&(account, region.clone())) {
            assert_eq!(status, "error", "{tenant} {region}");
            assert!(error.as_deref().unwrap_or_default().contains("InternalFailure"), "{tenant} {region}: {error:?}");
            failed += 1;
        } else {
            assert_eq!(status, "ok", "{tenant} {region}: no history was needed");
        }
    }
    assert!(alarms.iter().all(|a| a.3 == "ok"), "the alarms are read: {alarms:#?}");
    assert_eq!(summary.sources_failed as usize, failed, "{:#?}", summary.errors);

    let per_account_region: Vec<u64> =
        world.sim.requests().iter().filter(|r| r.action == "DescribeAlarmHistory").map(|r| r.count).collect();
    let limit = u64::from(fleetdeck_engine::collect::OPTIONAL_MAX_FAILURES);
    assert!(per_account_region.iter().all(|n| *n == limit), "a small budget, spent: {per_account_region:?}");
    let sent: u64 = per_account_region.iter().sum();
    let counted: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(calls), 0) FROM api_call WHERE action = 'cloudwatch:DescribeAlarmHistory'",
    )
    .fetch_one(cache.pool())
    .await
    .unwrap();
    assert_eq!(counted as u64, sent, "every attempt sent is counted");
}

/// globex keeps ap-southeast-2 as an idle failover region
/// (`standby_regions`): nothing flows there, so its metrics have no
/// datapoints. That is "standby" and ok, not "unknown" forever; its other
/// regions are judged as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_standby_region_is_standby_not_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = epoch_now();
    let world = realistic(epoch).await;
    let globex = world.fleet.tenant("globex").unwrap();
    assert_eq!(globex.standby_regions, ["ap-southeast-2"]);
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    sync_at(&world, &cache, epoch).await;

    let overview = fleetdeck_engine::view::fleet_overview(&cache, &world.catalog, false, epoch).await.unwrap();
    let standby = overview.rows.iter().find(|r| r.tenant == "globex" && r.region == "ap-southeast-2").unwrap();
    assert_eq!(standby.health, fleetdeck_engine::model::Health::Ok, "{:?}", standby.reasons);
    assert_eq!(standby.reasons, ["standby: idle, as a failover region is until it is needed"]);
    let home = overview.rows.iter().find(|r| r.tenant == "globex" && r.region == "us-east-1").unwrap();
    assert_eq!(home.health, fleetdeck_engine::model::Health::Critical, "the 5xx spike: {:?}", home.reasons);
}
