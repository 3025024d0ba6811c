//! The API ledger says what AWS bills, no more: a finance lead who asks
//! "what does fleetdeck cost us in API calls?" reads the Sources view, and
//! its dollars are AWS's. Logs Insights is billed per GB its queries scan
//! (the `bytesScanned` of GetQueryResults), not per request; STS is free;
//! and a call that never left the machine (no credentials to sign it) is
//! neither counted nor priced.

use aws_credential_types::provider::{error::CredentialsError, future, ProvideCredentials};
use aws_sdk_sts::config::SharedCredentialsProvider;
use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::collect::{self, QuerySpec};
use fleetdeck_engine::model::SourceStatus;
use fleetdeck_engine::plan::Target;
use fleetdeck_engine::sync::{self, SyncOptions};
use fleetdeck_testkit::world::{epoch_now, World};

/// Logs Insights: "$0.005 per GB of data scanned" (Amazon CloudWatch
/// Pricing, Logs); a GB as AWS bills it, 2^30 bytes.
const INSIGHTS_PER_GB: f64 = 0.005;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_is_priced_as_aws_bills_it_insights_by_bytes_scanned_and_sts_free() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = epoch_now();
    let world = World::start_with(6, Catalog::builtin().unwrap(), epoch).await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let aws = world.aws().await;
    sync::run(&world.fleet, &world.catalog, &aws, &cache, &SyncOptions::at(epoch), &|_| {}).await.unwrap();

    let scanned = world.sim.insights_bytes_scanned();
    assert!(!world.sim.insights_queries().is_empty(), "the sync ran its triage queries");
    // An hour of a tenant's logs: every request's line, tens of MB.
    let per_query = scanned / world.sim.insights_queries().len() as u64;
    assert!(per_query > 1 << 20, "a query scans MB of logs, not {per_query} bytes");
    let insights = scanned as f64 / (1u64 << 30) as f64 * INSIGHTS_PER_GB;

    let calls = cache.calls_since(0).await.unwrap();
    assert_eq!(calls.syncs, 1);
    let dollars = |prefix: &str| -> f64 {
        calls.actions.iter().filter(|a| a.action.starts_with(prefix)).map(|a| a.dollars).sum()
    };
    let count =
        |prefix: &str| -> i64 { calls.actions.iter().filter(|a| a.action.starts_with(prefix)).map(|a| a.calls).sum() };
    assert!(count("logs:StartQuery") > 0 && count("logs:GetQueryResults") > 0, "{calls:#?}");
    assert!(
        (dollars("logs:StartQuery") + dollars("logs:GetQueryResults") - insights).abs() < 1e-9,
        "Logs Insights at ${insights:.6} for {scanned} bytes scanned: {calls:#?}"
    );
    assert_eq!(dollars("logs:GetQueryResults"), 0.0, "polling a query is not billed: {calls:#?}");
    assert!(count("sts:AssumeRole") > 0, "{calls:#?}");
    assert_eq!(dollars("sts:"), 0.0, "AWS does not charge for STS: {calls:#?}");
    let metrics: i64 = calls.actions.iter().filter(|a| a.action == "cloudwatch:GetMetricData").map(|a| a.metrics).sum();
    assert!((dollars("cloudwatch:GetMetricData") - metrics as f64 * 0.01 / 1000.0).abs() < 1e-9);

    // The Sources view says the same, per service.
    let settings = fleetdeck_engine::model::Settings::default();
    let view = fleetdeck_engine::view::sources(&cache, &world.fleet, &world.catalog, &settings, epoch).await.unwrap();
    let logs = view.calls.iter().find(|c| c.service == "logs").expect("logs calls");
    let describe = dollars("logs:DescribeLogGroups");
    assert!((logs.dollars - insights - describe).abs() < 1e-9, "{:?} against ${insights:.6}", view.calls);
    let sts = view.calls.iter().find(|c| c.service == "sts").expect("sts calls");
    assert_eq!(sts.dollars, 0.0, "{:?}", view.calls);
}

/// What the SDK's providers give when there is nothing to give.
#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::not_loaded("no credentials in the chain")))
    }
}

/// The base identity's credentials are gone (an SSO session that expired
/// with the console open): every read fails before it is sent, AWS bills
/// nothing, and the ledger says nothing was called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_never_sent_for_want_of_credentials_is_neither_counted_nor_priced() {
    let epoch = epoch_now();
    let world = World::start_with(2, Catalog::builtin().unwrap(), epoch).await;
    let aws = world.aws().await;
    let t = &world.fleet.tenants[0];
    let target = Target {
        account: t.account.clone(),
        role_arn: t.role_arn.clone(),
        external_id: t.external_id.clone(),
        region: t.home_region.clone(),
    };
    let none = SharedCredentialsProvider::new(NoCredentials);
    let cloudwatch = aws.cloudwatch(&none, "none", &target.region);
    let logs = aws.logs(&none, "none", &target.region);
    let sent_before: u64 = world.sim.requests().iter().map(|r| r.count).sum();

    let query = QuerySpec::one("AWS/ApplicationELB", "RequestCount", Default::default(), "Sum", 60);
    let failures = [
        collect::metric_data(&cloudwatch, &aws, &target, &[query], epoch - 3600, epoch).await.unwrap_err(),
        collect::alarms(&cloudwatch, &aws, &target).await.unwrap_err(),
        collect::log_group_names(&logs, &aws, &target, &["/acme/*".to_string()], None).await.unwrap_err(),
        collect::insights(&logs, &aws, &target, vec!["/acme/api".into()], "fields @message", epoch - 3600, epoch)
            .await
            .unwrap_err(),
    ];
    for f in &failures {
        assert_eq!(f.status, SourceStatus::NoCredentials, "{f:?}");
    }
    let sent_after: u64 = world.sim.requests().iter().map(|r| r.count).sum();
    assert_eq!(sent_after, sent_before, "nothing reached AWS");
    let counted = aws.ledger.drain();
    assert!(counted.is_empty(), "counted though never sent: {counted:?}");
}
