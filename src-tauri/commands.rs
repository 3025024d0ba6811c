// The desktop shell's IPC commands: the one list. `build.rs` declares each
// as a permission (the capability in tauri.conf.json grants exactly these),
// `shell.rs` registers their handlers from it, and a test writes it to
// `ui/src/bindings/Command.ts`, the type `ipc.ts` calls them by.
// (A plain `macro_rules!` file so build.rs can `include!` it too.)
#[allow(unused_macros)]
macro_rules! with_commands {
    ($then:ident) => {
        $then![
            fleet_overview,
            heatmap,
            tenant_view,
            tenant_chart,
            cost_chart,
            export_chart,
            sources,
            cost_overview,
            incidents,
            export_csv,
            export_report,
            run_triage,
            open_console,
            settings,
            settings_problem,
            save_settings,
            ui_ready,
            start_sync,
            sync_state
        ]
    };
}

/// Each command's name, as the window invokes it.
#[allow(unused_macros)]
macro_rules! command_names {
    ($($command:ident),* $(,)?) => {
        &[$(stringify!($command)),*]
    };
}
