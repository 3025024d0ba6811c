//! The views' reads: each runs the SQL from `queries/views/` against the
//! cache only (never AWS), and returns the view models in [`crate::model`].

use sqlx::Row;

use crate::cache::{Cache, CacheError};
use crate::catalog::Catalog;
use crate::chart::{self, ChartSpec, Line};
use crate::fleet::Model;
use crate::model::{
    Chart, ChartRequest, CostFigures, CostView, CsvExport, FleetOverview, Health, HealthCounts, IncidentsView,
    ServiceCalls, SourceRow, SourcesView, TenantCostRow, TenantHealth,
};

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("view query failed (check queries/views/): {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Chart(#[from] chart::ChartError),
}

fn parse_health(s: &str) -> Health {
    match s {
        "ok" => Health::Ok,
        "degraded" => Health::Degraded,
        "critical" => Health::Critical,
        _ => Health::Unknown,
    }
}

// The views' SQL comes from the query catalog (the user's own files or the
// built-in ones), never from tenant data; every value is bound as a parameter.

/// The Fleet view: every active tenant-region, worst first.
pub async fn fleet_overview(cache: &Cache, catalog: &Catalog, demo: bool) -> Result<FleetOverview, ViewError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(catalog.views.fleet_health.as_str())).fetch_all(cache.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let reasons: String = r.try_get("reasons")?;
        out.push(TenantHealth {
            tenant: r.try_get("tenant")?,
            name: r.try_get("name")?,
            tier: r.try_get("tier")?,
            model: r.try_get("model")?,
            region: r.try_get("region")?,
            health: parse_health(r.try_get("health")?),
            reasons: serde_json::from_str(&reasons).unwrap_or_default(),
            focus_metric: r.try_get("focus_metric")?,
            fresh_at: r.try_get("fresh_at")?,
        });
    }
    // A tenant counts once, at its worst region.
    let mut worst: std::collections::BTreeMap<&str, Health> = Default::default();
    for row in &out {
        let w = worst.entry(row.tenant.as_str()).or_insert(row.health);
        if row.health.severity() > w.severity() {
            *w = row.health;
        }
    }
    let mut counts = HealthCounts::default();
    for h in worst.values() {
        match h {
            Health::Ok => counts.ok += 1,
            Health::Degraded => counts.degraded += 1,
            Health::Critical => counts.critical += 1,
            Health::Unknown => counts.unknown += 1,
        }
    }
    Ok(FleetOverview {
        fleet_name: cache.meta("fleet_name").await?.unwrap_or_else(|| "fleet".into()),
        demo,
        counts,
        rows: out,
        last_sync: cache.last_sync().await?.map(|s| s.finished_at),
        notices: cache
            .recovered()
            .map(|r| {
                vec![format!(
                    "The cache file was unreadable ({}), so it was moved to {} and a fresh cache was started.",
                    r.reason,
                    r.moved_to.display()
                )]
            })
            .unwrap_or_default(),
    })
}

/// Bounds on what a chart request may ask for.
pub const MAX_CHART_RANGE_SECS: i64 = 400 * 86_400;

/// One catalog metric of one tenant-region over the last `hours` before
/// `now`, drawn with its thresholds.
pub async fn tenant_chart(cache: &Cache, catalog: &Catalog, req: &ChartRequest, now: i64) -> Result<Chart, ViewError> {
    let ChartRequest { tenant, region, metric, width, height, dark, .. } = req;
    let (width, height, dark) = (*width, *height, *dark);
    let hours = req.hours.unwrap_or(6) as i64;
    let (from, to) = (now - hours * 3600, now);
    if tenant.len() > 64 || region.len() > 32 || metric.len() > 64 {
        return Err(ViewError::BadRequest("tenant, region or metric is too long".into()));
    }
    if hours < 1 || to - from > MAX_CHART_RANGE_SECS {
        return Err(ViewError::BadRequest(format!(
            "time range must be positive and at most {} days",
            MAX_CHART_RANGE_SECS / 86_400
        )));
    }
    if !(100..=4000).contains(&width) || !(80..=2000).contains(&height) {
        return Err(ViewError::BadRequest("chart size must be 100-4000 x 80-2000 pixels".into()));
    }
    let model: Option<String> =
        sqlx::query_scalar("SELECT model FROM tenant WHERE id = ?1").bind(tenant).fetch_optional(cache.pool()).await?;
    let model = model
        .and_then(|m| Model::parse(&m))
        .ok_or_else(|| ViewError::NotFound(format!("no tenant {tenant:?} in the cache")))?;
    let spec = catalog
        .metric(model, metric)
        .ok_or_else(|| ViewError::NotFound(format!("no metric {metric:?} for {model} tenants in the catalog")))?;
    let points: Vec<(i64, f64)> = sqlx::query(sqlx::AssertSqlSafe(catalog.views.series_points.as_str()))
        .bind(tenant.as_str())
        .bind(region.as_str())
        .bind(metric.as_str())
        .bind(from)
        .bind(to)
        .fetch_all(cache.pool())
        .await?
        .iter()
        .map(|r| (r.get::<i64, _>(0), r.get::<f64, _>(1)))
        .collect();
    let title = format!("{} · {tenant} · {region}", spec.label);
    let svg = chart::svg(&ChartSpec {
        title: &title,
        unit: &spec.unit,
        lines: vec![Line { label: &spec.label, points: &points }],
        warn: spec.warn_above,
        critical: spec.critical_above,
        from,
        to,
        width,
        height,
        dark,
    })?;
    Ok(Chart { title, unit: spec.unit.clone(), svg, points: points.len() as u32 })
}

/// The Sources view: every source of every active tenant-region (and the
/// fleet-wide cost source), the worst first, then by tenant; and what the
/// last sync called and cost, per service.
pub async fn sources(cache: &Cache) -> Result<SourcesView, ViewError> {
    let rows = sqlx::query(
        "SELECT s.tenant_id, coalesce(t.name, s.tenant_id), s.region, s.source, s.status, s.error, s.remediation,
                s.last_ok, s.last_attempt
         FROM source_status s LEFT JOIN tenant t ON t.id = s.tenant_id
         WHERE t.active = 1 OR s.tenant_id = '*'
         ORDER BY s.status = 'ok', s.tenant_id, s.region, s.source",
    )
    .fetch_all(cache.pool())
    .await?;
    let rows = rows
        .iter()
        .map(|r| SourceRow {
            tenant: r.get(0),
            name: r.get(1),
            region: r.get(2),
            source: r.get(3),
            status: r.get(4),
            error: r.get(5),
            remediation: r.get(6),
            last_ok: r.get(7),
            last_attempt: r.get(8),
        })
        .collect();
    let calls = cache
        .last_sync_calls()
        .await?
        .into_iter()
        .map(|(service, calls, dollars)| ServiceCalls {
            service,
            calls: calls.clamp(0, u32::MAX as i64) as u32,
            dollars,
        })
        .collect();
    Ok(SourcesView { rows, calls, last_sync: cache.last_sync().await? })
}

/// The Cost view on `today` (UTC): every active tenant, even one with no cost
/// yet, most expensive forecast first; untagged spend and the total apart.
pub async fn cost(cache: &Cache, today: chrono::NaiveDate) -> Result<CostView, ViewError> {
    let costs = crate::cost::by_tenant(cache, today).await?;
    let figures = |mtd: f64, last: f64, forecast: f64| CostFigures {
        month_to_date: mtd,
        last_month: last,
        forecast,
        change: (last > 0.0).then(|| forecast / last - 1.0),
    };
    let tenants = sqlx::query("SELECT id, name, tier, model FROM tenant WHERE active = 1 ORDER BY id")
        .fetch_all(cache.pool())
        .await?;
    let mut rows: Vec<TenantCostRow> = tenants
        .iter()
        .map(|t| {
            let id: String = t.get(0);
            let c = costs.iter().find(|c| c.tenant == id);
            TenantCostRow {
                name: t.get(1),
                tier: t.get(2),
                model: t.get(3),
                cost: c.map(|c| figures(c.month_to_date, c.last_month, c.forecast)).unwrap_or_default(),
                tenant: id,
            }
        })
        .collect();
    rows.sort_by(|a, b| b.cost.forecast.total_cmp(&a.cost.forecast).then_with(|| a.tenant.cmp(&b.tenant)));
    let untagged = costs
        .iter()
        .find(|c| c.tenant.is_empty())
        .map(|c| figures(c.month_to_date, c.last_month, c.forecast))
        .unwrap_or_default();
    let sum = |f: fn(&crate::cost::TenantCost) -> f64| costs.iter().map(f).sum::<f64>();
    let total = figures(sum(|c| c.month_to_date), sum(|c| c.last_month), sum(|c| c.forecast));
    Ok(CostView { today: today.format("%Y-%m-%d").to_string(), rows, untagged, total })
}

/// The longest window the Incidents view may ask for.
pub const MAX_INCIDENT_HOURS: u32 = 24 * 30;

/// The Incidents view: anomaly, alarm and cost-anomaly episodes of the last
/// `hours` (1 to 30 days) before `now` (epoch s), newest first.
pub async fn incidents(cache: &Cache, hours: u32, now: i64) -> Result<IncidentsView, ViewError> {
    if !(1..=MAX_INCIDENT_HOURS).contains(&hours) {
        return Err(ViewError::BadRequest(format!("the incident window is 1 to {MAX_INCIDENT_HOURS} hours")));
    }
    let since = now - i64::from(hours) * 3600;
    let mut incidents = cache.incidents(since, now).await?;
    // Cost anomalies are days: each day that overlaps the window counts.
    let today = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default().date_naive();
    let day_ms = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_millis());
    for a in crate::cost::anomalies(cache, today, i64::from(hours) / 24 + 1).await? {
        let end = day_ms(a.last + chrono::Duration::days(1));
        if end <= since * 1000 {
            continue;
        }
        incidents.push(crate::model::Incident {
            tenant: a.tenant.clone(),
            region: "*".into(),
            kind: "cost".into(),
            subject: a.service.clone(),
            start: day_ms(a.first),
            end: (!a.ongoing).then_some(end),
            title: a.explain(),
        });
    }
    incidents.sort_by(|a, b| b.start.cmp(&a.start));
    let names = sqlx::query_as::<_, (String, String)>("SELECT id, name FROM tenant")
        .fetch_all(cache.pool())
        .await?
        .into_iter()
        .collect();
    Ok(IncidentsView { since: since * 1000, until: now * 1000, incidents, names })
}

/// Bounds on what the window may ask to export.
const MAX_EXPORT_ROWS: usize = 200_000;
const MAX_EXPORT_COLUMNS: usize = 64;
const MAX_EXPORT_CELL: usize = 10_000;

/// Where exports go: `FLEETDECK_EXPORT_DIR`, else the Downloads folder, else
/// the home folder.
pub fn export_dir() -> std::path::PathBuf {
    std::env::var_os("FLEETDECK_EXPORT_DIR")
        .map(std::path::PathBuf::from)
        .or_else(dirs::download_dir)
        .or_else(dirs::home_dir)
        .unwrap_or_else(|| std::path::PathBuf::from("."))
}

/// Write a table the window shows as `fleetdeck-<name>-<UTC time>.csv` in
/// `dir`, every cell escaped by [`crate::export::csv_field`] (tenant names
/// and AWS errors are untrusted: no formula reaches a spreadsheet). Written
/// whole or not at all (a temporary file renamed), owner-only: it holds
/// tenant data. Returns the file's path.
pub fn save_csv(table: &CsvExport, dir: &std::path::Path, now: i64) -> Result<std::path::PathBuf, ViewError> {
    let name_ok = !table.name.is_empty()
        && table.name.len() <= 40
        && table.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        return Err(ViewError::BadRequest("export name must be 1-40 of a-z, 0-9 and -".into()));
    }
    if table.header.is_empty() || table.header.len() > MAX_EXPORT_COLUMNS {
        return Err(ViewError::BadRequest(format!("an export has 1 to {MAX_EXPORT_COLUMNS} columns")));
    }
    if table.rows.len() > MAX_EXPORT_ROWS {
        return Err(ViewError::BadRequest(format!("an export has at most {MAX_EXPORT_ROWS} rows")));
    }
    let cells = std::iter::once(&table.header).chain(&table.rows);
    for (i, row) in cells.clone().enumerate() {
        if row.len() != table.header.len() {
            return Err(ViewError::BadRequest(format!("row {i} has {} cells, not {}", row.len(), table.header.len())));
        }
        if row.iter().any(|c| c.len() > MAX_EXPORT_CELL) {
            return Err(ViewError::BadRequest(format!("row {i} has a cell over {MAX_EXPORT_CELL} bytes")));
        }
    }
    let mut text = String::new();
    for row in cells {
        text.push_str(&crate::export::csv_record(row.iter().map(String::as_str)));
    }
    let stamp = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default().format("%Y%m%d-%H%M%S");
    let path = dir.join(format!("fleetdeck-{}-{stamp}.csv", table.name));
    let temp = dir.join(format!(".fleetdeck-{}-{stamp}.csv.partial", table.name));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(dir)?;
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&temp, &path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        ViewError::BadRequest(format!("could not write {}: {e}", path.display()))
    })?;
    Ok(path)
}

#[cfg(test)]
mod export_tests {
    use super::*;

    fn table(rows: Vec<Vec<&str>>) -> CsvExport {
        CsvExport {
            name: "cost".into(),
            header: vec!["tenant".into(), "forecast".into()],
            rows: rows.into_iter().map(|r| r.into_iter().map(String::from).collect()).collect(),
        }
    }

    #[test]
    fn a_table_is_saved_whole_escaped_and_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path =
            save_csv(&table(vec![vec!["=HYPERLINK(\"x\")", "-3.5"], vec!["acme, inc", "12"]]), dir.path(), 0).unwrap();
        assert_eq!(path.file_name().unwrap(), "fleetdeck-cost-19700101-000000.csv");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "tenant,forecast\r\n\"'=HYPERLINK(\"\"x\"\")\",-3.5\r\n\"acme, inc\",12\r\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn bad_exports_are_refused_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut bad_name = table(vec![]);
        bad_name.name = "../../etc/passwd".into();
        let ragged = table(vec![vec!["only one cell"]]);
        let huge = table(vec![vec!["x", &"9".repeat(MAX_EXPORT_CELL + 1)]]);
        for t in [bad_name, ragged, huge] {
            assert!(matches!(save_csv(&t, dir.path(), 0), Err(ViewError::BadRequest(_))), "{t:?}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
