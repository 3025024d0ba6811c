//! Health goes stale when it is read, not only when it was written: an
//! engineer who opens the console (or runs `status`) 18 minutes after the
//! last sync must not see "ok" for data the health rules call stale after
//! 15 minutes.

use std::sync::Mutex;

use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::model::Health;
use fleetdeck_engine::sync::{self, SyncOptions};
use fleetdeck_testkit::world::{epoch_now, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_read_18_minutes_after_the_newest_datapoint_is_stale_not_ok() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = epoch_now();
    let world = World::start_with(8, Catalog::builtin().unwrap(), epoch).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let aws = world.aws().await;
    let seen = Mutex::new(Vec::new());
    sync::run(&world.fleet, &world.catalog, &aws, &cache, &SyncOptions::at(epoch), &|p| seen.lock().unwrap().push(p))
        .await
        .expect("the sync completes");

    let fresh = fleetdeck_engine::view::fleet_overview(&cache, &world.catalog, false, epoch).await.unwrap();
    let ok: Vec<_> = fresh.rows.iter().filter(|r| r.health == Health::Ok).collect();
    assert!(!ok.is_empty(), "some tenant-regions are ok right after the sync: {:#?}", fresh.rows);

    let stale_after = world.catalog.health.stale_after_secs;
    assert_eq!(stale_after, 15 * 60, "the built-in rules");
    let later = epoch + 18 * 60;
    let read = fleetdeck_engine::view::fleet_overview(&cache, &world.catalog, false, later).await.unwrap();
    for r in &read.rows {
        let Some(fresh_ms) = r.fresh_at else { continue };
        if later - fresh_ms / 1000 > stale_after {
            assert_ne!(r.health, Health::Ok, "{} {}: {:?}", r.tenant, r.region, r.reasons);
            assert!(r.reasons[0].starts_with("no datapoints since "), "{:?}", r.reasons);
        }
    }
    assert_eq!(read.counts.ok, 0, "nothing is ok on data 18 minutes old: {:#?}", read.counts);
    // What was ok is unknown now, saying why.
    for was_ok in &ok {
        let now = read.rows.iter().find(|r| r.tenant == was_ok.tenant && r.region == was_ok.region).unwrap();
        assert_eq!(now.health, Health::Unknown, "{} {}: {:?}", now.tenant, now.region, now.reasons);
    }
    // Critical stays critical: staleness only makes things worse.
    let critical = |rows: &[fleetdeck_engine::model::TenantHealth]| {
        rows.iter()
            .filter(|r| r.health == Health::Critical)
            .map(|r| (r.tenant.clone(), r.region.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(critical(&read.rows), critical(&fresh.rows));

    // The Tenant page reads the same way.
    let t = &ok[0].tenant;
    let page = fleetdeck_engine::view::tenant(&cache, &world.catalog, t, later).await.unwrap();
    let row = page.regions.iter().find(|r| r.region == ok[0].region).unwrap();
    assert_eq!(row.health, Health::Unknown, "{t}: {:?}", row.reasons);
}
