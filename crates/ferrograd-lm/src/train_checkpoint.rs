//! The training program's checkpoint file: one file holding the model's parameters, the
//! optimizer's state, the trainer's counters and history, and the data position,
//! written atomically and checked by a checksum when read.
//!
//! Layout (all integers little-endian):
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `FGLMCKPT` |
//! | 4 | format version (1) |
//! | 4 | number of sections |
//! | per section | name length (4), name (UTF-8), data length (8), data |
//! | 8 | FNV-1a 64 of every byte before it |
//!
//! Sections: `model` and `optimizer` are safetensors files (the model's parameters under
//! their structural names; the optimizer's [`save_state_bytes`](ferrograd_optim::save_state_bytes)),
//! `trainer`, `history` and `data` are `key=value` text lines (floats as the hex of their
//! bits, so a resumed run sees exactly the saved values).

use crate::error::{LmError, Result};
use std::path::Path;

const MAGIC: &[u8; 8] = b"FGLMCKPT";
const VERSION: u32 = 1;

/// FNV-1a, 64 bits.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn corrupt(path: &Path, reason: impl Into<String>) -> LmError {
    LmError::TrainCheckpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Encodes named sections into the file's bytes.
pub(crate) fn encode(sections: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let total: usize = sections.iter().map(|(n, d)| 12 + n.len() + d.len()).sum();
    let mut out = Vec::with_capacity(24 + total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    for (name, data) in sections {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(data);
    }
    let sum = fnv1a(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Decodes the sections of a checkpoint's bytes, checking magic, version and checksum.
///
/// # Errors
/// [`LmError::TrainCheckpoint`] naming the file and what is wrong with it.
pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    if bytes.len() < 24 || &bytes[..8] != MAGIC {
        return Err(corrupt(
            path,
            "not a ferrograd training checkpoint (no FGLMCKPT header)",
        ));
    }
    let (body, tail) = bytes.split_at(bytes.len() - 8);
    let stored = u64::from_le_bytes(tail.try_into().expect("8 bytes"));
    if fnv1a(body) != stored {
        return Err(corrupt(
            path,
            format!(
                "checksum mismatch over its {} bytes: the file is damaged or was not completely \
                 written",
                bytes.len()
            ),
        ));
    }
    let version = u32::from_le_bytes(body[8..12].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(corrupt(
            path,
            format!("format version {version}; this program reads version {VERSION}"),
        ));
    }
    let count = u32::from_le_bytes(body[12..16].try_into().expect("4 bytes")) as usize;
    let mut at = 16usize;
    let mut take = |n: usize, what: &str| -> Result<&[u8]> {
        let end = at
            .checked_add(n)
            .filter(|&e| e <= body.len())
            .ok_or_else(|| corrupt(path, format!("truncated inside {what}")))?;
        let slice = &body[at..end];
        at = end;
        Ok(slice)
    };
    let mut sections = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let len = u32::from_le_bytes(take(4, "a section name")?.try_into().expect("4")) as usize;
        let name = std::str::from_utf8(take(len, "a section name")?)
            .map_err(|_| corrupt(path, "a section name is not UTF-8"))?
            .to_string();
        let len = u64::from_le_bytes(take(8, "a section length")?.try_into().expect("8"));
        let len = usize::try_from(len).map_err(|_| corrupt(path, "a section is too large"))?;
        let data = take(len, &format!("section `{name}`"))?.to_vec();
        sections.push((name, data));
    }
    if at != body.len() {
        return Err(corrupt(path, "unexpected bytes after the last section"));
    }
    Ok(sections)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed
/// to disk, then renamed over the target (a crash leaves the previous file intact). The
/// crate's one way of writing a file (checkpoints, `config.json`, adapter configs).
///
/// # Errors
/// [`LmError::Io`] naming `op` and the file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], op: &'static str) -> Result<()> {
    use std::io::Write;
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let io = |source| LmError::Io {
        op,
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temporary = path.with_file_name(format!(".{name}.tmp-{}-{serial}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&temporary);
        return Err(io(e));
    }
    if let Err(e) = std::fs::rename(&temporary, path) {
        let _ = std::fs::remove_file(&temporary);
        return Err(io(e));
    }
    // Make the rename itself durable where the platform allows opening a directory.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// `key=value` lines.
#[derive(Debug, Default)]
pub(crate) struct KeyValues {
    text: String,
}

impl KeyValues {
    pub(crate) fn u64(&mut self, key: &str, value: u64) {
        self.text.push_str(&format!("{key}={value}\n"));
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) {
        self.text.push_str(&format!("{key}={value}\n"));
    }

    pub(crate) fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.text.into_bytes()
    }
}

/// Reads `key=value` lines of a section, with errors naming the file and section.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    lines: std::str::Lines<'a>,
    path: &'a Path,
    section: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], path: &'a Path, section: &'static str) -> Result<Self> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| corrupt(path, format!("section `{section}` is not UTF-8")))?;
        Ok(Self {
            lines: text.lines(),
            path,
            section,
        })
    }

    fn error(&self, reason: String) -> LmError {
        corrupt(self.path, format!("section `{}`: {reason}", self.section))
    }

    /// The next line, which must be `key=…`; returns the value.
    pub(crate) fn value(&mut self, key: &str) -> Result<&'a str> {
        let line = self
            .lines
            .next()
            .ok_or_else(|| self.error(format!("missing `{key}`")))?;
        match line.split_once('=') {
            Some((k, v)) if k == key => Ok(v),
            _ => Err(self.error(format!("expected `{key}=…`, found {line:?}"))),
        }
    }

    pub(crate) fn u64(&mut self, key: &str) -> Result<u64> {
        let v = self.value(key)?;
        v.parse()
            .map_err(|_| self.error(format!("`{key}` is not a number: {v:?}")))
    }

    /// The next line as it is.
    pub(crate) fn line(&mut self, what: &str) -> Result<&'a str> {
        self.lines
            .next()
            .ok_or_else(|| self.error(format!("missing {what}")))
    }

    /// Numbers separated by spaces.
    pub(crate) fn numbers(&mut self, what: &str) -> Result<Vec<u64>> {
        let line = self.line(what)?;
        line.split_ascii_whitespace()
            .map(|t| {
                t.parse()
                    .map_err(|_| self.error(format!("{what}: {t:?} is not a number")))
            })
            .collect()
    }
}
