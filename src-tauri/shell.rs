//! The desktop shell: Tauri wiring only. Each command translates its
//! arguments, calls the engine, and returns a view model or an [`IpcError`]
//! with a stable `code`. Views read the cache only; a sync runs in the
//! background and streams progress over a channel.

use std::sync::{Arc, Mutex};

use tauri::ipc::Channel;
use tauri::{Manager, State};

use crate::model::{
    Chart, ChartRequest, CostView, CsvExport, FleetOverview, IncidentsView, IpcError, SourcesView, SyncProgress,
    SyncState, SyncSummary,
};
use crate::session::{Session, SessionOptions};
use crate::sync::SyncOptions;
use crate::view::{self, ViewError};

struct AppState {
    /// Why the session could not open (bad fleet file, catalog, cache): the
    /// window still opens and says so, rather than the app exiting silently
    /// when started from a desktop menu.
    session: Result<Arc<Session>, String>,
    sync: Mutex<SyncState>,
}

impl AppState {
    fn session(&self) -> Result<&Arc<Session>, IpcError> {
        self.session.as_ref().map_err(|e| err("setup", e))
    }
}

fn err(code: &str, message: impl ToString) -> IpcError {
    IpcError { code: code.into(), message: message.to_string() }
}

impl From<ViewError> for IpcError {
    fn from(e: ViewError) -> Self {
        match e {
            ViewError::NotFound(m) => err("not_found", m),
            ViewError::BadRequest(m) => err("bad_request", m),
            ViewError::Cache(_) | ViewError::Sql(_) => err("cache", e),
            ViewError::Chart(_) => err("internal", e),
        }
    }
}

#[tauri::command]
async fn fleet_overview(state: State<'_, AppState>) -> Result<FleetOverview, IpcError> {
    let s = state.session()?;
    Ok(view::fleet_overview(&s.cache, &s.catalog, s.demo).await?)
}

#[tauri::command]
async fn tenant_chart(state: State<'_, AppState>, request: ChartRequest) -> Result<Chart, IpcError> {
    let s = state.session()?;
    Ok(view::tenant_chart(&s.cache, &s.catalog, &request, crate::session::now()).await?)
}

#[tauri::command]
async fn sources(state: State<'_, AppState>) -> Result<SourcesView, IpcError> {
    let s = state.session()?;
    Ok(view::sources(&s.cache).await?)
}

#[tauri::command]
async fn cost_overview(state: State<'_, AppState>) -> Result<CostView, IpcError> {
    let s = state.session()?;
    let today = chrono::DateTime::from_timestamp(crate::session::now(), 0).unwrap_or_default().date_naive();
    Ok(view::cost(&s.cache, today).await?)
}

#[tauri::command]
async fn incidents(state: State<'_, AppState>, hours: u32) -> Result<IncidentsView, IpcError> {
    let s = state.session()?;
    Ok(view::incidents(&s.cache, hours, crate::session::now()).await?)
}

/// Saves a table as CSV in the Downloads folder; returns where.
#[tauri::command]
async fn export_csv(table: CsvExport) -> Result<String, IpcError> {
    let path = view::save_csv(&table, &view::export_dir(), crate::session::now())?;
    Ok(path.display().to_string())
}

#[tauri::command]
async fn sync_state(state: State<'_, AppState>) -> Result<SyncState, IpcError> {
    Ok(state.sync.lock().map_err(|_| err("internal", "sync state poisoned"))?.clone())
}

#[tauri::command]
async fn start_sync(state: State<'_, AppState>, on_progress: Channel<SyncProgress>) -> Result<SyncSummary, IpcError> {
    let s = state.session()?.clone();
    {
        let mut st = state.sync.lock().map_err(|_| err("internal", "sync state poisoned"))?;
        if st.running {
            return Err(err("sync_running", "a sync is already running"));
        }
        st.running = true;
        st.progress = None;
    }
    let report = |p: SyncProgress| {
        if let Ok(mut st) = state.sync.lock() {
            st.progress = Some(p.clone());
        }
        // A closed window just stops listening; the sync goes on.
        let _ = on_progress.send(p);
    };
    let result =
        crate::sync::run(&s.fleet, &s.catalog, &s.aws, &s.cache, &SyncOptions::at(crate::session::now()), &report)
            .await;
    let mut st = state.sync.lock().map_err(|_| err("internal", "sync state poisoned"))?;
    st.running = false;
    match result {
        Ok(summary) => {
            st.last = Some(summary.clone());
            Ok(summary)
        }
        Err(e) => Err(err("cache", e)),
    }
}

/// Open the console window; returns when it is closed.
pub fn run(opts: SessionOptions) -> anyhow::Result<()> {
    tauri::Builder::default()
        .setup(move |app| {
            let session = tauri::async_runtime::block_on(Session::open(&opts)).map_err(|e| {
                eprintln!("fleetdeck: {e}");
                e.to_string()
            });
            app.manage(AppState { session, sync: Mutex::new(SyncState::default()) });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            fleet_overview,
            tenant_chart,
            sources,
            cost_overview,
            incidents,
            export_csv,
            start_sync,
            sync_state
        ])
        .run(tauri::generate_context!())?;
    Ok(())
}
