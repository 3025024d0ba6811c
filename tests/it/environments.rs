//! A tenant in several accounts (issue 22): the simulated fleet's staging
//! tenant keeps a staging account beside its own, reached through a role
//! of its own there; its regions there read as `<region>@staging` in every
//! view, beside its production ones.

use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::check::{self, CheckOptions, Probe, Verdict};
use fleetdeck_engine::model::SourceStatus;
use fleetdeck_engine::view;
use fleetdeck_testkit::world::{epoch_now, World};

use super::alarms::sync_as_is;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_with_prod_and_staging_accounts_shows_both() {
    let epoch = epoch_now();
    let w = World::start_with(24, Catalog::builtin().unwrap(), epoch).await;
    let sim_t = w.sim.tenants().iter().find(|t| t.staging.is_some()).expect("a tenant with a staging account").clone();
    let staging_account = sim_t.staging.clone().unwrap();
    let t = w.fleet.tenant(&sim_t.id).unwrap().clone();
    assert_eq!(t.environments.len(), 1, "the fleet file names its staging account");
    let (prod, staging) = (t.home_region.clone(), format!("{}@staging", t.home_region));
    assert!(t.regions().any(|r| r == staging), "{:?}", t.regions().collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    sync_as_is(&w, &cache, epoch).await;

    // Reached through the staging account's own role, with the ExternalId.
    let assumed = w.sim.assume_role_requests();
    assert!(
        assumed.iter().any(|a| a.role_arn.contains(&staging_account) && a.external_id == t.external_id),
        "the staging role was assumed"
    );

    // Both on the Fleet view, both read cleanly, both charted.
    let fleet = view::fleet_overview(&cache, &w.catalog, false, epoch).await.unwrap();
    let mine: Vec<&str> = fleet.rows.iter().filter(|r| r.tenant == t.id).map(|r| r.region.as_str()).collect();
    assert!(mine.contains(&prod.as_str()) && mine.contains(&staging.as_str()), "{mine:?}");
    let sources = cache.all_sources().await.unwrap();
    for region in [&prod, &staging] {
        let metrics = sources.iter().find(|s| s.tenant_id == t.id && &s.region == region && s.source == "metrics");
        assert_eq!(metrics.map(|s| s.status), Some(SourceStatus::Ok), "{region}: {metrics:?}");
    }
    let series = |region: String| {
        let cache = &cache;
        let w = &w;
        let t = &t;
        async move {
            cache
                .series_points(&w.catalog.views.series_points, &t.id, &region, "requests", (epoch - 3600, epoch))
                .await
                .unwrap()
        }
    };
    let (p, s) = (series(prod.clone()).await, series(staging.clone()).await);
    assert!(!p.is_empty() && !s.is_empty(), "both accounts' requests are charted");
    let mean = |v: &[(i64, f64)]| v.iter().map(|x| x.1).sum::<f64>() / v.len() as f64;
    assert!(mean(&s) < mean(&p) / 5.0, "staging serves a sliver of production's traffic");
    let page = view::tenant(&cache, &w.catalog, &t.id, epoch).await.unwrap();
    assert!(page.regions.iter().any(|r| r.region == staging), "the Tenant page has the staging tab");
    assert!(page.console.iter().all(|l| !l.region.contains('@')), "console links are the own account's only");

    // `check` reaches the staging account through its role, and reads there.
    let opts = CheckOptions { tenant: Some(t.id.clone()), ..CheckOptions::at(epoch) };
    let aws = w.aws().await;
    let rows = check::run(&w.fleet, &w.catalog, &aws, &opts).await.unwrap();
    let at = |probe: Probe| rows.iter().find(|r| r.region == staging && r.check == probe).map(|r| r.result);
    assert_eq!(at(Probe::Credentials), Some(Verdict::Ok), "{rows:#?}");
    assert_eq!(at(Probe::Cloudwatch), Some(Verdict::Ok), "{rows:#?}");
}
