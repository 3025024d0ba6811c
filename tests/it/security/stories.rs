//! The security claims, one test each.

use super::*;

/// Every request a whole sync sent to the simulated fleet (its own count of
/// what it received, by IAM action) is AssumeRole or one of `READ_ACTIONS`;
/// and every AssumeRole the simulator received carried exactly
/// `aws::session_policy()` as its inline session policy. (Against moto, the
/// proxy's records prove the same: tests/moto_fleet.rs,
/// `fleetdeck_only_reads_through_least_privilege_sessions`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_sends_only_allowlisted_reads_and_every_assume_role_carries_the_read_only_policy() {
    let w = World::start(8, Catalog::builtin().unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache.sqlite")).await.unwrap();
    let summary = w.sync(&cache, w.epoch).await;
    assert_eq!(summary.sources_failed, 0, "{:#?}", summary.errors);

    let requests = w.sim.requests();
    let mut seen = BTreeSet::new();
    for r in &requests {
        let allowed = r.iam_action == "sts:AssumeRole" || READ_ACTIONS.contains(&r.iam_action.as_str());
        assert!(allowed, "fleetdeck sent {} ({} requests) to {} {}", r.iam_action, r.count, r.account, r.region);
        seen.insert(r.iam_action.as_str());
    }
    for needed in ["cloudwatch:GetMetricData", "logs:StartQuery", "ce:GetCostAndUsage", "sts:AssumeRole"] {
        assert!(seen.contains(needed), "the sync never sent {needed}, so the check saw little: {seen:?}");
    }

    let assumed = w.sim.assume_role_requests();
    let counted: u64 = requests.iter().filter(|r| r.iam_action == "sts:AssumeRole").map(|r| r.count).sum();
    assert_eq!(assumed.len() as u64, counted, "the simulator recorded every AssumeRole it counted");
    let mut roles: BTreeSet<&str> = w.fleet.tenants.iter().map(|t| t.role_arn.as_str()).collect();
    roles.extend(w.fleet.payer_role_arn.as_deref());
    let assumed_roles: BTreeSet<&str> = assumed.iter().map(|r| r.role_arn.as_str()).collect();
    assert_eq!(assumed_roles, roles, "every role of the fleet was assumed, and no other");
    let policy = aws::session_policy();
    // The policy itself allows exactly READ_ACTIONS, nothing else.
    let doc: serde_json::Value = serde_json::from_str(&policy).unwrap();
    let statements = doc["Statement"].as_array().expect("statements");
    assert!(statements.iter().all(|s| s["Effect"] == "Allow" && s["Resource"] == "*"), "{policy}");
    let allowed: BTreeSet<&str> = statements
        .iter()
        .flat_map(|s| s["Action"].as_array().into_iter().flatten())
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(allowed, READ_ACTIONS.iter().copied().collect::<BTreeSet<_>>(), "what the session policy allows");
    for r in &assumed {
        assert_eq!(r.policy.as_deref(), Some(policy.as_str()), "the session policy sent with {}", r.role_arn);
        assert!(r.issued.is_some(), "{} was refused", r.role_arn);
    }
}

// ---------------------------------------------------------------------------
// 2. No credential at rest

/// After a sync against the simulated fleet, neither the cache file nor its
/// WAL and SHM (read as raw bytes while the cache is open, and again after
/// a CLI run exits) nor the CLI's debug log (`FLEETDECK_LOG=debug`, on
/// stderr) contains the base keys or any session key id, secret or token
/// the simulator issued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_secret_or_session_token_reaches_the_cache_files_or_the_debug_log() {
    let w = World::start(6, Catalog::builtin().unwrap()).await;
    let dir = tempfile::tempdir().unwrap();

    // In process, scanned while the pool is open: the WAL holds the pages.
    let path = dir.path().join("in-process.sqlite");
    let cache = Cache::open(&path).await.unwrap();
    let summary = w.sync(&cache, w.epoch).await;
    assert_eq!(summary.sources_failed, 0, "{:#?}", summary.errors);
    let secrets = sim_secrets(&w.sim);
    assert!(secrets.len() > 6, "sessions were issued, so there are secrets to look for");
    let files = cache_bytes(&path);
    assert!(files.iter().any(|(p, b)| p.to_string_lossy().ends_with("-wal") && !b.is_empty()), "the WAL was scanned");
    for (file, bytes) in &files {
        let hits = found(bytes, &secrets);
        assert!(hits.is_empty(), "{} holds {hits:?}", file.display());
    }
    drop(cache);

    // The CLI, with debug logging, against the same simulated fleet; base
    // keys from the environment, as a user's would be.
    let fleet_file = dir.path().join("fleet.toml");
    std::fs::write(&fleet_file, w.sim.fleet_toml()).unwrap();
    let cli_cache = dir.path().join("cli/cache.sqlite");
    let before = w.sim.assume_role_requests().len();
    let out = Command::new(env!("CARGO_BIN_EXE_fleetdeck"))
        .arg("sync")
        .arg("--fleet")
        .arg(&fleet_file)
        .arg("--cache")
        .arg(&cli_cache)
        .env("FLEETDECK_LOG", "debug")
        .env("AWS_ACCESS_KEY_ID", SimFleet::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SimFleet::SECRET_ACCESS_KEY)
        .env("HOME", dir.path())
        .env("AWS_CONFIG_FILE", dir.path().join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("no-aws-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run fleetdeck sync");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "fleetdeck sync failed:\n{stderr}");
    assert!(stderr.lines().count() > 20, "debug logging was on:\n{stderr}");
    let secrets = sim_secrets(&w.sim);
    assert!(w.sim.assume_role_requests().len() > before, "the CLI assumed roles of its own");
    let hits = found(&out.stderr, &secrets);
    let lines: Vec<&str> = stderr.lines().filter(|l| !found(l.as_bytes(), &secrets).is_empty()).take(5).collect();
    assert!(hits.is_empty(), "the debug log holds {hits:?}:\n{}", lines.join("\n"));
    let hits = found(&out.stdout, &secrets);
    assert!(hits.is_empty(), "stdout holds {hits:?}");
    for (file, bytes) in cache_bytes(&cli_cache) {
        let hits = found(&bytes, &secrets);
        assert!(hits.is_empty(), "{} holds {hits:?}", file.display());
    }
}

/// The same against moto, whose AssumeRole keys fleetdeck did not choose:
/// the keys moto issued (read back from moto's own state) are nowhere in
/// the cache files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_issued_by_moto_reaches_the_cache_files() {
    let moto = fleetdeck_testkit::moto();
    let proxy = fleetdeck_testkit::cbor_proxy::start(&moto.url).await;
    let now = fleetdeck_engine::clock::now();
    const BASE_KEY: &str = "AKIDFLEETDECKSECURITY";
    const BASE_SECRET: &str = "moto-base-secret-5e1f0c9a7b";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("metrics.toml"),
        "[[metric]]\nkey = \"requests\"\nlabel = \"Requests\"\nunit = \"count\"\nmodels = [\"silo\"]\n\
         namespace = \"SaaS/App\"\nname = \"Requests\"\nstat = \"Sum\"\nperiod = 60\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("logs.toml"), "").unwrap();
    let catalog = Catalog::load(Some(dir.path())).unwrap();
    let fleet_toml = format!(
        "[fleet]\nname = \"moto\"\nregion = \"us-east-1\"\nrole_name = \"FleetdeckReadOnly\"\nendpoint_url = \"{}\"\n\
         [[tenant]]\nid = \"alpha\"\ntier = \"t\"\nmodel = \"silo\"\naccount = \"111111111111\"\nexternal_id = \"ext-alpha\"\nhome_region = \"us-east-1\"\n\
         [[tenant]]\nid = \"beta\"\ntier = \"t\"\nmodel = \"silo\"\naccount = \"222222222222\"\nexternal_id = \"ext-beta\"\nhome_region = \"us-east-1\"\n",
        proxy.url
    );
    let fleet = Fleet::parse(Path::new("fleet.toml"), &fleet_toml, &catalog).unwrap();
    let aws = AwsAccess::new(&AwsSettings {
        region: "us-east-1".into(),
        endpoint_url: fleet.endpoint_url.clone(),
        static_credentials: Some((BASE_KEY.into(), BASE_SECRET.into())),
        max_attempts: 1,
        ..Default::default()
    })
    .await;
    let path = dir.path().join("cache.sqlite");
    let cache = Cache::open(&path).await.unwrap();
    let summary = sync::run(&fleet, &catalog, &aws, &cache, &SyncOptions::at(now), &|_| {}).await.unwrap();
    assert_eq!(summary.sources_failed, 0, "{:?}", summary.errors);

    let state: serde_json::Value = ureq::get(&format!("{}/moto-api/data.json", moto.url))
        .call()
        .expect("moto's state")
        .body_mut()
        .read_json()
        .expect("moto's state is JSON");
    let mut secrets =
        vec![("base key id".to_string(), BASE_KEY.to_string()), ("base secret".to_string(), BASE_SECRET.to_string())];
    for (i, role) in state["sts"]["AssumedRole"].as_array().expect("moto lists assumed roles").iter().enumerate() {
        for field in ["access_key_id", "secret_access_key", "session_token"] {
            secrets.push((format!("moto session {i} {field}"), role[field].as_str().unwrap_or_default().to_string()));
        }
    }
    assert!(secrets.len() >= 8, "both tenants' roles were assumed: {}", secrets.len());
    for (file, bytes) in cache_bytes(&path) {
        let hits = found(&bytes, &secrets);
        assert!(hits.is_empty(), "{} holds {hits:?}", file.display());
    }
}

// ---------------------------------------------------------------------------
// 3. Cache file modes

/// The cache file, its WAL and its SHM are 0600, in a folder created 0700.
/// (crates/engine/src/cache.rs `a_new_cache_file_and_its_wal_are_owner_only` covers
/// the file and the WAL; this adds the SHM, after real writes.)
#[cfg(unix)]
#[tokio::test]
async fn the_cache_its_wal_and_shm_are_owner_only_in_an_owner_only_folder() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleetdeck/cache.sqlite");
    let cache = Cache::open(&path).await.unwrap();
    cache.set_meta("fleet_name", "private").await.unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode();
    assert_eq!(mode(&dir.path().join("fleetdeck")) & 0o777, 0o700, "the cache folder");
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        assert_eq!(mode(&file) & 0o777, 0o600, "{}", file.display());
    }
}

// ---------------------------------------------------------------------------
// 4. Tenant isolation in the views

/// A fleet file of pooled tenants that all carry the same `TenantId`
/// dimension value and the same names: nothing but the tenant id tells them
/// apart.
fn colliding_fleet(ids: &[&str], names: &[String]) -> Fleet {
    let mut toml = String::from("[fleet]\nregion = \"us-east-1\"\nrole_name = \"FleetdeckReadOnly\"\n");
    for (id, name) in ids.iter().zip(names) {
        toml.push_str(&format!(
            "[[tenant]]\nid = \"{id}\"\nname = {}\ntier = \"standard\"\nmodel = \"pooled\"\naccount = \"111111111111\"\n\
             home_region = \"us-east-1\"\nextra_regions = [\"eu-west-1\"]\nselector.dimensions = {{ TenantId = \"shared\" }}\n",
            serde_json::to_string(name).unwrap()
        ));
    }
    Fleet::parse(Path::new("fleet.toml"), &toml, &Catalog::builtin().unwrap()).expect("valid fleet")
}

const NOW: i64 = 1_800_000_000;

/// Writes `points` (per region) of the `requests` series of `tenant` with
/// the colliding key.
async fn write_points(cache: &Cache, tenant: &str, region: &str, points: &[(i64, f64)]) {
    let key = SeriesKey {
        tenant_id: tenant,
        region,
        metric_key: "requests",
        namespace: "SaaS/App",
        metric_name: "Requests",
        dimensions: r#"{"TenantId":"shared"}"#,
        stat: "Sum",
        period: 60,
        unit: "count",
    };
    let (id, _) = cache.series(&key).await.unwrap();
    cache.commit_points(&[PointBatch { series_id: id, points: points.to_vec(), watermark: NOW }]).await.unwrap();
}

fn chart_request(tenant: &str) -> ChartRequest {
    ChartRequest {
        tenant: tenant.into(),
        region: "us-east-1".into(),
        metric: "requests".into(),
        width: 600,
        height: 240,
        hours: Some(6),
        // The tier's median line is an aggregate over tenants by design
        // (and labelled so); isolation is about the tenant's own series.
        ..ChartRequest::default()
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

const IDS: &[&str] = &["a", "a-1", "a1", "ab", "acme", "acme-2", "b"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// For any set of tenants sharing metric name, dimensions and region,
    /// each tenant's chart is exactly the chart of a cache that holds only
    /// that tenant's rows: same point count, same SVG.
    #[test]
    fn a_tenant_chart_shows_that_tenant_and_no_other(
        chosen in proptest::sample::subsequence(IDS.to_vec(), 2..=5),
        counts in proptest::collection::vec((0usize..40, 0usize..20, 1u32..1000), 5),
    ) {
        block_on(async {
            let names: Vec<String> = chosen.iter().map(|_| "Same Name".to_string()).collect();
            let fleet = colliding_fleet(&chosen, &names);
            let catalog = Catalog::builtin().unwrap();
            let mixed = Cache::in_memory().await.unwrap();
            mixed.record_fleet(&fleet).await.unwrap();
            let series = |n: usize, base: u32| -> Vec<(i64, f64)> {
                (1..=n as i64).map(|k| (NOW - 60 * k, base as f64 + k as f64)).collect()
            };
            for (id, (n, eu, base)) in chosen.iter().zip(&counts) {
                write_points(&mixed, id, "us-east-1", &series(*n, *base)).await;
                write_points(&mixed, id, "eu-west-1", &series(*eu, base + 7)).await;
            }
            for (id, (n, _, base)) in chosen.iter().zip(&counts) {
                let got = view::tenant_chart(&mixed, &catalog, &chart_request(id), NOW).await.unwrap();
                prop_assert_eq!(got.points as usize, *n, "{}'s chart counts other rows", id);
                let solo = Cache::in_memory().await.unwrap();
                solo.record_fleet(&fleet).await.unwrap();
                write_points(&solo, id, "us-east-1", &series(*n, *base)).await;
                let alone = view::tenant_chart(&solo, &catalog, &chart_request(id), NOW).await.unwrap();
                prop_assert!(got == alone, "{}'s chart differs from its chart alone", id);
            }
            Ok(())
        })?;
    }

    /// The Fleet view's rows carry only their own tenant's name, health and
    /// reasons, one row per (tenant, region) written, however names collide.
    #[test]
    fn fleet_overview_rows_carry_only_their_own_tenants_data(
        chosen in proptest::sample::subsequence(IDS.to_vec(), 2..=6),
        picks in proptest::collection::vec((0usize..3, 0usize..4, any::<bool>()), 6),
    ) {
        block_on(async {
            const NAMES: [&str; 3] = ["Acme", "Acme ", "<b>Acme</b>"];
            const HEALTH: [Health; 4] = [Health::Ok, Health::Degraded, Health::Critical, Health::Unknown];
            let names: Vec<String> = picks.iter().take(chosen.len()).map(|(n, _, _)| NAMES[*n].to_string()).collect();
            let fleet = colliding_fleet(&chosen, &names);
            let cache = Cache::in_memory().await.unwrap();
            cache.record_fleet(&fleet).await.unwrap();
            let mut rows = Vec::new();
            let mut want = BTreeMap::new();
            for (id, (_, h, both)) in chosen.iter().zip(&picks) {
                let regions: &[&str] = if *both { &["us-east-1", "eu-west-1"] } else { &["us-east-1"] };
                for region in regions {
                    let reasons = vec![format!("reason of {id} in {region}")];
                    want.insert((id.to_string(), region.to_string()), (HEALTH[*h], reasons.clone()));
                    rows.push(HealthRow {
                        tenant_id: id.to_string(),
                        region: region.to_string(),
                        health: HEALTH[*h],
                        reasons,
                        focus_metric: None,
                        fresh_at: None,
                    });
                }
            }
            cache.replace_health(&rows, NOW * 1000).await.unwrap();
            let overview = view::fleet_overview(&cache, &Catalog::builtin().unwrap(), false, NOW).await.unwrap();
            let mut got = BTreeMap::new();
            for row in &overview.rows {
                let t = fleet.tenant(&row.tenant).expect("a row of a tenant in the fleet");
                prop_assert_eq!(&row.name, &t.name, "{}'s row carries another tenant's name", &row.tenant);
                prop_assert!(
                    got.insert((row.tenant.clone(), row.region.clone()), (row.health, row.reasons.clone())).is_none(),
                    "two rows for {} {}", &row.tenant, &row.region
                );
            }
            prop_assert_eq!(got, want);
            Ok(())
        })?;
    }
}

// ---------------------------------------------------------------------------
// 5. Untrusted text is escaped

/// Every `<` in the SVG opens one of the SVG elements plotters writes, and
/// every `&` starts an entity: no text could add an element or attribute.
fn svg_is_escaped(doc: &str) -> Result<(), String> {
    const TAGS: &[&str] = &["svg", "rect", "text", "polyline", "line", "circle", "path", "g", "polygon", "?xml"];
    for (i, _) in doc.match_indices('<') {
        let rest = doc[i + 1..].trim_start_matches('/');
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '?').collect();
        if !TAGS.contains(&name.as_str()) || !rest[name.len()..].starts_with([' ', '>', '/', '\n']) {
            return Err(format!("unexpected markup at {i}: {:?}", &doc[i..(i + 40).min(doc.len())]));
        }
    }
    for (i, _) in doc.match_indices('&') {
        let rest = &doc[i..];
        if !["&lt;", "&gt;", "&amp;", "&quot;", "&apos;", "&#"].iter().any(|e| rest.starts_with(e)) {
            return Err(format!("bare & at {i}: {:?}", &rest[..rest.len().min(20)]));
        }
    }
    Ok(())
}

/// Strings made mostly of the characters that matter to HTML, SVG, CSV and
/// Logs Insights, plus any other character.
fn hostile_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::sample::select(vec![
                "<", ">", "&", "\"", "'", "`", "\\", "=", "+", "-", "@", "\t", "\r", "\n", ",", "|", ";",
                "<script>", "</text>", "&amp;", "\u{0}", "\u{1b}[31m", "=HYPERLINK(", "\" or 1=1 | display @message",
            ])
            .prop_map(str::to_string),
            3 => "[a-zA-Z0-9 ]{1,6}",
            1 => any::<char>().prop_map(|c| c.to_string()),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

/// A CSV cell as a spreadsheet reads it back (RFC 4180).
fn csv_unquote(cell: &str) -> String {
    match cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => cell.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any title, unit and line label come out escaped in the chart's SVG.
    #[test]
    fn chart_svgs_escape_any_text(title in hostile_text(), unit in hostile_text(), label in hostile_text()) {
        let points = [(0, 1.0), (60, 2.0), (120, 1.5)];
        let doc = chart::svg(&ChartSpec {
            title: &title,
            unit: &unit,
            lines: vec![
                Line { label: &label, points: &points, band: &[] },
                Line { label: &label, points: &points, band: &[] },
            ],
            warn: Some(1.2),
            critical: Some(1.8),
            // An alarm's name comes from the tenant's account too.
            rules: vec![chart::Rule { value: 1.6, label: &label }],
            spans: &[(30, 90)],
            from: 0,
            to: 120,
            width: 400,
            height: 200,
            dark: false,
            utc_offset_secs: 0,
        })
        .unwrap();
        prop_assert!(doc.starts_with("<svg"));
        if let Err(e) = svg_is_escaped(&doc) {
            prop_assert!(false, "title {:?}, unit {:?}, label {:?}: {}", title, unit, label, e);
        }
    }

    /// No CSV cell starts a formula: a cell beginning with `=`, `+`, `-`,
    /// `@`, tab or CR (not a plain number) reads back with a `'` in front,
    /// and every cell reads back as its value (or `'` + its value).
    #[test]
    fn csv_cells_never_start_a_formula(value in hostile_text()) {
        let cell = csv_field(&value);
        let read = csv_unquote(&cell);
        let numeric = value.parse::<f64>().is_ok_and(f64::is_finite) && !value.starts_with(['\t', '\r']);
        if !numeric {
            prop_assert!(!read.starts_with(['=', '+', '-', '@', '\t', '\r']), "{:?} -> {:?}", value, cell);
        }
        prop_assert!(read == value || read == format!("'{value}"), "{:?} -> {:?}", value, cell);
        let quoted = cell.starts_with('"');
        prop_assert!(quoted || !cell.contains([',', '"', '\n', '\r']), "{:?} -> {:?}", value, cell);
    }

    /// A tenant value put into a Logs Insights query stays one string
    /// literal: it reads back (JSON string rules, which Logs Insights
    /// shares for `\"`, `\\`, `\n`, `\r`, `\t`) as the value less control
    /// characters, and nothing follows it.
    #[test]
    fn logs_insights_literals_cannot_be_broken_out_of(value in hostile_text()) {
        let literal = logs_string_literal(&value);
        let back: String = serde_json::from_str(&literal).map_err(|e| TestCaseError::fail(format!("{literal}: {e}")))?;
        let want: String = value.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')).collect();
        prop_assert_eq!(back, want);
        let q = LogsQuery { key: "k".into(), label: "l".into(), query: "filter level = \"ERROR\"{tenant_filter} | limit 5".into(), raw_lines: false };
        let text = q.render(Some("tenant_id"), &value);
        prop_assert_eq!(text, format!("filter level = \"ERROR\" and `tenant_id` = {literal} | limit 5"));
    }
}

// ---------------------------------------------------------------------------
// 6. Data residency

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
            let ours = failing.is_some_and(|src| key.2 == src && (key.0 == silo.id || (src == "cost" && key.0 == "*")));
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
