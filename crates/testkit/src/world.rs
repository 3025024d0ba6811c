//! The simulated fleet as the engine tests use it: started on loopback with
//! its clock frozen, the fleet file and query catalog fleetdeck reads for
//! it, and AWS access set up exactly as the product sets it up.

use std::path::Path;

use fleetdeck_engine::aws::{AwsAccess, AwsSettings};
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::fleet::Fleet;
use fleetdeck_sim::{SimFleet, SimKnobs, SimOptions};

/// One seed for every test's simulated fleet: the same tenants everywhere.
pub const SEED: u64 = 20_261_122;

/// Seconds since the epoch, floored to the minute.
///
/// The simulated clock is frozen at an epoch taken from the real clock once
/// per test, not at a constant: the SDK (and fleetdeck's `AssumedRole`)
/// judges whether credentials are fresh against the laptop's clock, while
/// the simulator writes their `Expiration` on its own. An epoch far from the
/// real clock would make every credential look expired (re-assumed before
/// every call) or immortal, which is not how AWS behaves.
pub fn epoch_now() -> i64 {
    let now = fleetdeck_engine::clock::now();
    now - now % 60
}

/// The settings fleetdeck uses for the simulated fleet (`Session::open`,
/// demo branch): the simulator's static base keys, its endpoint, and the
/// product's retry budget. Kept identical to the product on purpose: the
/// tests are about what the product does, not what a tuned client does.
pub fn sim_settings(endpoint: &str, region: &str) -> AwsSettings {
    AwsSettings {
        profile: None,
        profile_from: None,
        region: region.to_string(),
        endpoint_url: Some(endpoint.to_string()),
        static_credentials: Some((SimFleet::ACCESS_KEY_ID.into(), SimFleet::SECRET_ACCESS_KEY.into())),
        static_session_token: None,
        max_attempts: fleetdeck_engine::aws::DEFAULT_MAX_ATTEMPTS,
    }
}

/// A simulated fleet of `tenants` tenants placed at `epoch` (its clock
/// frozen there), with the fleet file and catalog fleetdeck reads for it.
/// Each test file adds the methods its stories need.
pub struct World {
    pub sim: SimFleet,
    pub fleet: Fleet,
    pub catalog: Catalog,
    pub epoch: i64,
}

impl World {
    pub async fn start_with(tenants: usize, catalog: Catalog, epoch: i64) -> World {
        World::start_options(
            SimOptions {
                seed: SEED,
                tenants,
                now: epoch,
                shape: None,
                realistic: false,
                noisy_neighbour: false,
                monitoring: false,
            },
            catalog,
        )
        .await
    }

    /// A fleet of any [`SimOptions`] (its clock frozen at `opts.now`), e.g.
    /// [`SimOptions::realistic`].
    pub async fn start_options(opts: SimOptions, catalog: Catalog) -> World {
        let epoch = opts.now;
        let sim = SimFleet::start(opts).await.expect("the simulated fleet starts");
        sim.set_knobs(SimKnobs { clock: Some(epoch), ..SimKnobs::default() });
        let fleet = Fleet::parse(Path::new("<simulated fleet>"), &sim.fleet_toml(), &catalog)
            .expect("the simulated fleet file is valid");
        World { sim, fleet, catalog, epoch }
    }

    /// The demo fleet with everything a real estate holds besides its
    /// incidents ([`SimOptions::realistic`]), at `epoch`.
    pub fn realistic_options(epoch: i64) -> SimOptions {
        SimOptions { seed: SEED, tenants: 24, now: epoch, realistic: true, ..SimOptions::default() }
    }

    /// AWS access as a fresh fleetdeck process sets it up for this fleet.
    pub async fn aws(&self) -> AwsAccess {
        AwsAccess::new(&sim_settings(&self.sim.endpoint(), &self.fleet.region)).await
    }
}
