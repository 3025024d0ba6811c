//! Source status per tenant-region-service, and the record of each sync
//! with its API calls.

use sqlx::Row;

use crate::model::{SourceRow, SyncSummary};

use super::*;
use crate::model::SourceStatus;

/// One row of a source's state, as the sync records it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceState {
    pub tenant_id: String,
    pub region: String,
    pub source: String,
    pub status: SourceStatus,
    pub error: Option<String>,
    pub remediation: Option<String>,
    /// Epoch ms of the last sync that read this source without error; set
    /// by the cache from `status`, ignored when writing.
    pub last_ok: Option<i64>,
}

/// A `source_status` row selected as (tenant_id, region, source, status,
/// error, remediation, last_ok).
pub(super) fn source_state(r: &sqlx::sqlite::SqliteRow) -> SourceState {
    SourceState {
        tenant_id: r.get(0),
        region: r.get(1),
        source: r.get(2),
        status: SourceStatus::parse(r.get(3)),
        error: r.get(4),
        remediation: r.get(5),
        last_ok: r.get(6),
    }
}

/// What a number of syncs called, by action ([`Cache::calls_since`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncCalls {
    pub syncs: i64,
    pub actions: Vec<ActionCalls>,
}

/// The calls of one action (`cloudwatch:GetMetricData`) over some syncs.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionCalls {
    pub action: String,
    pub calls: i64,
    /// GetMetricData's metrics requested.
    pub metrics: i64,
    /// At list prices, as each sync's ledger priced them.
    pub dollars: f64,
    /// How many of the syncs made these calls.
    pub syncs: i64,
}

impl Cache {
    /// Record sources' statuses in one transaction (one commit, not one per
    /// source: on F200 that was 0.8 s of a re-sync), 100 to a statement
    /// (one each was 20,000 round trips to SQLite's thread at F2000). A
    /// source named twice keeps its later state, as one upsert after
    /// another would.
    pub async fn put_sources(&self, sources: &[SourceState], now_ms: i64) -> Result<(), CacheError> {
        if sources.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for chunk in sources.chunks(100) {
            let sql = format!(
                "INSERT INTO source_status (tenant_id, region, source, status, error, remediation, last_attempt, last_ok)
                 VALUES {}
                 ON CONFLICT (tenant_id, region, source) DO UPDATE SET status = excluded.status, error = excluded.error,
                   remediation = excluded.remediation, last_attempt = excluded.last_attempt,
                   last_ok = coalesce(excluded.last_ok, source_status.last_ok)",
                super::placeholders(chunk.len(), "(?, ?, ?, ?, ?, ?, ?, ?)")
            );
            // Built only from placeholders; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for s in chunk {
                let ok = (s.status == SourceStatus::Ok).then_some(now_ms);
                q = q
                    .bind(&s.tenant_id)
                    .bind(&s.region)
                    .bind(&s.source)
                    .bind(s.status.as_str())
                    .bind(&s.error)
                    .bind(&s.remediation)
                    .bind(now_ms)
                    .bind(ok);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every source status, by tenant, region and source.
    pub async fn all_sources(&self) -> Result<Vec<SourceState>, CacheError> {
        let rows = sqlx::query(
            "SELECT tenant_id, region, source, status, error, remediation, last_ok FROM source_status
             ORDER BY tenant_id, region, source",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(source_state).collect())
    }

    /// Record a finished sync and the calls it made, in one transaction.
    pub async fn record_sync(&self, s: &SyncSummary, calls: &[crate::ledger::CallCount]) -> Result<i64, CacheError> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sync_run (started_at, finished_at, sources_ok, sources_failed, datapoints, api_calls, dollars, errors)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        )
        .bind(s.started_at)
        .bind(s.finished_at)
        .bind(s.sources_ok)
        .bind(s.sources_failed)
        .bind(s.datapoints as i64)
        .bind(s.api_calls)
        .bind(s.dollars)
        .bind(serde_json::to_string(&s.errors).unwrap_or_default())
        .fetch_one(&mut *tx)
        .await?;
        for c in calls {
            sqlx::query(
                "INSERT INTO api_call (sync_id, account, region, action, calls, metrics, dollars)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .bind(id)
            .bind(&c.account)
            .bind(&c.region)
            .bind(c.action)
            .bind(c.calls as i64)
            .bind(c.metrics as i64)
            .bind(c.dollars())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The calls of the last sync, by service (`cloudwatch`, `logs`...):
    /// (service, calls, dollars).
    pub async fn last_sync_calls(&self) -> Result<Vec<(String, i64, f64)>, CacheError> {
        let rows = sqlx::query(
            "SELECT substr(action, 1, instr(action, ':') - 1) AS service, sum(calls), sum(dollars)
             FROM api_call WHERE sync_id = (SELECT max(id) FROM sync_run)
             GROUP BY service ORDER BY service",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    /// What the syncs started at or after `since_ms` (epoch ms) called, by
    /// action, and how many syncs that was: what keeping the console open
    /// has cost.
    pub async fn calls_since(&self, since_ms: i64) -> Result<SyncCalls, CacheError> {
        let syncs: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_run WHERE started_at >= ?1")
            .bind(since_ms)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT c.action, sum(c.calls), sum(c.metrics), sum(c.dollars), count(DISTINCT c.sync_id)
             FROM api_call c JOIN sync_run s ON s.id = c.sync_id WHERE s.started_at >= ?1
             GROUP BY c.action ORDER BY c.action",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        let actions = rows
            .iter()
            .map(|r| ActionCalls {
                action: r.get(0),
                calls: r.get(1),
                metrics: r.get(2),
                dollars: r.get(3),
                syncs: r.get(4),
            })
            .collect();
        Ok(SyncCalls { syncs, actions })
    }

    /// Every source not ok, worst news first: (tenant, region, source,
    /// status, error, remediation).
    pub async fn failing_sources(&self) -> Result<Vec<SourceState>, CacheError> {
        let rows = sqlx::query(
            "SELECT s.tenant_id, s.region, s.source, s.status, s.error, s.remediation, s.last_ok
             FROM source_status s LEFT JOIN tenant t ON t.id = s.tenant_id
             WHERE s.status != 'ok' AND (t.active = 1 OR s.tenant_id = '*')
             ORDER BY s.tenant_id, s.region, s.source",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(source_state).collect())
    }

    /// The last sync that committed anything.
    pub async fn last_sync(&self) -> Result<Option<SyncSummary>, CacheError> {
        let row = sqlx::query(
            "SELECT started_at, finished_at, sources_ok, sources_failed, datapoints, api_calls, dollars, errors
             FROM sync_run ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| SyncSummary {
            started_at: r.get(0),
            finished_at: r.get(1),
            sources_ok: r.get(2),
            sources_failed: r.get(3),
            datapoints: r.get::<i64, _>(4) as u64,
            api_calls: r.get(5),
            dollars: r.get(6),
            errors: serde_json::from_str(r.get::<&str, _>(7)).unwrap_or_default(),
            unreachable: false,
        }))
    }

    /// The Sources view's rows: every source of every active tenant-region
    /// and the fleet-wide ones (tenant `*`), with the tenant's name, those
    /// not ok first, then by tenant, region and source.
    pub async fn source_rows(&self) -> Result<Vec<SourceRow>, CacheError> {
        let rows = sqlx::query(
            "SELECT s.tenant_id, coalesce(t.name, s.tenant_id), s.region, s.source, s.status, s.error, s.remediation,
                    s.last_ok, s.last_attempt
             FROM source_status s LEFT JOIN tenant t ON t.id = s.tenant_id
             WHERE t.active = 1 OR s.tenant_id = '*'
             ORDER BY s.status = 'ok', s.tenant_id, s.region, s.source",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| SourceRow {
                tenant: r.get(0),
                name: r.get(1),
                region: r.get(2),
                source: r.get(3),
                status: SourceStatus::parse(r.get(4)),
                error: r.get(5),
                remediation: r.get(6),
                detail: None,
                last_ok: r.get(7),
                last_attempt: r.get(8),
            })
            .collect())
    }
}
