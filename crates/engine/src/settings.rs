//! The viewer's own preferences (sync interval, theme, time zone, desktop
//! notifications, a monthly API budget): a small JSON file in the platform config directory,
//! beside `fleet.toml` but apart from it, because the fleet file is the
//! team's and these are one person's. Layered: defaults, then the file.
//! A file that does not parse is reported with its path, line and field,
//! and the defaults are used until the viewer saves again; it is never
//! overwritten behind their back.

use std::path::{Path, PathBuf};

use crate::model::Settings;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    #[error("{path}:{line}: {field}: {message}")]
    Invalid { path: String, line: usize, field: String, message: String },
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot save {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// `FLEETDECK_SETTINGS` if set, else `<config dir>/fleetdeck/settings.json`.
pub fn path() -> PathBuf {
    if let Some(p) = std::env::var_os("FLEETDECK_SETTINGS") {
        return PathBuf::from(p);
    }
    dirs::config_dir().unwrap_or_else(|| PathBuf::from(".")).join("fleetdeck").join("settings.json")
}

/// The settings in `path`; the defaults when there is no file yet.
pub fn load(path: &Path) -> Result<Settings, SettingsError> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
        Err(source) => return Err(SettingsError::Read { path: shown, source }),
    };
    let settings: Settings = serde_json::from_str(&text).map_err(|e| SettingsError::Invalid {
        path: shown.clone(),
        line: e.line(),
        // A value of the wrong kind names its key; broken JSON, the file.
        field: match e.classify() {
            serde_json::error::Category::Data => key_on_line(&text, e.line()).unwrap_or("settings"),
            _ => "settings",
        }
        .into(),
        message: e.to_string(),
    })?;
    validate(&settings).map_err(|(field, message)| SettingsError::Invalid {
        line: line_of(&text, field),
        path: shown,
        field: field.into(),
        message,
    })?;
    Ok(settings)
}

/// Check and save, whole or not at all (a temporary file renamed over the
/// old one), owner-only.
pub fn save(path: &Path, settings: &Settings) -> Result<(), SettingsError> {
    let shown = path.display().to_string();
    validate(settings).map_err(|(field, message)| SettingsError::Invalid {
        path: shown.clone(),
        line: 0,
        field: field.into(),
        message,
    })?;
    let text = serde_json::to_string_pretty(settings).unwrap_or_default() + "\n";
    crate::files::write_private(path, text.as_bytes())
        .map_err(|e| SettingsError::Write { path: shown, source: e.source })
}

/// The field that is wrong, and why.
fn validate(s: &Settings) -> Result<(), (&'static str, String)> {
    if !(1..=60).contains(&s.sync_minutes) {
        return Err(("sync_minutes", format!("{} is not 1 to 60 minutes", s.sync_minutes)));
    }
    if let Some(b) = s.monthly_api_budget {
        if !(b.is_finite() && b > 0.0) {
            return Err(("monthly_api_budget", format!("{b} is not a number of dollars above 0")));
        }
    }
    Ok(())
}

/// The JSON key on `line` (1-based), if one is: what a parse error there is about.
fn key_on_line(text: &str, line: usize) -> Option<&str> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let rest = l.trim_start().strip_prefix('"')?;
    let key = &rest[..rest.find('"')?];
    (!key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')).then_some(key)
}

/// The line a JSON key is on (1-based), for the message; 1 if not found.
fn line_of(text: &str, key: &str) -> usize {
    let quoted = format!("\"{key}\"");
    text.lines().position(|l| l.contains(&quoted)).map_or(1, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Theme, TimeZone};

    #[test]
    fn settings_round_trip_owner_only_and_default_when_absent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleetdeck").join("settings.json");
        assert_eq!(load(&path).unwrap(), Settings::default());
        let mine = Settings {
            sync_minutes: 2,
            theme: Theme::Dark,
            time_zone: TimeZone::Local,
            notify_critical: true,
            monthly_api_budget: Some(120.0),
        };
        save(&path, &mine).unwrap();
        assert_eq!(load(&path).unwrap(), mine);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        // A file written by hand with only some keys keeps the defaults for the rest.
        std::fs::write(&path, "{\n  \"theme\": \"light\"\n}\n").unwrap();
        assert_eq!(load(&path).unwrap(), Settings { theme: Theme::Light, ..Settings::default() });
    }

    #[test]
    fn a_bad_settings_file_names_its_line_and_field_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        let text = "{\n  \"theme\": \"dark\",\n  \"sync_minutes\": 0\n}\n";
        std::fs::write(&path, text).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.ends_with("settings.json:3: sync_minutes: 0 is not 1 to 60 minutes"), "{err}");
        std::fs::write(&path, "{\n  \"theme\": dark\n}\n").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("settings.json:2: settings: expected value"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\n  \"theme\": dark\n}\n", "not overwritten");
        // A theme that is none of the three: the file's line and field, not "settings".
        std::fs::write(&path, "{\n  \"sync_minutes\": 5,\n  \"theme\": \"<b>pink</b>\"\n}\n").unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains(":3: theme: unknown variant"), "{e}");
        std::fs::write(&path, "{\n  \"sync_minutes\": 5,\n  \"monthly_api_budget\": -3\n}\n").unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.ends_with(":3: monthly_api_budget: -3 is not a number of dollars above 0"), "{e}");
    }
}
