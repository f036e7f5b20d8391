//! Files and folders only their owner may read: the data folder (0700), the embedded database
//! and the `.eml` and `.sms` outbox (0600), the bootstrap token file. Another local user of the machine
//! reads none of them, whatever the process's umask.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `dir/name`, the owner's alone, whole: to a temporary name first, then
/// renamed, so that a reader never sees half a file. Runs on the blocking pool.
pub(crate) async fn write_whole(dir: PathBuf, name: String, bytes: Vec<u8>) -> io::Result<()> {
    tokio::task::spawn_blocking(move || {
        private_dir(&dir)?;
        let partial = dir.join(format!(".{name}.partial"));
        private_file(&partial)?.write_all(&bytes)?;
        std::fs::rename(&partial, dir.join(&name))
    })
    .await
    .unwrap_or_else(|stopped| Err(io::Error::other(stopped)))
}

/// Creates `dir` (and its parents) if needed and makes it the owner's alone (0700).
pub(crate) fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    restrict(dir, 0o700)
}

/// Opens `path` for writing, created (or truncated) readable by its owner alone (0600).
pub(crate) fn private_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    // The mode applies on creation only: an existing file is narrowed too.
    restrict(path, 0o600)?;
    Ok(file)
}

/// Makes an existing file (or creates an empty one) readable by its owner alone, without
/// changing its content. SQLite gives its `-wal` and `-shm` files the database file's mode.
pub(crate) fn private_existing(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    drop(options.open(path)?);
    restrict(path, 0o600)
}

fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}
