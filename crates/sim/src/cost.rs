//! Cost Explorer over AWS JSON 1.1: `GetCostAndUsage`, answered only to the
//! payer account, as in an AWS Organization.
//!
//! The bill is a set of cost lines (account, service, region, tenant tag)
//! with a daily amount that is a pure function of (seed, line, day). Silo
//! and remote tenants pay in their own linked account, untagged; shared,
//! EKS and pooled tenants carry the `tenant-id` tag in the shared accounts,
//! beside untagged spend no tag can split (NAT, control plane, the pooled
//! cluster). Hooli's EC2 compute runs at 3x for the last three days. A
//! remote tenant outside the organization
//! ([`super::fleet::SimTenant::outside_organization`]) is on no line.
//!
//! Reservations: enterprise tenants and the pooled platform run their EC2,
//! RDS and ElastiCache on reserved capacity, so their amortized cost
//! (`AmortizedCost`, `NetAmortizedCost`) is 8-15 % below the unblended one
//! (`UnblendedCost`, `BlendedCost`, `NetUnblendedCost`); everywhere else
//! the two are equal. Today is partial. The bill of the open month is not
//! final, so every period in it is `Estimated: true`, as are the days of
//! the month before until its invoice closes ([`INVOICE_CLOSES_ON`]); see
//! [`estimated`].

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde_json::{json, Value};

use super::fleet::{Fleet, Model, SimTenant, COST_TAG, JUMP_SERVICE, PAYER_ACCOUNT, REGIONS};
use super::protocol::{access_denied, json_input, unknown_operation, Service};
use super::series::{gauss, hash_str, mix, unit, weekday};
use super::server::{lock, ApiError, Call, Reply};

/// Groups per response page before `NextPageToken`. AWS does not document
/// its page size; this one makes a month of tenant x service groups take a
/// few pages, so the paging path always runs.
const PAGE_GROUPS: usize = 500;
/// Cost Explorer keeps this many months before the current one.
const HISTORY_MONTHS: i32 = 13;

const EC2: &str = "Amazon Elastic Compute Cloud - Compute";
const EC2_OTHER: &str = "EC2 - Other";
const RDS: &str = "Amazon Relational Database Service";
const ELB: &str = "Amazon Elastic Load Balancing";
const S3: &str = "Amazon Simple Storage Service";
const CLOUDWATCH: &str = "AmazonCloudWatch";
const ELASTICACHE: &str = "Amazon ElastiCache";
const DYNAMODB: &str = "Amazon DynamoDB";
const EKS: &str = "Amazon Elastic Kubernetes Service";
const VPC: &str = "Amazon Virtual Private Cloud";

/// Services with their share of a tenant's spend.
type Shares = &'static [(&'static str, f64)];

/// One line of the bill.
struct CostLine<'a> {
    account: &'a str,
    service: &'static str,
    region: &'static str,
    /// The tenant whose `tenant-id` tag the resources carry.
    tag: Option<&'a SimTenant>,
    /// Dollars per day at the reference day.
    base: f64,
    key: u64,
    jump_day: Option<i64>,
    /// Share by which amortized cost is below unblended (reservations).
    amortized_discount: f64,
}

/// Services bought as reservations where a line has them.
const RESERVABLE: [&str; 3] = [EC2, RDS, ELASTICACHE];

/// The amortization discount of a reserved line, from its key.
fn reservation_discount(key: u64) -> f64 {
    0.08 + 0.07 * unit(mix(&[key, 0x5249]))
}

/// The day of the month by which last month's bill is final. Cost
/// Explorer's ResultByTime only says `Estimated` "determines whether the
/// result is estimated" (Billing and Cost Management API Reference); the
/// Cost Explorer user guide calls the current month's costs estimated, and
/// AWS issues the invoice for a month in the first days of the next. The
/// less convenient reading is taken: the whole open month is estimated, and
/// last month too until the 5th.
pub(crate) const INVOICE_CLOSES_ON: u32 = 5;

/// Whether Cost Explorer reports `day` (days since the epoch) as estimated
/// on `today`.
pub(crate) fn estimated(day: i64, today: NaiveDate) -> bool {
    let first_this = today.with_day(1).unwrap_or(today);
    let first_last = (first_this - chrono::Duration::days(1)).with_day(1).unwrap_or(first_this);
    let open_from = if today.day() <= INVOICE_CLOSES_ON { first_last } else { first_this };
    day >= days_since_epoch(open_from)
}

fn days_since_epoch(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - 719_163
}

fn date_of(day: i64) -> Option<NaiveDate> {
    i32::try_from(day + 719_163).ok().and_then(NaiveDate::from_num_days_from_ce_opt)
}

fn fmt_day(day: i64) -> String {
    date_of(day).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

/// The fleet's bill, line by line.
fn cost_lines(fleet: &Fleet) -> Vec<CostLine<'_>> {
    let mut lines = Vec::new();
    for t in fleet.tenants.iter().filter(|t| !t.outside_organization()) {
        let u = |salt: u64| unit(mix(&[t.key, 0xc0, salt]));
        let daily = match t.tier {
            super::Tier::Enterprise => 400.0 + 500.0 * u(1),
            super::Tier::Premium => 120.0 + 180.0 * u(1),
            super::Tier::Standard => 30.0 + 60.0 * u(1),
            super::Tier::Free => 3.0 + 9.0 * u(1),
        };
        // Core services every tenant of the model has, then 0-3 extras.
        let (core, extra): (Shares, Shares) = match t.model {
            Model::Silo | Model::Remote | Model::Shared => (
                &[(EC2, 0.4), (RDS, 0.25), (ELB, 0.06)],
                &[(S3, 0.05), (EC2_OTHER, 0.1), (CLOUDWATCH, 0.04), (ELASTICACHE, 0.08)],
            ),
            Model::Eks => {
                (&[(EC2, 0.55), (EC2_OTHER, 0.15), (ELB, 0.06)], &[(S3, 0.05), (DYNAMODB, 0.08), (CLOUDWATCH, 0.04)])
            }
            Model::Pooled => (&[(S3, 0.4), (DYNAMODB, 0.45), (CLOUDWATCH, 0.15)], &[]),
        };
        let n_extra = if extra.is_empty() { 0 } else { (mix(&[t.key, 0xc1]) % 4) as usize };
        let mut services: Vec<(&'static str, f64)> = core.to_vec();
        services.extend(extra.iter().take(n_extra));
        let total_share: f64 = services.iter().map(|(_, s)| s).sum();
        // Pooled tenants' tagged spend is small: the platform is shared.
        let daily = if t.model == Model::Pooled { daily * 0.15 } else { daily };
        let regions = t.regions();
        let weights: Vec<f64> = regions.iter().map(|r| t.region_factor(r).unwrap_or(0.0)).collect();
        let weight_sum: f64 = weights.iter().sum();
        let reserved = t.tier == super::Tier::Enterprise;
        for (region, w) in regions.iter().zip(&weights) {
            for (service, share) in &services {
                let key = mix(&[t.key, hash_str(service), hash_str(region)]);
                lines.push(CostLine {
                    account: &t.account,
                    service,
                    region,
                    tag: (!t.model.owns_account()).then_some(t),
                    base: daily * share / total_share * w / weight_sum,
                    key,
                    jump_day: if *service == JUMP_SERVICE { fleet.cost_jump_day(t) } else { None },
                    amortized_discount: if reserved && RESERVABLE.contains(service) {
                        reservation_discount(key)
                    } else {
                        0.0
                    },
                });
            }
        }
    }
    // Untagged spend of the shared accounts, per region in use, growing
    // with the number of tenants there.
    const POOLED_PLATFORM: &[(&str, f64)] = &[(EC2, 150.0), (RDS, 110.0), (ELASTICACHE, 30.0), (ELB, 9.0)];
    let shared_untagged: Vec<(&str, &[(&'static str, f64)])> = [
        (fleet.shared_account.as_str(), &[(EC2_OTHER, 25.0), (VPC, 12.0), (CLOUDWATCH, 6.0)][..]),
        (fleet.eks_account.as_str(), &[(EKS, 2.4), (EC2, 60.0), (EC2_OTHER, 15.0)][..]),
    ]
    .into_iter()
    .chain(fleet.pooled_accounts.iter().map(|a| (a.as_str(), POOLED_PLATFORM)))
    .collect();
    for (account, services) in shared_untagged {
        for region in REGIONS {
            let n = fleet.tenants_in(account, region).count();
            if n == 0 {
                continue;
            }
            for (service, base) in services {
                let key = mix(&[hash_str(account), hash_str(service), hash_str(region)]);
                let reserved = fleet.pooled_accounts.iter().any(|a| a == account) && RESERVABLE.contains(service);
                lines.push(CostLine {
                    account,
                    service,
                    region,
                    tag: None,
                    base: base * (0.5 + 0.2 * n as f64),
                    key,
                    jump_day: None,
                    amortized_discount: if reserved { reservation_discount(key) } else { 0.0 },
                });
            }
        }
    }
    for (service, region, base) in
        [("AWS CloudTrail", "us-east-1", 1.5), ("AWS Config", "us-east-1", 3.0), ("AWS Cost Explorer", "global", 0.4)]
    {
        lines.push(CostLine {
            account: PAYER_ACCOUNT,
            service,
            region,
            tag: None,
            base,
            key: mix(&[hash_str(PAYER_ACCOUNT), hash_str(service)]),
            jump_day: None,
            amortized_discount: 0.0,
        });
    }
    lines
}

impl CostLine<'_> {
    /// Dollars on `day` (complete days); slow growth, weekend dip, noise.
    fn amount(&self, seed: u64, day: i64, reference_day: i64) -> f64 {
        let growth = 1.0 + 0.001 * (day - reference_day) as f64;
        let weekend = if matches!(weekday(day * 86_400), 0 | 6) { 0.94 } else { 1.0 };
        let noise = 1.0 + 0.04 * gauss(mix(&[seed, self.key, day as u64]));
        let jump = match self.jump_day {
            Some(j) if day >= j => 3.0,
            _ => 1.0,
        };
        (self.base * growth * weekend * noise * jump).max(0.0)
    }
}

/// One amount in the two cost views Cost Explorer offers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Dollars {
    unblended: f64,
    amortized: f64,
}

impl std::ops::AddAssign for Dollars {
    fn add_assign(&mut self, other: Dollars) {
        self.unblended += other.unblended;
        self.amortized += other.amortized;
    }
}

impl std::iter::Sum for Dollars {
    fn sum<I: Iterator<Item = Dollars>>(iter: I) -> Dollars {
        iter.fold(Dollars::default(), |mut acc, d| {
            acc += d;
            acc
        })
    }
}

// ---------------------------------------------------------------------------
// Request

#[derive(Debug, Clone, PartialEq)]
enum GroupBy {
    Dimension(String),
    Tag(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Dimension { key: String, values: Vec<String>, options: Vec<String> },
    Tag { key: String, values: Vec<String>, options: Vec<String> },
}

const DIMENSIONS: [&str; 4] = ["LINKED_ACCOUNT", "SERVICE", "REGION", "RECORD_TYPE"];
const METRICS: [&str; 7] = [
    "AmortizedCost",
    "BlendedCost",
    "NetAmortizedCost",
    "NetUnblendedCost",
    "NormalizedUsageAmount",
    "UnblendedCost",
    "UsageQuantity",
];

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "ValidationException", message)
}

fn strings(v: Option<&Value>, name: &str) -> Result<Vec<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| validation(format!("{name} must be a list of strings")))
            })
            .collect(),
        Some(_) => Err(validation(format!("{name} must be a list"))),
    }
}

fn parse_filter(v: &Value, depth: u32) -> Result<Filter, ApiError> {
    if depth > 10 || !v.is_object() {
        return Err(validation("Filter expression is invalid"));
    }
    let present: Vec<&str> = ["And", "Or", "Not", "Dimensions", "Tags", "CostCategories"]
        .into_iter()
        .filter(|k| v.get(*k).is_some_and(|x| !x.is_null()))
        .collect();
    if present.len() != 1 {
        return Err(validation("Expression must have exactly one of And, Or, Not, Dimensions, Tags, CostCategories"));
    }
    let list = |k: &str| -> Result<Vec<Filter>, ApiError> {
        v[k].as_array()
            .ok_or_else(|| validation(format!("{k} must be a list")))?
            .iter()
            .map(|x| parse_filter(x, depth + 1))
            .collect()
    };
    match present[0] {
        "And" => Ok(Filter::And(list("And")?)),
        "Or" => Ok(Filter::Or(list("Or")?)),
        "Not" => Ok(Filter::Not(Box::new(parse_filter(&v["Not"], depth + 1)?))),
        "Dimensions" => {
            let d = &v["Dimensions"];
            let key = d["Key"].as_str().unwrap_or_default().to_string();
            if !DIMENSIONS.contains(&key.as_str()) {
                return Err(validation(format!(
                    "Dimension {key} is not supported by the simulated fleet (supported: {})",
                    DIMENSIONS.join(", ")
                )));
            }
            Ok(Filter::Dimension {
                key,
                values: strings(d.get("Values"), "Values")?,
                options: strings(d.get("MatchOptions"), "MatchOptions")?,
            })
        }
        "Tags" => {
            let d = &v["Tags"];
            Ok(Filter::Tag {
                key: d["Key"].as_str().unwrap_or_default().to_string(),
                values: strings(d.get("Values"), "Values")?,
                options: strings(d.get("MatchOptions"), "MatchOptions")?,
            })
        }
        _ => Err(validation("CostCategories are not defined in the simulated organization")),
    }
}

fn dimension_value<'a>(line: &'a CostLine<'_>, key: &str) -> &'a str {
    match key {
        "LINKED_ACCOUNT" => line.account,
        "SERVICE" => line.service,
        "REGION" => line.region,
        _ => "Usage",
    }
}

fn tag_value(line: &CostLine<'_>, key: &str) -> Option<String> {
    (key == COST_TAG).then(|| line.tag.map(|t| t.id.clone())).flatten()
}

fn value_matches(value: Option<&str>, values: &[String], options: &[String]) -> bool {
    let has = |o: &str| options.iter().any(|x| x == o);
    if has("ABSENT") {
        return value.is_none_or(str::is_empty);
    }
    let Some(value) = value else { return false };
    let insensitive = has("CASE_INSENSITIVE");
    let norm = |s: &str| {
        if insensitive {
            s.to_lowercase()
        } else {
            s.to_string()
        }
    };
    let value = norm(value);
    values.iter().map(|v| norm(v)).any(|v| {
        if has("STARTS_WITH") {
            value.starts_with(&v)
        } else if has("ENDS_WITH") {
            value.ends_with(&v)
        } else if has("CONTAINS") {
            value.contains(&v)
        } else {
            value == v
        }
    })
}

fn filter_matches(f: &Filter, line: &CostLine<'_>) -> bool {
    match f {
        Filter::And(fs) => fs.iter().all(|f| filter_matches(f, line)),
        Filter::Or(fs) => fs.iter().any(|f| filter_matches(f, line)),
        Filter::Not(f) => !filter_matches(f, line),
        Filter::Dimension { key, values, options } => value_matches(Some(dimension_value(line, key)), values, options),
        Filter::Tag { key, values, options } => value_matches(tag_value(line, key).as_deref(), values, options),
    }
}

fn group_key(g: &GroupBy, line: &CostLine<'_>) -> String {
    match g {
        GroupBy::Dimension(k) => dimension_value(line, k).to_string(),
        // Untagged spend groups under "<key>$".
        GroupBy::Tag(k) => format!("{k}${}", tag_value(line, k).unwrap_or_default()),
    }
}

fn parse_date(v: Option<&Value>, name: &str) -> Result<NaiveDate, ApiError> {
    let s = v.and_then(Value::as_str).ok_or_else(|| validation(format!("TimePeriod.{name} is required")))?;
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| validation(format!("{name} date {s} is not in the format YYYY-MM-DD")))
}

pub(crate) fn handle(call: &Call<'_>, operation: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let input = json_input(body)?;
    match operation {
        "GetCostAndUsage" => get_cost_and_usage(call, &input),
        _ => Err(unknown_operation(call.protocol, Service::CostExplorer, operation)),
    }
}

fn get_cost_and_usage(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    if call.caller.account != PAYER_ACCOUNT {
        return Err(access_denied(
            call.protocol,
            format!(
                "User: {} is not authorized to perform: ce:GetCostAndUsage: Cost Explorer data is only available to the management account of this organization",
                call.caller.arn
            ),
        ));
    }
    let fleet = &call.state.fleet;
    let period = input.get("TimePeriod").ok_or_else(|| validation("TimePeriod is required"))?;
    let start = parse_date(period.get("Start"), "Start")?;
    let end = parse_date(period.get("End"), "End")?;
    if start >= end {
        return Err(validation(format!("Start date ({start}) must be before end date ({end})")));
    }
    let today = date_of(call.now.div_euclid(86_400)).unwrap_or(start);
    let earliest = {
        let months = today.year() * 12 + today.month0() as i32 - HISTORY_MONTHS;
        NaiveDate::from_ymd_opt(months.div_euclid(12), months.rem_euclid(12) as u32 + 1, 1).unwrap_or(start)
    };
    if start < earliest {
        return Err(validation(format!(
            "Start date {start} is before the earliest available date {earliest}: Cost Explorer keeps {HISTORY_MONTHS} months of history"
        )));
    }
    let monthly = match input.get("Granularity").and_then(Value::as_str) {
        Some("DAILY") => false,
        Some("MONTHLY") => true,
        Some("HOURLY") => return Err(validation("Hourly granularity is not enabled for this account")),
        Some(other) => {
            return Err(validation(format!("Granularity {other} is not valid: use DAILY, MONTHLY or HOURLY")))
        }
        None => return Err(validation("Granularity is required")),
    };
    let metrics = strings(input.get("Metrics"), "Metrics")?;
    if metrics.is_empty() {
        return Err(validation("Metrics is required"));
    }
    for m in &metrics {
        if !METRICS.iter().any(|k| k.eq_ignore_ascii_case(m)) {
            return Err(validation(format!("Metric {m} is not valid")));
        }
    }
    let mut group_by = Vec::new();
    if let Some(list) = input.get("GroupBy").and_then(Value::as_array) {
        if list.len() > 2 {
            return Err(validation("You can group by at most two dimensions or tags"));
        }
        for g in list {
            let key = g.get("Key").and_then(Value::as_str).unwrap_or_default().to_string();
            match g.get("Type").and_then(Value::as_str) {
                Some("DIMENSION") if DIMENSIONS.contains(&key.as_str()) => group_by.push(GroupBy::Dimension(key)),
                Some("DIMENSION") => {
                    return Err(validation(format!(
                        "Group Definition dimension {key} is not supported by the simulated fleet (supported: {})",
                        DIMENSIONS.join(", ")
                    )))
                }
                Some("TAG") if !key.is_empty() => group_by.push(GroupBy::Tag(key)),
                Some("COST_CATEGORY") => {
                    return Err(validation("CostCategories are not defined in the simulated organization"))
                }
                _ => {
                    return Err(validation("Group Definition Type must be DIMENSION, TAG or COST_CATEGORY with a Key"))
                }
            }
        }
    }
    let filter = match input.get("Filter") {
        None | Some(Value::Null) => None,
        Some(f) => Some(parse_filter(f, 0)?),
    };
    let fingerprint = hash_str(&format!("{start}|{end}|{monthly}|{metrics:?}|{group_by:?}|{filter:?}"));
    let offset = match input.get("NextPageToken").and_then(Value::as_str) {
        None => 0,
        Some(t) => t
            .split_once(':')
            .filter(|(fp, _)| *fp == format!("{fingerprint:016x}"))
            .and_then(|(_, o)| o.parse::<usize>().ok())
            .ok_or_else(|| ApiError::new(400, "InvalidNextTokenException", "The NextPageToken is invalid."))?,
    };
    if call.state.knobs().cost_pages_fail_after.is_some_and(|n| offset >= n * PAGE_GROUPS) {
        // One of GetCostAndUsage's documented errors (API Reference,
        // Errors): not retryable, so the read stops at this page.
        return Err(ApiError::new(400, "DataUnavailableException", "The requested data is unavailable."));
    }

    // The periods: days, or calendar months clipped to the range; nothing
    // after today.
    let first_day = days_since_epoch(start);
    let last_day = (days_since_epoch(end) - 1).min(days_since_epoch(today));
    let mut periods: Vec<(i64, i64)> = Vec::new(); // [from, to) in days
    let mut d = first_day;
    while d <= last_day {
        let to = if monthly {
            let date = date_of(d).unwrap_or(start);
            let (y, m) = if date.month() == 12 { (date.year() + 1, 1) } else { (date.year(), date.month() + 1) };
            NaiveDate::from_ymd_opt(y, m, 1).map_or(d + 1, days_since_epoch).min(days_since_epoch(end))
        } else {
            d + 1
        };
        periods.push((d, to));
        d = to;
    }

    let lines: Vec<CostLine<'_>> =
        cost_lines(fleet).into_iter().filter(|l| filter.as_ref().is_none_or(|f| filter_matches(f, l))).collect();
    let seed = fleet.options.seed;
    let today_day = days_since_epoch(today);
    let reference_day = fleet.options.now.div_euclid(86_400);
    let today_fraction = (call.now.rem_euclid(86_400) as f64 / 86_400.0).max(0.02);
    // Nothing is billed after today; today so far is a partial, estimated
    // day (a monthly period can reach past today). Amounts are (unblended,
    // amortized) dollars.
    let amount = |line: &CostLine<'_>, day: i64| -> Dollars {
        let unblended = match day.cmp(&today_day) {
            std::cmp::Ordering::Less => line.amount(seed, day, reference_day),
            std::cmp::Ordering::Equal => line.amount(seed, day, reference_day) * today_fraction,
            std::cmp::Ordering::Greater => 0.0,
        };
        Dollars { unblended, amortized: unblended * (1.0 - line.amortized_discount) }
    };
    let metric_values = |dollars: Dollars| -> Value {
        let mut m = serde_json::Map::new();
        for name in &metrics {
            let is = |k: &str| name.eq_ignore_ascii_case(k);
            let (amount, unit) = if is("UsageQuantity") || is("NormalizedUsageAmount") {
                // A stand-in usage figure: roughly instance-hours.
                (dollars.unblended * 9.7, "N/A")
            } else if is("AmortizedCost") || is("NetAmortizedCost") {
                (dollars.amortized, "USD")
            } else {
                (dollars.unblended, "USD")
            };
            m.insert(name.clone(), json!({ "Amount": format!("{amount:.10}"), "Unit": unit }));
        }
        Value::Object(m)
    };

    // Paging walks the (period, group) rows in order; a page holds
    // PAGE_GROUPS of them. A period without groups sits at the position of
    // the row that would follow it.
    let page_end = offset.saturating_add(PAGE_GROUPS);
    let linked_account = group_by.iter().position(|g| *g == GroupBy::Dimension("LINKED_ACCOUNT".into()));
    let mut results = Vec::new();
    let mut accounts_seen: Vec<String> = Vec::new();
    let mut row = 0usize;
    let mut more = false;
    for (from, to) in &periods {
        let estimated = (*from..*to).any(|d| estimated(d, today));
        let period_json = json!({ "Start": fmt_day(*from), "End": fmt_day(*to) });
        if group_by.is_empty() {
            let total: Dollars = (*from..*to).map(|day| lines.iter().map(|l| amount(l, day)).sum::<Dollars>()).sum();
            results.push(json!({ "TimePeriod": period_json, "Total": metric_values(total), "Groups": [], "Estimated": estimated }));
            continue;
        }
        if row >= page_end {
            more = true;
            break;
        }
        // A period wholly before this page: its size is all that matters.
        let known = lock(&call.state.cost_groups).get(&(fingerprint, *from, *to)).copied();
        if let Some(n) = known.filter(|n| row + n <= offset && *n > 0) {
            row += n;
            continue;
        }
        let mut groups: BTreeMap<Vec<String>, Dollars> = BTreeMap::new();
        for l in &lines {
            let keys: Vec<String> = group_by.iter().map(|g| group_key(g, l)).collect();
            let dollars: Dollars = (*from..*to).map(|day| amount(l, day)).sum();
            *groups.entry(keys).or_default() += dollars;
        }
        {
            let mut sizes = lock(&call.state.cost_groups);
            if sizes.len() > 100_000 {
                sizes.clear();
            }
            sizes.insert((fingerprint, *from, *to), groups.len());
        }
        let first_row = row;
        row += groups.len();
        if row <= offset && !(groups.is_empty() && first_row >= offset) {
            continue; // entirely on an earlier page
        }
        let skip = offset.saturating_sub(first_row);
        let take = page_end.min(row) - first_row.max(offset).min(page_end.min(row));
        let page_groups: Vec<Value> = groups
            .iter()
            .skip(skip)
            .take(take)
            .map(|(keys, dollars)| {
                if let Some(i) = linked_account {
                    if !accounts_seen.contains(&keys[i]) {
                        accounts_seen.push(keys[i].clone());
                    }
                }
                json!({ "Keys": keys, "Metrics": metric_values(*dollars) })
            })
            .collect();
        results.push(json!({ "TimePeriod": period_json, "Total": {}, "Groups": page_groups, "Estimated": estimated }));
        if row > page_end {
            more = true;
            break;
        }
    }
    let next = more.then(|| format!("{fingerprint:016x}:{page_end}"));

    let mut out = json!({
        "GroupDefinitions": group_by.iter().map(|g| match g {
            GroupBy::Dimension(k) => json!({ "Type": "DIMENSION", "Key": k }),
            GroupBy::Tag(k) => json!({ "Type": "TAG", "Key": k }),
        }).collect::<Vec<_>>(),
        "ResultsByTime": results,
        "DimensionValueAttributes": accounts_seen.iter().map(|a| json!({
            "Value": a,
            "Attributes": { "description": fleet.account_name(a) },
        })).collect::<Vec<_>>(),
    });
    if let Some(t) = next {
        out["NextPageToken"] = json!(t);
    }
    Ok(Reply::Json(out))
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
        let n = days_since_epoch(d);
        assert_eq!(n * 86_400, 1_795_305_600);
        assert_eq!(date_of(n), Some(d));
        assert_eq!(fmt_day(0), "1970-01-01");
    }

    #[test]
    fn match_options_follow_cost_explorer() {
        let v = vec!["Amazon".to_string()];
        assert!(value_matches(Some("Amazon"), &v, &[]));
        assert!(!value_matches(Some("Amazon S3"), &v, &[]));
        assert!(value_matches(Some("Amazon S3"), &v, &["STARTS_WITH".into()]));
        assert!(value_matches(Some("amazon s3"), &v, &["STARTS_WITH".into(), "CASE_INSENSITIVE".into()]));
        assert!(value_matches(None, &[], &["ABSENT".into()]));
        assert!(!value_matches(Some("acme"), &[], &["ABSENT".into()]));
    }
}
