//! Per-tenant cost from the cache: month to date, last month, and a
//! month-end forecast. The forecast is computed here, not with Cost
//! Explorer's GetCostForecast: that bills $0.01 per call per tenant, and a
//! run-rate over the last closed days is what an account manager checks it
//! against anyway.

use chrono::{Datelike, Duration, NaiveDate};

use crate::cache::{Cache, CacheError, CostAnomalyRow};
use crate::clock::{self, DAY};

/// One tenant's cost ('' is spend no tenant claims: untagged).
#[derive(Debug, Clone, PartialEq)]
pub struct TenantCost {
    pub tenant: String,
    pub month_to_date: f64,
    pub last_month: f64,
    pub forecast: f64,
}

/// Closed days used for the run rate.
const RUN_RATE_DAYS: usize = 7;

/// Month-end forecast: the closed days so far, plus the mean of the last
/// closed days for every day left (today included, whose figure is only an
/// estimate). With no closed day yet, today's estimate is the rate.
pub fn forecast(days: &[(NaiveDate, f64)], today: NaiveDate) -> f64 {
    let first = today.with_day(1).unwrap_or(today);
    let closed: Vec<f64> = days.iter().filter(|(d, _)| *d >= first && *d < today).map(|(_, v)| *v).collect();
    let recent: Vec<f64> = days.iter().filter(|(d, _)| *d < today).rev().take(RUN_RATE_DAYS).map(|(_, v)| *v).collect();
    let rate = if recent.is_empty() {
        days.iter().filter(|(d, _)| *d == today).map(|(_, v)| *v).sum()
    } else {
        recent.iter().sum::<f64>() / recent.len() as f64
    };
    let left = days_in_month(today) as i64 - closed.len() as i64;
    closed.iter().sum::<f64>() + rate * left.max(0) as f64
}

/// Every tenant with cost in the cache, most expensive month to date first.
pub async fn by_tenant(cache: &Cache, today: NaiveDate) -> Result<Vec<TenantCost>, CacheError> {
    by_tenants(cache, today, None).await
}

/// [`by_tenant`], of the tenants in `only` when given.
async fn by_tenants(cache: &Cache, today: NaiveDate, only: Option<&[String]>) -> Result<Vec<TenantCost>, CacheError> {
    let (first, first_last) = month_starts(today);
    // Daily totals per tenant, kept by triggers (migration 0006). Last
    // month is summed in SQL (one row a tenant); only the days the forecast
    // needs (this month and the 7 before today) come back as rows: each row
    // through sqlx costs about a microsecond, and the Cost view of 1,000
    // tenants has a 50 ms budget (benches/cache.rs).
    let last_month: std::collections::HashMap<String, f64> =
        cache.tenant_cost_totals(&day(first_last), &day(first), only).await?.into_iter().collect();
    let from = first.min(today - Duration::days(RUN_RATE_DAYS as i64));
    let rows = cache.tenant_cost_days(&day(from), &day(today), only).await?;
    let mut out: Vec<TenantCost> = Vec::new();
    let mut days: Vec<(NaiveDate, f64)> = Vec::new();
    let mut flush = |tenant: &str, days: &mut Vec<(NaiveDate, f64)>| {
        if !days.is_empty() {
            out.push(TenantCost {
                tenant: tenant.to_string(),
                month_to_date: days.iter().filter(|(d, _)| *d >= first).map(|(_, v)| v).sum(),
                last_month: last_month.get(tenant).copied().unwrap_or(0.0),
                forecast: forecast(days, today),
            });
        }
        days.clear();
    };
    let mut current: Option<&str> = None;
    for (tenant, d, total) in &rows {
        if current != Some(tenant.as_str()) {
            if let Some(t) = current {
                flush(t, &mut days);
            }
            current = Some(tenant.as_str());
        }
        if let Some(day) = parse_day(d) {
            days.push((day, *total));
        }
    }
    if let Some(t) = current {
        flush(t, &mut days);
    }
    // Spend last month and none since: nothing to forecast.
    for (tenant, total) in &last_month {
        if !out.iter().any(|c| &c.tenant == tenant) {
            out.push(TenantCost { tenant: tenant.clone(), month_to_date: 0.0, last_month: *total, forecast: 0.0 });
        }
    }
    out.sort_by(|a, b| b.month_to_date.total_cmp(&a.month_to_date));
    Ok(out)
}

/// Month to date, last month and month-end forecast of one tenant
/// (`Some`), or of the whole fleet with untagged spend (`None`): the Fleet
/// view's and the Tenant view's cost figures. Sums the daily totals in
/// SQL, so it reads ~40 rows whatever the fleet's size.
pub async fn totals(cache: &Cache, tenant: Option<&str>, today: NaiveDate) -> Result<(f64, f64, f64), CacheError> {
    let (first, first_last) = month_starts(today);
    let from = first_last.min(today - Duration::days(RUN_RATE_DAYS as i64));
    let rows = cache.daily_cost(tenant, &day(from), &day(today)).await?;
    let days: Vec<(NaiveDate, f64)> = rows.into_iter().filter_map(|(d, v)| parse_day(&d).map(|d| (d, v))).collect();
    let month_to_date = days.iter().filter(|(d, _)| *d >= first).map(|(_, v)| v).sum();
    let last_month = days.iter().filter(|(d, _)| *d >= first_last && *d < first).map(|(_, v)| v).sum();
    Ok((month_to_date, last_month, forecast(&days, today)))
}

/// A day as the cache stores it (`YYYY-MM-DD`).
pub(crate) fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A day as the cache stores it, read back.
pub(crate) fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// The first day of `today`'s month, and of the month before.
fn month_starts(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = today.with_day(1).unwrap_or(today);
    (first, (first - Duration::days(1)).with_day(1).unwrap_or(first))
}

/// What of the bill a sync's page budget left unread, said for people
/// (`None` once the bill is read whole): the Cost view, Sources, `status`
/// and reports show it.
pub async fn unread(cache: &Cache) -> Result<Option<String>, CacheError> {
    Ok(cache.meta(crate::sync::COST_READING).await?.filter(|m| !m.is_empty()))
}

/// Spend per AWS service, month to date and last month, largest this
/// month first: one tenant's (`Some`), untagged spend (`Some("")`), or the
/// whole fleet's (`None`, from the per-service daily totals of 0010).
pub async fn by_service(
    cache: &Cache,
    tenant: Option<&str>,
    today: NaiveDate,
) -> Result<Vec<(String, f64, f64)>, CacheError> {
    let (first, first_last) = month_starts(today);
    cache.cost_by_service(tenant, &day(first_last), &day(first), &day(today)).await
}

/// Daily spend per service over `[from, to]` (one tenant's or the whole
/// fleet's): (day, service, amount), by day.
pub async fn daily_by_service(
    cache: &Cache,
    tenant: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(NaiveDate, String, f64)>, CacheError> {
    let rows = cache.daily_cost_by_service(tenant, &day(from), &day(to)).await?;
    Ok(rows.into_iter().filter_map(|(d, s, v)| parse_day(&d).map(|d| (d, s, v))).collect())
}

/// Each tenant's use per day of a usage metric (requests served, say) at
/// the rate measured this month: the metric's daily rollups summed, over
/// the time their points cover (points x period). A cache that holds one
/// day of a six-day-old month still gives a day's rate, not a sixth of it.
/// Tenants without the metric are left out; one tenant's with `Some`.
pub async fn usage_per_day(
    cache: &Cache,
    metric: &str,
    tenant: Option<&str>,
    today: NaiveDate,
) -> Result<Vec<(String, f64)>, CacheError> {
    let first = today.with_day(1).unwrap_or(today);
    let since = clock::day_start(first);
    // Per tenant: the sum, the time covered, and how many series (regions)
    // ran side by side (their sums add up; their coverage is one's).
    let rows = cache.daily_rollup_usage(metric, tenant, since).await?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, covered, _)| *covered > 0)
        .map(|(t, sum, covered, series)| (t, sum / (covered as f64 / series.max(1) as f64) * DAY as f64))
        .collect())
}

/// What one tenant is charged this month: its own spend (its tag's, or its
/// account's), its share of the pools it lives in, and the unit cost.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Charge {
    pub month_to_date: f64,
    pub last_month: f64,
    pub forecast: f64,
    /// Its share of the untagged spend of the accounts (pools) it lives in.
    pub shared_month_to_date: f64,
    pub shared_forecast: f64,
    /// Requests per day at this month's measured rate.
    pub requests_per_day: Option<f64>,
    /// Dollars per million requests: ([`Charge::forecast`] +
    /// [`Charge::shared_forecast`]) over the month's requests at the
    /// measured rate. The one definition every view, report and CSV shows.
    pub per_million: Option<f64>,
    /// Its own account is on no line of the payer's bill: a customer-owned
    /// account outside the organization pays AWS itself. Its cost is
    /// unknown to fleetdeck, not zero.
    pub not_on_bill: bool,
}

/// One pool: an account several tenants live in (a shared account, an EKS
/// cluster's, a pooled platform's), its untagged spend and who shares it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub account: String,
    /// The usage metric it is shared out by.
    pub metric: String,
    /// (tenant, share of the pool, 0 to 1).
    pub members: Vec<(String, f64)>,
    pub month_to_date: f64,
    pub forecast: f64,
    /// Members have no usage on record: shared equally.
    pub equal_split: bool,
}

/// The fleet's chargeback this month.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chargeback {
    /// How pools were shared out (the fleet file's `[apportion]`, or the
    /// defaults).
    pub apportion: crate::fleet::Apportion,
    /// Every owner of cost in the cache, by [`by_tenant`]: tenants, and ''
    /// for spend no tenant claims.
    pub own: std::collections::HashMap<String, TenantCost>,
    pub tenants: std::collections::HashMap<String, Charge>,
    pub pools: Vec<Pool>,
    /// Untagged spend of accounts no tenant lives in (the payer's own
    /// Config, CloudTrail, Cost Explorer; security and tooling accounts),
    /// and untagged services `[apportion] services` leaves out: shown,
    /// not charged. (account, month to date, forecast).
    pub overhead: Vec<(String, f64, f64)>,
}

/// The chargeback on `today`: each tenant's own spend plus, for each
/// account it shares with other tenants, a part of that account's untagged
/// spend in proportion to its use of the pool's usage metric
/// ([`crate::fleet::Apportion::metric_for`]). Untagged spend of accounts
/// where no tenant lives is fleet overhead, never charged.
pub async fn chargeback(cache: &Cache, today: NaiveDate) -> Result<Chargeback, CacheError> {
    chargeback_of(cache, today, None).await
}

/// What one tenant is charged on `today`, as [`chargeback`] charges it:
/// the same arithmetic over that tenant and its pool-mates only (the
/// Tenant page's unit cost, without the whole fleet's chargeback).
pub async fn charge(cache: &Cache, tenant: &str, today: NaiveDate) -> Result<Charge, CacheError> {
    Ok(chargeback_of(cache, today, Some(tenant)).await?.tenants.remove(tenant).unwrap_or_default())
}

/// [`chargeback`]; with `Some(tenant)`, of that tenant, the pools it lives
/// in and their members only (the rest of the fleet is left out).
async fn chargeback_of(cache: &Cache, today: NaiveDate, only: Option<&str>) -> Result<Chargeback, CacheError> {
    use std::collections::{BTreeMap, HashMap};
    let apportion: crate::fleet::Apportion =
        cache.meta("apportion").await?.and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default();
    let pooled = |model: &str| crate::fleet::Model::parse(model).is_some_and(|m| !m.owns_account());
    let mut tenants = cache.tenant_accounts().await?;
    // One tenant's: the accounts it shares, and who shares them.
    let pools_of: Option<Vec<String>> = only
        .map(|id| tenants.iter().filter(|(t, model, _)| t == id && pooled(model)).map(|(_, _, a)| a.clone()).collect());
    if let (Some(id), Some(pools)) = (only, &pools_of) {
        tenants.retain(|(t, model, a)| t == id || (pooled(model) && pools.contains(a)));
    }
    let (first, first_last) = month_starts(today);
    let scope: Option<Vec<String>> = only.map(|_| tenants.iter().map(|(t, _, _)| t.clone()).collect());
    let own: HashMap<String, TenantCost> =
        by_tenants(cache, today, scope.as_deref()).await?.into_iter().map(|c| (c.tenant.clone(), c)).collect();
    // Whether the bill is read at all (a tenant without cost is then "not
    // on the bill"): any owner's, not only the scope's.
    let any_cost = match only {
        None => !own.is_empty(),
        Some(_) => cache.any_tenant_cost(&day(first_last), &day(today)).await?,
    };
    let requests: HashMap<String, f64> = usage_per_day(cache, "requests", None, today).await?.into_iter().collect();
    let mut usage_by_metric: HashMap<String, HashMap<String, f64>> =
        HashMap::from([("requests".to_string(), requests.clone())]);

    // Per account: its untagged days (shared services only), the rest overhead.
    let from = first.min(today - Duration::days(RUN_RATE_DAYS as i64));
    let rows = match &pools_of {
        // A tenant in no pool is charged no account's untagged spend.
        Some(pools) if pools.is_empty() => Vec::new(),
        Some(pools) => {
            let mut rows = cache.untagged_by_account(&day(from), &day(today)).await?;
            rows.retain(|(account, _, _, _)| pools.contains(account));
            rows
        }
        None => cache.untagged_by_account(&day(from), &day(today)).await?,
    };
    let mut shared_days: BTreeMap<String, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    let mut other_days: BTreeMap<String, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    for (account, service, d, amount) in rows {
        let Some(d) = parse_day(&d) else { continue };
        let shared = apportion.services.is_empty() || apportion.services.contains(&service);
        let into = if shared { &mut shared_days } else { &mut other_days };
        *into.entry(account).or_default().entry(d).or_default() += amount;
    }
    let figures = |days: &BTreeMap<NaiveDate, f64>| -> (f64, f64) {
        let days: Vec<(NaiveDate, f64)> = days.iter().map(|(d, v)| (*d, *v)).collect();
        (days.iter().filter(|(d, _)| *d >= first).map(|(_, v)| v).sum(), forecast(&days, today))
    };

    let mut out = Chargeback::default();
    for (id, model, _) in &tenants {
        let c = own.get(id);
        let owns_account = crate::fleet::Model::parse(model).is_some_and(|m| m.owns_account());
        out.tenants.insert(
            id.clone(),
            Charge {
                month_to_date: c.map_or(0.0, |c| c.month_to_date),
                last_month: c.map_or(0.0, |c| c.last_month),
                forecast: c.map_or(0.0, |c| c.forecast),
                requests_per_day: requests.get(id).copied(),
                not_on_bill: any_cost && owns_account && c.is_none(),
                ..Charge::default()
            },
        );
    }
    for (account, days) in &other_days {
        let (mtd, fc) = figures(days);
        out.overhead.push((account.clone(), mtd, fc));
    }
    for (account, days) in &shared_days {
        let (mtd, fc) = figures(days);
        let members: Vec<&(String, String, String)> = tenants
            .iter()
            .filter(|(_, model, a)| {
                a == account && crate::fleet::Model::parse(model).is_some_and(|m| !m.owns_account())
            })
            .collect();
        if members.is_empty() {
            out.overhead.push((account.clone(), mtd, fc));
            continue;
        }
        // The pool's metric: that of the model most of its tenants have.
        let mut models: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, model, _) in &members {
            *models.entry(model.as_str()).or_default() += 1;
        }
        let model = models.iter().max_by_key(|(_, n)| **n).map(|(m, _)| *m).unwrap_or("shared");
        let metric = apportion.metric_for(model).to_string();
        if !usage_by_metric.contains_key(&metric) {
            let usage = usage_per_day(cache, &metric, None, today).await?.into_iter().collect();
            usage_by_metric.insert(metric.clone(), usage);
        }
        let usage = &usage_by_metric[&metric];
        let weights: Vec<f64> =
            members.iter().map(|(id, _, _)| usage.get(id).copied().unwrap_or(0.0).max(0.0)).collect();
        let total: f64 = weights.iter().sum();
        let equal_split = total <= 0.0;
        let shares: Vec<(String, f64)> = members
            .iter()
            .zip(&weights)
            .map(|((id, _, _), w)| (id.clone(), if equal_split { 1.0 / members.len() as f64 } else { w / total }))
            .collect();
        for (id, share) in &shares {
            if let Some(c) = out.tenants.get_mut(id) {
                c.shared_month_to_date += mtd * share;
                c.shared_forecast += fc * share;
            }
        }
        out.pools.push(Pool {
            account: account.clone(),
            metric,
            members: shares,
            month_to_date: mtd,
            forecast: fc,
            equal_split,
        });
    }
    for c in out.tenants.values_mut() {
        c.per_million = c.requests_per_day.and_then(|r| per_million(c.forecast + c.shared_forecast, r, today));
    }
    out.own = own;
    out.apportion = apportion;
    Ok(out)
}

/// Days in `today`'s month.
pub fn days_in_month(today: NaiveDate) -> f64 {
    let first = today.with_day(1).unwrap_or(today);
    let next = (first + Duration::days(32)).with_day(1).unwrap_or(first);
    (next - first).num_days() as f64
}

/// Cost per million units of usage: the month's forecast over the month's
/// usage at the measured daily rate. Both are run rates, so a partly cached
/// month still compares like with like.
pub fn per_million(forecast: f64, usage_per_day: f64, today: NaiveDate) -> Option<f64> {
    let month = usage_per_day * days_in_month(today);
    (month > 0.0).then(|| forecast / month * 1_000_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CostRow;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// A day of a tenant's EC2 spend from its cost allocation tag.
    fn ec2(tenant: &str, day: &str, amount: f64, estimated: bool) -> CostRow {
        CostRow {
            tenant_id: tenant.into(),
            day: day.into(),
            service: "EC2".into(),
            source: "tag".into(),
            amount,
            amortized: amount,
            unit: "USD".into(),
            estimated,
        }
    }

    #[test]
    fn an_account_manager_sees_the_month_end_at_the_recent_run_rate() {
        // November has 30 days; 21 closed days at $10, then a jump to $40
        // for the last 7: the forecast follows the recent rate.
        let mut days: Vec<(NaiveDate, f64)> = (1..=14).map(|n| (d(&format!("2026-11-{n:02}")), 10.0)).collect();
        days.extend((15..=21).map(|n| (d(&format!("2026-11-{n:02}")), 40.0)));
        days.push((d("2026-11-22"), 5.0)); // today's partial estimate
        let f = forecast(&days, d("2026-11-22"));
        assert_eq!(f, 14.0 * 10.0 + 7.0 * 40.0 + 9.0 * 40.0);
    }

    #[test]
    fn on_the_first_of_the_month_the_forecast_uses_last_months_closing_days() {
        let days = vec![(d("2026-10-30"), 3.0), (d("2026-10-31"), 3.0), (d("2026-11-01"), 1.0)];
        assert_eq!(forecast(&days, d("2026-11-01")), 30.0 * 3.0);
        assert_eq!(forecast(&[(d("2026-11-01"), 2.0)], d("2026-11-01")), 60.0, "no history: today's estimate");
    }

    /// A bill with nothing before the month (a payer's first month, or a
    /// big fleet's first read still to reach last month): every sum of
    /// "this month" against "last month" reads 0 for last month, where
    /// SQLite's sum of integer zeros was an INTEGER the view could not
    /// decode (the Cost view failed; the windows panicked).
    #[tokio::test]
    async fn a_bill_with_nothing_before_the_month_reads_zero_for_last_month() {
        let cache = Cache::in_memory().await.unwrap();
        cache.put_costs(&[ec2("acme", "2026-11-20", 5.0, true), ec2("acme", "2026-11-21", 4.0, true)]).await.unwrap();
        let (last, this, today) = ("2026-10-01", "2026-11-01", "2026-11-22");
        for tenant in [None, Some("acme")] {
            let by_service = cache.cost_by_service(tenant, last, this, today).await.unwrap();
            assert_eq!(by_service, vec![("EC2".to_string(), 9.0, 0.0)], "{tenant:?}");
        }
        assert_eq!(cache.tenant_cost_windows(last, this, today).await.unwrap(), vec![("acme".to_string(), 0.0, 9.0)]);
        assert_eq!(
            cache.service_cost_windows("acme", last, this, today).await.unwrap(),
            vec![("EC2".to_string(), 0.0, 9.0)]
        );
        // And the other way round: nothing this month yet.
        assert_eq!(
            cache.tenant_cost_windows(last, "2026-11-22", "2026-11-21").await.unwrap(),
            vec![("acme".to_string(), 9.0, 0.0)]
        );
    }

    /// The daily totals the Cost view reads are kept by triggers: after
    /// inserts, an upsert that changes an amount, and deletes, they equal a
    /// sum over cost_daily itself.
    #[tokio::test]
    async fn daily_totals_follow_every_write_to_cost_daily() {
        let cache = Cache::in_memory().await.unwrap();
        let exec = |sql: &'static str| {
            let pool = cache.pool().clone();
            async move { sqlx::query(sql).execute(&pool).await.unwrap() }
        };
        exec(
            "INSERT INTO cost_daily (tenant_id, day, service, source, amount, unit, estimated) VALUES
              ('acme', '2026-11-20', 'EC2', 'tag', 5, 'USD', 1), ('acme', '2026-11-20', 'RDS', 'tag', 2, 'USD', 1),
              ('acme', '2026-11-21', 'EC2', 'tag', 4, 'USD', 1), ('beta', '2026-11-21', 'EC2', 'tag', 1, 'USD', 1)",
        )
        .await;
        exec(
            "INSERT INTO cost_daily (tenant_id, day, service, source, amount, unit, estimated)
              VALUES ('acme', '2026-11-20', 'EC2', 'tag', 7.5, 'USD', 0)
              ON CONFLICT (tenant_id, day, service, source) DO UPDATE SET amount = excluded.amount",
        )
        .await;
        exec("DELETE FROM cost_daily WHERE tenant_id = 'beta'").await;
        exec("DELETE FROM cost_daily WHERE tenant_id = 'acme' AND day = '2026-11-21'").await;
        let totals: Vec<(String, String, f64)> =
            sqlx::query_as("SELECT tenant_id, day, total FROM cost_tenant_day ORDER BY 1, 2")
                .fetch_all(cache.pool())
                .await
                .unwrap();
        let truth: Vec<(String, String, f64)> =
            sqlx::query_as("SELECT tenant_id, day, sum(amount) FROM cost_daily GROUP BY 1, 2 ORDER BY 1, 2")
                .fetch_all(cache.pool())
                .await
                .unwrap();
        assert_eq!(totals, truth);
        assert_eq!(totals, vec![("acme".to_string(), "2026-11-20".to_string(), 9.5)]);
    }

    #[tokio::test]
    async fn cost_is_summed_per_tenant_from_the_cache() {
        let cache = Cache::in_memory().await.unwrap();
        let rows: Vec<CostRow> = [
            ("acme", "2026-10-31", 5.0),
            ("acme", "2026-11-20", 2.0),
            ("acme", "2026-11-21", 2.0),
            ("", "2026-11-21", 1.0),
        ]
        .into_iter()
        .map(|(t, day, amount)| ec2(t, day, amount, false))
        .collect();
        cache.put_costs(&rows).await.unwrap();
        let costs = by_tenant(&cache, d("2026-11-22")).await.unwrap();
        assert_eq!(costs[0].tenant, "acme");
        assert_eq!((costs[0].month_to_date, costs[0].last_month), (4.0, 5.0));
        assert_eq!(costs[1].tenant, "");
    }

    /// A cache that holds the last 24 hours of a month six days old: the
    /// usage rate is a day's requests, not a sixth of them, and the cost
    /// per million is the month's forecast over the month's requests at
    /// that rate.
    #[tokio::test]
    async fn usage_is_a_daily_rate_over_what_the_cache_covers() {
        use crate::cache::PointBatch;
        let cache = Cache::in_memory().await.unwrap();
        crate::testkit::add_tenant(&cache, "acme", "premium").await;
        let id = crate::testkit::add_series(&cache, "acme", "requests", "RequestCount").await;
        // 2026-12-05 06:00 to 2026-12-06 06:00 UTC, 100 requests a minute.
        let start = clock::day_start(d("2026-12-05")) + 6 * clock::HOUR;
        let points: Vec<(i64, f64)> = (0..1440).map(|m| (start + m * clock::MINUTE, 100.0)).collect();
        cache.commit_points(&[PointBatch { series_id: id, points, watermark: start + DAY }]).await.unwrap();
        let today = d("2026-12-06");
        let usage = usage_per_day(&cache, "requests", None, today).await.unwrap();
        assert_eq!(usage, vec![("acme".to_string(), 144_000.0)]);
        assert_eq!(usage_per_day(&cache, "requests", Some("other"), today).await.unwrap(), vec![]);
        let per_m = per_million(310.0, 144_000.0, today).unwrap();
        assert!((per_m - 310.0 / (144_000.0 * 31.0) * 1e6).abs() < 1e-9, "{per_m}");
        assert_eq!(per_million(310.0, 0.0, today), None);
    }

    /// Regression: before dawn UTC, today's partial estimate (a fraction of
    /// a day) ended a cost episode that was still going on.
    #[tokio::test]
    async fn a_partial_day_does_not_end_a_cost_jump_that_goes_on() {
        let cache = Cache::in_memory().await.unwrap();
        let mut days: Vec<(String, f64, i64)> =
            (1..=20).map(|n| (format!("2026-11-{n:02}"), 100.0 + (n % 3) as f64, 0)).collect();
        days.extend([("2026-11-21".into(), 400.0, 0), ("2026-11-22".into(), 410.0, 0), ("2026-11-23".into(), 60.0, 1)]);
        let rows: Vec<CostRow> =
            days.into_iter().map(|(day, amount, estimated)| ec2("acme", &day, amount, estimated == 1)).collect();
        cache.put_costs(&rows).await.unwrap();
        let found = anomalies(&cache, d("2026-11-23"), 7).await.unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].first, found[0].last, found[0].ongoing), (d("2026-11-21"), d("2026-11-22"), true));
    }
}

/// A tenant's daily spend on one service well above its own recent
/// baseline, for one or more days in a row.
#[derive(Debug, Clone, PartialEq)]
pub struct CostAnomaly {
    pub tenant: String,
    pub service: String,
    /// First and last day above the baseline; `last` is the newest day with
    /// data when it is still going on.
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub ongoing: bool,
    /// The day's cost at the episode's worst, and the usual daily cost.
    pub peak: f64,
    pub baseline: f64,
    /// Dollars above the baseline over the whole episode.
    pub impact: f64,
}

impl CostAnomaly {
    /// What identifies it across syncs, and whether it still goes on.
    pub fn key(&self) -> String {
        let end = if self.ongoing { "ongoing".to_string() } else { self.last.to_string() };
        format!("{}|{}|{}|{end}", self.tenant, self.service, self.first)
    }

    /// "Amazon EC2 $412.50 a day against a usual $120.10 (+$876.20 over 3
    /// days)".
    pub fn explain(&self) -> String {
        let days = (self.last - self.first).num_days() + 1;
        format!(
            "{} ${:.2} a day against a usual ${:.2} (+${:.2} over {} day{})",
            self.service,
            self.peak,
            self.baseline,
            self.impact,
            days,
            if days == 1 { "" } else { "s" }
        )
    }
}

/// Days of history a day's cost is compared with.
const COST_BASELINE_DAYS: usize = 14;
/// A day is anomalous when it is this many robust deviations above the
/// baseline (median of the previous days; deviation = 1.4826 x MAD)...
const COST_Z: f64 = 4.0;
/// A day's spend has settled once the day began 48 hours ago: Cost
/// Explorer still marks it `Estimated` (the whole open month is, until the
/// invoice), but late usage records have arrived by then.
pub const STABLE_AFTER_DAYS: i64 = 2;

/// The newest day whose spend is stable on `today`.
pub fn stable_through(today: NaiveDate) -> NaiveDate {
    today - Duration::days(STABLE_AFTER_DAYS)
}

/// ...and at least this share above it...
const COST_MIN_RISE: f64 = 0.25;
/// ...and at least this many dollars above it: pennies are not news.
const COST_MIN_DOLLARS: f64 = 10.0;

/// Cost anomalies per tenant and service among the days up to `today`: each
/// day against the median of the 14 days before it, consecutive anomalous
/// days folded into one episode with its dollar impact. Computed from the
/// cached daily cost (tag and account lines summed), newest first. Only
/// stable days are judged ([`stable_through`]): today's partial spend is a
/// fraction of a day, so a jump would look over at midnight and back at
/// breakfast; but waiting for Cost Explorer to call a day final would wait
/// for the month's invoice.
pub async fn anomalies(cache: &Cache, today: NaiveDate, look_back_days: i64) -> Result<Vec<CostAnomaly>, CacheError> {
    let from = today - Duration::days(look_back_days + COST_BASELINE_DAYS as i64);
    let rows = cache.closed_cost_days(&day(from), &day(today), &day(stable_through(today))).await?;
    // (tenant, service) and its days, in the query's order.
    type Days = Vec<(NaiveDate, f64)>;
    let mut series: Vec<((String, String), Days)> = Vec::new();
    for (tenant, service, d, amount) in &rows {
        let key: (String, String) = (tenant.clone(), service.clone());
        let Some(day) = parse_day(d) else { continue };
        let amount: f64 = *amount;
        match series.last_mut() {
            Some((k, days)) if *k == key => days.push((day, amount)),
            _ => series.push((key, vec![(day, amount)])),
        }
    }
    let first_reported = today - Duration::days(look_back_days);
    let newest = rows.iter().filter_map(|r| parse_day(&r.2)).max();
    let mut out = Vec::new();
    for ((tenant, service), days) in series {
        let mut open: Option<CostAnomaly> = None;
        for (i, &(day, amount)) in days.iter().enumerate() {
            let before: Vec<f64> = days[..i]
                .iter()
                .rev()
                .filter(|(d, _)| (day - *d).num_days() <= COST_BASELINE_DAYS as i64)
                .map(|(_, v)| *v)
                .collect();
            // A baseline wants most of its two weeks.
            let unusual = before.len() >= COST_BASELINE_DAYS / 2 && {
                let baseline = median(&before);
                let deviation = 1.4826 * median(&before.iter().map(|v| (v - baseline).abs()).collect::<Vec<_>>());
                let rise = amount - baseline;
                rise > COST_Z * deviation && rise > COST_MIN_RISE * baseline && rise >= COST_MIN_DOLLARS
            };
            if unusual && day >= first_reported {
                // The baseline of an episode is the one before it began.
                let baseline = open.as_ref().map_or_else(|| median(&before), |a| a.baseline);
                let a = open.get_or_insert_with(|| CostAnomaly {
                    tenant: tenant.clone(),
                    service: service.clone(),
                    first: day,
                    last: day,
                    ongoing: false,
                    peak: amount,
                    baseline,
                    impact: 0.0,
                });
                a.last = day;
                a.peak = a.peak.max(amount);
                a.impact += amount - baseline;
            } else if let Some(a) = open.take() {
                out.push(a);
            }
        }
        if let Some(mut a) = open.take() {
            a.ongoing = Some(a.last) == newest;
            out.push(a);
        }
    }
    out.sort_by(|a, b| b.first.cmp(&a.first).then_with(|| b.impact.total_cmp(&a.impact)));
    Ok(out)
}

/// Days of cost anomalies kept: the longest window a view or report asks
/// for (30 days) and a day.
pub const KEPT_ANOMALY_DAYS: i64 = 31;

/// Find the fleet's cost anomalies of the last month again and keep them
/// (the sync calls this when it has written cost; a view reads them).
pub async fn refresh_anomalies(cache: &Cache, today: NaiveDate) -> Result<usize, CacheError> {
    let found = anomalies(cache, today, KEPT_ANOMALY_DAYS).await?;
    let rows: Vec<CostAnomalyRow> = found
        .iter()
        .map(|a| CostAnomalyRow {
            tenant_id: a.tenant.clone(),
            service: a.service.clone(),
            first_day: day(a.first),
            last_day: day(a.last),
            ongoing: a.ongoing,
            peak: a.peak,
            baseline: a.baseline,
            impact: a.impact,
        })
        .collect();
    cache.replace_cost_anomalies(&rows, &day(today)).await?;
    Ok(found.len())
}

/// The cost anomalies kept by [`refresh_anomalies`] that reach into the
/// last `look_back_days` before `today`, one tenant's with `Some`, newest
/// first. A cache that has cost but was never refreshed (written by an
/// earlier release) is refreshed first.
/// Note the cost anomalies as a sync leaves them, keeping those the sync
/// before left ([`changed_anomalies`] compares the two).
pub async fn remember_anomalies(cache: &Cache, now: i64) -> Result<(), CacheError> {
    let kept = kept_anomalies(cache, None, crate::clock::day_of(now), 14).await?;
    let keys: Vec<String> = kept.iter().map(CostAnomaly::key).collect();
    if let Some(previous) = cache.meta("cost_anomalies_now").await? {
        cache.set_meta("cost_anomalies_before", &previous).await?;
    }
    cache.set_meta("cost_anomalies_now", &serde_json::to_string(&keys).unwrap_or_default()).await
}

/// Of `anomalies`, those new or changed (ended) since the sync before the
/// last, as `tenant/service/start` (epoch ms of the first day); none after
/// a first sync.
pub async fn changed_anomalies(cache: &Cache, anomalies: &[CostAnomaly]) -> Result<Vec<String>, CacheError> {
    let Some(before) = cache.meta("cost_anomalies_before").await? else { return Ok(Vec::new()) };
    let before: std::collections::HashSet<String> = serde_json::from_str(&before).unwrap_or_default();
    Ok(anomalies
        .iter()
        .filter(|a| !before.contains(&a.key()))
        .map(|a| format!("{}/{}/{}", a.tenant, a.service, crate::clock::ms(crate::clock::day_start(a.first))))
        .collect())
}

pub async fn kept_anomalies(
    cache: &Cache,
    tenant: Option<&str>,
    today: NaiveDate,
    look_back_days: i64,
) -> Result<Vec<CostAnomaly>, CacheError> {
    if cache.meta("cost_anomalies_day").await?.is_none() {
        refresh_anomalies(cache, today).await?;
    }
    let since = day(today - Duration::days(look_back_days));
    let rows = cache.cost_anomalies(tenant, &since).await?;
    let mut out: Vec<CostAnomaly> = rows
        .into_iter()
        .filter_map(|r| {
            Some(CostAnomaly {
                tenant: r.tenant_id,
                service: r.service,
                first: parse_day(&r.first_day)?,
                last: parse_day(&r.last_day)?,
                ongoing: r.ongoing,
                peak: r.peak,
                baseline: r.baseline,
                impact: r.impact,
            })
        })
        .collect();
    out.sort_by(|a, b| b.first.cmp(&a.first).then_with(|| b.impact.total_cmp(&a.impact)));
    Ok(out)
}

fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}
