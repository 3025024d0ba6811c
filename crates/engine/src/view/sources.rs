//! The Sources view: what every source read, and what the last sync cost.

use sqlx::Row;

use super::ViewError;
use crate::cache::Cache;
use crate::model::{ServiceCalls, SourceRow, SourcesView};

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
            status: crate::model::SourceStatus::parse(r.get(4)),
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
