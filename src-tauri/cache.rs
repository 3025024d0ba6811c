//! The local SQLite cache: one [`Cache`] owns the pool (WAL, busy timeout,
//! migrations) and every write the sync makes. Views read it through the SQL
//! in `queries/views/`. The file is created owner-only (0600) in an
//! owner-only directory (0700), and never holds credentials.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, Transaction};

use crate::detect::{AnomalyEvent, Direction, Hold, Season};
use crate::fleet::Fleet;
use crate::model::{Health, Incident, SyncSummary};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src-tauri/migrations");

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("cache {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("cache {path}: cannot apply schema migrations: {source}")]
    Migrate { path: String, source: sqlx::migrate::MigrateError },
    #[error("cache query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("cache {path} was written by a newer fleetdeck (schema version {version}): use that version, or pass --cache with another file")]
    Newer { path: String, version: i64 },
}

/// SQLite's own verdicts on a file that is not a usable database: "file is
/// not a database" (26) and "database disk image is malformed" (11).
fn is_corrupt(e: &CacheError) -> bool {
    let db = |e: &sqlx::Error| match e {
        sqlx::Error::Database(d) => matches!(d.code().as_deref(), Some("26") | Some("11")),
        _ => false,
    };
    match e {
        CacheError::Open { source, .. } => db(source),
        CacheError::Migrate { source: sqlx::migrate::MigrateError::Execute(inner), .. } => db(inner),
        CacheError::Migrate { source: sqlx::migrate::MigrateError::ExecuteMigration(inner, _), .. } => db(inner),
        _ => false,
    }
}

/// The cache and its connection pool. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Cache {
    pool: SqlitePool,
    path: Option<PathBuf>,
    /// Set when the file found at `path` was unreadable and was moved here.
    recovered: Option<Recovered>,
}

/// A cache file that could not be used, and where it went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    pub moved_to: PathBuf,
    pub reason: String,
}

/// One row of a source's state, as the sync records it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceState {
    pub tenant_id: String,
    pub region: String,
    pub source: String,
    pub status: String,
    pub error: Option<String>,
    pub remediation: Option<String>,
    /// Epoch ms of the last sync that read this source without error; set
    /// by the cache from `status`, ignored when writing.
    pub last_ok: Option<i64>,
}

/// One cached alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmRow {
    pub tenant_id: String,
    pub region: String,
    pub arn: String,
    pub name: String,
    pub state: String,
    pub reason: String,
    pub state_changed_at: Option<i64>,
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub threshold: Option<f64>,
}

/// One day of one service's cost for one tenant ('' = unattributed).
#[derive(Debug, Clone, PartialEq)]
pub struct CostRow {
    pub tenant_id: String,
    pub day: String,
    pub service: String,
    pub source: &'static str,
    /// Unblended.
    pub amount: f64,
    pub amortized: f64,
    pub unit: String,
    pub estimated: bool,
}

/// The latest result of a Logs Insights triage query.
#[derive(Debug, Clone, PartialEq)]
pub struct LogResult {
    pub tenant_id: String,
    pub region: String,
    pub query_key: String,
    pub window_start: i64,
    pub window_end: i64,
    pub rows: serde_json::Value,
    pub records_matched: i64,
    pub truncated: bool,
    pub withheld: bool,
}

/// New points of one series and the watermark they bring it to.
#[derive(Debug, Clone, PartialEq)]
pub struct PointBatch {
    pub series_id: i64,
    pub points: Vec<(i64, f64)>,
    /// Epoch seconds (exclusive) up to which the series is now complete.
    pub watermark: i64,
}

/// A series' saved anomaly detector and its ongoing episode, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedDetector {
    pub series_id: i64,
    /// [`crate::detect::Detector::to_bytes`].
    pub state: Vec<u8>,
    /// Epoch seconds of the last point the detector scored.
    pub through_ts: i64,
    pub open: Option<AnomalyEvent>,
    /// What holds the ongoing episode open ([`crate::detect::Hold`]); `None`
    /// for an episode stored before holds were (it ends the old way).
    pub hold: Option<Hold>,
}

/// A series' detector after scoring new points, and the episodes to store:
/// new ones, and the ongoing one extended or closed.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredSeries {
    pub series_id: i64,
    pub state: Vec<u8>,
    pub through_ts: i64,
    /// Points scored.
    pub points: u64,
    pub episodes: Vec<AnomalyRow>,
    /// What holds the last episode open, when it is ongoing.
    pub hold: Option<Hold>,
}

/// One anomaly episode of a tenant-region's metric.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyRow {
    pub series_id: i64,
    pub tenant_id: String,
    pub region: String,
    pub metric_key: String,
    /// Times in epoch seconds.
    pub event: AnomalyEvent,
    pub explanation: String,
}

/// Which kind of peer anomaly a [`PeerRow`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerKind {
    /// One tenant-region departs from its tier's peers (incident kind `peer`).
    Peer,
    /// Most tenant-regions of a region or a tier moved together (incident
    /// kind `fleet`).
    Fleet,
}

impl PeerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeerKind::Peer => "peer",
            PeerKind::Fleet => "fleet",
        }
    }
}

/// One peer departure or fleet-wide shift ([`crate::peers`]). Times in
/// epoch seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerRow {
    pub kind: PeerKind,
    /// The departing tenant; `*` for a fleet shift.
    pub tenant_id: String,
    /// Its region; a fleet shift's region, or `*` for a tier's shift.
    pub region: String,
    /// The peers' tier; `*` for a region's shift.
    pub tier: String,
    pub metric_key: String,
    pub direction: Direction,
    pub start: i64,
    /// `None` while ongoing.
    pub end: Option<i64>,
    pub through: i64,
    /// At the peak: the tenant's change against its usual level (peer), or
    /// the group's median change (fleet); and the peers' median change.
    pub change: f64,
    pub peer_change: f64,
    /// Fleet: tenant-regions that moved, of `compared` in the group. Peer:
    /// 1, and the number of peers compared with.
    pub moved: u32,
    pub compared: u32,
    pub title: String,
    /// Fleet: the (tenant, region)s that moved, sorted; peer: empty.
    pub members: Vec<(String, String)>,
}

impl PeerRow {
    /// What identifies an episode across syncs (with its start).
    pub fn subject(&self) -> (PeerKind, &str, &str, &str, &str) {
        (self.kind, &self.tenant_id, &self.region, &self.tier, &self.metric_key)
    }
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

impl Cache {
    /// Open (creating if needed) the cache file at `path`. A file that is
    /// not a database or is corrupt is moved aside (with its WAL) and a
    /// fresh cache is built, so a bad file never stops fleetdeck from
    /// starting, and nothing is deleted: see [`Cache::recovered`].
    pub async fn open(path: &Path) -> Result<Cache, CacheError> {
        match Cache::open_once(path).await {
            Err(e) if is_corrupt(&e) => {
                let reason = e.to_string();
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let moved_to = path.with_extension(format!("corrupt-{stamp}.sqlite"));
                let shown = path.display().to_string();
                std::fs::rename(path, &moved_to).map_err(|source| CacheError::Io { path: shown.clone(), source })?;
                for suffix in ["-wal", "-shm"] {
                    let side = PathBuf::from(format!("{}{suffix}", path.display()));
                    if side.exists() {
                        let _ = std::fs::rename(&side, format!("{}{suffix}", moved_to.display()));
                    }
                }
                tracing::warn!("cache {shown} was unreadable ({reason}); moved to {}", moved_to.display());
                let mut cache = Cache::open_once(path).await?;
                cache.recovered = Some(Recovered { moved_to, reason });
                Ok(cache)
            }
            other => other,
        }
    }

    /// The unreadable file this open moved aside, if it did.
    pub fn recovered(&self) -> Option<&Recovered> {
        self.recovered.as_ref()
    }

    async fn open_once(path: &Path) -> Result<Cache, CacheError> {
        let shown = path.display().to_string();
        create_private(path).map_err(|source| CacheError::Io { path: shown.clone(), source })?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| CacheError::Open { path: shown.clone(), source })?;
        MIGRATOR.run(&pool).await.map_err(|source| match source {
            // A newer fleetdeck wrote this cache: not corrupt, and not ours
            // to move aside or rewrite.
            sqlx::migrate::MigrateError::VersionMissing(v) => CacheError::Newer { path: shown.clone(), version: v },
            source => CacheError::Migrate { path: shown.clone(), source },
        })?;
        // A damaged page often opens fine; a quick look at the schema and
        // the header catches the common cases cheaply.
        sqlx::query("SELECT count(*) FROM sqlite_schema")
            .execute(&pool)
            .await
            .map_err(|source| CacheError::Open { path: shown, source })?;
        Ok(Cache { pool, path: Some(path.to_path_buf()), recovered: None })
    }

    /// A private in-memory cache with the schema applied (tests).
    pub async fn in_memory() -> Result<Cache, CacheError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // One connection: every in-memory connection would be its own database.
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        MIGRATOR.run(&pool).await.map_err(|source| CacheError::Migrate { path: ":memory:".into(), source })?;
        Ok(Cache { pool, path: None, recovered: None })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), CacheError> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn meta(&self, key: &str) -> Result<Option<String>, CacheError> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?1").bind(key).fetch_optional(&self.pool).await?)
    }

    /// Record the fleet's tenants; tenants no longer in the fleet become
    /// inactive (their history is kept).
    pub async fn record_fleet(&self, fleet: &Fleet) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE tenant SET active = 0").execute(&mut *tx).await?;
        for t in &fleet.tenants {
            let regions: Vec<&str> = t.regions().collect();
            sqlx::query(
                "INSERT INTO tenant (id, name, tier, model, account, home_region, regions, residency, active, role_arn)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, tier = excluded.tier, model = excluded.model,
                   account = excluded.account, home_region = excluded.home_region, regions = excluded.regions,
                   residency = excluded.residency, active = 1, role_arn = excluded.role_arn",
            )
            .bind(&t.id)
            .bind(&t.name)
            .bind(&t.tier)
            .bind(t.model.as_str())
            .bind(&t.account)
            .bind(&t.home_region)
            .bind(serde_json::to_string(&regions).unwrap_or_default())
            .bind(t.residency)
            .bind(&t.role_arn)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.set_meta("fleet_name", &fleet.name).await?;
        // The views read how pooled spend is shared out from here: they
        // read the cache only, and a report has no fleet file at hand.
        match &fleet.apportion {
            Some(a) => self.set_meta("apportion", &serde_json::to_string(a).unwrap_or_default()).await,
            None => {
                sqlx::query("DELETE FROM meta WHERE key = 'apportion'").execute(&self.pool).await?;
                Ok(())
            }
        }
    }

    /// The id of a series, created on first sight; and its watermark.
    /// Every series already in the cache by [`SeriesKey::identity`]: (id,
    /// unit, watermark). One read instead of one upsert per series (12,000
    /// on F200: 1.7 s of a re-sync).
    pub async fn known_series(&self) -> Result<HashMap<SeriesIdentity, (i64, String, Option<i64>)>, CacheError> {
        let rows = sqlx::query(
            "SELECT tenant_id, region, metric_key, namespace, metric_name, dimensions, stat, period, id, unit, watermark
             FROM series",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let identity = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7));
                (identity, (r.get(8), r.get(9), r.get(10)))
            })
            .collect())
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
        // What the hourly rollups need, worked out before the transaction:
        // new hours summed from the points in hand, re-delivered ones to be
        // recomputed from the rows.
        let mut fresh: Vec<(i64, i64, Summary)> = Vec::new();
        let mut redelivered: Vec<(i64, i64, i64)> = Vec::new();
        for b in batch.iter() {
            plan_hours(
                b.series_id,
                &b.points,
                before.get(&b.series_id).copied().flatten(),
                &mut fresh,
                &mut redelivered,
            );
        }
        // Every statement below covers many series: each one is a round
        // trip to SQLite's worker thread, which on a re-sync (a few points
        // for each of thousands of series) costs more than the writing.
        let mut tx = self.pool.begin().await?;
        let written = insert_points(&mut tx, &batch).await?;
        put_hours(&mut tx, &fresh).await?;
        recompute_hours(&mut tx, &redelivered).await?;
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
    async fn watermarks(&self, ids: Vec<i64>) -> Result<HashMap<i64, Option<i64>>, CacheError> {
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

    /// The saved detectors of these series (those that have one), each with
    /// its ongoing episode. Two statements per thousand series.
    pub async fn saved_detectors(&self, series: &[i64]) -> Result<HashMap<i64, SavedDetector>, CacheError> {
        let mut out: HashMap<i64, SavedDetector> = HashMap::with_capacity(series.len());
        // Within SQLite's bound-parameter limit with room to spare.
        for chunk in series.chunks(1000) {
            let ids = placeholders(chunk.len(), "?");
            let sql = format!("SELECT series_id, state, through_ts FROM detector_state WHERE series_id IN ({ids})");
            // Built only from placeholders; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                let id: i64 = r.get(0);
                out.insert(
                    id,
                    SavedDetector { series_id: id, state: r.get(1), through_ts: r.get(2), open: None, hold: None },
                );
            }
            let sql = format!(
                "SELECT {ANOMALY_COLUMNS}, hold_track, hold_level, hold_spread, hold_bar FROM anomaly
                 WHERE \"end\" IS NULL AND series_id IN ({ids})"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id);
            }
            // A series has at most one ongoing episode; should two ever be
            // found (a crash between versions), the newest is continued.
            let mut rows: Vec<(AnomalyRow, Option<Hold>)> = q
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    let hold = match (r.get::<Option<i64>, _>(14), r.get(15), r.get(16), r.get(17)) {
                        (Some(track), Some(level), Some(spread), Some(bar)) => {
                            Some(Hold { track: u8::try_from(track).unwrap_or(0).min(2), level, spread, bar })
                        }
                        _ => None,
                    };
                    (anomaly_row(r), hold)
                })
                .collect();
            rows.sort_by_key(|(a, _)| (a.series_id, a.event.start));
            for (a, hold) in rows {
                if let Some(saved) = out.get_mut(&a.series_id) {
                    saved.open = Some(a.event);
                    saved.hold = hold;
                }
            }
        }
        Ok(out)
    }

    /// Anomaly episodes of the whole fleet whose latest point is at or after
    /// `since` (epoch s): ongoing ones, and those that ended since. One
    /// statement, by tenant, region, metric and start.
    pub async fn recent_anomalies(&self, since: i64) -> Result<Vec<AnomalyRow>, CacheError> {
        let sql = format!(
            "SELECT {ANOMALY_COLUMNS} FROM anomaly WHERE through_ts >= ?1 ORDER BY tenant_id, region, metric_key, start"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(since).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(anomaly_row).collect())
    }

    /// Peer departures and fleet shifts whose latest window ended at or
    /// after `since` (epoch s), ongoing or not, with their members.
    pub async fn recent_peer_anomalies(&self, since: i64) -> Result<Vec<PeerRow>, CacheError> {
        self.peer_rows("through_ts >= ?1", Some(since)).await
    }

    /// The ongoing peer departures and fleet shifts, for the next sync to
    /// continue or close.
    pub async fn open_peer_anomalies(&self) -> Result<Vec<PeerRow>, CacheError> {
        self.peer_rows("\"end\" IS NULL", None).await
    }

    async fn peer_rows(&self, condition: &str, bound: Option<i64>) -> Result<Vec<PeerRow>, CacheError> {
        // `condition` is one of this module's constants, never input.
        let sql = format!(
            "SELECT id, kind, tenant_id, region, tier, metric_key, direction, start, \"end\", through_ts, change,
                    peer_change, moved, compared, title
             FROM peer_anomaly WHERE {condition} ORDER BY kind, tenant_id, region, tier, metric_key, start"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(bound) = bound {
            q = q.bind(bound);
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut out: Vec<(i64, PeerRow)> = rows
            .iter()
            .map(|r| {
                let row = PeerRow {
                    kind: if r.get::<&str, _>(1) == "fleet" { PeerKind::Fleet } else { PeerKind::Peer },
                    tenant_id: r.get(2),
                    region: r.get(3),
                    tier: r.get(4),
                    metric_key: r.get(5),
                    direction: if r.get::<&str, _>(6) == "down" { Direction::Down } else { Direction::Up },
                    start: r.get(7),
                    end: r.get(8),
                    through: r.get(9),
                    change: r.get(10),
                    peer_change: r.get(11),
                    moved: r.get::<i64, _>(12) as u32,
                    compared: r.get::<i64, _>(13) as u32,
                    title: r.get(14),
                    members: Vec::new(),
                };
                (r.get(0), row)
            })
            .collect();
        let fleet: Vec<i64> = out.iter().filter(|(_, p)| p.kind == PeerKind::Fleet).map(|(id, _)| *id).collect();
        for chunk in fleet.chunks(500) {
            let sql = format!(
                "SELECT peer_id, tenant_id, region FROM fleet_member WHERE peer_id IN ({}) ORDER BY 1, 2, 3",
                placeholders(chunk.len(), "?")
            );
            // Built only from placeholders; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                let id: i64 = r.get(0);
                if let Some((_, p)) = out.iter_mut().find(|(i, _)| *i == id) {
                    p.members.push((r.get(1), r.get(2)));
                }
            }
        }
        Ok(out.into_iter().map(|(_, p)| p).collect())
    }

    /// Store what one analysis pass found, in one transaction: new episodes
    /// inserted, ongoing ones extended or closed in place (upsert on kind,
    /// tenant, region, tier, metric and start); a fleet shift's members are
    /// added to, never taken from.
    pub async fn put_peer_anomalies(&self, rows: &[PeerRow]) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        for p in rows {
            let direction = match p.direction {
                Direction::Up => "up",
                Direction::Down => "down",
            };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO peer_anomaly (kind, tenant_id, region, tier, metric_key, direction, start, \"end\",
                   through_ts, change, peer_change, moved, compared, title)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT (kind, tenant_id, region, tier, metric_key, start) DO UPDATE SET
                   direction = excluded.direction, \"end\" = excluded.\"end\", through_ts = excluded.through_ts,
                   change = excluded.change, peer_change = excluded.peer_change, moved = excluded.moved,
                   compared = excluded.compared, title = excluded.title
                 RETURNING id",
            )
            .bind(p.kind.as_str())
            .bind(&p.tenant_id)
            .bind(&p.region)
            .bind(&p.tier)
            .bind(&p.metric_key)
            .bind(direction)
            .bind(p.start)
            .bind(p.end)
            .bind(p.through)
            .bind(p.change)
            .bind(p.peer_change)
            .bind(i64::from(p.moved))
            .bind(i64::from(p.compared))
            .bind(&p.title)
            .fetch_one(&mut *tx)
            .await?;
            for (tenant, region) in &p.members {
                sqlx::query("INSERT OR IGNORE INTO fleet_member (peer_id, tenant_id, region) VALUES (?1, ?2, ?3)")
                    .bind(id)
                    .bind(tenant)
                    .bind(region)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The incident timeline between `since` and `until` (epoch s): anomaly
    /// episodes, peer departures (kind `peer`), fleet-wide shifts (kind
    /// `fleet`, tenant `*`, region the region or `*`) and alarm episodes
    /// (from the alarms' state changes) that overlap it, newest first.
    ///
    /// A fleet shift is one incident for everybody: the anomalies of its
    /// members on its metric, in its direction and overlapping it, are not
    /// listed again one by one.
    ///
    /// An alarm episode runs from a change into ALARM to the next change out
    /// of it; one still in ALARM has no end. A change out of ALARM whose
    /// start is older than the history kept is shown as that change alone.
    pub async fn incidents(&self, since: i64, until: i64) -> Result<Vec<Incident>, CacheError> {
        self.incidents_for(None, since, until).await
    }

    /// [`Cache::incidents`] of one tenant (`Some`): its own episodes, and
    /// the fleet-wide shifts it moved with.
    pub async fn incidents_for(
        &self,
        tenant: Option<&str>,
        since: i64,
        until: i64,
    ) -> Result<Vec<Incident>, CacheError> {
        let mut out = Vec::new();
        let rows = sqlx::query(
            "SELECT a.tenant_id, a.region, a.metric_key, a.start, a.\"end\", a.through_ts, a.explanation FROM anomaly a
             WHERE a.start <= ?2 AND a.through_ts >= ?1 AND (?3 IS NULL OR a.tenant_id = ?3)
               AND NOT EXISTS (
                 SELECT 1 FROM fleet_member m JOIN peer_anomaly p ON p.id = m.peer_id
                 WHERE m.tenant_id = a.tenant_id AND m.region = a.region AND p.kind = 'fleet'
                   AND p.metric_key = a.metric_key AND p.direction = a.direction
                   AND a.start <= p.through_ts AND a.through_ts >= p.start)",
        )
        .bind(since)
        .bind(until)
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            out.push(Incident {
                tenant: r.get(0),
                region: r.get(1),
                kind: "anomaly".into(),
                subject: r.get(2),
                start: r.get::<i64, _>(3) * 1000,
                end: r.get::<Option<i64>, _>(4).map(|t| t * 1000),
                title: r.get(6),
            });
        }
        let rows = sqlx::query(
            "SELECT p.kind, p.tenant_id, p.region, p.metric_key, p.start, p.\"end\", p.title FROM peer_anomaly p
             WHERE p.start <= ?2 AND p.through_ts >= ?1
               AND (?3 IS NULL OR p.tenant_id = ?3
                    OR EXISTS (SELECT 1 FROM fleet_member m WHERE m.peer_id = p.id AND m.tenant_id = ?3))",
        )
        .bind(since)
        .bind(until)
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            out.push(Incident {
                kind: r.get(0),
                tenant: r.get(1),
                region: r.get(2),
                subject: r.get(3),
                start: r.get::<i64, _>(4) * 1000,
                end: r.get::<Option<i64>, _>(5).map(|t| t * 1000),
                title: r.get(6),
            });
        }

        out.extend(self.alarm_episodes(tenant, since, until).await?);
        out.sort_by(|a, b| {
            (b.start, &a.tenant, &a.region, &a.kind, &a.subject)
                .cmp(&(a.start, &b.tenant, &b.region, &b.kind, &b.subject))
        });
        Ok(out)
    }

    /// Alarm episodes (from a change into ALARM to the change out of it,
    /// open while none is seen) overlapping `[since, until]` (epoch s),
    /// from the alarm history; one tenant's with `Some`.
    pub async fn alarm_episodes(
        &self,
        tenant: Option<&str>,
        since: i64,
        until: i64,
    ) -> Result<Vec<Incident>, CacheError> {
        let mut out = Vec::new();
        let order = "ORDER BY tenant_id, region, alarm_name, at";
        let history = match tenant {
            Some(t) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT tenant_id, region, alarm_name, at, summary FROM alarm_history WHERE tenant_id = ?2 AND at <= ?1 {order}"
            )))
            .bind(until.saturating_mul(1000))
            .bind(t),
            None => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT tenant_id, region, alarm_name, at, summary FROM alarm_history WHERE at <= ?1 {order}"
            )))
            .bind(until.saturating_mul(1000)),
        }
        .fetch_all(&self.pool)
        .await?;
        let changes: Vec<(String, String, String, i64, String)> =
            history.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))).collect();
        for alarm in changes.chunk_by(|a, b| (&a.0, &a.1, &a.2) == (&b.0, &b.1, &b.2)) {
            let (tenant, region, name) = (&alarm[0].0, &alarm[0].1, &alarm[0].2);
            let mut open: Option<(i64, &str)> = None;
            let mut episodes: Vec<(i64, Option<i64>, &str)> = Vec::new();
            for (_, _, _, at, summary) in alarm {
                let (from, to) = state_change(summary);
                if to == Some("ALARM") {
                    if let Some((start, s)) = open.take() {
                        episodes.push((start, Some(*at), s));
                    }
                    open = Some((*at, summary));
                } else if from == Some("ALARM") || open.is_some() {
                    match open.take() {
                        Some((start, s)) => episodes.push((start, Some(*at), s)),
                        None => episodes.push((*at, Some(*at), summary)),
                    }
                }
            }
            if let Some((start, s)) = open {
                episodes.push((start, None, s));
            }
            for (start, end, summary) in episodes {
                if end.is_some_and(|e| e < since.saturating_mul(1000)) {
                    continue;
                }
                out.push(Incident {
                    tenant: tenant.clone(),
                    region: region.clone(),
                    kind: "alarm".into(),
                    subject: name.clone(),
                    start,
                    end,
                    title: format!("alarm {name}: {summary}"),
                });
            }
        }
        Ok(out)
    }

    /// Replace the alarms of the given tenant-regions with what was read.
    pub async fn replace_alarms(
        &self,
        scope: &[(String, String)],
        alarms: &[AlarmRow],
        now_ms: i64,
    ) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        for (tenant, region) in scope {
            sqlx::query("DELETE FROM alarm WHERE tenant_id = ?1 AND region = ?2")
                .bind(tenant)
                .bind(region)
                .execute(&mut *tx)
                .await?;
        }
        for a in alarms {
            sqlx::query(
                "INSERT OR REPLACE INTO alarm (tenant_id, region, arn, name, state, reason, state_changed_at, namespace, metric_name, threshold, synced_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .bind(&a.tenant_id)
            .bind(&a.region)
            .bind(&a.arn)
            .bind(&a.name)
            .bind(&a.state)
            .bind(&a.reason)
            .bind(a.state_changed_at)
            .bind(&a.namespace)
            .bind(&a.metric_name)
            .bind(a.threshold)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Add state changes of an alarm (already known ones are kept once).
    pub async fn put_alarm_history(
        &self,
        tenant: &str,
        region: &str,
        alarm: &str,
        items: &[(i64, String)],
    ) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        for (at, summary) in items {
            sqlx::query(
                "INSERT OR REPLACE INTO alarm_history (tenant_id, region, alarm_name, at, summary) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .bind(tenant)
            .bind(region)
            .bind(alarm)
            .bind(at)
            .bind(summary)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn alarms(&self, tenant: &str, region: &str) -> Result<Vec<AlarmRow>, CacheError> {
        let rows = sqlx::query(
            "SELECT tenant_id, region, arn, name, state, reason, state_changed_at, namespace, metric_name, threshold
             FROM alarm WHERE tenant_id = ?1 AND region = ?2 ORDER BY name",
        )
        .bind(tenant)
        .bind(region)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(alarm_row).collect())
    }

    /// Every cached alarm, by tenant, region and name.
    pub async fn all_alarms(&self) -> Result<Vec<AlarmRow>, CacheError> {
        let rows = sqlx::query(
            "SELECT tenant_id, region, arn, name, state, reason, state_changed_at, namespace, metric_name, threshold
             FROM alarm ORDER BY tenant_id, region, name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(alarm_row).collect())
    }

    pub async fn put_log_result(&self, r: &LogResult, now_ms: i64) -> Result<(), CacheError> {
        sqlx::query(
            "INSERT OR REPLACE INTO log_result (tenant_id, region, query_key, window_start, window_end, rows, records_matched, truncated, withheld, synced_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .bind(&r.tenant_id)
        .bind(&r.region)
        .bind(&r.query_key)
        .bind(r.window_start)
        .bind(r.window_end)
        .bind(r.rows.to_string())
        .bind(r.records_matched)
        .bind(r.truncated)
        .bind(r.withheld)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Tenant-regions that need no triage queries this sync: all `queries`
    /// results newer than `since` (epoch s), and healthy at the last sync.
    /// Logs Insights bills by data scanned and its 30 concurrent queries are
    /// shared with the tenant's own engineers; an unhealthy tenant-region is
    /// always queried afresh, since that is where on-call looks.
    pub async fn logs_fresh(&self, since: i64, queries: usize) -> Result<HashSet<(String, String)>, CacheError> {
        // A tenant-region that is unhealthy only because it moved with a
        // fleet-wide shift keeps the healthy cadence: the shift is one
        // incident, and re-querying every tenant of a region on every sync
        // would bill the whole region's Logs Insights scans each time.
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT l.tenant_id, l.region FROM log_result l
             JOIN health h ON h.tenant_id = l.tenant_id AND h.region = l.region
             WHERE l.window_end > ?1
               AND (h.health = 'ok' OR NOT EXISTS (
                     SELECT 1 FROM json_each(h.reasons) WHERE json_each.value NOT LIKE 'fleet-wide: %'))
             GROUP BY l.tenant_id, l.region HAVING count(*) >= ?2",
        )
        .bind(since)
        .bind(queries as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    pub async fn log_results(&self, tenant: &str, region: &str) -> Result<Vec<LogResult>, CacheError> {
        let rows = sqlx::query(
            "SELECT tenant_id, region, query_key, window_start, window_end, rows, records_matched, truncated, withheld
             FROM log_result WHERE tenant_id = ?1 AND region = ?2 ORDER BY query_key",
        )
        .bind(tenant)
        .bind(region)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| LogResult {
                tenant_id: r.get(0),
                region: r.get(1),
                query_key: r.get(2),
                window_start: r.get(3),
                window_end: r.get(4),
                rows: serde_json::from_str(r.get::<&str, _>(5)).unwrap_or(serde_json::Value::Null),
                records_matched: r.get(6),
                truncated: r.get(7),
                withheld: r.get(8),
            })
            .collect())
    }

    pub async fn put_costs(&self, rows: &[CostRow]) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        for c in rows {
            sqlx::query(
                "INSERT INTO cost_daily (tenant_id, day, service, source, amount, amortized, unit, estimated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (tenant_id, day, service, source) DO UPDATE SET amount = excluded.amount,
                   amortized = excluded.amortized, unit = excluded.unit, estimated = excluded.estimated",
            )
            .bind(&c.tenant_id)
            .bind(&c.day)
            .bind(&c.service)
            .bind(c.source)
            .bind(c.amount)
            .bind(c.amortized)
            .bind(&c.unit)
            .bind(c.estimated)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Record sources' statuses in one transaction (one commit, not one per
    /// source: on F200 that was 0.8 s of a re-sync).
    pub async fn put_sources(&self, sources: &[SourceState], now_ms: i64) -> Result<(), CacheError> {
        if sources.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for s in sources {
            sqlx::query(
                "INSERT INTO source_status (tenant_id, region, source, status, error, remediation, last_attempt, last_ok)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, CASE WHEN ?8 THEN ?7 END)
                 ON CONFLICT (tenant_id, region, source) DO UPDATE SET status = excluded.status, error = excluded.error,
                   remediation = excluded.remediation, last_attempt = excluded.last_attempt,
                   last_ok = coalesce(excluded.last_ok, source_status.last_ok)",
            )
            .bind(&s.tenant_id)
            .bind(&s.region)
            .bind(&s.source)
            .bind(&s.status)
            .bind(&s.error)
            .bind(&s.remediation)
            .bind(now_ms)
            .bind(s.status == "ok")
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every source status, by tenant, region and source.
    pub async fn all_sources(&self) -> Result<Vec<SourceState>, CacheError> {
        let rows = sqlx::query(
            "SELECT tenant_id, region, source, status, error, remediation, last_ok FROM source_status
             ORDER BY tenant_id, region, source",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(source_state).collect())
    }

    /// Record a finished sync and the calls it made, in one transaction.
    pub async fn record_sync(&self, s: &SyncSummary, calls: &[crate::aws::CallCount]) -> Result<i64, CacheError> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sync_run (started_at, finished_at, sources_ok, sources_failed, datapoints, api_calls, dollars, errors)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        )
        .bind(s.started_at)
        .bind(s.finished_at)
        .bind(s.sources_ok)
        .bind(s.sources_failed)
        .bind(s.datapoints as i64)
        .bind(s.api_calls)
        .bind(s.dollars)
        .bind(serde_json::to_string(&s.errors).unwrap_or_default())
        .fetch_one(&mut *tx)
        .await?;
        for c in calls {
            sqlx::query(
                "INSERT INTO api_call (sync_id, account, region, action, calls, metrics, dollars)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .bind(id)
            .bind(&c.account)
            .bind(&c.region)
            .bind(c.action)
            .bind(c.calls as i64)
            .bind(c.metrics as i64)
            .bind(c.dollars())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The calls of the last sync, by service (`cloudwatch`, `logs`...):
    /// (service, calls, dollars).
    pub async fn last_sync_calls(&self) -> Result<Vec<(String, i64, f64)>, CacheError> {
        let rows = sqlx::query(
            "SELECT substr(action, 1, instr(action, ':') - 1) AS service, sum(calls), sum(dollars)
             FROM api_call WHERE sync_id = (SELECT max(id) FROM sync_run)
             GROUP BY service ORDER BY service",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    /// Every source not ok, worst news first: (tenant, region, source,
    /// status, error, remediation).
    pub async fn failing_sources(&self) -> Result<Vec<SourceState>, CacheError> {
        let rows = sqlx::query(
            "SELECT s.tenant_id, s.region, s.source, s.status, s.error, s.remediation, s.last_ok
             FROM source_status s LEFT JOIN tenant t ON t.id = s.tenant_id
             WHERE s.status != 'ok' AND (t.active = 1 OR s.tenant_id = '*')
             ORDER BY s.tenant_id, s.region, s.source",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(source_state).collect())
    }

    /// The last sync that committed anything.
    pub async fn last_sync(&self) -> Result<Option<SyncSummary>, CacheError> {
        let row = sqlx::query(
            "SELECT started_at, finished_at, sources_ok, sources_failed, datapoints, api_calls, dollars, errors
             FROM sync_run ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| SyncSummary {
            started_at: r.get(0),
            finished_at: r.get(1),
            sources_ok: r.get(2),
            sources_failed: r.get(3),
            datapoints: r.get::<i64, _>(4) as u64,
            api_calls: r.get(5),
            dollars: r.get(6),
            errors: serde_json::from_str(r.get::<&str, _>(7)).unwrap_or_default(),
            unreachable: false,
        }))
    }

    /// Replace every health row in one transaction, so a reader sees either
    /// the previous assessment or the new one.
    pub async fn replace_health(&self, rows: &[HealthRow], now_ms: i64) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM health").execute(&mut *tx).await?;
        for h in rows {
            sqlx::query(
                "INSERT INTO health (tenant_id, region, health, reasons, focus_metric, fresh_at, computed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .bind(&h.tenant_id)
            .bind(&h.region)
            .bind(h.health.as_str())
            .bind(serde_json::to_string(&h.reasons).unwrap_or_default())
            .bind(&h.focus_metric)
            .bind(h.fresh_at)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
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
        let rows = sqlx::query(
            "WITH top AS (
                 SELECT s.id, s.tenant_id, s.region, s.metric_key, s.period,
                        (SELECT max(ts) FROM datapoint WHERE series_id = s.id) AS newest
                 FROM series s
             )
             SELECT top.tenant_id, top.region, top.metric_key, d.ts, d.value
             FROM top JOIN datapoint d ON d.series_id = top.id AND d.ts > top.newest - ?1 * top.period
             ORDER BY top.tenant_id, top.region, top.metric_key, d.ts DESC",
        )
        .bind(periods)
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<SeriesPlace, Vec<(i64, f64)>> = HashMap::new();
        for r in &rows {
            let key = (r.get(0), r.get(1), r.get(2));
            out.entry(key).or_default().push((r.get(3), r.get(4)));
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
        let rows = sqlx::query(
            "SELECT s.id, count(*), avg(d.value) FROM series s
             JOIN datapoint d ON d.series_id = s.id AND d.ts >= ?1 AND d.ts < ?2 GROUP BY s.id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), (r.get::<i64, _>(1) as u32, r.get(2)))).collect())
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
        for r in q.fetch_all(&self.pool).await? {
            out.entry(r.get(0)).or_default().push((r.get(1), r.get(2)));
        }
        Ok(out)
    }

    /// Rows in the datapoint table (for summaries and tests).
    pub async fn datapoint_count(&self) -> Result<i64, CacheError> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM datapoint").fetch_one(&self.pool).await?)
    }
}

/// An `alarm` row selected as (tenant_id, region, arn, name, state, reason,
/// state_changed_at, namespace, metric_name, threshold).
fn alarm_row(r: &sqlx::sqlite::SqliteRow) -> AlarmRow {
    AlarmRow {
        tenant_id: r.get(0),
        region: r.get(1),
        arn: r.get(2),
        name: r.get(3),
        state: r.get(4),
        reason: r.get(5),
        state_changed_at: r.get(6),
        namespace: r.get(7),
        metric_name: r.get(8),
        threshold: r.get(9),
    }
}

/// A `source_status` row selected as (tenant_id, region, source, status,
/// error, remediation, last_ok).
fn source_state(r: &sqlx::sqlite::SqliteRow) -> SourceState {
    SourceState {
        tenant_id: r.get(0),
        region: r.get(1),
        source: r.get(2),
        status: r.get(3),
        error: r.get(4),
        remediation: r.get(5),
        last_ok: r.get(6),
    }
}

/// (tenant, region, metric key).
pub type SeriesPlace = (String, String, String);

/// What the health step stores per tenant-region.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthRow {
    pub tenant_id: String,
    pub region: String,
    pub health: Health,
    pub reasons: Vec<String>,
    pub focus_metric: Option<String>,
    pub fresh_at: Option<i64>,
}

/// The columns [`anomaly_row`] reads, in its order.
const ANOMALY_COLUMNS: &str = "series_id, tenant_id, region, metric_key, start, \"end\", through_ts, peak_score, \
     direction, peak_ts, peak_value, expected, season, explanation";

fn anomaly_row(r: &sqlx::sqlite::SqliteRow) -> AnomalyRow {
    let direction = match r.get::<&str, _>(8) {
        "down" => Direction::Down,
        _ => Direction::Up,
    };
    let season = match r.get::<&str, _>(12) {
        "daily" => Season::Daily,
        "weekly" => Season::Weekly,
        _ => Season::None,
    };
    AnomalyRow {
        series_id: r.get(0),
        tenant_id: r.get(1),
        region: r.get(2),
        metric_key: r.get(3),
        event: AnomalyEvent {
            start: r.get(4),
            end: r.get(5),
            through: r.get(6),
            peak_score: r.get(7),
            direction,
            peak_ts: r.get(9),
            peak_value: r.get(10),
            expected: r.get(11),
            season,
        },
        explanation: r.get(13),
    }
}

/// (from, to) of an alarm history summary, "Alarm updated from OK to ALARM".
fn state_change(summary: &str) -> (Option<&str>, Option<&str>) {
    let Some(rest) = summary.split_once(" from ").map(|(_, r)| r) else { return (None, None) };
    match rest.split_once(" to ") {
        Some((from, to)) => (Some(from.trim()), Some(to.trim())),
        None => (Some(rest.trim()), None),
    }
}

/// `n` copies of `one` separated by commas.
fn placeholders(n: usize, one: &str) -> String {
    let mut s = String::with_capacity(n * (one.len() + 1));
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(one);
    }
    s
}

/// Save detectors, 200 a statement. A state never replaces a newer one.
async fn put_detectors(tx: &mut Transaction<'_, Sqlite>, scored: &[ScoredSeries]) -> Result<(), CacheError> {
    for chunk in scored.chunks(200) {
        let sql = format!(
            "INSERT INTO detector_state (series_id, state, through_ts) VALUES {}
             ON CONFLICT (series_id) DO UPDATE SET state = excluded.state, through_ts = excluded.through_ts
             WHERE excluded.through_ts > detector_state.through_ts",
            placeholders(chunk.len(), "(?,?,?)")
        );
        // Built only from placeholders; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for s in chunk {
            q = q.bind(s.series_id).bind(&s.state).bind(s.through_ts);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Upsert anomaly episodes on (tenant, region, metric, start), 50 a
/// statement: an ongoing episode is updated in place.
async fn put_anomalies(
    tx: &mut Transaction<'_, Sqlite>,
    episodes: &[(&AnomalyRow, Option<Hold>)],
) -> Result<(), CacheError> {
    for chunk in episodes.chunks(40) {
        let sql = format!(
            "INSERT INTO anomaly (tenant_id, region, metric_key, start, \"end\", peak_score, direction, peak_ts,
               peak_value, expected, explanation, through_ts, season, series_id,
               hold_track, hold_level, hold_spread, hold_bar) VALUES {}
             ON CONFLICT (tenant_id, region, metric_key, start) DO UPDATE SET \"end\" = excluded.\"end\",
               peak_score = excluded.peak_score, direction = excluded.direction, peak_ts = excluded.peak_ts,
               peak_value = excluded.peak_value, expected = excluded.expected, explanation = excluded.explanation,
               through_ts = excluded.through_ts, season = excluded.season, series_id = excluded.series_id,
               hold_track = excluded.hold_track, hold_level = excluded.hold_level,
               hold_spread = excluded.hold_spread, hold_bar = excluded.hold_bar",
            placeholders(chunk.len(), "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        );
        // Built only from placeholders; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (a, hold) in chunk {
            let e = &a.event;
            let direction = match e.direction {
                Direction::Up => "up",
                Direction::Down => "down",
            };
            let season = match e.season {
                Season::None => "none",
                Season::Daily => "daily",
                Season::Weekly => "weekly",
            };
            q = q
                .bind(&a.tenant_id)
                .bind(&a.region)
                .bind(&a.metric_key)
                .bind(e.start)
                .bind(e.end)
                .bind(e.peak_score)
                .bind(direction)
                .bind(e.peak_ts)
                .bind(e.peak_value)
                .bind(e.expected)
                .bind(&a.explanation)
                .bind(e.through)
                .bind(season)
                .bind(a.series_id)
                .bind(hold.map(|h| i64::from(h.track)))
                .bind(hold.map(|h| h.level))
                .bind(hold.map(|h| h.spread))
                .bind(hold.map(|h| h.bar));
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// One entry per series, in the order each first appears: a series the
/// batch holds twice (pages of one answer) gets its points merged, the
/// later delivery of a timestamp winning, and the furthest watermark.
fn merge_batch(batch: &[PointBatch]) -> Cow<'_, [PointBatch]> {
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
/// series: 974k vs 550k points/s.)
async fn insert_points(tx: &mut Transaction<'_, Sqlite>, batch: &[PointBatch]) -> Result<u64, CacheError> {
    const ROWS: usize = 500;
    fn statement(rows: usize) -> String {
        format!(
            "INSERT INTO datapoint (series_id, ts, value) VALUES {}
             ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value",
            placeholders(rows, "(?,?,?)")
        )
    }
    let full = statement(ROWS);
    let mut written = 0;
    // A cursor (series, point) through the batch; plain indices keep the
    // future Send for every lifetime.
    let (mut i, mut j) = (0, 0);
    let mut chunk: Vec<(i64, i64, f64)> = Vec::with_capacity(ROWS);
    loop {
        chunk.clear();
        while chunk.len() < ROWS && i < batch.len() {
            let b = &batch[i];
            let take = (ROWS - chunk.len()).min(b.points.len() - j);
            for &(ts, v) in &b.points[j..j + take] {
                chunk.push((b.series_id, ts, v));
            }
            j += take;
            if j == b.points.len() {
                (i, j) = (i + 1, 0);
            }
        }
        if chunk.is_empty() {
            return Ok(written);
        }
        let sql = if chunk.len() == ROWS { full.clone() } else { statement(chunk.len()) };
        // Built only from placeholders; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (series, ts, v) in &chunk {
            q = q.bind(series).bind(ts).bind(v);
        }
        written += q.execute(&mut **tx).await?.rows_affected();
    }
}

/// Advance the batch's watermarks (never backwards), 500 series a statement.
async fn put_watermarks(tx: &mut Transaction<'_, Sqlite>, batch: &[PointBatch]) -> Result<(), CacheError> {
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
pub const ROLLUPS: [i64; 2] = [3600, 86_400];

/// One bucket's summary: points, sum, lowest, highest.
type Summary = (i64, f64, f64, f64);

/// Keep the hourly buckets these points fall in true. A bucket that
/// starts at or after the series' old watermark holds only this batch's
/// points (nothing there was committed before), so it is summed here from
/// the points in hand (`fresh`); one that starts before it may hold earlier
/// points, which a re-delivered or corrected point replaces, so its span
/// goes to `redelivered` (series, from, to), to be recomputed from the raw
/// rows (usually the one or two hours of a re-sync's overlap).
fn plan_hours(
    series_id: i64,
    points: &[(i64, f64)],
    old_watermark: Option<i64>,
    fresh: &mut Vec<(i64, i64, Summary)>,
    redelivered: &mut Vec<(i64, i64, i64)>,
) {
    let (Some(first), Some(last)) = (points.iter().map(|p| p.0).min(), points.iter().map(|p| p.0).max()) else {
        return;
    };
    let hour = ROLLUPS[0];
    let fresh_from = old_watermark.map_or(i64::MIN, |w| (w + hour - 1).div_euclid(hour) * hour);
    // Summed as SQLite's sum() sums (Kahan-Babuska-Neumaier), so a bucket
    // summed here and one recomputed from the rows agree to the last bit.
    let mut sums: BTreeMap<i64, (i64, f64, f64, f64, f64)> = BTreeMap::new();
    for &(ts, v) in points.iter().filter(|p| p.0 >= fresh_from) {
        let b = sums.entry(ts.div_euclid(hour) * hour).or_insert((0, 0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY));
        let t = b.1 + v;
        b.2 += if b.1.abs() >= v.abs() { (b.1 - t) + v } else { (v - t) + b.1 };
        *b = (b.0 + 1, t, b.2, b.3.min(v), b.4.max(v));
    }
    fresh.extend(sums.into_iter().map(|(ts, (n, sum, c, lo, hi))| (series_id, ts, (n, sum + c, lo, hi))));
    if first < fresh_from {
        let old_end = ((last.div_euclid(hour) + 1) * hour).min(fresh_from);
        redelivered.push((series_id, first.div_euclid(hour) * hour, old_end));
    }
}

/// Recompute the hourly buckets of these (series, from, to) spans from the
/// raw rows, 300 spans a statement (each read by the primary key).
async fn recompute_hours(tx: &mut Transaction<'_, Sqlite>, spans: &[(i64, i64, i64)]) -> Result<(), CacheError> {
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

/// Write the hourly buckets summed in hand, 100 to a statement.
async fn put_hours(tx: &mut Transaction<'_, Sqlite>, hours: &[(i64, i64, Summary)]) -> Result<(), CacheError> {
    for chunk in hours.chunks(100) {
        let sql = format!(
            "INSERT OR REPLACE INTO rollup (series_id, res, ts, n, sum, lo, hi) VALUES {}",
            placeholders(chunk.len(), "(?, 3600, ?, ?, ?, ?, ?)")
        );
        // Built only from placeholders; every value is bound.
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
async fn daily_rollups(tx: &mut Transaction<'_, Sqlite>, batch: &[PointBatch]) -> Result<(), CacheError> {
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

/// Create the cache's directory (0700) and file (0600) with those modes from
/// the start, so there is no moment where another user could open them.
fn create_private(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(dir)?;
        }
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_cache_file_and_its_wal_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/cache.sqlite");
        let cache = Cache::open(&path).await.unwrap();
        cache.set_meta("k", "v").await.unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir.path().join("sub")), 0o700);
            assert_eq!(mode(&dir.path().join("sub/cache.sqlite-wal")), 0o600);
        }
        assert_eq!(cache.meta("k").await.unwrap().as_deref(), Some("v"));
    }

    #[tokio::test]
    async fn a_corrupt_cache_is_moved_aside_and_a_fresh_one_built() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        let garbage = b"this is not a database, it is a shopping list: eggs, milk".repeat(200);
        std::fs::write(&path, &garbage).unwrap();
        let cache = Cache::open(&path).await.expect("a fresh cache instead of a crash");
        let r = cache.recovered().expect("the bad file was noticed").clone();
        assert_eq!(std::fs::read(&r.moved_to).unwrap(), garbage, "nothing lost: the bad file is kept as it was");
        assert!(r.reason.contains("not a database"), "{}", r.reason);
        cache.set_meta("k", "v").await.unwrap();
        drop(cache);
        // And the next start is a normal one: no loop of moving aside.
        let again = Cache::open(&path).await.unwrap();
        assert!(again.recovered().is_none());
        assert_eq!(again.meta("k").await.unwrap().as_deref(), Some("v"));
    }

    #[tokio::test]
    async fn a_cache_from_a_newer_fleetdeck_is_refused_not_moved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        let cache = Cache::open(&path).await.unwrap();
        sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'future', 1, x'00', 0)")
            .execute(cache.pool())
            .await
            .unwrap();
        drop(cache);
        let err = Cache::open(&path).await.unwrap_err();
        assert!(err.to_string().contains("written by a newer fleetdeck (schema version 9999)"), "{err}");
        assert!(path.exists(), "the newer cache stays where it is");
    }

    /// A cache written by each earlier release (every schema version before
    /// the latest, as that release's migrations left it, with data in it)
    /// opens in this one: the missing migrations are applied and nothing is
    /// lost, and what the newest migration added (episode holds, peer
    /// anomalies) works on it.
    #[tokio::test]
    async fn a_cache_from_each_earlier_schema_is_migrated_and_keeps_its_data() {
        let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap();
        assert!(latest >= 4);
        for version in 1..latest {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("old.sqlite");
            {
                let options = SqliteConnectOptions::new().filename(&path).create_if_missing(true);
                let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
                MIGRATOR.run_to(version, &pool).await.unwrap();
                for sql in [
                    "INSERT INTO tenant (id, name, tier, model, account, home_region, regions) VALUES ('a','A','t','silo','111111111111','us-east-1','[\"us-east-1\"]')",
                    "INSERT INTO series (id, tenant_id, region, metric_key, namespace, metric_name, dimensions, stat, period, unit, watermark)
                     VALUES (7, 'a', 'us-east-1', 'errors', 'N', 'M', '{}', 'Sum', 60, 'count', 180)",
                    "INSERT INTO datapoint (series_id, ts, value) VALUES (7, 60, 1.5), (7, 120, 2.5)",
                    "INSERT INTO alarm (tenant_id, region, arn, name, state, reason, synced_at) VALUES ('a','us-east-1','arn:x','a-errors','ALARM','r',1)",
                ] {
                    sqlx::query(sql).execute(&pool).await.unwrap();
                }
                if version >= 3 {
                    sqlx::query("INSERT INTO alarm_history (tenant_id, region, alarm_name, at, summary) VALUES ('a','us-east-1','a-errors',1000,'Alarm updated from OK to ALARM')")
                        .execute(&pool)
                        .await
                        .unwrap();
                }
                pool.close().await;
            }
            let cache = Cache::open(&path).await.unwrap_or_else(|e| panic!("schema {version}: {e}"));
            assert!(cache.recovered().is_none(), "schema {version}: the old cache was moved aside");
            let applied: i64 =
                sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations").fetch_one(cache.pool()).await.unwrap();
            assert_eq!(applied, latest, "schema {version}");
            assert_eq!(cache.latest_points("a", "us-east-1", "errors", 5).await.unwrap(), vec![(120, 2.5), (60, 1.5)]);
            assert_eq!(cache.alarms("a", "us-east-1").await.unwrap().len(), 1, "schema {version}");
            // The points written before rollups existed are summarised (0007).
            let hours: Vec<(i64, i64, f64, f64)> =
                sqlx::query_as("SELECT res, n, lo, hi FROM rollup WHERE series_id = 7 ORDER BY res")
                    .fetch_all(cache.pool())
                    .await
                    .unwrap();
            if version < 7 {
                assert_eq!(hours, vec![(3600, 2, 1.5, 2.5), (86_400, 2, 1.5, 2.5)], "schema {version}");
            }
            // The new tables are there and usable.
            let (id, wm) = cache
                .series(&SeriesKey {
                    tenant_id: "a",
                    region: "us-east-1",
                    metric_key: "errors",
                    namespace: "N",
                    metric_name: "M",
                    dimensions: "{}",
                    stat: "Sum",
                    period: 60,
                    unit: "count",
                })
                .await
                .unwrap();
            assert_eq!((id, wm), (7, Some(180)), "schema {version}");
            let event = AnomalyEvent {
                start: 120,
                end: None,
                through: 120,
                peak_score: 0.9,
                direction: Direction::Up,
                peak_ts: 120,
                peak_value: 2.5,
                expected: 1.0,
                season: Season::None,
            };
            let scored = ScoredSeries {
                series_id: 7,
                state: vec![1, 2, 3],
                through_ts: 120,
                points: 2,
                episodes: vec![AnomalyRow {
                    series_id: 7,
                    tenant_id: "a".into(),
                    region: "us-east-1".into(),
                    metric_key: "errors".into(),
                    event: event.clone(),
                    explanation: "errors 2.5x".into(),
                }],
                hold: Some(Hold { track: 1, level: 1.0, spread: 0.5, bar: 7.0 }),
            };
            cache.commit_points_scored(&[], &[scored]).await.unwrap();
            let saved = cache.saved_detectors(&[7]).await.unwrap();
            assert_eq!(saved[&7].open.as_ref(), Some(&event), "schema {version}");
            assert_eq!(saved[&7].hold, Some(Hold { track: 1, level: 1.0, spread: 0.5, bar: 7.0 }), "schema {version}");
            let incidents = cache.incidents(0, 1_000).await.unwrap();
            let kinds: Vec<&str> = incidents.iter().map(|i| i.kind.as_str()).collect();
            let want: &[&str] = if version >= 3 { &["anomaly", "alarm"] } else { &["anomaly"] };
            assert_eq!(kinds, want, "schema {version}: {incidents:?}");

            let departure = PeerRow {
                kind: PeerKind::Peer,
                tenant_id: "a".into(),
                region: "us-east-1".into(),
                tier: "t".into(),
                metric_key: "errors".into(),
                direction: Direction::Up,
                start: 60,
                end: None,
                through: 180,
                change: 6.0,
                peer_change: 1.0,
                moved: 1,
                compared: 5,
                title: "errors 6x the t tier's median change".into(),
                members: vec![],
            };
            let shift = PeerRow {
                kind: PeerKind::Fleet,
                tenant_id: "*".into(),
                region: "us-east-1".into(),
                tier: "*".into(),
                change: 2.0,
                peer_change: 2.0,
                moved: 4,
                title: "errors 2x across us-east-1".into(),
                members: vec![("a".into(), "us-east-1".into())],
                start: 100,
                through: 240,
                ..departure.clone()
            };
            cache.put_peer_anomalies(&[departure.clone(), shift.clone()]).await.unwrap();
            assert_eq!(cache.open_peer_anomalies().await.unwrap(), vec![shift, departure], "schema {version}");
            let kinds: Vec<String> =
                cache.incidents(0, 1_000).await.unwrap().iter().map(|i| format!("{} {}", i.kind, i.tenant)).collect();
            // The anomaly of tenant a overlaps the shift it moved with: told once, by the shift.
            let want: &[&str] = if version >= 3 { &["fleet *", "peer a", "alarm a"] } else { &["fleet *", "peer a"] };
            assert_eq!(kinds, want, "schema {version}");
        }
    }

    #[tokio::test]
    async fn re_committing_points_updates_instead_of_duplicating() {
        let cache = Cache::in_memory().await.unwrap();
        sqlx::query("INSERT INTO tenant (id, name, tier, model, account, home_region, regions) VALUES ('a','A','t','silo','111111111111','us-east-1','[]')")
            .execute(cache.pool())
            .await
            .unwrap();
        let key = SeriesKey {
            tenant_id: "a",
            region: "us-east-1",
            metric_key: "errors",
            namespace: "N",
            metric_name: "M",
            dimensions: "{}",
            stat: "Sum",
            period: 60,
            unit: "count",
        };
        let (id, wm) = cache.series(&key).await.unwrap();
        assert_eq!(wm, None);
        cache
            .commit_points(&[PointBatch { series_id: id, points: vec![(60, 1.0), (120, 2.0)], watermark: 180 }])
            .await
            .unwrap();
        cache
            .commit_points(&[PointBatch { series_id: id, points: vec![(120, 5.0), (180, 3.0)], watermark: 240 }])
            .await
            .unwrap();
        assert_eq!(cache.datapoint_count().await.unwrap(), 3);
        let (same, wm) = cache.series(&key).await.unwrap();
        assert_eq!((same, wm), (id, Some(240)));
        assert_eq!(cache.latest_points("a", "us-east-1", "errors", 2).await.unwrap(), vec![(180, 3.0), (120, 5.0)]);
    }

    type Hour = (i64, i64, f64, f64, f64);

    /// A series' hourly rollup (start, n, sum, lo, hi) as kept, and as
    /// computed afresh from its raw rows.
    async fn hours_kept_and_from_rows(cache: &Cache, id: i64) -> (Vec<Hour>, Vec<Hour>) {
        let kept =
            sqlx::query_as("SELECT ts, n, sum, lo, hi FROM rollup WHERE series_id = ?1 AND res = 3600 ORDER BY ts")
                .bind(id)
                .fetch_all(cache.pool())
                .await
                .unwrap();
        let raw = sqlx::query_as(
            "SELECT ts - ts % 3600, count(*), sum(value), min(value), max(value) FROM datapoint WHERE series_id = ?1
             GROUP BY ts - ts % 3600 ORDER BY 1",
        )
        .bind(id)
        .fetch_all(cache.pool())
        .await
        .unwrap();
        (kept, raw)
    }

    /// A sync re-reads its last minutes: a point delivered again with a
    /// corrected value replaces the old one in its hour's summary (the
    /// hour is recomputed from the rows), while the new hours are summed
    /// from the points in hand, and both agree with the raw rows.
    #[tokio::test]
    async fn a_corrected_point_replaces_its_old_value_in_the_hours_summary() {
        let cache = Cache::in_memory().await.unwrap();
        crate::testkit::add_tenant(&cache, "acme", "premium").await;
        let id = crate::testkit::add_series(&cache, "acme", "errors", "HTTPCode_Target_5XX_Count").await;
        let t0 = 1_800_000_000; // on the hour
        let first: Vec<(i64, f64)> = (0..90).map(|m| (t0 + m * 60, 1.0)).collect();
        cache.commit_points(&[PointBatch { series_id: id, points: first, watermark: t0 + 90 * 60 }]).await.unwrap();
        // The next sync: minute 85 corrected to 50, then 60 new minutes.
        let second: Vec<(i64, f64)> = (80..150).map(|m| (t0 + m * 60, if m == 85 { 50.0 } else { 2.0 })).collect();
        cache.commit_points(&[PointBatch { series_id: id, points: second, watermark: t0 + 150 * 60 }]).await.unwrap();
        let (hours, raw) = hours_kept_and_from_rows(&cache, id).await;
        assert_eq!(hours, raw);
        assert_eq!(hours[1], (t0 + 3600, 60, 20.0 + 9.0 * 2.0 + 50.0 + 30.0 * 2.0, 1.0, 50.0), "{hours:?}");
        let day: (i64, f64) = sqlx::query_as("SELECT n, sum FROM rollup WHERE series_id = ?1 AND res = 86400")
            .bind(id)
            .fetch_one(cache.pool())
            .await
            .unwrap();
        assert_eq!(day, (150, raw.iter().map(|h| h.2).sum()));
    }

    /// One GetMetricData answer carries many series, and a long one comes
    /// in pages, so a series can be in a batch twice. However the batch is
    /// packed into statements, every series ends with its own rows (the
    /// later delivery of a minute winning), its furthest watermark, and
    /// hours that agree with its rows.
    #[tokio::test]
    async fn a_batch_of_many_series_one_of_them_paged_keeps_each_series_true() {
        let cache = Cache::in_memory().await.unwrap();
        crate::testkit::add_tenant(&cache, "acme", "premium").await;
        let t0 = 1_800_000_000; // on the hour
        let mut ids = Vec::new();
        for n in 0..40 {
            ids.push(crate::testkit::add_series(&cache, "acme", &format!("m{n}"), &format!("M{n}")).await);
        }
        let minutes = |id: i64, from: i64, to: i64, value: f64| PointBatch {
            series_id: id,
            points: (from..to).map(|m| (t0 + m * 60, value + id as f64)).collect(),
            watermark: t0 + to * 60,
        };
        // First sync: 90 minutes of each (more rows than one statement holds).
        let first: Vec<PointBatch> = ids.iter().map(|&id| minutes(id, 0, 90, 1.0)).collect();
        cache.commit_points(&first).await.unwrap();
        // The next: each series re-delivers minutes 80-89 with new values and
        // brings 60 new ones; the first series comes in two overlapping pages.
        let mut second: Vec<PointBatch> = ids.iter().map(|&id| minutes(id, 80, 150, 2.0)).collect();
        second[0] = minutes(ids[0], 80, 120, 3.0);
        second.push(minutes(ids[0], 110, 150, 4.0));
        cache.commit_points(&second).await.unwrap();

        assert_eq!(cache.datapoint_count().await.unwrap(), 40 * 150);
        for &id in &ids {
            let wm: Option<i64> = sqlx::query_scalar("SELECT watermark FROM series WHERE id = ?1")
                .bind(id)
                .fetch_one(cache.pool())
                .await
                .unwrap();
            assert_eq!(wm, Some(t0 + 150 * 60), "series {id}");
            let (hours, raw) = hours_kept_and_from_rows(&cache, id).await;
            assert_eq!(hours, raw, "series {id}");
        }
        // The paged series: the second page's minutes 110-119 won.
        let at = |m: i64| {
            sqlx::query_scalar::<_, f64>("SELECT value FROM datapoint WHERE series_id = ?1 AND ts = ?2")
                .bind(ids[0])
                .bind(t0 + m * 60)
                .fetch_one(cache.pool())
        };
        let base = ids[0] as f64;
        assert_eq!(
            (at(85).await.unwrap(), at(115).await.unwrap(), at(140).await.unwrap()),
            (3.0 + base, 4.0 + base, 4.0 + base)
        );
    }
}
