//! The real console window, driven over WebDriver: tauri-driver and
//! WebKitWebDriver on an Xvfb display this test starts itself. An on-call
//! engineer opens fleetdeck on the simulated fleet and sees every tenant
//! listed with its health, the incident tenant first.

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use support::Guard;

/// Xvfb on the first free display; `-displayfd` reports it once it is ready.
fn xvfb() -> (Guard, String) {
    let mut child = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1400x900x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start Xvfb (apt-get install xvfb)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("Xvfb display number");
    let display = format!(":{}", line.trim());
    assert!(line.trim().parse::<u32>().is_ok(), "Xvfb said {line:?}");
    (Guard(child), display)
}

fn tauri_driver() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return p.into();
    }
    let home = dirs::home_dir().unwrap_or_default().join(".cargo/bin/tauri-driver");
    if home.exists() {
        return home;
    }
    "tauri-driver".into()
}

struct WebDriver {
    base: String,
    agent: ureq::Agent,
}

impl WebDriver {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let resp = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, b) => self.agent.post(&url).send_json(b.unwrap_or(json!({}))),
        };
        let mut resp = resp.map_err(|e| e.to_string())?;
        let status = resp.status();
        let v: Value = resp.body_mut().read_json().map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status}: {v}"));
        }
        Ok(v["value"].clone())
    }
}

/// The console's real window on a display of its own, driven over WebDriver.
struct Console {
    wd: WebDriver,
    sid: String,
    /// Where the app saves CSV exports (`FLEETDECK_EXPORT_DIR`).
    exports: tempfile::TempDir,
    _driver: Guard,
    _x: Guard,
}

impl Console {
    fn open(args: &[&str]) -> Console {
        let (x, display) = xvfb();
        let port = support::free_port();
        let native = support::free_port();
        let exports = tempfile::tempdir().unwrap();
        let mut driver = Command::new(tauri_driver());
        driver
            .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .env("DISPLAY", &display)
            .env("FLEETDECK_EXPORT_DIR", exports.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let driver = Guard(driver.spawn().expect("start tauri-driver (cargo install tauri-driver --locked)"));
        let wd = WebDriver {
            base: format!("http://127.0.0.1:{port}"),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(120)))
                .build()
                .into(),
        };
        // tauri-driver has no readiness signal: wait for its status endpoint.
        let deadline = Instant::now() + Duration::from_secs(30);
        while wd.call("GET", "/status", None).is_err() {
            assert!(Instant::now() < deadline, "tauri-driver did not come up");
            // A readiness poll, not a synchronisation: each try is instant.
            std::thread::sleep(Duration::from_millis(25));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"tauri:options": {
            "application": env!("CARGO_BIN_EXE_fleetdeck"),
            "args": args,
        }}}});
        let session = wd.call("POST", "/session", Some(caps)).expect("new session");
        let sid = session["sessionId"].as_str().expect("session id").to_string();
        let console = Console { wd, sid, exports, _driver: driver, _x: x };
        console.call("POST", "/timeouts", Some(json!({"script": 90_000}))).unwrap();
        console
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.wd.call(method, &format!("/session/{}{path}", self.sid), body)
    }

    /// Run a script in the page; `wait` scripts call their last argument.
    fn script(&self, wait: bool, script: &str) -> Value {
        let kind = if wait { "/execute/async" } else { "/execute/sync" };
        self.call("POST", kind, Some(json!({"script": script, "args": []}))).expect(script)
    }

    /// Wait, inside the page, until `condition` (a JS expression) holds: a
    /// MutationObserver re-checks it on every DOM change.
    fn wait_for(&self, condition: &str) {
        let script = format!(
            r#"
            const done = arguments[arguments.length - 1];
            const ok = () => {{ try {{ return !!({condition}); }} catch (e) {{ return false; }} }};
            if (ok()) {{ done(true); }} else {{
              const obs = new MutationObserver(() => {{ if (ok()) {{ obs.disconnect(); done(true); }} }});
              obs.observe(document.documentElement, {{subtree: true, childList: true, attributes: true, characterData: true}});
            }}
            "#
        );
        assert_eq!(self.script(true, &script), true, "{condition}");
    }

    fn screenshot(&self, name: &str) {
        // The DOM may be ahead of the pixels: wait for two frames to be
        // painted, so the picture shows what the assertions just saw.
        self.script(true, "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));");
        let png = self.call("GET", "/screenshot", None).unwrap();
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"));
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("screenshots");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join(name), &bytes).unwrap();
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.call("DELETE", "", None);
    }
}

#[test]
fn the_fleet_view_lists_every_simulated_tenant_with_its_health() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("demo.sqlite");
    let console = Console::open(&["--demo", "--cache", cache.to_str().unwrap()]);

    // Wait, inside the page, until the first sync has filled the table: a
    // MutationObserver resolves as soon as the rows are there.
    let wait = r#"
        const done = arguments[arguments.length - 1];
        const rows = () => document.querySelectorAll('#fleet-table tr[data-tenant]');
        const check = () => {
          const r = rows();
          const synced = !document.querySelector('#sync-progress progress');
          if (r.length >= 24 && synced) { obs.disconnect(); done(r.length); return true; }
          return false;
        };
        const obs = new MutationObserver(check);
        obs.observe(document.documentElement, {subtree: true, childList: true, attributes: true, characterData: true});
        check();
    "#;
    let n = console.script(true, wait);
    assert!(n.as_u64().unwrap() >= 24, "{n}");

    let read = r#"return Array.from(document.querySelectorAll('#fleet-table tr[data-tenant]')).map(r => [r.dataset.tenant, r.dataset.region, r.dataset.health, r.textContent]);"#;
    let rows = console.script(false, read);
    let rows = rows.as_array().unwrap();
    let tenants: BTreeSet<&str> = rows.iter().map(|r| r[0].as_str().unwrap()).collect();
    assert_eq!(tenants.len(), 24, "{tenants:?}");
    for r in rows {
        assert!(["ok", "degraded", "critical", "unknown"].contains(&r[2].as_str().unwrap()), "{r}");
    }
    assert_eq!(rows[0][2], "critical", "worst first: {}", rows[0]);
    assert!(rows.iter().any(|r| r[0] == "globex" && r[1] == "us-east-1" && r[2] == "critical"));

    let banner =
        console.script(false, "const b = document.getElementById('demo-banner'); return b ? b.textContent : null;");
    assert!(banner.as_str().unwrap_or("").contains("DEMO"), "{banner}");
    // Untrusted names are shown as text, never as markup.
    let injected = console.script(
        false,
        "return document.querySelectorAll('#fleet-table script, #fleet-table b, #fleet-table img').length;",
    );
    assert_eq!(injected, 0);

    // The chart of the selected (worst) tenant is drawn.
    let chart = r#"
        const done = arguments[arguments.length - 1];
        const ok = () => { const i = document.getElementById('focus-chart'); return i && i.complete && i.naturalWidth > 0; };
        if (ok()) { done(true); } else {
          const obs = new MutationObserver(() => { if (ok()) { obs.disconnect(); done(true); } });
          obs.observe(document.documentElement, {subtree: true, childList: true, attributes: true});
          document.addEventListener('load', () => { if (ok()) done(true); }, true);
        }
    "#;
    assert_eq!(console.script(true, chart), true);
    console.screenshot("fleet-view.png");

    // The account manager: Cost, sorted by change, biggest rise first.
    console.script(false, "location.hash = '#/cost';");
    console.wait_for("document.querySelectorAll('#cost-table tr[data-tenant]').length >= 24");
    console.script(false, "document.getElementById('sort-change').click();");
    console.wait_for("document.querySelector('#cost-table th[aria-sort=descending] #sort-change') !== null");
    let changes = console.script(
        false,
        "return Array.from(document.querySelectorAll('#cost-table tr[data-tenant]')).map(r => [r.dataset.tenant, r.dataset.change]);",
    );
    let changes: Vec<(String, Option<f64>)> = changes
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_str().unwrap().parse::<f64>().ok()))
        .collect();
    let known: Vec<f64> = changes.iter().filter_map(|(_, c)| *c).collect();
    assert!(known.len() >= 20, "most tenants have a last month to compare with: {changes:?}");
    assert!(known.windows(2).all(|w| w[0] >= w[1]), "sorted by change, descending: {changes:?}");
    // The simulated cost jump (hooli, 3 days ago) is among the top movers.
    let movers = console
        .script(false, "return Array.from(document.querySelectorAll('#top-movers li')).map(l => l.dataset.tenant);");
    assert!(movers.as_array().unwrap().iter().any(|t| t == "hooli"), "top movers: {movers}");
    // ...and exports it: the file has the table's rows in the order shown.
    console.script(false, "document.getElementById('export-cost').click();");
    console.wait_for("document.getElementById('export-cost-status')?.dataset.ok === 'true'");
    let saved: Vec<_> = std::fs::read_dir(console.exports.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let csv = std::fs::read_to_string(&saved[0]).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "tenant,name,tier,month_to_date,last_month,forecast,change");
    assert_eq!(lines.len(), 1 + changes.len());
    let exported: Vec<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    let shown: Vec<&str> = changes.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(exported, shown, "exported in the order shown");
    console.screenshot("cost-view.png");

    // Sources: every tenant-region's metrics, alarms and logs, read fine.
    console.script(false, "location.hash = '#/sources';");
    console.wait_for("document.querySelectorAll('#sources-table tr[data-source]').length > 0");
    let sources = console.script(
        false,
        "return Array.from(document.querySelectorAll('#sources-table tr[data-source]')).map(r => [r.dataset.tenant, r.dataset.region, r.dataset.source, r.dataset.status]);",
    );
    let sources = sources.as_array().unwrap();
    let metrics: BTreeSet<(&str, &str)> = sources
        .iter()
        .filter(|s| s[2] == "metrics")
        .map(|s| (s[0].as_str().unwrap(), s[1].as_str().unwrap()))
        .collect();
    let tenant_regions: BTreeSet<(&str, &str)> =
        rows.iter().map(|r| (r[0].as_str().unwrap(), r[1].as_str().unwrap())).collect();
    assert_eq!(metrics, tenant_regions, "one metrics source per tenant-region of the fleet view");
    assert!(sources.iter().all(|s| s[3] == "ok"), "the simulated fleet reads cleanly: {sources:?}");
    let calls = console.script(false, "return document.getElementById('kpi-last-calls').textContent;");
    assert!(calls.as_str().unwrap().chars().next().is_some_and(|c| c.is_ascii_digit()), "{calls}");
    console.screenshot("sources-view.png");

    // The on-call engineer: Incidents shows globex's error spike (found by
    // the detector) and its alarm; the anomaly opens its evidence, globex
    // us-east-1 picked on the Fleet view with its chart.
    console.script(false, "location.hash = '#/incidents';");
    console.wait_for("document.querySelector('#incidents-table tr[data-tenant=globex][data-kind=anomaly]') !== null");
    let kinds = console.script(
        false,
        "return Array.from(document.querySelectorAll('#incidents-table tr[data-tenant=globex]')).map(r => r.dataset.kind + ' ' + r.dataset.subject);",
    );
    let kinds: Vec<&str> = kinds.as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert!(kinds.iter().any(|k| k.starts_with("alarm")), "globex's alarm episode is on the timeline: {kinds:?}");
    let injected = console
        .script(false, "return document.querySelectorAll('#incidents-table script, #incidents-table img').length;");
    assert_eq!(injected, 0);
    console.screenshot("incidents-view.png");
    console.script(
        false,
        "document.querySelector('#incidents-table tr[data-tenant=globex][data-kind=anomaly] a.evidence').click();",
    );
    console.wait_for(
        "location.hash.startsWith('#/fleet/globex/') && document.querySelector('#fleet-table tr.is-selected')?.dataset.tenant === 'globex'",
    );
    let picked = console.script(false, "return document.querySelector('#fleet-table tr.is-selected').dataset.region;");
    assert_eq!(picked, "us-east-1");
    console.wait_for(
        "(() => { const i = document.getElementById('focus-chart'); return i && i.complete && i.naturalWidth > 0; })()",
    );
    console.screenshot("incident-evidence.png");
}

/// Started from a desktop menu with a broken fleet file, fleetdeck does not
/// vanish: the window opens and says which file, line and field to fix.
#[test]
fn a_broken_fleet_file_is_explained_in_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet.toml");
    std::fs::write(
        &fleet,
        "[fleet]\nregion = \"us-east-1\"\nrole_name = \"R\"\n\n[[tenant]]\nid = \"acme\"\ntier = \"gold\"\nmodel = \"pooled\"\naccount = \"111111111111\"\nhome_region = \"mars-north-1\"\n",
    )
    .unwrap();
    let cache = dir.path().join("cache.sqlite");
    let console = Console::open(&["--fleet", fleet.to_str().unwrap(), "--cache", cache.to_str().unwrap()]);
    let wait = r#"
        const done = arguments[arguments.length - 1];
        const text = () => { const e = document.getElementById('setup-failed'); return e ? e.textContent : null; };
        if (text()) { done(text()); return; }
        const obs = new MutationObserver(() => { const t = text(); if (t) { obs.disconnect(); done(t); } });
        obs.observe(document.documentElement, {subtree: true, childList: true, characterData: true});
    "#;
    let shown = console.script(true, wait);
    let shown = shown.as_str().unwrap();
    assert!(shown.contains(":10: tenant[0].home_region: unknown region \"mars-north-1\""), "{shown}");
    console.screenshot("broken-fleet-file.png");
}
