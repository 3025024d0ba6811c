//! Thousands of tenants through one monitoring account (issue 21):
//! CloudWatch cross-account observability. The simulated fleet's accounts
//! are linked to a sink in its monitoring account in every region; a mixed
//! fleet file reads most tenants there (no role of their own), the shared
//! ones there too but with their own role for their tag map and alarms,
//! and the remote ones through their own roles as before. Synced both ways
//! over the same simulated data, the two caches hold the same telemetry.

use std::collections::BTreeSet;
use std::path::Path;

use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::check::{self, CheckOptions, Probe, Problem, Verdict};
use fleetdeck_engine::fleet::Fleet;
use fleetdeck_engine::model::SourceStatus;
use fleetdeck_engine::sync::{self, SyncOptions};
use fleetdeck_engine::view;
use fleetdeck_sim::{Model, SimKnobs, SimOptions};
use fleetdeck_testkit::world::{epoch_now, World, SEED};
use sqlx::Row;

async fn linked_world(epoch: i64) -> World {
    let opts = SimOptions { seed: SEED, tenants: 24, now: epoch, monitoring: true, ..SimOptions::default() };
    World::start_options(opts, Catalog::builtin().unwrap()).await
}

/// The same simulated fleet as its mixed fleet file describes it.
fn mixed(w: &World) -> Fleet {
    Fleet::parse(Path::new("<mixed fleet>"), &w.sim.monitoring_fleet_toml(), &w.catalog)
        .expect("the mixed fleet file is valid")
}

async fn sync(w: &World, fleet: &Fleet, cache: &Cache) -> fleetdeck_engine::model::SyncSummary {
    let aws = w.aws().await;
    sync::run(fleet, &w.catalog, &aws, cache, &SyncOptions::at(w.epoch), &|_| {}).await.expect("the sync completes")
}

/// Rows of a query, each as one line of text, sorted.
async fn rows(cache: &Cache, sql: &'static str) -> Vec<String> {
    let found = sqlx::query(sql).fetch_all(cache.pool()).await.unwrap();
    let mut out: Vec<String> = found
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| {
                    r.try_get::<Option<String>, _>(i)
                        .map(|v| v.unwrap_or_default())
                        .or_else(|_| {
                            r.try_get::<Option<i64>, _>(i).map(|v| v.map(|v| v.to_string()).unwrap_or_default())
                        })
                        .or_else(|_| {
                            r.try_get::<Option<f64>, _>(i).map(|v| v.map(|v| format!("{v:.6}")).unwrap_or_default())
                        })
                        .unwrap()
                })
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect();
    out.sort();
    out
}

/// What both ways of reading must agree on: every datapoint of every
/// series, the anomalies found in them, the alarms (but their ARNs: the
/// monitoring account's copy has its own) and their history, the triage
/// queries' answers, and the health assessed from all of it.
const SAME: [(&str, &str); 6] = [
    (
        "datapoints",
        "SELECT s.tenant_id, s.region, s.metric_key, s.dimensions, COUNT(*), SUM(d.value), MIN(d.ts), MAX(d.ts)
         FROM datapoint d JOIN series s ON s.id = d.series_id GROUP BY s.id",
    ),
    ("anomalies", "SELECT tenant_id, region, metric_key, start, \"end\", direction, peak_ts, peak_value FROM anomaly"),
    (
        "alarms",
        "SELECT tenant_id, region, name, state, reason, state_changed_at, namespace, metric_name, threshold FROM alarm",
    ),
    ("alarm history", "SELECT tenant_id, region, alarm_name, at, summary FROM alarm_history"),
    ("logs", "SELECT tenant_id, region, query_key, rows, records_matched, truncated, withheld FROM log_result"),
    ("health", "SELECT tenant_id, region, health, reasons, focus_metric FROM health"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_fleet_through_the_monitoring_account_reads_what_roles_read() {
    let epoch = epoch_now();
    let w = linked_world(epoch).await;
    let monitoring = w.sim.monitoring_account().expect("a monitoring account").to_string();
    let linked = mixed(&w);
    let by_role: Vec<&str> = linked.tenants.iter().filter(|t| !t.monitored).map(|t| t.id.as_str()).collect();
    let only_linked: Vec<&str> =
        linked.tenants.iter().filter(|t| t.monitored && !t.has_role()).map(|t| t.id.as_str()).collect();
    assert!(!by_role.is_empty() && only_linked.len() > linked.tenants.len() / 2, "a mixed fleet, mostly linked");

    let dir = tempfile::tempdir().unwrap();
    let roles = Cache::open(&dir.path().join("roles.sqlite")).await.unwrap();
    let mixed_cache = Cache::open(&dir.path().join("mixed.sqlite")).await.unwrap();
    let a = sync(&w, &w.fleet, &roles).await;
    let assumed_before = w.sim.assume_role_requests().len();
    let b = sync(&w, &linked, &mixed_cache).await;
    assert_eq!((a.sources_failed, b.sources_failed), (0, 0), "{:?}\n{:?}", a.errors, b.errors);
    assert!(a.datapoints > 10_000, "a real backfill: {}", a.datapoints);

    for (what, sql) in SAME {
        let (x, y) = (rows(&roles, sql).await, rows(&mixed_cache, sql).await);
        let only_x: Vec<&String> = x.iter().filter(|r| !y.contains(r)).take(5).collect();
        let only_y: Vec<&String> = y.iter().filter(|r| !x.contains(r)).take(5).collect();
        assert!(
            x == y,
            "{what}: {} rows by role, {} through the monitoring account\nonly by role: {only_x:#?}\nonly linked: {only_y:#?}",
            x.len(),
            y.len()
        );
        assert!(!x.is_empty(), "{what}: something to compare");
    }

    // The linked tenants' roles were never assumed: one role per region
    // read them all, and their metrics were asked for by AccountId.
    let assumed: Vec<String> =
        w.sim.assume_role_requests()[assumed_before..].iter().map(|r| r.role_arn.clone()).collect();
    for id in &only_linked {
        let t = linked.tenant(id).unwrap();
        assert!(!assumed.iter().any(|arn| arn.contains(&t.account)), "{id}'s account was not entered: {assumed:?}");
    }
    assert!(assumed.iter().any(|arn| arn.contains(&monitoring)), "{assumed:?}");
    let gmd_in_monitoring: u64 = w
        .sim
        .requests()
        .iter()
        .filter(|r| r.account == monitoring && r.action == "GetMetricData")
        .map(|r| r.count)
        .sum();
    assert!(gmd_in_monitoring > 0, "metrics were read in the monitoring account");
    assert!(
        b.api_calls < a.api_calls,
        "packed across accounts: {} calls through the sink, {} by role",
        b.api_calls,
        a.api_calls
    );
    // Linked tenants with log groups of their own shared their error
    // breakdown: one query over many tenants' groups, split by `@log`.
    let own_groups = linked
        .tenants
        .iter()
        .filter(|t| t.monitored && t.selector.log_tenant_field.is_none())
        .map(|t| t.regions().count())
        .sum::<usize>();
    let queries = w.sim.insights_queries();
    let shared =
        queries.iter().filter(|(account, _, q)| account == &monitoring && q.contains("by @log, error_type")).count();
    assert!(shared > 0 && shared * 3 < own_groups, "{shared} shared queries for {own_groups} tenant-regions");

    // The views say what a linked tenant without a role cannot show.
    let hidden = linked.tenant(only_linked[0]).unwrap();
    let page = view::tenant(&mixed_cache, &w.catalog, &hidden.id, epoch).await.unwrap();
    assert!(page.tenant.own_alarms_hidden, "the Tenant page says its own alarms are not visible");
    assert_eq!(page.tenant.monitoring_account.as_deref(), Some(monitoring.as_str()));
    assert!(page.console.is_empty(), "no role: no console links into its account");
    let roled = view::tenant(&roles, &w.catalog, &hidden.id, epoch).await.unwrap();
    assert!(!roled.tenant.own_alarms_hidden && roled.tenant.monitoring_account.is_none());
    let settings = fleetdeck_engine::model::Settings::default();
    let sources = view::sources(&mixed_cache, &linked, &w.catalog, &settings, epoch).await.unwrap();
    let alarms = sources.rows.iter().find(|r| r.tenant == hidden.id && r.source == "alarms").unwrap();
    let detail = alarms.detail.as_deref().unwrap_or_default();
    assert!(detail.contains("are not visible") && detail.contains(&monitoring), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_the_missing_link_and_what_a_link_does_not_share_with_the_fix() {
    let epoch = epoch_now();
    let w = linked_world(epoch).await;
    let linked = mixed(&w);
    let silos: Vec<&fleetdeck_engine::fleet::Tenant> =
        linked.tenants.iter().filter(|t| t.monitored && t.model.owns_account()).collect();
    let (unlinked, no_logs) = (silos[0], silos[1]);
    w.sim.set_knobs(SimKnobs {
        clock: Some(epoch),
        oam_unlinked: vec![(unlinked.account.clone(), unlinked.home_region.clone())],
        oam_withheld: vec![(no_logs.account.clone(), no_logs.home_region.clone(), "AWS::Logs::LogGroup".into())],
        ..SimKnobs::default()
    });
    let aws = w.aws().await;
    let rows = check::run(&linked, &w.catalog, &aws, &CheckOptions::at(epoch)).await.unwrap();
    let row = |t: &str, region: &str, probe: Probe| {
        rows.iter().find(|r| r.tenant == t && r.region == region && r.check == probe).cloned()
    };
    let sink = rows.iter().find(|r| r.tenant == "*" && r.region == "us-east-1" && r.check == Probe::Sink).unwrap();
    assert_eq!(sink.result, Verdict::Ok, "{sink:?}");
    let link = row(&unlinked.id, &unlinked.home_region, Probe::Link).unwrap();
    assert_eq!((link.result, link.problem), (Verdict::Failed, Some(Problem::NotLinked)), "{link:?}");
    assert!(link.message.contains(&unlinked.account), "{link:?}");
    assert!(link.fix.as_deref().unwrap().contains("aws oam create-link --sink-identifier arn:aws:oam:"), "{link:?}");
    let link = row(&no_logs.id, &no_logs.home_region, Probe::Link).unwrap();
    assert_eq!(link.problem, Some(Problem::NotLinked), "{link:?}");
    assert!(link.message.contains("does not share AWS::Logs::LogGroup"), "{link:?}");
    assert!(link.fix.as_deref().unwrap().contains("aws oam update-link --identifier arn:aws:oam:"), "{link:?}");
    // A linked, sharing tenant checks clean through the monitoring account.
    let fine = silos[2];
    for probe in [Probe::Link, Probe::Cloudwatch, Probe::Alarms, Probe::Logs] {
        let r = row(&fine.id, &fine.home_region, probe).unwrap();
        assert_eq!(r.result, Verdict::Ok, "{r:?}");
    }
    assert!(row(&fine.id, "*", Probe::Credentials).unwrap().message.contains("no role of its own"));

    // The sync reads the unlinked account's region as empty, and says why.
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    sync(&w, &linked, &cache).await;
    let sources = cache.all_sources().await.unwrap();
    let metrics = sources
        .iter()
        .find(|s| s.tenant_id == unlinked.id && s.region == unlinked.home_region && s.source == "metrics")
        .unwrap();
    assert_eq!(metrics.status, SourceStatus::NotConfigured, "{metrics:?}");
    let error = metrics.error.as_deref().unwrap_or_default();
    assert!(error.contains("monitoring account") && error.contains(&unlinked.account), "{metrics:?}");
    assert!(metrics.remediation.as_deref().unwrap_or_default().contains("fleetdeck check"), "{metrics:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_drafts_the_linked_accounts_not_yet_in_the_fleet() {
    let epoch = epoch_now();
    let w = linked_world(epoch).await;
    let full = mixed(&w);
    // A fleet file that has only the monitoring section and the remote
    // tenants: every other linked account is new to it.
    let mut partial = full.clone();
    partial.tenants.retain(|t| t.model == fleetdeck_engine::fleet::Model::Remote);
    let aws = w.aws().await;
    let found = fleetdeck_engine::discover::linked_accounts(&aws, full.monitoring.as_ref().unwrap()).await.unwrap();
    let accounts: BTreeSet<&str> = found.iter().map(|l| l.account.as_str()).collect();
    let silo = w.sim.tenants().iter().find(|t| t.model == Model::Silo).unwrap();
    assert!(accounts.contains(silo.account.as_str()), "{found:?}");
    let mine = found.iter().find(|l| l.account == silo.account).unwrap();
    assert_eq!(mine.regions[0], silo.home_region, "{mine:?}");
    let (drafts, _) = fleetdeck_engine::discover::drafts_linked(&partial, &found, &[]);
    assert!(drafts.contains("via = \"monitoring\""), "{drafts}");
    assert!(drafts.contains(&format!("account = \"{}\"", silo.account)), "{drafts}");
    // The full fleet already holds every account: drafting against it adds none.
    let (none, _) = fleetdeck_engine::discover::drafts_linked(&full, &found, &[]);
    assert_eq!(none, "", "every linked account is in the full fleet");
    // Drafted entries parse as they are, after the fleet file's sections.
    let head = w.sim.monitoring_fleet_toml().split("\n[[tenant]]").next().unwrap_or_default().to_string();
    let merged = format!("{head}\n{drafts}");
    Fleet::parse(Path::new("<drafts>"), &merged, &w.catalog)
        .unwrap_or_else(|e| panic!("the drafts parse: {e}\n{merged}"));
}

use super::check::fleetdeck;

/// The commands as an operator runs them on a mixed fleet file: `check`
/// passes with the sink and every link shown, `discover` drafts the linked
/// accounts a fleet file lacks, `policy --monitoring` prints the
/// monitoring role's policies and the sink's, naming the accounts given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_discover_and_policy_work_in_monitoring_mode_from_the_command_line() {
    let epoch = epoch_now();
    let w = linked_world(epoch).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.toml");
    std::fs::write(&path, w.sim.monitoring_fleet_toml()).unwrap();
    let file = path.to_str().unwrap();
    let out = fleetdeck(&["check", "--fleet", file]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("sink") && text.contains("linked accounts"), "{text}");
    let linked = mixed(&w).tenants.iter().filter(|t| t.monitored).count();
    assert!(text.matches("linked as").count() >= linked, "a link row per linked tenant-region:\n{text}");
    // A linked tenant's staging account has no link: it is checked through
    // the staging role, as the sync reads it.
    let staging = |check: &str| text.lines().any(|l| l.contains("@staging") && l.contains(check) && l.contains("ok"));
    assert!(staging("credentials") && staging("cloudwatch"), "{text}");

    // After a sync, `status` says who is read through the monitoring
    // account, and how many of them have no role (their alarms unseen).
    let cache = dir.path().join("cache.sqlite");
    let out = fleetdeck(&["sync", "--fleet", file, "--cache", cache.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = fleetdeck(&["status", "--cache", cache.to_str().unwrap()]);
    let status = String::from_utf8_lossy(&out.stdout);
    let fleet = mixed(&w);
    let without_role = fleet.tenants.iter().filter(|t| t.monitored && !t.has_role()).count();
    assert!(without_role > 0 && without_role < linked);
    let monitoring = &fleet.monitoring.as_ref().unwrap().account;
    assert!(
        status.contains(&format!(
            "read through the monitoring account {monitoring}: {linked} tenants ({without_role} without a role of \
             their own: their accounts' alarms are not visible, only the monitoring account's on their metrics)"
        )),
        "{status}"
    );

    // The fleet file without its linked tenants: discover drafts them.
    let head = w.sim.monitoring_fleet_toml().split("\n[[tenant]]").next().unwrap_or_default().to_string();
    std::fs::write(&path, &head).unwrap();
    let out = fleetdeck(&["discover", "--fleet", file]);
    let drafts = String::from_utf8_lossy(&out.stdout);
    let note = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{note}");
    assert!(note.contains("accounts linked to the monitoring account"), "{note}");
    let silo = w.sim.tenants().iter().find(|t| t.model == Model::Silo).unwrap();
    assert!(drafts.contains(&format!("account = \"{}\"\nvia = \"monitoring\"", silo.account)), "{drafts}");

    let out = fleetdeck(&["policy", "--monitoring", "--linked-account", &silo.account]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("policy prints JSON");
    let actions = doc["permissions_policy"]["Statement"][0]["Action"].to_string();
    assert!(actions.contains("oam:ListAttachedLinks") && !actions.contains("tag:GetResources"), "{actions}");
    assert_eq!(doc["sink_policy"]["Statement"][0]["Principal"]["AWS"][0], silo.account.as_str());
    assert!(doc["trust_policy"]["Statement"][0].get("Condition").is_none(), "no ExternalId for one's own account");
    let out = fleetdeck(&["policy", "--only", "sink"]);
    assert_eq!(out.status.code(), Some(2), "the sink policy is the monitoring account's");
}
