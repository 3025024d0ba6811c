//! The views' reads: each reads the cache only (never AWS), through its
//! methods (the Fleet rows and a chart's points with the SQL of
//! `queries/views/`), and returns the view models in [`crate::model`].

use crate::cache::CacheError;
use crate::chart;
use crate::model::{IpcCode, IpcError};

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("view query failed (check queries/views/): {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Chart(#[from] chart::ChartError),
}

mod charts;
mod cost;
mod export;
mod fleet;
mod incidents;
mod settings;
mod sources;
mod tenant;

pub use charts::{
    chart_data, chart_range, cost_chart, export_chart, tenant_chart, Bucket, ChartData, MAX_CHART_RANGE_SECS,
};
pub use cost::cost;
pub use export::{export_dir, save_csv};
pub use fleet::{fleet_overview, heatmap, newly_critical, HEATMAP_CELLS};
pub use incidents::{incidents, MAX_INCIDENT_HOURS};
pub use settings::{settings_view, SettingsSources};
pub use sources::sources;
pub use tenant::{console_links, log_table, tenant};

/// How a view's failure crosses IPC: the code the window branches on.
impl From<ViewError> for IpcError {
    fn from(e: ViewError) -> Self {
        match e {
            ViewError::NotFound(m) => IpcError::new(IpcCode::NotFound, m),
            ViewError::BadRequest(m) => IpcError::new(IpcCode::BadRequest, m),
            ViewError::Cache(_) | ViewError::Sql(_) => IpcError::new(IpcCode::Cache, e),
            ViewError::Chart(_) => IpcError::new(IpcCode::Internal, e),
        }
    }
}
