//! Health per tenant-region, as the last sync judged it.

use crate::model::Health;

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
}
