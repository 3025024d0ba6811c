//! The Sources view: what every source read, what the last sync cost, and
//! what keeping the console open costs against the API budget.

use super::ViewError;
use crate::cache::Cache;
use crate::catalog::Catalog;
use crate::fleet::Fleet;
use crate::model::{ServiceCalls, Settings, SourcesView};

/// The Sources view at `now` (epoch s): every source of every active
/// tenant-region (and the fleet-wide cost source), the worst first, then by
/// tenant; what the last sync called and cost, per service; and what the
/// syncs cost a day and a month at the viewer's interval, against the
/// budget ([`crate::spend::assess`]).
pub async fn sources(
    cache: &Cache,
    fleet: &Fleet,
    catalog: &Catalog,
    settings: &Settings,
    now: i64,
) -> Result<SourcesView, ViewError> {
    let mut rows = cache.source_rows().await?;
    // What each tenant-region's tag found, from the map the sync keeps.
    let tag = cache.meta("cost_tag").await?.unwrap_or_else(|| "tenant-id".into());
    let mut found: std::collections::HashMap<String, Vec<crate::tags::TaggedResource>> = Default::default();
    for row in rows.iter_mut().filter(|r| r.source == "tags") {
        if !found.contains_key(&row.tenant) {
            found.insert(row.tenant.clone(), cache.tenant_tagged(&row.tenant).await?);
        }
        let region = crate::fleet::aws_region(&row.region);
        let here = found[&row.tenant].iter().filter(|r| r.region == region);
        row.detail = Some(format!("found by tag {tag} = {:?}: {}", row.tenant, crate::tags::describe(here)));
    }
    // How a linked tenant-region is read, and what that cannot see.
    for row in rows.iter_mut().filter(|r| matches!(r.source.as_str(), "metrics" | "logs" | "alarms")) {
        let Some(t) = fleet.tenant(&row.tenant) else { continue };
        let Some(m) = fleet.monitoring_for(t, &row.region) else { continue };
        row.detail = Some(match row.source.as_str() {
            "alarms" if !t.has_role() => format!(
                "the monitoring account {}'s alarms on its metrics only: alarms in account {} are not visible (a \
                 link shares metrics and logs, not alarms; give the tenant a role to read them)",
                m.account, t.account
            ),
            "alarms" => format!("its own account's, and the monitoring account {}'s on its metrics", m.account),
            _ => format!("read through the monitoring account {}, as account {} (AccountId)", m.account, t.account),
        });
    }
    // A cost read the page budget stopped: what it has not read yet.
    let reading = crate::cost::unread(cache).await?;
    for row in rows.iter_mut().filter(|r| r.source == "cost") {
        row.detail = reading.clone();
    }
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
    let spend = crate::spend::assess(cache, fleet, catalog, settings, now).await?;
    Ok(SourcesView { rows, calls, last_sync: cache.last_sync().await?, spend })
}
