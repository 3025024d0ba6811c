//! Alarms and their history as CloudWatch documents them (API Reference,
//! DescribeAlarms and DescribeAlarmHistory): alarm types, paging, and state
//! changes that follow the series, so an alarm that fired and cleared
//! between two reads is still in the history.

use aws_sdk_cloudwatch::types::{AlarmType, HistoryItemType};

use super::*;

/// The demo's `now`, frozen, well in the past of the wall clock.
const NOW: i64 = 1_795_300_000;

async fn realistic(clock: i64) -> SimFleet {
    let sim = SimFleet::start(SimOptions { now: NOW, realistic: true, ..SimOptions::default() }).await.unwrap();
    sim.set_knobs(SimKnobs { clock: Some(clock), ..SimKnobs::default() });
    sim
}

async fn cloudwatch(sim: &SimFleet, id: &str, region: &str) -> aws_sdk_cloudwatch::Client {
    let t = tenant(sim, id).clone();
    aws_sdk_cloudwatch::Client::new(&assume(sim, &t, region, None).await)
}

/// (alarm name, "from -> to", epoch s) of every state update since `since`,
/// metric alarms' then composite alarms' (one type a call, as the API
/// answers), read page by page as a client must.
async fn history(cw: &aws_sdk_cloudwatch::Client, since: i64, page: i32) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for kind in [AlarmType::MetricAlarm, AlarmType::CompositeAlarm] {
        let mut pages = cw
            .describe_alarm_history()
            .alarm_types(kind)
            .history_item_type(HistoryItemType::StateUpdate)
            .start_date(DateTime::from_secs(since))
            .max_records(page)
            .into_paginator()
            .send();
        while let Some(p) = pages.next().await {
            for i in p.expect("history page").alarm_history_items() {
                let summary = i.history_summary().unwrap_or_default().trim_start_matches("Alarm updated from ");
                out.push((
                    i.alarm_name().unwrap().to_string(),
                    summary.replace(" to ", " -> "),
                    i.timestamp().unwrap().secs(),
                ));
            }
        }
    }
    out
}

/// The on-call engineer's timeline needs to know when globex's alarm fired:
/// its history holds the OK -> ALARM change, newest first.
#[tokio::test]
async fn alarm_history_shows_when_globex_went_into_alarm() {
    let sim = realistic(NOW).await;
    let cw = cloudwatch(&sim, "globex", "us-east-1").await;
    let h = cw.describe_alarm_history().alarm_name("globex-5xx-errors-critical").send().await.unwrap();
    let items = h.alarm_history_items();
    assert_eq!(items[0].history_summary(), Some("Alarm updated from OK to ALARM"), "{items:?}");
    let fired = items[0].timestamp().unwrap().secs();
    assert!((NOW - 45 * 60..NOW).contains(&fired), "the spike started 45 minutes ago: {}", NOW - fired);
    assert!(items.windows(2).all(|w| w[0].timestamp().unwrap().secs() >= w[1].timestamp().unwrap().secs()));
}

/// tyrell's 5xx blip (100 to 88 minutes before `now`) fires its alarm and
/// clears it: read an hour later, DescribeAlarms says OK, and only the
/// history shows the episode, in one call for the whole account-region.
#[tokio::test]
async fn a_blip_that_fired_and_cleared_is_in_the_history_of_the_account_region() {
    let sim = realistic(NOW).await;
    let cw = cloudwatch(&sim, "tyrell", "us-east-1").await;
    let alarm = cw.describe_alarms().alarm_names("tyrell-5xx-errors-critical").send().await.unwrap();
    let a = &alarm.metric_alarms()[0];
    assert_eq!(a.state_value(), Some(&StateValue::Ok), "{a:?}");
    let cleared = a.state_updated_timestamp().unwrap().secs();
    assert!((NOW - 88 * 60..NOW - 80 * 60).contains(&cleared), "cleared when the blip ended: {}", NOW - cleared);

    let h = history(&cw, NOW - 3 * 3600, 100).await;
    let tyrell: Vec<_> = h.iter().filter(|(n, _, _)| n == "tyrell-5xx-errors-critical").collect();
    assert_eq!(tyrell.len(), 2, "{h:?}");
    assert_eq!(tyrell[0].1, "ALARM -> OK", "newest first: {h:?}");
    assert_eq!(tyrell[1].1, "OK -> ALARM");
    assert!((NOW - 100 * 60..NOW - 95 * 60).contains(&tyrell[1].2), "fired after 3 breaching minutes");

    // The same answer read one item a page.
    assert_eq!(history(&cw, NOW - 3 * 3600, 1).await, h);
    // Before the blip the history has nothing of it, and the alarm was OK.
    sim.set_knobs(SimKnobs { clock: Some(NOW - 2 * 3600), ..SimKnobs::default() });
    assert!(history(&cw, NOW - 3 * 3600, 100).await.iter().all(|(n, _, _)| !n.starts_with("tyrell")));
}

/// Composite alarms come only when `AlarmTypes` asks for them ("If you
/// omit this parameter, only metric alarms are returned").
#[tokio::test]
async fn composite_alarms_come_only_when_asked_for() {
    let sim = realistic(NOW).await;
    let cw = cloudwatch(&sim, "globex", "us-east-1").await;
    let plain = cw.describe_alarms().send().await.unwrap();
    assert!(plain.composite_alarms().is_empty());
    assert!(plain.metric_alarms().iter().all(|a| !a.alarm_name().unwrap().ends_with("service-health")));
    let both = cw
        .describe_alarms()
        .alarm_types(AlarmType::MetricAlarm)
        .alarm_types(AlarmType::CompositeAlarm)
        .send()
        .await
        .unwrap();
    let c = &both.composite_alarms()[0];
    assert_eq!(c.alarm_name(), Some("globex-service-health"));
    assert_eq!(c.state_value(), Some(&StateValue::Alarm), "its 5xx child is in ALARM");
    assert!(c.alarm_rule().unwrap().contains("ALARM(\"globex-5xx-errors-critical\")"), "{c:?}");
    assert!(!both.metric_alarms().is_empty());

    let metric_only = cw.describe_alarm_history().start_date(DateTime::from_secs(NOW - 3600)).send().await.unwrap();
    assert!(metric_only.alarm_history_items().iter().all(|i| i.alarm_type() == Some(&AlarmType::MetricAlarm)));
    // Without AlarmName "the histories for either all metric alarms or all
    // composite alarms are returned": one type a call, even when both are
    // asked for.
    let both = cw
        .describe_alarm_history()
        .alarm_types(AlarmType::MetricAlarm)
        .alarm_types(AlarmType::CompositeAlarm)
        .start_date(DateTime::from_secs(NOW - 3600))
        .send()
        .await
        .unwrap();
    assert!(both.alarm_history_items().iter().all(|i| i.alarm_type() == Some(&AlarmType::MetricAlarm)));
    let h = history(&cw, NOW - 3600, 100).await;
    assert!(h.iter().any(|(n, s, _)| n == "globex-service-health" && s == "OK -> ALARM"), "{h:?}");
}

/// The shared account's platform alarm is on the platform's database: its
/// dimensions name no tenant.
#[tokio::test]
async fn the_shared_account_has_a_platform_alarm_naming_no_tenant() {
    let sim = realistic(NOW).await;
    let shared =
        sim.tenants().iter().find(|t| t.model == Model::Shared && t.home_region == "us-east-1").unwrap().clone();
    let cw = aws_sdk_cloudwatch::Client::new(&assume(&sim, &shared, "us-east-1", None).await);
    let out = cw.describe_alarms().alarm_names("platform-shared-db-cpu-critical").send().await.unwrap();
    let a = &out.metric_alarms()[0];
    assert_eq!(a.state_value(), Some(&StateValue::Alarm));
    let dims: Vec<_> = a.dimensions().iter().map(|d| (d.name().unwrap(), d.value().unwrap())).collect();
    assert_eq!(dims, [("DBClusterIdentifier", "platform-shared-db")]);
    // Without `realistic` the demo has none.
    let demo = sim_fleet_without_extras().await;
    let cw = aws_sdk_cloudwatch::Client::new(&assume(&demo, &shared, "us-east-1", None).await);
    assert!(cw
        .describe_alarms()
        .alarm_names("platform-shared-db-cpu-critical")
        .send()
        .await
        .unwrap()
        .metric_alarms()
        .is_empty());
}

async fn sim_fleet_without_extras() -> SimFleet {
    let sim = SimFleet::start(SimOptions { now: NOW, ..SimOptions::default() }).await.unwrap();
    sim.set_knobs(SimKnobs { clock: Some(NOW), ..SimKnobs::default() });
    sim
}

#[tokio::test]
async fn history_rejects_what_cloudwatch_rejects() {
    let sim = realistic(NOW).await;
    let cw = cloudwatch(&sim, "globex", "us-east-1").await;
    let err = cw.describe_alarm_history().max_records(101).send().await.unwrap_err();
    assert_eq!(err.code(), Some("ValidationError"), "{err:?}");
    let err = cw.describe_alarm_history().next_token("garbage").send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidNextToken"), "{err:?}");
}
