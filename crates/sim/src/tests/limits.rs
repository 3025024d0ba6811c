//! The edges: malformed requests, knobs, faults, denied actions, paging,
//! expiry, estimated cost and the benchmark fleet.

use super::*;

/// One raw HTTP/1.1 exchange, for requests no SDK would send.
pub(super) async fn raw(
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

pub(super) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
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

    let encode = |v: ciborium::Value| crate::cloudwatch::encode(&v);
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
    // tenant (10 of the default 24, less the remote one never invited), and
    // two accounts outside the fleet.
    let own: Vec<&str> = sim
        .tenants()
        .iter()
        .filter(|t| t.model.owns_account() && !t.outside_organization())
        .map(|t| t.account.as_str())
        .collect();
    assert!((9..=10).contains(&own.len()), "{own:?}");
    assert_eq!(accounts.len(), 1 + 3 + own.len() + 2);
    assert_eq!(page_sizes.iter().sum::<usize>(), accounts.len());
    assert!(page_sizes.iter().all(|n| *n <= 5), "{page_sizes:?}");
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
    assert_eq!(
        sim.requests().iter().find(|c| c.action == "ListAccounts").map(|c| c.count),
        Some(page_sizes.len() as u64)
    );

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
async fn unblended_and_amortized_cost_come_together_and_the_open_month_is_estimated() {
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
    let enterprise: Vec<&SimTenant> = sim.tenants().iter().filter(|t| t.tier == crate::Tier::Enterprise).collect();
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
        // The open month is estimated; last month too until the 5th.
        use chrono::Datelike;
        let date = |d: i64| chrono::DateTime::from_timestamp(d * 86_400, 0).unwrap().date_naive();
        let t = date(today);
        let open = |d: i64| {
            let dd = date(d);
            (dd.year(), dd.month()) == (t.year(), t.month())
                || (t.day() <= crate::cost::INVOICE_CLOSES_ON && dd < t && (t - dd).num_days() < 40)
        };
        let expected: std::collections::BTreeMap<String, bool> =
            (today - 3..=today).map(|d| (day(d), open(d))).collect();
        assert_eq!(estimated, expected, "by tag {by_tag}: the open month is estimated");
        assert_eq!(estimated.get(&day(today)), Some(&true), "today always is");
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
                n => (crate::SYNTHETIC_NAMESPACE, format!("Synthetic{:02}", n - 2), "Average"),
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

/// Container Insights publishes per namespace only what the CloudWatch
/// User Guide lists with (`Namespace`, `ClusterName`): CPU and running pods
/// are there, container restarts are per pod only, so a query for them per
/// namespace has no data, as on a real cluster.
#[tokio::test]
async fn an_eks_namespace_has_cpu_and_running_pods_but_no_restarts() {
    let sim = sim().await;
    let hooli = tenant(&sim, "hooli").clone();
    let now = minute_floor(sim.options().now);
    sim.set_knobs(SimKnobs { clock: Some(now), ..SimKnobs::default() });
    let cw = aws_sdk_cloudwatch::Client::new(&assume(&sim, &hooli, "us-east-1", None).await);
    let out = cw
        .get_metric_data()
        .metric_data_queries(query("cpu", &hooli, "ContainerInsights", "pod_cpu_utilization", "Average", 60))
        .metric_data_queries(query(
            "pods",
            &hooli,
            "ContainerInsights",
            "namespace_number_of_running_pods",
            "Average",
            60,
        ))
        .metric_data_queries(query(
            "restarts",
            &hooli,
            "ContainerInsights",
            "pod_number_of_container_restarts",
            "Sum",
            60,
        ))
        .start_time(DateTime::from_secs(now - 3600))
        .end_time(DateTime::from_secs(now))
        .send()
        .await
        .expect("GetMetricData");
    let values = |id: &str| {
        out.metric_data_results().iter().find(|r| r.id() == Some(id)).map(|r| r.values().len()).unwrap_or_default()
    };
    assert_eq!((values("cpu") > 0, values("pods") > 0, values("restarts")), (true, true, 0));
}
