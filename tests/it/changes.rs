//! What changed since the previous sync (issue 22): the Fleet view marks the
//! tenant-regions whose health changed and says "since HH:MM: N new
//! critical, M recovered"; a sync that changes nothing clears the marks.

use fleetdeck_engine::cache::Cache;
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::model::Health;
use fleetdeck_engine::view;
use fleetdeck_testkit::world::{epoch_now, World};

use super::alarms::sync_as_is;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_since_the_previous_sync_are_marked_after_a_second_sync_and_clear_after_a_third() {
    let epoch = epoch_now();
    let w = World::start_with(24, Catalog::builtin().unwrap(), epoch).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let knobs = |at: i64| w.sim.set_knobs(fleetdeck_sim::SimKnobs { clock: Some(at), ..Default::default() });

    // Before globex's 5xx spike, then during it.
    let before = epoch - 3 * 3600;
    knobs(before);
    sync_as_is(&w, &cache, before).await;
    let first = view::fleet_overview(&cache, &w.catalog, false, before).await.unwrap();
    assert!(first.changes.is_none(), "a first sync has nothing to compare with");
    assert!(first.rows.iter().all(|r| r.was.is_none()));
    let globex_then = first.rows.iter().find(|r| r.tenant == "globex" && r.region == "us-east-1").unwrap().health;
    assert_ne!(globex_then, Health::Critical);

    knobs(epoch);
    sync_as_is(&w, &cache, epoch).await;
    let second = view::fleet_overview(&cache, &w.catalog, false, epoch).await.unwrap();
    let globex = second.rows.iter().find(|r| r.tenant == "globex" && r.region == "us-east-1").unwrap();
    assert_eq!((globex.health, globex.was), (Health::Critical, Some(globex_then)), "{globex:#?}");
    let changes = second.changes.as_ref().expect("changes since the first sync");
    assert!(changes.new_critical >= 1, "{changes:#?}");
    assert_eq!(changes.since, fleetdeck_engine::clock::ms(before));
    let marked = second.rows.iter().filter(|r| r.was.is_some()).count() as u32;
    assert_eq!(marked, changes.new_critical + changes.new_degraded + changes.recovered + changes.other, "{changes:#?}");
    for r in second.rows.iter().filter(|r| r.was.is_some()) {
        assert_ne!(r.was, Some(r.health), "{r:#?}");
    }

    // The incidents and the Tenant page say what changed too: the spike
    // began after the sync before, so it is new; globex's region tab says
    // what it was.
    let incidents = view::incidents(&cache, 24, epoch).await.unwrap();
    let since = incidents.changed_since.expect("a sync before");
    let spike = incidents.incidents.iter().find(|i| i.tenant == "globex" && i.kind == "alarm" && i.end.is_none());
    assert!(spike.is_some_and(|i| i.start >= since), "the spike is new since {since}: {spike:#?}");
    let page = view::tenant(&cache, &w.catalog, "globex", epoch).await.unwrap();
    let tab = page.regions.iter().find(|r| r.region == "us-east-1").unwrap();
    assert_eq!(tab.was, Some(globex_then), "{tab:#?}");

    // Five minutes later nothing moved: the marks are gone.
    knobs(epoch + 300);
    sync_as_is(&w, &cache, epoch + 300).await;
    let third = view::fleet_overview(&cache, &w.catalog, false, epoch + 300).await.unwrap();
    let globex = third.rows.iter().find(|r| r.tenant == "globex" && r.region == "us-east-1").unwrap();
    assert_eq!(globex.was, None, "{globex:#?}");
    let page = view::tenant(&cache, &w.catalog, "globex", epoch + 300).await.unwrap();
    assert!(page.regions.iter().all(|r| r.was.is_none()), "{:#?}", page.regions);
    let changes = third.changes.as_ref().expect("compared with the second sync");
    assert_eq!(changes.since, fleetdeck_engine::clock::ms(epoch));
    assert_eq!(
        third.rows.iter().filter(|r| r.was.is_some()).count() as u32,
        changes.new_critical + changes.new_degraded + changes.recovered + changes.other
    );
}

/// One incident per problem (issue 22): globex's 5xx spike raised an alarm,
/// an anomaly, a peer departure and error logs within minutes in one tenant-region. The
/// Incidents view shows it once, led by the alarm, the other signals listed
/// inside; nothing is lost (every signal is in some incident).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globex_spike_is_one_incident_holding_its_alarm_anomaly_peer_and_log_evidence() {
    let epoch = epoch_now();
    let w = World::start_with(24, Catalog::builtin().unwrap(), epoch).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    sync_as_is(&w, &cache, epoch).await;
    let view = view::incidents(&cache, 24, epoch).await.unwrap();
    // The spike began 45 minutes ago (an unrelated episode of the day
    // before, which the detector may find at some times of day, is not it).
    let spike_began = (epoch - 45 * 60) * 1000;
    let globex: Vec<_> = view
        .incidents
        .iter()
        .filter(|i| i.tenant == "globex" && i.region == "us-east-1")
        .filter(|i| i.end.is_none_or(|end| end >= spike_began))
        .collect();
    assert_eq!(globex.len(), 1, "one incident for the spike: {globex:#?}");
    let spike = globex[0];
    assert_eq!(spike.kind, "alarm", "led by the alarm: {spike:#?}");
    let kinds: std::collections::BTreeSet<&str> = spike.evidence.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains("anomaly") && kinds.contains("peer") && kinds.contains("logs"),
        "evidence inside: {kinds:?}"
    );
    // The error logs of the hour it began in, counted inside AWS, name the
    // errors the spike threw.
    let logs = spike.evidence.iter().find(|e| e.kind == "logs").unwrap();
    assert!(logs.title.contains("error lines in its logs"), "{}", logs.title);
    assert!(logs.end.is_some_and(|end| end > spike.start), "the logs read cover the spike: {logs:#?}");
    // (The log evidence is the hour read, not a start.)
    let signals = spike.evidence.iter().filter(|e| e.kind != "logs");
    assert!(signals.clone().all(|e| e.start >= spike.start), "the incident starts with its first signal");
    assert!(spike.title.contains("signals"), "{}", spike.title);
    // Nothing lost: every raw signal is an incident or inside one.
    let raw = cache.incidents(epoch - 24 * 3600, epoch).await.unwrap();
    let shown: usize = view
        .incidents
        .iter()
        .filter(|i| i.kind != "cost")
        .map(|i| 1 + i.evidence.iter().filter(|e| e.kind != "logs").count())
        .sum();
    assert_eq!(shown, raw.len());
}

/// Noisy neighbour (issue 22): in the pooled account one tenant's requests
/// rose 4x and its pool-mate's p99 latency rose with it. The peer pass
/// names the noisy tenant, the pool-mate's incident says it is the likely
/// cause, and the same fleet without the neighbour names nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noisy_tenant_in_a_pooled_account_is_named_as_the_cause_of_its_pool_mates_slowdown() {
    use fleetdeck_sim::{Model, SimOptions};
    let epoch = epoch_now();
    let opts = SimOptions { tenants: 24, now: epoch, noisy_neighbour: true, ..Default::default() };
    let w = World::start_options(opts, Catalog::builtin().unwrap()).await;
    let pooled: Vec<_> =
        w.sim.tenants().iter().filter(|t| t.model == Model::Pooled && t.home_region == "us-east-1").collect();
    let (noisy, mate) = (pooled[0].id.clone(), pooled[1].id.clone());
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    sync_as_is(&w, &cache, epoch).await;

    let view = view::incidents(&cache, 24, epoch).await.unwrap();
    let all: Vec<&fleetdeck_engine::model::Incident> =
        view.incidents.iter().flat_map(|i| std::iter::once(i).chain(&i.evidence)).collect();
    let named: Vec<_> = all.iter().filter(|i| i.kind == "neighbour").collect();
    assert!(!named.is_empty() && named.iter().all(|n| n.tenant == noisy), "the noisy tenant is named: {named:#?}");
    assert!(named[0].title.contains(&format!("noisy neighbour: {noisy} requests")), "{}", named[0].title);
    eprintln!("{}", named[0].title);
    let slowed: Vec<_> = view.incidents.iter().filter(|i| i.tenant == mate && i.region == "us-east-1").collect();
    assert!(!slowed.is_empty(), "the pool-mate's slowdown is an incident: {:#?}", view.incidents);
    assert!(
        slowed.iter().any(|i| i.title.contains(&format!("likely cause: noisy neighbour {noisy}"))
            && i.evidence.iter().any(|e| e.kind == "neighbour")),
        "{slowed:#?}"
    );
    // The pool-mate's Tenant page shows it too.
    let page = view::tenant(&cache, &w.catalog, &mate, epoch).await.unwrap();
    assert!(page.incidents.iter().any(|i| i.kind == "neighbour" && i.tenant == noisy), "{:#?}", page.incidents);

    // Without the neighbour nobody is named.
    let quiet = World::start_with(24, Catalog::builtin().unwrap(), epoch).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    sync_as_is(&quiet, &cache, epoch).await;
    let view = view::incidents(&cache, 24, epoch).await.unwrap();
    let named =
        view.incidents.iter().flat_map(|i| std::iter::once(i).chain(&i.evidence)).filter(|i| i.kind == "neighbour");
    assert_eq!(named.count(), 0);
}

/// What changed, in the Cost view (issue 22): hooli's cost jump is judged
/// once its first day settles; the sync that first shows it marks it new,
/// and the next sync, which changes nothing, clears the mark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cost_anomaly_that_appeared_since_the_sync_before_is_marked_new_then_cleared() {
    use fleetdeck_engine::clock::day_of;
    let epoch = epoch_now();
    let w = World::start_with(24, Catalog::builtin().unwrap(), epoch).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let knobs = |at: i64| w.sim.set_knobs(fleetdeck_sim::SimKnobs { clock: Some(at), ..Default::default() });
    let hooli = |v: &fleetdeck_engine::model::CostView| {
        v.anomalies.iter().find(|a| a.tenant == "hooli").map(|a| format!("{}/{}/{}", a.tenant, a.subject, a.start))
    };

    // Two days before: the jump's first day has not settled yet.
    let before = epoch - 2 * 86_400;
    knobs(before);
    sync_as_is(&w, &cache, before).await;
    let first = view::cost(&cache, day_of(before)).await.unwrap();
    assert_eq!(hooli(&first), None, "not judged before it settles");
    assert!(first.changed.is_empty(), "a first sync has nothing to compare with");

    knobs(epoch);
    sync_as_is(&w, &cache, epoch).await;
    let second = view::cost(&cache, day_of(epoch)).await.unwrap();
    let jump = hooli(&second).expect("hooli's jump is judged once settled");
    assert_eq!(second.changed, std::slice::from_ref(&jump), "the new anomaly is marked, nothing else");

    knobs(epoch + 300);
    sync_as_is(&w, &cache, epoch + 300).await;
    let third = view::cost(&cache, day_of(epoch + 300)).await.unwrap();
    assert_eq!(hooli(&third), Some(jump));
    assert!(third.changed.is_empty(), "nothing changed since: {:?}", third.changed);
}
