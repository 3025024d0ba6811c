//! `fleetdeck` with no command: the desktop console.

use std::process::ExitCode;

use super::Common;

#[cfg(feature = "desktop")]
pub fn open_console(common: &Common) -> ExitCode {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!(
            "fleetdeck: no display (neither DISPLAY nor WAYLAND_DISPLAY is set), so the console window cannot open.\n\
             On a headless machine, try:  fleetdeck sync --demo && fleetdeck status --demo\n\
             or run the window under a virtual display:  xvfb-run fleetdeck"
        );
        return ExitCode::from(3);
    }
    match crate::shell::run(common.session_options()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleetdeck: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "desktop"))]
pub fn open_console(_common: &Common) -> ExitCode {
    eprintln!("fleetdeck: this build has no desktop console (built without the `desktop` feature); use `fleetdeck sync` and `fleetdeck status`.");
    ExitCode::from(3)
}
