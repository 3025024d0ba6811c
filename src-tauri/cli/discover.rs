//! `fleetdeck discover`: fleet-file entries for accounts tagged in AWS Organizations.

use std::process::ExitCode;

use fleetdeck_engine::export::clean;
use fleetdeck_engine::session::FleetSource;

use super::Common;

pub async fn run(common: &Common, merge: bool) -> anyhow::Result<ExitCode> {
    let opts = common.session_options();
    let path = match opts.fleet_source()? {
        FleetSource::File(p) => Some(p),
        FleetSource::Demo if common.demo => None,
        FleetSource::Demo => anyhow::bail!(
            "discover needs a fleet file with at least its [fleet] section (payer_account, region): \
             pass --fleet FILE (see examples/fleet.toml), or --demo to try it on the simulated fleet"
        ),
    };
    if merge && path.is_none() {
        anyhow::bail!("--merge writes to a fleet file: pass --fleet FILE");
    }
    let session = crate::demo::open_session(&opts).await?;
    let fleet = &session.fleet;
    if let Some(m) = &fleet.monitoring {
        return linked(&session, m, merge, path.as_deref()).await;
    }
    let Some(payer) = &fleet.payer_account else {
        anyhow::bail!("the fleet file has no payer_account: Organizations is read from the payer (management) account");
    };
    let creds =
        session.aws.payer(fleet.payer_role_arn.as_deref()).await.map_err(|f| {
            anyhow::anyhow!("Organizations: {} ({}); fix: {}", f.status.label(), f.message, f.remediation)
        })?;
    let mut found = fleetdeck_engine::discover::tagged_accounts(&session.aws, &creds, payer, &fleet.cost_tag)
        .await
        .map_err(|f| anyhow::anyhow!("Organizations: {} ({}); fix: {}", f.status.label(), f.message, f.remediation))?;
    // Where the new accounts run, from the payer's spend by region (one
    // Cost Explorer request, $0.01, only when there is something to draft).
    if !fleetdeck_engine::discover::drafts(fleet, &found).0.is_empty() {
        let today = fleetdeck_engine::clock::day_of(fleetdeck_engine::clock::now());
        match fleetdeck_engine::discover::spend_regions(&session.aws, &creds, payer, today).await {
            Ok(mut by_account) => {
                for f in &mut found {
                    f.regions = by_account.remove(&f.account).unwrap_or_default();
                }
            }
            Err(f) => eprintln!(
                "note: spend by region not read ({}: {}); home_region is drafted as the fleet's {}",
                f.status.label(),
                clean(&f.message),
                fleet.region
            ),
        }
    }
    let (drafts, skipped) = fleetdeck_engine::discover::drafts(fleet, &found);
    for s in &skipped {
        eprintln!("skipped: {}", clean(s));
    }
    let new = drafts.matches("[[tenant]]").count();
    eprintln!("{} accounts tagged {}, {new} not yet in the fleet", found.len(), fleet.cost_tag);
    write_drafts(&session, &drafts, new, merge, path.as_deref())
}

/// Monitoring mode: the accounts linked to the monitoring account's sinks,
/// named by their Organizations tags where the payer can read them.
async fn linked(
    session: &fleetdeck_engine::session::Session,
    m: &fleetdeck_engine::fleet::Monitoring,
    merge: bool,
    path: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let fleet = &session.fleet;
    let linked = fleetdeck_engine::discover::linked_accounts(&session.aws, m).await.map_err(|f| {
        anyhow::anyhow!(
            "monitoring account {}: {} ({}); fix: {}",
            m.account,
            f.status.label(),
            f.message,
            f.remediation
        )
    })?;
    // Tenant ids and tiers from the accounts' tags, where the payer is known.
    let mut tagged = Vec::new();
    if let Some(payer) = &fleet.payer_account {
        let read = match session.aws.payer(fleet.payer_role_arn.as_deref()).await {
            Ok(creds) => {
                fleetdeck_engine::discover::tagged_accounts(&session.aws, &creds, payer, &fleet.cost_tag).await
            }
            Err(f) => Err(f),
        };
        match read {
            Ok(found) => tagged = found,
            Err(f) => eprintln!(
                "note: the accounts' tags were not read ({}: {}); tenant ids are drafted from the link labels",
                f.status.label(),
                clean(&f.message)
            ),
        }
    }
    let (drafts, skipped) = fleetdeck_engine::discover::drafts_linked(fleet, &linked, &tagged);
    for s in &skipped {
        eprintln!("skipped: {}", clean(s));
    }
    let new = drafts.matches("[[tenant]]").count();
    eprintln!(
        "{} accounts linked to the monitoring account {} in {}, {new} not yet in the fleet",
        linked.len(),
        m.account,
        m.regions.join(", ")
    );
    write_drafts(session, &drafts, new, merge, path)
}

/// Print the drafts, or with --merge add them to the fleet file.
fn write_drafts(
    session: &fleetdeck_engine::session::Session,
    drafts: &str,
    new: usize,
    merge: bool,
    path: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    match (merge, path) {
        (true, Some(path)) if new > 0 => {
            let text = std::fs::read_to_string(path)?;
            let merged = format!("{}\n{drafts}", text.trim_end());
            // Validate before writing; written whole or not at all, so the
            // original is never half-written (owner-only: it holds ExternalIds).
            fleetdeck_engine::fleet::Fleet::parse(path, &merged, &session.catalog)
                .map_err(|e| anyhow::anyhow!("the merged fleet file would be invalid, nothing written:\n{e}"))?;
            fleetdeck_engine::files::write_private(path, merged.as_bytes())?;
            if drafts.contains("via = \"monitoring\"") {
                eprintln!("added {new} tenants to {}: read through the monitoring account", path.display());
            } else {
                eprintln!(
                    "added {new} tenants to {}: set each one's external_id in its role's trust policy",
                    path.display()
                );
            }
        }
        _ => print!("{drafts}"),
    }
    Ok(ExitCode::SUCCESS)
}
