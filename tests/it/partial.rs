//! What a sync says when a source is read only in part or not at all.
//!
//! A series CloudWatch answers only in part: GetMetricData succeeds, but
//! one result's `StatusCode` is `InternalError`. Its points are not kept
//! (so its watermark does not move past data never read), its tenant-region
//! says so in Sources, and the next sync reads it whole. Before, the status
//! was ignored and the gap was kept as if it were quiet.

use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_sim::SimKnobs;
use fleetdeck_testkit::world::{epoch_now, World};

use super::alarms::sync_as_is;

async fn points(cache: &Cache, tenant: &str, region: &str, metric: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM datapoint d JOIN series s ON s.id = d.series_id
         WHERE s.tenant_id = ?1 AND s.region = ?2 AND s.metric_key = ?3",
    )
    .bind(tenant)
    .bind(region)
    .bind(metric)
    .fetch_one(cache.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_answered_with_internal_error_is_flagged_and_read_again_next_sync() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = epoch_now();
    let world = World::start_with(8, Catalog::builtin().unwrap(), epoch).await;
    let globex = world.fleet.tenant("globex").unwrap().clone();
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    world.sim.set_knobs(SimKnobs {
        clock: Some(epoch),
        metric_errors: vec![(globex.account.clone(), "HTTPCode_Target_5XX_Count".into())],
        ..SimKnobs::default()
    });
    let first = sync_as_is(&world, &cache, epoch).await;
    let ours: Vec<&String> = first.errors.iter().filter(|e| e.starts_with("globex ")).collect();
    assert!(!ours.is_empty(), "{:#?}", first.errors);
    for e in &ours {
        assert!(
            e.contains(
                " metrics: error (CloudWatch answered InternalError for AWS/ApplicationELB/HTTPCode_Target_5XX_Count"
            ),
            "{e}"
        );
    }
    assert_eq!(ours.len(), first.errors.len(), "only globex's: {:#?}", first.errors);
    assert_eq!(points(&cache, "globex", "us-east-1", "errors").await, 0, "nothing of the failed series was kept");
    assert!(points(&cache, "globex", "us-east-1", "requests").await > 0, "the rest of the call was");

    world.sim.set_knobs(SimKnobs { clock: Some(epoch + 300), ..SimKnobs::default() });
    let second = sync_as_is(&world, &cache, epoch + 300).await;
    assert_eq!(second.sources_failed, 0, "{:#?}", second.errors);
    let errors = points(&cache, "globex", "us-east-1", "errors").await;
    assert!(errors > 1000, "the whole day was read once it answered: {errors} points");
}

/// A tenant whose role cannot be assumed and that has no log groups: its
/// sources say "no access" for what it has (metrics, alarms), not for a
/// logs source it never had; and "N failed" counts every source then
/// listed as not ok.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_tenant_without_log_groups_has_no_logs_source_marked_denied() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = epoch_now();
    let mut world = World::start_with(8, Catalog::builtin().unwrap(), epoch).await;
    let t = world.fleet.tenants.iter_mut().find(|t| t.id == "globex").unwrap();
    t.selector.log_groups.clear();
    let account = t.account.clone();
    world.sim.set_knobs(SimKnobs { clock: Some(epoch), deny_assume_role: vec![account], ..SimKnobs::default() });
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let summary = sync_as_is(&world, &cache, epoch).await;
    let theirs: Vec<(String, String, String)> =
        sqlx::query_as("SELECT region, source, status FROM source_status WHERE tenant_id = 'globex' ORDER BY 1, 2")
            .fetch_all(cache.pool())
            .await
            .unwrap();
    assert!(theirs.iter().all(|(_, source, _)| source != "logs"), "{theirs:#?}");
    assert!(theirs.iter().all(|(_, _, status)| status == "access_denied"), "{theirs:#?}");
    assert_eq!(summary.sources_failed as usize, theirs.len(), "{:#?}", summary.errors);
}
