//! Security of what comes in: residency text, the window's CSP and
//! capability, chart requests, malformed AWS answers and a skewed clock.

use super::*;

/// The simulated fleet's error lines carry e-mail addresses, client IPs
/// and API keys. With a catalog holding a raw-lines query and a query that
/// returns the same lines but is not marked raw: residency tenants get no
/// raw line cached (only the count), and what is cached for them holds no
/// e-mail, IP or key; the same query's rows of the other tenants do hold
/// them (so the check can see them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn residency_tenants_cache_no_raw_lines_and_only_redacted_text() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("logs.toml"),
        r#"
[[query]]
key = "recent_errors"
label = "Latest error lines"
raw_lines = true
query = 'fields @timestamp, @message | filter level = "ERROR"{tenant_filter} | sort @timestamp desc | limit 50'

[[query]]
key = "sample_lines"
label = "Error lines, declared as not raw (a catalog may get this wrong)"
raw_lines = false
query = 'fields @timestamp, @message | filter level = "ERROR"{tenant_filter} | sort @timestamp desc | limit 20'
"#,
    )
    .unwrap();
    let w = World::start(24, Catalog::load(Some(dir.path())).unwrap()).await;
    let residency: BTreeSet<String> = w.fleet.tenants.iter().filter(|t| t.residency).map(|t| t.id.clone()).collect();
    assert!(!residency.is_empty(), "the simulated fleet has residency tenants");
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let summary = w.sync(&cache, w.epoch).await;
    assert_eq!(summary.sources_failed, 0, "{:#?}", summary.errors);

    let personal = regex::Regex::new(
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}|\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b|sk_live_[0-9a-f]+",
    )
    .unwrap();
    let rows = sqlx::query("SELECT tenant_id, query_key, rows, records_matched, withheld FROM log_result")
        .fetch_all(cache.pool())
        .await
        .unwrap();
    let (mut residency_text, mut other_leaks) = (0, 0);
    for r in &rows {
        let (tenant, key, text): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        let (matched, withheld): (i64, bool) = (r.get(3), r.get(4));
        if residency.contains(&tenant) {
            if key == "recent_errors" {
                assert!(withheld, "{tenant}: raw lines were not withheld");
                assert_eq!(text, "[]", "{tenant}: raw lines were cached");
            } else {
                residency_text += text.len();
                let leak: Vec<&str> = personal.find_iter(&text).map(|m| m.as_str()).collect();
                assert!(leak.is_empty(), "{tenant} {key}: cached {leak:?}");
            }
            let _ = matched;
        } else if key == "sample_lines" && personal.is_match(&text) {
            other_leaks += 1;
        }
    }
    assert!(residency_text > 100, "residency tenants cached aggregated text to check");
    assert!(other_leaks > 0, "other tenants' text shows the data the check looks for");

    // Secrets are redacted for every tenant, always: no API key is cached.
    for r in &rows {
        let (tenant, key, text): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        assert!(!text.contains("sk_live_"), "{tenant} {key}: an API key was cached");
    }
    // A residency tenant's raw lines never left AWS: in its own account the
    // raw-lines query was sent as a count, with no field of a line asked for.
    let own: Vec<&fleetdeck_engine::fleet::Tenant> =
        w.fleet.tenants.iter().filter(|t| t.residency && t.model.owns_account()).collect();
    assert!(!own.is_empty(), "a residency tenant with an account of its own");
    for t in own {
        let sent: Vec<String> =
            w.sim.insights_queries().into_iter().filter(|(a, _, _)| *a == t.account).map(|(_, _, q)| q).collect();
        assert!(sent.iter().any(|q| q.ends_with("| stats count(*) as lines")), "{}: {sent:#?}", t.id);
        assert!(sent.iter().all(|q| !q.contains("@message") || !q.contains("sort @timestamp desc | limit 50")));
        let raw: Vec<&String> = sent.iter().filter(|q| q.contains("limit 50")).collect();
        assert!(raw.is_empty(), "{}: the raw-lines query was sent as is: {raw:#?}", t.id);
    }
}

/// Personal data and secrets planted in any text are gone after redaction.
fn planted() -> impl Strategy<Value = (String, Vec<String>)> {
    let secret = prop_oneof![
        ("[a-z]{1,8}", "[a-z]{2,8}").prop_map(|(u, d)| format!("{u}@{d}.com")),
        (any::<[u8; 4]>()).prop_map(|b| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])),
        (any::<[u16; 8]>()).prop_map(|b| std::net::Ipv6Addr::from(b).to_string()),
        "[A-Z2-7]{16}".prop_map(|k| format!("AKIA{k}")),
        "[a-f0-9]{40}".prop_map(|t| format!("token={t}")),
    ];
    proptest::collection::vec((secret, "[ :,;()\\[\\]=\"]{1,8}"), 1..5).prop_map(|parts| {
        let text = parts.iter().map(|(s, sep)| format!("{s}{sep} ")).collect();
        (text, parts.into_iter().map(|(s, _)| s).collect())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn planted_personal_data_and_secrets_do_not_survive_redaction((text, secrets) in planted()) {
        let out = fleetdeck_engine::redact::redact(&text);
        for s in &secrets {
            // An address like `::` or `0.0.0.0` is no personal data; the
            // value part of token=... is what must go.
            let needle = s.strip_prefix("token=").unwrap_or(s);
            if needle.len() >= 7 {
                prop_assert!(!out.contains(needle), "{:?} survived in {:?} (from {:?})", needle, out, text);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 7. The Tauri window

/// The window's CSP allows no `unsafe-eval`, no `unsafe-inline`, no remote
/// origin (only Tauri's own IPC); its one capability is scoped to the main
/// window and grants only commands build.rs declares (no plugin's, no core
/// permission); no other
/// capability file exists; and no shell, fs, http or opener plugin is a
/// dependency.
#[test]
fn the_window_csp_capability_and_dependencies_allow_nothing_more() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let conf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("tauri.conf.json")).unwrap()).unwrap();
    let security = &conf["app"]["security"];
    let csp = security["csp"].as_object().expect("a CSP, as directives");
    assert_eq!(csp.get("default-src").and_then(|v| v.as_str()), Some("'self'"));
    assert_eq!(csp.get("script-src").and_then(|v| v.as_str()), Some("'self'"));
    assert_eq!(csp.get("object-src").and_then(|v| v.as_str()), Some("'none'"));
    for (directive, value) in csp {
        let value = value.as_str().expect("directive values are strings");
        for source in value.split_whitespace() {
            let ipc = directive == "connect-src" && ["ipc:", "http://ipc.localhost"].contains(&source);
            let ok = ipc || ["'self'", "'none'", "data:"].contains(&source);
            assert!(ok, "{directive} allows {source}");
            assert!(!(source == "data:" && directive != "img-src"), "{directive} allows data:");
        }
    }
    assert_eq!(conf["app"]["withGlobalTauri"], false, "no global Tauri object for injected script");
    assert_eq!(security["freezePrototype"], true);
    assert!(security.get("dangerousDisableAssetCspModification").is_none());
    assert!(security.get("assetProtocol").is_none(), "no asset protocol scope");

    // The commands build.rs declares from src-tauri/commands.rs (each
    // becomes an `allow-<command>` permission): the capability grants
    // exactly those.
    let build = std::fs::read_to_string(root.join("src-tauri/build.rs")).unwrap();
    assert!(build.contains("with_commands!(command_names)"), "build.rs declares the one command list");
    let list = std::fs::read_to_string(root.join("src-tauri/commands.rs")).unwrap();
    let list = list.split("$then![").nth(1).and_then(|r| r.split(']').next()).expect("commands.rs lists commands");
    let commands: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| format!("allow-{}", c.replace('_', "-")))
        .collect();
    assert!(commands.contains(&"allow-tenant-chart".to_string()), "{commands:?}");
    let caps = security["capabilities"].as_array().expect("capabilities inline");
    assert_eq!(caps.len(), 1, "one capability");
    for cap in caps {
        assert_eq!(cap["windows"], serde_json::json!(["main"]), "scoped to the main window");
        assert!(cap.get("webviews").is_none() && cap.get("remote").is_none(), "no webview or remote scope");
        let granted: Vec<&str> = cap["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().expect("plain permission identifiers, no scoped objects"))
            .collect();
        for p in &granted {
            assert!(commands.iter().any(|c| c == p), "the capability grants {p}, not one of fleetdeck's commands");
        }
        for c in &commands {
            assert!(granted.contains(&c.as_str()), "the command list has {c}, which the capability does not grant");
        }
    }
    for dir in ["capabilities", "src-tauri/capabilities"] {
        assert!(!root.join(dir).exists(), "{dir}/ would add capabilities Tauri loads on its own");
    }
    let windows = conf["app"]["windows"].as_array().unwrap();
    assert!(windows.iter().all(|w| w["label"] == "main" && w.get("url").is_none()), "one local window");

    let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml")).unwrap().parse().unwrap();
    for section in ["dependencies", "build-dependencies", "dev-dependencies"] {
        for name in manifest.get(section).and_then(|d| d.as_table()).into_iter().flat_map(|d| d.keys()) {
            assert!(!name.starts_with("tauri-plugin"), "{section} has {name}");
        }
    }
    let tauri = &manifest["dependencies"]["tauri"];
    let features: Vec<&str> =
        tauri.get("features").and_then(|f| f.as_array()).into_iter().flatten().filter_map(|f| f.as_str()).collect();
    for risky in ["shell-open", "shell-execute", "fs-all", "http-all", "devtools", "macos-private-api"] {
        assert!(!features.contains(&risky), "tauri feature {risky}");
    }
}

/// The chart command's arguments are bounded: time range (1 hour to 400
/// days), size (100-4000 x 80-2000 px) and text lengths; anything else is
/// refused with `ViewError::BadRequest` (IPC code `bad_request`) before the
/// cache is read, and the bounds themselves are accepted.
#[tokio::test]
async fn chart_requests_out_of_bounds_are_refused_with_a_typed_error() {
    let fleet = colliding_fleet(&["acme"], &["Acme".to_string()]);
    let catalog = Catalog::builtin().unwrap();
    let cache = Cache::in_memory().await.unwrap();
    cache.record_fleet(&fleet).await.unwrap();
    write_points(&cache, "acme", "us-east-1", &[(NOW - 60, 1.0)]).await;
    let base = chart_request("acme");
    let long = "a".repeat(65);
    let bad = [
        ("zero hours", ChartRequest { hours: Some(0), ..base.clone() }),
        ("over 400 days", ChartRequest { hours: Some(400 * 24 + 1), ..base.clone() }),
        ("u32::MAX hours", ChartRequest { hours: Some(u32::MAX), ..base.clone() }),
        ("too narrow", ChartRequest { width: 99, ..base.clone() }),
        ("too wide", ChartRequest { width: 4001, ..base.clone() }),
        ("too short", ChartRequest { height: 79, ..base.clone() }),
        ("too tall", ChartRequest { height: 2001, ..base.clone() }),
        ("long tenant", ChartRequest { tenant: long.clone(), ..base.clone() }),
        ("long region", ChartRequest { region: "r".repeat(33), ..base.clone() }),
        ("long metric", ChartRequest { metric: long.clone(), ..base.clone() }),
    ];
    for (what, req) in bad {
        match view::tenant_chart(&cache, &catalog, &req, NOW).await {
            Err(ViewError::BadRequest(_)) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
    let good = [
        ChartRequest { hours: Some(1), width: 100, height: 80, ..base.clone() },
        ChartRequest { hours: Some(400 * 24), width: 4000, height: 2000, ..base.clone() },
        ChartRequest { hours: None, ..base.clone() },
    ];
    for req in good {
        let chart = view::tenant_chart(&cache, &catalog, &req, NOW).await.unwrap_or_else(|e| panic!("{req:?}: {e}"));
        assert_eq!(chart.points, 1);
    }
    let unknown = ChartRequest { tenant: "nobody".into(), ..base };
    assert!(matches!(view::tenant_chart(&cache, &catalog, &unknown, NOW).await, Err(ViewError::NotFound(_))));
}

// ---------------------------------------------------------------------------
// 9. Malformed answers from AWS

/// Content of the cache a user reads: per (tenant, region, metric) points.
async fn points(cache: &Cache) -> BTreeMap<(String, String, String), BTreeMap<i64, f64>> {
    let rows = sqlx::query(
        "SELECT s.tenant_id, s.region, s.metric_key, d.ts, d.value FROM datapoint d JOIN series s ON s.id = d.series_id",
    )
    .fetch_all(cache.pool())
    .await
    .unwrap();
    let mut out: BTreeMap<(String, String, String), BTreeMap<i64, f64>> = BTreeMap::new();
    for r in rows {
        out.entry((r.get(0), r.get(1), r.get(2))).or_default().insert(r.get(3), r.get(4));
    }
    out
}

/// The simulated fleet garbles the answers of one account (or one action)
/// in each way a broken answer can be garbled. Each time, the sync records
/// an error for the affected sources only, or sanitises what it stores
/// (NaN/Inf skipped, disorder and duplicates sorted out, a 10 MB log line
/// cut), keeps every other source as a calm sync does, and leaves a cache
/// that passes `PRAGMA integrity_check` and holds no NaN, infinity or NULL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_fail_only_their_source_and_leave_a_valid_cache() {
    let w = World::start(5, Catalog::builtin().unwrap()).await;
    let silo = w
        .sim
        .tenants()
        .iter()
        .find(|t| t.model == SimModel::Silo && w.sim.tenants().iter().filter(|o| o.account == t.account).count() == 1)
        .expect("a silo tenant")
        .clone();
    let dir = tempfile::tempdir().unwrap();
    let reference = Cache::open(&dir.path().join("reference.sqlite")).await.unwrap();
    let calm = w.sync(&reference, w.epoch).await;
    assert_eq!(calm.sources_failed, 0, "{:#?}", calm.errors);
    let calm_points = points(&reference).await;
    let calm_status = statuses(&reference).await;

    // (kind, account, action, the source that must fail, if any)
    let payer = SimFleet::PAYER_ACCOUNT.to_string();
    let cases: Vec<(MalformedKind, String, &str, Option<&str>)> = vec![
        (MalformedKind::Truncated, silo.account.clone(), "GetMetricData", Some("metrics")),
        (MalformedKind::WrongTypes, silo.account.clone(), "GetMetricData", Some("metrics")),
        (MalformedKind::NonUtf8, silo.account.clone(), "GetMetricData", Some("metrics")),
        (MalformedKind::Truncated, silo.account.clone(), "DescribeAlarms", Some("alarms")),
        (MalformedKind::WrongTypes, silo.account.clone(), "GetQueryResults", Some("logs")),
        (MalformedKind::NonUtf8, silo.account.clone(), "GetQueryResults", Some("logs")),
        (MalformedKind::Truncated, payer.clone(), "GetCostAndUsage", Some("cost")),
        (MalformedKind::NonFinite, silo.account.clone(), "GetMetricData", None),
        (MalformedKind::NonFinite, silo.account.clone(), "DescribeAlarms", None),
        (MalformedKind::NonFinite, payer.clone(), "GetCostAndUsage", None),
        (MalformedKind::Unordered, silo.account.clone(), "GetMetricData", None),
        (MalformedKind::HugeLogLine, silo.account.clone(), "GetQueryResults", None),
    ];
    for (i, (kind, account, action, failing)) in cases.into_iter().enumerate() {
        let story = format!("{kind:?} {action} in {account}");
        let path = dir.path().join(format!("case-{i}.sqlite"));
        let cache = Cache::open(&path).await.unwrap();
        w.sim.set_knobs(SimKnobs {
            clock: Some(w.epoch),
            malformed: Some(Malformed { account: Some(account.clone()), action: Some(action.into()), kind }),
            ..SimKnobs::default()
        });
        let summary = w.sync(&cache, w.epoch).await;
        w.sim.set_knobs(SimKnobs { clock: Some(w.epoch), ..SimKnobs::default() });

        let status = statuses(&cache).await;
        assert_eq!(status.keys().collect::<Vec<_>>(), calm_status.keys().collect::<Vec<_>>(), "{story}: sources");
        let mut failed = Vec::new();
        for (key, (s, error)) in &status {
            // The alarm history is read after the alarms: it fails with them.
            let source_fails = |src: &str| key.2 == src || (src == "alarms" && key.2 == "alarm_history");
            let ours =
                failing.is_some_and(|src| source_fails(src) && (key.0 == silo.id || (src == "cost" && key.0 == "*")));
            if ours {
                assert_ne!(s, "ok", "{story}: {key:?} should have failed");
                assert!(!error.is_empty(), "{story}: {key:?} failed without saying why");
                failed.push(key.clone());
            } else {
                assert_eq!(s, "ok", "{story}: {key:?} failed: {error}");
            }
        }
        assert_eq!(failing.is_some(), !failed.is_empty(), "{story}: failed sources {failed:?}");
        assert_eq!(summary.sources_failed as usize, failed.len(), "{story}: {:#?}", summary.errors);

        drop(cache);
        assert_integrity(&path, &story).await;
        let cache = Cache::open(&path).await.unwrap();
        let odd: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM datapoint WHERE value IS NULL OR value != value OR abs(value) > 1.7e308)
                  + (SELECT count(*) FROM cost_daily WHERE amount IS NULL OR amount != amount OR abs(amount) > 1.7e308)
                  + (SELECT count(*) FROM alarm WHERE threshold != threshold OR abs(threshold) > 1.7e308)",
        )
        .fetch_one(cache.pool())
        .await
        .unwrap();
        assert_eq!(odd, 0, "{story}: NaN, infinity or NULL stored");

        let got = points(&cache).await;
        for (key, calm_series) in &calm_points {
            let series = got.get(key).cloned().unwrap_or_default();
            let garbled = key.0 == silo.id && action == "GetMetricData";
            match (garbled, kind) {
                (true, MalformedKind::NonFinite) => {
                    assert!(series.len() < calm_series.len(), "{story}: {key:?} kept non-finite points");
                    for (ts, v) in &series {
                        assert_eq!(calm_series.get(ts), Some(v), "{story}: {key:?} at {ts}");
                    }
                }
                (true, MalformedKind::Unordered) | (false, _) => {
                    assert_eq!(&series, calm_series, "{story}: {key:?} differs from a calm sync")
                }
                (true, _) => assert!(series.is_empty(), "{story}: {key:?} stored points of a broken answer"),
            }
        }
        if kind == MalformedKind::HugeLogLine {
            let longest: i64 =
                sqlx::query_scalar("SELECT max(length(rows)) FROM log_result").fetch_one(cache.pool()).await.unwrap();
            assert!(longest < 200_000, "{story}: a cached log result of {longest} bytes");
            let cut: i64 = sqlx::query_scalar("SELECT count(*) FROM log_result WHERE rows LIKE '%[cut: %'")
                .fetch_one(cache.pool())
                .await
                .unwrap();
            assert!(cut > 0, "{story}: the huge line was cached, cut, and says so");
        }
    }
}

// ---------------------------------------------------------------------------
// 10. Clock skew

/// The laptop's clock is an hour off AWS's: every request is refused with
/// `RequestTimeTooSkewed`, and each source says the clock is off and how to
/// fix it, rather than blaming credentials. With the clock right, the same
/// check lets the sync through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skewed_clock_is_reported_as_such_with_its_fix() {
    let w = World::start(3, Catalog::builtin().unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    w.sim.set_knobs(SimKnobs { clock: Some(w.epoch), check_request_time: true, ..SimKnobs::default() });
    let right = Cache::open(&dir.path().join("right.sqlite")).await.unwrap();
    let summary = w.sync(&right, w.epoch).await;
    assert_eq!(summary.sources_failed, 0, "a clock within 5 minutes passes: {:#?}", summary.errors);

    // AWS's clock an hour ahead of the laptop's.
    w.sim.set_knobs(SimKnobs { clock: Some(w.epoch + 3600), check_request_time: true, ..SimKnobs::default() });
    let skewed = Cache::open(&dir.path().join("skewed.sqlite")).await.unwrap();
    let summary = w.sync(&skewed, w.epoch).await;
    assert!(summary.sources_failed > 0, "{summary:#?}");
    let failing = skewed.failing_sources().await.unwrap();
    assert!(!failing.is_empty());
    for s in &failing {
        assert_eq!(s.status, "clock_skew", "{s:?}");
        let fix = s.remediation.as_deref().unwrap_or_default();
        assert!(fix.contains("clock is off by more than 5 minutes") && fix.contains("timedatectl"), "{fix}");
    }
    let refused: u64 = w.sim.requests().iter().filter(|r| r.account.is_empty()).map(|r| r.count).sum();
    assert!(refused > 0, "the simulator refused requests");
}
