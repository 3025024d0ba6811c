//! The Tenant view: one tenant's health by region with its reasons, the
//! metrics to chart, its alarms, the triage queries' latest results, its
//! incidents, its cost, and links into the AWS console signed in as its
//! role. From the cache only, like every view.

use super::ViewError;
use crate::cache::Cache;
use crate::catalog::Catalog;
use crate::clock::{self, DAY};
use crate::fleet::Model;
use crate::model::{
    AlarmInfo, ConsoleLink, CostFigures, LogPanel, LogQueryInfo, MetricInfo, ServiceCost, TenantHealth, TenantView,
};

/// How far back the Tenant view's incident list reaches.
const INCIDENT_DAYS: i64 = 7;
/// Cells longer than this in a cached log row are cut for the view (the
/// cache keeps at most 16 KiB a field; a table needs far less).
const LOG_CELL_CHARS: usize = 2_000;

/// Everything the Tenant view shows for tenant `id` at `now` (epoch s).
pub async fn tenant(cache: &Cache, catalog: &Catalog, id: &str, now: i64) -> Result<TenantView, ViewError> {
    if id.is_empty() || id.len() > 64 {
        return Err(ViewError::BadRequest("a tenant id is 1 to 64 characters".into()));
    }
    let (info, role_arn) =
        cache.tenant(id).await?.ok_or_else(|| ViewError::NotFound(format!("no tenant {id:?} in the cache")))?;
    let regions: Vec<String> = info.regions.clone();
    let model = Model::parse(&info.model);

    let health = cache.tenant_health(id).await?;
    let previous = cache.previous_health_of(id).await?;
    let mut by_region: Vec<TenantHealth> = health
        .into_iter()
        .map(|h| TenantHealth {
            // Its health at the sync before, where it differs.
            was: previous.get(&(id.to_string(), h.region.clone())).map(|(was, _)| *was).filter(|was| *was != h.health),
            tenant: info.id.clone(),
            name: info.name.clone(),
            tier: info.tier.clone(),
            model: info.model.clone(),
            region: h.region,
            health: h.health,
            reasons: h.reasons,
            focus_metric: h.focus_metric,
            fresh_at: h.fresh_at,
        })
        .collect();
    // Freshness judged at this read, as the Fleet view judges it.
    let rules = crate::spend::freshness_rules(cache, &catalog.health).await?;
    for row in &mut by_region {
        crate::health::judge_freshness(row, &rules, now);
    }
    // The fleet file's order: home region first.
    let order = |r: &str| regions.iter().position(|x| x == r).unwrap_or(usize::MAX);
    by_region.sort_by(|a, b| order(&a.region).cmp(&order(&b.region)).then_with(|| a.region.cmp(&b.region)));
    let fresh_at = by_region.iter().filter_map(|r| r.fresh_at).max();

    let specs: Vec<&crate::catalog::MetricSpec> = model.map(|m| catalog.metrics_for(m).collect()).unwrap_or_default();
    // A metric of a resource the tenant does not have (a shared tenant
    // without a database) is not charted empty, once it has series of
    // others; before its first sync every catalog metric is.
    let has = cache.tenant_metric_keys(id).await?;
    let metrics = specs
        .iter()
        .filter(|m| has.is_empty() || has.contains(&m.key))
        .map(|m| MetricInfo {
            key: m.key.clone(),
            label: m.label.clone(),
            unit: m.unit.clone(),
            warn_above: m.warn_above,
            critical_above: m.critical_above,
        })
        .collect();

    let alarms = cache
        .tenant_alarms(id)
        .await?
        .into_iter()
        .map(|(region, name, state, reason, since, namespace, metric_name, threshold)| AlarmInfo {
            region,
            name,
            state,
            reason,
            since,
            metric: specs
                .iter()
                .find(|m| Some(&m.namespace) == namespace.as_ref() && Some(&m.name) == metric_name.as_ref())
                .map(|m| m.key.clone()),
            threshold,
        })
        .collect();

    let logs = cache.tenant_log_results(id).await?;
    let mut logs: Vec<LogPanel> = logs
        .into_iter()
        .map(|(l, read_at)| {
            let query = l.query_key;
            let (columns, rows) = log_table(&l.rows);
            LogPanel {
                region: l.region,
                label: catalog.logs.iter().find(|q| q.key == query).map_or_else(|| query.clone(), |q| q.label.clone()),
                query,
                window_start: clock::ms(l.window_start),
                window_end: clock::ms(l.window_end),
                columns,
                rows,
                records_matched: l.records_matched as f64,
                truncated: l.truncated,
                partial: l.partial.clone(),
                withheld: l.withheld,
                read_at,
            }
        })
        .collect();
    let query_order = |k: &str| catalog.logs.iter().position(|q| q.key == k).unwrap_or(usize::MAX);
    logs.sort_by(|a, b| {
        order(&a.region).cmp(&order(&b.region)).then_with(|| query_order(&a.query).cmp(&query_order(&b.query)))
    });

    let mut incidents: Vec<_> = cache.incidents_for(Some(id), now - INCIDENT_DAYS * DAY, now).await?;
    let today = clock::day_of(now);
    for a in crate::cost::kept_anomalies(cache, Some(id), today, INCIDENT_DAYS).await?.iter() {
        incidents.push(super::incidents::cost_incident(a));
    }
    incidents.sort_by_key(|i| std::cmp::Reverse(i.start));

    let (month_to_date, last_month, forecast) = crate::cost::totals(cache, Some(id), today).await?;
    let cost = CostFigures {
        month_to_date,
        last_month,
        forecast,
        change: (last_month > 0.0).then(|| forecast / last_month - 1.0),
    };
    let cost_services = crate::cost::by_service(cache, Some(id), today)
        .await?
        .into_iter()
        .map(|(service, month_to_date, last_month)| ServiceCost { service, month_to_date, last_month })
        .collect();
    // The Cost view's figure: own spend and pool share over requests.
    let charge = crate::cost::charge(cache, id, today).await?;
    let (cost_per_million_requests, cost_not_on_bill) = (charge.per_million, charge.not_on_bill);

    let console = match &role_arn {
        // The tenant's own account only: another environment's account is
        // reached through a role of its own.
        Some(arn) => regions.iter().filter(|r| !r.contains('@')).flat_map(|r| console_links(arn, r)).collect(),
        None => Vec::new(),
    };
    let log_queries =
        catalog.logs.iter().map(|q| LogQueryInfo { key: q.key.clone(), label: q.label.clone() }).collect();

    Ok(TenantView {
        tenant: info,
        regions: by_region,
        metrics,
        alarms,
        logs,
        log_queries,
        incidents,
        cost,
        cost_services,
        cost_per_million_requests,
        cost_not_on_bill,
        console,
        resources: cache.tenant_tagged(id).await?.into_iter().map(Into::into).collect(),
        resource_tag: cache.meta("cost_tag").await?.unwrap_or_else(|| "tenant-id".into()),
        fresh_at,
    })
}

/// A Logs Insights result (an array of `{field: value}`) as a table: the
/// fields in order of first appearance (Logs Insights' own `@ptr` left
/// out), a row per record, long cells cut.
pub fn log_table(rows: &serde_json::Value) -> (Vec<String>, Vec<Vec<String>>) {
    let records = rows.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut columns: Vec<String> = Vec::new();
    for r in records {
        for key in r.as_object().into_iter().flat_map(|o| o.keys()) {
            if key != "@ptr" && !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let table = records
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| {
                    let cell = match r.get(c) {
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(serde_json::Value::Null) | None => String::new(),
                        Some(v) => v.to_string(),
                    };
                    cut(cell, LOG_CELL_CHARS)
                })
                .collect()
        })
        .collect();
    (columns, table)
}

fn cut(mut s: String, chars: usize) -> String {
    if let Some((at, _)) = s.char_indices().nth(chars) {
        s.truncate(at);
        s.push('…');
    }
    s
}

/// Console pages for the tenant in `region`: CloudWatch alarms, metrics
/// and Logs Insights. Opening one signs the browser in as the tenant's own
/// read-only session ([`crate::signin`]); the link itself holds no
/// credential and names no role (the console's switch-role page, which
/// could, sends no ExternalId and drops the session policy).
pub fn console_links(role_arn: &str, region: &str) -> Vec<ConsoleLink> {
    if !role_arn.contains(":role/") {
        return Vec::new();
    }
    let page =
        |fragment: &str| format!("https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#{fragment}");
    [
        ("CloudWatch alarms", "alarmsV2:"),
        ("CloudWatch metrics", "metricsV2:"),
        ("Logs Insights", "logsV2:logs-insights"),
    ]
    .into_iter()
    .map(|(label, fragment)| ConsoleLink { region: region.to_string(), label: label.to_string(), url: page(fragment) })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_links_are_plain_console_pages_with_no_role_or_credential() {
        let links = console_links("arn:aws:iam::111111111111:role/ops/FleetdeckReadOnly", "eu-west-1");
        assert_eq!(links.len(), 3);
        let alarms = &links[0];
        assert_eq!(alarms.label, "CloudWatch alarms");
        assert_eq!(alarms.url, "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:");
        assert!(links.iter().all(|l| !l.url.contains("switchrole") && !l.url.contains("111111111111")));
        assert!(console_links("not an arn", "us-east-1").is_empty());
    }

    #[test]
    fn a_log_result_becomes_a_table_with_its_fields_in_order() {
        let rows = serde_json::json!([
            {"@timestamp": "2026-12-06 04:00:00", "error_type": "<script>", "errors": "12", "@ptr": "x"},
            {"@timestamp": "2026-12-06 04:01:00", "errors": 3, "extra": "y".repeat(3000)},
        ]);
        let (columns, table) = log_table(&rows);
        assert_eq!(columns, ["@timestamp", "error_type", "errors", "extra"]);
        assert_eq!(table[0], ["2026-12-06 04:00:00", "<script>", "12", ""]);
        assert_eq!(table[1][2], "3");
        assert_eq!(table[1][3].chars().count(), LOG_CELL_CHARS + 1, "cut, with an ellipsis");
        assert_eq!(log_table(&serde_json::Value::Null), (vec![], vec![]));
    }
}
