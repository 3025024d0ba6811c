//! `cargo bench --no-default-features --bench cache`: cache C1000
//! (shared/BENCHMARKS.md, cache): 1,000 tenants x 10 metrics x 7 days at 5
//! minutes (20.16 million points) plus alarms, alarm history, anomalies,
//! health and 13 months of daily cost, built with bulk SQL straight into a
//! cache file. Then the views the console opens, each the median of several
//! warm runs, beside one full sequential scan of the datapoint table
//! measured in the same run (the cost of a view that read raw points
//! without the primary key's ranges). The last line is JSON.
//!
//! `FLEETDECK_BENCH_TENANTS=N` scales the fleet down (the output says so).
//! Cold start of the desktop app (the fourth C1000 bar) needs the window
//! and is not measured here.

use std::time::Instant;

use fleetdeck::cache::Cache;
use fleetdeck::catalog::Catalog;
use fleetdeck::fleet::Model;
use fleetdeck::model::ChartRequest;
use fleetdeck::view;

/// 2027-01-15 08:00 UTC, on a 5-minute boundary.
const NOW: i64 = 1_800_000_000;
const METRICS: usize = 10;
const DAYS: i64 = 7;
const PERIOD: i64 = 300;
const COST_DAYS: i64 = 396; // 13 months
const SERVICES: &[&str] = &["AmazonEC2", "AmazonRDS", "AmazonS3", "AWSLambda"];
const RUNS: usize = 9;
const BAR_MS: f64 = 50.0;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(run());
}

/// The built-in catalog plus synthetic silo metrics up to ten, so a tenant
/// has ten charts to draw.
fn catalog() -> Catalog {
    let mut catalog = Catalog::builtin().expect("catalog");
    let base = catalog.metric(Model::Silo, "requests").expect("requests").clone();
    let have = catalog.metrics_for(Model::Silo).count();
    for i in have..METRICS {
        let mut m = base.clone();
        m.key = format!("synthetic_{i}");
        m.label = format!("Synthetic {i}");
        m.name = format!("Synthetic{i}");
        m.models = vec![Model::Silo];
        catalog.metrics.push(m);
    }
    catalog
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn time<F, Fut, T>(runs: usize, mut f: F) -> (f64, T)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f().await);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    (median(times), last.expect("at least one run"))
}

async fn exec(cache: &Cache, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(cache.pool())
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// Build C1000 (or `tenants` of it) with bulk SQL: SQLite generates the
/// rows itself, in primary-key order, a few hundred thousand per statement.
async fn build(cache: &Cache, catalog: &Catalog, tenants: i64) {
    let keys: Vec<String> = catalog.metrics_for(Model::Silo).map(|m| format!("'{}'", m.key)).collect();
    assert_eq!(keys.len(), METRICS);
    exec(cache, "INSERT INTO meta (key, value) VALUES ('fleet_name', 'C1000')").await;
    exec(
        cache,
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {tenants})
             INSERT INTO tenant (id, name, tier, model, account, home_region, regions)
             SELECT printf('t%04d', i), printf('Tenant %d', i),
                    CASE i % 10 WHEN 0 THEN 'enterprise' WHEN 1 THEN 'premium' ELSE 'standard' END,
                    'silo', printf('%012d', 100000000000 + i), 'us-east-1', '[\"us-east-1\"]' FROM n"
        ),
    )
    .await;
    exec(
        cache,
        &format!(
            "WITH k(key, o) AS (SELECT column1, column2 FROM (VALUES {}))
             INSERT INTO series (tenant_id, region, metric_key, namespace, metric_name, dimensions, stat, period, unit, watermark)
             SELECT t.id, 'us-east-1', k.key, 'AWS/ApplicationELB', k.key, '{{}}', 'Sum', {PERIOD}, 'count', {NOW}
             FROM tenant t CROSS JOIN k ORDER BY t.id, k.o",
            keys.iter().enumerate().map(|(i, k)| format!("({k}, {i})")).collect::<Vec<_>>().join(",")
        ),
    )
    .await;
    let series: i64 = sqlx::query_scalar("SELECT max(id) FROM series").fetch_one(cache.pool()).await.unwrap();
    let from = NOW - DAYS * 86_400;
    let chunk = 250;
    let mut first = 1;
    while first <= series {
        let last = (first + chunk - 1).min(series);
        exec(
            cache,
            &format!(
                "WITH RECURSIVE t(ts) AS (SELECT {from} UNION ALL SELECT ts + {PERIOD} FROM t WHERE ts + {PERIOD} < {NOW})
                 INSERT INTO datapoint (series_id, ts, value)
                 SELECT s.id, t.ts, 100.0 + (s.id % 50) + (abs(random()) % 1000) / 100.0
                 FROM series s CROSS JOIN t WHERE s.id BETWEEN {first} AND {last} ORDER BY s.id, t.ts"
            ),
        )
        .await;
        first = last + 1;
    }
    // Health: one row a tenant, 5% critical and 10% degraded with reasons.
    exec(
        cache,
        &format!(
            "INSERT INTO health (tenant_id, region, health, reasons, focus_metric, fresh_at, computed_at)
             SELECT id, 'us-east-1',
                    CASE WHEN rowid % 20 = 0 THEN 'critical' WHEN rowid % 10 = 3 THEN 'degraded' ELSE 'ok' END,
                    CASE WHEN rowid % 20 = 0 THEN '[\"alarm t-errors in ALARM\",\"errors 3.1x its usual level\"]'
                         WHEN rowid % 10 = 3 THEN '[\"latency_p99 above 1.5 s\"]' ELSE '[\"all checks ok\"]' END,
                    'errors', {NOW} * 1000, {NOW} * 1000 FROM tenant"
        ),
    )
    .await;
    // Alarms: three a tenant, 5% in ALARM, with history.
    exec(
        cache,
        &format!(
            "WITH a(n) AS (VALUES ('errors'), ('latency'), ('requests'))
             INSERT INTO alarm (tenant_id, region, arn, name, state, reason, state_changed_at, namespace, metric_name, threshold, synced_at)
             SELECT t.id, 'us-east-1', 'arn:aws:cloudwatch:us-east-1:' || t.account || ':alarm:' || t.id || '-' || a.n,
                    t.id || '-' || a.n, CASE WHEN t.rowid % 20 = 0 AND a.n = 'errors' THEN 'ALARM' ELSE 'OK' END,
                    'Threshold crossed', ({NOW} - 3600) * 1000, 'AWS/ApplicationELB', a.n, 10, {NOW} * 1000
             FROM tenant t CROSS JOIN a"
        ),
    )
    .await;
    exec(
        cache,
        &format!(
            "INSERT INTO alarm_history (tenant_id, region, alarm_name, at, summary)
             SELECT tenant_id, region, name, ({NOW} - 3600) * 1000, 'Alarm updated from OK to ALARM' FROM alarm WHERE state = 'ALARM'"
        ),
    )
    .await;
    // Anomalies: one episode in the last day for every 7th series.
    exec(
        cache,
        &format!(
            "INSERT INTO anomaly (tenant_id, region, metric_key, start, \"end\", peak_score, direction, peak_ts, peak_value,
               expected, explanation, through_ts, season, series_id)
             SELECT tenant_id, region, metric_key, {NOW} - 7200, CASE WHEN id % 2 = 0 THEN {NOW} - 3600 END, 0.97, 'up',
                    {NOW} - 5400, 250.0, 100.0, metric_key || ' 2.5x its usual Friday 06:00 level', {NOW} - 600, 'daily', id
             FROM series WHERE id % 7 = 0"
        ),
    )
    .await;
    // 13 months of daily cost, four services a tenant, and untagged spend.
    exec(
        cache,
        &format!(
            "WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n + 1 < {COST_DAYS}),
                  s(name) AS (VALUES {}),
                  who(id) AS (SELECT id FROM tenant UNION ALL SELECT '')
             INSERT INTO cost_daily (tenant_id, day, service, source, amount, amortized, unit, estimated)
             SELECT who.id, date({NOW} - d.n * 86400, 'unixepoch'), s.name, 'tag',
                    1.0 + (abs(random()) % 5000) / 100.0, NULL, 'USD', d.n = 0
             FROM who CROSS JOIN d CROSS JOIN s ORDER BY who.id, d.n",
            SERVICES.iter().map(|s| format!("('{s}')")).collect::<Vec<_>>().join(",")
        ),
    )
    .await;
    exec(
        cache,
        &format!(
            "INSERT INTO sync_run (started_at, finished_at, sources_ok, sources_failed, datapoints, api_calls, dollars, errors)
             VALUES ({NOW} * 1000 - 60000, {NOW} * 1000, {}, 0, 0, 0, 0, '[]')",
            tenants * 4
        ),
    )
    .await;
    // No ANALYZE: a real cache has no planner statistics either.
    exec(cache, "PRAGMA wal_checkpoint(TRUNCATE)").await;
}

async fn plan(cache: &Cache, sql: &str) -> String {
    let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
        .fetch_all(cache.pool())
        .await
        .unwrap_or_default();
    rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ")
}

async fn run() {
    let tenants: i64 = std::env::var("FLEETDECK_BENCH_TENANTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c1000.sqlite");
    let cache = Cache::open(&path).await.expect("cache");
    let catalog = catalog();

    let t = Instant::now();
    build(&cache, &catalog, tenants).await;
    let build_s = t.elapsed().as_secs_f64();
    let points = cache.datapoint_count().await.unwrap();
    let costs: i64 = sqlx::query_scalar("SELECT count(*) FROM cost_daily").fetch_one(cache.pool()).await.unwrap();
    let file_mb = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0;
    let scaled = if tenants == 1000 { String::new() } else { format!(" SCALED DOWN to {tenants} tenants") };
    eprintln!(
        "C1000{scaled}: {tenants} tenants, {points} datapoints, {costs} cost rows, {file_mb:.0} MB, built in {build_s:.1} s"
    );

    // Baseline: every datapoint read once, in the table's order.
    let (scan_ms, scanned) = time(3, || async {
        let (n, _sum): (i64, f64) =
            sqlx::query_as("SELECT count(*), total(value) FROM datapoint").fetch_one(cache.pool()).await.unwrap();
        n
    })
    .await;
    assert_eq!(scanned, points);

    let (fleet_ms, overview) =
        time(RUNS, || async { view::fleet_overview(&cache, &catalog, false).await.expect("fleet overview") }).await;
    assert_eq!(overview.rows.len() as i64, tenants);

    let tenant = &format!("t{:04}", tenants * 42 / 100);
    let keys: Vec<String> = catalog.metrics_for(Model::Silo).map(|m| m.key.clone()).collect();
    let (drill_ms, charted) = time(RUNS, || async {
        let mut points = 0;
        for metric in &keys {
            let req = ChartRequest {
                tenant: tenant.into(),
                region: "us-east-1".into(),
                metric: metric.clone(),
                width: 800,
                height: 240,
                hours: Some(DAYS as u32 * 24),
                dark: false,
            };
            let chart = view::tenant_chart(&cache, &catalog, &req, NOW).await.expect("chart");
            assert!(chart.svg.starts_with("<svg"));
            points += chart.points;
        }
        points
    })
    .await;
    assert_eq!(charted as i64, METRICS as i64 * DAYS * 86_400 / PERIOD);

    let today = chrono::DateTime::from_timestamp(NOW, 0).unwrap().date_naive();
    let (cost_ms, costview) = time(RUNS, || async { view::cost(&cache, today).await.expect("cost view") }).await;
    assert_eq!(costview.rows.len() as i64, tenants);
    assert!(costview.total.month_to_date > 0.0);

    // The cost view's steps, timed apart: the query it used before 0005
    // (for comparison), the per-tenant
    // sums and forecasts (cost::by_tenant), and the whole view.
    let first_last = "2026-12-01";
    let (cost_sql_ms, _) = time(RUNS, || async {
        sqlx::query(
            "SELECT tenant_id, day, sum(amount) FROM cost_daily WHERE day >= ?1 AND day <= ?2
             GROUP BY tenant_id, day ORDER BY tenant_id, day",
        )
        .bind(first_last)
        .bind(today.format("%Y-%m-%d").to_string())
        .fetch_all(cache.pool())
        .await
        .unwrap()
        .len()
    })
    .await;
    let (by_tenant_ms, _) =
        time(RUNS, || async { fleetdeck::cost::by_tenant(&cache, today).await.unwrap().len() }).await;
    eprintln!("cost view steps: the former GROUP BY tenant_id, day query alone {cost_sql_ms:.1} ms, cost::by_tenant {by_tenant_ms:.1} ms, whole view {cost_ms:.1} ms");
    eprintln!(
        "plan cost: {}",
        plan(
            &cache,
            "SELECT tenant_id, day, sum(amount) FROM cost_daily WHERE day >= '2026-12-01' AND day <= '2027-01-15' GROUP BY tenant_id, day ORDER BY tenant_id, day"
        )
        .await
    );
    eprintln!(
        "plan chart: {}",
        plan(
            &cache,
            &catalog
                .views
                .series_points
                .replace("?1", &format!("'{tenant}'"))
                .replace("?2", "'us-east-1'")
                .replace("?3", "'errors'")
                .replace("?4", "0")
                .replace("?5", "2000000000")
        )
        .await
    );

    let verdict = |ms: f64| if ms <= BAR_MS { "ok" } else { "MISSED" };
    println!(
        "C1000{scaled}: {points} datapoints in {file_mb:.0} MB, built in {build_s:.1} s; medians of {RUNS} warm runs"
    );
    println!("figure            value ms       bar      baseline (same run)");
    println!(
        "fleet_overview    {fleet_ms:<14.2} <= 50 {:<6} full datapoint scan {scan_ms:.0} ms ({:.0}x faster)",
        verdict(fleet_ms),
        scan_ms / fleet_ms
    );
    println!(
        "tenant_drilldown  {drill_ms:<14.2} <= 50 {:<6} 10 charts x 7 days ({charted} points) to SVG; {:.0}x faster than the scan",
        verdict(drill_ms),
        scan_ms / drill_ms
    );
    println!(
        "cost_view         {cost_ms:<14.2} <= 50 {:<6} {tenants} tenants over {costs} cost rows; {:.0}x faster than the scan",
        verdict(cost_ms),
        scan_ms / cost_ms
    );
    println!("full_scan         {scan_ms:<14.0} (baseline: every datapoint once)");
    println!("cold_start        not measured (needs the desktop window; see tests/window.rs)");
    println!(
        "{}",
        serde_json::json!({
            "tenants": tenants, "scaled_down": tenants != 1000, "datapoints": points, "cost_rows": costs,
            "file_mb": file_mb, "build_s": build_s, "runs": RUNS,
            "fleet_overview_ms": fleet_ms, "tenant_drilldown_ms": drill_ms, "cost_view_ms": cost_ms,
            "bar_ms": BAR_MS, "full_scan_ms": scan_ms,
            "ok": fleet_ms <= BAR_MS && drill_ms <= BAR_MS && cost_ms <= BAR_MS,
        })
    );
}
