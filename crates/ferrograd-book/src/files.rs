//! Files written whole: the bytes go to a temporary file beside the target, which is then
//! renamed over it, so a reader never sees a half-written file (and an interrupted run
//! leaves the old one).

use std::path::Path;

use crate::error::Result;

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
///
/// # Errors
/// [`crate::BookError::Io`] when the temporary file cannot be written or renamed (it is
/// removed again if the rename fails).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let temporary = path.with_file_name(format!(".{name}.tmp"));
    // The error names the file: an io::Error alone does not.
    let named = |e: std::io::Error, what: &str, file: &Path| {
        std::io::Error::new(e.kind(), format!("{what} {}: {e}", file.display()))
    };
    std::fs::write(&temporary, bytes).map_err(|e| named(e, "writing", &temporary))?;
    if let Err(e) = std::fs::rename(&temporary, path) {
        let _ = std::fs::remove_file(&temporary);
        return Err(named(e, "renaming a temporary file to", path).into());
    }
    Ok(())
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
        assert!(!dir.join(".config.json.tmp").exists());
        // A folder that does not exist: an error naming the file, nothing written.
        let missing = dir.join("no-such-folder").join("config.json");
        let message = write_atomically(&missing, b"x").unwrap_err().to_string();
        assert!(message.contains("no-such-folder"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
