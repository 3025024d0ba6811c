//! The engineer's own credentials, as `check` and `sync` tell about them: an
//! SSO profile not logged in, a profile that does not exist, no credentials
//! at all. Each is "no credentials" with the exact fix, never "endpoint
//! unreachable ... check the network"; the identity in use and where it came
//! from is said first; AWS's words come without the SDK's debug dumps; no
//! SDK log line or colour escape lands above the table; and a call that was
//! never sent is not counted.
//!
//! Each run has a home of its own (its `~/.aws`), an empty environment and
//! the instance metadata service turned off, so nothing outside the test
//! decides which credentials exist.

use std::path::Path;
use std::process::{Command, Output};

use fleetdeck_engine::catalog::Catalog;
use fleetdeck_testkit::world::{epoch_now, World};

use fleetdeck_testkit::broken::SSO_CONFIG;

/// The binary in an empty environment with `home` as its home.
pub(crate) fn fleetdeck(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleetdeck"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().expect("run fleetdeck")
}

struct Setup {
    _world: World,
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Setup {
        let world = World::start_with(3, Catalog::builtin().unwrap(), epoch_now()).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".aws")).unwrap();
        std::fs::write(dir.path().join(".aws/config"), SSO_CONFIG).unwrap();
        std::fs::write(dir.path().join("fleet.toml"), world.sim.fleet_toml()).unwrap();
        Setup { _world: world, dir }
    }

    fn check(&self, env: &[(&str, &str)], extra: &[&str]) -> (String, String) {
        let fleet = self.dir.path().join("fleet.toml");
        let cache = self.dir.path().join("cache.sqlite");
        let mut args = vec!["--fleet", fleet.to_str().unwrap(), "--cache", cache.to_str().unwrap()];
        args.extend(extra);
        args.push("check");
        let out = fleetdeck(self.dir.path(), env, &args);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// What every credentials failure shares: classified, AWS's words without
/// debug dumps, nothing sent or counted, a clean stderr.
fn assert_no_credentials(stdout: &str, stderr: &str) {
    assert!(stdout.contains("credentials  FAILED: no credentials"), "{stdout}");
    assert!(!stdout.contains("unreachable") && !stdout.contains("check the network"), "{stdout}");
    assert!(!stdout.contains("ProviderError") && !stdout.contains("DispatchFailure"), "debug dump: {stdout}");
    assert!(stdout.contains("; 0 API calls ($0.0000 at list prices)"), "nothing was sent: {stdout}");
    assert!(!stderr.contains('\u{1b}') && !stderr.contains("WARN"), "SDK log lines on stderr: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sso_profile_not_logged_in_says_aws_sso_login() {
    let s = Setup::new().await;
    let (stdout, stderr) = s.check(&[], &["--profile", "sso-dev"]);
    assert!(stdout.lines().next().unwrap().ends_with(r#" as profile "sso-dev" (from --profile)"#), "{stdout}");
    assert_no_credentials(&stdout, &stderr);
    assert!(stdout.contains("    fix: log in to AWS SSO: aws sso login --profile sso-dev\n"), "{stdout}");
    assert!(stdout.contains("failed to load the cached SSO token"), "AWS's own words: {stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_that_does_not_exist_is_named_with_where_it_came_from() {
    let s = Setup::new().await;
    let (stdout, stderr) = s.check(&[("AWS_PROFILE", "prod-typo")], &[]);
    assert!(stdout.lines().next().unwrap().ends_with(r#" as profile "prod-typo" (from AWS_PROFILE)"#), "{stdout}");
    assert_no_credentials(&stdout, &stderr);
    let config = s.dir.path().join(".aws/config");
    assert!(
        stdout.contains(&format!(
            r#"    fix: profile "prod-typo" (named by AWS_PROFILE) is in neither {} nor"#,
            config.display()
        )),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credentials_at_all_says_how_to_give_some() {
    let s = Setup::new().await;
    let (stdout, stderr) = s.check(&[], &[]);
    assert!(stdout.lines().next().unwrap().contains(" as the default credential chain"), "{stdout}");
    assert_no_credentials(&stdout, &stderr);
    assert!(stdout.contains("    fix: no AWS credentials found: pass --profile NAME, set AWS_PROFILE"), "{stdout}");
}

/// A sync says which identity it reads as before it reads anything, and
/// its sources say "no credentials", not "unreachable".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_names_its_identity_first_and_its_sources_say_no_credentials() {
    let s = Setup::new().await;
    let fleet = s.dir.path().join("fleet.toml");
    let cache = s.dir.path().join("cache.sqlite");
    let out = fleetdeck(
        s.dir.path(),
        &[],
        &["--fleet", fleet.to_str().unwrap(), "--cache", cache.to_str().unwrap(), "--profile", "sso-dev", "sync"],
    );
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        stderr.lines().next().unwrap_or_default() == r#"fleetdeck: reading AWS as profile "sso-dev" (from --profile)"#,
        "{stderr}"
    );
    assert!(stdout.contains("no credentials"), "{stdout}");
    assert!(!stdout.contains("unreachable"), "{stdout}");
}
