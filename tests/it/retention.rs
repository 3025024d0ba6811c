//! Retention after a sync: the console syncs every few minutes, and each
//! pass of the retention seeks every series in three tables (half a second
//! at 120,000 series) to delete the few minutes that aged out since the
//! last one. It runs at most once an hour of the sync's clock, and at once
//! when the fleet file's limits change.

use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::clock::{DAY, MINUTE};
use fleetdeck_engine::fleet::Fleet;
use fleetdeck_engine::sync::{self, SyncOptions};
use fleetdeck_sim::SimKnobs;
use fleetdeck_testkit::world::{epoch_now, World};

async fn sync_at(world: &World, fleet: &Fleet, cache: &Cache, at: i64) {
    world.sim.set_knobs(SimKnobs { clock: Some(at), ..world.sim.knobs() });
    let aws = world.aws().await;
    sync::run(fleet, &world.catalog, &aws, cache, &SyncOptions::at(at), &|_| {}).await.expect("the sync completes");
}

/// Whether the raw point at `ts` of `series` is still in the cache.
async fn kept(cache: &Cache, series: i64, ts: i64) -> bool {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM datapoint WHERE series_id = ?1 AND ts = ?2")
        .bind(series)
        .bind(ts)
        .fetch_one(cache.pool())
        .await
        .unwrap()
        == 1
}

async fn old_point(cache: &Cache, series: i64, ts: i64) {
    sqlx::query("INSERT INTO datapoint (series_id, ts, value) VALUES (?1, ?2, 1.0)")
        .bind(series)
        .bind(ts)
        .execute(cache.pool())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_runs_once_an_hour_and_at_once_when_its_limits_change() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = epoch_now() - 3 * 60 * MINUTE;
    let world = World::start_with(2, Catalog::builtin().unwrap(), t0).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    sync_at(&world, &world.fleet, &cache, t0).await;
    let series: i64 = sqlx::query_scalar("SELECT min(id) FROM series").fetch_one(cache.pool()).await.unwrap();

    // 40 days old: past the default 35 days of raw points.
    let forty = t0 - 40 * DAY;
    old_point(&cache, series, forty).await;
    sync_at(&world, &world.fleet, &cache, t0 + 5 * MINUTE).await;
    assert!(kept(&cache, series, forty).await, "five minutes after a retention pass, no other");
    sync_at(&world, &world.fleet, &cache, t0 + 65 * MINUTE).await;
    assert!(!kept(&cache, series, forty).await, "an hour after it, the next pass");

    // 32 days old: kept by 35 days, not by 30, which the fleet file now
    // says, minutes after the last pass.
    let thirty_two = t0 - 32 * DAY;
    old_point(&cache, series, thirty_two).await;
    sync_at(&world, &world.fleet, &cache, t0 + 70 * MINUTE).await;
    assert!(kept(&cache, series, thirty_two).await, "within the limits");
    let mut fleet = world.fleet.clone();
    fleet.retention.raw_days = 30;
    sync_at(&world, &fleet, &cache, t0 + 75 * MINUTE).await;
    assert!(!kept(&cache, series, thirty_two).await, "the new limits apply at the next sync");
}
