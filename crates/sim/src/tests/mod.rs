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

fn sim_now() -> i64 {
    super::server::wall_clock()
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

mod alarms;
mod limits;
mod monitoring;
mod stories;
