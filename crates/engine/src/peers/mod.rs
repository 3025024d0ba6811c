//! Peer anomalies: after each sync, every series' last minutes are compared
//! with the same metric of the rest of the fleet. Two findings:
//!
//! - a **peer departure** (incident kind `peer`): one tenant-region whose
//!   metric moved far more, or far less, than the same metric of its tier's
//!   other tenants while they were steady: a broken deploy, a noisy
//!   neighbour;
//! - a **noisy neighbour** (kind `neighbour`): in a pool (the tenants of
//!   one shared, EKS or pooled account in one region), one tenant's load
//!   (requests; running pods on EKS)
//!   rose at least [`NOISY_LOAD`]x while its pool-mates' own load stayed
//!   steady and their latency or errors rose at least [`SUFFER`]x with it:
//!   the finding names the noisy tenant, its members are the pool-mates
//!   that suffered ([`neighbours`]);
//! - a **fleet-wide shift** (kind `fleet`): most tenant-regions of a region,
//!   of a tier, or of the whole fleet moved together. That is one incident
//!   for everybody, stored once with the tenant-regions that moved; their
//!   own anomalies on that metric are explained by it (health names the
//!   shift instead, the timeline lists it once), and they raise no peer
//!   departures.
//!
//! # What is compared: each series' change against its own usual level
//!
//! Tenants differ in scale (a big tenant has fifty times the requests of a
//! small one) and in shape (one tenant's p99 is 150 ms, another's 450 ms),
//! so raw values cannot be compared across tenants. Each series is turned
//! into its **change**: the mean of its last [`WINDOW_SECS`] of points over
//! its usual level at this time of day, which is scale-free (requests 1.1x
//! reads the same at 50 or 5,000 a minute) and takes out the daily shape
//! every tenant has. The usual level is read from the hourly rollups the
//! sync keeps (migration 0007): the hourly means around the same time on
//! each of the last [`BASELINE_DAYS`] days, interpolated between hours, and
//! the median over the days of the same kind (weekday or weekend, UTC), so
//! one bad day does not move it and Saturday is not judged against Friday.
//! Comparing changes in logarithms makes 2x and 0.5x equally far from 1x.
//!
//! Why not rates and latencies as they are: p99 latencies of tenants with
//! different workloads differ as much as their traffic does, and an error
//! *rate* needs the matching request count, which not every isolation model
//! has under the same key. Why not the per-series detector's expectation:
//! that detector learns a level shift into its new normal within minutes
//! (on purpose), so a broken deploy would stop departing within the hour;
//! the rollups do not learn.
//!
//! Summed counts (errors, restarts) are noisy when small: one error against
//! a usual 0.2 is "5x". Their changes count [`PSEUDO_EVENTS`] more events on
//! both sides, so a departure of a few events is no departure at all, while
//! the globex outage (hundreds) is. Those events damp a small count's
//! change, so against a tier that moved with the day a small count seems
//! to lag; its departure must also be unlikely for the count itself
//! (Poisson, at the tail of the departure's spreads).
//!
//! # The rules
//!
//! - A **group** is the series of one metric key in one region, in one
//!   tier, or in the whole fleet, with at least [`MIN_GROUP`] series from
//!   at least [`MIN_TENANTS`] tenants. Its changes are judged against 1x
//!   when its members' usual levels come from days of the same kind; when
//!   some come from another kind (a cache younger than a week, on a
//!   Saturday or a Monday: every tenant moves with the day alike), against
//!   the whole fleet's median change on that metric, and the whole fleet is
//!   then not judged at all.
//! - It **shifted** when its median change is at least [`SHIFT_FACTOR`]
//!   (or at most its inverse) and at least [`SHIFT_SHARE`] of its series
//!   moved that far in that direction. A shift whose movers are all movers
//!   of a larger shift on the same metric (a region inside a whole-fleet
//!   shift) is that one.
//! - A series **departs** when its change is at least [`DEPART_FACTOR`]
//!   times its peers' median change (or at most its inverse) and at least
//!   [`DEPART_SPREADS`] robust spreads (1.4826 MAD of the log changes) from
//!   it. Its peers are the series of its tier on that metric, minus its own
//!   tenant's and minus movers of a shift; at least [`MIN_GROUP`] of them
//!   from [`MIN_TENANTS`] tenants, and steady (their median change within
//!   [`SHIFT_FACTOR`]): against a tier that moved, a tenant that did not is
//!   not the one to page about.
//! - An ongoing finding is continued by the next sync while it clears half
//!   its bar (in logarithms); then it ends at the last window that showed
//!   it. A finding not seen for [`MAX_GAP_SECS`] (syncs stopped) starts a new
//!   episode.
//!
//! [`find`] and [`carry`] are pure (no I/O, no clock); [`compute`] reads
//! the cache, runs them and stores the result, as the sync's analysis phase.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use crate::cache::{Cache, CacheError, PeerKind, PeerRow};
use crate::catalog::Catalog;
use crate::clock::{DAY, HOUR, MINUTE};
use crate::detect::Direction;
use crate::fleet::Fleet;

/// The recent window each series' level is taken over.
pub const WINDOW_SECS: i64 = 20 * MINUTE;
/// Days of hourly rollups the usual level is taken from.
pub const BASELINE_DAYS: i64 = 7;
/// A departure is at least this many times the peers' median change.
pub const DEPART_FACTOR: f64 = 2.0;
/// ... and at least this many robust spreads of the peers' log changes.
pub const DEPART_SPREADS: f64 = 5.0;
/// A shift moves the group's median change at least this much.
pub const SHIFT_FACTOR: f64 = 1.5;
/// ... and at least this share of its series by as much, in that direction.
pub const SHIFT_SHARE: f64 = 0.6;
/// Smallest group (or set of peers) judged, in series ...
pub const MIN_GROUP: usize = 4;
/// ... from at least this many tenants.
pub const MIN_TENANTS: usize = 3;
/// Events added to both sides of a summed count's change.
pub const PSEUDO_EVENTS: f64 = 10.0;
/// A finding not seen for this long starts a new episode when seen again.
pub const MAX_GAP_SECS: i64 = 2 * WINDOW_SECS;
/// Below this, a median change reads "steady" in titles.
const STEADY_FACTOR: f64 = 1.15;
/// A noisy neighbour's load change: at least this.
pub const NOISY_LOAD: f64 = 2.0;
/// A pool-mate suffers when its latency or errors changed at least this
/// much while its own load stayed under [`SHIFT_FACTOR`].
pub const SUFFER: f64 = 1.5;
/// The metrics that are a tenant's load (requests; running pods for an EKS
/// namespace), and those a neighbour's load hurts (latency and errors; an
/// EKS namespace's pods' CPU).
pub const LOAD_METRICS: [&str; 2] = ["requests", "pods"];
pub const HURT_METRICS: [&str; 3] = ["latency_p99", "errors", "cpu"];

/// One series as the comparison reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    pub tenant_id: String,
    pub region: String,
    pub tier: String,
    pub metric_key: String,
    /// The catalog's label and the unit values read in (see
    /// [`crate::analysis::explain_unit`]), for titles.
    pub label: String,
    pub unit: String,
    /// Mean of the window's points, and how many there were.
    pub recent: f64,
    pub points: u32,
    /// The usual level over the window at this time of day; `None` without
    /// history.
    pub usual: Option<f64>,
    /// Whether `usual` comes from days of the same kind (weekday, weekend).
    pub like_days: bool,
    /// Summed counts get [`PSEUDO_EVENTS`] on both sides.
    pub summed_count: bool,
    /// The pool it shares with other tenants (its shared account); `None`
    /// for a tenant that owns its account.
    pub pool: Option<String>,
}

impl Level {
    /// The series' change against its usual level, when it has one.
    pub fn change(&self) -> Option<f64> {
        let usual = self.usual?;
        if self.points == 0 || !usual.is_finite() || !self.recent.is_finite() || usual < 0.0 || self.recent < 0.0 {
            return None;
        }
        let pseudo = if self.summed_count { PSEUDO_EVENTS / f64::from(self.points) } else { 0.0 };
        let (a, b) = (self.recent + pseudo, usual + pseudo);
        (a > 0.0 && b > 0.0).then(|| a / b)
    }
}

/// What one pass found, before it is joined to the episodes already open.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: PeerKind,
    pub tenant_id: String,
    pub region: String,
    pub tier: String,
    pub metric_key: String,
    pub direction: Direction,
    /// See [`PeerRow::change`].
    pub change: f64,
    pub peer_change: f64,
    pub moved: u32,
    pub compared: u32,
    pub title: String,
    pub members: Vec<(String, String)>,
}

impl Finding {
    fn subject(&self) -> (PeerKind, &str, &str, &str, &str) {
        (self.kind, &self.tenant_id, &self.region, &self.tier, &self.metric_key)
    }
}

/// How far a finding is from nothing, to keep the peak of an episode.
fn strength(change: f64, peer_change: f64) -> f64 {
    (change.ln() - peer_change.ln()).abs()
}

type Subject = (PeerKind, String, String, String, String);

fn subject_of(s: (PeerKind, &str, &str, &str, &str)) -> Subject {
    (s.0, s.1.to_string(), s.2.to_string(), s.3.to_string(), s.4.to_string())
}

/// The median, by selection (linear time: it runs once per series of the
/// fleet on its tier's peers). Reorders `v`.
fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    let (below, upper, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        upper
    } else {
        let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

/// A tier's changes in order (those no shift explains), and where each
/// tenant's own sit in that order.
struct SortedPeers<'l> {
    xs: Vec<f64>,
    of_tenant: HashMap<&'l str, Vec<usize>>,
}

impl<'l> SortedPeers<'l> {
    fn new(levels: &'l [Level], members: &[(usize, f64)], explained: &HashSet<usize>) -> SortedPeers<'l> {
        let mut kept: Vec<(f64, &'l str)> = members
            .iter()
            .filter(|(j, _)| !explained.contains(j))
            .map(|&(j, x)| (x, levels[j].tenant_id.as_str()))
            .collect();
        kept.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut of_tenant: HashMap<&str, Vec<usize>> = HashMap::new();
        for (k, (_, t)) in kept.iter().enumerate() {
            of_tenant.entry(t).or_default().push(k);
        }
        SortedPeers { xs: kept.into_iter().map(|(x, _)| x).collect(), of_tenant }
    }

    /// The median of the tier's changes other than `tenant`'s, as
    /// [`median`] finds it (`None` for none): the tenant's own, a few,
    /// are skipped on the way to the middle.
    fn median_without(&self, tenant: &str) -> Option<f64> {
        let skipped: &[usize] = self.of_tenant.get(tenant).map_or(&[], |v| v);
        let n = self.xs.len() - skipped.len();
        if n == 0 {
            return None;
        }
        // The k-th (from 0) of the changes left.
        let nth = |k: usize| {
            let mut at = k;
            for &s in skipped {
                if s <= at {
                    at += 1;
                }
            }
            self.xs[at]
        };
        Some(if n % 2 == 1 { nth(n / 2) } else { (nth(n / 2 - 1) + nth(n / 2)) / 2.0 })
    }
}

/// Three significant figures, no trailing zeros (as anomaly explanations).
fn number(v: f64) -> String {
    crate::detect::number(v)
}

fn amount(v: f64, unit: &str) -> String {
    if unit.is_empty() {
        number(v)
    } else {
        format!("{} {unit}", number(v))
    }
}

fn factor(change: f64) -> String {
    format!("{}x", number(change))
}

/// The findings of one pass over `levels`. `open` lists the subjects of the
/// ongoing episodes: they are held to half their bar (in logarithms).
pub fn find(levels: &[Level], open: &HashSet<Subject>) -> Vec<Finding> {
    let minutes = WINDOW_SECS / MINUTE;
    // Log changes of the series that have one.
    let judged: Vec<(usize, f64)> =
        levels.iter().enumerate().filter_map(|(i, l)| l.change().map(|c| (i, c.ln()))).collect();

    // Groups: (metric, region, tier) with '*' for "any".
    let mut groups: BTreeMap<(String, String, String), Vec<(usize, f64)>> = BTreeMap::new();
    for &(i, x) in &judged {
        let l = &levels[i];
        for (region, tier) in [("*", "*"), (l.region.as_str(), "*"), ("*", l.tier.as_str())] {
            groups.entry((l.metric_key.clone(), region.to_string(), tier.to_string())).or_default().push((i, x));
        }
    }
    // Whether the series come from at least MIN_TENANTS tenants (stops
    // counting there: it runs once per series on its tier's peers).
    let enough_tenants = |members: &[(usize, f64)]| {
        let mut seen: Vec<&str> = Vec::with_capacity(MIN_TENANTS);
        for (i, _) in members {
            let t = levels[*i].tenant_id.as_str();
            if !seen.contains(&t) {
                seen.push(t);
                if seen.len() >= MIN_TENANTS {
                    return true;
                }
            }
        }
        false
    };

    // A group's reference change, and whether it is relative. Against
    // usual levels from the same kind of day it is 1x (log 0). When some
    // come from another kind of day (a cache younger than a week, on a
    // Saturday or a Monday), every series moved with the day alike, so a
    // group is judged against the median change of the whole fleet on
    // that metric (robust to the group's own move, and to another group's);
    // the whole fleet itself is then not judged.
    let mut fleet_median: HashMap<&str, f64> = HashMap::new();
    for ((metric, region, tier), members) in &groups {
        if region == "*" && tier == "*" {
            let mut xs: Vec<f64> = members.iter().map(|(_, x)| *x).collect();
            fleet_median.insert(metric.as_str(), median(&mut xs));
        }
    }
    let reference = |metric: &str, members: &[(usize, f64)], whole: bool| {
        if members.iter().all(|(i, _)| levels[*i].like_days) {
            Some((0.0, false))
        } else if whole {
            None
        } else {
            fleet_median.get(metric).map(|m| (*m, true))
        }
    };

    // Fleet-wide shifts, largest groups first so that a region inside a
    // whole-fleet shift is that shift.
    let mut shifts: Vec<(Finding, HashSet<usize>)> = Vec::new();
    let mut order: Vec<_> = groups.iter().collect();
    // On a tie a region goes first: a region's tenants moving together is
    // the likelier story (its AWS region) than one tier's all being there.
    order.sort_by_key(|((_, region, tier), members)| (std::cmp::Reverse(members.len()), tier != "*", region != "*"));
    for ((metric, region, tier), members) in order {
        if members.len() < MIN_GROUP || !enough_tenants(members) {
            continue;
        }
        let Some((base, relative)) = reference(metric, members, region == "*" && tier == "*") else { continue };
        let members: Vec<(usize, f64)> = members.iter().map(|&(i, x)| (i, x - base)).collect();
        let mut xs: Vec<f64> = members.iter().map(|(_, x)| *x).collect();
        let m = median(&mut xs);
        let direction = if m >= 0.0 { Direction::Up } else { Direction::Down };
        let subject = (PeerKind::Fleet, "*".to_string(), region.clone(), tier.clone(), metric.clone());
        let hold = if open.contains(&subject) { 0.5 } else { 1.0 };
        let bar = hold * SHIFT_FACTOR.ln();
        let movers: HashSet<usize> = members
            .iter()
            .filter(|(_, x)| match direction {
                Direction::Up => *x >= bar,
                Direction::Down => *x <= -bar,
            })
            .map(|(i, _)| *i)
            .collect();
        let share = movers.len() as f64 / members.len() as f64;
        let least = if open.contains(&subject) { 0.5 } else { SHIFT_SHARE };
        if m.abs() < bar || share < least {
            continue;
        }
        // Already told by a larger shift of the same metric and direction.
        if shifts.iter().any(|(f, others)| {
            f.metric_key == *metric && f.direction == direction && movers.iter().all(|i| others.contains(i))
        }) {
            continue;
        }
        let first = &levels[members[0].0];
        let change = m.exp();
        let scope = match (region.as_str(), tier.as_str()) {
            ("*", "*") => "the whole fleet".to_string(),
            (r, "*") => r.to_string(),
            (_, t) => format!("the {t} tier"),
        };
        let against = if relative { "the fleet's median change" } else { "its usual level" };
        let title = format!(
            "{} {} {against} across {scope}: {} of {} tenant-regions moved together (median over {minutes} min)",
            first.label,
            factor(change),
            movers.len(),
            members.len()
        );
        let mut names: Vec<(String, String)> =
            movers.iter().map(|i| (levels[*i].tenant_id.clone(), levels[*i].region.clone())).collect();
        names.sort();
        shifts.push((
            Finding {
                kind: PeerKind::Fleet,
                tenant_id: "*".into(),
                region: region.clone(),
                tier: tier.clone(),
                metric_key: metric.clone(),
                direction,
                change,
                peer_change: change,
                moved: movers.len() as u32,
                compared: members.len() as u32,
                title,
                members: names,
            },
            movers,
        ));
    }
    // Series a shift explains, per metric.
    let explained: HashSet<usize> = shifts.iter().flat_map(|(_, m)| m.iter().copied()).collect();

    // Departures from the tier's peers. Each tier's reference (see above)
    // once per metric.
    let mut tier_reference: HashMap<(&str, &str), Option<f64>> = HashMap::new();
    let mut sorted_tiers: HashMap<(&str, &str), SortedPeers> = HashMap::new();
    let mut found: Vec<Finding> = Vec::new();
    for &(i, x) in &judged {
        if explained.contains(&i) {
            continue;
        }
        let l = &levels[i];
        let Some(tier) = groups.get(&(l.metric_key.clone(), "*".to_string(), l.tier.clone())) else { continue };
        // Most series sit near their peers: their peers' median (exact,
        // from the tier sorted once) rules them out before the peers are
        // gathered, which at thousands of tenant-regions a tier is the
        // pass's whole cost. No bar is lower than half the departure
        // factor (the hold of an ongoing one).
        let sorted = sorted_tiers
            .entry((l.metric_key.as_str(), l.tier.as_str()))
            .or_insert_with(|| SortedPeers::new(levels, tier, &explained));
        let Some(m) = sorted.median_without(&l.tenant_id) else { continue };
        if (x - m).abs() < 0.5 * DEPART_FACTOR.ln() {
            continue;
        }
        let peers: Vec<(usize, f64)> = tier
            .iter()
            .filter(|(j, _)| levels[*j].tenant_id != l.tenant_id && !explained.contains(j))
            .copied()
            .collect();
        if peers.len() < MIN_GROUP || !enough_tenants(&peers) {
            continue;
        }
        let xs: Vec<f64> = peers.iter().map(|(_, x)| *x).collect();
        // Steady: within a shift of the reference (without one, not known:
        // the departure from the peers is judged all the same).
        let base = *tier_reference
            .entry((l.metric_key.as_str(), l.tier.as_str()))
            .or_insert_with(|| reference(&l.metric_key, tier, false).map(|(base, _)| base));
        if base.is_some_and(|b| (m - b).abs() >= SHIFT_FACTOR.ln()) {
            continue;
        }
        let mut deviations: Vec<f64> = xs.iter().map(|v| (v - m).abs()).collect();
        let spread = 1.4826 * median(&mut deviations);
        let subject = (PeerKind::Peer, l.tenant_id.clone(), l.region.clone(), l.tier.clone(), l.metric_key.clone());
        let hold = if open.contains(&subject) { 0.5 } else { 1.0 };
        let bar = hold * DEPART_FACTOR.ln().max(DEPART_SPREADS * spread);
        let d = x - m;
        if d.abs() < bar || (l.summed_count && !count_departs(l, levels, &peers, hold < 1.0)) {
            continue;
        }
        let (change, peer_change) = (x.exp(), m.exp());
        let moved = (m - base.unwrap_or(0.0)).exp();
        let tier_moved = if moved.max(1.0 / moved) < STEADY_FACTOR {
            "the tier is steady".to_string()
        } else {
            format!("the tier moved {}", factor(moved))
        };
        let mut title = format!(
            "{} {} the {} tier's median change over {minutes} min while {tier_moved} ({} against a usual {}",
            l.label,
            factor(change / peer_change),
            l.tier,
            amount(l.recent, &l.unit),
            amount(l.usual.unwrap_or_default(), &l.unit),
        );
        let _ = write!(title, " in {}; {} peers)", l.region, peers.len());
        found.push(Finding {
            kind: PeerKind::Peer,
            tenant_id: l.tenant_id.clone(),
            region: l.region.clone(),
            tier: l.tier.clone(),
            metric_key: l.metric_key.clone(),
            direction: if d >= 0.0 { Direction::Up } else { Direction::Down },
            change,
            peer_change,
            moved: 1,
            compared: peers.len() as u32,
            title,
            members: Vec::new(),
        });
    }
    found.extend(shifts.into_iter().map(|(f, _)| f));
    found
}

/// A summed count's departure must be unlikely for the count itself:
/// Poisson's one-sided tail of [`DEPART_SPREADS`] standard deviations (of
/// half as many for an ongoing one, as its hold halves the bar).
const COUNT_TAIL: f64 = 2.9e-7;
const COUNT_TAIL_HELD: f64 = 6.2e-3;

/// Whether a summed count's events in the window are unlikely for the
/// count itself: against its usual count moved by its peers' median raw
/// change, as Poisson (at the tails above).
///
/// Why: the pseudo-events ([`PSEUDO_EVENTS`]) damp a small count's change,
/// so against a tier that moved (a Monday against a Sunday: 1.6x) a small
/// count seems to lag, and a count a little low by chance read as "0.45x
/// the tier's median change", a departure. Its peers' spread says nothing
/// of the subject's own noise when their counts are larger.
fn count_departs(l: &Level, levels: &[Level], peers: &[(usize, f64)], held: bool) -> bool {
    let Some(usual) = l.usual else { return false };
    let mut raw: Vec<f64> = peers
        .iter()
        .filter_map(|(j, _)| {
            let p = &levels[*j];
            p.usual.filter(|u| *u > 0.0).map(|u| p.recent / u)
        })
        .collect();
    let moved = if raw.is_empty() { 1.0 } else { median(&mut raw) };
    let n = f64::from(l.points);
    let (events, lambda) = ((l.recent * n).round().max(0.0), (usual * n * moved).max(0.0));
    let tail = if events >= lambda { poisson_upper(events, lambda) } else { poisson_lower(events, lambda) };
    tail <= if held { COUNT_TAIL_HELD } else { COUNT_TAIL }
}

/// ln P(X = k) for X Poisson with mean `lambda`.
fn poisson_ln_pmf(k: f64, lambda: f64) -> f64 {
    if k == 0.0 {
        return -lambda;
    }
    // ln k!: exactly up to 30, Stirling's series beyond (error < 1e-10).
    let ln_factorial = if k <= 30.0 {
        (2..=k as u32).map(|i| f64::from(i).ln()).sum()
    } else {
        k * k.ln() - k + 0.5 * (std::f64::consts::TAU * k).ln() + 1.0 / (12.0 * k) - 1.0 / (360.0 * k * k * k)
    };
    -lambda + k * lambda.ln() - ln_factorial
}

/// P(X <= k) for `k` below the mean `lambda`: the terms fall by `i / lambda`
/// going down from `k`.
fn poisson_lower(k: f64, lambda: f64) -> f64 {
    let (mut term, mut sum, mut i) = (1.0, 1.0, k);
    while i > 0.0 && term > 1e-17 * sum {
        term *= i / lambda;
        sum += term;
        i -= 1.0;
    }
    (poisson_ln_pmf(k, lambda).exp() * sum).min(1.0)
}

/// P(X >= k) for `k` at or above the mean `lambda`: the terms fall by
/// `lambda / (i + 1)` going up from `k`.
fn poisson_upper(k: f64, lambda: f64) -> f64 {
    let (mut term, mut sum, mut i) = (1.0, 1.0, k);
    while term > 1e-17 * sum && i < k + 1e6 {
        term *= lambda / (i + 1.0);
        sum += term;
        i += 1.0;
    }
    (poisson_ln_pmf(k, lambda).exp() * sum).min(1.0)
}

/// Noisy neighbours in one pass over `levels`: per pool and region, a
/// tenant whose load ([`LOAD_METRICS`]) changed at least [`NOISY_LOAD`]x
/// (every change taken against the fleet's median change of its metric)
/// (half that, in logarithms, to continue an `open` one) while its
/// pool-mates' load stayed under [`SHIFT_FACTOR`]x, and at least one
/// pool-mate, and half of those compared, had its latency or errors change
/// [`SUFFER`]x. It names the noisy tenant; its members are the pool-mates
/// that suffered. A pool where several tenants' load rose is judged not at
/// all: the rise is not one tenant's.
pub fn neighbours(levels: &[Level], open: &HashSet<Subject>) -> Vec<Finding> {
    let minutes = WINDOW_SECS / MINUTE;
    let mut pools: BTreeMap<(&str, &str), Vec<&Level>> = BTreeMap::new();
    for l in levels {
        if let Some(pool) = &l.pool {
            pools.entry((pool.as_str(), l.region.as_str())).or_default().push(l);
        }
    }
    // Each change against the whole fleet's median change of that metric:
    // where usual levels come from another kind of day, or the fleet as a
    // whole is busier than usual, every tenant moved alike.
    let mut by_metric: HashMap<&str, Vec<f64>> = HashMap::new();
    for l in levels {
        if let Some(c) = l.change() {
            by_metric.entry(l.metric_key.as_str()).or_default().push(c);
        }
    }
    let fleet_median: HashMap<&str, f64> = by_metric.into_iter().map(|(m, mut v)| (m, median(&mut v))).collect();
    let relative = |l: &Level| Some(l.change()? / fleet_median.get(l.metric_key.as_str()).copied().unwrap_or(1.0));
    let mut found = Vec::new();
    for ((pool, region), members) in pools {
        let loads: Vec<(&Level, f64)> = members
            .iter()
            .filter(|l| LOAD_METRICS.contains(&l.metric_key.as_str()))
            .filter_map(|l| Some((*l, relative(l)?)))
            .collect();
        let subject = |tenant: &str| {
            let load = loads.iter().find(|(l, _)| l.tenant_id == tenant).map_or("", |(l, _)| l.metric_key.as_str());
            (PeerKind::Neighbour, tenant.to_string(), region.to_string(), pool.to_string(), load.to_string())
        };
        let noisy: Vec<&(&Level, f64)> = loads
            .iter()
            .filter(|(l, c)| {
                let bar = if open.contains(&subject(&l.tenant_id)) { NOISY_LOAD.sqrt() } else { NOISY_LOAD };
                *c >= bar
            })
            .collect();
        let [(noisy, load)] = noisy[..] else { continue };
        let steady = |tenant: &str| loads.iter().any(|(l, c)| l.tenant_id == tenant && *c < SHIFT_FACTOR);
        let mut compared = 0u32;
        let mut hurt: Vec<(&Level, f64)> = Vec::new();
        for mate in loads.iter().map(|(l, _)| l.tenant_id.as_str()).filter(|t| *t != noisy.tenant_id) {
            if !steady(mate) {
                continue;
            }
            let worst = members
                .iter()
                .filter(|l| l.tenant_id == mate && HURT_METRICS.contains(&l.metric_key.as_str()))
                .filter_map(|l| Some((*l, relative(l)?)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            let Some(worst) = worst else { continue };
            compared += 1;
            if worst.1 >= SUFFER {
                hurt.push(worst);
            }
        }
        if hurt.is_empty() || (hurt.len() as u32) * 2 < compared {
            continue;
        }
        let mut changes: Vec<f64> = hurt.iter().map(|(_, c)| *c).collect();
        let peer_change = median(&mut changes);
        let labels: BTreeSet<&str> = hurt.iter().map(|(l, _)| l.label.as_str()).collect();
        let labels: Vec<&str> = labels.into_iter().collect();
        let title = format!(
            "noisy neighbour: {} {} {} the fleet's change over {minutes} min ({} against a usual {}) in account \
             {pool}, {region}, while {} of its {} pool-mates' {} rose {} with it (median)",
            noisy.tenant_id,
            noisy.label.to_lowercase(),
            factor(*load),
            amount(noisy.recent, &noisy.unit),
            amount(noisy.usual.unwrap_or_default(), &noisy.unit),
            hurt.len(),
            compared,
            labels.join(" or "),
            factor(peer_change),
        );
        let mut mates: Vec<(String, String)> =
            hurt.iter().map(|(l, _)| (l.tenant_id.clone(), l.region.clone())).collect();
        mates.sort();
        found.push(Finding {
            kind: PeerKind::Neighbour,
            tenant_id: noisy.tenant_id.clone(),
            region: region.to_string(),
            tier: pool.to_string(),
            metric_key: noisy.metric_key.clone(),
            direction: Direction::Up,
            change: *load,
            peer_change,
            moved: hurt.len() as u32,
            compared,
            title,
            members: mates,
        });
    }
    found
}

/// Join one pass's findings (over the window `[from, to)`) to the episodes
/// still open: a finding continues its subject's open episode in the same
/// direction (its peak kept, a fleet shift's members added to), or starts
/// one at `from`; an open episode without a finding ends at its latest
/// window. Returns every row to write.
pub fn carry(open: &[PeerRow], found: Vec<Finding>, from: i64, to: i64) -> Vec<PeerRow> {
    let mut out: Vec<PeerRow> = Vec::new();
    let mut continued: HashSet<usize> = HashSet::new();
    for f in found {
        let ongoing = open.iter().enumerate().find(|(k, o)| {
            !continued.contains(k)
                && o.subject() == f.subject()
                && o.direction == f.direction
                && from - o.through <= MAX_GAP_SECS
        });
        match ongoing {
            Some((k, o)) => {
                continued.insert(k);
                let mut row = o.clone();
                row.through = to;
                row.end = None;
                if strength(f.change, f.peer_change) > strength(o.change, o.peer_change) {
                    (row.change, row.peer_change, row.moved, row.compared, row.title) =
                        (f.change, f.peer_change, f.moved, f.compared, f.title);
                }
                for m in f.members {
                    if !row.members.contains(&m) {
                        row.members.push(m);
                    }
                }
                row.members.sort();
                out.push(row);
            }
            None => out.push(PeerRow {
                kind: f.kind,
                tenant_id: f.tenant_id,
                region: f.region,
                tier: f.tier,
                metric_key: f.metric_key,
                direction: f.direction,
                start: from,
                end: None,
                through: to,
                change: f.change,
                peer_change: f.peer_change,
                moved: f.moved,
                compared: f.compared,
                title: f.title,
                members: f.members,
            }),
        }
    }
    for (k, o) in open.iter().enumerate() {
        if !continued.contains(&k) {
            out.push(PeerRow { end: Some(o.through), ..o.clone() });
        }
    }
    out
}

/// Whether `ts` (UTC) falls on a Saturday or a Sunday.
fn weekend(ts: i64) -> bool {
    // 1970-01-01 was a Thursday: day 2 was a Saturday.
    matches!(ts.div_euclid(DAY).rem_euclid(7), 2 | 3)
}

/// The hourly buckets (start times) the usual level at `mid` is read from:
/// the two hours around `mid` on each of the last [`BASELINE_DAYS`] days.
pub fn baseline_buckets(mid: i64) -> Vec<i64> {
    let mut out = Vec::new();
    for d in 1..=BASELINE_DAYS {
        let t = mid - d * DAY;
        let b0 = (t - HOUR / 2).div_euclid(HOUR) * HOUR;
        out.extend([b0, b0 + HOUR]);
    }
    out
}

/// The usual level at `mid` from one series' hourly means (bucket start ->
/// mean), and whether it comes from days of the same kind as `mid`'s.
pub fn usual_level(mid: i64, hourly: &HashMap<i64, f64>) -> Option<(f64, bool)> {
    let mut like = Vec::new();
    let mut other = Vec::new();
    for d in 1..=BASELINE_DAYS {
        let t = mid - d * DAY;
        let b0 = (t - HOUR / 2).div_euclid(HOUR) * HOUR;
        // Interpolated between the means of the hours around `t`, each
        // taken at its bucket's centre.
        let w = (t - (b0 + HOUR / 2)) as f64 / HOUR as f64;
        let v = match (hourly.get(&b0), hourly.get(&(b0 + HOUR))) {
            (Some(a), Some(b)) => (1.0 - w) * a + w * b,
            (Some(a), None) => *a,
            (None, Some(b)) => *b,
            (None, None) => continue,
        };
        if weekend(t) == weekend(mid) {
            like.push(v);
        } else {
            other.push(v);
        }
    }
    if !like.is_empty() {
        Some((median(&mut like), true))
    } else if !other.is_empty() {
        Some((median(&mut other), false))
    } else {
        None
    }
}

/// What one analysis pass did, for the sync's progress line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerSummary {
    /// Series compared (those with a window and a usual level).
    pub series: usize,
    /// Ongoing peer departures and fleet shifts after the pass.
    pub departures: usize,
    pub shifts: usize,
}

/// Compare the fleet's series over the window ending at `now` (floored to
/// the minute) and store the episodes found, continued or closed.
pub async fn compute(cache: &Cache, fleet: &Fleet, catalog: &Catalog, now: i64) -> Result<PeerSummary, CacheError> {
    let to = now - now.rem_euclid(MINUTE);
    let from = to - WINDOW_SECS;
    let mid = from + WINDOW_SECS / 2;
    let levels = levels(cache, fleet, catalog, from, to, mid).await?;
    let open = cache.open_peer_anomalies().await?;
    let subjects: HashSet<Subject> = open.iter().map(|o| subject_of(o.subject())).collect();
    let mut found = find(&levels, &subjects);
    found.extend(neighbours(&levels, &subjects));
    let rows = carry(&open, found, from, to);
    cache.put_peer_anomalies(&rows).await?;
    let ongoing = |kind| rows.iter().filter(|r| r.kind == kind && r.end.is_none()).count();
    Ok(PeerSummary {
        series: levels.iter().filter(|l| l.change().is_some()).count(),
        departures: ongoing(PeerKind::Peer),
        shifts: ongoing(PeerKind::Fleet),
    })
}

/// Every series of the fleet's tenant-regions and catalog metrics, with its
/// window and usual level: two reads of the cache.
async fn levels(
    cache: &Cache,
    fleet: &Fleet,
    catalog: &Catalog,
    from: i64,
    to: i64,
    mid: i64,
) -> Result<Vec<Level>, CacheError> {
    let windows = cache.window_means(from, to).await?;
    let hourly = cache.hourly_means(&baseline_buckets(mid)).await?;
    let series = cache.series_ids().await?;
    // (tenant, region, metric) -> the series with the most points in the
    // window (a metric whose dimensions changed has an old series too).
    let mut best: HashMap<(&str, &str, &str), (i64, u32, f64)> = HashMap::new();
    for (tenant, region, metric, id) in &series {
        let Some(&(points, mean)) = windows.get(id) else { continue };
        let slot = best.entry((tenant.as_str(), region.as_str(), metric.as_str())).or_insert((*id, points, mean));
        if points > slot.1 {
            *slot = (*id, points, mean);
        }
    }
    let mut out = Vec::new();
    for t in &fleet.tenants {
        for region in t.regions() {
            for spec in catalog.metrics_for(t.model) {
                let Some(&(id, points, recent)) = best.get(&(t.id.as_str(), region, spec.key.as_str())) else {
                    continue;
                };
                // At least half the window's points.
                if i64::from(points) * i64::from(spec.period) * 2 < WINDOW_SECS {
                    continue;
                }
                let own: HashMap<i64, f64> = hourly.get(&id).map(|h| h.iter().copied().collect()).unwrap_or_default();
                let usual = usual_level(mid, &own);
                out.push(Level {
                    tenant_id: t.id.clone(),
                    region: region.to_string(),
                    tier: t.tier.clone(),
                    metric_key: spec.key.clone(),
                    label: spec.label.clone(),
                    unit: crate::analysis::explain_unit(&spec.unit, &spec.stat, spec.period),
                    recent,
                    points,
                    usual: usual.map(|(u, _)| u),
                    like_days: usual.is_some_and(|(_, like)| like),
                    summed_count: spec.unit == "count" && spec.stat == "Sum",
                    pool: (!t.model.owns_account()).then(|| t.account.clone()),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
