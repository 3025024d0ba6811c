//! CloudWatch Logs over AWS JSON 1.1: Logs Insights (`StartQuery`,
//! `GetQueryResults`, `StopQuery`) and `DescribeLogGroups`.
//!
//! There is no query engine: the simulator recognises the shapes of the
//! catalog's queries (queries/logs.toml). A query with `stats count(*)`
//! (one or more, each `as <name>`) returns aggregate rows, one per value of
//! its `by` fields (any of `@log`, `error_type` and the tenant fields),
//! most records first (ties in the order of their values); any other returns
//! raw rows of the `fields` it lists (default `@timestamp`, `@message`),
//! plus `@ptr` as Logs Insights always does. `filter level = "ERROR"` is
//! implied (the simulated groups only hold error lines worth reading), a
//! `<tenant field> = "<value>"` comparison narrows shared log groups to one
//! tenant, and `error_type = "<type>"` to one kind of error. Log lines are
//! derived from the same minute values as the error metrics, so metrics and
//! logs agree; they are JSON documents that carry e-mail addresses, IPs and
//! API keys, so redaction has something to do.
//!
//! In a monitoring account (cross-account observability, `oam.rs`),
//! `StartQuery` also reads the log groups of linked source accounts that
//! share `AWS::Logs::LogGroup`, named by ARN in `logGroupIdentifiers`, and
//! `DescribeLogGroups` lists them with `includeLinkedAccounts`. The query
//! is the monitoring account's: it counts against its concurrency limit
//! and `@log` names each row's source account.

use std::collections::{HashMap, VecDeque};

use serde_json::{json, Value};

use super::fleet::{Fleet, LogGroup, Model, SimTenant, OAM_LOG_GROUP};
use super::protocol::{json_input, unknown_operation, Service};
use super::series::{hash_str, mix, poisson, sample, splitmix64, unit, MetricKind};
use super::server::{lock, ApiError, Call, Reply};

/// Logs Insights returns at most this many rows.
const MAX_ROWS: usize = 10_000;
/// Concurrent (not yet finished) queries per account-region.
const MAX_CONCURRENT: usize = 30;
/// Log groups per query.
const MAX_GROUPS: usize = 50;
/// Retention of the simulated log groups.
const RETENTION_DAYS: i64 = 30;
/// Queries remembered for GetQueryResults; the oldest are forgotten.
const MAX_STORED: usize = 10_000;
/// How long a query runs, in real time (the simulated clock may be frozen):
/// from `QUERY_RUNTIME_MS` to twice that, drawn from its id. Logs Insights
/// over an hour of a small log group takes about this long.
const QUERY_RUNTIME_MS: u64 = 400;

/// Started queries by id.
#[derive(Debug, Default)]
pub(crate) struct Queries {
    by_id: HashMap<String, StoredQuery>,
    order: VecDeque<String>,
    /// (account, region, query string) of every query started, the latest
    /// [`MAX_STORED`]: what a test can check was asked.
    log: VecDeque<(String, String, String)>,
    /// `bytesScanned` of every query started, summed: what the queries
    /// are billed on.
    bytes_scanned: u64,
}

impl Queries {
    pub(crate) fn log(&self) -> Vec<(String, String, String)> {
        self.log.iter().cloned().collect()
    }

    pub(crate) fn bytes_scanned(&self) -> u64 {
        self.bytes_scanned
    }
}

#[derive(Debug)]
struct StoredQuery {
    account: String,
    region: String,
    /// When it completes (real time).
    ready_at: std::time::Instant,
    cancelled: bool,
    rows: Vec<Vec<(String, String)>>,
    matched: u64,
    scanned: Scanned,
    groups: usize,
}

impl StoredQuery {
    fn running(&self) -> bool {
        !self.cancelled && std::time::Instant::now() < self.ready_at
    }
}

pub(crate) fn handle(call: &Call<'_>, operation: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let input = json_input(body)?;
    match operation {
        "StartQuery" => start_query(call, &input),
        "GetQueryResults" => get_query_results(call, &input),
        "StopQuery" => stop_query(call, &input),
        "DescribeLogGroups" => describe_log_groups(call, &input),
        _ => Err(unknown_operation(call.protocol, Service::Logs, operation)),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "InvalidParameterException", message)
}

fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "ResourceNotFoundException", message)
}

fn str_field<'a>(input: &'a Value, name: &str) -> Result<Option<&'a str>, ApiError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::new(400, "SerializationException", format!("{name} must be a string"))),
    }
}

fn int_field(input: &Value, name: &str) -> Result<Option<i64>, ApiError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| ApiError::new(400, "SerializationException", format!("{name} must be a number"))),
    }
}

fn str_list(input: &Value, name: &str) -> Result<Option<Vec<String>>, ApiError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::new(400, "SerializationException", format!("{name} must be a list of strings"))
                })
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(ApiError::new(400, "SerializationException", format!("{name} must be a list"))),
    }
}

// ---------------------------------------------------------------------------
// Query shape

/// A `stats` command of counts: each count's name, and the fields it
/// groups by (none: one row).
#[derive(Debug, Clone, PartialEq)]
struct Aggregate {
    names: Vec<String>,
    by: Vec<String>,
}

/// What the simulator understands of a Logs Insights query.
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    /// `stats count(*) as <name>[, count(*) as <name>...] [by <field>, ...]`.
    aggregate: Option<Aggregate>,
    fields: Vec<String>,
    limit: Option<usize>,
    ascending: bool,
    /// `<field> = "<value>"` comparisons, values unescaped.
    comparisons: Vec<(String, String)>,
}

fn parse_shape(query: &str) -> Shape {
    let stages: Vec<&str> = query.split('|').map(str::trim).collect();
    let mut shape =
        Shape { aggregate: None, fields: Vec::new(), limit: None, ascending: false, comparisons: comparisons(query) };
    for stage in stages {
        let lower = stage.to_ascii_lowercase();
        let words: Vec<&str> = stage.split_whitespace().collect();
        if let Some(rest) = strip_command(stage, "fields") {
            shape.fields =
                rest.split(',').map(|f| f.trim().trim_matches('`').to_string()).filter(|f| !f.is_empty()).collect();
        } else if lower.starts_with("stats") && lower.replace(' ', "").contains("count(*)") {
            let body = &stage["stats".len()..];
            let (counts, by) = match body.to_ascii_lowercase().rfind(" by ") {
                Some(i) => (&body[..i], Some(&body[i + 4..])),
                None => (body, None),
            };
            // `count(*)` names itself unless `as` names it.
            let names = counts
                .split(',')
                .filter(|c| !c.trim().is_empty())
                .map(|c| {
                    let words: Vec<&str> = c.split_whitespace().collect();
                    match words.iter().position(|w| w.eq_ignore_ascii_case("as")) {
                        Some(i) => words.get(i + 1).unwrap_or(&"count(*)").trim_matches('`').to_string(),
                        None => "count(*)".to_string(),
                    }
                })
                .collect();
            let by = by
                .map(|b| {
                    b.split(',').map(|f| f.trim().trim_matches('`').to_string()).filter(|f| !f.is_empty()).collect()
                })
                .unwrap_or_default();
            shape.aggregate = Some(Aggregate { names, by });
        } else if lower.starts_with("limit") {
            shape.limit = words.get(1).and_then(|n| n.parse().ok());
        } else if lower.starts_with("sort") {
            shape.ascending = lower.ends_with(" asc");
        }
    }
    shape
}

fn strip_command<'a>(stage: &'a str, command: &str) -> Option<&'a str> {
    let head = stage.get(..command.len())?;
    let rest = &stage[command.len()..];
    (head.eq_ignore_ascii_case(command) && rest.starts_with(char::is_whitespace)).then_some(rest)
}

/// Every `field = "value"` (or `==`) comparison with a double-quoted,
/// JSON-escaped string literal.
fn comparisons(query: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bytes = query.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        // Find the literal's end, honouring backslash escapes.
        let start = i;
        let mut j = i + 1;
        while j < bytes.len() && bytes[j] != b'"' {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        if j >= bytes.len() {
            break;
        }
        let literal = &query[start..=j];
        // What precedes it: `<field> =` or `<field> ==`.
        let before = query[..start].trim_end();
        let before = before.strip_suffix("==").or_else(|| before.strip_suffix('=')).map(str::trim_end);
        if let Some(before) = before {
            if !before.ends_with(['!', '<', '>']) {
                let field: String = before
                    .chars()
                    .rev()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '`'))
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect();
                if let (false, Ok(value)) = (field.is_empty(), serde_json::from_str::<String>(literal)) {
                    out.push((field.trim_matches('`').to_string(), value));
                }
            }
        }
        i = j + 1;
    }
    out
}

// ---------------------------------------------------------------------------
// Simulated lines

/// The error types a tenant logs, and how often.
const ERROR_TYPES: [(&str, f64); 5] = [
    ("UpstreamTimeout", 0.35),
    ("DatabaseConnectionReset", 0.2),
    ("ValidationFailed", 0.2),
    ("RateLimited", 0.15),
    ("NullReference", 0.1),
];

/// One simulated source of lines: a tenant's share of a log group.
struct Source<'a> {
    tenant: &'a SimTenant,
    group: &'a LogGroup,
}

/// Error lines `tenant` logs in `region` during `minute`: the 5xx metric
/// where the tenant has one, a trickle of pod errors on EKS.
fn error_count(fleet: &Fleet, tenant: &SimTenant, region: &str, minute: i64) -> u64 {
    if tenant.model == Model::Eks {
        let h = mix(&[fleet.options.seed, tenant.key, hash_str(region), minute as u64, 0x10]);
        return poisson(0.2, h) as u64;
    }
    sample(fleet, tenant, region, MetricKind::Errors, minute).map_or(0, |s| s.sum.max(0.0) as u64)
}

/// A line's hash, time offset in the minute (ms) and error type.
fn line(fleet: &Fleet, tenant: &SimTenant, region: &str, minute: i64, j: u64) -> (u64, i64, &'static str) {
    let h = mix(&[fleet.options.seed, tenant.key, hash_str(region), minute as u64, j, 0x11]);
    let offset = (h % 60_000) as i64;
    let incident = fleet.error_spike_start(tenant, region).is_some_and(|s| minute >= s);
    let u = unit(splitmix64(h));
    let kind = if incident && u < 0.85 {
        "PaymentGatewayTimeout"
    } else if tenant.model == Model::Eks && u < 0.3 {
        "ContainerOOMKilled"
    } else {
        let mut acc = 0.0;
        let pick = unit(mix(&[h, 7]));
        ERROR_TYPES
            .iter()
            .find(|(_, w)| {
                acc += w;
                pick < acc
            })
            .map_or("NullReference", |(t, _)| t)
    };
    (h, offset, kind)
}

/// The attributes Logs Insights would discover in a line (`@message` is
/// the JSON document itself).
fn render_line(source: &Source<'_>, call: &Call<'_>, minute: i64, h: u64, offset: i64, kind: &str) -> (Value, String) {
    let ts_ms = minute * 1000 + offset;
    let when = chrono::DateTime::from_timestamp_millis(ts_ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default();
    let n = h % 10_000;
    const PEOPLE: [&str; 6] = ["jane.doe", "raj.patel", "li.wei", "maria.garcia", "tom.smith", "ana.silva"];
    let email = format!("{}+{n}@example.com", PEOPLE[(h % PEOPLE.len() as u64) as usize]);
    let text = match kind {
        "PaymentGatewayTimeout" => format!(
            "ERROR PaymentGatewayTimeout upstream=payments-api timeout_ms=30000 order=ord_{n:04} customer={email}"
        ),
        "UpstreamTimeout" => {
            format!("ERROR UpstreamTimeout upstream=inventory-api timeout_ms=5000 attempt={}", 1 + h % 3)
        }
        "DatabaseConnectionReset" => format!(
            "ERROR DatabaseConnectionReset db=orders-primary client_ip=10.{}.{}.{}",
            (h >> 8) % 256,
            (h >> 16) % 256,
            (h >> 24) % 256
        ),
        "ValidationFailed" => format!("ERROR ValidationFailed field=email value={email}"),
        "RateLimited" => {
            format!("ERROR RateLimited client_ip=203.0.113.{} api_key=sk_live_{:016x}", (h >> 8) % 256, mix(&[h, 3]))
        }
        "ContainerOOMKilled" => "ERROR ContainerOOMKilled container=worker memory_limit=512Mi".to_string(),
        _ => "ERROR NullReference at CheckoutService.applyCoupon(CheckoutService.java:118)".to_string(),
    };
    let request_id = format!("{:016x}", mix(&[h, 5]));
    let t = source.tenant;
    let doc = match t.model {
        Model::Eks => json!({
            "time": when,
            "level": "ERROR",
            "error_type": kind,
            "message": text,
            "request_id": request_id,
            "kubernetes": {
                "namespace_name": t.dimensions.iter().find(|(k, _)| k == "Namespace").map_or(t.id.as_str(), |(_, v)| v.as_str()),
                "pod_name": format!("api-{:x}-{:05x}", t.key % 0xfff, h % 0xfffff),
                "container_name": "api",
            },
        }),
        Model::Pooled => json!({
            "time": when,
            "level": "ERROR",
            "error_type": kind,
            "message": text,
            "request_id": request_id,
            "tenant_id": t.id,
        }),
        _ => json!({
            "time": when,
            "level": "ERROR",
            "error_type": kind,
            "message": text,
            "request_id": request_id,
        }),
    };
    let stream = match t.model {
        Model::Eks => format!("api-{:x}-{:05x}_{}_api", t.key % 0xfff, h % 0xfffff, t.id),
        _ => format!("{}/api/{:08x}", call.region, t.key as u32),
    };
    (doc, stream)
}

/// A dotted field of a JSON document as Logs Insights shows it.
fn lookup(doc: &Value, field: &str) -> Option<String> {
    let mut v = doc;
    for part in field.split('.') {
        v = v.get(part)?;
    }
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The line attribute a comparison refers to, for filtering.
fn attribute(source: &Source<'_>, field: &str, kind: &str) -> Option<String> {
    let t = source.tenant;
    match field {
        "level" => Some("ERROR".to_string()),
        "error_type" => Some(kind.to_string()),
        "tenant_id" if t.model == Model::Pooled => Some(t.id.clone()),
        "kubernetes.namespace_name" if t.model == Model::Eks => {
            Some(t.dimensions.iter().find(|(k, _)| k == "Namespace").map_or(t.id.clone(), |(_, v)| v.clone()))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Operations

fn start_query(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    let fleet = &call.state.fleet;
    let single = str_field(input, "logGroupName")?.map(|s| vec![s.to_string()]);
    let names = str_list(input, "logGroupNames")?;
    let identifiers = str_list(input, "logGroupIdentifiers")?;
    let given = [single.is_some(), names.is_some(), identifiers.is_some()].iter().filter(|b| **b).count();
    if given != 1 {
        return Err(invalid("Specify exactly one of logGroupName, logGroupNames and logGroupIdentifiers."));
    }
    let requested = single.or(names).or(identifiers).unwrap_or_default();
    if requested.is_empty() || requested.len() > MAX_GROUPS {
        return Err(invalid(format!("A query must name between 1 and {MAX_GROUPS} log groups.")));
    }
    let start = int_field(input, "startTime")?.ok_or_else(|| invalid("startTime is required."))?;
    let end = int_field(input, "endTime")?.ok_or_else(|| invalid("endTime is required."))?;
    // Epoch seconds up to the year 3000: also keeps the arithmetic on them
    // far from overflow.
    let valid_time = |t: i64| (0..=32_503_680_000).contains(&t);
    if !valid_time(start) || !valid_time(end) {
        return Err(invalid("startTime and endTime must be epoch seconds."));
    }
    if end < start {
        return Err(invalid("endTime must be greater than or equal to startTime."));
    }
    let query = str_field(input, "queryString")?.ok_or_else(|| invalid("queryString is required."))?;
    if query.trim().is_empty() || query.len() > 10_000 {
        return Err(ApiError::new(400, "MalformedQueryException", "The query string must be 1 to 10000 characters."));
    }
    let limit = match int_field(input, "limit")? {
        None => None,
        Some(n) if (1..=MAX_ROWS as i64).contains(&n) => Some(n as usize),
        Some(n) => return Err(invalid(format!("limit must be between 1 and {MAX_ROWS}, got {n}."))),
    };

    let mut groups: Vec<&LogGroup> = Vec::new();
    for id in &requested {
        let deleted = &call.state.knobs().deleted_log_groups;
        let group = resolve_identifier(call, id)
            .filter(|(_, n)| !deleted.iter().any(|d| d == n))
            .and_then(|(account, n)| fleet.log_groups(account, &call.region).iter().find(|g| g.name == n));
        match group {
            Some(g) if !groups.iter().any(|x| std::ptr::eq(*x, g)) => groups.push(g),
            Some(_) => {}
            None => {
                return Err(not_found(format!(
                    "Log group '{id}' does not exist for account ID '{}' (Service: CloudWatchLogs, Status Code: 400)",
                    call.caller.account
                )))
            }
        }
    }

    {
        let queries = lock(&call.state.queries);
        let running = queries
            .by_id
            .values()
            .filter(|q| q.account == call.caller.account && q.region == call.region && q.running())
            .count();
        if running >= MAX_CONCURRENT {
            return Err(ApiError::new(
                400,
                "LimitExceededException",
                format!("Account maximum query concurrency limit of [{MAX_CONCURRENT}] reached."),
            ));
        }
    }

    let shape = parse_shape(query);
    let result = run(call, &groups, &shape, start, end, limit);
    let id = call.state.uuid();
    let mut queries = lock(&call.state.queries);
    while queries.order.len() >= MAX_STORED {
        if let Some(old) = queries.order.pop_front() {
            queries.by_id.remove(&old);
        }
    }
    queries.order.push_back(id.clone());
    if queries.log.len() >= MAX_STORED {
        queries.log.pop_front();
    }
    queries.log.push_back((call.caller.account.clone(), call.region.clone(), query.to_string()));
    queries.bytes_scanned += result.scanned.bytes;
    queries.by_id.insert(
        id.clone(),
        StoredQuery {
            account: call.caller.account.clone(),
            region: call.region.clone(),
            ready_at: std::time::Instant::now()
                + std::time::Duration::from_millis(
                    QUERY_RUNTIME_MS
                        + id.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)) % QUERY_RUNTIME_MS,
                ),
            cancelled: false,
            rows: result.rows,
            matched: result.matched,
            scanned: result.scanned,
            groups: groups.len(),
        },
    );
    Ok(Reply::Json(json!({ "queryId": id })))
}

/// The (account, log group name) a `logGroupIdentifiers` entry names: a
/// name, in the caller's account; or an ARN
/// (`arn:aws:logs:<region>:<account>:log-group:<name>`, also accepted
/// with a trailing `:*`) of the signing region, in the caller's account
/// or in a source account linked to the caller's sink there that shares
/// log groups. "If a log group that you're querying is in a source
/// account and you're using a monitoring account, you must specify the
/// ARN of the log group here" (StartQuery, logGroupIdentifiers, CloudWatch
/// Logs API Reference): a bare name never reaches a source account, and
/// an ARN of an account that shares no log groups with the caller is as
/// missing as a group that does not exist.
fn resolve_identifier<'a>(call: &'a Call<'_>, id: &'a str) -> Option<(&'a str, String)> {
    let caller = call.caller.account.as_str();
    let Some(rest) = id.strip_prefix("arn:aws:logs:") else {
        return Some((caller, id.to_string()));
    };
    let (account, rest) = arn_account(rest, &call.region)?;
    if account != caller && !crate::oam::shares(call, account, OAM_LOG_GROUP) {
        return None;
    }
    Some((account, rest.strip_suffix(":*").unwrap_or(rest).to_string()))
}

/// `<account>` and `<name>` of the rest of a log group ARN after
/// `arn:aws:logs:`, when it is of `region`.
fn arn_account<'a>(rest: &'a str, region: &str) -> Option<(&'a str, &'a str)> {
    let rest = rest.strip_prefix(region)?.strip_prefix(':')?;
    let (account, name) = rest.split_once(":log-group:")?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some((account, name))
}

struct QueryResult {
    rows: Vec<Vec<(String, String)>>,
    matched: u64,
    scanned: Scanned,
}

/// What a query read of its log groups: `recordsScanned` and
/// `bytesScanned` of GetQueryResults' `statistics` ("The total number of
/// log events scanned during the query" and "The total number of bytes in
/// the log events scanned during the query": QueryStatistics, CloudWatch
/// Logs API Reference). Logs Insights is billed on the bytes ("$0.005 per
/// GB of data scanned": Amazon CloudWatch Pricing, Logs, Logs Insights).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Scanned {
    records: u64,
    bytes: u64,
}

/// Bytes of one log event as stored (a JSON line of an access or
/// application log with its timestamp): the simulated error lines render
/// at 250 to 350 bytes.
const EVENT_BYTES: u64 = 320;

/// Everything `groups` hold from `first_minute` to `last_minute`: every
/// line of every tenant writing to them, one access line per request and
/// the error lines, whatever the query filters on. Logs Insights reads
/// the whole time range of each group named ("the log groups and time
/// range you specify": Analyzing log data with CloudWatch Logs Insights,
/// User Guide); a `filter` narrows what matches, not what is scanned, so
/// a tenant's query of a shared group pays for every tenant's lines.
fn scanned(call: &Call<'_>, groups: &[&LogGroup], first_minute: i64, last_minute: i64) -> Scanned {
    let fleet = &call.state.fleet;
    let mut records = 0u64;
    let mut minute = first_minute;
    while minute <= last_minute {
        for g in groups {
            for i in &g.tenants {
                let t = &fleet.tenants[*i];
                let requests =
                    sample(fleet, t, &call.region, MetricKind::Requests, minute).map_or(0.0, |s| s.sum.max(0.0));
                records += requests as u64 + error_count(fleet, t, &call.region, minute);
            }
        }
        minute += 60;
    }
    Scanned { records, bytes: records * EVENT_BYTES }
}

fn run(
    call: &Call<'_>,
    groups: &[&LogGroup],
    shape: &Shape,
    start: i64,
    end: i64,
    limit: Option<usize>,
) -> QueryResult {
    let fleet = &call.state.fleet;
    let sources: Vec<Source<'_>> = groups
        .iter()
        .flat_map(|g| g.tenants.iter().map(move |i| Source { tenant: &fleet.tenants[*i], group: g }))
        .collect();
    // Comparisons on tenant-level attributes decide up front which sources
    // can match at all (the shared-log-group tenant filter).
    let tenant_fields = ["tenant_id", "kubernetes.namespace_name"];
    let sources: Vec<Source<'_>> = sources
        .into_iter()
        .filter(|s| {
            shape
                .comparisons
                .iter()
                .filter(|(f, _)| tenant_fields.contains(&f.as_str()))
                .all(|(f, v)| attribute(s, f, "").as_deref() == Some(v.as_str()))
        })
        .collect();
    let type_filter: Vec<&String> =
        shape.comparisons.iter().filter(|(f, _)| f == "error_type").map(|(_, v)| v).collect();
    let level_ok = shape.comparisons.iter().filter(|(f, _)| f == "level").all(|(_, v)| v == "ERROR");

    let now = call.now;
    let complete_before = now - now.rem_euclid(60);
    let oldest = complete_before - RETENTION_DAYS * 86_400;
    let first_minute = start.max(oldest).div_euclid(60) * 60;
    let last_minute = end.min(complete_before - 60).div_euclid(60) * 60;
    let (start_ms, end_ms) = (start.saturating_mul(1000), end.saturating_mul(1000).saturating_add(999));
    let row_limit = shape.limit.or(limit).unwrap_or(MAX_ROWS).min(limit.unwrap_or(MAX_ROWS)).min(MAX_ROWS);

    let mut matched = 0u64;
    let mut by_key: HashMap<Vec<String>, u64> = HashMap::new();
    let mut raw: Vec<Vec<(String, String)>> = Vec::new();
    if level_ok && !sources.is_empty() && first_minute <= last_minute {
        let count = ((last_minute - first_minute) / 60 + 1) as usize;
        for k in 0..count {
            let minute = if shape.ascending { first_minute + k as i64 * 60 } else { last_minute - k as i64 * 60 };
            let mut in_minute: Vec<(i64, usize, u64, &'static str)> = Vec::new();
            for (si, s) in sources.iter().enumerate() {
                let n = error_count(fleet, s.tenant, &call.region, minute);
                for j in 0..n {
                    let (h, offset, kind) = line(fleet, s.tenant, &call.region, minute, j);
                    let ts_ms = minute * 1000 + offset;
                    if ts_ms < start_ms || ts_ms > end_ms {
                        continue;
                    }
                    if !type_filter.is_empty() && !type_filter.iter().any(|t| t.as_str() == kind) {
                        continue;
                    }
                    matched += 1;
                    if let Some(a) = &shape.aggregate {
                        let s = &sources[si];
                        let key: Vec<String> =
                            a.by.iter()
                                .map(|f| match f.as_str() {
                                    "@log" => format!("{}:{}", s.tenant.account, s.group.name),
                                    _ => attribute(s, f, kind).unwrap_or_default(),
                                })
                                .collect();
                        *by_key.entry(key).or_insert(0) += 1;
                    } else if raw.len() < row_limit {
                        in_minute.push((offset, si, h, kind));
                    }
                }
            }
            if shape.aggregate.is_none() && raw.len() < row_limit {
                in_minute.sort_by_key(|(offset, si, h, _)| (*offset, *si, *h));
                if !shape.ascending {
                    in_minute.reverse();
                }
                for (offset, si, h, kind) in in_minute {
                    if raw.len() >= row_limit {
                        break;
                    }
                    raw.push(project(call, &sources[si], minute, h, offset, kind, &shape.fields));
                }
            }
        }
    }

    let rows = match &shape.aggregate {
        None => raw,
        Some(a) if a.by.is_empty() => vec![a.names.iter().map(|n| (n.clone(), matched.to_string())).collect()],
        Some(a) => {
            let mut counts: Vec<(Vec<String>, u64)> = by_key.into_iter().collect();
            counts.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
            counts
                .into_iter()
                .take(row_limit)
                .map(|(key, n)| {
                    let mut row: Vec<(String, String)> = a.by.iter().cloned().zip(key).collect();
                    row.extend(a.names.iter().map(|name| (name.clone(), n.to_string())));
                    row
                })
                .collect()
        }
    };
    QueryResult { rows, matched, scanned: scanned(call, groups, first_minute, last_minute) }
}

fn project(
    call: &Call<'_>,
    source: &Source<'_>,
    minute: i64,
    h: u64,
    offset: i64,
    kind: &str,
    fields: &[String],
) -> Vec<(String, String)> {
    let (doc, stream) = render_line(source, call, minute, h, offset, kind);
    let ts = chrono::DateTime::from_timestamp_millis(minute * 1000 + offset)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_default();
    let default_fields = ["@timestamp".to_string(), "@message".to_string()];
    let fields = if fields.is_empty() { &default_fields[..] } else { fields };
    let mut row: Vec<(String, String)> = Vec::new();
    for f in fields {
        let value = match f.as_str() {
            "@timestamp" => Some(ts.clone()),
            "@message" => Some(doc.to_string()),
            "@logStream" => Some(stream.clone()),
            "@log" => Some(format!("{}:{}", source.tenant.account, source.group.name)),
            "@ingestionTime" => Some(ts.clone()),
            other => lookup(&doc, other),
        };
        if let Some(v) = value {
            row.push((f.clone(), v));
        }
    }
    row.push(("@ptr".to_string(), format!("CmAKJwojOTk5OTk5OTk5OTk5Ok{h:016x}{offset:05}")));
    row
}

fn get_query_results(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    let id = str_field(input, "queryId")?.ok_or_else(|| invalid("queryId is required."))?;
    let mut queries = lock(&call.state.queries);
    let q = queries
        .by_id
        .get_mut(id)
        .filter(|q| q.account == call.caller.account && q.region == call.region)
        .ok_or_else(|| not_found(format!("Query {id} does not exist.")))?;
    let status = if q.cancelled {
        "Cancelled"
    } else if q.running() {
        "Running"
    } else {
        "Complete"
    };
    let done = status == "Complete";
    let results: Vec<Value> = if done {
        q.rows
            .iter()
            .map(|row| Value::Array(row.iter().map(|(f, v)| json!({ "field": f, "value": v })).collect()))
            .collect()
    } else {
        Vec::new()
    };
    // Statistics are of the whole query once it is complete; a running
    // query's show the progress so far, here none yet.
    let (matched, scanned) = if done { (q.matched, q.scanned) } else { (0, Scanned::default()) };
    Ok(Reply::Json(json!({
        "queryLanguage": "CWLI",
        "status": status,
        "results": results,
        "statistics": {
            "recordsMatched": matched as f64,
            "recordsScanned": scanned.records as f64,
            "bytesScanned": scanned.bytes as f64,
            "logGroupsScanned": q.groups as f64,
        },
    })))
}

fn stop_query(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    let id = str_field(input, "queryId")?.ok_or_else(|| invalid("queryId is required."))?;
    let mut queries = lock(&call.state.queries);
    let q = queries
        .by_id
        .get_mut(id)
        .filter(|q| q.account == call.caller.account && q.region == call.region)
        .ok_or_else(|| not_found(format!("Query {id} does not exist.")))?;
    let success = q.running();
    if success {
        q.cancelled = true;
    }
    Ok(Reply::Json(json!({ "success": success })))
}

fn describe_log_groups(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    let prefix = str_field(input, "logGroupNamePrefix")?;
    let pattern = str_field(input, "logGroupNamePattern")?;
    if prefix.is_some() && pattern.is_some() {
        return Err(invalid("logGroupNamePrefix and logGroupNamePattern are mutually exclusive."));
    }
    let limit = match int_field(input, "limit")? {
        None => 50,
        Some(n) if (1..=50).contains(&n) => n as usize,
        Some(n) => return Err(invalid(format!("limit must be between 1 and 50, got {n}."))),
    };
    // Cross-account observability (DescribeLogGroups, CloudWatch Logs API
    // Reference): "If you are using a monitoring account, set this to
    // true to have the operation return log groups in the accounts listed
    // in accountIdentifiers. If this parameter is set to true and
    // accountIdentifiers contains a null value, the operation returns all
    // log groups in the monitoring account and all log groups in all
    // source accounts that are linked to the monitoring account." The
    // default is false: only the caller's own groups. Where the reference
    // leaves room, the less convenient reading: `accountIdentifiers`
    // without `includeLinkedAccounts` is ignored (the caller's own groups
    // only); with it, only the accounts listed are searched (the caller's
    // own groups too only if it lists itself; an empty list, which is not
    // "a null value", searches none); a listed account that is not
    // linked, or shares no log groups, contributes nothing.
    let include_linked = match input.get("includeLinkedAccounts") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::new(400, "SerializationException", "includeLinkedAccounts must be a boolean")),
    };
    let listed = str_list(input, "accountIdentifiers")?;
    if let Some(ids) = &listed {
        // "Array Members: Minimum number of 0 items. Maximum number of 20
        // items. Length Constraints: Fixed length of 12. Pattern: ^\d{12}$"
        if ids.len() > 20 {
            return Err(invalid("accountIdentifiers can include at most 20 account IDs."));
        }
        if let Some(bad) = ids.iter().find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit())) {
            return Err(invalid(format!("accountIdentifiers: '{bad}' is not a 12-digit account ID.")));
        }
    }
    let caller = call.caller.account.as_str();
    let mut accounts: Vec<&str> = Vec::new();
    match (&listed, include_linked) {
        (_, false) => accounts.push(caller),
        (Some(ids), true) => accounts.extend(ids.iter().map(String::as_str)),
        (None, true) => {
            accounts.push(caller);
            let linked = crate::oam::attached_links(&call.state.fleet, &call.state.knobs(), &call.region);
            accounts.extend(linked.into_iter().map(|l| l.source));
        }
    }
    let mut groups: Vec<(&str, &LogGroup)> = Vec::new();
    for (i, account) in accounts.iter().enumerate() {
        let readable = *account == caller || crate::oam::shares(call, account, OAM_LOG_GROUP);
        if !readable || accounts[..i].contains(account) {
            continue;
        }
        groups.extend(call.state.fleet.log_groups(account, &call.region).iter().map(|g| (*account, g)));
    }
    // "The results are ASCII-sorted by log group name."
    groups.sort_by(|a, b| (&a.1.name, a.0).cmp(&(&b.1.name, b.0)));
    let groups: Vec<(&str, &LogGroup)> = groups
        .into_iter()
        .filter(|(_, g)| prefix.is_none_or(|p| g.name.starts_with(p)))
        .filter(|(_, g)| pattern.is_none_or(|p| g.name.to_lowercase().contains(&p.to_lowercase())))
        .collect();
    let fingerprint = hash_str(&format!("{prefix:?}|{pattern:?}|{limit}|{include_linked}|{listed:?}"));
    let offset = match str_field(input, "nextToken")? {
        None => 0,
        Some(t) => t
            .split_once('/')
            .filter(|(fp, _)| *fp == format!("{fingerprint:016x}"))
            .and_then(|(_, o)| o.parse::<usize>().ok())
            .ok_or_else(|| invalid("The specified nextToken is invalid."))?,
    };
    let page: Vec<Value> = groups
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(account, g)| {
            let arn = format!("arn:aws:logs:{}:{}:log-group:{}", call.region, account, g.name);
            json!({
                "logGroupName": g.name,
                "creationTime": g.created * 1000,
                "retentionInDays": RETENTION_DAYS,
                "metricFilterCount": 0,
                "arn": format!("{arn}:*"),
                "logGroupArn": arn,
                "storedBytes": 1_000_000 + mix(&[hash_str(&g.name), 9]) % 5_000_000_000,
                "logGroupClass": "STANDARD",
            })
        })
        .collect();
    let mut out = json!({ "logGroups": page });
    let next = offset.saturating_add(limit);
    if next < groups.len() {
        out["nextToken"] = json!(format!("{fingerprint:016x}/{next}"));
    }
    Ok(Reply::Json(out))
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    const BREAKDOWN: &str = "fields @timestamp, error_type\n| filter level = \"ERROR\" and tenant_id = \"umbrella\"\n| stats count(*) as errors by error_type\n| sort errors desc\n| limit 20\n";
    const RECENT: &str =
        "fields @timestamp, @message\n| filter level = \"ERROR\"\n| sort @timestamp desc\n| limit 50\n";

    #[test]
    fn catalog_queries_are_recognised() {
        let s = parse_shape(BREAKDOWN);
        assert_eq!(s.aggregate, Some(Aggregate { names: vec!["errors".into()], by: vec!["error_type".into()] }));
        let packed = parse_shape("stats count(*) as errors, count(*) as n by @log, `error_type`\n| sort errors desc");
        let want = Aggregate { names: vec!["errors".into(), "n".into()], by: vec!["@log".into(), "error_type".into()] };
        assert_eq!(packed.aggregate, Some(want));
        assert_eq!(s.limit, Some(20));
        assert_eq!(
            s.comparisons,
            vec![("level".to_string(), "ERROR".to_string()), ("tenant_id".to_string(), "umbrella".to_string())]
        );
        let r = parse_shape(RECENT);
        assert_eq!(r.aggregate, None);
        assert_eq!(r.fields, vec!["@timestamp", "@message"]);
        assert_eq!(r.limit, Some(50));
        assert!(!r.ascending);
    }

    #[test]
    fn tenant_filter_values_are_unescaped() {
        let c = comparisons(r#"filter level = "ERROR" and kubernetes.namespace_name = "a\"b\\c" and x != "y""#);
        assert_eq!(
            c,
            vec![
                ("level".to_string(), "ERROR".to_string()),
                ("kubernetes.namespace_name".to_string(), "a\"b\\c".to_string())
            ]
        );
    }

    #[test]
    fn identifier_arns_name_their_account_and_group() {
        assert_eq!(
            arn_account("eu-west-1:123456789012:log-group:/a/app:*", "eu-west-1"),
            Some(("123456789012", "/a/app:*"))
        );
        assert_eq!(arn_account("eu-west-1:123456789012:log-group:/a", "us-east-1"), None, "another region");
        assert_eq!(arn_account("eu-west-1:999:log-group:/a", "eu-west-1"), None, "not an account id");
    }
}
