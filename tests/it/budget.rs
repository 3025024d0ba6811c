//! The cost of keeping the console open. GetMetricData is billed per metric
//! requested and the console re-reads the fleet every few minutes: the
//! engineer sees in Sources and Settings what the last 24 hours cost and
//! what the interval will cost a day and a month. With a monthly budget
//! (theirs, or the team's in the fleet file, the lower winning) that the
//! projection exceeds, healthy tenant-regions are read less often while the
//! unhealthy ones keep every sync, and the views say so. Checked on the
//! simulator's own request count.

use std::collections::BTreeSet;

use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::clock::{ms, MINUTE};
use fleetdeck_engine::model::{Health, Settings, SourceStatus};
use fleetdeck_engine::sync::{self, SyncOptions};
use fleetdeck_sim::SimKnobs;
use fleetdeck_testkit::world::{epoch_now, World};

/// GetMetricData requests the simulator has received so far.
fn metric_requests(world: &World) -> u64 {
    world.sim.requests().iter().filter(|r| r.iam_action == "cloudwatch:GetMetricData").map(|r| r.count).sum()
}

/// Sync at `at` (the simulator's clock moved there first) with the stretch
/// `healthy_every_secs`; the GetMetricData requests it sent, as the
/// simulator counted them, and the metrics it requested, as the ledger did.
async fn sync_at(world: &World, cache: &Cache, at: i64, healthy_every_secs: Option<i64>) -> (u64, i64) {
    world.sim.set_knobs(SimKnobs { clock: Some(at), ..world.sim.knobs() });
    let before = metric_requests(world);
    let aws = world.aws().await;
    let opts = SyncOptions { healthy_every_secs, ..SyncOptions::at(at) };
    sync::run(&world.fleet, &world.catalog, &aws, cache, &opts, &|_| {}).await.expect("the sync completes");
    let calls = cache.calls_since(ms(at)).await.unwrap();
    let metrics = calls.actions.iter().filter(|a| a.action == "cloudwatch:GetMetricData").map(|a| a.metrics).sum();
    (metric_requests(world) - before, metrics)
}

/// The metrics requested per tenant-region, and which are healthy.
async fn reads(world: &World, cache: &Cache, now: i64) -> (i64, i64) {
    let usage = fleetdeck_engine::spend::usage(cache, &world.fleet, &world.catalog, now).await.unwrap();
    let sum = |healthy: bool| usage.reads.iter().filter(|r| r.1 == healthy).map(|r| r.0 as i64).sum::<i64>();
    (sum(true), sum(false))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_budget_healthy_tenants_are_read_less_often_and_the_views_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = epoch_now() - 60 * MINUTE;
    let mut world = World::start_with(12, Catalog::builtin().unwrap(), t0).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    sync_at(&world, &cache, t0, None).await;

    // No budget: every tenant-region every sync, and the cost is shown.
    let mine = Settings::default();
    let t1 = t0 + 5 * MINUTE;
    let (requests_all, metrics_all) = sync_at(&world, &cache, t1, None).await;
    let healthy: BTreeSet<(String, String)> = cache
        .active_health()
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, _, h)| *h == Health::Ok)
        .map(|(t, r, _)| (t, r))
        .collect();
    let (healthy_metrics, unhealthy_metrics) = reads(&world, &cache, t1).await;
    assert!(healthy_metrics > 0 && unhealthy_metrics > 0, "the fleet has healthy and unhealthy tenant-regions");
    assert_eq!(metrics_all, healthy_metrics + unhealthy_metrics, "every series requested once");
    let spend = fleetdeck_engine::spend::assess(&cache, &world.fleet, &world.catalog, &mine, t1).await.unwrap();
    assert_eq!(spend.last_24h_syncs, 2);
    assert!(spend.last_24h_dollars > 0.0);
    assert_eq!(spend.interval_minutes, 5);
    let metrics_per_day = metrics_all as f64 * 0.01 / 1000.0 * 288.0;
    assert!(spend.per_day >= metrics_per_day, "{spend:#?}");
    assert!((spend.per_month - spend.per_day * 30.0).abs() < 1e-9);
    assert_eq!((spend.budget, spend.healthy_every_minutes, spend.note.as_ref()), (None, None, None));

    // A budget above the projection changes nothing.
    let generous = Settings { monthly_api_budget: Some(spend.per_month * 2.0), ..Settings::default() };
    let within = fleetdeck_engine::spend::assess(&cache, &world.fleet, &world.catalog, &generous, t1).await.unwrap();
    assert_eq!((within.healthy_every_minutes, within.note), (None, None));

    // The team's budget in the fleet file, below the viewer's: it wins.
    // Halfway between every sync and healthy ones hourly, so a stretch fits.
    let usage = fleetdeck_engine::spend::usage(&cache, &world.fleet, &world.catalog, t1).await.unwrap();
    let hourly = usage.per_day(5 * MINUTE, 60 * MINUTE) * 30.0;
    let budget = (spend.per_month + hourly) / 2.0;
    world.fleet.monthly_api_budget = Some(budget);
    let over = fleetdeck_engine::spend::assess(&cache, &world.fleet, &world.catalog, &generous, t1).await.unwrap();
    assert_eq!((over.budget, over.budget_from.as_deref()), (Some(budget), Some("the fleet file")));
    let every = over.healthy_every_minutes.expect("over the budget: healthy tenant-regions are stretched");
    assert!(every > 5 && every < 60 && every % 5 == 0, "{over:#?}");
    assert!(over.stretched_per_month.unwrap() <= budget, "{over:#?}");
    let note = over.note.clone().unwrap();
    assert!(note.contains(&format!("read every {every} min instead")), "{note}");
    assert!(note.contains("over the $") && note.contains("(the fleet file)"), "{note}");

    // The Sources and Settings views carry it.
    let sources = fleetdeck_engine::view::sources(&cache, &world.fleet, &world.catalog, &generous, t1).await.unwrap();
    assert_eq!(sources.spend, over);
    let settings_path = dir.path().join("settings.json");
    let from = fleetdeck_engine::view::SettingsSources {
        cache: &cache,
        fleet: &world.fleet,
        catalog: &world.catalog,
        fleet_file: None,
        settings_path: &settings_path,
    };
    let settings_view = fleetdeck_engine::view::settings_view(from, generous.clone(), t1).await.unwrap();
    assert_eq!(settings_view.spend.note.as_deref(), Some(note.as_str()));

    // The next sync reads only the unhealthy tenant-regions' metrics.
    let stretch = Some(i64::from(every) * MINUTE);
    let t2 = t1 + 5 * MINUTE;
    let (requests_few, metrics_few) = sync_at(&world, &cache, t2, stretch).await;
    assert_eq!(metrics_few, unhealthy_metrics, "only the unhealthy ones' series");
    assert!(requests_few < requests_all, "the simulator saw fewer reads: {requests_few} < {requests_all}");
    let rows = fleetdeck_engine::view::sources(&cache, &world.fleet, &world.catalog, &generous, t2).await.unwrap();
    for r in rows.rows.iter().filter(|r| r.source == "metrics" && r.status == SourceStatus::Ok) {
        let rested = healthy.contains(&(r.tenant.clone(), r.region.clone()));
        let expected = if rested { ms(t1) } else { ms(t2) };
        assert_eq!(r.last_attempt, Some(expected), "{} {} (healthy: {rested})", r.tenant, r.region);
    }

    // Resting is not stale: past the usual 15 minutes, the healthy ones
    // are still ok, their data as fresh as the stretch promises.
    let later = t1 + 17 * MINUTE;
    let fleet_view = fleetdeck_engine::view::fleet_overview(&cache, &world.catalog, false, later).await.unwrap();
    for r in fleet_view.rows.iter().filter(|r| healthy.contains(&(r.tenant.clone(), r.region.clone()))) {
        assert_eq!(r.health, Health::Ok, "{} {}: {:?}", r.tenant, r.region, r.reasons);
    }

    // Once their last read is as old as the stretch, they are read again.
    let t3 = t1 + i64::from(every) * MINUTE;
    let (_, metrics_due) = sync_at(&world, &cache, t3, stretch).await;
    assert!(metrics_due >= healthy_metrics, "{metrics_due}");
    let rows = fleetdeck_engine::view::sources(&cache, &world.fleet, &world.catalog, &generous, t3).await.unwrap();
    for r in
        rows.rows.iter().filter(|r| r.source == "metrics" && healthy.contains(&(r.tenant.clone(), r.region.clone())))
    {
        assert_eq!(r.last_attempt, Some(ms(t3)), "{} {} read again", r.tenant, r.region);
    }
}
