//! The report's own small charts, as complete SVG documents in the bundled
//! font: health per tier or region as stacked bars, and cost per day. Every
//! piece of text is escaped. (Metric charts are the console's, from
//! [`crate::view::tenant_chart`].)

use std::fmt::Write;

use chrono::{Duration, NaiveDate};

use super::text::{esc, FAMILY};
use crate::model::HealthCounts;

const WIDTH: f32 = 520.0;
const INK: &str = "#1f2328";
const MUTED: &str = "#59636e";
const GRID: &str = "#d8dee4";

/// Fill colours of the health states, worst first, as the legend lists them.
const STATES: [(&str, &str); 4] =
    [("critical", "#cf222e"), ("degraded", "#d4a72c"), ("unknown", "#8c959f"), ("ok", "#2da44e")];

fn open(width: f32, height: f32) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"{FAMILY}, sans-serif\">\n"
    )
}

fn text(out: &mut String, x: f32, y: f32, size: f32, fill: &str, anchor: &str, s: &str) {
    let _ = writeln!(
        out,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size}\" fill=\"{fill}\" text-anchor=\"{anchor}\">{}</text>",
        esc(s)
    );
}

/// Stacked bars, one per row (a tier or a region), as long as its count
/// against the largest row; each state's count written on its segment.
pub fn health_bars(rows: &[(String, HealthCounts)]) -> (String, f32, f32) {
    let (label_w, count_w, row_h, top) = (110.0, 40.0, 20.0, 22.0);
    let height = top + row_h * rows.len().max(1) as f32 + 4.0;
    let mut out = open(WIDTH, height);
    let mut x = label_w;
    for (state, fill) in STATES {
        let _ = writeln!(out, "<rect x=\"{x}\" y=\"4\" width=\"9\" height=\"9\" rx=\"2\" fill=\"{fill}\"/>");
        text(&mut out, x + 13.0, 12.0, 9.0, MUTED, "start", state);
        x += 78.0;
    }
    if rows.is_empty() {
        text(&mut out, label_w, top + 13.0, 9.0, MUTED, "start", "No health assessed yet.");
    }
    let values = |c: &HealthCounts| [c.critical, c.degraded, c.unknown, c.ok];
    let max = rows.iter().map(|(_, c)| values(c).iter().sum::<u32>()).max().unwrap_or(0).max(1);
    let scale = (WIDTH - label_w - count_w) / max as f32;
    for (i, (label, counts)) in rows.iter().enumerate() {
        let y = top + row_h * i as f32;
        let shown = if label.is_empty() { "(none)" } else { label.as_str() };
        text(&mut out, label_w - 8.0, y + 12.5, 9.5, INK, "end", &super::text::fit(shown, 9.5, label_w - 10.0));
        let mut x = label_w;
        for ((_, fill), n) in STATES.iter().zip(values(counts)) {
            if n == 0 {
                continue;
            }
            let w = n as f32 * scale;
            let _ = writeln!(
                out,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\" fill=\"{fill}\"/>",
                y + 2.0,
                (w - 1.0).max(1.0)
            );
            if w >= 16.0 {
                text(&mut out, x + w / 2.0, y + 12.5, 8.5, "#ffffff", "middle", &n.to_string());
            }
            x += w;
        }
        text(&mut out, x + 6.0, y + 12.5, 9.0, MUTED, "start", &values(counts).iter().sum::<u32>().to_string());
    }
    out.push_str("</svg>\n");
    (out, WIDTH, height)
}

/// Cost per day from `from` to `to` (at least two weeks), bars from
/// `this_from` on in blue, those before in grey; a day without cost in the
/// cache has no bar.
pub fn daily_cost(
    days: &[(NaiveDate, f64)],
    from: NaiveDate,
    this_from: NaiveDate,
    to: NaiveDate,
) -> (String, f32, f32) {
    let from = from.min(to - Duration::days(13));
    let n = ((to - from).num_days() + 1).max(1) as usize;
    let (height, left, right, top, bottom) = (170.0, 54.0, 8.0, 10.0, 22.0);
    let plot_w = WIDTH - left - right;
    let plot_h = height - top - bottom;
    let max = days.iter().filter(|(d, _)| *d >= from && *d <= to).map(|(_, v)| *v).fold(0.0f64, f64::max);
    let step = nice_step(max / 4.0);
    let y_max = (step * 4.0).max(step);
    let mut out = open(WIDTH, height);
    for k in 0..=4 {
        let v = step * k as f64;
        let y = top + plot_h - (v / y_max) as f32 * plot_h;
        let _ = writeln!(
            out,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{GRID}\" stroke-width=\"0.7\"/>",
            WIDTH - right
        );
        text(&mut out, left - 6.0, y + 3.0, 8.5, MUTED, "end", &short_money(v));
    }
    let slot = plot_w / n as f32;
    let label_every = n.div_ceil(10).max(1);
    for i in 0..n {
        let day = from + Duration::days(i as i64);
        let x = left + slot * i as f32;
        if let Some((_, v)) = days.iter().find(|(d, _)| *d == day) {
            let h = ((*v / y_max) as f32 * plot_h).max(0.0);
            let fill = if day >= this_from { "#0969da" } else { "#afb8c1" };
            let _ = writeln!(
                out,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{fill}\"/>",
                x + slot * 0.15,
                top + plot_h - h,
                slot * 0.7
            );
        }
        if (n - 1 - i) % label_every == 0 {
            text(&mut out, x + slot / 2.0, height - 7.0, 8.5, MUTED, "middle", &day.format("%m-%d").to_string());
        }
    }
    if max <= 0.0 {
        text(
            &mut out,
            left + plot_w / 2.0,
            top + plot_h / 2.0,
            9.0,
            MUTED,
            "middle",
            "No cost in the cache for these days.",
        );
    }
    out.push_str("</svg>\n");
    (out, WIDTH, height)
}

/// A round axis step at or above `raw` (1, 2 or 5 times a power of ten).
fn nice_step(raw: f64) -> f64 {
    if raw.is_nan() || raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * p).find(|s| *s >= raw).unwrap_or(10.0 * p)
}

/// `$0`, `$250`, `$1.5k`, `$12k`, `$1.2M`: axis labels.
fn short_money(v: f64) -> String {
    match v.abs() {
        a if a >= 1e6 => format!("${:.1}M", v / 1e6),
        a if a >= 1e4 => format!("${:.0}k", v / 1e3),
        a if a >= 1e3 => format!("${:.1}k", v / 1e3),
        a if a >= 10.0 || a == 0.0 => format!("${v:.0}"),
        _ => format!("${v:.2}"),
    }
}

/// The width and height an SVG document declares on its root element.
pub fn svg_size(svg: &str) -> Option<(f32, f32)> {
    let tag = &svg[svg.find("<svg")?..];
    let tag = &tag[..tag.find('>')?];
    let attr = |name: &str| -> Option<f32> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        tag[at..].split('"').next()?.trim_end_matches("px").parse().ok()
    };
    Some((attr("width")?, attr("height")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_labels_are_escaped_and_sizes_declared() {
        let rows = vec![("<b>tier</b>".to_string(), HealthCounts { ok: 3, degraded: 1, critical: 1, unknown: 0 })];
        let (svg, w, h) = health_bars(&rows);
        assert!(!svg.contains("<b>"), "{svg}");
        assert!(svg.contains("&lt;b&gt;tier"));
        assert_eq!(svg_size(&svg), Some((w, h)));
    }

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(nice_step(3.2), 5.0);
        assert_eq!(nice_step(120.0), 200.0);
        assert_eq!(short_money(1500.0), "$1.5k");
        assert_eq!(short_money(25_000.0), "$25k");
    }

    #[test]
    fn days_without_cost_have_no_bar() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let (svg, _, _) = daily_cost(&[(d("2026-11-20"), 10.0)], d("2026-11-08"), d("2026-11-15"), d("2026-11-21"));
        assert_eq!(svg.matches("<rect").count(), 1, "{svg}");
        assert!(svg.contains("#0969da"));
    }
}
