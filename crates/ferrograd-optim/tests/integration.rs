//! The integration tests of `ferrograd-optim` as one test binary, one module per file. A
//! binary per file compiled the stack's generic code and linked it once per file
//! (for `ferrograd-lm`'s 19 files: 138 s, against 33 s as one binary).
//!
//! `behaviour.rs` changes the process-wide thread count, so it stays a binary of
//! its own: no other test sees a thread count it did not choose.

mod errors;
mod properties;
mod pytorch_reference;
mod resume;
