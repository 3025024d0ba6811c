//! The Cost view: per-tenant cost, this month against last.

use std::collections::HashMap;

use super::ViewError;
use crate::cache::Cache;
use crate::fleet::{Apportion, Model};
use crate::model::{ApportionView, CostFigures, CostView, ServiceCost, TenantCostRow};

/// The Cost view on `today` (UTC): every active tenant, even one with no cost
/// yet, most expensive forecast first; untagged spend and the total apart;
/// each tenant's share of pooled infrastructure and its cost per million
/// units of usage; the fleet's spend per service and its cost anomalies.
pub async fn cost(cache: &Cache, today: chrono::NaiveDate) -> Result<CostView, ViewError> {
    let costs: HashMap<String, crate::cost::TenantCost> =
        crate::cost::by_tenant(cache, today).await?.into_iter().map(|c| (c.tenant.clone(), c)).collect();
    let figures = |c: Option<&crate::cost::TenantCost>| {
        c.map(|c| CostFigures {
            month_to_date: c.month_to_date,
            last_month: c.last_month,
            forecast: c.forecast,
            change: (c.last_month > 0.0).then(|| c.forecast / c.last_month - 1.0),
        })
        .unwrap_or_default()
    };
    let apportion: Option<Apportion> = cache.meta("apportion").await?.and_then(|json| serde_json::from_str(&json).ok());
    let usage_metric = apportion.as_ref().map_or("requests", |a| a.metric.as_str()).to_string();
    let usage: HashMap<String, f64> =
        crate::cost::usage_per_day(cache, &usage_metric, None, today).await?.into_iter().collect();
    let untagged_services = crate::cost::by_service(cache, Some(""), today).await?;

    let tenants = cache.active_tenants().await?;
    let mut rows: Vec<TenantCostRow> = tenants
        .into_iter()
        .map(|(id, name, tier, model)| TenantCostRow {
            name,
            tier,
            model,
            cost: figures(costs.get(&id)),
            apportioned: 0.0,
            usage: usage.get(&id).copied(),
            cost_per_million: None,
            tenant: id,
        })
        .collect();

    // Pooled infrastructure is shared by the tenants living on it: those in
    // shared accounts (shared VPC, EKS namespace, pooled), by their usage.
    // A silo or remote tenant's account is its own, costed whole already.
    let apportion_view = apportion.map(|a| {
        let shared: f64 = untagged_services
            .iter()
            .filter(|(service, _, _)| a.services.is_empty() || a.services.contains(service))
            .map(|(_, mtd, _)| mtd)
            .sum();
        let sharing = |r: &TenantCostRow| {
            Model::parse(&r.model).is_some_and(|m| !m.owns_account()) && r.usage.is_some_and(|u| u > 0.0)
        };
        let total_usage: f64 = rows.iter().filter(|r| sharing(r)).filter_map(|r| r.usage).sum();
        let mut tenants = 0;
        for r in rows.iter_mut() {
            if sharing(r) && total_usage > 0.0 {
                r.apportioned = shared * r.usage.unwrap_or(0.0) / total_usage;
                tenants += 1;
            }
        }
        ApportionView { metric: a.metric, services: a.services, shared_month_to_date: shared, tenants }
    });
    for r in rows.iter_mut() {
        // The shared part at the month's run rate too: month to date scaled like the forecast.
        let shared_forecast =
            if r.cost.month_to_date > 0.0 { r.apportioned * r.cost.forecast / r.cost.month_to_date } else { 0.0 };
        r.cost_per_million =
            r.usage.and_then(|u| crate::cost::per_million(r.cost.forecast + shared_forecast, u, today));
    }
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
    let anomalies = crate::cost::kept_anomalies(cache, None, today, 14)
        .await?
        .iter()
        .map(super::incidents::cost_incident)
        .collect();
    Ok(CostView {
        today: today.format("%Y-%m-%d").to_string(),
        rows,
        untagged,
        total,
        services,
        anomalies,
        apportion: apportion_view,
        usage_metric,
    })
}
