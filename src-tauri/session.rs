//! Everything one run of fleetdeck works with: the fleet (from a file, or the
//! built-in simulated fleet), the query catalog, the cache, and AWS access.
//! The CLI and the desktop shell both start here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::aws::{AwsAccess, AwsSettings};
use crate::cache::{Cache, CacheError};
use crate::catalog::Catalog;
use crate::fleet::{Fleet, FleetError};
use crate::input::InputError;
use crate::sim::{SimFleet, SimOptions};

/// Where the fleet comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetSource {
    /// The built-in simulated fleet, served on a loopback port.
    Demo,
    File(PathBuf),
}

/// Options common to every command (the raw flags, validated here).
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    pub demo: bool,
    /// Tenants in the simulated fleet; None for the usual 24.
    pub demo_tenants: Option<usize>,
    /// Never sync: the console shows the cache as it is.
    pub offline: bool,
    pub fleet: Option<PathBuf>,
    pub cache: Option<PathBuf>,
    pub queries: Option<PathBuf>,
    pub profile: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Fleet(#[from] FleetError),
    #[error("query catalog:\n{0}")]
    Catalog(InputError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("cannot start the simulated fleet: {0}")]
    Sim(std::io::Error),
    #[error("the simulated fleet's own fleet file is invalid (a bug):\n{0}")]
    SimFleet(InputError),
    #[error("{0}")]
    Usage(String),
}

impl SessionOptions {
    /// `--demo`, else `--fleet`, else the config dir's fleet.toml if it
    /// exists, else the simulated fleet.
    pub fn fleet_source(&self) -> Result<FleetSource, SessionError> {
        if self.demo {
            if self.fleet.is_some() {
                return Err(SessionError::Usage("--demo and --fleet exclude each other".into()));
            }
            return Ok(FleetSource::Demo);
        }
        if let Some(f) = &self.fleet {
            if self.demo_tenants.is_some() {
                return Err(SessionError::Usage("--demo-tenants sizes the simulated fleet, not a fleet file".into()));
            }
            return Ok(FleetSource::File(f.clone()));
        }
        match default_fleet_path() {
            Some(p) if p.exists() => Ok(FleetSource::File(p)),
            _ => Ok(FleetSource::Demo),
        }
    }

    /// `--cache`, else a file per fleet source in the platform data dir, so
    /// simulated data never mixes with a real fleet's.
    /// How to reach AWS for a fleet file: `--profile`/`--region` over the
    /// fleet file's, its endpoint, the default credential chain, and
    /// `AWS_MAX_ATTEMPTS` if set.
    pub fn aws_settings(&self, fleet: &Fleet) -> AwsSettings {
        AwsSettings {
            profile: self.profile.clone().or_else(|| fleet.profile.clone()),
            region: self.region.clone().unwrap_or_else(|| fleet.region.clone()),
            endpoint_url: fleet.endpoint_url.clone(),
            static_credentials: None,
            max_attempts: std::env::var("AWS_MAX_ATTEMPTS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(crate::aws::DEFAULT_MAX_ATTEMPTS),
        }
    }

    pub fn cache_path(&self, source: &FleetSource) -> PathBuf {
        if let Some(c) = &self.cache {
            return c.clone();
        }
        let dir = dirs::data_local_dir().unwrap_or_else(|| PathBuf::from(".")).join("fleetdeck");
        match source {
            FleetSource::Demo => match self.demo_tenants.filter(|n| *n != SimOptions::default().tenants) {
                Some(n) => dir.join(format!("demo-{n}.sqlite")),
                None => dir.join("demo.sqlite"),
            },
            FleetSource::File(_) => dir.join("cache.sqlite"),
        }
    }
}

pub fn default_fleet_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("fleetdeck").join("fleet.toml"))
}

/// After this long the demo starts a fresh story (its incidents would
/// otherwise have been "ongoing" for days).
const SIM_EPOCH_MAX_AGE_SECS: i64 = 12 * 3600;

/// A fleet ready to sync and view.
pub struct Session {
    pub fleet: Fleet,
    pub catalog: Catalog,
    pub cache: Cache,
    pub aws: AwsAccess,
    pub demo: bool,
    /// The fleet file read; None on the simulated fleet.
    pub fleet_file: Option<PathBuf>,
    pub offline: bool,
    /// Kept alive as long as the session: dropping it stops the server.
    _sim: Option<SimFleet>,
}

impl Session {
    pub async fn open(opts: &SessionOptions) -> Result<Arc<Session>, SessionError> {
        let catalog = Catalog::load(opts.queries.as_deref()).map_err(SessionError::Catalog)?;
        let source = opts.fleet_source()?;
        let cache = Cache::open(&opts.cache_path(&source)).await?;
        if let Some(r) = cache.recovered() {
            eprintln!(
                "fleetdeck: warning: the cache file was unreadable ({}); it was moved to {} and a fresh cache started",
                r.reason,
                r.moved_to.display()
            );
        }
        let (fleet, aws, sim) = match &source {
            FleetSource::Demo => {
                // The simulator places its incidents relative to its start;
                // pinning that start in the demo cache keeps one story across
                // runs instead of moving the incidents every launch.
                let epoch = match cache.meta("sim_epoch").await?.and_then(|v| v.parse::<i64>().ok()) {
                    Some(e) if now() - e < SIM_EPOCH_MAX_AGE_SECS => e,
                    _ => {
                        let e = now();
                        cache.set_meta("sim_epoch", &e.to_string()).await?;
                        e
                    }
                };
                let tenants = opts.demo_tenants.unwrap_or(SimOptions::default().tenants);
                let sim = SimFleet::start(SimOptions { now: epoch, tenants, ..SimOptions::default() })
                    .await
                    .map_err(SessionError::Sim)?;
                let fleet = Fleet::parse(Path::new("<simulated fleet>"), &sim.fleet_toml(), &catalog)
                    .map_err(SessionError::SimFleet)?;
                let aws = AwsAccess::new(&AwsSettings::simulated(&sim, &fleet)).await;
                (fleet, aws, Some(sim))
            }
            FleetSource::File(path) => {
                let fleet = Fleet::load(path, &catalog)?;
                let aws = AwsAccess::new(&opts.aws_settings(&fleet)).await;
                (fleet, aws, None)
            }
        };
        cache.set_meta("demo", if sim.is_some() { "1" } else { "0" }).await?;
        cache.record_fleet(&fleet).await?;
        let fleet_file = match source {
            FleetSource::File(p) => Some(p),
            FleetSource::Demo => None,
        };
        Ok(Arc::new(Session {
            fleet,
            catalog,
            cache,
            aws,
            demo: sim.is_some(),
            fleet_file,
            offline: opts.offline,
            _sim: sim,
        }))
    }
}

/// Seconds since the epoch, read once per operation and passed down.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
