//! The integration tests of `ferrograd-nn` as one test binary, one module per file. A
//! binary per file compiled the stack's generic code and linked it once per file
//! (for `ferrograd-lm`'s 19 files: 138 s, against 33 s as one binary).
//!
//! `parallel.rs` changes the process-wide thread count, so it stays a binary of
//! its own: no other test sees a thread count it did not choose.

mod attention_layers;
mod checkpoint;
mod checkpoint_mapping;
mod gradients;
mod init;
mod layers;
mod module_api;
mod pytorch_reference;
mod rnn;
mod structure;
