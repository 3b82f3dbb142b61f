//! The integration tests of `ferrograd-linalg` as one test binary, one module per file. A
//! binary per file compiled the stack's generic code and linked it once per file
//! (for `ferrograd-lm`'s 19 files: 138 s, against 33 s as one binary).
//!
//! `parallel.rs` changes the process-wide thread count, so it stays a binary of
//! its own: no other test sees a thread count it did not choose.

mod algebra;
mod book_chapter1;
mod common;
mod display;
mod errors;
mod lstsq;
mod products;
mod serde;
mod small_products;
