//! Metric values of the simulated fleet: pure functions of (seed, tenant,
//! metric, region, minute), plus the deterministic hashing every other
//! module draws its "randomness" from.
//!
//! The unit of truth is one minute of one metric ([`Sample`]): what
//! CloudWatch would hold after the publisher's datapoints were aggregated.
//! Longer periods and statistics are folded from minutes on demand
//! ([`aggregate`]), so nothing is ever stored.

use super::fleet::{Fleet, SimTenant};

// ---------------------------------------------------------------------------
// Deterministic hashing

/// splitmix64's finaliser: a fast, well-mixed 64-bit permutation.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of a tuple of integers (order matters).
pub(crate) fn mix(parts: &[u64]) -> u64 {
    parts.iter().fold(0x243F_6A88_85A3_08D3, |h, &p| splitmix64(h ^ p))
}

/// FNV-1a of a string, to feed names into [`mix`].
pub(crate) fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3))
}

/// Uniform in [0, 1).
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Standard normal (Box-Muller on two uniforms derived from `h`).
pub(crate) fn gauss(h: u64) -> f64 {
    let u1 = unit(h).max(1e-12);
    let u2 = unit(splitmix64(h));
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Poisson-distributed count with mean `lambda`: exact inversion for small
/// means, the normal approximation above.
pub(crate) fn poisson(lambda: f64, h: u64) -> f64 {
    if lambda <= 0.0 {
        return 0.0;
    }
    if lambda > 30.0 {
        return (lambda + lambda.sqrt() * gauss(h)).round().max(0.0);
    }
    let u = unit(h);
    let mut p = (-lambda).exp();
    let mut cdf = p;
    let mut k = 0.0;
    while u > cdf && k < 200.0 {
        k += 1.0;
        p *= lambda / k;
        cdf += p;
    }
    k
}

/// Inverse of the standard normal CDF (Acklam's rational approximation,
/// relative error below 1.2e-9): turns a percentile into a z-score.
pub(crate) fn probit(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
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
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let low = 0.02425;
    if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -probit(1.0 - p)
    }
}

// ---------------------------------------------------------------------------
// Traffic shape

/// Day of week of an epoch time, 0 = Sunday (1970-01-01 was a Thursday).
pub(crate) fn weekday(t: i64) -> i64 {
    (t.div_euclid(86_400) + 4).rem_euclid(7)
}

/// Share of peak traffic at `t`: a daily wave peaking at 14:00 UTC with a
/// night-time trough at 15 % of peak, and weekends at about 60 %. Users do
/// not all stop at midnight UTC: the weekend level is reached over the
/// [`WEEK_RAMP`] seconds either side of the midnight it starts and ends on
/// (a step there read as a fleet-wide 1.6x jump every Monday).
pub(crate) fn load(t: i64) -> f64 {
    let hour = t.rem_euclid(86_400) as f64 / 3600.0;
    let daily = 0.15 + 0.85 * 0.5 * (1.0 + (std::f64::consts::TAU * (hour - 14.0) / 24.0).cos());
    let level = |at: i64| match weekday(at) {
        0 | 6 => 0.62,
        _ => 1.0,
    };
    let midnight = (t + 43_200).div_euclid(86_400) * 86_400;
    let weekly = if (t - midnight).abs() < WEEK_RAMP {
        let f = (t - midnight + WEEK_RAMP) as f64 / (2 * WEEK_RAMP) as f64;
        level(midnight - 1) * (1.0 - f) + level(midnight) * f
    } else {
        level(t)
    };
    daily * weekly
}

/// Half the time the weekly level takes to change around midnight.
const WEEK_RAMP: i64 = 3 * 3600;

// ---------------------------------------------------------------------------
// Metrics

/// The simulated metrics; see `fleet::metric_defs` for their CloudWatch names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MetricKind {
    Requests,
    Errors,
    Latency,
    PodCpu,
    /// Pods running in the tenant's namespace.
    RunningPods,
    /// A tenant's database's CPU, following its traffic.
    DbCpu,
    /// The n-th filler gauge of a benchmark fleet ([`super::SimShape`]):
    /// a level of its own that follows the traffic shape, with noise.
    Synthetic(u8),
}

impl MetricKind {
    fn salt(self) -> u64 {
        match self {
            MetricKind::Requests => 1,
            MetricKind::Errors => 2,
            MetricKind::Latency => 3,
            MetricKind::PodCpu => 4,
            MetricKind::RunningPods => 5,
            MetricKind::DbCpu => 6,
            MetricKind::Synthetic(n) => 0x100 + u64::from(n),
        }
    }
}

/// A CloudWatch statistic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Stat {
    Sum,
    Average,
    Minimum,
    Maximum,
    SampleCount,
    /// A percentile in (0, 100].
    Percentile(f64),
}

impl Stat {
    /// Parses the names CloudWatch accepts for the statistics simulated:
    /// the five standard ones and `pNN` / `pNN.NN`.
    pub(crate) fn parse(s: &str) -> Option<Stat> {
        Some(match s {
            "Sum" => Stat::Sum,
            "Average" => Stat::Average,
            "Minimum" => Stat::Minimum,
            "Maximum" => Stat::Maximum,
            "SampleCount" => Stat::SampleCount,
            _ => {
                let num = s.strip_prefix('p')?;
                if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                    return None;
                }
                let decimals = num.split_once('.').map_or(0, |(_, d)| d.len());
                let v: f64 = num.parse().ok()?;
                if !(v > 0.0 && v <= 100.0) || decimals > 2 {
                    return None;
                }
                Stat::Percentile(v)
            }
        })
    }
}

/// How the individual values inside one minute are spread, for percentiles.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Spread {
    /// One published value per minute (counters).
    Point,
    /// Evenly between min and max (per-pod gauges).
    Uniform,
    /// Log-normal (request latency).
    LogNormal { mu: f64, sigma: f64 },
}

/// One minute of one metric as CloudWatch aggregates it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    spread: Spread,
}

impl Sample {
    fn point(v: f64) -> Sample {
        Sample { count: 1.0, sum: v, min: v, max: v, spread: Spread::Point }
    }

    /// The part of this minute one of several load balancers saw: `share`
    /// of the counts (rounded: counts are whole), the same latency.
    pub(crate) fn share(self, share: f64) -> Sample {
        if share >= 1.0 {
            return self;
        }
        match self.spread {
            Spread::Point => {
                let v = (self.sum * share).round();
                Sample { sum: v, min: v, max: v, ..self }
            }
            _ => Sample { count: self.count * share, sum: self.sum * share, ..self },
        }
    }

    /// The `p`-th percentile (0..=100) of the values inside this minute.
    fn quantile(&self, p: f64) -> f64 {
        match self.spread {
            Spread::Point => self.sum,
            Spread::Uniform => self.min + (self.max - self.min) * p / 100.0,
            Spread::LogNormal { mu, sigma } => (mu + sigma * probit(p / 100.0)).exp().clamp(self.min, self.max),
        }
    }
}

/// p99 over median of request latency: a fairly long tail.
const LATENCY_TAIL: f64 = 3.5;

/// Value of `kind` for `tenant` in `region` during the minute starting at
/// `minute` (a multiple of 60). `None` when CloudWatch would have no
/// datapoint (latency in a minute without requests, a region the tenant
/// does not run in).
pub(crate) fn sample(fleet: &Fleet, tenant: &SimTenant, region: &str, kind: MetricKind, minute: i64) -> Option<Sample> {
    let region_factor = tenant.region_factor(region)?;
    if region_factor == 0.0 {
        // An idle standby region: nothing flows, so nothing is published
        // ("If there are no requests flowing through the load balancer or
        // no data for a metric, the metric is not reported": Elastic Load
        // Balancing User Guide, "CloudWatch metrics for your Application
        // Load Balancer").
        return None;
    }
    let h = |salt: u64| mix(&[fleet.options.seed, tenant.key, kind.salt(), hash_str(region), minute as u64, salt]);
    match kind {
        MetricKind::Requests => Some(Sample::point(requests(fleet, tenant, region, region_factor, minute))),
        MetricKind::Errors => {
            let reqs = requests(fleet, tenant, region, region_factor, minute);
            let mut lambda = reqs * tenant.error_rate;
            // The incident: a failing upstream turns ~8 % of traffic into
            // 5xx, with a floor so a night-time spike still clears the
            // catalog's critical threshold (50/min), `ramp` of the way.
            let outage = |ramp: f64| (reqs * 0.08).max(140.0) * ramp * (1.0 + 0.08 * gauss(h(1)));
            if let Some(start) = fleet.error_spike_start(tenant, region).filter(|s| minute >= *s) {
                lambda = outage((0.5 + 0.25 * ((minute - start) / 60) as f64).min(1.0));
            }
            if fleet.error_blip(tenant, region).is_some_and(|(start, end)| (start..end).contains(&minute)) {
                // The blip: as the spike at its height, for a few minutes.
                lambda = outage(1.0);
            }
            let deploy = fleet.peer_departure_start(tenant, region).is_some_and(|start| minute >= start);
            if deploy {
                // The broken deploy: 3 % of requests fail, and at least 3 a
                // minute, so it stands out from its peers at night too.
                lambda = (reqs * 0.03).max(3.0);
            }
            let errors = poisson(lambda, h(2));
            // Healthy tenants never reach the catalog's warn level (10/min):
            // the demo's only error incidents are the injected ones.
            let errors = if lambda > 20.0 || deploy { errors } else { errors.min(7.0) };
            Some(Sample::point(errors))
        }
        MetricKind::Latency => {
            let reqs = requests(fleet, tenant, region, region_factor, minute);
            if reqs < 1.0 {
                return None;
            }
            let mut usual = tenant.p99 * (0.85 + 0.3 * load(minute));
            if let Some((start, end)) = fleet.latency_ramp(tenant, region) {
                if minute >= start {
                    // The regression: p99 climbs linearly from where it
                    // was to ~3 s by `now` and stays there. From where it
                    // was, not from the tenant's base p99: at the daily
                    // peak that was a 13% fall at the ramp's start, and
                    // the ramp was found later or sooner by the hour.
                    let frac = ((minute - start) as f64 / (end - start).max(60) as f64).min(1.0);
                    usual += (3.05 - usual) * frac;
                }
            }
            let p99 = usual * (1.0 + 0.06 * gauss(h(1)));
            // The regional slowdown moves every tenant of the region alike;
            // a noisy neighbour slows its pool-mates.
            let slower = fleet.region_slowdown(region, minute) * fleet.neighbour_effect(tenant, region, minute).1;
            let p99 = (p99 * slower).max(0.01);
            let sigma = LATENCY_TAIL.ln() / probit(0.99);
            let mu = (p99 / LATENCY_TAIL).ln();
            let mean = (mu + sigma * sigma / 2.0).exp();
            let q = |p: f64| (mu + sigma * probit(p)).exp();
            Some(Sample {
                count: reqs,
                sum: mean * reqs,
                min: q(1.0 / (reqs + 1.0)),
                max: q(reqs / (reqs + 1.0)),
                spread: Spread::LogNormal { mu, sigma },
            })
        }
        MetricKind::PodCpu => {
            let pods = f64::from(tenant.pods) * fleet.pod_multiplier(tenant, minute) * region_factor.max(0.5);
            let pods = pods.round().max(1.0);
            let avg = (tenant.cpu_base + 30.0 * load(minute) + 2.5 * gauss(h(1))).clamp(3.0, 97.0);
            let (lo, hi) = (avg * 0.7, (avg * 1.3).min(100.0));
            Some(Sample { count: pods, sum: avg * pods, min: lo, max: hi, spread: Spread::Uniform })
        }
        MetricKind::DbCpu => {
            let avg = (tenant.cpu_base + 25.0 * load(minute) + 2.0 * gauss(h(1))).clamp(2.0, 98.0);
            Some(Sample::point(avg))
        }
        MetricKind::RunningPods => {
            let pods = f64::from(tenant.pods) * fleet.pod_multiplier(tenant, minute) * region_factor.max(0.5);
            Some(Sample::point(pods.round().max(1.0)))
        }
        MetricKind::Synthetic(n) => {
            let level = 10.0 + 990.0 * unit(mix(&[tenant.key, 0x5e, u64::from(n)]));
            let v = level * region_factor * (0.3 + 0.7 * load(minute)) * (1.0 + 0.05 * gauss(h(1)));
            Some(Sample::point(v.max(0.0)))
        }
    }
}

/// Requests in one minute: the tenant's peak rate shaped by the daily and
/// weekly load, a per-day level wobble and per-minute noise.
fn requests(fleet: &Fleet, tenant: &SimTenant, region: &str, region_factor: f64, minute: i64) -> f64 {
    let seed = fleet.options.seed;
    let region_h = hash_str(region);
    // Each day's level wobbles, reached gradually around midnight like the
    // weekend's (see `load`).
    let level_of = |day: i64| 1.0 + 0.06 * gauss(mix(&[seed, tenant.key, 11, region_h, day as u64]));
    let midnight = (minute + 43_200).div_euclid(86_400) * 86_400;
    let day_level = if (minute - midnight).abs() < WEEK_RAMP {
        let f = (minute - midnight + WEEK_RAMP) as f64 / (2 * WEEK_RAMP) as f64;
        level_of(midnight / 86_400 - 1) * (1.0 - f) + level_of(midnight / 86_400) * f
    } else {
        level_of(minute.div_euclid(86_400))
    };
    let minute_noise = 1.0 + 0.04 * gauss(mix(&[seed, tenant.key, 12, region_h, minute as u64]));
    let noisy = fleet.neighbour_effect(tenant, region, minute).0;
    let lambda = tenant.peak_rpm * region_factor * load(minute) * day_level * minute_noise * noisy;
    poisson(lambda.max(0.0), mix(&[seed, tenant.key, 13, region_h, minute as u64]))
}

/// Folds the minutes of one period into one statistic; `None` when no
/// minute had data (CloudWatch then returns no datapoint).
pub(crate) fn aggregate(samples: &[Sample], stat: Stat) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let count: f64 = samples.iter().map(|s| s.count).sum();
    let sum: f64 = samples.iter().map(|s| s.sum).sum();
    Some(match stat {
        Stat::Sum => sum,
        Stat::SampleCount => count,
        Stat::Average => {
            if count > 0.0 {
                sum / count
            } else {
                0.0
            }
        }
        Stat::Minimum => samples.iter().map(|s| s.min).fold(f64::INFINITY, f64::min),
        Stat::Maximum => samples.iter().map(|s| s.max).fold(f64::NEG_INFINITY, f64::max),
        Stat::Percentile(p) => {
            if samples.iter().all(|s| s.spread == Spread::Point) {
                // Nearest-rank percentile over the per-minute values.
                let mut values: Vec<f64> = samples.iter().map(|s| s.sum).collect();
                values.sort_by(f64::total_cmp);
                let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
                values[rank.clamp(1, values.len()) - 1]
            } else {
                // Merging distributions exactly is not worth it here: the
                // request-weighted mean of the minutes' percentiles is close
                // and keeps a busy minute's tail dominant.
                let weight: f64 = samples.iter().map(|s| s.count).sum();
                samples.iter().map(|s| s.quantile(p) * s.count).sum::<f64>() / weight.max(1e-9)
            }
        }
    })
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn stat_names_follow_cloudwatch() {
        assert_eq!(Stat::parse("Sum"), Some(Stat::Sum));
        assert_eq!(Stat::parse("p99"), Some(Stat::Percentile(99.0)));
        assert_eq!(Stat::parse("p99.9"), Some(Stat::Percentile(99.9)));
        assert_eq!(Stat::parse("p0"), None);
        assert_eq!(Stat::parse("p100.001"), None);
        assert_eq!(Stat::parse("P99"), None);
        assert_eq!(Stat::parse("tm99"), None);
        assert_eq!(Stat::parse("sum"), None);
    }

    #[test]
    fn traffic_peaks_in_the_afternoon_and_dips_at_weekends() {
        // 2026-11-18 00:00 UTC, a Wednesday; 2026-11-21 a Saturday.
        let wed = 1_794_960_000;
        assert_eq!(weekday(wed), 3);
        let sat = wed + 3 * 86_400;
        assert_eq!(weekday(sat), 6);
        assert!(load(wed + 14 * 3600) > 3.0 * load(wed + 2 * 3600));
        assert!((load(wed + 14 * 3600) - 1.0).abs() < 1e-9);
        assert!(load(sat + 14 * 3600) < 0.7);
    }

    #[test]
    fn poisson_has_the_right_mean() {
        let n = 20_000u64;
        let mean: f64 = (0..n).map(|i| poisson(3.0, splitmix64(i))).sum::<f64>() / n as f64;
        assert!((mean - 3.0).abs() < 0.1, "{mean}");
    }

    #[test]
    fn probit_matches_known_quantiles() {
        assert!((probit(0.99) - 2.326_347_874).abs() < 1e-6);
        assert!(probit(0.5).abs() < 1e-9);
        assert!((probit(0.01) + 2.326_347_874).abs() < 1e-6);
    }

    #[test]
    fn percentile_of_counters_is_nearest_rank() {
        let s: Vec<Sample> = [5.0, 1.0, 3.0, 2.0, 4.0].iter().map(|v| Sample::point(*v)).collect();
        assert_eq!(aggregate(&s, Stat::Percentile(50.0)), Some(3.0));
        assert_eq!(aggregate(&s, Stat::Percentile(99.0)), Some(5.0));
        assert_eq!(aggregate(&s, Stat::Sum), Some(15.0));
        assert_eq!(aggregate(&s, Stat::SampleCount), Some(5.0));
        assert_eq!(aggregate(&[], Stat::Sum), None);
    }
}
