//! Build script: only the desktop shell needs one (Tauri's context and
//! capabilities). The headless engine build skips it entirely.
include!("commands.rs");

fn main() {
    #[cfg(feature = "desktop")]
    {
        // Declaring the app's commands makes each one a permission that the
        // capability in tauri.conf.json must grant explicitly: a command not
        // listed there cannot be invoked from the window.
        let commands: &[&str] = with_commands!(command_names);
        let manifest = tauri_build::AppManifest::new().commands(commands);
        tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)).expect("tauri build step failed");
        // `generate_context!` embeds ui/dist when the crate compiles, and
        // nothing tells cargo the assets changed: a UI-only change in a
        // reused target directory (CI's) would ship and test the old UI.
        // Re-running this script on a change recompiles the crate.
        println!("cargo:rerun-if-changed=ui/dist");
        println!("cargo:rerun-if-changed=src-tauri/commands.rs");
    }
}
