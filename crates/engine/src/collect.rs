//! Collectors: one function per AWS read, each turning SDK answers into cache
//! rows. They never write to AWS, count every call sent in the ledger
//! ([`AwsAccess::send`]), and return a classified [`Failure`] instead of an
//! SDK error.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{AlarmType, Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_sdk_cloudwatchlogs::types::QueryStatus;
use aws_sdk_costexplorer::types::{
    DateInterval, Dimension as CostDimension, DimensionValues, Expression, Granularity, GroupDefinition,
    GroupDefinitionType,
};

use crate::aws::{classify, AwsAccess, Failure};
use crate::cache::{AlarmRow, CostRow};
use crate::model::SourceStatus;
use crate::plan::Target;

/// What one series of GetMetricData asks for: a metric of one resource,
/// or of several summed up (a tenant with two load balancers), each read
/// as its own query and combined per timestamp ([`combine`]).
#[derive(Debug, Clone)]
pub struct QuerySpec {
    pub namespace: String,
    pub metric_name: String,
    /// One dimension set per resource, at least one.
    pub resources: Vec<BTreeMap<String, String>>,
    pub stat: String,
    pub period: u32,
    /// The linked account the metric is in, when it is read through the
    /// monitoring account (`AccountId` of each of its queries).
    pub account_id: Option<String>,
}

impl QuerySpec {
    /// A query of one resource.
    pub fn one(
        namespace: &str,
        metric_name: &str,
        dimensions: BTreeMap<String, String>,
        stat: &str,
        period: u32,
    ) -> QuerySpec {
        QuerySpec {
            namespace: namespace.into(),
            metric_name: metric_name.into(),
            resources: vec![dimensions],
            stat: stat.into(),
            period,
            account_id: None,
        }
    }
}

/// One series from its resources' points: counts (`Sum`, `SampleCount`)
/// add up; `Minimum` is the lowest; `Average` the mean of the resources'
/// averages (their sample counts are not read); `Maximum` and percentiles
/// the highest, since the tenant's worst load balancer is its p99 (a
/// merged percentile cannot be rebuilt from percentiles). A timestamp one
/// resource has no datapoint for (no requests there) takes the others'.
pub fn combine(stat: &str, parts: Vec<Vec<(i64, f64)>>) -> Vec<(i64, f64)> {
    if parts.len() == 1 {
        return parts.into_iter().next().unwrap_or_default();
    }
    let mut at: BTreeMap<i64, (f64, f64, f64, f64)> = BTreeMap::new();
    for (ts, v) in parts.into_iter().flatten() {
        let e = at.entry(ts).or_insert((0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY));
        e.0 += v;
        e.1 += 1.0;
        e.2 = e.2.min(v);
        e.3 = e.3.max(v);
    }
    at.into_iter()
        .map(|(ts, (sum, n, min, max))| {
            let v = match stat {
                "Sum" | "SampleCount" => sum,
                "Average" => sum / n,
                "Minimum" => min,
                _ => max,
            };
            (ts, v)
        })
        .collect()
}

fn failure_from_build(e: impl std::fmt::Display) -> Failure {
    Failure {
        status: SourceStatus::Error,
        message: format!("invalid request: {e}"),
        remediation: "check the query catalog".into(),
    }
}

/// Run one packed GetMetricData call, following NextToken, and return the
/// points of each query in order of the `queries` slice.
/// What one GetMetricData (with its pages) answered: each query's points,
/// oldest first, and the queries CloudWatch could not answer in full.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricAnswer {
    pub points: Vec<Vec<(i64, f64)>>,
    /// (query index, why): a final `StatusCode` of `InternalError` or
    /// `Forbidden`, or `PartialData` with no page left, with CloudWatch's
    /// `Messages` ("Complete indicates that all data points in the
    /// requested time range were returned", MetricDataResult, API
    /// Reference). Their points are not the whole window.
    pub incomplete: Vec<(usize, String)>,
}

pub async fn metric_data(
    client: &aws_sdk_cloudwatch::Client,
    aws: &AwsAccess,
    target: &Target,
    queries: &[QuerySpec],
    start: i64,
    end: i64,
) -> Result<MetricAnswer, Failure> {
    let mut built = Vec::with_capacity(queries.len());
    for (i, q) in queries.iter().enumerate() {
        for (k, dimensions) in q.resources.iter().enumerate() {
            let mut metric = Metric::builder().namespace(&q.namespace).metric_name(&q.metric_name);
            for (name, value) in dimensions {
                metric = metric.dimensions(Dimension::builder().name(name).value(value).build());
            }
            let stat = MetricStat::builder().metric(metric.build()).period(q.period as i32).stat(&q.stat).build();
            let id = if q.resources.len() == 1 { format!("q{i}") } else { format!("q{i}r{k}") };
            built.push(
                MetricDataQuery::builder()
                    .id(id)
                    .metric_stat(stat)
                    .set_account_id(q.account_id.clone())
                    .return_data(true)
                    .build(),
            );
        }
    }
    // Per query, per resource.
    let mut parts: Vec<Vec<Vec<(i64, f64)>>> = queries.iter().map(|q| vec![Vec::new(); q.resources.len()]).collect();
    // Each resource's status on the last page that mentioned it.
    let mut status: Vec<Vec<Option<(String, String)>>> =
        queries.iter().map(|q| vec![None; q.resources.len()]).collect();
    let mut token: Option<String> = None;
    let mut skipped = 0usize;
    loop {
        let request = client
            .get_metric_data()
            .set_metric_data_queries(Some(built.clone()))
            .start_time(DateTime::from_secs(start))
            .end_time(DateTime::from_secs(end))
            .scan_by(ScanBy::TimestampAscending)
            .set_next_token(token.clone())
            .send();
        let resp = aws
            .send_metric_data(&target.account, &target.region, built.len() as u64, request)
            .await
            .map_err(|e| classify(&e))?;
        for r in resp.metric_data_results() {
            let Some((idx, k)) = r.id().and_then(parse_query_id) else { continue };
            let Some(points) = parts.get_mut(idx).and_then(|p| p.get_mut(k)) else { continue };
            skipped += push_finite(points, r.timestamps().iter().map(|t| t.secs()).zip(r.values().iter().copied()));
            let messages: Vec<String> = r
                .messages()
                .iter()
                .map(|m| format!("{}: {}", m.code().unwrap_or("Message"), m.value().unwrap_or_default()))
                .collect();
            status[idx][k] = r.status_code().map(|c| (c.as_str().to_string(), messages.join("; ")));
        }
        token = resp.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    if skipped > 0 {
        tracing::warn!(
            "{} {}: skipped {skipped} datapoints that were not finite numbers (NaN or infinite)",
            target.account,
            target.region
        );
    }
    let mut out: Vec<Vec<(i64, f64)>> = Vec::with_capacity(queries.len());
    for (q, mut resources) in queries.iter().zip(parts) {
        for p in &mut resources {
            sort_points(p);
        }
        out.push(combine(&q.stat, resources));
    }
    let incomplete = status
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let (code, messages) = least_complete(s)?;
            (code != "Complete").then(|| {
                let q = &queries[i];
                let why = if messages.is_empty() { String::new() } else { format!(" ({messages})") };
                (i, format!("CloudWatch answered {code} for {}/{}{why}", q.namespace, q.metric_name))
            })
        })
        .collect();
    Ok(MetricAnswer { points: out, incomplete })
}

/// A query's status from its resources' (each as its last page left it):
/// the first that is not `Complete`, else any. A series summed over
/// resources is as complete as its least complete one.
fn least_complete(resources: &[Option<(String, String)>]) -> Option<&(String, String)> {
    let answered = resources.iter().flatten();
    answered.clone().find(|(code, _)| code != "Complete").or_else(|| answered.last())
}

/// `q7` → (7, 0); `q7r1` → (7, 1).
fn parse_query_id(id: &str) -> Option<(usize, usize)> {
    let rest = id.strip_prefix('q')?;
    match rest.split_once('r') {
        Some((i, k)) => Some((i.parse().ok()?, k.parse().ok()?)),
        None => Some((rest.parse().ok()?, 0)),
    }
}

/// Keep the finite points of an answer (CloudWatch values are finite; NaN
/// or infinity can only come from a broken answer, and SQLite would store a
/// NaN as NULL). Returns how many were skipped.
pub fn push_finite(into: &mut Vec<(i64, f64)>, points: impl Iterator<Item = (i64, f64)>) -> usize {
    let mut skipped = 0;
    for (ts, v) in points {
        if v.is_finite() {
            into.push((ts, v));
        } else {
            skipped += 1;
        }
    }
    skipped
}

/// Oldest first, one point per timestamp (the first one received), whatever
/// order and repetition the answer came in.
pub fn sort_points(points: &mut Vec<(i64, f64)>) {
    points.sort_by_key(|(ts, _)| *ts);
    points.dedup_by_key(|(ts, _)| *ts);
}

/// Longest text kept of one Logs Insights field value. AWS caps a log event
/// at 1 MB; a longer value is a broken answer, and the cache, the UI and
/// redaction should not carry megabytes of one line.
pub const MAX_FIELD_CHARS: usize = 16 * 1024;

/// A field value cut to [`MAX_FIELD_CHARS`] characters, saying so.
pub fn bounded_field(value: &str) -> String {
    match value.char_indices().nth(MAX_FIELD_CHARS) {
        None => value.to_string(),
        Some((cut, _)) => format!("{}… [cut: {} bytes in all]", &value[..cut], value.len()),
    }
}

/// Every metric alarm in one account-region.
pub async fn alarms(
    client: &aws_sdk_cloudwatch::Client,
    aws: &AwsAccess,
    target: &Target,
) -> Result<Vec<RawAlarm>, Failure> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        // Composite alarms too: "If you omit this parameter, only metric
        // alarms are returned" (DescribeAlarms, AlarmTypes, API Reference).
        let resp = aws
            .send(
                &target.account,
                &target.region,
                "cloudwatch:DescribeAlarms",
                client
                    .describe_alarms()
                    .alarm_types(AlarmType::MetricAlarm)
                    .alarm_types(AlarmType::CompositeAlarm)
                    .max_records(100)
                    .set_next_token(token.clone())
                    .send(),
            )
            .await
            .map_err(|e| classify(&e))?;
        for a in resp.metric_alarms() {
            // An alarm on one metric names it at the top level; an alarm
            // on another account's metric (or on metric math) names it in
            // `Metrics`, with its `AccountId` (PutMetricAlarm, CloudWatch
            // API Reference): the one it watches returns data.
            let watched = a.metrics().iter().find(|q| q.return_data().unwrap_or(true) && q.metric_stat().is_some());
            let metric = a.metrics().iter().find_map(|q| q.metric_stat()).and_then(|m| m.metric());
            let metric = watched.and_then(|q| q.metric_stat()).and_then(|m| m.metric()).or(metric);
            let top = a.metric_name().is_some();
            let dims = if top { a.dimensions() } else { metric.map_or(&[][..], |m| m.dimensions()) };
            let dimensions =
                dims.iter().filter_map(|d| Some((d.name()?.to_string(), d.value()?.to_string()))).collect();
            let mut raw = raw_alarm(
                (a.alarm_arn(), a.alarm_name(), a.state_value(), a.state_reason()),
                (a.state_updated_timestamp(), a.state_transitioned_timestamp()),
                dimensions,
            );
            if top {
                raw.row.namespace = a.namespace().map(str::to_string);
                raw.row.metric_name = a.metric_name().map(str::to_string);
            } else {
                raw.row.namespace = metric.and_then(|m| m.namespace()).map(str::to_string);
                raw.row.metric_name = metric.and_then(|m| m.metric_name()).map(str::to_string);
            }
            raw.account = a.metrics().iter().find_map(|q| q.account_id()).map(str::to_string);
            raw.row.threshold = a.threshold().filter(|t| t.is_finite());
            out.push(raw);
        }
        for a in resp.composite_alarms() {
            // A composite alarm has no dimensions: whose it is follows from
            // the account (see `RawAlarm::belongs_to`).
            let mut raw = raw_alarm(
                (a.alarm_arn(), a.alarm_name(), a.state_value(), a.state_reason()),
                (a.state_updated_timestamp(), a.state_transitioned_timestamp()),
                BTreeMap::new(),
            );
            raw.composite = true;
            out.push(raw);
        }
        token = resp.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// An alarm as read, from what metric and composite alarms share: (ARN,
/// name, state, reason), (StateUpdatedTimestamp,
/// StateTransitionedTimestamp) and its dimensions. Tenant and region are
/// filled in once it is attributed.
fn raw_alarm(
    (arn, name, state, reason): (
        Option<&str>,
        Option<&str>,
        Option<&aws_sdk_cloudwatch::types::StateValue>,
        Option<&str>,
    ),
    (updated, transitioned): (Option<&DateTime>, Option<&DateTime>),
    dimensions: BTreeMap<String, String>,
) -> RawAlarm {
    let ms = |t: Option<&DateTime>| t.and_then(|t| t.to_millis().ok());
    RawAlarm {
        row: AlarmRow {
            tenant_id: String::new(),
            region: String::new(),
            arn: arn.unwrap_or_default().to_string(),
            name: name.unwrap_or_default().to_string(),
            state: state.map(|s| s.as_str().to_string()).unwrap_or_else(|| "INSUFFICIENT_DATA".into()),
            reason: reason.unwrap_or_default().to_string(),
            state_changed_at: ms(updated),
            namespace: None,
            metric_name: None,
            threshold: None,
            platform: false,
        },
        dimensions,
        transitioned_at: ms(transitioned.or(updated)),
        composite: false,
        account: None,
    }
}

/// One state change of an alarm of an account-region.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryItem {
    pub alarm_name: String,
    /// Epoch ms.
    pub at: i64,
    /// "Alarm updated from OK to ALARM".
    pub summary: String,
}

/// Attempts of an optional read (the alarm history) that AWS fails (5xx,
/// a dropped connection), each counted: a brownout of that API during an
/// incident must not hold up the sync. Throttling is pacing, not failure:
/// it is waited out, within [`OPTIONAL_DEADLINE`].
pub const OPTIONAL_MAX_FAILURES: u32 = 4;
/// An optional read's attempt gives up after this long.
pub const OPTIONAL_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// An optional read of one account-region gives up after this long.
pub const OPTIONAL_DEADLINE: Duration = Duration::from_secs(30);

/// A number in [0, 1) that differs between attempts and callers: backoff
/// jitter, so account-regions retrying together spread out.
fn rand_unit(attempt: u32, salt: i64) -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(attempt);
    h.write_i64(salt);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Every state change of every alarm of one `kind` (metric or composite)
/// of one account-region since `since` (epoch s): one paged
/// DescribeAlarmHistory without `AlarmName`, which "returns the histories
/// for either all metric alarms or all composite alarms" (API Reference):
/// one type a call, whatever `AlarmTypes` lists. An optional read: at most [`OPTIONAL_MAX_FAILURES`] failed
/// attempts of at most [`OPTIONAL_ATTEMPT_TIMEOUT`] each, all within
/// [`OPTIONAL_DEADLINE`], retried here rather than by the SDK so that each
/// attempt sent is paced and counted.
pub async fn alarm_history(
    client: &aws_sdk_cloudwatch::Client,
    aws: &AwsAccess,
    target: &Target,
    kind: AlarmType,
    since: i64,
) -> Result<Vec<HistoryItem>, Failure> {
    let once = aws_sdk_cloudwatch::config::Config::builder()
        .retry_config(aws_sdk_cloudwatch::config::retry::RetryConfig::standard().with_max_attempts(1))
        .timeout_config(
            aws_sdk_cloudwatch::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(OPTIONAL_ATTEMPT_TIMEOUT)
                .build(),
        );
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let (mut attempt, mut failures) = (0u32, 0u32);
        let resp = loop {
            attempt += 1;
            let sent = aws
                .send(
                    &target.account,
                    &target.region,
                    "cloudwatch:DescribeAlarmHistory",
                    client
                        .describe_alarm_history()
                        .alarm_types(kind.clone())
                        .history_item_type(aws_sdk_cloudwatch::types::HistoryItemType::StateUpdate)
                        .start_date(DateTime::from_secs(since))
                        .max_records(100)
                        .set_next_token(token.clone())
                        .customize()
                        .config_override(once.clone())
                        .send(),
                )
                .await;
            match sent {
                Ok(resp) => break resp,
                Err(e) => {
                    let f = classify(&e);
                    match f.status {
                        SourceStatus::Throttled => {}
                        SourceStatus::Error | SourceStatus::Unreachable => failures += 1,
                        _ => return Err(f),
                    }
                    // Backoff with jitter, 100 ms doubling up to 2 s.
                    let backoff = Duration::from_millis((100u64 << attempt.min(5)).min(2000))
                        .mul_f64(0.5 + rand_unit(attempt, since));
                    if failures >= OPTIONAL_MAX_FAILURES || started.elapsed() + backoff > OPTIONAL_DEADLINE {
                        return Err(f);
                    }
                    tokio::time::sleep(backoff).await;
                }
            }
        };
        out.extend(resp.alarm_history_items().iter().filter_map(|i| {
            Some(HistoryItem {
                alarm_name: i.alarm_name()?.to_string(),
                at: i.timestamp()?.to_millis().ok()?,
                summary: i.history_summary().unwrap_or_default().to_string(),
            })
        }));
        token = resp.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// An alarm as read, before it is attributed to tenants: the cache row
/// (tenant and region still empty) and the dimensions that decide whose it is.
#[derive(Debug, Clone)]
pub struct RawAlarm {
    pub row: AlarmRow,
    pub dimensions: BTreeMap<String, String>,
    /// When its state last changed (StateTransitionedTimestamp, else
    /// StateUpdatedTimestamp), epoch ms: a change newer than the history on
    /// record is what calls for a history read.
    pub transitioned_at: Option<i64>,
    /// A composite alarm (its history is read with `AlarmTypes`
    /// `CompositeAlarm`).
    pub composite: bool,
    /// The account of the metric it watches, when the alarm names one
    /// (an alarm in the monitoring account on a linked account's metric).
    pub account: Option<String>,
}

impl RawAlarm {
    /// Is this alarm about the tenant whose selector is `dims`? A whole-
    /// account tenant owns every alarm; otherwise every alarm dimension the
    /// selector names must match, and at least one must.
    pub fn belongs_to(&self, owns_account: bool, dims: &BTreeMap<String, Vec<String>>) -> bool {
        if owns_account {
            return true;
        }
        let mut matched = false;
        for (k, v) in &self.dimensions {
            if let Some(want) = dims.get(k) {
                if !want.contains(v) {
                    return false;
                }
                matched = true;
            }
        }
        matched
    }

    pub fn into_row(self, tenant: &str, region: &str) -> AlarmRow {
        AlarmRow { tenant_id: tenant.to_string(), region: region.to_string(), ..self.row }
    }
}

/// The result of one Logs Insights query.
#[derive(Debug, Clone, PartialEq)]
pub struct InsightsResult {
    pub rows: Vec<BTreeMap<String, String>>,
    pub records_matched: i64,
    /// Logs Insights returns at most 10,000 rows: more matched than came back.
    pub truncated: bool,
}

/// Expand log group prefixes (`/acme/*`) into names; names pass through.
/// Read through the monitoring account (`linked`: the tenant's account),
/// they are the groups' ARNs instead: "If a log group that you're querying
/// is in a source account and you're using a monitoring account, you must
/// specify the ARN of the log group" (StartQuery, CloudWatch Logs API
/// Reference), and a prefix is listed in the linked account
/// (DescribeLogGroups with `includeLinkedAccounts` and `accountIdentifiers`).
pub async fn log_group_names(
    client: &aws_sdk_cloudwatchlogs::Client,
    aws: &AwsAccess,
    target: &Target,
    patterns: &[String],
    linked: Option<&str>,
) -> Result<Vec<String>, Failure> {
    let mut names = Vec::new();
    for p in patterns {
        let Some(prefix) = p.strip_suffix('*') else {
            names.push(match linked {
                Some(account) => log_group_arn(&target.region, account, p),
                None => p.clone(),
            });
            continue;
        };
        let mut token = None;
        loop {
            let mut request = client.describe_log_groups().log_group_name_prefix(prefix).set_next_token(token);
            if let Some(account) = linked {
                request = request.include_linked_accounts(true).account_identifiers(account);
            }
            let resp = aws
                .send(&target.account, &target.region, "logs:DescribeLogGroups", request.send())
                .await
                .map_err(|e| classify(&e))?;
            names.extend(resp.log_groups().iter().filter_map(|g| match linked {
                Some(account) => g.log_group_name().map(|n| log_group_arn(&target.region, account, n)),
                None => g.log_group_name().map(str::to_string),
            }));
            token = resp.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// A log group's ARN (without the trailing `:*` of DescribeLogGroups'
/// `arn`; StartQuery takes either).
pub fn log_group_arn(region: &str, account: &str, name: &str) -> String {
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    format!("arn:{partition}:logs:{region}:{account}:log-group:{name}")
}

/// How long after StartQuery the first GetQueryResults is sent.
pub const FIRST_POLL: Duration = Duration::from_secs(1);

/// Start a Logs Insights query and poll it with backoff until it ends.
pub async fn insights(
    client: &aws_sdk_cloudwatchlogs::Client,
    aws: &AwsAccess,
    target: &Target,
    groups: Vec<String>,
    query: &str,
    start: i64,
    end: i64,
) -> Result<InsightsResult, Failure> {
    // Groups of a linked account are named by ARN (`log_group_names`).
    let by_arn = groups.iter().all(|g| g.starts_with("arn:"));
    // Logs Insights allows 30 running queries per account-region; hold a
    // slot from start to finish.
    let _slot = aws.pacer.query_slot(&target.account, &target.region).await;
    let started = aws
        .send(
            &target.account,
            &target.region,
            "logs:StartQuery",
            client
                .start_query()
                .set_log_group_names((!by_arn).then(|| groups.clone()))
                .set_log_group_identifiers(by_arn.then_some(groups))
                .start_time(start)
                .end_time(end)
                .query_string(query)
                .limit(10_000)
                .send(),
        )
        .await
        .map_err(|e| classify(&e))?;
    let id = started.query_id().unwrap_or_default().to_string();
    // AWS bills the query by the bytes it scanned, whatever became of it:
    // the most any answer said (a running query's statistics are its
    // progress so far).
    let mut scanned = 0u64;
    let result = poll_query(client, aws, target, &id, &mut scanned).await;
    aws.ledger.count_scanned(&target.account, &target.region, scanned);
    result
}

/// Poll a started query with backoff until it ends, keeping the largest
/// `statistics.bytesScanned` seen in `scanned`.
async fn poll_query(
    client: &aws_sdk_cloudwatchlogs::Client,
    aws: &AwsAccess,
    target: &Target,
    id: &str,
    scanned: &mut u64,
) -> Result<InsightsResult, Failure> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    // A query over an hour of logs takes a second or so: polling sooner
    // only spends GetQueryResults quota on "Running".
    tokio::time::sleep(FIRST_POLL).await;
    let mut delay = Duration::from_millis(500);
    loop {
        let r = aws
            .send(
                &target.account,
                &target.region,
                "logs:GetQueryResults",
                client.get_query_results().query_id(id).send(),
            )
            .await
            .map_err(|e| classify(&e))?;
        if let Some(s) = r.statistics() {
            *scanned = (*scanned).max(s.bytes_scanned().max(0.0) as u64);
        }
        match r.status() {
            Some(QueryStatus::Complete) => {
                let rows: Vec<BTreeMap<String, String>> = r
                    .results()
                    .iter()
                    .map(|fields| {
                        fields
                            .iter()
                            .filter_map(|f| Some((f.field()?.to_string(), bounded_field(f.value()?))))
                            .filter(|(k, _)| k != "@ptr")
                            .collect()
                    })
                    .collect();
                let matched = r.statistics().map(|s| s.records_matched() as i64).unwrap_or(rows.len() as i64);
                let truncated = rows.len() >= 10_000;
                return Ok(InsightsResult { rows, records_matched: matched, truncated });
            }
            Some(QueryStatus::Failed | QueryStatus::Cancelled | QueryStatus::Timeout) => {
                return Err(Failure {
                    status: SourceStatus::Error,
                    message: format!("Logs Insights query {id} ended as {:?}", r.status()),
                    remediation: "check the query in queries/logs.toml with the Logs Insights console".into(),
                });
            }
            _ => {}
        }
        if tokio::time::Instant::now() + delay > deadline {
            return Err(Failure {
                status: SourceStatus::Error,
                message: format!("Logs Insights query {id} did not finish in 120 s"),
                remediation: "narrow the query or the window".into(),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// One day of one service for one group key (tag value or account id).
#[derive(Debug, Clone, PartialEq)]
pub struct CostLine {
    pub key: String,
    pub day: String,
    pub service: String,
    pub unblended: f64,
    pub amortized: f64,
    pub unit: String,
    pub estimated: bool,
}

/// What one paged Cost Explorer read brought back: every line of the pages
/// answered and, when a page failed, why and the token to resume from
/// (`None`: the first page), so the pages already paid for are kept.
#[derive(Debug, Default)]
pub struct CostRead {
    pub lines: Vec<CostLine>,
    pub failed: Option<(Failure, Option<String>)>,
    /// Stopped before a page because the sync's budget for pages ran out:
    /// the token to resume from (`Some(None)`: the first page).
    pub stopped: Option<Option<String>>,
}

/// The floor of a read resumed from an earlier sync: 5 s at Cost
/// Explorer's pace.
pub const RESUMED_FLOOR: u32 = 20;

/// How many Cost Explorer pages a sync may still buy: `floor` pages at
/// least (and `cap` at most), then more only until the rest of the sync is
/// done ([`CostPages::rest_done`]). A first sync of thousands of tenants pages
/// for minutes at Cost Explorer's pace; health does not wait for it, and
/// the next sync resumes where it stopped.
#[derive(Debug)]
pub struct CostPages {
    floor: std::sync::atomic::AtomicU32,
    cap: Option<u32>,
    read: std::sync::atomic::AtomicU32,
    rest_done: std::sync::atomic::AtomicBool,
}

impl CostPages {
    /// At least `floor` pages, at most `cap`.
    pub fn new(floor: u32, cap: Option<u32>) -> CostPages {
        CostPages { floor: floor.into(), cap, read: 0.into(), rest_done: false.into() }
    }

    /// A read an earlier sync began has had its floor: past
    /// [`RESUMED_FLOOR`] pages, it buys pages only while the rest of this
    /// sync runs, so a re-sync is not held up by last month's bill.
    pub fn resumed(&self) {
        self.floor.fetch_min(RESUMED_FLOOR, std::sync::atomic::Ordering::Relaxed);
    }

    /// The rest of the sync is done: pages past the floor are not bought.
    pub fn rest_done(&self) {
        self.rest_done.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Pages read so far this sync.
    pub fn read(&self) -> u32 {
        self.read.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn may_read(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let read = self.read.load(Relaxed);
        self.cap.is_none_or(|cap| read < cap) && (read < self.floor.load(Relaxed) || !self.rest_done.load(Relaxed))
    }

    fn count(&self) {
        self.read.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Daily unblended and amortised cost by (group key, service) from the payer
/// account, following NextPageToken from `resume` (a token a failed read
/// left; its request must be the same). `by` is a tag key or
/// `LINKED_ACCOUNT`.
pub async fn cost(
    client: &aws_sdk_costexplorer::Client,
    aws: &AwsAccess,
    payer: &str,
    by: CostGrouping<'_>,
    (start_day, end_day): (&str, &str),
    resume: Option<String>,
    pages: &CostPages,
) -> CostRead {
    let first = match by {
        CostGrouping::Tag(key, _) => GroupDefinition::builder().r#type(GroupDefinitionType::Tag).key(key).build(),
        CostGrouping::LinkedAccount | CostGrouping::UntaggedByAccount(_) => {
            GroupDefinition::builder().r#type(GroupDefinitionType::Dimension).key("LINKED_ACCOUNT").build()
        }
    };
    let service = GroupDefinition::builder().r#type(GroupDefinitionType::Dimension).key("SERVICE").build();
    let interval = match DateInterval::builder().start(start_day).end(end_day).build() {
        Ok(i) => i,
        Err(e) => return CostRead { lines: Vec::new(), failed: Some((failure_from_build(e), None)), stopped: None },
    };
    let filter = match by {
        CostGrouping::Tag(_, excluded) if !excluded.is_empty() => Some(
            Expression::builder()
                .not(
                    Expression::builder()
                        .dimensions(
                            DimensionValues::builder()
                                .key(CostDimension::LinkedAccount)
                                .set_values(Some(excluded.to_vec()))
                                .build(),
                        )
                        .build(),
                )
                .build(),
        ),
        // Spend without the tenant tag, per linked account: the Tags
        // expression with MatchOptions ABSENT (Expression and TagValues,
        // Billing and Cost Management API Reference).
        CostGrouping::UntaggedByAccount(tag) => Some(
            Expression::builder()
                .tags(
                    aws_sdk_costexplorer::types::TagValues::builder()
                        .key(tag)
                        .match_options(aws_sdk_costexplorer::types::MatchOption::Absent)
                        .build(),
                )
                .build(),
        ),
        _ => None,
    };
    let mut out = Vec::new();
    let mut token: Option<String> = resume;
    loop {
        if !pages.may_read() {
            return CostRead { lines: out, failed: None, stopped: Some(token) };
        }
        pages.count();
        let resp = aws
            .send(
                payer,
                "us-east-1",
                "ce:GetCostAndUsage",
                client
                    .get_cost_and_usage()
                    .time_period(interval.clone())
                    .granularity(Granularity::Daily)
                    .metrics("UnblendedCost")
                    .metrics("AmortizedCost")
                    .group_by(first.clone())
                    .group_by(service.clone())
                    .set_filter(filter.clone())
                    .set_next_page_token(token.clone())
                    .send(),
            )
            .await;
        let resp = match resp {
            Ok(r) => r,
            // A token from an earlier sync that Cost Explorer no longer
            // takes: read from the first page.
            Err(e) if token.is_some() && out.is_empty() && classify(&e).message.contains("InvalidNextToken") => {
                token = None;
                continue;
            }
            Err(e) => return CostRead { lines: out, failed: Some((classify(&e), token)), stopped: None },
        };
        for day in resp.results_by_time() {
            let date = day.time_period().map(|p| p.start().to_string()).unwrap_or_default();
            for g in day.groups() {
                let keys = g.keys();
                let (Some(k), Some(svc)) = (keys.first(), keys.get(1)) else { continue };
                let Some(metrics) = g.metrics() else { continue };
                // "NaN" and "inf" parse as f64: a broken amount is skipped, not summed.
                let amount = |name: &str| -> Option<f64> {
                    metrics.get(name)?.amount()?.parse().ok().filter(|a: &f64| a.is_finite())
                };
                let Some(unblended) = amount("UnblendedCost") else { continue };
                let unit = metrics.get("UnblendedCost").and_then(|m| m.unit()).unwrap_or("USD").to_string();
                let key = match by {
                    // Tag group keys come as "<tag>$<value>"; "" is untagged.
                    CostGrouping::Tag(tag, _) => k.strip_prefix(&format!("{tag}$")).unwrap_or(k).to_string(),
                    CostGrouping::LinkedAccount | CostGrouping::UntaggedByAccount(_) => k.clone(),
                };
                out.push(CostLine {
                    key,
                    day: date.clone(),
                    service: svc.clone(),
                    unblended,
                    amortized: amount("AmortizedCost").unwrap_or(unblended),
                    unit,
                    estimated: day.estimated(),
                });
            }
        }
        token = resp.next_page_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    CostRead { lines: out, failed: None, stopped: None }
}

#[derive(Debug, Clone, Copy)]
pub enum CostGrouping<'a> {
    /// By the tenant tag, leaving out the given linked accounts (tenants
    /// that own their account are costed by account: their untagged lines
    /// are not untagged spend).
    Tag(&'a str, &'a [String]),
    LinkedAccount,
    /// By linked account, only spend without the tenant tag: what a pool's
    /// untagged infrastructure costs, account by account.
    UntaggedByAccount(&'a str),
}

/// Turn cost lines into cache rows, attributing each to a tenant.
pub fn cost_rows(lines: Vec<CostLine>, source: &str, owner: impl Fn(&str) -> Option<String>) -> Vec<CostRow> {
    // Keyed once by (tenant, day, service), the rows made from the keys at
    // the end: a big fleet's first bill is hundreds of thousands of lines,
    // and a key beside a row held each of its strings twice.
    // (tenant, day, service) -> (unblended, amortised, unit, estimated)
    type Sums = (f64, f64, String, bool);
    let mut merged: BTreeMap<(String, String, String), Sums> = BTreeMap::new();
    for line in lines {
        let tenant = owner(&line.key).unwrap_or_default();
        let m = merged.entry((tenant, line.day, line.service)).or_insert((0.0, 0.0, line.unit, false));
        m.0 += line.unblended;
        m.1 += line.amortized;
        m.3 |= line.estimated;
    }
    merged
        .into_iter()
        .map(|((tenant_id, day, service), (amount, amortized, unit, estimated))| CostRow {
            tenant_id,
            day,
            service,
            source: source.to_string(),
            amount,
            amortized,
            unit,
            estimated,
        })
        .collect()
}

/// A source account's link to a monitoring account's sink, as
/// ListAttachedLinks shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedLink {
    /// The source account (from the link's ARN).
    pub account: String,
    /// Its label (by default the account's name, `$AccountName`).
    pub label: String,
    pub link_arn: String,
    /// What it shares: `AWS::CloudWatch::Metric`, `AWS::Logs::LogGroup`...
    pub resource_types: Vec<String>,
}

/// The monitoring account's sinks in one region (ListSinks, every page):
/// their ARNs.
pub async fn sinks(client: &aws_sdk_oam::Client, aws: &AwsAccess, target: &Target) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let request = client.list_sinks().set_next_token(token.clone()).send();
        let resp =
            aws.send(&target.account, &target.region, "oam:ListSinks", request).await.map_err(|e| classify(&e))?;
        out.extend(resp.items().iter().filter_map(|s| s.arn().map(str::to_string)));
        token = resp.next_token().map(str::to_string).filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// The links attached to a sink (ListAttachedLinks, every page).
pub async fn attached_links(
    client: &aws_sdk_oam::Client,
    aws: &AwsAccess,
    target: &Target,
    sink_arn: &str,
) -> Result<Vec<AttachedLink>, Failure> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let request = client.list_attached_links().sink_identifier(sink_arn).set_next_token(token.clone()).send();
        let resp = aws
            .send(&target.account, &target.region, "oam:ListAttachedLinks", request)
            .await
            .map_err(|e| classify(&e))?;
        for item in resp.items() {
            let Some(arn) = item.link_arn() else { continue };
            // arn:aws:oam:<region>:<source account>:link/<id>
            let Some(account) = arn.split(':').nth(4).filter(|a| a.len() == 12) else { continue };
            out.push(AttachedLink {
                account: account.to_string(),
                label: item.label().unwrap_or_default().to_string(),
                link_arn: arn.to_string(),
                resource_types: item.resource_types().to_vec(),
            });
        }
        token = resp.next_token().map(str::to_string).filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// Tag values a `TagFilter` may list ("each key can include up to 20
/// values": GetResources, Resource Groups Tagging API Reference).
const TAG_VALUES_PER_FILTER: usize = 20;

/// The resources of one account-region tagged `tag_key` = one of
/// `tenants`, limited to the types whose ARNs name a catalog dimension
/// ([`crate::tags::RESOURCE_TYPES`]); every page, `per_page` at a time
/// (1 to 100). AWS ends with an empty `PaginationToken` rather than none,
/// and either ends the read.
pub async fn tagged_resources(
    client: &aws_sdk_resourcegroupstagging::Client,
    aws: &AwsAccess,
    target: &Target,
    tag_key: &str,
    tenants: &[String],
    per_page: i32,
) -> Result<Vec<crate::tags::TaggedResource>, Failure> {
    use aws_sdk_resourcegroupstagging::types::TagFilter;
    let mut out = Vec::new();
    for chunk in tenants.chunks(TAG_VALUES_PER_FILTER) {
        let filter = TagFilter::builder().key(tag_key).set_values(Some(chunk.to_vec())).build();
        let mut token: Option<String> = None;
        loop {
            let request = client
                .get_resources()
                .tag_filters(filter.clone())
                .set_resource_type_filters(Some(crate::tags::RESOURCE_TYPES.iter().map(|t| t.to_string()).collect()))
                .resources_per_page(per_page)
                .set_pagination_token(token.clone())
                .send();
            let resp = aws
                .send(&target.account, &target.region, "tag:GetResources", request)
                .await
                .map_err(|e| classify(&e))?;
            for m in resp.resource_tag_mapping_list() {
                let Some(arn) = m.resource_arn() else { continue };
                let tenant = m.tags().iter().find(|t| t.key() == tag_key).map(|t| t.value().to_string());
                let (Some(tenant), Some((dimension, value))) = (tenant, crate::tags::dimension_of(arn)) else {
                    continue;
                };
                if !chunk.contains(&tenant) {
                    continue;
                }
                out.push(crate::tags::TaggedResource {
                    tenant,
                    region: target.region.clone(),
                    arn: arn.to_string(),
                    dimension: dimension.to_string(),
                    value,
                });
            }
            token = resp.pagination_token().filter(|t| !t.is_empty()).map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An alarm named "n" in ALARM with these dimensions (tests).
    pub(crate) fn alarm(dims: &[(&str, &str)]) -> RawAlarm {
        RawAlarm {
            row: AlarmRow {
                tenant_id: String::new(),
                region: String::new(),
                arn: "a".into(),
                name: "n".into(),
                state: "ALARM".into(),
                reason: String::new(),
                state_changed_at: None,
                namespace: None,
                metric_name: None,
                threshold: None,
                platform: false,
            },
            dimensions: dims.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            transitioned_at: None,
            composite: false,
            account: None,
        }
    }

    #[test]
    fn a_summed_series_is_as_complete_as_its_least_complete_resource() {
        let st = |code: &str| Some((code.to_string(), String::new()));
        assert_eq!(least_complete(&[st("Complete"), st("PartialData")]).map(|s| s.0.as_str()), Some("PartialData"));
        assert_eq!(least_complete(&[st("InternalError"), st("Complete")]).map(|s| s.0.as_str()), Some("InternalError"));
        assert_eq!(least_complete(&[st("Complete"), None]).map(|s| s.0.as_str()), Some("Complete"));
        assert_eq!(least_complete(&[None, None]), None);
    }

    #[test]
    fn pooled_alarms_go_only_to_the_tenant_they_name() {
        let mine: BTreeMap<String, Vec<String>> = [("TenantId".to_string(), vec!["acme".to_string()])].into();
        assert!(alarm(&[("TenantId", "acme")]).belongs_to(false, &mine));
        assert!(!alarm(&[("TenantId", "acme2")]).belongs_to(false, &mine));
        assert!(
            !alarm(&[("QueueName", "jobs")]).belongs_to(false, &mine),
            "an alarm naming no tenant dimension is nobody's"
        );
        assert!(alarm(&[("QueueName", "jobs")]).belongs_to(true, &mine), "a silo tenant owns its whole account");
        // A tenant with two load balancers owns the alarms of either.
        let two: BTreeMap<String, Vec<String>> =
            [("LoadBalancer".to_string(), vec!["app/a/1".to_string(), "app/b/2".to_string()])].into();
        assert!(alarm(&[("LoadBalancer", "app/b/2")]).belongs_to(false, &two));
        assert!(!alarm(&[("LoadBalancer", "app/c/3")]).belongs_to(false, &two));
    }

    #[test]
    fn non_finite_values_are_skipped_and_counted_and_points_come_out_ordered() {
        let mut points = Vec::new();
        let answer = [(180, 3.0), (60, f64::NAN), (120, 2.0), (60, 1.0), (240, f64::INFINITY), (120, 2.0)];
        assert_eq!(push_finite(&mut points, answer.into_iter()), 2);
        sort_points(&mut points);
        assert_eq!(points, vec![(60, 1.0), (120, 2.0), (180, 3.0)]);
    }

    #[test]
    fn a_huge_field_value_is_cut_and_says_so() {
        let huge = "é".repeat(MAX_FIELD_CHARS + 10);
        let cut = bounded_field(&huge);
        assert!(cut.starts_with(&"é".repeat(MAX_FIELD_CHARS)));
        assert!(cut.ends_with(&format!("[cut: {} bytes in all]", huge.len())), "{}", &cut[cut.len() - 40..]);
        assert_eq!(bounded_field("short"), "short");
    }

    #[test]
    fn cost_lines_are_merged_per_tenant_day_and_service() {
        let line = |key: &str, amount: f64, estimated: bool| CostLine {
            key: key.into(),
            day: "2026-11-01".into(),
            service: "EC2".into(),
            unblended: amount,
            amortized: amount / 2.0,
            unit: "USD".into(),
            estimated,
        };
        let lines = vec![line("acme", 1.5, false), line("acme", 2.0, false), line("", 4.0, true)];
        let rows = cost_rows(lines, "tag", |k| (!k.is_empty()).then(|| k.to_string()));
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].tenant_id.as_str(), rows[0].amount, rows[0].estimated), ("", 4.0, true));
        assert_eq!((rows[1].tenant_id.as_str(), rows[1].amount, rows[1].amortized), ("acme", 3.5, 1.75));
    }
}
