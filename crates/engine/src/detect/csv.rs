//! `timestamp,value` files in, `timestamp,value,anomaly_score` files out:
//! the format of NAB's corpus, and of `fleetdeck detect`.
//!
//! Timestamps are read as UTC: `2014-04-01 00:00:00`, the same with `T`
//! and optional fractional seconds and `Z` or `+hh:mm` offset, or unix
//! seconds. The output echoes each row's timestamp and value exactly as the
//! input spelled them, so it lines up with the input row for row.

use std::fmt::Write as _;
use std::io::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::clock::{self, HOUR, MINUTE};
use crate::input::{InputError, Problems};

use super::{Config, Detector};

/// A series as read: one timestamp (unix seconds) and one value per row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
}

/// Reporting stops here: a file with a wrong column has one on every line.
const MAX_PROBLEMS: usize = 20;

/// One data row's fields as they appear in the text.
struct Record<'t> {
    line: Range<usize>,
    timestamp: (&'t str, Range<usize>),
    value: Option<(&'t str, Range<usize>)>,
    extra: Option<Range<usize>>,
}

/// The data rows of a file: blank lines skipped, and the first line too when
/// it is a header (its first field is not a timestamp).
fn records(text: &str) -> impl Iterator<Item = Record<'_>> {
    let mut start = 0;
    let mut first = true;
    std::iter::from_fn(move || loop {
        if start >= text.len() {
            return None;
        }
        let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line_start = start;
        start = end + 1;
        let line = text[line_start..end].trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let field = |from: usize, to: usize| (line[from..to].trim(), line_start + from..line_start + to);
        let mut commas = line.match_indices(',').map(|(i, _)| i);
        let (c1, c2) = (commas.next(), commas.next());
        let record = Record {
            line: line_start..line_start + line.len(),
            timestamp: field(0, c1.unwrap_or(line.len())),
            value: c1.map(|c| field(c + 1, c2.unwrap_or(line.len()))),
            extra: c2.map(|c| line_start + c..line_start + line.len()),
        };
        if std::mem::take(&mut first) && parse_timestamp(record.timestamp.0).is_none() {
            continue;
        }
        return Some(record);
    })
}

/// Reads a `timestamp,value` file's text; `file` names it in errors.
pub fn parse(file: &Path, text: &str) -> Result<Series, InputError> {
    let mut series = Series::default();
    let mut problems = Problems::new(file, text);
    let mut found = 0;
    let mut problem = |span: Range<usize>, field: &str, message: String| {
        found += 1;
        if found <= MAX_PROBLEMS {
            problems.add(span, field, message);
        }
    };
    for r in records(text) {
        let timestamp = parse_timestamp(r.timestamp.0);
        if timestamp.is_none() {
            problem(
                r.timestamp.1.clone(),
                "timestamp",
                format!(
                    "{:?} is not a timestamp (expected e.g. 2014-04-01 00:00:00, 2014-04-01T00:00:00Z or unix seconds)",
                    r.timestamp.0
                ),
            );
        }
        let value = match &r.value {
            None => {
                problem(r.line.clone(), "value", "missing (expected two fields: timestamp,value)".into());
                None
            }
            Some((text, span)) => match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                Ok(_) => {
                    problem(span.clone(), "value", format!("{text:?} is not a finite number"));
                    None
                }
                Err(_) => {
                    problem(span.clone(), "value", format!("{text:?} is not a number"));
                    None
                }
            },
        };
        if let Some(span) = r.extra {
            problem(span, "line", "more than two fields (expected timestamp,value)".into());
        }
        if let (Some(t), Some(v)) = (timestamp, value) {
            series.timestamps.push(t);
            series.values.push(v);
        }
    }
    if found > MAX_PROBLEMS {
        // The rest would say the same; the last reported line shows where it stopped.
        tracing::debug!("{}: {} more problems not reported", file.display(), found - MAX_PROBLEMS);
    }
    problems.finish(series)
}

/// Unix seconds from `2014-04-01 00:00:00[.ffffff]`, the same with `T`,
/// `Z` or `+hh:mm`, a bare date, or unix seconds (fractions truncated).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    let dated = s.get(4..5) == Some("-");
    if !dated && b.first().is_some_and(|c| c.is_ascii_digit() || *c == b'-') {
        let whole = s.split_once('.').map_or(s, |(w, f)| if f.bytes().all(|c| c.is_ascii_digit()) { w } else { "" });
        return whole.parse::<i64>().ok();
    }
    let num = |r: Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if b.len() == 10 {
        return Some(clock::day_start(date));
    }
    if !matches!(b.get(10), Some(b' ' | b'T' | b't')) || b.get(13) != Some(&b':') {
        return None;
    }
    let (hour, minute) = (num(11..13)?, num(14..16)?);
    let mut at = 16;
    let mut second = 0;
    if b.get(at) == Some(&b':') {
        second = num(17..19)?;
        at = 19;
        if b.get(at) == Some(&b'.') {
            at += 1;
            let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            at += digits;
        }
    }
    let offset = match &s[at..] {
        "" | "Z" | "z" => 0,
        zone => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = zone[1..].split_once(':').unwrap_or((zone.get(1..3)?, zone.get(3..).unwrap_or("")));
            let h: i64 = h.parse().ok().filter(|_| h.len() == 2)?;
            let m: i64 = if m.is_empty() { 0 } else { m.parse().ok().filter(|_| m.len() == 2)? };
            sign * (h * HOUR + m * MINUTE)
        }
    };
    // A leap second reads as the second before it.
    let time = date.and_hms_opt(hour, minute, if second == 60 { 59 } else { second })?;
    Some(time.and_utc().timestamp() - offset)
}

/// What `fleetdeck detect` can fail on.
#[derive(Debug, thiserror::Error)]
pub enum DetectFileError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DetectFileError + '_ {
    move |source| DetectFileError::Io { path: path.to_path_buf(), source }
}

/// `fleetdeck detect`: scores every row of `input` with a fresh detector and
/// writes `timestamp,value,anomaly_score` to `output`, or to stdout.
///
/// Nothing is written unless the whole input is valid, and `output` appears
/// only complete: it is written beside its final name, then renamed.
pub fn detect_file(input: &Path, output: Option<&Path>, config: &Config) -> Result<(), DetectFileError> {
    let text = std::fs::read_to_string(input).map_err(io_error(input))?;
    let series = parse(input, &text)?;
    let mut detector = Detector::new(config.clone());
    let mut out = String::with_capacity(text.len() + 24 * series.values.len() + 32);
    out.push_str("timestamp,value,anomaly_score\n");
    // `parse` accepted every record, so they pair with the parsed points one to one.
    for (r, (&t, &v)) in records(&text).zip(series.timestamps.iter().zip(&series.values)) {
        let score = detector.score(t, v);
        let _ = writeln!(out, "{},{},{score}", r.timestamp.0, r.value.map_or("", |v| v.0));
    }
    match output {
        None => std::io::stdout().lock().write_all(out.as_bytes()).map_err(io_error(Path::new("<stdout>"))),
        Some(path) => crate::files::write_private(path, out.as_bytes()).map_err(|e| io_error(path)(e.source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_accepted_spelling() {
        let t = 1_396_310_400; // 2014-04-01 00:00:00 UTC
        for s in [
            "2014-04-01 00:00:00",
            "2014-04-01T00:00:00",
            "2014-04-01T00:00:00Z",
            "2014-04-01 00:00:00.000000",
            "2014-04-01T02:00:00+02:00",
            "2014-03-31T19:00:00-0500",
            "2014-04-01 00:00",
            "2014-04-01",
            "1396310400",
            "1396310400.75",
        ] {
            assert_eq!(parse_timestamp(s), Some(t), "{s}");
        }
        for s in ["", "timestamp", "2014-13-01 00:00:00", "2014-04-01 25:00:00", "2014-04-01X00:00:00", "12ab"] {
            assert_eq!(parse_timestamp(s), None, "{s}");
        }
    }

    #[test]
    fn a_header_is_skipped_and_rows_are_kept_in_order_with_repeats() {
        let text = "timestamp,value\r\n2014-04-01 00:00:00,1\n\n2014-04-01 00:00:00,2.5\n1396310460, -3\n";
        let s = parse(Path::new("a.csv"), text).unwrap();
        assert_eq!(s.timestamps, [1_396_310_400, 1_396_310_400, 1_396_310_460]);
        assert_eq!(s.values, [1.0, 2.5, -3.0]);
        assert_eq!(parse(Path::new("a.csv"), "2014-04-01,7\n").unwrap().values, [7.0], "no header");
    }

    #[test]
    fn every_bad_field_is_named_with_its_file_and_line() {
        let text = "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,abc\nyesterday,2\n2014-04-01 00:15:00\n2014-04-01 00:20:00,1,2\n2014-04-01 00:25:00,NaN\n";
        let err = parse(Path::new("data.csv"), text).unwrap_err().to_string();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 5, "{err}");
        assert_eq!(lines[0], r#"data.csv:3: value: "abc" is not a number"#);
        assert!(lines[1].starts_with(r#"data.csv:4: timestamp: "yesterday" is not a timestamp"#), "{err}");
        assert!(lines[2].starts_with("data.csv:5: value: missing"), "{err}");
        assert!(lines[3].starts_with("data.csv:6: line: more than two fields"), "{err}");
        assert_eq!(lines[4], r#"data.csv:7: value: "NaN" is not a finite number"#);
    }
}
