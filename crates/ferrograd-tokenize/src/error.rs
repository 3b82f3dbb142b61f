//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in `ferrograd-tokenize`. Encoding text never fails; loading
/// files, decoding ids, training and saving can.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenizeError {
    /// A file could not be read or written.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("reading", "writing").
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A vocabulary, merges or tokenizer file is malformed: names the file (its path, or
    /// the name given to an in-memory constructor), the 1-based line and what is wrong.
    #[error("{file}:{line}: {message}")]
    Parse {
        /// The file's path or name.
        file: String,
        /// 1-based line number (0 when the problem is the file as a whole).
        line: usize,
        /// What is wrong, e.g. "duplicate token \"ab\" (ids 7 and 9)".
        message: String,
    },
    /// A well-formed tokenizer file asks for something this crate does not implement.
    #[error("{file}: unsupported: {what}")]
    Unsupported {
        /// The file's path or name.
        file: String,
        /// The setting that is not supported.
        what: String,
    },
    /// `decode` was given an id that is not in the vocabulary.
    #[error("decode: id {id} is not in the vocabulary (size {vocab_size})")]
    UnknownId {
        /// The id.
        id: u32,
        /// Number of ids the tokenizer knows (the largest is one less).
        vocab_size: usize,
    },
    /// `decode` in strict mode met bytes that are not UTF-8 (a token sequence can end or
    /// start in the middle of a character).
    #[error("decode: invalid UTF-8 at byte {byte_offset} of the decoded bytes")]
    InvalidUtf8 {
        /// Offset of the first invalid byte in the decoded byte string.
        byte_offset: usize,
        /// The decoded bytes, so a caller can still use them.
        bytes: Vec<u8>,
    },
    /// Training was asked for something impossible.
    #[error("train: {0}")]
    Train(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = TokenizeError> = std::result::Result<T, E>;

impl TokenizeError {
    pub(crate) fn parse(file: &str, line: usize, message: impl Into<String>) -> Self {
        TokenizeError::Parse {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn json(file: &str, err: &serde_json::Error) -> Self {
        // serde_json's message ends with " at line L column C"; keep the text, move the line.
        let text = err.to_string();
        let message = match text.rfind(" at line ") {
            Some(i) => format!("{} (column {})", &text[..i], err.column()),
            None => text,
        };
        let message = match err.classify() {
            serde_json::error::Category::Data => message,
            _ => format!("bad JSON: {message}"),
        };
        TokenizeError::Parse {
            file: file.to_string(),
            line: err.line(),
            message,
        }
    }

    pub(crate) fn read(path: &std::path::Path, source: std::io::Error) -> Self {
        TokenizeError::Io {
            op: "reading",
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Reads a whole file, mapping the error to [`TokenizeError::Io`].
pub(crate) fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| TokenizeError::read(path, e))
}

/// Writes `contents` to `path` through a temporary file in the same folder (unique per
/// process and call, so concurrent saves never share one), synced, then renamed over the
/// target: a crash never leaves a half-written or empty file, and a failure leaves no
/// temporary file behind.
pub(crate) fn write_atomic(path: &std::path::Path, contents: &[u8]) -> Result<()> {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SAVES: AtomicU64 = AtomicU64::new(0);
    let io = |source| TokenizeError::Io {
        op: "writing",
        path: path.to_path_buf(),
        source,
    };
    let serial = SAVES.fetch_add(1, Ordering::Relaxed);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}-{serial}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = std::fs::File::create(&tmp).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}
