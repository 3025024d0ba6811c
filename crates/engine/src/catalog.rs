//! The query catalog (`queries/`): which CloudWatch metrics make up a
//! tenant's health per isolation model, how health folds its reasons
//! (`health.toml`), the Logs Insights triage queries, and the SQL the views
//! read. A built-in copy is compiled in; `--queries DIR` replaces any of its
//! files with the user's own, read at run time.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_spanned::Spanned;

use crate::input::{InputError, Problem, Problems};
use crate::model::Health;

/// How a tenant is isolated, which decides where its telemetry lives
/// (the README's "Isolation models").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Model {
    /// Account per tenant.
    Silo,
    /// Remote application plane: the customer's own account and role.
    Remote,
    /// VPC or subnet per tenant in a shared account, resources tagged.
    Shared,
    /// Namespace per tenant on EKS (Container Insights `Namespace`).
    Eks,
    /// Application-level tenancy: a `TenantId`-style dimension and log field.
    Pooled,
}

impl Model {
    pub const ALL: [Model; 5] = [Model::Silo, Model::Remote, Model::Shared, Model::Eks, Model::Pooled];

    pub fn as_str(self) -> &'static str {
        match self {
            Model::Silo => "silo",
            Model::Remote => "remote",
            Model::Shared => "shared",
            Model::Eks => "eks",
            Model::Pooled => "pooled",
        }
    }

    pub fn parse(s: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Does the tenant own the whole account (so every alarm there is its)?
    pub fn owns_account(self) -> bool {
        matches!(self, Model::Silo | Model::Remote)
    }

    /// The dimension whose value names the tenant, defaulted to the tenant id.
    pub(crate) fn tenant_dimension(self) -> Option<&'static str> {
        match self {
            Model::Eks => Some("Namespace"),
            Model::Pooled => Some("TenantId"),
            _ => None,
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The built-in catalog, file name -> text.
const BUILTIN: &[(&str, &str)] = &[
    ("metrics.toml", include_str!("../../../queries/metrics.toml")),
    ("logs.toml", include_str!("../../../queries/logs.toml")),
    ("health.toml", include_str!("../../../queries/health.toml")),
    ("views/fleet_health.sql", include_str!("../../../queries/views/fleet_health.sql")),
    ("views/series_points.sql", include_str!("../../../queries/views/series_points.sql")),
    ("views/series_rollup.sql", include_str!("../../../queries/views/series_rollup.sql")),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    pub metrics: Vec<MetricSpec>,
    pub logs: Vec<LogsQuery>,
    pub health: HealthRules,
    pub views: ViewSql,
}

/// One CloudWatch metric fetched per tenant and region.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSpec {
    pub key: String,
    pub label: String,
    pub unit: String,
    pub models: Vec<Model>,
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<String>,
    /// A CloudWatch statistic: `Sum`, `Average`, ... or a percentile `p99`.
    pub stat: String,
    pub period: u32,
    pub warn_above: Option<f64>,
    pub critical_above: Option<f64>,
    /// How many of the newest datapoints the thresholds are judged on.
    pub window: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogsQuery {
    pub key: String,
    pub label: String,
    pub query: String,
    pub raw_lines: bool,
}

/// The SQL each view runs against the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewSql {
    pub fleet_health: String,
    pub series_points: String,
    pub series_rollup: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    #[serde(default)]
    metric: Vec<Spanned<RawMetric>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetric {
    key: Spanned<String>,
    label: String,
    unit: Spanned<String>,
    models: Spanned<Vec<String>>,
    namespace: Spanned<String>,
    name: Spanned<String>,
    #[serde(default)]
    dimensions: Vec<String>,
    stat: Spanned<String>,
    period: Spanned<u32>,
    warn_above: Option<f64>,
    critical_above: Option<Spanned<f64>>,
    window: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogs {
    #[serde(default)]
    query: Vec<Spanned<RawLogsQuery>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogsQuery {
    key: Spanned<String>,
    label: String,
    query: Spanned<String>,
    #[serde(default)]
    raw_lines: bool,
}

impl Catalog {
    /// The compiled-in catalog (the files under `queries/` of this release).
    pub fn builtin() -> Result<Catalog, InputError> {
        Catalog::load(None)
    }

    /// The built-in catalog with any file present in `dir` taking precedence.
    pub fn load(dir: Option<&Path>) -> Result<Catalog, InputError> {
        let read = |name: &str| -> Result<(PathBuf, String), InputError> {
            if let Some(dir) = dir {
                let path = dir.join(name);
                if path.exists() {
                    return std::fs::read_to_string(&path).map(|t| (path.clone(), t)).map_err(|e| InputError {
                        problems: vec![Problem {
                            file: path,
                            line: 1,
                            field: "(file)".into(),
                            message: format!("cannot read: {e}"),
                        }],
                    });
                }
            }
            let text = BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).unwrap_or_default();
            Ok((PathBuf::from(format!("<built-in>/queries/{name}")), text.to_string()))
        };
        let (mpath, mtext) = read("metrics.toml")?;
        let metrics = parse_metrics(&mpath, &mtext)?;
        let (lpath, ltext) = read("logs.toml")?;
        let logs = parse_logs(&lpath, &ltext)?;
        let (hpath, htext) = read("health.toml")?;
        let health = if hpath.starts_with("<built-in>") {
            HealthRules::builtin().clone()
        } else {
            parse_health(&hpath, &htext, Some(HealthRules::builtin()))?
        };
        let views = ViewSql {
            fleet_health: read("views/fleet_health.sql")?.1,
            series_points: read("views/series_points.sql")?.1,
            series_rollup: read("views/series_rollup.sql")?.1,
        };
        Ok(Catalog { metrics, logs, health, views })
    }

    pub fn metrics_for(&self, model: Model) -> impl Iterator<Item = &MetricSpec> {
        self.metrics.iter().filter(move |m| m.models.contains(&model))
    }

    pub fn metric(&self, model: Model, key: &str) -> Option<&MetricSpec> {
        self.metrics_for(model).find(|m| m.key == key)
    }
}

const STATS: &[&str] = &["Sum", "Average", "Maximum", "Minimum", "SampleCount"];
const UNITS: &[&str] = &["count", "seconds", "percent", "bytes"];

fn valid_stat(s: &str) -> bool {
    STATS.contains(&s) || s.strip_prefix('p').and_then(|n| n.parse::<f64>().ok()).is_some_and(|n| n > 0.0 && n < 100.0)
}

fn parse_metrics(path: &Path, text: &str) -> Result<Vec<MetricSpec>, InputError> {
    let raw: RawMetrics = toml::from_str(text).map_err(|e| Problems::from_toml(path, text, &e))?;
    let mut p = Problems::new(path, text);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, m) in raw.metric.into_iter().enumerate() {
        let m = m.into_inner();
        let at = |f: &str| format!("metric[{i}].{f}");
        let mut models = Vec::new();
        for name in m.models.get_ref() {
            match Model::parse(name) {
                Some(model) => {
                    if !seen.insert((model, m.key.get_ref().clone())) {
                        p.add(
                            m.key.span(),
                            at("key"),
                            format!("key {:?} is defined twice for model {model}", m.key.get_ref()),
                        );
                    }
                    models.push(model);
                }
                None => p.add(
                    m.models.span(),
                    at("models"),
                    format!("unknown isolation model {name:?}; use silo, remote, shared, eks or pooled"),
                ),
            }
        }
        if m.key.get_ref().is_empty()
            || !m.key.get_ref().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            p.add(m.key.span(), at("key"), "must be lower_snake_case");
        }
        if !UNITS.contains(&m.unit.get_ref().as_str()) {
            p.add(
                m.unit.span(),
                at("unit"),
                format!("unknown unit {:?}; use count, seconds, percent or bytes", m.unit.get_ref()),
            );
        }
        if !valid_stat(m.stat.get_ref()) {
            p.add(
                m.stat.span(),
                at("stat"),
                format!(
                    "unknown statistic {:?}; use Sum, Average, Maximum, Minimum, SampleCount or a percentile like p99",
                    m.stat.get_ref()
                ),
            );
        }
        let period = *m.period.get_ref();
        if period == 0 || period % 60 != 0 {
            p.add(m.period.span(), at("period"), format!("{period} is not a positive multiple of 60 seconds"));
        }
        if m.namespace.get_ref().is_empty() {
            p.add(m.namespace.span(), at("namespace"), "must not be empty");
        }
        if m.name.get_ref().is_empty() {
            p.add(m.name.span(), at("name"), "must not be empty");
        }
        if let (Some(w), Some(c)) = (m.warn_above, &m.critical_above) {
            if *c.get_ref() < w {
                p.add(c.span(), at("critical_above"), format!("{} is below warn_above {w}", c.get_ref()));
            }
        }
        let window = m.window.as_ref().map(|w| *w.get_ref()).unwrap_or(5);
        if let Some(w) = &m.window {
            if *w.get_ref() == 0 || *w.get_ref() > 1440 {
                p.add(w.span(), at("window"), "must be 1 to 1440 datapoints");
            }
        }
        out.push(MetricSpec {
            key: m.key.into_inner(),
            label: m.label,
            unit: m.unit.into_inner(),
            models,
            namespace: m.namespace.into_inner(),
            name: m.name.into_inner(),
            dimensions: m.dimensions,
            stat: m.stat.into_inner(),
            period,
            warn_above: m.warn_above,
            critical_above: m.critical_above.map(Spanned::into_inner),
            window,
        });
    }
    p.finish(out)
}

fn parse_logs(path: &Path, text: &str) -> Result<Vec<LogsQuery>, InputError> {
    let raw: RawLogs = toml::from_str(text).map_err(|e| Problems::from_toml(path, text, &e))?;
    let mut p = Problems::new(path, text);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, q) in raw.query.into_iter().enumerate() {
        let q = q.into_inner();
        if !seen.insert(q.key.get_ref().clone()) {
            p.add(q.key.span(), format!("query[{i}].key"), format!("key {:?} is defined twice", q.key.get_ref()));
        }
        let body = q.query.get_ref();
        if body.trim().is_empty() || body.len() > 10_000 {
            p.add(q.query.span(), format!("query[{i}].query"), "must be 1 to 10,000 characters of Logs Insights");
        }
        out.push(LogsQuery {
            key: q.key.into_inner(),
            label: q.label,
            query: q.query.into_inner(),
            raw_lines: q.raw_lines,
        });
    }
    p.finish(out)
}

/// How health folds what is known about a tenant-region into ok /
/// degraded / critical / unknown (`queries/health.toml`, commented there).
/// An outcome of [`Health::Ok`] means the reason is not listed.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthRules {
    pub source: SourceRules,
    pub alarm_in_alarm: Health,
    pub threshold_warning: Health,
    pub threshold_critical: Health,
    /// The tenant-region's own anomaly episodes.
    pub anomaly: SignalRules,
    /// Its departures from its tier's peers.
    pub peer: SignalRules,
    pub fleet: FleetRules,
    /// Data older than this is no evidence of health.
    pub stale_after_secs: i64,
    pub stale: Health,
    pub no_data: Health,
}

/// The outcome of a source that could not be read, per source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRules {
    pub credentials: Health,
    pub metrics: Health,
    pub alarms: Health,
    /// The alarms' state changes (DescribeAlarmHistory): without them
    /// episodes are dated by the alarms' own state only.
    pub alarm_history: Health,
    /// The tenant's resources found by its tag (`tag:GetResources`): the
    /// map read before stays in use.
    pub tags: Health,
    pub logs: Health,
    pub other: Health,
}

/// An unusual metric (the series' own detector, or its peers).
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRules {
    pub alone: Health,
    /// When the metric is also over a threshold.
    pub over_threshold: Health,
    /// A fall on a metric with thresholds (where higher is worse).
    pub fall_where_higher_is_worse: Health,
    /// Counts while ongoing and this long after its latest point.
    pub recent_secs: i64,
}

/// A tenant-region that moved with a fleet-wide shift.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetRules {
    pub member: Health,
    pub fall_where_higher_is_worse: Health,
    pub recent_secs: i64,
}

impl HealthRules {
    /// The built-in `queries/health.toml`, parsed once.
    pub fn builtin() -> &'static HealthRules {
        static RULES: std::sync::OnceLock<HealthRules> = std::sync::OnceLock::new();
        RULES.get_or_init(|| {
            let text = BUILTIN.iter().find(|(n, _)| *n == "health.toml").map(|(_, t)| *t).unwrap_or_default();
            // A unit test parses the same text: a release cannot ship one
            // that fails here.
            parse_health(Path::new("<built-in>/queries/health.toml"), text, None)
                .unwrap_or_else(|e| panic!("the built-in health rules are invalid: {e}"))
        })
    }

    /// The longest any anomaly, peer or fleet reason stays recent.
    pub fn longest_recent_secs(&self) -> i64 {
        self.anomaly.recent_secs.max(self.peer.recent_secs).max(self.fleet.recent_secs)
    }
}

type RawOutcome = Option<Spanned<String>>;
type RawMinutes = Option<Spanned<i64>>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    #[serde(default)]
    source: RawSourceRules,
    #[serde(default)]
    alarm: RawAlarmRules,
    #[serde(default)]
    threshold: RawThresholdRules,
    #[serde(default)]
    anomaly: RawSignalRules,
    #[serde(default)]
    peer: RawSignalRules,
    #[serde(default)]
    fleet: RawFleetRules,
    #[serde(default)]
    freshness: RawFreshness,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSourceRules {
    credentials: RawOutcome,
    metrics: RawOutcome,
    alarms: RawOutcome,
    alarm_history: RawOutcome,
    tags: RawOutcome,
    logs: RawOutcome,
    other: RawOutcome,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAlarmRules {
    in_alarm: RawOutcome,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawThresholdRules {
    warning: RawOutcome,
    critical: RawOutcome,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSignalRules {
    alone: RawOutcome,
    over_threshold: RawOutcome,
    fall_where_higher_is_worse: RawOutcome,
    recent_minutes: RawMinutes,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFleetRules {
    member: RawOutcome,
    fall_where_higher_is_worse: RawOutcome,
    recent_minutes: RawMinutes,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFreshness {
    stale_after_minutes: RawMinutes,
    stale: RawOutcome,
    no_data: RawOutcome,
}

/// Reads rules into a [`HealthRules`], counting the keys it found.
struct RuleReader<'a> {
    problems: Problems<'a>,
    found: usize,
}

impl RuleReader<'_> {
    fn outcome(&mut self, raw: &RawOutcome, field: &str, into: &mut Health) {
        let Some(v) = raw else { return };
        self.found += 1;
        match v.get_ref().as_str() {
            "ok" => *into = Health::Ok,
            "degraded" => *into = Health::Degraded,
            "critical" => *into = Health::Critical,
            "unknown" => *into = Health::Unknown,
            other => self.problems.add(
                v.span(),
                field,
                format!("unknown outcome {other:?}; use critical, degraded, unknown or ok"),
            ),
        }
    }

    /// Minutes, 1 to a week, into seconds.
    fn minutes(&mut self, raw: &RawMinutes, field: &str, into: &mut i64) {
        let Some(v) = raw else { return };
        self.found += 1;
        let m = *v.get_ref();
        if (1..=7 * 24 * 60).contains(&m) {
            *into = m * 60;
        } else {
            self.problems.add(v.span(), field, format!("{m} is not 1 to 10080 minutes (a week)"));
        }
    }

    fn signal(&mut self, raw: &RawSignalRules, section: &str, into: &mut SignalRules) {
        self.outcome(&raw.alone, &format!("{section}.alone"), &mut into.alone);
        self.outcome(&raw.over_threshold, &format!("{section}.over_threshold"), &mut into.over_threshold);
        self.outcome(
            &raw.fall_where_higher_is_worse,
            &format!("{section}.fall_where_higher_is_worse"),
            &mut into.fall_where_higher_is_worse,
        );
        self.minutes(&raw.recent_minutes, &format!("{section}.recent_minutes"), &mut into.recent_secs);
    }
}

/// Every key of `health.toml`: the built-in file sets them all.
const HEALTH_KEYS: usize = 24;

/// Parse `health.toml`. A user's file (`base` the built-in rules) may leave
/// keys out, which keep `base`'s rule; the built-in one (`base` None) must
/// set every rule.
fn parse_health(path: &Path, text: &str, base: Option<&HealthRules>) -> Result<HealthRules, InputError> {
    let raw: RawHealth = toml::from_str(text).map_err(|e| Problems::from_toml(path, text, &e))?;
    let signal = || SignalRules {
        alone: Health::Unknown,
        over_threshold: Health::Unknown,
        fall_where_higher_is_worse: Health::Unknown,
        recent_secs: 0,
    };
    let mut rules = base.cloned().unwrap_or_else(|| HealthRules {
        source: SourceRules {
            credentials: Health::Unknown,
            metrics: Health::Unknown,
            alarms: Health::Unknown,
            alarm_history: Health::Unknown,
            tags: Health::Unknown,
            logs: Health::Unknown,
            other: Health::Unknown,
        },
        alarm_in_alarm: Health::Unknown,
        threshold_warning: Health::Unknown,
        threshold_critical: Health::Unknown,
        anomaly: signal(),
        peer: signal(),
        fleet: FleetRules { member: Health::Unknown, fall_where_higher_is_worse: Health::Unknown, recent_secs: 0 },
        stale_after_secs: 0,
        stale: Health::Unknown,
        no_data: Health::Unknown,
    });
    let mut r = RuleReader { problems: Problems::new(path, text), found: 0 };
    let s = &raw.source;
    r.outcome(&s.credentials, "source.credentials", &mut rules.source.credentials);
    r.outcome(&s.metrics, "source.metrics", &mut rules.source.metrics);
    r.outcome(&s.alarms, "source.alarms", &mut rules.source.alarms);
    r.outcome(&s.alarm_history, "source.alarm_history", &mut rules.source.alarm_history);
    r.outcome(&s.tags, "source.tags", &mut rules.source.tags);
    r.outcome(&s.logs, "source.logs", &mut rules.source.logs);
    r.outcome(&s.other, "source.other", &mut rules.source.other);
    r.outcome(&raw.alarm.in_alarm, "alarm.in_alarm", &mut rules.alarm_in_alarm);
    r.outcome(&raw.threshold.warning, "threshold.warning", &mut rules.threshold_warning);
    r.outcome(&raw.threshold.critical, "threshold.critical", &mut rules.threshold_critical);
    r.signal(&raw.anomaly, "anomaly", &mut rules.anomaly);
    r.signal(&raw.peer, "peer", &mut rules.peer);
    r.outcome(&raw.fleet.member, "fleet.member", &mut rules.fleet.member);
    r.outcome(
        &raw.fleet.fall_where_higher_is_worse,
        "fleet.fall_where_higher_is_worse",
        &mut rules.fleet.fall_where_higher_is_worse,
    );
    r.minutes(&raw.fleet.recent_minutes, "fleet.recent_minutes", &mut rules.fleet.recent_secs);
    r.minutes(&raw.freshness.stale_after_minutes, "freshness.stale_after_minutes", &mut rules.stale_after_secs);
    r.outcome(&raw.freshness.stale, "freshness.stale", &mut rules.stale);
    r.outcome(&raw.freshness.no_data, "freshness.no_data", &mut rules.no_data);
    if base.is_none() && r.found != HEALTH_KEYS {
        r.problems.add(
            0..0,
            "(file)",
            format!("sets {} of the {HEALTH_KEYS} rules; the built-in file sets all", r.found),
        );
    }
    r.problems.finish(rules)
}

/// Escape a value for a double-quoted Logs Insights string literal.
pub fn logs_string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl LogsQuery {
    /// The query text for one tenant: `{tenant_filter}` filled in.
    pub fn render(&self, tenant_field: Option<&str>, tenant_value: &str) -> String {
        let filter = match tenant_field {
            // Field names were validated to [A-Za-z0-9_.@-]; backticks quote
            // dotted names such as kubernetes.namespace_name safely.
            Some(field) => format!(" and `{field}` = {}", logs_string_literal(tenant_value)),
            None => String::new(),
        };
        self.query.replace("{tenant_filter}", &filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_covers_every_model() {
        let c = Catalog::builtin().unwrap();
        for model in Model::ALL {
            assert!(c.metrics_for(model).count() >= 2, "{model} has too few metrics");
        }
        assert_eq!(c.metric(Model::Pooled, "latency_p99").unwrap().stat, "p99");
        assert!(c.views.fleet_health.contains("FROM health"));
    }

    #[test]
    fn a_user_file_overrides_the_builtin_and_errors_name_file_line_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("metrics.toml"),
            "[[metric]]\nkey = \"errors\"\nlabel = \"E\"\nunit = \"count\"\nmodels = [\"pooled\"]\nnamespace = \"N\"\nname = \"E\"\nstat = \"p100x\"\nperiod = 90\n",
        )
        .unwrap();
        let err = Catalog::load(Some(dir.path())).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("metrics.toml:8: metric[0].stat: unknown statistic \"p100x\""), "{text}");
        assert!(text.contains("metrics.toml:9: metric[0].period: 90 is not a positive multiple of 60"), "{text}");
    }

    #[test]
    fn bad_health_rules_are_reported_with_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("health.toml"),
            "# ours\n[peer]\nalone = \"severe\"\nrecent_minutes = 0\n\n[fleet]\nmember = \"degraded\"\n",
        )
        .unwrap();
        let text = Catalog::load(Some(dir.path())).unwrap_err().to_string();
        assert!(
            text.contains(
                "health.toml:3: peer.alone: unknown outcome \"severe\"; use critical, degraded, unknown or ok"
            ),
            "{text}"
        );
        assert!(text.contains("health.toml:4: peer.recent_minutes: 0 is not 1 to 10080 minutes"), "{text}");

        // A key that is no rule: named, with its table and line.
        std::fs::write(dir.path().join("health.toml"), "[anomaly]\nalone = \"ok\"\nover_treshold = \"ok\"\n").unwrap();
        let text = Catalog::load(Some(dir.path())).unwrap_err().to_string();
        assert!(text.contains("health.toml:3: anomaly: unknown field `over_treshold`"), "{text}");
    }

    #[test]
    fn tenant_values_in_logs_queries_are_escaped() {
        let q = LogsQuery {
            key: "k".into(),
            label: "l".into(),
            query: "filter level = \"ERROR\"{tenant_filter} | limit 5".into(),
            raw_lines: true,
        };
        let text = q.render(Some("tenant_id"), "evil\" or 1=1 | display @message \\");
        assert_eq!(
            text,
            "filter level = \"ERROR\" and `tenant_id` = \"evil\\\" or 1=1 | display @message \\\\\" | limit 5"
        );
        assert_eq!(q.render(None, "x"), "filter level = \"ERROR\" | limit 5");
    }
}
