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
    // A pixel column of the plot (its frame and axis labels take ~80 px).
    let columns = width.saturating_sub(80).max(50) as i64;
    let data = chart_data(cache, catalog, tenant, region, metric, (from, to), columns).await?;
    // The bucket holding `from` starts before it: drawn at the left edge.
    let points: Vec<(i64, f64)> = data.buckets.iter().map(|b| (b.ts.max(from), b.mean)).collect();
    let band: Vec<(i64, f64, f64)> = if data.summarised() {
        data.buckets.iter().map(|b| (b.ts.max(from), b.lo, b.hi)).collect()
    } else {
        Vec::new()
    };
    let title = format!("{} · {tenant} · {region}", spec.label);
    let svg = chart::svg(&ChartSpec {
        title: &title,
        unit: &spec.unit,
        lines: vec![Line { label: &spec.label, points: &points, band: &band }],
        warn: spec.warn_above,
        critical: spec.critical_above,
        from,
        to,
        width,
        height,
        dark,
    })?;
    Ok(Chart {
        title,
        unit: spec.unit.clone(),
        svg,
        points: points.len() as u32,
        resolution: data.resolution.unwrap_or(0) as u32,
    })
}

/// One point of a chart: a raw datapoint (lo = hi = mean = its value) or
/// an hourly or daily bucket's extremes and mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub ts: i64,
    pub lo: f64,
    pub hi: f64,
    pub mean: f64,
}

/// What a chart draws: raw points (`resolution` None) or rollup buckets of
/// `resolution` seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    pub resolution: Option<i64>,
    pub buckets: Vec<Bucket>,
}

impl ChartData {
    pub fn summarised(&self) -> bool {
        self.resolution.is_some()
    }
}

/// The points of one metric of one tenant-region over `[from, to)`, at the
/// resolution that fits `columns` pixel columns: raw points while a column
/// spans less than an hour, else the hourly rollup, and the daily one once
/// a column spans a day. When retention has deleted the chosen
/// resolution's rows back to `from` (raw points are kept 35 days, hours
/// 180), the next coarser one that still has them is used instead. Raw ranges with more points than the
/// pixels can show are reduced to each column's extremes (M4) when drawn.
pub async fn chart_data(
    cache: &Cache,
    catalog: &Catalog,
    tenant: &str,
    region: &str,
    metric: &str,
    (from, to): (i64, i64),
    columns: i64,
) -> Result<ChartData, ViewError> {
    let column = (to - from) / columns.max(1);
    let wanted = if column >= 86_400 {
        2
    } else if column >= 3600 {
        1
    } else {
        0
    };
    // The oldest row of each resolution: one primary-key probe each.
    let oldest: (Option<i64>, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT (SELECT min(d.ts) FROM datapoint d WHERE d.series_id = s.id),
                (SELECT min(r.ts) FROM rollup r WHERE r.series_id = s.id AND r.res = 3600),
                (SELECT min(r.ts) FROM rollup r WHERE r.series_id = s.id AND r.res = 86400)
         FROM series s WHERE s.tenant_id = ?1 AND s.region = ?2 AND s.metric_key = ?3
         ORDER BY s.id LIMIT 1",
    )
    .bind(tenant)
    .bind(region)
    .bind(metric)
    .fetch_optional(cache.pool())
    .await?
    .unwrap_or((None, None, None));
    let oldest = [oldest.0, oldest.1, oldest.2];
    let width = [0, crate::cache::ROLLUPS[0], crate::cache::ROLLUPS[1]];
    // Summaries are made from the finer rows, so a coarser level starts a
    // whole bucket before a finer one only where retention has deleted the
    // finer rows: a series that simply began late is still read raw.
    let pruned_below = |i: usize, o: i64| (i + 1..3).any(|j| oldest[j].is_some_and(|c| c + width[j] <= o));
    let level = (wanted..3)
        .find(|&i| oldest[i].is_some_and(|o| o <= from || !pruned_below(i, o)))
        .unwrap_or(wanted);
    if level == 0 {
        let buckets = sqlx::query(sqlx::AssertSqlSafe(catalog.views.series_points.as_str()))
            .bind(tenant)
            .bind(region)
            .bind(metric)
            .bind(from)
            .bind(to)
            .fetch_all(cache.pool())
            .await?
            .iter()
            .map(|r| {
                let v: f64 = r.get(1);
                Bucket { ts: r.get(0), lo: v, hi: v, mean: v }
            })
            .collect();
        return Ok(ChartData { resolution: None, buckets });
    }
    let res = crate::cache::ROLLUPS[level - 1];
    let buckets = sqlx::query(sqlx::AssertSqlSafe(catalog.views.series_rollup.as_str()))
        .bind(tenant)
        .bind(region)
        .bind(metric)
        .bind(from)
        .bind(to)
        .bind(res)
        .fetch_all(cache.pool())
        .await?
        .iter()
        .map(|r| Bucket { ts: r.get(0), lo: r.get(1), hi: r.get(2), mean: r.get(3) })
        .collect();
    Ok(ChartData { resolution: Some(res), buckets })
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

#[cfg(test)]
mod chart_tests {
    use super::*;
    use crate::cache::{PointBatch, SeriesKey};

    const DAY: i64 = 86_400;
    /// 2027-01-15 08:00 UTC.
    const NOW: i64 = 1_800_000_000;

    async fn cache_with_series(points: &[(i64, f64)], batch: usize) -> Cache {
        let cache = Cache::in_memory().await.unwrap();
        sqlx::query(
            "INSERT INTO tenant (id, name, tier, model, account, home_region, regions)
             VALUES ('acme', 'Acme', 'premium', 'silo', '111111111111', 'us-east-1', '[\"us-east-1\"]')",
        )
        .execute(cache.pool())
        .await
        .unwrap();
        let key = SeriesKey {
            tenant_id: "acme",
            region: "us-east-1",
            metric_key: "errors",
            namespace: "AWS/ApplicationELB",
            metric_name: "HTTPCode_Target_5XX_Count",
            dimensions: "{}",
            stat: "Sum",
            period: 60,
            unit: "count",
        };
        let (id, _) = cache.series(&key).await.unwrap();
        // Committed the way syncs commit: a few hours at a time, each sync
        // reading its last five minutes again for late datapoints.
        for at in (0..points.len()).step_by(batch) {
            let chunk = &points[at.saturating_sub(5)..(at + batch).min(points.len())];
            let watermark = chunk.last().unwrap().0 + 60;
            cache.commit_points(&[PointBatch { series_id: id, points: chunk.to_vec(), watermark }]).await.unwrap();
        }
        cache
    }

    /// What the raw points say about `[start, start + width)`.
    async fn raw_extremes(cache: &Cache, start: i64, width: i64) -> (f64, f64) {
        sqlx::query_as("SELECT min(value), max(value) FROM datapoint WHERE ts >= ?1 AND ts < ?2")
            .bind(start)
            .bind(start + width)
            .fetch_one(cache.pool())
            .await
            .unwrap()
    }

    /// 30 days of one-minute points, with a one-minute spike and a dip: the
    /// 30-day chart reads hourly buckets, and each bucket's lowest and
    /// highest value is exactly the raw data's, so the spike is drawn.
    #[tokio::test]
    async fn a_30_day_chart_keeps_each_buckets_raw_min_and_max() {
        let start = NOW - 30 * DAY;
        let (spike, dip) = (start + 17 * DAY + 7_380, start + 23 * DAY + 41_160);
        let points: Vec<(i64, f64)> = (0..30 * 1440)
            .map(|m| {
                let ts = start + m * 60;
                let daily = ((ts % DAY) as f64 / DAY as f64 * std::f64::consts::TAU).sin();
                let v = match ts {
                    t if t == spike => 900.0,
                    t if t == dip => -50.0,
                    _ => 20.0 + 8.0 * daily + ((m * 7919) % 13) as f64,
                };
                (ts, v)
            })
            .collect();
        // Overlapping batches, as a sync re-reads its last minutes: the
        // re-delivered points must not be counted twice.
        let cache = cache_with_series(&points, 180).await;
        let catalog = Catalog::builtin().unwrap();
        let data = chart_data(&cache, &catalog, "acme", "us-east-1", "errors", (start, NOW), 600).await.unwrap();
        assert_eq!(data.resolution, Some(3600), "720 h over 600 columns is more than an hour a column");
        assert_eq!(data.buckets.len(), 720);
        for b in &data.buckets {
            let (lo, hi) = raw_extremes(&cache, b.ts, 3600).await;
            assert_eq!((b.lo, b.hi), (lo, hi), "bucket {}", b.ts);
            assert!(b.lo <= b.mean && b.mean <= b.hi);
        }
        let spiked = data.buckets.iter().find(|b| b.ts <= spike && spike < b.ts + 3600).unwrap();
        assert_eq!(spiked.hi, 900.0);
        assert!(data.buckets.iter().any(|b| b.lo == -50.0));

        // The drawn chart says so: summarised, 720 points, a band.
        let req = ChartRequest {
            tenant: "acme".into(),
            region: "us-east-1".into(),
            metric: "errors".into(),
            hours: Some(720),
            width: 680,
            height: 240,
            dark: false,
        };
        let chart = tenant_chart(&cache, &catalog, &req, NOW).await.unwrap();
        assert_eq!((chart.resolution, chart.points), (3600, 720));
        assert!(chart.svg.contains("<polygon"), "no min-max band drawn");

        // A year at 200 columns (44 h a column) reads days; six hours
        // reads raw minutes.
        let year = chart_data(&cache, &catalog, "acme", "us-east-1", "errors", (NOW - 365 * DAY, NOW), 200).await;
        let year = year.unwrap();
        assert_eq!(year.resolution, Some(86_400));
        let day = year.buckets.iter().find(|b| b.ts <= spike && spike < b.ts + DAY).unwrap();
        assert_eq!((day.lo, day.hi), raw_extremes(&cache, day.ts, DAY).await);
        let six = chart_data(&cache, &catalog, "acme", "us-east-1", "errors", (NOW - 6 * 3600, NOW), 600).await;
        let six = six.unwrap();
        assert_eq!((six.resolution, six.buckets.len()), (None, 360));
    }

    /// Once retention has deleted a range's raw points, a chart that would
    /// read them reads the hourly buckets instead, which are still there.
    #[tokio::test]
    async fn a_chart_past_raw_retention_falls_back_to_the_rollup() {
        let start = NOW - 10 * DAY;
        let points: Vec<(i64, f64)> = (0..10 * 1440).map(|m| (start + m * 60, (m % 97) as f64)).collect();
        let cache = cache_with_series(&points, 1440).await;
        let retention = crate::housekeeping::Retention { raw_days: 2, ..Default::default() };
        crate::housekeeping::enforce_retention(&cache, &retention, NOW).await.unwrap();
        let catalog = Catalog::builtin().unwrap();
        // 10 days over 2,000 columns: raw would fit, but raw reaches back 2 days only.
        let data = chart_data(&cache, &catalog, "acme", "us-east-1", "errors", (start, NOW), 2000).await.unwrap();
        assert_eq!(data.resolution, Some(3600));
        assert_eq!(data.buckets.len(), 240);
        for b in &data.buckets {
            let hour: Vec<f64> = points.iter().filter(|p| p.0 >= b.ts && p.0 < b.ts + 3600).map(|p| p.1).collect();
            let lo = hour.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = hour.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mean = hour.iter().sum::<f64>() / hour.len() as f64;
            assert_eq!((b.lo, b.hi, b.mean), (lo, hi, mean), "hours of every age are whole: {}", b.ts);
        }
    }
}
