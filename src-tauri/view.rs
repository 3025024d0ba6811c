//! The views' reads: each runs the SQL from `queries/views/` against the
//! cache only (never AWS), and returns the view models in [`crate::model`].

use sqlx::Row;

use crate::cache::{Cache, CacheError};
use crate::catalog::Catalog;
use crate::chart::{self, ChartSpec, Line};
use crate::fleet::Model;
use crate::model::{Chart, ChartRequest, FleetOverview, Health, HealthCounts, TenantHealth};

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
