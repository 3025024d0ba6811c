//! Tenants found by their tags (issue 22): in the shared account the fleet
//! file names no load balancer; fleetdeck lists the resources carrying the
//! tenant's cost allocation tag (`tag:GetResources`), reads every one of
//! them, and charts the tenant as the sum of its load balancers.

use std::collections::BTreeMap;

use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::check::{self, CheckOptions, Probe, Verdict};
use fleetdeck_engine::clock::HOUR;
use fleetdeck_engine::collect::{self, QuerySpec};
use fleetdeck_engine::model::SourceStatus;
use fleetdeck_engine::plan::Target;
use fleetdeck_sim::{Model, SimKnobs};
use fleetdeck_testkit::world::{epoch_now, World};

use super::alarms::sync_as_is;

/// GetResources requests the simulator has received so far.
fn tag_reads(w: &World) -> u64 {
    w.sim.requests().iter().filter(|r| r.iam_action == "tag:GetResources").map(|r| r.count).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_with_two_load_balancers_and_a_database_is_found_by_its_tag_and_charted() {
    let epoch = epoch_now();
    let w = World::start_with(24, Catalog::builtin().unwrap(), epoch).await;
    let sim_t = w.sim.tenants().iter().filter(|t| t.model == Model::Shared).nth(1).unwrap().clone();
    let t = w.fleet.tenant(&sim_t.id).unwrap().clone();
    assert!(t.selector.dimensions.is_empty(), "the premise: the fleet file names none of its resources");
    let region = t.home_region.clone();
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    sync_as_is(&w, &cache, epoch).await;

    // Found: both load balancers, the target group and the database.
    let found = cache.tenant_tagged(&t.id).await.unwrap();
    let home: Vec<_> = found.iter().filter(|r| r.region == region).collect();
    assert_eq!(fleetdeck_engine::tags::describe(home.iter().copied()), "1 database, 2 load balancers, 2 target groups");
    assert!(home.iter().any(|r| r.dimension == "DBInstanceIdentifier" && r.value == format!("{}-orders", t.id)));
    let lbs: Vec<String> = home.iter().filter(|r| r.dimension == "LoadBalancer").map(|r| r.value.clone()).collect();
    let sources = cache.all_sources().await.unwrap().into_iter().filter(|s| s.tenant_id == t.id).collect::<Vec<_>>();
    let tags = sources.iter().find(|s| s.source == "tags" && s.region == region).expect("a tags source");
    assert_eq!(tags.status, SourceStatus::Ok);

    // Charted: its requests each minute are both load balancers' together,
    // as CloudWatch itself answers for each.
    let aws = w.aws().await;
    let creds = aws.role(&t.role_arn, t.external_id.as_deref()).await;
    let cw = aws.cloudwatch(&creds, &t.role_arn, &region);
    let target = Target {
        account: t.account.clone(),
        role_arn: t.role_arn.clone(),
        external_id: t.external_id.clone(),
        region: region.clone(),
    };
    let end = epoch - epoch.rem_euclid(60) - 120;
    let queries: Vec<QuerySpec> = lbs
        .iter()
        .map(|lb| {
            let dims = BTreeMap::from([("LoadBalancer".to_string(), lb.clone())]);
            QuerySpec::one("AWS/ApplicationELB", "RequestCount", dims, "Sum", 60)
        })
        .collect();
    let each = collect::metric_data(&cw, &aws, &target, &queries, end - 1800, end).await.unwrap().points;
    assert!(each.iter().all(|p| !p.is_empty()), "both load balancers serve traffic");
    let summed = collect::combine("Sum", each.clone());
    let charted = cache
        .series_points(&w.catalog.views.series_points, &t.id, &region, "requests", (end - 1800, end))
        .await
        .unwrap();
    assert_eq!(charted, summed, "the tenant's requests are its two load balancers' sum");
    assert!(summed.iter().zip(&each[0]).all(|(s, one)| s.1 > one.1), "more than either alone");

    // Its database is charted too; a shared tenant without one has no such
    // chart, and its metrics still read cleanly.
    let db =
        cache.series_points(&w.catalog.views.series_points, &t.id, &region, "db_cpu", (end - 1800, end)).await.unwrap();
    assert!(!db.is_empty() && db.iter().all(|(_, v)| (0.0..=100.0).contains(v)), "{db:?}");
    let other = w.sim.tenants().iter().find(|o| o.model == Model::Shared && o.id != t.id).unwrap();
    let none = cache
        .series_points(&w.catalog.views.series_points, &other.id, other.home_region, "db_cpu", (end - 1800, end))
        .await
        .unwrap();
    assert!(none.is_empty());
    let charts = |tenant: &str| {
        let cache = &cache;
        let w = &w;
        let tenant = tenant.to_string();
        async move {
            let page = fleetdeck_engine::view::tenant(cache, &w.catalog, &tenant, epoch).await.unwrap();
            page.metrics.iter().map(|m| m.key.clone()).collect::<Vec<_>>()
        }
    };
    assert!(charts(&t.id).await.contains(&"db_cpu".to_string()), "its database is charted");
    assert!(!charts(&other.id).await.contains(&"db_cpu".to_string()), "no empty database chart");
    let all = cache.all_sources().await.unwrap();
    let metrics =
        all.iter().find(|s| s.tenant_id == other.id && s.region == other.home_region && s.source == "metrics");
    assert_eq!(metrics.map(|s| s.status), Some(SourceStatus::Ok), "{metrics:?}");

    // The map is read again only after hours: a second sync asks nothing.
    let before = tag_reads(&w);
    assert!(before > 0);
    w.sim.set_knobs(SimKnobs { clock: Some(epoch + 300), ..Default::default() });
    sync_as_is(&w, &cache, epoch + 300).await;
    assert_eq!(tag_reads(&w), before, "the tag map is not read on every sync");

    // `check` says what it found, and from which tag.
    let opts = CheckOptions { tenant: Some(t.id.clone()), ..CheckOptions::at(epoch) };
    let rows = check::run(&w.fleet, &w.catalog, &aws, &opts).await.unwrap();
    let row = rows.iter().find(|r| r.check == Probe::Tags && r.region == region).expect("a tags row");
    assert_eq!(row.result, Verdict::Ok, "{row:?}");
    assert!(
        row.message.contains(&format!("found by tag tenant-id = {:?}: 1 database, 2 load balancers", t.id)),
        "{}",
        row.message
    );
    let cw_row = rows.iter().find(|r| r.check == Probe::Cloudwatch && r.region == region).unwrap();
    assert_eq!(cw_row.result, Verdict::Ok, "{cw_row:?}");
}

/// The Tagging API pages like the reference says, ending with an empty
/// token rather than none: every page is read once, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tagged_resources_are_read_page_by_page_to_the_empty_token() {
    let epoch = epoch_now();
    let w = World::start_with(24, Catalog::builtin().unwrap(), epoch).await;
    let shared: Vec<_> = w.sim.tenants().iter().filter(|t| t.model == Model::Shared).collect();
    let t = w.fleet.tenant(&shared[0].id).unwrap();
    let ids: Vec<String> = shared.iter().map(|t| t.id.clone()).collect();
    let aws = w.aws().await;
    let creds = aws.role(&t.role_arn, t.external_id.as_deref()).await;
    let client = aws.tagging(&creds, "us-east-1");
    let target = Target {
        account: t.account.clone(),
        role_arn: t.role_arn.clone(),
        external_id: t.external_id.clone(),
        region: "us-east-1".into(),
    };
    let whole = collect::tagged_resources(&client, &aws, &target, "tenant-id", &ids, 100).await.unwrap();
    let before = tag_reads(&w);
    let paged = collect::tagged_resources(&client, &aws, &target, "tenant-id", &ids, 1).await.unwrap();
    assert_eq!(paged, whole);
    assert!(whole.len() >= 4, "the premise: several pages ({} resources)", whole.len());
    assert_eq!(tag_reads(&w) - before, whole.len() as u64, "one request per page, the last one ending it");
    // Only the tenants' own: the platform's resources carry another tag.
    assert!(whole.iter().all(|r| ids.contains(&r.tenant)), "{whole:#?}");
}

/// A shared tenant nothing is tagged for: its metrics are "not
/// configured", saying what to tag (or type) and where.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_tenant_whose_resources_carry_no_tag_is_told_what_to_tag() {
    let epoch = epoch_now();
    let mut w = World::start_with(24, Catalog::builtin().unwrap(), epoch).await;
    let at = w.fleet.tenants.iter().position(|t| t.model == fleetdeck_engine::fleet::Model::Shared).unwrap();
    w.fleet.tenants[at].id = "ghost".into();
    let ghost = w.fleet.tenants[at].clone();
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    sync_as_is(&w, &cache, epoch).await;
    let sources = cache.all_sources().await.unwrap().into_iter().filter(|s| s.tenant_id == "ghost").collect::<Vec<_>>();
    let metrics = sources.iter().find(|s| s.source == "metrics" && s.region == ghost.home_region).unwrap();
    assert_eq!(metrics.status, SourceStatus::NotConfigured, "{metrics:?}");
    let error = metrics.error.as_deref().unwrap_or_default();
    assert!(error.contains("no load balancer tagged tenant-id = \"ghost\""), "{error}");
    assert!(error.contains(&format!("every {} hours", fleetdeck_engine::tags::REFRESH_SECS / HOUR)), "{error}");
    let fix = metrics.remediation.as_deref().unwrap_or_default();
    assert!(fix.contains("tag the tenant's load balancer with tenant-id = \"ghost\""), "{fix}");
    assert!(fix.contains(&format!("fleet file line {}", ghost.line)), "{fix}");
}

/// A shared account's role made before fleetdeck read tags (its policy
/// lacks tag:GetResources): the tags source and `check` say so with the
/// action to add, and the tenants' metrics say the tag read failed rather
/// than that nothing is tagged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_without_tag_get_resources_is_told_to_add_it_not_that_nothing_is_tagged() {
    let epoch = epoch_now();
    let w = World::start_with(24, Catalog::builtin().unwrap(), epoch).await;
    let t = w.fleet.tenants.iter().find(|t| t.model == fleetdeck_engine::fleet::Model::Shared).unwrap().clone();
    w.sim.set_knobs(SimKnobs {
        clock: Some(epoch),
        deny_actions: vec![(t.account.clone(), "tag:GetResources".into())],
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    sync_as_is(&w, &cache, epoch).await;
    let sources: Vec<_> = cache.all_sources().await.unwrap().into_iter().filter(|s| s.tenant_id == t.id).collect();
    let of = |source: &str| sources.iter().find(|s| s.source == source && s.region == t.home_region).unwrap();
    assert_eq!(of("tags").status, SourceStatus::AccessDenied, "{:?}", of("tags"));
    assert!(of("tags").remediation.as_deref().unwrap_or_default().contains("\"tag:GetResources\""), "{:?}", of("tags"));
    let metrics = of("metrics");
    let error = metrics.error.as_deref().unwrap_or_default();
    assert!(error.contains("could not list the resources tagged tenant-id"), "{metrics:?}");
    assert!(!error.contains("no load balancer tagged"), "{metrics:?}");
    assert!(metrics.remediation.as_deref().unwrap_or_default().contains("\"tag:GetResources\""), "{metrics:?}");

    let aws = w.aws().await;
    let opts = CheckOptions { tenant: Some(t.id.clone()), ..CheckOptions::at(epoch) };
    let rows = check::run(&w.fleet, &w.catalog, &aws, &opts).await.unwrap();
    let row = rows.iter().find(|r| r.check == Probe::Tags).unwrap();
    assert_eq!(row.result, Verdict::Failed, "{row:?}");
    assert!(row.fix.as_deref().unwrap_or_default().contains("\"tag:GetResources\""), "{row:?}");
}
