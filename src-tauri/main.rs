// No console window on Windows release builds; the CLI still prints there
// when started from a terminal.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    fleetdeck::cli::main()
}
