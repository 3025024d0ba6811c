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
    /// Each row keeps the health the previous assessment gave its
    /// tenant-region (`previous`, `previous_at`), for "what changed".
    pub async fn replace_health(&self, rows: &[HealthRow], now_ms: i64) -> Result<(), CacheError> {
        // It reads before it writes: begun IMMEDIATE, it is the writer from
        // the start, or SQLite would refuse its first write at once while
        // another holds the writer ("database is locked", busy timeout or
        // not).
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let before: std::collections::HashMap<(String, String), (String, i64)> =
            sqlx::query_as::<_, (String, String, String, i64)>(
                "SELECT tenant_id, region, health, computed_at FROM health",
            )
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|(t, r, h, at)| ((t, r), (h, at)))
            .collect();
        sqlx::query("DELETE FROM health").execute(&mut *tx).await?;
        for h in rows {
            let previous = before.get(&(h.tenant_id.clone(), h.region.clone()));
            sqlx::query(
                "INSERT INTO health (tenant_id, region, health, reasons, focus_metric, fresh_at, computed_at, previous, previous_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .bind(&h.tenant_id)
            .bind(&h.region)
            .bind(h.health.as_str())
            .bind(serde_json::to_string(&h.reasons).unwrap_or_default())
            .bind(&h.focus_metric)
            .bind(h.fresh_at)
            .bind(now_ms)
            .bind(previous.map(|(health, _)| health.as_str()))
            .bind(previous.map(|(_, at)| *at))
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
                was: None,
            });
        }
        Ok(out)
    }

    /// Per tenant-region, the health the sync before the last gave it and
    /// when that sync assessed it (`None` for a row new at the last sync).
    pub async fn previous_health(
        &self,
    ) -> Result<std::collections::HashMap<(String, String), (Health, i64)>, CacheError> {
        let rows: Vec<(String, String, Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT tenant_id, region, previous, previous_at FROM health").fetch_all(&self.pool).await?;
        Ok(rows.into_iter().filter_map(|(t, r, h, at)| Some(((t, r), (parse_health(&h?), at?)))).collect())
    }

    /// When the sync before the last assessed the fleet (epoch ms): the
    /// newest `previous_at`; `None` after a first sync.
    pub async fn previous_assessed_at(&self) -> Result<Option<i64>, CacheError> {
        Ok(sqlx::query_scalar("SELECT max(previous_at) FROM health").fetch_one(&self.pool).await?)
    }

    /// [`Cache::previous_health`] of one tenant's regions.
    pub async fn previous_health_of(
        &self,
        tenant: &str,
    ) -> Result<std::collections::HashMap<(String, String), (Health, i64)>, CacheError> {
        let rows: Vec<(String, String, Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT tenant_id, region, previous, previous_at FROM health WHERE tenant_id = ?1")
                .bind(tenant)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().filter_map(|(t, r, h, at)| Some(((t, r), (parse_health(&h?), at?)))).collect())
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
