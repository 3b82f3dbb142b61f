//! Helpers the integration tests share: the program, a fresh scratch folder, a small
//! corpus file.

// Each test module uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `ferrograd-book` program built for these tests.
pub fn book() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferrograd-book"))
}

/// An empty folder `name` under Cargo's per-test scratch directory (emptied if it was
/// there).
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A path `name` under Cargo's per-test scratch directory where nothing is (removed if it
/// was): given as `--out`, the program must make the folder itself.
pub fn missing_folder(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A run's standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `dir/corpus.txt`: `lines` short lines cycling through four sentences, with an empty
/// line after every `blank_every`-th line if given. Returns its path.
pub fn sentences_corpus(dir: &Path, lines: usize, blank_every: Option<usize>) -> PathBuf {
    let sentences = [
        "the king is in the castle",
        "the queen walks in the garden",
        "a horse runs to the river",
        "what is the hour of the night",
    ];
    let mut text = String::new();
    for i in 0..lines {
        text.push_str(sentences[i % 4]);
        text.push('\n');
        if blank_every.is_some_and(|k| i % k == 0) {
            text.push('\n');
        }
    }
    let path = dir.join("corpus.txt");
    std::fs::write(&path, text).unwrap();
    path
}
