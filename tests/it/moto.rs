//! Against moto, an AWS emulator nobody on this team wrote: fleetdeck assumes
//! a role into two different tenant accounts, with the real SDK, signing and
//! protocols, and finds in each account that account's own data and nothing
//! of the other's, even though both tenants' metrics carry the same
//! dimension value.

use std::path::Path;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricDatum, Statistic};
use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
use fleetdeck_engine::aws::{AwsAccess, AwsSettings};
use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::fleet::Fleet;
use fleetdeck_engine::sync::{self, SyncOptions};

const ACCOUNT_A: &str = "111111111111";
const ACCOUNT_B: &str = "222222222222";

/// moto answers percentiles with HTTP 500, so this fleet's catalog asks for
/// Sum only (the catalog is user-editable; this is a user's choice).
const METRICS: &str = r#"
[[metric]]
key = "requests"
label = "Requests"
unit = "count"
models = ["pooled"]
namespace = "SaaS/App"
name = "Requests"
dimensions = ["TenantId"]
stat = "Sum"
period = 60
"#;

/// Seed one account the way the tenant's own application would: as that
/// account (AssumeRole into it through moto), through the translating proxy.
async fn seed(endpoint: &str, account: &str, value: f64, now: i64) {
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDSEEDER", "secret", None, None, "test"))
        .load()
        .await;
    let sts = aws_sdk_sts::Client::new(&base);
    let assumed = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/Seeder"))
        .role_session_name("seeder")
        .send()
        .await
        .expect("assume role for seeding");
    let c = assumed.credentials().expect("credentials");
    let creds =
        Credentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().to_string()), None, "seeded");
    let conf = aws_sdk_cloudwatch::config::Builder::from(&base).credentials_provider(creds).build();
    let cw = aws_sdk_cloudwatch::Client::from_conf(conf);
    let dim = Dimension::builder().name("TenantId").value("shared-name").build();
    let data: Vec<MetricDatum> = (1..=10)
        .map(|i| {
            MetricDatum::builder()
                .metric_name("Requests")
                .dimensions(dim.clone())
                .timestamp(DateTime::from_secs(now - 60 * i))
                .value(value)
                .build()
        })
        .collect();
    cw.put_metric_data().namespace("SaaS/App").set_metric_data(Some(data)).send().await.expect("put metric data");
    cw.put_metric_alarm()
        .alarm_name(format!("requests-{account}"))
        .namespace("SaaS/App")
        .metric_name("Requests")
        .dimensions(dim)
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("put alarm");
}

fn fleet_file(endpoint: &str) -> String {
    format!(
        r#"
[fleet]
name = "moto fleet"
region = "us-east-1"
role_name = "FleetdeckReadOnly"
endpoint_url = "{endpoint}"

[[tenant]]
id = "alpha"
tier = "standard"
model = "pooled"
account = "{ACCOUNT_A}"
external_id = "ext-alpha"
home_region = "us-east-1"
selector.dimensions = {{ TenantId = "shared-name" }}

[[tenant]]
id = "beta"
tier = "standard"
model = "pooled"
account = "{ACCOUNT_B}"
external_id = "ext-beta"
home_region = "us-east-1"
selector.dimensions = {{ TenantId = "shared-name" }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_account_yields_its_own_metric_and_nothing_of_the_other() {
    let moto = fleetdeck_testkit::moto();
    let proxy = fleetdeck_testkit::cbor_proxy::start(&moto.url).await;
    let now = fleetdeck_engine::clock::now();
    seed(&proxy.url, ACCOUNT_A, 100.0, now).await;
    seed(&proxy.url, ACCOUNT_B, 200.0, now).await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("metrics.toml"), METRICS).unwrap();
    std::fs::write(dir.path().join("logs.toml"), "").unwrap();
    let catalog = Catalog::load(Some(dir.path())).unwrap();
    let fleet = Fleet::parse(Path::new("fleet.toml"), &fleet_file(&proxy.url), &catalog).unwrap();
    let aws = AwsAccess::new(&AwsSettings {
        region: "us-east-1".into(),
        endpoint_url: fleet.endpoint_url.clone(),
        static_credentials: Some(("AKIDFLEETDECK".into(), "secret".into())),
        static_session_token: None,
        // moto answers what it lacks with 500; retrying that only waits.
        max_attempts: 1,
        ..Default::default()
    })
    .await;
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let summary = sync::run(&fleet, &catalog, &aws, &cache, &SyncOptions::at(now), &|_| {}).await.unwrap();
    assert_eq!(fleetdeck_testkit::beyond_moto(&summary), Vec::<&String>::new());

    for (tenant, want) in [("alpha", 100.0), ("beta", 200.0)] {
        let points = cache.latest_points(tenant, "us-east-1", "requests", 100).await.unwrap();
        assert!(points.len() >= 9, "{tenant}: only {} points", points.len());
        assert!(points.iter().all(|(_, v)| *v == want), "{tenant} sees another account's data: {points:?}");
        let alarms = cache.alarms(tenant, "us-east-1").await.unwrap();
        let names: Vec<&str> = alarms.iter().map(|a| a.name.as_str()).collect();
        let own = if tenant == "alpha" { ACCOUNT_A } else { ACCOUNT_B };
        assert_eq!(names, vec![format!("requests-{own}")], "{tenant}'s alarms");
    }

    // Read-only: everything fleetdeck itself sent is on the allowlist.
    let sent = proxy.actions.lock().unwrap().clone();
    for action in &sent {
        let allowed = [
            "sts:AssumeRole",
            "sts:GetCallerIdentity",
            "monitoring:GetMetricData",
            "monitoring:DescribeAlarms",
            "monitoring:DescribeAlarmHistory",
            "monitoring:PutMetricData",
            "monitoring:PutMetricAlarm",
        ];
        assert!(allowed.contains(&action.as_str()), "unexpected request {action}");
    }
    let after_seeding = sent.iter().rposition(|a| a == "monitoring:PutMetricAlarm").unwrap();
    for action in &sent[after_seeding + 1..] {
        assert!(
            [
                "sts:AssumeRole",
                "sts:GetCallerIdentity",
                "monitoring:GetMetricData",
                "monitoring:DescribeAlarms",
                "monitoring:DescribeAlarmHistory"
            ]
            .contains(&action.as_str()),
            "fleetdeck sent {action}"
        );
    }
    assert_eq!(
        sent[after_seeding + 1..].iter().filter(|a| *a == "sts:AssumeRole").count(),
        2,
        "one AssumeRole per tenant account"
    );
}
