//! CloudWatch: `GetMetricData` here, `DescribeAlarms` and
//! `DescribeAlarmHistory` in `alarms`, in the three protocols real
//! CloudWatch serves (botocore's service model lists `smithy-rpc-v2-cbor`,
//! `json` and `query`): Smithy RPC v2 CBOR, AWS JSON 1.0 and AWS Query.
//!
//! The handlers work on the RPC v2 CBOR shapes, which follow
//! aws-sdk-cloudwatch's generated (de)serializers: request and response
//! maps keyed by member name, timestamps as CBOR tag 1 over epoch seconds,
//! doubles as CBOR floats. A JSON 1.0 or AWS Query request is read into the
//! same shape and its answer written back out by `wire`, so every protocol
//! gets the same semantics and errors. The limits are the real ones: 500
//! queries and 100,800 datapoints per GetMetricData call (more pages
//! through `NextToken`), timestamps aligned to the period inside
//! [StartTime, EndTime), 1-minute data kept 15 days, 5-minute 63 days,
//! 1-hour 455 days; at most 100 alarms per DescribeAlarms page. A query's
//! `AccountId` reads another account's metric only from a monitoring
//! account linked to it (`oam.rs`); any other account answers nothing.

mod alarms;
pub(crate) mod wire;

use ciborium::Value;

use super::fleet::{MetricDef, SimTenant};
use super::protocol::{unknown_operation, Protocol, Service};
use super::series::{aggregate, hash_str, sample, Stat};
use super::server::{ApiError, Call, Reply};

/// Datapoints per GetMetricData response before paging.
pub(crate) const MAX_DATAPOINTS: usize = 100_800;
/// Queries per GetMetricData call.
pub(crate) const MAX_QUERIES: usize = 500;

const DAY: i64 = 86_400;

/// Encodes a CBOR value; writing into a Vec cannot fail.
pub(crate) fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(e) = ciborium::ser::into_writer(value, &mut out) {
        tracing::error!("sim: CBOR encoding failed: {e}");
    }
    out
}

/// Serves one CloudWatch call: `body` is the RPC v2 CBOR or JSON 1.0
/// body, `form` the AWS Query parameters.
pub(crate) fn handle(
    call: &Call<'_>,
    operation: &str,
    body: &[u8],
    form: &[(String, String)],
) -> Result<Reply, ApiError> {
    let input: Value = match call.protocol {
        Protocol::Cbor => {
            let input = if body.is_empty() {
                Value::Map(Vec::new())
            } else {
                ciborium::de::from_reader(body)
                    .map_err(|e| ApiError::new(400, "SerializationException", format!("invalid CBOR body: {e}")))?
            };
            if !matches!(input, Value::Map(_)) {
                return Err(ApiError::new(400, "SerializationException", "request body must be a CBOR map"));
            }
            input
        }
        Protocol::Json10 => wire::from_json(body)?,
        Protocol::Query => wire::from_form(form)?,
        Protocol::Json | Protocol::RestJson => {
            return Err(unknown_operation(call.protocol, Service::CloudWatch, operation))
        }
    };
    match operation {
        "GetMetricData" => get_metric_data(call, &input),
        "DescribeAlarms" => alarms::describe_alarms(call, &input),
        "DescribeAlarmHistory" => alarms::describe_alarm_history(call, &input),
        _ => Err(unknown_operation(call.protocol, Service::CloudWatch, operation)),
    }
}

// ---------------------------------------------------------------------------
// CBOR reading and writing

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| matches!(k, Value::Text(t) if t == key))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null()),
        _ => None,
    }
}

fn bad(field: &str, expected: &str) -> ApiError {
    ApiError::new(400, "SerializationException", format!("{field}: expected {expected}"))
}

fn text<'a>(v: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    v.as_text().ok_or_else(|| bad(field, "a string"))
}

fn int(v: &Value, field: &str) -> Result<i64, ApiError> {
    v.as_integer().and_then(|i| i64::try_from(i).ok()).ok_or_else(|| bad(field, "an integer"))
}

fn boolean(v: &Value, field: &str) -> Result<bool, ApiError> {
    v.as_bool().ok_or_else(|| bad(field, "a boolean"))
}

fn list<'a>(v: &'a Value, field: &str) -> Result<&'a [Value], ApiError> {
    v.as_array().map(Vec::as_slice).ok_or_else(|| bad(field, "a list"))
}

/// Latest timestamp accepted (year 3000): keeps all time arithmetic far
/// from overflow whatever a client sends.
const MAX_TIME: i64 = 32_503_680_000;

/// A timestamp: tag 1 over integer or float epoch seconds (floored).
fn time(v: &Value, field: &str) -> Result<i64, ApiError> {
    let inner = match v {
        Value::Tag(1, inner) => inner.as_ref(),
        _ => return Err(bad(field, "a timestamp (CBOR tag 1)")),
    };
    let secs = match inner {
        Value::Integer(i) => i64::try_from(*i).ok(),
        Value::Float(f) if f.is_finite() && f.abs() < 1e15 => Some(f.floor() as i64),
        _ => return Err(bad(field, "epoch seconds")),
    };
    secs.filter(|s| (-MAX_TIME..=MAX_TIME).contains(s))
        .ok_or_else(|| validation(format!("The parameter {field} is out of range.")))
}

fn key(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (key(k), v)).collect())
}

fn ts(secs: i64) -> Value {
    Value::Tag(1, Box::new(Value::Integer(secs.into())))
}

fn dims_value(dims: &[(String, String)]) -> Value {
    Value::Array(dims.iter().map(|(n, v)| map(vec![("Name", key(n)), ("Value", key(v))])).collect())
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "ValidationError", message)
}

fn invalid_value(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "InvalidParameterValue", message)
}

/// Opaque paging token: the request's fingerprint and a cursor (a query
/// index and, within it, the next timestamp to read or `i64::MIN` for its
/// beginning). A timestamp rather than a position keeps a follow-up page
/// exact even when a new minute has completed between the two calls.
fn token(fingerprint: u64, index: usize, at: i64) -> String {
    format!("{fingerprint:016x}{index:08x}{:016x}", at as u64)
}

fn parse_token(token: &str, fingerprint: u64) -> Option<(usize, i64)> {
    if token.len() != 40 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let fp = u64::from_str_radix(&token[..16], 16).ok()?;
    let index = usize::from_str_radix(&token[16..24], 16).ok()?;
    let at = u64::from_str_radix(&token[24..], 16).ok()? as i64;
    (fp == fingerprint).then_some((index, at))
}

// ---------------------------------------------------------------------------
// GetMetricData

#[derive(Debug)]
struct MetricQuery {
    id: String,
    label: Option<String>,
    return_data: bool,
    account_id: Option<String>,
    stat: StatQuery,
}

#[derive(Debug)]
struct StatQuery {
    namespace: String,
    metric: String,
    dimensions: Vec<(String, String)>,
    period: i64,
    stat: Stat,
    unit: Option<String>,
}

fn parse_query(q: &Value, n: usize) -> Result<MetricQuery, ApiError> {
    let member = format!("MetricDataQueries.member.{n}");
    let id = get(q, "Id")
        .map(|v| text(v, &format!("{member}.Id")))
        .transpose()?
        .ok_or_else(|| validation(format!("The parameter {member}.Id is required.")))?;
    let id_ok = id.len() <= 255
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !id_ok {
        return Err(validation(format!(
            "The value {id} for parameter {member}.Id is not valid: it must start with a lowercase letter and contain only letters, numbers and underscores."
        )));
    }
    let label = get(q, "Label").map(|v| text(v, "Label").map(str::to_string)).transpose()?;
    let return_data = get(q, "ReturnData").map(|v| boolean(v, "ReturnData")).transpose()?.unwrap_or(true);
    let account_id = get(q, "AccountId").map(|v| text(v, "AccountId").map(str::to_string)).transpose()?;
    match (get(q, "MetricStat"), get(q, "Expression")) {
        (Some(_), Some(_)) | (None, None) => Err(validation(format!(
            "Exactly one element of the MetricStat and Expression arrays must be specified in {member}."
        ))),
        (None, Some(_)) => Err(invalid_value(format!(
            "{member}: the simulated fleet does not evaluate metric math or search Expressions; use MetricStat."
        ))),
        (Some(ms), None) => {
            let metric = get(ms, "Metric")
                .ok_or_else(|| validation(format!("The parameter {member}.MetricStat.Metric is required.")))?;
            let namespace = get(metric, "Namespace").map(|v| text(v, "Namespace")).transpose()?.unwrap_or("");
            let name = get(metric, "MetricName").map(|v| text(v, "MetricName")).transpose()?.unwrap_or("");
            let mut dimensions = Vec::new();
            if let Some(dims) = get(metric, "Dimensions") {
                let dims = list(dims, "Dimensions")?;
                if dims.len() > 30 {
                    return Err(validation(format!(
                        "{member}.MetricStat.Metric.Dimensions must have at most 30 members."
                    )));
                }
                for d in dims {
                    let n = get(d, "Name").map(|v| text(v, "Dimension.Name")).transpose()?;
                    let v = get(d, "Value").map(|v| text(v, "Dimension.Value")).transpose()?;
                    match (n, v) {
                        (Some(n), Some(v)) => dimensions.push((n.to_string(), v.to_string())),
                        _ => return Err(validation("Dimensions need both Name and Value.")),
                    }
                }
            }
            let period = get(ms, "Period")
                .map(|v| int(v, "Period"))
                .transpose()?
                .ok_or_else(|| validation(format!("The parameter {member}.MetricStat.Period is required.")))?;
            let valid = period > 0 && (period % 60 == 0 || [1, 5, 10, 20, 30].contains(&period));
            if !valid || period > i64::from(i32::MAX) {
                return Err(invalid_value(format!(
                    "The parameter {member}.MetricStat.Period must be 1, 5, 10, 20, 30, or a multiple of 60."
                )));
            }
            let stat_name = get(ms, "Stat")
                .map(|v| text(v, "Stat"))
                .transpose()?
                .ok_or_else(|| validation(format!("The parameter {member}.MetricStat.Stat is required.")))?;
            let stat = Stat::parse(stat_name).ok_or_else(|| {
                invalid_value(format!(
                    "The statistic {stat_name} in {member}.MetricStat.Stat is not valid (the simulated fleet serves Sum, Average, Minimum, Maximum, SampleCount and pNN)."
                ))
            })?;
            let unit = get(ms, "Unit").map(|v| text(v, "Unit").map(str::to_string)).transpose()?;
            Ok(MetricQuery {
                id: id.to_string(),
                label,
                return_data,
                account_id,
                stat: StatQuery {
                    namespace: namespace.to_string(),
                    metric: name.to_string(),
                    dimensions,
                    // Standard-resolution metrics have nothing finer than
                    // a minute.
                    period: period.max(60),
                    stat,
                    unit,
                },
            })
        }
    }
}

/// The datapoints one query can produce: aligned candidate timestamps.
struct Series<'a> {
    tenant: &'a SimTenant,
    def: &'static MetricDef,
    /// The share of the tenant's traffic this metric's resource carries.
    share: f64,
    region: &'a str,
    period: i64,
    stat: Stat,
    /// First and last candidate timestamp (inclusive), ascending.
    first: i64,
    count: usize,
    descending: bool,
    /// Minutes at or after this are not complete yet.
    complete_before: i64,
}

impl Series<'_> {
    /// Index of the first candidate at or after `at` in scan order.
    fn index_of(&self, at: i64) -> usize {
        if at == i64::MIN || self.count == 0 {
            return 0;
        }
        let last = self.first + (self.count as i64 - 1) * self.period;
        let i = if self.descending {
            (last - at).div_euclid(self.period) + i64::from((last - at).rem_euclid(self.period) != 0)
        } else {
            (at - self.first).div_euclid(self.period) + i64::from((at - self.first).rem_euclid(self.period) != 0)
        };
        i.clamp(0, self.count as i64) as usize
    }

    fn timestamp(&self, i: usize) -> i64 {
        if self.descending {
            self.first + (self.count - 1 - i) as i64 * self.period
        } else {
            self.first + i as i64 * self.period
        }
    }

    fn value(&self, fleet: &super::fleet::Fleet, t: i64, buf: &mut Vec<super::series::Sample>) -> Option<f64> {
        buf.clear();
        let end = (t + self.period).min(self.complete_before);
        let mut m = t;
        while m < end {
            if let Some(s) = sample(fleet, self.tenant, self.region, self.def.kind, m) {
                buf.push(s.share(self.share));
            }
            m += 60;
        }
        aggregate(buf, self.stat).filter(|v| v.is_finite())
    }
}

fn get_metric_data(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    let fleet = &call.state.fleet;
    let queries = get(input, "MetricDataQueries").ok_or_else(|| {
        validation("1 validation error detected: Value null at 'metricDataQueries' failed to satisfy constraint: Member must not be null")
    })?;
    let queries = list(queries, "MetricDataQueries")?;
    if queries.len() > MAX_QUERIES {
        return Err(validation(format!(
            "1 validation error detected: Value at 'metricDataQueries' failed to satisfy constraint: Member must have length less than or equal to {MAX_QUERIES} (got {})",
            queries.len()
        )));
    }
    let start = get(input, "StartTime")
        .map(|v| time(v, "StartTime"))
        .transpose()?
        .ok_or_else(|| validation("1 validation error detected: Value null at 'startTime' failed to satisfy constraint: Member must not be null"))?;
    let end = get(input, "EndTime")
        .map(|v| time(v, "EndTime"))
        .transpose()?
        .ok_or_else(|| validation("1 validation error detected: Value null at 'endTime' failed to satisfy constraint: Member must not be null"))?;
    if start >= end {
        return Err(validation("The parameter StartTime must be less than the parameter EndTime."));
    }
    let descending = match get(input, "ScanBy").map(|v| text(v, "ScanBy")).transpose()? {
        None | Some("TimestampDescending") => true,
        Some("TimestampAscending") => false,
        Some(other) => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'scanBy' failed to satisfy constraint: Member must satisfy enum value set: [TimestampDescending, TimestampAscending]"
            )))
        }
    };
    let max_points = match get(input, "MaxDatapoints").map(|v| int(v, "MaxDatapoints")).transpose()? {
        None => MAX_DATAPOINTS,
        Some(n) if n >= 1 => (n as usize).min(MAX_DATAPOINTS),
        Some(_) => return Err(invalid_value("The parameter MaxDatapoints must be greater than 0.")),
    };
    let parsed: Vec<MetricQuery> =
        queries.iter().enumerate().map(|(i, q)| parse_query(q, i + 1)).collect::<Result<_, _>>()?;
    for (i, q) in parsed.iter().enumerate() {
        if parsed[..i].iter().any(|p| p.id == q.id) {
            return Err(validation(format!(
                "The value {} for parameter MetricDataQueries.member.{}.Id is a duplicate.",
                q.id,
                i + 1
            )));
        }
    }
    let fingerprint = hash_str(&format!("{parsed:?}|{start}|{end}|{descending}|{max_points}"));
    let (mut qi, mut cursor) = match get(input, "NextToken").map(|v| text(v, "NextToken")).transpose()? {
        None => (0, i64::MIN),
        Some(t) => parse_token(t, fingerprint)
            .ok_or_else(|| ApiError::new(400, "InvalidNextToken", "The service couldn't process the NextToken."))?,
    };

    let now = call.now;
    let complete_before = now - now.rem_euclid(60);
    let mut budget = max_points;
    let mut results = Vec::new();
    let mut next_token = None;
    let mut buf = Vec::new();
    while qi < parsed.len() {
        let q = &parsed[qi];
        if !q.return_data {
            qi += 1;
            cursor = i64::MIN;
            continue;
        }
        if budget == 0 {
            next_token = Some(token(fingerprint, qi, i64::MIN));
            break;
        }
        // The knob names the account whose series fails: the caller's, or
        // the source account a monitoring account reads.
        let failing = data_account(call, q).is_some_and(|data| {
            call.state.knobs().metric_errors.iter().any(|(account, metric)| account == data && *metric == q.stat.metric)
        });
        if failing {
            results.push(map(vec![
                ("Id", key(&q.id)),
                ("Label", key(q.label.as_deref().unwrap_or(&q.stat.metric))),
                ("Timestamps", Value::Array(Vec::new())),
                ("Values", Value::Array(Vec::new())),
                ("StatusCode", key("InternalError")),
                (
                    "Messages",
                    Value::Array(vec![map(vec![
                        ("Code", key("InternalError")),
                        ("Value", key("An internal error occurred while reading this metric.")),
                    ])]),
                ),
            ]));
            qi += 1;
            cursor = i64::MIN;
            continue;
        }
        let series = plan(call, q, start, end, descending, complete_before);
        let mut timestamps = Vec::new();
        let mut values = Vec::new();
        let mut i = series.as_ref().map_or(0, |s| s.index_of(cursor));
        if let Some(s) = &series {
            while i < s.count && budget > 0 {
                let t = s.timestamp(i);
                if let Some(v) = s.value(fleet, t, &mut buf) {
                    timestamps.push(ts(t));
                    values.push(Value::Float(v));
                    budget -= 1;
                }
                i += 1;
            }
        }
        let partial = series.as_ref().is_some_and(|s| i < s.count);
        results.push(map(vec![
            ("Id", key(&q.id)),
            ("Label", key(q.label.as_deref().unwrap_or(&q.stat.metric))),
            ("Timestamps", Value::Array(timestamps)),
            ("Values", Value::Array(values)),
            ("StatusCode", key(if partial { "PartialData" } else { "Complete" })),
        ]));
        if let (true, Some(s)) = (partial, &series) {
            next_token = Some(token(fingerprint, qi, s.timestamp(i)));
            break;
        }
        qi += 1;
        cursor = i64::MIN;
    }
    let mut out = vec![("MetricDataResults", Value::Array(results)), ("Messages", Value::Array(Vec::new()))];
    if let Some(t) = next_token {
        out.push(("NextToken", key(&t)));
    }
    Ok(Reply::Cbor(map(out)))
}

/// The account whose metric a query reads: the caller's, or the source
/// account its `AccountId` names when the caller may read it; `None` when
/// it may not.
fn data_account<'a>(call: &'a Call<'_>, q: &'a MetricQuery) -> Option<&'a str> {
    // "AccountId: The ID of the account where the metrics are located. If
    // you are performing a GetMetricData operation in a monitoring
    // account, use this to specify which account to retrieve this metric
    // from." (MetricDataQuery, CloudWatch API Reference). Another
    // account's metric is read as that account would read it, in the same
    // region, when the caller is a monitoring account whose sink there has
    // a link from it sharing metrics. The reference does not say what any
    // other AccountId gives; the simulator answers an empty, Complete
    // result (as for a metric that does not exist), the less convenient
    // reading: nothing tells the client its view is missing an account.
    match q.account_id.as_deref() {
        None => Some(call.caller.account.as_str()),
        Some(a) if a == call.caller.account => Some(a),
        Some(a) if crate::oam::shares(call, a, crate::fleet::OAM_METRIC) => Some(a),
        Some(_) => None,
    }
}

/// Resolves a query to a simulated series and its candidate timestamps;
/// `None` when nothing in the fleet matches (an empty, Complete result).
fn plan<'a>(
    call: &'a Call<'_>,
    q: &MetricQuery,
    start: i64,
    end: i64,
    descending: bool,
    complete_before: i64,
) -> Option<Series<'a>> {
    let account = data_account(call, q)?;
    let s = &q.stat;
    let (tenant, def, share) =
        call.state.fleet.find_metric(account, &call.region, &s.namespace, &s.metric, &s.dimensions)?;
    if s.unit.as_deref().is_some_and(|u| u != def.unit) {
        return None;
    }
    let p = s.period;
    // CloudWatch keeps 1-minute data 15 days, 5-minute 63 days, 1-hour 455
    // days: older timestamps need a coarser period or have nothing.
    let retention = if p % 3600 == 0 {
        455 * DAY
    } else if p % 300 == 0 {
        63 * DAY
    } else {
        15 * DAY
    };
    let ceil = |t: i64| t.div_euclid(p) * p + if t.rem_euclid(p) == 0 { 0 } else { p };
    let first = ceil(start).max(ceil(call.now - retention));
    // The first minute of a datapoint must be complete for it to exist.
    let last_allowed = (end - 1).min(complete_before - 60);
    let last = last_allowed.div_euclid(p) * p;
    if last < first {
        return None;
    }
    Some(Series {
        tenant,
        def,
        share,
        region: &call.region,
        period: p,
        stat: s.stat,
        first,
        count: ((last - first) / p) as usize + 1,
        descending,
        complete_before,
    })
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn tokens_round_trip_only_for_the_same_request() {
        let t = token(42, 3, 1000);
        assert_eq!(parse_token(&t, 42), Some((3, 1000)));
        let t = token(42, 0, i64::MIN);
        assert_eq!(parse_token(&t, 42), Some((0, i64::MIN)));
        assert_eq!(parse_token(&t, 43), None);
        assert_eq!(parse_token("garbage", 42), None);
    }

    #[test]
    fn timestamps_accept_integer_and_float_epoch_seconds() {
        assert_eq!(time(&ts(1_795_000_000), "t"), Ok(1_795_000_000));
        let f = Value::Tag(1, Box::new(Value::Float(1_795_000_000.75)));
        assert_eq!(time(&f, "t"), Ok(1_795_000_000));
        assert!(time(&Value::Integer(5.into()), "t").is_err());
    }
}
