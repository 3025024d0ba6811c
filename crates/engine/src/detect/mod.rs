//! Anomaly detection on metric series, one point at a time.
//!
//! A [`Detector`] follows one series. Each new point gets an anomaly score in
//! [0, 1] from what the detector learned of the points before it, and only
//! then is learned from: a score never looks ahead. Scores at or above
//! [`ANOMALY_THRESHOLD`], a constant, are anomalies; nothing is tuned per
//! series. The detector's whole state is a few kilobytes that serialise
//! ([`Detector::to_bytes`]), so each sync carries on where the last stopped.
//!
//! # How it scores a point
//!
//! 1. **What was expected.** Three forecasts run side by side: the series'
//!    recent level alone; a slow level plus its usual shape over the day
//!    (15-minute slots); and a slow level plus its usual shape over the week
//!    (hour slots). The shapes are learned as running averages, each slot
//!    from the points that fall in it. A shape competes only once it has seen
//!    a whole day (or week), and the one whose forecasts have lately been
//!    closest (squared error over about a day) makes the expectation, with a
//!    10% preference for the simpler one.
//! 2. **How far off.** The miss is measured in units of the forecast's usual
//!    miss (an exponentially weighted mean absolute error), a robust z-score.
//!    The usual miss is never taken below one grain of the series: the
//!    smallest step it has taken, or 1 for whole numbers that have not moved
//!    yet. A count of errors that sits at 0 for hours would otherwise have a
//!    usual miss of almost nothing, and a single error would be billions of
//!    usual misses; with the floor it is one, and a burst of 50 is 50.
//!    Learning is robust too: a miss counts for at most four usual misses, so
//!    one spike barely moves the level, the shapes or the spread.
//! 3. **How unusual that is for this series.** Some series spike all the
//!    time. The bar a miss must clear is the largest of 7 usual misses, 1.5
//!    times the series' own 99.5th percentile miss (tracked online), and 1.2
//!    times the largest miss of about the last thousand points (decaying by
//!    half every thousand): a spike no bigger than the last one is not news.
//!    That largest miss is tracked only from the 500th point on, so outliers
//!    while the forecasts are still settling do not hide later ones. A miss
//!    at the bar scores 0.5; the score rises smoothly towards 1 above it and
//!    falls towards 0 below.
//! 4. **Sustained shifts.** Small misses in one direction add up in a
//!    two-sided CUSUM. When it crosses its limit (16 usual misses, or twice
//!    what this series' CUSUM commonly reaches) the point scores at least 0.5
//!    and every forecast's level moves by its own mean miss since the shift
//!    began: a level shift is reported once, then becomes the new normal.
//! 5. **Sustained surprise (anomaly likelihood).** As Numenta's HTM
//!    detector scores how surprising its prediction errors are against
//!    their own recent distribution, the misses (in usual misses, each
//!    capped at 4 so that a single spike cannot trip it) are averaged over
//!    the last 10 points, and that average is measured against a Gaussian
//!    of its own running mean and spread (over about 2,000 points, the
//!    spread at least 0.1). An average with a tail probability of 1e-10
//!    scores 0.5. This catches changes of behaviour that are too small per
//!    point for the bar and not one-sided enough for the CUSUM: noise that
//!    grows, a pattern that breaks. It speaks only from the 300th point and
//!    after a day of history: until the daily shape is known, a sustained
//!    miss may be the day's own shape. (It waited a week, for the first
//!    weekend's sake, until 2026-12-07: on the synthetic series a day found
//!    7% more incidents with as many false alarms; see the bench.)
//! 6. **A moved mean (shift channel).** The values' own running mean over
//!    about 10 points is compared with their mean over about 240, and that
//!    gap is measured against a Gaussian of its own running mean and spread
//!    (over about 2,000 points): a gap with a two-sided tail probability of
//!    1e-12 scores 0.5. It looks at the values, not at the misses, so it
//!    still sees a level that moves while the forecasts follow it, and it
//!    calibrates itself per series (a series whose short mean always
//!    wanders far has a wide gap spread). It speaks from the 300th point
//!    and after a week of history: a series' habits (a spike every hour, a
//!    weekend) move its mean, and the gap's spread must have seen them.
//! 7. **One alarm per episode.** After a point scores at or above the
//!    threshold, the next 100 points score just below it, whatever they do:
//!    an ongoing episode is not news again, and alerting on every point of it
//!    would bury the next one.
//!
//! A point's surprise is the largest of the four channels (steps 3 to 6).
//! The first 50 points of a series score 0 while the basics are learned.
//! A counter that resets (a fall by more than half after ten or more rising
//! steps) scores 0 at the reset, and every level moves down with it (the
//! shift channel's means too; the likelihood channel counts no miss). Gaps
//! and repeated timestamps need nothing special: slots are found from the
//! timestamp, and the rates of learning count points. Non-finite values are
//! ignored (score 0, nothing learned).
//!
//! Daily and weekly slots follow UTC. [`events`] folds scored points into
//! anomaly episodes with a one-line explanation for people.

pub mod csv;

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::clock::{DAY, HOUR, MINUTE};

/// Scores at or above this are anomalies.
pub const ANOMALY_THRESHOLD: f64 = 0.5;

/// How a detector reads its series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Learn the series' daily and weekly shape. Off for series whose
    /// timestamps carry no time of day (replayed or synthetic data).
    pub seasonal: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config { seasonal: true }
    }
}

/// The constants the detector's evaluation varies (see `benches/detect.rs`):
/// [`Params::default`] is what every series runs with. Not part of the
/// saved state: a restored detector runs with the defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// A miss of this many usual misses scores 0.5 on a well-behaved series.
    pub z_alarm: f64,
    /// The averaged miss scores 0.5 when a Gaussian over its own recent
    /// history gives it at most this tail probability (0: channel off).
    pub likelihood_tail: f64,
    /// Points after an alarm that score just below the threshold.
    pub quiet: u32,
    /// Points the likelihood channel averages misses over (1 to 40).
    pub likelihood_window: usize,
    /// The largest recent miss halves every this many points.
    pub record_half_life: f64,
    /// The usual miss is never taken below this fraction of the level.
    pub relative_floor: f64,
    /// Seconds of history before the likelihood channel speaks.
    pub likelihood_after: i64,
    /// A miss must beat the largest recent miss by this factor.
    pub record_margin: f64,
    /// The shift channel scores 0.5 when the gap between the values' short
    /// and long means has at most this two-sided Gaussian tail probability
    /// against the gap's own recent history (0: channel off).
    pub shift_tail: f64,
    /// Points the shift channel's short and long means run over (about).
    pub short_window: f64,
    pub long_window: f64,
    /// Seconds of history before the shift channel speaks.
    pub shift_after: i64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            z_alarm: Z_ALARM,
            likelihood_tail: LIKELIHOOD_TAIL,
            quiet: QUIET,
            likelihood_window: LIKELIHOOD_WINDOW,
            record_half_life: RECORD_HALF_LIFE,
            relative_floor: RELATIVE_FLOOR,
            likelihood_after: LIKELIHOOD_AFTER,
            record_margin: RECORD_MARGIN,
            shift_tail: SHIFT_TAIL,
            short_window: SHIFT_SHORT,
            long_window: SHIFT_LONG,
            shift_after: SHIFT_AFTER,
        }
    }
}

// The method's constants, chosen once for every series (see the module doc).
// Points scored 0 while the basics are learned.
const WARM_UP: u64 = 50;
/// A miss of this many usual misses scores 0.5 on a well-behaved series.
const Z_ALARM: f64 = 7.0;
/// The bar is also this many times the series' 99.5th percentile miss.
const TAIL_KAPPA: f64 = 1.5;
const TAIL_QUANTILE: f64 = 0.995;
/// Step of the online quantile, relative to its value.
const TAIL_STEP: f64 = 0.05;
/// The largest recent miss halves every this many points.
const RECORD_HALF_LIFE: f64 = 1000.0;
/// A miss must beat the largest recent miss by this factor to be news again:
/// a series that repeats the same spike is not alarming at every repeat.
const RECORD_MARGIN: f64 = 1.2;
/// The largest recent miss is tracked only from this point on, so that the
/// rough first days (the forecasts still settling, outliers in what little
/// history there is) do not set the bar for the weeks after.
const RECORD_FROM: u64 = 500;
/// Learning rates per point: the level of the shapeless forecast, the slow
/// level under a shape, a shape's slot, and the usual miss.
const ALPHA: f64 = 0.05;
const ALPHA_SHAPED: f64 = 0.01;
const GAMMA: f64 = 0.1;
const BETA: f64 = 0.02;
/// Misses count for at most this many usual misses when learning.
const CLIP: f64 = 4.0;
/// The usual miss is never taken below this many grains of the series (see
/// [`Detector::grain`]).
const GRAIN_FLOOR: f64 = 1.0;
/// Nor below this fraction of the series' level.
const RELATIVE_FLOOR: f64 = 1e-6;
/// CUSUM: allowance and per-point cap (in usual misses), and limit.
const CUSUM_K: f64 = 1.0;
const CUSUM_CAP: f64 = 4.0;
const CUSUM_H: f64 = 16.0;
/// The CUSUM limit is also this many times its 98th percentile.
const CUSUM_KAPPA: f64 = 2.0;
const CUSUM_QUANTILE: f64 = 0.98;
const CUSUM_STEP: f64 = 0.01;
/// Points after an alarm that score just below the threshold.
const QUIET: u32 = 100;
/// The likelihood channel: misses (in usual misses, capped) averaged over
/// the last `LIKELIHOOD_WINDOW` points, against the mean and spread of
/// that average over about `LIKELIHOOD_MEMORY` points; it speaks from
/// point `LIKELIHOOD_FROM` on, and its spread is never taken below
/// `LIKELIHOOD_MIN_SD`.
const LIKELIHOOD_TAIL: f64 = 1e-10;
const LIKELIHOOD_WINDOW: usize = 10;
/// The most points the likelihood channel can average over (see [`Params`]).
const LIKELIHOOD_RING: usize = 40;
const LIKELIHOOD_CAP: f64 = 4.0;
const LIKELIHOOD_MEMORY: f64 = 2000.0;
const LIKELIHOOD_FROM: u64 = 300;
const LIKELIHOOD_MIN_SD: f64 = 0.1;
/// The shift channel: the values' mean over about `SHIFT_SHORT` points
/// less their mean over about `SHIFT_LONG`, against the running mean and
/// spread of that gap (over `LIKELIHOOD_MEMORY` points, the spread at least
/// `SHIFT_MIN_SD` usual-miss floors); 0.5 at a two-sided tail of `SHIFT_TAIL`.
const SHIFT_TAIL: f64 = 1e-12;
const SHIFT_SHORT: f64 = 10.0;
const SHIFT_LONG: f64 = 240.0;
const SHIFT_MIN_SD: f64 = 0.1;
/// The likelihood channel waits for a day of history: until then a
/// sustained miss may be the day's own shape, which no forecast could know
/// yet. Its misses are capped, so a habit of spikes cannot trip it.
const LIKELIHOOD_AFTER: i64 = DAY;
/// The shift channel waits for a week: its gap's spread must have seen the
/// series' habits (an hourly spike moves a 10-point mean; so does a weekend).
const SHIFT_AFTER: i64 = WEEK;
/// A shaped forecast is chosen only when its squared error is below this
/// fraction of the simpler one's.
const PREFER_SIMPLE: f64 = 0.9;
/// Forecasts are compared over about this many seconds.
const COMPARE_OVER: f64 = DAY as f64;
/// Counter resets: rising steps before, and the fall that counts as a reset.
const COUNTER_RISE: u32 = 10;
const COUNTER_FALL: f64 = 0.5;
/// Without a hold, surprises below this do not keep an episode in
/// [`events`] open.
const RELEASE_SCORE: f64 = 0.2;
/// An expectation below this fraction of the value is 0 at the three
/// significant figures explanations show, and a factor would say nothing:
/// "1 per minute against 0.0000000000021" is "about 0", not "476750060210x".
const NEGLIGIBLE_BASELINE: f64 = 1e-3;

const WEEK: i64 = 7 * DAY;
const DAY_SLOT: i64 = 15 * MINUTE;
/// 1970-01-01 was a Thursday: shifting by 3 days starts weeks on Monday.
const MONDAY: i64 = 3 * DAY;
/// Bumped whenever the state's meaning changes: older state is relearned.
const STATE_VERSION: u32 = 4;

/// Which learned shape an expectation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Season {
    /// The recent level alone.
    None,
    /// The usual level at this time of day.
    Daily,
    /// The usual level at this hour of this weekday.
    Weekly,
}

/// What the detector made of one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// In [0, 1]; an anomaly at or above [`ANOMALY_THRESHOLD`].
    pub score: f64,
    /// The score before the quiet period after an alarm damped it: how
    /// surprising the point is on its own.
    pub surprise: f64,
    /// The forecast the point was measured against.
    pub expected: f64,
    /// The forecast's usual miss, in the series' units.
    pub spread: f64,
    /// `(value - expected) / spread`.
    pub z: f64,
    pub season: Season,
    /// How many usual misses off a point had to be to score 0.5: the fixed
    /// bar or this series' own tail, whichever is larger.
    pub bar: f64,
    /// The forecast behind `expected` (0 the recent level, 1 the daily
    /// shape, 2 the weekly one), and each forecast's shape offset at this
    /// point's slot (0 where it has none). With these, [`episodes`] measures
    /// later points against the level from before an episode, moved along
    /// its shape, after the detector itself has learned the new level.
    pub track: u8,
    pub offsets: [f64; 3],
}

impl Observation {
    /// What a point that taught nothing (warm-up, not a number) reports.
    fn blank(expected: f64) -> Observation {
        Observation {
            score: 0.0,
            surprise: 0.0,
            expected,
            spread: 0.0,
            z: 0.0,
            season: Season::None,
            bar: Z_ALARM,
            track: 0,
            offsets: [0.0; 3],
        }
    }
}

/// A learned shape: one running offset from the level per slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Shape {
    offset: Vec<f64>,
    visits: Vec<u32>,
}

impl Shape {
    fn new(slots: usize) -> Shape {
        Shape { offset: vec![0.0; slots], visits: vec![0; slots] }
    }
}

/// One forecast: a level, maybe a shape, and how well it has done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Track {
    level: f64,
    shape: Option<Shape>,
    /// Period of the shape and width of its slots, in seconds.
    period: i64,
    slot: i64,
    /// Usual absolute miss (robust).
    error: f64,
    /// Recent squared miss, to choose between forecasts.
    mse: f64,
    /// Sums of this track's misses since each CUSUM side left zero.
    run_up: f64,
    run_down: f64,
}

impl Track {
    fn new(shape: Option<Shape>, period: i64, slot: i64) -> Track {
        Track { level: 0.0, shape, period, slot, error: 0.0, mse: 0.0, run_up: 0.0, run_down: 0.0 }
    }
}

/// The online anomaly detector for one series (see the module doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detector {
    version: u32,
    config: Config,
    /// Points learned from.
    seen: u64,
    first_ts: i64,
    last_ts: i64,
    last_value: f64,
    /// Typical seconds between points.
    step: f64,
    /// Shapeless, daily, weekly.
    tracks: [Track; 3],
    /// The track that forecasts the next point.
    selected: usize,
    /// Two-sided CUSUM and how many points each side has been above zero.
    up: f64,
    down: f64,
    up_points: f64,
    down_points: f64,
    /// Online 99.5th percentile of |z|, 98th of the CUSUM, decaying max |z|.
    tail: f64,
    cusum_tail: f64,
    record: f64,
    /// Points left in the quiet period after an alarm.
    quiet: u32,
    /// Consecutive rising steps (a counter?).
    rising: u32,
    /// The smallest non-zero step between consecutive values so far (0
    /// before the first), and whether every value so far was a whole number.
    min_step: f64,
    integral: bool,
    /// The last [`LIKELIHOOD_WINDOW`] capped |z| (a ring), and the running
    /// mean and variance of their average.
    recent: Vec<f32>,
    recent_sum: f64,
    like_mean: f64,
    like_var: f64,
    /// The shift channel: the values' short and long running means, and
    /// the running mean and variance of their gap.
    short_x: f64,
    long_x: f64,
    shift_mean: f64,
    shift_var: f64,
    #[serde(skip)]
    params: Params,
    /// 0.5^(1 / record_half_life), once.
    #[serde(skip, default = "default_record_decay")]
    record_decay: f64,
}

/// Detector state that cannot be restored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    #[error("detector state is unreadable: {0}")]
    Decode(String),
    #[error("detector state is version {found}, this build reads {expected}: relearn the series")]
    Version { found: u32, expected: u32 },
}

impl Detector {
    pub fn new(config: Config) -> Detector {
        let shape = |slots| config.seasonal.then(|| Shape::new(slots));
        let tracks = [
            Track::new(None, 0, 0),
            Track::new(shape((DAY / DAY_SLOT) as usize), DAY, DAY_SLOT),
            Track::new(shape((WEEK / HOUR) as usize), WEEK, HOUR),
        ];
        Detector {
            version: STATE_VERSION,
            config,
            seen: 0,
            first_ts: 0,
            last_ts: 0,
            last_value: 0.0,
            step: 0.0,
            tracks,
            selected: 0,
            up: 0.0,
            down: 0.0,
            up_points: 0.0,
            down_points: 0.0,
            tail: 3.0,
            cusum_tail: 1.0,
            record: 0.0,
            quiet: 0,
            rising: 0,
            min_step: 0.0,
            integral: true,
            recent: vec![0.0; LIKELIHOOD_RING],
            recent_sum: 0.0,
            like_mean: 0.0,
            like_var: 0.0,
            short_x: 0.0,
            long_x: 0.0,
            shift_mean: 0.0,
            shift_var: 0.0,
            params: Params::default(),
            record_decay: default_record_decay(),
        }
    }

    /// A detector with other constants than the shipped ones, to evaluate
    /// them (see [`Params`]).
    pub fn with_params(config: Config, params: Params) -> Detector {
        let record_decay = 0.5f64.powf(1.0 / params.record_half_life);
        Detector { params, record_decay, ..Detector::new(config) }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Points learned from so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The anomaly score of the next point (`ts` in unix seconds), in [0, 1].
    pub fn score(&mut self, ts: i64, value: f64) -> f64 {
        self.observe(ts, value).score
    }

    /// Scores the next point, then learns from it.
    pub fn observe(&mut self, ts: i64, x: f64) -> Observation {
        if !x.is_finite() {
            return Observation::blank(self.tracks[self.selected].level);
        }
        self.seen += 1;
        let n = self.seen;
        if n == 1 {
            for t in &mut self.tracks {
                t.level = x;
            }
            (self.first_ts, self.last_ts, self.last_value) = (ts, ts, x);
            (self.short_x, self.long_x) = (x, x);
            self.integral = x.fract() == 0.0;
            return Observation::blank(x);
        }

        // What each forecast expected. A shape speaks only for slots it has
        // seen, and only once it has seen a whole period.
        let slots = [0, (ts.rem_euclid(DAY) / DAY_SLOT) as usize, ((ts + MONDAY).rem_euclid(WEEK) / HOUR) as usize];
        let elapsed = ts - self.first_ts;
        let flat = self.tracks[0].level;
        let mut own = [true, false, false];
        let mut expected = [flat; 3];
        let mut offsets = [0.0; 3];
        for (i, t) in self.tracks.iter().enumerate().skip(1) {
            if let Some(shape) = &t.shape {
                own[i] = shape.visits[slots[i]] > 0 && elapsed >= t.period + t.slot;
                if own[i] {
                    offsets[i] = shape.offset[slots[i]];
                    expected[i] = t.level + offsets[i];
                }
            }
        }
        let s = self.selected;
        // A floor keeps a perfectly flat series from dividing by zero, and a
        // series that moves in whole steps from having a usual miss of a
        // sliver of one.
        let floor = (1e-9 + self.params.relative_floor * flat.abs()).max(GRAIN_FLOOR * self.grain());
        let spread = (1.25 * self.tracks[s].error).max(floor);
        let miss = x - expected[s];
        let z = miss / spread;

        let reset = self.rising >= COUNTER_RISE && self.last_value > 0.0 && x < COUNTER_FALL * self.last_value;
        if x > self.last_value {
            self.rising = self.rising.saturating_add(1);
        } else if x < self.last_value {
            self.rising = 0;
        }

        // How unusual the miss is for this series.
        let bar = self.params.z_alarm.max(TAIL_KAPPA * self.tail).max(self.params.record_margin * self.record);
        let point = tail_score(z.abs() / bar);
        if n > 10 {
            let above = if z.abs() > self.tail { 1.0 } else { 0.0 };
            self.tail *= 1.0 + TAIL_STEP * (above - (1.0 - TAIL_QUANTILE));
        }
        if n > RECORD_FROM {
            self.record = (self.record * self.record_decay).max(z.abs());
        }

        // Sustained shifts.
        let capped = z.clamp(-CUSUM_CAP, CUSUM_CAP);
        self.up = (self.up + capped - CUSUM_K).max(0.0);
        self.down = (self.down - capped - CUSUM_K).max(0.0);
        self.up_points = if self.up > 0.0 { self.up_points + 1.0 } else { 0.0 };
        self.down_points = if self.down > 0.0 { self.down_points + 1.0 } else { 0.0 };
        for (i, t) in self.tracks.iter_mut().enumerate() {
            // A shape that has not seen this slot yet has no evidence of its own.
            let r = if own[i] { x - expected[i] } else { 0.0 };
            t.run_up = if self.up > 0.0 { t.run_up + r } else { 0.0 };
            t.run_down = if self.down > 0.0 { t.run_down + r } else { 0.0 };
        }
        let stat = self.up.max(self.down);
        let limit = CUSUM_H.max(CUSUM_KAPPA * self.cusum_tail);
        if n > 10 {
            let above = if stat > self.cusum_tail { 1.0 } else { 0.0 };
            self.cusum_tail = (self.cusum_tail * (1.0 + CUSUM_STEP * (above - (1.0 - CUSUM_QUANTILE)))).max(0.1);
        }
        let shift = tail_score(stat / limit);
        // A counter's reset is no miss and no moved mean: the likelihood
        // channel learns nothing from it, and the shift channel's means
        // fall with it, as every forecast's level does below.
        let likely = self.likelihood(n, if reset { 0.0 } else { z.abs() }, elapsed);
        if reset {
            let fall = x - self.last_value;
            self.short_x += fall;
            self.long_x += fall;
        }
        let moved = self.shifted(n, x, elapsed, floor);

        let surprise = if n <= WARM_UP || reset { 0.0 } else { point.max(shift).max(likely).max(moved) };
        let mut score = surprise;
        if self.quiet > 0 {
            self.quiet -= 1;
            score = score.min(QUIET_SCORE);
        } else if score >= ANOMALY_THRESHOLD {
            self.quiet = self.params.quiet;
        }

        self.learn(ts, x, n, slots, own, expected, floor);
        if reset {
            let fall = x - self.last_value;
            for t in &mut self.tracks {
                t.level += fall;
            }
            self.clear_cusum();
        } else if self.up >= limit || self.down >= limit {
            let (up, points) = if self.up >= limit { (true, self.up_points) } else { (false, self.down_points) };
            for t in &mut self.tracks {
                t.level += if up { t.run_up } else { t.run_down } / points;
            }
            self.clear_cusum();
        }
        let mut best = 0;
        for i in 1..3 {
            if self.tracks[i].mse < PREFER_SIMPLE * self.tracks[best].mse {
                best = i;
            }
        }
        self.selected = best;
        let step = (x - self.last_value).abs();
        if step > 0.0 && (self.min_step == 0.0 || step < self.min_step) {
            self.min_step = step;
        }
        self.integral &= x.fract() == 0.0;
        (self.last_ts, self.last_value) = (ts, x);
        let season = match s {
            1 if own[1] => Season::Daily,
            2 if own[2] => Season::Weekly,
            _ => Season::None,
        };
        Observation { score, surprise, expected: expected[s], spread, z, season, bar, track: s as u8, offsets }
    }

    /// How unlikely the recent misses are, averaged, against that average's
    /// own history (HTM's anomaly likelihood): 0.5 at a Gaussian tail of
    /// [`Params::likelihood_tail`].
    fn likelihood(&mut self, n: u64, z: f64, elapsed: i64) -> f64 {
        let window = self.params.likelihood_window.clamp(1, LIKELIHOOD_RING);
        let slot = (n as usize) % window;
        // The running sum is kept exactly: out with the oldest, in with the new.
        let new = z.min(LIKELIHOOD_CAP) as f32;
        self.recent_sum += f64::from(new) - f64::from(self.recent[slot]);
        self.recent[slot] = new;
        if slot == 0 {
            // Now and then, summed afresh: no rounding builds up.
            self.recent_sum = self.recent[..window].iter().map(|&r| f64::from(r)).sum();
        }
        let average = self.recent_sum / window as f64;
        let sd = self.like_var.sqrt().max(LIKELIHOOD_MIN_SD);
        let u = (average - self.like_mean) / sd;
        let speaks = n > LIKELIHOOD_FROM && elapsed >= self.params.likelihood_after;
        let score = if speaks && self.params.likelihood_tail > 0.0 && u > 0.0 {
            tail_score(u / upper_quantile(self.params.likelihood_tail))
        } else {
            0.0
        };
        if n > window as u64 {
            let rate = (1.0 / LIKELIHOOD_MEMORY).max(1.0 / (n - window as u64) as f64);
            let d = average - self.like_mean;
            self.like_mean += rate * d;
            self.like_var += rate * (d * d * (1.0 - rate) - self.like_var);
        }
        score
    }

    /// How far the values' recent mean has moved from their longer-run
    /// mean, against how far it usually is (see the module doc): 0.5 at a
    /// two-sided Gaussian tail of [`Params::shift_tail`].
    fn shifted(&mut self, n: u64, x: f64, elapsed: i64, floor: f64) -> f64 {
        let p = &self.params;
        if p.shift_tail <= 0.0 {
            return 0.0;
        }
        let short = (1.0 / p.short_window).max(1.0 / n as f64);
        let long = (1.0 / p.long_window).max(1.0 / n as f64);
        self.short_x += short * (x - self.short_x);
        self.long_x += long * (x - self.long_x);
        let gap = self.short_x - self.long_x;
        let d = gap - self.shift_mean;
        let sd = self.shift_var.sqrt().max(SHIFT_MIN_SD * floor);
        let speaks = n > LIKELIHOOD_FROM && elapsed >= p.shift_after;
        let score = if speaks { tail_score(d.abs() / sd / upper_quantile(0.5 * p.shift_tail)) } else { 0.0 };
        let memory = (1.0 / LIKELIHOOD_MEMORY).max(1.0 / n as f64);
        self.shift_mean += memory * d;
        self.shift_var += memory * (d * d * (1.0 - memory) - self.shift_var);
        score
    }

    /// Every forecast learns from the point.
    #[allow(clippy::too_many_arguments)]
    fn learn(&mut self, ts: i64, x: f64, n: u64, slots: [usize; 3], own: [bool; 3], expected: [f64; 3], floor: f64) {
        // Early on, running means; later, exponential forgetting.
        let rate = |base: f64| base.max(1.0 / n as f64);
        let dt = (ts - self.last_ts).clamp(0, DAY) as f64;
        self.step += rate(0.05) * (dt - self.step);
        let compare = rate((self.step / COMPARE_OVER).min(1.0));
        for (i, t) in self.tracks.iter_mut().enumerate() {
            let miss = x - expected[i];
            let usual = (1.25 * t.error).max(floor);
            let r = if n > 10 { miss.clamp(-CLIP * usual, CLIP * usual) } else { miss };
            match &mut t.shape {
                None => t.level += rate(ALPHA) * r,
                Some(shape) => {
                    let slot = slots[i];
                    if shape.visits[slot] == 0 {
                        shape.offset[slot] = x - t.level;
                    } else {
                        t.level += ALPHA_SHAPED * r;
                        let g = GAMMA.max(1.0 / (shape.visits[slot] as f64 + 1.0));
                        shape.offset[slot] += g * (1.0 - ALPHA_SHAPED) * r;
                    }
                    shape.visits[slot] = shape.visits[slot].saturating_add(1);
                }
            }
            let abs = if n > 10 { miss.abs().min(CLIP * t.error.max(floor)) } else { miss.abs() };
            t.error += rate(BETA) * (abs - t.error);
            t.mse += compare * (miss * miss - t.mse);
        }
        // Until a shape speaks, it is as good as the shapeless forecast.
        let flat_mse = self.tracks[0].mse;
        for (t, _) in self.tracks.iter_mut().zip(own).filter(|(_, own)| !own) {
            t.mse = flat_mse;
        }
    }

    /// The granularity of the series: the smallest step it has taken, or 1
    /// for whole numbers that have not moved yet; 0 when unknown.
    ///
    /// Why it bounds the usual miss: a count of errors that sits at 0 for
    /// hours has a usual miss that shrinks towards nothing, and then a
    /// single error would be billions of usual misses. A series cannot miss
    /// by less than one of its steps, so a miss of one step is one usual
    /// miss at most; a burst of fifty errors is still fifty.
    fn grain(&self) -> f64 {
        if self.min_step > 0.0 {
            self.min_step
        } else if self.integral {
            1.0
        } else {
            0.0
        }
    }

    fn clear_cusum(&mut self) {
        (self.up, self.down, self.up_points, self.down_points) = (0.0, 0.0, 0.0, 0.0);
        for t in &mut self.tracks {
            (t.run_up, t.run_down) = (0.0, 0.0);
        }
    }

    /// The state as compact bytes, for [`Detector::from_bytes`]: a
    /// [`COMPACT_STATE`] byte, then the fields in order (postcard: no field
    /// names, integers as varints). Every series' state is read and written
    /// at every sync; CBOR's decoding was two thirds of scoring a re-sync.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Writing plain data into a Vec cannot fail.
        postcard::to_extend(self, vec![COMPACT_STATE]).unwrap_or_default()
    }

    /// A detector that carries on exactly where the saved one stopped,
    /// from [`Detector::to_bytes`] or from the CBOR that builds before it
    /// wrote (a CBOR state is a map, which never starts with
    /// [`COMPACT_STATE`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Detector, StateError> {
        let d: Detector = match bytes.split_first() {
            Some((&COMPACT_STATE, rest)) => {
                postcard::from_bytes(rest).map_err(|e| StateError::Decode(e.to_string()))?
            }
            _ => ciborium::de::from_reader(bytes).map_err(|e| StateError::Decode(e.to_string()))?,
        };
        if d.version != STATE_VERSION {
            return Err(StateError::Version { found: d.version, expected: STATE_VERSION });
        }
        Ok(d)
    }
}

/// The first byte of a state in the compact form (see
/// [`Detector::to_bytes`]).
pub const COMPACT_STATE: u8 = 0;

fn default_record_decay() -> f64 {
    0.5f64.powf(1.0 / RECORD_HALF_LIFE)
}

/// What a point in the quiet period scores at most.
const QUIET_SCORE: f64 = ANOMALY_THRESHOLD * 0.99;

/// The standard normal's `x` with tail probability `p` above it (Acklam's
/// rational approximation of the upper tail, enough for a bar).
fn upper_quantile(p: f64) -> f64 {
    let q = (-2.0 * p.clamp(1e-300, 0.5).ln()).sqrt();
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
        / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
}

/// 0 at 0, 0.5 at 1 (the bar), rising smoothly towards 1 beyond.
fn tail_score(u: f64) -> f64 {
    1.0 - (-(u * u) * std::f64::consts::LN_2).exp()
}

/// One scored point of a series, as [`events`] reads them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredPoint {
    pub ts: i64,
    pub value: f64,
    pub observation: Observation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

/// One anomaly episode: from a point at or above the threshold until the
/// series is back near where it was (see [`episodes`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyEvent {
    /// The alarm's timestamp.
    pub start: i64,
    /// The last point that kept it open; `None` while the episode is
    /// ongoing (one kept it within [`RELEASE_AFTER`] of the last point
    /// scored).
    pub end: Option<i64>,
    /// The latest point that belongs to the episode.
    pub through: i64,
    /// The highest surprise in the episode.
    pub peak_score: f64,
    pub direction: Direction,
    /// The value and its expectation at the peak.
    pub peak_ts: i64,
    pub peak_value: f64,
    pub expected: f64,
    pub season: Season,
}

/// Folds a scored series into anomaly episodes, in time order.
///
/// An episode starts at a point scoring at or above [`ANOMALY_THRESHOLD`]
/// and lasts while its points stay far from the level before it (see
/// [`Hold`]; once a day has passed, or without a hold, while they stay
/// surprising, at least 0.2, in the same direction); it ends once
/// [`RELEASE_AFTER`] passes with no point that keeps it, at the last one
/// that did.
pub fn events(points: &[ScoredPoint]) -> Vec<AnomalyEvent> {
    episodes(None, points).into_iter().map(|(e, _)| e).collect()
}

/// An episode is held open at most this long by [`Hold`] alone: a level
/// that has stayed put for a day is the series' new normal (an alarm on it,
/// if any, keeps saying otherwise).
pub const HOLD_AT_MOST: i64 = DAY;

/// A point holds an episode open while it is at least this fraction of the
/// alarm's bar away from the level before it: lower than the bar that
/// raised it, as an alarm clears below the level it fired at. At 0.57 (a
/// score of 0.2), black-mesa's errors, 8 - 14 a minute against a usual
/// 0.28 for hours, ended their episode at one minute of 4.
pub const HOLD_FRACTION: f64 = 0.3;

/// An episode ends once this long has passed with no point that keeps it
/// open, at the last one that did.
pub const RELEASE_AFTER: i64 = 10 * MINUTE;

/// What keeps an episode open after the detector has learned its new level.
///
/// The bug this fixes: a sustained spike (errors at 400 a minute instead of
/// 100) stops being surprising within minutes, because the CUSUM moves the
/// forecast's level up to it on purpose (a level shift is news once); the
/// episode then "ended" while the alarm behind it stayed open. So an episode
/// remembers the forecast it was measured against at its alarm: that
/// forecast's level then, its usual miss and its bar. A later point that the
/// old level, moved along the forecast's shape to the point's slot, would
/// find still well away (at least [`HOLD_FRACTION`] of the bar, in the
/// episode's direction) keeps the episode open; one back near the old
/// level closes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hold {
    /// [`Observation::track`] at the alarm.
    pub track: u8,
    /// That forecast's level at the alarm, without its shape's offset.
    pub level: f64,
    pub spread: f64,
    pub bar: f64,
}

impl Hold {
    fn at(o: &Observation) -> Hold {
        let track = o.track.min(2);
        Hold { track, level: o.expected - o.offsets[track as usize], spread: o.spread, bar: o.bar }
    }

    /// Whether `p` is still far from the level before the episode, in `direction`.
    fn holds(&self, p: &ScoredPoint, direction: Direction) -> bool {
        if !(self.spread > 0.0 && self.bar > 0.0) {
            return false;
        }
        let before = self.level + p.observation.offsets[self.track.min(2) as usize];
        let z = (p.value - before) / self.spread;
        let z = match direction {
            Direction::Up => z,
            Direction::Down => -z,
        };
        z >= HOLD_FRACTION * self.bar
    }
}

/// [`events`], continuing `open` (the series' ongoing episode and what
/// holds it, from an earlier call) exactly as one pass over all the points
/// would; each episode comes with its [`Hold`].
pub fn episodes(
    open: Option<(AnomalyEvent, Option<Hold>)>,
    points: &[ScoredPoint],
) -> Vec<(AnomalyEvent, Option<Hold>)> {
    let mut out: Vec<(AnomalyEvent, Option<Hold>)> = Vec::new();
    let mut is_open = false;
    if let Some((event, hold)) = open.filter(|(e, _)| e.end.is_none()) {
        out.push((event, hold));
        is_open = true;
    }
    for p in points {
        let o = &p.observation;
        let direction = if o.z >= 0.0 { Direction::Up } else { Direction::Down };
        if is_open {
            let (e, hold) = out.last_mut().expect("an open episode");
            // While it has a hold, the hold alone decides: a point merely
            // surprising to the forecast that has learned the episode (its
            // aftershocks as the series returns) does not extend it.
            let holding = hold.filter(|_| p.ts - e.start <= HOLD_AT_MOST);
            let keeps = match holding {
                Some(h) => h.holds(p, e.direction),
                None => o.surprise >= RELEASE_SCORE && direction == e.direction,
            };
            if keeps {
                e.through = p.ts;
                // The peak is the point furthest out, not the most
                // surprising one: a series still climbing while its
                // surprise is saturated, or once the detector has learned
                // part of the climb, must not freeze the episode at its
                // first reading ("1.43x" while the series is at 9x). Its
                // baseline is the usual level from before the episode,
                // never one the episode itself has pulled along.
                let further = match e.direction {
                    Direction::Up => p.value > e.peak_value,
                    Direction::Down => p.value < e.peak_value,
                };
                if direction == e.direction && (further || o.surprise > e.peak_score) {
                    e.peak_score = e.peak_score.max(o.surprise);
                    if further {
                        (e.peak_ts, e.peak_value) = (p.ts, p.value);
                    }
                    e.expected = match e.direction {
                        Direction::Up => e.expected.min(o.expected),
                        Direction::Down => e.expected.max(o.expected),
                    };
                }
                continue;
            }
            // A point or two back near the old level do not end it (a
            // small, noisy count of errors dips for a minute while the
            // trouble goes on): it ends once `RELEASE_AFTER` passes with
            // no point that keeps it, at the last one that did.
            if p.ts - e.through < RELEASE_AFTER {
                continue;
            }
            e.end = Some(e.through);
            *hold = None;
            is_open = false;
        }
        if o.score >= ANOMALY_THRESHOLD {
            out.push((
                AnomalyEvent {
                    start: p.ts,
                    end: None,
                    through: p.ts,
                    peak_score: o.surprise,
                    direction,
                    peak_ts: p.ts,
                    peak_value: p.value,
                    expected: o.expected,
                    season: o.season,
                },
                Some(Hold::at(o)),
            ));
            is_open = true;
        }
    }
    out
}

impl AnomalyEvent {
    /// One line for people, e.g. `p99 latency 3.1x its usual Tuesday 14:00
    /// level (930 ms against 300 ms) for 25 minutes`. Times are UTC. Against
    /// a baseline of about 0 a factor would be absurd, so none is given:
    /// `5xx errors far above its usual level (50 per minute against about 0)`.
    /// [`AnomalyEvent::explain`], and while the episode goes on, where the
    /// series is now when that is away from the peak: "... for 40 minutes
    /// so far; now 2 s".
    pub fn explain_now(&self, metric: &str, unit: &str, latest: Option<f64>) -> String {
        let mut line = self.explain(metric, unit);
        if let Some(now) = latest.filter(|_| self.end.is_none()) {
            let moved = (now - self.peak_value).abs() > 0.05 * self.peak_value.abs().max(f64::MIN_POSITIVE);
            if moved {
                let amount = if unit.is_empty() { number(now) } else { format!("{} {unit}", number(now)) };
                let _ = write!(line, "; now {amount}");
            }
        }
        line
    }

    pub fn explain(&self, metric: &str, unit: &str) -> String {
        let when = match self.season {
            Season::None => String::new(),
            Season::Daily => format!("{} ", clock(self.peak_ts, DAY_SLOT)),
            Season::Weekly => format!("{} {} ", weekday(self.peak_ts), clock(self.peak_ts, HOUR)),
        };
        let amount = |v: f64| if unit.is_empty() { number(v) } else { format!("{} {unit}", number(v)) };
        let (value, expected) = (self.peak_value, self.expected);
        let mut line = if value > 0.0 && expected.abs() < NEGLIGIBLE_BASELINE * value {
            format!("{metric} far above its usual {when}level ({} against about 0)", amount(value))
        } else if expected > 0.0 && value >= 0.0 {
            let ratio = value / expected;
            let how = match self.direction {
                Direction::Up => format!("{}x", number(ratio)),
                Direction::Down => format!("{}% below", ((1.0 - ratio) * 100.0).round().clamp(0.0, 100.0)),
            };
            format!("{metric} {how} its usual {when}level ({} against {})", amount(value), amount(expected))
        } else {
            let how = match self.direction {
                Direction::Up => "above",
                Direction::Down => "below",
            };
            format!("{metric} at {}, {how} its usual {when}level of {}", amount(value), amount(expected))
        };
        let lasted = self.through - self.start;
        if lasted >= MINUTE {
            let _ = write!(line, " for {}", duration(lasted));
            if self.end.is_none() {
                line.push_str(" so far");
            }
        }
        line
    }
}

/// Three significant figures at most, no trailing zeros.
pub(crate) fn number(v: f64) -> String {
    let digits = if v == 0.0 { 0 } else { (2 - v.abs().log10().floor() as i32).max(0) as usize };
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn clock(ts: i64, slot: i64) -> String {
    let t = ts.rem_euclid(DAY) / slot * slot;
    format!("{:02}:{:02}", t / HOUR, t % HOUR / MINUTE)
}

fn weekday(ts: i64) -> &'static str {
    const NAMES: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    NAMES[((ts + MONDAY).rem_euclid(WEEK) / DAY) as usize]
}

fn duration(secs: i64) -> String {
    let plural = |n: i64, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    match secs {
        s if s < 2 * HOUR => plural((s + MINUTE / 2) / MINUTE, "minute"),
        s if s < 2 * DAY => plural((s + HOUR / 2) / HOUR, "hour"),
        s => plural((s + DAY / 2) / DAY, "day"),
    }
}

#[cfg(test)]
mod tests;
