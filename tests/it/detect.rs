//! `fleetdeck detect` through the real binary: an operator exports a metric
//! as `timestamp,value`, scores it, and gets back the same rows with an
//! anomaly score each; a broken file is refused with the line to fix, and
//! leaves nothing behind.

use std::path::Path;
use std::process::{Command, Output};

fn fleetdeck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetdeck")).args(args).output().expect("run fleetdeck")
}

/// Two days of 5-minute points around 100 with a little wobble, a spike to
/// 400 at row 400, and rows spelled in each accepted timestamp form.
fn latency_csv() -> String {
    let t0 = 1_396_310_400; // 2014-04-01 00:00:00 UTC
    let mut text = String::from("timestamp,value\n");
    for i in 0..576_i64 {
        let t = t0 + i * 300;
        let when = chrono::DateTime::from_timestamp(t, 0).unwrap();
        let stamp = match i % 3 {
            0 => when.format("%Y-%m-%d %H:%M:%S").to_string(),
            1 => when.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            _ => t.to_string(),
        };
        let value = if i == 400 { 400.0 } else { 100.0 + ((i * 37) % 11) as f64 - 5.0 };
        text.push_str(&format!("{stamp},{value}\n"));
    }
    text
}

fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines().map(|l| l.split(',').map(str::to_string).collect()).collect()
}

#[test]
fn an_operator_scores_an_exported_metric_and_gets_every_row_back_with_a_score() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("latency.csv");
    let output = dir.path().join("scored.csv");
    let text = latency_csv();
    std::fs::write(&input, &text).unwrap();

    let run = fleetdeck(&["detect", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(run.stdout.is_empty(), "with --output, nothing on stdout");

    let scored = rows(&std::fs::read_to_string(&output).unwrap());
    let given = rows(&text);
    assert_eq!(scored[0], ["timestamp", "value", "anomaly_score"]);
    assert_eq!(scored.len(), given.len(), "one row per input row");
    for (out, inp) in scored[1..].iter().zip(&given[1..]) {
        assert_eq!(out[..2], inp[..], "timestamp and value echoed as given");
        let score: f64 = out[2].parse().unwrap();
        assert!((0.0..=1.0).contains(&score), "{out:?}");
    }
    let alarms: Vec<usize> =
        scored[1..].iter().enumerate().filter(|(_, r)| r[2].parse::<f64>().unwrap() >= 0.5).map(|(i, _)| i).collect();
    assert_eq!(alarms, [400], "the spike, and only the spike");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary file left beside the output");
}

#[test]
fn without_output_the_scores_go_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("latency.csv");
    std::fs::write(&input, latency_csv()).unwrap();
    let run = fleetdeck(&["detect", "--input", input.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let out = String::from_utf8(run.stdout).unwrap();
    assert_eq!(out.lines().count(), 577);
    assert!(out.starts_with("timestamp,value,anomaly_score\n2014-04-01 00:00:00,95,0\n"), "{}", &out[..80]);
}

#[test]
fn a_bad_value_is_named_by_file_line_and_field_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("data.csv");
    let output = dir.path().join("scored.csv");
    let mut lines: Vec<String> = latency_csv().lines().map(str::to_string).collect();
    lines[16] = "2014-04-01 01:15:00,abc".into(); // line 17 of the file
    std::fs::write(&input, lines.join("\n")).unwrap();

    let run = fleetdeck(&["detect", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains(r#"data.csv:17: value: "abc" is not a number"#), "{stderr}");
    assert!(run.stdout.is_empty());
    assert!(!output.exists(), "no partial output");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing left beside the input");
}

#[test]
fn a_missing_input_file_is_named() {
    let run = fleetdeck(&["detect", "--input", "/nonexistent/metric.csv"]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("/nonexistent/metric.csv"), "{stderr}");
    assert!(!Path::new("/nonexistent/metric.csv.fleetdeck-tmp").exists());
}
