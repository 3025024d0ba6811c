//! What each service answers about the demo fleet, through the real SDK.

use super::*;

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
        // Shared-account tenants are found by their tag, the rest named.
        match selector.get("dimensions") {
            Some(dims) => assert_eq!(dims.as_table().expect("dimensions").len(), sim_t.dimensions.len()),
            None => assert_eq!(sim_t.model, Model::Shared, "{}", sim_t.id),
        }
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
