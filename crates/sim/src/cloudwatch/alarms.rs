//! CloudWatch alarms: `DescribeAlarms` and `DescribeAlarmHistory`, on the
//! RPC v2 CBOR shapes (see the parent module).
//!
//! A monitoring account ([`crate::SimOptions::monitoring`]) holds, in each
//! region, a copy of every metric alarm of the silo, EKS and pooled tenants
//! of the accounts linked to its sink there sharing metrics: the same name
//! and state history, written as an alarm on another account's metric,
//! with `Metrics` (one `MetricStat` query carrying the source's
//! `AccountId`) instead of `MetricName`, `Namespace` and `Dimensions`
//! ("If you are performing a PutMetricAlarm operation, use this to specify
//! which account contains the metric that the alarm is watching":
//! MetricDataQuery, AccountId, CloudWatch API Reference). Remote and
//! shared-model tenants keep their alarms in their own accounts only, and
//! no composite or platform alarm is copied.

use ciborium::Value;

use super::{dims_value, get, int, key, list, map, parse_token, text, time, token, ts, validation, DAY};
use crate::fleet::{metric_defs, AlarmDef, MetricDef, Model, SimTenant, OAM_METRIC};
use crate::series::{aggregate, hash_str, mix, sample, Stat};
use crate::server::{ApiError, Call, Reply};

/// One alarm of an account-region and every state change it went through,
/// oldest first (the last one is its current state).
struct Alarm<'a> {
    name: String,
    kind: Kind<'a>,
    /// Worked out when first asked ([`Alarm::changes`]): a page of
    /// DescribeAlarms evaluates its own alarms only, where evaluating every
    /// alarm of a monitoring account (thousands) for each of its pages
    /// made the simulator, not the client, the slow side of a large fleet.
    changes: std::cell::OnceCell<Vec<Change>>,
}

enum Kind<'a> {
    /// A catalog metric's alarm on one tenant's dimensions.
    Metric { tenant: &'a SimTenant, def: &'static MetricDef, alarm: &'static AlarmDef },
    /// In a monitoring account: a catalog metric's alarm on one tenant's
    /// dimensions in the tenant's (linked) account.
    Linked { tenant: &'a SimTenant, def: &'static MetricDef, alarm: &'static AlarmDef },
    /// An alarm on the shared platform (its database), naming no tenant.
    Platform,
    /// A composite alarm over an own-account tenant's metric alarms (its
    /// children: their names and what they watch).
    Composite { tenant: &'a SimTenant, rule: String, children: Vec<(String, &'static MetricDef, &'static AlarmDef)> },
}

/// One state change: when, into which state, and CloudWatch's reason.
#[derive(Clone)]
struct Change {
    at: i64,
    state: &'static str,
    reason: String,
    reason_data: String,
}

/// The shared platform database's alarm (with [`crate::SimOptions::realistic`]).
pub(crate) const PLATFORM_ALARM: &str = "platform-shared-db-cpu-critical";
/// The platform database's cluster, the alarm's only dimension.
const PLATFORM_DB: &str = "platform-shared-db";

impl<'a> Alarm<'a> {
    fn new(name: String, kind: Kind<'a>) -> Alarm<'a> {
        Alarm { name, kind, changes: std::cell::OnceCell::new() }
    }

    fn changes(&self, call: &Call<'_>) -> &[Change] {
        self.changes.get_or_init(|| match &self.kind {
            Kind::Metric { tenant, def, alarm } | Kind::Linked { tenant, def, alarm } => {
                timeline(call, tenant, def, alarm)
            }
            Kind::Platform => platform_timeline(call),
            Kind::Composite { tenant, children, .. } => {
                let children: Vec<(String, Vec<Change>)> = children
                    .iter()
                    .map(|(name, def, alarm)| (name.clone(), timeline(call, tenant, def, alarm)))
                    .collect();
                composite_timeline(call, &children)
            }
        })
    }

    fn current(&self, call: &Call<'_>) -> &Change {
        self.changes(call).last().expect("every alarm has a state")
    }

    fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Composite { .. } => "CompositeAlarm",
            _ => "MetricAlarm",
        }
    }
}

/// The alarms of one account-region with their history, by name.
fn alarms<'a>(call: &'a Call<'_>) -> Vec<Alarm<'a>> {
    let fleet = &call.state.fleet;
    let mut out = Vec::new();
    for tenant in fleet.tenants_in(&call.caller.account, &call.region) {
        let mut children = Vec::new();
        for def in metric_defs(tenant.model) {
            let Some(alarm) = &def.alarm else { continue };
            let name = format!("{}-{}", tenant.id, alarm.suffix);
            children.push((name.clone(), def, alarm));
            out.push(Alarm::new(name, Kind::Metric { tenant, def, alarm }));
        }
        // A composite over globex's alarms: a service-health rollup, as
        // teams build to page once for several symptoms.
        if fleet.options.realistic && tenant.id == "globex" && tenant.model.owns_account() && !children.is_empty() {
            let rule = children.iter().map(|(n, ..)| format!("ALARM(\"{n}\")")).collect::<Vec<_>>().join(" OR ");
            let name = format!("{}-service-health", tenant.id);
            out.push(Alarm::new(name, Kind::Composite { tenant, rule, children }));
        }
    }
    if fleet.options.realistic
        && call.caller.account == fleet.shared_account
        && fleet.tenants_in(&call.caller.account, &call.region).next().is_some()
    {
        out.push(Alarm::new(PLATFORM_ALARM.to_string(), Kind::Platform));
    }
    if fleet.is_monitoring(&call.caller.account) {
        let links = crate::oam::attached_links(fleet, &call.state.knobs(), &call.region);
        for link in links.iter().filter(|l| l.resource_types.contains(&OAM_METRIC)) {
            let copied = fleet
                .tenants_in(link.source, &call.region)
                .filter(|t| matches!(t.model, Model::Silo | Model::Eks | Model::Pooled));
            for tenant in copied {
                for def in metric_defs(tenant.model) {
                    let Some(alarm) = &def.alarm else { continue };
                    // The same series as the source account's alarm
                    // watches, so the same state changes at the same times.
                    let name = format!("{}-{}", tenant.id, alarm.suffix);
                    out.push(Alarm::new(name, Kind::Linked { tenant, def, alarm }));
                }
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The last complete minute at the simulator's clock.
fn last_minute(call: &Call<'_>) -> i64 {
    call.now - call.now.rem_euclid(60) - 60
}

/// A metric alarm's state changes, evaluated like CloudWatch does (3 of 3
/// one-minute datapoints above the threshold, missing data not breaching):
/// a healthy past (into ALARM and back to OK days ago), then every change
/// the series makes during the injected incidents touching the tenant up
/// to the simulator's clock, so an alarm that fired and cleared between
/// two reads shows both changes.
fn timeline(call: &Call<'_>, tenant: &SimTenant, def: &'static MetricDef, alarm: &AlarmDef) -> Vec<Change> {
    let fleet = &call.state.fleet;
    let stat = Stat::parse(alarm.stat).unwrap_or(Stat::Sum);
    let value = |m: i64| sample(fleet, tenant, &call.region, def.kind, m).and_then(|s| aggregate(&[s], stat));
    let last = last_minute(call);
    // Healthy: it went back to OK some days ago, before any incident.
    let ago = 4 * DAY + (mix(&[fleet.options.seed, tenant.key, hash_str(alarm.suffix)]) % (10 * DAY as u64)) as i64;
    // Placed from the fleet's `now`, not the clock's, so it is the same
    // change whenever it is read.
    let ok_minute = (fleet.options.now - ago).div_euclid(60) * 60;
    let ok_at = ok_minute + (mix(&[tenant.key, 0xb2]) % 50) as i64;
    let points =
        |m: i64| -> Vec<(i64, f64)> { [m, m - 60, m - 120].iter().map(|x| (*x, value(*x).unwrap_or(0.0))).collect() };
    let mut changes = vec![
        Change {
            at: ok_at - DAY,
            state: "ALARM",
            reason: into_alarm_reason(alarm, &points(ok_minute - DAY - 60)),
            reason_data: reason_data(alarm, &points(ok_minute - DAY - 60), ok_at - DAY),
        },
        Change {
            at: ok_at,
            state: "OK",
            reason: into_ok_reason(alarm, &points(ok_minute - 60)),
            reason_data: reason_data(alarm, &points(ok_minute - 60), ok_at),
        },
    ];
    let mut spans = fleet.incident_spans(tenant, &call.region);
    // Anything else breaching now is found by walking back, up to 6 hours.
    spans.push((last - 6 * 3600, last));
    let mut minutes: Vec<i64> = Vec::new();
    for (start, end) in spans {
        let from = (start - 180).max(ok_minute + 60).max(last - 14 * DAY);
        let to = end.saturating_add(180).min(last);
        let mut m = from - from.rem_euclid(60);
        while m <= to {
            minutes.push(m);
            m += 60;
        }
    }
    minutes.sort_unstable();
    minutes.dedup();
    let mut breaching: std::collections::HashMap<i64, bool> = std::collections::HashMap::new();
    let mut breach = |m: i64| *breaching.entry(m).or_insert_with(|| value(m).is_some_and(|v| v > alarm.threshold));
    let mut in_alarm = false;
    for m in minutes {
        let now_alarm = breach(m) && breach(m - 60) && breach(m - 120);
        if now_alarm == in_alarm {
            continue;
        }
        in_alarm = now_alarm;
        let at = m + 60 + (mix(&[tenant.key, 0xa1, m as u64]) % 40) as i64;
        let p = points(m);
        let (state, reason) =
            if now_alarm { ("ALARM", into_alarm_reason(alarm, &p)) } else { ("OK", into_ok_reason(alarm, &p)) };
        changes.push(Change { at, state, reason, reason_data: reason_data(alarm, &p, at) });
    }
    changes
}

fn into_alarm_reason(alarm: &AlarmDef, points: &[(i64, f64)]) -> String {
    format!(
        "Threshold Crossed: 3 out of the last 3 datapoints [{}] were greater than the threshold ({}) (minimum 3 datapoints for OK -> ALARM transition).",
        datapoints(points),
        java_double(alarm.threshold)
    )
}

fn into_ok_reason(alarm: &AlarmDef, points: &[(i64, f64)]) -> String {
    format!(
        "Threshold Crossed: 3 datapoints [{}] were not greater than the threshold ({}) (minimum 1 datapoint for ALARM -> OK transition).",
        datapoints(points),
        java_double(alarm.threshold)
    )
}

/// A composite alarm `ALARM(a) OR ALARM(b)`: in ALARM while any child is,
/// changing state just after the child that moves it (a composite alarm is
/// evaluated when one of the alarms in its rule changes state: CloudWatch
/// User Guide, "Create a composite alarm").
fn composite_timeline(call: &Call<'_>, children: &[(String, Vec<Change>)]) -> Vec<Change> {
    let mut events: Vec<(i64, usize, bool)> = Vec::new();
    for (i, (_, changes)) in children.iter().enumerate() {
        events.extend(changes.iter().map(|c| (c.at, i, c.state == "ALARM")));
    }
    events.sort_unstable();
    let mut state = vec![false; children.len()];
    let mut out: Vec<Change> = Vec::new();
    let mut in_alarm: Option<bool> = None;
    for (at, i, alarm) in events {
        state[i] = alarm;
        let now_alarm = state.iter().any(|s| *s);
        if in_alarm == Some(now_alarm) {
            continue;
        }
        in_alarm = Some(now_alarm);
        let at = (at + 1).min(call.now);
        let child = &children[i].0;
        let arn = format!("arn:aws:cloudwatch:{}:{}:alarm:{child}", call.region, call.caller.account);
        let (state, verb) = if now_alarm { ("ALARM", "ALARM") } else { ("OK", "OK") };
        out.push(Change {
            at,
            state,
            reason: format!("{arn} transitioned to {verb} at {}", iso(at)),
            reason_data: serde_json::json!({
                "triggeringAlarms": [{ "arn": arn, "state": { "value": verb, "timestamp": iso(at) } }]
            })
            .to_string(),
        });
    }
    out
}

/// The platform database's CPU alarm: in ALARM from 30 minutes before the
/// demo's `now` (the shared database saturated for everyone on it).
fn platform_timeline(call: &Call<'_>) -> Vec<Change> {
    let fleet = &call.state.fleet;
    let minute_now = fleet.options.now - fleet.options.now.rem_euclid(60);
    let mut out = vec![Change {
        at: minute_now - 20 * DAY,
        state: "OK",
        reason: "Threshold Crossed: 3 datapoints [41.2 (..)] were not greater than the threshold (90.0) (minimum 1 datapoint for ALARM -> OK transition).".into(),
        reason_data: "{}".into(),
    }];
    let fired = minute_now - 30 * 60 + 17;
    if fired <= call.now {
        out.push(Change {
            at: fired,
            state: "ALARM",
            reason: "Threshold Crossed: 3 out of the last 3 datapoints [97.4, 96.8, 95.1] were greater than the threshold (90.0) (minimum 3 datapoints for OK -> ALARM transition).".into(),
            reason_data: "{}".into(),
        });
    }
    out
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

/// CloudWatch keeps alarm history for 30 days ("Alarm history is
/// available for 30 days", CloudWatch User Guide, "Viewing alarm history").
const HISTORY_KEPT: i64 = 30 * DAY;

/// The `AlarmTypes` a request asks for. As both DescribeAlarms and
/// DescribeAlarmHistory document it (API Reference, request parameters):
/// "If you omit this parameter, only metric alarms are returned."
fn alarm_types(input: &Value) -> Result<(bool, bool), ApiError> {
    let types: Option<Vec<String>> = get(input, "AlarmTypes")
        .map(|v| {
            list(v, "AlarmTypes")?
                .iter()
                .map(|n| text(n, "AlarmTypes").map(str::to_string))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    if let Some(bad) = types.iter().flatten().find(|t| *t != "MetricAlarm" && *t != "CompositeAlarm") {
        return Err(validation(format!(
            "1 validation error detected: Value '[{bad}]' at 'alarmTypes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [CompositeAlarm, MetricAlarm]]"
        )));
    }
    let want_metric = types.as_ref().is_none_or(|t| t.iter().any(|x| x == "MetricAlarm"));
    let want_composite = types.as_ref().is_some_and(|t| t.iter().any(|x| x == "CompositeAlarm"));
    Ok((want_metric, want_composite))
}

/// Where a page starts: 0, or the offset in a `NextToken` this request's
/// `fingerprint` issued (another request's token is refused, as AWS does).
fn page_offset(input: &Value, fingerprint: u64) -> Result<usize, ApiError> {
    match get(input, "NextToken").map(|v| text(v, "NextToken")).transpose()? {
        None => Ok(0),
        Some(t) => parse_token(t, fingerprint)
            .map(|(o, _)| o)
            .ok_or_else(|| ApiError::new(400, "InvalidNextToken", "The service couldn't process the NextToken.")),
    }
}

fn max_records(input: &Value, default: usize) -> Result<usize, ApiError> {
    match get(input, "MaxRecords").map(|v| int(v, "MaxRecords")).transpose()? {
        None => Ok(default),
        Some(n) if (1..=100).contains(&n) => Ok(n as usize),
        Some(n) => Err(validation(format!(
            "1 validation error detected: Value '{n}' at 'maxRecords' failed to satisfy constraint: Member must have value between 1 and 100"
        ))),
    }
}

/// DescribeAlarmHistory as the API Reference documents it: one alarm's
/// history, or without `AlarmName` the history of every alarm of the
/// account-region of the types `AlarmTypes` asks for (metric alarms only
/// when omitted); filtered by `HistoryItemType`, `StartDate` and `EndDate`;
/// newest first unless `ScanBy` is `TimestampAscending`; at most
/// `MaxRecords` (1-100) items a page with a `NextToken` for the rest. Only
/// state updates are emulated (no configuration or action items).
pub(super) fn describe_alarm_history(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    let name = get(input, "AlarmName").map(|v| text(v, "AlarmName")).transpose()?;
    let (want_metric, want_composite) = alarm_types(input)?;
    let kind = get(input, "HistoryItemType").map(|v| text(v, "HistoryItemType")).transpose()?;
    if let Some(k) = kind {
        if !["ConfigurationUpdate", "StateUpdate", "Action", "AlarmContributorStateUpdate", "AlarmContributorAction"]
            .contains(&k)
        {
            return Err(validation(format!(
                "1 validation error detected: Value '{k}' at 'historyItemType' failed to satisfy constraint: Member must satisfy enum value set: [ConfigurationUpdate, StateUpdate, Action, AlarmContributorStateUpdate, AlarmContributorAction]"
            )));
        }
    }
    let start = get(input, "StartDate").map(|v| time(v, "StartDate")).transpose()?.unwrap_or(i64::MIN);
    let end = get(input, "EndDate").map(|v| time(v, "EndDate")).transpose()?.unwrap_or(i64::MAX);
    let ascending = match get(input, "ScanBy").map(|v| text(v, "ScanBy")).transpose()? {
        None | Some("TimestampDescending") => false,
        Some("TimestampAscending") => true,
        Some(other) => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'scanBy' failed to satisfy constraint: Member must satisfy enum value set: [TimestampDescending, TimestampAscending]"
            )))
        }
    };
    let max = max_records(input, 100)?;
    let fingerprint = hash_str(&format!(
        "history|{name:?}|{want_metric}|{want_composite}|{kind:?}|{start}|{end}|{ascending}|{max}|{}|{}",
        call.caller.account, call.region
    ));
    let offset = page_offset(input, fingerprint)?;
    let kept_from = call.now - HISTORY_KEPT;
    let mut items: Vec<(i64, String, Value)> = Vec::new();
    if kind.is_none_or(|k| k == "StateUpdate") {
        for a in alarms(call).into_iter().filter(|a| name.is_none_or(|n| n == a.name)) {
            let is_composite = matches!(a.kind, Kind::Composite { .. });
            // Named, an alarm's history is returned whatever its type.
            // Unnamed, "the histories for either all metric alarms or all
            // composite alarms are returned" (API Reference): one type a
            // call, the less convenient reading. Metric alarms unless
            // `AlarmTypes` asks for composite alarms only.
            let composite_only = want_composite && !want_metric;
            if name.is_none() && is_composite != composite_only {
                continue;
            }
            let mut previous: Option<&str> = None;
            for c in a.changes(call) {
                let from = previous.unwrap_or("INSUFFICIENT_DATA");
                previous = Some(c.state);
                if c.at < start || c.at > end || c.at < kept_from || c.at > call.now {
                    continue;
                }
                let data = serde_json::json!({
                    "version": "1.0",
                    "oldState": { "stateValue": from },
                    "newState": { "stateValue": c.state, "stateReason": c.reason },
                })
                .to_string();
                items.push((
                    c.at,
                    a.name.clone(),
                    map(vec![
                        ("AlarmName", key(&a.name)),
                        ("AlarmType", key(a.kind_name())),
                        ("Timestamp", ts(c.at)),
                        ("HistoryItemType", key("StateUpdate")),
                        ("HistorySummary", key(&format!("Alarm updated from {from} to {}", c.state))),
                        ("HistoryData", key(&data)),
                    ]),
                ));
            }
        }
    }
    items.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    if !ascending {
        items.reverse();
    }
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(max).map(|(_, _, v)| v).collect();
    let mut out = vec![("AlarmHistoryItems", Value::Array(page))];
    let next = offset.saturating_add(max);
    if next < total {
        out.push(("NextToken", key(&token(fingerprint, next, 0))));
    }
    Ok(Reply::Cbor(map(out)))
}

/// How a tenant's alarm judges its metric: 3 of 3 minutes above the
/// threshold, missing data not breaching.
fn evaluation(threshold: f64) -> [(&'static str, Value); 5] {
    [
        ("EvaluationPeriods", Value::Integer(3.into())),
        ("DatapointsToAlarm", Value::Integer(3.into())),
        ("Threshold", Value::Float(threshold)),
        ("ComparisonOperator", key("GreaterThanThreshold")),
        ("TreatMissingData", key("notBreaching")),
    ]
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
    let (want_metric, want_composite) = alarm_types(input)?;
    let state = get(input, "StateValue").map(|v| text(v, "StateValue")).transpose()?;
    if let Some(s) = state {
        if !["OK", "ALARM", "INSUFFICIENT_DATA"].contains(&s) {
            return Err(validation(format!(
                "1 validation error detected: Value '{s}' at 'stateValue' failed to satisfy constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]"
            )));
        }
    }
    let action_prefix = get(input, "ActionPrefix").map(|v| text(v, "ActionPrefix")).transpose()?;
    let max = max_records(input, 50)?;
    let fingerprint = hash_str(&format!(
        "{names:?}|{prefix:?}|{want_metric}|{want_composite}|{state:?}|{action_prefix:?}|{max}|{}|{}",
        call.caller.account, call.region
    ));
    let offset = page_offset(input, fingerprint)?;

    let sns = |a: &Alarm<'_>| match &a.kind {
        Kind::Metric { tenant, .. } | Kind::Composite { tenant, .. } => {
            format!("arn:aws:sns:{}:{}:{}-oncall", call.region, tenant.account, tenant.id)
        }
        // The monitoring account's own topic for the tenant.
        Kind::Linked { tenant, .. } => {
            format!("arn:aws:sns:{}:{}:{}-oncall", call.region, call.caller.account, tenant.id)
        }
        Kind::Platform => format!("arn:aws:sns:{}:{}:platform-oncall", call.region, call.caller.account),
    };
    let matching: Vec<Alarm<'_>> = alarms(call)
        .into_iter()
        .filter(|a| if matches!(a.kind, Kind::Composite { .. }) { want_composite } else { want_metric })
        .filter(|a| names.as_ref().is_none_or(|n| n.contains(&a.name)))
        .filter(|a| prefix.is_none_or(|p| a.name.starts_with(p)))
        .filter(|a| state.is_none_or(|s| a.current(call).state == s))
        .filter(|a| action_prefix.is_none_or(|p| sns(a).starts_with(p)))
        .collect();
    let mut metric_page = Vec::new();
    let mut composite_page = Vec::new();
    for a in matching.iter().skip(offset).take(max) {
        let arn = format!("arn:aws:cloudwatch:{}:{}:alarm:{}", call.region, call.caller.account, a.name);
        let now = a.current(call);
        let configured = now.at.min(call.state.fleet.options.now - 30 * DAY);
        let description = match &a.kind {
            Kind::Metric { tenant, alarm, .. } | Kind::Linked { tenant, alarm, .. } => {
                format!("{} above {} for {} in {}", alarm.label, java_double(alarm.threshold), tenant.name, call.region)
            }
            Kind::Platform => format!("Shared database CPU above 90.0 in {}", call.region),
            Kind::Composite { tenant, .. } => format!("Service health of {} in {}", tenant.name, call.region),
        };
        let mut fields = vec![
            ("AlarmName", key(&a.name)),
            ("AlarmArn", key(&arn)),
            ("AlarmDescription", key(&description)),
            ("AlarmConfigurationUpdatedTimestamp", ts(configured)),
            ("ActionsEnabled", Value::Bool(true)),
            ("OKActions", Value::Array(vec![key(&sns(a))])),
            ("AlarmActions", Value::Array(vec![key(&sns(a))])),
            ("InsufficientDataActions", Value::Array(Vec::new())),
            ("StateValue", key(now.state)),
            ("StateReason", key(&now.reason)),
            ("StateReasonData", key(&now.reason_data)),
            ("StateUpdatedTimestamp", ts(now.at)),
            ("StateTransitionedTimestamp", ts(now.at)),
        ];
        match &a.kind {
            Kind::Metric { tenant, def, alarm } => {
                fields.extend([("MetricName", key(def.name)), ("Namespace", key(def.namespace))]);
                if alarm.stat.starts_with('p') {
                    fields.push(("ExtendedStatistic", key(alarm.stat)));
                } else {
                    fields.push(("Statistic", key(alarm.stat)));
                }
                fields.extend([("Dimensions", dims_value(&tenant.dimensions)), ("Period", Value::Integer(60.into()))]);
                fields.extend(evaluation(alarm.threshold));
                metric_page.push(map(fields));
            }
            Kind::Linked { tenant, def, alarm } => {
                // An alarm on another account's metric: the metric as a
                // MetricStat query with its AccountId, period and
                // statistic inside (MetricDataQuery and MetricAlarm, API
                // Reference: "Metrics: An array of MetricDataQuery
                // structures, used in an alarm based on a metric math
                // expression"; the top-level metric members are absent).
                let metric = map(vec![
                    ("Namespace", key(def.namespace)),
                    ("MetricName", key(def.name)),
                    ("Dimensions", dims_value(&tenant.dimensions)),
                ]);
                let stat =
                    map(vec![("Metric", metric), ("Period", Value::Integer(60.into())), ("Stat", key(alarm.stat))]);
                let query = map(vec![
                    ("Id", key("m1")),
                    ("MetricStat", stat),
                    ("ReturnData", Value::Bool(true)),
                    ("AccountId", key(&tenant.account)),
                ]);
                fields.push(("Metrics", Value::Array(vec![query])));
                fields.extend(evaluation(alarm.threshold));
                metric_page.push(map(fields));
            }
            Kind::Platform => {
                fields.extend([
                    ("MetricName", key("CPUUtilization")),
                    ("Namespace", key("AWS/RDS")),
                    ("Statistic", key("Average")),
                    ("Dimensions", dims_value(&[("DBClusterIdentifier".to_string(), PLATFORM_DB.to_string())])),
                    ("Period", Value::Integer(60.into())),
                    ("EvaluationPeriods", Value::Integer(3.into())),
                    ("DatapointsToAlarm", Value::Integer(3.into())),
                    ("Threshold", Value::Float(90.0)),
                    ("ComparisonOperator", key("GreaterThanThreshold")),
                    ("TreatMissingData", key("missing")),
                ]);
                metric_page.push(map(fields));
            }
            Kind::Composite { rule, .. } => {
                fields.push(("AlarmRule", key(rule)));
                composite_page.push(map(fields));
            }
        }
    }
    let mut out = Vec::new();
    if want_composite {
        out.push(("CompositeAlarms", Value::Array(composite_page)));
    }
    out.push(("MetricAlarms", Value::Array(metric_page)));
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
