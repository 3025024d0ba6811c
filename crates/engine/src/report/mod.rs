//! `fleetdeck report`: the executive summary of the fleet, or one tenant's
//! report for its account manager, as one self-contained file (HTML, PDF,
//! PNG or CSV) that opens without a network.
//!
//! The figures come from the cache only (no AWS call), through the same
//! engine code as the console's views ([`crate::view`], [`crate::cost`]):
//! [`data`] gathers them, [`doc`] turns them into one [`doc::Document`] of
//! headings, key figures, tables and charts, and each format draws that one
//! document (`html`; `page` for PDF and PNG), so every format shows the
//! same numbers. [`render`] is what the console calls to write the same file.
//!
//! Tenant names, alarm names and anomaly explanations are untrusted text:
//! escaped in HTML and SVG, CSV cells written by [`crate::export`], and the
//! HTML carries no script and loads nothing (its CSP forbids both anyway).

mod charts;
pub mod data;
pub mod doc;
mod html;
mod page;
mod text;

pub use page::{png_size, PAGE_H, PAGE_W};

use std::path::Path;

use crate::cache::{Cache, CacheError};
use crate::catalog::Catalog;
use crate::clock::{self, HOUR, MINUTE};
use crate::view::ViewError;

/// The file formats a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Html,
    Pdf,
    Png,
    Csv,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Html, Format::Pdf, Format::Png, Format::Csv];

    /// The format an output file name asks for (`.html`, `.htm`, `.pdf`, `.png`, `.csv`).
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "html" | "htm" => Some(Format::Html),
            "pdf" => Some(Format::Pdf),
            "png" => Some(Format::Png),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Png => "png",
            Format::Csv => "csv",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Pdf => "application/pdf",
            Format::Png => "image/png",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// The period a report covers: whole hours back from the report's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Period {
    pub hours: u32,
}

impl Period {
    /// The longest period: as far back as the Incidents view reads.
    pub const MAX_HOURS: u32 = crate::view::MAX_INCIDENT_HOURS;

    pub fn days(days: u32) -> Period {
        Period { hours: days * 24 }
    }

    /// `24h`, `7d`, `30d`: a whole number of hours or days, 1h to 30d.
    pub fn parse(text: &str) -> Result<Period, String> {
        let t = text.trim();
        let bad = || format!("{t:?} is not a period: use hours or days, e.g. 24h, 7d or 30d (1h to 30d)");
        let (number, unit) = t.split_at(t.len().saturating_sub(1));
        let n: u32 = number.parse().map_err(|_| bad())?;
        let hours = match unit {
            "h" | "H" => n,
            "d" | "D" => n.checked_mul(24).ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        if !(1..=Self::MAX_HOURS).contains(&hours) {
            return Err(format!("{t:?} is out of range: a report covers 1h to 30d"));
        }
        Ok(Period { hours })
    }

    pub fn secs(self) -> i64 {
        i64::from(self.hours) * HOUR
    }

    /// "7 days", "36 hours", "1 day".
    pub fn label(self) -> String {
        let plural = |n: u32, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
        if self.hours % 24 == 0 {
            plural(self.hours / 24, "day")
        } else {
            plural(self.hours, "hour")
        }
    }

    /// Whole days of cost the period compares: the closed days it spans.
    pub fn cost_days(self) -> i64 {
        i64::from(self.hours.div_ceil(24))
    }
}

/// What to report on, and how to write it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReportSpec {
    pub period: Period,
    /// One tenant's report; `None` for the executive summary.
    pub tenant: Option<String>,
    pub format: Format,
}

/// A rendered report.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub format: Format,
    /// A4 pages of the PDF (and of the PNG, one under the other); 1 for HTML and CSV.
    pub pages: usize,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    #[error(transparent)]
    View(#[from] ViewError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("cache query failed: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("no tenant {0:?} among the fleet's tenants in the cache (`fleetdeck status` lists them)")]
    UnknownTenant(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("rendering the report failed: {0}")]
    Render(String),
    #[error("could not write {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// Render the report `spec` asks for from the cache, as of `now` (epoch s).
/// Reads the cache only; the console calls this to write the same file.
pub async fn render(cache: &Cache, catalog: &Catalog, spec: &ReportSpec, now: i64) -> Result<Rendered, ReportError> {
    if !(1..=Period::MAX_HOURS).contains(&spec.period.hours) {
        return Err(ReportError::BadRequest("a report covers 1 hour to 30 days".into()));
    }
    if let Some(t) = &spec.tenant {
        if t.is_empty() || t.len() > 64 {
            return Err(ReportError::BadRequest("a tenant id is 1 to 64 characters".into()));
        }
    }
    let figures = data::gather(cache, catalog, spec.period, now).await?;
    if let Some(id) = spec.tenant.as_ref().filter(|id| !figures.tenants.iter().any(|t| t.id == **id)) {
        return Err(ReportError::UnknownTenant(id.clone()));
    }
    if spec.format == Format::Csv {
        return Ok(Rendered {
            bytes: csv(&figures, spec.tenant.as_deref()).into_bytes(),
            format: Format::Csv,
            pages: 1,
        });
    }
    let document = match &spec.tenant {
        Some(id) => doc::tenant(&figures, &data::tenant_detail(cache, catalog, &figures, id).await?),
        None => doc::summary(&figures),
    };
    Ok(match spec.format {
        Format::Html => Rendered { bytes: html::render(&document).into_bytes(), format: Format::Html, pages: 1 },
        Format::Pdf => {
            let pages = page::layout(&document);
            Rendered { bytes: page::pdf(&pages, &document.title)?, format: Format::Pdf, pages: pages.len() }
        }
        Format::Png => {
            let pages = page::layout(&document);
            Rendered { bytes: page::png(&pages)?, format: Format::Png, pages: pages.len() }
        }
        Format::Csv => unreachable!("handled above"),
    })
}

/// The columns of the CSV report, one row per tenant.
pub const CSV_COLUMNS: [&str; 18] = [
    "tenant",
    "name",
    "tier",
    "model",
    "regions",
    "health",
    "availability_percent",
    "impaired_minutes",
    "observed_hours",
    "incidents",
    "month_to_date",
    "last_month",
    "forecast",
    "change_percent",
    "period_cost",
    "previous_period_cost",
    "requests",
    "cost_per_million_requests",
];

/// The per-tenant table as CSV (every cell through [`crate::export::csv_field`]).
fn csv(f: &data::Figures, tenant: Option<&str>) -> String {
    let mut out = crate::export::csv_record(CSV_COLUMNS);
    let opt = |v: Option<f64>, digits: usize| v.map(|v| format!("{v:.digits$}")).unwrap_or_default();
    for t in f.tenants.iter().filter(|t| tenant.is_none_or(|id| t.id == id)) {
        let cells = [
            t.id.clone(),
            t.name.clone(),
            t.tier.clone(),
            t.model.clone(),
            t.regions.join(" "),
            t.health.map(|h| h.as_str().to_string()).unwrap_or_default(),
            opt(t.availability.share().map(|s| s * 100.0), 3),
            (t.availability.impaired_ms / clock::ms(MINUTE)).to_string(),
            format!("{:.1}", t.availability.observed_ms as f64 / clock::ms(HOUR) as f64),
            t.incidents.to_string(),
            format!("{:.2}", t.cost.month_to_date),
            format!("{:.2}", t.cost.last_month),
            format!("{:.2}", t.cost.forecast),
            opt(t.cost.change.map(|c| c * 100.0), 1),
            format!("{:.2}", t.period_cost),
            format!("{:.2}", t.previous_cost),
            t.usage.as_ref().map(|u| format!("{:.0}", u.requests)).unwrap_or_default(),
            opt(t.unit_cost, 4),
        ];
        out.push_str(&crate::export::csv_record(cells.iter().map(String::as_str)));
    }
    out
}

/// Write `bytes` to `path` whole or not at all, owner-only (0600): a report
/// holds tenant data (see [`crate::files::write_private`]).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    crate::files::write_private(path, bytes).map_err(|e| ReportError::Write { path: e.path, source: e.source })
}

/// `fleetdeck-report-<tenant or fleet>-<UTC time>.<ext>`: a file name for
/// the console's save, from validated parts only.
pub fn file_name(spec: &ReportSpec, now: i64) -> String {
    let stamp = clock::file_stamp(now);
    let who: String = match &spec.tenant {
        Some(t) => t.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).take(40).collect(),
        None => "fleet".into(),
    };
    format!("fleetdeck-report-{who}-{stamp}.{}", spec.format.extension())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_hours_or_days_from_one_hour_to_thirty_days() {
        assert_eq!(Period::parse("24h"), Ok(Period { hours: 24 }));
        assert_eq!(Period::parse("7d"), Ok(Period::days(7)));
        assert_eq!(Period::parse("30d"), Ok(Period::days(30)));
        assert_eq!(Period::parse("1h").map(Period::label), Ok("1 hour".into()));
        assert_eq!(Period::parse("36h").map(Period::label), Ok("36 hours".into()));
        assert_eq!(Period::days(1).label(), "1 day");
        for bad in ["", "7", "d", "0h", "31d", "721h", "-1d", "1.5d", "7w", "99999999999d", "7 d", "٣d"] {
            let err = Period::parse(bad).unwrap_err();
            assert!(err.contains("24h, 7d or 30d") || err.contains("1h to 30d"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_format_follows_the_extension() {
        assert_eq!(Format::from_path(Path::new("a/b.PDF")), Some(Format::Pdf));
        assert_eq!(Format::from_path(Path::new("weekly.htm")), Some(Format::Html));
        assert_eq!(Format::from_path(Path::new("x.png")), Some(Format::Png));
        assert_eq!(Format::from_path(Path::new("x.csv")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("report")), None);
    }

    #[test]
    fn a_report_is_written_whole_and_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weekly.html");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
        assert!(matches!(write_private(dir.path(), b"x"), Err(ReportError::Write { .. })));
    }

    /// Before the first sync: every format renders, says there is nothing
    /// yet, and a tenant that is not there is refused.
    #[tokio::test]
    async fn an_empty_cache_renders_in_every_format() {
        let cache = Cache::in_memory().await.unwrap();
        let catalog = Catalog::builtin().unwrap();
        let now = 1_800_000_000;
        for format in [Format::Html, Format::Pdf, Format::Png, Format::Csv] {
            let spec = ReportSpec { period: Period::days(7), tenant: None, format };
            let r = render(&cache, &catalog, &spec, now).await.unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert!(!r.bytes.is_empty());
            if format == Format::Html {
                let html = String::from_utf8(r.bytes).unwrap();
                assert!(html.contains("has never been synced"), "{html}");
            }
        }
        let spec = ReportSpec { period: Period::days(7), tenant: Some("acme".into()), format: Format::Csv };
        let err = render(&cache, &catalog, &spec, now).await.unwrap_err();
        assert!(matches!(&err, ReportError::UnknownTenant(t) if t == "acme"), "{err}");
    }

    #[test]
    fn file_names_keep_only_safe_characters() {
        let spec = ReportSpec { period: Period::days(7), tenant: Some("../ac me".into()), format: Format::Pdf };
        assert_eq!(file_name(&spec, 0), "fleetdeck-report-acme-19700101-000000.pdf");
    }
}
