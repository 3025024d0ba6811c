//! `fleetdeck cache`: what the cache file holds, compact, drop a tenant. No AWS call.

use std::process::ExitCode;

use fleetdeck_engine::export::clean;

use super::{CacheAction, Common};

pub async fn run(common: &Common, action: Option<CacheAction>, json: bool) -> anyhow::Result<ExitCode> {
    use fleetdeck_engine::housekeeping;
    let opts = common.session_options();
    let (cache, path) = opts.open_existing_cache().await?;
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
