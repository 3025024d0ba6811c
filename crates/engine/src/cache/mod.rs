//! The local SQLite cache: one [`Cache`] owns the pool (WAL, busy timeout,
//! migrations), every write the sync makes and every read the views,
//! reports and cost figures make: outside this module, only test fixtures
//! run SQL on the pool. The three views' queries the user may override (the
//! Fleet rows, a chart's points and buckets) stay in `queries/views/`, and
//! the methods here run the text the catalog gives them
//! ([`Cache::fleet_health`], [`Cache::series_points`],
//! [`Cache::series_rollup`]). The file is created owner-only (0600) in an
//! owner-only directory (0700), and never holds credentials.
//!
//! One file per table family, each holding all of its family's SQL:
//! `series` (series, datapoints, rollups), `anomalies` (episodes, detectors,
//! peers, incidents), `alarms`, `logs`, `sources` (and sync records),
//! `cost` (daily cost, its totals and anomalies), `health`; `fleet_median`
//! (the tier medians charts are drawn against) and `housekeeping`
//! (retention, sizes, compaction, dropping a tenant); tenants and `meta`
//! here.

mod alarms;
mod anomalies;
mod cost;
pub mod fleet_median;
mod health;
pub mod housekeeping;
mod logs;
mod series;
mod sources;
mod tags;
#[cfg(test)]
mod tests;

pub use alarms::{AlarmChange, AlarmRow};
pub use anomalies::{AnomalyRow, AnomalySpan, PeerKind, PeerRow, SavedDetector, ScoredSeries, FLEET_SHIFT_LEAD_SECS};
pub use cost::{CostAnomalyRow, CostRow};
pub use health::HealthRow;
pub use logs::LogResult;
pub use series::{OwnedSeriesKey, PointBatch, SeriesIdentity, SeriesKey, SeriesPlace, ROLLUPS};
pub use sources::{ActionCalls, SourceState, SyncCalls};

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Row;

use crate::fleet::Fleet;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

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

/// How long a write waits for SQLite's one writer. A sync commits from
/// several calls at once (metrics beside alarms, logs and cost), each
/// waiting for the others here, polling; with 10 s, a big sync on a loaded
/// machine had a commit miss every moment the writer was free and fail
/// with "database is locked" (CI, 2026-12-07). Two minutes of misses does
/// not happen; a writer held that long is another process stuck. (Taking
/// turns in the process instead, behind an async mutex, was tried: one
/// F2000 backfill at 261 s where this design's runs took 239 to 253 s;
/// no better, and each hand-over then waits for the runtime to poll the
/// next writer.)
const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

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

impl Cache {
    /// Open (creating if needed) the cache file at `path`. A file that is
    /// not a database or is corrupt is moved aside (with its WAL) and a
    /// fresh cache is built, so a bad file never stops fleetdeck from
    /// starting, and nothing is deleted: see [`Cache::recovered`].
    pub async fn open(path: &Path) -> Result<Cache, CacheError> {
        match Cache::open_once(path).await {
            Err(e) if is_corrupt(&e) => {
                let reason = e.to_string();
                let stamp = crate::clock::now();
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
            .busy_timeout(BUSY_TIMEOUT)
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
                "INSERT INTO tenant (id, name, tier, model, account, home_region, regions, residency, active, role_arn,
                   monitoring_account)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?10)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, tier = excluded.tier, model = excluded.model,
                   account = excluded.account, home_region = excluded.home_region, regions = excluded.regions,
                   residency = excluded.residency, active = 1, role_arn = excluded.role_arn,
                   monitoring_account = excluded.monitoring_account",
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
            .bind(fleet.monitoring_for(t, &t.home_region).map(|m| &m.account))
            .execute(&mut *tx)
            .await?;
        }
        // The tag key tenants are found by, for the views to name it.
        sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES ('cost_tag', ?1)")
            .bind(&fleet.cost_tag)
            .execute(&mut *tx)
            .await?;
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

    /// The active tenants read through a monitoring account, per account:
    /// (monitoring account, tenants, of them those without a role of their
    /// own, whose own accounts' alarms are not visible).
    pub async fn monitored_tenants(&self) -> Result<Vec<(String, i64, i64)>, CacheError> {
        Ok(sqlx::query_as(
            "SELECT monitoring_account, count(*), sum(CASE WHEN coalesce(role_arn, '') = '' THEN 1 ELSE 0 END)
             FROM tenant WHERE active = 1 AND monitoring_account IS NOT NULL
             GROUP BY monitoring_account ORDER BY monitoring_account",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Tenant `id`, active or not, with its role ARN; `None` if the cache
    /// never saw it.
    pub async fn tenant(&self, id: &str) -> Result<Option<(crate::model::TenantInfo, Option<String>)>, CacheError> {
        let row = sqlx::query(
            "SELECT id, name, tier, model, account, home_region, regions, residency, active, role_arn,
                    monitoring_account
             FROM tenant WHERE id = ?1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| {
            let info = crate::model::TenantInfo {
                id: row.get(0),
                name: row.get(1),
                tier: row.get(2),
                model: row.get(3),
                account: row.get(4),
                home_region: row.get(5),
                regions: serde_json::from_str(row.get::<&str, _>(6)).unwrap_or_default(),
                residency: row.get::<i64, _>(7) != 0,
                active: row.get::<i64, _>(8) != 0,
                monitoring_account: row.get(10),
                own_alarms_hidden: row.get::<Option<String>, _>(10).is_some()
                    && row.get::<Option<String>, _>(9).is_none_or(|r| r.is_empty()),
            };
            (info, row.get(9))
        }))
    }

    /// Tenant `id`'s isolation model and tier, active or not.
    pub async fn tenant_model_tier(&self, id: &str) -> Result<Option<(String, String)>, CacheError> {
        Ok(sqlx::query_as("SELECT model, tier FROM tenant WHERE id = ?1").bind(id).fetch_optional(&self.pool).await?)
    }

    /// Every active tenant: (id, name, tier, model), by id.
    pub async fn active_tenants(&self) -> Result<Vec<(String, String, String, String)>, CacheError> {
        let rows = sqlx::query("SELECT id, name, tier, model FROM tenant WHERE active = 1 ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|t| (t.get(0), t.get(1), t.get(2), t.get(3))).collect())
    }

    /// Every active tenant's model and account: (id, model, account).
    pub async fn tenant_accounts(&self) -> Result<Vec<(String, String, String)>, CacheError> {
        Ok(sqlx::query_as("SELECT id, model, account FROM tenant WHERE active = 1 ORDER BY id")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Every active tenant's regions, home region first: (id, regions), in
    /// no particular order.
    pub async fn active_tenant_regions(&self) -> Result<Vec<(String, Vec<String>)>, CacheError> {
        Ok(sqlx::query_as::<_, (String, String)>("SELECT id, regions FROM tenant WHERE active = 1")
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|(id, regions)| (id, serde_json::from_str(&regions).unwrap_or_default()))
            .collect())
    }

    /// Every tenant the cache has seen, active or not: (id, display name),
    /// in no particular order.
    pub async fn tenant_names(&self) -> Result<Vec<(String, String)>, CacheError> {
        Ok(sqlx::query_as::<_, (String, String)>("SELECT id, name FROM tenant").fetch_all(&self.pool).await?)
    }
}
