//! Files written whole: the bytes go to a temporary file beside the target, which is then
//! renamed over it, so a reader never sees a half-written file (and an interrupted run
//! leaves the old one).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Result;

/// Checks, without reading it, that `path` given as `--option` is there and is not a
/// folder (a file, or a device such as `/dev/stdin`): what the program does before it
/// makes the output folder, so a wrong path is a usage error that leaves nothing behind.
///
/// # Errors
/// A message naming the option, the path and what is wrong.
pub(crate) fn check_input_file(option: &str, path: &Path) -> std::result::Result<(), String> {
    match std::fs::metadata(path) {
        Err(e) => Err(format!("--{option} {}: {e}", path.display())),
        Ok(m) if m.is_dir() => Err(format!(
            "--{option} {}: a folder, not a file",
            path.display()
        )),
        Ok(_) => Ok(()),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder (named after
/// this process and a counter, so concurrent writers do not share one), flushed to disk,
/// then renamed over `path`. The temporary file is removed if anything fails.
///
/// # Errors
/// [`crate::BookError::Io`] naming the file when it cannot be written, flushed or renamed.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = temporary_beside(path, "");
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(named(e, "writing", &temporary).into());
    }
    replace_with(&temporary, path)
}

/// A fresh path in `path`'s folder for a temporary file that will replace `path`:
/// `.<name>.<process id>.<counter>.tmp<suffix>` (so concurrent writers do not share one;
/// `suffix` keeps an extension that a writer picks its format by, such as `.png`).
pub(crate) fn temporary_beside(path: &Path, suffix: &str) -> PathBuf {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(
        ".{name}.{}.{serial}.tmp{suffix}",
        std::process::id()
    ))
}

/// Renames the finished `temporary` over `path`; the temporary file is removed if that
/// fails.
///
/// # Errors
/// [`crate::BookError::Io`] naming `path` when the rename fails.
pub(crate) fn replace_with(temporary: &Path, path: &Path) -> Result<()> {
    if let Err(e) = std::fs::rename(temporary, path) {
        let _ = std::fs::remove_file(temporary);
        return Err(named(e, "renaming a temporary file to", path).into());
    }
    Ok(())
}

/// `e` with what was being done and the file (an `io::Error` alone does not name it).
fn named(e: std::io::Error, what: &str, file: &Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{what} {}: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_replaced_whole_and_no_temporary_is_left() {
        let dir = std::env::temp_dir().join(format!("ferrograd-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        std::fs::write(&path, "old").unwrap();
        write_atomically(&path, b"new contents").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new contents");
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "config.json")
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
        // A folder that does not exist: an error naming the file, nothing written.
        let missing = dir.join("no-such-folder").join("config.json");
        let message = write_atomically(&missing, b"x").unwrap_err().to_string();
        assert!(message.contains("no-such-folder"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
