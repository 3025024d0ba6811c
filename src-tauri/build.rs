//! Build script: only the desktop shell needs one (Tauri's context and
//! capabilities). The headless engine build skips it entirely.
fn main() {
    #[cfg(feature = "desktop")]
    {
        // Declaring the app's commands makes each one a permission that the
        // capability in tauri.conf.json must grant explicitly: a command not
        // listed there cannot be invoked from the window.
        let manifest = tauri_build::AppManifest::new().commands(&[
            "fleet_overview",
            "heatmap",
            "tenant_view",
            "tenant_chart",
            "cost_chart",
            "export_chart",
            "sources",
            "cost_overview",
            "incidents",
            "export_csv",
            "export_report",
            "run_triage",
            "open_console",
            "settings",
            "settings_problem",
            "save_settings",
            "ui_ready",
            "start_sync",
            "sync_state",
        ]);
        tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)).expect("tauri build step failed");
        // `generate_context!` embeds ui/dist when the crate compiles, and
        // nothing tells cargo the assets changed: a UI-only change in a
        // reused target directory (CI's) would ship and test the old UI.
        // Re-running this script on a change recompiles the crate.
        println!("cargo:rerun-if-changed=ui/dist");
    }
}
