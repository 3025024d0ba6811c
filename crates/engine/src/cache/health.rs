//! Health per tenant-region, as the last sync judged it.

use sqlx::Row;

use crate::model::{Health, TenantHealth};

use super::*;

/// What the health step stores per tenant-region.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthRow {
    pub tenant_id: String,
    pub region: String,
    pub health: Health,
    pub reasons: Vec<String>,
    pub focus_metric: Option<String>,
    pub fresh_at: Option<i64>,
}

/// A stored health, read back: anything but ok, degraded or critical is
/// unknown.
fn parse_health(s: &str) -> Health {
    match s {
        "ok" => Health::Ok,
        "degraded" => Health::Degraded,
        "critical" => Health::Critical,
        _ => Health::Unknown,
    }
}

impl Cache {
    /// Replace every health row in one transaction, so a reader sees either
    /// the previous assessment or the new one.
    pub async fn replace_health(&self, rows: &[HealthRow], now_ms: i64) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM health").execute(&mut *tx).await?;
        for h in rows {
            sqlx::query(
                "INSERT INTO health (tenant_id, region, health, reasons, focus_metric, fresh_at, computed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .bind(&h.tenant_id)
            .bind(&h.region)
            .bind(h.health.as_str())
            .bind(serde_json::to_string(&h.reasons).unwrap_or_default())
            .bind(&h.focus_metric)
            .bind(h.fresh_at)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The Fleet view's rows, read by `sql`: the query catalog's
    /// `views/fleet_health.sql`, whose columns are named as
    /// [`TenantHealth`]'s fields. Its errors are SQLite's own, not a
    /// [`CacheError`]: the SQL may be the user's, and the view says so.
    pub async fn fleet_health(&self, sql: &str) -> Result<Vec<TenantHealth>, sqlx::Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
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
        Ok(out)
    }

    /// The health of every active tenant-region: (tenant, region, health),
    /// by tenant and region.
    pub async fn active_health(&self) -> Result<Vec<(String, String, Health)>, CacheError> {
        let rows = sqlx::query(
            "SELECT h.tenant_id, h.region, h.health FROM health h JOIN tenant t ON t.id = h.tenant_id WHERE t.active = 1
             ORDER BY h.tenant_id, h.region",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), parse_health(r.get(2)))).collect())
    }

    /// A tenant's health in each of its regions, in no particular order.
    pub async fn tenant_health(&self, tenant: &str) -> Result<Vec<HealthRow>, CacheError> {
        let rows =
            sqlx::query("SELECT region, health, reasons, focus_metric, fresh_at FROM health WHERE tenant_id = ?1")
                .bind(tenant)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|h| HealthRow {
                tenant_id: tenant.to_string(),
                region: h.get(0),
                health: parse_health(h.get(1)),
                reasons: serde_json::from_str(h.get::<&str, _>(2)).unwrap_or_default(),
                focus_metric: h.get(3),
                fresh_at: h.get(4),
            })
            .collect())
    }
}
