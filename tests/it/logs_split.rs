//! A log group prefix that matches more groups than one Logs Insights query
//! may name (50): tyrell's `/tyrell/*` matches 60 in the realistic fleet.
//! The sync splits the groups into parts, queries each, and merges the
//! answers into the one a single query would give; before, StartQuery was
//! refused and the tenant's logs source failed.

use fleetdeck_engine::cache::Cache;
use fleetdeck_testkit::world::epoch_now;

use super::alarms::{realistic, sync_at};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_matching_60_log_groups_is_queried_in_parts_and_merged() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = epoch_now();
    let world = realistic(epoch).await;
    let tyrell = world.fleet.tenant("tyrell").expect("tyrell");
    assert_eq!(tyrell.selector.log_groups, ["/tyrell/*"]);
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    // Every source succeeds, tyrell's logs included.
    sync_at(&world, &cache, epoch).await;

    let starts: u64 = world
        .sim
        .requests()
        .iter()
        .filter(|r| r.action == "StartQuery" && r.account == tyrell.account)
        .map(|r| r.count)
        .sum();
    let queries = world.catalog.logs.len() as u64;
    assert_eq!(starts, 2 * queries, "each triage query in two parts (50 + 10 groups)");

    let results: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT query_key, records_matched, truncated FROM log_result WHERE tenant_id = 'tyrell' ORDER BY 1",
    )
    .fetch_all(cache.pool())
    .await
    .unwrap();
    assert_eq!(results.len(), queries as usize, "{results:?}");
    for (key, matched, truncated) in &results {
        assert_eq!(*truncated, 0, "{key}: nothing was cut");
        assert!(*matched > 0, "{key}: the groups' lines were matched: {results:?}");
    }
}

/// One of tyrell's 60 groups is deleted between the listing and the query
/// (StartQuery: "Log group ... does not exist"): the part naming it fails,
/// the other part's answer is kept, and the result says which share of the
/// groups was not read, instead of claiming Logs Insights cut it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_that_fails_is_said_as_groups_not_read_not_as_a_cut_result() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = epoch_now();
    let world = realistic(epoch).await;
    let tyrell = world.fleet.tenant("tyrell").expect("tyrell").clone();
    world.sim.set_knobs(fleetdeck_sim::SimKnobs {
        clock: Some(epoch),
        deleted_log_groups: vec!["/tyrell/svc-55".into()],
        ..Default::default()
    });
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    super::alarms::sync_as_is(&world, &cache, epoch).await;
    let results = cache.log_results(&tyrell.id, &tyrell.home_region).await.unwrap();
    assert_eq!(results.len(), world.catalog.logs.len());
    for r in &results {
        assert!(!r.truncated, "{}: nothing was cut", r.query_key);
        let partial = r.partial.as_deref().unwrap_or_else(|| panic!("{}: partial is said", r.query_key));
        assert!(partial.starts_with("10 of 60 log groups not read: "), "{partial}");
        assert!(partial.contains("/tyrell/svc-55"), "{partial}");
        assert!(r.records_matched > 0, "the other 50 groups' answer is kept");
    }
    // The Tenant page says it.
    let page = fleetdeck_engine::view::tenant(&cache, &world.catalog, &tyrell.id, epoch).await.unwrap();
    assert!(
        page.logs.iter().all(|p| p.partial.as_deref().is_some_and(|s| s.starts_with("10 of 60"))),
        "{:#?}",
        page.logs
    );
}
