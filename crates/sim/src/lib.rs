//! The simulated fleet: fleetdeck's built-in DEMO and the fixture of its
//! benchmarks and fault tests.
//!
//! [`SimFleet::start`] binds a loopback HTTP server that answers the AWS read
//! APIs fleetdeck uses **in their real wire protocols**, so real AWS SDKs
//! (the Rust `aws-sdk-*` crates, boto3, the AWS CLI), pointed at
//! [`SimFleet::endpoint`] with `endpoint_url`, run unmodified:
//!
//! | service | protocols | operations |
//! |---|---|---|
//! | STS | AWS Query (form in, XML out) | `AssumeRole`, `GetCallerIdentity` |
//! | CloudWatch | Smithy RPC v2 CBOR (the Rust SDK), AWS JSON 1.0 (boto3's choice), AWS Query | `GetMetricData`, `DescribeAlarms`, `DescribeAlarmHistory` |
//! | CloudWatch Logs | AWS JSON 1.1 | `StartQuery`, `GetQueryResults`, `StopQuery`, `DescribeLogGroups` |
//! | Cost Explorer | AWS JSON 1.1 | `GetCostAndUsage` |
//! | Organizations | AWS JSON 1.1 | `ListAccounts`, `ListTagsForResource` |
//! | Resource Groups Tagging | AWS JSON 1.1 | `GetResources` |
//! | CloudWatch Observability Access Manager (OAM) | AWS restJson1 | `ListSinks`, `GetSink`, `GetSinkPolicy`, `ListAttachedLinks` |
//!
//! A request goes to the service of its SigV4 credential scope
//! (`monitoring`, `sts`, `logs`, `ce`, `organizations`, `tagging`, `oam`)
//! in the protocol its shape shows (see `protocol.rs`). Everything else gets that protocol's
//! unknown-operation error, and is counted like every other request
//! ([`SimFleet::requests`]). The `fleetdeck-sim` binary serves a fleet on a
//! port of its own for clients in other processes.
//!
//! The fleet itself ([`SimTenant`], [`SimFleet::fleet_toml`]) is generated from
//! [`SimOptions::seed`]: all five isolation models, three regions, four tiers,
//! and five incidents placed relative to [`SimOptions::now`] (`globex` 5xx
//! spike, `initech` p99 regression, `hooli` cost jump, a broken deploy at
//! one premium tenant and a regional slowdown in ap-southeast-2; see
//! `fleet.rs`). Every
//! value served is a pure function of (seed, tenant, metric, time): nothing is
//! stored per datapoint, so any fleet size and any time range cost the same
//! memory. The only state is what AWS itself keeps between calls: issued
//! sessions, running Logs Insights queries and the request counts.
//!
//! With [`SimOptions::monitoring`] the fleet also has CloudWatch
//! cross-account observability: a monitoring account
//! ([`SimFleet::monitoring_account`], role
//! [`SimFleet::MONITORING_ROLE_NAME`]) with an OAM sink in each region and
//! links to it from the accounts holding tenant data there. From that
//! account, GetMetricData's `AccountId` reads a linked account's metrics,
//! Logs Insights reads linked accounts' log groups by ARN,
//! `DescribeLogGroups` with `includeLinkedAccounts` lists them, and
//! `DescribeAlarms`/`DescribeAlarmHistory` show copies of the silo, EKS and
//! pooled tenants' alarms watching their source account's metric
//! (`Metrics` with `AccountId`); [`SimFleet::monitoring_fleet_toml`]
//! describes the fleet read that way. [`SimKnobs::oam_unlinked`] and
//! [`SimKnobs::oam_withheld`] take links, or what they share, away.
//!
//! The answers follow the real service limits (500 queries and 100,800
//! datapoints per `GetMetricData` with `NextToken` paging, period alignment,
//! CloudWatch retention by period, 100 alarms per page, Logs Insights 10,000
//! rows and 30 concurrent queries, Cost Explorer paging). Optional
//! [`SimKnobs`] add latency, real per account-region rate limits
//! (`ThrottlingException` and friends), missing roles, denied actions,
//! short-lived credentials, injected faults (throttling, 5xx, dropped
//! connections), a frozen clock, answers garbled on purpose
//! ([`Malformed`]), a SigV4 request-time check ([`SimKnobs::check_request_time`])
//! and missing or partial cross-account observability links.
//! It records every AssumeRole it receives, with the session policy and the
//! credentials it issued ([`SimFleet::assume_role_requests`]), so tests can
//! check the policy and look for the secrets wherever they must not be.
//!
//! Module map: `fleet` (tenants, catalog resources, the monitoring
//! account, TOML), `series` (metric values), `server` (HTTP, identity,
//! counting, knobs, faults), `protocol` (routing, per-protocol errors,
//! rendering), `malformed` (garbled answers), `signin` (console sign-in),
//! and one module per service: `sts`, `cloudwatch` (with `wire`, its JSON
//! 1.0 and AWS Query forms, and `alarms`), `logs`, `cost`, `organizations`,
//! `tagging`, `oam` (sinks and links, and what a link shares).

mod cloudwatch;
mod cost;
mod fleet;
mod logs;
mod malformed;
mod oam;
mod organizations;
mod protocol;
mod series;
mod server;
mod signin;
mod sts;
mod tagging;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

pub use fleet::{Model, SimTenant, Tier, MAX_SYNTHETIC_METRICS, SYNTHETIC_NAMESPACE};
pub use signin::ConsoleSignIn;

/// What fleet to simulate. Construct with struct update syntax from
/// [`Default`] when only some fields matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOptions {
    /// Everything random (names order, account ids, noise) derives from it.
    pub seed: u64,
    /// Number of tenants; the first five cover all five isolation models and
    /// the three incident tenants, the first 24 follow the documented mix.
    /// Ignored when `shape` is set.
    pub tenants: usize,
    /// Epoch seconds the incidents are placed relative to (the "start" of
    /// the demo). Data is still only served up to the wall clock.
    pub now: i64,
    /// A benchmark fleet's make-up instead of the demo's documented mix.
    pub shape: Option<SimShape>,
    /// What a real estate holds besides the demo's incidents, for tests of
    /// alarm handling (the simulator's incident table lists them): a
    /// composite alarm over globex's alarms, a platform alarm in the shared
    /// account that names no tenant, and a 5xx blip on tyrell whose alarm
    /// fires and clears well before `now`.
    pub realistic: bool,
    /// A noisy neighbour: from 40 minutes before `now`, the first pooled
    /// tenant of us-east-1 serves 4x its requests, and the p99 latency of
    /// the other tenants of its pooled account there rises 2.5x with it.
    pub noisy_neighbour: bool,
    /// CloudWatch cross-account observability: a monitoring account
    /// (role [`SimFleet::MONITORING_ROLE_NAME`], no ExternalId) with a sink
    /// named `fleetdeck` in each of the three regions, and a link to it in
    /// each region from every account that holds tenant data there (the
    /// tenants' own accounts, the shared, EKS and pooled accounts; not the
    /// staging accounts, not the payer) sharing metrics and log groups.
    /// See `oam.rs`, [`SimFleet::monitoring_fleet_toml`] and the knobs
    /// [`SimKnobs::oam_unlinked`] and [`SimKnobs::oam_withheld`].
    pub monitoring: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 7,
            tenants: 24,
            now: server::wall_clock(),
            shape: None,
            realistic: false,
            noisy_neighbour: false,
            monitoring: false,
        }
    }
}

/// The make-up of a benchmark fleet (BENCHMARKS.md), for
/// [`SimOptions::shape`]. Tenants with an account of their own come first
/// (the first is `globex`, with its 5xx incident), then the pooled ones;
/// home regions rotate over the three regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimShape {
    /// Tenants with an account of their own: silo, every fifth remote.
    pub own_account: usize,
    /// Pooled tenants (`TenantId` dimension, shared log group), spread
    /// round-robin over `pooled_accounts` shared accounts.
    pub pooled: usize,
    /// Shared accounts of the pooled platform (at least one).
    pub pooled_accounts: usize,
    /// Regions each tenant runs in, 1..=3: its home and the next ones.
    pub regions: usize,
    /// Metrics per tenant-region: the model's catalog metrics (3), then
    /// filler gauges `SaaS/Bench` `Synthetic01`... with the tenant's
    /// dimensions, up to [`MAX_SYNTHETIC_METRICS`] of them
    /// ([`SimFleet::synthetic_catalog_toml`] describes them for the catalog).
    pub metrics: usize,
}

impl SimShape {
    /// Fleet F200: 150 tenants with their own account, 50 pooled in two
    /// shared accounts, 3 regions each, 20 metrics per tenant-region.
    pub fn f200() -> SimShape {
        SimShape { own_account: 150, pooled: 50, pooled_accounts: 2, regions: 3, metrics: 20 }
    }

    /// Fleet F2000: 2,000 tenants over 1,500 accounts (1,490 with their
    /// own, 510 pooled in ten shared ones), 3 regions each, 20 metrics per
    /// tenant-region.
    pub fn f2000() -> SimShape {
        SimShape { own_account: 1_490, pooled: 510, pooled_accounts: 10, regions: 3, metrics: 20 }
    }

    /// Number of tenants.
    pub fn tenants(&self) -> usize {
        self.own_account + self.pooled
    }
}

/// Runtime knobs for benchmarks and fault tests. The default is a perfect,
/// unthrottled AWS; [`SimKnobs::aws_quotas`] turns on the real rate limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimKnobs {
    /// Added before every response.
    pub latency: Duration,
    /// Requests per second allowed per (account, region, operation), as AWS
    /// enforces them; over the limit the protocol's throttling error is
    /// returned (the SDK's standard retry handles it). Empty = unlimited.
    pub rate_limits: Vec<(String, f64)>,
    /// Accounts whose role is missing: AssumeRole into them is AccessDenied
    /// (a remote tenant that deleted the vendor role).
    pub deny_assume_role: Vec<String>,
    /// Freeze the wall clock at these epoch seconds (deterministic tests).
    pub clock: Option<i64>,
    /// (account, IAM action) pairs the caller's identity policy does not
    /// allow, e.g. `("111122223333", "logs:StartQuery")`: the call answers
    /// the protocol's access-denied error with AWS's message. The action
    /// may use IAM wildcards (`logs:*`); `sts:GetCallerIdentity` can never
    /// be denied, as in AWS.
    pub deny_actions: Vec<(String, String)>,
    /// Requests answered with an injected failure instead of their answer.
    pub faults: Faults,
    /// Lifetime of credentials issued by AssumeRole from now on, instead of
    /// the requested `DurationSeconds` (the Expiration field says so);
    /// requests signed with them afterwards get `ExpiredToken`.
    pub credential_ttl: Option<Duration>,
    /// Successful answers garbled on purpose (truncated, wrong types,
    /// non-finite numbers...) for one account and/or one operation.
    pub malformed: Option<Malformed>,
    /// Check each request's SigV4 time (`X-Amz-Date`) against the
    /// simulator's clock, as AWS does: more than [`MAX_CLOCK_SKEW_SECS`] off
    /// and the request is refused with `RequestTimeTooSkewed`. Off by
    /// default, because tests freeze the simulator's clock at any moment;
    /// set it with [`SimKnobs::clock`] some hours away from the laptop's
    /// clock to play a laptop whose clock is wrong.
    pub check_request_time: bool,
    /// (account, metric name) pairs whose GetMetricData results come back
    /// with `StatusCode` `InternalError`, no datapoints and a message ("
    /// InternalError indicates that an error occurred", MetricDataResult,
    /// API Reference): one series failing inside a call that succeeds.
    pub metric_errors: Vec<(String, String)>,
    /// Operations (e.g. `DescribeAlarmHistory`) whose every request is
    /// answered HTTP 500 `InternalFailure`: an API down during an incident,
    /// or an emulator that lacks it (moto answers DescribeAlarmHistory so).
    pub broken_operations: Vec<String>,
    /// (account, region) pairs where the region is an opt-in region the
    /// account has not enabled: every request there but STS's is refused
    /// as AWS refuses it, the credentials unrecognised ("The security token
    /// included in the request is invalid").
    pub disabled_regions: Vec<(String, String)>,
    /// Accounts whose role's trust policy does not allow
    /// `sts:SetSourceIdentity` (a role made before fleetdeck asked for it):
    /// an AssumeRole that sets a source identity is refused there.
    pub no_set_source_identity: Vec<String>,
    /// GetCostAndUsage answers `DataUnavailableException` for every page
    /// after the first `n` of any query (a failure in the middle of a paged
    /// read): the pages before it were answered, and billed.
    pub cost_pages_fail_after: Option<usize>,
    /// Log groups still listed by DescribeLogGroups but deleted since:
    /// StartQuery naming one answers ResourceNotFoundException ("Log group
    /// '...' does not exist"), as AWS does for a group that is gone.
    pub deleted_log_groups: Vec<String>,
    /// (source account, region) pairs whose OAM link to the monitoring
    /// account's sink is absent (a source account that never linked, or
    /// deleted its link): ListAttachedLinks leaves it out and the
    /// monitoring account sees none of its metrics, logs or alarms there.
    /// Only meaningful with [`SimOptions::monitoring`].
    pub oam_unlinked: Vec<(String, String)>,
    /// (source account, region, resource type) triples the link does not
    /// share, e.g. `("111122223333", "eu-west-1", "AWS::Logs::LogGroup")`:
    /// the type is missing from the link's `ResourceTypes` and that data is
    /// invisible to the monitoring account.
    pub oam_withheld: Vec<(String, String, String)>,
}

/// How far a request's signing time may be from AWS's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 5 * 60;

/// Which answers to garble, and how ([`SimKnobs::malformed`]). Errors are
/// never garbled, only successful answers; requests that match neither
/// filter are answered normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// Only requests acting in this account (the caller's account; `None`: any).
    pub account: Option<String>,
    /// Only this operation, e.g. `GetMetricData` (`None`: any).
    pub action: Option<String>,
    pub kind: MalformedKind,
}

/// The ways an answer is garbled. Each applies where the answer has
/// something to garble and leaves it intact otherwise (e.g. `HugeLogLine`
/// only touches Logs Insights results).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedKind {
    /// The body cut in half: JSON, CBOR or XML that ends mid-value.
    Truncated,
    /// Every member of the answer's top level has the wrong type (lists
    /// become strings, strings numbers, numbers strings...).
    WrongTypes,
    /// Numbers that are not numbers: of every four CloudWatch doubles
    /// (metric values, alarm thresholds) three become NaN, +Inf and -Inf
    /// (in JSON 1.0 and AWS Query spelt `NaN`, `Infinity`, `-Infinity`);
    /// Cost Explorer amounts likewise become `"NaN"`, `"Infinity"`,
    /// `"-Infinity"`.
    NonFinite,
    /// Datapoints newest first although oldest first was asked for, with
    /// every timestamp sent twice; JSON lists reversed.
    Unordered,
    /// A Logs Insights result whose first row carries a 10 MB `@message`.
    HugeLogLine,
    /// A string of the answer carries bytes that are not UTF-8.
    NonUtf8,
}

/// One AssumeRole request the simulator received, and what it issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleRequest {
    /// The caller's account (the base identity's); empty when unknown.
    pub caller_account: String,
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: String,
    /// The `SourceIdentity` parameter, exactly as received.
    pub source_identity: Option<String>,
    /// The inline session policy (the `Policy` parameter), exactly as received.
    pub policy: Option<String>,
    /// The session credentials issued, when the role was assumed.
    pub issued: Option<IssuedCredentials>,
    /// `Some(Name)` for a GetFederationToken request.
    pub federation_name: Option<String>,
}

/// Session credentials the simulator issued. `Debug` shows the key id
/// only, so a failing assertion never prints the secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

impl std::fmt::Debug for IssuedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCredentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// Shares (0.0..=1.0) of requests that fail on purpose, each request drawn
/// independently: a retry is a new request and may fail again. The draw is
/// a pure function of the seed and the request's position since the last
/// [`SimFleet::set_knobs`], so a sequential test replays exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// Answered with the protocol's throttling error (CloudWatch
    /// `Throttling`, Logs `ThrottlingException`, Cost Explorer
    /// `LimitExceededException`, Organizations `TooManyRequestsException`).
    pub throttle: f64,
    /// Answered HTTP 500 `InternalFailure` or 503 `ServiceUnavailable`
    /// (Organizations: 500 `ServiceException`), half each.
    pub server_error: f64,
    /// The connection is closed after the request was read, without a
    /// response.
    pub reset: f64,
}

impl SimKnobs {
    /// The default AWS quotas for the operations the simulator serves
    /// (per account and region, requests per second).
    pub fn aws_quotas() -> SimKnobs {
        let limits = [
            ("GetMetricData", 50.0),
            ("DescribeAlarms", 9.0),
            ("StartQuery", 5.0),
            ("GetQueryResults", 5.0),
            ("DescribeLogGroups", 10.0),
            ("GetCostAndUsage", 5.0),
            ("AssumeRole", 100.0),
            ("GetCallerIdentity", 100.0),
        ];
        SimKnobs { rate_limits: limits.iter().map(|(a, r)| (a.to_string(), *r)).collect(), ..SimKnobs::default() }
    }
}

/// How many requests one (account, region, action) received. `account` is
/// empty for requests whose identity could not be established (missing or
/// unknown access key); `region` is the SigV4 signing region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestCount {
    pub account: String,
    pub region: String,
    pub action: String,
    /// Every request, the faulted ones included.
    pub count: u64,
    /// Of `count`, those answered with an injected fault ([`Faults`]).
    pub faulted: u64,
    /// The IAM action, e.g. `cloudwatch:GetMetricData` (`unknown:<Op>` for
    /// a service the simulator does not know).
    pub iam_action: String,
}

/// A running simulated fleet. Dropping it stops the server.
pub struct SimFleet {
    state: Arc<server::State>,
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl SimFleet {
    /// The base identity's access key id (account `999999999999`, the payer).
    /// Any secret is accepted: signatures are parsed, never verified.
    pub const ACCESS_KEY_ID: &'static str = "AKIAFLEETDECKSIM0001";
    /// A secret to pair with [`SimFleet::ACCESS_KEY_ID`].
    pub const SECRET_ACCESS_KEY: &'static str = "fleetdeck/simulated/fleet/secret/key/0001";
    /// The management account that reads Cost Explorer.
    pub const PAYER_ACCOUNT: &'static str = fleet::PAYER_ACCOUNT;

    /// The fleet's base region: STS and Cost Explorer are called there.
    pub const BASE_REGION: &'static str = fleet::BASE_REGION;

    /// The role fleetdeck assumes in the monitoring account
    /// ([`SimOptions::monitoring`]); its trust policy asks for no ExternalId.
    pub const MONITORING_ROLE_NAME: &'static str = fleet::MONITORING_ROLE_NAME;

    /// Binds 127.0.0.1 on a free port and serves the fleet on the current
    /// tokio runtime.
    pub async fn start(opts: SimOptions) -> std::io::Result<SimFleet> {
        SimFleet::start_on(opts, 0).await
    }

    /// Like [`SimFleet::start`], on 127.0.0.1:`port` (0: a free port).
    pub async fn start_on(opts: SimOptions, port: u16) -> std::io::Result<SimFleet> {
        let state = Arc::new(server::State::new(fleet::Fleet::generate(&opts)));
        let addr = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port));
        let (addr, task) = server::spawn(state.clone(), Some(addr)).await?;
        Ok(SimFleet { state, addr, task })
    }

    /// `http://127.0.0.1:PORT`, for `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A complete fleet file describing the simulated tenants, pointing at
    /// this server.
    pub fn fleet_toml(&self) -> String {
        self.state.fleet.to_toml(&self.endpoint())
    }

    /// The same fleet file as [`SimFleet::fleet_toml`] read through the
    /// monitoring account: a `[monitoring]` section (account, role name,
    /// regions) after `[fleet]` and `[apportion]`, and every tenant whose
    /// data the monitoring account sees marked `via = "monitoring"`: silo,
    /// EKS and pooled tenants without a role of their own, shared-model
    /// tenants keeping `role_name = "FleetdeckReadOnly"` (their tags and
    /// own-account alarms are read through it). Remote tenants and staging
    /// environments are as in `fleet_toml`. Without
    /// [`SimOptions::monitoring`] it is `fleet_toml` itself.
    pub fn monitoring_fleet_toml(&self) -> String {
        self.state.fleet.to_monitoring_toml(&self.endpoint())
    }

    /// The monitoring account, when the fleet has one
    /// ([`SimOptions::monitoring`]).
    pub fn monitoring_account(&self) -> Option<&str> {
        self.state.fleet.monitoring_account.as_deref()
    }

    /// The simulated tenants, in fleet-file order.
    pub fn tenants(&self) -> &[SimTenant] {
        &self.state.fleet.tenants
    }

    /// `[[metric]]` entries for the query catalog (to append to
    /// `queries/metrics.toml`) describing the synthetic metrics of a
    /// [`SimShape`] fleet; empty when it has none.
    pub fn synthetic_catalog_toml(&self) -> String {
        self.state.fleet.synthetic_catalog_toml()
    }

    /// The injected broken deploy: the tenant whose errors depart from its
    /// tier's peers, the region, and when it started (epoch s).
    pub fn peer_departure(&self) -> Option<(&SimTenant, &'static str, i64)> {
        self.state.fleet.peer_departure()
    }

    /// The injected cost jump: the tenant that scaled its pods 3x (in
    /// every region it runs in), from when (epoch s, a midnight UTC).
    pub fn cost_jump(&self) -> Option<(&SimTenant, i64)> {
        self.state.fleet.cost_jump()
    }

    /// The injected regional slowdown: region, start and end (epoch s) of
    /// the fleet-wide shift of p99 latency.
    pub fn region_shift(&self) -> Option<(&'static str, i64, i64)> {
        self.state.fleet.region_shift()
    }

    /// The options the fleet was generated from.
    pub fn options(&self) -> &SimOptions {
        &self.state.fleet.options
    }

    /// Every request received so far, counted by (account, region, action),
    /// sorted.
    pub fn requests(&self) -> Vec<RequestCount> {
        self.state.request_counts()
    }

    /// Every Logs Insights query started, in order: (account, region, the
    /// query string as received).
    pub fn insights_queries(&self) -> Vec<(String, String, String)> {
        server::lock(&self.state.queries).log()
    }

    /// The `bytesScanned` of every Logs Insights query started, summed:
    /// what AWS bills the queries on.
    pub fn insights_bytes_scanned(&self) -> u64 {
        server::lock(&self.state.queries).bytes_scanned()
    }

    /// Every AssumeRole request received (the latest 50,000), in order of
    /// arrival, with its session policy and the credentials issued.
    pub fn assume_role_requests(&self) -> Vec<AssumeRoleRequest> {
        self.state.assume_role_requests().into_iter().filter(|r| r.federation_name.is_none()).collect()
    }

    /// Every console sign-in token issued at `/federation`, and where its
    /// login sent the browser.
    pub fn console_sign_ins(&self) -> Vec<ConsoleSignIn> {
        server::lock(&self.state.signins).all()
    }

    /// Every GetFederationToken request received, in order: the name in
    /// `session_name` and `federation_name`, the policy, what was issued
    /// (`role_arn` is the caller's ARN).
    pub fn federation_token_requests(&self) -> Vec<AssumeRoleRequest> {
        self.state.assume_role_requests().into_iter().filter(|r| r.federation_name.is_some()).collect()
    }

    /// Replace the runtime knobs; applies to the next request. Restarts the
    /// rate limiters' buckets and the fault draw sequence.
    pub fn set_knobs(&self, knobs: SimKnobs) {
        self.state.set_knobs(knobs);
    }

    /// The knobs in force.
    pub fn knobs(&self) -> SimKnobs {
        self.state.knobs().as_ref().clone()
    }

    /// An outage: stops listening and drops every open connection, so that
    /// calls fail as they do when AWS is unreachable (connection refused).
    pub async fn go_dark(&mut self) {
        if self.task.is_finished() {
            return; // already dark
        }
        self.task.abort();
        // Once the aborted task is reaped, the listener and connections are closed.
        let _ = (&mut self.task).await;
    }

    /// The end of an outage: listens again on the same address.
    pub async fn come_back(&mut self) -> std::io::Result<()> {
        self.go_dark().await;
        let (_, task) = server::spawn(self.state.clone(), Some(self.addr)).await?;
        self.task = task;
        Ok(())
    }

    /// Faults injected since the server started ([`SimKnobs::faults`]),
    /// every kind together; per action in [`RequestCount::faulted`].
    pub fn faults_injected(&self) -> u64 {
        self.state.faults_injected()
    }

    /// Requests refused for exceeding a rate limit of `SimKnobs::rate_limits`
    /// (the ThrottlingExceptions a well-paced client never sees).
    pub fn rate_limited(&self) -> u64 {
        self.state.rate_limited.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl std::fmt::Debug for SimFleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimFleet")
            .field("endpoint", &self.endpoint())
            .field("options", &self.state.fleet.options)
            .finish_non_exhaustive()
    }
}

impl Drop for SimFleet {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every open
        // connection with it.
        self.task.abort();
    }
}
