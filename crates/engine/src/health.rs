//! Health per tenant and region: alarms in ALARM, catalog thresholds, metric
//! anomalies, peer departures and fleet-wide shifts, data freshness and
//! access state, folded into ok / degraded / critical / unknown by the rules
//! of `queries/health.toml` ([`HealthRules`]), always with the reasons. The
//! folding is pure ([`assess_with`]); [`compute`] gathers its facts from the
//! cache.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};

use crate::cache::{AlarmRow, AnomalyRow, Cache, CacheError, HealthRow, PeerKind, PeerRow, SourceState};
use crate::catalog::{Catalog, HealthRules, MetricSpec};
use crate::detect::Direction;
use crate::fleet::Fleet;
use crate::model::Health;

/// Data older than this is not evidence of health: the built-in
/// `health.toml`'s `freshness.stale_after_minutes` (a unit test keeps them
/// equal).
pub const STALE_AFTER_SECS: i64 = 15 * 60;

/// An anomaly episode counts for health while ongoing and for this long
/// after its latest point: the built-in `health.toml`'s
/// `anomaly.recent_minutes` (a unit test keeps them equal). An hour keeps
/// an episode that just ended in view for the engineer who opens the
/// tenant next.
pub const ANOMALY_RECENT_SECS: i64 = 60 * 60;

/// What is known about one tenant-region.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub sources: Vec<SourceState>,
    pub alarms: Vec<AlarmRow>,
    /// Per catalog metric: its spec and its newest points, newest first.
    pub metrics: Vec<(&'a MetricSpec, Vec<(i64, f64)>)>,
    /// Anomaly episodes of this tenant-region's metrics; those older than
    /// the rules' `anomaly.recent_minutes` are ignored.
    pub anomalies: Vec<AnomalyRow>,
    /// A standby (failover) region of the tenant: idle is its normal state.
    pub standby: bool,
}

/// What the fleet says about one tenant-region ([`crate::peers`]).
#[derive(Debug, Clone, Default)]
pub struct PeerFacts {
    /// Its own departures from its tier's peers (kind `peer`).
    pub departures: Vec<PeerRow>,
    /// Fleet-wide shifts it moved with (kind `fleet`, it among the members).
    pub shifts: Vec<PeerRow>,
}

/// [`assess_with`] by the built-in rules, with nothing from the peers.
pub fn assess(facts: &Facts, now: i64) -> (Health, Vec<String>, Option<String>) {
    assess_with(facts, &PeerFacts::default(), HealthRules::builtin(), now)
}

/// Fold the facts into a health state with reasons, worst first, and the
/// metric to look at first.
pub fn assess_with(
    facts: &Facts,
    peers: &PeerFacts,
    rules: &HealthRules,
    now: i64,
) -> (Health, Vec<String>, Option<String>) {
    let mut found: Vec<(Health, String, Option<String>)> = Vec::new();
    // An outcome of "ok" is no reason at all: not listed, and no focus.
    let mut push = |sev: Health, text: String, focus: Option<String>| {
        if sev != Health::Ok {
            found.push((sev, text, focus));
        }
    };

    // Without access to the account nothing else could be read: that is
    // the one reason to give, not "alarms not read" and the rest after it.
    let no_access =
        facts.sources.iter().any(|s| s.source == "credentials" && s.status != crate::model::SourceStatus::Ok);
    for s in facts
        .sources
        .iter()
        .filter(|s| s.status != crate::model::SourceStatus::Ok)
        .filter(|s| !no_access || s.source == "credentials")
    {
        let (what, sev) = match s.source.as_str() {
            "credentials" => ("no access to the account", rules.source.credentials),
            "metrics" => ("metrics not read", rules.source.metrics),
            "alarms" => ("alarms not read", rules.source.alarms),
            "alarm_history" => ("alarm history not read", rules.source.alarm_history),
            "tags" => ("tagged resources not read", rules.source.tags),
            "logs" => ("logs not read", rules.source.logs),
            _ => ("source not read", rules.source.other),
        };
        let mut text = format!("{what}: {} ({})", s.status.label(), s.error.as_deref().unwrap_or("no detail"));
        if let Some(fix) = &s.remediation {
            text.push_str(&format!("; fix: {fix}"));
        }
        // What the cache shows for it is as old as its last good read.
        match s.last_ok {
            Some(ms) => text.push_str(&format!("; last good read {}", day_hhmm(crate::clock::secs(ms)))),
            None => text.push_str("; never read"),
        }
        push(sev, text, None);
    }

    for a in facts.alarms.iter().filter(|a| a.state == "ALARM") {
        let since = a.state_changed_at.map(|ms| format!(" since {}", hhmm(crate::clock::secs(ms)))).unwrap_or_default();
        let focus = facts
            .metrics
            .iter()
            .find(|(spec, _)| {
                Some(spec.name.as_str()) == a.metric_name.as_deref()
                    && Some(spec.namespace.as_str()) == a.namespace.as_deref()
            })
            .map(|(spec, _)| spec.key.clone());
        push(rules.alarm_in_alarm, format!("alarm {} in ALARM{since}: {}", a.name, a.reason), focus);
    }

    let mut newest: Option<i64> = None;
    let mut judged = 0;
    // Metrics over a threshold now, for the anomalies below.
    let mut breached: Vec<&str> = Vec::new();
    for (spec, points) in &facts.metrics {
        if let Some((ts, _)) = points.first() {
            newest = Some(newest.map_or(*ts, |n: i64| n.max(*ts)));
        }
        let recent: Vec<f64> = points
            .iter()
            .take(spec.window as usize)
            .filter(|(ts, _)| now - ts <= rules.stale_after_secs + spec.period as i64)
            .map(|(_, v)| *v)
            .collect();
        if recent.is_empty() {
            continue;
        }
        judged += 1;
        let mean = recent.iter().sum::<f64>() / recent.len() as f64;
        let over = |limit: Option<f64>| limit.filter(|l| mean > *l);
        let (sev, limit, word) = match (over(spec.critical_above), over(spec.warn_above)) {
            (Some(l), _) => (rules.threshold_critical, l, "critical"),
            (None, Some(l)) => (rules.threshold_warning, l, "warning"),
            _ => continue,
        };
        breached.push(&spec.key);
        push(
            sev,
            format!(
                "{} {} over the last {} min ({word} above {})",
                spec.label,
                value(mean, &spec.unit),
                recent.len() as u32 * spec.period / 60,
                value(limit, &spec.unit)
            ),
            Some(spec.key.clone()),
        );
    }
    // A metric with thresholds is one where higher is worse: its fall
    // (fewer errors, faster responses) has a rule of its own.
    let higher_is_worse = |key: &str| {
        facts.metrics.iter().any(|(s, _)| s.key == key && (s.warn_above.is_some() || s.critical_above.is_some()))
    };

    // Fleet-wide shifts this tenant-region moved with: one reason each,
    // standing for its own anomalies on that metric at the time.
    let shifts: Vec<&PeerRow> = peers.shifts.iter().filter(|f| now - f.through <= rules.fleet.recent_secs).collect();
    for f in &shifts {
        let sev = if f.direction == Direction::Down && higher_is_worse(&f.metric_key) {
            rules.fleet.fall_where_higher_is_worse
        } else {
            rules.fleet.member
        };
        push(sev, format!("fleet-wide: {}{}", f.title, ended(f.end)), Some(f.metric_key.clone()));
    }
    let explained = |a: &AnomalyRow| {
        shifts.iter().any(|f| {
            f.metric_key == a.metric_key
                && f.direction == a.event.direction
                && a.event.start <= f.through
                // Or ending just before it: the shift is judged on
                // 20-minute medians and starts after its members' own
                // detectors fire.
                && a.event.through >= f.start - crate::cache::FLEET_SHIFT_LEAD_SECS
        })
    };

    // Anomalies: the detector says a metric is unusual for this series, not
    // that it is harmful (see health.toml).
    for a in facts.anomalies.iter().filter(|a| now - a.event.through <= rules.anomaly.recent_secs) {
        if explained(a) {
            continue;
        }
        let sev = if a.event.direction == Direction::Down && higher_is_worse(&a.metric_key) {
            rules.anomaly.fall_where_higher_is_worse
        } else if breached.contains(&a.metric_key.as_str()) {
            rules.anomaly.over_threshold
        } else {
            rules.anomaly.alone
        };
        push(sev, format!("anomaly: {}{}", a.explanation, ended(a.event.end)), Some(a.metric_key.clone()));
    }

    // Departures from the tier's peers, likewise.
    for d in peers.departures.iter().filter(|d| now - d.through <= rules.peer.recent_secs) {
        let sev = if d.direction == Direction::Down && higher_is_worse(&d.metric_key) {
            rules.peer.fall_where_higher_is_worse
        } else if breached.contains(&d.metric_key.as_str()) {
            rules.peer.over_threshold
        } else {
            rules.peer.alone
        };
        push(sev, format!("peer: {}{}", d.title, ended(d.end)), Some(d.metric_key.clone()));
    }

    let idle = match newest {
        None => true,
        Some(ts) => now - ts > rules.stale_after_secs,
    };
    match newest {
        // A standby region is idle until a failover: that is no news.
        _ if facts.standby && idle => {}
        // Traffic in a standby region is a failover: worth a look.
        Some(ts) if facts.standby => push(
            Health::Degraded,
            format!("failover: this standby region is serving traffic (newest datapoint {})", hhmm(ts)),
            facts.metrics.iter().find(|(s, _)| s.key == "requests").map(|(s, _)| s.key.clone()),
        ),
        None if !facts.metrics.is_empty() => push(rules.no_data, "no datapoints collected yet".into(), None),
        Some(ts) if now - ts > rules.stale_after_secs => {
            push(rules.stale, format!("{STALE_REASON}{} ({} min ago)", hhmm(ts), (now - ts) / 60), None)
        }
        _ => {}
    }

    found.sort_by_key(|(h, _, _)| std::cmp::Reverse(h.severity()));
    let health = found.iter().map(|(h, _, _)| *h).max_by_key(|h| h.severity()).unwrap_or(Health::Ok);
    let focus = found
        .iter()
        .find_map(|(_, _, f)| f.clone())
        .or_else(|| facts.metrics.iter().find(|(s, _)| s.key == "requests").map(|(s, _)| s.key.clone()))
        .or_else(|| facts.metrics.first().map(|(s, _)| s.key.clone()));
    let mut reasons: Vec<String> = found.into_iter().map(|(_, r, _)| r).collect();
    if health == Health::Ok && facts.standby && idle {
        reasons.push("standby: idle, as a failover region is until it is needed".into());
    } else if health == Health::Ok {
        let alarms = facts.alarms.len();
        reasons.push(format!(
            "{judged} metrics within thresholds, {alarms} alarm{} OK",
            if alarms == 1 { "" } else { "s" }
        ));
    }
    (health, reasons, focus)
}

/// " (ended 07:55 UTC)" for an episode that ended, nothing for an ongoing one.
fn ended(end: Option<i64>) -> String {
    end.map(|e| format!(" (ended {})", hhmm(e))).unwrap_or_default()
}

/// Judge freshness again when the health is read, not only when the sync
/// wrote it: a row computed "ok" goes stale as its newest datapoint ages,
/// whether or not a sync has run since. A row whose newest datapoint is
/// older than `rules.stale_after_secs` at `now` (epoch s) takes the stale
/// outcome when that is worse, with the reason first.
pub fn judge_freshness(row: &mut crate::model::TenantHealth, rules: &HealthRules, now: i64) {
    let Some(fresh_ms) = row.fresh_at else { return };
    let newest = crate::clock::secs(fresh_ms);
    // A standby region is idle again once a failover ends: not stale.
    let standby = row.reasons.iter().any(|r| r.starts_with("standby: ") || r.starts_with("failover: "));
    if standby || now - newest <= rules.stale_after_secs || row.reasons.iter().any(|r| r.starts_with(STALE_REASON)) {
        return;
    }
    if rules.stale.severity() > row.health.severity() {
        row.health = rules.stale;
    }
    if rules.stale != Health::Ok {
        row.reasons.insert(0, format!("{STALE_REASON}{} ({} min ago)", hhmm(newest), (now - newest) / 60));
    }
}

/// How a stale-data reason starts.
const STALE_REASON: &str = "no datapoints since ";

fn hhmm(epoch_s: i64) -> String {
    Utc.timestamp_opt(epoch_s, 0).single().map(|t| t.format("%H:%M UTC").to_string()).unwrap_or_default()
}

fn day_hhmm(epoch_s: i64) -> String {
    Utc.timestamp_opt(epoch_s, 0).single().map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}

/// A value with its unit, for sentences.
pub fn value(v: f64, unit: &str) -> String {
    match unit {
        "seconds" if v < 1.0 => format!("{:.0} ms", v * 1000.0),
        "seconds" => format!("{v:.2} s"),
        "percent" => format!("{v:.1} %"),
        "count" => format!("{v:.1}/min"),
        "bytes" => format!("{v:.0} B"),
        _ => format!("{v:.2}"),
    }
}

/// Assess every tenant-region of the fleet from the cache and store it.
/// Five reads of the whole cache, not five per tenant-region: on F200
/// (600 tenant-regions, 12,000 series) per-series reads took 2.5 s.
///
/// `healthy_every`: the budget's stretch ([`crate::spend`]), when healthy
/// tenant-regions are not read every sync: their data is that much older
/// at its freshest, and is judged so.
pub async fn compute(
    cache: &Cache,
    fleet: &Fleet,
    catalog: &Catalog,
    healthy_every: Option<i64>,
    now: i64,
) -> Result<Vec<HealthRow>, CacheError> {
    let rules = &crate::spend::stretched_rules(&catalog.health, healthy_every);
    let max_window = catalog.metrics.iter().map(|m| m.window.max(1)).max().unwrap_or(1);
    let mut latest = cache.latest_points_all(max_window).await?;
    let sources = cache.all_sources().await?;
    let alarms = cache.all_alarms().await?;
    let anomalies = cache.recent_anomalies(now - rules.longest_recent_secs()).await?;
    let peer_rows = cache.recent_peer_anomalies(now - rules.peer.recent_secs.max(rules.fleet.recent_secs)).await?;
    // Each fact by its tenant-region, in the order read: every
    // tenant-region looked each up by scanning them all, 6,000 scans of
    // tens of thousands of rows at F2000.
    let mut sources = by_place(sources, |s| (&s.tenant_id, &s.region));
    let mut alarms = by_place(alarms, |a| (&a.tenant_id, &a.region));
    let mut anomalies = by_place(anomalies, |a| (&a.tenant_id, &a.region));
    let mut departures: HashMap<(String, String), Vec<PeerRow>> = HashMap::new();
    // A fleet-wide shift names thousands of members: each member's place
    // keeps its index, and gets its own copy only while it is assessed.
    let mut fleet_shifts: Vec<PeerRow> = Vec::new();
    let mut shifts: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for p in peer_rows {
        match p.kind {
            PeerKind::Peer => departures.entry((p.tenant_id.clone(), p.region.clone())).or_default().push(p),
            PeerKind::Fleet => {
                let members: std::collections::BTreeSet<&(String, String)> = p.members.iter().collect();
                for (m, r) in members {
                    shifts.entry((m.clone(), r.clone())).or_default().push(fleet_shifts.len());
                }
                fleet_shifts.push(p);
            }
            _ => {}
        }
    }
    let mut rows = Vec::new();
    for t in &fleet.tenants {
        // Its sources of every region ("*": credentials, say) first, as
        // read, then the region's; by source.
        let everywhere = sources.remove(&(t.id.clone(), "*".to_string())).unwrap_or_default();
        for region in t.regions() {
            let place = (t.id.clone(), region.to_string());
            let mut own = everywhere.clone();
            own.extend(sources.remove(&place).unwrap_or_default());
            own.sort_by(|a, b| a.source.cmp(&b.source));
            let mut facts = Facts {
                sources: own,
                alarms: alarms.remove(&place).unwrap_or_default(),
                metrics: Vec::new(),
                anomalies: anomalies.remove(&place).unwrap_or_default(),
                standby: t.standby_regions.iter().any(|r| r == region),
            };
            let peers = PeerFacts {
                departures: departures.remove(&place).unwrap_or_default(),
                shifts: shifts
                    .remove(&place)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|i| fleet_shifts[i].clone())
                    .collect(),
            };
            for spec in catalog.metrics_for(t.model) {
                let key = (t.id.clone(), region.to_string(), spec.key.clone());
                let mut points = latest.remove(&key).unwrap_or_default();
                points.truncate(spec.window.max(1) as usize);
                facts.metrics.push((spec, points));
            }
            let fresh_at =
                facts.metrics.iter().filter_map(|(_, p)| p.first().map(|(ts, _)| crate::clock::ms(*ts))).max();
            let (health, reasons, focus_metric) = assess_with(&facts, &peers, rules, now);
            rows.push(HealthRow {
                tenant_id: t.id.clone(),
                region: region.to_string(),
                health,
                reasons,
                focus_metric,
                fresh_at,
            });
        }
    }
    cache.replace_health(&rows, crate::clock::ms(now)).await?;
    Ok(rows)
}

/// Rows by their (tenant, region), each group in the order read.
fn by_place<T>(rows: Vec<T>, place: impl Fn(&T) -> (&String, &String)) -> HashMap<(String, String), Vec<T>> {
    let mut out: HashMap<(String, String), Vec<T>> = HashMap::new();
    for row in rows {
        let (t, r) = place(&row);
        out.entry((t.clone(), r.clone())).or_default().push(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Model;

    fn catalog() -> Catalog {
        Catalog::builtin().unwrap()
    }

    fn series(now: i64, values: &[f64]) -> Vec<(i64, f64)> {
        values.iter().enumerate().map(|(i, v)| (now - 60 * (i as i64 + 1), *v)).collect()
    }

    #[test]
    fn an_on_call_engineer_sees_critical_with_the_alarm_and_the_metric_behind_it() {
        let c = catalog();
        let now = 1_800_000_000;
        let errors = c.metric(Model::Pooled, "errors").unwrap();
        let requests = c.metric(Model::Pooled, "requests").unwrap();
        let facts = Facts {
            sources: vec![],
            alarms: vec![AlarmRow {
                tenant_id: "a".into(),
                region: "us-east-1".into(),
                arn: "arn".into(),
                name: "a-errors-high".into(),
                state: "ALARM".into(),
                reason: "Threshold Crossed".into(),
                state_changed_at: Some((now - 1800) * 1000),
                namespace: Some("SaaS/App".into()),
                metric_name: Some("Errors".into()),
                threshold: Some(50.0),
                platform: false,
            }],
            metrics: vec![
                (requests, series(now, &[1000.0; 5])),
                (errors, series(now, &[120.0, 80.0, 90.0, 100.0, 110.0])),
            ],
            anomalies: vec![],
            standby: false,
        };
        let (h, reasons, focus) = assess(&facts, now);
        assert_eq!(h, Health::Critical);
        assert!(reasons[0].starts_with("alarm a-errors-high in ALARM since"), "{reasons:?}");
        assert!(
            reasons.iter().any(|r| r == "Errors 100.0/min over the last 5 min (critical above 50.0/min)"),
            "{reasons:?}"
        );
        assert_eq!(focus.as_deref(), Some("errors"));
    }

    #[test]
    fn a_warning_threshold_degrades_and_quiet_metrics_are_ok() {
        let c = catalog();
        let now = 1_800_000_000;
        let lat = c.metric(Model::Silo, "latency_p99").unwrap();
        let (h, reasons, _) =
            assess(&Facts { metrics: vec![(lat, series(now, &[1.5; 5]))], ..Default::default() }, now);
        assert_eq!(h, Health::Degraded);
        assert_eq!(reasons, vec!["p99 latency 1.50 s over the last 5 min (warning above 1.00 s)"]);
        let (h, reasons, _) =
            assess(&Facts { metrics: vec![(lat, series(now, &[0.2; 5]))], ..Default::default() }, now);
        assert_eq!((h, reasons[0].as_str()), (Health::Ok, "1 metrics within thresholds, 0 alarms OK"));
    }

    fn anomaly(metric: &str, now: i64, direction: Direction, end: Option<i64>) -> AnomalyRow {
        let event = crate::detect::AnomalyEvent {
            start: now - 1200,
            end,
            through: end.unwrap_or(now - 60),
            peak_score: 0.9,
            direction,
            peak_ts: now - 600,
            peak_value: 0.9,
            expected: 0.3,
            season: crate::detect::Season::None,
        };
        let explanation = event.explain("p99 latency", "s");
        AnomalyRow {
            series_id: 1,
            tenant_id: "a".into(),
            region: "us-east-1".into(),
            metric_key: metric.into(),
            event,
            explanation,
        }
    }

    /// An on-call engineer opens a tenant whose latency tripled but is
    /// still under every threshold: degraded, the anomaly says why, and the
    /// chart to open is latency, not traffic.
    #[test]
    fn an_anomaly_alone_degrades_and_points_at_its_metric() {
        let c = catalog();
        let now = 1_800_000_000;
        let req = c.metric(Model::Silo, "requests").unwrap();
        let lat = c.metric(Model::Silo, "latency_p99").unwrap();
        let facts = Facts {
            metrics: vec![(req, series(now, &[100.0; 5])), (lat, series(now, &[0.9; 5]))],
            anomalies: vec![anomaly("latency_p99", now, Direction::Up, None)],
            ..Default::default()
        };
        let (h, reasons, focus) = assess(&facts, now);
        assert_eq!(h, Health::Degraded);
        assert_eq!(
            reasons,
            vec!["anomaly: p99 latency 3x its usual level (0.9 s against 0.3 s) for 19 minutes so far"]
        );
        assert_eq!(focus.as_deref(), Some("latency_p99"));
    }

    #[test]
    fn an_anomaly_on_a_metric_over_its_threshold_is_critical() {
        let c = catalog();
        let now = 1_800_000_000;
        let lat = c.metric(Model::Silo, "latency_p99").unwrap();
        let facts = Facts {
            metrics: vec![(lat, series(now, &[1.5; 5]))],
            anomalies: vec![anomaly("latency_p99", now, Direction::Up, Some(now - 300))],
            ..Default::default()
        };
        let (h, reasons, _) = assess(&facts, now);
        assert_eq!(h, Health::Critical);
        assert!(
            reasons[0].starts_with("anomaly: p99 latency 3x") && reasons[0].ends_with("(ended 07:55 UTC)"),
            "{reasons:?}"
        );
        assert_eq!(reasons[1], "p99 latency 1.50 s over the last 5 min (warning above 1.00 s)");
    }

    /// Latency falling, or an episode that ended hours ago, is no reason
    /// for concern today.
    #[test]
    fn a_fall_where_higher_is_worse_and_an_old_episode_leave_health_ok() {
        let c = catalog();
        let now = 1_800_000_000;
        let lat = c.metric(Model::Silo, "latency_p99").unwrap();
        let facts = Facts {
            metrics: vec![(lat, series(now, &[0.2; 5]))],
            anomalies: vec![
                anomaly("latency_p99", now, Direction::Down, None),
                anomaly("latency_p99", now, Direction::Up, Some(now - ANOMALY_RECENT_SECS - 60)),
            ],
            ..Default::default()
        };
        let (h, reasons, _) = assess(&facts, now);
        assert_eq!((h, reasons[0].as_str()), (Health::Ok, "1 metrics within thresholds, 0 alarms OK"));
    }

    #[test]
    fn no_access_or_stale_data_is_unknown_never_ok() {
        let c = catalog();
        let now = 1_800_000_000;
        let req = c.metric(Model::Silo, "requests").unwrap();
        let denied = SourceState {
            tenant_id: "a".into(),
            region: "*".into(),
            source: "credentials".into(),
            status: crate::model::SourceStatus::AccessDenied,
            error: Some("AccessDenied".into()),
            remediation: Some("check the role".into()),
            last_ok: None,
        };
        let (h, reasons, _) =
            assess(&Facts { sources: vec![denied], metrics: vec![(req, vec![])], ..Default::default() }, now);
        assert_eq!(h, Health::Unknown);
        assert!(
            reasons[0].starts_with("no access to the account: access denied (AccessDenied); fix: check the role"),
            "{reasons:?}"
        );
        let (h, reasons, _) =
            assess(&Facts { metrics: vec![(req, vec![(now - 3600, 5.0)])], ..Default::default() }, now);
        assert_eq!(h, Health::Unknown);
        assert!(reasons[0].contains("(60 min ago)"), "{reasons:?}");
    }

    /// A failover region with no traffic is "standby" and ok, not unknown
    /// forever; traffic there is a failover, shown as such.
    #[test]
    fn an_idle_standby_region_is_ok_and_traffic_there_is_a_failover() {
        let c = catalog();
        let now = 1_800_000_000;
        let req = c.metric(Model::Silo, "requests").unwrap();
        let idle = Facts { metrics: vec![(req, vec![])], standby: true, ..Default::default() };
        let (h, reasons, _) = assess(&idle, now);
        assert_eq!((h, reasons[0].as_str()), (Health::Ok, "standby: idle, as a failover region is until it is needed"));
        let (h, _, _) = assess(&Facts { standby: false, ..idle }, now);
        assert_eq!(h, Health::Unknown, "an idle region that is not a standby is unknown, as before");
        let busy = Facts { metrics: vec![(req, series(now, &[900.0; 5]))], standby: true, ..Default::default() };
        let (h, reasons, focus) = assess(&busy, now);
        assert_eq!(h, Health::Degraded);
        assert!(reasons[0].starts_with("failover: this standby region is serving traffic"), "{reasons:?}");
        assert_eq!(focus.as_deref(), Some("requests"));
    }

    /// Without access to the account, the sources it stopped fail too; the
    /// engineer is told the cause once, first, not "alarms not read" and
    /// the rest.
    #[test]
    fn a_tenant_without_access_leads_with_no_access_and_nothing_it_caused() {
        let c = catalog();
        let now = 1_800_000_000;
        let req = c.metric(Model::Silo, "requests").unwrap();
        let failed = |source: &str, region: &str| SourceState {
            tenant_id: "a".into(),
            region: region.into(),
            source: source.into(),
            status: crate::model::SourceStatus::AccessDenied,
            error: Some("AccessDenied".into()),
            remediation: Some("check the role".into()),
            last_ok: None,
        };
        let sources = vec![
            failed("alarms", "us-east-1"),
            failed("credentials", "*"),
            failed("metrics", "us-east-1"),
            failed("logs", "us-east-1"),
        ];
        let (h, reasons, _) = assess(&Facts { sources, metrics: vec![(req, vec![])], ..Default::default() }, now);
        assert_eq!(h, Health::Unknown);
        assert!(reasons[0].starts_with("no access to the account: "), "{reasons:?}");
        assert!(!reasons.iter().any(|r| r.contains(" not read")), "{reasons:?}");
    }

    /// The constants other code reads are the built-in file's rules.
    #[test]
    fn the_builtin_rules_are_what_health_always_did() {
        let r = HealthRules::builtin();
        assert_eq!((r.stale_after_secs, r.anomaly.recent_secs), (STALE_AFTER_SECS, ANOMALY_RECENT_SECS));
        assert_eq!(r.alarm_in_alarm, Health::Critical);
        assert_eq!((r.threshold_warning, r.threshold_critical), (Health::Degraded, Health::Critical));
        assert_eq!((r.anomaly.alone, r.anomaly.over_threshold), (Health::Degraded, Health::Critical));
        assert_eq!((r.source.credentials, r.source.logs), (Health::Unknown, Health::Ok));
        assert_eq!((r.stale, r.no_data), (Health::Unknown, Health::Unknown));
    }

    fn shift(now: i64, metric: &str) -> PeerRow {
        PeerRow {
            kind: PeerKind::Fleet,
            tenant_id: "*".into(),
            region: "us-east-1".into(),
            tier: "*".into(),
            metric_key: metric.into(),
            direction: Direction::Up,
            start: now - 1500,
            end: None,
            through: now,
            change: 2.2,
            peer_change: 2.2,
            moved: 5,
            compared: 5,
            title: "p99 latency 2.2x its usual level across us-east-1: 5 of 5 tenant-regions moved together".into(),
            members: vec![("a".into(), "us-east-1".into())],
        }
    }

    /// A regional slowdown: the tenant's own latency anomaly is the shift's
    /// doing, so health names the shift once, as fleet-wide, instead.
    #[test]
    fn an_anomaly_a_fleet_wide_shift_explains_is_named_as_fleet_wide() {
        let c = catalog();
        let now = 1_800_000_000;
        let lat = c.metric(Model::Silo, "latency_p99").unwrap();
        let facts = Facts {
            metrics: vec![(lat, series(now, &[0.9; 5]))],
            anomalies: vec![anomaly("latency_p99", now, Direction::Up, None)],
            ..Default::default()
        };
        let peers = PeerFacts { shifts: vec![shift(now, "latency_p99")], ..Default::default() };
        let (h, reasons, focus) = assess_with(&facts, &peers, HealthRules::builtin(), now);
        assert_eq!(h, Health::Degraded);
        assert_eq!(
            reasons,
            vec!["fleet-wide: p99 latency 2.2x its usual level across us-east-1: 5 of 5 tenant-regions moved together"]
        );
        assert_eq!(focus.as_deref(), Some("latency_p99"));
        // A shift on another metric explains nothing here.
        let other = PeerFacts { shifts: vec![shift(now, "errors")], ..Default::default() };
        let (_, reasons, _) = assess_with(&facts, &other, HealthRules::builtin(), now);
        assert!(reasons.iter().any(|r| r.starts_with("anomaly: p99 latency")), "{reasons:?}");
    }

    /// A peer departure degrades; over a threshold as well, it is critical;
    /// fewer errors than the peers is no reason at all.
    #[test]
    fn a_peer_departure_degrades_and_is_critical_over_a_threshold() {
        let c = catalog();
        let now = 1_800_000_000;
        let errors = c.metric(Model::Silo, "errors").unwrap();
        let departure = PeerRow {
            kind: PeerKind::Peer,
            tenant_id: "a".into(),
            tier: "premium".into(),
            title: "5xx errors 6.2x the premium tier's median change over 20 min while the tier is steady".into(),
            members: vec![],
            metric_key: "errors".into(),
            ..shift(now, "errors")
        };
        let peers = PeerFacts { departures: vec![departure.clone()], ..Default::default() };
        let quiet = Facts { metrics: vec![(errors, series(now, &[6.0; 5]))], ..Default::default() };
        let (h, reasons, _) = assess_with(&quiet, &peers, HealthRules::builtin(), now);
        assert_eq!(h, Health::Degraded);
        assert_eq!(reasons, vec![format!("peer: {}", departure.title)]);
        let over = Facts { metrics: vec![(errors, series(now, &[12.0; 5]))], ..Default::default() };
        let (h, reasons, _) = assess_with(&over, &peers, HealthRules::builtin(), now);
        assert_eq!(h, Health::Critical, "{reasons:?}");
        let fewer =
            PeerFacts { departures: vec![PeerRow { direction: Direction::Down, ..departure }], ..Default::default() };
        let (h, _, _) = assess_with(&quiet, &fewer, HealthRules::builtin(), now);
        assert_eq!(h, Health::Ok);
    }

    /// An on-call team that wants every anomaly to page changes one line of
    /// its health.toml, and the same facts fold differently.
    #[test]
    fn a_rule_changed_in_the_users_health_toml_changes_the_outcome() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("health.toml"), "[anomaly]\nalone = \"critical\"\n").unwrap();
        let theirs = Catalog::load(Some(dir.path())).unwrap();
        let c = catalog();
        let now = 1_800_000_000;
        let lat = c.metric(Model::Silo, "latency_p99").unwrap();
        let facts = Facts {
            metrics: vec![(lat, series(now, &[0.9; 5]))],
            anomalies: vec![anomaly("latency_p99", now, Direction::Up, None)],
            ..Default::default()
        };
        let (builtin, _, _) = assess_with(&facts, &PeerFacts::default(), &c.health, now);
        let (changed, _, _) = assess_with(&facts, &PeerFacts::default(), &theirs.health, now);
        assert_eq!((builtin, changed), (Health::Degraded, Health::Critical));
        // Every rule the file leaves out is the built-in one.
        assert_eq!(theirs.health.peer, c.health.peer);
        assert_eq!(theirs.health.stale_after_secs, c.health.stale_after_secs);
    }
}
