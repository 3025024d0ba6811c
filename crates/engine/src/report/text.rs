//! Text for reports: escaping for HTML and SVG, the way figures are written,
//! and text measured in the bundled font so PDF and PNG pages can wrap and
//! cut it.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef};
use chrono::{TimeZone, Utc};

use crate::clock::{self, MINUTE};

/// The chart module's font (DejaVu Sans): every page is drawn in it.
pub(super) static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
/// Its family name, for SVG `font-family`.
pub(super) const FAMILY: &str = "DejaVu Sans";

/// Text for HTML or SVG (XML) content and attribute values. Control
/// characters, which XML forbids and a terminal would run, become U+FFFD.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(' '),
            c if c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `$12,345.67`; `-$3.10`.
pub fn money(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let cents = (v.abs() * 100.0).round() as u128;
    let (whole, frac) = (cents / 100, cents % 100);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 && cents > 0 { "-" } else { "" };
    format!("{sign}${grouped}.{frac:02}")
}

/// `+$12.50` / `-$3.00`: a change in dollars.
pub fn money_change(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", money(v))
    } else {
        money(v)
    }
}

/// `+12.3 %` for 0.123; `–` without a value.
pub fn change(fraction: Option<f64>) -> String {
    match fraction {
        Some(f) if f.is_finite() => format!("{:+.1} %", f * 100.0),
        _ => "–".into(),
    }
}

/// `99.95 %`: availability with as many decimals as tell it from 100 %.
pub fn percent(share: Option<f64>) -> String {
    match share {
        None => "no data".into(),
        Some(s) if s >= 1.0 => "100 %".into(),
        Some(s) if s >= 0.999 => format!("{:.3} %", (s * 100_000.0).floor() / 1000.0),
        Some(s) => format!("{:.2} %", (s * 10_000.0).floor() / 100.0),
    }
}

/// `45 min`, `3 h 20 min`, `36 h`, `2 d 4 h`.
pub fn duration(ms: i64) -> String {
    let min = ms.max(0) / clock::ms(MINUTE);
    match min {
        0 => "under 1 min".into(),
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => match m % 60 {
            0 => format!("{} h", m / 60),
            r => format!("{} h {r} min", m / 60),
        },
        m => match (m / 60) % 24 {
            0 => format!("{} d", m / 1440),
            h => format!("{} d {h} h", m / 1440),
        },
    }
}

/// `2026-11-22 13:45 UTC`.
pub fn when(epoch_s: i64) -> String {
    fmt_utc(epoch_s, "%Y-%m-%d %H:%M UTC")
}

/// `11-22 13:45` (the column says UTC).
pub fn short_when(epoch_ms: i64) -> String {
    fmt_utc(clock::secs(epoch_ms), "%m-%d %H:%M")
}

fn fmt_utc(epoch_s: i64, fmt: &str) -> String {
    Utc.timestamp_opt(epoch_s, 0).single().map(|t| t.format(fmt).to_string()).unwrap_or_default()
}

/// Large numbers with thousands separators: `1,234,567`.
pub fn count(v: f64) -> String {
    let grouped = money(v.round().abs());
    let digits = grouped.trim_start_matches('$').trim_end_matches(".00");
    if v.round() < 0.0 {
        format!("-{digits}")
    } else {
        digits.to_string()
    }
}

fn font() -> &'static FontRef<'static> {
    static F: OnceLock<FontRef<'static>> = OnceLock::new();
    F.get_or_init(|| FontRef::try_from_slice(FONT).expect("the bundled font parses"))
}

/// Width of `s` set in the bundled font at `size` (user units = points).
pub fn width(s: &str, size: f32) -> f32 {
    let f = font();
    let per_unit = size / f.units_per_em().unwrap_or(2048.0);
    s.chars().map(|c| f.h_advance_unscaled(f.glyph_id(c))).sum::<f32>() * per_unit
}

/// `s` cut to `max` wide, with an ellipsis when cut.
pub fn fit(s: &str, size: f32, max: f32) -> String {
    let s: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if width(&s, size) <= max {
        return s;
    }
    let ellipsis = width("…", size);
    let mut out = String::new();
    let mut w = 0.0;
    for c in s.chars() {
        let cw = width(c.encode_utf8(&mut [0; 4]), size);
        if w + cw + ellipsis > max {
            break;
        }
        w += cw;
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// `s` broken into lines at most `max` wide, at spaces where it can (a word
/// too long for a line is cut); past `max_lines` the last line is ellipsised.
pub fn wrap(s: &str, size: f32, max: f32, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
        if width(&candidate, size) <= max {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // A word wider than a line: cut it into pieces that fit.
        let mut piece = String::new();
        for c in word.chars() {
            piece.push(c);
            if width(&piece, size) > max && piece.chars().count() > 1 {
                piece.pop();
                lines.push(std::mem::take(&mut piece));
                piece.push(c);
            }
        }
        line = piece;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    if lines.len() > max_lines.max(1) {
        let rest = lines.split_off(max_lines.max(1) - 1).join(" ");
        lines.push(fit(&format!("{rest} …"), size, max));
        if let Some(last) = lines.last_mut() {
            if !last.ends_with('…') {
                last.push('…');
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(esc("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
        assert_eq!(esc("a\"b'c&d"), "a&quot;b&#39;c&amp;d");
        assert_eq!(esc("bell\u{7}nul\u{0}"), "bell\u{FFFD}nul\u{FFFD}");
    }

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(money(1_234_567.891), "$1,234,567.89");
        assert_eq!(money(0.004), "$0.00");
        assert_eq!(money(-3.1), "-$3.10");
        assert_eq!(money(999.999), "$1,000.00");
        assert_eq!(money_change(12.5), "+$12.50");
        assert_eq!(change(Some(0.1234)), "+12.3 %");
        assert_eq!(change(None), "–");
        assert_eq!(percent(Some(1.0)), "100 %");
        assert_eq!(percent(Some(0.99991)), "99.991 %");
        assert_eq!(percent(Some(0.98765)), "98.76 %");
        assert_eq!(duration(clock::ms(45 * MINUTE)), "45 min");
        assert_eq!(duration(clock::ms(200 * MINUTE)), "3 h 20 min");
        assert_eq!(duration(clock::ms(36 * clock::HOUR)), "36 h");
        assert_eq!(duration(clock::ms(2 * clock::DAY + 4 * clock::HOUR)), "2 d 4 h");
        assert_eq!(count(1_234_567.4), "1,234,567");
        assert_eq!(count(-12.0), "-12");
    }

    #[test]
    fn text_is_cut_and_wrapped_to_its_width() {
        let w = width("Hello", 10.0);
        assert!(w > 20.0 && w < 40.0, "{w}");
        let cut = fit("Tyrell Corporation of Greater Los Angeles", 10.0, 80.0);
        assert!(cut.ends_with('…') && width(&cut, 10.0) <= 80.0, "{cut}");
        let lines = wrap("one two three four five six seven eight nine ten", 10.0, 60.0, 2);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines.iter().all(|l| width(l, 10.0) <= 60.5), "{lines:?}");
        assert!(lines[1].ends_with('…'));
        let long = wrap("Supercalifragilisticexpialidocious", 10.0, 50.0, 9);
        assert!(long.len() > 1 && long.iter().all(|l| width(l, 10.0) <= 50.5), "{long:?}");
    }
}
