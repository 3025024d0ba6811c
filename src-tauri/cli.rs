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
}

impl Common {
    fn session_options(&self) -> SessionOptions {
        SessionOptions {
            demo: self.demo,
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
    init_logging(cli.common.verbose);
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

fn init_logging(verbose: bool) {
    let default = if verbose { "fleetdeck=debug,info" } else { "fleetdeck=warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLEETDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
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
    let overview = crate::view::fleet_overview(&cache, &catalog, demo).await?;
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
