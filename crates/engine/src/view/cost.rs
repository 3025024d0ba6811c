//! The Cost view: per-tenant cost, this month against last.

use super::ViewError;
use crate::cache::Cache;
use crate::model::{ApportionView, CostFigures, CostView, ServiceCost, TenantCostRow};

/// The Cost view on `today` (UTC): every active tenant, even one with no cost
/// yet, most expensive forecast first; untagged spend and the total apart;
/// each tenant's share of pooled infrastructure and its cost per million
/// units of usage; the fleet's spend per service and its cost anomalies.
pub async fn cost(cache: &Cache, today: chrono::NaiveDate) -> Result<CostView, ViewError> {
    // Own spend, each pool's untagged spend shared out to the tenants
    // living in it, and the unit cost: one computation (`cost::chargeback`)
    // for this view, the Tenant page, the reports and their CSV.
    let charges = crate::cost::chargeback(cache, today).await?;
    let (costs, apportion) = (&charges.own, &charges.apportion);
    let figures = |c: Option<&crate::cost::TenantCost>| {
        c.map(|c| CostFigures {
            month_to_date: c.month_to_date,
            last_month: c.last_month,
            forecast: c.forecast,
            change: (c.last_month > 0.0).then(|| c.forecast / c.last_month - 1.0),
        })
        .unwrap_or_default()
    };
    let usage_metric = "requests".to_string();
    let tenants = cache.active_tenants().await?;
    let mut rows: Vec<TenantCostRow> = tenants
        .into_iter()
        .map(|(id, name, tier, model)| {
            let c = charges.tenants.get(&id).cloned().unwrap_or_default();
            TenantCostRow {
                name,
                tier,
                model,
                cost: figures(costs.get(&id)),
                apportioned: c.shared_month_to_date,
                usage: c.requests_per_day,
                cost_per_million: c.per_million,
                not_on_bill: c.not_on_bill,
                tenant: id,
            }
        })
        .collect();
    let apportion_view = (!charges.pools.is_empty() || !charges.overhead.is_empty()).then(|| ApportionView {
        metric: apportion.metric.clone(),
        by_model: apportion.by_model.iter().map(|(m, k)| format!("{m}: {k}")).collect(),
        services: apportion.services.clone(),
        shared_month_to_date: charges.pools.iter().map(|p| p.month_to_date).sum(),
        tenants: rows.iter().filter(|r| r.apportioned > 0.0).count() as u32,
        pools: charges.pools.len() as u32,
        overhead_month_to_date: charges.overhead.iter().map(|(_, mtd, _)| mtd).sum(),
    });
    rows.sort_by(|a, b| b.cost.forecast.total_cmp(&a.cost.forecast).then_with(|| a.tenant.cmp(&b.tenant)));

    let untagged = figures(costs.get(""));
    let sum = |f: fn(&crate::cost::TenantCost) -> f64| costs.values().map(f).sum::<f64>();
    let (mtd, last, forecast) = (sum(|c| c.month_to_date), sum(|c| c.last_month), sum(|c| c.forecast));
    let total = CostFigures {
        month_to_date: mtd,
        last_month: last,
        forecast,
        change: (last > 0.0).then(|| forecast / last - 1.0),
    };
    let services = crate::cost::by_service(cache, None, today)
        .await?
        .into_iter()
        .map(|(service, month_to_date, last_month)| ServiceCost { service, month_to_date, last_month })
        .collect();
    let kept = crate::cost::kept_anomalies(cache, None, today, 14).await?;
    let changed = crate::cost::changed_anomalies(cache, &kept).await?;
    let anomalies = kept.iter().map(super::incidents::cost_incident).collect();
    let reading = crate::cost::unread(cache).await?;
    Ok(CostView {
        reading,
        today: today.format("%Y-%m-%d").to_string(),
        rows,
        untagged,
        total,
        services,
        anomalies,
        changed,
        apportion: apportion_view,
        usage_metric,
    })
}
