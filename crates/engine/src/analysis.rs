//! Metric anomalies, found as a sync commits each series' new points.
//!
//! Every series has one online detector ([`crate::detect`]) whose state the
//! cache keeps with `through_ts`, the last point it scored. When a metric
//! call brings points, [`score`] restores the detector, feeds it only the
//! points after `through_ts` (a re-sync re-reads a 10-minute overlap; those
//! points were scored already), and folds the scores into episodes,
//! continuing the series' ongoing episode rather than starting a second one.
//! The caller commits the new state and the episodes in the transaction
//! that commits the points ([`crate::cache::Cache::commit_points_scored`]),
//! so a crash leaves points, detector and episodes consistent.
//!
//! Why at commit time and not in a pass over the cache after the sync: the
//! points are in memory then. Reading a 24-hour backfill of F200 (17 million
//! points) back out of SQLite costs about 12 s through sqlx (1.4 million rows
//! a second on the 2-core bench machine), against about 1 s to score them;
//! at commit time the scoring also overlaps the other calls' network waits.
//!
//! Pure: no I/O, no clock.

use crate::cache::{AnomalyRow, SavedDetector, ScoredSeries};
use crate::catalog::MetricSpec;
use crate::detect::{self, Config, Detector, ScoredPoint, ANOMALY_THRESHOLD};

/// Anomalies are not reported from a series' first this-many points (the
/// detector itself is silent for its first 50): its usual miss and its tail
/// are still settling then, and on a first sync the whole backfill is that
/// early history. Two hours of one-minute points.
pub const REPORT_FROM_POINT: u64 = 120;

/// On a count summed per period (errors, restarts), a point less than this
/// many events from the detector's expectation raises no anomaly.
///
/// The detector itself no longer finds one or two events on a mostly-zero
/// count unusual (its usual miss never falls below the series' smallest
/// step: one event on a count). This rule stays as the on-call judgement
/// it encodes: fewer than five more errors or restarts than usual are not
/// worth an incident, whatever the detector makes of them. The globex
/// outage (140+ a minute) and any burst that matters clear it with room to
/// spare, whatever its hour.
pub const MIN_COUNT_EXCESS: f64 = 5.0;

/// Which series a detector runs on and how its anomalies read.
#[derive(Debug, Clone)]
pub struct SeriesMeta<'a> {
    pub series_id: i64,
    pub tenant_id: &'a str,
    pub region: &'a str,
    pub metric_key: &'a str,
    /// The catalog's label, e.g. `p99 latency`.
    pub label: &'a str,
    /// How values read in a sentence: see [`explain_unit`].
    pub unit: String,
    /// A point this close to its expectation raises no anomaly: see
    /// [`MIN_COUNT_EXCESS`] (0 for series that are not summed counts).
    pub min_excess: f64,
}

impl<'a> SeriesMeta<'a> {
    pub fn new(series_id: i64, tenant_id: &'a str, region: &'a str, spec: &'a MetricSpec) -> SeriesMeta<'a> {
        SeriesMeta {
            series_id,
            tenant_id,
            region,
            metric_key: &spec.key,
            label: &spec.label,
            unit: explain_unit(&spec.unit, &spec.stat, spec.period),
            min_excess: if spec.unit == "count" && spec.stat == "Sum" { MIN_COUNT_EXCESS } else { 0.0 },
        }
    }
}

/// The unit an explanation puts after a value: `s`, `%`, `B`, or for a
/// count summed per period `per minute`; nothing for other counts.
pub fn explain_unit(unit: &str, stat: &str, period: u32) -> String {
    match unit {
        "seconds" => "s".into(),
        "percent" => "%".into(),
        "bytes" => "B".into(),
        "count" if stat == "Sum" && period == 60 => "per minute".into(),
        "count" if stat == "Sum" && period % 60 == 0 => format!("per {} minutes", period / 60),
        _ => String::new(),
    }
}

/// Score a series' new points (ascending by time) against its saved
/// detector, if any. `None` when no point is newer than what the detector
/// has seen: nothing to write.
pub fn score(meta: &SeriesMeta, saved: Option<&SavedDetector>, points: &[(i64, f64)]) -> Option<ScoredSeries> {
    let mut last = saved.map(|s| s.through_ts);
    let mut detector = saved
        .and_then(|s| match Detector::from_bytes(&s.state) {
            Ok(d) => Some(d),
            Err(e) => {
                // A state from another release: learn the series afresh.
                tracing::debug!("series {}: {e}", meta.series_id);
                None
            }
        })
        .unwrap_or_else(|| Detector::new(Config::default()));

    let mut scored: Vec<ScoredPoint> = Vec::with_capacity(points.len());
    for &(ts, value) in points {
        if last.is_some_and(|l| ts <= l) {
            continue;
        }
        let mut observation = detector.observe(ts, value);
        // The sync's own rules (see the constants): the point is scored and
        // learned from, and may continue an episode, but starts none.
        if detector.seen() <= REPORT_FROM_POINT || (value - observation.expected).abs() < meta.min_excess {
            observation.score = observation.score.min(ANOMALY_THRESHOLD * 0.99);
        }
        scored.push(ScoredPoint { ts, value, observation });
        last = Some(ts);
    }
    if scored.is_empty() {
        return None;
    }

    // The ongoing episode is continued exactly as one pass would.
    let open = saved.and_then(|s| s.open.clone().map(|e| (e, s.hold)));
    let found = detect::episodes(open, &scored);
    let hold = found.last().filter(|(e, _)| e.end.is_none()).and_then(|(_, h)| *h);
    // Where the series is now, for the explanation of an ongoing episode.
    let latest = scored.last().map(|p| p.value);
    let episodes = found
        .into_iter()
        .map(|(event, _)| AnomalyRow {
            series_id: meta.series_id,
            tenant_id: meta.tenant_id.to_string(),
            region: meta.region.to_string(),
            metric_key: meta.metric_key.to_string(),
            explanation: event.explain_now(meta.label, &meta.unit, latest),
            event,
        })
        .collect();
    Some(ScoredSeries {
        series_id: meta.series_id,
        state: detector.to_bytes(),
        through_ts: last.unwrap_or_default(),
        points: scored.len() as u64,
        episodes,
        hold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000 - 1_800_000_000 % 86_400;

    fn meta() -> SeriesMeta<'static> {
        SeriesMeta {
            series_id: 1,
            tenant_id: "acme",
            region: "us-east-1",
            metric_key: "errors",
            label: "5xx errors",
            unit: "per minute".into(),
            min_excess: MIN_COUNT_EXCESS,
        }
    }

    /// 100 +- 3 a minute, then 400 from minute `spike` on.
    fn series(from: i64, to: i64, spike: i64) -> Vec<(i64, f64)> {
        (from..to)
            .map(|i| {
                let noise = ((i * 7919) % 13) as f64 / 2.0 - 3.0;
                (T0 + i * 60, if i >= spike { 400.0 } else { 100.0 + noise })
            })
            .collect()
    }

    fn saved(s: &ScoredSeries) -> SavedDetector {
        SavedDetector {
            series_id: s.series_id,
            state: s.state.clone(),
            through_ts: s.through_ts,
            open: s.episodes.iter().find(|e| e.event.end.is_none()).map(|e| e.event.clone()),
            hold: s.hold,
        }
    }

    #[test]
    fn a_spike_split_over_two_syncs_is_one_episode_as_in_one_pass() {
        let all = series(0, 1000, 990);
        let once = score(&meta(), None, &all).unwrap();
        assert_eq!(once.episodes.len(), 1, "{:?}", once.episodes);
        let whole = &once.episodes[0].event;
        assert_eq!(whole.start, T0 + 990 * 60);

        // The first sync ends two minutes into the spike, with the episode
        // ongoing; the second re-reads a 10-minute overlap.
        let first = score(&meta(), None, &all[..992]).unwrap();
        assert_eq!(first.through_ts, T0 + 991 * 60);
        assert_eq!(first.episodes.iter().map(|e| e.event.end).collect::<Vec<_>>(), vec![None]);
        let second = score(&meta(), Some(&saved(&first)), &all[982..]).unwrap();
        assert_eq!(second.points, 8, "only points after through_ts are scored");
        assert_eq!(second.episodes.len(), 1, "{:?}", second.episodes);
        assert_eq!(&second.episodes[0].event, whole, "the ongoing episode is continued, as in one pass");
        assert_eq!(second.state, once.state);
        assert!(second.episodes[0].explanation.starts_with("5xx errors "), "{}", second.episodes[0].explanation);
        assert!(second.episodes[0].explanation.contains("per minute"), "{}", second.episodes[0].explanation);
    }

    /// Errors at 400 a minute from minute 900 on, synced every five
    /// minutes: long after the detector learned the new level, the episode
    /// is still the one ongoing episode, continued by every sync with what
    /// holds it open, exactly as one pass would have it.
    #[test]
    fn a_sustained_spike_stays_one_ongoing_episode_across_syncs() {
        let all = series(0, 1200, 900);
        let once = score(&meta(), None, &all).unwrap();
        assert_eq!(once.episodes.len(), 1, "{:?}", once.episodes);
        assert_eq!((once.episodes[0].event.start, once.episodes[0].event.end), (T0 + 900 * 60, None));
        assert_eq!(once.episodes[0].event.through, T0 + 1199 * 60);
        assert!(once.hold.is_some());

        let mut last = score(&meta(), None, &all[..905]).unwrap();
        for to in (910..=1200).step_by(5) {
            let from = to - 15;
            last = score(&meta(), Some(&saved(&last)), &all[from..to]).unwrap();
            assert_eq!(last.episodes.len(), 1, "sync to minute {to}: {:?}", last.episodes);
            assert_eq!(last.episodes[0].event.end, None, "sync to minute {to}");
        }
        assert_eq!(last.episodes[0].event, once.episodes[0].event);
        assert_eq!(last.hold, once.hold);
    }

    #[test]
    fn an_episode_that_ended_between_syncs_is_closed_at_its_last_surprising_point() {
        // A short burst: 400 for three minutes, then back to 100.
        let all: Vec<(i64, f64)> = series(0, 1000, 2000)
            .into_iter()
            .map(|(t, v)| if (T0 + 900 * 60..T0 + 903 * 60).contains(&t) { (t, 400.0) } else { (t, v) })
            .collect();
        let once = score(&meta(), None, &all).unwrap();
        let first = score(&meta(), None, &all[..902]).unwrap();
        assert_eq!(first.episodes.last().map(|e| e.event.end), Some(None), "still ongoing at the first sync");
        let second = score(&meta(), Some(&saved(&first)), &all[892..]).unwrap();
        assert_eq!(second.episodes[0].event, once.episodes.last().unwrap().event);
        assert!(second.episodes[0].event.end.is_some());
    }

    #[test]
    fn nothing_new_means_nothing_to_write() {
        let all = series(0, 300, 2000);
        let first = score(&meta(), None, &all).unwrap();
        assert!(score(&meta(), Some(&saved(&first)), &all[290..]).is_none());
    }

    #[test]
    fn no_anomaly_is_reported_from_the_first_points_of_a_series() {
        let all = series(0, 100, 60);
        let s = score(&meta(), None, &all).unwrap();
        assert!(s.episodes.is_empty(), "{:?}", s.episodes);
    }

    /// A sparse count: no errors most minutes, one or two now and then.
    /// None is an anomaly to report, with the rule or without it (the
    /// detector's usual miss never falls below one event), and an outage on
    /// the same series still is.
    #[test]
    fn blips_on_a_sparse_count_are_not_anomalies_but_an_outage_is() {
        let blips: Vec<(i64, f64)> =
            (0..1400).map(|i| (T0 + i * 60, if i % 173 == 0 || i % 311 == 0 { 1.0 } else { 0.0 })).collect();
        let s = score(&meta(), None, &blips).unwrap();
        assert!(s.episodes.is_empty(), "{:?}", s.episodes);
        let raw = score(&SeriesMeta { min_excess: 0.0, ..meta() }, None, &blips).unwrap();
        assert!(raw.episodes.is_empty(), "the detector alone: {:?}", raw.episodes);

        let mut outage = blips.clone();
        outage.extend((1400..1410).map(|i| (T0 + i * 60, 140.0)));
        let s = score(&meta(), None, &outage).unwrap();
        assert_eq!(s.episodes.iter().map(|e| e.event.start).collect::<Vec<_>>(), vec![T0 + 1400 * 60]);
    }

    #[test]
    fn units_read_as_people_say_them() {
        assert_eq!(explain_unit("count", "Sum", 60), "per minute");
        assert_eq!(explain_unit("count", "Sum", 300), "per 5 minutes");
        assert_eq!(explain_unit("count", "Average", 60), "");
        assert_eq!(explain_unit("seconds", "p99", 60), "s");
        assert_eq!(explain_unit("percent", "Average", 60), "%");
    }
}
