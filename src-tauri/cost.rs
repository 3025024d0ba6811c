//! Per-tenant cost from the cache: month to date, last month, and a
//! month-end forecast. The forecast is computed here, not with Cost
//! Explorer's GetCostForecast: that bills $0.01 per call per tenant, and a
//! run-rate over the last closed days is what an account manager checks it
//! against anyway.

use chrono::{Datelike, Duration, NaiveDate};
use sqlx::Row;

use crate::cache::{Cache, CacheError};

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
    let next_month = (first + Duration::days(32)).with_day(1).unwrap_or(first);
    let days_in_month = (next_month - first).num_days();
    let closed: Vec<f64> = days.iter().filter(|(d, _)| *d >= first && *d < today).map(|(_, v)| *v).collect();
    let recent: Vec<f64> = days.iter().filter(|(d, _)| *d < today).rev().take(RUN_RATE_DAYS).map(|(_, v)| *v).collect();
    let rate = if recent.is_empty() {
        days.iter().filter(|(d, _)| *d == today).map(|(_, v)| *v).sum()
    } else {
        recent.iter().sum::<f64>() / recent.len() as f64
    };
    let left = days_in_month - closed.len() as i64;
    closed.iter().sum::<f64>() + rate * left.max(0) as f64
}

/// Every tenant with cost in the cache, most expensive month to date first.
pub async fn by_tenant(cache: &Cache, today: NaiveDate) -> Result<Vec<TenantCost>, CacheError> {
    let first = today.with_day(1).unwrap_or(today);
    let first_last = (first - Duration::days(1)).with_day(1).unwrap_or(first);
    let rows = sqlx::query(
        "SELECT tenant_id, day, sum(amount) FROM cost_daily WHERE day >= ?1 AND day <= ?2
         GROUP BY tenant_id, day ORDER BY tenant_id, day",
    )
    .bind(first_last.format("%Y-%m-%d").to_string())
    .bind(today.format("%Y-%m-%d").to_string())
    .fetch_all(cache.pool())
    .await?;
    let mut out: Vec<TenantCost> = Vec::new();
    let mut days: Vec<(NaiveDate, f64)> = Vec::new();
    let mut current: Option<String> = None;
    let flush = |tenant: &str, days: &mut Vec<(NaiveDate, f64)>, out: &mut Vec<TenantCost>| {
        out.push(TenantCost {
            tenant: tenant.to_string(),
            month_to_date: days.iter().filter(|(d, _)| *d >= first).map(|(_, v)| v).sum(),
            last_month: days.iter().filter(|(d, _)| *d < first).map(|(_, v)| v).sum(),
            forecast: forecast(days, today),
        });
        days.clear();
    };
    for r in rows {
        let tenant: String = r.get(0);
        let Ok(day) = NaiveDate::parse_from_str(r.get::<&str, _>(1), "%Y-%m-%d") else { continue };
        if current.as_deref() != Some(tenant.as_str()) {
            if let Some(prev) = current.take() {
                flush(&prev, &mut days, &mut out);
            }
            current = Some(tenant.clone());
        }
        days.push((day, r.get(2)));
    }
    if let Some(prev) = current {
        flush(&prev, &mut days, &mut out);
    }
    out.sort_by(|a, b| b.month_to_date.total_cmp(&a.month_to_date));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
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

    #[tokio::test]
    async fn cost_is_summed_per_tenant_from_the_cache() {
        let cache = Cache::in_memory().await.unwrap();
        for (t, day, amount) in [
            ("acme", "2026-10-31", 5.0),
            ("acme", "2026-11-20", 2.0),
            ("acme", "2026-11-21", 2.0),
            ("", "2026-11-21", 1.0),
        ] {
            sqlx::query("INSERT INTO cost_daily (tenant_id, day, service, source, amount, unit, estimated) VALUES (?1, ?2, 'EC2', 'tag', ?3, 'USD', 0)")
                .bind(t)
                .bind(day)
                .bind(amount)
                .execute(cache.pool())
                .await
                .unwrap();
        }
        let costs = by_tenant(&cache, d("2026-11-22")).await.unwrap();
        assert_eq!(costs[0].tenant, "acme");
        assert_eq!((costs[0].month_to_date, costs[0].last_month), (4.0, 5.0));
        assert_eq!(costs[1].tenant, "");
    }
}
