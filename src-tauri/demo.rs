//! The demo: the one place where the engine meets the simulated fleet.
//!
//! The engine knows nothing of the simulator; it opens a session on a
//! [`DemoLauncher`], and this one starts a [`SimFleet`] on a loopback port.

use fleetdeck_engine::session::{Demo, DemoLauncher, Session, SessionError, SessionOptions};
use fleetdeck_sim::{SimFleet, SimOptions};
use futures::future::BoxFuture;
use std::sync::Arc;

/// Starts the built-in simulated fleet.
pub struct SimLauncher;

struct Running(SimFleet);

impl Demo for Running {
    fn fleet_toml(&self) -> String {
        self.0.fleet_toml()
    }
    fn endpoint(&self) -> String {
        self.0.endpoint()
    }
    fn credentials(&self) -> (String, String) {
        (SimFleet::ACCESS_KEY_ID.into(), SimFleet::SECRET_ACCESS_KEY.into())
    }
}

impl DemoLauncher for SimLauncher {
    fn default_tenants(&self) -> usize {
        SimOptions::default().tenants
    }

    fn start(&self, epoch: i64, tenants: usize) -> BoxFuture<'_, std::io::Result<Box<dyn Demo>>> {
        Box::pin(async move {
            let sim = SimFleet::start(SimOptions { now: epoch, tenants, ..SimOptions::default() }).await?;
            Ok(Box::new(Running(sim)) as Box<dyn Demo>)
        })
    }
}

/// A session on the fleet file, or on the simulated fleet.
pub async fn open_session(opts: &SessionOptions) -> Result<Arc<Session>, SessionError> {
    Session::open_with_demo(opts, Some(&SimLauncher)).await
}

/// The simulated fleet for a command that needs AWS access but no cache
/// (`check`): started with its default options.
pub async fn start_default() -> std::io::Result<Box<dyn Demo>> {
    SimLauncher.start(fleetdeck_engine::clock::now(), SimLauncher.default_tenants()).await
}
