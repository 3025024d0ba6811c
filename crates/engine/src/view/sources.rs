//! The Sources view: what every source read, and what the last sync cost.

use super::ViewError;
use crate::cache::Cache;
use crate::model::{ServiceCalls, SourcesView};

/// The Sources view: every source of every active tenant-region (and the
/// fleet-wide cost source), the worst first, then by tenant; and what the
/// last sync called and cost, per service.
pub async fn sources(cache: &Cache) -> Result<SourcesView, ViewError> {
    let rows = cache.source_rows().await?;
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
