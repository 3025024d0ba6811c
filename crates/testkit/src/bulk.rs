//! A large synthetic cache written straight with bulk SQL, for what a
//! simulated sync would take minutes to fill: the cache benchmark's C1000
//! (the README's "Benchmarks": 1,000 tenants x their silo metrics x 7 days at 5
//! minutes, alarms, anomalies, health and 13 months of daily cost) and the
//! window test's 1,000-tenant console. SQLite generates the rows itself,
//! in primary-key order, a few hundred thousand per statement. Values are
//! noise around a level; only the shapes of the tables are realistic.

use std::fmt::Write as _;

use fleetdeck_engine::cache::{Cache, CacheError};
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::fleet::Model;

/// Days of 5-minute points per series.
pub const DAYS: i64 = 7;
/// Seconds between points.
pub const PERIOD: i64 = 300;
/// Days of daily cost: 13 months.
pub const COST_DAYS: i64 = 396;
/// The services each tenant's cost is spread over.
pub const SERVICES: &[&str] = &["AmazonEC2", "AmazonRDS", "AmazonS3", "AWSLambda"];

async fn exec(cache: &Cache, sql: &str) -> Result<(), CacheError> {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(cache.pool()).await?;
    Ok(())
}

/// Build C1000 (or `tenants` of it) with bulk SQL: SQLite generates the
/// rows itself, in primary-key order, a few hundred thousand per statement.
pub async fn synthetic_cache(cache: &Cache, catalog: &Catalog, tenants: i64, now: i64) -> Result<(), CacheError> {
    let keys: Vec<String> = catalog.metrics_for(Model::Silo).map(|m| format!("'{}'", m.key)).collect();
    let now = now - now % PERIOD;
    exec(cache, "INSERT INTO meta (key, value) VALUES ('fleet_name', 'C1000')").await?;
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
    .await?;
    exec(
        cache,
        &format!(
            "WITH k(key, o) AS (SELECT column1, column2 FROM (VALUES {}))
             INSERT INTO series (tenant_id, region, metric_key, namespace, metric_name, dimensions, stat, period, unit, watermark)
             SELECT t.id, 'us-east-1', k.key, 'AWS/ApplicationELB', k.key, '{{}}', 'Sum', {PERIOD}, 'count', {now}
             FROM tenant t CROSS JOIN k ORDER BY t.id, k.o",
            keys.iter().enumerate().map(|(i, k)| format!("({k}, {i})")).collect::<Vec<_>>().join(",")
        ),
    )
    .await?;
    let series: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM series").fetch_one(cache.pool()).await?;
    let from = now - DAYS * 86_400;
    // A metric with thresholds runs at a fifth of its warning level, and
    // the 5% critical tenants' first one is at three times its critical
    // level for their last 45 minutes (their incident); the rest is noise
    // around 100 to 150.
    let levels: Vec<String> = catalog
        .metrics_for(Model::Silo)
        .map(|m| {
            let base = m.warn_above.map_or(100.0, |w| w * 0.2);
            let incident = m.critical_above.map_or(-1.0, |c| c * 3.0);
            format!("('{}', {base}, {incident})", m.key)
        })
        .collect();
    let levels = levels.join(",");
    let chunk = 250;
    let mut first = 1;
    while first <= series {
        let last = (first + chunk - 1).min(series);
        exec(
            cache,
            &format!(
                "WITH RECURSIVE t(ts) AS (SELECT {from} UNION ALL SELECT ts + {PERIOD} FROM t WHERE ts + {PERIOD} < {now}),
                      k(key, base, incident) AS (SELECT column1, column2, column3 FROM (VALUES {levels}))
                 INSERT INTO datapoint (series_id, ts, value)
                 SELECT s.id, t.ts,
                        CASE WHEN k.incident > 0 AND x.rowid % 20 = 0 AND t.ts >= {now} - 2700 THEN k.incident
                             WHEN k.base < 100 THEN k.base * (0.6 + (abs(random()) % 800) / 1000.0)
                             ELSE k.base + (s.id % 50) + (abs(random()) % 1000) / 100.0 END
                 FROM series s JOIN k ON k.key = s.metric_key JOIN tenant x ON x.id = s.tenant_id CROSS JOIN t
                 WHERE s.id BETWEEN {first} AND {last} ORDER BY s.id, t.ts"
            ),
        )
        .await?;
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
                    'errors', {now} * 1000, {now} * 1000 FROM tenant"
        ),
    )
    .await?;
    // Alarms: three a tenant, 5% in ALARM, with history.
    exec(
        cache,
        &format!(
            "WITH a(n) AS (VALUES ('errors'), ('latency'), ('requests'))
             INSERT INTO alarm (tenant_id, region, arn, name, state, reason, state_changed_at, namespace, metric_name, threshold, synced_at)
             SELECT t.id, 'us-east-1', 'arn:aws:cloudwatch:us-east-1:' || t.account || ':alarm:' || t.id || '-' || a.n,
                    t.id || '-' || a.n, CASE WHEN t.rowid % 20 = 0 AND a.n = 'errors' THEN 'ALARM' ELSE 'OK' END,
                    'Threshold crossed', ({now} - 3600) * 1000, 'AWS/ApplicationELB', a.n, 10, {now} * 1000
             FROM tenant t CROSS JOIN a"
        ),
    )
    .await?;
    exec(
        cache,
        &format!(
            "INSERT INTO alarm_history (tenant_id, region, alarm_name, at, summary)
             SELECT tenant_id, region, name, ({now} - 3600) * 1000, 'Alarm updated from OK to ALARM' FROM alarm WHERE state = 'ALARM'"
        ),
    )
    .await?;
    // Anomalies: one episode in the last day for every 7th series.
    exec(
        cache,
        &format!(
            "INSERT INTO anomaly (tenant_id, region, metric_key, start, \"end\", peak_score, direction, peak_ts, peak_value,
               expected, explanation, through_ts, season, series_id)
             SELECT tenant_id, region, metric_key, {now} - 7200, CASE WHEN id % 2 = 0 THEN {now} - 3600 END, 0.97, 'up',
                    {now} - 5400, 250.0, 100.0, metric_key || ' 2.5x its usual Friday 06:00 level', {now} - 600, 'daily', id
             FROM series WHERE id % 7 = 0"
        ),
    )
    .await?;
    // 13 months of daily cost, four services a tenant, and untagged spend.
    exec(
        cache,
        &format!(
            "WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n + 1 < {COST_DAYS}),
                  s(name) AS (VALUES {}),
                  who(id) AS (SELECT id FROM tenant UNION ALL SELECT '')
             INSERT INTO cost_daily (tenant_id, day, service, source, amount, amortized, unit, estimated)
             SELECT who.id, date({now} - d.n * 86400, 'unixepoch'), s.name, 'tag',
                    1.0 + (abs(random()) % 5000) / 100.0, NULL, 'USD', d.n = 0
             FROM who CROSS JOIN d CROSS JOIN s ORDER BY who.id, d.n",
            SERVICES.iter().map(|s| format!("('{s}')")).collect::<Vec<_>>().join(",")
        ),
    )
    .await?;
    exec(
        cache,
        &format!(
            "INSERT INTO sync_run (started_at, finished_at, sources_ok, sources_failed, datapoints, api_calls, dollars, errors)
             VALUES ({now} * 1000 - 60000, {now} * 1000, {}, 0, 0, 0, 0, '[]')",
            tenants * 4
        ),
    )
    .await?;
    // The summaries a sync keeps: hourly and daily rollups, the fleet's
    // median lines (as migration 0007 and fleet_median::refresh make them).
    exec(
        cache,
        "INSERT INTO rollup (series_id, res, ts, n, sum, lo, hi)
         SELECT series_id, 3600, ts - ts % 3600, count(*), sum(value), min(value), max(value)
         FROM datapoint GROUP BY series_id, ts - ts % 3600",
    )
    .await?;
    exec(
        cache,
        "INSERT INTO rollup (series_id, res, ts, n, sum, lo, hi)
         SELECT series_id, 86400, ts - ts % 86400, sum(n), sum(sum), min(lo), max(hi)
         FROM rollup WHERE res = 3600 GROUP BY series_id, ts - ts % 86400",
    )
    .await?;
    fleetdeck_engine::fleet_median::refresh(cache, now - DAYS * 86_400).await?;
    // And the cost anomalies a sync keeps when it writes cost.
    let today = fleetdeck_engine::clock::day_of(now);
    fleetdeck_engine::cost::refresh_anomalies(cache, today).await?;
    // No ANALYZE: a real cache has no planner statistics either.
    exec(cache, "PRAGMA wal_checkpoint(TRUNCATE)").await?;
    Ok(())
}

/// A fleet file naming the synthetic tenants (`t0000`...) as
/// [`synthetic_cache`] writes them, so the console can open that cache
/// (`--offline`: the accounts are made up; nothing is read from AWS).
pub fn synthetic_fleet_toml(tenants: i64) -> String {
    let mut out = String::from(
        "# A synthetic fleet for fleetdeck's cache benchmark and window tests.\n[fleet]\nname = \"C1000\"\nregion = \"us-east-1\"\nrole_name = \"FleetdeckReadOnly\"\nendpoint_url = \"http://127.0.0.1:9\"\n",
    );
    for i in 0..tenants {
        let tier = match i % 10 {
            0 => "enterprise",
            1 => "premium",
            _ => "standard",
        };
        let _ = write!(
            out,
            "\n[[tenant]]\nid = \"t{i:04}\"\nname = \"Tenant {i}\"\ntier = \"{tier}\"\nmodel = \"silo\"\naccount = \"{:012}\"\nexternal_id = \"x-{i}\"\nhome_region = \"us-east-1\"\n",
            100_000_000_000i64 + i
        );
    }
    out
}
