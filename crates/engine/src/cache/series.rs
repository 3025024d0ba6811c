//! Series and their datapoints: identities, the commit path (points,
//! watermarks, hourly and daily rollups) and the reads the analysis makes.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::{Row, Sqlite, Transaction};

use crate::detect::Hold;

use super::anomalies::{put_anomalies, put_detectors};
use super::*;

/// New points of one series and the watermark they bring it to.
#[derive(Debug, Clone, PartialEq)]
pub struct PointBatch {
    pub series_id: i64,
    pub points: Vec<(i64, f64)>,
    /// Epoch seconds (exclusive) up to which the series is now complete.
    pub watermark: i64,
}

/// Identity of a metric series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesKey<'a> {
    pub tenant_id: &'a str,
    pub region: &'a str,
    pub metric_key: &'a str,
    pub namespace: &'a str,
    pub metric_name: &'a str,
    /// Canonical JSON (sorted keys), as `serde_json` writes a BTreeMap.
    pub dimensions: &'a str,
    pub stat: &'a str,
    pub period: u32,
    pub unit: &'a str,
}

/// What identifies a series (its unique key in the table): tenant, region,
/// metric key, namespace, metric name, dimensions, stat, period.
pub type SeriesIdentity = (String, String, String, String, String, String, String, u32);

/// A [`SeriesKey`] that owns its text.
#[derive(Debug, Clone)]
pub struct OwnedSeriesKey {
    identity: SeriesIdentity,
    unit: String,
}

impl OwnedSeriesKey {
    pub fn as_key(&self) -> SeriesKey<'_> {
        let (tenant_id, region, metric_key, namespace, metric_name, dimensions, stat, period) = &self.identity;
        SeriesKey {
            tenant_id,
            region,
            metric_key,
            namespace,
            metric_name,
            dimensions,
            stat,
            period: *period,
            unit: &self.unit,
        }
    }
}

impl SeriesKey<'_> {
    pub fn to_owned(&self) -> OwnedSeriesKey {
        OwnedSeriesKey { identity: self.identity(), unit: self.unit.into() }
    }

    pub fn identity(&self) -> SeriesIdentity {
        (
            self.tenant_id.into(),
            self.region.into(),
            self.metric_key.into(),
            self.namespace.into(),
            self.metric_name.into(),
            self.dimensions.into(),
            self.stat.into(),
            self.period,
        )
    }
}

/// (tenant, region, metric key).
pub type SeriesPlace = (String, String, String);

/// One entry per series, in the order each first appears: a series the
/// batch holds twice (pages of one answer) gets its points merged, the
/// later delivery of a timestamp winning, and the furthest watermark.
pub(super) fn merge_batch(batch: &[PointBatch]) -> Cow<'_, [PointBatch]> {
    let mut seen: HashSet<i64> = HashSet::with_capacity(batch.len());
    if batch.iter().all(|b| seen.insert(b.series_id)) {
        return Cow::Borrowed(batch);
    }
    let mut at: HashMap<i64, usize> = HashMap::with_capacity(batch.len());
    let mut out: Vec<PointBatch> = Vec::with_capacity(batch.len());
    for b in batch {
        match at.get(&b.series_id) {
            Some(&i) => {
                out[i].points.extend_from_slice(&b.points);
                out[i].watermark = out[i].watermark.max(b.watermark);
            }
            None => {
                at.insert(b.series_id, out.len());
                out.push(b.clone());
            }
        }
    }
    for b in &mut out {
        // Stable, so the later of two deliveries of a timestamp stays last.
        b.points.sort_by_key(|p| p.0);
        let mut kept: Vec<(i64, f64)> = Vec::with_capacity(b.points.len());
        for &p in &b.points {
            match kept.last_mut() {
                Some(last) if last.0 == p.0 => *last = p,
                _ => kept.push(p),
            }
        }
        b.points = kept;
    }
    Cow::Owned(out)
}

/// Multi-row upserts, 500 rows (1,500 bound values) a statement, packed
/// across series: far fewer statements than one per point, or per series.
/// (Measured on F200 against a json_each variant with one statement per
/// series: 974k vs 550k points/s.) One side of each series' old watermark
/// (`walls`, one per series of the batch, `None` for a new series): the points
/// `behind` it, or the new ones at or after it. Behind it, a point equal
/// to its row leaves it alone, and the (series, timestamp) of every row
/// inserted or changed is returned.
pub(super) async fn upsert_points(
    tx: &mut Transaction<'_, Sqlite>,
    batch: &[PointBatch],
    walls: &[Option<i64>],
    behind: bool,
) -> Result<Vec<(i64, i64)>, CacheError> {
    const ROWS: usize = 500;
    let statement = |rows: usize| {
        let (only_changed, returning) = if behind {
            (" WHERE datapoint.value IS NOT excluded.value", " RETURNING series_id, ts")
        } else {
            ("", "")
        };
        format!(
            "INSERT INTO datapoint (series_id, ts, value) VALUES {}
             ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value{only_changed}{returning}",
            placeholders(rows, "(?,?,?)")
        )
    };
    let mut changed = Vec::new();
    let full = statement(ROWS);
    // A cursor (series, point) through the batch; plain indices keep the
    // future Send for every lifetime.
    let (mut i, mut j) = (0, 0);
    let mut chunk: Vec<(i64, i64, f64)> = Vec::with_capacity(ROWS);
    loop {
        chunk.clear();
        while chunk.len() < ROWS && i < batch.len() {
            let b = &batch[i];
            if let Some(&(ts, v)) = b.points.get(j) {
                if walls[i].is_some_and(|w| ts < w) == behind {
                    chunk.push((b.series_id, ts, v));
                }
                j += 1;
            } else {
                (i, j) = (i + 1, 0);
            }
        }
        if chunk.is_empty() {
            return Ok(changed);
        }
        let sql = if chunk.len() == ROWS { full.clone() } else { statement(chunk.len()) };
        // Built only from placeholders; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (series, ts, v) in &chunk {
            q = q.bind(series).bind(ts).bind(v);
        }
        if behind {
            changed.extend(q.fetch_all(&mut **tx).await?.iter().map(|r| (r.get(0), r.get(1))));
        } else {
            q.execute(&mut **tx).await?;
        }
    }
}

/// Advance the batch's watermarks (never backwards), 500 series a statement.
pub(super) async fn put_watermarks(tx: &mut Transaction<'_, Sqlite>, batch: &[PointBatch]) -> Result<(), CacheError> {
    for chunk in batch.chunks(500) {
        let sql = format!(
            "UPDATE series SET watermark = max(coalesce(series.watermark, 0), v.column2)
             FROM (VALUES {}) AS v WHERE series.id = v.column1",
            placeholders(chunk.len(), "(?,?)")
        );
        // Built only from placeholders; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in chunk {
            q = q.bind(b.series_id).bind(b.watermark);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Rollup resolutions, seconds: hourly, and daily (built from hourly).
pub const ROLLUPS: [i64; 2] = [crate::clock::HOUR, crate::clock::DAY];

/// One bucket's summary: points, sum, lowest, highest.
pub(super) type Summary = (i64, f64, f64, f64);

/// What keeps a series' hourly buckets true after a commit.
#[derive(Default)]
pub(super) struct HourPlan {
    /// Buckets holding only this batch's points, summed from them.
    pub fresh: Vec<(i64, i64, Summary)>,
    /// Buckets whose earlier points stand as they were: this batch's new
    /// points summed, to be added to what the bucket holds.
    pub added: Vec<(i64, i64, Summary)>,
    /// (series, from, to): spans with a point inserted or changed behind
    /// the watermark, to be recomputed from the raw rows.
    pub recomputed: Vec<(i64, i64, i64)>,
}

/// Plan a series' hourly buckets. Everything at or after the series' old
/// watermark is new to the cache; points behind it were delivered before
/// (a re-sync reads its last minutes again), and `changed` names those
/// that were inserted or changed (a late point, a corrected value).
/// - A bucket that starts at or after the watermark holds only new points:
///   `fresh`.
/// - One that starts before it and has a changed point is recomputed from
///   its rows: `recomputed`.
/// - Otherwise its earlier rows stand, and its new points (the minutes
///   since the last sync, in the hour it was in) are added: `added`.
///   Recomputing it instead read up to an hour of rows of every series on
///   every re-sync: 3 s of F2000's, while holding SQLite's one writer.
pub(super) fn plan_hours(
    series_id: i64,
    points: &[(i64, f64)],
    old_watermark: Option<i64>,
    changed: &HashSet<(i64, i64)>,
    plan: &mut HourPlan,
) {
    let hour = ROLLUPS[0];
    let watermark = old_watermark.unwrap_or(i64::MIN);
    let fresh_from = old_watermark.map_or(i64::MIN, |w| (w + hour - 1).div_euclid(hour) * hour);
    plan.fresh.extend(
        hour_sums(points.iter().copied().filter(|p| p.0 >= fresh_from)).map(|(ts, summary)| (series_id, ts, summary)),
    );
    // The buckets before `fresh_from` this batch touched, and whether a
    // point behind the watermark changed in each.
    let mut older: BTreeMap<i64, bool> = BTreeMap::new();
    for &(ts, _) in points.iter().filter(|p| p.0 < fresh_from) {
        *older.entry(ts.div_euclid(hour) * hour).or_default() |= changed.contains(&(series_id, ts));
    }
    for (&start, &dirty) in &older {
        if dirty {
            plan.recomputed.push((series_id, start, start + hour));
        }
    }
    let new_in_older = points
        .iter()
        .copied()
        .filter(|p| p.0 >= watermark && p.0 < fresh_from && !older[&(p.0.div_euclid(hour) * hour)]);
    plan.added.extend(hour_sums(new_in_older).map(|(ts, summary)| (series_id, ts, summary)));
}

/// Points summed into their hours, each hour's points in the order given.
/// Summed as SQLite's sum() sums (Kahan-Babuska-Neumaier), so that, given
/// in timestamp order, an hour summed here whole and one summed by SQLite
/// from the rows agree to the last bit. (An hour added to in parts, see
/// [`plan_hours`], agrees but for rounding in the last place.)
fn hour_sums(points: impl Iterator<Item = (i64, f64)>) -> impl Iterator<Item = (i64, Summary)> {
    let hour = ROLLUPS[0];
    let mut sums: BTreeMap<i64, (i64, f64, f64, f64, f64)> = BTreeMap::new();
    for (ts, v) in points {
        let b = sums.entry(ts.div_euclid(hour) * hour).or_insert((0, 0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY));
        let t = b.1 + v;
        b.2 += if b.1.abs() >= v.abs() { (b.1 - t) + v } else { (v - t) + b.1 };
        *b = (b.0 + 1, t, b.2, b.3.min(v), b.4.max(v));
    }
    sums.into_iter().map(|(ts, (n, sum, c, lo, hi))| (ts, (n, sum + c, lo, hi)))
}

/// Recompute the hourly buckets of these (series, from, to) spans from the
/// raw rows, 300 spans a statement (each read by the primary key). Done by
/// SQLite inside the write: summing them in hand instead meant fetching
/// every row of those hours (an hour of minutes for each series of a
/// re-sync), which cost more CPU than the writer time it saved.
pub(super) async fn recompute_hours(
    tx: &mut Transaction<'_, Sqlite>,
    spans: &[(i64, i64, i64)],
) -> Result<(), CacheError> {
    let hour = ROLLUPS[0];
    for chunk in spans.chunks(300) {
        let sql = format!(
            "INSERT OR REPLACE INTO rollup (series_id, res, ts, n, sum, lo, hi)
             SELECT d.series_id, {hour}, d.ts - d.ts % {hour}, count(*), sum(d.value), min(d.value), max(d.value)
             FROM (VALUES {}) AS r CROSS JOIN datapoint AS d
             WHERE d.series_id = r.column1 AND d.ts >= r.column2 AND d.ts < r.column3
             GROUP BY d.series_id, d.ts - d.ts % {hour}",
            placeholders(chunk.len(), "(?,?,?)")
        );
        // Built only from placeholders and a constant; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (series, from, to) in chunk {
            q = q.bind(series).bind(from).bind(to);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// How [`write_hours`] treats a bucket already there.
#[derive(Clone, Copy)]
pub(super) enum Existing {
    /// Replaced: the summary holds every point of its hour.
    Replace,
    /// Added to: the summary holds the hour's new points only (a bucket
    /// not there yet is created from them: nothing behind the watermark
    /// fell in it).
    AddTo,
}

/// Write hourly buckets summed in hand, 100 to a statement.
pub(super) async fn write_hours(
    tx: &mut Transaction<'_, Sqlite>,
    hours: &[(i64, i64, Summary)],
    existing: Existing,
) -> Result<(), CacheError> {
    let on_conflict = match existing {
        Existing::Replace => {
            "ON CONFLICT (series_id, res, ts) DO UPDATE SET n = excluded.n, sum = excluded.sum, lo = excluded.lo,
               hi = excluded.hi"
        }
        Existing::AddTo => {
            "ON CONFLICT (series_id, res, ts) DO UPDATE SET n = rollup.n + excluded.n,
               sum = rollup.sum + excluded.sum, lo = min(rollup.lo, excluded.lo), hi = max(rollup.hi, excluded.hi)"
        }
    };
    for chunk in hours.chunks(100) {
        let sql = format!(
            "INSERT INTO rollup (series_id, res, ts, n, sum, lo, hi) VALUES {} {on_conflict}",
            placeholders(chunk.len(), "(?, 3600, ?, ?, ?, ?, ?)")
        );
        // Built only from placeholders and constants; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (series, ts, (n, sum, lo, hi)) in chunk {
            q = q.bind(series).bind(ts).bind(n).bind(sum).bind(lo).bind(hi);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The daily buckets of the days these points fall in, from their hours:
/// one statement per thousand series of the batch.
pub(super) async fn daily_rollups(tx: &mut Transaction<'_, Sqlite>, batch: &[PointBatch]) -> Result<(), CacheError> {
    let [hour, day] = ROLLUPS;
    // A plain loop: an iterator of closures kept in the future would make
    // it not Send for every lifetime (the Tauri command needs that).
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    let mut ids: Vec<i64> = Vec::with_capacity(batch.len());
    for b in batch {
        for &(ts, _) in &b.points {
            first = first.min(ts);
            last = last.max(ts);
        }
        if !b.points.is_empty() {
            ids.push(b.series_id);
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    for chunk in ids.chunks(1000) {
        let sql = format!(
            "INSERT OR REPLACE INTO rollup (series_id, res, ts, n, sum, lo, hi)
             SELECT series_id, ?1, ts - ts % ?1, sum(n), sum(sum), min(lo), max(hi)
             FROM rollup WHERE res = ?2 AND ts >= ?3 AND ts < ?4 AND series_id IN ({})
             GROUP BY series_id, ts - ts % ?1",
            (5..5 + chunk.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(",")
        );
        // Built only from placeholders; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(day)
            .bind(hour)
            .bind(first.div_euclid(day) * day)
            .bind((last.div_euclid(day) + 1) * day);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

impl Cache {
    /// The id of a series, created on first sight; and its watermark.
    /// Every series already in the cache by [`SeriesKey::identity`]: (id,
    /// unit, watermark). One read instead of one upsert per series (12,000
    /// on F200: 1.7 s of a re-sync).
    /// The catalog metric keys a tenant has a series of, in any region.
    pub async fn tenant_metric_keys(&self, tenant: &str) -> Result<Vec<String>, CacheError> {
        Ok(sqlx::query_scalar("SELECT DISTINCT metric_key FROM series WHERE tenant_id = ?1")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn known_series(&self) -> Result<HashMap<SeriesIdentity, (i64, String, Option<i64>)>, CacheError> {
        // Streamed into the map: at F2000's 120,000 series the rows held
        // at once were as large again as the map.
        let mut rows = sqlx::query(
            "SELECT tenant_id, region, metric_key, namespace, metric_name, dimensions, stat, period, id, unit, watermark
             FROM series",
        )
        .fetch(&self.pool);
        let mut out = HashMap::new();
        while let Some(r) = futures::TryStreamExt::try_next(&mut rows).await? {
            let identity = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7));
            out.insert(identity, (r.get(8), r.get(9), r.get(10)));
        }
        Ok(out)
    }

    /// Every series' (tenant, region, metric key, id), streamed: what the
    /// analysis needs of [`Cache::known_series`], without its identities.
    pub async fn series_ids(&self) -> Result<Vec<(String, String, String, i64)>, CacheError> {
        let mut rows = sqlx::query("SELECT tenant_id, region, metric_key, id FROM series").fetch(&self.pool);
        let mut out = Vec::new();
        while let Some(r) = futures::TryStreamExt::try_next(&mut rows).await? {
            out.push((r.get(0), r.get(1), r.get(2), r.get(3)));
        }
        Ok(out)
    }

    pub async fn series(&self, key: &SeriesKey<'_>) -> Result<(i64, Option<i64>), CacheError> {
        Ok(self.series_batch(std::slice::from_ref(key)).await?.remove(0))
    }

    /// Identify series (created if new, unit updated): (id, watermark) per
    /// key, in order, in one transaction (12,000 one-row commits took 3 s
    /// of an F200 backfill).
    pub async fn series_batch(&self, keys: &[SeriesKey<'_>]) -> Result<Vec<(i64, Option<i64>)>, CacheError> {
        let mut out = Vec::with_capacity(keys.len());
        if keys.is_empty() {
            return Ok(out);
        }
        let mut tx = self.pool.begin().await?;
        for key in keys {
            let row = sqlx::query(
                "INSERT INTO series (tenant_id, region, metric_key, namespace, metric_name, dimensions, stat, period, unit)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (tenant_id, region, metric_key, namespace, metric_name, dimensions, stat, period)
                 DO UPDATE SET unit = excluded.unit
                 RETURNING id, watermark",
            )
            .bind(key.tenant_id)
            .bind(key.region)
            .bind(key.metric_key)
            .bind(key.namespace)
            .bind(key.metric_name)
            .bind(key.dimensions)
            .bind(key.stat)
            .bind(key.period)
            .bind(key.unit)
            .fetch_one(&mut *tx)
            .await?;
            out.push((row.get(0), row.get(1)));
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Upsert a batch of series' points and advance their watermarks, in one
    /// transaction: a crash leaves either all of it or none.
    pub async fn commit_points(&self, batch: &[PointBatch]) -> Result<u64, CacheError> {
        self.commit_points_scored(batch, &[]).await
    }

    /// Upsert a batch of series' points and advance their watermarks, and
    /// store what their detectors made of them, in one transaction: the
    /// detectors' `through_ts` never runs ahead of or behind the points.
    pub async fn commit_points_scored(&self, batch: &[PointBatch], scored: &[ScoredSeries]) -> Result<u64, CacheError> {
        let batch = merge_batch(batch);
        // Read before the transaction: a deferred transaction that reads
        // first cannot become the writer once another commit has landed
        // (SQLite answers "database is locked" at once, busy timeout or
        // not). Only this call writes these series' watermarks.
        let before = self.watermarks(batch.iter().map(|b| b.series_id).collect()).await?;
        // Each series' old watermark, looked up once (not per point).
        let walls: Vec<Option<i64>> = batch.iter().map(|b| before.get(&b.series_id).copied().flatten()).collect();
        // Every statement below covers many series: each one is a round
        // trip to SQLite's worker thread, which on a re-sync (a few points
        // for each of thousands of series) costs more than the writing.
        let mut tx = self.pool.begin().await?;
        // The points delivered before first, to learn which of them
        // changed (usually none); then the new ones.
        let changed: HashSet<(i64, i64)> = upsert_points(&mut tx, &batch, &walls, true).await?.into_iter().collect();
        upsert_points(&mut tx, &batch, &walls, false).await?;
        let written = batch.iter().map(|b| b.points.len() as u64).sum();
        let mut hours = HourPlan::default();
        for (b, &wall) in batch.iter().zip(&walls) {
            plan_hours(b.series_id, &b.points, wall, &changed, &mut hours);
        }
        write_hours(&mut tx, &hours.fresh, Existing::Replace).await?;
        write_hours(&mut tx, &hours.added, Existing::AddTo).await?;
        recompute_hours(&mut tx, &hours.recomputed).await?;
        put_watermarks(&mut tx, &batch).await?;
        daily_rollups(&mut tx, &batch).await?;
        put_detectors(&mut tx, scored).await?;
        // Only an ongoing episode keeps what holds it open.
        let episodes: Vec<(&AnomalyRow, Option<Hold>)> = scored
            .iter()
            .flat_map(|s| s.episodes.iter().map(move |e| (e, s.hold.filter(|_| e.event.end.is_none()))))
            .collect();
        put_anomalies(&mut tx, &episodes).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// These series' watermarks before a commit: everything at or after
    /// one is new to the cache.
    pub(super) async fn watermarks(&self, ids: Vec<i64>) -> Result<HashMap<i64, Option<i64>>, CacheError> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            let sql = format!("SELECT id, watermark FROM series WHERE id IN ({})", placeholders(chunk.len(), "?"));
            let mut q = sqlx::query_as::<_, (i64, Option<i64>)>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id);
            }
            out.extend(q.fetch_all(&self.pool).await?);
        }
        Ok(out)
    }

    /// The newest `limit` values of a tenant-region's metric, newest first,
    /// and the time of the newest.
    pub async fn latest_points(
        &self,
        tenant: &str,
        region: &str,
        metric_key: &str,
        limit: u32,
    ) -> Result<Vec<(i64, f64)>, CacheError> {
        let rows = sqlx::query(
            "SELECT d.ts, d.value FROM datapoint d JOIN series s ON s.id = d.series_id
             WHERE s.tenant_id = ?1 AND s.region = ?2 AND s.metric_key = ?3
             ORDER BY d.ts DESC LIMIT ?4",
        )
        .bind(tenant)
        .bind(region)
        .bind(metric_key)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The newest points of every series, newest first, by (tenant, region,
    /// metric key): those within `periods` periods of the series' newest
    /// point, however old that is. One statement for the whole cache: each
    /// series' newest point and its window are found through the
    /// (series_id, ts) primary key.
    pub async fn latest_points_all(&self, periods: u32) -> Result<HashMap<SeriesPlace, Vec<(i64, f64)>>, CacheError> {
        let mut rows = sqlx::query(
            "WITH top AS (
                 SELECT s.id, s.tenant_id, s.region, s.metric_key, s.period,
                        (SELECT max(ts) FROM datapoint WHERE series_id = s.id) AS newest
                 FROM series s
             )
             SELECT top.tenant_id, top.region, top.metric_key, d.ts, d.value
             FROM top JOIN datapoint d ON d.series_id = top.id AND d.ts > top.newest - ?1 * top.period
             ORDER BY top.id, d.ts DESC",
        )
        .bind(periods)
        .fetch(&self.pool);
        // Streamed, each place's key made once: collected, every row held
        // its three strings (F2000's 1.2 million rows took 400 MB). In
        // series order, which is the primary key's: sorting F2000's rows by
        // their strings took SQLite most of a second. (Without an ORDER BY
        // at all SQLite chose a plan that took 114 s.)
        let mut out: HashMap<SeriesPlace, Vec<(i64, f64)>> = HashMap::new();
        let mut current: Option<(SeriesPlace, Vec<(i64, f64)>)> = None;
        while let Some(r) = futures::TryStreamExt::try_next(&mut rows).await? {
            let (tenant, region, metric): (&str, &str, &str) = (r.get(0), r.get(1), r.get(2));
            let point = (r.get(3), r.get(4));
            match &mut current {
                Some((k, points)) if k.0 == tenant && k.1 == region && k.2 == metric => points.push(point),
                _ => {
                    if let Some((k, points)) = current.take() {
                        out.entry(k).or_default().extend(points);
                    }
                    current = Some(((tenant.to_string(), region.to_string(), metric.to_string()), vec![point]));
                }
            }
        }
        drop(rows);
        if let Some((k, points)) = current {
            out.entry(k).or_default().extend(points);
        }
        // Two series of one metric (its dimensions changed in the fleet
        // file) interleave: newest first across both.
        for points in out.values_mut() {
            points.sort_by_key(|p| std::cmp::Reverse(p.0));
        }
        Ok(out)
    }

    /// Per series with points in `[from, to)` (epoch s): how many, and
    /// their mean. One statement, through the (series, ts) primary key.
    pub async fn window_means(&self, from: i64, to: i64) -> Result<HashMap<i64, (u32, f64)>, CacheError> {
        let mut rows = sqlx::query(
            "SELECT s.id, count(*), avg(d.value) FROM series s
             JOIN datapoint d ON d.series_id = s.id AND d.ts >= ?1 AND d.ts < ?2 GROUP BY s.id",
        )
        .bind(from)
        .bind(to)
        .fetch(&self.pool);
        let mut out = HashMap::new();
        while let Some(r) = futures::TryStreamExt::try_next(&mut rows).await? {
            out.insert(r.get(0), (r.get::<i64, _>(1) as u32, r.get(2)));
        }
        Ok(out)
    }

    /// Per series, the means of its hourly rollups starting at these times
    /// (epoch s) that cover at least a quarter of their hour; one statement,
    /// through the rollup's primary key.
    pub async fn hourly_means(&self, buckets: &[i64]) -> Result<HashMap<i64, Vec<(i64, f64)>>, CacheError> {
        let mut out: HashMap<i64, Vec<(i64, f64)>> = HashMap::new();
        if buckets.is_empty() {
            return Ok(out);
        }
        // CROSS JOIN keeps series the outer loop: left to itself the planner
        // scanned the whole rollup table (0.7 s on F200's week).
        let sql = format!(
            "SELECT r.series_id, r.ts, r.sum / r.n FROM series s
             CROSS JOIN rollup r ON r.series_id = s.id AND r.res = 3600 AND r.ts IN ({})
             WHERE r.n * s.period * 4 >= 3600",
            placeholders(buckets.len(), "?")
        );
        // Built only from placeholders; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in buckets {
            q = q.bind(b);
        }
        // Streamed: a week's buckets of every series are millions of rows.
        let mut rows = q.fetch(&self.pool);
        while let Some(r) = futures::TryStreamExt::try_next(&mut rows).await? {
            out.entry(r.get(0)).or_default().push((r.get(1), r.get(2)));
        }
        Ok(out)
    }

    /// Rows in the datapoint table (for summaries and tests).
    pub async fn datapoint_count(&self) -> Result<i64, CacheError> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM datapoint").fetch_one(&self.pool).await?)
    }

    /// Per tenant, a usage metric's daily rollups from `since` (epoch s) on:
    /// (tenant, their sum, the time their points cover (points x period),
    /// the series (regions) that ran side by side). One tenant's with
    /// `Some`; tenants without the metric are left out.
    pub async fn daily_rollup_usage(
        &self,
        metric: &str,
        tenant: Option<&str>,
        since: i64,
    ) -> Result<Vec<(String, f64, i64, i64)>, CacheError> {
        let select = "SELECT s.tenant_id, sum(r.sum), sum(r.n * s.period), count(DISTINCT s.id)
                  FROM series s CROSS JOIN rollup r
                  WHERE s.metric_key = ?1 AND r.series_id = s.id AND r.res = 86400 AND r.ts >= ?2";
        Ok(match tenant {
            Some(t) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!("{select} AND s.tenant_id = ?3 GROUP BY s.tenant_id")))
                    .bind(metric)
                    .bind(since)
                    .bind(t)
            }
            None => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!("{select} GROUP BY s.tenant_id"))).bind(metric).bind(since)
            }
        }
        .fetch_all(&self.pool)
        .await?)
    }

    /// Per tenant-region, its newest datapoint at or after `since` (epoch
    /// s); tenant-regions with none are left out. One index seek per series.
    pub async fn newest_points_since(&self, since: i64) -> Result<HashMap<(String, String), i64>, CacheError> {
        Ok(sqlx::query_as::<_, (String, String, Option<i64>)>(
            "SELECT s.tenant_id, s.region, max((SELECT max(d.ts) FROM datapoint d WHERE d.series_id = s.id AND d.ts >= ?1))
             FROM series s GROUP BY s.tenant_id, s.region",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .filter_map(|(t, r, ts)| Some(((t, r), ts?)))
        .collect())
    }

    /// Per tenant, its oldest datapoint at or after `since` (epoch s);
    /// tenants with none are left out. One index seek per series, not a
    /// scan of the points.
    pub async fn first_points_since(&self, since: i64) -> Result<HashMap<String, i64>, CacheError> {
        Ok(sqlx::query_as::<_, (String, Option<i64>)>(
            "SELECT s.tenant_id, min((SELECT min(d.ts) FROM datapoint d WHERE d.series_id = s.id AND d.ts >= ?1))
             FROM series s GROUP BY s.tenant_id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .filter_map(|(t, ts)| Some((t, ts?)))
        .collect())
    }

    /// Per tenant, the `requests` metric's `Sum` points in `[since, until)`
    /// (epoch s), all its regions: (tenant, their sum, the first point's
    /// time, the end of the last one's period).
    pub async fn requests_between(&self, since: i64, until: i64) -> Result<Vec<(String, f64, i64, i64)>, CacheError> {
        let rows = sqlx::query(
            "SELECT s.tenant_id, sum(d.value), min(d.ts), max(d.ts + s.period)
             FROM series s JOIN datapoint d ON d.series_id = s.id
             WHERE s.metric_key = 'requests' AND s.stat = 'Sum' AND d.ts >= ?1 AND d.ts < ?2
             GROUP BY s.tenant_id",
        )
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get::<String, _>(0), r.get(1), r.get::<i64, _>(2), r.get::<i64, _>(3))).collect())
    }

    /// The oldest raw point, hourly bucket and daily bucket (epoch s) of a
    /// tenant-region's metric (its first series): one primary-key probe
    /// each; all `None` without such a series.
    pub async fn oldest_rows(
        &self,
        tenant: &str,
        region: &str,
        metric_key: &str,
    ) -> Result<(Option<i64>, Option<i64>, Option<i64>), CacheError> {
        Ok(sqlx::query_as(
            "SELECT (SELECT min(d.ts) FROM datapoint d WHERE d.series_id = s.id),
                    (SELECT min(r.ts) FROM rollup r WHERE r.series_id = s.id AND r.res = 3600),
                    (SELECT min(r.ts) FROM rollup r WHERE r.series_id = s.id AND r.res = 86400)
             FROM series s WHERE s.tenant_id = ?1 AND s.region = ?2 AND s.metric_key = ?3
             ORDER BY s.id LIMIT 1",
        )
        .bind(tenant)
        .bind(region)
        .bind(metric_key)
        .fetch_optional(&self.pool)
        .await?
        .unwrap_or((None, None, None)))
    }

    /// A chart's raw points, (time, value), read by `sql`: the query
    /// catalog's `views/series_points.sql`, bound to tenant, region, metric
    /// key, from and to (epoch s). Its errors are SQLite's own, not a
    /// [`CacheError`]: the SQL may be the user's, and the view says so.
    pub async fn series_points(
        &self,
        sql: &str,
        tenant: &str,
        region: &str,
        metric_key: &str,
        (from, to): (i64, i64),
    ) -> Result<Vec<(i64, f64)>, sqlx::Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(region)
            .bind(metric_key)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// A chart's rollup buckets of `res` seconds, (start, lowest, highest,
    /// mean), read by `sql`: the query catalog's
    /// `views/series_rollup.sql`, bound to tenant, region, metric key, from,
    /// to (epoch s) and `res`. Errors as [`Cache::series_points`].
    pub async fn series_rollup(
        &self,
        sql: &str,
        tenant: &str,
        region: &str,
        metric_key: &str,
        (from, to): (i64, i64),
        res: i64,
    ) -> Result<Vec<(i64, f64, f64, f64)>, sqlx::Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(region)
            .bind(metric_key)
            .bind(from)
            .bind(to)
            .bind(res)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
    }

    /// Each tenant-region's first hourly bucket at or after `hour` (epoch
    /// s): (tenant, region, its start), `None` for one with no hour since.
    /// One primary-key probe per tenant-region, on its first series (a
    /// series added later would only start later).
    pub async fn first_hours_since(&self, hour: i64) -> Result<Vec<(String, String, Option<i64>)>, CacheError> {
        Ok(sqlx::query_as(
            "SELECT f.tenant_id, f.region,
                    (SELECT r.ts FROM rollup r WHERE r.series_id = f.id AND r.res = 3600 AND r.ts >= ?1 ORDER BY r.ts LIMIT 1)
             FROM (SELECT tenant_id, region, min(id) AS id FROM series GROUP BY tenant_id, region) f",
        )
        .bind(hour)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The hours from `since` (epoch s) whose mean is over a threshold of
    /// their metric: (tenant, region, hour, 2 over `critical` or 1 over
    /// `warning`), one row per series over, so a tenant-region's hour may
    /// come more than once (the worst is the caller's to keep: grouping
    /// them here sorted every hour read, most of the heatmap's time).
    /// `thresholds` are (metric key, warning, critical); only their metrics
    /// are read, and only the hours over them come back, in no particular
    /// order.
    pub async fn hours_over(
        &self,
        thresholds: &[(&str, Option<f64>, Option<f64>)],
        since: i64,
    ) -> Result<Vec<(String, String, i64, i64)>, CacheError> {
        if thresholds.is_empty() {
            return Ok(Vec::new());
        }
        // The catalog's keys and numbers, bound as parameters.
        let values = vec!["(?, ?, ?)"; thresholds.len()].join(", ");
        let sql = format!(
            "WITH th(metric_key, warn, crit) AS (VALUES {values})
             SELECT s.tenant_id, s.region, r.ts,
                    CASE WHEN th.crit IS NOT NULL AND r.sum / r.n > th.crit THEN 2 ELSE 1 END
             FROM th JOIN series s ON s.metric_key = th.metric_key CROSS JOIN rollup r
             WHERE r.series_id = s.id AND r.res = 3600 AND r.ts >= ? AND r.n > 0
               AND ((th.crit IS NOT NULL AND r.sum / r.n > th.crit) OR (th.warn IS NOT NULL AND r.sum / r.n > th.warn))"
        );
        let mut q = sqlx::query_as::<_, (String, String, i64, i64)>(sqlx::AssertSqlSafe(sql));
        for (key, warn, crit) in thresholds {
            q = q.bind(*key).bind(*warn).bind(*crit);
        }
        Ok(q.bind(since).fetch_all(&self.pool).await?)
    }
}
