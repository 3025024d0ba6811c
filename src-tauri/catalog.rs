//! The query catalog (`queries/`): which CloudWatch metrics make up a
//! tenant's health per isolation model, the Logs Insights triage queries, and
//! the SQL the views read. A built-in copy is compiled in; `--queries DIR`
//! replaces any of its files with the user's own, read at run time.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_spanned::Spanned;

use crate::fleet::Model;
use crate::input::{InputError, Problem, Problems};

/// The built-in catalog, file name -> text.
const BUILTIN: &[(&str, &str)] = &[
    ("metrics.toml", include_str!("../queries/metrics.toml")),
    ("logs.toml", include_str!("../queries/logs.toml")),
    ("views/fleet_health.sql", include_str!("../queries/views/fleet_health.sql")),
    ("views/series_points.sql", include_str!("../queries/views/series_points.sql")),
    ("views/series_rollup.sql", include_str!("../queries/views/series_rollup.sql")),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    pub metrics: Vec<MetricSpec>,
    pub logs: Vec<LogsQuery>,
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
        let views = ViewSql {
            fleet_health: read("views/fleet_health.sql")?.1,
            series_points: read("views/series_points.sql")?.1,
            series_rollup: read("views/series_rollup.sql")?.1,
        };
        Ok(Catalog { metrics, logs, views })
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
