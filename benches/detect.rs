//! `cargo bench --bench detect`: the anomaly detector's throughput on one
//! thread over a long series, beside a trivial pass (summing the same
//! values) timed in the same run; its scores on labelled synthetic
//! CloudWatch-like series (testkit's `synthetic`); then its NAB scores at
//! the fixed threshold, when the labelled corpus is present
//! (`FLEETDECK_NAB`, else `../shared/nab` beside the repository): on all
//! 41 files, per category, and under leave-one-category-out over a grid of
//! constants (every candidate and every split printed, not only the best).
//! The previous detector (before issue #20) is scored in the same run as
//! the baseline. Then every wait tried before the likelihood channel
//! speaks, on NAB and on 21 seeds of the synthetic series (see `waits`).
//! Then an experiment that is not shipped: a second
//! detector on the means of every k points, beside the shipped one (see
//! `scales`). The last line is JSON.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use fleetdeck_engine::detect::{Config, Detector, Params, ANOMALY_THRESHOLD};
use fleetdeck_testkit::nab::{self, Corpus};
use fleetdeck_testkit::synthetic;

/// The synthetic series' seed.
const SYNTHETIC_SEED: u64 = 20;

/// Points in the long series.
const POINTS: usize = 20_000_000;
const MIN_POINTS_PER_S: f64 = 5_000_000.0;
/// Published NAB standard scores on the same 41 files, with NAB's in-sample
/// optimised threshold (shared/nab/README.md).
const NUMENTA_HTM: f64 = 68.9;
const ARTIME: f64 = 76.7;

fn main() {
    let dir = std::env::var_os("FLEETDECK_NAB")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/nab"));
    let corpus = if dir.join("windows.json").exists() {
        Some(Corpus::load(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())))
    } else {
        println!("no NAB corpus at {} (set FLEETDECK_NAB): NAB scores skipped", dir.display());
        None
    };

    // The long series: NAB's files end to end, repeated, each continuing in
    // time from the last; without the corpus, a synthetic daily pattern.
    let (timestamps, values) = long_series(corpus.as_ref());
    let points = values.len();

    let mut baseline_s = f64::MAX;
    let mut detector_s = f64::MAX;
    let mut alarms = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let sum: f64 = black_box(&values).iter().sum();
        black_box(sum);
        baseline_s = baseline_s.min(started.elapsed().as_secs_f64());

        let started = Instant::now();
        let mut detector = Detector::new(Config::default());
        alarms = 0;
        for (&t, &v) in black_box(&timestamps).iter().zip(black_box(&values)) {
            alarms += usize::from(detector.score(t, v) >= ANOMALY_THRESHOLD);
        }
        black_box(&detector);
        detector_s = detector_s.min(started.elapsed().as_secs_f64());
    }
    let points_per_s = points as f64 / detector_s;
    let baseline_points_per_s = points as f64 / baseline_s;
    let state_bytes = {
        let mut d = Detector::new(Config::default());
        for (&t, &v) in timestamps.iter().zip(&values).take(100_000) {
            d.score(t, v);
        }
        d.to_bytes().len()
    };

    println!("figure              value          bound / baseline (same run)");
    println!(
        "points_per_s        {points_per_s:<14.0} >= {MIN_POINTS_PER_S:.0} (one thread, {points} points, {alarms} alarms)"
    );
    println!("baseline_points_s   {baseline_points_per_s:<14.0} (summing the same values)");
    println!("state_bytes         {state_bytes:<14} (one series' saved state)");

    let synthetic = synthetic_figures();

    let mut nab_scores = [None; 3];
    let mut previous_nab = None;
    if let Some(corpus) = &corpus {
        let started = Instant::now();
        let scores = corpus.detect(&Config::default());
        let took = started.elapsed().as_secs_f64();
        for (slot, profile) in nab_scores.iter_mut().zip(&nab::PROFILES) {
            *slot = Some(corpus.score(&scores, ANOMALY_THRESHOLD, profile));
        }
        let (mut windows, mut detected, mut false_positives) = (0, 0, 0);
        for (file, s) in corpus.files.iter().zip(&scores) {
            let f = nab::score_file(s, ANOMALY_THRESHOLD, &file.windows, &nab::STANDARD);
            (windows, detected, false_positives) =
                (windows + f.windows, detected + f.detected, false_positives + f.false_positives);
        }
        let [standard, low_fp, low_fn] = nab_scores.map(Option::unwrap_or_default);
        println!(
            "nab_standard        {standard:<14.1} (numenta HTM {NUMENTA_HTM}, ARTime {ARTIME}, with NAB's optimised threshold)"
        );
        println!("nab_low_fp          {low_fp:<14.1} (numenta HTM 62.2, ARTime 67.7)");
        println!("nab_low_fn          {low_fn:<14.1} (numenta HTM 73.5, ARTime 82.2)");
        println!(
            "nab_detail          {detected}/{windows} windows found, {false_positives} false positives, threshold {ANOMALY_THRESHOLD} fixed; {} files in {took:.2} s",
            corpus.files.len()
        );
        let previous = corpus.detect_with(|| Detector::with_params(Config::default(), PREVIOUS));
        let previous = nab::PROFILES.map(|p| corpus.score(&previous, ANOMALY_THRESHOLD, &p));
        println!(
            "nab_previous        {:.1} / {:.1} / {:.1} (the detector before issue #20, same run)",
            previous[0], previous[1], previous[2]
        );
        previous_nab = Some(previous);
        splits(corpus, &scores);
        waits(corpus);
        scales(corpus);
    }
    println!(
        "{}",
        serde_json::json!({
            "points_per_s": points_per_s,
            "baseline_points_per_s": baseline_points_per_s,
            "points": points,
            "state_bytes": state_bytes,
            "nab_standard": nab_scores[0],
            "nab_low_fp": nab_scores[1],
            "nab_low_fn": nab_scores[2],
            "nab_previous": previous_nab,
            "synthetic": synthetic,
            "threshold": ANOMALY_THRESHOLD,
            "bars": {
                "points_per_s": MIN_POINTS_PER_S,
                "nab_standard_numenta_htm": NUMENTA_HTM,
                "nab_standard_artime": ARTIME,
            },
        })
    );
}

fn long_series(corpus: Option<&Corpus>) -> (Vec<i64>, Vec<f64>) {
    let mut timestamps = Vec::with_capacity(POINTS);
    let mut values = Vec::with_capacity(POINTS);
    match corpus {
        Some(corpus) => {
            let mut offset = 0;
            'fill: loop {
                for file in &corpus.files {
                    let ts = &file.series.timestamps;
                    let shift = offset - ts[0];
                    for (&t, &v) in ts.iter().zip(&file.series.values) {
                        if values.len() == POINTS {
                            break 'fill;
                        }
                        timestamps.push(t + shift);
                        values.push(v);
                    }
                    offset = ts[ts.len() - 1] + shift + 300;
                }
            }
        }
        None => {
            let mut state = 0x2545_f491_4f6c_dd1d_u64;
            for i in 0..POINTS as i64 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let t = 1_396_310_400 + i * 60;
                let office = (9..18).contains(&(t.rem_euclid(86_400) / 3600));
                timestamps.push(t);
                values.push(if office { 80.0 } else { 20.0 } + (state >> 40) as f64 / (1u64 << 24) as f64);
            }
        }
    }
    (timestamps, values)
}

/// The shipped detector per fold, then leave-one-category-out over a grid
/// of candidate constants: every split's choice and held-out scores.
fn splits(corpus: &Corpus, shipped: &[Vec<f64>]) {
    let folds = corpus.folds();
    for fold in &folds {
        let s =
            nab::PROFILES.map(|p| corpus.score_where(shipped, ANOMALY_THRESHOLD, &p, |f| nab::fold(&f.name) == *fold));
        let fp: usize = corpus
            .files
            .iter()
            .zip(shipped)
            .filter(|(f, _)| nab::fold(&f.name) == *fold)
            .map(|(f, s)| nab::score_file(s, ANOMALY_THRESHOLD, &f.windows, &nab::STANDARD).false_positives)
            .sum();
        println!("fold {fold:<16} shipped {:5.1} / {:5.1} / {:5.1}  ({fp} false positives)", s[0], s[1], s[2]);
    }
    let grid = candidates();
    let scores: Vec<Vec<Vec<f64>>> =
        grid.iter().map(|p| corpus.detect_with(|| Detector::with_params(Config::default(), *p))).collect();
    for (i, (p, s)) in grid.iter().zip(&scores).enumerate() {
        let all = nab::PROFILES.map(|q| corpus.score(s, ANOMALY_THRESHOLD, &q));
        println!("candidate {i:<2} {p:?}: all 41 files {:5.1} / {:5.1} / {:5.1}", all[0], all[1], all[2]);
    }
    let splits = nab::leave_one_category_out(corpus, &scores, ANOMALY_THRESHOLD);
    for s in &splits {
        println!(
            "loco held out {:<16} chose candidate {:<2} (others {:5.1}); held out {:5.1} / {:5.1} / {:5.1}",
            s.held_out, s.chosen, s.tuned, s.held[0], s.held[1], s.held[2]
        );
    }
    let pooled = pooled_held_out(corpus, &splits, &scores);
    println!("loco pooled held-out  {:5.1} / {:5.1} / {:5.1}", pooled[0], pooled[1], pooled[2]);
}

/// NAB's scores, per profile, of every file scored by the candidate its
/// split chose without the file's fold.
fn pooled_held_out(corpus: &Corpus, splits: &[nab::Split], candidates: &[Vec<Vec<f64>>]) -> [f64; 3] {
    let pooled: Vec<Vec<f64>> = corpus
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let split = splits.iter().find(|s| s.held_out == nab::fold(&f.name)).expect("a split per fold");
            candidates[split.chosen][i].clone()
        })
        .collect();
    nab::PROFILES.map(|p| corpus.score(&pooled, ANOMALY_THRESHOLD, &p))
}

/// The constants leave-one-category-out chooses among: the alarm bar, the
/// likelihood channel's tail (0: off) and window, how fast the largest
/// recent miss is forgotten, and the shift channel's tail (0: off).
fn candidates() -> Vec<Params> {
    let mut grid = Vec::new();
    for shift_tail in [0.0, 1e-8, 1e-12] {
        for z_alarm in [7.0, 9.0, 11.0] {
            for record_half_life in [1000.0, 4000.0] {
                let p = Params { z_alarm, record_half_life, shift_tail, ..Params::default() };
                grid.push(Params { likelihood_tail: 0.0, ..p });
                for likelihood_tail in [1e-6, 1e-8, 1e-10] {
                    for likelihood_window in [10, 40] {
                        grid.push(Params { likelihood_tail, likelihood_window, ..p });
                    }
                }
            }
        }
    }
    grid
}

/// The detector before issue #20's likelihood and shift channels.
const PREVIOUS: Params = Params {
    z_alarm: 7.0,
    likelihood_tail: 0.0,
    quiet: 100,
    likelihood_window: 10,
    record_half_life: 1000.0,
    relative_floor: 1e-6,
    likelihood_after: 0,
    record_margin: 1.2,
    shift_tail: 0.0,
    short_window: 10.0,
    long_window: 240.0,
    shift_after: 0,
};

/// The labelled synthetic CloudWatch-like series (testkit's `synthetic`):
/// the shipped detector beside the previous one.
fn synthetic_figures() -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (name, params) in [("shipped", Params::default()), ("previous", PREVIOUS)] {
        let e =
            synthetic::evaluate(SYNTHETIC_SEED, || Detector::with_params(Config::default(), params), ANOMALY_THRESHOLD);
        let mut delays = e.delays.clone();
        delays.sort_by(f64::total_cmp);
        let median = delays.get(delays.len() / 2).copied().unwrap_or(f64::NAN);
        let worst = delays.last().copied().unwrap_or(f64::NAN);
        let per_day = e.false_alarms as f64 / e.quiet_days;
        println!(
            "synthetic {name:<9} {:5.1} / {:5.1} / {:5.1}  found {}/{} (delay median {median:.0} min, max {worst:.0}); quiet: {} alarms in {:.0} series-days",
            e.nab[0], e.nab[1], e.nab[2], e.found, e.incidents, e.false_alarms, e.quiet_days
        );
        out.insert(
            name.into(),
            serde_json::json!({"standard": e.nab[0], "low_fp": e.nab[1], "low_fn": e.nab[2], "found": e.found,
                "incidents": e.incidents, "median_delay_min": median, "false_alarms_per_series_day": per_day}),
        );
    }
    out.into()
}

/// The experiment "ensembles of scale-specific models" (issue #20): the
/// shipped detector beside a second one fed the mean of every `k` points,
/// a point scoring the larger of the two surprises (the coarse one at
/// each k-th point), one alarm per 100 points. Printed for every k tried,
/// on the 41 files per fold, under leave-one-category-out among the
/// shipped detector and every k, and on the synthetic series with the
/// quiet series' alarms. Not shipped (README, "Anomaly detection").
fn scales(corpus: &Corpus) {
    struct Scaled {
        base: Detector,
        coarse: Detector,
        k: usize,
        sum: f64,
        n: usize,
        quiet: u32,
    }
    impl Scaled {
        fn score(&mut self, t: i64, v: f64) -> f64 {
            let mut s = self.base.observe(t, v).surprise;
            if v.is_finite() {
                (self.sum, self.n) = (self.sum + v, self.n + 1);
                if self.n == self.k {
                    s = s.max(self.coarse.observe(t, self.sum / self.k as f64).surprise);
                    (self.sum, self.n) = (0.0, 0);
                }
            }
            if self.quiet > 0 {
                self.quiet -= 1;
                return s.min(ANOMALY_THRESHOLD * 0.99);
            }
            if s >= ANOMALY_THRESHOLD {
                self.quiet = 100;
            }
            s
        }
    }
    let run = |k: usize, series: &fleetdeck_engine::detect::csv::Series| -> Vec<f64> {
        let new = || Detector::new(Config::default());
        let mut d = Scaled { base: new(), coarse: new(), k, sum: 0.0, n: 0, quiet: 0 };
        series.timestamps.iter().zip(&series.values).map(|(&t, &v)| d.score(t, v)).collect()
    };
    let ks = [1usize, 3, 6, 8, 12, 16, 24, 36, 48];
    let (with, quiet) = synthetic::corpus(SYNTHETIC_SEED);
    let labelled = Corpus { files: with.iter().map(|l| l.series.clone()).collect() };
    let mut candidates = Vec::new();
    for k in ks {
        let scores: Vec<Vec<f64>> = corpus.files.iter().map(|f| run(k, &f.series)).collect();
        let all = nab::PROFILES.map(|p| corpus.score(&scores, ANOMALY_THRESHOLD, &p));
        let mut line = format!("scale k={k:<3} all 41 files {:5.1} / {:5.1} / {:5.1};", all[0], all[1], all[2]);
        line += &per_fold(corpus, &scores);
        let synthetic: Vec<Vec<f64>> = with.iter().map(|l| run(k, &l.series.series)).collect();
        let syn = labelled.score(&synthetic, ANOMALY_THRESHOLD, &nab::STANDARD);
        let alarms: usize = quiet
            .iter()
            .map(|l| {
                let s = run(k, &l.series.series);
                let ts = &l.series.series.timestamps;
                let from = ts.partition_point(|&t| t < ts[0] + 86_400);
                s[from..].iter().filter(|&&x| x >= ANOMALY_THRESHOLD).count()
            })
            .sum();
        println!("{line}; synthetic {syn:.1}, quiet alarms {alarms}");
        candidates.push(scores);
    }
    // k = 1 is the shipped detector (its coarse twin sees the same points).
    let splits = nab::leave_one_category_out(corpus, &candidates, ANOMALY_THRESHOLD);
    for s in &splits {
        println!(
            "scale loco held out {:<16} chose k={:<3} (others {:5.1}); held out {:5.1} / {:5.1} / {:5.1}",
            s.held_out, ks[s.chosen], s.tuned, s.held[0], s.held[1], s.held[2]
        );
    }
    let pooled = pooled_held_out(corpus, &splits, &candidates);
    println!("scale loco pooled held-out  {:5.1} / {:5.1} / {:5.1}", pooled[0], pooled[1], pooled[2]);
}

/// How long the likelihood channel waits before it speaks (the shipped
/// detector waits a day; it waited a week until 2026-12-07): every wait
/// tried, on the 41 files per fold and on the synthetic series of the
/// bench's seed and of twenty more (21 to 30, 31 to 40: the mean
/// standard score, incidents found, alarms on the quiet series).
fn waits(corpus: &Corpus) {
    const DAY: i64 = 86_400;
    for after in [0, DAY / 4, DAY / 2, DAY, 2 * DAY, 3 * DAY, 7 * DAY] {
        let p = Params { likelihood_after: after, ..Params::default() };
        let scores = corpus.detect_with(|| Detector::with_params(Config::default(), p));
        let all = nab::PROFILES.map(|q| corpus.score(&scores, ANOMALY_THRESHOLD, &q));
        let mut line = format!(
            "wait {:>4.2} d  all 41 files {:5.1} / {:5.1} / {:5.1};",
            after as f64 / DAY as f64,
            all[0],
            all[1],
            all[2]
        );
        line += &per_fold(corpus, &scores);
        for seeds in [SYNTHETIC_SEED..SYNTHETIC_SEED + 1, 21..31, 31..41] {
            let (mut standard, mut found, mut incidents, mut quiet) = (0.0, 0, 0, 0);
            for seed in seeds.clone() {
                let e = synthetic::evaluate(seed, || Detector::with_params(Config::default(), p), ANOMALY_THRESHOLD);
                (standard, found, incidents, quiet) =
                    (standard + e.nab[0], found + e.found, incidents + e.incidents, quiet + e.false_alarms);
            }
            let n = (seeds.end - seeds.start) as f64;
            line += &format!(
                "; synthetic seeds {}-{} {:.1} found {found}/{incidents} quiet {quiet}",
                seeds.start,
                seeds.end - 1,
                standard / n
            );
        }
        println!("{line}");
    }
}

/// " artificial 67.6 realAdExchange 64.5 ...": each fold's standard score.
fn per_fold(corpus: &Corpus, scores: &[Vec<f64>]) -> String {
    let mut line = String::new();
    for fold in corpus.folds() {
        let s = corpus.score_where(scores, ANOMALY_THRESHOLD, &nab::STANDARD, |f| nab::fold(&f.name) == fold);
        line += &format!(" {fold} {s:.1}");
    }
    line
}
