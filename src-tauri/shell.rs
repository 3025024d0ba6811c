//! The desktop shell: Tauri wiring only. Each command translates its
//! arguments, calls the engine, and returns a view model or an [`IpcError`]
//! with a stable `code`. Views read the cache only; a sync runs in the
//! background and streams progress over a channel. The one command that
//! calls AWS on demand, `run_triage`, runs a single read-only Logs
//! Insights query for the on-call engineer who asked for it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tauri::ipc::Channel;
use tauri::{generate_handler, Manager, State};

use fleetdeck_engine::clock::{day_of, now};
use fleetdeck_engine::model::{
    Chart, ChartExport, ChartRequest, CostChartRequest, CostView, CsvExport, FleetOverview, Heatmap, IncidentsView,
    IpcCode, IpcError, LogPanel, LogsRequest, Settings, SettingsView, SourcesView, SyncProgress, SyncState,
    SyncSummary, TenantView,
};
use fleetdeck_engine::report::{Format, Period, ReportSpec};
use fleetdeck_engine::session::{Session, SessionOptions};
use fleetdeck_engine::sync::SyncOptions;
use fleetdeck_engine::view;

struct AppState {
    /// Why the session could not open (bad fleet file, catalog, cache): the
    /// window still opens and says so, rather than the app exiting silently
    /// when started from a desktop menu.
    session: Result<Arc<Session>, String>,
    sync: Mutex<SyncState>,
    /// The viewer's preferences, and why the file could not be read if so.
    settings: Mutex<(Settings, Option<String>)>,
    settings_path: std::path::PathBuf,
    /// When the process started, for the cold-start line in the log.
    started: Instant,
    ready_logged: std::sync::Once,
}

impl AppState {
    fn session(&self) -> Result<&Arc<Session>, IpcError> {
        self.session.as_ref().map_err(|e| IpcError::new(IpcCode::Setup, e))
    }

    fn settings(&self) -> Settings {
        self.settings.lock().map(|s| s.0.clone()).unwrap_or_default()
    }
}

#[tauri::command]
async fn fleet_overview(state: State<'_, AppState>) -> Result<FleetOverview, IpcError> {
    let s = state.session()?;
    Ok(view::fleet_overview(&s.cache, &s.catalog, s.demo, now()).await?)
}

#[tauri::command]
async fn heatmap(state: State<'_, AppState>, hours: u32) -> Result<Heatmap, IpcError> {
    let s = state.session()?;
    Ok(view::heatmap(&s.cache, &s.catalog, hours, now()).await?)
}

#[tauri::command]
async fn tenant_view(state: State<'_, AppState>, tenant: String) -> Result<TenantView, IpcError> {
    let s = state.session()?;
    Ok(view::tenant(&s.cache, &s.catalog, &tenant, now()).await?)
}

#[tauri::command]
async fn tenant_chart(state: State<'_, AppState>, request: ChartRequest) -> Result<Chart, IpcError> {
    let s = state.session()?;
    Ok(view::tenant_chart(&s.cache, &s.catalog, &request, now()).await?)
}

#[tauri::command]
async fn cost_chart(state: State<'_, AppState>, request: CostChartRequest) -> Result<Chart, IpcError> {
    let s = state.session()?;
    Ok(view::cost_chart(&s.cache, &request, now()).await?)
}

/// Saves a chart as PNG or SVG in the Downloads folder; returns where.
#[tauri::command]
async fn export_chart(state: State<'_, AppState>, export: ChartExport) -> Result<String, IpcError> {
    let s = state.session()?;
    let path = view::export_chart(&s.cache, &s.catalog, &export, &view::export_dir(), now()).await?;
    Ok(path.display().to_string())
}

#[tauri::command]
async fn sources(state: State<'_, AppState>) -> Result<SourcesView, IpcError> {
    let s = state.session()?;
    Ok(view::sources(&s.cache, &s.fleet, &s.catalog, &state.settings(), now()).await?)
}

#[tauri::command]
async fn cost_overview(state: State<'_, AppState>) -> Result<CostView, IpcError> {
    let s = state.session()?;
    let today = day_of(now());
    Ok(view::cost(&s.cache, today).await?)
}

#[tauri::command]
async fn incidents(state: State<'_, AppState>, hours: u32) -> Result<IncidentsView, IpcError> {
    let s = state.session()?;
    Ok(view::incidents(&s.cache, hours, now()).await?)
}

/// Saves a table as CSV in the Downloads folder; returns where.
#[tauri::command]
async fn export_csv(table: CsvExport) -> Result<String, IpcError> {
    let path = view::save_csv(&table, &view::export_dir(), now())?;
    Ok(path.display().to_string())
}

/// Writes the executive summary (no tenant) or one tenant's report in the
/// Downloads folder, the same file `fleetdeck report` writes; returns where.
#[tauri::command]
async fn export_report(
    state: State<'_, AppState>,
    tenant: Option<String>,
    days: u32,
    format: Format,
) -> Result<String, IpcError> {
    let s = state.session()?;
    if !(1..=30).contains(&days) {
        return Err(IpcError::new(IpcCode::BadRequest, "a report covers 1 to 30 days"));
    }
    let spec = ReportSpec { period: Period::days(days), tenant, format };
    let at = now();
    let rendered = fleetdeck_engine::report::render(&s.cache, &s.catalog, &spec, at).await.map_err(|e| match e {
        fleetdeck_engine::report::ReportError::UnknownTenant(_) => IpcError::new(IpcCode::NotFound, e),
        fleetdeck_engine::report::ReportError::BadRequest(_) => IpcError::new(IpcCode::BadRequest, e),
        _ => IpcError::new(IpcCode::Internal, e),
    })?;
    let path = view::export_dir().join(fleetdeck_engine::report::file_name(&spec, at));
    fleetdeck_engine::report::write_private(&path, &rendered.bytes).map_err(|e| IpcError::new(IpcCode::Internal, e))?;
    Ok(path.display().to_string())
}

/// Runs one triage query now (read-only Logs Insights in the tenant's
/// account) over the last `hours`; the result comes back, the cache keeps
/// the sync's own.
#[tauri::command]
async fn run_triage(state: State<'_, AppState>, request: LogsRequest) -> Result<LogPanel, IpcError> {
    let s = state.session()?;
    if s.offline {
        return Err(IpcError::new(IpcCode::Offline, "fleetdeck was started with --offline: it calls no AWS API"));
    }
    if !(1..=168).contains(&request.hours) {
        return Err(IpcError::new(IpcCode::BadRequest, "a triage query covers 1 to 168 hours"));
    }
    let end = now();
    let window = (end - i64::from(request.hours) * 3600, end);
    let result = fleetdeck_engine::sync::triage_now(
        &s.fleet,
        &s.catalog,
        &s.aws,
        &request.tenant,
        &request.region,
        &request.query,
        window,
    )
    .await
    .map_err(|f| {
        let fix = if f.remediation.is_empty() { String::new() } else { format!("; fix: {}", f.remediation) };
        IpcError::new(IpcCode::Aws, format!("{}: {}{fix}", f.status.label(), f.message))
    })?;
    let (columns, rows) = view::log_table(&result.rows);
    Ok(LogPanel {
        label: s
            .catalog
            .logs
            .iter()
            .find(|q| q.key == result.query_key)
            .map_or(result.query_key.clone(), |q| q.label.clone()),
        region: result.region,
        query: result.query_key,
        window_start: window.0 * 1000,
        window_end: window.1 * 1000,
        columns,
        rows,
        records_matched: result.records_matched as f64,
        truncated: result.truncated,
        withheld: result.withheld,
        partial: result.partial,
        read_at: end * 1000,
    })
}

/// Opens one of the Tenant view's AWS console links in the system browser.
/// The window names the link (tenant, region, which); the URL is made here
/// again from the cache, so no address the page supplies is ever opened.
#[tauri::command]
async fn open_console(
    state: State<'_, AppState>,
    tenant: String,
    region: String,
    link: u32,
) -> Result<String, IpcError> {
    let s = state.session()?;
    let view = view::tenant(&s.cache, &s.catalog, &tenant, now()).await?;
    let page =
        view.console.iter().filter(|l| l.region == region).nth(link as usize).map(|l| l.url.clone()).ok_or_else(
            || IpcError::new(IpcCode::NotFound, format!("no console link {link} for {tenant} in {region}")),
        )?;
    if s.offline {
        return Err(IpcError::new(IpcCode::Offline, "fleetdeck was started with --offline: it calls no AWS API"));
    }
    let t = s
        .fleet
        .tenant(&tenant)
        .ok_or_else(|| IpcError::new(IpcCode::NotFound, format!("tenant {tenant} is no longer in the fleet file")))?;
    // Signed in as the tenant's own session (ExternalId, read-only session
    // policy): the sign-in URL goes to the browser and nowhere else.
    let ext = t.external_id.as_deref();
    let creds = s.aws.role(&t.role_arn, ext).await;
    let signed_in = async {
        s.aws.check(&creds, &t.role_arn, ext).await?;
        fleetdeck_engine::signin::console_url(&s.aws, &creds, &page).await
    };
    let url = signed_in.await.map_err(|f| {
        IpcError::new(
            IpcCode::Aws,
            format!("could not sign in to the AWS console: {}; fix: {}", f.message, f.remediation),
        )
    })?;
    open_in_browser(&url).map_err(|e| IpcError::new(IpcCode::Internal, format!("could not start a browser: {e}")))?;
    Ok(page)
}

/// `$BROWSER` if set, else the desktop's opener. The URL is one argument,
/// never read by a shell.
fn open_in_browser(url: &str) -> std::io::Result<()> {
    let program = std::env::var_os("BROWSER").unwrap_or_else(|| {
        if cfg!(target_os = "macos") {
            "open".into()
        } else {
            "xdg-open".into()
        }
    });
    std::process::Command::new(program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
}

#[tauri::command]
async fn settings(state: State<'_, AppState>) -> Result<SettingsView, IpcError> {
    let s = state.session()?;
    let (settings, _) =
        state.settings.lock().map_err(|_| IpcError::new(IpcCode::Internal, "settings poisoned"))?.clone();
    let from = view::SettingsSources {
        cache: &s.cache,
        fleet: &s.fleet,
        catalog: &s.catalog,
        fleet_file: s.fleet_file.as_deref(),
        settings_path: &state.settings_path,
    };
    Ok(view::settings_view(from, settings, now()).await?)
}

/// The settings file's problem, if it could not be read (the defaults are
/// in use until the viewer saves).
#[tauri::command]
async fn settings_problem(state: State<'_, AppState>) -> Result<Option<String>, IpcError> {
    Ok(state.settings.lock().map_err(|_| IpcError::new(IpcCode::Internal, "settings poisoned"))?.1.clone())
}

#[tauri::command]
async fn save_settings(state: State<'_, AppState>, settings: Settings) -> Result<Settings, IpcError> {
    fleetdeck_engine::settings::save(&state.settings_path, &settings).map_err(|e| match e {
        fleetdeck_engine::settings::SettingsError::Invalid { .. } => IpcError::new(IpcCode::BadRequest, e),
        _ => IpcError::new(IpcCode::Internal, e),
    })?;
    *state.settings.lock().map_err(|_| IpcError::new(IpcCode::Internal, "settings poisoned"))? =
        (settings.clone(), None);
    Ok(settings)
}

/// The window calls this once the Fleet view has drawn its first rows:
/// the log then says how long the cold start took (benches/cache.rs reads
/// that line).
#[tauri::command]
async fn ui_ready(state: State<'_, AppState>, rows: u32) -> Result<(), IpcError> {
    let ms = state.started.elapsed().as_millis();
    state
        .ready_logged
        .call_once(|| tracing::info!("console ready: fleet view drawn {ms} ms after start ({rows} rows)"));
    Ok(())
}

#[tauri::command]
async fn sync_state(state: State<'_, AppState>) -> Result<SyncState, IpcError> {
    Ok(state.sync.lock().map_err(|_| IpcError::new(IpcCode::Internal, "sync state poisoned"))?.clone())
}

#[tauri::command]
async fn start_sync(state: State<'_, AppState>, on_progress: Channel<SyncProgress>) -> Result<SyncSummary, IpcError> {
    let s = state.session()?.clone();
    if s.offline {
        return Err(IpcError::new(IpcCode::Offline, "fleetdeck was started with --offline: it does not sync"));
    }
    {
        let mut st = state.sync.lock().map_err(|_| IpcError::new(IpcCode::Internal, "sync state poisoned"))?;
        if st.running {
            return Err(IpcError::new(IpcCode::SyncRunning, "a sync is already running"));
        }
        st.running = true;
        st.progress = None;
    }
    let before = view::fleet_overview(&s.cache, &s.catalog, s.demo, now()).await.map(|o| o.rows).unwrap_or_default();
    let report = |p: SyncProgress| {
        if let Ok(mut st) = state.sync.lock() {
            st.progress = Some(p.clone());
        }
        // A closed window just stops listening; the sync goes on.
        let _ = on_progress.send(p);
    };
    // The periodic sync is what the API budget bounds: over it, healthy
    // tenant-regions are read less often (a failure to assess reads all).
    let at = now();
    let spend = fleetdeck_engine::spend::assess(&s.cache, &s.fleet, &s.catalog, &state.settings(), at).await;
    let healthy_every = spend.ok().and_then(|sp| sp.healthy_every_minutes).map(|m| i64::from(m) * 60);
    let opts = SyncOptions { healthy_every_secs: healthy_every, ..SyncOptions::at(at) };
    let result = fleetdeck_engine::sync::run(&s.fleet, &s.catalog, &s.aws, &s.cache, &opts, &report).await;
    {
        let mut st = state.sync.lock().map_err(|_| IpcError::new(IpcCode::Internal, "sync state poisoned"))?;
        st.running = false;
        if let Ok(summary) = &result {
            st.last = Some(summary.clone());
        }
    }
    let summary = result.map_err(|e| IpcError::new(IpcCode::Cache, e))?;
    if state.settings().notify_critical {
        if let Ok(after) = view::fleet_overview(&s.cache, &s.catalog, s.demo, now()).await {
            notify_critical(&view::newly_critical(&before, &after.rows));
        }
    }
    Ok(summary)
}

/// One desktop notification per tenant that turned critical (at most
/// three, then one that counts the rest): the tenant's name and its worst
/// reason, as plain text (notification servers may render markup).
fn notify_critical(tenants: &[&fleetdeck_engine::model::TenantHealth]) {
    let plain =
        |s: &str| s.chars().filter(|c| !c.is_control() && !matches!(c, '<' | '>' | '&')).take(200).collect::<String>();
    let mut notes: Vec<(String, String)> = tenants
        .iter()
        .take(3)
        .map(|t| {
            (
                format!("{} is critical in {}", plain(&t.name), t.region),
                t.reasons.first().map_or(String::new(), |r| plain(r)),
            )
        })
        .collect();
    if tenants.len() > 3 {
        notes.push((
            format!("{} more tenants are critical", tenants.len() - 3),
            "Open fleetdeck's Fleet view for the list.".into(),
        ));
    }
    for (summary, body) in notes {
        if let Err(e) = notify_rust::Notification::new().appname("fleetdeck").summary(&summary).body(&body).show() {
            tracing::warn!("desktop notification not shown: {e}");
        }
    }
}

/// Open the console window; returns when it is closed.
pub fn run(opts: SessionOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let settings_path = fleetdeck_engine::settings::path();
    let preferences = match fleetdeck_engine::settings::load(&settings_path) {
        Ok(s) => (s, None),
        Err(e) => {
            tracing::warn!("{e}; using the default settings");
            (Settings::default(), Some(e.to_string()))
        }
    };
    tauri::Builder::default()
        .setup(move |app| {
            let session = tauri::async_runtime::block_on(crate::demo::open_session(&opts)).map_err(|e| {
                eprintln!("fleetdeck: {e}");
                e.to_string()
            });
            let offline = session.as_ref().is_ok_and(|s| s.offline);
            app.manage(AppState {
                session,
                sync: Mutex::new(SyncState { offline, ..SyncState::default() }),
                settings: Mutex::new(preferences),
                settings_path,
                started,
                ready_logged: std::sync::Once::new(),
            });
            Ok(())
        })
        .invoke_handler(with_commands!(generate_handler))
        .run(tauri::generate_context!())?;
    Ok(())
}
