//! The simulated fleet driven by the real AWS SDK clients, the way the
//! collectors will drive it: every assertion here goes through SigV4
//! signing, the SDK's serializers and its response and error parsers.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, StateValue};
use aws_sdk_costexplorer::types::{DateInterval, Granularity, GroupDefinition, GroupDefinitionType};
use aws_sdk_sts::config::Credentials;
use aws_sdk_sts::error::ProvideErrorMetadata;

use super::{Faults, Model, SimFleet, SimKnobs, SimOptions, SimShape, SimTenant};

/// The catalog's queries (queries/logs.toml) after `{tenant_filter}`
/// substitution.
fn recent_errors(tenant_filter: &str) -> String {
    format!(
        "fields @timestamp, @message\n| filter level = \"ERROR\"{tenant_filter}\n| sort @timestamp desc\n| limit 50\n"
    )
}

fn error_breakdown(tenant_filter: &str) -> String {
    format!("fields @timestamp, error_type\n| filter level = \"ERROR\"{tenant_filter}\n| stats count(*) as errors by error_type\n| sort errors desc\n| limit 20\n")
}

async fn sim() -> SimFleet {
    SimFleet::start(SimOptions::default()).await.expect("sim starts")
}

async fn config(sim: &SimFleet, region: &str, creds: Credentials) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(sim.endpoint())
        .region(Region::new(region.to_string()))
        .credentials_provider(creds)
        .load()
        .await
}

/// The payer (base) identity.
async fn base(sim: &SimFleet, region: &str) -> SdkConfig {
    let creds = Credentials::new(SimFleet::ACCESS_KEY_ID, SimFleet::SECRET_ACCESS_KEY, None, None, "sim-test");
    config(sim, region, creds).await
}

fn tenant<'a>(sim: &'a SimFleet, id: &str) -> &'a SimTenant {
    sim.tenants().iter().find(|t| t.id == id).expect("tenant exists")
}

fn role_arn(t: &SimTenant) -> String {
    t.role_arn.clone().unwrap_or_else(|| format!("arn:aws:iam::{}:role/FleetdeckReadOnly", t.account))
}

/// AssumeRole into the tenant's account, then a config for `region`.
async fn assume(sim: &SimFleet, t: &SimTenant, region: &str, policy: Option<&str>) -> SdkConfig {
    let sts = aws_sdk_sts::Client::new(&base(sim, "us-east-1").await);
    let out = sts
        .assume_role()
        .role_arn(role_arn(t))
        .role_session_name("fleetdeck-test")
        .set_external_id(t.external_id.clone())
        .set_policy(policy.map(str::to_string))
        .send()
        .await
        .expect("assume role");
    let c = out.credentials().expect("credentials");
    let creds = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "assumed",
    );
    config(sim, region, creds).await
}

fn query(id: &str, t: &SimTenant, namespace: &str, name: &str, stat: &str, period: i32) -> MetricDataQuery {
    query_dims(id, &t.dimensions, namespace, name, stat, period)
}

fn query_dims(
    id: &str,
    dims: &[(String, String)],
    namespace: &str,
    name: &str,
    stat: &str,
    period: i32,
) -> MetricDataQuery {
    let mut metric = Metric::builder().namespace(namespace).metric_name(name);
    for (k, v) in dims {
        metric = metric.dimensions(Dimension::builder().name(k).value(v).build());
    }
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(MetricStat::builder().metric(metric.build()).period(period).stat(stat).build())
        .build()
}

fn minute_floor(t: i64) -> i64 {
    t - t.rem_euclid(60)
}

#[tokio::test]
async fn assume_role_lands_in_the_tenant_account_and_bad_identities_are_refused() {
    let sim = sim().await;
    let globex = tenant(&sim, "globex");

    let sts = aws_sdk_sts::Client::new(&base(&sim, "us-east-1").await);
    let me = sts.get_caller_identity().send().await.expect("base identity");
    assert_eq!(me.account(), Some(SimFleet::PAYER_ACCOUNT));

    let assumed = aws_sdk_sts::Client::new(&assume(&sim, globex, "us-east-1", None).await);
    let me = assumed.get_caller_identity().send().await.expect("assumed identity");
    assert_eq!(me.account(), Some(globex.account.as_str()));
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:sts::{}:assumed-role/FleetdeckReadOnly/fleetdeck-test", globex.account).as_str())
    );

    // The remote tenant's role is the customer's, named in its role_arn.
    let remote = sim.tenants().iter().find(|t| t.model == Model::Remote).expect("a remote tenant");
    let assumed = aws_sdk_sts::Client::new(&assume(&sim, remote, "us-east-1", None).await);
    let me = assumed.get_caller_identity().send().await.expect("remote identity");
    assert_eq!(me.account(), Some(remote.account.as_str()));

    // Wrong ExternalId: the trust policy refuses.
    let err = sts
        .assume_role()
        .role_arn(role_arn(globex))
        .role_session_name("fleetdeck-test")
        .external_id("not-the-right-one")
        .send()
        .await
        .expect_err("wrong external id");
    assert_eq!(err.code(), Some("AccessDenied"));

    // A key nobody issued.
    let stranger = Credentials::new("AKIAUNKNOWNKEY000000", "x", None, None, "stranger");
    let sts = aws_sdk_sts::Client::new(&config(&sim, "us-east-1", stranger.clone()).await);
    let err = sts.get_caller_identity().send().await.expect_err("unknown key");
    assert_eq!(err.code(), Some("InvalidClientTokenId"));
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config(&sim, "us-east-1", stranger).await);
    let err = logs.get_query_results().query_id("x").send().await.expect_err("unknown key");
    assert_eq!(err.code(), Some("UnrecognizedClientException"));

    // A missing role (knob): AccessDenied even with the right ExternalId.
    sim.set_knobs(SimKnobs { deny_assume_role: vec![globex.account.clone()], ..SimKnobs::default() });
    let sts = aws_sdk_sts::Client::new(&base(&sim, "us-east-1").await);
    let err = sts
        .assume_role()
        .role_arn(role_arn(globex))
        .role_session_name("fleetdeck-test")
        .set_external_id(globex.external_id.clone())
        .send()
        .await
        .expect_err("role missing");
    assert_eq!(err.code(), Some("AccessDenied"));
}

#[tokio::test]
async fn an_on_call_engineer_sees_globex_errors_spike_above_critical() {
    let sim = sim().await;
    let globex = tenant(&sim, "globex");
    let cw = aws_sdk_cloudwatch::Client::new(&assume(&sim, globex, "us-east-1", None).await);
    let now = sim.options().now;
    let (start, end) = (minute_floor(now) - 3600, minute_floor(now) + 60);
    let out = cw
        .get_metric_data()
        .metric_data_queries(query("errors", globex, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", 60))
        .metric_data_queries(query("p99", globex, "AWS/ApplicationELB", "TargetResponseTime", "p99", 60))
        .metric_data_queries(query("requests", globex, "AWS/ApplicationELB", "RequestCount", "Sum", 300))
        .start_time(DateTime::from_secs(start))
        .end_time(DateTime::from_secs(end))
        .send()
        .await
        .expect("get metric data");
    assert!(out.next_token().is_none());
    let results = out.metric_data_results();
    assert_eq!(results.len(), 3);
    let errors = &results[0];
    assert_eq!(errors.id(), Some("errors"));
    assert_eq!(errors.status_code().map(|s| s.as_str()), Some("Complete"));
    let ts: Vec<i64> = errors.timestamps().iter().map(|t| t.secs()).collect();
    let values = errors.values();
    assert!(ts.len() >= 58, "about an hour of minutes, got {}", ts.len());
    assert!(ts.windows(2).all(|w| w[0] > w[1]), "newest first by default");
    assert!(ts.iter().all(|t| t % 60 == 0 && *t >= start && *t < end));
    assert!(ts.iter().all(|t| *t + 60 <= sim_now()), "nothing from the future");
    for (t, v) in ts.iter().zip(values) {
        if *t >= now - 30 * 60 {
            assert!(*v > 50.0, "errors at {t} = {v}");
        }
    }
    // Before the spike (45 min ago) the tenant was healthy.
    let before: Vec<f64> = ts.iter().zip(values).filter(|(t, _)| **t < now - 50 * 60).map(|(_, v)| *v).collect();
    assert!(!before.is_empty() && before.iter().all(|v| *v < 10.0), "{before:?}");
    let p99 = results[1].values();
    assert!(p99.iter().all(|v| (0.05..1.0).contains(v)), "{p99:?}");
    let requests = &results[2];
    assert!(requests.timestamps().iter().all(|t| t.secs() % 300 == 0));

    // A healthy tenant of another account: the same metric there is calm,
    // and globex's load balancer is not visible from its account.
    let other = sim
        .tenants()
        .iter()
        .find(|t| t.model == Model::Silo && t.id != "globex" && t.home_region == "us-east-1")
        .expect("another silo tenant");
    let cw_other = aws_sdk_cloudwatch::Client::new(&assume(&sim, other, "us-east-1", None).await);
    let out = cw_other
        .get_metric_data()
        .metric_data_queries(query("errors", other, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", 60))
        .metric_data_queries(query("globex", globex, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", 60))
        .start_time(DateTime::from_secs(start))
        .end_time(DateTime::from_secs(end))
        .send()
        .await
        .expect("get metric data");
    let r = out.metric_data_results();
    assert!(!r[0].values().is_empty() && r[0].values().iter().all(|v| *v < 10.0), "{:?}", r[0].values());
    assert!(r[1].values().is_empty(), "another account's metric is invisible");
    assert_eq!(r[1].status_code().map(|s| s.as_str()), Some("Complete"));

    // Ascending scans and a dimension set that does not match exactly.
    let mut extra_dim = globex.dimensions.clone();
    extra_dim.push(("AvailabilityZone".to_string(), "us-east-1a".to_string()));
    let partial = query_dims("partial", &extra_dim, "AWS/ApplicationELB", "RequestCount", "Sum", 60);
    let out = cw
        .get_metric_data()
        .metric_data_queries(query("asc", globex, "AWS/ApplicationELB", "RequestCount", "Sum", 60))
        .metric_data_queries(partial)
        .scan_by(ScanBy::TimestampAscending)
        .start_time(DateTime::from_secs(start))
        .end_time(DateTime::from_secs(end))
        .send()
        .await
        .expect("ascending");
    let asc: Vec<i64> = out.metric_data_results()[0].timestamps().iter().map(|t| t.secs()).collect();
    assert!(asc.windows(2).all(|w| w[0] < w[1]));
    assert!(out.metric_data_results()[1].values().is_empty());
}

fn sim_now() -> i64 {
    super::server::wall_clock()
}

#[tokio::test]
async fn get_metric_data_enforces_the_query_limit_and_pages_past_100800_points() {
    let sim = sim().await;
    let globex = tenant(&sim, "globex");
    let frozen = minute_floor(sim.options().now);
    sim.set_knobs(SimKnobs { clock: Some(frozen), ..SimKnobs::default() });
    let cw = aws_sdk_cloudwatch::Client::new(&assume(&sim, globex, "us-east-1", None).await);

    let too_many: Vec<MetricDataQuery> =
        (0..600).map(|i| query(&format!("q{i}"), globex, "AWS/ApplicationELB", "RequestCount", "Sum", 60)).collect();
    let err = cw
        .get_metric_data()
        .set_metric_data_queries(Some(too_many))
        .start_time(DateTime::from_secs(frozen - 3600))
        .end_time(DateTime::from_secs(frozen))
        .send()
        .await
        .expect_err("600 queries are too many");
    assert_eq!(err.code(), Some("ValidationError"));

    // 11 queries x 7 days of minutes = 110,880 points: two pages.
    let queries: Vec<MetricDataQuery> =
        (0..11).map(|i| query(&format!("q{i}"), globex, "AWS/ApplicationELB", "RequestCount", "Sum", 60)).collect();
    let mut pages = cw
        .get_metric_data()
        .set_metric_data_queries(Some(queries))
        .start_time(DateTime::from_secs(frozen - 7 * 86_400))
        .end_time(DateTime::from_secs(frozen))
        .into_paginator()
        .send();
    let mut per_id: std::collections::HashMap<String, Vec<(i64, f64)>> = Default::default();
    let mut page_sizes = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.expect("page");
        let mut size = 0;
        for r in page.metric_data_results() {
            size += r.values().len();
            let points = per_id.entry(r.id().unwrap_or_default().to_string()).or_default();
            points.extend(r.timestamps().iter().map(|t| t.secs()).zip(r.values().iter().copied()));
        }
        page_sizes.push(size);
    }
    assert_eq!(page_sizes, vec![100_800, 10_080]);
    assert_eq!(per_id.len(), 11);
    let reference = per_id["q0"].clone();
    for (id, points) in &per_id {
        assert_eq!(points.len(), 7 * 1440, "{id}");
        let mut ts: Vec<i64> = points.iter().map(|p| p.0).collect();
        ts.dedup();
        assert_eq!(ts.len(), points.len(), "{id}: no duplicates");
        assert_eq!(points, &reference, "{id}: the same metric gives the same series");
    }
    assert_eq!(reference.first().map(|p| p.0), Some(frozen - 60));
    assert_eq!(reference.last().map(|p| p.0), Some(frozen - 7 * 86_400));

    // Older than 15 days needs a 5-minute period.
    let out = cw
        .get_metric_data()
        .metric_data_queries(query("old1m", globex, "AWS/ApplicationELB", "RequestCount", "Sum", 60))
        .metric_data_queries(query("old5m", globex, "AWS/ApplicationELB", "RequestCount", "Sum", 300))
        .start_time(DateTime::from_secs(frozen - 20 * 86_400))
        .end_time(DateTime::from_secs(frozen - 16 * 86_400))
        .send()
        .await
        .expect("old data");
    assert!(out.metric_data_results()[0].values().is_empty());
    assert_eq!(out.metric_data_results()[1].values().len(), 4 * 288);
}

#[tokio::test]
async fn alarms_live_in_the_tenant_account_and_globex_is_in_alarm() {
    let sim = sim().await;
    let globex = tenant(&sim, "globex");
    let initech = tenant(&sim, "initech");
    let cw = aws_sdk_cloudwatch::Client::new(&assume(&sim, globex, "us-east-1", None).await);
    let out = cw.describe_alarms().send().await.expect("describe alarms");
    let alarms = out.metric_alarms();
    assert_eq!(alarms.len(), 2);
    let errors = alarms.iter().find(|a| a.metric_name() == Some("HTTPCode_Target_5XX_Count")).expect("errors alarm");
    assert_eq!(errors.state_value(), Some(&StateValue::Alarm));
    assert!(errors.state_reason().unwrap_or_default().starts_with("Threshold Crossed: 3 out of the last 3 datapoints"));
    assert_eq!(errors.threshold(), Some(50.0));
    assert_eq!(errors.statistic().map(|s| s.as_str()), Some("Sum"));
    let updated = errors.state_updated_timestamp().map(|t| t.secs()).unwrap_or_default();
    let spike = minute_floor(sim.options().now) - 45 * 60;
    assert!(updated > spike && updated < spike + 10 * 60, "went into ALARM right after the spike");
    for a in alarms {
        assert!(a.alarm_name().unwrap_or_default().starts_with("globex-"));
        let dims: Vec<(String, String)> = a
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap_or_default().to_string(), d.value().unwrap_or_default().to_string()))
            .collect();
        assert_eq!(dims, globex.dimensions);
        assert!(a.alarm_arn().unwrap_or_default().contains(&format!(":us-east-1:{}:alarm:", globex.account)));
    }
    let latency = alarms.iter().find(|a| a.metric_name() == Some("TargetResponseTime")).expect("latency alarm");
    assert_eq!(latency.extended_statistic(), Some("p99"));
    assert_eq!(latency.state_value(), Some(&StateValue::Ok));

    // The shared account in eu-west-1: initech's p99 regression alarms,
    // nothing of globex's.
    let cw = aws_sdk_cloudwatch::Client::new(&assume(&sim, initech, "eu-west-1", None).await);
    let mut all = Vec::new();
    let mut pages = cw.describe_alarms().max_records(1).into_paginator().send();
    while let Some(page) = pages.next().await {
        all.extend(page.expect("page").metric_alarms().to_vec());
    }
    assert!(all.len() >= 4, "two alarms per tenant, one per page");
    assert!(all.iter().all(|a| !a.alarm_name().unwrap_or_default().starts_with("globex")));
    let names: Vec<&str> = all.iter().filter_map(|a| a.alarm_name()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "alarms come sorted by name");
    let in_alarm: Vec<&str> =
        all.iter().filter(|a| a.state_value() == Some(&StateValue::Alarm)).filter_map(|a| a.alarm_name()).collect();
    assert_eq!(in_alarm, vec!["initech-p99-latency-critical"]);
    let only_alarm = cw.describe_alarms().state_value(StateValue::Alarm).send().await.expect("filtered");
    assert_eq!(only_alarm.metric_alarms().len(), 1);

    // A session policy without DescribeAlarms is enforced.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudwatch:GetMetricData"],"Resource":"*"}]}"#;
    let cw = aws_sdk_cloudwatch::Client::new(&assume(&sim, globex, "us-east-1", Some(policy)).await);
    let err = cw.describe_alarms().send().await.expect_err("not allowed by the session policy");
    assert_eq!(err.code(), Some("AccessDenied"));
    // Operations the simulator does not serve get the protocol's error
    // (after the permission check, as in AWS).
    let cw = aws_sdk_cloudwatch::Client::new(&assume(&sim, globex, "us-east-1", None).await);
    let err = cw.list_metrics().send().await.expect_err("not simulated");
    assert_eq!(err.code(), Some("UnknownOperationException"));
}

#[tokio::test]
async fn logs_insights_shows_globex_payment_errors_and_filters_shared_groups() {
    let sim = sim().await;
    let globex = tenant(&sim, "globex");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&assume(&sim, globex, "us-east-1", None).await);
    let now = sim_now();

    let run = |query: String, groups: Vec<String>| {
        let logs = logs.clone();
        async move {
            let id = logs
                .start_query()
                .set_log_group_names(Some(groups))
                .start_time(now - 3600)
                .end_time(now)
                .query_string(query)
                .send()
                .await
                .expect("start query")
                .query_id()
                .unwrap_or_default()
                .to_string();
            // A query runs for a moment of real time, as in AWS.
            let first = logs.get_query_results().query_id(&id).send().await.expect("first poll");
            assert_eq!(first.status().map(|s| s.as_str()), Some("Running"));
            finished(&logs, &id).await
        }
    };

    let out = run(recent_errors(""), vec!["/globex/app".into()]).await;
    assert_eq!(out.status().map(|s| s.as_str()), Some("Complete"));
    let rows = out.results();
    assert_eq!(rows.len(), 50);
    let field = |row: &[aws_sdk_cloudwatchlogs::types::ResultField], name: &str| {
        row.iter().find(|f| f.field() == Some(name)).and_then(|f| f.value()).unwrap_or_default().to_string()
    };
    let stamps: Vec<String> = rows.iter().map(|r| field(r, "@timestamp")).collect();
    assert!(stamps.iter().all(|s| s.len() == 23 && &s[10..11] == " " && &s[19..20] == "."), "{:?}", &stamps[..2]);
    assert!(stamps.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let payment = rows.iter().filter(|r| field(r, "@message").contains("PaymentGatewayTimeout")).count();
    assert!(payment > 30, "mostly the payment gateway: {payment}/50");
    assert!(rows.iter().all(|r| !field(r, "@ptr").is_empty()));
    let stats = out.statistics().expect("statistics");
    assert!(stats.records_matched() > 1000.0, "45 minutes of a spike: {}", stats.records_matched());

    let out = run(error_breakdown(""), vec!["/globex/app".into()]).await;
    let top = &out.results()[0];
    assert_eq!(field(top, "error_type"), "PaymentGatewayTimeout");
    assert!(field(top, "errors").parse::<u64>().unwrap_or(0) > 1000);

    // Pooled tenants share /saas/app; the tenant filter narrows it.
    let pooled =
        sim.tenants().iter().find(|t| t.model == Model::Pooled && t.home_region == "us-east-1").expect("pooled");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&assume(&sim, pooled, "us-east-1", None).await);
    let filter = format!(" and tenant_id = {}", serde_json::to_string(&pooled.id).unwrap_or_default());
    let id = logs
        .start_query()
        .log_group_names("/saas/app")
        .start_time(now - 86_400)
        .end_time(now)
        .query_string(recent_errors(&filter))
        .send()
        .await
        .expect("start")
        .query_id()
        .unwrap_or_default()
        .to_string();
    let out = finished(&logs, &id).await;
    assert!(!out.results().is_empty(), "a day of a pooled tenant has some errors");
    for row in out.results() {
        let msg = field(row, "@message");
        let doc: serde_json::Value = serde_json::from_str(&msg).expect("JSON log line");
        assert_eq!(doc["tenant_id"], serde_json::json!(pooled.id));
    }

    let err = logs
        .start_query()
        .log_group_names("/no/such/group")
        .start_time(now - 60)
        .end_time(now)
        .query_string(recent_errors(""))
        .send()
        .await
        .expect_err("unknown group");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));

    let groups = logs.describe_log_groups().log_group_name_prefix("/saas").send().await.expect("describe");
    assert_eq!(groups.log_groups().len(), 1);
}

#[tokio::test]
async fn cost_explorer_shows_hooli_tripled_and_untagged_spend() {
    let sim = sim().await;
    let ce = aws_sdk_costexplorer::Client::new(&base(&sim, "us-east-1").await);
    let today = sim_now().div_euclid(86_400);
    let day = |d: i64| {
        chrono::DateTime::from_timestamp(d * 86_400, 0).map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()
    };
    // GetCostAndUsage has no SDK paginator: follow NextPageToken by hand.
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ce
            .get_cost_and_usage()
            .time_period(DateInterval::builder().start(day(today - 12)).end(day(today + 1)).build().expect("interval"))
            .granularity(Granularity::Daily)
            .metrics("UnblendedCost")
            .group_by(GroupDefinition::builder().r#type(GroupDefinitionType::Tag).key("tenant-id").build())
            .group_by(GroupDefinition::builder().r#type(GroupDefinitionType::Dimension).key("SERVICE").build())
            .set_next_page_token(token.clone())
            .send()
            .await
            .expect("page");
        token = page.next_page_token().map(str::to_string);
        pages.push(page);
        if token.is_none() {
            break;
        }
    }
    let mut hooli_ec2: std::collections::BTreeMap<String, f64> = Default::default();
    let mut untagged = 0.0;
    let mut days_seen = std::collections::BTreeSet::new();
    let mut today_estimated = None;
    let page_count = pages.len();
    for page in &pages {
        for r in page.results_by_time() {
            let start = r.time_period().map(|p| p.start().to_string()).unwrap_or_default();
            if start == day(today) {
                today_estimated = Some(r.estimated());
            }
            days_seen.insert(start.clone());
            for g in r.groups() {
                let amount: f64 = g
                    .metrics()
                    .and_then(|m| m.get("UnblendedCost"))
                    .and_then(|m| m.amount())
                    .and_then(|a| a.parse().ok())
                    .expect("an amount");
                assert_eq!(g.metrics().and_then(|m| m.get("UnblendedCost")).and_then(|m| m.unit()), Some("USD"));
                match g.keys() {
                    [tag, service]
                        if tag == "tenant-id$hooli" && service == "Amazon Elastic Compute Cloud - Compute" =>
                    {
                        *hooli_ec2.entry(start.clone()).or_insert(0.0) += amount;
                    }
                    [tag, _] if tag == "tenant-id$" => untagged += amount,
                    _ => {}
                }
            }
        }
    }
    assert_eq!(days_seen.len(), 13, "12 days and today, nothing after");
    assert_eq!(today_estimated, Some(true));
    assert!(page_count >= 2, "13 days of tenant x service groups page");
    assert!(untagged > 0.0);
    let before: f64 = (today - 12..today - 5).map(|d| hooli_ec2[&day(d)]).sum::<f64>() / 7.0;
    let after: f64 = (today - 3..today).map(|d| hooli_ec2[&day(d)]).sum::<f64>() / 3.0;
    assert!(after > 2.5 * before && after < 3.6 * before, "before {before}, after {after}");

    // Silo tenants pay in their linked account.
    let globex = tenant(&sim, "globex");
    let out = ce
        .get_cost_and_usage()
        .time_period(DateInterval::builder().start(day(today - 2)).end(day(today)).build().expect("interval"))
        .granularity(Granularity::Daily)
        .metrics("UnblendedCost")
        .group_by(GroupDefinition::builder().r#type(GroupDefinitionType::Dimension).key("LINKED_ACCOUNT").build())
        .send()
        .await
        .expect("by account");
    let keys: Vec<String> = out.results_by_time()[0].groups().iter().flat_map(|g| g.keys().to_vec()).collect();
    assert!(keys.contains(&globex.account));
    assert!(out.dimension_value_attributes().iter().any(|a| a.value() == Some(globex.account.as_str())
        && a.attributes().and_then(|m| m.get("description")).is_some_and(|d| d.contains("Globex"))));

    // Only the payer reads Cost Explorer.
    let ce = aws_sdk_costexplorer::Client::new(&assume(&sim, globex, "us-east-1", None).await);
    let err = ce
        .get_cost_and_usage()
        .time_period(DateInterval::builder().start(day(today - 2)).end(day(today)).build().expect("interval"))
        .granularity(Granularity::Daily)
        .metrics("UnblendedCost")
        .send()
        .await
        .expect_err("not the payer");
    assert_eq!(err.code(), Some("AccessDeniedException"));
}

#[tokio::test]
async fn the_fleet_file_round_trips_and_requests_are_counted() {
    let sim = sim().await;
    let text = sim.fleet_toml();
    let doc: toml::Value = toml::from_str(&text).expect("valid TOML");
    let fleet = &doc["fleet"];
    assert_eq!(fleet["name"].as_str(), Some("Simulated fleet (DEMO)"));
    assert_eq!(fleet["endpoint_url"].as_str(), Some(sim.endpoint().as_str()));
    assert_eq!(fleet["payer_account"].as_str(), Some("999999999999"));
    assert_eq!(fleet["role_name"].as_str(), Some("FleetdeckReadOnly"));
    assert_eq!(fleet["cost_tag"].as_str(), Some("tenant-id"));
    let tenants = doc["tenant"].as_array().expect("[[tenant]]");
    assert_eq!(tenants.len(), 24);
    let tyrell = tenants.iter().find(|t| t["id"].as_str() == Some("tyrell")).expect("tyrell");
    assert_eq!(tyrell["name"].as_str(), Some(r#"Tyrell <Replicants> & "Sons""#));
    for (t, sim_t) in tenants.iter().zip(sim.tenants()) {
        assert_eq!(t["id"].as_str(), Some(sim_t.id.as_str()));
        let selector = &t["selector"];
        let dims = selector["dimensions"].as_table().expect("dimensions");
        assert_eq!(dims.len(), sim_t.dimensions.len());
        assert!(selector["log_groups"].as_array().is_some_and(|g| !g.is_empty()));
        if matches!(sim_t.model, Model::Silo | Model::Remote) {
            assert!(t.get("external_id").is_some());
        }
    }

    let sts = aws_sdk_sts::Client::new(&base(&sim, "us-east-1").await);
    sts.get_caller_identity().send().await.expect("identity");
    sts.get_caller_identity().send().await.expect("identity");
    let stranger = Credentials::new("AKIAUNKNOWNKEY000000", "x", None, None, "stranger");
    let sts_bad = aws_sdk_sts::Client::new(&config(&sim, "eu-west-1", stranger).await);
    let _ = sts_bad.get_caller_identity().send().await;
    let counts = sim.requests();
    let count = |account: &str, region: &str, action: &str| {
        counts.iter().find(|c| c.account == account && c.region == region && c.action == action).map_or(0, |c| c.count)
    };
    assert_eq!(count("999999999999", "us-east-1", "GetCallerIdentity"), 2);
    assert_eq!(count("", "eu-west-1", "GetCallerIdentity"), 1);
}

/// One raw HTTP/1.1 exchange, for requests no SDK would send.
async fn raw(
    sim: &SimFleet,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = sim.endpoint().trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let mut head =
        format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("headers end");
    let text = String::from_utf8_lossy(&response[..split]).to_string();
    let mut lines = text.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, response[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn malformed_requests_get_protocol_errors_not_panics() {
    let sim = sim().await;
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={}/20261122/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=00",
        SimFleet::ACCESS_KEY_ID
    );
    let cbor =
        [("smithy-protocol", "rpc-v2-cbor"), ("content-type", "application/cbor"), ("authorization", auth.as_str())];
    let gmd = "/service/GraniteServiceVersion20100801/operation/GetMetricData";

    let (status, headers, _) = raw(&sim, gmd, &cbor, b"\xff\x00garbage").await;
    assert_eq!(status, 400);
    assert_eq!(header(&headers, "x-amzn-query-error"), Some("SerializationException;Sender"));

    let encode = |v: ciborium::Value| super::cloudwatch::encode(&v);
    let t = |s: i64| ciborium::Value::Tag(1, Box::new(ciborium::Value::Integer(s.into())));
    let k = |s: &str| ciborium::Value::Text(s.into());
    let huge = encode(ciborium::Value::Map(vec![
        (k("MetricDataQueries"), ciborium::Value::Array(vec![])),
        (k("StartTime"), t(i64::MIN)),
        (k("EndTime"), t(i64::MAX)),
    ]));
    let (status, headers, body) = raw(&sim, gmd, &cbor, &huge).await;
    assert_eq!(status, 400);
    assert_eq!(header(&headers, "x-amzn-query-error"), Some("ValidationError;Sender"));
    let err: ciborium::Value = ciborium::de::from_reader(&body[..]).expect("CBOR error body");
    assert!(format!("{err:?}").contains("com.amazonaws.cloudwatch#ValidationError"));

    let bad_token = encode(ciborium::Value::Map(vec![
        (k("MetricDataQueries"), ciborium::Value::Array(vec![])),
        (k("StartTime"), t(1_795_000_000)),
        (k("EndTime"), t(1_795_003_600)),
        (k("NextToken"), k("not-a-token")),
    ]));
    let (_, headers, _) = raw(&sim, gmd, &cbor, &bad_token).await;
    assert_eq!(header(&headers, "x-amzn-query-error"), Some("InvalidNextToken;Sender"));

    let (status, headers, _) = raw(&sim, gmd, &[("smithy-protocol", "rpc-v2-cbor")], &bad_token).await;
    assert_eq!(status, 403);
    assert_eq!(header(&headers, "x-amzn-query-error"), Some("MissingAuthenticationToken;Sender"));

    let logs_auth = auth.replace("monitoring", "logs");
    let json = [
        ("x-amz-target", "Logs_20140328.StartQuery"),
        ("content-type", "application/x-amz-json-1.1"),
        ("authorization", logs_auth.as_str()),
    ];
    let body =
        format!(r#"{{"logGroupName":"/x","startTime":0,"endTime":{},"queryString":"fields @message"}}"#, i64::MAX);
    let (status, headers, _) = raw(&sim, "/", &json, body.as_bytes()).await;
    assert_eq!(status, 400);
    assert_eq!(header(&headers, "x-amzn-errortype"), Some("InvalidParameterException"));
    let (_, headers, _) = raw(&sim, "/", &json, b"[1,2").await;
    assert_eq!(header(&headers, "x-amzn-errortype"), Some("SerializationException"));

    let sts_auth = auth.replace("monitoring", "sts");
    let form = [("content-type", "application/x-www-form-urlencoded"), ("authorization", sts_auth.as_str())];
    let (status, _, body) =
        raw(&sim, "/", &form, b"Action=AssumeRole&Version=2011-06-15&RoleArn=nonsense&RoleSessionName=x%3Cy").await;
    assert_eq!(status, 400);
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("<Code>ValidationError</Code>") && body.contains("x&lt;y"), "{body}");
    let (status, _, body) = raw(&sim, "/", &form, b"Action=DeleteEverything&Version=2011-06-15").await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("<Code>InvalidAction</Code>"));

    // Everything was counted, the failures included.
    let total: u64 = sim.requests().iter().map(|c| c.count).sum();
    assert_eq!(total, 8);
}

#[tokio::test]
async fn knobs_throttle_per_account_region_and_expire_sessions() {
    let sim = sim().await;
    let globex = tenant(&sim, "globex");
    let now = minute_floor(sim.options().now);
    sim.set_knobs(SimKnobs {
        rate_limits: vec![("GetMetricData".to_string(), 1.0)],
        clock: Some(now),
        ..SimKnobs::default()
    });
    let conf = assume(&sim, globex, "us-east-1", None).await;
    let no_retries = aws_sdk_cloudwatch::config::Builder::from(&conf)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let cw = aws_sdk_cloudwatch::Client::from_conf(no_retries);
    let call = || {
        cw.get_metric_data()
            .metric_data_queries(query("r", globex, "AWS/ApplicationELB", "RequestCount", "Sum", 60))
            .start_time(DateTime::from_secs(now - 600))
            .end_time(DateTime::from_secs(now))
            .send()
    };
    call().await.expect("first call within the quota");
    let err = call().await.expect_err("second call in the same second");
    assert_eq!(err.code(), Some("Throttling"));
    // Another region has its own quota.
    let eu = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&conf)
            .region(Region::new("eu-west-1"))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build(),
    );
    eu.get_metric_data()
        .metric_data_queries(query("r", globex, "AWS/ApplicationELB", "RequestCount", "Sum", 60))
        .start_time(DateTime::from_secs(now - 600))
        .end_time(DateTime::from_secs(now))
        .send()
        .await
        .expect("eu-west-1 is not throttled");

    // An hour later (simulated clock) the session has expired.
    sim.set_knobs(SimKnobs { clock: Some(now + 3601), ..SimKnobs::default() });
    let err = call().await.expect_err("expired");
    assert_eq!(err.code(), Some("ExpiredToken"));
}

#[tokio::test]
async fn the_organization_lists_every_account_in_pages_with_tenant_tags_for_the_payer_only() {
    let sim = sim().await;
    let org = aws_sdk_organizations::Client::new(&base(&sim, "us-east-1").await);
    let mut pages = org.list_accounts().max_results(5).into_paginator().send();
    let mut accounts = Vec::new();
    let mut page_sizes = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.expect("page");
        page_sizes.push(page.accounts().len());
        accounts.extend(page.accounts().to_vec());
    }
    // The payer, the shared/EKS/pooled accounts, one per silo or remote
    // tenant (10 of the default 24), and two accounts outside the fleet.
    let own: Vec<&str> = sim.tenants().iter().filter(|t| t.model.owns_account()).map(|t| t.account.as_str()).collect();
    assert_eq!(own.len(), 10);
    assert_eq!(accounts.len(), 1 + 3 + 10 + 2);
    assert_eq!(page_sizes, vec![5, 5, 5, 1]);
    let ids: std::collections::BTreeSet<&str> = accounts.iter().filter_map(|a| a.id()).collect();
    assert_eq!(ids.len(), accounts.len(), "no account twice across pages");
    assert!(ids.contains(SimFleet::PAYER_ACCOUNT));
    assert!(own.iter().all(|a| ids.contains(a)));
    for a in &accounts {
        let id = a.id().unwrap_or_default();
        assert_eq!(a.status().map(|s| s.as_str()), Some("ACTIVE"));
        assert!(a
            .arn()
            .is_some_and(|arn| arn.starts_with("arn:aws:organizations::999999999999:account/o-")
                && arn.ends_with(&format!("/{id}"))));
        assert!(a.email().is_some_and(|e| e.contains('@')) && a.name().is_some());
        assert!(matches!(a.joined_method().map(|m| m.as_str()), Some("CREATED" | "INVITED")));
        let joined = a.joined_timestamp().map(|t| t.secs()).unwrap_or_default();
        assert!(joined > 1_600_000_000 && joined < sim.options().now, "{id} joined at {joined}");
    }
    assert_eq!(sim.requests().iter().find(|c| c.action == "ListAccounts").map(|c| c.count), Some(4));

    let tags = |id: String| {
        let org = org.clone();
        async move {
            let out = org.list_tags_for_resource().resource_id(id).send().await.expect("tags");
            out.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect::<Vec<_>>()
        }
    };
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    let globex = tenant(&sim, "globex");
    assert_eq!(
        tags(globex.account.clone()).await,
        vec![pair("tenant-id", "globex"), pair("tenant-tier", "enterprise")]
    );
    let remote = sim.tenants().iter().find(|t| t.model == Model::Remote).expect("a remote tenant");
    assert_eq!(
        tags(remote.account.clone()).await,
        vec![pair("tenant-id", &remote.id), pair("tenant-tier", remote.tier.as_str())]
    );
    let initech = tenant(&sim, "initech");
    assert_eq!(tags(initech.account.clone()).await, vec![pair("tenancy", "shared")]);
    assert!(tags(SimFleet::PAYER_ACCOUNT.to_string()).await.is_empty());
    let fleet_accounts: Vec<&str> = sim.tenants().iter().map(|t| t.account.as_str()).collect();
    let outside: Vec<&str> =
        ids.iter().copied().filter(|a| *a != SimFleet::PAYER_ACCOUNT && !fleet_accounts.contains(a)).collect();
    assert_eq!(outside.len(), 2, "security-audit and sandbox");
    for a in outside {
        assert!(tags(a.to_string()).await.is_empty());
    }
    let err = org.list_tags_for_resource().resource_id("123456789012").send().await.expect_err("not a member");
    assert_eq!(err.code(), Some("TargetNotFoundException"));

    // A tenant account is a member, not the management account.
    let member = aws_sdk_organizations::Client::new(&assume(&sim, globex, "us-east-1", None).await);
    let err = member.list_accounts().send().await.expect_err("not the payer");
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert_eq!(err.message(), Some("You don't have permissions to access this resource."));
    assert_eq!(
        sim.requests().iter().find(|c| c.account == globex.account && c.action == "ListAccounts").map(|c| c.count),
        Some(1)
    );
}

#[tokio::test]
async fn a_denied_action_names_itself_and_leaves_the_other_actions_working() {
    let sim = sim().await;
    let globex = tenant(&sim, "globex");
    sim.set_knobs(SimKnobs {
        deny_actions: vec![
            (globex.account.clone(), "logs:StartQuery".to_string()),
            (globex.account.clone(), "cloudwatch:Describe*".to_string()),
        ],
        ..SimKnobs::default()
    });
    let conf = assume(&sim, globex, "eu-west-1", None).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
    let now = sim_now();
    let err = logs
        .start_query()
        .log_group_names("/globex/app")
        .start_time(now - 3600)
        .end_time(now)
        .query_string(recent_errors(""))
        .send()
        .await
        .expect_err("denied");
    assert_eq!(err.code(), Some("AccessDeniedException"));
    let role = format!("arn:aws:sts::{}:assumed-role/FleetdeckReadOnly/fleetdeck-test", globex.account);
    assert_eq!(
        err.message(),
        Some(
            format!(
                "User: {role} is not authorized to perform: logs:StartQuery on resource: arn:aws:logs:eu-west-1:{}:log-group:* because no identity-based policy allows the logs:StartQuery action",
                globex.account
            )
            .as_str()
        )
    );
    // The same account's other actions still work.
    let groups = logs.describe_log_groups().send().await.expect("DescribeLogGroups is allowed");
    assert_eq!(groups.log_groups().len(), 1);
    let cw = aws_sdk_cloudwatch::Client::new(&conf);
    let out = cw
        .get_metric_data()
        .metric_data_queries(query("r", globex, "AWS/ApplicationELB", "RequestCount", "Sum", 300))
        .start_time(DateTime::from_secs(minute_floor(now) - 3600))
        .end_time(DateTime::from_secs(minute_floor(now)))
        .send()
        .await
        .expect("GetMetricData is allowed");
    assert!(!out.metric_data_results()[0].values().is_empty());
    // Wildcards deny a family; CloudWatch answers in its own protocol.
    let err = cw.describe_alarms().send().await.expect_err("denied by cloudwatch:Describe*");
    assert_eq!(err.code(), Some("AccessDenied"));
    assert_eq!(
        err.message(),
        Some(
            format!(
                "User: {role} is not authorized to perform: cloudwatch:DescribeAlarms because no identity-based policy allows the cloudwatch:DescribeAlarms action"
            )
            .as_str()
        )
    );
    // Another account is untouched.
    let acme = sim
        .tenants()
        .iter()
        .find(|t| t.model == Model::Silo && t.id != "globex" && t.regions().contains(&"eu-west-1"))
        .expect("another silo tenant in eu-west-1");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&assume(&sim, acme, "eu-west-1", None).await);
    logs.start_query()
        .log_group_names(acme.log_groups[0].clone())
        .start_time(now - 3600)
        .end_time(now)
        .query_string(recent_errors(""))
        .send()
        .await
        .expect("another account may start queries");

    // A session policy's denial reads the same way, naming its policy.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudwatch:GetMetricData"],"Resource":"*"}]}"#;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&assume(&sim, acme, "eu-west-1", Some(policy)).await);
    let err = logs.describe_log_groups().send().await.expect_err("not in the session policy");
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert_eq!(
        err.message(),
        Some(
            format!(
                "User: arn:aws:sts::{0}:assumed-role/FleetdeckReadOnly/fleetdeck-test is not authorized to perform: logs:DescribeLogGroups on resource: arn:aws:logs:eu-west-1:{0}:log-group:* because no session policy allows the logs:DescribeLogGroups action",
                acme.account
            )
            .as_str()
        )
    );
}

/// A CloudWatch client with the SDK's standard retry, up to 10 attempts,
/// with millisecond backoff (the jitter is the SDK's, the waits are short)
/// and a token bucket of its own.
fn retrying_cloudwatch(conf: &SdkConfig, partition: &'static str) -> aws_sdk_cloudwatch::Client {
    use aws_sdk_cloudwatch::config::retry::{RetryConfig, RetryPartition};
    let retry = RetryConfig::standard()
        .with_max_attempts(10)
        .with_initial_backoff(std::time::Duration::from_millis(1))
        .with_max_backoff(std::time::Duration::from_millis(5));
    aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(conf)
            .retry_config(retry)
            .retry_partition(RetryPartition::new(partition))
            .build(),
    )
}

/// 200 GetMetricData calls under injected faults; returns the faults seen.
async fn get_metric_data_under_faults(sim: &SimFleet) -> u64 {
    let globex = tenant(sim, "globex");
    let now = minute_floor(sim.options().now);
    sim.set_knobs(SimKnobs { clock: Some(now), ..SimKnobs::default() });
    let cw = retrying_cloudwatch(&assume(sim, globex, "us-east-1", None).await, "sim-faults");
    let before = sim.faults_injected();
    sim.set_knobs(SimKnobs {
        clock: Some(now),
        faults: Faults { throttle: 0.2, server_error: 0.05, reset: 0.02 },
        ..SimKnobs::default()
    });
    for i in 0..200 {
        let out = cw
            .get_metric_data()
            .metric_data_queries(query("r", globex, "AWS/ApplicationELB", "RequestCount", "Sum", 60))
            .start_time(DateTime::from_secs(now - 600))
            .end_time(DateTime::from_secs(now))
            .send()
            .await
            .unwrap_or_else(|e| panic!("call {i} failed after retries: {e:?}"));
        assert_eq!(out.metric_data_results()[0].values().len(), 10);
    }
    let faults = sim.faults_injected() - before;
    let counted = sim
        .requests()
        .into_iter()
        .find(|c| c.account == globex.account && c.region == "us-east-1" && c.action == "GetMetricData")
        .expect("counted");
    assert_eq!(counted.count, 200 + faults, "every attempt is counted, the faulted ones too");
    assert_eq!(counted.faulted, faults);
    faults
}

#[tokio::test]
async fn the_sdk_retries_through_throttling_server_errors_and_dropped_connections() {
    let sim = sim().await;
    let faults = get_metric_data_under_faults(&sim).await;
    // 27 % of attempts fail: about 200 * 0.27 / 0.73 = 74 faults.
    assert!((45..=110).contains(&faults), "{faults} faults injected");

    // The same seed and the same sequence of calls meet the same faults.
    let again = SimFleet::start(SimOptions::default()).await.expect("sim starts");
    assert_eq!(get_metric_data_under_faults(&again).await, faults);
}

#[tokio::test]
async fn a_dropped_connection_closes_without_a_response() {
    let sim = sim().await;
    sim.set_knobs(SimKnobs { faults: Faults { reset: 1.0, ..Faults::default() }, ..SimKnobs::default() });
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = sim.endpoint().trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let head = format!(
        "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    assert!(response.is_empty(), "{}", String::from_utf8_lossy(&response));
    assert_eq!(sim.faults_injected(), 1);

    // Server errors come in the protocol's shape, with a retryable status.
    sim.set_knobs(SimKnobs { faults: Faults { server_error: 1.0, ..Faults::default() }, ..SimKnobs::default() });
    let (status, _, body) =
        raw(&sim, "/", &[("content-type", "application/x-www-form-urlencoded")], body.as_bytes()).await;
    assert!(status == 500 || status == 503, "{status}");
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("<Type>Receiver</Type>")
            && (body.contains("InternalFailure") || body.contains("ServiceUnavailable"))
    );
}

#[tokio::test]
async fn short_lived_credentials_expire_on_the_simulated_clock() {
    let sim = sim().await;
    let globex = tenant(&sim, "globex");
    let now = minute_floor(sim.options().now);
    sim.set_knobs(SimKnobs {
        clock: Some(now),
        credential_ttl: Some(std::time::Duration::from_secs(1)),
        ..SimKnobs::default()
    });
    let sts = aws_sdk_sts::Client::new(&base(&sim, "us-east-1").await);
    let out = sts
        .assume_role()
        .role_arn(role_arn(globex))
        .role_session_name("fleetdeck-test")
        .set_external_id(globex.external_id.clone())
        .send()
        .await
        .expect("assume role");
    let c = out.credentials().expect("credentials");
    assert_eq!(c.expiration().secs(), now + 1, "the Expiration field tells the truth");
    let creds = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "short-lived",
    );
    let conf = config(&sim, "us-east-1", creds).await;
    let cw = aws_sdk_cloudwatch::Client::new(&conf);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
    cw.describe_alarms().send().await.expect("fresh credentials work");

    sim.set_knobs(SimKnobs {
        clock: Some(now + 1),
        credential_ttl: Some(std::time::Duration::from_secs(1)),
        ..SimKnobs::default()
    });
    let err = cw.describe_alarms().send().await.expect_err("expired");
    assert_eq!(err.code(), Some("ExpiredToken"));
    let err = logs.describe_log_groups().send().await.expect_err("expired");
    assert_eq!(err.code(), Some("ExpiredTokenException"));
}

#[tokio::test]
async fn unblended_and_amortized_cost_come_together_and_only_today_is_estimated() {
    let sim = sim().await;
    let now = sim.options().now;
    sim.set_knobs(SimKnobs { clock: Some(now), ..SimKnobs::default() });
    let ce = aws_sdk_costexplorer::Client::new(&base(&sim, "us-east-1").await);
    let today = now.div_euclid(86_400);
    let day = |d: i64| {
        chrono::DateTime::from_timestamp(d * 86_400, 0).map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()
    };
    let amount = |g: &aws_sdk_costexplorer::types::Group, metric: &str| -> f64 {
        assert_eq!(g.metrics().and_then(|m| m.get(metric)).and_then(|m| m.unit()), Some("USD"));
        g.metrics()
            .and_then(|m| m.get(metric))
            .and_then(|m| m.amount())
            .and_then(|a| a.parse().ok())
            .expect("an amount")
    };
    let enterprise: Vec<&SimTenant> = sim.tenants().iter().filter(|t| t.tier == super::Tier::Enterprise).collect();
    let ec2 = "Amazon Elastic Compute Cloud - Compute";

    for first in [
        GroupDefinition::builder().r#type(GroupDefinitionType::Tag).key("tenant-id").build(),
        GroupDefinition::builder().r#type(GroupDefinitionType::Dimension).key("LINKED_ACCOUNT").build(),
    ] {
        let by_tag = first.r#type() == Some(&GroupDefinitionType::Tag);
        let mut token: Option<String> = None;
        let mut estimated: std::collections::BTreeMap<String, bool> = Default::default();
        let (mut reserved, mut plain) = (0, 0);
        loop {
            let page = ce
                .get_cost_and_usage()
                .time_period(
                    DateInterval::builder().start(day(today - 3)).end(day(today + 1)).build().expect("interval"),
                )
                .granularity(Granularity::Daily)
                .metrics("UnblendedCost")
                .metrics("AmortizedCost")
                .group_by(first.clone())
                .group_by(GroupDefinition::builder().r#type(GroupDefinitionType::Dimension).key("SERVICE").build())
                .set_next_page_token(token.clone())
                .send()
                .await
                .expect("page");
            for r in page.results_by_time() {
                let start = r.time_period().map(|p| p.start().to_string()).unwrap_or_default();
                estimated.insert(start, r.estimated());
                for g in r.groups() {
                    let (unblended, amortized) = (amount(g, "UnblendedCost"), amount(g, "AmortizedCost"));
                    assert!(amortized <= unblended + 1e-9, "{:?}", g.keys());
                    let owner = &g.keys()[0];
                    let is_enterprise = enterprise.iter().any(|t| {
                        if by_tag {
                            *owner == format!("tenant-id${}", t.id)
                        } else {
                            t.model.owns_account() && *owner == t.account
                        }
                    });
                    if is_enterprise && g.keys()[1] == ec2 && unblended > 0.0 {
                        let discount = 1.0 - amortized / unblended;
                        assert!((0.07..0.16).contains(&discount), "{:?}: {discount}", g.keys());
                        reserved += 1;
                    } else if !is_enterprise && g.keys()[1] == "Amazon Simple Storage Service" {
                        assert!((amortized - unblended).abs() < 1e-6, "{:?}", g.keys());
                        plain += 1;
                    }
                }
            }
            token = page.next_page_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        assert!(reserved > 0 && plain > 0, "by tag {by_tag}: {reserved} reserved, {plain} plain groups");
        let expected: std::collections::BTreeMap<String, bool> =
            (today - 3..=today).map(|d| (day(d), d == today)).collect();
        assert_eq!(estimated, expected, "by tag {by_tag}: only today is estimated");
    }
}

#[tokio::test]
async fn the_f200_benchmark_fleet_serves_full_pages_of_its_twenty_metrics() {
    let sim = SimFleet::start(SimOptions { shape: Some(SimShape::f200()), ..SimOptions::default() })
        .await
        .expect("sim starts");
    assert_eq!(sim.tenants().len(), 200);
    let now = minute_floor(sim.options().now);
    sim.set_knobs(SimKnobs { clock: Some(now), ..SimKnobs::default() });

    // The organization: payer, shared, EKS, two pooled, 150 tenants, two
    // outside the fleet.
    let org = aws_sdk_organizations::Client::new(&base(&sim, "us-east-1").await);
    let mut pages = org.list_accounts().into_paginator().send();
    let mut accounts = 0;
    while let Some(page) = pages.next().await {
        accounts += page.expect("page").accounts().len();
    }
    assert_eq!(accounts, 1 + 2 + 2 + 150 + 2);

    // 25 tenant-regions x 20 metrics = 500 queries, a day of minutes:
    // the first page is full, the rest follows by NextToken.
    let pooled: Vec<&SimTenant> =
        sim.tenants().iter().filter(|t| t.model == Model::Pooled && t.account == sim.tenants()[150].account).collect();
    assert_eq!(pooled.len(), 25);
    let cw = aws_sdk_cloudwatch::Client::new(&assume(&sim, pooled[0], "eu-west-1", None).await);
    let mut queries = Vec::new();
    for (i, t) in pooled.iter().enumerate() {
        for m in 0..20 {
            let (namespace, name, stat) = match m {
                0 => ("SaaS/App", "Requests".to_string(), "Sum"),
                1 => ("SaaS/App", "Errors".to_string(), "Sum"),
                2 => ("SaaS/App", "Latency".to_string(), "p99"),
                n => (super::SYNTHETIC_NAMESPACE, format!("Synthetic{:02}", n - 2), "Average"),
            };
            queries.push(query(&format!("t{i}m{m}"), t, namespace, &name, stat, 60));
        }
    }
    let out = cw
        .get_metric_data()
        .set_metric_data_queries(Some(queries))
        .start_time(DateTime::from_secs(now - 86_400))
        .end_time(DateTime::from_secs(now))
        .send()
        .await
        .expect("get metric data");
    let points: usize = out.metric_data_results().iter().map(|r| r.values().len()).sum();
    assert_eq!(points, 100_800);
    assert!(out.next_token().is_some());
    assert_eq!(out.metric_data_results()[3].values().len(), 1440, "a synthetic metric has every minute");
}

/// The on-call engineer's timeline needs to know when globex's alarm fired:
/// DescribeAlarmHistory answers with its OK -> ALARM transition.
#[tokio::test]
async fn alarm_history_shows_when_globex_went_into_alarm() {
    let sim = SimFleet::start(SimOptions::default()).await.unwrap();
    let globex = sim.tenants().iter().find(|t| t.id == "globex").unwrap().clone();
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(sim.endpoint())
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            SimFleet::ACCESS_KEY_ID,
            SimFleet::SECRET_ACCESS_KEY,
            None,
            None,
            "t",
        ))
        .load()
        .await;
    let sts = aws_sdk_sts::Client::new(&conf);
    let role = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{}:role/FleetdeckReadOnly", globex.account))
        .role_session_name("fleetdeck-test")
        .set_external_id(globex.external_id.clone())
        .send()
        .await
        .unwrap();
    let c = role.credentials().unwrap();
    let creds = aws_sdk_sts::config::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().into()),
        None,
        "r",
    );
    let cw = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&conf).credentials_provider(creds).build(),
    );
    let h = cw.describe_alarm_history().alarm_name("globex-5xx-errors-critical").send().await.unwrap();
    let items = h.alarm_history_items();
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].history_summary(), Some("Alarm updated from OK to ALARM"));
    assert!(items[0].timestamp().unwrap().secs() > items[1].timestamp().unwrap().secs(), "newest first");
}

/// Polls a Logs Insights query as a client must: until it no longer runs.
async fn finished(
    logs: &aws_sdk_cloudwatchlogs::Client,
    id: &str,
) -> aws_sdk_cloudwatchlogs::operation::get_query_results::GetQueryResultsOutput {
    loop {
        let out = logs.get_query_results().query_id(id).send().await.expect("poll");
        if out.status().map(|s| s.as_str()) != Some("Running") {
            return out;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
