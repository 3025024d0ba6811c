//! The realistic broken fleet: one fleet file and one set of simulator
//! knobs holding, at once, every way a real fleet is found broken on
//! onboarding day and on an ordinary night (issue 17):
//!
//! | condition | tenant |
//! |---|---|
//! | a wrong ExternalId in the fleet file | tessier-ashpool |
//! | a customer role renamed (the fleet file's role_arn names no role) | buy-n-large |
//! | a role without `cloudwatch:DescribeAlarms` | blue-sun |
//! | a role without `logs:StartQuery` | octan |
//! | a LoadBalancer value that does not exist | massive-dynamic |
//! | a log group that does not exist | planet-express |
//! | a TenantId typo in a pooled tenant | bluth |
//! | a prefix matching 60 log groups | tyrell (`/tyrell/*`) |
//! | an idle standby region | globex (ap-southeast-2) |
//! | a composite alarm | globex (`globex-service-health`) |
//! | a platform alarm in the shared account naming no tenant | the shared account's tenants |
//! | an alarm that fires and clears between two syncs | tyrell (`tyrell-5xx-errors-critical`) |
//! | an SSO profile that is not logged in | [`SSO_CONFIG`], profile `sso-dev` |
//!
//! Built on [`fleetdeck_sim::SimOptions::realistic`]; the fleet file is
//! written to disk, so the CLI reads exactly what the engine tests read.

use std::path::PathBuf;

use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::fleet::Fleet;
use fleetdeck_sim::SimKnobs;

use crate::world::World;

pub const WRONG_EXTERNAL_ID: &str = "tessier-ashpool";
pub const RENAMED_ROLE: &str = "buy-n-large";
pub const NO_DESCRIBE_ALARMS: &str = "blue-sun";
pub const NO_START_QUERY: &str = "octan";
pub const NO_SUCH_LOAD_BALANCER: &str = "massive-dynamic";
pub const NO_SUCH_LOG_GROUP: &str = "planet-express";
pub const TENANT_ID_TYPO: &str = "bluth";
pub const SIXTY_LOG_GROUPS: &str = "tyrell";
pub const STANDBY: (&str, &str) = ("globex", "ap-southeast-2");
pub const COMPOSITE_ALARM: (&str, &str) = ("globex", "globex-service-health");
pub const PLATFORM_ALARM: &str = "platform-shared-db-cpu-critical";
pub const BLIP_ALARM: (&str, &str) = ("tyrell", "tyrell-5xx-errors-critical");

/// Every tenant the fleet file or the knobs break.
pub const BROKEN: [&str; 7] = [
    WRONG_EXTERNAL_ID,
    RENAMED_ROLE,
    NO_DESCRIBE_ALARMS,
    NO_START_QUERY,
    NO_SUCH_LOAD_BALANCER,
    NO_SUCH_LOG_GROUP,
    TENANT_ID_TYPO,
];

/// `~/.aws/config` with an SSO profile (`sso-dev`) that was never logged in.
pub const SSO_CONFIG: &str = "\
[profile sso-dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = ReadOnly
region = us-east-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access
";

/// The broken fleet, running.
pub struct BrokenFleet {
    pub world: World,
    /// Holds `fleet.toml` and `.aws/config` ([`SSO_CONFIG`]).
    pub dir: tempfile::TempDir,
}

impl BrokenFleet {
    /// The simulated fleet at `epoch` with every condition in place: the
    /// fleet file edited and written, the knobs set, the clock frozen.
    pub async fn start(epoch: i64) -> BrokenFleet {
        let opts = World::realistic_options(epoch);
        let mut world = World::start_options(opts, Catalog::builtin().expect("built-in catalog")).await;
        let mut file: toml::Value = toml::from_str(&world.sim.fleet_toml()).expect("the fleet file");
        let renamed = {
            let tenants = file["tenant"].as_array().expect("tenants");
            let t =
                tenants.iter().find(|t| t["id"].as_str() == Some(RENAMED_ROLE)).expect("the tenant is in the fleet");
            t["account"].as_str().expect("account").to_string()
        };
        for t in file["tenant"].as_array_mut().expect("tenants") {
            let id = t["id"].as_str().unwrap_or_default().to_string();
            let table = t.as_table_mut().expect("a tenant table");
            let selector = table.get_mut("selector").and_then(toml::Value::as_table_mut).expect("selector");
            match id.as_str() {
                WRONG_EXTERNAL_ID => {
                    table.insert("external_id".into(), "fleetdeck-tessier-ashpool-0000".into());
                }
                RENAMED_ROLE => {
                    table.insert("role_arn".into(), format!("arn:aws:iam::{renamed}:role/FleetdeckReader").into());
                }
                NO_SUCH_LOAD_BALANCER => {
                    let dims = selector["dimensions"].as_table_mut().expect("dimensions");
                    dims.insert("LoadBalancer".into(), "app/massive-dynamic-prod/0000000000000000".into());
                }
                NO_SUCH_LOG_GROUP => {
                    selector.insert("log_groups".into(), toml::Value::Array(vec!["/planet-express/api".into()]));
                }
                TENANT_ID_TYPO => {
                    let dims = selector["dimensions"].as_table_mut().expect("dimensions");
                    dims.insert("TenantId".into(), "blut".into());
                }
                _ => {}
            }
        }
        let dir = tempfile::tempdir().expect("a temporary directory");
        let text = toml::to_string(&file).expect("the fleet file as TOML");
        std::fs::write(dir.path().join("fleet.toml"), &text).expect("write the fleet file");
        std::fs::create_dir_all(dir.path().join(".aws")).expect("~/.aws");
        std::fs::write(dir.path().join(".aws/config"), SSO_CONFIG).expect("write ~/.aws/config");
        world.fleet = Fleet::load(&dir.path().join("fleet.toml"), &world.catalog).expect("the broken fleet parses");
        let broken = BrokenFleet { world, dir };
        broken.knobs(epoch);
        broken
    }

    /// The knobs of the broken fleet at `now`: the two roles missing an
    /// action, the clock there.
    pub fn knobs(&self, now: i64) {
        let account = |id: &str| self.world.fleet.tenant(id).expect("tenant").account.clone();
        self.world.sim.set_knobs(SimKnobs {
            clock: Some(now),
            deny_actions: vec![
                (account(NO_DESCRIBE_ALARMS), "cloudwatch:DescribeAlarms".into()),
                (account(NO_START_QUERY), "logs:StartQuery".into()),
            ],
            ..SimKnobs::default()
        });
    }

    pub fn fleet_file(&self) -> PathBuf {
        self.dir.path().join("fleet.toml")
    }

    /// The fleet-file line of a tenant's `[[tenant]]` entry.
    pub fn line(&self, id: &str) -> usize {
        self.world.fleet.tenant(id).expect("tenant").line
    }
}
