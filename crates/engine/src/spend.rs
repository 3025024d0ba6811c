//! What keeping the console open costs in API calls, and the monthly budget
//! that bounds it. GetMetricData is billed per metric requested, and every
//! sync requests every series again: a fleet of 200 tenants re-read every 5
//! minutes runs to hundreds of dollars a month per open console.
//!
//! The projection: GetMetricData from the fleet and the catalog (the
//! metrics each tenant-region's read requests, at $0.01 per 1,000); Cost
//! Explorer at what one cost read cost, as often as the sync reads cost
//! (every 6 hours, whatever the interval); every other call at what the
//! last 24 hours of syncs averaged per sync. When it
//! exceeds the budget, healthy tenant-regions are read less often (the
//! smallest multiple of the sync interval that fits, at most
//! [`MAX_HEALTHY_EVERY_SECS`]); unhealthy ones keep every sync. Alarms are
//! still read every sync for all: they are the tripwire that turns a
//! healthy tenant unhealthy, and so read again at once.
//!
//! The budget is the lower of the viewer's (Settings) and the team's (the
//! fleet file's `[fleet] monthly_api_budget`): the team sets a ceiling,
//! and a viewer may hold their own console to less, not more.

use crate::cache::{Cache, CacheError};
use crate::catalog::{Catalog, HealthRules};
use crate::clock::{DAY, MINUTE};
use crate::fleet::Fleet;
use crate::ledger::PER_METRIC_REQUESTED;
use crate::model::{ApiSpend, Health, Settings};

/// Healthy tenant-regions are read at least this often, whatever the
/// budget: beyond an hour the console no longer shows the fleet.
pub const MAX_HEALTHY_EVERY_SECS: i64 = 60 * MINUTE;

/// A month, for projections: 30 days.
pub const MONTH_DAYS: f64 = 30.0;

/// The cache's record of the stretch the last sync applied (seconds, `0`
/// for none): the views judge freshness by it.
const META_KEY: &str = "healthy_every_secs";

/// What a projection is made of.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// Per tenant-region: the metrics one read requests, and whether it is
    /// healthy (its last assessed health ok).
    pub reads: Vec<(u64, bool)>,
    /// Every call but GetMetricData and Cost Explorer, dollars per sync
    /// (the last 24 h's average).
    pub other_per_sync: f64,
    /// What does not depend on the interval (Cost Explorer), dollars a day.
    pub fixed_per_day: f64,
}

impl Usage {
    /// Dollars a day with a sync every `interval` seconds and healthy
    /// tenant-regions read every `healthy_every` (at least every sync).
    pub fn per_day(&self, interval: i64, healthy_every: i64) -> f64 {
        let interval = interval.max(MINUTE);
        let syncs = DAY as f64 / interval as f64;
        // A tenant-region is read at the first sync its last read is that
        // old: every whole number of intervals.
        let stretched = DAY as f64 / (interval * div_ceil(healthy_every, interval).max(1)) as f64;
        let metrics: f64 = self
            .reads
            .iter()
            .map(|(metrics, healthy)| *metrics as f64 * if *healthy { stretched } else { syncs })
            .sum();
        metrics * PER_METRIC_REQUESTED + self.other_per_sync * syncs + self.fixed_per_day
    }

    /// How often healthy tenant-regions must be read for a day to cost at
    /// most `per_day`: `None` when every sync fits, else the smallest
    /// multiple of `interval` that fits, or [`MAX_HEALTHY_EVERY_SECS`] when
    /// none does.
    pub fn healthy_every(&self, interval: i64, per_day: f64) -> Option<i64> {
        if self.per_day(interval, interval) <= per_day {
            return None;
        }
        let interval = interval.max(MINUTE);
        let mut every = 2 * interval;
        while every < MAX_HEALTHY_EVERY_SECS {
            if self.per_day(interval, every) <= per_day {
                return Some(every);
            }
            every += interval;
        }
        Some(MAX_HEALTHY_EVERY_SECS.max(interval))
    }
}

fn div_ceil(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

/// The budget in force and whose it is: the lower of the fleet file's and
/// the viewer's.
pub fn budget(fleet: &Fleet, settings: &Settings) -> Option<(f64, &'static str)> {
    match (fleet.monthly_api_budget, settings.monthly_api_budget) {
        (Some(team), Some(mine)) if mine < team => Some((mine, "your settings")),
        (Some(team), _) => Some((team, "the fleet file")),
        (None, Some(mine)) => Some((mine, "your settings")),
        (None, None) => None,
    }
}

/// What the fleet's reads request, per tenant-region, from the fleet and
/// the catalog (as the sync plans them), with the health last assessed.
pub async fn usage(cache: &Cache, fleet: &Fleet, catalog: &Catalog, now: i64) -> Result<Usage, CacheError> {
    let health = cache.active_health().await?;
    let healthy =
        |tenant: &str, region: &str| health.iter().any(|(t, r, h)| t == tenant && r == region && *h == Health::Ok);
    let mut reads = Vec::new();
    // One read of every tenant's tagged resources.
    let mut tagged: std::collections::HashMap<(String, String), Vec<crate::tags::TaggedResource>> = Default::default();
    for r in cache.all_tagged().await? {
        tagged.entry((r.tenant.clone(), r.region.clone())).or_default().push(r);
    }
    for t in &fleet.tenants {
        for region in t.regions() {
            let found = tagged.get(&(t.id.clone(), region.to_string())).map_or(&[][..], Vec::as_slice);
            let values = crate::tags::merged(t.dimensions_in(region), found);
            let metrics: usize =
                catalog.metrics_for(t.model).filter_map(|m| crate::tags::queries_for(&m.dimensions, &values)).sum();
            reads.push((metrics as u64, healthy(&t.id, region)));
        }
    }
    let day = cache.calls_since(crate::clock::ms(now - DAY)).await?;
    let cost_reads_per_day = DAY as f64 / crate::sync::SyncOptions::at(now).cost_every_secs as f64;
    let (mut other_per_sync, mut fixed_per_day) = (0.0, 0.0);
    for a in day.actions.iter().filter(|a| a.action != "cloudwatch:GetMetricData") {
        if a.action.starts_with("ce:") {
            fixed_per_day += a.dollars / a.syncs.max(1) as f64 * cost_reads_per_day;
        } else {
            other_per_sync += a.dollars / day.syncs.max(1) as f64;
        }
    }
    Ok(Usage { reads, other_per_sync, fixed_per_day })
}

/// What keeping the console open costs: the last 24 h of syncs, the
/// projection at the viewer's interval, and, when it exceeds the budget,
/// how often healthy tenant-regions are read instead, with the sentence
/// that says so.
pub async fn assess(
    cache: &Cache,
    fleet: &Fleet,
    catalog: &Catalog,
    settings: &Settings,
    now: i64,
) -> Result<ApiSpend, CacheError> {
    let usage = usage(cache, fleet, catalog, now).await?;
    let day = cache.calls_since(crate::clock::ms(now - DAY)).await?;
    Ok(project(&usage, settings, budget(fleet, settings), &day))
}

/// [`assess`] from its facts.
pub fn project(
    usage: &Usage,
    settings: &Settings,
    budget: Option<(f64, &'static str)>,
    day: &crate::cache::SyncCalls,
) -> ApiSpend {
    let interval = i64::from(settings.sync_minutes.max(1)) * MINUTE;
    let per_day = usage.per_day(interval, interval);
    let healthy = usage.reads.iter().filter(|(_, h)| *h).count() as u32;
    let mut spend = ApiSpend {
        last_24h_dollars: day.actions.iter().map(|a| a.dollars).sum(),
        last_24h_syncs: day.syncs.clamp(0, u32::MAX as i64) as u32,
        interval_minutes: settings.sync_minutes,
        per_day,
        per_month: per_day * MONTH_DAYS,
        budget: budget.map(|(b, _)| b),
        budget_from: budget.map(|(_, from)| from.to_string()),
        healthy_every_minutes: None,
        stretched_per_month: None,
        healthy,
        unhealthy: usage.reads.len() as u32 - healthy,
        note: None,
    };
    let Some((budget, from)) = budget else { return spend };
    let Some(every) = usage.healthy_every(interval, budget / MONTH_DAYS) else { return spend };
    let stretched = usage.per_day(interval, every) * MONTH_DAYS;
    spend.healthy_every_minutes = Some((every / MINUTE) as u32);
    spend.stretched_per_month = Some(stretched);
    let mut note = format!(
        "Every {} min the fleet's API calls would cost ${:.2} a month, over the ${budget:.2} budget ({from}): \
         the {healthy} healthy tenant-regions are read every {} min instead, the {} others every sync \
         (${stretched:.2} a month).",
        settings.sync_minutes,
        spend.per_month,
        every / MINUTE,
        spend.unhealthy
    );
    if stretched > budget {
        note.push_str(&format!(
            " That is still over the budget even at {} min: raise the budget or lengthen the sync interval.",
            MAX_HEALTHY_EVERY_SECS / MINUTE
        ));
    }
    spend.note = Some(note);
    spend
}

/// Record the stretch a sync applied (`None`: every tenant-region read
/// every sync), for [`freshness_rules`].
pub async fn record_stretch(cache: &Cache, healthy_every_secs: Option<i64>) -> Result<(), CacheError> {
    cache.set_meta(META_KEY, &healthy_every_secs.unwrap_or(0).to_string()).await
}

/// The stretch the last sync applied, in seconds.
pub async fn recorded_stretch(cache: &Cache) -> Result<Option<i64>, CacheError> {
    Ok(cache.meta(META_KEY).await?.and_then(|v| v.parse::<i64>().ok()).filter(|s| *s > 0))
}

/// The health rules to judge freshness by: data of a tenant-region read
/// every `healthy_every` is that much older at its freshest, so it goes
/// stale that much later.
pub fn stretched_rules(rules: &HealthRules, healthy_every: Option<i64>) -> HealthRules {
    let mut rules = rules.clone();
    rules.stale_after_secs += healthy_every.unwrap_or(0);
    rules
}

/// [`stretched_rules`] by the stretch the last sync recorded.
pub async fn freshness_rules(cache: &Cache, rules: &HealthRules) -> Result<HealthRules, CacheError> {
    Ok(stretched_rules(rules, recorded_stretch(cache).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet_with_budget(budget: Option<f64>) -> Fleet {
        let mut text = String::from("[fleet]\nregion = \"us-east-1\"\nrole_name = \"R\"\n");
        if let Some(b) = budget {
            text.push_str(&format!("monthly_api_budget = {b}\n"));
        }
        text.push_str(
            "[[tenant]]\nid = \"a\"\ntier = \"standard\"\nmodel = \"pooled\"\naccount = \"111111111111\"\n\
             home_region = \"us-east-1\"\nselector.dimensions = { TenantId = \"a\" }\n",
        );
        Fleet::parse(std::path::Path::new("fleet.toml"), &text, &Catalog::builtin().unwrap()).unwrap()
    }

    #[test]
    fn the_lower_budget_wins_and_says_whose_it_is() {
        let mine = |b: Option<f64>| Settings { monthly_api_budget: b, ..Settings::default() };
        assert_eq!(budget(&fleet_with_budget(None), &mine(None)), None);
        assert_eq!(budget(&fleet_with_budget(Some(300.0)), &mine(None)), Some((300.0, "the fleet file")));
        assert_eq!(budget(&fleet_with_budget(None), &mine(Some(50.0))), Some((50.0, "your settings")));
        assert_eq!(budget(&fleet_with_budget(Some(300.0)), &mine(Some(50.0))), Some((50.0, "your settings")));
        assert_eq!(budget(&fleet_with_budget(Some(300.0)), &mine(Some(900.0))), Some((300.0, "the fleet file")));
    }

    #[test]
    fn two_hundred_tenants_every_5_minutes_cost_hundreds_a_month_and_a_budget_stretches_the_healthy_ones() {
        // 200 tenants in 2 regions, 40 metrics a read: 16,000 metrics a sync.
        let mut usage = Usage { reads: vec![(40, true); 400], other_per_sync: 0.004, fixed_per_day: 0.0 };
        for r in usage.reads.iter_mut().take(20) {
            r.1 = false;
        }
        let interval = 5 * MINUTE;
        let month = usage.per_day(interval, interval) * MONTH_DAYS;
        // 16,000 x 288 x 30 x $0.00001 = $1,382, plus $0.004 a sync.
        assert!((month - (1382.4 + 0.004 * 288.0 * 30.0)).abs() < 0.01, "{month}");
        assert_eq!(usage.healthy_every(interval, month / MONTH_DAYS), None, "within budget: no stretch");
        let every = usage.healthy_every(interval, 500.0 / MONTH_DAYS).unwrap();
        assert_eq!(every % interval, 0, "a whole number of syncs");
        assert!(usage.per_day(interval, every) * MONTH_DAYS <= 500.0);
        assert!(usage.per_day(interval, every - interval) * MONTH_DAYS > 500.0, "the shortest that fits");
        // A budget nothing fits: the longest stretch, and the note says so.
        assert_eq!(usage.healthy_every(interval, 1.0 / MONTH_DAYS), Some(MAX_HEALTHY_EVERY_SECS));
        let day = crate::cache::SyncCalls::default();
        let spend = project(&usage, &Settings::default(), Some((1.0, "the fleet file")), &day);
        assert_eq!(spend.healthy_every_minutes, Some(60));
        assert!(spend.note.unwrap().contains("still over the budget"));
    }
}
