//! CloudWatch alarms: `DescribeAlarms` and `DescribeAlarmHistory`, on the
//! RPC v2 CBOR shapes (see the parent module).

use ciborium::Value;

use super::{dims_value, get, int, key, list, map, parse_token, text, time, token, ts, validation, DAY};
use crate::fleet::{metric_defs, AlarmDef, MetricDef, SimTenant};
use crate::series::{aggregate, hash_str, mix, sample, Stat};
use crate::server::{ApiError, Call, Reply};

struct Alarm<'a> {
    name: String,
    tenant: &'a SimTenant,
    def: &'static MetricDef,
    alarm: &'static AlarmDef,
    state: &'static str,
    reason: String,
    reason_data: String,
    updated: i64,
}

/// The alarms of one account-region with their current state, by name.
fn alarms<'a>(call: &'a Call<'_>) -> Vec<Alarm<'a>> {
    let fleet = &call.state.fleet;
    let mut out = Vec::new();
    for tenant in fleet.tenants_in(&call.caller.account, &call.region) {
        for def in metric_defs(tenant.model) {
            let Some(alarm) = &def.alarm else { continue };
            let (state, reason, reason_data, updated) = evaluate(call, tenant, def, alarm);
            out.push(Alarm {
                name: format!("{}-{}", tenant.id, alarm.suffix),
                tenant,
                def,
                alarm,
                state,
                reason,
                reason_data,
                updated,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Evaluates an alarm like CloudWatch does (3 of 3 one-minute datapoints
/// above the threshold, missing data not breaching) and reconstructs when
/// and why it last changed state.
fn evaluate(
    call: &Call<'_>,
    tenant: &SimTenant,
    def: &'static MetricDef,
    alarm: &AlarmDef,
) -> (&'static str, String, String, i64) {
    let fleet = &call.state.fleet;
    let stat = Stat::parse(alarm.stat).unwrap_or(Stat::Sum);
    let value = |m: i64| sample(fleet, tenant, &call.region, def.kind, m).and_then(|s| aggregate(&[s], stat));
    let breaching = |m: i64| value(m).is_some_and(|v| v > alarm.threshold);
    let last = call.now - call.now.rem_euclid(60) - 60;
    let window = |m: i64| [m, m - 60, m - 120];
    if window(last).iter().all(|m| breaching(*m)) {
        // Walk back to the first minute that completed a 3-of-3 breach.
        let mut m = last;
        let floor = last - 6 * 3600;
        while m > floor && window(m - 60).iter().all(|x| breaching(*x)) {
            m -= 60;
        }
        let at = m + 60 + (mix(&[tenant.key, 0xa1]) % 40) as i64;
        let points: Vec<(i64, f64)> = window(m).iter().map(|x| (*x, value(*x).unwrap_or(0.0))).collect();
        let reason = format!(
            "Threshold Crossed: 3 out of the last 3 datapoints [{}] were greater than the threshold ({}) (minimum 3 datapoints for OK -> ALARM transition).",
            datapoints(&points),
            java_double(alarm.threshold)
        );
        ("ALARM", reason, reason_data(alarm, &points, at), at)
    } else {
        // Healthy: it went back to OK some days ago.
        let ago = 86_400 + (mix(&[fleet.options.seed, tenant.key, hash_str(alarm.suffix)]) % (13 * 86_400)) as i64;
        let at_minute = (fleet.options.now.min(call.now) - ago).div_euclid(60) * 60;
        let points: Vec<(i64, f64)> =
            [at_minute - 60, at_minute - 120, at_minute - 180].iter().map(|x| (*x, value(*x).unwrap_or(0.0))).collect();
        let at = at_minute + (mix(&[tenant.key, 0xb2]) % 50) as i64;
        let reason = format!(
            "Threshold Crossed: 3 datapoints [{}] were not greater than the threshold ({}) (minimum 1 datapoint for ALARM -> OK transition).",
            datapoints(&points),
            java_double(alarm.threshold)
        );
        ("OK", reason, reason_data(alarm, &points, at), at)
    }
}

/// CloudWatch prints doubles the way Java does: `50.0`, `0.3137`.
fn java_double(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').to_string()
    }
}

fn datapoints(points: &[(i64, f64)]) -> String {
    points
        .iter()
        .map(|(t, v)| {
            let when = chrono::DateTime::from_timestamp(*t, 0)
                .map(|d| d.format("%d/%m/%y %H:%M:%S").to_string())
                .unwrap_or_default();
            format!("{} ({when})", java_double(*v))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string())
        .unwrap_or_default()
}

fn reason_data(alarm: &AlarmDef, points: &[(i64, f64)], at: i64) -> String {
    let stat_key = if alarm.stat.starts_with('p') { "extendedStatistic" } else { "statistic" };
    let start = points.iter().map(|(t, _)| *t).min().unwrap_or(at);
    serde_json::json!({
        "version": "1.0",
        "queryDate": iso(at),
        "startDate": iso(start),
        stat_key: alarm.stat,
        "period": 60,
        "recentDatapoints": points.iter().rev().map(|(_, v)| *v).collect::<Vec<_>>(),
        "threshold": alarm.threshold,
        "evaluatedDatapoints": points.iter().map(|(t, v)| serde_json::json!({
            "timestamp": iso(*t), "sampleCount": 1.0, "value": v
        })).collect::<Vec<_>>(),
    })
    .to_string()
}

/// State transitions of one alarm (or of every alarm of the account-region),
/// newest first: the last change `evaluate` reconstructs, and the change
/// before it, which CloudWatch would also have recorded.
pub(super) fn describe_alarm_history(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    let name = get(input, "AlarmName").map(|v| text(v, "AlarmName")).transpose()?;
    let kind = get(input, "HistoryItemType").map(|v| text(v, "HistoryItemType")).transpose()?;
    let start = get(input, "StartDate").map(|v| time(v, "StartDate")).transpose()?.unwrap_or(i64::MIN);
    let end = get(input, "EndDate").map(|v| time(v, "EndDate")).transpose()?.unwrap_or(i64::MAX);
    let max = match get(input, "MaxRecords").map(|v| int(v, "MaxRecords")).transpose()? {
        None => 100,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(n) => return Err(validation(format!("MaxRecords {n} must be between 1 and 100"))),
    };
    let mut items: Vec<(i64, Value)> = Vec::new();
    if kind.is_none_or(|k| k == "StateUpdate") {
        for a in alarms(call).into_iter().filter(|a| name.is_none_or(|n| n == a.name)) {
            let (from, to) = if a.state == "ALARM" { ("OK", "ALARM") } else { ("ALARM", "OK") };
            // The transition before the current one, a day earlier.
            let earlier = a.updated - DAY;
            for (at, from, to) in [(a.updated, from, to), (earlier, to, from)] {
                if at < start || at > end {
                    continue;
                }
                let data = format!(
                    "{{\"version\":\"1.0\",\"oldState\":{{\"stateValue\":\"{from}\"}},\"newState\":{{\"stateValue\":\"{to}\"}}}}"
                );
                items.push((
                    at,
                    map(vec![
                        ("AlarmName", key(&a.name)),
                        ("AlarmType", key("MetricAlarm")),
                        ("Timestamp", ts(at)),
                        ("HistoryItemType", key("StateUpdate")),
                        ("HistorySummary", key(&format!("Alarm updated from {from} to {to}"))),
                        ("HistoryData", key(&data)),
                    ]),
                ));
            }
        }
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.0));
    let page: Vec<Value> = items.into_iter().take(max).map(|(_, v)| v).collect();
    Ok(Reply::Cbor(map(vec![("AlarmHistoryItems", Value::Array(page))])))
}

pub(super) fn describe_alarms(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    let names: Option<Vec<String>> = get(input, "AlarmNames")
        .map(|v| {
            list(v, "AlarmNames")?
                .iter()
                .map(|n| text(n, "AlarmNames").map(str::to_string))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    if names.as_ref().is_some_and(|n| n.len() > 100) {
        return Err(validation("1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: Member must have length less than or equal to 100"));
    }
    let prefix = get(input, "AlarmNamePrefix").map(|v| text(v, "AlarmNamePrefix")).transpose()?;
    if names.is_some() && prefix.is_some() {
        return Err(ApiError::new(
            400,
            "InvalidParameterCombination",
            "AlarmNames and AlarmNamePrefix cannot be used together.",
        ));
    }
    let types: Option<Vec<String>> = get(input, "AlarmTypes")
        .map(|v| {
            list(v, "AlarmTypes")?
                .iter()
                .map(|n| text(n, "AlarmTypes").map(str::to_string))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let want_metric = types.as_ref().is_none_or(|t| t.iter().any(|x| x == "MetricAlarm"));
    let want_composite = types.as_ref().is_some_and(|t| t.iter().any(|x| x == "CompositeAlarm"));
    let state = get(input, "StateValue").map(|v| text(v, "StateValue")).transpose()?;
    if let Some(s) = state {
        if !["OK", "ALARM", "INSUFFICIENT_DATA"].contains(&s) {
            return Err(validation(format!(
                "1 validation error detected: Value '{s}' at 'stateValue' failed to satisfy constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]"
            )));
        }
    }
    let action_prefix = get(input, "ActionPrefix").map(|v| text(v, "ActionPrefix")).transpose()?;
    let max = match get(input, "MaxRecords").map(|v| int(v, "MaxRecords")).transpose()? {
        None => 50,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(n) => {
            return Err(validation(format!(
                "1 validation error detected: Value '{n}' at 'maxRecords' failed to satisfy constraint: Member must have value between 1 and 100"
            )))
        }
    };
    let fingerprint = hash_str(&format!(
        "{names:?}|{prefix:?}|{types:?}|{state:?}|{action_prefix:?}|{max}|{}|{}",
        call.caller.account, call.region
    ));
    let offset = match get(input, "NextToken").map(|v| text(v, "NextToken")).transpose()? {
        None => 0,
        Some(t) => parse_token(t, fingerprint)
            .map(|(o, _)| o)
            .ok_or_else(|| ApiError::new(400, "InvalidNextToken", "The service couldn't process the NextToken."))?,
    };

    let sns = |tenant: &SimTenant| format!("arn:aws:sns:{}:{}:{}-oncall", call.region, tenant.account, tenant.id);
    let matching: Vec<Alarm<'_>> = if want_metric {
        alarms(call)
            .into_iter()
            .filter(|a| names.as_ref().is_none_or(|n| n.contains(&a.name)))
            .filter(|a| prefix.is_none_or(|p| a.name.starts_with(p)))
            .filter(|a| state.is_none_or(|s| a.state == s))
            .filter(|a| action_prefix.is_none_or(|p| sns(a.tenant).starts_with(p)))
            .collect()
    } else {
        Vec::new()
    };
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(max)
        .map(|a| {
            let t = a.tenant;
            let arn = format!("arn:aws:cloudwatch:{}:{}:alarm:{}", call.region, t.account, a.name);
            let configured = a.updated.min(call.state.fleet.options.now - 30 * DAY);
            let mut fields = vec![
                ("AlarmName", key(&a.name)),
                ("AlarmArn", key(&arn)),
                (
                    "AlarmDescription",
                    key(&format!(
                        "{} above {} for {} in {}",
                        a.alarm.label,
                        java_double(a.alarm.threshold),
                        t.name,
                        call.region
                    )),
                ),
                ("AlarmConfigurationUpdatedTimestamp", ts(configured)),
                ("ActionsEnabled", Value::Bool(true)),
                ("OKActions", Value::Array(vec![key(&sns(t))])),
                ("AlarmActions", Value::Array(vec![key(&sns(t))])),
                ("InsufficientDataActions", Value::Array(Vec::new())),
                ("StateValue", key(a.state)),
                ("StateReason", key(&a.reason)),
                ("StateReasonData", key(&a.reason_data)),
                ("StateUpdatedTimestamp", ts(a.updated)),
                ("StateTransitionedTimestamp", ts(a.updated)),
                ("MetricName", key(a.def.name)),
                ("Namespace", key(a.def.namespace)),
            ];
            if a.alarm.stat.starts_with('p') {
                fields.push(("ExtendedStatistic", key(a.alarm.stat)));
            } else {
                fields.push(("Statistic", key(a.alarm.stat)));
            }
            fields.extend([
                ("Dimensions", dims_value(&t.dimensions)),
                ("Period", Value::Integer(60.into())),
                ("EvaluationPeriods", Value::Integer(3.into())),
                ("DatapointsToAlarm", Value::Integer(3.into())),
                ("Threshold", Value::Float(a.alarm.threshold)),
                ("ComparisonOperator", key("GreaterThanThreshold")),
                ("TreatMissingData", key("notBreaching")),
            ]);
            map(fields)
        })
        .collect();
    let mut out = Vec::new();
    if want_composite {
        out.push(("CompositeAlarms", Value::Array(Vec::new())));
    }
    out.push(("MetricAlarms", Value::Array(page)));
    let next = offset.saturating_add(max);
    if next < matching.len() {
        out.push(("NextToken", key(&token(fingerprint, next, 0))));
    }
    Ok(Reply::Cbor(map(out)))
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn doubles_print_like_cloudwatch() {
        assert_eq!(java_double(50.0), "50.0");
        assert_eq!(java_double(2.5), "2.5");
        assert_eq!(java_double(0.3137), "0.3137");
    }
}
