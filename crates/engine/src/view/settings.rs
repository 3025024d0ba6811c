//! The Settings view: the viewer's preferences, where fleetdeck keeps
//! everything (fleet file, cache, logs) with the fleet file's retention,
//! and what keeping the console open costs against the API budget.

use std::path::Path;

use super::ViewError;
use crate::cache::Cache;
use crate::catalog::Catalog;
use crate::fleet::Fleet;
use crate::model::{RetentionLine, Settings, SettingsView};

/// Where the Settings view's facts come from.
pub struct SettingsSources<'a> {
    pub cache: &'a Cache,
    pub fleet: &'a Fleet,
    pub catalog: &'a Catalog,
    /// None on the simulated fleet.
    pub fleet_file: Option<&'a Path>,
    pub settings_path: &'a Path,
}

/// What the Settings view shows at `now` (epoch s).
pub async fn settings_view(from: SettingsSources<'_>, settings: Settings, now: i64) -> Result<SettingsView, ViewError> {
    let SettingsSources { cache, fleet, catalog, fleet_file, settings_path } = from;
    let cache_path = cache.path().map(Path::to_path_buf).unwrap_or_default();
    // The WAL holds committed pages not yet folded into the file: both are the cache's size.
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let wal = cache_path.with_extension("sqlite-wal");
    let r = &fleet.retention;
    let retention = [
        ("raw_days", "raw metric points", r.raw_days),
        ("hourly_days", "hourly min/max/mean", r.hourly_days),
        ("daily_days", "daily min/max/mean", r.daily_days),
        ("events_days", "anomalies, alarm history, log results, sync records", r.events_days),
        ("cost_days", "daily cost", r.cost_days),
    ]
    .into_iter()
    .map(|(key, what, days)| RetentionLine { key: key.into(), what: what.into(), days })
    .collect();
    let spend = crate::spend::assess(cache, fleet, catalog, &settings, now).await?;
    Ok(SettingsView {
        settings,
        settings_path: settings_path.display().to_string(),
        fleet_source: fleet_file.map_or_else(|| "built-in simulated fleet".into(), |p| p.display().to_string()),
        fleet_name: fleet.name.clone(),
        tenants: fleet.tenants.len() as u32,
        cache_path: cache_path.display().to_string(),
        cache_bytes: size(&cache_path) + size(&wal),
        log_dir: crate::logging::log_dir().map(|d| d.display().to_string()),
        retention,
        spend,
    })
}
