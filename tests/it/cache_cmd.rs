//! `fleetdeck cache` through the real binary: an operator whose cache has
//! grown syncs the demo, looks at what takes the room, drops a tenant that
//! left, and compacts the file.

use std::path::Path;
use std::process::Command;

fn fleetdeck(cache: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fleetdeck"))
        .args(args)
        .arg("--demo")
        .arg("--cache")
        .arg(cache)
        // Nothing from the developer's own AWS setup may leak in.
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run fleetdeck")
}

fn stdout(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

async fn count(cache: &Path, sql: &str) -> i64 {
    let c = fleetdeck_engine::cache::Cache::open(cache).await.unwrap();
    let n = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(c.pool()).await.unwrap();
    c.pool().close().await;
    n
}

#[tokio::test]
async fn an_operator_sizes_the_cache_drops_a_tenant_and_compacts_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("demo.sqlite");

    let before = fleetdeck(&cache, &["cache"]);
    assert!(!before.status.success());
    assert!(String::from_utf8_lossy(&before.stderr).contains("run `fleetdeck sync --demo` first"));

    stdout(&fleetdeck(&cache, &["sync"]));
    let points = count(&cache, "SELECT count(*) FROM datapoint").await;
    assert!(points > 10_000, "{points}");

    // Sizes per table and per tenant, as JSON and as a table.
    let stats: serde_json::Value = serde_json::from_str(&stdout(&fleetdeck(&cache, &["cache", "stats", "--json"])))
        .expect("cache stats --json prints JSON");
    assert_eq!(stats["exact"], true, "dbstat is in the bundled SQLite");
    let tables = stats["tables"].as_array().unwrap();
    assert_eq!(tables[0]["table"], "datapoint", "the datapoints take the most room: {tables:?}");
    assert_eq!(tables[0]["rows"], points);
    let table_bytes: i64 = tables.iter().map(|t| t["bytes"].as_i64().unwrap()).sum();
    let file = stats["file_bytes"].as_i64().unwrap() + stats["wal_bytes"].as_i64().unwrap();
    assert!(table_bytes > 0 && table_bytes <= stats["pages"].as_i64().unwrap() * 4096, "{table_bytes} of {file}");
    let tenants = stats["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 24);
    let summed: i64 = tenants.iter().map(|t| t["datapoints"].as_i64().unwrap()).sum();
    assert_eq!(summed, points, "every datapoint belongs to exactly one tenant");
    let globex = tenants.iter().find(|t| t["tenant"] == "globex").unwrap();
    let globex_points = globex["datapoints"].as_i64().unwrap();
    assert!(globex_points > 0 && globex["bytes_estimate"].as_i64().unwrap() > 0, "{globex}");

    // The human table shows tenant names cleaned of control characters.
    let text = stdout(&fleetdeck(&cache, &["cache"]));
    assert!(text.contains("TABLE") && text.contains("datapoint") && text.contains("Globex"), "{text}");
    assert!(!text.contains('\u{1b}'), "no escape sequence reaches the terminal");

    // An unknown tenant is refused, and nothing is deleted.
    let unknown = fleetdeck(&cache, &["cache", "drop-tenant", "no-such-tenant"]);
    assert!(!unknown.status.success());
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(err.contains("no tenant \"no-such-tenant\"") && err.contains("nothing deleted"), "{err}");
    assert_eq!(count(&cache, "SELECT count(*) FROM datapoint").await, points);

    // Dropping globex deletes its rows, all of them, and only them.
    let dropped = stdout(&fleetdeck(&cache, &["cache", "drop-tenant", "globex"]));
    assert!(dropped.contains(&format!("dropped tenant globex: deleted {globex_points} datapoint")), "{dropped}");
    for table in ["series", "alarm", "alarm_history", "anomaly", "log_result", "cost_daily", "source_status", "health"]
    {
        let sql = format!("SELECT count(*) FROM {table} WHERE tenant_id = 'globex'");
        assert_eq!(count(&cache, &sql).await, 0, "{table}");
    }
    assert_eq!(count(&cache, "SELECT count(*) FROM tenant WHERE id = 'globex'").await, 0);
    assert_eq!(count(&cache, "SELECT count(*) FROM datapoint").await, points - globex_points);
    assert_eq!(count(&cache, "SELECT count(*) FROM tenant").await, 23);

    // Compacting gives the freed pages back to the disk.
    let compacted: serde_json::Value =
        serde_json::from_str(&stdout(&fleetdeck(&cache, &["cache", "compact", "--json"]))).unwrap();
    let (b, a) = (compacted["bytes_before"].as_i64().unwrap(), compacted["bytes_after"].as_i64().unwrap());
    assert!(a < b, "{compacted}");
    assert_eq!(std::fs::metadata(&cache).unwrap().len() as i64, a, "the WAL is emptied into the file");
    assert_eq!(count(&cache, "SELECT count(*) FROM datapoint").await, points - globex_points, "nothing lost");
}

/// A sync on a fleet file that does not parse says where, and leaves no
/// cache file (nor its WAL) behind: the file was read before the cache was
/// opened.
#[test]
fn a_sync_on_a_bad_fleet_file_creates_no_cache() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet.toml");
    std::fs::write(&fleet, "garbage\n").unwrap();
    let cache = dir.path().join("cache.sqlite");
    let out = Command::new(env!("CARGO_BIN_EXE_fleetdeck"))
        .args(["--fleet", fleet.to_str().unwrap(), "--cache", cache.to_str().unwrap(), "sync"])
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run fleetdeck");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fleet.toml:1:"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, [std::ffi::OsString::from("fleet.toml")], "nothing but the fleet file");
}
