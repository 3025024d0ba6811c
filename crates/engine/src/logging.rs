//! Log output and crash reports. Two sinks: stderr, as it always was
//! (filtered by `--verbose` and `FLEETDECK_LOG`), and a daily file in the
//! platform's log directory, because a console started from a desktop menu
//! has no terminal and its stderr goes nowhere. A panic hook writes the
//! crash, with a backtrace, to that file and names the file on stderr.
//!
//! Where the files go ([`log_dir`]): `FLEETDECK_LOG_DIR` if set; else on
//! Linux `$XDG_STATE_HOME/fleetdeck/logs` (`~/.local/state/fleetdeck/logs`),
//! the XDG base-directory spec's place for logs ("state data that should
//! persist between restarts but is not important enough for
//! `$XDG_DATA_HOME`"); on macOS `~/Library/Logs/fleetdeck`, where Console.app
//! looks; on Windows `%LOCALAPPDATA%\fleetdeck\logs`.
//!
//! The files are owner-only (0600, in a 0700 directory): log lines name
//! tenants and accounts. They are written synchronously, line by line, with
//! no background writer: nothing is buffered, so nothing is lost when the
//! process exits or crashes, and there is no guard to keep alive.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_appender::rolling::{RollingFileAppender, RollingWriter, Rotation};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{self, DefaultFields};
use tracing_subscriber::fmt::{FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Replaces both sinks' default filters (`tracing` directives).
pub const LOG_FILTER_ENV: &str = "FLEETDECK_LOG";
/// Replaces the platform log directory.
pub const LOG_DIR_ENV: &str = "FLEETDECK_LOG_DIR";
/// Daily files kept, today's included: two weeks of days on which fleetdeck
/// ran. Older ones are deleted at startup and when the day rolls over.
pub const KEEP_FILES: usize = 14;

/// Files are `fleetdeck.YYYY-MM-DD.log` (UTC day, as tracing-appender names
/// them); on Unix `fleetdeck.log` is a symlink to the newest.
const FILE_PREFIX: &str = "fleetdeck";
const FILE_SUFFIX: &str = "log";
const LATEST: &str = "fleetdeck.log";

/// Install the process-wide subscriber and the panic hook; a second call
/// does nothing. Never fails: without a usable log directory it says so
/// once on stderr and logs to stderr only.
pub fn init(verbose: bool) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| install(verbose));
}

fn install(verbose: bool) {
    let stderr_default = if verbose { "fleetdeck=debug,info" } else { "fleetdeck=warn" };
    let file_default = if verbose { "fleetdeck=debug,info" } else { "info" };
    // Colour only on a terminal: piped or redirected, escapes are noise.
    let stderr = tracing_subscriber::fmt::layer()
        .with_ansi(io::stderr().is_terminal())
        .with_writer(io::stderr)
        .with_filter(filter(stderr_default));
    let file = match open_log_file() {
        Ok(file) => Some(file),
        Err(why) => {
            eprintln!("fleetdeck: warning: {why}; logging to stderr only");
            None
        }
    };
    let dir = file.as_ref().map(|f| f.dir.clone());
    let file_layer = file.map(|f| {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .fmt_fields(PlainFields::default())
            .with_writer(f)
            .with_filter(filter(file_default))
    });
    let _ = tracing_subscriber::registry().with(stderr).with(file_layer).try_init();
    install_panic_hook(dir.clone());
    tracing::info!(
        "fleetdeck {} starting (pid {}, {} {}, verbose: {verbose}); log files in {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        std::env::consts::OS,
        std::env::consts::ARCH,
        dir.as_deref().map_or_else(|| "(none)".into(), |d| d.display().to_string()),
    );
}

/// `FLEETDECK_LOG` if set and valid, else `default`; then the caps.
fn filter<S>(default: &str) -> impl tracing_subscriber::layer::Filter<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
    let filter = EnvFilter::try_from_env(LOG_FILTER_ENV).unwrap_or_else(|_| EnvFilter::new(default));
    // The SDK logs access key ids at debug and trace (the resolved identity,
    // "obtained assumed credentials", and sigv4's "signing request" with its
    // signing params at trace): never, whatever FLEETDECK_LOG asks for. A
    // cap only lowers: it enables nothing the filter above did not (added
    // as directives they enabled the SDK's INFO and WARN lines on stderr).
    let caps = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("aws_smithy_runtime::client::orchestrator", LevelFilter::INFO)
        .with_target("aws_config", LevelFilter::INFO)
        .with_target("aws_sigv4", LevelFilter::INFO);
    filter.and(caps)
}

/// The file's field formatter: `DefaultFields`' output under a type of its
/// own. A span's fields are formatted once and cached per formatter type, so
/// with the same type as stderr's the file would get stderr's colour codes.
#[derive(Default)]
struct PlainFields(DefaultFields);

impl<'w> FormatFields<'w> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: format::Writer<'w>, fields: R) -> std::fmt::Result {
        self.0.format_fields(writer, fields)
    }
}

/// Where log files go: `FLEETDECK_LOG_DIR`, else the platform's log
/// directory (see the module docs). `None` only without a home directory.
pub fn log_dir() -> Option<PathBuf> {
    match std::env::var_os(LOG_DIR_ENV).filter(|d| !d.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => platform_log_dir(),
    }
}

#[cfg(target_os = "macos")]
fn platform_log_dir() -> Option<PathBuf> {
    dirs::home_dir().map(|home| home.join("Library/Logs/fleetdeck"))
}

#[cfg(not(target_os = "macos"))]
fn platform_log_dir() -> Option<PathBuf> {
    // `state_dir` is Linux-only ($XDG_STATE_HOME or ~/.local/state); Windows
    // and the BSDs fall back to the local data directory.
    dirs::state_dir().or_else(dirs::data_local_dir).map(|d| d.join("fleetdeck").join("logs"))
}

/// The file sink: tracing-appender's daily rolling file, which also prunes
/// to [`KEEP_FILES`], wrapped so that each day's file is created 0600
/// (the appender itself creates files with the process umask).
struct LogFile {
    appender: RollingFileAppender,
    dir: PathBuf,
    /// The UTC day whose file was last made owner-only.
    day: AtomicI64,
}

impl<'a> MakeWriter<'a> for LogFile {
    type Writer = RollingWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        // Before the appender rolls over to a new day's file, create that
        // file owner-only: the appender opens it for appending and keeps the
        // mode. Should the appender get there first (a line written across
        // midnight), the chmod in `open_owner_only` fixes it a line later.
        let today = utc_day(SystemTime::now());
        if self.day.swap(today, Ordering::Relaxed) != today {
            let _ = open_owner_only(&self.dir.join(file_name(today)));
        }
        self.appender.make_writer()
    }
}

fn open_log_file() -> Result<LogFile, String> {
    let dir = log_dir().ok_or_else(|| format!("no home directory for the log files (set {LOG_DIR_ENV})"))?;
    // The platform directory is fleetdeck's own, so it is made owner-only
    // even if it already existed; a directory named by FLEETDECK_LOG_DIR is
    // the user's and is only created that way, never re-moded.
    let own = std::env::var_os(LOG_DIR_ENV).is_none_or(|d| d.is_empty());
    create_dir_owner_only(&dir, own).map_err(|e| format!("cannot create the log directory {}: {e}", dir.display()))?;
    let today = utc_day(SystemTime::now());
    let path = dir.join(file_name(today));
    open_owner_only(&path).map_err(|e| format!("cannot open the log file {}: {e}", path.display()))?;
    let builder = || {
        RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix(FILE_PREFIX)
            .filename_suffix(FILE_SUFFIX)
            // The appender counts the files present before it opens its
            // own; today's is already there (created owner-only above).
            .max_log_files(KEEP_FILES + 1)
    };
    // The `fleetdeck.log` symlink is a convenience: a file system without
    // symlinks still gets the dated files.
    let with_latest = if cfg!(unix) { builder().latest_symlink(LATEST).build(&dir).ok() } else { None };
    let appender = match with_latest {
        Some(appender) => appender,
        None => builder().build(&dir).map_err(|e| format!("cannot open the log file {}: {e}", path.display()))?,
    };
    Ok(LogFile { appender, dir, day: AtomicI64::new(today) })
}

/// Days since the Unix epoch, UTC: the appender's rotation boundary.
fn utc_day(t: SystemTime) -> i64 {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    secs.div_euclid(crate::clock::DAY)
}

/// The appender's name for that day's file: `fleetdeck.YYYY-MM-DD.log`.
fn file_name(day: i64) -> String {
    let date = chrono::DateTime::from_timestamp(day * crate::clock::DAY, 0).unwrap_or_default().format("%Y-%m-%d");
    format!("{FILE_PREFIX}.{date}.{FILE_SUFFIX}")
}

#[cfg(unix)]
fn create_dir_owner_only(dir: &Path, tighten: bool) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    if tighten {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn create_dir_owner_only(dir: &Path, _tighten: bool) -> io::Result<()> {
    // %LOCALAPPDATA% is already private to the user.
    fs::create_dir_all(dir)
}

/// Opens `path` for appending, creating it 0600, and makes an existing file
/// 0600 too.
fn open_owner_only(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = options.mode(0o600).open(path)?;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

/// On a panic: the message, where, and a backtrace go to today's log file,
/// and a short note naming that file to stderr (the whole report instead
/// when there is no log file). The default hook is replaced, not chained,
/// so stderr is not repeated; unwinding and the exit status (101 for the
/// main thread) are unchanged, and a panic that something catches (a tokio
/// task's) is reported the same way.
fn install_panic_hook(dir: Option<PathBuf>) {
    std::panic::set_hook(Box::new(move |info| {
        let message = match info.payload().downcast_ref::<&str>() {
            Some(s) => (*s).to_owned(),
            None => info.payload().downcast_ref::<String>().cloned().unwrap_or_else(|| "(no message)".into()),
        };
        // `fleetdeck status | head`: the reader went away, which is how a
        // pipe ends, not a bug. End quietly, as Unix tools do.
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        let location = info.location().map_or_else(|| "an unknown location".into(), |l| l.to_string());
        let thread = std::thread::current();
        let report = panic_report(
            &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            thread.name().unwrap_or("<unnamed>"),
            &message,
            &location,
            &std::backtrace::Backtrace::force_capture(),
        );
        let written = dir.as_deref().map(|dir| {
            let path = dir.join(file_name(utc_day(SystemTime::now())));
            open_owner_only(&path).and_then(|mut f| f.write_all(report.as_bytes())).map(|()| path)
        });
        match written {
            Some(Ok(path)) => eprintln!(
                "fleetdeck: internal error: {message} (at {location}).\n\
                 The details and a backtrace are in {}; please attach that file to a bug report.",
                path.display()
            ),
            Some(Err(e)) => eprintln!("{report}(could not write it to the log file: {e})"),
            None => eprint!("{report}"),
        }
    }));
}

/// A panic as log-file lines: a header shaped like the other lines (time,
/// level, target), then the backtrace, indented as `std` prints it.
fn panic_report(time: &str, thread: &str, message: &str, location: &str, backtrace: &dyn std::fmt::Display) -> String {
    format!(
        "{time} ERROR fleetdeck::panic: thread '{thread}' panicked at {location}: {message}\nbacktrace:\n{backtrace}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_report_names_the_message_place_and_thread_then_the_backtrace() {
        let report = panic_report(
            "2026-05-02T10:00:00.000000Z",
            "tokio-runtime-worker",
            "index out of bounds: the len is 0 but the index is 0",
            "src-tauri/view.rs:12:5",
            &"   0: fleetdeck::view::fleet_overview\n             at ./src-tauri/view.rs:12:5",
        );
        let mut lines = report.lines();
        assert_eq!(
            lines.next(),
            Some(
                "2026-05-02T10:00:00.000000Z ERROR fleetdeck::panic: thread 'tokio-runtime-worker' panicked at \
                 src-tauri/view.rs:12:5: index out of bounds: the len is 0 but the index is 0"
            )
        );
        assert_eq!(lines.next(), Some("backtrace:"));
        assert_eq!(lines.next(), Some("   0: fleetdeck::view::fleet_overview"));
        assert!(report.ends_with('\n'), "the next line starts on its own line");
    }

    #[test]
    fn files_are_named_as_the_appender_names_them_by_utc_day() {
        // 2026-05-02T23:59:59Z and the second after it.
        let before = UNIX_EPOCH + std::time::Duration::from_secs(1_777_766_399);
        assert_eq!(file_name(utc_day(before)), "fleetdeck.2026-05-02.log");
        assert_eq!(file_name(utc_day(before + std::time::Duration::from_secs(1))), "fleetdeck.2026-05-03.log");
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_world_readable_log_file_is_made_owner_only_and_appended_to() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("state/fleetdeck/logs");
        create_dir_owner_only(&logs, true).unwrap();
        assert_eq!(fs::metadata(&logs).unwrap().permissions().mode() & 0o777, 0o700);
        // An existing, world-readable file (as the appender would have left
        // it) is tightened too.
        let path = logs.join("fleetdeck.2026-05-02.log");
        fs::write(&path, "old\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        open_owner_only(&path).unwrap().write_all(b"new\n").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_to_string(&path).unwrap(), "old\nnew\n", "appended, not truncated");
    }
}
