//! The one way fleetdeck writes a file the user asked for (reports, exports,
//! detector output, settings): whole or not at all, owner-only, and never
//! through a link someone planted.
//!
//! The bytes go to a new temporary file beside the target (`O_CREAT|O_EXCL`
//! with mode 0600, so an existing file or symlink at that name is refused,
//! not followed), are synced to disk, and the temporary file is renamed over
//! the target (rename replaces a symlink at the target; it does not write
//! through it). The folder is synced too, so the rename survives a crash.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why a private write failed, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

/// Write `bytes` to `path` whole or not at all, mode 0600. Creates missing
/// parent folders. A folder at `path` is refused.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let fail = |source| WriteError { path: path.display().to_string(), source };
    let Some(name) = path.file_name() else {
        return Err(fail(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name")));
    };
    if path.is_dir() {
        return Err(fail(std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a folder")));
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let temp: PathBuf = dir.join(format!(".{}.{}.partial", name.to_string_lossy(), std::process::id()));
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        // A leftover of ours (or anything planted) at the temporary name:
        // removed, never opened; create_new below refuses whatever is there.
        let _ = std::fs::remove_file(&temp);
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&temp, path)?;
        // The rename is durable once the folder is.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        fail(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_whole_owner_only_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.txt");
        write_private(&path, b"one").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        assert_eq!(mode(&path), 0o600);
        write_private(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_planted_link_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let path = dir.path().join("out.csv");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        // A link at the temporary name too.
        let temp = dir.path().join(format!(".out.csv.{}.partial", std::process::id()));
        std::os::unix::fs::symlink(&victim, &temp).unwrap();
        write_private(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert!(!std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn a_folder_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = write_private(dir.path(), b"x").unwrap_err();
        assert!(e.to_string().contains(&dir.path().display().to_string()), "{e}");
    }
}
