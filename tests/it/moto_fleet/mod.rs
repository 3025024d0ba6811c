//! A whole fleet against moto, an AWS emulator nobody on this team wrote:
//! one tenant of every isolation model spread over three accounts and two
//! regions, synced by fleetdeck through the real SDK, signing, AssumeRole and
//! wire protocols. A recording, fault-injecting proxy in front of moto
//! (`fleetdeck_testkit::cbor_proxy`) translates CloudWatch's CBOR, tells the test
//! what fleetdeck sent, and refuses chosen calls with AWS's own
//! access-denied errors.
//!
//! Each story seeds its accounts the way the tenants' own applications
//! would, through the SDK's write APIs, as that account (AssumeRole into it),
//! and uses names that collide on purpose across accounts, regions and
//! tenants, so only account, region and dimension scoping keeps tenants
//! apart. What moto cannot do (percentile statistics, Logs Insights `filter`
//! and `stats`, Cost Explorer forecasts, throttling) is covered by the
//! simulated fleet's tests; each story says which part.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricDatum, StateValue, Statistic};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use fleetdeck_engine::aws::{AwsAccess, AwsSettings, READ_ACTIONS};
use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::fleet::Fleet;
use fleetdeck_engine::model::SyncSummary;
use fleetdeck_engine::sync::{self, SyncOptions};
use fleetdeck_testkit::cbor_proxy::{self, Proxy, Record};
use fleetdeck_testkit::SEEDER_KEY;
use serde_json::{json, Value as Json};
use sqlx::Row;

/// Acme's own account (silo).
const SILO: &str = "111111111111";
/// Globex runs our application in its own account (remote application plane).
const REMOTE: &str = "222222222222";
/// Our shared account: Initech's VPC, Hooli's EKS namespace, Umbrella's pooled tenancy.
const SHARED: &str = "333333333333";
/// Stark's account, where our role was never created.
const NO_ROLE: &str = "444444444444";
/// The management account, where Cost Explorer is read.
const PAYER: &str = "999999999999";

const US: &str = "us-east-1";
const EU: &str = "eu-west-1";

/// The same load balancer name in several accounts and regions, on purpose.
const LB: &str = "app/web/50dc6c495c0c9188";
const INITECH_LB: &str = "app/shared-initech/0a1b2c3d4e5f6071";
const CLUSTER: &str = "prod-eks";

/// Long-term keys: the test's own seeding and fleetdeck's base identity are
/// different callers, so the proxy's record tells them apart.
const FLEETDECK_KEY: &str = "AKIDFLEETDECK";

/// The catalog these fleets use: the built-in one minus p99 latency, which
/// moto answers with HTTP 500 (the simulated fleet covers percentiles).
const METRICS: &str = r#"
[[metric]]
key = "requests"
label = "Requests"
unit = "count"
models = ["silo", "remote", "shared"]
namespace = "AWS/ApplicationELB"
name = "RequestCount"
dimensions = ["LoadBalancer"]
stat = "Sum"
period = 60

[[metric]]
key = "errors"
label = "5xx errors"
unit = "count"
models = ["silo", "remote", "shared"]
namespace = "AWS/ApplicationELB"
name = "HTTPCode_Target_5XX_Count"
dimensions = ["LoadBalancer"]
stat = "Sum"
period = 60

[[metric]]
key = "cpu"
label = "Pod CPU"
unit = "percent"
models = ["eks"]
namespace = "ContainerInsights"
name = "pod_cpu_utilization"
dimensions = ["ClusterName", "Namespace"]
stat = "Average"
period = 60

[[metric]]
key = "restarts"
label = "Container restarts"
unit = "count"
models = ["eks"]
namespace = "ContainerInsights"
name = "pod_number_of_container_restarts"
dimensions = ["ClusterName", "Namespace"]
stat = "Sum"
period = 60

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

[[metric]]
key = "errors"
label = "Errors"
unit = "count"
models = ["pooled"]
namespace = "SaaS/App"
name = "Errors"
dimensions = ["TenantId"]
stat = "Sum"
period = 60
"#;

/// moto's Logs Insights understands `fields`, `sort` and `limit` only (it
/// ignores `filter` and `stats`), so this is the one triage query it can
/// answer truthfully.
const LOGS: &str = r#"
[[query]]
key = "recent_errors"
label = "Latest error lines"
raw_lines = true
query = "fields @timestamp, @message | sort @timestamp desc | limit 50"
"#;

// ---------------------------------------------------------------------------
// The fleet file of these stories.

fn acme(regions: &str) -> String {
    format!(
        r#"
[[tenant]]
id = "acme"
name = "Acme Corp"
tier = "enterprise"
model = "silo"
account = "{SILO}"
external_id = "fleetdeck-acme-7f3a"
home_region = "{US}"
extra_regions = [{regions}]
selector.dimensions = {{ LoadBalancer = "{LB}" }}
selector.log_groups = ["/app/web"]
"#
    )
}

fn globex() -> String {
    format!(
        r#"
[[tenant]]
id = "globex"
name = "Globex"
tier = "premium"
model = "remote"
account = "{REMOTE}"
role_arn = "arn:aws:iam::{REMOTE}:role/GlobexVendorReadOnly"
external_id = "fleetdeck-globex-19c2"
home_region = "{EU}"
selector.dimensions = {{ LoadBalancer = "{LB}" }}
selector.log_groups = ["/app/*"]
"#
    )
}

fn initech() -> String {
    format!(
        r#"
[[tenant]]
id = "initech"
name = "Initech"
tier = "standard"
model = "shared"
account = "{SHARED}"
home_region = "{US}"
selector.dimensions = {{ LoadBalancer = "{INITECH_LB}" }}
selector.log_groups = ["/shared/initech"]
"#
    )
}

fn hooli() -> String {
    format!(
        r#"
[[tenant]]
id = "hooli"
name = "Hooli"
tier = "standard"
model = "eks"
account = "{SHARED}"
home_region = "{US}"
selector.dimensions = {{ ClusterName = "{CLUSTER}" }}
"#
    )
}

fn umbrella(regions: &str) -> String {
    format!(
        r#"
[[tenant]]
id = "umbrella"
name = "Umbrella"
tier = "free"
model = "pooled"
account = "{SHARED}"
home_region = "{US}"
extra_regions = [{regions}]
"#
    )
}

fn stark() -> String {
    format!(
        r#"
[[tenant]]
id = "stark"
name = "Stark Industries"
tier = "enterprise"
model = "silo"
account = "{NO_ROLE}"
external_id = "fleetdeck-stark-0b1d"
home_region = "{US}"
selector.dimensions = {{ LoadBalancer = "{LB}" }}
"#
    )
}

/// `[fleet]` pointing at the proxy, plus any extra lines, then the tenants.
fn fleet_file(proxy: &Proxy, fleet_lines: &str, tenants: &[String]) -> String {
    format!(
        "[fleet]\nname = \"moto fleet\"\nregion = \"{US}\"\nrole_name = \"FleetdeckReadOnly\"\nendpoint_url = \"{}\"\n{fleet_lines}\n{}",
        proxy.url,
        tenants.concat()
    )
}

fn payer_lines() -> String {
    format!("payer_account = \"{PAYER}\"\npayer_role_arn = \"arn:aws:iam::{PAYER}:role/FleetdeckCostReader\"\n")
}

// ---------------------------------------------------------------------------
// moto, the proxy, and the tenants' own applications writing into it.

struct World {
    moto: fleetdeck_testkit::Moto,
    proxy: Proxy,
    /// Half a minute into the current minute: the last complete minute is
    /// `now - 30`.
    now: i64,
}

impl World {
    async fn start() -> World {
        let moto = fleetdeck_testkit::moto();
        let proxy = cbor_proxy::start(&moto.url).await;
        let now = fleetdeck_engine::clock::now() / 60 * 60 + 30;
        World { moto, proxy, now }
    }

    /// The last complete minute, where fleetdeck's reads end.
    fn end(&self) -> i64 {
        fleetdeck_engine::plan::end_for(self.now)
    }

    /// Act as `account`'s own application in `region`: AssumeRole into the
    /// account through the proxy, as the seeder.
    async fn as_account(&self, account: &str, region: &str) -> Account {
        let (base, creds) = fleetdeck_testkit::as_seeder(&self.proxy.url, account, region).await;
        let cw = aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(&base).credentials_provider(creds.clone()).build(),
        );
        let logs = aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::config::Builder::from(&base).credentials_provider(creds).build(),
        );
        Account { cw, logs }
    }

    /// What fleetdeck itself sent (not the seeding), in order.
    fn sent_by_fleetdeck(&self) -> Vec<Record> {
        self.proxy.records().into_iter().filter(|r| r.origin == FLEETDECK_KEY).collect()
    }
}

/// One account-region, written to as its own application would.
struct Account {
    cw: aws_sdk_cloudwatch::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
}

impl Account {
    async fn metric(&self, namespace: &str, name: &str, dims: &[(&str, &str)], points: &[(i64, f64)]) {
        let dims: Vec<Dimension> = dims.iter().map(|(k, v)| Dimension::builder().name(*k).value(*v).build()).collect();
        let data: Vec<MetricDatum> = points
            .iter()
            .map(|(ts, v)| {
                MetricDatum::builder()
                    .metric_name(name)
                    .set_dimensions(Some(dims.clone()))
                    .timestamp(DateTime::from_secs(*ts))
                    .value(*v)
                    .build()
            })
            .collect();
        self.cw
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .expect("put metric data");
    }

    async fn alarm(&self, name: &str, metric: (&str, &str), dims: &[(&str, &str)], state: StateValue, reason: &str) {
        let dims: Vec<Dimension> = dims.iter().map(|(k, v)| Dimension::builder().name(*k).value(*v).build()).collect();
        self.cw
            .put_metric_alarm()
            .alarm_name(name)
            .namespace(metric.0)
            .metric_name(metric.1)
            .set_dimensions(Some(dims))
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(10.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .expect("put metric alarm");
        self.cw
            .set_alarm_state()
            .alarm_name(name)
            .state_value(state)
            .state_reason(reason)
            .send()
            .await
            .expect("set alarm state");
    }

    /// A log group with one stream holding `lines` (epoch ms, message).
    async fn log_group(&self, group: &str, lines: &[(i64, &str)]) {
        self.logs.create_log_group().log_group_name(group).send().await.expect("create log group");
        self.logs.create_log_stream().log_group_name(group).log_stream_name("app").send().await.expect("create stream");
        let events: Vec<InputLogEvent> = lines
            .iter()
            .map(|(ts, m)| InputLogEvent::builder().timestamp(*ts).message(*m).build().expect("log event"))
            .collect();
        self.logs
            .put_log_events()
            .log_group_name(group)
            .log_stream_name("app")
            .set_log_events(Some(events))
            .send()
            .await
            .expect("put log events");
    }
}

/// `n` one-minute points ending before `end`, valued `base + k` (k = 1 is
/// the newest): every series of a story gets its own base, so a point in
/// the wrong tenant's cache shows which series it leaked from.
fn minutes(end: i64, base: f64, n: i64) -> Vec<(i64, f64)> {
    let mut p: Vec<(i64, f64)> = (1..=n).map(|k| (end - 60 * k, base + k as f64)).collect();
    p.sort_by_key(|(ts, _)| *ts);
    p
}

// ---------------------------------------------------------------------------
// fleetdeck, pointed at the proxy.

struct Deck {
    fleet: Fleet,
    catalog: Catalog,
    aws: AwsAccess,
    cache: Cache,
    _dir: tempfile::TempDir,
}

impl Deck {
    async fn new(fleet_toml: &str, metrics: &str, logs: &str) -> Deck {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("metrics.toml"), metrics).unwrap();
        std::fs::write(dir.path().join("logs.toml"), logs).unwrap();
        let catalog = Catalog::load(Some(dir.path())).unwrap_or_else(|e| panic!("{e}"));
        let fleet = Fleet::parse(Path::new("fleet.toml"), fleet_toml, &catalog).unwrap_or_else(|e| panic!("{e}"));
        let aws = AwsAccess::new(&AwsSettings {
            region: US.into(),
            endpoint_url: fleet.endpoint_url.clone(),
            static_credentials: Some((FLEETDECK_KEY.into(), "secret".into())),
            static_session_token: None,
            // moto answers what it lacks with 500; retrying that only waits.
            max_attempts: 1,
            ..Default::default()
        })
        .await;
        let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
        Deck { fleet, catalog, aws, cache, _dir: dir }
    }

    async fn sync(&self, now: i64) -> SyncSummary {
        sync::run(&self.fleet, &self.catalog, &self.aws, &self.cache, &SyncOptions::at(now), &|_| {})
            .await
            .expect("a sync returns Ok even when sources fail")
    }

    /// (tenant, region, metric key) -> its points, oldest first.
    async fn points(&self) -> BTreeMap<(String, String, String), Vec<(i64, f64)>> {
        let rows = sqlx::query(
            "SELECT s.tenant_id, s.region, s.metric_key, d.ts, d.value FROM datapoint d
             JOIN series s ON s.id = d.series_id ORDER BY 1, 2, 3, 4",
        )
        .fetch_all(self.cache.pool())
        .await
        .unwrap();
        let mut out: BTreeMap<(String, String, String), Vec<(i64, f64)>> = BTreeMap::new();
        for r in rows {
            out.entry((r.get(0), r.get(1), r.get(2))).or_default().push((r.get(3), r.get(4)));
        }
        out
    }

    /// Every cached alarm as (tenant, region, arn, state, reason).
    async fn alarms(&self) -> BTreeSet<(String, String, String, String, String)> {
        sqlx::query("SELECT tenant_id, region, arn, state, reason FROM alarm")
            .fetch_all(self.cache.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect()
    }

    /// (tenant, region) -> the `@message` of every cached log row.
    async fn log_messages(&self) -> BTreeMap<(String, String), BTreeSet<String>> {
        let rows =
            sqlx::query("SELECT tenant_id, region, rows FROM log_result").fetch_all(self.cache.pool()).await.unwrap();
        let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for r in rows {
            let lines: Json = serde_json::from_str(r.get::<&str, _>(2)).unwrap();
            let messages = out.entry((r.get(0), r.get(1))).or_default();
            for line in lines.as_array().unwrap() {
                messages.insert(line["@message"].as_str().unwrap_or_default().to_string());
            }
        }
        out
    }

    /// (tenant, region, source) -> (status, error, remediation).
    async fn sources(&self) -> BTreeMap<(String, String, String), (String, String, String)> {
        sqlx::query("SELECT tenant_id, region, source, status, error, remediation FROM source_status")
            .fetch_all(self.cache.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let text = |i: usize| r.get::<Option<String>, _>(i).unwrap_or_default();
                ((r.get(0), r.get(1), r.get(2)), (r.get(3), text(4), text(5)))
            })
            .collect()
    }
}

fn s(v: &str) -> String {
    v.to_string()
}

// ---------------------------------------------------------------------------
// The stories.

/// What the five tenants' applications wrote, and so what each tenant's
/// cache must hold after a sync: exactly this, and nothing else.
struct Seeded {
    points: BTreeMap<(String, String, String), Vec<(i64, f64)>>,
    alarms: BTreeSet<(String, String, String, String, String)>,
    logs: BTreeMap<(String, String), BTreeSet<String>>,
}

/// The five tenants' applications at work: acme (silo, two regions) and
/// globex (remote, eu-west-1) in their own accounts, initech (shared VPC),
/// hooli (EKS namespace) and umbrella (pooled, two regions) in the shared
/// account. Alongside, data nobody in the fleet owns, named to collide:
/// acme's load balancer name in globex's other region and in the shared
/// account, a pooled `TenantId=acme`, an EKS namespace called `umbrella`, a
/// log group whose name starts with initech's.
async fn seed_five_tenants(w: &World) -> Seeded {
    let end = w.end();
    let now_ms = w.now * 1000;
    let mut points = BTreeMap::new();
    let mut alarms = BTreeSet::new();
    let mut logs = BTreeMap::new();
    let alb = "AWS/ApplicationELB";
    let (req, e5xx) = ("RequestCount", "HTTPCode_Target_5XX_Count");
    let ci = "ContainerInsights";
    let (cpu, restarts) = ("pod_cpu_utilization", "pod_number_of_container_restarts");
    let arn = |region: &str, account: &str, name: &str| format!("arn:aws:cloudwatch:{region}:{account}:alarm:{name}");
    let n = 12;
    let mut own = |tenant: &str, region: &str, key: &str, base: f64| {
        let p = minutes(end, base, n);
        points.insert((s(tenant), s(region), s(key)), p.clone());
        p
    };

    let acme_us = w.as_account(SILO, US).await;
    acme_us.metric(alb, req, &[("LoadBalancer", LB)], &own("acme", US, "requests", 1000.0)).await;
    acme_us.metric(alb, e5xx, &[("LoadBalancer", LB)], &own("acme", US, "errors", 1100.0)).await;
    acme_us.alarm("5xx-high", (alb, e5xx), &[("LoadBalancer", LB)], StateValue::Alarm, "acme us 5xx above 10").await;
    // No dimensions at all: still acme's, since acme owns the whole account.
    acme_us.alarm("budget-guard", ("AWS/Billing", "EstimatedCharges"), &[], StateValue::Ok, "acme budget ok").await;
    alarms.insert((s("acme"), s(US), arn(US, SILO, "5xx-high"), s("ALARM"), s("acme us 5xx above 10")));
    alarms.insert((s("acme"), s(US), arn(US, SILO, "budget-guard"), s("OK"), s("acme budget ok")));
    let lines = [(now_ms - 180_000, "acme us checkout failed 1"), (now_ms - 120_000, "acme us checkout failed 2")];
    acme_us.log_group("/app/web", &lines).await;
    logs.insert((s("acme"), s(US)), lines.iter().map(|(_, m)| s(m)).collect::<BTreeSet<_>>());

    let acme_eu = w.as_account(SILO, EU).await;
    acme_eu.metric(alb, req, &[("LoadBalancer", LB)], &own("acme", EU, "requests", 2000.0)).await;
    acme_eu.metric(alb, e5xx, &[("LoadBalancer", LB)], &own("acme", EU, "errors", 2100.0)).await;
    acme_eu.alarm("5xx-high", (alb, e5xx), &[("LoadBalancer", LB)], StateValue::Ok, "acme eu 5xx fine").await;
    alarms.insert((s("acme"), s(EU), arn(EU, SILO, "5xx-high"), s("OK"), s("acme eu 5xx fine")));
    let lines = [(now_ms - 240_000, "acme eu checkout failed 1")];
    acme_eu.log_group("/app/web", &lines).await;
    logs.insert((s("acme"), s(EU)), lines.iter().map(|(_, m)| s(m)).collect::<BTreeSet<_>>());

    let globex_eu = w.as_account(REMOTE, EU).await;
    globex_eu.metric(alb, req, &[("LoadBalancer", LB)], &own("globex", EU, "requests", 3000.0)).await;
    globex_eu.metric(alb, e5xx, &[("LoadBalancer", LB)], &own("globex", EU, "errors", 3100.0)).await;
    globex_eu
        .alarm("5xx-high", (alb, e5xx), &[("LoadBalancer", LB)], StateValue::Alarm, "globex eu 5xx above 10")
        .await;
    alarms.insert((s("globex"), s(EU), arn(EU, REMOTE, "5xx-high"), s("ALARM"), s("globex eu 5xx above 10")));
    let web = [(now_ms - 300_000, "globex eu web timeout 1"), (now_ms - 60_000, "globex eu web timeout 2")];
    let worker = [(now_ms - 200_000, "globex eu worker crashed 1")];
    globex_eu.log_group("/app/web", &web).await;
    globex_eu.log_group("/app/worker", &worker).await;
    logs.insert((s("globex"), s(EU)), web.iter().chain(&worker).map(|(_, m)| s(m)).collect::<BTreeSet<_>>());

    // Globex's account in a region globex does not use: nobody's.
    let globex_us = w.as_account(REMOTE, US).await;
    globex_us.metric(alb, req, &[("LoadBalancer", LB)], &minutes(end, 3500.0, n)).await;
    globex_us.alarm("5xx-high", (alb, e5xx), &[("LoadBalancer", LB)], StateValue::Alarm, "nobody's").await;
    globex_us.log_group("/app/web", &[(now_ms - 60_000, "globex us is not in the fleet")]).await;

    let shared_us = w.as_account(SHARED, US).await;
    shared_us.metric(alb, req, &[("LoadBalancer", INITECH_LB)], &own("initech", US, "requests", 4000.0)).await;
    shared_us.metric(alb, e5xx, &[("LoadBalancer", INITECH_LB)], &own("initech", US, "errors", 4100.0)).await;
    shared_us.metric(alb, req, &[("LoadBalancer", LB)], &minutes(end, 4500.0, n)).await;
    let hooli_dims = [("ClusterName", CLUSTER), ("Namespace", "hooli")];
    shared_us.metric(ci, cpu, &hooli_dims, &own("hooli", US, "cpu", 5000.0)).await;
    shared_us.metric(ci, restarts, &hooli_dims, &own("hooli", US, "restarts", 5100.0)).await;
    shared_us.metric(ci, cpu, &[("ClusterName", CLUSTER), ("Namespace", "umbrella")], &minutes(end, 5500.0, n)).await;
    shared_us
        .metric("SaaS/App", "Requests", &[("TenantId", "umbrella")], &own("umbrella", US, "requests", 6000.0))
        .await;
    shared_us.metric("SaaS/App", "Errors", &[("TenantId", "umbrella")], &own("umbrella", US, "errors", 6100.0)).await;
    shared_us.metric("SaaS/App", "Requests", &[("TenantId", "acme")], &minutes(end, 6500.0, n)).await;

    let firing = || StateValue::Alarm;
    shared_us.alarm("initech-5xx", (alb, e5xx), &[("LoadBalancer", INITECH_LB)], firing(), "initech 5xx").await;
    shared_us.alarm("hooli-restarts", (ci, restarts), &hooli_dims, firing(), "hooli restarts").await;
    let umbrella_dims = [("TenantId", "umbrella")];
    shared_us.alarm("umbrella-errors", ("SaaS/App", "Errors"), &umbrella_dims, firing(), "umbrella errors").await;
    // Alarms of the shared account that name no tenant of the fleet, or
    // name one tenant's dimension with another's value.
    shared_us.alarm("neighbour-5xx", (alb, e5xx), &[("LoadBalancer", LB)], firing(), "nobody's").await;
    shared_us.alarm("pooled-acme", ("SaaS/App", "Errors"), &[("TenantId", "acme")], firing(), "nobody's").await;
    let other_ns = [("ClusterName", CLUSTER), ("Namespace", "umbrella")];
    shared_us.alarm("ns-umbrella-cpu", (ci, cpu), &other_ns, firing(), "nobody's").await;
    alarms.insert((s("initech"), s(US), arn(US, SHARED, "initech-5xx"), s("ALARM"), s("initech 5xx")));
    alarms.insert((s("hooli"), s(US), arn(US, SHARED, "hooli-restarts"), s("ALARM"), s("hooli restarts")));
    alarms.insert((s("umbrella"), s(US), arn(US, SHARED, "umbrella-errors"), s("ALARM"), s("umbrella errors")));

    let lines = [(now_ms - 90_000, "initech us db error 1"), (now_ms - 30_000, "initech us db error 2")];
    shared_us.log_group("/shared/initech", &lines).await;
    logs.insert((s("initech"), s(US)), lines.iter().map(|(_, m)| s(m)).collect::<BTreeSet<_>>());
    shared_us.log_group("/shared/initech-staging", &[(now_ms - 60_000, "staging is nobody's")]).await;
    shared_us.log_group("/app/web", &[(now_ms - 60_000, "shared web is nobody's")]).await;

    let shared_eu = w.as_account(SHARED, EU).await;
    shared_eu
        .metric("SaaS/App", "Requests", &[("TenantId", "umbrella")], &own("umbrella", EU, "requests", 7000.0))
        .await;
    shared_eu.metric("SaaS/App", "Errors", &[("TenantId", "umbrella")], &own("umbrella", EU, "errors", 7100.0)).await;
    shared_eu.metric("SaaS/App", "Requests", &[("TenantId", "initech")], &minutes(end, 7500.0, n)).await;
    let quiet = StateValue::Ok;
    shared_eu
        .alarm("umbrella-errors", ("SaaS/App", "Errors"), &[("TenantId", "umbrella")], quiet, "umbrella eu ok")
        .await;
    alarms.insert((s("umbrella"), s(EU), arn(EU, SHARED, "umbrella-errors"), s("OK"), s("umbrella eu ok")));

    Seeded { points, alarms, logs }
}

fn five_tenants(w: &World, fleet_lines: &str) -> String {
    let eu = format!("\"{EU}\"");
    fleet_file(&w.proxy, fleet_lines, &[acme(&eu), globex(), initech(), hooli(), umbrella(&eu)])
}

mod stories;
