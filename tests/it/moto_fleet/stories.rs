//! The stories against moto: one per isolation model, watermarks, denied tenants, Cost Explorer pages, least privilege.

use super::*;

/// An on-call engineer syncs a fleet with one tenant of every isolation
/// model (acme silo and globex remote plane in their own accounts; initech
/// shared VPC, hooli EKS namespace and umbrella pooled in one shared
/// account; us-east-1 and eu-west-1, acme and umbrella in both) and opens
/// each tenant: it holds exactly the datapoints, alarms and log lines its
/// own application wrote, and nothing of another tenant's, although load
/// balancer names, metric names, alarm names and log group names collide
/// across accounts and regions on purpose.
///
/// moto cannot run Logs Insights `filter` or `stats`, so only tenants with
/// their own log group (silo, remote, shared) prove log isolation here;
/// filtering a pooled or EKS tenant's lines out of a shared log group by
/// its tenant field is covered by the simulated fleet. p99 is left out of
/// the catalog (moto fails it with HTTP 500); the simulated fleet covers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_isolation_model_sees_only_its_own_metrics_alarms_and_logs() {
    let w = World::start().await;
    let seeded = seed_five_tenants(&w).await;
    let deck = Deck::new(&five_tenants(&w, ""), METRICS, LOGS).await;

    let summary = deck.sync(w.now).await;
    assert_eq!(fleetdeck_testkit::beyond_moto(&summary), Vec::<&String>::new());

    let cached = deck.points().await;
    for (key, want) in &seeded.points {
        assert_eq!(cached.get(key), Some(want), "{key:?} holds other points than its application wrote");
    }
    let extra: Vec<_> = cached.keys().filter(|k| !seeded.points.contains_key(*k)).collect();
    assert!(extra.is_empty(), "series nobody in the fleet owns were cached: {extra:?}");

    let alarms = deck.alarms().await;
    let missing: Vec<_> = seeded.alarms.difference(&alarms).collect();
    let leaked: Vec<_> = alarms.difference(&seeded.alarms).collect();
    assert!(missing.is_empty() && leaked.is_empty(), "alarms missing: {missing:#?}\nalarms misattributed: {leaked:#?}");

    assert_eq!(deck.log_messages().await, seeded.logs, "each tenant's log lines, from its own log groups only");

    for ((tenant, region, source), (status, error, _)) in deck.sources().await {
        // moto has no DescribeAlarmHistory: that source fails everywhere.
        let want = if source == "alarm_history" { "error" } else { "ok" };
        assert_eq!(status, want, "{tenant} {region} {source}: {error}");
    }
}

/// An on-call engineer syncs, the tenant's application keeps publishing
/// (and one datapoint of an already-synced minute arrives late), and the
/// engineer syncs again ten minutes later: the second GetMetricData asks
/// only from the committed watermark minus the 10-minute overlap (the
/// proxy's record of the request shows its StartTime), not for another
/// 24-hour backfill; the new points and the late one are in the cache, and
/// no (series, minute) is stored twice.
///
/// moto does not page GetMetricData (no NextToken); paging is covered by the
/// simulated fleet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_reads_only_since_the_watermark_and_never_duplicates() {
    let w = World::start().await;
    let end1 = w.end();
    let app = w.as_account(SHARED, US).await;
    let dims = [("TenantId", "umbrella")];
    app.metric("SaaS/App", "Requests", &dims, &minutes(end1, 100.0, 20)).await;
    app.metric("SaaS/App", "Errors", &dims, &minutes(end1, 200.0, 20)).await;
    let deck = Deck::new(&fleet_file(&w.proxy, "", &[umbrella("")]), METRICS, LOGS).await;

    deck.sync(w.now).await;
    let first: Vec<Record> =
        w.sent_by_fleetdeck().into_iter().filter(|r| r.name() == "monitoring:GetMetricData").collect();
    assert!(!first.is_empty(), "the first sync read no metrics");
    for r in &first {
        let start = r.params["StartTime"].as_f64().unwrap() as i64;
        assert!(start <= end1 - 24 * 3600 + 60, "a first sync backfills a day, this one started at {start}");
    }
    let watermarks: Vec<(String, Option<i64>)> =
        sqlx::query("SELECT metric_key, watermark FROM series WHERE tenant_id = 'umbrella' ORDER BY metric_key")
            .fetch_all(deck.cache.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    assert_eq!(watermarks, vec![(s("errors"), Some(end1)), (s("requests"), Some(end1))]);

    // Ten more minutes of traffic, and a late datapoint for a minute already synced.
    let later: Vec<(i64, f64)> = (0..10).map(|k| (end1 + 60 * k, 300.0 + k as f64)).collect();
    let later_errors: Vec<(i64, f64)> = (0..10).map(|k| (end1 + 60 * k, 400.0 + k as f64)).collect();
    app.metric("SaaS/App", "Requests", &dims, &later).await;
    app.metric("SaaS/App", "Errors", &dims, &later_errors).await;
    let late_minute = end1 - 3 * 60;
    app.metric("SaaS/App", "Requests", &dims, &[(late_minute, 0.5)]).await;

    let sent_before = w.sent_by_fleetdeck().len();
    let now2 = w.now + 600;
    deck.sync(now2).await;
    let second: Vec<Record> = w.sent_by_fleetdeck()[sent_before..]
        .iter()
        .filter(|r| r.name() == "monitoring:GetMetricData")
        .cloned()
        .collect();
    assert!(!second.is_empty(), "the second sync read no metrics");
    for r in &second {
        let start = r.params["StartTime"].as_f64().unwrap() as i64;
        let end = r.params["EndTime"].as_f64().unwrap() as i64;
        assert!(
            start >= end1 - 600 && start < end1,
            "the re-sync asked from {start}, the watermark is {end1}: want [watermark - 10 min, watermark)"
        );
        assert_eq!(end, fleetdeck_engine::plan::end_for(now2));
    }

    let points = deck.points().await;
    let requests = &points[&(s("umbrella"), s(US), s("requests"))];
    let errors = &points[&(s("umbrella"), s(US), s("errors"))];
    let mut want = minutes(end1, 100.0, 20);
    want.extend(&later);
    for p in want.iter_mut().filter(|(ts, _)| *ts == late_minute) {
        p.1 += 0.5; // Sum of the minute now includes the late datapoint
    }
    assert_eq!(requests, &want, "requests after the re-sync: every minute once, the late one updated");
    let mut want_errors = minutes(end1, 200.0, 20);
    want_errors.extend(&later_errors);
    assert_eq!(errors, &want_errors);

    let (rows, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT printf('%d/%d', series_id, ts)) FROM datapoint")
            .fetch_one(deck.cache.pool())
            .await
            .unwrap();
    assert_eq!((rows, distinct), (60, 60), "30 minutes of two series, each stored once");
}

/// An on-call engineer syncs a fleet where three tenants are misconfigured
/// in different ways: acme's role lacks cloudwatch:GetMetricData, globex's
/// customer-owned role lacks logs:StartQuery, and stark's role does not
/// exist at all (AssumeRole is refused). The proxy refuses those calls with
/// AWS's own access-denied errors in each protocol. The sync still returns
/// Ok; each failing source is recorded as `access_denied` with the AWS
/// error and a remediation naming what to grant (the missing action, or
/// the role and its ExternalId); every other source, including the
/// misconfigured tenants' other sources and initech's, is `ok` with its data.
///
/// moto itself only enforces IAM when switched on and ignores session
/// policies, so the denials are the proxy's; throttling and expired tokens
/// are covered by the simulated fleet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_whose_calls_are_denied_is_marked_so_and_the_others_sync() {
    let w = World::start().await;
    let (end, now_ms) = (w.end(), w.now * 1000);
    let alb = "AWS/ApplicationELB";
    let acme_app = w.as_account(SILO, US).await;
    acme_app.metric(alb, "RequestCount", &[("LoadBalancer", LB)], &minutes(end, 100.0, 5)).await;
    acme_app.log_group("/app/web", &[(now_ms - 60_000, "acme us checkout failed")]).await;
    let globex_app = w.as_account(REMOTE, EU).await;
    globex_app.metric(alb, "RequestCount", &[("LoadBalancer", LB)], &minutes(end, 200.0, 5)).await;
    globex_app.log_group("/app/web", &[(now_ms - 60_000, "globex eu web timeout")]).await;
    let shared_app = w.as_account(SHARED, US).await;
    shared_app.metric(alb, "RequestCount", &[("LoadBalancer", INITECH_LB)], &minutes(end, 300.0, 5)).await;
    shared_app.log_group("/shared/initech", &[(now_ms - 60_000, "initech us db error")]).await;

    w.proxy.deny(SILO, "cloudwatch:GetMetricData");
    w.proxy.deny(REMOTE, "logs:StartQuery");
    w.proxy.deny(NO_ROLE, "sts:AssumeRole");
    let deck = Deck::new(&fleet_file(&w.proxy, "", &[acme(""), globex(), initech(), stark()]), METRICS, LOGS).await;

    let summary = deck.sync(w.now).await;

    let refused: BTreeSet<(String, String)> =
        w.sent_by_fleetdeck().iter().filter(|r| r.denied).map(|r| (r.account.clone(), r.iam_action())).collect();
    assert_eq!(
        refused,
        BTreeSet::from([
            (s(SILO), s("cloudwatch:GetMetricData")),
            (s(REMOTE), s("logs:StartQuery")),
            (s(cbor_proxy::DEFAULT_ACCOUNT), s("sts:AssumeRole")),
        ]),
        "the calls the proxy refused"
    );

    let sources = deck.sources().await;
    // The tenants whose role works but lacks one action.
    let lacking = [(("acme", US, "metrics"), "cloudwatch:GetMetricData"), (("globex", EU, "logs"), "logs:StartQuery")];
    for ((tenant, region, source), action) in lacking {
        let Some((status, error, remediation)) = sources.get(&(s(tenant), s(region), s(source))) else {
            panic!("no {source} status for {tenant} {region}: {sources:#?}");
        };
        assert_eq!(status, "access_denied", "{tenant} {region} {source}: {error}");
        assert!(error.contains(&format!("not authorized to perform: {action}")), "the AWS error is kept: {error:?}");
        assert!(
            remediation.contains(action),
            "{tenant} {source}: the remediation should name {action}: {remediation:?}"
        );
    }

    // Everything else of theirs, and all of initech's, is ok.
    let stark = (s("stark"), s("*"), s("credentials"));
    for ((tenant, region, source), (status, error, _)) in &sources {
        let key = (tenant.as_str(), region.as_str(), source.as_str());
        // moto has no DescribeAlarmHistory: that source fails everywhere.
        if tenant == "stark" || lacking.iter().any(|(k, _)| *k == key) || source == "alarm_history" {
            continue;
        }
        assert_eq!(status, "ok", "{tenant} {region} {source} should be unaffected: {error}");
    }
    for (tenant, region, source) in [
        ("acme", US, "alarms"),
        ("acme", US, "logs"),
        ("globex", EU, "metrics"),
        ("globex", EU, "alarms"),
        ("initech", US, "metrics"),
        ("initech", US, "alarms"),
        ("initech", US, "logs"),
    ] {
        assert!(sources.contains_key(&(s(tenant), s(region), s(source))), "{tenant} {region} {source} not recorded");
    }
    assert_eq!(fleetdeck_testkit::beyond_moto(&summary).len(), 3, "{:?}", summary.errors);

    let points = deck.points().await;
    let owners: BTreeSet<&str> = points.keys().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(owners, BTreeSet::from(["globex", "initech"]), "the tenants that could be read were");
    let logs = deck.log_messages().await;
    let with_logs: BTreeSet<&str> = logs.keys().map(|(t, _)| t.as_str()).collect();
    assert_eq!(with_logs, BTreeSet::from(["acme", "initech"]));

    // Stark: no role to assume. What to fix is the role in stark's account
    // (create it, trust fleetdeck, require the ExternalId), not an action.
    let Some((status, error, remediation)) = sources.get(&stark) else { panic!("no credentials status for stark") };
    assert_eq!(status, "access_denied", "{error}");
    assert!(error.contains("not authorized to perform: sts:AssumeRole"), "the AWS error is kept: {error:?}");
    let role = format!("arn:aws:iam::{NO_ROLE}:role/FleetdeckReadOnly");
    assert!(
        remediation.contains(&role) && remediation.contains("fleetdeck-stark-0b1d"),
        "stark's remediation should name the role {role} and its ExternalId: {remediation:?}"
    );
    for ((tenant, region, source), (status, _, _)) in &sources {
        assert!(tenant != "stark" || status != "ok", "stark has no credentials, yet {region} {source} is ok");
    }
}

/// An account manager opens the cost view after a sync. Cost Explorer,
/// read from the payer account through its own role, answers both of
/// fleetdeck's groupings ([TAG tenant-id, SERVICE] and [LINKED_ACCOUNT,
/// SERVICE]) in several pages joined by NextPageToken. Every page's amount
/// lands in cost_daily: tag-costed tenants (shared, pooled) by their tag,
/// whole-account tenants (silo, remote) by their account, spend with an
/// empty tag under tenant '' (untagged), and nothing anyone else's; the
/// shared account's and the payer's own account lines belong to no tenant.
///
/// moto has no cost data of its own: the pages are the test's, queued in
/// moto through its API (`/moto-api/static/ce/cost-and-usage-results`) just
/// before the request they answer, keyed by grouping and page token, so
/// moto serves each page to the request it belongs to whatever order the
/// engine asks in. moto lacks GetCostForecast; forecasts are covered by the
/// simulated fleet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_explorer_pages_land_on_the_right_tenants_and_untagged_spend_is_kept() {
    let w = World::start().await;
    let today = chrono::DateTime::from_timestamp(w.now, 0).unwrap().date_naive();
    let (d1, d2, d3) = (today - chrono::Days::new(2), today - chrono::Days::new(1), today);
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let ec2 = "Amazon Elastic Compute Cloud - Compute";
    let (rds, s3, lambda) = ("Amazon Relational Database Service", "Amazon Simple Storage Service", "AWS Lambda");
    // No reservations or savings plans here: amortised equals unblended.
    let group = |key: &str, service: &str, amount: &str| {
        let cost = json!({"Amount": amount, "Unit": "USD"});
        json!({"Keys": [key, service], "Metrics": {"UnblendedCost": cost, "AmortizedCost": cost}})
    };
    let on = |d: chrono::NaiveDate, estimated: bool, groups: Vec<Json>| {
        json!({"TimePeriod": {"Start": day(d), "End": day(d + chrono::Days::new(1))}, "Total": {},
               "Groups": groups, "Estimated": estimated})
    };
    let page = |results: Vec<Json>, next: Option<&str>| {
        let mut p = json!({"ResultsByTime": results, "DimensionValueAttributes": [], "GroupDefinitions": []});
        if let Some(token) = next {
            p["NextPageToken"] = json!(token);
        }
        p
    };
    let by_tag = "TAG:tenant-id";
    let by_account = "DIMENSION:LINKED_ACCOUNT";
    // The third query: by account, only spend without the tenant tag (its
    // Filter is `Tags` ABSENT, which moto ignores: the pages say it).
    let untagged = "UNTAGGED:LINKED_ACCOUNT";
    let pages: HashMap<(&str, Option<&str>), Json> = HashMap::from([
        (
            (by_tag, None),
            page(
                vec![on(
                    d1,
                    false,
                    vec![
                        group("tenant-id$initech", ec2, "12.5"),
                        group("tenant-id$", ec2, "7.25"),
                        // Acme tags its resources too, but acme owns its
                        // account and is costed by it: not untagged spend.
                        group("tenant-id$acme", s3, "3"),
                    ],
                )],
                Some("tag-page-2"),
            ),
        ),
        (
            (by_tag, Some("tag-page-2")),
            page(
                vec![
                    on(d1, false, vec![group("tenant-id$umbrella", rds, "4.5")]),
                    on(
                        d2,
                        false,
                        vec![
                            group("tenant-id$initech", lambda, "0.75"),
                            group("tenant-id$", lambda, "1.5"),
                            group("tenant-id$initech", ec2, "13"),
                        ],
                    ),
                ],
                Some("tag-page-3"),
            ),
        ),
        ((by_tag, Some("tag-page-3")), page(vec![on(d3, true, vec![group("tenant-id$umbrella", rds, "4.75")])], None)),
        (
            (by_account, None),
            page(vec![on(d1, false, vec![group(SILO, ec2, "20"), group(SHARED, ec2, "50")])], Some("acct-page-2")),
        ),
        (
            (by_account, Some("acct-page-2")),
            page(
                vec![
                    on(d1, false, vec![group(REMOTE, ec2, "30")]),
                    on(d2, false, vec![group(SILO, ec2, "21"), group(REMOTE, s3, "2.25")]),
                    on(d3, true, vec![group(PAYER, "AWS Cost Explorer", "0.05")]),
                ],
                None,
            ),
        ),
        (
            (untagged, None),
            page(
                vec![
                    on(d1, false, vec![group(SILO, ec2, "20"), group(SHARED, ec2, "7.25")]),
                    on(d2, false, vec![group(SHARED, lambda, "1.5")]),
                    on(d3, true, vec![group(PAYER, "AWS Cost Explorer", "0.05")]),
                ],
                None,
            ),
        ),
    ]);
    let pages: HashMap<(String, Option<String>), Json> =
        pages.into_iter().map(|((g, t), p)| ((g.to_string(), t.map(str::to_string)), p)).collect();
    let moto_url = w.moto.url.clone();
    let first_this = day(chrono::Datelike::with_day(&today, 1).unwrap());
    let empty = page(Vec::new(), None);
    let answered: Mutex<HashSet<String>> = Mutex::default();
    w.proxy.before_forward(Box::new(move |r: &Record| {
        // moto keeps the answer it gave a request body; only a new body
        // takes the next queued page.
        if r.name() != "ce:GetCostAndUsage" || !answered.lock().unwrap().insert(r.params.to_string()) {
            return;
        }
        let key = (grouping_of(&r.params), r.param("NextPageToken").map(str::to_string));
        // A first sync reads the month to date, then the days before it:
        // those have no spend here (one empty page).
        let earlier = r.params["TimePeriod"]["Start"] != json!(first_this);
        if let Some(page) = if earlier { Some(&empty) } else { pages.get(&key) } {
            let body = json!({"account_id": r.account, "results": [page]});
            fleetdeck_testkit::moto_api_at(&moto_url, "/moto-api/static/ce/cost-and-usage-results", &body.to_string());
        }
    }));

    let tenants = [acme(""), globex(), initech(), umbrella("")];
    let deck = Deck::new(&fleet_file(&w.proxy, &payer_lines(), &tenants), "", "").await;
    deck.sync(w.now).await;
    let sources = deck.sources().await;
    let (status, error, _) = &sources[&(s("*"), s("*"), s("cost"))];
    assert_eq!(status, "ok", "{error}");

    let calls: Vec<(String, Option<String>)> = w
        .sent_by_fleetdeck()
        .iter()
        .filter(|r| r.name() == "ce:GetCostAndUsage")
        .map(|r| {
            assert_eq!((r.account.as_str(), r.region.as_str()), (PAYER, US), "Cost Explorer is read as the payer");
            let g = &r.params["GroupBy"];
            let grouping = grouping_of(&r.params);
            assert_eq!(g[1], json!({"Type": "DIMENSION", "Key": "SERVICE"}), "second grouping is SERVICE");
            if grouping == "TAG:tenant-id" {
                // Whole-account tenants are costed by account: the tag query
                // leaves their accounts out, or their untagged lines would be
                // counted again as untagged spend (moto ignores filters, so
                // the request itself is what can be checked).
                let mut excluded: Vec<&str> = r.params["Filter"]["Not"]["Dimensions"]["Values"]
                    .as_array()
                    .map(|v| v.iter().filter_map(|x| x.as_str()).collect())
                    .unwrap_or_default();
                excluded.sort();
                assert_eq!(r.params["Filter"]["Not"]["Dimensions"]["Key"], "LINKED_ACCOUNT", "{}", r.params);
                assert_eq!(excluded, vec![SILO, REMOTE], "{}", r.params);
            }
            (grouping, r.param("NextPageToken").map(str::to_string))
        })
        .collect();
    let mut followed: Vec<_> = calls.clone();
    followed.sort();
    let mut want: Vec<(String, Option<String>)> = vec![
        (s(by_account), None),
        (s(by_account), Some(s("acct-page-2"))),
        (s(by_tag), None),
        (s(by_tag), Some(s("tag-page-2"))),
        (s(by_tag), Some(s("tag-page-3"))),
        (s(untagged), None),
        // The days before the month, one empty page each.
        (s(by_account), None),
        (s(by_tag), None),
        (s(untagged), None),
    ];
    want.sort();
    assert_eq!(
        followed, want,
        "each grouping read once a window (the month to date, then the days before it), every page followed to the \
         end: {calls:?}"
    );

    let rows: Vec<(String, String, String, String, f64)> =
        sqlx::query("SELECT tenant_id, day, service, source, amount FROM cost_daily ORDER BY 1, 2, 3, 4")
            .fetch_all(deck.cache.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
    // Untagged spend is kept per account ("untagged:<account>"): the shared
    // account's goes to its tenants, the payer's is overhead; the silo's
    // untagged spend is acme's own, costed by account.
    let shared_untagged = format!("untagged:{SHARED}");
    let payer_untagged = format!("untagged:{PAYER}");
    let want: Vec<(String, String, String, String, f64)> = [
        ("", d1, ec2, shared_untagged.as_str(), 7.25),
        ("", d2, lambda, shared_untagged.as_str(), 1.5),
        ("", d3, "AWS Cost Explorer", payer_untagged.as_str(), 0.05),
        ("acme", d1, ec2, "account", 20.0),
        ("acme", d2, ec2, "account", 21.0),
        ("globex", d1, ec2, "account", 30.0),
        ("globex", d2, s3, "account", 2.25),
        ("initech", d1, ec2, "tag", 12.5),
        ("initech", d2, lambda, "tag", 0.75),
        ("initech", d2, ec2, "tag", 13.0),
        ("umbrella", d1, rds, "tag", 4.5),
        ("umbrella", d3, rds, "tag", 4.75),
    ]
    .into_iter()
    .map(|(t, d, svc, src, amount)| (s(t), day(d), s(svc), s(src), amount))
    .collect();
    let missing: Vec<_> = want.iter().filter(|w| !rows.contains(w)).collect();
    assert!(missing.is_empty(), "lines of the pages missing from cost_daily: {missing:#?}\ncached: {rows:#?}");
    let misattributed: Vec<_> = rows.iter().filter(|r| !want.contains(r)).collect();
    assert!(misattributed.is_empty(), "cost_daily rows no page line justifies: {misattributed:#?}");
    let estimated: i64 = sqlx::query_scalar("SELECT count(*) FROM cost_daily WHERE estimated = 1")
        .fetch_one(deck.cache.pool())
        .await
        .unwrap();
    assert_eq!(estimated, 2, "only the open day's lines are estimates");
    let amortized_off: i64 =
        sqlx::query_scalar("SELECT count(*) FROM cost_daily WHERE amortized IS NULL OR amortized != amount")
            .fetch_one(deck.cache.pool())
            .await
            .unwrap();
    assert_eq!(amortized_off, 0, "amortised cost comes from the same pages as unblended");
}

/// Which of the three Cost Explorer queries a request is: its first
/// grouping, or `UNTAGGED:LINKED_ACCOUNT` for the one filtered to spend
/// without the tenant tag.
fn grouping_of(params: &Json) -> String {
    if params["Filter"]["Tags"]["MatchOptions"][0] == "ABSENT" {
        return "UNTAGGED:LINKED_ACCOUNT".into();
    }
    let g = &params["GroupBy"][0];
    format!("{}:{}", g["Type"].as_str().unwrap_or(""), g["Key"].as_str().unwrap_or(""))
}

/// A security reviewer at a tenant asks what fleetdeck does in their
/// account. The recording proxy shows every request fleetdeck (not the
/// test's seeding, whose writes the proxy also saw) sent during a full sync
/// of the five-tenant fleet with cost: each is a read on a fixed allowlist,
/// and each succeeded; every AssumeRole carried the tenant's ExternalId
/// (when the fleet gives one), a RoleSessionName naming the viewer
/// (`fleetdeck-...`) and an inline session policy allowing exactly
/// `READ_ACTIONS`, which covers every call fleetdeck then made; each role
/// was assumed once for the whole sync; and fleetdeck's own count of its
/// calls agrees with the proxy's, call for call.
///
/// moto accepts and ignores session policies and ExternalId, so what they
/// contain is checked on the wire, not enforced; Organizations (discover)
/// is not part of a sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleetdeck_only_reads_through_least_privilege_sessions() {
    let w = World::start().await;
    seed_five_tenants(&w).await;
    let deck = Deck::new(&five_tenants(&w, &payer_lines()), METRICS, LOGS).await;
    let summary = deck.sync(w.now).await;
    assert_eq!(fleetdeck_testkit::beyond_moto(&summary), Vec::<&String>::new());

    let all = w.proxy.records();
    let writes: BTreeSet<String> = all.iter().filter(|r| r.origin == SEEDER_KEY).map(Record::name).collect();
    assert!(
        writes.contains("monitoring:PutMetricData") && writes.contains("logs:PutLogEvents"),
        "the proxy saw the seeding's writes, so it would see fleetdeck's: {writes:?}"
    );

    const ALLOWED: &[&str] = &[
        "sts:AssumeRole",
        "sts:GetCallerIdentity",
        "monitoring:GetMetricData",
        "monitoring:DescribeAlarms",
        "monitoring:DescribeAlarmHistory",
        "logs:DescribeLogGroups",
        "logs:StartQuery",
        "logs:GetQueryResults",
        "logs:StopQuery",
        "ce:GetCostAndUsage",
        "organizations:ListAccounts",
        "organizations:ListTagsForResource",
    ];
    // moto has no DescribeAlarmHistory (it answers 500); fleetdeck asks for
    // it only "where available" and goes on without it.
    const MOTO_LACKS: &[&str] = &["monitoring:DescribeAlarmHistory"];
    let sent = w.sent_by_fleetdeck();
    assert!(sent.len() > 10, "fleetdeck's requests went through the proxy");
    for r in &sent {
        assert!(ALLOWED.contains(&r.name().as_str()), "fleetdeck sent {} to {} {}", r.name(), r.account, r.region);
        if !MOTO_LACKS.contains(&r.name().as_str()) {
            assert!(
                (200..300).contains(&r.status),
                "{} in {} {} failed with {}",
                r.name(),
                r.account,
                r.region,
                r.status
            );
        }
    }
    let used: BTreeSet<String> = sent.iter().map(Record::name).collect();
    for needed in ["monitoring:GetMetricData", "monitoring:DescribeAlarms", "logs:DescribeLogGroups", "logs:StartQuery"]
    {
        assert!(used.contains(needed), "the sync never called {needed}: {used:?}");
    }
    assert!(used.contains("ce:GetCostAndUsage"), "{used:?}");

    // The roles of the fleet, with the ExternalId the fleet gives each.
    let mut roles: BTreeMap<String, Option<String>> =
        deck.fleet.tenants.iter().map(|t| (t.role_arn.clone(), t.external_id.clone())).collect();
    roles.insert(format!("arn:aws:iam::{PAYER}:role/FleetdeckCostReader"), None);
    let read_actions: BTreeSet<&str> = READ_ACTIONS.iter().copied().collect();
    let mut assumed: BTreeMap<String, usize> = BTreeMap::new();
    for r in sent.iter().filter(|r| r.name() == "sts:AssumeRole") {
        let arn = r.param("RoleArn").unwrap_or_default().to_string();
        let Some(external_id) = roles.get(&arn) else { panic!("fleetdeck assumed {arn}, which is in no fleet entry") };
        assert_eq!(r.param("ExternalId"), external_id.as_deref(), "ExternalId sent with {arn}");
        let session = r.param("RoleSessionName").unwrap_or_default();
        assert!(session.starts_with("fleetdeck-"), "{arn} assumed as session {session:?}");
        let policy: Json = serde_json::from_str(r.param("Policy").expect("a session policy")).expect("policy JSON");
        assert_eq!(policy_allows(&policy), read_actions, "the session policy for {arn}");
        *assumed.entry(arn).or_default() += 1;
    }
    let want: BTreeMap<String, usize> = roles.keys().map(|arn| (arn.clone(), 1)).collect();
    assert_eq!(assumed, want, "each role assumed exactly once in the sync");

    for r in sent.iter().filter(|r| r.service != "sts") {
        assert!(
            read_actions.contains(r.iam_action().as_str()),
            "{} is not allowed by the session policy, yet fleetdeck called it",
            r.iam_action()
        );
        let session = r.session.as_deref().unwrap_or("(base identity)");
        assert!(session.starts_with("fleetdeck-"), "{} in {} signed by {session}", r.name(), r.account);
    }

    // fleetdeck counts its own calls per sync (and prices them); the proxy agrees.
    let mut on_the_wire: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for r in &sent {
        let account = if r.action == "AssumeRole" { r.role_account().unwrap_or_default() } else { &r.account };
        *on_the_wire.entry((account.to_string(), r.region.clone(), r.iam_action())).or_default() += 1;
    }
    let counted: BTreeMap<(String, String, String), i64> = sqlx::query(
        "SELECT account, region, action, calls FROM api_call WHERE sync_id = (SELECT max(id) FROM sync_run)",
    )
    .fetch_all(deck.cache.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| ((r.get(0), r.get(1), r.get(2)), r.get(3)))
    .collect();
    assert_eq!(counted, on_the_wire, "the sync's recorded calls per account, region and action");
    assert_eq!(summary.api_calls as usize, sent.len(), "the sync summary's call count");
}

/// The actions an IAM policy document allows.
fn policy_allows(policy: &Json) -> BTreeSet<&str> {
    let statements: Vec<&Json> = match &policy["Statement"] {
        Json::Array(a) => a.iter().collect(),
        one => vec![one],
    };
    let mut out = BTreeSet::new();
    for st in statements.into_iter().filter(|st| st["Effect"] == "Allow") {
        match &st["Action"] {
            Json::String(a) => {
                out.insert(a.as_str());
            }
            Json::Array(a) => out.extend(a.iter().filter_map(Json::as_str)),
            _ => {}
        }
    }
    out
}
