//! Keeping the cache small over months of syncs: retention (what a sync
//! deletes when it ends, once an hour, in small batches), and what `fleetdeck cache`
//! shows and does: size per table and per tenant, compaction, and dropping
//! one tenant's rows.
//!
//! Every delete here runs in transactions of at most [`BATCH_ROWS`] rows:
//! in WAL mode readers never wait on a writer, but another writer (the
//! desktop app syncing while `fleetdeck cache` runs, say) waits for the
//! lock, so no transaction may hold it for long.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use crate::cache::{Cache, CacheError};
use crate::clock::{self, DAY, HOUR};

/// Rows deleted per transaction. 5,000 datapoints take a few milliseconds.
pub const BATCH_ROWS: i64 = 5_000;

pub use crate::fleet::Retention;

/// What a retention pass deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub datapoints: u64,
    /// Hourly and daily summaries, and the fleet's median lines made of them.
    pub rollups: u64,
    pub anomalies: u64,
    /// Ended peer departures and fleet shifts (with their members).
    pub peer_anomalies: u64,
    pub alarm_history: u64,
    pub log_results: u64,
    pub cost_days: u64,
    pub sync_runs: u64,
    /// Write transactions it took (each at most [`BATCH_ROWS`] rows).
    pub transactions: u64,
}

/// The meta key of the last retention pass: its sync's clock (epoch s) and
/// the limits it applied, as JSON.
const LAST_PASS: &str = "retention_pass";

/// [`enforce_retention`] after a sync, when it is due: an hour (of the
/// sync's clock) after the last pass, or at once when the limits differ
/// from the ones it applied. A pass seeks every series in three tables
/// (half a second at 120,000 series), too much for every 5-minute sync to
/// delete five minutes' points. `None` when it was not due.
pub async fn retention_if_due(cache: &Cache, retention: &Retention, now: i64) -> Result<Option<Pruned>, CacheError> {
    let limits = serde_json::to_string(retention).unwrap_or_default();
    let last = cache.meta(LAST_PASS).await?;
    let last_at = last
        .as_deref()
        .and_then(|v| v.split_once(' '))
        .filter(|(_, applied)| *applied == limits)
        .and_then(|(at, _)| at.parse::<i64>().ok());
    if last_at.is_some_and(|at| (now - HOUR + 1..=now).contains(&at)) {
        return Ok(None);
    }
    let pruned = enforce_retention(cache, retention, now).await?;
    cache.set_meta(LAST_PASS, &format!("{now} {limits}")).await?;
    Ok(Some(pruned))
}

/// Delete what `retention` no longer keeps, as of `now` (epoch s). Series,
/// their watermarks and detectors are untouched: a series whose old points
/// are gone is not read again from AWS. The newest state change of each
/// alarm, ongoing anomaly episodes and the last sync's record are kept
/// whatever their age (the views still need them).
pub async fn enforce_retention(cache: &Cache, retention: &Retention, now: i64) -> Result<Pruned, CacheError> {
    let mut out = Pruned::default();
    out.datapoints =
        prune_points(cache, Points::Raw, now - retention.raw_days as i64 * DAY, &mut out.transactions).await?;
    // A summary goes once all of its bucket is older than the cut: the day
    // the cut falls in keeps its bucket, with the hours still in retention.
    for (res, days) in [(HOUR, retention.hourly_days), (DAY, retention.daily_days)] {
        let cut = now - days as i64 * DAY - res + 1;
        out.rollups += prune_points(cache, Points::Rollup(res), cut, &mut out.transactions).await?;
        out.rollups += crate::fleet_median::prune(cache, res, cut).await?;
    }

    let events_cut = now - retention.events_days as i64 * DAY;
    out.anomalies = prune_rows(
        cache,
        "anomaly",
        "\"end\" IS NOT NULL AND through_ts < ?1",
        Cut::Int(events_cut),
        &mut out.transactions,
    )
    .await?;
    out.peer_anomalies = prune_rows(
        cache,
        "peer_anomaly",
        "\"end\" IS NOT NULL AND through_ts < ?1",
        Cut::Int(events_cut),
        &mut out.transactions,
    )
    .await?;
    out.alarm_history = prune_rows(
        cache,
        "alarm_history",
        "at < ?1 AND at < (SELECT max(h.at) FROM alarm_history h WHERE h.tenant_id = alarm_history.tenant_id
           AND h.region = alarm_history.region AND h.alarm_name = alarm_history.alarm_name)",
        Cut::Int(clock::ms(events_cut)),
        &mut out.transactions,
    )
    .await?;
    out.log_results =
        prune_rows(cache, "log_result", "window_end < ?1", Cut::Int(events_cut), &mut out.transactions).await?;
    // A past sync's calls go with it (api_call references sync_run).
    let old_syncs = "finished_at < ?1 AND id < (SELECT max(id) FROM sync_run)";
    prune_rows(
        cache,
        "api_call",
        &format!("sync_id IN (SELECT id FROM sync_run WHERE {old_syncs})"),
        Cut::Int(clock::ms(events_cut)),
        &mut out.transactions,
    )
    .await?;
    out.sync_runs =
        prune_rows(cache, "sync_run", old_syncs, Cut::Int(clock::ms(events_cut)), &mut out.transactions).await?;

    let cost_cut = clock::day_of(now - retention.cost_days as i64 * DAY).to_string();
    out.cost_days = prune_rows(cache, "cost_daily", "day < ?1", Cut::Text(cost_cut), &mut out.transactions).await?;
    Ok(out)
}

enum Cut {
    Int(i64),
    Text(String),
}

/// Delete the rows of a rowid `table` matching `condition` (with `?1` the
/// cut), [`BATCH_ROWS`] a transaction. Table and condition are constants
/// of this module, never input.
async fn prune_rows(
    cache: &Cache,
    table: &str,
    condition: &str,
    cut: Cut,
    transactions: &mut u64,
) -> Result<u64, CacheError> {
    let sql = format!("DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {condition} LIMIT ?2)");
    let mut deleted = 0;
    loop {
        let q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
        let q = match &cut {
            Cut::Int(v) => q.bind(*v),
            Cut::Text(v) => q.bind(v.as_str()),
        };
        let n = q.bind(BATCH_ROWS).execute(cache.pool()).await?.rows_affected();
        if n > 0 {
            *transactions += 1;
        }
        deleted += n;
        if n < BATCH_ROWS as u64 {
            return Ok(deleted);
        }
    }
}

/// Which clustered points a pass cuts: raw datapoints, or one resolution
/// of the rollups. Both are keyed (series, [resolution,] time).
#[derive(Debug, Clone, Copy)]
enum Points {
    Raw,
    Rollup(i64),
}

impl Points {
    /// The table, and the condition that picks this kind's rows of one
    /// series (`?1`) older than the cut (`?2`). Constants, never input.
    fn table_and_rows(self) -> (&'static str, String) {
        match self {
            Points::Raw => ("datapoint", "series_id = ?1 AND ts < ?2".into()),
            Points::Rollup(res) => ("rollup", format!("series_id = ?1 AND res = {res} AND ts < ?2")),
        }
    }
}

/// Points older than `cut` (epoch s). The primary key makes each series'
/// old points one range: series with a few old points (the usual case, a
/// sync's worth) are grouped into one statement of up to [`BATCH_ROWS`];
/// a series with more (the first pass after lowering a retention) is cut
/// at its 5,000th old point, statement after statement.
async fn prune_points(cache: &Cache, kind: Points, cut: i64, transactions: &mut u64) -> Result<u64, CacheError> {
    let (table, rows) = kind.table_and_rows();
    let count = format!(
        "SELECT id, n FROM (SELECT s.id AS id, (SELECT count(*) FROM {table} WHERE {}) AS n FROM series s)
         WHERE n > 0 ORDER BY id",
        rows.replace("?1", "s.id").replace("?2", "?1")
    );
    let old: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(count)).bind(cut).fetch_all(cache.pool()).await?;
    let mut deleted = 0;
    let mut group: Vec<i64> = Vec::new();
    let mut in_group = 0i64;
    for (id, n) in old {
        if n > BATCH_ROWS {
            deleted += prune_series(cache, kind, id, cut, transactions).await?;
            continue;
        }
        if in_group + n > BATCH_ROWS {
            deleted += delete_group(cache, kind, &group, cut).await?;
            *transactions += 1;
            group.clear();
            in_group = 0;
        }
        group.push(id);
        in_group += n;
    }
    if !group.is_empty() {
        deleted += delete_group(cache, kind, &group, cut).await?;
        *transactions += 1;
    }
    Ok(deleted)
}

async fn delete_group(cache: &Cache, kind: Points, series: &[i64], cut: i64) -> Result<u64, CacheError> {
    let (table, rows) = kind.table_and_rows();
    // The cut is ?1, the series ?2 onwards: at most BATCH_ROWS of them
    // (each has an old point), within SQLite's limit of 32,766.
    let ids: Vec<String> = (0..series.len()).map(|i| format!("?{}", i + 2)).collect();
    let rows = rows.replace("?2", "?1").replace("series_id = ?1 ", &format!("series_id IN ({}) ", ids.join(",")));
    let sql = format!("DELETE FROM {table} WHERE {rows}");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(cut);
    for id in series {
        q = q.bind(id);
    }
    Ok(q.execute(cache.pool()).await?.rows_affected())
}

async fn prune_series(
    cache: &Cache,
    kind: Points,
    series: i64,
    cut: i64,
    transactions: &mut u64,
) -> Result<u64, CacheError> {
    let (table, rows) = kind.table_and_rows();
    let find = format!("SELECT ts FROM {table} WHERE {rows} ORDER BY ts LIMIT 1 OFFSET ?3");
    let delete = format!("DELETE FROM {table} WHERE {rows}");
    let mut deleted = 0;
    loop {
        let bound: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(find.clone()))
            .bind(series)
            .bind(cut)
            .bind(BATCH_ROWS - 1)
            .fetch_optional(cache.pool())
            .await?;
        let upto = bound.map(|ts| ts + 1).unwrap_or(cut);
        let n = sqlx::query(sqlx::AssertSqlSafe(delete.clone()))
            .bind(series)
            .bind(upto)
            .execute(cache.pool())
            .await?
            .rows_affected();
        *transactions += 1;
        deleted += n;
        if bound.is_none() {
            return Ok(deleted);
        }
    }
}

/// Rows and bytes of one table (its indexes included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableSize {
    pub table: String,
    pub rows: i64,
    /// Exact from SQLite's `dbstat`, when this SQLite has it; else `None`.
    pub bytes: Option<i64>,
}

/// What one tenant holds in the cache.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantSize {
    pub tenant: String,
    pub name: String,
    pub active: bool,
    pub series: i64,
    pub datapoints: i64,
    /// Its share of the datapoint table, by rows, plus its other rows at
    /// the average row size of their tables.
    pub bytes_estimate: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheStats {
    /// The database file and its write-ahead log.
    pub file_bytes: i64,
    pub wal_bytes: i64,
    pub page_size: i64,
    pub pages: i64,
    /// Pages free inside the file: what `fleetdeck cache compact` returns.
    pub free_pages: i64,
    /// Whether table sizes are exact (`dbstat`) or only the file's.
    pub exact: bool,
    pub tables: Vec<TableSize>,
    pub tenants: Vec<TenantSize>,
}

/// Tables with tenant rows, and the column naming the tenant. (Datapoints
/// and detectors are a tenant's through its series; a fleet shift's own row
/// is the fleet's, tenant `*`, and its members name their tenants.)
const TENANT_TABLES: &[&str] = &[
    "anomaly",
    "alarm",
    "alarm_history",
    "log_result",
    "cost_daily",
    "cost_anomaly",
    "source_status",
    "health",
    "fleet_member",
    "peer_anomaly",
];

/// Sizes per table and per tenant. Reads the whole cache once (a second
/// or two at a million points): for `fleetdeck cache`, not the views.
pub async fn stats(cache: &Cache) -> Result<CacheStats, CacheError> {
    let pool = cache.pool();
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(pool).await?;
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(pool).await?;
    let free_pages: i64 = sqlx::query_scalar("PRAGMA freelist_count").fetch_one(pool).await?;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    // dbstat is compiled into the SQLite sqlx bundles; a system SQLite may
    // lack it, and then only the file's size is known.
    let bytes: Option<BTreeMap<String, i64>> = sqlx::query_as::<_, (String, i64)>(
        "SELECT m.tbl_name, sum(d.pgsize) FROM dbstat d JOIN sqlite_schema m ON m.name = d.name GROUP BY m.tbl_name",
    )
    .fetch_all(pool)
    .await
    .ok()
    .map(|rows| rows.into_iter().collect());
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        // Names from the schema itself, quoted.
        let sql = format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\""));
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await?;
        let b = bytes.as_ref().map(|m| m.get(&name).copied().unwrap_or(0));
        tables.push(TableSize { table: name, rows, bytes: b });
    }
    tables.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(b.rows.cmp(&a.rows)).then(a.table.cmp(&b.table)));

    let per_row = |table: &str| -> f64 {
        match tables.iter().find(|t| t.table == table) {
            Some(TableSize { rows, bytes: Some(b), .. }) if *rows > 0 => *b as f64 / *rows as f64,
            // No dbstat: the whole file spread over every row.
            _ => {
                let all: i64 = tables.iter().map(|t| t.rows).sum();
                (pages * page_size) as f64 / all.max(1) as f64
            }
        }
    };
    let rows = sqlx::query(
        "SELECT t.id, t.name, t.active,
                (SELECT count(*) FROM series s WHERE s.tenant_id = t.id),
                (SELECT count(*) FROM series s JOIN datapoint d ON d.series_id = s.id WHERE s.tenant_id = t.id)
         FROM tenant t ORDER BY t.id",
    )
    .fetch_all(pool)
    .await?;
    let mut tenants: Vec<TenantSize> = rows
        .iter()
        .map(|r| {
            let (series, datapoints): (i64, i64) = (r.get(3), r.get(4));
            TenantSize {
                tenant: r.get(0),
                name: r.get(1),
                active: r.get(2),
                series,
                datapoints,
                bytes_estimate: (datapoints as f64 * per_row("datapoint") + series as f64 * per_row("series")) as i64,
            }
        })
        .collect();
    for table in TENANT_TABLES {
        let sql = format!("SELECT tenant_id, count(*) FROM {table} GROUP BY tenant_id");
        let counts: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
        let size = per_row(table);
        for (tenant, n) in counts {
            if let Some(t) = tenants.iter_mut().find(|t| t.tenant == tenant) {
                t.bytes_estimate += (n as f64 * size) as i64;
            }
        }
    }
    tenants.sort_by(|a, b| b.bytes_estimate.cmp(&a.bytes_estimate).then(a.tenant.cmp(&b.tenant)));
    let (file_bytes, wal_bytes) = file_sizes(cache);
    Ok(CacheStats { file_bytes, wal_bytes, page_size, pages, free_pages, exact: bytes.is_some(), tables, tenants })
}

/// Bytes of the cache file and of its write-ahead log (0 in memory).
pub fn file_sizes(cache: &Cache) -> (i64, i64) {
    let Some(path) = cache.path() else { return (0, 0) };
    let len = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len() as i64).unwrap_or(0);
    (len(path), len(&std::path::PathBuf::from(format!("{}-wal", path.display()))))
}

/// The file's size before and after [`compact`], WAL included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Compacted {
    pub bytes_before: i64,
    pub bytes_after: i64,
}

/// Rewrite the cache without its free pages (VACUUM), then empty the WAL.
/// VACUUM needs no other writer for its duration and a second copy's room
/// on disk; it is a command a person runs, never part of a sync.
pub async fn compact(cache: &Cache) -> Result<Compacted, CacheError> {
    let (f, w) = file_sizes(cache);
    let mut conn = cache.pool().acquire().await?;
    sqlx::query("VACUUM").execute(&mut *conn).await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await?;
    drop(conn);
    let (f2, w2) = file_sizes(cache);
    Ok(Compacted { bytes_before: f + w, bytes_after: f2 + w2 })
}

#[derive(Debug, thiserror::Error)]
pub enum DropError {
    #[error("no tenant {0:?} in this cache (`fleetdeck cache stats` lists them)")]
    Unknown(String),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl From<sqlx::Error> for DropError {
    fn from(e: sqlx::Error) -> DropError {
        DropError::Cache(CacheError::Query(e))
    }
}

/// Delete every row of one tenant, in one transaction: all of it or none.
/// Returns the rows deleted per table (tables with none left out). A
/// tenant still in the fleet file comes back with the next sync, its
/// history read again from AWS as far as the backfill reaches.
pub async fn drop_tenant(cache: &Cache, tenant: &str) -> Result<Vec<(String, u64)>, DropError> {
    // It reads before it writes: IMMEDIATE (see `Cache::replace_health`).
    let mut tx = cache.pool().begin_with("BEGIN IMMEDIATE").await?;
    let known: Option<String> =
        sqlx::query_scalar("SELECT id FROM tenant WHERE id = ?1").bind(tenant).fetch_optional(&mut *tx).await?;
    if known.is_none() {
        return Err(DropError::Unknown(tenant.to_string()));
    }
    let of_series = "series_id IN (SELECT id FROM series WHERE tenant_id = ?1)";
    let mut steps: Vec<(&str, String)> = vec![
        ("datapoint", format!("DELETE FROM datapoint WHERE {of_series}")),
        ("rollup", format!("DELETE FROM rollup WHERE {of_series}")),
        ("detector_state", format!("DELETE FROM detector_state WHERE {of_series}")),
    ];
    // Children before what they reference (foreign keys are on).
    for table in TENANT_TABLES {
        steps.push((table, format!("DELETE FROM {table} WHERE tenant_id = ?1")));
    }
    steps.push(("series", "DELETE FROM series WHERE tenant_id = ?1".into()));
    steps.push(("tenant", "DELETE FROM tenant WHERE id = ?1".into()));
    let mut out = Vec::new();
    for (table, sql) in steps {
        let n = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant).execute(&mut *tx).await?.rows_affected();
        if n > 0 {
            out.push((table.to_string(), n));
        }
    }
    tx.commit().await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{PointBatch, SeriesKey};

    const NOW: i64 = 1_800_000_000;

    async fn cache_with_tenant(id: &str) -> Cache {
        let cache = Cache::in_memory().await.unwrap();
        add_tenant(&cache, id).await;
        cache
    }

    async fn add_tenant(cache: &Cache, id: &str) {
        sqlx::query("INSERT INTO tenant (id, name, tier, model, account, home_region, regions) VALUES (?1, ?1, 't', 'silo', '111111111111', 'us-east-1', '[]')")
            .bind(id)
            .execute(cache.pool())
            .await
            .unwrap();
    }

    async fn series(cache: &Cache, tenant: &str, metric: &str) -> i64 {
        let key = SeriesKey {
            tenant_id: tenant,
            region: "us-east-1",
            metric_key: metric,
            namespace: "N",
            metric_name: metric,
            dimensions: "{}",
            stat: "Sum",
            period: 300,
            unit: "count",
        };
        cache.series(&key).await.unwrap().0
    }

    async fn points_of(cache: &Cache, id: i64) -> Vec<i64> {
        sqlx::query_scalar("SELECT ts FROM datapoint WHERE series_id = ?1 ORDER BY ts")
            .bind(id)
            .fetch_all(cache.pool())
            .await
            .unwrap()
    }

    /// An operator keeps 35 days of raw points: after a sync, points from
    /// 40 days ago are gone, the last month stays, and no watermark moves
    /// (so nothing is read again from AWS).
    #[tokio::test]
    async fn retention_deletes_old_points_in_batches_and_keeps_new_ones_and_watermarks() {
        let cache = cache_with_tenant("acme").await;
        let (busy, quiet) = (series(&cache, "acme", "requests").await, series(&cache, "acme", "errors").await);
        // busy: 60 days at 5 minutes (17,280 points; 7,200 older than 35
        // days: more than one batch). quiet: 3 old points and 2 new.
        let busy_points: Vec<(i64, f64)> = (0..60 * 288).map(|i| (NOW - 60 * DAY + i * 300, i as f64)).collect();
        let quiet_points = vec![
            (NOW - 50 * DAY, 1.0),
            (NOW - 40 * DAY, 2.0),
            (NOW - 36 * DAY, 3.0),
            (NOW - 34 * DAY, 4.0),
            (NOW - 60, 5.0),
        ];
        cache
            .commit_points(&[
                PointBatch { series_id: busy, points: busy_points.clone(), watermark: NOW },
                PointBatch { series_id: quiet, points: quiet_points, watermark: NOW - 1 },
            ])
            .await
            .unwrap();
        let watermarks = || async {
            sqlx::query_as::<_, (i64, i64)>("SELECT id, watermark FROM series ORDER BY id")
                .fetch_all(cache.pool())
                .await
                .unwrap()
        };
        let before = watermarks().await;

        let pruned = enforce_retention(&cache, &Retention::default(), NOW).await.unwrap();
        let cut = NOW - 35 * DAY;
        let old_busy = busy_points.iter().filter(|(t, _)| *t < cut).count() as u64;
        assert_eq!(old_busy, 7_200);
        assert_eq!(pruned.datapoints, old_busy + 3);
        assert!(pruned.transactions >= 3, "7,203 rows in batches of 5,000: {pruned:?}");
        let kept: Vec<i64> = busy_points.iter().map(|p| p.0).filter(|t| *t >= cut).collect();
        assert_eq!(points_of(&cache, busy).await, kept);
        assert_eq!(points_of(&cache, quiet).await, vec![NOW - 34 * DAY, NOW - 60]);
        assert_eq!(watermarks().await, before, "watermarks unchanged");

        // A second pass finds nothing more to do.
        let again = enforce_retention(&cache, &Retention::default(), NOW).await.unwrap();
        assert_eq!(again, Pruned::default());

        // The summaries outlive the raw points: 60 days of hours and days
        // are still there, until their own retention is lowered.
        let cache = &cache;
        let rollups = |res: i64| async move {
            sqlx::query_as::<_, (i64, i64)>("SELECT count(*), min(ts) FROM rollup WHERE series_id = ?1 AND res = ?2")
                .bind(busy)
                .bind(res)
                .fetch_one(cache.pool())
                .await
                .unwrap()
        };
        assert_eq!(rollups(HOUR).await, (60 * 24, NOW - 60 * DAY));
        assert_eq!(rollups(DAY).await.0, 61, "60 days from 08:00 touch 61 UTC days");
        let shorter = Retention { hourly_days: 40, daily_days: 50, ..Retention::default() };
        let pruned = enforce_retention(cache, &shorter, NOW).await.unwrap();
        assert_eq!(rollups(HOUR).await, (40 * 24, NOW - 40 * DAY));
        assert_eq!(rollups(DAY).await.0, 51);
        // busy: 20 days of hours and 10 days; quiet: the hour of its point 50
        // days ago (its day holds the cut, so it stays).
        assert_eq!(pruned.rollups, 20 * 24 + 10 + 1);
    }

    /// Ended peer departures and fleet shifts go with the other events,
    /// a shift's members with it; ongoing ones stay whatever their age.
    #[tokio::test]
    async fn retention_prunes_ended_peer_anomalies_with_their_members() {
        use crate::cache::{PeerKind, PeerRow};
        use crate::detect::Direction;
        let cache = cache_with_tenant("acme").await;
        let shift = |start: i64, end: Option<i64>| PeerRow {
            kind: PeerKind::Fleet,
            tenant_id: "*".into(),
            region: "us-east-1".into(),
            tier: "*".into(),
            metric_key: "errors".into(),
            direction: Direction::Up,
            start,
            end,
            through: end.unwrap_or(start + 1200),
            change: 2.0,
            peer_change: 2.0,
            moved: 4,
            compared: 5,
            title: "errors 2x".into(),
            members: vec![("acme".into(), "us-east-1".into())],
        };
        let old = NOW - 200 * DAY;
        cache.put_peer_anomalies(&[shift(old, Some(old + 1200)), shift(old + HOUR, None)]).await.unwrap();
        let pruned = enforce_retention(&cache, &Retention::default(), NOW).await.unwrap();
        assert_eq!(pruned.peer_anomalies, 1);
        let left = cache.recent_peer_anomalies(0).await.unwrap();
        assert_eq!(left, vec![shift(old + HOUR, None)], "the ongoing one stays");
        let members: i64 =
            sqlx::query_scalar("SELECT count(*) FROM fleet_member").fetch_one(cache.pool()).await.unwrap();
        assert_eq!(members, 1, "the pruned shift's members went with it");
    }

    #[tokio::test]
    async fn retention_keeps_the_last_state_of_each_alarm_and_cost_for_its_own_period() {
        let cache = cache_with_tenant("acme").await;
        for (alarm, at) in [("a", NOW - 300 * DAY), ("a", NOW - 200 * DAY), ("a", NOW - DAY), ("b", NOW - 300 * DAY)] {
            sqlx::query("INSERT INTO alarm_history (tenant_id, region, alarm_name, at, summary) VALUES ('acme', 'us-east-1', ?1, ?2, 'Alarm updated from OK to ALARM')")
                .bind(alarm)
                .bind(clock::ms(at))
                .execute(cache.pool())
                .await
                .unwrap();
        }
        for day in ["2025-01-01", "2026-12-01", "2027-01-14"] {
            sqlx::query("INSERT INTO cost_daily (tenant_id, day, service, source, amount, unit, estimated) VALUES ('acme', ?1, 'EC2', 'tag', 1, 'USD', 0)")
                .bind(day)
                .execute(cache.pool())
                .await
                .unwrap();
        }
        // NOW is 2027-01-15: 400 days back is 2025-12-11.
        let pruned = enforce_retention(&cache, &Retention::default(), NOW).await.unwrap();
        assert_eq!((pruned.alarm_history, pruned.cost_days), (2, 1));
        let left: Vec<(String, i64)> =
            sqlx::query_as("SELECT alarm_name, at FROM alarm_history ORDER BY alarm_name, at")
                .fetch_all(cache.pool())
                .await
                .unwrap();
        assert_eq!(left, vec![("a".into(), clock::ms(NOW - DAY)), ("b".into(), clock::ms(NOW - 300 * DAY))]);
        let days: Vec<String> =
            sqlx::query_scalar("SELECT day FROM cost_daily ORDER BY day").fetch_all(cache.pool()).await.unwrap();
        assert_eq!(days, vec!["2026-12-01", "2027-01-14"]);
    }

    #[tokio::test]
    async fn dropping_a_tenant_deletes_all_of_its_rows_and_nobody_elses() {
        let cache = cache_with_tenant("acme").await;
        add_tenant(&cache, "globex").await;
        for t in ["acme", "globex"] {
            let id = series(&cache, t, "requests").await;
            cache
                .commit_points(&[PointBatch {
                    series_id: id,
                    points: vec![(NOW, 1.0), (NOW + 300, 2.0)],
                    watermark: NOW + 600,
                }])
                .await
                .unwrap();
            sqlx::query("INSERT INTO cost_daily (tenant_id, day, service, source, amount, unit, estimated) VALUES (?1, '2027-01-14', 'EC2', 'tag', 1, 'USD', 0)")
                .bind(t)
                .execute(cache.pool())
                .await
                .unwrap();
        }
        let err = drop_tenant(&cache, "initech").await.unwrap_err();
        assert!(matches!(err, DropError::Unknown(_)), "{err}");
        let deleted = drop_tenant(&cache, "acme").await.unwrap();
        assert_eq!(
            deleted,
            vec![
                ("datapoint".into(), 2),
                ("rollup".into(), 2),
                ("cost_daily".into(), 1),
                ("series".into(), 1),
                ("tenant".into(), 1)
            ]
        );
        let left: Vec<String> = sqlx::query_scalar(
            "SELECT tenant_id FROM series UNION ALL SELECT tenant_id FROM cost_daily UNION ALL SELECT id FROM tenant",
        )
        .fetch_all(cache.pool())
        .await
        .unwrap();
        assert_eq!(left, vec!["globex"; 3]);
        assert_eq!(cache.datapoint_count().await.unwrap(), 2);
    }
}
