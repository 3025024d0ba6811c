//! Tables and charts the window saves as files.

use super::ViewError;
use crate::model::CsvExport;

/// Bounds on what the window may ask to export.
const MAX_EXPORT_ROWS: usize = 200_000;
const MAX_EXPORT_COLUMNS: usize = 64;
const MAX_EXPORT_CELL: usize = 10_000;

/// Where exports go: `FLEETDECK_EXPORT_DIR`, else the Downloads folder, else
/// the home folder.
pub fn export_dir() -> std::path::PathBuf {
    std::env::var_os("FLEETDECK_EXPORT_DIR")
        .map(std::path::PathBuf::from)
        .or_else(dirs::download_dir)
        .or_else(dirs::home_dir)
        .unwrap_or_else(|| std::path::PathBuf::from("."))
}

/// Write a table the window shows as `fleetdeck-<name>-<UTC time>.csv` in
/// `dir`, every cell escaped by [`crate::export::csv_field`] (tenant names
/// and AWS errors are untrusted: no formula reaches a spreadsheet). Written
/// whole or not at all (a temporary file renamed), owner-only: it holds
/// tenant data. Returns the file's path.
pub fn save_csv(table: &CsvExport, dir: &std::path::Path, now: i64) -> Result<std::path::PathBuf, ViewError> {
    let name_ok = !table.name.is_empty()
        && table.name.len() <= 40
        && table.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        return Err(ViewError::BadRequest("export name must be 1-40 of a-z, 0-9 and -".into()));
    }
    if table.header.is_empty() || table.header.len() > MAX_EXPORT_COLUMNS {
        return Err(ViewError::BadRequest(format!("an export has 1 to {MAX_EXPORT_COLUMNS} columns")));
    }
    if table.rows.len() > MAX_EXPORT_ROWS {
        return Err(ViewError::BadRequest(format!("an export has at most {MAX_EXPORT_ROWS} rows")));
    }
    let cells = std::iter::once(&table.header).chain(&table.rows);
    for (i, row) in cells.clone().enumerate() {
        if row.len() != table.header.len() {
            return Err(ViewError::BadRequest(format!("row {i} has {} cells, not {}", row.len(), table.header.len())));
        }
        if row.iter().any(|c| c.len() > MAX_EXPORT_CELL) {
            return Err(ViewError::BadRequest(format!("row {i} has a cell over {MAX_EXPORT_CELL} bytes")));
        }
    }
    let mut text = String::new();
    for row in cells {
        text.push_str(&crate::export::csv_record(row.iter().map(String::as_str)));
    }
    let stamp = crate::clock::file_stamp(now);
    let path = dir.join(format!("fleetdeck-{}-{stamp}.csv", table.name));
    crate::files::write_private(&path, text.as_bytes())
        .map_err(|e| ViewError::BadRequest(format!("could not write {}: {}", e.path, e.source)))?;
    Ok(path)
}

#[cfg(test)]
mod export_tests {
    use super::*;

    fn table(rows: Vec<Vec<&str>>) -> CsvExport {
        CsvExport {
            name: "cost".into(),
            header: vec!["tenant".into(), "forecast".into()],
            rows: rows.into_iter().map(|r| r.into_iter().map(String::from).collect()).collect(),
        }
    }

    #[test]
    fn a_table_is_saved_whole_escaped_and_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path =
            save_csv(&table(vec![vec!["=HYPERLINK(\"x\")", "-3.5"], vec!["acme, inc", "12"]]), dir.path(), 0).unwrap();
        assert_eq!(path.file_name().unwrap(), "fleetdeck-cost-19700101-000000.csv");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "tenant,forecast\r\n\"'=HYPERLINK(\"\"x\"\")\",-3.5\r\n\"acme, inc\",12\r\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn bad_exports_are_refused_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut bad_name = table(vec![]);
        bad_name.name = "../../etc/passwd".into();
        let ragged = table(vec![vec!["only one cell"]]);
        let huge = table(vec![vec!["x", &"9".repeat(MAX_EXPORT_CELL + 1)]]);
        for t in [bad_name, ragged, huge] {
            assert!(matches!(save_csv(&t, dir.path(), 0), Err(ViewError::BadRequest(_))), "{t:?}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
