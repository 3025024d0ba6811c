//! Real servers for integration tests, each started on a loopback port and
//! stopped when its guard drops: moto (an independent AWS emulator), a
//! translating proxy in front of it, and helpers to find tools.

pub mod broken;
pub mod bulk;
pub mod cbor_proxy;
pub mod nab;
pub mod synthetic;
pub mod world;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A sync's failures other than the one moto always causes: moto answers
/// DescribeAlarmHistory with HTTP 500 (AWS-EMULATION.md), so against moto
/// every tenant-region's `alarm_history` source fails, and nothing else
/// should.
pub fn beyond_moto(summary: &fleetdeck_engine::model::SyncSummary) -> Vec<&String> {
    summary.errors.iter().filter(|e| !e.contains(" alarm_history: ")).collect()
}

/// A child process killed on drop, so a failing test leaves nothing behind.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Python venv with moto: `FLEETDECK_VENV`, else the one the README's
/// commands create.
pub fn venv() -> PathBuf {
    std::env::var_os("FLEETDECK_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs::home_dir().unwrap_or_default().join(".cache/fleetdeck/venv"))
}

/// A running moto server.
pub struct Moto {
    pub url: String,
    _child: Guard,
}

/// Start `moto_server` on a free loopback port. Readiness is moto's own
/// "Running on" line, printed once its socket listens: no polling, no sleep.
pub fn moto() -> Moto {
    let bin = venv().join("bin/moto_server");
    assert!(
        bin.exists(),
        "moto is not installed at {} (run the README's test command, which installs it)",
        bin.display()
    );
    let port = free_port();
    let mut child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start moto_server");
    let stderr = child.stderr.take().expect("moto stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    loop {
        match lines.next() {
            Some(Ok(line)) => {
                if line.contains("Running on") {
                    break;
                }
                seen.push(line);
            }
            _ => panic!("moto_server exited before listening:\n{}", seen.join("\n")),
        }
    }
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Moto { url: format!("http://127.0.0.1:{port}"), _child: Guard(child) }
}

/// A port that was free a moment ago (the OS picks it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// POST JSON to moto's control API.
pub fn moto_api(moto: &Moto, path: &str, body: &str) {
    moto_api_at(&moto.url, path, body)
}

/// POST JSON to the control API of the moto at `url` (for code that holds
/// only its address, such as a proxy stage).
pub fn moto_api_at(url: &str, path: &str, body: &str) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let resp =
        agent.post(&format!("{url}{path}")).header("content-type", "application/json").send(body).expect("moto api");
    assert!(resp.status().is_success(), "moto {path}: {}", resp.status());
}

/// The access key the tests' seeding identity signs with (the proxy tells
/// its requests from fleetdeck's by it).
pub const SEEDER_KEY: &str = "AKIDSEEDER";

/// Configuration for acting as `account`'s own application in `region`
/// against moto at `endpoint`: the seeder assumes the account's `Seeder`
/// role, and service configs built from the returned base take these
/// credentials.
pub async fn as_seeder(
    endpoint: &str,
    account: &str,
    region: &str,
) -> (aws_config::SdkConfig, aws_sdk_sts::config::Credentials) {
    use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(SEEDER_KEY, "secret", None, None, "seeder"))
        .load()
        .await;
    let assumed = aws_sdk_sts::Client::new(&base)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/Seeder"))
        .role_session_name("seeder")
        .send()
        .await
        .expect("assume role for seeding");
    let c = assumed.credentials().expect("credentials");
    let creds =
        Credentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().to_string()), None, "seeded");
    (base, creds)
}
