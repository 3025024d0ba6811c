//! The realistic broken fleet (`fleetdeck_testkit::broken`): every condition
//! a real fleet is found with, at once, and for each the exact status,
//! reason and fix that `check`, `status` and the console (its Sources,
//! Fleet and Incidents views) show. `check` names every broken tenant
//! before any sync; the healthy ones, the 60 log groups and the idle
//! standby region among them, pass.

use std::path::Path;
use std::process::Output;

use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::model::{Health, SourceRow, SourceStatus};
use fleetdeck_sim::SimFleet;
use fleetdeck_testkit::broken::{self, BrokenFleet};
use fleetdeck_testkit::world::epoch_now;
use serde_json::Value;

use super::alarms::sync_as_is;

/// The CLI in an environment of its own: `home` (with the SSO config), the
/// simulator's keys unless a profile is named, no metadata service.
fn fleetdeck(home: &Path, profile: Option<&str>, args: &[&str]) -> Output {
    match profile {
        Some(p) => super::credentials::fleetdeck(home, &[], &[&["--profile", p][..], args].concat()),
        None => super::credentials::fleetdeck(
            home,
            &[("AWS_ACCESS_KEY_ID", SimFleet::ACCESS_KEY_ID), ("AWS_SECRET_ACCESS_KEY", SimFleet::SECRET_ACCESS_KEY)],
            args,
        ),
    }
}

/// `(check, problem, status, message, fix)` of a tenant's failed rows.
fn failures<'a>(rows: &'a [Value], tenant: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["tenant"] == tenant && r["result"] == "failed").collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_every_broken_tenant_of_the_realistic_fleet_with_its_fix_before_any_sync() {
    let b = BrokenFleet::start(epoch_now()).await;
    let file = b.fleet_file();
    let out = fleetdeck(b.dir.path(), None, &["check", "--fleet", file.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1), "a tenant fails: exit 1\n{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("check --json prints JSON");
    let only = |tenant: &str| -> &Value {
        let f = failures(&rows, tenant);
        assert_eq!(f.len(), 1, "{tenant}: {f:#?}");
        f[0]
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();

    // Credentials: AWS answers a wrong ExternalId and a missing role alike;
    // the fix says both, and that our fleet file may be the wrong one.
    for tenant in [broken::WRONG_EXTERNAL_ID, broken::RENAMED_ROLE] {
        let r = only(tenant);
        assert_eq!(
            (text(&r["check"]), text(&r["problem"]), text(&r["status"])),
            ("credentials".into(), "trust_policy".into(), "access_denied".into()),
            "{r:#}"
        );
        let fix = text(&r["fix"]);
        let role = &b.world.fleet.tenant(tenant).unwrap().role_arn;
        assert!(fix.contains(&format!("role {role} must exist")), "{fix}");
        assert!(fix.contains("it is the fleet file's external_id that is wrong"), "{fix}");
    }
    // A role missing an action: that action is the line to add.
    for (tenant, check, action) in [
        (broken::NO_DESCRIBE_ALARMS, "alarms", "cloudwatch:DescribeAlarms"),
        (broken::NO_START_QUERY, "logs", "logs:StartQuery"),
    ] {
        let f = failures(&rows, tenant);
        assert!(!f.is_empty(), "{tenant}");
        for r in f {
            assert_eq!((text(&r["check"]), text(&r["problem"])), (check.into(), "missing_action".into()), "{r:#}");
            assert!(text(&r["fix"]).starts_with(&format!("add \"{action}\"")), "{r:#}");
        }
    }
    // Selectors that find nothing: named with the fleet-file line.
    for tenant in [broken::NO_SUCH_LOAD_BALANCER, broken::TENANT_ID_TYPO] {
        let f = failures(&rows, tenant);
        assert!(!f.is_empty(), "{tenant}");
        for r in f {
            assert_eq!(
                (text(&r["check"]), text(&r["problem"]), text(&r["status"])),
                ("cloudwatch".into(), "no_data".into(), "not_configured".into()),
                "{r:#}"
            );
            assert!(text(&r["message"]).contains("no datapoints in the last 24 h"), "{r:#}");
            let line = b.line(tenant);
            assert!(text(&r["fix"]).contains(&format!("(fleet file line {line})")), "{r:#}");
        }
    }
    let r = only(broken::NO_SUCH_LOG_GROUP);
    assert_eq!((text(&r["check"]), text(&r["problem"])), ("logs".into(), "no_log_group".into()), "{r:#}");
    assert!(text(&r["message"]).contains("/planet-express/api"), "{r:#}");
    assert!(text(&r["fix"]).contains(&format!("fleet file line {}", b.line(broken::NO_SUCH_LOG_GROUP))), "{r:#}");

    // Healthy despite appearances: 60 log groups under one prefix, an idle
    // standby region.
    let row = |tenant: &str, region: &str, check: &str| {
        rows.iter().find(|r| r["tenant"] == tenant && r["region"] == region && r["check"] == check).cloned()
    };
    let tyrell = row(broken::SIXTY_LOG_GROUPS, "us-east-1", "logs").expect("tyrell's logs row");
    assert_eq!(tyrell["result"], "ok", "{tyrell:#}");
    let (globex, standby) = broken::STANDBY;
    let idle = row(globex, standby, "cloudwatch").expect("the standby region is checked");
    assert_eq!(idle["result"], "ok", "an idle standby region is not a broken selector: {idle:#}");
    assert!(text(&idle["message"]).contains("standby"), "{idle:#}");

    let failing: std::collections::BTreeSet<String> =
        rows.iter().filter(|r| r["result"] == "failed").map(|r| text(&r["tenant"])).collect();
    let want: std::collections::BTreeSet<String> = broken::BROKEN.iter().map(|s| s.to_string()).collect();
    assert_eq!(failing, want, "exactly the broken tenants fail");

    // The same fleet through an SSO profile that is not logged in: every
    // tenant, no credentials, with the exact command; nothing sent.
    let before = b.world.sim.requests().iter().map(|r| r.count).sum::<u64>();
    let out = fleetdeck(b.dir.path(), Some("sso-dev"), &["check", "--fleet", file.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    for t in &b.world.fleet.tenants {
        let r = only_of(&rows, &t.id);
        assert_eq!(
            (text(&r["problem"]), text(&r["status"])),
            ("no_credentials".into(), "no_credentials".into()),
            "{r:#}"
        );
        assert!(text(&r["fix"]).contains("aws sso login --profile sso-dev"), "{r:#}");
    }
    assert_eq!(b.world.sim.requests().iter().map(|r| r.count).sum::<u64>(), before, "nothing reached AWS");
}

fn only_of<'a>(rows: &'a [Value], tenant: &str) -> &'a Value {
    let f = failures(rows, tenant);
    assert_eq!(f.len(), 1, "{tenant}: {f:#?}");
    f[0]
}

/// Two syncs (before tyrell's blip and after it), then what `status` and
/// the console's Sources, Fleet and Incidents views say of each condition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_the_console_give_each_condition_of_the_realistic_fleet_its_true_status() {
    let epoch = epoch_now();
    let b = BrokenFleet::start(epoch).await;
    let path = b.dir.path().join("cache.sqlite");
    let cache = Cache::open(&path).await.unwrap();
    for at in [epoch - 110 * 60, epoch] {
        b.knobs(at);
        sync_as_is(&b.world, &cache, at).await;
    }

    // The console's Sources view.
    let w = &b.world;
    let settings = fleetdeck_engine::model::Settings::default();
    let sources = fleetdeck_engine::view::sources(&cache, &w.fleet, &w.catalog, &settings, epoch).await.unwrap();
    let not_ok: Vec<_> = sources.rows.iter().filter(|r| r.status != SourceStatus::Ok).collect();
    let of = |tenant: &str| -> Vec<_> { not_ok.iter().filter(|r| r.tenant == tenant).collect() };
    for tenant in [broken::WRONG_EXTERNAL_ID, broken::RENAMED_ROLE] {
        let rows = of(tenant);
        assert!(!rows.is_empty(), "{tenant}");
        assert!(rows.iter().any(|r| r.source == "credentials" && r.status == SourceStatus::AccessDenied), "{rows:#?}");
        let fix = rows[0].remediation.as_deref().unwrap_or_default();
        assert!(fix.contains("ExternalId"), "{tenant}: {fix}");
    }
    for (tenant, source, action) in [
        (broken::NO_DESCRIBE_ALARMS, "alarms", "cloudwatch:DescribeAlarms"),
        (broken::NO_START_QUERY, "logs", "logs:StartQuery"),
    ] {
        let rows = of(tenant);
        // Alarm history is read only for alarms that were read: it fails
        // with them, saying so.
        let derived = |r: &&&SourceRow| r.source == source || (source == "alarms" && r.source == "alarm_history");
        assert!(!rows.is_empty() && rows.iter().all(derived), "{tenant}: {rows:#?}");
        for r in rows {
            assert_eq!(r.status, SourceStatus::AccessDenied, "{r:#?}");
            assert!(r.remediation.as_deref().unwrap_or_default().contains(action), "{r:#?}");
        }
    }
    for tenant in [broken::NO_SUCH_LOAD_BALANCER, broken::TENANT_ID_TYPO] {
        let rows = of(tenant);
        assert!(!rows.is_empty() && rows.iter().all(|r| r.source == "metrics"), "{tenant}: {rows:#?}");
        for r in rows {
            assert_eq!(r.status, SourceStatus::NotConfigured, "{r:#?}");
            let line = b.line(tenant);
            assert!(r.remediation.as_deref().unwrap_or_default().contains(&format!("line {line}")), "{r:#?}");
        }
    }
    let rows = of(broken::NO_SUCH_LOG_GROUP);
    assert!(!rows.is_empty() && rows.iter().all(|r| r.source == "logs"), "{rows:#?}");
    assert!(
        rows[0]
            .remediation
            .as_deref()
            .unwrap_or_default()
            .contains(&format!("line {}", b.line(broken::NO_SUCH_LOG_GROUP))),
        "{rows:#?}"
    );
    let failing: std::collections::BTreeSet<&str> = not_ok.iter().map(|r| r.tenant.as_str()).collect();
    let want: std::collections::BTreeSet<&str> = broken::BROKEN.into_iter().collect();
    assert_eq!(failing, want, "exactly the broken tenants have sources not ok: {not_ok:#?}");

    // `status` prints the same sources with their fixes.
    let out = fleetdeck(
        b.dir.path(),
        None,
        &["status", "--fleet", b.fleet_file().to_str().unwrap(), "--cache", path.to_str().unwrap()],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for r in &not_ok {
        let head = format!("  {} {} {}: {}", r.tenant, r.region, r.source, r.status.label());
        assert!(text.contains(&head), "status lacks {head:?}:\n{text}");
    }

    // Fleet health: the standby region is standby, not unknown; the
    // composite alarm and the platform alarm are reasons where they apply.
    let fleet = fleetdeck_engine::view::fleet_overview(&cache, &b.world.catalog, false, epoch).await.unwrap();
    let (globex, standby) = broken::STANDBY;
    let idle = fleet.rows.iter().find(|r| r.tenant == globex && r.region == standby).expect("globex standby row");
    assert_eq!(idle.health, Health::Ok, "{idle:#?}");
    assert_eq!(idle.reasons, ["standby: idle, as a failover region is until it is needed"]);
    let incidents = fleetdeck_engine::view::incidents(&cache, 24, epoch).await.unwrap().incidents;
    // Signals of one problem are grouped: look inside each incident too.
    let named = |subject: &str| {
        incidents
            .iter()
            .flat_map(|i| std::iter::once(i).chain(i.evidence.iter()))
            .filter(|i| i.subject == subject)
            .collect::<Vec<_>>()
    };
    assert_eq!(named(broken::COMPOSITE_ALARM.1).len(), 1, "{incidents:#?}");
    // One alarm per region the shared account runs in: each is one incident.
    let platform: Vec<_> = named(broken::PLATFORM_ALARM).into_iter().filter(|i| i.region == "us-east-1").collect();
    assert_eq!(platform.len(), 1, "a platform alarm is one incident, naming its tenants: {platform:#?}");
    assert!(
        platform[0].title.starts_with(&format!("platform alarm {} (shared account, reaches ", broken::PLATFORM_ALARM)),
        "{:#?}",
        platform[0]
    );
    let blip = named(broken::BLIP_ALARM.1);
    assert_eq!(blip.len(), 1, "{incidents:#?}");
    assert!(blip[0].end.is_some(), "the blip fired and cleared between the syncs: {:#?}", blip[0]);
}
