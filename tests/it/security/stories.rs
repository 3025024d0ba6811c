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
        // GetCallerIdentity names the sessions after the person (it needs
        // no permission and reads nothing of a tenant's).
        let allowed = r.iam_action == "sts:AssumeRole"
            || r.iam_action == "sts:GetCallerIdentity"
            || r.iam_action == "sts:GetFederationToken"
            || READ_ACTIONS.contains(&r.iam_action.as_str());
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
        // Named after the caller identity (the simulator's base user is
        // `fleetdeck-demo`), not after whatever `$USER` says.
        assert_eq!(r.session_name, "fleetdeck-demo", "the session name of {}", r.role_arn);
        // And the caller's own name rides along as SourceIdentity, which
        // the tenant's CloudTrail shows on every call and chained session.
        assert_eq!(r.source_identity.as_deref(), Some("fleetdeck-demo"), "the source identity of {}", r.role_arn);
    }
    // The payer is read without payer_role_arn, so through the base user's
    // own federation token, narrowed by the same session policy, never with
    // the base keys themselves.
    assert_eq!(w.fleet.payer_role_arn, None);
    let federated = w.sim.federation_token_requests();
    assert_eq!(federated.len(), 1, "one federation token for the whole sync: {federated:#?}");
    assert_eq!(federated[0].policy.as_deref(), Some(policy.as_str()));
    assert_eq!(federated[0].session_name, "fleetdeck-demo");
    // (That the reads use it, not the base keys, shows in check.rs: with
    // GetFederationToken denied, cost fails instead of reading unscoped.)
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
        static_session_token: None,
        max_attempts: 1,
        ..Default::default()
    })
    .await;
    let path = dir.path().join("cache.sqlite");
    let cache = Cache::open(&path).await.unwrap();
    let summary = sync::run(&fleet, &catalog, &aws, &cache, &SyncOptions::at(now), &|_| {}).await.unwrap();
    // This moto holds no metric of these tenants: their metrics are "no
    // data" (said, not hidden); nothing else fails.
    let other: Vec<&String> = fleetdeck_testkit::beyond_moto(&summary)
        .into_iter()
        .filter(|e| !e.contains(" metrics: not configured (GetMetricData allowed, but no datapoints"))
        .collect();
    assert_eq!(other, Vec::<&String>::new());

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
