//! Everything one run of fleetdeck works with: the fleet (from a file, or the
//! built-in simulated fleet), the query catalog, the cache, and AWS access.
//! The CLI and the desktop shell both start here.
//!
//! The engine does not know the simulator: the program hands a
//! [`DemoLauncher`] to [`Session::open_with_demo`], and the engine only asks
//! it for a fleet file, an endpoint and static keys.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::aws::{AwsAccess, AwsSettings};
use crate::cache::{Cache, CacheError};
use crate::catalog::Catalog;
use crate::fleet::{Fleet, FleetError};
use crate::input::InputError;
use futures::future::BoxFuture;

/// A fleet served somewhere other than AWS (the built-in simulated fleet):
/// all the engine needs to know of it.
pub trait Demo: Send + Sync {
    /// The fleet file that describes it.
    fn fleet_toml(&self) -> String;
    /// The one URL every service answers on.
    fn endpoint(&self) -> String;
    /// The static base credentials it accepts: (access key id, secret).
    fn credentials(&self) -> (String, String);
}

/// Starts the demo fleet for a session.
pub trait DemoLauncher: Sync {
    /// Tenants when `--demo-tenants` is not given.
    fn default_tenants(&self) -> usize;
    /// Serve a fleet of `tenants` whose story starts at `epoch` (seconds).
    fn start(&self, epoch: i64, tenants: usize) -> BoxFuture<'_, std::io::Result<Box<dyn Demo>>>;
}

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
    /// Tenants in the simulated fleet; None for its usual size (the CLI
    /// passes None for that size too, so both share one cache file).
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
    #[error("no cache at {} yet: run `fleetdeck sync{}` first", path.display(), if *demo { " --demo" } else { "" })]
    NoCache { path: PathBuf, demo: bool },
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

    /// How to reach AWS for a fleet file: `--profile` (or `AWS_PROFILE`) and
    /// `--region` over the fleet file's, its endpoint, the default credential chain, and
    /// `AWS_MAX_ATTEMPTS` if set.
    pub fn aws_settings(&self, fleet: &Fleet) -> AwsSettings {
        // As the AWS CLI: the flag, then AWS_PROFILE; then the fleet file's.
        let env = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty());
        let profile = match (&self.profile, env, &fleet.profile) {
            (Some(p), _, _) => Some((p.clone(), "--profile")),
            (None, Some(p), _) => Some((p, "AWS_PROFILE")),
            (None, None, Some(p)) => Some((p.clone(), "the fleet file")),
            (None, None, None) => None,
        };
        AwsSettings {
            profile_from: profile.as_ref().map(|(_, from)| *from),
            profile: profile.map(|(p, _)| p),
            region: self.region.clone().unwrap_or_else(|| fleet.region.clone()),
            endpoint_url: fleet.endpoint_url.clone(),
            static_credentials: None,
            static_session_token: None,
            max_attempts: std::env::var("AWS_MAX_ATTEMPTS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(crate::aws::DEFAULT_MAX_ATTEMPTS),
        }
    }

    /// `--cache`, else a file per fleet source in the platform data dir, so
    /// simulated data never mixes with a real fleet's.
    pub fn cache_path(&self, source: &FleetSource) -> PathBuf {
        if let Some(c) = &self.cache {
            return c.clone();
        }
        let dir = dirs::data_local_dir().unwrap_or_else(|| PathBuf::from(".")).join("fleetdeck");
        match source {
            FleetSource::Demo => match self.demo_tenants {
                Some(n) => dir.join(format!("demo-{n}.sqlite")),
                None => dir.join("demo.sqlite"),
            },
            FleetSource::File(_) => dir.join("cache.sqlite"),
        }
    }
}

impl SessionOptions {
    /// The cache of a command that only reads it (`status`, `report`,
    /// `cache`): it must exist already. Unlike [`Session::open`] this never
    /// creates a cache file, starts a simulator or touches AWS.
    pub async fn open_existing_cache(&self) -> Result<(Cache, PathBuf), SessionError> {
        let path = self.cache_path(&self.fleet_source()?);
        if !path.exists() {
            return Err(SessionError::NoCache { path, demo: self.demo });
        }
        Ok((Cache::open(&path).await?, path))
    }
}

pub fn default_fleet_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("fleetdeck").join("fleet.toml"))
}

/// After this long the demo starts a fresh story (its incidents would
/// otherwise have been "ongoing" for days).
const SIM_EPOCH_MAX_AGE_SECS: i64 = 12 * crate::clock::HOUR;

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
    _demo: Option<Box<dyn Demo>>,
}

impl Session {
    /// A session on a fleet file; asking for the demo is a usage error here
    /// (the engine has no simulator: see [`Session::open_with_demo`]).
    pub async fn open(opts: &SessionOptions) -> Result<Arc<Session>, SessionError> {
        Self::open_with_demo(opts, None).await
    }

    /// A session on a fleet file, or on the demo fleet that `demo` starts.
    pub async fn open_with_demo(
        opts: &SessionOptions,
        demo: Option<&dyn DemoLauncher>,
    ) -> Result<Arc<Session>, SessionError> {
        let catalog = Catalog::load(opts.queries.as_deref()).map_err(SessionError::Catalog)?;
        let source = opts.fleet_source()?;
        // A fleet file is read before the cache is opened: a bad file must
        // not leave a cache file (and its WAL) behind.
        let mut file_fleet = match &source {
            FleetSource::File(path) => Some(Fleet::load(path, &catalog)?),
            FleetSource::Demo => None,
        };
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
                let Some(launcher) = demo else {
                    return Err(SessionError::Usage("this program has no simulated fleet: give a fleet file".into()));
                };
                // The simulator places its incidents relative to its start;
                // pinning that start in the demo cache keeps one story across
                // runs instead of moving the incidents every launch.
                let epoch = match cache.meta("sim_epoch").await?.and_then(|v| v.parse::<i64>().ok()) {
                    Some(e) if crate::clock::now() - e < SIM_EPOCH_MAX_AGE_SECS => e,
                    _ => {
                        let e = crate::clock::now();
                        cache.set_meta("sim_epoch", &e.to_string()).await?;
                        e
                    }
                };
                let tenants = opts.demo_tenants.unwrap_or(launcher.default_tenants());
                let sim = launcher.start(epoch, tenants).await.map_err(SessionError::Sim)?;
                let fleet = Fleet::parse(Path::new("<simulated fleet>"), &sim.fleet_toml(), &catalog)
                    .map_err(SessionError::SimFleet)?;
                let aws = AwsAccess::new(&AwsSettings::simulated(sim.endpoint(), sim.credentials(), &fleet)).await;
                (fleet, aws, Some(sim))
            }
            FleetSource::File(path) => {
                let fleet = match file_fleet.take() {
                    Some(f) => f,
                    None => Fleet::load(path, &catalog)?,
                };
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
            _demo: sim,
        }))
    }
}
