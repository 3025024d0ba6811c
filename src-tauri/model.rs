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
}

/// What a chart request asks for. Validated by the engine: the range is
/// bounded, and so is the size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ChartRequest {
    pub tenant: String,
    pub region: String,
    /// A catalog metric key, e.g. `errors`.
    pub metric: String,
    /// CSS pixels; the series is downsampled to this width.
    pub width: u32,
    pub height: u32,
    /// How far back from now, in hours (default 6).
    #[ts(optional)]
    pub hours: Option<u32>,
    /// Draw for a dark background (the chart is an image; CSS cannot restyle it).
    pub dark: bool,
}

/// One entry of the incident timeline: an anomaly episode of a metric, or
/// an alarm's time in ALARM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Incident {
    pub tenant: String,
    pub region: String,
    /// anomaly | alarm | cost
    pub kind: String,
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
    pub running: bool,
    pub progress: Option<SyncProgress>,
    pub last: Option<SyncSummary>,
}

/// The one error type that crosses IPC. The UI branches on `code`, never on
/// `message`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct IpcError {
    /// bad_request | not_found | sync_running | cache | setup | internal
    pub code: String,
    pub message: String,
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
    /// ok | access_denied | throttled | expired | unreachable | not_configured | error
    pub status: String,
    pub error: Option<String>,
    pub remediation: Option<String>,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TenantCostRow {
    pub tenant: String,
    /// Untrusted text.
    pub name: String,
    pub tier: String,
    pub model: String,
    pub cost: CostFigures,
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
}
