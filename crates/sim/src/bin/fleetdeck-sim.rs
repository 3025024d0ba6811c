//! `fleetdeck-sim`: the simulated fleet on a loopback port, for AWS clients
//! in other processes (boto3, the AWS CLI, a second fleetdeck).
//!
//! Prints shell-sourceable `NAME=value` lines (endpoint, keys, region,
//! fleet file) on stdout once it listens, then serves until SIGINT or
//! SIGTERM, or until its stdin closes with `--until-stdin-closes`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use fleetdeck_sim::{Faults, SimFleet, SimKnobs, SimOptions, SimShape};

const USAGE: &str = "\
fleetdeck-sim: serve a simulated AWS fleet on 127.0.0.1

Usage: fleetdeck-sim [OPTIONS]

Fleet:
  --shape demo|f200       demo: the built-in DEMO fleet (default);
                          f200: the benchmark fleet F200 (200 tenants)
  --tenants N             number of tenants of the demo fleet (default 24)
  --seed S                seed of everything simulated (default 7)
  --fleet-file PATH       write the matching fleet file to PATH
  --realistic             add what real accounts also hold: a composite alarm
                          (globex), a platform alarm in the shared account
                          naming no tenant, a 5xx blip on tyrell that fired
                          and cleared 100 to 88 minutes ago
  --monitoring            add a CloudWatch cross-account observability
                          monitoring account (role FleetdeckMonitoring) linked
                          to the tenants' accounts; the fleet file then reads
                          them through it

Server:
  --port P                listen on 127.0.0.1:P (default 0: any free port)
  --until-stdin-closes    also stop when stdin reaches end of file

Knobs:
  --latency-ms N          add N milliseconds before every answer
  --aws-quotas            enforce AWS's default rate limits per account-region
  --throttle F            answer this share (0..1) of requests with throttling
  --server-error F        answer this share (0..1) of requests with HTTP 500/503

  -h, --help              print this help

Once listening it prints, one per line:
  AWS_ENDPOINT_URL=http://127.0.0.1:PORT
  AWS_ACCESS_KEY_ID=...
  AWS_SECRET_ACCESS_KEY=...
  AWS_REGION=...            (and AWS_DEFAULT_REGION, which boto3 reads)
  FLEETDECK_FLEET=PATH      (with --fleet-file)
and serves until SIGINT or SIGTERM. To use them in a shell:
  fleetdeck-sim > sim.env &  sleep 1; set -a; . ./sim.env; set +a
";

/// The fleet and server to run, from the command line.
#[derive(Debug, Default)]
struct Args {
    f200: bool,
    realistic: bool,
    monitoring: bool,
    tenants: Option<usize>,
    seed: Option<u64>,
    port: u16,
    fleet_file: Option<PathBuf>,
    until_stdin_closes: bool,
    latency_ms: u64,
    aws_quotas: bool,
    throttle: f64,
    server_error: f64,
}

/// Parses the arguments; `Ok(None)` for `--help`.
fn parse(args: Vec<String>) -> Result<Option<Args>, String> {
    let mut out = Args::default();
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_string(), Some(value.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match inline.clone().or_else(|| iter.next()) {
                Some(v) => Ok(v),
                None => Err(format!("{flag} needs a value ({what})")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--shape" => match value("demo or f200")?.as_str() {
                "demo" => out.f200 = false,
                "f200" => out.f200 = true,
                other => return Err(format!("--shape: unknown shape {other:?} (demo or f200)")),
            },
            "--tenants" => {
                let v = value("a number of tenants")?;
                match v.parse::<usize>() {
                    Ok(n) if (1..=10_000).contains(&n) => out.tenants = Some(n),
                    _ => return Err(format!("--tenants: {v:?} is not a number of tenants from 1 to 10000")),
                }
            }
            "--seed" => {
                let v = value("an unsigned integer")?;
                out.seed = Some(v.parse().map_err(|_| format!("--seed: {v:?} is not an unsigned integer"))?);
            }
            "--port" => {
                let v = value("a TCP port")?;
                out.port = v.parse().map_err(|_| format!("--port: {v:?} is not a TCP port (0 to 65535)"))?;
            }
            "--fleet-file" => {
                let v = value("a path")?;
                if v.is_empty() {
                    return Err("--fleet-file: the path is empty".to_string());
                }
                out.fleet_file = Some(PathBuf::from(v));
            }
            "--latency-ms" => {
                let v = value("milliseconds")?;
                match v.parse::<u64>() {
                    Ok(ms) if ms <= 600_000 => out.latency_ms = ms,
                    _ => return Err(format!("--latency-ms: {v:?} is not a number of milliseconds up to 600000")),
                }
            }
            "--throttle" => out.throttle = share(&flag, &value("a share from 0 to 1")?)?,
            "--server-error" => out.server_error = share(&flag, &value("a share from 0 to 1")?)?,
            "--aws-quotas" | "--until-stdin-closes" | "--realistic" | "--monitoring" if inline.is_some() => {
                return Err(format!("{flag} takes no value"));
            }
            "--aws-quotas" => out.aws_quotas = true,
            "--realistic" => out.realistic = true,
            "--monitoring" => out.monitoring = true,
            "--until-stdin-closes" => out.until_stdin_closes = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if out.f200 && out.tenants.is_some() {
        return Err("--tenants: the f200 shape has its own 200 tenants; use --tenants with --shape demo".to_string());
    }
    Ok(Some(out))
}

fn share(flag: &str, v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("{flag}: {v:?} is not a share from 0 to 1")),
    }
}

/// A value as a POSIX shell word: as it is when nothing in it is special,
/// else in single quotes.
fn shell_word(value: &str) -> String {
    let plain = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-./:@%+,".contains(&b));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

fn main() -> ExitCode {
    let mut args = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.into_string() {
            Ok(a) => args.push(a),
            Err(a) => {
                eprintln!("fleetdeck-sim: argument {a:?} is not UTF-8");
                return ExitCode::from(2);
            }
        }
    }
    let args = match parse(args) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("fleetdeck-sim: {message}\nRun `fleetdeck-sim --help` for the options.");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fleetdeck-sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fleetdeck-sim: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let defaults = SimOptions::default();
    let opts = SimOptions {
        seed: args.seed.unwrap_or(defaults.seed),
        tenants: args.tenants.unwrap_or(defaults.tenants),
        shape: args.f200.then(SimShape::f200),
        realistic: args.realistic,
        monitoring: args.monitoring,
        ..defaults
    };
    let sim = SimFleet::start_on(opts, args.port)
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    let mut knobs = if args.aws_quotas { SimKnobs::aws_quotas() } else { SimKnobs::default() };
    knobs.latency = Duration::from_millis(args.latency_ms);
    knobs.faults = Faults { throttle: args.throttle, server_error: args.server_error, ..Faults::default() };
    sim.set_knobs(knobs);

    let mut lines = vec![
        ("AWS_ENDPOINT_URL", sim.endpoint()),
        ("AWS_ACCESS_KEY_ID", SimFleet::ACCESS_KEY_ID.to_string()),
        ("AWS_SECRET_ACCESS_KEY", SimFleet::SECRET_ACCESS_KEY.to_string()),
        ("AWS_REGION", SimFleet::BASE_REGION.to_string()),
        ("AWS_DEFAULT_REGION", SimFleet::BASE_REGION.to_string()),
    ];
    if let Some(path) = &args.fleet_file {
        let text = if args.monitoring { sim.monitoring_fleet_toml() } else { sim.fleet_toml() };
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        let path = path.to_str().ok_or_else(|| format!("{} is not UTF-8", path.display()))?.to_string();
        lines.push(("FLEETDECK_FLEET", path));
    }
    let mut stdout = std::io::stdout().lock();
    for (name, value) in &lines {
        writeln!(stdout, "{name}={}", shell_word(value)).map_err(|e| format!("cannot write to stdout: {e}"))?;
    }
    stdout.flush().map_err(|e| format!("cannot write to stdout: {e}"))?;
    drop(stdout);
    eprintln!("fleetdeck-sim: serving {} tenants on {} (Ctrl-C to stop)", sim.tenants().len(), sim.endpoint());

    shutdown(args.until_stdin_closes).await;
    drop(sim);
    Ok(())
}

/// Waits for SIGINT or SIGTERM, or for stdin's end of file when asked to.
async fn shutdown(until_stdin_closes: bool) {
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    if until_stdin_closes {
        // A blocking read on a thread of its own: tokio's stdin would need
        // a feature the simulator does not otherwise use.
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 1024];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = closed_tx.send(());
        });
    }
    let stdin_closed = async {
        if until_stdin_closes {
            let _ = closed_rx.await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminated = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminated = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated => {}
        _ = stdin_closed => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Option<Args>, String> {
        parse(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn flags_parse_and_bad_ones_name_themselves() {
        let a = args(&[
            "--shape",
            "f200",
            "--seed=9",
            "--port",
            "0",
            "--throttle",
            "0.5",
            "--aws-quotas",
            "--realistic",
            "--monitoring",
        ])
        .expect("valid")
        .expect("not help");
        assert!(a.f200 && a.aws_quotas && a.realistic && a.monitoring);
        assert_eq!((a.seed, a.port, a.throttle), (Some(9), 0, 0.5));
        assert!(args(&["--help"]).expect("help").is_none());
        for (bad, flag) in [
            (&["--tenants", "0"][..], "--tenants"),
            (&["--throttle", "2"], "--throttle"),
            (&["--port", "70000"], "--port"),
            (&["--shape", "huge"], "--shape"),
            (&["--seed"], "--seed"),
            (&["--shape", "f200", "--tenants", "5"], "--tenants"),
            (&["--aws-quotas=yes"], "--aws-quotas"),
            (&["--monitoring=1"], "--monitoring"),
            (&["--bogus"], "--bogus"),
        ] {
            let message = args(bad).expect_err("refused");
            assert!(message.contains(flag), "{message}");
        }
    }

    #[test]
    fn values_are_shell_words() {
        assert_eq!(shell_word("http://127.0.0.1:80"), "http://127.0.0.1:80");
        assert_eq!(shell_word("/tmp/a b'c"), "'/tmp/a b'\\''c'");
    }
}
