//! `fleetdeck sync`: one sync, with a progress bar on a terminal.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

use fleetdeck_engine::clock;
use fleetdeck_engine::export::clean;
use fleetdeck_engine::model::SyncProgress;
use fleetdeck_engine::sync::{self, SyncOptions};

use super::status::print_sources_and_calls;
use super::Common;

pub async fn run(common: &Common) -> anyhow::Result<ExitCode> {
    if common.offline {
        anyhow::bail!("--offline never calls AWS, so there is nothing to sync; leave it out");
    }
    let session = crate::demo::open_session(&common.session_options()).await?;
    let started = Instant::now();
    // Which identity reads, before anything is read: a wrong profile is
    // the first thing to rule out when every source fails.
    eprintln!("fleetdeck: reading AWS as {}", clean(&session.aws.identity().describe()));
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
        &SyncOptions::at(clock::now()),
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
