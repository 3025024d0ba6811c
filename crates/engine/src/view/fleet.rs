//! The Fleet view: every tenant-region's health, the fleet's key figures,
//! its health by tier and region, and the health heatmap over time.

use std::collections::{BTreeMap, HashMap};

use super::ViewError;
use crate::cache::Cache;
use crate::catalog::Catalog;
use crate::clock::{ms, secs, DAY, HOUR, MINUTE};
use crate::model::{
    CostFigures, FleetOverview, GroupHealth, Health, HealthChanges, HealthCounts, Heatmap, HeatmapRow, TenantHealth,
};

// The views' SQL comes from the query catalog (the user's own files or the
// built-in ones), never from tenant data; every value is bound as a parameter.

/// The Fleet view at `now` (epoch s): every active tenant-region, worst
/// first, and the fleet's key figures.
pub async fn fleet_overview(
    cache: &Cache,
    catalog: &Catalog,
    demo: bool,
    now: i64,
) -> Result<FleetOverview, ViewError> {
    let mut out = cache.fleet_health(&catalog.views.fleet_health).await?;
    let rules = crate::spend::freshness_rules(cache, &catalog.health).await?;
    for row in &mut out {
        crate::health::judge_freshness(row, &rules, now);
    }
    // Worst first, as the query orders them, after freshness was judged.
    out.sort_by_key(|r| std::cmp::Reverse(r.health.severity()));
    let changes = mark_changes(&mut out, &cache.previous_health().await?);
    let counts = count_worst(out.iter().map(|r| (r.tenant.as_str(), r.health)));
    let by_tier = group_counts(&out, |r| (r.tier.as_str(), r.tenant.as_str()));
    let by_region = group_counts(&out, |r| (r.region.as_str(), r.tenant.as_str()));
    let open_alarms = cache.open_alarm_count().await?;
    let anomalies_24h = cache.active_anomalies_between(now - DAY, now).await?;
    let today = crate::clock::day_of(now);
    let (month_to_date, last_month, forecast) = crate::cost::totals(cache, None, today).await?;
    let cost = CostFigures {
        month_to_date,
        last_month,
        forecast,
        change: (last_month > 0.0).then(|| forecast / last_month - 1.0),
    };
    Ok(FleetOverview {
        fleet_name: cache.meta("fleet_name").await?.unwrap_or_else(|| "fleet".into()),
        demo,
        counts,
        rows: out,
        last_sync: cache.last_sync().await?.map(|s| s.finished_at),
        notices: cache
            .recovered()
            .map(|r| {
                vec![format!(
                    "The cache file was unreadable ({}), so it was moved to {} and a fresh cache was started.",
                    r.reason,
                    r.moved_to.display()
                )]
            })
            .unwrap_or_default(),
        by_tier,
        by_region,
        open_alarms: open_alarms.clamp(0, u32::MAX as i64) as u32,
        anomalies_24h: anomalies_24h.clamp(0, u32::MAX as i64) as u32,
        cost,
        changes,
    })
}

/// Mark each row whose health differs from the sync before (`was`) and
/// count the changes; `None` when no row has a previous assessment.
fn mark_changes(
    rows: &mut [TenantHealth],
    previous: &std::collections::HashMap<(String, String), (Health, i64)>,
) -> Option<HealthChanges> {
    let since = previous.values().map(|(_, at)| *at).max()?;
    let mut c = HealthChanges { since, ..HealthChanges::default() };
    for r in rows.iter_mut() {
        let Some((was, _)) = previous.get(&(r.tenant.clone(), r.region.clone())) else { continue };
        if *was == r.health {
            continue;
        }
        r.was = Some(*was);
        match (was, r.health) {
            (_, Health::Critical) => c.new_critical += 1,
            (Health::Ok | Health::Unknown, Health::Degraded) => c.new_degraded += 1,
            (Health::Degraded | Health::Critical, Health::Ok) => c.recovered += 1,
            _ => c.other += 1,
        }
    }
    Some(c)
}

/// Tenants critical in `after` that were not critical in `before` (each
/// once, at its first critical region): what a desktop notification says
/// after a sync. A tenant new to the fleet counts as newly critical.
pub fn newly_critical<'a>(before: &[TenantHealth], after: &'a [TenantHealth]) -> Vec<&'a TenantHealth> {
    let was: std::collections::HashSet<&str> =
        before.iter().filter(|r| r.health == Health::Critical).map(|r| r.tenant.as_str()).collect();
    let mut seen = std::collections::HashSet::new();
    after
        .iter()
        .filter(|r| r.health == Health::Critical && !was.contains(r.tenant.as_str()) && seen.insert(r.tenant.as_str()))
        .collect()
}

/// Tenants per health state, each tenant counted once at its worst.
fn count_worst<'a>(rows: impl Iterator<Item = (&'a str, Health)>) -> HealthCounts {
    let mut worst: HashMap<&str, Health> = HashMap::new();
    for (tenant, health) in rows {
        let w = worst.entry(tenant).or_insert(health);
        if health.severity() > w.severity() {
            *w = health;
        }
    }
    let mut counts = HealthCounts::default();
    for h in worst.values() {
        match h {
            Health::Ok => counts.ok += 1,
            Health::Degraded => counts.degraded += 1,
            Health::Critical => counts.critical += 1,
            Health::Unknown => counts.unknown += 1,
        }
    }
    counts
}

/// Counts per group (a tier, a region), groups in name order.
fn group_counts<'a>(
    rows: &'a [TenantHealth],
    key: impl Fn(&'a TenantHealth) -> (&'a str, &'a str),
) -> Vec<GroupHealth> {
    let mut groups: BTreeMap<&str, Vec<(&str, Health)>> = BTreeMap::new();
    for r in rows {
        let (group, tenant) = key(r);
        groups.entry(group).or_default().push((tenant, r.health));
    }
    groups
        .into_iter()
        .map(|(group, members)| GroupHealth { group: group.to_string(), counts: count_worst(members.into_iter()) })
        .collect()
}

/// Cells of the heatmap, at most this many per row.
pub const HEATMAP_CELLS: i64 = 48;

/// The health heatmap of the last `hours` (1 to 720) before `now`: a row
/// per active tenant-region, a cell per bucket, each the worst of what the
/// cache shows for it: an alarm in ALARM (critical), an anomaly episode
/// (degraded), an hourly mean over a catalog threshold (warning: degraded,
/// critical: critical), no data yet (`.`), and the current health in the
/// last cell. Threshold breaches are judged on hourly means, so a bucket
/// shorter than an hour shows its hour's.
pub async fn heatmap(cache: &Cache, catalog: &Catalog, hours: u32, now: i64) -> Result<Heatmap, ViewError> {
    if !(1..=super::MAX_INCIDENT_HOURS).contains(&hours) {
        return Err(ViewError::BadRequest(format!("the heatmap covers 1 to {} hours", super::MAX_INCIDENT_HOURS)));
    }
    let span = i64::from(hours) * HOUR;
    let bucket = [5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY]
        .into_iter()
        .find(|b| span / b <= HEATMAP_CELLS)
        .unwrap_or(DAY);
    let until = (now.div_euclid(bucket) + 1) * bucket;
    let cells = span.div_euclid(bucket).max(1);
    let since = until - cells * bucket;
    let cell_of = |ts: i64| ((ts - since).div_euclid(bucket)).clamp(0, cells - 1) as usize;

    let current = cache.active_health().await?;
    let mut rows: Vec<(String, String, Vec<u8>)> = Vec::with_capacity(current.len());
    let mut index: HashMap<(String, String), usize> = HashMap::with_capacity(current.len());
    let mut now_health: Vec<Health> = Vec::with_capacity(current.len());
    for (tenant, region, health) in current {
        index.insert((tenant.clone(), region.clone()), rows.len());
        now_health.push(health);
        rows.push((tenant, region, vec![b'.'; cells as usize]));
    }
    // Worse wins: . < o < u < d < c.
    let rank = |c: u8| match c {
        b'c' => 4,
        b'd' => 3,
        b'u' => 2,
        b'o' => 1,
        _ => 0,
    };
    let mut paint = |tenant: &str, region: &str, from: i64, to: i64, c: u8| {
        let Some(&i) = index.get(&(tenant.to_string(), region.to_string())) else { return };
        if to < since || from >= until {
            return;
        }
        for cell in &mut rows[i].2[cell_of(from)..=cell_of(to.min(until - 1))] {
            if rank(c) > rank(*cell) {
                *cell = c;
            }
        }
    };

    // Data present (ok) from each tenant-region's first hour in the window:
    // one primary-key probe per series, not every hour of every series.
    let hour0 = since.div_euclid(HOUR) * HOUR;
    // (Each tenant-region's first series stands for it: a series added
    // later would only start later.)
    let present = cache.first_hours_since(hour0).await?;
    for (tenant, region, first) in &present {
        if let Some(first) = first {
            paint(tenant, region, (*first).max(since), now, b'o');
        }
    }

    // Hours whose mean is over a catalog threshold: only the metrics that
    // have one are read, and SQLite returns only the hours over it.
    let thresholds: HashMap<&str, (Option<f64>, Option<f64>)> = catalog
        .metrics
        .iter()
        .filter(|m| m.warn_above.is_some() || m.critical_above.is_some())
        .map(|m| (m.key.as_str(), (m.warn_above, m.critical_above)))
        .collect();
    if !thresholds.is_empty() {
        let bounds: Vec<(&str, Option<f64>, Option<f64>)> =
            thresholds.iter().map(|(key, (warn, crit))| (*key, *warn, *crit)).collect();
        for (tenant, region, ts, level) in cache.hours_over(&bounds, hour0).await? {
            // An hour that began before `since` still colours the first cells.
            paint(&tenant, &region, ts.max(since), (ts + 3599).min(now), if level >= 2 { b'c' } else { b'd' });
        }
    }

    // Anomaly episodes; a metric's fall is no health reason where higher
    // is worse (fewer errors), as in health::assess.
    for a in cache.anomaly_spans_between(since, until).await? {
        if a.direction == crate::detect::Direction::Down && thresholds.contains_key(a.metric_key.as_str()) {
            continue;
        }
        paint(&a.tenant_id, &a.region, a.start, a.end, b'd');
    }

    // Alarms: their episodes in ALARM from the history, and those in ALARM
    // now from their last state change (history is not always readable).
    for i in cache.alarm_episodes(None, since, now).await? {
        paint(&i.tenant, &i.region, secs(i.start), i.end.map_or(now, secs), b'c');
    }
    for (tenant, region, since_ms) in cache.alarms_in_alarm(now).await? {
        paint(&tenant, &region, secs(since_ms), now, b'c');
    }

    // The last cell is now: the health as last assessed, stale data included.
    let last = cell_of(now);
    for (i, row) in rows.iter_mut().enumerate() {
        let c = match now_health[i] {
            Health::Ok => b'o',
            Health::Unknown => b'u',
            Health::Degraded => b'd',
            Health::Critical => b'c',
        };
        if rank(c) > rank(row.2[last]) || (c == b'u' && row.2[last] == b'o') {
            row.2[last] = c;
        }
    }
    Ok(Heatmap {
        since: ms(since),
        until: ms(until),
        bucket_ms: ms(bucket),
        rows: rows
            .into_iter()
            .map(|(tenant, region, cells)| HeatmapRow {
                tenant,
                region,
                cells: String::from_utf8(cells).unwrap_or_default(),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(tenant: &str, region: &str, health: Health) -> TenantHealth {
        TenantHealth {
            was: None,
            tenant: tenant.into(),
            name: tenant.into(),
            tier: "t".into(),
            model: "silo".into(),
            region: region.into(),
            health,
            reasons: vec![],
            focus_metric: None,
            fresh_at: None,
        }
    }

    #[test]
    fn only_tenants_that_turned_critical_are_news() {
        let before = [row("a", "us", Health::Critical), row("b", "us", Health::Ok), row("c", "us", Health::Degraded)];
        let after = [
            row("a", "eu", Health::Critical),
            row("b", "us", Health::Critical),
            row("b", "eu", Health::Critical),
            row("c", "us", Health::Degraded),
            row("d", "us", Health::Critical),
        ];
        let news: Vec<(&str, &str)> =
            newly_critical(&before, &after).iter().map(|r| (r.tenant.as_str(), r.region.as_str())).collect();
        assert_eq!(news, [("b", "us"), ("d", "us")], "a was critical already; b once; d is new");
    }

    /// Acme ran fine for 24 hours, then its errors crossed the critical
    /// level in the last hour; quiet had no data until 6 hours ago. The
    /// heatmap's cells say exactly that, and the newest cell is the health
    /// as assessed.
    #[tokio::test]
    async fn the_heatmap_paints_data_breaches_and_current_health() {
        use crate::cache::PointBatch;
        const NOW: i64 = 1_800_000_000; // 2027-01-15 08:00 UTC
        let cache = Cache::in_memory().await.unwrap();
        let catalog = Catalog::builtin().unwrap();
        for (tenant, hours, spike) in [("acme", 30, true), ("quiet", 6, false)] {
            crate::testkit::add_tenant(&cache, tenant, "premium").await;
            let id = crate::testkit::add_series(&cache, tenant, "errors", "HTTPCode_Target_5XX_Count").await;
            let points: Vec<(i64, f64)> = (0..hours * 60)
                .map(|m| {
                    let ts = NOW - hours * 3600 + m * 60;
                    (ts, if spike && ts >= NOW - 3600 { 120.0 } else { 1.0 })
                })
                .collect();
            cache.commit_points(&[PointBatch { series_id: id, points, watermark: NOW }]).await.unwrap();
        }
        let health = |tenant: &str, h: Health| crate::cache::HealthRow {
            tenant_id: tenant.into(),
            region: "us-east-1".into(),
            health: h,
            reasons: vec![],
            focus_metric: None,
            fresh_at: Some(NOW * 1000),
        };
        cache
            .replace_health(&[health("acme", Health::Critical), health("quiet", Health::Ok)], NOW * 1000)
            .await
            .unwrap();

        let map = heatmap(&cache, &catalog, 24, NOW).await.unwrap();
        assert_eq!(map.bucket_ms, 1_800_000, "24 hours in 48 half hours");
        let cells = |t: &str| map.rows.iter().find(|r| r.tenant == t).unwrap().cells.clone();
        let acme = cells("acme");
        assert_eq!(acme.len(), 48);
        assert!(acme[..44].chars().all(|c| c == 'o'), "fine before its spike: {acme}");
        assert!(acme.ends_with("cc"), "critical over its last hour: {acme}");
        let quiet = cells("quiet");
        assert!(quiet[..35].chars().all(|c| c == '.'), "no data before 6 hours ago: {quiet}");
        assert!(quiet[36..].chars().all(|c| c == 'o'), "{quiet}");
        assert!(matches!(heatmap(&cache, &catalog, 0, NOW).await, Err(ViewError::BadRequest(_))));
    }
}
