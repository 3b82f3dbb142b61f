//! The integration tests of `ferrograd-tokenize` as one test binary, one module per file. A
//! binary per file compiled the stack's generic code and linked it once per file
//! (for `ferrograd-lm`'s 19 files: 138 s, against 33 s as one binary).
//!
//! `unicode_tables.rs` stays a binary of its own: it regenerates `src/unicode_tables.rs`
//! (`FERROGRAD_WRITE_TABLES=1 cargo test -p ferrograd-tokenize --test unicode_tables`).

mod book;
mod byte_level;
mod gpt2_reference;
mod proptests;
