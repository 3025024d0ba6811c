//! CloudWatch cross-account observability: an operator who reads the
//! whole estate through one monitoring account. OAM tells them which
//! accounts are linked and what they share; GetMetricData's `AccountId`,
//! Logs Insights over source ARNs, DescribeLogGroups with
//! `includeLinkedAccounts` and the monitoring account's alarms show only
//! what the links share.

use std::collections::BTreeSet;

use aws_sdk_cloudwatch::types::StatusCode;

use super::limits::{header, raw};
use super::*;

/// The demo's `now`, frozen, well in the past of the wall clock.
const NOW: i64 = 1_795_300_000;
const US: &str = "us-east-1";

async fn monitored() -> SimFleet {
    let sim = SimFleet::start(SimOptions { now: NOW, monitoring: true, ..SimOptions::default() }).await.unwrap();
    sim.set_knobs(SimKnobs { clock: Some(NOW), ..SimKnobs::default() });
    sim
}

fn monitoring_account(sim: &SimFleet) -> String {
    sim.monitoring_account().expect("a monitoring account").to_string()
}

/// AssumeRole into the monitoring account (its role asks for no
/// ExternalId): the credentials, and a config for `region`.
async fn monitoring_credentials(sim: &SimFleet) -> Credentials {
    let sts = aws_sdk_sts::Client::new(&base(sim, US).await);
    let role = format!("arn:aws:iam::{}:role/{}", monitoring_account(sim), SimFleet::MONITORING_ROLE_NAME);
    let out = sts.assume_role().role_arn(role).role_session_name("fleetdeck-test").send().await.expect("assume");
    let c = out.credentials().expect("credentials");
    Credentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().to_string()), None, "monitoring")
}

async fn monitoring(sim: &SimFleet, region: &str) -> SdkConfig {
    config(sim, region, monitoring_credentials(sim).await).await
}

/// The accounts that hold tenant data in `region`: what the fleet links.
fn holders(sim: &SimFleet, region: &str) -> BTreeSet<String> {
    sim.tenants().iter().filter(|t| t.regions().contains(&region)).map(|t| t.account.clone()).collect()
}

fn pooled_in<'a>(sim: &'a SimFleet, region: &str) -> &'a SimTenant {
    sim.tenants().iter().find(|t| t.model == Model::Pooled && t.home_region == region).expect("a pooled tenant")
}

#[tokio::test]
async fn the_monitoring_role_is_the_only_role_of_the_monitoring_account() {
    let sim = monitored().await;
    let m = monitoring_account(&sim);
    assert_eq!(m.len(), 12);
    let others: BTreeSet<&str> = sim.tenants().iter().map(|t| t.account.as_str()).collect();
    assert!(!others.contains(m.as_str()) && m != SimFleet::PAYER_ACCOUNT);

    let sts = aws_sdk_sts::Client::new(&monitoring(&sim, US).await);
    let me = sts.get_caller_identity().send().await.expect("monitoring identity");
    assert_eq!(me.account(), Some(m.as_str()));

    let sts = aws_sdk_sts::Client::new(&base(&sim, US).await);
    let err = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{m}:role/FleetdeckReadOnly"))
        .role_session_name("fleetdeck-test")
        .send()
        .await
        .expect_err("no read-only role there");
    assert_eq!(err.code(), Some("AccessDenied"));

    // Without the option there is no monitoring account at all.
    let plain = sim_at(false).await;
    assert_eq!(plain.monitoring_account(), None);
}

async fn sim_at(monitoring: bool) -> SimFleet {
    SimFleet::start(SimOptions { now: NOW, monitoring, ..SimOptions::default() }).await.unwrap()
}

/// The operator checks what the sink of us-east-1 receives: one link per
/// account holding tenants there, read a few at a time.
#[tokio::test]
async fn oam_lists_the_sink_and_every_link_page_by_page() {
    let sim = monitored().await;
    let m = monitoring_account(&sim);
    let oam = aws_sdk_oam::Client::new(&monitoring(&sim, US).await);

    let sinks = oam.list_sinks().send().await.expect("ListSinks");
    let [sink] = sinks.items() else { panic!("one sink: {sinks:?}") };
    assert_eq!(sink.name(), Some("fleetdeck"));
    let arn = sink.arn().expect("arn").to_string();
    let id = sink.id().expect("id");
    assert_eq!(arn, format!("arn:aws:oam:{US}:{m}:sink/{id}"));
    assert_eq!(id.len(), 36, "UUID-shaped: {id}");
    assert!(sinks.next_token().is_none());

    let got = oam.get_sink().identifier(&arn).send().await.expect("GetSink");
    assert_eq!((got.arn(), got.id(), got.name()), (Some(arn.as_str()), Some(id), Some("fleetdeck")));
    assert!(got.tags().is_none(), "tags only when asked for");
    let tagged = oam.get_sink().identifier(&arn).include_tags(true).send().await.expect("GetSink with tags");
    assert!(tagged.tags().is_some_and(|t| !t.is_empty()));

    // Paged two at a time, as the SDK's paginator reads it.
    let mut pages = oam.list_attached_links().sink_identifier(&arn).max_results(2).into_paginator().send();
    let (mut items, mut page_count) = (Vec::new(), 0);
    while let Some(page) = pages.next().await {
        let page = page.expect("ListAttachedLinks page");
        assert!(page.items().len() <= 2);
        page_count += 1;
        items.extend(page.items().to_vec());
    }
    let expected = holders(&sim, US);
    assert!(page_count >= expected.len() / 2, "{page_count} pages for {} links", expected.len());
    let linked: BTreeSet<String> = items
        .iter()
        .map(|l| {
            let link = l.link_arn().expect("link arn");
            let rest = link.strip_prefix(&format!("arn:aws:oam:{US}:")).expect("a link of the region");
            let (account, link_id) = rest.split_once(":link/").expect("link/<id>");
            assert_eq!(link_id.len(), 36);
            assert_eq!(l.resource_types(), ["AWS::CloudWatch::Metric", "AWS::Logs::LogGroup"]);
            assert!(!l.label().unwrap_or_default().is_empty());
            account.to_string()
        })
        .collect();
    assert_eq!(linked, expected, "every account holding tenant data, nothing else");
    assert_eq!(linked.len(), items.len(), "one link per account");
    let staging = sim.tenants().iter().find_map(|t| t.staging.clone()).expect("a staging account");
    assert!(!linked.contains(&staging) && !linked.contains(SimFleet::PAYER_ACCOUNT));
    let globex = tenant(&sim, "globex");
    let label = items.iter().find(|l| l.link_arn().unwrap().contains(&globex.account)).unwrap().label();
    assert_eq!(label, Some("Globex (prod)"), "the account's name");

    // The sink policy lets exactly those accounts link, sharing metrics and logs.
    let policy = oam.get_sink_policy().sink_identifier(&arn).send().await.expect("GetSinkPolicy");
    assert_eq!((policy.sink_arn(), policy.sink_id()), (Some(arn.as_str()), Some(id)));
    let doc: serde_json::Value = serde_json::from_str(policy.policy().expect("policy")).expect("JSON policy");
    let statement = &doc["Statement"][0];
    assert_eq!(statement["Action"], serde_json::json!(["oam:CreateLink", "oam:UpdateLink"]));
    let principals: BTreeSet<String> =
        statement["Principal"]["AWS"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
    assert_eq!(principals, expected);
    assert_eq!(
        statement["Condition"]["ForAllValues:StringEquals"]["oam:ResourceTypes"],
        serde_json::json!(["AWS::CloudWatch::Metric", "AWS::Logs::LogGroup"])
    );

    // A source account has no sink of its own.
    let source = aws_sdk_oam::Client::new(&assume(&sim, globex, US, None).await);
    assert!(source.list_sinks().send().await.expect("ListSinks").items().is_empty());

    // Every call was counted as an OAM action of the monitoring account.
    let counted: Vec<_> = sim.requests().into_iter().filter(|r| r.account == m).collect();
    for action in ["oam:ListSinks", "oam:GetSink", "oam:GetSinkPolicy", "oam:ListAttachedLinks"] {
        assert!(counted.iter().any(|r| r.iam_action == action && r.region == US), "{action}: {counted:?}");
    }
}

#[tokio::test]
async fn a_sink_of_another_region_or_a_made_up_one_is_not_found() {
    let sim = monitored().await;
    let m = monitoring_account(&sim);
    let eu = aws_sdk_oam::Client::new(&monitoring(&sim, "eu-west-1").await);
    let eu_sink = eu.list_sinks().send().await.unwrap().items()[0].arn().unwrap().to_string();
    let us = aws_sdk_oam::Client::new(&monitoring(&sim, US).await);

    let err = us.get_sink().identifier(&eu_sink).send().await.expect_err("eu-west-1's sink, asked in us-east-1");
    assert!(err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()), "{err:?}");
    let made_up = format!("arn:aws:oam:{US}:{m}:sink/00000000-0000-4000-8000-000000000000");
    let err = us.list_attached_links().sink_identifier(&made_up).send().await.expect_err("no such sink");
    assert!(err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()), "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    let err = us.get_sink_policy().sink_identifier("not an arn!").send().await.expect_err("malformed");
    assert!(err.as_service_error().is_some_and(|e| e.is_invalid_parameter_exception()), "{err:?}");
    let us_sink = us.list_sinks().send().await.unwrap().items()[0].arn().unwrap().to_string();
    let err = us.list_attached_links().sink_identifier(&us_sink).max_results(1001).send().await.expect_err("range");
    assert!(err.as_service_error().is_some_and(|e| e.is_invalid_parameter_exception()), "{err:?}");
    let err = us.list_attached_links().sink_identifier(&us_sink).next_token("forged").send().await.expect_err("token");
    assert!(err.as_service_error().is_some_and(|e| e.is_invalid_parameter_exception()), "{err:?}");

    // Denied like any other action, in restJson1's words.
    sim.set_knobs(SimKnobs {
        clock: Some(NOW),
        deny_actions: vec![(m.clone(), "oam:*".into())],
        ..SimKnobs::default()
    });
    let err = us.list_sinks().send().await.expect_err("denied");
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
    assert!(err.message().is_some_and(|msg| msg.contains("oam:ListSinks")), "{err:?}");

    // A GET, or a path of no operation, finds nothing.
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={}/20261122/{US}/oam/aws4_request, SignedHeaders=host, Signature=00",
        SimFleet::ACCESS_KEY_ID
    );
    let (status, headers, _) = raw(&sim, "/DeleteEverything", &[("authorization", auth.as_str())], b"{}").await;
    assert_eq!((status, header(&headers, "x-amzn-errortype")), (404, Some("UnknownOperationException")));
}

#[tokio::test]
async fn unlinked_accounts_and_withheld_types_leave_the_links() {
    let sim = monitored().await;
    let globex = tenant(&sim, "globex").clone();
    let pooled = pooled_in(&sim, US).clone();
    sim.set_knobs(SimKnobs {
        clock: Some(NOW),
        oam_unlinked: vec![(globex.account.clone(), US.into())],
        oam_withheld: vec![(pooled.account.clone(), US.into(), "AWS::Logs::LogGroup".into())],
        ..SimKnobs::default()
    });
    let oam = aws_sdk_oam::Client::new(&monitoring(&sim, US).await);
    let sink = oam.list_sinks().send().await.unwrap().items()[0].arn().unwrap().to_string();
    let links = oam.list_attached_links().sink_identifier(&sink).max_results(1000).send().await.unwrap();
    assert!(links.next_token().is_none());
    let of = |account: &str| links.items().iter().find(|l| l.link_arn().unwrap().contains(account)).cloned();
    assert!(of(&globex.account).is_none(), "globex never linked in us-east-1");
    assert_eq!(of(&pooled.account).expect("pooled is linked").resource_types(), ["AWS::CloudWatch::Metric"]);
    assert_eq!(links.items().len(), holders(&sim, US).len() - 1);

    // globex's link in eu-west-1 is untouched.
    let eu = aws_sdk_oam::Client::new(&monitoring(&sim, "eu-west-1").await);
    let eu_sink = eu.list_sinks().send().await.unwrap().items()[0].arn().unwrap().to_string();
    let mut pages = eu.list_attached_links().sink_identifier(&eu_sink).into_paginator().items().send();
    let mut eu_links = Vec::new();
    while let Some(l) = pages.next().await {
        eu_links.push(l.expect("link").link_arn().unwrap().to_string());
    }
    assert!(eu_links.iter().any(|l| l.contains(&globex.account)));
    assert_eq!(eu_links.len(), holders(&sim, "eu-west-1").len(), "the default page is followed by the paginator");
}

fn request_count(t: &SimTenant, account: Option<&str>) -> MetricDataQuery {
    let mut metric = Metric::builder().namespace("AWS/ApplicationELB").metric_name("RequestCount");
    for (k, v) in &t.dimensions {
        metric = metric.dimensions(Dimension::builder().name(k).value(v).build());
    }
    MetricDataQuery::builder()
        .id("m1")
        .metric_stat(MetricStat::builder().metric(metric.build()).period(60).stat("Sum").build())
        .set_account_id(account.map(str::to_string))
        .build()
}

async fn request_counts(
    cw: &aws_sdk_cloudwatch::Client,
    q: MetricDataQuery,
) -> (Vec<i64>, Vec<f64>, Option<StatusCode>) {
    let out = cw
        .get_metric_data()
        .metric_data_queries(q)
        .start_time(DateTime::from_secs(NOW - 3600))
        .end_time(DateTime::from_secs(NOW))
        .send()
        .await
        .expect("GetMetricData");
    let r = &out.metric_data_results()[0];
    (r.timestamps().iter().map(|t| t.secs()).collect(), r.values().to_vec(), r.status_code().cloned())
}

/// The monitoring account reads globex's requests as globex itself would;
/// an account it is not linked to, or that withholds its metrics, answers
/// nothing, and so does any account asked by a caller that is not the
/// monitoring account.
#[tokio::test]
async fn account_id_reads_a_linked_accounts_metrics_and_nothing_else() {
    let sim = monitored().await;
    let globex = tenant(&sim, "globex").clone();
    let own = aws_sdk_cloudwatch::Client::new(&assume(&sim, &globex, US, None).await);
    let (ts, values, status) = request_counts(&own, request_count(&globex, None)).await;
    assert!(ts.len() >= 50, "{} minutes", ts.len());
    assert_eq!(status, Some(StatusCode::Complete));

    let cw = aws_sdk_cloudwatch::Client::new(&monitoring(&sim, US).await);
    let via = request_counts(&cw, request_count(&globex, Some(&globex.account))).await;
    assert_eq!(via, (ts.clone(), values.clone(), status.clone()), "the same series, through the link");
    // Without AccountId the monitoring account reads its own metrics: none.
    assert_eq!(request_counts(&cw, request_count(&globex, None)).await, (vec![], vec![], Some(StatusCode::Complete)));

    let nothing = (vec![], vec![], Some(StatusCode::Complete));
    let staging = sim.tenants().iter().find_map(|t| t.staging.clone()).expect("a staging account");
    assert_eq!(request_counts(&cw, request_count(&globex, Some(&staging))).await, nothing, "staging is not linked");

    for knobs in [
        SimKnobs { oam_unlinked: vec![(globex.account.clone(), US.into())], ..SimKnobs::default() },
        SimKnobs {
            oam_withheld: vec![(globex.account.clone(), US.into(), "AWS::CloudWatch::Metric".into())],
            ..SimKnobs::default()
        },
    ] {
        sim.set_knobs(SimKnobs { clock: Some(NOW), ..knobs.clone() });
        let got = request_counts(&cw, request_count(&globex, Some(&globex.account))).await;
        assert_eq!(got, nothing, "{knobs:?}");
    }
    // Logs withheld: metrics still flow.
    sim.set_knobs(SimKnobs {
        clock: Some(NOW),
        oam_withheld: vec![(globex.account.clone(), US.into(), "AWS::Logs::LogGroup".into())],
        ..SimKnobs::default()
    });
    assert_eq!(request_counts(&cw, request_count(&globex, Some(&globex.account))).await.0, ts);

    // Any other caller: not a monitoring account, nothing from elsewhere.
    let payer = aws_sdk_cloudwatch::Client::new(&base(&sim, US).await);
    assert_eq!(request_counts(&payer, request_count(&globex, Some(&globex.account))).await, nothing);
    let hooli = tenant(&sim, "hooli").clone();
    let neighbour = aws_sdk_cloudwatch::Client::new(&assume(&sim, &hooli, US, None).await);
    assert_eq!(request_counts(&neighbour, request_count(&globex, Some(&globex.account))).await, nothing);
}

/// The Logs Insights story: from the monitoring account, one query over
/// globex's group and the pooled platform's, by ARN; rows from both.
#[tokio::test]
async fn one_insights_query_reads_two_linked_accounts_by_arn() {
    let sim = monitored().await;
    let m = monitoring_account(&sim);
    let globex = tenant(&sim, "globex").clone();
    let pooled = pooled_in(&sim, US).clone();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&monitoring(&sim, US).await);
    let arn =
        |t: &SimTenant, suffix: &str| format!("arn:aws:logs:{US}:{}:log-group:{}{suffix}", t.account, t.log_groups[0]);
    // Three hours before globex's 5xx spike: the usual trickle of errors.
    let start = |ids: Vec<String>| {
        logs.start_query()
            .set_log_group_identifiers(Some(ids))
            .start_time(NOW - 4 * 3600)
            .end_time(NOW - 3600)
            .query_string("fields @timestamp, @log")
    };
    let id = start(vec![arn(&globex, ""), arn(&pooled, ":*")]).send().await.expect("StartQuery");
    let out = finished(&logs, id.query_id().unwrap()).await;
    let sources: BTreeSet<String> = out
        .results()
        .iter()
        .filter_map(|row| row.iter().find(|f| f.field() == Some("@log")).and_then(|f| f.value()).map(str::to_string))
        .collect();
    assert_eq!(
        sources,
        BTreeSet::from([format!("{}:/globex/app", globex.account), format!("{}:/saas/app", pooled.account)]),
        "rows from each account"
    );
    // The query is the monitoring account's.
    let (account, region, _) = sim.insights_queries().pop().expect("a query");
    assert_eq!((account.as_str(), region.as_str()), (m.as_str(), US));

    // A bare name stays in the monitoring account, which has no such group.
    let err = start(vec!["/globex/app".into()]).send().await.expect_err("a name is the caller's own");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    // An account that is not linked, or that withholds its logs: as missing.
    for knobs in [
        SimKnobs { oam_unlinked: vec![(pooled.account.clone(), US.into())], ..SimKnobs::default() },
        SimKnobs {
            oam_withheld: vec![(pooled.account.clone(), US.into(), "AWS::Logs::LogGroup".into())],
            ..SimKnobs::default()
        },
    ] {
        sim.set_knobs(SimKnobs { clock: Some(NOW), ..knobs });
        let err = start(vec![arn(&globex, ""), arn(&pooled, "")]).send().await.expect_err("pooled unreadable");
        assert_eq!(err.code(), Some("ResourceNotFoundException"));
    }
    // A source account cannot read another account's groups either.
    sim.set_knobs(SimKnobs { clock: Some(NOW), ..SimKnobs::default() });
    let own = aws_sdk_cloudwatchlogs::Client::new(&assume(&sim, &globex, US, None).await);
    let err = own
        .start_query()
        .log_group_identifiers(arn(&pooled, ""))
        .start_time(NOW - 3600)
        .end_time(NOW)
        .query_string("fields @timestamp")
        .send()
        .await
        .expect_err("not a monitoring account");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
}

async fn group_arns(
    logs: &aws_sdk_cloudwatchlogs::Client,
    linked: Option<bool>,
    accounts: Option<Vec<String>>,
) -> Vec<String> {
    let mut pages = logs
        .describe_log_groups()
        .set_include_linked_accounts(linked)
        .set_account_identifiers(accounts)
        .limit(5)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        for g in page.expect("DescribeLogGroups page").log_groups() {
            let arn = g.log_group_arn().expect("logGroupArn").to_string();
            assert_eq!(g.arn(), Some(format!("{arn}:*").as_str()));
            out.push(arn);
        }
    }
    out
}

#[tokio::test]
async fn the_monitoring_account_lists_linked_log_groups_only_when_asked() {
    let sim = monitored().await;
    let globex = tenant(&sim, "globex").clone();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&monitoring(&sim, US).await);

    assert!(group_arns(&logs, None, None).await.is_empty(), "the monitoring account has no groups of its own");
    assert!(group_arns(&logs, None, Some(vec![globex.account.clone()])).await.is_empty(), "not without the flag");

    let all = group_arns(&logs, Some(true), None).await;
    let globex_arn = format!("arn:aws:logs:{US}:{}:log-group:/globex/app", globex.account);
    assert!(all.contains(&globex_arn), "{all:?}");
    let accounts: BTreeSet<String> = all.iter().map(|a| a.split(':').nth(4).unwrap().to_string()).collect();
    assert_eq!(accounts, holders(&sim, US));
    let names: Vec<&str> = all.iter().map(|a| a.split_once(":log-group:").unwrap().1).collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "sorted by name: {names:?}");

    assert_eq!(group_arns(&logs, Some(true), Some(vec![globex.account.clone()])).await, vec![globex_arn.clone()]);

    sim.set_knobs(SimKnobs {
        clock: Some(NOW),
        oam_withheld: vec![(globex.account.clone(), US.into(), "AWS::Logs::LogGroup".into())],
        ..SimKnobs::default()
    });
    let without = group_arns(&logs, Some(true), None).await;
    assert_eq!(without.len(), all.len() - 1);
    assert!(!without.contains(&globex_arn));

    let err = logs
        .describe_log_groups()
        .include_linked_accounts(true)
        .set_account_identifiers(Some(vec!["111122223333".to_string(); 21]))
        .send()
        .await
        .expect_err("at most 20 accounts");
    assert_eq!(err.code(), Some("InvalidParameterException"));
}

/// The on-call engineer opens the monitoring account during globex's 5xx
/// spike: globex's alarm is there, firing since the same second as in
/// globex's own account, watching globex's metric through its AccountId.
#[tokio::test]
async fn the_monitoring_account_holds_copies_of_the_linked_tenants_alarms() {
    let sim = monitored().await;
    let m = monitoring_account(&sim);
    let globex = tenant(&sim, "globex").clone();
    let own = aws_sdk_cloudwatch::Client::new(&assume(&sim, &globex, US, None).await);
    let original = own.describe_alarms().alarm_names("globex-5xx-errors-critical").send().await.unwrap();
    let original = original.metric_alarms()[0].clone();
    assert_eq!(original.state_value(), Some(&StateValue::Alarm));

    let cw = aws_sdk_cloudwatch::Client::new(&monitoring(&sim, US).await);
    let mut pages = cw.describe_alarms().into_paginator().send();
    let mut alarms = Vec::new();
    while let Some(page) = pages.next().await {
        alarms.extend(page.expect("DescribeAlarms page").metric_alarms().to_vec());
    }
    let copy = alarms.iter().find(|a| a.alarm_name() == Some("globex-5xx-errors-critical")).expect("globex's alarm");
    assert_eq!(copy.state_value(), original.state_value());
    assert_eq!(copy.state_reason(), original.state_reason());
    assert_eq!(copy.state_updated_timestamp(), original.state_updated_timestamp());
    assert_eq!(
        copy.alarm_arn(),
        Some(format!("arn:aws:cloudwatch:{US}:{m}:alarm:globex-5xx-errors-critical").as_str())
    );
    assert_eq!((copy.metric_name(), copy.namespace(), copy.period()), (None, None, None));
    assert!(copy.dimensions().is_empty());
    let [q] = copy.metrics() else { panic!("one query: {copy:?}") };
    assert_eq!((q.id(), q.account_id(), q.return_data()), (Some("m1"), Some(globex.account.as_str()), Some(true)));
    let stat = q.metric_stat().expect("MetricStat");
    assert_eq!((stat.period(), stat.stat()), (Some(60), Some("Sum")));
    let metric = stat.metric().expect("Metric");
    assert_eq!(metric.metric_name(), original.metric_name());
    assert_eq!(metric.namespace(), original.namespace());
    assert_eq!(metric.dimensions(), original.dimensions());

    // Silo, EKS and pooled tenants' alarms only: remote and shared tenants
    // keep theirs in their own accounts.
    for t in sim.tenants().iter().filter(|t| t.regions().contains(&US)) {
        let has = alarms.iter().any(|a| a.alarm_name().is_some_and(|n| n.starts_with(&format!("{}-", t.id))));
        let copied = matches!(t.model, Model::Silo | Model::Eks | Model::Pooled);
        assert_eq!(has, copied, "{} ({})", t.id, t.model);
    }
    assert!(alarms.iter().all(|a| a.metrics().len() == 1 && a.metric_name().is_none()));

    // Its history is the original's.
    let history = |cw: aws_sdk_cloudwatch::Client| async move {
        let h = cw.describe_alarm_history().alarm_name("globex-5xx-errors-critical").send().await.unwrap();
        h.alarm_history_items()
            .iter()
            .map(|i| (i.timestamp().cloned(), i.history_summary().map(str::to_string)))
            .collect::<Vec<_>>()
    };
    let theirs = history(own.clone()).await;
    assert!(!theirs.is_empty());
    assert_eq!(history(cw.clone()).await, theirs);

    // Unlinked, or not sharing metrics: the copies are gone.
    sim.set_knobs(SimKnobs {
        clock: Some(NOW),
        oam_withheld: vec![(globex.account.clone(), US.into(), "AWS::CloudWatch::Metric".into())],
        ..SimKnobs::default()
    });
    let none = cw.describe_alarms().alarm_name_prefix("globex-").send().await.unwrap();
    assert!(none.metric_alarms().is_empty());
}

/// The same copy in CloudWatch's JSON 1.0 and AWS Query protocols.
#[tokio::test]
async fn alarm_copies_read_the_same_in_json_and_query() {
    let sim = monitored().await;
    let globex = tenant(&sim, "globex").clone();
    let creds = monitoring_credentials(&sim).await;
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={}/20261122/{US}/monitoring/aws4_request, SignedHeaders=host, Signature=00",
        creds.access_key_id()
    );
    let token = creds.session_token().expect("session token").to_string();

    let json_headers = [
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-target", "GraniteServiceVersion20100801.DescribeAlarms"),
        ("authorization", auth.as_str()),
        ("x-amz-security-token", token.as_str()),
    ];
    let (status, _, body) = raw(&sim, "/", &json_headers, br#"{"AlarmNames":["globex-5xx-errors-critical"]}"#).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    let alarm = &json["MetricAlarms"][0];
    assert!(alarm.get("MetricName").is_none() && alarm.get("Namespace").is_none(), "{alarm}");
    let q = &alarm["Metrics"][0];
    assert_eq!(q["AccountId"], serde_json::json!(globex.account));
    assert_eq!(q["MetricStat"]["Metric"]["MetricName"], "HTTPCode_Target_5XX_Count");
    assert_eq!(q["ReturnData"], true);

    let query_headers = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("authorization", auth.as_str()),
        ("x-amz-security-token", token.as_str()),
    ];
    let form = "Action=DescribeAlarms&Version=2010-08-01&AlarmNames.member.1=globex-5xx-errors-critical";
    let (status, _, body) = raw(&sim, "/", &query_headers, form.as_bytes()).await;
    let xml = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{xml}");
    let metrics = "<Metrics><member><Id>m1</Id><MetricStat><Metric><Namespace>AWS/ApplicationELB</Namespace><MetricName>HTTPCode_Target_5XX_Count</MetricName>";
    assert!(xml.contains(metrics), "{xml}");
    assert!(xml.contains(&format!("<AccountId>{}</AccountId></member></Metrics>", globex.account)), "{xml}");
    assert!(!xml.contains("<Statistic>"), "{xml}");
}

#[tokio::test]
async fn the_monitoring_fleet_file_reads_tenants_through_the_monitoring_account() {
    let (plain, monitored) = (sim_at(false).await, sim_at(true).await);
    let m = monitoring_account(&monitored);
    let text = monitored.monitoring_fleet_toml();
    let doc: toml::Table = text.parse().expect("valid TOML");
    let section = doc["monitoring"].as_table().expect("[monitoring]");
    assert_eq!(section["account"].as_str(), Some(m.as_str()));
    assert_eq!(section["role_name"].as_str(), Some("FleetdeckMonitoring"));
    let regions: Vec<&str> = section["regions"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(regions, ["us-east-1", "eu-west-1", "ap-southeast-2"]);
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s} in the file"));
    assert!(at("[apportion]") < at("[monitoring]") && at("[monitoring]") < at("[[tenant]]"));

    let tenants = doc["tenant"].as_array().expect("tenants");
    assert_eq!(tenants.len(), monitored.tenants().len());
    for (t, entry) in monitored.tenants().iter().zip(tenants) {
        let via = entry.get("via").and_then(|v| v.as_str());
        let role_name = entry.get("role_name").and_then(|v| v.as_str());
        match t.model {
            Model::Remote => {
                assert_eq!((via, role_name), (None, None), "{}", t.id);
                assert!(entry.get("role_arn").is_some());
            }
            Model::Shared => assert_eq!((via, role_name), (Some("monitoring"), Some("FleetdeckReadOnly")), "{}", t.id),
            _ => {
                assert_eq!((via, role_name), (Some("monitoring"), None), "{}", t.id);
                assert!(entry.get("role_arn").is_none());
            }
        }
        if t.staging.is_some() {
            let env = &entry["environment"].as_array().expect("staging")[0];
            assert!(env.get("via").is_none(), "the staging environment stays as it is");
        }
    }

    // Taking the lines away gives the plain fleet file back, and the plain
    // fleet's file is the same whether or not it has a monitoring account.
    let endpoint = |sim: &SimFleet| sim.endpoint();
    let (head, rest) = text.split_once("\n[monitoring]\n").unwrap();
    let tenants_part = &rest[rest.find("\n[[tenant]]").unwrap()..];
    let stripped: String = tenants_part
        .lines()
        .filter(|l| *l != "via = \"monitoring\"" && *l != "role_name = \"FleetdeckReadOnly\"")
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(format!("{head}{stripped}"), monitored.fleet_toml());
    assert_eq!(
        monitored.fleet_toml().replace(&endpoint(&monitored), "ENDPOINT"),
        plain.fleet_toml().replace(&endpoint(&plain), "ENDPOINT")
    );
    assert_eq!(plain.monitoring_fleet_toml(), plain.fleet_toml());
}
