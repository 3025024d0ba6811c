//! `fleetdeck check`: can fleetdeck read every tenant? Before a sync needs to.

use std::process::ExitCode;

use fleetdeck_engine::clock;
use fleetdeck_engine::export::clean;
use fleetdeck_engine::session::FleetSource;

use super::Common;

pub async fn run(common: &Common, tenant: Option<String>, cost: bool, json: bool) -> anyhow::Result<ExitCode> {
    use fleetdeck_engine::check::{self, CheckOptions, Verdict};
    let opts = common.session_options();
    let catalog = fleetdeck_engine::catalog::Catalog::load(opts.queries.as_deref())
        .map_err(|e| anyhow::anyhow!("query catalog:\n{e}"))?;
    // As Session::open sets up AWS, without opening the cache: a check
    // reads nothing from it and writes nothing to disk.
    let (fleet, settings, sim) = match opts.fleet_source()? {
        FleetSource::Demo => {
            let sim = crate::demo::start_default()
                .await
                .map_err(|e| anyhow::anyhow!("cannot start the simulated fleet: {e}"))?;
            let fleet = fleetdeck_engine::fleet::Fleet::parse(
                std::path::Path::new("<simulated fleet>"),
                &sim.fleet_toml(),
                &catalog,
            )
            .map_err(|e| anyhow::anyhow!("the simulated fleet's own fleet file is invalid (a bug):\n{e}"))?;
            let settings = fleetdeck_engine::aws::AwsSettings::simulated(sim.endpoint(), sim.credentials(), &fleet);
            (fleet, settings, Some(sim))
        }
        FleetSource::File(path) => {
            let fleet = fleetdeck_engine::fleet::Fleet::load(&path, &catalog)?;
            let settings = opts.aws_settings(&fleet);
            (fleet, settings, None)
        }
    };
    let aws = fleetdeck_engine::aws::AwsAccess::new(&settings).await;
    let options = CheckOptions { tenant, cost, ..CheckOptions::at(clock::now()) };
    let rows = check::run(&fleet, &catalog, &aws, &options).await?;
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
        "{}{}: checking {} tenant{} as {}",
        if demo { "[DEMO] " } else { "" },
        clean(&fleet.name),
        checked.len(),
        if checked.len() == 1 { "" } else { "s" },
        clean(&aws.identity().describe())
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
        // `+ 0.0`: an empty f64 sum is -0.0, printed "$-0.0000".
        calls.iter().map(fleetdeck_engine::aws::CallCount::dollars).sum::<f64>() + 0.0
    );
    Ok(code)
}
