//! Who is in the simulated fleet and where their telemetry lives: tenants
//! generated from the seed, the CloudWatch metrics and log groups each one
//! owns, the injected incidents, and the fleet file that describes it all.
//!
//! The injected incidents, all placed relative to `SimOptions::now` and
//! deterministic from the seed and the time:
//!
//! | incident | where | what |
//! |---|---|---|
//! | 5xx spike | `globex`, us-east-1 | from 45 min before `now`, ~8 % of requests fail (at least 140 a minute), its alarm fires |
//! | latency regression | `initech`, eu-west-1 | p99 climbs from 0.3 s to ~3 s over the 2 hours before `now` |
//! | cost jump | `hooli` | compute spend (and pods) 3x from 3 days before `now` |
//! | broken deploy (peer departure) | the tenant of plan slot 9, its home region | from 3 hours before `now`, 3 % of its requests fail (at least 3 a minute) while its tier's peers stay steady |
//! | regional slowdown (fleet-wide shift) | every tenant in ap-southeast-2 | p99 latency 2.2x from 25 min before `now` for 40 minutes |
//! | 5xx blip (only with [`SimOptions::realistic`]) | `tyrell`, us-east-1 | from 100 to 88 min before `now`, 5xx as in the spike: its alarm fires and clears |
//!
//! The first 24 tenants follow a fixed plan (the documented mix of isolation
//! models, tiers and regions; the first five cover every model and the three
//! incident tenants), the seed picks their names, account ids and traffic
//! levels. Larger fleets repeat the plan. A [`SimShape`](super::SimShape) replaces the plan
//! for benchmarks: own-account and pooled tenants in given numbers, regions
//! per tenant, and synthetic filler metrics up to a metric count.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::series::{hash_str, mix, unit, MetricKind};
use super::SimOptions;

mod metrics;
mod toml_text;

pub use metrics::*;
pub(crate) use toml_text::*;

pub(crate) const PAYER_ACCOUNT: &str = "999999999999";
pub(crate) const CLUSTER_NAME: &str = "prod-eks";
pub(crate) const COST_TAG: &str = "tenant-id";
pub(crate) const ROLE_NAME: &str = "FleetdeckReadOnly";
/// The role fleetdeck assumes in the monitoring account.
pub(crate) const MONITORING_ROLE_NAME: &str = "FleetdeckMonitoring";
/// The name of the monitoring account's sink in every region.
pub(crate) const SINK_NAME: &str = "fleetdeck";
/// The OAM resource types of metrics and log groups ("Metrics - Specify
/// with AWS::CloudWatch::Metric", "Log groups - Specify with
/// AWS::Logs::LogGroup": PutSinkPolicy, OAM API Reference).
pub(crate) const OAM_METRIC: &str = "AWS::CloudWatch::Metric";
pub(crate) const OAM_LOG_GROUP: &str = "AWS::Logs::LogGroup";
/// Log groups of tyrell in the realistic fleet, all under `/tyrell/`.
pub(crate) const REALISTIC_LOG_GROUPS: usize = 60;
/// The base region of the fleet (STS, Cost Explorer).
pub(crate) const BASE_REGION: &str = "us-east-1";
pub(crate) const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];

/// p99 latency during the regional slowdown, relative to usual.
pub(crate) const REGION_SLOWDOWN: f64 = 2.2;

/// Service that carries hooli's cost jump.
pub(crate) const JUMP_SERVICE: &str = "Amazon Elastic Compute Cloud - Compute";

/// How a simulated tenant is isolated (the five models of the README's
/// "Isolation models"), which decides what the simulator serves for it and
/// how `fleet_toml` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Model {
    /// Account per tenant.
    Silo,
    /// Remote application plane: the customer's own account and role.
    Remote,
    /// VPC or subnet per tenant in a shared account, resources tagged.
    Shared,
    /// Namespace per tenant on EKS (Container Insights `Namespace`).
    Eks,
    /// Application-level tenancy: a `TenantId` dimension and log field.
    Pooled,
}

impl Model {
    pub const ALL: [Model; 5] = [Model::Silo, Model::Remote, Model::Shared, Model::Eks, Model::Pooled];

    /// The name the fleet file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Model::Silo => "silo",
            Model::Remote => "remote",
            Model::Shared => "shared",
            Model::Eks => "eks",
            Model::Pooled => "pooled",
        }
    }

    /// Does the tenant own the whole account?
    pub fn owns_account(self) -> bool {
        matches!(self, Model::Silo | Model::Remote)
    }
}

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    Enterprise,
    Premium,
    Standard,
    Free,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Enterprise => "enterprise",
            Tier::Premium => "premium",
            Tier::Standard => "standard",
            Tier::Free => "free",
        }
    }
}

/// One simulated tenant, as the fleet file describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimTenant {
    pub id: String,
    /// Display name; one tenant's name needs escaping everywhere.
    pub name: String,
    pub tier: Tier,
    pub model: Model,
    pub account: String,
    /// Silo and remote tenants only.
    pub external_id: Option<String>,
    /// Remote tenants: the customer-owned role (else `FleetdeckReadOnly`).
    pub role_arn: Option<String>,
    pub home_region: &'static str,
    pub extra_regions: Vec<&'static str>,
    /// Failover regions: set up (alarms, log groups) but idle, so their
    /// metrics have no datapoints, as a load balancer with no requests
    /// publishes none.
    pub standby_regions: Vec<&'static str>,
    pub residency: bool,
    /// The catalog dimensions of the tenant's metrics, sorted by name (its
    /// first load balancer's, for tenants with several).
    pub dimensions: Vec<(String, String)>,
    /// Its AWS resources, tagged with the cost allocation tag
    /// (`tenant-id = <id>`): load balancers, their target groups, a
    /// database. Empty for EKS and pooled tenants (a namespace or a
    /// `TenantId` is no AWS resource).
    pub resources: Vec<SimResource>,
    /// A staging account of its own (one silo tenant of the demo): its home
    /// region there runs a staging load balancer with 5 % of the traffic,
    /// the same log group, the same role and ExternalId.
    pub staging: Option<String>,
    pub log_groups: Vec<String>,
    /// What the fleet file names for them: the names, or a prefix (`/x/*`).
    pub log_selector: Vec<String>,
    pub log_tenant_field: Option<&'static str>,
    /// Hash identity of the tenant for every derived value.
    pub(crate) key: u64,
    /// Requests per minute at the daily peak in the home region.
    pub(crate) peak_rpm: f64,
    /// Share of requests that fail when healthy.
    pub(crate) error_rate: f64,
    /// Usual p99 latency (seconds) at average load.
    pub(crate) p99: f64,
    pub(crate) pods: u32,
    pub(crate) cpu_base: f64,
}

impl SimTenant {
    /// A remote tenant whose account was never invited into the provider's
    /// organization (the demo fleet's zorg): its spend is on
    /// the customer's own bill, not the payer's (Cost Explorer of the
    /// management account sees member accounts only: "Cost Explorer ...
    /// for your organization's member accounts", AWS Organizations
    /// consolidated billing), and ListAccounts does not list it.
    pub fn outside_organization(&self) -> bool {
        self.model == Model::Remote && self.id == "zorg"
    }

    /// Home region first, then the extra regions.
    pub fn regions(&self) -> Vec<&'static str> {
        std::iter::once(self.home_region)
            .chain(self.extra_regions.iter().copied())
            .chain(self.standby_regions.iter().copied())
            .collect()
    }

    /// Share of the tenant's traffic served in `region`; `None` when the
    /// tenant does not run there.
    pub(crate) fn region_factor(&self, region: &str) -> Option<f64> {
        if region == self.home_region {
            Some(1.0)
        } else if self.standby_regions.contains(&region) {
            Some(0.0)
        } else if self.extra_regions.contains(&region) {
            Some(0.35)
        } else {
            None
        }
    }

    /// The role name fleetdeck assumes in the tenant's account.
    pub(crate) fn role_name(&self) -> &str {
        self.role_arn.as_deref().and_then(|arn| arn.rsplit_once('/').map(|(_, name)| name)).unwrap_or(ROLE_NAME)
    }
}

/// One of a tenant's tagged AWS resources.
#[derive(Debug, Clone, PartialEq)]
pub struct SimResource {
    /// Its ARN without partition, region and account:
    /// `elasticloadbalancing`, `loadbalancer/app/shared-acme/0123...`.
    pub service: &'static str,
    pub resource: String,
    /// A load balancer's share of the tenant's traffic (its metrics carry
    /// that share; latency is the tenant's own on each); 0 for the rest.
    pub share: f64,
}

impl SimResource {
    /// Its ARN in one account-region.
    pub fn arn(&self, account: &str, region: &str) -> String {
        format!("arn:aws:{}:{region}:{account}:{}", self.service, self.resource)
    }

    /// The `LoadBalancer` dimension value of a load balancer.
    pub fn load_balancer(&self) -> Option<&str> {
        self.resource.strip_prefix("loadbalancer/").filter(|_| self.service == "elasticloadbalancing")
    }
}

/// A log group in one account-region and whose lines it holds.
#[derive(Debug)]
pub(crate) struct LogGroup {
    pub name: String,
    /// Indexes into `Fleet::tenants`.
    pub tenants: Vec<usize>,
    pub created: i64,
}

type MetricKey = (String, String, &'static str, &'static str, Vec<(String, String)>);

/// The tenant index, the metric, and the share of the tenant's traffic the
/// metric's resource carries.
type MetricEntry = (usize, &'static MetricDef, f64);

/// The generated fleet: immutable once the server starts.
#[derive(Debug)]
pub(crate) struct Fleet {
    pub options: SimOptions,
    pub tenants: Vec<SimTenant>,
    pub shared_account: String,
    pub eks_account: String,
    /// The pooled platform's accounts: one in the demo, more in a shaped
    /// fleet; tenants are spread over them round-robin.
    pub pooled_accounts: Vec<String>,
    /// Accounts of the organisation outside the fleet (no tenants, no
    /// fleetdeck role): (id, Organizations account name).
    pub other_accounts: Vec<(String, &'static str)>,
    /// The CloudWatch cross-account observability monitoring account
    /// ([`SimOptions::monitoring`]).
    pub monitoring_account: Option<String>,
    error_spike: Option<(usize, &'static str, i64)>,
    latency_ramp: Option<(usize, &'static str, i64, i64)>,
    cost_jump: Option<(usize, i64)>,
    peer_departure: Option<(usize, &'static str, i64)>,
    region_shift: Option<(&'static str, i64, i64)>,
    error_blip: Option<(usize, &'static str, i64, i64)>,
    /// The noisy tenant, its region, and the start.
    noisy_neighbour: Option<(usize, &'static str, i64)>,
    metrics: HashMap<MetricKey, MetricEntry>,
    /// (account, region) -> log groups sorted by name.
    log_groups: HashMap<(String, String), Vec<LogGroup>>,
    /// account -> its tenants' indices, in fleet order: every call looks
    /// its caller's tenants up (scanning all 2,000 of F2000 for each of
    /// thousands of calls, and for each of 1,500 links of the monitoring
    /// account's, made the simulator a third of the re-sync's CPU).
    by_account: HashMap<String, Vec<usize>>,
}

#[derive(Clone, Copy)]
struct Slot {
    model: Model,
    tier: Tier,
    home: &'static str,
    extra: &'static [&'static str],
    residency: bool,
    fixed: Option<(&'static str, &'static str)>,
    /// Which of the pooled accounts a pooled tenant lives in.
    pool: usize,
}

const fn slot(
    model: Model,
    tier: Tier,
    home: &'static str,
    extra: &'static [&'static str],
    residency: bool,
    fixed: Option<(&'static str, &'static str)>,
) -> Slot {
    Slot { model, tier, home, extra, residency, fixed, pool: 0 }
}

const US: &str = "us-east-1";
const EU: &str = "eu-west-1";
const AP: &str = "ap-southeast-2";

/// The plan of the first 24 tenants: 7 silo, 3 remote, 5 shared, 5 eks,
/// 4 pooled; the first five cover every model and the incident tenants.
const PLAN: [Slot; 24] = {
    use Model::*;
    use Tier::*;
    [
        slot(Silo, Enterprise, US, &[EU], false, Some(("globex", "Globex"))),
        slot(Shared, Premium, EU, &[], true, Some(("initech", "Initech"))),
        slot(Eks, Premium, US, &[], false, Some(("hooli", "Hooli"))),
        slot(Remote, Enterprise, US, &[EU], false, None),
        slot(Pooled, Free, US, &[], false, None),
        slot(Silo, Standard, US, &[], false, Some(("tyrell", "Tyrell <Replicants> & \"Sons\""))),
        slot(Silo, Premium, EU, &[], true, None),
        slot(Silo, Enterprise, AP, &[US], false, None),
        slot(Silo, Standard, AP, &[], false, None),
        slot(Silo, Premium, EU, &[US], false, None),
        slot(Silo, Enterprise, US, &[AP], false, None),
        slot(Remote, Premium, EU, &[], true, None),
        slot(Remote, Enterprise, AP, &[], false, None),
        slot(Shared, Standard, US, &[], false, None),
        slot(Shared, Standard, EU, &[], false, None),
        slot(Shared, Premium, US, &[EU], false, None),
        slot(Shared, Free, US, &[], false, None),
        slot(Eks, Standard, US, &[], false, None),
        slot(Eks, Enterprise, EU, &[], true, None),
        slot(Eks, Standard, AP, &[], false, None),
        slot(Eks, Free, US, &[], false, None),
        slot(Pooled, Free, EU, &[], true, None),
        slot(Pooled, Standard, US, &[], false, None),
        slot(Pooled, Free, AP, &[], false, None),
    ]
};

/// For a home region (by index in REGIONS), the regions a tenant expands
/// to, in order.
static EXPANSION: [[&str; 2]; 3] = [[EU, AP], [AP, US], [US, EU]];

/// The slots of the tenants to generate.
fn plan(opts: &SimOptions) -> Vec<Slot> {
    let Some(shape) = &opts.shape else {
        return (0..opts.tenants)
            .map(|i| {
                let slot = PLAN[i % PLAN.len()];
                // Fixed names belong to the first round only.
                Slot { fixed: slot.fixed.filter(|_| i < PLAN.len()), ..slot }
            })
            .collect();
    };
    use Model::*;
    use Tier::*;
    let extra_regions = shape.regions.clamp(1, REGIONS.len()) - 1;
    let region = |i: usize| (REGIONS[i % REGIONS.len()], &EXPANSION[i % REGIONS.len()][..extra_regions]);
    let mut out = Vec::with_capacity(shape.tenants());
    for i in 0..shape.own_account {
        let (home, extra) = region(i);
        const TIERS: [Tier; 5] = [Enterprise, Premium, Standard, Premium, Standard];
        out.push(Slot {
            model: if i % 5 == 3 { Remote } else { Silo },
            tier: TIERS[i % TIERS.len()],
            home,
            extra,
            residency: home == EU && i % 2 == 0,
            fixed: (i == 0).then_some(("globex", "Globex")),
            pool: 0,
        });
    }
    for j in 0..shape.pooled {
        let (home, extra) = region(j);
        const TIERS: [Tier; 3] = [Standard, Free, Free];
        out.push(Slot {
            model: Pooled,
            tier: TIERS[j % TIERS.len()],
            home,
            extra,
            residency: false,
            fixed: None,
            pool: j % shape.pooled_accounts.max(1),
        });
    }
    out
}

/// Names for the tenants the plan does not fix; the seed shuffles them.
const NAMES: [(&str, &str); 40] = [
    ("acme", "Acme Corp"),
    ("umbrella", "Umbrella"),
    ("stark", "Stark Industries"),
    ("wayne", "Wayne Enterprises"),
    ("wonka", "Wonka Industries"),
    ("soylent", "Soylent"),
    ("cyberdyne", "Cyberdyne Systems"),
    ("oscorp", "Oscorp"),
    ("massive-dynamic", "Massive Dynamic"),
    ("vandelay", "Vandelay Industries"),
    ("pied-piper", "Pied Piper"),
    ("dunder-mifflin", "Dunder Mifflin"),
    ("aperture", "Aperture Science"),
    ("black-mesa", "Black Mesa"),
    ("nakatomi", "Nakatomi Trading"),
    ("bluth", "Bluth Company"),
    ("sterling-cooper", "Sterling Cooper"),
    ("weyland-yutani", "Weyland-Yutani"),
    ("virtucon", "Virtucon"),
    ("planet-express", "Planet Express"),
    ("buy-n-large", "Buy n Large"),
    ("monarch", "Monarch Solutions"),
    ("prestige", "Prestige Worldwide"),
    ("pollos", "Los Pollos Hermanos"),
    ("krusty-krab", "Krusty Krab"),
    ("gringotts", "Gringotts"),
    ("ollivanders", "Ollivanders"),
    ("duff", "Duff Brewing"),
    ("zorg", "Zorg Industries"),
    ("blue-sun", "Blue Sun"),
    ("tessier-ashpool", "Tessier-Ashpool"),
    ("rekall", "Rekall"),
    ("ocp", "Omni Consumer Products"),
    ("spacely", "Spacely Sprockets"),
    ("cogswell", "Cogswell Cogs"),
    ("sirius", "Sirius Cybernetics"),
    ("kramerica", "Kramerica Industries"),
    ("wernham-hogg", "Wernham Hogg"),
    ("octan", "Octan"),
    ("initrode", "Initrode"),
];

impl Fleet {
    pub(crate) fn generate(opts: &SimOptions) -> Fleet {
        let seed = opts.seed;
        let mut taken: HashSet<String> = HashSet::from([PAYER_ACCOUNT.to_string()]);
        let shared_account = account_id(seed, "shared-vpc", &mut taken);
        let eks_account = account_id(seed, "eks-cluster", &mut taken);
        let pools = opts.shape.as_ref().map_or(1, |s| s.pooled_accounts.max(1));
        let pooled_accounts: Vec<String> = (0..pools)
            .map(|k| {
                let label = if k == 0 { "pooled-platform".to_string() } else { format!("pooled-platform-{}", k + 1) };
                account_id(seed, &label, &mut taken)
            })
            .collect();

        // Seeded Fisher-Yates over the name pool.
        let mut names: Vec<(&str, &str)> = NAMES.to_vec();
        for i in (1..names.len()).rev() {
            let j = (mix(&[seed, 0x6e61_6d65, i as u64]) % (i as u64 + 1)) as usize;
            names.swap(i, j);
        }
        let mut next_name = 0usize;

        let slots = plan(opts);
        let mut tenants = Vec::with_capacity(slots.len());
        for slot in &slots {
            let (id, name) = match slot.fixed {
                Some((id, name)) => (id.to_string(), name.to_string()),
                None => {
                    let (id, name) = names[next_name % names.len()];
                    let round = next_name / names.len();
                    next_name += 1;
                    if round == 0 {
                        (id.to_string(), name.to_string())
                    } else {
                        (format!("{id}-{}", round + 1), format!("{name} {}", round + 1))
                    }
                }
            };
            tenants.push(make_tenant(
                seed,
                slot,
                id,
                name,
                &mut taken,
                [&shared_account, &eks_account, &pooled_accounts[slot.pool.min(pools - 1)]],
            ));
        }

        // The second shared tenant runs two load balancers (60/40) and a
        // database, all tagged with its id: found by its tag, not by a
        // hand-typed dimension value.
        if let Some(t) = tenants.iter_mut().filter(|t| t.model == Model::Shared).nth(1) {
            let hash = format!("{:016x}", mix(&[t.key, 0x6c63]));
            let second = SimResource {
                service: "elasticloadbalancing",
                resource: format!("loadbalancer/app/shared-{}-api/{hash}", t.id),
                share: 0.4,
            };
            t.resources[0].share = 0.6;
            t.resources.push(second);
            t.resources.push(SimResource {
                service: "elasticloadbalancing",
                resource: format!("targetgroup/{}-api/{}", t.id, &hash[..12]),
                share: 0.0,
            });
            t.resources.push(SimResource { service: "rds", resource: format!("db:{}-orders", t.id), share: 0.0 });
        }

        // A service per log group: tyrell's 60 match its one prefix, more
        // than one Logs Insights query may name (50).
        if opts.realistic {
            // globex keeps a failover region warm and idle.
            if let Some(t) = tenants.iter_mut().find(|t| t.id == "globex") {
                t.standby_regions = vec![AP];
            }
            if let Some(t) = tenants.iter_mut().find(|t| t.id == "tyrell") {
                t.log_groups = (0..REALISTIC_LOG_GROUPS).map(|i| format!("/tyrell/svc-{i:02}")).collect();
                t.log_selector = vec!["/tyrell/*".to_string()];
            }
        }

        // Drawn after the tenants' so adding them moved no tenant account.
        let other_accounts = ["security-audit", "sandbox"]
            .into_iter()
            .map(|label| (account_id(seed, label, &mut taken), label))
            .collect();

        // The seventh silo tenant of the plan keeps a staging account
        // (drawn last, so no other account moved); benchmark shapes do not.
        if let Some(t) = tenants.iter_mut().filter(|t| t.model == Model::Silo && opts.shape.is_none()).nth(6) {
            t.staging = Some(account_id(seed, &format!("{}-staging", t.id), &mut taken));
        }
        // Drawn after every other account, so a fleet with a monitoring
        // account has the same accounts as one without.
        let monitoring_account = opts.monitoring.then(|| account_id(seed, "monitoring", &mut taken));

        let find = |id: &str| tenants.iter().position(|t| t.id == id);
        let minute_now = opts.now - opts.now.rem_euclid(60);
        let error_spike = find("globex").map(|i| (i, US, minute_now - 45 * 60));
        let latency_ramp = find("initech").map(|i| (i, EU, minute_now - 2 * 3600, minute_now));
        let cost_jump = find("hooli").map(|i| (i, opts.now.div_euclid(86_400) - 3));
        // A broken deploy at the tenant of plan slot 9 (a premium silo tenant
        // of eu-west-1 in the demo; its name is drawn from the seed) three
        // hours ago: its errors depart from its tier's peers, which stay
        // steady.
        let peer_departure = tenants.get(9).map(|t| (9, t.home_region, minute_now - 3 * 3600));
        // A regional slowdown in ap-southeast-2 from 25 minutes before `now`
        // for 40 minutes: every tenant's p99 there moves together.
        let region_shift = Some((AP, minute_now - 25 * 60, minute_now + 15 * 60));
        let error_blip =
            find("tyrell").filter(|_| opts.realistic).map(|i| (i, US, minute_now - 100 * 60, minute_now - 88 * 60));
        let noisy_neighbour = tenants
            .iter()
            .position(|t| t.model == Model::Pooled && t.home_region == US)
            .filter(|_| opts.noisy_neighbour)
            .map(|i| (i, US, minute_now - 40 * 60));
        if let Some((i, _, _, _)) = latency_ramp {
            // The regression starts from a normal ~0.3 s.
            tenants[i].p99 = 0.3;
        }

        let mut metrics = HashMap::new();
        let mut log_groups: HashMap<(String, String), Vec<LogGroup>> = HashMap::new();
        let wanted = opts.shape.as_ref().map_or(0, |s| s.metrics);
        for (i, t) in tenants.iter().enumerate() {
            let synthetic = &SYNTHETIC[..synthetic_count(t.model, wanted)];
            // Each load balancer publishes its share of the traffic under
            // its own dimension; other models publish under the tenant's.
            let mut published: Vec<(Vec<(String, String)>, f64)> = t
                .resources
                .iter()
                .filter_map(|r| Some((vec![("LoadBalancer".to_string(), r.load_balancer()?.to_string())], r.share)))
                .collect();
            if published.is_empty() {
                published.push((t.dimensions.clone(), 1.0));
            }
            let databases: Vec<Vec<(String, String)>> = t
                .resources
                .iter()
                .filter_map(|r| {
                    Some(vec![("DBInstanceIdentifier".to_string(), r.resource.strip_prefix("db:")?.to_string())])
                })
                .collect();
            for region in t.regions() {
                for dims in &databases {
                    let key = (t.account.clone(), region.to_string(), RDS[0].namespace, RDS[0].name, dims.clone());
                    metrics.insert(key, (i, &RDS[0], 1.0));
                }
            }
            if let Some(staging) = &t.staging {
                let lb = format!("app/{}-staging/{:016x}", t.id, mix(&[t.key, 0x5747]));
                for def in metric_defs(t.model) {
                    let dims = vec![("LoadBalancer".to_string(), lb.clone())];
                    metrics.insert(
                        (staging.clone(), t.home_region.to_string(), def.namespace, def.name, dims),
                        (i, def, 0.05),
                    );
                }
                let groups = log_groups.entry((staging.clone(), t.home_region.to_string())).or_default();
                for name in &t.log_groups {
                    groups.push(LogGroup { name: name.clone(), tenants: vec![i], created: opts.now - 200 * 86_400 });
                }
            }
            for region in t.regions() {
                for def in metric_defs(t.model).iter().chain(synthetic) {
                    for (dims, share) in &published {
                        let key = (t.account.clone(), region.to_string(), def.namespace, def.name, dims.clone());
                        metrics.insert(key, (i, def, *share));
                    }
                }
                let groups = log_groups.entry((t.account.clone(), region.to_string())).or_default();
                for name in &t.log_groups {
                    match groups.iter_mut().find(|g| &g.name == name) {
                        Some(g) => g.tenants.push(i),
                        None => groups.push(LogGroup {
                            name: name.clone(),
                            tenants: vec![i],
                            // Created about a year before the demo starts.
                            created: opts.now - 300 * 86_400 - (mix(&[seed, hash_str(name)]) % 90 * 86_400) as i64,
                        }),
                    }
                }
            }
        }
        for groups in log_groups.values_mut() {
            groups.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let mut by_account: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, t) in tenants.iter().enumerate() {
            by_account.entry(t.account.clone()).or_default().push(i);
        }

        Fleet {
            options: opts.clone(),
            tenants,
            shared_account,
            eks_account,
            pooled_accounts,
            other_accounts,
            monitoring_account,
            error_spike,
            latency_ramp,
            cost_jump,
            peer_departure,
            region_shift,
            error_blip,
            noisy_neighbour,
            metrics,
            log_groups,
            by_account,
        }
    }

    /// The tenant and metric behind a CloudWatch metric identity, matched as
    /// CloudWatch does: exact namespace, name and dimension set.
    pub(crate) fn find_metric(
        &self,
        account: &str,
        region: &str,
        namespace: &str,
        name: &str,
        dimensions: &[(String, String)],
    ) -> Option<(&SimTenant, &'static MetricDef, f64)> {
        // Borrowing lookups on a tuple key need an owned key; resolve the
        // static namespace/name first so unknown ones cost nothing.
        let def = [&ALB[..], &EKS[..], &POOLED[..], &RDS[..], &SYNTHETIC[..]]
            .iter()
            .flat_map(|defs| defs.iter())
            .find(|d| d.namespace == namespace && d.name == name)?;
        let mut dims = dimensions.to_vec();
        dims.sort();
        let key = (account.to_string(), region.to_string(), def.namespace, def.name, dims);
        self.metrics.get(&key).map(|(i, d, share)| (&self.tenants[*i], *d, *share))
    }

    /// The shared-VPC and pooled accounts, where the platform's own
    /// resources live beside the tenants'.
    pub(crate) fn is_platform_account(&self, account: &str) -> bool {
        account == self.shared_account || self.pooled_accounts.iter().any(|a| a == account)
    }

    /// Log groups of one account-region, sorted by name.
    pub(crate) fn log_groups(&self, account: &str, region: &str) -> &[LogGroup] {
        self.log_groups.get(&(account.to_string(), region.to_string())).map_or(&[], |g| g.as_slice())
    }

    /// Tenants with resources in (account, region), fleet order.
    pub(crate) fn tenants_in<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
    ) -> impl Iterator<Item = &'a SimTenant> + 'a {
        let of = self.by_account.get(account).map_or(&[][..], Vec::as_slice);
        of.iter().map(|&i| &self.tenants[i]).filter(move |t| t.region_factor(region).is_some())
    }

    /// Start of the 5xx spike, when `tenant` has one in `region`.
    pub(crate) fn error_spike_start(&self, tenant: &SimTenant, region: &str) -> Option<i64> {
        self.error_spike
            .filter(|(i, r, _)| self.tenants[*i].key == tenant.key && *r == region)
            .map(|(_, _, start)| start)
    }

    /// (start, end) of the 5xx blip, when `tenant` has one in `region`.
    pub(crate) fn error_blip(&self, tenant: &SimTenant, region: &str) -> Option<(i64, i64)> {
        self.error_blip
            .filter(|(i, r, _, _)| self.tenants[*i].key == tenant.key && *r == region)
            .map(|(_, _, start, end)| (start, end))
    }

    /// The (start, end) minutes of every injected incident touching
    /// `tenant` in `region` (end `i64::MAX` while it lasts): the only
    /// times a healthy simulated series can cross an alarm threshold.
    pub(crate) fn incident_spans(&self, tenant: &SimTenant, region: &str) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        out.extend(self.error_spike_start(tenant, region).map(|s| (s, i64::MAX)));
        out.extend(self.latency_ramp(tenant, region).map(|(s, _)| (s, i64::MAX)));
        out.extend(self.peer_departure_start(tenant, region).map(|s| (s, i64::MAX)));
        out.extend(self.error_blip(tenant, region));
        out.extend(self.region_shift.filter(|(r, _, _)| *r == region).map(|(_, s, e)| (s, e)));
        out.extend(self.cost_jump_day(tenant).map(|d| (d * 86_400, i64::MAX)));
        out.extend(
            self.noisy_neighbour
                .filter(|_| self.neighbour_effect(tenant, region, i64::MAX) != (1.0, 1.0))
                .map(|(_, _, start)| (start, i64::MAX)),
        );
        out
    }

    /// How much the noisy neighbour multiplies `tenant`'s requests in
    /// `region` during `minute` (4 for the noisy tenant), and its p99
    /// latency (2.5 for the other tenants of its pool there); 1 otherwise.
    pub(crate) fn neighbour_effect(&self, tenant: &SimTenant, region: &str, minute: i64) -> (f64, f64) {
        match self.noisy_neighbour {
            Some((i, r, start)) if r == region && minute >= start => {
                let noisy = &self.tenants[i];
                if noisy.key == tenant.key {
                    (4.0, 1.0)
                } else if tenant.account == noisy.account && !tenant.model.owns_account() {
                    (1.0, 2.5)
                } else {
                    (1.0, 1.0)
                }
            }
            _ => (1.0, 1.0),
        }
    }

    /// (start, end) of the latency regression, when `tenant` has one there.
    pub(crate) fn latency_ramp(&self, tenant: &SimTenant, region: &str) -> Option<(i64, i64)> {
        self.latency_ramp
            .filter(|(i, r, _, _)| self.tenants[*i].key == tenant.key && *r == region)
            .map(|(_, _, start, end)| (start, end))
    }

    /// Start of the broken deploy, when `tenant` has it in `region`.
    pub(crate) fn peer_departure_start(&self, tenant: &SimTenant, region: &str) -> Option<i64> {
        self.peer_departure
            .filter(|(i, r, _)| self.tenants[*i].key == tenant.key && *r == region)
            .map(|(_, _, start)| start)
    }

    /// The tenant, region and start of the broken deploy.
    pub(crate) fn peer_departure(&self) -> Option<(&SimTenant, &'static str, i64)> {
        self.peer_departure.map(|(i, r, start)| (&self.tenants[i], r, start))
    }

    /// The tenant whose pods tripled, and when (epoch s, a midnight).
    pub(crate) fn cost_jump(&self) -> Option<(&SimTenant, i64)> {
        self.cost_jump.map(|(i, day)| (&self.tenants[i], day * 86_400))
    }

    /// (region, start, end) of the regional slowdown.
    pub(crate) fn region_shift(&self) -> Option<(&'static str, i64, i64)> {
        self.region_shift
    }

    /// How much the regional slowdown multiplies p99 latency in `region`
    /// during `minute`: 1 outside it.
    pub(crate) fn region_slowdown(&self, region: &str, minute: i64) -> f64 {
        match self.region_shift {
            Some((r, start, end)) if r == region && (start..end).contains(&minute) => REGION_SLOWDOWN,
            _ => 1.0,
        }
    }

    /// First day (days since the epoch) of the cost jump of `tenant`.
    pub(crate) fn cost_jump_day(&self, tenant: &SimTenant) -> Option<i64> {
        self.cost_jump.filter(|(i, _)| self.tenants[*i].key == tenant.key).map(|(_, day)| day)
    }

    /// The cost jump is real usage: the tenant scaled its pods 3x that day.
    pub(crate) fn pod_multiplier(&self, tenant: &SimTenant, t: i64) -> f64 {
        match self.cost_jump_day(tenant) {
            Some(day) if t >= day * 86_400 => 3.0,
            _ => 1.0,
        }
    }

    /// The tenant that owns `account` outright (silo, remote).
    pub(crate) fn account_owner(&self, account: &str) -> Option<&SimTenant> {
        self.tenants
            .iter()
            .find(|t| t.model.owns_account() && (t.account == account || t.staging.as_deref() == Some(account)))
    }

    /// Every account of the fleet, payer first: where fleetdeck's role
    /// exists. The organisation has [`Fleet::other_accounts`] besides.
    pub(crate) fn accounts(&self) -> Vec<&str> {
        let mut out = vec![PAYER_ACCOUNT, &self.shared_account, &self.eks_account];
        out.extend(self.pooled_accounts.iter().map(String::as_str));
        out.extend(self.tenants.iter().filter(|t| t.model.owns_account()).map(|t| t.account.as_str()));
        out.extend(self.tenants.iter().filter_map(|t| t.staging.as_deref()));
        out.extend(self.monitoring_account.as_deref());
        out
    }

    /// Is `account` the monitoring account?
    pub(crate) fn is_monitoring(&self, account: &str) -> bool {
        self.monitoring_account.as_deref() == Some(account)
    }

    /// The accounts linked to the monitoring account's sink in `region`
    /// before any knob: every account holding tenant data there (a
    /// tenant's own account, the shared, EKS and pooled accounts), in
    /// [`Fleet::accounts`] order; never the payer nor a staging account.
    /// Empty without a monitoring account.
    pub(crate) fn oam_sources(&self, region: &str) -> Vec<&str> {
        if self.monitoring_account.is_none() {
            return Vec::new();
        }
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<&str> = Vec::new();
        for account in self.accounts() {
            if self.tenants_in(account, region).next().is_some() && seen.insert(account) {
                out.push(account);
            }
        }
        out
    }

    /// The sink's id in `region`: UUID-shaped, as AWS generates them, and
    /// stable for the seed.
    pub(crate) fn sink_id(&self, region: &str) -> String {
        uuid_like(mix(&[self.options.seed, hash_str(region), 0x5119]))
    }

    /// The id of `source`'s link in `region`.
    pub(crate) fn link_id(&self, source: &str, region: &str) -> String {
        uuid_like(mix(&[self.options.seed, hash_str(source), hash_str(region), 0x1119]))
    }

    /// How Cost Explorer describes a linked account (its account name).
    pub(crate) fn account_name(&self, account: &str) -> String {
        if account == PAYER_ACCOUNT {
            "Management (payer)".to_string()
        } else if account == self.shared_account {
            "Shared VPC tenancy".to_string()
        } else if account == self.eks_account {
            format!("EKS cluster {CLUSTER_NAME}")
        } else if let Some(k) = self.pooled_accounts.iter().position(|a| a == account) {
            if k == 0 {
                "Pooled SaaS platform".to_string()
            } else {
                format!("Pooled SaaS platform {}", k + 1)
            }
        } else if let Some(t) = self.account_owner(account) {
            let env = if t.staging.as_deref() == Some(account) { "staging" } else { "prod" };
            format!("{} ({env})", t.name)
        } else if let Some((_, label)) = self.other_accounts.iter().find(|(id, _)| id == account) {
            label.to_string()
        } else if self.is_monitoring(account) {
            "Monitoring (cross-account observability)".to_string()
        } else {
            account.to_string()
        }
    }

    /// Catalog entries for the filler metrics, one per (metric, dimension
    /// set) in use; empty for the demo fleet.
    pub(crate) fn synthetic_catalog_toml(&self) -> String {
        let wanted = self.options.shape.as_ref().map_or(0, |s| s.metrics);
        let mut out = String::new();
        // Tenants of models that share a dimension set share an entry.
        let groups: [(&[Model], &[&str]); 3] = [
            (&[Model::Silo, Model::Remote, Model::Shared], &["LoadBalancer"]),
            (&[Model::Eks], &["ClusterName", "Namespace"]),
            (&[Model::Pooled], &["TenantId"]),
        ];
        for (models, dimensions) in groups {
            let present: Vec<Model> =
                models.iter().copied().filter(|m| self.tenants.iter().any(|t| t.model == *m)).collect();
            let Some(first) = present.first() else { continue };
            for def in &SYNTHETIC[..synthetic_count(*first, wanted)] {
                out.push_str("\n[[metric]]\n");
                let _ = writeln!(
                    out,
                    "key = {}",
                    toml_str(&def.name.to_ascii_lowercase().replace("synthetic", "synthetic_"))
                );
                let _ = writeln!(out, "label = {}", toml_str(def.name));
                out.push_str("unit = \"count\"\n");
                let _ = writeln!(out, "models = {}", toml_array(present.iter().map(|m| m.as_str())));
                let _ = writeln!(out, "namespace = {}", toml_str(def.namespace));
                let _ = writeln!(out, "name = {}", toml_str(def.name));
                let _ = writeln!(out, "dimensions = {}", toml_array(dimensions.iter().copied()));
                out.push_str("stat = \"Average\"\nperiod = 60\n");
            }
        }
        out
    }

    /// The fleet file describing this fleet, pointing at `endpoint`.
    pub(crate) fn to_toml(&self, endpoint: &str) -> String {
        self.toml_text(endpoint, false)
    }

    /// The fleet file read through the monitoring account (see
    /// `SimFleet::monitoring_fleet_toml`); `to_toml` without one.
    pub(crate) fn to_monitoring_toml(&self, endpoint: &str) -> String {
        self.toml_text(endpoint, self.monitoring_account.is_some())
    }

    fn toml_text(&self, endpoint: &str, via_monitoring: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# The simulated fleet (DEMO): generated by fleetdeck from seed {}.", self.options.seed);
        let _ = writeln!(out, "# Every account, metric, log line and cost here is simulated.");
        out.push_str("\n[fleet]\n");
        let _ = writeln!(out, "name = {}", toml_str("Simulated fleet (DEMO)"));
        let _ = writeln!(out, "region = {}", toml_str(BASE_REGION));
        let _ = writeln!(out, "payer_account = {}", toml_str(PAYER_ACCOUNT));
        let _ = writeln!(out, "cost_tag = {}", toml_str(COST_TAG));
        let _ = writeln!(out, "role_name = {}", toml_str(ROLE_NAME));
        let _ = writeln!(out, "endpoint_url = {}", toml_str(endpoint));
        // The shared accounts' platform spend (no tenant's tag) is shared
        // out to the tenants living on it by the requests they served.
        out.push_str("\n[apportion]\nmetric = \"requests\"\n");
        if let Some(account) = self.monitoring_account.as_deref().filter(|_| via_monitoring) {
            out.push_str("\n[monitoring]\n");
            let _ = writeln!(out, "account = {}", toml_str(account));
            let _ = writeln!(out, "role_name = {}", toml_str(MONITORING_ROLE_NAME));
            let _ = writeln!(out, "regions = {}", toml_array(REGIONS.iter().copied()));
        }
        for t in &self.tenants {
            out.push_str("\n[[tenant]]\n");
            let _ = writeln!(out, "id = {}", toml_str(&t.id));
            let _ = writeln!(out, "name = {}", toml_str(&t.name));
            let _ = writeln!(out, "tier = {}", toml_str(t.tier.as_str()));
            let _ = writeln!(out, "model = {}", toml_str(t.model.as_str()));
            let _ = writeln!(out, "account = {}", toml_str(&t.account));
            // Through the monitoring account: every tenant whose account
            // is linked to its sinks but the remote ones (customer
            // accounts read with their own role). Shared-model tenants
            // keep their role: their tags (the Tagging API) and the
            // alarms of their account are not shared through the links.
            if via_monitoring && t.model != Model::Remote {
                out.push_str("via = \"monitoring\"\n");
                if t.model == Model::Shared {
                    let _ = writeln!(out, "role_name = {}", toml_str(ROLE_NAME));
                }
            }
            if let Some(arn) = &t.role_arn {
                let _ = writeln!(out, "role_arn = {}", toml_str(arn));
            }
            if let Some(ext) = &t.external_id {
                let _ = writeln!(out, "external_id = {}", toml_str(ext));
            }
            let _ = writeln!(out, "home_region = {}", toml_str(t.home_region));
            if !t.standby_regions.is_empty() {
                let _ = writeln!(out, "standby_regions = {}", toml_array(t.standby_regions.iter().copied()));
            }
            if !t.extra_regions.is_empty() {
                let _ = writeln!(out, "extra_regions = {}", toml_array(t.extra_regions.iter().copied()));
            }
            if t.residency {
                out.push_str("residency = true\n");
            }
            // Shared-account tenants are found by their tag (fleetdeck
            // reads the account's tagged resources); the rest name theirs.
            if t.model != Model::Shared {
                let dims: Vec<String> =
                    t.dimensions.iter().map(|(k, v)| format!("{} = {}", toml_key(k), toml_str(v))).collect();
                let _ = writeln!(out, "selector.dimensions = {{ {} }}", dims.join(", "));
            }
            let _ = writeln!(out, "selector.log_groups = {}", toml_array(t.log_selector.iter().map(String::as_str)));
            if let Some(field) = t.log_tenant_field {
                let _ = writeln!(out, "selector.log_tenant_field = {}", toml_str(field));
            }
            if let Some(staging) = &t.staging {
                out.push_str("\n[[tenant.environment]]\nname = \"staging\"\n");
                let _ = writeln!(out, "account = {}", toml_str(staging));
                let lb = format!("app/{}-staging/{:016x}", t.id, mix(&[t.key, 0x5747]));
                let _ = writeln!(out, "selector.dimensions = {{ LoadBalancer = {} }}", toml_str(&lb));
            }
        }
        out
    }
}

fn make_tenant(
    seed: u64,
    slot: &Slot,
    id: String,
    name: String,
    taken: &mut HashSet<String>,
    [shared, eks, pooled]: [&String; 3],
) -> SimTenant {
    let key = mix(&[seed, hash_str(&id)]);
    let u = |salt: u64| unit(mix(&[key, salt]));
    let account = match slot.model {
        Model::Silo | Model::Remote => account_id(seed, &id, taken),
        Model::Shared => shared.clone(),
        Model::Eks => eks.clone(),
        Model::Pooled => pooled.clone(),
    };
    let lb_hash = format!("{:016x}", mix(&[key, 0x6c62]));
    let dimensions = match slot.model {
        Model::Silo | Model::Remote => vec![("LoadBalancer".to_string(), format!("app/{id}-prod/{lb_hash}"))],
        Model::Shared => vec![("LoadBalancer".to_string(), format!("app/shared-{id}/{lb_hash}"))],
        Model::Eks => {
            vec![("ClusterName".to_string(), CLUSTER_NAME.to_string()), ("Namespace".to_string(), id.clone())]
        }
        Model::Pooled => vec![("TenantId".to_string(), id.clone())],
    };
    // Load balancers and their target groups carry the tenant's tag.
    let resources = match &dimensions[..] {
        [(name, lb)] if name == "LoadBalancer" => vec![
            SimResource { service: "elasticloadbalancing", resource: format!("loadbalancer/{lb}"), share: 1.0 },
            SimResource {
                service: "elasticloadbalancing",
                resource: format!("targetgroup/{id}-web/{}", &lb_hash[..12]),
                share: 0.0,
            },
        ],
        _ => Vec::new(),
    };
    let (log_groups, log_tenant_field) = match slot.model {
        Model::Silo | Model::Remote => (vec![format!("/{id}/app")], None),
        Model::Shared => (vec![format!("/shared/{id}")], None),
        Model::Eks => {
            (vec![format!("/aws/containerinsights/{CLUSTER_NAME}/application")], Some("kubernetes.namespace_name"))
        }
        Model::Pooled => (vec!["/saas/app".to_string()], Some("tenant_id")),
    };
    let external_id = slot.model.owns_account().then(|| format!("fleetdeck-{id}-{:04x}", mix(&[key, 0x6578]) & 0xffff));
    let role_arn = (slot.model == Model::Remote).then(|| {
        let camel: String = id
            .split('-')
            .map(|part| {
                let mut c = part.chars();
                c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
            })
            .collect();
        format!("arn:aws:iam::{account}:role/{camel}VendorReadOnly")
    });
    let (peak_rpm, pods) = match slot.tier {
        Tier::Enterprise => (2000.0 + 2000.0 * u(1), 8 + (u(2) * 5.0) as u32),
        Tier::Premium => (700.0 + 800.0 * u(1), 5 + (u(2) * 4.0) as u32),
        Tier::Standard => (150.0 + 350.0 * u(1), 3 + (u(2) * 3.0) as u32),
        Tier::Free => (20.0 + 60.0 * u(1), 2),
    };
    SimTenant {
        id,
        name,
        tier: slot.tier,
        model: slot.model,
        account,
        external_id,
        role_arn,
        home_region: slot.home,
        extra_regions: slot.extra.to_vec(),
        standby_regions: Vec::new(),
        residency: slot.residency,
        dimensions,
        resources,
        staging: None,
        log_selector: log_groups.clone(),
        log_groups,
        log_tenant_field,
        key,
        peak_rpm,
        // Healthy tenants stay well under the catalog's warn level
        // (10 errors/min): at most ~3/min at peak.
        error_rate: (0.0004 + 0.0016 * u(3)).min(3.0 / peak_rpm),
        p99: 0.15 + 0.3 * u(4),
        pods,
        cpu_base: 15.0 + 10.0 * u(5),
    }
}

/// A UUID-shaped id (version 4 layout) from a hash.
pub(crate) fn uuid_like(h: u64) -> String {
    let b = mix(&[h, 2]);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// A 12-digit account id derived from the seed, unique in the fleet.
fn account_id(seed: u64, label: &str, taken: &mut HashSet<String>) -> String {
    let mut salt = 0u64;
    loop {
        let n = 100_000_000_000 + mix(&[seed, hash_str(label), salt]) % 800_000_000_000;
        let id = format!("{n:012}");
        if taken.insert(id.clone()) {
            return id;
        }
        salt += 1;
    }
}

#[cfg(test)]
mod unit_tests;
