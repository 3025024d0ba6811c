//! Logs Insights results per tenant-region and query.

use std::collections::HashSet;

use sqlx::Row;

use super::*;

/// The latest result of a Logs Insights triage query.
#[derive(Debug, Clone, PartialEq)]
pub struct LogResult {
    pub tenant_id: String,
    pub region: String,
    pub query_key: String,
    pub window_start: i64,
    pub window_end: i64,
    pub rows: serde_json::Value,
    pub records_matched: i64,
    pub truncated: bool,
    pub withheld: bool,
    /// Some log groups' part of the query failed: how many, and why. The
    /// rest of the groups' answer is what the result holds.
    pub partial: Option<String>,
}

impl Cache {
    pub async fn put_log_result(&self, r: &LogResult, now_ms: i64) -> Result<(), CacheError> {
        sqlx::query(
            "INSERT OR REPLACE INTO log_result (tenant_id, region, query_key, window_start, window_end, rows, records_matched, truncated, withheld, synced_at, partial)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .bind(&r.tenant_id)
        .bind(&r.region)
        .bind(&r.query_key)
        .bind(r.window_start)
        .bind(r.window_end)
        .bind(r.rows.to_string())
        .bind(r.records_matched)
        .bind(r.truncated)
        .bind(r.withheld)
        .bind(now_ms)
        .bind(&r.partial)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Tenant-regions that need no triage queries this sync: all `queries`
    /// results newer than `since` (epoch s), and healthy at the last sync.
    /// Logs Insights bills by data scanned and its 30 concurrent queries are
    /// shared with the tenant's own engineers; an unhealthy tenant-region is
    /// always queried afresh, since that is where on-call looks.
    pub async fn logs_fresh(&self, since: i64, queries: usize) -> Result<HashSet<(String, String)>, CacheError> {
        // A tenant-region that is unhealthy only because it moved with a
        // fleet-wide shift keeps the healthy cadence: the shift is one
        // incident, and re-querying every tenant of a region on every sync
        // would bill the whole region's Logs Insights scans each time.
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT l.tenant_id, l.region FROM log_result l
             JOIN health h ON h.tenant_id = l.tenant_id AND h.region = l.region
             WHERE l.window_end > ?1
               AND (h.health = 'ok' OR NOT EXISTS (
                     SELECT 1 FROM json_each(h.reasons) WHERE json_each.value NOT LIKE 'fleet-wide: %'))
             GROUP BY l.tenant_id, l.region HAVING count(*) >= ?2",
        )
        .bind(since)
        .bind(queries as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// The latest result of one triage query in every tenant-region.
    pub async fn query_results(&self, query_key: &str) -> Result<Vec<LogResult>, CacheError> {
        let sql = format!("SELECT {LOG_RESULT_COLUMNS} FROM log_result WHERE query_key = ?1");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(query_key).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(log_result_row).collect())
    }

    pub async fn log_results(&self, tenant: &str, region: &str) -> Result<Vec<LogResult>, CacheError> {
        let sql = format!(
            "SELECT {LOG_RESULT_COLUMNS} FROM log_result WHERE tenant_id = ?1 AND region = ?2 ORDER BY query_key"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant).bind(region).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(log_result_row).collect())
    }

    /// Every latest result of a tenant's triage queries, in no particular
    /// order, each with when it was read (epoch ms).
    pub async fn tenant_log_results(&self, tenant: &str) -> Result<Vec<(LogResult, i64)>, CacheError> {
        let rows = sqlx::query(
            "SELECT region, query_key, window_start, window_end, rows, records_matched, truncated, withheld, synced_at, partial
             FROM log_result WHERE tenant_id = ?1",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|l| {
                let result = LogResult {
                    tenant_id: tenant.to_string(),
                    region: l.get(0),
                    query_key: l.get(1),
                    window_start: l.get(2),
                    window_end: l.get(3),
                    rows: serde_json::from_str(l.get::<&str, _>(4)).unwrap_or(serde_json::Value::Null),
                    records_matched: l.get(5),
                    truncated: l.get::<i64, _>(6) != 0,
                    withheld: l.get::<i64, _>(7) != 0,
                    partial: l.get(9),
                };
                (result, l.get(8))
            })
            .collect())
    }
}

/// The columns [`log_result_row`] reads, in its order (a constant, never
/// input).
const LOG_RESULT_COLUMNS: &str =
    "tenant_id, region, query_key, window_start, window_end, rows, records_matched, truncated, withheld, partial";

/// A `log_result` row read in the order of [`LOG_RESULT_COLUMNS`].
fn log_result_row(r: &sqlx::sqlite::SqliteRow) -> LogResult {
    LogResult {
        tenant_id: r.get(0),
        region: r.get(1),
        query_key: r.get(2),
        window_start: r.get(3),
        window_end: r.get(4),
        rows: serde_json::from_str(r.get::<&str, _>(5)).unwrap_or(serde_json::Value::Null),
        records_matched: r.get(6),
        truncated: r.get(7),
        withheld: r.get(8),
        partial: r.get(9),
    }
}
