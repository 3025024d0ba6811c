//! `fleetdeck status`: fleet health from the cache, no AWS call.

use std::process::ExitCode;

use fleetdeck_engine::clock;
use fleetdeck_engine::export::clean;

use super::Common;

pub async fn run(common: &Common, json: bool) -> anyhow::Result<ExitCode> {
    let opts = common.session_options();
    let (cache, _) = opts.open_existing_cache().await?;
    let catalog = fleetdeck_engine::catalog::Catalog::load(opts.queries.as_deref())
        .map_err(|e| anyhow::anyhow!("query catalog:\n{e}"))?;
    let demo = cache.meta("demo").await?.as_deref() == Some("1");
    let overview = fleetdeck_engine::view::fleet_overview(&cache, &catalog, demo, clock::now()).await?;
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
            Some(ms) => format!(" (synced {} min ago)", (clock::now() * 1000 - ms).max(0) / 60_000),
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
    print_spend(&opts, &cache, &catalog).await?;
    Ok(ExitCode::SUCCESS)
}

fn syncs(n: i64) -> String {
    format!("{n} sync{}", if n == 1 { "" } else { "s" })
}

/// What the syncs cost and what the API budget changed. The projection
/// needs the fleet: a fleet file's (the simulated fleet is not started for
/// a status) that parses; without it, the last 24 h and the stretch the
/// last sync used.
async fn print_spend(
    opts: &fleetdeck_engine::session::SessionOptions,
    cache: &fleetdeck_engine::cache::Cache,
    catalog: &fleetdeck_engine::catalog::Catalog,
) -> anyhow::Result<()> {
    use fleetdeck_engine::session::FleetSource;
    let now = clock::now();
    // A fleet file that no longer parses costs only the projection here:
    // the health above came from the cache.
    let fleet = match opts.fleet_source()? {
        FleetSource::File(path) => fleetdeck_engine::fleet::Fleet::load(&path, catalog).ok(),
        FleetSource::Demo => None,
    };
    let Some(fleet) = fleet else {
        let day = cache.calls_since(clock::ms(now - clock::DAY)).await?;
        if day.syncs > 0 {
            let dollars: f64 = day.actions.iter().map(|a| a.dollars).sum();
            println!("API calls: ${dollars:.2} over the last 24 h ({})", syncs(day.syncs));
        }
        if let Some(every) = fleetdeck_engine::spend::recorded_stretch(cache).await? {
            println!("API budget: the last sync read healthy tenant-regions every {} min", every / 60);
        }
        return Ok(());
    };
    // The viewer's own budget counts too; a settings file that does not
    // parse is the console's to report, the defaults stand in here.
    let settings = fleetdeck_engine::settings::load(&fleetdeck_engine::settings::path()).unwrap_or_default();
    let s = fleetdeck_engine::spend::assess(cache, &fleet, catalog, &settings, now).await?;
    println!(
        "API calls: ${:.2} over the last 24 h ({}); every {} min: ${:.2} a day, ${:.2} a month{}",
        s.last_24h_dollars,
        syncs(i64::from(s.last_24h_syncs)),
        s.interval_minutes,
        s.per_day,
        s.per_month,
        match (s.budget, &s.budget_from) {
            (Some(b), Some(from)) => format!(" (budget ${b:.2} a month, from {from})"),
            _ => String::new(),
        }
    );
    if let Some(note) = &s.note {
        println!("API budget: {note}");
    }
    Ok(())
}

/// What failed, how to fix it, and what the last sync cost.
pub(super) async fn print_sources_and_calls(cache: &fleetdeck_engine::cache::Cache) -> anyhow::Result<()> {
    let failing = cache.failing_sources().await?;
    if !failing.is_empty() {
        println!("\n{} source{} not ok:", failing.len(), if failing.len() == 1 { "" } else { "s" });
        for f in &failing {
            println!(
                "  {} {} {}: {} ({})\n    fix: {}",
                clean(&f.tenant_id),
                f.region,
                f.source,
                f.status.label(),
                clean(f.error.as_deref().unwrap_or("")),
                clean(f.remediation.as_deref().unwrap_or("-"))
            );
        }
    }
    let today = clock::day_of(clock::now());
    let costs = fleetdeck_engine::cost::by_tenant(cache, today).await?;
    if !costs.is_empty() {
        let sum = |f: fn(&fleetdeck_engine::cost::TenantCost) -> f64| costs.iter().map(f).sum::<f64>();
        let untagged = costs.iter().find(|c| c.tenant.is_empty()).map(|c| c.month_to_date).unwrap_or(0.0);
        println!(
            "\ncost: ${:.2} month to date, ${:.2} forecast for the month, ${:.2} last month (untagged: ${untagged:.2} this month)",
            sum(|c| c.month_to_date),
            sum(|c| c.forecast),
            sum(|c| c.last_month)
        );
    }
    let reading = fleetdeck_engine::cost::unread(cache).await?;
    if let Some(reading) = reading {
        println!("the bill is not read whole yet: {}", clean(&reading));
    }
    for (account, tenants, without_role) in cache.monitored_tenants().await? {
        println!(
            "\nread through the monitoring account {account}: {tenants} tenant{}{}",
            if tenants == 1 { "" } else { "s" },
            match without_role {
                0 => String::new(),
                n => format!(
                    " ({n} without a role of their own: their accounts' alarms are not visible, only the monitoring \
                     account's on their metrics)"
                ),
            }
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
