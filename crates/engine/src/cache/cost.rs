//! Cost Explorer rows as the sync writes them.

use super::*;

/// One day of one service's cost for one tenant ('' = unattributed).
#[derive(Debug, Clone, PartialEq)]
pub struct CostRow {
    pub tenant_id: String,
    pub day: String,
    pub service: String,
    pub source: &'static str,
    /// Unblended.
    pub amount: f64,
    pub amortized: f64,
    pub unit: String,
    pub estimated: bool,
}

impl Cache {
    pub async fn put_costs(&self, rows: &[CostRow]) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        for c in rows {
            sqlx::query(
                "INSERT INTO cost_daily (tenant_id, day, service, source, amount, amortized, unit, estimated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (tenant_id, day, service, source) DO UPDATE SET amount = excluded.amount,
                   amortized = excluded.amortized, unit = excluded.unit, estimated = excluded.estimated",
            )
            .bind(&c.tenant_id)
            .bind(&c.day)
            .bind(&c.service)
            .bind(c.source)
            .bind(c.amount)
            .bind(c.amortized)
            .bind(&c.unit)
            .bind(c.estimated)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
