//! Labelled CloudWatch-like series for the anomaly detector, from a seed:
//! CPU, latency, request and error counts, disk and network bytes, at 1-
//! and 5-minute periods, with the shapes of real fleets (a daily and a
//! weekly load, noise of the metric's own kind, gaps in collection) and
//! incidents injected where the labels say: spikes, level shifts, drifts,
//! changes of the daily shape, outages to zero, bursts of noise.
//!
//! Nothing here was fitted to NAB's CloudWatch files (which the detector's
//! evaluation holds out and never reads): the shapes come from how the
//! metrics are made (a count is Poisson around its rate, a latency
//! log-normal, a CPU bounded by 0 and 100). Labels follow NAB's format, so
//! [`crate::nab`] scores them: each incident has a window of 10% of the
//! series' length shared among its incidents, centred on the incident's
//! start, as NAB centres its windows on the labelled point.

use fleetdeck_engine::detect::csv::Series;

use crate::nab::{LabelledSeries, Window};

/// 2024-01-01 00:00:00 UTC, a Monday.
const T0: i64 = 1_704_067_200;
const DAY: i64 = 86_400;
/// The longest collection gap, in points.
const MAX_GAP: usize = 30;

/// What a series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Cpu,
    Latency,
    Requests,
    Errors,
    DiskBytes,
    NetworkBytes,
}

pub const METRICS: [Metric; 6] =
    [Metric::Cpu, Metric::Latency, Metric::Requests, Metric::Errors, Metric::DiskBytes, Metric::NetworkBytes];

/// What happened to a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incident {
    /// A few points far off.
    Spike,
    /// The level moves and stays.
    LevelShift,
    /// The level creeps away over a few hours, then stays.
    Drift,
    /// The daily shape changes (its swing triples, or it stops).
    SeasonalityChange,
    /// Something behind the service fails for an hour: traffic, CPU and
    /// bytes fall to (almost) nothing, errors and latency soar.
    Outage,
    /// The noise grows fivefold for a few hours.
    NoiseBurst,
}

pub const INCIDENTS: [Incident; 6] = [
    Incident::Spike,
    Incident::LevelShift,
    Incident::Drift,
    Incident::SeasonalityChange,
    Incident::Outage,
    Incident::NoiseBurst,
];

/// One labelled synthetic series and where its incidents start (rows).
#[derive(Debug, Clone)]
pub struct Labelled {
    pub series: LabelledSeries,
    pub metric: Metric,
    /// Seconds between points.
    pub period: i64,
    pub incidents: Vec<(Incident, usize)>,
}

/// Deterministic randomness (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn gauss(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-300), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn poisson(&mut self, lambda: f64) -> f64 {
        if lambda > 30.0 {
            return (lambda + lambda.sqrt() * self.gauss()).round().max(0.0);
        }
        let (limit, mut k, mut p) = ((-lambda).exp(), 0.0, 1.0);
        loop {
            p *= self.unit();
            if p <= limit {
                return k;
            }
            k += 1.0;
        }
    }
}

/// Daily and weekly load in [0, 1]: low at night, high in office hours,
/// lower at weekends.
fn load(ts: i64, phase: f64) -> f64 {
    let day = (ts.rem_euclid(DAY) as f64 / DAY as f64 + phase).fract();
    let daily = 0.5 - 0.5 * (std::f64::consts::TAU * day).cos();
    let weekend = matches!((ts - T0).rem_euclid(7 * DAY) / DAY, 5 | 6);
    daily * if weekend { 0.6 } else { 1.0 }
}

/// The series `metric` at `period` seconds for `days` days, from `seed`,
/// with `incidents` (none for a quiet series) spread over its last 80%.
pub fn series(metric: Metric, period: i64, days: i64, seed: u64, incidents: &[Incident]) -> Labelled {
    let mut rng = Rng(seed ^ 0x5eed_0000 ^ (period as u64) << 32);
    let rows = (days * DAY / period) as usize;
    // The series' own character.
    let phase = rng.range(-0.1, 0.1);
    let (base, swing) = match metric {
        Metric::Cpu => (rng.range(5.0, 40.0), rng.range(0.0, 30.0)),
        Metric::Latency => (rng.range(0.05, 0.5), rng.range(0.0, 0.5)),
        Metric::Requests => (rng.range(20.0, 5000.0), rng.range(0.3, 2.0)),
        Metric::Errors => (rng.range(0.02, 3.0), rng.range(0.0, 1.0)),
        Metric::DiskBytes => (rng.range(1e5, 5e7), rng.range(0.0, 1.0)),
        Metric::NetworkBytes => (rng.range(1e6, 1e9), rng.range(0.2, 1.5)),
    };
    let noise = rng.range(0.02, 0.12);
    let per_period = period as f64 / 60.0;

    // Where the incidents start: spread evenly over the last 80%, jittered.
    let slot = rows * 8 / 10 / incidents.len().max(1);
    let starts: Vec<usize> =
        (0..incidents.len()).map(|i| rows / 5 + i * slot + (rng.range(0.2, 0.6) * slot as f64) as usize).collect();
    // What each incident does: its length in rows and its size.
    let hours = |h: f64| ((h * 3600.0) as i64 / period).max(1) as usize;
    let effects: Vec<(Incident, usize, usize, f64)> = incidents
        .iter()
        .zip(&starts)
        .map(|(&kind, &start)| {
            let (len, size) = match kind {
                Incident::Spike => (rng.range(1.0, 4.0) as usize, rng.range(3.0, 8.0)),
                Incident::LevelShift => (rows, rng.range(0.5, 1.5) * if rng.unit() < 0.3 { -0.5 } else { 1.0 }),
                Incident::Drift => (hours(rng.range(2.0, 6.0)), rng.range(0.8, 2.0)),
                Incident::SeasonalityChange => (rows, if rng.unit() < 0.5 { 3.0 } else { 0.0 }),
                Incident::Outage => (hours(1.0), 0.02),
                Incident::NoiseBurst => (hours(rng.range(2.0, 4.0)), 5.0),
            };
            (kind, start, len, size)
        })
        .collect();

    let mut timestamps = Vec::with_capacity(rows);
    let mut values = Vec::with_capacity(rows);
    let mut gap = 0usize;
    for row in 0..rows {
        // Collection gaps: now and then a few points go missing.
        if gap > 0 {
            gap -= 1;
            continue;
        }
        // A gap never swallows an incident's start: a label on points that
        // were never collected marks nothing a detector could see.
        let clear = starts.iter().all(|&s| row + MAX_GAP < s || row > s);
        if rng.unit() < 0.002 && clear {
            gap = rng.range(1.0, MAX_GAP as f64) as usize;
        }
        let ts = T0 + row as i64 * period;
        let mut level = 1.0;
        let mut shape = load(ts, phase);
        let mut scale_noise = 1.0;
        let mut outage = false;
        for &(kind, start, len, size) in &effects {
            if row < start {
                continue;
            }
            let into = row - start;
            match kind {
                Incident::Spike if into < len => level *= 1.0 + size,
                Incident::LevelShift => level *= 1.0 + size,
                Incident::Drift => level *= 1.0 + size * (into as f64 / len as f64).min(1.0),
                Incident::SeasonalityChange => shape = (0.5 + (shape - 0.5) * size).max(0.0),
                Incident::Outage if into < len => outage = true,
                Incident::NoiseBurst if into < len => scale_noise = size,
                _ => {}
            }
        }
        let jitter = noise * scale_noise * rng.gauss();
        let v = match metric {
            Metric::Cpu => {
                let v = (base + swing * shape) * level * (1.0 + jitter);
                if outage {
                    1.0 + rng.unit()
                } else {
                    v.clamp(0.0, 100.0)
                }
            }
            Metric::Latency => {
                // An outage behind the service: requests time out.
                let timeouts = if outage { 8.0 } else { 1.0 };
                (base * (1.0 + swing * shape) * level * timeouts * jitter.exp()).max(0.001)
            }
            Metric::Requests | Metric::Errors => {
                let rate = base * (1.0 + swing * shape) * level * per_period * (1.0 + jitter).max(0.0);
                let rate = if outage && metric == Metric::Requests { rate * 0.02 } else { rate };
                let rate = if outage && metric == Metric::Errors { rate + base * 50.0 } else { rate };
                rng.poisson(rate)
            }
            Metric::DiskBytes => {
                // Bursty writes: mostly a floor, now and then a flush.
                let flush = if rng.unit() < 0.05 { rng.range(2.0, 6.0) } else { 1.0 };
                let v = base * (1.0 + swing * shape) * level * flush * (1.0 + jitter).max(0.05);
                if outage {
                    0.0
                } else {
                    v.round()
                }
            }
            Metric::NetworkBytes => {
                let v = base * (1.0 + swing * shape) * level * (1.0 + jitter).max(0.05);
                if outage {
                    v * 0.02
                } else {
                    v.round()
                }
            }
        };
        timestamps.push(ts);
        values.push(v);
    }

    // Windows: 10% of the series shared among its incidents, centred on
    // each start, as rows of what was kept.
    let row_of = |t: i64| timestamps.partition_point(|&x| x < t);
    let width = rows / 10 / incidents.len().max(1);
    let mut windows = Vec::new();
    let mut labelled = Vec::new();
    for (&kind, &start) in incidents.iter().zip(&starts) {
        let at = T0 + start as i64 * period;
        let first = row_of(at - (width / 2) as i64 * period);
        let last = row_of(at + (width / 2) as i64 * period).min(timestamps.len()).saturating_sub(1);
        windows.push(Window { first, last });
        labelled.push((kind, row_of(at)));
    }
    let name = format!("synthetic/{metric:?}_{}min_{seed}.csv", period / 60);
    Labelled {
        series: LabelledSeries { name, series: Series { timestamps, values }, windows },
        metric,
        period,
        incidents: labelled,
    }
}

/// The test set: every metric at both periods, each with one or two
/// incidents of every kind in turn (5-minute series over two weeks, 1-minute
/// ones over one), and as many quiet series.
pub fn corpus(seed: u64) -> (Vec<Labelled>, Vec<Labelled>) {
    let mut with = Vec::new();
    let mut quiet = Vec::new();
    let mut n = 0u64;
    for round in 0..2 {
        for (i, &metric) in METRICS.iter().enumerate() {
            for (period, days) in [(60, 7), (300, 14)] {
                n += 1;
                let first = INCIDENTS[(i + round * 3 + period as usize / 300) % INCIDENTS.len()];
                let second = INCIDENTS[(i + round * 3 + 2 + period as usize / 300) % INCIDENTS.len()];
                let kinds: &[Incident] = if round == 0 { &[first] } else { &[first, second] };
                with.push(series(metric, period, days, seed.wrapping_add(n), kinds));
                quiet.push(series(metric, period, days, seed.wrapping_add(1000 + n), &[]));
            }
        }
    }
    (with, quiet)
}

/// How a detector did on [`corpus`].
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// NAB's normalised scores over the series with incidents, per
    /// [`crate::nab::PROFILES`].
    pub nab: [f64; 3],
    pub incidents: usize,
    /// Incidents with an alarm in their window at or after their start.
    pub found: usize,
    /// Minutes from each found incident's start to its first alarm.
    pub delays: Vec<f64>,
    /// Alarms on the quiet series after their first day, and the
    /// series-days they cover.
    pub false_alarms: usize,
    pub quiet_days: f64,
    /// Which incidents were missed, and which quiet series alarmed.
    pub missed: Vec<(String, Incident)>,
    pub noisy: Vec<(String, usize)>,
}

/// Runs a fresh detector from `new` over every series of [`corpus`].
pub fn evaluate(seed: u64, new: impl Fn() -> fleetdeck_engine::detect::Detector, threshold: f64) -> Evaluation {
    let (with, quiet) = corpus(seed);
    let run = |l: &Labelled| -> Vec<f64> {
        let mut d = new();
        let s = &l.series.series;
        s.timestamps.iter().zip(&s.values).map(|(&t, &v)| d.score(t, v)).collect()
    };
    let scored: Vec<Vec<f64>> = with.iter().map(run).collect();
    let nab = crate::nab::Corpus { files: with.iter().map(|l| l.series.clone()).collect() };
    let scores = crate::nab::PROFILES.map(|p| nab.score(&scored, threshold, &p));
    let (mut incidents, mut found, mut delays, mut missed) = (0, 0, Vec::new(), Vec::new());
    for (l, s) in with.iter().zip(&scored) {
        let ts = &l.series.series.timestamps;
        for (&(kind, start), w) in l.incidents.iter().zip(&l.series.windows) {
            incidents += 1;
            if let Some(row) = (start..=w.last.min(s.len().saturating_sub(1))).find(|&r| s[r] >= threshold) {
                found += 1;
                delays.push((ts[row] - ts[start]) as f64 / 60.0);
            } else {
                missed.push((l.series.name.clone(), kind));
            }
        }
    }
    let (mut false_alarms, mut quiet_days, mut noisy) = (0, 0.0, Vec::new());
    for l in &quiet {
        let s = run(l);
        let ts = &l.series.series.timestamps;
        let from = ts.partition_point(|&t| t < ts[0] + DAY);
        let alarms = s[from..].iter().filter(|&&x| x >= threshold).count();
        false_alarms += alarms;
        if alarms > 0 {
            noisy.push((l.series.name.clone(), alarms));
        }
        quiet_days += (ts[ts.len() - 1] - ts[from]) as f64 / DAY as f64;
    }
    Evaluation { nab: scores, incidents, found, delays, false_alarms, quiet_days, missed, noisy }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_series_with_windows_around_each_incident() {
        let (a, quiet) = corpus(7);
        let (b, _) = corpus(7);
        assert_eq!(a.len(), 24);
        assert_eq!(quiet.len(), 24);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.series.series, y.series.series);
            let rows = x.series.series.values.len();
            assert!(x.series.series.timestamps.windows(2).all(|w| w[0] < w[1]), "{}", x.series.name);
            for (&(_, start), w) in x.incidents.iter().zip(&x.series.windows) {
                assert!(w.first <= start && start <= w.last && w.last < rows, "{}: {w:?} {start}", x.series.name);
            }
        }
        assert!(quiet.iter().all(|q| q.series.windows.is_empty() && q.incidents.is_empty()));
    }

    /// A label on points that a collection gap swallowed marks an incident
    /// no detector could see: the spike of `Requests_5min_38` (seed 20)
    /// fell in a 23-point gap and its label sat on ordinary points.
    #[test]
    fn every_incident_starts_on_a_point_that_was_collected() {
        for seed in [7, 20, 21] {
            let (with, _) = corpus(seed);
            for l in &with {
                let s = &l.series.series;
                for &(kind, row) in &l.incidents {
                    let step = s.timestamps[row] - s.timestamps[row.saturating_sub(1)];
                    assert!(
                        row == 0 || step == l.period,
                        "{} (seed {seed}): {kind:?} labelled at row {row}, {} s after the point before",
                        l.series.name,
                        step
                    );
                }
            }
        }
    }
}
