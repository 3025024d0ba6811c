//! Cost numbers an account manager can sign: each tenant's month is built
//! here by hand from the simulated bill (Cost Explorer, asked directly) and
//! the usage fleetdeck measured, and matched to the cent against the Cost
//! view; the unit cost is the same in the Cost view, the Tenant page, the
//! report and its CSV. A pool's untagged spend goes only to the tenants
//! living in that account, by the pool's usage metric (requests for shared
//! and pooled accounts, pods for the EKS cluster); spend of accounts where
//! no tenant lives is overhead, shown and never charged.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_costexplorer::types::{
    DateInterval, Expression, Granularity, GroupDefinition, GroupDefinitionType, MatchOption, TagValues,
};
use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::fleet::Model;
use fleetdeck_engine::report::{self, Format, Period, ReportSpec};
use fleetdeck_engine::view;
use fleetdeck_sim::SimFleet;
use fleetdeck_testkit::world::{epoch_now, World};

/// Month-to-date unblended cost from the simulated payer, grouped by
/// `first` and SERVICE, optionally only spend without the tenant tag:
/// group key -> dollars.
async fn bill(w: &World, first: GroupDefinition, untagged_only: bool) -> BTreeMap<String, f64> {
    use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(w.sim.endpoint())
        .credentials_provider(Credentials::new(SimFleet::ACCESS_KEY_ID, SimFleet::SECRET_ACCESS_KEY, None, None, "t"))
        .load()
        .await;
    let ce = aws_sdk_costexplorer::Client::new(&conf);
    let today = fleetdeck_engine::clock::day_of(w.epoch);
    let start = today.format("%Y-%m-01").to_string();
    let end = (today + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let filter = untagged_only.then(|| {
        Expression::builder()
            .tags(TagValues::builder().key(&w.fleet.cost_tag).match_options(MatchOption::Absent).build())
            .build()
    });
    let mut out = BTreeMap::new();
    let mut token = None;
    loop {
        let page = ce
            .get_cost_and_usage()
            .time_period(DateInterval::builder().start(&start).end(&end).build().unwrap())
            .granularity(Granularity::Daily)
            .metrics("UnblendedCost")
            .group_by(first.clone())
            .group_by(GroupDefinition::builder().r#type(GroupDefinitionType::Dimension).key("SERVICE").build())
            .set_filter(filter.clone())
            .set_next_page_token(token)
            .send()
            .await
            .expect("the bill");
        for r in page.results_by_time() {
            for g in r.groups() {
                let amount: f64 = g.metrics().unwrap()["UnblendedCost"].amount().unwrap().parse().unwrap();
                *out.entry(g.keys()[0].clone()).or_default() += amount;
            }
        }
        token = page.next_page_token().map(str::to_string);
        if token.is_none() {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenants_month_is_recomputed_by_hand_from_the_bill_and_matches_everywhere() {
    let w = World::start_with(24, Catalog::builtin().unwrap(), epoch_now()).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let summary = super::alarms::sync_as_is(&w, &cache, w.epoch).await;
    assert_eq!(summary.sources_failed, 0, "{:#?}", summary.errors);
    let today = fleetdeck_engine::clock::day_of(w.epoch);

    // The bill, three ways.
    let dim = |k: &str| GroupDefinition::builder().r#type(GroupDefinitionType::Dimension).key(k).build();
    let tag = GroupDefinition::builder().r#type(GroupDefinitionType::Tag).key(&w.fleet.cost_tag).build();
    let by_tag = bill(&w, tag, false).await;
    let by_account = bill(&w, dim("LINKED_ACCOUNT"), false).await;
    let untagged = bill(&w, dim("LINKED_ACCOUNT"), true).await;

    // By hand. Own spend: an account-owning tenant's whole account; any
    // other tenant's tag.
    let tenants = &w.fleet.tenants;
    let mut own: HashMap<&str, f64> = HashMap::new();
    for t in tenants {
        let spend = if t.model.owns_account() {
            by_account.get(&t.account).copied().unwrap_or(0.0)
        } else {
            by_tag.get(&format!("{}${}", w.fleet.cost_tag, t.id)).copied().unwrap_or(0.0)
        };
        own.insert(t.id.as_str(), spend);
    }
    // Pools: untagged spend of an account that non-owning tenants share,
    // by requests (shared, pooled) or pods (EKS); overhead: untagged spend
    // of accounts no tenant lives in.
    let usage = |rows: Vec<(String, f64)>| rows.into_iter().collect::<HashMap<_, _>>();
    let requests = usage(fleetdeck_engine::cost::usage_per_day(&cache, "requests", None, today).await.unwrap());
    let pods = usage(fleetdeck_engine::cost::usage_per_day(&cache, "pods", None, today).await.unwrap());
    let mut share: HashMap<&str, f64> = HashMap::new();
    let mut overhead = 0.0;
    for (account, dollars) in &untagged {
        if tenants.iter().any(|t| t.model.owns_account() && &t.account == account) {
            continue;
        }
        let members: Vec<_> = tenants.iter().filter(|t| &t.account == account).collect();
        if members.is_empty() {
            overhead += dollars;
            continue;
        }
        let eks = members.iter().filter(|t| t.model == Model::Eks).count() * 2 > members.len();
        let metric = if eks { &pods } else { &requests };
        let weights: Vec<f64> = members.iter().map(|t| metric.get(&t.id).copied().unwrap_or(0.0)).collect();
        let total: f64 = weights.iter().sum();
        assert!(total > 0.0, "usage measured for the pool of {account}");
        for (t, wgt) in members.iter().zip(&weights) {
            *share.entry(t.id.as_str()).or_default() += dollars * wgt / total;
        }
    }
    assert!(overhead > 0.0, "the payer's own spend is overhead");

    // The Cost view, to the cent.
    let cost = view::cost(&cache, today).await.unwrap();
    for r in &cost.rows {
        let (o, s) = (own[r.tenant.as_str()], share.get(r.tenant.as_str()).copied().unwrap_or(0.0));
        assert!(
            (r.cost.month_to_date - o).abs() < 0.005,
            "{}: own {} against {o:.2} by hand",
            r.tenant,
            r.cost.month_to_date
        );
        assert!((r.apportioned - s).abs() < 0.005, "{}: share {} against {s:.2} by hand", r.tenant, r.apportioned);
    }
    let a = cost.apportion.as_ref().expect("pools and overhead shown");
    assert!(
        (a.overhead_month_to_date - overhead).abs() < 0.005,
        "overhead {} against {overhead:.2}",
        a.overhead_month_to_date
    );
    // A customer-owned account outside the organization is on no line of
    // the bill: "not on your bill", not $0, in the Cost view and its page.
    let outside: Vec<_> = w.sim.tenants().iter().filter(|t| t.outside_organization()).collect();
    assert_eq!(outside.len(), 1, "the demo fleet has one");
    for t in &outside {
        let row = cost.rows.iter().find(|r| r.tenant == t.id).unwrap();
        assert!(row.not_on_bill && row.cost.month_to_date == 0.0, "{row:#?}");
        let page = view::tenant(&cache, &w.catalog, &t.id, w.epoch).await.unwrap();
        assert!(page.cost_not_on_bill, "{}", t.id);
    }
    assert_eq!(cost.rows.iter().filter(|r| r.not_on_bill).count(), 1, "every other tenant is on the bill");
    // EKS tenants carry a share of their cluster's account, and only that.
    for t in tenants.iter().filter(|t| t.model == Model::Eks) {
        assert!(share.get(t.id.as_str()).copied().unwrap_or(0.0) > 0.0, "{} pays its share of the cluster", t.id);
    }
    // Everything on the bill is someone's or overhead.
    let total_bill: f64 = by_account.values().sum();
    let charged: f64 = cost.rows.iter().map(|r| r.cost.month_to_date + r.apportioned).sum();
    let unclaimed_tags: f64 = by_tag
        .iter()
        .filter(|(k, _)| {
            let v = k.split_once('$').map(|(_, v)| v).unwrap_or("");
            !v.is_empty() && !tenants.iter().any(|t| t.id == v && !t.model.owns_account())
        })
        .map(|(_, v)| v)
        .sum::<f64>();
    assert!(
        (charged + overhead + unclaimed_tags - total_bill).abs() < 0.05,
        "charged {charged:.2} + overhead {overhead:.2} + unclaimed {unclaimed_tags:.2} against the bill {total_bill:.2}"
    );

    // One unit cost: Cost view, Tenant page, report, CSV.
    let spec = ReportSpec { period: Period::days(7), tenant: None, format: Format::Csv };
    let csv = String::from_utf8(report::render(&cache, &w.catalog, &spec, w.epoch).await.unwrap().bytes).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|c| *c == "cost_per_million_requests").unwrap();
    let mut compared = 0;
    for r in cost.rows.iter().filter(|r| r.cost_per_million.is_some()) {
        let unit = r.cost_per_million.unwrap();
        let page = view::tenant(&cache, &w.catalog, &r.tenant, w.epoch).await.unwrap();
        // The same figure, not two that round alike; the CSV's within its
        // four decimals (rounding each to the cent flips at a half).
        assert_eq!(page.cost_per_million_requests, Some(unit), "{}: Tenant page", r.tenant);
        let line = csv.lines().find(|l| l.starts_with(&format!("{},", r.tenant))).unwrap();
        let cell: f64 = line.split(',').nth(col).unwrap().parse().unwrap();
        assert!((cell - unit).abs() <= 0.00005 + 1e-9, "{}: CSV {cell} against {unit}", r.tenant);
        compared += 1;
    }
    assert!(compared > 10, "unit costs compared: {compared}");

    // The Tenant page charges one tenant over its pools alone: the same
    // charge as the whole fleet's chargeback gives it, to the last bit.
    let fleet = fleetdeck_engine::cost::chargeback(&cache, today).await.unwrap();
    let pooled = tenants.iter().filter(|t| !t.model.owns_account()).count();
    assert!(pooled >= 3 && fleet.tenants.len() == tenants.len(), "the premise: pools and their tenants");
    for (id, c) in &fleet.tenants {
        assert_eq!(&fleetdeck_engine::cost::charge(&cache, id, today).await.unwrap(), c, "{id}");
    }
}

/// Every cost row in the cache, in order: what two reads are compared by.
async fn cost_rows(cache: &Cache) -> Vec<(String, String, String, String, f64)> {
    sqlx::query_as("SELECT tenant_id, day, service, source, amount FROM cost_daily ORDER BY 1, 2, 3, 4")
        .fetch_all(cache.pool())
        .await
        .unwrap()
}

/// Cost Explorer fails in the middle of a paged read (every page after the
/// second answers DataUnavailableException): the pages already answered, and paid for, are kept;
/// the next sync resumes at the failed page instead of buying the first
/// ones again; and the result is the same cache a clean read gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_cost_page_keeps_the_pages_paid_for_and_the_next_sync_resumes_there() {
    let w = World::start_with(24, Catalog::builtin().unwrap(), epoch_now()).await;
    let dir = tempfile::tempdir().unwrap();
    let ce_requests = || -> u64 {
        w.sim.requests().iter().filter(|r| r.action == "GetCostAndUsage").map(|r| r.count - r.faulted).sum()
    };

    // A clean read, for reference: how many pages, and what it stores.
    let clean = Cache::open(&dir.path().join("clean.sqlite")).await.unwrap();
    let before = ce_requests();
    super::alarms::sync_as_is(&w, &clean, w.epoch).await;
    let pages = ce_requests() - before;
    assert!(pages > 6, "each of the three reads takes several pages: {pages}");

    // Every page after the second fails, whatever the retries.
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    w.sim.set_knobs(fleetdeck_sim::SimKnobs {
        clock: Some(w.epoch),
        cost_pages_fail_after: Some(2),
        ..Default::default()
    });
    let before = ce_requests();
    let summary = super::alarms::sync_as_is(&w, &cache, w.epoch).await;
    // Each read (a query over the month to date, or over the days before
    // it) longer than two pages answered two and was refused once; the
    // reads left unfinished say which.
    let unfinished: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM meta WHERE key LIKE 'cost_progress:%' AND value LIKE '%\"done\":false%'",
    )
    .fetch_one(cache.pool())
    .await
    .unwrap();
    assert!(unfinished >= 3, "each of the three queries has a read longer than two pages: {unfinished}");
    let answered = ce_requests() - before - unfinished as u64;
    let failed: Vec<_> = summary.errors.iter().filter(|e| e.contains(" cost: ")).collect();
    assert_eq!(failed.len(), 1, "{:#?}", summary.errors);
    assert!(failed[0].contains("the pages read before it are kept"), "{}", failed[0]);
    let kept = cost_rows(&cache).await;
    assert!(!kept.is_empty(), "the pages answered are in the cache");

    // AWS answers again: only the pages not yet read are bought.
    w.sim.set_knobs(fleetdeck_sim::SimKnobs { clock: Some(w.epoch), ..Default::default() });
    let before = ce_requests();
    let summary = super::alarms::sync_as_is(&w, &cache, w.epoch).await;
    assert_eq!(summary.sources_failed, 0, "{:#?}", summary.errors);
    assert_eq!(
        ce_requests() - before,
        pages - answered,
        "resumed at the failed pages, the first ones not bought again"
    );
    assert_eq!(cost_rows(&cache).await, cost_rows(&clean).await, "nothing lost, nothing counted twice");
}

/// A bill too big for one sync (here a cap of two pages a sync; a big
/// fleet's read is stopped once the rest of the sync is done): each sync
/// buys its pages, the month to date before the earlier days; Sources and
/// the Cost view say what is not read yet; the next syncs resume where the
/// last one stopped, buy no page twice, and end with the cache a whole
/// read gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bill_too_big_for_one_sync_is_read_month_to_date_first_and_resumed_by_the_next_syncs() {
    use fleetdeck_engine::sync::{self, SyncOptions, COST_READING};
    let w = World::start_with(24, Catalog::builtin().unwrap(), epoch_now()).await;
    let dir = tempfile::tempdir().unwrap();
    let ce_requests =
        || -> u64 { w.sim.requests().iter().filter(|r| r.action == "GetCostAndUsage").map(|r| r.count).sum() };
    let aws = w.aws().await;
    let sync_capped = |cache: &Cache, cap: Option<u32>| {
        let aws = &aws;
        let opts = SyncOptions { cost_pages_cap: cap, ..SyncOptions::at(w.epoch) };
        let cache = cache.clone();
        let w = &w;
        async move { sync::run(&w.fleet, &w.catalog, aws, &cache, &opts, &|_| ()).await.expect("the sync completes") }
    };

    let clean = Cache::open(&dir.path().join("clean.sqlite")).await.unwrap();
    let before = ce_requests();
    sync_capped(&clean, None).await;
    let pages = ce_requests() - before;
    assert!(pages > 6, "the bill takes several pages: {pages}");
    assert_eq!(clean.meta(COST_READING).await.unwrap().as_deref(), Some(""), "a whole read leaves nothing to say");

    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let before = ce_requests();
    let summary = sync_capped(&cache, Some(2)).await;
    assert_eq!(ce_requests() - before, 2, "the cap holds");
    assert_eq!(summary.sources_failed, 0, "a stopped read is not a failure: {:#?}", summary.errors);
    let today = fleetdeck_engine::clock::day_of(w.epoch);
    let first_this = today.format("%Y-%m-").to_string();
    let kept = cost_rows(&cache).await;
    assert!(!kept.is_empty());
    assert!(kept.iter().all(|r| r.1.starts_with(&first_this)), "the month to date is read first: {:?}", kept[0]);
    let reading = cache.meta(COST_READING).await.unwrap().unwrap_or_default();
    assert!(reading.starts_with("2 Cost Explorer pages read this sync; not yet read: "), "{reading}");
    let cost = view::cost(&cache, today).await.unwrap();
    assert_eq!(cost.reading.as_deref(), Some(reading.as_str()), "the Cost view says so");
    let sources = view::sources(&cache, &w.fleet, &w.catalog, &Default::default(), w.epoch).await.unwrap();
    let row = sources.rows.iter().find(|r| r.source == "cost").expect("the cost source");
    assert_eq!(row.detail.as_deref(), Some(reading.as_str()), "and Sources");
    let spec = ReportSpec { period: Period::days(7), tenant: None, format: Format::Html };
    let html = String::from_utf8(report::render(&cache, &w.catalog, &spec, w.epoch).await.unwrap().bytes).unwrap();
    assert!(html.contains("The bill is not read whole yet: 2 Cost Explorer pages read this sync"), "and the report");

    // The next syncs resume where the last stopped, two pages at a time.
    let mut syncs = 1;
    while !cache.meta(COST_READING).await.unwrap().unwrap_or_default().is_empty() {
        sync_capped(&cache, Some(2)).await;
        syncs += 1;
        assert!(syncs <= pages, "every sync reads");
    }
    assert_eq!(ce_requests() - before, pages, "no page bought twice");
    assert_eq!(cost_rows(&cache).await, cost_rows(&clean).await, "nothing lost, nothing counted twice");
    assert_eq!(view::cost(&cache, today).await.unwrap().reading, None);
}
