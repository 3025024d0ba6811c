//! Metric charts: the points of one series at the resolution that fits
//! the pixels, drawn by [`crate::chart`] with thresholds, anomalies and the
//! fleet's median line.

use super::ViewError;
use crate::cache::Cache;
use crate::catalog::Catalog;
use crate::chart::{self, ChartSpec, Line, Rule};
use crate::clock::{self, DAY, HOUR, MINUTE};
use crate::fleet::Model;
use crate::model::{Chart, ChartExport, ChartRequest, CostChartRequest};

/// Bounds on what a chart request may ask for.
pub const MAX_CHART_RANGE_SECS: i64 = 400 * DAY;

/// One catalog metric of one tenant-region over the last `hours` before
/// `now` (or the request's explicit range), drawn with the catalog's
/// thresholds, the tenant's alarm thresholds on that metric (dashed), its
/// anomaly episodes shaded, and, when asked, the median of its tier in that
/// region.
pub async fn tenant_chart(cache: &Cache, catalog: &Catalog, req: &ChartRequest, now: i64) -> Result<Chart, ViewError> {
    let ChartRequest { tenant, region, metric, width, height, dark, .. } = req;
    let (width, height, dark) = (*width, *height, *dark);
    if tenant.len() > 64 || region.len() > 32 || metric.len() > 64 {
        return Err(ViewError::BadRequest("tenant, region or metric is too long".into()));
    }
    let (from, to) = chart_range(req, now)?;
    if !(100..=4000).contains(&width) || !(80..=2000).contains(&height) {
        return Err(ViewError::BadRequest("chart size must be 100-4000 x 80-2000 pixels".into()));
    }
    let offset = req.utc_offset_min.unwrap_or(0);
    if offset.abs() > 14 * 60 {
        return Err(ViewError::BadRequest("a time zone is at most 14 hours from UTC".into()));
    }
    let row = cache.tenant_model_tier(tenant).await?;
    let (model, tier) = row.ok_or_else(|| ViewError::NotFound(format!("no tenant {tenant:?} in the cache")))?;
    let model =
        Model::parse(&model).ok_or_else(|| ViewError::NotFound(format!("no tenant {tenant:?} in the cache")))?;
    let spec = catalog
        .metric(model, metric)
        .ok_or_else(|| ViewError::NotFound(format!("no metric {metric:?} for {model} tenants in the catalog")))?;
    // A pixel column of the plot (its frame and axis labels take ~80 px).
    let columns = width.saturating_sub(80).max(50) as i64;
    let data = chart_data(cache, catalog, tenant, region, metric, (from, to), columns).await?;
    // The bucket holding `from` starts before it: drawn at the left edge.
    let points: Vec<(i64, f64)> = data.buckets.iter().map(|b| (b.ts.max(from), b.mean)).collect();
    let band: Vec<(i64, f64, f64)> = if data.summarised() {
        data.buckets.iter().map(|b| (b.ts.max(from), b.lo, b.hi)).collect()
    } else {
        Vec::new()
    };

    // Anomaly episodes of this series in the range; a one-point episode
    // still covers its period.
    let spans: Vec<(i64, i64)> =
        cache.anomaly_spans(tenant, region, metric, (from, to), i64::from(spec.period)).await?;

    // The tenant's own alarms on this metric, with their thresholds.
    let alarms = cache.metric_alarms(tenant, region, &spec.namespace, &spec.name).await?;
    let alarm_labels: Vec<String> = alarms
        .iter()
        .map(|(name, state, threshold)| {
            format!("alarm {name} > {} ({})", short_value(*threshold), state.to_lowercase())
        })
        .collect();
    let rules: Vec<Rule> =
        alarms.iter().zip(&alarm_labels).map(|((_, _, value), label)| Rule { value: *value, label }).collect();

    let mut notes = Vec::new();
    let median: Vec<(i64, f64)> = if req.fleet_median.unwrap_or(false) {
        // The median is kept by hour and by day: hours for a raw chart.
        let res = data.resolution.unwrap_or(crate::cache::ROLLUPS[0]);
        let line = crate::fleet_median::read(cache, metric, &tier, region, res, (from, to)).await?;
        let peers = line.iter().map(|p| p.2).max().unwrap_or(0);
        if line.is_empty() {
            notes.push(format!("No fleet median yet for {tier} tenants in {region}."));
        } else {
            notes.push(format!(
                "Fleet median: the middle of {peers} {tier} tenant{} in {region}, {} means.",
                if peers == 1 { "" } else { "s" },
                if res == DAY { "daily" } else { "hourly" }
            ));
        }
        // A step line: each bucket's median from its start to its end.
        line.iter().flat_map(|&(ts, m, _)| [(ts.max(from), m), ((ts + res - 1).min(to), m)]).collect()
    } else {
        Vec::new()
    };
    if let Some(res) = data.resolution {
        notes.push(format!(
            "{} summaries: the line is each {}'s mean, the band its lowest to highest value.",
            if res == DAY { "Daily" } else { "Hourly" },
            if res == DAY { "day" } else { "hour" }
        ));
    }
    if !spans.is_empty() {
        notes.push(format!("{} anomaly episode{} shaded.", spans.len(), if spans.len() == 1 { "" } else { "s" }));
    }

    let title = format!("{} · {tenant} · {region}", spec.label);
    let median_label = format!("{tier} median");
    let mut lines = vec![Line { label: &spec.label, points: &points, band: &band }];
    if !median.is_empty() {
        lines.push(Line { label: &median_label, points: &median, band: &[] });
    }
    let drawn = chart::draw(&ChartSpec {
        title: &title,
        unit: &spec.unit,
        lines,
        warn: spec.warn_above,
        critical: spec.critical_above,
        rules,
        spans: &spans,
        from,
        to,
        width,
        height,
        dark,
        utc_offset_secs: offset * 60,
    })?;
    for ((name, state, threshold), _) in alarms.iter().zip(&drawn.rules_drawn).filter(|(_, shown)| !**shown) {
        notes.push(format!(
            "Alarm {name} ({}) is at {}, far above the data.",
            state.to_lowercase(),
            short_value(*threshold)
        ));
    }
    Ok(Chart {
        title,
        unit: spec.unit.clone(),
        svg: drawn.svg,
        points: points.len() as u32,
        resolution: data.resolution.unwrap_or(0) as u32,
        from: clock::ms(from),
        to: clock::ms(to),
        plot_left: drawn.plot_left,
        plot_right: drawn.plot_right,
        anomalies: spans.len() as u32,
        notes,
    })
}

/// The range a request asks for, epoch s: its explicit span (a brushed
/// one), else the last `hours` (default 6) before `now`. At least a
/// minute, at most [`MAX_CHART_RANGE_SECS`], and not in the future.
pub fn chart_range(req: &ChartRequest, now: i64) -> Result<(i64, i64), ViewError> {
    let (from, to) = match (req.from, req.to) {
        (Some(f), Some(t)) => (clock::secs(f), clock::secs(t)),
        (None, None) => {
            let hours = i64::from(req.hours.unwrap_or(6));
            (now - hours * HOUR, now)
        }
        _ => return Err(ViewError::BadRequest("a chart range needs both from and to".into())),
    };
    if to - from < MINUTE || to - from > MAX_CHART_RANGE_SECS || to > now + HOUR {
        return Err(ViewError::BadRequest(format!(
            "a chart covers one minute to {} days, up to now",
            MAX_CHART_RANGE_SECS / DAY
        )));
    }
    Ok((from, to))
}

fn short_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The daily cost chart: one tenant's (or the fleet's) closed days up to
/// yesterday, stacked by service, the five largest over the range by name
/// and the rest as "other".
pub async fn cost_chart(cache: &Cache, req: &CostChartRequest, now: i64) -> Result<Chart, ViewError> {
    if !(7..=400).contains(&req.days) {
        return Err(ViewError::BadRequest("a cost chart covers 7 to 400 days".into()));
    }
    if !(100..=4000).contains(&req.width) || !(80..=2000).contains(&req.height) {
        return Err(ViewError::BadRequest("chart size must be 100-4000 x 80-2000 pixels".into()));
    }
    let tenant = req.tenant.as_deref();
    if tenant.is_some_and(|t| t.is_empty() || t.len() > 64) {
        return Err(ViewError::BadRequest("a tenant id is 1 to 64 characters".into()));
    }
    let today = clock::day_of(now);
    let last = today - chrono::Duration::days(1);
    let first = today - chrono::Duration::days(i64::from(req.days));
    let rows = crate::cost::daily_by_service(cache, tenant, first, last).await?;
    let mut totals: std::collections::HashMap<&str, f64> = Default::default();
    for (_, service, v) in &rows {
        *totals.entry(service.as_str()).or_default() += v;
    }
    let mut ranked: Vec<(&str, f64)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let top: Vec<&str> = ranked.iter().take(5).map(|r| r.0).collect();
    let mut series: Vec<&str> = top.clone();
    if ranked.len() > top.len() {
        series.push("other");
    }
    let mut days: Vec<(i64, Vec<f64>)> =
        first.iter_days().take_while(|d| *d <= last).map(|d| (clock::day_start(d), vec![0.0; series.len()])).collect();
    for (day, service, v) in &rows {
        let Some(slot) = days.get_mut((*day - first).num_days().max(0) as usize) else { continue };
        let i = top.iter().position(|s| s == service).unwrap_or(series.len() - 1);
        slot.1[i] += v;
    }
    let title = match tenant {
        Some(t) => format!("Daily cost · {t}"),
        None => "Daily cost · whole fleet".to_string(),
    };
    let drawn = chart::stacked(&chart::StackedSpec {
        title: &title,
        unit: "USD",
        series: series.clone(),
        days: days.clone(),
        width: req.width,
        height: req.height,
        dark: req.dark,
    })?;
    Ok(Chart {
        title,
        unit: "USD".into(),
        svg: drawn.svg,
        points: days.len() as u32,
        resolution: DAY as u32,
        from: clock::ms(clock::day_start(first)),
        to: clock::ms(clock::day_start(today)),
        plot_left: drawn.plot_left,
        plot_right: drawn.plot_right,
        anomalies: 0,
        notes: vec!["Closed days only: today's spend is an estimate until tomorrow.".into()],
    })
}

/// Save a chart the window shows as `fleetdeck-chart-<UTC time>.<png|svg>`
/// in `dir` (owner-only, written whole). PNG is drawn at twice the size,
/// for slides and tickets.
pub async fn export_chart(
    cache: &Cache,
    catalog: &Catalog,
    export: &ChartExport,
    dir: &std::path::Path,
    now: i64,
) -> Result<std::path::PathBuf, ViewError> {
    let chart = match (&export.metric, &export.cost) {
        (Some(m), None) => tenant_chart(cache, catalog, m, now).await?,
        (None, Some(c)) => cost_chart(cache, c, now).await?,
        _ => return Err(ViewError::BadRequest("export one chart: a metric chart or a cost chart".into())),
    };
    let (bytes, ext) = match export.format.as_str() {
        "svg" => (chart.svg.into_bytes(), "svg"),
        "png" => (chart::png(&chart.svg, 2.0)?, "png"),
        other => return Err(ViewError::BadRequest(format!("{other:?} is not png or svg"))),
    };
    let stamp = clock::file_stamp(now);
    let path = dir.join(format!("fleetdeck-chart-{stamp}.{ext}"));
    crate::files::write_private(&path, &bytes).map_err(|e| ViewError::BadRequest(e.to_string()))?;
    Ok(path)
}

/// One point of a chart: a raw datapoint (lo = hi = mean = its value) or
/// an hourly or daily bucket's extremes and mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub ts: i64,
    pub lo: f64,
    pub hi: f64,
    pub mean: f64,
}

/// What a chart draws: raw points (`resolution` None) or rollup buckets of
/// `resolution` seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    pub resolution: Option<i64>,
    pub buckets: Vec<Bucket>,
}

impl ChartData {
    pub fn summarised(&self) -> bool {
        self.resolution.is_some()
    }
}

/// The points of one metric of one tenant-region over `[from, to)`, at the
/// resolution that fits `columns` pixel columns: raw points while a column
/// spans less than an hour, else the hourly rollup, and the daily one once
/// a column spans a day. When retention has deleted the chosen
/// resolution's rows back to `from` (raw points are kept 35 days, hours
/// 180), the next coarser one that still has them is used instead. Raw ranges with more points than the
/// pixels can show are reduced to each column's extremes (M4) when drawn.
pub async fn chart_data(
    cache: &Cache,
    catalog: &Catalog,
    tenant: &str,
    region: &str,
    metric: &str,
    (from, to): (i64, i64),
    columns: i64,
) -> Result<ChartData, ViewError> {
    let column = (to - from) / columns.max(1);
    let wanted = if column >= DAY {
        2
    } else if column >= HOUR {
        1
    } else {
        0
    };
    // The oldest row of each resolution: one primary-key probe each.
    let oldest = cache.oldest_rows(tenant, region, metric).await?;
    let oldest = [oldest.0, oldest.1, oldest.2];
    let width = [0, crate::cache::ROLLUPS[0], crate::cache::ROLLUPS[1]];
    // Summaries are made from the finer rows, so a coarser level starts a
    // whole bucket before a finer one only where retention has deleted the
    // finer rows: a series that simply began late is still read raw.
    let pruned_below = |i: usize, o: i64| (i + 1..3).any(|j| oldest[j].is_some_and(|c| c + width[j] <= o));
    let level = (wanted..3).find(|&i| oldest[i].is_some_and(|o| o <= from || !pruned_below(i, o))).unwrap_or(wanted);
    if level == 0 {
        let buckets = cache
            .series_points(&catalog.views.series_points, tenant, region, metric, (from, to))
            .await?
            .into_iter()
            .map(|(ts, v)| Bucket { ts, lo: v, hi: v, mean: v })
            .collect();
        return Ok(ChartData { resolution: None, buckets });
    }
    let res = crate::cache::ROLLUPS[level - 1];
    let buckets = cache
        .series_rollup(&catalog.views.series_rollup, tenant, region, metric, (from, to), res)
        .await?
        .into_iter()
        .map(|(ts, lo, hi, mean)| Bucket { ts, lo, hi, mean })
        .collect();
    Ok(ChartData { resolution: Some(res), buckets })
}

#[cfg(test)]
mod chart_tests {
    use super::*;
    use crate::cache::PointBatch;

    /// 2027-01-15 08:00 UTC.
    const NOW: i64 = 1_800_000_000;

    async fn cache_with_series(points: &[(i64, f64)], batch: usize) -> Cache {
        let cache = Cache::in_memory().await.unwrap();
        crate::testkit::add_tenant(&cache, "acme", "premium").await;
        let id = crate::testkit::add_series(&cache, "acme", "errors", "HTTPCode_Target_5XX_Count").await;
        // Committed the way syncs commit: a few hours at a time, each sync
        // reading its last five minutes again for late datapoints.
        for at in (0..points.len()).step_by(batch) {
            let chunk = &points[at.saturating_sub(5)..(at + batch).min(points.len())];
            let watermark = chunk.last().unwrap().0 + MINUTE;
            cache.commit_points(&[PointBatch { series_id: id, points: chunk.to_vec(), watermark }]).await.unwrap();
        }
        cache
    }

    /// What the raw points say about `[start, start + width)`.
    async fn raw_extremes(cache: &Cache, start: i64, width: i64) -> (f64, f64) {
        sqlx::query_as("SELECT min(value), max(value) FROM datapoint WHERE ts >= ?1 AND ts < ?2")
            .bind(start)
            .bind(start + width)
            .fetch_one(cache.pool())
            .await
            .unwrap()
    }

    /// 30 days of one-minute points, with a one-minute spike and a dip: the
    /// 30-day chart reads hourly buckets, and each bucket's lowest and
    /// highest value is exactly the raw data's, so the spike is drawn.
    #[tokio::test]
    async fn a_30_day_chart_keeps_each_buckets_raw_min_and_max() {
        let start = NOW - 30 * DAY;
        let (spike, dip) = (start + 17 * DAY + 7_380, start + 23 * DAY + 41_160);
        let points: Vec<(i64, f64)> = (0..30 * 1440)
            .map(|m| {
                let ts = start + m * MINUTE;
                let daily = ((ts % DAY) as f64 / DAY as f64 * std::f64::consts::TAU).sin();
                let v = match ts {
                    t if t == spike => 900.0,
                    t if t == dip => -50.0,
                    _ => 20.0 + 8.0 * daily + ((m * 7919) % 13) as f64,
                };
                (ts, v)
            })
            .collect();
        // Overlapping batches, as a sync re-reads its last minutes: the
        // re-delivered points must not be counted twice.
        let cache = cache_with_series(&points, 180).await;
        let catalog = Catalog::builtin().unwrap();
        let data = chart_data(&cache, &catalog, "acme", "us-east-1", "errors", (start, NOW), 600).await.unwrap();
        assert_eq!(data.resolution, Some(HOUR), "720 h over 600 columns is more than an hour a column");
        assert_eq!(data.buckets.len(), 720);
        for b in &data.buckets {
            let (lo, hi) = raw_extremes(&cache, b.ts, HOUR).await;
            assert_eq!((b.lo, b.hi), (lo, hi), "bucket {}", b.ts);
            assert!(b.lo <= b.mean && b.mean <= b.hi);
        }
        let spiked = data.buckets.iter().find(|b| b.ts <= spike && spike < b.ts + HOUR).unwrap();
        assert_eq!(spiked.hi, 900.0);
        assert!(data.buckets.iter().any(|b| b.lo == -50.0));

        // The drawn chart says so: summarised, 720 points, a band.
        let req = ChartRequest {
            tenant: "acme".into(),
            region: "us-east-1".into(),
            metric: "errors".into(),
            hours: Some(720),
            width: 680,
            height: 240,
            ..ChartRequest::default()
        };
        let chart = tenant_chart(&cache, &catalog, &req, NOW).await.unwrap();
        assert_eq!((chart.resolution, chart.points), (3600, 720));
        assert!(chart.svg.contains("<polygon"), "no min-max band drawn");

        // A year at 200 columns (44 h a column) reads days; six hours
        // reads raw minutes.
        let year = chart_data(&cache, &catalog, "acme", "us-east-1", "errors", (NOW - 365 * DAY, NOW), 200).await;
        let year = year.unwrap();
        assert_eq!(year.resolution, Some(DAY));
        let day = year.buckets.iter().find(|b| b.ts <= spike && spike < b.ts + DAY).unwrap();
        assert_eq!((day.lo, day.hi), raw_extremes(&cache, day.ts, DAY).await);
        let six = chart_data(&cache, &catalog, "acme", "us-east-1", "errors", (NOW - 6 * HOUR, NOW), 600).await;
        let six = six.unwrap();
        assert_eq!((six.resolution, six.buckets.len()), (None, 360));
    }

    /// Once retention has deleted a range's raw points, a chart that would
    /// read them reads the hourly buckets instead, which are still there.
    #[tokio::test]
    async fn a_chart_past_raw_retention_falls_back_to_the_rollup() {
        let start = NOW - 10 * DAY;
        let points: Vec<(i64, f64)> = (0..10 * 1440).map(|m| (start + m * MINUTE, (m % 97) as f64)).collect();
        let cache = cache_with_series(&points, 1440).await;
        let retention = crate::housekeeping::Retention { raw_days: 2, ..Default::default() };
        crate::housekeeping::enforce_retention(&cache, &retention, NOW).await.unwrap();
        let catalog = Catalog::builtin().unwrap();
        // 10 days over 2,000 columns: raw would fit, but raw reaches back 2 days only.
        let data = chart_data(&cache, &catalog, "acme", "us-east-1", "errors", (start, NOW), 2000).await.unwrap();
        assert_eq!(data.resolution, Some(HOUR));
        assert_eq!(data.buckets.len(), 240);
        for b in &data.buckets {
            let hour: Vec<f64> = points.iter().filter(|p| p.0 >= b.ts && p.0 < b.ts + HOUR).map(|p| p.1).collect();
            let lo = hour.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = hour.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mean = hour.iter().sum::<f64>() / hour.len() as f64;
            assert_eq!((b.lo, b.hi, b.mean), (lo, hi, mean), "hours of every age are whole: {}", b.ts);
        }
    }

    /// The on-call engineer's chart of acme's errors: the anomaly episode
    /// shaded, acme's own alarm threshold dashed and named, the premium
    /// tier's median beside it, over the span they brushed.
    #[tokio::test]
    async fn a_chart_shows_the_anomaly_the_alarm_and_the_tiers_median() {
        let start = NOW - DAY;
        let points: Vec<(i64, f64)> =
            (0..1440).map(|m| (start + m * MINUTE, if m >= 1200 { 80.0 } else { 2.0 + (m % 3) as f64 })).collect();
        let cache = cache_with_series(&points, 1440).await;
        // A peer in the same tier, steady at 1 error a minute.
        crate::testkit::add_tenant(&cache, "beta", "premium").await;
        let beta = crate::testkit::add_series(&cache, "beta", "errors", "HTTPCode_Target_5XX_Count").await;
        let steady: Vec<(i64, f64)> = (0..1440).map(|m| (start + m * MINUTE, 1.0)).collect();
        cache.commit_points(&[PointBatch { series_id: beta, points: steady, watermark: NOW }]).await.unwrap();
        crate::fleet_median::refresh(&cache, start).await.unwrap();
        sqlx::query(
            "INSERT INTO anomaly (tenant_id, region, metric_key, start, \"end\", peak_score, direction, peak_ts, peak_value,
                                  expected, explanation, through_ts, season, series_id)
             VALUES ('acme', 'us-east-1', 'errors', ?1, NULL, 0.9, 'up', ?1, 80, 3, 'x', ?2, 'none', 1)",
        )
        .bind(start + 1200 * MINUTE)
        .bind(NOW - MINUTE)
        .execute(cache.pool())
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO alarm (tenant_id, region, arn, name, state, reason, namespace, metric_name, threshold, synced_at)
             VALUES ('acme', 'us-east-1', 'arn:a', 'acme-5xx <b>', 'ALARM', 'r', 'AWS/ApplicationELB', 'HTTPCode_Target_5XX_Count', 60, 0)",
        )
        .execute(cache.pool())
        .await
        .unwrap();

        let catalog = Catalog::builtin().unwrap();
        let req = ChartRequest {
            tenant: "acme".into(),
            region: "us-east-1".into(),
            metric: "errors".into(),
            width: 680,
            height: 240,
            from: Some(clock::ms(NOW - 6 * HOUR)),
            to: Some(clock::ms(NOW)),
            fleet_median: Some(true),
            utc_offset_min: Some(60),
            ..ChartRequest::default()
        };
        let chart = tenant_chart(&cache, &catalog, &req, NOW).await.unwrap();
        assert_eq!((chart.from, chart.to), (clock::ms(NOW - 6 * HOUR), clock::ms(NOW)));
        assert_eq!((chart.resolution, chart.points), (0, 360), "six hours are raw minutes");
        assert_eq!(chart.anomalies, 1);
        assert!(chart.svg.contains("alarm acme-5xx &lt;b&gt; &gt; 60 (alarm)"), "the alarm's rule is named, escaped");
        assert!(chart.svg.contains("premium median"), "the tier's median is in the legend");
        assert!(
            chart.notes.iter().any(|n| n.contains("middle of 2 premium tenants in us-east-1, hourly")),
            "{:?}",
            chart.notes
        );
        assert!(chart.svg.contains("UTC+01:00"));
        assert!(chart.plot_left > 0 && chart.plot_right > chart.plot_left);

        // A range the chart cannot draw is refused, not clamped.
        for (from, to) in [(NOW, NOW), (NOW - 500 * DAY, NOW), (NOW, NOW + DAY)] {
            let bad = ChartRequest { from: Some(clock::ms(from)), to: Some(clock::ms(to)), ..req.clone() };
            assert!(matches!(tenant_chart(&cache, &catalog, &bad, NOW).await, Err(ViewError::BadRequest(_))));
        }
    }
}
