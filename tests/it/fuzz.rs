//! Fuzzing what a user edits and fleetdeck parses: the fleet file and the
//! query catalog (`metrics.toml`, `logs.toml`), plus the text functions that
//! take untrusted input (redaction, error classification, CSV cells, Logs
//! Insights literals). Inputs are arbitrary strings, arbitrary bytes, TOML
//! token soup and structured mutations of the real example files.
//!
//! The property everywhere: no panic; a parser returns `Ok` or an error
//! whose every problem names the file, a line inside it and a field.
//!
//! `make test` runs a few dozen cases of each. The long run, in release
//! mode, one property at a time (250,000 cases each: about 5 minutes of
//! CPU, 9 minutes on a shared 2-core machine):
//!
//! ```text
//! PROPTEST_CASES=250000 cargo test --no-default-features --release --test fuzz -- --test-threads=1
//! ```
//!
//! Failures are saved as seeds in `tests/it/fuzz.regressions` (commit it), and
//! every run replays them first. Inputs that once broke a parser are also
//! pinned as named tests at the end of this file.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use fleetdeck_engine::catalog::{logs_string_literal, Catalog};
use fleetdeck_engine::fleet::Fleet;
use fleetdeck_engine::input::InputError;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const EXAMPLE_FLEET: &str = include_str!("../../examples/fleet.toml");
const METRICS: &str = include_str!("../../queries/metrics.toml");
const LOGS: &str = include_str!("../../queries/logs.toml");

/// Cases per property: `PROPTEST_CASES`, else a quick 48.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

fn catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| Catalog::builtin().expect("built-in catalog"))
}

/// Every problem names `file`, a line of `text` and a field, and the error
/// prints each as `file:line: field: message`.
fn well_formed(e: &InputError, file: &Path, text: &str) -> Result<(), TestCaseError> {
    prop_assert!(!e.problems.is_empty(), "an error with no problem");
    let lines = text.split('\n').count();
    let shown = e.to_string();
    for p in &e.problems {
        prop_assert_eq!(&p.file, file);
        prop_assert!((1..=lines).contains(&p.line), "line {} of {} lines: {}", p.line, lines, p);
        prop_assert!(!p.field.is_empty() && !p.message.is_empty(), "{:?}", p);
        let head = format!("{}:{}: {}: ", file.display(), p.line, p.field);
        prop_assert!(shown.contains(&head), "{:?} not in {:?}", head, shown);
    }
    Ok(())
}

fn check_fleet(text: &str) -> Result<(), TestCaseError> {
    let file = Path::new("fleet.toml");
    match Fleet::parse(file, text, catalog()) {
        Ok(fleet) => {
            for t in &fleet.tenants {
                prop_assert!(!t.id.is_empty() && !t.role_arn.is_empty(), "accepted tenant {:?}", t);
            }
            Ok(())
        }
        Err(e) => well_formed(&e, file, text),
    }
}

/// A catalog folder written once per test thread and rewritten per case.
fn check_catalog(dir: &Path, metrics: &str, logs: &str) -> Result<(), TestCaseError> {
    std::fs::write(dir.join("metrics.toml"), metrics).unwrap();
    std::fs::write(dir.join("logs.toml"), logs).unwrap();
    match Catalog::load(Some(dir)) {
        Ok(c) => {
            for m in &c.metrics {
                prop_assert!(m.period > 0 && m.period % 60 == 0 && !m.key.is_empty(), "accepted {:?}", m);
            }
            Ok(())
        }
        Err(e) => {
            let file: PathBuf = e.problems.first().map(|p| p.file.clone()).unwrap_or_default();
            let text = if file.ends_with("metrics.toml") { metrics } else { logs };
            prop_assert!(file == dir.join("metrics.toml") || file == dir.join("logs.toml"), "{}", file.display());
            well_formed(&e, &file, text)
        }
    }
}

/// TOML-shaped token soup: headers, keys, values and punctuation of the
/// real files, in any order.
fn toml_soup() -> impl Strategy<Value = String> {
    let tokens = vec![
        "[fleet]",
        "[[tenant]]",
        "[[metric]]",
        "[[query]]",
        "\n",
        "\n",
        "\n",
        " = ",
        "=",
        "\"",
        "'",
        "'''",
        "\"\"\"",
        "[",
        "]",
        "{",
        "}",
        ",",
        ".",
        "#",
        "\\",
        "\\u",
        "region",
        "id",
        "name",
        "tier",
        "model",
        "account",
        "role_arn",
        "role_name",
        "external_id",
        "home_region",
        "extra_regions",
        "residency",
        "selector",
        "dimensions",
        "log_groups",
        "log_tenant_field",
        "payer_account",
        "endpoint_url",
        "key",
        "label",
        "unit",
        "models",
        "namespace",
        "stat",
        "period",
        "window",
        "warn_above",
        "critical_above",
        "query",
        "raw_lines",
        "\"us-east-1\"",
        "\"eu-west-1\"",
        "\"pooled\"",
        "\"silo\"",
        "\"111111111111\"",
        "\"acme\"",
        "\"p99\"",
        "\"count\"",
        "60",
        "0",
        "-1",
        "1e400",
        "nan",
        "inf",
        "true",
        "1979-05-27",
        "\"*\"",
        "\"/app/*\"",
        "\"arn:aws:iam::111111111111:role/R\"",
        "{tenant_filter}",
        "é",
        "\u{0}",
        "\u{feff}",
        "\r\n",
    ];
    proptest::collection::vec(proptest::sample::select(tokens), 0..80).prop_map(|t| t.concat())
}

/// An edit to a file: (what, where, with what).
fn edits() -> impl Strategy<Value = Vec<(u8, usize, String)>> {
    let payload = prop_oneof![
        "\\PC{0,12}",
        proptest::sample::select(vec![
            "",
            "\"",
            "'",
            "[",
            "]]",
            "= =",
            "\"\"",
            "[]",
            "{}",
            "12",
            "-5",
            "3.5",
            "true",
            "\"x\"",
            "\"us-east-l\"",
            "\"silo\"",
            "\"p0\"",
            "\"p100\"",
            "\"p99.9\"",
            "4294967296",
            "\"*\"",
            "\"a*b*\"",
            "\u{0}",
            "é",
        ])
        .prop_map(str::to_string),
    ];
    proptest::collection::vec((0u8..7, any::<usize>(), payload), 1..6)
}

/// Applies `edits` line-wise and byte-wise, always on char boundaries.
fn mutate(text: &str, edits: &[(u8, usize, String)]) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    for (op, at, payload) in edits {
        let n = lines.len().max(1);
        let i = at % n;
        match op {
            0 if !lines.is_empty() => {
                lines.remove(i);
            }
            1 if !lines.is_empty() => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 if lines.len() > 1 => {
                let j = (at / n) % lines.len();
                lines.swap(i, j);
            }
            3 if !lines.is_empty() => {
                // Replace the value of a `key = value` line.
                if let Some((k, _)) = lines[i].split_once('=') {
                    lines[i] = format!("{k}= {payload}");
                }
            }
            4 => lines.insert(i.min(lines.len()), payload.clone()),
            5 => {
                let joined = lines.join("\n");
                let mut cut = at % (joined.len() + 1);
                while !joined.is_char_boundary(cut) {
                    cut -= 1;
                }
                lines = joined[..cut].split('\n').map(str::to_string).collect();
            }
            _ if !lines.is_empty() => {
                let line = &mut lines[i];
                let mut pos = (at / n) % (line.len() + 1);
                while !line.is_char_boundary(pos) {
                    pos -= 1;
                }
                line.insert_str(pos, payload);
            }
            _ => {}
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_fleet_parser_takes_any_string(text in "\\PC*") {
        check_fleet(&text)?;
    }

    #[test]
    fn the_fleet_parser_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check_fleet(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn the_fleet_parser_takes_toml_soup(text in toml_soup()) {
        check_fleet(&text)?;
    }

    #[test]
    fn the_fleet_parser_takes_any_edit_of_the_example(e in edits()) {
        check_fleet(&mutate(EXAMPLE_FLEET, &e))?;
    }

    #[test]
    fn the_catalog_loader_takes_any_edit_of_the_builtin_files(m in edits(), l in edits()) {
        thread_local!(static DIR: tempfile::TempDir = tempfile::tempdir().unwrap());
        DIR.with(|d| check_catalog(d.path(), &mutate(METRICS, &m), &mutate(LOGS, &l)))?;
    }

    #[test]
    fn the_catalog_loader_takes_toml_soup_and_any_string(m in toml_soup(), l in "\\PC*") {
        thread_local!(static DIR: tempfile::TempDir = tempfile::tempdir().unwrap());
        DIR.with(|d| check_catalog(d.path(), &m, &l))?;
        DIR.with(|d| check_catalog(d.path(), &l, &m))?;
    }

    /// Text from AWS and from tenants: never a panic, whatever it holds.
    #[test]
    fn untrusted_text_functions_take_any_string(text in "\\PC*", bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        for t in [text.clone(), String::from_utf8_lossy(&bytes).into_owned()] {
            let _ = fleetdeck_engine::redact::redact(&t);
            let f = fleetdeck_engine::aws::classify_text(&t, Some(("arn:aws:iam::111111111111:role/R", Some("x"))));
            prop_assert!(f.message.chars().count() <= 600);
            let _ = fleetdeck_engine::export::csv_field(&t);
            let lit = logs_string_literal(&t);
            prop_assert!(lit.starts_with('"') && lit.ends_with('"') && lit.len() >= 2);
        }
    }
}

// ---------------------------------------------------------------------------
// Regression corpus: inputs that broke a parser once, each named after what
// it broke.

#[test]
fn the_example_files_parse() {
    check_fleet(EXAMPLE_FLEET).unwrap();
    Fleet::parse(Path::new("fleet.toml"), EXAMPLE_FLEET, catalog()).expect("the example parses");
    let dir = tempfile::tempdir().unwrap();
    check_catalog(dir.path(), METRICS, LOGS).unwrap();
    Catalog::load(Some(dir.path())).expect("the built-in files parse from disk");
}

/// A syntax error at a bare `[` gave a problem with an empty field
/// (`logs.toml:1: : key with no value`).
#[test]
fn a_bare_bracket_names_the_file_as_the_field() {
    let dir = tempfile::tempdir().unwrap();
    check_catalog(dir.path(), "", "𐖗[").unwrap();
    check_catalog(dir.path(), "[[metric]]\nkey = \"a\"\n[\n", "").unwrap();
    check_fleet("[fleet]\nregion = \"us-east-1\"\n[").unwrap();
}
