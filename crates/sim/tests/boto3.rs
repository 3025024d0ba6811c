//! A client we did not write: boto3 (from the moto venv the README's test
//! command installs) against the `fleetdeck-sim` binary. boto3 speaks
//! CloudWatch in AWS JSON 1.0, its default, and here also in AWS Query; the
//! Rust SDK the other tests use speaks RPC v2 CBOR. The calls and their
//! checks are in `boto3_calls.py`, which prints its figures as one JSON line.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

/// The simulator process; killed and reaped on drop, and in any case gone
/// once its stdin (kept here) closes.
struct Sim {
    child: Child,
    _stdin: ChildStdin,
    env: HashMap<String, String>,
    fleet_file: PathBuf,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.fleet_file);
    }
}

const LINES: [&str; 5] =
    ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "FLEETDECK_FLEET"];

/// Starts the binary on a free port and reads its `NAME=value` lines: they
/// come once it listens, so reading them is the wait.
fn start_sim() -> Sim {
    let fleet_file = std::env::temp_dir().join(format!("fleetdeck-sim-boto3-{}.toml", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetdeck-sim"))
        .args(["--until-stdin-closes", "--port", "0", "--fleet-file"])
        .arg(&fleet_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("fleetdeck-sim starts");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let mut env = HashMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read fleetdeck-sim's stdout");
        let (name, value) = line.split_once('=').unwrap_or_else(|| panic!("not NAME=value: {line}"));
        // Values are shell words: single-quoted when they need to be.
        let value = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).unwrap_or(value);
        env.insert(name.to_string(), value.replace("'\\''", "'"));
        if LINES.iter().all(|n| env.contains_key(*n)) {
            break;
        }
    }
    let sim = Sim { child, _stdin: stdin, env, fleet_file };
    for name in LINES {
        assert!(sim.env.contains_key(name), "fleetdeck-sim printed no {name}= line: {:?}", sim.env);
    }
    sim
}

fn python() -> PathBuf {
    let venv = std::env::var_os("FLEETDECK_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/fleetdeck/venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "boto3's Python is not installed at {} (run the README's test command, `make test`, which installs the venv; or set FLEETDECK_VENV)",
        python.display()
    );
    python
}

#[test]
fn boto3_reads_cloudwatch_in_json_and_query_and_sts_in_query() {
    let python = python();
    let sim = start_sim();
    assert!(sim.env["AWS_ENDPOINT_URL"].starts_with("http://127.0.0.1:"), "{:?}", sim.env);
    assert_eq!(sim.env["AWS_ACCESS_KEY_ID"], fleetdeck_sim::SimFleet::ACCESS_KEY_ID);
    assert_eq!(sim.env["AWS_REGION"], fleetdeck_sim::SimFleet::BASE_REGION);
    let fleet = std::fs::read_to_string(&sim.env["FLEETDECK_FLEET"]).expect("the fleet file was written");
    assert!(fleet.contains(&format!("endpoint_url = \"{}\"", sim.env["AWS_ENDPOINT_URL"])));

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/boto3_calls.py");
    let mut command = Command::new(&python);
    command
        .arg(script)
        .env_clear()
        .envs(&sim.env)
        // Nothing from this machine's AWS setup, nothing off loopback.
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    if let Some(home) = std::env::var_os("HOME") {
        command.env("HOME", home);
    }
    let out = command.output().expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "boto3_calls.py failed ({}):\n{stdout}\n{stderr}", out.status);

    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("one JSON line of figures");
    assert_eq!(summary["caller_account"], fleetdeck_sim::SimFleet::PAYER_ACCOUNT, "STS routed as STS: {summary}");
    let points = summary["datapoints"].as_u64().unwrap_or_default();
    assert!((50..=60).contains(&points), "an hour of one-minute datapoints: {summary}");
    assert_eq!(summary["paged_datapoints"].as_u64(), Some(points), "{summary}");
    assert!(summary["pages"].as_u64().unwrap_or_default() >= 2, "25 datapoints a page: {summary}");
    assert_eq!(summary["query_datapoints"].as_u64(), Some(points), "AWS Query answers the same: {summary}");
    assert_eq!(summary["in_alarm"], serde_json::json!(["globex-5xx-errors-critical"]), "{summary}");
    assert_eq!(summary["alarms"].as_array().map(Vec::len), Some(2), "{summary}");
    assert_eq!(summary["alarm_pages"].as_u64(), Some(2), "{summary}");
    assert_eq!(summary["query_alarms"].as_u64(), Some(2), "{summary}");
    assert_eq!(
        summary["error"],
        serde_json::json!({"code": "ValidationError", "type": "Sender", "status": 400, "exception": "ValidationException"}),
        "{summary}"
    );
    assert_eq!(summary["period_error"], "InvalidParameterValue", "{summary}");
    assert_eq!(summary["query_error"], "ValidationError", "{summary}");
}
