//! The log file, through the real binary: an engineer whose console
//! misbehaved finds an owner-only daily log in the log directory (here
//! `FLEETDECK_LOG_DIR`, a temporary one), with more in it under `--verbose`,
//! old days pruned, and, when fleetdeck crashed, the panic with a backtrace;
//! a log directory that cannot be created costs a warning, never the run.
#![cfg(unix)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fleetdeck(log_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleetdeck"));
    cmd.args(args)
        .env("FLEETDECK_LOG_DIR", log_dir)
        .env_remove("FLEETDECK_LOG")
        .env_remove("RUST_BACKTRACE")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL");
    cmd
}

fn run(mut cmd: impl std::borrow::BorrowMut<Command>) -> Output {
    cmd.borrow_mut().output().expect("run fleetdeck")
}

/// The dated files (`fleetdeck.YYYY-MM-DD.log`), oldest first; not the
/// `fleetdeck.log` symlink.
fn dated_logs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.len() == "fleetdeck.2026-05-02.log".len() && name.starts_with("fleetdeck.") && name.ends_with(".log")
        })
        .collect();
    files.sort();
    files
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// 30 lines that are not `timestamp,value`: more problems than
/// `fleetdeck detect` reports, so it logs (at debug) how many it left out.
fn broken_csv(dir: &Path) -> PathBuf {
    let path = dir.join("broken.csv");
    let mut text = String::from("timestamp,value\n");
    for i in 0..30 {
        text.push_str(&format!("yesterday-{i},lots\n"));
    }
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn an_engineer_finds_an_owner_only_log_file_with_each_run_s_startup_line() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("state/fleetdeck/logs");
    let csv = broken_csv(tmp.path());

    let first = run(fleetdeck(&logs, &["detect", "--input", csv.to_str().unwrap()]));
    assert_eq!(first.status.code(), Some(2), "the broken CSV is refused: {}", String::from_utf8_lossy(&first.stderr));
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(!stderr.contains("starting"), "stderr stays at warnings without --verbose:\n{stderr}");
    assert!(!stderr.contains("warning"), "the log directory was usable:\n{stderr}");

    assert_eq!(mode(&logs), 0o700, "the directory fleetdeck created is owner-only");
    let files = dated_logs(&logs);
    assert_eq!(files.len(), 1, "one file for today: {files:?}");
    let log = &files[0];
    assert_eq!(mode(log), 0o600, "log lines name tenants: owner-only");
    let latest = logs.join("fleetdeck.log");
    assert_eq!(fs::read_link(&latest).unwrap(), *log, "fleetdeck.log points at today's file");

    let text = fs::read_to_string(log).unwrap();
    let startup: Vec<&str> = text.lines().filter(|l| l.contains(" INFO ") && l.contains("starting")).collect();
    assert_eq!(startup.len(), 1, "{text}");
    assert!(startup[0].contains(&format!("fleetdeck {} starting", env!("CARGO_PKG_VERSION"))), "{text}");
    assert!(startup[0].contains(&format!("log files in {}", logs.display())), "{text}");
    assert!(!text.contains('\x1b'), "no terminal colours in the file:\n{text:?}");
    assert!(!text.contains("more problems not reported"), "debug lines need --verbose:\n{text}");

    // The next run the same day appends to the same file.
    let second = run(fleetdeck(&logs, &["detect", "--input", csv.to_str().unwrap(), "--verbose"]));
    assert_eq!(second.status.code(), Some(2));
    let files = dated_logs(&logs);
    assert_eq!(files.len(), 1, "still one file: {files:?}");
    let text = fs::read_to_string(&files[0]).unwrap();
    assert_eq!(text.lines().filter(|l| l.contains(" INFO ") && l.contains("starting")).count(), 2, "{text}");
    assert!(text.contains("verbose: true"), "{text}");
    let dropped = text.lines().find(|l| l.contains("more problems not reported")).expect("--verbose logs debug lines");
    assert!(dropped.contains(" DEBUG fleetdeck_engine::detect") && dropped.contains("broken.csv: "), "{dropped}");
    assert_eq!(mode(&files[0]), 0o600);
}

#[test]
fn old_days_are_pruned_to_fourteen_files_and_nothing_else_is_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    fs::create_dir(&logs).unwrap();
    // Twenty earlier days and a file that is not a log. Which old days go is
    // tracing-appender's choice (the earliest created; these were all
    // created within the same clock tick, so any seven of them).
    for day in 1..=20 {
        fs::write(logs.join(format!("fleetdeck.2020-01-{day:02}.log")), "old\n").unwrap();
    }
    fs::write(logs.join("notes.txt"), "mine\n").unwrap();

    let out = run(fleetdeck(&logs, &["policy"]).stdout(Stdio::null()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let files = dated_logs(&logs);
    let names: Vec<String> = files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 14, "13 old days and today's: {names:?}");
    assert!(names[..13].iter().all(|n| n.starts_with("fleetdeck.2020-01-")), "{names:?}");
    assert!(fs::read_to_string(&files[13]).unwrap().contains("starting"), "today's is kept: {names:?}");
    assert_eq!(fs::read_to_string(logs.join("notes.txt")).unwrap(), "mine\n");
    assert!(fs::symlink_metadata(logs.join("fleetdeck.log")).unwrap().is_symlink(), "the symlink is not pruned");

    // Another run the same day deletes nothing more.
    let again = run(fleetdeck(&logs, &["policy"]).stdout(Stdio::null()));
    assert!(again.status.success());
    assert_eq!(dated_logs(&logs), files);
}

/// A real panic, not a test hook: `fleetdeck policy` prints with `println!`,
/// which panics when stdout cannot be written (here /dev/full; a closed
/// pipe, as in `fleetdeck policy | head -1`, does the same).
fn policy_into_a_full_disk(log_dir: &Path) -> Output {
    let full = fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    run(fleetdeck(log_dir, &["policy"]).stdout(full))
}

/// `fleetdeck policy | head -1`: the reader is gone before fleetdeck
/// writes. That is how a pipe ends, not a crash: no "internal error", no
/// bug report asked for, a clean exit.
#[test]
fn a_reader_that_went_away_is_not_an_internal_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(ours);
    let out = run(fleetdeck(&tmp.path().join("logs"), &["policy"]).stdout(std::os::fd::OwnedFd::from(theirs)));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("internal error") && !stderr.contains("bug report"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn a_crash_leaves_the_panic_and_a_backtrace_in_the_log_and_names_the_file_on_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");

    let out = policy_into_a_full_disk(&logs);
    assert_eq!(out.status.code(), Some(101), "the default exit status of a panic");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let files = dated_logs(&logs);
    assert_eq!(files.len(), 1, "{files:?}");
    let log = &files[0];
    assert!(stderr.contains("fleetdeck: internal error: failed printing to stdout"), "{stderr}");
    assert!(stderr.contains(&format!("are in {}", log.display())), "stderr names the file:\n{stderr}");
    assert!(!stderr.contains("backtrace:"), "stderr gets the short note, the file the details:\n{stderr}");

    let text = fs::read_to_string(log).unwrap();
    let panic = text
        .lines()
        .position(|l| l.contains(" ERROR fleetdeck::panic: thread 'main' panicked at "))
        .unwrap_or_else(|| panic!("no panic in the log:\n{text}"));
    let lines: Vec<&str> = text.lines().skip(panic).collect();
    assert!(lines[0].contains("failed printing to stdout"), "the message: {}", lines[0]);
    assert!(lines[0].contains(".rs:"), "the location: {}", lines[0]);
    assert_eq!(lines[1], "backtrace:");
    assert!(
        lines.iter().any(|l| l.contains("src-tauri/cli/policy.rs:")),
        "the backtrace reaches the command that panicked, with its line:\n{}",
        lines.join("\n")
    );
    assert_eq!(mode(log), 0o600);
}

#[test]
fn without_a_usable_log_directory_fleetdeck_warns_once_and_a_crash_still_says_everything() {
    let tmp = tempfile::tempdir().unwrap();
    // A directory cannot be created under a regular file.
    let blocker = tmp.path().join("not-a-directory");
    fs::write(&blocker, "").unwrap();
    let logs = blocker.join("logs");

    let out = run(fleetdeck(&logs, &["policy"]).stdout(Stdio::null()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "logging never stops a run:\n{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("cannot create the log directory") && warnings[0].contains("stderr only"), "{stderr}");

    let out = policy_into_a_full_disk(&logs);
    assert_eq!(out.status.code(), Some(101));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ERROR fleetdeck::panic: thread 'main' panicked at "), "{stderr}");
    assert!(stderr.contains("failed printing to stdout"), "{stderr}");
    assert!(stderr.contains("backtrace:") && stderr.contains("src-tauri/cli/policy.rs:"), "{stderr}");
}

/// The SDK logs access key ids at debug and trace; the caps in `logging`
/// hold for the file as for stderr, whatever FLEETDECK_LOG asks for. The
/// demo's sync goes through the real SDK (against the built-in simulator),
/// assuming a role per tenant account.
#[test]
fn at_trace_level_the_file_holds_no_sdk_debug_line_and_no_access_key_id() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let out = run(fleetdeck(&logs, &["sync", "--demo", "--cache", tmp.path().join("demo.sqlite").to_str().unwrap()])
        .env("FLEETDECK_LOG", "trace")
        .env("HOME", tmp.path())
        .env("AWS_CONFIG_FILE", tmp.path().join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", tmp.path().join("no-aws-credentials")));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or(""));

    let files = dated_logs(&logs);
    assert_eq!(files.len(), 1, "{files:?}");
    let text = fs::read_to_string(&files[0]).unwrap();
    assert!(text.lines().filter(|l| l.contains(" TRACE ")).count() > 100, "FLEETDECK_LOG=trace reached the file");
    assert!(text.contains("STS.AssumeRole"), "the sync assumed roles through the SDK");
    let capped: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" DEBUG ") || l.contains(" TRACE "))
        .filter(|l| {
            [" aws_config", " aws_smithy_runtime::client::orchestrator", " aws_sigv4"].iter().any(|t| l.contains(t))
        })
        .take(3)
        .collect();
    assert!(capped.is_empty(), "capped targets logged below info:\n{}", capped.join("\n"));
    let key_id = regex::Regex::new(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b").unwrap();
    let found: Vec<&str> = key_id.find_iter(&text).map(|m| m.as_str()).take(3).collect();
    assert!(found.is_empty(), "access key ids in the log file: {found:?}");
    assert!(!text.contains(fleetdeck_sim::SimFleet::SECRET_ACCESS_KEY));
    assert!(!text.contains('\x1b'), "span fields in the file are plain text, not stderr's colours");
}
