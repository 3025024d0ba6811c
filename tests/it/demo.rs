//! The simulated fleet end to end, through the real CLI binary: a newcomer
//! runs `fleetdeck sync --demo` then `fleetdeck status --demo --json` and sees
//! every simulated tenant with a health state, the injected incidents among
//! them, and tenant names exactly as the fleet spelled them.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use fleetdeck_sim::{SimFleet, SimOptions};

fn fleetdeck(cache: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fleetdeck"))
        .args(args)
        .arg("--cache")
        .arg(cache)
        // Nothing from the developer's own AWS setup may leak in.
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run fleetdeck")
}

async fn simulated_tenant_ids() -> BTreeSet<String> {
    let sim = SimFleet::start(SimOptions::default()).await.unwrap();
    let fleet: toml::Value = toml::from_str(&sim.fleet_toml()).unwrap();
    fleet["tenant"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn sync_then_status_shows_every_simulated_tenant_with_its_health() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("demo.sqlite");

    let status_before = fleetdeck(&cache, &["status", "--demo"]);
    assert!(!status_before.status.success(), "status with no cache must fail clearly");
    assert!(String::from_utf8_lossy(&status_before.stderr).contains("run `fleetdeck sync --demo` first"));

    let sync = fleetdeck(&cache, &["sync", "--demo"]);
    let out = String::from_utf8_lossy(&sync.stdout);
    assert!(sync.status.success(), "sync failed: {out}\n{}", String::from_utf8_lossy(&sync.stderr));
    assert!(out.contains("[DEMO] synced 24 tenants"), "{out}");
    assert!(out.contains(" 0 failed"), "{out}");

    let status = fleetdeck(&cache, &["status", "--demo", "--json"]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&status.stdout).expect("status --json prints JSON");
    let seen: BTreeSet<String> = rows.iter().map(|r| r["tenant"].as_str().unwrap().to_string()).collect();
    assert_eq!(seen, simulated_tenant_ids().await, "every simulated tenant, and only those");
    for r in &rows {
        let h = r["health"].as_str().unwrap();
        assert!(["ok", "degraded", "critical", "unknown"].contains(&h), "{r}");
        assert!(!r["reasons"].as_array().unwrap().is_empty(), "health without a reason: {r}");
        assert!(r["region"].as_str().unwrap().contains('-'));
    }
    let health_of = |t: &str, region: &str| {
        rows.iter()
            .find(|r| r["tenant"] == t && r["region"] == region)
            .map(|r| r["health"].as_str().unwrap().to_string())
    };
    // The injected incidents: globex's 5xx spike with its alarm, initech's
    // latency regression.
    assert_eq!(health_of("globex", "us-east-1").as_deref(), Some("critical"));
    assert_eq!(health_of("initech", "eu-west-1").as_deref(), Some("critical"));
    let globex = rows.iter().find(|r| r["tenant"] == "globex" && r["region"] == "us-east-1").unwrap();
    assert!(globex["reasons"].to_string().contains("in ALARM"), "{globex}");
    // Most of the fleet is healthy: the demo is not a wall of red.
    let ok = rows.iter().filter(|r| r["health"] == "ok").count();
    assert!(ok * 2 > rows.len(), "only {ok} of {} rows ok", rows.len());

    // When the alarm fired is on record (DescribeAlarmHistory).
    let c = fleetdeck_engine::cache::Cache::open(&cache).await.unwrap();
    let fired: Vec<String> = sqlx::query_scalar(
        "SELECT summary FROM alarm_history WHERE tenant_id = 'globex' AND region = 'us-east-1' ORDER BY at DESC",
    )
    .fetch_all(c.pool())
    .await
    .unwrap();
    assert_eq!(fired.first().map(String::as_str), Some("Alarm updated from OK to ALARM"), "{fired:?}");
    drop(c);

    // A re-sync reads only what is new and duplicates nothing.
    let points_before = count_points(&cache).await;
    let again = fleetdeck(&cache, &["sync", "--demo"]);
    assert!(again.status.success());
    let points_after = count_points(&cache).await;
    assert!(
        points_after - points_before < points_before / 10,
        "re-sync added {} rows to {points_before}",
        points_after - points_before
    );

    let table = fleetdeck(&cache, &["status", "--demo"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("[DEMO] Simulated fleet"), "{text}");
    assert!(text.contains("CRITICAL  Globex"), "{text}");
}

async fn count_points(cache: &Path) -> i64 {
    let c = fleetdeck_engine::cache::Cache::open(cache).await.unwrap();
    c.datapoint_count().await.unwrap()
}

#[test]
fn every_command_has_help() {
    for args in [&["--help"][..], &["sync", "--help"], &["status", "--help"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_fleetdeck")).args(args).output().unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: fleetdeck"));
    }
}

#[test]
fn a_bad_fleet_file_is_reported_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet.toml");
    std::fs::write(&fleet, "[fleet]\nregion = \"us-east-1\"\nrole_name = \"R\"\n\n[[tenant]]\nid = \"acme\"\ntier = \"gold\"\nmodel = \"pooled\"\naccount = \"111111111111\"\nhome_region = \"mars-north-1\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fleetdeck"))
        .args(["sync", "--fleet"])
        .arg(&fleet)
        .arg("--cache")
        .arg(dir.path().join("c.sqlite"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:10: tenant[0].home_region: unknown region \"mars-north-1\"", fleet.display())),
        "{err}"
    );
}

/// An operator onboarding account-per-tenant customers: the fleet file
/// lacks two tenants whose accounts are tagged in AWS Organizations;
/// `discover` drafts exactly those, `--merge` adds them to a file that still
/// validates, and running it again changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_finds_the_tagged_accounts_missing_from_the_fleet_and_merges_them() {
    let sim = SimFleet::start(SimOptions::default()).await.unwrap();
    let mut fleet: toml::Value = toml::from_str(&sim.fleet_toml()).unwrap();
    // Two silo tenants, one of them outside the fleet's base region.
    let base = fleet["fleet"]["region"].as_str().unwrap().to_string();
    let tenants = fleet["tenant"].as_array_mut().unwrap();
    let silos: Vec<&toml::Value> = tenants.iter().filter(|t| t["model"].as_str() == Some("silo")).collect();
    let away = silos.iter().find(|t| t["home_region"].as_str() != Some(base.as_str())).expect("a silo away from base");
    let home = silos.iter().find(|t| t["home_region"].as_str() == Some(base.as_str())).expect("a silo in base");
    let homes: Vec<(String, String)> = [away, home]
        .iter()
        .map(|t| (t["id"].as_str().unwrap().to_string(), t["home_region"].as_str().unwrap().to_string()))
        .collect();
    let removed: Vec<String> = homes.iter().map(|(id, _)| id.clone()).collect();
    tenants.retain(|t| !removed.iter().any(|r| t["id"].as_str() == Some(r)));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.toml");
    std::fs::write(&path, toml::to_string(&fleet).unwrap()).unwrap();

    let discover = |merge: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleetdeck"));
        cmd.args(["discover", "--fleet"]).arg(&path).arg("--cache").arg(dir.path().join("c.sqlite"));
        if merge {
            cmd.arg("--merge");
        }
        let out = cmd
            .env("AWS_ACCESS_KEY_ID", SimFleet::ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SimFleet::SECRET_ACCESS_KEY)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    };

    let (drafts, note) = discover(false);
    assert_eq!(drafts.matches("[[tenant]]").count(), 2, "{drafts}");
    for id in &removed {
        assert!(drafts.contains(&format!("id = \"{id}\"")), "{id} not drafted:\n{drafts}");
    }
    assert!(note.contains("2 not yet in the fleet"), "{note}");

    let (_, note) = discover(true);
    assert!(note.contains("added 2 tenants"), "{note}");
    let catalog = fleetdeck_engine::catalog::Catalog::builtin().unwrap();
    let merged = fleetdeck_engine::fleet::Fleet::load(&path, &catalog).expect("the merged file validates");
    assert_eq!(merged.tenants.len(), 24);
    for (id, region) in &homes {
        let t = merged.tenant(id).unwrap();
        assert!(t.external_id.as_deref().unwrap().starts_with(&format!("fleetdeck-{id}-")));
        // Drafted where the account spends, not in the fleet's base region.
        assert_eq!(&t.home_region, region, "{id}");
    }
    assert!(sim.requests().iter().any(|r| r.action == "ListTagsForResource"));
    let ce: u64 = sim.requests().iter().filter(|r| r.action == "GetCostAndUsage").map(|r| r.count).sum();
    assert_eq!(ce, 2, "one spend-by-region request per run that drafts something");

    let before = std::fs::read_to_string(&path).unwrap();
    let (drafts, note) = discover(true);
    assert!(drafts.is_empty() && note.contains("0 not yet in the fleet"), "{note}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before, "nothing new, nothing written");
}
