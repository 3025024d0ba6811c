//! The Numenta Anomaly Benchmark's scoring method, as `shared/nab/README.md`
//! states it, and a loader for its labelled corpus.
//!
//! A detection is a row whose score is at least the threshold. The first
//! 15% of a file (at most 750 rows) is warm-up and not scored. Inside an
//! anomaly window only the first detection counts, rewarded by a scaled
//! sigmoid of its position; a window without one costs `A_FN`; a detection
//! outside every window costs `A_FP`, less when it closely follows a window.
//!
//! Two details the README leaves open follow NAB's own scorer
//! (`nab/sweeper.py`): positions count rows, not seconds, with
//! `y = -(last - row + 1) / width` inside a window (so -1 at its left edge
//! and -1/width at its right), and `(row - last) / (width - 1)` past the
//! previous window. One the README settles differently from that code: NAB
//! divides a true positive's reward by sigma(-1), so that a detection at the
//! left edge earns exactly `A_TP`; here it earns `A_TP * sigma(-1)`
//! (0.9866), as the README's formula says. Scores therefore come out at most
//! about 0.7 points lower than NAB's code would give the same detections.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fleetdeck_engine::detect::csv::{self, Series};
use fleetdeck_engine::detect::{Config, Detector};

/// The weights of one NAB application profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    pub name: &'static str,
    pub a_tp: f64,
    pub a_fp: f64,
    pub a_fn: f64,
}

pub const STANDARD: Profile = Profile { name: "standard", a_tp: 1.0, a_fp: 0.11, a_fn: 1.0 };
pub const LOW_FP: Profile = Profile { name: "low FP", a_tp: 1.0, a_fp: 0.22, a_fn: 1.0 };
pub const LOW_FN: Profile = Profile { name: "low FN", a_tp: 1.0, a_fp: 0.11, a_fn: 2.0 };
pub const PROFILES: [Profile; 3] = [STANDARD, LOW_FP, LOW_FN];

/// An anomaly window as an inclusive range of row indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub first: usize,
    pub last: usize,
}

impl Window {
    fn width(&self) -> usize {
        self.last - self.first + 1
    }
}

/// NAB's scaled sigmoid: 2 / (1 + e^(5y)) - 1, and -1 from y = 3 on.
pub fn scaled_sigmoid(y: f64) -> f64 {
    if y >= 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * y).exp()) - 1.0
    }
}

/// Rows at the start of a file of `rows` rows that are not scored.
pub fn warm_up_rows(rows: usize) -> usize {
    (rows * 15 / 100).min(750)
}

/// How one file scored under one profile.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FileScore {
    /// The weighted sum: rewards minus costs.
    pub score: f64,
    /// Windows counted (those reaching past the warm-up).
    pub windows: usize,
    pub detected: usize,
    /// Detections outside every window (each one is a cost).
    pub false_positives: usize,
}

/// Scores one file's anomaly scores against its windows (sorted, disjoint).
pub fn score_file(scores: &[f64], threshold: f64, windows: &[Window], profile: &Profile) -> FileScore {
    let warm_up = warm_up_rows(scores.len());
    let mut out = FileScore::default();
    let mut next = 0; // the first window not yet passed
    let mut previous: Option<Window> = None;
    let mut rewarded = false; // the current window already had its detection
    for (row, &score) in scores.iter().enumerate() {
        while next < windows.len() && windows[next].last < row {
            if windows[next].last >= warm_up {
                out.windows += 1;
                if !rewarded {
                    out.score -= profile.a_fn;
                }
            }
            previous = Some(windows[next]);
            next += 1;
            rewarded = false;
        }
        if row < warm_up || score < threshold {
            continue;
        }
        match windows.get(next).filter(|w| w.first <= row) {
            Some(w) => {
                if !rewarded {
                    rewarded = true;
                    out.detected += 1;
                    let y = -((w.last - row + 1) as f64) / w.width() as f64;
                    out.score += profile.a_tp * scaled_sigmoid(y);
                }
            }
            None => {
                out.false_positives += 1;
                let past = match previous {
                    Some(p) if p.width() > 1 => (row - p.last) as f64 / (p.width() - 1) as f64,
                    _ => 3.0,
                };
                out.score += profile.a_fp * scaled_sigmoid(past);
            }
        }
    }
    for w in &windows[next..] {
        if w.last >= warm_up {
            out.windows += 1;
            if !rewarded {
                out.score -= profile.a_fn;
            }
        }
        rewarded = false;
    }
    out
}

/// 100 for a detector that finds every window at its left edge with no
/// false positive, 0 for one that never fires.
pub fn normalise(score: f64, windows: usize, profile: &Profile) -> f64 {
    let null = -profile.a_fn * windows as f64;
    let perfect = profile.a_tp * windows as f64;
    100.0 * (score - null) / (perfect - null)
}

/// One labelled file of the corpus.
#[derive(Debug, Clone)]
pub struct LabelledSeries {
    /// `<category>/<file>.csv`, as `windows.json` names it.
    pub name: String,
    pub series: Series,
    pub windows: Vec<Window>,
}

/// The labelled files of a NAB-format corpus (`data/`, `windows.json`).
#[derive(Debug, Clone)]
pub struct Corpus {
    pub files: Vec<LabelledSeries>,
}

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
    #[error(transparent)]
    Series(#[from] fleetdeck_engine::input::InputError),
    #[error("{file}: window bound {bound:?} is not a timestamp")]
    Bound { file: String, bound: String },
}

impl Corpus {
    /// Reads `dir/windows.json` and every file it names under `dir/data/`.
    pub fn load(dir: &Path) -> Result<Corpus, CorpusError> {
        let path = dir.join("windows.json");
        let text = std::fs::read_to_string(&path).map_err(|source| CorpusError::Read { path: path.clone(), source })?;
        let labels: BTreeMap<String, Vec<[String; 2]>> =
            serde_json::from_str(&text).map_err(|source| CorpusError::Json { path, source })?;
        let mut files = Vec::with_capacity(labels.len());
        for (name, bounds) in labels {
            let path = dir.join("data").join(&name);
            let text =
                std::fs::read_to_string(&path).map_err(|source| CorpusError::Read { path: path.clone(), source })?;
            let series = csv::parse(&path, &text)?;
            let mut windows = Vec::with_capacity(bounds.len());
            for [start, end] in &bounds {
                let at = |bound: &String| {
                    csv::parse_timestamp(bound)
                        .ok_or_else(|| CorpusError::Bound { file: name.clone(), bound: bound.clone() })
                };
                let (start, end) = (at(start)?, at(end)?);
                let first = series.timestamps.partition_point(|&t| t < start);
                let last = series.timestamps.partition_point(|&t| t <= end);
                if last > first {
                    windows.push(Window { first, last: last - 1 });
                }
            }
            files.push(LabelledSeries { name, series, windows });
        }
        Ok(Corpus { files })
    }

    /// Runs a fresh detector over every file.
    pub fn detect(&self, config: &Config) -> Vec<Vec<f64>> {
        self.detect_with(|| Detector::new(config.clone()))
    }

    /// Runs a fresh detector from `new` over every file.
    pub fn detect_with(&self, new: impl Fn() -> Detector) -> Vec<Vec<f64>> {
        self.files
            .iter()
            .map(|f| {
                let mut detector = new();
                f.series.timestamps.iter().zip(&f.series.values).map(|(&t, &v)| detector.score(t, v)).collect()
            })
            .collect()
    }

    /// The normalised score of per-file anomaly scores under one profile.
    pub fn score(&self, scores: &[Vec<f64>], threshold: f64, profile: &Profile) -> f64 {
        self.score_where(scores, threshold, profile, |_| true)
    }

    /// [`Corpus::score`] over the files `keep` accepts; NaN when they have
    /// no window to find.
    pub fn score_where(
        &self,
        scores: &[Vec<f64>],
        threshold: f64,
        profile: &Profile,
        keep: impl Fn(&LabelledSeries) -> bool,
    ) -> f64 {
        let (mut sum, mut windows) = (0.0, 0);
        for (file, scores) in self.files.iter().zip(scores).filter(|(f, _)| keep(f)) {
            let s = score_file(scores, threshold, &file.windows, profile);
            sum += s.score;
            windows += s.windows;
        }
        if windows == 0 {
            return f64::NAN;
        }
        normalise(sum, windows, profile)
    }

    /// The folds of [`leave_one_category_out`], in name order.
    pub fn folds(&self) -> Vec<&'static str> {
        let mut folds: Vec<&'static str> = self.files.iter().map(|f| fold(&f.name)).collect();
        folds.sort_unstable();
        folds.dedup();
        folds
    }
}

/// The fold a file belongs to: its category, with NAB's two artificial
/// categories as one (`artificialNoAnomaly` has no window, so alone it
/// could not be scored, only counted).
pub fn fold(name: &str) -> &'static str {
    const CATEGORIES: [&str; 4] = ["realAdExchange", "realKnownCause", "realTraffic", "realTweets"];
    let category = name.split('/').next().unwrap_or_default();
    if category.starts_with("artificial") {
        return "artificial";
    }
    CATEGORIES.into_iter().find(|c| *c == category).unwrap_or("other")
}

/// One split of leave-one-category-out.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The fold held out.
    pub held_out: &'static str,
    /// The candidate with the best standard score on the other folds.
    pub chosen: usize,
    /// That best score, on the other folds (in-sample for this split).
    pub tuned: f64,
    /// The chosen candidate's scores on the held-out fold, per [`PROFILES`].
    pub held: [f64; 3],
}

/// Leave-one-category-out: for each fold, the candidate (one set of
/// per-file scores each, from detectors that differ in their constants)
/// that scores best (standard profile) on the other folds is chosen, and
/// its scores on the held-out fold reported. How those held-out scores
/// compare with the in-sample ones says how much choosing the constants on
/// these files flatters them.
pub fn leave_one_category_out(corpus: &Corpus, candidates: &[Vec<Vec<f64>>], threshold: f64) -> Vec<Split> {
    corpus
        .folds()
        .into_iter()
        .map(|held_out| {
            let mut chosen = 0;
            let mut tuned = f64::NEG_INFINITY;
            for (i, scores) in candidates.iter().enumerate() {
                let s = corpus.score_where(scores, threshold, &STANDARD, |f| fold(&f.name) != held_out);
                if s > tuned {
                    (chosen, tuned) = (i, s);
                }
            }
            let held =
                PROFILES.map(|p| corpus.score_where(&candidates[chosen], threshold, &p, |f| fold(&f.name) == held_out));
            Split { held_out, chosen, tuned, held }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detections(rows: usize, at: &[usize]) -> Vec<f64> {
        let mut scores = vec![0.0; rows];
        for &i in at {
            scores[i] = 1.0;
        }
        scores
    }

    // 1000 rows: the warm-up is the first 150.
    const W: Window = Window { first: 400, last: 499 };

    #[test]
    fn a_detection_at_the_left_edge_earns_a_tp_times_sigma_of_minus_one() {
        let s = score_file(&detections(1000, &[400]), 0.5, &[W], &STANDARD);
        assert!((s.score - 0.986_614_298_151_430_3).abs() < 1e-12, "{s:?}");
        assert_eq!((s.windows, s.detected, s.false_positives), (1, 1, 0));
    }

    #[test]
    fn only_the_first_detection_in_a_window_counts() {
        let s = score_file(&detections(1000, &[450, 451, 499]), 0.5, &[W], &STANDARD);
        // y = -(499 - 450 + 1) / 100 = -0.5
        assert!((s.score - (2.0 / (1.0 + (-2.5f64).exp()) - 1.0)).abs() < 1e-12, "{s:?}");
        assert_eq!(s.detected, 1);
    }

    #[test]
    fn a_missed_window_costs_a_fn() {
        assert_eq!(score_file(&detections(1000, &[]), 0.5, &[W], &STANDARD).score, -1.0);
        assert_eq!(score_file(&detections(1000, &[]), 0.5, &[W], &LOW_FN).score, -2.0);
    }

    #[test]
    fn a_false_positive_before_any_window_costs_the_full_a_fp() {
        let s = score_file(&detections(1000, &[200, 400]), 0.5, &[W], &LOW_FP);
        assert!((s.score - (0.986_614_298_151_430_3 - 0.22)).abs() < 1e-12, "{s:?}");
        assert_eq!(s.false_positives, 1);
    }

    #[test]
    fn a_false_positive_right_after_a_window_costs_less_than_a_later_one() {
        let cost =
            |row| -score_file(&detections(1000, &[400, row]), 0.5, &[W], &STANDARD).score + 0.986_614_298_151_430_3;
        // One window width (99 rows) past the end: sigma(1) = -0.9866.
        assert!((cost(598) - 0.11 * 0.986_614_298_151_430_3).abs() < 1e-12);
        assert!(cost(500) < 0.01 && cost(500) > 0.0);
        assert!((cost(999) - 0.11).abs() < 1e-12, "3 widths and more past: the full cost");
    }

    #[test]
    fn warm_up_rows_are_not_scored_and_capped_at_750() {
        assert_eq!(warm_up_rows(1000), 150);
        assert_eq!(warm_up_rows(22_695), 750);
        let s = score_file(&detections(1000, &[0, 149]), 0.5, &[], &STANDARD);
        assert_eq!((s.score, s.false_positives), (0.0, 0));
    }

    #[test]
    fn a_perfect_detector_normalises_to_100_and_a_null_one_to_0() {
        for p in &PROFILES {
            assert_eq!(normalise(p.a_tp * 3.0, 3, p), 100.0);
            assert_eq!(normalise(-p.a_fn * 3.0, 3, p), 0.0);
        }
        // Detecting every window at its left edge, per the README's formula.
        let s = score_file(&detections(1000, &[400]), 0.5, &[W], &STANDARD);
        assert!((normalise(s.score, s.windows, &STANDARD) - 99.330_714_907_571_5).abs() < 1e-9);
    }
}
