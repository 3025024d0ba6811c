//! The command line: `fleetdeck` opens the console; `sync` and `status` work
//! headless against the same engine and cache.

mod cache;
mod check;
mod console;
mod discover;
mod policy;
mod report;
mod status;
mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use fleetdeck_engine::session::SessionOptions;

#[derive(Debug, Parser)]
#[command(
    name = "fleetdeck",
    version,
    about = "Read-only operations console for multi-tenant SaaS fleets on AWS.",
    long_about = "Read-only operations console for multi-tenant SaaS fleets on AWS.\n\nWith no command, opens the desktop console. With no fleet file (and no --fleet), it runs on the built-in simulated fleet, marked DEMO."
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Option<Command>,
}

// The doc comments are clap's --help text, where `<config dir>` is meant
// literally, not as HTML.
#[allow(rustdoc::invalid_html_tags)]
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Use the built-in simulated fleet (DEMO) instead of a fleet file.
    #[arg(long, global = true)]
    pub demo: bool,
    /// Fleet file [default: <config dir>/fleetdeck/fleet.toml if it exists, else --demo].
    #[arg(long, global = true, value_name = "FILE")]
    pub fleet: Option<PathBuf>,
    /// Cache file [default: <data dir>/fleetdeck/cache.sqlite, or demo.sqlite with --demo].
    #[arg(long, global = true, value_name = "FILE")]
    pub cache: Option<PathBuf>,
    /// Folder whose files replace the built-in query catalog's (metrics.toml, logs.toml, views/*.sql).
    #[arg(long, global = true, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Base AWS profile, as with the AWS CLI [default: AWS_PROFILE, else the fleet file's, else the default chain].
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Base AWS region [default: the fleet file's].
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// More log output on stderr.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// Open the console on the cache as it is: no sync, no AWS call (on a
    /// plane, in a postmortem).
    #[arg(long, global = true)]
    pub offline: bool,
    /// Tenants in the simulated fleet (with --demo): 24 by default; up to
    /// 2,000 to see fleetdeck at scale (a cache of its own, demo-N.sqlite).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=2000))]
    pub demo_tenants: Option<u16>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect metrics, alarms, logs and cost into the cache, once.
    Sync,
    /// List AWS Organizations accounts tagged with the tenant tag (from the
    /// payer account) and print fleet-file entries for the new ones.
    Discover {
        /// Append the entries to the fleet file (only if the result is valid).
        #[arg(long)]
        merge: bool,
    },
    /// Fleet health from the cache (no AWS calls).
    Status {
        /// Print JSON: [{"tenant", "region", "health", "reasons", ...}].
        #[arg(long)]
        json: bool,
    },
    /// Score a `timestamp,value` CSV file for anomalies (no AWS calls):
    /// writes `timestamp,value,anomaly_score`, one row per input row.
    Detect {
        /// The series: a header, then `timestamp,value` rows (timestamps like
        /// 2014-04-01 00:00:00, ISO 8601, or unix seconds; UTC).
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        /// Where to write the scores [default: stdout]. Written whole or not at all.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Check that fleetdeck can read every tenant: validates the fleet file,
    /// then per tenant assumes its role and makes one cheap read per service
    /// in each of its regions, and prints each failure with its fix.
    #[command(long_about = "Check that fleetdeck can read every tenant, before a sync needs to.\n\n\
        Validates the fleet file (errors name file, line and field), then for each tenant (or only --tenant): \
        AssumeRole into its role with its ExternalId, and in each of its regions one CloudWatch GetMetricData \
        (one metric, ten minutes) and one Logs DescribeLogGroups (limit 1) per log group selector. Cost Explorer \
        is checked only with --cost: AWS bills $0.01 per GetCostAndUsage request.\n\n\
        Each failure says what is wrong (missing trust relationship or wrong ExternalId, missing IAM action and \
        the policy line to add, region not enabled, no matching log group, endpoint unreachable) and how to fix it.\n\n\
        Exit status: 0 when every check is ok (or skipped), 1 when any failed, 2 when the fleet file is invalid.")]
    Check {
        /// Only this tenant (its id in the fleet file).
        #[arg(long, value_name = "ID")]
        tenant: Option<String>,
        /// Also check Cost Explorer from the payer account: one GetCostAndUsage
        /// request, which AWS bills at $0.01.
        #[arg(long)]
        cost: bool,
        /// Print JSON: [{"tenant", "region", "check", "result", "problem", "status", "message", "fix"}].
        #[arg(long)]
        json: bool,
    },
    /// Print the IAM policies a tenant creates for fleetdeck's role: the
    /// permissions policy (exactly the read actions fleetdeck calls) and the
    /// trust policy (your account, with the tenant's ExternalId). No AWS calls.
    #[command(long_about = "Print the IAM policies a tenant creates for fleetdeck's role. No AWS calls.\n\n\
        stdout is always one valid JSON document: by default an object with two keys, \
        \"permissions_policy\" (attach it to the role: exactly the read actions fleetdeck calls in a tenant \
        account, generated from the list fleetdeck itself is limited to; --payer gives the management account's \
        Cost Explorer and Organizations reads instead) and \"trust_policy\" (the role's trust policy: the trusted \
        account may assume the role only with the tenant's ExternalId); with --only, that one policy document, \
        bare, ready for `aws iam ... file://`. A note on each goes to stderr.\n\n\
        Without --trusted-account the principal is the placeholder <YOUR-FLEETDECK-ACCOUNT-ID> (fleetdeck does not \
        look itself up: sts:GetCallerIdentity is not among the actions it calls); without --external-id, \
        <TENANT-EXTERNAL-ID>. Replace them before pasting.")]
    Policy {
        /// The tenant's ExternalId (its external_id in the fleet file).
        #[arg(long, value_name = "ID")]
        external_id: Option<String>,
        // `help` rather than a doc comment: rustdoc would read the placeholder as an HTML tag.
        #[arg(
            long,
            value_name = "ACCOUNT",
            help = "The account fleetdeck runs as (12 digits; the trust policy names its root), or the ARN of the \
                    one IAM role or user to trust [default: the placeholder <YOUR-FLEETDECK-ACCOUNT-ID>]"
        )]
        trusted_account: Option<String>,
        /// Print only this policy document, bare.
        #[arg(long, value_enum, value_name = "POLICY")]
        only: Option<PolicyDoc>,
        /// The permissions for the management (payer) account's role instead:
        /// Cost Explorer and Organizations reads, which tenants never grant.
        #[arg(long, conflicts_with = "monitoring")]
        payer: bool,
        /// The monitoring account's role instead (`[monitoring]`): CloudWatch
        /// and Logs Insights over the linked accounts and its sinks' links,
        /// plus the sink policy letting the fleet file's tenant accounts link.
        #[arg(long)]
        monitoring: bool,
        /// With --monitoring: a tenant account the sink policy lets link
        /// (repeat it; default: a placeholder).
        #[arg(long, value_name = "ACCOUNT", requires = "monitoring")]
        linked_account: Vec<String>,
    },
    /// The cache file: size per table and per tenant (`stats`, the default),
    /// `compact`, or `drop-tenant ID`. No AWS calls.
    #[command(long_about = "The cache file: what it holds and what it costs on disk. No AWS calls.\n\n\
        `fleetdeck cache` (or `cache stats`) prints rows and bytes per table and, per tenant, its series, \
        datapoints and an estimate of its bytes. `cache compact` rewrites the file without its free pages \
        (SQLite VACUUM: needs as much free disk as the file, and no sync running) and prints the size before \
        and after. `cache drop-tenant ID` deletes every row of that tenant in one transaction and prints what \
        it deleted; a tenant still in the fleet file comes back with the next sync.\n\n\
        Raw datapoints older than 35 days, hourly summaries older than 180 days, daily summaries older than 800 \
        days, ended anomalies, alarm history and sync records older than 180 days, and daily cost older than 400 \
        days are deleted after each sync; the fleet file's [retention] table (raw_days, hourly_days, daily_days, \
        events_days, cost_days) changes those.")]
    Cache {
        #[command(subcommand)]
        action: Option<CacheAction>,
        /// Print JSON instead of tables.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Write the executive summary (or one tenant's report) as one self-contained file. No AWS calls.
    Report(report::ReportArgs),
}

/// What `fleetdeck cache` does.
#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// Rows and bytes per table; series, datapoints and bytes per tenant.
    Stats,
    /// Rewrite the file without its free pages (VACUUM) and print the size before and after.
    Compact,
    /// Delete every row of one tenant (one transaction) and print what was deleted.
    DropTenant {
        /// The tenant's id (as `cache stats` lists it).
        id: String,
    },
}

/// One of the documents `fleetdeck policy` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyDoc {
    Permissions,
    Trust,
    /// The monitoring account's sink policy (with --monitoring).
    Sink,
}

impl Common {
    pub(crate) fn session_options(&self) -> SessionOptions {
        SessionOptions {
            demo: self.demo,
            // The simulator's usual size is None: one cache file for both spellings.
            demo_tenants: self
                .demo_tenants
                .map(usize::from)
                .filter(|n| *n != fleetdeck_sim::SimOptions::default().tenants),
            offline: self.offline,
            fleet: self.fleet.clone(),
            cache: self.cache.clone(),
            queries: self.queries.clone(),
            profile: self.profile.clone(),
            region: self.region.clone(),
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    fleetdeck_engine::logging::init(cli.common.verbose);
    match cli.command {
        None => console::open_console(&cli.common),
        Some(cmd) => {
            let rt = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("fleetdeck: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let result = rt.block_on(async {
                match cmd {
                    Command::Sync => sync::run(&cli.common).await,
                    Command::Status { json } => status::run(&cli.common, json).await,
                    Command::Discover { merge } => discover::run(&cli.common, merge).await,
                    Command::Detect { input, output } => {
                        fleetdeck_engine::detect::csv::detect_file(&input, output.as_deref(), &Default::default())?;
                        Ok(ExitCode::SUCCESS)
                    }
                    Command::Check { tenant, cost, json } => check::run(&cli.common, tenant, cost, json).await,
                    Command::Cache { action, json } => cache::run(&cli.common, action, json).await,
                    Command::Report(args) => report::run(&cli.common.session_options(), args).await,
                    Command::Policy { external_id, trusted_account, only, payer, monitoring, linked_account } => {
                        use fleetdeck_engine::check::Grantor;
                        let grantor = match (payer, monitoring) {
                            (true, _) => Grantor::Payer,
                            (_, true) => Grantor::Monitoring,
                            _ => Grantor::Tenant,
                        };
                        policy::run(
                            policy::Asked {
                                external_id: external_id.as_deref(),
                                trusted_account: trusted_account.as_deref(),
                                only,
                                linked_accounts: &linked_account,
                            },
                            grantor,
                        )
                    }
                }
            });
            match result {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("fleetdeck: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
