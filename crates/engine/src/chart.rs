//! Charts drawn by plotters as SVG. Text in them (titles, units) may come
//! from tenants and the catalog: plotters' SVG backend escapes it, and a test
//! pins that. Fonts are a bundled TTF via ab_glyph, so rendering is the same
//! on every machine and needs no system fonts.

use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::clock::{DAY, HOUR, MINUTE};

static FONT: &[u8] = include_bytes!("assets/DejaVuSans.ttf");

fn ensure_font() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        // The bundled font is valid; a failure would only lose text.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// One line to draw, and optionally the band of each bucket's lowest and
/// highest value around it (time, lo, hi), for summarised data.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    pub label: &'a str,
    pub points: &'a [(i64, f64)],
    pub band: &'a [(i64, f64, f64)],
}

/// A horizontal rule at `value` with its own legend entry: an alarm's
/// threshold (dashed, so it is not mistaken for the catalog's).
#[derive(Debug, Clone)]
pub struct Rule<'a> {
    pub value: f64,
    pub label: &'a str,
}

/// What to draw; thresholds become horizontal rules.
#[derive(Debug, Clone, Default)]
pub struct ChartSpec<'a> {
    pub title: &'a str,
    pub unit: &'a str,
    pub lines: Vec<Line<'a>>,
    pub warn: Option<f64>,
    pub critical: Option<f64>,
    /// Alarm thresholds, dashed.
    pub rules: Vec<Rule<'a>>,
    /// Time spans shaded behind the lines (anomaly episodes), epoch s.
    pub spans: &'a [(i64, i64)],
    pub from: i64,
    pub to: i64,
    pub width: u32,
    pub height: u32,
    pub dark: bool,
    /// The time axis' offset from UTC, seconds (0: UTC).
    pub utc_offset_secs: i32,
}

/// A drawn chart: the SVG document, and where its plot area lies in it
/// (pixels from the left), so a brushed span maps back to times.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    pub svg: String,
    pub plot_left: u32,
    pub plot_right: u32,
    /// Per [`ChartSpec::rules`]: drawn, or left out as far above the data.
    pub rules_drawn: Vec<bool>,
}

#[derive(Debug, thiserror::Error)]
#[error("chart rendering failed: {0}")]
pub struct ChartError(String);

/// Render to a complete SVG document.
pub fn svg(spec: &ChartSpec) -> Result<String, ChartError> {
    draw(spec).map(|d| d.svg)
}

/// Render to a complete SVG document, with the plot area's position.
pub fn draw(spec: &ChartSpec) -> Result<Drawn, ChartError> {
    ensure_font();
    let (bg, fg, grid) = if spec.dark {
        (RGBColor(22, 27, 34), RGBColor(201, 209, 217), RGBColor(48, 54, 61))
    } else {
        (RGBColor(255, 255, 255), RGBColor(36, 41, 47), RGBColor(216, 222, 228))
    };
    let palette = [RGBColor(88, 166, 255), RGBColor(163, 113, 247), RGBColor(63, 185, 80), RGBColor(219, 109, 40)];
    let width = spec.width.clamp(200, 4000);
    let height = spec.height.clamp(120, 2000);
    let mut out = String::new();
    let plot_x;
    let drawn_rules;
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        root.fill(&bg).map_err(|e| ChartError(e.to_string()))?;
        let alarm_color = RGBColor(219, 109, 40);
        let (warn_color, critical_color) = (RGBColor(210, 153, 34), RGBColor(248, 81, 73));
        let mut y_max = spec
            .lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1).chain(l.band.iter().map(|b| b.2)))
            .fold(0.0f64, f64::max);
        if let Some(c) = spec.critical {
            y_max = y_max.max(c * 1.1);
        }
        // An alarm threshold near the data is drawn; one far above it
        // would flatten the lines into the floor, so it is left out (and
        // the caller says so in words).
        let data_max = y_max.max(1e-9);
        let rules_drawn: Vec<bool> =
            spec.rules.iter().map(|r| r.value.is_finite() && r.value <= data_max * 3.0).collect();
        for (r, _) in spec.rules.iter().zip(&rules_drawn).filter(|(_, shown)| **shown) {
            y_max = y_max.max(r.value * 1.1);
        }
        if y_max <= 0.0 {
            y_max = 1.0;
        }
        let mut entries: Vec<(String, RGBColor, Swatch)> = spec
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| (l.label.to_string(), palette[i % palette.len()], Swatch::Line))
            .collect();
        for (limit, word, color) in [(spec.warn, "warning", warn_color), (spec.critical, "critical", critical_color)] {
            if let Some(l) = limit {
                entries.push((format!("{word} above {}", short(l)), color, Swatch::Line));
            }
        }
        for (r, _) in spec.rules.iter().zip(&rules_drawn).filter(|(_, shown)| **shown) {
            entries.push((r.label.to_string(), alarm_color, Swatch::Dashed));
        }
        let legend = Legend::new(entries, width);
        let (root, legend_area) = root.split_vertically(height.saturating_sub(legend.height()));
        // Most metrics are counts and rates (the axis starts at 0); a
        // negative value widens it downwards rather than being cut off.
        let y_min = spec
            .lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1).chain(l.band.iter().map(|b| b.1)))
            .fold(0.0f64, f64::min);
        let (from, to) = if spec.to > spec.from { (spec.from, spec.to) } else { (spec.from, spec.from + MINUTE) };
        let span = to - from;
        // Ticks on round wall-clock times (every 15 min, hour, 6 h, day...),
        // not wherever a decimal step happens to land.
        let step = [
            MINUTE,
            5 * MINUTE,
            15 * MINUTE,
            30 * MINUTE,
            HOUR,
            2 * HOUR,
            3 * HOUR,
            6 * HOUR,
            12 * HOUR,
            DAY,
            2 * DAY,
            7 * DAY,
        ]
        .into_iter()
        .find(|s| span / s <= 7)
        .unwrap_or(30 * DAY);
        let ticks: Vec<i64> = (from.div_euclid(step) + 1..=to.div_euclid(step)).map(|k| k * step).collect();
        // Never more points than pixels, keeping each pixel's extremes.
        let plot_width = width.saturating_sub(80).max(50) as usize;
        let lines: Vec<Vec<(i64, f64)>> =
            spec.lines.iter().map(|l| downsample(l.points, from, to, plot_width)).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{} ({})", spec.title, spec.unit), ("sans-serif", 15).into_font().color(&fg))
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d((from..to).with_key_points(ticks), y_min * 1.05..y_max * 1.05)
            .map_err(|e| ChartError(e.to_string()))?;
        let label_style = ("sans-serif", 11).into_font().color(&fg);
        chart
            .configure_mesh()
            .light_line_style(grid.mix(0.4))
            .bold_line_style(grid)
            .axis_style(grid)
            .label_style(label_style)
            .y_labels(5)
            .x_label_formatter(&|t| {
                let fmt = if span > 2 * DAY { "%m-%d %H:%M" } else { "%H:%M" };
                let local = *t + i64::from(spec.utc_offset_secs);
                Utc.timestamp_opt(local, 0).single().map(|d| d.format(fmt).to_string()).unwrap_or_default()
            })
            .x_desc(zone_label(spec.utc_offset_secs))
            .y_label_formatter(&|v| short(*v))
            .draw()
            .map_err(|e| ChartError(e.to_string()))?;
        plot_x = chart.plotting_area().get_pixel_range().0;
        // Anomaly episodes: a translucent band over their time, behind all.
        let (y_lo, y_hi) = (y_min * 1.05, y_max * 1.05);
        let shade = RGBColor(248, 81, 73).mix(if spec.dark { 0.22 } else { 0.14 });
        for &(a, b) in spec.spans {
            let (a, b) = (a.clamp(from, to), b.clamp(from, to).max(a.clamp(from, to) + span / 400 + 1));
            chart
                .draw_series(std::iter::once(Rectangle::new([(a, y_lo), (b.min(to), y_hi)], shade.filled())))
                .map_err(|e| ChartError(e.to_string()))?;
        }
        for (r, _) in spec.rules.iter().zip(&rules_drawn).filter(|(_, shown)| **shown) {
            chart
                .draw_series(DashedLineSeries::new([(from, r.value), (to, r.value)], 6, 4, alarm_color.stroke_width(1)))
                .map_err(|e| ChartError(e.to_string()))?;
        }
        for (limit, color) in [(spec.warn, warn_color), (spec.critical, critical_color)] {
            if let Some(l) = limit {
                chart
                    .draw_series(LineSeries::new([(from, l), (to, l)], color.stroke_width(1)))
                    .map_err(|e| ChartError(e.to_string()))?;
            }
        }
        for (i, (line, points)) in spec.lines.iter().zip(&lines).enumerate() {
            let color = palette[i % palette.len()];
            if !line.band.is_empty() {
                let outline: Vec<(i64, f64)> =
                    line.band.iter().map(|b| (b.0, b.2)).chain(line.band.iter().rev().map(|b| (b.0, b.1))).collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(outline, color.mix(0.25).filled())))
                    .map_err(|e| ChartError(e.to_string()))?;
            }
            chart
                .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
                .map_err(|e| ChartError(e.to_string()))?;
        }
        legend.draw(&legend_area, fg)?;
        root.present().map_err(|e| ChartError(e.to_string()))?;
        drawn_rules = rules_drawn;
    }
    Ok(Drawn {
        svg: out,
        plot_left: plot_x.start.max(0) as u32,
        plot_right: plot_x.end.max(0) as u32,
        rules_drawn: drawn_rules,
    })
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy)]
enum Swatch {
    Line,
    Dashed,
    Box,
}

/// A legend under the plot, not over it: entries left to right, wrapped
/// into as many rows as the width needs. Returns the strip's height for a
/// width, and draws it.
struct Legend {
    entries: Vec<(String, RGBColor, Swatch)>,
    rows: Vec<Vec<usize>>,
}

impl Legend {
    const ROW: u32 = 15;

    fn new(entries: Vec<(String, RGBColor, Swatch)>, width: u32) -> Legend {
        // The bundled font at 11 px: about 6.3 px a character.
        let wide = |label: &str| 18 + (label.chars().count() as f64 * 6.3) as u32 + 14;
        let mut rows: Vec<Vec<usize>> = Vec::new();
        let mut used = u32::MAX;
        for (i, (label, _, _)) in entries.iter().enumerate() {
            let w = wide(label);
            if used.saturating_add(w) > width.saturating_sub(20) {
                rows.push(Vec::new());
                used = 0;
            }
            if let Some(row) = rows.last_mut() {
                row.push(i);
            }
            used += w;
        }
        Legend { entries, rows }
    }

    fn height(&self) -> u32 {
        if self.rows.is_empty() {
            0
        } else {
            self.rows.len() as u32 * Self::ROW + 6
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, plotters::coord::Shift>,
        fg: RGBColor,
    ) -> Result<(), ChartError> {
        let font = ("sans-serif", 11).into_font().color(&fg);
        for (r, row) in self.rows.iter().enumerate() {
            let y = 2 + r as i32 * Self::ROW as i32;
            let mut x = 12i32;
            for &i in row {
                let (label, color, swatch) = &self.entries[i];
                let mid = y + 6;
                let drawn = match swatch {
                    Swatch::Line => area.draw(&PathElement::new([(x, mid), (x + 14, mid)], color.stroke_width(2))),
                    Swatch::Dashed => {
                        area.draw(&PathElement::new([(x, mid), (x + 5, mid)], color.stroke_width(1))).and_then(|_| {
                            area.draw(&PathElement::new([(x + 9, mid), (x + 14, mid)], color.stroke_width(1)))
                        })
                    }
                    Swatch::Box => area.draw(&Rectangle::new([(x + 1, y + 1), (x + 12, y + 11)], color.filled())),
                };
                drawn.map_err(|e| ChartError(e.to_string()))?;
                area.draw(&Text::new(label.clone(), (x + 18, y), font.clone()))
                    .map_err(|e| ChartError(e.to_string()))?;
                x += 18 + (label.chars().count() as f64 * 6.3) as i32 + 14;
            }
        }
        Ok(())
    }
}

/// "UTC", or "UTC+02:00" for a local time axis.
pub fn zone_label(offset_secs: i32) -> String {
    if offset_secs == 0 {
        return "UTC".into();
    }
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let m = offset_secs.unsigned_abs() / 60;
    format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
}

/// A chart's SVG as PNG at `scale` (2 for a sharp image on a HiDPI screen
/// or in a slide), drawn by resvg with the bundled font: the same pixels
/// on every machine, no system fonts.
pub fn png(svg: &str, scale: f32) -> Result<Vec<u8>, ChartError> {
    use resvg::tiny_skia::{Pixmap, Transform};
    let mut opt = resvg::usvg::Options { font_family: "DejaVu Sans".into(), ..Default::default() };
    opt.fontdb_mut().load_font_data(FONT.to_vec());
    // plotters names the family it was given ("sans-serif"): map it to the
    // bundled face so text is drawn, not dropped.
    opt.fontdb_mut().set_sans_serif_family("DejaVu Sans");
    let tree = resvg::usvg::Tree::from_str(svg, &opt).map_err(|e| ChartError(format!("chart SVG: {e}")))?;
    let size = tree.size().to_int_size().scale_by(scale).ok_or_else(|| ChartError("empty chart".into()))?;
    let mut pixmap =
        Pixmap::new(size.width(), size.height()).ok_or_else(|| ChartError("chart too large for a PNG".into()))?;
    resvg::render(&tree, Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| ChartError(format!("PNG encoding: {e}")))
}

/// Daily values stacked by series (cost per day by service): one bar a
/// day, each series a colour, a legend naming them.
#[derive(Debug, Clone, Default)]
pub struct StackedSpec<'a> {
    pub title: &'a str,
    pub unit: &'a str,
    /// The series' names, bottom of the stack first.
    pub series: Vec<&'a str>,
    /// Per day (its midnight, epoch s): one value per series.
    pub days: Vec<(i64, Vec<f64>)>,
    pub width: u32,
    pub height: u32,
    pub dark: bool,
}

/// Render stacked daily bars to an SVG document.
pub fn stacked(spec: &StackedSpec) -> Result<Drawn, ChartError> {
    ensure_font();
    let (bg, fg, grid) = if spec.dark {
        (RGBColor(22, 27, 34), RGBColor(201, 209, 217), RGBColor(48, 54, 61))
    } else {
        (RGBColor(255, 255, 255), RGBColor(36, 41, 47), RGBColor(216, 222, 228))
    };
    let palette = [
        RGBColor(88, 166, 255),
        RGBColor(163, 113, 247),
        RGBColor(63, 185, 80),
        RGBColor(219, 109, 40),
        RGBColor(210, 153, 34),
        RGBColor(139, 148, 158),
    ];
    let width = spec.width.clamp(200, 4000);
    let height = spec.height.clamp(120, 2000);
    let from = spec.days.first().map_or(0, |d| d.0);
    let to = spec.days.last().map_or(DAY, |d| d.0 + DAY);
    let top = spec.days.iter().map(|(_, v)| v.iter().sum::<f64>()).fold(0.0f64, f64::max).max(1.0);
    let mut out = String::new();
    let plot_x;
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        root.fill(&bg).map_err(|e| ChartError(e.to_string()))?;
        let legend = Legend::new(
            spec.series
                .iter()
                .enumerate()
                .map(|(i, n)| (n.to_string(), palette[i % palette.len()], Swatch::Box))
                .collect(),
            width,
        );
        let (root, legend_area) = root.split_vertically(height.saturating_sub(legend.height()));
        let span = to - from;
        let step =
            [DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY].into_iter().find(|s| span / s <= 8).unwrap_or(182 * DAY);
        let ticks: Vec<i64> = (from.div_euclid(step) + 1..=to.div_euclid(step)).map(|k| k * step).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{} ({})", spec.title, spec.unit), ("sans-serif", 15).into_font().color(&fg))
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d((from..to).with_key_points(ticks), 0.0..top * 1.08)
            .map_err(|e| ChartError(e.to_string()))?;
        chart
            .configure_mesh()
            .light_line_style(grid.mix(0.4))
            .bold_line_style(grid)
            .axis_style(grid)
            .label_style(("sans-serif", 11).into_font().color(&fg))
            .y_labels(5)
            .x_label_formatter(&|t| {
                Utc.timestamp_opt(*t, 0).single().map(|d| d.format("%m-%d").to_string()).unwrap_or_default()
            })
            .y_label_formatter(&|v| short(*v))
            .draw()
            .map_err(|e| ChartError(e.to_string()))?;
        plot_x = chart.plotting_area().get_pixel_range().0;
        let gap = (DAY / 10).max(1);
        for i in 0..spec.series.len() {
            let color = palette[i % palette.len()];
            let bars = spec.days.iter().map(|(d, values)| {
                let below: f64 = values.iter().take(i).sum();
                let v = values.get(i).copied().unwrap_or(0.0);
                Rectangle::new([(d + gap, below), (d + DAY - gap, below + v)], color.filled())
            });
            chart.draw_series(bars).map_err(|e| ChartError(e.to_string()))?;
        }
        legend.draw(&legend_area, fg)?;
        root.present().map_err(|e| ChartError(e.to_string()))?;
    }
    Ok(Drawn {
        svg: out,
        plot_left: plot_x.start.max(0) as u32,
        plot_right: plot_x.end.max(0) as u32,
        rules_drawn: vec![],
    })
}

/// Reduce a sorted series to at most ~4 points per pixel column (first, min,
/// max, last: M4), so a one-minute spike stays visible in a month-long chart
/// and the SVG stays small.
pub fn downsample(points: &[(i64, f64)], from: i64, to: i64, columns: usize) -> Vec<(i64, f64)> {
    if points.len() <= columns * 4 || to <= from || columns == 0 {
        return points.to_vec();
    }
    let width = (to - from) as f64 / columns as f64;
    let mut out = Vec::with_capacity(columns * 4);
    let mut i = 0;
    while i < points.len() {
        let col = ((points[i].0 - from) as f64 / width).floor() as i64;
        let mut j = i;
        let (mut lo, mut hi) = (i, i);
        while j < points.len() && ((points[j].0 - from) as f64 / width).floor() as i64 == col {
            if points[j].1 < points[lo].1 {
                lo = j;
            }
            if points[j].1 > points[hi].1 {
                hi = j;
            }
            j += 1;
        }
        let mut keep = [i, lo, hi, j - 1];
        keep.sort_unstable();
        let mut last = usize::MAX;
        for k in keep {
            if k != last {
                out.push(points[k]);
                last = k;
            }
        }
        i = j;
    }
    out
}

/// 1234 -> "1.2k": axis labels stay narrow.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_is_escaped_inside_the_svg() {
        let points = [(0, 1.0), (60, 2.0)];
        let doc = svg(&ChartSpec {
            title: "Tyrell <script>alert(1)</script> & \"Sons\"",
            unit: "count",
            lines: vec![
                Line { label: "<b>x</b>", points: &points, band: &[] },
                Line { label: "fleet median", points: &points, band: &[(0, 0.5, 3.0)] },
            ],
            warn: Some(1.5),
            rules: vec![Rule { value: 2.5, label: "alarm <img src=x onerror=alert(1)>" }],
            from: 0,
            to: 60,
            width: 600,
            height: 240,
            dark: true,
            ..ChartSpec::default()
        })
        .unwrap();
        assert!(doc.starts_with("<svg"), "{}", &doc[..40]);
        assert!(!doc.contains("<script"), "raw markup leaked into the SVG");
        assert!(!doc.contains("<b>"));
        assert!(!doc.contains("<img"));
        assert!(doc.contains("Tyrell &lt;script&gt;"));
        assert!(doc.contains("alarm &lt;img"), "the alarm's rule is in the legend");
    }

    /// An anomaly is a shaded band over its minutes; the plot area's edges
    /// are reported so the window can map a dragged span back to times; the
    /// PNG export draws the same chart with the bundled font.
    #[test]
    fn anomalies_are_shaded_and_the_plot_area_is_known() {
        let points: Vec<(i64, f64)> = (0..60).map(|m| (m * MINUTE, (m % 7) as f64)).collect();
        let spec = ChartSpec {
            title: "errors",
            unit: "count",
            lines: vec![Line { label: "errors", points: &points, band: &[] }],
            spans: &[(1200, 1800)],
            from: 0,
            to: HOUR,
            width: 600,
            height: 240,
            utc_offset_secs: 3600,
            ..ChartSpec::default()
        };
        let plain = draw(&ChartSpec { spans: &[], ..spec.clone() }).unwrap();
        let shaded = draw(&spec).unwrap();
        assert_eq!(shaded.svg.matches("<rect").count(), plain.svg.matches("<rect").count() + 1);
        assert!(shaded.plot_left > 40 && shaded.plot_right > shaded.plot_left && shaded.plot_right < 600, "{shaded:?}");
        assert!(shaded.svg.contains("UTC+01:00"), "the axis says which time it is in");
        assert!(shaded.svg.contains("\n01:15\n"), "ticks in local time: {}", shaded.svg);
        let png = png(&shaded.svg, 2.0).unwrap();
        let img = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap();
        assert_eq!((img.width(), img.height()), (1200, 480));
    }

    #[test]
    fn zones_are_named_by_their_offset() {
        assert_eq!(zone_label(0), "UTC");
        assert_eq!(zone_label(19_800), "UTC+05:30");
        assert_eq!(zone_label(-18_000), "UTC-05:00");
    }

    #[test]
    fn downsampling_keeps_a_one_minute_spike_in_a_month() {
        let month: Vec<(i64, f64)> = (0..43_200).map(|m| (m * MINUTE, if m == 31_337 { 500.0 } else { 1.0 })).collect();
        let d = downsample(&month, 0, 43_200 * MINUTE, 600);
        assert!(d.len() <= 2400, "{}", d.len());
        assert!(d.contains(&(31_337 * MINUTE, 500.0)), "the spike was lost");
        assert_eq!(d.first(), month.first());
        assert_eq!(d.last(), month.last());
    }

    #[test]
    fn axis_labels_are_short() {
        assert_eq!(short(1234.0), "1.2k");
        assert_eq!(short(0.25), "0.25");
        assert_eq!(short(2_500_000.0), "2.5M");
    }
}
