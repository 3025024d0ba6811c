//! The fleet's median of each catalog metric, per tier and region, by hour
//! and by day (migration 0009): the line a tenant's chart is drawn against,
//! so an on-call engineer sees at once whether a tenant is alone in its
//! trouble. Each bucket is the median, across the tier's tenants in that
//! region, of their own mean for the bucket, read from the rollups; the
//! sync recomputes the buckets it touched ([`refresh`]), and a chart reads
//! one primary-key range ([`read`]) instead of every peer's points.

use std::collections::HashMap;

use futures::TryStreamExt;

use crate::cache::{Cache, CacheError, ROLLUPS};

/// Recompute the hourly and daily medians of every bucket from `since`
/// (epoch s) on: the buckets a sync's points fell in. One read of the
/// series' groups, one of the rollups per resolution (a seek per series
/// into its range) and one transaction of upserts, 100 to a statement.
pub async fn refresh(cache: &Cache, since: i64) -> Result<u64, CacheError> {
    // Each active series' group (metric, tier, region), read once: fetched
    // with every rollup row, their three strings were copied out of SQLite
    // 3 million times for a backfill of F2000 (most of 10 s).
    let mut names: Vec<(String, String, String)> = Vec::new();
    let mut index: HashMap<(String, String, String), usize> = HashMap::new();
    let mut of_series: HashMap<i64, usize> = HashMap::new();
    let mut rows = sqlx::query_as::<_, (i64, String, String, String)>(
        "SELECT s.id, s.metric_key, t.tier, s.region FROM series s JOIN tenant t ON t.id = s.tenant_id
         WHERE t.active = 1",
    )
    .fetch(cache.pool());
    while let Some((id, metric, tier, region)) = rows.try_next().await? {
        let name = (metric, tier, region);
        let at = *index.entry(name.clone()).or_insert_with(|| {
            names.push(name);
            names.len() - 1
        });
        of_series.insert(id, at);
    }
    drop(rows);
    let mut written = 0;
    for res in ROLLUPS {
        let from = since.div_euclid(res) * res;
        // The series drive the loop (CROSS JOIN keeps SQLite from scanning
        // the whole rollup table by resolution): each one seeks its range.
        // Streamed, not collected: a backfill's hours of 120,000 series are
        // 3 million rows; only their means are kept, per group. Several
        // series of one tenant-region can share a metric key (a
        // whole-account tenant with two load balancers): each is a voice.
        let mut rows = sqlx::query_as::<_, (i64, i64, f64)>(
            "SELECT r.series_id, r.ts, r.sum / r.n FROM series s CROSS JOIN rollup r
             WHERE r.series_id = s.id AND r.res = ?1 AND r.ts >= ?2 AND r.n > 0",
        )
        .bind(res)
        .bind(from)
        .fetch(cache.pool());
        let mut groups: HashMap<(usize, i64), Vec<f64>> = HashMap::new();
        while let Some((id, ts, mean)) = rows.try_next().await? {
            // Inactive tenants' series have no group.
            let Some(&at) = of_series.get(&id) else { continue };
            if mean.is_finite() {
                groups.entry((at, ts)).or_default().push(mean);
            }
        }
        drop(rows);
        let medians: Vec<(usize, i64, f64, i64)> = groups
            .into_iter()
            .map(|((at, ts), mut values)| {
                let n = values.len() as i64;
                (at, ts, median(&mut values), n)
            })
            .collect();
        // 100 buckets a statement: one each was a round trip apiece.
        let mut tx = cache.pool().begin().await?;
        for chunk in medians.chunks(100) {
            let sql = format!(
                "INSERT INTO fleet_median (metric_key, tier, region, res, ts, median, tenants) VALUES {}
                 ON CONFLICT (metric_key, tier, region, res, ts)
                 DO UPDATE SET median = excluded.median, tenants = excluded.tenants",
                super::placeholders(chunk.len(), "(?, ?, ?, ?, ?, ?, ?)")
            );
            // Built only from placeholders; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (at, ts, m, n) in chunk {
                let (metric, tier, region) = &names[*at];
                q = q.bind(metric).bind(tier).bind(region).bind(res).bind(ts).bind(m).bind(n);
            }
            written += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
    }
    Ok(written)
}

/// The median line of `metric` for `tier` in `region` over `[from, to)` at
/// `res` seconds a bucket: (bucket start, median, tenants).
pub async fn read(
    cache: &Cache,
    metric: &str,
    tier: &str,
    region: &str,
    res: i64,
    (from, to): (i64, i64),
) -> Result<Vec<(i64, f64, i64)>, CacheError> {
    Ok(sqlx::query_as(
        "SELECT ts, median, tenants FROM fleet_median
         WHERE metric_key = ?1 AND tier = ?2 AND region = ?3 AND res = ?4 AND ts >= ?5 - ?4 + 1 AND ts < ?6
         ORDER BY ts",
    )
    .bind(metric)
    .bind(tier)
    .bind(region)
    .bind(res)
    .bind(from)
    .bind(to)
    .fetch_all(cache.pool())
    .await?)
}

/// Delete medians older than `cut` (epoch s) at resolution `res`: they
/// follow their rollups' retention.
pub async fn prune(cache: &Cache, res: i64, cut: i64) -> Result<u64, CacheError> {
    Ok(sqlx::query("DELETE FROM fleet_median WHERE res = ?1 AND ts < ?2")
        .bind(res)
        .bind(cut)
        .execute(cache.pool())
        .await?
        .rows_affected())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::PointBatch;
    use crate::clock::MINUTE;

    const H: i64 = crate::clock::HOUR;
    /// 2027-01-15 08:00 UTC, on the hour.
    const NOW: i64 = 1_800_000_000;

    async fn tenant(cache: &Cache, id: &str, tier: &str, level: f64, hours: i64) {
        crate::testkit::add_tenant(cache, id, tier).await;
        let series = crate::testkit::add_series(cache, id, "latency_p99", "TargetResponseTime").await;
        let points: Vec<(i64, f64)> = (0..hours * 60).map(|m| (NOW - hours * H + m * MINUTE, level)).collect();
        cache.commit_points(&[PointBatch { series_id: series, points, watermark: NOW }]).await.unwrap();
    }

    /// Three premium tenants at 0.2 s, 0.3 s and 5 s (the one in trouble)
    /// and a standard one at 9 s: the premium median is 0.3 s every hour,
    /// whatever the outlier does, and the standard tier is its own line.
    #[tokio::test]
    async fn the_median_is_per_tier_and_shrugs_off_the_tenant_in_trouble() {
        let cache = Cache::in_memory().await.unwrap();
        for (id, tier, level) in
            [("a", "premium", 0.2), ("b", "premium", 0.3), ("c", "premium", 5.0), ("d", "standard", 9.0)]
        {
            tenant(&cache, id, tier, level, 3).await;
        }
        let written = refresh(&cache, NOW - 3 * H).await.unwrap();
        assert_eq!(written, 2 * 3 + 2, "3 hours and 1 day for each of two tiers");
        let line = read(&cache, "latency_p99", "premium", "us-east-1", H, (NOW - 3 * H, NOW)).await.unwrap();
        assert_eq!(line, vec![(NOW - 3 * H, 0.3, 3), (NOW - 2 * H, 0.3, 3), (NOW - H, 0.3, 3)]);
        let standard = read(&cache, "latency_p99", "standard", "us-east-1", H, (NOW - 3 * H, NOW)).await.unwrap();
        assert!(standard.iter().all(|(_, m, n)| (*m, *n) == (9.0, 1)), "{standard:?}");

        // A later refresh of the last hour only rewrites that hour.
        sqlx::query("UPDATE tenant SET active = 0 WHERE id = 'a'").execute(cache.pool()).await.unwrap();
        refresh(&cache, NOW - H).await.unwrap();
        let line = read(&cache, "latency_p99", "premium", "us-east-1", H, (NOW - 3 * H, NOW)).await.unwrap();
        assert_eq!(line[0], (NOW - 3 * H, 0.3, 3));
        assert_eq!(line[2], (NOW - H, (0.3 + 5.0) / 2.0, 2), "an inactive tenant is no longer a peer");

        assert_eq!(prune(&cache, H, NOW - 2 * H).await.unwrap(), 2, "one premium and one standard hour");
    }
}
