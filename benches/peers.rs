//! `cargo bench --no-default-features --bench peers`: the sync's analysis
//! phase on fleet F200 (the README's "Benchmarks": 200 tenants x 3 regions x 20
//! metrics, 12,000 series), from a cache file built with bulk SQL: a week
//! of hourly rollups and the last 25 minutes of one-minute points per
//! series, one region's series shifted together and a few tenants
//! departing from their tiers, so the pass has something to find. Then
//! [`fleetdeck_engine::peers::compute`] (peer departures and fleet-wide shifts)
//! and, beside it, [`fleetdeck_engine::health::compute`] (the rest of the phase),
//! each the median of several runs at successive sync times. The last line
//! is JSON.

use std::time::Instant;

use fleetdeck_engine::cache::{Cache, SeriesKey};
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::fleet::Fleet;
use fleetdeck_sim::{SimFleet, SimOptions, SimShape};

/// 2027-01-15 08:00 UTC, a Friday.
const NOW: i64 = 1_800_000_000;
const RUNS: usize = 7;
/// A sync every five minutes.
const EVERY: i64 = 300;
/// Bar: a pass over F200 well inside a five-minute sync interval.
const BAR_MS: f64 = 1000.0;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(run());
}

async fn exec(cache: &Cache, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(cache.pool())
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = SimFleet::start(SimOptions { seed: 7, shape: Some(SimShape::f200()), now: NOW, ..SimOptions::default() })
        .await
        .expect("simulated F200");
    let builtin = include_str!("../queries/metrics.toml");
    std::fs::write(dir.path().join("metrics.toml"), format!("{builtin}\n{}", sim.synthetic_catalog_toml())).unwrap();
    let catalog = Catalog::load(Some(dir.path())).expect("catalog");
    let fleet = Fleet::parse(std::path::Path::new("<F200>"), &sim.fleet_toml(), &catalog).expect("fleet");
    drop(sim);

    let started = Instant::now();
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.expect("cache");
    cache.record_fleet(&fleet).await.expect("tenants");
    let mut keys = Vec::new();
    for t in &fleet.tenants {
        for region in t.regions() {
            for spec in catalog.metrics_for(t.model) {
                keys.push((t.id.clone(), region.to_string(), spec));
            }
        }
    }
    let dims = "{}".to_string();
    let series: Vec<SeriesKey> = keys
        .iter()
        .map(|(tenant, region, spec)| SeriesKey {
            tenant_id: tenant,
            region,
            metric_key: &spec.key,
            namespace: &spec.namespace,
            metric_name: &spec.name,
            dimensions: &dims,
            stat: &spec.stat,
            period: spec.period,
            unit: &spec.unit,
        })
        .collect();
    cache.series_batch(&series).await.expect("series");
    let count = series.len();

    // A level per series, a day shape (busy 08:00-20:00 UTC), noise; the
    // rollups hold a week of it, the points its last 25 minutes. Series of
    // eu-west-1's first synthetic metric run 2x now (a regional shift), and
    // every 97th series 4x (departures).
    let week = NOW - 7 * 86_400;
    let level = "(10.0 + (s.id * 7919) % 990)";
    let shape = |ts: &str| format!("(CASE WHEN ({ts} / 3600) % 24 BETWEEN 8 AND 19 THEN 1.0 ELSE 0.4 END)");
    exec(
        &cache,
        &format!(
            "WITH RECURSIVE h(ts) AS (SELECT {week} UNION ALL SELECT ts + 3600 FROM h WHERE ts + 3600 < {NOW})
             INSERT INTO rollup (series_id, res, ts, n, sum, lo, hi)
             SELECT s.id, 3600, h.ts, 60, 60 * {level} * {shape} * (1 + ((s.id * h.ts) % 7) / 100.0),
                    {level} * 0.3, {level} * 1.2
             FROM series s CROSS JOIN h ORDER BY s.id, h.ts",
            shape = shape("h.ts")
        ),
    )
    .await;
    let end = NOW + RUNS as i64 * EVERY;
    exec(
        &cache,
        &format!(
            "WITH RECURSIVE m(ts) AS (SELECT {from} UNION ALL SELECT ts + 60 FROM m WHERE ts + 60 < {end})
             INSERT INTO datapoint (series_id, ts, value)
             SELECT s.id, m.ts, {level} * {shape} * (1 + ((s.id * m.ts) % 11) / 100.0)
                    * (CASE WHEN s.region = 'eu-west-1' AND s.metric_key = 'synthetic_01' THEN 2.0
                            WHEN s.id % 97 = 0 THEN 4.0 ELSE 1.0 END)
             FROM series s CROSS JOIN m ORDER BY s.id, m.ts",
            from = NOW - 25 * 60,
            shape = shape("m.ts")
        ),
    )
    .await;
    let built_s = started.elapsed().as_secs_f64();

    let mut peers_ms = Vec::new();
    let mut health_ms = Vec::new();
    let mut last = None;
    for run in 0..RUNS as i64 {
        let now = NOW + run * EVERY;
        let t = Instant::now();
        last = Some(fleetdeck_engine::peers::compute(&cache, &fleet, &catalog, now).await.expect("peers"));
        peers_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        fleetdeck_engine::health::compute(&cache, &fleet, &catalog, None, now).await.expect("health");
        health_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let last = last.expect("runs");
    let (peers, health) = (median(peers_ms), median(health_ms));
    println!("fleet F200: {count} series, cache built in {built_s:.1} s");
    println!("figure              value          bound / context");
    println!(
        "peers_ms            {peers:<14.1} <= {BAR_MS:.0} ({} series compared, {} departures, {} fleet-wide shifts)",
        last.series, last.departures, last.shifts
    );
    println!("health_ms           {health:<14.1} (the rest of the analysis phase, same run)");
    println!(
        "{{\"bench\":\"peers\",\"series\":{count},\"compared\":{},\"peers_ms\":{peers:.1},\"health_ms\":{health:.1},\"departures\":{},\"shifts\":{}}}",
        last.series, last.departures, last.shifts
    );
}
