//! The view models: what the console, the CLI's `--json` output and (later)
//! reports show. They cross the IPC boundary as JSON, and ts-rs generates
//! their TypeScript twins into `ui/src/bindings/` so the UI cannot drift.
//!
//! Times are epoch milliseconds (UTC) everywhere a view sees them.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A tenant's (or region's) health, worst last so `max()` folds correctly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Health {
    Ok,
    Unknown,
    Degraded,
    Critical,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Unknown => "unknown",
            Health::Degraded => "degraded",
            Health::Critical => "critical",
        }
    }

    /// Sort key for "worst first": critical, degraded, unknown, ok.
    pub fn severity(self) -> u8 {
        match self {
            Health::Critical => 3,
            Health::Degraded => 2,
            Health::Unknown => 1,
            Health::Ok => 0,
        }
    }
}

/// One tenant in one region: the row of the Fleet view and of `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TenantHealth {
    pub tenant: String,
    /// Display name: untrusted text, escape wherever it is shown.
    pub name: String,
    pub tier: String,
    pub model: String,
    pub region: String,
    pub health: Health,
    /// Why the health is what it is, one sentence each, worst first.
    pub reasons: Vec<String>,
    /// The catalog metric that best shows the problem (or traffic when fine).
    pub focus_metric: Option<String>,
    /// When the newest datapoint for this tenant-region was committed.
    #[ts(type = "number | null")]
    pub fresh_at: Option<i64>,
    /// Its health at the sync before, when it was different (the row
    /// changed since then); `None` when unchanged or new.
    pub was: Option<Health>,
}

/// What changed since the sync before the last: "since 10:05: 2 new
/// critical, 1 recovered". Counted per tenant-region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HealthChanges {
    /// Epoch ms: when the sync compared with assessed health.
    #[ts(type = "number")]
    pub since: i64,
    /// Critical now, not then.
    pub new_critical: u32,
    /// Degraded now, ok or unknown then.
    pub new_degraded: u32,
    /// Ok now, degraded or critical then.
    pub recovered: u32,
    /// Any other change (critical to degraded, to or from unknown...).
    pub other: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HealthCounts {
    pub ok: u32,
    pub degraded: u32,
    pub critical: u32,
    pub unknown: u32,
}

/// The landing view: every tenant-region, worst first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FleetOverview {
    pub fleet_name: String,
    /// True on the built-in simulated fleet: the UI shows a DEMO banner.
    pub demo: bool,
    /// Counted per tenant (its worst region), not per row.
    pub counts: HealthCounts,
    pub rows: Vec<TenantHealth>,
    /// Finish time of the last sync that committed anything.
    #[ts(type = "number | null")]
    pub last_sync: Option<i64>,
    /// Things the user must know that are not a tenant's health, e.g. "the
    /// cache file was unreadable and was moved aside".
    pub notices: Vec<String>,
    /// Tenants per health state within each tier and each region (a tenant
    /// counts once per group, at its worst region in it).
    pub by_tier: Vec<GroupHealth>,
    pub by_region: Vec<GroupHealth>,
    /// Alarms in ALARM now, across the fleet.
    pub open_alarms: u32,
    /// Anomaly episodes that began in the last 24 hours.
    pub anomalies_24h: u32,
    /// The whole fleet's cost (untagged spend included).
    pub cost: CostFigures,
    /// What changed since the sync before the last; `None` after a first
    /// sync.
    pub changes: Option<HealthChanges>,
}

/// Health counts of one tier or region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct GroupHealth {
    pub group: String,
    pub counts: HealthCounts,
}

/// The Fleet view's heatmap: each tenant-region's health over time, one
/// cell per bucket, from the cache's evidence (alarms in ALARM, anomaly
/// episodes, hourly means over the catalog's thresholds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Heatmap {
    /// Epoch ms: the first bucket's start, and the end of the last.
    #[ts(type = "number")]
    pub since: i64,
    #[ts(type = "number")]
    pub until: i64,
    #[ts(type = "number")]
    pub bucket_ms: i64,
    pub rows: Vec<HeatmapRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HeatmapRow {
    pub tenant: String,
    pub region: String,
    /// One character per bucket, oldest first: `.` no data, `o` ok, `u`
    /// unknown, `d` degraded, `c` critical. Compact: 1,000 tenants x 3
    /// regions x 48 buckets cross IPC as 144 KB.
    pub cells: String,
}

/// A chart rendered by plotters in Rust. `svg` is a complete SVG document in
/// which every piece of text is escaped; the UI shows it as an image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Chart {
    pub title: String,
    pub unit: String,
    pub svg: String,
    pub points: u32,
    /// Seconds per drawn point when the chart shows hourly or daily
    /// summaries (a band from each bucket's lowest to highest value around
    /// its mean); 0 for raw points.
    pub resolution: u32,
    /// The time range drawn, epoch ms, and where it lies in the image: the
    /// plot area's left and right edges in image pixels. The UI maps a
    /// brushed span of pixels back to times with these.
    #[ts(type = "number")]
    pub from: i64,
    #[ts(type = "number")]
    pub to: i64,
    pub plot_left: u32,
    pub plot_right: u32,
    /// Anomaly episodes shaded in the range.
    pub anomalies: u32,
    /// What the lines and rules are, for people ("fleet median: premium
    /// tenants in eu-west-1, hourly").
    pub notes: Vec<String>,
}

/// What a chart request asks for. Validated by the engine: the range is
/// bounded, and so is the size.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ChartRequest {
    pub tenant: String,
    pub region: String,
    /// A catalog metric key, e.g. `errors`.
    pub metric: String,
    /// CSS pixels; the series is downsampled to this width.
    pub width: u32,
    pub height: u32,
    /// How far back from now, in hours (default 6). Ignored when `from`
    /// and `to` are given.
    #[ts(optional)]
    pub hours: Option<u32>,
    /// An explicit range, epoch ms (a brushed span).
    #[ts(optional, type = "number")]
    pub from: Option<i64>,
    #[ts(optional, type = "number")]
    pub to: Option<i64>,
    /// Draw for a dark background (the chart is an image; CSS cannot restyle it).
    pub dark: bool,
    /// Time axis offset from UTC in minutes (the viewer's local time);
    /// absent or 0 labels it UTC.
    #[ts(optional)]
    pub utc_offset_min: Option<i32>,
    /// Draw the median of the same metric across the tenant's tier in that
    /// region beside it.
    #[ts(optional)]
    pub fleet_median: Option<bool>,
}

/// The daily cost chart: one tenant's, or the whole fleet's, stacked by
/// service (the largest five, the rest as "other").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CostChartRequest {
    /// None for the whole fleet.
    pub tenant: Option<String>,
    /// Days back from yesterday (closed days): 7 to 400.
    pub days: u32,
    pub width: u32,
    pub height: u32,
    pub dark: bool,
}

/// A chart the UI wants saved as a file: which chart, and PNG or SVG.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ChartExport {
    /// A metric chart, or...
    #[ts(optional)]
    pub metric: Option<ChartRequest>,
    /// ...a cost chart.
    #[ts(optional)]
    pub cost: Option<CostChartRequest>,
    /// png | svg
    pub format: String,
}

/// What an [`Incident`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum IncidentKind {
    /// A metric's anomaly episode.
    Anomaly,
    /// An alarm's time in ALARM.
    Alarm,
    /// A cost anomaly (a day's cost of one service against its baseline).
    Cost,
    /// A tenant apart from its tier.
    Peer,
    /// A shift of a whole region, tier or fleet (tenant `*`).
    Fleet,
    /// Error lines in the tenant's logs, counted by its triage query: only
    /// ever evidence inside another incident.
    Logs,
    /// A noisy neighbour: the tenant whose load rose while its pool-mates
    /// slowed down with it (inside their incidents too).
    Neighbour,
}

impl IncidentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::Anomaly => "anomaly",
            IncidentKind::Alarm => "alarm",
            IncidentKind::Cost => "cost",
            IncidentKind::Peer => "peer",
            IncidentKind::Fleet => "fleet",
            IncidentKind::Logs => "logs",
            IncidentKind::Neighbour => "neighbour",
        }
    }
}

impl std::fmt::Display for IncidentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `kind == "alarm"`: the wire name, as the UI and exports spell it.
impl PartialEq<&str> for IncidentKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One entry of the incident timeline: an anomaly episode of a metric, or
/// an alarm's time in ALARM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Incident {
    pub tenant: String,
    pub region: String,
    pub kind: IncidentKind,
    /// The catalog metric key of an anomaly (`errors`), the alarm's name, the
    /// AWS service of a cost anomaly.
    pub subject: String,
    /// Epoch ms.
    #[ts(type = "number")]
    pub start: i64,
    /// Epoch ms; None while it is still going on (for an alarm: no change
    /// out of ALARM seen yet).
    #[ts(type = "number | null")]
    pub end: Option<i64>,
    /// One line for people: the anomaly's explanation ("5xx errors 45x its
    /// usual level ..."), or the alarm's state change. Untrusted text for
    /// alarms (their names come from the tenant's account): escape it.
    pub title: String,
    /// The other signals of the same problem (same tenant-region, started
    /// within minutes of this one), in the Incidents view; empty elsewhere.
    #[serde(default)]
    pub evidence: Vec<Incident>,
}

/// Streamed while a sync runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SyncProgress {
    /// credentials | metrics | alarms | logs | cost | analysis | done
    pub phase: String,
    pub done: u32,
    pub total: u32,
    pub message: String,
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SyncSummary {
    #[ts(type = "number")]
    pub started_at: i64,
    #[ts(type = "number")]
    pub finished_at: i64,
    pub sources_ok: u32,
    pub sources_failed: u32,
    #[ts(type = "number")]
    pub datapoints: u64,
    pub api_calls: u32,
    pub dollars: f64,
    /// One line per failed source: "acme us-east-1 metrics: access denied (...)".
    pub errors: Vec<String>,
    /// AWS could not be reached at all (no connection): the console tries
    /// again soon instead of at the usual interval. Not stored.
    #[serde(default)]
    pub unreachable: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SyncState {
    /// Started with --offline: the console never syncs.
    pub offline: bool,
    pub running: bool,
    pub progress: Option<SyncProgress>,
    pub last: Option<SyncSummary>,
}

/// The one error type that crosses IPC. The UI branches on `code`, never on
/// `message`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct IpcError {
    pub code: IpcCode,
    pub message: String,
}

impl IpcError {
    pub fn new(code: IpcCode, message: impl ToString) -> IpcError {
        IpcError { code, message: message.to_string() }
    }
}

/// How the last read of a source went. `as_str` is what the cache stores
/// and `status --json`, `check --json` and the window show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SourceStatus {
    Ok,
    /// The role, the action or the base identity is refused.
    AccessDenied,
    /// AWS throttled the reads past the retries.
    Throttled,
    /// The credentials expired.
    Expired,
    /// The laptop's clock is too far from AWS's for signatures to hold.
    ClockSkew,
    /// AWS could not be reached (network, endpoint, region not enabled).
    Unreachable,
    /// The base identity has no credentials to sign with (an SSO profile
    /// not logged in, a profile that does not exist, none configured):
    /// nothing was sent.
    NoCredentials,
    /// Nothing to read: no log group, no payer account...
    NotConfigured,
    /// Anything else AWS or the read itself failed with.
    Error,
}

impl SourceStatus {
    pub const ALL: [SourceStatus; 9] = [
        SourceStatus::Ok,
        SourceStatus::AccessDenied,
        SourceStatus::Throttled,
        SourceStatus::Expired,
        SourceStatus::ClockSkew,
        SourceStatus::Unreachable,
        SourceStatus::NoCredentials,
        SourceStatus::NotConfigured,
        SourceStatus::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceStatus::Ok => "ok",
            SourceStatus::AccessDenied => "access_denied",
            SourceStatus::Throttled => "throttled",
            SourceStatus::Expired => "expired",
            SourceStatus::ClockSkew => "clock_skew",
            SourceStatus::Unreachable => "unreachable",
            SourceStatus::NoCredentials => "no_credentials",
            SourceStatus::NotConfigured => "not_configured",
            SourceStatus::Error => "error",
        }
    }

    /// For people: `access denied`.
    pub fn label(self) -> String {
        self.as_str().replace('_', " ")
    }

    /// A stored status; one this build does not know reads as `error`.
    pub fn parse(s: &str) -> SourceStatus {
        SourceStatus::ALL.into_iter().find(|v| v.as_str() == s).unwrap_or(SourceStatus::Error)
    }
}

impl std::fmt::Display for SourceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `status == "access_denied"`: the stored name.
impl PartialEq<&str> for SourceStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What kind of failure an [`IpcError`] is. The UI's type for it is this
/// enum, exported by ts-rs: a code the UI names that the shell cannot send
/// fails `npm run build`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum IpcCode {
    /// The request itself is wrong (a bad argument from the window).
    BadRequest,
    /// No such tenant, series or file in the cache.
    NotFound,
    /// A sync is already running.
    SyncRunning,
    /// The cache could not be read or written.
    Cache,
    /// A bug: the message says what failed.
    Internal,
    /// The fleet file, catalog or cache could not be opened: nothing works until fixed.
    Setup,
    /// Started with --offline: no sync, no AWS call.
    Offline,
    /// An on-demand AWS read failed (the message says why and how to fix it).
    Aws,
}

/// The Sources view: every source of every tenant-region with its status, and
/// what the last sync cost. Tenant names and AWS errors are untrusted text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SourcesView {
    pub rows: Vec<SourceRow>,
    /// The last sync's API calls and list-price dollars, per service.
    pub calls: Vec<ServiceCalls>,
    pub last_sync: Option<SyncSummary>,
    /// What keeping the console open costs, and what the budget changed.
    pub spend: ApiSpend,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SourceRow {
    /// `*` for the fleet-wide cost source.
    pub tenant: String,
    pub name: String,
    /// `*` when the source is per account (credentials) or fleet-wide (cost).
    pub region: String,
    /// credentials | metrics | alarms | logs | cost
    pub source: String,
    pub status: SourceStatus,
    pub error: Option<String>,
    pub remediation: Option<String>,
    /// What it found, where that says more than "ok": the resources a
    /// `tags` source found by the tenant's tag. Untrusted text.
    pub detail: Option<String>,
    /// Epoch ms of the last sync that read it without error.
    #[ts(type = "number | null")]
    pub last_ok: Option<i64>,
    /// Epoch ms of the last sync that tried.
    #[ts(type = "number | null")]
    pub last_attempt: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ServiceCalls {
    /// cloudwatch, logs, ce, sts...
    pub service: String,
    pub calls: u32,
    pub dollars: f64,
}

/// The Cost view: per tenant, this month against last month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CostView {
    /// The day "month to date" runs to (UTC, YYYY-MM-DD).
    pub today: String,
    pub rows: Vec<TenantCostRow>,
    /// Spend no tenant tag or account claims.
    pub untagged: CostFigures,
    pub total: CostFigures,
    /// The whole fleet's spend per AWS service, largest this month first.
    pub services: Vec<ServiceCost>,
    /// Cost anomalies of the last 14 days, newest first.
    pub anomalies: Vec<Incident>,
    /// The anomalies new or changed (ended) since the sync before, as
    /// `tenant/service/start` (the start in epoch ms); empty after a first
    /// sync, and after a sync that changed none.
    pub changed: Vec<String>,
    /// How pooled infrastructure is shared out, when the fleet file says.
    pub apportion: Option<ApportionView>,
    /// The usage metric cost per unit is measured in (`requests`).
    pub usage_metric: String,
    /// Set while the bill is not read whole: a big fleet's first read
    /// stops when the rest of the sync is done and the next sync resumes
    /// it. Says what is missing (last month's days, usually).
    pub reading: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TenantCostRow {
    pub tenant: String,
    /// Untrusted text.
    pub name: String,
    pub tier: String,
    pub model: String,
    /// What the tenant's own tag or account carries.
    pub cost: CostFigures,
    /// Its share of pooled infrastructure this month (untagged spend
    /// apportioned by its share of the daily usage); 0 without `[apportion]`.
    pub apportioned: f64,
    /// Its use of the usage metric per day at this month's measured rate,
    /// where measured.
    pub usage: Option<f64>,
    /// The month's forecast (its share of pooled infrastructure included)
    /// per million units of the month's usage at that rate.
    pub cost_per_million: Option<f64>,
    /// Its own account is on no line of the payer's bill (a customer-owned
    /// account outside the organization): "not on your bill", not $0.
    pub not_on_bill: bool,
}

/// The chargeback at work this month: each pool's untagged spend shared
/// out to the tenants living in it, and the overhead no tenant pays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ApportionView {
    /// The usage metric pools are shared out by...
    pub metric: String,
    /// ...except these models' (`eks: pods`).
    pub by_model: Vec<String>,
    /// The untagged services shared out; empty means all untagged spend.
    pub services: Vec<String>,
    /// The pools' untagged spend shared out, month to date.
    pub shared_month_to_date: f64,
    /// Tenants that carry a share.
    pub tenants: u32,
    /// Accounts shared by several tenants that have untagged spend.
    pub pools: u32,
    /// Untagged spend of accounts no tenant lives in (payer, security,
    /// tooling), and of services not shared out: shown, not charged.
    pub overhead_month_to_date: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CostFigures {
    pub month_to_date: f64,
    pub last_month: f64,
    /// Month-end forecast from the last 7 closed days' run rate.
    pub forecast: f64,
    /// Forecast against last month, as a fraction (0.25 = +25 %); null
    /// without a last month.
    pub change: Option<f64>,
}

/// A table the UI wants saved as CSV: its name (for the file name), header
/// and rows, all as text. Validated: bounded size, one cell per column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CsvExport {
    pub name: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The Incidents view: one timeline of anomalies and alarm episodes across
/// the fleet, newest first, with tenant names to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct IncidentsView {
    /// Epoch ms: the window shown.
    #[ts(type = "number")]
    pub since: i64,
    #[ts(type = "number")]
    pub until: i64,
    pub incidents: Vec<Incident>,
    /// Tenant id -> display name (untrusted text).
    pub names: std::collections::BTreeMap<String, String>,
    /// Epoch ms: when the sync before the last assessed the fleet; an
    /// incident that began since is new, one that ended since is over.
    /// `None` after a first sync.
    #[ts(type = "number | null")]
    pub changed_since: Option<i64>,
}

/// The Tenant view: everything about one tenant an on-call engineer or an
/// account manager opens it for. Names, alarm reasons and log lines are
/// untrusted text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TenantView {
    pub tenant: TenantInfo,
    /// Health in each region the tenant runs in, home region first.
    pub regions: Vec<TenantHealth>,
    /// The catalog metrics charted for this tenant's isolation model.
    pub metrics: Vec<MetricInfo>,
    pub alarms: Vec<AlarmInfo>,
    /// The triage queries' latest results per region.
    pub logs: Vec<LogPanel>,
    /// The catalog's triage queries, runnable on demand.
    pub log_queries: Vec<LogQueryInfo>,
    /// This tenant's incidents of the last 7 days, newest first.
    pub incidents: Vec<Incident>,
    pub cost: CostFigures,
    /// Month to date and last month per AWS service, largest first.
    pub cost_services: Vec<ServiceCost>,
    /// The month's forecast per million of the month's requests at the
    /// rate measured so far, where requests are measured.
    pub cost_per_million_requests: Option<f64>,
    /// Its account is not on the payer's bill: its cost is unknown here.
    pub cost_not_on_bill: bool,
    /// AWS console links that switch into the tenant's role and region.
    pub console: Vec<ConsoleLink>,
    /// Its resources found by the cost allocation tag (every region), and
    /// that tag's key; empty for a tenant whose fleet-file entry names them.
    pub resources: Vec<crate::tags::ResourceInfo>,
    pub resource_tag: String,
    /// Epoch ms of the newest datapoint of any region.
    #[ts(type = "number | null")]
    pub fresh_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TenantInfo {
    pub id: String,
    /// Untrusted text.
    pub name: String,
    pub tier: String,
    pub model: String,
    pub account: String,
    pub home_region: String,
    pub regions: Vec<String>,
    /// Data-residency rules apply: raw log lines are not cached.
    pub residency: bool,
    /// False once the tenant has left the fleet file (its history stays).
    pub active: bool,
    /// The monitoring account its metrics and logs are read through
    /// (CloudWatch cross-account observability); `None`: its own role.
    pub monitoring_account: Option<String>,
    /// Read only through the monitoring account, with no role of its own:
    /// the alarms in its own account are not visible (a link shares
    /// metrics and logs, not alarms); only the monitoring account's alarms
    /// on its metrics are.
    pub own_alarms_hidden: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MetricInfo {
    pub key: String,
    pub label: String,
    pub unit: String,
    pub warn_above: Option<f64>,
    pub critical_above: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AlarmInfo {
    pub region: String,
    /// Untrusted text (from the tenant's account), as is `reason`.
    pub name: String,
    /// OK | ALARM | INSUFFICIENT_DATA
    pub state: String,
    pub reason: String,
    #[ts(type = "number | null")]
    pub since: Option<i64>,
    /// The catalog metric the alarm watches, when it watches one.
    pub metric: Option<String>,
    pub threshold: Option<f64>,
}

/// One triage query's result for one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LogPanel {
    pub region: String,
    pub query: String,
    pub label: String,
    /// Epoch ms: the window the query ran over.
    #[ts(type = "number")]
    pub window_start: i64,
    #[ts(type = "number")]
    pub window_end: i64,
    pub columns: Vec<String>,
    /// Untrusted text.
    pub rows: Vec<Vec<String>>,
    pub records_matched: f64,
    /// Logs Insights cut the result (10,000 rows, or the query's limit).
    pub truncated: bool,
    /// Raw lines were not kept (data residency): only the count is.
    pub withheld: bool,
    /// Part of the log groups could not be queried: how many and why
    /// (the result is the other groups' answer).
    pub partial: Option<String>,
    /// Epoch ms the result was read.
    #[ts(type = "number")]
    pub read_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LogQueryInfo {
    pub key: String,
    pub label: String,
}

/// Run one triage query now, over the last `hours` (1 to 168) or an
/// explicit range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LogsRequest {
    pub tenant: String,
    pub region: String,
    pub query: String,
    pub hours: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ServiceCost {
    pub service: String,
    pub month_to_date: f64,
    pub last_month: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ConsoleLink {
    pub region: String,
    /// What the link opens ("CloudWatch alarms", "Logs Insights").
    pub label: String,
    /// The console page; opening it signs in first (`open_console`).
    pub url: String,
}

/// The viewer's own preferences, kept on this machine (not in the fleet
/// file, which a team shares).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(default)]
pub struct Settings {
    /// Minutes between automatic syncs, 1 to 60.
    pub sync_minutes: u32,
    pub theme: Theme,
    /// The charts' and tables' time zone.
    pub time_zone: TimeZone,
    /// A desktop notification when a tenant turns critical. Off unless
    /// asked for: on-call already has a pager, and a console that pings on
    /// every blip is muted by the second day.
    pub notify_critical: bool,
    /// The most this console's API calls may cost a month, in dollars at
    /// list prices; none when unset. The fleet file's
    /// `monthly_api_budget`, if lower, wins ([`crate::spend`]).
    pub monthly_api_budget: Option<f64>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            sync_minutes: 5,
            theme: Theme::System,
            time_zone: TimeZone::Utc,
            notify_critical: false,
            monthly_api_budget: None,
        }
    }
}

/// What keeping the console open costs in API calls at list prices, and
/// what the budget does about it ([`crate::spend`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ApiSpend {
    /// What the syncs of the last 24 hours cost.
    pub last_24h_dollars: f64,
    pub last_24h_syncs: u32,
    /// The sync interval the projection is for.
    pub interval_minutes: u32,
    /// Every tenant-region read every sync at that interval.
    pub per_day: f64,
    pub per_month: f64,
    /// Dollars a month, and whose: "the fleet file" or "your settings".
    pub budget: Option<f64>,
    pub budget_from: Option<String>,
    /// Set when the projection exceeds the budget: how often healthy
    /// tenant-regions are read instead, and what that costs a month.
    pub healthy_every_minutes: Option<u32>,
    pub stretched_per_month: Option<f64>,
    /// Tenant-regions last assessed healthy, and the others.
    pub healthy: u32,
    pub unhealthy: u32,
    /// The sentence that says what the budget changed, when it did.
    pub note: Option<String>,
}

/// The console's colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Theme {
    /// As the desktop is set.
    System,
    Light,
    Dark,
}

/// The time zone times are shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum TimeZone {
    Utc,
    /// The laptop's.
    Local,
}

/// The Settings view: the preferences, and where everything lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SettingsView {
    pub settings: Settings,
    /// Where the preferences are saved.
    pub settings_path: String,
    /// The fleet file, or "built-in simulated fleet".
    pub fleet_source: String,
    pub fleet_name: String,
    pub tenants: u32,
    pub cache_path: String,
    #[ts(type = "number")]
    pub cache_bytes: u64,
    pub log_dir: Option<String>,
    /// The fleet file's `[retention]`, in days.
    pub retention: Vec<RetentionLine>,
    /// What keeping the console open costs, and what the budget changed.
    pub spend: ApiSpend,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RetentionLine {
    /// The fleet file key, e.g. `raw_days`.
    pub key: String,
    pub what: String,
    pub days: u32,
}
