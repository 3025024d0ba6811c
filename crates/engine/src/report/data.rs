//! A report's figures, read from the cache. Health, cost and incidents come
//! from the console's own views ([`view::fleet_overview`], [`view::cost`],
//! [`view::incidents`]) and cost anomalies from [`cost::anomalies`], so a
//! report and the console never disagree; what only a report needs is
//! computed here from the same tables: cost per closed day of the period
//! and of the period before, availability, usage and unit cost.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};

use super::{Period, ReportError};
use crate::cache::Cache;
use crate::catalog::Catalog;
use crate::clock::{self, DAY, HOUR, MINUTE};
use crate::cost::{self, CostAnomaly};
use crate::detect::Direction;
use crate::model::{
    Chart, ChartRequest, CostFigures, CostView, FleetOverview, Health, HealthCounts, Incident, IncidentsView,
};
use crate::view;

/// Everything the executive summary shows.
#[derive(Debug, Clone)]
pub struct Figures {
    pub fleet_name: String,
    pub demo: bool,
    /// The report's time and the period's start, epoch s.
    pub now: i64,
    pub since: i64,
    pub period: Period,
    /// The Fleet view: health as of the last sync.
    pub overview: FleetOverview,
    /// The Cost view on the report's day.
    pub cost: CostView,
    /// The Incidents view over the period.
    pub incidents: IncidentsView,
    /// Every active tenant, by id.
    pub tenants: Vec<TenantFigures>,
    /// Tenants per health state for each tier, each tenant at its worst region.
    pub by_tier: Vec<(String, HealthCounts)>,
    /// Tenant-regions per health state for each region.
    pub by_region: Vec<(String, HealthCounts)>,
    pub cost_days: CostDays,
    /// Metric anomaly episodes of the period, the most surprising first.
    pub anomalies: Vec<RankedAnomaly>,
    /// Cost anomalies of the period (those the Incidents view lists), the
    /// costliest first.
    pub cost_anomalies: Vec<CostAnomaly>,
    /// The oldest datapoint of the period in the cache (epoch s): metrics
    /// may reach back less far than the period.
    pub metrics_from: Option<i64>,
}

/// One active tenant's line of the report.
#[derive(Debug, Clone)]
pub struct TenantFigures {
    pub id: String,
    /// Untrusted text.
    pub name: String,
    pub tier: String,
    pub model: String,
    pub regions: Vec<String>,
    /// At its worst region; `None` before its health was first assessed.
    pub health: Option<Health>,
    /// Its row of the Cost view.
    pub cost: CostFigures,
    /// Closed days of the period, and of as many days before it.
    pub period_cost: f64,
    pub previous_cost: f64,
    pub availability: Availability,
    /// Its entries in the Incidents view (alarms, anomalies, cost).
    pub incidents: usize,
    pub usage: Option<Usage>,
    /// Dollars per million requests, as the Cost view and the Tenant page
    /// show it ([`crate::cost::Charge::per_million`]).
    pub unit_cost: Option<f64>,
}

/// Time with and without incidents, epoch ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Availability {
    /// From the period's start (or the tenant's first datapoint in it, if
    /// later) to the report's time.
    pub observed_ms: i64,
    /// Of that, the time covered by at least one alarm or adverse anomaly
    /// episode.
    pub impaired_ms: i64,
}

impl Availability {
    /// The incident-free share of the observed time; `None` with nothing observed.
    pub fn share(&self) -> Option<f64> {
        (self.observed_ms > 0).then(|| 1.0 - self.impaired_ms.min(self.observed_ms) as f64 / self.observed_ms as f64)
    }
}

/// A tenant's requests in the period, as far as the cache holds them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub requests: f64,
    /// Seconds from the first to past the last datapoint counted.
    pub covered_secs: i64,
}

impl Usage {
    pub fn per_day(&self) -> Option<f64> {
        (self.covered_secs > 0).then(|| self.requests / self.covered_secs as f64 * DAY as f64)
    }
}

/// Cost per closed day (today's partial estimate left out): the period's
/// days and as many before them.
#[derive(Debug, Clone, PartialEq)]
pub struct CostDays {
    /// Days compared (the period in whole days).
    pub days: i64,
    /// First and last day of each window, inclusive.
    pub this: (NaiveDate, NaiveDate),
    pub previous: (NaiveDate, NaiveDate),
    /// The oldest day of cost in the cache.
    pub cached_from: Option<NaiveDate>,
    /// The whole fleet (untagged spend included) per day, both windows.
    pub fleet_daily: Vec<(NaiveDate, f64)>,
    pub this_total: f64,
    pub previous_total: f64,
}

impl CostDays {
    /// Whether the cache holds cost for every day of the previous window.
    pub fn previous_complete(&self) -> bool {
        self.cached_from.is_some_and(|d| d <= self.previous.0)
    }
}

/// A metric anomaly episode of the Incidents view with how surprising it was.
#[derive(Debug, Clone)]
pub struct RankedAnomaly {
    pub incident: Incident,
    /// The detector's peak score, 0 to 1.
    pub peak_score: f64,
    pub direction: Direction,
}

/// What a tenant's report adds to the summary's figures.
#[derive(Debug, Clone)]
pub struct TenantDetail {
    pub tenant: TenantFigures,
    /// Per service: previous window, this window (closed days), costliest first.
    pub services: Vec<(String, f64, f64)>,
    /// The tenant's cost per closed day, both windows.
    pub daily: Vec<(NaiveDate, f64)>,
    /// The usage metric's label and charts (one per region), from the
    /// console's tenant chart.
    pub usage_label: Option<String>,
    pub charts: Vec<(String, Chart)>,
}

fn day_of(epoch_s: i64) -> NaiveDate {
    crate::clock::day_of(epoch_s)
}

/// Gather the summary's figures as of `now` over `period`.
pub async fn gather(cache: &Cache, catalog: &Catalog, period: Period, now: i64) -> Result<Figures, ReportError> {
    let demo = cache.meta("demo").await?.as_deref() == Some("1");
    let since = now - period.secs();
    let today = day_of(now);
    let overview = view::fleet_overview(cache, catalog, demo, now).await?;
    let cost_view = view::cost(cache, today).await?;
    let incidents = view::incidents(cache, period.hours, now).await?;

    // Each tenant at its worst region, counted as the Fleet view counts.
    let mut worst: BTreeMap<&str, Health> = BTreeMap::new();
    let mut by_region: BTreeMap<String, HealthCounts> = BTreeMap::new();
    for row in &overview.rows {
        let w = worst.entry(row.tenant.as_str()).or_insert(row.health);
        if row.health.severity() > w.severity() {
            *w = row.health;
        }
        count(by_region.entry(row.region.clone()).or_default(), row.health);
    }
    let tiers: HashMap<&str, &str> = overview.rows.iter().map(|r| (r.tenant.as_str(), r.tier.as_str())).collect();
    let mut by_tier: BTreeMap<&str, HealthCounts> = BTreeMap::new();
    for (tenant, health) in &worst {
        count(by_tier.entry(tiers.get(tenant).copied().unwrap_or("")).or_default(), *health);
    }
    let tier_rank = |t: &str| ["enterprise", "premium", "standard"].iter().position(|x| *x == t).unwrap_or(3);
    let mut by_tier: Vec<(String, HealthCounts)> = by_tier.into_iter().map(|(t, c)| (t.to_string(), c)).collect();
    by_tier.sort_by(|a, b| tier_rank(&a.0).cmp(&tier_rank(&b.0)).then_with(|| a.0.cmp(&b.0)));

    let cost_days = cost_days(cache, period, today).await?;
    let per_tenant_cost = tenant_cost_windows(cache, &cost_days).await?;
    let observed_from = first_datapoints(cache, since).await?;
    let usage = usage(cache, since, now).await?;

    // Anomaly episodes with their scores and directions (the Incidents view
    // lists them without).
    let scored: HashMap<(String, String, String, i64), (f64, Direction)> = cache
        .recent_anomalies(since)
        .await?
        .into_iter()
        .map(|a| ((a.tenant_id, a.region, a.metric_key, a.event.start), (a.event.peak_score, a.event.direction)))
        .collect();
    let mut anomalies: Vec<RankedAnomaly> = incidents
        .incidents
        .iter()
        .filter(|i| i.kind == crate::model::IncidentKind::Anomaly)
        .map(|i| {
            let key = (i.tenant.clone(), i.region.clone(), i.subject.clone(), clock::secs(i.start));
            let (peak_score, direction) = scored.get(&key).copied().unwrap_or((0.0, Direction::Up));
            RankedAnomaly { incident: i.clone(), peak_score, direction }
        })
        .collect();
    anomalies.sort_by(|a, b| {
        b.peak_score
            .total_cmp(&a.peak_score)
            .then_with(|| duration_ms(&b.incident, now).cmp(&duration_ms(&a.incident, now)))
    });

    // The cost anomalies the Incidents view lists: each day overlapping the period.
    let mut cost_anomalies: Vec<CostAnomaly> = cost::anomalies(cache, today, i64::from(period.hours) / 24 + 1)
        .await?
        .into_iter()
        .filter(|a| {
            let end = clock::day_start(a.last + Duration::days(1));
            end > since
        })
        .collect();
    cost_anomalies.sort_by(|a, b| b.impact.total_cmp(&a.impact).then_with(|| a.tenant.cmp(&b.tenant)));

    let regions: HashMap<String, Vec<String>> = cache.active_tenant_regions().await?.into_iter().collect();
    let adverse = |i: &&Incident| match i.kind {
        crate::model::IncidentKind::Alarm => true,
        // As health judges them: a fall of a metric where higher is worse
        // (fewer errors, faster responses) is no incident.
        crate::model::IncidentKind::Anomaly => {
            let key = (i.tenant.clone(), i.region.clone(), i.subject.clone(), clock::secs(i.start));
            let down = scored.get(&key).is_some_and(|(_, d)| *d == Direction::Down);
            !(down && higher_is_worse(catalog, &i.subject))
        }
        _ => false,
    };
    let mut tenants: Vec<TenantFigures> = cost_view
        .rows
        .iter()
        .map(|row| {
            let own: Vec<&Incident> = incidents.incidents.iter().filter(|i| i.tenant == row.tenant).collect();
            let from = observed_from.get(&row.tenant).map(|f| (*f).max(since));
            let availability = match from {
                Some(from) => availability(own.iter().copied().filter(adverse), clock::ms(from), clock::ms(now)),
                None => Availability::default(),
            };
            let (previous_cost, period_cost) = per_tenant_cost.get(&row.tenant).copied().unwrap_or_default();
            TenantFigures {
                id: row.tenant.clone(),
                name: row.name.clone(),
                tier: row.tier.clone(),
                model: row.model.clone(),
                regions: regions.get(&row.tenant).cloned().unwrap_or_default(),
                health: worst.get(row.tenant.as_str()).copied(),
                cost: row.cost.clone(),
                period_cost,
                previous_cost,
                availability,
                incidents: own.len(),
                usage: usage.get(&row.tenant).copied(),
                unit_cost: row.cost_per_million,
            }
        })
        .collect();
    tenants.sort_by(|a, b| a.id.cmp(&b.id));

    Ok(Figures {
        fleet_name: overview.fleet_name.clone(),
        demo,
        now,
        since,
        period,
        by_tier,
        by_region: by_region.into_iter().collect(),
        metrics_from: observed_from.values().map(|f| (*f).max(since)).min(),
        overview,
        cost: cost_view,
        incidents,
        tenants,
        cost_days,
        anomalies,
        cost_anomalies,
    })
}

fn count(c: &mut HealthCounts, h: Health) {
    match h {
        Health::Ok => c.ok += 1,
        Health::Degraded => c.degraded += 1,
        Health::Critical => c.critical += 1,
        Health::Unknown => c.unknown += 1,
    }
}

fn higher_is_worse(catalog: &Catalog, key: &str) -> bool {
    catalog.metrics.iter().filter(|m| m.key == key).any(|m| m.warn_above.is_some() || m.critical_above.is_some())
}

/// How long an incident lasted, or has lasted so far (ms).
pub fn duration_ms(i: &Incident, now: i64) -> i64 {
    (i.end.unwrap_or(clock::ms(now)) - i.start).max(0)
}

/// Incident-free time between `from_ms` and `until_ms`: the episodes given
/// are clipped to it and merged, so overlapping ones count once; an ongoing
/// one runs to `until_ms`, and each counts at least a minute (the shortest
/// period a datapoint covers).
pub fn availability<'a>(episodes: impl IntoIterator<Item = &'a Incident>, from_ms: i64, until_ms: i64) -> Availability {
    let mut spans: Vec<(i64, i64)> = episodes
        .into_iter()
        .map(|i| {
            let end = i.end.unwrap_or(until_ms).max(i.start + clock::ms(MINUTE));
            (i.start.max(from_ms), end.min(until_ms))
        })
        .filter(|(s, e)| e > s)
        .collect();
    spans.sort_unstable();
    let mut impaired = 0;
    let mut open: Option<(i64, i64)> = None;
    for (s, e) in spans {
        match &mut open {
            Some((_, oe)) if s <= *oe => *oe = (*oe).max(e),
            _ => {
                if let Some((os, oe)) = open.replace((s, e)) {
                    impaired += oe - os;
                }
            }
        }
    }
    if let Some((os, oe)) = open {
        impaired += oe - os;
    }
    Availability { observed_ms: (until_ms - from_ms).max(0), impaired_ms: impaired }
}

/// The closed-day windows of `period` before `today`, and the fleet's cost per day.
async fn cost_days(cache: &Cache, period: Period, today: NaiveDate) -> Result<CostDays, ReportError> {
    let days = period.cost_days();
    let this = (today - Duration::days(days), today - Duration::days(1));
    let previous = (this.0 - Duration::days(days), this.0 - Duration::days(1));
    let cached_from: Option<String> = cache.first_cost_day().await?;
    let fleet_daily: Vec<(NaiveDate, f64)> = cache
        .daily_cost(None, &cost::day(previous.0), &cost::day(this.1))
        .await?
        .into_iter()
        .filter_map(|(d, v)| Some((cost::parse_day(&d)?, v)))
        .collect();
    let sum =
        |(a, b): (NaiveDate, NaiveDate)| fleet_daily.iter().filter(|(d, _)| *d >= a && *d <= b).map(|x| x.1).sum();
    Ok(CostDays {
        days,
        this,
        previous,
        cached_from: cached_from.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
        this_total: sum(this),
        previous_total: sum(previous),
        fleet_daily,
    })
}

/// Per tenant: (previous window, this window) cost.
async fn tenant_cost_windows(cache: &Cache, d: &CostDays) -> Result<HashMap<String, (f64, f64)>, ReportError> {
    Ok(cache
        .tenant_cost_windows(&cost::day(d.previous.0), &cost::day(d.this.0), &cost::day(d.this.1))
        .await?
        .into_iter()
        .map(|(tenant, before, after)| (tenant, (before, after)))
        .collect())
}

/// Per tenant, its oldest datapoint at or after `since` (epoch s). One
/// index seek per series, not a scan of the points.
async fn first_datapoints(cache: &Cache, since: i64) -> Result<HashMap<String, i64>, ReportError> {
    Ok(cache.first_points_since(since).await?)
}

/// Per tenant, the requests counted by the catalog's `requests` metric
/// (a Sum) between `since` and `now`, in all its regions.
async fn usage(cache: &Cache, since: i64, now: i64) -> Result<HashMap<String, Usage>, ReportError> {
    Ok(cache
        .requests_between(since, now)
        .await?
        .into_iter()
        .map(|(tenant, requests, first, end)| {
            let covered = end - first;
            (tenant, Usage { requests, covered_secs: covered.max(0) })
        })
        .collect())
}

/// What a tenant's report adds: its services' cost, its daily cost, and the
/// console's usage charts of each of its regions.
pub async fn tenant_detail(
    cache: &Cache,
    catalog: &Catalog,
    f: &Figures,
    id: &str,
) -> Result<TenantDetail, ReportError> {
    let tenant = f.tenants.iter().find(|t| t.id == id).cloned().ok_or_else(|| ReportError::UnknownTenant(id.into()))?;
    let d = &f.cost_days;
    let mut services: Vec<(String, f64, f64)> =
        cache.service_cost_windows(id, &cost::day(d.previous.0), &cost::day(d.this.0), &cost::day(d.this.1)).await?;
    services.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| b.1.total_cmp(&a.1)).then_with(|| a.0.cmp(&b.0)));
    let daily = cache
        .tenant_daily_cost(id, &cost::day(d.previous.0), &cost::day(d.this.1))
        .await?
        .into_iter()
        .filter_map(|(day, v)| Some((NaiveDate::parse_from_str(&day, "%Y-%m-%d").ok()?, v)))
        .collect();

    // The usage metric's chart per region, over the part of the period the
    // cache holds (a week-long axis with one day of data says little).
    let model = crate::fleet::Model::parse(&tenant.model);
    let spec = model.and_then(|m| catalog.metric(m, "requests"));
    let mut charts = Vec::new();
    if let (Some(spec), Some(from)) = (spec, tenant.usage.map(|u| f.now - u.covered_secs)) {
        let hours = (((f.now - from.max(f.since)) as f64 / HOUR as f64).ceil() as u32).clamp(1, f.period.hours);
        for region in tenant.regions.iter().take(3) {
            let req = ChartRequest {
                tenant: tenant.id.clone(),
                region: region.clone(),
                metric: spec.key.clone(),
                width: 680,
                height: 220,
                hours: Some(hours),
                ..ChartRequest::default()
            };
            charts.push((region.clone(), view::tenant_chart(cache, catalog, &req, f.now).await?));
        }
    }
    Ok(TenantDetail { usage_label: spec.map(|s| s.label.clone()), tenant, services, daily, charts })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn episode(start_min: i64, end_min: Option<i64>) -> Incident {
        Incident {
            tenant: "acme".into(),
            region: "us-east-1".into(),
            kind: crate::model::IncidentKind::Alarm,
            subject: "x".into(),
            start: clock::ms(start_min * MINUTE),
            end: end_min.map(|m| clock::ms(m * MINUTE)),
            title: String::new(),
            evidence: Vec::new(),
        }
    }

    #[test]
    fn overlapping_episodes_count_once_and_are_clipped_to_the_period() {
        // A day observed; 60 min + 30 min overlapping by 15, one before the
        // period (clipped to 10 min), one ongoing (to the end: 20 min).
        let eps = [episode(100, Some(160)), episode(145, Some(175)), episode(-50, Some(10)), episode(1420, None)];
        let a = availability(&eps, 0, clock::ms(DAY));
        assert_eq!(a.impaired_ms, clock::ms((75 + 10 + 20) * MINUTE));
        assert_eq!(a.observed_ms, clock::ms(DAY));
        let share = a.share().unwrap();
        assert!((share - (1.0 - 105.0 / 1440.0)).abs() < 1e-12, "{share}");
    }

    #[test]
    fn an_instant_episode_counts_a_minute_and_nothing_observed_has_no_share() {
        let a = availability(&[episode(30, Some(30))], 0, clock::ms(HOUR));
        assert_eq!(a.impaired_ms, clock::ms(MINUTE));
        assert_eq!(availability(&[], 0, 0).share(), None);
        assert_eq!(availability(&[], 0, clock::ms(MINUTE)).share(), Some(1.0));
    }
}
