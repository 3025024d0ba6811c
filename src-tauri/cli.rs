//! The command line: `fleetdeck` opens the console; `sync` and `status` work
//! headless against the same engine and cache.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

use crate::model::SyncProgress;
use crate::session::{Session, SessionOptions};
use crate::sync::{self, SyncOptions};

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
    /// Base AWS profile, as with the AWS CLI [default: the fleet file's, else the default chain].
    #[arg(long, global = true, env = "AWS_PROFILE")]
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
        #[arg(long)]
        payer: bool,
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
    Report(crate::report::ReportArgs),
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

/// One of the two documents `fleetdeck policy` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyDoc {
    Permissions,
    Trust,
}

impl Common {
    pub(crate) fn session_options(&self) -> SessionOptions {
        SessionOptions {
            demo: self.demo,
            demo_tenants: self.demo_tenants.map(usize::from),
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
    crate::logging::init(cli.common.verbose);
    match cli.command {
        None => open_console(&cli.common),
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
                    Command::Sync => run_sync(&cli.common).await,
                    Command::Status { json } => run_status(&cli.common, json).await,
                    Command::Discover { merge } => run_discover(&cli.common, merge).await,
                    Command::Detect { input, output } => {
                        crate::detect::csv::detect_file(&input, output.as_deref(), &Default::default())?;
                        Ok(ExitCode::SUCCESS)
                    }
                    Command::Check { tenant, cost, json } => run_check(&cli.common, tenant, cost, json).await,
                    Command::Cache { action, json } => run_cache(&cli.common, action, json).await,
                    Command::Report(args) => crate::report::run(&cli.common.session_options(), args).await,
                    Command::Policy { external_id, trusted_account, only, payer } => {
                        let grantor = if payer { crate::check::Grantor::Payer } else { crate::check::Grantor::Tenant };
                        run_policy(external_id.as_deref(), trusted_account.as_deref(), only, grantor)
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

#[cfg(feature = "desktop")]
fn open_console(common: &Common) -> ExitCode {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!(
            "fleetdeck: no display (neither DISPLAY nor WAYLAND_DISPLAY is set), so the console window cannot open.\n\
             On a headless machine, try:  fleetdeck sync --demo && fleetdeck status --demo\n\
             or run the window under a virtual display:  xvfb-run fleetdeck"
        );
        return ExitCode::from(3);
    }
    match crate::shell::run(common.session_options()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleetdeck: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "desktop"))]
fn open_console(_common: &Common) -> ExitCode {
    eprintln!("fleetdeck: this build has no desktop console (built without the `desktop` feature); use `fleetdeck sync` and `fleetdeck status`.");
    ExitCode::from(3)
}

async fn run_sync(common: &Common) -> anyhow::Result<ExitCode> {
    if common.offline {
        anyhow::bail!("--offline never calls AWS, so there is nothing to sync; leave it out");
    }
    let session = Session::open(&common.session_options()).await?;
    let started = Instant::now();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    });
    let on_progress = |p: SyncProgress| {
        if let Some(bar) = &bar {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
            bar.set_message(format!("{}: {}", p.phase, clean(&p.message)));
        }
    };
    let summary = sync::run(
        &session.fleet,
        &session.catalog,
        &session.aws,
        &session.cache,
        &SyncOptions::at(crate::session::now()),
        &on_progress,
    )
    .await?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    println!(
        "{}synced {} tenants in {:.1} s: {} datapoints, {} sources ok, {} failed; {} API calls (${:.4})",
        if session.demo { "[DEMO] " } else { "" },
        session.fleet.tenants.len(),
        started.elapsed().as_secs_f64(),
        summary.datapoints,
        summary.sources_ok,
        summary.sources_failed,
        summary.api_calls,
        summary.dollars
    );
    print_sources_and_calls(&session.cache).await?;
    if let Some(path) = session.cache.path() {
        println!("cache: {}", path.display());
    }
    Ok(if summary.sources_ok == 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

async fn run_discover(common: &Common, merge: bool) -> anyhow::Result<ExitCode> {
    let opts = common.session_options();
    let path = match opts.fleet_source()? {
        crate::session::FleetSource::File(p) => Some(p),
        crate::session::FleetSource::Demo if common.demo => None,
        crate::session::FleetSource::Demo => anyhow::bail!(
            "discover needs a fleet file with at least its [fleet] section (payer_account, region): \
             pass --fleet FILE (see examples/fleet.toml), or --demo to try it on the simulated fleet"
        ),
    };
    if merge && path.is_none() {
        anyhow::bail!("--merge writes to a fleet file: pass --fleet FILE");
    }
    let session = Session::open(&opts).await?;
    let fleet = &session.fleet;
    let Some(payer) = &fleet.payer_account else {
        anyhow::bail!("the fleet file has no payer_account: Organizations is read from the payer (management) account");
    };
    let creds = match &fleet.payer_role_arn {
        Some(arn) => session.aws.role(arn, None).await,
        None => session.aws.base_credentials(),
    };
    let found = crate::discover::tagged_accounts(&session.aws, &creds, payer, &fleet.cost_tag).await.map_err(|f| {
        anyhow::anyhow!("Organizations: {} ({}); fix: {}", f.status.replace('_', " "), f.message, f.remediation)
    })?;
    let (drafts, skipped) = crate::discover::drafts(fleet, &found);
    for s in &skipped {
        eprintln!("skipped: {}", clean(s));
    }
    let new = drafts.matches("[[tenant]]").count();
    eprintln!("{} accounts tagged {}, {new} not yet in the fleet", found.len(), fleet.cost_tag);
    match (merge, path) {
        (true, Some(path)) if new > 0 => {
            let text = std::fs::read_to_string(&path)?;
            let merged = format!("{}\n{drafts}", text.trim_end());
            // Validate before writing; write beside and rename, so the
            // original is never half-written.
            crate::fleet::Fleet::parse(&path, &merged, &session.catalog)
                .map_err(|e| anyhow::anyhow!("the merged fleet file would be invalid, nothing written:\n{e}"))?;
            let tmp = path.with_extension("toml.fleetdeck-tmp");
            std::fs::write(&tmp, &merged)?;
            std::fs::rename(&tmp, &path)?;
            eprintln!(
                "added {new} tenants to {}: set each one's external_id in its role's trust policy",
                path.display()
            );
        }
        _ => print!("{drafts}"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_status(common: &Common, json: bool) -> anyhow::Result<ExitCode> {
    let opts = common.session_options();
    let source = opts.fleet_source()?;
    let path = opts.cache_path(&source);
    if !path.exists() {
        anyhow::bail!(
            "no cache at {} yet: run `fleetdeck sync{}` first",
            path.display(),
            if common.demo { " --demo" } else { "" }
        );
    }
    let catalog =
        crate::catalog::Catalog::load(opts.queries.as_deref()).map_err(|e| anyhow::anyhow!("query catalog:\n{e}"))?;
    let cache = crate::cache::Cache::open(&path).await?;
    let demo = cache.meta("demo").await?.as_deref() == Some("1");
    let overview = crate::view::fleet_overview(&cache, &catalog, demo, crate::session::now()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&overview.rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let c = &overview.counts;
    println!(
        "{}{}: {} critical, {} degraded, {} unknown, {} ok{}",
        if demo { "[DEMO] " } else { "" },
        clean(&overview.fleet_name),
        c.critical,
        c.degraded,
        c.unknown,
        c.ok,
        match overview.last_sync {
            Some(ms) => format!(" (synced {} min ago)", (crate::session::now() * 1000 - ms).max(0) / 60_000),
            None => " (never synced)".into(),
        }
    );
    println!("{:<9} {:<28} {:<15} {:<10} {:<7} REASON", "HEALTH", "TENANT", "REGION", "TIER", "MODEL");
    for r in &overview.rows {
        let name = clean(&r.name);
        let name: String =
            if name.chars().count() > 27 { name.chars().take(26).chain(['…']).collect() } else { name };
        println!(
            "{:<9} {:<28} {:<15} {:<10} {:<7} {}",
            r.health.as_str().to_uppercase(),
            name,
            r.region,
            clean(&r.tier),
            r.model,
            clean(r.reasons.first().map(String::as_str).unwrap_or(""))
        );
    }
    print_sources_and_calls(&cache).await?;
    Ok(ExitCode::SUCCESS)
}

async fn run_check(common: &Common, tenant: Option<String>, cost: bool, json: bool) -> anyhow::Result<ExitCode> {
    use crate::check::{self, CheckOptions, Verdict};
    let opts = common.session_options();
    let catalog =
        crate::catalog::Catalog::load(opts.queries.as_deref()).map_err(|e| anyhow::anyhow!("query catalog:\n{e}"))?;
    // As Session::open sets up AWS, without opening the cache: a check
    // reads nothing from it and writes nothing to disk.
    let (fleet, settings, sim) = match opts.fleet_source()? {
        crate::session::FleetSource::Demo => {
            let sim = crate::sim::SimFleet::start(crate::sim::SimOptions::default())
                .await
                .map_err(|e| anyhow::anyhow!("cannot start the simulated fleet: {e}"))?;
            let fleet =
                crate::fleet::Fleet::parse(std::path::Path::new("<simulated fleet>"), &sim.fleet_toml(), &catalog)
                    .map_err(|e| anyhow::anyhow!("the simulated fleet's own fleet file is invalid (a bug):\n{e}"))?;
            let settings = crate::aws::AwsSettings::simulated(&sim, &fleet);
            (fleet, settings, Some(sim))
        }
        crate::session::FleetSource::File(path) => {
            let fleet = crate::fleet::Fleet::load(&path, &catalog)?;
            let settings = opts.aws_settings(&fleet);
            (fleet, settings, None)
        }
    };
    let aws = crate::aws::AwsAccess::new(&settings).await;
    let options = CheckOptions { tenant, cost, ..CheckOptions::at(crate::session::now()) };
    let rows = check::run(&fleet, &aws, &options).await?;
    let demo = sim.is_some();
    drop(sim);
    let failed = rows.iter().filter(|r| r.is_failed()).count();
    let code = if failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS };
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(code);
    }
    let calls = aws.ledger.drain();
    let checked =
        rows.iter().map(|r| r.tenant.as_str()).filter(|t| *t != "*").collect::<std::collections::BTreeSet<_>>();
    println!(
        "{}{}: checking {} tenant{}",
        if demo { "[DEMO] " } else { "" },
        clean(&fleet.name),
        checked.len(),
        if checked.len() == 1 { "" } else { "s" }
    );
    println!("{:<24} {:<15} {:<12} RESULT", "TENANT", "REGION", "CHECK");
    for r in &rows {
        let result = match r.result {
            Verdict::Ok => format!("ok: {}", clean(&r.message)),
            Verdict::Skipped => format!("skipped: {}", clean(&r.message)),
            Verdict::Failed => format!("FAILED: {}", r.problem.map(|p| p.label()).unwrap_or("error")),
        };
        println!("{:<24} {:<15} {:<12} {result}", clean(&r.tenant), clean(&r.region), r.check.as_str());
        if r.is_failed() {
            println!("    error: {}", clean(&r.message));
            println!("    fix: {}", clean(r.fix.as_deref().unwrap_or("-")));
        }
    }
    let count = |v: Verdict| rows.iter().filter(|r| r.result == v).count();
    println!(
        "\n{} checks: {} ok, {failed} failed, {} skipped; {} API calls (${:.4} at list prices)",
        rows.len(),
        count(Verdict::Ok),
        count(Verdict::Skipped),
        calls.iter().map(|c| c.calls).sum::<u64>(),
        calls.iter().map(crate::aws::CallCount::dollars).sum::<f64>()
    );
    Ok(code)
}

fn run_policy(
    external_id: Option<&str>,
    trusted_account: Option<&str>,
    only: Option<PolicyDoc>,
    grantor: crate::check::Grantor,
) -> anyhow::Result<ExitCode> {
    use crate::check::{self, ACCOUNT_PLACEHOLDER, EXTERNAL_ID_PLACEHOLDER};
    if let Some(x) = external_id.filter(|x| !check::valid_external_id(x)) {
        anyhow::bail!("--external-id {x:?} must be 2-1224 characters of letters, digits and +=,.@:/-_");
    }
    let principal = check::trusted_principal(trusted_account).map_err(|e| anyhow::anyhow!("--trusted-account: {e}"))?;
    let permissions = check::permissions_policy(grantor);
    let trust = check::trust_policy(&principal, external_id);
    let (doc, notes) = match only {
        Some(PolicyDoc::Permissions) => (permissions, vec![PolicyDoc::Permissions]),
        Some(PolicyDoc::Trust) => (trust, vec![PolicyDoc::Trust]),
        None => (
            serde_json::json!({ "permissions_policy": permissions, "trust_policy": trust }),
            vec![PolicyDoc::Permissions, PolicyDoc::Trust],
        ),
    };
    for n in notes {
        match n {
            PolicyDoc::Permissions => eprintln!(
                "# permissions_policy: attach to the tenant's role, e.g. `aws iam put-role-policy --role-name \
                 FleetdeckReadOnly --policy-name FleetdeckReadOnly --policy-document file://permissions.json`; \
                 the {} read actions fleetdeck calls in {}, none that writes",
                grantor.actions().len(),
                match grantor {
                    check::Grantor::Tenant => "a tenant account (CloudWatch, Logs); the payer's are under --payer",
                    check::Grantor::Payer => "the management account (Cost Explorer, Organizations)",
                }
            ),
            PolicyDoc::Trust => {
                eprintln!(
                    "# trust_policy: the role's trust policy, e.g. `aws iam create-role --role-name FleetdeckReadOnly \
                     --assume-role-policy-document file://trust.json`; lets {principal} assume the role, only with \
                     the tenant's ExternalId"
                );
                if trusted_account.is_none() {
                    eprintln!(
                        "# replace {ACCOUNT_PLACEHOLDER} with the 12-digit account fleetdeck runs as \
                         (`aws sts get-caller-identity` shows it), or pass --trusted-account"
                    );
                }
                if external_id.is_none() {
                    eprintln!(
                        "# replace {EXTERNAL_ID_PLACEHOLDER} with the tenant's external_id from the fleet file, \
                         or pass --external-id"
                    );
                }
            }
        }
    }
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(ExitCode::SUCCESS)
}

async fn run_cache(common: &Common, action: Option<CacheAction>, json: bool) -> anyhow::Result<ExitCode> {
    use crate::housekeeping;
    let opts = common.session_options();
    let path = opts.cache_path(&opts.fleet_source()?);
    if !path.exists() {
        anyhow::bail!(
            "no cache at {} yet: run `fleetdeck sync{}` first",
            path.display(),
            if common.demo { " --demo" } else { "" }
        );
    }
    let cache = crate::cache::Cache::open(&path).await?;
    let mb = |b: i64| b as f64 / 1_048_576.0;
    match action.unwrap_or(CacheAction::Stats) {
        CacheAction::Stats => {
            let s = housekeeping::stats(&cache).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "cache: {} ({:.1} MB, WAL {:.1} MB; {} pages of {} bytes, {} free)",
                path.display(),
                mb(s.file_bytes),
                mb(s.wal_bytes),
                s.pages,
                s.page_size,
                s.free_pages
            );
            println!("\n{:<20} {:>12} {:>12}", "TABLE", "ROWS", "BYTES");
            for t in &s.tables {
                let bytes = t.bytes.map(|b| b.to_string()).unwrap_or_else(|| "?".into());
                println!("{:<20} {:>12} {:>12}", t.table, t.rows, bytes);
            }
            if !s.exact {
                println!("(this SQLite has no dbstat table: bytes per table unknown, per tenant spread evenly)");
            }
            println!("\n{:<28} {:<28} {:>7} {:>12} {:>12}", "TENANT", "NAME", "SERIES", "DATAPOINTS", "BYTES (EST)");
            for t in &s.tenants {
                let name = clean(&t.name);
                let name: String =
                    if name.chars().count() > 27 { name.chars().take(26).chain(['…']).collect() } else { name };
                println!(
                    "{:<28} {:<28} {:>7} {:>12} {:>12}{}",
                    clean(&t.tenant),
                    name,
                    t.series,
                    t.datapoints,
                    t.bytes_estimate,
                    if t.active { "" } else { "  (no longer in the fleet)" }
                );
            }
        }
        CacheAction::Compact => {
            let c = housekeeping::compact(&cache).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&c)?);
            } else {
                println!(
                    "compacted {}: {:.1} MB -> {:.1} MB ({:.1} MB freed)",
                    path.display(),
                    mb(c.bytes_before),
                    mb(c.bytes_after),
                    mb(c.bytes_before - c.bytes_after)
                );
            }
        }
        CacheAction::DropTenant { id } => {
            let deleted = match housekeeping::drop_tenant(&cache, &id).await {
                Ok(d) => d,
                Err(housekeeping::DropError::Unknown(_)) => {
                    eprintln!(
                        "fleetdeck: no tenant {} in the cache {}: nothing deleted (`fleetdeck cache stats` lists the tenants)",
                        clean(&format!("{id:?}")),
                        path.display()
                    );
                    return Ok(ExitCode::FAILURE);
                }
                Err(e) => return Err(e.into()),
            };
            if json {
                let map: serde_json::Map<String, serde_json::Value> =
                    deleted.iter().map(|(t, n)| (t.clone(), serde_json::Value::from(*n))).collect();
                println!("{}", serde_json::json!({ "tenant": id, "deleted": map }));
            } else {
                let parts: Vec<String> = deleted.iter().map(|(t, n)| format!("{n} {t}")).collect();
                println!("dropped tenant {}: deleted {}", clean(&id), parts.join(", "));
                println!("(a tenant still in the fleet file is read again by the next sync)");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What failed, how to fix it, and what the last sync cost.
async fn print_sources_and_calls(cache: &crate::cache::Cache) -> anyhow::Result<()> {
    let failing = cache.failing_sources().await?;
    if !failing.is_empty() {
        println!("\n{} source{} not ok:", failing.len(), if failing.len() == 1 { "" } else { "s" });
        for f in &failing {
            println!(
                "  {} {} {}: {} ({})\n    fix: {}",
                clean(&f.tenant_id),
                f.region,
                f.source,
                f.status.replace('_', " "),
                clean(f.error.as_deref().unwrap_or("")),
                clean(f.remediation.as_deref().unwrap_or("-"))
            );
        }
    }
    let today = chrono::DateTime::from_timestamp(crate::session::now(), 0).unwrap_or_default().date_naive();
    let costs = crate::cost::by_tenant(cache, today).await?;
    if !costs.is_empty() {
        let sum = |f: fn(&crate::cost::TenantCost) -> f64| costs.iter().map(f).sum::<f64>();
        let untagged = costs.iter().find(|c| c.tenant.is_empty()).map(|c| c.month_to_date).unwrap_or(0.0);
        println!(
            "\ncost: ${:.2} month to date, ${:.2} forecast for the month, ${:.2} last month (untagged: ${untagged:.2} this month)",
            sum(|c| c.month_to_date),
            sum(|c| c.forecast),
            sum(|c| c.last_month)
        );
    }
    let calls = cache.last_sync_calls().await?;
    if !calls.is_empty() {
        let total: i64 = calls.iter().map(|c| c.1).sum();
        let dollars: f64 = calls.iter().map(|c| c.2).sum();
        let parts: Vec<String> = calls.iter().map(|(svc, n, d)| format!("{svc} {n} (${d:.4})")).collect();
        println!("\nlast sync: {total} API calls, ${dollars:.4} at list prices: {}", parts.join(", "));
    }
    Ok(())
}

/// Tenant-supplied text on a terminal: control characters (escape
/// sequences) are replaced, so a name cannot rewrite the screen.
pub fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect()
}
