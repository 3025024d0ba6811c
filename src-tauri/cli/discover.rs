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
    match (merge, path) {
        (true, Some(path)) if new > 0 => {
            let text = std::fs::read_to_string(&path)?;
            let merged = format!("{}\n{drafts}", text.trim_end());
            // Validate before writing; written whole or not at all, so the
            // original is never half-written (owner-only: it holds ExternalIds).
            fleetdeck_engine::fleet::Fleet::parse(&path, &merged, &session.catalog)
                .map_err(|e| anyhow::anyhow!("the merged fleet file would be invalid, nothing written:\n{e}"))?;
            fleetdeck_engine::files::write_private(&path, merged.as_bytes())?;
            eprintln!(
                "added {new} tenants to {}: set each one's external_id in its role's trust policy",
                path.display()
            );
        }
        _ => print!("{drafts}"),
    }
    Ok(ExitCode::SUCCESS)
}
